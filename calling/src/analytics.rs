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

    const HOUR: i64 = 3_600_000;

    /// (hour since the epoch, agent, calls, answered, missed, rejected, failed, talk s, cost).
    type HourRow = (i64, Option<String>, i64, i64, i64, i64, i64, i64, i64);

    /// Hourly figures of settled hours (`call_stats_hours`), so a period's analytics reads at
    /// most 24 stored rows per day and agent instead of every call. An hour is filled on first
    /// need and marked done (`call_stats_hours_done`); the database's triggers on `calls` drop
    /// the mark whenever a call of that hour is stored, changed or deleted, and the next read
    /// fills it again. Filling takes the database's write lock (SQLite) or a lock the triggers
    /// wait for (PostgreSQL), so a call changing meanwhile is never lost from an hour marked done.
    mod rollups {
        use super::*;
        use crate::storage::Dialect;

        /// The figures of the calls started in `[from, until)` (unix ms), by hour and agent.
        pub async fn aggregate(
            db: &Db,
            workspace_id: &str,
            from: i64,
            until: i64,
        ) -> crate::Result<Vec<HourRow>> {
            if from >= until {
                return Ok(Vec::new());
            }
            let rows: Vec<HourRow> = sqlx::query_as(&format!(
                "SELECT {FIGURES} FROM calls WHERE workspace_id = $1 AND started_at >= $2 AND started_at < $3 \
                 GROUP BY started_at / 3600000, answered_by"
            ))
            .bind(workspace_id)
            .bind(from)
            .bind(until)
            .fetch_all(db.pool())
            .await?;
            Ok(rows)
        }

        /// The columns of a [`HourRow`] over `calls`.
        const FIGURES: &str = "started_at / 3600000 AS hour, answered_by, CAST(COUNT(*) AS BIGINT), \
               CAST(SUM(CASE WHEN answered_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT), \
               CAST(SUM(CASE WHEN status = 'missed' THEN 1 ELSE 0 END) AS BIGINT), \
               CAST(SUM(CASE WHEN status = 'rejected' THEN 1 ELSE 0 END) AS BIGINT), \
               CAST(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS BIGINT), \
               CAST(SUM(CASE WHEN answered_at IS NOT NULL THEN COALESCE(duration_seconds, 0) ELSE 0 END) AS BIGINT), \
               CAST(SUM(cost_micros) AS BIGINT)";

        /// The stored figures of the hours `[first, until)`.
        pub async fn read(
            db: &Db,
            workspace_id: &str,
            first: i64,
            until: i64,
        ) -> crate::Result<Vec<HourRow>> {
            let rows: Vec<HourRow> = sqlx::query_as(
                "SELECT hour, NULLIF(agent, ''), calls, answered, missed, rejected, failed, talk_seconds, cost_micros \
                 FROM call_stats_hours WHERE workspace_id = $1 AND hour >= $2 AND hour < $3",
            )
            .bind(workspace_id)
            .bind(first)
            .bind(until)
            .fetch_all(db.pool())
            .await?;
            Ok(rows)
        }

        /// Fills the hours of `[first, until)` not marked done.
        pub async fn fill(db: &Db, workspace_id: &str, first: i64, until: i64) -> crate::Result<()> {
            if first >= until {
                return Ok(());
            }
            let missing = |done: Vec<(i64,)>| {
                let done: std::collections::HashSet<i64> = done.into_iter().map(|(hour,)| hour).collect();
                (first..until).filter(|hour| !done.contains(hour)).collect::<Vec<i64>>()
            };
            let done_query =
                "SELECT hour FROM call_stats_hours_done WHERE workspace_id = $1 AND hour >= $2 AND hour < $3";
            let done: Vec<(i64,)> = sqlx::query_as(done_query)
                .bind(workspace_id)
                .bind(first)
                .bind(until)
                .fetch_all(db.pool())
                .await?;
            if missing(done).is_empty() {
                return Ok(());
            }
            let mut tx = db.pool().begin().await?;
            match db.dialect() {
                // The triggers' DELETE waits for this lock (and this waits for theirs).
                Dialect::Postgres => {
                    sqlx::query("LOCK TABLE call_stats_hours_done IN SHARE ROW EXCLUSIVE MODE")
                        .execute(&mut *tx)
                        .await?;
                }
                // A write first: SQLite's one writer lock is held from here to the commit.
                Dialect::Sqlite => {
                    sqlx::query("DELETE FROM call_stats_hours WHERE workspace_id = $1 AND hour < 0")
                        .bind(workspace_id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let done: Vec<(i64,)> = sqlx::query_as(done_query)
                .bind(workspace_id)
                .bind(first)
                .bind(until)
                .fetch_all(&mut *tx)
                .await?;
            let missing = missing(done);
            // Contiguous runs of missing hours, each filled by one aggregate.
            let mut runs: Vec<(i64, i64)> = Vec::new();
            for hour in missing {
                match runs.last_mut() {
                    Some((_, end)) if *end == hour => *end = hour + 1,
                    _ => runs.push((hour, hour + 1)),
                }
            }
            for (from, to) in runs {
                sqlx::query(
                    "DELETE FROM call_stats_hours WHERE workspace_id = $1 AND hour >= $2 AND hour < $3",
                )
                .bind(workspace_id)
                .bind(from)
                .bind(to)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO call_stats_hours (workspace_id, hour, agent, calls, answered, missed, rejected, \
                       failed, talk_seconds, cost_micros) \
                     SELECT $1, hour, COALESCE(answered_by, ''), c, a, m, r, f, t, k FROM ( \
                       SELECT started_at / 3600000 AS hour, answered_by, COUNT(*) AS c, \
                         SUM(CASE WHEN answered_at IS NOT NULL THEN 1 ELSE 0 END) AS a, \
                         SUM(CASE WHEN status = 'missed' THEN 1 ELSE 0 END) AS m, \
                         SUM(CASE WHEN status = 'rejected' THEN 1 ELSE 0 END) AS r, \
                         SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS f, \
                         SUM(CASE WHEN answered_at IS NOT NULL THEN COALESCE(duration_seconds, 0) ELSE 0 END) AS t, \
                         SUM(cost_micros) AS k \
                       FROM calls WHERE workspace_id = $1 AND started_at >= $2 AND started_at < $3 \
                       GROUP BY started_at / 3600000, answered_by) AS figures",
                )
                .bind(workspace_id)
                .bind(from * HOUR)
                .bind(to * HOUR)
                .execute(&mut *tx)
                .await?;
                // Marked done, in statements of at most 500 hours.
                let hours: Vec<i64> = (from..to).collect();
                for chunk in hours.chunks(500) {
                    let values: Vec<String> = chunk.iter().map(|hour| format!("($1, {hour})")).collect();
                    sqlx::query(&format!(
                        "INSERT INTO call_stats_hours_done (workspace_id, hour) VALUES {} ON CONFLICT DO NOTHING",
                        values.join(", ")
                    ))
                    .bind(workspace_id)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(())
        }
    }

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
            Self::load_days(db, workspace_id, period, first_day, days, now).await
        }

        /// Reads a workspace's analytics from the UTC day of `from` to that of `to`, both
        /// included (`YYYY-MM-DD`, at most [`MAX_CUSTOM_DAYS`] days).
        pub async fn load_between(
            db: &Db,
            workspace_id: &str,
            from: &str,
            to: &str,
            now: i64,
        ) -> crate::Result<Analytics> {
            let day = |field: &str, text: &str| {
                crate::dates::start_of_date(text).map(|millis| millis / DAY).ok_or_else(|| {
                    crate::Error::validation(
                        field,
                        format!("{text} is not a date (YYYY-MM-DD)", text = crate::error::Quoted(text)),
                    )
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
            Self::load_days(db, workspace_id, AnalyticsPeriod::Custom, first_day, days, now).await
        }

        async fn load_days(
            db: &Db,
            workspace_id: &str,
            period: AnalyticsPeriod,
            first_day: i64,
            days: i64,
            now: i64,
        ) -> crate::Result<Analytics> {
            let since = first_day * DAY;
            let until = (first_day + days) * DAY;
            // Every figure is a sum of (UTC hour, agent) groups: the daily series, the weekday ×
            // hour counts and the per-agent table (hours since the epoch nest in UTC days).
            // Settled hours (before the last two) come from the stored roll-ups, filled here on
            // first need; the rest are aggregated from the calls themselves.
            let settled = (now / HOUR - 1).clamp(since / HOUR, until / HOUR);
            rollups::fill(db, workspace_id, since / HOUR, settled).await?;
            let mut rows = rollups::read(db, workspace_id, since / HOUR, settled).await?;
            rows.extend(rollups::aggregate(db, workspace_id, settled * HOUR, until).await?);

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
