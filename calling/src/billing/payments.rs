//! The seam for payment providers (Stripe, Paddle, a bank transfer an admin records): a
//! provider turns its webhooks into [`PaymentEvent`]s, and [`apply`] books them — top-ups into
//! the wallet ledger, renewals and lapses into the subscription — idempotently, so a provider
//! retrying a webhook never credits twice. [`super::manual`] is the provider that ships: an
//! owner or admin records a payment received outside Switchboard (a bank transfer, the sandbox).

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use super::money::{Currency, Micros, Money};
use super::subscription::{self, SubscriptionStatus};
use super::wallet::{self, Cause};
use crate::storage::Db;
use crate::{Error, Result};

/// Something a payment provider reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PaymentEvent {
    /// A payment for the workspace's wallet succeeded. `payment_id` is the provider's id.
    TopUpSucceeded {
        workspace_id: String,
        payment_id: String,
        amount: Micros,
        currency: Currency,
        /// Who recorded it, for payments a person records (the manual provider).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recorded_by: Option<String>,
        /// Their note, kept with the ledger entry.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// The workspace's subscription was paid for, changed, fell past due or ended.
    SubscriptionUpdated {
        workspace_id: String,
        plan: String,
        status: SubscriptionStatus,
        current_period_end: i64,
    },
}

/// A hosted payment page to send an owner to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Checkout {
    pub id: String,
    pub url: String,
}

/// A boxed future, so providers can be chosen at run time (`Box<dyn PaymentProvider>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a payment provider implements.
pub trait PaymentProvider: Send + Sync {
    /// A short, stable name; it prefixes top-up ids in the ledger (`stripe:pi_123`).
    fn name(&self) -> &'static str;

    /// Starts a payment of `amount` for the workspace's wallet; the provider's webhook later
    /// reports [`PaymentEvent::TopUpSucceeded`].
    fn checkout<'a>(&'a self, workspace_id: &'a str, amount: &'a Money) -> BoxFuture<'a, Result<Checkout>>;

    /// Verifies a webhook (signature, freshness) and reads its events. A webhook that is not
    /// the provider's must be refused, never trusted.
    fn parse_webhook(&self, headers: &[(String, String)], body: &[u8]) -> Result<Vec<PaymentEvent>>;
}

/// What [`apply`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The top-up was credited.
    Credited,
    /// That payment was booked before (a replay): nothing changed.
    AlreadyBooked,
    /// The subscription now says what the event says.
    SubscriptionSet,
}

/// Books one provider event. Replays are harmless: a top-up is keyed by provider and payment
/// id (per workspace), and a subscription update sets the state the provider says.
pub async fn apply(db: &Db, provider: &str, event: &PaymentEvent, now: i64) -> Result<Applied> {
    match event {
        PaymentEvent::TopUpSucceeded { workspace_id, payment_id, amount, currency, recorded_by, note } => {
            let wallet_currency = wallet::get(db, workspace_id).await?.currency;
            if *currency != wallet_currency {
                return Err(Error::validation(
                    "currency",
                    format!("the payment is in {currency} but the wallet is in {wallet_currency}"),
                ));
            }
            let cause =
                Cause { actor_user_id: recorded_by.clone(), reason: note.clone(), ..Cause::default() };
            let top_up_id = format!("{provider}:{payment_id}");
            let (_, credited) = wallet::credit(db, workspace_id, &top_up_id, *amount, cause, now).await?;
            Ok(if credited { Applied::Credited } else { Applied::AlreadyBooked })
        }
        PaymentEvent::SubscriptionUpdated { workspace_id, plan, status, current_period_end } => {
            subscription::set(db, workspace_id, plan, *status, *current_period_end, now).await?;
            Ok(Applied::SubscriptionSet)
        }
    }
}
