//! Users and their memberships: who exists, and which role they hold in which workspace.
//!
//! Emails are unique regardless of case (`email_normalized`); the address as typed is kept for
//! display. The last owner of a workspace can be neither demoted nor removed, so no workspace
//! is ever left without someone who can manage it.

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use super::roles::{Role, stored_role};
use crate::ids::new_id;
use crate::storage::Db;
use crate::{Error, Result};

/// A person who can sign in. Never carries the password hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub created_at: i64,
}

/// One of a user's workspaces, as the user sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub workspace_id: String,
    pub workspace_name: String,
    pub role: Role,
    pub joined_at: i64,
}

/// One member of a workspace, as its team list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub joined_at: i64,
}

/// `(as typed but trimmed, normalized)`; a plausible address: one `@`, something either side,
/// no spaces, at most 254 characters.
pub fn parse_email(raw: &str) -> Result<(String, String)> {
    let email = raw.trim();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !domain.starts_with('.')
        });
    if !valid {
        return Err(Error::validation("email", "must be an email address like name@example.com"));
    }
    Ok((email.to_owned(), email.to_lowercase()))
}

/// A display name: trimmed, at most 80 characters; the email's local part when none is given.
pub fn parse_display_name(raw: Option<&str>, email: &str) -> Result<String> {
    let name = raw.map(str::trim).filter(|name| !name.is_empty());
    let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or(email));
    if name.chars().count() > 80 {
        return Err(Error::validation("display_name", "at most 80 characters"));
    }
    Ok(name.to_owned())
}

type UserRow = (String, String, String, i64);

fn user_from((id, email, display_name, created_at): UserRow) -> User {
    User { id, email, display_name, created_at }
}

/// How many users the install has.
pub async fn count(db: &Db) -> Result<i64> {
    let (count,): (i64,) =
        sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT) FROM users").fetch_one(db.pool()).await?;
    Ok(count)
}

pub(crate) async fn insert(
    conn: &mut AnyConnection,
    email: &str,
    normalized: &str,
    display_name: &str,
    password_hash: &str,
    now: i64,
) -> Result<User> {
    let user = User {
        id: new_id(),
        email: email.to_owned(),
        display_name: display_name.to_owned(),
        created_at: now,
    };
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, email_normalized, display_name, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING",
    )
    .bind(&user.id)
    .bind(&user.email)
    .bind(normalized)
    .bind(&user.display_name)
    .bind(password_hash)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected();
    if inserted != 1 {
        return Err(Error::Conflict {
            code: "email_taken",
            message: "an account with this email already exists".into(),
        });
    }
    Ok(user)
}

/// A user by id.
pub async fn get(db: &Db, id: &str) -> Result<User> {
    let row: Option<UserRow> =
        sqlx::query_as("SELECT id, email, display_name, created_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    row.map(user_from).ok_or(Error::NotFound { what: "user" })
}

/// A user and their password hash, by email (any case).
pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<(User, String)>> {
    let normalized = email.trim().to_lowercase();
    let row: Option<(String, String, String, i64, String)> = sqlx::query_as(
        "SELECT id, email, display_name, created_at, password_hash FROM users WHERE email_normalized = $1",
    )
    .bind(&normalized)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|(id, email, display_name, created_at, hash)| {
        (user_from((id, email, display_name, created_at)), hash)
    }))
}

/// The stored password hash of a user.
pub async fn password_hash(db: &Db, user_id: &str) -> Result<String> {
    let row: Option<(String,)> = sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db.pool())
        .await?;
    row.map(|(hash,)| hash).ok_or(Error::NotFound { what: "user" })
}

pub(crate) async fn set_password_hash(
    conn: &mut AnyConnection,
    user_id: &str,
    hash: &str,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Every workspace the user belongs to, oldest membership first.
pub async fn memberships(db: &Db, user_id: &str) -> Result<Vec<Membership>> {
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT m.workspace_id, w.name, m.role, m.created_at FROM memberships m \
         JOIN workspaces w ON w.id = m.workspace_id WHERE m.user_id = $1 ORDER BY m.created_at, m.workspace_id",
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|(workspace_id, workspace_name, role, joined_at)| {
            Ok(Membership { workspace_id, workspace_name, role: stored_role(&role)?, joined_at })
        })
        .collect()
}

/// The user's role in a workspace, or `None` when they are not a member.
pub async fn role_in(db: &Db, user_id: &str, workspace_id: &str) -> Result<Option<Role>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2")
            .bind(workspace_id)
            .bind(user_id)
            .fetch_optional(db.pool())
            .await?;
    row.map(|(role,)| stored_role(&role)).transpose()
}

/// The members of a workspace, oldest first.
pub async fn members(db: &Db, workspace_id: &str) -> Result<Vec<Member>> {
    let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
        "SELECT u.id, u.email, u.display_name, m.role, m.created_at FROM memberships m \
         JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 ORDER BY m.created_at, u.id",
    )
    .bind(workspace_id)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|(user_id, email, display_name, role, joined_at)| {
            Ok(Member { user_id, email, display_name, role: stored_role(&role)?, joined_at })
        })
        .collect()
}

/// One member of a workspace; a user of another workspace is not found.
pub async fn member(db: &Db, workspace_id: &str, user_id: &str) -> Result<Member> {
    members(db, workspace_id)
        .await?
        .into_iter()
        .find(|member| member.user_id == user_id)
        .ok_or(Error::NotFound { what: "member" })
}

/// Makes the user a member with `role`, or sets the role of an existing member.
pub(crate) async fn upsert_membership(
    conn: &mut AnyConnection,
    workspace_id: &str,
    user_id: &str,
    role: Role,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds a new member; an existing member is a conflict (their role is changed separately).
pub(crate) async fn add_member(
    conn: &mut AnyConnection,
    workspace_id: &str,
    user_id: &str,
    role: Role,
    now: i64,
) -> Result<()> {
    let inserted = sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT DO NOTHING",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected();
    if inserted != 1 {
        return Err(already_member());
    }
    Ok(())
}

pub(crate) fn already_member() -> Error {
    Error::Conflict {
        code: "already_member",
        message: "this person is already a member of the workspace".into(),
    }
}

fn last_owner() -> Error {
    Error::Conflict {
        code: "last_owner",
        message: "a workspace needs at least one owner; make someone else owner first".into(),
    }
}

/// Changes a member's role. The last owner cannot be demoted.
pub async fn change_role(db: &Db, workspace_id: &str, user_id: &str, role: Role, now: i64) -> Result<Member> {
    let current = member(db, workspace_id, user_id).await?;
    if current.role == role {
        return Ok(current);
    }
    // One statement, so the owner count it checks is the one it changes.
    let changed = sqlx::query(
        "UPDATE memberships SET role = $1, updated_at = $2 WHERE workspace_id = $3 AND user_id = $4 \
         AND (role <> 'owner' OR (SELECT COUNT(*) FROM memberships o WHERE o.workspace_id = $3 AND o.role = 'owner') > 1)",
    )
    .bind(role.as_str())
    .bind(now)
    .bind(workspace_id)
    .bind(user_id)
    .execute(db.pool())
    .await?
    .rows_affected();
    if changed != 1 {
        return Err(last_owner());
    }
    member(db, workspace_id, user_id).await
}

/// Removes a member and moves their sessions out of the workspace. The last owner cannot be
/// removed.
pub async fn remove_member(db: &Db, workspace_id: &str, user_id: &str) -> Result<Member> {
    let current = member(db, workspace_id, user_id).await?;
    let mut tx = db.pool().begin().await?;
    let removed = sqlx::query(
        "DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2 \
         AND (role <> 'owner' OR (SELECT COUNT(*) FROM memberships o WHERE o.workspace_id = $1 AND o.role = 'owner') > 1)",
    )
    .bind(workspace_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if removed != 1 {
        return Err(last_owner());
    }
    sqlx::query("UPDATE sessions SET workspace_id = NULL WHERE user_id = $1 AND workspace_id = $2")
        .bind(user_id)
        .bind(workspace_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_compared_lowercased() {
        let (email, normalized) = parse_email("  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(email, "Ada.Lovelace@Example.COM");
        assert_eq!(normalized, "ada.lovelace@example.com");
        for bad in ["", "ada", "@example.com", "ada@", "a b@example.com", "a@b@c", "ada@.com"] {
            assert!(parse_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn display_names_default_to_the_local_part() {
        assert_eq!(parse_display_name(None, "ada@example.com").unwrap(), "ada");
        assert_eq!(parse_display_name(Some("  "), "ada@example.com").unwrap(), "ada");
        assert_eq!(parse_display_name(Some(" Ada L "), "ada@example.com").unwrap(), "Ada L");
        assert!(parse_display_name(Some(&"x".repeat(81)), "a@b").is_err());
    }
}
