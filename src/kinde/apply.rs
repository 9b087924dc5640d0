//! Applying a [`Plan`](super::plan::Plan)'s changes to the tenant, in order, stopping at the
//! first failure; and [`sync`], planning and applying in one step.

use std::collections::BTreeMap;

use super::client::Client;
use super::plan::orgs::OrgRef;
use super::plan::roles::RoleRef;
use super::plan::{self, ApiRef, Change, Current, Desired};
use super::resources::flags::FlagDefinition;
use super::resources::roles::RoleFields;
use crate::config::Config;
use crate::error::Error;
use crate::secret::Secret;

/// Where applying stopped: the changes before `applied` went through, the one at `applied`
/// failed with `error`, and the rest were not tried.
#[derive(Debug)]
pub struct Stopped {
    /// How many changes were applied (also the index of the one that failed).
    pub applied: usize,
    /// Why the next change failed; it decides the exit code.
    pub error: Error,
}

/// Apply `changes` in order, calling `on_applied` after each one that went through. Changes
/// later in the list may depend on earlier ones (a scope on an API created before it).
pub async fn apply(
    client: &Client,
    changes: &[Change],
    on_applied: impl FnMut(&Change),
) -> Result<(), Stopped> {
    apply_recording(client, changes, None, on_applied)
        .await
        .map(drop)
}

/// Where a created or adopted `[app]`'s client id and secret are kept: the CLI writes them into
/// `kinde.toml` and `.env` (`config::record`); `cargo_kinde::testing` keeps them in memory.
pub trait AppRecorder: Sync {
    /// Keep `client_id` and, when Kinde returned one, the secret; the lines telling the user
    /// what was kept where.
    fn save(&self, client_id: &str, secret: Option<&Secret>) -> Result<Vec<String>, Error>;

    /// Where the app's secret belongs, for the line asking the user to copy it there when Kinde
    /// did not return it.
    fn secret_home(&self) -> String;

    /// Whether [`AppRecorder::save`] can succeed, checked before the app is created.
    fn preflight(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// The CLI's recorder: `kinde.toml` and `.env` (here, not in `config`, which `kinde` builds on).
#[cfg(feature = "cli")]
impl AppRecorder for crate::config::record::AppRecord {
    fn save(&self, client_id: &str, secret: Option<&Secret>) -> Result<Vec<String>, Error> {
        let saved = crate::config::record::AppRecord::save(self, client_id, secret)?;
        let secret = if saved.secret {
            format!(
                " and its secret to {} (KINDE_CLIENT_SECRET)",
                self.dotenv.display()
            )
        } else {
            String::new()
        };
        Ok(vec![format!(
            "wrote client_id {client_id} to {}{secret}",
            self.toml.display()
        )])
    }

    fn secret_home(&self) -> String {
        self.dotenv.display().to_string()
    }

    fn preflight(&self) -> Result<(), Error> {
        crate::config::record::AppRecord::preflight(self)
    }
}

/// [`apply`], keeping a created or adopted `[app]`'s client id and secret with `record` (a
/// plan that creates the app fails without one: its secret would be lost). Returns what was
/// kept, and what is left for the user to do, one line each.
pub async fn apply_recording(
    client: &Client,
    changes: &[Change],
    record: Option<&dyn AppRecorder>,
    mut on_applied: impl FnMut(&Change),
) -> Result<Vec<String>, Stopped> {
    let mut ids = Ids {
        record,
        ..Ids::default()
    };
    // Where the created app goes is checked before anything is written to the tenant.
    if let Some(record) = record.filter(|_| {
        changes
            .iter()
            .any(|c| matches!(c, Change::CreateApplication { .. }))
    }) && let Err(error) = record.preflight()
    {
        return Err(Stopped { applied: 0, error });
    }
    for (applied, change) in changes.iter().enumerate() {
        if let Err(error) = apply_one(client, change, &mut ids).await {
            return Err(Stopped { applied, error });
        }
        on_applied(change);
    }
    Ok(ids.notices)
}

/// Make the tenant match `config` without pruning, for a fresh tenant (`smoke --emulator`,
/// `cargo_kinde::testing`), keeping a created `[app]` with `record`. Returns the number of
/// changes applied; a conflict is an input error and changes nothing.
pub async fn sync(
    config: &Config,
    client: &Client,
    record: Option<&dyn AppRecorder>,
) -> Result<usize, Error> {
    let desired = Desired::from_config(config, false)?;
    let current = Current::read(client, &desired).await?;
    let plan = plan::plan(&desired, &current);
    if let Some(conflict) = plan.conflicts.first() {
        return Err(Error::input(format!(
            "kinde.toml conflicts with the tenant: {conflict}"
        )));
    }
    apply_recording(client, &plan.changes, record, |_| {})
        .await
        .map_err(|stopped| stopped.error)?;
    Ok(plan.changes.len())
}

/// Ids of what this run created, for the changes that refer to it.
#[derive(Default)]
struct Ids<'a> {
    /// API id by audience.
    apis: BTreeMap<String, String>,
    /// Scope id by (API id, key).
    scopes: BTreeMap<(String, String), String>,
    /// Role id by key, for roles this run created.
    roles: BTreeMap<String, String>,
    /// Permission id by key, listed when a change first needs one (Kinde's create permission
    /// answers without the id).
    permissions: Option<BTreeMap<String, String>>,
    /// Organization code by external id.
    orgs: BTreeMap<String, String>,
    /// The client id of the `[app]` created or adopted, for changes naming [`plan::apps::NEW_APP`].
    app: Option<String>,
    /// Where to keep the `[app]`'s client id and secret.
    record: Option<&'a dyn AppRecorder>,
    /// What was written and what is left to do.
    notices: Vec<String>,
}

impl Ids<'_> {
    /// `app`, or the created app's client id in place of [`plan::apps::NEW_APP`].
    fn app(&self, app: &str) -> Result<String, Error> {
        if app != plan::apps::NEW_APP {
            return Ok(app.to_string());
        }
        self.app.clone().ok_or_else(|| {
            Error::input("the [app] application was not created, so it cannot be changed")
        })
    }

    fn api(&self, api: &ApiRef) -> Result<String, Error> {
        match api {
            ApiRef::Existing { id } => Ok(id.clone()),
            ApiRef::New { audience } => self.apis.get(audience).cloned().ok_or_else(|| {
                Error::input(format!(
                    "API {audience} was not created, so it cannot be changed"
                ))
            }),
        }
    }

    fn role(&self, role: &RoleRef) -> Result<String, Error> {
        match role {
            RoleRef::Existing { id } => Ok(id.clone()),
            RoleRef::New { key } => self.roles.get(key).cloned().ok_or_else(|| {
                Error::input(format!(
                    "role `{key}` was not created, so it cannot be changed"
                ))
            }),
        }
    }

    /// The ids of permission `keys`, listing the tenant's permissions once per run, and again
    /// after this run created one.
    async fn permission_ids(
        &mut self,
        client: &Client,
        keys: &[String],
    ) -> Result<Vec<String>, Error> {
        let known = |map: &BTreeMap<String, String>| keys.iter().all(|k| map.contains_key(k));
        if !self.permissions.as_ref().is_some_and(known) {
            let listed = client.permissions().await?;
            self.permissions = Some(listed.into_iter().map(|p| (p.key, p.id)).collect());
        }
        let map = self.permissions.as_ref();
        keys.iter()
            .map(|key| {
                map.and_then(|m| m.get(key)).cloned().ok_or_else(|| {
                    Error::input(format!("permission `{key}` does not exist in the tenant"))
                        .with_hint("declare it under [[permissions]] in kinde.toml")
                })
            })
            .collect()
    }
}

async fn apply_one(client: &Client, change: &Change, ids: &mut Ids<'_>) -> Result<(), Error> {
    match change {
        Change::AddUrls { kind, app, urls } => client.add_urls(*kind, &ids.app(app)?, urls).await,
        Change::RemoveUrls { kind, app, urls } => {
            client.delete_urls(*kind, &ids.app(app)?, urls).await
        }
        Change::CreateApi { name, audience } => {
            let id = client.create_api(name, audience).await?;
            ids.apis.insert(audience.clone(), id);
            Ok(())
        }
        Change::CreateScope { api, key, .. } => {
            let id = ids.api(api)?;
            let scope = client.create_api_scope(&id, key).await?;
            ids.scopes.insert((id, key.clone()), scope);
            Ok(())
        }
        Change::Authorize { api, app, .. } => {
            client
                .authorize(&ids.api(api)?, &[(ids.app(app)?, true)])
                .await
        }
        Change::Deauthorize { api, app, .. } => {
            client.authorize(api, &[(app.clone(), false)]).await
        }
        Change::GrantScope { api, app, key, .. } => {
            let id = ids.api(api)?;
            let scope = match ids.scopes.get(&(id.clone(), key.clone())) {
                Some(scope) => scope.clone(),
                // A scope that existed before this run: look its id up.
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
        Change::CreatePermission {
            key,
            name,
            description,
        } => {
            client
                .create_permission(key, name, description.as_deref())
                .await
        }
        Change::UpdatePermission {
            id,
            name,
            description,
            ..
        } => {
            client
                .update_permission(id, name, description.as_deref())
                .await
        }
        Change::DeletePermission { id, .. } => client.delete_permission(id).await,
        Change::CreateRole {
            key,
            name,
            description,
            is_default,
        } => {
            let fields = RoleFields {
                key,
                name,
                description: description.as_deref(),
                is_default: *is_default,
            };
            let id = client.create_role(fields).await?;
            ids.roles.insert(key.clone(), id);
            Ok(())
        }
        Change::UpdateRole {
            id,
            key,
            name,
            description,
            is_default,
            ..
        } => {
            let fields = RoleFields {
                key,
                name,
                description: description.as_deref(),
                is_default: *is_default,
            };
            client.update_role(id, fields).await
        }
        Change::DeleteRole { id, .. } => client.delete_role(id).await,
        Change::AddRolePermissions {
            role, permissions, ..
        } => {
            let role = ids.role(role)?;
            let permission_ids = ids.permission_ids(client, permissions).await?;
            client
                .change_role_permissions(&role, &permission_ids, true)
                .await
        }
        Change::RemoveRolePermissions {
            role, ids: remove, ..
        } => client.change_role_permissions(role, remove, false).await,
        Change::CreateApplication { name, app_type } => {
            let record = ids.record.ok_or_else(no_record)?;
            let created = client
                .create_application(name, app_type.kinde_type())
                .await?;
            let id = created.client_id;
            ids.app = Some(id.clone());
            let notices = record
                .save(&id, created.client_secret.as_ref())
                .map_err(|e| {
                    e.context(format!("application `{name}` was created with client id {id}, but it could not be recorded"))
                        .with_hint(format!("add `client_id = \"{id}\"` under [app] in kinde.toml (a rerun of register also finds the app by name); its secret is in the Kinde admin under the app's keys"))
                })?;
            ids.notices.extend(notices);
            Ok(())
        }
        Change::AdoptApplication { id, name, app_type } => {
            let record = ids.record.ok_or_else(no_record)?;
            let secret = if app_type.has_secret() {
                client.application_secret(id).await?
            } else {
                None
            };
            let notices = record.save(id, secret.as_ref())?;
            ids.app = Some(id.clone());
            ids.notices.extend(notices);
            if app_type.has_secret() && secret.is_none() {
                ids.notices.push(format!(
                    "Kinde did not return the client secret of `{name}`: copy it from the Kinde admin (Applications > {name} > App keys) into {} as KINDE_CLIENT_SECRET",
                    record.secret_home()
                ));
            }
            Ok(())
        }
        Change::CreateFlag { .. }
        | Change::UpdateFlag { .. }
        | Change::DeleteFlag { .. }
        | Change::CreateOrganization { .. }
        | Change::RenameOrganization { .. }
        | Change::SetOrganizationFlag { .. }
        | Change::DeleteOrganizationFlag { .. } => apply_tenancy(client, change, ids).await,
    }
}

/// Feature flags and organizations.
async fn apply_tenancy(client: &Client, change: &Change, ids: &mut Ids<'_>) -> Result<(), Error> {
    match change {
        Change::CreateFlag {
            key,
            name,
            description,
            kind,
            override_level,
            default,
        } => {
            client
                .create_flag(&FlagDefinition {
                    key,
                    name,
                    description,
                    kind: kind.code(),
                    level: override_level.code(),
                    default,
                })
                .await
        }
        Change::UpdateFlag { key, after, .. } => client.set_environment_flag(key, after).await,
        Change::DeleteFlag { key } => client.delete_flag(key).await,
        Change::CreateOrganization { name, external_id } => {
            let code = client.create_organization(name, external_id).await?;
            ids.orgs.insert(external_id.clone(), code);
            Ok(())
        }
        Change::RenameOrganization { code, after, .. } => {
            client.rename_organization(code, after).await
        }
        Change::SetOrganizationFlag {
            organization,
            key,
            value,
            ..
        } => {
            let code = match organization {
                OrgRef::Existing { code } => code.clone(),
                OrgRef::New { external_id } => {
                    ids.orgs.get(external_id).cloned().ok_or_else(|| {
                        Error::input(format!(
                            "organization `{external_id}` was not created, so its flags cannot be set"
                        ))
                    })?
                }
            };
            client.set_organization_flag(&code, key, value).await
        }
        Change::DeleteOrganizationFlag { code, key, .. } => {
            client.delete_organization_flag(code, key).await
        }
        other => Err(Error::input(format!(
            "`{other}` is not a feature flag or organization change"
        ))),
    }
}

fn no_record() -> Error {
    Error::input(
        "register creates the [app] application only with a kinde.toml to write its client id into",
    )
}
