//! Call settings kept per number: what the business set here (validated by Meta's rules and
//! pushed to WhatsApp) beside what WhatsApp last reported, and the drift between the two.
//!
//! A change is stored only after WhatsApp accepted it, so the page never shows settings that
//! are not in force; what WhatsApp reports is re-read right after a push and whenever its
//! `account_settings_update` webhook arrives.

use serde::{Deserialize, Serialize};

use crate::graph::GraphClient;
use crate::numbers::WhatsAppNumber;
use crate::settings::{CallingSettings, SettingsDrift, drift};
use crate::storage::Db;
use crate::{Error, Result, Services};

/// A number's settings as the settings page shows them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct NumberSettings {
    /// What was last set here and accepted by WhatsApp.
    pub desired: Option<CallingSettings>,
    pub pushed_at: Option<i64>,
    /// What WhatsApp last reported.
    pub remote: Option<CallingSettings>,
    pub remote_fetched_at: Option<i64>,
    /// Fields where the two differ (empty when either side is unknown).
    pub drift: Vec<SettingsDrift>,
}

type Row = (Option<String>, Option<i64>, Option<String>, Option<i64>);

fn parse(raw: Option<String>) -> Result<Option<CallingSettings>> {
    raw.map(|json| serde_json::from_str(&json).map_err(Error::internal)).transpose()
}

/// The stored settings of a number.
pub async fn load(db: &Db, number_id: &str) -> Result<NumberSettings> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT desired, pushed_at, remote, remote_fetched_at FROM call_settings WHERE number_id = $1",
    )
    .bind(number_id)
    .fetch_optional(db.pool())
    .await?;
    let Some((desired, pushed_at, remote, remote_fetched_at)) = row else {
        return Ok(NumberSettings::default());
    };
    let (desired, remote) = (parse(desired)?, parse(remote)?);
    let drift = match (&desired, &remote) {
        (Some(desired), Some(remote)) => drift(desired, remote),
        _ => Vec::new(),
    };
    Ok(NumberSettings { desired, pushed_at, remote, remote_fetched_at, drift })
}

/// Validates `settings` by Meta's rules, pushes them to WhatsApp, and only then stores them;
/// then re-reads what WhatsApp has. Invalid settings or a refusal from WhatsApp change nothing.
pub async fn apply(
    services: &Services,
    client: &GraphClient,
    number: &WhatsAppNumber,
    settings: &CallingSettings,
) -> Result<NumberSettings> {
    let now = services.clock.now();
    settings.validate(now)?;
    let target = services.graph_target(number).await?;
    client.update_settings(&target, settings).await?;
    let desired = serde_json::to_string(settings).map_err(Error::internal)?;
    sqlx::query(
        "INSERT INTO call_settings (number_id, workspace_id, desired, pushed_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (number_id) DO UPDATE SET desired = $3, pushed_at = $4, updated_at = $4",
    )
    .bind(&number.id)
    .bind(&number.workspace_id)
    .bind(desired)
    .bind(now)
    .execute(services.db.pool())
    .await?;
    match refresh(services, client, number).await {
        Ok(settings) => Ok(settings),
        // The push succeeded; a failed re-read only leaves the drift unknown for now.
        Err(err) => {
            tracing::warn!(number = %number.phone_number_id, error = %err, "could not re-read settings after a push");
            load(&services.db, &number.id).await
        }
    }
}

/// Reads the settings WhatsApp has for `number` and stores them as the remote side.
pub async fn refresh(
    services: &Services,
    client: &GraphClient,
    number: &WhatsAppNumber,
) -> Result<NumberSettings> {
    let target = services.graph_target(number).await?;
    let remote = client.get_settings(&target).await?;
    record_remote(services.db.pool(), number, &remote, services.clock.now()).await?;
    load(&services.db, &number.id).await
}

/// Stores what WhatsApp reported (from GET settings or the `account_settings_update` webhook).
pub async fn record_remote<'c, E>(
    executor: E,
    number: &WhatsAppNumber,
    remote: &CallingSettings,
    now: i64,
) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let remote = serde_json::to_string(remote).map_err(Error::internal)?;
    sqlx::query(
        "INSERT INTO call_settings (number_id, workspace_id, remote, remote_fetched_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (number_id) DO UPDATE SET remote = $3, remote_fetched_at = $4, updated_at = $4",
    )
    .bind(&number.id)
    .bind(&number.workspace_id)
    .bind(remote)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(())
}
