//! Business-initiated calls and the permission ledger over real HTTP: 138006, 138003, 138012,
//! 138013, 138000, 138009, 138017, 131055, 7-day expiry, 4-unanswered revocation, and every
//! `call_permission_reply` scenario.

mod common;

use common::*;
use serde_json::{Value, json};
use simulator::{BusinessNumber, Limits, SimConfig};

const USER: &str = "919876543210";

fn connect_body(sdp: &str) -> Value {
    json!({ "messaging_product": "whatsapp", "to": USER, "action": "connect",
            "session": { "sdp_type": "offer", "sdp": sdp }, "biz_opaque_callback_data": "campaign-1" })
}

async fn grant_temporary(h: &Harness) -> String {
    let (s, v) = h.request_permission(USER).await;
    assert_eq!(s, 200, "{v}");
    let wamid = v["messages"][0]["id"].as_str().unwrap().to_string();
    let (s, v) = h.grant(USER, "temporary").await;
    assert_eq!(s, 200, "{v}");
    wamid
}

#[tokio::test]
async fn connect_without_permission_is_138006_then_works_after_grant() {
    let h = Harness::new().await;
    let (_p, offer) = business_offer();
    let (s, v) = h.call_action(connect_body(&offer)).await;
    assert_eq!(s, 401);
    assert_error(&v, 138006);
    assert_eq!(v["error"]["error_data"]["messaging_product"], "whatsapp");

    let wamid = grant_temporary(&h).await;
    let replies = h.permission_replies().await;
    let r = &replies[0];
    assert_eq!(r["context"]["id"], wamid.as_str());
    let reply = &r["interactive"]["call_permission_reply"];
    assert_eq!(reply["response"], "accept");
    assert_eq!(reply["is_permanent"], false);
    assert_eq!(reply["response_source"], "user_action");
    assert!(reply["expiration_timestamp"].is_string());

    let (s, v) = h.call_action(connect_body(&offer)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["messaging_product"], "whatsapp");
    let id = v["calls"][0]["id"].as_str().unwrap().to_string();
    let value = h.call_value(&id, "connect").await;
    let c = &value["calls"][0];
    assert_eq!(c["direction"], "BUSINESS_INITIATED");
    assert_eq!(c["from"], "447700900001");
    assert_eq!(c["to"], USER);
    assert_eq!(c["biz_opaque_callback_data"], "campaign-1");
    assert_eq!(c["session"]["sdp_type"], "answer");
    let sdp = c["session"]["sdp"].as_str().unwrap();
    assert!(sdp.contains("a=ice-lite"));
    let legacy: Value = serde_json::from_str(c["connection"]["webrtc"]["sdp"].as_str().unwrap()).unwrap();
    assert_eq!(legacy["type"], "answer");
    assert_eq!(legacy["sdp"], sdp);
    assert_eq!(h.statuses(&id).await, vec!["RINGING"]);
    // default behaviour: answer after 2 s
    h.advance(2);
    assert_eq!(h.statuses(&id).await, vec!["RINGING", "ACCEPTED"]);
    let (s, _) =
        h.call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "terminate" })).await;
    assert_eq!(s, 200);
    let t = &h.call_events(&id, "terminate").await[0];
    assert_eq!(t["status"], "COMPLETED");
    assert_eq!(t["duration"], 0);
    assert_eq!(t["biz_opaque_callback_data"], "campaign-1");
}

#[tokio::test]
async fn duplicate_call_is_138003() {
    let h = Harness::new().await;
    grant_temporary(&h).await;
    let (_p, offer) = business_offer();
    let (s, _) = h.call_action(connect_body(&offer)).await;
    assert_eq!(s, 200);
    let (s, v) = h.call_action(connect_body(&offer)).await;
    assert_eq!(s, 400);
    assert_error(&v, 138003);
}

#[tokio::test]
async fn rejecting_user_sends_rejected_then_failed_terminate() {
    let h = Harness::new().await;
    grant_temporary(&h).await;
    let (s, _) = h
        .sandbox(
            "PUT",
            &format!("/sandbox/users/+{USER}/behaviour"),
            Some(json!({ "on_call": "reject", "after_seconds": 3 })),
        )
        .await;
    assert_eq!(s, 200);
    let (_p, offer) = business_offer();
    let (_, v) = h.call_action(connect_body(&offer)).await;
    let id = v["calls"][0]["id"].as_str().unwrap().to_string();
    h.advance(3);
    assert_eq!(h.statuses(&id).await, vec!["RINGING", "REJECTED"]);
    let t = &h.call_events(&id, "terminate").await[0];
    assert_eq!(t["status"], "FAILED");
    assert!(t.get("duration").is_none());
}

#[tokio::test]
async fn four_unanswered_calls_revoke_permission_with_automatic_reject() {
    let h = Harness::new().await;
    grant_temporary(&h).await;
    h.sandbox("PUT", &format!("/sandbox/users/{USER}/behaviour"), Some(json!({ "on_call": "ignore" }))).await;
    let (_p, offer) = business_offer();
    for i in 0..4 {
        let (s, v) = h.call_action(connect_body(&offer)).await;
        assert_eq!(s, 200, "call {i}: {v}");
        let id = v["calls"][0]["id"].as_str().unwrap().to_string();
        h.advance(45);
        let t = &h.call_events(&id, "terminate").await[0];
        assert_eq!(t["status"], "FAILED");
        assert!(t.get("duration").is_none());
        let automatic: Vec<Value> = h
            .permission_replies()
            .await
            .into_iter()
            .filter(|m| m["interactive"]["call_permission_reply"]["response_source"] == "automatic")
            .collect();
        assert_eq!(automatic.len(), usize::from(i == 3), "after call {i}");
    }
    let revoke = h.permission_replies().await.pop().unwrap();
    assert!(revoke.get("context").is_none());
    assert_eq!(revoke["interactive"]["call_permission_reply"]["response"], "reject");
    let (s, v) = h.call_action(connect_body(&offer)).await;
    assert_eq!(s, 401);
    assert_error(&v, 138006);
    let (_, v) = h.graph("GET", &format!("{PID}/call_permissions?user_wa_id={USER}"), None).await;
    assert_eq!(v["permission"]["status"], "no_permission");
}

#[tokio::test]
async fn temporary_permission_lasts_seven_days() {
    let h = Harness::new().await;
    grant_temporary(&h).await;
    let (_, v) = h.graph("GET", &format!("{PID}/call_permissions?user_wa_id={USER}"), None).await;
    assert_eq!(v["permission"]["status"], "temporary");
    assert_eq!(v["permission"]["expiration_time"], h.sim.now_ms() / 1000 + 604_800);
    h.advance(7 * 86_400 - 1);
    let (_, v) = h.graph("GET", &format!("{PID}/call_permissions?user_wa_id={USER}"), None).await;
    assert_eq!(v["permission"]["status"], "temporary");
    h.advance(1);
    let (_, v) = h.graph("GET", &format!("{PID}/call_permissions?user_wa_id={USER}"), None).await;
    assert_eq!(v["permission"]["status"], "no_permission");
    let (_p, offer) = business_offer();
    let (_, v) = h.call_action(connect_body(&offer)).await;
    assert_error(&v, 138006);
}

#[tokio::test]
async fn permission_request_quota_is_138009_and_resets_on_a_connected_call() {
    let h = Harness::new().await;
    let (s, _) = h.request_permission(USER).await;
    assert_eq!(s, 200);
    let (s, v) = h.request_permission(USER).await;
    assert_eq!(s, 400);
    assert_error(&v, 138009);
    let (_, v) = h.graph("GET", &format!("{PID}/call_permissions?user_wa_id={USER}"), None).await;
    let req = &v["actions"][0];
    assert_eq!(req["action_name"], "send_call_permission_request");
    assert_eq!(req["can_perform_action"], false);
    assert_eq!(
        req["limits"][0],
        json!({ "time_period": "PT24H", "max_allowed": 1, "current_usage": 1,
                                         "limit_expiration_time": h.sim.now_ms() / 1000 + 86_400 })
    );
    h.advance(86_400);
    let (s, _) = h.request_permission(USER).await;
    assert_eq!(s, 200, "second request after 24 h");
    h.advance(86_400);
    let (s, v) = h.request_permission(USER).await;
    assert_eq!(s, 400, "third request inside 7 days");
    assert_error(&v, 138009);
    // user grants temporary (answering the pending request) and a call connects: quota resets
    h.grant(USER, "temporary").await;
    let (_p, offer) = business_offer();
    let (_, v) = h.call_action(connect_body(&offer)).await;
    let id = v["calls"][0]["id"].as_str().unwrap().to_string();
    h.advance(2);
    h.call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "terminate" })).await;
    let (s, v) = h.request_permission(USER).await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn permanent_permission_scenarios_and_138017() {
    let h = Harness::new().await;
    // permanent from the business profile: no pending request -> no context
    let (s, _) = h.grant(USER, "permanent").await;
    assert_eq!(s, 200);
    let r = h.permission_replies().await.pop().unwrap();
    assert!(r.get("context").is_none());
    assert_eq!(r["interactive"]["call_permission_reply"]["is_permanent"], true);
    assert!(r["interactive"]["call_permission_reply"].get("expiration_timestamp").is_none());
    let (_, v) = h.graph("GET", &format!("{PID}/call_permissions?user_wa_id={USER}"), None).await;
    assert_eq!(v["permission"], json!({ "status": "permanent" }));
    let (s, v) = h.request_permission(USER).await;
    assert_eq!(s, 400);
    assert_error(&v, 138017);
}

#[tokio::test]
async fn permanent_accept_and_reject_after_a_request_carry_its_context() {
    let h = Harness::new().await;
    let (_, v) = h.request_permission(USER).await;
    let wamid = v["messages"][0]["id"].as_str().unwrap().to_string();
    h.grant(USER, "reject").await;
    let r = h.permission_replies().await.pop().unwrap();
    assert_eq!(r["context"]["id"], wamid.as_str());
    assert_eq!(r["interactive"]["call_permission_reply"]["response"], "reject");
    assert_eq!(r["interactive"]["call_permission_reply"]["response_source"], "user_action");
    // rejecting with nothing pending is refused by the scenario API
    let (s, _) = h.grant(USER, "reject").await;
    assert_eq!(s, 409);
    h.advance(86_400);
    let (_, v) = h.request_permission(USER).await;
    let wamid = v["messages"][0]["id"].as_str().unwrap().to_string();
    h.grant(USER, "permanent").await;
    let r = h.permission_replies().await.pop().unwrap();
    assert_eq!(r["context"]["id"], wamid.as_str());
    assert_eq!(r["interactive"]["call_permission_reply"]["is_permanent"], true);
}

#[tokio::test]
async fn connected_call_quota_is_138012_with_next_allowed_time() {
    let mut cfg = config();
    cfg.limits = Limits { connected_calls_per_24h: 2, ..Limits::default() };
    let h = Harness::with(cfg).await;
    h.grant(USER, "permanent").await;
    let (_p, offer) = business_offer();
    let first = h.sim.now_ms() / 1000;
    for _ in 0..2 {
        let (_, v) = h.call_action(connect_body(&offer)).await;
        let id = v["calls"][0]["id"].as_str().unwrap().to_string();
        h.advance(2);
        h.call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "terminate" })).await;
    }
    let (s, v) = h.call_action(connect_body(&offer)).await;
    assert_eq!(s, 400);
    assert_error(&v, 138012);
    let next = first + 2 + 86_400;
    assert!(v["error"]["error_data"]["details"].as_str().unwrap().contains(&next.to_string()), "{v}");
    let (_, p) = h.graph("GET", &format!("{PID}/call_permissions?user_wa_id={USER}"), None).await;
    let start = &p["actions"][1];
    assert_eq!(start["action_name"], "start_call");
    assert_eq!(start["can_perform_action"], false);
    assert_eq!(start["limits"][0]["current_usage"], 2);
    assert_eq!(start["limits"][0]["limit_expiration_time"], next);
    // reaching the limit does not revoke the permission
    assert_eq!(p["permission"]["status"], "permanent");
}

#[tokio::test]
async fn us_business_numbers_cannot_call_138013_and_disabled_calling_is_138000() {
    let mut cfg = config();
    cfg.numbers = vec![
        BusinessNumber {
            phone_number_id: PID.into(),
            display_phone_number: "+1 555 010 0001".into(),
            waba_id: WABA.into(),
            verified_name: "US biz".into(),
            calling_enabled: true,
        },
        BusinessNumber {
            phone_number_id: "100000000000002".into(),
            display_phone_number: "+91 98000 00001".into(),
            waba_id: WABA.into(),
            verified_name: "IN biz".into(),
            calling_enabled: false,
        },
    ];
    let h = Harness::with(SimConfig { ..cfg }).await;
    let (_p, offer) = business_offer();
    let (s, v) = h.call_action(connect_body(&offer)).await;
    assert_eq!(s, 400);
    assert_error(&v, 138013);
    let (_, v) = h.graph("GET", "100000000000002/settings", None).await;
    assert_eq!(v["calling"]["status"], "NOT_SET");
    let (s, v) = h.graph("POST", "100000000000002/calls", Some(connect_body(&offer))).await;
    assert_eq!(s, 401);
    assert_error(&v, 138000);
}

#[tokio::test]
async fn sip_enabled_blocks_graph_calls_with_131055() {
    let h = Harness::new().await;
    let (s, v) = h
        .graph("POST", &format!("{PID}/settings"),
               Some(json!({ "calling": { "sip": { "status": "ENABLED", "servers": [{ "hostname": "sip.example.com" }] } } })))
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = h.graph("GET", &format!("{PID}/settings"), None).await;
    assert_eq!(v["calling"]["sip"]["servers"][0]["port"], 5061);
    let (_p, offer) = business_offer();
    let (_, v) = h.call_action(connect_body(&offer)).await;
    assert_error(&v, 131055);
    let (s, _) = h
        .sandbox("POST", "/sandbox/calls/inbound", Some(json!({ "to": PID, "from": "+919876543210" })))
        .await;
    assert_eq!(s, 409);
}

#[tokio::test]
async fn connect_validates_its_request() {
    let h = Harness::new().await;
    h.grant(USER, "permanent").await;
    let (_p, offer) = business_offer();
    let mut b = connect_body(&offer);
    b["session"]["sdp_type"] = json!("answer");
    let (_, v) = h.call_action(b).await;
    assert_error(&v, 100);
    let mut b = connect_body(&offer);
    b["biz_opaque_callback_data"] = json!("x".repeat(513));
    let (_, v) = h.call_action(b).await;
    assert_error(&v, 100);
    let mut b = connect_body(&offer);
    b["to"] = json!("12");
    let (_, v) = h.call_action(b).await;
    assert_error(&v, 100);
    // the legacy connection form is accepted
    let legacy = json!({ "sdp": offer, "type": "offer" }).to_string();
    let (s, v) = h
        .call_action(json!({ "messaging_product": "whatsapp", "to": USER, "action": "connect",
                              "connection": { "webrtc": { "sdp": legacy } } }))
        .await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn concurrency_initiation_and_permission_check_rate_limits() {
    let mut cfg = config();
    cfg.limits = Limits {
        concurrent_calls: 1,
        call_initiations_per_24h: 2,
        call_permission_checks_per_second: 2,
        ..Limits::default()
    };
    let h = Harness::with(cfg).await;
    h.grant(USER, "permanent").await;
    h.grant("919876543299", "permanent").await;
    let (_p, offer) = business_offer();
    // 138002: one live call already
    let uic = h.inbound("+447700900123").await;
    let (s, v) = h.call_action(connect_body(&offer)).await;
    assert_eq!(s, 429);
    assert_error(&v, 138002);
    let (s, v) = h
        .sandbox("POST", "/sandbox/calls/inbound", Some(json!({ "to": PID, "from": "+447700900124" })))
        .await;
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("concurrent_call_limit")));
    h.call_action(json!({ "messaging_product": "whatsapp", "call_id": uic, "action": "reject" })).await;
    // 138005: two initiations per 24 h
    for user in [USER, "919876543299"] {
        let mut b = connect_body(&offer);
        b["to"] = json!(user);
        let (s, v) = h.call_action(b).await;
        assert_eq!(s, 200, "{v}");
        let id = v["calls"][0]["id"].as_str().unwrap().to_string();
        h.call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "terminate" })).await;
    }
    let (s, v) = h.call_action(connect_body(&offer)).await;
    assert_eq!(s, 429);
    assert_error(&v, 138005);
    h.advance(86_400);
    let (s, _) = h.call_action(connect_body(&offer)).await;
    assert_eq!(s, 200);
    // 613: permission checks per second
    let path = format!("{PID}/call_permissions?user_wa_id={USER}");
    assert_eq!(h.graph("GET", &path, None).await.0, 200);
    assert_eq!(h.graph("GET", &path, None).await.0, 200);
    let (s, v) = h.graph("GET", &path, None).await;
    assert_eq!(s, 429);
    assert_error(&v, 613);
    h.advance(1);
    assert_eq!(h.graph("GET", &path, None).await.0, 200);
}

#[tokio::test]
async fn connect_can_target_a_bsuid_recipient() {
    let h = Harness::new().await;
    h.grant(USER, "permanent").await;
    let user_id = h.permission_replies().await[0].clone();
    assert_eq!(user_id["from"], USER);
    let bsuid = h
        .changes()
        .await
        .into_iter()
        .find_map(|(f, v)| {
            (f == "messages").then(|| v["contacts"][0]["user_id"].as_str().map(str::to_owned)).flatten()
        })
        .unwrap();
    let (_p, offer) = business_offer();
    let (s, v) = h
        .call_action(json!({ "messaging_product": "whatsapp", "recipient": bsuid, "action": "connect",
                              "session": { "sdp_type": "offer", "sdp": offer } }))
        .await;
    assert_eq!(s, 200, "{v}");
    let id = v["calls"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(h.call_events(&id, "connect").await[0]["to"], USER);
    let (_, v) = h
        .call_action(json!({ "messaging_product": "whatsapp", "recipient": "US.1", "action": "connect",
                              "session": { "sdp_type": "offer", "sdp": offer } }))
        .await;
    assert_error(&v, 100);
}

#[tokio::test]
async fn meta_sandbox_limits_are_relaxed() {
    let mut cfg = config();
    cfg.limits = Limits::meta_sandbox();
    let h = Harness::with(cfg).await;
    for _ in 0..25 {
        let (s, v) = h.request_permission(USER).await;
        assert_eq!(s, 200, "{v}");
    }
    let (_, v) = h.request_permission(USER).await;
    assert_error(&v, 138009);
}

#[tokio::test]
async fn default_behaviour_applies_to_users_without_their_own() {
    let h = Harness::new().await;
    h.grant(USER, "permanent").await;
    let (s, _) = h
        .sandbox("PUT", "/sandbox/behaviour", Some(json!({ "on_call": "reject", "after_seconds": 1 })))
        .await;
    assert_eq!(s, 200);
    let (_, v) = h.sandbox("GET", "/sandbox/behaviour", None).await;
    assert_eq!(v["behaviour"]["on_call"], "reject");
    let (_p, offer) = business_offer();
    let (_, v) = h.call_action(connect_body(&offer)).await;
    let id = v["calls"][0]["id"].as_str().unwrap().to_string();
    h.advance(1);
    assert_eq!(h.statuses(&id).await, vec!["RINGING", "REJECTED"]);
}

#[tokio::test]
async fn a_user_can_answer_permission_requests_automatically() {
    let h = Harness::new().await;
    let (s, _) = h
        .sandbox(
            "PUT",
            &format!("/sandbox/users/{USER}/behaviour"),
            Some(json!({ "on_call": "answer", "after_seconds": 1, "on_permission_request": "temporary" })),
        )
        .await;
    assert_eq!(s, 200);
    let (_, v) = h.request_permission(USER).await;
    let wamid = v["messages"][0]["id"].as_str().unwrap().to_string();
    let r = h.permission_replies().await.pop().expect("automatic reply");
    assert_eq!(r["context"]["id"], wamid.as_str());
    assert_eq!(r["interactive"]["call_permission_reply"]["response_source"], "user_action");
    let (_p, offer) = business_offer();
    let (s, v) = h.call_action(connect_body(&offer)).await;
    assert_eq!(s, 200, "{v}");
}
