//! The one clock: seconds since the Unix epoch, used for token lifetimes and cache ages.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Whether something stamped at `at` (seconds since the epoch) is still fresh at `now` for `ttl`
/// seconds: a stamp in the future is never fresh (it would otherwise never expire).
pub fn fresh(at: u64, now: u64, ttl: u64) -> bool {
    at <= now && now - at < ttl
}

/// Seconds since the Unix epoch (0 if the system clock is before 1970).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A clock that can be moved forward: the system's time plus a shift. The emulator keeps one,
/// so a test can make a code or a sign-in page expire without sleeping through its lifetime.
#[derive(Debug, Default)]
pub struct Clock {
    ahead: AtomicU64,
}

impl Clock {
    /// Seconds since the Unix epoch, as this clock reads.
    pub fn now(&self) -> u64 {
        now().saturating_add(self.ahead.load(Ordering::Relaxed))
    }

    /// Move this clock `secs` seconds forward (it never goes back).
    pub fn advance(&self, secs: u64) {
        let _ = self
            .ahead
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |a| {
                Some(a.saturating_add(secs))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_reads_ahead_of_the_system() {
        let clock = Clock::default();
        let before = clock.now();
        clock.advance(600);
        let after = clock.now();
        assert!(
            after >= before + 600 && after <= now() + 601,
            "{before} {after}"
        );
    }
}
