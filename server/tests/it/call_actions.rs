//! The business's call actions against the simulator, with real WebRTC media: a str0m peer
//! plays the agent's browser, the simulator plays the WhatsApp user.

use crate::support;

use std::time::Duration;

use calling::call_actions;
use calling::graph::GraphClient;
use calling::permissions::PermissionLimits;
use calling::phone::PhoneNumber;
use simulator::InboundCall;
use simulator::media::{Peer, PeerConfig};
use support::{Sandbox, eventually};

async fn call_status(sandbox: &Sandbox, call_id: &str) -> (String, Option<i64>) {
    sqlx::query_as("SELECT status, duration_seconds FROM calls WHERE id = $1")
        .bind(call_id)
        .fetch_one(sandbox.services().db.pool())
        .await
        .unwrap()
}

async fn our_call_id(sandbox: &Sandbox, wa_call_id: &str) -> Option<(String, Option<String>)> {
    sqlx::query_as("SELECT id, sdp_offer FROM calls WHERE wa_call_id = $1")
        .bind(wa_call_id)
        .fetch_optional(sandbox.services().db.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_call_is_answered_with_audio_both_ways_and_completes() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let client = GraphClient::new().unwrap();
    let wa_call_id = sandbox
        .sim
        .sim
        .place_inbound_call(InboundCall {
            to: sandbox.business.phone_number_id.clone(),
            from: "+447700900150".into(),
            name: Some("Audio Test".into()),
            cta_payload: None,
            deeplink_payload: None,
        })
        .unwrap();
    let (call_id, offer) = eventually(10, "the ringing call", || our_call_id(&sandbox, &wa_call_id)).await;

    // The agent's side answers Meta's offer, pre-accepts, accepts with the identical SDP.
    let (agent, answer) =
        Peer::answerer(PeerConfig { ice_lite: false }, &offer.expect("offer stored")).unwrap();
    let call = call_actions::load(services, &sandbox.workspace.id, &call_id).await.unwrap();
    call_actions::pre_accept(services, &client, &call, &answer).await.unwrap();
    let call = call_actions::load(services, &sandbox.workspace.id, &call_id).await.unwrap();
    let state = call_actions::accept(services, &client, &call, &answer).await.unwrap();
    assert_eq!(state.status().as_str(), "answered");
    agent.start_sending();

    eventually(20, "audio both ways", || async {
        let user = sandbox.sim.sim.media_stats(&wa_call_id)?;
        let ours = agent.stats();
        (user.rx_packets > 50 && user.rx_level > 0.01 && ours.rx_packets > 50 && ours.rx_level > 0.01)
            .then_some(())
    })
    .await;

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let call = call_actions::load(services, &sandbox.workspace.id, &call_id).await.unwrap();
    call_actions::terminate(services, &client, &call).await.unwrap();
    let (status, duration) = eventually(10, "the terminate webhook", || async {
        let (status, duration) = call_status(&sandbox, &call_id).await;
        duration.map(|d| (status, Some(d)))
    })
    .await;
    assert_eq!(status, "completed");
    assert!(duration.unwrap() >= 1, "Meta's duration is kept: {duration:?}");

    // Acting on the ended call is refused before anything is sent.
    let call = call_actions::load(services, &sandbox.workspace.id, &call_id).await.unwrap();
    let err = call_actions::terminate(services, &client, &call).await.unwrap_err();
    assert_eq!(err.code(), "call_not_actionable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbound_call_needs_permission_and_then_carries_audio() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let client = GraphClient::new().unwrap();
    let user = PhoneNumber::parse("+447700900160").unwrap();
    let limits = PermissionLimits::PRODUCTION;

    // Without permission the call is refused here; WhatsApp never hears of it.
    let (_, offer) = Peer::offerer(PeerConfig { ice_lite: false }).unwrap();
    let err =
        call_actions::place(services, &client, &sandbox.number, &user, &offer, &limits).await.unwrap_err();
    assert_eq!(err.code(), "permission_required");
    assert!(sandbox.sim.sim.calls().is_empty(), "no connect reached WhatsApp");

    // The user grants permission (WhatsApp tells us by webhook) and answers after a second.
    support::user_accepts_calls(&sandbox, &user, &limits).await;

    let (agent, offer) = Peer::offerer(PeerConfig { ice_lite: false }).unwrap();
    let placed =
        call_actions::place(services, &client, &sandbox.number, &user, &offer, &limits).await.unwrap();
    let answer = eventually(10, "Meta's SDP answer", || async {
        let (answer,): (Option<String>,) = sqlx::query_as("SELECT sdp_answer FROM calls WHERE id = $1")
            .bind(&placed.call_id)
            .fetch_one(services.db.pool())
            .await
            .unwrap();
        answer
    })
    .await;
    agent.accept_answer(&answer).await.unwrap();
    agent.start_sending();
    eventually(20, "audio both ways", || async {
        let theirs = sandbox.sim.sim.media_stats(&placed.wa_call_id)?;
        let ours = agent.stats();
        (theirs.rx_packets > 50 && ours.rx_packets > 50).then_some(())
    })
    .await;
    let (status, _) = call_status(&sandbox, &placed.call_id).await;
    assert_eq!(status, "answered");

    sandbox.sim.sim.hangup(&placed.wa_call_id).unwrap();
    let (status, _) = eventually(10, "the end of the call", || async {
        let row = call_status(&sandbox, &placed.call_id).await;
        (row.0 != "answered").then_some(row)
    })
    .await;
    assert_eq!(status, "completed");
}
