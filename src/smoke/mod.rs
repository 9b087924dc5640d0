//! Smoke checks: the model, the default suite, and turning `kinde.toml` into checks.

#[cfg(feature = "cli")]
pub mod openapi;
pub mod probes;
pub mod report;
pub mod runner;

use std::time::Duration;

use serde_json::Value;

use crate::config::file::{AssertSection, HttpMethod, SmokeSection, StatusSpec, TokenChoice};
use crate::config::{self, Config};
use crate::urls::Issuer;
use probes::Probe;

/// A JSON assertion.
#[derive(Debug, Clone)]
pub struct Assertion {
    /// JSON Pointer.
    pub pointer: String,
    /// What must hold.
    pub rule: Rule,
}

/// What must hold at a pointer.
#[derive(Debug, Clone)]
pub enum Rule {
    /// Equal to this value.
    Equals(Value),
    /// Present (`true`) or absent.
    Exists(bool),
    /// Matches a regular expression.
    Matches(String),
    /// Exactly this length.
    Length(usize),
    /// At least this length.
    MinLength(usize),
}

/// An HTTP request and what its answer must be.
#[derive(Debug, Clone)]
pub struct HttpCheck {
    /// Method.
    pub method: reqwest::Method,
    /// Absolute URL.
    pub url: String,
    /// Token to send.
    pub token: TokenChoice,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// JSON (or text) body.
    pub body: Option<Value>,
    /// Accepted statuses.
    pub expect: Vec<u16>,
    /// JSON assertions.
    pub asserts: Vec<Assertion>,
    /// Latency limit.
    pub max_latency: Option<Duration>,
}

/// What a check does.
#[derive(Debug, Clone)]
pub enum Step {
    /// A configured request.
    Http(HttpCheck),
    /// The discovery document answers for this issuer.
    Discovery,
    /// The JWKS is reachable, holds RS256 signing keys, and matches discovery's `jwks_uri`.
    Jwks,
    /// An M2M token is issued with the expected audience and scopes, and verifies.
    M2mToken,
    /// Get users returns 200 with a `users` array.
    GetUsers,
    /// A configured API is registered with its audience and authorised for its apps.
    ApiRegistered(config::Api),
    /// A configured callback URL is registered for the app.
    CallbackRegistered(String),
    /// A protection probe against an endpoint of the user's API.
    Probe {
        /// Method.
        method: reqwest::Method,
        /// Absolute URL.
        url: String,
        /// The API's audience, if known.
        audience: Option<String>,
        /// Which bad token.
        probe: Probe,
    },
    /// A probe of one operation of an OpenAPI document (`smoke --openapi`).
    Operation {
        /// The operation's request and the tokens it needs.
        target: std::sync::Arc<Target>,
        /// What is sent.
        probe: OperationProbe,
    },
}

/// One operation of an OpenAPI document, as `smoke --openapi` probes it.
#[derive(Debug, Clone)]
pub struct Target {
    /// `GET /orders/{order_id}`: the report groups its checks under it.
    pub label: String,
    /// Method.
    pub method: reqwest::Method,
    /// Absolute URL, parameters filled.
    pub url: String,
    /// A minimal JSON body, for operations that take one.
    pub body: Option<Value>,
    /// The API's audience, if known.
    pub audience: Option<String>,
    /// The permissions a token needs (a valid token holding them must not be refused).
    pub permissions: Vec<String>,
    /// Every permission any of the operation's requirements names: a token without them all
    /// must be refused with 403.
    pub required_any: Vec<String>,
    /// What the token of [`OperationProbe::Lacking`] holds: every other permission the document
    /// names.
    pub others: Vec<String>,
}

/// What one check of an operation sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationProbe {
    /// A bad token (or none): must be refused with 401 (403 accepted).
    Protect(Probe),
    /// A valid token lacking the required permissions: must be refused with 403.
    Lacking,
    /// A valid token holding the required permissions: must not be refused (401 / 403).
    Control,
    /// A public operation (its reason): reported, not probed.
    Public(String),
    /// An operation that cannot be probed (its reason: a missing parameter, a non-bearer scheme).
    NotProbed(String),
}

impl Step {
    /// Whether the step needs the management M2M credentials.
    pub fn needs_m2m(&self) -> bool {
        match self {
            Step::Http(h) => matches!(h.token, TokenChoice::M2m | TokenChoice::Named(_)),
            Step::Discovery | Step::Jwks => false,
            Step::Probe { probe, .. } => *probe != Probe::NoToken,
            // The emulator mints these tokens itself; against a tenant, the probes fall back to
            // the M2M token (decided once the run knows whether minting is available).
            Step::Operation { probe, .. } => match probe {
                OperationProbe::Protect(p) => *p != Probe::NoToken,
                // The M2M token for the API, when the operation needs no permission.
                OperationProbe::Control => true,
                _ => false,
            },
            _ => true,
        }
    }
}

/// A named check.
#[derive(Debug, Clone)]
pub struct Check {
    /// Name.
    pub name: String,
    /// Tags.
    pub tags: Vec<String>,
    /// What it does.
    pub step: Step,
}

impl Check {
    /// The OpenAPI operation it belongs to (`GET /orders/{id}`), for reports grouping by it.
    pub fn operation(&self) -> Option<&str> {
        match &self.step {
            Step::Operation { target, .. } => Some(&target.label),
            _ => None,
        }
    }
}

/// The checks for `config`: the default suite when `[smoke_suite] defaults` says so (unset: when
/// there is no other check), then its `[[smoke]]` and `[[protect]]` entries.
pub fn checks(config: &Config, issuer: &Issuer) -> Vec<Check> {
    let mut out = Vec::new();
    let defaults = config
        .smoke_defaults
        .unwrap_or(config.smoke.is_empty() && config.protect.is_empty());
    if defaults {
        out.extend(default_suite(config));
    }
    for section in &config.smoke {
        let check = http_check(section, issuer);
        if section.protect {
            let audience = match &check.token {
                TokenChoice::Named(name) => config
                    .tokens
                    .get(name)
                    .and_then(|t| t.audience.first().cloned()),
                _ => None,
            };
            out.extend(probe_checks(
                &section.name,
                &check.method,
                &check.url,
                audience,
                &section.tags,
            ));
        }
        out.push(Check {
            name: section.name.clone(),
            tags: section.tags.clone(),
            step: Step::Http(check),
        });
    }
    for section in &config.protect {
        let method = reqwest::Method::from(section.method);
        let name = section.name.clone().unwrap_or_else(|| section.url.clone());
        out.extend(probe_checks(
            &name,
            &method,
            &expand(&section.url, issuer),
            section.audience.clone(),
            &section.tags,
        ));
    }
    out
}

/// The warning for a `kinde.toml` written before `[smoke_suite]` existed: with `[[smoke]]` or
/// `[[protect]]` checks and no `defaults`, only those checks run, which such a file's author may
/// not expect (the default suite used to run as well, and `init` wrote one `[[smoke]]` entry).
pub fn suite_warning(config: &Config) -> Option<String> {
    if config.smoke_defaults.is_some() || (config.smoke.is_empty() && config.protect.is_empty()) {
        return None;
    }
    Some(
        "kinde.toml has [[smoke]] / [[protect]] checks and no [smoke_suite], so only those run: \
         the default suite (discovery, JWKS, M2M token, get users, registrations) is off; to keep \
         it, add `[smoke_suite]` with `defaults = true` to kinde.toml (`defaults = false` keeps \
         yours alone and silences this warning)"
            .to_string(),
    )
}

fn probe_checks(
    name: &str,
    method: &reqwest::Method,
    url: &str,
    audience: Option<String>,
    tags: &[String],
) -> Vec<Check> {
    Probe::ALL
        .iter()
        .map(|probe| Check {
            name: format!("{name}: refuses {}", probe.label()),
            tags: tags
                .iter()
                .cloned()
                .chain(["protect".to_string()])
                .collect(),
            step: Step::Probe {
                method: method.clone(),
                url: url.to_string(),
                audience: audience.clone(),
                probe: *probe,
            },
        })
        .collect()
}

fn default_suite(config: &Config) -> Vec<Check> {
    let tag = |t: &str| vec!["default".to_string(), t.to_string()];
    let mut out = vec![
        Check {
            name: "discovery document".into(),
            tags: tag("oidc"),
            step: Step::Discovery,
        },
        Check {
            name: "JWKS".into(),
            tags: tag("oidc"),
            step: Step::Jwks,
        },
        Check {
            name: "M2M token".into(),
            tags: tag("token"),
            step: Step::M2mToken,
        },
        Check {
            name: "get users".into(),
            tags: tag("management"),
            step: Step::GetUsers,
        },
    ];
    for api in &config.apis {
        out.push(Check {
            name: format!("API {} registered", api.audience),
            tags: tag("register"),
            step: Step::ApiRegistered(api.clone()),
        });
    }
    for url in &config.callback_urls {
        out.push(Check {
            name: format!("callback URL {} registered", url.value),
            tags: tag("register"),
            step: Step::CallbackRegistered(url.value.clone()),
        });
    }
    out
}

impl From<HttpMethod> for reqwest::Method {
    fn from(method: HttpMethod) -> Self {
        match method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
            HttpMethod::Head => reqwest::Method::HEAD,
            HttpMethod::Options => reqwest::Method::OPTIONS,
        }
    }
}

/// `{issuer}` in a URL stands for the tenant's issuer (handy with the emulator, whose port changes).
pub const ISSUER_PLACEHOLDER: &str = "{issuer}";

fn expand(url: &str, issuer: &Issuer) -> String {
    url.replace(ISSUER_PLACEHOLDER, issuer.as_str())
}

fn http_check(section: &SmokeSection, issuer: &Issuer) -> HttpCheck {
    let target = expand(
        section
            .url
            .as_deref()
            .or(section.path.as_deref())
            .unwrap_or("/"),
        issuer,
    );
    let url = if target.starts_with('/') {
        issuer.endpoint(&target)
    } else {
        target
    };
    let expect = match &section.expect_status {
        None => vec![200],
        Some(StatusSpec::One(s)) => vec![*s],
        Some(StatusSpec::Any(list)) => list.clone(),
    };
    HttpCheck {
        method: reqwest::Method::from(section.method),
        url,
        token: section.token.clone(),
        headers: section
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        body: section.body.as_ref().map(toml_to_json),
        expect,
        asserts: section.asserts.iter().flat_map(assertions).collect(),
        max_latency: section.max_latency_ms.map(Duration::from_millis),
    }
}

fn assertions(section: &AssertSection) -> Vec<Assertion> {
    let at = |rule| Assertion {
        pointer: section.pointer.clone(),
        rule,
    };
    let mut out = Vec::new();
    if let Some(v) = &section.equals {
        out.push(at(Rule::Equals(toml_to_json(v))));
    }
    if let Some(e) = section.exists {
        out.push(at(Rule::Exists(e)));
    }
    if let Some(m) = &section.matches {
        out.push(at(Rule::Matches(m.clone())));
    }
    if let Some(n) = section.length {
        out.push(at(Rule::Length(n)));
    }
    if let Some(n) = section.min_length {
        out.push(at(Rule::MinLength(n)));
    }
    out
}

/// TOML values as JSON (dates become strings).
pub fn toml_to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// Check one assertion against a body; `Err` says what failed.
pub fn check_assertion(body: Option<&Value>, assertion: &Assertion) -> Result<(), String> {
    let pointer = &assertion.pointer;
    let found = body.and_then(|b| b.pointer(pointer));
    let shown = |v: &Value| crate::net::excerpt(&v.to_string(), 80);
    match &assertion.rule {
        Rule::Exists(true) => found
            .map(drop)
            .ok_or_else(|| format!("`{pointer}` does not exist")),
        Rule::Exists(false) => match found {
            Some(v) => Err(format!("`{pointer}` exists ({}) but should not", shown(v))),
            None => Ok(()),
        },
        Rule::Equals(expected) => match found {
            Some(v) if v == expected => Ok(()),
            Some(v) => Err(format!(
                "`{pointer}` is {}, expected {}",
                shown(v),
                shown(expected)
            )),
            None => Err(format!(
                "`{pointer}` does not exist, expected {}",
                shown(expected)
            )),
        },
        Rule::Matches(pattern) => {
            let text = match found {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(other) => {
                    return Err(format!(
                        "`{pointer}` is {}, not a string to match",
                        shown(other)
                    ));
                }
                None => return Err(format!("`{pointer}` does not exist")),
            };
            let regex = regex_lite::Regex::new(pattern)
                .map_err(|e| format!("bad pattern `{pattern}`: {e}"))?;
            if regex.is_match(&text) {
                Ok(())
            } else {
                Err(format!(
                    "`{pointer}` is \"{text}\", which does not match /{pattern}/"
                ))
            }
        }
        Rule::Length(n) | Rule::MinLength(n) => {
            let len = match found {
                Some(Value::Array(a)) => a.len(),
                Some(Value::String(s)) => s.chars().count(),
                Some(Value::Object(o)) => o.len(),
                Some(other) => {
                    return Err(format!(
                        "`{pointer}` is {}, which has no length",
                        shown(other)
                    ));
                }
                None => return Err(format!("`{pointer}` does not exist")),
            };
            let exact = matches!(assertion.rule, Rule::Length(_));
            match (exact, len) {
                (true, l) if l == *n => Ok(()),
                (false, l) if l >= *n => Ok(()),
                (true, l) => Err(format!("`{pointer}` has length {l}, expected {n}")),
                (false, l) => Err(format!("`{pointer}` has length {l}, expected at least {n}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(pointer: &str, rule: Rule) -> Result<(), String> {
        let body = json!({"users": [{"email": "a@b.c", "n": 3}], "ok": true});
        check_assertion(
            Some(&body),
            &Assertion {
                pointer: pointer.into(),
                rule,
            },
        )
    }

    #[test]
    fn each_assertion_passes_and_fails() {
        assert!(check("/ok", Rule::Equals(json!(true))).is_ok());
        assert!(
            check("/ok", Rule::Equals(json!(false)))
                .unwrap_err()
                .contains("expected false")
        );
        assert!(check("/users", Rule::Exists(true)).is_ok());
        assert!(
            check("/nope", Rule::Exists(true))
                .unwrap_err()
                .contains("does not exist")
        );
        assert!(check("/nope", Rule::Exists(false)).is_ok());
        assert!(check("/ok", Rule::Exists(false)).is_err());
        assert!(check("/users/0/email", Rule::Matches("^[^@]+@".into())).is_ok());
        assert!(check("/users/0/n", Rule::Matches("^3$".into())).is_ok());
        assert!(
            check("/users/0/email", Rule::Matches("^x".into()))
                .unwrap_err()
                .contains("does not match")
        );
        assert!(check("/users", Rule::Length(1)).is_ok());
        assert!(
            check("/users", Rule::Length(2))
                .unwrap_err()
                .contains("length 1, expected 2")
        );
        assert!(check("/users", Rule::MinLength(1)).is_ok());
        assert!(
            check("/users", Rule::MinLength(5))
                .unwrap_err()
                .contains("at least 5")
        );
        assert!(
            check("/ok", Rule::Length(1))
                .unwrap_err()
                .contains("no length")
        );
        assert!(
            check_assertion(
                None,
                &Assertion {
                    pointer: "/a".into(),
                    rule: Rule::Exists(true)
                }
            )
            .is_err()
        );
    }

    #[test]
    fn the_default_suite_runs_with_custom_checks_when_switched_on() {
        let issuer = Issuer::parse("https://acme.kinde.com").unwrap();
        let names = |toml: &str| {
            let file =
                crate::config::file::File::parse(std::path::Path::new("kinde.toml"), toml.into())
                    .unwrap();
            let mut config = Config::empty(".".into());
            config.smoke_defaults = file.layer.smoke_suite.and_then(|s| s.defaults);
            config.smoke = file
                .layer
                .smoke
                .unwrap_or_default()
                .into_iter()
                .map(|c| c.into_inner())
                .collect();
            checks(&config, &issuer)
                .into_iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
        };
        let mine = "[[smoke]]\nname = \"mine\"\npath = \"/api/v1/users\"\n";
        assert_eq!(
            names(mine),
            ["mine"],
            "unset: custom checks replace the suite"
        );
        let on = names(&format!("[smoke_suite]\ndefaults = true\n{mine}"));
        assert_eq!(on.first().map(String::as_str), Some("discovery document"));
        assert_eq!(on.last().map(String::as_str), Some("mine"));
        assert_eq!(on.len(), 5, "{on:?}");
        let off = names("[smoke_suite]\ndefaults = false\n");
        assert!(off.is_empty(), "{off:?}");
    }
}
