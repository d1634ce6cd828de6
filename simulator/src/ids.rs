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
    // uuid v7 = time + randomness; SplitMix64 spreads it so ids look as opaque as Meta's.
    let seed = uuid::Uuid::now_v7().as_u128();
    let mut x =
        (seed as u64) ^ ((seed >> 64) as u64) ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(32);
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        v.extend_from_slice(&(z ^ (z >> 31)).to_be_bytes());
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
