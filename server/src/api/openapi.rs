//! The REST API's OpenAPI 3.1 document, generated from the code: each route file lists its
//! handlers' `#[utoipa::path]` annotations in its own `Doc`, and the schemas are derived from
//! the very types the handlers serialise (`calling::…` with its `server` feature). Served at
//! `GET /api/v1/openapi.json`; `GET /api/v1/docs` renders it as a reference page
//! ([`super::reference`]).
//!
//! What every operation shares — the error envelope for 401/403/404/422/429/500 and the two
//! ways to authenticate — is added here once by [`Shared`], so the annotations only name what
//! is particular to their route.

use axum::Json;
use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{
    answer_routes, billing_routes, calling_routes, contacts_routes, events, numbers_routes, presence_routes,
    recording_routes, templates_routes,
};

/// Where the documented paths are mounted.
pub const BASE_PATH: &str = "/api/v1";

/// Every error the API returns: `{"error":{"code","message","details"?,"request_id"?}}`.
/// Statuses: 400 a request of the wrong shape, 401 credentials, 402 billing, 403 role, 404 not
/// in this workspace, 409 the state forbids it (WhatsApp's refusals too), 422 invalid input,
/// 429 rate limits, 502 WhatsApp failed, 503 unavailable.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable snake_case code: `validation_failed`, `not_found`, `permission_required`,
    /// `subscription_expired`, `insufficient_balance`, `rate_limited`, `whatsapp_error`, …
    #[schema(example = "validation_failed")]
    pub code: String,
    /// What went wrong, in words meant for a person.
    pub message: String,
    /// Machine-readable specifics: the `field` a validation error names, the `required` and
    /// `available` amounts of a billing refusal, WhatsApp's `meta_code` and `fbtrace_id`, …
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    /// The request's id (also in the `x-request-id` header), to match a report to the log.
    pub request_id: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard REST API",
        description = "WhatsApp Business Calling for integrators and the `switchboard` CLI: the same \
                       data and actions as the /calling page. Authenticate with an API key \
                       (`Authorization: Bearer sk_…`, created in the admin panel) or, from the \
                       browser, the session cookie. Amounts are integer micro-units of the \
                       wallet's currency (1 USD = 1000000); times are milliseconds since the Unix \
                       epoch unless a field says otherwise. Every error is \
                       `{\"error\":{\"code\",\"message\",\"details\"}}`."
    ),
    servers((url = "/api/v1")),
    components(schemas(ErrorEnvelope, ErrorBody)),
    security(("api_key" = []), ("session" = [])),
    tags(
        (name = "calling", description = "The /calling page's data: overview, analytics, calls, settings, permissions"),
        (name = "templates", description = "Call-button and permission templates, and sending them"),
        (name = "calls", description = "Answering and placing calls (the browser's answer bridge uses these)"),
        (name = "recordings", description = "Call recordings"),
        (name = "contacts", description = "Contacts with tags"),
        (name = "numbers", description = "The workspace's WhatsApp numbers"),
        (name = "billing", description = "Wallet, rate card, subscription and expenses"),
        (name = "presence", description = "Agents' availability"),
        (name = "events", description = "The live event stream"),
    )
)]
struct Root;

/// The whole document.
pub fn document() -> Document {
    let mut doc = Root::openapi();
    for part in [
        calling_routes::Doc::openapi(),
        templates_routes::Doc::openapi(),
        answer_routes::Doc::openapi(),
        recording_routes::Doc::openapi(),
        contacts_routes::Doc::openapi(),
        numbers_routes::Doc::openapi(),
        billing_routes::Doc::openapi(),
        presence_routes::Doc::openapi(),
        events::Doc::openapi(),
    ] {
        doc.merge(part);
    }
    Shared.modify(&mut doc);
    doc
}

/// `GET /api/v1/openapi.json` (no credentials needed: it describes, it holds no data).
pub async fn openapi_json() -> Json<Document> {
    Json(document())
}

/// Adds what all operations share. Runs once more after the route files' parts are merged
/// (merging does not re-run the parts' modifiers), so adding is idempotent.
struct Shared;

impl Modify for Shared {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key from the admin panel: `Authorization: Bearer sk_…`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "The browser's session after signing in; state-changing requests must also be same-origin.",
            ))),
        );
        for item in doc.paths.paths.values_mut() {
            for operation in [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch]
                .into_iter()
                .flatten()
            {
                add_shared_errors(operation);
            }
        }
    }
}

/// The error responses every operation can give, unless its annotation already names them.
fn add_shared_errors(operation: &mut Operation) {
    let takes_input = operation.request_body.is_some() || operation.parameters.is_some();
    let mut shared = vec![
        ("401", "No credentials, or an unknown, expired or revoked key or session (`unauthenticated`)"),
        ("403", "The role may not do this (`forbidden`)"),
        ("404", "Not in this workspace (`not_found`): the item named, or a WhatsApp number to act for"),
        ("429", "Too many requests (`rate_limited`; see `Retry-After`)"),
        ("500", "Something broke on our side (`internal_error`; quote `request_id`)"),
    ];
    if takes_input {
        shared.push(("422", "Invalid input (`validation_failed`; `details.field` names the field)"));
    }
    for (status, description) in shared {
        if operation.responses.responses.contains_key(status) {
            continue;
        }
        operation.responses.responses.insert(status.to_owned(), error_response(description));
    }
}

/// A response carrying the error envelope.
pub fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorEnvelope"))).build(),
            )
            .build(),
    )
}
