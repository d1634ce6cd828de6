//! Money as integer micro-units of a currency: [`Micros`] (checked arithmetic, never a float),
//! [`Currency`] (an ISO 4217 code) and [`Money`] (both, for display).
//!
//! Why micro-units: Meta prices calls per 6-second pulse in fractions of a cent, and a wallet
//! must add thousands of such amounts without drifting. An `i64` of millionths holds ±9.2
//! trillion units, far beyond any wallet, and every operation that could overflow is checked.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Micro-units per whole currency unit (1 USD = 1 000 000 micros).
pub const MICROS_PER_UNIT: i64 = 1_000_000;

/// An amount in millionths of the wallet currency. Signed, because ledger arithmetic needs
/// differences; stored amounts are checked non-negative where the schema says so.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Micros(pub i64);

impl Micros {
    pub const ZERO: Micros = Micros(0);

    /// `units` whole currency units.
    pub fn from_units(units: i64) -> Result<Micros> {
        units.checked_mul(MICROS_PER_UNIT).map(Micros).ok_or_else(overflow)
    }

    pub fn get(self) -> i64 {
        self.0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub fn checked_add(self, other: Micros) -> Result<Micros> {
        self.0.checked_add(other.0).map(Micros).ok_or_else(overflow)
    }

    pub fn checked_sub(self, other: Micros) -> Result<Micros> {
        self.0.checked_sub(other.0).map(Micros).ok_or_else(overflow)
    }

    /// `self × count` (pulses, messages).
    pub fn checked_mul(self, count: i64) -> Result<Micros> {
        self.0.checked_mul(count).map(Micros).ok_or_else(overflow)
    }

    /// The smaller of two amounts.
    pub fn min(self, other: Micros) -> Micros {
        Micros(self.0.min(other.0))
    }

    /// Parses a decimal amount such as `12`, `12.5` or `-0.000001` (at most six decimals), the
    /// way owners type prices and top-ups. No floats: the digits are read as integers.
    pub fn parse(text: &str) -> Result<Micros> {
        let invalid =
            || Error::validation("amount", "expected a decimal amount with at most 6 decimals, e.g. 12.50");
        let text = text.trim();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if (whole.is_empty() && fraction.is_empty())
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
            || fraction.len() > 6
        {
            return Err(invalid());
        }
        let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| invalid())? };
        // Pad to six digits: "5" → "500000" micros.
        let fraction_micros: i64 =
            if fraction.is_empty() { 0 } else { format!("{fraction:0<6}").parse().map_err(|_| invalid())? };
        let magnitude = Micros::from_units(whole)?.checked_add(Micros(fraction_micros))?;
        Ok(if negative { Micros(-magnitude.0) } else { magnitude })
    }
}

impl fmt::Display for Micros {
    /// At least two decimals, at most six, trailing zeros beyond the second trimmed:
    /// `12.50`, `0.0012`, `-3.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        let per_unit = MICROS_PER_UNIT.unsigned_abs();
        let whole = magnitude / per_unit;
        let mut fraction = format!("{:06}", magnitude % per_unit);
        while fraction.len() > 2 && fraction.ends_with('0') {
            fraction.pop();
        }
        write!(f, "{sign}{whole}.{fraction}")
    }
}

/// An ISO 4217 currency code (three capital letters). Each workspace's wallet has one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    /// The default wallet currency.
    pub fn usd() -> Currency {
        Currency("USD".to_owned())
    }

    pub fn parse(code: &str) -> Result<Currency> {
        let code = code.trim().to_ascii_uppercase();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Currency(code))
        } else {
            Err(Error::validation("currency", "expected a three-letter ISO 4217 code such as USD"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Currency {
    fn default() -> Self {
        Currency::usd()
    }
}

impl TryFrom<String> for Currency {
    type Error = Error;
    fn try_from(code: String) -> Result<Self> {
        Currency::parse(&code)
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> String {
        currency.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An amount with its currency, for display and for error details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Money {
    pub amount: Micros,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: Micros, currency: Currency) -> Money {
        Money { amount, currency }
    }
}

impl fmt::Display for Money {
    /// `12.50 USD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

fn overflow() -> Error {
    Error::validation("amount", "amount out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_two_to_six_decimals() {
        assert_eq!(Micros(12_500_000).to_string(), "12.50");
        assert_eq!(Micros(1_200).to_string(), "0.0012");
        assert_eq!(Micros(-3_000_000).to_string(), "-3.00");
        assert_eq!(Micros(1).to_string(), "0.000001");
        assert_eq!(Micros(i64::MIN).to_string(), "-9223372036854.775808");
        assert_eq!(Money::new(Micros(5_000_000), Currency::usd()).to_string(), "5.00 USD");
    }

    #[test]
    fn parses_decimal_text_without_floats() {
        assert_eq!(Micros::parse("12.5").unwrap(), Micros(12_500_000));
        assert_eq!(Micros::parse("0.000001").unwrap(), Micros(1));
        assert_eq!(Micros::parse("-2").unwrap(), Micros(-2_000_000));
        assert_eq!(Micros::parse(".25").unwrap(), Micros(250_000));
        for bad in ["", "-", ".", "1.2345678", "1e3", "1,5", "abc", "99999999999999999999"] {
            assert!(Micros::parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn arithmetic_is_checked() {
        assert!(Micros(i64::MAX).checked_add(Micros(1)).is_err());
        assert!(Micros(i64::MAX / 2).checked_mul(3).is_err());
        assert_eq!(Micros(7).checked_mul(3).unwrap(), Micros(21));
    }

    #[test]
    fn currency_codes_are_three_letters() {
        assert_eq!(Currency::parse("eur").unwrap().as_str(), "EUR");
        assert!(Currency::parse("EURO").is_err());
        assert!(Currency::parse("U$D").is_err());
    }
}
