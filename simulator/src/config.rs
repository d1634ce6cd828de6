//! Configuration of a simulator: the business numbers it hosts, credentials, timers, Meta's
//! quotas and the default behaviour of simulated users.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::webhook::Faults;

/// Default Graph API version served (any version from v17.0 up is accepted).
pub const DEFAULT_GRAPH_VERSION: &str = "v23.0";
/// Default bearer token the simulated Graph API accepts.
pub const DEFAULT_ACCESS_TOKEN: &str = "sandbox-access-token";
/// Default app secret that signs webhooks.
pub const DEFAULT_APP_SECRET: &str = "sandbox-app-secret";

/// A business phone number hosted by the simulator.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BusinessNumber {
    /// Graph id of the number (path segment of `/{phone_number_id}/calls`).
    pub phone_number_id: String,
    /// Display form, e.g. `+44 7700 900001`. Webhook `metadata.display_phone_number` carries its digits.
    pub display_phone_number: String,
    /// The WhatsApp Business Account that owns it (`entry[].id`, `/{waba_id}/message_templates`).
    pub waba_id: String,
    /// Verified business name.
    pub verified_name: String,
    /// Start with `calling.status = ENABLED` (true) or Meta's real default `NOT_SET` (false).
    #[serde(default)]
    pub calling_enabled: bool,
}

impl BusinessNumber {
    /// The default sandbox number. It is a UK number (+44 7700 900001, from Ofcom's drama range)
    /// on purpose: Meta forbids business-initiated calls from US/CA/EG/VN/NG numbers (138013), so a
    /// +1 default would make outbound calls impossible. Calling starts ENABLED so the sandbox works
    /// out of the box.
    pub fn sandbox_default() -> Self {
        Self {
            phone_number_id: "100000000000001".into(),
            display_phone_number: "+44 7700 900001".into(),
            waba_id: "200000000000001".into(),
            verified_name: "Switchboard Sandbox".into(),
            calling_enabled: true,
        }
    }

    /// The number's digits, as Meta writes numbers in webhooks.
    pub fn digits(&self) -> String {
        self.display_phone_number.chars().filter(char::is_ascii_digit).collect()
    }
}

/// Meta's quotas (production values by default; reference §4.2).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Limits {
    /// Connected business-initiated calls per business/user pair per 24 h (138012).
    pub connected_calls_per_24h: u32,
    /// Call permission requests per pair per 24 h (138009).
    pub permission_requests_per_24h: u32,
    /// Call permission requests per pair per 7 days (138009).
    pub permission_requests_per_7d: u32,
    /// Consecutive unanswered/rejected business calls that revoke permission.
    pub unanswered_calls_revoke: u32,
    /// Lifetime of a temporary permission, in seconds (7 days).
    pub temporary_permission_secs: i64,
    /// Simultaneous calls per business number (138002; an inbound call over it gets no webhook).
    pub concurrent_calls: u32,
    /// Business-initiated call initiations per business number per 24 h (138005).
    pub call_initiations_per_24h: u32,
    /// `GET call_permissions` requests per business number per second (613).
    pub call_permission_checks_per_second: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connected_calls_per_24h: 100,
            permission_requests_per_24h: 1,
            permission_requests_per_7d: 2,
            unanswered_calls_revoke: 4,
            temporary_permission_secs: 7 * 86_400,
            concurrent_calls: 1000,
            call_initiations_per_24h: 10_000,
            call_permission_checks_per_second: 100,
        }
    }
}

impl Limits {
    /// The relaxed limits Meta applies to sandbox accounts and public test numbers:
    /// 25 permission requests a day and 100 a week, revocation after 10 unanswered calls.
    pub fn meta_sandbox() -> Self {
        Self {
            permission_requests_per_24h: 25,
            permission_requests_per_7d: 100,
            unanswered_calls_revoke: 10,
            ..Self::default()
        }
    }
}

/// What a simulated user does when the business calls.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnCall {
    /// Pick up.
    Answer,
    /// Decline (REJECTED status, then terminate).
    Reject,
    /// Let it ring until the answer window closes.
    Ignore,
}

/// A simulated user's behaviour for business-initiated calls and permission requests.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Behaviour {
    /// Answer, reject or ignore.
    pub on_call: OnCall,
    /// Seconds of ringing before answering or rejecting.
    #[serde(default)]
    pub after_seconds: f64,
    /// How the user answers a call permission request as soon as it is delivered; `None`
    /// (the default) leaves it pending until `POST /sandbox/users/{phone}/permission`.
    #[serde(default)]
    pub on_permission_request: Option<crate::engine::Grant>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self { on_call: OnCall::Answer, after_seconds: 2.0, on_permission_request: None }
    }
}

/// Terminate `status` for a user-initiated call the business rejected (Meta does not document it).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum RejectedStatus {
    /// `FAILED` (default).
    #[default]
    Failed,
    /// `COMPLETED`.
    Completed,
}

/// Everything a [`crate::Simulator`] needs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Graph version used in URLs the simulator prints (requests may use any v17.0+).
    pub graph_version: String,
    /// Bearer token accepted by the Graph API.
    pub access_token: String,
    /// App secret for `X-Hub-Signature-256`.
    pub app_secret: String,
    /// Where webhooks go; `None` records them without sending (set later with `set_webhook_url`).
    pub webhook_url: Option<String>,
    /// The user's WebRTC peer is ICE-lite like Meta (true) or full ICE (faster to connect).
    pub ice_lite: bool,
    /// How long a call may ring before Meta gives up (UIC without accept, BIC unanswered).
    pub answer_window: Duration,
    /// No media from the business this long after pickup ends the call (FAILED, 138021).
    pub no_media_timeout: Duration,
    /// Media that stops for this long once it has flowed ends the call (FAILED, 138021).
    pub silence_timeout: Duration,
    /// System or virtual clock.
    pub clock: Clock,
    /// Business numbers hosted.
    pub numbers: Vec<BusinessNumber>,
    /// Meta's quotas.
    pub limits: Limits,
    /// Behaviour of users with no explicit behaviour.
    pub default_behaviour: Behaviour,
    /// Terminate status of a rejected UIC.
    pub rejected_status: RejectedStatus,
    /// Webhook fault switches at start.
    pub faults: Faults,
    /// Webhook attempts per delivery.
    pub webhook_max_attempts: u32,
    /// Pause before the first retry (doubles).
    pub webhook_retry_backoff: Duration,
    /// Timeout of one webhook attempt.
    pub webhook_timeout: Duration,
    /// How often the simulator checks its timers in real time.
    pub tick_interval: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            graph_version: DEFAULT_GRAPH_VERSION.into(),
            access_token: DEFAULT_ACCESS_TOKEN.into(),
            app_secret: DEFAULT_APP_SECRET.into(),
            webhook_url: None,
            ice_lite: true,
            answer_window: Duration::from_secs(45),
            no_media_timeout: Duration::from_secs(20),
            silence_timeout: Duration::from_secs(30),
            clock: Clock::system(),
            numbers: vec![BusinessNumber::sandbox_default()],
            limits: Limits::default(),
            default_behaviour: Behaviour::default(),
            rejected_status: RejectedStatus::default(),
            faults: Faults::default(),
            webhook_max_attempts: 5,
            webhook_retry_backoff: Duration::from_millis(500),
            webhook_timeout: Duration::from_secs(20),
            tick_interval: Duration::from_millis(100),
        }
    }
}
