//! Durability: the server is SIGKILLed while signed webhooks pour in. After a restart, every
//! delivery that was answered 200 is stored and processed exactly once.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use calling::clock::Clock;
use calling::numbers::{self, NewNumber, NumberCredentials};
use calling::secrets::SecretKey;
use calling::storage::{Db, PoolSize};
use calling::webhook::signature::sign;
use calling::workspace;
use tokio::sync::Mutex;

const BINARY: &str = env!("CARGO_BIN_EXE_switchboard");
const APP_SECRET: &str = "kill-test-app-secret";
const PHONE_NUMBER_ID: &str = "100000000000077";

fn spawn(dir: &tempfile::TempDir, url: &str, key: &str, port: u16) -> Child {
    Command::new(BINARY)
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("SECRET_KEY", key)
        .env("SANDBOX", "off")
        .env("RUST_LOG", "warn")
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/readyz")).send().await.map(|r| r.status() != 200).unwrap_or(true) {
        assert!(Instant::now() < deadline, "server never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A connect for call `n`, timed now: a fixed time in the past would leave the calls ringing
/// past their answer window, and the sweeper would (rightly) add a second event to each.
fn connect_webhook(n: usize) -> String {
    let now = (Clock::System.now() / 1000).to_string();
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "200000000000077", "changes": [{ "field": "calls", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "phone_number_id": PHONE_NUMBER_ID, "display_phone_number": "447700900077" },
            "contacts": [{ "wa_id": format!("4477009{n:05}"), "profile": { "name": format!("Caller {n}") } }],
            "calls": [{ "id": format!("wacid.kill-{n}"), "to": "447700900077", "from": format!("4477009{n:05}"),
                        "event": "connect", "timestamp": now, "direction": "USER_INITIATED",
                        "session": { "sdp_type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n" } }]
        }}]}]
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_deliveries_survive_a_kill_and_are_processed_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("kill.db").display());
    let key_hex = SecretKey::generate_hex();
    {
        let db = Db::connect(&url, PoolSize(1)).await.unwrap();
        db.migrate().await.unwrap();
        let now = Clock::System.now();
        let workspace = workspace::create(&db, "Kill Test", now).await.unwrap();
        let credentials = NumberCredentials {
            access_token: "token".into(),
            app_secret: APP_SECRET.into(),
            verify_token: "verify".into(),
        };
        let new = NewNumber {
            phone_number_id: PHONE_NUMBER_ID.into(),
            waba_id: "200000000000077".into(),
            phone_number: "+447700900077".into(),
            credentials,
            graph_api_version: None,
            graph_api_base_url: None,
            is_sandbox: false,
        };
        numbers::connect(&db, &SecretKey::from_hex(&key_hex).unwrap(), &workspace.id, new, now)
            .await
            .unwrap();
        db.close().await;
    }

    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let mut child = spawn(&dir, &url, &key_hex, port);
    wait_ready(&client, &base).await;

    // 16 senders post distinct deliveries as fast as they can; the server is killed mid-stream.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let senders: Vec<_> = (0..16)
        .map(|sender| {
            let (client, base, acknowledged) = (client.clone(), base.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let body = connect_webhook(sender * 10_000 + i);
                    let reply = client
                        .post(format!("{base}/webhooks/whatsapp"))
                        .header("content-type", "application/json")
                        .header("X-Hub-Signature-256", sign(APP_SECRET.as_bytes(), body.as_bytes()))
                        .body(body.clone())
                        .send()
                        .await;
                    match reply {
                        Ok(reply) if reply.status() == 200 => acknowledged.lock().await.push(body),
                        Ok(reply) => panic!("unexpected status {}", reply.status()),
                        Err(_) => break, // the server is gone
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while acknowledged.lock().await.len() < 300 {
        assert!(Instant::now() < deadline, "too few deliveries acknowledged");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL: no graceful shutdown, no flush
    child.wait().unwrap();
    for sender in senders {
        sender.await.unwrap();
    }
    let acknowledged = acknowledged.lock().await.clone();

    // Restart: the ingest task finishes whatever was stored but not yet processed.
    let mut child = spawn(&dir, &url, &key_hex, port);
    wait_ready(&client, &base).await;
    let db = Db::connect(&url, PoolSize(2)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (pending,): (i64,) = sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_deliveries WHERE state <> 'processed'",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        if pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{pending} deliveries never processed after the restart");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    for body in &acknowledged {
        let key = calling::ingest::screen(body.as_bytes()).unwrap().dedupe_key;
        let (stored,): (i64,) =
            sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_deliveries WHERE dedupe_key = $1")
                .bind(&key)
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(stored, 1, "an acknowledged delivery was lost");
        let call: serde_json::Value = serde_json::from_str(body).unwrap();
        let wa_call_id = call["entry"][0]["changes"][0]["value"]["calls"][0]["id"].as_str().unwrap();
        let (events,): (i64,) = sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM call_events e JOIN calls c ON c.id = e.call_id \
             WHERE c.wa_call_id = $1 AND e.kind = 'connect_received'",
        )
        .bind(wa_call_id)
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(events, 1, "{wa_call_id} processed {events} times");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
