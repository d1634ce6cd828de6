//! Billing end to end against the simulator: the preflight refuses an outbound call with an
//! expired subscription or an empty wallet before any request reaches WhatsApp (HTTP 402), a
//! funded call is settled from its hold when WhatsApp's terminate webhook arrives and shows in
//! the expenses log with its callee; the billing REST writes (manual top-ups, the threshold,
//! rate card versions, the subscription) are validated field by field, role-checked, scoped to
//! the key's workspace and audited; the first owner's workspace starts on a trial.

use crate::support;

use axum::http::StatusCode;
use calling::accounts::{Role, api_keys, audit};
use calling::billing::{self, Micros, SubscriptionStatus, rates, subscription, wallet};
use calling::call_actions;
use calling::clock::Clock;
use calling::graph::GraphClient;
use calling::numbers::WhatsAppNumber;
use calling::permissions::PermissionLimits;
use calling::phone::PhoneNumber;
use calling::testing;
use calling::workspace;
use reqwest::Method;
use serde_json::{Value, json};
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

        // The expenses log names the call and its callee.
        let viewer = Api::new(&sandbox, ws, Role::Viewer).await;
        let (status, charges) = viewer.get("/expenses?kind=call_charge").await;
        assert_eq!(status, StatusCode::OK, "{charges}");
        let lines = charges["lines"].as_array().unwrap();
        assert_eq!(lines.len(), 1, "{charges}");
        assert_eq!(lines[0]["cause"]["call_id"], placed.call_id.as_str());
        assert_eq!(lines[0]["callee"], user.e164());
        assert_eq!(lines[0]["amount"], -settlement.charged.get());
    }
}

/// An API client of one workspace with one role.
struct Api {
    base: String,
    key: String,
    client: reqwest::Client,
}

impl Api {
    async fn new(sandbox: &Sandbox, workspace_id: &str, role: Role) -> Api {
        let services = sandbox.services();
        let (key, _) =
            api_keys::create(&services.db, workspace_id, "billing tests", role, "test", services.clock.now())
                .await
                .unwrap();
        Api { base: sandbox.server.url.clone(), key, client: reqwest::Client::new() }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}/api/v1/app/billing{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.unwrap();
        let status = StatusCode::from_u16(reply.status().as_u16()).unwrap();
        let text = reply.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn send(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(method, path, Some(body)).await
    }

    /// `(status, error.code, error.details.field)` of a refusal.
    async fn refusal(&self, method: Method, path: &str, body: Value) -> (StatusCode, String, String) {
        let (status, reply) = self.send(method, path, body).await;
        let error = &reply["error"];
        let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
        (status, text(&error["code"]), text(&error["details"]["field"]))
    }
}

fn invalid(field: &str) -> (StatusCode, String, String) {
    (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed".to_owned(), field.to_owned())
}

fn forbidden() -> (StatusCode, String, String) {
    (StatusCode::FORBIDDEN, "forbidden".to_owned(), String::new())
}

/// The default rate card as the API takes it, with a rate for India.
fn card_with_india(billable: i64) -> Value {
    let mut card = serde_json::to_value(rates::defaults()).unwrap();
    card["countries"] = json!({ "IN": { "meta": 1_000, "billable": billable } });
    card["note"] = json!("India priced");
    card
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_writes_are_validated_role_checked_scoped_and_audited() {
    for db in testing::every_database().await {
        let services = testing::services(&db.db, Clock::System);
        let dialect = db.dialect();
        let sandbox = Sandbox::start_with(services, Some(db), |_| {}).await;
        let services = sandbox.services();
        let ws = sandbox.workspace.id.clone();
        let owner = Api::new(&sandbox, &ws, Role::Owner).await;
        let admin = Api::new(&sandbox, &ws, Role::Admin).await;
        let agent = Api::new(&sandbox, &ws, Role::Agent).await;
        let viewer = Api::new(&sandbox, &ws, Role::Viewer).await;
        let other_ws = workspace::create(&services.db, "Other Co", services.clock.now()).await.unwrap().id;
        let stranger = Api::new(&sandbox, &other_ws, Role::Owner).await;

        // Top-ups: owners and admins, through the manual provider, once per reference.
        let wire = json!({ "amount": 25_000_000, "reference": "TRX-1", "note": "wire" });
        let (status, first) = owner.send(Method::POST, "/top-ups", wire.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{dialect:?} {first}");
        assert_eq!(
            (first["credited"].as_bool(), first["top_up_id"].as_str()),
            (Some(true), Some("manual:TRX-1"))
        );
        assert_eq!(first["wallet"]["balance"], 25_000_000);
        let (status, again) = owner.send(Method::POST, "/top-ups", wire.clone()).await;
        assert_eq!((status, again["credited"].as_bool()), (StatusCode::OK, Some(false)), "{again}");
        assert_eq!(again["wallet"]["balance"], 25_000_000, "a replayed reference adds nothing");
        let (status, by_admin) = admin.send(Method::POST, "/top-ups", json!({ "amount": 1_000_000 })).await;
        assert_eq!(status, StatusCode::CREATED, "{by_admin}");
        assert!(by_admin["top_up_id"].as_str().unwrap().starts_with("manual:"), "a reference is generated");
        for api in [&agent, &viewer] {
            assert_eq!(api.refusal(Method::POST, "/top-ups", wire.clone()).await, forbidden());
        }
        for (body, field) in [
            (json!({}), "amount"),
            (json!({ "amount": 0 }), "amount"),
            (json!({ "amount": -5 }), "amount"),
            (json!({ "amount": 100_000_000_001_i64 }), "amount"),
            (json!({ "amount": "ten" }), "body"),
            (json!({ "amount": 1, "reference": "x".repeat(65) }), "reference"),
            (json!({ "amount": 1, "note": "n".repeat(201) }), "note"),
        ] {
            assert_eq!(owner.refusal(Method::POST, "/top-ups", body.clone()).await, invalid(field), "{body}");
        }
        let (_, overview) = viewer.get("").await;
        assert_eq!(overview["wallet"]["balance"], 26_000_000, "refusals wrote nothing: {overview}");
        assert_eq!(
            (overview["low_balance"].as_bool(), overview["low_balance_threshold"].as_i64()),
            (Some(false), Some(5_000_000))
        );

        // Manual adjustments: owners only, with a reason, never below zero.
        let fix = json!({ "amount": -1_000_000, "reason": "duplicate transfer" });
        assert_eq!(admin.refusal(Method::POST, "/adjustments", fix.clone()).await, forbidden());
        for (body, field) in [
            (json!({ "reason": "x" }), "amount"),
            (json!({ "amount": 0, "reason": "x" }), "amount"),
            (json!({ "amount": 1 }), "reason"),
            (json!({ "amount": 1, "reason": "r".repeat(201) }), "reason"),
        ] {
            assert_eq!(
                owner.refusal(Method::POST, "/adjustments", body.clone()).await,
                invalid(field),
                "{body}"
            );
        }
        let (status, _, _) = owner
            .refusal(Method::POST, "/adjustments", json!({ "amount": -999_000_000, "reason": "x" }))
            .await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
        let (status, adjusted) = owner.send(Method::POST, "/adjustments", fix).await;
        assert_eq!(
            (status, adjusted["balance"].as_i64()),
            (StatusCode::CREATED, Some(25_000_000)),
            "{adjusted}"
        );
        let (status, adjusted) =
            owner.send(Method::POST, "/adjustments", json!({ "amount": 1_000_000, "reason": "undo" })).await;
        assert_eq!((status, adjusted["balance"].as_i64()), (StatusCode::CREATED, Some(26_000_000)));
        let (_, lines) = viewer.get("/expenses?kind=adjustment").await;
        assert_eq!(lines["lines"][0]["cause"]["reason"], "duplicate transfer", "{lines}");

        // The threshold: above the balance, the overview warns.
        let (status, set) =
            admin.send(Method::PUT, "/low-balance-threshold", json!({ "threshold": 50_000_000 })).await;
        assert_eq!(status, StatusCode::OK, "{set}");
        assert_eq!((set["low_balance"].as_bool(), set["available"].as_i64()), (Some(true), Some(26_000_000)));
        let (_, overview) = viewer.get("").await;
        assert_eq!(
            (overview["low_balance"].as_bool(), overview["low_balance_threshold"].as_i64()),
            (Some(true), Some(50_000_000))
        );
        for (body, field) in [
            (json!({}), "threshold"),
            (json!({ "threshold": -1 }), "threshold"),
            (json!({ "threshold": 1_000_000_000_001_i64 }), "threshold"),
            (json!({ "threshold": "lots" }), "body"),
        ] {
            assert_eq!(
                owner.refusal(Method::PUT, "/low-balance-threshold", body.clone()).await,
                invalid(field),
                "{body}"
            );
        }
        for api in [&agent, &viewer] {
            assert_eq!(
                api.refusal(Method::PUT, "/low-balance-threshold", json!({ "threshold": 0 })).await,
                forbidden()
            );
        }

        // The rate card: everyone who sees billing reads it; only owners publish.
        let (status, cards) = viewer.get("/rate-card").await;
        assert_eq!(status, StatusCode::OK, "{cards}");
        assert_eq!(
            (cards["current"]["version"].as_i64(), cards["versions"].as_array().unwrap().len()),
            (Some(1), 1)
        );
        assert_eq!(admin.refusal(Method::PUT, "/rate-card", card_with_india(1_500)).await, forbidden());
        assert_eq!(agent.refusal(Method::GET, "/rate-card", json!({})).await, forbidden());
        let mut bad_country = card_with_india(1_500);
        bad_country["countries"] = json!({ "india": { "meta": 1, "billable": 1 } });
        let mut negative = card_with_india(1_500);
        negative["messages"]["text"]["meta"] = json!(-1);
        let mut no_minutes = card_with_india(1_500);
        no_minutes["call_estimate_minutes"] = json!(0);
        let mut missing = card_with_india(1_500);
        missing.as_object_mut().unwrap().remove("messages");
        for (card, field) in [
            (bad_country, "countries.india"),
            (card_with_india(900), "countries.IN.billable"),
            (negative, "messages.text.meta"),
            (no_minutes, "call_estimate_minutes"),
            (missing, "body"),
        ] {
            assert_eq!(owner.refusal(Method::PUT, "/rate-card", card).await, invalid(field));
        }
        let (status, published) = owner.send(Method::PUT, "/rate-card", card_with_india(1_500)).await;
        assert_eq!(status, StatusCode::OK, "{published}");
        assert_eq!(published["version"], 2);
        assert_eq!(published["countries"]["IN"]["billable"], 1_500);
        let (_, cards) = viewer.get("/rate-card").await;
        let versions = cards["versions"].as_array().unwrap();
        assert_eq!(
            (cards["current"]["version"].as_i64(), versions.len()),
            (Some(2), 2),
            "one publish, one version"
        );
        assert_eq!(versions[1]["version"], 1);
        assert_eq!(versions[1]["countries"], json!({}), "version 1 is unchanged");

        // The subscription: owners set it as the manual provider would.
        let end = services.clock.now() + 10 * DAY;
        let pro = json!({ "plan": "pro", "status": "past_due", "current_period_end": end });
        assert_eq!(admin.refusal(Method::PUT, "/subscription", pro.clone()).await, forbidden());
        for (body, field) in [
            (json!({ "status": "active", "current_period_end": end }), "plan"),
            (json!({ "plan": " ", "status": "active", "current_period_end": end }), "plan"),
            (json!({ "plan": "pro", "status": "paused", "current_period_end": end }), "status"),
            (json!({ "plan": "pro", "status": "active" }), "current_period_end"),
            (json!({ "plan": "pro", "status": "active", "current_period_end": -1 }), "current_period_end"),
        ] {
            assert_eq!(
                owner.refusal(Method::PUT, "/subscription", body.clone()).await,
                invalid(field),
                "{body}"
            );
        }
        let (status, set) = owner.send(Method::PUT, "/subscription", pro).await;
        assert_eq!(status, StatusCode::OK, "{set}");
        let (_, overview) = viewer.get("").await;
        assert_eq!(overview["subscription"]["plan"], "pro");
        assert_eq!(overview["subscription"]["status"], "past_due");
        assert_eq!(overview["subscription"]["current_period_end"], end);

        // The expenses log, filtered by kind in JSON and CSV.
        let (_, top_ups) = viewer.get("/expenses?kind=top_up").await;
        assert_eq!(top_ups["lines"].as_array().unwrap().len(), 2, "{top_ups}");
        assert_eq!(top_ups["lines"][0]["cause"]["reason"], "wire");
        let (_, charges) = viewer.get("/expenses?kind=call_charge").await;
        assert_eq!(charges["lines"], json!([]));
        let csv = |path: &'static str| {
            let viewer = &viewer;
            async move {
                let reply = viewer
                    .client
                    .get(format!("{}/api/v1/app/billing{path}", viewer.base))
                    .bearer_auth(&viewer.key)
                    .send()
                    .await
                    .unwrap();
                reply.text().await.unwrap()
            }
        };
        assert_eq!(csv("/expenses.csv?kind=top_up").await.lines().count(), 3, "the header and two top-ups");
        assert_eq!(csv("/expenses.csv?kind=refund").await.lines().count(), 1, "only the header");
        let now = services.clock.now();
        let past = format!("/expenses?from={}&to={}", now - 20 * DAY, now - 10 * DAY);
        assert_eq!(viewer.get(&past).await.1["lines"], json!([]), "nothing in that period");
        assert_eq!(viewer.refusal(Method::GET, "/expenses?kind=hold", json!({})).await, invalid("kind"));
        assert_eq!(viewer.refusal(Method::GET, "/expenses.csv?kind=hold", json!({})).await, invalid("kind"));
        let backwards = format!("/expenses?from={now}&to={}", now - 1);
        assert_eq!(viewer.refusal(Method::GET, &backwards, json!({})).await, invalid("to"));

        // Another workspace's key sees its own, empty billing and changes nothing of ours.
        let (_, theirs) = stranger.get("").await;
        assert_eq!(
            (theirs["wallet"]["balance"].as_i64(), theirs["low_balance_threshold"].as_i64()),
            (Some(0), Some(5_000_000))
        );
        assert_eq!(theirs["subscription"], Value::Null);
        assert_eq!(stranger.get("/expenses").await.1["lines"], json!([]));
        assert_eq!(stranger.get("/rate-card").await.1["versions"].as_array().unwrap().len(), 1);
        let (status, _) = stranger.send(Method::POST, "/top-ups", wire.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "the same reference is another workspace's own payment");
        assert_eq!(viewer.get("").await.1["wallet"]["balance"], 26_000_000, "ours is unchanged");

        // Every write is audited once, by whoever made it.
        for (action, count) in [
            ("billing.top_up", 3),
            ("billing.low_balance_threshold_updated", 1),
            ("billing.rate_card_published", 1),
            ("billing.subscription_updated", 1),
            ("billing.adjustment", 2),
        ] {
            let entries = audit::by_action(&services.db, action).await.unwrap();
            assert_eq!(entries.len(), count, "{action}");
            assert!(entries.iter().all(|e| e.actor.starts_with("api_key:")), "{action}");
        }
        let ours: Vec<_> = audit::by_action(&services.db, "billing.top_up")
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.workspace_id.as_deref() == Some(ws.as_str()))
            .collect();
        assert_eq!(ours.len(), 2);
        assert!(wallet::verify(&services.db, &ws, services.clock.now()).await.unwrap().is_consistent());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_owner_set_up_over_http_gets_a_trial_that_pays_for_calls() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let reply = reqwest::Client::new()
        .post(format!("{}/api/v1/setup", sandbox.server.url))
        .header("Origin", &sandbox.server.url)
        .json(&json!({ "email": "first@example.test", "password": "a long first password", "workspace_name": "Trial Co" }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 201, "{}", reply.text().await.unwrap());
    let workspace = calling::workspace::first(&services.db).await.unwrap().unwrap();
    let trial = subscription::get(&services.db, &workspace.id).await.unwrap().expect("a trial");
    assert_eq!((trial.plan.as_str(), trial.status), ("trial", SubscriptionStatus::Active));
    let now = services.clock.now();
    assert_eq!(trial.current_period_end, trial.updated_at + subscription::TRIAL_DAYS * DAY);
    assert!(trial.allows_paid_actions(now));
    // Funded, its paid actions pass the preflight.
    wallet::top_up(&services.db, &workspace.id, "pay-1", Micros::from_units(5).unwrap(), None, now)
        .await
        .unwrap();
    let number = billed_number(&sandbox).await;
    let to = PhoneNumber::parse("+919876543210").unwrap();
    let paid = billing::preflight(
        &services.db,
        &number,
        &billing::Billable::Call { callee: &to },
        now,
        &billing::Policy::default(),
    )
    .await
    .unwrap();
    assert!(paid.hold().is_some(), "{paid:?}");
}
