//! Calling templates on real databases (SQLite, and PostgreSQL when configured) against the real
//! simulator: creation stores Meta's id and status only after WhatsApp accepted, the first of
//! each kind becomes the default and switching keeps exactly one (also under concurrent
//! switches), deleting (at WhatsApp first) the default hands it on, Meta's review moves a
//! template forward in time on its own WABA only, foreign workspaces see nothing, and sends pay
//! through billing (refused before WhatsApp without a subscription or money, charged once
//! accepted, released when WhatsApp refuses) and count against the permission-request quota.

use calling::Services;
use calling::billing::{Micros, SubscriptionStatus, subscription, wallet};
use calling::clock::Clock;
use calling::graph::{GraphClient, GraphTarget, NewTemplate, TemplateCategory, TemplateComponent};
use calling::numbers::{self, NewNumber, NumberCredentials, WhatsAppNumber};
use calling::templates::{
    self, CallButtonRequest, PermissionRequest, SendRequest, Template, TemplateKind, TemplateStatus,
};
use calling::testing::{self, TestDb};
use calling::workspace;
use serde_json::{Value, json};
use simulator::{SimConfig, Simulator};

const DAY: i64 = 24 * 60 * 60 * 1000;

struct World {
    services: Services,
    sim: Simulator,
    graph: GraphClient,
    workspace_id: String,
    number: WhatsAppNumber,
    _db: TestDb,
}

/// A workspace with the simulator's number connected as a real (billed) number.
async fn world(db: TestDb) -> World {
    let services = testing::services(&db.db, Clock::System);
    let sim = Simulator::new(SimConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = sim.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let now = services.clock.now();
    let workspace = workspace::create(&services.db, "Templates Co", now).await.unwrap();
    let business = sim.numbers()[0].clone();
    let config = sim.config().clone();
    let number = numbers::connect(
        &services.db,
        &services.secret_key,
        &workspace.id,
        NewNumber {
            phone_number_id: business.phone_number_id.clone(),
            waba_id: business.waba_id.clone(),
            phone_number: business.display_phone_number.clone(),
            credentials: NumberCredentials {
                access_token: config.access_token.clone(),
                app_secret: config.app_secret.clone(),
                verify_token: "verify".into(),
            },
            graph_api_version: Some(config.graph_version.clone()),
            graph_api_base_url: Some(format!("http://{address}")),
            is_sandbox: false,
        },
        now,
    )
    .await
    .unwrap();
    World { services, sim, graph: GraphClient::new().unwrap(), workspace_id: workspace.id, number, _db: db }
}

impl World {
    async fn call_button(&self, name: &str) -> Template {
        let spec =
            CallButtonRequest { name: Some(name.into()), ..CallButtonRequest::default() }.validate().unwrap();
        templates::create(&self.services, &self.graph, &self.workspace_id, &spec, None, "test").await.unwrap()
    }

    async fn permission(&self, name: &str) -> Template {
        let spec = PermissionRequest {
            name: Some(name.into()),
            body: Some("Hi {{1}}, may we call you?".into()),
            examples: vec!["Ada".into()],
            header: Some("Calls".into()),
            ..PermissionRequest::default()
        }
        .validate()
        .unwrap();
        templates::create(&self.services, &self.graph, &self.workspace_id, &spec, None, "test").await.unwrap()
    }

    async fn defaults(&self) -> Vec<(TemplateKind, String)> {
        let mut defaults: Vec<_> = templates::list(&self.services.db, &self.workspace_id)
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.is_default)
            .map(|t| (t.kind, t.name))
            .collect();
        defaults.sort_by_key(|(kind, _)| kind.as_str());
        defaults
    }

    /// Message statuses the simulator emitted: one `sent` per accepted message.
    async fn messages_sent(&self) -> usize {
        self.sim.flush_webhooks().await;
        self.sim
            .webhook_deliveries()
            .iter()
            .map(|d| d.body.to_string().matches("\"status\":\"sent\"").count())
            .sum()
    }
}

#[tokio::test]
async fn templates_are_stored_after_whatsapp_accepts_them_with_one_default_per_kind() {
    for db in testing::every_database().await {
        let w = world(db).await;
        let db = &w.services.db;
        let first = w.call_button("support_cb").await;
        assert!(first.is_default, "the first call button is the default");
        assert_eq!(first.status, TemplateStatus::Approved);
        assert!(!first.meta_template_id.is_empty());
        assert_eq!(first.phone_number_id, w.number.phone_number_id);
        let second = w.call_button("sales_cb").await;
        assert!(!second.is_default);
        let ask = w.permission("ask_perm").await;
        assert!(ask.is_default, "each kind has its own default");
        assert_eq!((ask.body_variables, ask.header.as_deref()), (1, Some("Calls")));
        assert_eq!(
            w.defaults().await,
            [(TemplateKind::CallButton, "support_cb".into()), (TemplateKind::Permission, "ask_perm".into())]
        );

        let switched = templates::set_default(db, &w.workspace_id, &second.template_id, 1).await.unwrap();
        assert!(switched.is_default);
        assert_eq!(
            w.defaults().await,
            [(TemplateKind::CallButton, "sales_cb".into()), (TemplateKind::Permission, "ask_perm".into())]
        );
        // Setting the default twice changes nothing.
        templates::set_default(db, &w.workspace_id, &second.template_id, 2).await.unwrap();
        assert_eq!(w.defaults().await.len(), 2);

        // Concurrent switches between the two call buttons: always exactly one default.
        let mut tasks = Vec::new();
        for round in 0..20 {
            let (db, ws) = (db.clone(), w.workspace_id.clone());
            let id = if round % 2 == 0 { first.template_id.clone() } else { second.template_id.clone() };
            tasks.push(tokio::spawn(async move { templates::set_default(&db, &ws, &id, round).await }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let call_button_defaults =
            w.defaults().await.into_iter().filter(|(kind, _)| *kind == TemplateKind::CallButton).count();
        assert_eq!(call_button_defaults, 1);

        // Deleting the default hands it to the newest remaining template of its kind.
        let current = templates::list(db, &w.workspace_id)
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.is_default && t.kind == TemplateKind::CallButton)
            .unwrap();
        let other = if current.template_id == first.template_id { &second } else { &first };
        let deleted =
            templates::delete(&w.services, &w.graph, &w.workspace_id, &current.template_id).await.unwrap();
        assert_eq!(deleted.template_id, current.template_id);
        assert!(templates::get(db, &w.workspace_id, &other.template_id).await.unwrap().is_default);
        let err = templates::get(db, &w.workspace_id, &current.template_id).await.unwrap_err();
        assert_eq!(err.code(), "not_found");

        // Another workspace sees none of it.
        let foreign = workspace::create(db, "Other Co", 0).await.unwrap();
        assert!(templates::list(db, &foreign.id).await.unwrap().is_empty());
        for err in [
            templates::get(db, &foreign.id, &ask.template_id).await.unwrap_err(),
            templates::set_default(db, &foreign.id, &ask.template_id, 3).await.unwrap_err(),
            templates::delete(&w.services, &w.graph, &foreign.id, &ask.template_id).await.unwrap_err(),
        ] {
            assert_eq!(err.code(), "not_found");
        }
        assert!(templates::get(db, &w.workspace_id, &ask.template_id).await.unwrap().is_default);
    }
}

#[tokio::test]
async fn a_template_whatsapp_refuses_is_not_stored() {
    let w = world(testing::sqlite().await).await;
    // The same name already exists at WhatsApp (made outside Switchboard): Meta refuses.
    let credentials =
        numbers::credentials(&w.services.db, &w.services.secret_key, &w.number.id).await.unwrap();
    let target = GraphTarget::for_number(&w.number, &credentials);
    let outside = NewTemplate {
        name: "made_elsewhere".into(),
        language: "en_US".into(),
        category: TemplateCategory::Marketing,
        components: vec![TemplateComponent::Body { text: "Hello".into(), example: vec![] }],
    };
    w.graph.create_template(&target, &outside).await.unwrap();
    let spec = CallButtonRequest { name: Some("made_elsewhere".into()), ..CallButtonRequest::default() }
        .validate()
        .unwrap();
    let err =
        templates::create(&w.services, &w.graph, &w.workspace_id, &spec, None, "test").await.unwrap_err();
    assert_eq!(err.code(), "whatsapp_error");
    assert_eq!(err.details().unwrap()["meta_code"], 100);
    assert!(templates::list(&w.services.db, &w.workspace_id).await.unwrap().is_empty());

    // Our own duplicate is refused before WhatsApp is asked.
    w.call_button("support_cb").await;
    let again = CallButtonRequest { name: Some("support_cb".into()), ..CallButtonRequest::default() }
        .validate()
        .unwrap();
    let err =
        templates::create(&w.services, &w.graph, &w.workspace_id, &again, None, "test").await.unwrap_err();
    assert_eq!(err.code(), "template_exists");
    // An unknown business number.
    let err = templates::create(&w.services, &w.graph, &w.workspace_id, &again, Some("999"), "test")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found");
}

#[tokio::test]
async fn sends_pay_through_billing_and_count_against_the_permission_request_quota() {
    for db in testing::every_database().await {
        let w = world(db).await;
        let (db, ws) = (&w.services.db, w.workspace_id.as_str());
        let now = w.services.clock.now();
        let cb = w.call_button("support_cb").await;
        let ask = w.permission("ask_perm").await;
        let send = |template: &Template, to: &str, vars: Value| SendRequest {
            template_id: Some(template.template_id.clone()),
            to: Some(to.into()),
            vars,
            ..SendRequest::default()
        };

        // No subscription: refused before WhatsApp hears of it.
        let err =
            templates::send(&w.services, &w.graph, ws, &send(&cb, "+919876543210", Value::Null), "test")
                .await
                .unwrap_err();
        assert_eq!(err.code(), "subscription_expired");
        // A subscription and an empty wallet.
        subscription::set(db, ws, "usage", SubscriptionStatus::Active, now + 30 * DAY, now).await.unwrap();
        let err =
            templates::send(&w.services, &w.graph, ws, &send(&cb, "+919876543210", Value::Null), "test")
                .await
                .unwrap_err();
        assert_eq!(err.code(), "insufficient_balance");
        assert_eq!(w.messages_sent().await, 0, "no refused send reached WhatsApp");

        let funds = Micros::from_units(1).unwrap();
        wallet::top_up(db, ws, "pay-1", funds, None, now).await.unwrap();
        let sent =
            templates::send(&w.services, &w.graph, ws, &send(&cb, "+919876543210", Value::Null), "test")
                .await
                .unwrap();
        assert!(sent.wa_message_id.starts_with("wamid."), "{sent:?}");
        assert_eq!((sent.to.as_str(), sent.kind), ("+919876543210", TemplateKind::CallButton));
        assert!(sent.cost_micros > 0);
        let after = wallet::get(db, ws).await.unwrap();
        assert_eq!(after.balance, funds.checked_sub(Micros(sent.cost_micros)).unwrap());
        assert_eq!(after.held, Micros::ZERO);
        let (stored,): (String,) = sqlx::query_as(
            "SELECT wa_message_id FROM calling_template_sends WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws)
        .bind(&sent.message_id)
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(stored, sent.wa_message_id);

        // A permission request with its variable; the second within 24 h is refused by the
        // ledger before WhatsApp (Meta's 138009), and nothing is charged for it.
        let sent =
            templates::send(&w.services, &w.graph, ws, &send(&ask, "+919876543211", json!(["Ada"])), "test")
                .await
                .unwrap();
        assert_eq!(sent.vars, ["Ada"]);
        let balance = wallet::get(db, ws).await.unwrap().balance;
        let err =
            templates::send(&w.services, &w.graph, ws, &send(&ask, "+919876543211", json!(["Ada"])), "test")
                .await
                .unwrap_err();
        assert_eq!(err.code(), "permission_request_limit");
        assert_eq!(wallet::get(db, ws).await.unwrap().balance, balance);

        // WhatsApp refuses (a template it does not know any more): the hold is given back.
        sqlx::query("UPDATE calling_templates SET name = 'gone_at_meta' WHERE id = $1")
            .bind(&cb.template_id)
            .execute(db.pool())
            .await
            .unwrap();
        let err =
            templates::send(&w.services, &w.graph, ws, &send(&cb, "+919876543212", Value::Null), "test")
                .await
                .unwrap_err();
        assert_eq!(err.code(), "whatsapp_error");
        let after = wallet::get(db, ws).await.unwrap();
        assert_eq!((after.balance, after.held), (balance, Micros::ZERO));
        assert_eq!(w.messages_sent().await, 2);
        assert!(wallet::verify(db, ws, w.services.clock.now()).await.unwrap().is_consistent());
    }
}

#[tokio::test]
async fn metas_review_moves_a_template_only_forward_in_time_and_only_on_its_waba() {
    for db in testing::every_database().await {
        let w = world(db).await;
        let db = &w.services.db;
        let template = w.call_button("support_cb").await;
        let meta = template.meta_template_id.as_str();
        let own = w.number.waba_id.as_str();
        let mut conn = db.pool().acquire().await.unwrap();
        let mut record = async |waba: &str, status: TemplateStatus, reason: Option<&str>, at: i64| {
            templates::record_status(&mut conn, waba, meta, status, reason, at, at).await.unwrap()
        };
        assert_eq!(record(own, TemplateStatus::Rejected, Some("INVALID_FORMAT"), 1_000).await, 1);
        // An older update delivered late changes nothing.
        assert_eq!(record(own, TemplateStatus::Approved, None, 500).await, 0);
        // Another account's template of the same id is not this one.
        assert_eq!(record("299999999999999", TemplateStatus::Approved, None, 2_000).await, 0);
        let got = templates::get(db, &w.workspace_id, &template.template_id).await.unwrap();
        assert_eq!(
            (got.status, got.status_reason.as_deref()),
            (TemplateStatus::Rejected, Some("INVALID_FORMAT"))
        );
        assert_eq!(record(own, TemplateStatus::Approved, None, 2_000).await, 1);
        let got = templates::get(db, &w.workspace_id, &template.template_id).await.unwrap();
        assert_eq!((got.status, got.status_reason, got.updated_at), (TemplateStatus::Approved, None, 2_000));
    }
}
