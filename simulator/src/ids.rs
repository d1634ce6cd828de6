//! Opaque identifiers in Meta's shapes: `wacid.` call ids and `wamid.` message ids are
//! base64url-like and may contain `-`, `_` and `=`, so a client that mangles them is caught.

use std::sync::atomic::{AtomicU64, Ordering};

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static COUNTER: AtomicU64 = AtomicU64::new(1);

fn b64url(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 16);
    while v.len() < n {
        v.extend_from_slice(uuid::Uuid::now_v7().as_bytes());
        v.extend_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    }
    v.truncate(n);
    v
}

/// A new call id, `wacid.` + 32 base64url bytes ending in `==` like Meta's.
pub fn wacid() -> String {
    format!("wacid.HBgL{}", b64url(&random_bytes(22)))
}

/// A new message id.
pub fn wamid() -> String {
    format!("wamid.HBgL{}", b64url(&random_bytes(22)))
}

/// A Graph trace id.
pub fn fbtrace_id() -> String {
    b64url(&random_bytes(9))
}

/// A numeric object id (templates).
pub fn numeric_id() -> String {
    let b = random_bytes(8);
    let n = u64::from_be_bytes(b[..8].try_into().unwrap_or([1; 8])) % 900_000_000_000_000;
    format!("{}", 100_000_000_000_000 + n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_unique_and_shaped_like_meta() {
        let a = super::wacid();
        let b = super::wacid();
        assert_ne!(a, b);
        assert!(a.starts_with("wacid."));
        assert!(a.ends_with("=="), "{a}");
        assert!(super::wamid().starts_with("wamid."));
    }
}
