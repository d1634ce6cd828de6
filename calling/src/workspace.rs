//! Workspaces: the tenant every row belongs to.

use serde::{Deserialize, Serialize};

use crate::ids::new_id;
use crate::storage::Db;
use crate::{Error, Result};

/// A tenant: one business with its numbers, team, templates and wallet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

/// A workspace name: trimmed, 1 to 80 characters.
pub fn parse_name(raw: &str) -> Result<String> {
    let name = raw.trim();
    match name.chars().count() {
        0 => Err(Error::validation("name", "a workspace needs a name")),
        1..=80 => Ok(name.to_owned()),
        _ => Err(Error::validation("name", "at most 80 characters")),
    }
}

/// Creates a workspace.
pub async fn create(db: &Db, name: &str, now: i64) -> Result<Workspace> {
    let workspace = Workspace { id: new_id(), name: parse_name(name)?, created_at: now };
    sqlx::query("INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&workspace.id)
        .bind(&workspace.name)
        .bind(workspace.created_at)
        .execute(db.pool())
        .await?;
    Ok(workspace)
}

/// The oldest workspace of the install, if any.
pub async fn first(db: &Db) -> Result<Option<Workspace>> {
    Ok(sqlx::query_as("SELECT id, name, created_at FROM workspaces ORDER BY created_at, id LIMIT 1")
        .fetch_optional(db.pool())
        .await?)
}
