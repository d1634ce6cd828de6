//! Call quality: the audio figures an agent's browser samples during a call (`getStats` every
//! 2 s), the summary shown on the call's page, and an estimated MOS.
//!
//! The MOS is the E-model's (ITU-T G.107) simplified form as VoIP monitors use it: effective
//! latency from round trip and jitter, an R factor lowered by latency and loss, mapped to
//! 1–4.5. It is an estimate for spotting bad calls, not a listening test.

use serde::{Deserialize, Serialize};

#[cfg(feature = "server")]
pub use server::*;

/// At most this many samples are kept per call (2 s apart: 20 minutes); later ones still
/// count in the summary's totals through the last sample's counters.
pub const MAX_SAMPLES: usize = 600;

/// One reading of the call's audio, as the browser reports it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct QualitySample {
    /// Milliseconds since the call went live.
    pub at_ms: u64,
    pub round_trip_ms: Option<f64>,
    pub jitter_ms: f64,
    /// Cumulative counters since the call started.
    pub packets_in: u64,
    pub packets_lost: i64,
    pub packets_out: u64,
    /// The caller's audio level, 0–1.
    pub level_in: f64,
}

/// What the call's page shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct QualitySummary {
    pub samples: usize,
    pub round_trip_avg_ms: Option<f64>,
    pub round_trip_max_ms: Option<f64>,
    pub jitter_avg_ms: f64,
    /// Lost packets as a share of expected ones, in percent.
    pub loss_percent: f64,
    /// Estimated mean opinion score, 1 (bad) to 4.5 (excellent).
    pub mos: f64,
    /// Seconds (from the start) in which the caller was silent for 10 s or more, if any:
    /// "no audio from the caller" moments worth listening for.
    pub silent_from_s: Option<u64>,
}

/// Everything stored with a call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct CallQuality {
    pub summary: QualitySummary,
    pub samples: Vec<QualitySample>,
}

impl QualitySummary {
    /// "Excellent" … "Bad", for people.
    pub fn verdict(&self) -> &'static str {
        match self.mos {
            m if m >= 4.0 => "Excellent",
            m if m >= 3.6 => "Good",
            m if m >= 3.1 => "Fair",
            m if m >= 2.6 => "Poor",
            _ => "Bad",
        }
    }
}

/// The estimated MOS for a round trip, jitter (ms) and loss (percent).
pub fn estimated_mos(round_trip_ms: f64, jitter_ms: f64, loss_percent: f64) -> f64 {
    let latency = round_trip_ms / 2.0 + jitter_ms * 2.0 + 10.0;
    let mut r = if latency < 160.0 { 93.2 - latency / 40.0 } else { 93.2 - (latency - 120.0) / 10.0 };
    r -= loss_percent * 2.5;
    let r = r.clamp(0.0, 100.0);
    (1.0 + 0.035 * r + 0.000_007 * r * (r - 60.0) * (100.0 - r)).clamp(1.0, 4.5)
}

/// Summarises a call's samples (in order).
pub fn summarize(samples: &[QualitySample]) -> QualitySummary {
    let Some(last) = samples.last() else {
        return QualitySummary::default();
    };
    let round_trips: Vec<f64> = samples.iter().filter_map(|s| s.round_trip_ms).collect();
    let round_trip_avg_ms =
        (!round_trips.is_empty()).then(|| round_trips.iter().sum::<f64>() / round_trips.len() as f64);
    let round_trip_max_ms = round_trips.iter().copied().reduce(f64::max);
    let jitter_avg_ms = samples.iter().map(|s| s.jitter_ms).sum::<f64>() / samples.len() as f64;
    let lost = last.packets_lost.max(0) as f64;
    let expected = last.packets_in as f64 + lost;
    let loss_percent = if expected > 0.0 { lost * 100.0 / expected } else { 0.0 };
    let silent_from_s = silence(samples);
    QualitySummary {
        samples: samples.len(),
        round_trip_avg_ms,
        round_trip_max_ms,
        jitter_avg_ms,
        loss_percent,
        mos: estimated_mos(round_trip_avg_ms.unwrap_or(0.0), jitter_avg_ms, loss_percent),
        silent_from_s,
    }
}

/// Below this level (or with no new packets) the caller counts as silent.
const QUIET: f64 = 0.005;
/// How long a silence must last to be worth a warning.
pub const SILENCE_WARNING_MS: u64 = 10_000;

/// Each sample with whether the caller was silent at it (quiet, or no new packets).
fn quiet_flags(samples: &[QualitySample]) -> impl Iterator<Item = (&QualitySample, bool)> {
    let mut previous_in = 0;
    samples.iter().map(move |sample| {
        let nothing_new = sample.packets_in <= previous_in;
        previous_in = sample.packets_in;
        (sample, sample.level_in < QUIET || nothing_new)
    })
}

/// Where the caller's audio first stayed below a whisper (or stopped arriving) for 10 s.
fn silence(samples: &[QualitySample]) -> Option<u64> {
    let mut quiet_since: Option<u64> = None;
    for (sample, quiet) in quiet_flags(samples) {
        if quiet {
            let since = *quiet_since.get_or_insert(sample.at_ms);
            if sample.at_ms - since >= SILENCE_WARNING_MS {
                return Some(since / 1000);
            }
        } else {
            quiet_since = None;
        }
    }
    None
}

/// How long the caller has been silent as of the last sample (0 when they are heard), for
/// the live "no audio from the caller" warning.
pub fn silent_for_ms(samples: &[QualitySample]) -> u64 {
    let mut quiet_since: Option<u64> = None;
    for (sample, quiet) in quiet_flags(samples) {
        quiet_since = if quiet { Some(quiet_since.unwrap_or(sample.at_ms)) } else { None };
    }
    match (quiet_since, samples.last()) {
        (Some(since), Some(last)) => last.at_ms - since,
        _ => 0,
    }
}

#[cfg(feature = "server")]
mod server {
    use super::{CallQuality, MAX_SAMPLES, QualitySample, summarize};
    use crate::storage::Db;
    use crate::{Error, Result};

    /// Stores what the browser of the agent on the call measured. Only that agent (who
    /// answered or placed it) may report; a later report replaces an earlier one (the browser
    /// sends everything it has each time).
    pub async fn record(
        db: &Db,
        workspace_id: &str,
        call_id: &str,
        user_id: &str,
        mut samples: Vec<QualitySample>,
    ) -> Result<CallQuality> {
        if samples.is_empty() {
            return Err(Error::validation("samples", "at least one sample is needed"));
        }
        if samples.windows(2).any(|pair| pair[1].at_ms < pair[0].at_ms) {
            return Err(Error::validation("samples", "must be in time order"));
        }
        samples.truncate(MAX_SAMPLES);
        let quality = CallQuality { summary: summarize(&samples), samples };
        let json = serde_json::to_string(&quality).map_err(Error::internal)?;
        let updated = sqlx::query(
            "UPDATE calls SET quality = $1 WHERE workspace_id = $2 AND id = $3 AND answered_by = $4",
        )
        .bind(&json)
        .bind(workspace_id)
        .bind(call_id)
        .bind(user_id)
        .execute(db.pool())
        .await?
        .rows_affected();
        if updated == 1 {
            return Ok(quality);
        }
        let exists: Option<(String,)> =
            sqlx::query_as("SELECT id FROM calls WHERE workspace_id = $1 AND id = $2")
                .bind(workspace_id)
                .bind(call_id)
                .fetch_optional(db.pool())
                .await?;
        match exists {
            None => Err(Error::NotFound { what: "call" }),
            Some(_) => Err(Error::Conflict {
                code: "not_your_call",
                message: "only the agent on the call reports its quality".into(),
            }),
        }
    }

    /// The quality stored with a call, if its agent reported any.
    pub async fn load(db: &Db, call_id: &str) -> Result<Option<CallQuality>> {
        let row: Option<(Option<String>,)> = sqlx::query_as("SELECT quality FROM calls WHERE id = $1")
            .bind(call_id)
            .fetch_optional(db.pool())
            .await?;
        match row.and_then(|(quality,)| quality) {
            Some(json) => Ok(Some(serde_json::from_str(&json).map_err(Error::internal)?)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: u64, rtt: f64, jitter: f64, packets_in: u64, lost: i64, level: f64) -> QualitySample {
        QualitySample {
            at_ms,
            round_trip_ms: Some(rtt),
            jitter_ms: jitter,
            packets_in,
            packets_lost: lost,
            packets_out: packets_in,
            level_in: level,
        }
    }

    #[test]
    fn a_clean_call_scores_excellent_and_a_lossy_laggy_one_poor() {
        assert!(estimated_mos(20.0, 2.0, 0.0) > 4.3);
        assert!(estimated_mos(600.0, 60.0, 8.0) < 2.6);
        assert!(estimated_mos(0.0, 0.0, 100.0) >= 1.0, "never below 1");
        // Worse network, never a better score.
        let mut last = 5.0;
        for loss in [0.0, 1.0, 3.0, 5.0, 10.0, 20.0] {
            let mos = estimated_mos(100.0, 10.0, loss);
            assert!(mos <= last, "{loss}% loss scored {mos} after {last}");
            last = mos;
        }
    }

    #[test]
    fn the_summary_averages_round_trip_and_jitter_and_counts_loss_from_the_last_counters() {
        let samples = [sample(0, 40.0, 2.0, 50, 0, 0.2), sample(2000, 60.0, 4.0, 148, 2, 0.3)];
        let summary = summarize(&samples);
        assert_eq!(summary.samples, 2);
        assert_eq!(summary.round_trip_avg_ms, Some(50.0));
        assert_eq!(summary.round_trip_max_ms, Some(60.0));
        assert_eq!(summary.jitter_avg_ms, 3.0);
        assert!((summary.loss_percent - 2.0 * 100.0 / 150.0).abs() < 1e-9);
        assert_eq!(summary.verdict(), "Excellent");
        assert_eq!(summary.silent_from_s, None);
        assert_eq!(summarize(&[]), QualitySummary::default());
    }

    #[test]
    fn ten_seconds_without_the_callers_voice_is_flagged_where_it_began() {
        let mut samples = vec![sample(0, 40.0, 2.0, 50, 0, 0.2), sample(2000, 40.0, 2.0, 150, 0, 0.2)];
        // From 4 s the caller is silent (level ~0), then packets stop arriving altogether.
        for (i, at) in (4000..=10_000).step_by(2000).enumerate() {
            samples.push(sample(at, 40.0, 2.0, 250 + 100 * i as u64, 0, 0.0));
        }
        samples.push(sample(12_000, 40.0, 2.0, 550, 0, 0.3));
        samples.push(sample(14_000, 40.0, 2.0, 550, 0, 0.3));
        assert_eq!(summarize(&samples).silent_from_s, Some(4));
        assert_eq!(summarize(&samples[..4]).silent_from_s, None, "8 s is not enough");
        assert_eq!(silent_for_ms(&samples), 10_000, "still silent at the last sample");
        assert_eq!(silent_for_ms(&samples[..2]), 0);
        samples.push(sample(16_000, 40.0, 2.0, 650, 0, 0.3));
        assert_eq!(silent_for_ms(&samples), 0, "heard again");
    }
}
