//! The Graph API client: every request the product makes to WhatsApp (Meta's Cloud API, or the
//! simulator standing in for it), with Meta's exact wire shapes, timeouts, and retries where
//! repeating is safe.
//!
//! Owns [`GraphClient`] (one shared HTTP client with connect and request timeouts; cheap to
//! clone), [`GraphTarget`] (which number to act for, and its bearer token), the call actions of
//! `POST /{PHONE_NUMBER_ID}/calls` (reference §2), call settings (§5), `GET call_permissions`
//! (§4.5), calling messages (§4.3, §6.1, template sends §6.2) and templates (§4.4): creation,
//! lookup by name and deletion.
//!
//! Failures are [`GraphError`]s: Meta's refusals keep Meta's code, subcode, type, message,
//! `error_data` and `fbtrace_id`; timeouts and connection failures are told apart. Transient
//! failures are retried with exponential backoff only for [`Operation::is_repeatable`]
//! requests (reads, the settings POST, `reject`, `terminate`, template deletion); `connect`, `pre_accept`,
//! `accept`, messages and template creation fail at once with a message saying why they were
//! not repeated. `From<GraphError> for crate::Error` gives the API's error envelope.
//!
//! Nothing here logs the access token or an SDP body.

mod error;
mod types;

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use tracing::Instrument;

pub use error::{GraphError, MetaError, Operation};
pub use types::{
    ActionLimit, CallPermissions, CreatedTemplate, NewTemplate, PermissionAction, PermissionGrant,
    RemoteTemplate, SEND_CALL_PERMISSION_REQUEST, START_CALL, SentMessage, TemplateButton, TemplateCategory,
    TemplateComponent, TemplateSend, VoiceCallButton, VoiceCallParameters,
};

use crate::numbers::{NumberCredentials, WhatsAppNumber};
use crate::phone::PhoneNumber;
use crate::settings::CallingSettings;
use crate::{Error, Result};

/// Longest `biz_opaque_callback_data` Meta accepts (§2.1, §2.3).
pub const MAX_BIZ_OPAQUE_CALLBACK_DATA: usize = 512;

/// The number a request acts for: the Graph root (`https://graph.facebook.com/v23.0`, or the
/// simulator's), its ids and its bearer token. `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq)]
pub struct GraphTarget {
    /// Base URL with the version, without a trailing slash.
    pub root: String,
    pub phone_number_id: String,
    pub waba_id: String,
    access_token: String,
}

impl GraphTarget {
    pub fn new(
        root: impl Into<String>,
        phone_number_id: impl Into<String>,
        waba_id: impl Into<String>,
        access_token: impl Into<String>,
    ) -> Self {
        let root: String = root.into();
        GraphTarget {
            root: root.trim_end_matches('/').to_owned(),
            phone_number_id: phone_number_id.into(),
            waba_id: waba_id.into(),
            access_token: access_token.into(),
        }
    }

    /// The target of a connected number.
    pub fn for_number(number: &WhatsAppNumber, credentials: &NumberCredentials) -> Self {
        GraphTarget::new(
            number.graph_api_root(),
            &number.phone_number_id,
            &number.waba_id,
            &credentials.access_token,
        )
    }

    fn url(&self, id: &str, edge: &str) -> String {
        format!("{}/{id}/{edge}", self.root)
    }
}

impl fmt::Debug for GraphTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphTarget")
            .field("root", &self.root)
            .field("phone_number_id", &self.phone_number_id)
            .field("waba_id", &self.waba_id)
            .field("access_token", &"<redacted>")
            .finish()
    }
}

/// Timeouts and retries of a [`GraphClient`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GraphConfig {
    /// Establishing the TCP/TLS connection.
    pub connect_timeout: Duration,
    /// One whole attempt, from sending to the last byte of the answer.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            connect_timeout: Duration::from_secs(5),
            // Call actions answer within a few seconds; well above that, the call's answer
            // window (30–60 s) is better spent telling the agent than waiting.
            request_timeout: Duration::from_secs(15),
            retry: RetryPolicy::default(),
        }
    }
}

/// Exponential backoff for repeatable requests: `initial_backoff`, doubling, capped at
/// `max_backoff`, `max_attempts` attempts in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(16);
        self.initial_backoff.saturating_mul(1 << doublings).min(self.max_backoff)
    }
}

/// The Graph API client. Cheap to clone: clones share one connection pool.
#[derive(Clone, Debug)]
pub struct GraphClient {
    http: reqwest::Client,
    retry: RetryPolicy,
}

/// One request, ready to be sent (again).
struct Request {
    operation: Operation,
    method: Method,
    url: String,
    query: Vec<(&'static str, String)>,
    /// Serialised once, so every attempt sends the same bytes.
    body: Option<Vec<u8>>,
}

impl GraphClient {
    /// A client with the default timeouts and retries.
    pub fn new() -> Result<Self> {
        GraphClient::with_config(GraphConfig::default())
    }

    pub fn with_config(config: GraphConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::internal)?;
        Ok(GraphClient { http, retry: config.retry })
    }

    /// Places a business-initiated call to `to` with the browser's SDP offer (sent untouched,
    /// CRLF line endings and all). Returns Meta's call id (`wacid.…`). Never retried: a
    /// second `connect` could ring the user twice.
    pub async fn connect(
        &self,
        target: &GraphTarget,
        to: &PhoneNumber,
        sdp_offer: &str,
        biz_opaque_callback_data: Option<&str>,
    ) -> Result<String, GraphError> {
        require("sdp", sdp_offer)?;
        check_opaque(biz_opaque_callback_data)?;
        let mut body = json!({
            "messaging_product": "whatsapp",
            "to": to.wa_id(),
            "action": "connect",
            "session": { "sdp_type": "offer", "sdp": sdp_offer },
        });
        if let Some(data) = biz_opaque_callback_data {
            body["biz_opaque_callback_data"] = json!(data);
        }
        let answer = self.execute(target, calls(target, Operation::Connect, &body)).await?;
        answer
            .pointer("/calls/0/id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| unexpected(Operation::Connect, 200, &answer))
    }

    /// Sends the SDP answer ahead of `accept` for a user-initiated call (§2.2).
    pub async fn pre_accept(
        &self,
        target: &GraphTarget,
        call_id: &str,
        sdp_answer: &str,
    ) -> Result<(), GraphError> {
        require("call_id", call_id)?;
        require("sdp", sdp_answer)?;
        // `sdp_type` is "answer": Meta's parameter table says "offer", its examples and every
        // working client say "answer" (§2.2 ⚠️).
        let body = json!({
            "messaging_product": "whatsapp",
            "call_id": call_id,
            "action": "pre_accept",
            "session": { "sdp_type": "answer", "sdp": sdp_answer },
        });
        self.action(target, Operation::PreAccept, &body).await
    }

    /// Answers a user-initiated call. The SDP must be the one sent in `pre_accept`, if any.
    pub async fn accept(
        &self,
        target: &GraphTarget,
        call_id: &str,
        sdp_answer: &str,
        biz_opaque_callback_data: Option<&str>,
    ) -> Result<(), GraphError> {
        require("call_id", call_id)?;
        require("sdp", sdp_answer)?;
        check_opaque(biz_opaque_callback_data)?;
        let mut body = json!({
            "messaging_product": "whatsapp",
            "call_id": call_id,
            "action": "accept",
            "session": { "sdp_type": "answer", "sdp": sdp_answer },
        });
        if let Some(data) = biz_opaque_callback_data {
            body["biz_opaque_callback_data"] = json!(data);
        }
        self.action(target, Operation::Accept, &body).await
    }

    /// Declines a ringing user-initiated call.
    pub async fn reject(&self, target: &GraphTarget, call_id: &str) -> Result<(), GraphError> {
        require("call_id", call_id)?;
        let body = json!({ "messaging_product": "whatsapp", "call_id": call_id, "action": "reject" });
        self.action(target, Operation::Reject, &body).await
    }

    /// Ends a call in either direction.
    pub async fn terminate(&self, target: &GraphTarget, call_id: &str) -> Result<(), GraphError> {
        require("call_id", call_id)?;
        let body = json!({ "messaging_product": "whatsapp", "call_id": call_id, "action": "terminate" });
        self.action(target, Operation::Terminate, &body).await
    }

    /// The number's `calling` settings as Meta has them.
    pub async fn get_settings(&self, target: &GraphTarget) -> Result<CallingSettings, GraphError> {
        let request = Request {
            operation: Operation::GetSettings,
            method: Method::GET,
            url: target.url(&target.phone_number_id, "settings"),
            query: Vec::new(),
            body: None,
        };
        let answer = self.execute(target, request).await?;
        CallingSettings::from_get_response(&answer).map_err(|err| GraphError::UnexpectedResponse {
            operation: Operation::GetSettings,
            status: 200,
            snippet: err.to_string(),
        })
    }

    /// Sets the fields present in `settings` ([`CallingSettings::post_body`]). Validate with
    /// [`CallingSettings::validate`] first; Meta's own refusal comes back as code 100.
    pub async fn update_settings(
        &self,
        target: &GraphTarget,
        settings: &CallingSettings,
    ) -> Result<(), GraphError> {
        let request = Request {
            operation: Operation::UpdateSettings,
            method: Method::POST,
            url: target.url(&target.phone_number_id, "settings"),
            query: Vec::new(),
            body: Some(settings.post_body().to_string().into_bytes()),
        };
        let answer = self.execute(target, request).await?;
        expect_success(Operation::UpdateSettings, &answer)
    }

    /// Whether the business may call `user` (and ask for permission), with Meta's quotas.
    pub async fn call_permissions(
        &self,
        target: &GraphTarget,
        user: &PhoneNumber,
    ) -> Result<CallPermissions, GraphError> {
        let request = Request {
            operation: Operation::CallPermissions,
            method: Method::GET,
            url: target.url(&target.phone_number_id, "call_permissions"),
            query: vec![("user_wa_id", user.wa_id().to_owned())],
            body: None,
        };
        let answer = self.execute(target, request).await?;
        serde_json::from_value(answer.clone())
            .map_err(|_| unexpected(Operation::CallPermissions, 200, &answer))
    }

    /// Sends an interactive `voice_call` message (a call button) to `to`.
    pub async fn send_voice_call_button(
        &self,
        target: &GraphTarget,
        to: &PhoneNumber,
        button: &VoiceCallButton,
    ) -> Result<SentMessage, GraphError> {
        self.send_message(target, to, "interactive", button.interactive()).await
    }

    /// Sends a free-form call permission request (no header or footer; `body_text` optional).
    pub async fn send_call_permission_request(
        &self,
        target: &GraphTarget,
        to: &PhoneNumber,
        body_text: Option<&str>,
    ) -> Result<SentMessage, GraphError> {
        let mut interactive = json!({
            "type": "call_permission_request",
            "action": { "name": "call_permission_request" },
        });
        if let Some(text) = body_text {
            interactive["body"] = json!({ "text": text });
        }
        self.send_message(target, to, "interactive", interactive).await
    }

    /// Sends an approved template (call-button or permission-request templates included).
    pub async fn send_template(
        &self,
        target: &GraphTarget,
        to: &PhoneNumber,
        template: &TemplateSend,
    ) -> Result<SentMessage, GraphError> {
        require("template.name", &template.name)?;
        require("template.language", &template.language)?;
        self.send_message(target, to, "template", template.template()).await
    }

    /// Submits a template for review on the number's WhatsApp Business Account.
    pub async fn create_template(
        &self,
        target: &GraphTarget,
        template: &NewTemplate,
    ) -> Result<CreatedTemplate, GraphError> {
        let request = Request {
            operation: Operation::CreateTemplate,
            method: Method::POST,
            url: target.url(&target.waba_id, "message_templates"),
            query: Vec::new(),
            body: Some(template.body().to_string().into_bytes()),
        };
        let answer = self.execute(target, request).await?;
        CreatedTemplate::from_response(&answer)
            .ok_or_else(|| unexpected(Operation::CreateTemplate, 200, &answer))
    }

    /// The templates named `name` on the number's WhatsApp Business Account, every language.
    pub async fn templates_named(
        &self,
        target: &GraphTarget,
        name: &str,
    ) -> Result<Vec<RemoteTemplate>, GraphError> {
        require("name", name)?;
        let request = Request {
            operation: Operation::ListTemplates,
            method: Method::GET,
            url: target.url(&target.waba_id, "message_templates"),
            query: vec![("name", name.to_owned())],
            body: None,
        };
        let answer = self.execute(target, request).await?;
        RemoteTemplate::list_from_response(&answer)
            .ok_or_else(|| unexpected(Operation::ListTemplates, 200, &answer))
    }

    /// Deletes template `name` at WhatsApp: with `hsm_id` (Meta's template id) only that
    /// template, one language; without it every language of the name. Retried after
    /// transient failures, as deleting twice is deleting once. A template WhatsApp does not
    /// have is Meta's code 100; see [`GraphClient::templates_named`] to tell that from other
    /// refusals.
    pub async fn delete_template(
        &self,
        target: &GraphTarget,
        name: &str,
        hsm_id: Option<&str>,
    ) -> Result<(), GraphError> {
        require("name", name)?;
        let mut query = vec![("name", name.to_owned())];
        if let Some(id) = hsm_id {
            require("hsm_id", id)?;
            query.push(("hsm_id", id.to_owned()));
        }
        let request = Request {
            operation: Operation::DeleteTemplate,
            method: Method::DELETE,
            url: target.url(&target.waba_id, "message_templates"),
            query,
            body: None,
        };
        let answer = self.execute(target, request).await?;
        expect_success(Operation::DeleteTemplate, &answer)
    }

    async fn send_message(
        &self,
        target: &GraphTarget,
        to: &PhoneNumber,
        kind: &str,
        content: Value,
    ) -> Result<SentMessage, GraphError> {
        let mut body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to.wa_id(),
            "type": kind,
        });
        body[kind] = content;
        let request = Request {
            operation: Operation::SendMessage,
            method: Method::POST,
            url: target.url(&target.phone_number_id, "messages"),
            query: Vec::new(),
            body: Some(body.to_string().into_bytes()),
        };
        let answer = self.execute(target, request).await?;
        SentMessage::from_response(&answer).ok_or_else(|| unexpected(Operation::SendMessage, 200, &answer))
    }

    async fn action(
        &self,
        target: &GraphTarget,
        operation: Operation,
        body: &Value,
    ) -> Result<(), GraphError> {
        let answer = self.execute(target, calls(target, operation, body)).await?;
        expect_success(operation, &answer)
    }

    /// Sends `request`, repeating transient failures with backoff when the operation is
    /// repeatable, and returns the JSON of a 2xx answer.
    async fn execute(&self, target: &GraphTarget, request: Request) -> Result<Value, GraphError> {
        let operation = request.operation;
        let max_attempts = if operation.is_repeatable() { self.retry.max_attempts.max(1) } else { 1 };
        let span = tracing::info_span!(
            "graph_api",
            operation = operation.as_str(),
            phone_number_id = %target.phone_number_id,
        );
        async move {
            let mut attempt = 1;
            loop {
                let started = Instant::now();
                let result = self.send_once(target, &request).await;
                let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                match result {
                    Ok(answer) => {
                        tracing::debug!(attempt, elapsed_ms, "Graph API request succeeded");
                        return Ok(answer);
                    }
                    Err(err) if err.is_transient() && attempt < max_attempts => {
                        let wait = self.retry.backoff(attempt);
                        tracing::warn!(
                            attempt,
                            max_attempts,
                            elapsed_ms,
                            retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                            error = %err,
                            "transient Graph API failure; retrying"
                        );
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                    Err(err) => {
                        if err.is_transient() {
                            tracing::warn!(attempt, elapsed_ms, error = %err, "Graph API request failed");
                        } else {
                            tracing::info!(attempt, elapsed_ms, meta_code = err.meta_code(), fbtrace_id = err.fbtrace_id(), error = %err, "Graph API refused the request");
                        }
                        return Err(err);
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn send_once(&self, target: &GraphTarget, request: &Request) -> Result<Value, GraphError> {
        let operation = request.operation;
        let mut builder =
            self.http.request(request.method.clone(), &request.url).bearer_auth(&target.access_token);
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(body) = &request.body {
            builder = builder.header(CONTENT_TYPE, "application/json").body(body.clone());
        }
        let response = builder.send().await.map_err(|err| transport_error(operation, err))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|err| transport_error(operation, err))?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes).map_err(|_| GraphError::UnexpectedResponse {
                operation,
                status,
                snippet: snippet(&bytes),
            });
        }
        match MetaError::from_body(&bytes) {
            Some(error) => Err(GraphError::Meta { operation, status, error: Box::new(error) }),
            None => Err(GraphError::UnexpectedResponse { operation, status, snippet: snippet(&bytes) }),
        }
    }
}

/// A `POST /{PHONE_NUMBER_ID}/calls` request.
fn calls(target: &GraphTarget, operation: Operation, body: &Value) -> Request {
    Request {
        operation,
        method: Method::POST,
        url: target.url(&target.phone_number_id, "calls"),
        query: Vec::new(),
        body: Some(body.to_string().into_bytes()),
    }
}

fn require(field: &'static str, value: &str) -> Result<(), GraphError> {
    if value.trim().is_empty() {
        return Err(GraphError::InvalidRequest { field, message: "is required".to_owned() });
    }
    Ok(())
}

fn check_opaque(data: Option<&str>) -> Result<(), GraphError> {
    match data {
        Some(data) if data.chars().count() > MAX_BIZ_OPAQUE_CALLBACK_DATA => {
            Err(GraphError::InvalidRequest {
                field: "biz_opaque_callback_data",
                message: format!("must be at most {MAX_BIZ_OPAQUE_CALLBACK_DATA} characters"),
            })
        }
        _ => Ok(()),
    }
}

/// Call actions, the settings POST and template deletion answer `{"success": true}`; anything
/// else is not a success, whatever the status said.
fn expect_success(operation: Operation, answer: &Value) -> Result<(), GraphError> {
    if answer.get("success").and_then(Value::as_bool) == Some(true) {
        Ok(())
    } else {
        Err(unexpected(operation, 200, answer))
    }
}

fn unexpected(operation: Operation, status: u16, answer: &Value) -> GraphError {
    GraphError::UnexpectedResponse { operation, status, snippet: snippet(answer.to_string().as_bytes()) }
}

/// The start of a body for a message: one line, at most 200 characters.
fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return "(empty)".to_owned();
    }
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

fn transport_error(operation: Operation, err: reqwest::Error) -> GraphError {
    if err.is_timeout() {
        return GraphError::Timeout { operation };
    }
    let not_sent = err.is_connect();
    // The URL adds nothing the operation does not say; the source chain says what failed.
    let err = err.without_url();
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if not_sent {
        message.push_str(" (the request was not sent)");
    }
    GraphError::Connection { operation, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
        };
        let waits: Vec<u128> = (1..=4).map(|attempt| policy.backoff(attempt).as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 350, 350]);
        assert_eq!(policy.backoff(u32::MAX), Duration::from_millis(350));
    }

    #[test]
    fn the_token_never_shows_in_debug() {
        let target = GraphTarget::new("http://127.0.0.1:9/v23.0/", "1", "2", "EAAG-secret");
        assert_eq!(target.root, "http://127.0.0.1:9/v23.0");
        assert!(!format!("{target:?}").contains("EAAG"));
    }

    #[test]
    fn a_connected_number_is_its_own_target() {
        let number = WhatsAppNumber {
            id: "n1".into(),
            workspace_id: "w1".into(),
            phone_number_id: "100000000000001".into(),
            waba_id: "200000000000001".into(),
            display_phone_number: "+44 7700 900001".into(),
            e164: "+447700900001".into(),
            country: Some("GB".into()),
            graph_api_version: "v23.0".into(),
            graph_api_base_url: "http://127.0.0.1:3000/graph/".into(),
            is_sandbox: true,
            created_at: 0,
        };
        let credentials = NumberCredentials {
            access_token: "sandbox-access-token".into(),
            app_secret: "s".into(),
            verify_token: "v".into(),
        };
        let target = GraphTarget::for_number(&number, &credentials);
        assert_eq!(target.root, "http://127.0.0.1:3000/graph/v23.0");
        assert_eq!(
            target.url(&target.phone_number_id, "calls"),
            "http://127.0.0.1:3000/graph/v23.0/100000000000001/calls"
        );
        assert_eq!(
            target.url(&target.waba_id, "message_templates"),
            "http://127.0.0.1:3000/graph/v23.0/200000000000001/message_templates"
        );
        assert!(!format!("{target:?}").contains("sandbox-access-token"));
    }

    #[test]
    fn snippets_are_one_short_line() {
        assert_eq!(
            snippet(b"<html>\n  <h1>502 Bad Gateway</h1>\n</html>"),
            "<html> <h1>502 Bad Gateway</h1> </html>"
        );
        assert_eq!(snippet(b""), "(empty)");
        assert_eq!(snippet("é".repeat(300).as_bytes()).chars().count(), 201);
    }
}
