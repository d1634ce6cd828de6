//! The encoding of every server function's answer: JSON, as Leptos' own `Json`, but read in
//! the browser from a `&str` rather than from bytes.
//!
//! Why: `serde_json` compiles one deserializer per type *and per reader*. Leptos reads a
//! resource's server-rendered value with `serde_json::from_str` and a server function's answer
//! with `serde_json::from_slice`, so every type that is both (most of them: a page loads a
//! resource and refreshes it through the same server function) was compiled twice into the
//! WASM. Reading answers with `from_str` too leaves one copy.
//!
//! Also [`UnreadJson`]: a part of an answer that stays JSON text until a page reads it.

use std::marker::PhantomData;

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

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

/// A value sent inside an answer as its JSON text, and read only where it is shown
/// ([`UnreadJson::read`]).
///
/// Why: a type's JSON reader is compiled into every page whose code can reach it. When pages
/// share an answer but only one of them shows part of it, that part travels as text, so only
/// that page compiles its reader.
pub struct UnreadJson<T> {
    text: String,
    value: PhantomData<fn() -> T>,
}

impl<T: Serialize> UnreadJson<T> {
    pub fn new(value: &T) -> Result<Self, serde_json::Error> {
        Ok(UnreadJson { text: serde_json::to_string(value)?, value: PhantomData })
    }
}

impl<T: DeserializeOwned> UnreadJson<T> {
    pub fn read(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.text)
    }
}

impl<T> Clone for UnreadJson<T> {
    fn clone(&self) -> Self {
        UnreadJson { text: self.text.clone(), value: PhantomData }
    }
}

impl<T> PartialEq for UnreadJson<T> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl<T> std::fmt::Debug for UnreadJson<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl<T> Serialize for UnreadJson<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de, T> Deserialize<'de> for UnreadJson<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| UnreadJson { text, value: PhantomData })
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

    #[test]
    fn an_unread_value_travels_as_text_and_reads_back() {
        let answer = Answer { name: "Ada".into(), count: 1 };
        let unread = UnreadJson::new(&answer).unwrap();
        let sent = serde_json::to_string(&unread).unwrap();
        assert_eq!(sent, r#""{\"name\":\"Ada\",\"count\":1}""#);
        let received: UnreadJson<Answer> = serde_json::from_str(&sent).unwrap();
        assert_eq!(received.read().unwrap(), answer);
    }
}
