//! Feature flags: definitions (`/feature_flags`) and the environment's values.
//!
//! The Management API has no operation that reads a flag's definition back: the environment's
//! list gives each flag's key, type and value in this environment (its default unless an
//! environment override is set), nothing more. Name, description and override level can only
//! be written.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::client::Client;
use super::parse;
use crate::error::Error;

/// A flag as the environment's list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FlagValue {
    /// Kinde's type: `bool`, `str`, `int` (JSON flags may show another).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Its value here, as text.
    #[serde(default)]
    pub value: String,
}

/// A flag definition to send: everything Kinde's create and replace operations require.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagDefinition<'a> {
    /// Key.
    pub key: &'a str,
    /// Name.
    pub name: &'a str,
    /// Description.
    pub description: &'a str,
    /// `bool`, `str`, `int`.
    pub kind: &'a str,
    /// `env`, `org`, `usr`.
    pub level: &'a str,
    /// The default value as text.
    pub default: &'a str,
}

/// Pages are bounded so a server that never ends the list cannot hang the command.
const MAX_PAGES: usize = 1000;

impl Client {
    /// Every flag of the environment with its type and value here (`GET
    /// /api/v1/environment/feature_flags`, following `next_token`).
    pub async fn environment_flags(&self) -> Result<BTreeMap<String, FlagValue>, Error> {
        let path = "/api/v1/environment/feature_flags";
        let mut flags = BTreeMap::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let query: Vec<(String, String)> = next
                .iter()
                .map(|t| ("next_token".to_string(), t.clone()))
                .collect();
            let page = self.call(Method::GET, path, &query, None).await?;
            let more: BTreeMap<String, FlagValue> = parse(
                page.get("feature_flags").cloned().unwrap_or(json!({})),
                "feature flags",
            )?;
            let empty = more.is_empty();
            flags.extend(more);
            next = page
                .get("next_token")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(String::from);
            if next.is_none() || empty {
                return Ok(flags);
            }
        }
        Err(Error::network(format!(
            "{path}: pagination did not end after {MAX_PAGES} pages"
        )))
    }

    /// Create a flag (`POST /api/v1/feature_flags`).
    pub async fn create_flag(&self, flag: &FlagDefinition<'_>) -> Result<(), Error> {
        let body = json!({
            "key": flag.key,
            "name": flag.name,
            "description": flag.description,
            "type": flag.kind,
            "allow_override_level": flag.level,
            "default_value": flag.default,
        });
        self.call(Method::POST, "/api/v1/feature_flags", &[], Some(&body))
            .await
            .map(drop)
    }

    /// Set a flag's value in this environment (`PATCH
    /// /api/v1/environment/feature_flags/{key}`, `{"value": …}`): an environment override.
    pub async fn set_environment_flag(&self, key: &str, value: &str) -> Result<(), Error> {
        let path = format!("/api/v1/environment/feature_flags/{}", segment(key));
        let body = serde_json::json!({ "value": value });
        self.call(Method::PATCH, &path, &[], Some(&body))
            .await
            .map(drop)
    }

    /// Delete a flag with all its overrides.
    pub async fn delete_flag(&self, key: &str) -> Result<(), Error> {
        let path = format!("/api/v1/feature_flags/{}", segment(key));
        self.call(Method::DELETE, &path, &[], None).await.map(drop)
    }
}

/// `text` as one path segment: a key with `/` or `?` must not change the path.
pub(crate) fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
