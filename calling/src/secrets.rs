//! Secrets at rest: WhatsApp access tokens, app secrets and webhook verify tokens are stored
//! encrypted (XChaCha20-Poly1305) with a 32-byte key that lives outside the database.
//!
//! A stolen database file alone reveals no credential. The sealed form is
//! `v1:` + base64(24-byte random nonce ‖ ciphertext ‖ tag); the version prefix lets the key or
//! algorithm change later without guessing.

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as BASE64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::{Error, Result};

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;

/// The key that seals and opens stored secrets. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct SecretKey(XChaCha20Poly1305);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// A key from 64 hex characters (what `SECRET_KEY` holds).
    pub fn from_hex(raw: &str) -> Result<Self> {
        let bytes = hex::decode(raw.trim())
            .ok()
            .filter(|bytes| bytes.len() == 32)
            .ok_or_else(|| Error::validation("SECRET_KEY", "must be 64 hex characters (32 bytes)"))?;
        Ok(SecretKey(XChaCha20Poly1305::new_from_slice(&bytes).map_err(Error::internal)?))
    }

    /// A fresh random key, as 64 hex characters.
    pub fn generate_hex() -> String {
        hex::encode(XChaCha20Poly1305::generate_key(&mut OsRng))
    }

    /// The key stored in `path`, created (readable by the owner only) when missing. This keeps
    /// `./dev run` zero-set-up; production passes `SECRET_KEY` instead.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(raw) => SecretKey::from_hex(&raw),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let key = SecretKey::generate_hex();
                if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(Error::internal)?;
                }
                write_private(path, &key)?;
                tracing::warn!(path = %path.display(), "generated a new secret key file; set SECRET_KEY in production");
                SecretKey::from_hex(&key)
            }
            Err(err) => Err(Error::Unavailable { message: format!("cannot read {}: {err}", path.display()) }),
        }
    }

    /// Encrypts `plaintext` with a fresh random nonce.
    pub fn seal(&self, plaintext: &str) -> Result<String> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext =
            self.0.encrypt(&nonce, plaintext.as_bytes()).map_err(|_| Error::internal("encryption failed"))?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(format!("{PREFIX}{}", BASE64.encode(sealed)))
    }

    /// Decrypts what [`SecretKey::seal`] produced; fails if it was tampered with or sealed
    /// with another key.
    pub fn open(&self, sealed: &str) -> Result<String> {
        let undecipherable = || Error::internal("a stored secret cannot be decrypted (wrong SECRET_KEY?)");
        let bytes =
            sealed.strip_prefix(PREFIX).and_then(|b64| BASE64.decode(b64).ok()).ok_or_else(undecipherable)?;
        if bytes.len() < NONCE_LEN {
            return Err(undecipherable());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plaintext =
            self.0.decrypt(XNonce::from_slice(nonce), ciphertext).map_err(|_| undecipherable())?;
        String::from_utf8(plaintext).map_err(|_| undecipherable())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(|err| {
            Error::Unavailable { message: format!("cannot create {}: {err}", path.display()) }
        })?;
    file.write_all(contents.as_bytes()).map_err(Error::internal)
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).map_err(Error::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::from_hex(&SecretKey::generate_hex()).unwrap()
    }

    #[test]
    fn sealing_round_trips_and_never_repeats() {
        let key = key();
        let a = key.seal("EAAG-token").unwrap();
        let b = key.seal("EAAG-token").unwrap();
        assert_ne!(a, b, "a fresh nonce every time");
        assert!(!a.contains("EAAG"));
        assert_eq!(key.open(&a).unwrap(), "EAAG-token");
    }

    #[test]
    fn tampering_or_another_key_is_refused() {
        let ours = key();
        let sealed = ours.seal("app-secret").unwrap();
        assert!(key().open(&sealed).is_err());
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(ours.open(std::str::from_utf8(&tampered).unwrap()).is_err());
        assert!(ours.open("plaintext").is_err());
        assert!(ours.open("v1:").is_err());
    }

    #[test]
    fn keys_must_be_32_bytes_of_hex() {
        assert!(SecretKey::from_hex("abcd").is_err());
        assert!(SecretKey::from_hex(&"zz".repeat(32)).is_err());
        assert!(SecretKey::from_hex(&"ab".repeat(32)).is_ok());
        assert_eq!(format!("{:?}", key()), "SecretKey(..)");
    }

    #[test]
    fn a_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/secret.key");
        let first = SecretKey::load_or_create(&path).unwrap();
        let sealed = first.seal("x").unwrap();
        let again = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
