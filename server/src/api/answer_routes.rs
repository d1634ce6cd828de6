//! Calls in agents' browsers: `GET /app/calling/incoming` (what rings, with WhatsApp's SDP
//! offer), the call actions `POST /app/calling/calls/:id/pre-accept`, `/accept`, `/reject`,
//! `/terminate`, and outbound calls: `POST /app/calling/initiate` with the browser's offer and
//! `GET /app/calling/calls/:id/session` for WhatsApp's answer once the connect webhook brings it;
//! `POST /app/calling/calls/:id/quality` stores what the agent's browser measured;
//! `GET /app/calling/ice-servers` gives the browser its STUN/TURN servers.
//!
//! Pre-accepting claims the call for the signed-in member first (`calling::answering::claim`):
//! the first agent wins and everyone else gets 409 `already_answered`. Accept then reuses the
//! SDP sent with pre-accept, which Meta requires to be identical.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use calling::Services;
use calling::accounts::Permission;
use calling::answering::{self, IncomingCall, RequestedCall, Routing};
use calling::call_actions;
use calling::call_state::CallState;
use calling::graph::GraphClient;
use calling::permissions::PermissionLimits;
use calling::phone::PhoneNumber;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiJson;
use crate::AppState;
use crate::api::calling_routes::CallIdPath;
use crate::api::openapi::ErrorEnvelope;
use crate::auth::Auth;
use crate::error::ApiError;

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Merged into the `/app/calling` router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/incoming", get(incoming))
        .route("/calls/{call_id}/pre-accept", post(pre_accept))
        .route("/calls/{call_id}/accept", post(accept))
        .route("/calls/{call_id}/reject", post(reject))
        .route("/calls/{call_id}/terminate", post(terminate))
        .route("/initiate", post(initiate))
        .route("/calls/{call_id}/dial", post(dial))
        .route("/calls/{call_id}/session", get(session))
        .route("/calls/{call_id}/quality", post(report_quality))
        .route("/ice-servers", get(ice_servers))
}

/// This file's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    incoming,
    pre_accept,
    accept,
    reject,
    terminate,
    initiate,
    dial,
    session,
    report_quality,
    ice_servers
))]
pub(super) struct Doc;

#[derive(Serialize, ToSchema)]
struct IncomingResponse {
    calls: Vec<IncomingCall>,
    /// Business-initiated calls requested without an offer, waiting for an agent to dial them
    /// (for members who may place calls).
    to_dial: Vec<RequestedCall>,
}

/// Where a call stands after an action.
#[derive(Serialize, ToSchema)]
struct ActionResponse {
    call_id: String,
    /// ringing, answered, completed, missed, rejected or failed.
    #[schema(value_type = String)]
    status: &'static str,
    /// The state machine's phase: ringing, pre_accepted, accepted, connected, terminated, …
    #[schema(value_type = String)]
    phase: &'static str,
}

impl ActionResponse {
    fn new(call_id: String, state: &CallState) -> Json<Self> {
        Json(ActionResponse { call_id, status: state.status().as_str(), phase: state.phase().as_str() })
    }
}

#[derive(Deserialize, ToSchema)]
struct PreAcceptRequest {
    /// The browser's complete SDP answer (ICE candidates included).
    sdp: String,
}

/// `GET /incoming`: every ringing call, with its routing (the caller's last agent rings first;
/// a call rings for the others from `rings_everyone_at`).
#[utoipa::path(get, path = "/app/calling/incoming", tag = "calls",
    summary = "The calls ringing now, with WhatsApp's SDP offer and who they ring for first",
    responses((status = 200, description = "Ringing calls, oldest first", body = IncomingResponse)))]
async fn incoming(
    auth: Auth,
    State(services): State<Services>,
    State(routing): State<Routing>,
) -> ApiResult<IncomingResponse> {
    auth.require(Permission::AnswerCalls)?;
    let now = services.clock.now();
    let calls = answering::incoming(&services.db, &auth.workspace_id, routing, now).await?;
    let to_dial = if auth.require(Permission::PlaceCalls).is_ok() {
        answering::to_dial(&services.db, &auth.workspace_id, now).await?
    } else {
        Vec::new()
    };
    Ok(Json(IncomingResponse { calls, to_dial }))
}

/// A browser's SDP (`answer` or `offer`) must be a whole session description, not a fragment.
fn require_complete_sdp(sdp: &str, what: &str) -> Result<(), ApiError> {
    if sdp.trim_start().starts_with("v=0") {
        Ok(())
    } else {
        Err(ApiError(calling::Error::validation(
            "sdp",
            format!("must be a complete SDP {what} (starting with v=0)"),
        )))
    }
}

/// The member answering: claims are personal, so API keys cannot answer.
fn answering_member(auth: &Auth) -> Result<&str, ApiError> {
    auth.require(Permission::AnswerCalls)?;
    auth.user_id().ok_or_else(|| {
        ApiError(calling::Error::forbidden("calls are answered by a signed-in agent, not an API key"))
    })
}

/// `POST /calls/:id/pre-accept` `{sdp}`: claim the call, then send `pre_accept` with the SDP.
#[utoipa::path(post, path = "/app/calling/calls/{call_id}/pre-accept", tag = "calls", params(CallIdPath), request_body = PreAcceptRequest,
    summary = "Claim a ringing call for the signed-in agent and pre-accept it with the browser's SDP answer",
    responses(
        (status = 200, description = "Pre-accepted; accept once the media connects", body = ActionResponse),
        (status = 409, description = "Another agent took the call (`already_answered`), it still rings only for the caller's last agent (`reserved_for_agent`), the call's state forbids it, or WhatsApp refused (`details.meta_code`)", body = ErrorEnvelope),
        (status = 502, description = "WhatsApp failed (`whatsapp_error`)", body = ErrorEnvelope),
        (status = 403, description = "API keys cannot answer: a signed-in agent does", body = ErrorEnvelope)))]
async fn pre_accept(
    auth: Auth,
    State(services): State<Services>,
    State(routing): State<Routing>,
    Path(call_id): Path<String>,
    ApiJson(body): ApiJson<PreAcceptRequest>,
) -> ApiResult<ActionResponse> {
    let user_id = answering_member(&auth)?;
    require_complete_sdp(&body.sdp, "answer")?;
    let call = call_actions::load(&services, &auth.workspace_id, &call_id).await?;
    let now = services.clock.now();
    answering::require_ringing_for(&services.db, &auth.workspace_id, &call_id, user_id, routing, now).await?;
    answering::claim(&services.db, &auth.workspace_id, &call_id, user_id).await?;
    let client = GraphClient::new()?;
    match call_actions::pre_accept(&services, &client, &call, &body.sdp).await {
        Ok(state) => Ok(ActionResponse::new(call_id, &state)),
        Err(err) => {
            // WhatsApp (or the call's state) refused: let another agent try.
            answering::release(&services.db, &auth.workspace_id, &call_id, user_id).await?;
            Err(err.into())
        }
    }
}

/// `POST /calls/:id/accept`: by the member who pre-accepted, with the same SDP.
#[utoipa::path(post, path = "/app/calling/calls/{call_id}/accept", tag = "calls", params(CallIdPath),
    summary = "Accept a call this agent pre-accepted (the same SDP is sent again, as Meta requires)",
    responses(
        (status = 200, description = "Accepted: media may flow", body = ActionResponse),
        (status = 409, description = "Another agent took the call (`already_answered`), the call's state forbids it, or WhatsApp refused (`details.meta_code`)", body = ErrorEnvelope),
        (status = 502, description = "WhatsApp failed (`whatsapp_error`)", body = ErrorEnvelope),
        (status = 403, description = "API keys cannot answer: a signed-in agent does", body = ErrorEnvelope)))]
async fn accept(
    auth: Auth,
    State(services): State<Services>,
    Path(call_id): Path<String>,
) -> ApiResult<ActionResponse> {
    let user_id = answering_member(&auth)?;
    let sdp = answering::require_claim(&services.db, &auth.workspace_id, &call_id, user_id).await?;
    let call = call_actions::load(&services, &auth.workspace_id, &call_id).await?;
    let state = call_actions::accept(&services, &GraphClient::new()?, &call, &sdp).await?;
    Ok(ActionResponse::new(call_id, &state))
}

/// `POST /calls/:id/reject`: decline a call that still rings.
#[utoipa::path(post, path = "/app/calling/calls/{call_id}/reject", tag = "calls", params(CallIdPath),
    summary = "Decline a call that still rings",
    responses(
        (status = 200, description = "Rejected", body = ActionResponse),
        (status = 409, description = "Another agent took the call (`already_answered`), the call's state forbids it, or WhatsApp refused (`details.meta_code`)", body = ErrorEnvelope),
        (status = 502, description = "WhatsApp failed (`whatsapp_error`)", body = ErrorEnvelope)))]
async fn reject(
    auth: Auth,
    State(services): State<Services>,
    Path(call_id): Path<String>,
) -> ApiResult<ActionResponse> {
    auth.require(Permission::AnswerCalls)?;
    let call = call_actions::load(&services, &auth.workspace_id, &call_id).await?;
    let state = call_actions::reject(&services, &GraphClient::new()?, &call).await?;
    Ok(ActionResponse::new(call_id, &state))
}

/// `POST /calls/:id/terminate`: hang up, in either direction.
#[utoipa::path(post, path = "/app/calling/calls/{call_id}/terminate", tag = "calls", params(CallIdPath),
    summary = "Hang up a call, inbound or outbound",
    responses(
        (status = 200, description = "Terminated", body = ActionResponse),
        (status = 409, description = "Another agent took the call (`already_answered`), the call's state forbids it, or WhatsApp refused (`details.meta_code`)", body = ErrorEnvelope),
        (status = 502, description = "WhatsApp failed (`whatsapp_error`)", body = ErrorEnvelope)))]
async fn terminate(
    auth: Auth,
    State(services): State<Services>,
    Path(call_id): Path<String>,
) -> ApiResult<ActionResponse> {
    if auth.require(Permission::AnswerCalls).is_err() {
        auth.require(Permission::PlaceCalls)?;
    }
    let call = call_actions::load(&services, &auth.workspace_id, &call_id).await?;
    let state = call_actions::terminate(&services, &GraphClient::new()?, &call).await?;
    Ok(ActionResponse::new(call_id, &state))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"to": "+919876543210", "phone_number_id": "106540352242922"}))]
struct InitiateRequest {
    /// The WhatsApp user to call (E.164, spaces and dashes allowed).
    to: String,
    /// Which of the workspace's numbers calls; the first one when absent.
    phone_number_id: Option<String>,
    /// The caller's complete SDP offer (ICE candidates included). Without one the call waits
    /// for an agent's browser to dial it (`to_dial` in `/incoming`, then `/calls/{call_id}/dial`).
    sdp: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct InitiateResponse {
    call_id: String,
    /// WhatsApp's call id; null while the call waits for an agent to dial it.
    wa_call_id: Option<String>,
    /// `dialing` (placed with the offer given) or `waiting_for_agent`.
    #[schema(value_type = String)]
    state: &'static str,
}

/// `POST /initiate` `{to, phone_number_id?, sdp?}`: a business-initiated call after the
/// permission check and the billing preflight (refusals reach nobody at WhatsApp). With the
/// caller's SDP offer it is placed at once; without one it waits for an agent's browser to dial
/// it (`calling::call_actions::request`) for a minute.
#[utoipa::path(post, path = "/app/calling/initiate", tag = "calls", request_body = InitiateRequest,
    summary = "Place a business-initiated call, or request one for an agent's browser to dial (permission check and billing preflight first)",
    responses(
        (status = 201, description = "Placed (WhatsApp rings the user; poll `/calls/{call_id}/status`), or waiting for an agent to dial it", body = InitiateResponse),
        (status = 402, description = "`subscription_expired` or `insufficient_balance`, with `details`; nothing reached WhatsApp", body = ErrorEnvelope),
        (status = 409, description = "`permission_required` (the user has not allowed calls), a call limit, or another refusal by WhatsApp (`details.meta_code`)", body = ErrorEnvelope),
        (status = 502, description = "WhatsApp failed (`whatsapp_error`); the hold is released", body = ErrorEnvelope)))]
async fn initiate(
    auth: Auth,
    State(services): State<Services>,
    ApiJson(body): ApiJson<InitiateRequest>,
) -> Result<(axum::http::StatusCode, Json<InitiateResponse>), ApiError> {
    auth.require(Permission::PlaceCalls)?;
    let to = PhoneNumber::parse(&body.to).map_err(|err| match err {
        calling::Error::Validation { message, .. } => calling::Error::validation("to", message),
        other => other,
    })?;
    let sdp = body.sdp.as_deref().filter(|sdp| !sdp.trim().is_empty());
    if let Some(sdp) = sdp {
        require_complete_sdp(sdp, "offer")?;
    }
    let number =
        super::calling_routes::pick_number(&services, &auth.workspace_id, body.phone_number_id.as_deref())
            .await?;
    let Some(sdp) = sdp else {
        let call_id = call_actions::request(&services, &number, &to, &PermissionLimits::PRODUCTION).await?;
        let response = InitiateResponse { call_id, wa_call_id: None, state: "waiting_for_agent" };
        return Ok((axum::http::StatusCode::CREATED, Json(response)));
    };
    let placed = call_actions::place(
        &services,
        &GraphClient::new()?,
        &number,
        &to,
        sdp,
        &PermissionLimits::PRODUCTION,
    )
    .await?;
    if let Some(user_id) = auth.user_id() {
        // The agent who dialled is the one on the call.
        answering::claim(&services.db, &auth.workspace_id, &placed.call_id, user_id).await?;
    }
    let response =
        InitiateResponse { call_id: placed.call_id, wa_call_id: Some(placed.wa_call_id), state: "dialing" };
    Ok((axum::http::StatusCode::CREATED, Json(response)))
}

#[derive(Deserialize, ToSchema)]
struct DialRequest {
    /// The agent's browser's complete SDP offer (ICE candidates included).
    sdp: String,
}

/// `POST /calls/:id/dial` `{sdp}`: an agent's browser places a call that was requested without
/// an offer; the first to dial it wins.
#[utoipa::path(post, path = "/app/calling/calls/{call_id}/dial", tag = "calls", params(CallIdPath), request_body = DialRequest,
    summary = "Dial a requested call from the signed-in agent's browser",
    responses(
        (status = 200, description = "Placed: WhatsApp rings the user; poll `/calls/{call_id}/session` for the answer", body = InitiateResponse),
        (status = 403, description = "Dialled by a signed-in agent, not an API key", body = ErrorEnvelope),
        (status = 409, description = "Another agent dialled it (`already_answered`), it no longer waits (`not_waiting`), or WhatsApp refused (`details.meta_code`)", body = ErrorEnvelope),
        (status = 502, description = "WhatsApp failed (`whatsapp_error`); another agent may still dial it", body = ErrorEnvelope)))]
async fn dial(
    auth: Auth,
    State(services): State<Services>,
    Path(call_id): Path<String>,
    ApiJson(body): ApiJson<DialRequest>,
) -> ApiResult<InitiateResponse> {
    auth.require(Permission::PlaceCalls)?;
    let user_id = auth.user_id().ok_or_else(|| {
        ApiError(calling::Error::forbidden("a requested call is dialled by a signed-in agent's browser"))
    })?;
    require_complete_sdp(&body.sdp, "offer")?;
    let placed =
        call_actions::dial(&services, &GraphClient::new()?, &auth.workspace_id, &call_id, user_id, &body.sdp)
            .await?;
    Ok(Json(InitiateResponse {
        call_id: placed.call_id,
        wa_call_id: Some(placed.wa_call_id),
        state: "dialing",
    }))
}

/// `GET /calls/:id/session`: where the call stands and WhatsApp's SDP answer (outbound calls,
/// once the connect webhook brought it), for the browser that placed it.
#[utoipa::path(get, path = "/app/calling/calls/{call_id}/session", tag = "calls", params(CallIdPath),
    summary = "The call's status and WhatsApp's SDP answer once it came",
    responses((status = 200, description = "The session", body = answering::CallSession)))]
async fn session(
    auth: Auth,
    State(services): State<Services>,
    Path(call_id): Path<String>,
) -> ApiResult<answering::CallSession> {
    if auth.require(Permission::PlaceCalls).is_err() {
        auth.require(Permission::AnswerCalls)?;
    }
    Ok(Json(answering::session(&services.db, &auth.workspace_id, &call_id).await?))
}

#[derive(Deserialize, ToSchema)]
struct QualityReport {
    samples: Vec<calling::quality::QualitySample>,
}

/// `POST /calls/:id/quality` `{samples}`: the browser of the agent on the call reports its
/// audio figures (at the end of the call, and whenever it has new ones); the summary is kept.
#[utoipa::path(post, path = "/app/calling/calls/{call_id}/quality", tag = "calls", params(CallIdPath), request_body = QualityReport,
    summary = "Store the audio-quality samples the agent's browser measured",
    responses(
        (status = 200, description = "The call's quality summary so far", body = calling::quality::QualitySummary),
        (status = 403, description = "Reported by the agent's browser, not an API key", body = ErrorEnvelope),
        (status = 409, description = "Only the agent on the call reports its quality (`not_your_call`)", body = ErrorEnvelope)))]
async fn report_quality(
    auth: Auth,
    State(services): State<Services>,
    Path(call_id): Path<String>,
    ApiJson(body): ApiJson<QualityReport>,
) -> ApiResult<calling::quality::QualitySummary> {
    if auth.require(Permission::AnswerCalls).is_err() {
        auth.require(Permission::PlaceCalls)?;
    }
    let user_id = auth.user_id().ok_or_else(|| {
        ApiError(calling::Error::forbidden("call quality is reported by the agent's browser, not an API key"))
    })?;
    let quality =
        calling::quality::record(&services.db, &auth.workspace_id, &call_id, user_id, body.samples).await?;
    Ok(Json(quality.summary))
}

#[derive(Serialize, ToSchema)]
struct IceServers {
    ice_servers: Vec<calling::ice::IceServer>,
}

/// `GET /ice-servers`: the STUN/TURN servers for this agent's browser, TURN with fresh
/// time-limited credentials.
#[utoipa::path(get, path = "/app/calling/ice-servers", tag = "calls",
    summary = "STUN/TURN servers for the browser, TURN with fresh time-limited credentials",
    responses((status = 200, description = "The servers, as RTCPeerConnection takes them", body = IceServers)))]
async fn ice_servers(
    auth: Auth,
    State(services): State<Services>,
    State(ice): State<calling::ice::IceConfig>,
) -> ApiResult<IceServers> {
    if auth.require(Permission::AnswerCalls).is_err() {
        auth.require(Permission::PlaceCalls)?;
    }
    let user = auth.user_id().unwrap_or("api");
    Ok(Json(IceServers { ice_servers: ice.servers_for(user, services.clock.now()) }))
}
