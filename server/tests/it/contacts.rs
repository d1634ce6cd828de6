//! Contacts with tags over the REST API and the CLI: add, list by tag, update (replace, add and
//! remove tags, clear the name), delete — validation by field with nothing half-written, the
//! role rules, audit entries — and the seed's workflow "send the default call-button template
//! to every contact tagged leads" run with the real binary against a live server and the
//! simulator, on SQLite and PostgreSQL.

use std::process::Command;

use calling::accounts::{Role, audit};
use calling::testing;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Caller, Sandbox};

const BINARY: &str = env!("CARGO_BIN_EXE_switchboard");

/// `switchboard <args…>` with the URL and key in the environment: (success, stdout JSON, stderr).
fn cli(url: &str, key: &str, args: &[&str]) -> (bool, Value, String) {
    let output = Command::new(BINARY)
        .args(args)
        .env("SWITCHBOARD_URL", url)
        .env("SWITCHBOARD_API_KEY", key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (output.status.success(), json, String::from_utf8_lossy(&output.stderr).into_owned())
}

async fn sandboxes() -> Vec<Sandbox> {
    let mut all = vec![Sandbox::start(|_| {}).await];
    if let Some(db) = testing::postgres().await {
        let services = testing::services(&db.db, calling::clock::Clock::System);
        all.push(Sandbox::start_with(services, Some(db), |_| {}).await);
    }
    all
}

fn field(reply: &(StatusCode, Value)) -> (StatusCode, &str) {
    (reply.0, reply.1["error"]["details"]["field"].as_str().unwrap_or(""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_are_added_tagged_listed_by_tag_updated_and_deleted() {
    for sandbox in sandboxes().await {
        let services = sandbox.services();
        let workspace = sandbox.workspace.id.clone();
        let agent = Caller::key(&sandbox, &workspace, Role::Agent).await;
        let viewer = Caller::key(&sandbox, &workspace, Role::Viewer).await;

        let (status, asha) = agent
            .rest(
                Method::POST,
                "/app/contacts",
                Some(json!({ "phone_number": "+91 98765 43210", "name": " Asha ", "tags": ["Leads", "vip", "leads"] })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{asha}");
        assert_eq!((&asha["phone_number"], &asha["name"]), (&json!("+919876543210"), &json!("Asha")));
        assert_eq!(asha["tags"], json!(["leads", "vip"]));
        let asha_id = asha["id"].as_str().unwrap().to_owned();
        let (status, _) = agent
            .rest(
                Method::POST,
                "/app/contacts",
                Some(json!({ "phone_number": "+447700900301", "tags": ["leads"] })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) = agent
            .rest(
                Method::POST,
                "/app/contacts",
                Some(json!({ "phone_number": "+447700900302", "name": "Ben" })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);

        // Refusals name the field and store nothing.
        for (body, expected) in [
            (json!({ "phone_number": "12" }), (StatusCode::UNPROCESSABLE_ENTITY, "phone_number")),
            (
                json!({ "phone_number": "+447700900303", "tags": ["two words"] }),
                (StatusCode::UNPROCESSABLE_ENTITY, "tags"),
            ),
            (
                json!({ "phone_number": "+447700900303", "name": "n".repeat(121) }),
                (StatusCode::UNPROCESSABLE_ENTITY, "name"),
            ),
            (json!({ "name": "no number" }), (StatusCode::UNPROCESSABLE_ENTITY, "body")),
        ] {
            let reply = agent.rest(Method::POST, "/app/contacts", Some(body.clone())).await;
            assert_eq!(field(&reply), expected, "{body}: {}", reply.1);
        }
        let duplicate =
            agent.rest(Method::POST, "/app/contacts", Some(json!({ "phone_number": "+919876543210" }))).await;
        assert_eq!(
            (duplicate.0, duplicate.1["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("contact_exists"))
        );
        let (_, all) = viewer.rest(Method::GET, "/app/contacts", None).await;
        assert_eq!(all["contacts"].as_array().unwrap().len(), 3, "{all}");

        // By tag, in any case; names first, then numbers.
        let (status, leads) = viewer.rest(Method::GET, "/app/contacts?tag=LEADS", None).await;
        assert_eq!(status, StatusCode::OK);
        let numbers: Vec<&str> = leads["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["phone_number"].as_str().unwrap())
            .collect();
        assert_eq!(numbers, vec!["+447700900301", "+919876543210"], "{leads}");
        assert_eq!(field(&viewer.rest(Method::GET, "/app/contacts?tag=a%20b", None).await).1, "tags");

        // Viewers read, they do not write.
        let refused = viewer
            .rest(Method::POST, "/app/contacts", Some(json!({ "phone_number": "+447700900309" })))
            .await;
        assert_eq!(refused.0, StatusCode::FORBIDDEN);
        let path = format!("/app/contacts/{asha_id}");
        assert_eq!(viewer.rest(Method::DELETE, &path, None).await.0, StatusCode::FORBIDDEN);

        // Updates change what they name; a bad one changes nothing.
        let bad =
            agent.rest(Method::PUT, &path, Some(json!({ "name": "Asha K", "add_tags": ["no way"] }))).await;
        assert_eq!(field(&bad), (StatusCode::UNPROCESSABLE_ENTITY, "tags"));
        let (_, unchanged) = viewer.rest(Method::GET, &path, None).await;
        assert_eq!((&unchanged["name"], &unchanged["tags"]), (&json!("Asha"), &json!(["leads", "vip"])));
        let (status, updated) = agent
            .rest(Method::PUT, &path, Some(json!({ "add_tags": ["callback"], "remove_tags": ["VIP"] })))
            .await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!((&updated["name"], &updated["tags"]), (&json!("Asha"), &json!(["callback", "leads"])));
        let (_, cleared) = agent.rest(Method::PUT, &path, Some(json!({ "name": null, "tags": [] }))).await;
        assert_eq!((&cleared["name"], &cleared["tags"]), (&Value::Null, &json!([])));
        let (_, leads) = viewer.rest(Method::GET, "/app/contacts?tag=leads", None).await;
        assert_eq!(leads["contacts"].as_array().unwrap().len(), 1, "{leads}");

        let (status, deleted) = agent.rest(Method::DELETE, &path, None).await;
        assert_eq!((status, deleted["phone_number"].as_str()), (StatusCode::OK, Some("+919876543210")));
        assert_eq!(viewer.rest(Method::GET, &path, None).await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            agent.rest(Method::PUT, &path, Some(json!({ "name": "x" }))).await.0,
            StatusCode::NOT_FOUND
        );

        // Audited, with who and what.
        let db = &services.db;
        assert_eq!(audit::by_action(db, "contact.created").await.unwrap().len(), 3);
        let updates = audit::by_action(db, "contact.updated").await.unwrap();
        assert_eq!(updates.len(), 2, "the refused update is not audited");
        assert!(updates.iter().all(|entry| entry.actor.starts_with("api_key:")));
        assert_eq!(audit::by_action(db, "contact.deleted").await.unwrap().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sends_the_default_call_button_to_every_contact_tagged_leads() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let admin = Caller::key(&sandbox, &sandbox.workspace.id, Role::Admin).await;
    let (key, _) = calling::accounts::api_keys::create(
        &services.db,
        &sandbox.workspace.id,
        "cli",
        Role::Admin,
        "test",
        services.clock.now(),
    )
    .await
    .unwrap();
    let (status, _) = admin
        .rest(
            Method::POST,
            "/app/calling/templates/call-button",
            Some(json!({ "name": "leads_cb", "label": "Call us", "phone_number": "+919876543299" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let url = sandbox.server.url.clone();
    let sent =
        tokio::task::spawn_blocking(move || {
            for (phone, tags) in
                [("+919876543210", "leads"), ("+447700900311", "leads"), ("+447700900312", "vip")]
            {
                let (ok, added, err) =
                    cli(&url, &key, &["contacts", "add", "--phone", phone, "--tag", tags, "--name", "Lead"]);
                assert!(ok, "{err}");
                assert_eq!(added["tags"], json!([tags]));
            }
            let (ok, _, err) = cli(&url, &key, &["contacts", "add", "--phone", "nope"]);
            assert!(!ok && err.contains("validation_failed") && err.contains("phone_number"), "{err}");

            // TPL=$(switchboard calling templates | jq -r '.templates[] | select(.is_default) | .template_id')
            let (ok, templates, _) = cli(&url, &key, &["calling", "templates"]);
            assert!(ok);
            let tpl =
                templates["templates"].as_array().unwrap().iter().find(|t| t["is_default"] == true).unwrap()
                    ["template_id"]
                    .as_str()
                    .unwrap()
                    .to_owned();
            // switchboard contacts --tag leads | jq -r '.contacts[].phone_number' | xargs -I{} switchboard calling send "$TPL" --to {}
            let (ok, leads, err) = cli(&url, &key, &["contacts", "--tag", "leads"]);
            assert!(ok, "{err}");
            let mut sent = Vec::new();
            for lead in leads["contacts"].as_array().unwrap() {
                let phone = lead["phone_number"].as_str().unwrap();
                let (ok, message, err) = cli(&url, &key, &["calling", "send", &tpl, "--to", phone]);
                assert!(ok, "{err}");
                sent.push((
                    message["to"].as_str().unwrap().to_owned(),
                    message["wa_message_id"].as_str().unwrap_or("").to_owned(),
                ));
            }

            // The other commands: show, update (add a tag, rename), delete.
            let id = leads["contacts"][0]["id"].as_str().unwrap().to_owned();
            let (ok, updated, err) =
                cli(&url, &key, &["contacts", "update", &id, "--add-tag", "called", "--name", "Called lead"]);
            assert!(ok, "{err}");
            assert_eq!(updated["name"], "Called lead");
            assert!(updated["tags"].as_array().unwrap().contains(&json!("called")));
            let (ok, shown, _) = cli(&url, &key, &["contacts", "show", &id]);
            assert!(ok && shown == updated);
            let (ok, _, _) = cli(&url, &key, &["contacts", "delete", &id]);
            assert!(ok);
            let (ok, _, err) = cli(&url, &key, &["contacts", "show", &id]);
            assert!(!ok && err.contains("not_found"), "{err}");
            sent
        })
        .await
        .unwrap();
    // Exactly the two leads, each accepted by WhatsApp (the simulator's message id).
    let to: Vec<&str> = sent.iter().map(|(to, _)| to.as_str()).collect();
    assert_eq!(to, vec!["+447700900311", "+919876543210"]);
    assert!(sent.iter().all(|(_, id)| id.starts_with("wamid.")), "{sent:?}");
}
