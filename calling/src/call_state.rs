//! The call state machine: where one WhatsApp call stands, in pure code.
//!
//! Owns [`CallState`], the [`CallInput`]s that move it (Meta's webhooks *and* our own actions),
//! the [`TimelineEntry`] each applied input adds to a call's history, and the mapping to the
//! dashboard's [`CallStatus`].
//!
//! Meta delivers webhooks at least once and in any order: a terminate may come before its
//! connect, a connect retry after the terminate (reference §3.9). So the state is not "the
//! last thing that happened" but the *set of facts seen so far*, one slot per kind of input,
//! and the phase is a pure function of that set ([`CallState::phase`], whose decision table is
//! written out below). Applying a fact twice changes nothing, and any order of the same facts
//! yields the same phase: a terminate that arrives first is a tombstone that a late connect
//! cannot reopen.
//!
//! Phase decision table (first matching row wins; "answered" means we sent `accept`, Meta
//! sent status ACCEPTED, or the terminate carries a start time or duration; "rejected" means
//! we sent `reject` or Meta sent status REJECTED):
//!
//! | terminate webhook | answered | rejected | other facts                  | phase         |
//! |-------------------|----------|----------|------------------------------|---------------|
//! | COMPLETED         | yes      | –        | –                            | `Completed`   |
//! | FAILED            | yes      | –        | –                            | `Failed`      |
//! | any               | no       | yes      | –                            | `Rejected`    |
//! | FAILED            | no       | no       | error codes present          | `Failed`      |
//! | any               | no       | no       | –                            | `Missed`      |
//! | none              | yes      | –        | we sent `terminate`          | `Completed`   |
//! | none              | yes      | –        | –                            | `Accepted`    |
//! | none              | no       | yes      | –                            | `Rejected`    |
//! | none              | no       | no       | we sent `terminate`, or the answer window expired | `Missed` |
//! | none              | no       | no       | we sent `pre_accept`         | `PreAccepted` |
//! | none              | no       | no       | connect webhook or RINGING   | `Ringing`     |
//! | none              | no       | no       | we sent `connect`            | `Dialing`     |
//! | none              | no       | no       | nothing                      | `New`         |
//!
//! Meta's terminate is authoritative: it overrides a local guess (an expired answer window
//! says `Missed`, but a terminate with a duration says the call was answered).

use serde::{Deserialize, Serialize};

use crate::calls::{CallStatus, Direction};
use crate::{Error, Result};

/// Unix milliseconds, as every stored timestamp.
pub type Millis = i64;

/// How long a user-initiated call rings before Meta gives up: "about 30 to 60 seconds"
/// (reference §7.2). We use the upper bound so our own expiry never ends a call that Meta
/// still lets an agent answer; the terminate webhook normally arrives first.
pub const ANSWER_WINDOW: Millis = 60_000;

/// How long a business-initiated call may ring. Meta does not document it (§7.2, §12.5); we
/// assume the same window as for inbound calls.
pub const OUTBOUND_RING_WINDOW: Millis = 60_000;

/// Where a call stands, finer than the dashboard's [`CallStatus`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallPhase {
    /// Known by id only (e.g. a status webhook for a call we have no other fact about).
    New,
    /// We asked Meta to place a business-initiated call; the user's phone is not ringing yet.
    Dialing,
    /// The user's phone (outbound) or our agents (inbound) are ringing.
    Ringing,
    /// We sent `pre_accept`: media paths are being set up, the caller still hears ringing.
    PreAccepted,
    /// The call was picked up and is in progress.
    Accepted,
    /// The call was answered and ended.
    Completed,
    /// Nobody picked up: the answer window passed or the caller gave up.
    Missed,
    /// The callee (user or agent) declined.
    Rejected,
    /// Meta ended the call with an error (see [`Termination::error_codes`]).
    Failed,
}

impl CallPhase {
    /// Whether the call is over; no input brings it back.
    pub fn is_terminal(self) -> bool {
        matches!(self, CallPhase::Completed | CallPhase::Missed | CallPhase::Rejected | CallPhase::Failed)
    }

    /// The status the dashboard shows.
    pub fn status(self) -> CallStatus {
        match self {
            CallPhase::New | CallPhase::Dialing | CallPhase::Ringing | CallPhase::PreAccepted => {
                CallStatus::Ringing
            }
            CallPhase::Accepted => CallStatus::Answered,
            CallPhase::Completed => CallStatus::Completed,
            CallPhase::Missed => CallStatus::Missed,
            CallPhase::Rejected => CallStatus::Rejected,
            CallPhase::Failed => CallStatus::Failed,
        }
    }

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CallPhase::New => "new",
            CallPhase::Dialing => "dialing",
            CallPhase::Ringing => "ringing",
            CallPhase::PreAccepted => "pre_accepted",
            CallPhase::Accepted => "accepted",
            CallPhase::Completed => "completed",
            CallPhase::Missed => "missed",
            CallPhase::Rejected => "rejected",
            CallPhase::Failed => "failed",
        }
    }
}

/// How Meta's terminate webhook says the call ended (`status`, any casing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TerminateOutcome {
    Completed,
    Failed,
}

/// What the terminate webhook tells about the end of a call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Termination {
    pub outcome: TerminateOutcome,
    /// When the call was picked up (`start_time`); only present if it was.
    pub started_at: Option<Millis>,
    /// When the call ended (`end_time`); only present if it was picked up.
    pub ended_at: Option<Millis>,
    /// Meta's billed duration in seconds; only present if the call was picked up. Never derive
    /// it from start and end: Meta's own samples disagree with themselves (§9.3).
    pub duration_seconds: Option<i64>,
    /// Meta's error codes (138021, 131044, …), sorted and without repeats.
    pub error_codes: Vec<i64>,
}

impl Termination {
    /// Whether the terminate itself proves the call was picked up.
    fn proves_answer(&self) -> bool {
        self.started_at.is_some() || self.duration_seconds.is_some_and(|seconds| seconds > 0)
    }
}

/// A status webhook of a business-initiated call (`statuses[]` with `type: "call"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteCallStatus {
    Ringing,
    Accepted,
    Rejected,
}

/// Something that happened to a call: a webhook from Meta or an action of ours that Meta
/// acknowledged with a 200.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum CallInput {
    /// The `connect` webhook (offer for inbound calls, answer for outbound ones).
    ConnectReceived { direction: Option<Direction> },
    /// A `statuses[]` webhook with `type: "call"`.
    StatusReceived { status: RemoteCallStatus },
    /// The `terminate` webhook.
    TerminateReceived { termination: Termination },
    /// We placed a business-initiated call (`connect` returned a call id).
    ConnectSent,
    /// We sent `pre_accept`.
    PreAcceptSent,
    /// We sent `accept`.
    AcceptSent,
    /// We sent `reject`.
    RejectSent,
    /// We sent `terminate`.
    TerminateSent,
    /// Nobody answered within the answer window and no terminate webhook came.
    AnswerWindowExpired,
}

/// The kind of an input: one slot of facts per kind, and the unit of deduplication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallEventKind {
    ConnectReceived,
    StatusRinging,
    StatusAccepted,
    StatusRejected,
    TerminateReceived,
    ConnectSent,
    PreAcceptSent,
    AcceptSent,
    RejectSent,
    TerminateSent,
    AnswerWindowExpired,
}

impl CallEventKind {
    /// Every kind, in a fixed order.
    pub const ALL: [CallEventKind; 11] = [
        CallEventKind::ConnectReceived,
        CallEventKind::StatusRinging,
        CallEventKind::StatusAccepted,
        CallEventKind::StatusRejected,
        CallEventKind::TerminateReceived,
        CallEventKind::ConnectSent,
        CallEventKind::PreAcceptSent,
        CallEventKind::AcceptSent,
        CallEventKind::RejectSent,
        CallEventKind::TerminateSent,
        CallEventKind::AnswerWindowExpired,
    ];

    /// The stored spelling (`call_events.kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            CallEventKind::ConnectReceived => "connect_received",
            CallEventKind::StatusRinging => "status_ringing",
            CallEventKind::StatusAccepted => "status_accepted",
            CallEventKind::StatusRejected => "status_rejected",
            CallEventKind::TerminateReceived => "terminate_received",
            CallEventKind::ConnectSent => "connect_sent",
            CallEventKind::PreAcceptSent => "pre_accept_sent",
            CallEventKind::AcceptSent => "accept_sent",
            CallEventKind::RejectSent => "reject_sent",
            CallEventKind::TerminateSent => "terminate_sent",
            CallEventKind::AnswerWindowExpired => "answer_window_expired",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(raw: &str) -> Option<Self> {
        CallEventKind::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }
}

impl CallInput {
    /// The slot this input fills.
    pub fn kind(&self) -> CallEventKind {
        match self {
            CallInput::ConnectReceived { .. } => CallEventKind::ConnectReceived,
            CallInput::StatusReceived { status: RemoteCallStatus::Ringing } => CallEventKind::StatusRinging,
            CallInput::StatusReceived { status: RemoteCallStatus::Accepted } => CallEventKind::StatusAccepted,
            CallInput::StatusReceived { status: RemoteCallStatus::Rejected } => CallEventKind::StatusRejected,
            CallInput::TerminateReceived { .. } => CallEventKind::TerminateReceived,
            CallInput::ConnectSent => CallEventKind::ConnectSent,
            CallInput::PreAcceptSent => CallEventKind::PreAcceptSent,
            CallInput::AcceptSent => CallEventKind::AcceptSent,
            CallInput::RejectSent => CallEventKind::RejectSent,
            CallInput::TerminateSent => CallEventKind::TerminateSent,
            CallInput::AnswerWindowExpired => CallEventKind::AnswerWindowExpired,
        }
    }
}

/// One line of a call's history, to append to `call_events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub kind: CallEventKind,
    /// When it happened (the webhook's timestamp, or when we acted).
    pub at: Millis,
    /// The phase after applying it.
    pub phase: CallPhase,
    /// The dashboard status after applying it.
    pub status: CallStatus,
    /// Whether this input moved the dashboard status (worth telling the browsers).
    pub status_changed: bool,
    /// The input arrived after the call had already ended (a late connect after its
    /// terminate, a retried status): recorded for the history, but it changed nothing.
    pub after_end: bool,
}

/// What applying an input did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// A new fact: append this entry to the timeline.
    Appended(TimelineEntry),
    /// The same kind of input was already applied; nothing to do.
    Duplicate,
}

/// A call's own actions, checked against its phase before asking Meta.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallAction {
    PreAccept,
    Accept,
    Reject,
    Terminate,
}

/// Every fact known about one call. Serialisable so storage may keep it as JSON, or rebuild
/// it by replaying `call_events` in any order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallState {
    /// The direction the connect webhook named (facts, not a running guess, so that the
    /// derived direction does not depend on arrival order).
    connect_direction: Option<Direction>,
    connect_received_at: Option<Millis>,
    status_ringing_at: Option<Millis>,
    status_accepted_at: Option<Millis>,
    status_rejected_at: Option<Millis>,
    terminated: Option<(Millis, Termination)>,
    connect_sent_at: Option<Millis>,
    pre_accept_sent_at: Option<Millis>,
    accept_sent_at: Option<Millis>,
    reject_sent_at: Option<Millis>,
    terminate_sent_at: Option<Millis>,
    answer_window_expired_at: Option<Millis>,
}

impl CallState {
    /// A call with no facts yet.
    pub fn new() -> Self {
        CallState::default()
    }

    /// Rebuilds a state from stored inputs, in whatever order they come.
    pub fn replay<'a>(inputs: impl IntoIterator<Item = (Millis, &'a CallInput)>) -> Self {
        let mut state = CallState::new();
        for (at, input) in inputs {
            state.apply(at, input);
        }
        state
    }

    /// Applies one input that happened at `at`. Idempotent: a second input of the same kind
    /// is a [`Applied::Duplicate`] and changes nothing (Meta sends one connect, one terminate
    /// and one of each status per call; repeats are retries).
    pub fn apply(&mut self, at: Millis, input: &CallInput) -> Applied {
        let kind = input.kind();
        if self.seen(kind) {
            return Applied::Duplicate;
        }
        let phase_before = self.phase();
        match input {
            CallInput::ConnectReceived { direction } => {
                self.connect_received_at = Some(at);
                self.connect_direction = *direction;
            }
            CallInput::StatusReceived { status } => {
                let slot = match status {
                    RemoteCallStatus::Ringing => &mut self.status_ringing_at,
                    RemoteCallStatus::Accepted => &mut self.status_accepted_at,
                    RemoteCallStatus::Rejected => &mut self.status_rejected_at,
                };
                *slot = Some(at);
            }
            CallInput::TerminateReceived { termination } => {
                let mut termination = termination.clone();
                termination.error_codes.sort_unstable();
                termination.error_codes.dedup();
                self.terminated = Some((at, termination));
            }
            CallInput::ConnectSent => {
                self.connect_sent_at = Some(at);
            }
            CallInput::PreAcceptSent => self.pre_accept_sent_at = Some(at),
            CallInput::AcceptSent => self.accept_sent_at = Some(at),
            CallInput::RejectSent => self.reject_sent_at = Some(at),
            CallInput::TerminateSent => self.terminate_sent_at = Some(at),
            CallInput::AnswerWindowExpired => self.answer_window_expired_at = Some(at),
        }
        let phase = self.phase();
        let status = phase.status();
        Applied::Appended(TimelineEntry {
            kind,
            at,
            phase,
            status,
            status_changed: status != phase_before.status(),
            after_end: phase_before.is_terminal() && phase == phase_before,
        })
    }

    /// Whether an input of `kind` was already applied.
    pub fn seen(&self, kind: CallEventKind) -> bool {
        match kind {
            CallEventKind::ConnectReceived => self.connect_received_at.is_some(),
            CallEventKind::StatusRinging => self.status_ringing_at.is_some(),
            CallEventKind::StatusAccepted => self.status_accepted_at.is_some(),
            CallEventKind::StatusRejected => self.status_rejected_at.is_some(),
            CallEventKind::TerminateReceived => self.terminated.is_some(),
            CallEventKind::ConnectSent => self.connect_sent_at.is_some(),
            CallEventKind::PreAcceptSent => self.pre_accept_sent_at.is_some(),
            CallEventKind::AcceptSent => self.accept_sent_at.is_some(),
            CallEventKind::RejectSent => self.reject_sent_at.is_some(),
            CallEventKind::TerminateSent => self.terminate_sent_at.is_some(),
            CallEventKind::AnswerWindowExpired => self.answer_window_expired_at.is_some(),
        }
    }

    /// Whether the call was picked up (by us or by the user), whatever happened next.
    pub fn was_answered(&self) -> bool {
        self.answered()
    }

    fn answered(&self) -> bool {
        self.accept_sent_at.is_some()
            || self.status_accepted_at.is_some()
            || self.terminated.as_ref().is_some_and(|(_, termination)| termination.proves_answer())
    }

    fn rejected(&self) -> bool {
        self.reject_sent_at.is_some() || self.status_rejected_at.is_some()
    }

    /// The phase implied by the facts; the decision table in the module docs, row by row.
    pub fn phase(&self) -> CallPhase {
        let answered = self.answered();
        let rejected = self.rejected();
        if let Some((_, termination)) = &self.terminated {
            return match (termination.outcome, answered, rejected) {
                (TerminateOutcome::Completed, true, _) => CallPhase::Completed,
                (TerminateOutcome::Failed, true, _) => CallPhase::Failed,
                (_, false, true) => CallPhase::Rejected,
                (TerminateOutcome::Failed, false, false) if !termination.error_codes.is_empty() => {
                    CallPhase::Failed
                }
                (_, false, false) => CallPhase::Missed,
            };
        }
        if answered {
            return if self.terminate_sent_at.is_some() { CallPhase::Completed } else { CallPhase::Accepted };
        }
        if rejected {
            CallPhase::Rejected
        } else if self.terminate_sent_at.is_some() || self.answer_window_expired_at.is_some() {
            CallPhase::Missed
        } else if self.pre_accept_sent_at.is_some() {
            CallPhase::PreAccepted
        } else if self.connect_received_at.is_some() || self.status_ringing_at.is_some() {
            CallPhase::Ringing
        } else if self.connect_sent_at.is_some() {
            CallPhase::Dialing
        } else {
            CallPhase::New
        }
    }

    /// The dashboard status.
    pub fn status(&self) -> CallStatus {
        self.phase().status()
    }

    /// Who started the call, once any fact says so.
    /// Derived from the facts with a fixed priority: our own `connect` (we placed the call),
    /// then the connect webhook's `direction`, then call status webhooks (only
    /// business-initiated calls get those, §3.4).
    pub fn direction(&self) -> Option<Direction> {
        if self.connect_sent_at.is_some() {
            return Some(Direction::BusinessInitiated);
        }
        if let Some(direction) = self.connect_direction {
            return Some(direction);
        }
        let has_status = self.status_ringing_at.is_some()
            || self.status_accepted_at.is_some()
            || self.status_rejected_at.is_some();
        has_status.then_some(Direction::BusinessInitiated)
    }

    /// When the call first appeared: the earliest of our connect and Meta's connect.
    pub fn started_at(&self) -> Option<Millis> {
        [self.connect_sent_at, self.connect_received_at].into_iter().flatten().min()
    }

    /// When it was picked up: Meta's `start_time` if known, else the first sign of an answer.
    pub fn answered_at(&self) -> Option<Millis> {
        if let Some(started) = self.terminated.as_ref().and_then(|(_, termination)| termination.started_at) {
            return Some(started);
        }
        [self.accept_sent_at, self.status_accepted_at].into_iter().flatten().min()
    }

    /// When it ended: Meta's `end_time`, else the terminate webhook's time, else our own end.
    pub fn ended_at(&self) -> Option<Millis> {
        if let Some((at, termination)) = &self.terminated {
            return Some(termination.ended_at.unwrap_or(*at));
        }
        if !self.phase().is_terminal() {
            return None;
        }
        [self.reject_sent_at, self.terminate_sent_at, self.answer_window_expired_at, self.status_rejected_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Meta's duration in seconds, once the terminate webhook brought it.
    pub fn duration_seconds(&self) -> Option<i64> {
        self.terminated.as_ref().and_then(|(_, termination)| termination.duration_seconds)
    }

    /// The terminate webhook's facts, once it came.
    pub fn termination(&self) -> Option<&Termination> {
        self.terminated.as_ref().map(|(_, termination)| termination)
    }

    /// Whether agents should see this call ringing at `now`: an inbound call that nobody has
    /// answered or declined, whose answer window is still open. A connect that arrives after
    /// its window (a stale retry, §3.9) must not ring.
    pub fn is_ringing_for_agents(&self, now: Millis) -> bool {
        let Some(connect_at) = self.connect_received_at else {
            return false;
        };
        self.direction() != Some(Direction::BusinessInitiated)
            && matches!(self.phase(), CallPhase::Ringing | CallPhase::PreAccepted)
            && now.saturating_sub(connect_at) < ANSWER_WINDOW
    }

    /// When our answer-window timer should fire for this call, if one applies.
    pub fn answer_deadline(&self) -> Option<Millis> {
        if self.phase().is_terminal() || self.answered() {
            return None;
        }
        match self.direction() {
            Some(Direction::BusinessInitiated) => {
                self.started_at().map(|started| started.saturating_add(OUTBOUND_RING_WINDOW))
            }
            _ => self.connect_received_at.map(|connect| connect.saturating_add(ANSWER_WINDOW)),
        }
    }

    /// Checks that `action` makes sense now, before asking Meta; Meta would refuse it anyway
    /// ("Accept/Reject an already In Progress/Completed/Failed call", §2.2), but a clear
    /// conflict is better than a Graph error. `pre_accept`, `accept` and `reject` only apply to
    /// inbound calls that still ring; `terminate` to any call that has not ended.
    pub fn check_action(&self, action: CallAction) -> Result<()> {
        let phase = self.phase();
        let refuse = |message: String| Err(Error::Conflict { code: "call_not_actionable", message });
        if phase.is_terminal() {
            return refuse(format!("the call has already ended ({})", phase.as_str()));
        }
        let inbound = self.direction() != Some(Direction::BusinessInitiated);
        match action {
            CallAction::PreAccept | CallAction::Accept | CallAction::Reject if !inbound => {
                refuse("only an incoming call can be answered or rejected".to_owned())
            }
            CallAction::PreAccept if phase != CallPhase::Ringing => {
                refuse(format!("pre-accept needs a ringing call, not {}", phase.as_str()))
            }
            CallAction::Accept | CallAction::Reject
                if !matches!(phase, CallPhase::Ringing | CallPhase::PreAccepted) =>
            {
                refuse(format!("the call is {}, not ringing", phase.as_str()))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: Millis = 1_760_681_506_000;

    fn terminate(outcome: TerminateOutcome, duration: Option<i64>, errors: &[i64]) -> CallInput {
        CallInput::TerminateReceived {
            termination: Termination {
                outcome,
                started_at: duration.map(|_| T0 + 5_000),
                ended_at: duration.map(|seconds| T0 + 5_000 + seconds * 1000),
                duration_seconds: duration,
                error_codes: errors.to_vec(),
            },
        }
    }

    fn inbound_connect() -> CallInput {
        CallInput::ConnectReceived { direction: Some(Direction::UserInitiated) }
    }

    fn outbound_connect() -> CallInput {
        CallInput::ConnectReceived { direction: Some(Direction::BusinessInitiated) }
    }

    fn status(status: RemoteCallStatus) -> CallInput {
        CallInput::StatusReceived { status }
    }

    fn run(inputs: &[CallInput]) -> CallState {
        CallState::replay(inputs.iter().enumerate().map(|(index, input)| (T0 + index as i64 * 1000, input)))
    }

    fn entry(applied: Applied) -> TimelineEntry {
        match applied {
            Applied::Appended(entry) => entry,
            Applied::Duplicate => panic!("expected a new timeline entry"),
        }
    }

    #[test]
    fn inbound_answered_call_walks_ringing_pre_accepted_accepted_completed() {
        let mut state = CallState::new();
        let ringing = entry(state.apply(T0, &inbound_connect()));
        assert_eq!(
            (ringing.phase, ringing.status, ringing.status_changed),
            (CallPhase::Ringing, CallStatus::Ringing, false)
        );
        assert!(state.is_ringing_for_agents(T0 + 1_000));
        assert_eq!(entry(state.apply(T0 + 3_000, &CallInput::PreAcceptSent)).phase, CallPhase::PreAccepted);
        let accepted = entry(state.apply(T0 + 4_000, &CallInput::AcceptSent));
        assert_eq!((accepted.phase, accepted.status_changed), (CallPhase::Accepted, true));
        assert!(!state.is_ringing_for_agents(T0 + 5_000));
        let ended = entry(state.apply(T0 + 30_000, &terminate(TerminateOutcome::Completed, Some(25), &[])));
        assert_eq!((ended.phase, ended.status), (CallPhase::Completed, CallStatus::Completed));
        assert_eq!(state.duration_seconds(), Some(25));
        assert_eq!(state.answered_at(), Some(T0 + 5_000));
        assert_eq!(state.ended_at(), Some(T0 + 30_000));
        assert_eq!(state.direction(), Some(Direction::UserInitiated));
    }

    #[test]
    fn same_input_twice_is_a_duplicate() {
        let mut state = CallState::new();
        state.apply(T0, &inbound_connect());
        let before = state.clone();
        assert_eq!(state.apply(T0 + 9_000, &inbound_connect()), Applied::Duplicate);
        assert_eq!(state, before);
    }

    #[test]
    fn terminate_before_connect_leaves_a_tombstone() {
        let mut state = CallState::new();
        assert_eq!(
            entry(state.apply(T0 + 20_000, &terminate(TerminateOutcome::Failed, None, &[]))).phase,
            CallPhase::Missed
        );
        let late = entry(state.apply(T0, &inbound_connect()));
        assert_eq!(late.phase, CallPhase::Missed);
        assert!(late.after_end);
        assert!(!late.status_changed);
        assert!(!state.is_ringing_for_agents(T0 + 1_000), "a late connect must not ring");
        assert_eq!(state.answer_deadline(), None);
    }

    #[test]
    fn unanswered_inbound_call_is_missed_by_expiry_and_by_terminate() {
        let expired = run(&[inbound_connect(), CallInput::AnswerWindowExpired]);
        assert_eq!(expired.status(), CallStatus::Missed);
        let terminated = run(&[inbound_connect(), terminate(TerminateOutcome::Failed, None, &[])]);
        assert_eq!(terminated.status(), CallStatus::Missed);
        let caller_hung_up = run(&[inbound_connect(), terminate(TerminateOutcome::Completed, None, &[])]);
        assert_eq!(caller_hung_up.status(), CallStatus::Missed);
    }

    #[test]
    fn meta_terminate_overrides_local_expiry() {
        let state = run(&[
            inbound_connect(),
            CallInput::AnswerWindowExpired,
            terminate(TerminateOutcome::Completed, Some(12), &[]),
        ]);
        assert_eq!(state.status(), CallStatus::Completed);
    }

    #[test]
    fn rejected_by_agent() {
        let state = run(&[inbound_connect(), CallInput::RejectSent]);
        assert_eq!(state.status(), CallStatus::Rejected);
        assert_eq!(state.ended_at(), Some(T0 + 1_000));
        let with_terminate =
            run(&[inbound_connect(), CallInput::RejectSent, terminate(TerminateOutcome::Failed, None, &[])]);
        assert_eq!(with_terminate.status(), CallStatus::Rejected);
    }

    #[test]
    fn answered_call_that_fails_keeps_meta_error_codes() {
        let state = run(&[
            inbound_connect(),
            CallInput::PreAcceptSent,
            CallInput::AcceptSent,
            terminate(TerminateOutcome::Failed, Some(20), &[138021, 138021]),
        ]);
        assert_eq!(state.status(), CallStatus::Failed);
        assert_eq!(state.termination().unwrap().error_codes, vec![138021]);
    }

    #[test]
    fn unanswered_call_with_error_is_failed() {
        let state = run(&[inbound_connect(), terminate(TerminateOutcome::Failed, None, &[138007])]);
        assert_eq!(state.status(), CallStatus::Failed);
    }

    #[test]
    fn outbound_call_dialing_ringing_accepted_completed() {
        let mut state = CallState::new();
        assert_eq!(entry(state.apply(T0, &CallInput::ConnectSent)).phase, CallPhase::Dialing);
        assert_eq!(state.answer_deadline(), Some(T0 + OUTBOUND_RING_WINDOW));
        assert_eq!(entry(state.apply(T0 + 1_000, &outbound_connect())).phase, CallPhase::Ringing);
        assert!(!state.is_ringing_for_agents(T0 + 1_500), "outbound calls never ring agents");
        assert_eq!(
            entry(state.apply(T0 + 2_000, &status(RemoteCallStatus::Ringing))).phase,
            CallPhase::Ringing
        );
        assert_eq!(
            entry(state.apply(T0 + 9_000, &status(RemoteCallStatus::Accepted))).status,
            CallStatus::Answered
        );
        assert_eq!(state.answer_deadline(), None);
        state.apply(T0 + 60_000, &CallInput::TerminateSent);
        assert_eq!(state.status(), CallStatus::Completed);
        state.apply(T0 + 61_000, &terminate(TerminateOutcome::Completed, Some(51), &[]));
        assert_eq!((state.status(), state.duration_seconds()), (CallStatus::Completed, Some(51)));
    }

    #[test]
    fn outbound_call_rejected_by_user() {
        let state = run(&[
            CallInput::ConnectSent,
            outbound_connect(),
            status(RemoteCallStatus::Ringing),
            status(RemoteCallStatus::Rejected),
            terminate(TerminateOutcome::Failed, None, &[]),
        ]);
        assert_eq!(state.status(), CallStatus::Rejected);
    }

    #[test]
    fn outbound_call_cancelled_before_answer_is_missed() {
        let state =
            run(&[CallInput::ConnectSent, status(RemoteCallStatus::Ringing), CallInput::TerminateSent]);
        assert_eq!(state.status(), CallStatus::Missed);
    }

    #[test]
    fn status_webhook_alone_marks_call_outbound() {
        let state = run(&[status(RemoteCallStatus::Ringing)]);
        assert_eq!(state.direction(), Some(Direction::BusinessInitiated));
        assert_eq!(state.phase(), CallPhase::Ringing);
    }

    #[test]
    fn direction_does_not_depend_on_arrival_order() {
        let facts = [status(RemoteCallStatus::Ringing), inbound_connect()];
        let forward = run(&facts);
        let backward = run(&[facts[1].clone(), facts[0].clone()]);
        assert_eq!(forward.direction(), backward.direction());
        assert_eq!(forward.direction(), Some(Direction::UserInitiated), "the connect webhook names it");
        assert_eq!(
            run(&[CallInput::ConnectSent, inbound_connect()]).direction(),
            Some(Direction::BusinessInitiated)
        );
        assert_eq!(CallState::new().direction(), None);
    }

    #[test]
    fn actions_are_checked_against_the_phase() {
        let ringing = run(&[inbound_connect()]);
        assert!(ringing.check_action(CallAction::PreAccept).is_ok());
        assert!(ringing.check_action(CallAction::Accept).is_ok());
        assert!(ringing.check_action(CallAction::Reject).is_ok());
        let pre_accepted = run(&[inbound_connect(), CallInput::PreAcceptSent]);
        assert!(pre_accepted.check_action(CallAction::PreAccept).is_err());
        assert!(pre_accepted.check_action(CallAction::Accept).is_ok());
        let accepted = run(&[inbound_connect(), CallInput::AcceptSent]);
        assert!(accepted.check_action(CallAction::Accept).is_err());
        assert!(accepted.check_action(CallAction::Terminate).is_ok());
        let ended = run(&[inbound_connect(), terminate(TerminateOutcome::Completed, None, &[])]);
        let error = ended.check_action(CallAction::Terminate).unwrap_err();
        assert_eq!(error.code(), "call_not_actionable");
        let outbound = run(&[CallInput::ConnectSent]);
        assert!(outbound.check_action(CallAction::Accept).is_err());
        assert!(outbound.check_action(CallAction::Terminate).is_ok());
    }

    #[test]
    fn stale_connect_does_not_ring() {
        let state = run(&[inbound_connect()]);
        assert!(state.is_ringing_for_agents(T0 + ANSWER_WINDOW - 1));
        assert!(!state.is_ringing_for_agents(T0 + ANSWER_WINDOW));
        assert_eq!(state.answer_deadline(), Some(T0 + ANSWER_WINDOW));
    }

    #[test]
    fn kinds_round_trip_their_spelling() {
        for kind in CallEventKind::ALL {
            assert_eq!(CallEventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(CallEventKind::parse("nope"), None);
    }

    #[test]
    fn state_survives_json() {
        let state = run(&[
            inbound_connect(),
            CallInput::AcceptSent,
            terminate(TerminateOutcome::Completed, Some(3), &[]),
        ]);
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<CallState>(&json).unwrap(), state);
    }

    /// The event sequences real calls produce, in their natural order.
    fn scenario(index: usize) -> Vec<CallInput> {
        use TerminateOutcome::{Completed, Failed};
        match index % 9 {
            0 => vec![
                inbound_connect(),
                CallInput::PreAcceptSent,
                CallInput::AcceptSent,
                CallInput::TerminateSent,
                terminate(Completed, Some(40), &[]),
            ],
            1 => vec![inbound_connect(), terminate(Failed, None, &[])],
            2 => vec![inbound_connect(), CallInput::RejectSent, terminate(Failed, None, &[])],
            3 => vec![inbound_connect(), CallInput::AnswerWindowExpired],
            4 => vec![
                inbound_connect(),
                CallInput::PreAcceptSent,
                CallInput::AcceptSent,
                terminate(Failed, Some(20), &[138021]),
            ],
            5 => vec![
                CallInput::ConnectSent,
                outbound_connect(),
                status(RemoteCallStatus::Ringing),
                status(RemoteCallStatus::Accepted),
                terminate(Completed, Some(90), &[]),
            ],
            6 => vec![
                CallInput::ConnectSent,
                outbound_connect(),
                status(RemoteCallStatus::Ringing),
                status(RemoteCallStatus::Rejected),
                terminate(Failed, None, &[]),
            ],
            7 => vec![
                CallInput::ConnectSent,
                outbound_connect(),
                status(RemoteCallStatus::Ringing),
                CallInput::AnswerWindowExpired,
                CallInput::TerminateSent,
            ],
            _ => vec![inbound_connect(), terminate(Failed, None, &[138007])],
        }
    }

    /// Each call's inputs in their natural order.
    type CallHistories = Vec<Vec<(Millis, CallInput)>>;
    /// Deliveries of all calls interleaved: (call index, time, input).
    type Deliveries = Vec<(usize, Millis, CallInput)>;

    fn shuffled_with_duplicates(calls: usize, seed: u64) -> (CallHistories, Deliveries) {
        // A small deterministic generator keeps the shuffle reproducible from proptest's seed.
        let mut random = seed | 1;
        let mut next = move |bound: usize| {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            (random % bound as u64) as usize
        };
        let per_call: CallHistories = (0..calls)
            .map(|call| {
                scenario(call + seed as usize)
                    .into_iter()
                    .enumerate()
                    .map(|(step, input)| (T0 + step as i64 * 1000, input))
                    .collect()
            })
            .collect();
        let mut deliveries: Deliveries = Vec::new();
        for (call, inputs) in per_call.iter().enumerate() {
            for (at, input) in inputs {
                for _ in 0..=next(3) {
                    deliveries.push((call, *at, input.clone()));
                }
            }
        }
        for index in (1..deliveries.len()).rev() {
            deliveries.swap(index, next(index + 1));
        }
        (per_call, deliveries)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_order_and_duplication_reaches_the_same_state(calls in 1usize..12, seed in any::<u64>()) {
            let (in_order, deliveries) = shuffled_with_duplicates(calls, seed);
            let mut states = vec![CallState::new(); calls];
            let mut timelines: Vec<Vec<CallEventKind>> = vec![Vec::new(); calls];
            for (call, at, input) in &deliveries {
                if let Applied::Appended(entry) = states[*call].apply(*at, input) {
                    timelines[*call].push(entry.kind);
                }
            }
            for call in 0..calls {
                let expected = CallState::replay(in_order[call].iter().map(|(at, input)| (*at, input)));
                prop_assert_eq!(&states[call], &expected);
                prop_assert_eq!(states[call].phase(), expected.phase());
                let mut got = timelines[call].clone();
                got.sort();
                let mut want: Vec<CallEventKind> = in_order[call].iter().map(|(_, input)| input.kind()).collect();
                want.sort();
                prop_assert_eq!(got, want, "every fact exactly once in the timeline");
            }
        }

        #[test]
        fn any_set_of_facts_in_any_order_gives_one_state(
            facts in proptest::collection::btree_map(0usize..11, (0i64..100_000, any::<bool>(), proptest::option::of(0i64..600), proptest::collection::vec(138_000i64..138_030, 0..3)), 0..11),
            seed in any::<u64>(),
        ) {
            let inputs: Vec<(Millis, CallInput)> = facts
                .into_iter()
                .map(|(kind, (offset, flag, duration, errors))| {
                    let input = match CallEventKind::ALL[kind] {
                        CallEventKind::ConnectReceived => CallInput::ConnectReceived {
                            direction: Some(if flag { Direction::UserInitiated } else { Direction::BusinessInitiated }),
                        },
                        CallEventKind::StatusRinging => status(RemoteCallStatus::Ringing),
                        CallEventKind::StatusAccepted => status(RemoteCallStatus::Accepted),
                        CallEventKind::StatusRejected => status(RemoteCallStatus::Rejected),
                        CallEventKind::TerminateReceived => terminate(
                            if flag { TerminateOutcome::Completed } else { TerminateOutcome::Failed },
                            duration,
                            &errors,
                        ),
                        CallEventKind::ConnectSent => CallInput::ConnectSent,
                        CallEventKind::PreAcceptSent => CallInput::PreAcceptSent,
                        CallEventKind::AcceptSent => CallInput::AcceptSent,
                        CallEventKind::RejectSent => CallInput::RejectSent,
                        CallEventKind::TerminateSent => CallInput::TerminateSent,
                        CallEventKind::AnswerWindowExpired => CallInput::AnswerWindowExpired,
                    };
                    (T0 + offset, input)
                })
                .collect();
            let reference = CallState::replay(inputs.iter().map(|(at, input)| (*at, input)));
            let mut shuffled: Vec<&(Millis, CallInput)> = inputs.iter().chain(inputs.iter()).collect();
            let mut random = seed | 1;
            for index in (1..shuffled.len()).rev() {
                random ^= random << 13;
                random ^= random >> 7;
                random ^= random << 17;
                shuffled.swap(index, (random % (index as u64 + 1)) as usize);
            }
            let mut state = CallState::new();
            let mut appended = 0;
            for (at, input) in shuffled {
                if matches!(state.apply(*at, input), Applied::Appended(_)) {
                    appended += 1;
                }
            }
            prop_assert_eq!(&state, &reference);
            prop_assert_eq!(state.phase(), reference.phase());
            prop_assert_eq!(state.direction(), reference.direction());
            prop_assert_eq!(appended, inputs.len());
        }

        #[test]
        fn final_phase_of_a_finished_call_is_terminal(index in 0usize..9, seed in any::<u64>()) {
            let (in_order, deliveries) = shuffled_with_duplicates(1, seed.wrapping_add(index as u64));
            let mut state = CallState::new();
            for (_, at, input) in &deliveries {
                state.apply(*at, input);
            }
            prop_assert!(state.phase().is_terminal(), "{:?} from {:?}", state.phase(), in_order[0]);
        }
    }
}
