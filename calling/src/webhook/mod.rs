//! Meta's webhooks: signature check, payload types, and the flattening of one delivery into
//! the events the call engine applies.
//!
//! Owns [`CallEngineEvent`] and [`events_from_delivery`]: call, permission, message-status,
//! settings and template-status events. A delivery may batch up to 1000 updates across several
//! `entry[]`, `changes[]`, `calls[]`, `statuses[]` and `messages[]` (reference §3.9), so every
//! level is iterated, never only `[0]`. Each event carries the business `phone_number_id` it
//! concerns (none for WABA-level template events), a stable dedupe key (the same update
//! delivered twice yields the same key) and its own timestamp. Nothing here fails: what the engine does
//! not understand becomes [`EngineEvent::Unknown`] with the raw JSON.

pub mod payload;
#[cfg(feature = "server")]
pub mod signature;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::call_state::{CallInput, Millis, RemoteCallStatus, TerminateOutcome, Termination};
use crate::calls::Direction;
use payload::{
    CallItem, Change, ChangeValue, Contact, Delivery, ErrorObject, Lenient, MessageItem, StatusItem,
    TemplateStatusValue,
};

pub use payload::SessionDescription;

/// One thing the engine should act on, cut out of a delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallEngineEvent {
    /// The business number the event concerns (`value.metadata.phone_number_id`, or
    /// `phone_number_settings.phone_number_id`); empty when the change names none.
    pub phone_number_id: String,
    /// The WhatsApp Business Account (`entry[].id`), when given.
    pub waba_id: Option<String>,
    /// Equal for the same update delivered twice, different for different updates.
    pub dedupe_key: String,
    /// When it happened per Meta (unix ms); `None` when the update has no timestamp (use the
    /// time of receipt).
    pub occurred_at: Option<Millis>,
    pub event: EngineEvent,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineEvent {
    /// A call webhook, ready for [`crate::call_state::CallState::apply`].
    Call(CallEvent),
    /// A user granted or refused call permission (or Meta did automatically).
    PermissionReply(PermissionReply),
    /// A status of a message we sent (permission request, call button, …).
    MessageStatus(MessageStatus),
    /// The calling settings of a number changed (`account_settings_update`); `calling` has the
    /// GET settings shape, see [`crate::settings`].
    SettingsChanged { calling: Value },
    /// Meta's review moved a template (`message_template_status_update`). WABA-level: the
    /// event's `phone_number_id` is empty and `waba_id` says whose template it is.
    TemplateStatus(TemplateStatusUpdate),
    /// Value-level errors not attached to any item (e.g. a failed delivery to the number).
    Errors { errors: Vec<WebhookError> },
    /// Anything else, kept verbatim: another field, an unknown call event, an inbound text.
    Unknown { field: String, raw: Value },
}

/// A call webhook (`calls[]` connect/terminate or `statuses[]` with `type: "call"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallEvent {
    /// `wacid.…`.
    pub call_id: String,
    pub input: CallInput,
    pub direction: Option<Direction>,
    /// Digits as Meta sends them: the caller and the callee.
    pub from: Option<String>,
    pub to: Option<String>,
    /// The WhatsApp user, when `contacts[]` names them.
    pub contact: Option<ContactInfo>,
    /// Meta's SDP (offer for inbound connect, answer for outbound connect).
    pub session: Option<SessionDescription>,
    pub biz_opaque_callback_data: Option<String>,
    pub cta_payload: Option<String>,
    pub deeplink_payload: Option<String>,
    pub errors: Vec<WebhookError>,
}

/// A WhatsApp user as `contacts[]` describes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactInfo {
    pub wa_id: Option<String>,
    pub user_id: Option<String>,
    pub parent_user_id: Option<String>,
    pub name: Option<String>,
}

/// A call permission reply (reference §3.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionReply {
    /// The user's number (digits).
    pub from: Option<String>,
    pub message_id: Option<String>,
    /// The request's `wamid`, or the call's `wacid` for automatic callback permission; absent
    /// when granted from the business profile or revoked automatically.
    pub context_id: Option<String>,
    pub granted: bool,
    pub is_permanent: bool,
    /// End of a temporary grant (unix ms).
    pub expires_at: Option<Millis>,
    /// `response_source: automatic` (callback permission, or revoke after 4 unanswered calls).
    pub automatic: bool,
    pub contact: Option<ContactInfo>,
}

/// A status of one of our messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageStatus {
    pub message_id: String,
    /// Lower case: `sent`, `delivered`, `read`, `failed`, …
    pub status: String,
    pub recipient_id: Option<String>,
    pub biz_opaque_callback_data: Option<String>,
    pub errors: Vec<WebhookError>,
}

/// A template's new review status, from `message_template_status_update`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateStatusUpdate {
    /// Meta's template id, as text whether Meta sent a number or a string.
    pub meta_template_id: String,
    /// Meta's event in upper case: `APPROVED`, `REJECTED`, `PAUSED`, … (see
    /// [`crate::templates::TemplateStatus::from_meta`]).
    pub event: String,
    pub name: Option<String>,
    pub language: Option<String>,
    /// Meta's reason (`INVALID_FORMAT`, …); `None` when absent, blank or `NONE`.
    pub reason: Option<String>,
    /// The rest of the value (`other_info`, `disable_info`, fields Meta adds later), verbatim.
    pub extra: serde_json::Map<String, Value>,
}

/// An error Meta reported in a webhook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookError {
    pub code: Option<i64>,
    pub title: Option<String>,
    pub message: Option<String>,
    pub details: Option<String>,
}

impl From<&ErrorObject> for WebhookError {
    fn from(error: &ErrorObject) -> Self {
        WebhookError {
            code: error.code.map(|code| code.0),
            title: error.title.clone(),
            message: error.message.clone(),
            details: error.details().map(str::to_owned),
        }
    }
}

/// Parses a raw body and flattens it; see [`events_from_delivery`].
pub fn events_from_body(raw_body: &[u8]) -> crate::Result<Vec<CallEngineEvent>> {
    Ok(events_from_delivery(&payload::Delivery::parse(raw_body)?))
}

/// Every event of a delivery, in delivery order: entries, then their changes, then within a
/// change `calls[]`, `statuses[]`, `messages[]`, then stray value-level errors.
pub fn events_from_delivery(delivery: &Delivery) -> Vec<CallEngineEvent> {
    let mut events = Vec::new();
    for entry in &delivery.entry {
        let entry = match entry {
            Lenient::Known(entry) => entry,
            Lenient::Unknown(raw) => {
                events.push(unknown_event(String::new(), None, "entry", raw.clone(), None));
                continue;
            }
        };
        let waba_id = entry.id.clone().filter(|id| !id.is_empty());
        let entry_time = entry.time.map(|time| time.seconds_to_millis());
        for change in &entry.changes {
            match change {
                Lenient::Known(change) => {
                    events_from_change(change, waba_id.as_deref(), entry_time, &mut events)
                }
                Lenient::Unknown(raw) => events.push(unknown_event(
                    String::new(),
                    waba_id.clone(),
                    "change",
                    raw.clone(),
                    entry_time,
                )),
            }
        }
    }
    events
}

fn events_from_change(
    change: &Change,
    waba_id: Option<&str>,
    entry_time: Option<Millis>,
    out: &mut Vec<CallEngineEvent>,
) {
    let waba_id = waba_id.map(str::to_owned);
    match change.field.as_str() {
        "calls" | "messages" => {}
        "account_settings_update" => {
            let settings = change.value.get("phone_number_settings");
            let phone_number_id = settings
                .and_then(|settings| settings.get("phone_number_id"))
                .and_then(json_id)
                .unwrap_or_default();
            let occurred_at = change
                .value
                .get("timestamp")
                .and_then(|raw| payload::FlexibleInt::deserialize(raw).ok())
                .map(|seconds| seconds.seconds_to_millis())
                .or(entry_time);
            let calling = settings.and_then(|settings| settings.get("calling")).cloned();
            out.push(match calling {
                Some(calling) => CallEngineEvent {
                    dedupe_key: format!("settings:{phone_number_id}:{}", fingerprint(&change.value)),
                    phone_number_id,
                    waba_id,
                    occurred_at,
                    event: EngineEvent::SettingsChanged { calling },
                },
                None => {
                    unknown_event(phone_number_id, waba_id, &change.field, change.value.clone(), occurred_at)
                }
            });
            return;
        }
        "message_template_status_update" => {
            out.push(template_status_event(change, waba_id, entry_time));
            return;
        }
        _ => {
            let phone_number_id =
                change.value.pointer("/metadata/phone_number_id").and_then(json_id).unwrap_or_default();
            let occurred_at = timestamp_in(&change.value).or(entry_time);
            out.push(unknown_event(
                phone_number_id,
                waba_id,
                &change.field,
                change.value.clone(),
                occurred_at,
            ));
            return;
        }
    }
    let Some(value) = change.messaging_value() else {
        out.push(unknown_event(String::new(), waba_id, &change.field, change.value.clone(), entry_time));
        return;
    };
    let phone_number_id =
        value.metadata.as_ref().and_then(|metadata| metadata.phone_number_id.clone()).unwrap_or_default();
    let context = ChangeContext { field: &change.field, phone_number_id, waba_id, entry_time, value: &value };
    let value_errors: Vec<WebhookError> =
        value.errors.iter().filter_map(Lenient::known).map(WebhookError::from).collect();
    for call in &value.calls {
        out.push(match call {
            Lenient::Known(call) => context.call_event(call, &value_errors),
            Lenient::Unknown(raw) => context.unknown(raw.clone()),
        });
    }
    for status in &value.statuses {
        out.push(match status {
            Lenient::Known(status) => context.status_event(status),
            Lenient::Unknown(raw) => context.unknown(raw.clone()),
        });
    }
    for message in &value.messages {
        out.push(match message {
            Lenient::Known(message) => context.message_event(message),
            Lenient::Unknown(raw) => context.unknown(raw.clone()),
        });
    }
    // The real terminate capture repeats the call's errors at value level; only errors that
    // came without any item are news.
    if value.calls.is_empty()
        && value.statuses.is_empty()
        && value.messages.is_empty()
        && !value.errors.is_empty()
    {
        let raw_errors = serde_json::to_value(&value.errors).unwrap_or(Value::Null);
        out.push(CallEngineEvent {
            dedupe_key: format!("errors:{}:{}", context.phone_number_id, fingerprint(&raw_errors)),
            phone_number_id: context.phone_number_id.clone(),
            waba_id: context.waba_id.clone(),
            occurred_at: context.entry_time,
            event: EngineEvent::Errors { errors: value_errors },
        });
    }
}

/// What every item of one change shares.
struct ChangeContext<'a> {
    field: &'a str,
    phone_number_id: String,
    waba_id: Option<String>,
    entry_time: Option<Millis>,
    value: &'a ChangeValue,
}

impl ChangeContext<'_> {
    fn event(&self, dedupe_key: String, occurred_at: Option<Millis>, event: EngineEvent) -> CallEngineEvent {
        CallEngineEvent {
            phone_number_id: self.phone_number_id.clone(),
            waba_id: self.waba_id.clone(),
            dedupe_key,
            occurred_at: occurred_at.or(self.entry_time),
            event,
        }
    }

    fn unknown(&self, raw: Value) -> CallEngineEvent {
        unknown_event(self.phone_number_id.clone(), self.waba_id.clone(), self.field, raw, self.entry_time)
    }

    /// The contact for `user_number`; with a single contact, that one (statuses name none).
    fn contact_for(&self, user_number: Option<&str>) -> Option<ContactInfo> {
        let contacts: Vec<&Contact> = self.value.contacts.iter().filter_map(Lenient::known).collect();
        let matching = user_number
            .and_then(|number| contacts.iter().find(|contact| contact.wa_id.as_deref() == Some(number)))
            .copied();
        let contact =
            matching.or_else(|| if contacts.len() == 1 { contacts.first().copied() } else { None })?;
        Some(ContactInfo {
            wa_id: contact.wa_id.clone(),
            user_id: contact.user_id.clone(),
            parent_user_id: contact.parent_user_id.clone(),
            name: contact.profile.as_ref().and_then(|profile| profile.name.clone()),
        })
    }

    fn call_event(&self, call: &CallItem, value_errors: &[WebhookError]) -> CallEngineEvent {
        let occurred_at = call.timestamp.map(|seconds| seconds.seconds_to_millis());
        let direction = call.direction.as_deref().and_then(parse_direction);
        let mut errors: Vec<WebhookError> =
            call.errors.iter().filter_map(Lenient::known).map(WebhookError::from).collect();
        let event_name = call.event.as_deref().unwrap_or_default().to_ascii_lowercase();
        let input = match event_name.as_str() {
            "connect" => CallInput::ConnectReceived { direction },
            "terminate" => {
                if errors.is_empty() && self.value.calls.len() == 1 {
                    errors = value_errors.to_vec();
                }
                CallInput::TerminateReceived { termination: termination(call, &errors) }
            }
            _ => return self.unknown(serde_json::to_value(call).unwrap_or(Value::Null)),
        };
        let user_number = match direction {
            Some(Direction::BusinessInitiated) => call.to.as_deref(),
            _ => call.from.as_deref(),
        };
        let dedupe_key = format!("call:{}:{}", call.id, input.kind().as_str());
        self.event(
            dedupe_key,
            occurred_at,
            EngineEvent::Call(CallEvent {
                call_id: call.id.clone(),
                direction,
                from: call.from.clone(),
                to: call.to.clone(),
                contact: self.contact_for(user_number),
                session: call.session_description(),
                biz_opaque_callback_data: call.biz_opaque_callback_data.clone(),
                cta_payload: call.cta_payload.clone(),
                deeplink_payload: call.deeplink_payload.clone(),
                errors,
                input,
            }),
        )
    }

    fn status_event(&self, status: &StatusItem) -> CallEngineEvent {
        let occurred_at = status.timestamp.map(|seconds| seconds.seconds_to_millis());
        let errors: Vec<WebhookError> =
            status.errors.iter().filter_map(Lenient::known).map(WebhookError::from).collect();
        let status_name = status.status.as_deref().unwrap_or_default().to_ascii_lowercase();
        if status.is_call() {
            let remote = match status_name.as_str() {
                "ringing" => RemoteCallStatus::Ringing,
                "accepted" => RemoteCallStatus::Accepted,
                "rejected" => RemoteCallStatus::Rejected,
                _ => return self.unknown(serde_json::to_value(status).unwrap_or(Value::Null)),
            };
            let input = CallInput::StatusReceived { status: remote };
            return self.event(
                format!("call:{}:{}", status.id, input.kind().as_str()),
                occurred_at,
                EngineEvent::Call(CallEvent {
                    call_id: status.id.clone(),
                    input,
                    direction: Some(Direction::BusinessInitiated),
                    from: None,
                    to: status.recipient_id.clone(),
                    contact: self.contact_for(status.recipient_id.as_deref()),
                    session: None,
                    biz_opaque_callback_data: status.biz_opaque_callback_data.clone(),
                    cta_payload: None,
                    deeplink_payload: None,
                    errors,
                }),
            );
        }
        self.event(
            format!("message_status:{}:{status_name}", status.id),
            occurred_at,
            EngineEvent::MessageStatus(MessageStatus {
                message_id: status.id.clone(),
                status: status_name,
                recipient_id: status.recipient_id.clone(),
                biz_opaque_callback_data: status.biz_opaque_callback_data.clone(),
                errors,
            }),
        )
    }

    fn message_event(&self, message: &MessageItem) -> CallEngineEvent {
        let occurred_at = message.timestamp.map(|seconds| seconds.seconds_to_millis());
        let raw = || serde_json::to_value(message).unwrap_or(Value::Null);
        let dedupe_key = match &message.id {
            Some(id) => format!("message:{id}"),
            None => format!("message:{}", fingerprint(&raw())),
        };
        let reply = message
            .interactive
            .as_ref()
            .filter(|interactive| {
                interactive
                    .kind
                    .as_deref()
                    .is_none_or(|kind| kind.eq_ignore_ascii_case("call_permission_reply"))
            })
            .and_then(|interactive| interactive.call_permission_reply.as_ref());
        let Some(reply) = reply else {
            return self.event(
                dedupe_key,
                occurred_at,
                EngineEvent::Unknown { field: self.field.to_owned(), raw: raw() },
            );
        };
        let granted =
            reply.response.as_deref().is_some_and(|response| response.eq_ignore_ascii_case("accept"));
        self.event(
            dedupe_key,
            occurred_at,
            EngineEvent::PermissionReply(PermissionReply {
                from: message.from.clone(),
                message_id: message.id.clone(),
                context_id: message.context.as_ref().and_then(|context| context.id.clone()),
                granted,
                is_permanent: granted && reply.is_permanent.is_some_and(|flag| flag.0),
                expires_at: reply.expiration_timestamp.map(|seconds| seconds.seconds_to_millis()),
                automatic: reply
                    .response_source
                    .as_deref()
                    .is_some_and(|source| source.eq_ignore_ascii_case("automatic")),
                contact: self.contact_for(message.from.as_deref()),
            }),
        )
    }
}

/// A `message_template_status_update` change; one without a template id or an event is kept
/// as unknown.
fn template_status_event(
    change: &Change,
    waba_id: Option<String>,
    entry_time: Option<Millis>,
) -> CallEngineEvent {
    let parsed = TemplateStatusValue::deserialize(&change.value).ok();
    let update = parsed.and_then(|value| {
        let meta_template_id = value.message_template_id.filter(|id| !id.trim().is_empty())?;
        let event = value.event.map(|event| event.trim().to_ascii_uppercase()).filter(|e| !e.is_empty())?;
        let reason = value
            .reason
            .map(|reason| reason.trim().to_owned())
            .filter(|reason| !reason.is_empty() && !reason.eq_ignore_ascii_case("none"));
        Some(TemplateStatusUpdate {
            meta_template_id: meta_template_id.trim().to_owned(),
            event,
            name: value.message_template_name,
            language: value.message_template_language,
            reason,
            extra: value.extra,
        })
    });
    let Some(update) = update else {
        return unknown_event(String::new(), waba_id, &change.field, change.value.clone(), entry_time);
    };
    CallEngineEvent {
        dedupe_key: format!(
            "template_status:{}:{}:{}",
            update.meta_template_id,
            update.event,
            fingerprint(&change.value)
        ),
        phone_number_id: String::new(),
        waba_id,
        occurred_at: timestamp_in(&change.value).or(entry_time),
        event: EngineEvent::TemplateStatus(update),
    }
}

fn termination(call: &CallItem, errors: &[WebhookError]) -> Termination {
    let outcome = match call.status.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("completed") => TerminateOutcome::Completed,
        Some(_) => TerminateOutcome::Failed,
        // No status at all: the errors tell.
        None if errors.is_empty() => TerminateOutcome::Completed,
        None => TerminateOutcome::Failed,
    };
    Termination {
        outcome,
        started_at: call.start_time.map(|seconds| seconds.seconds_to_millis()),
        ended_at: call.end_time.map(|seconds| seconds.seconds_to_millis()),
        duration_seconds: call.duration.map(|seconds| seconds.0),
        error_codes: errors.iter().filter_map(|error| error.code).collect(),
    }
}

fn parse_direction(raw: &str) -> Option<Direction> {
    match raw.to_ascii_uppercase().as_str() {
        "USER_INITIATED" => Some(Direction::UserInitiated),
        "BUSINESS_INITIATED" => Some(Direction::BusinessInitiated),
        _ => None,
    }
}

/// An id Meta may write as a string or a number.
fn json_id(raw: &Value) -> Option<String> {
    match raw {
        Value::String(id) => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

/// A top-level `timestamp` in an unknown value, if any.
fn timestamp_in(raw: &Value) -> Option<Millis> {
    raw.get("timestamp")
        .and_then(|timestamp| payload::FlexibleInt::deserialize(timestamp).ok())
        .map(|seconds| seconds.seconds_to_millis())
}

fn unknown_event(
    phone_number_id: String,
    waba_id: Option<String>,
    field: &str,
    raw: Value,
    fallback_time: Option<Millis>,
) -> CallEngineEvent {
    CallEngineEvent {
        dedupe_key: format!("unknown:{field}:{phone_number_id}:{}", fingerprint(&raw)),
        phone_number_id,
        waba_id,
        occurred_at: timestamp_in(&raw).or(fallback_time),
        event: EngineEvent::Unknown { field: field.to_owned(), raw },
    }
}

/// A stable 64-bit FNV-1a hash of JSON with object keys sorted, as 16 hex digits: the same
/// content gives the same key whatever the key order or map implementation.
fn fingerprint(raw: &Value) -> String {
    fn feed(hash: &mut u64, bytes: &[u8]) {
        for byte in bytes {
            *hash ^= u64::from(*byte);
            *hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn walk(hash: &mut u64, value: &Value) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                feed(hash, b"{");
                for key in keys {
                    walk(hash, &Value::String(key.clone()));
                    feed(hash, b":");
                    walk(hash, &map[key]);
                    feed(hash, b",");
                }
                feed(hash, b"}");
            }
            Value::Array(items) => {
                feed(hash, b"[");
                for item in items {
                    walk(hash, item);
                    feed(hash, b",");
                }
                feed(hash, b"]");
            }
            scalar => feed(hash, scalar.to_string().as_bytes()),
        }
    }
    let mut hash = 0xcbf2_9ce4_8422_2325;
    walk(&mut hash, raw);
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests;
