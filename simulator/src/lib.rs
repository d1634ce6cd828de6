//! Switchboard's stand-in for WhatsApp's Cloud API Calling surface, strict enough to catch the
//! business side's bugs. Mount it in-process (the server's sandbox mode) or run it alone as
//! `switchboard-sim`.
//!
//! ```no_run
//! # async fn demo() {
//! use simulator::{SimConfig, Simulator};
//! let sim = Simulator::new(SimConfig {
//!     webhook_url: Some("http://127.0.0.1:3000/webhooks/whatsapp".into()),
//!     ..SimConfig::default()
//! });
//! let app: axum::Router = sim.router(); // Graph API under /{version}/… plus /sandbox/…
//! # let _ = app;
//! # }
//! ```
//!
//! What lives where:
//! - [`config`]: numbers, credentials, timers, quotas, user behaviour;
//! - `engine`: calls, settings, permissions, templates and the webhooks each transition emits;
//! - `graph`: the Graph API handlers; `sandbox`: the scenario API;
//! - [`webhook`]: signing, delivery, retries and fault injection, plus the `hub.challenge` helper;
//! - [`media`]: the str0m WebRTC peer playing the user's phone;
//! - [`clock`]: system or virtual time.

pub mod clock;
pub mod config;
mod engine;
pub mod error;
mod graph;
mod ids;
pub mod media;
mod messages;
mod sandbox;
pub mod sdp;
mod settings;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post, put};

pub use clock::Clock;
pub use config::{
    Behaviour, BusinessNumber, DEFAULT_ACCESS_TOKEN, DEFAULT_APP_SECRET, DEFAULT_GRAPH_VERSION, Limits,
    OnCall, RejectedStatus, SimConfig,
};
pub use engine::{CallInfo, Direction, Grant, InboundCall, Phase, SandboxError, Template};
pub use media::MediaStats;
pub use webhook::{Delivery, Faults};

use engine::Engine;
use webhook::{WebhookSettings, Webhooks};

/// A running simulator. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Simulator {
    engine: Arc<Engine>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator").field("numbers", &self.engine.cfg.numbers).finish_non_exhaustive()
    }
}

impl Simulator {
    /// Build a simulator and start its webhook worker and timer task.
    ///
    /// Must be called inside a Tokio runtime. The timer task checks the answer windows, the
    /// simulated users' pickups and the no-media rule every `tick_interval`; it stops when the
    /// last clone of the simulator is dropped.
    pub fn new(cfg: SimConfig) -> Self {
        let hooks = Webhooks::start(
            WebhookSettings {
                url: cfg.webhook_url.clone(),
                app_secret: cfg.app_secret.clone(),
                faults: cfg.faults.clone(),
                max_attempts: cfg.webhook_max_attempts,
                retry_backoff: cfg.webhook_retry_backoff,
                attempt_timeout: cfg.webhook_timeout,
            },
            cfg.clock.clone(),
        );
        let tick = cfg.tick_interval.max(Duration::from_millis(10));
        let engine = Arc::new(Engine::new(cfg, hooks));
        let weak = Arc::downgrade(&engine);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(engine) = weak.upgrade() else { break };
                engine.sweep();
            }
        });
        Self { engine }
    }

    /// The whole HTTP surface: [`Simulator::graph_router`] merged with
    /// [`Simulator::sandbox_router`].
    pub fn router(&self) -> Router {
        self.graph_router().merge(self.sandbox_router())
    }

    /// The Graph API: `/{version}/{id}/calls|settings|call_permissions|messages|message_templates`
    /// (any version from v17.0; templates are created, listed and deleted). Its first segment is a parameter, so a host application that has
    /// its own routes should `nest` it under a prefix (e.g. `/graph`) and use that prefix as the
    /// Graph base URL.
    pub fn graph_router(&self) -> Router {
        Router::new()
            .route("/{version}/{id}", get(graph::object))
            .route("/{version}/{id}/phone_numbers", get(graph::phone_numbers))
            .route("/{version}/{id}/calls", post(graph::calls))
            .route("/{version}/{id}/settings", get(graph::get_settings).post(graph::post_settings))
            .route("/{version}/{id}/call_permissions", get(graph::call_permissions))
            .route("/{version}/{id}/messages", post(graph::messages))
            .route(
                "/{version}/{id}/message_templates",
                post(graph::create_template).get(graph::list_templates).delete(graph::delete_templates),
            )
            .fallback(graph::unknown_path)
            .with_state(self.engine.clone())
    }

    /// The scenario API under `/sandbox/…`.
    pub fn sandbox_router(&self) -> Router {
        Router::new()
            .route("/sandbox/healthz", get(sandbox::health))
            .route("/sandbox/numbers", get(sandbox::numbers))
            .route("/sandbox/calls", get(sandbox::calls))
            .route("/sandbox/calls/inbound", post(sandbox::inbound))
            .route("/sandbox/calls/{call_id}", get(sandbox::call))
            .route("/sandbox/calls/{call_id}/hangup", post(sandbox::hangup))
            .route("/sandbox/calls/{call_id}/media", get(sandbox::media))
            .route(
                "/sandbox/users/{phone}/behaviour",
                put(sandbox::put_behaviour).get(sandbox::get_behaviour),
            )
            .route("/sandbox/users/{phone}/permission", post(sandbox::permission))
            .route(
                "/sandbox/behaviour",
                put(sandbox::put_default_behaviour).get(sandbox::get_default_behaviour),
            )
            .route("/sandbox/webhooks", get(sandbox::webhooks))
            .route("/sandbox/webhooks/flush", post(sandbox::flush))
            .route("/sandbox/webhooks/faults", get(sandbox::get_faults).put(sandbox::put_faults))
            .route("/sandbox/webhooks/verify", post(sandbox::verify))
            .route("/sandbox/clock/advance", post(sandbox::advance))
            .with_state(self.clone())
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &SimConfig {
        &self.engine.cfg
    }

    /// Hosted business numbers.
    pub fn numbers(&self) -> Vec<BusinessNumber> {
        self.engine.numbers()
    }

    /// A user calls a business (`connect` webhook with Meta's SDP offer). Returns the call id.
    pub fn place_inbound_call(&self, call: InboundCall) -> Result<String, SandboxError> {
        self.engine.place_inbound_call(call)
    }

    /// Script how a user treats business-initiated calls.
    pub fn set_behaviour(&self, user: &str, behaviour: Behaviour) -> Result<(), SandboxError> {
        self.engine.set_behaviour(user, behaviour)
    }

    /// Set how users without their own behaviour treat business calls.
    pub fn set_default_behaviour(&self, behaviour: Behaviour) -> Result<(), SandboxError> {
        self.engine.set_default_behaviour(behaviour)
    }

    /// How users without their own behaviour treat business calls.
    pub fn default_behaviour(&self) -> Behaviour {
        self.engine.default_behaviour()
    }

    /// A user's current behaviour (the default if never set).
    pub fn behaviour(&self, user: &str) -> Behaviour {
        self.engine.behaviour(user)
    }

    /// The user answers the pending permission request of `phone_number_id` (first number if
    /// `None`), or grants from the business profile when none is pending. Sends the
    /// `call_permission_reply` webhook; returns what was sent.
    pub fn user_permission_reply(
        &self,
        phone_number_id: Option<&str>,
        user: &str,
        grant: Grant,
    ) -> Result<serde_json::Value, SandboxError> {
        self.engine.user_permission(phone_number_id, user, grant)
    }

    /// Templates of a WABA as WhatsApp has them (what `GET message_templates` lists).
    pub fn templates(&self, waba_id: &str) -> Vec<Template> {
        self.engine.templates(waba_id)
    }

    /// Meta's review moves template `template_id` (Meta's id) to `status` (`APPROVED`,
    /// `REJECTED`, `PAUSED`, `DISABLED`, …, any case) with `reason` (`NONE` when absent): the
    /// template takes it and a signed `message_template_status_update` webhook is sent.
    /// Returns the webhook's `value`.
    pub fn set_template_status(
        &self,
        template_id: &str,
        status: &str,
        reason: Option<&str>,
    ) -> Result<serde_json::Value, SandboxError> {
        self.engine.set_template_status(template_id, status, reason)
    }

    /// The user hangs up (or declines a ringing business call).
    pub fn hangup(&self, call_id: &str) -> Result<(), SandboxError> {
        self.engine.user_hangup(call_id)
    }

    /// Media counters of the user's side of a call.
    pub fn media_stats(&self, call_id: &str) -> Option<MediaStats> {
        self.engine.media_stats(call_id)
    }

    /// All calls, newest first.
    pub fn calls(&self) -> Vec<CallInfo> {
        self.engine.calls()
    }

    /// One call.
    pub fn call(&self, call_id: &str) -> Option<CallInfo> {
        self.engine.call_info(call_id)
    }

    /// Webhook deliveries made, newest first.
    pub fn webhook_deliveries(&self) -> Vec<Delivery> {
        self.engine.hooks.deliveries()
    }

    /// Send partial batches and held deliveries now and wait for queued deliveries.
    pub async fn flush_webhooks(&self) {
        self.engine.hooks.flush().await;
    }

    /// Where webhooks go.
    pub fn webhook_url(&self) -> Option<String> {
        self.engine.hooks.settings().url
    }

    /// Point webhooks at a URL (e.g. once the server knows its own address).
    pub fn set_webhook_url(&self, url: Option<String>) {
        self.engine.hooks.set_url(url);
    }

    /// Current fault switches.
    pub fn faults(&self) -> Faults {
        self.engine.hooks.faults()
    }

    /// Replace the fault switches.
    pub fn set_faults(&self, faults: Faults) {
        self.engine.hooks.set_faults(faults);
    }

    /// Perform Meta's GET `hub.challenge` handshake against the configured webhook URL.
    pub async fn verify_webhook(&self, verify_token: &str) -> Result<(), String> {
        let url = self.webhook_url().ok_or("no webhook URL configured")?;
        webhook::verify_endpoint(&url, verify_token).await
    }

    /// Now, by the simulator's clock (unix ms).
    pub fn now_ms(&self) -> i64 {
        self.engine.clock.now_ms()
    }

    /// Advance a virtual clock and run due timers at once. False on the system clock.
    pub fn advance(&self, by: Duration) -> bool {
        let moved = self.engine.clock.advance(by);
        if moved {
            self.engine.sweep();
        }
        moved
    }

    /// Run due timers now (the timer task does this every tick anyway).
    pub fn sweep(&self) {
        self.engine.sweep();
    }
}
