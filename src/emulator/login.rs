//! User sign-in: `/oauth2/auth` with Kinde's parameter rules, a plain HTML sign-in page, the
//! `authorization_code` and `refresh_token` grants with PKCE, user and ID tokens with Kinde's
//! claims, `/oauth2/v2/user_profile` and `/logout`.

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
use serde::Serialize;

use super::State;
use super::error::ApiError;
use super::protocol::{ClientCredentials, Form, OAuthError, bearer, no_store};
use super::redirect;
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
    let params = Form::from_pairs(params);
    // Applications and APIs only: users are looked up through the index when needed.
    let tenant = state.catalog();
    let Some(client_id) = params.get("client_id").map(String::from) else {
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
    let Some(redirect_uri) = params.get("redirect_uri").map(String::from) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Missing redirect_uri",
            "<p>The request has no <code>redirect_uri</code>.</p>",
        );
    };
    // Kinde shows an error page for an unregistered (or plain-http, non-loopback) callback and
    // never redirects to it.
    if redirect::check(&redirect_uri).is_err()
        || !redirect::allowed(&app.redirect_urls, &redirect_uri)
    {
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
    let client_state = params.get("state").map(String::from);
    let fail = |error: &str, description: &str| {
        back_to_client(
            &redirect_uri,
            &[("error", error), ("error_description", description)],
            client_state.as_deref(),
        )
    };
    if params.get("response_type") != Some("code") {
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
    let challenge = params.get("code_challenge").map(String::from);
    match (challenge.is_some(), params.get("code_challenge_method")) {
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
        let s = params.all("scope");
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
        audiences: params.all("audience"),
        code_challenge: challenge,
        nonce: params.get("nonce").map(String::from),
        login_hint: params.get("login_hint").map(String::from),
        org_code: params.get("org_code").map(String::from),
    };
    let prompt = params.get("prompt");
    let session = session_user(&state, &headers);
    if prompt == Some("none") {
        return match session {
            Some(user) => issue_code(&state, request, &user),
            None => fail("login_required", "User authentication is required"),
        };
    }
    if state.auto_login {
        let user = state.read(|t| {
            request
                .login_hint
                .as_deref()
                .and_then(|hint| t.user_by_email(hint).or_else(|| t.user(hint)))
                .or_else(|| t.users.first())
                .map(|u| u.id.clone())
        });
        if let Some(id) = user {
            return issue_code(&state, request, &id);
        }
    }
    if prompt.is_none()
        && let Some(user) = session
    {
        return issue_code(&state, request, &user);
    }
    // The page lists every user, so it costs O(users) whatever is done here.
    let users = state.read(|t| t.users.clone());
    sign_in_page(&state, &users, app, request)
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
    let form = Form::parse(&body);
    let request = form
        .get("request")
        .and_then(|id| state.logins.lock().ok()?.pending.remove(id));
    let Some(request) = request else {
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            "<p>This sign-in request is unknown or was used already. Start again from your application.</p>",
        );
    };
    if form.get("deny").is_some() {
        return back_to_client(
            &request.redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_description", "The user cancelled the sign-in"),
            ],
            request.state.as_deref(),
        );
    }
    let Some(email) = form
        .get("email")
        .map(|e| e.trim().to_string())
        .filter(|e| e.contains('@'))
    else {
        return page(
            StatusCode::BAD_REQUEST,
            "Email required",
            "<p>Type an email address.</p>",
        );
    };
    // Found or added under one lock: two sign-ins of a new email make one user.
    let user_id = state.update_users(|t, touched| {
        if let Some(user) = t.user_by_email(&email) {
            return user.id.clone();
        }
        let user = User::new(&email, email.split('@').next().unwrap_or(""), "");
        let id = user.id.clone();
        touched.push(id.clone());
        t.users.push(user);
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
    credentials: Option<&ClientCredentials>,
    grant_client: &str,
) -> Result<(), OAuthError> {
    let credentials = credentials
        .ok_or_else(|| OAuthError::invalid_client("Client authentication failed: no client_id"))?;
    if credentials.id != grant_client {
        return Err(OAuthError::invalid_grant(
            "The grant was issued to another client",
        ));
    }
    let tenant = state.catalog();
    let app = tenant
        .application(&credentials.id)
        .ok_or_else(|| OAuthError::invalid_client("Client authentication failed"))?;
    if credentials.secret.is_some() && !credentials.secret_matches(app.client_secret.as_deref()) {
        return Err(OAuthError::invalid_client("Client authentication failed"));
    }
    Ok(())
}

/// The `authorization_code` grant.
pub(super) fn authorization_code(
    state: &State,
    headers: &HeaderMap,
    form: &Form,
) -> Result<Response, OAuthError> {
    let code = form.get("code").ok_or_else(|| {
        OAuthError::invalid_request("The request is missing the required parameter code")
    })?;
    // Single use: the code is gone whatever happens next.
    let grant = state
        .logins
        .lock()
        .ok()
        .and_then(|mut l| l.codes.remove(code))
        .filter(|g| g.expires_at > crate::clock::now())
        .ok_or_else(|| {
            OAuthError::invalid_grant(
                "The authorization code is invalid, expired, or was already used",
            )
        })?;
    let credentials = ClientCredentials::from_request(headers, form);
    check_client(state, credentials.as_ref(), &grant.request.client_id)?;
    if form.get("redirect_uri") != Some(grant.request.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&grant.request.code_challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
            if URL_SAFE_NO_PAD.encode(digest.as_ref()) != *challenge {
                return Err(OAuthError::invalid_grant(
                    "PKCE verification failed: the code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_grant(
                "PKCE verification failed: code_verifier is required",
            ));
        }
        (None, _) if credentials.and_then(|c| c.secret).is_none() => {
            return Err(OAuthError::invalid_client(
                "client_secret is required without PKCE",
            ));
        }
        (None, _) => {}
    }
    tokens(state, &grant)
}

/// The `refresh_token` grant.
pub(super) fn refresh_token(
    state: &State,
    headers: &HeaderMap,
    form: &Form,
) -> Result<Response, OAuthError> {
    let token = form.get("refresh_token").ok_or_else(|| {
        OAuthError::invalid_request("The request is missing the required parameter refresh_token")
    })?;
    // Rotation: the presented refresh token is spent.
    let grant = state
        .logins
        .lock()
        .ok()
        .and_then(|mut l| l.refresh.remove(token))
        .filter(|g| g.expires_at > crate::clock::now())
        .ok_or_else(|| {
            OAuthError::invalid_grant("The refresh token is invalid, expired, or was already used")
        })?;
    let credentials = ClientCredentials::from_request(headers, form);
    check_client(state, credentials.as_ref(), &grant.request.client_id)?;
    tokens(state, &grant)
}

/// A user's access token claims.
#[derive(Serialize)]
struct AccessClaims<'a> {
    aud: Vec<&'a str>,
    azp: &'a str,
    exp: u64,
    feature_flags: Empty,
    iat: u64,
    iss: &'a str,
    jti: String,
    org_code: &'a str,
    permissions: [&'static str; 0],
    scp: &'a [String],
    sub: &'a str,
}

/// `{}`.
#[derive(Serialize)]
struct Empty {}

/// ID token claims.
#[derive(Serialize)]
struct IdClaims<'a> {
    at_hash: String,
    aud: [&'a str; 1],
    auth_time: u64,
    azp: &'a str,
    email: &'a str,
    exp: u64,
    family_name: &'a str,
    given_name: &'a str,
    iat: u64,
    iss: &'a str,
    jti: String,
    name: String,
    org_codes: [&'a str; 1],
    picture: Option<&'a str>,
    sub: &'a str,
    updated_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

/// The token response of the sign-in grants.
#[derive(Serialize)]
struct UserTokens {
    access_token: String,
    expires_in: u64,
    id_token: String,
    scope: String,
    token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

fn full_name(user: &User) -> String {
    format!("{} {}", user.first_name, user.last_name)
        .trim()
        .to_string()
}

fn tokens(state: &State, grant: &Grant) -> Result<Response, OAuthError> {
    let tenant = state.catalog();
    let found = state.read(|t| t.user(&grant.user_id).cloned());
    let user = found
        .as_ref()
        .ok_or_else(|| OAuthError::invalid_grant("The user no longer exists"))?;
    let request = &grant.request;
    let now = crate::clock::now();
    let iss = state.issuer();
    // A registered API's audience appears only when requested and the API is authorised for
    // the application.
    let audiences: Vec<&str> = request
        .audiences
        .iter()
        .filter(|aud| {
            tenant
                .api_by_audience(iss, aud)
                .is_some_and(|api| api.authorization(&request.client_id).is_some())
        })
        .map(String::as_str)
        .collect();
    let org_code = request
        .org_code
        .clone()
        .unwrap_or_else(|| format!("org_{}", user.id.get(3..14).unwrap_or_default()));
    let access_token = state.sign(&AccessClaims {
        aud: audiences,
        azp: &request.client_id,
        exp: now.saturating_add(state.access_token_ttl),
        feature_flags: Empty {},
        iat: now,
        iss,
        jti: random_uuid(),
        org_code: &org_code,
        permissions: [],
        scp: &request.scopes,
        sub: &user.id,
    });
    let at_hash = {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
        URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
    };
    let id_token = state.sign(&IdClaims {
        at_hash,
        aud: [&request.client_id],
        auth_time: grant.auth_time,
        azp: &request.client_id,
        email: &user.email,
        exp: now + ID_TOKEN_TTL,
        family_name: &user.last_name,
        given_name: &user.first_name,
        iat: now,
        iss,
        jti: random_uuid(),
        name: full_name(user),
        org_codes: [&org_code],
        picture: None,
        sub: &user.id,
        updated_at: now,
        nonce: request.nonce.as_deref(),
    });
    // `offline` (not `offline_access`) asks for a refresh token.
    let refresh_token = request.scopes.iter().any(|s| s == "offline").then(|| {
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
        refresh
    });
    Ok(no_store(UserTokens {
        access_token,
        expires_in: state.access_token_ttl,
        id_token,
        scope: request.scopes.join(" "),
        token_type: "Bearer",
        refresh_token,
    }))
}

/// `/oauth2/v2/user_profile`.
#[derive(Serialize)]
struct Profile {
    id: String,
    sub: String,
    provided_id: Option<String>,
    name: String,
    given_name: String,
    family_name: String,
    email: String,
    picture: Option<String>,
    updated_at: u64,
}

async fn user_profile(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
) -> Result<Json<Profile>, ApiError> {
    let claims = bearer(&headers)
        .and_then(|token| state.check_signature(token).ok())
        .ok_or_else(|| {
            ApiError::unauthorized("UNAUTHORIZED", "A valid user access token is required")
        })?;
    if !claims.live_at(crate::clock::now()) {
        return Err(ApiError::unauthorized(
            "TOKEN_EXPIRED",
            "The access token has expired",
        ));
    }
    let found = state.read(|t| claims.subject().and_then(|id| t.user(id)).cloned());
    let user = found
        .as_ref()
        .ok_or_else(|| ApiError::unauthorized("UNAUTHORIZED", "The token is not a user's token"))?;
    Ok(Json(Profile {
        id: user.id.clone(),
        sub: user.id.clone(),
        provided_id: None,
        name: full_name(user),
        given_name: user.first_name.clone(),
        family_name: user.last_name.clone(),
        email: user.email.clone(),
        picture: None,
        updated_at: crate::clock::now(),
    }))
}

async fn logout(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let redirect = Form::from_pairs(params).get("redirect").map(String::from);
    let tenant = state.catalog();
    // Checked again here, not only when stored: a state file may hold a URL Kinde never would.
    if let Some(target) = &redirect
        && (redirect::check(target).is_err()
            || !tenant
                .applications
                .iter()
                .any(|a| a.logout_urls.iter().any(|u| u == target)))
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
