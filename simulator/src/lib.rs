//! A stand-in for WhatsApp's Cloud API Calling surface, mounted in-process by the server's
//! sandbox mode or run alone as `switchboard-sim`.
//!
//! This is the crate's starting point: a health route under the Graph API base. The Graph
//! endpoints, Meta's rules, signed webhooks and the WebRTC caller are built on it.

use axum::{Json, Router, routing::get};
use serde_json::json;

/// The Graph API version the simulator serves by default.
pub const DEFAULT_GRAPH_VERSION: &str = "v23.0";

/// The simulator's HTTP surface.
pub fn router() -> Router {
    Router::new().route(
        "/sandbox/healthz",
        get(|| async { Json(json!({ "status": "ok", "graph_version": DEFAULT_GRAPH_VERSION })) }),
    )
}
