//! Identifiers: UUIDv7 strings, so ids sort by creation time in every dialect.

/// A new time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
