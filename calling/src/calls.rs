//! Call records: what the history table, the overview and the call detail page read.
//!
//! The call engine decides *how* a call's status moves; this module owns the shape of a call
//! row and the queries over it.

use serde::{Deserialize, Serialize};

/// Who started the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

    type SummaryRow = (String, String, String, String, Option<String>, String, i64, Option<i64>, i64);

    /// The newest calls of a workspace, newest first.
    pub async fn recent(db: &Db, workspace_id: &str, limit: i64) -> Result<Vec<CallSummary>> {
        let rows: Vec<SummaryRow> = sqlx::query_as(
            "SELECT id, direction, status, contact_number, contact_name, business_number, \
                    started_at, duration_seconds, cost_micros \
             FROM calls WHERE workspace_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2",
        )
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
        })
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
