//! Webhook ingestion: a signed delivery is stored durably before it is acknowledged, then
//! processed — every event of it, applied idempotently to the call records.
//!
//! Two steps, so an acknowledged delivery is never lost: storing runs before the HTTP 200 (a
//! crash after it leaves the row `pending`); [`process_delivery`] runs after, and the ingest
//! task finishes whatever a crash interrupted ([`pending_deliveries`]) when the server starts
//! again. Processing is idempotent (a call holds at most one fact of each kind), so running it
//! twice — after a crash, or because Meta delivered twice — changes nothing.
//!
//! The webhook endpoint [`screen`]s a body (the numbers it names, checked against its cached
//! [`connected_phone_number_ids`], or for template reviews the WABA, against
//! [`connected_waba_ids`]; and its [`dedupe_key`]) and hands it to the
//! [`DeliveryWriter`], the ingest task that stores many deliveries per statement (group commit)
//! and processes them in between, many per transaction ([`process_deliveries`]).

mod screen;
mod writer;

pub use writer::DeliveryWriter;

use std::collections::{HashMap, HashSet};

use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Connection};

use crate::bus::LiveEvent;
use crate::call_state::{CallInput, CallState, Millis};
use crate::calls::Direction;
use crate::ids::new_id;
use crate::ledger::{self, Pair, Source};
use crate::numbers::{self, WhatsAppNumber};
use crate::permissions::{PermissionEvent, PermissionRecord};
use crate::phone::PhoneNumber;
use crate::settings::CallingSettings;
use crate::settings_sync;
use crate::storage::{Db, Dialect};
use crate::templates::{self, TemplateStatus};
use crate::webhook::payload::Delivery;
use crate::webhook::{
    CallEngineEvent, CallEvent, EngineEvent, PermissionReply, TemplateStatusUpdate, events_from_delivery,
};
use crate::{Error, Result, Services};

/// The only `object` Meta sends for WhatsApp Business webhooks.
pub const WHATSAPP_OBJECT: &str = "whatsapp_business_account";

/// What storing a delivery did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// A new delivery, now `pending`.
    New { delivery_id: String },
    /// The same bytes were stored before (Meta retried); nothing to do.
    Duplicate { delivery_id: String },
}

/// What screening learned about a (signature-verified) delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Screened {
    /// The distinct, non-empty `phone_number_id`s it names.
    pub phone_number_ids: Vec<String>,
    /// The distinct WABA ids of its account-level events (template reviews), which name no
    /// number.
    pub waba_ids: Vec<String>,
    /// Its [`dedupe_key`].
    pub dedupe_key: String,
}

/// Checks that a (signature-verified) body is a WhatsApp Business delivery, without touching
/// the database: the webhook endpoint then checks the numbers it names against its cached
/// [`connected_phone_number_ids`] and stores it under its dedupe key.
pub fn screen(raw_body: &[u8]) -> Result<Screened> {
    if let Some(quick) = screen::quick_screen(raw_body) {
        let dedupe_key = dedupe_key(raw_body, quick.occurred_at);
        return Ok(Screened { phone_number_ids: quick.phone_number_ids, waba_ids: Vec::new(), dedupe_key });
    }
    screen_fully(raw_body)
}

/// [`screen`] from the whole delivery and its events, for the shapes the quick path leaves.
fn screen_fully(raw_body: &[u8]) -> Result<Screened> {
    let delivery = Delivery::parse(raw_body)?;
    if delivery.object.as_deref() != Some(WHATSAPP_OBJECT) {
        return Err(Error::validation("object", format!("expected \"{WHATSAPP_OBJECT}\"")));
    }
    let events = events_from_delivery(&delivery);
    let occurred_at = events.iter().filter_map(|event| event.occurred_at).min();
    let mut waba_ids: Vec<String> = events
        .iter()
        .filter(|event| matches!(event.event, EngineEvent::TemplateStatus(_)))
        .filter_map(|event| event.waba_id.clone())
        .collect();
    waba_ids.sort();
    waba_ids.dedup();
    let mut phone_number_ids: Vec<String> =
        events.into_iter().map(|event| event.phone_number_id).filter(|id| !id.is_empty()).collect();
    phone_number_ids.sort();
    phone_number_ids.dedup();
    Ok(Screened { phone_number_ids, waba_ids, dedupe_key: dedupe_key(raw_body, occurred_at) })
}

/// A delivery's dedupe key: the earliest time it carries (whole seconds, from its own bytes)
/// followed by the SHA-256 of its raw bytes. The same bytes always give the same key, which is
/// all deduplication needs; leading with the time makes fresh deliveries sort last, so the
/// unique index grows at its end instead of at a random page per delivery (which was most of
/// what storing a delivery cost SQLite).
pub fn dedupe_key(raw_body: &[u8], occurred_at: Option<Millis>) -> String {
    let seconds = occurred_at.map_or(0, |millis| millis.div_euclid(1000)).clamp(0, 99_999_999_999);
    format!("{seconds:011}-{}", hex::encode(Sha256::digest(raw_body)))
}

/// The error for a delivery that names no number connected here (404).
pub fn no_connected_number() -> Error {
    Error::NotFound { what: "WhatsApp number named by the delivery" }
}

/// Every connected number's WABA id, for screening account-level deliveries from a cache.
pub async fn connected_waba_ids(db: &Db) -> Result<HashSet<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT waba_id FROM whatsapp_numbers").fetch_all(db.pool()).await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Every connected number's `phone_number_id`, for screening deliveries from a cache.
pub async fn connected_phone_number_ids(db: &Db) -> Result<HashSet<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT phone_number_id FROM whatsapp_numbers").fetch_all(db.pool()).await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// What processing one delivery did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Processed {
    /// Facts newly added to call timelines.
    pub applied: usize,
    /// Facts already known (duplicates, replays).
    pub duplicates: usize,
    /// Events for numbers not connected here, or of kinds the call engine does not act on.
    pub ignored: usize,
}

/// A stored delivery waiting to be processed: its id, and its body while the ingest task
/// still has it in memory (otherwise it is read back from the row).
pub type Pending = (String, Option<String>);

/// Most deliveries processed in one transaction.
pub const MAX_PROCESSED_PER_TRANSACTION: usize = 64;

/// Processes stored deliveries from the front of `pending`, in one transaction on `conn`, for
/// as long as `keep_going` says so (it is asked before each delivery after the first) and at
/// most [`MAX_PROCESSED_PER_TRANSACTION`]. Returns how many were handled — processed, marked
/// failed (with why), or found processed already; after an error, none were (the
/// transaction was rolled back, e.g. the connection broke).
///
/// The transaction first runs without a savepoint per delivery (each costs two round trips to
/// the database, most of the time for nothing): if one delivery fails, the whole transaction
/// is rolled back and the same deliveries run again through [`process_delivery`], each in a
/// savepoint of its own, so the failure is recorded and the others stand. Live notices go out
/// after the commit (sooner could let a browser look before the change is visible).
pub async fn process_deliveries(
    services: &Services,
    conn: &mut AnyConnection,
    pending: &[Pending],
    keep_going: impl Fn() -> bool,
) -> Result<usize> {
    let mut notices = Vec::new();
    let mut numbers = NumberCache::new();
    let mut processed = Vec::new();
    let mut handled = 0;
    let mut clean = true;
    let mut tx = begin_writing(services.db.dialect(), conn).await?;
    for (delivery_id, body) in pending.iter().take(MAX_PROCESSED_PER_TRANSACTION) {
        if handled > 0 && !keep_going() {
            break;
        }
        handled += 1;
        let stored;
        let body = match body {
            Some(body) => body,
            None => match stored_body(&mut tx, delivery_id).await? {
                Some(body) => {
                    stored = body;
                    &stored
                }
                None => continue, // processed already
            },
        };
        match apply_delivery(services, &mut tx, delivery_id, body.as_bytes(), &mut numbers, &mut notices)
            .await
        {
            Ok(_) => processed.push(delivery_id.as_str()),
            Err(_) => {
                clean = false;
                break;
            }
        }
    }
    if clean {
        mark_processed(&mut tx, &processed, services.clock.now()).await?;
        tx.commit().await?;
        publish(services, notices).await;
        return Ok(handled);
    }
    tx.rollback().await?;

    let mut notices = Vec::new();
    let mut tx = begin_writing(services.db.dialect(), conn).await?;
    for (delivery_id, body) in &pending[..handled] {
        if let Err(err) = process_delivery(services, &mut tx, delivery_id, body.clone(), &mut notices).await {
            tracing::warn!(%delivery_id, error = %err, "webhook delivery failed to process");
        }
    }
    tx.commit().await?;
    publish(services, notices).await;
    Ok(handled)
}

/// Begins a processing transaction. SQLite: takes the write lock up front — a deferred
/// transaction that reads first (a body read back) cannot upgrade to writing if another
/// connection committed in between, and would fail instead of waiting its turn.
///
/// PostgreSQL: the commit does not wait for the WAL flush (`synchronous_commit = off`, for
/// this transaction only). Processing needs no durability of its own: the delivery's state
/// changes in the same transaction as its effects, so a commit lost to a database crash
/// leaves the delivery `pending`, and it is processed again at start. Every acknowledgement
/// still waits for its batch's flushed commit; processing no longer adds a flush of its own
/// to every turn of the ingest task.
async fn begin_writing(
    dialect: Dialect,
    conn: &mut AnyConnection,
) -> Result<sqlx::Transaction<'_, sqlx::Any>> {
    Ok(match dialect {
        Dialect::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await?,
        Dialect::Postgres => conn.begin_with("BEGIN; SET LOCAL synchronous_commit = off").await?,
    })
}

/// A stored delivery's body, or `None` when it is processed already.
async fn stored_body(conn: &mut AnyConnection, delivery_id: &str) -> Result<Option<String>> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT body, state FROM webhook_deliveries WHERE id = $1")
            .bind(delivery_id)
            .fetch_optional(&mut *conn)
            .await?;
    let (body, state) = row.ok_or(Error::NotFound { what: "webhook delivery" })?;
    Ok((state != "processed").then_some(body))
}

/// Marks deliveries processed, with one statement for all of them.
async fn mark_processed(conn: &mut AnyConnection, delivery_ids: &[&str], now: i64) -> Result<()> {
    if delivery_ids.is_empty() {
        return Ok(());
    }
    let placeholders: Vec<String> = (0..delivery_ids.len()).map(|i| format!("${}", i + 2)).collect();
    let statement = format!(
        "UPDATE webhook_deliveries SET state = 'processed', processed_at = $1, error = NULL WHERE id IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&statement).bind(now);
    for id in delivery_ids {
        query = query.bind(*id);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// The numbers met by the deliveries of one transaction, by `phone_number_id` (`None`: not
/// connected here), so a number is read once per transaction rather than once per delivery.
type NumberCache = HashMap<String, Option<WhatsAppNumber>>;

/// Applies every event of a stored delivery and marks it processed (or failed, with why), in
/// a savepoint of its own inside the transaction holding `conn`, so one that fails leaves
/// nothing behind and the others stand: the careful path of [`process_deliveries`]. The live
/// notices to send once that transaction has committed are added to `notices`. `body` is the
/// delivery's body when the caller still has it.
pub async fn process_delivery(
    services: &Services,
    conn: &mut AnyConnection,
    delivery_id: &str,
    body: Option<String>,
    notices: &mut Vec<LiveEvent>,
) -> Result<Processed> {
    let body = match body {
        Some(body) => body,
        None => match stored_body(&mut *conn, delivery_id).await? {
            Some(body) => body,
            None => return Ok(Processed::default()),
        },
    };
    let mut attempt = conn.begin().await?;
    let mut own_notices = Vec::new();
    let mut numbers = NumberCache::new();
    let outcome =
        apply_delivery(services, &mut attempt, delivery_id, body.as_bytes(), &mut numbers, &mut own_notices)
            .await;
    if outcome.is_ok() {
        attempt.commit().await?;
        notices.append(&mut own_notices);
    } else {
        attempt.rollback().await?;
    }
    let now = services.clock.now();
    let (state, error) = match &outcome {
        Ok(_) => ("processed", None),
        Err(err) => ("failed", Some(err.to_string())),
    };
    sqlx::query("UPDATE webhook_deliveries SET state = $1, processed_at = $2, error = $3 WHERE id = $4")
        .bind(state)
        .bind(now)
        .bind(error)
        .bind(delivery_id)
        .execute(&mut *conn)
        .await?;
    outcome
}

/// Sends live notices (after the changes they announce have committed).
pub async fn publish(services: &Services, notices: Vec<LiveEvent>) {
    for notice in notices {
        if let Err(err) = services.bus.publish(notice).await {
            tracing::warn!(error = %err, "could not publish a live event");
        }
    }
}

/// The deliveries still `pending` (stored, then a crash or restart before processing), oldest
/// first.
pub async fn pending_deliveries(conn: &mut AnyConnection) -> Result<Vec<String>> {
    let pending: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM webhook_deliveries WHERE state = 'pending' ORDER BY received_at, id")
            .fetch_all(&mut *conn)
            .await?;
    Ok(pending.into_iter().map(|(id,)| id).collect())
}

async fn apply_delivery(
    services: &Services,
    conn: &mut AnyConnection,
    delivery_id: &str,
    body: &[u8],
    numbers: &mut NumberCache,
    notices: &mut Vec<LiveEvent>,
) -> Result<Processed> {
    let delivery = Delivery::parse(body)?;
    let mut processed = Processed::default();
    for event in events_from_delivery(&delivery) {
        // WABA-level: names no number, only the account whose template it is.
        if let EngineEvent::TemplateStatus(update) = &event.event {
            if apply_template_status(services, conn, &event, update).await? {
                processed.applied += 1;
            } else {
                processed.ignored += 1;
            }
            continue;
        }
        if !numbers.contains_key(&event.phone_number_id) {
            let number = numbers::by_phone_number_id_in(&mut *conn, &event.phone_number_id).await?;
            numbers.insert(event.phone_number_id.clone(), number);
        }
        let Some(Some(number)) = numbers.get(&event.phone_number_id) else {
            processed.ignored += 1;
            continue;
        };
        let fresh = match &event.event {
            EngineEvent::Call(call) => {
                apply_call_event(services, conn, number, &event, call, Some(delivery_id), notices).await?
            }
            EngineEvent::PermissionReply(reply) => {
                apply_permission_reply(services, conn, number, &event, reply, notices).await?
            }
            EngineEvent::SettingsChanged { calling } => {
                // WhatsApp's own word on the number's settings: the remote side of the drift.
                let remote = CallingSettings::from_get_response(calling)?;
                settings_sync::record_remote(&mut *conn, number, &remote, services.clock.now()).await?;
                true
            }
            _ => {
                processed.ignored += 1;
                continue;
            }
        };
        if fresh {
            processed.applied += 1;
        } else {
            processed.duplicates += 1;
        }
    }
    Ok(processed)
}

/// Adds one call fact to its call (creating the call on its first fact) and recomputes the
/// call record from all its facts, inside the caller's transaction (`tx`). Returns `false`
/// when the fact was already known.
async fn apply_call_event(
    services: &Services,
    tx: &mut AnyConnection,
    number: &WhatsAppNumber,
    envelope: &CallEngineEvent,
    event: &CallEvent,
    delivery_id: Option<&str>,
    notices: &mut Vec<LiveEvent>,
) -> Result<bool> {
    let db = &services.db;
    let now = services.clock.now();
    let at = envelope.occurred_at.unwrap_or(now);

    // Create the call on its first fact. Deliberately a write first, so SQLite takes its write
    // lock now instead of failing to upgrade a read lock later.
    let direction = event.direction.unwrap_or_else(|| infer_direction(number, event));
    let contact = contact_number(event, direction);
    if direction == Direction::BusinessInitiated {
        adopt_dialled_call(&mut *tx, number, &event.call_id, &contact).await?;
    }
    let created: Option<(String, String)> = sqlx::query_as(
        "INSERT INTO calls (id, workspace_id, wa_call_id, phone_number_id, number_id, direction, status, phase, \
           contact_number, business_number, started_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'ringing', 'new', $7, $8, $9, $10, $10) \
         ON CONFLICT (workspace_id, wa_call_id) DO NOTHING RETURNING id, contact_number",
    )
    .bind(new_id())
    .bind(&number.workspace_id)
    .bind(&event.call_id)
    .bind(&number.phone_number_id)
    .bind(&number.id)
    .bind(direction.as_str())
    .bind(&contact)
    .bind(&number.e164)
    .bind(at)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    // A call this fact created has no other fact yet: its state is this fact's alone, and
    // there is nothing to read back (most deliveries under load are a call's first).
    let new_call = created.is_some();
    let (call_id, contact_number) = match created {
        Some(created) => created,
        None => {
            let lock = match db.dialect() {
                Dialect::Postgres => " FOR UPDATE",
                Dialect::Sqlite => "",
            };
            sqlx::query_as(&format!(
                "SELECT id, contact_number FROM calls WHERE workspace_id = $1 AND wa_call_id = $2{lock}"
            ))
            .bind(&number.workspace_id)
            .bind(&event.call_id)
            .fetch_one(&mut *tx)
            .await?
        }
    };

    let details = json!({
        "from": event.from, "to": event.to, "contact": event.contact, "errors": event.errors,
        "biz_opaque_callback_data": event.biz_opaque_callback_data,
        "cta_payload": event.cta_payload, "deeplink_payload": event.deeplink_payload,
        "sdp_type": event.session.as_ref().and_then(|s| s.sdp_type.clone()),
        "dedupe_key": envelope.dedupe_key,
    });
    let sdp = event.session.as_ref().map(|session| session.sdp.clone());
    let (sdp_offer, sdp_answer) = match (&event.input, direction) {
        (CallInput::ConnectReceived { .. }, Direction::UserInitiated) => (sdp, None),
        (CallInput::ConnectReceived { .. }, Direction::BusinessInitiated) => (None, sdp),
        _ => (None, None),
    };
    let fact = Fact { input: &event.input, at, details, delivery_id };
    let extras = CallExtras {
        sdp_offer,
        sdp_answer,
        contact_name: event.contact.as_ref().and_then(|contact| contact.name.clone()),
        biz_opaque_callback_data: event.biz_opaque_callback_data.clone(),
        cta_payload: event.cta_payload.clone(),
        deeplink_payload: event.deeplink_payload.clone(),
    };
    let applied = apply_fact_to(tx, &number.workspace_id, &call_id, &fact, &extras, now, new_call).await?;
    let mut permission_changed = false;
    if let Some(state) = &applied
        && let Some(event) = PermissionEvent::from_finished_call(state)
        && let Ok(contact) = PhoneNumber::parse(&contact_number)
    {
        // A connected call resets Meta's request quota; unanswered business calls count
        // toward revocation. Once per call, whichever fact finished it.
        let pair = Pair { workspace_id: &number.workspace_id, number_id: &number.id, contact: &contact };
        let at = state.ended_at().unwrap_or(at);
        let dedupe_key = format!("call:{call_id}:finished");
        permission_changed = ledger::record(
            &mut *tx,
            &pair,
            &PermissionRecord::new(at, event),
            Source::Call,
            &dedupe_key,
            now,
        )
        .await?;
    }
    // A business-initiated call that ended is charged from its hold in this transaction.
    crate::billing::on_call_fact(tx, &number.workspace_id, &call_id, applied.as_ref(), now).await?;
    if let Some(state) = &applied {
        notices.push(call_notice(&number.workspace_id, &call_id, state, fact.input, now));
    }
    if permission_changed {
        notices.push(ledger::update_notice(&number.workspace_id, &contact_number, now));
    }
    Ok(applied.is_some())
}

/// One fact about a call, as stored in its timeline.
pub struct Fact<'a> {
    pub input: &'a CallInput,
    /// When it happened.
    pub at: i64,
    /// What else came with it, for the call detail page.
    pub details: serde_json::Value,
    /// The webhook delivery that carried it, if any.
    pub delivery_id: Option<&'a str>,
}

/// Call columns a fact may fill in (each only when not known yet).
#[derive(Default)]
pub struct CallExtras {
    pub sdp_offer: Option<String>,
    pub sdp_answer: Option<String>,
    pub contact_name: Option<String>,
    pub biz_opaque_callback_data: Option<String>,
    pub cta_payload: Option<String>,
    pub deeplink_payload: Option<String>,
}

/// Appends `fact` to the timeline of call `call_id` and recomputes the call record from all
/// its facts, inside `tx`. Returns the new state, or `None` when the fact was already known.
pub async fn apply_fact(
    tx: &mut AnyConnection,
    workspace_id: &str,
    call_id: &str,
    fact: &Fact<'_>,
    extras: &CallExtras,
    now: i64,
) -> Result<Option<CallState>> {
    apply_fact_to(tx, workspace_id, call_id, fact, extras, now, false).await
}

/// [`apply_fact`], told whether the call was created in this transaction (then `fact` is its
/// only fact, and the state needs no read).
async fn apply_fact_to(
    tx: &mut AnyConnection,
    workspace_id: &str,
    call_id: &str,
    fact: &Fact<'_>,
    extras: &CallExtras,
    now: i64,
    new_call: bool,
) -> Result<Option<CallState>> {
    let input = serde_json::to_string(fact.input).map_err(Error::internal)?;
    let inserted = sqlx::query(
        "INSERT INTO call_events (id, workspace_id, call_id, kind, at, input, details, delivery_id, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (call_id, kind) DO NOTHING",
    )
    .bind(new_id())
    .bind(workspace_id)
    .bind(call_id)
    .bind(fact.input.kind().as_str())
    .bind(fact.at)
    .bind(&input)
    .bind(fact.details.to_string())
    .bind(fact.delivery_id)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(None);
    }

    // The call record is a projection of all its facts, whatever order they came in.
    let state = if new_call {
        CallState::replay([(fact.at, fact.input)])
    } else {
        replay_call(&mut *tx, call_id).await?
    };
    let failure_code = state.termination().and_then(|t| t.error_codes.first().copied());
    sqlx::query(
        "UPDATE calls SET status = $1, phase = $2, started_at = COALESCE($3, started_at), answered_at = $4, \
           ended_at = $5, duration_seconds = $6, failure_code = COALESCE($7, failure_code), \
           answer_deadline = $8, sdp_offer = COALESCE(sdp_offer, $9), sdp_answer = COALESCE(sdp_answer, $10), \
           contact_name = COALESCE(contact_name, $11), \
           biz_opaque_callback_data = COALESCE(biz_opaque_callback_data, $12), \
           cta_payload = COALESCE(cta_payload, $13), deeplink_payload = COALESCE(deeplink_payload, $14), \
           updated_at = $15 \
         WHERE id = $16",
    )
    .bind(state.status().as_str())
    .bind(state.phase().as_str())
    .bind(state.started_at())
    .bind(state.answered_at())
    .bind(state.ended_at())
    .bind(state.duration_seconds())
    .bind(failure_code)
    .bind(state.answer_deadline())
    .bind(&extras.sdp_offer)
    .bind(&extras.sdp_answer)
    .bind(&extras.contact_name)
    .bind(&extras.biz_opaque_callback_data)
    .bind(&extras.cta_payload)
    .bind(&extras.deeplink_payload)
    .bind(now)
    .bind(call_id)
    .execute(&mut *tx)
    .await?;
    Ok(Some(state))
}

/// Rebuilds a call's state from all its stored facts.
pub async fn replay_call<'c, E>(executor: E, call_id: &str) -> Result<CallState>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let facts: Vec<(i64, String)> = sqlx::query_as("SELECT at, input FROM call_events WHERE call_id = $1")
        .bind(call_id)
        .fetch_all(executor)
        .await?;
    let inputs: Vec<(i64, CallInput)> = facts
        .into_iter()
        .map(|(at, raw)| serde_json::from_str(&raw).map(|input| (at, input)).map_err(Error::internal))
        .collect::<Result<_>>()?;
    Ok(CallState::replay(inputs.iter().map(|(at, input)| (*at, input))))
}

/// Records one of our own actions (which WhatsApp acknowledged) on a call and tells the
/// browsers. Returns the call's new state, or `None` if the action was already recorded.
pub async fn record_own_fact(
    services: &Services,
    workspace_id: &str,
    call_id: &str,
    input: &CallInput,
    details: serde_json::Value,
    extras: &CallExtras,
) -> Result<Option<CallState>> {
    let now = services.clock.now();
    let fact = Fact { input, at: now, details, delivery_id: None };
    let mut tx = services.db.pool().begin().await?;
    let applied = apply_fact(&mut tx, workspace_id, call_id, &fact, extras, now).await?;
    tx.commit().await?;
    if let Some(state) = &applied {
        publish_call_update(services, workspace_id, call_id, state, input, now).await;
    }
    Ok(applied)
}

/// Records a user's (or Meta's automatic) answer to a permission request in the ledger.
/// Returns `false` when it was already recorded.
async fn apply_permission_reply(
    services: &Services,
    conn: &mut AnyConnection,
    number: &WhatsAppNumber,
    envelope: &CallEngineEvent,
    reply: &PermissionReply,
    notices: &mut Vec<LiveEvent>,
) -> Result<bool> {
    let now = services.clock.now();
    let Some(contact) = reply.from.as_deref().and_then(|from| PhoneNumber::parse(from).ok()) else {
        tracing::warn!(dedupe_key = %envelope.dedupe_key, "permission reply without a usable user number");
        return Ok(false);
    };
    let pair = Pair { workspace_id: &number.workspace_id, number_id: &number.id, contact: &contact };
    let fact = PermissionRecord::new(envelope.occurred_at.unwrap_or(now), PermissionEvent::from_reply(reply));
    let fresh = ledger::record(&mut *conn, &pair, &fact, Source::Webhook, &envelope.dedupe_key, now).await?;
    if fresh {
        notices.push(ledger::update_notice(&number.workspace_id, contact.e164(), now));
    }
    Ok(fresh)
}

/// Applies Meta's review of a template to the templates of the delivery's WABA. A template
/// this database does not have (made in the Business Manager, or deleted here) is logged and
/// skipped, as is a `FLAGGED` quality warning and an update older than the one applied.
/// Returns whether a template changed.
async fn apply_template_status(
    services: &Services,
    conn: &mut AnyConnection,
    envelope: &CallEngineEvent,
    update: &TemplateStatusUpdate,
) -> Result<bool> {
    let (Some(waba_id), Some(status)) =
        (envelope.waba_id.as_deref(), TemplateStatus::from_webhook_event(&update.event))
    else {
        tracing::info!(dedupe_key = %envelope.dedupe_key, event = %update.event, "template status update without a WABA or a status change; skipped");
        return Ok(false);
    };
    let now = services.clock.now();
    let at = envelope.occurred_at.unwrap_or(now);
    let reason = update.reason.as_deref();
    let changed =
        templates::record_status(conn, waba_id, &update.meta_template_id, status, reason, at, now).await?;
    if changed == 0 {
        tracing::info!(
            waba_id,
            meta_template_id = %update.meta_template_id,
            event = %update.event,
            "template status update for a template not stored here (or older than the last); skipped"
        );
    }
    Ok(changed > 0)
}

/// The live notice that a call changed, for the workspace's browsers.
fn call_notice(
    workspace_id: &str,
    call_id: &str,
    state: &CallState,
    input: &CallInput,
    now: i64,
) -> LiveEvent {
    LiveEvent {
        workspace_id: workspace_id.to_owned(),
        topic: "call.updated".into(),
        subject: call_id.to_owned(),
        data: json!({
            "status": state.status(),
            "phase": state.phase(),
            "ringing": state.is_ringing_for_agents(now),
            "fact": input.kind(),
        }),
        at: now,
    }
}

/// Tells the workspace's browsers that a call changed. The record is already committed; a
/// browser that misses the notice catches up when it reloads.
async fn publish_call_update(
    services: &Services,
    workspace_id: &str,
    call_id: &str,
    state: &CallState,
    input: &CallInput,
    now: i64,
) {
    publish(services, vec![call_notice(workspace_id, call_id, state, input, now)]).await;
}

/// Closes calls that still ring past their answer window with no word from Meta: they are
/// missed (a late terminate from Meta still has the last word). Returns how many were closed.
pub async fn expire_unanswered(services: &Services) -> Result<usize> {
    let now = services.clock.now();
    let due: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, workspace_id FROM calls WHERE status = 'ringing' AND answer_deadline IS NOT NULL \
           AND answer_deadline <= $1 ORDER BY answer_deadline LIMIT 500",
    )
    .bind(now)
    .fetch_all(services.db.pool())
    .await?;
    let mut closed = 0;
    for (call_id, workspace_id) in due {
        let input = CallInput::AnswerWindowExpired;
        let fact = Fact {
            input: &input,
            at: now,
            details: json!({ "reason": "answer window passed" }),
            delivery_id: None,
        };
        let mut tx = services.db.pool().begin().await?;
        let applied =
            apply_fact(&mut tx, &workspace_id, &call_id, &fact, &CallExtras::default(), now).await?;
        // A missed business call gives its hold back now, not when the hold expires.
        crate::billing::on_call_fact(&mut tx, &workspace_id, &call_id, applied.as_ref(), now).await?;
        tx.commit().await?;
        if let Some(state) = applied {
            closed += 1;
            publish_call_update(services, &workspace_id, &call_id, &state, &input, now).await;
        }
    }
    Ok(closed)
}

/// A call an agent's browser dials for a request (`call_actions::dial`) exists before WhatsApp
/// names it. When WhatsApp's webhook about it beats the dial's own update, the webhook adopts
/// that call (the newest claimed, unplaced request to the same person from the same number)
/// instead of creating a second one.
async fn adopt_dialled_call(
    conn: &mut AnyConnection,
    number: &WhatsAppNumber,
    wa_call_id: &str,
    contact: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE calls SET wa_call_id = $1 WHERE id = (SELECT id FROM calls WHERE workspace_id = $2 \
           AND contact_number = $3 AND number_id = $4 AND direction = 'business_initiated' \
           AND wa_call_id IS NULL AND answered_by IS NOT NULL AND phase = 'new' \
           ORDER BY started_at DESC LIMIT 1) \
         AND NOT EXISTS (SELECT 1 FROM calls WHERE workspace_id = $2 AND wa_call_id = $1)",
    )
    .bind(wa_call_id)
    .bind(&number.workspace_id)
    .bind(contact)
    .bind(&number.id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Without an explicit direction, a call whose caller is the business number is outbound.
fn infer_direction(number: &WhatsAppNumber, event: &CallEvent) -> Direction {
    let business_digits = number.e164.trim_start_matches('+');
    match event.from.as_deref() {
        Some(from) if from.trim_start_matches('+') == business_digits => Direction::BusinessInitiated,
        _ => Direction::UserInitiated,
    }
}

/// The WhatsApp user's number, E.164 with `+`, from whichever side they are on.
fn contact_number(event: &CallEvent, direction: Direction) -> String {
    let user_side = match direction {
        Direction::UserInitiated => event.from.as_deref(),
        Direction::BusinessInitiated => event.to.as_deref(),
    };
    let digits = user_side
        .or_else(|| event.contact.as_ref().and_then(|contact| contact.wa_id.as_deref()))
        .unwrap_or_default()
        .trim_start_matches('+');
    if digits.is_empty() { String::new() } else { format!("+{digits}") }
}
