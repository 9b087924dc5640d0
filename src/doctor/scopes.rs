//! Which Management API scopes each thing cargo-kinde does needs: the operations a feature calls,
//! their scopes looked up in the operation table generated from Kinde's spec (never typed here,
//! so a scope Kinde renames is renamed here too).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::config::Config;
use crate::kinde;
use crate::oauth::AccessToken;

/// Something cargo-kinde does with the Management API.
#[derive(Debug, Clone, Copy)]
pub struct Feature {
    /// What the user runs.
    pub name: &'static str,
    /// The operations it calls: (method, path template of the spec).
    pub operations: &'static [(&'static str, &'static str)],
}

impl Feature {
    /// The scopes its operations need, sorted.
    pub fn scopes(&self) -> Vec<&'static str> {
        let scopes: BTreeSet<&'static str> = self
            .operations
            .iter()
            .filter_map(|(method, path)| kinde::find_operation(method, path)?.scope)
            .collect();
        scopes.into_iter().collect()
    }
}

/// `register` for `[[apis]]`: read and create APIs and scopes, authorise apps, grant scopes.
pub const REGISTER_APIS: Feature = Feature {
    name: "register ([[apis]])",
    operations: &[
        ("GET", "/api/v1/apis"),
        ("POST", "/api/v1/apis"),
        ("GET", "/api/v1/apis/{api_id}"),
        ("GET", "/api/v1/apis/{api_id}/scopes"),
        ("POST", "/api/v1/apis/{api_id}/scopes"),
        ("PATCH", "/api/v1/apis/{api_id}/applications"),
        (
            "POST",
            "/api/v1/apis/{api_id}/applications/{application_id}/scopes/{scope_id}",
        ),
        ("GET", "/api/v1/applications"),
    ],
};

/// `register` for the app's callback and logout URLs.
pub const REGISTER_URLS: Feature = Feature {
    name: "register (callback and logout URLs)",
    operations: &[
        ("GET", "/api/v1/applications/{app_id}/auth_redirect_urls"),
        ("POST", "/api/v1/applications/{app_id}/auth_redirect_urls"),
        ("GET", "/api/v1/applications/{app_id}/auth_logout_urls"),
        ("POST", "/api/v1/applications/{app_id}/auth_logout_urls"),
    ],
};

/// `register` for `[[permissions]]` and `[[roles]]`.
pub const REGISTER_ROLES: Feature = Feature {
    name: "register ([[permissions]], [[roles]])",
    operations: &[
        ("GET", "/api/v1/permissions"),
        ("POST", "/api/v1/permissions"),
        ("PATCH", "/api/v1/permissions/{permission_id}"),
        ("DELETE", "/api/v1/permissions/{permission_id}"),
        ("GET", "/api/v1/roles"),
        ("POST", "/api/v1/roles"),
        ("PATCH", "/api/v1/roles/{role_id}"),
        ("DELETE", "/api/v1/roles/{role_id}"),
        ("GET", "/api/v1/roles/{role_id}/permissions"),
        ("PATCH", "/api/v1/roles/{role_id}/permissions"),
    ],
};

/// `register` for `[[feature_flags]]`: the environment's flags, create, replace, delete.
pub const REGISTER_FLAGS: Feature = Feature {
    name: "register ([[feature_flags]])",
    operations: &[
        ("GET", "/api/v1/environment/feature_flags"),
        ("POST", "/api/v1/feature_flags"),
        ("PUT", "/api/v1/feature_flags/{feature_flag_key}"),
        ("DELETE", "/api/v1/feature_flags/{feature_flag_key}"),
    ],
};

/// `register` for `[[organizations]]`: list, create, rename, flag overrides.
pub const REGISTER_ORGS: Feature = Feature {
    name: "register ([[organizations]])",
    operations: &[
        ("GET", "/api/v1/environment/feature_flags"),
        ("GET", "/api/v1/organizations"),
        ("POST", "/api/v1/organization"),
        ("PATCH", "/api/v1/organization/{org_code}"),
        ("GET", "/api/v1/organizations/{org_code}/feature_flags"),
        (
            "PATCH",
            "/api/v1/organizations/{org_code}/feature_flags/{feature_flag_key}",
        ),
        (
            "DELETE",
            "/api/v1/organizations/{org_code}/feature_flags/{feature_flag_key}",
        ),
    ],
};

/// The default `smoke` suite's Management API check.
pub const SMOKE: Feature = Feature {
    name: "smoke (get users)",
    operations: &[("GET", "/api/v1/users")],
};

/// Every feature, for tests and documentation.
pub const FEATURES: &[Feature] = &[
    REGISTER_APIS,
    REGISTER_URLS,
    SMOKE,
    REGISTER_ROLES,
    REGISTER_FLAGS,
    REGISTER_ORGS,
];

/// The features this configuration uses.
pub fn used_features(config: &Config) -> Vec<Feature> {
    let mut used = Vec::new();
    if !config.apis.is_empty() {
        used.push(REGISTER_APIS);
    }
    let urls = !config.callback_urls.is_empty()
        || !config.logout_urls.is_empty()
        || config.login_configured;
    if config.app_client_id.is_some() && urls {
        used.push(REGISTER_URLS);
    }
    used.push(SMOKE);
    if config.permissions.is_some() || config.roles.is_some() {
        used.push(REGISTER_ROLES);
    }
    if config.feature_flags.is_some() {
        used.push(REGISTER_FLAGS);
    }
    if config.organizations.is_some() {
        used.push(REGISTER_ORGS);
    }
    used
}

/// The scopes a token was granted: Kinde puts them in `scp` (an array), some tokens in `scope`
/// (space-separated); the token endpoint's `scope` answer counts too. `None`: none of them.
pub fn granted(token: &AccessToken) -> Option<BTreeSet<String>> {
    let mut found = false;
    let mut scopes = BTreeSet::new();
    let mut add_words = |text: &str| {
        scopes.extend(text.split_whitespace().map(String::from));
    };
    if let Some(scope) = &token.scope {
        found = true;
        add_words(scope);
    }
    if let Ok(decoded) = crate::jwt::decode(token.token.expose()) {
        match decoded.claims.get("scp") {
            Some(Value::Array(items)) => {
                found = true;
                scopes.extend(items.iter().filter_map(Value::as_str).map(String::from));
            }
            Some(Value::String(text)) => {
                found = true;
                scopes.extend(text.split_whitespace().map(String::from));
            }
            _ => {}
        }
        if let Some(Value::String(text)) = decoded.claims.get("scope") {
            found = true;
            scopes.extend(text.split_whitespace().map(String::from));
        }
    }
    found.then_some(scopes)
}

/// For each feature `config` uses, the scopes it needs that are not `granted`.
pub fn missing(
    config: &Config,
    granted: &BTreeSet<String>,
) -> Vec<(&'static str, Vec<&'static str>)> {
    used_features(config)
        .into_iter()
        .filter_map(|feature| {
            let missing: Vec<&'static str> = feature
                .scopes()
                .into_iter()
                .filter(|s| !granted.contains(*s))
                .collect();
            (!missing.is_empty()).then_some((feature.name, missing))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_of_every_feature_is_in_the_spec() {
        for feature in FEATURES {
            for (method, path) in feature.operations {
                let op = kinde::find_operation(method, path).unwrap_or_else(|| {
                    panic!("{}: {method} {path} is not in the spec", feature.name)
                });
                assert!(op.scope.is_some(), "{method} {path} needs no scope?");
            }
        }
        assert!(REGISTER_APIS.scopes().contains(&"create:apis"));
        assert!(REGISTER_APIS.scopes().contains(&"read:applications"));
        assert_eq!(SMOKE.scopes(), vec!["read:users"]);
    }

    #[test]
    fn missing_scopes_are_named_by_feature() {
        let mut config = Config::empty(std::env::temp_dir());
        let granted: BTreeSet<String> = ["read:users".to_string()].into();
        assert!(missing(&config, &granted).is_empty());
        config.apis.push(crate::config::Api {
            name: "A".into(),
            audience: "https://a".into(),
            scopes: vec![],
            authorize: vec![],
        });
        let found = missing(&config, &granted);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, REGISTER_APIS.name);
        assert!(found[0].1.contains(&"create:apis"));
    }

    #[test]
    fn roles_in_the_file_need_the_role_and_permission_scopes() {
        let mut config = Config::empty(std::env::temp_dir());
        let granted: BTreeSet<String> = ["read:users".to_string()].into();
        config.roles = Some(vec![]);
        let found = missing(&config, &granted);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, REGISTER_ROLES.name);
        for scope in [
            "read:roles",
            "update:role_permissions",
            "delete:permissions",
        ] {
            assert!(found[0].1.contains(&scope), "{scope}: {:?}", found[0].1);
        }
    }
}
