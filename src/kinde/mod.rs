//! The Kinde Management API: the operation table generated from Kinde's OpenAPI spec, the
//! client, typed operations for what cargo-kinde changes, and the reconciler that plans and
//! applies changes to a tenant (`plan`, `apply`).

pub mod apply;
pub mod client;
/// `cargo kinde export`: the tenant read and written as kinde.toml.
#[cfg(feature = "cli")]
pub mod export;
/// The operation table, generated from the spec by `cargo xtask codegen`.
#[rustfmt::skip]
pub mod operations;
pub mod plan;
pub mod resources;

pub use operations::OPERATIONS;

use reqwest::Method;

use crate::error::Error;

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
    /// The success status (the spec's first 2xx).
    pub status: u16,
    /// Path parameter names, in path order.
    pub path_params: &'static [&'static str],
    /// Query parameters the spec marks required.
    pub query: &'static [&'static str],
    /// Whether the spec requires a request body.
    pub body: bool,
    /// Top-level fields the request body's schema requires.
    pub body_required: &'static [&'static str],
    /// The JSON request body's shape, in the format of `response` (`""`: no JSON body); a
    /// choice between schemas (`oneOf`, `anyOf`) is `{"t":""}`, any value.
    pub request: &'static str,
    /// The success response's shape as compact JSON (`""`: no JSON body): `{"t":"o","p":{..},
    /// "r":[..]}` an object with its properties and required names, `{"t":"a","i":..}` an
    /// array of items, `{"t":"s","e":[..]}` a string (with its allowed values when the spec
    /// lists them), `"i"` / `"n"` / `"b"` integer, number, boolean; `"z":1` when nullable.
    pub response: &'static str,
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

/// A path as a user types it, made a Management API path and its query:
/// `/api/v1/users?x=1` → (`/api/v1/users`, [(x, 1)]); `users` → `/api/v1/users`.
pub fn split_path(input: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = input.split_once('?').unwrap_or((input, ""));
    let path = path.trim_end_matches('/');
    let path = if path.starts_with("/api/") {
        path.to_string()
    } else if let Some(rest) = path.strip_prefix("api/") {
        format!("/api/{rest}")
    } else {
        format!("/api/v1/{}", path.trim_start_matches('/'))
    };
    let query = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    (path, query)
}

/// `Ok` when `method` and `path` are an operation of the spec; otherwise an error saying which
/// methods the path supports, or which paths are close.
pub fn check_operation(method: &Method, path: &str) -> Result<(), Error> {
    if find_operation(method.as_str(), path).is_some() {
        return Ok(());
    }
    let methods: Vec<&str> = OPERATIONS
        .iter()
        .filter(|o| find_operation(o.method, path) == Some(o))
        .map(|o| o.method)
        .collect();
    if !methods.is_empty() {
        return Err(
            Error::input(format!("{method} is not an operation on {path}"))
                .with_hint(format!("it supports {}", methods.join(", "))),
        );
    }
    let mut candidates: Vec<(usize, &str)> = OPERATIONS
        .iter()
        .map(|o| (distance(o.path, path), o.path))
        .collect();
    candidates.sort();
    candidates.dedup_by(|a, b| a.1 == b.1);
    let best: Vec<&str> = candidates.iter().take(3).map(|(_, p)| *p).collect();
    Err(Error::input(format!("{path} is not a Management API path"))
        .with_hint(format!("did you mean {}?", best.join(", or "))))
}

/// Edit distance between two paths (placeholders like `{id}` count as any segment).
fn distance(template: &str, path: &str) -> usize {
    let t: Vec<char> = template.chars().collect();
    let p: Vec<char> = path.chars().collect();
    let mut row: Vec<usize> = (0..=p.len()).collect();
    for i in 1..=t.len() {
        let mut prev = row[0];
        row[0] = i;
        for j in 1..=p.len() {
            let cost = usize::from(t[i - 1] != p[j - 1]);
            let next = (row[j] + 1).min(row[j - 1] + 1).min(prev + cost);
            prev = row[j];
            row[j] = next;
        }
    }
    row[p.len()]
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

    #[test]
    fn paths_are_normalised_and_checked() {
        assert_eq!(split_path("users").0, "/api/v1/users");
        assert_eq!(split_path("/api/v1/users/").0, "/api/v1/users");
        assert_eq!(
            split_path("/api/v1/users?page_size=2").1,
            vec![("page_size".to_string(), "2".to_string())]
        );
        assert!(check_operation(&Method::GET, "/api/v1/apis/abc").is_ok());
        let err = check_operation(&Method::GET, "/api/v1/usrs").unwrap_err();
        assert!(
            err.hint().unwrap().contains("/api/v1/users"),
            "{:?}",
            err.hint()
        );
        let err = check_operation(&Method::PATCH, "/api/v1/users").unwrap_err();
        assert!(err.hint().unwrap().contains("GET"));
    }
}
