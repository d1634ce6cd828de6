//! Agent presence: each agent's browser says every few seconds whether its agent is available
//! or away, and which call it is on. From that, who is online, away, busy or offline (no word
//! for [`OFFLINE_AFTER`]); only available agents are rung. An agent on a call whose browser
//! stopped talking for [`CALL_ABANDONED_AFTER`] has left without hanging up (a closed tab whose
//! beacon was lost, a crashed laptop): [`abandoned_calls`] finds those calls so they can be
//! ended rather than left open at WhatsApp.

use serde::{Deserialize, Serialize};

#[cfg(feature = "server")]
pub use server::*;

/// How often browsers send a heartbeat (ms).
pub const HEARTBEAT_EVERY: i64 = 15_000;
/// No heartbeat for this long: offline.
pub const OFFLINE_AFTER: i64 = 45_000;
/// On a call with no heartbeat for this long: the call is abandoned.
pub const CALL_ABANDONED_AFTER: i64 = 45_000;

/// What an agent chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// Ring me.
    Online,
    /// Don't ring me (I am still signed in).
    Away,
}

impl Availability {
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Online => "online",
            Availability::Away => "away",
        }
    }
}

/// Where an agent stands, as admins see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    Busy,
    Away,
    Offline,
}

/// One member who may answer calls, with their presence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct AgentPresence {
    pub user_id: String,
    pub display_name: String,
    pub presence: Presence,
    /// The call they are on (busy).
    pub call_id: Option<String>,
    /// Their browser's last heartbeat (unix ms), if any.
    pub last_seen_at: Option<i64>,
}

/// The presence a heartbeat row means at `now`.
pub fn presence_at(status: Availability, on_call: bool, last_seen_at: i64, now: i64) -> Presence {
    if now - last_seen_at > OFFLINE_AFTER {
        Presence::Offline
    } else if on_call {
        Presence::Busy
    } else if status == Availability::Away {
        Presence::Away
    } else {
        Presence::Online
    }
}

#[cfg(feature = "server")]
mod server {
    use super::*;
    use crate::accounts::{Permission, users};
    use crate::storage::Db;
    use crate::{Error, Result};

    /// Records a heartbeat from `user_id`'s browser. `call_id`, when given, must be a call of
    /// the workspace that the agent answered or placed.
    pub async fn heartbeat(
        db: &Db,
        workspace_id: &str,
        user_id: &str,
        status: Availability,
        call_id: Option<&str>,
        now: i64,
    ) -> Result<()> {
        if let Some(call_id) = call_id {
            let theirs: Option<(String,)> = sqlx::query_as(
                "SELECT id FROM calls WHERE workspace_id = $1 AND id = $2 AND answered_by = $3",
            )
            .bind(workspace_id)
            .bind(call_id)
            .bind(user_id)
            .fetch_optional(db.pool())
            .await?;
            if theirs.is_none() {
                return Err(Error::validation("call_id", "is not a call you are on"));
            }
        }
        sqlx::query(
            "INSERT INTO agent_presence (workspace_id, user_id, status, call_id, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (workspace_id, user_id) DO UPDATE SET status = $3, call_id = $4, last_seen_at = $5",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(status.as_str())
        .bind(call_id)
        .bind(now)
        .execute(db.pool())
        .await?;
        Ok(())
    }

    /// `(user_id, status, call_id, last_seen_at)`; the presence columns are NULL for members
    /// whose browser never sent a heartbeat.
    type PresenceRow = (String, Option<String>, Option<String>, Option<i64>);

    /// Every member who may answer calls, with where they stand now, by name.
    pub async fn list(db: &Db, workspace_id: &str, now: i64) -> Result<Vec<AgentPresence>> {
        let rows: Vec<PresenceRow> = sqlx::query_as(
            "SELECT m.user_id, p.status, p.call_id, p.last_seen_at FROM memberships m \
             LEFT JOIN agent_presence p ON p.workspace_id = m.workspace_id AND p.user_id = m.user_id \
             WHERE m.workspace_id = $1",
        )
        .bind(workspace_id)
        .fetch_all(db.pool())
        .await?;
        let members = users::members(db, workspace_id).await?;
        let mut agents: Vec<AgentPresence> = rows
            .into_iter()
            .filter_map(|(user_id, status, call_id, last_seen_at)| {
                let member = members.iter().find(|member| member.user_id == user_id)?;
                member.role.allows(Permission::AnswerCalls).then(|| {
                    let status = if status.as_deref() == Some("away") {
                        Availability::Away
                    } else {
                        Availability::Online
                    };
                    let presence = match last_seen_at {
                        Some(seen) => presence_at(status, call_id.is_some(), seen, now),
                        None => Presence::Offline,
                    };
                    AgentPresence {
                        user_id,
                        display_name: member.display_name.clone(),
                        presence,
                        call_id: call_id.filter(|_| presence == Presence::Busy),
                        last_seen_at,
                    }
                })
            })
            .collect();
        agents.sort_by_key(|agent| agent.display_name.to_lowercase());
        Ok(agents)
    }

    /// Calls still live at WhatsApp whose agent's browser stopped sending heartbeats while on
    /// them: `(workspace_id, call_id)`.
    pub async fn abandoned_calls(db: &Db, now: i64) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT c.workspace_id, c.id FROM agent_presence p \
             JOIN calls c ON c.id = p.call_id AND c.workspace_id = p.workspace_id AND c.answered_by = p.user_id \
             WHERE p.call_id IS NOT NULL AND p.last_seen_at < $1 AND c.status IN ('ringing', 'answered')",
        )
        .bind(now - CALL_ABANDONED_AFTER)
        .fetch_all(db.pool())
        .await?)
    }

    /// Forgets the call an agent was on (it ended).
    pub async fn clear_call(db: &Db, workspace_id: &str, call_id: &str) -> Result<()> {
        sqlx::query("UPDATE agent_presence SET call_id = NULL WHERE workspace_id = $1 AND call_id = $2")
            .bind(workspace_id)
            .bind(call_id)
            .execute(db.pool())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_follows_the_heartbeat_the_choice_and_the_call() {
        let seen = 1_000_000;
        assert_eq!(presence_at(Availability::Online, false, seen, seen + 1_000), Presence::Online);
        assert_eq!(presence_at(Availability::Away, false, seen, seen + 1_000), Presence::Away);
        assert_eq!(presence_at(Availability::Away, true, seen, seen + 1_000), Presence::Busy, "a call wins");
        assert_eq!(
            presence_at(Availability::Online, true, seen, seen + OFFLINE_AFTER + 1),
            Presence::Offline
        );
        assert_eq!(presence_at(Availability::Online, false, seen, seen + OFFLINE_AFTER), Presence::Online);
    }
}
