//! User-initiated calls over real HTTP: connect webhook shape, pre_accept/accept/reject/terminate,
//! Meta's SDP and state rules, the answer window, the 20 s no-media kill, callback permission.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn connect_webhook_has_metas_shape_and_offer() {
    let h = Harness::new().await;
    let (s, v) = h
        .sandbox(
            "POST",
            "/sandbox/calls/inbound",
            Some(json!({ "to": "+44 7700 900001", "from": "+919876543210", "name": "Ravi",
                         "cta_payload": "order-42", "deeplink_payload": "dl-7" })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let id = v["call_id"].as_str().unwrap();
    assert!(id.starts_with("wacid."));
    let value = h.call_value(id, "connect").await;
    assert_eq!(value["messaging_product"], "whatsapp");
    assert_eq!(value["metadata"], json!({ "display_phone_number": "447700900001", "phone_number_id": PID }));
    let contact = &value["contacts"][0];
    assert_eq!(contact["wa_id"], "919876543210");
    assert_eq!(contact["profile"]["name"], "Ravi");
    assert!(contact["user_id"].as_str().unwrap().starts_with("IN."));
    assert!(contact["parent_user_id"].as_str().unwrap().starts_with("IN.ENT."));
    let c = &value["calls"][0];
    assert_eq!(c["from"], "919876543210");
    assert_eq!(c["to"], "447700900001");
    assert_eq!(c["direction"], "USER_INITIATED");
    assert!(c["timestamp"].is_string());
    assert_eq!(c["cta_payload"], "order-42");
    assert_eq!(c["deeplink_payload"], "dl-7");
    assert_eq!(c["session"]["sdp_type"], "offer");
    let sdp = c["session"]["sdp"].as_str().unwrap();
    assert!(sdp.contains("a=ice-lite"), "{sdp}");
    assert!(sdp.contains("a=setup:actpass"));
    assert!(sdp.contains("telephone-event/8000"));
    assert!(sdp.contains("127.0.0.1"));
    assert_eq!(sdp.matches("m=").count(), 1);
    // the signed body verifies with the app secret
    let got = h.receiver.got.lock().unwrap().clone();
    for r in got {
        assert!(simulator::webhook::verify_signature(SECRET, &r.body, r.signature.as_deref().unwrap()));
    }
}

#[tokio::test]
async fn pre_accept_accept_terminate_completes_with_duration() {
    let h = Harness::new().await;
    let id = h.inbound("+919876543210").await;
    let offer = h.call_events(&id, "connect").await[0]["session"]["sdp"].as_str().unwrap().to_string();
    let (_peer, answer) = business_answer(&offer);
    let session = json!({ "sdp_type": "answer", "sdp": answer });
    let (s, v) = h.call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "pre_accept", "session": session })).await;
    assert_eq!((s, v.clone()), (200, json!({ "messaging_product": "whatsapp", "success": true })));
    let (s, v) = h
        .call_action(
            json!({ "messaging_product": "whatsapp", "call_id": id, "action": "accept", "session": session,
                              "biz_opaque_callback_data": "agent-7" }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    h.advance(12);
    let (s, v) =
        h.call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "terminate" })).await;
    assert_eq!(s, 200, "{v}");
    let value = h.call_value(&id, "terminate").await;
    let t = &value["calls"][0];
    assert_eq!(t["status"], "COMPLETED");
    assert_eq!(t["duration"], 12);
    assert!(t["start_time"].is_string() && t["end_time"].is_string());
    assert_eq!(t["biz_opaque_callback_data"], "agent-7");
    assert!(value["contacts"].is_array());
    // actions on an ended call are rejected
    let (s, v) =
        h.call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "terminate" })).await;
    assert_eq!(s, 400);
    assert_error(&v, 100);
    let (s, v) = h
        .call_action(
            json!({ "messaging_product": "whatsapp", "call_id": id, "action": "accept", "session": session }),
        )
        .await;
    assert_eq!(s, 400);
    assert_error(&v, 100);
}

#[tokio::test]
async fn accept_sdp_must_equal_pre_accept_sdp() {
    let h = Harness::new().await;
    let id = h.inbound("+919876543210").await;
    let offer = h.call_events(&id, "connect").await[0]["session"]["sdp"].as_str().unwrap().to_string();
    let (_p1, a1) = business_answer(&offer);
    let (_p2, a2) = business_answer(&offer);
    let (s, _) = h
        .call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "pre_accept",
                              "session": { "sdp_type": "answer", "sdp": a1 } }))
        .await;
    assert_eq!(s, 200);
    let (s, v) = h
        .call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "accept",
                              "session": { "sdp_type": "answer", "sdp": a2 } }))
        .await;
    assert_eq!(s, 400);
    assert_error(&v, 100);
    assert!(v["error"]["error_data"]["details"].as_str().unwrap().contains("pre_accept"), "{v}");
}

#[tokio::test]
async fn sdp_rules_are_enforced() {
    let h = Harness::new().await;
    let id = h.inbound("+919876543210").await;
    let offer = h.call_events(&id, "connect").await[0]["session"]["sdp"].as_str().unwrap().to_string();
    let (_p, answer) = business_answer(&offer);
    let send = |sdp_type: &str, sdp: String| {
        json!({ "messaging_product": "whatsapp", "call_id": id, "action": "pre_accept",
                "session": { "sdp_type": sdp_type, "sdp": sdp } })
    };
    // Meta's docs bug: "offer" for pre_accept is wrong
    let (s, v) = h.call_action(send("offer", answer.clone())).await;
    assert_eq!(s, 400);
    assert_error(&v, 100);
    // sha-384 fingerprint
    let fp = answer.replace("a=fingerprint:sha-256", "a=fingerprint:sha-384");
    let (_, v) = h.call_action(send("answer", fp)).await;
    assert_error(&v, 100);
    // actpass in an answer
    let ap =
        answer.replace("a=setup:passive", "a=setup:actpass").replace("a=setup:active", "a=setup:actpass");
    let (_, v) = h.call_action(send("answer", ap)).await;
    assert_error(&v, 100);
    // LF-only line endings
    let (_, v) = h.call_action(send("answer", answer.replace("\r\n", "\n"))).await;
    assert_error(&v, 100);
    // garbage
    let (_, v) = h.call_action(send("answer", "hello".into())).await;
    assert_error(&v, 100);
    // unknown action, unknown call id, missing messaging_product
    let (_, v) =
        h.call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "hold" })).await;
    assert_error(&v, 100);
    let (_, v) = h
        .call_action(
            json!({ "messaging_product": "whatsapp", "call_id": "wacid.nope", "action": "terminate" }),
        )
        .await;
    assert_error(&v, 100);
    let (_, v) = h.call_action(json!({ "call_id": id, "action": "terminate" })).await;
    assert_error(&v, 100);
    // the valid answer still works after all that
    let (s, v) = h.call_action(send("answer", answer)).await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn unanswered_call_fails_after_the_answer_window_without_duration() {
    let h = Harness::new().await;
    let id = h.inbound("+919876543210").await;
    h.advance(44);
    assert!(h.call_events(&id, "terminate").await.is_empty());
    h.advance(1);
    let t = &h.call_events(&id, "terminate").await[0];
    assert_eq!(t["status"], "FAILED");
    assert!(
        t.get("duration").is_none() && t.get("start_time").is_none() && t.get("end_time").is_none(),
        "{t}"
    );
    let offer = h.call_events(&id, "connect").await[0]["session"]["sdp"].as_str().unwrap().to_string();
    let (_p, answer) = business_answer(&offer);
    let (s, v) = h
        .call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "accept",
                              "session": { "sdp_type": "answer", "sdp": answer } }))
        .await;
    assert_eq!(s, 400);
    assert_error(&v, 100);
}

#[tokio::test]
async fn reject_sends_failed_terminate() {
    let h = Harness::new().await;
    let id = h.inbound("+919876543210").await;
    let (s, v) =
        h.call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "reject" })).await;
    assert_eq!((s, v), (200, json!({ "messaging_product": "whatsapp", "success": true })));
    let t = &h.call_events(&id, "terminate").await[0];
    assert_eq!(t["status"], "FAILED");
    assert!(t.get("duration").is_none());
}

#[tokio::test]
async fn no_media_for_20_seconds_after_accept_fails_with_138021() {
    let h = Harness::new().await;
    let id = h.inbound("+919876543210").await;
    let offer = h.call_events(&id, "connect").await[0]["session"]["sdp"].as_str().unwrap().to_string();
    // a business that answers but never connects media
    let (_p, answer) = business_answer(&offer);
    let (s, _) = h
        .call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "accept",
                              "session": { "sdp_type": "answer", "sdp": answer } }))
        .await;
    assert_eq!(s, 200);
    h.advance(19);
    assert!(h.call_events(&id, "terminate").await.is_empty());
    h.advance(1);
    let value = h.call_value(&id, "terminate").await;
    let t = &value["calls"][0];
    assert_eq!(t["status"], "FAILED");
    assert_eq!(t["duration"], 20);
    assert_eq!(t["errors"][0]["code"], 138021);
    assert_eq!(value["errors"][0]["code"], 138021, "errors at value level too");
    assert!(t["errors"][0]["error_data"]["details"].is_string());
}

#[tokio::test]
async fn duplicate_inbound_call_from_same_user_is_refused() {
    let h = Harness::new().await;
    h.inbound("+919876543210").await;
    let (s, v) = h
        .sandbox("POST", "/sandbox/calls/inbound", Some(json!({ "to": PID, "from": "+919876543210" })))
        .await;
    assert_eq!(s, 409, "{v}");
}

#[tokio::test]
async fn user_hangup_completes_an_accepted_call() {
    let h = Harness::new().await;
    let id = h.inbound("+919876543210").await;
    let offer = h.call_events(&id, "connect").await[0]["session"]["sdp"].as_str().unwrap().to_string();
    let (_p, answer) = business_answer(&offer);
    h.call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "accept",
                          "session": { "sdp_type": "answer", "sdp": answer } }))
        .await;
    h.advance(5);
    let (s, _) = h.sandbox("POST", &format!("/sandbox/calls/{id}/hangup"), None).await;
    assert_eq!(s, 200);
    let t = &h.call_events(&id, "terminate").await[0];
    assert_eq!(t["status"], "COMPLETED");
    assert_eq!(t["duration"], 5);
    let (s, _) = h.sandbox("POST", &format!("/sandbox/calls/{id}/hangup"), None).await;
    assert_eq!(s, 409);
}

#[tokio::test]
async fn callback_permission_is_granted_automatically_after_a_user_call() {
    let h = Harness::new().await;
    let (s, _) = h
        .graph(
            "POST",
            &format!("{PID}/settings"),
            Some(json!({ "calling": { "callback_permission_status": "ENABLED" } })),
        )
        .await;
    assert_eq!(s, 200);
    let id = h.inbound("+919876543210").await;
    h.call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "reject" })).await;
    let replies = h.permission_replies().await;
    assert_eq!(replies.len(), 1);
    let r = &replies[0];
    assert_eq!(r["context"]["id"], id.as_str());
    let reply = &r["interactive"]["call_permission_reply"];
    assert_eq!(reply["response"], "accept");
    assert_eq!(reply["is_permanent"], false);
    assert_eq!(reply["response_source"], "automatic");
    let exp: i64 = reply["expiration_timestamp"].as_str().unwrap().parse().unwrap();
    assert_eq!(exp, h.sim.now_ms() / 1000 + 604_800);
    let (_, v) = h.graph("GET", &format!("{PID}/call_permissions?user_wa_id=919876543210"), None).await;
    assert_eq!(v["permission"]["status"], "temporary");
}

#[tokio::test]
async fn outside_call_hours_no_webhook_is_sent() {
    let h = Harness::new().await;
    // 2026-01-01 is a Thursday; the clock is at 00:00 UTC.
    let (s, v) = h
        .graph(
            "POST",
            &format!("{PID}/settings"),
            Some(json!({ "calling": { "call_hours": { "status": "ENABLED", "timezone_id": "Europe/London",
                "weekly_operating_hours": [ { "day_of_week": "THURSDAY", "open_time": "0900", "close_time": "1700" } ] } } })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = h
        .sandbox("POST", "/sandbox/calls/inbound", Some(json!({ "to": PID, "from": "+919876543210" })))
        .await;
    assert_eq!(s, 409);
    assert_eq!(v["error"]["code"], "outside_call_hours");
    let fields: Vec<String> = h.changes().await.into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, vec!["account_settings_update"], "no calls webhook outside hours");
    h.advance(10 * 3600);
    h.inbound("+919876543210").await;
}

#[tokio::test]
async fn rejected_status_is_configurable() {
    let mut cfg = config();
    cfg.rejected_status = simulator::RejectedStatus::Completed;
    let h = Harness::with(cfg).await;
    let id = h.inbound("+919876543210").await;
    h.call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "reject" })).await;
    let t = &h.call_events(&id, "terminate").await[0];
    assert_eq!(t["status"], "COMPLETED");
    assert!(t.get("duration").is_none(), "never picked up: no duration");
}

#[tokio::test]
async fn offer_uses_metas_payload_types() {
    let h = Harness::new().await;
    let id = h.inbound("+919876543210").await;
    let offer = h.call_events(&id, "connect").await[0]["session"]["sdp"].as_str().unwrap().to_string();
    assert!(offer.contains("a=rtpmap:111 opus/48000/2"), "{offer}");
    assert!(offer.contains("a=rtpmap:126 telephone-event/8000"), "{offer}");
    assert!(offer.contains("\r\n"));
    assert_eq!(offer.matches("a=candidate:").count(), 1, "one inline loopback candidate");
}
