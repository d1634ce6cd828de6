//! The permission ledger fed by WhatsApp's `call_permission_reply` webhooks: grants, refusals
//! and duplicates, and what it then says about calling the user.

use crate::support;

use calling::graph::{GraphClient, GraphTarget};
use calling::permissions::{
    PermissionLimits, PermissionStatus, RefusalReason, TEMPORARY_PERMISSION_LIFETIME,
};
use calling::phone::PhoneNumber;
use calling::{ledger, numbers};
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
