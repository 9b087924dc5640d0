//! Users: list (filtered, paged), get one, create, update, delete. Their identities and
//! sessions are in `identities`.

use axum::extract::State as AxumState;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::Shared;
use super::body::{Body, Nothing, Success, success};
use super::page::PageQuery;
use super::params::Query;
use crate::emulator::error::ApiError;
use crate::emulator::tenant::{Identity, Tenant, User};
use crate::emulator::webhooks::{self, Source};

pub(super) fn routes() -> Router<Shared> {
    Router::new().route("/api/v1/users", get(list_users)).route(
        "/api/v1/user",
        get(get_user)
            .post(create_user)
            .patch(update_user)
            .delete(delete_user),
    )
}

/// A user as the Management API shows it, built here only. The list calls the address `email`,
/// the single-user endpoint `preferred_email`.
#[derive(Serialize)]
struct UserBody {
    id: String,
    #[serde(flatten)]
    email: Email,
    first_name: String,
    last_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    is_suspended: bool,
    created_on: String,
    total_sign_ins: u64,
    failed_sign_ins: u64,
    last_signed_in: Option<String>,
    identities: Vec<IdentityRef>,
}

/// The name the address goes by.
#[derive(Serialize)]
enum Email {
    #[serde(rename = "email")]
    Listed(String),
    #[serde(rename = "preferred_email")]
    Preferred(String),
}

/// An identity as a user's body lists it: the spec's `user.identities` items declare only
/// these two (the rest is at `/api/v1/users/{id}/identities`).
#[derive(Serialize)]
struct IdentityRef {
    #[serde(rename = "type")]
    kind: String,
    identity: String,
}

impl UserBody {
    fn of(user: &User, email: fn(String) -> Email) -> Self {
        UserBody {
            id: user.id.clone(),
            email: email(user.email.clone()),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            username: user.primary("username").map(String::from),
            phone: user.primary("phone").map(String::from),
            is_suspended: user.is_suspended,
            created_on: user.created_on.clone(),
            total_sign_ins: user.identities.iter().map(|i| i.total_logins).sum(),
            failed_sign_ins: 0,
            // RFC 3339 times in one zone sort as text.
            last_signed_in: user
                .identities
                .iter()
                .filter_map(|i| i.last_login_on.clone())
                .max(),
            identities: user
                .identities
                .iter()
                .map(|i| IdentityRef {
                    kind: i.kind.clone(),
                    identity: i.name.clone(),
                })
                .collect(),
        }
    }
}

/// `GET /api/v1/users` filters.
#[derive(Deserialize)]
struct UserFilter {
    email: Option<String>,
    user_id: Option<String>,
}

#[derive(Serialize)]
struct UserList {
    users: Vec<UserBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

async fn list_users(
    AxumState(state): AxumState<Shared>,
    Query(paging): Query<PageQuery>,
    Query(filter): Query<UserFilter>,
) -> Result<Json<Success<UserList>>, ApiError> {
    let window = paging.window()?;
    // Under the read lock, without copying the tenant: a page costs its own size. A filter
    // names at most one user (ids and emails are unique), found through the index.
    let (users, next_token) = state.read(|tenant| {
        let given = |f: &Option<String>| f.clone().filter(|v| !v.is_empty());
        let by_id = given(&filter.user_id).map(|id| tenant.user(&id));
        let by_email = given(&filter.email).map(|e| tenant.user_by_email(&e));
        let listed = |u: &User| UserBody::of(u, Email::Listed);
        match (by_id, by_email) {
            (None, None) => window.cut_slice(&tenant.users, listed),
            (Some(a), Some(b)) => {
                let same = a.filter(|a| b.is_some_and(|b| a.id == b.id));
                window.cut(same.map(listed))
            }
            (Some(one), None) | (None, Some(one)) => window.cut(one.map(listed)),
        }
    });
    Ok(success(UserList { users, next_token }))
}

#[derive(Deserialize)]
struct UserId {
    id: Option<String>,
}

async fn get_user(
    AxumState(state): AxumState<Shared>,
    Query(query): Query<UserId>,
) -> Result<Json<UserBody>, ApiError> {
    let id = query.id.ok_or_else(|| {
        ApiError::bad_request("USER_ID_REQUIRED", "The id query parameter is required")
    })?;
    let user = state.read(|tenant| tenant.user(&id).map(|u| UserBody::of(u, Email::Preferred)));
    let user =
        user.ok_or_else(|| ApiError::bad_request("USER_INVALID", format!("No user with id {id}")))?;
    Ok(Json(user))
}

/// `POST /api/v1/user`, the fields the emulator reads.
#[derive(Deserialize)]
struct CreateUser {
    profile: Option<Profile>,
    /// The organization to join instead of the default one.
    organization_code: Option<String>,
    #[serde(default)]
    identities: Vec<NewIdentity>,
}

#[derive(Deserialize)]
struct Profile {
    given_name: Option<String>,
    family_name: Option<String>,
}

#[derive(Deserialize)]
struct NewIdentity {
    #[serde(rename = "type")]
    kind: Option<String>,
    is_verified: Option<bool>,
    details: Option<IdentityDetails>,
}

#[derive(Deserialize)]
struct IdentityDetails {
    email: Option<String>,
    phone: Option<String>,
    phone_country_id: Option<String>,
    username: Option<String>,
}

#[derive(Serialize)]
struct Created {
    id: String,
    created: bool,
    identities: Vec<CreatedIdentity>,
}

#[derive(Serialize)]
struct CreatedIdentity {
    #[serde(rename = "type")]
    kind: String,
    result: CreatedResult,
}

#[derive(Serialize)]
struct CreatedResult {
    created: bool,
}

async fn create_user(
    AxumState(state): AxumState<Shared>,
    Body(body): Body<CreateUser>,
) -> Result<Json<Created>, ApiError> {
    let identities = check_identities(&body.identities)?;
    let org_code = body.organization_code.filter(|c| !c.is_empty());
    // The first email is the user's; every identity given is one of its ways to sign in.
    let email = identities
        .iter()
        .find(|i| i.kind == "email")
        .map(|i| i.name.clone())
        .unwrap_or_default();
    let (first, last) = body
        .profile
        .map(|p| {
            (
                p.given_name.unwrap_or_default(),
                p.family_name.unwrap_or_default(),
            )
        })
        .unwrap_or_default();
    let mut user = User::new(&email, &first, &last);
    user.identities.clear();
    for identity in &identities {
        let mut identity = identity.clone();
        identity.is_primary = !user.identities.iter().any(|i| i.kind == identity.kind);
        user.identities.push(identity);
    }
    let id = user.id.clone();
    // Checked and added under one lock: two creates of one email make one user.
    state.update_users(|t, touched| {
        for identity in &identities {
            taken(t, identity)?;
        }
        if let Some(code) = &org_code
            && t.organization(code).is_none()
        {
            return Err(super::orgs::no_org(code));
        }
        touched.push(user.id.clone());
        t.users.push(user);
        match org_code
            .as_deref()
            .and_then(|code| t.organization_mut(code))
        {
            Some(org) => {
                org.join(&id);
            }
            None => t.join_default_organization(&id),
        }
        Ok(())
    })?;
    webhooks::emit(&state, "user.created", Source::Api, &id);
    Ok(Json(Created {
        id,
        created: true,
        identities: identities
            .iter()
            .map(|i| CreatedIdentity {
                kind: i.kind.clone(),
                result: CreatedResult { created: true },
            })
            .collect(),
    }))
}

/// Kinde's 400 when another user already signs in with `identity`'s email, username or phone.
pub(super) fn taken(t: &Tenant, identity: &Identity) -> Result<(), ApiError> {
    let holder = match identity.kind.as_str() {
        "email" => t.user_by_email(&identity.name),
        kind @ ("username" | "phone") => t.user_by_login(kind, &identity.name),
        _ => None,
    };
    match holder {
        Some(_) if identity.kind == "email" => Err(ApiError::bad_request(
            "USER_ALREADY_EXISTS",
            format!("A user with email {} already exists", identity.name),
        )),
        Some(_) => Err(ApiError::bad_request(
            "IDENTITY_ALREADY_EXISTS",
            format!(
                "A user with {} {} already exists",
                identity.kind, identity.name
            ),
        )),
        None => Ok(()),
    }
}

/// The spec's identity types (`email`, `phone`, `username`), each with its detail, an email
/// that is an address, and no value twice: the identities to make, or Kinde's 400.
fn check_identities(identities: &[NewIdentity]) -> Result<Vec<Identity>, ApiError> {
    let mut out: Vec<Identity> = Vec::new();
    for identity in identities {
        let kind = identity.kind.as_deref().unwrap_or("");
        let details = identity.details.as_ref();
        let given = match kind {
            "email" => details.and_then(|d| d.email.as_deref()),
            "phone" => details.and_then(|d| d.phone.as_deref()),
            "username" => details.and_then(|d| d.username.as_deref()),
            _ => {
                return Err(ApiError::bad_request(
                    "INVALID_IDENTITY_TYPE",
                    "An identity's type must be one of email, phone, username",
                ));
            }
        };
        let Some(given) = given.map(str::trim).filter(|v| !v.is_empty()) else {
            return Err(ApiError::bad_request(
                "INVALID_IDENTITY",
                format!("A {kind} identity needs details.{kind}"),
            ));
        };
        if kind == "email" && !is_email(given) {
            return Err(ApiError::bad_request(
                "INVALID_EMAIL",
                "The email identity is not a valid email address",
            ));
        }
        if out
            .iter()
            .any(|o| o.kind == kind && o.name.eq_ignore_ascii_case(given))
        {
            return Err(ApiError::bad_request(
                "INVALID_IDENTITY",
                format!("The {kind} {given} is given twice"),
            ));
        }
        let mut made = Identity::new(kind, given);
        made.is_confirmed = identity.is_verified.unwrap_or(true);
        made.phone_country_id = details.and_then(|d| d.phone_country_id.clone());
        out.push(made);
    }
    Ok(out)
}

/// One `@` between a non-empty local part and a dotted domain, no spaces or control characters.
pub(super) fn is_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| !label.is_empty())
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The `id` query parameter, or Kinde's 400.
fn required_id(query: UserId) -> Result<String, ApiError> {
    query.id.filter(|id| !id.is_empty()).ok_or_else(|| {
        ApiError::bad_request("USER_ID_REQUIRED", "The id query parameter is required")
    })
}

pub(super) fn user_not_found(id: &str) -> ApiError {
    ApiError::bad_request("USER_INVALID", format!("No user with id {id}"))
}

/// `PATCH /api/v1/user?id=`: the fields the emulator keeps.
#[derive(Deserialize)]
struct UserChanges {
    given_name: Option<String>,
    family_name: Option<String>,
    email: Option<String>,
    is_suspended: Option<bool>,
}

/// The updated user as Kinde answers it: no `code` / `message` envelope.
#[derive(Serialize)]
struct Updated {
    id: String,
    given_name: String,
    family_name: String,
    email: String,
    is_suspended: bool,
    is_password_reset_requested: bool,
}

async fn update_user(
    AxumState(state): AxumState<Shared>,
    Query(query): Query<UserId>,
    Body(body): Body<UserChanges>,
) -> Result<Json<Updated>, ApiError> {
    let id = required_id(query)?;
    let updated = state.update_users(|t, touched| {
        if let Some(email) = body.email.as_deref().filter(|e| !e.is_empty())
            && t.user_by_email(email).is_some_and(|other| other.id != id)
        {
            return Err(ApiError::bad_request(
                "USER_ALREADY_EXISTS",
                format!("A user with email {email} already exists"),
            ));
        }
        let at = t.user_position(&id).ok_or_else(|| user_not_found(&id))?;
        touched.push(id.clone());
        if let Some(email) = body.email.filter(|e| !e.is_empty())
            && !t.users[at].email.eq_ignore_ascii_case(&email)
        {
            t.change_email(at, &email);
        }
        let user = &mut t.users[at];
        if let Some(first) = body.given_name {
            user.first_name = first;
        }
        if let Some(last) = body.family_name {
            user.last_name = last;
        }
        if let Some(suspended) = body.is_suspended {
            user.is_suspended = suspended;
        }
        Ok(Json(Updated {
            id: user.id.clone(),
            given_name: user.first_name.clone(),
            family_name: user.last_name.clone(),
            email: user.email.clone(),
            is_suspended: user.is_suspended,
            is_password_reset_requested: false,
        }))
    })?;
    if body.is_suspended == Some(true) {
        crate::emulator::login::end_user(&state, &id);
    }
    webhooks::emit(&state, "user.updated", Source::Api, &id);
    Ok(updated)
}

async fn delete_user(
    AxumState(state): AxumState<Shared>,
    Query(query): Query<UserId>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    let id = required_id(query)?;
    state.update_users(|t, touched| {
        let at = t.user_position(&id).ok_or_else(|| user_not_found(&id))?;
        touched.push(id.clone());
        t.remove_user(at);
        Ok::<_, ApiError>(())
    })?;
    // Its sessions end with it, and its codes and refresh tokens are refused.
    crate::emulator::login::end_user(&state, &id);
    webhooks::emit(&state, "user.deleted", Source::Api, &id);
    Ok(success(Nothing {}))
}
