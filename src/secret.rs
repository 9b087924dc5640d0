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
    let form: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    // Percent-encoding as RFC 3986 does it (`%20`, `~` kept) rather than as forms do, and either
    // case of hex.
    let percent: String = value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let html = value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    let forms = [
        value.to_string(),
        form.clone(),
        lower_hex(&form),
        percent.clone(),
        lower_hex(&percent),
        html,
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

/// `%2b` for `%2B`: some servers echo percent-encoding in lower case.
fn lower_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut chars = encoded.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            out.extend(chars.by_ref().take(2).map(|h| h.to_ascii_lowercase()));
        }
    }
    out
}

/// Form and header parameters whose value is a secret whatever it is: masked even when the value
/// comes back cut short or in an encoding not registered.
const SECRET_PARAMETERS: &[&str] = &[
    "client_secret=",
    "code_verifier=",
    "refresh_token=",
    "access_token=",
    "client_assertion=",
    "Basic ",
];

/// `text` with every registered secret value replaced by `***`, and the value after any secret
/// parameter name (`client_secret=...`, `Authorization: Basic ...`) too.
pub fn mask(text: &str) -> String {
    let known = KNOWN.lock().unwrap_or_else(PoisonError::into_inner);
    let mut out = text.to_string();
    for secret in known.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    drop(known);
    for name in SECRET_PARAMETERS {
        let mut from = 0;
        while let Some(at) = out[from..].find(name).map(|i| from + i + name.len()) {
            let end = out[at..]
                .find(|c: char| c == '&' || c == '"' || c == '\'' || c == '<' || c.is_whitespace())
                .map_or(out.len(), |i| at + i);
            if &out[at..end] != "***" && end > at {
                out.replace_range(at..end, "***");
            }
            from = at;
            if from >= out.len() {
                break;
            }
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

    #[test]
    fn every_echoed_form_of_a_secret_is_masked() {
        let secret = "Sup3r s3cret+/=&value~x-unique-41";
        register(secret);
        for echoed in [
            "Sup3r%20s3cret%2B%2F%3D%26value~x-unique-41",
            "Sup3r%20s3cret%2b%2f%3d%26value~x-unique-41",
            "<p>Sup3r s3cret+/=&amp;value~x-unique-41</p>",
            "body: grant_type=client_credentials&client_secret=Sup3r+s3cret",
            "Authorization: Basic bTpzZWNyZXQ=",
        ] {
            let shown = mask(echoed);
            assert!(
                !shown.contains("s3cret") && !shown.contains("bTpzZWNyZXQ"),
                "{echoed} -> {shown}"
            );
        }
        assert_eq!(mask("client_secret= and more"), "client_secret= and more");
    }
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
