//! Serde types for Meta's webhook deliveries (`object` → `entry[]` → `changes[]` → `value`).
//!
//! Everything here is built to *never* reject a delivery Meta might send: timestamps come as
//! strings or numbers, statuses in any casing, fields appear and disappear between API
//! versions, and one malformed item must not hide its siblings. So:
//! - every field is optional or defaulted, and `null` reads as absent;
//! - unknown fields are kept in `extra` (round-trips without loss);
//! - list items are [`Lenient`]: an item that does not fit its type is kept as raw JSON.
//!
//! Shapes follow the reference §3 (calls, statuses, permission replies, errors at both levels,
//! legacy `connection.webrtc.sdp`).

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::Error;
use crate::error::Quoted;

/// A list item that either fits its type or is kept verbatim.
#[derive(Clone, Debug, PartialEq)]
pub enum Lenient<T> {
    Known(T),
    Unknown(Value),
}

impl<T> Lenient<T> {
    /// The typed item, if it parsed.
    pub fn known(&self) -> Option<&T> {
        match self {
            Lenient::Known(item) => Some(item),
            Lenient::Unknown(_) => None,
        }
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(deserializer)?;
        Ok(match T::deserialize(&raw) {
            Ok(item) => Lenient::Known(item),
            Err(_) => Lenient::Unknown(raw),
        })
    }
}

impl<T: Serialize> Serialize for Lenient<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Lenient::Known(item) => item.serialize(serializer),
            Lenient::Unknown(raw) => raw.serialize(serializer),
        }
    }
}

/// Reads a missing *or null* list as empty: Meta sends `"errors": null` on some paths.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// Reads an id or number Meta may send as a string or a JSON number (`"phone_number_id":
/// 518638374672395` in some SDK fixtures); anything else reads as absent rather than failing
/// the whole change.
fn flexible_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) => Some(text),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    })
}

/// An integer Meta sends as a number or as a string of digits (`"duration": 20`,
/// `"code": "131000"`, `"timestamp": "1671644824"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlexibleInt(pub i64);

impl<'de> Deserialize<'de> for FlexibleInt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FlexibleIntVisitor;

        impl Visitor<'_> for FlexibleIntVisitor {
            type Value = FlexibleInt;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("an integer or a string of digits")
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<FlexibleInt, E> {
                Ok(FlexibleInt(value))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<FlexibleInt, E> {
                i64::try_from(value).map(FlexibleInt).map_err(E::custom)
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<FlexibleInt, E> {
                FlexibleInt::from_f64(value).ok_or_else(|| E::custom("not a whole number"))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<FlexibleInt, E> {
                FlexibleInt::from_text(value)
                    .ok_or_else(|| E::custom(format!("{} is not a number", Quoted(value))))
            }
        }

        deserializer.deserialize_any(FlexibleIntVisitor)
    }
}

impl FlexibleInt {
    /// A JSON float that is a whole number of safe size.
    pub fn from_f64(value: f64) -> Option<Self> {
        (value.is_finite() && value.fract() == 0.0 && value.abs() < 9.0e15)
            .then_some(FlexibleInt(value as i64))
    }

    /// A string of digits (surrounding spaces allowed), or of a whole float.
    pub fn from_text(value: &str) -> Option<Self> {
        let trimmed = value.trim();
        match trimmed.parse::<i64>() {
            Ok(int) => Some(FlexibleInt(int)),
            Err(_) => trimmed.parse::<f64>().ok().and_then(FlexibleInt::from_f64),
        }
    }
}

impl Serialize for FlexibleInt {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

/// A boolean Meta might send as `true` or `"true"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FlexibleBool(pub bool);

impl<'de> Deserialize<'de> for FlexibleBool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Bool(flag) => Ok(FlexibleBool(flag)),
            Value::String(text) if text.eq_ignore_ascii_case("true") => Ok(FlexibleBool(true)),
            Value::String(text) if text.eq_ignore_ascii_case("false") => Ok(FlexibleBool(false)),
            Value::Number(number) => Ok(FlexibleBool(number.as_i64() == Some(1))),
            other => Err(de::Error::custom(format!("{other} is not a boolean"))),
        }
    }
}

/// Unix time in seconds, as Meta writes `timestamp`, `start_time`, `end_time`.
pub type UnixSeconds = FlexibleInt;

impl FlexibleInt {
    /// Seconds to the milliseconds storage uses.
    pub fn seconds_to_millis(self) -> i64 {
        self.0.saturating_mul(1000)
    }
}

/// One POST from Meta.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// `whatsapp_business_account` for everything this product handles.
    #[serde(default)]
    pub object: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub entry: Vec<Lenient<Entry>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Delivery {
    /// Parses a raw body. Fails only when the body is not a JSON object; anything inside that
    /// does not fit is kept as raw JSON rather than refused.
    pub fn parse(raw_body: &[u8]) -> Result<Self, Error> {
        let value: Value = serde_json::from_slice(raw_body)
            .map_err(|err| Error::validation("body", format!("webhook body is not JSON: {err}")))?;
        if !value.is_object() {
            return Err(Error::validation("body", "webhook body is not a JSON object"));
        }
        serde_json::from_value(value)
            .map_err(|err| Error::validation("body", format!("webhook body has an unexpected shape: {err}")))
    }
}

/// One `entry[]`: the WhatsApp Business Account the changes belong to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The WABA id.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub time: Option<UnixSeconds>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub changes: Vec<Lenient<Change>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One `changes[]`: `field` names the subscription (`calls`, `messages`,
/// `account_settings_update`, …); `value` is kept raw and read per field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Change {
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub value: Value,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Change {
    /// The `value` of a `calls` or `messages` change, typed. `None` when it is not an object.
    pub fn messaging_value(&self) -> Option<ChangeValue> {
        ChangeValue::deserialize(&self.value).ok()
    }
}

/// The `value` of a `calls` or `messages` change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangeValue {
    #[serde(default)]
    pub messaging_product: Option<String>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub contacts: Vec<Lenient<Contact>>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub calls: Vec<Lenient<CallItem>>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub statuses: Vec<Lenient<StatusItem>>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub messages: Vec<Lenient<MessageItem>>,
    /// Value-level errors; the real terminate capture repeats the call's errors here.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub errors: Vec<Lenient<ErrorObject>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `value` of a `message_template_status_update` change: Meta's review moved a template.
/// Meta sends the id as a JSON number; a string reads the same.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TemplateStatusValue {
    /// `APPROVED`, `REJECTED`, `PENDING`, `PAUSED`, `DISABLED`, `PENDING_DELETION`, … (any case).
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default, deserialize_with = "flexible_string")]
    pub message_template_id: Option<String>,
    #[serde(default)]
    pub message_template_name: Option<String>,
    #[serde(default)]
    pub message_template_language: Option<String>,
    /// Why, for rejections and pauses (`INVALID_FORMAT`, `INCORRECT_CATEGORY`, …); `NONE` or
    /// absent otherwise.
    #[serde(default)]
    pub reason: Option<String>,
    /// `other_info`, `disable_info`, `title`, … as Meta sent them.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `value.metadata`: which of our business numbers the change concerns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(default, deserialize_with = "flexible_string")]
    pub phone_number_id: Option<String>,
    #[serde(default, deserialize_with = "flexible_string")]
    pub display_phone_number: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `value.contacts[]`: the WhatsApp user.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    #[serde(default, deserialize_with = "flexible_string")]
    pub wa_id: Option<String>,
    /// Business-scoped user id (BSUID), e.g. `US.13491208655302741918`; never required.
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub parent_user_id: Option<String>,
    #[serde(default)]
    pub profile: Option<Profile>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `contacts[].profile`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `value.calls[]`: a `connect` or `terminate` event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CallItem {
    /// The call id, `wacid.…`.
    pub id: String,
    #[serde(default, deserialize_with = "flexible_string")]
    pub from: Option<String>,
    #[serde(default, deserialize_with = "flexible_string")]
    pub to: Option<String>,
    /// `connect` or `terminate` (compared case-insensitively).
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub timestamp: Option<UnixSeconds>,
    /// `USER_INITIATED` or `BUSINESS_INITIATED`.
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default)]
    pub session: Option<Session>,
    /// The deprecated `connection.webrtc.sdp`, a JSON string wrapping `{sdp, type}`.
    #[serde(default)]
    pub connection: Option<LegacyConnection>,
    #[serde(default)]
    pub biz_opaque_callback_data: Option<String>,
    /// Payload of the call button the user pressed (`voice_call` with `payload`).
    #[serde(default)]
    pub cta_payload: Option<String>,
    /// Payload of the `wa.me/call/…?biz_payload=` link the user followed.
    #[serde(default)]
    pub deeplink_payload: Option<String>,
    /// Terminate only, present when the call was picked up.
    #[serde(default)]
    pub start_time: Option<UnixSeconds>,
    #[serde(default)]
    pub end_time: Option<UnixSeconds>,
    #[serde(default)]
    pub duration: Option<FlexibleInt>,
    /// Terminate only: `COMPLETED` or `FAILED`, in any casing.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub errors: Vec<Lenient<ErrorObject>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `calls[].session`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    #[serde(default)]
    pub sdp_type: Option<String>,
    #[serde(default)]
    pub sdp: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `calls[].connection` (legacy).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LegacyConnection {
    #[serde(default)]
    pub webrtc: Option<LegacyWebRtc>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `calls[].connection.webrtc` (legacy).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LegacyWebRtc {
    #[serde(default)]
    pub sdp: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An SDP with its role, from whichever field carried it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDescription {
    /// `offer` (inbound calls) or `answer` (outbound calls), lower case.
    pub sdp_type: Option<String>,
    pub sdp: String,
}

impl CallItem {
    /// The SDP: `session` when present, else the legacy `connection.webrtc.sdp`, whose value
    /// is a JSON string wrapping `{"sdp": …, "type": …}` (reference §3.3).
    pub fn session_description(&self) -> Option<SessionDescription> {
        if let Some(session) = &self.session
            && let Some(sdp) = session.sdp.as_ref().filter(|sdp| !sdp.trim().is_empty())
        {
            return Some(SessionDescription {
                sdp_type: session.sdp_type.as_ref().map(|kind| kind.to_ascii_lowercase()),
                sdp: sdp.clone(),
            });
        }
        let wrapped = self.connection.as_ref()?.webrtc.as_ref()?.sdp.as_ref()?;
        match serde_json::from_str::<Value>(wrapped) {
            Ok(Value::Object(inner)) => {
                let sdp = inner.get("sdp").and_then(Value::as_str).filter(|sdp| !sdp.trim().is_empty())?;
                Some(SessionDescription {
                    sdp_type: inner.get("type").and_then(Value::as_str).map(str::to_ascii_lowercase),
                    sdp: sdp.to_owned(),
                })
            }
            // Some senders put the bare SDP there; accept it rather than lose the call.
            _ if wrapped.trim_start().starts_with("v=") => {
                Some(SessionDescription { sdp_type: None, sdp: wrapped.clone() })
            }
            _ => None,
        }
    }
}

/// `value.statuses[]`: a call status (`type: "call"`) or a message status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusItem {
    /// `wacid.…` for calls, `wamid.…` for messages.
    pub id: String,
    /// RINGING / ACCEPTED / REJECTED for calls; sent / delivered / read / failed for messages.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub timestamp: Option<UnixSeconds>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "flexible_string")]
    pub recipient_id: Option<String>,
    #[serde(default)]
    pub biz_opaque_callback_data: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub errors: Vec<Lenient<ErrorObject>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StatusItem {
    /// Whether this is a call status rather than a message status.
    pub fn is_call(&self) -> bool {
        match &self.kind {
            Some(kind) => kind.eq_ignore_ascii_case("call"),
            None => self.id.starts_with("wacid."),
        }
    }
}

/// `value.messages[]`: an inbound message. Only `interactive.call_permission_reply` matters to
/// calling; everything else is kept raw in `extra`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageItem {
    #[serde(default, deserialize_with = "flexible_string")]
    pub from: Option<String>,
    /// `wamid.…`.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub timestamp: Option<UnixSeconds>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub context: Option<MessageContext>,
    #[serde(default)]
    pub interactive: Option<Interactive>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub errors: Vec<Lenient<ErrorObject>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `messages[].context`: what the message replies to (the permission request's `wamid`, or
/// the call's `wacid` for automatic callback permission).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageContext {
    #[serde(default, deserialize_with = "flexible_string")]
    pub from: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `messages[].interactive`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Interactive {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub call_permission_reply: Option<CallPermissionReply>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `interactive.call_permission_reply` (reference §3.6).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CallPermissionReply {
    /// `accept` or `reject`.
    #[serde(default)]
    pub response: Option<String>,
    #[serde(default)]
    pub is_permanent: Option<FlexibleBool>,
    /// Only for a temporary accept; a string or a number of unix seconds.
    #[serde(default)]
    pub expiration_timestamp: Option<UnixSeconds>,
    /// `user_action` or `automatic`.
    #[serde(default)]
    pub response_source: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An error object, at call level or value level.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    #[serde(default)]
    pub code: Option<FlexibleInt>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub href: Option<String>,
    /// Usually `{ "details": "…" }`.
    #[serde(default)]
    pub error_data: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ErrorObject {
    /// `error_data.details`, when it is a string.
    pub fn details(&self) -> Option<&str> {
        self.error_data.as_ref()?.get("details")?.as_str()
    }
}
