//! Billing end to end against the simulator: the preflight refuses an outbound call with an
//! expired subscription or an empty wallet before any request reaches WhatsApp (HTTP 402), and
//! a funded call is settled from its hold when WhatsApp's terminate webhook arrives.

use crate::support;

use axum::http::StatusCode;
use calling::billing::{self, Micros, SubscriptionStatus, rates, subscription, wallet};
use calling::call_actions;
use calling::clock::Clock;
use calling::graph::GraphClient;
use calling::numbers::WhatsAppNumber;
use calling::permissions::PermissionLimits;
use calling::phone::PhoneNumber;
use calling::testing;
use server::error::ApiError;
use simulator::media::{Peer, PeerConfig};
use support::{Sandbox, eventually};

const DAY: i64 = 24 * 60 * 60 * 1000;

/// The sandbox's number, billed like a real one (sandbox numbers are free).
async fn billed_number(sandbox: &Sandbox) -> WhatsAppNumber {
    sqlx::query("UPDATE whatsapp_numbers SET is_sandbox = 0 WHERE id = $1")
        .bind(&sandbox.number.id)
        .execute(sandbox.services().db.pool())
        .await
        .unwrap();
    WhatsAppNumber { is_sandbox: false, ..sandbox.number.clone() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_subscription_and_empty_wallet_are_refused_before_whatsapp_hears_of_the_call() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let client = GraphClient::new().unwrap();
    let user = PhoneNumber::parse("+447700900161").unwrap();
    let limits = PermissionLimits::PRODUCTION;
    let number = billed_number(&sandbox).await;
    support::user_accepts_calls(&sandbox, &user, &limits).await;
    let ws = &sandbox.workspace.id;
    let now = services.clock.now();

    // No subscription at all.
    let (_, offer) = Peer::offerer(PeerConfig { ice_lite: false }).unwrap();
    let err = call_actions::place(services, &client, &number, &user, &offer, &limits).await.unwrap_err();
    assert_eq!(err.code(), "subscription_expired");
    let api = ApiError(err);
    assert_eq!(api.status(), StatusCode::PAYMENT_REQUIRED);
    assert!(sandbox.sim.sim.calls().is_empty(), "no connect reached WhatsApp");

    // A subscription whose period is over, with money in the wallet.
    subscription::set(&services.db, ws, "usage", SubscriptionStatus::Active, now - 1, now).await.unwrap();
    wallet::top_up(&services.db, ws, "pay-1", Micros::from_units(20).unwrap(), None, now).await.unwrap();
    let err = call_actions::place(services, &client, &number, &user, &offer, &limits).await.unwrap_err();
    assert_eq!(err.code(), "subscription_expired");
    assert!(sandbox.sim.sim.calls().is_empty(), "no connect reached WhatsApp");

    // An active subscription and too little money: 402 insufficient_balance with its details.
    subscription::set(&services.db, ws, "usage", SubscriptionStatus::Active, now + 30 * DAY, now)
        .await
        .unwrap();
    let balance = wallet::get(&services.db, ws).await.unwrap().balance;
    wallet::adjust(&services.db, ws, Micros(-balance.get()), "test: empty the wallet", "admin", now)
        .await
        .unwrap();
    let err = call_actions::place(services, &client, &number, &user, &offer, &limits).await.unwrap_err();
    assert_eq!(err.code(), "insufficient_balance");
    let details = err.details().unwrap();
    assert_eq!(details["available_micros"], 0);
    assert!(details["required_micros"].as_i64().unwrap() > 0);
    assert_eq!(ApiError(err).status(), StatusCode::PAYMENT_REQUIRED);
    assert!(sandbox.sim.sim.calls().is_empty(), "no connect reached WhatsApp");

    let verification = wallet::verify(&services.db, ws, now).await.unwrap();
    assert!(verification.is_consistent());
    assert_eq!(verification.active_holds, Micros::ZERO, "refusals hold nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_funded_outbound_call_is_charged_by_the_pulse_when_it_ends() {
    for db in testing::every_database().await {
        let services = testing::services(&db.db, Clock::System);
        let dialect = db.dialect();
        let sandbox = Sandbox::start_with(services, Some(db), |_| {}).await;
        let services = sandbox.services();
        let client = GraphClient::new().unwrap();
        let user = PhoneNumber::parse("+447700900162").unwrap();
        let limits = PermissionLimits::PRODUCTION;
        let number = billed_number(&sandbox).await;
        support::user_accepts_calls(&sandbox, &user, &limits).await;
        let ws = &sandbox.workspace.id;
        let now = services.clock.now();
        subscription::start_trial(&services.db, ws, now).await.unwrap();
        let funds = Micros::from_units(20).unwrap();
        wallet::top_up(&services.db, ws, "pay-1", funds, None, now).await.unwrap();

        let (agent, offer) = Peer::offerer(PeerConfig { ice_lite: false }).unwrap();
        let placed = call_actions::place(services, &client, &number, &user, &offer, &limits).await.unwrap();
        let held = wallet::get(&services.db, ws).await.unwrap().held;
        assert!(held > Micros::ZERO, "the call's estimate is held while it runs");
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
        eventually(20, "the user answering", || async {
            let (status,): (String,) = sqlx::query_as("SELECT status FROM calls WHERE id = $1")
                .bind(&placed.call_id)
                .fetch_one(services.db.pool())
                .await
                .unwrap();
            (status == "answered").then_some(())
        })
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        sandbox.sim.sim.hangup(&placed.wa_call_id).unwrap();

        let settlement = eventually(10, "the settlement", || async {
            billing::holds::settlement(&services.db, ws, &placed.call_id).await.unwrap()
        })
        .await;
        let (duration, cost): (Option<i64>, i64) =
            sqlx::query_as("SELECT duration_seconds, cost_micros FROM calls WHERE id = $1")
                .bind(&placed.call_id)
                .fetch_one(services.db.pool())
                .await
                .unwrap();
        let duration = duration.expect("Meta's duration");
        assert_eq!(settlement.duration_seconds, duration, "{dialect:?}");
        assert_eq!(settlement.pulses, rates::pulses(duration));
        assert!(settlement.pulses >= 1);
        let rate = rates::defaults().default_call;
        assert_eq!(settlement.charged, rate.billable.checked_mul(settlement.pulses).unwrap());
        assert_eq!(cost, settlement.charged.get(), "the cost is on the call row");
        let wallet = wallet::get(&services.db, ws).await.unwrap();
        assert_eq!(wallet.held, Micros::ZERO, "the rest of the hold is released");
        assert_eq!(wallet.balance, funds.checked_sub(settlement.charged).unwrap());
        assert!(wallet::verify(&services.db, ws, services.clock.now()).await.unwrap().is_consistent());
    }
}
