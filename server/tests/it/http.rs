//! The HTTP surface, driven through `router(state)` without a socket: probes, the JSON error
//! envelope, request ids, the server-rendered `/calling` pages and their server functions.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
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

async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.expect("router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    Reply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

async fn get(router: &Router, uri: &str) -> Reply {
    send(router, Request::get(uri).body(Body::empty()).unwrap()).await
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
    let fresh = get(&app.router, "/calling").await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert!(fresh.body.contains("<title>Calling · Switchboard</title>"), "{}", fresh.body);
    assert!(fresh.body.contains(r#"data-hydrated="false""#));
    assert!(fresh.body.contains("No calls yet."));
    assert!(fresh.body.contains("/pkg/switchboard.js"), "hydration scripts missing");

    let db = &app.state.services.db;
    let now = app.state.services.clock.now();
    let acme = workspace::create(db, "Acme", now).await.unwrap();
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
    let page = get(&app.router, "/calling").await;
    let text = strip_markers(&page.body);
    assert!(text.contains(r#"<dd data-stat="Calls">2</dd>"#), "{text}");
    assert!(text.contains(r#"<dd data-stat="Answer rate">50%</dd>"#), "{text}");
    assert!(text.contains(r#"<dd data-stat="Average duration">1:35</dd>"#), "{text}");
    assert!(text.contains("Priya Shah") && text.contains("+447700900123"), "{text}");
}

#[tokio::test]
async fn every_section_has_its_route_and_title() {
    let app = app().await;
    for (path, title) in [
        ("/calling/calls", "Calls"),
        ("/calling/templates", "Templates"),
        ("/calling/settings", "Settings"),
        ("/calling/analytics", "Analytics"),
        ("/calling/permissions", "Permissions"),
    ] {
        let reply = get(&app.router, path).await;
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
    let reply = get(&app.router, "/calling/does-not-exist").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.body.contains("Page not found"));
}

#[tokio::test]
async fn the_overview_server_function_answers_over_http() {
    let app = app().await;
    let request = Request::post(app::api::GetOverview::PATH)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(Body::from("period=seven_days"))
        .unwrap();
    let reply = send(&app.router, request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let card = reply.json();
    assert_eq!(card["overview"]["period"], "seven_days");
    assert_eq!(card["overview"]["calls"], 0);
    assert_eq!(card["workspace"], Value::Null);
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
