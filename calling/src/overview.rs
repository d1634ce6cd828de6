//! The page-header card of `/calling`: how today (or the last days) went at a glance.

use serde::{Deserialize, Serialize};

/// The window the card summarises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OverviewPeriod {
    /// Since 00:00 UTC today.
    #[default]
    Today,
    /// The last 7 days, today included.
    SevenDays,
}

impl OverviewPeriod {
    /// Days covered, today included.
    pub fn days(self) -> i64 {
        match self {
            OverviewPeriod::Today => 1,
            OverviewPeriod::SevenDays => 7,
        }
    }

    /// How the period reads in the UI.
    pub fn label(self) -> &'static str {
        match self {
            OverviewPeriod::Today => "Today",
            OverviewPeriod::SevenDays => "Last 7 days",
        }
    }
}

/// Call figures for one workspace over one period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Overview {
    pub period: OverviewPeriod,
    /// Start of the period, unix milliseconds.
    pub since: i64,
    pub calls: i64,
    pub answered: i64,
    pub missed: i64,
    pub failed: i64,
    /// Sum of the durations of answered calls, seconds.
    pub talk_seconds: i64,
    /// What the period's calls cost, micro-units of the wallet currency.
    pub spend_micros: i64,
}

impl Overview {
    /// Answered share of all calls, in whole percent; `None` when there were no calls (a rate
    /// of 0 % would be a lie).
    pub fn answer_rate_percent(&self) -> Option<i64> {
        (self.calls > 0).then(|| (self.answered * 100 + self.calls / 2) / self.calls)
    }

    /// Mean talk time of answered calls, seconds; `None` when nothing was answered.
    pub fn average_duration_seconds(&self) -> Option<i64> {
        (self.answered > 0).then(|| (self.talk_seconds + self.answered / 2) / self.answered)
    }
}

#[cfg(feature = "server")]
mod load {
    use super::*;
    use crate::clock::{DAY, start_of_utc_day};
    use crate::storage::Db;

    impl Overview {
        /// Reads the figures for `workspace_id` from the database.
        pub async fn load(
            db: &Db,
            workspace_id: &str,
            period: OverviewPeriod,
            now: i64,
        ) -> crate::Result<Overview> {
            let since = start_of_utc_day(now) - (period.days() - 1) * DAY;
            let row: (i64, i64, i64, i64, i64, i64) = sqlx::query_as(
                "SELECT CAST(COUNT(*) AS BIGINT), \
                        CAST(COALESCE(SUM(CASE WHEN answered_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT), \
                        CAST(COALESCE(SUM(CASE WHEN status = 'missed' THEN 1 ELSE 0 END), 0) AS BIGINT), \
                        CAST(COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT), \
                        CAST(COALESCE(SUM(CASE WHEN answered_at IS NOT NULL THEN COALESCE(duration_seconds, 0) ELSE 0 END), 0) AS BIGINT), \
                        CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) \
                 FROM calls WHERE workspace_id = $1 AND started_at >= $2",
            )
            .bind(workspace_id)
            .bind(since)
            .fetch_one(db.pool())
            .await?;
            let (calls, answered, missed, failed, talk_seconds, spend_micros) = row;
            Ok(Overview { period, since, calls, answered, missed, failed, talk_seconds, spend_micros })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_absent_without_calls_and_rounded_with_them() {
        let empty = Overview::default();
        assert_eq!(empty.answer_rate_percent(), None);
        assert_eq!(empty.average_duration_seconds(), None);

        let two_of_three = Overview { calls: 3, answered: 2, talk_seconds: 61, ..Overview::default() };
        assert_eq!(two_of_three.answer_rate_percent(), Some(67));
        assert_eq!(two_of_three.average_duration_seconds(), Some(31));
    }
}
