//! Reconciling the permission ledger with WhatsApp's own view (`GET call_permissions`).
//!
//! The ledger is built from webhooks and our own sends, so a lost `call_permission_reply` (or a
//! grant made while the webhook endpoint was down) leaves it wrong until somebody asks WhatsApp.
//! Every active (number, user) pair is therefore compared with WhatsApp periodically, and any
//! pair can be compared on demand; where the two disagree, WhatsApp's answer is appended to the
//! ledger as a `Synced` fact, which [`crate::permissions::evaluate`] treats as authoritative as
//! of its time. Agreement appends nothing, so the timeline only shows real corrections.

use serde::{Deserialize, Serialize};

use crate::graph::GraphClient;
use crate::ledger::{self, Pair, PermissionLookup, Source};
use crate::numbers::{self, WhatsAppNumber};
use crate::permissions::{self, PermissionEvent, PermissionLimits, PermissionRecord, PermissionStatus};
use crate::phone::PhoneNumber;
use crate::{Result, Services};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// A pair is compared again once its last comparison is this old.
pub const RESYNC_AFTER: i64 = 6 * HOUR;
/// Only pairs with a ledger fact or a call this recent are compared periodically: older ones
/// cannot have a temporary permission left, and nobody is about to call them.
pub const ACTIVE_WITHIN: i64 = 30 * DAY;
/// Temporary expiries closer than this count as the same (WhatsApp reports whole seconds and
/// dates a grant when it processed it, we when the webhook said it happened).
const EXPIRY_TOLERANCE: i64 = 5 * MINUTE;

/// Whether the ledger's status and WhatsApp's say the same thing.
pub fn agrees(ours: PermissionStatus, theirs: PermissionStatus) -> bool {
    match (ours, theirs) {
        (PermissionStatus::Temporary { expires_at: a }, PermissionStatus::Temporary { expires_at: b }) => {
            (a - b).abs() <= EXPIRY_TOLERANCE
        }
        (ours, theirs) => ours.as_str() == theirs.as_str(),
    }
}

/// What one comparison found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Reconciled {
    /// The ledger's status before the comparison.
    pub ledger_status: PermissionStatus,
    /// What WhatsApp said.
    pub whatsapp_status: PermissionStatus,
    /// Whether a `Synced` fact was appended because the two disagreed.
    pub corrected: bool,
    /// The pair as the ledger now sees it.
    pub lookup: PermissionLookup,
}

/// Asks WhatsApp about `contact` and corrects the ledger if it disagrees. Publishes
/// `permission.updated` when it corrected something.
pub async fn reconcile(
    services: &Services,
    client: &GraphClient,
    number: &WhatsAppNumber,
    contact: &PhoneNumber,
    limits: &PermissionLimits,
) -> Result<Reconciled> {
    let remote = client.call_permissions(&services.graph_target(number).await?, contact).await?;
    let now = services.clock.now();
    let whatsapp_status = remote.status(now);
    let history = ledger::history(&services.db, &number.id, contact).await?;
    let ledger_status = permissions::evaluate(&history, now, limits).status;
    let corrected = !agrees(ledger_status, whatsapp_status);
    if corrected {
        let pair = Pair { workspace_id: &number.workspace_id, number_id: &number.id, contact };
        let fact = PermissionRecord::new(now, PermissionEvent::Synced { status: whatsapp_status });
        let dedupe_key = format!("sync:{now}");
        ledger::record(services.db.pool(), &pair, &fact, Source::Sync, &dedupe_key, now).await?;
        tracing::info!(
            number_id = %number.id,
            ours = ledger_status.as_str(),
            whatsapp = whatsapp_status.as_str(),
            "the permission ledger disagreed with WhatsApp; took WhatsApp's word"
        );
        ledger::publish_update(services, &number.workspace_id, contact.e164(), now).await;
    }
    let lookup = ledger::lookup(&services.db, &number.id, contact, now, limits).await?;
    Ok(Reconciled { ledger_status, whatsapp_status, corrected, lookup })
}

/// What a periodic pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub agreed: usize,
    pub corrected: usize,
    pub failed: usize,
}

/// Compares up to `batch` active pairs whose last comparison is older than [`RESYNC_AFTER`]
/// (never compared first). Each pair is claimed in storage before WhatsApp is asked, so
/// replicas sharing a database split the work instead of repeating it. A pair WhatsApp cannot
/// answer for is marked failed and tried again after the same interval.
pub async fn reconcile_due(
    services: &Services,
    client: &GraphClient,
    batch: i64,
    limits: &PermissionLimits,
) -> Result<Pass> {
    let now = services.clock.now();
    let due: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT active.workspace_id, active.number_id, active.contact_number FROM ( \
           SELECT workspace_id, number_id, contact_number FROM permission_events WHERE at >= $1 \
           UNION SELECT workspace_id, number_id, contact_number FROM calls \
             WHERE number_id IS NOT NULL AND started_at >= $1 \
         ) active \
         LEFT JOIN permission_syncs synced \
           ON synced.number_id = active.number_id AND synced.contact_number = active.contact_number \
         WHERE synced.synced_at IS NULL OR synced.synced_at < $2 \
         ORDER BY COALESCE(synced.synced_at, 0), active.number_id, active.contact_number \
         LIMIT $3",
    )
    .bind(now - ACTIVE_WITHIN)
    .bind(now - RESYNC_AFTER)
    .bind(batch)
    .fetch_all(services.db.pool())
    .await?;

    let mut pass = Pass::default();
    for (workspace_id, number_id, contact_number) in due {
        if !claim(services, &number_id, &contact_number, now).await? {
            continue; // another replica took it
        }
        let outcome = async {
            let contact = PhoneNumber::parse(&contact_number)?;
            let number = numbers::get(&services.db, &workspace_id, &number_id).await?;
            reconcile(services, client, &number, &contact, limits).await
        }
        .await;
        let recorded = match outcome {
            Ok(found) if found.corrected => {
                pass.corrected += 1;
                "corrected"
            }
            Ok(_) => {
                pass.agreed += 1;
                "agreed"
            }
            Err(err) => {
                pass.failed += 1;
                tracing::warn!(%number_id, error = %err, "could not compare a permission with WhatsApp");
                "failed"
            }
        };
        sqlx::query("UPDATE permission_syncs SET outcome = $1 WHERE number_id = $2 AND contact_number = $3")
            .bind(recorded)
            .bind(&number_id)
            .bind(&contact_number)
            .execute(services.db.pool())
            .await?;
    }
    Ok(pass)
}

/// Moves the pair's `synced_at` to `now` unless another replica did so within
/// [`RESYNC_AFTER`]. Returns whether this caller now owns the comparison.
async fn claim(services: &Services, number_id: &str, contact_number: &str, now: i64) -> Result<bool> {
    let claimed = sqlx::query(
        "INSERT INTO permission_syncs (number_id, contact_number, synced_at, outcome) VALUES ($1, $2, $3, 'pending') \
         ON CONFLICT (number_id, contact_number) DO UPDATE SET synced_at = excluded.synced_at, outcome = 'pending' \
         WHERE permission_syncs.synced_at < $4",
    )
    .bind(number_id)
    .bind(contact_number)
    .bind(now)
    .bind(now - RESYNC_AFTER)
    .execute(services.db.pool())
    .await?
    .rows_affected();
    Ok(claimed == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_700_000_000_000;

    #[test]
    fn statuses_agree_by_kind_and_temporary_expiries_within_tolerance() {
        use PermissionStatus::*;
        assert!(agrees(NoPermission, NoPermission));
        assert!(agrees(Permanent, Permanent));
        assert!(!agrees(NoPermission, Permanent));
        assert!(!agrees(Temporary { expires_at: T }, Permanent));
        assert!(!agrees(NoPermission, Temporary { expires_at: T }));
        assert!(agrees(Temporary { expires_at: T }, Temporary { expires_at: T + EXPIRY_TOLERANCE }));
        assert!(agrees(Temporary { expires_at: T }, Temporary { expires_at: T - 1000 }));
        assert!(!agrees(Temporary { expires_at: T }, Temporary { expires_at: T + EXPIRY_TOLERANCE + 1 }));
    }
}
