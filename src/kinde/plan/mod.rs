//! The tenant reconciler's plan: what `kinde.toml` asks for ([`Desired`]), what the tenant has
//! ([`Current`]), and the typed [`Change`]s that make the one match the other ([`plan`]).
//!
//! Planning is a pure function of the two states so it can be tested without a server; reading
//! the tenant ([`Current::read`]) and applying ([`super::apply`]) are the only parts that talk to
//! the Management API.

pub mod roles;

pub mod apps;

use std::collections::BTreeMap;
use std::fmt;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::{Value, json};

use super::client::Client;
use super::resources::UrlKind;
use crate::config::Config;
use crate::config::app::AppKind;
use crate::config::file::{FlagKind, OverrideLevel};
use crate::error::Error;

pub mod flags;
pub mod orgs;

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
    /// Whether kinde.toml holds the whole callback URL list (it has `callback_urls`): only then
    /// is a URL it does not list shown, and pruned with `--prune`. Without it, the `[login]`
    /// loopback callback is added and nothing else touched; a list the file does not mention at
    /// all is never read.
    pub manage_callback_urls: bool,
    /// Whether kinde.toml holds the whole logout URL list (it has `logout_urls`).
    pub manage_logout_urls: bool,
    /// `[[permissions]]` and `[[roles]]` (issue 13).
    pub roles: roles::DesiredRoles,
    /// `[[feature_flags]]` (`None`: flags are not managed, not even pruned).
    pub flags: Option<Vec<crate::config::flags::FeatureFlag>>,
    /// `[[organizations]]` (`None`: organizations are not managed).
    pub organizations: Option<Vec<crate::config::flags::Organization>>,
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
            manage_callback_urls: config.callback_urls_declared,
            manage_logout_urls: config.logout_urls_declared,
            callback_urls,
            logout_urls,
            apis,
            prune,
            roles: roles::DesiredRoles::from_config(config),
            flags: config.feature_flags.clone(),
            organizations: config.organizations.clone(),
            app_spec,
        })
    }

    fn manages_urls(&self) -> bool {
        self.manages(UrlKind::Callback) || self.manages(UrlKind::Logout)
    }

    /// Whether `kind`'s list is read and planned (URLs added); see [`Desired::holds_whole`] for
    /// what is pruned.
    fn manages(&self, kind: UrlKind) -> bool {
        match kind {
            UrlKind::Callback => self.manage_callback_urls || !self.callback_urls.is_empty(),
            UrlKind::Logout => self.manage_logout_urls || !self.logout_urls.is_empty(),
        }
    }

    /// Whether kinde.toml lists `kind`'s URLs whole, so one it does not list is drift and
    /// `--prune` removes it.
    pub fn holds_whole(&self, kind: UrlKind) -> bool {
        match kind {
            UrlKind::Callback => self.manage_callback_urls,
            UrlKind::Logout => self.manage_logout_urls,
        }
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
    /// Every application's name by client id, when the applications were listed (for showing
    /// ids as names; `None`: not listed).
    pub application_names: Option<BTreeMap<String, String>>,
    /// The client id of the management app, whose grants [`TenantApi::management_lacks_grants`]
    /// proves with a token request.
    pub management_app: Option<String>,
    /// Roles and permissions (`None`: not read, because `kinde.toml` declares neither).
    pub roles: Option<roles::TenantRoles>,
    /// The environment's feature flags by key (`None`: not read, nothing declares flags or
    /// organizations).
    pub flags: Option<BTreeMap<String, super::resources::flags::FlagValue>>,
    /// Every organization, with the flag values of those `kinde.toml` declares (`None`: not read).
    pub organizations: Option<Vec<orgs::TenantOrg>>,
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

/// How many independent reads of one family run at once (one API's scopes and applications,
/// say): enough to hide latency, few enough to stay inside Kinde's rate limits, which the client
/// honours on a 429 anyway.
pub const READS_AT_ONCE: usize = 8;

impl Current {
    /// Read what `desired` covers, and nothing more. Families are read at once, being
    /// independent: a plan takes as long as its slowest family, not their sum. A new family's
    /// read is one more branch of the `try_join!`.
    pub async fn read(client: &Client, desired: &Desired) -> Result<Self, Error> {
        // The app an `[app] name` creates or adopts is found first: its URLs are read from it.
        let mut current = Current::default();
        apps::read(client, desired, &mut current).await?;
        let target = apps::target(desired, &current);
        let (
            (callback_urls, logout_urls),
            (apis, applications, names),
            roles,
            (flags, organizations),
        ) = tokio::try_join!(
            read_urls(client, desired, target.as_deref()),
            read_apis(client, desired),
            roles::read(client, &desired.roles),
            orgs::read(client, desired),
        )?;
        current.callback_urls = callback_urls;
        current.logout_urls = logout_urls;
        current.apis = apis;
        current.applications = applications;
        current.application_names = names;
        current.management_app = Some(client.client_id().to_string());
        current.roles = roles;
        current.flags = flags;
        current.organizations = organizations;
        Ok(current)
    }

    fn urls(&self, kind: UrlKind) -> Option<&Vec<String>> {
        match kind {
            UrlKind::Callback => self.callback_urls.as_ref(),
            UrlKind::Logout => self.logout_urls.as_ref(),
        }
    }
}

type UrlLists = (Option<Vec<String>>, Option<Vec<String>>);

/// The app's callback and logout URLs, when `desired` manages them.
async fn read_urls(
    client: &Client,
    desired: &Desired,
    target: Option<&str>,
) -> Result<UrlLists, Error> {
    match (target, desired.manages_urls()) {
        // An app this run creates has no URLs yet.
        (Some(apps::NEW_APP), true) => Ok((Some(Vec::new()), Some(Vec::new()))),
        (Some(app), true) => {
            let (callback, logout) = tokio::try_join!(
                client.urls(UrlKind::Callback, app),
                client.urls(UrlKind::Logout, app)
            )?;
            Ok((Some(callback), Some(logout)))
        }
        _ => Ok((None, None)),
    }
}

type TenantApis = (
    Vec<TenantApi>,
    BTreeMap<String, String>,
    Option<BTreeMap<String, String>>,
);

/// Every API (the declared ones with their scopes and authorisations) and every application's
/// type and name, when `desired` lists APIs.
async fn read_apis(client: &Client, desired: &Desired) -> Result<TenantApis, Error> {
    if desired.apis.is_empty() {
        return Ok(Default::default());
    }
    let (apis, listed) = tokio::try_join!(client.apis(), client.applications())?;
    let names = listed
        .iter()
        .map(|a| (a.id.clone(), a.name.clone()))
        .collect();
    let applications = listed.into_iter().map(|a| (a.id, a.kind)).collect();
    // In the tenant's order, as before the reads ran at once.
    let apis = stream::iter(apis.into_iter().map(|api| read_api(client, desired, api)))
        .buffered(READS_AT_ONCE)
        .try_collect()
        .await?;
    Ok((apis, applications, Some(names)))
}

/// One API of the tenant; its scopes and authorisations only when `kinde.toml` declares it.
async fn read_api(
    client: &Client,
    desired: &Desired,
    api: super::resources::Api,
) -> Result<TenantApi, Error> {
    let mut tenant = TenantApi {
        id: api.id,
        name: api.name,
        audience: api.audience,
        is_management_api: api.is_management_api,
        ..TenantApi::default()
    };
    if !desired.apis.iter().any(|d| d.audience == tenant.audience) {
        return Ok(tenant);
    }
    let (scopes, authorised) = tokio::try_join!(
        client.api_scopes(&tenant.id),
        client.api_applications(&tenant.id)
    )?;
    tenant.scopes = scopes.into_iter().map(|s| s.key).collect();
    tenant.authorised = authorised
        .into_iter()
        .filter(|a| a.is_active != Some(false))
        .map(|a| a.id)
        .collect();
    // Grants cannot be read back, but the management app's can be proven: ask for a token with
    // every declared scope that exists. Refused means a grant is missing.
    let declared: Vec<String> = desired
        .apis
        .iter()
        .filter(|d| d.audience == tenant.audience)
        .flat_map(|d| d.scopes.iter())
        .filter(|k| tenant.scopes.contains(k))
        .cloned()
        .collect();
    if !declared.is_empty() && tenant.authorised.iter().any(|a| a == client.client_id()) {
        tenant.management_lacks_grants = !client.holds_scopes(&tenant.audience, &declared).await?;
    }
    Ok(tenant)
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
    /// Create a permission.
    CreatePermission {
        /// Key.
        key: String,
        /// Name.
        name: String,
        /// Description.
        description: Option<String>,
    },
    /// Change a permission's name or description.
    UpdatePermission {
        /// Id.
        id: String,
        /// Key.
        key: String,
        /// The name to set.
        name: String,
        /// The description to set (`None`: left as it is).
        description: Option<String>,
        /// What changes.
        fields: Vec<roles::FieldChange>,
    },
    /// Delete a permission `kinde.toml` does not declare (`--prune`).
    DeletePermission {
        /// Id.
        id: String,
        /// Key.
        key: String,
        /// Name.
        name: String,
    },
    /// Create a role.
    CreateRole {
        /// Key.
        key: String,
        /// Name.
        name: String,
        /// Description.
        description: Option<String>,
        /// Whether it is the default role for new organization members.
        is_default: bool,
    },
    /// Change a role's name, description or default flag.
    UpdateRole {
        /// Id.
        id: String,
        /// Key.
        key: String,
        /// The name to set.
        name: String,
        /// The description to set (`None`: left as it is).
        description: Option<String>,
        /// The default flag to set.
        is_default: bool,
        /// What changes.
        fields: Vec<roles::FieldChange>,
    },
    /// Delete a role `kinde.toml` does not declare (`--prune`).
    DeleteRole {
        /// Id.
        id: String,
        /// Key.
        key: String,
        /// Name.
        name: String,
    },
    /// Add permissions to a role.
    AddRolePermissions {
        /// The role.
        role: roles::RoleRef,
        /// Its key.
        key: String,
        /// Permission keys.
        permissions: Vec<String>,
    },
    /// Take permissions `kinde.toml` does not list from a declared role.
    RemoveRolePermissions {
        /// The role's id.
        role: String,
        /// Its key.
        key: String,
        /// Permission keys.
        permissions: Vec<String>,
        /// Their ids, in the same order.
        ids: Vec<String>,
    },
    /// Create a feature flag.
    CreateFlag {
        /// Key.
        key: String,
        /// Name.
        name: String,
        /// Description.
        description: String,
        /// Type.
        kind: FlagKind,
        /// Most specific level allowed to override it.
        override_level: OverrideLevel,
        /// Default value as Kinde writes it.
        default: String,
    },
    /// Set a flag's value in this environment to `kinde.toml`'s `default` (its value there
    /// differs): an environment override, which leaves the flag's name, description and override
    /// level as they are and is what Kinde reads back, so a rerun sees it and writes nothing.
    UpdateFlag {
        /// Key.
        key: String,
        /// Type (unchanged).
        kind: FlagKind,
        /// The value in the environment now.
        before: String,
        /// The default `kinde.toml` asks for.
        after: String,
    },
    /// Delete a flag and all its overrides (`--prune`).
    DeleteFlag {
        /// Key.
        key: String,
    },
    /// Create an organization.
    CreateOrganization {
        /// Name.
        name: String,
        /// External id.
        external_id: String,
    },
    /// Rename an organization.
    RenameOrganization {
        /// Code.
        code: String,
        /// External id.
        external_id: String,
        /// Name in the tenant.
        before: String,
        /// Name in `kinde.toml`.
        after: String,
    },
    /// Set an organization's override of a flag.
    SetOrganizationFlag {
        /// The organization.
        organization: orgs::OrgRef,
        /// Its name.
        name: String,
        /// External id.
        external_id: String,
        /// Flag key.
        key: String,
        /// The value.
        value: String,
    },
    /// Remove an organization's override of a flag (`--prune`).
    DeleteOrganizationFlag {
        /// Code.
        code: String,
        /// Its name.
        name: String,
        /// External id.
        external_id: String,
        /// Flag key.
        key: String,
        /// The override's value.
        value: String,
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
        self.view().kind == ChangeKind::Remove
    }

    /// The resource family the change belongs to, which groups it in a plan.
    pub fn group(&self) -> Group {
        self.view().resource
    }

    /// The change as `--json` shows it to tools: what kind of change, to which resource, and
    /// the state before and after. One arm per variant: a new variant says here its family,
    /// its kind, and what it looks like before and after.
    pub fn view(&self) -> ChangeView {
        let text = self.to_string();
        let (kind, resource, name, id, before, after) = match self {
            Change::AddUrls { kind, app, urls } => (
                ChangeKind::Add,
                Group::AppUrls,
                format!("{}s", kind.label()),
                Some(app.clone()),
                Value::Null,
                json!(urls),
            ),
            Change::RemoveUrls { kind, app, urls } => (
                ChangeKind::Remove,
                Group::AppUrls,
                format!("{}s", kind.label()),
                Some(app.clone()),
                json!(urls),
                Value::Null,
            ),
            Change::CreateApi { name, audience } => (
                ChangeKind::Add,
                Group::Apis,
                name.clone(),
                Some(audience.clone()),
                Value::Null,
                json!({"name": name, "audience": audience}),
            ),
            Change::CreateScope { audience, key, .. } => (
                ChangeKind::Add,
                Group::Apis,
                key.clone(),
                None,
                Value::Null,
                json!({"api": audience, "scope": key}),
            ),
            Change::Authorize { audience, app, .. } => (
                ChangeKind::Add,
                Group::Apis,
                app.clone(),
                Some(app.clone()),
                Value::Null,
                json!({"api": audience, "authorised": app}),
            ),
            Change::Deauthorize { audience, app, .. } => (
                ChangeKind::Remove,
                Group::Apis,
                app.clone(),
                Some(app.clone()),
                json!({"api": audience, "authorised": app}),
                Value::Null,
            ),
            Change::GrantScope {
                audience, app, key, ..
            } => (
                ChangeKind::Add,
                Group::Apis,
                key.clone(),
                Some(app.clone()),
                Value::Null,
                json!({"api": audience, "application": app, "granted": key}),
            ),
            Change::CreateApplication { name, app_type } => (
                ChangeKind::Add,
                Group::Applications,
                name.clone(),
                None,
                Value::Null,
                json!({"name": name, "type": app_type}),
            ),
            Change::AdoptApplication { id, name, app_type } => (
                ChangeKind::Change,
                Group::Applications,
                name.clone(),
                Some(id.clone()),
                Value::Null,
                json!({"name": name, "type": app_type, "client_id": id}),
            ),
            Change::CreatePermission {
                key,
                name,
                description,
            } => (
                ChangeKind::Add,
                Group::Permissions,
                key.clone(),
                None,
                Value::Null,
                json!({"key": key, "name": name, "description": description}),
            ),
            Change::UpdatePermission {
                id, key, fields, ..
            } => (
                ChangeKind::Change,
                Group::Permissions,
                key.clone(),
                Some(id.clone()),
                field_values(fields, |f| &f.before),
                field_values(fields, |f| &f.after),
            ),
            Change::DeletePermission { id, key, name } => (
                ChangeKind::Remove,
                Group::Permissions,
                key.clone(),
                Some(id.clone()),
                json!({"key": key, "name": name}),
                Value::Null,
            ),
            Change::CreateRole {
                key,
                name,
                description,
                is_default,
            } => (
                ChangeKind::Add,
                Group::Roles,
                key.clone(),
                None,
                Value::Null,
                json!({"key": key, "name": name, "description": description, "default": is_default}),
            ),
            Change::UpdateRole {
                id, key, fields, ..
            } => (
                ChangeKind::Change,
                Group::Roles,
                key.clone(),
                Some(id.clone()),
                field_values(fields, |f| &f.before),
                field_values(fields, |f| &f.after),
            ),
            Change::DeleteRole { id, key, name } => (
                ChangeKind::Remove,
                Group::Roles,
                key.clone(),
                Some(id.clone()),
                json!({"key": key, "name": name}),
                Value::Null,
            ),
            Change::AddRolePermissions {
                role,
                key,
                permissions,
            } => (
                ChangeKind::Add,
                Group::Roles,
                key.clone(),
                match role {
                    roles::RoleRef::Existing { id } => Some(id.clone()),
                    roles::RoleRef::New { .. } => None,
                },
                Value::Null,
                json!({"role": key, "permissions": permissions}),
            ),
            Change::RemoveRolePermissions {
                role,
                key,
                permissions,
                ..
            } => (
                ChangeKind::Remove,
                Group::Roles,
                key.clone(),
                Some(role.clone()),
                json!({"role": key, "permissions": permissions}),
                Value::Null,
            ),
            Change::CreateFlag {
                key,
                name,
                description,
                kind,
                override_level,
                default,
            } => (
                ChangeKind::Add,
                Group::FeatureFlags,
                key.clone(),
                None,
                Value::Null,
                json!({"key": key, "name": name, "description": description, "type": kind, "override_level": override_level, "default": default}),
            ),
            Change::UpdateFlag {
                key, before, after, ..
            } => (
                ChangeKind::Change,
                Group::FeatureFlags,
                key.clone(),
                None,
                json!({"default": before}),
                json!({"default": after}),
            ),
            Change::DeleteFlag { key } => (
                ChangeKind::Remove,
                Group::FeatureFlags,
                key.clone(),
                None,
                json!({"key": key}),
                Value::Null,
            ),
            Change::CreateOrganization { name, external_id } => (
                ChangeKind::Add,
                Group::Organizations,
                name.clone(),
                None,
                Value::Null,
                json!({"name": name, "external_id": external_id}),
            ),
            Change::RenameOrganization {
                code,
                before,
                after,
                ..
            } => (
                ChangeKind::Change,
                Group::Organizations,
                after.clone(),
                Some(code.clone()),
                json!({"name": before}),
                json!({"name": after}),
            ),
            Change::SetOrganizationFlag {
                organization,
                name,
                key,
                value,
                ..
            } => (
                // An organization this run creates gets its overrides along with it.
                match organization {
                    orgs::OrgRef::New { .. } => ChangeKind::Add,
                    orgs::OrgRef::Existing { .. } => ChangeKind::Change,
                },
                Group::Organizations,
                name.clone(),
                match organization {
                    orgs::OrgRef::Existing { code } => Some(code.clone()),
                    _ => None,
                },
                Value::Null,
                json!({"feature_flags": {key: value}}),
            ),
            Change::DeleteOrganizationFlag {
                code,
                name,
                key,
                value,
                ..
            } => (
                ChangeKind::Remove,
                Group::Organizations,
                name.clone(),
                Some(code.clone()),
                json!({"feature_flags": {key: value}}),
                Value::Null,
            ),
        };
        ChangeView {
            kind,
            resource,
            name,
            id,
            before,
            after,
            text,
        }
    }
}

/// `fields` as one JSON object of each field's `pick`ed value.
fn field_values(
    fields: &[roles::FieldChange],
    pick: impl Fn(&roles::FieldChange) -> &String,
) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|f| (f.field.clone(), Value::String(pick(f).clone())))
            .collect(),
    )
}

/// A resource family: a plan shows its items grouped by these, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// Applications themselves (created from `[app]`): first, as they are applied first.
    Applications,
    /// The app's callback and logout URLs.
    AppUrls,
    /// APIs, their scopes, authorised applications and grants.
    Apis,
    /// Permissions.
    Permissions,
    /// Roles and their permissions.
    Roles,
    /// Feature flags.
    FeatureFlags,
    /// Organizations and their flag overrides.
    Organizations,
}

impl Group {
    /// Its name in JSON and JUnit (`app_urls`, `apis`, ...).
    pub fn key(self) -> &'static str {
        match self {
            Group::AppUrls => "app_urls",
            Group::Apis => "apis",
            Group::Permissions => "permissions",
            Group::Roles => "roles",
            Group::FeatureFlags => "feature_flags",
            Group::Organizations => "organizations",
            Group::Applications => "applications",
        }
    }

    /// The heading of the group in a plan.
    pub fn title(self) -> &'static str {
        match self {
            Group::AppUrls => "App URLs",
            Group::Apis => "APIs",
            Group::Permissions => "Permissions",
            Group::Roles => "Roles",
            Group::FeatureFlags => "Feature flags",
            Group::Organizations => "Organizations",
            Group::Applications => "Applications",
        }
    }
}

/// Whether a change adds, changes or removes something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Something new in the tenant.
    Add,
    /// Something in the tenant changed in place.
    Change,
    /// Something taken away from the tenant.
    Remove,
}

/// One [`Change`] as tools read it: `{kind, resource, name, id, before, after, text}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeView {
    /// Add, change or remove.
    pub kind: ChangeKind,
    /// The resource family.
    pub resource: Group,
    /// What is changed, by the name a person knows it by (a key, a name, a URL list).
    pub name: String,
    /// Its identity in the tenant where there is one (a client id, an audience).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its state before (`null` when added).
    pub before: Value,
    /// Its state after (`null` when removed).
    pub after: Value,
    /// The change as one line of the human plan.
    pub text: String,
}

/// How many changes of each kind a plan has: "Plan: 3 to add, 1 to change, 0 to remove".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Changes that add.
    pub add: usize,
    /// Changes in place.
    pub change: usize,
    /// Changes that remove.
    pub remove: usize,
    /// Items that already match.
    pub matching: usize,
    /// Items the tenant has and `kinde.toml` does not list.
    pub unmanaged: usize,
    /// Conflicts.
    pub conflicts: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Plan: {} to add, {} to change, {} to remove ({} matching, {} not in kinde.toml, {} conflicts)",
            self.add, self.change, self.remove, self.matching, self.unmanaged, self.conflicts
        )
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
            Change::CreatePermission { key, name, .. } => {
                write!(f, "create permission `{key}` ({name})")
            }
            Change::UpdatePermission {
                key, id, fields, ..
            } => write!(
                f,
                "update permission `{key}` ({id}): {}",
                roles::FieldChange::list(fields)
            ),
            Change::DeletePermission { key, name, id } => {
                write!(f, "delete permission `{key}` ({name}, {id})")
            }
            Change::CreateRole {
                key,
                name,
                is_default,
                ..
            } => {
                write!(f, "create role `{key}` ({name})")?;
                if *is_default {
                    f.write_str(", the default role for new members")?;
                }
                Ok(())
            }
            Change::UpdateRole {
                key, id, fields, ..
            } => write!(
                f,
                "update role `{key}` ({id}): {}",
                roles::FieldChange::list(fields)
            ),
            Change::DeleteRole { key, name, id } => {
                write!(f, "delete role `{key}` ({name}, {id})")
            }
            Change::AddRolePermissions {
                key, permissions, ..
            } => write!(f, "add {} to role `{key}`", roles::keys(permissions)),
            Change::RemoveRolePermissions {
                key, permissions, ..
            } => write!(f, "remove {} from role `{key}`", roles::keys(permissions)),
            Change::CreateFlag {
                key,
                name,
                kind,
                override_level,
                default,
                ..
            } => write!(
                f,
                "create feature flag `{key}` ({name}): {}, default `{default}`, overridable down to {}",
                FlagKind::name_of(kind.code()),
                level_name(*override_level)
            ),
            Change::UpdateFlag {
                key, before, after, ..
            } => write!(
                f,
                "set feature flag `{key}` to `{after}` in this environment (`{before}` now)"
            ),
            Change::DeleteFlag { key } => {
                write!(f, "delete feature flag `{key}` and all its overrides")
            }
            Change::CreateOrganization { name, external_id } => {
                write!(
                    f,
                    "create organization `{name}` (external id `{external_id}`)"
                )
            }
            Change::RenameOrganization {
                code,
                external_id,
                before,
                after,
            } => write!(
                f,
                "rename organization `{before}` ({code}, external id `{external_id}`) to `{after}`"
            ),
            Change::SetOrganizationFlag {
                name,
                external_id,
                key,
                value,
                ..
            } => write!(
                f,
                "set feature flag `{key}` to `{value}` for organization `{name}` (external id `{external_id}`)"
            ),
            Change::DeleteOrganizationFlag {
                code,
                name,
                key,
                value,
                ..
            } => write!(
                f,
                "remove the override `{key}` = `{value}` of organization `{name}` ({code})"
            ),
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
    /// A permission.
    Permission {
        /// Key.
        key: String,
        /// Name (in the tenant).
        name: String,
    },
    /// A role.
    Role {
        /// Key.
        key: String,
        /// Name (in the tenant).
        name: String,
    },
    /// A feature flag.
    FeatureFlag {
        /// Key.
        key: String,
        /// Its type as `kinde.toml` names it (`boolean`, `string`, `integer`; Kinde's own name
        /// for a type `kinde.toml` cannot declare).
        kind: String,
    },
    /// An organization.
    Organization {
        /// Name.
        name: String,
        /// Code.
        code: String,
        /// External id.
        external_id: Option<String>,
    },
    /// An organization's value of a flag.
    OrganizationFlag {
        /// The organization's name.
        organization: String,
        /// Its external id.
        external_id: String,
        /// Flag key.
        key: String,
        /// The value.
        value: String,
    },
}

impl Resource {
    /// Whether a family's items all live in `kinde.toml` once it has the section, so one the
    /// file does not list is drift (see [`Plan::undeclared`]).
    pub fn is_declared_wholly(&self) -> bool {
        match self {
            Resource::Permission { .. } | Resource::Role { .. } => true,
            // Not a flag of a type kinde.toml cannot declare (JSON flags are dashboard-only).
            Resource::FeatureFlag { kind, .. } => {
                ["boolean", "string", "integer"].contains(&kind.as_str())
            }
            Resource::OrganizationFlag { .. } => true,
            _ => false,
        }
    }

    /// The resource family it belongs to. One arm per variant.
    pub fn group(&self) -> Group {
        match self {
            Resource::Url { .. } => Group::AppUrls,
            Resource::Api { .. } | Resource::Scope { .. } | Resource::Authorization { .. } => {
                Group::Apis
            }
            Resource::Permission { .. } => Group::Permissions,
            Resource::Role { .. } => Group::Roles,
            Resource::FeatureFlag { .. } => Group::FeatureFlags,
            Resource::Organization { .. } | Resource::OrganizationFlag { .. } => {
                Group::Organizations
            }
        }
    }
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
            Resource::Permission { key, name } => write!(f, "permission `{key}` ({name})"),
            Resource::Role { key, name } => write!(f, "role `{key}` ({name})"),
            Resource::FeatureFlag { key, kind } => write!(f, "feature flag `{key}` ({kind})"),
            Resource::Organization {
                name,
                code,
                external_id: Some(external_id),
            } => write!(
                f,
                "organization `{name}` ({code}, external id `{external_id}`)"
            ),
            Resource::Organization { name, code, .. } => {
                write!(f, "organization `{name}` ({code})")
            }
            Resource::OrganizationFlag {
                organization,
                key,
                value,
                ..
            } => write!(
                f,
                "feature flag `{key}` = `{value}` for organization `{organization}`"
            ),
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
    /// A role lists a permission neither `[[permissions]]` nor the tenant has.
    UnknownPermission {
        /// The role's key.
        role: String,
        /// The permission key.
        permission: String,
        /// Where it is written (`kinde.toml:LINE:COLUMN`).
        at: String,
    },
    /// A flag exists with another type, which Kinde cannot change.
    FlagTypeChanged {
        /// Key.
        key: String,
        /// The type in the tenant (`kinde.toml`'s name for it).
        before: String,
        /// The type in `kinde.toml`.
        after: String,
    },
    /// An organization overrides a flag neither `kinde.toml` nor the tenant has.
    UnknownFlag {
        /// The organization's external id.
        external_id: String,
        /// Flag key.
        key: String,
        /// Where the override is written (`kinde.toml:LINE:COLUMN`).
        at: String,
    },
    /// An organization overrides a flag only the tenant has with a value not of its type.
    OverrideDoesNotFit {
        /// The organization's external id.
        external_id: String,
        /// Flag key.
        key: String,
        /// What is wrong and how to fix it.
        why: String,
        /// Where the override is written (`kinde.toml:LINE:COLUMN`).
        at: String,
    },
    /// Several organizations of the tenant have the external id `kinde.toml` declares.
    DuplicateExternalId {
        /// The external id.
        external_id: String,
        /// Their codes.
        codes: Vec<String>,
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
            Conflict::UnknownPermission {
                role,
                permission,
                at,
            } => write!(
                f,
                "{at}: role `{role}` lists permission `{permission}`, which neither [[permissions]] in kinde.toml nor the tenant has; declare it under [[permissions]] or fix the key"
            ),
            Conflict::FlagTypeChanged { key, before, after } => write!(
                f,
                "feature flag `{key}` is {before} in Kinde, but kinde.toml says {after}; a flag's type cannot change in Kinde: put type = \"{before}\" back, or give the flag a new key (deleting the old flag deletes all its overrides)"
            ),
            Conflict::UnknownFlag {
                external_id,
                key,
                at,
            } => write!(
                f,
                "{at}: organization `{external_id}` overrides feature flag `{key}`, which neither kinde.toml nor the tenant has: declare it under [[feature_flags]]"
            ),
            Conflict::OverrideDoesNotFit {
                external_id,
                key,
                why,
                at,
            } => write!(
                f,
                "{at}: organization `{external_id}`'s value for feature flag `{key}` {why}"
            ),
            Conflict::DuplicateExternalId { external_id, codes } => write!(
                f,
                "organizations {} all have external id `{external_id}`, so register cannot tell which one kinde.toml means: change the external id of all but one in Kinde",
                codes.join(", ")
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
    /// `--prune` keeps a permission `[[permissions]]` omits because a declared role grants it.
    PermissionKept {
        /// Key.
        key: String,
    },
    /// `description = ""` on a role whose description Kinde cannot clear.
    RoleDescriptionKept {
        /// The role's key.
        key: String,
    },
    /// A flag's name, description and override level cannot be read back.
    FlagFieldsNotRead,
    /// A role to create has the name of a tenant role `kinde.toml` does not declare: a rename
    /// of its key, made as a new role.
    RoleLooksRenamed {
        /// The key in `kinde.toml`.
        key: String,
        /// The tenant role's key.
        old_key: String,
        /// Their name.
        name: String,
    },
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
            Note::PermissionKept { key } => write!(f, "permission `{key}` is not in [[permissions]] but a role in kinde.toml grants it, so --prune keeps it"),
            Note::RoleLooksRenamed { key, old_key, name } => write!(
                f,
                "role `{key}` is created anew, though role `{old_key}` is also named `{name}`: if the key was renamed, users holding `{old_key}` keep it and do not get `{key}` (rename the key in the Kinde admin first, or keep `{old_key}` in kinde.toml)"
            ),
            Note::RoleDescriptionKept { key } => write!(f, "role `{key}` keeps its description: Kinde's API cannot clear one"),
            Note::FlagFieldsNotRead => f.write_str("the Management API does not return a feature flag's name, description or override level: they are sent when the flag is created and not compared or changed after; `default` is compared with the flag's value in this environment and set as that value"),
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

/// How a plan names an override level.
fn level_name(level: OverrideLevel) -> &'static str {
    match level {
        OverrideLevel::Environment => "the environment",
        OverrideLevel::Organization => "organizations",
        OverrideLevel::User => "users",
    }
}

impl Plan {
    /// What the tenant has in a family `kinde.toml` declares wholly and the file does not list:
    /// roles, permissions, feature flags and organizations' flag overrides (once the file has
    /// the section). `register --check` counts them as drift even without `--prune`: a role
    /// clicked into the admin changes who may do what. URLs, authorisations, APIs, scopes and
    /// organizations the file omits are commonly someone else's, so they are drift only with
    /// `--prune`, where they become removals.
    pub fn undeclared(&self) -> impl Iterator<Item = &Resource> {
        self.unmanaged.iter().filter(|r| r.is_declared_wholly())
    }

    /// Whether applying the plan would change the tenant, or it cannot be applied: what
    /// `register --check` calls drift (with [`Plan::undeclared`]).
    pub fn differs(&self) -> bool {
        !self.changes.is_empty() || !self.conflicts.is_empty()
    }

    /// The counts for the plan's last line.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary {
            matching: self.matching.len(),
            unmanaged: self.unmanaged.len(),
            conflicts: self.conflicts.len(),
            ..Summary::default()
        };
        for change in &self.changes {
            match change.view().kind {
                ChangeKind::Add => summary.add += 1,
                ChangeKind::Change => summary.change += 1,
                ChangeKind::Remove => summary.remove += 1,
            }
        }
        summary
    }

    /// The families the plan has something to say about, in plan order.
    pub fn groups(&self) -> Vec<Group> {
        let mut groups: Vec<Group> = self
            .changes
            .iter()
            .map(Change::group)
            .chain(
                self.matching
                    .iter()
                    .chain(&self.unmanaged)
                    .map(Resource::group),
            )
            .collect();
        groups.sort();
        groups.dedup();
        groups
    }
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
            if let Some(have) = current.urls(kind).filter(|_| desired.manages(kind)) {
                let whole = desired.holds_whole(kind);
                plan_urls(&mut plan, kind, app, wanted, have, whole, desired.prune);
            }
        }
    }
    roles::plan(
        &mut plan,
        &desired.roles,
        current.roles.as_ref(),
        desired.prune,
    );
    // Flags before the organizations that override them; flags pruned last, taking their
    // overrides with them.
    flags::plan_flags(&mut plan, desired, current);
    orgs::plan_orgs(&mut plan, desired, current);
    flags::prune_flags(&mut plan, desired, current);
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
    whole: bool,
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
    // Only a list kinde.toml holds whole has extras: the `[login]` loopback callback alone
    // claims nothing about the app's other callbacks.
    if extra.is_empty() || !whole {
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
            manage_callback_urls: true,
            manage_logout_urls: true,
            apis: vec![DesiredApi {
                name: "Acme API".into(),
                audience: AUD.into(),
                scopes: strings(&["read:orders", "write:orders"]),
                authorize: strings(&[WEB, M2M]),
            }],
            prune: false,
            roles: roles::DesiredRoles::default(),
            ..Desired::default()
        }
    }

    #[test]
    fn the_login_loopback_alone_adds_its_callback_and_claims_no_other() {
        // kinde.toml without `callback_urls`, with `[login] port`: the loopback is wanted, the
        // app's own callbacks are none of the file's business, even with --prune.
        let mut want = desired();
        want.manage_callback_urls = false;
        want.callback_urls = strings(&["http://127.0.0.1:53180/callback"]);
        want.prune = true;
        let mut tenant = fresh();
        tenant.callback_urls = Some(strings(&["https://app.acme.example/auth/callback"]));
        let plan = plan(&want, &tenant);
        assert!(plan.changes.contains(&Change::AddUrls {
            kind: UrlKind::Callback,
            app: WEB.into(),
            urls: strings(&["http://127.0.0.1:53180/callback"]),
        }));
        let touches_callbacks = |c: &Change| {
            matches!(
                c,
                Change::RemoveUrls {
                    kind: UrlKind::Callback,
                    ..
                }
            )
        };
        assert!(
            !plan.changes.iter().any(touches_callbacks),
            "{:?}",
            plan.changes
        );
        assert!(
            !plan.unmanaged.iter().any(|r| matches!(
                r,
                Resource::Url {
                    kind: UrlKind::Callback,
                    ..
                }
            )),
            "{:?}",
            plan.unmanaged
        );
        // With `callback_urls` in the file the list is its whole: the other callback goes.
        want.manage_callback_urls = true;
        assert!(
            super::plan(&want, &tenant)
                .changes
                .iter()
                .any(touches_callbacks)
        );
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
            roles: None,
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
            // Roles and permissions are planned, and their changes faked, in roles.rs.
            Change::CreatePermission { .. }
            | Change::UpdatePermission { .. }
            | Change::DeletePermission { .. }
            | Change::CreateRole { .. }
            | Change::UpdateRole { .. }
            | Change::DeleteRole { .. }
            | Change::AddRolePermissions { .. }
            | Change::RemoveRolePermissions { .. } => {}
            // Flags and organizations have their own fake tenant in the `orgs` tests.
            Change::CreateFlag { .. }
            | Change::UpdateFlag { .. }
            | Change::DeleteFlag { .. }
            | Change::CreateOrganization { .. }
            | Change::RenameOrganization { .. }
            | Change::SetOrganizationFlag { .. }
            | Change::DeleteOrganizationFlag { .. } => {}
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
    fn a_plan_groups_its_changes_by_family_and_counts_them_by_kind() {
        let mut pruned = desired();
        pruned.prune = true;
        let mut current = fresh();
        current
            .logout_urls
            .get_or_insert_default()
            .push("http://localhost:3000".into());
        let plan = plan(&pruned, &current);
        assert_eq!(plan.groups(), [Group::AppUrls, Group::Apis]);
        let summary = plan.summary();
        assert_eq!((summary.add, summary.change, summary.remove), (9, 0, 1));
        assert_eq!(
            summary.to_string(),
            "Plan: 9 to add, 0 to change, 1 to remove (0 matching, 0 not in kinde.toml, 0 conflicts)"
        );
        assert!(plan.differs());
        let removal = plan.changes.iter().find(|c| c.is_removal()).unwrap();
        assert_eq!(
            serde_json::to_value(removal.view()).unwrap(),
            json!({"kind": "remove", "resource": "app_urls", "name": "logout URLs", "id": WEB,
                   "before": ["http://localhost:3000"], "after": null,
                   "text": "remove logout URL http://localhost:3000"})
        );
        let grant = grant(new(), "read:orders").view();
        assert_eq!(grant.resource, Group::Apis);
        assert_eq!(grant.kind, ChangeKind::Add);
        assert_eq!(
            grant.after,
            json!({"api": AUD, "application": M2M, "granted": "read:orders"})
        );
        assert!(!super::plan(&desired(), &registered()).differs());
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
