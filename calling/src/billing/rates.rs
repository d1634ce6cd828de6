//! The rate card: what a business-initiated call costs per 6-second pulse in the callee's
//! country, and what each kind of message send costs, with Meta's cost and our billable price
//! kept apart (Zernio's `metaCostUSD` / `billableCostUSD`).
//!
//! Rate cards are versioned per workspace: an edit publishes a new version and never changes an
//! old one, and a hold copies its unit rates and the version id, so a call placed before an
//! edit is settled at the price it was placed with. A workspace without a card gets version 1
//! with [`defaults`] the first time anything asks.
//!
//! Meta's per-country figures are not in our reference (§8, §12), so the defaults are one
//! placeholder rate for every country; owners publish the real ones from Meta's rate card.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use super::money::{Currency, Micros};
use crate::ids::new_id;
use crate::phone::PhoneNumber;
use crate::storage::Db;
use crate::{Error, Result};

/// Meta bills calls in pulses of this many seconds, any fraction rounded up.
pub const PULSE_SECONDS: i64 = 6;
/// Pulses in a minute.
pub const PULSES_PER_MINUTE: i64 = 60 / PULSE_SECONDS;

/// Billed pulses for a call of `duration_seconds`: `ceil(duration / 6)`; nothing for a call
/// that never connected (0 or negative seconds). 56 s is 10 pulses.
pub fn pulses(duration_seconds: i64) -> i64 {
    if duration_seconds <= 0 {
        return 0;
    }
    duration_seconds / PULSE_SECONDS + i64::from(duration_seconds % PULSE_SECONDS != 0)
}

/// A unit price: per pulse for calls, per message for sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    /// What Meta charges the business for the unit (display and margin reporting).
    pub meta: Micros,
    /// What the wallet pays for the unit.
    pub billable: Micros,
}

/// The kinds of sends priced separately from calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    Media,
    Template,
    /// A call-button or permission-request template (`calling send`).
    CallingTemplate,
}

impl MessageKind {
    pub const ALL: [MessageKind; 4] =
        [MessageKind::Text, MessageKind::Media, MessageKind::Template, MessageKind::CallingTemplate];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Media => "media",
            MessageKind::Template => "template",
            MessageKind::CallingTemplate => "calling_template",
        }
    }

    fn item(self) -> String {
        format!("message:{}", self.as_str())
    }
}

/// Per-message rates, one per [`MessageKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRates {
    pub text: Rate,
    pub media: Rate,
    pub template: Rate,
    pub calling_template: Rate,
}

impl MessageRates {
    pub fn get(&self, kind: MessageKind) -> Rate {
        match kind {
            MessageKind::Text => self.text,
            MessageKind::Media => self.media,
            MessageKind::Template => self.template,
            MessageKind::CallingTemplate => self.calling_template,
        }
    }

    fn set(&mut self, kind: MessageKind, rate: Rate) {
        match kind {
            MessageKind::Text => self.text = rate,
            MessageKind::Media => self.media = rate,
            MessageKind::Template => self.template = rate,
            MessageKind::CallingTemplate => self.calling_template = rate,
        }
    }
}

/// A rate card as an owner edits it (the content of one version).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRateCard {
    /// How many minutes of a call the preflight holds (the estimate for a call).
    pub call_estimate_minutes: i64,
    /// Per-pulse rate for callee countries not listed.
    pub default_call: Rate,
    /// Per-pulse rates by the callee's ISO 3166 country (`IN`, `BR`, …).
    pub countries: BTreeMap<String, Rate>,
    pub messages: MessageRates,
    pub note: Option<String>,
}

/// The card a workspace starts with. Placeholders in the spirit of Meta's published ranges
/// (about a cent a minute for calls); the billable price adds a 20 % margin.
pub fn defaults() -> NewRateCard {
    let rate = |meta: i64, billable: i64| Rate { meta: Micros(meta), billable: Micros(billable) };
    NewRateCard {
        call_estimate_minutes: 10,
        // 0.01 per minute = 1 000 micros per 6-second pulse.
        default_call: rate(1_000, 1_200),
        countries: BTreeMap::new(),
        messages: MessageRates {
            // Service replies inside the customer service window are free at Meta; the billable
            // price covers the platform's cost of sending.
            text: rate(0, 1_000),
            media: rate(0, 2_000),
            template: rate(25_000, 30_000),
            calling_template: rate(25_000, 30_000),
        },
        note: Some("default rates".to_owned()),
    }
}

impl NewRateCard {
    fn validate(&self) -> Result<()> {
        if !(1..=240).contains(&self.call_estimate_minutes) {
            return Err(Error::validation("call_estimate_minutes", "must be between 1 and 240"));
        }
        let rates = std::iter::once(("default_call".to_owned(), self.default_call))
            .chain(self.countries.iter().map(|(country, rate)| (format!("countries.{country}"), *rate)))
            .chain(
                MessageKind::ALL
                    .iter()
                    .map(|kind| (format!("messages.{}", kind.as_str()), self.messages.get(*kind))),
            );
        for (field, rate) in rates {
            if rate.meta.is_negative() || rate.billable.is_negative() {
                return Err(Error::validation(field, "rates cannot be negative"));
            }
        }
        for country in self.countries.keys() {
            if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(Error::validation(
                    format!("countries.{country}"),
                    "expected a two-letter ISO 3166 country code such as IN",
                ));
            }
        }
        Ok(())
    }
}

/// One published version of a workspace's rate card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateCard {
    pub id: String,
    pub workspace_id: String,
    pub version: i64,
    pub currency: Currency,
    pub call_estimate_minutes: i64,
    pub default_call: Rate,
    pub countries: BTreeMap<String, Rate>,
    pub messages: MessageRates,
    pub created_by: Option<String>,
    pub note: Option<String>,
    pub created_at: i64,
}

impl RateCard {
    /// The per-pulse rate for calling `callee`, and the line it came from (`call:IN` or
    /// `call:*` for the default).
    pub fn call_rate(&self, callee: &PhoneNumber) -> (String, Rate) {
        match callee.country().and_then(|country| self.countries.get(country).map(|rate| (country, rate))) {
            Some((country, rate)) => (format!("call:{country}"), *rate),
            None => ("call:*".to_owned(), self.default_call),
        }
    }

    /// The per-message rate for a send of `kind`, and its line.
    pub fn message_rate(&self, kind: MessageKind) -> (String, Rate) {
        (kind.item(), self.messages.get(kind))
    }
}

/// The workspace's current rate card (its newest version), creating version 1 from
/// [`defaults`] if it has none yet.
pub async fn current(db: &Db, workspace_id: &str, now: i64) -> Result<RateCard> {
    let mut conn = db.pool().acquire().await?;
    if let Some(card) = newest(&mut conn, workspace_id).await? {
        return Ok(card);
    }
    drop(conn);
    // The card and its lines in one transaction, so a crash can never leave a card without
    // prices (which would make everything free). Its first statement is the write.
    let mut tx = db.pool().begin().await?;
    insert(&mut tx, workspace_id, 1, &defaults(), None, now, true).await?;
    tx.commit().await?;
    let mut conn = db.pool().acquire().await?;
    newest(&mut conn, workspace_id).await?.ok_or(Error::NotFound { what: "rate card" })
}

/// [`current`] inside a transaction that already holds its write lock (the preflight's).
pub(crate) async fn current_in(conn: &mut AnyConnection, workspace_id: &str, now: i64) -> Result<RateCard> {
    if let Some(card) = newest(conn, workspace_id).await? {
        return Ok(card);
    }
    // Two first uses at once: the unique (workspace_id, version) lets one of them seed.
    insert(conn, workspace_id, 1, &defaults(), None, now, true).await?;
    newest(conn, workspace_id).await?.ok_or(Error::NotFound { what: "rate card" })
}

/// Publishes an edited rate card as the workspace's next version. Past versions stay as they
/// were, and so do the holds and charges made with them.
pub async fn publish(
    db: &Db,
    workspace_id: &str,
    card: &NewRateCard,
    actor_user_id: Option<&str>,
    now: i64,
) -> Result<RateCard> {
    card.validate()?;
    let mut tx = db.pool().begin().await?;
    // A write first (SQLite takes its write lock now rather than failing to upgrade later).
    sqlx::query("UPDATE rate_cards SET created_at = created_at WHERE workspace_id = $1")
        .bind(workspace_id)
        .execute(&mut *tx)
        .await?;
    let current = current_in(&mut tx, workspace_id, now).await?;
    let version = current.version + 1;
    insert(&mut tx, workspace_id, version, card, actor_user_id, now, false).await?;
    tx.commit().await?;
    tracing::info!(workspace_id, version, actor_user_id, "rate card published");
    by_version(db, workspace_id, version).await
}

/// Every version of the workspace's rate card, newest first.
pub async fn versions(db: &Db, workspace_id: &str) -> Result<Vec<RateCard>> {
    let ids: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM rate_cards WHERE workspace_id = $1 ORDER BY version DESC")
            .bind(workspace_id)
            .fetch_all(db.pool())
            .await?;
    let mut conn = db.pool().acquire().await?;
    let mut cards = Vec::with_capacity(ids.len());
    for (id,) in ids {
        cards.push(load(&mut conn, workspace_id, &id).await?);
    }
    Ok(cards)
}

async fn by_version(db: &Db, workspace_id: &str, version: i64) -> Result<RateCard> {
    let (id,): (String,) =
        sqlx::query_as("SELECT id FROM rate_cards WHERE workspace_id = $1 AND version = $2")
            .bind(workspace_id)
            .bind(version)
            .fetch_one(db.pool())
            .await?;
    let mut conn = db.pool().acquire().await?;
    load(&mut conn, workspace_id, &id).await
}

async fn newest(conn: &mut AnyConnection, workspace_id: &str) -> Result<Option<RateCard>> {
    let id: Option<(String,)> =
        sqlx::query_as("SELECT id FROM rate_cards WHERE workspace_id = $1 ORDER BY version DESC LIMIT 1")
            .bind(workspace_id)
            .fetch_optional(&mut *conn)
            .await?;
    match id {
        Some((id,)) => Ok(Some(load(conn, workspace_id, &id).await?)),
        None => Ok(None),
    }
}

type CardRow = (String, i64, String, i64, Option<String>, Option<String>, i64);

async fn load(conn: &mut AnyConnection, workspace_id: &str, id: &str) -> Result<RateCard> {
    let (id, version, currency, call_estimate_minutes, created_by, note, created_at): CardRow =
        sqlx::query_as(
            "SELECT id, version, currency, call_estimate_minutes, created_by, note, created_at \
         FROM rate_cards WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(Error::NotFound { what: "rate card" })?;
    let lines: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT item, meta_micros, billable_micros FROM rate_card_lines WHERE rate_card_id = $1",
    )
    .bind(&id)
    .fetch_all(&mut *conn)
    .await?;
    let mut card = RateCard {
        id,
        workspace_id: workspace_id.to_owned(),
        version,
        currency: Currency::parse(&currency).map_err(Error::internal)?,
        call_estimate_minutes,
        default_call: Rate::default(),
        countries: BTreeMap::new(),
        messages: MessageRates {
            text: Rate::default(),
            media: Rate::default(),
            template: Rate::default(),
            calling_template: Rate::default(),
        },
        created_by,
        note,
        created_at,
    };
    for (item, meta, billable) in lines {
        let rate = Rate { meta: Micros(meta), billable: Micros(billable) };
        if item == "call:*" {
            card.default_call = rate;
        } else if let Some(country) = item.strip_prefix("call:") {
            card.countries.insert(country.to_owned(), rate);
        } else if let Some(kind) = MessageKind::ALL.iter().find(|kind| kind.item() == item) {
            card.messages.set(*kind, rate);
        } else {
            tracing::warn!(rate_card_id = %card.id, item, "unknown rate card line ignored");
        }
    }
    Ok(card)
}

#[allow(clippy::too_many_arguments)]
async fn insert(
    conn: &mut AnyConnection,
    workspace_id: &str,
    version: i64,
    card: &NewRateCard,
    created_by: Option<&str>,
    now: i64,
    if_absent: bool,
) -> Result<()> {
    let id = new_id();
    let conflict = if if_absent { " ON CONFLICT (workspace_id, version) DO NOTHING" } else { "" };
    let inserted = sqlx::query(&format!(
        "INSERT INTO rate_cards (id, workspace_id, version, currency, call_estimate_minutes, created_by, note, created_at) \
         VALUES ($1, $2, $3, COALESCE((SELECT currency FROM wallets WHERE workspace_id = $2), 'USD'), \
           $4, $5, $6, $7){conflict}"
    ))
    .bind(&id)
    .bind(workspace_id)
    .bind(version)
    .bind(card.call_estimate_minutes)
    .bind(created_by)
    .bind(&card.note)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|err| match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict {
            code: "rate_card_changed",
            message: "someone else published a rate card at the same time; reload and try again".into(),
        },
        _ => Error::from(err),
    })?
    .rows_affected();
    if inserted == 0 {
        return Ok(());
    }
    let lines = std::iter::once(("call:*".to_owned(), card.default_call))
        .chain(card.countries.iter().map(|(country, rate)| (format!("call:{country}"), *rate)))
        .chain(MessageKind::ALL.iter().map(|kind| (kind.item(), card.messages.get(*kind))));
    for (item, rate) in lines {
        sqlx::query(
            "INSERT INTO rate_card_lines (rate_card_id, item, meta_micros, billable_micros) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(&item)
        .bind(rate.meta.get())
        .bind(rate.billable.get())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pulses_round_up_to_six_seconds() {
        assert_eq!(pulses(0), 0);
        assert_eq!(pulses(-5), 0);
        assert_eq!(pulses(1), 1);
        assert_eq!(pulses(6), 1);
        assert_eq!(pulses(7), 2);
        assert_eq!(pulses(56), 10);
        assert_eq!(pulses(60), 10);
        assert_eq!(pulses(i64::MAX), i64::MAX / 6 + 1);
    }

    #[test]
    fn defaults_are_valid_and_price_calls() {
        let card = defaults();
        card.validate().unwrap();
        assert!(card.default_call.billable > Micros::ZERO);
    }

    #[test]
    fn invalid_cards_are_refused() {
        let mut card = defaults();
        card.countries.insert("india".into(), Rate::default());
        assert!(card.validate().is_err());
        let mut card = defaults();
        card.messages.text.billable = Micros(-1);
        assert!(card.validate().is_err());
        let mut card = defaults();
        card.call_estimate_minutes = 0;
        assert!(card.validate().is_err());
    }
}
