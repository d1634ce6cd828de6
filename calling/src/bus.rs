//! The live event bus: tells every interested browser (through the server's SSE endpoint) that
//! a call or a permission changed, in whichever server replica the change happened.
//!
//! One server: an in-process broadcast. Several replicas on one PostgreSQL database: each
//! publish is a `NOTIFY` on one channel and every replica `LISTEN`s, so a webhook received by
//! replica A rings an agent whose browser is connected to replica B. In PostgreSQL mode an
//! event reaches local subscribers through the database too, so every replica sees the same
//! stream in the same order.
//!
//! Events are small notices (ids, kinds, statuses), never whole records: PostgreSQL limits a
//! notification to 8000 bytes, and browsers fetch details they are allowed to see.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::broadcast;

use crate::{Error, Result};

/// The PostgreSQL channel every replica listens on.
pub const CHANNEL: &str = "switchboard_events";

/// Largest serialized event PostgreSQL will carry (its limit is 8000 bytes, minus headroom).
pub const MAX_EVENT_BYTES: usize = 7_900;

/// How many events a slow subscriber may lag behind before it misses some (and must resync).
const BUFFER: usize = 1_024;

/// A change worth showing live.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveEvent {
    /// The tenant; subscribers only see their workspace's events.
    pub workspace_id: String,
    /// What happened, e.g. `call.updated`, `permission.updated`.
    pub topic: String,
    /// The record it concerns (a call id, a contact number, …).
    pub subject: String,
    /// Small extra facts (new status, …).
    #[serde(default)]
    pub data: Value,
    /// When it happened, unix milliseconds.
    pub at: i64,
}

/// Publishes and subscribes to [`LiveEvent`]s. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<LiveEvent>>,
    transport: Transport,
}

#[derive(Clone, Debug)]
enum Transport {
    InProcess,
    Postgres(PgPool),
}

impl EventBus {
    /// A bus for a single server process.
    pub fn in_process() -> Self {
        EventBus { sender: broadcast::channel(BUFFER).0, transport: Transport::InProcess }
    }

    /// A bus shared by every replica connected to the PostgreSQL database at `url`.
    ///
    /// Starts a background task that listens on [`CHANNEL`] (reconnecting by itself) and
    /// forwards notifications to this process's subscribers.
    pub async fn postgres(url: &str) -> Result<Self> {
        let unavailable = |err: sqlx::Error| Error::Unavailable { message: format!("event bus: {err}") };
        let pool = PgPool::connect(url).await.map_err(unavailable)?;
        let mut listener = PgListener::connect_with(&pool).await.map_err(unavailable)?;
        listener.listen(CHANNEL).await.map_err(unavailable)?;
        let sender = broadcast::channel(BUFFER).0;
        let forward = sender.clone();
        tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(notification) => match serde_json::from_str::<LiveEvent>(notification.payload()) {
                        // No subscribers is normal (nobody online); ignore the send error.
                        Ok(event) => drop(forward.send(Arc::new(event))),
                        Err(err) => tracing::warn!(error = %err, "ignoring a malformed live event"),
                    },
                    Err(err) => {
                        // PgListener reconnects on the next recv; back off meanwhile.
                        tracing::warn!(error = %err, "event bus listener lost its connection; retrying");
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                }
            }
        });
        Ok(EventBus { sender, transport: Transport::Postgres(pool) })
    }

    /// Sends `event` to every subscriber of its workspace, on every replica.
    pub async fn publish(&self, event: LiveEvent) -> Result<()> {
        match &self.transport {
            Transport::InProcess => {
                drop(self.sender.send(Arc::new(event)));
                Ok(())
            }
            Transport::Postgres(pool) => {
                let payload = serde_json::to_string(&event).map_err(Error::internal)?;
                if payload.len() > MAX_EVENT_BYTES {
                    return Err(Error::internal(format!(
                        "live event {} is {} bytes; events must stay under {MAX_EVENT_BYTES}",
                        event.topic,
                        payload.len()
                    )));
                }
                sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(pool).await?;
                Ok(())
            }
        }
    }

    /// Events of `workspace_id` from now on.
    pub fn subscribe(&self, workspace_id: &str) -> Subscription {
        Subscription { receiver: self.sender.subscribe(), workspace_id: workspace_id.to_owned() }
    }
}

/// One subscriber's stream of its workspace's events.
pub struct Subscription {
    receiver: broadcast::Receiver<Arc<LiveEvent>>,
    workspace_id: String,
}

/// Why [`Subscription::next`] returned no event.
#[derive(Debug, PartialEq, Eq)]
pub enum Missed {
    /// The subscriber fell behind and `n` events were dropped: it should reload its state.
    Lagged(u64),
    /// The bus is gone (shutdown).
    Closed,
}

impl Subscription {
    /// The next event of this workspace.
    pub async fn next(&mut self) -> Result<Arc<LiveEvent>, Missed> {
        loop {
            match self.receiver.recv().await {
                Ok(event) if event.workspace_id == self.workspace_id => return Ok(event),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(n)) => return Err(Missed::Lagged(n)),
                Err(broadcast::error::RecvError::Closed) => return Err(Missed::Closed),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(workspace: &str, subject: &str) -> LiveEvent {
        LiveEvent {
            workspace_id: workspace.into(),
            topic: "call.updated".into(),
            subject: subject.into(),
            data: serde_json::json!({ "status": "ringing" }),
            at: 1,
        }
    }

    #[tokio::test]
    async fn subscribers_see_only_their_workspace() {
        let bus = EventBus::in_process();
        let mut acme = bus.subscribe("acme");
        let mut other = bus.subscribe("other");
        bus.publish(event("other", "c0")).await.unwrap();
        bus.publish(event("acme", "c1")).await.unwrap();
        assert_eq!(acme.next().await.unwrap().subject, "c1");
        assert_eq!(other.next().await.unwrap().subject, "c0");
    }

    #[tokio::test]
    async fn a_slow_subscriber_learns_it_missed_events() {
        let bus = EventBus::in_process();
        let mut slow = bus.subscribe("acme");
        for i in 0..(BUFFER + 5) {
            bus.publish(event("acme", &i.to_string())).await.unwrap();
        }
        assert_eq!(slow.next().await.unwrap_err(), Missed::Lagged(5));
        assert_eq!(slow.next().await.unwrap().subject, "5");
    }
}
