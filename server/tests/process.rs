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

#[tokio::test]
async fn serve_answers_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(BINARY)
        .arg("serve")
        .env("DATABASE_URL", sqlite_url(&dir))
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .env("SECRET_KEY_FILE", dir.path().join("secret.key"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = loop {
        match client.get(format!("http://127.0.0.1:{port}/readyz")).send().await {
            Ok(response) => break response,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(err) => panic!("server never became ready: {err}"),
        }
    };
    assert_eq!(ready.status(), 200);
    assert!(dir.path().join("nested/dir/switchboard.db").exists(), "SQLite file and its directory created");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let output = tokio::task::spawn_blocking(move || {
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
    .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "exit status {:?}: {log}", output.status);
    assert!(log.contains("SIGTERM received") && log.contains("stopped cleanly"), "{log}");
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
fn help_lists_the_commands_and_settings() {
    let output = Command::new(BINARY).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for expected in ["serve", "migrate", "DATABASE_URL", "BIND", "SITE_ROOT"] {
        assert!(help.contains(expected), "--help lacks {expected}: {help}");
    }
}
