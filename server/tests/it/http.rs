//! The HTTP surface, driven through `router(state)` without a socket: probes, the JSON error
//! envelope, request ids, the server-rendered `/calling` pages and their server functions —
//! which are for signed-in members only.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use calling::accounts::{self, NewOwner, sessions};
use calling::calls::{self, CallStatus, Direction, NewCall};
use calling::clock::Clock;
use calling::testing::{self, TestDb};
use calling::workspace;
use clap::Parser;
use http_body_util::BodyExt;
use leptos::server_fn::ServerFn;
use serde_json::Value;
use server::cli::Cli;
use server::{AppState, leptos_options, router};
use tower::ServiceExt;

struct TestApp {
    router: Router,
    state: AppState,
    _db: TestDb,
}

async fn app() -> TestApp {
    let test_db = testing::sqlite().await;
    let cli = Cli::parse_from(["switchboard", "--site-root", "/nonexistent-site"]);
    let services = testing::services(&test_db.db, Clock::System);
    let state = AppState {
        webhooks: server::webhooks::Webhooks::start(services.clone()),
        sandbox: None,
        services,
        leptos: leptos_options(&cli.config),
        limits: cli.config.limits(),
        ice: Default::default(),
        routing: cli.config.routing(),
    };
    TestApp { router: router(state.clone()), state, _db: test_db }
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.body))
    }
}

/// One request through the router. A response that does not finish within a minute fails
/// the test naming the request, rather than hanging the whole run.
async fn send(router: &Router, request: Request<Body>) -> Reply {
    let what = format!("{} {}", request.method(), request.uri());
    let exchange = async {
        let response = router.clone().oneshot(request).await.expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        Reply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), exchange)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within 60 s"))
}

/// A page load as a browser makes it (redirects are 302s only for `Accept: text/html`).
async fn get(router: &Router, uri: &str) -> Reply {
    send(router, Request::get(uri).header(header::ACCEPT, "text/html").body(Body::empty()).unwrap()).await
}

/// Creates the install's owner (and its first workspace, "Acme Support") and signs them in;
/// returns the `Cookie` header value of their session.
async fn sign_in_owner(app: &TestApp) -> String {
    let services = &app.state.services;
    let now = services.clock.now();
    let owner = NewOwner {
        email: "owner@acme.example".into(),
        display_name: Some("Olivia Owner".into()),
        password: "owner-password-long".into(),
        workspace_name: Some("Acme Support".into()),
    };
    let (user, _) = accounts::setup(&services.db, owner, now).await.unwrap();
    let (token, _) =
        sessions::create(&services.db, &user.id, &sessions::Origin::default(), now).await.unwrap();
    format!("{}={token}", server::auth::SESSION_COOKIE)
}

/// A request from the app's own pages: the session cookie, and for writes the same-origin
/// `Origin` the CSRF rule asks for.
fn from_page(builder: axum::http::request::Builder, cookie: &str) -> axum::http::request::Builder {
    builder
        .header(header::HOST, "localhost")
        .header(header::ORIGIN, "http://localhost")
        .header(header::COOKIE, cookie)
}

async fn get_signed_in(router: &Router, uri: &str, cookie: &str) -> Reply {
    let request = from_page(Request::get(uri), cookie).header(header::ACCEPT, "text/html");
    send(router, request.body(Body::empty()).unwrap()).await
}

/// Calls a server function the way the hydrated page does.
async fn server_fn(router: &Router, path: &str, form: &str, cookie: Option<&str>) -> Reply {
    let builder = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json");
    let builder = match cookie {
        Some(cookie) => from_page(builder, cookie),
        None => builder,
    };
    send(router, builder.body(Body::from(form.to_owned())).unwrap()).await
}

#[tokio::test]
async fn healthz_answers_while_the_process_is_up() {
    let app = app().await;
    let reply = get(&app.router, "/healthz").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), serde_json::json!({ "status": "ok" }));
}

#[tokio::test]
async fn readyz_follows_the_database() {
    let app = app().await;
    let ready = get(&app.router, "/readyz").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json()["database"], "ok");

    app.state.services.db.close().await;
    let down = get(&app.router, "/readyz").await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    let error = &down.json()["error"];
    assert_eq!(error["code"], "unavailable");
    assert!(error["message"].as_str().unwrap().contains("database"), "{error}");
}

#[tokio::test]
async fn unknown_api_routes_answer_with_the_json_error_envelope() {
    let app = app().await;
    let reply = get(&app.router, "/api/v1/app/nothing-here").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
    let body = reply.json();
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(body["error"]["message"], "No such API endpoint.");
    assert_eq!(body["error"]["request_id"], reply.headers["x-request-id"].to_str().unwrap());
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = app().await;
    let minted = get(&app.router, "/healthz").await;
    let id = minted.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);

    let kept = send(
        &app.router,
        Request::get("/healthz").header("x-request-id", "lb-42.a_b").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(kept.headers["x-request-id"], "lb-42.a_b");

    let hostile = "x".repeat(65);
    let replaced = send(
        &app.router,
        Request::get("/healthz").header("x-request-id", &hostile).body(Body::empty()).unwrap(),
    )
    .await;
    assert_ne!(replaced.headers["x-request-id"], hostile.as_str());
}

#[tokio::test]
async fn the_overview_is_server_rendered_with_real_figures() {
    let app = app().await;
    let cookie = sign_in_owner(&app).await;
    let fresh = get_signed_in(&app.router, "/calling", &cookie).await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert!(fresh.body.contains("<title>Calling · Switchboard</title>"), "{}", fresh.body);
    assert!(fresh.body.contains(r#"data-hydrated="false""#));
    assert!(fresh.body.contains("No calls yet."));
    assert!(fresh.body.contains("/pkg/switchboard.js"), "hydration scripts missing");

    let db = &app.state.services.db;
    let now = app.state.services.clock.now();
    let acme = workspace::first(db).await.unwrap().expect("the owner's workspace");
    for (status, duration) in [(CallStatus::Completed, Some(95)), (CallStatus::Missed, None)] {
        let call = NewCall {
            workspace_id: acme.id.clone(),
            wa_call_id: Some(format!("wacid.{}", status.as_str())),
            phone_number_id: "1".into(),
            direction: Direction::UserInitiated,
            status,
            contact_number: "+447700900123".into(),
            contact_name: Some("Priya Shah".into()),
            business_number: "+44 20 7946 0000".into(),
            started_at: now - 1_000,
            answered_at: duration.map(|_| now - 900),
            ended_at: Some(now),
            duration_seconds: duration,
            cost_micros: 0,
        };
        calls::record(db, &call).await.unwrap();
    }
    let page = get_signed_in(&app.router, "/calling", &cookie).await;
    let text = strip_markers(&page.body);
    assert!(text.contains(r#"<dd data-stat="Calls">2</dd>"#), "{text}");
    assert!(text.contains(r#"<dd data-stat="Answer rate">50%</dd>"#), "{text}");
    assert!(text.contains(r#"<dd data-stat="Average duration">1:35</dd>"#), "{text}");
    assert!(text.contains("Priya Shah") && text.contains("+447700900123"), "{text}");
}

#[tokio::test]
async fn every_section_has_its_route_and_title() {
    let app = app().await;
    let cookie = sign_in_owner(&app).await;
    for (path, title) in [
        ("/calling/calls", "Calls"),
        ("/calling/templates", "Templates"),
        ("/calling/settings", "Settings"),
        ("/calling/analytics", "Analytics"),
        ("/calling/permissions", "Permissions"),
    ] {
        let reply = get_signed_in(&app.router, path, &cookie).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(
            reply.body.contains(&format!("<title>{title} · Switchboard</title>")),
            "{path}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn unknown_pages_are_404_html() {
    let app = app().await;
    let cookie = sign_in_owner(&app).await;
    let reply = get_signed_in(&app.router, "/calling/does-not-exist", &cookie).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.body.contains("Page not found"));
}

#[tokio::test]
async fn the_overview_server_function_answers_over_http() {
    let app = app().await;
    let cookie = sign_in_owner(&app).await;
    let reply = server_fn(&app.router, app::api::GetOverview::PATH, "period=seven_days", Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let card = reply.json();
    assert_eq!(card["overview"]["period"], "seven_days");
    assert_eq!(card["overview"]["calls"], 0);
    assert_eq!(card["workspace"], "Acme Support");
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_sign_in_and_the_data_stays_behind_it() {
    let app = app().await;
    // A fresh install has nobody to sign in: the dashboard sends its first visitor to setup.
    let fresh = get(&app.router, "/calling/analytics").await;
    assert_eq!(fresh.status, StatusCode::FOUND, "{}", fresh.body);
    assert_eq!(fresh.headers[header::LOCATION], "/setup");

    let cookie = sign_in_owner(&app).await;
    let anonymous = get(&app.router, "/calling/calls?status=missed").await;
    assert_eq!(anonymous.status, StatusCode::FOUND);
    assert_eq!(anonymous.headers[header::LOCATION], "/login?next=/calling/calls%3Fstatus%3Dmissed");
    assert_eq!(get(&app.router, "/setup").await.headers[header::LOCATION], "/login");
    assert_eq!(get_signed_in(&app.router, "/login", &cookie).await.headers[header::LOCATION], "/calling");

    // Every server function with data refuses without a session, and with a session whose
    // write lacks the page's Origin (CSRF).
    let calls = [
        (app::api::GetOverview::PATH, "period=today"),
        (app::api::GetAnalytics::PATH, "period=today"),
        (app::api::GetCall::PATH, "id=nope"),
        (app::api::LookupPermission::PATH, "phone=%2B447700900123"),
        (app::api::ListPermissions::PATH, ""),
        (app::api::SimulateInboundCall::PATH, "from=%2B447700900123&name=&cta_payload="),
    ];
    for (path, form) in calls {
        let reply = server_fn(&app.router, path, form, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}: {}", reply.body);
        assert!(reply.body.contains("sign in"), "{path}: {}", reply.body);
        let foreign = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, "localhost")
            .header(header::ORIGIN, "https://evil.example")
            .header(header::COOKIE, &cookie)
            .body(Body::from(form))
            .unwrap();
        assert_eq!(send(&app.router, foreign).await.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let list = Request::post(app::api::ListCalls::PATH)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"filter":{}}"#))
        .unwrap();
    assert_eq!(send(&app.router, list).await.status, StatusCode::UNAUTHORIZED);

    // Who is visiting is the one public question.
    let visitor = server_fn(&app.router, app::api::CurrentVisitor::PATH, "", None).await;
    assert_eq!(visitor.status, StatusCode::OK);
    assert_eq!(visitor.json(), serde_json::json!({ "SignedOut": { "setup_needed": false } }));
    let visitor = server_fn(&app.router, app::api::CurrentVisitor::PATH, "", Some(&cookie)).await;
    assert_eq!(visitor.json()["SignedIn"]["workspace"], "Acme Support");
    assert_eq!(visitor.json()["SignedIn"]["role"], "owner");
}

/// Leptos marks hydration boundaries with HTML comments; the assertions care about content.
fn strip_markers(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        rest = rest[start..].find("-->").map_or("", |end| &rest[start + end + 3..]);
    }
    out.push_str(rest);
    out.replace("<!>", "")
}
