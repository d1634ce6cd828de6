//! The encoding of every server function's answer: JSON, as Leptos' own `Json`, but read in
//! the browser from a `&str` rather than from bytes.
//!
//! Why: `serde_json` compiles one deserializer per type *and per reader*. Leptos reads a
//! resource's server-rendered value with `serde_json::from_str` and a server function's answer
//! with `serde_json::from_slice`, so every type that is both (most of them: a page loads a
//! resource and refreshes it through the same server function) was compiled twice into the
//! WASM. Reading answers with `from_str` too leaves one copy.

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// JSON read with `serde_json::from_str` (see the module doc).
pub struct JsonTextEncoding;

/// The `output` of every `#[server]` function: `#[server(output = crate::json_text::JsonText)]`.
pub type JsonText = Post<JsonTextEncoding>;

impl ContentType for JsonTextEncoding {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonTextEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonTextEncoding {
    type Error = DecodeError;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(|_| DecodeError::NotUtf8)?;
        serde_json::from_str(text).map_err(DecodeError::Json)
    }
}

/// An answer that is not the JSON of the expected type.
#[derive(Debug)]
pub enum DecodeError {
    NotUtf8,
    Json(serde_json::Error),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::NotUtf8 => f.write_str("the answer is not UTF-8 text"),
            DecodeError::Json(error) => write!(f, "{error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Answer {
        name: String,
        count: u32,
    }

    #[test]
    fn answers_round_trip() {
        let answer = Answer { name: "Ada ✓".into(), count: 3 };
        let bytes = <JsonTextEncoding as Encodes<Answer>>::encode(&answer).unwrap();
        assert_eq!(&bytes[..], r#"{"name":"Ada ✓","count":3}"#.as_bytes());
        let back: Answer = <JsonTextEncoding as Decodes<Answer>>::decode(bytes).unwrap();
        assert_eq!(back, answer);
    }

    #[test]
    fn other_bytes_are_refused_with_a_reason() {
        let not_text = <JsonTextEncoding as Decodes<Answer>>::decode(Bytes::from_static(b"\xff\xfe"));
        assert_eq!(not_text.unwrap_err().to_string(), "the answer is not UTF-8 text");
        let wrong = <JsonTextEncoding as Decodes<Answer>>::decode(Bytes::from_static(br#"{"name":1}"#));
        assert!(wrong.unwrap_err().to_string().contains("invalid type"));
    }
}
