//! The Graph API surface (`/{version}/{id}/…`): bearer-token check, JSON parsing with Meta's
//! error envelope, and routing of `calls`, `settings`, `call_permissions`, `messages` and
//! `message_templates` (create, list, delete) to the engine.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::engine::Engine;
use crate::error::{GraphError, GraphResult};

/// Accept `Bearer <token>` only, and only Graph versions Meta's calling API supports (v17.0+).
fn check(engine: &Engine, headers: &HeaderMap, version: &str) -> GraphResult<()> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let ok = token.is_some_and(|t| {
        use subtle::ConstantTimeEq;
        t.as_bytes().ct_eq(engine.cfg.access_token.as_bytes()).into()
    });
    if !ok {
        return Err(GraphError::invalid_token());
    }
    let major =
        version.strip_prefix('v').and_then(|v| v.split('.').next()).and_then(|m| m.parse::<u32>().ok());
    match major {
        Some(m) if m >= 17 => Ok(()),
        _ => Err(GraphError {
            status: axum::http::StatusCode::BAD_REQUEST,
            code: 2635,
            subcode: None,
            kind: "OAuthException",
            message: format!(
                "(#2635) Calling API requires Graph API v17.0 or later; {version} is not supported"
            ),
            error_data: None,
        }),
    }
}

fn parse(body: &Bytes) -> GraphResult<Value> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| GraphError::invalid_parameter(format!("Request body is not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(GraphError::invalid_parameter("Request body must be a JSON object"));
    }
    Ok(v)
}

fn opaque(v: &Value) -> GraphResult<Option<String>> {
    match v.get("biz_opaque_callback_data") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= 512 => Ok(Some(s.clone())),
        Some(Value::String(_)) => {
            Err(GraphError::invalid_parameter("biz_opaque_callback_data is longer than 512 characters"))
        }
        Some(_) => Err(GraphError::invalid_parameter("biz_opaque_callback_data must be a string")),
    }
}

/// The session SDP of a request, checking `sdp_type`; the legacy `connection.webrtc.sdp` form
/// (a JSON string wrapping `{sdp, type}`) is accepted for `connect` only.
fn session_sdp(v: &Value, expected_type: &str, allow_legacy: bool) -> GraphResult<String> {
    if let Some(session) = v.get("session") {
        let sdp_type = session.get("sdp_type").and_then(Value::as_str).unwrap_or("");
        if sdp_type != expected_type {
            return Err(GraphError::invalid_parameter(format!(
                "session.sdp_type must be \"{expected_type}\" for this action, got {sdp_type:?}"
            )));
        }
        return session
            .get("sdp")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| GraphError::invalid_parameter("session.sdp is required"));
    }
    if allow_legacy && let Some(raw) = v.pointer("/connection/webrtc/sdp").and_then(Value::as_str) {
        let inner: Value = serde_json::from_str(raw).map_err(|_| {
            GraphError::invalid_parameter("connection.webrtc.sdp must be a JSON string of {sdp, type}")
        })?;
        if inner.get("type").and_then(Value::as_str) != Some(expected_type) {
            return Err(GraphError::invalid_parameter(format!(
                "connection.webrtc.sdp type must be \"{expected_type}\""
            )));
        }
        return inner
            .get("sdp")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| GraphError::invalid_parameter("connection.webrtc.sdp has no sdp"));
    }
    Err(GraphError::invalid_parameter("session is required (sdp_type and sdp)"))
}

fn call_id(v: &Value) -> GraphResult<String> {
    v.get("call_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| GraphError::invalid_parameter("call_id is required"))
}

fn success() -> Json<Value> {
    Json(json!({ "messaging_product": "whatsapp", "success": true }))
}

/// `POST /{version}/{phone_number_id}/calls`
pub(crate) async fn calls(
    State(engine): State<Arc<Engine>>,
    Path((version, pid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> GraphResult<Json<Value>> {
    check(&engine, &headers, &version)?;
    engine.number(&pid)?;
    let v = parse(&body)?;
    if v.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return Err(GraphError::invalid_parameter("messaging_product must be \"whatsapp\""));
    }
    let action = v.get("action").and_then(Value::as_str).unwrap_or("");
    tracing::debug!(%pid, action, "graph calls request");
    match action {
        "connect" => {
            // `to` wins over `recipient` (a BSUID), as in the Messages API.
            let to = match (v.get("to").and_then(Value::as_str), v.get("recipient").and_then(Value::as_str)) {
                (Some(to), _) => to.to_string(),
                (None, Some(r)) => engine.resolve_recipient(r).ok_or_else(|| {
                    GraphError::invalid_parameter(format!("recipient {r:?} is not a known user id"))
                })?,
                (None, None) => return Err(GraphError::invalid_parameter("to is required for connect")),
            };
            let to = to.as_str();
            let sdp = session_sdp(&v, "offer", true)?;
            let opaque = opaque(&v)?;
            let c = engine.connect(&pid, to, &sdp, opaque)?;
            Ok(Json(json!({ "messaging_product": "whatsapp", "calls": [{ "id": c.call_id }] })))
        }
        "pre_accept" => {
            let id = call_id(&v)?;
            let sdp = session_sdp(&v, "answer", false)?;
            engine.pre_accept(&pid, &id, &sdp).await?;
            Ok(success())
        }
        "accept" => {
            let id = call_id(&v)?;
            let sdp = session_sdp(&v, "answer", false)?;
            let opaque = opaque(&v)?;
            engine.accept(&pid, &id, &sdp, opaque).await?;
            Ok(success())
        }
        "reject" => {
            engine.reject(&pid, &call_id(&v)?)?;
            Ok(success())
        }
        "terminate" => {
            engine.terminate(&pid, &call_id(&v)?)?;
            Ok(success())
        }
        other => Err(GraphError::invalid_parameter(format!(
            "action must be one of connect, pre_accept, accept, reject, terminate; got {other:?}"
        ))),
    }
}

/// Any other Graph path: Meta's "Unknown path components" error.
pub(crate) async fn unknown_path(uri: axum::http::Uri) -> GraphError {
    GraphError {
        status: axum::http::StatusCode::BAD_REQUEST,
        code: 2500,
        subcode: None,
        kind: "OAuthException",
        message: format!("Unknown path components: {}", uri.path()),
        error_data: None,
    }
}

/// `GET /{version}/{id}`: a phone number's fields (what a client reads to check credentials).
pub(crate) async fn object(
    State(engine): State<Arc<Engine>>,
    Path((version, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> GraphResult<Json<Value>> {
    check(&engine, &headers, &version)?;
    let n = engine.number(&id)?;
    Ok(Json(json!({
        "id": n.phone_number_id,
        "display_phone_number": n.display_phone_number,
        "verified_name": n.verified_name,
        "quality_rating": "GREEN",
        "code_verification_status": "VERIFIED",
        "platform_type": "CLOUD_API",
        "throughput": { "level": "STANDARD" },
    })))
}

/// `GET /{version}/{waba_id}/phone_numbers`
pub(crate) async fn phone_numbers(
    State(engine): State<Arc<Engine>>,
    Path((version, waba)): Path<(String, String)>,
    headers: HeaderMap,
) -> GraphResult<Json<Value>> {
    check(&engine, &headers, &version)?;
    if !engine.waba_exists(&waba) {
        return Err(GraphError::unknown_object(&waba));
    }
    let data: Vec<Value> = engine
        .numbers()
        .into_iter()
        .filter(|n| n.waba_id == waba)
        .map(|n| {
            json!({ "id": n.phone_number_id, "display_phone_number": n.display_phone_number,
                    "verified_name": n.verified_name, "quality_rating": "GREEN" })
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}

/// `GET /{version}/{phone_number_id}/settings`
pub(crate) async fn get_settings(
    State(engine): State<Arc<Engine>>,
    Path((version, pid)): Path<(String, String)>,
    headers: HeaderMap,
) -> GraphResult<Json<Value>> {
    check(&engine, &headers, &version)?;
    Ok(Json(engine.settings(&pid)?))
}

/// `POST /{version}/{phone_number_id}/settings`
pub(crate) async fn post_settings(
    State(engine): State<Arc<Engine>>,
    Path((version, pid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> GraphResult<Json<Value>> {
    check(&engine, &headers, &version)?;
    engine.number(&pid)?;
    engine.update_settings(&pid, &parse(&body)?)?;
    Ok(Json(json!({ "success": true })))
}

/// `GET /{version}/{phone_number_id}/call_permissions?user_wa_id=`
pub(crate) async fn call_permissions(
    State(engine): State<Arc<Engine>>,
    Path((version, pid)): Path<(String, String)>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> GraphResult<Json<Value>> {
    check(&engine, &headers, &version)?;
    engine.number(&pid)?;
    let raw = q.get("user_wa_id").ok_or_else(|| GraphError::invalid_parameter("user_wa_id is required"))?;
    let user = crate::engine::normalize_phone(raw).ok_or_else(|| {
        GraphError::invalid_parameter(format!("user_wa_id is not a valid WhatsApp id: {raw:?}"))
    })?;
    Ok(Json(engine.call_permissions(&pid, &user)?))
}

/// `POST /{version}/{phone_number_id}/messages`
pub(crate) async fn messages(
    State(engine): State<Arc<Engine>>,
    Path((version, pid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> GraphResult<Json<Value>> {
    check(&engine, &headers, &version)?;
    engine.number(&pid)?;
    let v = parse(&body)?;
    let input = v.get("to").and_then(Value::as_str).unwrap_or_default().to_string();
    let (wamid, wa_id) = engine.send_message(&pid, &v)?;
    Ok(Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": input, "wa_id": wa_id }],
        "messages": [{ "id": wamid }],
    })))
}

/// `POST /{version}/{waba_id}/message_templates`
pub(crate) async fn create_template(
    State(engine): State<Arc<Engine>>,
    Path((version, waba)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> GraphResult<Json<Value>> {
    check(&engine, &headers, &version)?;
    let t = engine.create_template(&waba, &parse(&body)?)?;
    Ok(Json(json!({ "id": t.id, "status": t.status, "category": t.category })))
}

/// `GET /{version}/{waba_id}/message_templates[?name=…]`: `name` filters as Meta's does (by
/// exact name here; Meta also matches a prefix, which no caller relies on).
pub(crate) async fn list_templates(
    State(engine): State<Arc<Engine>>,
    Path((version, waba)): Path<(String, String)>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> GraphResult<Json<Value>> {
    check(&engine, &headers, &version)?;
    if !engine.waba_exists(&waba) {
        return Err(GraphError::unknown_object(&waba));
    }
    let name = q.get("name").map(|name| name.trim()).filter(|name| !name.is_empty());
    let data: Vec<Value> = engine
        .templates(&waba)
        .into_iter()
        .filter(|t| name.is_none_or(|name| t.name == name))
        .map(|t| {
            json!({ "id": t.id, "name": t.name, "language": t.language, "category": t.category,
                    "components": t.components, "status": t.status })
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}

/// `DELETE /{version}/{waba_id}/message_templates?name=…[&hsm_id=…]`: Meta's delete by name;
/// with `hsm_id` only that template (one language), without it every language of the name.
pub(crate) async fn delete_templates(
    State(engine): State<Arc<Engine>>,
    Path((version, waba)): Path<(String, String)>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> GraphResult<Json<Value>> {
    check(&engine, &headers, &version)?;
    let name = q
        .get("name")
        .map(|name| name.trim())
        .filter(|name| !name.is_empty())
        .ok_or_else(|| GraphError::invalid_parameter("name is required to delete a message template"))?;
    let hsm_id = q.get("hsm_id").map(|id| id.trim()).filter(|id| !id.is_empty());
    if let Some(id) = hsm_id
        && !id.chars().all(|c| c.is_ascii_digit())
    {
        return Err(GraphError::invalid_parameter(format!("hsm_id must be a template id, got {id:?}")));
    }
    engine.delete_templates(&waba, name, hsm_id)?;
    Ok(Json(json!({ "success": true })))
}
