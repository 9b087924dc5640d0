//! `cargo kinde doctor`: check everything that commonly goes wrong and say how to fix each. The
//! checks live in `doctor`; this file holds the arguments and the rendering.

use std::time::Duration;

use clap::Args;

use super::GlobalArgs;
use super::context::Context;
use crate::doctor::{self, Report, Status};
use crate::error::{Error, exit};
use crate::ui::{self, paint, style};

/// Arguments of `cargo kinde doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Time limit of each network step (discovery, token, tenant read), in seconds. When the
    /// domain does not answer, the checks that need it are skipped rather than waited for.
    #[arg(long, default_value_t = crate::net::TIMEOUT.as_secs_f64(), value_name = "SECS")]
    pub timeout: f64,
}

/// Run `doctor`: exit 1 when a check fails (warnings exit 0).
pub async fn run(global: &GlobalArgs, args: DoctorArgs) -> Result<u8, Error> {
    let options = doctor::Options {
        timeout: timeout(args.timeout)?,
    };
    let report = match Context::load(global) {
        Ok(ctx) => doctor::diagnose(Ok(&ctx.config), ctx.http()?, options).await,
        // A configuration that does not load is the first finding, not the end of the run.
        Err(err) => doctor::diagnose(Err(&err), &crate::net::client()?, options).await,
    };
    ui::show(&report, print_human);
    if report.ok {
        Ok(exit::OK)
    } else {
        ui::failed(format!(
            "{} check(s) failed; each says how to fix it",
            report.count(Status::Fail)
        ));
        Ok(exit::CHECK_FAILED)
    }
}

/// `--timeout` as a duration: a positive, finite number of seconds.
fn timeout(secs: f64) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            Error::input(format!(
                "--timeout {secs}: must be a positive number of seconds"
            ))
            .with_hint("e.g. --timeout 10")
        })
}

/// One line per check and the tally; with `--quiet` only the warnings and failures (nothing
/// when all is well).
fn print_human(report: &Report) {
    let quiet = ui::quiet();
    let shown: Vec<_> = report
        .checks
        .iter()
        .filter(|c| !quiet || matches!(c.status, Status::Warn | Status::Fail))
        .collect();
    let width = shown
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0);
    for check in shown {
        let mark = match check.status {
            Status::Pass => paint(style::OK, "✓"),
            Status::Warn => paint(style::WARN, "!"),
            Status::Fail => paint(style::BAD, "✗"),
            Status::Skip => paint(style::DIM, "-"),
        };
        // Lines after the first (a config error's source snippet) stay in the detail column.
        let column = format!("\n    {:width$}  ", "");
        let detail = check.detail.lines().collect::<Vec<_>>().join(&column);
        ui::result(&format!("  {mark} {:width$}  {detail}", check.name));
        if let (Some(fix), false) = (&check.fix, check.status == Status::Pass) {
            let fix = fix
                .lines()
                .collect::<Vec<_>>()
                .join(&format!("{column}     "));
            ui::result(&format!(
                "    {:width$}  {} {fix}",
                "",
                paint(style::BOLD, "fix:")
            ));
        }
    }
    if quiet {
        return;
    }
    ui::result(&format!(
        "{} passed, {} warning(s), {} failed, {} skipped",
        report.count(Status::Pass),
        report.count(Status::Warn),
        report.count(Status::Fail),
        report.count(Status::Skip)
    ));
}
