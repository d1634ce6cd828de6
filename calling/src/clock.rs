//! Time as the domain sees it: unix milliseconds from a clock that tests can drive.
//!
//! WhatsApp's rules span hours and days (answer windows, 24-hour and 7-day quotas); a manual
//! clock lets tests cross them in microseconds instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Unix time in milliseconds, the unit every stored timestamp uses.
pub type Millis = i64;

/// The source of "now". Cheap to clone.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The machine's wall clock.
    #[default]
    System,
    /// A clock that only moves when told to (tests).
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock starting at `start`.
    pub fn manual(start: Millis) -> Self {
        Clock::Manual(Arc::new(AtomicI64::new(start)))
    }

    /// The current time in unix milliseconds.
    pub fn now(&self) -> Millis {
        match self {
            Clock::System => {
                let since_epoch =
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
            }
            Clock::Manual(now) => now.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; the system clock ignores it.
    pub fn advance(&self, by: Millis) {
        if let Clock::Manual(now) = self {
            now.fetch_add(by, Ordering::SeqCst);
        }
    }
}

/// Milliseconds in one day.
pub const DAY: Millis = 24 * 60 * 60 * 1000;

/// The start (00:00 UTC) of the day containing `at`.
pub fn start_of_utc_day(at: Millis) -> Millis {
    at - at.rem_euclid(DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = Clock::manual(1_000);
        assert_eq!(clock.now(), 1_000);
        clock.advance(DAY);
        assert_eq!(clock.now(), 1_000 + DAY);
    }

    #[test]
    fn start_of_day_truncates_to_midnight_utc() {
        // 2026-11-22T13:45:00Z
        let at = 1_795_355_100_000;
        assert_eq!(start_of_utc_day(at), 1_795_305_600_000);
        assert_eq!(start_of_utc_day(start_of_utc_day(at)), start_of_utc_day(at));
    }
}
