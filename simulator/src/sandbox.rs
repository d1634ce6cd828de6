//! The scenario-control API under `/sandbox/…`: list numbers, place inbound calls, script users
//! (answer/reject/ignore, permission replies, hang-up), read media counters and the webhook log,
//! switch faults and move a virtual clock. It drives a [`crate::Simulator`]; the same operations
//! exist as typed methods on it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Simulator;
use crate::config::Behaviour;
use crate::engine::{Grant, InboundCall, SandboxError};
use crate::webhook::Faults;

impl IntoResponse for SandboxError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(json!({ "error": { "code": self.code, "message": self.message } }))).into_response()
    }
}

type SbResult<T> = Result<T, SandboxError>;

fn bad_json(e: impl std::fmt::Display) -> SandboxError {
    SandboxError { status: 400, code: "invalid_json", message: e.to_string() }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> SbResult<T> {
    serde_json::from_slice(body).map_err(bad_json)
}

pub(crate) async fn numbers(State(sim): State<Simulator>) -> Json<Value> {
    Json(json!({ "numbers": sim.numbers() }))
}

pub(crate) async fn inbound(State(sim): State<Simulator>, body: axum::body::Bytes) -> SbResult<Json<Value>> {
    let req: InboundCall = parse(&body)?;
    let id = sim.place_inbound_call(req)?;
    Ok(Json(json!({ "call_id": id })))
}

pub(crate) async fn put_behaviour(
    State(sim): State<Simulator>,
    Path(phone): Path<String>,
    body: axum::body::Bytes,
) -> SbResult<Json<Value>> {
    let b: Behaviour = parse(&body)?;
    sim.set_behaviour(&phone, b)?;
    Ok(Json(json!({ "user": phone, "behaviour": b })))
}

pub(crate) async fn put_default_behaviour(
    State(sim): State<Simulator>,
    body: axum::body::Bytes,
) -> SbResult<Json<Value>> {
    let b: Behaviour = parse(&body)?;
    sim.set_default_behaviour(b)?;
    Ok(Json(json!({ "behaviour": b })))
}

pub(crate) async fn get_default_behaviour(State(sim): State<Simulator>) -> Json<Value> {
    Json(json!({ "behaviour": sim.default_behaviour() }))
}

pub(crate) async fn get_behaviour(State(sim): State<Simulator>, Path(phone): Path<String>) -> Json<Value> {
    Json(json!({ "user": phone, "behaviour": sim.behaviour(&phone) }))
}

#[derive(Deserialize)]
struct PermissionBody {
    grant: Grant,
    #[serde(default)]
    phone_number_id: Option<String>,
}

pub(crate) async fn permission(
    State(sim): State<Simulator>,
    Path(phone): Path<String>,
    body: axum::body::Bytes,
) -> SbResult<Json<Value>> {
    let b: PermissionBody = parse(&body)?;
    Ok(Json(sim.user_permission_reply(b.phone_number_id.as_deref(), &phone, b.grant)?))
}

pub(crate) async fn hangup(
    State(sim): State<Simulator>,
    Path(call_id): Path<String>,
) -> SbResult<Json<Value>> {
    sim.hangup(&call_id)?;
    Ok(Json(json!({ "call_id": call_id, "hung_up": true })))
}

pub(crate) async fn media(
    State(sim): State<Simulator>,
    Path(call_id): Path<String>,
) -> SbResult<Json<Value>> {
    let s = sim.media_stats(&call_id).ok_or(SandboxError {
        status: 404,
        code: "unknown_call",
        message: "no such call".into(),
    })?;
    Ok(Json(json!({
        "rx_packets": s.rx_packets,
        "rx_bytes": s.rx_bytes,
        "rx_level": s.rx_level,
        "tx_packets": s.tx_packets,
        "connected": s.connected,
        "rx_decode_errors": s.rx_decode_errors,
    })))
}

pub(crate) async fn calls(State(sim): State<Simulator>) -> Json<Value> {
    Json(json!({ "calls": sim.calls() }))
}

pub(crate) async fn call(State(sim): State<Simulator>, Path(call_id): Path<String>) -> SbResult<Json<Value>> {
    sim.call(&call_id).map(|c| Json(json!(c))).ok_or(SandboxError {
        status: 404,
        code: "unknown_call",
        message: "no such call".into(),
    })
}

pub(crate) async fn webhooks(State(sim): State<Simulator>) -> Json<Value> {
    Json(json!({ "deliveries": sim.webhook_deliveries() }))
}

pub(crate) async fn flush(State(sim): State<Simulator>) -> Json<Value> {
    sim.flush_webhooks().await;
    Json(json!({ "flushed": true }))
}

pub(crate) async fn get_faults(State(sim): State<Simulator>) -> Json<Value> {
    Json(json!(sim.faults()))
}

pub(crate) async fn put_faults(
    State(sim): State<Simulator>,
    body: axum::body::Bytes,
) -> SbResult<Json<Value>> {
    let f: Faults = parse(&body)?;
    sim.set_faults(f.clone());
    Ok(Json(json!(f)))
}

#[derive(Deserialize)]
struct VerifyBody {
    verify_token: String,
    #[serde(default)]
    url: Option<String>,
}

pub(crate) async fn verify(State(sim): State<Simulator>, body: axum::body::Bytes) -> SbResult<Json<Value>> {
    let b: VerifyBody = parse(&body)?;
    let url = b.url.or_else(|| sim.webhook_url()).ok_or(SandboxError {
        status: 409,
        code: "no_webhook_url",
        message: "no webhook URL configured".into(),
    })?;
    crate::webhook::verify_endpoint(&url, &b.verify_token).await.map_err(|e| SandboxError {
        status: 502,
        code: "verification_failed",
        message: e,
    })?;
    Ok(Json(json!({ "verified": true, "url": url })))
}

#[derive(Deserialize)]
struct AdvanceBody {
    seconds: f64,
}

pub(crate) async fn advance(State(sim): State<Simulator>, body: axum::body::Bytes) -> SbResult<Json<Value>> {
    let b: AdvanceBody = parse(&body)?;
    if !(0.0..=365.0 * 86_400.0).contains(&b.seconds) {
        return Err(SandboxError {
            status: 400,
            code: "invalid_seconds",
            message: "seconds out of range".into(),
        });
    }
    if !sim.advance(std::time::Duration::from_secs_f64(b.seconds)) {
        return Err(SandboxError {
            status: 409,
            code: "system_clock",
            message: "the simulator runs on the system clock".into(),
        });
    }
    Ok(Json(json!({ "now_ms": sim.now_ms() })))
}

pub(crate) async fn health(State(sim): State<Simulator>) -> Json<Value> {
    Json(json!({ "status": "ok", "graph_version": sim.config().graph_version }))
}
