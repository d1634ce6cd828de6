//! Subscriptions: one per workspace (plan, status, current period end) and the rule that
//! decides whether a workspace may spend money on paid actions.
//!
//! Decisions (issue 6):
//! - **No row means no subscription**, treated like `expired`: paid actions are refused with
//!   `subscription_expired`.
//! - **A workspace gets a [`TRIAL_DAYS`] trial when it gets its first owner**, in the same
//!   transaction: `accounts::setup` (the first run, which may adopt the workspace sandbox mode
//!   created at start-up) and `accounts::create_owner` when it creates the workspace (the CLI's
//!   `admin create-owner`). A fresh workspace can therefore make paid calls as soon as its wallet
//!   is topped up. `workspace::create` alone is the bare tenant and starts nothing. Sandbox
//!   numbers are free and skip billing altogether (see [`super::preflight`]).
//! - `active` allows paid actions until `current_period_end`; `past_due` (a renewal failed) is a
//!   grace period that still allows them until `current_period_end`; `expired`, or any status
//!   once `current_period_end` has passed, blocks them.
//! - Inbound (user-initiated) calls are never checked: answering costs nothing and must work
//!   whatever the subscription says.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::AnyConnection;

use crate::storage::Db;
use crate::{Error, Result};

/// How long [`start_trial`] lasts.
pub const TRIAL_DAYS: i64 = 14;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Active,
    PastDue,
    Expired,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Expired => "expired",
        }
    }

    pub fn parse(raw: &str) -> Result<Self> {
        match raw {
            "active" => Ok(SubscriptionStatus::Active),
            "past_due" => Ok(SubscriptionStatus::PastDue),
            "expired" => Ok(SubscriptionStatus::Expired),
            _ => Err(Error::validation("status", "expected active, past_due or expired")),
        }
    }
}

/// A workspace's subscription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Subscription {
    pub workspace_id: String,
    pub plan: String,
    pub status: SubscriptionStatus,
    /// Unix ms; paid actions stop at this instant whatever the status.
    pub current_period_end: i64,
    pub updated_at: i64,
}

impl Subscription {
    /// Whether paid actions are allowed at `now`.
    pub fn allows_paid_actions(&self, now: i64) -> bool {
        matches!(self.status, SubscriptionStatus::Active | SubscriptionStatus::PastDue)
            && now < self.current_period_end
    }

    /// Whole days until the period ends at `now`, rounded up; 0 once it has ended.
    pub fn days_left(&self, now: i64) -> i64 {
        let left = (self.current_period_end - now).max(0);
        left / DAY_MS + i64::from(left % DAY_MS != 0)
    }

    /// The status as it stands at `now` (an active subscription past its end is expired).
    pub fn effective_status(&self, now: i64) -> SubscriptionStatus {
        if now >= self.current_period_end { SubscriptionStatus::Expired } else { self.status }
    }
}

type Row = (String, String, String, i64, i64);

fn from_row((workspace_id, plan, status, current_period_end, updated_at): Row) -> Result<Subscription> {
    Ok(Subscription {
        workspace_id,
        plan,
        status: SubscriptionStatus::parse(&status).map_err(Error::internal)?,
        current_period_end,
        updated_at,
    })
}

const SELECT: &str = "SELECT workspace_id, plan, status, current_period_end, updated_at FROM subscriptions WHERE workspace_id = $1";

/// The workspace's subscription, if it has one.
pub async fn get(db: &Db, workspace_id: &str) -> Result<Option<Subscription>> {
    let row: Option<Row> = sqlx::query_as(SELECT).bind(workspace_id).fetch_optional(db.pool()).await?;
    row.map(from_row).transpose()
}

/// A plan's name: trimmed, 1 to 64 characters.
pub fn parse_plan(raw: &str) -> Result<&str> {
    let plan = raw.trim();
    if plan.is_empty() || plan.chars().count() > 64 {
        return Err(Error::validation("plan", "must be 1 to 64 characters"));
    }
    Ok(plan)
}

/// Creates or replaces the workspace's subscription (an admin's or a payment provider's verdict).
pub async fn set(
    db: &Db,
    workspace_id: &str,
    plan: &str,
    status: SubscriptionStatus,
    current_period_end: i64,
    now: i64,
) -> Result<Subscription> {
    let plan = parse_plan(plan)?;
    sqlx::query(
        "INSERT INTO subscriptions (workspace_id, plan, status, current_period_end, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (workspace_id) DO UPDATE SET plan = excluded.plan, status = excluded.status, \
           current_period_end = excluded.current_period_end, updated_at = excluded.updated_at",
    )
    .bind(workspace_id)
    .bind(plan)
    .bind(status.as_str())
    .bind(current_period_end)
    .bind(now)
    .execute(db.pool())
    .await?;
    tracing::info!(workspace_id, plan, status = status.as_str(), current_period_end, "subscription set");
    get(db, workspace_id).await?.ok_or(Error::NotFound { what: "subscription" })
}

/// Gives a workspace without a subscription a [`TRIAL_DAYS`] `trial` plan; leaves an existing
/// subscription alone. Returns the subscription in force.
pub async fn start_trial(db: &Db, workspace_id: &str, now: i64) -> Result<Subscription> {
    let mut conn = db.pool().acquire().await?;
    start_trial_in(&mut conn, workspace_id, now).await?;
    get(db, workspace_id).await?.ok_or(Error::NotFound { what: "subscription" })
}

/// [`start_trial`] inside a caller's transaction (the one creating the workspace).
pub(crate) async fn start_trial_in(conn: &mut AnyConnection, workspace_id: &str, now: i64) -> Result<()> {
    let started = sqlx::query(
        "INSERT INTO subscriptions (workspace_id, plan, status, current_period_end, created_at, updated_at) \
         VALUES ($1, 'trial', 'active', $2, $3, $3) ON CONFLICT (workspace_id) DO NOTHING",
    )
    .bind(workspace_id)
    .bind(now + TRIAL_DAYS * DAY_MS)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if started == 1 {
        tracing::info!(workspace_id, days = TRIAL_DAYS, "trial started");
    }
    Ok(())
}

/// Refuses with `subscription_expired` unless the workspace may spend money at `now`.
/// Runs inside the preflight's transaction.
pub(crate) async fn ensure_allows_paid_actions(
    conn: &mut AnyConnection,
    workspace_id: &str,
    now: i64,
) -> Result<()> {
    let row: Option<Row> = sqlx::query_as(SELECT).bind(workspace_id).fetch_optional(&mut *conn).await?;
    let subscription = row.map(from_row).transpose()?;
    match subscription {
        Some(subscription) if subscription.allows_paid_actions(now) => Ok(()),
        Some(subscription) => Err(Error::PaymentRequired {
            code: "subscription_expired",
            message: format!("the workspace's {} subscription has expired", subscription.plan),
            details: json!({
                "required": "an active subscription",
                "plan": subscription.plan,
                "status": subscription.effective_status(now).as_str(),
                "current_period_end": subscription.current_period_end,
                "hint": "Renew the subscription in Admin → Billing; answering inbound calls keeps working.",
            }),
        }),
        None => Err(Error::PaymentRequired {
            code: "subscription_expired",
            message: "the workspace has no active subscription".to_owned(),
            details: json!({
                "required": "an active subscription",
                "plan": null,
                "status": "expired",
                "current_period_end": null,
                "hint": "Start a subscription in Admin → Billing; answering inbound calls keeps working.",
            }),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(status: SubscriptionStatus, end: i64) -> Subscription {
        Subscription {
            workspace_id: "w".into(),
            plan: "p".into(),
            status,
            current_period_end: end,
            updated_at: 0,
        }
    }

    #[test]
    fn paid_actions_need_a_live_period() {
        assert!(subscription(SubscriptionStatus::Active, 100).allows_paid_actions(99));
        assert!(!subscription(SubscriptionStatus::Active, 100).allows_paid_actions(100));
        assert!(subscription(SubscriptionStatus::PastDue, 100).allows_paid_actions(50));
        assert!(!subscription(SubscriptionStatus::Expired, 100).allows_paid_actions(50));
        assert_eq!(
            subscription(SubscriptionStatus::Active, 100).effective_status(150),
            SubscriptionStatus::Expired
        );
    }

    #[test]
    fn days_left_round_up_and_stop_at_zero() {
        let ends = subscription(SubscriptionStatus::Active, 14 * DAY_MS);
        assert_eq!(ends.days_left(0), 14);
        assert_eq!(ends.days_left(1), 14);
        assert_eq!(ends.days_left(13 * DAY_MS), 1);
        assert_eq!(ends.days_left(14 * DAY_MS), 0);
        assert_eq!(ends.days_left(20 * DAY_MS), 0);
        assert_eq!(parse_plan("  pro ").unwrap(), "pro");
        assert!(parse_plan(" ").is_err() && parse_plan(&"p".repeat(65)).is_err());
    }
}
