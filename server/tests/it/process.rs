//! The `switchboard` binary as an operator runs it: migrations, serving, graceful shutdown,
//! and clear failures for bad configuration.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_switchboard");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}?mode=rwc", dir.path().join("nested/dir/switchboard.db").display())
}

/// Starts `switchboard serve` on a free port with its data in `dir`; returns it once ready.
async fn serve(dir: &tempfile::TempDir, sandbox: &str) -> (std::process::Child, String) {
    let port = free_port();
    let child = Command::new(BINARY)
        .arg("serve")
        .env("DATABASE_URL", sqlite_url(dir))
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .env("SECRET_KEY_FILE", dir.path().join("secret.key"))
        .env("SANDBOX", sandbox)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match client.get(format!("{base}/readyz")).send().await {
            Ok(response) if response.status() == 200 => break,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => panic!("server never became ready"),
        }
    }
    (child, base)
}

#[tokio::test]
async fn serve_answers_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (child, _base) = serve(&dir, "off").await;
    assert!(dir.path().join("nested/dir/switchboard.db").exists(), "SQLite file and its directory created");

    let output = stop(child).await;
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "exit status {:?}: {log}", output.status);
    assert!(log.contains("SIGTERM received") && log.contains("stopped cleanly"), "{log}");
}

/// Sends SIGTERM and waits for the process to exit.
async fn stop(mut child: std::process::Child) -> std::process::Output {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        loop {
            if let Some(_status) = child.try_wait().unwrap() {
                return child.wait_with_output().unwrap();
            }
            assert!(started.elapsed() < Duration::from_secs(20), "server ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn sandbox_mode_takes_a_simulated_inbound_call_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let (child, base) = serve(&dir, "auto").await;

    // The scenario API drives simulated customers: admins only, here with an API key that the
    // operator command prints (sandbox mode created "My workspace" at start-up).
    let anonymous = reqwest::Client::new().get(format!("{base}/sandbox/numbers")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let output = Command::new(BINARY)
        .args([
            "admin",
            "create-api-key",
            "--workspace",
            "My workspace",
            "--name",
            "tests",
            "--role",
            "admin",
        ])
        .env("DATABASE_URL", sqlite_url(&dir))
        .env("SECRET_KEY_FILE", dir.path().join("secret.key"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let key = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {key}").parse().unwrap());
    let client = reqwest::Client::builder().default_headers(headers).build().unwrap();
    let numbers: serde_json::Value =
        client.get(format!("{base}/sandbox/numbers")).send().await.unwrap().json().await.unwrap();
    let business = numbers["numbers"][0]["phone_number_id"].as_str().unwrap().to_owned();

    let placed = client
        .post(format!("{base}/sandbox/calls/inbound"))
        .json(&serde_json::json!({ "to": business, "from": "+919876543210", "name": "Asha Rao" }))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 200, "{}", placed.text().await.unwrap());

    // The simulator signed a connect webhook, the server verified, stored and processed it,
    // and the call history shows the caller ringing.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page: serde_json::Value = client
            .get(format!("{base}/api/v1/app/calling/calls"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let latest = &page["calls"][0];
        if latest["contact_name"] == "Asha Rao"
            && latest["contact_number"] == "+919876543210"
            && latest["status"] == "ringing"
        {
            break;
        }
        assert!(Instant::now() < deadline, "the simulated call never showed up: {page}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let output = stop(child).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    // A restart keeps the sandbox number and its credentials: webhooks still verify.
    let (child, base) = serve(&dir, "auto").await;
    let placed = client
        .post(format!("{base}/sandbox/calls/inbound"))
        .json(&serde_json::json!({ "to": business, "from": "+919876543211", "name": "Second Caller" }))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = client
            .get(format!("{base}/api/v1/app/calling/calls"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if page.contains("Second Caller") && page.contains("Asha Rao") {
            break;
        }
        assert!(Instant::now() < deadline, "the call after the restart never showed up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop(child).await;
}

#[test]
fn migrate_creates_the_schema_and_is_repeatable() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let output =
            Command::new(BINARY).args(["migrate", "--database-url", &sqlite_url(&dir)]).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let db_file = dir.path().join("nested/dir/switchboard.db");
    let bytes = std::fs::read(db_file).unwrap();
    assert!(bytes.starts_with(b"SQLite format 3"));
}

#[test]
fn a_bad_database_url_fails_with_a_clear_message() {
    let output = Command::new(BINARY).args(["migrate", "--database-url", "mysql://nope"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("must start with sqlite: or postgres://"), "{log}");
}

#[test]
fn a_bad_ice_server_address_stops_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BINARY)
        .args(["serve", "--bind", &format!("127.0.0.1:{}", free_port())])
        .env("DATABASE_URL", sqlite_url(&dir))
        .env("SECRET_KEY_FILE", dir.path().join("secret.key"))
        .env("SANDBOX", "off")
        .env("ICE_SERVERS", "stun:stun.example.com:3478,http://turn.example.com")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("is not a STUN or TURN address"), "{log}");
}

#[test]
fn help_lists_the_commands_and_settings() {
    let output = Command::new(BINARY).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for expected in ["serve", "migrate", "DATABASE_URL", "BIND", "SITE_ROOT", "ICE_SERVERS", "TURN_SECRET"] {
        assert!(help.contains(expected), "--help lacks {expected}: {help}");
    }
}
