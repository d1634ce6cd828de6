//! What people send to billing, before it is parsed: the expenses filter (a kind and a date
//! range) and the rate card as an owner types it in the admin panel. Browser-safe (no
//! database), so the panel builds the very filter — and the CSV link honouring it — that the
//! server applies; `rates::NewRateCard::from_form` turns the typed card into prices.

use serde::{Deserialize, Serialize};

use crate::dates::{DAY_MS, start_of_date};
use crate::{Error, Result};

/// The kinds of statement lines: the ledger entries that change what the workspace owns
/// (holds and releases only move money inside the wallet and are never lines).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StatementKind {
    TopUp,
    CallCharge,
    MessageCharge,
    Refund,
    Adjustment,
}

impl StatementKind {
    pub const ALL: [StatementKind; 5] = [
        StatementKind::CallCharge,
        StatementKind::MessageCharge,
        StatementKind::TopUp,
        StatementKind::Refund,
        StatementKind::Adjustment,
    ];

    /// The stored and wire form (the ledger's `kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            StatementKind::TopUp => "top_up",
            StatementKind::CallCharge => "call_charge",
            StatementKind::MessageCharge => "message_charge",
            StatementKind::Refund => "refund",
            StatementKind::Adjustment => "adjustment",
        }
    }

    /// How the kind reads in the UI.
    pub fn label(self) -> &'static str {
        match self {
            StatementKind::TopUp => "Top-up",
            StatementKind::CallCharge => "Call charge",
            StatementKind::MessageCharge => "Message charge",
            StatementKind::Refund => "Refund",
            StatementKind::Adjustment => "Adjustment",
        }
    }

    pub fn parse(raw: &str) -> Result<StatementKind> {
        let raw = raw.trim();
        StatementKind::ALL.into_iter().find(|kind| kind.as_str() == raw).ok_or_else(|| {
            Error::validation("kind", "expected call_charge, message_charge, top_up, refund or adjustment")
        })
    }
}

/// How far back the expenses log looks when no start is given.
pub const DEFAULT_PERIOD_MS: i64 = 30 * DAY_MS;

/// Which statement lines to list: one kind or all, from an instant (inclusive) to another
/// (exclusive), both unix ms.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct ExpenseFilter {
    #[serde(default)]
    pub kind: Option<StatementKind>,
    #[serde(default)]
    pub from: Option<i64>,
    #[serde(default)]
    pub to: Option<i64>,
}

impl ExpenseFilter {
    /// The panel's filter form: a kind (blank for every kind) and `YYYY-MM-DD` dates in UTC
    /// (blank for open ends); the `to` date is included.
    pub fn from_form(kind: &str, from_date: &str, to_date: &str) -> Result<ExpenseFilter> {
        let kind = if kind.trim().is_empty() { None } else { Some(StatementKind::parse(kind)?) };
        let date = |field: &str, raw: &str| -> Result<Option<i64>> {
            if raw.trim().is_empty() {
                return Ok(None);
            }
            start_of_date(raw)
                .map(Some)
                .ok_or_else(|| Error::validation(field, "expected a date as YYYY-MM-DD"))
        };
        let from = date("from", from_date)?;
        let to = date("to", to_date)?.map(|start| start + DAY_MS);
        let filter = ExpenseFilter { kind, from, to };
        filter.check()?;
        Ok(filter)
    }

    /// Refuses a range that ends before it starts.
    pub fn check(&self) -> Result<()> {
        match (self.from, self.to) {
            (Some(from), Some(to)) if to <= from => {
                Err(Error::validation("to", "the end is before the start"))
            }
            _ => Ok(()),
        }
    }

    /// The period `[from, to)` at `now`: up to now unless an end is given, and
    /// [`DEFAULT_PERIOD_MS`] before the end unless a start is given.
    pub fn range(&self, now: i64) -> (i64, i64) {
        let to = self.to.unwrap_or(now + 1);
        (self.from.unwrap_or(to - DEFAULT_PERIOD_MS), to)
    }

    /// The query string the REST API reads (`kind=call_charge&from=…&to=…`; empty when the
    /// filter is empty), e.g. for the "Download CSV" link.
    pub fn query(&self) -> String {
        let mut pairs = Vec::new();
        if let Some(kind) = self.kind {
            pairs.push(format!("kind={}", kind.as_str()));
        }
        if let Some(from) = self.from {
            pairs.push(format!("from={from}"));
        }
        if let Some(to) = self.to {
            pairs.push(format!("to={to}"));
        }
        pairs.join("&")
    }
}

/// A unit price as typed: decimal amounts of the wallet currency (`0.0012`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct RateForm {
    pub meta: String,
    pub billable: String,
}

/// A country's per-pulse price as typed; a row with a blank country is ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct CountryRateForm {
    pub country: String,
    pub meta: String,
    pub billable: String,
}

/// A rate card as an owner edits it in the admin panel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct RateCardForm {
    pub call_estimate_minutes: String,
    /// Per 6-second pulse, for callee countries not listed.
    pub default_call: RateForm,
    /// Per 6-second pulse, by the callee's country.
    pub countries: Vec<CountryRateForm>,
    /// Per message.
    pub text: RateForm,
    pub media: RateForm,
    pub template: RateForm,
    pub calling_template: RateForm,
    pub note: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_unknown_ones_name_the_field() {
        for kind in StatementKind::ALL {
            assert_eq!(StatementKind::parse(kind.as_str()).unwrap(), kind);
            assert_eq!(serde_json::to_value(kind).unwrap(), serde_json::json!(kind.as_str()));
        }
        let err = StatementKind::parse("hold").unwrap_err();
        assert_eq!(err.details().unwrap()["field"], "kind");
    }

    #[test]
    fn the_form_filter_includes_its_end_date_and_becomes_a_query() {
        let filter = ExpenseFilter::from_form("call_charge", "1970-01-02", "1970-01-03").unwrap();
        assert_eq!(
            filter,
            ExpenseFilter { kind: Some(StatementKind::CallCharge), from: Some(DAY_MS), to: Some(3 * DAY_MS) }
        );
        assert_eq!(filter.query(), format!("kind=call_charge&from={DAY_MS}&to={}", 3 * DAY_MS));
        assert_eq!(ExpenseFilter::from_form("", "", "").unwrap().query(), "");
        let field = |err: Error| err.details().unwrap()["field"].as_str().unwrap().to_owned();
        assert_eq!(field(ExpenseFilter::from_form("", "yesterday", "").unwrap_err()), "from");
        assert_eq!(field(ExpenseFilter::from_form("", "", "2026-02-30").unwrap_err()), "to");
        assert_eq!(field(ExpenseFilter::from_form("", "1970-01-03", "1970-01-02").unwrap_err()), "to");
        assert_eq!(field(ExpenseFilter::from_form("hold", "", "").unwrap_err()), "kind");
    }

    #[test]
    fn an_open_range_is_the_last_thirty_days() {
        let now = 100 * DAY_MS;
        assert_eq!(ExpenseFilter::default().range(now), (now + 1 - DEFAULT_PERIOD_MS, now + 1));
        let ended = ExpenseFilter { to: Some(50 * DAY_MS), ..ExpenseFilter::default() };
        assert_eq!(ended.range(now), (20 * DAY_MS, 50 * DAY_MS));
    }
}
