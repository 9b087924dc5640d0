//! APIs: list, get, create, delete, which applications are authorised for one, its scopes (list,
//! create, get, update, delete), and the scopes granted to each authorised application.

use axum::extract::State as AxumState;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::Shared;
use super::applications;
use super::body::{Body, Nothing, Outcome, Success, success};
use super::params::Path;
use crate::emulator::error::ApiError;
use crate::emulator::tenant::{Api, ApiScope, Authorization, Tenant, random_hex};

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/apis", get(list_apis).post(create_api))
        .route("/api/v1/apis/{id}", get(get_api).delete(delete_api))
        .route(
            "/api/v1/apis/{id}/applications",
            patch(authorize_applications),
        )
        .route(
            "/api/v1/apis/{id}/scopes",
            get(list_scopes).post(create_scope),
        )
        .route(
            "/api/v1/apis/{id}/scopes/{scope}",
            get(get_scope).patch(update_scope).delete(delete_scope),
        )
        .route(
            "/api/v1/apis/{id}/applications/{app}/scopes/{scope}",
            post(|s, p| grant_scope(s, p, true)).delete(|s, p| grant_scope(s, p, false)),
        )
}

fn not_found(id: &str) -> ApiError {
    ApiError::bad_request("API_NOT_FOUND", format!("No API with id {id}"))
}

fn api_mut<'t>(tenant: &'t mut Tenant, id: &str) -> Result<&'t mut Api, ApiError> {
    tenant.api_mut(id).ok_or_else(|| not_found(id))
}

/// An API as listed; `applications` only when one API is asked for.
#[derive(Serialize)]
struct ApiBody {
    id: String,
    name: String,
    audience: String,
    is_management_api: bool,
    scopes: Vec<ScopeRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    applications: Option<Vec<ApiApplication>>,
}

#[derive(Serialize)]
struct ScopeRef {
    id: String,
    key: String,
}

#[derive(Serialize)]
struct ApiApplication {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    is_active: bool,
}

impl ApiBody {
    fn of(api: &Api, issuer: &str) -> Self {
        ApiBody {
            id: api.id.clone(),
            name: api.name.clone(),
            audience: api.audience(issuer),
            is_management_api: api.is_management_api,
            scopes: api
                .scopes
                .iter()
                .map(|s| ScopeRef {
                    id: s.id.clone(),
                    key: s.key.clone(),
                })
                .collect(),
            applications: None,
        }
    }
}

#[derive(Serialize)]
struct ApiList {
    apis: Vec<ApiBody>,
}

async fn list_apis(AxumState(state): AxumState<Shared>) -> Json<Success<ApiList>> {
    let tenant = state.catalog();
    let apis = tenant
        .apis
        .iter()
        .map(|a| ApiBody::of(a, state.issuer()))
        .collect();
    success(ApiList { apis })
}

#[derive(Serialize)]
struct ApiDetail {
    api: ApiBody,
}

async fn get_api(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Success<ApiDetail>>, ApiError> {
    let tenant = state.catalog();
    let api = tenant.api(&id).ok_or_else(|| not_found(&id))?;
    let applications = tenant
        .applications
        .iter()
        .map(|app| ApiApplication {
            id: app.id.clone(),
            name: app.name.clone(),
            kind: display_type(&app.kind),
            is_active: api.authorization(&app.id).is_some(),
        })
        .collect();
    Ok(success(ApiDetail {
        api: ApiBody {
            applications: Some(applications),
            ..ApiBody::of(api, state.issuer())
        },
    }))
}

/// This endpoint names application types as the admin UI does.
fn display_type(kind: &str) -> &'static str {
    match kind {
        "m2m" => "Machine to machine (M2M)",
        "reg" => "Back-end web",
        "device" => "Device and IoT",
        _ => "Front-end and mobile",
    }
}

fn check_length(value: &str, what: &str) -> Result<(), ApiError> {
    if (1..=64).contains(&value.chars().count()) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "INVALID_INPUT",
            format!("The {what} must be 1 to 64 characters"),
        ))
    }
}

/// `POST /api/v1/apis`.
#[derive(Deserialize)]
struct NewApi {
    #[serde(default)]
    name: String,
    #[serde(default)]
    audience: String,
}

#[derive(Serialize)]
struct Created {
    id: String,
}

#[derive(Serialize)]
struct CreatedApi {
    api: Created,
}

async fn create_api(
    AxumState(state): AxumState<Shared>,
    Body(body): Body<NewApi>,
) -> Result<Json<Success<CreatedApi>>, ApiError> {
    check_length(&body.name, "name")?;
    check_length(&body.audience, "audience")?;
    let id = random_hex(16);
    state.update(|t| {
        if t.api_by_audience(state.issuer(), &body.audience).is_some() {
            return Err(ApiError::bad_request(
                "API_AUDIENCE_ALREADY_EXISTS",
                format!("An API with audience {} already exists", body.audience),
            ));
        }
        t.apis.push(Api {
            id: id.clone(),
            name: body.name,
            audience: Some(body.audience),
            is_management_api: false,
            scopes: Vec::new(),
            applications: Vec::new(),
            extra: Default::default(),
        });
        Ok(())
    })?;
    Ok(success(CreatedApi {
        api: Created { id },
    }))
}

async fn delete_api(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Outcome>, ApiError> {
    state.update(|t| {
        let index = t
            .apis
            .iter()
            .position(|a| a.id == id)
            .ok_or_else(|| not_found(&id))?;
        if t.apis[index].is_management_api {
            return Err(ApiError::bad_request(
                "CANNOT_DELETE_MANAGEMENT_API",
                "The Kinde Management API cannot be deleted",
            ));
        }
        t.apis.remove(index);
        Ok(Json(Outcome {
            message: "API successfully deleted",
            code: "API_DELETED",
        }))
    })
}

/// `PATCH /api/v1/apis/{id}/applications`.
#[derive(Deserialize)]
struct AuthorizeBody {
    applications: Option<Vec<AppChange>>,
}

#[derive(Deserialize)]
struct AppChange {
    id: Option<String>,
    operation: Option<String>,
}

#[derive(Serialize)]
struct ApplicationsUpdated {
    message: &'static str,
    code: &'static str,
    applications_connected: Vec<String>,
    applications_disconnected: Vec<String>,
}

async fn authorize_applications(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    Body(body): Body<AuthorizeBody>,
) -> Result<Json<ApplicationsUpdated>, ApiError> {
    let entries = body.applications.ok_or_else(|| {
        ApiError::bad_request(
            "INVALID_REQUEST_BODY",
            "The body must have an `applications` array",
        )
    })?;
    // (client id, connect?) for each entry.
    let changes = entries
        .into_iter()
        .map(|entry| {
            let connect = entry.operation.as_deref() != Some("delete");
            entry.id.map(|app| (app, connect)).ok_or_else(|| {
                ApiError::bad_request("INVALID_REQUEST_BODY", "Each application needs an `id`")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    state.update(|t| {
        if !t.apis.iter().any(|a| a.id == id) {
            return Err(not_found(&id));
        }
        if let Some((missing, _)) = changes.iter().find(|(app, _)| t.application(app).is_none()) {
            return Err(applications::not_found(missing));
        }
        let api = api_mut(t, &id)?;
        let (mut connected, mut disconnected) = (Vec::new(), Vec::new());
        for (app, connect) in changes {
            let present = api.authorization(&app).is_some();
            if connect && !present {
                api.applications.push(Authorization {
                    client_id: app.clone(),
                    scopes: Vec::new(),
                    extra: Default::default(),
                });
                connected.push(app);
            } else if !connect && present {
                api.applications.retain(|a| a.client_id != app);
                disconnected.push(app);
            }
        }
        Ok(Json(ApplicationsUpdated {
            message: "API applications updated",
            code: "API_APPLICATIONS_UPDATED",
            applications_connected: connected,
            applications_disconnected: disconnected,
        }))
    })
}

#[derive(Serialize)]
struct ScopeBody {
    id: String,
    key: String,
    description: String,
}

#[derive(Serialize)]
struct ScopeList {
    scopes: Vec<ScopeBody>,
}

async fn list_scopes(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Success<ScopeList>>, ApiError> {
    let tenant = state.catalog();
    let api = tenant.api(&id).ok_or_else(|| not_found(&id))?;
    let scopes = api
        .scopes
        .iter()
        .map(|s| ScopeBody {
            id: s.id.clone(),
            key: s.key.clone(),
            description: s.description.clone(),
        })
        .collect();
    Ok(success(ScopeList { scopes }))
}

/// `POST /api/v1/apis/{id}/scopes`.
#[derive(Deserialize)]
struct NewScope {
    #[serde(default)]
    key: String,
    #[serde(default)]
    description: String,
}

#[derive(Serialize)]
struct CreatedScope {
    scope: Created,
}

async fn create_scope(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    Body(body): Body<NewScope>,
) -> Result<Json<Success<CreatedScope>>, ApiError> {
    check_length(&body.key, "scope key")?;
    if body.key.chars().any(char::is_whitespace) {
        return Err(ApiError::bad_request(
            "INVALID_INPUT",
            "The scope key cannot contain white space",
        ));
    }
    let scope_id = format!("api_scope_{}", random_hex(16));
    state.update(|t| {
        let api = api_mut(t, &id)?;
        if api.scopes.iter().any(|s| s.key == body.key) {
            return Err(ApiError::bad_request(
                "SCOPE_ALREADY_EXISTS",
                format!("The API already has a scope {}", body.key),
            ));
        }
        api.scopes.push(ApiScope {
            id: scope_id.clone(),
            key: body.key,
            description: body.description,
            extra: Default::default(),
        });
        Ok(())
    })?;
    Ok(success(CreatedScope {
        scope: Created { id: scope_id },
    }))
}

async fn grant_scope(
    AxumState(state): AxumState<Shared>,
    Path((id, app, scope)): Path<(String, String, String)>,
    grant: bool,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        let api = api_mut(t, &id)?;
        let key = api
            .scopes
            .iter()
            .find(|s| s.id == scope)
            .map(|s| s.key.clone())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "SCOPE_NOT_FOUND",
                    format!("No scope with id {scope} on this API"),
                )
            })?;
        let authorization = api
            .applications
            .iter_mut()
            .find(|a| a.client_id == app)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "APPLICATION_NOT_AUTHORIZED",
                    format!("Application {app} is not authorized for this API"),
                )
            })?;
        if !grant {
            authorization.scopes.retain(|s| *s != key);
        } else if !authorization.scopes.contains(&key) {
            authorization.scopes.push(key);
        }
        Ok(success(Nothing {}))
    })
}

fn scope_not_found(scope: &str) -> ApiError {
    ApiError::bad_request(
        "SCOPE_NOT_FOUND",
        format!("No scope with id {scope} on this API"),
    )
}

#[derive(Serialize)]
struct ScopeDetail {
    scope: ScopeBody,
}

async fn get_scope(
    AxumState(state): AxumState<Shared>,
    Path((id, scope)): Path<(String, String)>,
) -> Result<Json<Success<ScopeDetail>>, ApiError> {
    let tenant = state.catalog();
    let api = tenant.api(&id).ok_or_else(|| not_found(&id))?;
    let found = api
        .scopes
        .iter()
        .find(|s| s.id == scope)
        .ok_or_else(|| scope_not_found(&scope))?;
    Ok(success(ScopeDetail {
        scope: ScopeBody {
            id: found.id.clone(),
            key: found.key.clone(),
            description: found.description.clone(),
        },
    }))
}

/// `PATCH /api/v1/apis/{id}/scopes/{scope}`: only the description changes (the key is the
/// scope tokens carry).
#[derive(Deserialize)]
struct ScopeChanges {
    description: Option<String>,
}

async fn update_scope(
    AxumState(state): AxumState<Shared>,
    Path((id, scope)): Path<(String, String)>,
    Body(body): Body<ScopeChanges>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        let api = api_mut(t, &id)?;
        let found = api
            .scopes
            .iter_mut()
            .find(|s| s.id == scope)
            .ok_or_else(|| scope_not_found(&scope))?;
        if let Some(description) = body.description {
            found.description = description;
        }
        Ok(success(Nothing {}))
    })
}

async fn delete_scope(
    AxumState(state): AxumState<Shared>,
    Path((id, scope)): Path<(String, String)>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        let api = api_mut(t, &id)?;
        let index = api
            .scopes
            .iter()
            .position(|s| s.id == scope)
            .ok_or_else(|| scope_not_found(&scope))?;
        let key = api.scopes.remove(index).key;
        // A deleted scope is no longer granted to anyone.
        for authorization in &mut api.applications {
            authorization.scopes.retain(|s| *s != key);
        }
        Ok(success(Nothing {}))
    })
}
