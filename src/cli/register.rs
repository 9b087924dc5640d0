//! `cargo kinde register`: make the tenant match `kinde.toml` (the app, its callback and logout
//! URLs, APIs, their scopes and authorised applications, permissions, roles, feature flags and
//! organizations). Planned first, applied on confirmation, idempotent; `--check` for drift.
//! The reconciler lives in `kinde::plan` and `kinde::apply`; this file holds the arguments, the
//! confirmation and the rendering.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::GlobalArgs;
use super::context::Context;
use crate::error::{Error, exit};
use crate::kinde::apply;
use crate::kinde::plan::{self, Change, ChangeView, Current, Desired, Plan, Resource, Summary};
use crate::smoke::report as junit;
use crate::smoke::runner::{Cause, Outcome, Status};
use crate::ui::{self, paint, style};
use crate::urls::Issuer;

/// Arguments of `cargo kinde register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Show the plan and stop.
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,
    /// Apply without asking (needed without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Also remove what kinde.toml does not list: callback / logout URLs, app authorisations,
    /// roles, permissions, feature flags and organizations' flag overrides (never APIs or
    /// organizations; with --check: also count undeclared URLs and authorisations as drift).
    #[arg(long)]
    pub prune: bool,
    /// Drift check for CI: plan without applying, never prompt, and exit 1 when the tenant
    /// differs from kinde.toml or conflicts with it, or has roles, permissions, feature flags or
    /// organization flag values the file does not declare (once it has that section); 0 when
    /// it matches.
    #[arg(long, conflicts_with_all = ["dry_run", "yes"])]
    pub check: bool,
    /// With --check: also write the result as JUnit XML to FILE (a test case per change).
    #[arg(long, value_name = "FILE", requires = "check")]
    pub junit: Option<PathBuf>,
}

/// What `register --json` prints: the plan, and what was applied of it.
#[derive(Debug, Serialize)]
struct Report<'a> {
    plan: &'a Plan,
    /// Each planned change as `{kind, resource, name, id, before, after, text}`.
    changes: Vec<ChangeView>,
    /// Changes by kind, and the other counts of the plan.
    summary: Summary,
    /// With `--check`: whether the tenant differs from kinde.toml (changes, conflicts, or
    /// undeclared roles, permissions and flags).
    #[serde(skip_serializing_if = "Option::is_none")]
    drift: Option<bool>,
    /// With `--check`: what the tenant has in a family kinde.toml declares wholly (roles,
    /// permissions, feature flags, organizations' overrides) and the file does not list.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    undeclared: Vec<&'a Resource>,
    dry_run: bool,
    /// Whether the tenant was changed.
    changed: bool,
    applied: &'a [Change],
    /// The change that failed, when applying stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    failed: Option<&'a Change>,
    /// The failed change and those after it.
    #[serde(skip_serializing_if = "<[Change]>::is_empty")]
    not_applied: &'a [Change],
    /// The names of the applications the plan names by client id (client id → name).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    app_names: BTreeMap<String, String>,
    /// What applying wrote besides the tenant, one line each (e.g. the created app's client
    /// id written to kinde.toml and its secret to .env, never the secret itself).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notices: Vec<String>,
    /// Why the command stopped, as `--json` prints errors: `{kind, message, hint, exit_code}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<serde_json::Value>,
}

impl<'a> Report<'a> {
    fn new(plan: &'a Plan) -> Self {
        Report {
            plan,
            changes: plan.changes.iter().map(Change::view).collect(),
            summary: plan.summary(),
            drift: None,
            undeclared: Vec::new(),
            dry_run: false,
            changed: false,
            applied: &[],
            failed: None,
            not_applied: &[],
            app_names: BTreeMap::new(),
            notices: Vec::new(),
            error: None,
        }
    }

    /// Print the report with `--json`; the human form is printed as the command goes.
    fn emit_json(&self) {
        if ui::settings().json {
            ui::report(self);
        }
    }

    /// End the command with `err`: with `--json` inside the one report (stdout stays one JSON
    /// document) and the error's exit code; otherwise as an error on stderr.
    fn fail(mut self, err: Error) -> Result<u8, Error> {
        if ui::settings().json {
            self.error = Some(ui::error_json(&err));
            self.emit_json();
            Ok(err.exit_code())
        } else {
            Err(err)
        }
    }
}

/// Run `register`.
pub async fn run(global: &GlobalArgs, args: RegisterArgs) -> Result<u8, Error> {
    let mut ctx = Context::load(global)?;
    let client = ctx.management_client()?;
    let desired = Desired::from_config(&ctx.config, args.prune)?;
    let current = Current::read(&client, &desired).await?;
    let plan = plan::plan(&desired, &current);
    let mut report = Report::new(&plan);
    report.app_names = app_names(&client, &plan, &current).await;
    // The app this run creates has no client id yet: shown by its name.
    for change in &plan.changes {
        if let Change::CreateApplication { name, .. } = change {
            report.app_names.insert(
                plan::apps::NEW_APP.to_string(),
                crate::net::server_text(name),
            );
        }
    }
    // With --quiet the plan is shown only when it is the answer (--dry-run) or someone is
    // asked to confirm it.
    let asks = !args.yes && !args.dry_run && !args.check && ui::settings().interactive;
    let drifts = args.check && (plan.differs() || plan.undeclared().next().is_some());
    if !ui::quiet() || args.dry_run || asks || drifts {
        print_plan(&plan, client.issuer(), &report.app_names, args.check);
    }
    if args.check {
        return check(report, args.junit.as_deref());
    }
    if !plan.conflicts.is_empty() {
        let conflicts: Vec<String> = plan.conflicts.iter().map(ToString::to_string).collect();
        return report.fail(
            Error::input(format!(
                "{} conflict(s) between kinde.toml and the tenant; nothing was changed",
                plan.conflicts.len()
            ))
            .with_hint(conflicts.join("\n      ")),
        );
    }
    if plan.changes.is_empty() {
        report.emit_json();
        if !ui::settings().json {
            let undeclared = plan.undeclared().count();
            if undeclared == 0 {
                ui::status(&format!(
                    "{} no changes: the tenant matches kinde.toml",
                    paint(style::OK, "✓")
                ));
            } else {
                // What `--check` counts as drift is not a change `register` makes without --prune.
                ui::status(&format!(
                    "{} no changes to make; {undeclared} role(s), permission(s) or flag(s) in the tenant are not in kinde.toml (`register --check` reports them as drift; `--prune` removes them)",
                    paint(style::WARN, "!")
                ));
            }
        }
        return Ok(exit::OK);
    }
    if args.dry_run {
        report.dry_run = true;
        report.emit_json();
        ui::status("dry run: nothing was changed");
        return Ok(exit::OK);
    }
    let total = plan.changes.len();
    if !args.yes {
        if !ui::settings().interactive {
            let shown = if ui::settings().json {
                "in this report"
            } else if ui::quiet() {
                "shown without --quiet"
            } else {
                "above"
            };
            report.dry_run = true;
            return report.fail(
                Error::input(format!("{total} change(s) planned; applying needs confirmation"))
                    .with_hint(format!("pass --yes to apply without a terminal (the plan is {shown}; --dry-run shows it and stops)")),
            );
        }
        let question = format!("Apply {total} change(s) to {}?", client.issuer());
        if !ui::prompt::confirm(&question, false)? {
            ui::status("nothing was changed");
            return Ok(exit::OK);
        }
    }
    let record = crate::config::record::AppRecord::for_config(&ctx.config);
    let record = record.as_ref().map(|r| r as &dyn apply::AppRecorder);
    let outcome = apply::apply_recording(&client, &plan.changes, record, |change| {
        ui::status(&format!("  {} {change}", paint(style::OK, "✓")));
    })
    .await;
    match outcome {
        Ok(notices) => {
            for notice in &notices {
                ui::status(&format!("  {notice}"));
            }
            report.notices = notices;
            report.changed = true;
            report.applied = &plan.changes;
            report.emit_json();
            if !ui::settings().json {
                ui::status(&format!(
                    "{} applied {total} change(s)",
                    paint(style::OK, "✓")
                ));
            }
            Ok(exit::OK)
        }
        Err(stopped) => {
            let done = stopped.applied;
            let (applied, not_applied) = plan.changes.split_at(done);
            report.changed = done > 0;
            report.applied = applied;
            report.failed = not_applied.first();
            report.not_applied = not_applied;
            if !ui::settings().json {
                if let Some(failed) = report.failed {
                    ui::status(&format!("  {} {failed}", paint(style::BAD, "✗")));
                }
                ui::status(&format!("applied {done} of {total}; not applied:"));
                for change in not_applied {
                    ui::status(&format!("  - {change}"));
                }
            }
            // The exit code stays the failed request's (network, auth, input). Rerunning helps
            // after a network or server failure; a refusal (4xx) or a local error needs a fix
            // first, or the rerun meets it again.
            let next = if stopped.error.exit_code() == exit::NETWORK {
                "run `cargo kinde register` again to finish"
            } else {
                "fix what the error names (kinde.toml, the tenant or a local file), then run `cargo kinde register` again to finish"
            };
            report.fail(
                stopped
                    .error
                    .context(format!("applied {done} of {total} changes; {next}")),
            )
        }
    }
}

/// `register --check`: the verdict (the plan is printed already), the JUnit file, the exit code.
/// Drift is the answer of a check, not an error: exit 1 with the report, as a failed smoke check.
fn check(mut report: Report<'_>, junit_file: Option<&Path>) -> Result<u8, Error> {
    let plan = report.plan;
    report.undeclared = plan.undeclared().collect();
    let drift = plan.differs() || !report.undeclared.is_empty();
    report.drift = Some(drift);
    if let Some(path) = junit_file {
        let outcomes = outcomes(plan, &report.app_names);
        let summary = junit::Summary::of(&outcomes, 0);
        let xml = junit::junit_suite("register", &outcomes, summary);
        if let Err(err) = crate::files::write(path, xml.as_bytes(), crate::files::Access::Shared) {
            return report.fail(err);
        }
    }
    report.emit_json();
    if !ui::settings().json {
        if drift {
            let mut fixes = Vec::new();
            // `register` applies nothing while a conflict stands: that comes first.
            if !plan.conflicts.is_empty() {
                fixes.push(
                    "resolve the conflict(s) above first (register applies nothing until then)",
                );
            }
            if plan.changes.iter().any(|c| !c.is_removal()) {
                fixes.push("`cargo kinde register` applies kinde.toml");
            }
            if plan.changes.iter().any(Change::is_removal) || !report.undeclared.is_empty() {
                fixes.push("`cargo kinde register --prune` removes what it does not list");
            }
            let declare = if report.undeclared.is_empty() {
                ""
            } else {
                "; or declare them in kinde.toml (`cargo kinde export` shows the tenant as kinde.toml)"
            };
            ui::status(&format!(
                "{} drift: the tenant differs from kinde.toml ({} change(s), {} undeclared item(s) marked `?` above, {} conflict(s)); {}{declare}",
                paint(style::BAD, "✗"),
                plan.changes.len(),
                report.undeclared.len(),
                plan.conflicts.len(),
                fixes.join(", ")
            ));
        } else {
            ui::status(&format!(
                "{} no drift: the tenant matches kinde.toml",
                paint(style::OK, "✓")
            ));
        }
        if let Some(path) = junit_file {
            ui::status(&format!("JUnit report written to {}", path.display()));
        }
    }
    Ok(if drift { exit::CHECK_FAILED } else { exit::OK })
}

/// The drift check as JUnit test cases: a failed case per change and per conflict, a passing
/// case for each resource family with nothing to change.
fn outcomes(plan: &Plan, names: &BTreeMap<String, String>) -> Vec<Outcome> {
    let case = |name: String, group: &str, failure: Option<String>| Outcome {
        name: crate::net::server_line(&with_names(name, names)),
        tags: vec![group.to_string()],
        status: if failure.is_some() {
            Status::Fail
        } else {
            Status::Pass
        },
        duration_ms: 0,
        request: None,
        http_status: None,
        detail: failure.unwrap_or_default(),
        body: None,
        cause: None,
        operation: None,
    };
    let mut out = Vec::new();
    for group in plan.groups() {
        let changes: Vec<&Change> = plan.changes.iter().filter(|c| c.group() == group).collect();
        for change in &changes {
            let mut outcome = case(
                change.to_string(),
                group.key(),
                Some(format!(
                    "the tenant differs from kinde.toml: `cargo kinde register` would {change}"
                )),
            );
            outcome.cause = Some(Cause::Check);
            out.push(outcome);
        }
        if changes.is_empty() && !plan.undeclared().any(|r| r.group() == group) {
            let matching = plan.matching.iter().filter(|r| r.group() == group).count();
            out.push(case(
                format!("{}: {matching} matching kinde.toml", group.title()),
                group.key(),
                None,
            ));
        }
    }
    for item in plan.undeclared() {
        let mut outcome = case(
            format!("{item}: not in kinde.toml"),
            item.group().key(),
            Some(crate::net::server_line(&format!(
                "the tenant has {item}, which kinde.toml does not declare: add it to kinde.toml, or `cargo kinde register --prune` removes it"
            ))),
        );
        outcome.cause = Some(Cause::Check);
        out.push(outcome);
    }
    for conflict in &plan.conflicts {
        let mut outcome = case(
            conflict.to_string(),
            "conflicts",
            Some(format!("kinde.toml conflicts with the tenant: {conflict}")),
        );
        outcome.cause = Some(Cause::Check);
        out.push(outcome);
    }
    if out.is_empty() {
        out.push(case("the tenant matches kinde.toml".into(), "tenant", None));
    }
    out
}

/// The plan on stdout, grouped by resource family, one line per item, names beside ids, then
/// the summary line (nothing with `--json`: the report carries it).
fn print_plan(plan: &Plan, issuer: &Issuer, names: &BTreeMap<String, String>, check: bool) {
    let named = |text: String| with_names(text, names);
    if ui::settings().json {
        return;
    }
    ui::result(&format!("{} {issuer}", paint(style::BOLD, "plan for")));
    // Names and URLs come from the tenant too: shown as text, never as terminal controls.
    let safe = |item: &dyn std::fmt::Display| crate::net::server_line(&item.to_string());
    for group in plan.groups() {
        ui::result(&paint(style::BOLD, group.title()));
        for change in plan.changes.iter().filter(|c| c.group() == group) {
            let mark = match change.view().kind {
                plan::ChangeKind::Add => paint(style::OK, "+"),
                plan::ChangeKind::Change => paint(style::WARN, "~"),
                plan::ChangeKind::Remove => paint(style::BAD, "-"),
            };
            ui::result(&named(format!("  {mark} {}", safe(change))));
        }
        for item in plan.matching.iter().filter(|r| r.group() == group) {
            ui::result(&named(format!(
                "  {} {} (matches)",
                paint(style::DIM, "="),
                safe(item)
            )));
        }
        for item in plan.unmanaged.iter().filter(|r| r.group() == group) {
            let why = match item {
                Resource::Api { .. } => "APIs are never deleted by register",
                Resource::Scope { .. } => "scopes are never deleted by register",
                Resource::Organization { .. } => "organizations are never deleted by register",
                _ => "--prune removes it",
            };
            if check && item.is_declared_wholly() {
                ui::result(&named(format!(
                    "  {} {}: not in kinde.toml: drift ({why})",
                    paint(style::BAD, "?"),
                    safe(item)
                )));
            } else {
                ui::result(&named(format!(
                    "  {} {}: not in kinde.toml, left alone ({why})",
                    paint(style::WARN, "?"),
                    safe(item)
                )));
            }
        }
    }
    if !plan.conflicts.is_empty() {
        ui::result(&paint(style::BOLD, "Conflicts"));
    }
    for conflict in &plan.conflicts {
        ui::result(&named(format!(
            "  {} {}",
            paint(style::BAD, "!"),
            safe(conflict)
        )));
    }
    for note in &plan.notes {
        ui::result(&format!("  {} {}", paint(style::DIM, "note:"), safe(note)));
    }
    ui::result(&plan.summary().to_string());
}

/// Whether the plan names an application by its client id (authorisations and grants).
fn names_applications(plan: &Plan) -> bool {
    plan.changes.iter().any(|c| {
        matches!(
            c,
            Change::Authorize { .. } | Change::Deauthorize { .. } | Change::GrantScope { .. }
        )
    }) || plan
        .matching
        .iter()
        .chain(&plan.unmanaged)
        .any(|r| matches!(r, Resource::Authorization { .. }))
        || !plan.conflicts.is_empty()
}

/// The tenant's application names by client id, when the plan names applications: as the plan's
/// reads listed them, else read now. Names are for reading only, so a failure to read them
/// leaves the ids alone.
async fn app_names(
    client: &crate::kinde::client::Client,
    plan: &Plan,
    current: &Current,
) -> BTreeMap<String, String> {
    if !names_applications(plan) {
        return BTreeMap::new();
    }
    let shown = |apps: Vec<(String, String)>| {
        apps.into_iter()
            .filter(|(_, name)| !name.is_empty())
            .map(|(id, name)| (id, crate::net::server_text(&name)))
            .collect()
    };
    if let Some(names) = &current.application_names {
        return shown(names.clone().into_iter().collect());
    }
    match client.applications().await {
        Ok(apps) => shown(apps.into_iter().map(|a| (a.id, a.name)).collect()),
        Err(e) => {
            ui::debug(&format!("could not read the application names: {e}"));
            BTreeMap::new()
        }
    }
}

/// `text` with each known client id shown as `` `name` (id) ``.
fn with_names(text: String, names: &BTreeMap<String, String>) -> String {
    // Only a whole word is an id: the same characters inside a URL or a longer id stay as they are.
    text.split_inclusive(char::is_whitespace)
        .map(|word| {
            let id = word.trim_end().trim_matches(|c| "`'\"()[],;:".contains(c));
            match names.get(id) {
                // A name is the tenant's text: shown as text, never as terminal controls.
                Some(name) => word.replacen(
                    id,
                    &format!("`{}` ({id})", crate::net::server_line(name)),
                    1,
                ),
                None => word.to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
#[test]
fn only_whole_ids_are_named() {
    let names = BTreeMap::from([("abc123".to_string(), "Web".to_string())]);
    let text = with_names(
        "+ callback https://a.io/abc123/cb for abc123, `abc1234`".into(),
        &names,
    );
    assert_eq!(
        text,
        "+ callback https://a.io/abc123/cb for `Web` (abc123), `abc1234`"
    );
}
