//! Test harness: a real Switchboard server on a loopback socket and the WhatsApp simulator
//! delivering signed webhooks to it, both stopped when the test ends.
#![allow(dead_code)] // each test file uses a different part of the harness

pub mod openapi;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use calling::Services;
use calling::accounts::{Role, api_keys, sessions};
use calling::answering::Routing;
use calling::clock::Clock;
use calling::numbers::{self, NewNumber, NumberCredentials, WhatsAppNumber};
use calling::permissions::PermissionLimits;
use calling::phone::PhoneNumber;
use calling::testing::{self, TestDb};
use calling::workspace::{self, Workspace};
use clap::Parser;
use reqwest::StatusCode;
use serde_json::Value;
use server::cli::Cli;
use server::webhooks::Webhooks;
use server::{AppState, leptos_options, router};
use simulator::{Behaviour, Grant, OnCall};
use simulator::{BusinessNumber, SimConfig, Simulator};
use tokio::net::TcpListener;

pub const VERIFY_TOKEN: &str = "sandbox-verify-token";

/// A server listening on 127.0.0.1.
pub struct TestServer {
    pub url: String,
    pub state: AppState,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `services` on a free loopback port.
pub async fn spawn_server(services: Services) -> TestServer {
    spawn_server_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), services).await
}

/// Serves `services` on `listener` (bound first when the services must know the server's
/// address, e.g. for the links in emails).
pub async fn spawn_server_on(listener: TcpListener, services: Services) -> TestServer {
    // Calls ring for every agent at once unless a test is about routing.
    spawn_server_routed(listener, services, Routing { head_start_ms: 0 }).await
}

/// Serves `services` on `listener` with the given call routing.
pub async fn spawn_server_routed(listener: TcpListener, services: Services, routing: Routing) -> TestServer {
    let cli = Cli::parse_from(["switchboard", "--site-root", "/nonexistent-site"]);
    let state = AppState {
        webhooks: Webhooks::start(services.clone()),
        sandbox: None,
        services,
        leptos: leptos_options(&cli.config),
        limits: cli.config.limits(),
        ice: Default::default(),
        routing,
    };
    let address = listener.local_addr().unwrap();
    // Every REST response of every test is checked against the OpenAPI document on its way out.
    let app = router(state.clone()).layer(axum::middleware::from_fn(openapi::check_against_document));
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    TestServer { url: format!("http://{address}"), state, task }
}

/// The simulator on its own loopback port, sending webhooks to `webhook_url`.
pub struct TestSimulator {
    pub sim: Simulator,
    pub address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestSimulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn spawn_simulator(webhook_url: &str, tweak: impl FnOnce(&mut SimConfig)) -> TestSimulator {
    let mut config = SimConfig {
        webhook_url: Some(webhook_url.to_owned()),
        ice_lite: false, // full ICE connects ~1 s sooner; the protocol is the same
        webhook_retry_backoff: Duration::from_millis(50),
        ..SimConfig::default()
    };
    tweak(&mut config);
    let sim = Simulator::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = sim.router();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    TestSimulator { sim, address, task }
}

/// A workspace with the simulator's sandbox number connected, a server and the simulator.
pub struct Sandbox {
    pub server: TestServer,
    pub sim: TestSimulator,
    pub workspace: Workspace,
    pub number: WhatsAppNumber,
    pub business: BusinessNumber,
    _db: Option<TestDb>,
}

impl Sandbox {
    /// Everything on a fresh SQLite database.
    pub async fn start(tweak: impl FnOnce(&mut SimConfig)) -> Sandbox {
        let db = testing::sqlite().await;
        let services = testing::services(&db.db, Clock::System);
        Sandbox::start_with(services, Some(db), tweak).await
    }

    /// Everything on a fresh SQLite database, with the given call routing.
    pub async fn start_routed(routing: Routing) -> Sandbox {
        let db = testing::sqlite().await;
        let services = testing::services(&db.db, Clock::System);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = spawn_server_routed(listener, services, routing).await;
        Sandbox::around(server, Some(db), |_| {}).await
    }

    /// Everything on the given services (e.g. PostgreSQL); `db` is kept alive with it.
    pub async fn start_with(
        services: Services,
        db: Option<TestDb>,
        tweak: impl FnOnce(&mut SimConfig),
    ) -> Sandbox {
        Sandbox::around(spawn_server(services).await, db, tweak).await
    }

    /// The simulator, a workspace and its sandbox number around a running server.
    async fn around(server: TestServer, db: Option<TestDb>, tweak: impl FnOnce(&mut SimConfig)) -> Sandbox {
        let sim = spawn_simulator(&format!("{}/webhooks/whatsapp", server.url), tweak).await;
        let services = &server.state.services;
        let now = services.clock.now();
        let workspace = workspace::create(&services.db, "Sandbox Co", now).await.unwrap();
        let business = sim.sim.numbers()[0].clone();
        let config = sim.sim.config();
        let number = numbers::connect(
            &services.db,
            &services.secret_key,
            &workspace.id,
            NewNumber {
                phone_number_id: business.phone_number_id.clone(),
                waba_id: business.waba_id.clone(),
                phone_number: business.display_phone_number.clone(),
                credentials: NumberCredentials {
                    access_token: config.access_token.clone(),
                    app_secret: config.app_secret.clone(),
                    verify_token: VERIFY_TOKEN.into(),
                },
                graph_api_version: Some(config.graph_version.clone()),
                graph_api_base_url: Some(format!("http://{}", sim.address)),
                is_sandbox: true,
            },
            now,
        )
        .await
        .unwrap();
        Sandbox { server, sim, workspace, number, business, _db: db }
    }

    pub fn services(&self) -> &Services {
        &self.server.state.services
    }
}

/// Polls `check` until it returns `Some`, failing the test after `seconds`.
pub async fn eventually<T, F, Fut>(seconds: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The user grants permanent call permission and answers calls after a second.
pub async fn user_accepts_calls(sandbox: &Sandbox, user: &PhoneNumber, limits: &PermissionLimits) {
    let services = sandbox.services();
    let phone_number_id = sandbox.business.phone_number_id.clone();
    sandbox.sim.sim.user_permission_reply(Some(&phone_number_id), user.e164(), Grant::Permanent).unwrap();
    sandbox
        .sim
        .sim
        .set_behaviour(
            user.e164(),
            Behaviour { on_call: OnCall::Answer, after_seconds: 1.0, ..Behaviour::default() },
        )
        .unwrap();
    eventually(10, "the grant in the ledger", || async {
        let found =
            calling::ledger::lookup(&services.db, &sandbox.number.id, user, services.clock.now(), limits)
                .await
                .unwrap();
        found.call_refusal.is_none().then_some(())
    })
    .await;
}

/// A REST client with an API key, or a browser with a session cookie and the page's Origin.
#[derive(Clone)]
pub struct Caller {
    base: String,
    auth: (&'static str, String),
    http: reqwest::Client,
}

impl Caller {
    pub async fn key(sandbox: &Sandbox, workspace_id: &str, role: Role) -> Caller {
        let services = sandbox.services();
        let (key, _) =
            api_keys::create(&services.db, workspace_id, "test", role, "test", services.clock.now())
                .await
                .unwrap();
        Caller {
            base: sandbox.server.url.clone(),
            auth: ("Authorization", format!("Bearer {key}")),
            http: reqwest::Client::new(),
        }
    }

    pub async fn browser(sandbox: &Sandbox, user_id: &str, workspace_id: &str) -> Caller {
        let services = sandbox.services();
        let now = services.clock.now();
        let (token, session) =
            sessions::create(&services.db, user_id, &sessions::Origin::default(), now).await.unwrap();
        sessions::switch_workspace(&services.db, &session, workspace_id).await.unwrap();
        let cookie = format!("{}={token}", server::auth::SESSION_COOKIE);
        Caller { base: sandbox.server.url.clone(), auth: ("Cookie", cookie), http: reqwest::Client::new() }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let reply = request
            .header(self.auth.0, &self.auth.1)
            .header("Origin", &self.base)
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        let status = reply.status();
        let text = reply.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn rest(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.raw(method, &format!("/api/v1{path}"), body).await
    }

    /// Any path of the server (`/sandbox/…`, `/api/v1/…`), with an optional JSON body.
    pub async fn raw(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// A server function with URL-encoded arguments (an `ActionForm`, a resource).
    pub async fn form(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, Value) {
        self.send(self.http.post(format!("{}{path}", self.base)).form(fields)).await
    }

    /// A server function with JSON arguments.
    pub async fn json(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.http.post(format!("{}{path}", self.base)).json(&body)).await
    }

    /// A streaming GET (server-sent events): the response, to read chunk by chunk.
    pub async fn stream(&self, path: &str) -> reqwest::Response {
        let reply = self
            .http
            .get(format!("{}{path}", self.base))
            .header(self.auth.0, &self.auth.1)
            .header("Accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "{path}");
        reply
    }

    /// The `Authorization` header of an API-key caller (for requests that read bytes, not JSON).
    pub fn authorization(&self) -> &str {
        &self.auth.1
    }

    /// `POST path` with a raw body of the given content type (multipart uploads).
    pub async fn post_bytes(&self, path: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let request =
            self.http.post(format!("{}{path}", self.base)).header("Content-Type", content_type).body(body);
        self.send(request).await
    }

    /// Uploads `bytes` as the part `field` (file name `file_name`) of a multipart/form-data body.
    pub async fn upload(
        &self,
        path: &str,
        field: &str,
        file_name: &str,
        bytes: &[u8],
    ) -> (StatusCode, Value) {
        let (content_type, body) = multipart(field, file_name, bytes);
        self.post_bytes(path, &content_type, body).await
    }
}

/// A multipart/form-data body with one file part: (Content-Type header, body).
pub fn multipart(field: &str, file_name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "switchboard-test-boundary-7d1f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A short, valid WAV file (8 kHz mono 16-bit PCM, `samples` samples of a square wave).
pub fn wav(samples: usize) -> Vec<u8> {
    let data_len = (samples * 2) as u32;
    let mut bytes = b"RIFF".to_vec();
    bytes.extend((36 + data_len).to_le_bytes());
    bytes.extend(b"WAVEfmt ");
    bytes.extend(16u32.to_le_bytes());
    bytes.extend(1u16.to_le_bytes()); // PCM
    bytes.extend(1u16.to_le_bytes()); // mono
    bytes.extend(8_000u32.to_le_bytes());
    bytes.extend(16_000u32.to_le_bytes());
    bytes.extend(2u16.to_le_bytes());
    bytes.extend(16u16.to_le_bytes());
    bytes.extend(b"data");
    bytes.extend(data_len.to_le_bytes());
    for i in 0..samples {
        let sample: i16 = if (i / 10) % 2 == 0 { 8_000 } else { -8_000 };
        bytes.extend(sample.to_le_bytes());
    }
    bytes
}
