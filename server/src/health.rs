//! Liveness and readiness probes for load balancers and orchestrators.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::error::ApiError;
use calling::Services;

/// `GET /healthz`: the process is up and serving HTTP.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the process can do its job — the database answers.
pub async fn readyz(State(services): State<Services>) -> Result<Json<Value>, ApiError> {
    services.db.ping().await.map_err(|err| match err {
        calling::Error::Unavailable { .. } => err,
        other => calling::Error::Unavailable { message: format!("database not ready: {other}") },
    })?;
    Ok(Json(json!({ "status": "ready", "database": "ok" })))
}
