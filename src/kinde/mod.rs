//! The Kinde Management API: the operation table generated from Kinde's OpenAPI spec, the
//! client, typed operations for what cargo-kinde changes, and the reconciler that plans and
//! applies changes to a tenant (`plan`, `apply`).

pub mod apply;
pub mod client;
#[rustfmt::skip]
mod operations;
pub mod plan;
pub mod resources;

pub use operations::OPERATIONS;

/// One Management API operation as the spec declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path template, e.g. `/api/v1/apis/{api_id}`.
    pub path: &'static str,
    /// `operationId`.
    pub id: &'static str,
    /// The scope the M2M token needs (`x-scope`).
    pub scope: Option<&'static str>,
}

/// Every distinct scope the Management API knows, sorted.
pub fn all_scopes() -> Vec<&'static str> {
    let mut scopes: Vec<&'static str> = OPERATIONS.iter().filter_map(|o| o.scope).collect();
    scopes.sort_unstable();
    scopes.dedup();
    scopes
}

/// The operation matching a concrete `method` and `path` (e.g. `/api/v1/apis/abc`).
pub fn find_operation(method: &str, path: &str) -> Option<&'static Operation> {
    let path = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    OPERATIONS
        .iter()
        .filter(|o| o.method.eq_ignore_ascii_case(method))
        .find(|o| template_matches(o.path, path))
}

fn template_matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_the_operations_cargo_kinde_uses() {
        assert_eq!(
            find_operation("GET", "/api/v1/users").unwrap().scope,
            Some("read:users")
        );
        assert_eq!(
            find_operation("patch", "/api/v1/apis/abc/applications")
                .unwrap()
                .scope,
            Some("update:apis")
        );
        assert!(find_operation("GET", "/api/v1/nope").is_none());
        assert!(all_scopes().contains(&"read:applications"));
    }
}
