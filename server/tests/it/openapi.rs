//! The OpenAPI document: served, complete (every REST route and no other), an OpenAPI 3.1
//! document whose examples match their schemas and are taken by the live server, and rendered
//! as the reference page. (That live responses match it is checked on every request of every
//! test: `support::openapi`.)

use std::collections::BTreeSet;

use calling::accounts::Role;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::isolation::declared_routes;
use crate::support::openapi::{document, mismatch};
use crate::support::{Caller, Sandbox};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[tokio::test]
async fn the_document_is_served_complete_and_its_examples_are_real() {
    let sandbox = Sandbox::start(|_| {}).await;
    let http = reqwest::Client::new();

    // Served without credentials, as OpenAPI 3.1.
    let reply = http.get(format!("{}/api/v1/openapi.json", sandbox.server.url)).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let served: Value = reply.json().await.unwrap();
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"), "{}", served["openapi"]);
    assert_eq!(&served, document());

    // Every REST route under /app is documented, and nothing else is.
    // (A router's `/` nested at `/app/billing` is the path `/app/billing`.)
    let declared: BTreeSet<(String, String)> = declared_routes()
        .into_iter()
        .filter(|(_, route)| route.starts_with("/app/"))
        .map(|(method, route)| (method, route.strip_suffix('/').map(str::to_owned).unwrap_or(route)))
        .collect();
    let mut documented = BTreeSet::new();
    for (path, item) in served["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    assert!(undocumented.is_empty(), "routes missing from the document: {undocumented:?}");
    let unknown: Vec<_> = documented.difference(&declared).collect();
    assert!(unknown.is_empty(), "documented routes the server does not have: {unknown:?}");

    // Every operation names its tag, a summary, a success and the error envelope.
    for (path, item) in served["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(operation) = item.get(method) else { continue };
            assert!(operation["summary"].is_string(), "{method} {path} has no summary");
            assert!(operation["tags"][0].is_string(), "{method} {path} has no tag");
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.keys().any(|status| status.starts_with('2')), "{method} {path}: no success");
            assert_eq!(
                responses["401"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorEnvelope",
                "{method} {path}"
            );
        }
    }

    // The check that every test's responses go through has teeth: it refuses what the schemas
    // do not allow.
    let page = serde_json::json!({ "$ref": "#/components/schemas/CallPage" });
    assert!(mismatch(&page, &serde_json::json!({ "calls": [], "next_cursor": null })).is_none());
    assert!(mismatch(&page, &serde_json::json!({ "calls": 3 })).is_some());
    let call = serde_json::json!({ "calls": [{ "id": "c1", "direction": "sideways" }], "next_cursor": null });
    assert!(mismatch(&page, &call).unwrap().contains("sideways"), "a bad enum value is named");

    // Every example in the document matches the schema it illustrates.
    let mut examples = 0;
    for (name, schema) in served["components"]["schemas"].as_object().unwrap() {
        for example in
            schema.get("example").into_iter().chain(schema["examples"].as_array().into_iter().flatten())
        {
            examples += 1;
            let reference = serde_json::json!({ "$ref": format!("#/components/schemas/{name}") });
            if let Some(problem) = mismatch(&reference, example) {
                panic!("the example of {name} does not match its schema: {problem}");
            }
        }
    }
    assert!(examples >= 3, "only {examples} examples");

    // And the request examples that can run here are taken by the live server as documented.
    let owner = Caller::key(&sandbox, &sandbox.workspace.id, Role::Owner).await;
    let number = &sandbox.number.phone_number_id;
    let mut settings = schema_example("UpdateSettingsRequest");
    settings["phone_number_id"] = number.as_str().into();
    let (status, body) = owner.rest(Method::PUT, "/app/calling/settings", Some(settings)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        owner.rest(Method::POST, "/app/billing/top-ups", Some(schema_example("TopUpRequest"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

fn schema_example(name: &str) -> Value {
    let schema = &document()["components"]["schemas"][name];
    schema
        .get("example")
        .or_else(|| schema["examples"].get(0))
        .unwrap_or_else(|| panic!("{name} has no example"))
        .clone()
}

#[tokio::test]
async fn the_reference_page_renders_the_document() {
    let sandbox = Sandbox::start(|_| {}).await;
    let reply = reqwest::get(format!("{}/api/v1/docs", sandbox.server.url)).await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert!(reply.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = reply.text().await.unwrap();
    assert!(html.contains("<h1>Switchboard REST API</h1>"), "{html}");
    for path in ["/api/v1/app/calling/calls/{call_id}", "/api/v1/app/calling/send", "/api/v1/app/contacts"] {
        assert!(html.contains(&format!("<code>{path}</code>")), "{path} is not on the page");
    }
    assert!(html.contains("id=\"schema-CallDetail\""), "the schemas are listed");
}
