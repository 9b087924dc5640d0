//! Applications: list (sorted, paged), create (answering the client secret once, as Kinde
//! does), get, update, delete, and their callback and logout URL lists.

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::Shared;
use super::body::{Body, Nothing, Outcome, Success, success};
use super::page::PageQuery;
use super::params::{Path, Query};
use crate::emulator::error::ApiError;
use crate::emulator::redirect;
use crate::emulator::tenant::{Application, Extra, Tenant, random_hex, random_secret};

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/v1/applications",
            get(list_applications).post(create_application),
        )
        .route(
            "/api/v1/applications/{id}",
            get(get_application)
                .patch(update_application)
                .delete(delete_application),
        )
        .route(
            "/api/v1/applications/{id}/tokens",
            axum::routing::patch(update_tokens),
        )
        .route(
            "/api/v1/applications/{id}/auth_redirect_urls",
            get(list_callback_urls)
                .post(|s, p, b| add_urls(s, p, b, Urls::Callback))
                .put(|s, p, b| replace_urls(s, p, b, Urls::Callback))
                .delete(|s, p, q| delete_urls(s, p, q, Urls::Callback)),
        )
        .route(
            "/api/v1/applications/{id}/auth_logout_urls",
            get(list_logout_urls)
                .post(|s, p, b| add_urls(s, p, b, Urls::Logout))
                .put(|s, p, b| replace_urls(s, p, b, Urls::Logout))
                .delete(|s, p, q| delete_urls(s, p, q, Urls::Logout)),
        )
}

/// Kinde's answer for an unknown application id.
pub(super) fn not_found(id: &str) -> ApiError {
    ApiError::bad_request(
        "APPLICATION_NOT_FOUND",
        format!("No application with id {id}"),
    )
}

#[derive(Deserialize)]
struct Sort {
    sort: Option<String>,
}

#[derive(Serialize)]
struct AppSummary {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Serialize)]
struct AppList {
    applications: Vec<AppSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

async fn list_applications(
    AxumState(state): AxumState<Shared>,
    Query(paging): Query<PageQuery>,
    Query(sort): Query<Sort>,
) -> Result<Json<Success<AppList>>, ApiError> {
    let window = paging.window()?;
    let mut apps = state.catalog().applications;
    match sort.sort.as_deref() {
        Some("name_desc") => apps.sort_by(|a, b| b.name.cmp(&a.name)),
        Some("name_asc") => apps.sort_by(|a, b| a.name.cmp(&b.name)),
        _ => {}
    }
    let (applications, next_token) = window.cut(apps.into_iter().map(|a| AppSummary {
        id: a.id,
        name: a.name,
        kind: a.kind,
    }));
    Ok(success(AppList {
        applications,
        next_token,
    }))
}

#[derive(Serialize)]
struct AppDetail {
    application: AppBody,
}

/// One application; Kinde does not return its URLs here (they have their own endpoints).
#[derive(Serialize)]
struct AppBody {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

async fn get_application(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Success<AppDetail>>, ApiError> {
    let tenant = state.catalog();
    let app = tenant.application(&id).ok_or_else(|| not_found(&id))?;
    Ok(success(AppDetail {
        application: AppBody {
            id: app.id.clone(),
            name: app.name.clone(),
            kind: app.kind.clone(),
            client_id: app.id.clone(),
            client_secret: app.client_secret.clone(),
        },
    }))
}

/// Which URL list of an application.
#[derive(Clone, Copy)]
enum Urls {
    Callback,
    Logout,
}

impl Urls {
    fn of(self, app: &mut Application) -> &mut Vec<String> {
        match self {
            Urls::Callback => &mut app.redirect_urls,
            Urls::Logout => &mut app.logout_urls,
        }
    }
}

fn application<'t>(tenant: &'t Tenant, id: &str) -> Result<&'t Application, ApiError> {
    tenant.application(id).ok_or_else(|| not_found(id))
}

/// The callback list is the one answer here without Kinde's `code` and `message`.
#[derive(Serialize)]
struct CallbackUrls {
    redirect_urls: Vec<String>,
}

async fn list_callback_urls(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
) -> Result<Json<CallbackUrls>, ApiError> {
    let tenant = state.catalog();
    let redirect_urls = application(&tenant, &id)?.redirect_urls.clone();
    Ok(Json(CallbackUrls { redirect_urls }))
}

#[derive(Serialize)]
struct LogoutUrls {
    logout_urls: Vec<String>,
}

async fn list_logout_urls(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Success<LogoutUrls>>, ApiError> {
    let tenant = state.catalog();
    let logout_urls = application(&tenant, &id)?.logout_urls.clone();
    Ok(success(LogoutUrls { logout_urls }))
}

/// The body of adding or replacing URLs.
#[derive(Deserialize)]
struct UrlsBody {
    urls: Option<Vec<String>>,
}

impl UrlsBody {
    /// The URLs, each checked against Kinde's rules.
    fn checked(self) -> Result<Vec<String>, ApiError> {
        let urls = self.urls.ok_or_else(|| {
            ApiError::bad_request("INVALID_REQUEST_BODY", "The body must have a `urls` array")
        })?;
        for url in &urls {
            redirect::check(url).map_err(|reason| ApiError::bad_request("INVALID_URL", reason))?;
        }
        Ok(urls)
    }
}

/// Change one URL list of application `id`, under one lock.
fn change_urls(
    state: &Shared,
    id: &str,
    which: Urls,
    change: impl FnOnce(&mut Vec<String>),
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        let app = t.application_mut(id).ok_or_else(|| not_found(id))?;
        change(which.of(app));
        Ok(success(Nothing {}))
    })
}

async fn add_urls(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    Body(body): Body<UrlsBody>,
    which: Urls,
) -> Result<Json<Success<Nothing>>, ApiError> {
    let urls = body.checked()?;
    change_urls(&state, &id, which, |list| {
        for url in urls {
            if !list.contains(&url) {
                list.push(url);
            }
        }
    })
}

async fn replace_urls(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    Body(body): Body<UrlsBody>,
    which: Urls,
) -> Result<Json<Success<Nothing>>, ApiError> {
    let urls = body.checked()?;
    change_urls(&state, &id, which, |list| *list = urls)
}

/// `DELETE ...?urls=a,b`.
#[derive(Deserialize)]
struct UrlsQuery {
    urls: Option<String>,
}

async fn delete_urls(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    Query(query): Query<UrlsQuery>,
    which: Urls,
) -> Result<Json<Success<Nothing>>, ApiError> {
    let urls = query.urls.filter(|u| !u.is_empty()).ok_or_else(|| {
        ApiError::bad_request("URLS_REQUIRED", "The urls query parameter is required")
    })?;
    let remove: Vec<String> = urls.split(',').map(|u| u.trim().to_string()).collect();
    change_urls(&state, &id, which, |list| {
        list.retain(|u| !remove.contains(u))
    })
}

/// `POST /api/v1/applications`.
#[derive(Deserialize)]
struct NewApplication {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    /// An org-scoped M2M app: every token it gets carries this `org_code`.
    org_code: Option<String>,
}

/// Where an org-scoped M2M application keeps its organization (in `extra`, so state files
/// stay readable by versions before it).
pub(crate) const ORG_CODE: &str = "org_code";

#[derive(Serialize)]
struct CreatedApp {
    application: CreatedBody,
}

#[derive(Serialize)]
struct CreatedBody {
    id: String,
    client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

async fn create_application(
    AxumState(state): AxumState<Shared>,
    Body(body): Body<NewApplication>,
) -> Result<(StatusCode, Json<Success<CreatedApp>>), ApiError> {
    let name = body.name.filter(|n| !n.trim().is_empty()).ok_or_else(|| {
        ApiError::bad_request("INVALID_REQUEST_BODY", "The request body needs `name`")
    })?;
    let kind = body.kind.unwrap_or_default();
    if !["reg", "spa", "m2m", "device"].contains(&kind.as_str()) {
        return Err(ApiError::bad_request(
            "INVALID_REQUEST_BODY",
            "`type` must be one of reg, spa, m2m, device",
        ));
    }
    // Public clients (single-page, device) have no secret to keep.
    let client_secret = matches!(kind.as_str(), "reg" | "m2m").then(random_secret);
    // The spec scopes M2M applications only; what Kinde does with `org_code` on another type
    // is not documented, so it is ignored there rather than refused.
    let org_code = body
        .org_code
        .filter(|c| !c.is_empty())
        .filter(|_| kind == "m2m");
    let id = random_hex(16);
    state.update(|t| {
        let mut extra = Extra::new();
        if let Some(code) = org_code {
            if t.organization(&code).is_none() {
                return Err(ApiError::bad_request(
                    "ORGANIZATION_INVALID",
                    format!("No organization with code {code}"),
                ));
            }
            extra.insert(ORG_CODE.into(), code.into());
        }
        t.applications.push(Application {
            id: id.clone(),
            name,
            kind,
            client_secret: client_secret.clone(),
            redirect_urls: Vec::new(),
            logout_urls: Vec::new(),
            extra,
        });
        Ok(())
    })?;
    Ok((
        StatusCode::CREATED,
        success(CreatedApp {
            application: CreatedBody {
                id: id.clone(),
                client_id: id,
                client_secret,
            },
        }),
    ))
}

/// `PATCH /api/v1/applications/{id}`: the fields the emulator keeps.
#[derive(Deserialize)]
struct AppChanges {
    name: Option<String>,
    redirect_uris: Option<Vec<String>>,
    logout_uris: Option<Vec<String>>,
}

async fn update_application(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    Body(body): Body<AppChanges>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    for url in body.redirect_uris.iter().chain(&body.logout_uris).flatten() {
        redirect::check(url).map_err(|reason| ApiError::bad_request("INVALID_URL", reason))?;
    }
    state.update(|t| {
        let app = t.application_mut(&id).ok_or_else(|| not_found(&id))?;
        if let Some(name) = body.name.filter(|n| !n.trim().is_empty()) {
            app.name = name;
        }
        if let Some(urls) = body.redirect_uris {
            app.redirect_urls = urls;
        }
        if let Some(urls) = body.logout_uris {
            app.logout_urls = urls;
        }
        Ok(success(Nothing {}))
    })
}

async fn delete_application(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Outcome>, ApiError> {
    state.update(|t| {
        let index = t
            .applications
            .iter()
            .position(|a| a.id == id)
            .ok_or_else(|| not_found(&id))?;
        if t.management_app().is_some_and(|m| m.id == id) {
            return Err(ApiError::bad_request(
                "CANNOT_DELETE_APPLICATION",
                "The emulator's management application cannot be deleted",
            ));
        }
        t.applications.remove(index);
        for api in &mut t.apis {
            api.applications.retain(|a| a.client_id != id);
        }
        Ok(Json(Outcome {
            message: "Application successfully deleted",
            code: "APPLICATION_DELETED",
        }))
    })
}

/// `PATCH /api/v1/applications/{id}/tokens`: the lifetimes the emulator's tokens use. The
/// session lifetime and Hasura mapping are accepted and not modelled.
#[derive(Deserialize)]
struct TokenLifetimes {
    access_token_lifetime: Option<u64>,
    refresh_token_lifetime: Option<u64>,
    id_token_lifetime: Option<u64>,
    #[serde(default, rename = "authenticated_session_lifetime")]
    _session: Option<u64>,
    #[serde(default, rename = "is_hasura_mapping_enabled")]
    _hasura: Option<bool>,
}

async fn update_tokens(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    Body(body): Body<TokenLifetimes>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    let invalid = |message: &str| ApiError::bad_request("INVALID_TOKEN_LIFETIME", message);
    let given = [
        body.access_token_lifetime,
        body.refresh_token_lifetime,
        body.id_token_lifetime,
    ];
    if given.contains(&Some(0)) {
        return Err(invalid("A token lifetime is at least 1 second"));
    }
    state.update(|t| {
        if t.application(&id).is_none() {
            return Err(not_found(&id));
        }
        let settings = t.token_settings.entry(id.clone()).or_default();
        let access = body
            .access_token_lifetime
            .or(settings.access_token_lifetime);
        let refresh = body
            .refresh_token_lifetime
            .or(settings.refresh_token_lifetime);
        // Kinde: the refresh lifetime must be longer than the access lifetime.
        if let (Some(access), Some(refresh)) = (access, refresh)
            && refresh <= access
        {
            return Err(invalid(
                "The refresh token lifetime must be longer than the access token lifetime",
            ));
        }
        settings.access_token_lifetime = access;
        settings.refresh_token_lifetime = refresh;
        if let Some(id_token) = body.id_token_lifetime {
            settings.id_token_lifetime = Some(id_token);
        }
        Ok(())
    })?;
    Ok(success(Nothing {}))
}
