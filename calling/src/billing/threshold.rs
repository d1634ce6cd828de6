//! The low-balance warning: each workspace sets how little available money is "low" (stored in
//! `billing_settings`; [`DEFAULT`] until someone chooses), and every place that reports the
//! balance — the billing overview, the `/calling` header card — says whether it is below it
//! ([`Balance`]), so the team tops up before calls start being refused.

use serde::{Deserialize, Serialize};

use super::money::{Currency, Micros};
use super::wallet::{self, Wallet};
use crate::storage::Db;
use crate::{Error, Result};

/// The threshold of a workspace that never chose one: 5.00 of the wallet currency, a few dozen
/// calls' holds at the default rates.
pub const DEFAULT: Micros = Micros(5_000_000);
/// The largest threshold accepted (1 000 000.00), far above any sensible one.
pub const MAX: Micros = Micros(1_000_000 * super::money::MICROS_PER_UNIT);

/// A threshold as typed or sent: zero (no warning) up to [`MAX`].
pub fn check(threshold: Micros) -> Result<Micros> {
    if threshold.is_negative() {
        return Err(Error::validation("threshold", "cannot be negative (0 turns the warning off)"));
    }
    if threshold > MAX {
        return Err(Error::validation("threshold", format!("at most {MAX}")));
    }
    Ok(threshold)
}

/// [`check`] of a decimal amount as typed (`10`, `2.50`).
pub fn parse(text: &str) -> Result<Micros> {
    let amount = Micros::parse(text).map_err(|_| {
        Error::validation("threshold", "expected an amount with at most 6 decimals, e.g. 10.00")
    })?;
    check(amount)
}

/// The workspace's threshold.
pub async fn get(db: &Db, workspace_id: &str) -> Result<Micros> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT low_balance_threshold_micros FROM billing_settings WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map_or(DEFAULT, |(micros,)| Micros(micros)))
}

/// Sets the workspace's threshold; returns it and the one it replaces.
pub async fn set(db: &Db, workspace_id: &str, threshold: Micros, now: i64) -> Result<(Micros, Micros)> {
    let threshold = check(threshold)?;
    let before = get(db, workspace_id).await?;
    sqlx::query(
        "INSERT INTO billing_settings (workspace_id, low_balance_threshold_micros, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (workspace_id) DO UPDATE SET low_balance_threshold_micros = excluded.low_balance_threshold_micros, \
           updated_at = excluded.updated_at",
    )
    .bind(workspace_id)
    .bind(threshold.get())
    .bind(now)
    .execute(db.pool())
    .await?;
    tracing::info!(workspace_id, threshold = threshold.get(), "low-balance threshold set");
    Ok((threshold, before))
}

/// What the audit log keeps of a threshold change (`billing.low_balance_threshold_updated`).
pub fn change_details(before: Micros, after: Micros) -> serde_json::Value {
    serde_json::json!({ "from": before, "to": after })
}

/// The balance as every screen reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Balance {
    pub currency: Currency,
    /// Available + held.
    pub balance: Micros,
    /// Reserved by calls and sends under way.
    pub held: Micros,
    /// What paid actions may still reserve.
    pub available: Micros,
    pub low_balance_threshold: Micros,
    /// `available` is below the threshold.
    pub low_balance: bool,
}

impl Balance {
    pub fn new(wallet: &Wallet, threshold: Micros) -> Balance {
        let available = wallet.available();
        Balance {
            currency: wallet.currency.clone(),
            balance: wallet.balance,
            held: wallet.held,
            available,
            low_balance_threshold: threshold,
            low_balance: available < threshold,
        }
    }
}

/// The workspace's balance and whether it is low.
pub async fn balance(db: &Db, workspace_id: &str) -> Result<Balance> {
    let wallet = wallet::get(db, workspace_id).await?;
    Ok(Balance::new(&wallet, get(db, workspace_id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_zero_up_to_the_maximum() {
        assert_eq!(parse("10").unwrap(), Micros(10_000_000));
        assert_eq!(parse("0").unwrap(), Micros::ZERO);
        for bad in ["-1", "abc", "", "1000000.01"] {
            assert_eq!(parse(bad).unwrap_err().details().unwrap()["field"], "threshold", "{bad}");
        }
    }

    #[test]
    fn low_means_less_available_than_the_threshold() {
        let wallet = |balance: i64, held: i64| Wallet {
            workspace_id: "w".into(),
            currency: Currency::usd(),
            balance: Micros(balance),
            held: Micros(held),
        };
        assert!(!Balance::new(&wallet(10, 0), Micros(10)).low_balance);
        assert!(Balance::new(&wallet(10, 1), Micros(10)).low_balance, "held money is not available");
        assert!(!Balance::new(&wallet(0, 0), Micros::ZERO).low_balance, "0 turns the warning off");
    }
}
