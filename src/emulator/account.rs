//! Kinde's Account API (`/account_api/v1/*`): what the signed-in user's own access token may
//! read about them, live from the tenant rather than from the token. Kinde's browser SDKs call
//! it (`@kinde/js-utils`): `getRoles()` whenever the token has no `roles` claim (the default),
//! and permissions, flags and the rest with `forceApi`.
//!
//! Shapes from Kinde's generated front-end API clients (`kinde-ruby-sdk` `tmp-frontend/docs`)
//! and js-utils' tests: `{"data": {...}, "metadata": {"has_more", "next_page_starting_after"}}`,
//! paged by `page_size` (10 by default) and `starting_after` (the id, or a flag's key, of the
//! last item of the previous page). Flag types are named `boolean`, `string`, `integer`,
//! `object`. The emulator has no billing: plans and entitlements are empty lists.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::State;
use super::error::ApiError;
use super::protocol::bearer;
use super::tenant::{Member, Tenant};

pub(super) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/account_api/v1/roles", get(roles))
        .route("/account_api/v1/permissions", get(permissions))
        .route("/account_api/v1/feature_flags", get(feature_flags))
        .route("/account_api/v1/properties", get(properties))
        .route("/account_api/v1/entitlements", get(entitlements))
        .route("/account_api/v1/entitlement/{key}", get(entitlement))
}

/// `page_size` and `starting_after`.
#[derive(Deserialize)]
struct Paging {
    page_size: Option<String>,
    starting_after: Option<String>,
}

/// The signed-in user a request's bearer token names, and the organization it was issued for.
struct Caller {
    user_id: String,
    org_code: Option<String>,
}

fn caller(state: &State, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let claims = bearer(headers)
        .and_then(|token| state.check_token(token).ok())
        .ok_or_else(|| {
            ApiError::unauthorized("UNAUTHORIZED", "A valid user access token is required")
        })?;
    if !claims.live_at(state.now()) {
        return Err(ApiError::unauthorized(
            "TOKEN_EXPIRED",
            "The access token has expired",
        ));
    }
    if claims.issuer() != Some(state.issuer()) {
        return Err(ApiError::unauthorized(
            "UNAUTHORIZED",
            "The token was not issued by this tenant",
        ));
    }
    // An ID token names the issuer among its audiences; an access token never does.
    if claims.audiences().contains(&state.issuer()) {
        return Err(ApiError::unauthorized(
            "UNAUTHORIZED",
            "The Account API takes an access token, not an ID token",
        ));
    }
    let user_id = claims
        .subject()
        .filter(|id| state.read(|t| t.user(id).is_some_and(|u| !u.is_suspended)))
        .ok_or_else(|| {
            ApiError::unauthorized(
                "UNAUTHORIZED",
                "The Account API takes a user's access token (this one is not a user's, or the user is suspended)",
            )
        })?
        .to_string();
    Ok(Caller {
        user_id,
        org_code: claims.org_code().map(String::from),
    })
}

/// One page of `items` (sorted by their cursor, the first field of each pair) after `paging`'s
/// `starting_after`, with its metadata.
fn page(items: Vec<(String, Value)>, paging: &Paging) -> Result<(Vec<Value>, Value), ApiError> {
    let size = match paging.page_size.as_deref() {
        None | Some("") => 10,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "INVALID_PAGE_SIZE",
                    "page_size must be a whole number from 1 to 500",
                )
            })?,
    };
    let mut items = items;
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let start = match paging.starting_after.as_deref().filter(|s| !s.is_empty()) {
        Some(after) => items.partition_point(|(cursor, _)| cursor.as_str() <= after),
        None => 0,
    };
    let rest = &items[start.min(items.len())..];
    let taken: Vec<&(String, Value)> = rest.iter().take(size).collect();
    let has_more = rest.len() > taken.len();
    let next = taken.last().map(|(cursor, _)| cursor.clone());
    let metadata = json!({"has_more": has_more, "next_page_starting_after": next});
    Ok((
        taken.into_iter().map(|(_, v)| v.clone()).collect(),
        metadata,
    ))
}

/// The caller's membership of the token's organization.
fn membership<'t>(t: &'t Tenant, who: &Caller) -> Option<&'t Member> {
    who.org_code
        .as_deref()
        .and_then(|code| t.organization(code))
        .and_then(|org| org.member(&who.user_id))
}

fn member_roles<'t>(t: &'t Tenant, who: &Caller) -> Vec<&'t super::tenant::Role> {
    membership(t, who)
        .map(|m| m.roles.iter().filter_map(|id| t.role(id)).collect())
        .unwrap_or_default()
}

/// One page of a list of the caller's: `{"data": {field: [...]}, "metadata"}`, with the
/// token's `org_code` beside the items when `with_org`. `items` (cursor, item) are read under
/// the tenant's lock.
fn listed(
    state: &State,
    headers: &HeaderMap,
    paging: &Paging,
    field: &str,
    with_org: bool,
    items: impl FnOnce(&Tenant, &Caller) -> Vec<(String, Value)>,
) -> Result<Json<Value>, ApiError> {
    let who = caller(state, headers)?;
    let items = state.read(|t| items(t, &who));
    let (items, metadata) = page(items, paging)?;
    let mut data = serde_json::Map::new();
    if with_org {
        data.insert("org_code".into(), json!(who.org_code));
    }
    data.insert(field.into(), Value::Array(items));
    Ok(Json(json!({"data": data, "metadata": metadata})))
}

async fn roles(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    Query(paging): Query<Paging>,
) -> Result<Json<Value>, ApiError> {
    listed(&state, &headers, &paging, "roles", true, |t, who| {
        member_roles(t, who)
            .into_iter()
            .map(|r| {
                (
                    r.id.clone(),
                    json!({"id": r.id, "key": r.key, "name": r.name}),
                )
            })
            .collect()
    })
}

async fn permissions(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    Query(paging): Query<Paging>,
) -> Result<Json<Value>, ApiError> {
    listed(&state, &headers, &paging, "permissions", true, |t, who| {
        let mut ids: Vec<&String> = member_roles(t, who)
            .into_iter()
            .flat_map(|r| r.permissions.iter())
            .collect();
        if let Some(member) = membership(t, who) {
            ids.extend(member.permissions.iter());
        }
        ids.sort();
        ids.dedup();
        ids.into_iter()
            .filter_map(|id| t.permission(id))
            .map(|p| {
                (
                    p.id.clone(),
                    json!({"id": p.id, "key": p.key, "name": p.name}),
                )
            })
            .collect()
    })
}

/// A flag's value as the Account API gives it, and its type's name there.
fn flag_value(kind: &str, value: &str) -> (&'static str, Value) {
    match kind {
        "bool" | "b" | "boolean" => ("boolean", Value::Bool(value == "true")),
        "int" | "i" | "integer" => (
            "integer",
            value.parse::<i64>().map_or(Value::Null, Value::from),
        ),
        "json" | "j" | "object" => ("object", serde_json::from_str(value).unwrap_or(Value::Null)),
        _ => ("string", Value::String(value.to_string())),
    }
}

async fn feature_flags(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    Query(paging): Query<Paging>,
) -> Result<Json<Value>, ApiError> {
    listed(
        &state,
        &headers,
        &paging,
        "feature_flags",
        false,
        |t, who| {
            t.feature_flags
                .iter()
                .map(|f| {
                    let (kind, value) = flag_value(
                        &f.kind,
                        f.value_for(who.org_code.as_deref(), Some(&who.user_id)),
                    );
                    (
                        f.key.clone(),
                        json!({"key": f.key, "name": f.name, "type": kind, "value": value}),
                    )
                })
                .collect()
        },
    )
}

async fn properties(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    Query(paging): Query<Paging>,
) -> Result<Json<Value>, ApiError> {
    listed(&state, &headers, &paging, "properties", false, |t, who| {
        t.properties
            .iter()
            .filter(|p| p.context == "usr" && !p.is_private)
            .filter_map(|p| {
                let value = p.values.get(&who.user_id)?;
                Some((
                    p.id.clone(),
                    json!({"id": p.id, "key": p.key, "name": p.name, "value": value}),
                ))
            })
            .collect()
    })
}

async fn entitlements(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    Query(paging): Query<Paging>,
) -> Result<Json<Value>, ApiError> {
    let who = caller(&state, &headers)?;
    let (_, metadata) = page(Vec::new(), &paging)?;
    Ok(Json(json!({
        "data": {"org_code": who.org_code, "plans": [], "entitlements": []},
        "metadata": metadata,
    })))
}

async fn entitlement(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    caller(&state, &headers)?;
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "ENTITLEMENT_NOT_FOUND",
        "No such entitlement: the emulator has no billing plans",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<(String, Value)> {
        (0..n)
            .rev()
            .map(|i| (format!("id_{i:02}"), json!(i)))
            .collect()
    }

    fn paging(size: Option<&str>, after: Option<&str>) -> Paging {
        Paging {
            page_size: size.map(String::from),
            starting_after: after.map(String::from),
        }
    }

    #[test]
    fn pages_follow_the_cursor_to_the_end() {
        let (first, meta) = page(items(25), &paging(None, None)).unwrap();
        assert_eq!(first.len(), 10);
        assert_eq!(first[0], json!(0));
        assert_eq!(
            meta,
            json!({"has_more": true, "next_page_starting_after": "id_09"})
        );
        let (last, meta) = page(items(25), &paging(Some("20"), Some("id_09"))).unwrap();
        assert_eq!(last.len(), 15);
        assert_eq!(last[0], json!(10));
        assert_eq!(meta["has_more"], false);
        let (none, meta) = page(Vec::new(), &paging(None, None)).unwrap();
        assert!(none.is_empty());
        assert_eq!(
            meta,
            json!({"has_more": false, "next_page_starting_after": null})
        );
        assert!(page(items(3), &paging(Some("0"), None)).is_err());
        assert!(page(items(3), &paging(Some("ten"), None)).is_err());
    }

    #[test]
    fn flag_values_take_the_account_apis_type_names() {
        assert_eq!(flag_value("bool", "true"), ("boolean", json!(true)));
        assert_eq!(flag_value("int", "42"), ("integer", json!(42)));
        assert_eq!(flag_value("str", "dark"), ("string", json!("dark")));
        assert_eq!(flag_value("json", "{\"a\":1}"), ("object", json!({"a": 1})));
    }
}
