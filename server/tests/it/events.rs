//! The live event stream: a (re)connecting browser first gets `resync` and every call still
//! ringing, then live changes.

use crate::support;

use std::time::Duration;

use calling::accounts::{Role, api_keys};
use simulator::InboundCall;
use support::{Sandbox, eventually};

fn inbound(sandbox: &Sandbox, from: &str) -> InboundCall {
    InboundCall {
        to: sandbox.business.phone_number_id.clone(),
        from: from.into(),
        name: Some("Live Caller".into()),
        cta_payload: None,
        deeplink_payload: None,
    }
}

/// Reads the stream until `needle` appears, appending everything read to `seen`.
async fn read_until(stream: &mut reqwest::Response, seen: &mut String, needle: &str) {
    let read = async {
        while !seen.contains(needle) {
            let chunk = stream.chunk().await.expect("chunk").expect("stream open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    if tokio::time::timeout(Duration::from_secs(10), read).await.is_err() {
        panic!("{needle:?} never arrived; got: {seen}");
    }
}

#[tokio::test]
async fn a_connection_gets_ringing_calls_first_then_live_changes() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let (key, _) = api_keys::create(
        &services.db,
        &sandbox.workspace.id,
        "live",
        Role::Agent,
        "test",
        services.clock.now(),
    )
    .await
    .unwrap();
    let url = format!("{}/api/v1/app/events", sandbox.server.url);
    let client = reqwest::Client::new();
    assert_eq!(client.get(&url).send().await.unwrap().status(), 401);

    // A call rings before the browser connects (a reload mid-ring).
    sandbox.sim.sim.place_inbound_call(inbound(&sandbox, "+447700900180")).unwrap();
    let ringing_id = eventually(10, "the ringing call", || async {
        calling::calls::ringing(&services.db, &sandbox.workspace.id)
            .await
            .unwrap()
            .first()
            .map(|c| c.call_id.clone())
    })
    .await;

    let response = client.get(&url).bearer_auth(&key).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response;
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, &ringing_id).await;
    assert!(seen.starts_with("event: resync"), "{seen}");
    assert!(seen.contains("event: call.ringing") && seen.contains("+447700900180"), "{seen}");

    // A second call arrives while connected: a live update.
    sandbox.sim.sim.place_inbound_call(inbound(&sandbox, "+447700900181")).unwrap();
    read_until(&mut stream, &mut seen, "event: call.updated").await;
    assert!(seen.contains("\"ringing\":true"), "{seen}");
}
