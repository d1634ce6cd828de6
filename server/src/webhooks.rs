//! `GET|POST /webhooks/whatsapp`: Meta's verification handshake and signed deliveries.
//!
//! A POST is checked in this order, and nothing is stored unless every check passes:
//! `X-Hub-Signature-256` over the raw bytes against every connected number's app secret
//! (401), a JSON `whatsapp_business_account` body (400), at least one connected number named
//! — or, for template reviews, a connected number's WABA — (404). Then the raw body is stored
//! durably and only then answered 200; processing happens after the answer, on the ingest
//! task (Meta times out after ~20 s and would retry).
//!
//! The hot path touches the database once: secrets and connected numbers come from a cache
//! (re-read at most every [`SECRETS_TTL`], and at once on a miss older than a second, so a
//! just-connected number is accepted), and the row is stored through the group-commit
//! [`DeliveryWriter`], which answers only after the transaction holding the row committed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use calling::ingest::{self, DeliveryWriter, Stored};
use calling::numbers::{self, WebhookSecrets};
use calling::webhook::signature::{SIGNATURE_HEADER, SignatureError, verify_signature};
use calling::{Error, Services};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tokio::sync::RwLock;

use crate::error::{ApiError, error_response};
use crate::middleware::current_request_id;

/// Meta's deliveries are at most 3 MB; a little headroom, then 413.
pub const MAX_DELIVERY_BYTES: usize = 4 * 1024 * 1024;

/// How long the decrypted webhook secrets and the connected numbers are trusted before being
/// re-read.
const SECRETS_TTL: Duration = Duration::from_secs(30);

/// The webhook routes, with their own state: axum clones a route's state for every request,
/// and this is the busiest route, so it carries only what it needs (cloning the whole app
/// state, Leptos options included, showed up in its profile).
pub fn routes<S: Clone + Send + Sync + 'static>(webhooks: Webhooks) -> Router<S> {
    Router::new()
        .route("/webhooks/whatsapp", get(verify).post(receive))
        .layer(DefaultBodyLimit::max(MAX_DELIVERY_BYTES))
        .with_state(webhooks)
}

/// Shared by the webhook handlers: the secrets and numbers cache and the ingest task. One
/// `Arc`, as axum clones it for every request.
#[derive(Clone)]
pub struct Webhooks(Arc<Shared>);

struct Shared {
    services: Services,
    known: RwLock<Option<Arc<Known>>>,
    writer: DeliveryWriter,
}

/// What deliveries are checked against, as read at `loaded`.
struct Known {
    loaded: Instant,
    secrets: WebhookSecrets,
    phone_number_ids: HashSet<String>,
    /// For account-level deliveries (template reviews), which name a WABA and no number.
    waba_ids: HashSet<String>,
}

impl Webhooks {
    /// Starts the ingest task (it stores and processes deliveries, and first finishes those a
    /// previous run stored but did not process).
    pub fn start(services: Services) -> Self {
        let writer = DeliveryWriter::start(services.clone());
        Webhooks(Arc::new(Shared { services, known: RwLock::new(None), writer }))
    }

    /// Forgets the cached secrets and numbers (after a number is connected or edited).
    pub async fn invalidate(&self) {
        *self.0.known.write().await = None;
    }

    async fn known(&self, max_age: Duration) -> Result<Arc<Known>, Error> {
        let services = &self.0.services;
        if let Some(known) = &*self.0.known.read().await
            && known.loaded.elapsed() < max_age
        {
            return Ok(known.clone());
        }
        let loaded = Instant::now();
        let secrets = numbers::webhook_secrets(&services.db, &services.secret_key).await?;
        let phone_number_ids = ingest::connected_phone_number_ids(&services.db).await?;
        let waba_ids = ingest::connected_waba_ids(&services.db).await?;
        let fresh = Arc::new(Known { loaded, secrets, phone_number_ids, waba_ids });
        *self.0.known.write().await = Some(fresh.clone());
        Ok(fresh)
    }
}

#[derive(Deserialize)]
struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// `GET /webhooks/whatsapp`: echo `hub.challenge` when `hub.verify_token` is one of ours.
async fn verify(State(webhooks): State<Webhooks>, Query(handshake): Query<Handshake>) -> Response {
    let forbidden = |message: &str| {
        error_response(
            StatusCode::FORBIDDEN,
            "verification_failed",
            message,
            None,
            current_request_id().as_deref(),
        )
    };
    let (Some("subscribe"), Some(token), Some(challenge)) =
        (handshake.mode.as_deref(), handshake.verify_token.as_deref(), handshake.challenge)
    else {
        return forbidden("expected hub.mode=subscribe with hub.verify_token and hub.challenge");
    };
    let known = match webhooks.known(Duration::ZERO).await {
        Ok(known) => known,
        Err(err) => return ApiError(err).into_response(),
    };
    let matches =
        known.secrets.verify_tokens.iter().any(|ours| bool::from(ours.as_bytes().ct_eq(token.as_bytes())));
    if !matches {
        tracing::warn!("webhook verification with an unknown verify token");
        return forbidden("hub.verify_token does not match any connected number");
    }
    (StatusCode::OK, [("content-type", "text/plain")], challenge).into_response()
}

/// `POST /webhooks/whatsapp`: check, store durably, acknowledge, then process.
async fn receive(State(webhooks): State<Webhooks>, headers: HeaderMap, body: Bytes) -> Response {
    let signature = headers.get(SIGNATURE_HEADER).and_then(|value| value.to_str().ok());
    match authenticate(&webhooks, &body, signature).await {
        Ok(()) => {}
        Err(Ok(err)) => {
            tracing::warn!(error = %err, "rejected a webhook delivery with a bad signature");
            return error_response(
                StatusCode::UNAUTHORIZED,
                "invalid_signature",
                &err.to_string(),
                None,
                current_request_id().as_deref(),
            );
        }
        Err(Err(err)) => return ApiError(err).into_response(),
    }
    let dedupe_key = match screen(&webhooks, &body).await {
        Ok(dedupe_key) => dedupe_key,
        Err(err) => {
            // A body that is not a WhatsApp delivery is a bad request here, not a form error.
            let api = ApiError(err);
            let status = if matches!(api.0, Error::Validation { .. }) {
                StatusCode::BAD_REQUEST
            } else {
                api.status()
            };
            return error_response(
                status,
                api.0.code(),
                &api.0.public_message(),
                api.0.details(),
                current_request_id().as_deref(),
            );
        }
    };
    match webhooks.0.writer.store(&body, dedupe_key, webhooks.0.services.clock.now()).await {
        Ok(Stored::New { .. }) => StatusCode::OK.into_response(),
        Ok(Stored::Duplicate { delivery_id }) => {
            tracing::debug!(%delivery_id, "duplicate webhook delivery acknowledged");
            StatusCode::OK.into_response()
        }
        Err(err) => ApiError(err).into_response(),
    }
}

/// Checks that the body is a WhatsApp Business delivery naming a connected number (or, for a
/// template review, a connected number's WABA), from the cache; a miss re-reads the numbers
/// once (one may have just been connected) before refusing.
/// Returns the delivery's dedupe key.
async fn screen(webhooks: &Webhooks, body: &[u8]) -> Result<String, Error> {
    let screened = ingest::screen(body)?;
    for max_age in [SECRETS_TTL, Duration::from_secs(1)] {
        let known = webhooks.known(max_age).await?;
        if screened.phone_number_ids.iter().any(|id| known.phone_number_ids.contains(id))
            || screened.waba_ids.iter().any(|id| known.waba_ids.contains(id))
        {
            return Ok(screened.dedupe_key);
        }
    }
    Err(ingest::no_connected_number())
}

/// Accepts a body signed with any connected number's app secret. A miss re-reads the secrets
/// once (a number may have just been connected) before refusing.
async fn authenticate(
    webhooks: &Webhooks,
    body: &[u8],
    signature: Option<&str>,
) -> Result<(), Result<SignatureError, Error>> {
    let mut last = SignatureError::Missing;
    for max_age in [SECRETS_TTL, Duration::from_secs(1)] {
        let known = webhooks.known(max_age).await.map_err(Err)?;
        for secret in &known.secrets.app_secrets {
            match verify_signature(secret.as_bytes(), body, signature) {
                Ok(()) => return Ok(()),
                Err(err @ (SignatureError::Missing | SignatureError::Malformed)) => return Err(Ok(err)),
                Err(err) => last = err,
            }
        }
        if signature.is_none() {
            return Err(Ok(SignatureError::Missing));
        }
    }
    Err(Ok(last))
}
