//! The Switchboard server: process start-up and configuration, the HTTP router (REST API,
//! webhooks, live events, the Leptos pages), and the CLI.
//!
//! Business rules live in `calling`; handlers here only translate between HTTP and it.
//! [`router`] builds the whole application so tests can drive it without a socket.

pub mod accounts;
pub mod accounts_cli;
pub mod api;
pub mod auth;
pub mod cli;
pub mod client_cli;
pub mod config;
pub mod error;
mod health;
pub mod mail;
mod middleware;
pub mod sandbox;
pub mod sweeper;
pub mod telemetry;
pub mod webhooks;

use std::time::Duration;

use app::{App, shell};
use axum::Router;
use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::routing::get;
use calling::Services;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

pub use config::Config;

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub services: Services,
    pub leptos: LeptosOptions,
    pub limits: Limits,
    pub webhooks: webhooks::Webhooks,
    /// The in-process WhatsApp simulator, when running in sandbox mode.
    pub sandbox: Option<simulator::Simulator>,
    /// STUN/TURN servers handed to agents' browsers.
    pub ice: calling::ice::IceConfig,
    /// Who an inbound call rings for first.
    pub routing: calling::answering::Routing,
}

/// Request limits applied to every route.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub request_timeout: Duration,
    pub max_request_bytes: usize,
}

/// The Leptos options for serving the site built into `site_root`.
pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(app::OUTPUT_NAME)
        .site_root(config.site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(config.bind)
        .env(if cfg!(debug_assertions) { Env::DEV } else { Env::PROD })
        .build()
}

/// The app's page routes, listed once per process. Listing renders the app with resource
/// loading switched off by a process-wide flag (leptos' `SuppressResourceLoad`), so listing
/// again while another router of the process serves pages leaves those pages' resources
/// unloaded and their responses hanging for good. A process that builds several routers (the
/// tests, side by side) therefore lists the routes once, before any of them serves a page.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let routes = route_list();
    let services = state.services.clone();
    let limits = state.limits;
    // The pages and server functions learn who is signed in from `attach_session`; the REST
    // API and the webhooks resolve their own credentials, so they are outside its layer.
    let pages = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            {
                let sandbox = state.sandbox.clone();
                let chunks = app::PageChunks::read(&state.leptos.site_root);
                move || {
                    provide_context(services.clone());
                    provide_context(chunks.for_one_render());
                    if let Some(sandbox) = &sandbox {
                        provide_context(sandbox.clone());
                    }
                }
            },
            {
                let options = state.leptos.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(state.services.clone(), auth::attach_session));
    let router = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(webhooks::routes(state.webhooks.clone()))
        .nest("/api/v1", accounts::routes().merge(api::routes()).fallback(error::api_not_found))
        .merge(pages);
    let sandbox = state.sandbox.clone();
    let services = state.services.clone();
    let router = with_sandbox(router.with_state(state), sandbox.as_ref(), services)
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, limits.request_timeout))
        .layer(RequestBodyLimitLayer::new(limits.max_request_bytes));
    middleware::with_request_tracing(router)
}

/// Adds the simulator's Graph API and scenario API, in sandbox mode only. They are merged as
/// finished routers (they carry their own state), so their path parameters stay their own.
fn with_sandbox(router: Router, sandbox: Option<&simulator::Simulator>, services: Services) -> Router {
    match sandbox {
        Some(sim) => {
            let scenario = sim
                .sandbox_router()
                .layer(axum::middleware::from_fn_with_state(services, sandbox::require_sandbox_admin));
            router.nest_service(sandbox::GRAPH_MOUNT, sim.graph_router()).merge(scenario)
        }
        None => router,
    }
}
