//! End to end through the pure call engine: signed deliveries as Meta sends them → signature
//! check → flattening → call state machine and permission ledger, with redelivery and
//! out-of-order arrival as Meta's FAQ warns about (reference §3.9).

use std::collections::BTreeMap;

use calling::call_state::{Applied, CallEventKind, CallState};
use calling::calls::CallStatus;
use calling::permissions::{self, PermissionEvent, PermissionLimits, PermissionRecord, RefusalReason};
use calling::webhook::signature::{sign, verify_signature};
use calling::webhook::{EngineEvent, events_from_body};
use serde_json::{Value, json};

const SECRET: &[u8] = b"test-app-secret";
const PHONE_NUMBER_ID: &str = "518638374672395";

fn delivery(changes: Value) -> Vec<u8> {
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": "553133154547046", "changes": changes }] })
        .to_string()
        .into_bytes()
}

fn calls_value(calls: Value, statuses: Value) -> Value {
    json!({ "field": "calls", "value": {
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15551441906", "phone_number_id": PHONE_NUMBER_ID },
        "contacts": [{ "profile": { "name": "Asha" }, "wa_id": "917358580180" }],
        "calls": calls, "statuses": statuses
    }})
}

fn connect(id: &str, seconds: i64) -> Value {
    json!({ "id": id, "from": "917358580180", "to": "15551441906", "event": "connect", "timestamp": seconds.to_string(),
            "direction": "USER_INITIATED", "session": { "sdp_type": "offer", "sdp": "v=0\r\n" } })
}

fn terminate(id: &str, seconds: i64, status: &str, duration: Option<i64>) -> Value {
    let mut call = json!({ "id": id, "from": "917358580180", "to": "15551441906", "event": "terminate",
                           "timestamp": seconds.to_string(), "direction": "USER_INITIATED", "status": status });
    if let Some(duration) = duration {
        call["duration"] = json!(duration);
        call["start_time"] = json!((seconds - duration).to_string());
        call["end_time"] = json!(seconds.to_string());
    }
    call
}

/// The deliveries of one busy minute: an answered call, a missed one whose terminate comes
/// first, an outbound call with its statuses, and a batch holding two calls at once.
fn deliveries() -> Vec<Vec<u8>> {
    vec![
        delivery(json!([calls_value(json!([connect("wacid.A", 100)]), json!([]))])),
        delivery(json!([calls_value(json!([terminate("wacid.A", 160, "COMPLETED", Some(50))]), json!([]))])),
        delivery(json!([calls_value(json!([terminate("wacid.B", 140, "FAILED", None)]), json!([]))])),
        delivery(json!([calls_value(json!([connect("wacid.B", 105)]), json!([]))])),
        delivery(json!([calls_value(
            json!([]),
            json!([
                { "id": "wacid.C", "timestamp": "110", "type": "call", "status": "RINGING", "recipient_id": "917358580180" },
                { "id": "wacid.C", "timestamp": "115", "type": "call", "status": "REJECTED", "recipient_id": "917358580180" }
            ])
        )])),
        delivery(json!([
            calls_value(json!([connect("wacid.D", 120), connect("wacid.E", 121)]), json!([])),
            calls_value(json!([terminate("wacid.C", 116, "FAILED", None)]), json!([]))
        ])),
    ]
}

/// Applies deliveries (already verified) to per-call states; returns states and timelines.
fn process(bodies: &[Vec<u8>]) -> (BTreeMap<String, CallState>, BTreeMap<String, Vec<CallEventKind>>) {
    let mut states: BTreeMap<String, CallState> = BTreeMap::new();
    let mut timelines: BTreeMap<String, Vec<CallEventKind>> = BTreeMap::new();
    for body in bodies {
        verify_signature(SECRET, body, Some(&sign(SECRET, body))).expect("signed by Meta");
        for event in events_from_body(body).expect("a JSON object") {
            assert_eq!(event.phone_number_id, PHONE_NUMBER_ID);
            let EngineEvent::Call(call) = event.event else { panic!("only call events here") };
            let at = event.occurred_at.expect("every call webhook has a timestamp");
            let state = states.entry(call.call_id.clone()).or_default();
            if let Applied::Appended(entry) = state.apply(at, &call.input) {
                timelines.entry(call.call_id).or_default().push(entry.kind);
            }
        }
    }
    (states, timelines)
}

#[test]
fn redelivered_and_reordered_webhooks_give_the_same_calls() {
    let in_order = deliveries();
    let (states, timelines) = process(&in_order);
    let statuses: BTreeMap<&str, CallStatus> =
        states.iter().map(|(id, state)| (id.as_str(), state.status())).collect();
    assert_eq!(
        statuses,
        BTreeMap::from([
            ("wacid.A", CallStatus::Completed),
            ("wacid.B", CallStatus::Missed),
            ("wacid.C", CallStatus::Rejected),
            ("wacid.D", CallStatus::Ringing),
            ("wacid.E", CallStatus::Ringing),
        ])
    );
    assert_eq!(states["wacid.A"].duration_seconds(), Some(50));
    assert!(
        !states["wacid.B"].is_ringing_for_agents(106_000),
        "the late connect of a finished call never rings"
    );

    // Every delivery twice, in reverse order: the same calls, the same timeline entries once.
    let mut chaos: Vec<Vec<u8>> = in_order.iter().rev().cloned().collect();
    chaos.extend(in_order.iter().cloned());
    let (chaos_states, chaos_timelines) = process(&chaos);
    assert_eq!(chaos_states, states);
    for (call_id, kinds) in &timelines {
        let mut expected = kinds.clone();
        expected.sort();
        let mut got = chaos_timelines[call_id].clone();
        got.sort();
        assert_eq!(got, expected, "{call_id}");
    }
}

#[test]
fn tampered_delivery_is_refused_before_parsing() {
    let body = deliveries().remove(0);
    let header = sign(SECRET, &body);
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    assert!(verify_signature(SECRET, &tampered, Some(&header)).is_err());
}

#[test]
fn permission_reply_webhook_feeds_the_ledger() {
    let body = delivery(json!([{ "field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15551441906", "phone_number_id": PHONE_NUMBER_ID },
        "messages": [{ "from": "917358580180", "id": "wamid.R", "timestamp": "1767168000", "type": "interactive",
            "context": { "id": "wamid.request" },
            "interactive": { "type": "call_permission_reply", "call_permission_reply": {
                "response": "accept", "is_permanent": false, "expiration_timestamp": "1767772800", "response_source": "user_action" } } }]
    }}]));
    let events = events_from_body(&body).unwrap();
    let EngineEvent::PermissionReply(reply) = &events[0].event else { panic!("{:?}", events[0].event) };
    let granted_at = events[0].occurred_at.unwrap();
    let history = vec![
        PermissionRecord::new(granted_at - 3_600_000, PermissionEvent::RequestSent),
        PermissionRecord::new(
            granted_at,
            PermissionEvent::Granted { permanent: reply.is_permanent, expires_at: reply.expires_at },
        ),
    ];
    let limits = PermissionLimits::PRODUCTION;
    assert!(permissions::check_business_call(&history, granted_at + 1, &limits).is_ok());
    let refusal = permissions::check_permission_request(&history, granted_at + 1, &limits).unwrap_err();
    assert_eq!(refusal.reason, RefusalReason::RequestLimit);
    let expired = permissions::check_business_call(&history, reply.expires_at.unwrap(), &limits).unwrap_err();
    assert_eq!(expired.meta_code(), 138006);
}
