//! The REST API under `/api/v1/app/…`: thin handlers that authenticate, check the role, parse
//! input once and call `calling::…`. Errors leave through [`crate::error::ApiError`]. Its
//! OpenAPI document is [`openapi`] (`/api/v1/openapi.json`), rendered by [`reference`]
//! (`/api/v1/docs`).

pub mod answer_routes;
pub mod billing_routes;
pub mod calling_routes;
pub mod contacts_routes;
pub mod events;
pub mod numbers_routes;
pub mod openapi;
pub mod presence_routes;
pub mod recording_routes;
pub mod reference;
pub mod templates_routes;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;

/// Every `/api/v1/app/…` route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .nest(
            "/app/calling",
            calling_routes::routes()
                .merge(templates_routes::routes())
                .merge(answer_routes::routes())
                .merge(recording_routes::routes()),
        )
        .nest("/app/numbers", numbers_routes::routes())
        .nest("/app/contacts", contacts_routes::routes())
        .nest("/app/billing", billing_routes::routes())
        .nest("/app/presence", presence_routes::routes())
        .route("/app/events", axum::routing::get(events::events))
        .route("/openapi.json", axum::routing::get(openapi::openapi_json))
        .route("/docs", axum::routing::get(reference::page))
}

/// A query string parsed into `T`; a malformed one is a JSON `validation_failed` error naming
/// the problem, not axum's plain-text rejection.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(ApiQuery)
            .map_err(|err| ApiError(calling::Error::validation("query", err.to_string())))
    }
}

/// A JSON body parsed into `T`; malformed JSON or a field of the wrong type is a JSON
/// `validation_failed` error (`details.field` = `body`, the message naming the field), not
/// axum's plain-text rejection.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Json::<T>::from_request(request, state)
            .await
            .map(|axum::Json(value)| ApiJson(value))
            .map_err(|rejection| ApiError(calling::Error::validation("body", rejection.body_text())))
    }
}
