//! Percent-encoding of one query or form value, shared by the call links, the browser's
//! filter URLs and the form bodies the page posts.

/// `value` with every byte but the unreserved ones (letters, digits, `-_.~`) as `%XX`: safe as a
/// query value and as a field of an `application/x-www-form-urlencoded` body.
pub fn encode_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::encode_value;

    #[test]
    fn only_unreserved_characters_pass_through() {
        assert_eq!(encode_value("wamid.ABC_-~"), "wamid.ABC_-~");
        assert_eq!(encode_value("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode_value("+44 7700"), "%2B44%207700");
    }
}
