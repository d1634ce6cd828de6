//! The permission ledger fed by WhatsApp's `call_permission_reply` webhooks: grants, refusals
//! and duplicates, and what it then says about calling the user.

use crate::support;

use calling::accounts::{Role, api_keys};
use calling::clock::Clock;
use calling::graph::{GraphClient, GraphTarget};
use calling::permissions::{
    PermissionLimits, PermissionStatus, RefusalReason, TEMPORARY_PERMISSION_LIFETIME,
};
use calling::phone::PhoneNumber;
use calling::{ledger, numbers, permission_sync, testing};
use reqwest::StatusCode;
use serde_json::Value;
use simulator::{Faults, Grant};
use support::{Sandbox, eventually};

async fn lookup(sandbox: &Sandbox, user: &PhoneNumber) -> ledger::PermissionLookup {
    let services = sandbox.services();
    ledger::lookup(
        &services.db,
        &sandbox.number.id,
        user,
        services.clock.now(),
        &PermissionLimits::PRODUCTION,
    )
    .await
    .unwrap()
}

async fn facts(sandbox: &Sandbox, user: &PhoneNumber) -> usize {
    ledger::history(&sandbox.services().db, &sandbox.number.id, user).await.unwrap().len()
}

#[tokio::test]
async fn a_grant_then_a_refusal_move_the_ledger_and_duplicates_count_once() {
    let sandbox =
        Sandbox::start(|config| config.faults = Faults { duplicate: true, ..Faults::default() }).await;
    let user = PhoneNumber::parse("+447700900140").unwrap();
    let before = lookup(&sandbox, &user).await;
    assert_eq!(before.view.status, PermissionStatus::NoPermission);
    assert_eq!(before.call_refusal.map(|r| r.reason), Some(RefusalReason::NoPermission));

    let phone_number_id = sandbox.business.phone_number_id.clone();
    sandbox.sim.sim.user_permission_reply(Some(&phone_number_id), user.e164(), Grant::Temporary).unwrap();
    let granted = eventually(10, "the grant", || async {
        let found = lookup(&sandbox, &user).await;
        matches!(found.view.status, PermissionStatus::Temporary { .. }).then_some(found)
    })
    .await;
    let PermissionStatus::Temporary { expires_at } = granted.view.status else { unreachable!() };
    let now = sandbox.services().clock.now();
    let lifetime = expires_at - now;
    assert!(
        (TEMPORARY_PERMISSION_LIFETIME - 60_000..=TEMPORARY_PERMISSION_LIFETIME).contains(&lifetime),
        "{lifetime}"
    );
    assert_eq!(granted.call_refusal, None, "a call would go through");
    let listed =
        ledger::granted(&sandbox.services().db, &sandbox.number.id, now, &PermissionLimits::PRODUCTION)
            .await
            .unwrap();
    assert_eq!(listed.iter().map(|l| l.contact_number.as_str()).collect::<Vec<_>>(), vec!["+447700900140"]);

    // A refusal answers a request: send one the way the product does, through the Graph API.
    let services = sandbox.services();
    let credentials =
        numbers::credentials(&services.db, &services.secret_key, &sandbox.number.id).await.unwrap();
    let target = GraphTarget::for_number(&sandbox.number, &credentials);
    GraphClient::new()
        .unwrap()
        .send_call_permission_request(&target, &user, Some("May we call you?"))
        .await
        .unwrap();
    sandbox.sim.sim.user_permission_reply(Some(&phone_number_id), user.e164(), Grant::Reject).unwrap();
    let refused = eventually(10, "the refusal", || async {
        let found = lookup(&sandbox, &user).await;
        (found.view.status == PermissionStatus::NoPermission).then_some(found)
    })
    .await;
    assert_eq!(
        refused.call_refusal.map(|r| (r.reason, r.retry_at)),
        Some((RefusalReason::NoPermission, None))
    );

    // Every reply was delivered twice; each is one fact.
    sandbox.sim.sim.flush_webhooks().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(facts(&sandbox, &user).await, 2);
}

/// A reply whose webhook never arrived leaves the ledger wrong until WhatsApp is asked: the
/// periodic comparison takes WhatsApp's word, once per pair per interval, and appends nothing
/// where the two agree.
#[tokio::test]
async fn a_lost_reply_is_corrected_by_comparing_with_whatsapp() {
    a_lost_reply_is_corrected(Sandbox::start(|_| {}).await).await;
}

#[tokio::test]
async fn a_lost_reply_is_corrected_by_comparing_with_whatsapp_on_postgres() {
    let Some(db) = testing::postgres().await else {
        return; // no PostgreSQL configured; ./dev test always configures one
    };
    let services = testing::services(&db.db, Clock::System);
    a_lost_reply_is_corrected(Sandbox::start_with(services, Some(db), |_| {}).await).await;
}

async fn a_lost_reply_is_corrected(sandbox: Sandbox) {
    let services = sandbox.services();
    let phone_number_id = sandbox.business.phone_number_id.clone();
    let (revoked, steady) =
        (PhoneNumber::parse("+447700900141").unwrap(), PhoneNumber::parse("+447700900142").unwrap());
    for user in [&revoked, &steady] {
        sandbox.sim.sim.user_permission_reply(Some(&phone_number_id), user.e164(), Grant::Temporary).unwrap();
        eventually(10, "the grant", || async {
            matches!(lookup(&sandbox, user).await.view.status, PermissionStatus::Temporary { .. })
                .then_some(())
        })
        .await;
    }

    // The user declines a later request while our webhook endpoint is unreachable.
    let credentials =
        numbers::credentials(&services.db, &services.secret_key, &sandbox.number.id).await.unwrap();
    let target = GraphTarget::for_number(&sandbox.number, &credentials);
    let client = GraphClient::new().unwrap();
    client.send_call_permission_request(&target, &revoked, None).await.unwrap();
    let webhook_url = sandbox.sim.sim.webhook_url();
    sandbox.sim.sim.set_webhook_url(None);
    sandbox.sim.sim.user_permission_reply(Some(&phone_number_id), revoked.e164(), Grant::Reject).unwrap();
    sandbox.sim.sim.flush_webhooks().await;
    sandbox.sim.sim.set_webhook_url(webhook_url);
    assert!(
        matches!(lookup(&sandbox, &revoked).await.view.status, PermissionStatus::Temporary { .. }),
        "the ledger is stale"
    );

    let limits = PermissionLimits::PRODUCTION;
    let pass = permission_sync::reconcile_due(services, &client, 10, &limits).await.unwrap();
    assert_eq!(pass, permission_sync::Pass { agreed: 1, corrected: 1, failed: 0 });
    let corrected = lookup(&sandbox, &revoked).await;
    assert_eq!(corrected.view.status, PermissionStatus::NoPermission);
    assert_eq!(corrected.call_refusal.map(|r| r.reason), Some(RefusalReason::NoPermission));
    assert_eq!(facts(&sandbox, &revoked).await, 2, "grant + WhatsApp's correction");
    assert_eq!(facts(&sandbox, &steady).await, 1, "agreement appends nothing");

    // Both pairs were compared just now: nothing is due until the interval passes.
    let again = permission_sync::reconcile_due(services, &client, 10, &limits).await.unwrap();
    assert_eq!(again, permission_sync::Pass::default());
    let outcomes: Vec<(String, String)> = sqlx::query_as(
        "SELECT contact_number, outcome FROM permission_syncs WHERE number_id = $1 ORDER BY contact_number",
    )
    .bind(&sandbox.number.id)
    .fetch_all(services.db.pool())
    .await
    .unwrap();
    assert_eq!(
        outcomes,
        vec![("+447700900141".into(), "corrected".into()), ("+447700900142".into(), "agreed".into())]
    );
}

/// `POST /permission-status/sync` asks WhatsApp at once, for a user the ledger never heard of.
#[tokio::test]
async fn the_api_compares_one_user_with_whatsapp_on_demand() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let user = PhoneNumber::parse("+447700900143").unwrap();
    let webhook_url = sandbox.sim.sim.webhook_url();
    sandbox.sim.sim.set_webhook_url(None);
    sandbox
        .sim
        .sim
        .user_permission_reply(Some(&sandbox.business.phone_number_id), user.e164(), Grant::Temporary)
        .unwrap();
    sandbox.sim.sim.flush_webhooks().await;
    sandbox.sim.sim.set_webhook_url(webhook_url);

    let (key, _) = api_keys::create(
        &services.db,
        &sandbox.workspace.id,
        "tests",
        Role::Viewer,
        "test",
        services.clock.now(),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let sync = |phone: &'static str| {
        http.post(format!("{}/api/v1/app/calling/permission-status/sync?phone={phone}", sandbox.server.url))
            .bearer_auth(&key)
            .send()
    };
    let reply = sync("%2B447700900143").await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["ledger_status"]["status"], "no_permission", "{body}");
    assert_eq!(body["whatsapp_status"]["status"], "temporary", "{body}");
    assert_eq!(body["corrected"], true);
    assert_eq!(body["lookup"]["view"]["status"]["status"], "temporary");
    assert!(body["lookup"]["call_refusal"].is_null(), "{body}");
    assert!(matches!(lookup(&sandbox, &user).await.view.status, PermissionStatus::Temporary { .. }));

    let reply = sync("12").await.unwrap();
    assert_eq!(reply.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["error"]["code"], "validation_failed", "{body}");
}
