//! Planning `[[permissions]]` and `[[roles]]`: both matched by key, so a rerun finds what an
//! earlier run created. A family is managed only when `kinde.toml` has its section: a file
//! without `[[roles]]` never reads, changes or prunes roles.
//!
//! Kinde behaviours relied on (spec: `/api/v1/roles`, `/api/v1/roles/{role_id}`,
//! `/api/v1/roles/{role_id}/permissions`, `/api/v1/permissions`, `/api/v1/permissions/{id}`):
//! create permission answers without an id (so apply lists permissions to find it); update role
//! requires `name` and `key`; a role's description cannot be cleared (FACTS.md, from Kinde's
//! Terraform provider); role permissions are added and removed by one PATCH with
//! `operation: "delete"` per removal.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Serialize;

use super::{Change, Conflict, Note, Plan, Resource};
use crate::config::Config;
use crate::error::Error;
use crate::kinde::client::Client;

/// How many role-permission lists are read at once: enough to plan hundreds of roles in well
/// under a second, few enough to stay inside Kinde's (unpublished) concurrency limit; a 429 is
/// retried by the client anyway.
const CONCURRENT_READS: usize = 8;

/// A permission as `kinde.toml` declares it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredPermission {
    /// Key.
    pub key: String,
    /// Name.
    pub name: String,
    /// Description (`None`: not managed).
    pub description: Option<String>,
}

/// A role as `kinde.toml` declares it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredRole {
    /// Key.
    pub key: String,
    /// Name.
    pub name: String,
    /// Description (`None`: not managed).
    pub description: Option<String>,
    /// Permission keys: the role's whole set.
    pub permissions: Vec<String>,
    /// `is_default_role`.
    pub is_default: bool,
    /// Where each permission key is written (`kinde.toml:12:16`), for conflicts.
    pub sites: BTreeMap<String, String>,
}

/// The roles and permissions `kinde.toml` declares (`None`: the section is absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredRoles {
    /// `[[permissions]]`.
    pub permissions: Option<Vec<DesiredPermission>>,
    /// `[[roles]]`.
    pub roles: Option<Vec<DesiredRole>>,
}

impl DesiredRoles {
    /// What `config` declares.
    pub fn from_config(config: &Config) -> Self {
        DesiredRoles {
            permissions: config.permissions.as_ref().map(|list| {
                list.iter()
                    .map(|p| DesiredPermission {
                        key: p.key.clone(),
                        name: p.name.clone(),
                        description: p.description.clone(),
                    })
                    .collect()
            }),
            roles: config.roles.as_ref().map(|list| {
                list.iter()
                    .map(|r| DesiredRole {
                        key: r.key.clone(),
                        name: r.name.clone(),
                        description: r.description.clone(),
                        permissions: r.permissions.iter().map(|p| p.value.clone()).collect(),
                        is_default: r.is_default,
                        sites: r
                            .permissions
                            .iter()
                            .map(|p| (p.value.clone(), p.source.to_string()))
                            .collect(),
                    })
                    .collect()
            }),
        }
    }

    /// Whether neither section is present.
    pub fn is_empty(&self) -> bool {
        self.permissions.is_none() && self.roles.is_none()
    }

    fn declares_role(&self, key: &str) -> bool {
        self.roles
            .as_ref()
            .is_some_and(|roles| roles.iter().any(|r| r.key == key))
    }
}

/// A permission of the tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantPermission {
    /// Id.
    pub id: String,
    /// Key.
    pub key: String,
    /// Name.
    pub name: String,
    /// Description (empty when none).
    pub description: String,
}

/// A role of the tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantRole {
    /// Id.
    pub id: String,
    /// Key.
    pub key: String,
    /// Name.
    pub name: String,
    /// Description (empty when none).
    pub description: String,
    /// `is_default_role`.
    pub is_default: bool,
    /// Permission keys (read only for roles `kinde.toml` declares).
    pub permissions: Vec<String>,
}

/// The tenant's roles and permissions, as read before planning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantRoles {
    /// Every permission (read when either section is present).
    pub permissions: Vec<TenantPermission>,
    /// Every role (read only when `[[roles]]` is present).
    pub roles: Vec<TenantRole>,
}

impl TenantRoles {
    fn permission(&self, key: &str) -> Option<&TenantPermission> {
        self.permissions.iter().find(|p| p.key == key)
    }
}

/// Read what `desired` covers: the two lists at once, then the permissions of each declared
/// role that exists, several at a time.
pub async fn read(client: &Client, desired: &DesiredRoles) -> Result<Option<TenantRoles>, Error> {
    if desired.is_empty() {
        return Ok(None);
    }
    let roles = async {
        if desired.roles.is_some() {
            client.roles().await
        } else {
            Ok(Vec::new())
        }
    };
    let (permissions, roles) = tokio::try_join!(client.permissions(), roles)?;
    let declared: Vec<_> = roles
        .into_iter()
        .map(|r| {
            let read = desired.declares_role(&r.key);
            (r, read)
        })
        .collect();
    let role_permissions: Vec<Vec<String>> = stream::iter(declared.iter().map(|(role, read)| {
        let read = *read;
        async move {
            if !read {
                return Ok(Vec::new());
            }
            let list = client.role_permissions(&role.id).await?;
            Ok::<_, Error>(list.into_iter().map(|p| p.key).collect())
        }
    }))
    .buffered(CONCURRENT_READS)
    .try_collect()
    .await?;
    Ok(Some(TenantRoles {
        permissions: permissions
            .into_iter()
            .map(|p| TenantPermission {
                id: p.id,
                key: p.key,
                name: p.name,
                description: p.description.unwrap_or_default(),
            })
            .collect(),
        roles: declared
            .into_iter()
            .zip(role_permissions)
            .map(|((r, _), permissions)| TenantRole {
                id: r.id,
                key: r.key,
                name: r.name,
                description: r.description.unwrap_or_default(),
                is_default: r.is_default_role,
                permissions,
            })
            .collect(),
    }))
}

/// A role in the plan: `{"id": ...}` when it exists, `{"key": ...}` when this plan creates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum RoleRef {
    /// Already in the tenant.
    Existing {
        /// Its id.
        id: String,
    },
    /// Created by this plan.
    New {
        /// Its key.
        key: String,
    },
}

/// One field an update changes, with its value before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// `name`, `description` or `default`.
    pub field: String,
    /// The tenant's value.
    pub before: String,
    /// `kinde.toml`'s value.
    pub after: String,
}

impl FieldChange {
    fn new(field: &str, before: impl ToString, after: impl ToString) -> Self {
        FieldChange {
            field: field.into(),
            before: before.to_string(),
            after: after.to_string(),
        }
    }

    /// `name `A` → `B`, default false → true`.
    pub fn list(changes: &[FieldChange]) -> String {
        changes
            .iter()
            .map(|c| format!("{} `{}` → `{}`", c.field, c.before, c.after))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Keys as `` `a`, `b` ``.
pub fn keys(keys: &[String]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Add to `plan` what makes the tenant's roles and permissions match `desired`. In apply order:
/// permissions are created or updated, then roles, then role permissions; deletions come last.
pub fn plan(plan: &mut Plan, desired: &DesiredRoles, current: Option<&TenantRoles>, prune: bool) {
    let Some(current) = current else { return };
    let mut deletions = Vec::new();
    if let Some(permissions) = &desired.permissions {
        plan_permissions(plan, &mut deletions, desired, permissions, current, prune);
    }
    if let Some(roles) = &desired.roles {
        plan_roles(plan, &mut deletions, desired, roles, current, prune);
    }
    // Roles go before permissions: neither depends on the other, but a role deleted first no
    // longer lists the permission in the admin while the run is half done.
    deletions.sort_by_key(|c| !matches!(c, Change::DeleteRole { .. }));
    plan.changes.extend(deletions);
}

fn plan_permissions(
    plan: &mut Plan,
    deletions: &mut Vec<Change>,
    desired: &DesiredRoles,
    declared: &[DesiredPermission],
    current: &TenantRoles,
    prune: bool,
) {
    for permission in declared {
        let Some(have) = current.permission(&permission.key) else {
            plan.changes.push(Change::CreatePermission {
                key: permission.key.clone(),
                name: permission.name.clone(),
                description: permission.description.clone(),
            });
            continue;
        };
        let mut fields = Vec::new();
        if have.name != permission.name {
            fields.push(FieldChange::new("name", &have.name, &permission.name));
        }
        if let Some(description) = &permission.description
            && *description != have.description
        {
            fields.push(FieldChange::new(
                "description",
                &have.description,
                description,
            ));
        }
        if fields.is_empty() {
            plan.matching.push(Resource::Permission {
                key: have.key.clone(),
                name: have.name.clone(),
            });
        } else {
            plan.changes.push(Change::UpdatePermission {
                id: have.id.clone(),
                key: have.key.clone(),
                name: permission.name.clone(),
                description: permission.description.clone(),
                fields,
            });
        }
    }
    // A permission a declared role grants is in use even when [[permissions]] omits it.
    let granted: BTreeSet<&str> = desired
        .roles
        .iter()
        .flatten()
        .flat_map(|r| r.permissions.iter().map(String::as_str))
        .collect();
    for have in current
        .permissions
        .iter()
        .filter(|p| !declared.iter().any(|d| d.key == p.key))
    {
        if granted.contains(have.key.as_str()) {
            if prune {
                plan.notes.push(Note::PermissionKept {
                    key: have.key.clone(),
                });
            }
        } else if prune {
            deletions.push(Change::DeletePermission {
                id: have.id.clone(),
                key: have.key.clone(),
                name: have.name.clone(),
            });
        } else {
            plan.unmanaged.push(Resource::Permission {
                key: have.key.clone(),
                name: have.name.clone(),
            });
        }
    }
}

fn plan_roles(
    plan: &mut Plan,
    deletions: &mut Vec<Change>,
    desired: &DesiredRoles,
    declared: &[DesiredRole],
    current: &TenantRoles,
    prune: bool,
) {
    let mut permission_changes = Vec::new();
    for role in declared {
        for key in &role.permissions {
            let declared = desired.permissions.iter().flatten().any(|p| &p.key == key);
            if !declared && current.permission(key).is_none() {
                plan.conflicts.push(Conflict::UnknownPermission {
                    role: role.key.clone(),
                    permission: key.clone(),
                    at: role.sites.get(key).cloned().unwrap_or_default(),
                });
            }
        }
        let existing = current.roles.iter().find(|r| r.key == role.key);
        let (role_ref, have_permissions) = match existing {
            None => {
                // A new key beside an undeclared role of the same name reads as a rename, which
                // this plan would make as a new role: the users holding the old one keep it.
                if let Some(old) = current
                    .roles
                    .iter()
                    .find(|r| r.name == role.name && !declared.iter().any(|d| d.key == r.key))
                {
                    plan.notes.push(Note::RoleLooksRenamed {
                        key: role.key.clone(),
                        old_key: old.key.clone(),
                        name: role.name.clone(),
                    });
                }
                plan.changes.push(Change::CreateRole {
                    key: role.key.clone(),
                    name: role.name.clone(),
                    description: role.description.clone(),
                    is_default: role.is_default,
                });
                let new = RoleRef::New {
                    key: role.key.clone(),
                };
                (new, [].as_slice())
            }
            Some(have) => {
                plan_role_fields(plan, role, have);
                let id = RoleRef::Existing {
                    id: have.id.clone(),
                };
                (id, have.permissions.as_slice())
            }
        };
        let add: Vec<String> = role
            .permissions
            .iter()
            .filter(|k| !have_permissions.contains(k))
            .cloned()
            .collect();
        if !add.is_empty() {
            permission_changes.push(Change::AddRolePermissions {
                role: role_ref,
                key: role.key.clone(),
                permissions: add,
            });
        }
        // The role's list is its whole set: a permission added in the admin is drift.
        let (remove, ids): (Vec<String>, Vec<String>) = have_permissions
            .iter()
            .filter(|k| !role.permissions.contains(k))
            .filter_map(|k| current.permission(k).map(|p| (k.clone(), p.id.clone())))
            .unzip();
        if let (false, Some(have)) = (remove.is_empty(), existing) {
            permission_changes.push(Change::RemoveRolePermissions {
                role: have.id.clone(),
                key: role.key.clone(),
                permissions: remove,
                ids,
            });
        }
    }
    plan.changes.extend(permission_changes);
    for have in current
        .roles
        .iter()
        .filter(|r| !declared.iter().any(|d| d.key == r.key))
    {
        if prune {
            deletions.push(Change::DeleteRole {
                id: have.id.clone(),
                key: have.key.clone(),
                name: have.name.clone(),
            });
        } else {
            plan.unmanaged.push(Resource::Role {
                key: have.key.clone(),
                name: have.name.clone(),
            });
        }
    }
}

fn plan_role_fields(plan: &mut Plan, role: &DesiredRole, have: &TenantRole) {
    let mut fields = Vec::new();
    if have.name != role.name {
        fields.push(FieldChange::new("name", &have.name, &role.name));
    }
    match role.description.as_deref() {
        // Kinde cannot clear a role's description: asking every run would never converge.
        Some("") if !have.description.is_empty() => plan.notes.push(Note::RoleDescriptionKept {
            key: role.key.clone(),
        }),
        Some(description) if description != have.description => fields.push(FieldChange::new(
            "description",
            &have.description,
            description,
        )),
        _ => {}
    }
    if have.is_default != role.is_default {
        fields.push(FieldChange::new(
            "default",
            have.is_default,
            role.is_default,
        ));
    }
    if fields.is_empty() {
        plan.matching.push(Resource::Role {
            key: have.key.clone(),
            name: have.name.clone(),
        });
    } else {
        plan.changes.push(Change::UpdateRole {
            id: have.id.clone(),
            key: role.key.clone(),
            name: role.name.clone(),
            description: role.description.clone().filter(|d| !d.is_empty()),
            is_default: role.is_default,
            fields,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(ToString::to_string).collect()
    }

    fn permission(key: &str, name: &str) -> DesiredPermission {
        DesiredPermission {
            key: key.into(),
            name: name.into(),
            description: None,
        }
    }

    fn role(key: &str, permissions: &[&str]) -> DesiredRole {
        DesiredRole {
            key: key.into(),
            name: key.to_uppercase(),
            description: None,
            permissions: strings(permissions),
            is_default: false,
            sites: permissions
                .iter()
                .map(|p| (p.to_string(), format!("kinde.toml:9:{}", p.len())))
                .collect(),
        }
    }

    /// Two permissions, an admin role with both and a default viewer role with one.
    fn desired() -> DesiredRoles {
        let mut viewer = role("viewer", &["read:invoices"]);
        viewer.is_default = true;
        DesiredRoles {
            permissions: Some(vec![
                permission("read:invoices", "Read invoices"),
                permission("write:invoices", "Write invoices"),
            ]),
            roles: Some(vec![
                role("admin", &["read:invoices", "write:invoices"]),
                viewer,
            ]),
        }
    }

    /// What the Management API does with each change, on the fake tenant.
    fn apply_to(tenant: &mut TenantRoles, change: &Change) {
        let role = |tenant: &mut TenantRoles, key: &str| -> usize {
            tenant
                .roles
                .iter()
                .position(|r| r.key == key)
                .expect("the role the change refers to")
        };
        match change {
            Change::CreatePermission {
                key,
                name,
                description,
            } => tenant.permissions.push(TenantPermission {
                id: format!("p_{key}"),
                key: key.clone(),
                name: name.clone(),
                description: description.clone().unwrap_or_default(),
            }),
            Change::UpdatePermission {
                id,
                name,
                description,
                ..
            } => {
                let p = tenant.permissions.iter_mut().find(|p| &p.id == id).unwrap();
                p.name.clone_from(name);
                if let Some(d) = description {
                    p.description.clone_from(d);
                }
            }
            Change::DeletePermission { id, key, .. } => {
                tenant.permissions.retain(|p| &p.id != id);
                for r in &mut tenant.roles {
                    r.permissions.retain(|p| p != key);
                }
            }
            Change::CreateRole {
                key,
                name,
                description,
                is_default,
            } => tenant.roles.push(TenantRole {
                id: format!("r_{key}"),
                key: key.clone(),
                name: name.clone(),
                description: description.clone().unwrap_or_default(),
                is_default: *is_default,
                permissions: vec![],
            }),
            Change::UpdateRole {
                key,
                name,
                description,
                is_default,
                ..
            } => {
                let i = role(tenant, key);
                let r = &mut tenant.roles[i];
                r.name.clone_from(name);
                if let Some(d) = description {
                    r.description.clone_from(d);
                }
                r.is_default = *is_default;
            }
            Change::DeleteRole { id, .. } => tenant.roles.retain(|r| &r.id != id),
            Change::AddRolePermissions {
                key, permissions, ..
            } => {
                let i = role(tenant, key);
                tenant.roles[i]
                    .permissions
                    .extend(permissions.iter().cloned());
            }
            Change::RemoveRolePermissions {
                key, permissions, ..
            } => {
                let i = role(tenant, key);
                tenant.roles[i]
                    .permissions
                    .retain(|p| !permissions.contains(p));
            }
            other => panic!("not a role change: {other}"),
        }
    }

    fn planned(desired: &DesiredRoles, tenant: &TenantRoles, prune: bool) -> Plan {
        let mut out = Plan::default();
        plan(&mut out, desired, Some(tenant), prune);
        out
    }

    fn registered() -> TenantRoles {
        let mut tenant = TenantRoles::default();
        for change in planned(&desired(), &tenant, false).changes {
            apply_to(&mut tenant, &change);
        }
        tenant
    }

    #[test]
    fn a_fresh_tenant_gets_permissions_then_roles_then_their_permissions() {
        let plan = planned(&desired(), &TenantRoles::default(), false);
        let lines: Vec<String> = plan.changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "create permission `read:invoices` (Read invoices)",
                "create permission `write:invoices` (Write invoices)",
                "create role `admin` (ADMIN)",
                "create role `viewer` (VIEWER), the default role for new members",
                "add `read:invoices`, `write:invoices` to role `admin`",
                "add `read:invoices` to role `viewer`",
            ]
        );
        assert_eq!(
            plan.changes[4],
            Change::AddRolePermissions {
                role: RoleRef::New {
                    key: "admin".into()
                },
                key: "admin".into(),
                permissions: strings(&["read:invoices", "write:invoices"]),
            }
        );
        assert!(plan.conflicts.is_empty());
    }

    #[test]
    fn a_registered_tenant_needs_nothing_and_everything_matches() {
        let plan = planned(&desired(), &registered(), true);
        assert_eq!(plan.changes, []);
        assert_eq!(plan.matching.len(), 4, "{:?}", plan.matching);
        assert!(plan.matching.contains(&Resource::Role {
            key: "viewer".into(),
            name: "VIEWER".into()
        }));
    }

    #[test]
    fn changed_fields_and_permission_sets_are_updated_in_place() {
        let mut tenant = registered();
        tenant.roles[0].name = "Old".into();
        tenant.roles[0]
            .permissions
            .retain(|p| p != "write:invoices");
        tenant.roles[1].is_default = false;
        tenant.roles[1].permissions.push("write:invoices".into());
        tenant.permissions[0].description = "old text".into();
        let mut want = desired();
        want.permissions.as_mut().unwrap()[0].description = Some("Lets a user read".into());
        let plan = planned(&want, &tenant, false);
        let lines: Vec<String> = plan.changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "update permission `read:invoices` (p_read:invoices): description `old text` → `Lets a user read`",
                "update role `admin` (r_admin): name `Old` → `ADMIN`",
                "update role `viewer` (r_viewer): default `false` → `true`",
                "add `write:invoices` to role `admin`",
                "remove `write:invoices` from role `viewer`",
            ]
        );
        let Change::RemoveRolePermissions { ids, .. } = &plan.changes[4] else {
            panic!("{:?}", plan.changes[4]);
        };
        assert_eq!(ids, &["p_write:invoices"], "removals carry the ids to send");
        assert!(plan.changes[4].is_removal());
        for change in &plan.changes {
            apply_to(&mut tenant, change);
        }
        assert_eq!(planned(&want, &tenant, false).changes, [], "converges");
    }

    #[test]
    fn undeclared_roles_and_permissions_are_listed_and_pruned_only_with_prune() {
        let mut tenant = registered();
        tenant.roles.push(TenantRole {
            id: "r_old".into(),
            key: "old".into(),
            name: "Old".into(),
            ..TenantRole::default()
        });
        tenant.permissions.push(TenantPermission {
            id: "p_old".into(),
            key: "old:perm".into(),
            name: "Old perm".into(),
            ..TenantPermission::default()
        });
        let plan = planned(&desired(), &tenant, false);
        assert_eq!(plan.changes, []);
        assert_eq!(
            plan.unmanaged,
            [
                Resource::Permission {
                    key: "old:perm".into(),
                    name: "Old perm".into()
                },
                Resource::Role {
                    key: "old".into(),
                    name: "Old".into()
                }
            ]
        );
        let plan = planned(&desired(), &tenant, true);
        let lines: Vec<String> = plan.changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "delete role `old` (Old, r_old)",
                "delete permission `old:perm` (Old perm, p_old)",
            ],
            "roles go first"
        );
        assert!(plan.changes.iter().all(Change::is_removal));
    }

    #[test]
    fn prune_keeps_a_tenant_permission_a_declared_role_grants() {
        let mut tenant = registered();
        tenant.permissions.push(TenantPermission {
            id: "p_export".into(),
            key: "export".into(),
            name: "Export".into(),
            ..TenantPermission::default()
        });
        let mut want = desired();
        want.roles.as_mut().unwrap()[0]
            .permissions
            .push("export".into());
        let plan = planned(&want, &tenant, true);
        assert_eq!(
            plan.changes,
            [Change::AddRolePermissions {
                role: RoleRef::Existing {
                    id: "r_admin".into()
                },
                key: "admin".into(),
                permissions: strings(&["export"]),
            }]
        );
        assert_eq!(
            plan.notes,
            [Note::PermissionKept {
                key: "export".into()
            }]
        );
    }

    #[test]
    fn a_permission_neither_declared_nor_in_the_tenant_is_a_located_conflict() {
        let mut want = desired();
        want.roles.as_mut().unwrap()[1] = role("viewer", &["read:invoices", "ghost"]);
        want.roles.as_mut().unwrap()[1].is_default = true;
        let plan = planned(&want, &registered(), false);
        assert_eq!(
            plan.conflicts,
            [Conflict::UnknownPermission {
                role: "viewer".into(),
                permission: "ghost".into(),
                at: "kinde.toml:9:5".into(),
            }]
        );
        assert!(
            plan.conflicts[0]
                .to_string()
                .starts_with("kinde.toml:9:5: role `viewer` lists permission `ghost`")
        );
    }

    #[test]
    fn sections_the_file_omits_are_neither_read_nor_planned() {
        assert!(DesiredRoles::default().is_empty());
        let mut out = Plan::default();
        plan(&mut out, &DesiredRoles::default(), None, true);
        assert_eq!(out, Plan::default());
        // [[permissions]] only: roles are left alone, even with --prune.
        let only_permissions = DesiredRoles {
            permissions: desired().permissions,
            roles: None,
        };
        let mut tenant = registered();
        tenant.roles[0].name = "Changed in the admin".into();
        let plan = planned(&only_permissions, &tenant, true);
        assert_eq!(plan.changes, []);
        assert!(plan.unmanaged.is_empty());
    }

    #[test]
    fn a_role_description_kinde_cannot_clear_is_a_note_not_a_change() {
        let mut tenant = registered();
        tenant.roles[0].description = "set in the admin".into();
        let mut want = desired();
        want.roles.as_mut().unwrap()[0].description = Some(String::new());
        let plan = planned(&want, &tenant, false);
        assert_eq!(plan.changes, []);
        assert_eq!(
            plan.notes,
            [Note::RoleDescriptionKept {
                key: "admin".into()
            }]
        );
    }

    #[test]
    fn a_new_key_beside_an_undeclared_role_of_its_name_is_noted_as_a_rename() {
        let tenant = registered();
        let mut want = desired();
        let admin = &mut want.roles.as_mut().unwrap()[0];
        let (old, name) = (admin.key.clone(), admin.name.clone());
        admin.key = "administrator".into();
        let plan = planned(&want, &tenant, false);
        assert!(
            plan.changes
                .iter()
                .any(|c| matches!(c, Change::CreateRole { key, .. } if key == "administrator")),
            "{:?}",
            plan.changes
        );
        assert_eq!(
            plan.notes,
            [Note::RoleLooksRenamed {
                key: "administrator".into(),
                old_key: old.clone(),
                name: name.clone(),
            }]
        );
        // Both declared: two roles of one name are meant, nothing to note.
        let mut both = want.clone();
        let mut kept = role(&old, &[]);
        kept.name = name;
        both.roles.as_mut().unwrap().push(kept);
        assert!(planned(&both, &tenant, false).notes.is_empty());
    }

    #[test]
    fn update_changes_serialise_with_before_and_after() {
        let mut tenant = registered();
        tenant.roles[1].is_default = false;
        let plan = planned(&desired(), &tenant, false);
        assert_eq!(
            serde_json::to_value(&plan.changes[0]).unwrap(),
            serde_json::json!({
                "action": "update_role", "id": "r_viewer", "key": "viewer", "name": "VIEWER",
                "description": null, "is_default": true,
                "fields": [{"field": "default", "before": "false", "after": "true"}]
            })
        );
    }
}
