//! The simulated WhatsApp backend: calls and their state machine, business settings, the
//! permission ledger with Meta's quotas, templates, users, and the webhooks each transition
//! emits. Graph handlers (`graph.rs`) and the scenario API (`sandbox.rs`) are thin layers over
//! this. Time comes from the configured [`Clock`]; timers are checked by [`Engine::sweep`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::clock::Clock;
use crate::config::{Behaviour, BusinessNumber, OnCall, RejectedStatus, SimConfig};
use crate::error::{GraphError, GraphResult};
use crate::media::{MediaStats, Peer, PeerConfig, StatsHandle};
use crate::webhook::{CallEventKind, Change, Webhooks};

/// Countries whose business numbers cannot place business-initiated calls (138013).
const BIC_BLOCKED: &[(&str, &str)] = &[("1", "US/CA"), ("20", "EG"), ("84", "VN"), ("234", "NG")];

/// Call direction as Meta spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Direction {
    /// The user called the business.
    UserInitiated,
    /// The business called the user.
    BusinessInitiated,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::UserInitiated => "USER_INITIATED",
            Direction::BusinessInitiated => "BUSINESS_INITIATED",
        }
    }
}

/// Where a call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Connect sent, nobody picked up yet.
    Ringing,
    /// UIC: the business sent `pre_accept`.
    PreAccepted,
    /// Picked up; media may flow.
    Accepted,
    /// Over.
    Ended,
}

/// Why a call ended (what goes into the terminate webhook).
#[derive(Debug, Clone, PartialEq)]
struct Ending {
    status: &'static str,
    error: Option<(u32, &'static str, &'static str)>,
    /// The user let a business call ring out or declined it (counts toward revocation).
    unanswered: bool,
}

impl Ending {
    fn new(status: &'static str) -> Self {
        Self { status, error: None, unanswered: false }
    }

    fn unanswered() -> Self {
        Self { status: "FAILED", error: None, unanswered: true }
    }
}

struct Call {
    id: String,
    pid: String,
    user: String,
    direction: Direction,
    phase: Phase,
    ring_deadline_ms: i64,
    user_action: Option<(i64, OnCall)>,
    accepted_ms: Option<i64>,
    ended_ms: Option<i64>,
    pre_accept_sdp: Option<String>,
    biz_opaque: Option<String>,
    cta_payload: Option<String>,
    deeplink_payload: Option<String>,
    peer: Option<Arc<Peer>>,
    stats: StatsHandle,
    /// Received-packet count seen by the last sweep, and when it last changed (silence rule).
    last_rx: (u64, i64),
    /// UIC: the business sent media before `accept`; WhatsApp then treats the call as answered.
    early_media: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Permission {
    None,
    Temporary { expires_secs: i64 },
    Permanent,
}

#[derive(Default)]
struct Pair {
    permission: Option<Permission>,
    request_times_ms: Vec<i64>,
    connected_bic_ms: Vec<i64>,
    consecutive_unanswered: u32,
    pending_request: Option<String>,
}

#[derive(Clone)]
struct User {
    name: String,
    behaviour: Option<Behaviour>,
}

/// A message template as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Template {
    /// Template id.
    pub id: String,
    /// WABA that owns it.
    pub waba_id: String,
    /// Name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// MARKETING or UTILITY.
    pub category: String,
    /// Components as created.
    pub components: Value,
    /// Meta's review status: APPROVED at creation (the simulator reviews at once), then
    /// whatever [`crate::Simulator::set_template_status`] makes it.
    pub status: String,
}

struct NumberState {
    number: BusinessNumber,
    calling: Map<String, Value>,
}

struct State {
    /// Behaviour of users without their own (starts as `SimConfig::default_behaviour`).
    default_behaviour: Behaviour,
    /// Per number: BIC initiation times (138005) and permission checks in the current second (613).
    initiations: HashMap<String, Vec<i64>>,
    permission_checks: HashMap<String, (i64, u32)>,
    numbers: Vec<NumberState>,
    calls: HashMap<String, Call>,
    pairs: HashMap<(String, String), Pair>,
    users: HashMap<String, User>,
    templates: Vec<Template>,
}

/// Result of a `connect`.
pub struct Connected {
    /// The new call id.
    pub call_id: String,
}

/// Errors of the scenario API (not Graph errors: these are what the simulated phone would show).
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxError {
    /// HTTP status for the scenario API.
    pub status: u16,
    /// Short machine code.
    pub code: &'static str,
    /// Explanation.
    pub message: String,
}

impl SandboxError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }
}

impl std::fmt::Display for SandboxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for SandboxError {}

/// An inbound (user-initiated) call to place.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct InboundCall {
    /// Business number: `phone_number_id`, or the display number in any format.
    pub to: String,
    /// Caller, E.164 (`+` optional).
    pub from: String,
    /// Caller's profile name.
    #[serde(default)]
    pub name: Option<String>,
    /// Payload of the `voice_call` button the user tapped.
    #[serde(default)]
    pub cta_payload: Option<String>,
    /// `biz_payload` of the `wa.me/call` deep link the user opened.
    #[serde(default)]
    pub deeplink_payload: Option<String>,
}

/// How a user answers a permission request (or grants from the business profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// 7-day permission.
    Temporary,
    /// Permanent permission.
    Permanent,
    /// Decline.
    Reject,
}

/// A snapshot of a call for the scenario API.
#[derive(Debug, Clone, Serialize)]
pub struct CallInfo {
    /// Call id.
    pub call_id: String,
    /// Business number id.
    pub phone_number_id: String,
    /// User digits.
    pub user: String,
    /// Direction.
    pub direction: Direction,
    /// Phase.
    pub phase: Phase,
    /// Media counters.
    pub media: MediaStats,
    /// UIC only: media from the business reached the user before `accept` returned, which makes
    /// WhatsApp start the call timer early (a business-side bug Meta warns about).
    pub early_media: bool,
}

pub(crate) struct Engine {
    pub(crate) cfg: SimConfig,
    pub(crate) clock: Clock,
    pub(crate) hooks: Webhooks,
    state: Mutex<State>,
}

/// Digits of a phone number; `None` unless 8–15 digits after an optional `+`.
pub(crate) fn normalize_phone(input: &str) -> Option<String> {
    let s = input.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    let digits: String = s.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
    (digits.len() >= 8 && digits.len() <= 15 && digits.chars().all(|c| c.is_ascii_digit())).then_some(digits)
}

/// ISO country of a number's calling code (a small table: enough for BSUIDs and logs).
fn country_of(digits: &str) -> &'static str {
    const TABLE: &[(&str, &str)] = &[
        ("1", "US"),
        ("20", "EG"),
        ("27", "ZA"),
        ("33", "FR"),
        ("34", "ES"),
        ("39", "IT"),
        ("44", "GB"),
        ("49", "DE"),
        ("52", "MX"),
        ("55", "BR"),
        ("62", "ID"),
        ("84", "VN"),
        ("91", "IN"),
        ("234", "NG"),
        ("254", "KE"),
        ("971", "AE"),
    ];
    TABLE
        .iter()
        .filter(|(cc, _)| digits.starts_with(cc))
        .max_by_key(|(cc, _)| cc.len())
        .map(|(_, iso)| *iso)
        .unwrap_or("ZZ")
}

/// A stable business-scoped user id (BSUID) for a number, shaped like `US.13491208655302741918`.
fn bsuid(digits: &str, parent: bool) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in digits.bytes().chain(parent.then_some(b'P')) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let n = 10_000_000_000_000_000_000u64.wrapping_add(h % 8_000_000_000_000_000_000);
    if parent { format!("{}.ENT.{n}", country_of(digits)) } else { format!("{}.{n}", country_of(digits)) }
}

fn ts(secs: i64) -> Value {
    Value::String(secs.to_string())
}

impl Engine {
    pub(crate) fn new(cfg: SimConfig, hooks: Webhooks) -> Self {
        let numbers = cfg
            .numbers
            .iter()
            .map(|n| {
                let mut calling = Map::new();
                calling.insert("status".into(), json!(if n.calling_enabled { "ENABLED" } else { "NOT_SET" }));
                calling.insert("call_icon_visibility".into(), json!("NOT_SET"));
                calling.insert("callback_permission_status".into(), json!("NOT_SET"));
                NumberState { number: n.clone(), calling }
            })
            .collect();
        Self {
            clock: cfg.clock.clone(),
            state: Mutex::new(State {
                default_behaviour: cfg.default_behaviour,
                initiations: HashMap::new(),
                permission_checks: HashMap::new(),
                numbers,
                calls: HashMap::new(),
                pairs: HashMap::new(),
                users: HashMap::new(),
                templates: Vec::new(),
            }),
            cfg,
            hooks,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn numbers(&self) -> Vec<BusinessNumber> {
        self.lock().numbers.iter().map(|n| n.number.clone()).collect()
    }

    pub(crate) fn number(&self, pid: &str) -> GraphResult<BusinessNumber> {
        self.lock()
            .numbers
            .iter()
            .find(|n| n.number.phone_number_id == pid)
            .map(|n| n.number.clone())
            .ok_or_else(|| GraphError::unknown_object(pid))
    }

    pub(crate) fn waba_exists(&self, waba: &str) -> bool {
        self.lock().numbers.iter().any(|n| n.number.waba_id == waba)
    }

    fn peer_config(&self) -> PeerConfig {
        PeerConfig { ice_lite: self.cfg.ice_lite }
    }

    // ---------------------------------------------------------------- webhooks

    fn metadata(n: &BusinessNumber) -> Value {
        json!({ "display_phone_number": n.digits(), "phone_number_id": n.phone_number_id })
    }

    fn contact(state: &State, user: &str) -> Value {
        let name = state.users.get(user).map(|u| u.name.clone()).unwrap_or_else(|| user.to_string());
        json!({
            "profile": { "name": name },
            "wa_id": user,
            "user_id": bsuid(user, false),
            "parent_user_id": bsuid(user, true),
        })
    }

    fn emit(
        &self,
        n: &BusinessNumber,
        field: &'static str,
        value: Value,
        call: Option<(String, CallEventKind)>,
    ) {
        self.hooks.send(Change { waba_id: n.waba_id.clone(), field, value, call });
    }

    fn emit_connect(&self, state: &State, n: &BusinessNumber, call: &Call, sdp: &str) {
        let now = self.clock.now_secs();
        let mut c = json!({ "id": call.id, "event": "connect", "timestamp": ts(now), "direction": call.direction.as_str() });
        match call.direction {
            Direction::UserInitiated => {
                c["from"] = json!(call.user);
                c["to"] = json!(n.digits());
                if let Some(p) = &call.deeplink_payload {
                    c["deeplink_payload"] = json!(p);
                }
                if let Some(p) = &call.cta_payload {
                    c["cta_payload"] = json!(p);
                }
                c["session"] = json!({ "sdp_type": "offer", "sdp": sdp });
            }
            Direction::BusinessInitiated => {
                c["from"] = json!(n.digits());
                c["to"] = json!(call.user);
                if let Some(p) = &call.biz_opaque {
                    c["biz_opaque_callback_data"] = json!(p);
                }
                c["session"] = json!({ "sdp_type": "answer", "sdp": sdp });
                // The legacy duplicate: a JSON *string* wrapping {sdp, type}.
                let legacy = json!({ "sdp": sdp, "type": "answer" }).to_string();
                c["connection"] = json!({ "webrtc": { "sdp": legacy } });
            }
        }
        let value = json!({
            "messaging_product": "whatsapp",
            "metadata": Self::metadata(n),
            "contacts": [Self::contact(state, &call.user)],
            "calls": [c],
        });
        self.emit(n, "calls", value, Some((call.id.clone(), CallEventKind::Connect)));
    }

    fn emit_status(&self, n: &BusinessNumber, call: &Call, status: &str) {
        let mut s = json!({
            "id": call.id,
            "timestamp": ts(self.clock.now_secs()),
            "type": "call",
            "status": status,
            "recipient_id": call.user,
        });
        if let Some(p) = &call.biz_opaque {
            s["biz_opaque_callback_data"] = json!(p);
        }
        let value =
            json!({ "messaging_product": "whatsapp", "metadata": Self::metadata(n), "statuses": [s] });
        self.emit(n, "calls", value, Some((call.id.clone(), CallEventKind::Other)));
    }

    fn emit_terminate(&self, state: &State, n: &BusinessNumber, call: &Call, ending: &Ending) {
        let now_ms = self.clock.now_ms();
        let (from, to) = match call.direction {
            Direction::UserInitiated => (call.user.clone(), n.digits()),
            Direction::BusinessInitiated => (n.digits(), call.user.clone()),
        };
        let mut c = json!({
            "id": call.id,
            "from": from,
            "to": to,
            "event": "terminate",
            "timestamp": ts(now_ms.div_euclid(1000)),
            "direction": call.direction.as_str(),
        });
        if let Some(p) = &call.deeplink_payload {
            c["deeplink_payload"] = json!(p);
        }
        if let Some(p) = &call.cta_payload {
            c["cta_payload"] = json!(p);
        }
        if let Some(p) = &call.biz_opaque {
            c["biz_opaque_callback_data"] = json!(p);
        }
        if let Some(start) = call.accepted_ms {
            let start_s = start.div_euclid(1000);
            let end_s = now_ms.div_euclid(1000);
            c["start_time"] = ts(start_s);
            c["end_time"] = ts(end_s);
            c["duration"] = json!((now_ms - start).max(0) / 1000);
        }
        c["status"] = json!(ending.status);
        let mut value = json!({
            "messaging_product": "whatsapp",
            "metadata": Self::metadata(n),
            "contacts": [Self::contact(state, &call.user)],
        });
        if let Some((code, title, message)) = ending.error {
            let errors = json!([{ "code": code, "title": title, "message": message, "error_data": { "details": message } }]);
            c["errors"] = errors.clone();
            value["errors"] = errors;
        }
        value["calls"] = json!([c]);
        self.emit(n, "calls", value, Some((call.id.clone(), CallEventKind::Terminate)));
    }

    fn emit_permission_reply(
        &self,
        state: &State,
        n: &BusinessNumber,
        user: &str,
        reply: Value,
        context_id: Option<&str>,
    ) {
        let mut m = json!({
            "from": user,
            "id": crate::ids::wamid(),
            "timestamp": ts(self.clock.now_secs()),
            "type": "interactive",
            "interactive": { "type": "call_permission_reply", "call_permission_reply": reply },
        });
        if let Some(id) = context_id {
            m["context"] = json!({ "from": user, "id": id });
        }
        let value = json!({
            "messaging_product": "whatsapp",
            "metadata": Self::metadata(n),
            "contacts": [Self::contact(state, user)],
            "messages": [m],
        });
        self.emit(n, "messages", value, None);
    }

    fn emit_message_statuses(&self, n: &BusinessNumber, wamid: &str, user: &str) {
        for status in ["sent", "delivered"] {
            let value = json!({
                "messaging_product": "whatsapp",
                "metadata": Self::metadata(n),
                "statuses": [{
                    "id": wamid,
                    "status": status,
                    "timestamp": ts(self.clock.now_secs()),
                    "recipient_id": user,
                }],
            });
            self.emit(n, "messages", value, None);
        }
    }

    // ---------------------------------------------------------------- permissions

    fn permission_now(&self, pair: &Pair) -> Permission {
        match pair.permission {
            Some(Permission::Temporary { expires_secs }) if expires_secs <= self.clock.now_secs() => {
                Permission::None
            }
            Some(p) => p,
            None => Permission::None,
        }
    }

    fn window_count(times: &[i64], now_ms: i64, window_ms: i64) -> (u32, Option<i64>) {
        let inside: Vec<i64> = times.iter().copied().filter(|t| now_ms - t < window_ms).collect();
        (inside.len() as u32, inside.iter().min().map(|t| t + window_ms))
    }

    /// Check the permission-request quota and record a request (free-form or template).
    fn record_permission_request(
        &self,
        state: &mut State,
        pid: &str,
        user: &str,
        wamid: &str,
    ) -> GraphResult<()> {
        let now = self.clock.now_ms();
        let limits = self.cfg.limits;
        let pair = state.pairs.entry((pid.to_string(), user.to_string())).or_default();
        if self.permission_now(pair) == Permission::Permanent {
            return Err(GraphError::permanent_permission_exists());
        }
        let (day, _) = Self::window_count(&pair.request_times_ms, now, 86_400_000);
        let (week, _) = Self::window_count(&pair.request_times_ms, now, 7 * 86_400_000);
        if day >= limits.permission_requests_per_24h {
            return Err(GraphError::permission_request_limit(format!(
                "Limit of {} call permission request(s) per 24 hours reached for this user",
                limits.permission_requests_per_24h
            )));
        }
        if week >= limits.permission_requests_per_7d {
            return Err(GraphError::permission_request_limit(format!(
                "Limit of {} call permission requests per 7 days reached for this user",
                limits.permission_requests_per_7d
            )));
        }
        pair.request_times_ms.push(now);
        pair.pending_request = Some(wamid.to_string());
        Ok(())
    }

    pub(crate) fn call_permissions(&self, pid: &str, user: &str) -> GraphResult<Value> {
        let now = self.clock.now_ms();
        let limits = self.cfg.limits;
        let mut state = self.lock();
        let second = now.div_euclid(1000);
        let checks = state.permission_checks.entry(pid.to_string()).or_insert((second, 0));
        if checks.0 != second {
            *checks = (second, 0);
        }
        checks.1 += 1;
        if checks.1 > limits.call_permission_checks_per_second {
            return Err(GraphError::api_rate_limit());
        }
        let pair = state.pairs.entry((pid.to_string(), user.to_string())).or_default();
        let perm = self.permission_now(pair);
        let permission = match perm {
            Permission::None => json!({ "status": "no_permission" }),
            Permission::Temporary { expires_secs } => {
                json!({ "status": "temporary", "expiration_time": expires_secs })
            }
            Permission::Permanent => json!({ "status": "permanent" }),
        };
        let limit = |period: &str, max: u32, times: &[i64], window_ms: i64| {
            let (used, first_expiry) = Self::window_count(times, now, window_ms);
            let mut l = json!({ "time_period": period, "max_allowed": max, "current_usage": used });
            if used >= max
                && let Some(exp) = first_expiry
            {
                l["limit_expiration_time"] = json!(exp.div_euclid(1000));
            }
            (l, used < max)
        };
        let (l24, ok24) =
            limit("PT24H", limits.permission_requests_per_24h, &pair.request_times_ms, 86_400_000);
        let (l7, ok7) =
            limit("P7D", limits.permission_requests_per_7d, &pair.request_times_ms, 7 * 86_400_000);
        let (lcall, okcall) =
            limit("PT24H", limits.connected_calls_per_24h, &pair.connected_bic_ms, 86_400_000);
        Ok(json!({
            "messaging_product": "whatsapp",
            "permission": permission,
            "actions": [
                { "action_name": "send_call_permission_request",
                  "can_perform_action": ok24 && ok7 && perm != Permission::Permanent,
                  "limits": [l24, l7] },
                { "action_name": "start_call",
                  "can_perform_action": okcall && perm != Permission::None,
                  "limits": [lcall] },
            ],
        }))
    }

    /// The user answers the latest request (or acts from the business profile when none is pending).
    pub(crate) fn user_permission(
        &self,
        pid: Option<&str>,
        user: &str,
        grant: Grant,
    ) -> Result<Value, SandboxError> {
        let user = normalize_phone(user)
            .ok_or_else(|| SandboxError::new(400, "invalid_phone", "bad user number"))?;
        let mut state = self.lock();
        let n = match pid {
            Some(p) => state.numbers.iter().find(|n| n.number.phone_number_id == p),
            None => state.numbers.first(),
        }
        .map(|n| n.number.clone())
        .ok_or_else(|| SandboxError::new(404, "unknown_number", "no such business number"))?;
        let now_s = self.clock.now_secs();
        let temp_secs = self.cfg.limits.temporary_permission_secs;
        let pair = state.pairs.entry((n.phone_number_id.clone(), user.clone())).or_default();
        let context = pair.pending_request.take();
        if grant == Grant::Reject && context.is_none() {
            return Err(SandboxError::new(
                409,
                "no_pending_request",
                "there is no permission request to reject",
            ));
        }
        let reply = match grant {
            Grant::Temporary => {
                let exp = now_s + temp_secs;
                pair.permission = Some(Permission::Temporary { expires_secs: exp });
                json!({ "response": "accept", "is_permanent": false, "expiration_timestamp": ts(exp), "response_source": "user_action" })
            }
            Grant::Permanent => {
                pair.permission = Some(Permission::Permanent);
                json!({ "response": "accept", "is_permanent": true, "response_source": "user_action" })
            }
            Grant::Reject => {
                pair.permission = Some(Permission::None);
                json!({ "response": "reject", "response_source": "user_action" })
            }
        };
        pair.consecutive_unanswered = 0;
        self.emit_permission_reply(&state, &n, &user, reply.clone(), context.as_deref());
        Ok(
            json!({ "phone_number_id": n.phone_number_id, "user": user, "reply": reply, "context_id": context }),
        )
    }

    // ---------------------------------------------------------------- settings

    pub(crate) fn settings(&self, pid: &str) -> GraphResult<Value> {
        let state = self.lock();
        let n = state
            .numbers
            .iter()
            .find(|n| n.number.phone_number_id == pid)
            .ok_or_else(|| GraphError::unknown_object(pid))?;
        Ok(json!({ "calling": Value::Object(n.calling.clone()) }))
    }

    pub(crate) fn update_settings(&self, pid: &str, body: &Value) -> GraphResult<()> {
        let today = self.clock.now_ms();
        let calling = crate::settings::validate(body, today)?;
        let mut state = self.lock();
        let n = state
            .numbers
            .iter_mut()
            .find(|n| n.number.phone_number_id == pid)
            .ok_or_else(|| GraphError::unknown_object(pid))?;
        for (k, v) in calling {
            n.calling.insert(k, v);
        }
        // Meta notifies every settings change, including the business's own (reference §3.7).
        let number = n.number.clone();
        let value = json!({
            "messaging_product": "whatsapp",
            "timestamp": ts(self.clock.now_secs()),
            "type": "PHONE_NUMBER_SETTINGS",
            "phone_number_settings": { "phone_number_id": pid, "calling": Value::Object(n.calling.clone()) },
        });
        drop(state);
        self.emit(&number, "account_settings_update", value, None);
        Ok(())
    }

    fn setting<'a>(state: &'a State, pid: &str, key: &str) -> Option<&'a Value> {
        state.numbers.iter().find(|n| n.number.phone_number_id == pid).and_then(|n| n.calling.get(key))
    }

    fn setting_is(state: &State, pid: &str, key: &str, expected: &str) -> bool {
        Self::setting(state, pid, key).and_then(Value::as_str) == Some(expected)
    }

    fn sip_enabled(state: &State, pid: &str) -> bool {
        Self::setting(state, pid, "sip").and_then(|s| s.get("status")).and_then(Value::as_str)
            == Some("ENABLED")
    }

    // ---------------------------------------------------------------- calls

    /// `connect`: a business-initiated call.
    pub(crate) fn connect(
        &self,
        pid: &str,
        to: &str,
        sdp: &str,
        biz_opaque: Option<String>,
    ) -> GraphResult<Connected> {
        let n = self.number(pid)?;
        let mut state = self.lock();
        if Self::sip_enabled(&state, pid) {
            return Err(GraphError::sip_enabled());
        }
        if !Self::setting_is(&state, pid, "status", "ENABLED") {
            return Err(GraphError::calling_not_enabled());
        }
        let digits = n.digits();
        if let Some((_, c)) =
            BIC_BLOCKED.iter().filter(|(cc, _)| digits.starts_with(cc)).max_by_key(|(cc, _)| cc.len())
        {
            return Err(GraphError::bic_unavailable(c));
        }
        let user = normalize_phone(to).ok_or_else(|| {
            GraphError::invalid_parameter(format!("'to' is not a valid phone number: {to:?}"))
        })?;
        crate::sdp::validate(sdp, crate::sdp::SdpRole::Offer).map_err(GraphError::invalid_parameter)?;
        let now = self.clock.now_ms();
        let limits = self.cfg.limits;
        {
            let pair = state.pairs.entry((pid.to_string(), user.clone())).or_default();
            if self.permission_now(pair) == Permission::None {
                return Err(GraphError::no_permission());
            }
            let (used, first_expiry) = Self::window_count(&pair.connected_bic_ms, now, 86_400_000);
            if used >= limits.connected_calls_per_24h {
                let next = first_expiry.unwrap_or(now).div_euclid(1000);
                return Err(GraphError::connected_call_limit(limits.connected_calls_per_24h, next));
            }
        }
        if state.calls.values().any(|c| c.pid == pid && c.user == user && c.phase != Phase::Ended) {
            return Err(GraphError::duplicate_call());
        }
        if Self::active_calls(&state, pid) >= limits.concurrent_calls as usize {
            return Err(GraphError::concurrent_limit(limits.concurrent_calls));
        }
        let initiations = state.initiations.entry(pid.to_string()).or_default();
        initiations.retain(|t| now - t < 86_400_000);
        if initiations.len() >= limits.call_initiations_per_24h as usize {
            return Err(GraphError::call_rate_limit(limits.call_initiations_per_24h));
        }
        initiations.push(now);
        let (peer, answer) = Peer::answerer(self.peer_config(), sdp)
            .map_err(|e| GraphError::invalid_parameter(format!("SDP offer could not be applied: {e}")))?;
        let behaviour = state.users.get(&user).and_then(|u| u.behaviour).unwrap_or(state.default_behaviour);
        let action_at = now + (behaviour.after_seconds.max(0.0) * 1000.0) as i64;
        let id = crate::ids::wacid();
        let call = Call {
            id: id.clone(),
            pid: pid.to_string(),
            user: user.clone(),
            direction: Direction::BusinessInitiated,
            phase: Phase::Ringing,
            ring_deadline_ms: now + self.cfg.answer_window.as_millis() as i64,
            user_action: (behaviour.on_call != OnCall::Ignore).then_some((action_at, behaviour.on_call)),
            accepted_ms: None,
            ended_ms: None,
            pre_accept_sdp: None,
            biz_opaque,
            cta_payload: None,
            deeplink_payload: None,
            stats: peer.stats_handle(),
            peer: Some(Arc::new(peer)),
            last_rx: (0, now),
            early_media: false,
        };
        self.emit_connect(&state, &n, &call, &answer);
        self.emit_status(&n, &call, "RINGING");
        tracing::info!(call_id = %id, user = %user, "business-initiated call ringing");
        state.calls.insert(id.clone(), call);
        Ok(Connected { call_id: id })
    }

    fn active_calls(state: &State, pid: &str) -> usize {
        state.calls.values().filter(|c| c.pid == pid && c.phase != Phase::Ended).count()
    }

    /// Resolve a BSUID (`recipient`) to the user's digits among users the simulator knows.
    pub(crate) fn resolve_recipient(&self, recipient: &str) -> Option<String> {
        let state = self.lock();
        let known = state.users.keys().chain(state.pairs.keys().map(|(_, u)| u));
        known.into_iter().find(|u| bsuid(u, false) == recipient || bsuid(u, true) == recipient).cloned()
    }

    fn live_call<'a>(state: &'a mut State, pid: &str, call_id: &str) -> GraphResult<&'a mut Call> {
        let call = state
            .calls
            .get_mut(call_id)
            .filter(|c| c.pid == pid)
            .ok_or_else(|| GraphError::invalid_parameter(format!("Invalid call id: {call_id}")))?;
        if call.phase == Phase::Ended {
            return Err(GraphError::invalid_parameter(format!(
                "Call {call_id} has already ended; no further actions are allowed"
            )));
        }
        Ok(call)
    }

    /// `pre_accept` (UIC).
    pub(crate) async fn pre_accept(&self, pid: &str, call_id: &str, sdp: &str) -> GraphResult<()> {
        let peer = {
            let mut state = self.lock();
            if Self::sip_enabled(&state, pid) {
                return Err(GraphError::sip_enabled());
            }
            let call = Self::live_call(&mut state, pid, call_id)?;
            if call.direction != Direction::UserInitiated {
                return Err(GraphError::invalid_parameter(
                    "pre_accept is only valid for user-initiated calls",
                ));
            }
            match (&call.phase, &call.pre_accept_sdp) {
                (Phase::Accepted, _) => {
                    return Err(GraphError::invalid_parameter(
                        "Call is already in progress; cannot pre_accept",
                    ));
                }
                (Phase::PreAccepted, Some(prev)) if prev == sdp => return Ok(()),
                (Phase::PreAccepted, _) => {
                    return Err(GraphError::invalid_parameter(
                        "Call was already pre-accepted with a different SDP",
                    ));
                }
                _ => {}
            }
            crate::sdp::validate(sdp, crate::sdp::SdpRole::Answer).map_err(GraphError::invalid_parameter)?;
            call.peer.clone()
        };
        if let Some(peer) = peer {
            peer.accept_answer(sdp).await.map_err(|e| {
                GraphError::invalid_parameter(format!("SDP answer could not be applied: {e}"))
            })?;
        }
        let mut state = self.lock();
        let call = Self::live_call(&mut state, pid, call_id)?;
        call.pre_accept_sdp = Some(sdp.to_string());
        call.phase = Phase::PreAccepted;
        Ok(())
    }

    /// `accept` (UIC).
    pub(crate) async fn accept(
        &self,
        pid: &str,
        call_id: &str,
        sdp: &str,
        biz_opaque: Option<String>,
    ) -> GraphResult<()> {
        let peer_to_apply = {
            let mut state = self.lock();
            if Self::sip_enabled(&state, pid) {
                return Err(GraphError::sip_enabled());
            }
            let call = Self::live_call(&mut state, pid, call_id)?;
            if call.direction != Direction::UserInitiated {
                return Err(GraphError::invalid_parameter("accept is only valid for user-initiated calls"));
            }
            if call.phase == Phase::Accepted {
                return Err(GraphError::invalid_parameter(
                    "Call is already in progress; cannot accept again",
                ));
            }
            crate::sdp::validate(sdp, crate::sdp::SdpRole::Answer).map_err(GraphError::invalid_parameter)?;
            match &call.pre_accept_sdp {
                Some(prev) if prev != sdp => {
                    return Err(GraphError::invalid_parameter(
                        "SDP in accept does not match the SDP sent in pre_accept for this call",
                    ));
                }
                Some(_) => None,
                None => call.peer.clone(),
            }
        };
        if let Some(peer) = peer_to_apply {
            peer.accept_answer(sdp).await.map_err(|e| {
                GraphError::invalid_parameter(format!("SDP answer could not be applied: {e}"))
            })?;
        }
        let now = self.clock.now_ms();
        let mut state = self.lock();
        let call = Self::live_call(&mut state, pid, call_id)?;
        call.phase = Phase::Accepted;
        // Early media already started WhatsApp's call timer; keep that start.
        call.accepted_ms = Some(call.accepted_ms.unwrap_or(now));
        if biz_opaque.is_some() {
            call.biz_opaque = biz_opaque;
        }
        if let Some(p) = &call.peer {
            p.start_sending();
        }
        tracing::info!(call_id, "user-initiated call accepted");
        Ok(())
    }

    /// `reject` (UIC).
    pub(crate) fn reject(&self, pid: &str, call_id: &str) -> GraphResult<()> {
        let mut state = self.lock();
        if Self::sip_enabled(&state, pid) {
            return Err(GraphError::sip_enabled());
        }
        let call = Self::live_call(&mut state, pid, call_id)?;
        if call.direction != Direction::UserInitiated {
            return Err(GraphError::invalid_parameter("reject is only valid for user-initiated calls"));
        }
        if call.phase == Phase::Accepted {
            return Err(GraphError::invalid_parameter("Call is already in progress; use terminate"));
        }
        let status = match self.cfg.rejected_status {
            RejectedStatus::Failed => "FAILED",
            RejectedStatus::Completed => "COMPLETED",
        };
        self.end_call(&mut state, call_id, Ending::new(status));
        Ok(())
    }

    /// `terminate` (either direction).
    pub(crate) fn terminate(&self, pid: &str, call_id: &str) -> GraphResult<()> {
        let mut state = self.lock();
        if Self::sip_enabled(&state, pid) {
            return Err(GraphError::sip_enabled());
        }
        let call = Self::live_call(&mut state, pid, call_id)?;
        let status = if call.accepted_ms.is_some() { "COMPLETED" } else { "FAILED" };
        self.end_call(&mut state, call_id, Ending::new(status));
        Ok(())
    }

    /// End a call: stop media, emit terminate, apply Meta's after-call rules.
    fn end_call(&self, state: &mut State, call_id: &str, ending: Ending) {
        let now = self.clock.now_ms();
        let Some(call) = state.calls.get_mut(call_id) else { return };
        if call.phase == Phase::Ended {
            return;
        }
        call.phase = Phase::Ended;
        call.ended_ms = Some(now);
        if let Some(p) = call.peer.take() {
            p.stop();
        }
        let (pid, user, direction, picked_up) =
            (call.pid.clone(), call.user.clone(), call.direction, call.accepted_ms.is_some());
        let Some(n) =
            state.numbers.iter().find(|n| n.number.phone_number_id == pid).map(|n| n.number.clone())
        else {
            return;
        };
        if let Some(call) = state.calls.get(call_id) {
            self.emit_terminate(state, &n, call, &ending);
        }
        tracing::info!(call_id, status = ending.status, "call ended");
        let limits = self.cfg.limits;
        let callback_enabled = Self::setting_is(state, &pid, "callback_permission_status", "ENABLED");
        let accepted_ms = state.calls.get(call_id).and_then(|c| c.accepted_ms);
        let pair = state.pairs.entry((pid.clone(), user.clone())).or_default();
        if picked_up {
            // Any connected call resets the permission-request quota.
            pair.request_times_ms.clear();
        }
        let mut revoke = false;
        let mut callback_grant = None;
        match direction {
            Direction::BusinessInitiated if picked_up => {
                pair.consecutive_unanswered = 0;
                pair.connected_bic_ms.push(accepted_ms.unwrap_or(now));
            }
            Direction::BusinessInitiated => {
                // Calls the business cancelled itself do not count: only the user's silence or "no".
                if ending.unanswered {
                    pair.consecutive_unanswered += 1;
                    if pair.consecutive_unanswered >= limits.unanswered_calls_revoke
                        && self.permission_now(pair) != Permission::None
                    {
                        pair.permission = Some(Permission::None);
                        pair.consecutive_unanswered = 0;
                        revoke = true;
                    }
                }
            }
            Direction::UserInitiated => {
                if callback_enabled && self.permission_now(pair) != Permission::Permanent {
                    let exp = now.div_euclid(1000) + limits.temporary_permission_secs;
                    pair.permission = Some(Permission::Temporary { expires_secs: exp });
                    callback_grant = Some(exp);
                }
            }
        }
        if revoke {
            self.emit_permission_reply(
                state,
                &n,
                &user,
                json!({ "response": "reject", "response_source": "automatic" }),
                None,
            );
        }
        if let Some(exp) = callback_grant {
            let reply = json!({ "response": "accept", "is_permanent": false, "expiration_timestamp": ts(exp), "response_source": "automatic" });
            self.emit_permission_reply(state, &n, &user, reply, Some(call_id));
        }
    }

    /// Check every timer against the clock: answer windows, the simulated user's pickup or
    /// rejection, and the no-media kill.
    pub(crate) fn sweep(&self) {
        let now = self.clock.now_ms();
        let no_media_ms = self.cfg.no_media_timeout.as_millis() as i64;
        let silence_ms = self.cfg.silence_timeout.as_millis() as i64;
        let mut state = self.lock();
        // Forget calls that ended over an hour ago (a long-running sandbox must not grow forever).
        state.calls.retain(|_, c| c.ended_ms.is_none_or(|t| now - t < 3_600_000));
        let ids: Vec<String> =
            state.calls.iter().filter(|(_, c)| c.phase != Phase::Ended).map(|(k, _)| k.clone()).collect();
        for id in ids {
            let Some(call) = state.calls.get_mut(&id) else { continue };
            match (call.direction, call.phase) {
                (Direction::BusinessInitiated, Phase::Ringing) => {
                    if let Some((at, action)) = call.user_action
                        && at <= now
                        && at < call.ring_deadline_ms
                    {
                        call.user_action = None;
                        match action {
                            OnCall::Answer => {
                                call.phase = Phase::Accepted;
                                call.accepted_ms = Some(at);
                                if let Some(p) = &call.peer {
                                    p.start_sending();
                                }
                                let pid = call.pid.clone();
                                if let Some(n) =
                                    state.numbers.iter().find(|n| n.number.phone_number_id == pid)
                                {
                                    let n = n.number.clone();
                                    if let Some(call) = state.calls.get(&id) {
                                        self.emit_status(&n, call, "ACCEPTED");
                                    }
                                }
                            }
                            OnCall::Reject => {
                                let pid = call.pid.clone();
                                if let Some(n) =
                                    state.numbers.iter().find(|n| n.number.phone_number_id == pid)
                                {
                                    let n = n.number.clone();
                                    if let Some(call) = state.calls.get(&id) {
                                        self.emit_status(&n, call, "REJECTED");
                                    }
                                }
                                self.end_call(&mut state, &id, Ending::unanswered());
                            }
                            OnCall::Ignore => {}
                        }
                    } else if call.ring_deadline_ms <= now {
                        self.end_call(&mut state, &id, Ending::unanswered());
                    }
                }
                (Direction::UserInitiated, Phase::Ringing | Phase::PreAccepted)
                    if call.ring_deadline_ms <= now =>
                {
                    self.end_call(&mut state, &id, Ending::new("FAILED"));
                }
                (Direction::UserInitiated, Phase::PreAccepted)
                    if !call.early_media && call.stats.get().rx_packets > 0 =>
                {
                    // WhatsApp treats the first media packet as the answer and starts the timer.
                    tracing::warn!(call_id = %id, "business sent media before accept; the caller's timer has started");
                    call.early_media = true;
                    call.accepted_ms = Some(now);
                }
                (_, Phase::Accepted) => {
                    let rx = call.stats.get().rx_packets;
                    if rx != call.last_rx.0 {
                        call.last_rx = (rx, now);
                    }
                    let started = call.accepted_ms.unwrap_or(now);
                    let silent_since = call.last_rx.1.max(started);
                    if (rx == 0 && now - started >= no_media_ms)
                        || (rx > 0 && now - silent_since >= silence_ms)
                    {
                        self.end_call(
                            &mut state,
                            &id,
                            Ending {
                                status: "FAILED",
                                error: Some((
                                    138021,
                                    "Media receive timeout",
                                    "WhatsApp client terminated the call due to not receiving any media for a long time",
                                )),
                                unanswered: false,
                            },
                        );
                    }
                }
                _ => {}
            }
        }
    }

    // ---------------------------------------------------------------- scenario API

    fn find_number_for(state: &State, to: &str) -> Option<BusinessNumber> {
        let digits: String = to.chars().filter(char::is_ascii_digit).collect();
        state
            .numbers
            .iter()
            .find(|n| n.number.phone_number_id == to || (!digits.is_empty() && n.number.digits() == digits))
            .map(|n| n.number.clone())
    }

    /// A user calls a business number.
    pub(crate) fn place_inbound_call(&self, req: InboundCall) -> Result<String, SandboxError> {
        let user = normalize_phone(&req.from).ok_or_else(|| {
            SandboxError::new(400, "invalid_phone", format!("'from' is not an E.164 number: {:?}", req.from))
        })?;
        for (label, p) in [("cta_payload", &req.cta_payload), ("deeplink_payload", &req.deeplink_payload)] {
            if p.as_ref().is_some_and(|p| p.chars().count() > 512) {
                return Err(SandboxError::new(
                    400,
                    "payload_too_long",
                    format!("{label} is longer than 512 characters"),
                ));
            }
        }
        let mut state = self.lock();
        let n = Self::find_number_for(&state, &req.to).ok_or_else(|| {
            SandboxError::new(404, "unknown_number", format!("no simulated business number {:?}", req.to))
        })?;
        let pid = n.phone_number_id.clone();
        if Self::sip_enabled(&state, &pid) {
            return Err(SandboxError::new(
                409,
                "sip_enabled",
                "the number uses SIP; Graph calling webhooks are not sent",
            ));
        }
        if !Self::setting_is(&state, &pid, "status", "ENABLED") {
            return Err(SandboxError::new(
                409,
                "calling_disabled",
                "calling is not enabled on this business number",
            ));
        }
        if let Some(hours) = Self::setting(&state, &pid, "call_hours")
            && !crate::settings::is_open(hours, self.clock.now_ms())
        {
            return Err(SandboxError::new(
                409,
                "outside_call_hours",
                "the business is outside its call hours; WhatsApp offers chat or a callback instead (no webhook)",
            ));
        }
        if state.calls.values().any(|c| c.pid == pid && c.user == user && c.phase != Phase::Ended) {
            return Err(SandboxError::new(
                409,
                "duplicate_call",
                "this user already has a call with the business",
            ));
        }
        if Self::active_calls(&state, &pid) >= self.cfg.limits.concurrent_calls as usize {
            return Err(SandboxError::new(
                409,
                "concurrent_call_limit",
                "the business number is at its concurrent call limit; the caller sees \"call cannot be placed\" and no webhook is sent",
            ));
        }
        let entry =
            state.users.entry(user.clone()).or_insert_with(|| User { name: user.clone(), behaviour: None });
        if let Some(name) = req.name.filter(|s| !s.trim().is_empty()) {
            entry.name = name;
        }
        let (peer, offer) =
            Peer::offerer(self.peer_config()).map_err(|e| SandboxError::new(500, "media_error", e))?;
        let now = self.clock.now_ms();
        let id = crate::ids::wacid();
        let call = Call {
            id: id.clone(),
            pid,
            user: user.clone(),
            direction: Direction::UserInitiated,
            phase: Phase::Ringing,
            ring_deadline_ms: now + self.cfg.answer_window.as_millis() as i64,
            user_action: None,
            accepted_ms: None,
            ended_ms: None,
            pre_accept_sdp: None,
            biz_opaque: None,
            cta_payload: req.cta_payload,
            deeplink_payload: req.deeplink_payload,
            stats: peer.stats_handle(),
            peer: Some(Arc::new(peer)),
            last_rx: (0, now),
            early_media: false,
        };
        self.emit_connect(&state, &n, &call, &offer);
        tracing::info!(call_id = %id, user = %user, "user-initiated call ringing");
        state.calls.insert(id.clone(), call);
        Ok(id)
    }

    pub(crate) fn set_behaviour(&self, user: &str, b: Behaviour) -> Result<(), SandboxError> {
        let user = normalize_phone(user)
            .ok_or_else(|| SandboxError::new(400, "invalid_phone", "bad user number"))?;
        if !(0.0..=3600.0).contains(&b.after_seconds) {
            return Err(SandboxError::new(
                400,
                "invalid_behaviour",
                "after_seconds must be between 0 and 3600",
            ));
        }
        let mut state = self.lock();
        let entry =
            state.users.entry(user.clone()).or_insert_with(|| User { name: user.clone(), behaviour: None });
        entry.behaviour = Some(b);
        Ok(())
    }

    pub(crate) fn behaviour(&self, user: &str) -> Behaviour {
        let state = self.lock();
        normalize_phone(user)
            .and_then(|u| state.users.get(&u).and_then(|u| u.behaviour))
            .unwrap_or(state.default_behaviour)
    }

    pub(crate) fn set_default_behaviour(&self, b: Behaviour) -> Result<(), SandboxError> {
        if !(0.0..=3600.0).contains(&b.after_seconds) {
            return Err(SandboxError::new(
                400,
                "invalid_behaviour",
                "after_seconds must be between 0 and 3600",
            ));
        }
        self.lock().default_behaviour = b;
        Ok(())
    }

    pub(crate) fn default_behaviour(&self) -> Behaviour {
        self.lock().default_behaviour
    }

    /// The user hangs up.
    pub(crate) fn user_hangup(&self, call_id: &str) -> Result<(), SandboxError> {
        let mut state = self.lock();
        let call =
            state.calls.get(call_id).ok_or_else(|| SandboxError::new(404, "unknown_call", "no such call"))?;
        if call.phase == Phase::Ended {
            return Err(SandboxError::new(409, "call_ended", "the call has already ended"));
        }
        let status = if call.accepted_ms.is_some() { "COMPLETED" } else { "FAILED" };
        let is_bic_ringing = call.direction == Direction::BusinessInitiated && call.accepted_ms.is_none();
        if is_bic_ringing {
            // Declining a ringing business call is a rejection.
            let pid = call.pid.clone();
            if let Some(n) =
                state.numbers.iter().find(|n| n.number.phone_number_id == pid).map(|n| n.number.clone())
                && let Some(call) = state.calls.get(call_id)
            {
                self.emit_status(&n, call, "REJECTED");
            }
        }
        let ending = if is_bic_ringing { Ending::unanswered() } else { Ending::new(status) };
        self.end_call(&mut state, call_id, ending);
        Ok(())
    }

    pub(crate) fn media_stats(&self, call_id: &str) -> Option<MediaStats> {
        self.lock().calls.get(call_id).map(|c| c.stats.get())
    }

    pub(crate) fn calls(&self) -> Vec<CallInfo> {
        let state = self.lock();
        let mut v: Vec<(i64, CallInfo)> = state
            .calls
            .values()
            .map(|c| {
                (
                    c.ring_deadline_ms,
                    CallInfo {
                        call_id: c.id.clone(),
                        phone_number_id: c.pid.clone(),
                        user: c.user.clone(),
                        direction: c.direction,
                        phase: c.phase,
                        media: c.stats.get(),
                        early_media: c.early_media,
                    },
                )
            })
            .collect();
        v.sort_by_key(|(k, _)| std::cmp::Reverse(*k));
        v.into_iter().map(|(_, c)| c).collect()
    }

    pub(crate) fn call_info(&self, call_id: &str) -> Option<CallInfo> {
        self.calls().into_iter().find(|c| c.call_id == call_id)
    }

    // ---------------------------------------------------------------- messages and templates

    /// Validate and "send" a message; returns the wamid.
    pub(crate) fn send_message(&self, pid: &str, body: &Value) -> GraphResult<(String, String)> {
        let n = self.number(pid)?;
        let msg = crate::messages::validate_message(body)?;
        let mut state = self.lock();
        let wamid = crate::ids::wamid();
        let is_request = match &msg.template {
            Some((name, lang)) => {
                let t = state
                    .templates
                    .iter()
                    .find(|t| t.waba_id == n.waba_id && &t.name == name && &t.language == lang)
                    .ok_or_else(|| GraphError::template_missing(name, lang))?;
                crate::messages::check_template_send(t, body)?;
                crate::messages::template_has_permission_request(t)
            }
            None => msg.is_permission_request,
        };
        if is_request {
            self.record_permission_request(&mut state, pid, &msg.to, &wamid)?;
        }
        let auto_reply = is_request
            .then(|| {
                let behaviour = state.users.get(&msg.to).and_then(|u| u.behaviour);
                behaviour.unwrap_or(state.default_behaviour).on_permission_request
            })
            .flatten();
        drop(state);
        self.emit_message_statuses(&n, &wamid, &msg.to);
        if let Some(grant) = auto_reply
            && let Err(e) = self.user_permission(Some(pid), &msg.to, grant)
        {
            tracing::warn!(error = %e, "simulated user could not answer the permission request");
        }
        Ok((wamid, msg.to))
    }

    pub(crate) fn create_template(&self, waba: &str, body: &Value) -> GraphResult<Template> {
        if !self.waba_exists(waba) {
            return Err(GraphError::unknown_object(waba));
        }
        let mut t = crate::messages::validate_template(body)?;
        t.waba_id = waba.to_string();
        let mut state = self.lock();
        if state.templates.iter().any(|x| x.waba_id == waba && x.name == t.name && x.language == t.language) {
            let mut e = GraphError::invalid_parameter(format!(
                "Content in this language already exists: {} ({})",
                t.name, t.language
            ));
            e.subcode = Some(2_388_024);
            return Err(e);
        }
        state.templates.push(t.clone());
        Ok(t)
    }

    pub(crate) fn templates(&self, waba: &str) -> Vec<Template> {
        self.lock().templates.iter().filter(|t| t.waba_id == waba).cloned().collect()
    }

    /// `DELETE /{waba_id}/message_templates?name=…[&hsm_id=…]`: with `hsm_id`, that one template
    /// (one language); without, every language of the name. Meta answers code 100 when nothing
    /// matches, and when `hsm_id` names a template of another name. Returns how many went.
    pub(crate) fn delete_templates(
        &self,
        waba: &str,
        name: &str,
        hsm_id: Option<&str>,
    ) -> GraphResult<usize> {
        if !self.waba_exists(waba) {
            return Err(GraphError::unknown_object(waba));
        }
        let mut state = self.lock();
        if let Some(id) = hsm_id
            && let Some(other) =
                state.templates.iter().find(|t| t.waba_id == waba && t.id == id && t.name != name)
        {
            return Err(GraphError::invalid_parameter(format!(
                "hsm_id {id} is the template {:?}, not {name:?}",
                other.name
            )));
        }
        let before = state.templates.len();
        state
            .templates
            .retain(|t| !(t.waba_id == waba && t.name == name && hsm_id.is_none_or(|id| t.id == id)));
        let deleted = before - state.templates.len();
        if deleted == 0 {
            return Err(GraphError::template_not_found(name, hsm_id));
        }
        Ok(deleted)
    }

    /// Meta's review changes a template's status (`APPROVED`, `REJECTED`, `PAUSED`, …): the
    /// template takes it and a signed `message_template_status_update` webhook goes out to the
    /// WABA's subscriber, shaped as Meta sends it (the id a JSON number). Returns the change's
    /// `value`.
    pub(crate) fn set_template_status(
        &self,
        template_id: &str,
        status: &str,
        reason: Option<&str>,
    ) -> Result<Value, SandboxError> {
        let status = status.trim().to_ascii_uppercase();
        if status.is_empty() || !status.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            return Err(SandboxError::new(
                400,
                "invalid_status",
                format!("{status:?} is not a status like APPROVED"),
            ));
        }
        let mut state = self.lock();
        let t = state.templates.iter_mut().find(|t| t.id == template_id).ok_or_else(|| {
            SandboxError::new(404, "unknown_template", format!("no template {template_id}"))
        })?;
        t.status = status.clone();
        let id: Value = t.id.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::String(t.id.clone()));
        let value = json!({
            "event": status,
            "message_template_id": id,
            "message_template_name": t.name,
            "message_template_language": t.language,
            "reason": reason.unwrap_or("NONE"),
        });
        let waba_id = t.waba_id.clone();
        drop(state);
        self.hooks.send(Change {
            waba_id,
            field: "message_template_status_update",
            value: value.clone(),
            call: None,
        });
        Ok(value)
    }
}
