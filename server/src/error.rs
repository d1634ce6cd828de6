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
    /// The HTTP status for the domain error (`calling::Error::http_status`).
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
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
