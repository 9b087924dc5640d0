//! `cargo kinde smoke`: endpoint smoke tests and API protection probes, before every deploy.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::GlobalArgs;
use super::context::Context;
use crate::config::Source;
use crate::config::file::TokenChoice;
use crate::error::{Error, exit};
use crate::smoke::openapi::{self, Access, Document};
use crate::smoke::probes::Probe;
use crate::smoke::report::{self, Summary};
use crate::smoke::runner::{self, Cause, Options, Outcome, Shared, Status, Unavailable};
use crate::smoke::{self, Check, HttpCheck, OperationProbe, Step, Target};
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

impl Format {
    /// Its name on the command line, as clap spells it.
    fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
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
    /// List the checks and exit (with --json, as `{checks: [{name, tags}], warnings}`).
    #[arg(
        long,
        conflicts_with_all = ["jobs", "timeout", "total_timeout", "fail_fast", "format", "output", "show_pii"]
    )]
    pub list: bool,
    /// Checks to run at once. High by default so a run takes about as long as its slowest check.
    #[arg(long, short = 'j', default_value_t = 32, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub jobs: usize,
    /// Time limit for one check, in seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECS", value_parser = positive_secs)]
    pub timeout: f64,
    /// Time limit for the whole run, in seconds.
    #[arg(long, default_value_t = 120.0, value_name = "SECS", value_parser = positive_secs)]
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
    /// Keep e-mail addresses and personal fields (names, phone, picture) in reports; by default
    /// they are masked (`a***@example.com`) except in the human report on a terminal outside CI.
    #[arg(long)]
    pub show_pii: bool,
    /// Probe every operation of this OpenAPI 3.0 / 3.1 document (JSON or YAML) instead of running
    /// kinde.toml's checks: the protection probes, a token lacking the required permissions (403)
    /// and a token holding them (not 401/403) for each secured operation; public ones are listed.
    #[arg(long, value_name = "FILE", requires = "base_url")]
    pub openapi: Option<PathBuf>,
    /// With --openapi: the URL the document's paths are appended to (its `servers` are not read).
    #[arg(long, value_name = "URL", requires = "openapi")]
    pub base_url: Option<String>,
    /// With --openapi: the API's audience, in the tokens sent (default: the one [[apis]] entry of
    /// kinde.toml).
    #[arg(long, value_name = "AUD", requires = "openapi")]
    pub audience: Option<String>,
    /// With --openapi: the value of a path or query parameter (repeatable), over the document's
    /// examples.
    #[arg(long, value_name = "NAME=VALUE", requires = "openapi", value_parser = openapi::parse_param)]
    pub param: Vec<(String, String)>,
    /// With --openapi: a public operation (no security requirement) fails the run.
    #[arg(long, requires = "openapi")]
    pub fail_on_public: bool,
    /// With --openapi, against the emulator: the organization (code) the minted tokens are for,
    /// when the API checks it (e.g. the one its `--param org_code=...` names).
    #[arg(long, value_name = "ORG_CODE", requires = "openapi")]
    pub org: Option<String>,
}

/// A number of seconds above zero, for `--timeout` and `--total-timeout`.
fn positive_secs(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= 1e9 => Ok(secs),
        _ => Err(format!(
            "`{text}` is not a positive number of seconds (e.g. 10 or 0.5)"
        )),
    }
}

/// What a run has before its checks start.
struct Prepared {
    shared: Arc<Shared>,
    checks: Vec<Check>,
    /// What the first status line says the run does.
    banner: String,
    /// Missing, refused or unreachable M2M credentials: reported after the report, and its
    /// exit code wins.
    m2m_error: Option<Error>,
    /// Kept to the end of the run: with `--emulator` it owns the emulator the checks call.
    _context: Context,
}

/// What `prepare` found to do.
enum Plan {
    /// `--list`.
    List(Vec<Check>),
    /// Run these checks.
    Run(Box<Prepared>),
}

/// Run `smoke`.
pub async fn run(global: &GlobalArgs, args: SmokeArgs) -> Result<u8, Error> {
    let json = ui::settings().json;
    let format = args
        .format
        .unwrap_or(if json { Format::Json } else { Format::Human });
    // `--json` is one JSON document on stdout, so another report on stdout cannot be asked
    // for beside it (`--json` is global: clap's conflicts cannot see it before the subcommand).
    if json && format != Format::Json && args.output.is_none() {
        return Err(Error::input(format!(
            "--json prints the report as JSON on stdout, so the --format {} report needs a file",
            format.name()
        ))
        .with_hint(format!(
            "add `--output FILE` (e.g. `--format {} --output smoke.{}`): the report goes to the file, the JSON to stdout",
            format.name(),
            if format == Format::Junit { "xml" } else { "txt" }
        )));
    }
    let mut options = Options {
        jobs: args.jobs.max(1),
        timeout: Duration::from_secs_f64(args.timeout),
        total_timeout: Duration::from_secs_f64(args.total_timeout),
        started: Instant::now(),
        fail_fast: args.fail_fast,
    };
    let mut warnings = Vec::new();
    let prepared = match prepare(global, &args, &mut options, &mut warnings).await {
        Ok(Plan::List(checks)) => {
            list(&checks, &warnings);
            return Ok(exit::OK);
        }
        Ok(Plan::Run(prepared)) => prepared,
        // Without a report asked for, the error is the answer, as for every command.
        Err(e) if format == Format::Human && args.output.is_none() => return Err(e),
        Err(e) if args.list => return Err(e),
        // CI's artifact upload must find its report, so the failure is written as one failed
        // `setup` check with the reason, and the exit code is the error's.
        Err(e) => {
            let outcomes = [Outcome::setup(&e)];
            let summary = Summary::of(&outcomes, elapsed_ms(options.started));
            emit(&args, format, &outcomes, summary, warnings, Some(&e))?;
            if !json {
                ui::error(&e);
            }
            return Ok(e.exit_code());
        }
    };
    let Prepared {
        shared,
        checks,
        banner,
        m2m_error,
        _context,
    } = *prepared;
    ui::status(&banner);
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
    let mut outcomes = runner::run(shared.clone(), checks, &options, &progress).await;
    if args.fail_on_public {
        for o in &mut outcomes {
            if o.tags.iter().any(|t| t == report::PUBLIC_TAG) {
                o.status = Status::Fail;
                o.cause = Some(Cause::Check);
                o.detail = format!("{} (--fail-on-public)", o.detail);
            }
        }
    }
    if live {
        ui::progress("");
    }
    for warning in shared.warnings() {
        ui::warn(&warning);
        warnings.push(warning);
    }
    let summary = Summary::of(&outcomes, elapsed_ms(options.started));
    emit(
        &args,
        format,
        &outcomes,
        summary,
        warnings,
        m2m_error.as_ref(),
    )?;
    if let Some(error) = m2m_error {
        // With --json the report on stdout says it and stays one document.
        if !json {
            ui::error(&error);
        }
        return Ok(error.exit_code());
    }
    if summary.failed > 0 && format == Format::Human && args.output.is_none() {
        ui::failed(format!("{} smoke check(s) failed", summary.failed));
    }
    Ok(report::exit_code(&outcomes))
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// `--list`: a line per check, or one JSON document with `--json`.
fn list(checks: &[Check], warnings: &[String]) {
    #[derive(Serialize)]
    struct Listed<'a> {
        name: &'a str,
        tags: &'a [String],
    }
    #[derive(Serialize)]
    struct Listing<'a> {
        checks: Vec<Listed<'a>>,
        warnings: &'a [String],
    }
    let listing = Listing {
        checks: checks
            .iter()
            .map(|c| Listed {
                name: &c.name,
                tags: &c.tags,
            })
            .collect(),
        warnings,
    };
    ui::show(&listing, |listing| {
        for check in &listing.checks {
            ui::result(&format!("{}  [{}]", check.name, check.tags.join(", ")));
        }
    });
}

/// Load the configuration, choose the checks, get the credentials and the management token and,
/// with `--emulator`, register kinde.toml: everything before the first check. Warnings are
/// shown once and kept for the report.
async fn prepare(
    global: &GlobalArgs,
    args: &SmokeArgs,
    options: &mut Options,
    warnings: &mut Vec<String>,
) -> Result<Plan, Error> {
    let mut ctx = Context::load(global)?;
    if let Some(warning) = smoke::suite_warning(&ctx.config) {
        ui::warn(&warning);
        warnings.push(warning);
    }
    let issuer = ctx.config.issuer()?.clone();
    let (checks, banner) = match &args.openapi {
        Some(file) => {
            let base_url = args.base_url.as_deref().unwrap_or_default();
            let all = openapi_checks(&ctx.config, args, file, base_url)?;
            let operations: BTreeSet<&str> = all.iter().filter_map(Check::operation).collect();
            let banner = format!(
                "probing {} operation(s) of {} at {base_url} (tokens from {issuer})",
                operations.len(),
                file.display()
            );
            (select(all, &args.only, &args.tag)?, banner)
        }
        None => {
            let all = smoke::checks(&ctx.config, &issuer);
            let checks = select(all, &args.only, &args.tag)?;
            // The default token of a check is the Management API's: a tenant-admin token sent
            // to another service (and its logs) deserves a word, unless the tenant is local.
            if !issuer.is_loopback() {
                for check in &checks {
                    if let Step::Http(HttpCheck {
                        token: TokenChoice::M2m,
                        url,
                        ..
                    }) = &check.step
                        && !issuer.is_own_origin(url)
                    {
                        let host = url::Url::parse(url)
                            .ok()
                            .and_then(|u| u.host_str().map(String::from))
                            .unwrap_or_default();
                        let warning = format!(
                            "check `{}` sends the Management API token (the default `token = \"m2m\"`) to {host}, which is not the issuer: give it `token = \"NAME\"` with a [tokens.NAME] for your API's audience, or `token = \"none\"`",
                            check.name
                        );
                        ui::warn(&warning);
                        warnings.push(warning);
                    }
                }
            }
            let banner = format!("running {} check(s) against {issuer}", checks.len());
            (checks, banner)
        }
    };
    if args.list {
        return Ok(Plan::List(checks));
    }
    // `smoke --openapi` against the emulator mints every token it sends; elsewhere the probes
    // forge from the M2M token and those needing chosen permissions could not run.
    let minting_off = match checks.iter().find_map(|c| match &c.step {
        Step::Operation { target, probe }
            if !matches!(
                probe,
                OperationProbe::Public(_) | OperationProbe::NotProbed(_)
            ) =>
        {
            Some(target.audience.clone())
        }
        _ => None,
    }) {
        Some(audience) => runner::minting(ctx.http()?, &issuer, audience.as_deref()).await?,
        // `[[protect]]` probes of a service other than the issuer forge from a minted token
        // when the M2M app has none for the API (never from the Management API's): whether the
        // emulator mints is found out at the first such probe.
        None if checks
            .iter()
            .any(|c| matches!(&c.step, Step::Probe { url, .. } if !issuer.is_own_origin(url))) =>
        {
            None
        }
        None => Some(String::new()),
    };
    let minting = args.openapi.is_some() && minting_off.is_none();
    let needs_m2m = !minting && checks.iter().any(|c| c.step.needs_m2m());
    // Missing credentials fail the checks that need a token, with the reason, and the others
    // still run: the report exists and says what is wrong (the exit code is the error's, 2).
    let (credentials, kinde, mut m2m_error) = if needs_m2m {
        match ctx.management_credentials() {
            Ok(credentials) => (Some(credentials), Some(ctx.management_client()?), None),
            Err(e @ Error::Cancelled { .. }) => return Err(e),
            Err(e) => (None, None, Some(e)),
        }
    } else {
        (None, None, None)
    };
    let has_credentials = credentials.is_some();
    // The clock of --total-timeout starts before the first request (after any prompt for
    // credentials): the token, discovery and the checks all count.
    options.started = Instant::now();
    let mut shared = Shared::new(
        ctx.http()?.clone(),
        issuer.clone(),
        ctx.config.clone(),
        credentials,
        kinde,
        crate::oauth::cache::TokenCache::open_if_any()?,
        &checks,
    );
    if let Some(why) = &minting_off {
        shared.minting_off(why);
    }
    if let Some(org) = &args.org {
        shared.mint_in(org);
    }
    if let Some(e) = &m2m_error {
        shared.tokens_unavailable(&Unavailable::Fail(Cause::of_setup(e), e.to_string()));
    }
    // A refused or unreachable M2M app is reported, and decides the exit code, after the report
    // is written: CI must get its report (the checks that need the token fail with the reason).
    if has_credentials && let Err(e) = shared.management_token(options).await {
        m2m_error = Some(e.context("cannot get the management (M2M) token"));
    }
    let shared = Arc::new(shared);
    let from_emulator = ctx
        .config
        .domain
        .as_ref()
        .is_some_and(|d| d.source == Source::Emulator);
    if from_emulator && m2m_error.is_none() {
        register_in_emulator(&ctx, &shared, options).await?;
    }
    Ok(Plan::Run(Box::new(Prepared {
        shared,
        checks,
        banner,
        m2m_error,
        _context: ctx,
    })))
}

/// Render the report in `format` and write it to `--output` or stdout; with `--json` and a file,
/// the JSON report still goes to stdout. Personal data is masked in what others may read.
fn emit(
    args: &SmokeArgs,
    format: Format,
    outcomes: &[Outcome],
    summary: Summary,
    warnings: Vec<String>,
    error: Option<&Error>,
) -> Result<(), Error> {
    let json = ui::settings().json;
    // Files, JSON and JUnit are read by others (CI artifacts), and so is plain output in a CI
    // log or a pipe; only the human report on the user's own terminal keeps personal data.
    let private = args.output.is_none()
        && format == Format::Human
        && std::io::IsTerminal::is_terminal(&std::io::stdout())
        && !ui::in_ci();
    let outcomes: Vec<Outcome> = if args.show_pii || private {
        outcomes.to_vec()
    } else {
        outcomes.iter().map(Outcome::masked).collect()
    };
    let mut document = report::Report::new(&outcomes, summary);
    document.warnings = warnings;
    document.output = args.output.as_ref().map(|p| p.display().to_string());
    document.error = error.map(ui::error_json);
    let human = |outcomes: &[Outcome]| {
        report::human(outcomes, summary, &|status, mark| match status {
            Status::Pass => paint(style::OK, mark),
            Status::Fail => paint(style::BAD, mark),
            Status::Skip => paint(style::DIM, mark),
        })
    };
    let line = format!(
        "{} passed, {} failed, {} skipped in {} ms",
        summary.passed, summary.failed, summary.skipped, summary.wall_ms
    );
    match &args.output {
        Some(path) => {
            let text = match format {
                Format::Human => anstream::adapter::strip_str(&human(&outcomes)).to_string(),
                Format::Json => serde_json::to_string_pretty(&document).unwrap_or_default(),
                Format::Junit => report::junit(&outcomes, summary),
            };
            crate::files::write(path, text.as_bytes(), crate::files::Access::Shared)?;
            ui::status(&format!("{line}; report written to {}", path.display()));
            if json {
                ui::report(&document);
            }
        }
        None => match format {
            Format::Json if json => ui::report(&document),
            Format::Json => {
                ui::result(&serde_json::to_string_pretty(&document).unwrap_or_default())
            }
            Format::Junit => ui::result(&report::junit(&outcomes, summary)),
            // `--quiet`, as `cargo test -q`: nothing when every check passed, else the failed
            // checks and the summary line.
            Format::Human if ui::quiet() => {
                if summary.failed > 0 {
                    let failed: Vec<Outcome> = outcomes
                        .iter()
                        .filter(|o| o.status == Status::Fail)
                        .cloned()
                        .collect();
                    ui::result(&human(&failed));
                }
            }
            Format::Human => ui::result(&human(&outcomes)),
        },
    }
    Ok(())
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
    let record = crate::config::record::AppRecord::for_config(&ctx.config);
    let changes = tokio::time::timeout(
        options.left(),
        crate::kinde::apply::sync(
            &ctx.config,
            client,
            record
                .as_ref()
                .map(|r| r as &dyn crate::kinde::apply::AppRecorder),
        ),
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

/// The checks of `smoke --openapi FILE`: for each operation of the document, in path order, the
/// protection probes, a token lacking its permissions and one holding them when it is secured
/// with a bearer token; one skipped check when it is public or cannot be probed.
fn openapi_checks(
    config: &crate::config::Config,
    args: &SmokeArgs,
    file: &std::path::Path,
    base_url: &str,
) -> Result<Vec<Check>, Error> {
    match url::Url::parse(base_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => {
            return Err(
                Error::input(format!("--base-url `{base_url}` is not an http(s) URL")).with_hint(
                    "the URL the document's paths follow, e.g. --base-url http://127.0.0.1:3000",
                ),
            );
        }
    }
    let audience = match (&args.audience, config.apis.as_slice()) {
        (Some(aud), _) => Some(aud.clone()),
        (None, [api]) => Some(api.audience.clone()),
        (None, []) => None,
        (None, apis) => {
            let audiences: Vec<&str> = apis.iter().map(|a| a.audience.as_str()).collect();
            return Err(Error::input(format!(
                "kinde.toml declares {} APIs, so the audience of {} is not known",
                apis.len(),
                file.display()
            ))
            .with_hint(format!("pass --audience, one of: {}", audiences.join(", "))));
        }
    };
    let document = Document::load(file)?;
    let params: BTreeMap<String, String> = args.param.iter().cloned().collect();
    let operations = document.operations(&params, base_url);
    if operations.is_empty() {
        return Err(Error::input(format!(
            "{} has no operations under `paths`",
            file.display()
        )));
    }
    // What a token lacking an operation's permissions holds: every other one the document names.
    let named: BTreeSet<String> = operations
        .iter()
        .filter_map(|o| match &o.access {
            Access::Bearer { any_of, .. } => Some(any_of.iter().cloned()),
            _ => None,
        })
        .flatten()
        .collect();
    let mut checks = Vec::new();
    for op in operations {
        let label = op.label();
        let mut tags = vec!["openapi".to_string()];
        tags.extend(op.tags.iter().cloned());
        let (url, body) = match &op.request {
            Ok(r) => (r.url.clone(), r.body.clone()),
            Err(_) => (String::new(), None),
        };
        let (permissions, required_any) = match &op.access {
            Access::Bearer {
                permissions,
                any_of,
            } => (permissions.clone(), any_of.clone()),
            _ => (Vec::new(), Vec::new()),
        };
        let target = Arc::new(Target {
            label: label.clone(),
            method: reqwest::Method::from_bytes(op.method.as_bytes())
                .unwrap_or(reqwest::Method::GET),
            url,
            body,
            audience: audience.clone(),
            others: named
                .iter()
                .filter(|p| !required_any.contains(p))
                .cloned()
                .collect(),
            permissions,
            required_any,
        });
        let check = |name: String, tags: Vec<String>, probe: OperationProbe| Check {
            name: format!("{label}: {name}"),
            tags,
            step: Step::Operation {
                target: target.clone(),
                probe,
            },
        };
        match (&op.access, &op.request) {
            (Access::Public(why), _) => {
                let mut tags = tags.clone();
                tags.push(report::PUBLIC_TAG.to_string());
                checks.push(check(
                    "public".into(),
                    tags,
                    OperationProbe::Public(why.clone()),
                ));
            }
            (Access::Other(why), _) | (Access::Bearer { .. }, Err(why)) => {
                checks.push(check(
                    "not probed".into(),
                    tags,
                    OperationProbe::NotProbed(why.clone()),
                ));
            }
            (Access::Bearer { .. }, Ok(_)) => {
                for probe in Probe::ALL {
                    checks.push(check(
                        format!("refuses {}", probe.label()),
                        tags.clone(),
                        OperationProbe::Protect(probe),
                    ));
                }
                // When one alternative needs no permission, any valid token may pass: nothing
                // to lack.
                if !target.permissions.is_empty() {
                    checks.push(check(
                        format!("refuses a token lacking {}", target.required_any.join(", ")),
                        tags.clone(),
                        OperationProbe::Lacking,
                    ));
                }
                let control = if target.permissions.is_empty() {
                    "accepts a valid token".to_string()
                } else {
                    format!("accepts a token holding {}", target.permissions.join(", "))
                };
                checks.push(check(control, tags, OperationProbe::Control));
            }
        }
    }
    Ok(checks)
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
        let hint = if only.is_empty() && tags.is_empty() {
            "add [[smoke]] checks to kinde.toml, or `defaults = true` under [smoke_suite] for the default suite"
        } else {
            "loosen --only / --tag: `cargo kinde smoke --list` shows the checks and their tags"
        };
        return Err(Error::input("no checks to run").with_hint(hint));
    }
    Ok(chosen)
}
