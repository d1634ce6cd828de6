//! The domain's one error type.
//!
//! Every failure a user can cause or see is a variant with a stable snake_case [`Error::code`];
//! the server maps variants to HTTP statuses in one place. Codes the seeds name
//! (`permission_required`, `subscription_expired`, `insufficient_balance`) are kept verbatim.

use serde_json::Value;

/// Text a message quotes, written as `{:?}` writes a string (`"+1 555"`, escapes included).
///
/// Why not `{:?}`: the release WASM is built with `-Zfmt-debug=none` (`./dev`), which makes
/// every `Debug` print nothing, and these messages are also shown by the browser as you type.
pub struct Quoted<'a>(pub &'a str);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{}\"", self.0.escape_debug())
    }
}

/// A domain error. `Internal` hides its cause from users; everything else is safe to show.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that fails a rule; `field` names the offending field.
    #[error("{field}: {message}")]
    Validation { field: String, message: String },

    /// The thing does not exist, or belongs to another workspace (never say which).
    #[error("{what} not found")]
    NotFound { what: &'static str },

    /// The request conflicts with the current state (duplicate name, call already answered, …).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },

    /// A request the server cannot take as sent, whatever its fields say — an upload of a kind
    /// or size it does not accept (400). `details` lists what it does accept.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String, details: Value },

    /// Something the product depends on is not reachable or not ready (database, WhatsApp).
    #[error("{message}")]
    Unavailable { message: String },

    /// A paid action refused before anything was sent: `subscription_expired` or
    /// `insufficient_balance`. `details` says what was required, what is available and how to
    /// fix it (the top-up hint).
    #[error("{message}")]
    PaymentRequired { code: &'static str, message: String, details: Value },

    /// WhatsApp (Meta's Graph API) refused a request or could not be reached. `status` is the
    /// HTTP status it answered with and `meta_code` Meta's error code (both absent when it never
    /// answered); `details` carries `meta_code`, `fbtrace_id` and `error_data`.
    #[error("{message}")]
    WhatsApp { status: Option<u16>, meta_code: Option<i64>, message: String, details: Value },

    /// No valid credentials: no or an expired session, a wrong password, a bad token or key.
    /// `code` is `unauthenticated`, `invalid_credentials` or `invalid_token`.
    #[error("{message}")]
    Unauthenticated { code: &'static str, message: String },

    /// Authenticated, but not allowed: `forbidden` (the role lacks a permission) or
    /// `csrf_failed` (a cookie-authenticated change from another origin).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },

    /// Too many attempts (logins); try again after `retry_after_seconds`.
    #[error("too many attempts; try again in {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },

    /// An unexpected failure. The cause goes to the log, never to the user.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// A validation error for `field`.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation { field: field.into(), message: message.into() }
    }

    /// Missing or expired credentials (401 `unauthenticated`).
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Error::Unauthenticated { code: "unauthenticated", message: message.into() }
    }

    /// A permission the caller's role lacks (403 `forbidden`).
    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::Forbidden { code: "forbidden", message: message.into() }
    }

    /// Wraps any unexpected failure.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Internal(cause.into())
    }

    /// The stable, machine-readable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation { .. } => "validation_failed",
            Error::NotFound { .. } => "not_found",
            Error::Conflict { code, .. } => code,
            Error::PaymentRequired { code, .. } | Error::BadRequest { code, .. } => code,
            Error::Unavailable { .. } => "unavailable",
            Error::Unauthenticated { code, .. } | Error::Forbidden { code, .. } => code,
            Error::RateLimited { .. } => "rate_limited",
            // Meta's permission refusals keep the codes the permission ledger gives the same rule.
            Error::WhatsApp { meta_code: Some(138006), .. } => "permission_required",
            Error::WhatsApp { meta_code: Some(138009), .. } => "permission_request_limit",
            Error::WhatsApp { meta_code: Some(138012), .. } => "call_limit_reached",
            Error::WhatsApp { meta_code: Some(138013), .. } => "calling_unavailable_in_country",
            Error::WhatsApp { meta_code: Some(138017), .. } => "permission_already_granted",
            Error::WhatsApp { .. } => "whatsapp_error",
            Error::Internal(_) => "internal_error",
        }
    }

    /// The HTTP status this error is answered with, by the REST API and by the pages' server
    /// functions alike.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Validation { .. } => 422,
            Error::NotFound { .. } => 404,
            Error::Conflict { .. } => 409,
            Error::BadRequest { .. } => 400,
            Error::Unavailable { .. } => 503,
            Error::PaymentRequired { .. } => 402,
            // WhatsApp failed us: no Meta verdict (timeout, connection, a gateway's error page)
            // or Meta's own 5xx is 502; Meta's rate limits stay 429; a parameter Meta rejected
            // (100, 131008, 131009, 132000) is 422; any other refusal (no permission, calling
            // disabled, the number's token rejected) is 409 like the permission ledger's own
            // refusals: the request is well formed but the number's state at WhatsApp forbids
            // it. Never 401/403, which would tell the API client that *its* credentials are wrong.
            Error::WhatsApp { status, meta_code, .. } => match (status, meta_code) {
                (_, None) => 502,
                (Some(status), _) if *status >= 500 => 502,
                (Some(429), _) => 429,
                (_, Some(100 | 131008 | 131009 | 132000)) => 422,
                _ => 409,
            },
            Error::Unauthenticated { .. } => 401,
            Error::Forbidden { .. } => 403,
            Error::RateLimited { .. } => 429,
            Error::Internal(_) => 500,
        }
    }

    /// The message shown to users. Internal causes are never included.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(_) => "Something went wrong on our side.".to_owned(),
            other => other.to_string(),
        }
    }

    /// Structured details for clients (`error.details` in the JSON envelope).
    pub fn details(&self) -> Option<Value> {
        match self {
            Error::Validation { field, .. } => Some(serde_json::json!({ "field": field })),
            Error::PaymentRequired { details, .. } | Error::BadRequest { details, .. } => {
                Some(details.clone())
            }
            Error::WhatsApp { details, .. } => Some(details.clone()),
            Error::RateLimited { retry_after_seconds } => {
                Some(serde_json::json!({ "retry_after_seconds": retry_after_seconds }))
            }
            _ => None,
        }
    }
}

#[cfg(feature = "server")]
impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::RowNotFound => Error::NotFound { what: "record" },
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Error::Unavailable { message: format!("database unavailable: {err}") }
            }
            other => Error::internal(other),
        }
    }
}

#[cfg(feature = "server")]
impl From<sqlx::migrate::MigrateError> for Error {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        Error::internal(err)
    }
}

#[cfg(test)]
mod tests {
    use super::Quoted;

    #[test]
    fn quoted_text_reads_as_debug_writes_it() {
        for text in
            ["+1 555", "", "say \"hi\"", "tab\there", "new\nline", "back\\slash", "café ✓", "\u{301}accent"]
        {
            assert_eq!(Quoted(text).to_string(), format!("{text:?}"));
        }
    }
}
