//! Call records: what the history table, the overview and the call detail page read.
//!
//! The call engine decides *how* a call's status moves; this module owns the shape of a call
//! row and the queries over it.

use serde::{Deserialize, Serialize};

/// Who started the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A WhatsApp user called the business.
    UserInitiated,
    /// The business called a WhatsApp user.
    BusinessInitiated,
}

impl Direction {
    /// The stored (and API) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::UserInitiated => "user_initiated",
            Direction::BusinessInitiated => "business_initiated",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "user_initiated" => Some(Direction::UserInitiated),
            "business_initiated" => Some(Direction::BusinessInitiated),
            _ => None,
        }
    }
}

/// Where a call stands, as the dashboard shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    Ringing,
    Answered,
    Completed,
    Missed,
    Rejected,
    Failed,
}

impl CallStatus {
    /// Every status, in the order filters list them.
    pub const ALL: [CallStatus; 6] = [
        CallStatus::Ringing,
        CallStatus::Answered,
        CallStatus::Completed,
        CallStatus::Missed,
        CallStatus::Rejected,
        CallStatus::Failed,
    ];

    /// The stored (and API) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Ringing => "ringing",
            CallStatus::Answered => "answered",
            CallStatus::Completed => "completed",
            CallStatus::Missed => "missed",
            CallStatus::Rejected => "rejected",
            CallStatus::Failed => "failed",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(raw: &str) -> Option<Self> {
        CallStatus::ALL.into_iter().find(|status| status.as_str() == raw)
    }

    /// How the status reads in the UI.
    pub fn label(self) -> &'static str {
        match self {
            CallStatus::Ringing => "Ringing",
            CallStatus::Answered => "In progress",
            CallStatus::Completed => "Completed",
            CallStatus::Missed => "Missed",
            CallStatus::Rejected => "Rejected",
            CallStatus::Failed => "Failed",
        }
    }
}

/// One row of the call history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct CallSummary {
    pub id: String,
    pub direction: Direction,
    pub status: CallStatus,
    /// The WhatsApp user's number (E.164 with `+`).
    pub contact_number: String,
    pub contact_name: Option<String>,
    /// The business number's display form.
    pub business_number: String,
    pub started_at: i64,
    pub duration_seconds: Option<i64>,
    pub cost_micros: i64,
    /// The business number's Graph id.
    #[serde(default)]
    pub phone_number_id: String,
    /// The agent on the call (who answered it, or who placed it), when it was taken in a browser.
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub agent_name: Option<String>,
}

/// The seed CLI's message-style spellings of a call's fate (`calls --status
/// sent|delivered|failed`), each a group of [`CallStatus`]es so that every call is exactly one
/// of them: `delivered` got through to a conversation, `sent` went out (or rang) without one,
/// `failed` never got through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Sent,
    Delivered,
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Sent, Outcome::Delivered, Outcome::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Delivered => "delivered",
            Outcome::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Outcome::ALL.into_iter().find(|outcome| outcome.as_str() == raw)
    }

    /// The statuses the outcome covers.
    pub fn statuses(self) -> &'static [CallStatus] {
        match self {
            Outcome::Sent => &[CallStatus::Ringing, CallStatus::Missed, CallStatus::Rejected],
            Outcome::Delivered => &[CallStatus::Answered, CallStatus::Completed],
            Outcome::Failed => &[CallStatus::Failed],
        }
    }

    /// The outcome a status belongs to.
    pub fn of(status: CallStatus) -> Outcome {
        Outcome::ALL
            .into_iter()
            .find(|outcome| outcome.statuses().contains(&status))
            .unwrap_or(Outcome::Failed)
    }
}

/// Which calls the history shows. Every field narrows the list; `None` means "any".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct CallFilter {
    #[serde(default)]
    pub status: Option<CallStatus>,
    /// A group of statuses by the seed's spelling (`sent`, `delivered`, `failed`).
    #[serde(default)]
    pub outcome: Option<Outcome>,
    #[serde(default)]
    pub direction: Option<Direction>,
    /// Part of the contact's number or name.
    #[serde(default)]
    pub search: Option<String>,
    /// Started at or after (unix ms).
    #[serde(default)]
    pub from: Option<i64>,
    /// Started before (unix ms).
    #[serde(default)]
    pub to: Option<i64>,
    /// On this business number (its Graph `phone_number_id`).
    #[serde(default)]
    pub phone_number_id: Option<String>,
    /// Taken (answered or placed) by this agent (user id).
    #[serde(default)]
    pub agent: Option<String>,
    /// Where the previous page ended ([`CallPage::next_cursor`]).
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[serde(default)]
    pub limit: Option<i64>,
}

/// One page of the call history, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct CallPage {
    pub calls: Vec<CallSummary>,
    /// Pass as `cursor` for the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Everything the call detail page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct CallDetail {
    pub summary: CallSummary,
    /// WhatsApp's call id.
    pub wa_call_id: Option<String>,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// WhatsApp's error code and what it means.
    pub failure_code: Option<i64>,
    pub failure_reason: Option<String>,
    pub cta_payload: Option<String>,
    pub deeplink_payload: Option<String>,
    pub biz_opaque_callback_data: Option<String>,
    /// Every fact of the call, oldest first.
    pub timeline: Vec<TimelineItem>,
    /// What the agent's browser measured, for calls taken in the browser.
    pub quality: Option<crate::quality::CallQuality>,
    /// The recording attached to the call, if any (`GET …/calls/:id/recording` serves it).
    #[serde(default)]
    pub recording: Option<RecordingSummary>,
}

/// What the call page says of its recording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct RecordingSummary {
    /// `mp3` or `wav`.
    pub format: String,
    pub byte_size: i64,
    pub file_name: Option<String>,
    pub uploaded_at: i64,
}

/// One line of a call's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct TimelineItem {
    /// The fact's kind (`connect_received`, `accept_sent`, …).
    pub kind: String,
    pub at: i64,
    /// What came with it, JSON.
    pub details: String,
}

impl TimelineItem {
    /// How the fact reads in the timeline.
    pub fn label(&self) -> &'static str {
        match self.kind.as_str() {
            "connect_received" => "WhatsApp connected the call",
            "status_ringing" => "Ringing on the customer's phone",
            "status_accepted" => "The customer answered",
            "status_rejected" => "The customer declined",
            "terminate_received" => "WhatsApp ended the call",
            "connect_sent" => "Call placed",
            "pre_accept_sent" => "Agent picked up (pre-accept)",
            "accept_sent" => "Agent answered",
            "reject_sent" => "Agent declined",
            "terminate_sent" => "Agent hung up",
            "answer_window_expired" => "Nobody answered in time",
            _ => "Other event",
        }
    }
}

#[cfg(feature = "server")]
pub use store::*;

#[cfg(feature = "server")]
mod store {
    use super::*;
    use crate::ids::new_id;
    use crate::storage::Db;
    use crate::{Error, Result};

    /// A call to record, as the call engine knows it when the call first appears.
    #[derive(Clone, Debug)]
    pub struct NewCall {
        pub workspace_id: String,
        pub wa_call_id: Option<String>,
        pub phone_number_id: String,
        pub direction: Direction,
        pub status: CallStatus,
        pub contact_number: String,
        pub contact_name: Option<String>,
        pub business_number: String,
        pub started_at: i64,
        pub answered_at: Option<i64>,
        pub ended_at: Option<i64>,
        pub duration_seconds: Option<i64>,
        pub cost_micros: i64,
    }

    /// Stores a new call and returns its id.
    pub async fn record(db: &Db, call: &NewCall) -> Result<String> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO calls (id, workspace_id, wa_call_id, phone_number_id, direction, status, \
               contact_number, contact_name, business_number, started_at, answered_at, ended_at, \
               duration_seconds, cost_micros, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)",
        )
        .bind(&id)
        .bind(&call.workspace_id)
        .bind(&call.wa_call_id)
        .bind(&call.phone_number_id)
        .bind(call.direction.as_str())
        .bind(call.status.as_str())
        .bind(&call.contact_number)
        .bind(&call.contact_name)
        .bind(&call.business_number)
        .bind(call.started_at)
        .bind(call.answered_at)
        .bind(call.ended_at)
        .bind(call.duration_seconds)
        .bind(call.cost_micros)
        .bind(call.started_at)
        .execute(db.pool())
        .await?;
        Ok(id)
    }

    type SummaryRow = (
        String,
        String,
        String,
        String,
        Option<String>,
        String,
        i64,
        Option<i64>,
        i64,
        String,
        Option<String>,
        Option<String>,
    );

    const SUMMARY_COLUMNS: &str = "id, direction, status, contact_number, contact_name, business_number, \
                                   started_at, duration_seconds, cost_micros, phone_number_id, answered_by, \
                                   (SELECT display_name FROM users WHERE users.id = calls.answered_by) AS agent_name";

    /// The most rows [`csv`] exports at once; narrow the filter for more.
    pub const MAX_EXPORT: usize = 100_000;

    /// The largest page [`list`] returns.
    pub const MAX_PAGE: i64 = 200;

    fn parse_cursor(cursor: &str) -> Result<(i64, String)> {
        cursor
            .split_once('_')
            .and_then(|(at, id)| Some((at.parse().ok()?, id.to_owned())))
            .filter(|(_, id)| !id.is_empty())
            .ok_or_else(|| Error::validation("cursor", "not a cursor this API returned"))
    }

    /// A page of a workspace's calls matching `filter`, newest first (keyset pagination, so
    /// deep pages cost the same as the first).
    pub async fn list(db: &Db, workspace_id: &str, filter: &CallFilter) -> Result<CallPage> {
        let limit = filter.limit.unwrap_or(50);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(Error::validation("limit", format!("must be between 1 and {MAX_PAGE}")));
        }
        let mut sql = format!("SELECT {SUMMARY_COLUMNS} FROM calls WHERE workspace_id = $1");
        let mut binds: Vec<Bind> = vec![Bind::Text(workspace_id.to_owned())];
        let mut push = |sql: &mut String, clause: &str, value: Bind| {
            binds.push(value);
            sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
        };
        if let Some(status) = filter.status {
            push(&mut sql, " AND status = ?", Bind::Text(status.as_str().into()));
        }
        if let Some(outcome) = filter.outcome {
            let statuses = outcome.statuses();
            for (i, status) in statuses.iter().enumerate() {
                let clause = match (i, i + 1 == statuses.len()) {
                    (0, true) => " AND status IN (?)",
                    (0, false) => " AND status IN (?",
                    (_, true) => ", ?)",
                    _ => ", ?",
                };
                push(&mut sql, clause, Bind::Text(status.as_str().into()));
            }
        }
        if let Some(direction) = filter.direction {
            push(&mut sql, " AND direction = ?", Bind::Text(direction.as_str().into()));
        }
        if let Some(search) = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let pattern = format!("%{}%", search.to_lowercase().replace(['%', '_'], ""));
            push(&mut sql, " AND (LOWER(contact_number) LIKE ?", Bind::Text(pattern.clone()));
            push(&mut sql, " OR LOWER(COALESCE(contact_name, '')) LIKE ?)", Bind::Text(pattern));
        }
        if let Some(from) = filter.from {
            push(&mut sql, " AND started_at >= ?", Bind::Int(from));
        }
        if let Some(to) = filter.to {
            push(&mut sql, " AND started_at < ?", Bind::Int(to));
        }
        if let Some(number) = filter.phone_number_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            push(&mut sql, " AND phone_number_id = ?", Bind::Text(number.to_owned()));
        }
        if let Some(agent) = filter.agent.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            push(&mut sql, " AND answered_by = ?", Bind::Text(agent.to_owned()));
        }
        if let Some(cursor) = filter.cursor.as_deref() {
            let (at, id) = parse_cursor(cursor)?;
            // A row-value comparison, which both planners turn into a range of the
            // (workspace_id, started_at, id) index: a deep page costs what the first does.
            push(&mut sql, " AND (started_at, id) < (?", Bind::Int(at));
            push(&mut sql, ", ?)", Bind::Text(id));
        }
        push(&mut sql, " ORDER BY started_at DESC, id DESC LIMIT ?", Bind::Int(limit + 1));

        let mut query = sqlx::query_as::<_, SummaryRow>(&sql);
        for bind in binds {
            query = match bind {
                Bind::Text(text) => query.bind(text),
                Bind::Int(int) => query.bind(int),
            };
        }
        let mut calls = query
            .fetch_all(db.pool())
            .await?
            .into_iter()
            .map(summary_from_row)
            .collect::<Result<Vec<_>>>()?;
        let next_cursor = if calls.len() as i64 > limit {
            calls.truncate(limit as usize);
            calls.last().map(|last| format!("{}_{}", last.started_at, last.id))
        } else {
            None
        };
        Ok(CallPage { calls, next_cursor })
    }

    /// An inbound call that still rings, for agents' browsers after a (re)connection.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct RingingCall {
        pub call_id: String,
        pub contact_name: Option<String>,
        pub contact_number: String,
        /// When our answer window closes (unix ms).
        pub answer_deadline: Option<i64>,
    }

    /// The workspace's inbound calls that still ring, oldest first.
    pub async fn ringing(db: &Db, workspace_id: &str) -> Result<Vec<RingingCall>> {
        let rows: Vec<(String, Option<String>, String, Option<i64>)> = sqlx::query_as(
            "SELECT id, contact_name, contact_number, answer_deadline FROM calls \
             WHERE workspace_id = $1 AND status = 'ringing' AND direction = 'user_initiated' ORDER BY started_at, id",
        )
        .bind(workspace_id)
        .fetch_all(db.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(call_id, contact_name, contact_number, answer_deadline)| RingingCall {
                call_id,
                contact_name,
                contact_number,
                answer_deadline,
            })
            .collect())
    }

    enum Bind {
        Text(String),
        Int(i64),
    }

    type DetailRow = (
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
    );

    /// One call of a workspace with its whole timeline; another workspace's call is "not found".
    pub async fn detail(db: &Db, workspace_id: &str, call_id: &str) -> Result<CallDetail> {
        let summary: SummaryRow = sqlx::query_as(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM calls WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(workspace_id)
        .bind(call_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(Error::NotFound { what: "call" })?;
        let (
            wa_call_id,
            answered_at,
            ended_at,
            failure_code,
            cta_payload,
            deeplink_payload,
            biz_opaque_callback_data,
        ): DetailRow = sqlx::query_as(
            "SELECT wa_call_id, answered_at, ended_at, failure_code, cta_payload, deeplink_payload, \
                        biz_opaque_callback_data FROM calls WHERE id = $1",
        )
        .bind(call_id)
        .fetch_one(db.pool())
        .await?;
        let timeline: Vec<(String, i64, Option<String>)> = sqlx::query_as(
            "SELECT kind, at, details FROM call_events WHERE call_id = $1 ORDER BY at, recorded_at, id",
        )
        .bind(call_id)
        .fetch_all(db.pool())
        .await?;
        Ok(CallDetail {
            summary: summary_from_row(summary)?,
            wa_call_id,
            answered_at,
            ended_at,
            failure_code,
            failure_reason: failure_code.map(|code| crate::meta_errors::plain_reason(code).to_owned()),
            cta_payload,
            deeplink_payload,
            biz_opaque_callback_data,
            timeline: timeline
                .into_iter()
                .map(|(kind, at, details)| TimelineItem { kind, at, details: details.unwrap_or_default() })
                .collect(),
            quality: crate::quality::load(db, call_id).await?,
            recording: crate::recordings::find(db, workspace_id, call_id).await?.map(|recording| {
                RecordingSummary {
                    format: recording.format.extension().to_owned(),
                    byte_size: recording.byte_size,
                    file_name: recording.file_name,
                    uploaded_at: recording.uploaded_at,
                }
            }),
        })
    }

    /// The newest calls of a workspace, newest first.
    pub async fn recent(db: &Db, workspace_id: &str, limit: i64) -> Result<Vec<CallSummary>> {
        let rows: Vec<SummaryRow> = sqlx::query_as(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM calls WHERE workspace_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2"
        ))
        .bind(workspace_id)
        .bind(limit.clamp(1, 500))
        .fetch_all(db.pool())
        .await?;
        rows.into_iter().map(summary_from_row).collect()
    }

    fn summary_from_row(row: SummaryRow) -> Result<CallSummary> {
        let (
            id,
            direction,
            status,
            contact_number,
            contact_name,
            business_number,
            started_at,
            duration_seconds,
            cost_micros,
            phone_number_id,
            agent_id,
            agent_name,
        ) = row;
        let corrupt =
            |what: &str, value: &str| Error::internal(format!("call {id}: unknown {what} {value:?}"));
        Ok(CallSummary {
            direction: Direction::parse(&direction).ok_or_else(|| corrupt("direction", &direction))?,
            status: CallStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
            id,
            contact_number,
            contact_name,
            business_number,
            started_at,
            duration_seconds,
            cost_micros,
            phone_number_id,
            agent_id,
            agent_name,
        })
    }

    /// The agents who have taken (answered or placed) a call of the workspace, by name: the
    /// choices of the history's agent filter.
    pub async fn agents(db: &Db, workspace_id: &str) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT u.id, u.display_name FROM users u \
             WHERE u.id IN (SELECT DISTINCT answered_by FROM calls WHERE workspace_id = $1 AND answered_by IS NOT NULL) \
             ORDER BY u.display_name, u.id",
        )
        .bind(workspace_id)
        .fetch_all(db.pool())
        .await?)
    }

    /// Every call matching `filter` (its cursor and limit ignored), newest first, as CSV for a
    /// spreadsheet: times in UTC (ISO 8601) and unix ms, cost in decimal units of the wallet's
    /// currency. At most [`MAX_EXPORT`] rows.
    pub async fn csv(db: &Db, workspace_id: &str, filter: &CallFilter) -> Result<String> {
        let mut out = String::new();
        crate::csv::push_record(
            &mut out,
            &[
                "call_id",
                "started_at",
                "started_at_unix_ms",
                "direction",
                "status",
                "contact_number",
                "contact_name",
                "business_number",
                "phone_number_id",
                "agent",
                "duration_seconds",
                "cost",
            ],
        );
        let mut page_filter = CallFilter { cursor: None, limit: Some(MAX_PAGE), ..filter.clone() };
        let mut written = 0;
        loop {
            let page = list(db, workspace_id, &page_filter).await?;
            for call in page.calls {
                let started = crate::dates::iso_utc(call.started_at);
                crate::csv::push_record(
                    &mut out,
                    &[
                        call.id,
                        started,
                        call.started_at.to_string(),
                        call.direction.as_str().to_owned(),
                        call.status.as_str().to_owned(),
                        call.contact_number,
                        call.contact_name.unwrap_or_default(),
                        call.business_number,
                        call.phone_number_id,
                        call.agent_name.unwrap_or_default(),
                        call.duration_seconds.map(|d| d.to_string()).unwrap_or_default(),
                        crate::billing::Micros(call.cost_micros).to_string(),
                    ],
                );
                written += 1;
            }
            match page.next_cursor {
                Some(cursor) if written < MAX_EXPORT => page_filter.cursor = Some(cursor),
                _ => break,
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_stored_spelling() {
        for status in CallStatus::ALL {
            assert_eq!(CallStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(CallStatus::parse("RINGING"), None);
        for direction in [Direction::UserInitiated, Direction::BusinessInitiated] {
            assert_eq!(Direction::parse(direction.as_str()), Some(direction));
        }
    }
}
