//! The `[app]` application itself: created from `kinde.toml`'s `name` and `type` when no client
//! id is configured, or adopted when the tenant already has exactly one app of that name and type
//! (a run that stopped after creating it but before writing its client id back must not create
//! a second one).
//!
//! Until it exists, the plan names the app [`NEW_APP`]; apply puts the created client id in its
//! place, so the rest of the plan (callback and logout URLs, API authorisations) applies to the
//! new app in the same run.

use super::{Change, Conflict, Current, Desired, Note, Plan};
use crate::config::Config;
use crate::config::app::{AppKind, AppSpec};
use crate::error::Error;
use crate::kinde::client::Client;

/// How a plan refers to the `[app]` it creates, where a client id would be.
pub const NEW_APP: &str = "<new>";

/// `[app] name` and `type` as the plan sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredApp {
    /// The app's name.
    pub name: String,
    /// Its type, when `kinde.toml` says.
    pub kind: Option<AppKind>,
    /// Whether it is to be created (or adopted): no client id is configured.
    pub create: bool,
}

/// An application as the tenant lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantApp {
    /// Client id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Kinde's `type` (`reg`, `spa`, `m2m`, `device`).
    pub kind: String,
}

/// What `config` says of the app beyond its client id.
pub(super) fn desired(config: &Config) -> Option<DesiredApp> {
    let spec = config.app_spec.as_ref()?;
    Some(DesiredApp {
        name: spec.name.value.clone(),
        kind: spec.kind.as_ref().map(|k| k.value),
        create: AppSpec::to_create(config).is_some(),
    })
}

/// Read what the plan needs of the app: the apps named as it (to adopt one) when it is to be
/// created, else the configured app (to compare its name and type).
pub(super) async fn read(
    client: &Client,
    desired: &Desired,
    current: &mut Current,
) -> Result<(), Error> {
    let Some(app) = &desired.app_spec else {
        return Ok(());
    };
    if app.create {
        current.named_apps = client
            .applications()
            .await?
            .into_iter()
            .filter(|a| a.name == app.name)
            .map(|a| TenantApp {
                id: a.id,
                name: a.name,
                kind: a.kind,
            })
            .collect();
    } else if let Some(id) = &desired.app {
        let found = client.application(id).await?;
        current.named_apps = vec![TenantApp {
            id: id.clone(),
            name: found.name,
            kind: found.kind,
        }];
    }
    Ok(())
}

/// The one tenant app an app to create would adopt: same name, same type.
fn adoptable<'c>(app: &DesiredApp, current: &'c Current) -> Vec<&'c TenantApp> {
    let kind = app.kind.map(AppKind::kinde_type);
    current
        .named_apps
        .iter()
        .filter(|t| t.name == app.name && Some(t.kind.as_str()) == kind)
        .collect()
}

/// The client id the rest of the plan applies to: the configured one, the adopted app's, or
/// [`NEW_APP`].
pub(super) fn target(desired: &Desired, current: &Current) -> Option<String> {
    match &desired.app_spec {
        Some(app) if app.create => match adoptable(app, current).as_slice() {
            [one] => Some(one.id.clone()),
            _ => Some(NEW_APP.to_string()),
        },
        _ => desired.app.clone(),
    }
}

/// Plan the app itself (first, as the rest of the plan refers to it), and return `desired` and
/// `current` as the rest of the plan sees them: an adopted app's client id in place of
/// [`NEW_APP`], and a new app known to the tenant with no URLs.
pub(super) fn plan(plan: &mut Plan, desired: &Desired, current: &Current) -> (Desired, Current) {
    let (mut desired, mut current) = (desired.clone(), current.clone());
    let Some(app) = desired.app_spec.clone() else {
        return (desired, current);
    };
    let Some(kind) = app.kind else {
        // Validation requires a type without a client id, so this app exists: compare its name.
        if let Some(tenant) = current.named_apps.first() {
            note_differences(plan, &app, tenant);
        }
        return (desired, current);
    };
    if !app.create {
        if let Some(tenant) = current.named_apps.first() {
            note_differences(plan, &app, tenant);
        }
        return (desired, current);
    }
    match adoptable(&app, &current).as_slice() {
        [] => {
            plan.changes.push(Change::CreateApplication {
                name: app.name.clone(),
                app_type: kind,
            });
            current
                .applications
                .insert(NEW_APP.into(), kind.kinde_type().into());
            // A new app has no URLs yet.
            if current.callback_urls.is_some() || current.logout_urls.is_some() {
                current.callback_urls = Some(Vec::new());
                current.logout_urls = Some(Vec::new());
            }
        }
        [one] => {
            let id = one.id.clone();
            plan.changes.push(Change::AdoptApplication {
                id: id.clone(),
                name: app.name.clone(),
                app_type: kind,
            });
            let swap = |a: &mut String| {
                if a == NEW_APP {
                    a.clone_from(&id);
                }
            };
            if let Some(a) = desired.app.as_mut() {
                swap(a);
            }
            for api in &mut desired.apis {
                api.authorize.iter_mut().for_each(swap);
            }
        }
        many => plan.conflicts.push(Conflict::AmbiguousApplication {
            name: app.name.clone(),
            app_type: kind,
            ids: many.iter().map(|t| t.id.clone()).collect(),
        }),
    }
    (desired, current)
}

fn note_differences(plan: &mut Plan, app: &DesiredApp, tenant: &TenantApp) {
    if tenant.name != app.name {
        plan.notes.push(Note::ApplicationRenamed {
            app: tenant.id.clone(),
            before: tenant.name.clone(),
            after: app.name.clone(),
        });
    }
    if let Some(kind) = app.kind
        && tenant.kind != kind.kinde_type()
    {
        plan.notes.push(Note::ApplicationTypeDiffers {
            app: tenant.id.clone(),
            tenant_type: tenant.kind.clone(),
            app_type: kind,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan as plan_all;
    use super::*;

    fn creating(kind: AppKind) -> Desired {
        Desired {
            app: Some(NEW_APP.into()),
            callback_urls: vec!["https://app.acme.example/callback".into()],
            app_spec: Some(DesiredApp {
                name: "Acme web".into(),
                kind: Some(kind),
                create: true,
            }),
            ..Desired::default()
        }
    }

    fn tenant_app(id: &str, kind: &str) -> TenantApp {
        TenantApp {
            id: id.into(),
            name: "Acme web".into(),
            kind: kind.into(),
        }
    }

    fn reading_urls() -> Current {
        Current {
            callback_urls: Some(Vec::new()),
            logout_urls: Some(Vec::new()),
            ..Current::default()
        }
    }

    #[test]
    fn a_missing_app_is_created_and_its_urls_added_to_the_new_app() {
        let plan = plan_all(&creating(AppKind::Regular), &reading_urls());
        assert_eq!(
            plan.changes[0],
            Change::CreateApplication {
                name: "Acme web".into(),
                app_type: AppKind::Regular
            }
        );
        assert_eq!(
            plan.changes[0].to_string(),
            "create application `Acme web` (regular)"
        );
        assert!(
            matches!(&plan.changes[1], Change::AddUrls { app, .. } if app == NEW_APP),
            "{:?}",
            plan.changes
        );
    }

    #[test]
    fn one_app_of_the_same_name_and_type_is_adopted_not_duplicated() {
        let mut current = reading_urls();
        current.named_apps = vec![tenant_app("a1", "m2m"), tenant_app("a2", "spa")];
        current.callback_urls = Some(vec!["https://app.acme.example/callback".into()]);
        let plan = plan_all(&creating(AppKind::Spa), &current);
        assert_eq!(
            plan.changes,
            [Change::AdoptApplication {
                id: "a2".into(),
                name: "Acme web".into(),
                app_type: AppKind::Spa
            }],
            "its URL already matches, on the adopted app"
        );
        current.named_apps.push(tenant_app("a3", "spa"));
        let plan = plan_all(&creating(AppKind::Spa), &current);
        assert_eq!(
            plan.conflicts,
            [Conflict::AmbiguousApplication {
                name: "Acme web".into(),
                app_type: AppKind::Spa,
                ids: vec!["a2".into(), "a3".into()]
            }]
        );
    }

    #[test]
    fn a_configured_app_named_otherwise_is_a_note() {
        let desired = Desired {
            app: Some("a1".into()),
            app_spec: Some(DesiredApp {
                name: "Acme web".into(),
                kind: Some(AppKind::Spa),
                create: false,
            }),
            ..Desired::default()
        };
        let current = Current {
            named_apps: vec![TenantApp {
                id: "a1".into(),
                name: "Old".into(),
                kind: "reg".into(),
            }],
            ..Current::default()
        };
        let plan = plan_all(&desired, &current);
        assert!(plan.changes.is_empty());
        assert_eq!(plan.notes.len(), 2, "{:?}", plan.notes);
        assert!(plan.notes[0].to_string().contains("`Old` in Kinde"));
        assert!(plan.notes[1].to_string().contains("cannot change"));
    }
}
