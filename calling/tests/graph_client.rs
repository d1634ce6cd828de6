//! The Graph API client over real HTTP.
//!
//! Against the real simulator: every call action of an inbound and an outbound call, settings
//! round trip, permission lookup, call-button and permission messages, template creation,
//! sends, lookup by name and deletion (one language by `hsm_id`, or every language), and Meta's
//! refusals surfacing with code, status and `fbtrace_id` (138006, 190, 100 for a mismatched
//! accept SDP or an ended call, 100/33 for an unknown number, template rules, unknown
//! templates).
//! Against a scripted axum server: the exact request shapes, which operations are retried after
//! 502/500/timeouts and how often, and which fail at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use calling::graph::{
    GraphClient, GraphConfig, GraphError, GraphTarget, MetaError, NewTemplate, Operation, RetryPolicy,
    START_CALL, TemplateButton, TemplateCategory, TemplateComponent, TemplateSend, VoiceCallButton,
    VoiceCallParameters,
};
use calling::permissions::PermissionStatus;
use calling::phone::PhoneNumber;
use calling::settings::{CallHours, CallIconVisibility, CallingSettings, DayOfWeek, Toggle, WeeklyHours};
use serde_json::{Value, json};
use simulator::media::{Peer, PeerConfig};
use simulator::{Clock, DEFAULT_ACCESS_TOKEN, Grant, InboundCall, SimConfig, Simulator};

const PID: &str = "100000000000001";
const WABA: &str = "200000000000001";
const USER: &str = "+919876543210";
const USER_DIGITS: &str = "919876543210";
/// 2026-01-01T00:00:00Z on the simulator's virtual clock.
const START_MS: i64 = 1_767_225_600_000;

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
    }
}

fn client() -> GraphClient {
    GraphClient::with_config(GraphConfig { retry: quick_retries(), ..GraphConfig::default() }).unwrap()
}

fn user() -> PhoneNumber {
    PhoneNumber::parse(USER).unwrap()
}

struct Sandbox {
    sim: Simulator,
    base: String,
    target: GraphTarget,
    graph: GraphClient,
}

async fn sandbox() -> Sandbox {
    let sim = Simulator::new(SimConfig {
        clock: Clock::virtual_at(START_MS),
        tick_interval: Duration::from_secs(3600),
        ..SimConfig::default()
    });
    let base = serve(sim.router()).await;
    let target = GraphTarget::new(format!("{base}/v23.0"), PID, WABA, DEFAULT_ACCESS_TOKEN);
    Sandbox { sim, base, target, graph: client() }
}

impl Sandbox {
    /// A user calls the business; returns the call id and Meta's SDP offer from the connect
    /// webhook.
    async fn inbound_call(&self) -> (String, String) {
        let call_id = self
            .sim
            .place_inbound_call(InboundCall {
                to: PID.into(),
                from: USER.into(),
                name: Some("Ada".into()),
                ..InboundCall::default()
            })
            .unwrap();
        self.sim.flush_webhooks().await;
        for delivery in self.sim.webhook_deliveries() {
            for entry in delivery.body["entry"].as_array().into_iter().flatten() {
                for change in entry["changes"].as_array().into_iter().flatten() {
                    for call in change["value"]["calls"].as_array().into_iter().flatten() {
                        if call["id"] == call_id.as_str() && call["event"] == "connect" {
                            let offer = call["session"]["sdp"].as_str().unwrap().to_owned();
                            return (call_id, offer);
                        }
                    }
                }
            }
        }
        panic!("no connect webhook for {call_id}");
    }
}

/// What a browser would answer to Meta's offer (str0m plays the browser). Keep the peer alive.
fn answer_to(offer: &str) -> (Peer, String) {
    Peer::answerer(PeerConfig { ice_lite: false }, offer).unwrap()
}

/// Meta's error inside `err`, with the checks every Meta error must pass.
#[track_caller]
fn meta_error(err: &GraphError, status: u16, code: i64) -> &MetaError {
    let GraphError::Meta { status: got_status, error, .. } = err else {
        panic!("expected Meta's error {code}, got {err:?}");
    };
    assert_eq!((*got_status, error.code), (status, code), "{err}");
    assert!(error.fbtrace_id.as_deref().is_some_and(|id| !id.is_empty()), "{err:?}");
    assert!(error.kind.is_some(), "{err:?}");
    assert!(!error.message.is_empty(), "{err:?}");
    error
}

#[tokio::test]
async fn inbound_call_is_pre_accepted_accepted_and_terminated() {
    let sandbox = sandbox().await;
    let (call_id, offer) = sandbox.inbound_call().await;
    let (_browser, answer) = answer_to(&offer);
    assert!(answer.contains("\r\n"));
    sandbox.graph.pre_accept(&sandbox.target, &call_id, &answer).await.unwrap();
    // pre_accept with the same SDP again is harmless at Meta
    sandbox.graph.pre_accept(&sandbox.target, &call_id, &answer).await.unwrap();
    sandbox.graph.accept(&sandbox.target, &call_id, &answer, Some("agent-7")).await.unwrap();
    assert_eq!(sandbox.sim.call(&call_id).unwrap().phase, simulator::Phase::Accepted);
    sandbox.graph.terminate(&sandbox.target, &call_id).await.unwrap();
    assert_eq!(sandbox.sim.call(&call_id).unwrap().phase, simulator::Phase::Ended);

    // Actions on an ended call: Meta's code 100, not retried into success.
    let err = sandbox.graph.terminate(&sandbox.target, &call_id).await.unwrap_err();
    meta_error(&err, 400, 100);
    assert!(!err.is_transient());
    let err = sandbox.graph.accept(&sandbox.target, &call_id, &answer, None).await.unwrap_err();
    let meta = meta_error(&err, 400, 100).clone();
    let domain = calling::Error::from(err);
    assert_eq!(domain.code(), "whatsapp_error");
    let details = domain.details().unwrap();
    assert_eq!(details["meta_code"], 100);
    assert_eq!(details["operation"], "accept");
    assert_eq!(details["fbtrace_id"], json!(meta.fbtrace_id));
    assert_eq!(details["error_data"], meta.error_data.unwrap());
}

#[tokio::test]
async fn accept_with_another_sdp_than_pre_accept_is_code_100_with_details() {
    let sandbox = sandbox().await;
    let (call_id, offer) = sandbox.inbound_call().await;
    let (_first, first) = answer_to(&offer);
    let (_second, second) = answer_to(&offer);
    sandbox.graph.pre_accept(&sandbox.target, &call_id, &first).await.unwrap();
    let err = sandbox.graph.accept(&sandbox.target, &call_id, &second, None).await.unwrap_err();
    let meta = meta_error(&err, 400, 100);
    assert!(meta.details_text().unwrap().contains("pre_accept"), "{meta:?}");
    assert!(err.to_string().contains("pre_accept"), "{err}");
    assert_eq!(err.operation(), Some(Operation::Accept));
    // the call still rings: the right SDP is accepted
    sandbox.graph.accept(&sandbox.target, &call_id, &first, None).await.unwrap();
}

#[tokio::test]
async fn reject_ends_a_ringing_inbound_call() {
    let sandbox = sandbox().await;
    let (call_id, _offer) = sandbox.inbound_call().await;
    sandbox.graph.reject(&sandbox.target, &call_id).await.unwrap();
    assert_eq!(sandbox.sim.call(&call_id).unwrap().phase, simulator::Phase::Ended);
    let err = sandbox.graph.reject(&sandbox.target, &call_id).await.unwrap_err();
    meta_error(&err, 400, 100);
}

#[tokio::test]
async fn connect_needs_permission_then_places_the_call() {
    let sandbox = sandbox().await;
    let (_browser, offer) = Peer::offerer(PeerConfig { ice_lite: false }).unwrap();

    let err = sandbox.graph.connect(&sandbox.target, &user(), &offer, Some("campaign-1")).await.unwrap_err();
    meta_error(&err, 401, 138006);
    assert_eq!(err.meta_code(), Some(138006));
    let domain = calling::Error::from(err);
    assert_eq!(domain.code(), "permission_required");
    let details = domain.details().unwrap();
    assert_eq!(details["meta_code"], 138006);
    assert!(details["fbtrace_id"].as_str().is_some_and(|id| !id.is_empty()), "{details}");

    let permissions = sandbox.graph.call_permissions(&sandbox.target, &user()).await.unwrap();
    assert_eq!(permissions.status(START_MS), PermissionStatus::NoPermission);
    assert!(!permissions.can_start_call());
    assert!(permissions.can_send_permission_request());

    let request = sandbox
        .graph
        .send_call_permission_request(&sandbox.target, &user(), Some("May we call you about your order?"))
        .await
        .unwrap();
    assert!(request.id.starts_with("wamid."), "{request:?}");
    assert_eq!(request.wa_id.as_deref(), Some(USER_DIGITS));
    sandbox.sim.user_permission_reply(None, USER, Grant::Temporary).unwrap();

    let permissions = sandbox.graph.call_permissions(&sandbox.target, &user()).await.unwrap();
    let expires_at = (START_MS / 1000 + 7 * 86_400) * 1000;
    assert_eq!(permissions.status(START_MS), PermissionStatus::Temporary { expires_at });
    assert!(permissions.can_start_call());
    let start_call = permissions.action(START_CALL).unwrap();
    assert_eq!((start_call.limits[0].time_period.as_str(), start_call.limits[0].max_allowed), ("PT24H", 100));

    let call_id = sandbox.graph.connect(&sandbox.target, &user(), &offer, Some("campaign-1")).await.unwrap();
    assert!(call_id.starts_with("wacid."), "{call_id}");
    let call = sandbox.sim.call(&call_id).unwrap();
    assert_eq!(call.user, USER_DIGITS);
    assert_eq!(call.direction, simulator::Direction::BusinessInitiated);

    // A second call to the same user while the first is live: 138003, surfaced, not retried.
    let err = sandbox.graph.connect(&sandbox.target, &user(), &offer, None).await.unwrap_err();
    meta_error(&err, 400, 138003);

    sandbox.graph.terminate(&sandbox.target, &call_id).await.unwrap();
    assert_eq!(sandbox.sim.call(&call_id).unwrap().phase, simulator::Phase::Ended);
}

#[tokio::test]
async fn a_wrong_token_is_code_190_and_the_token_is_never_shown() {
    let sandbox = sandbox().await;
    let target = GraphTarget::new(format!("{}/v23.0", sandbox.base), PID, WABA, "not-the-token");
    let err = sandbox.graph.get_settings(&target).await.unwrap_err();
    meta_error(&err, 401, 190);
    assert!(!err.is_transient());
    assert!(!format!("{err} {err:?} {target:?}").contains("not-the-token"));
    let domain = calling::Error::from(err);
    assert_eq!(domain.code(), "whatsapp_error");
    assert_eq!(domain.details().unwrap()["meta_code"], 190);
}

#[tokio::test]
async fn an_unknown_number_is_code_100_subcode_33() {
    let sandbox = sandbox().await;
    let target =
        GraphTarget::new(format!("{}/v23.0", sandbox.base), "999999999999999", WABA, DEFAULT_ACCESS_TOKEN);
    let err = sandbox.graph.get_settings(&target).await.unwrap_err();
    let meta = meta_error(&err, 400, 100);
    assert_eq!(meta.error_subcode, Some(33));
    assert_eq!(meta.kind.as_deref(), Some("GraphMethodException"));
    assert_eq!(calling::Error::from(err).details().unwrap()["meta_subcode"], 33);
}

#[tokio::test]
async fn settings_round_trip() {
    let sandbox = sandbox().await;
    let before = sandbox.graph.get_settings(&sandbox.target).await.unwrap();
    assert_eq!(before.status, Some(Toggle::Enabled));

    let wanted = CallingSettings {
        call_icon_visibility: Some(CallIconVisibility::DisableAll),
        callback_permission_status: Some(Toggle::Enabled),
        call_hours: Some(CallHours {
            status: Toggle::Enabled,
            timezone_id: Some("Asia/Kolkata".into()),
            weekly_operating_hours: vec![
                WeeklyHours {
                    day_of_week: DayOfWeek::Monday,
                    open_time: "0900".into(),
                    close_time: "1300".into(),
                },
                WeeklyHours {
                    day_of_week: DayOfWeek::Monday,
                    open_time: "1400".into(),
                    close_time: "1800".into(),
                },
            ],
            holiday_schedule: vec![],
        }),
        ..CallingSettings::default()
    };
    wanted.validate(START_MS).unwrap();
    sandbox.graph.update_settings(&sandbox.target, &wanted).await.unwrap();
    let after = sandbox.graph.get_settings(&sandbox.target).await.unwrap();
    assert!(
        calling::settings::drift(&wanted, &after).is_empty(),
        "{:?}",
        calling::settings::drift(&wanted, &after)
    );
    assert_eq!(after.status, Some(Toggle::Enabled));

    // Meta's own validation: weekly hours must not be empty when call hours are enabled.
    let broken = CallingSettings {
        call_hours: Some(CallHours {
            status: Toggle::Enabled,
            timezone_id: Some("Asia/Kolkata".into()),
            weekly_operating_hours: vec![],
            holiday_schedule: vec![],
        }),
        ..CallingSettings::default()
    };
    let err = sandbox.graph.update_settings(&sandbox.target, &broken).await.unwrap_err();
    let meta = meta_error(&err, 400, 100);
    assert!(meta.details_text().unwrap().contains("weekly_operating_hours"), "{meta:?}");
    assert_eq!(sandbox.graph.get_settings(&sandbox.target).await.unwrap(), after);
}

#[tokio::test]
async fn call_buttons_and_templates_are_sent() {
    let sandbox = sandbox().await;
    let button = VoiceCallButton {
        body_text: "You can call us on WhatsApp now".into(),
        display_text: Some("Call on WhatsApp".into()),
        ttl_minutes: Some(100),
        payload: Some("order-42".into()),
    };
    let sent = sandbox.graph.send_voice_call_button(&sandbox.target, &user(), &button).await.unwrap();
    assert!(sent.id.starts_with("wamid."), "{sent:?}");

    let too_long =
        VoiceCallButton { display_text: Some("Call us on WhatsApp now!".into()), ..button.clone() };
    let err = sandbox.graph.send_voice_call_button(&sandbox.target, &user(), &too_long).await.unwrap_err();
    let meta = meta_error(&err, 400, 131009);
    assert!(meta.details_text().unwrap().contains("display_text"), "{meta:?}");
    assert_eq!(calling::Error::from(err).code(), "whatsapp_error");

    let call_button = NewTemplate {
        name: "order_call".into(),
        language: "en_US".into(),
        category: TemplateCategory::Utility,
        components: vec![
            TemplateComponent::Body {
                text: "Hi {{1}}, call us about your order.".into(),
                example: vec!["Ada".into()],
            },
            TemplateComponent::Buttons(vec![TemplateButton::VoiceCall {
                text: Some("Call Now".into()),
                ttl_minutes: Some(1440),
            }]),
        ],
    };
    let created = sandbox.graph.create_template(&sandbox.target, &call_button).await.unwrap();
    assert!(!created.id.is_empty());
    assert_eq!(created.status, "APPROVED");
    assert_eq!(created.category.as_deref(), Some("UTILITY"));
    let send = TemplateSend {
        name: "order_call".into(),
        language: "en_US".into(),
        body_parameters: vec!["Ada".into()],
        voice_call: Some(VoiceCallParameters { ttl_minutes: Some(60), payload: Some("order-42".into()) }),
        ..TemplateSend::default()
    };
    let sent = sandbox.graph.send_template(&sandbox.target, &user(), &send).await.unwrap();
    assert!(sent.id.starts_with("wamid."), "{sent:?}");
    // Meta counts body parameters.
    let missing = TemplateSend { body_parameters: vec![], ..send.clone() };
    let err = sandbox.graph.send_template(&sandbox.target, &user(), &missing).await.unwrap_err();
    meta_error(&err, 400, 132000);

    let permission_request = NewTemplate {
        name: "may_we_call".into(),
        language: "en_US".into(),
        category: TemplateCategory::Marketing,
        components: vec![
            TemplateComponent::Header { text: "A quick question".into(), example: vec![] },
            TemplateComponent::Body { text: "May we call you about your order?".into(), example: vec![] },
            TemplateComponent::CallPermissionRequest,
        ],
    };
    sandbox.graph.create_template(&sandbox.target, &permission_request).await.unwrap();
    let send =
        TemplateSend { name: "may_we_call".into(), language: "en_US".into(), ..TemplateSend::default() };
    let sent = sandbox.graph.send_template(&sandbox.target, &user(), &send).await.unwrap();
    assert!(sent.id.starts_with("wamid."), "{sent:?}");
}

#[tokio::test]
async fn templates_are_looked_up_and_deleted_at_whatsapp() {
    let sandbox = sandbox().await;
    let (graph, target) = (&sandbox.graph, &sandbox.target);
    let body = |text: &str| vec![TemplateComponent::Body { text: text.into(), example: vec![] }];
    let english = NewTemplate {
        name: "call_us".into(),
        language: "en_US".into(),
        category: TemplateCategory::Marketing,
        components: body("Call us"),
    };
    let spanish = NewTemplate { language: "es".into(), components: body("Llámanos"), ..english.clone() };
    let other = NewTemplate { name: "other".into(), ..english.clone() };
    let en = graph.create_template(target, &english).await.unwrap();
    let es = graph.create_template(target, &spanish).await.unwrap();
    let kept = graph.create_template(target, &other).await.unwrap();

    let named = graph.templates_named(target, "call_us").await.unwrap();
    let mut ids: Vec<&str> = named.iter().map(|t| t.id.as_str()).collect();
    ids.sort();
    let mut expected = [en.id.as_str(), es.id.as_str()];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(named.iter().all(|t| t.name == "call_us" && t.status.as_deref() == Some("APPROVED")));

    // With hsm_id only that language goes; the same delete again is Meta's 100.
    graph.delete_template(target, "call_us", Some(&en.id)).await.unwrap();
    let left = graph.templates_named(target, "call_us").await.unwrap();
    assert_eq!(left.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), [es.id.as_str()]);
    let err = graph.delete_template(target, "call_us", Some(&en.id)).await.unwrap_err();
    assert!(meta_error(&err, 400, 100).details_text().unwrap().contains("not found"), "{err}");
    // An hsm_id of another name is refused, and deletes nothing.
    let err = graph.delete_template(target, "call_us", Some(&kept.id)).await.unwrap_err();
    meta_error(&err, 400, 100);
    assert_eq!(graph.templates_named(target, "other").await.unwrap().len(), 1);
    // Without hsm_id every language of the name goes.
    graph.create_template(target, &english).await.unwrap();
    graph.delete_template(target, "call_us", None).await.unwrap();
    assert!(graph.templates_named(target, "call_us").await.unwrap().is_empty());
    assert_eq!(sandbox.sim.templates(WABA).iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["other"]);
    // A blank name is refused before sending; a foreign WABA is 100/33.
    let err = graph.delete_template(target, " ", None).await.unwrap_err();
    assert!(matches!(err, GraphError::InvalidRequest { field: "name", .. }), "{err:?}");
    let elsewhere =
        GraphTarget::new(format!("{}/v23.0", sandbox.base), PID, "299999999999999", DEFAULT_ACCESS_TOKEN);
    let err = graph.delete_template(&elsewhere, "other", None).await.unwrap_err();
    assert_eq!(meta_error(&err, 400, 100).error_subcode, Some(33));
}

#[tokio::test]
async fn template_creation_errors_surface_metas_rules() {
    let sandbox = sandbox().await;
    let template = |name: &str, ttl_minutes: u32| NewTemplate {
        name: name.into(),
        language: "en_US".into(),
        category: TemplateCategory::Marketing,
        components: vec![
            TemplateComponent::Body { text: "Call us".into(), example: vec![] },
            TemplateComponent::Buttons(vec![TemplateButton::VoiceCall {
                text: None,
                ttl_minutes: Some(ttl_minutes),
            }]),
        ],
    };
    // ttl_minutes at creation is 1440–43200
    let err = sandbox.graph.create_template(&sandbox.target, &template("short_ttl", 100)).await.unwrap_err();
    assert!(meta_error(&err, 400, 100).details_text().unwrap().contains("ttl_minutes"));
    let err = sandbox.graph.create_template(&sandbox.target, &template("Bad Name", 1440)).await.unwrap_err();
    meta_error(&err, 400, 100);
    sandbox.graph.create_template(&sandbox.target, &template("call_us", 1440)).await.unwrap();
    let err = sandbox.graph.create_template(&sandbox.target, &template("call_us", 1440)).await.unwrap_err();
    assert_eq!(meta_error(&err, 400, 100).error_subcode, Some(2_388_024));
    let no_body = NewTemplate {
        components: vec![TemplateComponent::CallPermissionRequest],
        ..template("no_body", 1440)
    };
    let err = sandbox.graph.create_template(&sandbox.target, &no_body).await.unwrap_err();
    meta_error(&err, 400, 100);
    // a WABA that does not exist for this token
    let target =
        GraphTarget::new(format!("{}/v23.0", sandbox.base), PID, "299999999999999", DEFAULT_ACCESS_TOKEN);
    let err = sandbox.graph.create_template(&target, &template("elsewhere", 1440)).await.unwrap_err();
    assert_eq!(meta_error(&err, 400, 100).error_subcode, Some(33));
}

// ---------------------------------------------------------------------------------------------
// A scripted Graph API: fails the first N requests, then answers like Meta; records requests.

#[derive(Clone, Copy, Debug)]
enum Failure {
    /// The dial gateway's HTML 502.
    GatewayPage,
    /// Meta's envelope with HTTP 500 and `is_transient`.
    MetaTransient,
    /// Meta's 400 for a bad parameter (not transient).
    MetaInvalid,
    /// Meta's 429 rate limit (613 on `call_permissions`, 138005 on `connect`).
    RateLimited,
}

#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    authorization: Option<String>,
    content_type: Option<String>,
    body: Value,
}

struct ScriptState {
    fail_first: usize,
    failure: Failure,
    delay: Duration,
    seen: Vec<Seen>,
}

#[derive(Clone)]
struct Script(Arc<Mutex<ScriptState>>);

impl Script {
    fn seen(&self) -> Vec<Seen> {
        self.0.lock().unwrap().seen.clone()
    }

    fn attempts(&self) -> usize {
        self.0.lock().unwrap().seen.len()
    }
}

async fn scripted(
    State(script): State<Script>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (fail, failure, delay) = {
        let mut state = script.0.lock().unwrap();
        state.seen.push(Seen {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            authorization: header("authorization"),
            content_type: header("content-type"),
            body: body.clone(),
        });
        (state.seen.len() <= state.fail_first, state.failure, state.delay)
    };
    tokio::time::sleep(delay).await;
    if fail {
        return match failure {
            Failure::GatewayPage => {
                (StatusCode::BAD_GATEWAY, "<html><body><h1>502 Bad Gateway</h1></body></html>").into_response()
            }
            Failure::MetaTransient => (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({ "error": { "message": "An unexpected error has occurred. Please retry your request later.",
                    "type": "OAuthException", "is_transient": true, "code": 2, "fbtrace_id": "AtRaCe2" } })),
            )
                .into_response(),
            Failure::MetaInvalid => (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({ "error": { "message": "(#100) Invalid parameter", "type": "OAuthException",
                    "code": 100, "error_data": { "messaging_product": "whatsapp", "details": "bad" }, "fbtrace_id": "AtRaCe1" } })),
            )
                .into_response(),
            Failure::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({ "error": { "message": "(#613) Calls to this api have exceeded the rate limit.",
                    "type": "OAuthException", "code": 613, "fbtrace_id": "AtRaCe3" } })),
            )
                .into_response(),
        };
    }
    let path = uri.path();
    let answer = if path.ends_with("/calls") {
        if body["action"] == "connect" {
            json!({ "messaging_product": "whatsapp", "calls": [{ "id": "wacid.SCRIPTED==" }] })
        } else {
            json!({ "messaging_product": "whatsapp", "success": true })
        }
    } else if path.ends_with("/settings") {
        if method == Method::GET {
            json!({ "calling": { "status": "ENABLED", "call_icon_visibility": "DEFAULT" }, "other": {} })
        } else {
            json!({ "success": true })
        }
    } else if path.ends_with("/call_permissions") {
        json!({ "messaging_product": "whatsapp", "permission": { "status": "permanent" },
                "actions": [{ "action_name": "start_call", "can_perform_action": true,
                              "limits": [{ "time_period": "PT24H", "max_allowed": 100, "current_usage": 3 }] }] })
    } else if path.ends_with("/messages") {
        json!({ "messaging_product": "whatsapp", "contacts": [{ "input": body["to"], "wa_id": body["to"] }],
                "messages": [{ "id": "wamid.SCRIPTED" }] })
    } else if path.ends_with("/message_templates") {
        match method {
            Method::DELETE => json!({ "success": true }),
            Method::GET => {
                json!({ "data": [{ "id": 5940000000001_u64, "name": "call_us", "language": "en_US",
                                              "status": "APPROVED", "category": "MARKETING" }],
                                   "paging": { "cursors": { "before": "a", "after": "b" } } })
            }
            _ => json!({ "id": "5940000000001", "status": "PENDING", "category": "MARKETING" }),
        }
    } else {
        return StatusCode::NOT_FOUND.into_response();
    };
    axum::Json(answer).into_response()
}

async fn start_script(fail_first: usize, failure: Failure, delay: Duration) -> (Script, GraphTarget) {
    let script = Script(Arc::new(Mutex::new(ScriptState { fail_first, failure, delay, seen: Vec::new() })));
    let base = serve(Router::new().fallback(scripted).with_state(script.clone())).await;
    (script, GraphTarget::new(format!("{base}/v23.0/"), PID, WABA, "test-token"))
}

const CRLF_OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
const CRLF_ANSWER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=setup:active\r\n";

fn voice_call_button() -> VoiceCallButton {
    VoiceCallButton { body_text: "Call us".into(), ..VoiceCallButton::default() }
}

fn template_send() -> TemplateSend {
    TemplateSend {
        name: "call_us".into(),
        language: "en_US".into(),
        voice_call: Some(VoiceCallParameters {
            ttl_minutes: Some(100),
            payload: Some("payload data".into()),
        }),
        ..TemplateSend::default()
    }
}

fn new_template() -> NewTemplate {
    NewTemplate {
        name: "call_us".into(),
        language: "en_US".into(),
        category: TemplateCategory::Marketing,
        components: vec![
            TemplateComponent::Body { text: "Call us".into(), example: vec![] },
            TemplateComponent::Buttons(vec![TemplateButton::VoiceCall { text: None, ttl_minutes: None }]),
        ],
    }
}

/// Runs `operation` once through the client; the answer is dropped, only failure matters here.
async fn run(graph: &GraphClient, target: &GraphTarget, operation: Operation) -> Result<(), GraphError> {
    let to = user();
    match operation {
        Operation::Connect => graph.connect(target, &to, CRLF_OFFER, None).await.map(drop),
        Operation::PreAccept => graph.pre_accept(target, "wacid.X", CRLF_ANSWER).await,
        Operation::Accept => graph.accept(target, "wacid.X", CRLF_ANSWER, None).await,
        Operation::Reject => graph.reject(target, "wacid.X").await,
        Operation::Terminate => graph.terminate(target, "wacid.X").await,
        Operation::GetSettings => graph.get_settings(target).await.map(drop),
        Operation::UpdateSettings => graph.update_settings(target, &CallingSettings::default()).await,
        Operation::CallPermissions => graph.call_permissions(target, &to).await.map(drop),
        Operation::SendMessage => {
            graph.send_voice_call_button(target, &to, &voice_call_button()).await.map(drop)
        }
        Operation::CreateTemplate => graph.create_template(target, &new_template()).await.map(drop),
        Operation::ListTemplates => graph.templates_named(target, "call_us").await.map(drop),
        Operation::DeleteTemplate => graph.delete_template(target, "call_us", Some("5940000000001")).await,
    }
}

const REPEATABLE: [Operation; 7] = [
    Operation::GetSettings,
    Operation::CallPermissions,
    Operation::UpdateSettings,
    Operation::Terminate,
    Operation::Reject,
    Operation::ListTemplates,
    Operation::DeleteTemplate,
];
const NOT_REPEATABLE: [Operation; 5] = [
    Operation::Connect,
    Operation::PreAccept,
    Operation::Accept,
    Operation::SendMessage,
    Operation::CreateTemplate,
];

#[tokio::test]
async fn requests_have_metas_exact_shape() {
    let (script, target) = start_script(0, Failure::GatewayPage, Duration::ZERO).await;
    let graph = client();
    let to = PhoneNumber::parse("+91 98765 43210").unwrap();

    let call_id = graph.connect(&target, &to, CRLF_OFFER, Some("campaign-1")).await.unwrap();
    assert_eq!(call_id, "wacid.SCRIPTED==");
    graph.pre_accept(&target, "wacid.A", CRLF_ANSWER).await.unwrap();
    graph.accept(&target, "wacid.A", CRLF_ANSWER, Some("agent-7")).await.unwrap();
    graph.reject(&target, "wacid.B").await.unwrap();
    graph.terminate(&target, "wacid.A").await.unwrap();
    let settings = graph.get_settings(&target).await.unwrap();
    assert_eq!(settings.status, Some(Toggle::Enabled));
    let wanted =
        CallingSettings { callback_permission_status: Some(Toggle::Enabled), ..CallingSettings::default() };
    graph.update_settings(&target, &wanted).await.unwrap();
    let permissions = graph.call_permissions(&target, &to).await.unwrap();
    assert_eq!(permissions.status(0), PermissionStatus::Permanent);
    assert!(permissions.can_start_call());
    let sent = graph
        .send_voice_call_button(
            &target,
            &to,
            &VoiceCallButton {
                body_text: "You can call us on WhatsApp now for faster service!".into(),
                display_text: Some("Call on WhatsApp".into()),
                ttl_minutes: Some(100),
                payload: Some("payload data".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!((sent.id.as_str(), sent.wa_id.as_deref()), ("wamid.SCRIPTED", Some(USER_DIGITS)));
    graph.send_call_permission_request(&target, &to, Some("May we call you?")).await.unwrap();
    graph.send_template(&target, &to, &template_send()).await.unwrap();
    let created = graph.create_template(&target, &new_template()).await.unwrap();
    assert_eq!((created.id.as_str(), created.status.as_str()), ("5940000000001", "PENDING"));
    let listed = graph.templates_named(&target, "call_us").await.unwrap();
    assert_eq!(
        listed.iter().map(|t| (t.id.as_str(), t.status.as_deref())).collect::<Vec<_>>(),
        [("5940000000001", Some("APPROVED"))],
        "a numeric id reads as text"
    );
    graph.delete_template(&target, "call_us", Some("5940000000001")).await.unwrap();
    graph.delete_template(&target, "call_us", None).await.unwrap();

    let seen = script.seen();
    assert_eq!(seen.len(), 15);
    for request in &seen {
        assert_eq!(request.authorization.as_deref(), Some("Bearer test-token"), "{request:?}");
        if request.method == "POST" {
            assert_eq!(request.content_type.as_deref(), Some("application/json"), "{request:?}");
        }
    }
    let calls = format!("/v23.0/{PID}/calls");
    let expected = [
        (
            "POST",
            calls.as_str(),
            json!({ "messaging_product": "whatsapp", "to": USER_DIGITS, "action": "connect",
            "session": { "sdp_type": "offer", "sdp": CRLF_OFFER }, "biz_opaque_callback_data": "campaign-1" }),
        ),
        (
            "POST",
            calls.as_str(),
            json!({ "messaging_product": "whatsapp", "call_id": "wacid.A", "action": "pre_accept",
            "session": { "sdp_type": "answer", "sdp": CRLF_ANSWER } }),
        ),
        (
            "POST",
            calls.as_str(),
            json!({ "messaging_product": "whatsapp", "call_id": "wacid.A", "action": "accept",
            "session": { "sdp_type": "answer", "sdp": CRLF_ANSWER }, "biz_opaque_callback_data": "agent-7" }),
        ),
        (
            "POST",
            calls.as_str(),
            json!({ "messaging_product": "whatsapp", "call_id": "wacid.B", "action": "reject" }),
        ),
        (
            "POST",
            calls.as_str(),
            json!({ "messaging_product": "whatsapp", "call_id": "wacid.A", "action": "terminate" }),
        ),
    ];
    for (index, (method, path, body)) in expected.iter().enumerate() {
        assert_eq!(
            (seen[index].method.as_str(), seen[index].path.as_str()),
            (*method, *path),
            "request {index}"
        );
        assert_eq!(&seen[index].body, body, "request {index}");
    }
    // CRLF survives byte for byte
    assert!(seen[0].body["session"]["sdp"].as_str().unwrap().contains("\r\na=rtpmap:111 opus/48000/2\r\n"));

    assert_eq!(
        (seen[5].method.as_str(), seen[5].path.as_str()),
        ("GET", format!("/v23.0/{PID}/settings").as_str())
    );
    assert_eq!(seen[6].path, format!("/v23.0/{PID}/settings"));
    assert_eq!(seen[6].body, json!({ "calling": { "callback_permission_status": "ENABLED" } }));
    assert_eq!(seen[6].body, wanted.post_body());
    assert_eq!(seen[7].path, format!("/v23.0/{PID}/call_permissions"));
    assert_eq!(seen[7].query.as_deref(), Some("user_wa_id=919876543210"));

    let messages = format!("/v23.0/{PID}/messages");
    assert!(seen[8..11].iter().all(|request| request.path == messages));
    assert_eq!(
        seen[8].body,
        json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": USER_DIGITS, "type": "interactive",
                "interactive": { "type": "voice_call",
                    "body": { "text": "You can call us on WhatsApp now for faster service!" },
                    "action": { "name": "voice_call",
                        "parameters": { "display_text": "Call on WhatsApp", "ttl_minutes": 100, "payload": "payload data" } } } })
    );
    assert_eq!(
        seen[9].body,
        json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": USER_DIGITS, "type": "interactive",
                "interactive": { "type": "call_permission_request", "action": { "name": "call_permission_request" },
                                 "body": { "text": "May we call you?" } } })
    );
    assert_eq!(
        seen[10].body,
        json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": USER_DIGITS, "type": "template",
                "template": { "name": "call_us", "language": { "code": "en_US" }, "components": [
                    { "type": "button", "sub_type": "voice_call", "parameters": [
                        { "type": "ttl_minutes", "ttl_minutes": 100 }, { "type": "payload", "payload": "payload data" } ] } ] } })
    );
    assert_eq!(seen[11].path, format!("/v23.0/{WABA}/message_templates"));
    assert_eq!(
        seen[11].body,
        json!({ "name": "call_us", "language": "en_US", "category": "MARKETING", "components": [
            { "type": "BODY", "text": "Call us" }, { "type": "BUTTONS", "buttons": [{ "type": "voice_call" }] } ] })
    );
    // Template lookup and deletion: Meta's query parameters on the WABA's edge, no body.
    let templates = format!("/v23.0/{WABA}/message_templates");
    let tail: Vec<(&str, &str, Option<&str>)> = seen[12..]
        .iter()
        .map(|request| (request.method.as_str(), request.path.as_str(), request.query.as_deref()))
        .collect();
    assert_eq!(
        tail,
        [
            ("GET", templates.as_str(), Some("name=call_us")),
            ("DELETE", templates.as_str(), Some("name=call_us&hsm_id=5940000000001")),
            ("DELETE", templates.as_str(), Some("name=call_us")),
        ]
    );
    assert!(seen[12..].iter().all(|request| request.body == Value::Null), "{:?}", &seen[12..]);
}

#[tokio::test]
async fn repeatable_requests_are_retried_after_transient_failures() {
    let graph = client();
    for operation in REPEATABLE {
        for failure in [Failure::GatewayPage, Failure::MetaTransient, Failure::RateLimited] {
            let (script, target) = start_script(2, failure, Duration::ZERO).await;
            run(&graph, &target, operation)
                .await
                .unwrap_or_else(|err| panic!("{operation} {failure:?}: {err}"));
            assert_eq!(script.attempts(), 3, "{operation} after two {failure:?}");
            // every attempt sent the same request
            let seen = script.seen();
            assert!(seen.iter().all(|request| request.body == seen[0].body && request.path == seen[0].path));
        }
    }
}

#[tokio::test]
async fn retries_are_bounded_and_the_last_failure_surfaces() {
    let graph = client();
    let (script, target) = start_script(10, Failure::GatewayPage, Duration::ZERO).await;
    let err = run(&graph, &target, Operation::GetSettings).await.unwrap_err();
    assert_eq!(script.attempts(), 3);
    assert!(matches!(err, GraphError::UnexpectedResponse { status: 502, .. }), "{err:?}");
    assert!(err.to_string().contains("502 Bad Gateway"), "{err}");
    let domain = calling::Error::from(err);
    assert!(
        matches!(domain, calling::Error::WhatsApp { status: Some(502), meta_code: None, .. }),
        "{domain:?}"
    );
    assert_eq!(domain.code(), "whatsapp_error");

    let (script, target) = start_script(10, Failure::MetaTransient, Duration::ZERO).await;
    let err = run(&graph, &target, Operation::Terminate).await.unwrap_err();
    assert_eq!(script.attempts(), 3);
    let meta = meta_error(&err, 500, 2);
    assert_eq!(meta.fbtrace_id.as_deref(), Some("AtRaCe2"));
    assert_eq!(calling::Error::from(err).details().unwrap()["transient"], true);
}

#[tokio::test]
async fn requests_that_are_not_safe_to_repeat_fail_at_once() {
    let graph = client();
    for operation in NOT_REPEATABLE {
        let (script, target) = start_script(1, Failure::GatewayPage, Duration::ZERO).await;
        let err = run(&graph, &target, operation).await.unwrap_err();
        assert_eq!(script.attempts(), 1, "{operation} must not be retried");
        assert!(err.is_transient(), "{err:?}");
        assert_eq!(err.operation(), Some(operation));
        assert!(err.to_string().contains("not retried automatically"), "{err}");
        // the next request (by the user, deliberately) goes through
        run(&graph, &target, operation).await.unwrap();
    }
    let (_, target) = start_script(1, Failure::GatewayPage, Duration::ZERO).await;
    let err = run(&graph, &target, Operation::Connect).await.unwrap_err();
    assert!(err.to_string().contains("try again in about 30 seconds"), "{err}");
    // a rate limit is transient too, but "try again in 30 s" would be bad advice
    let (script, target) = start_script(1, Failure::RateLimited, Duration::ZERO).await;
    let err = run(&graph, &target, Operation::Connect).await.unwrap_err();
    assert_eq!(script.attempts(), 1);
    meta_error(&err, 429, 613);
    assert!(err.to_string().contains("rate-limiting connect"), "{err}");
    assert!(!err.to_string().contains("30 seconds"), "{err}");
}

#[tokio::test]
async fn refusals_are_never_retried() {
    let graph = client();
    for operation in REPEATABLE.into_iter().chain(NOT_REPEATABLE) {
        let (script, target) = start_script(1, Failure::MetaInvalid, Duration::ZERO).await;
        let err = run(&graph, &target, operation).await.unwrap_err();
        assert_eq!(script.attempts(), 1, "{operation}");
        let meta = meta_error(&err, 400, 100);
        assert_eq!(meta.details_text(), Some("bad"));
        assert!(!err.to_string().contains("retried"), "{err}");
    }
}

#[tokio::test]
async fn timeouts_are_told_apart_and_retried_only_when_safe() {
    let graph = GraphClient::with_config(GraphConfig {
        request_timeout: Duration::from_millis(150),
        retry: quick_retries(),
        ..GraphConfig::default()
    })
    .unwrap();
    let (script, target) = start_script(0, Failure::GatewayPage, Duration::from_millis(600)).await;
    let err = run(&graph, &target, Operation::CallPermissions).await.unwrap_err();
    assert!(matches!(err, GraphError::Timeout { operation: Operation::CallPermissions }), "{err:?}");
    assert_eq!(script.attempts(), 3);

    let (script, target) = start_script(0, Failure::GatewayPage, Duration::from_millis(600)).await;
    let err = run(&graph, &target, Operation::Accept).await.unwrap_err();
    assert!(matches!(err, GraphError::Timeout { operation: Operation::Accept }), "{err:?}");
    assert!(err.to_string().contains("may or may not"), "{err}");
    assert_eq!(script.attempts(), 1);
    let domain = calling::Error::from(err);
    assert!(matches!(domain, calling::Error::WhatsApp { status: None, meta_code: None, .. }), "{domain:?}");
    assert_eq!(domain.details().unwrap()["reason"], "timeout");
}

#[tokio::test]
async fn connection_failures_are_told_apart() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let target = GraphTarget::new(format!("http://127.0.0.1:{port}/v23.0"), PID, WABA, "secret-token");
    let err = client().get_settings(&target).await.unwrap_err();
    let GraphError::Connection { operation, message } = &err else { panic!("{err:?}") };
    assert_eq!(*operation, Operation::GetSettings);
    assert!(message.contains("not sent"), "{message}");
    assert!(!format!("{err:?}").contains("secret-token"));
    let err = client().connect(&target, &user(), CRLF_OFFER, None).await.unwrap_err();
    assert!(matches!(err, GraphError::Connection { operation: Operation::Connect, .. }), "{err:?}");
    assert_eq!(calling::Error::from(err).details().unwrap()["reason"], "connection");
}

#[tokio::test]
async fn requests_breaking_metas_limits_are_not_sent() {
    let (script, target) = start_script(0, Failure::GatewayPage, Duration::ZERO).await;
    let graph = client();
    let long = "x".repeat(513);
    let err = graph.connect(&target, &user(), CRLF_OFFER, Some(&long)).await.unwrap_err();
    assert!(matches!(err, GraphError::InvalidRequest { field: "biz_opaque_callback_data", .. }), "{err:?}");
    let err = graph.accept(&target, "wacid.X", "", None).await.unwrap_err();
    assert!(matches!(err, GraphError::InvalidRequest { field: "sdp", .. }), "{err:?}");
    let err = graph.terminate(&target, " ").await.unwrap_err();
    assert_eq!(calling::Error::from(err).code(), "validation_failed");
    assert_eq!(script.attempts(), 0);
    graph.connect(&target, &user(), CRLF_OFFER, Some(&"x".repeat(512))).await.unwrap();
}
