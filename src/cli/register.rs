//! `cargo kinde register`: make the tenant match `kinde.toml` (callback and logout URLs, APIs,
//! their scopes and authorised applications). Planned first, applied on confirmation, idempotent.

use std::collections::BTreeMap;

use clap::Args;
use serde::Serialize;
use serde_json::json;

use super::GlobalArgs;
use super::context::Context;
use crate::config::Config;
use crate::error::{Error, exit};
use crate::kinde::client::Client;
use crate::kinde::resources::UrlKind;
use crate::ui::{self, paint, style};

/// Arguments of `cargo kinde register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Show the plan and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply without asking (needed without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Also remove callback / logout URLs and app authorisations that kinde.toml does not list.
    #[arg(long)]
    pub prune: bool,
}

/// Where an API in the plan is, or will be.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
enum ApiRef {
    /// Already in the tenant.
    Existing(String),
    /// Created by this run (its audience).
    New { audience: String },
}

/// One change to the tenant.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
enum Change {
    AddUrls {
        kind: &'static str,
        app: String,
        urls: Vec<String>,
    },
    RemoveUrls {
        kind: &'static str,
        app: String,
        urls: Vec<String>,
    },
    CreateApi {
        name: String,
        audience: String,
    },
    CreateScope {
        api: ApiRef,
        audience: String,
        key: String,
    },
    Authorize {
        api: ApiRef,
        audience: String,
        app: String,
    },
    Deauthorize {
        api: String,
        audience: String,
        app: String,
    },
    GrantScope {
        api: ApiRef,
        audience: String,
        app: String,
        key: String,
    },
}

impl Change {
    fn describe(&self) -> String {
        match self {
            Change::AddUrls { kind, urls, .. } => format!("add {kind} {}", urls.join(", ")),
            Change::RemoveUrls { kind, urls, .. } => format!("remove {kind} {}", urls.join(", ")),
            Change::CreateApi { name, audience } => format!("create API `{name}` ({audience})"),
            Change::CreateScope { audience, key, .. } => {
                format!("create scope `{key}` on {audience}")
            }
            Change::Authorize { audience, app, .. } => {
                format!("authorise application {app} for {audience}")
            }
            Change::Deauthorize { audience, app, .. } => {
                format!("de-authorise application {app} for {audience}")
            }
            Change::GrantScope {
                audience, app, key, ..
            } => format!("grant `{key}` on {audience} to {app}"),
        }
    }
}

/// What `register` found and intends.
#[derive(Debug, Default, Serialize)]
struct Plan {
    changes: Vec<Change>,
    matching: Vec<String>,
    unmanaged: Vec<String>,
    conflicts: Vec<String>,
    notes: Vec<String>,
}

/// Run `register`.
pub async fn run(global: &GlobalArgs, args: RegisterArgs) -> Result<u8, Error> {
    let mut ctx = Context::load(global)?;
    let client = ctx.management_client()?;
    let plan = make_plan(&ctx.config, &client, args.prune).await?;
    print_plan(&plan, &client);
    if !plan.conflicts.is_empty() {
        return Err(Error::input(format!(
            "{} conflict(s) between kinde.toml and the tenant; nothing was changed",
            plan.conflicts.len()
        ))
        .with_hint(plan.conflicts.join("\n      ")));
    }
    if plan.changes.is_empty() {
        if ui::settings().json {
            ui::json(&json!({"plan": plan, "applied": [], "changed": false}));
        } else {
            ui::status(&format!(
                "{} no changes: the tenant matches kinde.toml",
                paint(style::OK, "✓")
            ));
        }
        return Ok(exit::OK);
    }
    if args.dry_run {
        if ui::settings().json {
            ui::json(&json!({"plan": plan, "applied": [], "dry_run": true}));
        }
        ui::status("dry run: nothing was changed");
        return Ok(exit::OK);
    }
    if !args.yes {
        if !ui::settings().interactive {
            return Err(Error::input(format!("{} change(s) planned; applying needs confirmation", plan.changes.len()))
                .with_hint("pass --yes to apply without a terminal (review the plan above, or run with --dry-run)"));
        }
        if !ui::prompt::confirm(
            &format!(
                "Apply {} change(s) to {}?",
                plan.changes.len(),
                client.issuer()
            ),
            false,
        )? {
            ui::status("nothing was changed");
            return Ok(exit::OK);
        }
    }
    apply(&client, plan, true).await
}

/// Make the tenant match the configuration without printing a plan: for `smoke --emulator`,
/// which registers `kinde.toml` in the fresh emulator before checking it. Returns the number of
/// changes applied.
pub async fn sync(config: &Config, client: &Client) -> Result<usize, Error> {
    let plan = make_plan(config, client, false).await?;
    if let Some(conflict) = plan.conflicts.first() {
        return Err(Error::input(format!(
            "cannot register kinde.toml in the emulator: {conflict}"
        )));
    }
    let count = plan.changes.len();
    apply(client, plan, false).await?;
    Ok(count)
}

/// Resolve `app`, `management` or a client id.
fn resolve_app(config: &Config, name: &str) -> Result<String, Error> {
    match name {
        "app" => config
            .app_client_id
            .as_ref()
            .map(|s| s.value.clone())
            .ok_or_else(|| {
                Error::input("`authorize` lists `app`, but no app client id is configured")
                    .with_hint("set `client_id` under [app] in kinde.toml, or KINDE_CLIENT_ID")
            }),
        "management" => config
            .management_client_id
            .as_ref()
            .map(|s| s.value.clone())
            .ok_or_else(|| {
                Error::input(
                    "`authorize` lists `management`, but no management client id is configured",
                )
            }),
        id => Ok(id.to_string()),
    }
}

async fn make_plan(config: &Config, client: &Client, prune: bool) -> Result<Plan, Error> {
    let mut plan = Plan::default();
    let callbacks = config.wanted_callback_urls();
    let logouts: Vec<String> = config.logout_urls.iter().map(|s| s.value.clone()).collect();
    let wants_urls = !callbacks.is_empty() || !logouts.is_empty();
    if wants_urls || prune {
        match &config.app_client_id {
            Some(app) => {
                for (kind, wanted) in [(UrlKind::Callback, &callbacks), (UrlKind::Logout, &logouts)]
                {
                    plan_urls(&mut plan, client, kind, &app.value, wanted, prune).await?;
                }
            }
            None if wants_urls => {
                return Err(Error::input("kinde.toml lists callback or logout URLs (or a [login] port), but no app client id is configured")
                    .with_hint("set `client_id` under [app] in kinde.toml, or KINDE_CLIENT_ID"));
            }
            None => {}
        }
    }
    if config.apis.is_empty() {
        return Ok(plan);
    }
    let tenant_apis = client.apis().await?;
    let applications = client.applications().await?;
    let kinds: BTreeMap<&str, &str> = applications
        .iter()
        .map(|a| (a.id.as_str(), a.kind.as_str()))
        .collect();
    for api in &config.apis {
        let apps: Vec<String> = api
            .authorize
            .iter()
            .map(|a| resolve_app(config, a))
            .collect::<Result<_, _>>()?;
        for app in &apps {
            if !kinds.contains_key(app.as_str()) {
                plan.conflicts.push(format!(
                    "API `{}` authorises application {app}, which the tenant does not have",
                    api.name
                ));
            }
        }
        let m2m = |app: &String| kinds.get(app.as_str()) == Some(&"m2m");
        let existing = tenant_apis.iter().find(|t| t.audience == api.audience);
        let Some(existing) = existing else {
            if let Some(same_name) = tenant_apis
                .iter()
                .find(|t| t.name == api.name && !t.is_management_api)
            {
                plan.conflicts.push(format!(
                    "API `{}` exists with audience `{}`, but kinde.toml says `{}`; audiences cannot change in Kinde: put the old audience back in kinde.toml, or give the API a new name there and delete the old one (Settings > APIs)",
                    api.name, same_name.audience, api.audience
                ));
                continue;
            }
            let new = ApiRef::New {
                audience: api.audience.clone(),
            };
            plan.changes.push(Change::CreateApi {
                name: api.name.clone(),
                audience: api.audience.clone(),
            });
            for key in &api.scopes {
                plan.changes.push(Change::CreateScope {
                    api: new.clone(),
                    audience: api.audience.clone(),
                    key: key.clone(),
                });
            }
            for app in &apps {
                plan.changes.push(Change::Authorize {
                    api: new.clone(),
                    audience: api.audience.clone(),
                    app: app.clone(),
                });
                for key in api.scopes.iter().filter(|_| m2m(app)) {
                    plan.changes.push(Change::GrantScope {
                        api: new.clone(),
                        audience: api.audience.clone(),
                        app: app.clone(),
                        key: key.clone(),
                    });
                }
            }
            continue;
        };
        let id = ApiRef::Existing(existing.id.clone());
        if existing.name == api.name {
            plan.matching
                .push(format!("API `{}` ({})", api.name, api.audience));
        } else {
            plan.notes.push(format!(
                "API {} is named `{}` in Kinde and `{}` in kinde.toml; names are left as they are",
                api.audience, existing.name, api.name
            ));
        }
        let scopes = client.api_scopes(&existing.id).await?;
        let mut new_scopes = Vec::new();
        for key in &api.scopes {
            if scopes.iter().any(|s| &s.key == key) {
                plan.matching
                    .push(format!("scope `{key}` on {}", api.audience));
            } else {
                new_scopes.push(key.clone());
                plan.changes.push(Change::CreateScope {
                    api: id.clone(),
                    audience: api.audience.clone(),
                    key: key.clone(),
                });
            }
        }
        for scope in scopes.iter().filter(|s| !api.scopes.contains(&s.key)) {
            plan.unmanaged
                .push(format!("scope `{}` on {}", scope.key, api.audience));
        }
        let authorised: Vec<String> = client
            .api_applications(&existing.id)
            .await?
            .into_iter()
            .filter(|a| a.is_active != Some(false))
            .map(|a| a.id)
            .collect();
        for app in &apps {
            if authorised.contains(app) {
                plan.matching
                    .push(format!("application {app} authorised for {}", api.audience));
                // Grants of an existing authorisation cannot be read back through the
                // Management API, so only scopes created now are granted to it.
                for key in new_scopes.iter().filter(|_| m2m(app)) {
                    plan.changes.push(Change::GrantScope {
                        api: id.clone(),
                        audience: api.audience.clone(),
                        app: app.clone(),
                        key: key.clone(),
                    });
                }
            } else {
                plan.changes.push(Change::Authorize {
                    api: id.clone(),
                    audience: api.audience.clone(),
                    app: app.clone(),
                });
                for key in api.scopes.iter().filter(|_| m2m(app)) {
                    plan.changes.push(Change::GrantScope {
                        api: id.clone(),
                        audience: api.audience.clone(),
                        app: app.clone(),
                        key: key.clone(),
                    });
                }
            }
        }
        for app in authorised.iter().filter(|a| !apps.contains(a)) {
            if prune {
                plan.changes.push(Change::Deauthorize {
                    api: existing.id.clone(),
                    audience: api.audience.clone(),
                    app: app.clone(),
                });
            } else {
                plan.unmanaged
                    .push(format!("application {app} authorised for {}", api.audience));
            }
        }
    }
    let configured: Vec<&str> = config.apis.iter().map(|a| a.audience.as_str()).collect();
    for api in tenant_apis
        .iter()
        .filter(|a| !a.is_management_api && !configured.contains(&a.audience.as_str()))
    {
        plan.unmanaged.push(format!(
            "API `{}` ({}) (APIs are never deleted by register)",
            api.name, api.audience
        ));
    }
    if plan
        .changes
        .iter()
        .any(|c| matches!(c, Change::GrantScope { .. }))
        || !config.apis.is_empty()
    {
        plan.notes.push("scopes are granted to M2M applications when they are authorised or the scope is created; grants made in the Kinde admin are left as they are".into());
    }
    Ok(plan)
}

async fn plan_urls(
    plan: &mut Plan,
    client: &Client,
    kind: UrlKind,
    app: &str,
    wanted: &[String],
    prune: bool,
) -> Result<(), Error> {
    let current = client.urls(kind, app).await?;
    let missing: Vec<String> = wanted
        .iter()
        .filter(|u| !current.contains(u))
        .cloned()
        .collect();
    for url in wanted.iter().filter(|u| current.contains(u)) {
        plan.matching.push(format!("{} {url}", kind.label()));
    }
    if !missing.is_empty() {
        plan.changes.push(Change::AddUrls {
            kind: kind.label(),
            app: app.into(),
            urls: missing,
        });
    }
    let extra: Vec<String> = current
        .iter()
        .filter(|u| !wanted.contains(u))
        .cloned()
        .collect();
    if !extra.is_empty() {
        if prune {
            plan.changes.push(Change::RemoveUrls {
                kind: kind.label(),
                app: app.into(),
                urls: extra,
            });
        } else {
            plan.unmanaged
                .extend(extra.iter().map(|u| format!("{} {u}", kind.label())));
        }
    }
    Ok(())
}

fn print_plan(plan: &Plan, client: &Client) {
    if ui::settings().json {
        return;
    }
    ui::result(&format!(
        "{} {}",
        paint(style::BOLD, "plan for"),
        client.issuer()
    ));
    for change in &plan.changes {
        ui::result(&format!(
            "  {} {}",
            paint(style::OK, "+"),
            change.describe()
        ));
    }
    for item in &plan.matching {
        ui::result(&format!("  {} {item} (matches)", paint(style::DIM, "=")));
    }
    for item in &plan.unmanaged {
        ui::result(&format!(
            "  {} {item}: not in kinde.toml, left alone (--prune removes URLs and authorisations)",
            paint(style::WARN, "?")
        ));
    }
    for conflict in &plan.conflicts {
        ui::result(&format!("  {} {conflict}", paint(style::BAD, "!")));
    }
    for note in &plan.notes {
        ui::result(&format!("  {} {note}", paint(style::DIM, "note:")));
    }
    ui::result(&format!(
        "{} to change, {} matching, {} not in kinde.toml, {} conflicts",
        plan.changes.len(),
        plan.matching.len(),
        plan.unmanaged.len(),
        plan.conflicts.len()
    ));
}

/// Apply in order; on the first failure, report what was and was not applied.
async fn apply(client: &Client, plan: Plan, report: bool) -> Result<u8, Error> {
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut scope_ids: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut applied: Vec<String> = Vec::new();
    let total = plan.changes.len();
    for (index, change) in plan.changes.iter().enumerate() {
        match apply_one(client, change, &mut ids, &mut scope_ids).await {
            Ok(()) => {
                if report {
                    ui::status(&format!(
                        "  {} {}",
                        paint(style::OK, "✓"),
                        change.describe()
                    ));
                }
                applied.push(change.describe());
            }
            Err(e) if !report => return Err(e),
            Err(e) => {
                let not_applied: Vec<String> =
                    plan.changes[index..].iter().map(Change::describe).collect();
                if ui::settings().json {
                    ui::json(
                        &json!({"plan": plan, "applied": applied, "failed": change.describe(), "not_applied": not_applied, "error": e.to_string()}),
                    );
                } else {
                    ui::status(&format!(
                        "  {} {}",
                        paint(style::BAD, "✗"),
                        change.describe()
                    ));
                    ui::status(&format!(
                        "applied {} of {total}; not applied:",
                        applied.len()
                    ));
                    for item in &not_applied {
                        ui::status(&format!("  - {item}"));
                    }
                }
                return Err(e.context(format!(
                    "applied {} of {total} changes; run `cargo kinde register` again to finish",
                    applied.len()
                )));
            }
        }
    }
    if report && ui::settings().json {
        ui::json(&json!({"plan": plan, "applied": applied, "changed": true}));
    } else if report {
        ui::status(&format!(
            "{} applied {total} change(s)",
            paint(style::OK, "✓")
        ));
    }
    Ok(exit::OK)
}

async fn apply_one(
    client: &Client,
    change: &Change,
    ids: &mut BTreeMap<String, String>,
    scope_ids: &mut BTreeMap<(String, String), String>,
) -> Result<(), Error> {
    let api_id = |api: &ApiRef, ids: &BTreeMap<String, String>| match api {
        ApiRef::Existing(id) => Ok(id.clone()),
        ApiRef::New { audience } => ids.get(audience).cloned().ok_or_else(|| {
            Error::input(format!(
                "API {audience} was not created, so it cannot be changed"
            ))
        }),
    };
    let kind = |label: &str| {
        if label == UrlKind::Callback.label() {
            UrlKind::Callback
        } else {
            UrlKind::Logout
        }
    };
    match change {
        Change::AddUrls { kind: k, app, urls } => client.add_urls(kind(k), app, urls).await,
        Change::RemoveUrls { kind: k, app, urls } => client.delete_urls(kind(k), app, urls).await,
        Change::CreateApi { name, audience } => {
            let id = client.create_api(name, audience).await?;
            ids.insert(audience.clone(), id);
            Ok(())
        }
        Change::CreateScope { api, key, .. } => {
            let id = api_id(api, ids)?;
            let scope = client.create_api_scope(&id, key).await?;
            scope_ids.insert((id, key.clone()), scope);
            Ok(())
        }
        Change::Authorize { api, app, .. } => {
            client
                .authorize(&api_id(api, ids)?, &[(app.clone(), true)])
                .await
        }
        Change::Deauthorize { api, app, .. } => {
            client.authorize(api, &[(app.clone(), false)]).await
        }
        Change::GrantScope { api, app, key, .. } => {
            let id = api_id(api, ids)?;
            let scope = match scope_ids.get(&(id.clone(), key.clone())) {
                Some(scope) => scope.clone(),
                None => client
                    .api_scopes(&id)
                    .await?
                    .into_iter()
                    .find(|s| &s.key == key)
                    .map(|s| s.id)
                    .ok_or_else(|| {
                        Error::input(format!(
                            "scope `{key}` does not exist, so it cannot be granted"
                        ))
                    })?,
            };
            client.grant_api_scope(&id, app, &scope).await
        }
    }
}
