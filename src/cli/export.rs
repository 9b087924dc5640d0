//! `cargo kinde export`: write the tenant as a `kinde.toml` (stdout, or `--output FILE` through
//! the safe writer, never replacing a file without `--force`). Reading and rendering live in
//! `kinde::export`; this file holds the arguments, the writing and the report.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::GlobalArgs;
use super::context::Context;
use crate::error::{Error, exit};
use crate::files::{self, Access};
use crate::kinde::export::{self, AppReason, Sections};
use crate::ui::{self, paint, style};

/// Arguments of `cargo kinde export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write the kinde.toml to FILE instead of stdout (refused when FILE exists, unless --force).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace an existing --output FILE; its previous contents are kept in FILE.bak.
    #[arg(long, requires = "output")]
    pub force: bool,
}

/// What `export --json` prints.
#[derive(Debug, Serialize)]
struct Report {
    /// The file written (`null`: the kinde.toml is in `toml`).
    path: Option<String>,
    /// Where an existing file's previous contents were kept (`--force`).
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<String>,
    /// How many entries each section has.
    sections: Sections,
    /// The client id of the application exported as `[app]`, and why it was chosen.
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<AppChoice>,
    /// The kinde.toml itself, without `--output`.
    #[serde(skip_serializing_if = "Option::is_none")]
    toml: Option<String>,
}

#[derive(Debug, Serialize)]
struct AppChoice {
    client_id: String,
    reason: AppReason,
}

/// Run `export`.
pub async fn run(global: &GlobalArgs, args: ExportArgs) -> Result<u8, Error> {
    if let Some(path) = &args.output {
        // Refused before any request: reading a large tenant to then throw it away helps no one.
        if !args.force && exists(path) {
            return Err(already_there(path));
        }
        writable_target(path, args.force)?;
    }
    let mut ctx = Context::load(global)?;
    let client = ctx.management_client()?;
    let configured = ctx.config.app_client_id.as_ref().map(|s| s.value.clone());
    let snapshot = {
        let _spinner = ui::spinner("reading the tenant");
        export::read(&client, configured.as_deref()).await?
    };
    let at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let text = export::render(&snapshot, &at);
    let mut report = Report {
        path: None,
        backup: None,
        sections: snapshot.sections(),
        app: snapshot.app.as_ref().map(|a| AppChoice {
            client_id: a.app.id.clone(),
            reason: a.reason,
        }),
        toml: None,
    };
    match &args.output {
        None if ui::settings().json => report.toml = Some(text),
        None => ui::result(text.trim_end()),
        Some(path) => {
            report.backup = write(path, &text, args.force)?.map(|p| p.display().to_string());
            report.path = Some(path.display().to_string());
        }
    }
    if ui::settings().json {
        ui::report(&report);
    } else {
        summarise(&report);
    }
    Ok(exit::OK)
}

/// What would stop the write, found before the tenant is read: a directory where the file
/// goes, a directory to write into that is missing, a link (never written through).
fn writable_target(path: &Path, force: bool) -> Result<(), Error> {
    if path.is_dir() {
        return Err(
            Error::input(format!("--output {} is a directory", path.display())).with_hint(format!(
                "name the file to write, e.g. --output {}",
                path.join("kinde.toml").display()
            )),
        );
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(Error::input(format!(
            "--output {}: the directory {} does not exist",
            path.display(),
            parent.display()
        ))
        .with_hint(format!("create it first (`mkdir -p {}`)", parent.display())));
    }
    // `.env` and its profiles hold the secrets: an export over one (even with --force) would
    // leave them only in a backup.
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if name == ".env" || name.starts_with(".env.") {
        return Err(Error::input(format!(
            "--output {}: that is a secrets file, and export writes kinde.toml",
            path.display()
        ))
        .with_hint("write to kinde.toml (or another .toml file) instead"));
    }
    if force {
        files::refuse_symlink(path)?;
    }
    Ok(())
}

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

fn already_there(path: &Path) -> Error {
    Error::input(format!(
        "{} already exists; export never replaces a file unless asked",
        path.display()
    ))
    .with_hint(format!(
        "pass --force to replace it (its contents are kept in {}), or choose another --output",
        backup_path(path).display()
    ))
}

/// `FILE.bak`, or the first free `FILE.bak.N` when an earlier `--force` left one: a second
/// forced export never overwrites the first one's backup.
fn backup_path(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_os_string();
    (0..)
        .map(|n: u32| {
            let mut candidate = name.clone();
            candidate.push(if n == 0 {
                ".bak".to_string()
            } else {
                format!(".bak.{n}")
            });
            path.with_file_name(candidate)
        })
        .find(|candidate| !exists(candidate))
        .expect("a free backup name")
}

/// Write `text` to `path`: only where nothing is, or with `force` over a file whose contents go
/// to `path.bak` first. Returns the backup's path when one was written.
fn write(path: &Path, text: &str, force: bool) -> Result<Option<PathBuf>, Error> {
    if !force {
        return match files::write_new(path, text.as_bytes(), Access::Shared) {
            Err(Error::File { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                Err(already_there(path))
            }
            other => other.map(|()| None),
        };
    }
    files::refuse_symlink(path)?;
    let backup = match std::fs::read(path) {
        Ok(previous) => {
            let backup = backup_path(path);
            // Owner-only whatever the file was: what it held is not this command's to share.
            files::write(&backup, &previous, Access::Private)?;
            Some(backup)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::file("read", path, e)),
    };
    files::write(path, text.as_bytes(), Access::Shared)?;
    Ok(backup)
}

/// One status line on stderr: what was written where (stdout holds only the kinde.toml).
fn summarise(report: &Report) {
    let s = &report.sections;
    let counts = format!(
        "{} API(s), {} permission(s), {} role(s), {} feature flag(s), {} organization(s)",
        s.apis, s.permissions, s.roles, s.feature_flags, s.organizations
    );
    let app = match &report.app {
        Some(app) => format!("[app] {}", app.client_id),
        None => "no [app] (see the comment in the file)".to_string(),
    };
    let place = report.path.as_deref().unwrap_or("stdout");
    ui::status(&format!(
        "{} exported {app}, {counts} to {place}",
        paint(style::OK, "✓")
    ));
    if let Some(backup) = &report.backup {
        ui::status(&format!("  the previous contents are in {backup}"));
    }
    if report.path.is_some() {
        ui::status("  check it: cargo kinde register --dry-run");
    }
}
