//! User sign-in: `/oauth2/auth` with Kinde's parameter rules, a plain HTML sign-in page, the
//! `authorization_code` and `refresh_token` grants with PKCE, user and ID tokens with Kinde's
//! claims, `/oauth2/v2/user_profile` and `/logout`.

// As in the Management API handlers: helpers return the ready error response as `Err`.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::State;
use super::oidc::{Form, client_auth, oauth_error};
use super::tenant::{Application, User, random_hex, random_uuid};

/// ID token lifetime (Kinde: 3600 s).
const ID_TOKEN_TTL: u64 = 3600;
/// Authorization codes are single-use and short-lived.
const CODE_TTL: u64 = 600;
/// The session cookie.
const SESSION_COOKIE: &str = "kinde_emulator_session";

/// A validated authorization request, waiting for a sign-in.
#[derive(Debug, Clone)]
pub(super) struct AuthRequest {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    scopes: Vec<String>,
    audiences: Vec<String>,
    code_challenge: Option<String>,
    nonce: Option<String>,
    login_hint: Option<String>,
    org_code: Option<String>,
}

/// An issued code, or a refresh token's grant.
#[derive(Debug, Clone)]
pub(super) struct Grant {
    request: AuthRequest,
    user_id: String,
    auth_time: u64,
    expires_at: u64,
}

/// Sign-in state kept by a running emulator.
#[derive(Debug, Default)]
pub(super) struct Logins {
    pending: HashMap<String, AuthRequest>,
    codes: HashMap<String, Grant>,
    refresh: HashMap<String, Grant>,
    sessions: HashMap<String, String>,
}

pub(super) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/oauth2/auth", get(authorize))
        .route("/oauth2/auth/sign_in", post(sign_in))
        .route("/oauth2/v2/user_profile", get(user_profile))
        .route("/oauth2/userinfo", get(user_profile))
        .route("/logout", get(logout))
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Kinde emulator</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#111}}\
         button{{display:block;width:100%;margin:.4rem 0;padding:.6rem;font-size:1rem;cursor:pointer}}\
         input{{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}}.muted{{color:#666;font-size:.9rem}}</style>\
         </head><body><h1>{title}</h1>{body}</body></html>"
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Redirect to the client's callback with `params` (and `state`).
fn back_to_client(redirect_uri: &str, params: &[(&str, &str)], state: Option<&str>) -> Response {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => {
            return page(
                StatusCode::BAD_REQUEST,
                "Invalid callback URL",
                "<p>The callback URL is not a URL.</p>",
            );
        }
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    Redirect::to(url.as_str()).into_response()
}

/// Whether `uri` is one of `app`'s callback URLs (one leftmost `*` label allowed).
fn registered(app: &Application, uri: &str) -> bool {
    app.redirect_urls.iter().any(|allowed| {
        if allowed == uri {
            return true;
        }
        let Some((scheme, rest)) = allowed.split_once("://*.") else {
            return false;
        };
        let Some((uri_scheme, uri_rest)) = uri.split_once("://") else {
            return false;
        };
        scheme == uri_scheme
            && uri_rest
                .split_once('.')
                .is_some_and(|(label, tail)| !label.is_empty() && tail == rest)
    })
}

fn all(params: &[(String, String)], name: &str) -> Vec<String> {
    params
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split_whitespace().map(String::from).collect::<Vec<_>>())
        .collect()
}

fn one(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
}

fn session_user(state: &State, headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    let id = cookies
        .split(';')
        .find_map(|c| c.trim().strip_prefix(&format!("{SESSION_COOKIE}=")))?;
    state.logins.lock().ok()?.sessions.get(id).cloned()
}

async fn authorize(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let tenant = state.tenant();
    let Some(client_id) = one(&params, "client_id") else {
        return page(
            StatusCode::BAD_REQUEST,
            "Missing client_id",
            "<p>The request has no <code>client_id</code>.</p>",
        );
    };
    let Some(app) = tenant.application(&client_id).filter(|a| a.kind != "m2m") else {
        return page(
            StatusCode::BAD_REQUEST,
            "Unknown application",
            &format!(
                "<p>No application with client id <code>{}</code> can sign users in.</p>",
                escape(&client_id)
            ),
        );
    };
    let Some(redirect_uri) = one(&params, "redirect_uri") else {
        return page(
            StatusCode::BAD_REQUEST,
            "Missing redirect_uri",
            "<p>The request has no <code>redirect_uri</code>.</p>",
        );
    };
    // Kinde shows an error page for an unregistered (or plain-http, non-loopback) callback and
    // never redirects to it.
    if crate::urls::check_redirect_url(&redirect_uri).is_err() || !registered(app, &redirect_uri) {
        return page(
            StatusCode::BAD_REQUEST,
            "Invalid callback URL",
            &format!(
                "<p><code>{}</code> is not an allowed callback URL for <b>{}</b>.</p><p class=\"muted\">Add it under Settings &gt; Applications &gt; {} &gt; Allowed callback URLs, or run <code>cargo kinde register</code>.</p>",
                escape(&redirect_uri),
                escape(&app.name),
                escape(&app.name)
            ),
        );
    }
    let client_state = one(&params, "state");
    let fail = |error: &str, description: &str| {
        back_to_client(
            &redirect_uri,
            &[("error", error), ("error_description", description)],
            client_state.as_deref(),
        )
    };
    if one(&params, "response_type").as_deref() != Some("code") {
        return fail(
            "unsupported_response_type",
            "Only response_type=code is supported",
        );
    }
    if client_state.as_ref().is_some_and(|s| s.len() < 8) {
        return fail(
            "invalid_request",
            "The state parameter must be at least 8 characters",
        );
    }
    let challenge = one(&params, "code_challenge");
    match (
        challenge.is_some(),
        one(&params, "code_challenge_method").as_deref(),
    ) {
        (true, Some("S256")) | (false, None) => {}
        (true, _) => return fail("invalid_request", "code_challenge_method must be S256"),
        (false, Some(_)) => {
            return fail(
                "invalid_request",
                "code_challenge_method without code_challenge",
            );
        }
    }
    if challenge.is_none() && app.client_secret.is_none() {
        return fail(
            "invalid_request",
            "PKCE (code_challenge) is required for this application",
        );
    }
    let scopes = {
        let s = all(&params, "scope");
        if s.is_empty() {
            vec!["openid".to_string()]
        } else {
            s
        }
    };
    let request = AuthRequest {
        client_id: client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        state: client_state.clone(),
        scopes,
        audiences: all(&params, "audience"),
        code_challenge: challenge,
        nonce: one(&params, "nonce"),
        login_hint: one(&params, "login_hint"),
        org_code: one(&params, "org_code"),
    };
    let prompt = one(&params, "prompt");
    let session = session_user(&state, &headers);
    if prompt.as_deref() == Some("none") {
        return match session {
            Some(user) => issue_code(&state, request, &user),
            None => fail("login_required", "User authentication is required"),
        };
    }
    if state.auto_login {
        let user = request
            .login_hint
            .as_deref()
            .and_then(|hint| {
                tenant
                    .users
                    .iter()
                    .find(|u| u.email.eq_ignore_ascii_case(hint) || u.id == hint)
            })
            .or_else(|| tenant.users.first());
        if let Some(user) = user {
            let id = user.id.clone();
            return issue_code(&state, request, &id);
        }
    }
    if prompt.is_none()
        && let Some(user) = session
    {
        return issue_code(&state, request, &user);
    }
    sign_in_page(&state, &tenant.users, app, request)
}

fn sign_in_page(
    state: &State,
    users: &[User],
    app: &Application,
    request: AuthRequest,
) -> Response {
    let pending = random_hex(16);
    let hint = request.login_hint.clone();
    if let Ok(mut logins) = state.logins.lock() {
        logins.pending.insert(pending.clone(), request);
    }
    let mut buttons = String::new();
    for user in users {
        buttons.push_str(&format!(
            "<form method=\"post\" action=\"/oauth2/auth/sign_in\"><input type=\"hidden\" name=\"request\" value=\"{pending}\"><input type=\"hidden\" name=\"email\" value=\"{}\"><button type=\"submit\" data-email=\"{}\">{} {} &lt;{}&gt;</button></form>",
            escape(&user.email),
            escape(&user.email),
            escape(&user.first_name),
            escape(&user.last_name),
            escape(&user.email)
        ));
    }
    // With a login_hint the page signs that user in by itself (a real browser runs this; the
    // browser test relies on it): the form still goes through a normal POST and redirect.
    let auto = hint.map_or(String::new(), |email| {
        format!(
            "<p class=\"muted\">Signing in as {0}…</p><script>for (const b of document.querySelectorAll('button[data-email]')) {{ if (b.dataset.email.toLowerCase() === {1:?}.toLowerCase()) {{ b.click(); }} }}</script>",
            escape(&email),
            email
        )
    });
    page(
        StatusCode::OK,
        &format!("Sign in to {}", escape(&app.name)),
        &format!(
            "<p class=\"muted\">Kinde emulator: pick a user, or type an email to sign in (a new email creates the user).</p>{buttons}\
             <form method=\"post\" action=\"/oauth2/auth/sign_in\"><input type=\"hidden\" name=\"request\" value=\"{pending}\">\
             <p><label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" required></p><button type=\"submit\">Continue</button></form>\
             <form method=\"post\" action=\"/oauth2/auth/sign_in\"><input type=\"hidden\" name=\"request\" value=\"{pending}\"><input type=\"hidden\" name=\"deny\" value=\"1\"><button type=\"submit\">Cancel</button></form>{auto}"
        ),
    )
}

async fn sign_in(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let request =
        one(&form, "request").and_then(|id| state.logins.lock().ok()?.pending.remove(&id));
    let Some(request) = request else {
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            "<p>This sign-in request is unknown or was used already. Start again from your application.</p>",
        );
    };
    if one(&form, "deny").is_some() {
        return back_to_client(
            &request.redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_description", "The user cancelled the sign-in"),
            ],
            request.state.as_deref(),
        );
    }
    let Some(email) = one(&form, "email")
        .map(|e| e.trim().to_string())
        .filter(|e| e.contains('@'))
    else {
        return page(
            StatusCode::BAD_REQUEST,
            "Email required",
            "<p>Type an email address.</p>",
        );
    };
    let existing = state
        .tenant()
        .users
        .iter()
        .find(|u| u.email.eq_ignore_ascii_case(&email))
        .map(|u| u.id.clone());
    let user_id = existing.unwrap_or_else(|| {
        let user = User {
            id: format!("kp_{}", random_hex(16)),
            email: email.clone(),
            first_name: email.split('@').next().unwrap_or("").to_string(),
            last_name: String::new(),
            created_on: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        };
        let id = user.id.clone();
        state.update(|t| t.users.push(user));
        id
    });
    let session = random_hex(16);
    if let Ok(mut logins) = state.logins.lock() {
        logins.sessions.insert(session.clone(), user_id.clone());
    }
    let mut response = issue_code(&state, request, &user_id);
    if let Ok(cookie) =
        format!("{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax").parse()
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn issue_code(state: &State, request: AuthRequest, user_id: &str) -> Response {
    let code = random_hex(24);
    let now = crate::clock::now();
    let (redirect_uri, client_state) = (request.redirect_uri.clone(), request.state.clone());
    if let Ok(mut logins) = state.logins.lock() {
        logins.codes.insert(
            code.clone(),
            Grant {
                request,
                user_id: user_id.to_string(),
                auth_time: now,
                expires_at: now + CODE_TTL,
            },
        );
    }
    back_to_client(&redirect_uri, &[("code", &code)], client_state.as_deref())
}

/// The client must authenticate as the app the grant was issued to: its secret when sent (or
/// required by a missing PKCE challenge), and PKCE's verifier when a challenge was sent.
fn check_client(
    state: &State,
    headers: &HeaderMap,
    form: &Form,
    grant_client: &str,
) -> Result<(), Response> {
    let (client_id, secret) = client_auth(headers, form).ok_or_else(|| {
        oauth_error(
            "invalid_client",
            "Client authentication failed: no client_id",
        )
    })?;
    if client_id != grant_client {
        return Err(oauth_error(
            "invalid_grant",
            "The grant was issued to another client",
        ));
    }
    let tenant = state.tenant();
    let app = tenant
        .application(&client_id)
        .ok_or_else(|| oauth_error("invalid_client", "Client authentication failed"))?;
    if let Some(given) = secret {
        let ok = app.client_secret.as_ref().is_some_and(|s| {
            aws_lc_rs::constant_time::verify_slices_are_equal(s.as_bytes(), given.as_bytes())
                .is_ok()
        });
        if !ok {
            return Err(oauth_error(
                "invalid_client",
                "Client authentication failed",
            ));
        }
    }
    Ok(())
}

pub(super) fn authorization_code(state: &State, headers: &HeaderMap, form: &Form) -> Response {
    let Some(code) = form.get("code") else {
        return oauth_error(
            "invalid_request",
            "The request is missing the required parameter code",
        );
    };
    // Single use: the code is gone whatever happens next.
    let grant = state
        .logins
        .lock()
        .ok()
        .and_then(|mut l| l.codes.remove(code));
    let Some(grant) = grant.filter(|g| g.expires_at > crate::clock::now()) else {
        return oauth_error(
            "invalid_grant",
            "The authorization code is invalid, expired, or was already used",
        );
    };
    if let Err(response) = check_client(state, headers, form, &grant.request.client_id) {
        return response;
    }
    if form.get("redirect_uri") != Some(grant.request.redirect_uri.as_str()) {
        return oauth_error(
            "invalid_grant",
            "redirect_uri does not match the authorization request",
        );
    }
    match (&grant.request.code_challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
            if URL_SAFE_NO_PAD.encode(digest.as_ref()) != *challenge {
                return oauth_error(
                    "invalid_grant",
                    "PKCE verification failed: the code_verifier does not match the code_challenge",
                );
            }
        }
        (Some(_), None) => {
            return oauth_error(
                "invalid_grant",
                "PKCE verification failed: code_verifier is required",
            );
        }
        (None, _) if client_auth(headers, form).and_then(|(_, s)| s).is_none() => {
            return oauth_error("invalid_client", "client_secret is required without PKCE");
        }
        (None, _) => {}
    }
    tokens(state, &grant)
}

pub(super) fn refresh_token(state: &State, headers: &HeaderMap, form: &Form) -> Response {
    let Some(token) = form.get("refresh_token") else {
        return oauth_error(
            "invalid_request",
            "The request is missing the required parameter refresh_token",
        );
    };
    // Rotation: the presented refresh token is spent.
    let grant = state
        .logins
        .lock()
        .ok()
        .and_then(|mut l| l.refresh.remove(token));
    let Some(grant) = grant.filter(|g| g.expires_at > crate::clock::now()) else {
        return oauth_error(
            "invalid_grant",
            "The refresh token is invalid, expired, or was already used",
        );
    };
    if let Err(response) = check_client(state, headers, form, &grant.request.client_id) {
        return response;
    }
    tokens(state, &grant)
}

fn tokens(state: &State, grant: &Grant) -> Response {
    let tenant = state.tenant();
    let Some(user) = tenant.users.iter().find(|u| u.id == grant.user_id) else {
        return oauth_error("invalid_grant", "The user no longer exists");
    };
    let request = &grant.request;
    let now = crate::clock::now();
    let iss = state.issuer();
    // A registered API's audience appears only when requested and the API is authorised for
    // the application.
    let audiences: Vec<&String> = request
        .audiences
        .iter()
        .filter(|aud| {
            tenant
                .api_by_audience(iss, aud)
                .is_some_and(|api| api.authorization(&request.client_id).is_some())
        })
        .collect();
    let org_code = request
        .org_code
        .clone()
        .unwrap_or_else(|| format!("org_{}", &user.id[3..14]));
    let access = json!({
        "aud": audiences,
        "azp": request.client_id,
        "exp": now.saturating_add(state.access_token_ttl),
        "feature_flags": {},
        "iat": now,
        "iss": iss,
        "jti": random_uuid(),
        "org_code": org_code,
        "permissions": [],
        "scp": request.scopes,
        "sub": user.id,
    });
    let access_token = state.sign(&access);
    let name = format!("{} {}", user.first_name, user.last_name)
        .trim()
        .to_string();
    let at_hash = {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
        URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
    };
    let mut id = json!({
        "at_hash": at_hash,
        "aud": [request.client_id],
        "auth_time": grant.auth_time,
        "azp": request.client_id,
        "email": user.email,
        "exp": now + ID_TOKEN_TTL,
        "family_name": user.last_name,
        "given_name": user.first_name,
        "iat": now,
        "iss": iss,
        "jti": random_uuid(),
        "name": name,
        "org_codes": [org_code],
        "picture": null,
        "sub": user.id,
        "updated_at": now,
    });
    if let Some(nonce) = &request.nonce {
        id["nonce"] = json!(nonce);
    }
    let mut body = json!({
        "access_token": access_token,
        "expires_in": state.access_token_ttl,
        "id_token": state.sign(&id),
        "scope": request.scopes.join(" "),
        "token_type": "Bearer",
    });
    // `offline` (not `offline_access`) asks for a refresh token.
    if request.scopes.iter().any(|s| s == "offline") {
        let refresh = random_hex(32);
        if let Ok(mut logins) = state.logins.lock() {
            logins.refresh.insert(
                refresh.clone(),
                Grant {
                    expires_at: now + 1_296_000,
                    ..grant.clone()
                },
            );
        }
        body["refresh_token"] = json!(refresh);
    }
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
        .into_response()
}

async fn user_profile(AxumState(state): AxumState<Arc<State>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let claims = match token.map(|t| state.check_signature(t.trim())) {
        Some(Ok(claims)) => claims,
        _ => {
            return super::management::error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "A valid user access token is required",
            );
        }
    };
    if claims
        .get("exp")
        .and_then(Value::as_u64)
        .is_none_or(|exp| exp <= crate::clock::now())
    {
        return super::management::error(
            StatusCode::UNAUTHORIZED,
            "TOKEN_EXPIRED",
            "The access token has expired",
        );
    }
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
    let tenant = state.tenant();
    let Some(user) = tenant.users.iter().find(|u| u.id == sub) else {
        return super::management::error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "The token is not a user's token",
        );
    };
    Json(json!({
        "id": user.id,
        "sub": user.id,
        "provided_id": null,
        "name": format!("{} {}", user.first_name, user.last_name).trim(),
        "given_name": user.first_name,
        "family_name": user.last_name,
        "email": user.email,
        "picture": null,
        "updated_at": crate::clock::now(),
    }))
    .into_response()
}

async fn logout(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let redirect = one(&params, "redirect");
    let tenant = state.tenant();
    if let Some(target) = &redirect
        && !tenant
            .applications
            .iter()
            .any(|a| a.logout_urls.iter().any(|u| u == target))
    {
        return page(
            StatusCode::BAD_REQUEST,
            "Invalid logout URL",
            &format!(
                "<p><code>{}</code> is not an allowed logout URL.</p>",
                escape(target)
            ),
        );
    }
    if let Some(cookies) = headers.get(header::COOKIE).and_then(|v| v.to_str().ok()) {
        for cookie in cookies.split(';') {
            if let Some(id) = cookie.trim().strip_prefix(&format!("{SESSION_COOKIE}="))
                && let Ok(mut logins) = state.logins.lock()
            {
                logins.sessions.remove(id);
            }
        }
    }
    let mut response = match redirect {
        Some(target) => Redirect::to(&target).into_response(),
        None => page(
            StatusCode::OK,
            "Signed out",
            "<p>You are signed out of the Kinde emulator.</p>",
        ),
    };
    if let Ok(cookie) = format!("{SESSION_COOKIE}=; Path=/; Max-Age=0").parse() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}
