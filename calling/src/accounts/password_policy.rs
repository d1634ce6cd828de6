//! The password policy: at least [`MIN_LENGTH`] characters, at most [`MAX_LENGTH`], and not
//! one of the passwords people pick first. Plain rules without a runtime, so the sign-up,
//! reset and change-password forms check as you type with the code the server applies.

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

/// The rules in words, for the hint under a new-password field.
pub fn rules_text() -> String {
    format!("At least {MIN_LENGTH} characters, and not a common password.")
}

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
}
