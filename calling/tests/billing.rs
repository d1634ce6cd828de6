//! Billing on real databases (SQLite, and PostgreSQL when configured): the preflight's
//! atomicity under a thousand concurrent callers, settlement's idempotence, hold expiry, the
//! 402 refusals, versioned prices, and the ledger's invariants under random operations.

use std::collections::BTreeMap;
use std::sync::Arc;

use calling::billing::{
    self, Billable, CallOutcome, Currency, ExpenseFilter, MessageKind, Micros, Policy, Preflight, Rate,
    StatementKind, SubscriptionStatus, rates, subscription, wallet,
};
use calling::numbers::WhatsAppNumber;
use calling::phone::PhoneNumber;
use calling::storage::Db;
use calling::testing::{self, TestDb};
use calling::workspace;
use proptest::prelude::*;

const NOW: i64 = 1_800_000_000_000;
const DAY: i64 = 24 * 60 * 60 * 1000;

/// A workspace with an active subscription and a (not stored) real, non-sandbox number.
async fn workspace_with_number(db: &Db) -> WhatsAppNumber {
    let workspace = workspace::create(db, "Billing Co", NOW).await.unwrap();
    subscription::set(db, &workspace.id, "usage", SubscriptionStatus::Active, NOW + 30 * DAY, NOW)
        .await
        .unwrap();
    WhatsAppNumber {
        id: "number-1".into(),
        workspace_id: workspace.id,
        phone_number_id: "123".into(),
        waba_id: "456".into(),
        display_phone_number: "+44 7700 900001".into(),
        e164: "+447700900001".into(),
        country: Some("GB".into()),
        graph_api_version: "v23.0".into(),
        graph_api_base_url: "http://127.0.0.1:9".into(),
        is_sandbox: false,
        created_at: NOW,
    }
}

fn callee() -> PhoneNumber {
    PhoneNumber::parse("+919876543210").unwrap()
}

async fn assert_consistent(db: &Db, workspace_id: &str) -> wallet::Verification {
    let verification = wallet::verify(db, workspace_id, NOW).await.unwrap();
    assert!(verification.is_consistent(), "{verification:?}");
    verification
}

/// One hold's worth of money for a call to [`callee`] at the default rate card.
async fn call_estimate(db: &Db, workspace_id: &str) -> Micros {
    billing::estimate(db, workspace_id, &Billable::Call { callee: &callee() }, NOW).await.unwrap().amount
}

fn held(preflight: Preflight) -> billing::Hold {
    match preflight {
        Preflight::Held(hold) => hold,
        Preflight::Free => panic!("expected a hold"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_preflights_against_ten_holds_worth_let_exactly_ten_through() {
    for test_db in testing::every_database().await {
        let db = test_db.db.clone();
        let number = Arc::new(workspace_with_number(&db).await);
        let each = call_estimate(&db, &number.workspace_id).await;
        wallet::top_up(&db, &number.workspace_id, "pay-1", each.checked_mul(10).unwrap(), None, NOW)
            .await
            .unwrap();

        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let db = db.clone();
                let number = number.clone();
                tokio::spawn(async move {
                    let to = callee();
                    billing::preflight(&db, &number, &Billable::Call { callee: &to }, NOW, &Policy::default())
                        .await
                })
            })
            .collect();
        let mut through = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(Preflight::Held(_)) => through += 1,
                Ok(Preflight::Free) => panic!("a real number's call is not free"),
                Err(err) => {
                    assert_eq!(err.code(), "insufficient_balance", "{err:?} on {:?}", test_db.dialect())
                }
            }
        }
        assert_eq!(through, 10, "on {:?}", test_db.dialect());
        let verification = assert_consistent(&db, &number.workspace_id).await;
        assert_eq!(verification.ledger_held, verification.ledger_balance, "everything is held");
        assert_eq!(wallet::get(&db, &number.workspace_id).await.unwrap().available(), Micros::ZERO);
    }
}

#[tokio::test]
async fn expired_subscription_and_empty_wallet_are_refused_with_402_details() {
    for test_db in testing::every_database().await {
        let db = &test_db.db;
        let number = workspace_with_number(db).await;
        let to = callee();
        let call = Billable::Call { callee: &to };

        // Empty wallet: insufficient_balance with what was required and what is there.
        let err = billing::preflight(db, &number, &call, NOW, &Policy::default()).await.unwrap_err();
        assert_eq!(err.code(), "insufficient_balance");
        let details = err.details().unwrap();
        let required = call_estimate(db, &number.workspace_id).await;
        assert_eq!(details["required_micros"], required.get());
        assert_eq!(details["available_micros"], 0);
        assert_eq!(details["currency"], "USD");
        assert!(details["hint"].as_str().unwrap().contains("Top up"));

        // Funded but the period ended: subscription_expired, whatever the balance.
        wallet::top_up(db, &number.workspace_id, "pay-1", Micros::from_units(100).unwrap(), None, NOW)
            .await
            .unwrap();
        let later = NOW + 31 * DAY;
        let err = billing::preflight(db, &number, &call, later, &Policy::default()).await.unwrap_err();
        assert_eq!(err.code(), "subscription_expired");
        assert_eq!(err.details().unwrap()["status"], "expired");

        // Explicitly expired, and no subscription at all, are refused the same way.
        subscription::set(db, &number.workspace_id, "usage", SubscriptionStatus::Expired, NOW + DAY, NOW)
            .await
            .unwrap();
        let err = billing::preflight(db, &number, &call, NOW, &Policy::default()).await.unwrap_err();
        assert_eq!(err.code(), "subscription_expired");
        let other = workspace::create(db, "No Plan", NOW).await.unwrap();
        let unsubscribed = WhatsAppNumber { workspace_id: other.id, ..number.clone() };
        let err = billing::preflight(db, &unsubscribed, &call, NOW, &Policy::default()).await.unwrap_err();
        assert_eq!(err.code(), "subscription_expired");

        // A trial is a subscription; sandbox numbers are free without one.
        subscription::start_trial(db, &unsubscribed.workspace_id, NOW).await.unwrap();
        let err = billing::preflight(db, &unsubscribed, &call, NOW, &Policy::default()).await.unwrap_err();
        assert_eq!(err.code(), "insufficient_balance", "the trial passes the subscription check");
        let sandbox = WhatsAppNumber { is_sandbox: true, ..number.clone() };
        assert_eq!(
            billing::preflight(db, &sandbox, &call, NOW, &Policy::default()).await.unwrap(),
            Preflight::Free
        );

        // Nothing was held by any refusal.
        let verification = assert_consistent(db, &number.workspace_id).await;
        assert_eq!(verification.active_holds, Micros::ZERO);
    }
}

#[tokio::test]
async fn settlement_charges_rounded_up_pulses_once_whatever_the_replays() {
    for test_db in testing::every_database().await {
        let db = &test_db.db;
        let number = workspace_with_number(db).await;
        let ws = number.workspace_id.clone();
        wallet::top_up(db, &ws, "pay-1", Micros::from_units(10).unwrap(), None, NOW).await.unwrap();
        let to = callee();
        let paid = billing::preflight(db, &number, &Billable::Call { callee: &to }, NOW, &Policy::default())
            .await
            .unwrap();
        let hold = held(paid.clone());
        billing::attach_call(db, &paid, "call-1", NOW).await.unwrap();

        let answered = CallOutcome { answered: true, duration_seconds: Some(56) };
        let first = billing::settle_call(db, &ws, "call-1", answered, NOW + 1).await.unwrap().unwrap();
        assert_eq!(first.pulses, 10, "56 s is 10 pulses");
        let rate = rates::defaults().default_call;
        assert_eq!(first.charged, rate.billable.checked_mul(10).unwrap());
        assert_eq!(first.meta_cost, rate.meta.checked_mul(10).unwrap());
        assert_eq!(first.released, hold.amount.checked_sub(first.charged).unwrap());
        let after_first = wallet::get(db, &ws).await.unwrap();
        assert_eq!(after_first.balance, Micros::from_units(10).unwrap().checked_sub(first.charged).unwrap());
        assert_eq!(after_first.held, Micros::ZERO);

        // A duplicate, a late "unanswered" and a longer duplicate change nothing.
        for replay in [
            answered,
            CallOutcome { answered: false, duration_seconds: None },
            CallOutcome { answered: true, duration_seconds: Some(600) },
        ] {
            let again = billing::settle_call(db, &ws, "call-1", replay, NOW + 2).await.unwrap().unwrap();
            assert_eq!(again, first);
        }
        // Releasing or expiring a settled hold does nothing either.
        billing::release(db, &paid, NOW + 3).await.unwrap();
        assert_eq!(billing::expire_holds(db, NOW + 365 * DAY).await.unwrap(), 0);
        assert_eq!(wallet::get(db, &ws).await.unwrap(), after_first);
        assert_consistent(db, &ws).await;
    }
}

#[tokio::test]
async fn concurrent_duplicate_settlements_charge_once() {
    for test_db in testing::every_database().await {
        let db = test_db.db.clone();
        let number = workspace_with_number(&db).await;
        let ws = number.workspace_id.clone();
        wallet::top_up(&db, &ws, "pay-1", Micros::from_units(10).unwrap(), None, NOW).await.unwrap();
        let to = callee();
        let paid = billing::preflight(&db, &number, &Billable::Call { callee: &to }, NOW, &Policy::default())
            .await
            .unwrap();
        billing::attach_call(&db, &paid, "call-dup", NOW).await.unwrap();
        let outcome = CallOutcome { answered: true, duration_seconds: Some(13) };
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let db = db.clone();
                let ws = ws.clone();
                tokio::spawn(async move { billing::settle_call(&db, &ws, "call-dup", outcome, NOW).await })
            })
            .collect();
        let mut settlements = Vec::new();
        for task in tasks {
            settlements.push(task.await.unwrap().unwrap().unwrap());
        }
        assert!(settlements.iter().all(|s| *s == settlements[0]));
        assert_eq!(settlements[0].pulses, 3);
        let entries = wallet::entries(&db, &ws, 100).await.unwrap();
        assert_eq!(entries.iter().filter(|e| e.kind == "call_charge").count(), 1);
        assert_consistent(&db, &ws).await;
    }
}

#[tokio::test]
async fn unanswered_and_failed_calls_release_everything() {
    for test_db in testing::every_database().await {
        let db = &test_db.db;
        let number = workspace_with_number(db).await;
        let ws = number.workspace_id.clone();
        let funds = Micros::from_units(5).unwrap();
        wallet::top_up(db, &ws, "pay-1", funds, None, NOW).await.unwrap();
        let to = callee();
        for (call_id, outcome) in [
            ("missed", CallOutcome { answered: false, duration_seconds: None }),
            // Meta reports a duration for a call nobody picked up: still free.
            ("rejected", CallOutcome { answered: false, duration_seconds: Some(30) }),
            ("failed-at-zero", CallOutcome { answered: true, duration_seconds: Some(0) }),
        ] {
            let paid =
                billing::preflight(db, &number, &Billable::Call { callee: &to }, NOW, &Policy::default())
                    .await
                    .unwrap();
            billing::attach_call(db, &paid, call_id, NOW).await.unwrap();
            let settlement = billing::settle_call(db, &ws, call_id, outcome, NOW).await.unwrap().unwrap();
            assert_eq!(settlement.charged, Micros::ZERO, "{call_id}");
            assert_eq!(settlement.released, held(paid).amount);
        }
        let wallet = wallet::get(db, &ws).await.unwrap();
        assert_eq!((wallet.balance, wallet.held), (funds, Micros::ZERO));
        // A call without a hold (user-initiated, sandbox) settles to nothing.
        let none = CallOutcome { answered: true, duration_seconds: Some(60) };
        assert_eq!(billing::settle_call(db, &ws, "inbound", none, NOW).await.unwrap(), None);
        assert_consistent(db, &ws).await;
    }
}

#[tokio::test]
async fn lost_webhooks_expire_holds_and_a_late_settlement_cannot_overdraw() {
    for test_db in testing::every_database().await {
        let db = &test_db.db;
        let number = workspace_with_number(db).await;
        let ws = number.workspace_id.clone();
        let to = callee();
        let each = call_estimate(db, &ws).await;
        wallet::top_up(db, &ws, "pay-1", each, None, NOW).await.unwrap();
        let policy = Policy { hold_ttl_ms: 60_000 };
        let paid =
            billing::preflight(db, &number, &Billable::Call { callee: &to }, NOW, &policy).await.unwrap();
        billing::attach_call(db, &paid, "lost", NOW).await.unwrap();

        assert_eq!(billing::expire_holds(db, NOW + 59_999).await.unwrap(), 0, "not yet due");
        assert_eq!(billing::expire_holds(db, NOW + 60_000).await.unwrap(), 1);
        assert_eq!(billing::expire_holds(db, NOW + 60_001).await.unwrap(), 0, "once");
        assert_eq!(wallet::get(db, &ws).await.unwrap().available(), each);

        // The money is spent elsewhere; then the terminate finally arrives for a long call.
        let paid2 =
            billing::preflight(db, &number, &Billable::Call { callee: &to }, NOW, &policy).await.unwrap();
        billing::attach_call(db, &paid2, "other", NOW).await.unwrap();
        let late = CallOutcome { answered: true, duration_seconds: Some(3600) };
        let settlement = billing::settle_call(db, &ws, "lost", late, NOW + DAY).await.unwrap().unwrap();
        assert_eq!(settlement.charged, Micros::ZERO, "nothing available to take");
        assert_eq!(settlement.uncollected, settlement.billable);
        let wallet = wallet::get(db, &ws).await.unwrap();
        assert!(wallet.available() >= Micros::ZERO && wallet.held <= wallet.balance);
        assert_consistent(db, &ws).await;
    }
}

#[tokio::test]
async fn a_call_longer_than_its_hold_takes_the_excess_from_the_balance_never_below_zero() {
    for test_db in testing::every_database().await {
        let db = &test_db.db;
        let number = workspace_with_number(db).await;
        let ws = number.workspace_id.clone();
        let to = callee();
        let each = call_estimate(db, &ws).await;
        // One and a half holds' worth: a 10-minute hold, and money for 5 more minutes.
        let funds = each.checked_add(Micros(each.get() / 2)).unwrap();
        wallet::top_up(db, &ws, "pay-1", funds, None, NOW).await.unwrap();
        let paid = billing::preflight(db, &number, &Billable::Call { callee: &to }, NOW, &Policy::default())
            .await
            .unwrap();
        billing::attach_call(db, &paid, "long", NOW).await.unwrap();
        let outcome = CallOutcome { answered: true, duration_seconds: Some(20 * 60) };
        let settlement = billing::settle_call(db, &ws, "long", outcome, NOW).await.unwrap().unwrap();
        assert_eq!(settlement.pulses, 200);
        assert_eq!(settlement.charged, funds);
        assert_eq!(settlement.uncollected, settlement.billable.checked_sub(funds).unwrap());
        assert_eq!(wallet::get(db, &ws).await.unwrap().balance, Micros::ZERO);
        assert_consistent(db, &ws).await;
    }
}

#[tokio::test]
async fn past_charges_keep_the_rate_card_version_of_their_hold() {
    for test_db in testing::every_database().await {
        let db = &test_db.db;
        let number = workspace_with_number(db).await;
        let ws = number.workspace_id.clone();
        wallet::top_up(db, &ws, "pay-1", Micros::from_units(50).unwrap(), None, NOW).await.unwrap();
        let to = callee();
        let v1 = rates::current(db, &ws, NOW).await.unwrap();
        assert_eq!(v1.version, 1);
        let paid = billing::preflight(db, &number, &Billable::Call { callee: &to }, NOW, &Policy::default())
            .await
            .unwrap();
        assert_eq!(held(paid.clone()).estimate.item, "call:*");
        billing::attach_call(db, &paid, "old-price", NOW).await.unwrap();

        // The owner publishes India at ten times the default.
        let mut card = rates::defaults();
        let india = Rate { meta: Micros(10_000), billable: Micros(12_000) };
        card.countries = BTreeMap::from([("IN".to_owned(), india)]);
        let v2 = rates::publish(db, &ws, &card, Some("owner-1"), NOW + 1).await.unwrap();
        assert_eq!(v2.version, 2);
        assert_eq!(v2.call_rate(&to), ("call:IN".to_owned(), india));
        let estimate = billing::estimate(db, &ws, &Billable::Call { callee: &to }, NOW).await.unwrap();
        assert_eq!((estimate.rate_card_version, estimate.unit), (2, india));

        let outcome = CallOutcome { answered: true, duration_seconds: Some(60) };
        let settlement = billing::settle_call(db, &ws, "old-price", outcome, NOW + 2).await.unwrap().unwrap();
        assert_eq!(settlement.charged, v1.default_call.billable.checked_mul(10).unwrap(), "v1's price");
        let versions = rates::versions(db, &ws).await.unwrap();
        assert_eq!(versions.iter().map(|c| c.version).collect::<Vec<_>>(), vec![2, 1]);
        assert_eq!(versions[1], v1, "old versions never change");
        assert_consistent(db, &ws).await;
    }
}

#[tokio::test]
async fn sends_are_charged_per_message_and_refunds_and_adjustments_are_bounded() {
    for test_db in testing::every_database().await {
        let db = &test_db.db;
        let number = workspace_with_number(db).await;
        let ws = number.workspace_id.clone();
        let funds = Micros::from_units(1).unwrap();
        wallet::top_up(db, &ws, "pay-1", funds, None, NOW).await.unwrap();
        // The same top-up recorded twice counts once.
        wallet::top_up(db, &ws, "pay-1", funds, None, NOW).await.unwrap();
        assert_eq!(wallet::get(db, &ws).await.unwrap().balance, funds);

        let send = Billable::Message { kind: MessageKind::CallingTemplate };
        let price = billing::estimate(db, &ws, &send, NOW).await.unwrap();
        assert_eq!(price.unit, rates::defaults().messages.calling_template);
        let paid = billing::preflight(db, &number, &send, NOW, &Policy::default()).await.unwrap();
        billing::charge_message(db, &paid, "wamid.1", NOW).await.unwrap();
        billing::charge_message(db, &paid, "wamid.1", NOW).await.unwrap();
        let after = wallet::get(db, &ws).await.unwrap();
        assert_eq!(after.balance, funds.checked_sub(price.amount).unwrap());

        // A failed send gives its hold back.
        let failed = billing::preflight(db, &number, &send, NOW, &Policy::default()).await.unwrap();
        billing::release(db, &failed, NOW).await.unwrap();
        assert_eq!(wallet::get(db, &ws).await.unwrap(), after);

        // Refunds: at most what was charged.
        let err = wallet::refund(
            db,
            &ws,
            wallet::RefundOf::Message("wamid.1"),
            Micros(price.amount.get() + 1),
            "x",
            "admin",
            NOW,
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), "validation_failed");
        wallet::refund(
            db,
            &ws,
            wallet::RefundOf::Message("wamid.1"),
            price.amount,
            "template never delivered",
            "admin",
            NOW,
        )
        .await
        .unwrap();
        assert_eq!(wallet::get(db, &ws).await.unwrap().balance, funds);

        // Adjustments need a reason and cannot take more than is available.
        assert_eq!(
            wallet::adjust(db, &ws, Micros(5), " ", "admin", NOW).await.unwrap_err().code(),
            "validation_failed"
        );
        let err =
            wallet::adjust(db, &ws, Micros(-funds.get() - 1), "chargeback", "admin", NOW).await.unwrap_err();
        assert_eq!(err.code(), "insufficient_balance");
        wallet::adjust(db, &ws, Micros(-funds.get()), "chargeback", "admin", NOW).await.unwrap();
        assert_eq!(wallet::get(db, &ws).await.unwrap().balance, Micros::ZERO);

        let entries = wallet::entries(db, &ws, 100).await.unwrap();
        let kinds: Vec<&str> = entries.iter().rev().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["top_up", "hold", "message_charge", "hold", "release", "refund", "adjustment"]);
        let adjustment = &entries[0];
        assert_eq!(adjustment.cause.reason.as_deref(), Some("chargeback"));
        assert_eq!(adjustment.cause.actor_user_id.as_deref(), Some("admin"));
        assert_consistent(db, &ws).await;
    }
}

#[tokio::test]
async fn the_ledger_is_append_only_and_the_wallet_cannot_go_negative() {
    for test_db in testing::every_database().await {
        let db = &test_db.db;
        let number = workspace_with_number(db).await;
        let ws = number.workspace_id.clone();
        wallet::top_up(db, &ws, "pay-1", Micros(100), None, NOW).await.unwrap();
        let update = sqlx::query("UPDATE ledger_entries SET amount_micros = 1 WHERE workspace_id = $1")
            .bind(&ws)
            .execute(db.pool())
            .await;
        assert!(update.is_err(), "ledger rows cannot be edited");
        let overdraw = sqlx::query("UPDATE wallets SET balance_micros = -1 WHERE workspace_id = $1")
            .bind(&ws)
            .execute(db.pool())
            .await;
        assert!(overdraw.is_err(), "the schema refuses a negative balance");
        assert_eq!(
            wallet::open(db, &ws, &Currency::parse("EUR").unwrap(), NOW).await.unwrap_err().code(),
            "currency_locked"
        );
        assert_consistent(db, &ws).await;
    }
}

#[tokio::test]
async fn a_new_wallet_can_choose_its_currency_and_rates_follow_it() {
    let test_db = testing::sqlite().await;
    let db = &test_db.db;
    let number = workspace_with_number(db).await;
    let eur = Currency::parse("EUR").unwrap();
    // An estimate before the wallet exists seeds the rate card in the default currency...
    assert_eq!(rates::current(db, &number.workspace_id, NOW).await.unwrap().currency, Currency::usd());
    // ...and choosing the currency while nothing was charged relabels it.
    assert_eq!(wallet::open(db, &number.workspace_id, &eur, NOW).await.unwrap().currency, eur);
    assert_eq!(rates::current(db, &number.workspace_id, NOW).await.unwrap().currency, eur);
    let err = billing::preflight(db, &number, &Billable::Call { callee: &callee() }, NOW, &Policy::default())
        .await
        .unwrap_err();
    assert!(err.public_message().contains("EUR"), "{}", err.public_message());
}

proptest! {
    #[test]
    fn pulses_are_six_second_ceilings(duration in 0_i64..10_000_000) {
        let pulses = rates::pulses(duration);
        prop_assert!(pulses * rates::PULSE_SECONDS >= duration);
        prop_assert!(duration == 0 || (pulses - 1) * rates::PULSE_SECONDS < duration);
        prop_assert_eq!(rates::pulses(duration + 1) >= pulses, true);
    }
}

/// One step of a random wallet history.
#[derive(Clone, Debug)]
enum Op {
    TopUp(i64),
    Call,
    Send,
    Settle { index: usize, answered: bool, seconds: i64 },
    Release(usize),
    Expire,
    Adjust(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1_i64..200_000).prop_map(Op::TopUp),
        Just(Op::Call),
        Just(Op::Send),
        (0_usize..8, any::<bool>(), 0_i64..2_000).prop_map(|(index, answered, seconds)| Op::Settle {
            index,
            answered,
            seconds
        }),
        (0_usize..8).prop_map(Op::Release),
        Just(Op::Expire),
        (-100_000_i64..100_000).prop_map(Op::Adjust),
    ]
}

async fn run_history(db: &TestDb, ops: &[Op]) -> std::result::Result<(), TestCaseError> {
    let db = &db.db;
    let number = workspace_with_number(db).await;
    let ws = number.workspace_id.clone();
    let to = callee();
    let policy = Policy { hold_ttl_ms: 1_000 };
    let mut holds: Vec<(Preflight, String)> = Vec::new();
    let mut now = NOW;
    for (step, op) in ops.iter().enumerate() {
        now += 100;
        match op {
            Op::TopUp(amount) => {
                wallet::top_up(db, &ws, &format!("pay-{step}"), Micros(*amount), None, now).await.unwrap();
            }
            Op::Call | Op::Send => {
                let billable = match op {
                    Op::Call => Billable::Call { callee: &to },
                    _ => Billable::Message { kind: MessageKind::Template },
                };
                match billing::preflight(db, &number, &billable, now, &policy).await {
                    Ok(paid) => {
                        let call_id = format!("call-{step}");
                        if matches!(op, Op::Call) {
                            billing::attach_call(db, &paid, &call_id, now).await.unwrap();
                        }
                        holds.push((paid, call_id));
                    }
                    Err(err) => prop_assert_eq!(err.code(), "insufficient_balance"),
                }
            }
            Op::Settle { index, answered, seconds } => {
                if let Some((paid, call_id)) = holds.get(*index) {
                    if held(paid.clone()).estimate.item.starts_with("call:") {
                        let outcome = CallOutcome { answered: *answered, duration_seconds: Some(*seconds) };
                        billing::settle_call(db, &ws, call_id, outcome, now).await.unwrap();
                    } else {
                        billing::charge_message(db, paid, call_id, now).await.unwrap();
                    }
                }
            }
            Op::Release(index) => {
                if let Some((paid, _)) = holds.get(*index) {
                    billing::release(db, paid, now).await.unwrap();
                }
            }
            Op::Expire => {
                billing::expire_holds(db, now).await.unwrap();
            }
            Op::Adjust(amount) if *amount != 0 => {
                match wallet::adjust(db, &ws, Micros(*amount), "test", "admin", now).await {
                    Ok(_) => {}
                    Err(err) => prop_assert_eq!(err.code(), "insufficient_balance"),
                }
            }
            Op::Adjust(_) => {}
        }
        let verification = wallet::verify(db, &ws, now).await.unwrap();
        prop_assert!(verification.is_consistent(), "step {}: {:?}", step, verification);
        let wallet = wallet::get(db, &ws).await.unwrap();
        prop_assert!(
            wallet.balance >= Micros::ZERO && wallet.held >= Micros::ZERO && wallet.held <= wallet.balance
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Whatever happens, in any order: the wallet equals its ledger, the ledger's held money
    /// equals the active holds, nothing is negative and holds never exceed the balance.
    #[test]
    fn ledger_invariants_hold_under_random_histories(ops in proptest::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            for db in testing::every_database().await {
                run_history(&db, &ops).await?;
            }
            Ok::<(), TestCaseError>(())
        })?;
    }
}

#[tokio::test]
async fn pay_for_send_charges_a_delivered_send_releases_a_failed_one_and_never_sends_unpaid() {
    for test_db in testing::every_database().await {
        let db = &test_db.db;
        let number = workspace_with_number(db).await;
        let ws = number.workspace_id.clone();
        let kind = MessageKind::Template;
        let price = billing::estimate(db, &ws, &Billable::Message { kind }, NOW).await.unwrap().amount;

        // Empty wallet: refused, and the send is never attempted.
        let sent = std::sync::atomic::AtomicBool::new(false);
        let err = billing::pay_for_send(db, &number, kind, NOW, &Policy::default(), || async {
            sent.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok("wamid.never".to_owned())
        })
        .await
        .unwrap_err();
        assert_eq!(err.code(), "insufficient_balance");
        assert!(!sent.load(std::sync::atomic::Ordering::SeqCst), "nothing left for WhatsApp");

        wallet::top_up(db, &ws, "pay-1", price.checked_mul(2).unwrap(), None, NOW).await.unwrap();
        let id = billing::pay_for_send(db, &number, kind, NOW, &Policy::default(), || async {
            Ok("wamid.ok".to_owned())
        })
        .await
        .unwrap();
        assert_eq!(id, "wamid.ok");
        let err = billing::pay_for_send(db, &number, kind, NOW, &Policy::default(), || async {
            Err(calling::Error::Unavailable { message: "WhatsApp down".into() })
        })
        .await
        .unwrap_err();
        assert_eq!(err.code(), "unavailable");
        let wallet = wallet::get(db, &ws).await.unwrap();
        assert_eq!((wallet.balance, wallet.held), (price, Micros::ZERO), "one send paid, the failed one not");
        assert_consistent(db, &ws).await;
    }
}

/// A business-initiated call row, as `place` stores it.
async fn call_row(db: &Db, workspace_id: &str, call_id: &str) {
    sqlx::query(
        "INSERT INTO calls (id, workspace_id, wa_call_id, phone_number_id, direction, status, contact_number, \
           business_number, started_at, created_at, updated_at) \
         VALUES ($1, $2, $3, '123', 'business_initiated', 'ringing', '+919876543210', '+447700900001', $4, $4, $4)",
    )
    .bind(call_id)
    .bind(workspace_id)
    .bind(format!("wacid.{call_id}"))
    .bind(NOW)
    .execute(db.pool())
    .await
    .unwrap();
}

#[tokio::test]
async fn a_terminate_that_beats_connects_response_is_settled_when_the_hold_is_attached() {
    use calling::call_state::{CallInput, TerminateOutcome, Termination};
    use calling::ingest::{CallExtras, record_own_fact};

    for test_db in testing::every_database().await {
        let db = &test_db.db;
        let services = testing::services(db, calling::clock::Clock::manual(NOW));
        let number = workspace_with_number(db).await;
        let ws = number.workspace_id.clone();
        wallet::top_up(db, &ws, "pay-1", Micros::from_units(10).unwrap(), None, NOW).await.unwrap();
        let to = callee();
        let paid = billing::preflight(db, &number, &Billable::Call { callee: &to }, NOW, &Policy::default())
            .await
            .unwrap();

        // The call's whole life is recorded before `place` gets to link its hold.
        call_row(db, &ws, "early").await;
        let termination = Termination {
            outcome: TerminateOutcome::Completed,
            started_at: Some(NOW + 1_000),
            ended_at: Some(NOW + 57_000),
            duration_seconds: Some(56),
            error_codes: vec![],
        };
        for input in [CallInput::ConnectSent, CallInput::TerminateReceived { termination }] {
            record_own_fact(&services, &ws, "early", &input, serde_json::json!({}), &CallExtras::default())
                .await
                .unwrap();
        }
        billing::attach_call(db, &paid, "early", NOW).await.unwrap();

        let settlement =
            billing::holds::settlement(db, &ws, "early").await.unwrap().expect("settled on attach");
        assert_eq!(settlement.pulses, 10);
        let (cost,): (i64,) = sqlx::query_as("SELECT cost_micros FROM calls WHERE id = 'early'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(cost, settlement.charged.get());
        assert_eq!(wallet::get(db, &ws).await.unwrap().held, Micros::ZERO);
        assert_consistent(db, &ws).await;
    }
}

#[tokio::test]
async fn the_statement_lists_money_in_and_out_and_exports_csv() {
    for test_db in testing::every_database().await {
        let db = &test_db.db;
        let number = workspace_with_number(db).await;
        let ws = number.workspace_id.clone();
        wallet::top_up(db, &ws, "pay-1", Micros::from_units(10).unwrap(), Some("owner"), NOW).await.unwrap();
        let to = callee();
        let paid = billing::preflight(db, &number, &Billable::Call { callee: &to }, NOW, &Policy::default())
            .await
            .unwrap();
        billing::attach_call(db, &paid, "call-1", NOW).await.unwrap();
        let outcome = CallOutcome { answered: true, duration_seconds: Some(7) };
        let settlement = billing::settle_call(db, &ws, "call-1", outcome, NOW).await.unwrap().unwrap();
        wallet::adjust(db, &ws, Micros(-1), "=cmd, \"quoted\"", "admin", NOW).await.unwrap();

        let period = ExpenseFilter { from: Some(NOW), to: Some(NOW + 1), ..ExpenseFilter::default() };
        let lines = billing::statement::lines(db, &ws, &period, NOW).await.unwrap();
        let summary: Vec<(&str, i64)> = lines.iter().map(|l| (l.kind.as_str(), l.amount.get())).collect();
        assert_eq!(
            summary,
            [("top_up", 10_000_000), ("call_charge", -settlement.charged.get()), ("adjustment", -1)],
            "holds and releases stay inside the wallet"
        );
        let total: i64 = lines.iter().map(|l| l.amount.get()).sum();
        assert_eq!(total, wallet::get(db, &ws).await.unwrap().balance.get());

        let csv = billing::statement::csv(db, &ws, &period, NOW).await.unwrap();
        let rows: Vec<&str> = csv.split("\r\n").filter(|row| !row.is_empty()).collect();
        assert_eq!(rows.len(), 4);
        assert!(rows[0].starts_with("at_unix_ms,kind,amount,currency"));
        assert!(rows[1].contains(",top_up,10.00,USD,"), "{}", rows[1]);
        assert!(rows[2].contains(",call_charge,-0.0024,USD,call-1,+919876543210,"), "{}", rows[2]);
        assert!(rows[3].ends_with(",admin,\"'=cmd, \"\"quoted\"\"\""), "{}", rows[3]);
        let later = ExpenseFilter { from: Some(NOW + 1), to: Some(NOW + 2), ..ExpenseFilter::default() };
        assert!(billing::statement::lines(db, &ws, &later, NOW).await.unwrap().is_empty());

        // One kind only, in JSON and in CSV; the call line names its callee.
        let charges = ExpenseFilter { kind: Some(StatementKind::CallCharge), ..period.clone() };
        let lines = billing::statement::lines(db, &ws, &charges, NOW).await.unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].cause.call_id.as_deref(), Some("call-1"));
        assert_eq!(lines[0].callee.as_deref(), Some("+919876543210"));
        let csv = billing::statement::csv(db, &ws, &charges, NOW).await.unwrap();
        assert_eq!(csv.matches("\r\n").count(), 2, "{csv}");
        let top_ups = ExpenseFilter { kind: Some(StatementKind::TopUp), ..period.clone() };
        let lines = billing::statement::lines(db, &ws, &top_ups, NOW).await.unwrap();
        assert_eq!(lines.iter().map(|l| l.kind.as_str()).collect::<Vec<_>>(), ["top_up"]);
        let backwards = ExpenseFilter { from: Some(NOW + 1), to: Some(NOW), ..ExpenseFilter::default() };
        assert_eq!(
            billing::statement::lines(db, &ws, &backwards, NOW).await.unwrap_err().code(),
            "validation_failed"
        );
    }
}

#[tokio::test]
async fn payment_provider_events_are_booked_once() {
    use calling::billing::payments::{self, PaymentEvent};

    for test_db in testing::every_database().await {
        let db = &test_db.db;
        let workspace = workspace::create(db, "Paying Co", NOW).await.unwrap();
        let ws = workspace.id.clone();
        let paid = PaymentEvent::TopUpSucceeded {
            workspace_id: ws.clone(),
            payment_id: "pi_1".into(),
            amount: Micros::from_units(25).unwrap(),
            currency: Currency::usd(),
            recorded_by: None,
            note: None,
        };
        assert_eq!(payments::apply(db, "stripe", &paid, NOW).await.unwrap(), payments::Applied::Credited);
        // The provider retried.
        assert_eq!(
            payments::apply(db, "stripe", &paid, NOW).await.unwrap(),
            payments::Applied::AlreadyBooked
        );
        assert_eq!(wallet::get(db, &ws).await.unwrap().balance, Micros::from_units(25).unwrap());
        let entries = wallet::entries(db, &ws, 10).await.unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].cause.top_up_id.as_deref(), Some("stripe:pi_1"));

        let euros = PaymentEvent::TopUpSucceeded {
            workspace_id: ws.clone(),
            payment_id: "pi_2".into(),
            amount: Micros(1),
            currency: Currency::parse("EUR").unwrap(),
            recorded_by: None,
            note: None,
        };
        assert_eq!(payments::apply(db, "stripe", &euros, NOW).await.unwrap_err().code(), "validation_failed");

        let renewed = PaymentEvent::SubscriptionUpdated {
            workspace_id: ws.clone(),
            plan: "usage".into(),
            status: SubscriptionStatus::Active,
            current_period_end: NOW + 30 * DAY,
        };
        payments::apply(db, "stripe", &renewed, NOW).await.unwrap();
        assert!(subscription::get(db, &ws).await.unwrap().unwrap().allows_paid_actions(NOW));
        assert_consistent(db, &ws).await;
    }
}

#[tokio::test]
async fn manual_top_ups_are_booked_once_per_reference_and_per_workspace() {
    use calling::billing::manual::{self, ManualTopUp, SubscriptionChange};

    for test_db in testing::every_database().await {
        let db = &test_db.db;
        let ws = workspace::create(db, "Manual Co", NOW).await.unwrap().id;
        let other = workspace::create(db, "Other Co", NOW).await.unwrap().id;
        let wire = ManualTopUp::parse("25", "TRX-1", "bank transfer").unwrap();
        let first = manual::record_top_up(db, &ws, &wire, Some("owner-1"), NOW).await.unwrap();
        assert!(first.credited);
        assert_eq!(first.top_up_id, "manual:TRX-1");
        assert_eq!(first.wallet.balance, Micros::from_units(25).unwrap());
        let again = manual::record_top_up(db, &ws, &wire, Some("owner-1"), NOW + 1).await.unwrap();
        assert!(!again.credited, "the same reference counts once");
        assert_eq!(again.wallet.balance, first.wallet.balance);
        // Another workspace may use the same reference for its own payment.
        let theirs = manual::record_top_up(db, &other, &wire, None, NOW).await.unwrap();
        assert!(theirs.credited, "{theirs:?}");

        let entries = wallet::entries(db, &ws, 10).await.unwrap();
        assert_eq!(entries.len(), 1);
        let cause = &entries[0].cause;
        assert_eq!(cause.top_up_id.as_deref(), Some("manual:TRX-1"));
        assert_eq!(cause.actor_user_id.as_deref(), Some("owner-1"));
        assert_eq!(cause.reason.as_deref(), Some("bank transfer"));
        assert_consistent(db, &ws).await;

        // The subscription set by hand, as the provider's event.
        let change = SubscriptionChange::new("pro", "past_due", NOW + DAY).unwrap();
        let (after, before) = manual::set_subscription(db, &ws, &change, NOW).await.unwrap();
        assert_eq!(before, None);
        assert_eq!((after.plan.as_str(), after.status), ("pro", SubscriptionStatus::PastDue));
        assert!(after.allows_paid_actions(NOW));
    }
}

#[tokio::test]
async fn the_low_balance_warning_follows_the_threshold() {
    use calling::billing::threshold;

    for test_db in testing::every_database().await {
        let db = &test_db.db;
        let ws = workspace::create(db, "Thrifty Co", NOW).await.unwrap().id;
        let balance = threshold::balance(db, &ws).await.unwrap();
        assert_eq!(balance.low_balance_threshold, threshold::DEFAULT);
        assert!(balance.low_balance, "an empty wallet is low");
        wallet::top_up(db, &ws, "pay-1", Micros::from_units(10).unwrap(), None, NOW).await.unwrap();
        assert!(!threshold::balance(db, &ws).await.unwrap().low_balance, "10.00 is above 5.00");

        let (set, before) = threshold::set(db, &ws, Micros::from_units(50).unwrap(), NOW).await.unwrap();
        assert_eq!((set, before), (Micros::from_units(50).unwrap(), threshold::DEFAULT));
        let balance = threshold::balance(db, &ws).await.unwrap();
        assert!(balance.low_balance);
        assert_eq!(balance.available, Micros::from_units(10).unwrap());
        assert_eq!(threshold::set(db, &ws, Micros(-1), NOW).await.unwrap_err().code(), "validation_failed");
        assert_eq!(threshold::get(db, &ws).await.unwrap(), Micros::from_units(50).unwrap(), "unchanged");
        threshold::set(db, &ws, Micros::ZERO, NOW).await.unwrap();
        assert!(!threshold::balance(db, &ws).await.unwrap().low_balance, "0 turns the warning off");
    }
}
