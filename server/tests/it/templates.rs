//! `/api/v1/app/calling/templates…` and `/send` over real HTTP with API keys, against the
//! simulator: both template kinds, the default per kind, deletion (at WhatsApp first; nothing
//! deleted when WhatsApp refuses or cannot be reached), Meta's review status webhooks, sends
//! (sandbox: free; a billed number: 402 with the seed's codes before WhatsApp, charged once
//! sent), validation errors naming the field, 404 for unknown and foreign templates, 403 for
//! roles, 401 without a key, the audit log; and the seed's CLI workflow "send the default
//! call-button template to every lead".

use crate::support;

use std::process::Command;

use calling::accounts::{Role, api_keys};
use calling::billing::{Micros, SubscriptionStatus, subscription, wallet};
use calling::workspace;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::Sandbox;

const DAY: i64 = 24 * 60 * 60 * 1000;

struct Api {
    base: String,
    key: Option<String>,
    client: reqwest::Client,
}

impl Api {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}/api/v1/app/calling{path}", self.base));
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.unwrap();
        let status = reply.status();
        (status, reply.json().await.unwrap())
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
}

async fn api(sandbox: &Sandbox, workspace_id: &str, role: Role) -> Api {
    let services = sandbox.services();
    let (key, _) = api_keys::create(&services.db, workspace_id, "tests", role, "test", services.clock.now())
        .await
        .unwrap();
    Api { base: sandbox.server.url.clone(), key: Some(key), client: reqwest::Client::new() }
}

/// `(status, error.code, error.details.field)` of a refusal.
fn refusal(reply: &(StatusCode, Value)) -> (StatusCode, &str, &str) {
    let error = &reply.1["error"];
    (reply.0, error["code"].as_str().unwrap_or(""), error["details"]["field"].as_str().unwrap_or(""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_are_created_listed_switched_and_deleted_through_the_api() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let admin = api(&sandbox, &sandbox.workspace.id, Role::Admin).await;
    let agent = api(&sandbox, &sandbox.workspace.id, Role::Agent).await;
    let viewer = api(&sandbox, &sandbox.workspace.id, Role::Viewer).await;

    // The seed's examples.
    let (status, support_cb) = admin
        .post(
            "/templates/call-button",
            json!({ "name": "support_cb", "label": "Call support", "phone_number": "+919876543210" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{support_cb}");
    assert_eq!(
        (&support_cb["type"], &support_cb["target"], &support_cb["phone_number"], &support_cb["is_default"]),
        (&json!("call_button"), &json!("phone_number"), &json!("+919876543210"), &json!(true))
    );
    assert_eq!(support_cb["status"], "approved");
    assert_eq!(support_cb["language"], "en_US");
    let (status, ask) = admin
        .post("/templates/permission", json!({ "name": "ask_perm", "body": "Tap to allow us to call you" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ask}");
    assert_eq!((&ask["type"], &ask["is_default"]), (&json!("permission"), &json!(true)));
    let (status, wa_cb) = admin
        .post(
            "/templates/call-button",
            json!({ "name": "wa_cb", "body": "Hi {{1}}, call us about {{2}}", "examples": ["Ada", "ORD-1"],
                    "ttl_minutes": 1440, "label": "Call on WhatsApp" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{wa_cb}");
    assert_eq!(
        (&wa_cb["target"], &wa_cb["ttl_minutes"], &wa_cb["is_default"]),
        (&json!("whatsapp_call"), &json!(1440), &json!(false))
    );
    let wa_id = wa_cb["template_id"].as_str().unwrap().to_owned();

    // Validation errors name the field; nothing is stored.
    for (path, body, field) in [
        ("/templates/call-button", json!({ "name": "Bad Name" }), "name"),
        ("/templates/call-button", json!({ "label": "x" }), "name"),
        ("/templates/call-button", json!({ "name": "a", "label": "123456789012345678901" }), "label"),
        ("/templates/call-button", json!({ "name": "a", "ttl_minutes": 60 }), "ttl_minutes"),
        ("/templates/call-button", json!({ "name": "a", "phone_number": "call me" }), "phone_number"),
        ("/templates/call-button", json!({ "name": "a", "url": "example.com" }), "url"),
        ("/templates/call-button", json!({ "name": "a", "ttl_minutes": "soon" }), "body"),
        ("/templates/permission", json!({ "name": "a" }), "body"),
        ("/templates/permission", json!({ "name": "a", "body": "b", "footer": "f".repeat(61) }), "footer"),
        ("/templates/permission", json!({ "name": "a", "body": "Hi {{1}}" }), "examples"),
    ] {
        let reply = admin.post(path, body.clone()).await;
        assert_eq!(refusal(&reply), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", field), "{body}");
    }
    let reply = admin.post("/templates/call-button", json!({ "name": "support_cb" })).await;
    assert_eq!(refusal(&reply), (StatusCode::CONFLICT, "template_exists", ""));

    // Everyone who sees settings lists; only managers create, switch and delete.
    let (status, listed) = viewer.get("/templates").await;
    assert_eq!(status, StatusCode::OK);
    let listed = listed["templates"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|t| t["template_id"].is_string() && t["status"] == "approved"));
    let defaults: Vec<&str> =
        listed.iter().filter(|t| t["is_default"] == true).map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(defaults.len(), 2);
    assert!(defaults.contains(&"support_cb") && defaults.contains(&"ask_perm"));
    let (status, one) = agent.get(&format!("/templates/{wa_id}")).await;
    assert_eq!((status, &one["name"]), (StatusCode::OK, &json!("wa_cb")));
    for reply in [
        agent.post("/templates/permission", json!({ "name": "x", "body": "y" })).await,
        agent.post(&format!("/templates/{wa_id}/set-default"), json!({})).await,
        agent.call(Method::DELETE, &format!("/templates/{wa_id}"), None).await,
        viewer
            .post("/send", json!({ "template_id": wa_id, "to": "+919876543210", "vars": ["a", "b"] }))
            .await,
    ] {
        assert_eq!(refusal(&reply).0, StatusCode::FORBIDDEN, "{}", reply.1);
    }

    let (status, switched) = admin.post(&format!("/templates/{wa_id}/set-default"), json!({})).await;
    assert_eq!((status, &switched["is_default"]), (StatusCode::OK, &json!(true)));
    let (_, listed) = viewer.get("/templates").await;
    let cb_defaults: Vec<&Value> = listed["templates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] == "call_button" && t["is_default"] == true)
        .collect();
    assert_eq!(cb_defaults.len(), 1);
    assert_eq!(cb_defaults[0]["template_id"], json!(wa_id));

    // Unknown, foreign, unauthenticated.
    let other = workspace::create(&services.db, "Other Co", services.clock.now()).await.unwrap();
    let outsider = api(&sandbox, &other.id, Role::Owner).await;
    for reply in [
        admin.get("/templates/nope").await,
        outsider.get(&format!("/templates/{wa_id}")).await,
        outsider.post(&format!("/templates/{wa_id}/set-default"), json!({})).await,
        outsider.call(Method::DELETE, &format!("/templates/{wa_id}"), None).await,
    ] {
        assert_eq!(refusal(&reply), (StatusCode::NOT_FOUND, "not_found", ""), "{}", reply.1);
    }
    assert_eq!(outsider.get("/templates").await.1["templates"], json!([]));
    let anonymous = Api { key: None, ..api(&sandbox, &sandbox.workspace.id, Role::Viewer).await };
    assert_eq!(refusal(&anonymous.get("/templates").await).0, StatusCode::UNAUTHORIZED);
    assert_eq!(refusal(&anonymous.post("/send", json!({})).await).0, StatusCode::UNAUTHORIZED);

    // Deleting the default hands it on.
    let (status, deleted) = admin.call(Method::DELETE, &format!("/templates/{wa_id}"), None).await;
    assert_eq!((status, &deleted["deleted"]), (StatusCode::OK, &json!(true)));
    assert_eq!(refusal(&admin.get(&format!("/templates/{wa_id}")).await).0, StatusCode::NOT_FOUND);
    let (_, listed) = viewer.get("/templates").await;
    assert_eq!(listed["templates"].as_array().unwrap().len(), 2);
    assert!(listed["templates"].as_array().unwrap().iter().all(|t| t["is_default"] == true));

    // Every write is in the audit log.
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT action FROM audit_log WHERE workspace_id = $1 AND action LIKE 'template.%'")
            .bind(&sandbox.workspace.id)
            .fetch_all(services.db.pool())
            .await
            .unwrap();
    let mut actions: Vec<String> = rows.into_iter().map(|(action,)| action).collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "template.created",
            "template.created",
            "template.created",
            "template.default_set",
            "template.deleted"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_go_through_validation_billing_and_whatsapp() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let admin = api(&sandbox, &sandbox.workspace.id, Role::Admin).await;
    let agent = api(&sandbox, &sandbox.workspace.id, Role::Agent).await;
    let (_, cb) = admin
        .post(
            "/templates/call-button",
            json!({ "name": "order_cb", "body": "Hi {{1}}, about {{2}}", "examples": ["Ada", "ORD-1"] }),
        )
        .await;
    let cb_id = cb["template_id"].as_str().unwrap().to_owned();

    // The seed's send: `calling send <id> --to +91… --vars '["John","ORD-1024"]'`. Sandbox: free.
    let (status, sent) = agent
        .post(
            "/send",
            json!({ "template_id": cb_id, "to": "+919876543210", "vars": ["John", "ORD-1024"],
                                "payload": "lead-7" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert!(sent["wa_message_id"].as_str().unwrap().starts_with("wamid."));
    assert_eq!(
        (&sent["cost_micros"], &sent["to"], &sent["type"]),
        (&json!(0), &json!("+919876543210"), &json!("call_button"))
    );
    assert_eq!(sent["vars"], json!(["John", "ORD-1024"]));

    for (body, status, code, field) in [
        (
            json!({ "to": "+919876543210" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "template_id",
        ),
        (
            json!({ "template_id": cb_id, "vars": ["a", "b"] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "to",
        ),
        (
            json!({ "template_id": cb_id, "to": "12", "vars": ["a", "b"] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "to",
        ),
        (
            json!({ "template_id": cb_id, "to": "+919876543210", "vars": ["a"] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "vars",
        ),
        (
            json!({ "template_id": cb_id, "to": "+919876543210", "vars": ["a", "b\tc"] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "vars.2",
        ),
        (
            json!({ "template_id": cb_id, "to": "+919876543210", "vars": ["a", "b"], "ttl_minutes": 0 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "ttl_minutes",
        ),
        (json!({ "template_id": "nope", "to": "+919876543210" }), StatusCode::NOT_FOUND, "not_found", ""),
    ] {
        let reply = agent.post("/send", body.clone()).await;
        assert_eq!(refusal(&reply), (status, code, field), "{body}");
    }
    let other = workspace::create(&services.db, "Other Co", services.clock.now()).await.unwrap();
    let outsider = api(&sandbox, &other.id, Role::Owner).await;
    let reply = outsider
        .post("/send", json!({ "template_id": cb_id, "to": "+919876543210", "vars": ["a", "b"] }))
        .await;
    assert_eq!(refusal(&reply), (StatusCode::NOT_FOUND, "not_found", ""));

    // A billed number: 402 with the seed's codes before WhatsApp, then a charged send.
    sqlx::query("UPDATE whatsapp_numbers SET is_sandbox = 0 WHERE id = $1")
        .bind(&sandbox.number.id)
        .execute(services.db.pool())
        .await
        .unwrap();
    let body = json!({ "template_id": cb_id, "to": "+919876543211", "vars": ["John", "ORD-1025"] });
    let reply = agent.post("/send", body.clone()).await;
    assert_eq!(refusal(&reply), (StatusCode::PAYMENT_REQUIRED, "subscription_expired", ""), "{}", reply.1);
    let ws = &sandbox.workspace.id;
    let now = services.clock.now();
    subscription::set(&services.db, ws, "usage", SubscriptionStatus::Active, now + 30 * DAY, now)
        .await
        .unwrap();
    let reply = agent.post("/send", body.clone()).await;
    assert_eq!(refusal(&reply), (StatusCode::PAYMENT_REQUIRED, "insufficient_balance", ""), "{}", reply.1);
    assert!(reply.1["error"]["details"]["required_micros"].as_i64().unwrap() > 0);
    let (sends,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM calling_template_sends WHERE workspace_id = $1")
            .bind(ws)
            .fetch_one(services.db.pool())
            .await
            .unwrap();
    assert_eq!(sends, 1, "refused sends record nothing");

    let funds = Micros::from_units(1).unwrap();
    wallet::top_up(&services.db, ws, "pay-1", funds, None, now).await.unwrap();
    let (status, sent) = agent.post("/send", body).await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    let cost = sent["cost_micros"].as_i64().unwrap();
    assert!(cost > 0);
    assert_eq!(
        wallet::get(&services.db, ws).await.unwrap().balance,
        funds.checked_sub(Micros(cost)).unwrap()
    );
}

const BINARY: &str = env!("CARGO_BIN_EXE_switchboard");

fn calling(url: &str, key: &str, args: &[&str]) -> (bool, Value, String) {
    let output = Command::new(BINARY)
        .arg("calling")
        .args(args)
        .env("SWITCHBOARD_URL", url)
        .env("SWITCHBOARD_API_KEY", key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (output.status.success(), json, String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_manages_templates_and_sends_the_default_to_every_lead() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let (key, _) = api_keys::create(
        &services.db,
        &sandbox.workspace.id,
        "cli",
        Role::Admin,
        "test",
        services.clock.now(),
    )
    .await
    .unwrap();
    let url = sandbox.server.url.clone();
    tokio::task::spawn_blocking(move || {
        let (ok, created, err) = calling(
            &url,
            &key,
            &[
                "template",
                "create-call-button",
                "--name",
                "support_cb",
                "--label",
                "Call support",
                "--phone-number",
                "+919876543210",
            ],
        );
        assert!(ok, "{err}");
        assert_eq!(created["is_default"], true);
        let (ok, ask, err) = calling(
            &url,
            &key,
            &[
                "template",
                "create-permission",
                "--name",
                "ask_perm",
                "--body",
                "Hi {{1}}, may we call?",
                "--example",
                "Ada",
                "--footer",
                "Acme",
            ],
        );
        assert!(ok, "{err}");
        let ask_id = ask["template_id"].as_str().unwrap().to_owned();

        // `TPL=$(calling templates | jq -r '.templates[] | select(.is_default) | .template_id')`, per kind.
        let (ok, listed, _) = calling(&url, &key, &["templates"]);
        assert!(ok);
        let tpl = listed["templates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["is_default"] == true && t["type"] == "call_button")
            .unwrap()["template_id"]
            .as_str()
            .unwrap()
            .to_owned();
        // `… | xargs -I{} calling send "$TPL" --to {}`
        for lead in ["+919876543210", "+919876543212"] {
            let (ok, sent, err) = calling(&url, &key, &["send", &tpl, "--to", lead]);
            assert!(ok, "{err}");
            assert_eq!(sent["to"], lead);
        }
        let (ok, sent, err) = calling(
            &url,
            &key,
            &["send", "--template-id", &ask_id, "--to", "+919876543213", "--var", "1=Ada"],
        );
        assert!(ok, "{err}");
        assert_eq!(sent["vars"], json!(["Ada"]));

        let (ok, shown, _) = calling(&url, &key, &["template", &ask_id]);
        assert!(ok && shown["footer"] == "Acme");
        let (ok, same, _) = calling(&url, &key, &["template", "get", &ask_id]);
        assert!(ok && same == shown);
        let (ok, switched, _) = calling(&url, &key, &["template", "set-default", &ask_id]);
        assert!(ok && switched["is_default"] == true);
        let (ok, deleted, _) = calling(&url, &key, &["template", "delete", &ask_id]);
        assert!(ok && deleted["deleted"] == true);

        // Errors: stderr, non-zero exit, nothing on stdout.
        let (ok, body, err) = calling(&url, &key, &["template", &ask_id]);
        assert!(!ok && body.is_null());
        assert!(err.contains("not_found") && err.contains("HTTP 404"), "{err}");
        let (ok, _, err) =
            calling(&url, &key, &["template", "create-call-button", "--name", "x", "--ttl-minutes", "5"]);
        assert!(!ok && err.contains("validation_failed") && err.contains("ttl_minutes"), "{err}");
        let (ok, _, err) = calling(&url, &key, &["send", &tpl, "--to", "+919876543210", "--var", "oops"]);
        assert!(!ok && err.contains("N=VALUE"), "{err}");
    })
    .await
    .unwrap();
}

/// Meta's id of a stored template.
async fn meta_id(admin: &Api, template_id: &str) -> String {
    let (status, template) = admin.get(&format!("/templates/{template_id}")).await;
    assert_eq!(status, StatusCode::OK, "{template}");
    template["meta_template_id"].as_str().unwrap().to_owned()
}

/// Whether the simulator (WhatsApp) still has the template with Meta's id `meta_id`.
fn at_whatsapp(sandbox: &Sandbox, meta_id: &str) -> bool {
    sandbox.sim.sim.templates(&sandbox.business.waba_id).iter().any(|t| t.id == meta_id)
}

/// Changes one column of the sandbox number behind the API's back (WhatsApp's view of it
/// changing: a revoked token, an outage).
async fn set_number_column(sandbox: &Sandbox, column: &str, value: String) {
    let services = sandbox.services();
    sqlx::query(&format!("UPDATE whatsapp_numbers SET {column} = $1 WHERE id = $2"))
        .bind(value)
        .bind(&sandbox.number.id)
        .execute(services.db.pool())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_template_deletes_it_at_whatsapp_first() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let admin = api(&sandbox, &sandbox.workspace.id, Role::Admin).await;
    let create = |name: &'static str| {
        let admin = &admin;
        async move {
            let (status, created) = admin.post("/templates/call-button", json!({ "name": name })).await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            created["template_id"].as_str().unwrap().to_owned()
        }
    };

    // Deleted at WhatsApp, then here; deleting again is a plain 404.
    let support = create("support_cb").await;
    let support_meta = meta_id(&admin, &support).await;
    assert!(at_whatsapp(&sandbox, &support_meta));
    let (status, deleted) = admin.call(Method::DELETE, &format!("/templates/{support}"), None).await;
    assert_eq!((status, &deleted["deleted"]), (StatusCode::OK, &json!(true)), "{deleted}");
    assert_eq!(deleted["template"]["meta_template_id"], json!(support_meta));
    assert!(!at_whatsapp(&sandbox, &support_meta), "WhatsApp no longer has it");
    assert_eq!(refusal(&admin.get(&format!("/templates/{support}")).await).0, StatusCode::NOT_FOUND);
    let again = admin.call(Method::DELETE, &format!("/templates/{support}"), None).await;
    assert_eq!(refusal(&again), (StatusCode::NOT_FOUND, "not_found", ""), "{}", again.1);

    // Gone at WhatsApp already (deleted in the Business Manager): forgotten here too.
    let elsewhere = create("deleted_elsewhere").await;
    let elsewhere_meta = meta_id(&admin, &elsewhere).await;
    let target = services.graph_target(&sandbox.number).await.unwrap();
    let graph = calling::graph::GraphClient::new().unwrap();
    graph.delete_template(&target, "deleted_elsewhere", Some(&elsewhere_meta)).await.unwrap();
    let (status, deleted) = admin.call(Method::DELETE, &format!("/templates/{elsewhere}"), None).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(refusal(&admin.get(&format!("/templates/{elsewhere}")).await).0, StatusCode::NOT_FOUND);

    // WhatsApp refuses (the number's access token is no longer valid): nothing is deleted, and
    // the answer is WhatsApp's error with Meta's code.
    let kept = create("kept_cb").await;
    let kept_meta = meta_id(&admin, &kept).await;
    set_number_column(&sandbox, "access_token_sealed", services.secret_key.seal("revoked-token").unwrap())
        .await;
    let reply = admin.call(Method::DELETE, &format!("/templates/{kept}"), None).await;
    assert_eq!(refusal(&reply), (StatusCode::CONFLICT, "whatsapp_error", ""), "{}", reply.1);
    assert_eq!(reply.1["error"]["details"]["meta_code"], 190, "{}", reply.1);
    assert_eq!(reply.1["error"]["details"]["operation"], "delete_template", "{}", reply.1);
    let message = reply.1["error"]["message"].as_str().unwrap();
    assert!(message.contains("WhatsApp refused delete_template") && message.contains("190"), "{message}");
    let (status, still) = admin.get(&format!("/templates/{kept}")).await;
    assert_eq!((status, &still["is_default"]), (StatusCode::OK, &json!(true)), "{still}");
    assert!(at_whatsapp(&sandbox, &kept_meta));
    let token = services.secret_key.seal(simulator::DEFAULT_ACCESS_TOKEN).unwrap();
    set_number_column(&sandbox, "access_token_sealed", token).await;

    // WhatsApp cannot be reached: 502, nothing deleted.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    set_number_column(&sandbox, "graph_api_base_url", dead_url).await;
    let reply = admin.call(Method::DELETE, &format!("/templates/{kept}"), None).await;
    assert_eq!(refusal(&reply), (StatusCode::BAD_GATEWAY, "whatsapp_error", ""), "{}", reply.1);
    assert_eq!(reply.1["error"]["details"]["reason"], "connection", "{}", reply.1);
    assert_eq!(admin.get(&format!("/templates/{kept}")).await.0, StatusCode::OK);
    set_number_column(&sandbox, "graph_api_base_url", sandbox.number.graph_api_base_url.clone()).await;

    // Once WhatsApp answers again, the delete goes through.
    let (status, deleted) = admin.call(Method::DELETE, &format!("/templates/{kept}"), None).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert!(!at_whatsapp(&sandbox, &kept_meta));
    assert!(sandbox.sim.sim.templates(&sandbox.business.waba_id).is_empty());
    let (actions,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE workspace_id = $1 AND action = 'template.deleted'",
    )
    .bind(&sandbox.workspace.id)
    .fetch_one(services.db.pool())
    .await
    .unwrap();
    assert_eq!(actions, 3, "refused deletes are not audited as deletions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_webhooks_move_templates_through_metas_review() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let admin = api(&sandbox, &sandbox.workspace.id, Role::Admin).await;
    let (status, created) = admin
        .post(
            "/templates/call-button",
            json!({ "name": "support_cb", "body": "Hi {{1}}", "examples": ["Ada"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!((&created["status"], &created["status_reason"]), (&json!("approved"), &Value::Null));
    let id = created["template_id"].as_str().unwrap().to_owned();
    let meta = created["meta_template_id"].as_str().unwrap().to_owned();
    let status_of = |wanted: &'static str| {
        let admin = &admin;
        let path = format!("/templates/{id}");
        move || {
            let path = path.clone();
            async move {
                let (_, template) = admin.get(&path).await;
                (template["status"] == wanted).then_some(template)
            }
        }
    };

    // Meta rejects it on review: the signed webhook moves it, with Meta's reason.
    let sent = sandbox.sim.sim.set_template_status(&meta, "REJECTED", Some("INVALID_FORMAT")).unwrap();
    assert!(sent["message_template_id"].is_u64(), "Meta's payloads carry the id as a number: {sent}");
    let rejected = support::eventually(10, "the rejection", status_of("rejected")).await;
    assert_eq!(rejected["status_reason"], "INVALID_FORMAT");
    let send = json!({ "template_id": id, "to": "+919876543210", "vars": ["Ada"] });
    let reply = admin.post("/send", send.clone()).await;
    assert_eq!(refusal(&reply), (StatusCode::CONFLICT, "template_not_approved", ""), "{}", reply.1);

    // Approved after an appeal: sendable again, no reason left.
    sandbox.sim.sim.set_template_status(&meta, "approved", None).unwrap();
    let approved = support::eventually(10, "the approval", status_of("approved")).await;
    assert_eq!(approved["status_reason"], Value::Null);
    let (status, sent) = admin.post("/send", send).await;
    assert_eq!(status, StatusCode::OK, "{sent}");

    // A template Switchboard does not have (made in the Business Manager): the delivery is
    // accepted and processed, and changes nothing here.
    let target = services.graph_target(&sandbox.number).await.unwrap();
    let outside = calling::graph::NewTemplate {
        name: "made_elsewhere".into(),
        language: "en_US".into(),
        category: calling::graph::TemplateCategory::Marketing,
        components: vec![calling::graph::TemplateComponent::Body { text: "Hello".into(), example: vec![] }],
    };
    let outside =
        calling::graph::GraphClient::new().unwrap().create_template(&target, &outside).await.unwrap();
    sandbox.sim.sim.set_template_status(&outside.id, "PAUSED", Some("LOW_QUALITY")).unwrap();
    sandbox.sim.sim.flush_webhooks().await;
    let states: Vec<(String, Option<String>)> =
        support::eventually(10, "every delivery processed", || async {
            let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT state, error FROM webhook_deliveries WHERE body LIKE '%message_template_status_update%'",
        )
        .fetch_all(services.db.pool())
        .await
        .unwrap();
            (rows.len() == 3 && rows.iter().all(|(state, _)| state != "pending")).then_some(rows)
        })
        .await;
    assert!(states.iter().all(|(state, error)| state == "processed" && error.is_none()), "{states:?}");
    let (_, listed) = admin.get("/templates").await;
    let listed = listed["templates"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "approved");
}
