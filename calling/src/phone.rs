//! Phone numbers as WhatsApp sees them.
//!
//! Owns [`PhoneNumber`]: one validated, normalised number built from whatever a person types
//! (`+91 98765-43210`, `(415) 555 2671` with its `+1`, `0044 20 7946 0958`) or Meta sends (bare
//! digits in `wa_id`, `from`, `to`, `display_phone_number`). It also answers the one country
//! rule of the Calling API that depends on the business number alone: business-initiated calls
//! are unavailable for numbers of some countries (Meta's error 138013).
//!
//! What a number is comes from libphonenumber's metadata, boiled down to one table
//! ([`calling_codes`]: every country calling code, the lengths its national numbers have, its
//! trunk prefix), so the browser and the server accept exactly the same numbers and write them
//! the same way while the WASM bundle carries a few kilobytes instead of the `phonenumber`
//! crate's half a megabyte of metadata and its regex engine. A test regenerates the table from
//! the crate and fails when they differ. On the server the `phonenumber` crate also tells apart
//! the countries sharing a calling code (`+1 604 …` is Canada), which billing and Meta's
//! country rules need; the browser, which decides nothing by country, takes the code's main
//! country.

mod calling_codes;

pub use calling_codes::is_country;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;
use crate::error::Quoted;

/// The field name validation errors carry.
const FIELD: &str = "phone_number";

/// E.164 allows at most 15 digits, country code included.
const MAX_DIGITS: usize = 15;

/// The shortest numbers in service (e.g. Niue, +683 plus four digits) have seven digits with
/// their country code; anything shorter is a typo or an extension, never a callable number.
const MIN_DIGITS: usize = 7;

/// ISO 3166 alpha-2 codes of the countries whose business numbers cannot place
/// business-initiated calls (reference §8 "Availability", error 138013 in §7.1).
pub const BUSINESS_INITIATED_CALLING_RESTRICTED_COUNTRIES: [&str; 5] = ["US", "CA", "EG", "VN", "NG"];

/// A validated phone number in international form.
///
/// Equality and hashing use the E.164 form, so `+91 98765 43210` and `919876543210` are the
/// same number.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber {
    /// `+` then digits; the canonical form everything else derives from.
    e164: String,
    calling_code: u16,
    /// `None` for non-geographic numbers (`+800`, `+882`, …), which belong to no country.
    country: Option<String>,
}

impl PhoneNumber {
    /// Parses a number typed by a person or sent by Meta.
    ///
    /// Accepts `+E164`, bare international digits (Meta's `wa_id`), an `00` international
    /// prefix, and spaces, dashes, dots and parentheses as separators. Numbers without a
    /// country code cannot be told apart from international ones, so digits are always read
    /// as starting with the country code, exactly as Meta writes them.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let international = normalise(raw)?;
        let Some(code) = calling_codes::find(&international) else {
            return Err(Error::validation(
                FIELD,
                format!("{raw} has an unknown country code", raw = Quoted(raw)),
            ));
        };
        let calling_code = code.code;
        let mut national = &international[calling_code_digits(calling_code)..];
        // `+44 (0)20 …`: the trunk prefix people dial at home is no part of the number.
        if !code.has_length(national.len())
            && let Some(rest) =
                national.strip_prefix(code.trunk_prefix).filter(|_| !code.trunk_prefix.is_empty())
            && code.has_length(rest.len())
        {
            national = rest;
        }
        // Meta's test numbers (`+1 555 …`) and freshly allocated ranges fail libphonenumber's
        // strict patterns although WhatsApp serves them, so the rule is the length alone: any
        // length some number type of the code's countries uses.
        if !code.has_length(national.len()) {
            return Err(Error::validation(
                FIELD,
                format!(
                    "{raw} does not have the length of a number of country code +{calling_code}",
                    raw = Quoted(raw)
                ),
            ));
        }
        let e164 = format!("+{calling_code}{national}");
        let country = country_of(&e164).or_else(|| code.main_country().map(str::to_owned));
        Ok(PhoneNumber { e164, calling_code, country })
    }

    /// The number as `+` and digits, e.g. `+919876543210`.
    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// The number as Meta wants it in `to` and sends it in `wa_id`: digits only.
    pub fn wa_id(&self) -> &str {
        &self.e164[1..]
    }

    /// The ISO 3166 alpha-2 country, e.g. `"IN"`; `None` for non-geographic numbers.
    pub fn country(&self) -> Option<&str> {
        self.country.as_deref()
    }

    /// The country calling code, e.g. `91`.
    pub fn calling_code(&self) -> u16 {
        self.calling_code
    }

    /// Whether Meta refuses business-initiated calls *from* this business number (error
    /// 138013). Meta words the rule as "business numbers in the USA, Canada, Egypt, Vietnam,
    /// or Nigeria … the restriction is on the business number's country code"; the callee can
    /// be anywhere.
    pub fn is_business_initiated_calling_restricted(&self) -> bool {
        self.country
            .as_deref()
            .is_some_and(|country| BUSINESS_INITIATED_CALLING_RESTRICTED_COUNTRIES.contains(&country))
    }
}

/// Strips separators and turns every accepted spelling into the international digits
/// (country code first, no `+`).
fn normalise(raw: &str) -> Result<String, Error> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(Error::validation(FIELD, "a phone number is required"));
    }
    let mut digits = String::with_capacity(trimmed.len());
    for (index, character) in trimmed.char_indices() {
        match character {
            '0'..='9' => digits.push(character),
            // A `+` only means "international" in front; anywhere else it is a typo.
            '+' if index == 0 => {}
            ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
            _ => {
                return Err(Error::validation(
                    FIELD,
                    format!(
                        "{raw} may only contain digits, a leading +, spaces, dashes and parentheses",
                        raw = Quoted(raw)
                    ),
                ));
            }
        }
    }
    let international =
        if !trimmed.starts_with('+') && digits.starts_with("00") { &digits[2..] } else { &digits[..] };
    if international.len() < MIN_DIGITS {
        return Err(Error::validation(
            FIELD,
            format!("{raw} is too short to be a phone number", raw = Quoted(raw)),
        ));
    }
    if international.len() > MAX_DIGITS {
        return Err(Error::validation(
            FIELD,
            format!("{raw} has more than {MAX_DIGITS} digits", raw = Quoted(raw)),
        ));
    }
    if international.starts_with('0') {
        return Err(Error::validation(
            FIELD,
            format!("{raw} must start with its country code", raw = Quoted(raw)),
        ));
    }
    Ok(international.to_owned())
}

fn calling_code_digits(code: u16) -> usize {
    match code {
        0..=9 => 1,
        10..=99 => 2,
        _ => 3,
    }
}

/// The country libphonenumber places `e164` in, telling apart the countries of a shared
/// calling code by their number ranges. A number no range matches (e.g. a test range) is
/// left to the code's main country: `+1 555 …` is a North American number, so "US".
#[cfg(feature = "server")]
fn country_of(e164: &str) -> Option<String> {
    let parsed = phonenumber::parse(None, e164).ok()?;
    parsed.country().id().map(|id| id.as_ref().to_owned())
}

/// The browser decides nothing by country (billing and Meta's rules run on the server), so
/// it takes the calling code's main country rather than carrying libphonenumber's ranges.
#[cfg(not(feature = "server"))]
fn country_of(_e164: &str) -> Option<String> {
    None
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.e164)
    }
}

impl FromStr for PhoneNumber {
    type Err = Error;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        PhoneNumber::parse(raw)
    }
}

impl Serialize for PhoneNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.e164)
    }
}

impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        PhoneNumber::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn field_of(error: Error) -> String {
        match error {
            Error::Validation { field, .. } => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn parses_e164_with_plus() {
        let number = PhoneNumber::parse("+919876543210").unwrap();
        assert_eq!(number.e164(), "+919876543210");
        assert_eq!(number.wa_id(), "919876543210");
        assert_eq!(number.country(), Some("IN"));
        assert_eq!(number.calling_code(), 91);
    }

    #[test]
    fn parses_meta_wa_id_digits() {
        let number = PhoneNumber::parse("917358580180").unwrap();
        assert_eq!(number.e164(), "+917358580180");
        assert_eq!(number.country(), Some("IN"));
    }

    #[test]
    fn parses_separators_and_parentheses() {
        let number = PhoneNumber::parse(" +1 (415) 555-2671 ").unwrap();
        assert_eq!(number.e164(), "+14155552671");
        assert_eq!(number.country(), Some("US"));
        assert_eq!(PhoneNumber::parse("+44 20.7946.0958").unwrap().country(), Some("GB"));
    }

    #[test]
    fn parses_double_zero_international_prefix() {
        assert_eq!(PhoneNumber::parse("0044 20 7946 0958").unwrap().e164(), "+442079460958");
    }

    #[test]
    fn accepts_meta_test_numbers() {
        // The display number of Meta's sandbox numbers from the reference (§3.1).
        let number = PhoneNumber::parse("15551441906").unwrap();
        assert_eq!(number.e164(), "+15551441906");
        assert_eq!(number.country(), Some("US"));
    }

    #[test]
    fn drops_the_trunk_prefix_written_after_the_country_code() {
        assert_eq!(PhoneNumber::parse("+44 (0)20 7946 0958").unwrap().e164(), "+442079460958");
        assert_eq!(PhoneNumber::parse("+7 8 912 345 67 89").unwrap().e164(), "+79123456789");
        // Italy keeps its leading zero: it is part of the number there.
        assert_eq!(PhoneNumber::parse("+39 06 1234 5678").unwrap().e164(), "+390612345678");
    }

    /// The table-driven rule accepts every example number libphonenumber gives, for every
    /// country and number type, and writes it as libphonenumber does.
    #[test]
    fn accepts_every_libphonenumber_example_as_libphonenumber_writes_it() {
        let database = &*phonenumber::metadata::DATABASE;
        let mut checked = 0;
        for metadata in database.iter() {
            let descriptors = metadata.descriptors();
            for descriptor in
                [descriptors.fixed_line(), descriptors.mobile(), descriptors.voip()].into_iter().flatten()
            {
                let Some(example) = descriptor.example() else { continue };
                let raw = format!("+{}{example}", metadata.country_code());
                let ours =
                    PhoneNumber::parse(&raw).unwrap_or_else(|err| panic!("{raw} ({}): {err}", metadata.id()));
                let theirs = phonenumber::parse(None, &raw)
                    .unwrap()
                    .format()
                    .mode(phonenumber::Mode::E164)
                    .to_string();
                // libphonenumber also strips a Lithuanian `8` from an 8-digit number that has
                // the country's length already (leaving 6 digits, no LT number); we keep what
                // was typed.
                if raw != "+37080123456" {
                    assert_eq!(ours.e164(), theirs, "{}", metadata.id());
                }
                checked += 1;
            }
        }
        assert!(checked > 500, "{checked}");
    }

    #[test]
    fn tells_apart_countries_sharing_a_calling_code() {
        let canada = PhoneNumber::parse("+1 604 555 0123").unwrap();
        assert_eq!(canada.calling_code(), 1);
        assert_eq!(canada.country(), Some("CA"));
    }

    #[test]
    fn rejects_garbage() {
        for raw in [
            "",
            "   ",
            "hello",
            "+91abc9876543",
            "12345",
            "+1234567890123456",
            "++919876543210",
            "91+9876543210",
        ] {
            let error = PhoneNumber::parse(raw).expect_err(raw);
            assert_eq!(field_of(error), "phone_number", "{raw}");
        }
    }

    #[test]
    fn rejects_unknown_country_code() {
        assert!(PhoneNumber::parse("+999 1234 5678").is_err());
    }

    #[test]
    fn rejects_number_without_country_code() {
        assert!(PhoneNumber::parse("09876543210").is_err());
    }

    #[test]
    fn restricted_business_countries_match_meta_list() {
        let restricted = [
            "+1 415 555 2671",
            "+1 604 555 0123",
            "+20 10 1234 5678",
            "+84 91 234 56 78",
            "+234 803 123 4567",
        ];
        for raw in restricted {
            assert!(PhoneNumber::parse(raw).unwrap().is_business_initiated_calling_restricted(), "{raw}");
        }
        for raw in ["+919876543210", "+44 20 7946 0958", "+55 11 91234 5678", "+62 812 3456 7890"] {
            assert!(!PhoneNumber::parse(raw).unwrap().is_business_initiated_calling_restricted(), "{raw}");
        }
    }

    #[test]
    fn serde_uses_e164_and_validates() {
        let number: PhoneNumber = serde_json::from_str("\"919876543210\"").unwrap();
        assert_eq!(serde_json::to_string(&number).unwrap(), "\"+919876543210\"");
        assert!(serde_json::from_str::<PhoneNumber>("\"nope\"").is_err());
    }

    #[test]
    fn different_spellings_are_equal() {
        assert_eq!(
            PhoneNumber::parse("+91 98765-43210").unwrap(),
            PhoneNumber::parse("919876543210").unwrap()
        );
        assert_eq!("+919876543210".parse::<PhoneNumber>().unwrap().to_string(), "+919876543210");
    }

    proptest! {
        #[test]
        fn parse_never_panics(raw in "\\PC{0,30}") {
            let _ = PhoneNumber::parse(&raw);
        }

        #[test]
        fn e164_round_trips_and_wa_id_is_digits(national in "[6-9][0-9]{9}") {
            let number = PhoneNumber::parse(&format!("+91{national}")).unwrap();
            prop_assert_eq!(number.wa_id(), format!("91{national}"));
            prop_assert!(number.wa_id().chars().all(|c| c.is_ascii_digit()));
            let again = PhoneNumber::parse(number.e164()).unwrap();
            prop_assert_eq!(&again, &number);
            prop_assert_eq!(PhoneNumber::parse(number.wa_id()).unwrap(), number);
        }

        #[test]
        fn separators_do_not_change_the_number(national in "[6-9][0-9]{9}", cut in 1usize..9) {
            let plain = PhoneNumber::parse(&format!("+91{national}")).unwrap();
            let spaced = format!("+91 ({}) {}-{}", &national[..cut], &national[cut..cut + 1], &national[cut + 1..]);
            prop_assert_eq!(PhoneNumber::parse(&spaced).unwrap(), plain);
        }
    }
}
