//! `/api/v1/app/numbers`: the WhatsApp numbers a workspace connects — list, connect (credentials
//! are sealed at rest and never returned), and test the connection against WhatsApp.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use calling::accounts::{Permission, audit};
use calling::graph::{GraphClient, GraphTarget};
use calling::numbers::{self, NewNumber, NumberCredentials, WhatsAppNumber};
use calling::settings::CallingSettings;
use calling::{Error, Services};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::webhooks::Webhooks;

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(list).post(connect)).route("/{id}/test", post(test))
}

#[derive(Serialize)]
struct NumbersResponse {
    numbers: Vec<WhatsAppNumber>,
}

/// `GET /numbers`
async fn list(auth: Auth, State(services): State<Services>) -> Result<Json<NumbersResponse>, ApiError> {
    auth.require(Permission::ViewSettings)?;
    Ok(Json(NumbersResponse { numbers: numbers::list(&services.db, &auth.workspace_id).await? }))
}

#[derive(Deserialize)]
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

/// `POST /numbers`: connects a number; its webhooks are accepted from now on.
async fn connect(
    auth: Auth,
    State(services): State<Services>,
    State(webhooks): State<Webhooks>,
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
    let entry = audit::NewEntry {
        workspace_id: Some(&auth.workspace_id),
        actor: &auth.actor(),
        action: "number.connected",
        target: Some(&number.id),
        details: json!({ "phone_number_id": number.phone_number_id, "display_phone_number": number.display_phone_number }),
        ip: None,
    };
    audit::record(&services.db, entry, now).await?;
    Ok((StatusCode::CREATED, Json(number)))
}

#[derive(Serialize)]
struct TestResponse {
    ok: bool,
    /// What WhatsApp reports for the number's calling settings.
    calling: CallingSettings,
}

/// `POST /numbers/:id/test`: reads the number's settings from WhatsApp with its credentials; a
/// wrong token or id comes back as WhatsApp's error (`details.meta_code`).
async fn test(
    auth: Auth,
    State(services): State<Services>,
    Path(id): Path<String>,
) -> Result<Json<TestResponse>, ApiError> {
    auth.require(Permission::ViewSettings)?;
    let number = numbers::get(&services.db, &auth.workspace_id, &id).await?;
    let credentials = numbers::credentials(&services.db, &services.secret_key, &number.id).await?;
    let client = GraphClient::new()?;
    let calling =
        client.get_settings(&GraphTarget::for_number(&number, &credentials)).await.map_err(Error::from)?;
    Ok(Json(TestResponse { ok: true, calling }))
}
