//! Call analytics: totals and a day-by-day series over a period, for the analytics page, the
//! REST API (`analytics.daily_series[]` with `date`, `count`, `failed_count`, …) and the CLI.
//! Days are UTC days.

use serde::{Deserialize, Serialize};

/// The window analytics cover.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AnalyticsPeriod {
    Today,
    #[serde(rename = "7d")]
    SevenDays,
    #[default]
    #[serde(rename = "30d")]
    ThirtyDays,
    /// Days chosen by the user ([`Analytics::load_between`]).
    Custom,
}

/// The longest custom range, in days.
pub const MAX_CUSTOM_DAYS: i64 = 366;

impl AnalyticsPeriod {
    /// Every period, in the order the selector lists them.
    pub const ALL: [AnalyticsPeriod; 3] =
        [AnalyticsPeriod::Today, AnalyticsPeriod::SevenDays, AnalyticsPeriod::ThirtyDays];

    /// Parses the API spelling: `today`, `7d`, `30d`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "today" => Some(AnalyticsPeriod::Today),
            "7d" => Some(AnalyticsPeriod::SevenDays),
            "30d" => Some(AnalyticsPeriod::ThirtyDays),
            "custom" => Some(AnalyticsPeriod::Custom),
            _ => None,
        }
    }

    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AnalyticsPeriod::Today => "today",
            AnalyticsPeriod::SevenDays => "7d",
            AnalyticsPeriod::ThirtyDays => "30d",
            AnalyticsPeriod::Custom => "custom",
        }
    }

    /// Days covered, today included; `None` for a custom range (its own dates say).
    pub fn days(self) -> Option<i64> {
        match self {
            AnalyticsPeriod::Today => Some(1),
            AnalyticsPeriod::SevenDays => Some(7),
            AnalyticsPeriod::ThirtyDays => Some(30),
            AnalyticsPeriod::Custom => None,
        }
    }

    /// How the period reads in the UI.
    pub fn label(self) -> &'static str {
        match self {
            AnalyticsPeriod::Today => "Today",
            AnalyticsPeriod::SevenDays => "Last 7 days",
            AnalyticsPeriod::ThirtyDays => "Last 30 days",
            AnalyticsPeriod::Custom => "Custom",
        }
    }
}

/// One day of the series. Every day of the period is present, calls or not.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct DailyPoint {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Calls that started that day.
    pub count: i64,
    pub answered_count: i64,
    pub missed_count: i64,
    pub rejected_count: i64,
    pub failed_count: i64,
    /// Mean talk time of that day's answered calls, seconds.
    pub average_duration_seconds: Option<i64>,
    /// What the day's calls cost, micro-units.
    pub cost_micros: i64,
}

/// Totals and the daily series of one period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Analytics {
    pub period: AnalyticsPeriod,
    /// Start of the first day, unix ms.
    pub since: i64,
    /// End of the last day (exclusive), unix ms.
    #[serde(default)]
    pub until: i64,
    pub total_calls: i64,
    pub answered_calls: i64,
    pub missed_calls: i64,
    pub failed_calls: i64,
    /// Answered share in whole percent; `None` without calls.
    pub answer_rate_percent: Option<i64>,
    pub average_duration_seconds: Option<i64>,
    pub cost_micros: i64,
    pub daily_series: Vec<DailyPoint>,
    /// When calls come: `hour_of_week[weekday][hour]` counts the period's calls by UTC weekday
    /// (Monday first) and hour of day — the staffing heatmap.
    #[serde(default)]
    pub hour_of_week: Vec<Vec<i64>>,
    /// Each agent who took (answered or placed) calls in the period, most calls first.
    #[serde(default)]
    pub agents: Vec<AgentStats>,
}

/// One agent's calls in the period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct AgentStats {
    pub agent_id: String,
    pub name: String,
    /// Calls they took (inbound answered or outbound placed).
    pub calls: i64,
    /// Of those, how many connected (someone spoke).
    pub answered: i64,
    pub talk_seconds: i64,
    pub average_duration_seconds: Option<i64>,
}

/// The weekday (0 = Monday) and hour of day (0–23) of unix milliseconds, in UTC.
pub fn weekday_and_hour(millis: i64) -> (usize, usize) {
    let days = millis.div_euclid(86_400_000);
    // 1970-01-01 was a Thursday (weekday 3).
    (((days + 3).rem_euclid(7)) as usize, (millis.rem_euclid(86_400_000) / 3_600_000) as usize)
}

pub use crate::dates::date_of_day;

#[cfg(feature = "server")]
fn rounded_ratio(numerator: i64, denominator: i64) -> Option<i64> {
    (denominator > 0).then(|| (numerator + denominator / 2) / denominator)
}

#[cfg(feature = "server")]
mod load {
    use super::*;
    use crate::clock::{DAY, start_of_utc_day};
    use crate::storage::Db;

    use std::collections::BTreeMap;

    /// (hour since the epoch, agent, calls, answered, missed, rejected, failed, talk s, cost).
    type HourRow = (i64, Option<String>, i64, i64, i64, i64, i64, i64, i64);

    impl Analytics {
        /// Reads a workspace's analytics for `period` ending today (a custom period is read
        /// with [`Analytics::load_between`]).
        pub async fn load(
            db: &Db,
            workspace_id: &str,
            period: AnalyticsPeriod,
            now: i64,
        ) -> crate::Result<Analytics> {
            let days = period.days().ok_or_else(|| {
                crate::Error::validation("period", "a custom period needs its from and to dates")
            })?;
            let first_day = start_of_utc_day(now) / DAY - (days - 1);
            Self::load_days(db, workspace_id, period, first_day, days).await
        }

        /// Reads a workspace's analytics from the UTC day of `from` to that of `to`, both
        /// included (`YYYY-MM-DD`, at most [`MAX_CUSTOM_DAYS`] days).
        pub async fn load_between(
            db: &Db,
            workspace_id: &str,
            from: &str,
            to: &str,
        ) -> crate::Result<Analytics> {
            let day = |field: &str, text: &str| {
                crate::dates::start_of_date(text).map(|millis| millis / DAY).ok_or_else(|| {
                    crate::Error::validation(field, format!("{text:?} is not a date (YYYY-MM-DD)"))
                })
            };
            let (first_day, last_day) = (day("from", from)?, day("to", to)?);
            if last_day < first_day {
                return Err(crate::Error::validation("to", "is before from"));
            }
            let days = last_day - first_day + 1;
            if days > MAX_CUSTOM_DAYS {
                return Err(crate::Error::validation(
                    "to",
                    format!("a range covers at most {MAX_CUSTOM_DAYS} days"),
                ));
            }
            Self::load_days(db, workspace_id, AnalyticsPeriod::Custom, first_day, days).await
        }

        async fn load_days(
            db: &Db,
            workspace_id: &str,
            period: AnalyticsPeriod,
            first_day: i64,
            days: i64,
        ) -> crate::Result<Analytics> {
            let since = first_day * DAY;
            let until = (first_day + days) * DAY;
            // One pass over the period's calls, grouped by UTC hour and agent: the daily series,
            // the weekday × hour counts and the per-agent figures are all sums of these groups
            // (hours since the epoch nest in UTC days). Integer division buckets the same way on
            // both dialects.
            let rows: Vec<HourRow> = sqlx::query_as(
                "SELECT started_at / 3600000 AS hour, answered_by, CAST(COUNT(*) AS BIGINT), \
                   CAST(SUM(CASE WHEN answered_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT), \
                   CAST(SUM(CASE WHEN status = 'missed' THEN 1 ELSE 0 END) AS BIGINT), \
                   CAST(SUM(CASE WHEN status = 'rejected' THEN 1 ELSE 0 END) AS BIGINT), \
                   CAST(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS BIGINT), \
                   CAST(SUM(CASE WHEN answered_at IS NOT NULL THEN COALESCE(duration_seconds, 0) ELSE 0 END) AS BIGINT), \
                   CAST(SUM(cost_micros) AS BIGINT) \
                 FROM calls WHERE workspace_id = $1 AND started_at >= $2 AND started_at < $3 \
                 GROUP BY started_at / 3600000, answered_by",
            )
            .bind(workspace_id)
            .bind(since)
            .bind(until)
            .fetch_all(db.pool())
            .await?;

            let mut analytics = Analytics { period, since, until, ..Analytics::default() };
            analytics.daily_series = (first_day..first_day + days)
                .map(|day| DailyPoint { date: date_of_day(day), ..DailyPoint::default() })
                .collect();
            analytics.hour_of_week = vec![vec![0; 24]; 7];
            let mut talk_by_day = vec![0_i64; analytics.daily_series.len()];
            let mut agents: BTreeMap<String, AgentStats> = BTreeMap::new();
            for (hour, agent, count, answered, missed, rejected, failed, talk, cost) in rows {
                let Some(index) = usize::try_from(hour.div_euclid(24) - first_day).ok() else { continue };
                let Some(point) = analytics.daily_series.get_mut(index) else { continue };
                point.count += count;
                point.answered_count += answered;
                point.missed_count += missed;
                point.rejected_count += rejected;
                point.failed_count += failed;
                point.cost_micros += cost;
                talk_by_day[index] += talk;
                let (weekday, hour_of_day) = weekday_and_hour(hour * 3_600_000);
                analytics.hour_of_week[weekday][hour_of_day] += count;
                if let Some(agent_id) = agent {
                    let stats = agents
                        .entry(agent_id.clone())
                        .or_insert_with(|| AgentStats { agent_id, ..AgentStats::default() });
                    stats.calls += count;
                    stats.answered += answered;
                    stats.talk_seconds += talk;
                }
            }
            let mut talk_seconds = 0;
            for (point, talk) in analytics.daily_series.iter_mut().zip(talk_by_day) {
                point.average_duration_seconds = rounded_ratio(talk, point.answered_count);
                talk_seconds += talk;
                analytics.total_calls += point.count;
                analytics.answered_calls += point.answered_count;
                analytics.missed_calls += point.missed_count;
                analytics.failed_calls += point.failed_count;
                analytics.cost_micros += point.cost_micros;
            }
            analytics.answer_rate_percent =
                rounded_ratio(analytics.answered_calls * 100, analytics.total_calls);
            analytics.average_duration_seconds = rounded_ratio(talk_seconds, analytics.answered_calls);

            // The agents' names: a handful of rows, however many calls they took.
            for stats in agents.values_mut() {
                let name: Option<(String,)> = sqlx::query_as("SELECT display_name FROM users WHERE id = $1")
                    .bind(&stats.agent_id)
                    .fetch_optional(db.pool())
                    .await?;
                stats.name = name.map_or_else(|| "Former member".to_owned(), |(name,)| name);
                stats.average_duration_seconds = rounded_ratio(stats.talk_seconds, stats.answered);
            }
            analytics.agents = agents.into_values().collect();
            analytics.agents.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.name.cmp(&b.name)));
            Ok(analytics)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_their_api_spelling() {
        for period in AnalyticsPeriod::ALL {
            assert_eq!(AnalyticsPeriod::parse(period.as_str()), Some(period));
        }
        assert_eq!(AnalyticsPeriod::parse("90d"), None);
        assert_eq!(serde_json::to_string(&AnalyticsPeriod::SevenDays).unwrap(), "\"7d\"");
    }

    #[test]
    fn weekdays_and_hours_are_utc() {
        assert_eq!(weekday_and_hour(0), (3, 0)); // Thursday 1970-01-01 00:00
        assert_eq!(weekday_and_hour(1_795_355_100_000), (6, 13)); // Sunday 2026-11-22 13:45
        assert_eq!(weekday_and_hour(1_795_392_000_000 - 1), (6, 23));
        assert_eq!(weekday_and_hour(1_795_392_000_000), (0, 0)); // Monday 2026-11-23
        assert_eq!(weekday_and_hour(-1), (2, 23));
    }
}
