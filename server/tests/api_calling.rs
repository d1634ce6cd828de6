//! `/api/v1/app/calling/*` over real HTTP with API keys: the page's data for integrators,
//! role checks, tenant isolation and JSON errors.

mod support;

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
        ("/calls?status=sent", "status"),
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
