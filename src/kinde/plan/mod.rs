//! The tenant reconciler's plan: what `kinde.toml` asks for ([`Desired`]), what the tenant has
//! ([`Current`]), and the typed [`Change`]s that make the one match the other ([`plan`]).
//!
//! Planning is a pure function of the two states so it can be tested without a server; reading
//! the tenant ([`Current::read`]) and applying ([`super::apply`]) are the only parts that talk to
//! the Management API.

pub mod apps;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::client::Client;
use super::resources::UrlKind;
use crate::config::Config;
use crate::config::app::AppKind;
use crate::error::Error;

/// The tenant as `kinde.toml` describes it, with application names resolved to client ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Desired {
    /// The user-facing app whose callback and logout URLs are managed.
    pub app: Option<String>,
    /// Callback URLs the app must allow.
    pub callback_urls: Vec<String>,
    /// Logout URLs the app must allow.
    pub logout_urls: Vec<String>,
    /// APIs to register.
    pub apis: Vec<DesiredApi>,
    /// Whether URLs and authorisations the file does not list are removed.
    pub prune: bool,
    /// `[app] name` and `type`: the app created (then `app` is [`apps::NEW_APP`]) or compared.
    pub app_spec: Option<apps::DesiredApp>,
}

/// An API as `kinde.toml` declares it, with `authorize` resolved to client ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredApi {
    /// Display name.
    pub name: String,
    /// Audience (Kinde's identity of an API; it cannot change).
    pub audience: String,
    /// Scope keys.
    pub scopes: Vec<String>,
    /// Client ids to authorise.
    pub authorize: Vec<String>,
}

impl Desired {
    /// What `config` asks for. Fails, before any request, when URLs are listed without an app
    /// client id or `authorize` names an app that is not configured.
    pub fn from_config(config: &Config, prune: bool) -> Result<Self, Error> {
        let app_spec = apps::desired(config);
        let app = config
            .app_client_id
            .as_ref()
            .map(|s| s.value.clone())
            .or_else(|| {
                app_spec
                    .as_ref()
                    .filter(|a| a.create)
                    .map(|_| apps::NEW_APP.to_string())
            });
        let callback_urls = config.wanted_callback_urls();
        let logout_urls: Vec<String> = config.logout_urls.iter().map(|s| s.value.clone()).collect();
        if app.is_none() && !(callback_urls.is_empty() && logout_urls.is_empty()) {
            return Err(Error::input("kinde.toml lists callback or logout URLs (or a [login] port), but no app client id is configured")
                .with_hint("set `client_id` under [app] in kinde.toml, or KINDE_CLIENT_ID"));
        }
        let apis = config
            .apis
            .iter()
            .map(|api| {
                Ok(DesiredApi {
                    name: api.name.clone(),
                    audience: api.audience.clone(),
                    // A scope or app listed twice (or `app` and its client id) is asked for
                    // once: a repeat would make the tenant refuse the second create.
                    scopes: unique(api.scopes.clone()),
                    authorize: unique(
                        api.authorize
                            .iter()
                            .map(|a| resolve_app(config, a))
                            .collect::<Result<_, Error>>()?,
                    ),
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Desired {
            app,
            callback_urls,
            logout_urls,
            apis,
            prune,
            app_spec,
        })
    }

    fn manages_urls(&self) -> bool {
        self.prune || !self.callback_urls.is_empty() || !self.logout_urls.is_empty()
    }
}

/// Resolve `app`, `management` or a client id.
/// `items` without repeats, in their first order.
fn unique(items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(item.clone()))
        .collect()
}

fn resolve_app(config: &Config, name: &str) -> Result<String, Error> {
    match name {
        "app" => config
            .app_client_id
            .as_ref()
            .map(|s| s.value.clone())
            .or_else(|| {
                crate::config::app::AppSpec::to_create(config).map(|_| apps::NEW_APP.to_string())
            })
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

/// The parts of the tenant that [`Desired`] covers, as read before planning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Current {
    /// The app's callback URLs (`None`: not read, because no URLs are managed).
    pub callback_urls: Option<Vec<String>>,
    /// The app's logout URLs (`None`: not read).
    pub logout_urls: Option<Vec<String>>,
    /// Every API of the tenant (empty when no API is managed).
    pub apis: Vec<TenantApi>,
    /// Every application's type (`m2m`, `reg`, ...) by client id.
    pub applications: BTreeMap<String, String>,
    /// The client id of the management app, whose grants [`TenantApi::management_lacks_grants`]
    /// proves with a token request.
    pub management_app: Option<String>,
    /// The apps named as `[app] name` (to adopt one), or the configured app (to compare it).
    pub named_apps: Vec<apps::TenantApp>,
}

/// An API of the tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantApi {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Audience.
    pub audience: String,
    /// Whether it is the Kinde Management API (never touched).
    pub is_management_api: bool,
    /// Scope keys (read only for APIs `kinde.toml` lists).
    pub scopes: Vec<String>,
    /// Client ids of the authorised applications (read only for APIs `kinde.toml` lists).
    pub authorised: Vec<String>,
    /// Whether the management app, authorised here, was refused a token with every scope
    /// `kinde.toml` declares that exists (a run that stopped between authorising and granting).
    pub management_lacks_grants: bool,
}

impl Current {
    /// Read what `desired` covers, and nothing more.
    pub async fn read(client: &Client, desired: &Desired) -> Result<Self, Error> {
        let mut current = Current {
            management_app: Some(client.client_id().to_string()),
            ..Current::default()
        };
        apps::read(client, desired, &mut current).await?;
        match (apps::target(desired, &current), desired.manages_urls()) {
            (Some(app), true) if app == apps::NEW_APP => {
                current.callback_urls = Some(Vec::new());
                current.logout_urls = Some(Vec::new());
            }
            (Some(app), true) => {
                current.callback_urls = Some(client.urls(UrlKind::Callback, &app).await?);
                current.logout_urls = Some(client.urls(UrlKind::Logout, &app).await?);
            }
            _ => {}
        }
        if desired.apis.is_empty() {
            return Ok(current);
        }
        let apis = client.apis().await?;
        current.applications = client
            .applications()
            .await?
            .into_iter()
            .map(|a| (a.id, a.kind))
            .collect();
        for api in apis {
            let mut tenant = TenantApi {
                id: api.id,
                name: api.name,
                audience: api.audience,
                is_management_api: api.is_management_api,
                ..TenantApi::default()
            };
            if desired.apis.iter().any(|d| d.audience == tenant.audience) {
                tenant.scopes = client
                    .api_scopes(&tenant.id)
                    .await?
                    .into_iter()
                    .map(|s| s.key)
                    .collect();
                tenant.authorised = client
                    .api_applications(&tenant.id)
                    .await?
                    .into_iter()
                    .filter(|a| a.is_active != Some(false))
                    .map(|a| a.id)
                    .collect();
                // Grants cannot be read back, but the management app's can be proven: ask for a
                // token with every declared scope that exists. Refused means a grant is missing.
                let declared: Vec<String> = desired
                    .apis
                    .iter()
                    .filter(|d| d.audience == tenant.audience)
                    .flat_map(|d| d.scopes.iter())
                    .filter(|k| tenant.scopes.contains(k))
                    .cloned()
                    .collect();
                if !declared.is_empty() && tenant.authorised.iter().any(|a| a == client.client_id())
                {
                    tenant.management_lacks_grants =
                        !client.holds_scopes(&tenant.audience, &declared).await?;
                }
            }
            current.apis.push(tenant);
        }
        Ok(current)
    }

    fn urls(&self, kind: UrlKind) -> Option<&Vec<String>> {
        match kind {
            UrlKind::Callback => self.callback_urls.as_ref(),
            UrlKind::Logout => self.logout_urls.as_ref(),
        }
    }
}

/// Where an API in the plan is, or will be: `{"id": ...}` or `{"audience": ...}` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ApiRef {
    /// Already in the tenant.
    Existing {
        /// Its id.
        id: String,
    },
    /// Created by this plan: its audience.
    New {
        /// The audience it is created with.
        audience: String,
    },
}

/// One change to the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Change {
    /// Allow more URLs for an app.
    AddUrls {
        /// Which list.
        kind: UrlKind,
        /// The app's client id.
        app: String,
        /// URLs to add.
        urls: Vec<String>,
    },
    /// Remove URLs from an app's list (`--prune`).
    RemoveUrls {
        /// Which list.
        kind: UrlKind,
        /// The app's client id.
        app: String,
        /// URLs to remove.
        urls: Vec<String>,
    },
    /// Register an API.
    CreateApi {
        /// Name.
        name: String,
        /// Audience.
        audience: String,
    },
    /// Add a scope to an API.
    CreateScope {
        /// The API.
        api: ApiRef,
        /// Its audience.
        audience: String,
        /// Scope key.
        key: String,
    },
    /// Authorise an application for an API.
    Authorize {
        /// The API.
        api: ApiRef,
        /// Its audience.
        audience: String,
        /// Client id.
        app: String,
    },
    /// Withdraw an application's authorisation (`--prune`).
    Deauthorize {
        /// The API's id.
        api: String,
        /// Its audience.
        audience: String,
        /// Client id.
        app: String,
    },
    /// Grant an API scope to an authorised M2M application.
    GrantScope {
        /// The API.
        api: ApiRef,
        /// Its audience.
        audience: String,
        /// Client id.
        app: String,
        /// Scope key.
        key: String,
    },
    /// Create the `[app]` application; its client id goes into kinde.toml, its secret into .env.
    CreateApplication {
        /// Name.
        name: String,
        /// Type.
        app_type: AppKind,
    },
    /// Take the existing app of `[app]`'s name and type as `[app]`: write its client id (and its
    /// secret, when Kinde returns it) as if it had just been created.
    AdoptApplication {
        /// Client id.
        id: String,
        /// Name.
        name: String,
        /// Type.
        app_type: AppKind,
    },
}

impl Change {
    /// Whether the change takes something away from the tenant (shown as `-` in plans).
    pub fn is_removal(&self) -> bool {
        matches!(self, Change::RemoveUrls { .. } | Change::Deauthorize { .. })
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::AddUrls { kind, urls, .. } => {
                write!(f, "add {} {}", kind.label(), urls.join(", "))
            }
            Change::RemoveUrls { kind, urls, .. } => {
                write!(f, "remove {} {}", kind.label(), urls.join(", "))
            }
            Change::CreateApi { name, audience } => write!(f, "create API `{name}` ({audience})"),
            Change::CreateScope { audience, key, .. } => {
                write!(f, "create scope `{key}` on {audience}")
            }
            Change::Authorize { audience, app, .. } => {
                write!(f, "authorise application {app} for {audience}")
            }
            Change::Deauthorize { audience, app, .. } => {
                write!(f, "de-authorise application {app} for {audience}")
            }
            Change::GrantScope {
                audience, app, key, ..
            } => write!(f, "grant `{key}` on {audience} to {app}"),
            Change::CreateApplication { name, app_type } => {
                write!(f, "create application `{name}` ({app_type})")
            }
            Change::AdoptApplication { id, name, app_type } => write!(
                f,
                "adopt application `{name}` ({app_type}, client_id={id}), found by name: write its client id to kinde.toml"
            ),
        }
    }
}

/// A thing in the tenant the plan looked at: one that matches `kinde.toml`, or one the file
/// does not list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "resource", rename_all = "snake_case")]
pub enum Resource {
    /// A callback or logout URL of an app.
    Url {
        /// Which list.
        kind: UrlKind,
        /// The app's client id.
        app: String,
        /// The URL.
        url: String,
    },
    /// An API.
    Api {
        /// Name (in the tenant).
        name: String,
        /// Audience.
        audience: String,
    },
    /// A scope of an API.
    Scope {
        /// The API's audience.
        audience: String,
        /// Scope key.
        key: String,
    },
    /// An application's authorisation for an API.
    Authorization {
        /// The API's audience.
        audience: String,
        /// Client id.
        app: String,
    },
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Url { kind, url, .. } => write!(f, "{} {url}", kind.label()),
            Resource::Api { name, audience } => write!(f, "API `{name}` ({audience})"),
            Resource::Scope { audience, key } => write!(f, "scope `{key}` on {audience}"),
            Resource::Authorization { audience, app } => {
                write!(f, "application {app} authorised for {audience}")
            }
        }
    }
}

/// Where `kinde.toml` and the tenant disagree in a way `register` must not resolve itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Conflict {
    /// `authorize` names an application the tenant does not have.
    UnknownApplication {
        /// The API's name in `kinde.toml`.
        api: String,
        /// Client id.
        app: String,
    },
    /// An API of the same name exists with another audience, which Kinde cannot change.
    AudienceChanged {
        /// The API's name.
        api: String,
        /// The audience in the tenant.
        before: String,
        /// The audience in `kinde.toml`.
        after: String,
    },
    /// Several apps have `[app]`'s name and type, so none can be adopted.
    AmbiguousApplication {
        /// Name.
        name: String,
        /// Type.
        app_type: AppKind,
        /// Their client ids.
        ids: Vec<String>,
    },
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conflict::UnknownApplication { api, app } => write!(
                f,
                "API `{api}` authorises application {app}, which the tenant does not have"
            ),
            Conflict::AudienceChanged { api, before, after } => write!(
                f,
                "API `{api}` exists with audience `{before}`, but kinde.toml says `{after}`; audiences cannot change in Kinde: put the old audience back in kinde.toml, or give the API a new name there and delete the old one (Settings > APIs)"
            ),
            Conflict::AmbiguousApplication {
                name,
                app_type,
                ids,
            } => write!(
                f,
                "{} {app_type} applications are named `{name}` ({}); set `client_id` under [app] in kinde.toml to the one to use",
                ids.len(),
                ids.join(", ")
            ),
        }
    }
}

/// Something the plan leaves as it is, worth knowing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Note {
    /// The API is named differently in the tenant; names are not changed.
    ApiRenamed {
        /// Audience.
        audience: String,
        /// The name in the tenant.
        before: String,
        /// The name in `kinde.toml`.
        after: String,
    },
    /// Grants cannot be read back, so scopes are granted only when authorising or creating.
    GrantsNotRead,
    /// The configured app is named differently in the tenant; names are not changed.
    ApplicationRenamed {
        /// Client id.
        app: String,
        /// The name in the tenant.
        before: String,
        /// The name in `kinde.toml`.
        after: String,
    },
    /// The configured app has another type in the tenant; Kinde cannot change an app's type.
    ApplicationTypeDiffers {
        /// Client id.
        app: String,
        /// Kinde's type in the tenant.
        tenant_type: String,
        /// The type in `kinde.toml`.
        app_type: AppKind,
    },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::ApiRenamed {
                audience,
                before,
                after,
            } => write!(
                f,
                "API {audience} is named `{before}` in Kinde and `{after}` in kinde.toml; names are left as they are"
            ),
            Note::ApplicationRenamed { app, before, after } => write!(
                f,
                "application {app} is named `{before}` in Kinde and `{after}` in kinde.toml; names are left as they are"
            ),
            Note::ApplicationTypeDiffers { app, tenant_type, app_type } => write!(
                f,
                "application {app} is a `{tenant_type}` app in Kinde, but kinde.toml says `{app_type}` (`{}`); an app's type cannot change",
                app_type.kinde_type()
            ),
            Note::GrantsNotRead => f.write_str("scopes are granted to M2M applications when they are authorised or the scope is created; grants made in the Kinde admin are left as they are"),
        }
    }
}

/// What `register` found and intends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Changes, in the order they must be applied.
    pub changes: Vec<Change>,
    /// What already matches `kinde.toml`.
    pub matching: Vec<Resource>,
    /// What the tenant has and `kinde.toml` does not list (left alone).
    pub unmanaged: Vec<Resource>,
    /// Disagreements that stop the plan from being applied.
    pub conflicts: Vec<Conflict>,
    /// Things left as they are, worth knowing.
    pub notes: Vec<Note>,
}

/// The changes that make `current` match `desired`.
pub fn plan(desired: &Desired, current: &Current) -> Plan {
    let mut plan = Plan::default();
    // The app first: the rest of the plan may refer to it, by the id of an app it adopts.
    let (desired, current) = &apps::plan(&mut plan, desired, current);
    if let Some(app) = &desired.app {
        for (kind, wanted) in [
            (UrlKind::Callback, &desired.callback_urls),
            (UrlKind::Logout, &desired.logout_urls),
        ] {
            if let Some(have) = current.urls(kind) {
                plan_urls(&mut plan, kind, app, wanted, have, desired.prune);
            }
        }
    }
    if desired.apis.is_empty() {
        return plan;
    }
    for api in &desired.apis {
        plan_api(&mut plan, api, current, desired.prune);
    }
    for api in current
        .apis
        .iter()
        .filter(|a| !a.is_management_api && !desired.apis.iter().any(|d| d.audience == a.audience))
    {
        plan.unmanaged.push(Resource::Api {
            name: api.name.clone(),
            audience: api.audience.clone(),
        });
    }
    plan.notes.push(Note::GrantsNotRead);
    plan
}

fn plan_urls(
    plan: &mut Plan,
    kind: UrlKind,
    app: &str,
    wanted: &[String],
    have: &[String],
    prune: bool,
) {
    let resource = |url: &String| Resource::Url {
        kind,
        app: app.into(),
        url: url.clone(),
    };
    let (matching, missing): (Vec<&String>, Vec<&String>) =
        wanted.iter().partition(|u| have.contains(u));
    plan.matching.extend(matching.into_iter().map(resource));
    if !missing.is_empty() {
        plan.changes.push(Change::AddUrls {
            kind,
            app: app.into(),
            urls: missing.into_iter().cloned().collect(),
        });
    }
    let extra: Vec<String> = have
        .iter()
        .filter(|u| !wanted.contains(u))
        .cloned()
        .collect();
    if extra.is_empty() {
        return;
    }
    if prune {
        plan.changes.push(Change::RemoveUrls {
            kind,
            app: app.into(),
            urls: extra,
        });
    } else {
        plan.unmanaged.extend(extra.iter().map(resource));
    }
}

fn plan_api(plan: &mut Plan, api: &DesiredApi, current: &Current, prune: bool) {
    for app in &api.authorize {
        if !current.applications.contains_key(app) {
            plan.conflicts.push(Conflict::UnknownApplication {
                api: api.name.clone(),
                app: app.clone(),
            });
        }
    }
    let existing = current.apis.iter().find(|t| t.audience == api.audience);
    let (api_ref, have_scopes, authorised) = match existing {
        Some(existing) => {
            if existing.name == api.name {
                plan.matching.push(Resource::Api {
                    name: api.name.clone(),
                    audience: api.audience.clone(),
                });
            } else {
                plan.notes.push(Note::ApiRenamed {
                    audience: api.audience.clone(),
                    before: existing.name.clone(),
                    after: api.name.clone(),
                });
            }
            (
                ApiRef::Existing {
                    id: existing.id.clone(),
                },
                existing.scopes.as_slice(),
                existing.authorised.as_slice(),
            )
        }
        None => {
            if let Some(same_name) = current
                .apis
                .iter()
                .find(|t| t.name == api.name && !t.is_management_api)
            {
                plan.conflicts.push(Conflict::AudienceChanged {
                    api: api.name.clone(),
                    before: same_name.audience.clone(),
                    after: api.audience.clone(),
                });
                return;
            }
            plan.changes.push(Change::CreateApi {
                name: api.name.clone(),
                audience: api.audience.clone(),
            });
            let new = ApiRef::New {
                audience: api.audience.clone(),
            };
            (new, [].as_slice(), [].as_slice())
        }
    };
    let audience = &api.audience;
    let mut new_scopes = Vec::new();
    for key in &api.scopes {
        if have_scopes.contains(key) {
            plan.matching.push(Resource::Scope {
                audience: audience.clone(),
                key: key.clone(),
            });
        } else {
            new_scopes.push(key.clone());
            plan.changes.push(Change::CreateScope {
                api: api_ref.clone(),
                audience: audience.clone(),
                key: key.clone(),
            });
        }
    }
    for key in have_scopes.iter().filter(|k| !api.scopes.contains(k)) {
        plan.unmanaged.push(Resource::Scope {
            audience: audience.clone(),
            key: key.clone(),
        });
    }
    for app in &api.authorize {
        let is_authorised = authorised.contains(app);
        if is_authorised {
            plan.matching.push(Resource::Authorization {
                audience: audience.clone(),
                app: app.clone(),
            });
        } else {
            plan.changes.push(Change::Authorize {
                api: api_ref.clone(),
                audience: audience.clone(),
                app: app.clone(),
            });
        }
        // Grants of an existing authorisation cannot be read back through the Management API,
        // so an app already authorised is granted only the scopes created now; a newly
        // authorised one gets every scope, and so does the management app when a token request
        // proved a grant missing (a run stopped between authorising and granting). Granting a
        // scope twice is accepted. Only M2M apps hold scope grants.
        let lacks_grants = existing.is_some_and(|t| t.management_lacks_grants)
            && current.management_app.as_deref() == Some(app.as_str());
        let grants = if is_authorised && !lacks_grants {
            &new_scopes
        } else {
            &api.scopes
        };
        if current.applications.get(app).map(String::as_str) == Some("m2m") {
            for key in grants {
                plan.changes.push(Change::GrantScope {
                    api: api_ref.clone(),
                    audience: audience.clone(),
                    app: app.clone(),
                    key: key.clone(),
                });
            }
        }
    }
    for app in authorised.iter().filter(|a| !api.authorize.contains(a)) {
        match (&api_ref, prune) {
            (ApiRef::Existing { id }, true) => plan.changes.push(Change::Deauthorize {
                api: id.clone(),
                audience: audience.clone(),
                app: app.clone(),
            }),
            _ => plan.unmanaged.push(Resource::Authorization {
                audience: audience.clone(),
                app: app.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const WEB: &str = "web_app";
    const M2M: &str = "m2m_app";
    const AUD: &str = "https://api.acme.example";

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(ToString::to_string).collect()
    }

    /// kinde.toml: two callback URLs, one logout URL, one API authorised for both apps.
    fn desired() -> Desired {
        Desired {
            app: Some(WEB.into()),
            callback_urls: strings(&["https://app.acme.example/callback"]),
            logout_urls: strings(&["https://app.acme.example"]),
            apis: vec![DesiredApi {
                name: "Acme API".into(),
                audience: AUD.into(),
                scopes: strings(&["read:orders", "write:orders"]),
                authorize: strings(&[WEB, M2M]),
            }],
            prune: false,
            ..Desired::default()
        }
    }

    /// A fresh tenant: the two apps, no URLs, only the Management API.
    fn fresh() -> Current {
        Current {
            callback_urls: Some(Vec::new()),
            logout_urls: Some(Vec::new()),
            apis: vec![TenantApi {
                id: "mgmt".into(),
                name: "Kinde Management API".into(),
                audience: "https://acme.kinde.com/api".into(),
                is_management_api: true,
                ..TenantApi::default()
            }],
            applications: [(WEB, "reg"), (M2M, "m2m")]
                .into_iter()
                .map(|(id, kind)| (id.to_string(), kind.to_string()))
                .collect(),
            management_app: Some(M2M.into()),
            ..Current::default()
        }
    }

    /// The tenant after a full register of [`desired`].
    fn registered() -> Current {
        let mut current = fresh();
        for change in plan(&desired(), &current).changes {
            apply_to(&mut current, &change);
        }
        current
    }

    fn api<'a>(current: &'a mut Current, audience: &str) -> &'a mut TenantApi {
        current
            .apis
            .iter_mut()
            .find(|a| a.audience == audience)
            .expect("the API the change refers to")
    }

    /// What the Management API does with each change, on the fake tenant.
    fn apply_to(current: &mut Current, change: &Change) {
        let urls = |current: &mut Current, kind| {
            match kind {
                UrlKind::Callback => current.callback_urls.get_or_insert_default(),
                UrlKind::Logout => current.logout_urls.get_or_insert_default(),
            }
            .clone()
        };
        let set_urls = |current: &mut Current, kind, list| match kind {
            UrlKind::Callback => current.callback_urls = Some(list),
            UrlKind::Logout => current.logout_urls = Some(list),
        };
        match change {
            Change::AddUrls {
                kind, urls: add, ..
            } => {
                let mut list = urls(current, *kind);
                list.extend(add.iter().cloned());
                set_urls(current, *kind, list);
            }
            Change::RemoveUrls {
                kind, urls: remove, ..
            } => {
                let mut list = urls(current, *kind);
                list.retain(|u| !remove.contains(u));
                set_urls(current, *kind, list);
            }
            Change::CreateApi { name, audience } => current.apis.push(TenantApi {
                id: format!("id of {audience}"),
                name: name.clone(),
                audience: audience.clone(),
                ..TenantApi::default()
            }),
            Change::CreateScope { audience, key, .. } => {
                api(current, audience).scopes.push(key.clone());
            }
            Change::Authorize { audience, app, .. } => {
                api(current, audience).authorised.push(app.clone());
            }
            Change::Deauthorize { audience, app, .. } => {
                api(current, audience).authorised.retain(|a| a != app);
            }
            // Grants cannot be read back, but the management app's are proven by a token: once
            // granted, the next token request is no longer refused.
            Change::GrantScope { audience, app, .. } => {
                if current.management_app.as_deref() == Some(app.as_str()) {
                    api(current, audience).management_lacks_grants = false;
                }
            }
            // The app itself is planned and tested in `apps`.
            Change::CreateApplication { .. } | Change::AdoptApplication { .. } => {}
        }
    }

    fn existing(id: &str) -> ApiRef {
        ApiRef::Existing { id: id.into() }
    }

    fn new() -> ApiRef {
        ApiRef::New {
            audience: AUD.into(),
        }
    }

    fn create_scope(api: ApiRef, key: &str) -> Change {
        Change::CreateScope {
            api,
            audience: AUD.into(),
            key: key.into(),
        }
    }

    fn authorize(api: ApiRef, app: &str) -> Change {
        Change::Authorize {
            api,
            audience: AUD.into(),
            app: app.into(),
        }
    }

    fn grant(api: ApiRef, key: &str) -> Change {
        Change::GrantScope {
            api,
            audience: AUD.into(),
            app: M2M.into(),
            key: key.into(),
        }
    }

    struct Case {
        name: &'static str,
        desired: Desired,
        current: Current,
        changes: Vec<Change>,
        conflicts: Vec<Conflict>,
    }

    fn cases() -> Vec<Case> {
        let id = "id of https://api.acme.example";
        let mut extra_url = registered();
        extra_url
            .logout_urls
            .get_or_insert_default()
            .push("http://localhost:3000".into());
        let mut pruned = desired();
        pruned.prune = true;
        let mut missing_scope = registered();
        api(&mut missing_scope, AUD)
            .scopes
            .retain(|k| k != "write:orders");
        let mut not_authorised = registered();
        api(&mut not_authorised, AUD).authorised.clear();
        let mut lacks_grants = registered();
        api(&mut lacks_grants, AUD).management_lacks_grants = true;
        let mut other_app = registered();
        api(&mut other_app, AUD).authorised.push("other".into());
        let mut moved = fresh();
        moved.apis.push(TenantApi {
            id: "old".into(),
            name: "Acme API".into(),
            audience: "https://old.acme.example".into(),
            ..TenantApi::default()
        });
        let mut unknown = desired();
        unknown.apis[0].authorize.push("ghost".into());
        vec![
            Case {
                name: "a fresh tenant gets everything, M2M apps every scope",
                desired: desired(),
                current: fresh(),
                changes: vec![
                    Change::AddUrls {
                        kind: UrlKind::Callback,
                        app: WEB.into(),
                        urls: strings(&["https://app.acme.example/callback"]),
                    },
                    Change::AddUrls {
                        kind: UrlKind::Logout,
                        app: WEB.into(),
                        urls: strings(&["https://app.acme.example"]),
                    },
                    Change::CreateApi {
                        name: "Acme API".into(),
                        audience: AUD.into(),
                    },
                    create_scope(new(), "read:orders"),
                    create_scope(new(), "write:orders"),
                    authorize(new(), WEB),
                    authorize(new(), M2M),
                    grant(new(), "read:orders"),
                    grant(new(), "write:orders"),
                ],
                conflicts: vec![],
            },
            Case {
                name: "a registered tenant needs nothing",
                desired: desired(),
                current: registered(),
                changes: vec![],
                conflicts: vec![],
            },
            Case {
                name: "a URL not in the file is left alone",
                desired: desired(),
                current: extra_url.clone(),
                changes: vec![],
                conflicts: vec![],
            },
            Case {
                name: "--prune removes it",
                desired: pruned.clone(),
                current: extra_url,
                changes: vec![Change::RemoveUrls {
                    kind: UrlKind::Logout,
                    app: WEB.into(),
                    urls: strings(&["http://localhost:3000"]),
                }],
                conflicts: vec![],
            },
            Case {
                name: "a new scope is created and granted to the authorised M2M app",
                desired: desired(),
                current: missing_scope,
                changes: vec![
                    create_scope(existing(id), "write:orders"),
                    grant(existing(id), "write:orders"),
                ],
                conflicts: vec![],
            },
            Case {
                name: "a management app refused its declared scopes is granted them all again",
                desired: desired(),
                current: lacks_grants,
                changes: vec![
                    grant(existing(id), "read:orders"),
                    grant(existing(id), "write:orders"),
                ],
                conflicts: vec![],
            },
            Case {
                name: "authorise and grant take one path for an existing API",
                desired: desired(),
                current: not_authorised,
                changes: vec![
                    authorize(existing(id), WEB),
                    authorize(existing(id), M2M),
                    grant(existing(id), "read:orders"),
                    grant(existing(id), "write:orders"),
                ],
                conflicts: vec![],
            },
            Case {
                name: "an app the file does not authorise is left alone",
                desired: desired(),
                current: other_app.clone(),
                changes: vec![],
                conflicts: vec![],
            },
            Case {
                name: "--prune de-authorises it",
                desired: pruned,
                current: other_app,
                changes: vec![Change::Deauthorize {
                    api: id.into(),
                    audience: AUD.into(),
                    app: "other".into(),
                }],
                conflicts: vec![],
            },
            Case {
                name: "a changed audience is a conflict, not a new API",
                desired: Desired {
                    app: None,
                    callback_urls: vec![],
                    logout_urls: vec![],
                    ..desired()
                },
                current: moved,
                changes: vec![],
                conflicts: vec![Conflict::AudienceChanged {
                    api: "Acme API".into(),
                    before: "https://old.acme.example".into(),
                    after: AUD.into(),
                }],
            },
            Case {
                name: "authorising an app the tenant lacks is a conflict",
                desired: unknown,
                current: registered(),
                changes: vec![authorize(existing(id), "ghost")],
                conflicts: vec![Conflict::UnknownApplication {
                    api: "Acme API".into(),
                    app: "ghost".into(),
                }],
            },
        ]
    }

    #[test]
    fn plans_the_expected_typed_changes() {
        for case in cases() {
            let plan = plan(&case.desired, &case.current);
            assert_eq!(plan.changes, case.changes, "{}", case.name);
            assert_eq!(plan.conflicts, case.conflicts, "{}", case.name);
        }
    }

    #[test]
    fn applying_a_plan_leaves_nothing_to_do() {
        for case in cases().into_iter().filter(|c| c.conflicts.is_empty()) {
            let mut current = case.current.clone();
            for change in &plan(&case.desired, &current).changes {
                apply_to(&mut current, change);
            }
            let again = plan(&case.desired, &current);
            assert_eq!(again.changes, [], "{}: second plan", case.name);
        }
    }

    #[test]
    fn matching_and_unmanaged_items_are_data() {
        let mut current = registered();
        current
            .logout_urls
            .get_or_insert_default()
            .push("http://localhost:3000".into());
        current.apis.push(TenantApi {
            id: "billing".into(),
            name: "Billing".into(),
            audience: "https://billing.example".into(),
            ..TenantApi::default()
        });
        api(&mut current, AUD).name = "Old name".into();
        let plan = plan(&desired(), &current);
        assert!(plan.matching.contains(&Resource::Scope {
            audience: AUD.into(),
            key: "read:orders".into()
        }));
        assert!(plan.matching.contains(&Resource::Authorization {
            audience: AUD.into(),
            app: M2M.into()
        }));
        assert_eq!(
            plan.unmanaged,
            [
                Resource::Url {
                    kind: UrlKind::Logout,
                    app: WEB.into(),
                    url: "http://localhost:3000".into()
                },
                Resource::Api {
                    name: "Billing".into(),
                    audience: "https://billing.example".into()
                }
            ]
        );
        assert_eq!(
            plan.notes,
            [
                Note::ApiRenamed {
                    audience: AUD.into(),
                    before: "Old name".into(),
                    after: "Acme API".into()
                },
                Note::GrantsNotRead
            ]
        );
        assert_eq!(
            serde_json::to_value(&plan.unmanaged[0]).unwrap(),
            json!({"resource": "url", "kind": "logout", "app": WEB, "url": "http://localhost:3000"})
        );
        assert_eq!(
            serde_json::to_value(&plan.notes[0]).unwrap(),
            json!({"kind": "api_renamed", "audience": AUD, "before": "Old name", "after": "Acme API"})
        );
    }

    #[test]
    fn changes_serialise_with_their_action_and_data() {
        let change = grant(new(), "read:orders");
        assert_eq!(
            serde_json::to_value(&change).unwrap(),
            json!({"action": "grant_scope", "api": {"audience": AUD}, "audience": AUD, "app": M2M, "key": "read:orders"})
        );
        assert_eq!(
            change.to_string(),
            format!("grant `read:orders` on {AUD} to {M2M}")
        );
        let existing = ApiRef::Existing { id: "api_1".into() };
        assert_eq!(
            serde_json::to_value(&existing).unwrap(),
            json!({"id": "api_1"}),
            "an API in a change is always an object"
        );
        assert!(!change.is_removal());
        let removal = Change::Deauthorize {
            api: "api_1".into(),
            audience: AUD.into(),
            app: M2M.into(),
        };
        assert!(removal.is_removal());
        let conflict = Conflict::AudienceChanged {
            api: "Acme API".into(),
            before: "a".into(),
            after: "b".into(),
        };
        assert_eq!(
            serde_json::to_value(&conflict).unwrap(),
            json!({"kind": "audience_changed", "api": "Acme API", "before": "a", "after": "b"})
        );
    }

    #[test]
    fn the_file_resolves_app_names_and_needs_an_app_for_urls() {
        use crate::config::{self, Setting, Source};
        let mut config = Config::empty(".".into());
        config.logout_urls = vec![Setting::new(
            "https://app.acme.example".into(),
            Source::Default,
        )];
        let err = Desired::from_config(&config, false).unwrap_err();
        assert!(err.to_string().contains("no app client id"), "{err}");
        config.app_client_id = Some(Setting::new(WEB.into(), Source::Default));
        config.management_client_id = Some(Setting::new(M2M.into(), Source::Default));
        config.apis = vec![config::Api {
            name: "Acme API".into(),
            audience: AUD.into(),
            scopes: strings(&["read:orders"]),
            authorize: strings(&["app", "management", "other"]),
        }];
        let desired = Desired::from_config(&config, true).unwrap();
        assert_eq!(desired.apis[0].authorize, [WEB, M2M, "other"]);
        assert!(desired.prune);
        // Repeats (and `app` next to its own client id) are asked for once: the tenant refuses a
        // second create of the same scope, so a repeat would stop every run half-way.
        config.apis[0].scopes = strings(&["read:orders", "write:orders", "read:orders"]);
        config.apis[0].authorize = strings(&["app", WEB, "management", "management"]);
        let desired = Desired::from_config(&config, false).unwrap();
        assert_eq!(desired.apis[0].scopes, ["read:orders", "write:orders"]);
        assert_eq!(desired.apis[0].authorize, [WEB, M2M]);
        config.management_client_id = None;
        let err = Desired::from_config(&config, false).unwrap_err();
        assert!(err.to_string().contains("`management`"), "{err}");
    }

    #[test]
    fn urls_are_not_planned_when_they_were_not_read() {
        let desired = Desired {
            app: Some(WEB.into()),
            ..Desired::default()
        };
        assert_eq!(plan(&desired, &Current::default()), Plan::default());
    }
}
