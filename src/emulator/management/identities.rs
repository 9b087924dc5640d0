//! A user's identities and sessions: the identities are the user's own (the email and username
//! it was created with, those added later), each a way to sign in that no other user has; the
//! sessions are those its sign-ins through `/oauth2/auth` started, and deleting them signs the
//! user out everywhere and revokes its refresh tokens.

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::Shared;
use super::body::{Body, Nothing, Success, success};
use super::params::{Path, Query};
use super::users::{is_email, taken, user_not_found};
use crate::emulator::error::ApiError;
use crate::emulator::login;
use crate::emulator::tenant::{Identity, User};

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/v1/users/{user_id}/identities",
            get(list_identities).post(add_identity),
        )
        .route(
            "/api/v1/identities/{identity_id}",
            get(get_identity)
                .patch(update_identity)
                .delete(delete_identity),
        )
        .route(
            "/api/v1/users/{user_id}/sessions",
            get(list_sessions).delete(end_sessions),
        )
}

/// An identity as the spec's `identity` schema shows it.
#[derive(Serialize)]
struct IdentityBody {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    is_confirmed: bool,
    created_on: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_login_on: Option<String>,
    total_logins: u64,
    name: String,
    /// The address it is for: its own for an email identity, else the user's.
    email: String,
    connection_id: Option<String>,
    is_primary: bool,
}

impl IdentityBody {
    fn of(user: &User, identity: &Identity) -> Self {
        IdentityBody {
            id: identity.id.clone(),
            kind: identity.kind.clone(),
            is_confirmed: identity.is_confirmed,
            created_on: identity.created_on.clone(),
            last_login_on: identity.last_login_on.clone(),
            total_logins: identity.total_logins,
            name: identity.name.clone(),
            email: if identity.kind == "email" {
                identity.name.clone()
            } else {
                user.email.clone()
            },
            connection_id: identity.connection_id.clone(),
            is_primary: identity.is_primary,
        }
    }
}

fn no_identity(id: &str) -> ApiError {
    ApiError::bad_request("IDENTITY_NOT_FOUND", format!("No identity with id {id}"))
}

#[derive(Serialize)]
struct IdentityList {
    identities: Vec<IdentityBody>,
    has_more: bool,
}

/// The spec's cursors: identities after one id, or before one.
#[derive(Deserialize)]
struct Cursor {
    starting_after: Option<String>,
    ending_before: Option<String>,
}

/// A user has a handful of identities: the list comes whole, cut only by the cursors.
async fn list_identities(
    AxumState(state): AxumState<Shared>,
    Path(user_id): Path<String>,
    Query(cursor): Query<Cursor>,
) -> Result<Json<Success<IdentityList>>, ApiError> {
    let identities = state.read(|t| {
        let user = t.user(&user_id).ok_or_else(|| user_not_found(&user_id))?;
        let all = &user.identities;
        let position = |id: &Option<String>| {
            id.as_deref()
                .filter(|id| !id.is_empty())
                .map(|id| {
                    all.iter()
                        .position(|i| i.id == id)
                        .ok_or_else(|| no_identity(id))
                })
                .transpose()
        };
        let from = position(&cursor.starting_after)?.map_or(0, |at| at + 1);
        let to = position(&cursor.ending_before)?.unwrap_or(all.len());
        Ok::<_, ApiError>(
            all.get(from..to.max(from))
                .unwrap_or_default()
                .iter()
                .map(|i| IdentityBody::of(user, i))
                .collect(),
        )
    })?;
    Ok(success(IdentityList {
        identities,
        has_more: false,
    }))
}

/// `POST /api/v1/users/{user_id}/identities`.
#[derive(Deserialize)]
struct NewIdentity {
    value: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    phone_country_id: Option<String>,
    connection_id: Option<String>,
}

#[derive(Serialize)]
struct Created {
    identity: CreatedId,
}

#[derive(Serialize)]
struct CreatedId {
    id: String,
}

async fn add_identity(
    AxumState(state): AxumState<Shared>,
    Path(user_id): Path<String>,
    Body(body): Body<NewIdentity>,
) -> Result<(StatusCode, Json<Success<Created>>), ApiError> {
    let identity = checked(body)?;
    let id = identity.id.clone();
    state.update_users(|t, touched| {
        let at = t
            .user_position(&user_id)
            .ok_or_else(|| user_not_found(&user_id))?;
        taken(t, &identity)?;
        let mut identity = identity;
        identity.is_primary = !t.users[at]
            .identities
            .iter()
            .any(|i| i.kind == identity.kind);
        // A user with no email (made with a username only) takes its first one.
        if identity.kind == "email" && t.users[at].email.is_empty() {
            t.users[at].email = identity.name.clone();
        }
        t.add_identity(at, identity);
        touched.push(user_id.clone());
        Ok::<_, ApiError>(())
    })?;
    Ok((
        StatusCode::CREATED,
        success(Created {
            identity: CreatedId { id },
        }),
    ))
}

/// The identity a body asks for, or Kinde's 400 naming what is wrong: the spec's types, a
/// value for each, an email that is an address, a connection for social and enterprise ones.
fn checked(body: NewIdentity) -> Result<Identity, ApiError> {
    let invalid = |message: String| ApiError::bad_request("INVALID_IDENTITY", message);
    let kind = body
        .kind
        .filter(|k| !k.is_empty())
        .ok_or_else(|| invalid("`type` is required".into()))?;
    if !["email", "username", "phone", "enterprise", "social"].contains(&kind.as_str()) {
        return Err(ApiError::bad_request(
            "INVALID_IDENTITY_TYPE",
            format!(
                "`type` must be one of email, username, phone, enterprise, social; `{kind}` is not"
            ),
        ));
    }
    let value = body
        .value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid("`value` is required".into()))?;
    if kind == "email" && !is_email(&value) {
        return Err(ApiError::bad_request(
            "INVALID_EMAIL",
            format!("{value} is not a valid email address"),
        ));
    }
    let connection_id = body.connection_id.filter(|c| !c.is_empty());
    if matches!(kind.as_str(), "social" | "enterprise") && connection_id.is_none() {
        return Err(invalid(format!("A {kind} identity needs `connection_id`")));
    }
    let mut identity = Identity::new(&kind, &value);
    identity.connection_id = connection_id;
    identity.phone_country_id = body.phone_country_id.filter(|c| !c.is_empty());
    Ok(identity)
}

/// `GET /api/v1/identities/{identity_id}`: the identity itself, no envelope.
async fn get_identity(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
) -> Result<Json<IdentityBody>, ApiError> {
    state.read(|t| {
        let (_, user) = t.user_by_identity(&id).ok_or_else(|| no_identity(&id))?;
        let identity = user.identity(&id).ok_or_else(|| no_identity(&id))?;
        Ok(Json(IdentityBody::of(user, identity)))
    })
}

#[derive(Deserialize)]
struct IdentityChange {
    is_primary: Option<bool>,
}

/// `is_primary: true` makes it the primary of its type (a primary email is the user's email);
/// Kinde's spec has nothing else to change.
async fn update_identity(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    Body(body): Body<IdentityChange>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update_users(|t, touched| {
        let (at, user) = t.user_by_identity(&id).ok_or_else(|| no_identity(&id))?;
        let user_id = user.id.clone();
        if body.is_primary == Some(true) {
            t.make_primary(at, &id);
            touched.push(user_id);
        }
        Ok::<_, ApiError>(())
    })?;
    Ok(success(Nothing {}))
}

/// The identity goes, and no longer signs the user in. The last one stays: without it the user
/// could never sign in again (the emulator's rule; Kinde does not document one).
async fn delete_identity(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update_users(|t, touched| {
        let (at, user) = t.user_by_identity(&id).ok_or_else(|| no_identity(&id))?;
        if user.identities.len() == 1 {
            return Err(ApiError::bad_request(
                "LAST_IDENTITY",
                "A user's last identity cannot be deleted: add another first",
            ));
        }
        let user_id = user.id.clone();
        t.remove_identity(at, &id);
        touched.push(user_id);
        Ok(())
    })?;
    Ok(success(Nothing {}))
}

/// One session as the spec's `get_user_sessions_response` shows it.
#[derive(Serialize)]
struct SessionBody {
    user_id: String,
    org_code: Option<String>,
    client_id: String,
    expires_on: String,
    session_id: String,
    started_on: String,
    updated_on: String,
    /// The emulator listens on 127.0.0.1 only, so every browser comes from there.
    last_ip_address: &'static str,
    initial_ip_address: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    initial_user_agent: Option<String>,
}

#[derive(Serialize)]
struct SessionList {
    sessions: Vec<SessionBody>,
    has_more: bool,
}

fn rfc3339(seconds: u64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds);
    humantime::format_rfc3339_seconds(at).to_string()
}

async fn list_sessions(
    AxumState(state): AxumState<Shared>,
    Path(user_id): Path<String>,
) -> Result<Json<Success<SessionList>>, ApiError> {
    state.read(|t| {
        t.user(&user_id)
            .map(|_| ())
            .ok_or_else(|| user_not_found(&user_id))
    })?;
    let sessions = login::sessions_of(&state, &user_id)
        .into_iter()
        .map(|s| SessionBody {
            expires_on: rfc3339(s.expires_on()),
            user_id: s.user_id,
            org_code: s.org_code,
            client_id: s.client_id,
            session_id: s.id,
            started_on: rfc3339(s.started_on),
            updated_on: rfc3339(s.updated_on),
            last_ip_address: "127.0.0.1",
            initial_ip_address: "127.0.0.1",
            last_user_agent: s.last_user_agent,
            initial_user_agent: s.initial_user_agent,
        })
        .collect();
    Ok(success(SessionList {
        sessions,
        has_more: false,
    }))
}

/// Every session ends and every code and refresh token of the user is revoked.
async fn end_sessions(
    AxumState(state): AxumState<Shared>,
    Path(user_id): Path<String>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.read(|t| {
        t.user(&user_id)
            .map(|_| ())
            .ok_or_else(|| user_not_found(&user_id))
    })?;
    login::end_user(&state, &user_id);
    Ok(success(Nothing {}))
}
