//! Preflight, holds and settlement: the one gate every paid action passes before anything
//! leaves for WhatsApp, and the bookkeeping that turns its hold into a charge afterwards.
//!
//! [`preflight`] checks the subscription, estimates the cost (a call: the rate card's
//! `call_estimate_minutes` at the callee country's per-pulse rate; a send: the message rate) and
//! reserves that amount on the wallet, all in one transaction whose first statement locks the
//! wallet (see `wallet::lock`): concurrent preflights queue on that lock and each one reads the
//! balance its predecessor committed, so they can never reserve more than the wallet holds.
//!
//! A call's hold is linked to the call once WhatsApp accepted `connect` ([`attach_call`]); when
//! the call ends, [`settle_call`] charges `ceil(duration / 6)` pulses at the rate copied into the
//! hold and releases the rest — exactly once per call (`call_settlements` is keyed by call id),
//! whatever order and how often the webhooks arrive. A failed or unanswered call releases
//! everything. Holds never settled (a lost webhook) are released by [`expire_holds`].
//!
//! Lock order, to stay deadlock-free on PostgreSQL: call row → wallet row → hold row.

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use super::money::{Currency, Micros};
use super::rates::{self, MessageKind, Rate, RateCard};
use super::subscription;
use super::wallet::{self, Account, Cause, EntryKind, Posting};
use crate::call_state::CallState;
use crate::ids::new_id;
use crate::ingest::replay_call;
use crate::numbers::WhatsAppNumber;
use crate::phone::PhoneNumber;
use crate::storage::Db;
use crate::{Error, Result};

/// Settings of the billing gate that are the operator's, not the owner's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How long a hold may stay unsettled before [`expire_holds`] releases it. Longer than
    /// any call: a call still running when its hold expires is not charged.
    pub hold_ttl_ms: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { hold_ttl_ms: 6 * 60 * 60 * 1000 }
    }
}

/// What is about to be paid for.
#[derive(Clone, Copy, Debug)]
pub enum Billable<'a> {
    /// A business-initiated call to `callee`.
    Call { callee: &'a PhoneNumber },
    /// A message send of `kind`.
    Message { kind: MessageKind },
}

impl Billable<'_> {
    fn purpose(&self) -> &'static str {
        match self {
            Billable::Call { .. } => "call",
            Billable::Message { .. } => "message",
        }
    }
}

/// What a call or send would cost, priced from one rate card version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Estimate {
    pub rate_card_id: String,
    pub rate_card_version: i64,
    /// The rate card line used: `call:IN`, `call:*`, `message:template`, …
    pub item: String,
    /// The unit rate (per pulse for calls, per message for sends).
    pub unit: Rate,
    /// Units estimated: pulses for `call_estimate_minutes`, or 1 message.
    pub units: i64,
    /// Meta's cost for those units.
    pub meta_cost: Micros,
    /// What the wallet would pay; the amount a preflight holds.
    pub amount: Micros,
    pub currency: Currency,
}

fn price(card: &RateCard, billable: &Billable<'_>) -> Result<Estimate> {
    let ((item, unit), units) = match billable {
        Billable::Call { callee } => (
            card.call_rate(callee),
            card.call_estimate_minutes
                .checked_mul(rates::PULSES_PER_MINUTE)
                .ok_or_else(|| Error::validation("call_estimate_minutes", "out of range"))?,
        ),
        Billable::Message { kind } => (card.message_rate(*kind), 1),
    };
    Ok(Estimate {
        rate_card_id: card.id.clone(),
        rate_card_version: card.version,
        item,
        unit,
        units,
        meta_cost: unit.meta.checked_mul(units)?,
        amount: unit.billable.checked_mul(units)?,
        currency: card.currency.clone(),
    })
}

/// What this call or send would cost the workspace now (its current rate card). Reserves
/// nothing; the rate card is created from the defaults if the workspace has none.
pub async fn estimate(db: &Db, workspace_id: &str, billable: &Billable<'_>, now: i64) -> Result<Estimate> {
    let card = rates::current(db, workspace_id, now).await?;
    price(&card, billable)
}

/// Money reserved for one call or send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Hold {
    pub id: String,
    pub workspace_id: String,
    pub amount: Micros,
    pub expires_at: i64,
    pub estimate: Estimate,
}

/// What [`preflight`] decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Preflight {
    /// Nothing to pay: a sandbox number (the simulator costs nothing) or a zero rate.
    Free,
    /// The estimate is reserved on the wallet until settled, released or expired.
    Held(Hold),
}

impl Preflight {
    pub fn hold(&self) -> Option<&Hold> {
        match self {
            Preflight::Free => None,
            Preflight::Held(hold) => Some(hold),
        }
    }
}

/// The billing gate of every paid action (business-initiated calls, sends), run before anything
/// reaches WhatsApp: subscription active, then the estimate, then a hold for it — atomically.
///
/// Refuses with `subscription_expired` or `insufficient_balance` (HTTP 402, with `details`).
/// Sandbox numbers are free and skip the gate entirely.
pub async fn preflight(
    db: &Db,
    number: &WhatsAppNumber,
    billable: &Billable<'_>,
    now: i64,
    policy: &Policy,
) -> Result<Preflight> {
    if number.is_sandbox {
        return Ok(Preflight::Free);
    }
    let workspace_id = number.workspace_id.as_str();
    let mut tx = db.pool().begin().await?;
    // FIRST statement: the wallet lock (a write), before any read. See `wallet::lock`.
    let has_wallet = wallet::lock(&mut tx, workspace_id, now).await?;
    subscription::ensure_allows_paid_actions(&mut tx, workspace_id, now).await?;
    let card = rates::current_in(&mut tx, workspace_id, now).await?;
    let estimate = price(&card, billable)?;
    if estimate.amount.get() == 0 {
        tx.commit().await?;
        return Ok(Preflight::Free);
    }
    let current = wallet::read(&mut tx, workspace_id).await?;
    let available = if has_wallet { current.available() } else { Micros::ZERO };
    if available < estimate.amount {
        tracing::debug!(
            workspace_id,
            required = estimate.amount.get(),
            available = available.get(),
            "preflight refused: insufficient balance"
        );
        return Err(wallet::insufficient_balance(estimate.amount, available, &current.currency));
    }
    let hold = Hold {
        id: new_id(),
        workspace_id: workspace_id.to_owned(),
        amount: estimate.amount,
        expires_at: now.saturating_add(policy.hold_ttl_ms),
        estimate,
    };
    let callee = match billable {
        Billable::Call { callee } => Some(callee.e164()),
        Billable::Message { .. } => None,
    };
    sqlx::query(
        "INSERT INTO holds (id, workspace_id, purpose, amount_micros, state, rate_card_id, item, meta_micros, \
           billable_micros, callee, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&hold.id)
    .bind(workspace_id)
    .bind(billable.purpose())
    .bind(hold.amount.get())
    .bind(&hold.estimate.rate_card_id)
    .bind(&hold.estimate.item)
    .bind(hold.estimate.unit.meta.get())
    .bind(hold.estimate.unit.billable.get())
    .bind(callee)
    .bind(now)
    .bind(hold.expires_at)
    .execute(&mut *tx)
    .await?;
    let cause = Cause { hold_id: Some(hold.id.clone()), ..Cause::default() };
    let posting = Posting {
        kind: EntryKind::Hold,
        from: Account::Available,
        to: Account::Held,
        amount: hold.amount,
        dedupe_key: Some(format!("hold:{}:hold", hold.id)),
        cause: &cause,
    };
    wallet::post(&mut tx, workspace_id, &posting, now).await?;
    tx.commit().await?;
    Ok(Preflight::Held(hold))
}

type HoldRow = (String, String, i64, String, i64, i64, Option<String>);

/// An existing hold, read under the wallet lock.
struct StoredHold {
    id: String,
    purpose: String,
    amount: Micros,
    state: String,
    meta_per_unit: Micros,
    billable_per_unit: Micros,
    call_id: Option<String>,
}

const HOLD_COLUMNS: &str = "id, purpose, amount_micros, state, meta_micros, billable_micros, call_id";

fn stored((id, purpose, amount, state, meta, billable, call_id): HoldRow) -> StoredHold {
    StoredHold {
        id,
        purpose,
        amount: Micros(amount),
        state,
        meta_per_unit: Micros(meta),
        billable_per_unit: Micros(billable),
        call_id,
    }
}

/// Releases the whole of an active hold (`state` becomes `released` or `expired`). The caller
/// holds the wallet lock.
async fn release_in(
    conn: &mut AnyConnection,
    workspace_id: &str,
    hold: &StoredHold,
    state: &str,
    now: i64,
) -> Result<()> {
    if hold.state != "active" {
        return Ok(());
    }
    let cause = Cause { hold_id: Some(hold.id.clone()), call_id: hold.call_id.clone(), ..Cause::default() };
    let posting = Posting {
        kind: EntryKind::Release,
        from: Account::Held,
        to: Account::Available,
        amount: hold.amount,
        dedupe_key: Some(format!("hold:{}:release", hold.id)),
        cause: &cause,
    };
    wallet::post(conn, workspace_id, &posting, now).await?;
    sqlx::query("UPDATE holds SET state = $1, closed_at = $2 WHERE id = $3 AND state = 'active'")
        .bind(state)
        .bind(now)
        .bind(&hold.id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn load_hold(conn: &mut AnyConnection, workspace_id: &str, hold_id: &str) -> Result<StoredHold> {
    let row: Option<HoldRow> =
        sqlx::query_as(&format!("SELECT {HOLD_COLUMNS} FROM holds WHERE workspace_id = $1 AND id = $2"))
            .bind(workspace_id)
            .bind(hold_id)
            .fetch_optional(&mut *conn)
            .await?;
    row.map(stored).ok_or(Error::NotFound { what: "hold" })
}

/// Gives back a whole hold: the paid action never reached WhatsApp (connect or send failed).
/// Releasing twice, or a hold already settled, changes nothing.
pub async fn release(db: &Db, preflight: &Preflight, now: i64) -> Result<()> {
    let Some(hold) = preflight.hold() else { return Ok(()) };
    let mut tx = db.pool().begin().await?;
    wallet::lock(&mut tx, &hold.workspace_id, now).await?;
    let stored = load_hold(&mut tx, &hold.workspace_id, &hold.id).await?;
    release_in(&mut tx, &hold.workspace_id, &stored, "released", now).await?;
    tx.commit().await?;
    Ok(())
}

/// Charges a send's hold once WhatsApp accepted the message (its price is the hold), linking
/// the charge to `message_id`. Charging twice changes nothing.
pub async fn charge_message(db: &Db, preflight: &Preflight, message_id: &str, now: i64) -> Result<()> {
    let Some(hold) = preflight.hold() else { return Ok(()) };
    let workspace_id = hold.workspace_id.as_str();
    let mut tx = db.pool().begin().await?;
    wallet::lock(&mut tx, workspace_id, now).await?;
    let stored = load_hold(&mut tx, workspace_id, &hold.id).await?;
    if stored.purpose != "message" {
        return Err(Error::validation("hold", "not a message hold"));
    }
    if stored.state != "active" {
        tx.commit().await?;
        return Ok(());
    }
    let cause = Cause {
        hold_id: Some(stored.id.clone()),
        message_id: Some(message_id.to_owned()),
        ..Cause::default()
    };
    let posting = Posting {
        kind: EntryKind::MessageCharge,
        from: Account::Held,
        to: Account::Revenue,
        amount: stored.amount,
        dedupe_key: Some(format!("hold:{}:charge", stored.id)),
        cause: &cause,
    };
    wallet::post(&mut tx, workspace_id, &posting, now).await?;
    sqlx::query("UPDATE holds SET state = 'settled', message_id = $1, closed_at = $2 WHERE id = $3")
        .bind(message_id)
        .bind(now)
        .bind(&stored.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// A paid send from start to end: [`preflight`] for a message of `kind`, then `send` (which
/// talks to WhatsApp and returns the message id), then the charge; if `send` fails, the hold
/// is released and its error returned. The one way sends should pay.
pub async fn pay_for_send<F, Fut>(
    db: &Db,
    number: &WhatsAppNumber,
    kind: MessageKind,
    now: i64,
    policy: &Policy,
    send: F,
) -> Result<String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<String>>,
{
    let paid = preflight(db, number, &Billable::Message { kind }, now, policy).await?;
    match send().await {
        Ok(message_id) => {
            charge_message(db, &paid, &message_id, now).await?;
            Ok(message_id)
        }
        Err(err) => {
            if let Err(release_err) = release(db, &paid, now).await {
                tracing::error!(error = %release_err, "could not release the hold of a failed send");
            }
            Err(err)
        }
    }
}

/// Links a call's hold to the call WhatsApp accepted. If the call already ended (its
/// terminate webhook can beat `connect`'s response), it is settled now.
pub async fn attach_call(db: &Db, preflight: &Preflight, call_id: &str, now: i64) -> Result<()> {
    let Some(hold) = preflight.hold() else { return Ok(()) };
    let workspace_id = hold.workspace_id.as_str();
    let mut tx = db.pool().begin().await?;
    // Lock order: the call row (what ingest holds while it settles), then the wallet.
    sqlx::query("UPDATE calls SET updated_at = updated_at WHERE workspace_id = $1 AND id = $2")
        .bind(workspace_id)
        .bind(call_id)
        .execute(&mut *tx)
        .await?;
    wallet::lock(&mut tx, workspace_id, now).await?;
    sqlx::query("UPDATE holds SET call_id = $1 WHERE workspace_id = $2 AND id = $3 AND call_id IS NULL")
        .bind(call_id)
        .bind(workspace_id)
        .bind(&hold.id)
        .execute(&mut *tx)
        .await?;
    let state = replay_call(&mut *tx, call_id).await?;
    on_call_fact(&mut tx, workspace_id, call_id, Some(&state), now).await?;
    tx.commit().await?;
    Ok(())
}

/// How a call ended, for billing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallOutcome {
    pub answered: bool,
    /// Meta's billed duration; `None` when Meta gave none.
    pub duration_seconds: Option<i64>,
}

impl CallOutcome {
    /// The seconds billed: only answered calls cost anything.
    pub fn billed_seconds(&self) -> i64 {
        if self.answered { self.duration_seconds.unwrap_or(0).max(0) } else { 0 }
    }

    /// The outcome once the call can be settled: it ended, and if it was answered Meta's
    /// terminate (with the duration) has arrived. `None` while either is missing.
    pub fn of(state: &CallState) -> Option<CallOutcome> {
        if !state.phase().is_terminal() {
            return None;
        }
        let answered = state.was_answered();
        if answered && state.termination().is_none() {
            return None; // wait for Meta's duration; expire_holds covers a lost terminate
        }
        Some(CallOutcome { answered, duration_seconds: state.duration_seconds() })
    }
}

/// A call's settlement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Settlement {
    pub call_id: String,
    pub hold_id: String,
    pub duration_seconds: i64,
    pub pulses: i64,
    pub meta_cost: Micros,
    /// What the call cost at the hold's rate.
    pub billable: Micros,
    /// What the wallet paid: `billable`, unless the call outran both hold and balance.
    pub charged: Micros,
    /// `billable - charged` (the balance never goes below zero).
    pub uncollected: Micros,
    pub released: Micros,
    pub settled_at: i64,
}

/// Settles a finished call in its own transaction. See [`settle_call_in`].
pub async fn settle_call(
    db: &Db,
    workspace_id: &str,
    call_id: &str,
    outcome: CallOutcome,
    now: i64,
) -> Result<Option<Settlement>> {
    let mut tx = db.pool().begin().await?;
    // Lock order: call row, then wallet (as ingest does).
    sqlx::query("UPDATE calls SET updated_at = updated_at WHERE workspace_id = $1 AND id = $2")
        .bind(workspace_id)
        .bind(call_id)
        .execute(&mut *tx)
        .await?;
    let settlement = settle_call_in(&mut tx, workspace_id, call_id, outcome, now).await?;
    tx.commit().await?;
    Ok(settlement)
}

/// Settles a finished call inside the caller's transaction: `ceil(duration / 6)` pulses at the
/// rate copied into its hold are charged from the hold (any excess from the available balance,
/// never below zero), the rest is released, and the cost is stored on the call.
///
/// Idempotent: a call is settled once (the first outcome wins); later calls return that
/// settlement. Returns `None` when the call has no hold (free: user-initiated, sandbox).
pub async fn settle_call_in(
    conn: &mut AnyConnection,
    workspace_id: &str,
    call_id: &str,
    outcome: CallOutcome,
    now: i64,
) -> Result<Option<Settlement>> {
    wallet::lock(conn, workspace_id, now).await?;
    if let Some(existing) = settlement_in(conn, workspace_id, call_id).await? {
        return Ok(Some(existing));
    }
    let row: Option<HoldRow> =
        sqlx::query_as(&format!("SELECT {HOLD_COLUMNS} FROM holds WHERE workspace_id = $1 AND call_id = $2"))
            .bind(workspace_id)
            .bind(call_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(hold) = row.map(stored) else { return Ok(None) };

    let duration_seconds = outcome.billed_seconds();
    let pulses = rates::pulses(duration_seconds);
    let meta_cost = hold.meta_per_unit.checked_mul(pulses)?;
    let billable = hold.billable_per_unit.checked_mul(pulses)?;
    let active = hold.state == "active";
    // An expired or released hold's money is back in the wallet: a late settlement charges
    // the available balance instead.
    let from_hold = if active { billable.min(hold.amount) } else { Micros::ZERO };
    let excess = billable.checked_sub(from_hold)?;
    let available = wallet::read(conn, workspace_id).await?.available();
    let from_available = excess.min(available.max(Micros::ZERO));
    let uncollected = excess.checked_sub(from_available)?;
    let released = if active { hold.amount.checked_sub(from_hold)? } else { Micros::ZERO };

    let cause =
        Cause { hold_id: Some(hold.id.clone()), call_id: Some(call_id.to_owned()), ..Cause::default() };
    let postings = [
        (EntryKind::CallCharge, Account::Held, Account::Revenue, from_hold, "charge"),
        (EntryKind::CallCharge, Account::Available, Account::Revenue, from_available, "charge_excess"),
        (EntryKind::Release, Account::Held, Account::Available, released, "release"),
    ];
    for (kind, from, to, amount, key) in postings {
        let posting = Posting {
            kind,
            from,
            to,
            amount,
            dedupe_key: Some(format!("hold:{}:{key}", hold.id)),
            cause: &cause,
        };
        wallet::post(conn, workspace_id, &posting, now).await?;
    }
    if active {
        sqlx::query("UPDATE holds SET state = 'settled', closed_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&hold.id)
            .execute(&mut *conn)
            .await?;
    }
    let charged = from_hold.checked_add(from_available)?;
    sqlx::query(
        "INSERT INTO call_settlements (call_id, workspace_id, hold_id, duration_seconds, pulses, meta_cost_micros, \
           billable_micros, charged_micros, uncollected_micros, released_micros, settled_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(call_id)
    .bind(workspace_id)
    .bind(&hold.id)
    .bind(duration_seconds)
    .bind(pulses)
    .bind(meta_cost.get())
    .bind(billable.get())
    .bind(charged.get())
    .bind(uncollected.get())
    .bind(released.get())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE calls SET cost_micros = $1 WHERE workspace_id = $2 AND id = $3")
        .bind(charged.get())
        .bind(workspace_id)
        .bind(call_id)
        .execute(&mut *conn)
        .await?;
    if uncollected.get() > 0 {
        tracing::warn!(
            workspace_id,
            call_id,
            uncollected = uncollected.get(),
            "call outran its hold and the balance"
        );
    }
    tracing::info!(
        workspace_id,
        call_id,
        pulses,
        charged = charged.get(),
        released = released.get(),
        "call settled"
    );
    settlement_in(conn, workspace_id, call_id).await
}

/// The hook the webhook processor calls (inside its transaction, after recording a fact): once
/// a call with a hold has ended, settle it. Cheap for every other call (one indexed lookup on a
/// terminal state, nothing otherwise).
pub async fn on_call_fact(
    conn: &mut AnyConnection,
    workspace_id: &str,
    call_id: &str,
    state: Option<&CallState>,
    now: i64,
) -> Result<()> {
    let Some(outcome) = state.and_then(CallOutcome::of) else { return Ok(()) };
    let has_hold: Option<(String,)> =
        sqlx::query_as("SELECT id FROM holds WHERE workspace_id = $1 AND call_id = $2")
            .bind(workspace_id)
            .bind(call_id)
            .fetch_optional(&mut *conn)
            .await?;
    if has_hold.is_some() {
        settle_call_in(conn, workspace_id, call_id, outcome, now).await?;
    }
    Ok(())
}

type SettlementRow = (String, String, i64, i64, i64, i64, i64, i64, i64, i64);

async fn settlement_in(
    conn: &mut AnyConnection,
    workspace_id: &str,
    call_id: &str,
) -> Result<Option<Settlement>> {
    let row: Option<SettlementRow> = sqlx::query_as(
        "SELECT call_id, hold_id, duration_seconds, pulses, meta_cost_micros, billable_micros, charged_micros, \
           uncollected_micros, released_micros, settled_at FROM call_settlements WHERE workspace_id = $1 AND call_id = $2",
    )
    .bind(workspace_id)
    .bind(call_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(
        |(
            call_id,
            hold_id,
            duration_seconds,
            pulses,
            meta,
            billable,
            charged,
            uncollected,
            released,
            settled_at,
        )| {
            Settlement {
                call_id,
                hold_id,
                duration_seconds,
                pulses,
                meta_cost: Micros(meta),
                billable: Micros(billable),
                charged: Micros(charged),
                uncollected: Micros(uncollected),
                released: Micros(released),
                settled_at,
            }
        },
    ))
}

/// A call's settlement, if it was settled.
pub async fn settlement(db: &Db, workspace_id: &str, call_id: &str) -> Result<Option<Settlement>> {
    let mut conn = db.pool().acquire().await?;
    settlement_in(&mut conn, workspace_id, call_id).await
}

/// Releases every hold still active at its `expires_at` (its call's terminate never came, or
/// the process died between preflight and send). Returns how many were released. Safe to run
/// from several replicas at once: each hold is re-read under its wallet's lock.
pub async fn expire_holds(db: &Db, now: i64) -> Result<u64> {
    let due: Vec<(String, String)> = sqlx::query_as(
        "SELECT workspace_id, id FROM holds WHERE state = 'active' AND expires_at <= $1 ORDER BY expires_at LIMIT 1000",
    )
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    let mut released = 0;
    for (workspace_id, hold_id) in due {
        let mut tx = db.pool().begin().await?;
        wallet::lock(&mut tx, &workspace_id, now).await?;
        let hold = load_hold(&mut tx, &workspace_id, &hold_id).await?;
        if hold.state == "active" {
            release_in(&mut tx, &workspace_id, &hold, "expired", now).await?;
            released += 1;
            tracing::warn!(workspace_id, hold_id, call_id = ?hold.call_id, "hold expired unsettled; released");
        }
        tx.commit().await?;
    }
    Ok(released)
}
