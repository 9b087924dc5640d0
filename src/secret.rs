//! Secrets as a type: client secrets and tokens redact themselves in `Debug` and `Display`, so a
//! stray `{:?}` in a log line or an error cannot leak them.

use std::fmt;

/// A secret string. Read it with [`Secret::expose`], only where it goes on the wire or to a file
/// the user asked for.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
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
        String::deserialize(d).map(Secret)
    }
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
}
