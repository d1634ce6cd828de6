//! Call settings: validated by Meta's rules, pushed to WhatsApp (the simulator), stored only
//! once accepted, and compared with what WhatsApp reports.

use crate::support;

use calling::graph::GraphClient;
use calling::settings::{CallingSettings, Toggle};
use calling::settings_sync;
use support::{Sandbox, eventually};

fn settings(json: serde_json::Value) -> CallingSettings {
    serde_json::from_value(json).unwrap()
}

#[tokio::test]
async fn settings_are_pushed_stored_and_compared_with_whatsapp() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let client = GraphClient::new().unwrap();
    let wanted = settings(serde_json::json!({
        "status": "ENABLED",
        "call_icon_visibility": "DEFAULT",
        "callback_permission_status": "ENABLED",
        "call_hours": {
            "status": "ENABLED",
            "timezone_id": "Europe/London",
            "weekly_operating_hours": [
                { "day_of_week": "MONDAY", "open_time": "0900", "close_time": "1230" },
                { "day_of_week": "MONDAY", "open_time": "1330", "close_time": "1800" }
            ]
        }
    }));
    let stored = settings_sync::apply(services, &client, &sandbox.number, &wanted).await.unwrap();
    assert_eq!(stored.desired.as_ref(), Some(&wanted));
    assert!(stored.pushed_at.is_some() && stored.remote_fetched_at.is_some());
    assert_eq!(stored.drift, vec![], "WhatsApp has what we pushed");
    assert_eq!(
        stored.remote.as_ref().and_then(|remote| remote.callback_permission_status.clone()),
        Some(Toggle::Enabled)
    );
}

#[tokio::test]
async fn invalid_or_refused_settings_change_nothing() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let client = GraphClient::new().unwrap();
    let overlapping = settings(serde_json::json!({
        "call_hours": {
            "status": "ENABLED",
            "timezone_id": "Europe/London",
            "weekly_operating_hours": [
                { "day_of_week": "MONDAY", "open_time": "0900", "close_time": "1300" },
                { "day_of_week": "MONDAY", "open_time": "1200", "close_time": "1800" }
            ]
        }
    }));
    let err = settings_sync::apply(services, &client, &sandbox.number, &overlapping).await.unwrap_err();
    assert_eq!(err.code(), "validation_failed");
    assert!(err.to_string().contains("weekly_operating_hours"), "{err}");
    assert_eq!(settings_sync::load(&services.db, &sandbox.number.id).await.unwrap(), Default::default());
}

#[tokio::test]
async fn a_change_made_at_whatsapp_shows_as_drift() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let client = GraphClient::new().unwrap();
    let ours = settings(serde_json::json!({ "status": "ENABLED", "callback_permission_status": "ENABLED" }));
    settings_sync::apply(services, &client, &sandbox.number, &ours).await.unwrap();

    // Someone switches callback permission off in WhatsApp Manager: Meta's webhook tells us.
    let theirs = settings(serde_json::json!({ "callback_permission_status": "DISABLED" }));
    let credentials =
        calling::numbers::credentials(&services.db, &services.secret_key, &sandbox.number.id).await.unwrap();
    let target = calling::graph::GraphTarget::for_number(&sandbox.number, &credentials);
    client.update_settings(&target, &theirs).await.unwrap();
    let drifted = eventually(10, "the settings webhook", || async {
        let stored = settings_sync::load(&services.db, &sandbox.number.id).await.unwrap();
        (!stored.drift.is_empty()).then_some(stored)
    })
    .await;
    let fields: Vec<&str> = drifted.drift.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(fields, vec!["callback_permission_status"]);
}
