//! The permission ledger in storage: the facts [`crate::permissions`] reasons about, kept per
//! (business number, WhatsApp user) from webhooks, finished calls, our own sends and
//! `GET call_permissions`, so the product can say *before* asking Meta whether a permission
//! request or a call would be refused, and when it will next be allowed.

use serde::{Deserialize, Serialize};

use crate::Services;
use crate::bus::LiveEvent;
use crate::ids::new_id;
pub use crate::permissions::PermissionLookup;
use crate::permissions::{self, PermissionEvent, PermissionLimits, PermissionRecord};
use crate::phone::PhoneNumber;
use crate::storage::Db;
use crate::{Error, Result};

/// Where a ledger fact came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A `call_permission_reply` webhook.
    Webhook,
    /// A call that finished (connected, or an unanswered business call).
    Call,
    /// A permission request we sent.
    Send,
    /// What `GET call_permissions` reported.
    Sync,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Webhook => "webhook",
            Source::Call => "call",
            Source::Send => "send",
            Source::Sync => "sync",
        }
    }
}

/// The live notice that a user's call permission changed, for the workspace's browsers.
pub fn update_notice(workspace_id: &str, contact: &str, now: i64) -> LiveEvent {
    LiveEvent {
        workspace_id: workspace_id.to_owned(),
        topic: "permission.updated".into(),
        subject: contact.to_owned(),
        data: serde_json::Value::Null,
        at: now,
    }
}

/// Tells the workspace's browsers that a user's call permission changed.
pub async fn publish_update(services: &Services, workspace_id: &str, contact: &str, now: i64) {
    if let Err(err) = services.bus.publish(update_notice(workspace_id, contact, now)).await {
        tracing::warn!(error = %err, "could not publish a live permission event");
    }
}

/// The (business number, user) pair a fact concerns.
#[derive(Clone, Debug)]
pub struct Pair<'a> {
    pub workspace_id: &'a str,
    pub number_id: &'a str,
    pub contact: &'a PhoneNumber,
}

/// Appends a fact unless one with the same `dedupe_key` is already recorded for the number.
/// Returns whether it was new.
pub async fn record<'c, E>(
    executor: E,
    pair: &Pair<'_>,
    fact: &PermissionRecord,
    source: Source,
    dedupe_key: &str,
    now: i64,
) -> Result<bool>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let event = serde_json::to_string(&fact.event).map_err(Error::internal)?;
    let inserted = sqlx::query(
        "INSERT INTO permission_events (id, workspace_id, number_id, contact_number, at, event, source, dedupe_key, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (number_id, dedupe_key) DO NOTHING",
    )
    .bind(new_id())
    .bind(pair.workspace_id)
    .bind(pair.number_id)
    .bind(pair.contact.e164())
    .bind(fact.at)
    .bind(event)
    .bind(source.as_str())
    .bind(dedupe_key)
    .bind(now)
    .execute(executor)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Every fact of a pair, oldest first.
pub async fn history(db: &Db, number_id: &str, contact: &PhoneNumber) -> Result<Vec<PermissionRecord>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT at, event FROM permission_events WHERE number_id = $1 AND contact_number = $2 ORDER BY at, recorded_at, id",
    )
    .bind(number_id)
    .bind(contact.e164())
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|(at, raw)| {
            let event: PermissionEvent = serde_json::from_str(&raw).map_err(Error::internal)?;
            Ok(PermissionRecord::new(at, event))
        })
        .collect()
}

/// The pair's permission and quotas at `now`.
pub async fn lookup(
    db: &Db,
    number_id: &str,
    contact: &PhoneNumber,
    now: i64,
    limits: &PermissionLimits,
) -> Result<PermissionLookup> {
    let history = history(db, number_id, contact).await?;
    Ok(PermissionLookup {
        contact_number: contact.e164().to_owned(),
        view: permissions::evaluate(&history, now, limits),
        call_refusal: permissions::check_business_call(&history, now, limits).err(),
        request_refusal: permissions::check_permission_request(&history, now, limits).err(),
    })
}

/// The users of a number who may be called at `now` (temporary or permanent permission).
pub async fn granted(
    db: &Db,
    number_id: &str,
    now: i64,
    limits: &PermissionLimits,
) -> Result<Vec<PermissionLookup>> {
    let contacts: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT contact_number FROM permission_events WHERE number_id = $1 ORDER BY contact_number",
    )
    .bind(number_id)
    .fetch_all(db.pool())
    .await?;
    let mut granted = Vec::new();
    for (contact,) in contacts {
        let contact = PhoneNumber::parse(&contact)?;
        let found = lookup(db, number_id, &contact, now, limits).await?;
        if found.view.status.allows_calls() {
            granted.push(found);
        }
    }
    Ok(granted)
}
