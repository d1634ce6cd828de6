//! Graph API errors exactly as Meta shapes them:
//! `{"error":{"message","type","code","error_data","fbtrace_id"}}` with Meta's HTTP status,
//! code, exception type and message for each calling error (reference §1, §7.1).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One Graph API error.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphError {
    /// HTTP status Meta answers with.
    pub status: StatusCode,
    /// Graph error code (e.g. 138006).
    pub code: u32,
    /// Graph `error_subcode`, when Meta sends one.
    pub subcode: Option<u32>,
    /// Exception type, e.g. `OAuthException`.
    pub kind: &'static str,
    /// Human message as Meta writes it: `(#code) Title`.
    pub message: String,
    /// `error_data`, typically `{"messaging_product":"whatsapp","details":"..."}`.
    pub error_data: Option<Value>,
}

impl GraphError {
    fn whatsapp(status: StatusCode, code: u32, title: &str, details: impl Into<String>) -> Self {
        Self {
            status,
            code,
            subcode: None,
            kind: "OAuthException",
            message: format!("(#{code}) {title}"),
            error_data: Some(json!({ "messaging_product": "whatsapp", "details": details.into() })),
        }
    }

    /// 190: missing or wrong access token.
    pub fn invalid_token() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: 190,
            subcode: None,
            kind: "OAuthException",
            message: "Invalid OAuth access token - Cannot parse access token".into(),
            error_data: None,
        }
    }

    /// 100/33: an object id (phone number, WABA) that does not exist for this token.
    pub fn unknown_object(id: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: 100,
            subcode: Some(33),
            kind: "GraphMethodException",
            message: format!(
                "Unsupported post request. Object with ID '{id}' does not exist, cannot be loaded due to missing \
                 permissions, or does not support this operation. Please read the Graph API documentation at \
                 https://developers.facebook.com/docs/graph-api"
            ),
            error_data: None,
        }
    }

    /// 100: invalid parameter; `details` says which (SDP validation details go here too).
    pub fn invalid_parameter(details: impl Into<String>) -> Self {
        Self::whatsapp(StatusCode::BAD_REQUEST, 100, "Invalid parameter", details)
    }

    /// 131055: Graph calling endpoints are not allowed while SIP is enabled.
    pub fn sip_enabled() -> Self {
        Self::whatsapp(
            StatusCode::BAD_REQUEST,
            131055,
            "Method not allowed",
            "Calling API is not allowed for phone numbers with SIP enabled",
        )
    }

    /// 131009: parameter value is not valid (message rules such as lengths and ranges).
    pub fn message_param(details: impl Into<String>) -> Self {
        Self::whatsapp(StatusCode::BAD_REQUEST, 131009, "Parameter value is not valid", details)
    }

    /// 131008: a required message parameter is missing.
    pub fn missing_param(details: impl Into<String>) -> Self {
        Self::whatsapp(StatusCode::BAD_REQUEST, 131008, "Required parameter is missing", details)
    }

    /// 132001: template does not exist.
    pub fn template_missing(name: &str, lang: &str) -> Self {
        Self::whatsapp(
            StatusCode::NOT_FOUND,
            132001,
            "Template name does not exist in the translation",
            format!("template name ({name}) does not exist in {lang}"),
        )
    }

    /// 100: a template delete that matches nothing (Meta's `Invalid parameter`, with the
    /// template's name in the details).
    pub fn template_not_found(name: &str, hsm_id: Option<&str>) -> Self {
        let which = match hsm_id {
            Some(id) => format!("Message template {name:?} with hsm_id {id} not found"),
            None => format!("Message template {name:?} not found"),
        };
        Self::whatsapp(StatusCode::BAD_REQUEST, 100, "Invalid parameter", which)
    }

    /// 138000: calling is not enabled on the business number.
    pub fn calling_not_enabled() -> Self {
        Self::whatsapp(
            StatusCode::UNAUTHORIZED,
            138000,
            "Calling not enabled",
            "Calling is not enabled for this business phone number",
        )
    }

    /// 138003: there is already a call between the business and this user.
    pub fn duplicate_call() -> Self {
        Self::whatsapp(
            StatusCode::BAD_REQUEST,
            138003,
            "Duplicate call",
            "There is already an ongoing call with the receiver",
        )
    }

    /// 138006: the user has not approved call permission.
    pub fn no_permission() -> Self {
        Self::whatsapp(
            StatusCode::UNAUTHORIZED,
            138006,
            "No approved call permission from the recipient",
            "Business initiated calling requires an approved call permission from the user",
        )
    }

    /// 138009: call permission request limit reached.
    pub fn permission_request_limit(details: impl Into<String>) -> Self {
        Self::whatsapp(StatusCode::BAD_REQUEST, 138009, "Call permission request limit reached", details)
    }

    /// 138012: connected business-initiated calls limit reached; `next_allowed` is unix seconds.
    pub fn connected_call_limit(max: u32, next_allowed: i64) -> Self {
        Self::whatsapp(
            StatusCode::BAD_REQUEST,
            138012,
            "Business initiated calls limit reached",
            format!(
                "Limit of {max} connected business initiated calls to this user in 24 hours reached. \
                 Next call is allowed at {next_allowed}"
            ),
        )
    }

    /// 138013: business-initiated calling is not available for this business number's country.
    pub fn bic_unavailable(country: &str) -> Self {
        Self::whatsapp(
            StatusCode::BAD_REQUEST,
            138013,
            "Business initiated calling not available",
            format!("Business initiated calling is not available for business phone numbers from {country}"),
        )
    }

    /// 138017: a permanent permission already exists, so no request is sent.
    pub fn permanent_permission_exists() -> Self {
        Self::whatsapp(
            StatusCode::BAD_REQUEST,
            138017,
            "Call permission request not sent",
            "The user has already granted permanent call permission",
        )
    }

    /// 138002: concurrent call limit of the business number reached.
    pub fn concurrent_limit(max: u32) -> Self {
        Self::whatsapp(
            StatusCode::TOO_MANY_REQUESTS,
            138002,
            "Concurrent Calls limit",
            format!("Limit of {max} concurrent calls for this business phone number reached"),
        )
    }

    /// 138005: call initiation rate limit reached.
    pub fn call_rate_limit(max: u32) -> Self {
        Self::whatsapp(
            StatusCode::TOO_MANY_REQUESTS,
            138005,
            "Calls limit exceeded",
            format!("Limit of {max} call initiations per 24 hours for this business phone number reached"),
        )
    }

    /// 613: `call_permissions` rate limit.
    pub fn api_rate_limit() -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: 613,
            subcode: None,
            kind: "OAuthException",
            message: "(#613) Calls to this api have exceeded the rate limit.".into(),
            error_data: None,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut e = json!({
            "message": self.message,
            "type": self.kind,
            "code": self.code,
            "fbtrace_id": crate::ids::fbtrace_id(),
        });
        if let Some(sub) = self.subcode {
            e["error_subcode"] = json!(sub);
        }
        if let Some(d) = &self.error_data {
            e["error_data"] = d.clone();
        }
        json!({ "error": e })
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// Result alias for Graph handlers.
pub type GraphResult<T> = Result<T, GraphError>;
