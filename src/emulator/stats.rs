//! Request counts for `GET /_emulator/stats` and the test helpers, kept by route, not by path.
//!
//! A key per raw path would let every distinct path a client sends (ids, typos, scans) add an
//! entry for the life of the process. Keys are instead the route template the router matched
//! (`GET /api/v1/applications/{id}`), one bucket for requests no route matched, and a cap on
//! the number of keys as a last bound, so the map stays small whatever arrives.

use std::collections::BTreeMap;

/// The key of requests that matched no route, per method.
pub(super) const NO_ROUTE: &str = "(no route)";
/// The key every request goes to once [`MAX_KEYS`] keys exist.
pub(super) const OVERFLOW: &str = "(other)";
/// At most this many keys: several times the number of routes.
pub(super) const MAX_KEYS: usize = 256;

/// Requests received per `METHOD route`.
#[derive(Debug, Default)]
pub(super) struct Counts(BTreeMap<String, u64>);

impl Counts {
    /// Count one request: `route` is the matched template, `None` when no route matched.
    pub(super) fn record(&mut self, method: &str, route: Option<&str>) {
        // Methods are client-chosen tokens too: anything non-standard shares one name.
        let method = match method {
            "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
            _ => "OTHER",
        };
        let key = format!("{method} {}", route.unwrap_or(NO_ROUTE));
        let key = if self.0.len() >= MAX_KEYS && !self.0.contains_key(&key) {
            OVERFLOW.to_string()
        } else {
            key
        };
        *self.0.entry(key).or_default() += 1;
    }

    /// How many requests `METHOD route` received.
    pub(super) fn get(&self, key: &str) -> u64 {
        self.0.get(key).copied().unwrap_or(0)
    }

    /// Every key with its count.
    pub(super) fn all(&self) -> BTreeMap<String, u64> {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_of_distinct_paths_and_methods_keep_the_map_bounded() {
        let mut counts = Counts::default();
        for i in 0..20_000 {
            counts.record("GET", None);
            counts.record(&format!("M{i}"), Some("/api/v1/users"));
            // As if a future router matched every path as its own route.
            counts.record("POST", Some(&format!("/x/{i}")));
        }
        let all = counts.all();
        assert!(all.len() <= MAX_KEYS + 1, "{} keys", all.len());
        assert_eq!(counts.get("GET (no route)"), 20_000);
        assert_eq!(counts.get("OTHER /api/v1/users"), 20_000);
        assert!(counts.get(OVERFLOW) > 0);
        assert_eq!(
            all.values().sum::<u64>(),
            60_000,
            "every request is counted"
        );
    }
}
