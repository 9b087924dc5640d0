//! Verification of a Kinde access or ID token, check by check, so a failure names what failed.

use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Serialize;
use serde_json::{Map, Value};

use super::jwks::KeySource;
use crate::error::Error;

/// What a token must satisfy.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// Accepted `iss` values (no trailing slash); empty: not enforced.
    pub issuers: Vec<String>,
    /// Accepted audiences, any one suffices; empty: shown but not enforced.
    pub audiences: Vec<String>,
    /// Scopes that must all be present in `scp` or `scope`.
    pub scopes: Vec<String>,
    /// Required `azp` (client id).
    pub azp: Option<String>,
    /// Clock leeway in seconds for `exp`, `nbf` and `iat`.
    pub leeway: u64,
    /// The time to check against, seconds since the epoch.
    pub now: u64,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Satisfied.
    Pass,
    /// Not satisfied: the token is invalid.
    Fail,
    /// Not enforced or not reached.
    Skip,
}

/// One named check and what it found.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `format`, `crit` (only when the header has one), `algorithm`, `key`, `signature`,
    /// `issuer`, `audience`, `expiry`, `not_before`, `issued_at`, `scopes` or `azp`.
    pub name: &'static str,
    /// Its outcome.
    pub status: Status,
    /// What was found.
    pub detail: String,
}

/// The verdict on a token.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// True when no check failed.
    pub valid: bool,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// The header, when the token could be decoded.
    pub header: Option<Map<String, Value>>,
    /// The claims, when the token could be decoded.
    pub claims: Option<Map<String, Value>>,
    /// Things worth knowing that are not failures (ignored header parameters).
    pub notes: Vec<String>,
}

impl Report {
    /// The first failed check.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| c.status == Status::Fail)
    }
}

/// Key sets by issuer. A token's key is looked up only in the JWKS of the issuer its `iss` names
/// (once that issuer is accepted), never in another accepted issuer's: otherwise a token could
/// claim one issuer and be signed with the keys of another.
#[derive(Debug, Default)]
pub struct IssuerKeys {
    sets: Vec<(String, KeySource)>,
}

impl IssuerKeys {
    /// No key sets yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys of `issuer` (as it appears in `iss`, no trailing slash).
    pub fn with(mut self, issuer: &str, keys: KeySource) -> Self {
        self.sets
            .push((issuer.trim_end_matches('/').to_string(), keys));
        self
    }

    fn of(&mut self, issuer: &str) -> Option<&mut KeySource> {
        self.sets
            .iter_mut()
            .find(|(i, _)| i == issuer)
            .map(|(_, keys)| keys)
    }
}

/// Header parameters that point at keys elsewhere. Following them lets the token choose its own
/// key; they are never used, only reported.
const KEY_POINTERS: &[&str] = &["jku", "jwk", "x5u", "x5c"];

/// Verify `token` against `expect`, with the key from the JWKS of the issuer its `iss` names.
/// Errors are only for failures to fetch keys; everything about the token itself is in the
/// report.
pub async fn verify(
    token: &str,
    expect: &Expectations,
    keys: &mut IssuerKeys,
) -> Result<Report, Error> {
    let mut report = Report {
        valid: false,
        checks: Vec::new(),
        header: None,
        claims: None,
        notes: Vec::new(),
    };
    let decoded = match super::decode(token) {
        Ok(d) => d,
        Err(e) => {
            report.checks.push(fail("format", e));
            return Ok(report);
        }
    };
    report.checks.push(pass(
        "format",
        "three base64url parts, JSON header and claims".into(),
    ));
    for pointer in KEY_POINTERS {
        if decoded.header.contains_key(*pointer) {
            report.notes.push(format!(
                "header parameter `{pointer}` ignored: keys come only from the issuer's JWKS"
            ));
        }
    }
    if let Some(crit) = decoded.header.get("crit") {
        report.checks.push(check_crit(crit));
    }
    let claims = &decoded.claims;
    let issuer = check_issuer(claims, &expect.issuers);
    // The key set is chosen by the token's own issuer, and only once that issuer is accepted.
    let key_set = match claims.get("iss").and_then(Value::as_str) {
        Some(iss) if issuer.status != Status::Fail => {
            let iss = iss.trim_end_matches('/');
            match keys.of(iss) {
                Some(set) => Ok(set),
                None => Err(fail(
                    "key",
                    format!("no signing keys of `{iss}` are at hand to check it with"),
                )),
            }
        }
        _ => Err(skip(
            "key",
            "not looked up: keys come only from the JWKS of an accepted `iss`".into(),
        )),
    };
    let signature_ok = check_signature(&decoded, key_set, &mut report.checks).await?;
    report.checks.push(issuer);
    report
        .checks
        .push(check_audience(claims, &expect.audiences));
    report.checks.extend(check_times(claims, expect));
    report.checks.push(check_scopes(claims, &expect.scopes));
    if let Some(azp) = &expect.azp {
        report
            .checks
            .push(match claims.get("azp").and_then(Value::as_str) {
                Some(got) if got == azp => pass("azp", format!("`{got}`")),
                Some(got) => fail("azp", format!("`{got}`, expected `{azp}`")),
                None => fail("azp", format!("no azp claim, expected `{azp}`")),
            });
    }
    report.valid = signature_ok && report.checks.iter().all(|c| c.status != Status::Fail);
    report.header = Some(decoded.header);
    report.claims = Some(decoded.claims);
    Ok(report)
}

/// RFC 7515 §4.1.11: a `crit` header lists extensions the recipient must understand, or reject
/// the token. This verifier understands none, so any `crit` (even an empty or malformed one,
/// which the RFC forbids) fails.
fn check_crit(crit: &Value) -> Check {
    let detail = match crit {
        Value::Array(names) if names.is_empty() => {
            "`crit` is an empty list, which RFC 7515 §4.1.11 forbids".to_string()
        }
        Value::Array(names) => format!(
            "the token requires header extension(s) {} (`crit`), which this verifier does not implement (RFC 7515 §4.1.11)",
            names
                .iter()
                .map(|n| n
                    .as_str()
                    .map_or_else(|| n.to_string(), |s| format!("`{s}`")))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => {
            format!("`crit` is {other}, not a list of header parameter names (RFC 7515 §4.1.11)")
        }
    };
    fail("crit", detail)
}

async fn check_signature(
    decoded: &super::Decoded,
    keys: Result<&mut KeySource, Check>,
    checks: &mut Vec<Check>,
) -> Result<bool, Error> {
    let alg = decoded
        .header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or("");
    let verdict = match alg {
        "RS256" => pass("algorithm", "RS256".into()),
        "" => fail("algorithm", "the header has no `alg`".into()),
        a if a.eq_ignore_ascii_case("none") => fail(
            "algorithm",
            "`alg: none` (an unsigned token) is never accepted".into(),
        ),
        a if a.starts_with("HS") => fail(
            "algorithm",
            format!(
                "`{a}` is an HMAC algorithm; Kinde signs only with RS256, so an HMAC token is forged"
            ),
        ),
        a => fail(
            "algorithm",
            format!("`{a}` is not accepted; Kinde signs only with RS256"),
        ),
    };
    let alg_ok = verdict.status == Status::Pass;
    checks.push(verdict);
    if !alg_ok {
        checks.push(skip(
            "signature",
            "not checked: the algorithm is not accepted".into(),
        ));
        return Ok(false);
    }
    let Some(kid) = decoded.header.get("kid").and_then(Value::as_str) else {
        checks.push(fail(
            "key",
            "the header has no `kid`, so no key of the issuer can be chosen".into(),
        ));
        return Ok(false);
    };
    let keys = match keys {
        Ok(keys) => keys,
        Err(why) => {
            let failed = why.status == Status::Fail;
            checks.push(why);
            if !failed {
                checks.push(skip(
                    "signature",
                    "not checked: no key of an accepted issuer".into(),
                ));
            }
            return Ok(false);
        }
    };
    let Some(key) = keys.key(kid).await? else {
        checks.push(fail("key", format!("`{kid}` is not among the issuer's signing keys (JWKS), even after fetching it again")));
        return Ok(false);
    };
    if key.kty != "RSA" || key.use_.as_deref().is_some_and(|u| u != "sig") {
        checks.push(fail(
            "key",
            format!(
                "`{kid}` is not an RSA signing key (kty {}, use {:?})",
                key.kty, key.use_
            ),
        ));
        return Ok(false);
    }
    checks.push(pass("key", format!("`{kid}` from the issuer's JWKS")));
    let ok = DecodingKey::from_rsa_components(&key.n, &key.e)
        .and_then(|k| {
            jsonwebtoken::crypto::verify(
                &decoded.signature,
                decoded.signing_input.as_bytes(),
                &k,
                Algorithm::RS256,
            )
        })
        .unwrap_or(false);
    checks.push(if ok {
        pass("signature", "RS256 signature matches the key".into())
    } else {
        fail("signature", format!("the signature does not match key `{kid}`: the token was altered or signed by another key"))
    });
    Ok(ok)
}

fn check_issuer(claims: &Map<String, Value>, issuers: &[String]) -> Check {
    let Some(iss) = claims.get("iss").and_then(Value::as_str) else {
        return fail("issuer", "the token has no `iss` claim".into());
    };
    if issuers.is_empty() {
        return skip(
            "issuer",
            format!("`{iss}` (not enforced: no issuer configured)"),
        );
    }
    let normalised = iss.trim_end_matches('/');
    if issuers.iter().any(|i| i == normalised) {
        pass("issuer", format!("`{iss}`"))
    } else {
        fail("issuer", format!("`{iss}`, expected {}", quoted(issuers)))
    }
}

/// `aud` as a list, whether the token carries a string or an array.
pub fn audiences_of(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

fn check_audience(claims: &Map<String, Value>, expected: &[String]) -> Check {
    let got = audiences_of(claims);
    let shown = if got.is_empty() {
        "none".to_string()
    } else {
        quoted(&got)
    };
    if expected.is_empty() {
        return skip(
            "audience",
            format!("{shown} (not enforced: no audience given or configured; pass --audience)"),
        );
    }
    if got.iter().any(|a| expected.contains(a)) {
        pass("audience", shown)
    } else {
        fail(
            "audience",
            format!("{shown}, expected one of {}", quoted(expected)),
        )
    }
}

/// A time claim: absent, a non-negative integer, or present but unusable (all untrusted input).
enum Time {
    Absent,
    At(u64),
    Bad(String),
}

fn time_claim(claims: &Map<String, Value>, name: &str) -> Time {
    match claims.get(name) {
        None => Time::Absent,
        Some(v) => v.as_u64().map_or_else(
            || {
                Time::Bad(format!(
                    "`{name}` is {}, not a whole number of seconds",
                    printable(&v.to_string())
                ))
            },
            Time::At,
        ),
    }
}

fn check_times(claims: &Map<String, Value>, expect: &Expectations) -> Vec<Check> {
    let now = expect.now;
    let leeway = expect.leeway;
    let mut checks = Vec::new();
    // Saturating arithmetic throughout: the claims and the leeway come from outside.
    checks.push(match time_claim(claims, "exp") {
        Time::Absent => fail("expiry", "the token has no numeric `exp` claim".into()),
        Time::Bad(why) => fail("expiry", why),
        Time::At(exp) if now > exp.saturating_add(leeway) => fail(
            "expiry",
            format!("expired {} ago ({})", span(now - exp), rfc3339(exp)),
        ),
        Time::At(exp) => pass(
            "expiry",
            format!(
                "expires in {} ({})",
                span(exp.saturating_sub(now)),
                rfc3339(exp)
            ),
        ),
    });
    checks.push(match time_claim(claims, "nbf") {
        Time::Absent => skip("not_before", "no `nbf` claim".into()),
        Time::Bad(why) => fail("not_before", why),
        Time::At(nbf) if nbf > now.saturating_add(leeway) => fail(
            "not_before",
            format!("not valid for another {}", span(nbf - now)),
        ),
        Time::At(nbf) => pass("not_before", rfc3339(nbf)),
    });
    checks.push(match time_claim(claims, "iat") {
        Time::Absent => skip("issued_at", "no `iat` claim".into()),
        Time::Bad(why) => fail("issued_at", why),
        Time::At(iat) if iat > now.saturating_add(leeway) => fail(
            "issued_at",
            format!("issued {} in the future: check the clock", span(iat - now)),
        ),
        Time::At(iat) => pass(
            "issued_at",
            format!("{} ({} ago)", rfc3339(iat), span(now.saturating_sub(iat))),
        ),
    });
    checks
}

/// Scopes a token carries: `scp` (array) and `scope` (space-separated).
pub fn scopes_of(claims: &Map<String, Value>) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    if let Some(Value::Array(scp)) = claims.get("scp") {
        scopes.extend(scp.iter().filter_map(Value::as_str).map(String::from));
    }
    if let Some(Value::String(scope)) = claims.get("scope") {
        scopes.extend(scope.split_whitespace().map(String::from));
    }
    scopes.sort();
    scopes.dedup();
    scopes
}

fn check_scopes(claims: &Map<String, Value>, required: &[String]) -> Check {
    let got = scopes_of(claims);
    if required.is_empty() {
        return skip(
            "scopes",
            format!(
                "{} scope(s) present; none required (pass --scope)",
                got.len()
            ),
        );
    }
    let missing: Vec<String> = required
        .iter()
        .filter(|s| !got.contains(s))
        .cloned()
        .collect();
    if missing.is_empty() {
        pass("scopes", format!("has {}", quoted(required)))
    } else {
        fail("scopes", format!("missing {}", quoted(&missing)))
    }
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn span(secs: u64) -> String {
    crate::ui::duration(secs)
}

/// RFC 3339 for the times humantime can show (years 1970-9999); the raw number otherwise.
fn rfc3339(secs: u64) -> String {
    const YEAR_10000: u64 = 253_402_300_800;
    if secs >= YEAR_10000 {
        return format!("{secs} s after 1970, beyond year 9999");
    }
    let mut out = String::new();
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    match std::fmt::write(
        &mut out,
        format_args!("{}", humantime::format_rfc3339_seconds(at)),
    ) {
        Ok(()) => out,
        Err(_) => format!("{secs} s after 1970"),
    }
}

/// Untrusted text with control characters (terminal escapes) shown as `\u{..}`, so a token
/// cannot rewrite the verdict on screen.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn pass(name: &'static str, detail: String) -> Check {
    Check {
        name,
        status: Status::Pass,
        detail: printable(&detail),
    }
}

fn fail(name: &'static str, detail: String) -> Check {
    Check {
        name,
        status: Status::Fail,
        detail: printable(&detail),
    }
}

fn skip(name: &'static str, detail: String) -> Check {
    Check {
        name,
        status: Status::Skip,
        detail: printable(&detail),
    }
}
