//! Background upkeep: calls that ring past their answer window with no word from WhatsApp are
//! closed as missed, so no agent keeps seeing a call nobody can answer any more; wallet holds
//! whose call never settled (a lost webhook) expire and give the money back.

use std::time::Duration;

use calling::{Services, billing, ingest};

/// How often ringing calls are checked.
const EVERY: Duration = Duration::from_secs(1);

/// Starts the sweeper; it runs for the life of the process.
pub fn start(services: Services) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(EVERY);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            match ingest::expire_unanswered(&services).await {
                Ok(0) => {}
                Ok(closed) => tracing::info!(closed, "closed calls whose answer window passed"),
                Err(err) => tracing::warn!(error = %err, "could not close expired calls"),
            }
            match billing::holds::expire_holds(&services.db, services.clock.now()).await {
                Ok(0) => {}
                Ok(released) => tracing::info!(released, "released wallet holds that were never settled"),
                Err(err) => tracing::warn!(error = %err, "could not expire wallet holds"),
            }
        }
    });
}
