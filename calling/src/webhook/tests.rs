//! Fixtures follow the reference's samples and the real capture (§3).

use super::*;
use crate::call_state::CallEventKind;
use proptest::prelude::*;
use serde_json::json;

const PHONE_NUMBER_ID: &str = "518638374672395";
const SDP: &str = "v=0\r\no=- 1760681506762 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\nm=audio 3484 UDP/TLS/RTP/SAVPF 111 126\r\n";

fn envelope(changes: Value) -> Value {
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": "553133154547046", "changes": changes }] })
}

fn calls_change(value_items: Value) -> Value {
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15551441906", "phone_number_id": PHONE_NUMBER_ID },
    });
    value.as_object_mut().unwrap().extend(value_items.as_object().unwrap().clone());
    json!({ "field": "calls", "value": value })
}

fn events(body: &Value) -> Vec<CallEngineEvent> {
    events_from_body(body.to_string().as_bytes()).unwrap()
}

fn call_event(event: &CallEngineEvent) -> &CallEvent {
    match &event.event {
        EngineEvent::Call(call) => call,
        other => panic!("expected a call event, got {other:?}"),
    }
}

fn inbound_connect(call_id: &str) -> Value {
    json!({
        "id": call_id, "from": "917358580180", "to": "15551441906", "event": "connect",
        "timestamp": "1760681506", "direction": "USER_INITIATED",
        "cta_payload": "order-42",
        "session": { "sdp": SDP, "sdp_type": "offer" }
    })
}

#[test]
fn real_inbound_connect_capture() {
    let body = envelope(json!([calls_change(json!({
        "contacts": [{ "profile": { "name": "Asha" }, "wa_id": "917358580180",
                        "user_id": "US.13491208655302741918", "parent_user_id": "US.ENT.11815799212886844830" }],
        "calls": [inbound_connect("wacid.HBgMOTE3MzU4NTgwMTgwFQIAEhggQUNEODk3OUQ3NzI4MjZBRTZFNEE2MzU3NDEzNDg4RUUcGAsxNTU1MTQ0MTkwNhUCABUKAA==")]
    }))]));
    let events = events(&body);
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.phone_number_id, PHONE_NUMBER_ID);
    assert_eq!(event.waba_id.as_deref(), Some("553133154547046"));
    assert_eq!(event.occurred_at, Some(1_760_681_506_000));
    let call = call_event(event);
    assert_eq!(call.input, CallInput::ConnectReceived { direction: Some(Direction::UserInitiated) });
    assert_eq!(call.session.as_ref().unwrap().sdp, SDP);
    assert_eq!(call.session.as_ref().unwrap().sdp_type.as_deref(), Some("offer"));
    assert_eq!(call.cta_payload.as_deref(), Some("order-42"));
    let contact = call.contact.as_ref().unwrap();
    assert_eq!(contact.name.as_deref(), Some("Asha"));
    assert_eq!(contact.user_id.as_deref(), Some("US.13491208655302741918"));
    assert_eq!(contact.parent_user_id.as_deref(), Some("US.ENT.11815799212886844830"));
    assert!(event.dedupe_key.ends_with(":connect_received"));
}

#[test]
fn outbound_connect_falls_back_to_legacy_connection_sdp() {
    let wrapped = json!({ "sdp": SDP, "type": "answer" }).to_string();
    let body = envelope(json!([calls_change(json!({
        "calls": [{ "id": "wacid.B1", "from": "13175551399", "to": "12185552828", "event": "connect",
                    "timestamp": 1749196895, "direction": "business_initiated",
                    "biz_opaque_callback_data": "TRx334DUDFTI4Mj",
                    "connection": { "webrtc": { "sdp": wrapped } } }]
    }))]));
    let events = events(&body);
    let call = call_event(&events[0]);
    assert_eq!(call.direction, Some(Direction::BusinessInitiated));
    let session = call.session.as_ref().unwrap();
    assert_eq!((session.sdp.as_str(), session.sdp_type.as_deref()), (SDP, Some("answer")));
    assert_eq!(call.biz_opaque_callback_data.as_deref(), Some("TRx334DUDFTI4Mj"));
    assert_eq!(events[0].occurred_at, Some(1_749_196_895_000));
}

#[test]
fn session_wins_over_legacy_connection() {
    let item: payload::CallItem = serde_json::from_value(json!({
        "id": "wacid.X", "session": { "sdp_type": "ANSWER", "sdp": "v=0\r\nnew" },
        "connection": { "webrtc": { "sdp": "{\"sdp\":\"v=0\\r\\nold\",\"type\":\"answer\"}" } }
    }))
    .unwrap();
    let session = item.session_description().unwrap();
    assert_eq!((session.sdp.as_str(), session.sdp_type.as_deref()), ("v=0\r\nnew", Some("answer")));
}

#[test]
fn call_statuses_any_case_and_message_statuses() {
    let body = envelope(json!([calls_change(json!({
        "statuses": [
            { "id": "wacid.B1", "timestamp": "1671644824", "type": "call", "status": "RINGING", "recipient_id": "163155536021" },
            { "id": "wacid.B1", "timestamp": "1671644830", "type": "call", "status": "accepted", "recipient_id": "163155536021" },
            { "id": "wacid.B2", "timestamp": "1671644831", "type": "CALL", "status": "Rejected" },
            { "id": "wamid.M1", "timestamp": "1671644832", "status": "delivered", "recipient_id": "163155536021" },
            { "id": "wacid.B3", "timestamp": "1671644833", "type": "call", "status": "SOMETHING_NEW" }
        ]
    }))]));
    let events = events(&body);
    assert_eq!(events.len(), 5);
    let kinds: Vec<CallEventKind> = events[..3].iter().map(|event| call_event(event).input.kind()).collect();
    assert_eq!(
        kinds,
        vec![CallEventKind::StatusRinging, CallEventKind::StatusAccepted, CallEventKind::StatusRejected]
    );
    assert_eq!(call_event(&events[0]).to.as_deref(), Some("163155536021"));
    match &events[3].event {
        EngineEvent::MessageStatus(status) => {
            assert_eq!((status.message_id.as_str(), status.status.as_str()), ("wamid.M1", "delivered"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(events[4].event, EngineEvent::Unknown { .. }));
    assert_ne!(events[0].dedupe_key, events[1].dedupe_key);
}

#[test]
fn terminate_with_errors_at_both_levels() {
    let error = json!({ "code": 138021, "title": "Media timeout", "message": "no media", "error_data": { "details": "WhatsApp client terminated the call" } });
    let body = envelope(json!([calls_change(json!({
        "calls": [{ "id": "wacid.T1", "from": "917358580180", "to": "15551441906", "event": "terminate",
                    "timestamp": "1760681533", "direction": "USER_INITIATED",
                    "start_time": "1760681513", "end_time": "1760681533", "duration": 20,
                    "status": "FAILED", "errors": [error.clone()] }],
        "errors": [error]
    }))]));
    let events = events(&body);
    assert_eq!(events.len(), 1, "value-level errors repeating the call's are not a second event");
    let call = call_event(&events[0]);
    let CallInput::TerminateReceived { termination } = &call.input else { panic!("{:?}", call.input) };
    assert_eq!(termination.outcome, TerminateOutcome::Failed);
    assert_eq!(termination.duration_seconds, Some(20));
    assert_eq!(termination.started_at, Some(1_760_681_513_000));
    assert_eq!(termination.ended_at, Some(1_760_681_533_000));
    assert_eq!(termination.error_codes, vec![138021]);
    assert_eq!(call.errors[0].details.as_deref(), Some("WhatsApp client terminated the call"));
}

#[test]
fn terminate_takes_value_level_errors_when_the_call_has_none() {
    let body = envelope(json!([calls_change(json!({
        "calls": [{ "id": "wacid.T2", "event": "terminate", "timestamp": "1", "status": "failed" }],
        "errors": [{ "code": "131044", "message": "no payment method" }]
    }))]));
    let call = call_event(&events(&body)[0]).clone();
    let CallInput::TerminateReceived { termination } = call.input else { panic!() };
    assert_eq!(termination.error_codes, vec![131044]);
}

#[test]
fn terminate_status_is_case_insensitive() {
    for status in ["COMPLETED", "Completed", "completed"] {
        let body = envelope(json!([calls_change(json!({
            "calls": [{ "id": "wacid.T3", "event": "terminate", "timestamp": "1", "status": status }]
        }))]));
        let call = call_event(&events(&body)[0]).clone();
        let CallInput::TerminateReceived { termination } = call.input else { panic!() };
        assert_eq!(termination.outcome, TerminateOutcome::Completed, "{status}");
    }
}

#[test]
fn permission_replies_in_every_scenario() {
    let message = |id: &str, context: Option<&str>, reply: Value| {
        let mut message = json!({ "from": "14085551234", "id": id, "timestamp": "1767168000", "type": "interactive",
            "interactive": { "type": "call_permission_reply", "call_permission_reply": reply } });
        if let Some(context) = context {
            message["context"] = json!({ "from": "14085551234", "id": context });
        }
        message
    };
    let body = envelope(json!([{ "field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15551441906", "phone_number_id": PHONE_NUMBER_ID },
        "contacts": [{ "profile": { "name": "Lee" }, "wa_id": "14085551234" }],
        "messages": [
            message("wamid.1", Some("wamid.req"), json!({ "response": "accept", "is_permanent": false, "expiration_timestamp": "1768550400", "response_source": "user_action" })),
            message("wamid.2", Some("wamid.req"), json!({ "response": "accept", "is_permanent": true, "response_source": "user_action" })),
            message("wamid.3", None, json!({ "response": "reject", "response_source": "automatic" })),
            message("wamid.4", Some("wacid.call"), json!({ "response": "accept", "is_permanent": "false", "expiration_timestamp": 1768550400, "response_source": "automatic" })),
            json!({ "from": "14085551234", "id": "wamid.5", "timestamp": "1767168001", "type": "text", "text": { "body": "hi" } })
        ]
    }}]));
    let events = events(&body);
    assert_eq!(events.len(), 5);
    let replies: Vec<&PermissionReply> = events
        .iter()
        .filter_map(|event| match &event.event {
            EngineEvent::PermissionReply(reply) => Some(reply),
            _ => None,
        })
        .collect();
    assert_eq!(replies.len(), 4);
    assert!(replies[0].granted && !replies[0].is_permanent && !replies[0].automatic);
    assert_eq!(replies[0].expires_at, Some(1_768_550_400_000));
    assert_eq!(replies[0].context_id.as_deref(), Some("wamid.req"));
    assert!(replies[1].granted && replies[1].is_permanent);
    assert!(!replies[2].granted && replies[2].automatic && replies[2].context_id.is_none());
    assert!(replies[3].granted && replies[3].automatic && replies[3].expires_at == Some(1_768_550_400_000));
    assert_eq!(replies[0].contact.as_ref().unwrap().name.as_deref(), Some("Lee"));
    assert!(matches!(&events[4].event, EngineEvent::Unknown { field, .. } if field == "messages"));
    assert_eq!(events[4].dedupe_key, "message:wamid.5");
}

#[test]
fn batched_delivery_yields_every_item_of_every_entry_and_change() {
    let second_number = json!({ "field": "calls", "value": {
        "metadata": { "phone_number_id": "222", "display_phone_number": "15550000002" },
        "calls": [inbound_connect("wacid.C3"), inbound_connect("wacid.C4")]
    }});
    let body = json!({ "object": "whatsapp_business_account", "entry": [
        { "id": "waba-1", "changes": [
            calls_change(json!({ "calls": [inbound_connect("wacid.C1"), inbound_connect("wacid.C2")] })),
            second_number
        ]},
        { "id": "waba-2", "changes": [
            calls_change(json!({ "statuses": [{ "id": "wacid.C5", "type": "call", "status": "RINGING", "timestamp": "2" }] }))
        ]}
    ]});
    let events = events(&body);
    let ids: Vec<(&str, &str)> = events
        .iter()
        .map(|event| (event.phone_number_id.as_str(), call_event(event).call_id.as_str()))
        .collect();
    assert_eq!(
        ids,
        vec![
            (PHONE_NUMBER_ID, "wacid.C1"),
            (PHONE_NUMBER_ID, "wacid.C2"),
            ("222", "wacid.C3"),
            ("222", "wacid.C4"),
            (PHONE_NUMBER_ID, "wacid.C5")
        ]
    );
    assert_eq!(events[4].waba_id.as_deref(), Some("waba-2"));
}

#[test]
fn unknown_fields_and_events_are_kept_not_fatal() {
    let body = json!({ "object": "whatsapp_business_account", "new_top_level": 1, "entry": [
        { "id": "waba", "changes": [
            { "field": "account_update", "value": { "event": "ACCOUNT_VIOLATION", "timestamp": 1700000000 } },
            calls_change(json!({ "calls": [
                { "id": "wacid.U1", "event": "transfer", "timestamp": "3" },
                { "no_id": true },
                inbound_connect("wacid.U2")
            ] })),
            "not an object"
        ]},
        17
    ]});
    let events = events(&body);
    assert_eq!(events.len(), 6);
    assert!(matches!(&events[0].event, EngineEvent::Unknown { field, .. } if field == "account_update"));
    assert_eq!(events[0].occurred_at, Some(1_700_000_000_000));
    assert!(matches!(&events[1].event, EngineEvent::Unknown { field, .. } if field == "calls"));
    assert!(matches!(&events[2].event, EngineEvent::Unknown { .. }));
    assert_eq!(call_event(&events[3]).call_id, "wacid.U2");
    assert!(matches!(&events[4].event, EngineEvent::Unknown { field, .. } if field == "change"));
    assert!(matches!(&events[5].event, EngineEvent::Unknown { field, .. } if field == "entry"));
    let delivery = Delivery::parse(body.to_string().as_bytes()).unwrap();
    assert_eq!(delivery.extra.get("new_top_level"), Some(&json!(1)));
}

#[test]
fn unknown_call_fields_round_trip() {
    let raw =
        json!({ "id": "wacid.X", "event": "connect", "timestamp": "1", "future_field": { "a": [1, 2] } });
    let item: payload::CallItem = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(item.extra.get("future_field"), Some(&json!({ "a": [1, 2] })));
    assert_eq!(serde_json::to_value(&item).unwrap()["future_field"], raw["future_field"]);
}

#[test]
fn numeric_ids_are_read_as_strings() {
    let body = envelope(json!([{ "field": "calls", "value": {
        "metadata": { "phone_number_id": 518638374672395u64, "display_phone_number": 15551441906u64 },
        "contacts": [{ "wa_id": 917358580180u64, "profile": { "name": "N" } }],
        "calls": [{ "id": "wacid.N", "from": 917358580180u64, "to": "15551441906", "event": "connect", "timestamp": 1, "direction": "USER_INITIATED" }]
    }}]));
    let events = events(&body);
    assert_eq!(events[0].phone_number_id, PHONE_NUMBER_ID);
    let call = call_event(&events[0]);
    assert_eq!(call.from.as_deref(), Some("917358580180"));
    assert_eq!(call.contact.as_ref().unwrap().name.as_deref(), Some("N"));
}

#[test]
fn settings_update_becomes_settings_changed() {
    let body = envelope(json!([{ "field": "account_settings_update", "value": {
        "messaging_product": "whatsapp", "timestamp": "1671644824", "type": "PHONE_NUMBER_SETTINGS",
        "phone_number_settings": { "phone_number_id": PHONE_NUMBER_ID, "calling": { "status": "ENABLED" } }
    }}]));
    let events = events(&body);
    assert_eq!(events[0].phone_number_id, PHONE_NUMBER_ID);
    assert_eq!(events[0].occurred_at, Some(1_671_644_824_000));
    assert_eq!(events[0].event, EngineEvent::SettingsChanged { calling: json!({ "status": "ENABLED" }) });
}

#[test]
fn stray_value_level_errors_become_an_errors_event() {
    let body = envelope(json!([calls_change(json!({ "errors": [{ "code": 131044, "title": "payment" }] }))]));
    let events = events(&body);
    assert!(matches!(&events[0].event, EngineEvent::Errors { errors } if errors[0].code == Some(131044)));
}

#[test]
fn body_that_is_not_a_json_object_is_refused() {
    assert!(events_from_body(b"not json").is_err());
    assert!(events_from_body(b"[1,2]").is_err());
    assert_eq!(events_from_body(b"{}").unwrap(), vec![]);
    assert_eq!(events_from_body(br#"{"entry":null}"#).unwrap(), vec![]);
}

#[test]
fn dedupe_keys_are_stable_across_redelivery_and_key_order() {
    let first = json!({ "field": "account_update", "value": { "a": 1, "b": [true, null] } });
    let reordered: Value =
        serde_json::from_str(r#"{ "value": { "b": [true, null], "a": 1 }, "field": "account_update" }"#)
            .unwrap();
    let key = |change: Value| events(&envelope(json!([change])))[0].dedupe_key.clone();
    assert_eq!(key(first.clone()), key(reordered));
    assert_ne!(key(first), key(json!({ "field": "account_update", "value": { "a": 2 } })));
}

#[test]
fn flexible_numbers() {
    let parse = |raw: Value| payload::FlexibleInt::deserialize(&raw).map(|int| int.0).ok();
    assert_eq!(parse(json!("1671644824")), Some(1_671_644_824));
    assert_eq!(parse(json!(" 42 ")), Some(42));
    assert_eq!(parse(json!(20)), Some(20));
    assert_eq!(parse(json!(20.0)), Some(20));
    assert_eq!(parse(json!("1.5e3")), Some(1500));
    assert_eq!(parse(json!("twenty")), None);
    assert_eq!(parse(json!(1.5)), None);
}

/// Arbitrary JSON, to show that nothing a sender puts anywhere makes the flattening fail.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z0-9._]{0,8}".prop_map(Value::String),
        Just(json!("calls")),
        Just(json!("connect")),
        Just(json!("terminate")),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("id".to_owned()),
                        Just("event".to_owned()),
                        Just("calls".to_owned()),
                        Just("statuses".to_owned()),
                        Just("timestamp".to_owned()),
                        "[a-z]{1,6}"
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn flattening_never_fails_on_any_json_object(entry in arbitrary_json(), changes in arbitrary_json(), value in arbitrary_json()) {
        let body = json!({ "entry": [entry, { "id": "w", "changes": [changes, { "field": "calls", "value": value }] }] });
        let _ = events(&body);
    }

    #[test]
    fn one_event_per_item_with_unique_keys(connects in 0usize..6, statuses in 0usize..6, changes in 1usize..4) {
        let change = |index: usize| calls_change(json!({
            "calls": (0..connects).map(|call| inbound_connect(&format!("wacid.{index}.{call}"))).collect::<Vec<_>>(),
            "statuses": (0..statuses).map(|call| json!({ "id": format!("wacid.{index}.s{call}"), "type": "call", "status": "RINGING", "timestamp": "5" })).collect::<Vec<_>>(),
        }));
        let body = envelope(Value::Array((0..changes).map(change).collect()));
        let events = events(&body);
        prop_assert_eq!(events.len(), changes * (connects + statuses));
        let mut keys: Vec<&str> = events.iter().map(|event| event.dedupe_key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        prop_assert_eq!(keys.len(), events.len());
        let again = events_from_body(body.to_string().as_bytes()).unwrap();
        prop_assert_eq!(again, events, "redelivery gives the same events and keys");
    }
}

fn template_change(value: Value) -> Value {
    json!({ "field": "message_template_status_update", "value": value })
}

fn template_update(event: &CallEngineEvent) -> &TemplateStatusUpdate {
    match &event.event {
        EngineEvent::TemplateStatus(update) => update,
        other => panic!("expected a template status event, got {other:?}"),
    }
}

#[test]
fn template_status_updates_take_numeric_or_text_ids_in_any_case() {
    // Meta's sample: the id is a JSON number, no metadata, the WABA in entry.id.
    let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": "553133154547046", "time": 1674864290,
        "changes": [
            template_change(json!({ "event": "REJECTED", "message_template_id": 1_234_567_890_123_u64,
                "message_template_name": "support_cb", "message_template_language": "en_US",
                "reason": "INVALID_FORMAT" })),
            template_change(json!({ "event": "approved", "message_template_id": "987654321",
                "message_template_name": "ask_perm", "message_template_language": "pt_BR", "reason": "NONE" })),
        ] }] });
    let events = events(&body);
    assert_eq!(events.len(), 2);
    let rejected = template_update(&events[0]);
    assert_eq!(rejected.meta_template_id, "1234567890123");
    assert_eq!(rejected.event, "REJECTED");
    assert_eq!(rejected.name.as_deref(), Some("support_cb"));
    assert_eq!(rejected.language.as_deref(), Some("en_US"));
    assert_eq!(rejected.reason.as_deref(), Some("INVALID_FORMAT"));
    assert_eq!(events[0].phone_number_id, "", "a template belongs to the account, not a number");
    assert_eq!(events[0].waba_id.as_deref(), Some("553133154547046"));
    assert_eq!(events[0].occurred_at, Some(1_674_864_290_000), "entry.time");
    let approved = template_update(&events[1]);
    assert_eq!((approved.meta_template_id.as_str(), approved.event.as_str()), ("987654321", "APPROVED"));
    assert_eq!(approved.reason, None, "NONE is no reason");
    assert_ne!(events[0].dedupe_key, events[1].dedupe_key);
    assert_eq!(events[0].dedupe_key, self::events(&body)[0].dedupe_key, "stable across deliveries");
}

#[test]
fn template_status_updates_keep_fields_they_do_not_know() {
    let body = envelope(json!([template_change(json!({
        "event": "PAUSED", "message_template_id": 42, "message_template_name": "support_cb",
        "message_template_language": "en_US", "reason": null,
        "other_info": { "title": "FIRST_PAUSE", "description": "Paused for 3 hours" },
        "something_new": [1, 2]
    }))]));
    let events = events(&body);
    let paused = template_update(&events[0]);
    assert_eq!((paused.event.as_str(), paused.reason.as_deref()), ("PAUSED", None));
    assert_eq!(paused.extra["other_info"]["title"], "FIRST_PAUSE");
    assert_eq!(paused.extra["something_new"], json!([1, 2]));
    // The event survives a round trip through JSON (it is stored and replayed as such).
    let again: CallEngineEvent = serde_json::from_value(serde_json::to_value(&events[0]).unwrap()).unwrap();
    assert_eq!(again, events[0]);
}

#[test]
fn template_status_updates_without_an_id_or_event_are_kept_as_unknown() {
    let body = envelope(json!([
        template_change(json!({ "event": "APPROVED", "message_template_name": "x" })),
        template_change(json!({ "message_template_id": 7 })),
        template_change(json!("not an object")),
    ]));
    let events = events(&body);
    assert_eq!(events.len(), 3);
    for event in &events {
        match &event.event {
            EngineEvent::Unknown { field, .. } => assert_eq!(field, "message_template_status_update"),
            other => panic!("expected unknown, got {other:?}"),
        }
    }
}
