//! The wallet and its ledger: an append-only, double-entry record of every movement of a
//! workspace's money, and the balance derived from it.
//!
//! Each `ledger_entries` row moves a positive amount from one account to another, so every
//! row balances by construction. The wallet's own accounts are [`Account::Available`] and
//! [`Account::Held`] (reserved by preflight holds); the counter-accounts are
//! [`Account::Funding`] (top-ups), [`Account::Revenue`] (charges, refunds) and
//! [`Account::Adjustments`]. The balance is `available + held`; what a preflight may spend is
//! `available`.
//!
//! The `wallets` row caches both sums and is updated in the same transaction as every entry
//! (its CHECK constraint refuses a negative balance or more held than owned); [`verify`]
//! recomputes them from the ledger and the active holds. Every money-moving transaction starts
//! by writing the wallet row (`lock`), which serialises them per workspace on both dialects.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::AnyConnection;

use super::money::{Currency, Micros, Money};
use crate::ids::new_id;
use crate::storage::Db;
use crate::{Error, Result};

/// A ledger account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Account {
    /// The wallet's spendable money.
    Available,
    /// The wallet's money reserved by active holds.
    Held,
    /// Where top-ups come from (the payment provider, an admin's bank transfer).
    Funding,
    /// Where charges go, and refunds come from.
    Revenue,
    /// Manual corrections by an admin.
    Adjustments,
}

impl Account {
    pub fn as_str(self) -> &'static str {
        match self {
            Account::Available => "available",
            Account::Held => "held",
            Account::Funding => "funding",
            Account::Revenue => "revenue",
            Account::Adjustments => "adjustments",
        }
    }
}

/// Why money moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    TopUp,
    Hold,
    Release,
    CallCharge,
    MessageCharge,
    Refund,
    Adjustment,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::TopUp => "top_up",
            EntryKind::Hold => "hold",
            EntryKind::Release => "release",
            EntryKind::CallCharge => "call_charge",
            EntryKind::MessageCharge => "message_charge",
            EntryKind::Refund => "refund",
            EntryKind::Adjustment => "adjustment",
        }
    }
}

/// What caused an entry: every entry names at least one of these.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Cause {
    pub hold_id: Option<String>,
    pub call_id: Option<String>,
    pub message_id: Option<String>,
    pub top_up_id: Option<String>,
    pub actor_user_id: Option<String>,
    pub reason: Option<String>,
}

/// One movement, as [`post`] writes it.
pub(crate) struct Posting<'a> {
    pub kind: EntryKind,
    pub from: Account,
    pub to: Account,
    pub amount: Micros,
    /// Unique across the ledger: a replayed request posts nothing.
    pub dedupe_key: Option<String>,
    pub cause: &'a Cause,
}

/// A stored ledger entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Entry {
    pub id: String,
    pub kind: String,
    pub from_account: String,
    pub to_account: String,
    pub amount: Micros,
    pub cause: Cause,
    pub created_at: i64,
}

/// A workspace's wallet as cached on its row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Wallet {
    pub workspace_id: String,
    pub currency: Currency,
    /// Available + held.
    pub balance: Micros,
    /// Reserved by active holds.
    pub held: Micros,
}

impl Wallet {
    /// What a preflight may still reserve.
    pub fn available(&self) -> Micros {
        Micros(self.balance.get() - self.held.get())
    }
}

/// Takes the workspace's wallet lock for the rest of the transaction: the FIRST statement of
/// every money-moving transaction. On SQLite a write takes the database's write lock before any
/// read (no lock-upgrade deadlock; waiting is covered by `busy_timeout`); on PostgreSQL it
/// row-locks the wallet, and later statements (READ COMMITTED) see what the previous holder
/// committed. Returns whether the wallet exists.
pub(crate) async fn lock(conn: &mut AnyConnection, workspace_id: &str, now: i64) -> Result<bool> {
    let updated = sqlx::query("UPDATE wallets SET updated_at = $1 WHERE workspace_id = $2")
        .bind(now)
        .bind(workspace_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(updated == 1)
}

/// Creates the wallet if missing, then locks it.
async fn open_and_lock(conn: &mut AnyConnection, workspace_id: &str, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO wallets (workspace_id, currency, balance_micros, held_micros, created_at, updated_at) \
         VALUES ($1, 'USD', 0, 0, $2, $2) ON CONFLICT (workspace_id) DO NOTHING",
    )
    .bind(workspace_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    lock(conn, workspace_id, now).await?;
    Ok(())
}

/// Reads the (locked) wallet inside a transaction.
pub(crate) async fn read(conn: &mut AnyConnection, workspace_id: &str) -> Result<Wallet> {
    let row: Option<(String, i64, i64)> =
        sqlx::query_as("SELECT currency, balance_micros, held_micros FROM wallets WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_optional(&mut *conn)
            .await?;
    let (currency, balance, held) = row.unwrap_or_else(|| ("USD".to_owned(), 0, 0));
    Ok(Wallet {
        workspace_id: workspace_id.to_owned(),
        currency: Currency::parse(&currency).map_err(Error::internal)?,
        balance: Micros(balance),
        held: Micros(held),
    })
}

/// Appends one entry and moves the wallet cache with it. Returns `false` (and changes nothing)
/// when an entry with the same dedupe key exists. The caller holds the wallet lock.
pub(crate) async fn post(
    conn: &mut AnyConnection,
    workspace_id: &str,
    posting: &Posting<'_>,
    now: i64,
) -> Result<bool> {
    if posting.amount.get() <= 0 {
        return Ok(true); // nothing moves; the ledger only holds positive amounts
    }
    let conflict = if posting.dedupe_key.is_some() { " ON CONFLICT (dedupe_key) DO NOTHING" } else { "" };
    let cause = posting.cause;
    let inserted = sqlx::query(&format!(
        "INSERT INTO ledger_entries (id, workspace_id, kind, from_account, to_account, amount_micros, dedupe_key, \
           hold_id, call_id, message_id, top_up_id, actor_user_id, reason, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14){conflict}"
    ))
    .bind(new_id())
    .bind(workspace_id)
    .bind(posting.kind.as_str())
    .bind(posting.from.as_str())
    .bind(posting.to.as_str())
    .bind(posting.amount.get())
    .bind(&posting.dedupe_key)
    .bind(&cause.hold_id)
    .bind(&cause.call_id)
    .bind(&cause.message_id)
    .bind(&cause.top_up_id)
    .bind(&cause.actor_user_id)
    .bind(&cause.reason)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    let delta = |account: Account| -> i64 {
        let mut delta = 0;
        if posting.to == account {
            delta += posting.amount.get();
        }
        if posting.from == account {
            delta -= posting.amount.get();
        }
        delta
    };
    let balance_delta = delta(Account::Available) + delta(Account::Held);
    let held_delta = delta(Account::Held);
    if balance_delta != 0 || held_delta != 0 {
        // The CHECK constraint on wallets refuses a negative balance or held > balance; callers
        // check first, so hitting it is a bug and surfaces as an internal error.
        let updated = sqlx::query(
            "UPDATE wallets SET balance_micros = balance_micros + $1, held_micros = held_micros + $2, \
               updated_at = $3 WHERE workspace_id = $4",
        )
        .bind(balance_delta)
        .bind(held_delta)
        .bind(now)
        .bind(workspace_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if updated != 1 {
            return Err(Error::internal(format!("no wallet for workspace {workspace_id}")));
        }
    }
    Ok(true)
}

/// The workspace's wallet (zero in USD if it was never opened).
pub async fn get(db: &Db, workspace_id: &str) -> Result<Wallet> {
    let mut conn = db.pool().acquire().await?;
    read(&mut conn, workspace_id).await
}

/// Opens the workspace's wallet in `currency`, or changes the currency of a wallet whose
/// ledger is still empty (amounts are never converted).
pub async fn open(db: &Db, workspace_id: &str, currency: &Currency, now: i64) -> Result<Wallet> {
    let mut tx = db.pool().begin().await?;
    open_and_lock(&mut tx, workspace_id, now).await?;
    let (entries,): (i64,) =
        sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_one(&mut *tx)
            .await?;
    let wallet = read(&mut tx, workspace_id).await?;
    if wallet.currency != *currency {
        if entries > 0 {
            return Err(Error::Conflict {
                code: "currency_locked",
                message: format!("the wallet already holds {} entries in {}", entries, wallet.currency),
            });
        }
        sqlx::query("UPDATE wallets SET currency = $1 WHERE workspace_id = $2")
            .bind(currency.as_str())
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?;
        // Rate cards are priced in the wallet's currency. With an empty ledger nothing was ever
        // charged at them, so relabelling them rewrites no history.
        sqlx::query("UPDATE rate_cards SET currency = $1 WHERE workspace_id = $2")
            .bind(currency.as_str())
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?;
    }
    let wallet = read(&mut tx, workspace_id).await?;
    tx.commit().await?;
    Ok(wallet)
}

/// Adds money to the wallet. `top_up_id` is the payment's id (the provider's, or an admin's
/// reference): the same top-up recorded twice counts once.
pub async fn top_up(
    db: &Db,
    workspace_id: &str,
    top_up_id: &str,
    amount: Micros,
    actor_user_id: Option<&str>,
    now: i64,
) -> Result<Wallet> {
    let cause = Cause { actor_user_id: actor_user_id.map(str::to_owned), ..Cause::default() };
    Ok(credit(db, workspace_id, top_up_id, amount, cause, now).await?.0)
}

/// [`top_up`] with the rest of its cause (who recorded it, their note in `reason`); also says
/// whether this call credited the wallet (`false`: that top-up id was booked before).
pub(crate) async fn credit(
    db: &Db,
    workspace_id: &str,
    top_up_id: &str,
    amount: Micros,
    cause: Cause,
    now: i64,
) -> Result<(Wallet, bool)> {
    if amount.get() <= 0 {
        return Err(Error::validation("amount", "a top-up must be positive"));
    }
    if top_up_id.trim().is_empty() {
        return Err(Error::validation("top_up_id", "required"));
    }
    let mut tx = db.pool().begin().await?;
    open_and_lock(&mut tx, workspace_id, now).await?;
    let cause = Cause { top_up_id: Some(top_up_id.to_owned()), ..cause };
    let posting = Posting {
        kind: EntryKind::TopUp,
        from: Account::Funding,
        to: Account::Available,
        amount,
        // Per workspace: references typed by people (a bank transfer's) may repeat across
        // workspaces, and one workspace's top-up must never swallow another's.
        dedupe_key: Some(format!("top_up:{workspace_id}:{top_up_id}")),
        cause: &cause,
    };
    let credited = post(&mut tx, workspace_id, &posting, now).await?;
    if credited {
        tracing::info!(workspace_id, top_up_id, amount = amount.get(), "wallet topped up");
    }
    let wallet = read(&mut tx, workspace_id).await?;
    tx.commit().await?;
    Ok((wallet, credited))
}

/// A manual correction by an admin: positive adds to the wallet, negative takes from its
/// available money (never below zero). The reason is required and kept in the ledger.
pub async fn adjust(
    db: &Db,
    workspace_id: &str,
    amount: Micros,
    reason: &str,
    actor_user_id: &str,
    now: i64,
) -> Result<Wallet> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::validation("reason", "say why the balance is adjusted"));
    }
    if reason.chars().count() > 200 {
        return Err(Error::validation("reason", "at most 200 characters"));
    }
    if amount.get() == 0 || amount.get() == i64::MIN {
        return Err(Error::validation("amount", "must be a non-zero amount"));
    }
    let mut tx = db.pool().begin().await?;
    open_and_lock(&mut tx, workspace_id, now).await?;
    let wallet = read(&mut tx, workspace_id).await?;
    let magnitude = Micros(amount.get().abs());
    if amount.is_negative() && wallet.available() < magnitude {
        return Err(insufficient_balance(magnitude, wallet.available(), &wallet.currency));
    }
    let (from, to) = if amount.is_negative() {
        (Account::Available, Account::Adjustments)
    } else {
        (Account::Adjustments, Account::Available)
    };
    let cause = Cause {
        actor_user_id: Some(actor_user_id.to_owned()),
        reason: Some(reason.to_owned()),
        ..Cause::default()
    };
    let posting =
        Posting { kind: EntryKind::Adjustment, from, to, amount: magnitude, dedupe_key: None, cause: &cause };
    post(&mut tx, workspace_id, &posting, now).await?;
    let wallet = read(&mut tx, workspace_id).await?;
    tx.commit().await?;
    tracing::info!(workspace_id, amount = amount.get(), actor_user_id, reason, "wallet adjusted");
    Ok(wallet)
}

/// What a refund gives back.
#[derive(Clone, Copy, Debug)]
pub enum RefundOf<'a> {
    Call(&'a str),
    Message(&'a str),
}

/// Returns (part of) what a call or a send was charged to the wallet. Never more than was
/// charged for it minus what was already refunded.
pub async fn refund(
    db: &Db,
    workspace_id: &str,
    of: RefundOf<'_>,
    amount: Micros,
    reason: &str,
    actor_user_id: &str,
    now: i64,
) -> Result<Wallet> {
    if amount.get() <= 0 {
        return Err(Error::validation("amount", "a refund must be positive"));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::validation("reason", "say why the charge is refunded"));
    }
    let (column, id) = match of {
        RefundOf::Call(id) => ("call_id", id),
        RefundOf::Message(id) => ("message_id", id),
    };
    let mut tx = db.pool().begin().await?;
    if !lock(&mut tx, workspace_id, now).await? {
        return Err(Error::NotFound { what: "charge" });
    }
    let (charged, refunded): (i64, i64) = sqlx::query_as(&format!(
        "SELECT CAST(COALESCE(SUM(CASE WHEN kind IN ('call_charge', 'message_charge') THEN amount_micros ELSE 0 END), 0) AS BIGINT), \
                CAST(COALESCE(SUM(CASE WHEN kind = 'refund' THEN amount_micros ELSE 0 END), 0) AS BIGINT) \
         FROM ledger_entries WHERE workspace_id = $1 AND {column} = $2"
    ))
    .bind(workspace_id)
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if charged == 0 {
        return Err(Error::NotFound { what: "charge" });
    }
    let refundable = Micros(charged - refunded);
    if amount > refundable {
        return Err(Error::validation("amount", format!("at most {refundable} can still be refunded")));
    }
    let mut cause = Cause {
        actor_user_id: Some(actor_user_id.to_owned()),
        reason: Some(reason.to_owned()),
        ..Cause::default()
    };
    match of {
        RefundOf::Call(id) => cause.call_id = Some(id.to_owned()),
        RefundOf::Message(id) => cause.message_id = Some(id.to_owned()),
    }
    let posting = Posting {
        kind: EntryKind::Refund,
        from: Account::Revenue,
        to: Account::Available,
        amount,
        dedupe_key: None,
        cause: &cause,
    };
    post(&mut tx, workspace_id, &posting, now).await?;
    let wallet = read(&mut tx, workspace_id).await?;
    tx.commit().await?;
    tracing::info!(workspace_id, column, id, amount = amount.get(), actor_user_id, "charge refunded");
    Ok(wallet)
}

type EntryRow = (
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

const ENTRY_COLUMNS: &str = "id, kind, from_account, to_account, amount_micros, hold_id, call_id, message_id, \
    top_up_id, actor_user_id, reason, created_at";

fn entry(
    (
        id,
        kind,
        from_account,
        to_account,
        amount,
        hold_id,
        call_id,
        message_id,
        top_up_id,
        actor_user_id,
        reason,
        created_at,
    ): EntryRow,
) -> Entry {
    Entry {
        id,
        kind,
        from_account,
        to_account,
        amount: Micros(amount),
        cause: Cause { hold_id, call_id, message_id, top_up_id, actor_user_id, reason },
        created_at,
    }
}

/// The newest `limit` ledger entries of the workspace, newest first.
pub async fn entries(db: &Db, workspace_id: &str, limit: i64) -> Result<Vec<Entry>> {
    let rows: Vec<EntryRow> = sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
    ))
    .bind(workspace_id)
    .bind(limit.clamp(1, 1000))
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(entry).collect())
}

/// The result of [`verify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Verification {
    pub cached_balance: Micros,
    pub cached_held: Micros,
    /// `available + held` summed over the ledger.
    pub ledger_balance: Micros,
    /// `held` summed over the ledger.
    pub ledger_held: Micros,
    /// The amounts of the holds still active.
    pub active_holds: Micros,
}

impl Verification {
    /// The cache equals the ledger, the ledger's held money equals the active holds, and
    /// nothing is negative.
    pub fn is_consistent(&self) -> bool {
        self.cached_balance == self.ledger_balance
            && self.cached_held == self.ledger_held
            && self.ledger_held == self.active_holds
            && !self.ledger_held.is_negative()
            && self.ledger_balance >= self.ledger_held
    }
}

/// Recomputes the wallet from the ledger and the holds, in one snapshot (under the wallet lock),
/// and compares it with the cached row. Logs an error when they disagree.
pub async fn verify(db: &Db, workspace_id: &str, now: i64) -> Result<Verification> {
    let mut tx = db.pool().begin().await?;
    lock(&mut tx, workspace_id, now).await?;
    let sum = |account: Account| {
        format!(
            "CAST(COALESCE(SUM(CASE WHEN to_account = '{a}' THEN amount_micros ELSE 0 END), 0) \
                - COALESCE(SUM(CASE WHEN from_account = '{a}' THEN amount_micros ELSE 0 END), 0) AS BIGINT)",
            a = account.as_str()
        )
    };
    let (available, held): (i64, i64) = sqlx::query_as(&format!(
        "SELECT {}, {} FROM ledger_entries WHERE workspace_id = $1",
        sum(Account::Available),
        sum(Account::Held)
    ))
    .bind(workspace_id)
    .fetch_one(&mut *tx)
    .await?;
    let (active_holds,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(amount_micros), 0) AS BIGINT) FROM holds WHERE workspace_id = $1 AND state = 'active'",
    )
    .bind(workspace_id)
    .fetch_one(&mut *tx)
    .await?;
    let wallet = read(&mut tx, workspace_id).await?;
    tx.commit().await?;
    let verification = Verification {
        cached_balance: wallet.balance,
        cached_held: wallet.held,
        ledger_balance: Micros(available + held),
        ledger_held: Micros(held),
        active_holds: Micros(active_holds),
    };
    if !verification.is_consistent() {
        tracing::error!(workspace_id, ?verification, "wallet does not match its ledger");
    }
    Ok(verification)
}

/// `insufficient_balance` with the details clients show: required, available, shortfall and
/// where to top up.
pub(crate) fn insufficient_balance(required: Micros, available: Micros, currency: &Currency) -> Error {
    let shortfall = Micros(required.get().saturating_sub(available.get().max(0)));
    Error::PaymentRequired {
        code: "insufficient_balance",
        message: format!(
            "the wallet has {} available but {} is required",
            Money::new(available, currency.clone()),
            Money::new(required, currency.clone())
        ),
        details: json!({
            "currency": currency.as_str(),
            "required_micros": required.get(),
            "available_micros": available.get(),
            "shortfall_micros": shortfall.get(),
            "required": Money::new(required, currency.clone()).to_string(),
            "available": Money::new(available, currency.clone()).to_string(),
            "hint": format!(
                "Top up at least {} in Admin → Billing.",
                Money::new(shortfall, currency.clone())
            ),
        }),
    }
}
