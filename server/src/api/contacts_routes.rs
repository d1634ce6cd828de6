//! `/api/v1/app/contacts`: the workspace's contacts with tags — list (`?tag=leads`), add, show,
//! update (name, tags replaced, added or removed), delete. Reading needs ViewCalls, changing
//! needs SendTemplates (the people who reach out to customers); every change is audited.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use calling::Services;
use calling::accounts::{Permission, audit};
use calling::contacts::{self, Contact, ContactUpdate, NewContact, Tag};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiJson, ApiQuery};
use crate::AppState;
use crate::accounts::Meta;
use crate::auth::Auth;
use crate::error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(list).post(create)).route("/{id}", get(show).put(update).delete(delete))
}

/// This file's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, show, update, delete))]
pub(super) struct Doc;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by the OpenAPI document only; handlers take `Path<String>`
struct ContactIdPath {
    /// The contact's id.
    id: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only contacts with this tag (e.g. `leads`).
    tag: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ContactsResponse {
    contacts: Vec<Contact>,
}

/// `GET /contacts?tag=`: every contact, or those tagged `tag`.
#[utoipa::path(get, path = "/app/contacts", tag = "contacts", params(ListQuery),
    summary = "Every contact, or those with a tag",
    responses((status = 200, description = "The contacts", body = ContactsResponse)))]
async fn list(
    auth: Auth,
    State(services): State<Services>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ContactsResponse>, ApiError> {
    auth.require(Permission::ViewCalls)?;
    let tag = query.tag.as_deref().filter(|tag| !tag.trim().is_empty()).map(Tag::parse).transpose()?;
    Ok(Json(ContactsResponse {
        contacts: contacts::list(&services.db, &auth.workspace_id, tag.as_ref()).await?,
    }))
}

async fn record(
    services: &Services,
    auth: &Auth,
    meta: &Meta,
    action: &str,
    contact: &Contact,
    details: Value,
) -> Result<(), ApiError> {
    let ip = meta.ip();
    let entry = audit::NewEntry {
        workspace_id: Some(&auth.workspace_id),
        actor: &auth.actor(),
        action,
        target: Some(&contact.id),
        details,
        ip: ip.as_deref(),
    };
    audit::record(&services.db, entry, services.clock.now()).await?;
    Ok(())
}

/// `POST /contacts {phone_number, name?, tags?}` → 201 with the contact.
#[utoipa::path(post, path = "/app/contacts", tag = "contacts", request_body = NewContact,
    summary = "Add a contact",
    responses(
        (status = 201, description = "Added", body = Contact),
        (status = 409, description = "A contact with that number exists (`conflict`)", body = crate::api::openapi::ErrorEnvelope)))]
async fn create(
    auth: Auth,
    State(services): State<Services>,
    meta: Meta,
    ApiJson(body): ApiJson<NewContact>,
) -> Result<(StatusCode, Json<Contact>), ApiError> {
    auth.require(Permission::SendTemplates)?;
    let contact = contacts::create(&services.db, &auth.workspace_id, &body, services.clock.now()).await?;
    let details = json!({ "phone_number": contact.phone_number, "tags": contact.tags });
    record(&services, &auth, &meta, "contact.created", &contact, details).await?;
    Ok((StatusCode::CREATED, Json(contact)))
}

/// `GET /contacts/:id`
#[utoipa::path(get, path = "/app/contacts/{id}", tag = "contacts", params(ContactIdPath),
    summary = "One contact",
    responses((status = 200, description = "The contact", body = Contact)))]
async fn show(
    auth: Auth,
    State(services): State<Services>,
    Path(id): Path<String>,
) -> Result<Json<Contact>, ApiError> {
    auth.require(Permission::ViewCalls)?;
    Ok(Json(contacts::get(&services.db, &auth.workspace_id, &id).await?))
}

/// `PUT /contacts/:id {name?, tags?, add_tags?, remove_tags?}`
#[utoipa::path(put, path = "/app/contacts/{id}", tag = "contacts", params(ContactIdPath), request_body = ContactUpdate,
    summary = "Change a contact's name or tags (replace, add or remove)",
    responses((status = 200, description = "The contact as changed", body = Contact)))]
async fn update(
    auth: Auth,
    State(services): State<Services>,
    meta: Meta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ContactUpdate>,
) -> Result<Json<Contact>, ApiError> {
    auth.require(Permission::SendTemplates)?;
    let before = contacts::get(&services.db, &auth.workspace_id, &id).await?;
    let contact =
        contacts::update(&services.db, &auth.workspace_id, &id, &body, services.clock.now()).await?;
    let details = json!({
        "name": { "from": before.name, "to": contact.name },
        "tags": { "from": before.tags, "to": contact.tags },
    });
    record(&services, &auth, &meta, "contact.updated", &contact, details).await?;
    Ok(Json(contact))
}

/// `DELETE /contacts/:id` → the contact as it was.
#[utoipa::path(delete, path = "/app/contacts/{id}", tag = "contacts", params(ContactIdPath),
    summary = "Delete a contact",
    responses((status = 200, description = "The contact as it was", body = Contact)))]
async fn delete(
    auth: Auth,
    State(services): State<Services>,
    meta: Meta,
    Path(id): Path<String>,
) -> Result<Json<Contact>, ApiError> {
    auth.require(Permission::SendTemplates)?;
    let contact = contacts::delete(&services.db, &auth.workspace_id, &id).await?;
    record(
        &services,
        &auth,
        &meta,
        "contact.deleted",
        &contact,
        json!({ "phone_number": contact.phone_number }),
    )
    .await?;
    Ok(Json(contact))
}
