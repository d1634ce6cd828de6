//! What can go wrong talking to the Graph API, kept apart so callers can branch on it:
//! Meta's own refusals (its error envelope, reference §1 and §7.1), timeouts, connection
//! failures, answers that are not Graph JSON (a gateway's HTML 502), and requests we refuse to
//! send. [`GraphError::is_transient`] says which are worth repeating; whether they *are*
//! repeated depends on the [`Operation`].

use std::fmt;

use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use crate::Error;

/// One kind of Graph API request the product makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `POST /calls` `connect` (business-initiated call).
    Connect,
    /// `POST /calls` `pre_accept`.
    PreAccept,
    /// `POST /calls` `accept`.
    Accept,
    /// `POST /calls` `reject`.
    Reject,
    /// `POST /calls` `terminate`.
    Terminate,
    /// `GET /settings`.
    GetSettings,
    /// `POST /settings`.
    UpdateSettings,
    /// `GET /call_permissions`.
    CallPermissions,
    /// `POST /messages` (interactive or template).
    SendMessage,
    /// `POST /{WABA_ID}/message_templates`.
    CreateTemplate,
    /// `GET /{WABA_ID}/message_templates?name=`.
    ListTemplates,
    /// `DELETE /{WABA_ID}/message_templates?name=&hsm_id=`.
    DeleteTemplate,
}

impl Operation {
    /// A short name for logs and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Connect => "connect",
            Operation::PreAccept => "pre_accept",
            Operation::Accept => "accept",
            Operation::Reject => "reject",
            Operation::Terminate => "terminate",
            Operation::GetSettings => "get_settings",
            Operation::UpdateSettings => "update_settings",
            Operation::CallPermissions => "call_permissions",
            Operation::SendMessage => "send_message",
            Operation::CreateTemplate => "create_template",
            Operation::ListTemplates => "list_templates",
            Operation::DeleteTemplate => "delete_template",
        }
    }

    /// Whether sending the request twice has the same effect as sending it once, so a
    /// transient failure may be retried without asking anyone. Reads and the settings POST (a
    /// "set", not an "add") are; ending a call is (the second attempt finds the call ended), and
    /// so is deleting a named template (the second attempt finds nothing to delete, which the
    /// caller reads as done). A second `connect` could place a second call, a second message reaches the user twice
    /// and is billed twice, a second template creation is a duplicate, and `pre_accept`/`accept`
    /// belong to a short answer window in which the browser, not this client, decides.
    pub fn is_repeatable(self) -> bool {
        matches!(
            self,
            Operation::GetSettings
                | Operation::CallPermissions
                | Operation::ListTemplates
                | Operation::DeleteTemplate
                | Operation::UpdateSettings
                | Operation::Terminate
                | Operation::Reject
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Meta's error envelope: `{"error": {"message", "type", "code", "error_subcode",
/// "error_data", "fbtrace_id", …}}`. Numbers Meta sometimes sends as strings are accepted.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct MetaError {
    /// Meta's error code, e.g. 138006.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub code: i64,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub error_subcode: Option<i64>,
    /// The exception type, e.g. `OAuthException`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub message: String,
    /// Extra detail; for code 100 (including SDP validation) it says exactly what is wrong,
    /// for 138012 when the next call is allowed. Typically `{"details": "…"}`.
    #[serde(default)]
    pub error_data: Option<Value>,
    /// Meta's trace id, what Meta support asks for.
    #[serde(default)]
    pub fbtrace_id: Option<String>,
    /// Meta's own hint that repeating may succeed.
    #[serde(default)]
    pub is_transient: Option<bool>,
    #[serde(default)]
    pub error_user_title: Option<String>,
    #[serde(default)]
    pub error_user_msg: Option<String>,
}

impl MetaError {
    /// Reads `{"error": {…}}`; `None` if the body is not Meta's envelope.
    pub fn from_body(body: &[u8]) -> Option<MetaError> {
        #[derive(Deserialize)]
        struct Envelope {
            error: MetaError,
        }
        let envelope: Envelope = serde_json::from_slice(body).ok()?;
        (envelope.error.code != 0 || !envelope.error.message.is_empty()).then_some(envelope.error)
    }

    /// `error_data.details` when it is text (Meta's usual shape), else `error_user_msg`.
    pub fn details_text(&self) -> Option<&str> {
        self.error_data
            .as_ref()
            .and_then(|data| data.get("details").and_then(Value::as_str).or_else(|| data.as_str()))
            .or(self.error_user_msg.as_deref())
            .filter(|text| !text.trim().is_empty())
    }

    /// The message plus its details, e.g. `(#100) Invalid parameter — SDP must …`.
    pub fn describe(&self) -> String {
        match self.details_text() {
            Some(details) if !self.message.contains(details) => format!("{} — {details}", self.message),
            _ => self.message.clone(),
        }
    }
}

/// A failed Graph API request.
#[derive(Clone, Debug, thiserror::Error)]
pub enum GraphError {
    /// Meta answered with its error envelope.
    #[error(
        "WhatsApp refused {operation} (HTTP {status}, Meta error {code}): {described}{hint}",
        code = error.code,
        described = error.describe(),
        hint = retry_hint(*operation, *status >= 500 || *status == 429 || error.is_transient == Some(true), Some(*status))
    )]
    Meta { operation: Operation, status: u16, error: Box<MetaError> },

    /// No answer within the request timeout. For a request that is not repeatable the outcome
    /// is unknown: Meta may have acted on it.
    #[error("WhatsApp did not answer {operation} in time{}", timeout_hint(*operation))]
    Timeout { operation: Operation },

    /// WhatsApp could not be reached (DNS, refused or reset connection, TLS).
    #[error("could not reach WhatsApp for {operation}: {message}{}", retry_hint(*operation, true, None))]
    Connection { operation: Operation, message: String },

    /// An answer that is not Graph API JSON: a gateway error page, or a success body without
    /// what the operation returns.
    #[error(
        "WhatsApp answered {operation} with HTTP {status} and an unexpected body: {snippet}{}",
        retry_hint(*operation, *status >= 500 || *status == 429, Some(*status))
    )]
    UnexpectedResponse { operation: Operation, status: u16, snippet: String },

    /// A request this client refuses to send (it breaks one of Meta's documented limits).
    #[error("{field}: {message}")]
    InvalidRequest { field: &'static str, message: String },
}

impl GraphError {
    /// Worth repeating: timeouts, connection failures, 5xx (the dial gateway's 502 included),
    /// 429 rate limits, and errors Meta itself marks `is_transient`.
    pub fn is_transient(&self) -> bool {
        match self {
            GraphError::Meta { status, error, .. } => {
                *status >= 500 || *status == 429 || error.is_transient == Some(true)
            }
            GraphError::Timeout { .. } | GraphError::Connection { .. } => true,
            GraphError::UnexpectedResponse { status, .. } => *status >= 500 || *status == 429,
            GraphError::InvalidRequest { .. } => false,
        }
    }

    /// The operation that failed (`None` for a request never sent).
    pub fn operation(&self) -> Option<Operation> {
        match self {
            GraphError::Meta { operation, .. }
            | GraphError::Timeout { operation }
            | GraphError::Connection { operation, .. }
            | GraphError::UnexpectedResponse { operation, .. } => Some(*operation),
            GraphError::InvalidRequest { .. } => None,
        }
    }

    /// The HTTP status WhatsApp answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Meta { status, .. } | GraphError::UnexpectedResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Meta's error, if Meta sent one.
    pub fn meta(&self) -> Option<&MetaError> {
        match self {
            GraphError::Meta { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Meta's error code, if Meta sent one.
    pub fn meta_code(&self) -> Option<i64> {
        self.meta().map(|error| error.code)
    }

    /// Meta's trace id, if Meta sent one.
    pub fn fbtrace_id(&self) -> Option<&str> {
        self.meta().and_then(|error| error.fbtrace_id.as_deref())
    }
}

/// What to tell the user about repeating: for a failure worth repeating on an operation this
/// client does not repeat by itself, say so and why.
fn retry_hint(operation: Operation, transient: bool, status: Option<u16>) -> String {
    if !transient || operation.is_repeatable() {
        return String::new();
    }
    match (operation, status) {
        // 138002 (concurrent calls), 138005 (initiations per day): waiting 30 s is no advice.
        (_, Some(429)) => {
            format!("; WhatsApp is rate-limiting {operation} for this number, so it was not retried automatically")
        }
        (Operation::Connect, _) => "; not retried automatically because a second connect could place a second \
                                    call (Meta's dial gateway is occasionally flaky: try again in about 30 seconds)"
            .to_owned(),
        _ => format!("; not retried automatically because {operation} is not safe to repeat"),
    }
}

fn timeout_hint(operation: Operation) -> String {
    if operation.is_repeatable() {
        String::new()
    } else {
        format!(
            "; WhatsApp may or may not have carried out the {operation}, so it was not retried automatically"
        )
    }
}

impl From<GraphError> for Error {
    /// Meta's refusals and outages become [`Error::WhatsApp`] carrying Meta's code, trace id
    /// and `error_data` in `details`; a request we refused to send is a validation error.
    fn from(err: GraphError) -> Self {
        let message = err.to_string();
        match err {
            GraphError::InvalidRequest { field, message } => Error::validation(field, message),
            GraphError::Meta { operation, status, error } => Error::WhatsApp {
                status: Some(status),
                meta_code: Some(error.code),
                details: json!({
                    "operation": operation.as_str(),
                    "http_status": status,
                    "meta_code": error.code,
                    "meta_subcode": error.error_subcode,
                    "meta_type": error.kind,
                    "fbtrace_id": error.fbtrace_id,
                    "error_data": error.error_data,
                    "transient": status >= 500 || status == 429 || error.is_transient == Some(true),
                }),
                message,
            },
            GraphError::Timeout { operation } => Error::WhatsApp {
                status: None,
                meta_code: None,
                details: json!({ "operation": operation.as_str(), "transient": true, "reason": "timeout" }),
                message,
            },
            GraphError::Connection { operation, .. } => Error::WhatsApp {
                status: None,
                meta_code: None,
                details: json!({ "operation": operation.as_str(), "transient": true, "reason": "connection" }),
                message,
            },
            GraphError::UnexpectedResponse { operation, status, .. } => Error::WhatsApp {
                status: Some(status),
                meta_code: None,
                details: json!({
                    "operation": operation.as_str(),
                    "http_status": status,
                    "transient": status >= 500 || status == 429,
                    "reason": "unexpected_response",
                }),
                message,
            },
        }
    }
}

fn lenient_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    Ok(lenient_opt_i64(deserializer)?.unwrap_or_default())
}

fn lenient_opt_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metas_envelope_is_read_leniently() {
        let body = br#"{"error":{"message":"(#138006) No approved call permission","type":"OAuthException",
            "code":"138006","error_subcode":2494010,"error_data":{"details":"ask first"},"fbtrace_id":"AbC"}}"#;
        let error = MetaError::from_body(body).unwrap();
        assert_eq!(error.code, 138006);
        assert_eq!(error.error_subcode, Some(2494010));
        assert_eq!(error.kind.as_deref(), Some("OAuthException"));
        assert_eq!(error.describe(), "(#138006) No approved call permission — ask first");
        assert!(MetaError::from_body(b"<html>502 Bad Gateway</html>").is_none());
        assert!(MetaError::from_body(br#"{"error":{}}"#).is_none());
    }

    #[test]
    fn only_repeatable_operations_say_nothing_about_retrying() {
        let connect = GraphError::UnexpectedResponse {
            operation: Operation::Connect,
            status: 502,
            snippet: "Bad Gateway".into(),
        };
        assert!(connect.is_transient());
        assert!(connect.to_string().contains("try again in about 30 seconds"), "{connect}");
        let read = GraphError::Timeout { operation: Operation::GetSettings };
        assert_eq!(read.to_string(), "WhatsApp did not answer get_settings in time");
        let accept = GraphError::Timeout { operation: Operation::Accept };
        assert!(accept.to_string().contains("may or may not"), "{accept}");
    }

    #[test]
    fn permission_refusals_keep_the_ledgers_codes() {
        let refusal = |code| GraphError::Meta {
            operation: Operation::Connect,
            status: 400,
            error: Box::new(MetaError { code, fbtrace_id: Some("T".into()), ..MetaError::default() }),
        };
        let err = Error::from(refusal(138006));
        assert_eq!(err.code(), "permission_required");
        let details = err.details().unwrap();
        assert_eq!(details["meta_code"], 138006);
        assert_eq!(details["fbtrace_id"], "T");
        assert_eq!(Error::from(refusal(138012)).code(), "call_limit_reached");
        assert_eq!(Error::from(refusal(131009)).code(), "whatsapp_error");
        let invalid = GraphError::InvalidRequest { field: "payload", message: "too long".into() };
        assert_eq!(Error::from(invalid).code(), "validation_failed");
    }
}
