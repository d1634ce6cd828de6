//! The call permission ledger's rules: may we ask this user for permission, may we call them?
//!
//! Owns the pure side of Meta's per (business number, user) rules (reference §4.2): the
//! permission status (none, temporary for 7 days, permanent), the request quotas (1 per
//! 24 h and 2 per 7 days, reset by any connected call), the connected-call quota for
//! business-initiated calls (100 per 24 h), and the automatic revocation after 4 consecutive
//! unanswered business calls. Input is a history of [`PermissionRecord`]s with timestamps,
//! in any order, as storage keeps them; output is a [`PermissionView`] and, before calling
//! Meta, a [`Refusal`] with Meta's code and when the action will next be allowed.

use serde::{Deserialize, Serialize};

use crate::call_state::{CallState, Millis};
use crate::calls::Direction;
use crate::phone::PhoneNumber;
use crate::webhook::PermissionReply;
use crate::{Error, Result};

const HOUR: Millis = 60 * 60 * 1000;
const DAY: Millis = 24 * HOUR;

/// A temporary permission lasts 7 days from approval (§4.2).
pub const TEMPORARY_PERMISSION_LIFETIME: Millis = 7 * DAY;

/// Meta's limits for one business number and user. Production and sandbox differ (§4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct PermissionLimits {
    /// Permission requests per rolling 24 hours.
    pub requests_per_day: usize,
    /// Permission requests per rolling 7 days.
    pub requests_per_week: usize,
    /// Connected business-initiated calls per rolling 24 hours (error 138012).
    pub connected_calls_per_day: usize,
    /// Consecutive unanswered business calls after which WhatsApp nudges the user.
    pub unanswered_calls_before_nudge: usize,
    /// Consecutive unanswered business calls after which the permission is revoked.
    pub unanswered_calls_before_revoke: usize,
}

impl PermissionLimits {
    /// Production numbers. The connected-call limit is 100 since Dec 19, 2025 (Meta's
    /// changelog); some Meta pages still say 5.
    pub const PRODUCTION: PermissionLimits = PermissionLimits {
        requests_per_day: 1,
        requests_per_week: 2,
        connected_calls_per_day: 100,
        unanswered_calls_before_nudge: 2,
        unanswered_calls_before_revoke: 4,
    };

    /// Sandbox accounts and public test numbers: 25 requests a day, 100 a week, nudge at 5
    /// and revoke at 10 unanswered calls. Meta names no sandbox connected-call limit, so the
    /// production one applies.
    pub const SANDBOX: PermissionLimits = PermissionLimits {
        requests_per_day: 25,
        requests_per_week: 100,
        connected_calls_per_day: 100,
        unanswered_calls_before_nudge: 5,
        unanswered_calls_before_revoke: 10,
    };
}

impl Default for PermissionLimits {
    fn default() -> Self {
        PermissionLimits::PRODUCTION
    }
}

/// Whether we may call the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PermissionStatus {
    NoPermission,
    Temporary { expires_at: Millis },
    Permanent,
}

impl PermissionStatus {
    /// Meta's spelling (`GET call_permissions` → `permission.status`).
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionStatus::NoPermission => "no_permission",
            PermissionStatus::Temporary { .. } => "temporary",
            PermissionStatus::Permanent => "permanent",
        }
    }

    /// Reads `permission.status` and `permission.expiration_time` (unix seconds) of
    /// `GET call_permissions`, for a [`PermissionEvent::Synced`]. Unknown statuses read as
    /// `no_permission`, the safe side; a temporary status without expiry gets the full 7 days
    /// from `fetched_at`.
    pub fn from_meta(status: &str, expiration_time_seconds: Option<i64>, fetched_at: Millis) -> Self {
        match status.trim().to_ascii_lowercase().as_str() {
            "permanent" => PermissionStatus::Permanent,
            "temporary" => PermissionStatus::Temporary {
                expires_at: expiration_time_seconds
                    .map(|seconds| seconds.saturating_mul(1000))
                    .unwrap_or(fetched_at + TEMPORARY_PERMISSION_LIFETIME),
            },
            _ => PermissionStatus::NoPermission,
        }
    }

    /// Whether a call may be placed on this status.
    pub fn allows_calls(self) -> bool {
        !matches!(self, PermissionStatus::NoPermission)
    }
}

/// One fact of the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PermissionEvent {
    /// We sent a call permission request (free-form or template) and Meta accepted it.
    RequestSent,
    /// The user (or Meta, for callback permission) granted permission. A temporary grant
    /// without an expiry lasts [`TEMPORARY_PERMISSION_LIFETIME`] from `at`.
    Granted { permanent: bool, expires_at: Option<Millis> },
    /// The user declined or revoked, or Meta revoked automatically.
    Revoked { automatic: bool },
    /// What `GET call_permissions` said; authoritative as of its time.
    Synced { status: PermissionStatus },
    /// A call between the business and the user connected (picked up), either direction.
    CallConnected { direction: Direction },
    /// A business-initiated call ended without being answered, or was rejected.
    BusinessCallUnanswered,
}

impl PermissionEvent {
    /// The ledger fact a `call_permission_reply` webhook brings.
    pub fn from_reply(reply: &PermissionReply) -> Self {
        if reply.granted {
            PermissionEvent::Granted { permanent: reply.is_permanent, expires_at: reply.expires_at }
        } else {
            PermissionEvent::Revoked { automatic: reply.automatic }
        }
    }

    /// The ledger fact a finished call brings: any picked-up call counts as connected (it
    /// resets the request limits; outbound ones count toward the daily call limit), an
    /// outbound call nobody picked up extends the unanswered streak. `None` while the call
    /// is still going, and for unanswered inbound calls, which Meta's rules ignore.
    pub fn from_finished_call(call: &CallState) -> Option<Self> {
        if !call.phase().is_terminal() {
            return None;
        }
        let direction = call.direction()?;
        if call.was_answered() {
            Some(PermissionEvent::CallConnected { direction })
        } else if direction == Direction::BusinessInitiated {
            Some(PermissionEvent::BusinessCallUnanswered)
        } else {
            None
        }
    }
}

/// A fact and when it happened (unix ms).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct PermissionRecord {
    pub at: Millis,
    pub event: PermissionEvent,
}

impl PermissionRecord {
    /// A fact at `at` (unix ms).
    pub fn new(at: Millis, event: PermissionEvent) -> Self {
        PermissionRecord { at, event }
    }
}

/// Meta's error code for a refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// 138006: no approved call permission.
    NoPermission,
    /// 138009: permission request limit (1 per 24 h / 2 per 7 days).
    RequestLimit,
    /// 138012: connected business calls limit (100 per 24 h).
    ConnectedCallLimit,
    /// 138013: business-initiated calling is unavailable for the business number's country.
    CountryUnavailable,
    /// 138017: a permanent permission already exists; no request needed.
    AlreadyPermanent,
}

impl RefusalReason {
    /// Meta's numeric error code.
    pub fn meta_code(self) -> i64 {
        match self {
            RefusalReason::NoPermission => 138006,
            RefusalReason::RequestLimit => 138009,
            RefusalReason::ConnectedCallLimit => 138012,
            RefusalReason::CountryUnavailable => 138013,
            RefusalReason::AlreadyPermanent => 138017,
        }
    }

    /// Our stable error code (`error.code` in the API).
    pub fn code(self) -> &'static str {
        match self {
            RefusalReason::NoPermission => "permission_required",
            RefusalReason::RequestLimit => "permission_request_limit",
            RefusalReason::ConnectedCallLimit => "call_limit_reached",
            RefusalReason::CountryUnavailable => "calling_unavailable_in_country",
            RefusalReason::AlreadyPermanent => "permission_already_granted",
        }
    }
}

/// Why Meta would refuse, and when trying again makes sense.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Refusal {
    pub reason: RefusalReason,
    /// When the action becomes possible by waiting alone (unix ms); `None` when waiting does
    /// not help (the user must grant permission, or the country is unavailable).
    pub retry_at: Option<Millis>,
}

impl Refusal {
    /// Meta's code, for `details.meta_code`.
    pub fn meta_code(&self) -> i64 {
        self.reason.meta_code()
    }

    /// A user-facing message.
    pub fn message(&self) -> String {
        let base = match self.reason {
            RefusalReason::NoPermission => "This contact has not allowed calls from this number",
            RefusalReason::RequestLimit => "The call permission request limit for this contact is reached",
            RefusalReason::ConnectedCallLimit => "The daily call limit for this contact is reached",
            RefusalReason::CountryUnavailable => {
                "WhatsApp does not allow business-initiated calls from this number's country"
            }
            RefusalReason::AlreadyPermanent => "This contact already allows calls permanently",
        };
        match self.retry_at {
            Some(retry_at) => {
                // Our own formatting: chrono's formatter would weigh on the browser bundle.
                let when = crate::dates::utc_minute(retry_at);
                format!("{base} (Meta error {}); try again after {when}.", self.meta_code())
            }
            None => format!("{base} (Meta error {}).", self.meta_code()),
        }
    }

    /// The domain error the API returns.
    pub fn into_error(self) -> Error {
        Error::Conflict { code: self.reason.code(), message: self.message() }
    }
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        refusal.into_error()
    }
}

/// Where a (business number, user) pair stands at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct PermissionView {
    /// The status in force now (an expired temporary grant reads as `NoPermission`).
    pub status: PermissionStatus,
    /// Requests counting toward the 24-hour and 7-day limits (since the last connected call).
    pub requests_last_day: usize,
    pub requests_last_week: usize,
    /// Connected business-initiated calls in the last 24 hours.
    pub connected_calls_last_day: usize,
    /// Unanswered business calls since the last answered one or the last grant.
    pub consecutive_unanswered_calls: usize,
    /// WhatsApp has asked the user to reconsider (2 consecutive unanswered calls).
    pub user_nudged: bool,
    /// The permission was revoked by the unanswered-calls rule (Meta's webhook may lag).
    pub revoked_for_unanswered_calls: bool,
}

/// Where a (business number, user) pair stands at one instant, with what Meta would say to a
/// call or a permission request (as the ledger reports it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct PermissionLookup {
    /// The user's number, E.164.
    pub contact_number: String,
    pub view: PermissionView,
    /// `None` when a call would go through; else Meta's code and when it would next be allowed.
    pub call_refusal: Option<Refusal>,
    pub request_refusal: Option<Refusal>,
}

/// Evaluates the history at `now`. Records after `now` are ignored; records with the same
/// time apply in the order given.
pub fn evaluate(history: &[PermissionRecord], now: Millis, limits: &PermissionLimits) -> PermissionView {
    let records = chronological(history, now);
    let mut status = PermissionStatus::NoPermission;
    let mut last_connected: Option<Millis> = None;
    let mut consecutive_unanswered = 0usize;
    let mut revoked_for_unanswered = false;
    for record in &records {
        // A temporary grant that ran out before this fact is gone: no webhook says so (§3.6).
        if let PermissionStatus::Temporary { expires_at } = status
            && expires_at <= record.at
        {
            status = PermissionStatus::NoPermission;
        }
        match &record.event {
            PermissionEvent::Granted { permanent: true, .. } => {
                status = PermissionStatus::Permanent;
                consecutive_unanswered = 0;
                revoked_for_unanswered = false;
            }
            PermissionEvent::Granted { permanent: false, expires_at } => {
                let expires_at = expires_at.unwrap_or(record.at + TEMPORARY_PERMISSION_LIFETIME);
                status = PermissionStatus::Temporary { expires_at };
                consecutive_unanswered = 0;
                revoked_for_unanswered = false;
            }
            PermissionEvent::Revoked { .. } => status = PermissionStatus::NoPermission,
            PermissionEvent::Synced { status: synced } => {
                status = *synced;
                if synced.allows_calls() {
                    revoked_for_unanswered = false;
                }
            }
            PermissionEvent::CallConnected { direction } => {
                last_connected = Some(record.at);
                if *direction == Direction::BusinessInitiated {
                    consecutive_unanswered = 0;
                }
            }
            PermissionEvent::BusinessCallUnanswered => {
                consecutive_unanswered += 1;
                if consecutive_unanswered >= limits.unanswered_calls_before_revoke && status.allows_calls() {
                    status = PermissionStatus::NoPermission;
                    revoked_for_unanswered = true;
                }
            }
            PermissionEvent::RequestSent => {}
        }
    }
    if let PermissionStatus::Temporary { expires_at } = status
        && expires_at <= now
    {
        status = PermissionStatus::NoPermission;
    }
    let counted_requests = request_times(&records, last_connected);
    let connected_calls = connected_business_call_times(&records);
    PermissionView {
        status,
        requests_last_day: count_in_window(&counted_requests, now, DAY),
        requests_last_week: count_in_window(&counted_requests, now, 7 * DAY),
        connected_calls_last_day: count_in_window(&connected_calls, now, DAY),
        consecutive_unanswered_calls: consecutive_unanswered,
        user_nudged: consecutive_unanswered >= limits.unanswered_calls_before_nudge,
        revoked_for_unanswered_calls: revoked_for_unanswered,
    }
}

/// Whether Meta would refuse a permission request now (138017 or 138009), and until when.
pub fn check_permission_request(
    history: &[PermissionRecord],
    now: Millis,
    limits: &PermissionLimits,
) -> std::result::Result<(), Refusal> {
    let view = evaluate(history, now, limits);
    if view.status == PermissionStatus::Permanent {
        return Err(Refusal { reason: RefusalReason::AlreadyPermanent, retry_at: None });
    }
    let records = chronological(history, now);
    let last_connected = records
        .iter()
        .filter(|record| matches!(record.event, PermissionEvent::CallConnected { .. }))
        .map(|record| record.at)
        .next_back();
    let requests = request_times(&records, last_connected);
    let retry_at = [
        next_free_slot(&requests, now, DAY, limits.requests_per_day),
        next_free_slot(&requests, now, 7 * DAY, limits.requests_per_week),
    ]
    .into_iter()
    .flatten()
    .max();
    match retry_at {
        Some(retry_at) => Err(Refusal { reason: RefusalReason::RequestLimit, retry_at: Some(retry_at) }),
        None => Ok(()),
    }
}

/// Whether Meta would refuse a business-initiated call now (138006 or 138012), and until when.
pub fn check_business_call(
    history: &[PermissionRecord],
    now: Millis,
    limits: &PermissionLimits,
) -> std::result::Result<(), Refusal> {
    let view = evaluate(history, now, limits);
    if !view.status.allows_calls() {
        return Err(Refusal { reason: RefusalReason::NoPermission, retry_at: None });
    }
    let records = chronological(history, now);
    let connected = connected_business_call_times(&records);
    match next_free_slot(&connected, now, DAY, limits.connected_calls_per_day) {
        Some(retry_at) => {
            Err(Refusal { reason: RefusalReason::ConnectedCallLimit, retry_at: Some(retry_at) })
        }
        None => Ok(()),
    }
}

/// Whether Meta refuses business-initiated calls from this business number at all (138013).
pub fn check_business_number(business_number: &PhoneNumber) -> std::result::Result<(), Refusal> {
    if business_number.is_business_initiated_calling_restricted() {
        Err(Refusal { reason: RefusalReason::CountryUnavailable, retry_at: None })
    } else {
        Ok(())
    }
}

/// [`check_business_number`] then [`check_business_call`], as one domain result.
pub fn ensure_business_call_allowed(
    business_number: &PhoneNumber,
    history: &[PermissionRecord],
    now: Millis,
    limits: &PermissionLimits,
) -> Result<()> {
    check_business_number(business_number)?;
    check_business_call(history, now, limits)?;
    Ok(())
}

/// Records up to `now`, oldest first; equal times keep their given order.
fn chronological(history: &[PermissionRecord], now: Millis) -> Vec<&PermissionRecord> {
    let mut records: Vec<&PermissionRecord> = history.iter().filter(|record| record.at <= now).collect();
    records.sort_by_key(|record| record.at);
    records
}

/// Request times that still count: a connected call resets the request limits (§4.2).
fn request_times(records: &[&PermissionRecord], last_connected: Option<Millis>) -> Vec<Millis> {
    records
        .iter()
        .filter(|record| record.event == PermissionEvent::RequestSent)
        .filter(|record| last_connected.is_none_or(|connected| record.at > connected))
        .map(|record| record.at)
        .collect()
}

fn connected_business_call_times(records: &[&PermissionRecord]) -> Vec<Millis> {
    records
        .iter()
        .filter(|record| {
            record.event == PermissionEvent::CallConnected { direction: Direction::BusinessInitiated }
        })
        .map(|record| record.at)
        .collect()
}

/// How many of the (ascending) `times` fall in the rolling window `(now - window, now]`.
fn count_in_window(times: &[Millis], now: Millis, window: Millis) -> usize {
    times.iter().filter(|at| **at > now - window && **at <= now).count()
}

/// `None` if one more action fits in the rolling window now; otherwise the first instant it
/// will: when enough of the oldest actions in the window have aged out.
fn next_free_slot(times: &[Millis], now: Millis, window: Millis, limit: usize) -> Option<Millis> {
    let in_window: Vec<Millis> =
        times.iter().copied().filter(|at| *at > now - window && *at <= now).collect();
    if in_window.len() < limit {
        return None;
    }
    // With `n` actions in the window, the `n - limit + 1` oldest must leave it.
    let must_leave = in_window.len() - limit;
    Some(in_window[must_leave] + window)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: Millis = 1_795_320_000_000;
    const LIMITS: PermissionLimits = PermissionLimits::PRODUCTION;

    fn record(at: Millis, event: PermissionEvent) -> PermissionRecord {
        PermissionRecord::new(at, event)
    }

    fn temporary(at: Millis) -> PermissionRecord {
        record(at, PermissionEvent::Granted { permanent: false, expires_at: None })
    }

    fn permanent(at: Millis) -> PermissionRecord {
        record(at, PermissionEvent::Granted { permanent: true, expires_at: None })
    }

    fn request(at: Millis) -> PermissionRecord {
        record(at, PermissionEvent::RequestSent)
    }

    fn connected(at: Millis, direction: Direction) -> PermissionRecord {
        record(at, PermissionEvent::CallConnected { direction })
    }

    fn unanswered(at: Millis) -> PermissionRecord {
        record(at, PermissionEvent::BusinessCallUnanswered)
    }

    #[test]
    fn no_history_means_no_permission() {
        let view = evaluate(&[], T0, &LIMITS);
        assert_eq!(view.status, PermissionStatus::NoPermission);
        let refusal = check_business_call(&[], T0, &LIMITS).unwrap_err();
        assert_eq!(
            (refusal.reason, refusal.meta_code(), refusal.retry_at),
            (RefusalReason::NoPermission, 138006, None)
        );
        assert_eq!(refusal.into_error().code(), "permission_required");
        let limited = Refusal { reason: RefusalReason::RequestLimit, retry_at: Some(T0) };
        assert_eq!(
            limited.message(),
            "The call permission request limit for this contact is reached (Meta error 138009); try again after 2026-11-22 04:00 UTC."
        );
    }

    #[test]
    fn temporary_permission_lasts_seven_days() {
        let history = [temporary(T0)];
        assert_eq!(
            evaluate(&history, T0 + 1, &LIMITS).status,
            PermissionStatus::Temporary { expires_at: T0 + 7 * DAY }
        );
        assert!(check_business_call(&history, T0 + 7 * DAY - 1, &LIMITS).is_ok());
        assert_eq!(evaluate(&history, T0 + 7 * DAY, &LIMITS).status, PermissionStatus::NoPermission);
        assert!(check_business_call(&history, T0 + 7 * DAY, &LIMITS).is_err());
    }

    #[test]
    fn explicit_expiry_from_the_webhook_wins() {
        let history = [record(T0, PermissionEvent::Granted { permanent: false, expires_at: Some(T0 + DAY) })];
        assert!(check_business_call(&history, T0 + DAY - 1, &LIMITS).is_ok());
        assert!(check_business_call(&history, T0 + DAY, &LIMITS).is_err());
    }

    #[test]
    fn permanent_permission_never_expires_and_blocks_requests() {
        let history = [permanent(T0)];
        assert!(check_business_call(&history, T0 + 400 * DAY, &LIMITS).is_ok());
        let refusal = check_permission_request(&history, T0 + DAY, &LIMITS).unwrap_err();
        assert_eq!(refusal.meta_code(), 138017);
    }

    #[test]
    fn revocation_and_sync() {
        let history = [permanent(T0), record(T0 + 10, PermissionEvent::Revoked { automatic: false })];
        assert_eq!(evaluate(&history, T0 + 20, &LIMITS).status, PermissionStatus::NoPermission);
        let synced = [
            record(T0, PermissionEvent::Revoked { automatic: false }),
            record(
                T0 + 5,
                PermissionEvent::Synced { status: PermissionStatus::Temporary { expires_at: T0 + DAY } },
            ),
        ];
        assert_eq!(
            evaluate(&synced, T0 + 6, &LIMITS).status,
            PermissionStatus::Temporary { expires_at: T0 + DAY }
        );
    }

    #[test]
    fn one_request_per_day() {
        let history = [request(T0)];
        assert!(check_permission_request(&[], T0, &LIMITS).is_ok());
        let refusal = check_permission_request(&history, T0 + HOUR, &LIMITS).unwrap_err();
        assert_eq!((refusal.meta_code(), refusal.retry_at), (138009, Some(T0 + DAY)));
        assert!(check_permission_request(&history, T0 + DAY, &LIMITS).is_ok());
    }

    #[test]
    fn two_requests_per_week() {
        let history = [request(T0), request(T0 + 2 * DAY)];
        let refusal = check_permission_request(&history, T0 + 3 * DAY, &LIMITS).unwrap_err();
        assert_eq!(refusal.retry_at, Some(T0 + 7 * DAY), "the oldest request must leave the week");
        assert!(check_permission_request(&history, T0 + 7 * DAY, &LIMITS).is_ok());
        let view = evaluate(&history, T0 + 3 * DAY, &LIMITS);
        assert_eq!((view.requests_last_day, view.requests_last_week), (0, 2));
    }

    #[test]
    fn a_connected_call_resets_request_limits() {
        let history = [request(T0), request(T0 + 2 * DAY), connected(T0 + 3 * DAY, Direction::UserInitiated)];
        assert!(check_permission_request(&history, T0 + 3 * DAY + 1, &LIMITS).is_ok());
        let history = [request(T0), connected(T0 + HOUR, Direction::BusinessInitiated)];
        assert!(check_permission_request(&history, T0 + 2 * HOUR, &LIMITS).is_ok());
    }

    #[test]
    fn hundred_connected_business_calls_per_day() {
        let mut history = vec![permanent(T0)];
        history.extend(
            (0..100).map(|index| connected(T0 + 1_000 + index * 60_000, Direction::BusinessInitiated)),
        );
        // User-initiated calls do not count toward this limit.
        history.push(connected(T0 + 2_000, Direction::UserInitiated));
        let now = T0 + 10 * HOUR;
        assert_eq!(evaluate(&history, now, &LIMITS).connected_calls_last_day, 100);
        let refusal = check_business_call(&history, now, &LIMITS).unwrap_err();
        assert_eq!((refusal.meta_code(), refusal.retry_at), (138012, Some(T0 + 1_000 + DAY)));
        assert!(check_business_call(&history, T0 + 1_000 + DAY, &LIMITS).is_ok());
        assert!(
            check_business_call(&history[..100], now, &LIMITS).is_ok(),
            "99 calls leave room for one more"
        );
    }

    #[test]
    fn four_unanswered_business_calls_revoke() {
        let mut history = vec![temporary(T0)];
        history.extend((1..=3).map(|index| unanswered(T0 + index * HOUR)));
        let view = evaluate(&history, T0 + 4 * HOUR, &LIMITS);
        assert!(view.user_nudged && !view.revoked_for_unanswered_calls);
        assert!(check_business_call(&history, T0 + 4 * HOUR, &LIMITS).is_ok());
        history.push(unanswered(T0 + 4 * HOUR));
        let view = evaluate(&history, T0 + 5 * HOUR, &LIMITS);
        assert!(view.revoked_for_unanswered_calls);
        assert_eq!(view.status, PermissionStatus::NoPermission);
        assert_eq!(check_business_call(&history, T0 + 5 * HOUR, &LIMITS).unwrap_err().meta_code(), 138006);
        // A new grant starts over.
        history.push(temporary(T0 + 6 * HOUR));
        let view = evaluate(&history, T0 + 7 * HOUR, &LIMITS);
        assert_eq!((view.consecutive_unanswered_calls, view.user_nudged), (0, false));
        assert!(check_business_call(&history, T0 + 7 * HOUR, &LIMITS).is_ok());
    }

    #[test]
    fn an_answered_business_call_resets_the_unanswered_streak() {
        let history = [
            permanent(T0),
            unanswered(T0 + 1),
            unanswered(T0 + 2),
            unanswered(T0 + 3),
            connected(T0 + 4, Direction::BusinessInitiated),
            unanswered(T0 + 5),
        ];
        let view = evaluate(&history, T0 + 6, &LIMITS);
        assert_eq!(view.consecutive_unanswered_calls, 1);
        assert!(view.status.allows_calls());
    }

    #[test]
    fn sandbox_limits_are_relaxed() {
        let history: Vec<PermissionRecord> = (0..24).map(|index| request(T0 + index)).collect();
        assert!(check_permission_request(&history, T0 + 100, &PermissionLimits::SANDBOX).is_ok());
        assert!(check_permission_request(&history, T0 + 100, &LIMITS).is_err());
    }

    #[test]
    fn restricted_business_countries_are_refused() {
        let us = PhoneNumber::parse("+1 415 555 2671").unwrap();
        assert_eq!(check_business_number(&us).unwrap_err().meta_code(), 138013);
        let india = PhoneNumber::parse("+91 98765 43210").unwrap();
        assert!(check_business_number(&india).is_ok());
        let history = [permanent(T0)];
        assert!(ensure_business_call_allowed(&india, &history, T0 + 1, &LIMITS).is_ok());
        let error = ensure_business_call_allowed(&us, &history, T0 + 1, &LIMITS).unwrap_err();
        assert_eq!(error.code(), "calling_unavailable_in_country");
    }

    #[test]
    fn webhook_replies_and_finished_calls_become_ledger_events() {
        use crate::call_state::{CallInput, TerminateOutcome, Termination};
        let reply = PermissionReply {
            from: Some("14085551234".into()),
            message_id: Some("wamid.1".into()),
            context_id: None,
            granted: true,
            is_permanent: false,
            expires_at: Some(T0 + DAY),
            automatic: false,
            contact: None,
        };
        assert_eq!(
            PermissionEvent::from_reply(&reply),
            PermissionEvent::Granted { permanent: false, expires_at: Some(T0 + DAY) }
        );
        let revoke = PermissionReply { granted: false, automatic: true, expires_at: None, ..reply };
        assert_eq!(PermissionEvent::from_reply(&revoke), PermissionEvent::Revoked { automatic: true });

        let ended = |answered: bool| Termination {
            outcome: TerminateOutcome::Completed,
            started_at: None,
            ended_at: None,
            duration_seconds: answered.then_some(30),
            error_codes: vec![],
        };
        let outbound = |answered: bool| {
            let mut call = CallState::new();
            call.apply(T0, &CallInput::ConnectSent);
            call.apply(T0 + 1, &CallInput::TerminateReceived { termination: ended(answered) });
            call
        };
        assert_eq!(
            PermissionEvent::from_finished_call(&outbound(true)),
            Some(PermissionEvent::CallConnected { direction: Direction::BusinessInitiated })
        );
        assert_eq!(
            PermissionEvent::from_finished_call(&outbound(false)),
            Some(PermissionEvent::BusinessCallUnanswered)
        );
        let mut inbound = CallState::new();
        inbound.apply(T0, &CallInput::ConnectReceived { direction: Some(Direction::UserInitiated) });
        assert_eq!(PermissionEvent::from_finished_call(&inbound), None, "still ringing");
        inbound.apply(T0 + 1, &CallInput::TerminateReceived { termination: ended(false) });
        assert_eq!(PermissionEvent::from_finished_call(&inbound), None, "missed inbound calls do not count");
    }

    #[test]
    fn status_from_get_call_permissions() {
        assert_eq!(
            PermissionStatus::from_meta("temporary", Some(1_745_343_479), T0),
            PermissionStatus::Temporary { expires_at: 1_745_343_479_000 }
        );
        assert_eq!(
            PermissionStatus::from_meta("temporary", None, T0),
            PermissionStatus::Temporary { expires_at: T0 + 7 * DAY }
        );
        assert_eq!(PermissionStatus::from_meta("PERMANENT", None, T0), PermissionStatus::Permanent);
        assert_eq!(PermissionStatus::from_meta("no_permission", None, T0), PermissionStatus::NoPermission);
        assert_eq!(PermissionStatus::from_meta("something_new", None, T0), PermissionStatus::NoPermission);
        assert_eq!(PermissionStatus::Permanent.as_str(), "permanent");
    }

    #[test]
    fn future_records_are_ignored() {
        let history = [permanent(T0 + DAY)];
        assert!(check_business_call(&history, T0, &LIMITS).is_err());
    }

    fn arbitrary_event() -> impl Strategy<Value = PermissionEvent> {
        prop_oneof![
            Just(PermissionEvent::RequestSent),
            any::<bool>().prop_map(|permanent| PermissionEvent::Granted { permanent, expires_at: None }),
            any::<bool>().prop_map(|automatic| PermissionEvent::Revoked { automatic }),
            Just(PermissionEvent::CallConnected { direction: Direction::BusinessInitiated }),
            Just(PermissionEvent::CallConnected { direction: Direction::UserInitiated }),
            Just(PermissionEvent::BusinessCallUnanswered),
        ]
    }

    fn arbitrary_history() -> impl Strategy<Value = Vec<PermissionRecord>> {
        // Distinct times: with ties the given order decides, which a shuffle would change.
        proptest::collection::btree_map(0i64..(30 * DAY), arbitrary_event(), 0..40)
            .prop_map(|events| events.into_iter().map(|(offset, event)| record(T0 + offset, event)).collect())
    }

    proptest! {
        #[test]
        fn order_of_the_stored_history_does_not_matter(history in arbitrary_history(), now_offset in 0i64..(40 * DAY), seed in any::<u64>()) {
            let now = T0 + now_offset;
            let mut shuffled = history.clone();
            let mut random = seed | 1;
            for index in (1..shuffled.len()).rev() {
                random ^= random << 13;
                random ^= random >> 7;
                random ^= random << 17;
                shuffled.swap(index, (random % (index as u64 + 1)) as usize);
            }
            prop_assert_eq!(evaluate(&history, now, &LIMITS), evaluate(&shuffled, now, &LIMITS));
            prop_assert_eq!(check_business_call(&history, now, &LIMITS), check_business_call(&shuffled, now, &LIMITS));
            prop_assert_eq!(check_permission_request(&history, now, &LIMITS), check_permission_request(&shuffled, now, &LIMITS));
        }

        #[test]
        fn a_refusal_with_retry_at_is_lifted_by_then(history in arbitrary_history(), now_offset in 0i64..(40 * DAY)) {
            let now = T0 + now_offset;
            // Waiting adds no events: only those up to `now` exist.
            let past: Vec<PermissionRecord> = history.into_iter().filter(|record| record.at <= now).collect();
            if let Err(Refusal { reason: RefusalReason::RequestLimit, retry_at: Some(retry_at) }) = check_permission_request(&past, now, &LIMITS) {
                prop_assert!(retry_at > now);
                prop_assert!(check_permission_request(&past, retry_at, &LIMITS).is_ok() || evaluate(&past, retry_at, &LIMITS).status == PermissionStatus::Permanent);
                prop_assert!(check_permission_request(&past, retry_at - 1, &LIMITS).is_err());
            }
            if let Err(Refusal { reason: RefusalReason::ConnectedCallLimit, retry_at: Some(retry_at) }) = check_business_call(&past, now, &LIMITS) {
                prop_assert!(retry_at > now);
            }
        }

        #[test]
        fn quotas_are_never_exceeded_by_following_the_checks(steps in proptest::collection::vec((0i64..(3 * DAY), any::<bool>()), 1..60)) {
            // A client that only acts when the checks allow never exceeds a limit in any window.
            let forever = PermissionStatus::Temporary { expires_at: Millis::MAX };
            let mut history = vec![record(T0 - 1, PermissionEvent::Synced { status: forever })];
            let mut now = T0;
            for (wait, call) in steps {
                now += wait;
                if call {
                    if check_business_call(&history, now, &LIMITS).is_ok() {
                        history.push(connected(now, Direction::BusinessInitiated));
                    }
                } else if check_permission_request(&history, now, &LIMITS).is_ok() {
                    history.push(request(now));
                }
                let view = evaluate(&history, now, &LIMITS);
                prop_assert!(view.requests_last_day <= LIMITS.requests_per_day);
                prop_assert!(view.requests_last_week <= LIMITS.requests_per_week);
                prop_assert!(view.connected_calls_last_day <= LIMITS.connected_calls_per_day);
            }
        }
    }
}
