//! Real media: the simulator's str0m "WhatsApp user" against a second str0m peer playing the
//! business, over 127.0.0.1 UDP, through the same Graph calls and webhooks. The counters prove
//! audio flowed both ways. These run on the system clock (media is real time).

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use simulator::media::{Peer, PeerConfig};
use simulator::{Clock, SimConfig};

fn real_time_config(ice_lite: bool) -> SimConfig {
    SimConfig { clock: Clock::system(), ice_lite, tick_interval: Duration::from_millis(50), ..config() }
}

async fn wait_for(mut f: impl FnMut() -> bool, secs: u64) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

async fn user_initiated_audio(ice_lite: bool) {
    let h = Harness::with(real_time_config(ice_lite)).await;
    let id = h.inbound("+919876543210").await;
    let offer = h.call_events(&id, "connect").await[0]["session"]["sdp"].as_str().unwrap().to_string();
    assert_eq!(offer.contains("a=ice-lite"), ice_lite);
    // the business: full ICE, answers Meta's offer (becomes ICE-controlling against a lite peer)
    let (business, answer) = Peer::answerer(PeerConfig { ice_lite: false }, &offer).unwrap();
    let session = json!({ "sdp_type": "answer", "sdp": answer });
    let (s, v) = h.call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "pre_accept", "session": session })).await;
    assert_eq!(s, 200, "{v}");
    assert!(wait_for(|| business.stats().connected, 10).await, "business never connected");
    let (s, v) = h
        .call_action(
            json!({ "messaging_product": "whatsapp", "call_id": id, "action": "accept", "session": session }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    business.start_sending();
    let ok = wait_for(
        || {
            let u = h.sim.media_stats(&id).unwrap();
            let b = business.stats();
            u.rx_packets >= 50 && b.rx_packets >= 50
        },
        15,
    )
    .await;
    let user = h.sim.media_stats(&id).unwrap();
    let biz = business.stats();
    assert!(ok, "user {user:?} business {biz:?}");
    assert!(user.tx_packets >= 50, "{user:?}");
    assert!(user.rx_bytes > 50 * 20, "{user:?}");
    // the tone is a sine at amplitude 0.25: RMS about 0.18
    assert!(user.rx_level > 0.1 && user.rx_level < 0.3, "decoded level of the business's tone: {user:?}");
    assert_eq!(user.rx_decode_errors, 0);
    assert!(biz.rx_level > 0.1, "the user's tone is not silence: {biz:?}");
    let (_, v) = h.sandbox("GET", &format!("/sandbox/calls/{id}/media"), None).await;
    assert!(v["rx_packets"].as_u64().unwrap() >= 50, "{v}");
    assert!(v["tx_packets"].as_u64().unwrap() >= 50, "{v}");
    let (s, _) =
        h.call_action(json!({ "messaging_product": "whatsapp", "call_id": id, "action": "terminate" })).await;
    assert_eq!(s, 200);
    assert_eq!(h.call_events(&id, "terminate").await[0]["status"], "COMPLETED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_initiated_call_carries_audio_both_ways_ice_lite() {
    user_initiated_audio(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_initiated_call_carries_audio_both_ways_full_ice() {
    user_initiated_audio(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_initiated_call_carries_audio_both_ways() {
    let h = Harness::with(real_time_config(true)).await;
    h.grant("919876543210", "permanent").await;
    h.sandbox(
        "PUT",
        "/sandbox/users/919876543210/behaviour",
        Some(json!({ "on_call": "answer", "after_seconds": 0.5 })),
    )
    .await;
    let (business, offer) = Peer::offerer(PeerConfig { ice_lite: false }).unwrap();
    let (s, v) = h
        .call_action(json!({ "messaging_product": "whatsapp", "to": "+919876543210", "action": "connect",
                              "session": { "sdp_type": "offer", "sdp": offer } }))
        .await;
    assert_eq!(s, 200, "{v}");
    let id = v["calls"][0]["id"].as_str().unwrap().to_string();
    let answer = h.call_events(&id, "connect").await[0]["session"]["sdp"].as_str().unwrap().to_string();
    business.accept_answer(&answer).await.unwrap();
    assert!(wait_for(|| business.stats().connected, 10).await, "business never connected");
    // The user picks up after 0.5 s; the business starts its audio on ACCEPTED.
    let mut accepted = false;
    for _ in 0..100 {
        if h.statuses(&id).await.contains(&"ACCEPTED".to_string()) {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(accepted);
    business.start_sending();
    let ok = wait_for(
        || h.sim.media_stats(&id).unwrap().rx_packets >= 50 && business.stats().rx_packets >= 50,
        15,
    )
    .await;
    let user = h.sim.media_stats(&id).unwrap();
    assert!(ok, "user {user:?} business {:?}", business.stats());
    assert!(user.tx_packets >= 50 && user.rx_level > 0.1, "{user:?}");
    let (s, _) = h.sandbox("POST", &format!("/sandbox/calls/{id}/hangup"), None).await;
    assert_eq!(s, 200);
    let t = &h.call_events(&id, "terminate").await[0];
    assert_eq!(t["status"], "COMPLETED");
    assert!(t["duration"].is_u64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_that_stops_ends_the_call_and_early_media_is_flagged() {
    let mut cfg = real_time_config(false);
    cfg.silence_timeout = Duration::from_millis(1500);
    let h = Harness::with(cfg).await;
    let id = h.inbound("+919876543210").await;
    let offer = h.call_events(&id, "connect").await[0]["session"]["sdp"].as_str().unwrap().to_string();
    let (business, answer) = Peer::answerer(PeerConfig { ice_lite: false }, &offer).unwrap();
    let session = json!({ "sdp_type": "answer", "sdp": answer });
    h.call_action(
        json!({ "messaging_product": "whatsapp", "call_id": id, "action": "pre_accept", "session": session }),
    )
    .await;
    // The bug Meta warns about: media before accept starts the caller's timer.
    business.start_sending();
    assert!(wait_for(|| h.sim.call(&id).unwrap().early_media, 10).await, "early media not detected");
    let (s, _) = h
        .call_action(
            json!({ "messaging_product": "whatsapp", "call_id": id, "action": "accept", "session": session }),
        )
        .await;
    assert_eq!(s, 200);
    assert!(wait_for(|| h.sim.media_stats(&id).unwrap().rx_packets > 20, 10).await);
    // the business goes silent (its peer stops): after the silence timeout the user drops the call
    business.stop();
    let mut terminate = None;
    for _ in 0..100 {
        if let Some(t) = h.call_events(&id, "terminate").await.pop() {
            terminate = Some(t);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t = terminate.expect("no terminate after silence");
    assert_eq!(t["status"], "FAILED");
    assert_eq!(t["errors"][0]["code"], 138021);
    assert!(t["duration"].is_u64());
}
