//! `/api/v1/app/calling/templates…` and `/api/v1/app/calling/send`: the seed's calling
//! templates (list, show, create call-button and permission templates, choose the default,
//! delete at WhatsApp and here) and template sends. The rules live in `calling::templates`; these handlers check the
//! role, parse the body and write the audit log.
//!
//! Who may: anyone who sees settings (viewers included) lists and reads templates; managing
//! them needs `ManageTemplates` (owners, admins); sending needs `SendTemplates` (agents too).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use calling::Services;
use calling::accounts::{Permission, audit};
use calling::graph::GraphClient;
use calling::templates::{self, CallButtonRequest, PermissionRequest, SendRequest, SentTemplate, Template};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::ApiJson;
use crate::AppState;
use crate::api::openapi::ErrorEnvelope;
use crate::auth::Auth;
use crate::error::ApiError;

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Merged into the `/app/calling` router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/templates", get(list))
        .route("/templates/call-button", post(create_call_button))
        .route("/templates/permission", post(create_permission))
        .route("/templates/{id}", get(show).delete(delete))
        .route("/templates/{id}/set-default", post(set_default))
        .route("/send", post(send))
}

/// This file's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, show, create_call_button, create_permission, set_default, delete, send))]
pub(super) struct Doc;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by the OpenAPI document only; handlers take `Path<String>`
struct TemplateIdPath {
    /// The template's `template_id`.
    id: String,
}

#[derive(Serialize, ToSchema)]
struct TemplatesResponse {
    templates: Vec<Template>,
}

/// `GET /templates`: every template, each with `template_id`, `type`, `status`, `is_default`.
#[utoipa::path(get, path = "/app/calling/templates", tag = "templates",
    summary = "Every calling template, with its type, status and whether it is the default",
    responses((status = 200, description = "The workspace's templates", body = TemplatesResponse)))]
async fn list(auth: Auth, State(services): State<Services>) -> ApiResult<TemplatesResponse> {
    auth.require(Permission::ViewSettings)?;
    Ok(Json(TemplatesResponse { templates: templates::list(&services.db, &auth.workspace_id).await? }))
}

/// `GET /templates/:id`
#[utoipa::path(get, path = "/app/calling/templates/{id}", tag = "templates", params(TemplateIdPath),
    summary = "One template",
    responses((status = 200, description = "The template", body = Template)))]
async fn show(auth: Auth, State(services): State<Services>, Path(id): Path<String>) -> ApiResult<Template> {
    auth.require(Permission::ViewSettings)?;
    Ok(Json(templates::get(&services.db, &auth.workspace_id, &id).await?))
}

/// `POST /templates/call-button`: validated, submitted to WhatsApp, stored once accepted.
#[utoipa::path(post, path = "/app/calling/templates/call-button", tag = "templates", request_body = CallButtonRequest,
    summary = "Create a call-button template (label at most 20 characters; phone or URL target)",
    responses(
        (status = 201, description = "Accepted by WhatsApp and stored", body = Template),
        (status = 409, description = "A template of that name and language exists (`conflict`)", body = ErrorEnvelope),
        (status = 502, description = "WhatsApp refused it (`whatsapp_error`, `details.meta_code`); nothing stored", body = ErrorEnvelope)))]
async fn create_call_button(
    auth: Auth,
    State(services): State<Services>,
    ApiJson(body): ApiJson<CallButtonRequest>,
) -> Result<(StatusCode, Json<Template>), ApiError> {
    auth.require(Permission::ManageTemplates)?;
    let spec = body.validate()?;
    create(&auth, &services, &spec, body.phone_number_id.as_deref()).await
}

/// `POST /templates/permission`: validated, submitted to WhatsApp, stored once accepted.
#[utoipa::path(post, path = "/app/calling/templates/permission", tag = "templates", request_body = PermissionRequest,
    summary = "Create a call-permission-request template (body with {{n}} variables, optional header and footer)",
    responses(
        (status = 201, description = "Accepted by WhatsApp and stored", body = Template),
        (status = 409, description = "A template of that name and language exists (`conflict`)", body = ErrorEnvelope),
        (status = 502, description = "WhatsApp refused it (`whatsapp_error`, `details.meta_code`); nothing stored", body = ErrorEnvelope)))]
async fn create_permission(
    auth: Auth,
    State(services): State<Services>,
    ApiJson(body): ApiJson<PermissionRequest>,
) -> Result<(StatusCode, Json<Template>), ApiError> {
    auth.require(Permission::ManageTemplates)?;
    let spec = body.validate()?;
    create(&auth, &services, &spec, body.phone_number_id.as_deref()).await
}

async fn create(
    auth: &Auth,
    services: &Services,
    spec: &templates::TemplateSpec,
    phone_number_id: Option<&str>,
) -> Result<(StatusCode, Json<Template>), ApiError> {
    let client = GraphClient::new()?;
    let actor = auth.actor();
    let template =
        templates::create(services, &client, &auth.workspace_id, spec, phone_number_id, &actor).await?;
    record(auth, services, "template.created", &template).await?;
    Ok((StatusCode::CREATED, Json(template)))
}

/// `POST /templates/:id/set-default`: the default of its kind from now on.
#[utoipa::path(post, path = "/app/calling/templates/{id}/set-default", tag = "templates", params(TemplateIdPath),
    summary = "Make the template the default of its kind",
    responses((status = 200, description = "The template, now the default", body = Template)))]
async fn set_default(
    auth: Auth,
    State(services): State<Services>,
    Path(id): Path<String>,
) -> ApiResult<Template> {
    auth.require(Permission::ManageTemplates)?;
    let template =
        templates::set_default(&services.db, &auth.workspace_id, &id, services.clock.now()).await?;
    record(&auth, &services, "template.default_set", &template).await?;
    Ok(Json(template))
}

#[derive(Serialize, ToSchema)]
struct Deleted {
    deleted: bool,
    template: Template,
}

/// `DELETE /templates/:id`: deleted at WhatsApp first, then here (see
/// `calling::templates::delete`); a template WhatsApp no longer has is simply forgotten. A
/// deleted default hands over to the newest of its kind.
#[utoipa::path(delete, path = "/app/calling/templates/{id}", tag = "templates", params(TemplateIdPath),
    summary = "Delete a template at WhatsApp and here (a deleted default hands over to the newest of its kind)",
    responses(
        (status = 200, description = "Deleted at WhatsApp (or already gone there) and here; the template as it was", body = Deleted),
        (status = 409, description = "WhatsApp refused the delete (`whatsapp_error`, `details.meta_code`, e.g. 190 for a rejected access token); nothing deleted", body = ErrorEnvelope),
        (status = 422, description = "WhatsApp called the request invalid (`whatsapp_error`, `details.meta_code` 100); nothing deleted", body = ErrorEnvelope),
        (status = 502, description = "WhatsApp failed or could not be reached (`whatsapp_error`); nothing deleted, try again", body = ErrorEnvelope)))]
async fn delete(auth: Auth, State(services): State<Services>, Path(id): Path<String>) -> ApiResult<Deleted> {
    auth.require(Permission::ManageTemplates)?;
    let client = GraphClient::new()?;
    let template = templates::delete(&services, &client, &auth.workspace_id, &id).await?;
    record(&auth, &services, "template.deleted", &template).await?;
    Ok(Json(Deleted { deleted: true, template }))
}

/// `POST /send` `{template_id, to, vars}`: checks, billing preflight (402
/// `subscription_expired` / `insufficient_balance`), then WhatsApp. Sends are not audited:
/// each one is recorded with its sender in `calling_template_sends`.
#[utoipa::path(post, path = "/app/calling/send", tag = "templates", request_body = SendRequest,
    summary = "Send a calling template to a WhatsApp user (billing preflight first)",
    responses(
        (status = 200, description = "Sent and paid for", body = SentTemplate),
        (status = 402, description = "`subscription_expired` or `insufficient_balance`, with `details` (required, available, top-up hint); nothing was sent", body = ErrorEnvelope),
        (status = 409, description = "`template_not_approved` (the template is not approved at WhatsApp, e.g. rejected or paused on review), or WhatsApp refused the send (`whatsapp_error`, `details.meta_code`); nothing was sent", body = ErrorEnvelope),
        (status = 502, description = "WhatsApp refused the send (`whatsapp_error`, `details.meta_code`); the hold is released", body = ErrorEnvelope)))]
async fn send(
    auth: Auth,
    State(services): State<Services>,
    ApiJson(body): ApiJson<SendRequest>,
) -> ApiResult<SentTemplate> {
    auth.require(Permission::SendTemplates)?;
    let client = GraphClient::new()?;
    let actor = auth.actor();
    Ok(Json(templates::send(&services, &client, &auth.workspace_id, &body, &actor).await?))
}

async fn record(auth: &Auth, services: &Services, action: &str, template: &Template) -> Result<(), ApiError> {
    let entry = audit::NewEntry {
        workspace_id: Some(&auth.workspace_id),
        actor: &auth.actor(),
        action,
        target: Some(&template.template_id),
        details: json!({ "name": template.name, "type": template.kind, "language": template.language }),
        ip: None,
    };
    audit::record(&services.db, entry, services.clock.now()).await?;
    Ok(())
}
