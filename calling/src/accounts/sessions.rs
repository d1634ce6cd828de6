//! Browser sessions: an opaque random token in a cookie, only its SHA-256 in the database.
//!
//! A session ends after [`IDLE_TIMEOUT`] without use or [`ABSOLUTE_LIFETIME`] after sign-in,
//! whichever comes first. Signing in always mints a new token, so a token planted before
//! sign-in (session fixation) is worthless. Each session remembers the workspace it works in;
//! the role is read from the membership on every request, so a role change applies at once.

use serde::Serialize;

use super::roles::{Role, stored_role};
use super::tokens::{hash_token, new_token};
use super::users::{self, User};
use super::{audit, passwords};
use crate::ids::new_id;
use crate::storage::Db;
use crate::{Error, Result};

/// A session unused for this long ends (12 hours).
pub const IDLE_TIMEOUT: i64 = 12 * 60 * 60 * 1000;
/// A session ends this long after sign-in, however busy (14 days).
pub const ABSOLUTE_LIFETIME: i64 = 14 * 24 * 60 * 60 * 1000;
/// `last_seen_at` is written at most this often, so reads don't all become writes.
const TOUCH_EVERY: i64 = 60 * 1000;

/// A stored session (never its token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    /// The workspace it currently works in; `None` when the user belongs to none.
    pub workspace_id: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// A valid session with its user and role in the current workspace.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub session: Session,
    pub user: User,
    /// `None` when the session has no workspace or the user left it.
    pub role: Option<Role>,
}

/// Where a sign-in came from, for the session row and the audit log.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Starts a session for `user_id` in their first workspace; returns the token (shown once).
pub async fn create(db: &Db, user_id: &str, origin: &Origin, now: i64) -> Result<(String, Session)> {
    // Sessions left to expire unused are only deleted when seen; sweep the user's at sign-in
    // so abandoned browsers do not pile up.
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND (expires_at <= $2 OR last_seen_at <= $3)")
        .bind(user_id)
        .bind(now)
        .bind(now - IDLE_TIMEOUT)
        .execute(db.pool())
        .await?;
    let workspace_id = users::memberships(db, user_id).await?.into_iter().next().map(|m| m.workspace_id);
    let token = new_token();
    let session = Session {
        id: new_id(),
        user_id: user_id.to_owned(),
        workspace_id,
        created_at: now,
        last_seen_at: now,
        expires_at: now + ABSOLUTE_LIFETIME,
    };
    let user_agent = origin.user_agent.as_deref().map(|ua| ua.chars().take(300).collect::<String>());
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, user_id, workspace_id, created_at, last_seen_at, expires_at, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)",
    )
    .bind(&session.id)
    .bind(hash_token(&token))
    .bind(&session.user_id)
    .bind(&session.workspace_id)
    .bind(now)
    .bind(session.expires_at)
    .bind(&origin.ip)
    .bind(user_agent)
    .execute(db.pool())
    .await?;
    Ok((token, session))
}

/// Checks an email and password and starts a session. Unknown emails and wrong passwords get
/// the same answer in the same time.
pub async fn login(
    db: &Db,
    email: &str,
    password: &str,
    origin: &Origin,
    now: i64,
) -> Result<(String, SignedIn)> {
    let found = users::find_by_email(db, email).await?;
    let matches = passwords::verify(password, found.as_ref().map(|(_, hash)| hash.as_str())).await?;
    let user = match found {
        Some((user, _)) if matches => user,
        _ => {
            return Err(Error::Unauthenticated {
                code: "invalid_credentials",
                message: "wrong email or password".into(),
            });
        }
    };
    let (token, _) = create(db, &user.id, origin, now).await?;
    audit::record(
        db,
        audit::NewEntry {
            workspace_id: None,
            actor: &format!("user:{}", user.id),
            action: "session.login",
            target: None,
            details: serde_json::json!({ "user_agent": origin.user_agent }),
            ip: origin.ip.as_deref(),
        },
        now,
    )
    .await?;
    let signed_in =
        authenticate(db, &token, now).await?.ok_or_else(|| Error::internal("a new session is not valid"))?;
    Ok((token, signed_in))
}

/// The session a token belongs to, if it is valid now; expired sessions are deleted.
pub async fn authenticate(db: &Db, token: &str, now: i64) -> Result<Option<SignedIn>> {
    type Row = (String, String, Option<String>, i64, i64, i64, String, String, i64);
    let row: Option<Row> = sqlx::query_as(
        "SELECT s.id, s.user_id, s.workspace_id, s.created_at, s.last_seen_at, s.expires_at, \
         u.email, u.display_name, u.created_at FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1",
    )
    .bind(hash_token(token))
    .fetch_optional(db.pool())
    .await?;
    let Some((
        id,
        user_id,
        workspace_id,
        created_at,
        last_seen_at,
        expires_at,
        email,
        display_name,
        user_created,
    )) = row
    else {
        return Ok(None);
    };
    if now >= expires_at || now >= last_seen_at + IDLE_TIMEOUT {
        delete(db, &id).await?;
        return Ok(None);
    }
    let mut last_seen_at = last_seen_at;
    if now - last_seen_at >= TOUCH_EVERY {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&id)
            .execute(db.pool())
            .await?;
        last_seen_at = now;
    }
    let role = match &workspace_id {
        Some(workspace_id) => {
            let row: Option<(String,)> =
                sqlx::query_as("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                    .bind(workspace_id)
                    .bind(&user_id)
                    .fetch_optional(db.pool())
                    .await?;
            row.map(|(role,)| stored_role(&role)).transpose()?
        }
        None => None,
    };
    Ok(Some(SignedIn {
        session: Session { id, user_id: user_id.clone(), workspace_id, created_at, last_seen_at, expires_at },
        user: User { id: user_id, email, display_name, created_at: user_created },
        role,
    }))
}

/// Ends one session (logout).
pub async fn delete(db: &Db, session_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE id = $1").bind(session_id).execute(db.pool()).await?;
    Ok(())
}

/// Ends every session of a user (logout everywhere, password change or reset), except
/// `keep` when given. Returns how many ended.
pub async fn delete_all_for_user(db: &Db, user_id: &str, keep: Option<&str>) -> Result<u64> {
    let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
        .bind(user_id)
        .bind(keep.unwrap_or(""))
        .execute(db.pool())
        .await?
        .rows_affected();
    Ok(ended)
}

/// Moves a session to another of the user's workspaces. A workspace the user does not belong
/// to is not found.
pub async fn switch_workspace(db: &Db, session: &Session, workspace_id: &str) -> Result<Role> {
    let role = users::role_in(db, &session.user_id, workspace_id)
        .await?
        .ok_or(Error::NotFound { what: "workspace" })?;
    sqlx::query("UPDATE sessions SET workspace_id = $1 WHERE id = $2 AND user_id = $3")
        .bind(workspace_id)
        .bind(&session.id)
        .bind(&session.user_id)
        .execute(db.pool())
        .await?;
    Ok(role)
}

/// Changes a signed-in user's password after checking the current one; every other session
/// of theirs ends.
pub async fn change_password(db: &Db, session: &Session, current: &str, new: &str, now: i64) -> Result<()> {
    let stored = users::password_hash(db, &session.user_id).await?;
    if !passwords::verify(current, Some(&stored)).await? {
        return Err(Error::validation("current_password", "is not your current password"));
    }
    passwords::check_policy(new)?;
    let hash = passwords::hash(new).await?;
    let mut conn = db.pool().acquire().await?;
    users::set_password_hash(&mut conn, &session.user_id, &hash, now).await?;
    drop(conn);
    delete_all_for_user(db, &session.user_id, Some(&session.id)).await?;
    Ok(())
}
