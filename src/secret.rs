//! Secrets as a type: client secrets and tokens redact themselves in `Debug` and `Display`, so a
//! stray `{:?}` in a log line or an error cannot leak them. Every secret value the process holds
//! is also registered, so [`mask`] can hide it in text a server sends back (a server that echoes
//! the request must not make the client secret appear in an error message or a report).

use std::fmt;
use std::sync::{Mutex, PoisonError};

use base64::Engine as _;

/// A secret string. Read it with [`Secret::expose`], only where it goes on the wire or to a file
/// the user asked for.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        register(&value);
        Secret(value)
    }

    /// The secret value itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Reading a secret from a response body cannot leak it; writing one (`Serialize`) is left out on
/// purpose so a secret never lands in JSON output by accident.
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// Values shorter than this are not masked: hiding every `a` or `123` in a message would garble
/// it, and no real secret (client secret, token, code, verifier) is that short.
const MIN_MASKED_LEN: usize = 8;

/// Every known secret value, in each form a server may echo it in.
static KNOWN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Remember `value` as a secret so [`mask`] hides it: as is, URL-encoded (a form echoed back),
/// JSON-escaped and base64 (standard and url-safe). [`Secret::new`] calls this; call it directly
/// for secret values kept as plain strings (authorization codes, PKCE verifiers).
pub fn register(value: &str) {
    if value.len() < MIN_MASKED_LEN {
        return;
    }
    let json = serde_json::to_string(value).unwrap_or_default();
    let forms = [
        value.to_string(),
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect(),
        json.trim_matches('"').to_string(),
        base64::engine::general_purpose::STANDARD.encode(value),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value),
    ];
    let mut known = KNOWN.lock().unwrap_or_else(PoisonError::into_inner);
    for form in forms {
        if !known.contains(&form) {
            known.push(form);
        }
    }
    // Longest first, so a secret that contains another is masked whole.
    known.sort_by_key(|k| std::cmp::Reverse(k.len()));
}

/// `text` with every registered secret value replaced by `***`.
pub fn mask(text: &str) -> String {
    let known = KNOWN.lock().unwrap_or_else(PoisonError::into_inner);
    let mut out = text.to_string();
    for secret in known.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// Names of JSON fields whose string values are secrets in Kinde's responses.
const SECRET_FIELDS: &[&str] = &[
    "client_secret",
    "access_token",
    "refresh_token",
    "id_token",
    "secret",
];

/// A JSON document with every secret field's value replaced by `***` (for printing responses).
pub fn redact_json(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    if SECRET_FIELDS.contains(&k.as_str()) && v.is_string() {
                        (k, Value::String("***".into()))
                    } else {
                        (k, redact_json(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact_json).collect()),
        other => other,
    }
}

/// A JSON document with every registered secret value ([`mask`]) hidden in its strings and keys.
pub fn mask_json(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(text) => Value::String(mask(&text)),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (mask(&k), mask_json(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(mask_json).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn masks_every_known_form() {
        let s = Secret::new("s3cr3t+/value=\"x");
        let echoed = format!(
            "client_secret=s3cr3t%2B%2Fvalue%3D%22x&raw=s3cr3t+/value=\"x json=\"s3cr3t+/value=\\\"x\" b64={}",
            base64::engine::general_purpose::STANDARD.encode(s.expose())
        );
        let shown = mask(&echoed);
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(
            !shown.contains(&base64::engine::general_purpose::STANDARD.encode(s.expose())),
            "{shown}"
        );
        assert_eq!(mask("short ab"), "short ab");
    }
}
