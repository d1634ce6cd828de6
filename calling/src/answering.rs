//! Answering inbound calls from agents' browsers: which calls ring (with WhatsApp's SDP offer
//! the browser answers), and the atomic claim that makes the first agent to pick up the one who
//! answers. The WhatsApp side (`pre_accept`, `accept`, …) is [`crate::call_actions`].
//!
//! The claim is one conditional `UPDATE`: of two agents clicking Accept at the same moment,
//! exactly one row update succeeds, on SQLite and PostgreSQL alike, across replicas.
//!
//! **Routing**: a caller who spoke to an agent before rings that agent first. For a short head
//! start ([`Routing::head_start_ms`]) the call rings only in the browser of the contact's last
//! agent — when that agent is online and free — and then in everyone's. The server keeps the
//! reservation (a pre-accept by anyone else is refused until the head start is over), so it
//! holds whatever a browser shows.

use serde::{Deserialize, Serialize};

#[cfg(feature = "server")]
pub use server::*;

/// An inbound call that rings for agents: who calls, until when, and the offer to answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "server", derive(sqlx::FromRow))]
pub struct IncomingCall {
    pub call_id: String,
    pub contact_name: Option<String>,
    pub contact_number: String,
    /// The business number called (display form).
    pub business_number: String,
    /// When the call started ringing (unix ms).
    pub started_at: i64,
    /// When our answer window closes (unix ms).
    pub answer_deadline: Option<i64>,
    /// WhatsApp's SDP offer, which the browser answers.
    pub sdp_offer: String,
    /// The member already picking it up, if any (their ring has become a call).
    pub answered_by: Option<String>,
    /// Their display name, for "Ravi is answering".
    pub answered_by_name: Option<String>,
    /// The contact's last agent, who has the call to themselves until `rings_everyone_at`
    /// (only while they are online and free).
    #[cfg_attr(feature = "server", sqlx(default))]
    #[serde(default)]
    pub preferred_agent_id: Option<String>,
    #[cfg_attr(feature = "server", sqlx(default))]
    #[serde(default)]
    pub preferred_agent_name: Option<String>,
    /// From when the call rings for every agent (unix ms): `started_at`, or the end of the
    /// preferred agent's head start.
    #[cfg_attr(feature = "server", sqlx(default))]
    #[serde(default)]
    pub rings_everyone_at: i64,
}

impl IncomingCall {
    /// Whether the call rings for `user_id` at `now`.
    pub fn rings_for(&self, user_id: &str, now: i64) -> bool {
        match &self.preferred_agent_id {
            Some(preferred) if preferred != user_id => now >= self.rings_everyone_at,
            _ => true,
        }
    }
}

/// A business-initiated call requested without an offer (`POST /initiate` from the CLI or an
/// integration), waiting for an agent's browser to dial it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "server", derive(sqlx::FromRow))]
pub struct RequestedCall {
    pub call_id: String,
    /// Who to call (E.164).
    pub contact_number: String,
    /// Their name, when they are a contact of the workspace.
    pub contact_name: Option<String>,
    /// The business number that calls (display form).
    pub business_number: String,
    /// When it was requested (unix ms).
    pub requested_at: i64,
    /// Until when an agent may dial it (unix ms); then it is given up.
    pub dial_by: i64,
    /// The agent dialling it, once one picked it up.
    pub dialled_by_name: Option<String>,
}

/// How inbound calls are offered to agents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Routing {
    /// How long the contact's last agent has the call to themselves (0: ring everyone at once).
    pub head_start_ms: i64,
}

impl Default for Routing {
    fn default() -> Self {
        Routing { head_start_ms: 8_000 }
    }
}

/// Where a call stands for the browser on it, with WhatsApp's SDP answer to an outbound
/// call's offer once it arrived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "server", derive(sqlx::FromRow))]
pub struct CallSession {
    pub call_id: String,
    pub status: String,
    pub sdp_answer: Option<String>,
}

#[cfg(feature = "server")]
mod server {
    use super::{CallSession, IncomingCall, RequestedCall, Routing};
    use crate::storage::Db;
    use crate::{Error, Result};

    /// The workspace's inbound calls that ring now and can be answered in a browser (they carry
    /// WhatsApp's offer), oldest first, each with its routing: the contact's last agent and
    /// when it rings for everyone (see [`Routing`]).
    pub async fn incoming(
        db: &Db,
        workspace_id: &str,
        routing: Routing,
        now: i64,
    ) -> Result<Vec<IncomingCall>> {
        let mut calls = ringing(db, workspace_id).await?;
        if calls.is_empty() {
            return Ok(calls);
        }
        let agents = crate::presence::list(db, workspace_id, now).await?;
        for call in &mut calls {
            route(db, workspace_id, call, &agents, routing).await?;
        }
        Ok(calls)
    }

    /// Fills in the call's routing: the contact's last agent (the latest earlier call of the
    /// same number that an agent took), if they are online and free now.
    async fn route(
        db: &Db,
        workspace_id: &str,
        call: &mut IncomingCall,
        agents: &[crate::presence::AgentPresence],
        routing: Routing,
    ) -> Result<()> {
        call.rings_everyone_at = call.started_at;
        if routing.head_start_ms <= 0 {
            return Ok(());
        }
        let last: Option<(String,)> = sqlx::query_as(
            "SELECT answered_by FROM calls WHERE workspace_id = $1 AND contact_number = $2 AND id <> $3 \
             AND answered_by IS NOT NULL AND started_at <= $4 ORDER BY started_at DESC, id DESC LIMIT 1",
        )
        .bind(workspace_id)
        .bind(&call.contact_number)
        .bind(&call.call_id)
        .bind(call.started_at)
        .fetch_optional(db.pool())
        .await?;
        let Some((agent_id,)) = last else { return Ok(()) };
        let Some(agent) = agents
            .iter()
            .find(|agent| agent.user_id == agent_id && agent.presence == crate::presence::Presence::Online)
        else {
            return Ok(());
        };
        call.preferred_agent_id = Some(agent.user_id.clone());
        call.preferred_agent_name = Some(agent.display_name.clone());
        call.rings_everyone_at = call.started_at + routing.head_start_ms;
        Ok(())
    }

    /// The requested calls waiting for an agent to dial them, oldest first.
    pub async fn to_dial(db: &Db, workspace_id: &str, now: i64) -> Result<Vec<RequestedCall>> {
        let calls = sqlx::query_as::<_, RequestedCall>(
            "SELECT c.id AS call_id, c.contact_number, ct.name AS contact_name, c.business_number, \
                    c.started_at AS requested_at, c.answer_deadline AS dial_by, u.display_name AS dialled_by_name \
             FROM calls c LEFT JOIN users u ON u.id = c.answered_by \
             LEFT JOIN contacts ct ON ct.workspace_id = c.workspace_id AND ct.phone_number = c.contact_number \
             WHERE c.workspace_id = $1 AND c.status = 'ringing' AND c.phase = 'new' \
               AND c.direction = 'business_initiated' AND c.wa_call_id IS NULL AND c.answer_deadline > $2 \
             ORDER BY c.started_at, c.id",
        )
        .bind(workspace_id)
        .bind(now)
        .fetch_all(db.pool())
        .await?;
        Ok(calls)
    }

    /// Refuses `user_id` a call that still rings only for the contact's last agent.
    pub async fn require_ringing_for(
        db: &Db,
        workspace_id: &str,
        call_id: &str,
        user_id: &str,
        routing: Routing,
        now: i64,
    ) -> Result<()> {
        let calls = incoming(db, workspace_id, routing, now).await?;
        match calls.iter().find(|call| call.call_id == call_id) {
            Some(call) if !call.rings_for(user_id, now) => Err(Error::Conflict {
                code: "reserved_for_agent",
                message: format!(
                    "this caller's last agent, {}, has the call to themselves for {} more seconds",
                    call.preferred_agent_name.as_deref().unwrap_or("another agent"),
                    (call.rings_everyone_at - now + 999) / 1000
                ),
            }),
            _ => Ok(()),
        }
    }

    async fn ringing(db: &Db, workspace_id: &str) -> Result<Vec<IncomingCall>> {
        let calls = sqlx::query_as::<_, IncomingCall>(
            "SELECT c.id AS call_id, c.contact_name, c.contact_number, c.business_number, c.started_at, \
                    c.answer_deadline, c.sdp_offer, c.answered_by, u.display_name AS answered_by_name \
             FROM calls c LEFT JOIN users u ON u.id = c.answered_by \
             WHERE c.workspace_id = $1 AND c.status = 'ringing' AND c.direction = 'user_initiated' \
             AND c.sdp_offer IS NOT NULL ORDER BY c.started_at, c.id",
        )
        .bind(workspace_id)
        .fetch_all(db.pool())
        .await?;
        Ok(calls)
    }

    /// Makes `user_id` the one answering the call, unless another member got there first:
    /// then 409 `already_answered`, naming them. Claiming a call one already holds is fine
    /// (a retried request).
    pub async fn claim(db: &Db, workspace_id: &str, call_id: &str, user_id: &str) -> Result<()> {
        let claimed = sqlx::query(
            "UPDATE calls SET answered_by = $1 WHERE workspace_id = $2 AND id = $3 \
             AND (answered_by IS NULL OR answered_by = $1)",
        )
        .bind(user_id)
        .bind(workspace_id)
        .bind(call_id)
        .execute(db.pool())
        .await?
        .rows_affected();
        if claimed == 1 {
            return Ok(());
        }
        let holder: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT u.display_name FROM calls c LEFT JOIN users u ON u.id = c.answered_by \
             WHERE c.workspace_id = $1 AND c.id = $2",
        )
        .bind(workspace_id)
        .bind(call_id)
        .fetch_optional(db.pool())
        .await?;
        match holder {
            None => Err(Error::NotFound { what: "call" }),
            Some((name,)) => Err(Error::Conflict {
                code: "already_answered",
                message: format!("{} already answered this call", name.as_deref().unwrap_or("Another agent")),
            }),
        }
    }

    /// The call's status and SDP answer (another workspace's call is "not found").
    pub async fn session(db: &Db, workspace_id: &str, call_id: &str) -> Result<CallSession> {
        sqlx::query_as::<_, CallSession>(
            "SELECT id AS call_id, status, sdp_answer FROM calls WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace_id)
        .bind(call_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(Error::NotFound { what: "call" })
    }

    /// Gives a claim back when pre-accepting failed, so another agent may still answer.
    pub async fn release(db: &Db, workspace_id: &str, call_id: &str, user_id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE calls SET answered_by = NULL WHERE workspace_id = $1 AND id = $2 AND answered_by = $3",
        )
        .bind(workspace_id)
        .bind(call_id)
        .bind(user_id)
        .execute(db.pool())
        .await?;
        Ok(())
    }

    /// Ok when `user_id` holds the call's claim; 409 `not_your_call` otherwise (accepting a
    /// call someone else pre-accepted would send their SDP with our name on it).
    pub async fn require_claim(db: &Db, workspace_id: &str, call_id: &str, user_id: &str) -> Result<String> {
        let row: Option<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT answered_by, sdp_answer FROM calls WHERE workspace_id = $1 AND id = $2")
                .bind(workspace_id)
                .bind(call_id)
                .fetch_optional(db.pool())
                .await?;
        match row {
            None => Err(Error::NotFound { what: "call" }),
            Some((Some(holder), Some(sdp_answer))) if holder == user_id => Ok(sdp_answer),
            Some(_) => Err(Error::Conflict {
                code: "not_your_call",
                message: "pre-accept the call from this browser before accepting it".into(),
            }),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::accounts::{self, NewOwner, Role, invitations};
        use crate::calls::{self, CallStatus, Direction, NewCall};
        use crate::testing;

        async fn ringing_call(db: &Db, workspace_id: &str) -> String {
            let call = NewCall {
                workspace_id: workspace_id.to_owned(),
                wa_call_id: Some("wacid.ring".into()),
                phone_number_id: "1".into(),
                direction: Direction::UserInitiated,
                status: CallStatus::Ringing,
                contact_number: "+447700900123".into(),
                contact_name: Some("Priya Shah".into()),
                business_number: "+44 20 7946 0000".into(),
                started_at: 10,
                answered_at: None,
                ended_at: None,
                duration_seconds: None,
                cost_micros: 0,
            };
            let id = calls::record(db, &call).await.unwrap();
            sqlx::query("UPDATE calls SET sdp_offer = 'v=0 offer' WHERE id = $1")
                .bind(&id)
                .execute(db.pool())
                .await
                .unwrap();
            id
        }

        #[tokio::test]
        async fn of_two_agents_picking_up_at_once_exactly_one_answers() {
            for test_db in testing::every_database().await {
                let db = &test_db.db;
                let owner = NewOwner {
                    email: "owner@example.com".into(),
                    display_name: Some("Olivia".into()),
                    password: "owner-password-123".into(),
                    workspace_name: None,
                };
                let (olivia, workspace) = accounts::setup(db, owner, 1).await.unwrap();
                let (token, _) =
                    invitations::create(db, &workspace.id, "ravi@example.com", Role::Agent, "test", 2)
                        .await
                        .unwrap();
                let acceptance = invitations::Acceptance {
                    token,
                    display_name: Some("Ravi".into()),
                    password: "agent-password-123".into(),
                };
                let ravi = invitations::accept(db, acceptance, None, 3).await.unwrap().0;
                let call_id = ringing_call(db, &workspace.id).await;

                let rung = incoming(db, &workspace.id, Routing { head_start_ms: 0 }, 20).await.unwrap();
                assert_eq!(rung.len(), 1);
                assert_eq!(rung[0].sdp_offer, "v=0 offer");
                assert_eq!(rung[0].answered_by, None);

                let (a, b) = tokio::join!(
                    claim(db, &workspace.id, &call_id, &olivia.id),
                    claim(db, &workspace.id, &call_id, &ravi.id)
                );
                assert_eq!([&a, &b].iter().filter(|r| r.is_ok()).count(), 1, "{a:?} {b:?}");
                let (winner, loser, refused) = match (a, b) {
                    (Ok(()), Err(refused)) => (&olivia, &ravi, refused),
                    (Err(refused), Ok(())) => (&ravi, &olivia, refused),
                    other => panic!("exactly one claim wins: {other:?}"),
                };
                assert_eq!(refused.code(), "already_answered");
                assert!(refused.to_string().contains(&winner.display_name), "{refused}");
                // A retry by the winner is fine; the loser stays refused.
                claim(db, &workspace.id, &call_id, &winner.id).await.unwrap();
                assert!(claim(db, &workspace.id, &call_id, &loser.id).await.is_err());
                let ringing = incoming(db, &workspace.id, Routing { head_start_ms: 0 }, 20).await.unwrap();
                assert_eq!(ringing[0].answered_by.as_deref(), Some(winner.id.as_str()));
                assert_eq!(ringing[0].answered_by_name.as_deref(), Some(winner.display_name.as_str()));

                // Accepting needs the claim and the SDP sent with pre_accept.
                let not_yet = require_claim(db, &workspace.id, &call_id, &winner.id).await.unwrap_err();
                assert_eq!(not_yet.code(), "not_your_call");
                sqlx::query("UPDATE calls SET sdp_answer = 'v=0 answer' WHERE id = $1")
                    .bind(&call_id)
                    .execute(db.pool())
                    .await
                    .unwrap();
                assert_eq!(
                    require_claim(db, &workspace.id, &call_id, &winner.id).await.unwrap(),
                    "v=0 answer"
                );
                assert_eq!(
                    require_claim(db, &workspace.id, &call_id, &loser.id).await.unwrap_err().code(),
                    "not_your_call"
                );

                // A failed pre-accept gives the call back to the team.
                release(db, &workspace.id, &call_id, &loser.id).await.unwrap();
                assert!(
                    claim(db, &workspace.id, &call_id, &loser.id).await.is_err(),
                    "only the holder releases"
                );
                release(db, &workspace.id, &call_id, &winner.id).await.unwrap();
                claim(db, &workspace.id, &call_id, &loser.id).await.unwrap();

                let other = crate::workspace::create(db, "Other", 4).await.unwrap();
                assert_eq!(claim(db, &other.id, &call_id, &olivia.id).await.unwrap_err().code(), "not_found");
            }
        }
    }
}
