//! Background upkeep: calls that ring past their answer window with no word from WhatsApp are
//! closed as missed, so no agent keeps seeing a call nobody can answer any more; wallet holds
//! whose call never settled (a lost webhook) expire and give the money back; calls whose
//! agent's browser went silent mid-call (a closed tab whose beacon was lost) are ended; and the
//! permission ledger is compared with WhatsApp's `GET call_permissions` a few pairs at a time.

use std::time::Duration;

use calling::graph::GraphClient;
use calling::permissions::PermissionLimits;
use calling::{Services, billing, call_actions, ingest, permission_sync, presence};

/// How often ringing calls are checked.
const EVERY: Duration = Duration::from_secs(1);
/// How often (in sweeps) due permission pairs are compared with WhatsApp, and how many per go:
/// a steady trickle of reads that stays far below Meta's rate limits.
const PERMISSION_SYNC_EVERY: u32 = 60;
const PERMISSION_SYNC_BATCH: i64 = 50;

/// Starts the sweeper; it runs for the life of the process.
pub fn start(services: Services) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(EVERY);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for sweep in 0u32.. {
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
            if let Err(err) = end_abandoned_calls(&services).await {
                tracing::warn!(error = %err, "could not end abandoned calls");
            }
            if sweep % PERMISSION_SYNC_EVERY == 0 {
                reconcile_permissions(&services).await;
            }
        }
    });
}

async fn reconcile_permissions(services: &Services) {
    let pass = async {
        let client = GraphClient::new()?;
        permission_sync::reconcile_due(
            services,
            &client,
            PERMISSION_SYNC_BATCH,
            &PermissionLimits::PRODUCTION,
        )
        .await
    }
    .await;
    match pass {
        Ok(pass) if pass.corrected + pass.failed > 0 => {
            tracing::info!(?pass, "compared call permissions with WhatsApp")
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "could not compare call permissions with WhatsApp"),
    }
}

/// Ends the calls whose agent's browser stopped sending heartbeats while on them. Returns how
/// many were ended at WhatsApp.
pub async fn end_abandoned_calls(services: &Services) -> calling::Result<usize> {
    let abandoned = presence::abandoned_calls(&services.db, services.clock.now()).await?;
    if abandoned.is_empty() {
        return Ok(0);
    }
    let client = GraphClient::new()?;
    let mut ended = 0;
    for (workspace_id, call_id) in abandoned {
        // Forget it first: a call WhatsApp refuses to end must not be retried every second.
        presence::clear_call(&services.db, &workspace_id, &call_id).await?;
        let call = call_actions::load(services, &workspace_id, &call_id).await?;
        match call_actions::terminate(services, &client, &call).await {
            Ok(_) => {
                ended += 1;
                tracing::warn!(%call_id, "ended a call whose agent's browser went silent");
            }
            Err(err) => tracing::warn!(%call_id, error = %err, "could not end an abandoned call"),
        }
    }
    Ok(ended)
}
