//! Test harness: a simulator on 127.0.0.1:0 with a virtual clock, and a tiny axum webhook
//! receiver that records every delivery (raw body + signature) and can be told to fail.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use simulator::{Clock, SimConfig, Simulator};

pub const TOKEN: &str = "test-token";
pub const SECRET: &str = "test-app-secret";
pub const PID: &str = "100000000000001";
pub const WABA: &str = "200000000000001";

#[derive(Clone, Debug)]
pub struct Received {
    pub body: Bytes,
    pub signature: Option<String>,
}

#[derive(Clone, Default)]
pub struct Receiver {
    pub got: Arc<Mutex<Vec<Received>>>,
    pub fail_next: Arc<AtomicU32>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok()).map(str::to_owned);
    r.got.lock().unwrap().push(Received { body, signature });
    if r.fail_next.load(Ordering::SeqCst) > 0 {
        r.fail_next.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    StatusCode::OK
}

async fn verify(Query(q): Query<std::collections::HashMap<String, String>>) -> (StatusCode, String) {
    if q.get("hub.mode").map(String::as_str) == Some("subscribe")
        && q.get("hub.verify_token").map(String::as_str) == Some("vt")
    {
        (StatusCode::OK, q.get("hub.challenge").cloned().unwrap_or_default())
    } else {
        (StatusCode::FORBIDDEN, "bad token".into())
    }
}

pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

pub struct Harness {
    pub sim: Simulator,
    pub base: String,
    pub http: reqwest::Client,
    pub receiver: Receiver,
    pub hook_url: String,
}

pub fn config() -> SimConfig {
    SimConfig {
        access_token: TOKEN.into(),
        app_secret: SECRET.into(),
        clock: Clock::virtual_at(1_767_225_600_000), // 2026-01-01T00:00:00Z
        webhook_retry_backoff: Duration::from_millis(10),
        tick_interval: Duration::from_secs(3600), // tests drive timers through advance()
        ..SimConfig::default()
    }
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(config()).await
    }

    pub async fn with(mut cfg: SimConfig) -> Self {
        let receiver = Receiver::default();
        let hook_app =
            Router::new().route("/webhook", post(receive).get(verify)).with_state(receiver.clone());
        let hook_url = format!("{}/webhook", serve(hook_app).await);
        cfg.webhook_url = Some(hook_url.clone());
        let sim = Simulator::new(cfg);
        let base = serve(sim.router()).await;
        Self { sim, base, http: reqwest::Client::new(), receiver, hook_url }
    }

    pub async fn graph(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.graph_as(method, &format!("/v23.0/{path}"), body, Some(TOKEN)).await
    }

    pub async fn graph_as(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut rb = match method {
            "GET" => self.http.get(url),
            "PUT" => self.http.put(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url),
        };
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let res = rb.send().await.unwrap();
        let status = res.status().as_u16();
        let v = res.json::<Value>().await.unwrap_or(Value::Null);
        (status, v)
    }

    pub async fn sandbox(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.graph_as(method, path, body, None).await
    }

    pub async fn call_action(&self, body: Value) -> (u16, Value) {
        self.graph("POST", &format!("{PID}/calls"), Some(body)).await
    }

    /// Every change delivered so far, in arrival order: (field, value).
    pub async fn changes(&self) -> Vec<(String, Value)> {
        self.sim.flush_webhooks().await;
        let got = self.receiver.got.lock().unwrap().clone();
        let mut out = vec![];
        for r in got {
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            for e in v["entry"].as_array().unwrap() {
                for c in e["changes"].as_array().unwrap() {
                    out.push((c["field"].as_str().unwrap().to_string(), c["value"].clone()));
                }
            }
        }
        out
    }

    /// The `calls[]` objects for a call id with a given event.
    pub async fn call_events(&self, call_id: &str, event: &str) -> Vec<Value> {
        let mut out = vec![];
        for (field, v) in self.changes().await {
            if field != "calls" {
                continue;
            }
            for c in v["calls"].as_array().into_iter().flatten() {
                if c["id"] == call_id && c["event"] == event {
                    out.push(c.clone());
                }
            }
        }
        out
    }

    pub async fn call_value(&self, call_id: &str, event: &str) -> Value {
        for (field, v) in self.changes().await {
            if field == "calls"
                && v["calls"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|c| c["id"] == call_id && c["event"] == event))
            {
                return v;
            }
        }
        panic!("no {event} webhook for {call_id}");
    }

    pub async fn statuses(&self, call_id: &str) -> Vec<String> {
        let mut out = vec![];
        for (field, v) in self.changes().await {
            if field != "calls" {
                continue;
            }
            for s in v["statuses"].as_array().into_iter().flatten() {
                if s["id"] == call_id {
                    out.push(s["status"].as_str().unwrap().to_string());
                }
            }
        }
        out
    }

    /// `messages[]` with `interactive.type == call_permission_reply`.
    pub async fn permission_replies(&self) -> Vec<Value> {
        let mut out = vec![];
        for (field, v) in self.changes().await {
            if field != "messages" {
                continue;
            }
            for m in v["messages"].as_array().into_iter().flatten() {
                if m["interactive"]["type"] == "call_permission_reply" {
                    out.push(m.clone());
                }
            }
        }
        out
    }

    pub async fn inbound(&self, from: &str) -> String {
        let (s, v) = self
            .sandbox(
                "POST",
                "/sandbox/calls/inbound",
                Some(json!({ "to": PID, "from": from, "name": "Ada" })),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["call_id"].as_str().unwrap().to_string()
    }

    /// Send a free-form permission request; returns its wamid.
    pub async fn request_permission(&self, to: &str) -> (u16, Value) {
        self.graph(
            "POST",
            &format!("{PID}/messages"),
            Some(json!({
                "messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
                "type": "interactive",
                "interactive": { "type": "call_permission_request", "action": { "name": "call_permission_request" },
                                 "body": { "text": "May we call you?" } }
            })),
        )
        .await
    }

    pub async fn grant(&self, user: &str, grant: &str) -> (u16, Value) {
        self.sandbox("POST", &format!("/sandbox/users/{user}/permission"), Some(json!({ "grant": grant })))
            .await
    }

    pub fn advance(&self, secs: u64) {
        assert!(self.sim.advance(Duration::from_secs(secs)));
    }
}

/// A syntactically valid business offer (what a browser would send for `connect`).
pub fn business_offer() -> (simulator::media::Peer, String) {
    simulator::media::Peer::offerer(simulator::media::PeerConfig { ice_lite: false }).unwrap()
}

/// A business answer to the simulator's offer. (str0m answers an actpass offer with
/// `a=setup:passive`, browsers with `active`; the simulator accepts both, as DTLS works either way.)
pub fn business_answer(offer: &str) -> (simulator::media::Peer, String) {
    simulator::media::Peer::answerer(simulator::media::PeerConfig { ice_lite: false }, offer).unwrap()
}

/// Assert Meta's Graph error envelope with the given code.
pub fn assert_error(v: &Value, code: u64) {
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    assert!(v["error"]["type"].is_string(), "{v}");
    assert!(v["error"]["fbtrace_id"].is_string(), "{v}");
}
