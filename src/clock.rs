//! The one clock: seconds since the Unix epoch, used for token lifetimes and cache ages.

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
