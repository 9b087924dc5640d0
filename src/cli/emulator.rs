//! `cargo kinde emulator`: a local Kinde for offline development and CI.

use std::path::{Path, PathBuf};
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
    /// An existing file keeps its other lines, and is added to .gitignore inside a git work tree.
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// With --env-file: replace a KINDE_DOMAIN that points at a real Kinde tenant.
    #[arg(long, requires = "env_file")]
    pub force: bool,
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
    /// Serve plain HTTP instead of HTTPS. Kinde's SDKs that insist on https (the JS management
    /// SDK, the Python management client) then refuse it; for tools that cannot be given a CA.
    #[arg(long)]
    pub http: bool,
    /// Start from the tenant in this TOML file (users, organizations, memberships, roles,
    /// permissions, flags, applications, APIs), and go back to it on `POST /_emulator/reset`.
    /// An existing --state file wins at start.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// Multiply the webhook retry delays (Kinde's: at once, 5 s, 30 s, 2 min, ... up to 36 h) and
    /// the 10 s attempt timeout (at least 1 s); e.g. 0.01 to see retries within seconds.
    #[arg(long, value_name = "FACTOR", default_value_t = 1.0, value_parser = parse_scale)]
    pub webhook_retry_scale: f64,
}

fn parse_scale(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale >= 0.0 => Ok(scale),
        _ => Err("expected a number ≥ 0, e.g. 0.01".into()),
    }
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
    // Refuse what would fail or do harm before listening, not after.
    if let Some(path) = &args.env_file {
        check_env_file(path, args.force)?;
    }
    if let Some(path) = &args.state {
        check_state_file(path)?;
    }
    // Checked even when an existing --state file wins, so a broken seed never waits for a reset.
    let seed = args
        .seed
        .as_deref()
        .map(emulator::seed::Seed::load)
        .transpose()?;
    let state_wins = seed.is_some() && args.state.as_deref().is_some_and(Path::exists);
    let ca_dir = crate::net::emulator_tls_dir();
    let tls_dir = if args.http {
        None
    } else {
        Some(ca_dir.clone().ok_or_else(|| {
            Error::input("cannot find a cache directory for the emulator's local CA")
                .with_hint("set CARGO_KINDE_CACHE_DIR to a directory of yours, or pass --http")
        })?)
    };
    let options = Options {
        port: args.port,
        tls_dir,
        state_file: args.state.clone(),
        access_token_ttl: Some(args.token_ttl),
        log: Some(log),
        faults: args.faults.clone(),
        auto_login: args.auto_login,
        webhook_retry_scale: Some(args.webhook_retry_scale),
        seed,
    };
    let running = emulator::start(options).await?;
    for warning in running.state.warnings() {
        ui::warn(warning);
    }
    let tenant = running.state.catalog();
    let written = match &args.env_file {
        Some(path) => Some(write_env_file(
            path,
            &env_text(
                &running.state.env_file(),
                running.issuer(),
                running.ca.as_ref(),
            ),
            ca_dir.as_deref(),
        )?),
        None => None,
    };
    let management = tenant.management_app().map(|a| a.id.clone());
    let app = tenant.user_app().map(|a| a.id.clone());
    if ui::settings().json {
        ui::json(&json!({
            "issuer": running.issuer(),
            "management_client_id": management,
            "client_id": app,
            "env_file": args.env_file,
            "replaced": written.as_ref().map(|w| &w.replaced),
            "removed": written.as_ref().map(|w| &w.removed),
            "gitignore": written.as_ref().and_then(|w| w.gitignore.as_ref()),
            "state": args.state,
            "ca_file": running.ca.as_ref().map(|ca| &ca.ca),
            "ca_bundle": running.ca.as_ref().map(|ca| &ca.bundle),
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
    if let (true, Some(state), Some(seed)) = (state_wins, &args.state, &args.seed) {
        ui::status(&format!(
            "  note: {} exists, so the tenant comes from it, not from {}; POST /_emulator/reset (or deleting the state file) goes back to the seed",
            state.display(),
            seed.display()
        ));
    }
    if let Some(ca) = &running.ca {
        ui::status(&format!(
            "  local CA: {} (cargo kinde trusts it for this emulator; --env-file points Node, Python and OpenSSL at it)",
            ca.ca.display()
        ));
    }
    match (&args.env_file, &written) {
        (Some(path), Some(written)) => {
            ui::status(&format!(
                "  wrote {} (load it with `set -a; . {0}; set +a`, or run cargo kinde next to it)",
                path.display()
            ));
            if !written.replaced.is_empty() {
                ui::status(&format!(
                    "  replaced {} in {}",
                    written.replaced.join(", "),
                    path.display()
                ));
            }
            if !written.removed.is_empty() {
                ui::status(&format!(
                    "  removed {} from {} (the emulator's CA, which a plain HTTP emulator does not use)",
                    written.removed.join(", "),
                    path.display()
                ));
            }
            if let Some(gitignore) = &written.gitignore {
                ui::status(&format!(
                    "  added {} to {} so its secrets are never committed",
                    path.file_name().unwrap_or_default().to_string_lossy(),
                    gitignore.display()
                ));
            }
        }
        _ => ui::status(
            "  pass --env-file .env to write the credentials for cargo kinde and Kinde's SDKs",
        ),
    }
    ui::status("  Ctrl-C stops it");
    shutdown_signal().await;
    ui::status("stopping");
    running.stop().await?;
    Ok(exit::OK)
}

/// The env file: the tenant's variables, the issuer under the Next.js SDK's name too, and with
/// TLS the CA for the common runtimes. `NODE_EXTRA_CA_CERTS` adds to Node's roots, so it names the
/// CA alone; `SSL_CERT_FILE` (OpenSSL, Python's ssl, httpx) and `REQUESTS_CA_BUNDLE` (requests)
/// replace the system's roots, so they name the bundle of the system's roots plus the CA, and a
/// process loading the file still reaches every host it reached before.
fn env_text(tenant: &str, issuer: &str, ca: Option<&emulator::CaFiles>) -> String {
    let mut out = tenant.to_string();
    out.push_str(&format!("KINDE_ISSUER_URL={issuer}\n"));
    if let Some(ca) = ca {
        out.push_str(emulator::tls::ENV_COMMENT);
        out.push('\n');
        for (name, file) in emulator::tls::ENV_VARIABLES {
            let path = if file == emulator::tls::CA_FILE {
                &ca.ca
            } else {
                &ca.bundle
            };
            out.push_str(&format!("{name}={}\n", path.display()));
        }
    }
    out
}

/// What writing `--env-file` did besides setting the tenant's variables.
struct EnvWritten {
    /// Names whose earlier, different value was replaced (never the values: they may be secrets).
    replaced: Vec<String>,
    /// Names of the CA variables an HTTPS run wrote, taken out by a plain HTTP one.
    removed: Vec<String>,
    /// The `.gitignore` a line ignoring the file was added to.
    gitignore: Option<PathBuf>,
}

/// Refuse, before the emulator starts, an `--env-file` that is a link (it would be written through)
/// or whose `KINDE_DOMAIN` is a real tenant (anything but a loopback URL) unless `force`:
/// replacing it silently would point the project's commands at the emulator.
fn check_env_file(path: &Path, force: bool) -> Result<(), Error> {
    crate::files::refuse_symlink(path)?;
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::file("read", path, e)),
    };
    // A file is taken as a real tenant's unless every issuer it names is a loopback URL: a
    // non-loopback KINDE_DOMAIN or KINDE_ISSUER_URL (the Next.js SDK's name), such a line that
    // does not even parse, or secrets with no issuer to tell whose they are.
    const ISSUER_NAMES: [&str; 2] = ["KINDE_DOMAIN", "KINDE_ISSUER_URL"];
    let parsed = dotenv::parse_lenient(&text);
    let issuers: Vec<&String> = parsed
        .iter()
        .filter(|(name, _)| ISSUER_NAMES.contains(&name.as_str()))
        .map(|(_, value)| value)
        .collect();
    let real_issuer = issuers.iter().any(|value| {
        !value.trim().is_empty()
            && !crate::urls::Issuer::parse(value).is_ok_and(|issuer| issuer.is_loopback())
    });
    let unparsed_issuer = issuers.is_empty()
        && text.lines().any(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
            ISSUER_NAMES.iter().any(|name| {
                line.strip_prefix(name)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
        });
    let unowned_secrets = issuers.is_empty()
        && parsed.iter().any(|(name, value)| {
            name.starts_with("KINDE_") && name.ends_with("_SECRET") && !value.is_empty()
        });
    if (real_issuer || unparsed_issuer || unowned_secrets) && !force {
        // The values themselves are not shown: a domain may carry credentials, a secret is one.
        let why = if unowned_secrets {
            "holds Kinde client secrets with no local emulator's KINDE_DOMAIN beside them"
        } else {
            "points at a Kinde tenant (KINDE_DOMAIN / KINDE_ISSUER_URL), not a local emulator"
        };
        return Err(Error::input(format!(
            "{}: {why}; writing the emulator's variables would replace that tenant's client ids and secrets",
            path.display()
        ))
        .with_hint(format!(
            "write another file (e.g. --env-file .env.emulator), or pass --force to replace the KINDE_* values in {}",
            path.display()
        )));
    }
    Ok(())
}

/// Refuse, before the emulator starts, a `--state` file that could never be saved.
fn check_state_file(path: &Path) -> Result<(), Error> {
    crate::files::refuse_symlink(path)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        return Ok(());
    }
    Err(Error::file(
        "write",
        path,
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("the directory {} does not exist", dir.display()),
        ),
    )
    .with_hint(format!(
        "create it first (`mkdir -p {}`), or pass another --state FILE",
        dir.display()
    )))
}

/// Merge the tenant's variables into the file at `path` (created from `contents` when missing):
/// the user's other variables and comments stay (a project's `.env` holds more than Kinde's).
/// CA lines an HTTPS run wrote (pointing into `ca_dir`, or at an emulator's CA anywhere) go when
/// `contents` sets none, so a plain HTTP run leaves no runtime trusting a CA it does not use;
/// a CA of the user's own stays. Inside a git work tree the file is added to `.gitignore`
/// unless one already ignores it.
fn write_env_file(path: &Path, contents: &str, ca_dir: Option<&Path>) -> Result<EnvWritten, Error> {
    let pairs = dotenv::parse(contents).map_err(|(line, reason)| {
        Error::input(format!("the emulator's .env text, line {line}: {reason}"))
    })?;
    let values: Vec<(&str, String)> = pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    // An HTTPS run sets the CA variables (in place): only a plain HTTP one drops their comment.
    let sets_ca = values
        .iter()
        .any(|(name, _)| emulator::tls::ENV_VARIABLES.iter().any(|(v, _)| v == name));
    let (replaced, removed) =
        dotenv::save_removing(path, &values, contents, |variable, text| match variable {
            Some((name, value)) => emulator::tls::wrote_env(name, value, ca_dir),
            None => !sets_ca && text.trim_end() == emulator::tls::ENV_COMMENT,
        })?;
    let gitignore = match dotenv::gitignore_needed(path) {
        Some((gitignore, line)) => {
            let existing = match std::fs::read_to_string(&gitignore) {
                Ok(text) => Some(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(Error::file("read", &gitignore, e)),
            };
            let text = crate::scaffold::gitignore(existing, &[line]);
            crate::files::write(&gitignore, text.as_bytes(), crate::files::Access::Shared)?;
            Some(gitignore)
        }
        None => None,
    };
    Ok(EnvWritten {
        replaced,
        removed,
        gitignore,
    })
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
