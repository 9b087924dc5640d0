//! Roles: CRUD and each role's permissions. Roles belong to the business; members hold them
//! per organization (`orgs`).

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::Shared;
use super::body::{Body, Nothing, Success, success};
use super::page::PageQuery;
use super::params::{Path, Query};
use crate::emulator::error::ApiError;
use crate::emulator::tenant::{Extra, Role, Tenant, random_uuid};
use crate::emulator::webhooks::{self, Source};

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/roles", get(list_roles).post(create_role))
        .route(
            "/api/v1/roles/{role_id}",
            get(get_role).patch(update_role).delete(delete_role),
        )
        .route(
            "/api/v1/roles/{role_id}/permissions",
            get(role_permissions).patch(update_role_permissions),
        )
        .route(
            "/api/v1/roles/{role_id}/permissions/{permission_id}",
            delete(remove_role_permission),
        )
        .route(
            "/api/v1/users/{user_id}/refresh_claims",
            axum::routing::post(refresh_claims),
        )
}

/// After a change of roles or permissions: the user's next refresh carries the new claims
/// (without this, a refresh returns the still-live access token unchanged).
async fn refresh_claims(
    AxumState(state): AxumState<Shared>,
    Path(user_id): Path<String>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    if state.read(|t| t.user(&user_id).is_none()) {
        return Err(ApiError::bad_request(
            "USER_INVALID",
            format!("No user with id {user_id}"),
        ));
    }
    crate::emulator::login::refresh_claims(&state, &user_id);
    Ok(success(Nothing {}))
}

/// Kinde's answer for an unknown role id.
pub(super) fn no_role(id: &str) -> ApiError {
    ApiError::bad_request("ROLE_INVALID", format!("No role with id {id}"))
}

fn find<'a>(t: &'a Tenant, id: &str) -> Result<&'a Role, ApiError> {
    t.role(id).ok_or_else(|| no_role(id))
}

fn find_mut<'a>(t: &'a mut Tenant, id: &str) -> Result<&'a mut Role, ApiError> {
    t.roles
        .iter_mut()
        .find(|r| r.id == id)
        .ok_or_else(|| no_role(id))
}

/// A role as the API shows it.
#[derive(Serialize)]
struct RoleBody {
    id: String,
    key: String,
    name: String,
    /// Left out when unset: `get_role_response` does not allow null here.
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    is_default_role: bool,
}

impl RoleBody {
    fn of(role: &Role) -> Self {
        RoleBody {
            id: role.id.clone(),
            key: role.key.clone(),
            name: role.name.clone(),
            description: role.description.clone(),
            is_default_role: role.is_default_role,
        }
    }
}

#[derive(Serialize)]
struct RoleList {
    roles: Vec<RoleBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Deserialize)]
struct SortQuery {
    sort: Option<String>,
}

async fn list_roles(
    AxumState(state): AxumState<Shared>,
    Query(paging): Query<PageQuery>,
    Query(sort): Query<SortQuery>,
) -> Result<Json<Success<RoleList>>, ApiError> {
    let window = paging.window()?;
    let (roles, next_token) = state.read(|t| {
        let mut roles: Vec<&Role> = t.roles.iter().collect();
        match sort.sort.as_deref() {
            Some("name_asc") => roles.sort_by_key(|r| r.name.to_lowercase()),
            Some("name_desc") => roles.sort_by_key(|r| std::cmp::Reverse(r.name.to_lowercase())),
            _ => {}
        }
        window.cut(roles.into_iter().map(RoleBody::of))
    });
    Ok(success(RoleList { roles, next_token }))
}

#[derive(Serialize)]
struct OneRole {
    role: RoleBody,
}

async fn get_role(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Success<OneRole>>, ApiError> {
    let role = state.read(|t| find(t, &id).map(RoleBody::of))?;
    Ok(success(OneRole { role }))
}

/// `POST /api/v1/roles` and `PATCH /api/v1/roles/{role_id}`.
#[derive(Deserialize)]
struct RoleFields {
    name: Option<String>,
    description: Option<String>,
    key: Option<String>,
    is_default_role: Option<bool>,
}

fn required(value: Option<String>, field: &str) -> Result<String, ApiError> {
    value.filter(|v| !v.trim().is_empty()).ok_or_else(|| {
        ApiError::bad_request(
            format!("{}_REQUIRED", field.to_uppercase()),
            format!("{field} is required"),
        )
    })
}

/// Kinde's answer for a key already taken (the exact code is not published).
fn key_taken(key: &str) -> ApiError {
    ApiError::bad_request(
        "ROLE_KEY_ALREADY_EXISTS",
        format!("A role with key {key} already exists"),
    )
}

#[derive(Serialize)]
struct CreatedRole {
    role: NewId,
}

#[derive(Serialize)]
pub(super) struct NewId {
    pub(super) id: String,
}

async fn create_role(
    AxumState(state): AxumState<Shared>,
    Body(body): Body<RoleFields>,
) -> Result<(StatusCode, Json<Success<CreatedRole>>), ApiError> {
    let role = Role {
        id: random_uuid(),
        key: required(body.key, "key")?,
        name: required(body.name, "name")?,
        description: body.description,
        is_default_role: body.is_default_role.unwrap_or(false),
        permissions: Vec::new(),
        extra: Extra::new(),
    };
    let id = role.id.clone();
    state.update(|t| {
        if t.roles.iter().any(|r| r.key == role.key) {
            return Err(key_taken(&role.key));
        }
        t.roles.push(role);
        Ok(())
    })?;
    webhooks::emit(&state, "role.created", Source::Api, &id);
    Ok((
        StatusCode::CREATED,
        success(CreatedRole { role: NewId { id } }),
    ))
}

async fn update_role(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    Body(body): Body<RoleFields>,
) -> Result<(StatusCode, Json<Success<Nothing>>), ApiError> {
    let key = required(body.key, "key")?;
    let name = required(body.name, "name")?;
    state.update(|t| {
        if t.roles.iter().any(|r| r.key == key && r.id != id) {
            return Err(key_taken(&key));
        }
        let role = find_mut(t, &id)?;
        role.key = key;
        role.name = name;
        // Kinde's Terraform provider notes a description cannot be reset to empty.
        if let Some(description) = body.description.filter(|d| !d.is_empty()) {
            role.description = Some(description);
        }
        if let Some(default) = body.is_default_role {
            role.is_default_role = default;
        }
        Ok(())
    })?;
    webhooks::emit(&state, "role.updated", Source::Api, &id);
    Ok((StatusCode::CREATED, success(Nothing {})))
}

/// The role goes, and with it from every member who held it.
async fn delete_role(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        find(t, &id)?;
        t.roles.retain(|r| r.id != id);
        for org in &mut t.organizations {
            for member in &mut org.members {
                member.roles.retain(|r| *r != id);
            }
        }
        Ok(())
    })?;
    webhooks::emit(&state, "role.deleted", Source::Api, &id);
    Ok(success(Nothing {}))
}

#[derive(Serialize)]
pub(super) struct PermissionBody {
    pub(super) id: String,
    pub(super) key: String,
    pub(super) name: String,
    pub(super) description: String,
}

#[derive(Serialize)]
struct PermissionList {
    permissions: Vec<PermissionBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

async fn role_permissions(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    Query(paging): Query<PageQuery>,
) -> Result<Json<Success<PermissionList>>, ApiError> {
    let window = paging.window()?;
    let (permissions, next_token) = state.read(|t| {
        let role = find(t, &id)?;
        Ok::<_, ApiError>(window.cut(role.permissions.iter().filter_map(|p| {
            t.permission(p).map(|p| PermissionBody {
                id: p.id.clone(),
                key: p.key.clone(),
                name: p.name.clone(),
                description: p.description.clone(),
            })
        })))
    })?;
    Ok(success(PermissionList {
        permissions,
        next_token,
    }))
}

#[derive(Deserialize)]
struct PermissionChange {
    id: String,
    operation: Option<String>,
}

#[derive(Deserialize)]
struct PermissionChanges {
    #[serde(default)]
    permissions: Vec<PermissionChange>,
}

#[derive(Serialize)]
struct ChangedPermissions {
    permissions_added: Vec<String>,
    permissions_removed: Vec<String>,
}

async fn update_role_permissions(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    Body(body): Body<PermissionChanges>,
) -> Result<Json<Success<ChangedPermissions>>, ApiError> {
    let changed = state.update(|t| {
        find(t, &id)?;
        if let Some(unknown) = body
            .permissions
            .iter()
            .find(|c| t.permission(&c.id).is_none())
        {
            return Err(super::permissions::no_permission(&unknown.id));
        }
        let role = find_mut(t, &id)?;
        let mut out = ChangedPermissions {
            permissions_added: Vec::new(),
            permissions_removed: Vec::new(),
        };
        for change in &body.permissions {
            if change.operation.as_deref() == Some("delete") {
                if role.permissions.contains(&change.id) {
                    role.permissions.retain(|p| *p != change.id);
                    out.permissions_removed.push(change.id.clone());
                }
            } else if !role.permissions.contains(&change.id) {
                role.permissions.push(change.id.clone());
                out.permissions_added.push(change.id.clone());
            }
        }
        Ok(out)
    })?;
    Ok(success(changed))
}

/// Removing a permission the role does not have is `INVALID_PERMISSION_ID_ROLE` (the code
/// Kinde's Terraform provider treats as already done).
async fn remove_role_permission(
    AxumState(state): AxumState<Shared>,
    Path((id, permission_id)): Path<(String, String)>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        let role = find_mut(t, &id)?;
        if !role.permissions.contains(&permission_id) {
            return Err(ApiError::bad_request(
                "INVALID_PERMISSION_ID_ROLE",
                format!("Role {id} does not have permission {permission_id}"),
            ));
        }
        role.permissions.retain(|p| *p != permission_id);
        Ok(())
    })?;
    Ok(success(Nothing {}))
}
