//! Answering from agents' browsers over real HTTP with session cookies, against the simulator:
//! `/incoming` carries WhatsApp's offer, the first agent to pre-accept wins (the other gets 409
//! `already_answered` naming the winner), only the winner may accept, and API keys cannot
//! answer. The browser side of the same flow is end2end/tests/webrtc-bridge.spec.ts.

use crate::support;

use calling::accounts::{Role, api_keys, invitations, sessions};
use reqwest::StatusCode;
use serde_json::{Value, json};
use simulator::InboundCall;
use simulator::media::{Peer, PeerConfig};
use support::{Sandbox, eventually};

/// A signed-in member of the sandbox's workspace, calling the API as their browser would.
struct Agent {
    base: String,
    cookie: String,
    client: reqwest::Client,
}

impl Agent {
    async fn join(sandbox: &Sandbox, name: &str, role: Role) -> Agent {
        let services = sandbox.services();
        let now = services.clock.now();
        let email = format!("{}@acme.example", name.to_lowercase());
        let (token, _) = invitations::create(&services.db, &sandbox.workspace.id, &email, role, "test", now)
            .await
            .unwrap();
        let acceptance = invitations::Acceptance {
            token,
            display_name: Some(name.into()),
            password: "agent-password-long".into(),
        };
        let user = invitations::accept(&services.db, acceptance, None, now).await.unwrap().0;
        let (session, _) =
            sessions::create(&services.db, &user.id, &sessions::Origin::default(), now).await.unwrap();
        Agent {
            base: sandbox.server.url.clone(),
            cookie: format!("sb_session={session}"),
            client: reqwest::Client::new(),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}/api/v1/app/calling{path}", self.base))
            .header("cookie", &self.cookie)
            .header("origin", &self.base);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.unwrap();
        let status = reply.status();
        (status, reply.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// `PUT /api/v1/app/presence`, as the browser's heartbeat.
    async fn heartbeat(&self, status: &str, call_id: Option<&str>) -> (StatusCode, Value) {
        let reply = self
            .client
            .put(format!("{}/api/v1/app/presence", self.base))
            .header("cookie", &self.cookie)
            .header("origin", &self.base)
            .json(&json!({ "status": status, "call_id": call_id }))
            .send()
            .await
            .unwrap();
        let status = reply.status();
        (status, reply.json().await.unwrap_or(Value::Null))
    }

    async fn presence_of(&self, name: &str) -> Value {
        let reply = self
            .client
            .get(format!("{}/api/v1/app/presence", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        let body: Value = reply.json().await.unwrap();
        body["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|agent| agent["display_name"] == name)
            .cloned()
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_agent_to_pick_up_answers_and_everyone_else_is_told_who() {
    let sandbox = Sandbox::start(|_| {}).await;
    let ravi = Agent::join(&sandbox, "Ravi", Role::Agent).await;
    let asha = Agent::join(&sandbox, "Asha", Role::Agent).await;
    let viewer = Agent::join(&sandbox, "Vera", Role::Viewer).await;

    sandbox
        .sim
        .sim
        .place_inbound_call(InboundCall {
            to: sandbox.business.phone_number_id.clone(),
            from: "+447700900190".into(),
            name: Some("Bridge Caller".into()),
            cta_payload: None,
            deeplink_payload: None,
        })
        .unwrap();
    let incoming = eventually(10, "the call ringing for agents", || async {
        let (_, body) = ravi.send(reqwest::Method::GET, "/incoming", None).await;
        body["calls"].as_array().filter(|calls| !calls.is_empty()).map(|calls| calls[0].clone())
    })
    .await;
    assert_eq!(incoming["contact_name"], "Bridge Caller");
    assert_eq!(incoming["answered_by"], Value::Null);
    let call_id = incoming["call_id"].as_str().unwrap().to_owned();
    let offer = incoming["sdp_offer"].as_str().unwrap().to_owned();
    assert!(offer.starts_with("v=0"), "{offer}");
    let (status, _) = viewer.send(reqwest::Method::GET, "/incoming", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "viewers are not rung");

    // Bad input and the wrong principal change nothing.
    let (status, body) = ravi.post(&format!("/calls/{call_id}/pre-accept"), json!({ "sdp": "hello" })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"))
    );
    let (status, body) = ravi.post(&format!("/calls/{call_id}/accept"), json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("not_your_call")));
    let services = sandbox.services();
    let (key, _) =
        api_keys::create(&services.db, &sandbox.workspace.id, "k", Role::Admin, "test", 1).await.unwrap();
    let by_key = reqwest::Client::new()
        .post(format!("{}/api/v1/app/calling/calls/{call_id}/pre-accept", sandbox.server.url))
        .bearer_auth(key)
        .json(&json!({ "sdp": "v=0" }))
        .send()
        .await
        .unwrap();
    assert_eq!(by_key.status(), StatusCode::FORBIDDEN);

    // Ravi's browser answers first; Asha's pre-accept is refused with his name.
    let (_agent_peer, answer) = Peer::answerer(PeerConfig { ice_lite: false }, &offer).unwrap();
    let (status, body) = ravi.post(&format!("/calls/{call_id}/pre-accept"), json!({ "sdp": answer })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = asha.post(&format!("/calls/{call_id}/pre-accept"), json!({ "sdp": answer })).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("already_answered")));
    assert!(body["error"]["message"].as_str().unwrap().contains("Ravi"), "{body}");
    let (_, body) = asha.send(reqwest::Method::GET, "/incoming", None).await;
    assert_eq!(body["calls"][0]["answered_by_name"], "Ravi", "the others see who took it: {body}");
    let (status, body) = asha.post(&format!("/calls/{call_id}/accept"), json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("not_your_call")));

    // Ravi accepts (the server resends his pre-accept SDP: the simulator checks they match).
    let (status, body) = ravi.post(&format!("/calls/{call_id}/accept"), json!({})).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("answered")), "{body}");
    let (_, body) = ravi.send(reqwest::Method::GET, "/incoming", None).await;
    assert_eq!(body["calls"], json!([]), "an answered call no longer rings");

    // Ravi's browser reports what it measured; nobody else may, and nonsense is refused.
    let samples = json!({ "samples": [
        { "at_ms": 0, "round_trip_ms": 40.0, "jitter_ms": 2.0, "packets_in": 50, "packets_lost": 0, "packets_out": 50, "level_in": 0.2 },
        { "at_ms": 2000, "round_trip_ms": 60.0, "jitter_ms": 4.0, "packets_in": 148, "packets_lost": 2, "packets_out": 150, "level_in": 0.3 }
    ]});
    let (status, summary) = ravi.post(&format!("/calls/{call_id}/quality"), samples.clone()).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["samples"], 2);
    assert_eq!(summary["round_trip_avg_ms"], 50.0);
    assert!(summary["mos"].as_f64().unwrap() > 4.0, "{summary}");
    let (status, body) = asha.post(&format!("/calls/{call_id}/quality"), samples).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("not_your_call")));
    let (status, body) = ravi.post(&format!("/calls/{call_id}/quality"), json!({ "samples": [] })).await;
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("samples"))
    );
    let (_, detail) = viewer.send(reqwest::Method::GET, &format!("/calls/{call_id}"), None).await;
    assert_eq!(detail["quality"]["summary"]["samples"], 2, "kept with the call: {detail}");

    let (status, body) = ravi.post(&format!("/calls/{call_id}/terminate"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually(10, "WhatsApp's terminate webhook", || async {
        let (_, call) = ravi.send(reqwest::Method::GET, &format!("/calls/{call_id}"), None).await;
        (call["summary"]["status"] == "completed").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_places_a_call_with_the_browsers_offer_and_reads_whatsapps_answer() {
    let sandbox = Sandbox::start(|_| {}).await;
    let ravi = Agent::join(&sandbox, "Ravi", Role::Agent).await;
    let viewer = Agent::join(&sandbox, "Vera", Role::Viewer).await;
    let (_browser, offer) = Peer::offerer(PeerConfig { ice_lite: false }).unwrap();

    // Refusals name the field, the role, or the missing permission; nothing reaches WhatsApp.
    let (status, body) = ravi.post("/initiate", json!({ "to": "not a number", "sdp": offer })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"]["field"], "to", "{body}");
    let (status, body) = ravi.post("/initiate", json!({ "to": "+447700900191", "sdp": "nope" })).await;
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("sdp"))
    );
    let (status, _) = viewer.post("/initiate", json!({ "to": "+447700900191", "sdp": offer })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = ravi.post("/initiate", json!({ "to": "+447700900191", "sdp": offer })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("permission_required")),
        "{body}"
    );
    assert!(sandbox.sim.sim.calls().is_empty(), "a refused call never reaches WhatsApp");

    let user = calling::phone::PhoneNumber::parse("+447700900191").unwrap();
    support::user_accepts_calls(&sandbox, &user, &calling::permissions::PermissionLimits::PRODUCTION).await;
    let (status, placed) = ravi.post("/initiate", json!({ "to": "+44 7700 900191", "sdp": offer })).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let call_id = placed["call_id"].as_str().unwrap().to_owned();
    assert!(placed["wa_call_id"].as_str().unwrap().starts_with("wacid."));

    // The connect webhook brings WhatsApp's SDP answer; the customer picks up after a second.
    let session = eventually(10, "WhatsApp's answer and the pick-up", || async {
        let (_, session) = ravi.send(reqwest::Method::GET, &format!("/calls/{call_id}/session"), None).await;
        (session["status"] == "answered").then_some(session)
    })
    .await;
    assert!(session["sdp_answer"].as_str().unwrap().starts_with("v=0"), "{session}");
    let (status, _) = viewer.send(reqwest::Method::GET, &format!("/calls/{call_id}/session"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = ravi.post(&format!("/calls/{call_id}/terminate"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_follows_heartbeats_and_a_call_whose_browser_went_silent_is_ended() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let ravi = Agent::join(&sandbox, "Ravi", Role::Agent).await;
    let vera = Agent::join(&sandbox, "Vera", Role::Viewer).await;

    assert_eq!(vera.presence_of("Ravi").await["presence"], "offline", "no heartbeat yet");
    assert_eq!(ravi.heartbeat("online", None).await.0, StatusCode::OK);
    assert_eq!(vera.presence_of("Ravi").await["presence"], "online");
    ravi.heartbeat("away", None).await;
    assert_eq!(vera.presence_of("Ravi").await["presence"], "away");
    assert_eq!(vera.heartbeat("online", None).await.0, StatusCode::FORBIDDEN, "viewers take no calls");
    let (status, body) = ravi.heartbeat("busy-ish", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Ravi answers a call, and his browser says he is on it.
    sandbox
        .sim
        .sim
        .place_inbound_call(InboundCall {
            to: sandbox.business.phone_number_id.clone(),
            from: "+447700900192".into(),
            name: Some("Left Hanging".into()),
            cta_payload: None,
            deeplink_payload: None,
        })
        .unwrap();
    let incoming = eventually(10, "the call ringing", || async {
        let (_, body) = ravi.send(reqwest::Method::GET, "/incoming", None).await;
        body["calls"].as_array().filter(|calls| !calls.is_empty()).map(|calls| calls[0].clone())
    })
    .await;
    let call_id = incoming["call_id"].as_str().unwrap().to_owned();
    let (status, _) = ravi.heartbeat("online", Some(&call_id)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "not his call yet");
    let (_peer, answer) =
        Peer::answerer(PeerConfig { ice_lite: false }, incoming["sdp_offer"].as_str().unwrap()).unwrap();
    assert_eq!(
        ravi.post(&format!("/calls/{call_id}/pre-accept"), json!({ "sdp": answer })).await.0,
        StatusCode::OK
    );
    assert_eq!(ravi.post(&format!("/calls/{call_id}/accept"), json!({})).await.0, StatusCode::OK);
    assert_eq!(ravi.heartbeat("online", Some(&call_id)).await.0, StatusCode::OK);
    let busy = vera.presence_of("Ravi").await;
    assert_eq!((busy["presence"].as_str(), busy["call_id"].as_str()), (Some("busy"), Some(call_id.as_str())));

    // While heartbeats arrive, nothing happens; once they stop for long enough, the call ends.
    assert_eq!(server::sweeper::end_abandoned_calls(services).await.unwrap(), 0);
    sqlx::query("UPDATE agent_presence SET last_seen_at = last_seen_at - $1")
        .bind(calling::presence::CALL_ABANDONED_AFTER + 1_000)
        .execute(services.db.pool())
        .await
        .unwrap();
    assert_eq!(vera.presence_of("Ravi").await["presence"], "offline");
    assert_eq!(server::sweeper::end_abandoned_calls(services).await.unwrap(), 1);
    assert_eq!(server::sweeper::end_abandoned_calls(services).await.unwrap(), 0, "once");
    eventually(10, "the abandoned call ended at WhatsApp", || async {
        let (_, call) = ravi.send(reqwest::Method::GET, &format!("/calls/{call_id}"), None).await;
        (call["summary"]["status"] == "completed").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_rings_their_last_agent_first_and_then_everyone() {
    let head_start_ms = 4_000;
    let sandbox = Sandbox::start_routed(calling::answering::Routing { head_start_ms }).await;
    let ravi = Agent::join(&sandbox, "Ravi", Role::Agent).await;
    let asha = Agent::join(&sandbox, "Asha", Role::Agent).await;
    for agent in [&ravi, &asha] {
        assert_eq!(agent.heartbeat("online", None).await.0, StatusCode::OK);
    }
    let caller = "+447700900195";
    let ring = |agent: &'static str| {
        sandbox
            .sim
            .sim
            .place_inbound_call(InboundCall {
                to: sandbox.business.phone_number_id.clone(),
                from: caller.into(),
                name: Some(format!("Returning Caller ({agent})")),
                cta_payload: None,
                deeplink_payload: None,
            })
            .unwrap()
    };
    let ringing = |agent: &Agent| {
        let (base, cookie, client) = (agent.base.clone(), agent.cookie.clone(), agent.client.clone());
        async move {
            eventually(10, "the call ringing", || {
                let (base, cookie, client) = (base.clone(), cookie.clone(), client.clone());
                async move {
                    let reply = client
                        .get(format!("{base}/api/v1/app/calling/incoming"))
                        .header("cookie", &cookie)
                        .send()
                        .await
                        .unwrap();
                    let body: Value = reply.json().await.unwrap();
                    body["calls"].as_array().filter(|calls| !calls.is_empty()).map(|calls| calls[0].clone())
                }
            })
            .await
        }
    };

    // A first call: nobody has taken this caller before, so it rings for everyone at once.
    let first = ring("first");
    let call = ringing(&asha).await;
    assert_eq!(call["preferred_agent_id"], Value::Null, "{call}");
    assert_eq!(call["rings_everyone_at"], call["started_at"], "{call}");
    let call_id = call["call_id"].as_str().unwrap().to_owned();
    let (_ravi_peer, answer) =
        Peer::answerer(PeerConfig { ice_lite: false }, call["sdp_offer"].as_str().unwrap()).unwrap();
    let (status, body) = ravi.post(&format!("/calls/{call_id}/pre-accept"), json!({ "sdp": answer })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    sandbox.sim.sim.hangup(&first).unwrap();
    eventually(10, "the first call over", || async {
        let (_, body) = asha.send(reqwest::Method::GET, "/incoming", None).await;
        body["calls"].as_array().is_some_and(Vec::is_empty).then_some(())
    })
    .await;

    // The caller again: Ravi, their last agent, has it to himself for the head start. Asha's
    // browser is told when it rings for her, and the server refuses her pick-up until then.
    ring("second");
    let call = ringing(&asha).await;
    assert_eq!(call["preferred_agent_name"], "Ravi", "{call}");
    let starts = call["started_at"].as_i64().unwrap();
    assert_eq!(call["rings_everyone_at"].as_i64(), Some(starts + head_start_ms), "{call}");
    let call_id = call["call_id"].as_str().unwrap().to_owned();
    let (_asha_peer, answer) =
        Peer::answerer(PeerConfig { ice_lite: false }, call["sdp_offer"].as_str().unwrap()).unwrap();
    let (status, body) = asha.post(&format!("/calls/{call_id}/pre-accept"), json!({ "sdp": answer })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("reserved_for_agent")),
        "{body}"
    );
    assert!(body["error"]["message"].as_str().unwrap().contains("Ravi"), "{body}");
    // Ravi lets it ring; once the head start is over it is anyone's, and Asha takes it.
    let wait = (starts + head_start_ms - sandbox.services().clock.now()).max(0) as u64 + 200;
    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
    let (status, body) = asha.post(&format!("/calls/{call_id}/pre-accept"), json!({ "sdp": answer })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = ravi.post(&format!("/calls/{call_id}/pre-accept"), json!({ "sdp": answer })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_answered")),
        "{body}"
    );
    let (status, _) = asha.post(&format!("/calls/{call_id}/terminate"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    eventually(10, "the second call over", || async {
        let (_, body) = asha.send(reqwest::Method::GET, "/incoming", None).await;
        body["calls"].as_array().is_some_and(Vec::is_empty).then_some(())
    })
    .await;

    // Asha took the caller last, but she is away: no head start, it rings for Ravi at once.
    assert_eq!(asha.heartbeat("away", None).await.0, StatusCode::OK);
    ring("third");
    let call = ringing(&ravi).await;
    assert_eq!(call["preferred_agent_id"], Value::Null, "an away agent gets no head start: {call}");
    assert_eq!(call["rings_everyone_at"], call["started_at"], "{call}");
}

/// `switchboard calling …` against the sandbox's server with an API key: (ok, stdout JSON).
fn cli(sandbox: &Sandbox, key: &str, args: &[&str]) -> (bool, Value) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("calling")
        .args(args)
        .env("SWITCHBOARD_URL", &sandbox.server.url)
        .env("SWITCHBOARD_API_KEY", key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    (output.status.success(), serde_json::from_str(&stdout).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_initiated_from_the_cli_is_dialled_by_an_agent_and_watched_ringing_through() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let ravi = Agent::join(&sandbox, "Ravi", Role::Agent).await;
    let asha = Agent::join(&sandbox, "Asha", Role::Agent).await;
    let (key, _) = api_keys::create(
        &services.db,
        &sandbox.workspace.id,
        "cli",
        Role::Agent,
        "test",
        services.clock.now(),
    )
    .await
    .unwrap();
    let user = calling::phone::PhoneNumber::parse("+447700900196").unwrap();
    let phone_number_id = sandbox.business.phone_number_id.clone();

    // Without permission the request is refused before anything waits or reaches WhatsApp.
    let (ok, _) =
        cli(&sandbox, &key, &["initiate", "--to", "+447700900196", "--phone-number-id", &phone_number_id]);
    assert!(!ok, "no permission yet");
    support::user_accepts_calls(&sandbox, &user, &calling::permissions::PermissionLimits::PRODUCTION).await;

    // `calling initiate --to … --phone-number-id …` (no audio in a CLI): the call waits for an agent.
    let (ok, initiated) =
        cli(&sandbox, &key, &["initiate", "--to", "+447700900196", "--phone-number-id", &phone_number_id]);
    assert!(ok, "{initiated}");
    assert_eq!(initiated["state"], "waiting_for_agent", "{initiated}");
    assert_eq!(initiated["wa_call_id"], Value::Null);
    let call_id = initiated["call_id"].as_str().unwrap().to_owned();
    assert!(sandbox.sim.sim.calls().is_empty(), "nothing reached WhatsApp yet");
    let (_, waiting) = cli(&sandbox, &key, &["call", &call_id, "status"]);
    assert_eq!(waiting["status"], "ringing", "{waiting}");

    // It waits in the agents' browsers; API keys cannot dial (no browser, no audio).
    let (_, incoming) = ravi.send(reqwest::Method::GET, "/incoming", None).await;
    let to_dial = incoming["to_dial"].as_array().unwrap();
    assert_eq!(to_dial.len(), 1, "{incoming}");
    assert_eq!(
        (to_dial[0]["call_id"].as_str(), to_dial[0]["contact_number"].as_str()),
        (Some(call_id.as_str()), Some("+447700900196"))
    );
    let by_key = reqwest::Client::new()
        .post(format!("{}/api/v1/app/calling/calls/{call_id}/dial", sandbox.server.url))
        .bearer_auth(&key)
        .json(&json!({ "sdp": "v=0" }))
        .send()
        .await
        .unwrap();
    assert_eq!(by_key.status(), StatusCode::FORBIDDEN);

    // Ravi's browser dials it with its offer; Asha, a moment late, is told he has it.
    let (_browser, offer) = Peer::offerer(PeerConfig { ice_lite: false }).unwrap();
    let (status, body) = ravi.post(&format!("/calls/{call_id}/dial"), json!({ "sdp": offer })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["wa_call_id"].as_str().unwrap().starts_with("wacid."), "{body}");
    let (status, body) = asha.post(&format!("/calls/{call_id}/dial"), json!({ "sdp": offer })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, incoming) = asha.send(reqwest::Method::GET, "/incoming", None).await;
    assert_eq!(incoming["to_dial"], json!([]), "no longer waiting: {incoming}");

    // The seed's loop: poll `call <id> status` until the simulated user has answered.
    eventually(15, "the user answering", || async {
        let (_, now) = cli(&sandbox, &key, &["call", &call_id, "status"]);
        (now["status"] == "answered").then_some(())
    })
    .await;
    let (_, session) = ravi.send(reqwest::Method::GET, &format!("/calls/{call_id}/session"), None).await;
    assert!(
        session["sdp_answer"].as_str().unwrap().starts_with("v=0"),
        "WhatsApp's answer for Ravi's browser"
    );
    let (status, _) = ravi.post(&format!("/calls/{call_id}/terminate"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    eventually(15, "the call completed", || async {
        let (_, now) = cli(&sandbox, &key, &["call", &call_id, "status"]);
        (now["status"] == "completed").then_some(())
    })
    .await;
    let (_, calls) = cli(&sandbox, &key, &["calls"]);
    let listed: Vec<&Value> =
        calls["calls"].as_array().unwrap().iter().filter(|c| c["id"] == call_id.as_str()).collect();
    assert_eq!(listed.len(), 1, "one call, not a second one for WhatsApp's webhook: {calls}");
    assert_eq!(listed[0]["agent_name"], "Ravi");

    // A request nobody dials is given up once its pickup window passes.
    let (ok, second) = cli(&sandbox, &key, &["initiate", "--to", "+447700900196"]);
    assert!(ok, "{second}");
    let second = second["call_id"].as_str().unwrap().to_owned();
    sqlx::query("UPDATE calls SET answer_deadline = $1 WHERE id = $2")
        .bind(services.clock.now() - 1)
        .bind(&second)
        .execute(services.db.pool())
        .await
        .unwrap();
    assert_eq!(calling::ingest::expire_unanswered(services).await.unwrap(), 1);
    let (_, now) = cli(&sandbox, &key, &["call", &second, "status"]);
    assert_eq!(now["status"], "missed", "{now}");
    let (status, body) = ravi.post(&format!("/calls/{second}/dial"), json!({ "sdp": offer })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_waiting")),
        "{body}"
    );
}
