//! Feature flags: create, update, delete, and overrides for the environment, an organization
//! and a user. Values travel as strings in the API and are checked against the flag's type.

use std::collections::BTreeMap;

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::routing::{patch, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::Shared;
use super::body::{Body, Nothing, Success, success};
use super::params::{Path, Query};
use crate::emulator::error::ApiError;
use crate::emulator::tenant::{Extra, FeatureFlag, Tenant};

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/feature_flags", post(create_flag))
        .route(
            "/api/v1/feature_flags/{key}",
            put(update_flag).delete(delete_flag),
        )
        .route(
            "/api/v1/environment/feature_flags",
            axum::routing::get(environment_flags).delete(clear_environment),
        )
        .route(
            "/api/v1/environment/feature_flags/{key}",
            patch(set_environment).delete(unset_environment),
        )
        .route(
            "/api/v1/organizations/{org_code}/feature_flags",
            axum::routing::get(organization_flags).delete(clear_organization),
        )
        .route(
            "/api/v1/organizations/{org_code}/feature_flags/{key}",
            patch(set_organization).delete(unset_organization),
        )
        .route(
            "/api/v1/users/{user_id}/feature_flags/{key}",
            patch(set_user),
        )
}

/// Kinde's answer for an unknown flag key.
pub(super) fn no_flag(key: &str) -> ApiError {
    ApiError::bad_request(
        "FEATURE_FLAG_INVALID",
        format!("No feature flag with key {key}"),
    )
}

/// `value` as stored for a flag of type `kind`, or Kinde's 400: booleans `true`/`false`,
/// integers 32-bit signed with decimals cut off, strings as they are.
pub(super) fn checked_value(kind: &str, value: &str) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "INVALID_FEATURE_FLAG_VALUE",
            format!("{value:?} is not a valid value for a flag of type {kind}"),
        )
    };
    match kind {
        "bool" => match value.trim().to_ascii_lowercase().as_str() {
            v @ ("true" | "false") => Ok(v.to_string()),
            _ => Err(invalid()),
        },
        "int" => {
            let whole = value.trim().split('.').next().unwrap_or("");
            whole
                .parse::<i32>()
                .map(|n| n.to_string())
                .map_err(|_| invalid())
        }
        _ => Ok(value.to_string()),
    }
}

/// An override at `level` (`org` or `usr`) the flag does not allow is refused.
fn check_level(flag: &FeatureFlag, level: &str) -> Result<(), ApiError> {
    let allowed = match flag.allow_override_level.as_str() {
        "env" => level == "env",
        "org" => level != "usr",
        _ => true,
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "FEATURE_FLAG_OVERRIDE_NOT_ALLOWED",
            format!(
                "Flag {} cannot be overridden at the {level} level (allow_override_level is {})",
                flag.key, flag.allow_override_level
            ),
        ))
    }
}

fn find_mut<'a>(t: &'a mut Tenant, key: &str) -> Result<&'a mut FeatureFlag, ApiError> {
    t.feature_flag_mut(key).ok_or_else(|| no_flag(key))
}

#[derive(Deserialize)]
struct CreateFlag {
    name: Option<String>,
    description: Option<String>,
    key: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    allow_override_level: Option<String>,
    default_value: Option<String>,
}

fn required(value: Option<String>, field: &str) -> Result<String, ApiError> {
    value.filter(|v| !v.trim().is_empty()).ok_or_else(|| {
        ApiError::bad_request(
            format!("{}_REQUIRED", field.to_uppercase()),
            format!("{field} is required"),
        )
    })
}

fn check_kind(kind: &str) -> Result<(), ApiError> {
    match kind {
        "str" | "int" | "bool" => Ok(()),
        other => Err(ApiError::bad_request(
            "INVALID_FEATURE_FLAG_TYPE",
            format!("type must be str, int or bool, not {other:?} (JSON flags are dashboard-only)"),
        )),
    }
}

fn check_override_level(level: &str) -> Result<(), ApiError> {
    match level {
        "env" | "org" | "usr" => Ok(()),
        other => Err(ApiError::bad_request(
            "INVALID_OVERRIDE_LEVEL",
            format!("allow_override_level must be env, org or usr, not {other:?}"),
        )),
    }
}

async fn create_flag(
    AxumState(state): AxumState<Shared>,
    Body(body): Body<CreateFlag>,
) -> Result<(StatusCode, Json<Success<Nothing>>), ApiError> {
    let key = required(body.key, "key")?;
    let kind = required(body.kind, "type")?;
    check_kind(&kind)?;
    let level = body.allow_override_level.unwrap_or_else(|| "usr".into());
    check_override_level(&level)?;
    let default_value = checked_value(
        &kind,
        &body.default_value.ok_or_else(|| {
            ApiError::bad_request("DEFAULT_VALUE_REQUIRED", "default_value is required")
        })?,
    )?;
    let flag = FeatureFlag {
        name: required(body.name, "name")?,
        description: body.description.unwrap_or_default(),
        key,
        kind,
        allow_override_level: level,
        default_value,
        environment_value: None,
        organization_values: BTreeMap::new(),
        user_values: BTreeMap::new(),
        extra: Extra::new(),
    };
    state.update(|t| {
        if t.feature_flag(&flag.key).is_some() {
            return Err(ApiError::bad_request(
                "FEATURE_FLAG_KEY_ALREADY_EXISTS",
                format!("A feature flag with key {} already exists", flag.key),
            ));
        }
        t.feature_flags.push(flag);
        Ok(())
    })?;
    Ok((StatusCode::CREATED, success(Nothing {})))
}

/// `PUT /api/v1/feature_flags/{key}`: all fields in the query. Only name, description and
/// default value may change; a different type or override level is refused.
#[derive(Deserialize)]
struct UpdateFlag {
    name: Option<String>,
    description: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    allow_override_level: Option<String>,
    default_value: Option<String>,
}

async fn update_flag(
    AxumState(state): AxumState<Shared>,
    Path(key): Path<String>,
    Query(query): Query<UpdateFlag>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        let flag = find_mut(t, &key)?;
        let fixed = |given: &Option<String>, current: &str, field: &str| match given {
            Some(v) if !v.is_empty() && v != current => Err(ApiError::bad_request(
                "FEATURE_FLAG_FIELD_IMMUTABLE",
                format!("{field} of a feature flag cannot be changed after creation"),
            )),
            _ => Ok(()),
        };
        fixed(&query.kind, &flag.kind, "type")?;
        fixed(
            &query.allow_override_level,
            &flag.allow_override_level,
            "allow_override_level",
        )?;
        if let Some(value) = &query.default_value {
            flag.default_value = checked_value(&flag.kind, value)?;
        }
        if let Some(name) = query.name.filter(|n| !n.trim().is_empty()) {
            flag.name = name;
        }
        if let Some(description) = query.description {
            flag.description = description;
        }
        Ok(())
    })?;
    Ok(success(Nothing {}))
}

/// The flag goes with all its overrides.
async fn delete_flag(
    AxumState(state): AxumState<Shared>,
    Path(key): Path<String>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        if t.feature_flag(&key).is_none() {
            return Err(no_flag(&key));
        }
        t.feature_flags.retain(|f| f.key != key);
        Ok(())
    })?;
    Ok(success(Nothing {}))
}

/// One flag's value at a level: `{type, value}` with the value as a string.
#[derive(Serialize)]
struct FlagValue {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

#[derive(Serialize)]
struct FlagValues {
    feature_flags: BTreeMap<String, FlagValue>,
}

fn values(t: &Tenant, org: Option<&str>) -> FlagValues {
    FlagValues {
        feature_flags: t
            .feature_flags
            .iter()
            .map(|f| {
                (
                    f.key.clone(),
                    FlagValue {
                        kind: f.kind.clone(),
                        value: f.value_for(org, None).to_string(),
                    },
                )
            })
            .collect(),
    }
}

async fn environment_flags(AxumState(state): AxumState<Shared>) -> Json<Success<FlagValues>> {
    success(state.read(|t| values(t, None)))
}

async fn clear_environment(AxumState(state): AxumState<Shared>) -> Json<Success<Nothing>> {
    state.update(|t| {
        for flag in &mut t.feature_flags {
            flag.environment_value = None;
        }
    });
    success(Nothing {})
}

#[derive(Deserialize)]
struct Value {
    value: Option<String>,
}

fn given(value: Option<String>) -> Result<String, ApiError> {
    value.ok_or_else(|| ApiError::bad_request("VALUE_REQUIRED", "value is required"))
}

async fn set_environment(
    AxumState(state): AxumState<Shared>,
    Path(key): Path<String>,
    Body(body): Body<Value>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    let value = given(body.value)?;
    state.update(|t| {
        let flag = find_mut(t, &key)?;
        flag.environment_value = Some(checked_value(&flag.kind, &value)?);
        Ok(())
    })?;
    Ok(success(Nothing {}))
}

async fn unset_environment(
    AxumState(state): AxumState<Shared>,
    Path(key): Path<String>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        find_mut(t, &key)?.environment_value = None;
        Ok(())
    })?;
    Ok(success(Nothing {}))
}

async fn organization_flags(
    AxumState(state): AxumState<Shared>,
    Path(code): Path<String>,
) -> Result<Json<Success<FlagValues>>, ApiError> {
    let flags = state.read(|t| {
        super::orgs::find(t, &code)?;
        Ok::<_, ApiError>(values(t, Some(&code)))
    })?;
    Ok(success(flags))
}

async fn clear_organization(
    AxumState(state): AxumState<Shared>,
    Path(code): Path<String>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        super::orgs::find(t, &code)?;
        for flag in &mut t.feature_flags {
            flag.organization_values.remove(&code);
        }
        Ok(())
    })?;
    Ok(success(Nothing {}))
}

async fn set_organization(
    AxumState(state): AxumState<Shared>,
    Path((code, key)): Path<(String, String)>,
    Query(query): Query<Value>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    let value = given(query.value)?;
    state.update(|t| {
        super::orgs::find(t, &code)?;
        let flag = find_mut(t, &key)?;
        check_level(flag, "org")?;
        let value = checked_value(&flag.kind, &value)?;
        flag.organization_values.insert(code.clone(), value);
        Ok(())
    })?;
    Ok(success(Nothing {}))
}

async fn unset_organization(
    AxumState(state): AxumState<Shared>,
    Path((code, key)): Path<(String, String)>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        super::orgs::find(t, &code)?;
        find_mut(t, &key)?.organization_values.remove(&code);
        Ok(())
    })?;
    Ok(success(Nothing {}))
}

async fn set_user(
    AxumState(state): AxumState<Shared>,
    Path((user_id, key)): Path<(String, String)>,
    Query(query): Query<Value>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    let value = given(query.value)?;
    state.update(|t| {
        if t.user(&user_id).is_none() {
            return Err(ApiError::bad_request(
                "USER_INVALID",
                format!("No user with id {user_id}"),
            ));
        }
        let flag = find_mut(t, &key)?;
        check_level(flag, "usr")?;
        let value = checked_value(&flag.kind, &value)?;
        flag.user_values.insert(user_id.clone(), value);
        Ok(())
    })?;
    Ok(success(Nothing {}))
}
