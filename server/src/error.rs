//! The one place where domain errors become HTTP responses.
//!
//! Every API error is `{"error":{"code":"snake_case","message":"…","details":{…}}}` with the
//! right status. Internal errors are logged with their cause and answered with a generic
//! message plus the request id, so a user's report can be matched to the log line.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::middleware::current_request_id;

/// A domain error on its way out of a handler.
#[derive(Debug)]
pub struct ApiError(pub calling::Error);

impl From<calling::Error> for ApiError {
    fn from(err: calling::Error) -> Self {
        ApiError(err)
    }
}

impl ApiError {
    /// The HTTP status for each kind of domain error.
    pub fn status(&self) -> StatusCode {
        match &self.0 {
            calling::Error::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            calling::Error::NotFound { .. } => StatusCode::NOT_FOUND,
            calling::Error::Conflict { .. } => StatusCode::CONFLICT,
            calling::Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            calling::Error::PaymentRequired { .. } => StatusCode::PAYMENT_REQUIRED,
            // WhatsApp failed us: no Meta verdict (timeout, connection, a gateway's error page)
            // or Meta's own 5xx is 502; Meta's rate limits stay 429; a parameter Meta rejected
            // (100, 131008, 131009, 132000) is 422; any other refusal (no permission, calling
            // disabled, the number's token rejected) is 409 like the permission ledger's own
            // refusals: the request is well formed but the number's state at WhatsApp forbids
            // it. Never 401/403, which would tell the API client that *its* credentials are wrong.
            calling::Error::WhatsApp { status, meta_code, .. } => match (status, meta_code) {
                (_, None) => StatusCode::BAD_GATEWAY,
                (Some(status), _) if *status >= 500 => StatusCode::BAD_GATEWAY,
                (Some(429), _) => StatusCode::TOO_MANY_REQUESTS,
                (_, Some(100 | 131008 | 131009 | 132000)) => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::CONFLICT,
            },
            calling::Error::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            calling::Error::Forbidden { .. } => StatusCode::FORBIDDEN,
            calling::Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            calling::Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let request_id = current_request_id();
        match &self.0 {
            calling::Error::Internal(cause) => {
                tracing::error!(error = %cause, source = ?std::error::Error::source(&**cause), "internal error")
            }
            calling::Error::Unavailable { message } => tracing::warn!(%message, "unavailable"),
            _ => {}
        }
        let mut message = self.0.public_message();
        if let (calling::Error::Internal(_), Some(id)) = (&self.0, &request_id) {
            message = format!("{message} Quote request id {id} when reporting it.");
        }
        let mut response =
            error_response(status, self.0.code(), &message, self.0.details(), request_id.as_deref());
        if let calling::Error::RateLimited { retry_after_seconds } = &self.0 {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, (*retry_after_seconds).into());
        }
        response
    }
}

/// Builds the JSON error envelope.
pub fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    details: Option<Value>,
    request_id: Option<&str>,
) -> Response {
    let mut error = json!({ "code": code, "message": message });
    if let Some(details) = details {
        error["details"] = details;
    }
    if let Some(id) = request_id {
        error["request_id"] = json!(id);
    }
    (status, Json(json!({ "error": error }))).into_response()
}

/// Unknown routes under `/api/v1` answer in JSON, never with the HTML 404 page.
pub async fn api_not_found() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        "No such API endpoint.",
        None,
        current_request_id().as_deref(),
    )
}
