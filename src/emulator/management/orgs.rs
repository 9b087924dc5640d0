//! Organizations: CRUD, members, each member's roles and direct permissions. Feature-flag
//! overrides, property values and logos of an organization live in `flags`, `properties` and
//! `logos`.

use axum::extract::State as AxumState;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::Shared;
use super::body::{Body, Nothing, Success, success};
use super::page::PageQuery;
use super::params::{Path, Query};
use crate::emulator::error::ApiError;
use crate::emulator::tenant::{Member, Organization, Tenant};
use crate::emulator::webhooks::{self, Source};

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/v1/organization",
            get(get_organization).post(create_organization),
        )
        .route("/api/v1/organizations", get(list_organizations))
        .route(
            "/api/v1/organization/{org_code}",
            axum::routing::patch(update_organization).delete(delete_organization),
        )
        .route(
            "/api/v1/organizations/{org_code}/users",
            get(list_members).post(add_members).patch(update_members),
        )
        .route(
            "/api/v1/organizations/{org_code}/users/{user_id}",
            delete(remove_member),
        )
        .route(
            "/api/v1/organizations/{org_code}/users/{user_id}/roles",
            get(member_roles).post(add_member_role),
        )
        .route(
            "/api/v1/organizations/{org_code}/users/{user_id}/roles/{role_id}",
            delete(remove_member_role),
        )
        .route(
            "/api/v1/organizations/{org_code}/users/{user_id}/permissions",
            get(member_permissions).post(add_member_permission),
        )
        .route(
            "/api/v1/organizations/{org_code}/users/{user_id}/permissions/{permission_id}",
            delete(remove_member_permission),
        )
}

/// Kinde's answer for an unknown org code.
pub(super) fn no_org(code: &str) -> ApiError {
    ApiError::bad_request(
        "ORGANIZATION_INVALID",
        format!("No organization with code {code}"),
    )
}

/// Kinde's answer for a user who is not a member (the code Kinde's Terraform provider handles).
fn not_member(user_id: &str, code: &str) -> ApiError {
    ApiError::bad_request(
        "USER_NOT_IN_ORGANIZATION",
        format!("User {user_id} is not a member of organization {code}"),
    )
}

/// The organization `code` of `tenant`, or Kinde's 400.
pub(super) fn find<'a>(tenant: &'a Tenant, code: &str) -> Result<&'a Organization, ApiError> {
    tenant.organization(code).ok_or_else(|| no_org(code))
}

/// The organization `code`, to change, or Kinde's 400.
fn find_mut<'a>(tenant: &'a mut Tenant, code: &str) -> Result<&'a mut Organization, ApiError> {
    tenant.organization_mut(code).ok_or_else(|| no_org(code))
}

/// The membership of `user_id` in `code`, to change, or Kinde's 400.
fn member_mut<'a>(
    tenant: &'a mut Tenant,
    code: &str,
    user_id: &str,
) -> Result<&'a mut Member, ApiError> {
    find_mut(tenant, code)?
        .member_mut(user_id)
        .ok_or_else(|| not_member(user_id, code))
}

/// `GET /api/v1/organization`: the organization itself, no envelope (its `code` is the org's).
#[derive(Serialize)]
struct OrganizationBody {
    code: String,
    name: String,
    handle: Option<String>,
    is_default: bool,
    external_id: Option<String>,
    is_auto_membership_enabled: bool,
    logo: Option<String>,
    logo_dark: Option<String>,
    favicon_svg: Option<String>,
    favicon_fallback: Option<String>,
    allowed_domains: Vec<String>,
    created_on: String,
    is_allow_registrations: Option<bool>,
    is_suspended: bool,
    suspended_on: Option<String>,
}

impl OrganizationBody {
    fn of(org: &Organization, issuer: &str) -> Self {
        let logo = |kind: &str| {
            org.logos
                .get(kind)
                .map(|logo| super::logos::url(issuer, Some(&org.code), kind, logo))
        };
        OrganizationBody {
            code: org.code.clone(),
            name: org.name.clone(),
            handle: org.handle.clone(),
            is_default: org.is_default,
            external_id: org.external_id.clone(),
            is_auto_membership_enabled: org.is_auto_membership_enabled,
            logo: logo("light"),
            logo_dark: logo("dark"),
            favicon_svg: None,
            favicon_fallback: None,
            allowed_domains: org.allowed_domains.clone(),
            created_on: org.created_on.clone(),
            is_allow_registrations: Some(org.is_auto_membership_enabled),
            is_suspended: org.is_suspended,
            suspended_on: org.suspended_on.clone(),
        }
    }
}

#[derive(Deserialize)]
struct CodeQuery {
    code: Option<String>,
}

/// `code` is required by the spec (older generated SDKs had it optional), so without it the
/// answer is the 400 every other missing required parameter gets.
async fn get_organization(
    AxumState(state): AxumState<Shared>,
    Query(query): Query<CodeQuery>,
) -> Result<Json<OrganizationBody>, ApiError> {
    let code = query.code.filter(|c| !c.is_empty()).ok_or_else(|| {
        ApiError::bad_request("MISSING_PARAMETER", "The code query parameter is required")
    })?;
    let issuer = state.issuer();
    state.read(|t| Ok(Json(OrganizationBody::of(find(t, &code)?, issuer))))
}

/// One entry of `GET /api/v1/organizations`.
#[derive(Serialize)]
struct OrganizationItem {
    code: String,
    name: String,
    handle: Option<String>,
    is_default: bool,
    external_id: Option<String>,
    is_auto_membership_enabled: bool,
}

#[derive(Serialize)]
struct OrganizationList {
    organizations: Vec<OrganizationItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Deserialize)]
struct SortQuery {
    sort: Option<String>,
}

async fn list_organizations(
    AxumState(state): AxumState<Shared>,
    Query(paging): Query<PageQuery>,
    Query(sort): Query<SortQuery>,
) -> Result<Json<Success<OrganizationList>>, ApiError> {
    let window = paging.window()?;
    let (organizations, next_token) = state.read(|t| {
        let mut orgs: Vec<&Organization> = t.organizations.iter().collect();
        match sort.sort.as_deref() {
            Some("name_asc") => orgs.sort_by_key(|o| o.name.to_lowercase()),
            Some("name_desc") => {
                orgs.sort_by_key(|o| std::cmp::Reverse(o.name.to_lowercase()));
            }
            _ => {}
        }
        window.cut(orgs.into_iter().map(|o| OrganizationItem {
            code: o.code.clone(),
            name: o.name.clone(),
            handle: o.handle.clone(),
            is_default: o.is_default,
            external_id: o.external_id.clone(),
            is_auto_membership_enabled: o.is_auto_membership_enabled,
        }))
    });
    Ok(success(OrganizationList {
        organizations,
        next_token,
    }))
}

/// `POST /api/v1/organization`, the fields the emulator keeps.
#[derive(Deserialize)]
struct CreateOrganization {
    name: Option<String>,
    external_id: Option<String>,
    handle: Option<String>,
    is_allow_registrations: Option<bool>,
    is_auto_membership_enabled: Option<bool>,
    /// Flag key → value, set as organization overrides.
    #[serde(default)]
    feature_flags: std::collections::BTreeMap<String, String>,
}

#[derive(Serialize)]
struct CreatedOrganization {
    organization: NewCode,
}

#[derive(Serialize)]
struct NewCode {
    code: String,
}

async fn create_organization(
    AxumState(state): AxumState<Shared>,
    Body(body): Body<CreateOrganization>,
) -> Result<Json<Success<CreatedOrganization>>, ApiError> {
    let name = body
        .name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("NAME_REQUIRED", "name is required"))?;
    let mut org = Organization::new(&name);
    org.external_id = body.external_id;
    org.handle = body.handle;
    org.is_auto_membership_enabled = body
        .is_auto_membership_enabled
        .or(body.is_allow_registrations)
        .unwrap_or(false);
    let code = org.code.clone();
    state.update(|t| {
        for key in body.feature_flags.keys() {
            if t.feature_flag(key).is_none() {
                return Err(super::flags::no_flag(key));
            }
        }
        for (key, value) in &body.feature_flags {
            if let Some(flag) = t.feature_flag_mut(key) {
                let value = super::flags::checked_value(&flag.kind, value)?;
                flag.organization_values.insert(code.clone(), value);
            }
        }
        t.organizations.push(org);
        Ok(())
    })?;
    webhooks::emit(&state, "organization.created", Source::Api, &code);
    Ok(success(CreatedOrganization {
        organization: NewCode { code },
    }))
}

/// `PATCH /api/v1/organization/{org_code}`, the fields the emulator keeps.
#[derive(Deserialize)]
struct UpdateOrganization {
    name: Option<String>,
    external_id: Option<String>,
    handle: Option<String>,
    is_allow_registrations: Option<bool>,
    is_auto_membership_enabled: Option<bool>,
    allowed_domains: Option<Vec<String>>,
    is_auto_join_domain_list: Option<bool>,
    is_suspended: Option<bool>,
}

async fn update_organization(
    AxumState(state): AxumState<Shared>,
    Path(code): Path<String>,
    Body(body): Body<UpdateOrganization>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    let body_suspends = body.is_suspended == Some(true);
    state.update(|t| {
        let org = find_mut(t, &code)?;
        if body.is_suspended == Some(true) && org.is_default {
            return Err(ApiError::bad_request(
                "DEFAULT_ORGANIZATION_CANNOT_BE_SUSPENDED",
                "The default organization cannot be suspended",
            ));
        }
        if let Some(name) = body.name.filter(|n| !n.trim().is_empty()) {
            org.name = name;
        }
        if let Some(id) = body.external_id {
            org.external_id = Some(id);
        }
        if let Some(handle) = body.handle {
            org.handle = Some(handle);
        }
        if let Some(on) = body
            .is_auto_membership_enabled
            .or(body.is_allow_registrations)
        {
            org.is_auto_membership_enabled = on;
        }
        if let Some(domains) = body.allowed_domains {
            org.allowed_domains = domains;
        }
        if let Some(on) = body.is_auto_join_domain_list {
            org.is_auto_join_domain_list = on;
        }
        if let Some(suspended) = body.is_suspended {
            org.suspended_on = suspended.then(|| {
                humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
            });
            org.is_suspended = suspended;
        }
        Ok(())
    })?;
    if body_suspends {
        crate::emulator::login::end_organization(&state, &code);
    }
    webhooks::emit(&state, "organization.updated", Source::Api, &code);
    Ok(success(Nothing {}))
}

/// Members leave with it (they stay in Kinde), and its flag overrides and property values go.
async fn delete_organization(
    AxumState(state): AxumState<Shared>,
    Path(code): Path<String>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        let at = t
            .organizations
            .iter()
            .position(|o| o.code == code)
            .ok_or_else(|| no_org(&code))?;
        if t.organizations[at].is_default {
            return Err(ApiError::bad_request(
                "DEFAULT_ORGANIZATION_CANNOT_BE_DELETED",
                "The default organization cannot be deleted",
            ));
        }
        t.organizations.remove(at);
        for flag in &mut t.feature_flags {
            flag.organization_values.remove(&code);
        }
        for property in t.properties.iter_mut().filter(|p| p.context == "org") {
            property.values.remove(&code);
        }
        Ok(())
    })?;
    webhooks::emit(&state, "organization.deleted", Source::Api, &code);
    Ok(success(Nothing {}))
}

/// One member as `GET /api/v1/organizations/{org_code}/users` shows it.
#[derive(Serialize)]
struct MemberBody {
    id: String,
    email: Option<String>,
    full_name: String,
    last_name: Option<String>,
    first_name: Option<String>,
    picture: Option<String>,
    joined_on: String,
    last_accessed_on: Option<String>,
    is_suspended: bool,
    roles: Vec<String>,
}

#[derive(Serialize)]
struct MemberList {
    organization_users: Vec<MemberBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// Filters: comma-separated keys, all of which must match.
#[derive(Deserialize)]
struct MemberFilter {
    sort: Option<String>,
    roles: Option<String>,
    permissions: Option<String>,
}

fn keys(list: &Option<String>) -> Vec<String> {
    list.as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(String::from)
        .collect()
}

/// Role keys and permission keys (roles' and direct) of a membership.
pub(super) fn member_keys(t: &Tenant, member: &Member) -> (Vec<String>, Vec<String>) {
    let roles: Vec<_> = member.roles.iter().filter_map(|id| t.role(id)).collect();
    let mut permissions: Vec<String> = roles
        .iter()
        .flat_map(|r| r.permissions.iter())
        .chain(member.permissions.iter())
        .filter_map(|id| t.permission(id))
        .map(|p| p.key.clone())
        .collect();
    permissions.sort();
    permissions.dedup();
    (roles.iter().map(|r| r.key.clone()).collect(), permissions)
}

async fn list_members(
    AxumState(state): AxumState<Shared>,
    Path(code): Path<String>,
    Query(paging): Query<PageQuery>,
    Query(filter): Query<MemberFilter>,
) -> Result<Json<Success<MemberList>>, ApiError> {
    let window = paging.window()?;
    let (wanted_roles, wanted_permissions) = (keys(&filter.roles), keys(&filter.permissions));
    let (organization_users, next_token) = state.read(|t| {
        let org = find(t, &code)?;
        let mut members: Vec<MemberBody> = Vec::new();
        for member in &org.members {
            let Some(user) = t.user(&member.user_id) else {
                continue;
            };
            let (roles, permissions) = member_keys(t, member);
            if !wanted_roles.iter().all(|k| roles.contains(k))
                || !wanted_permissions.iter().all(|k| permissions.contains(k))
            {
                continue;
            }
            members.push(MemberBody {
                id: user.id.clone(),
                email: Some(user.email.clone()),
                full_name: format!("{} {}", user.first_name, user.last_name)
                    .trim()
                    .to_string(),
                last_name: Some(user.last_name.clone()),
                first_name: Some(user.first_name.clone()),
                picture: None,
                joined_on: member.joined_on.clone(),
                last_accessed_on: None,
                is_suspended: false,
                roles,
            });
        }
        match filter.sort.as_deref() {
            Some("name_asc") => members.sort_by_key(|m| m.full_name.to_lowercase()),
            Some("name_desc") => {
                members.sort_by_key(|m| std::cmp::Reverse(m.full_name.to_lowercase()));
            }
            Some("email_asc") => members.sort_by_key(|m| m.email.clone()),
            Some("email_desc") => members.sort_by_key(|m| std::cmp::Reverse(m.email.clone())),
            _ => {}
        }
        Ok::<_, ApiError>(window.cut(members))
    })?;
    Ok(success(MemberList {
        organization_users,
        next_token,
    }))
}

/// One user in `POST`/`PATCH /api/v1/organizations/{org_code}/users`.
#[derive(Deserialize)]
struct MemberChange {
    id: String,
    operation: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    permissions: Vec<String>,
}

#[derive(Deserialize)]
struct MemberChanges {
    #[serde(default)]
    users: Vec<MemberChange>,
}

#[derive(Serialize)]
struct Added {
    users_added: Vec<String>,
}

#[derive(Serialize)]
struct Updated {
    users_added: Vec<String>,
    users_updated: Vec<String>,
    users_removed: Vec<String>,
}

/// Role and permission ids for the keys of `change`, or Kinde's 400 naming the unknown key.
fn ids_of_keys(t: &Tenant, change: &MemberChange) -> Result<(Vec<String>, Vec<String>), ApiError> {
    let roles = change
        .roles
        .iter()
        .map(|key| {
            t.roles
                .iter()
                .find(|r| &r.key == key)
                .map(|r| r.id.clone())
                .ok_or_else(|| {
                    ApiError::bad_request("ROLE_INVALID", format!("No role with key {key}"))
                })
        })
        .collect::<Result<_, _>>()?;
    let permissions = change
        .permissions
        .iter()
        .map(|key| {
            t.permissions
                .iter()
                .find(|p| &p.key == key)
                .map(|p| p.id.clone())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "PERMISSION_INVALID",
                        format!("No permission with key {key}"),
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    Ok((roles, permissions))
}

fn check_user(t: &Tenant, id: &str) -> Result<(), ApiError> {
    t.user(id)
        .map(|_| ())
        .ok_or_else(|| ApiError::bad_request("USER_INVALID", format!("No user with id {id}")))
}

/// Apply `changes` to `code` under one lock, checked first so a bad entry changes nothing.
fn apply_changes(
    t: &mut Tenant,
    code: &str,
    changes: &[MemberChange],
) -> Result<Updated, ApiError> {
    find(t, code)?;
    if changes.len() > 100 {
        return Err(ApiError::bad_request(
            "TOO_MANY_USERS",
            "At most 100 users can be changed at once",
        ));
    }
    let mut resolved = Vec::with_capacity(changes.len());
    for change in changes {
        check_user(t, &change.id)?;
        resolved.push(ids_of_keys(t, change)?);
    }
    let org = find_mut(t, code)?;
    let mut out = Updated {
        users_added: Vec::new(),
        users_updated: Vec::new(),
        users_removed: Vec::new(),
    };
    for (change, (roles, permissions)) in changes.iter().zip(resolved) {
        if change.operation.as_deref() == Some("delete") {
            if org.member(&change.id).is_some() {
                org.members.retain(|m| m.user_id != change.id);
                out.users_removed.push(change.id.clone());
            }
            continue;
        }
        let joined = org.join(&change.id);
        if let Some(member) = org.member_mut(&change.id) {
            for role in roles {
                if !member.roles.contains(&role) {
                    member.roles.push(role);
                }
            }
            for permission in permissions {
                if !member.permissions.contains(&permission) {
                    member.permissions.push(permission);
                }
            }
        }
        if joined {
            out.users_added.push(change.id.clone());
        } else {
            out.users_updated.push(change.id.clone());
        }
    }
    Ok(out)
}

async fn add_members(
    AxumState(state): AxumState<Shared>,
    Path(code): Path<String>,
    Body(body): Body<MemberChanges>,
) -> Result<Json<Success<Added>>, ApiError> {
    let mut changes = body.users;
    for change in &mut changes {
        change.operation = None;
    }
    let updated = state.update(|t| apply_changes(t, &code, &changes))?;
    Ok(success(Added {
        users_added: updated.users_added,
    }))
}

async fn update_members(
    AxumState(state): AxumState<Shared>,
    Path(code): Path<String>,
    Body(body): Body<MemberChanges>,
) -> Result<Json<Success<Updated>>, ApiError> {
    Ok(success(
        state.update(|t| apply_changes(t, &code, &body.users))?,
    ))
}

async fn remove_member(
    AxumState(state): AxumState<Shared>,
    Path((code, user_id)): Path<(String, String)>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        let org = find_mut(t, &code)?;
        if org.member(&user_id).is_none() {
            return Err(not_member(&user_id, &code));
        }
        org.members.retain(|m| m.user_id != user_id);
        Ok(())
    })?;
    Ok(success(Nothing {}))
}

#[derive(Serialize)]
struct RoleRef {
    id: String,
    key: String,
    name: String,
}

#[derive(Serialize)]
struct RoleRefs {
    roles: Vec<RoleRef>,
}

async fn member_roles(
    AxumState(state): AxumState<Shared>,
    Path((code, user_id)): Path<(String, String)>,
) -> Result<Json<Success<RoleRefs>>, ApiError> {
    let roles = state.read(|t| {
        let member = find(t, &code)?
            .member(&user_id)
            .ok_or_else(|| not_member(&user_id, &code))?;
        Ok::<_, ApiError>(
            member
                .roles
                .iter()
                .filter_map(|id| t.role(id))
                .map(|r| RoleRef {
                    id: r.id.clone(),
                    key: r.key.clone(),
                    name: r.name.clone(),
                })
                .collect(),
        )
    })?;
    Ok(success(RoleRefs { roles }))
}

#[derive(Deserialize)]
struct RoleId {
    role_id: String,
}

async fn add_member_role(
    AxumState(state): AxumState<Shared>,
    Path((code, user_id)): Path<(String, String)>,
    Body(body): Body<RoleId>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        if t.role(&body.role_id).is_none() {
            return Err(super::roles::no_role(&body.role_id));
        }
        let member = member_mut(t, &code, &user_id)?;
        if !member.roles.contains(&body.role_id) {
            member.roles.push(body.role_id.clone());
        }
        Ok(())
    })?;
    Ok(success(Nothing {}))
}

async fn remove_member_role(
    AxumState(state): AxumState<Shared>,
    Path((code, user_id, role_id)): Path<(String, String, String)>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        let member = member_mut(t, &code, &user_id)?;
        if !member.roles.contains(&role_id) {
            return Err(super::roles::no_role(&role_id));
        }
        member.roles.retain(|r| *r != role_id);
        Ok(())
    })?;
    Ok(success(Nothing {}))
}

#[derive(Serialize)]
struct PermissionBody {
    id: String,
    key: String,
    name: String,
    description: String,
    roles: Vec<RoleKey>,
}

#[derive(Serialize)]
struct RoleKey {
    id: String,
    key: String,
}

#[derive(Serialize)]
struct PermissionList {
    permissions: Vec<PermissionBody>,
}

/// Every permission the member has in the org, each with the member's roles that grant it.
async fn member_permissions(
    AxumState(state): AxumState<Shared>,
    Path((code, user_id)): Path<(String, String)>,
) -> Result<Json<Success<PermissionList>>, ApiError> {
    let permissions = state.read(|t| {
        let member = find(t, &code)?
            .member(&user_id)
            .ok_or_else(|| not_member(&user_id, &code))?;
        let roles: Vec<_> = member.roles.iter().filter_map(|id| t.role(id)).collect();
        let mut out: Vec<PermissionBody> = Vec::new();
        for permission in &t.permissions {
            let granting: Vec<RoleKey> = roles
                .iter()
                .filter(|r| r.permissions.contains(&permission.id))
                .map(|r| RoleKey {
                    id: r.id.clone(),
                    key: r.key.clone(),
                })
                .collect();
            if granting.is_empty() && !member.permissions.contains(&permission.id) {
                continue;
            }
            out.push(PermissionBody {
                id: permission.id.clone(),
                key: permission.key.clone(),
                name: permission.name.clone(),
                description: permission.description.clone(),
                roles: granting,
            });
        }
        Ok::<_, ApiError>(out)
    })?;
    Ok(success(PermissionList { permissions }))
}

#[derive(Deserialize)]
struct PermissionId {
    permission_id: String,
}

async fn add_member_permission(
    AxumState(state): AxumState<Shared>,
    Path((code, user_id)): Path<(String, String)>,
    Body(body): Body<PermissionId>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        if t.permission(&body.permission_id).is_none() {
            return Err(super::permissions::no_permission(&body.permission_id));
        }
        let member = member_mut(t, &code, &user_id)?;
        if !member.permissions.contains(&body.permission_id) {
            member.permissions.push(body.permission_id.clone());
        }
        Ok(())
    })?;
    Ok(success(Nothing {}))
}

async fn remove_member_permission(
    AxumState(state): AxumState<Shared>,
    Path((code, user_id, permission_id)): Path<(String, String, String)>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        let member = member_mut(t, &code, &user_id)?;
        if !member.permissions.contains(&permission_id) {
            return Err(super::permissions::no_permission(&permission_id));
        }
        member.permissions.retain(|p| *p != permission_id);
        Ok(())
    })?;
    Ok(success(Nothing {}))
}
