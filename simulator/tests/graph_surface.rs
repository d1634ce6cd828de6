//! Auth, settings validation, call_permissions shape, messages and templates (creation, lookup,
//! deletion, review webhooks) over real HTTP.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn bearer_token_version_and_object_ids_are_checked() {
    let h = Harness::new().await;
    let (s, v) = h.graph_as("GET", &format!("/v23.0/{PID}/settings"), None, None).await;
    assert_eq!(s, 401);
    assert_error(&v, 190);
    let (s, v) = h.graph_as("GET", &format!("/v23.0/{PID}/settings"), None, Some("wrong")).await;
    assert_eq!(s, 401);
    assert_error(&v, 190);
    let (s, v) = h.graph("GET", "999/settings", None).await;
    assert_eq!(s, 400);
    assert_error(&v, 100);
    assert_eq!(v["error"]["error_subcode"], 33);
    let (s, v) = h.graph_as("GET", &format!("/v14.0/{PID}/settings"), None, Some(TOKEN)).await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = h.graph_as("GET", &format!("/v25.0/{PID}/settings"), None, Some(TOKEN)).await;
    assert_eq!(s, 200);
    let (s, v) = h.graph_as("POST", &format!("/v23.0/{PID}/calls"), None, Some(TOKEN)).await;
    assert_eq!(s, 400);
    assert_error(&v, 100);
}

#[tokio::test]
async fn settings_round_trip_and_metas_validation_rules() {
    let h = Harness::new().await;
    let (_, v) = h.graph("GET", &format!("{PID}/settings"), None).await;
    assert_eq!(
        v["calling"],
        json!({ "status": "ENABLED", "call_icon_visibility": "NOT_SET", "callback_permission_status": "NOT_SET" })
    );
    let hours = |weekly: Value, holidays: Option<Value>| {
        let mut ch =
            json!({ "status": "ENABLED", "timezone_id": "America/Manaus", "weekly_operating_hours": weekly });
        if let Some(hs) = holidays {
            ch["holiday_schedule"] = hs;
        }
        json!({ "calling": { "call_hours": ch } })
    };
    let day = |d: &str, o: &str, c: &str| json!({ "day_of_week": d, "open_time": o, "close_time": c });
    let bad_bodies = vec![
        json!({ "calling": { "status": "ON" } }),
        json!({ "calling": { "call_icon_visibility": "SOMETIMES" } }),
        json!({ "calling": { "mystery": true } }),
        json!({ "calling": { "call_icons": { "restrict_to_user_countries": ["usa"] } } }),
        json!({ "calling": { "audio": { "additional_codecs": ["G729"] } } }),
        hours(json!([]), None),
        hours(json!([day("FUNDAY", "0900", "1700")]), None),
        hours(json!([day("MONDAY", "1700", "0900")]), None),
        hours(json!([day("MONDAY", "9:00", "1700")]), None),
        hours(json!([day("MONDAY", "2500", "2600")]), None),
        hours(json!([day("MONDAY", "0800", "1000"), day("MONDAY", "0930", "1200")]), None),
        hours(json!([day("MONDAY", "0800", "0900"), day("MONDAY", "1000", "1100"), day("MONDAY", "1200", "1300")]), None),
        hours(json!([day("MONDAY", "0800", "0900")]), Some(json!([{ "date": "2025-12-30", "start_time": "0000", "end_time": "2359" }]))),
        hours(json!([day("MONDAY", "0800", "0900")]), Some(json!([{ "date": "01/02/2026", "start_time": "0000", "end_time": "2359" }]))),
        hours(json!([day("MONDAY", "0800", "0900")]), Some(json!((0..21).map(|i| json!({ "date": format!("2026-02-{:02}", i + 1), "start_time": "0000", "end_time": "2359" })).collect::<Vec<_>>()))),
        json!({ "calling": { "call_hours": { "status": "ENABLED", "timezone_id": "Mars/Olympus", "weekly_operating_hours": [day("MONDAY", "0800", "0900")] } } }),
        json!({ "calling": { "sip": { "status": "ENABLED", "servers": [{ "hostname": "h", "request_uri_user_params": { "k": "v".repeat(129) } }] } } }),
    ];
    for b in bad_bodies {
        let (s, v) = h.graph("POST", &format!("{PID}/settings"), Some(b.clone())).await;
        assert_eq!(s, 400, "{b} was accepted");
        assert_error(&v, 100);
    }
    let good = hours(
        json!([day("MONDAY", "0400", "1020"), day("MONDAY", "1100", "1800")]),
        Some(json!([{ "date": "2026-01-01", "start_time": "0000", "end_time": "2359" }])),
    );
    let (s, v) = h.graph("POST", &format!("{PID}/settings"), Some(good)).await;
    assert_eq!((s, v), (200, json!({ "success": true })));
    let (_, v) = h.graph("GET", &format!("{PID}/settings"), None).await;
    assert_eq!(v["calling"]["call_hours"]["holiday_schedule"][0]["date"], "2026-01-01");
    // omitting holiday_schedule deletes it (call_hours is replaced whole)
    let (s, _) = h
        .graph("POST", &format!("{PID}/settings"), Some(hours(json!([day("TUESDAY", "0900", "1700")]), None)))
        .await;
    assert_eq!(s, 200);
    let (_, v) = h.graph("GET", &format!("{PID}/settings"), None).await;
    assert!(v["calling"]["call_hours"].get("holiday_schedule").is_none(), "{v}");
    assert_eq!(v["calling"]["call_hours"]["weekly_operating_hours"][0]["day_of_week"], "TUESDAY");
    let (s, _) = h
        .graph(
            "POST",
            &format!("{PID}/settings"),
            Some(json!({ "calling": { "status": "DISABLED", "call_icon_visibility": "DISABLE_ALL",
                                         "call_icons": { "restrict_to_user_countries": ["US", "BR"] } } })),
        )
        .await;
    assert_eq!(s, 200);
    let (_, v) = h.graph("GET", &format!("{PID}/settings"), None).await;
    assert_eq!(v["calling"]["status"], "DISABLED");
    let update = h.changes().await.into_iter().rfind(|(f, _)| f == "account_settings_update").unwrap().1;
    assert_eq!(update["type"], "PHONE_NUMBER_SETTINGS");
    assert_eq!(update["phone_number_settings"]["phone_number_id"], PID);
    assert_eq!(update["phone_number_settings"]["calling"]["status"], "DISABLED");
    assert!(update["timestamp"].is_string());
    assert_eq!(v["calling"]["call_icon_visibility"], "DISABLE_ALL");
    let (s, _) = h
        .sandbox("POST", "/sandbox/calls/inbound", Some(json!({ "to": PID, "from": "+919876543210" })))
        .await;
    assert_eq!(s, 409, "calling disabled: the user cannot call");
}

#[tokio::test]
async fn call_permissions_has_metas_shape() {
    let h = Harness::new().await;
    let (s, v) = h.graph("GET", &format!("{PID}/call_permissions"), None).await;
    assert_eq!(s, 400);
    assert_error(&v, 100);
    let (s, v) = h.graph("GET", &format!("{PID}/call_permissions?user_wa_id=919876543210"), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        v,
        json!({
            "messaging_product": "whatsapp",
            "permission": { "status": "no_permission" },
            "actions": [
                { "action_name": "send_call_permission_request", "can_perform_action": true,
                  "limits": [ { "time_period": "PT24H", "max_allowed": 1, "current_usage": 0 },
                              { "time_period": "P7D", "max_allowed": 2, "current_usage": 0 } ] },
                { "action_name": "start_call", "can_perform_action": false,
                  "limits": [ { "time_period": "PT24H", "max_allowed": 100, "current_usage": 0 } ] }
            ]
        })
    );
}

#[tokio::test]
async fn voice_call_messages_follow_metas_limits_and_emit_statuses() {
    let h = Harness::new().await;
    let msg = |params: Value| {
        json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": "+919876543210",
                "type": "interactive",
                "interactive": { "type": "voice_call", "body": { "text": "Call us" },
                                 "action": { "name": "voice_call", "parameters": params } } })
    };
    let (s, v) = h
        .graph(
            "POST",
            &format!("{PID}/messages"),
            Some(msg(json!({ "display_text": "Call on WhatsApp", "ttl_minutes": 100, "payload": "p" }))),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["contacts"][0], json!({ "input": "+919876543210", "wa_id": "919876543210" }));
    let wamid = v["messages"][0]["id"].as_str().unwrap().to_string();
    assert!(wamid.starts_with("wamid."));
    let statuses: Vec<String> = h
        .changes()
        .await
        .into_iter()
        .filter(|(f, _)| f == "messages")
        .flat_map(|(_, v)| v["statuses"].as_array().cloned().unwrap_or_default())
        .filter(|s| s["id"] == wamid.as_str())
        .map(|s| s["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, vec!["sent", "delivered"]);
    for bad in [
        json!({ "display_text": "x".repeat(21) }),
        json!({ "ttl_minutes": 0 }),
        json!({ "ttl_minutes": 43_201 }),
        json!({ "payload": "x".repeat(513) }),
    ] {
        let (s, v) = h.graph("POST", &format!("{PID}/messages"), Some(msg(bad.clone()))).await;
        assert_eq!(s, 400, "{bad}");
        assert!(v["error"]["code"].is_u64());
    }
    // header is not supported on free-form permission requests
    let (s, _) = h
        .graph("POST", &format!("{PID}/messages"),
               Some(json!({ "messaging_product": "whatsapp", "to": "919876543210", "type": "interactive",
                            "interactive": { "type": "call_permission_request", "header": { "type": "text", "text": "hi" },
                                             "action": { "name": "call_permission_request" } } })))
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn templates_with_voice_call_buttons_and_permission_requests() {
    let h = Harness::new().await;
    let create = |name: &str, components: Value| json!({ "name": name, "language": "en_US", "category": "UTILITY", "components": components });
    let button = |ttl: i64| json!({ "type": "BUTTONS", "buttons": [{ "type": "voice_call", "text": "Call Now", "ttl_minutes": ttl }] });
    let path = format!("{WABA}/message_templates");
    let (s, v) = h
        .graph(
            "POST",
            &path,
            Some(create("call_me", json!([{ "type": "BODY", "text": "Hi {{1}}" }, button(1440)]))),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "APPROVED");
    let (s, v) =
        h.graph("POST", &path, Some(create("call_me", json!([{ "type": "BODY", "text": "dup" }])))).await;
    assert_eq!(s, 400, "{v}");
    for (name, comps) in [
        ("short_ttl", json!([{ "type": "BODY", "text": "x" }, button(1000)])),
        ("long_ttl", json!([{ "type": "BODY", "text": "x" }, button(43_201)])),
        ("no_body", json!([button(1440)])),
        (
            "long_text",
            json!([{ "type": "BODY", "text": "x" }, { "type": "BUTTONS", "buttons": [{ "type": "voice_call", "text": "x".repeat(21) }] }]),
        ),
        ("Bad-Name", json!([{ "type": "BODY", "text": "x" }])),
    ] {
        let (s, v) = h.graph("POST", &path, Some(create(name, comps))).await;
        assert_eq!(s, 400, "{name}: {v}");
        assert_error(&v, 100);
    }
    let (s, v) = h
        .graph(
            "POST",
            &path,
            Some(json!({ "name": "x", "language": "en_US", "category": "AUTHENTICATION",
                                                       "components": [{ "type": "BODY", "text": "x" }] })),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = h
        .graph(
            "POST",
            &path,
            Some(create(
                "may_we_call",
                json!([{ "type": "BODY", "text": "May we call?" }, { "type": "call_permission_request" }]),
            )),
        )
        .await;
    assert_eq!(s, 200);
    let (_, list) = h.graph("GET", &path, None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);

    let send = |name: &str, components: Value| {
        json!({ "messaging_product": "whatsapp", "to": "919876543210", "type": "template",
                "template": { "name": name, "language": { "code": "en_US" }, "components": components } })
    };
    let ok = json!([
        { "type": "body", "parameters": [{ "type": "text", "text": "Ada" }] },
        { "type": "button", "sub_type": "voice_call", "index": 0,
          "parameters": [{ "type": "ttl_minutes", "ttl_minutes": 100 }, { "type": "payload", "payload": "payload data" }] }
    ]);
    let (s, v) = h.graph("POST", &format!("{PID}/messages"), Some(send("call_me", ok))).await;
    assert_eq!(s, 200, "{v}");
    let bad_ttl = json!([
        { "type": "body", "parameters": [{ "type": "text", "text": "Ada" }] },
        { "type": "button", "sub_type": "voice_call", "index": 0, "parameters": [{ "type": "ttl_minutes", "ttl_minutes": 0 }] }
    ]);
    let (s, _) = h.graph("POST", &format!("{PID}/messages"), Some(send("call_me", bad_ttl))).await;
    assert_eq!(s, 400);
    let (s, v) = h.graph("POST", &format!("{PID}/messages"), Some(send("call_me", json!([])))).await;
    assert_eq!(s, 400, "missing body parameter");
    assert_error(&v, 132000);
    let (s, v) = h.graph("POST", &format!("{PID}/messages"), Some(send("nope", json!([])))).await;
    assert_eq!(s, 404);
    assert_error(&v, 132001);
    // a permission-request template counts toward the request quota
    let (s, _) = h.graph("POST", &format!("{PID}/messages"), Some(send("may_we_call", json!([])))).await;
    assert_eq!(s, 200);
    let (s, v) = h.request_permission("919876543210").await;
    assert_eq!(s, 400);
    assert_error(&v, 138009);
}

#[tokio::test]
async fn sandbox_numbers_behaviour_and_media_endpoints() {
    let h = Harness::new().await;
    let (_, v) = h.sandbox("GET", "/sandbox/numbers", None).await;
    assert_eq!(v["numbers"][0]["phone_number_id"], PID);
    assert_eq!(v["numbers"][0]["display_phone_number"], "+44 7700 900001");
    assert_eq!(v["numbers"][0]["waba_id"], WABA);
    let (s, _) =
        h.sandbox("PUT", "/sandbox/users/+15550001111/behaviour", Some(json!({ "on_call": "dance" }))).await;
    assert_eq!(s, 400);
    let (s, v) = h
        .sandbox(
            "PUT",
            "/sandbox/users/+15550001111/behaviour",
            Some(json!({ "on_call": "ignore", "after_seconds": 1 })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let id = h.inbound("+15550001111").await;
    let (s, v) = h.sandbox("GET", &format!("/sandbox/calls/{id}/media"), None).await;
    assert_eq!(s, 200);
    for k in ["rx_packets", "rx_bytes", "rx_level", "tx_packets"] {
        assert!(v[k].is_number(), "{k} in {v}");
    }
    let (s, _) = h.sandbox("GET", "/sandbox/calls/wacid.nope/media", None).await;
    assert_eq!(s, 404);
    h.sim.flush_webhooks().await;
    let (_, v) = h.sandbox("GET", "/sandbox/webhooks", None).await;
    let d = v["deliveries"].as_array().unwrap();
    assert!(!d.is_empty());
    assert!(d[0]["signature"].as_str().unwrap().starts_with("sha256="));
    let (s, v) = h.sandbox("POST", "/sandbox/clock/advance", Some(json!({ "seconds": 45 }))).await;
    assert_eq!(s, 200, "{v}");
    let t = &h.call_events(&id, "terminate").await;
    assert_eq!(t.len(), 1);
}

#[tokio::test]
async fn graph_router_can_be_nested_under_a_prefix() {
    let sim = simulator::Simulator::new(config());
    let app = axum::Router::new().nest("/graph", sim.graph_router()).merge(sim.sandbox_router());
    let base = serve(app).await;
    let http = reqwest::Client::new();
    let r = http.get(format!("{base}/graph/v23.0/{PID}/settings")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http.get(format!("{base}/sandbox/numbers")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn phone_number_and_waba_objects() {
    let h = Harness::new().await;
    let (s, v) = h.graph("GET", PID, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["display_phone_number"], "+44 7700 900001");
    assert_eq!(v["verified_name"], "Switchboard Sandbox");
    let (_, v) = h.graph("GET", &format!("{WABA}/phone_numbers"), None).await;
    assert_eq!(v["data"][0]["id"], PID);
    let (s, v) = h.graph("GET", "123", None).await;
    assert_eq!(s, 400);
    assert_error(&v, 100);
    let (s, v) = h.graph("POST", &format!("{PID}/call"), Some(json!({}))).await;
    assert_eq!(s, 400);
    assert_error(&v, 2500);
}

#[tokio::test]
async fn templates_are_deleted_by_name_and_reviews_send_signed_status_webhooks() {
    let h = Harness::new().await;
    let path = format!("{WABA}/message_templates");
    let create = |language: &str| {
        json!({ "name": "call_me", "language": language, "category": "MARKETING",
                "components": [{ "type": "BODY", "text": "Call us" }] })
    };
    let (_, en) = h.graph("POST", &path, Some(create("en_US"))).await;
    let (_, es) = h.graph("POST", &path, Some(create("es"))).await;
    let en_id = en["id"].as_str().unwrap().to_owned();

    // Meta's review: the template takes the status, and a signed webhook tells the WABA.
    let value = h.sim.set_template_status(&en_id, "rejected", Some("INVALID_FORMAT")).unwrap();
    assert_eq!(value["event"], "REJECTED");
    let changes = h.changes().await;
    let (field, sent) = changes.last().unwrap();
    assert_eq!(field, "message_template_status_update");
    assert_eq!(sent["message_template_id"].as_u64().map(|id| id.to_string()), Some(en_id.clone()));
    assert_eq!(
        (&sent["message_template_name"], &sent["message_template_language"], &sent["reason"]),
        (&json!("call_me"), &json!("en_US"), &json!("INVALID_FORMAT"))
    );
    let received = h.receiver.got.lock().unwrap().last().cloned().unwrap();
    let signature = received.signature.unwrap();
    assert!(simulator::webhook::verify_signature(SECRET, &received.body, &signature));
    let (_, listed) = h.graph("GET", &format!("{path}?name=call_me"), None).await;
    let statuses: Vec<&str> =
        listed["data"].as_array().unwrap().iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.contains(&"REJECTED") && statuses.contains(&"APPROVED"), "{listed}");
    assert!(h.sim.set_template_status("123", "APPROVED", None).is_err(), "unknown template");
    assert!(h.sim.set_template_status(&en_id, "not a status", None).is_err());

    // Delete: `name` is required; an unknown template is Meta's 100; `hsm_id` narrows.
    let (s, v) = h.graph("DELETE", &path, None).await;
    assert_eq!(s, 400);
    assert_error(&v, 100);
    let (s, v) = h.graph("DELETE", &format!("{path}?name=nope"), None).await;
    assert_eq!(s, 400);
    assert_error(&v, 100);
    assert!(v["error"]["error_data"]["details"].as_str().unwrap().contains("not found"), "{v}");
    let (s, v) = h.graph("DELETE", &format!("{path}?name=call_me&hsm_id={en_id}"), None).await;
    assert_eq!((s, &v), (200, &json!({ "success": true })));
    let (_, listed) = h.graph("GET", &format!("{path}?name=call_me"), None).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["id"], es["id"]);
    let (s, _) = h.graph("DELETE", &format!("{path}?name=call_me"), None).await;
    assert_eq!(s, 200);
    assert!(h.sim.templates(WABA).is_empty());
    let (s, v) = h.graph_as("DELETE", &format!("/v23.0/{path}?name=call_me"), None, Some("wrong")).await;
    assert_eq!(s, 401);
    assert_error(&v, 190);
}
