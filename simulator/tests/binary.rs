//! The `switchboard-sim` binary serves the same Graph and scenario API on 127.0.0.1 with the
//! flags it documents.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn binary_serves_graph_and_sandbox_api() {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard-sim"))
        .args([
            "--port",
            &port.to_string(),
            "--token",
            "bin-token",
            "--app-secret",
            "bin-secret",
            "--full-ice",
        ])
        .args(["--webhook-url", "http://127.0.0.1:9/unused"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Kill(child);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(format!("{base}/sandbox/healthz")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(Instant::now() < deadline, "switchboard-sim did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let numbers: serde_json::Value =
        http.get(format!("{base}/sandbox/numbers")).send().await.unwrap().json().await.unwrap();
    let pid = numbers["numbers"][0]["phone_number_id"].as_str().unwrap().to_string();
    let r = http.get(format!("{base}/v23.0/{pid}/settings")).bearer_auth("bin-token").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{base}/v23.0/{pid}/settings"))
        .bearer_auth("sandbox-access-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the --token flag replaces the default token");
    let r = http
        .post(format!("{base}/sandbox/calls/inbound"))
        .json(&serde_json::json!({ "to": pid, "from": "+919876543210" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    // The webhook worker records the delivery asynchronously: poll the log.
    let mut sdp = String::new();
    for _ in 0..100 {
        let deliveries: serde_json::Value =
            http.get(format!("{base}/sandbox/webhooks")).send().await.unwrap().json().await.unwrap();
        sdp = deliveries["deliveries"][0]["body"]["entry"][0]["changes"][0]["value"]["calls"][0]["session"]["sdp"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !sdp.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(v["call_id"].as_str().unwrap().starts_with("wacid."));
    assert!(!sdp.is_empty() && !sdp.contains("a=ice-lite"), "--full-ice: {sdp}");
}
