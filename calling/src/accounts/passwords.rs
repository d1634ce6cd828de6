//! Passwords: the policy (length, common passwords) and argon2id hashing.
//!
//! Hashing is deliberately slow (OWASP's argon2id parameters: 19 MiB, 2 passes, 1 lane), so it
//! runs on tokio's blocking pool and never stalls the async workers. Signing in with an unknown
//! email still verifies against a dummy hash, so response times do not reveal which emails
//! have accounts.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::OsRng;

use crate::{Error, Result};

/// Fewer characters than this are refused.
pub const MIN_LENGTH: usize = 12;
/// More than this is refused too: argon2 would happily hash a megabyte per request.
pub const MAX_LENGTH: usize = 256;

/// Passwords people pick first. A 12-character minimum already rules out most leaked lists;
/// these are the long ones that still top them.
const COMMON: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456789123",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "aaaaaaaaaaaa",
    "abcdefghijkl",
    "abc123abc123",
    "administrator",
    "changeme1234",
    "football1234",
    "iloveyou1234",
    "letmein12345",
    "password1234",
    "password12345",
    "password123!",
    "password2024",
    "password2025",
    "password2026",
    "passwordpassword",
    "qwerty123456",
    "qwertyuiop12",
    "qwertyuiopasdf",
    "qazwsxedcrfv",
    "superman1234",
    "welcome12345",
    "welcome2026!",
    "whatsapp1234",
    "switchboard1",
    "switchboard123",
    "correcthorsebatterystaple",
    "trustno1trustno1",
    "zaq12wsxcde3",
    "asdfghjkl123",
    "monkey123456",
    "dragon123456",
    "sunshine1234",
    "princess1234",
    "baseball1234",
    "000000000000",
    "111111111111",
    "987654321098",
];

/// Checks a new password against the policy.
pub fn check_policy(password: &str) -> Result<()> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(Error::validation("password", format!("must be at least {MIN_LENGTH} characters")));
    }
    if length > MAX_LENGTH {
        return Err(Error::validation("password", format!("must be at most {MAX_LENGTH} characters")));
    }
    let lowered = password.to_lowercase();
    let single_character = lowered.chars().all(|c| lowered.starts_with(c));
    if single_character || COMMON.contains(&lowered.as_str()) {
        return Err(Error::validation("password", "is too common; choose one that is harder to guess"));
    }
    Ok(())
}

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

    #[test]
    fn the_policy_wants_twelve_uncommon_characters() {
        assert_eq!(check_policy("short-pass").unwrap_err().code(), "validation_failed");
        assert!(check_policy("Password1234").is_err(), "common, whatever the case");
        assert!(check_policy("zzzzzzzzzzzzzz").is_err());
        assert!(check_policy(&"x1".repeat(200)).is_err());
        assert!(check_policy("violet-harbour-42").is_ok());
        // Twelve characters, not bytes.
        assert!(check_policy("ééééééééééé").is_err());
        assert!(check_policy("éèêëéèêëéèêa").is_ok());
    }

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
