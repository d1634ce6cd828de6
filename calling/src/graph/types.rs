//! Typed requests and responses of the Graph API calls the product makes, each in Meta's exact
//! wire shape (reference §2, §4.3–4.5, §6): what callers build ([`VoiceCallButton`],
//! [`TemplateSend`], [`NewTemplate`]) and what comes back ([`CallPermissions`],
//! [`SentMessage`], [`CreatedTemplate`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::call_state::Millis;
use crate::permissions::PermissionStatus;

/// `action_name` of the permission-request quota in `GET call_permissions`.
pub const SEND_CALL_PERMISSION_REQUEST: &str = "send_call_permission_request";
/// `action_name` of the connected-call quota in `GET call_permissions`.
pub const START_CALL: &str = "start_call";

/// `GET /{PHONE_NUMBER_ID}/call_permissions?user_wa_id=…` (§4.5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallPermissions {
    pub permission: PermissionGrant,
    #[serde(default)]
    pub actions: Vec<PermissionAction>,
}

/// `permission`: `no_permission`, `temporary` (with `expiration_time`) or `permanent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionGrant {
    pub status: String,
    /// Unix seconds; absent for permanent. Meta's table calls it `expiration`, its sample
    /// `expiration_time` (§4.5 ⚠️): both are read.
    #[serde(default, alias = "expiration", skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<i64>,
}

/// One entry of `actions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionAction {
    /// [`SEND_CALL_PERMISSION_REQUEST`] or [`START_CALL`].
    pub action_name: String,
    #[serde(default)]
    pub can_perform_action: bool,
    #[serde(default)]
    pub limits: Vec<ActionLimit>,
}

/// One quota of an action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionLimit {
    /// ISO-8601 duration, e.g. `PT24H`, `P7D`.
    pub time_period: String,
    pub max_allowed: u32,
    pub current_usage: u32,
    /// Unix seconds when the quota frees up; present only when it is used up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_expiration_time: Option<i64>,
}

impl CallPermissions {
    /// The permission as the ledger records it (a [`PermissionStatus`] for a `Synced` event);
    /// `fetched_at` (unix ms) dates a temporary grant Meta sent without expiry.
    pub fn status(&self, fetched_at: Millis) -> PermissionStatus {
        PermissionStatus::from_meta(&self.permission.status, self.permission.expiration_time, fetched_at)
    }

    /// The action named `name`, if Meta listed it.
    pub fn action(&self, name: &str) -> Option<&PermissionAction> {
        self.actions.iter().find(|action| action.action_name == name)
    }

    /// Whether Meta would let the business call the user now.
    pub fn can_start_call(&self) -> bool {
        self.action(START_CALL).is_some_and(|action| action.can_perform_action)
    }

    /// Whether Meta would let the business send a call permission request now.
    pub fn can_send_permission_request(&self) -> bool {
        self.action(SEND_CALL_PERMISSION_REQUEST).is_some_and(|action| action.can_perform_action)
    }
}

/// An interactive `voice_call` message: a "Call on WhatsApp" button inside the customer
/// service window (§6.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VoiceCallButton {
    pub body_text: String,
    /// The button label, at most 20 characters; Meta's default is "Call Now".
    pub display_text: Option<String>,
    /// How long the button works, 1–43200 minutes; Meta's default is 10080 (7 days).
    pub ttl_minutes: Option<u32>,
    /// Comes back as `cta_payload` on the call's webhooks; at most 512 characters.
    pub payload: Option<String>,
}

impl VoiceCallButton {
    pub(crate) fn interactive(&self) -> Value {
        let mut parameters = Map::new();
        if let Some(display_text) = &self.display_text {
            parameters.insert("display_text".into(), json!(display_text));
        }
        if let Some(ttl_minutes) = self.ttl_minutes {
            parameters.insert("ttl_minutes".into(), json!(ttl_minutes));
        }
        if let Some(payload) = &self.payload {
            parameters.insert("payload".into(), json!(payload));
        }
        let mut action = json!({ "name": "voice_call" });
        if !parameters.is_empty() {
            action["parameters"] = Value::Object(parameters);
        }
        json!({ "type": "voice_call", "body": { "text": self.body_text }, "action": action })
    }
}

/// A template message to send (§4.4, §6.2). Body (and header) variables are text parameters in
/// order; `voice_call` fills the template's call button.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateSend {
    pub name: String,
    /// Language code, e.g. `en_US`.
    pub language: String,
    pub header_parameters: Vec<String>,
    pub body_parameters: Vec<String>,
    pub voice_call: Option<VoiceCallParameters>,
}

/// The send-time parameters of a template's `voice_call` button.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VoiceCallParameters {
    /// 1–43200 minutes; Meta's default is 10080.
    pub ttl_minutes: Option<u32>,
    /// Comes back as `cta_payload`; at most 512 characters.
    pub payload: Option<String>,
}

impl TemplateSend {
    pub(crate) fn template(&self) -> Value {
        let text_parameters = |values: &[String]| -> Vec<Value> {
            values.iter().map(|text| json!({ "type": "text", "text": text })).collect()
        };
        let mut components = Vec::new();
        if !self.header_parameters.is_empty() {
            components
                .push(json!({ "type": "header", "parameters": text_parameters(&self.header_parameters) }));
        }
        if !self.body_parameters.is_empty() {
            components.push(json!({ "type": "body", "parameters": text_parameters(&self.body_parameters) }));
        }
        if let Some(voice_call) = &self.voice_call {
            let mut parameters = Vec::new();
            if let Some(ttl_minutes) = voice_call.ttl_minutes {
                parameters.push(json!({ "type": "ttl_minutes", "ttl_minutes": ttl_minutes }));
            }
            if let Some(payload) = &voice_call.payload {
                parameters.push(json!({ "type": "payload", "payload": payload }));
            }
            components.push(json!({ "type": "button", "sub_type": "voice_call", "parameters": parameters }));
        }
        let mut template = json!({ "name": self.name, "language": { "code": self.language } });
        if !components.is_empty() {
            template["components"] = Value::Array(components);
        }
        template
    }
}

/// What `POST /messages` answers: the message id (`wamid.…`) and the recipient's WhatsApp id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    pub id: String,
    pub wa_id: Option<String>,
}

impl SentMessage {
    pub(crate) fn from_response(body: &Value) -> Option<Self> {
        let id = body.pointer("/messages/0/id").and_then(Value::as_str).filter(|id| !id.is_empty())?;
        let wa_id = body.pointer("/contacts/0/wa_id").and_then(Value::as_str).map(str::to_owned);
        Some(SentMessage { id: id.to_owned(), wa_id })
    }
}

/// A template category allowed for calling templates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateCategory {
    Marketing,
    Utility,
}

/// A template to create with `POST /{WABA_ID}/message_templates`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTemplate {
    /// Lowercase letters, digits and underscores.
    pub name: String,
    pub language: String,
    pub category: TemplateCategory,
    pub components: Vec<TemplateComponent>,
}

/// One component of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateComponent {
    /// A text header; `example` gives sample values for its variables.
    Header {
        text: String,
        example: Vec<String>,
    },
    /// The required body; `example` gives sample values for its `{{n}}` variables, which Meta
    /// requires when there are any.
    Body {
        text: String,
        example: Vec<String>,
    },
    Footer {
        text: String,
    },
    Buttons(Vec<TemplateButton>),
    /// Makes the template a call permission request (§4.4).
    CallPermissionRequest,
}

/// One button of a `BUTTONS` component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateButton {
    /// A call button: label at most 20 characters; `ttl_minutes` 1440–43200 at creation.
    VoiceCall {
        text: Option<String>,
        ttl_minutes: Option<u32>,
    },
    QuickReply {
        text: String,
    },
    Url {
        text: String,
        url: String,
    },
    PhoneNumber {
        text: String,
        phone_number: String,
    },
}

impl NewTemplate {
    pub(crate) fn body(&self) -> Value {
        let components: Vec<Value> = self.components.iter().map(TemplateComponent::wire).collect();
        json!({ "name": self.name, "language": self.language, "category": self.category, "components": components })
    }
}

impl TemplateComponent {
    fn wire(&self) -> Value {
        match self {
            TemplateComponent::Header { text, example } => {
                let mut header = json!({ "type": "HEADER", "format": "TEXT", "text": text });
                if !example.is_empty() {
                    header["example"] = json!({ "header_text": example });
                }
                header
            }
            TemplateComponent::Body { text, example } => {
                let mut body = json!({ "type": "BODY", "text": text });
                if !example.is_empty() {
                    body["example"] = json!({ "body_text": [example] });
                }
                body
            }
            TemplateComponent::Footer { text } => json!({ "type": "FOOTER", "text": text }),
            TemplateComponent::Buttons(buttons) => {
                json!({ "type": "BUTTONS", "buttons": buttons.iter().map(TemplateButton::wire).collect::<Vec<_>>() })
            }
            TemplateComponent::CallPermissionRequest => json!({ "type": "call_permission_request" }),
        }
    }
}

impl TemplateButton {
    fn wire(&self) -> Value {
        match self {
            TemplateButton::VoiceCall { text, ttl_minutes } => {
                let mut button = json!({ "type": "voice_call" });
                if let Some(text) = text {
                    button["text"] = json!(text);
                }
                if let Some(ttl_minutes) = ttl_minutes {
                    button["ttl_minutes"] = json!(ttl_minutes);
                }
                button
            }
            TemplateButton::QuickReply { text } => json!({ "type": "QUICK_REPLY", "text": text }),
            TemplateButton::Url { text, url } => json!({ "type": "URL", "text": text, "url": url }),
            TemplateButton::PhoneNumber { text, phone_number } => {
                json!({ "type": "PHONE_NUMBER", "text": text, "phone_number": phone_number })
            }
        }
    }
}

/// What template creation answers: Meta's template id and review status (`APPROVED`,
/// `PENDING`, `REJECTED`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedTemplate {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub category: Option<String>,
}

impl CreatedTemplate {
    pub(crate) fn from_response(body: &Value) -> Option<Self> {
        // Meta writes ids as strings; accept numbers too.
        let id = match body.get("id")? {
            Value::String(id) if !id.is_empty() => id.clone(),
            Value::Number(id) => id.to_string(),
            _ => return None,
        };
        let status = body.get("status").and_then(Value::as_str).unwrap_or("PENDING").to_owned();
        let category = body.get("category").and_then(Value::as_str).map(str::to_owned);
        Some(CreatedTemplate { id, status, category })
    }
}

/// A template as `GET message_templates` lists it (the fields this product reads).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteTemplate {
    /// Meta's template id (the `hsm_id` of a delete).
    pub id: String,
    pub name: String,
    pub language: Option<String>,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, …
    pub status: Option<String>,
}

impl RemoteTemplate {
    /// The `data[]` of a list answer; items without an id or a name are skipped. `None` when
    /// there is no `data` array at all.
    pub(crate) fn list_from_response(body: &Value) -> Option<Vec<Self>> {
        let text = |item: &Value, key: &str| item.get(key).and_then(Value::as_str).map(str::to_owned);
        let items = body.get("data")?.as_array()?;
        Some(
            items
                .iter()
                .filter_map(|item| {
                    // Meta writes ids as strings; accept numbers too.
                    let id = match item.get("id")? {
                        Value::String(id) if !id.is_empty() => id.clone(),
                        Value::Number(id) => id.to_string(),
                        _ => return None,
                    };
                    Some(RemoteTemplate {
                        id,
                        name: text(item, "name")?,
                        language: text(item, "language"),
                        status: text(item, "status"),
                    })
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_permissions_parse_metas_sample() {
        let sample = json!({
          "messaging_product": "whatsapp",
          "permission": { "status": "temporary", "expiration_time": 1745343479 },
          "actions": [
            { "action_name": "send_call_permission_request", "can_perform_action": true,
              "limits": [ { "time_period": "PT24H", "max_allowed": 1, "current_usage": 0 },
                          { "time_period": "P7D",  "max_allowed": 2, "current_usage": 1 } ] },
            { "action_name": "start_call", "can_perform_action": false,
              "limits": [ { "time_period": "PT24H", "max_allowed": 5, "current_usage": 5, "limit_expiration_time": 1745622600 } ] }
          ]
        });
        let permissions: CallPermissions = serde_json::from_value(sample).unwrap();
        assert_eq!(permissions.status(0), PermissionStatus::Temporary { expires_at: 1_745_343_479_000 });
        assert!(permissions.can_send_permission_request());
        assert!(!permissions.can_start_call());
        assert_eq!(permissions.action(START_CALL).unwrap().limits[0].limit_expiration_time, Some(1745622600));
        let table_spelling: CallPermissions =
            serde_json::from_value(json!({ "permission": { "status": "temporary", "expiration": 5 } }))
                .unwrap();
        assert_eq!(table_spelling.permission.expiration_time, Some(5));
        assert!(!table_spelling.can_start_call());
    }

    #[test]
    fn template_wire_shapes_follow_the_reference() {
        let template = NewTemplate {
            name: "call_us".into(),
            language: "en_US".into(),
            category: TemplateCategory::Marketing,
            components: vec![
                TemplateComponent::Body { text: "Hi {{1}}".into(), example: vec!["Ada".into()] },
                TemplateComponent::Buttons(vec![TemplateButton::VoiceCall {
                    text: Some("Call Now".into()),
                    ttl_minutes: Some(1440),
                }]),
                TemplateComponent::CallPermissionRequest,
            ],
        };
        assert_eq!(
            template.body(),
            json!({ "name": "call_us", "language": "en_US", "category": "MARKETING", "components": [
                { "type": "BODY", "text": "Hi {{1}}", "example": { "body_text": [["Ada"]] } },
                { "type": "BUTTONS", "buttons": [{ "type": "voice_call", "text": "Call Now", "ttl_minutes": 1440 }] },
                { "type": "call_permission_request" }
            ]})
        );
        let send = TemplateSend {
            name: "call_us".into(),
            language: "en_US".into(),
            body_parameters: vec!["Ada".into()],
            voice_call: Some(VoiceCallParameters { ttl_minutes: Some(100), payload: Some("p".into()) }),
            ..TemplateSend::default()
        };
        assert_eq!(
            send.template(),
            json!({ "name": "call_us", "language": { "code": "en_US" }, "components": [
                { "type": "body", "parameters": [{ "type": "text", "text": "Ada" }] },
                { "type": "button", "sub_type": "voice_call", "parameters": [
                    { "type": "ttl_minutes", "ttl_minutes": 100 }, { "type": "payload", "payload": "p" } ] }
            ]})
        );
    }
}
