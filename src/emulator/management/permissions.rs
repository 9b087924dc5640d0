//! Permissions: list, create, update, delete. Deleting one takes it from roles and members.

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::Shared;
use super::body::{Body, Nothing, Success, success};
use super::page::PageQuery;
use super::params::{Path, Query};
use super::roles::PermissionBody;
use crate::emulator::error::ApiError;
use crate::emulator::tenant::{Extra, Permission, random_uuid};
use crate::emulator::webhooks::{self, Source};

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/v1/permissions",
            get(list_permissions).post(create_permission),
        )
        .route(
            "/api/v1/permissions/{permission_id}",
            patch(update_permission).delete(delete_permission),
        )
}

/// Kinde's answer for an unknown permission id (the code Kinde's Terraform provider handles).
pub(super) fn no_permission(id: &str) -> ApiError {
    ApiError::bad_request(
        "INVALID_PERMISSION_ID",
        format!("No permission with id {id}"),
    )
}

#[derive(Serialize)]
struct PermissionList {
    permissions: Vec<PermissionBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Deserialize)]
struct SortQuery {
    sort: Option<String>,
}

async fn list_permissions(
    AxumState(state): AxumState<Shared>,
    Query(paging): Query<PageQuery>,
    Query(sort): Query<SortQuery>,
) -> Result<Json<Success<PermissionList>>, ApiError> {
    let window = paging.window()?;
    let (permissions, next_token) = state.read(|t| {
        let mut all: Vec<&Permission> = t.permissions.iter().collect();
        match sort.sort.as_deref() {
            Some("name_asc") => all.sort_by_key(|p| p.name.to_lowercase()),
            Some("name_desc") => all.sort_by_key(|p| std::cmp::Reverse(p.name.to_lowercase())),
            _ => {}
        }
        window.cut(all.into_iter().map(|p| PermissionBody {
            id: p.id.clone(),
            key: p.key.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
        }))
    });
    Ok(success(PermissionList {
        permissions,
        next_token,
    }))
}

#[derive(Deserialize)]
struct PermissionFields {
    name: Option<String>,
    description: Option<String>,
    key: Option<String>,
}

/// Kinde's answer for a key already taken (the exact code is not published).
fn key_taken(key: &str) -> ApiError {
    ApiError::bad_request(
        "PERMISSION_KEY_ALREADY_EXISTS",
        format!("A permission with key {key} already exists"),
    )
}

async fn create_permission(
    AxumState(state): AxumState<Shared>,
    Body(body): Body<PermissionFields>,
) -> Result<(StatusCode, Json<Success<Nothing>>), ApiError> {
    let key = body
        .key
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("KEY_REQUIRED", "key is required"))?;
    let permission = Permission {
        id: random_uuid(),
        name: body
            .name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| key.clone()),
        key,
        description: body.description.unwrap_or_default(),
        extra: Extra::new(),
    };
    let id = permission.id.clone();
    state.update(|t| {
        if t.permissions.iter().any(|p| p.key == permission.key) {
            return Err(key_taken(&permission.key));
        }
        t.permissions.push(permission);
        Ok(())
    })?;
    webhooks::emit(&state, "permission.created", Source::Api, &id);
    Ok((StatusCode::CREATED, success(Nothing {})))
}

async fn update_permission(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    Body(body): Body<PermissionFields>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        if let Some(key) = &body.key
            && t.permissions.iter().any(|p| &p.key == key && p.id != id)
        {
            return Err(key_taken(key));
        }
        let permission = t
            .permissions
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(|| no_permission(&id))?;
        if let Some(key) = body.key.filter(|k| !k.trim().is_empty()) {
            permission.key = key;
        }
        if let Some(name) = body.name.filter(|n| !n.trim().is_empty()) {
            permission.name = name;
        }
        if let Some(description) = body.description {
            permission.description = description;
        }
        Ok(())
    })?;
    webhooks::emit(&state, "permission.updated", Source::Api, &id);
    Ok(success(Nothing {}))
}

async fn delete_permission(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        if t.permission(&id).is_none() {
            return Err(no_permission(&id));
        }
        t.permissions.retain(|p| p.id != id);
        for role in &mut t.roles {
            role.permissions.retain(|p| *p != id);
        }
        for org in &mut t.organizations {
            for member in &mut org.members {
                member.permissions.retain(|p| *p != id);
            }
        }
        Ok(())
    })?;
    webhooks::emit(&state, "permission.deleted", Source::Api, &id);
    Ok(success(Nothing {}))
}
