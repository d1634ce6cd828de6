//! Passwords: argon2id hashing, and the policy (length, common passwords) from
//! [`super::password_policy`], re-exported here.
//!
//! Hashing is deliberately slow (OWASP's argon2id parameters: 19 MiB, 2 passes, 1 lane), so it
//! runs on tokio's blocking pool and never stalls the async workers. Signing in with an unknown
//! email still verifies against a dummy hash, so response times do not reveal which emails
//! have accounts.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::OsRng;

pub use super::password_policy::{MAX_LENGTH, MIN_LENGTH, check_policy};
use crate::{Error, Result};

fn hasher() -> Argon2<'static> {
    // m = 19456 KiB, t = 2, p = 1: OWASP's recommended minimum for argon2id.
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (argon2id PHC string) on the blocking pool.
pub async fn hash(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_now(&password)).await.map_err(Error::internal)?
}

fn hash_now(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| Error::internal(format!("argon2 hash: {err}")))
}

/// Whether `password` matches `stored`; `None` verifies against a dummy hash and is always
/// false, taking as long as a real check.
pub async fn verify(password: &str, stored: Option<&str>) -> Result<bool> {
    let password = password.to_owned();
    let stored = stored.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let real = stored.is_some();
        let stored = stored.as_deref().unwrap_or(&DUMMY_HASH);
        let parsed =
            PasswordHash::new(stored).map_err(|err| Error::internal(format!("stored hash: {err}")))?;
        let matches = hasher().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(real && matches)
    })
    .await
    .map_err(Error::internal)?
}

/// A hash of a random password, made once, for unknown emails.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let random = super::tokens::new_token();
    hash_now(&random).expect("hashing a random password")
});

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let stored = hash("violet-harbour-42").await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(verify("violet-harbour-42", Some(&stored)).await.unwrap());
        assert!(!verify("violet-harbour-43", Some(&stored)).await.unwrap());
        assert!(!verify("violet-harbour-42", None).await.unwrap(), "the dummy never matches");
        assert_ne!(stored, hash("violet-harbour-42").await.unwrap(), "a fresh salt every time");
    }
}
