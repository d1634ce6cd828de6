//! Invitations: after setup, the only way into a workspace. An invitation names an email and
//! a role, expires after [`LIFETIME`], and is accepted once with its token (stored hashed).
//!
//! Accepting creates the account (new email) or, for someone who already has one, adds the
//! workspace to it once they prove the account is theirs with its password.

use serde::Serialize;

use super::mail::{self, Delivery, Mailer};
use super::roles::{Role, stored_role};
use super::tokens::{hash_token, new_token};
use super::users::{self, User};
use super::{audit, passwords};
use crate::ids::new_id;
use crate::storage::Db;
use crate::{Error, Result};

/// How long an invitation stays valid (7 days).
pub const LIFETIME: i64 = 7 * 24 * 60 * 60 * 1000;

/// An invitation as the team page shows it (never its token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Invitation {
    pub id: String,
    pub workspace_id: String,
    pub email: String,
    pub role: Role,
    pub invited_by: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

type Row = (String, String, String, String, Option<String>, i64, i64, Option<i64>, Option<i64>);
const COLUMNS: &str =
    "id, workspace_id, email, role, invited_by, created_at, expires_at, accepted_at, revoked_at";

fn from_row(row: Row) -> Result<Invitation> {
    let (id, workspace_id, email, role, invited_by, created_at, expires_at, accepted_at, revoked_at) = row;
    Ok(Invitation {
        id,
        workspace_id,
        email,
        role: stored_role(&role)?,
        invited_by,
        created_at,
        expires_at,
        accepted_at,
        revoked_at,
    })
}

fn invalid_token() -> Error {
    Error::Unauthenticated {
        code: "invalid_token",
        message: "this invitation is invalid, used or expired".into(),
    }
}

/// Invites `email` to the workspace with `role`; returns the token (shown once).
pub async fn create(
    db: &Db,
    workspace_id: &str,
    email: &str,
    role: Role,
    invited_by: &str,
    now: i64,
) -> Result<(String, Invitation)> {
    let (email, normalized) = users::parse_email(email)?;
    if let Some((user, _)) = users::find_by_email(db, &normalized).await?
        && users::role_in(db, &user.id, workspace_id).await?.is_some()
    {
        return Err(users::already_member());
    }
    let token = new_token();
    let id = new_id();
    sqlx::query(
        "INSERT INTO invitations (id, workspace_id, email, email_normalized, role, token_hash, invited_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(workspace_id)
    .bind(&email)
    .bind(&normalized)
    .bind(role.as_str())
    .bind(hash_token(&token))
    .bind(invited_by)
    .bind(now)
    .bind(now + LIFETIME)
    .execute(db.pool())
    .await?;
    Ok((token, get(db, workspace_id, &id).await?))
}

/// Emails `invitation` with its `link` to the invited person, naming the workspace and who
/// invited them (`inviter_user_id`; an API key is "the workspace's team"). Not sending is an
/// answer, not an error: the invitation stands and its link can be passed on by hand.
pub async fn email(
    db: &Db,
    mailer: &Mailer,
    invitation: &Invitation,
    inviter_user_id: Option<&str>,
    link: &str,
) -> Result<Delivery> {
    if !mailer.is_configured() {
        return Ok(Delivery::NotConfigured);
    }
    let workspace = crate::accounts::workspace(db, &invitation.workspace_id).await?;
    let inviter = match inviter_user_id {
        Some(id) => users::get(db, id).await?.display_name,
        None => format!("The {} team", workspace.name),
    };
    let message = mail::invitation(
        &invitation.email,
        &workspace.name,
        &inviter,
        invitation.role,
        link,
        invitation.expires_at,
    );
    Ok(mailer.send(&message).await)
}

/// One invitation of a workspace; another workspace's is not found.
pub async fn get(db: &Db, workspace_id: &str, id: &str) -> Result<Invitation> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM invitations WHERE workspace_id = $1 AND id = $2"))
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    row.map(from_row).transpose()?.ok_or(Error::NotFound { what: "invitation" })
}

/// A workspace's invitations, newest first.
pub async fn list(db: &Db, workspace_id: &str) -> Result<Vec<Invitation>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM invitations WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC"
    ))
    .bind(workspace_id)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(from_row).collect()
}

/// Withdraws a pending invitation.
pub async fn revoke(db: &Db, workspace_id: &str, id: &str, now: i64) -> Result<Invitation> {
    get(db, workspace_id, id).await?;
    sqlx::query(
        "UPDATE invitations SET revoked_at = $1 WHERE workspace_id = $2 AND id = $3 \
         AND revoked_at IS NULL AND accepted_at IS NULL",
    )
    .bind(now)
    .bind(workspace_id)
    .bind(id)
    .execute(db.pool())
    .await?;
    get(db, workspace_id, id).await
}

/// What the invited person sends to accept.
#[derive(Clone, Debug)]
pub struct Acceptance {
    pub token: String,
    pub display_name: Option<String>,
    /// The new account's password, or the existing account's current one.
    pub password: String,
}

/// Accepts an invitation: the user (created when new) becomes a member with the invited role.
/// Returns the user, the workspace id and the role.
pub async fn accept(
    db: &Db,
    acceptance: Acceptance,
    ip: Option<&str>,
    now: i64,
) -> Result<(User, String, Role)> {
    let row: Option<(Row, String)> = {
        type Full =
            (String, String, String, String, Option<String>, i64, i64, Option<i64>, Option<i64>, String);
        let found: Option<Full> = sqlx::query_as(&format!(
            "SELECT {COLUMNS}, email_normalized FROM invitations WHERE token_hash = $1"
        ))
        .bind(hash_token(&acceptance.token))
        .fetch_optional(db.pool())
        .await?;
        found.map(|(a, b, c, d, e, f, g, h, i, normalized)| ((a, b, c, d, e, f, g, h, i), normalized))
    };
    let Some((row, normalized)) = row else { return Err(invalid_token()) };
    let invitation = from_row(row)?;
    if invitation.accepted_at.is_some() || invitation.revoked_at.is_some() || now >= invitation.expires_at {
        return Err(invalid_token());
    }

    let existing = users::find_by_email(db, &normalized).await?;
    let new_account = match &existing {
        Some((_, stored)) => {
            if !passwords::verify(&acceptance.password, Some(stored)).await? {
                return Err(Error::Unauthenticated {
                    code: "invalid_credentials",
                    message: "an account with this email exists; give its password to accept".into(),
                });
            }
            None
        }
        None => {
            passwords::check_policy(&acceptance.password)?;
            let display_name =
                users::parse_display_name(acceptance.display_name.as_deref(), &invitation.email)?;
            Some((display_name, passwords::hash(&acceptance.password).await?))
        }
    };

    let mut tx = db.pool().begin().await?;
    // Claim the invitation first: of two concurrent accepts, exactly one passes this line.
    let claimed = sqlx::query(
        "UPDATE invitations SET accepted_at = $1 WHERE id = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(&invitation.id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed != 1 {
        return Err(invalid_token());
    }
    let user = match (existing, new_account) {
        (Some((user, _)), _) => user,
        (None, Some((display_name, hash))) => {
            users::insert(&mut tx, &invitation.email, &normalized, &display_name, &hash, now).await?
        }
        (None, None) => return Err(Error::internal("invitation accepted without an account")),
    };
    users::add_member(&mut tx, &invitation.workspace_id, &user.id, invitation.role, now).await?;
    sqlx::query("UPDATE invitations SET accepted_by = $1 WHERE id = $2")
        .bind(&user.id)
        .bind(&invitation.id)
        .execute(&mut *tx)
        .await?;
    audit::record_in(
        &mut tx,
        audit::NewEntry {
            workspace_id: Some(&invitation.workspace_id),
            actor: &format!("user:{}", user.id),
            action: "invitation.accepted",
            target: Some(&format!("invitation:{}", invitation.id)),
            details: serde_json::json!({ "email": user.email, "role": invitation.role }),
            ip,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((user, invitation.workspace_id, invitation.role))
}
