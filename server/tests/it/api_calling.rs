//! `/api/v1/app/calling/*` over real HTTP with API keys: the page's data for integrators,
//! role checks, tenant isolation and JSON errors.

use crate::support;

use calling::accounts::{Role, api_keys};
use calling::workspace;
use reqwest::StatusCode;
use serde_json::Value;
use simulator::InboundCall;
use support::{Sandbox, eventually};

struct Api {
    base: String,
    key: String,
    client: reqwest::Client,
}

impl Api {
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let reply = self
            .client
            .get(format!("{}/api/v1/app/calling{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        let status = reply.status();
        (status, reply.json().await.unwrap())
    }
}

async fn api(sandbox: &Sandbox, workspace_id: &str, role: Role) -> Api {
    let services = sandbox.services();
    let (key, _) = api_keys::create(&services.db, workspace_id, "tests", role, "test", services.clock.now())
        .await
        .unwrap();
    Api { base: sandbox.server.url.clone(), key, client: reqwest::Client::new() }
}

#[tokio::test]
async fn the_calling_api_serves_the_pages_data_to_api_keys() {
    let sandbox = Sandbox::start(|_| {}).await;
    let viewer = api(&sandbox, &sandbox.workspace.id, Role::Viewer).await;
    let wa_call_id = sandbox
        .sim
        .sim
        .place_inbound_call(InboundCall {
            to: sandbox.business.phone_number_id.clone(),
            from: "+447700900170".into(),
            name: Some("API Caller".into()),
            cta_payload: Some("api-1".into()),
            deeplink_payload: None,
        })
        .unwrap();
    sandbox.sim.sim.hangup(&wa_call_id).unwrap();
    let (_, page) = eventually(10, "the call in the API", || async {
        let (status, page) = viewer.get("/calls?status=missed").await;
        (page["calls"].as_array().is_some_and(|calls| calls.len() == 1)).then_some((status, page))
    })
    .await;
    let call = &page["calls"][0];
    assert_eq!(call["contact_number"], "+447700900170");
    assert_eq!(page["next_cursor"], Value::Null);
    let call_id = call["id"].as_str().unwrap().to_owned();
    // The seed's spellings: a missed call was sent, not delivered.
    for (status, count) in [("sent", 1), ("delivered", 0), ("failed", 0)] {
        let (_, page) = viewer.get(&format!("/calls?status={status}")).await;
        assert_eq!(page["calls"].as_array().unwrap().len(), count, "{status}: {page}");
    }
    let (status, refused) = viewer.get("/calls?status=lost").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused["error"]["message"].as_str().unwrap().contains("delivered"), "{refused}");

    let (status, detail) = viewer.get(&format!("/calls/{call_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["cta_payload"], "api-1");
    assert_eq!(detail["timeline"].as_array().unwrap().len(), 2);

    let (_, now) = viewer.get(&format!("/calls/{call_id}/status")).await;
    assert_eq!(
        (now["status"].as_str(), now["last_event"].as_str()),
        (Some("missed"), Some("terminate_received"))
    );

    let (status, overview) = viewer.get("/overview?period=7d").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(overview["overview"]["calls"], 1);
    assert_eq!(overview["numbers"][0]["is_sandbox"], true);

    let (_, lookup) = viewer.get("/permission-status?phone=%2B447700900170").await;
    assert_eq!(lookup["view"]["status"]["status"], "no_permission");
    assert_eq!(lookup["call_refusal"]["reason"], "no_permission");
    let (_, granted) = viewer.get("/permissions").await;
    assert_eq!(granted["permissions"], serde_json::json!([]));
    // The call deep link and its QR code.
    let (status, link) = viewer.get("/deep-link?payload=poster%20lobby").await;
    assert_eq!(status, StatusCode::OK, "{link}");
    let digits = sandbox.number.e164.trim_start_matches('+').to_owned();
    assert_eq!(link["url"], format!("https://wa.me/call/{digits}?biz_payload=poster%20lobby"));
    assert!(link["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let (status, refused) = viewer.get(&format!("/deep-link?payload={}", "x".repeat(257))).await;
    assert_eq!(
        (status, refused["error"]["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("payload"))
    );
    let (status, settings) = viewer.get("/settings").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(settings["numbers"][0]["phone_number_id"], sandbox.business.phone_number_id);
}

#[tokio::test]
async fn bad_input_missing_keys_and_other_workspaces_get_json_errors() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let viewer = api(&sandbox, &sandbox.workspace.id, Role::Viewer).await;
    for (path, field) in [
        ("/calls?status=lost", "status"),
        ("/calls?limit=0", "limit"),
        ("/calls?cursor=garbage", "cursor"),
        ("/overview?period=90d", "period"),
        ("/permission-status", "phone"),
        ("/permission-status?phone=12", "phone_number"),
        ("/calls?from=yesterday", "query"),
    ] {
        let (status, body) = viewer.get(path).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert_eq!(body["error"]["code"], "validation_failed", "{path}");
        assert_eq!(body["error"]["details"]["field"], field, "{path}: {body}");
    }

    let anonymous = Api { key: "nope".into(), ..api(&sandbox, &sandbox.workspace.id, Role::Viewer).await };
    let (status, body) = anonymous.get("/calls").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // A key of another workspace sees none of this workspace's calls.
    let other = workspace::create(&services.db, "Other Co", services.clock.now()).await.unwrap();
    let outsider = api(&sandbox, &other.id, Role::Owner).await;
    let wa_call_id = sandbox
        .sim
        .sim
        .place_inbound_call(InboundCall {
            to: sandbox.business.phone_number_id.clone(),
            from: "+447700900171".into(),
            name: None,
            cta_payload: None,
            deeplink_payload: None,
        })
        .unwrap();
    let call_id = eventually(10, "the call", || async {
        let (_, page) = viewer.get("/calls").await;
        page["calls"][0]["id"].as_str().map(str::to_owned)
    })
    .await;
    let _ = wa_call_id;
    let (_, theirs) = outsider.get("/calls").await;
    assert_eq!(theirs["calls"], serde_json::json!([]));
    let (status, body) = outsider.get(&format!("/calls/{call_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.to_string().contains("447700900171"), "no data leaks: {body}");
    let (status, _) = outsider.get("/permissions").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the other workspace has no number");
}

#[tokio::test]
async fn numbers_are_connected_tested_and_never_leak_credentials() {
    let sandbox = Sandbox::start(|_| {}).await;
    let admin = api(&sandbox, &sandbox.workspace.id, Role::Admin).await;
    let viewer = api(&sandbox, &sandbox.workspace.id, Role::Viewer).await;
    let url = format!("{}/api/v1/app/numbers", sandbox.server.url);
    let body = serde_json::json!({
        "phone_number_id": "100000000000009", "waba_id": "200000000000001",
        "phone_number": "+44 7700 900009", "access_token": "EAAG-secret-token",
        "app_secret": "app-secret-value", "verify_token": "verify-value",
        "graph_api_base_url": format!("http://{}", sandbox.sim.address),
    });
    let post = |key: &str, body: &Value| admin.client.post(&url).bearer_auth(key).json(body).send();

    let refused = post(&viewer.key, &body).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let mut bad = body.clone();
    bad["waba_id"] = "WABA-1".into();
    let invalid = post(&admin.key, &bad).await.unwrap();
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.json::<Value>().await.unwrap()["error"]["details"]["field"], "waba_id");

    let created = post(&admin.key, &body).await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let text = created.text().await.unwrap();
    for secret in ["EAAG-secret-token", "app-secret-value", "verify-value"] {
        assert!(!text.contains(secret), "a credential leaked: {text}");
    }
    let number: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((number["e164"].as_str(), number["country"].as_str()), (Some("+447700900009"), Some("GB")));
    let again = post(&admin.key, &body).await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);

    let listed: Value =
        admin.client.get(&url).bearer_auth(&viewer.key).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["numbers"].as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains("secret"), "{listed}");

    // The harness's number works; the new one was given a token WhatsApp rejects (Meta's 190).
    let test = |id: String| admin.client.post(format!("{url}/{id}/test")).bearer_auth(&admin.key).send();
    let ok = test(sandbox.number.id.clone()).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.json::<Value>().await.unwrap()["ok"], true);
    let unknown = test(number["id"].as_str().unwrap().to_owned()).await.unwrap();
    let status = unknown.status();
    let error: Value = unknown.json().await.unwrap();
    assert!(status.is_client_error() || status.is_server_error(), "{status}");
    assert_eq!(error["error"]["details"]["meta_code"], 190, "{error}");
    assert_eq!(error["error"]["code"], "whatsapp_error");
}

#[tokio::test]
async fn settings_are_changed_through_the_api_and_estimates_answer_before_spending() {
    let sandbox = Sandbox::start(|_| {}).await;
    let admin = api(&sandbox, &sandbox.workspace.id, Role::Admin).await;
    let agent = api(&sandbox, &sandbox.workspace.id, Role::Agent).await;
    let url = format!("{}/api/v1/app/calling/settings", sandbox.server.url);
    let hours = serde_json::json!({ "settings": {
        "status": "ENABLED",
        "callback_permission_status": "ENABLED",
        "call_hours": { "status": "ENABLED", "timezone_id": "Asia/Kolkata",
            "weekly_operating_hours": [{ "day_of_week": "MONDAY", "open_time": "0900", "close_time": "1800" }] }
    }});
    let put = |key: &str, body: &Value| admin.client.put(&url).bearer_auth(key).json(body).send();

    assert_eq!(put(&agent.key, &hours).await.unwrap().status(), StatusCode::FORBIDDEN);
    let mut overlapping = hours.clone();
    overlapping["settings"]["call_hours"]["weekly_operating_hours"] = serde_json::json!([
        { "day_of_week": "MONDAY", "open_time": "0900", "close_time": "1300" },
        { "day_of_week": "MONDAY", "open_time": "1200", "close_time": "1800" }
    ]);
    let refused = put(&admin.key, &overlapping).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (_, before) = admin.get("/settings").await;
    assert_eq!(before["numbers"][0]["desired"], Value::Null, "nothing half-written");

    let saved = put(&admin.key, &hours).await.unwrap();
    assert_eq!(saved.status(), StatusCode::OK);
    let saved: Value = saved.json().await.unwrap();
    assert_eq!(saved["desired"]["call_hours"]["timezone_id"], "Asia/Kolkata");
    assert_eq!(saved["drift"], serde_json::json!([]));

    let (status, call) = agent.get("/estimate?to=%2B919876543210").await;
    assert_eq!(status, StatusCode::OK, "{call}");
    assert!(call["amount"].as_i64().unwrap() > 0 && call["units"].as_i64().unwrap() > 0, "{call}");
    let (status, send) = agent.get("/estimate?message=calling_template").await;
    assert_eq!(status, StatusCode::OK, "{send}");
    assert_eq!(send["units"], 1);
    let (status, bad) = agent.get("/estimate?message=fax").await;
    assert_eq!(
        (status, bad["error"]["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("message"))
    );
}

#[tokio::test]
async fn billing_shows_the_wallet_to_those_who_may_see_it_and_exports_expenses() {
    use calling::billing::{Micros, wallet};
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let viewer = api(&sandbox, &sandbox.workspace.id, Role::Viewer).await;
    let agent = api(&sandbox, &sandbox.workspace.id, Role::Agent).await;
    let get = |key: &str, path: &str| {
        viewer.client.get(format!("{}/api/v1/app/billing{path}", sandbox.server.url)).bearer_auth(key).send()
    };
    assert_eq!(get(&agent.key, "").await.unwrap().status(), StatusCode::FORBIDDEN);

    let empty: Value = get(&viewer.key, "").await.unwrap().json().await.unwrap();
    assert_eq!(
        (empty["wallet"]["balance"].as_i64(), empty["available"].as_i64()),
        (Some(0), Some(0)),
        "{empty}"
    );
    assert_eq!(empty["subscription"], Value::Null);

    wallet::top_up(
        &services.db,
        &sandbox.workspace.id,
        "topup-1",
        Micros(25_000_000),
        None,
        services.clock.now(),
    )
    .await
    .unwrap();
    let funded: Value = get(&viewer.key, "").await.unwrap().json().await.unwrap();
    assert_eq!(funded["available"], 25_000_000);
    let lines: Value = get(&viewer.key, "/expenses").await.unwrap().json().await.unwrap();
    assert_eq!(lines["lines"].as_array().unwrap().len(), 1, "{lines}");
    let csv = get(&viewer.key, "/expenses.csv").await.unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    assert!(text.lines().count() >= 2 && text.contains("topup"), "{text}");
}
