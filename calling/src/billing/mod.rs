//! Billing: money, subscriptions, the wallet and its ledger, the rate card, the preflight every
//! paid action passes, and settlement.
//!
//! - [`money`]: integer micro-units ([`Micros`]), currencies, display.
//! - [`subscription`]: plan, status, period end; whether paid actions are allowed.
//! - [`wallet`]: the append-only double-entry ledger and the balance derived from it.
//! - [`rates`]: versioned rate cards (per-pulse call rates by callee country, message rates).
//! - [`payments`]: the payment provider interface and how its events are booked.
//! - [`manual`]: the "manual / sandbox" provider (top-ups and subscriptions recorded by hand).
//! - [`threshold`]: the low-balance warning and the balance as every screen reports it.
//! - [`forms`]: what people send (the expenses filter, the rate card as typed); browser-safe.
//! - [`statement`]: the expenses log (balance-changing entries), filtered, and its CSV export.
//! - [`holds`]: [`preflight`], [`estimate`], holds, [`settle_call`], [`expire_holds`].
//!
//! Inbound (user-initiated) calls never touch billing: answering is free and always allowed.

pub mod forms;
pub mod holds;
pub mod manual;
pub mod money;
pub mod payments;
pub mod rates;
pub mod statement;
pub mod subscription;
pub mod threshold;
pub mod wallet;

pub use forms::{ExpenseFilter, RateCardForm, StatementKind};
pub use holds::{
    Billable, CallOutcome, Estimate, Hold, Policy, Preflight, Settlement, attach_call, charge_message,
    estimate, expire_holds, on_call_fact, pay_for_send, preflight, release, settle_call, settle_call_in,
};
pub use money::{Currency, Micros, Money};
pub use rates::{MessageKind, NewRateCard, Rate, RateCard, pulses};
pub use subscription::{Subscription, SubscriptionStatus};
pub use threshold::Balance;
pub use wallet::{Verification, Wallet};
