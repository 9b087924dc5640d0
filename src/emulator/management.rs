//! The Management API: Kinde's paths, bodies, status codes and error shapes for users,
//! applications, callback and logout URLs, APIs, their scopes and authorised applications.
//! Every request needs an M2M token for `<issuer>/api` carrying the operation's scope.

// Handler helpers return the ready error response as `Err`; boxing it would only add noise to
// code that runs once per request in a test server.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State as AxumState};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::State;
use super::tenant::{Api, ApiScope, Application, Authorization, Tenant, User, random_hex};
use crate::kinde;

type Shared = Arc<State>;
type Params = Query<HashMap<String, String>>;

/// Default and largest `page_size`.
const PAGE_SIZE_DEFAULT: usize = 10;
const PAGE_SIZE_MAX: usize = 500;

pub(super) fn routes(state: Shared) -> Router<Shared> {
    Router::new()
        .route("/api/v1/users", get(list_users))
        .route("/api/v1/user", get(get_user).post(create_user))
        .route("/api/v1/applications", get(list_applications))
        .route("/api/v1/applications/{id}", get(get_application))
        .route(
            "/api/v1/applications/{id}/auth_redirect_urls",
            get(|s, p| list_urls(s, p, Urls::Callback))
                .post(|s, p, b| add_urls(s, p, b, Urls::Callback))
                .put(|s, p, b| replace_urls(s, p, b, Urls::Callback))
                .delete(|s, p, q| delete_urls(s, p, q, Urls::Callback)),
        )
        .route(
            "/api/v1/applications/{id}/auth_logout_urls",
            get(|s, p| list_urls(s, p, Urls::Logout))
                .post(|s, p, b| add_urls(s, p, b, Urls::Logout))
                .put(|s, p, b| replace_urls(s, p, b, Urls::Logout))
                .delete(|s, p, q| delete_urls(s, p, q, Urls::Logout)),
        )
        .route("/api/v1/apis", get(list_apis).post(create_api))
        .route("/api/v1/apis/{id}", get(get_api).delete(delete_api))
        .route(
            "/api/v1/apis/{id}/applications",
            axum::routing::patch(authorize_applications),
        )
        .route(
            "/api/v1/apis/{id}/scopes",
            get(list_scopes).post(create_scope),
        )
        .route(
            "/api/v1/apis/{id}/applications/{app}/scopes/{scope}",
            post(|s, p| grant_scope(s, p, true)).delete(|s, p| grant_scope(s, p, false)),
        )
        .route_layer(axum::middleware::from_fn_with_state(state, authorize))
}

/// Kinde's error body.
pub(super) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"errors": [{"code": code, "message": message}]})),
    )
        .into_response()
}

fn bad_request(code: &str, message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, code, message)
}

/// `{"code":"OK","message":"Success", ...extra}`.
fn ok(extra: Value) -> Response {
    let mut body = Map::new();
    body.insert("code".into(), json!("OK"));
    body.insert("message".into(), json!("Success"));
    if let Value::Object(extra) = extra {
        body.extend(extra);
    }
    Json(Value::Object(body)).into_response()
}

/// Bearer token checks (401) and the operation's scope (403).
async fn authorize(AxumState(state): AxumState<Shared>, request: Request, next: Next) -> Response {
    let now = crate::clock::now();
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(token) = token else {
        return error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Missing bearer token in the Authorization header",
        );
    };
    let claims = match state.check_signature(token) {
        Ok(claims) => claims,
        Err(reason) => return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", reason),
    };
    if claims.get("iss").and_then(Value::as_str) != Some(state.issuer()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "The token was issued by another issuer",
        );
    }
    if claims
        .get("exp")
        .and_then(Value::as_u64)
        .is_none_or(|exp| exp <= now)
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "TOKEN_EXPIRED",
            "The access token has expired",
        );
    }
    let audience = format!("{}/api", state.issuer());
    if !crate::jwt::verify::audiences_of(&claims).contains(&audience) {
        return error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "The token's audience is not the Kinde Management API",
        );
    }
    let scopes = crate::jwt::verify::scopes_of(&claims);
    let operation = kinde::find_operation(request.method().as_str(), request.uri().path());
    if let Some(required) = operation.and_then(|o| o.scope)
        && !scopes.iter().any(|s| s == required)
    {
        return error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            &format!("The access token is missing the required scope {required}"),
        );
    }
    next.run(request).await
}

/// Parse a JSON body into an object, or Kinde's 400.
fn json_body(body: &Bytes) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(bad_request(
            "INVALID_REQUEST_BODY",
            "The request body must be a JSON object",
        )),
    }
}

/// `page_size` and `next_token` → (offset, size), or Kinde's 400.
fn page(params: &HashMap<String, String>) -> Result<(usize, usize), Response> {
    let size = match params.get("page_size").filter(|s| !s.is_empty()) {
        None => PAGE_SIZE_DEFAULT,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n > PAGE_SIZE_MAX => {
                return Err(bad_request(
                    "PAGE_SIZE_LIMIT_EXCEEDED",
                    &format!("page_size must be at most {PAGE_SIZE_MAX}"),
                ));
            }
            Ok(0) | Err(_) => {
                return Err(bad_request(
                    "INVALID_PAGE_SIZE",
                    "page_size must be a positive integer",
                ));
            }
            Ok(n) => n,
        },
    };
    let offset = match params.get("next_token").filter(|s| !s.is_empty()) {
        None => 0,
        Some(token) => URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| bad_request("INVALID_NEXT_TOKEN", "next_token is not valid"))?,
    };
    Ok((offset, size))
}

/// One page of `items` with Kinde's `next_token` when more remain.
fn paged(items: Vec<Value>, offset: usize, size: usize, key: &str) -> Response {
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(offset).take(size).collect();
    let mut extra = json!({ key: page });
    if offset + size < total {
        extra["next_token"] = json!(URL_SAFE_NO_PAD.encode(format!("offset:{}", offset + size)));
    }
    ok(extra)
}

fn user_summary(u: &User) -> Value {
    json!({
        "id": u.id, "email": u.email, "first_name": u.first_name, "last_name": u.last_name,
        "is_suspended": false, "created_on": u.created_on, "total_sign_ins": 0, "failed_sign_ins": 0,
        "identities": [{"type": "email", "identity": u.email}],
    })
}

async fn list_users(AxumState(state): AxumState<Shared>, Query(params): Params) -> Response {
    let (offset, size) = match page(&params) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let tenant = state.tenant();
    let users = tenant
        .users
        .iter()
        .filter(|u| {
            params
                .get("email")
                .is_none_or(|e| u.email.eq_ignore_ascii_case(e))
        })
        .filter(|u| params.get("user_id").is_none_or(|id| &u.id == id))
        .map(user_summary)
        .collect();
    paged(users, offset, size, "users")
}

async fn get_user(AxumState(state): AxumState<Shared>, Query(params): Params) -> Response {
    let Some(id) = params.get("id") else {
        return bad_request("USER_ID_REQUIRED", "The id query parameter is required");
    };
    let tenant = state.tenant();
    match tenant.users.iter().find(|u| &u.id == id) {
        Some(u) => Json(json!({
            "id": u.id, "preferred_email": u.email, "first_name": u.first_name, "last_name": u.last_name,
            "is_suspended": false, "created_on": u.created_on, "total_sign_ins": 0, "failed_sign_ins": 0,
            "identities": [{"type": "email", "identity": u.email}],
        }))
        .into_response(),
        None => bad_request("USER_INVALID", &format!("No user with id {id}")),
    }
}

async fn create_user(AxumState(state): AxumState<Shared>, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let profile = body.get("profile");
    let email = body
        .get("identities")
        .and_then(Value::as_array)
        .and_then(|ids| {
            ids.iter()
                .find(|i| i.get("type").and_then(Value::as_str) == Some("email"))
        })
        .and_then(|i| i.pointer("/details/email"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !email.is_empty()
        && state
            .tenant()
            .users
            .iter()
            .any(|u| u.email.eq_ignore_ascii_case(&email))
    {
        return bad_request(
            "USER_ALREADY_EXISTS",
            &format!("A user with email {email} already exists"),
        );
    }
    let user = User {
        id: format!("kp_{}", random_hex(16)),
        email: email.clone(),
        first_name: text(profile.and_then(|p| p.get("given_name"))),
        last_name: text(profile.and_then(|p| p.get("family_name"))),
        created_on: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    };
    let id = user.id.clone();
    state.update(|t| t.users.push(user));
    let identities: Vec<Value> = if email.is_empty() {
        Vec::new()
    } else {
        vec![json!({"type": "email", "result": {"created": true}})]
    };
    Json(json!({"id": id, "created": true, "identities": identities})).into_response()
}

async fn list_applications(AxumState(state): AxumState<Shared>, Query(params): Params) -> Response {
    let (offset, size) = match page(&params) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let tenant = state.tenant();
    let mut apps: Vec<&Application> = tenant.applications.iter().collect();
    match params.get("sort").map(String::as_str) {
        Some("name_desc") => apps.sort_by(|a, b| b.name.cmp(&a.name)),
        Some("name_asc") => apps.sort_by(|a, b| a.name.cmp(&b.name)),
        _ => {}
    }
    let items = apps
        .iter()
        .map(|a| json!({"id": a.id, "name": a.name, "type": a.kind}))
        .collect();
    paged(items, offset, size, "applications")
}

fn app_not_found(id: &str) -> Response {
    bad_request(
        "APPLICATION_NOT_FOUND",
        &format!("No application with id {id}"),
    )
}

async fn get_application(AxumState(state): AxumState<Shared>, Path(id): Path<String>) -> Response {
    let tenant = state.tenant();
    let Some(app) = tenant.application(&id) else {
        return app_not_found(&id);
    };
    let mut application =
        json!({"id": app.id, "name": app.name, "type": app.kind, "client_id": app.id});
    if let Some(secret) = &app.client_secret {
        application["client_secret"] = json!(secret);
    }
    ok(json!({ "application": application }))
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

async fn list_urls(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    which: Urls,
) -> Response {
    let mut tenant = state.tenant();
    let Some(app) = tenant.applications.iter_mut().find(|a| a.id == id) else {
        return app_not_found(&id);
    };
    let urls = which.of(app).clone();
    match which {
        Urls::Callback => Json(json!({ "redirect_urls": urls })).into_response(),
        Urls::Logout => ok(json!({ "logout_urls": urls })),
    }
}

/// The `urls` array of a body, each checked against Kinde's URL rules.
fn urls_of(body: &Bytes) -> Result<Vec<String>, Response> {
    let body = json_body(body)?;
    let urls: Vec<String> = body
        .get("urls")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_request("INVALID_REQUEST_BODY", "The body must have a `urls` array"))?
        .iter()
        .map(|u| {
            u.as_str()
                .map(String::from)
                .ok_or_else(|| bad_request("INVALID_URL", "Each URL must be a string"))
        })
        .collect::<Result<_, _>>()?;
    for url in &urls {
        if let Err(reason) = crate::urls::check_redirect_url(url) {
            return Err(bad_request("INVALID_URL", &reason));
        }
    }
    Ok(urls)
}

fn change_urls(
    state: &State,
    id: &str,
    which: Urls,
    change: impl FnOnce(&mut Vec<String>),
) -> Response {
    let found = state.update(|t| {
        t.applications
            .iter_mut()
            .find(|a| a.id == id)
            .map(|app| change(which.of(app)))
            .is_some()
    });
    if found {
        ok(json!({}))
    } else {
        app_not_found(id)
    }
}

async fn add_urls(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    body: Bytes,
    which: Urls,
) -> Response {
    let urls = match urls_of(&body) {
        Ok(u) => u,
        Err(r) => return r,
    };
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
    body: Bytes,
    which: Urls,
) -> Response {
    let urls = match urls_of(&body) {
        Ok(u) => u,
        Err(r) => return r,
    };
    change_urls(&state, &id, which, |list| *list = urls)
}

async fn delete_urls(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    Query(params): Params,
    which: Urls,
) -> Response {
    let Some(urls) = params.get("urls").filter(|u| !u.is_empty()) else {
        return bad_request("URLS_REQUIRED", "The urls query parameter is required");
    };
    let remove: Vec<String> = urls.split(',').map(|u| u.trim().to_string()).collect();
    change_urls(&state, &id, which, |list| {
        list.retain(|u| !remove.contains(u))
    })
}

fn api_summary(api: &Api, issuer: &str) -> Value {
    json!({
        "id": api.id, "name": api.name, "audience": api.audience(issuer), "is_management_api": api.is_management_api,
        "scopes": api.scopes.iter().map(|s| json!({"id": s.id, "key": s.key})).collect::<Vec<_>>(),
    })
}

async fn list_apis(AxumState(state): AxumState<Shared>) -> Response {
    let tenant = state.tenant();
    let apis: Vec<Value> = tenant
        .apis
        .iter()
        .map(|a| api_summary(a, state.issuer()))
        .collect();
    ok(json!({ "apis": apis }))
}

fn api_not_found(id: &str) -> Response {
    bad_request("API_NOT_FOUND", &format!("No API with id {id}"))
}

async fn get_api(AxumState(state): AxumState<Shared>, Path(id): Path<String>) -> Response {
    let tenant = state.tenant();
    let Some(api) = tenant.apis.iter().find(|a| a.id == id) else {
        return api_not_found(&id);
    };
    let mut doc = api_summary(api, state.issuer());
    doc["applications"] = json!(
        tenant
            .applications
            .iter()
            .map(|app| json!({"id": app.id, "name": app.name, "type": display_type(&app.kind), "is_active": api.authorization(&app.id).is_some()}))
            .collect::<Vec<_>>()
    );
    ok(json!({ "api": doc }))
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

fn check_length(value: &str, what: &str) -> Result<(), Response> {
    let len = value.chars().count();
    if (1..=64).contains(&len) {
        Ok(())
    } else {
        Err(bad_request(
            "INVALID_INPUT",
            &format!("The {what} must be 1 to 64 characters"),
        ))
    }
}

async fn create_api(AxumState(state): AxumState<Shared>, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let audience = body
        .get("audience")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Err(r) = check_length(&name, "name").and_then(|()| check_length(&audience, "audience")) {
        return r;
    }
    let id = random_hex(16);
    let created = state.update(|t: &mut Tenant| {
        if t.api_by_audience(&state.issuer, &audience).is_some() {
            return false;
        }
        t.apis.push(Api {
            id: id.clone(),
            name,
            audience: Some(audience.clone()),
            is_management_api: false,
            scopes: Vec::new(),
            applications: Vec::new(),
        });
        true
    });
    if !created {
        return bad_request(
            "API_AUDIENCE_ALREADY_EXISTS",
            &format!("An API with audience {audience} already exists"),
        );
    }
    ok(json!({ "api": { "id": id } }))
}

async fn delete_api(AxumState(state): AxumState<Shared>, Path(id): Path<String>) -> Response {
    let outcome = state.update(|t| {
        let index = t.apis.iter().position(|a| a.id == id)?;
        if t.apis[index].is_management_api {
            return Some(false);
        }
        t.apis.remove(index);
        Some(true)
    });
    match outcome {
        None => api_not_found(&id),
        Some(false) => bad_request(
            "CANNOT_DELETE_MANAGEMENT_API",
            "The Kinde Management API cannot be deleted",
        ),
        Some(true) => Json(json!({"message": "API successfully deleted", "code": "API_DELETED"}))
            .into_response(),
    }
}

async fn authorize_applications(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(entries) = body.get("applications").and_then(Value::as_array) else {
        return bad_request(
            "INVALID_REQUEST_BODY",
            "The body must have an `applications` array",
        );
    };
    let mut changes: Vec<(String, bool)> = Vec::new();
    for entry in entries {
        let Some(app_id) = entry.get("id").and_then(Value::as_str) else {
            return bad_request("INVALID_REQUEST_BODY", "Each application needs an `id`");
        };
        let delete = entry.get("operation").and_then(Value::as_str) == Some("delete");
        changes.push((app_id.to_string(), !delete));
    }
    let tenant = state.tenant();
    if !tenant.apis.iter().any(|a| a.id == id) {
        return api_not_found(&id);
    }
    if let Some((missing, _)) = changes
        .iter()
        .find(|(app, _)| tenant.application(app).is_none())
    {
        return app_not_found(missing);
    }
    let (connected, disconnected) = state.update(|t| {
        let (mut connected, mut disconnected) = (Vec::new(), Vec::new());
        if let Some(api) = t.apis.iter_mut().find(|a| a.id == id) {
            for (app, connect) in changes {
                let present = api.applications.iter().any(|a| a.client_id == app);
                if connect && !present {
                    api.applications.push(Authorization {
                        client_id: app.clone(),
                        scopes: Vec::new(),
                    });
                    connected.push(app);
                } else if !connect && present {
                    api.applications.retain(|a| a.client_id != app);
                    disconnected.push(app);
                }
            }
        }
        (connected, disconnected)
    });
    Json(json!({
        "message": "API applications updated",
        "code": "API_APPLICATIONS_UPDATED",
        "applications_connected": connected,
        "applications_disconnected": disconnected,
    }))
    .into_response()
}

async fn list_scopes(AxumState(state): AxumState<Shared>, Path(id): Path<String>) -> Response {
    let tenant = state.tenant();
    match tenant.apis.iter().find(|a| a.id == id) {
        Some(api) => ok(
            json!({"scopes": api.scopes.iter().map(|s| json!({"id": s.id, "key": s.key, "description": s.description})).collect::<Vec<_>>()}),
        ),
        None => api_not_found(&id),
    }
}

async fn create_scope(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let key = body
        .get("key")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Err(r) = check_length(&key, "scope key") {
        return r;
    }
    if key.chars().any(char::is_whitespace) {
        return bad_request("INVALID_INPUT", "The scope key cannot contain white space");
    }
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let scope_id = format!("api_scope_{}", random_hex(16));
    let outcome = state.update(|t| {
        let api = t.apis.iter_mut().find(|a| a.id == id)?;
        if api.scopes.iter().any(|s| s.key == key) {
            return Some(false);
        }
        api.scopes.push(ApiScope {
            id: scope_id.clone(),
            key: key.clone(),
            description,
        });
        Some(true)
    });
    match outcome {
        None => api_not_found(&id),
        Some(false) => bad_request(
            "SCOPE_ALREADY_EXISTS",
            &format!("The API already has a scope {key}"),
        ),
        Some(true) => ok(json!({ "scope": { "id": scope_id } })),
    }
}

async fn grant_scope(
    AxumState(state): AxumState<Shared>,
    Path((id, app, scope)): Path<(String, String, String)>,
    grant: bool,
) -> Response {
    let outcome = state.update(|t| {
        let api = t.apis.iter_mut().find(|a| a.id == id).ok_or("api")?;
        let key = api
            .scopes
            .iter()
            .find(|s| s.id == scope)
            .map(|s| s.key.clone())
            .ok_or("scope")?;
        let authorization = api
            .applications
            .iter_mut()
            .find(|a| a.client_id == app)
            .ok_or("app")?;
        if grant && !authorization.scopes.contains(&key) {
            authorization.scopes.push(key);
        } else if !grant {
            authorization.scopes.retain(|s| *s != key);
        }
        Ok::<(), &str>(())
    });
    match outcome {
        Ok(()) => ok(json!({})),
        Err("api") => api_not_found(&id),
        Err("scope") => bad_request(
            "SCOPE_NOT_FOUND",
            &format!("No scope with id {scope} on this API"),
        ),
        Err(_) => bad_request(
            "APPLICATION_NOT_AUTHORIZED",
            &format!("Application {app} is not authorized for this API"),
        ),
    }
}
