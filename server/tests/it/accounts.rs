//! The accounts API over real HTTP: setup, sign-in, sessions and their expiry, CSRF, the login
//! rate limit, passwords and resets, invitations, members and the last-owner rule, API keys,
//! and tenant isolation — on SQLite, and on PostgreSQL when `SWITCHBOARD_TEST_POSTGRES_URL`
//! is set.

use std::net::SocketAddr;

use calling::accounts::{self, NewOwner, resets};
use calling::clock::Clock;
use calling::testing::{self, TestDb};
use calling::workspace;
use clap::Parser;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use server::cli::Cli;
use server::webhooks::Webhooks;
use server::{AppState, leptos_options, router};
use tokio::net::TcpListener;

const HOUR: i64 = 60 * 60 * 1000;
const OWNER_EMAIL: &str = "Owner@Example.com";
const OWNER_PASSWORD: &str = "violet-harbour-42";

/// A server with connection info (so the rate limit sees the peer's IP) and a manual clock.
struct Server {
    url: String,
    clock: Clock,
    state: AppState,
    task: tokio::task::JoinHandle<()>,
    _db: TestDb,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(db: TestDb) -> Server {
    serve_with(db, None).await
}

async fn serve_with(db: TestDb, sandbox: Option<simulator::Simulator>) -> Server {
    let clock = Clock::manual(1_800_000_000_000);
    let services = testing::services(&db.db, clock.clone());
    let cli = Cli::parse_from(["switchboard", "--site-root", "/nonexistent-site"]);
    let state = AppState {
        webhooks: Webhooks::start(services.clone()),
        sandbox,
        services,
        leptos: leptos_options(&cli.config),
        limits: cli.config.limits(),
        ice: Default::default(),
        routing: cli.config.routing(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server { url: format!("http://{address}"), clock, state, task, _db: db }
}

/// Every database the environment offers, each behind its own server.
async fn servers() -> Vec<Server> {
    let mut all = Vec::new();
    for db in testing::every_database().await {
        all.push(serve(db).await);
    }
    all
}

/// A client holding at most one session cookie or API key, sending `Origin` like a browser
/// page of this server would (unless told otherwise).
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
    bearer: Option<String>,
    origin: Option<String>,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    fn set_cookie(&self) -> String {
        self.headers.get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }

    fn expect(self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        self.body
    }

    fn expect_error(self, status: StatusCode, code: &str) -> Value {
        assert_eq!((self.status, self.code()), (status, code), "{}", self.body);
        self.body
    }
}

impl Client {
    fn new(server: &Server) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: server.url.clone(),
            cookie: None,
            bearer: None,
            origin: Some(server.url.clone()),
        }
    }

    fn with_key(server: &Server, key: &str) -> Client {
        Client { bearer: Some(key.to_owned()), origin: None, ..Client::new(server) }
    }

    fn without_origin(&self) -> Client {
        Client { origin: None, ..self.clone() }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>, extra: &[(&str, &str)]) -> Reply {
        let mut request = self.http.request(method, format!("{}/api/v1{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", format!("sb_session={cookie}"));
        }
        if let Some(key) = &self.bearer {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        if let Some(origin) = &self.origin {
            request = request.header("origin", origin);
        }
        for (name, value) in extra {
            request = request.header(*name, HeaderValue::from_str(value).unwrap());
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
        Reply { status, headers, body }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, &[]).await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(body), &[]).await
    }

    async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None, &[]).await
    }

    /// Takes the session token out of a reply's `Set-Cookie`.
    fn adopt_cookie(&mut self, reply: &Reply) {
        let cookie = reply.set_cookie();
        let token = cookie.strip_prefix("sb_session=").and_then(|rest| rest.split(';').next()).unwrap();
        assert!(!token.is_empty(), "no session in {cookie:?}");
        self.cookie = Some(token.to_owned());
    }

    async fn login(server: &Server, email: &str, password: &str) -> Client {
        let mut client = Client::new(server);
        let reply = client.post("/login", json!({ "email": email, "password": password })).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        client.adopt_cookie(&reply);
        client
    }
}

/// Runs setup and returns the owner's signed-in client and the setup reply body.
async fn set_up(server: &Server) -> (Client, Value) {
    let mut owner = Client::new(server);
    let reply = owner
        .post(
            "/setup",
            json!({ "email": OWNER_EMAIL, "password": OWNER_PASSWORD, "display_name": "Olivia Owner" }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    owner.adopt_cookie(&reply);
    (owner, reply.body)
}

/// Invites `email` with `role` and accepts as a new user; returns their client and user id.
async fn add_member(server: &Server, inviter: &Client, email: &str, role: &str) -> (Client, String) {
    let invitation = inviter.post("/invitations", json!({ "email": email, "role": role })).await;
    let token = invitation.expect(StatusCode::CREATED)["token"].as_str().unwrap().to_owned();
    let mut member = Client::new(server);
    let reply = member
        .post(
            "/invitations/accept",
            json!({ "token": token, "password": "member-password-1", "display_name": email }),
        )
        .await;
    member.adopt_cookie(&reply);
    let body = reply.expect(StatusCode::OK);
    (member, body["user"]["id"].as_str().unwrap().to_owned())
}

async fn create_key(client: &Client, role: &str) -> (String, Value) {
    let body = client.post("/api-keys", json!({ "name": format!("{role} key"), "role": role })).await;
    let body = body.expect(StatusCode::CREATED);
    (body["key"].as_str().unwrap().to_owned(), body["api_key"].clone())
}

#[tokio::test]
async fn setup_creates_the_first_owner_once_in_the_existing_workspace() {
    for server in servers().await {
        let services = &server.state.services;
        // Sandbox mode creates "My workspace" at start-up; setup must adopt it.
        let existing = workspace::create(&services.db, "My workspace", services.clock.now()).await.unwrap();
        let anonymous = Client::new(&server);
        assert_eq!(anonymous.get("/setup").await.expect(StatusCode::OK), json!({ "needed": true }));

        let weak = anonymous.post("/setup", json!({ "email": "a@b.io", "password": "password1234" })).await;
        weak.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let short = anonymous.post("/setup", json!({ "email": "a@b.io", "password": "short" })).await;
        assert_eq!(short.body["error"]["details"]["field"], "password");

        let reply = anonymous
            .post(
                "/setup",
                json!({ "email": OWNER_EMAIL, "password": OWNER_PASSWORD, "display_name": "Olivia" }),
            )
            .await;
        let cookie = reply.set_cookie();
        assert!(cookie.starts_with("sb_session="), "{cookie}");
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(flag), "{flag} missing from {cookie}");
        }
        assert!(!cookie.contains("Secure"), "no Secure over plain HTTP to 127.0.0.1: {cookie}");
        let token = cookie.split(';').next().unwrap().trim_start_matches("sb_session=");
        assert_eq!(token.len(), 43, "32 random bytes, base64url");
        let body = reply.expect(StatusCode::CREATED);
        assert_eq!(body["workspace"]["id"], json!(existing.id));
        assert_eq!(body["role"], "owner");
        assert_eq!(body["user"]["email"], OWNER_EMAIL);
        assert!(body["user"].get("password_hash").is_none());

        // Only the hash is stored, never the token.
        let stored: Vec<(String,)> =
            sqlx::query_as("SELECT token_hash FROM sessions").fetch_all(services.db.pool()).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_ne!(stored[0].0, token);
        assert_eq!(stored[0].0.len(), 64);
        let (hash,): (String,) =
            sqlx::query_as("SELECT password_hash FROM users").fetch_one(services.db.pool()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");

        let again =
            anonymous.post("/setup", json!({ "email": "x@y.io", "password": "another-password-9" })).await;
        again.expect_error(StatusCode::CONFLICT, "already_set_up");
        assert_eq!(anonymous.get("/setup").await.expect(StatusCode::OK), json!({ "needed": false }));

        let mut owner = Client::new(&server);
        owner.cookie = Some(token.to_owned());
        let me = owner.get("/me").await.expect(StatusCode::OK);
        assert_eq!(me["role"], "owner");
        assert_eq!(me["workspace"]["name"], "My workspace");
        assert_eq!(me["memberships"].as_array().unwrap().len(), 1);
        assert!(me["permissions"].as_array().unwrap().contains(&json!("manage_owners")));
        let setups = accounts::audit::by_action(&services.db, "install.setup").await.unwrap();
        assert_eq!(setups.len(), 1);
    }
}

#[tokio::test]
async fn setup_creates_a_workspace_when_the_install_has_none() {
    let server = serve(testing::sqlite().await).await;
    let (owner, body) = set_up(&server).await;
    assert_eq!(body["workspace"]["name"], "My workspace");
    let me = owner.get("/me").await.expect(StatusCode::OK);
    assert_eq!(me["workspace"]["id"], body["workspace"]["id"]);
}

#[tokio::test]
async fn login_checks_the_password_and_mints_a_fresh_session() {
    for server in servers().await {
        let (setup_client, _) = set_up(&server).await;
        let anonymous = Client::new(&server);
        let wrong =
            anonymous.post("/login", json!({ "email": OWNER_EMAIL, "password": "not-the-password" })).await;
        let wrong = wrong.expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
        let unknown = anonymous
            .post("/login", json!({ "email": "nobody@example.com", "password": OWNER_PASSWORD }))
            .await;
        let unknown = unknown.expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
        assert_eq!(
            wrong["error"]["message"], unknown["error"]["message"],
            "unknown emails look like wrong passwords"
        );

        // Any case of the email; a new token every time (no fixation).
        let owner = Client::login(&server, "owner@EXAMPLE.com", OWNER_PASSWORD).await;
        assert_ne!(owner.cookie, setup_client.cookie);
        let planted = Client { cookie: Some("planted-token".into()), ..Client::new(&server) };
        let reply = planted.post("/login", json!({ "email": OWNER_EMAIL, "password": OWNER_PASSWORD })).await;
        assert!(!reply.set_cookie().contains("planted-token"));
        planted.get("/me").await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");

        assert_eq!(owner.get("/me").await.expect(StatusCode::OK)["user"]["email"], OWNER_EMAIL);
        let logout = owner.post("/logout", json!({})).await;
        assert!(logout.set_cookie().contains("Max-Age=0"));
        assert_eq!(logout.status, StatusCode::NO_CONTENT);
        owner.get("/me").await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        setup_client.get("/me").await.expect(StatusCode::OK);
        anonymous.get("/me").await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    }
}

#[tokio::test]
async fn sessions_end_after_twelve_idle_hours_or_fourteen_days() {
    for server in servers().await {
        let (owner, _) = set_up(&server).await;
        server.clock.advance(11 * HOUR);
        owner.get("/me").await.expect(StatusCode::OK);
        server.clock.advance(11 * HOUR);
        owner.get("/me").await.expect(StatusCode::OK);
        server.clock.advance(12 * HOUR + 1);
        owner.get("/me").await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");

        // A session abandoned without a last request is swept at the user's next sign-in.
        let abandoned = Client::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
        server.clock.advance(13 * HOUR);
        let _ = Client::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
        let (count,): (i64,) = sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT) FROM sessions")
            .fetch_one(server.state.services.db.pool())
            .await
            .unwrap();
        assert_eq!(count, 1, "only the new session is stored");
        abandoned.get("/me").await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        sqlx::query("DELETE FROM sessions").execute(server.state.services.db.pool()).await.unwrap();

        // A busy session still ends 14 days after sign-in.
        let busy = Client::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
        let mut steps = 0;
        while busy.get("/me").await.status == StatusCode::OK {
            assert!(steps < 40, "the session never ended");
            server.clock.advance(11 * HOUR);
            steps += 1;
        }
        // 14 days are 336 hours: 30 steps of 11 hours (330 h) are within, the 31st is past.
        assert_eq!(steps, 31);
        let alive: Vec<(String,)> = sqlx::query_as("SELECT id FROM sessions")
            .fetch_all(server.state.services.db.pool())
            .await
            .unwrap();
        assert!(alive.is_empty(), "expired sessions are deleted");
    }
}

#[tokio::test]
async fn logout_everywhere_ends_every_session_of_the_user() {
    let server = serve(testing::sqlite().await).await;
    let (first, _) = set_up(&server).await;
    let second = Client::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    let reply = second.post("/logout-everywhere", json!({})).await;
    assert_eq!(reply.expect(StatusCode::OK)["sessions_ended"], 2);
    first.get("/me").await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    second.get("/me").await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn cookie_changes_need_a_same_origin_request() {
    let server = serve(testing::sqlite().await).await;
    let (owner, _) = set_up(&server).await;
    let invite = json!({ "email": "agent@example.com", "role": "agent" });

    let missing = owner.without_origin().post("/invitations", invite.clone()).await;
    missing.expect_error(StatusCode::FORBIDDEN, "csrf_failed");
    let foreign = Client { origin: Some("https://evil.example".into()), ..owner.clone() };
    foreign.post("/invitations", invite.clone()).await.expect_error(StatusCode::FORBIDDEN, "csrf_failed");
    foreign.post("/logout", json!({})).await.expect_error(StatusCode::FORBIDDEN, "csrf_failed");
    // Reads need no Origin.
    owner.without_origin().get("/members").await.expect(StatusCode::OK);
    // Sec-Fetch-Site: same-origin is as good as a matching Origin.
    let fetched = owner
        .without_origin()
        .send(Method::POST, "/invitations", Some(invite.clone()), &[("sec-fetch-site", "same-origin")])
        .await;
    fetched.expect(StatusCode::CREATED);
    owner
        .post("/invitations", json!({ "email": "b@example.com", "role": "agent" }))
        .await
        .expect(StatusCode::CREATED);

    // API keys are not cookies: no Origin needed.
    let (key, _) = create_key(&owner, "admin").await;
    let by_key = Client::with_key(&server, &key);
    by_key
        .post("/invitations", json!({ "email": "c@example.com", "role": "viewer" }))
        .await
        .expect(StatusCode::CREATED);

    // Login CSRF: a foreign page cannot sign a browser in.
    let login = json!({ "email": OWNER_EMAIL, "password": OWNER_PASSWORD });
    let cross = Client { origin: Some("https://evil.example".into()), ..Client::new(&server) };
    cross.post("/login", login.clone()).await.expect_error(StatusCode::FORBIDDEN, "csrf_failed");
    Client::new(&server).without_origin().post("/login", login).await.expect(StatusCode::OK);
}

#[tokio::test]
async fn logins_are_rate_limited_per_account_and_per_ip() {
    let server = serve(testing::sqlite().await).await;
    let _ = set_up(&server).await;
    let client = Client::new(&server);
    let wrong = json!({ "email": OWNER_EMAIL, "password": "wrong-password-1" });
    for _ in 0..5 {
        client
            .post("/login", wrong.clone())
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let limited = client.post("/login", json!({ "email": OWNER_EMAIL, "password": OWNER_PASSWORD })).await;
    assert_eq!(limited.headers.get("retry-after").unwrap(), "900");
    let body = limited.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(body["error"]["details"]["retry_after_seconds"], 900);

    server.clock.advance(15 * 60 * 1000);
    Client::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;

    // Per IP: 20 failures across different accounts block this address for every account.
    for n in 0..20 {
        let attempt = json!({ "email": format!("user{n}@example.com"), "password": "wrong-password-1" });
        client.post("/login", attempt).await.expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let blocked = client.post("/login", json!({ "email": OWNER_EMAIL, "password": OWNER_PASSWORD })).await;
    blocked.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}

#[tokio::test]
async fn passwords_change_and_reset_with_one_time_tokens() {
    for server in servers().await {
        let services = &server.state.services;
        let (owner, _) = set_up(&server).await;
        let other = Client::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;

        let bad = owner
            .post("/password", json!({ "current_password": "nope-nope-nope", "new_password": "x" }))
            .await;
        bad.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let weak = owner
            .post("/password", json!({ "current_password": OWNER_PASSWORD, "new_password": "qwerty123456" }))
            .await;
        weak.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let changed = owner
            .post(
                "/password",
                json!({ "current_password": OWNER_PASSWORD, "new_password": "second-password-77" }),
            )
            .await;
        assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
        owner.get("/me").await.expect(StatusCode::OK);
        other.get("/me").await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        Client::login(&server, OWNER_EMAIL, "second-password-77").await;

        // Requests answer the same for known and unknown emails.
        let anonymous = Client::new(&server);
        let unknown = anonymous.post("/password/reset", json!({ "email": "ghost@example.com" })).await;
        let known = anonymous.post("/password/reset", json!({ "email": OWNER_EMAIL })).await;
        assert_eq!((unknown.status, &unknown.body), (StatusCode::ACCEPTED, &known.body));
        // A few requests per email, then a clear refusal (the same for unknown emails).
        for _ in 0..2 {
            anonymous
                .post("/password/reset", json!({ "email": "ghost@example.com" }))
                .await
                .expect(StatusCode::ACCEPTED);
        }
        let limited = anonymous.post("/password/reset", json!({ "email": "ghost@example.com" })).await;
        limited.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        let (pending,): (i64,) = sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT) FROM password_resets")
            .fetch_one(services.db.pool())
            .await
            .unwrap();
        assert_eq!(pending, 1);

        let now = services.clock.now();
        let (stale, _) = resets::request(&services.db, OWNER_EMAIL, now).await.unwrap().unwrap();
        server.clock.advance(HOUR);
        let expired = anonymous
            .post("/password/reset/confirm", json!({ "token": stale, "new_password": "third-password-88" }))
            .await;
        expired.expect_error(StatusCode::UNAUTHORIZED, "invalid_token");
        let (token, _) =
            resets::request(&services.db, OWNER_EMAIL, services.clock.now()).await.unwrap().unwrap();
        let garbage = anonymous.post(
            "/password/reset/confirm",
            json!({ "token": "garbage", "new_password": "third-password-88" }),
        );
        garbage.await.expect_error(StatusCode::UNAUTHORIZED, "invalid_token");
        let confirm = json!({ "token": token, "new_password": "third-password-88" });
        let done = anonymous.post("/password/reset/confirm", confirm.clone()).await;
        assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
        owner.get("/me").await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        anonymous
            .post("/password/reset/confirm", confirm)
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "invalid_token");
        Client::login(&server, OWNER_EMAIL, "third-password-88").await;
        let old =
            anonymous.post("/login", json!({ "email": OWNER_EMAIL, "password": "second-password-77" })).await;
        old.expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
}

#[tokio::test]
async fn invitations_are_the_way_in_and_work_once() {
    for server in servers().await {
        let (owner, setup) = set_up(&server).await;
        let workspace_id = setup["workspace"]["id"].as_str().unwrap().to_owned();

        let created =
            owner.post("/invitations", json!({ "email": "Agent@Example.com", "role": "agent" })).await;
        let created = created.expect(StatusCode::CREATED);
        let token = created["token"].as_str().unwrap().to_owned();
        assert!(created["accept_url"].as_str().unwrap().ends_with(&token));
        assert_eq!(created["invitation"]["role"], "agent");
        assert!(!owner.get("/invitations").await.expect(StatusCode::OK).to_string().contains(&token));

        let anonymous = Client::new(&server);
        let weak =
            anonymous.post("/invitations/accept", json!({ "token": token, "password": "short" })).await;
        weak.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let mut agent = Client::new(&server);
        let accepted = agent
            .post("/invitations/accept", json!({ "token": token, "password": "agent-password-1" }))
            .await;
        agent.adopt_cookie(&accepted);
        let accepted = accepted.expect(StatusCode::OK);
        assert_eq!(
            (accepted["role"].as_str(), accepted["workspace"]["id"].as_str()),
            (Some("agent"), Some(&*workspace_id))
        );
        let again = anonymous
            .post("/invitations/accept", json!({ "token": token, "password": "agent-password-1" }))
            .await;
        again.expect_error(StatusCode::UNAUTHORIZED, "invalid_token");
        let me = agent.get("/me").await.expect(StatusCode::OK);
        assert_eq!(me["role"], "agent");
        assert!(!me["permissions"].as_array().unwrap().contains(&json!("manage_team")));

        // Agents cannot invite; admins cannot hand out owner.
        agent
            .post("/invitations", json!({ "email": "x@example.com", "role": "viewer" }))
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
        let (admin, _) = add_member(&server, &owner, "admin@example.com", "admin").await;
        admin
            .post("/invitations", json!({ "email": "y@example.com", "role": "owner" }))
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
        admin
            .post("/invitations", json!({ "email": "y@example.com", "role": "admin" }))
            .await
            .expect(StatusCode::CREATED);
        owner
            .post("/invitations", json!({ "email": "agent@example.com", "role": "viewer" }))
            .await
            .expect_error(StatusCode::CONFLICT, "already_member");

        // Expired and revoked invitations are refused.
        let late = owner.post("/invitations", json!({ "email": "late@example.com", "role": "viewer" })).await;
        let late_token = late.expect(StatusCode::CREATED)["token"].as_str().unwrap().to_owned();
        let revoked =
            owner.post("/invitations", json!({ "email": "rev@example.com", "role": "viewer" })).await;
        let revoked = revoked.expect(StatusCode::CREATED);
        let revoked_id = revoked["invitation"]["id"].as_str().unwrap();
        owner.delete(&format!("/invitations/{revoked_id}")).await.expect(StatusCode::OK);
        let accept = json!({ "token": revoked["token"], "password": "viewer-password-1" });
        anonymous
            .post("/invitations/accept", accept)
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "invalid_token");
        server.clock.advance(7 * 24 * HOUR);
        let accept = json!({ "token": late_token, "password": "viewer-password-1" });
        anonymous
            .post("/invitations/accept", accept)
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "invalid_token");
    }
}

#[tokio::test]
async fn one_user_belongs_to_several_workspaces_and_switches() {
    let server = serve(testing::sqlite().await).await;
    let services = &server.state.services;
    let (owner, setup) = set_up(&server).await;
    let first_id = setup["workspace"]["id"].as_str().unwrap().to_owned();
    let owner_b = NewOwner {
        email: "boss@b.example".into(),
        display_name: None,
        password: "b-owner-password-1".into(),
        workspace_name: None,
    };
    let (_, second) =
        accounts::create_owner(&services.db, owner_b, "B Corp", services.clock.now()).await.unwrap();
    let boss = Client::login(&server, "boss@b.example", "b-owner-password-1").await;
    let token = boss.post("/invitations", json!({ "email": OWNER_EMAIL, "role": "viewer" })).await;
    let token = token.expect(StatusCode::CREATED)["token"].as_str().unwrap().to_owned();

    // An existing account proves it is theirs with its password.
    let anonymous = Client::new(&server);
    let wrong = anonymous
        .post("/invitations/accept", json!({ "token": token, "password": "guess-guess-guess" }))
        .await;
    wrong.expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let joined =
        anonymous.post("/invitations/accept", json!({ "token": token, "password": OWNER_PASSWORD })).await;
    assert_eq!(joined.expect(StatusCode::OK)["role"], "viewer");

    let me = owner.get("/me").await.expect(StatusCode::OK);
    assert_eq!(me["memberships"].as_array().unwrap().len(), 2);
    assert_eq!(me["workspace"]["id"], json!(first_id));
    let switched = owner.post("/session/workspace", json!({ "workspace_id": second.id })).await;
    assert_eq!(switched.expect(StatusCode::OK)["role"], "viewer");
    let me = owner.get("/me").await.expect(StatusCode::OK);
    assert_eq!(
        (me["workspace"]["id"].as_str(), me["role"].as_str()),
        (Some(second.id.as_str()), Some("viewer"))
    );
    owner
        .post("/invitations", json!({ "email": "z@example.com", "role": "viewer" }))
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
    owner.post("/session/workspace", json!({ "workspace_id": first_id })).await.expect(StatusCode::OK);
    owner
        .post("/invitations", json!({ "email": "z@example.com", "role": "viewer" }))
        .await
        .expect(StatusCode::CREATED);
}

#[tokio::test]
async fn the_last_owner_can_be_neither_demoted_nor_removed() {
    for server in servers().await {
        let (owner, setup) = set_up(&server).await;
        let owner_id = setup["user"]["id"].as_str().unwrap().to_owned();
        let (admin, admin_id) = add_member(&server, &owner, "admin@example.com", "admin").await;
        let (agent, agent_id) = add_member(&server, &owner, "agent@example.com", "agent").await;

        let members = owner.get("/members").await.expect(StatusCode::OK);
        assert_eq!(members["members"].as_array().unwrap().len(), 3);
        agent.get("/members").await.expect(StatusCode::OK);

        owner
            .patch(&format!("/members/{owner_id}"), json!({ "role": "admin" }))
            .await
            .expect_error(StatusCode::CONFLICT, "last_owner");
        owner.delete(&format!("/members/{owner_id}")).await.expect_error(StatusCode::CONFLICT, "last_owner");
        // Admins touch no owner and make none.
        admin
            .patch(&format!("/members/{owner_id}"), json!({ "role": "viewer" }))
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
        admin.delete(&format!("/members/{owner_id}")).await.expect_error(StatusCode::FORBIDDEN, "forbidden");
        admin
            .patch(&format!("/members/{agent_id}"), json!({ "role": "owner" }))
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
        agent
            .patch(&format!("/members/{admin_id}"), json!({ "role": "viewer" }))
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
        let demoted = admin.patch(&format!("/members/{agent_id}"), json!({ "role": "viewer" })).await;
        assert_eq!(demoted.expect(StatusCode::OK)["member"]["role"], "viewer");
        // A role change applies to live sessions at once.
        assert_eq!(agent.get("/me").await.expect(StatusCode::OK)["role"], "viewer");
        agent
            .patch(&format!("/members/{agent_id}"), json!({ "role": "agent" }))
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");

        // With a second owner, the first may step down.
        owner.patch(&format!("/members/{admin_id}"), json!({ "role": "owner" })).await.expect(StatusCode::OK);
        let stepped = owner.patch(&format!("/members/{owner_id}"), json!({ "role": "admin" })).await;
        assert_eq!(stepped.expect(StatusCode::OK)["member"]["role"], "admin");
        admin.delete(&format!("/members/{admin_id}")).await.expect_error(StatusCode::CONFLICT, "last_owner");

        // A removed member's session no longer reaches the workspace.
        let removed = owner.delete(&format!("/members/{agent_id}")).await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
        agent.get("/members").await.expect_error(StatusCode::FORBIDDEN, "forbidden");
        let me = agent.get("/me").await.expect(StatusCode::OK);
        assert_eq!((me["workspace"].clone(), me["memberships"].clone()), (Value::Null, json!([])));
        owner.delete(&format!("/members/{agent_id}")).await.expect_error(StatusCode::NOT_FOUND, "not_found");
        let log = owner.get("/audit-log").await.expect(StatusCode::OK);
        let actions: Vec<&str> =
            log["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
        assert!(
            actions.contains(&"member.removed") && actions.contains(&"member.role_changed"),
            "{actions:?}"
        );
    }
}

#[tokio::test]
async fn api_keys_are_shown_once_authenticate_by_bearer_and_revoke() {
    for server in servers().await {
        let (owner, setup) = set_up(&server).await;
        let (key, api_key) = create_key(&owner, "agent").await;
        let parts: Vec<&str> = key.splitn(4, '_').collect();
        assert_eq!((parts[0], parts[1]), ("sb", "live"), "{key}");
        assert_eq!(api_key["prefix"], json!(format!("sb_live_{}", parts[2])));
        assert!(key.len() > 50);
        let listed = owner.get("/api-keys").await.expect(StatusCode::OK);
        assert!(!listed.to_string().contains(&key), "the key is never shown again");
        assert_eq!(listed["api_keys"][0]["last_used_at"], Value::Null);
        let (hash,): (String,) = sqlx::query_as("SELECT key_hash FROM api_keys")
            .fetch_one(server.state.services.db.pool())
            .await
            .unwrap();
        assert!(!hash.contains(parts[3]));

        let by_key = Client::with_key(&server, &key);
        let me = by_key.get("/me").await.expect(StatusCode::OK);
        assert_eq!((me["role"].as_str(), me["user"].clone()), (Some("agent"), Value::Null));
        assert_eq!(me["workspace"]["id"], setup["workspace"]["id"]);
        assert_eq!(me["api_key"]["id"], api_key["id"]);
        by_key.get("/members").await.expect(StatusCode::OK);
        by_key.get("/api-keys").await.expect_error(StatusCode::FORBIDDEN, "forbidden");
        by_key.post("/logout", json!({})).await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        let used = owner.get("/api-keys").await.expect(StatusCode::OK);
        assert_eq!(used["api_keys"][0]["last_used_at"], json!(server.clock.now()));

        // Admins may not mint owner keys.
        let (admin, _) = add_member(&server, &owner, "admin@example.com", "admin").await;
        let owner_key = admin.post("/api-keys", json!({ "name": "root", "role": "owner" })).await;
        owner_key.expect_error(StatusCode::FORBIDDEN, "forbidden");
        let (admin_key, _) = create_key(&admin, "admin").await;
        let admin_client = Client::with_key(&server, &admin_key);
        admin_client.get("/api-keys").await.expect(StatusCode::OK);

        let id = api_key["id"].as_str().unwrap();
        let revoked = admin_client.delete(&format!("/api-keys/{id}")).await.expect(StatusCode::OK);
        assert!(revoked["api_key"]["revoked_at"].is_i64());
        by_key.get("/me").await.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        let tampered = format!("{}x", &admin_key[..admin_key.len() - 1]);
        Client::with_key(&server, &tampered)
            .get("/me")
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        Client::with_key(&server, "sb_live_nope")
            .get("/me")
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        let created = accounts::audit::by_action(&server.state.services.db, "api_key.created").await.unwrap();
        assert_eq!(created.len(), 2);
    }
}

#[tokio::test]
async fn every_endpoint_wants_credentials() {
    let server = serve(testing::sqlite().await).await;
    let _ = set_up(&server).await;
    let anonymous = Client::new(&server);
    let id = "0190a0a0-0000-7000-8000-000000000000";
    let calls: Vec<(Method, String)> = vec![
        (Method::POST, "/logout".into()),
        (Method::POST, "/logout-everywhere".into()),
        (Method::GET, "/me".into()),
        (Method::POST, "/session/workspace".into()),
        (Method::POST, "/password".into()),
        (Method::GET, "/invitations".into()),
        (Method::POST, "/invitations".into()),
        (Method::DELETE, format!("/invitations/{id}")),
        (Method::GET, "/members".into()),
        (Method::PATCH, format!("/members/{id}")),
        (Method::DELETE, format!("/members/{id}")),
        (Method::GET, "/api-keys".into()),
        (Method::POST, "/api-keys".into()),
        (Method::DELETE, format!("/api-keys/{id}")),
        (Method::GET, "/audit-log".into()),
    ];
    for (method, path) in calls {
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
        let reply = anonymous.send(method.clone(), &path, body, &[]).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNAUTHORIZED, "unauthenticated"),
            "{method} {path}"
        );
    }
}

/// Workspace B's owner, admin key and agent try everything on workspace A's ids: each is 404
/// (or 403 where B's own role forbids the action), and nothing of A shows in B's answers.
#[tokio::test]
async fn another_workspace_is_invisible() {
    for server in servers().await {
        let services = &server.state.services;
        let (owner_a, setup) = set_up(&server).await;
        let workspace_a = setup["workspace"]["id"].as_str().unwrap().to_owned();
        let owner_a_id = setup["user"]["id"].as_str().unwrap().to_owned();
        let (_, agent_a_id) = add_member(&server, &owner_a, "agent-a@a.example", "agent").await;
        let (_, key_a) = create_key(&owner_a, "admin").await;
        let key_a_id = key_a["id"].as_str().unwrap().to_owned();
        let pending =
            owner_a.post("/invitations", json!({ "email": "pending@a.example", "role": "viewer" })).await;
        let invitation_a =
            pending.expect(StatusCode::CREATED)["invitation"]["id"].as_str().unwrap().to_owned();

        let owner_b = NewOwner {
            email: "boss@b.example".into(),
            display_name: None,
            password: "b-owner-password-1".into(),
            workspace_name: None,
        };
        accounts::create_owner(&services.db, owner_b, "B Corp", services.clock.now()).await.unwrap();
        let boss = Client::login(&server, "boss@b.example", "b-owner-password-1").await;
        let (key_b, _) = create_key(&boss, "admin").await;
        let (agent_b, _) = add_member(&server, &boss, "agent-b@b.example", "agent").await;
        let callers = [("owner session", boss.clone()), ("admin key", Client::with_key(&server, &key_b))];

        for (who, b) in &callers {
            let foreign: Vec<(Method, String, Option<Value>)> = vec![
                (Method::PATCH, format!("/members/{agent_a_id}"), Some(json!({ "role": "viewer" }))),
                (Method::PATCH, format!("/members/{owner_a_id}"), Some(json!({ "role": "viewer" }))),
                (Method::DELETE, format!("/members/{agent_a_id}"), None),
                (Method::DELETE, format!("/members/{owner_a_id}"), None),
                (Method::DELETE, format!("/api-keys/{key_a_id}"), None),
                (Method::DELETE, format!("/invitations/{invitation_a}"), None),
            ];
            for (method, path, body) in foreign {
                let reply = b.send(method.clone(), &path, body, &[]).await;
                assert_eq!(
                    (reply.status, reply.code()),
                    (StatusCode::NOT_FOUND, "not_found"),
                    "{who}: {method} {path}"
                );
            }
            for path in ["/members", "/api-keys", "/invitations", "/audit-log", "/me"] {
                let body = b.get(path).await.expect(StatusCode::OK).to_string();
                for secret in [&workspace_a, &owner_a_id, &agent_a_id, &key_a_id, &invitation_a] {
                    assert!(!body.contains(secret.as_str()), "{who}: {path} leaks {secret}: {body}");
                }
                for email in ["agent-a@a.example", "pending@a.example", "owner@example.com"] {
                    assert!(!body.to_lowercase().contains(email), "{who}: {path} leaks {email}");
                }
            }
        }
        let switch = boss.post("/session/workspace", json!({ "workspace_id": workspace_a })).await;
        switch.expect_error(StatusCode::NOT_FOUND, "not_found");
        // B's agent is refused by role before anything is looked up.
        let reply = agent_b.delete(&format!("/api-keys/{key_a_id}")).await;
        reply.expect_error(StatusCode::FORBIDDEN, "forbidden");

        // A's data is untouched.
        let members = owner_a.get("/members").await.expect(StatusCode::OK);
        assert_eq!(members["members"].as_array().unwrap().len(), 2);
        let keys = owner_a.get("/api-keys").await.expect(StatusCode::OK);
        assert_eq!(keys["api_keys"][0]["revoked_at"], Value::Null);
        let invitations = owner_a.get("/invitations").await.expect(StatusCode::OK);
        assert_eq!(invitations["invitations"][0]["revoked_at"], Value::Null);
    }
}

/// Log lines written while the guard lives (this test's thread only: `#[tokio::test]` runs
/// the server's tasks on it too).
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn sandbox_mode_logs_the_reset_link() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server =
        serve_with(testing::sqlite().await, Some(simulator::Simulator::new(Default::default()))).await;
    let _ = set_up(&server).await;
    let anonymous = Client::new(&server);
    anonymous
        .post("/password/reset", json!({ "email": "owner@example.com" }))
        .await
        .expect(StatusCode::ACCEPTED);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let line = text.lines().find(|line| line.contains("password reset link")).expect("the link is logged");
    let token = line.split("/reset-password?token=").nth(1).unwrap().split_whitespace().next().unwrap();
    assert!(line.contains(&server.url), "{line}");
    let confirm = json!({ "token": token, "new_password": "from-the-log-123" });
    assert_eq!(anonymous.post("/password/reset/confirm", confirm).await.status, StatusCode::NO_CONTENT);
    Client::login(&server, OWNER_EMAIL, "from-the-log-123").await;
}
