//! `/api/v1/app/calling/templates…` and `/api/v1/app/calling/send`: the seed's calling
//! templates (list, show, create call-button and permission templates, choose the default,
//! delete) and template sends. The rules live in `calling::templates`; these handlers check the
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
use serde::Serialize;
use serde_json::json;

use super::ApiJson;
use crate::AppState;
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

#[derive(Serialize)]
struct TemplatesResponse {
    templates: Vec<Template>,
}

/// `GET /templates`: every template, each with `template_id`, `type`, `status`, `is_default`.
async fn list(auth: Auth, State(services): State<Services>) -> ApiResult<TemplatesResponse> {
    auth.require(Permission::ViewSettings)?;
    Ok(Json(TemplatesResponse { templates: templates::list(&services.db, &auth.workspace_id).await? }))
}

/// `GET /templates/:id`
async fn show(auth: Auth, State(services): State<Services>, Path(id): Path<String>) -> ApiResult<Template> {
    auth.require(Permission::ViewSettings)?;
    Ok(Json(templates::get(&services.db, &auth.workspace_id, &id).await?))
}

/// `POST /templates/call-button`: validated, submitted to WhatsApp, stored once accepted.
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

#[derive(Serialize)]
struct Deleted {
    deleted: bool,
    template: Template,
}

/// `DELETE /templates/:id`: forgets the template (WhatsApp keeps its copy; see
/// `calling::templates`). A deleted default hands over to the newest of its kind.
async fn delete(auth: Auth, State(services): State<Services>, Path(id): Path<String>) -> ApiResult<Deleted> {
    auth.require(Permission::ManageTemplates)?;
    let template = templates::delete(&services.db, &auth.workspace_id, &id).await?;
    record(&auth, &services, "template.deleted", &template).await?;
    Ok(Json(Deleted { deleted: true, template }))
}

/// `POST /send` `{template_id, to, vars}`: checks, billing preflight (402
/// `subscription_expired` / `insufficient_balance`), then WhatsApp. Sends are not audited:
/// each one is recorded with its sender in `calling_template_sends`.
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
