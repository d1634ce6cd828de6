//! Workspaces: the tenant every row belongs to, and its profile (today: its name, which the
//! team sees in the top bar, the workspace switcher and the emails Switchboard sends).

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

/// Renames a workspace; returns it with the name it had before.
pub async fn rename(db: &Db, id: &str, name: &str) -> Result<(Workspace, String)> {
    let name = parse_name(name)?;
    let mut tx = db.pool().begin().await?;
    let before: Option<(String,)> =
        sqlx::query_as("SELECT name FROM workspaces WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
    let (before,) = before.ok_or(Error::NotFound { what: "workspace" })?;
    sqlx::query("UPDATE workspaces SET name = $1 WHERE id = $2")
        .bind(&name)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let workspace: Workspace = sqlx::query_as("SELECT id, name, created_at FROM workspaces WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((workspace, before))
}

/// The oldest workspace of the install, if any.
pub async fn first(db: &Db) -> Result<Option<Workspace>> {
    Ok(sqlx::query_as("SELECT id, name, created_at FROM workspaces ORDER BY created_at, id LIMIT 1")
        .fetch_optional(db.pool())
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rename_is_checked_and_reports_the_old_name() {
        for test_db in crate::testing::every_database().await {
            let db = &test_db.db;
            let workspace = create(db, "Acme", 1).await.unwrap();
            let (renamed, before) = rename(db, &workspace.id, "  Acme Support ").await.unwrap();
            assert_eq!((renamed.name.as_str(), before.as_str()), ("Acme Support", "Acme"));
            assert_eq!(rename(db, &workspace.id, " ").await.unwrap_err().code(), "validation_failed");
            assert_eq!(rename(db, "nope", "X").await.unwrap_err().code(), "not_found");
            assert_eq!(first(db).await.unwrap().unwrap().name, "Acme Support");
        }
    }
}
