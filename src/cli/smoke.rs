//! `cargo kinde smoke`: endpoint smoke tests and API protection probes, before every deploy.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use super::GlobalArgs;
use super::context::Context;
use crate::config::Source;
use crate::error::{Error, exit};
use crate::smoke::report::{self, Summary};
use crate::smoke::runner::{self, Options, Shared, Status};
use crate::smoke::{self, Check};
use crate::ui::{self, paint, style};

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A line per check.
    Human,
    /// One JSON document.
    Json,
    /// JUnit XML.
    Junit,
}

/// Arguments of `cargo kinde smoke`.
#[derive(Debug, Args)]
pub struct SmokeArgs {
    /// Run only the check with this name (repeatable).
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
    /// Run only checks with this tag (repeatable; any match).
    #[arg(long, value_name = "TAG")]
    pub tag: Vec<String>,
    /// List the checks and exit.
    #[arg(long)]
    pub list: bool,
    /// Checks to run at once. High by default so a run takes about as long as its slowest check.
    #[arg(long, short = 'j', default_value_t = 32, value_name = "N")]
    pub jobs: usize,
    /// Time limit for one check, in seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub timeout: f64,
    /// Time limit for the whole run, in seconds.
    #[arg(long, default_value_t = 120.0, value_name = "SECS")]
    pub total_timeout: f64,
    /// Stop at the first failed check (the rest are reported as skipped).
    #[arg(long)]
    pub fail_fast: bool,
    /// Report format (default: human, or json with --json).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Write the report to this file instead of stdout (a one-line summary still goes to stderr).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Keep e-mail addresses and personal fields (names, phone, picture) in reports written to a
    /// file or as JSON / JUnit; by default they are masked (`a***@example.com`).
    #[arg(long)]
    pub show_pii: bool,
}

/// Run `smoke`.
pub async fn run(global: &GlobalArgs, args: SmokeArgs) -> Result<u8, Error> {
    let format = args.format.unwrap_or(if ui::settings().json {
        Format::Json
    } else {
        Format::Human
    });
    let positive = |secs: f64, flag: &str| {
        if secs.is_finite() && secs > 0.0 {
            Ok(Duration::from_secs_f64(secs))
        } else {
            Err(Error::input(format!(
                "{flag} must be a positive number of seconds"
            )))
        }
    };
    let mut options = Options {
        jobs: args.jobs.max(1),
        timeout: positive(args.timeout, "--timeout")?,
        total_timeout: positive(args.total_timeout, "--total-timeout")?,
        started: Instant::now(),
        fail_fast: args.fail_fast,
    };
    let mut ctx = Context::load(global)?;
    let issuer = ctx.config.issuer()?.clone();
    let all = smoke::checks(&ctx.config, &issuer);
    let checks = select(all, &args.only, &args.tag)?;
    if args.list {
        for check in &checks {
            ui::result(&format!("{}  [{}]", check.name, check.tags.join(", ")));
        }
        return Ok(exit::OK);
    }
    let needs_m2m = checks.iter().any(|c| c.step.needs_m2m());
    let credentials = if needs_m2m {
        Some(ctx.management_credentials()?)
    } else {
        None
    };
    let kinde = if needs_m2m {
        Some(ctx.management_client()?)
    } else {
        None
    };
    let has_credentials = credentials.is_some();
    // The clock of --total-timeout starts before the first request (after any prompt for
    // credentials): the token, discovery and the checks all count.
    options.started = Instant::now();
    let shared = Arc::new(Shared::new(
        ctx.http()?.clone(),
        issuer.clone(),
        ctx.config.clone(),
        credentials,
        kinde,
        crate::oauth::cache::TokenCache::open_if_any()?,
        &checks,
    ));
    // A refused or unreachable M2M app is reported, and decides the exit code, after the report
    // is written: CI must get its report (the checks that need the token fail with the reason).
    let token_error = if has_credentials {
        shared
            .management_token(&options)
            .await
            .err()
            .map(|e| e.context("cannot get the management (M2M) token"))
    } else {
        None
    };
    let from_emulator = ctx
        .config
        .domain
        .as_ref()
        .is_some_and(|d| d.source == Source::Emulator);
    if from_emulator && token_error.is_none() {
        register_in_emulator(&ctx, &shared, &options).await?;
    }
    ui::status(&format!(
        "running {} check(s) against {issuer}",
        checks.len()
    ));
    // On a terminal, one line that counts checks as they finish (no dependency needed for it);
    // elsewhere only the report.
    let live = format == Format::Human
        && std::io::IsTerminal::is_terminal(&std::io::stderr())
        && ui::settings().verbosity >= 0;
    let progress = |done: usize, total: usize, outcome: &runner::Outcome| {
        if live {
            ui::progress(&format!("[{done}/{total}] {}", outcome.name));
        }
    };
    let outcomes = runner::run(shared.clone(), checks, &options, &progress).await;
    if live {
        ui::progress("");
    }
    for warning in shared.warnings() {
        ui::warn(&warning);
    }
    let summary = Summary::of(
        &outcomes,
        u64::try_from(options.started.elapsed().as_millis()).unwrap_or(u64::MAX),
    );
    // Reports others read (files, JSON, JUnit: CI artifacts) do not carry users' personal data
    // unless asked; the human view on the terminal is the user's own and keeps it.
    let outcomes = if !args.show_pii && (args.output.is_some() || format != Format::Human) {
        outcomes.iter().map(runner::Outcome::masked).collect()
    } else {
        outcomes
    };
    let text = match format {
        Format::Human => report::human(&outcomes, summary, &|status, mark| match status {
            Status::Pass => paint(style::OK, mark),
            Status::Fail => paint(style::BAD, mark),
            Status::Skip => paint(style::DIM, mark),
        }),
        Format::Json => serde_json::to_string_pretty(&report::Report::new(&outcomes, summary))
            .unwrap_or_default(),
        Format::Junit => report::junit(&outcomes, summary),
    };
    let line = format!(
        "{} passed, {} failed, {} skipped in {} ms",
        summary.passed, summary.failed, summary.skipped, summary.wall_ms
    );
    match &args.output {
        Some(path) => {
            let text = if format == Format::Human {
                anstream::adapter::strip_str(&text).to_string()
            } else {
                text
            };
            crate::files::write(path, text.as_bytes(), crate::files::Access::Shared)?;
            ui::status(&format!("{line}; report written to {}", path.display()));
        }
        None if format == Format::Json && ui::settings().json => {
            ui::report(&report::Report::new(&outcomes, summary))
        }
        None => ui::result(&text),
    }
    if let Some(error) = token_error {
        // With --json the report on stdout says it and stays one document.
        if !ui::settings().json {
            ui::error(&error);
        }
        return Ok(error.exit_code());
    }
    if summary.failed > 0 && format == Format::Human && args.output.is_none() {
        ui::failed(format!("{} smoke check(s) failed", summary.failed));
    }
    Ok(report::exit_code(&outcomes))
}

/// With `--emulator`, the emulator's tenant gets what kinde.toml declares before the checks run;
/// without a kinde.toml the default suite runs against the tenant as it is.
async fn register_in_emulator(
    ctx: &Context,
    shared: &Shared,
    options: &Options,
) -> Result<(), Error> {
    let Some(client) = shared.kinde.as_ref() else {
        return Ok(());
    };
    let Some(file) = &ctx.config.file else {
        ui::status("no kinde.toml: default suite against the emulator's tenant");
        return Ok(());
    };
    let file = file.file_name().map_or(file.as_os_str(), |name| name);
    let file = std::path::Path::new(file);
    let changes = tokio::time::timeout(
        options.left(),
        crate::kinde::apply::sync(&ctx.config, client),
    )
    .await
    .map_err(|_| Error::network(options.out_of_time()))?
    .map_err(|e| {
        e.context(format!(
            "cannot register {} in the emulator",
            file.display()
        ))
    })?;
    ui::status(&format!(
        "registered {} in the embedded emulator ({changes} change(s))",
        file.display()
    ));
    Ok(())
}

fn select(all: Vec<Check>, only: &[String], tags: &[String]) -> Result<Vec<Check>, Error> {
    for name in only {
        if !all.iter().any(|c| &c.name == name) {
            let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
            return Err(Error::input(format!("--only `{name}`: no such check"))
                .with_hint(format!("checks: {}", names.join(", "))));
        }
    }
    let chosen: Vec<Check> = all
        .into_iter()
        .filter(|c| only.is_empty() || only.contains(&c.name))
        .filter(|c| tags.is_empty() || c.tags.iter().any(|t| tags.contains(t)))
        .collect();
    if chosen.is_empty() {
        return Err(Error::input("no checks to run").with_hint(
            "add [[smoke]] checks to kinde.toml, or loosen --only / --tag (`--list` shows them)",
        ));
    }
    Ok(chosen)
}
