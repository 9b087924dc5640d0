//! `cargo kinde config`: the effective configuration, where each value came from, secrets
//! redacted.

use clap::Args;
use serde_json::{Map, Value, json};

use super::GlobalArgs;
use super::context::Context;
use crate::error::{Error, exit};
use crate::ui::{self, paint, style};

/// Arguments of `cargo kinde config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {}

/// Run `config`.
pub fn run(global: &GlobalArgs, _args: &ConfigArgs) -> Result<u8, Error> {
    let ctx = Context::load(global)?;
    let config = &ctx.config;
    let entries = config.entries();
    let file = config.file.as_ref().map(|p| p.display().to_string());
    let dotenv = config.dotenv.as_ref().map(|p| p.display().to_string());
    if ui::settings().json {
        let mut values = Map::new();
        for (key, value, source) in &entries {
            values.insert(key.clone(), json!({ "value": value, "source": source }));
        }
        ui::json(&json!({
            "file": file,
            "dotenv": dotenv,
            "profile": config.profile,
            "values": Value::Object(values),
        }));
        return Ok(exit::OK);
    }
    ui::result(&format!(
        "{} {}",
        paint(style::BOLD, "file:   "),
        file.as_deref().unwrap_or("(none: environment only)")
    ));
    ui::result(&format!(
        "{} {}",
        paint(style::BOLD, ".env:   "),
        dotenv.as_deref().unwrap_or("(none)")
    ));
    ui::result(&format!(
        "{} {}",
        paint(style::BOLD, "profile:"),
        config.profile.as_deref().unwrap_or("(none)")
    ));
    let width = entries.iter().map(|(k, _, _)| k.len()).max().unwrap_or(0);
    let value_width = entries
        .iter()
        .map(|(_, v, _)| v.chars().count())
        .max()
        .unwrap_or(0)
        .min(60);
    for (key, value, source) in entries {
        let source = if source.is_empty() {
            String::new()
        } else {
            paint(style::DIM, &source)
        };
        ui::result(&format!("{key:width$}  {value:value_width$}  {source}"));
    }
    Ok(exit::OK)
}
