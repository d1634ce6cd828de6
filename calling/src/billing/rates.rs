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

use super::forms::{CountryRateForm, RateCardForm, RateForm};
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
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Rate {
    /// What Meta charges the business for the unit (display and margin reporting).
    pub meta: Micros,
    /// What the wallet pays for the unit.
    pub billable: Micros,
}

/// The kinds of sends priced separately from calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
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
    /// The rules every published card meets; a refusal names the line and the price
    /// (`countries.IN.billable`). Our billable price may not be below Meta's cost: every unit
    /// sold under it loses money, and it is almost always a typo (the two columns swapped).
    pub fn validate(&self) -> Result<()> {
        if !(1..=240).contains(&self.call_estimate_minutes) {
            return Err(Error::validation("call_estimate_minutes", "must be between 1 and 240"));
        }
        if self.note.as_ref().is_some_and(|note| note.chars().count() > 200) {
            return Err(Error::validation("note", "at most 200 characters"));
        }
        for country in self.countries.keys() {
            if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(Error::validation(
                    format!("countries.{country}"),
                    "expected a two-letter ISO 3166 country code such as IN",
                ));
            }
        }
        for (line, rate) in self.lines() {
            if rate.meta.is_negative() {
                return Err(Error::validation(format!("{line}.meta"), "rates cannot be negative"));
            }
            if rate.billable.is_negative() {
                return Err(Error::validation(format!("{line}.billable"), "rates cannot be negative"));
            }
            if rate.billable < rate.meta {
                return Err(Error::validation(
                    format!("{line}.billable"),
                    format!("below Meta's cost ({}): every unit would lose money", rate.meta),
                ));
            }
        }
        Ok(())
    }

    /// Every price with the name a refusal gives it: `default_call`, `countries.IN`,
    /// `messages.text`, …
    fn lines(&self) -> impl Iterator<Item = (String, Rate)> + '_ {
        std::iter::once(("default_call".to_owned(), self.default_call))
            .chain(self.countries.iter().map(|(country, rate)| (format!("countries.{country}"), *rate)))
            .chain(
                MessageKind::ALL
                    .iter()
                    .map(|kind| (format!("messages.{}", kind.as_str()), self.messages.get(*kind))),
            )
    }

    /// The card an owner typed (decimal prices per pulse and per message), checked by
    /// [`NewRateCard::validate`]. Rows with a blank country are skipped; a country listed
    /// twice is refused.
    pub fn from_form(form: &RateCardForm) -> Result<NewRateCard> {
        let minutes = form.call_estimate_minutes.trim();
        let call_estimate_minutes = minutes
            .parse::<i64>()
            .map_err(|_| Error::validation("call_estimate_minutes", "expected whole minutes, e.g. 10"))?;
        let price = |field: &str, text: &str| {
            Micros::parse(text).map_err(|_| {
                Error::validation(field, "expected a price with at most 6 decimals, e.g. 0.0012")
            })
        };
        let rate = |line: &str, typed: &RateForm| -> Result<Rate> {
            Ok(Rate {
                meta: price(&format!("{line}.meta"), &typed.meta)?,
                billable: price(&format!("{line}.billable"), &typed.billable)?,
            })
        };
        let mut countries = BTreeMap::new();
        for row in &form.countries {
            let country = row.country.trim().to_ascii_uppercase();
            if country.is_empty() {
                continue;
            }
            let line = format!("countries.{country}");
            let typed = RateForm { meta: row.meta.clone(), billable: row.billable.clone() };
            if countries.insert(country, rate(&line, &typed)?).is_some() {
                return Err(Error::validation(line, "listed twice"));
            }
        }
        let note = form.note.trim();
        let card = NewRateCard {
            call_estimate_minutes,
            default_call: rate("default_call", &form.default_call)?,
            countries,
            messages: MessageRates {
                text: rate("messages.text", &form.text)?,
                media: rate("messages.media", &form.media)?,
                template: rate("messages.template", &form.template)?,
                calling_template: rate("messages.calling_template", &form.calling_template)?,
            },
            note: (!note.is_empty()).then(|| note.to_owned()),
        };
        card.validate()?;
        Ok(card)
    }
}

impl RateCard {
    /// The card as the edit form starts: this version's prices as decimals.
    pub fn to_form(&self) -> RateCardForm {
        let typed =
            |rate: Rate| RateForm { meta: rate.meta.to_string(), billable: rate.billable.to_string() };
        RateCardForm {
            call_estimate_minutes: self.call_estimate_minutes.to_string(),
            default_call: typed(self.default_call),
            countries: self
                .countries
                .iter()
                .map(|(country, rate)| CountryRateForm {
                    country: country.clone(),
                    meta: rate.meta.to_string(),
                    billable: rate.billable.to_string(),
                })
                .collect(),
            text: typed(self.messages.text),
            media: typed(self.messages.media),
            template: typed(self.messages.template),
            calling_template: typed(self.messages.calling_template),
            note: String::new(),
        }
    }
}

/// One published version of a workspace's rate card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
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

/// What the audit log keeps of a published version (`billing.rate_card_published`).
pub fn published_details(card: &RateCard) -> serde_json::Value {
    serde_json::json!({ "version": card.version, "note": card.note, "currency": card.currency })
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
        let mut card = defaults();
        card.countries.insert("IN".into(), Rate { meta: Micros(900), billable: Micros(800) });
        let err = card.validate().unwrap_err();
        assert_eq!(err.details().unwrap()["field"], "countries.IN.billable", "below Meta's cost");
    }

    #[test]
    fn a_typed_card_becomes_prices_and_back() {
        let mut form = defaults_card().to_form();
        form.countries.push(CountryRateForm {
            country: " in ".into(),
            meta: "0.001".into(),
            billable: "0.0015".into(),
        });
        form.countries.push(CountryRateForm::default());
        let card = NewRateCard::from_form(&form).unwrap();
        assert_eq!(card.countries["IN"], Rate { meta: Micros(1_000), billable: Micros(1_500) });
        assert_eq!(card.default_call, defaults().default_call);
        assert_eq!(card.messages, defaults().messages);
        assert_eq!(card.note, None);

        let field = |form: &RateCardForm| {
            NewRateCard::from_form(form).unwrap_err().details().unwrap()["field"].as_str().unwrap().to_owned()
        };
        let mut twice = form.clone();
        twice.countries.push(CountryRateForm {
            country: "IN".into(),
            meta: "0".into(),
            billable: "0".into(),
        });
        assert_eq!(field(&twice), "countries.IN");
        let mut bad = form.clone();
        bad.countries[0].country = "IND".into();
        assert_eq!(field(&bad), "countries.IND");
        let mut bad = form.clone();
        bad.text.billable = "-1".into();
        assert_eq!(field(&bad), "messages.text.billable");
        let mut bad = form.clone();
        bad.default_call.meta = "1.2345678".into();
        assert_eq!(field(&bad), "default_call.meta");
        let mut bad = form.clone();
        bad.call_estimate_minutes = "ten".into();
        assert_eq!(field(&bad), "call_estimate_minutes");
    }

    /// The defaults as a stored card would hold them.
    fn defaults_card() -> RateCard {
        let card = defaults();
        RateCard {
            id: "card".into(),
            workspace_id: "w".into(),
            version: 1,
            currency: Currency::usd(),
            call_estimate_minutes: card.call_estimate_minutes,
            default_call: card.default_call,
            countries: card.countries,
            messages: card.messages,
            created_by: None,
            note: card.note,
            created_at: 0,
        }
    }
}
