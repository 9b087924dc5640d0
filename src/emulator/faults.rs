//! Fault injection for tests of retries, backoff and partial failure: latency, 429 with
//! `RateLimit-Reset`, 5xx, and dropped connections, for a path prefix and a share of requests.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::error::ApiError;

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FaultKind {
    /// Wait before answering normally.
    Latency {
        /// Milliseconds.
        ms: u64,
    },
    /// `429 Too Many Requests` with `RateLimit-Reset`.
    RateLimit {
        /// Seconds until the limit resets.
        reset_secs: u64,
    },
    /// An error status (400-599) with Kinde's error body.
    Status {
        /// The status.
        status: u16,
    },
    /// Close the connection without answering.
    Drop,
}

/// A fault rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    /// Requests whose path starts with this are affected (`/` for all).
    #[serde(default = "root")]
    pub path: String,
    /// Only this method (upper case), if set.
    #[serde(default)]
    pub method: Option<String>,
    /// What happens.
    #[serde(flatten)]
    pub kind: FaultKind,
    /// How many matching requests it affects before it stops (unlimited if unset).
    #[serde(default)]
    pub times: Option<u32>,
    /// The share of matching requests affected, 0.0-1.0 (spread evenly, not random, so tests are
    /// repeatable); all if unset.
    #[serde(default)]
    pub share: Option<f64>,
    #[serde(skip)]
    seen: u64,
}

fn root() -> String {
    "/".into()
}

impl Fault {
    /// A rule for requests under `path`.
    pub fn new(path: &str, kind: FaultKind) -> Self {
        Fault {
            path: path.into(),
            method: None,
            kind,
            times: None,
            share: None,
            seen: 0,
        }
    }

    /// Only the first `n` matching requests.
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Only `method` requests.
    #[must_use]
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Parse the `--fault` flag: `KIND[:VALUE][@PATH][*TIMES]`, e.g. `429:2@/api/v1/users*1`,
    /// `latency:200`, `503@/api`, `drop@/api/v1/apis`.
    pub fn parse(spec: &str) -> Result<Fault, String> {
        let (spec, times) = match spec.split_once('*') {
            Some((s, t)) => (
                s,
                Some(
                    t.parse::<u32>()
                        .map_err(|_| format!("`{t}` is not a count"))?,
                ),
            ),
            None => (spec, None),
        };
        let (kind, path) = spec.split_once('@').unwrap_or((spec, "/"));
        let (name, value) = kind
            .split_once(':')
            .map_or((kind, None), |(n, v)| (n, Some(v)));
        let number = |default: u64| -> Result<u64, String> {
            value.map_or(Ok(default), |v| {
                v.parse().map_err(|_| format!("`{v}` is not a number"))
            })
        };
        let kind = match name {
            "latency" => FaultKind::Latency { ms: number(200)? },
            "429" => FaultKind::RateLimit {
                reset_secs: number(1)?,
            },
            "drop" => FaultKind::Drop,
            status => match status.parse::<u16>() {
                Ok(s @ 400..=599) => FaultKind::Status { status: s },
                _ => {
                    return Err(format!(
                        "unknown fault `{name}`: use latency[:MS], 429[:RESET_SECS], a 4xx/5xx status (e.g. 503) or drop"
                    ));
                }
            },
        };
        Ok(Fault {
            times,
            ..Fault::new(path, kind)
        })
    }

    /// Whether this rule fires for a request, counting it if it matches.
    fn fires(&mut self, method: &str, path: &str) -> bool {
        if !path.starts_with(&self.path) || self.method.as_deref().is_some_and(|m| m != method) {
            return false;
        }
        if self.times == Some(0) {
            return false;
        }
        self.seen += 1;
        let fire = match self.share {
            // Evenly spread: fire when the running share crosses a whole number.
            Some(share) => {
                ((self.seen as f64) * share).floor() > (((self.seen - 1) as f64) * share).floor()
            }
            None => true,
        };
        if fire && let Some(t) = &mut self.times {
            *t -= 1;
        }
        fire
    }
}

/// What the middleware should do with a request.
pub(super) enum Action {
    /// Answer normally, after `delay`.
    Pass(Duration),
    /// Answer with this instead.
    Respond(Response),
    /// Close the connection.
    Drop,
}

/// Decide the fate of a request against the rules (first firing rule wins; latencies add up).
pub(super) fn decide(rules: &mut [Fault], method: &str, path: &str) -> Action {
    let mut delay = Duration::ZERO;
    for rule in rules.iter_mut() {
        if !rule.fires(method, path) {
            continue;
        }
        match &rule.kind {
            FaultKind::Latency { ms } => delay += Duration::from_millis(*ms),
            FaultKind::RateLimit { reset_secs } => {
                let mut response = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TOO_MANY_REQUESTS",
                    "Request was throttled.",
                )
                .into_response();
                if let Ok(value) = HeaderValue::from_str(&reset_secs.to_string()) {
                    response.headers_mut().insert("ratelimit-reset", value);
                }
                return Action::Respond(response);
            }
            FaultKind::Status { status } => {
                let status =
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let code = status
                    .canonical_reason()
                    .unwrap_or("ERROR")
                    .to_ascii_uppercase()
                    .replace(' ', "_");
                return Action::Respond(
                    ApiError::new(status, code, "Injected by the emulator").into_response(),
                );
            }
            FaultKind::Drop => return Action::Drop,
        }
    }
    Action::Pass(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_flag() {
        let f = Fault::parse("429:2@/api/v1/users*1").unwrap();
        assert_eq!(f.kind, FaultKind::RateLimit { reset_secs: 2 });
        assert_eq!((f.path.as_str(), f.times), ("/api/v1/users", Some(1)));
        assert_eq!(
            Fault::parse("latency").unwrap().kind,
            FaultKind::Latency { ms: 200 }
        );
        assert_eq!(
            Fault::parse("503@/api").unwrap().kind,
            FaultKind::Status { status: 503 }
        );
        assert_eq!(
            Fault::parse("401").unwrap().kind,
            FaultKind::Status { status: 401 }
        );
        assert_eq!(Fault::parse("drop").unwrap().kind, FaultKind::Drop);
        assert!(Fault::parse("302").is_err());
        assert!(Fault::parse("429*x").is_err());
    }

    #[test]
    fn share_is_spread_evenly_and_times_run_out() {
        let mut rule = Fault::new("/", FaultKind::Drop);
        rule.share = Some(0.5);
        let fired: Vec<bool> = (0..6).map(|_| rule.fires("GET", "/x")).collect();
        assert_eq!(fired, [false, true, false, true, false, true]);
        let mut rule = Fault::new("/api", FaultKind::Drop).times(2).method("post");
        assert!(!rule.fires("GET", "/api/v1"));
        assert!(rule.fires("POST", "/api/v1"));
        assert!(!rule.fires("POST", "/other"));
        assert!(rule.fires("POST", "/api/v1"));
        assert!(!rule.fires("POST", "/api/v1"));
    }
}
