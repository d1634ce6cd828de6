//! API keys: per-workspace credentials for the REST API and the CLI, each acting with a role.
//!
//! A key reads `sb_live_<prefix>_<secret>`. It is shown once, at creation; the database keeps
//! the prefix (to find the row and to show in lists) and the SHA-256 of the whole key.

use serde::Serialize;

use super::roles::{Role, stored_role};
use super::tokens::{hash_token, hashes_match, new_token, random_bytes};
use crate::ids::new_id;
use crate::storage::Db;
use crate::{Error, Result};

const KEY_START: &str = "sb_live_";
/// `last_used_at` is written at most this often.
const TOUCH_EVERY: i64 = 60 * 1000;

/// A key as lists show it (never the secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub role: Role,
    /// `sb_live_<prefix>`, enough to recognise a key.
    pub prefix: String,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

type Row = (String, String, String, String, String, Option<String>, i64, Option<i64>, Option<i64>);
/// A row plus its `key_hash`.
type RowWithHash =
    (String, String, String, String, String, Option<String>, i64, Option<i64>, Option<i64>, String);
const COLUMNS: &str =
    "id, workspace_id, name, role, prefix, created_by, created_at, last_used_at, revoked_at";

fn from_row(row: Row) -> Result<ApiKey> {
    let (id, workspace_id, name, role, prefix, created_by, created_at, last_used_at, revoked_at) = row;
    Ok(ApiKey {
        id,
        workspace_id,
        name,
        role: stored_role(&role)?,
        prefix: format!("{KEY_START}{prefix}"),
        created_by,
        created_at,
        last_used_at,
        revoked_at,
    })
}

/// A key name: trimmed, 1 to 80 characters.
pub fn parse_name(raw: &str) -> Result<String> {
    let name = raw.trim();
    match name.chars().count() {
        0 => Err(Error::validation("name", "an API key needs a name")),
        1..=80 => Ok(name.to_owned()),
        _ => Err(Error::validation("name", "at most 80 characters")),
    }
}

/// Creates a key; returns it in full (the only time it is visible) with its stored form.
pub async fn create(
    db: &Db,
    workspace_id: &str,
    name: &str,
    role: Role,
    created_by: &str,
    now: i64,
) -> Result<(String, ApiKey)> {
    let name = parse_name(name)?;
    let prefix = hex::encode(random_bytes(6));
    let key = format!("{KEY_START}{prefix}_{}", new_token());
    let id = new_id();
    sqlx::query(
        "INSERT INTO api_keys (id, workspace_id, name, role, prefix, key_hash, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(workspace_id)
    .bind(&name)
    .bind(role.as_str())
    .bind(&prefix)
    .bind(hash_token(&key))
    .bind(created_by)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok((key, get(db, workspace_id, &id).await?))
}

/// One key of a workspace; another workspace's key is not found.
pub async fn get(db: &Db, workspace_id: &str, id: &str) -> Result<ApiKey> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_keys WHERE workspace_id = $1 AND id = $2"))
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    row.map(from_row).transpose()?.ok_or(Error::NotFound { what: "API key" })
}

/// A workspace's keys, newest first, revoked ones included.
pub async fn list(db: &Db, workspace_id: &str) -> Result<Vec<ApiKey>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC"
    ))
    .bind(workspace_id)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(from_row).collect()
}

/// Revokes a key at once; revoking twice keeps the first time.
pub async fn revoke(db: &Db, workspace_id: &str, id: &str, now: i64) -> Result<ApiKey> {
    get(db, workspace_id, id).await?;
    sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE workspace_id = $2 AND id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(workspace_id)
    .bind(id)
    .execute(db.pool())
    .await?;
    get(db, workspace_id, id).await
}

/// The live key `presented` is, if any; records its use.
pub async fn authenticate(db: &Db, presented: &str, now: i64) -> Result<Option<ApiKey>> {
    let Some((prefix, _secret)) = presented.strip_prefix(KEY_START).and_then(|rest| rest.split_once('_'))
    else {
        return Ok(None);
    };
    let row: Option<(Row, String)> = {
        let found: Option<RowWithHash> =
            sqlx::query_as(&format!("SELECT {COLUMNS}, key_hash FROM api_keys WHERE prefix = $1"))
                .bind(prefix)
                .fetch_optional(db.pool())
                .await?;
        found.map(|(a, b, c, d, e, f, g, h, i, hash)| ((a, b, c, d, e, f, g, h, i), hash))
    };
    let Some((row, stored_hash)) = row else { return Ok(None) };
    if !hashes_match(&hash_token(presented), &stored_hash) {
        return Ok(None);
    }
    let key = from_row(row)?;
    if key.revoked_at.is_some() {
        return Ok(None);
    }
    if key.last_used_at.is_none_or(|at| now - at >= TOUCH_EVERY) {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&key.id)
            .execute(db.pool())
            .await?;
    }
    Ok(Some(key))
}
