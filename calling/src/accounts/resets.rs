//! Password resets by a one-time token that expires after [`LIFETIME`]. Completing a reset
//! ends every session of the user, so whoever knew the old password is signed out.

use super::tokens::{hash_token, new_token};
use super::users::{self, User};
use super::{passwords, sessions};
use crate::ids::new_id;
use crate::storage::Db;
use crate::{Error, Result};

/// How long a reset link works (1 hour).
pub const LIFETIME: i64 = 60 * 60 * 1000;

fn invalid_token() -> Error {
    Error::Unauthenticated {
        code: "invalid_token",
        message: "this reset link is invalid, used or expired".into(),
    }
}

/// Starts a reset for `email`: the token to send and the user, or `None` when no account has
/// that email (callers answer the same either way).
pub async fn request(db: &Db, email: &str, now: i64) -> Result<Option<(String, User)>> {
    let Some((user, _)) = users::find_by_email(db, email).await? else {
        return Ok(None);
    };
    let token = new_token();
    sqlx::query("INSERT INTO password_resets (id, user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(new_id())
        .bind(&user.id)
        .bind(hash_token(&token))
        .bind(now)
        .bind(now + LIFETIME)
        .execute(db.pool())
        .await?;
    Ok(Some((token, user)))
}

/// Sets a new password with a reset token; the token and every other pending reset of the
/// user stop working, and every session ends.
pub async fn confirm(db: &Db, token: &str, new_password: &str, now: i64) -> Result<User> {
    let row: Option<(String, String, i64, Option<i64>)> =
        sqlx::query_as("SELECT id, user_id, expires_at, used_at FROM password_resets WHERE token_hash = $1")
            .bind(hash_token(token))
            .fetch_optional(db.pool())
            .await?;
    let Some((id, user_id, expires_at, used_at)) = row else { return Err(invalid_token()) };
    if used_at.is_some() || now >= expires_at {
        return Err(invalid_token());
    }
    passwords::check_policy(new_password)?;
    let hash = passwords::hash(new_password).await?;
    let mut tx = db.pool().begin().await?;
    let claimed = sqlx::query("UPDATE password_resets SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(&id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if claimed != 1 {
        return Err(invalid_token());
    }
    sqlx::query("UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
    users::set_password_hash(&mut tx, &user_id, &hash, now).await?;
    tx.commit().await?;
    sessions::delete_all_for_user(db, &user_id, None).await?;
    users::get(db, &user_id).await
}
