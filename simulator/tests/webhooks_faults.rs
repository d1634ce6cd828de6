//! Webhook transport: signatures, the hub.challenge helper, and every fault switch, observed by
//! a tiny axum receiver.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use simulator::Faults;

fn events(h: &Harness) -> Vec<(String, String)> {
    // (call id, event) per calls[] item in arrival order, across all bodies
    let got = h.receiver.got.lock().unwrap().clone();
    let mut out = vec![];
    for r in got {
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        for e in v["entry"].as_array().unwrap() {
            for c in e["changes"].as_array().unwrap() {
                for call in c["value"]["calls"].as_array().into_iter().flatten() {
                    out.push((
                        call["id"].as_str().unwrap().to_string(),
                        call["event"].as_str().unwrap().to_string(),
                    ));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn every_delivery_is_signed_with_the_app_secret() {
    let h = Harness::new().await;
    let id = h.inbound("+919876543210").await;
    h.call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "reject" })).await;
    h.sim.flush_webhooks().await;
    let got = h.receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    for r in &got {
        let sig = r.signature.as_deref().unwrap();
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        assert!(simulator::webhook::verify_signature(SECRET, &r.body, sig));
        assert!(!simulator::webhook::verify_signature("other-secret", &r.body, sig));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["object"], "whatsapp_business_account");
        assert_eq!(v["entry"][0]["id"], WABA);
    }
}

#[tokio::test]
async fn hub_challenge_handshake_helper() {
    let h = Harness::new().await;
    h.sim.verify_webhook("vt").await.unwrap();
    assert!(h.sim.verify_webhook("wrong").await.is_err());
    let (s, v) = h.sandbox("POST", "/sandbox/webhooks/verify", Some(json!({ "verify_token": "vt" }))).await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = h.sandbox("POST", "/sandbox/webhooks/verify", Some(json!({ "verify_token": "nope" }))).await;
    assert_eq!(s, 502);
}

#[tokio::test]
async fn duplicate_delivery_sends_the_same_body_twice() {
    let h = Harness::new().await;
    h.sim.set_faults(Faults { duplicate: true, ..Faults::default() });
    let id = h.inbound("+919876543210").await;
    h.sim.flush_webhooks().await;
    let got = h.receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body);
    assert_eq!(got[0].signature, got[1].signature);
    assert_eq!(events(&h), vec![(id.clone(), "connect".into()), (id, "connect".into())]);
    let kinds: Vec<String> = h.sim.webhook_deliveries().iter().map(|d| d.kind.to_string()).collect();
    assert_eq!(kinds, vec!["duplicate", "original"], "newest first");
}

#[tokio::test]
async fn terminate_can_arrive_before_connect() {
    let h = Harness::new().await;
    let (s, _) =
        h.sandbox("PUT", "/sandbox/webhooks/faults", Some(json!({ "terminate_before_connect": true }))).await;
    assert_eq!(s, 200);
    let id = h.inbound("+919876543210").await;
    h.sandbox("POST", &format!("/sandbox/calls/{id}/hangup"), None).await;
    h.sim.flush_webhooks().await;
    assert_eq!(events(&h), vec![(id.clone(), "terminate".into()), (id, "connect".into())]);
}

#[tokio::test]
async fn batching_puts_several_changes_in_one_post() {
    let h = Harness::new().await;
    h.sim.set_faults(Faults { batch_size: 3, ..Faults::default() });
    let a = h.inbound("+919876543210").await;
    let b = h.inbound("+919876543211").await;
    let c = h.inbound("+919876543212").await;
    h.sim.flush_webhooks().await;
    let got = h.receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "one POST");
    let v: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(v["entry"][0]["changes"].as_array().unwrap().len(), 3);
    assert_eq!(events(&h).into_iter().map(|(id, _)| id).collect::<Vec<_>>(), vec![a, b, c]);
    // a partial batch is sent on flush
    h.inbound("+919876543213").await;
    h.sim.flush_webhooks().await;
    assert_eq!(h.receiver.got.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn failed_deliveries_are_retried_until_accepted() {
    let h = Harness::new().await;
    h.receiver.fail_next.store(2, Ordering::SeqCst);
    let id = h.inbound("+919876543210").await;
    h.sim.flush_webhooks().await;
    let got = h.receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "two 500s then a 200");
    assert!(got.iter().all(|r| r.body == got[0].body));
    let d = &h.sim.webhook_deliveries()[0];
    assert!(d.delivered);
    assert_eq!(
        d.attempts.iter().map(|a| a.status).collect::<Vec<_>>(),
        vec![Some(500), Some(500), Some(200)]
    );
    assert_eq!(events(&h)[0], (id, "connect".into()));
}

#[tokio::test]
async fn timed_out_attempts_are_redelivered_even_after_a_200() {
    let h = Harness::new().await;
    h.sim.set_faults(Faults { fail_first_attempts: 1, delay_ms: 20, ..Faults::default() });
    h.inbound("+919876543210").await;
    h.sim.flush_webhooks().await;
    let got = h.receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body);
}

#[tokio::test]
async fn stale_copies_are_delivered_later() {
    let h = Harness::new().await;
    h.sim.set_faults(Faults { stale_redelivery_ms: Some(50), ..Faults::default() });
    let id = h.inbound("+919876543210").await;
    h.call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "reject" })).await;
    h.sim.flush_webhooks().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.sim.flush_webhooks().await;
    let ev = events(&h);
    assert_eq!(ev.len(), 4, "{ev:?}");
    // the stale connect arrives after the terminate
    let last_connect = ev.iter().rposition(|(_, e)| e == "connect").unwrap();
    let first_terminate = ev.iter().position(|(_, e)| e == "terminate").unwrap();
    assert!(last_connect > first_terminate, "{ev:?}");
    assert!(h.sim.webhook_deliveries().iter().any(|d| d.kind == "stale"));
}
