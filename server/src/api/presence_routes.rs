//! `/api/v1/app/presence`: agents' browsers report availability and the call they are on
//! (`PUT`, a heartbeat every few seconds); admins see who is online, busy, away or offline
//! (`GET`). The rules are `calling::presence`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use calling::Services;
use calling::accounts::Permission;
use calling::presence::{self, AgentPresence, Availability};
use serde::{Deserialize, Serialize};

use super::ApiJson;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(list).put(heartbeat))
}

/// This file's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(heartbeat, list))]
pub(super) struct Doc;

#[derive(Deserialize, utoipa::ToSchema)]
struct Heartbeat {
    status: Availability,
    call_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct HeartbeatResponse {
    /// When the next heartbeat is due (ms).
    next_in_ms: i64,
}

/// `PUT /presence` `{status, call_id?}` from an agent's browser.
#[utoipa::path(put, path = "/app/presence", tag = "presence", request_body = Heartbeat,
    summary = "An agent's heartbeat: online or away, and the call they are on",
    responses(
        (status = 200, description = "Recorded", body = HeartbeatResponse),
        (status = 403, description = "Presence belongs to a signed-in agent, not an API key", body = crate::api::openapi::ErrorEnvelope)))]
async fn heartbeat(
    auth: Auth,
    State(services): State<Services>,
    ApiJson(body): ApiJson<Heartbeat>,
) -> Result<Json<HeartbeatResponse>, ApiError> {
    if auth.require(Permission::AnswerCalls).is_err() {
        auth.require(Permission::PlaceCalls)?;
    }
    let user_id = auth.user_id().ok_or_else(|| {
        ApiError(calling::Error::forbidden("presence belongs to a signed-in agent, not an API key"))
    })?;
    let now = services.clock.now();
    presence::heartbeat(&services.db, &auth.workspace_id, user_id, body.status, body.call_id.as_deref(), now)
        .await?;
    Ok(Json(HeartbeatResponse { next_in_ms: presence::HEARTBEAT_EVERY }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct PresenceList {
    agents: Vec<AgentPresence>,
}

/// `GET /presence`: every member who may answer calls, with where they stand.
#[utoipa::path(get, path = "/app/presence", tag = "presence",
    summary = "Every member who may answer calls: online, busy, away or offline",
    responses((status = 200, description = "The agents", body = PresenceList)))]
async fn list(auth: Auth, State(services): State<Services>) -> Result<Json<PresenceList>, ApiError> {
    auth.require(Permission::ViewTeam)?;
    let agents = presence::list(&services.db, &auth.workspace_id, services.clock.now()).await?;
    Ok(Json(PresenceList { agents }))
}
