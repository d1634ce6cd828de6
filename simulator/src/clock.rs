//! The simulator's notion of "now": the system clock, or a virtual clock that tests advance by
//! hand so that Meta's time rules (answer window, 7-day permissions, 24 h quotas, the 20 s
//! no-media kill) are exercised in milliseconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A clock in unix milliseconds. Cloning shares the same clock.
#[derive(Clone, Debug)]
pub struct Clock {
    virtual_ms: Option<Arc<AtomicI64>>,
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl Clock {
    /// The real wall clock.
    pub fn system() -> Self {
        Self { virtual_ms: None }
    }

    /// A virtual clock that starts at `start_unix_ms` and moves only through [`Clock::advance`].
    pub fn virtual_at(start_unix_ms: i64) -> Self {
        Self { virtual_ms: Some(Arc::new(AtomicI64::new(start_unix_ms))) }
    }

    /// A virtual clock starting at the current wall-clock time.
    pub fn virtual_now() -> Self {
        Self::virtual_at(system_ms())
    }

    /// True for a virtual clock.
    pub fn is_virtual(&self) -> bool {
        self.virtual_ms.is_some()
    }

    /// Now, in unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        match &self.virtual_ms {
            Some(v) => v.load(Ordering::SeqCst),
            None => system_ms(),
        }
    }

    /// Now, in unix seconds.
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Move a virtual clock forward. Returns false (and does nothing) on the system clock.
    pub fn advance(&self, by: Duration) -> bool {
        match &self.virtual_ms {
            Some(v) => {
                v.fetch_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX), Ordering::SeqCst);
                true
            }
            None => false,
        }
    }
}

fn system_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_moves_only_when_advanced() {
        let c = Clock::virtual_at(1_000);
        assert_eq!(c.now_ms(), 1_000);
        assert!(c.advance(Duration::from_secs(7 * 86_400)));
        assert_eq!(c.now_secs(), 1 + 7 * 86_400);
        assert!(!Clock::system().advance(Duration::from_secs(1)));
    }
}
