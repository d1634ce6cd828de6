//! The audit log: who did what to whom, from where and when. Append-only — this module
//! inserts and reads, and has no way to change or delete a row.

use serde::Serialize;
use serde_json::Value;
use sqlx::AnyConnection;

use crate::Result;
use crate::ids::new_id;
use crate::storage::Db;

/// A row to append. `actor` is `user:<id>`, `api_key:<id>`, `cli` or `anonymous`.
#[derive(Clone, Debug)]
pub struct NewEntry<'a> {
    pub workspace_id: Option<&'a str>,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub details: Value,
    pub ip: Option<&'a str>,
}

/// The address of the client behind a request, as the server saw it: the server puts it in
/// the request for the pages' server functions, which record it with their audit entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientIp(pub String);

/// A stored row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    pub id: String,
    pub workspace_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub details: Value,
    pub ip: Option<String>,
    pub at: i64,
}

/// Appends an entry.
pub async fn record(db: &Db, entry: NewEntry<'_>, now: i64) -> Result<()> {
    let mut conn = db.pool().acquire().await?;
    record_in(&mut conn, entry, now).await
}

/// Appends an entry inside a caller's transaction, so it commits with what it describes.
pub(crate) async fn record_in(conn: &mut AnyConnection, entry: NewEntry<'_>, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, workspace_id, actor, action, target, details, ip, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(entry.workspace_id)
    .bind(entry.actor)
    .bind(entry.action)
    .bind(entry.target)
    .bind(entry.details.to_string())
    .bind(entry.ip)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

type Row = (String, Option<String>, String, String, Option<String>, String, Option<String>, i64);

fn entry_from_row((id, workspace_id, actor, action, target, details, ip, at): Row) -> Entry {
    Entry {
        id,
        workspace_id,
        actor,
        action,
        target,
        details: serde_json::from_str(&details).unwrap_or(Value::Null),
        ip,
        at,
    }
}

/// A workspace's entries, newest first (at most `limit`).
pub async fn list(db: &Db, workspace_id: &str, limit: i64) -> Result<Vec<Entry>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, workspace_id, actor, action, target, details, ip, at FROM audit_log \
         WHERE workspace_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(workspace_id)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(entry_from_row).collect())
}

/// Every entry whose action is `action`, newest first (operators and tests).
pub async fn by_action(db: &Db, action: &str) -> Result<Vec<Entry>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, workspace_id, actor, action, target, details, ip, at FROM audit_log \
         WHERE action = $1 ORDER BY at DESC, id DESC",
    )
    .bind(action)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(entry_from_row).collect())
}
