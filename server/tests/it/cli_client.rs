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

        // `calling` alone is the overview card.
        let (ok, overview, _) = calling(&url2, Some(&key2), &[]);
        assert!(ok);
        assert_eq!(overview["overview"]["calls"], 1);
        let (ok, lookup, _) = calling(&url2, Some(&key2), &["permission-status", "--to", "+919876543210"]);
        assert!(ok);
        assert_eq!(lookup["contact_number"], "+919876543210");

        // Errors go to stderr with a non-zero exit and nothing on stdout.
        let (ok, body, err) = calling(&url2, Some(&key2), &["calls", "--status", "sent"]);
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
