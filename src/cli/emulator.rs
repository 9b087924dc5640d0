//! `cargo kinde emulator`: a local Kinde for offline development and CI.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use serde_json::json;

use super::GlobalArgs;
use crate::config::dotenv;
use crate::emulator::{self, Options, RequestLog};
use crate::error::{Error, exit};
use crate::ui::{self, paint, style};

/// The port the emulator listens on by default.
pub const DEFAULT_PORT: u16 = 5380;

/// Arguments of `cargo kinde emulator`.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Keep the tenant (keys, apps, users) in this file across restarts (written mode 0600).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Once listening, write a .env for this tenant (KINDE_DOMAIN, client ids and secrets; mode 0600).
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Access token lifetime in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 86_400)]
    pub token_ttl: u64,
    /// Inject a fault (repeatable): KIND[:VALUE][@PATH][*TIMES], KIND one of latency[:MS],
    /// 429[:RESET_SECS], 5xx (e.g. 503) or drop. E.g. `--fault 429:2@/api/v1/users*1`.
    #[arg(long = "fault", value_name = "SPEC", value_parser = parse_fault)]
    pub faults: Vec<emulator::faults::Fault>,
    /// Sign in the login_hint user (or the first seeded user) at once and redirect without a
    /// page, so scripts and CI can complete `cargo kinde login` with a plain HTTP client.
    #[arg(long)]
    pub auto_login: bool,
}

fn parse_fault(spec: &str) -> Result<emulator::faults::Fault, String> {
    emulator::faults::Fault::parse(spec)
}

/// Run `emulator` until Ctrl-C or SIGTERM.
pub async fn run(_global: &GlobalArgs, args: EmulatorArgs) -> Result<u8, Error> {
    let log: emulator::LogSink = Arc::new(|entry: &RequestLog| {
        let status = entry.status.to_string();
        let status = if entry.status >= 400 {
            paint(style::WARN, &status)
        } else {
            status
        };
        ui::status(&format!(
            "{} {} {status} {:.1} ms",
            entry.method,
            entry.path,
            entry.duration.as_secs_f64() * 1000.0
        ));
    });
    let options = Options {
        port: args.port,
        state_file: args.state.clone(),
        access_token_ttl: Some(args.token_ttl),
        log: Some(log),
        faults: args.faults.clone(),
        auto_login: args.auto_login,
    };
    let running = emulator::start(options).await?;
    let tenant = running.state.tenant();
    if let Some(path) = &args.env_file {
        write_env_file(path, &running.state.env_file())?;
    }
    let management = tenant.management_app().map(|a| a.id.clone());
    let app = tenant.user_app().map(|a| a.id.clone());
    if ui::settings().json {
        ui::json(&json!({
            "issuer": running.issuer(),
            "management_client_id": management,
            "client_id": app,
            "env_file": args.env_file,
            "state": args.state,
        }));
    } else {
        ui::result(running.issuer());
    }
    ui::status(&format!(
        "{} Kinde emulator listening on {}",
        paint(style::OK, "✓"),
        running.issuer()
    ));
    if let Some(id) = &management {
        ui::status(&format!("  management M2M app: {id}"));
    }
    match &args.env_file {
        Some(path) => ui::status(&format!(
            "  wrote {} (load it with `set -a; . {0}; set +a`, or run cargo kinde next to it)",
            path.display()
        )),
        None => ui::status(
            "  pass --env-file .env to write the credentials for cargo kinde and Kinde's SDKs",
        ),
    }
    ui::status("  Ctrl-C stops it");
    shutdown_signal().await;
    ui::status("stopping");
    running.stop().await?;
    Ok(exit::OK)
}

/// Merge the tenant's variables into the file at `path` (created from `contents` when missing):
/// the user's other variables and comments stay (a project's `.env` holds more than Kinde's).
fn write_env_file(path: &std::path::Path, contents: &str) -> Result<(), Error> {
    let pairs = dotenv::parse(contents).map_err(|(line, reason)| {
        Error::input(format!("the emulator's .env text, line {line}: {reason}"))
    })?;
    let values: Vec<(&str, String)> = pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    dotenv::save(path, &values, contents)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
