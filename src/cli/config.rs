//! `cargo kinde config`: the effective configuration, where each value came from, secrets
//! redacted.

use std::collections::BTreeMap;
use std::fmt;

use clap::Args;
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use super::GlobalArgs;
use super::context::Context;
use crate::config::{Config, Setting, Warning};
use crate::error::{Error, exit};
use crate::ui::{self, paint, style};

/// Arguments of `cargo kinde config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {}

/// What `config` shows: the files read and every effective value with its source.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The `kinde.toml` read.
    pub file: Option<String>,
    /// The `.env` read.
    pub dotenv: Option<String>,
    /// The profile's `.env.<profile>` read (its values win over `.env`'s).
    pub profile_dotenv: Option<String>,
    /// The selected profile.
    pub profile: Option<String>,
    /// Each value, in display order (a map keyed by name in JSON).
    #[serde(serialize_with = "by_key")]
    pub values: Vec<Row>,
    /// What loading noticed.
    pub warnings: Vec<Warning>,
}

/// One effective value.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Dotted key, e.g. `tenant.domain`.
    #[serde(skip)]
    pub key: String,
    /// The value as data: `null` when unset, arrays for lists, an object for an API; secrets
    /// as `"***"`.
    pub value: Value,
    /// The value as the table shows it.
    #[serde(skip)]
    pub shown: String,
    /// Where it came from (`null`: nowhere).
    pub source: Option<String>,
}

fn by_key<S: Serializer>(rows: &[Row], s: S) -> Result<S::Ok, S::Error> {
    let map: BTreeMap<&str, &Row> = rows.iter().map(|r| (r.key.as_str(), r)).collect();
    map.serialize(s)
}

impl Report {
    /// The report of `config`.
    pub fn new(config: &Config) -> Report {
        Report {
            file: config.file.as_ref().map(|p| p.display().to_string()),
            dotenv: config.dotenv.as_ref().map(|p| p.display().to_string()),
            profile_dotenv: config
                .profile_dotenv
                .as_ref()
                .map(|p| p.display().to_string()),
            profile: config.profile.clone(),
            values: rows(config),
            warnings: config.warnings.clone(),
        }
    }
}

/// Every effective value with its source; secrets redact themselves when displayed.
fn rows(config: &Config) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut row = |key: &str, value: Value, shown: String, source: Option<String>| {
        rows.push(Row {
            key: key.to_string(),
            value,
            shown,
            source,
        });
    };
    let list = |items: &[String]| (json!(items), items.join(" "));
    fn opt<T: fmt::Display>(s: &Option<Setting<T>>) -> (Value, String, Option<String>) {
        s.as_ref()
            .map_or((Value::Null, "(not set)".into(), None), |s| {
                let text = s.value.to_string();
                (json!(text), text, Some(s.source.to_string()))
            })
    }
    for (key, setting) in [
        ("tenant.domain", opt(&config.domain)),
        ("tenant.custom_domain", opt(&config.custom_domain)),
        ("management.client_id", opt(&config.management_client_id)),
        (
            "management.client_secret",
            opt(&config.management_client_secret),
        ),
        ("app.client_id", opt(&config.app_client_id)),
        ("app.client_secret", opt(&config.app_client_secret)),
    ] {
        let (value, shown, source) = setting;
        row(key, value, shown, source);
    }
    if let Some(a) = &config.audience {
        let (value, shown) = list(&a.value);
        row("audience", value, shown, Some(a.source.to_string()));
    }
    for (name, urls) in [
        ("app.callback_urls", &config.callback_urls),
        ("app.logout_urls", &config.logout_urls),
    ] {
        for (i, url) in urls.iter().enumerate() {
            row(
                &format!("{name}[{i}]"),
                json!(url.value),
                url.value.clone(),
                Some(url.source.to_string()),
            );
        }
    }
    let apis_source = config.apis_source.as_ref().map(ToString::to_string);
    for (i, api) in config.apis.iter().enumerate() {
        let scopes = if api.scopes.is_empty() {
            String::new()
        } else {
            format!(" scopes: {}", api.scopes.join(" "))
        };
        row(
            &format!("apis[{i}]"),
            json!({
                "name": api.name,
                "audience": api.audience,
                "scopes": api.scopes,
                "authorize": api.authorize,
            }),
            format!("{} ({}){scopes}", api.name, api.audience),
            apis_source.clone(),
        );
    }
    let login_source = Some(
        config
            .login_source
            .as_ref()
            .map_or_else(|| "default".to_string(), ToString::to_string),
    );
    let login = &config.login;
    let (value, shown) = list(&login.scopes);
    row("login.scopes", value, shown, login_source.clone());
    let (value, shown) = list(&login.audiences);
    row("login.audiences", value, shown, login_source.clone());
    row(
        "login.prompt",
        json!(login.prompt),
        login.prompt.clone(),
        login_source.clone(),
    );
    row(
        "login.port",
        json!(login.port),
        login.port.to_string(),
        login_source,
    );
    rows
}

/// Run `config`.
pub fn run(global: &GlobalArgs, _args: &ConfigArgs) -> Result<u8, Error> {
    let ctx = Context::load(global)?;
    let report = Report::new(&ctx.config);
    if ui::settings().json {
        ui::report(&report);
        return Ok(exit::OK);
    }
    for (label, value, none) in [
        ("file:   ", &report.file, "(none: environment only)"),
        (".env:   ", &report.dotenv, "(none)"),
        ("profile:", &report.profile, "(none)"),
    ] {
        ui::result(&format!(
            "{} {}",
            paint(style::BOLD, label),
            value.as_deref().unwrap_or(none)
        ));
    }
    if let Some(path) = &report.profile_dotenv {
        ui::result(&format!(
            "{} {path} (over .env)",
            paint(style::BOLD, "profile .env:")
        ));
    }
    let width = report.values.iter().map(|r| r.key.len()).max().unwrap_or(0);
    let value_width = report
        .values
        .iter()
        .map(|r| r.shown.chars().count())
        .max()
        .unwrap_or(0)
        .min(60);
    for Row {
        key, shown, source, ..
    } in &report.values
    {
        let source = source
            .as_deref()
            .map(|s| paint(style::DIM, s))
            .unwrap_or_default();
        ui::result(&format!("{key:width$}  {shown:value_width$}  {source}"));
    }
    Ok(exit::OK)
}
