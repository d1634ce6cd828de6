//! WhatsApp numbers and the workspace profile, through the REST API and the admin panel's
//! server functions over real HTTP: connect, edit (blank secrets kept, the id fixed, the
//! sandbox number refused, nothing half-written on a bad field), test the connection against
//! the simulator's Graph API, rename the workspace — each with the role rules and audit
//! entries of the other door.

use app::pages::admin::server_fns::{
    ConnectAdminNumber, ListAdminNumbers, LoadWorkspaceProfile, RenameWorkspace, TestAdminNumber,
    UpdateAdminNumber,
};
use calling::accounts::{self, NewOwner, Role, audit, invitations};
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Caller, Sandbox};

fn ok((status, body): (StatusCode, Value)) -> Value {
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

const SECRETS: [&str; 4] = ["EAAG-wrong-token", "app-secret-1", "verify-1", "app-secret-2"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_are_edited_and_tested_through_the_api_and_the_panel() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let db = &services.db;
    let workspace = sandbox.workspace.id.clone();
    let admin = Caller::key(&sandbox, &workspace, Role::Admin).await;
    let viewer = Caller::key(&sandbox, &workspace, Role::Viewer).await;
    let sim_token = sandbox.sim.sim.config().access_token.clone();
    let sim_url = format!("http://{}", sandbox.sim.address);

    let connect = json!({
        "phone_number_id": "100000000000077", "waba_id": "200000000000001",
        "phone_number": "+44 7700 900077", "access_token": SECRETS[0],
        "app_secret": SECRETS[1], "verify_token": SECRETS[2], "graph_api_base_url": sim_url,
    });
    let (status, number) = admin.rest(reqwest::Method::POST, "/app/numbers", Some(connect)).await;
    assert_eq!(status, StatusCode::CREATED, "{number}");
    let id = number["id"].as_str().unwrap().to_owned();
    let path = format!("/app/numbers/{id}");
    let put = |caller: &'static str, body: Value| {
        let caller = if caller == "admin" { &admin } else { &viewer };
        caller.rest(reqwest::Method::PUT, &path, Some(body))
    };

    // Viewers do not edit; a bad field changes nothing; the phone number id stays.
    let edit = json!({ "waba_id": "200000000000002", "phone_number": "+44 7700 900078", "graph_api_base_url": sim_url });
    assert_eq!(put("viewer", edit.clone()).await.0, StatusCode::FORBIDDEN);
    let (status, body) = put("admin", json!({ "waba_id": "x", "phone_number": "+44 7700 900078" })).await;
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("waba_id"))
    );
    let (status, body) =
        put("admin", json!({ "phone_number_id": "555", "waba_id": "1", "phone_number": "+44 7700 900078" }))
            .await;
    assert_eq!(body["error"]["details"]["field"], "phone_number_id", "{status} {body}");
    let listed = ok(viewer.rest(reqwest::Method::GET, "/app/numbers", None).await);
    assert!(listed.to_string().contains("200000000000001"), "unchanged: {listed}");

    // The token WhatsApp refused (Meta's 190) is replaced; the other secrets are kept.
    let (status, before) = admin.rest(reqwest::Method::POST, &format!("{path}/test"), None).await;
    assert_eq!(
        (status.is_success(), before["error"]["details"]["meta_code"].as_i64()),
        (false, Some(190)),
        "{before}"
    );
    let mut fixed = edit.clone();
    fixed["access_token"] = sim_token.clone().into();
    fixed["app_secret"] = "".into();
    let (status, edited) = put("admin", fixed).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(
        (edited["waba_id"].as_str(), edited["e164"].as_str()),
        (Some("200000000000002"), Some("+447700900078"))
    );
    assert_eq!(edited["phone_number_id"], "100000000000077");
    let stored = calling::numbers::credentials(db, &services.secret_key, &id).await.unwrap();
    assert_eq!((stored.access_token.as_str(), stored.app_secret.as_str()), (sim_token.as_str(), SECRETS[1]));
    // Now WhatsApp takes the token and no longer knows the made-up number id (100).
    let (_, after) = admin.rest(reqwest::Method::POST, &format!("{path}/test"), None).await;
    assert_eq!(after["error"]["details"]["meta_code"], 100, "{after}");

    // The sandbox number is Switchboard's own.
    let sandbox_path = format!("/app/numbers/{}", sandbox.number.id);
    let (status, body) = admin.rest(reqwest::Method::PUT, &sandbox_path, Some(edit.clone())).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("sandbox_number")));

    // The panel: an owner and an agent of the workspace.
    let owner = NewOwner {
        email: "owner@acme.example".into(),
        display_name: Some("Olivia Owner".into()),
        password: "owner-password-long".into(),
        workspace_name: None,
    };
    let (owner, _) = accounts::setup(db, owner, services.clock.now()).await.unwrap();
    let (token, _) =
        invitations::create(db, &workspace, "agent@acme.example", Role::Agent, "test", services.clock.now())
            .await
            .unwrap();
    let acceptance =
        invitations::Acceptance { token, display_name: None, password: "agent-password-long".into() };
    let (agent, _, _) = invitations::accept(db, acceptance, None, services.clock.now()).await.unwrap();
    let owner = Caller::browser(&sandbox, &owner.id, &workspace).await;
    let agent = Caller::browser(&sandbox, &agent.id, &workspace).await;

    let list = ok(agent.form(ListAdminNumbers::PATH, &[]).await);
    assert_eq!((list["can_change"].as_bool(), list["numbers"].as_array().unwrap().len()), (Some(false), 2));
    let form = |changes: Value| {
        let mut form = json!({
            "phone_number_id": "100000000000088", "waba_id": "200000000000003", "phone_number": "+44 7700 900088",
            "graph_api_version": "", "graph_api_base_url": sim_url,
            "access_token": "EAAG-panel", "app_secret": "panel-secret", "verify_token": "panel-verify",
        });
        for (key, value) in changes.as_object().unwrap() {
            form[key] = value.clone();
        }
        form
    };
    let (status, body) = agent.json(ConnectAdminNumber::PATH, json!({ "form": form(json!({})) })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let refused = ok(owner
        .json(ConnectAdminNumber::PATH, json!({ "form": form(json!({ "verify_token": " " })) }))
        .await);
    assert_eq!(refused["Invalid"]["field"], "verify_token", "{refused}");
    let taken = ok(owner
        .json(
            ConnectAdminNumber::PATH,
            json!({ "form": form(json!({ "phone_number_id": "100000000000077" })) }),
        )
        .await);
    assert_eq!(taken["Invalid"]["field"], "phone_number_id", "{taken}");
    let connected = ok(owner.json(ConnectAdminNumber::PATH, json!({ "form": form(json!({})) })).await);
    let panel_id = connected["Done"]["id"].as_str().unwrap_or_else(|| panic!("{connected}")).to_owned();
    assert_eq!(connected["Done"]["graph_api_version"], calling::numbers::DEFAULT_GRAPH_API_VERSION);

    let edit = json!({ "id": panel_id, "form": form(json!({ "access_token": "", "app_secret": "", "verify_token": "new-verify", "waba_id": "bad" })) });
    assert_eq!(ok(owner.json(UpdateAdminNumber::PATH, edit).await)["Invalid"]["field"], "waba_id");
    let edit = json!({ "id": panel_id, "form": form(json!({ "access_token": "", "app_secret": "", "verify_token": "new-verify", "graph_api_version": "v24.0" })) });
    let edited = ok(owner.json(UpdateAdminNumber::PATH, edit.clone()).await);
    assert_eq!(edited["Done"]["graph_api_version"], "v24.0", "{edited}");
    assert_eq!(agent.json(UpdateAdminNumber::PATH, edit).await.0, StatusCode::FORBIDDEN);

    // Testing: anyone who sees settings; WhatsApp's answer either way.
    let works = ok(agent.form(TestAdminNumber::PATH, &[("id", &sandbox.number.id)]).await);
    assert!(works["Works"]["calling"].is_string(), "{works}");
    let refused = ok(agent.form(TestAdminNumber::PATH, &[("id", &panel_id)]).await);
    assert_eq!(refused["Refused"]["meta_code"], 190, "{refused}");
    assert!(refused["Refused"]["hint"].as_str().unwrap().contains("access token"), "{refused}");

    // Audited alike from both doors, secrets never in the log.
    let updated = audit::by_action(db, "number.updated").await.unwrap();
    assert_eq!(updated.len(), 2);
    assert_eq!(
        updated.iter().find(|e| e.actor.starts_with("api_key:")).unwrap().details["secrets_replaced"],
        json!(["access_token"])
    );
    assert_eq!(
        updated.iter().find(|e| e.actor.starts_with("user:")).unwrap().details["secrets_replaced"],
        json!(["verify_token"])
    );
    let connected = audit::by_action(db, "number.connected").await.unwrap();
    assert_eq!(connected.len(), 2);
    let log = serde_json::to_string(&audit::list(db, &workspace, 100).await.unwrap()).unwrap();
    for secret in SECRETS.iter().chain([&sim_token.as_str(), &"panel-secret", &"new-verify"]) {
        assert!(!log.contains(secret), "{secret} in the audit log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workspace_is_renamed_by_owners_and_admins_only() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let workspace = sandbox.workspace.id.clone();
    let admin = Caller::key(&sandbox, &workspace, Role::Admin).await;
    let agent_key = Caller::key(&sandbox, &workspace, Role::Agent).await;

    let profile = ok(agent_key.rest(reqwest::Method::GET, "/workspace", None).await);
    assert_eq!(profile["workspace"]["name"], "Sandbox Co");
    let (status, _) =
        agent_key.rest(reqwest::Method::PUT, "/workspace", Some(json!({ "name": "Mine" }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = admin.rest(reqwest::Method::PUT, "/workspace", Some(json!({ "name": "  " }))).await;
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name"))
    );
    let renamed =
        ok(admin.rest(reqwest::Method::PUT, "/workspace", Some(json!({ "name": " Acme Support " }))).await);
    assert_eq!(renamed["workspace"]["name"], "Acme Support");

    let owner = NewOwner {
        email: "owner@acme.example".into(),
        display_name: None,
        password: "owner-password-long".into(),
        workspace_name: None,
    };
    let (owner, _) = accounts::setup(&services.db, owner, services.clock.now()).await.unwrap();
    let owner = Caller::browser(&sandbox, &owner.id, &workspace).await;
    let profile = ok(owner.form(LoadWorkspaceProfile::PATH, &[]).await);
    assert_eq!(
        (profile["name"].as_str(), profile["can_change"].as_bool()),
        (Some("Acme Support"), Some(true))
    );
    let refused = ok(owner.form(RenameWorkspace::PATH, &[("name", &"x".repeat(81))]).await);
    assert_eq!(refused["Invalid"]["field"], "name");
    assert_eq!(ok(owner.form(RenameWorkspace::PATH, &[("name", "Acme Calls")]).await)["Done"], "Acme Calls");

    let entries = audit::by_action(&services.db, "workspace.updated").await.unwrap();
    let changes: Vec<&Value> = entries.iter().map(|e| &e.details["name"]).collect();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(changes.contains(&&json!({ "from": "Sandbox Co", "to": "Acme Support" })));
    assert!(changes.contains(&&json!({ "from": "Acme Support", "to": "Acme Calls" })));
}
