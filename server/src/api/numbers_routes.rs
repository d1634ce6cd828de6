//! `/api/v1/app/numbers`: the WhatsApp numbers a workspace connects — list, connect, edit
//! (credentials are sealed at rest and never returned; a blank secret in an edit keeps the
//! stored one), and test the connection against WhatsApp. The admin panel's numbers section
//! (`app::pages::admin::numbers`) applies the same `calling::numbers` rules.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use calling::Services;
use calling::accounts::{Permission, audit};
use calling::numbers::{self, NewNumber, NumberCredentials, NumberForm, WhatsAppNumber};
use calling::settings::CallingSettings;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AppState;
use crate::accounts::Meta;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::webhooks::Webhooks;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(connect))
        .route("/{id}", put(update))
        .route("/{id}/test", post(test))
}

/// This file's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, connect, update, test))]
pub(super) struct Doc;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by the OpenAPI document only; handlers take `Path<String>`
struct NumberIdPath {
    /// The number's `id` (not its Graph `phone_number_id`).
    id: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct NumbersResponse {
    numbers: Vec<WhatsAppNumber>,
}

/// `GET /numbers`
#[utoipa::path(get, path = "/app/numbers", tag = "numbers",
    summary = "The workspace's WhatsApp numbers (credentials are never returned)",
    responses((status = 200, description = "The numbers", body = NumbersResponse)))]
async fn list(auth: Auth, State(services): State<Services>) -> Result<Json<NumbersResponse>, ApiError> {
    auth.require(Permission::ViewSettings)?;
    Ok(Json(NumbersResponse { numbers: numbers::list(&services.db, &auth.workspace_id).await? }))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ConnectRequest {
    phone_number_id: String,
    waba_id: String,
    phone_number: String,
    access_token: String,
    app_secret: String,
    verify_token: String,
    graph_api_version: Option<String>,
    graph_api_base_url: Option<String>,
}

async fn record(
    services: &Services,
    auth: &Auth,
    meta: &Meta,
    action: &str,
    number: &WhatsAppNumber,
    details: Value,
) -> Result<(), ApiError> {
    let ip = meta.ip();
    let entry = audit::NewEntry {
        workspace_id: Some(&auth.workspace_id),
        actor: &auth.actor(),
        action,
        target: Some(&number.id),
        details,
        ip: ip.as_deref(),
    };
    audit::record(&services.db, entry, services.clock.now()).await?;
    Ok(())
}

/// `POST /numbers`: connects a number; its webhooks are accepted from now on.
#[utoipa::path(post, path = "/app/numbers", tag = "numbers", request_body = ConnectRequest,
    summary = "Connect a WhatsApp number (its secrets are sealed at rest)",
    responses(
        (status = 201, description = "Connected; its webhooks are accepted from now on", body = WhatsAppNumber),
        (status = 409, description = "The phone number id is connected already (`conflict`)", body = crate::api::openapi::ErrorEnvelope)))]
async fn connect(
    auth: Auth,
    State(services): State<Services>,
    State(webhooks): State<Webhooks>,
    meta: Meta,
    Json(body): Json<ConnectRequest>,
) -> Result<(StatusCode, Json<WhatsAppNumber>), ApiError> {
    auth.require(Permission::ChangeSettings)?;
    let now = services.clock.now();
    let new = NewNumber {
        phone_number_id: body.phone_number_id,
        waba_id: body.waba_id,
        phone_number: body.phone_number,
        credentials: NumberCredentials {
            access_token: body.access_token,
            app_secret: body.app_secret,
            verify_token: body.verify_token,
        },
        graph_api_version: body.graph_api_version,
        graph_api_base_url: body.graph_api_base_url,
        is_sandbox: false,
    };
    let number = numbers::connect(&services.db, &services.secret_key, &auth.workspace_id, new, now).await?;
    webhooks.invalidate().await;
    let details = json!({ "phone_number_id": number.phone_number_id, "display_phone_number": number.display_phone_number });
    record(&services, &auth, &meta, "number.connected", &number, details).await?;
    Ok((StatusCode::CREATED, Json(number)))
}

/// `PUT /numbers/:id`: the number's details (WABA id, display number, Graph API version and
/// base URL) and any secrets to replace; omitted or blank secrets are kept. The phone number
/// id cannot change.
#[utoipa::path(put, path = "/app/numbers/{id}", tag = "numbers", params(NumberIdPath), request_body = NumberForm,
    summary = "Edit a number's details or replace its secrets (blank secrets are kept)",
    responses(
        (status = 200, description = "The number as changed", body = WhatsAppNumber),
        (status = 409, description = "The sandbox number is managed by Switchboard (`sandbox_number`)", body = crate::api::openapi::ErrorEnvelope)))]
async fn update(
    auth: Auth,
    State(services): State<Services>,
    State(webhooks): State<Webhooks>,
    meta: Meta,
    Path(id): Path<String>,
    Json(form): Json<NumberForm>,
) -> Result<Json<WhatsAppNumber>, ApiError> {
    auth.require(Permission::ChangeSettings)?;
    let now = services.clock.now();
    let (number, replaced) =
        numbers::update(&services.db, &services.secret_key, &auth.workspace_id, &id, form, now).await?;
    // A replaced app secret or verify token must stop working at once.
    webhooks.invalidate().await;
    record(&services, &auth, &meta, "number.updated", &number, numbers::update_details(&number, &replaced))
        .await?;
    Ok(Json(number))
}

#[derive(Serialize, utoipa::ToSchema)]
struct TestResponse {
    ok: bool,
    /// What WhatsApp reports for the number's calling settings.
    calling: CallingSettings,
}

/// `POST /numbers/:id/test`: reads the number's settings from WhatsApp with its credentials; a
/// wrong token or id comes back as WhatsApp's error (`details.meta_code`).
#[utoipa::path(post, path = "/app/numbers/{id}/test", tag = "numbers", params(NumberIdPath),
    summary = "Test the connection: read the number's settings from WhatsApp with its credentials",
    responses(
        (status = 200, description = "WhatsApp answered", body = TestResponse),
        (status = 409, description = "WhatsApp refused the credentials (`whatsapp_error`, `details.meta_code`, e.g. 190)", body = crate::api::openapi::ErrorEnvelope),
        (status = 502, description = "WhatsApp could not be reached or failed", body = crate::api::openapi::ErrorEnvelope)))]
async fn test(
    auth: Auth,
    State(services): State<Services>,
    Path(id): Path<String>,
) -> Result<Json<TestResponse>, ApiError> {
    auth.require(Permission::ViewSettings)?;
    let (_, calling) = numbers::test_connection(&services, &auth.workspace_id, &id).await?;
    Ok(Json(TestResponse { ok: true, calling }))
}
