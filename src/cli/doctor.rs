//! `cargo kinde doctor`: check everything that commonly goes wrong and say how to fix each. The
//! checks live in `doctor`; this file holds the arguments and the rendering.

use clap::Args;

use super::GlobalArgs;
use super::context::Context;
use crate::doctor::{self, Report, Status};
use crate::error::{Error, exit};
use crate::ui::{self, paint, style};

/// Arguments of `cargo kinde doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {}

/// Run `doctor`: exit 1 when a check fails (warnings exit 0).
pub async fn run(global: &GlobalArgs, _args: DoctorArgs) -> Result<u8, Error> {
    let report = match Context::load(global) {
        Ok(ctx) => doctor::diagnose(Ok(&ctx.config), ctx.http()?).await,
        // A configuration that does not load is the first finding, not the end of the run.
        Err(err) => doctor::diagnose(Err(&err), &crate::net::client()?).await,
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

fn print_human(report: &Report) {
    let width = report
        .checks
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0);
    for check in &report.checks {
        let mark = match check.status {
            Status::Pass => paint(style::OK, "✓"),
            Status::Warn => paint(style::WARN, "!"),
            Status::Fail => paint(style::BAD, "✗"),
            Status::Skip => paint(style::DIM, "-"),
        };
        ui::result(&format!("  {mark} {:width$}  {}", check.name, check.detail));
        if let (Some(fix), false) = (&check.fix, check.status == Status::Pass) {
            ui::result(&format!(
                "    {:width$}  {} {fix}",
                "",
                paint(style::BOLD, "fix:")
            ));
        }
    }
    ui::result(&format!(
        "{} passed, {} warning(s), {} failed, {} skipped",
        report.count(Status::Pass),
        report.count(Status::Warn),
        report.count(Status::Fail),
        report.count(Status::Skip)
    ));
}
