//! The `/admin/billing` page's server functions over real HTTP, sent as the hydrated page
//! sends them (URL-encoded `ActionForm` fields, JSON for the rate card and the filter) with each
//! member's session cookie, on SQLite and PostgreSQL: the REST API's role rules (viewers read,
//! agents see nothing, admins top up, owners set prices and the plan), refused fields as replies
//! naming the field, the manual provider's once-per-reference top-ups, and audit entries with
//! the member as actor.

use crate::admin_page::{Browser, join};
use crate::support;

use app::pages::admin::server_fns::{
    ListExpenses, LoadBilling, LoadRateCards, PublishRateCard, RecordTopUp, SetLowBalanceThreshold,
    UpdateSubscription,
};
use calling::accounts::{self, NewOwner, Role, audit};
use calling::billing::rates;
use calling::clock::Clock;
use calling::testing;
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::Sandbox;

/// The edit form as the page starts it (the current prices), with `change` applied.
fn rate_form(change: impl FnOnce(&mut Value)) -> Value {
    let card = rates::defaults();
    let price =
        |rate: rates::Rate| json!({ "meta": rate.meta.to_string(), "billable": rate.billable.to_string() });
    let mut form = json!({
        "call_estimate_minutes": card.call_estimate_minutes.to_string(),
        "default_call": price(card.default_call),
        "countries": [],
        "text": price(card.messages.text),
        "media": price(card.messages.media),
        "template": price(card.messages.template),
        "calling_template": price(card.messages.calling_template),
        "note": "",
    });
    change(&mut form);
    json!({ "form": form })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_billing_page_applies_the_rest_apis_rules() {
    for db in testing::every_database().await {
        let services = testing::services(&db.db, Clock::System);
        let sandbox = Sandbox::start_with(services, Some(db), |_| {}).await;
        let services = sandbox.services();
        let owner = NewOwner {
            email: "owner@acme.example".into(),
            display_name: Some("Olivia Owner".into()),
            password: "owner-password-long".into(),
            workspace_name: None,
        };
        let (owner, _) = accounts::setup(&services.db, owner, services.clock.now()).await.unwrap();
        let ws = sandbox.workspace.id.clone();
        let admin_id = join(services, &ws, "admin@acme.example", Role::Admin).await;
        let agent_id = join(services, &ws, "agent@acme.example", Role::Agent).await;
        let viewer_id = join(services, &ws, "viewer@acme.example", Role::Viewer).await;
        let owner = Browser::sign_in(&sandbox, &owner.id).await;
        let admin = Browser::sign_in(&sandbox, &admin_id).await;
        let agent = Browser::sign_in(&sandbox, &agent_id).await;
        let viewer = Browser::sign_in(&sandbox, &viewer_id).await;

        // The owner's fresh workspace: on its trial, an empty wallet below the default warning.
        let page = owner.ok(LoadBilling::PATH, &[]).await;
        assert_eq!(page["subscription"]["plan"], "trial", "{page}");
        assert_eq!(page["subscription"]["days_left"], 14);
        assert_eq!((page["can_manage"].as_bool(), page["can_top_up"].as_bool()), (Some(true), Some(true)));
        assert_eq!((page["available"].as_i64(), page["low_balance"].as_bool()), (Some(0), Some(true)));

        // Agents see no billing at all; viewers read it and change nothing.
        for path in [LoadBilling::PATH, LoadRateCards::PATH] {
            let (status, message) = agent.refused(path, &[]).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {message}");
        }
        let (status, _) = agent.json(ListExpenses::PATH, &json!({ "filter": {} })).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let page = viewer.ok(LoadBilling::PATH, &[]).await;
        assert_eq!((page["can_manage"].as_bool(), page["can_top_up"].as_bool()), (Some(false), Some(false)));
        for (path, fields) in [
            (RecordTopUp::PATH, &[("amount", "5"), ("reference", ""), ("note", "")][..]),
            (SetLowBalanceThreshold::PATH, &[("threshold", "1")][..]),
            (
                UpdateSubscription::PATH,
                &[("plan", "pro"), ("status", "active"), ("period_end", "2099-01-01")][..],
            ),
        ] {
            let (status, message) = viewer.refused(path, fields).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {message}");
        }
        // Admins top up and set the warning, but set neither prices nor the plan.
        let (status, _) = admin
            .refused(
                UpdateSubscription::PATH,
                &[("plan", "pro"), ("status", "active"), ("period_end", "2099-01-01")],
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        for browser in [&admin, &viewer] {
            let (status, reply) = browser.json(PublishRateCard::PATH, &rate_form(|_| {})).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
        }

        // Top-ups: a refused field is a reply naming it; a reference counts once.
        for (amount, reference, field) in
            [("ten", "", "amount"), ("0", "", "amount"), ("1", &"r".repeat(65)[..], "reference")]
        {
            let reply = admin
                .ok(RecordTopUp::PATH, &[("amount", amount), ("reference", reference), ("note", "")])
                .await;
            assert_eq!(reply["Invalid"]["field"], field, "{reply}");
        }
        let wire = [("amount", "25.50"), ("reference", "TRX-9"), ("note", "wire from Acme")];
        let reply = admin.ok(RecordTopUp::PATH, &wire).await;
        assert_eq!(reply["Done"]["credited"], true, "{reply}");
        assert_eq!(reply["Done"]["available"]["amount"], 25_500_000);
        let reply = admin.ok(RecordTopUp::PATH, &wire).await;
        assert_eq!(reply["Done"]["credited"], false, "{reply}");
        let page = viewer.ok(LoadBilling::PATH, &[]).await;
        assert_eq!(
            (page["available"].as_i64(), page["low_balance"].as_bool()),
            (Some(25_500_000), Some(false))
        );

        // The threshold above the balance makes the page warn.
        let reply = admin.ok(SetLowBalanceThreshold::PATH, &[("threshold", "-1")]).await;
        assert_eq!(reply["Invalid"]["field"], "threshold", "{reply}");
        let reply = admin.ok(SetLowBalanceThreshold::PATH, &[("threshold", "100")]).await;
        assert_eq!(reply["Done"], 100_000_000, "{reply}");
        assert_eq!(viewer.ok(LoadBilling::PATH, &[]).await["low_balance"], true);

        // The subscription, by the owner.
        let reply = owner
            .ok(
                UpdateSubscription::PATH,
                &[("plan", "pro"), ("status", "paused"), ("period_end", "2099-01-01")],
            )
            .await;
        assert_eq!(reply["Invalid"]["field"], "status", "{reply}");
        let reply = owner
            .ok(
                UpdateSubscription::PATH,
                &[("plan", "pro"), ("status", "active"), ("period_end", "01/01/2099")],
            )
            .await;
        assert_eq!(reply["Invalid"]["field"], "current_period_end", "{reply}");
        let reply = owner
            .ok(
                UpdateSubscription::PATH,
                &[("plan", "pro"), ("status", "active"), ("period_end", "2099-01-01")],
            )
            .await;
        assert_eq!(reply["Done"], "pro", "{reply}");
        let page = viewer.ok(LoadBilling::PATH, &[]).await;
        assert_eq!(page["subscription"]["plan"], "pro");
        assert_eq!(page["subscription"]["effective_status"], "active");

        // A new rate card version, by the owner; version 1 stays as it was.
        let (status, reply) = owner
            .json(
                PublishRateCard::PATH,
                &rate_form(|form| {
                    form["countries"] = json!([{ "country": "in", "meta": "0.001", "billable": "0.0008" }]);
                }),
            )
            .await;
        assert_eq!(
            (status, reply["Invalid"]["field"].as_str()),
            (StatusCode::OK, Some("countries.IN.billable")),
            "{reply}"
        );
        let (status, reply) = owner
            .json(
                PublishRateCard::PATH,
                &rate_form(|form| {
                    form["countries"] = json!([{ "country": "in", "meta": "0.001", "billable": "0.0015" }]);
                    form["note"] = json!("India priced");
                }),
            )
            .await;
        assert_eq!((status, reply["Done"].as_i64()), (StatusCode::OK, Some(2)), "{reply}");
        let cards = viewer.ok(LoadRateCards::PATH, &[]).await;
        assert_eq!(cards["current"]["version"], 2, "{cards}");
        assert_eq!(cards["can_manage"], false);
        assert_eq!(cards["form"]["countries"][0]["country"], "IN");
        assert_eq!(cards["versions"].as_array().unwrap().len(), 2);
        assert_eq!(cards["versions"][0]["by"], "Olivia Owner");
        let india = cards["current"]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["label"] == "Calls to IN")
            .cloned();
        assert_eq!(india.unwrap()["billable"], 1_500);
        assert_eq!(
            cards["versions"][1]["lines"].as_array().unwrap().len(),
            5,
            "version 1: default and 4 message rates"
        );

        // The expenses log, filtered by kind.
        let (status, expenses) =
            viewer.json(ListExpenses::PATH, &json!({ "filter": { "kind": "top_up" } })).await;
        assert_eq!(status, StatusCode::OK, "{expenses}");
        let rows = expenses["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{expenses}");
        assert_eq!(
            (rows[0]["top_up_id"].as_str(), rows[0]["reason"].as_str()),
            (Some("manual:TRX-9"), Some("wire from Acme"))
        );
        let (_, none) =
            viewer.json(ListExpenses::PATH, &json!({ "filter": { "kind": "call_charge" } })).await;
        assert_eq!(none["rows"], json!([]));

        // Audited as the REST API audits, with the member as actor.
        for (action, actor) in
            [("billing.top_up", &admin_id), ("billing.low_balance_threshold_updated", &admin_id)]
        {
            let entries = audit::by_action(&services.db, action).await.unwrap();
            assert_eq!(entries.len(), 1, "{action}");
            assert_eq!(entries[0].actor, format!("user:{actor}"));
            assert_eq!(entries[0].workspace_id.as_deref(), Some(ws.as_str()));
        }
        for action in ["billing.subscription_updated", "billing.rate_card_published"] {
            let entries = audit::by_action(&services.db, action).await.unwrap();
            assert_eq!(entries.len(), 1, "{action}");
            assert!(entries[0].actor.starts_with("user:"), "{action}");
        }
        let changed = audit::by_action(&services.db, "billing.subscription_updated").await.unwrap();
        assert_eq!(changed[0].details["from"]["plan"], "trial");
        assert_eq!(changed[0].details["to"]["plan"], "pro");
    }
}
