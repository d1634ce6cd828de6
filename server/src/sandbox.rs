//! Sandbox mode: with no real WhatsApp number connected, Switchboard runs the WhatsApp
//! simulator in-process and connects its number, so a fresh install can place and answer real
//! calls on one machine.
//!
//! The simulator's Graph API is mounted at `/sandbox/graph/{version}/…` and reached through the
//! same Graph client as Meta's; its scenario API (simulate an inbound call, choose how the
//! simulated user treats outbound calls, …) at `/sandbox/…`. It signs its webhooks with a
//! per-install random app secret and posts them to this server's `/webhooks/whatsapp`, exactly
//! as Meta would. Nothing sandbox-specific happens past the webhook endpoint.

use std::net::SocketAddr;

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use calling::accounts::Permission;
use calling::numbers::{self, NewNumber, NumberCredentials};
use calling::secrets::SecretKey;
use calling::{Result, Services, workspace};
use clap::ValueEnum;
use simulator::{BusinessNumber, SimConfig, Simulator};

/// Where the simulator's Graph API is mounted.
pub const GRAPH_MOUNT: &str = "/sandbox/graph";

/// Whether to run the sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SandboxSetting {
    /// Run it unless a real (non-sandbox) number is connected.
    Auto,
    /// Always run it, beside any real numbers.
    On,
    /// Never run it.
    Off,
}

/// How the simulated user's WebRTC peer does ICE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SandboxIce {
    /// ICE-lite, as Meta's media servers: only the browser checks connectivity.
    Lite,
    /// Full ICE on both sides.
    Full,
}

/// Starts the in-process simulator when `setting` asks for it, connecting its number to the
/// install's first workspace (created when the install has none yet).
pub async fn start(
    services: &Services,
    setting: SandboxSetting,
    ice: SandboxIce,
    listening_on: SocketAddr,
) -> Result<Option<Simulator>> {
    let db = &services.db;
    let now = services.clock.now();
    let workspace = match workspace::first(db).await? {
        Some(workspace) => workspace,
        None if setting == SandboxSetting::Off => return Ok(None),
        None => workspace::create(db, "My workspace", now).await?,
    };
    let connected = numbers::list(db, &workspace.id).await?;
    let has_real_number = connected.iter().any(|number| !number.is_sandbox);
    let run = match setting {
        SandboxSetting::Off => false,
        SandboxSetting::On => true,
        SandboxSetting::Auto => !has_real_number,
    };
    if !run {
        return Ok(None);
    }

    let business = BusinessNumber::sandbox_default();
    let base_url = format!("http://{}", loopback(listening_on));
    let credentials = match connected.iter().find(|number| number.phone_number_id == business.phone_number_id)
    {
        Some(number) => numbers::credentials(db, &services.secret_key, &number.id).await?,
        None => {
            // Random per install: the simulator's defaults are public, and anyone who knows an
            // app secret can forge webhooks.
            let credentials = NumberCredentials {
                access_token: format!("sandbox-{}", SecretKey::generate_hex()),
                app_secret: SecretKey::generate_hex(),
                verify_token: SecretKey::generate_hex(),
            };
            let new = NewNumber {
                phone_number_id: business.phone_number_id.clone(),
                waba_id: business.waba_id.clone(),
                phone_number: business.display_phone_number.clone(),
                credentials: credentials.clone(),
                graph_api_version: Some(simulator::DEFAULT_GRAPH_VERSION.to_owned()),
                graph_api_base_url: Some(format!("{base_url}{GRAPH_MOUNT}")),
                is_sandbox: true,
            };
            numbers::connect(db, &services.secret_key, &workspace.id, new, now).await?;
            tracing::info!(workspace = %workspace.name, number = %business.display_phone_number, "connected the sandbox number");
            credentials
        }
    };
    numbers::set_graph_api_base_url(db, &business.phone_number_id, &format!("{base_url}{GRAPH_MOUNT}"), now)
        .await?;

    let simulator = Simulator::new(SimConfig {
        access_token: credentials.access_token,
        app_secret: credentials.app_secret,
        webhook_url: Some(format!("{base_url}/webhooks/whatsapp")),
        numbers: vec![business],
        ice_lite: ice == SandboxIce::Lite,
        ..SimConfig::default()
    });
    tracing::info!(graph = %format!("{base_url}{GRAPH_MOUNT}"), "sandbox mode: the WhatsApp simulator runs in-process");
    Ok(Some(simulator))
}

/// Guards the scenario API (`/sandbox/…`): it makes WhatsApp users call, grant permissions and
/// hang up, so it takes an admin (or owner) of the workspace that owns the sandbox number,
/// signed in or with an API key. The simulator's Graph API checks its own bearer token.
pub async fn require_sandbox_admin(
    State(services): State<Services>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let auth = match crate::auth::Auth::from_request_parts(&mut parts, &services).await {
        Ok(auth) => auth,
        Err(err) => return err.into_response(),
    };
    if let Err(err) = auth.require(Permission::ChangeSettings) {
        return err.into_response();
    }
    let sandbox_number = BusinessNumber::sandbox_default().phone_number_id;
    match numbers::by_phone_number_id(&services.db, &sandbox_number).await {
        Ok(Some(number)) if number.workspace_id == auth.workspace_id => {}
        Ok(_) => return crate::error::ApiError(calling::Error::NotFound { what: "sandbox" }).into_response(),
        Err(err) => return crate::error::ApiError(err).into_response(),
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The address the simulator posts webhooks to: loopback when the server listens on every
/// interface.
fn loopback(address: SocketAddr) -> SocketAddr {
    if address.ip().is_unspecified() {
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), address.port())
    } else {
        address
    }
}
