//! `cargo kinde config`: the effective configuration, where each value came from, secrets
//! redacted.

use std::collections::BTreeMap;
use std::fmt;

use clap::Args;
use serde::{Serialize, Serializer};

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
    /// The value, secrets redacted.
    pub value: String,
    /// Where it came from (empty: nowhere).
    pub source: String,
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
            profile: config.profile.clone(),
            values: rows(config),
            warnings: config.warnings.clone(),
        }
    }
}

/// Every effective value with its source; secrets redact themselves when displayed.
fn rows(config: &Config) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut row = |key: &str, value: String, source: String| {
        rows.push(Row {
            key: key.to_string(),
            value,
            source,
        });
    };
    fn opt<T: fmt::Display>(s: &Option<Setting<T>>) -> (String, String) {
        s.as_ref().map_or(("(not set)".into(), String::new()), |s| {
            (s.value.to_string(), s.source.to_string())
        })
    }
    let (v, s) = opt(&config.domain);
    row("tenant.domain", v, s);
    let (v, s) = opt(&config.custom_domain);
    row("tenant.custom_domain", v, s);
    let (v, s) = opt(&config.management_client_id);
    row("management.client_id", v, s);
    let (v, s) = opt(&config.management_client_secret);
    row("management.client_secret", v, s);
    let (v, s) = opt(&config.app_client_id);
    row("app.client_id", v, s);
    let (v, s) = opt(&config.app_client_secret);
    row("app.client_secret", v, s);
    if let Some(a) = &config.audience {
        row("audience", a.value.join(" "), a.source.to_string());
    }
    for (name, urls) in [
        ("app.callback_urls", &config.callback_urls),
        ("app.logout_urls", &config.logout_urls),
    ] {
        for (i, url) in urls.iter().enumerate() {
            row(
                &format!("{name}[{i}]"),
                url.value.clone(),
                url.source.to_string(),
            );
        }
    }
    let apis_source = config
        .apis_source
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    for (i, api) in config.apis.iter().enumerate() {
        let scopes = if api.scopes.is_empty() {
            String::new()
        } else {
            format!(" scopes: {}", api.scopes.join(" "))
        };
        row(
            &format!("apis[{i}]"),
            format!("{} ({}){scopes}", api.name, api.audience),
            apis_source.clone(),
        );
    }
    let login_source = config
        .login_source
        .as_ref()
        .map_or_else(|| "default".to_string(), ToString::to_string);
    let login = &config.login;
    row("login.scopes", login.scopes.join(" "), login_source.clone());
    row(
        "login.audiences",
        login.audiences.join(" "),
        login_source.clone(),
    );
    row("login.prompt", login.prompt.clone(), login_source.clone());
    row("login.port", login.port.to_string(), login_source);
    rows
}

/// Run `config`.
pub fn run(global: &GlobalArgs, _args: &ConfigArgs) -> Result<u8, Error> {
    let ctx = Context::load(global)?;
    let report = Report::new(&ctx.config);
    if ui::settings().json {
        // Strings and maps only: serialising cannot fail.
        let value = serde_json::to_value(&report)
            .map_err(|e| Error::input(format!("cannot write the report as JSON: {e}")))?;
        ui::json(&value);
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
    let width = report.values.iter().map(|r| r.key.len()).max().unwrap_or(0);
    let value_width = report
        .values
        .iter()
        .map(|r| r.value.chars().count())
        .max()
        .unwrap_or(0)
        .min(60);
    for Row { key, value, source } in &report.values {
        let source = if source.is_empty() {
            String::new()
        } else {
            paint(style::DIM, source)
        };
        ui::result(&format!("{key:width$}  {value:value_width$}  {source}"));
    }
    Ok(exit::OK)
}
