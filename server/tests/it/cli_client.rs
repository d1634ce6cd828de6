//! `switchboard calling …` against a running server, as the seed's workflows use it.

use crate::support;

use std::process::Command;

use calling::accounts::{Role, api_keys};
use serde_json::Value;
use simulator::InboundCall;
use support::{Sandbox, eventually};

const BINARY: &str = env!("CARGO_BIN_EXE_switchboard");

fn calling(url: &str, key: Option<&str>, args: &[&str]) -> (bool, Value, String) {
    let mut command = Command::new(BINARY);
    command.arg("calling").args(args).env("SWITCHBOARD_URL", url).env_remove("SWITCHBOARD_API_KEY");
    if let Some(key) = key {
        command.env("SWITCHBOARD_API_KEY", key);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (output.status.success(), json, String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_workflows_run_against_a_live_server() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let (key, _) = api_keys::create(
        &services.db,
        &sandbox.workspace.id,
        "cli",
        Role::Viewer,
        "test",
        services.clock.now(),
    )
    .await
    .unwrap();
    let url = sandbox.server.url.clone();
    let wa_call_id = sandbox
        .sim
        .sim
        .place_inbound_call(InboundCall {
            to: sandbox.business.phone_number_id.clone(),
            from: "+919876543210".into(),
            name: Some("CLI Caller".into()),
            cta_payload: None,
            deeplink_payload: None,
        })
        .unwrap();
    sandbox.sim.sim.hangup(&wa_call_id).unwrap();
    let call_id = eventually(10, "the missed call", || {
        let (url, key) = (url.clone(), key.clone());
        async move {
            let (ok, page, _) = tokio::task::spawn_blocking(move || {
                calling(&url, Some(&key), &["calls", "--status", "missed"])
            })
            .await
            .unwrap();
            ok.then(|| page["calls"][0]["id"].as_str().map(str::to_owned)).flatten()
        }
    })
    .await;

    let (url2, key2) = (url.clone(), key.clone());
    let phone_number_id = sandbox.business.phone_number_id.clone();
    tokio::task::spawn_blocking(move || {
        // `calling analytics --period 7d | jq '.analytics.daily_series[] | {date, total: .count, failed: .failed_count}'`
        let (ok, body, err) = calling(&url2, Some(&key2), &["analytics", "--period", "7d"]);
        assert!(ok, "{err}");
        let series = body["analytics"]["daily_series"].as_array().unwrap();
        assert_eq!(series.len(), 7);
        for day in series {
            assert!(
                day["date"].is_string() && day["count"].is_i64() && day["failed_count"].is_i64(),
                "{day}"
            );
        }
        assert_eq!(series.last().unwrap()["count"], 1);

        // `calling call <id> status | jq -r .status`
        let (ok, status, err) = calling(&url2, Some(&key2), &["call", &call_id, "status"]);
        assert!(ok, "{err}");
        assert_eq!(status["status"], "missed");
        let (ok, detail, _) = calling(&url2, Some(&key2), &["call", &call_id]);
        assert!(ok);
        assert_eq!(detail["summary"]["contact_name"], "CLI Caller");

        // The history's filters: the business number, a time window, an agent nobody is.
        let sandbox_number = phone_number_id.clone();
        let (ok, page, err) =
            calling(&url2, Some(&key2), &["calls", "--phone-number-id", &sandbox_number, "--from", "0"]);
        assert!(ok, "{err}");
        assert_eq!(page["calls"].as_array().unwrap().len(), 1);
        let (ok, page, _) = calling(&url2, Some(&key2), &["calls", "--to", "1"]);
        assert!(ok && page["calls"].as_array().unwrap().is_empty());
        let (ok, page, _) = calling(&url2, Some(&key2), &["calls", "--agent", "nobody"]);
        assert!(ok && page["calls"].as_array().unwrap().is_empty());

        // `calling` alone is the overview card.
        let (ok, overview, _) = calling(&url2, Some(&key2), &[]);
        assert!(ok);
        assert_eq!(overview["overview"]["calls"], 1);
        let (ok, lookup, _) = calling(&url2, Some(&key2), &["permission-status", "--to", "+919876543210"]);
        assert!(ok);
        assert_eq!(lookup["contact_number"], "+919876543210");

        // The seed's spellings: the one call (missed) was sent, none delivered.
        let (ok, page, _) = calling(&url2, Some(&key2), &["calls", "--status", "sent"]);
        assert!(ok && page["calls"].as_array().unwrap().len() == 1, "{page}");
        let (ok, page, _) = calling(&url2, Some(&key2), &["calls", "--status", "delivered"]);
        assert!(ok && page["calls"].as_array().unwrap().is_empty(), "{page}");

        // Errors go to stderr with a non-zero exit and nothing on stdout.
        let (ok, body, err) = calling(&url2, Some(&key2), &["calls", "--status", "lost"]);
        assert!(!ok && body.is_null());
        assert!(err.contains("validation_failed") && err.contains("HTTP 422"), "{err}");
        let (ok, _, err) = calling(&url2, None, &["calls"]);
        assert!(!ok && err.contains("SWITCHBOARD_API_KEY"), "{err}");
        let (ok, _, err) = calling(&url2, Some("sb_live_wrong"), &["calls"]);
        assert!(!ok && err.contains("HTTP 401"), "{err}");
    })
    .await
    .unwrap();
}

/// The seed's "pause calling outside business hours": `settings update --hours … --icon-visible`
/// changes what it names at WhatsApp and keeps the rest; bad hours are refused before anything
/// is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_update_changes_hours_and_icon_and_keeps_the_rest() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let (key, _) = api_keys::create(
        &services.db,
        &sandbox.workspace.id,
        "cli",
        Role::Admin,
        "test",
        services.clock.now(),
    )
    .await
    .unwrap();
    let url = sandbox.server.url.clone();
    let run = |args: Vec<&'static str>| {
        let (url, key) = (url.clone(), key.clone());
        tokio::task::spawn_blocking(move || calling(&url, Some(&key), &args))
    };

    let (ok, updated, stderr) = run(vec![
        "settings",
        "update",
        "--hours",
        r#"{"mon":["09:00","18:00"],"tue":["09:00","18:00"]}"#,
        "--timezone",
        "Asia/Kolkata",
        "--callback-permission",
        "true",
    ])
    .await
    .unwrap();
    assert!(ok, "{stderr}");
    let hours = &updated["desired"]["call_hours"];
    assert_eq!(hours["status"], "ENABLED", "{updated}");
    assert_eq!(hours["timezone_id"], "Asia/Kolkata");
    assert_eq!(
        hours["weekly_operating_hours"],
        serde_json::json!([
            { "day_of_week": "MONDAY", "open_time": "0900", "close_time": "1800" },
            { "day_of_week": "TUESDAY", "open_time": "0900", "close_time": "1800" },
        ])
    );
    assert_eq!(updated["remote"]["call_hours"], *hours, "WhatsApp has the same hours");

    // Only the icon now: the hours and time zone set above stay.
    let (ok, updated, stderr) = run(vec!["settings", "update", "--icon-visible", "false"]).await.unwrap();
    assert!(ok, "{stderr}");
    assert_eq!(updated["remote"]["call_icon_visibility"], "DISABLE_ALL", "{updated}");
    assert_eq!(updated["remote"]["call_hours"]["timezone_id"], "Asia/Kolkata");
    assert_eq!(updated["remote"]["callback_permission_status"], "ENABLED");

    for bad in [
        vec!["settings", "update", "--hours", r#"{"funday":["09:00","18:00"]}"#],
        vec!["settings", "update", "--hours", r#"{"mon":["09:00","08:00"]}"#],
        vec!["settings", "update"],
    ] {
        let (ok, _, stderr) = run(bad.clone()).await.unwrap();
        assert!(!ok, "{bad:?} was accepted");
        assert!(!stderr.trim().is_empty(), "{bad:?} says why");
    }
    let (_, settings, _) = run(vec!["settings"]).await.unwrap();
    assert_eq!(
        settings["numbers"][0]["remote"]["call_hours"]["weekly_operating_hours"][0]["close_time"], "1800",
        "a refused update changed nothing"
    );
}
