//! Webhook delivery as Meta does it: the WABA envelope, `X-Hub-Signature-256` over the raw body,
//! retries on failure, and switchable faults (duplicates, terminate-before-connect reordering,
//! batching, slow or failed attempts, stale re-deliveries). Also the GET `hub.challenge`
//! verification handshake against the business's endpoint.
//!
//! Deliveries go out from one worker task in order, so without faults a call's webhooks arrive in
//! the order they happened; every fault is opt-in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::clock::Clock;

/// Deliveries kept in the log.
const MAX_LOG: usize = 2000;

/// `sha256=<hex HMAC-SHA256(app_secret, raw_body)>`, the `X-Hub-Signature-256` value.
pub fn sign(app_secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Constant-time check of an `X-Hub-Signature-256` header value (for tests and receivers).
pub fn verify_signature(app_secret: &str, body: &[u8], header: &str) -> bool {
    use subtle::ConstantTimeEq;
    let expected = sign(app_secret, body);
    expected.as_bytes().ct_eq(header.trim().as_bytes()).into()
}

/// Fault-injection switches. All off by default.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Faults {
    /// POST every delivery twice (same body, same signature).
    pub duplicate: bool,
    /// Hold each call's `connect` until its `terminate` is queued, then send terminate first.
    pub terminate_before_connect: bool,
    /// Collect this many changes and send them in one POST (several `changes` in one entry).
    /// 0 or 1 = no batching. [`Webhooks::flush`] sends a partial batch.
    pub batch_size: usize,
    /// Wait this long before each POST (a slow Meta).
    pub delay_ms: u64,
    /// Treat the first N attempts of every delivery as failed even if the receiver answered 200
    /// (Meta's ~20 s timeout case), so the receiver sees the same body again.
    pub fail_first_attempts: u32,
    /// Send every delivery again this long after it first succeeded, unchanged (a stale copy).
    pub stale_redelivery_ms: Option<u64>,
}

/// Where and how webhooks are sent.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// The business's callback URL; `None` = record deliveries without sending them.
    pub url: Option<String>,
    /// The app secret that signs bodies.
    pub app_secret: String,
    /// Fault switches.
    pub faults: Faults,
    /// Attempts per delivery before giving up (Meta retries for days; we keep it short).
    pub max_attempts: u32,
    /// Pause between attempts (doubles each time).
    pub retry_backoff: Duration,
    /// HTTP timeout of one attempt (Meta uses about 20 s).
    pub attempt_timeout: Duration,
}

/// One attempt to POST a body.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// HTTP status, if the receiver answered.
    pub status: Option<u16>,
    /// Transport error, or why the simulator counted the attempt as failed.
    pub error: Option<String>,
    /// Unix ms when it was made (simulator clock).
    pub at_ms: i64,
}

/// One webhook POST body and what happened to it.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// Sequence number (increasing).
    pub seq: u64,
    /// `original`, `duplicate` or `stale`.
    pub kind: &'static str,
    /// Webhook fields in the body, e.g. `["calls"]`.
    pub fields: Vec<String>,
    /// The JSON body as sent.
    pub body: Value,
    /// The `X-Hub-Signature-256` header.
    pub signature: String,
    /// Target URL, if one was configured.
    pub url: Option<String>,
    /// Attempts so far.
    pub attempts: Vec<Attempt>,
    /// True once a 2xx answer was accepted.
    pub delivered: bool,
    /// Unix ms when the body was built (simulator clock).
    pub created_ms: i64,
}

/// One `changes[]` item waiting to be sent.
#[derive(Debug, Clone)]
pub struct Change {
    /// WABA id for `entry[].id`.
    pub waba_id: String,
    /// `calls` or `messages`.
    pub field: &'static str,
    /// The change's `value`.
    pub value: Value,
    /// For reordering: the call this change belongs to and whether it is its connect/terminate.
    pub call: Option<(String, CallEventKind)>,
}

/// Which call event a change carries (for the reordering fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEventKind {
    /// `calls[].event == "connect"`.
    Connect,
    /// `calls[].event == "terminate"`.
    Terminate,
    /// Anything else (statuses).
    Other,
}

enum Job {
    Change(Box<Change>),
    Flush(Option<tokio::sync::oneshot::Sender<()>>),
    Stale(u64),
}

/// The webhook sender owned by a simulator.
#[derive(Clone)]
pub struct Webhooks {
    settings: Arc<RwLock<WebhookSettings>>,
    log: Arc<Mutex<Vec<Delivery>>>,
    tx: mpsc::UnboundedSender<Job>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks").finish_non_exhaustive()
    }
}

impl Webhooks {
    /// Start the delivery worker (needs a Tokio runtime).
    pub fn start(settings: WebhookSettings, clock: Clock) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let hooks =
            Self { settings: Arc::new(RwLock::new(settings)), log: Arc::new(Mutex::new(Vec::new())), tx };
        let worker = Worker {
            hooks: hooks.clone(),
            clock,
            http: reqwest::Client::new(),
            batch: Vec::new(),
            held_connects: HashMap::new(),
            seq: 0,
        };
        tokio::spawn(worker.run(rx));
        hooks
    }

    /// Queue one change for delivery.
    pub fn send(&self, change: Change) {
        let _ = self.tx.send(Job::Change(Box::new(change)));
    }

    /// Send any partial batch and held connects now, and wait until everything queued before
    /// this call has been attempted.
    pub async fn flush(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.tx.send(Job::Flush(Some(tx))).is_ok() {
            let _ = rx.await;
        }
    }

    /// Point deliveries at a (new) URL.
    pub fn set_url(&self, url: Option<String>) {
        if let Ok(mut s) = self.settings.write() {
            s.url = url;
        }
    }

    /// Replace the fault switches.
    pub fn set_faults(&self, faults: Faults) {
        if let Ok(mut s) = self.settings.write() {
            s.faults = faults;
        }
    }

    /// Current fault switches.
    pub fn faults(&self) -> Faults {
        self.settings.read().map(|s| s.faults.clone()).unwrap_or_default()
    }

    /// Current settings.
    pub fn settings(&self) -> WebhookSettings {
        self.settings.read().expect("webhook settings lock").clone()
    }

    /// Deliveries made so far, newest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        let mut v = self.log.lock().map(|l| l.clone()).unwrap_or_default();
        v.reverse();
        v
    }
}

struct Worker {
    hooks: Webhooks,
    clock: Clock,
    http: reqwest::Client,
    batch: Vec<Change>,
    held_connects: HashMap<String, Change>,
    seq: u64,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Job>) {
        while let Some(job) = rx.recv().await {
            match job {
                Job::Change(change) => self.accept(*change).await,
                Job::Flush(done) => {
                    let held: Vec<Change> = self.held_connects.drain().map(|(_, c)| c).collect();
                    for c in held {
                        self.batch.push(c);
                    }
                    self.send_batch().await;
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                }
                Job::Stale(seq) => self.redeliver_stale(seq).await,
            }
        }
    }

    async fn accept(&mut self, change: Change) {
        let faults = self.hooks.faults();
        let mut ready = vec![];
        match (&change.call, faults.terminate_before_connect) {
            (Some((id, CallEventKind::Connect)), true) => {
                self.held_connects.insert(id.clone(), change);
            }
            (Some((id, CallEventKind::Terminate)), true) => {
                let held = self.held_connects.remove(id);
                ready.push(change);
                ready.extend(held);
            }
            _ => ready.push(change),
        }
        for c in ready {
            self.batch.push(c);
            if self.batch.len() >= faults.batch_size.max(1) {
                self.send_batch().await;
            }
        }
    }

    async fn send_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let changes = std::mem::take(&mut self.batch);
        // One entry per WABA, in first-seen order; several changes share an entry.
        let mut entries: Vec<(String, Vec<Value>)> = Vec::new();
        let mut fields = Vec::new();
        for c in changes {
            if !fields.iter().any(|f: &String| f == c.field) {
                fields.push(c.field.to_string());
            }
            let change = json!({ "value": c.value, "field": c.field });
            match entries.iter_mut().find(|(w, _)| *w == c.waba_id) {
                Some((_, v)) => v.push(change),
                None => entries.push((c.waba_id, vec![change])),
            }
        }
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": entries.into_iter().map(|(id, changes)| json!({ "id": id, "changes": changes })).collect::<Vec<_>>(),
        });
        let seq = self.post(body, fields, "original").await;
        let faults = self.hooks.faults();
        if faults.duplicate
            && let Some(d) = self.find(seq)
        {
            self.post(d.body, d.fields, "duplicate").await;
        }
        if let Some(ms) = faults.stale_redelivery_ms {
            let tx = self.hooks.tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                let _ = tx.send(Job::Stale(seq));
            });
        }
    }

    fn find(&self, seq: u64) -> Option<Delivery> {
        self.hooks.log.lock().ok()?.iter().find(|d| d.seq == seq).cloned()
    }

    async fn redeliver_stale(&mut self, seq: u64) {
        if let Some(d) = self.find(seq) {
            self.post(d.body, d.fields, "stale").await;
        }
    }

    /// POST one body with retries; returns its sequence number.
    async fn post(&mut self, body: Value, fields: Vec<String>, kind: &'static str) -> u64 {
        self.seq += 1;
        let seq = self.seq;
        let settings = self.hooks.settings();
        let raw = serde_json::to_vec(&body).unwrap_or_default();
        let signature = sign(&settings.app_secret, &raw);
        let delivery = Delivery {
            seq,
            kind,
            fields,
            body,
            signature: signature.clone(),
            url: settings.url.clone(),
            attempts: vec![],
            delivered: false,
            created_ms: self.clock.now_ms(),
        };
        if let Ok(mut log) = self.hooks.log.lock() {
            // Bounded, so a long-running sandbox does not grow without limit.
            if log.len() >= MAX_LOG {
                log.drain(..MAX_LOG / 4);
            }
            log.push(delivery);
        }
        let Some(url) = settings.url.clone() else {
            tracing::debug!(seq, "no webhook URL configured; delivery recorded only");
            return seq;
        };
        let mut backoff = settings.retry_backoff;
        for attempt in 0..settings.max_attempts.max(1) {
            if settings.faults.delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(settings.faults.delay_ms)).await;
            }
            let res = self
                .http
                .post(&url)
                .timeout(settings.attempt_timeout)
                .header("content-type", "application/json")
                // Meta's webhook requests identify themselves this way.
                .header("user-agent", "facebookexternalua")
                .header("x-hub-signature-256", &signature)
                .body(raw.clone())
                .send()
                .await;
            let (status, mut error) = match res {
                Ok(r) => {
                    let s = r.status();
                    (Some(s.as_u16()), (!s.is_success()).then(|| format!("receiver answered {s}")))
                }
                Err(e) => (None, Some(e.to_string())),
            };
            if error.is_none() && attempt < settings.faults.fail_first_attempts {
                error = Some("fault injection: attempt counted as timed out".into());
            }
            let ok = error.is_none();
            tracing::debug!(seq, attempt, ?status, ?error, "webhook attempt");
            if let Ok(mut log) = self.hooks.log.lock()
                && let Some(d) = log.iter_mut().find(|d| d.seq == seq)
            {
                d.attempts.push(Attempt { status, error, at_ms: self.clock.now_ms() });
                d.delivered = ok;
            }
            if ok {
                break;
            }
            if attempt + 1 < settings.max_attempts {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        seq
    }
}

/// Perform Meta's GET verification handshake against `callback_url`: send `hub.mode=subscribe`,
/// a random `hub.challenge` and `verify_token`; succeed only on 200 with the challenge echoed
/// back verbatim as the body.
pub async fn verify_endpoint(callback_url: &str, verify_token: &str) -> Result<(), String> {
    let challenge =
        format!("{}", 1_000_000_000u64 + u64::from(uuid::Uuid::now_v7().as_bytes()[15]) * 3_000_001);
    let res = reqwest::Client::new()
        .get(callback_url)
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.challenge", challenge.as_str()),
            ("hub.verify_token", verify_token),
        ])
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .map_err(|e| format!("verification request failed: {e}"))?;
    let status = res.status();
    let body = res.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("endpoint answered {status}"));
    }
    if body != challenge {
        return Err(format!("endpoint echoed {body:?}, expected the challenge {challenge:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog")
        assert_eq!(
            sign("key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        assert!(verify_signature(
            "key",
            b"The quick brown fox jumps over the lazy dog",
            &sign("key", b"The quick brown fox jumps over the lazy dog")
        ));
        assert!(!verify_signature("other", b"x", &sign("key", b"x")));
    }
}
