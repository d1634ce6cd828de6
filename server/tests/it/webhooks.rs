//! Webhook ingestion end to end: the simulator plays WhatsApp and delivers signed webhooks over
//! real HTTP to a real server; the assertions read what landed in the database.

use crate::support;

use std::time::Duration;

use calling::clock::Clock;
use calling::ingest::expire_unanswered;
use calling::testing;
use calling::webhook::signature::sign;
use simulator::{Faults, InboundCall};
use support::{Sandbox, VERIFY_TOKEN, eventually};

#[derive(Debug, PartialEq)]
struct CallRow {
    status: String,
    phase: String,
    contact_number: String,
    contact_name: Option<String>,
    cta_payload: Option<String>,
    has_offer: bool,
    events: Vec<String>,
}

/// id, status, phase, contact number, contact name, CTA payload, SDP offer.
type RawCallRow = (String, String, String, String, Option<String>, Option<String>, Option<String>);

/// (what, body, signature header, expected status, expected error code)
type BadCase = (&'static str, Vec<u8>, Option<String>, u16, &'static str);

async fn call_row(sandbox: &Sandbox, wa_call_id: &str) -> Option<CallRow> {
    let db = &sandbox.services().db;
    let row: Option<RawCallRow> = sqlx::query_as(
        "SELECT id, status, phase, contact_number, contact_name, cta_payload, sdp_offer FROM calls \
         WHERE workspace_id = $1 AND wa_call_id = $2",
    )
    .bind(&sandbox.workspace.id)
    .bind(wa_call_id)
    .fetch_optional(db.pool())
    .await
    .unwrap();
    let (id, status, phase, contact_number, contact_name, cta_payload, offer) = row?;
    let events: Vec<(String,)> =
        sqlx::query_as("SELECT kind FROM call_events WHERE call_id = $1 ORDER BY kind")
            .bind(&id)
            .fetch_all(db.pool())
            .await
            .unwrap();
    Some(CallRow {
        status,
        phase,
        contact_number,
        contact_name,
        cta_payload,
        has_offer: offer.is_some_and(|sdp| sdp.starts_with("v=0")),
        events: events.into_iter().map(|(kind,)| kind).collect(),
    })
}

async fn count(sandbox: &Sandbox, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(sandbox.services().db.pool()).await.unwrap();
    n
}

fn inbound(sandbox: &Sandbox, from: &str) -> InboundCall {
    InboundCall {
        to: sandbox.business.phone_number_id.clone(),
        from: from.into(),
        name: Some("Priya Shah".into()),
        cta_payload: Some("order-1024".into()),
        deeplink_payload: None,
    }
}

#[tokio::test]
async fn an_inbound_call_rings_and_a_hang_up_before_answer_leaves_it_missed() {
    let sandbox = Sandbox::start(|_| {}).await;
    let mut live = sandbox.services().bus.subscribe(&sandbox.workspace.id);
    let call_id = sandbox.sim.sim.place_inbound_call(inbound(&sandbox, "+447700900123")).unwrap();

    let ringing = eventually(10, "the ringing call", || call_row(&sandbox, &call_id)).await;
    assert_eq!(ringing.status, "ringing");
    assert_eq!(ringing.contact_number, "+447700900123");
    assert_eq!(ringing.contact_name.as_deref(), Some("Priya Shah"));
    assert_eq!(ringing.cta_payload.as_deref(), Some("order-1024"));
    assert!(ringing.has_offer, "Meta's SDP offer is kept for the agent who answers");
    let notice = live.next().await.unwrap();
    assert_eq!(notice.topic, "call.updated");
    assert_eq!(notice.data["ringing"], true);

    sandbox.sim.sim.hangup(&call_id).unwrap();
    let ended = eventually(10, "the terminate", || async {
        call_row(&sandbox, &call_id).await.filter(|row| row.status != "ringing")
    })
    .await;
    assert_eq!(ended.status, "missed");
    assert_eq!(ended.events, vec!["connect_received", "terminate_received"]);
}

#[tokio::test]
async fn duplicates_and_terminate_before_connect_give_one_call_with_one_fact_each() {
    let sandbox = Sandbox::start(|config| {
        config.faults = Faults { duplicate: true, terminate_before_connect: true, ..Faults::default() };
    })
    .await;
    let call_id = sandbox.sim.sim.place_inbound_call(inbound(&sandbox, "+447700900124")).unwrap();
    sandbox.sim.sim.hangup(&call_id).unwrap();
    let row = eventually(10, "both facts", || async {
        call_row(&sandbox, &call_id).await.filter(|row| row.events.len() == 2)
    })
    .await;
    // The terminate came first and the late connect did not reopen the call.
    assert_eq!((row.status.as_str(), row.phase.as_str()), ("missed", "missed"));
    sandbox.sim.sim.flush_webhooks().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&sandbox, "SELECT CAST(COUNT(*) AS BIGINT) FROM calls").await, 1);
    assert_eq!(count(&sandbox, "SELECT CAST(COUNT(*) AS BIGINT) FROM call_events").await, 2);
    let deliveries = sandbox.sim.sim.webhook_deliveries().len() as i64;
    let stored = count(&sandbox, "SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_deliveries").await;
    assert!(
        stored >= 2 && stored <= deliveries,
        "stored {stored} of {deliveries} sent (duplicates share a row)"
    );
    assert_eq!(
        count(&sandbox, "SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_deliveries WHERE state <> 'processed'")
            .await,
        0
    );
}

#[tokio::test]
async fn batched_deliveries_are_processed_entirely() {
    let sandbox =
        Sandbox::start(|config| config.faults = Faults { batch_size: 4, ..Faults::default() }).await;
    let first = sandbox.sim.sim.place_inbound_call(inbound(&sandbox, "+447700900125")).unwrap();
    let second = sandbox.sim.sim.place_inbound_call(inbound(&sandbox, "+447700900126")).unwrap();
    sandbox.sim.sim.hangup(&first).unwrap();
    sandbox.sim.sim.hangup(&second).unwrap();
    sandbox.sim.sim.flush_webhooks().await;
    for call_id in [&first, &second] {
        let row = eventually(10, "the batched call", || async {
            call_row(&sandbox, call_id).await.filter(|row| row.events.len() == 2)
        })
        .await;
        assert_eq!(row.status, "missed");
    }
    let batches = sandbox.sim.sim.webhook_deliveries();
    assert!(batches.len() < 4, "four changes travelled in fewer POSTs: {}", batches.len());
}

#[tokio::test]
async fn the_verification_handshake_accepts_only_our_verify_token() {
    let sandbox = Sandbox::start(|_| {}).await;
    sandbox.sim.sim.verify_webhook(VERIFY_TOKEN).await.expect("handshake with the right token");
    assert!(sandbox.sim.sim.verify_webhook("wrong-token").await.is_err());

    let client = reqwest::Client::new();
    let url = format!("{}/webhooks/whatsapp", sandbox.server.url);
    let ok = client
        .get(&url)
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.verify_token", VERIFY_TOKEN),
            ("hub.challenge", "1158863600"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158863600");
    let missing = client.get(&url).send().await.unwrap();
    assert_eq!(missing.status(), 403);
    assert_eq!(missing.json::<serde_json::Value>().await.unwrap()["error"]["code"], "verification_failed");
}

#[tokio::test]
async fn bad_deliveries_get_clear_errors_and_store_nothing() {
    let sandbox = Sandbox::start(|_| {}).await;
    let secret = sandbox.sim.sim.config().app_secret.clone();
    let client = reqwest::Client::new();
    let url = format!("{}/webhooks/whatsapp", sandbox.server.url);
    let post = |body: Vec<u8>, signature: Option<String>| {
        let mut request = client.post(&url).header("content-type", "application/json").body(body);
        if let Some(signature) = signature {
            request = request.header("X-Hub-Signature-256", signature);
        }
        request.send()
    };
    let valid_shape = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "200000000000001", "changes": [{ "field": "calls", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "phone_number_id": sandbox.business.phone_number_id, "display_phone_number": "447700900001" },
            "calls": [{ "id": "wacid.bad-input", "event": "terminate", "status": "FAILED",
                        "timestamp": "1795355100", "from": "447700900127", "to": "447700900001" }]
        }}]}]
    })
    .to_string();

    let cases: Vec<BadCase> = vec![
        ("no signature", valid_shape.clone().into_bytes(), None, 401, "invalid_signature"),
        (
            "wrong secret",
            valid_shape.clone().into_bytes(),
            Some(sign(b"not-the-secret", valid_shape.as_bytes())),
            401,
            "invalid_signature",
        ),
        (
            "malformed signature",
            valid_shape.clone().into_bytes(),
            Some("sha256=xyz".into()),
            401,
            "invalid_signature",
        ),
        (
            "truncated JSON",
            valid_shape.as_bytes()[..40].to_vec(),
            Some(sign(secret.as_bytes(), &valid_shape.as_bytes()[..40])),
            400,
            "validation_failed",
        ),
        (
            "wrong object",
            br#"{"object":"page","entry":[]}"#.to_vec(),
            Some(sign(secret.as_bytes(), br#"{"object":"page","entry":[]}"#)),
            400,
            "validation_failed",
        ),
    ];
    for (what, body, signature, status, code) in cases {
        let reply = post(body, signature).await.unwrap();
        assert_eq!(reply.status().as_u16(), status, "{what}");
        let json: serde_json::Value = reply.json().await.unwrap();
        assert_eq!(json["error"]["code"], code, "{what}: {json}");
    }
    let unknown_number = valid_shape.replace(&sandbox.business.phone_number_id, "999999999999999");
    let reply =
        post(unknown_number.clone().into_bytes(), Some(sign(secret.as_bytes(), unknown_number.as_bytes())))
            .await
            .unwrap();
    assert_eq!(reply.status(), 404);

    let huge = vec![b' '; 5 * 1024 * 1024];
    let reply = post(huge.clone(), Some(sign(secret.as_bytes(), &huge))).await.unwrap();
    assert_eq!(reply.status(), 413);

    assert_eq!(count(&sandbox, "SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_deliveries").await, 0);
    assert_eq!(count(&sandbox, "SELECT CAST(COUNT(*) AS BIGINT) FROM calls").await, 0);

    // A 3 MB delivery (Meta's maximum) is fine, and the server kept serving throughout.
    let padded = valid_shape.replacen('{', &format!("{{\"padding\":\"{}\",", "x".repeat(3_000_000)), 1);
    let reply =
        post(padded.clone().into_bytes(), Some(sign(secret.as_bytes(), padded.as_bytes()))).await.unwrap();
    assert_eq!(reply.status(), 200);
    eventually(10, "the padded delivery's call", || call_row(&sandbox, "wacid.bad-input")).await;
}

#[tokio::test]
async fn a_call_nobody_answers_is_closed_as_missed_when_its_window_passes() {
    let db = testing::sqlite().await;
    let clock = Clock::manual(Clock::System.now());
    let services = testing::services(&db.db, clock.clone());
    // WhatsApp itself never gives up here, so only our own answer window can end the call.
    let sandbox = Sandbox::start_with(services, Some(db), |config| {
        config.answer_window = Duration::from_secs(3600);
    })
    .await;
    let call_id = sandbox.sim.sim.place_inbound_call(inbound(&sandbox, "+447700900130")).unwrap();
    eventually(10, "the ringing call", || call_row(&sandbox, &call_id)).await;

    assert_eq!(expire_unanswered(sandbox.services()).await.unwrap(), 0, "still inside the window");
    // Meta's timestamp (whole seconds of real time) starts the window: move just past its end.
    let (deadline,): (i64,) = sqlx::query_as("SELECT answer_deadline FROM calls WHERE wa_call_id = $1")
        .bind(&call_id)
        .fetch_one(sandbox.services().db.pool())
        .await
        .unwrap();
    clock.advance(deadline - clock.now() - 1);
    assert_eq!(
        expire_unanswered(sandbox.services()).await.unwrap(),
        0,
        "one millisecond before the deadline"
    );
    clock.advance(2);
    assert_eq!(expire_unanswered(sandbox.services()).await.unwrap(), 1);
    assert_eq!(expire_unanswered(sandbox.services()).await.unwrap(), 0, "closing is idempotent");
    let row = call_row(&sandbox, &call_id).await.unwrap();
    assert_eq!(row.status, "missed");
    assert_eq!(row.events, vec!["answer_window_expired", "connect_received"]);
}
