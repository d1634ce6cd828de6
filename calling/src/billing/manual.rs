//! The "manual / sandbox" payment provider: money received outside Switchboard (a bank
//! transfer, a paid invoice, or play money on a sandbox install) is recorded by an owner or
//! admin, and an owner sets the subscription — each turned into the [`PaymentEvent`] a hosted
//! provider's webhook would bring and booked by [`payments::apply`], so the ledger and the
//! subscription cannot tell them apart and a reference recorded twice credits once.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::money::{Micros, Money};
use super::payments::{self, Applied, BoxFuture, Checkout, PaymentEvent, PaymentProvider};
use super::subscription::{self, Subscription, SubscriptionStatus};
use super::wallet::{self, Wallet};
use crate::dates::start_of_date;
use crate::ids::new_id;
use crate::storage::Db;
use crate::{Error, Result};

/// The provider's name: top-ups are booked as `manual:<reference>`.
pub const NAME: &str = "manual";
/// The largest single top-up recorded by hand (100 000.00 of the wallet currency): a typo's
/// extra zeros are refused rather than credited.
pub const MAX_TOP_UP: Micros = Micros(100_000 * super::money::MICROS_PER_UNIT);
const MAX_REFERENCE: usize = 64;
const MAX_NOTE: usize = 200;
/// Period ends after 9999-12-31 are typos.
const LATEST_PERIOD_END: i64 = 253_402_300_799_999;

/// The manual provider, for code that picks a provider at run time.
pub struct ManualProvider;

impl PaymentProvider for ManualProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    /// There is no payment page: the payment happens elsewhere and is recorded with
    /// [`record_top_up`].
    fn checkout<'a>(&'a self, _workspace_id: &'a str, amount: &'a Money) -> BoxFuture<'a, Result<Checkout>> {
        let message = format!(
            "payments are recorded by hand: once {amount} has arrived, an owner or admin records it in Admin → Billing"
        );
        Box::pin(async move { Err(Error::Conflict { code: "manual_payments", message }) })
    }

    /// Nothing may report a manual payment from outside.
    fn parse_webhook(&self, _headers: &[(String, String)], _body: &[u8]) -> Result<Vec<PaymentEvent>> {
        Err(Error::forbidden("the manual payment provider accepts no webhooks"))
    }
}

/// A payment someone records: its amount, the reference that identifies it (the bank
/// transfer's, the invoice number; generated when none is given) and a note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct ManualTopUp {
    pub amount: Micros,
    pub reference: String,
    pub note: Option<String>,
}

impl ManualTopUp {
    /// Checks an amount in micro-units (above zero, at most [`MAX_TOP_UP`]), the reference
    /// and the note.
    pub fn new(amount: Micros, reference: Option<&str>, note: Option<&str>) -> Result<ManualTopUp> {
        if amount.get() <= 0 {
            return Err(Error::validation("amount", "a top-up must be more than zero"));
        }
        if amount > MAX_TOP_UP {
            return Err(Error::validation("amount", format!("at most {MAX_TOP_UP} at a time")));
        }
        let reference = reference.map(str::trim).filter(|reference| !reference.is_empty());
        let reference = match reference {
            Some(reference) if reference.chars().count() > MAX_REFERENCE => {
                return Err(Error::validation("reference", format!("at most {MAX_REFERENCE} characters")));
            }
            Some(reference) if reference.chars().any(char::is_control) => {
                return Err(Error::validation("reference", "letters, digits and punctuation only"));
            }
            Some(reference) => reference.to_owned(),
            None => new_id(),
        };
        let note = note.map(str::trim).filter(|note| !note.is_empty());
        if note.is_some_and(|note| note.chars().count() > MAX_NOTE) {
            return Err(Error::validation("note", format!("at most {MAX_NOTE} characters")));
        }
        Ok(ManualTopUp { amount, reference, note: note.map(str::to_owned) })
    }

    /// [`ManualTopUp::new`] from a form: the amount as typed (`25`, `12.50`).
    pub fn parse(amount: &str, reference: &str, note: &str) -> Result<ManualTopUp> {
        let amount = Micros::parse(amount)
            .map_err(|_| Error::validation("amount", "expected an amount such as 25 or 12.50"))?;
        ManualTopUp::new(amount, Some(reference), Some(note))
    }
}

/// What [`record_top_up`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct TopUpRecorded {
    /// The ledger's top-up id (`manual:<reference>`).
    pub top_up_id: String,
    /// `false` when that reference was recorded before: nothing was added.
    pub credited: bool,
    pub wallet: Wallet,
}

/// Books a payment received outside Switchboard into the workspace's wallet, in the wallet's
/// currency, as the manual provider's `TopUpSucceeded`.
pub async fn record_top_up(
    db: &Db,
    workspace_id: &str,
    top_up: &ManualTopUp,
    recorded_by: Option<&str>,
    now: i64,
) -> Result<TopUpRecorded> {
    let currency = wallet::get(db, workspace_id).await?.currency;
    let event = PaymentEvent::TopUpSucceeded {
        workspace_id: workspace_id.to_owned(),
        payment_id: top_up.reference.clone(),
        amount: top_up.amount,
        currency,
        recorded_by: recorded_by.map(str::to_owned),
        note: top_up.note.clone(),
    };
    let applied = payments::apply(db, NAME, &event, now).await?;
    Ok(TopUpRecorded {
        top_up_id: format!("{NAME}:{}", top_up.reference),
        credited: applied == Applied::Credited,
        wallet: wallet::get(db, workspace_id).await?,
    })
}

/// What the audit log keeps of a manual top-up (`billing.top_up`), from the REST API and the
/// admin panel alike.
pub fn top_up_details(top_up: &ManualTopUp, recorded: &TopUpRecorded) -> Value {
    json!({
        "amount": top_up.amount,
        "currency": recorded.wallet.currency,
        "reference": top_up.reference,
        "note": top_up.note,
    })
}

/// A subscription as an owner sets it by hand.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct SubscriptionChange {
    pub plan: String,
    pub status: SubscriptionStatus,
    /// Unix ms.
    pub current_period_end: i64,
}

impl SubscriptionChange {
    /// Checks a change sent as data (the REST API's): a plan, a status, a period end.
    pub fn new(plan: &str, status: &str, current_period_end: i64) -> Result<SubscriptionChange> {
        let plan = subscription::parse_plan(plan)?;
        let status = SubscriptionStatus::parse(status.trim())?;
        if !(0..=LATEST_PERIOD_END).contains(&current_period_end) {
            return Err(Error::validation(
                "current_period_end",
                "expected unix milliseconds before the year 10000",
            ));
        }
        Ok(SubscriptionChange { plan: plan.to_owned(), status, current_period_end })
    }

    /// [`SubscriptionChange::new`] from a form: the period ends at 00:00 UTC of a
    /// `YYYY-MM-DD` date.
    pub fn parse(plan: &str, status: &str, period_end_date: &str) -> Result<SubscriptionChange> {
        let end = start_of_date(period_end_date)
            .ok_or_else(|| Error::validation("current_period_end", "expected a date as YYYY-MM-DD"))?;
        SubscriptionChange::new(plan, status, end)
    }
}

/// Sets the workspace's subscription as the manual provider's `SubscriptionUpdated`; returns
/// it and what it was before.
pub async fn set_subscription(
    db: &Db,
    workspace_id: &str,
    change: &SubscriptionChange,
    now: i64,
) -> Result<(Subscription, Option<Subscription>)> {
    let before = subscription::get(db, workspace_id).await?;
    let event = PaymentEvent::SubscriptionUpdated {
        workspace_id: workspace_id.to_owned(),
        plan: change.plan.clone(),
        status: change.status,
        current_period_end: change.current_period_end,
    };
    payments::apply(db, NAME, &event, now).await?;
    let after = subscription::get(db, workspace_id).await?.ok_or(Error::NotFound { what: "subscription" })?;
    Ok((after, before))
}

/// What the audit log keeps of a subscription change (`billing.subscription_updated`).
pub fn subscription_details(before: Option<&Subscription>, after: &Subscription) -> Value {
    let summary = |s: &Subscription| json!({ "plan": s.plan, "status": s.status, "current_period_end": s.current_period_end });
    json!({ "from": before.map(summary), "to": summary(after) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(err: Error) -> String {
        err.details().unwrap()["field"].as_str().unwrap().to_owned()
    }

    #[test]
    fn top_ups_are_positive_bounded_and_referenced() {
        let top_up = ManualTopUp::parse("12.50", " TRX-1 ", " wire ").unwrap();
        assert_eq!(
            top_up,
            ManualTopUp { amount: Micros(12_500_000), reference: "TRX-1".into(), note: Some("wire".into()) }
        );
        let generated = ManualTopUp::parse("1", "", "").unwrap();
        assert_eq!((generated.reference.len(), generated.note), (36, None), "a reference is generated");
        assert_eq!(field(ManualTopUp::parse("0", "", "").unwrap_err()), "amount");
        assert_eq!(field(ManualTopUp::parse("-5", "", "").unwrap_err()), "amount");
        assert_eq!(field(ManualTopUp::parse("ten", "", "").unwrap_err()), "amount");
        assert_eq!(field(ManualTopUp::parse("100000.01", "", "").unwrap_err()), "amount");
        assert!(ManualTopUp::parse("100000", "", "").is_ok());
        assert_eq!(field(ManualTopUp::parse("1", &"x".repeat(65), "").unwrap_err()), "reference");
        assert_eq!(field(ManualTopUp::parse("1", "a\nb", "").unwrap_err()), "reference");
        assert_eq!(field(ManualTopUp::parse("1", "", &"n".repeat(201)).unwrap_err()), "note");
    }

    #[test]
    fn subscription_changes_are_checked_field_by_field() {
        let change = SubscriptionChange::parse("pro", "past_due", "1970-01-02").unwrap();
        assert_eq!((change.status, change.current_period_end), (SubscriptionStatus::PastDue, 86_400_000));
        assert_eq!(field(SubscriptionChange::parse(" ", "active", "1970-01-02").unwrap_err()), "plan");
        assert_eq!(field(SubscriptionChange::parse("pro", "paused", "1970-01-02").unwrap_err()), "status");
        assert_eq!(
            field(SubscriptionChange::parse("pro", "active", "soon").unwrap_err()),
            "current_period_end"
        );
        assert_eq!(field(SubscriptionChange::new("pro", "active", -1).unwrap_err()), "current_period_end");
    }

    #[test]
    fn the_provider_has_no_checkout_and_takes_no_webhooks() {
        assert_eq!(ManualProvider.name(), "manual");
        assert_eq!(ManualProvider.parse_webhook(&[], b"{}").unwrap_err().code(), "forbidden");
    }
}
