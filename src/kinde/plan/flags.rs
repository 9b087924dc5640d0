//! Planning `[[feature_flags]]`: create what is missing, set the environment's value where it
//! differs from `default`, refuse a type change (Kinde fixes a flag's type at creation), delete
//! undeclared flags with `--prune`.
//!
//! What can be compared is what Kinde returns: each flag's key, type and value in this
//! environment (`GET /environment/feature_flags`); see [`Note::FlagFieldsNotRead`].

use super::{Change, Conflict, Current, Desired, Note, Plan, Resource};
use crate::config::file::FlagKind;

/// Creates and updates, before the organizations that may override the flags.
pub(super) fn plan_flags(plan: &mut Plan, desired: &Desired, current: &Current) {
    let (Some(wanted), Some(have)) = (&desired.flags, &current.flags) else {
        return;
    };
    for flag in wanted {
        match have.get(&flag.key) {
            None => plan.changes.push(Change::CreateFlag {
                key: flag.key.clone(),
                name: flag.name.clone(),
                description: flag.description.clone(),
                kind: flag.kind,
                override_level: flag.override_level,
                default: flag.default.clone(),
            }),
            Some(tenant) if tenant.kind != flag.kind.code() => {
                plan.conflicts.push(Conflict::FlagTypeChanged {
                    key: flag.key.clone(),
                    before: FlagKind::name_of(&tenant.kind).to_string(),
                    after: FlagKind::name_of(flag.kind.code()).to_string(),
                });
            }
            Some(tenant) if tenant.value != flag.default => plan.changes.push(Change::UpdateFlag {
                key: flag.key.clone(),
                kind: flag.kind,
                before: tenant.value.clone(),
                after: flag.default.clone(),
            }),
            Some(tenant) => plan.matching.push(Resource::FeatureFlag {
                key: flag.key.clone(),
                kind: FlagKind::name_of(&tenant.kind).to_string(),
            }),
        }
    }
    if !wanted.is_empty() {
        plan.notes.push(Note::FlagFieldsNotRead);
    }
}

/// Flags the file does not declare: deleted with `--prune` (after the organizations' changes,
/// and never one a declared organization still overrides), otherwise listed.
pub(super) fn prune_flags(plan: &mut Plan, desired: &Desired, current: &Current) {
    let (Some(wanted), Some(have)) = (&desired.flags, &current.flags) else {
        return;
    };
    let overridden = |key: &str| {
        desired
            .organizations
            .iter()
            .flatten()
            .any(|o| o.feature_flags.contains_key(key))
    };
    for (key, tenant) in have {
        if wanted.iter().any(|f| &f.key == key) {
            continue;
        }
        // A type kinde.toml cannot declare (a JSON flag, dashboard-only): never the file's to
        // delete, and not drift (`Resource::is_declared_wholly`).
        let declarable = ["bool", "str", "int"].contains(&tenant.kind.as_str());
        if desired.prune && declarable && !overridden(key) {
            plan.changes.push(Change::DeleteFlag { key: key.clone() });
        } else {
            plan.unmanaged.push(Resource::FeatureFlag {
                key: key.clone(),
                kind: FlagKind::name_of(&tenant.kind).to_string(),
            });
        }
    }
}

/// Whether `desired` declares flag `key`, and its default if so.
pub(super) fn declared_default<'a>(desired: &'a Desired, key: &str) -> Option<&'a str> {
    desired
        .flags
        .iter()
        .flatten()
        .find(|f| f.key == key)
        .map(|f| f.default.as_str())
}
