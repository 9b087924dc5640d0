//! Planning `[[organizations]]`: organizations are matched by `external_id` (Kinde generates
//! their codes; the list operation returns each one's `external_id`), created with their name
//! and external id, renamed, and given their flag overrides. Organizations are never deleted,
//! and their members are never read or touched.
//!
//! Kinde returns an organization's flag values resolved (its override, else the environment's
//! value), so an override is visible only where the two differ: an override equal to the
//! environment's value is indistinguishable from none, and changes nothing a token carries.

use std::collections::BTreeMap;

use serde::Serialize;

use super::flags::declared_default;
use super::{Change, Conflict, Current, Desired, Plan, Resource};
use crate::error::Error;
use crate::kinde::client::Client;
use crate::kinde::resources::flags::FlagValue;

/// An organization of the tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantOrg {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// External id.
    pub external_id: Option<String>,
    /// Whether it is the default organization.
    pub is_default: bool,
    /// Its flag values, read only for organizations `kinde.toml` declares.
    pub flags: BTreeMap<String, FlagValue>,
}

/// Where an organization in the plan is, or will be: `{"code": ...}` or `{"external_id": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum OrgRef {
    /// Already in the tenant.
    Existing {
        /// Its code.
        code: String,
    },
    /// Created by this plan.
    New {
        /// The external id it is created with.
        external_id: String,
    },
}

/// The environment's flags and the organizations, as [`Current`] holds them.
pub(super) type TenantFlagsAndOrgs = (Option<BTreeMap<String, FlagValue>>, Option<Vec<TenantOrg>>);

/// Read the environment's flags and the organizations, when `kinde.toml` declares flags or
/// organizations; the declared organizations' flag values are read concurrently.
pub(super) async fn read(client: &Client, desired: &Desired) -> Result<TenantFlagsAndOrgs, Error> {
    if desired.flags.is_none() && desired.organizations.is_none() {
        return Ok((None, None));
    }
    let Some(wanted) = &desired.organizations else {
        return Ok((Some(client.environment_flags().await?), None));
    };
    let (flags, orgs) = tokio::try_join!(client.environment_flags(), client.organizations())?;
    let mut orgs: Vec<TenantOrg> = orgs
        .into_iter()
        .map(|o| TenantOrg {
            code: o.code,
            name: o.name,
            external_id: o.external_id.filter(|e| !e.is_empty()),
            is_default: o.is_default,
            flags: BTreeMap::new(),
        })
        .collect();
    let declared = |o: &TenantOrg| {
        o.external_id
            .as_ref()
            .is_some_and(|e| wanted.iter().any(|w| &w.external_id == e))
    };
    let codes: Vec<String> = orgs
        .iter()
        .filter(|o| declared(o))
        .map(|o| o.code.clone())
        .collect();
    let values = client.organizations_flags(&codes).await?;
    for (code, flags) in codes.iter().zip(values) {
        if let Some(org) = orgs.iter_mut().find(|o| &o.code == code) {
            org.flags = flags;
        }
    }
    Ok((Some(flags), Some(orgs)))
}

/// Kinde's flag types kinde.toml can declare.
const DECLARABLE: [&str; 3] = ["bool", "str", "int"];

/// Whether `value` (as kinde.toml's text) is a value of a tenant flag of Kinde's type `kind`.
fn fits(kind: &str, value: &str) -> Result<(), String> {
    let name = crate::config::file::FlagKind::name_of(kind);
    match kind {
        "bool" if value == "true" || value == "false" => Ok(()),
        "int" if value.parse::<i32>().is_ok() => Ok(()),
        "str" => Ok(()),
        "bool" | "int" => Err(format!(
            "is `{value}`, but the flag is {name} in Kinde; write {}",
            if kind == "bool" {
                "true or false, unquoted"
            } else {
                "a whole number, unquoted"
            }
        )),
        _ => Err(format!(
            "is a {name} flag in Kinde, which kinde.toml cannot set; set its value in the Kinde admin and remove it here"
        )),
    }
}

/// Creates, renames and overrides of the organizations `kinde.toml` declares.
pub(super) fn plan_orgs(plan: &mut Plan, desired: &Desired, current: &Current) {
    let (Some(wanted), Some(have)) = (&desired.organizations, &current.organizations) else {
        return;
    };
    let env = current.flags.clone().unwrap_or_default();
    for org in wanted {
        let same: Vec<&TenantOrg> = have
            .iter()
            .filter(|t| t.external_id.as_deref() == Some(org.external_id.as_str()))
            .collect();
        if same.len() > 1 {
            plan.conflicts.push(Conflict::DuplicateExternalId {
                external_id: org.external_id.clone(),
                codes: same.iter().map(|t| t.code.clone()).collect(),
            });
            continue;
        }
        let existing = same.first().copied();
        let organization = match existing {
            Some(tenant) => {
                if tenant.name == org.name {
                    plan.matching.push(Resource::Organization {
                        name: tenant.name.clone(),
                        code: tenant.code.clone(),
                        external_id: tenant.external_id.clone(),
                    });
                } else {
                    plan.changes.push(Change::RenameOrganization {
                        code: tenant.code.clone(),
                        external_id: org.external_id.clone(),
                        before: tenant.name.clone(),
                        after: org.name.clone(),
                    });
                }
                OrgRef::Existing {
                    code: tenant.code.clone(),
                }
            }
            None => {
                plan.changes.push(Change::CreateOrganization {
                    name: org.name.clone(),
                    external_id: org.external_id.clone(),
                });
                OrgRef::New {
                    external_id: org.external_id.clone(),
                }
            }
        };
        // The organization's own override, where one is visible.
        let own = |key: &str| {
            let tenant = existing?.flags.get(key)?;
            (env.get(key).map(|e| &e.value) != Some(&tenant.value)).then_some(&tenant.value)
        };
        for (key, value) in &org.feature_flags {
            let default = declared_default(desired, key);
            if default.is_none() && !env.contains_key(key) {
                plan.conflicts.push(Conflict::UnknownFlag {
                    external_id: org.external_id.clone(),
                    key: key.clone(),
                    at: org.sites.get(key).cloned().unwrap_or_default(),
                });
                continue;
            }
            // A flag only the tenant has: the value must be one of its type, or the apply fails
            // midway on Kinde's 400.
            if default.is_none()
                && let Some(tenant_flag) = env.get(key)
                && let Err(why) = fits(&tenant_flag.kind, value)
            {
                plan.conflicts.push(Conflict::OverrideDoesNotFit {
                    external_id: org.external_id.clone(),
                    key: key.clone(),
                    why,
                    at: org.sites.get(key).cloned().unwrap_or_default(),
                });
                continue;
            }
            // Without an override of its own the organization follows the environment, whose
            // value becomes the declared default once this plan is applied.
            let after_plan = own(key)
                .map(String::as_str)
                .or(default)
                .or_else(|| env.get(key).map(|e| e.value.as_str()));
            if after_plan == Some(value.as_str()) {
                plan.matching.push(Resource::OrganizationFlag {
                    organization: org.name.clone(),
                    external_id: org.external_id.clone(),
                    key: key.clone(),
                    value: value.clone(),
                });
            } else {
                plan.changes.push(Change::SetOrganizationFlag {
                    organization: organization.clone(),
                    name: org.name.clone(),
                    external_id: org.external_id.clone(),
                    key: key.clone(),
                    value: value.clone(),
                });
            }
        }
        let Some(tenant) = existing else { continue };
        for key in tenant.flags.keys() {
            if org.feature_flags.contains_key(key) {
                continue;
            }
            let Some(value) = own(key) else { continue };
            // A value of a flag kinde.toml cannot declare (a JSON flag) is neither drift nor
            // pruned, as the flag itself.
            let kind = env.get(key).map_or("", |f| f.kind.as_str());
            if !DECLARABLE.contains(&kind) {
                continue;
            }
            // A flag pruned in this plan takes its overrides with it.
            let flag_pruned = desired.prune
                && desired
                    .flags
                    .as_ref()
                    .is_some_and(|f| !f.iter().any(|f| &f.key == key))
                && !wanted.iter().any(|o| o.feature_flags.contains_key(key));
            if flag_pruned {
                continue;
            }
            if desired.prune {
                plan.changes.push(Change::DeleteOrganizationFlag {
                    code: tenant.code.clone(),
                    name: tenant.name.clone(),
                    external_id: org.external_id.clone(),
                    key: key.clone(),
                    value: value.clone(),
                });
            } else {
                plan.unmanaged.push(Resource::OrganizationFlag {
                    organization: tenant.name.clone(),
                    external_id: org.external_id.clone(),
                    key: key.clone(),
                    value: value.clone(),
                });
            }
        }
    }
    for tenant in have.iter().filter(|t| {
        !t.is_default
            && !wanted
                .iter()
                .any(|w| t.external_id.as_deref() == Some(w.external_id.as_str()))
    }) {
        plan.unmanaged.push(Resource::Organization {
            name: tenant.name.clone(),
            code: tenant.code.clone(),
            external_id: tenant.external_id.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Note, plan};
    use super::*;
    use crate::config::file::{FlagKind, OverrideLevel};
    use crate::config::flags::{FeatureFlag, Organization};

    fn flag(key: &str, kind: FlagKind, default: &str) -> FeatureFlag {
        FeatureFlag {
            key: key.into(),
            name: key.into(),
            description: String::new(),
            kind,
            default: default.into(),
            override_level: OverrideLevel::User,
        }
    }

    fn value(kind: &str, value: &str) -> FlagValue {
        FlagValue {
            kind: kind.into(),
            value: value.into(),
        }
    }

    /// kinde.toml: two flags, one organization overriding one of them.
    fn desired() -> Desired {
        Desired {
            flags: Some(vec![
                flag("checkout", FlagKind::Boolean, "false"),
                flag("theme", FlagKind::String, "light"),
            ]),
            organizations: Some(vec![Organization {
                external_id: "acme".into(),
                name: "Acme".into(),
                feature_flags: [("checkout".to_string(), "true".to_string())].into(),
                sites: BTreeMap::new(),
            }]),
            ..Desired::default()
        }
    }

    /// A tenant with only its default organization and no flags.
    fn fresh() -> Current {
        Current {
            flags: Some(BTreeMap::new()),
            organizations: Some(vec![TenantOrg {
                code: "org_default".into(),
                name: "Default".into(),
                is_default: true,
                ..TenantOrg::default()
            }]),
            ..Current::default()
        }
    }

    /// What Kinde does with each change, on the fake tenant.
    fn apply_to(current: &mut Current, change: &Change) {
        let flags = current.flags.get_or_insert_default();
        let orgs = current.organizations.get_or_insert_default();
        let env: BTreeMap<String, FlagValue> = flags.clone();
        let org_by = |orgs: &mut Vec<TenantOrg>, r: &OrgRef| -> usize {
            orgs.iter()
                .position(|o| match r {
                    OrgRef::Existing { code } => &o.code == code,
                    OrgRef::New { external_id } => o.external_id.as_ref() == Some(external_id),
                })
                .expect("the organization the change refers to")
        };
        match change {
            Change::CreateFlag {
                key, kind, default, ..
            } => {
                flags.insert(key.clone(), value(kind.code(), default));
                // Organizations follow the environment's value of a new flag.
                for org in orgs.iter_mut() {
                    org.flags.insert(key.clone(), value(kind.code(), default));
                }
            }
            Change::UpdateFlag { key, after, .. } => {
                let before = env[key].value.clone();
                flags.get_mut(key).unwrap().value = after.clone();
                for org in orgs.iter_mut() {
                    if let Some(v) = org.flags.get_mut(key).filter(|v| v.value == before) {
                        v.value = after.clone();
                    }
                }
            }
            Change::DeleteFlag { key } => {
                flags.remove(key);
                for org in orgs.iter_mut() {
                    org.flags.remove(key);
                }
            }
            Change::CreateOrganization { name, external_id } => orgs.push(TenantOrg {
                code: format!("org_{external_id}"),
                name: name.clone(),
                external_id: Some(external_id.clone()),
                is_default: false,
                flags: env,
            }),
            Change::RenameOrganization { code, after, .. } => {
                let at = org_by(orgs, &OrgRef::Existing { code: code.clone() });
                orgs[at].name = after.clone();
            }
            Change::SetOrganizationFlag {
                organization,
                key,
                value: v,
                ..
            } => {
                let at = org_by(orgs, organization);
                orgs[at].flags.get_mut(key).unwrap().value = v.clone();
            }
            Change::DeleteOrganizationFlag { code, key, .. } => {
                let at = org_by(orgs, &OrgRef::Existing { code: code.clone() });
                let env_value = env[key].clone();
                orgs[at].flags.insert(key.clone(), env_value);
            }
            other => panic!("not a flag or organization change: {other:?}"),
        }
    }

    fn converge(desired: &Desired, current: &mut Current) -> Plan {
        let first = plan(desired, current);
        for change in &first.changes {
            apply_to(current, change);
        }
        let again = plan(desired, current);
        assert_eq!(again.changes, [], "a second plan changes nothing");
        first
    }

    #[test]
    fn a_tenant_only_flag_is_checked_and_its_json_values_left_alone() {
        // The tenant has an org-level boolean and a JSON flag kinde.toml does not declare; Acme
        // exists with its own value of each.
        let mut current = fresh();
        let flags = current.flags.as_mut().unwrap();
        flags.insert("beta".into(), value("bool", "false"));
        flags.insert("layout".into(), value("json", "{}"));
        current.organizations.as_mut().unwrap().push(TenantOrg {
            code: "org_acme".into(),
            name: "Acme".into(),
            external_id: Some("acme".into()),
            is_default: false,
            flags: [
                ("beta".to_string(), value("bool", "true")),
                ("layout".to_string(), value("json", "{\"a\":1}")),
            ]
            .into(),
        });
        let mut want = Desired {
            organizations: Some(vec![Organization {
                external_id: "acme".into(),
                name: "Acme".into(),
                feature_flags: [("beta".to_string(), "true".to_string())].into(),
                sites: BTreeMap::new(),
            }]),
            prune: true,
            ..Desired::default()
        };
        let plan = plan(&want, &current);
        assert_eq!(
            plan.changes,
            [],
            "the JSON value is neither pruned nor changed"
        );
        assert_eq!(plan.conflicts, []);
        assert!(
            !plan
                .unmanaged
                .iter()
                .any(|r| r.to_string().contains("layout")),
            "nor drift: {:?}",
            plan.unmanaged
        );
        // A value not of the tenant flag's type is a located conflict, not a 400 midway.
        let org = &mut want.organizations.as_mut().unwrap()[0];
        org.feature_flags.insert("beta".into(), "maybe".into());
        org.sites.insert("beta".into(), "kinde.toml:7:8".into());
        org.feature_flags.insert("layout".into(), "x".into());
        let plan = super::super::plan(&want, &current);
        let conflicts: Vec<String> = plan.conflicts.iter().map(ToString::to_string).collect();
        assert_eq!(conflicts.len(), 2, "{conflicts:?}");
        assert!(
            conflicts[0].starts_with("kinde.toml:7:8: organization `acme`'s value for feature flag `beta` is `maybe`, but the flag is boolean in Kinde"),
            "{conflicts:?}"
        );
        assert!(
            conflicts[1].contains("kinde.toml cannot set"),
            "{conflicts:?}"
        );
    }

    #[test]
    fn a_fresh_tenant_gets_flags_then_the_organization_then_its_override() {
        let mut current = fresh();
        let plan = converge(&desired(), &mut current);
        let lines: Vec<String> = plan.changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "create feature flag `checkout` (checkout): boolean, default `false`, overridable down to users",
                "create feature flag `theme` (theme): string, default `light`, overridable down to users",
                "create organization `Acme` (external id `acme`)",
                "set feature flag `checkout` to `true` for organization `Acme` (external id `acme`)",
            ]
        );
        assert_eq!(plan.unmanaged, [], "the default organization is not listed");
        assert!(plan.notes.contains(&Note::FlagFieldsNotRead));
    }

    #[test]
    fn changes_renames_and_a_new_default_converge_in_one_run() {
        let mut current = fresh();
        converge(&desired(), &mut current);
        let mut changed = desired();
        let flags = changed.flags.as_mut().unwrap();
        flags[0].default = "true".into();
        let orgs = changed.organizations.as_mut().unwrap();
        orgs[0].name = "Acme Corp".into();
        // The override now equals the new default: the organization follows the environment.
        let plan = converge(&changed, &mut current);
        assert_eq!(
            plan.changes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "set feature flag `checkout` to `true` in this environment (`false` now)",
                "rename organization `Acme` (org_acme, external id `acme`) to `Acme Corp`",
            ]
        );
        // An override of the old default on a flag whose default changes in the same run.
        let mut pinned = changed.clone();
        pinned.flags.as_mut().unwrap()[1].default = "dark".into();
        pinned.organizations.as_mut().unwrap()[0]
            .feature_flags
            .insert("theme".into(), "light".into());
        let plan = converge(&pinned, &mut current);
        assert_eq!(plan.changes.len(), 2, "{:?}", plan.changes);
        assert!(matches!(
            &plan.changes[1],
            Change::SetOrganizationFlag { key, value, .. } if key == "theme" && value == "light"
        ));
    }

    /// The review's B4: a JSON flag (dashboard-only, kinde.toml cannot declare one) is listed,
    /// never drift and never pruned, so `export` then `register --check` passes on such a tenant.
    #[test]
    fn a_flag_of_a_type_the_file_cannot_declare_is_neither_drift_nor_pruned() {
        let mut current = fresh();
        converge(&desired(), &mut current);
        current
            .flags
            .as_mut()
            .unwrap()
            .insert("layout".into(), value("json", "{}"));
        let mut pruning = desired();
        pruning.prune = true;
        let plan = plan(&pruning, &current);
        assert_eq!(plan.changes, []);
        let listed = Resource::FeatureFlag {
            key: "layout".into(),
            kind: "json".into(),
        };
        assert!(plan.unmanaged.contains(&listed), "{plan:?}");
        assert_eq!(plan.undeclared().count(), 0, "{plan:?}");
    }

    #[test]
    fn undeclared_overrides_and_flags_are_listed_then_pruned() {
        let mut current = fresh();
        converge(&desired(), &mut current);
        let mut fewer = desired();
        fewer.flags.as_mut().unwrap().pop();
        fewer.organizations.as_mut().unwrap()[0]
            .feature_flags
            .clear();
        let listed = plan(&fewer, &current);
        assert_eq!(listed.changes, []);
        assert!(listed.unmanaged.contains(&Resource::FeatureFlag {
            key: "theme".into(),
            kind: "string".into()
        }));
        assert!(listed.unmanaged.contains(&Resource::OrganizationFlag {
            organization: "Acme".into(),
            external_id: "acme".into(),
            key: "checkout".into(),
            value: "true".into()
        }));
        fewer.prune = true;
        let pruned = converge(&fewer, &mut current);
        assert_eq!(
            pruned.changes,
            [
                Change::DeleteOrganizationFlag {
                    code: "org_acme".into(),
                    name: "Acme".into(),
                    external_id: "acme".into(),
                    key: "checkout".into(),
                    value: "true".into()
                },
                Change::DeleteFlag {
                    key: "theme".into()
                }
            ]
        );
    }

    #[test]
    fn organizations_are_never_deleted_and_conflicts_stop_the_plan() {
        let mut current = fresh();
        current.organizations.as_mut().unwrap().push(TenantOrg {
            code: "org_other".into(),
            name: "Other".into(),
            ..TenantOrg::default()
        });
        current
            .flags
            .as_mut()
            .unwrap()
            .insert("checkout".into(), value("str", "off"));
        let mut pruning = desired();
        pruning.prune = true;
        pruning.organizations.as_mut().unwrap()[0]
            .feature_flags
            .insert("ghost".into(), "1".into());
        pruning.organizations.as_mut().unwrap()[0]
            .sites
            .insert("ghost".into(), "kinde.toml:9:9".into());
        let plan = plan(&pruning, &current);
        assert!(
            plan.unmanaged.contains(&Resource::Organization {
                name: "Other".into(),
                code: "org_other".into(),
                external_id: None
            }),
            "{:?}",
            plan.unmanaged
        );
        assert!(
            !plan.changes.iter().any(|c| c.to_string().contains("Other")),
            "{:?}",
            plan.changes
        );
        assert_eq!(
            plan.conflicts,
            [
                Conflict::FlagTypeChanged {
                    key: "checkout".into(),
                    before: "string".into(),
                    after: "boolean".into()
                },
                Conflict::UnknownFlag {
                    external_id: "acme".into(),
                    key: "ghost".into(),
                    at: "kinde.toml:9:9".into()
                }
            ]
        );
        let mut twice = fresh();
        for code in ["org_a", "org_b"] {
            twice.organizations.as_mut().unwrap().push(TenantOrg {
                code: code.into(),
                name: "Acme".into(),
                external_id: Some("acme".into()),
                ..TenantOrg::default()
            });
        }
        let plan = super::super::plan(&desired(), &twice);
        assert!(plan.conflicts.contains(&Conflict::DuplicateExternalId {
            external_id: "acme".into(),
            codes: vec!["org_a".into(), "org_b".into()]
        }));
    }

    #[test]
    fn nothing_is_read_or_planned_without_the_sections() {
        let plan = plan(&Desired::default(), &fresh());
        assert_eq!(plan, Plan::default());
    }
}
