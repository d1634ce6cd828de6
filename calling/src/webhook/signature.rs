//! The `X-Hub-Signature-256` check on Meta's webhook POSTs.
//!
//! Meta signs the *raw* body with HMAC-SHA256 keyed by the app secret and sends
//! `sha256=<hex>` (reference §3.9). The check runs on the bytes as received, before any JSON
//! parsing, and compares in constant time so the response time leaks nothing about the digest.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header Meta puts the signature in.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

const PREFIX: &str = "sha256=";

/// Why a delivery's signature was not accepted. Each case is distinct so logs tell a
/// misconfigured proxy (missing) from a wrong app secret (mismatch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Hub-Signature-256` header at all.
    #[error("the X-Hub-Signature-256 header is missing")]
    Missing,
    /// The header is not `sha256=` followed by 64 hex digits.
    #[error("the X-Hub-Signature-256 header is not sha256=<64 hex digits>")]
    Malformed,
    /// Well-formed, but not the HMAC of this body with our app secret.
    #[error("the X-Hub-Signature-256 signature does not match the body")]
    Mismatch,
}

/// Checks `header` (the header's value, if present) against `raw_body` signed with
/// `app_secret`.
pub fn verify_signature(
    app_secret: &[u8],
    raw_body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.map(str::trim).filter(|value| !value.is_empty()).ok_or(SignatureError::Missing)?;
    let hex_digest = header
        .strip_prefix(PREFIX)
        .or_else(|| {
            // Some proxies upper-case header values; the prefix is not part of the digest.
            header.get(..PREFIX.len()).filter(|prefix| prefix.eq_ignore_ascii_case(PREFIX))?;
            header.get(PREFIX.len()..)
        })
        .ok_or(SignatureError::Malformed)?;
    let mut claimed = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut claimed).map_err(|_| SignatureError::Malformed)?;
    let expected = digest(app_secret, raw_body);
    if bool::from(expected.ct_eq(&claimed)) { Ok(()) } else { Err(SignatureError::Mismatch) }
}

/// The header value Meta would send for `raw_body`; the simulator and tests sign with it.
pub fn sign(app_secret: &[u8], raw_body: &[u8]) -> String {
    format!("{PREFIX}{}", hex::encode(digest(app_secret, raw_body)))
}

fn digest(app_secret: &[u8], raw_body: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(app_secret).expect("HMAC accepts keys of any length");
    mac.update(raw_body);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"app-secret";
    const BODY: &[u8] = br#"{"object":"whatsapp_business_account","entry":[]}"#;

    #[test]
    fn accepts_meta_signature() {
        let header = sign(SECRET, BODY);
        assert!(header.starts_with("sha256=") && header.len() == 7 + 64);
        assert_eq!(verify_signature(SECRET, BODY, Some(&header)), Ok(()));
    }

    #[test]
    fn known_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let header = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(verify_signature(b"Jefe", b"what do ya want for nothing?", Some(header)), Ok(()));
    }

    #[test]
    fn accepts_uppercase_hex_and_prefix() {
        let header = sign(SECRET, BODY).to_uppercase();
        assert_eq!(verify_signature(SECRET, BODY, Some(&header)), Ok(()));
    }

    #[test]
    fn missing_header() {
        assert_eq!(verify_signature(SECRET, BODY, None), Err(SignatureError::Missing));
        assert_eq!(verify_signature(SECRET, BODY, Some("  ")), Err(SignatureError::Missing));
    }

    #[test]
    fn malformed_header() {
        for header in [
            "md5=abc",
            "sha256=",
            "sha256=zz",
            "sha1=5bdcc146bf60754e6a042426089575c75a003f08",
            "sha256=abcd",
        ] {
            assert_eq!(
                verify_signature(SECRET, BODY, Some(header)),
                Err(SignatureError::Malformed),
                "{header}"
            );
        }
    }

    #[test]
    fn wrong_secret_or_body_mismatches() {
        let header = sign(SECRET, BODY);
        assert_eq!(verify_signature(b"other", BODY, Some(&header)), Err(SignatureError::Mismatch));
        assert_eq!(verify_signature(SECRET, b"{}", Some(&header)), Err(SignatureError::Mismatch));
    }

    proptest! {
        #[test]
        fn only_the_signed_body_verifies(body in proptest::collection::vec(any::<u8>(), 0..256), flip in any::<usize>()) {
            let header = sign(SECRET, &body);
            prop_assert_eq!(verify_signature(SECRET, &body, Some(&header)), Ok(()));
            if !body.is_empty() {
                let mut tampered = body.clone();
                tampered[flip % body.len()] ^= 0x01;
                prop_assert_eq!(verify_signature(SECRET, &tampered, Some(&header)), Err(SignatureError::Mismatch));
            }
        }
    }
}
