//! User sign-in: `/oauth2/auth` with Kinde's parameter rules, a plain HTML sign-in page, the
//! `authorization_code` and `refresh_token` grants with PKCE, user and ID tokens with Kinde's
//! claims, `/oauth2/v2/user_profile` and `/logout`.

use std::collections::{BTreeMap, HashMap};
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
use super::expiring::Expiring;
use super::protocol::{ClientCredentials, Form, OAuthError, bearer, no_store};
use super::redirect;
use super::tenant::{Application, Organization, Tenant, User, random_hex, random_uuid};
use super::webhooks::{self, Source};

/// ID token lifetime unless the application sets one (Kinde: 3600 s).
const ID_TOKEN_TTL: u64 = 3600;
/// Refresh token lifetime unless the application sets one (Kinde: 15 days).
const REFRESH_TOKEN_TTL: u64 = 1_296_000;
/// Authorization codes are single-use and short-lived: RFC 6749's recommended maximum of
/// 10 minutes (Kinde does not document its own).
const CODE_TTL: u64 = 600;
/// How long a sign-in page (or the organization picker) stays usable between `/oauth2/auth` and
/// its form post. Kinde does not document its own; 30 minutes leaves a person time to type.
const PAGE_TTL: u64 = 1800;
/// At most this many open sign-in pages, and as many organization pickers, codes and sessions,
/// the oldest going first: a client looping on `/oauth2/auth` holds a bounded amount of memory.
const HELD: usize = 10_000;
/// At most this many refresh grants (they live 15 days by default).
const HELD_REFRESH: usize = 100_000;
/// The session cookie.
const SESSION_COOKIE: &str = "kinde_emulator_session";
/// How long a session lasts without activity (a sign-in through it, a refresh of its tokens).
/// Kinde makes this a per-application setting and does not document its default; the emulator
/// takes its refresh-token lifetime, so a session outlives its tokens only if they are refreshed.
const SESSION_TIMEOUT: u64 = REFRESH_TOKEN_TTL;

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
    /// `is_create_org=true`: make an organization for the user on sign-in.
    is_create_org: bool,
    /// Its name (an empty `org_name` counts as none, as the TS SDK sends one).
    org_name: Option<String>,
    /// `prompt=none`: no page may be shown, so no organization picker either.
    silent: bool,
    /// The user was created by this sign-in (a sign-up): the organization joined gives them
    /// the roles marked "Assign to new users".
    signed_up: bool,
    /// The browser's session cookie, when the sign-in ran in its session.
    session: Option<String>,
    /// The browser's `User-Agent`, for the session.
    user_agent: Option<String>,
}

/// An issued code, or a refresh token's grant.
#[derive(Debug, Clone)]
pub(super) struct Grant {
    request: AuthRequest,
    user_id: String,
    /// The organization signed into, fixed for the grant's life (switching means signing in
    /// again with another `org_code`).
    org_code: Option<String>,
    auth_time: u64,
    /// The access token last issued on this grant and its expiry: a refresh while it is live
    /// returns it unchanged, as Kinde does.
    access: Option<(String, u64)>,
    /// The session (its cookie) the sign-in ran in: a refresh is activity in it.
    session: Option<String>,
    /// The user's [`Logins::epoch`] when issued: ending the user's sessions moves it on, and
    /// so revokes every code and refresh token issued before.
    epoch: u64,
}

/// A browser's signed-in session: what `GET /api/v1/users/{id}/sessions` lists.
#[derive(Debug, Clone)]
pub(super) struct Session {
    /// `session_0x` + 32 hex; not the cookie, which signs a browser in.
    pub(super) id: String,
    pub(super) user_id: String,
    /// The application of the last sign-in through it.
    pub(super) client_id: String,
    /// The organization of the last sign-in through it.
    pub(super) org_code: Option<String>,
    /// Seconds since the epoch.
    pub(super) started_on: u64,
    /// The last activity, seconds since the epoch.
    pub(super) updated_on: u64,
    pub(super) initial_user_agent: Option<String>,
    pub(super) last_user_agent: Option<String>,
}

impl Session {
    /// When it ends without further activity, seconds since the epoch.
    pub(super) fn expires_on(&self) -> u64 {
        self.updated_on.saturating_add(SESSION_TIMEOUT)
    }
}

/// Sign-in state kept by a running emulator, each kind expiring and bounded (see [`Expiring`]).
#[derive(Debug)]
pub(super) struct Logins {
    pending: Expiring<AuthRequest>,
    /// Signed-in users choosing an organization: the request and the user.
    picking: Expiring<(AuthRequest, String)>,
    codes: Expiring<Grant>,
    refresh: Expiring<Grant>,
    /// Sessions by cookie. A session ends on logout, reset, [`SESSION_TIMEOUT`] without
    /// activity, or once [`HELD`] newer ones exist.
    sessions: Expiring<Session>,
    /// Each user's session cookies, so a user's sessions are found without a scan.
    user_sessions: HashMap<String, Vec<String>>,
    /// Per user, how many times its sessions were ended ([`Grant::epoch`]).
    epochs: HashMap<String, u64>,
}

impl Default for Logins {
    fn default() -> Logins {
        Logins {
            pending: Expiring::new(HELD),
            picking: Expiring::new(HELD),
            codes: Expiring::new(HELD),
            refresh: Expiring::new(HELD_REFRESH),
            sessions: Expiring::new(HELD),
            user_sessions: HashMap::new(),
            epochs: HashMap::new(),
        }
    }
}

/// How much sign-in state is held, for `GET /_emulator/stats`.
#[derive(Debug, Serialize)]
pub(super) struct Held {
    pending: usize,
    choosing: usize,
    codes: usize,
    refresh_tokens: usize,
    sessions: usize,
}

impl Logins {
    /// How many of each kind are held (expired ones until the next insert of that kind).
    pub(super) fn held(&self) -> Held {
        Held {
            pending: self.pending.len(),
            choosing: self.picking.len(),
            codes: self.codes.len(),
            refresh_tokens: self.refresh.len(),
            sessions: self.sessions.len(),
        }
    }

    /// Start a session for `user_id`: its cookie.
    fn start_session(&mut self, user_id: &str, now: u64, user_agent: Option<&str>) -> String {
        let cookie = random_hex(16);
        // A session's end is its last activity plus the timeout, which activity moves on: the
        // map only bounds how many are held, and [`Logins::session`] checks the timeout.
        self.sessions.insert(
            cookie.clone(),
            Session {
                id: format!("session_0x{}", random_hex(16)),
                user_id: user_id.into(),
                client_id: String::new(),
                org_code: None,
                started_on: now,
                updated_on: now,
                initial_user_agent: user_agent.map(String::from),
                last_user_agent: user_agent.map(String::from),
            },
            u64::MAX,
            now,
        );
        let cookies = self.user_sessions.entry(user_id.into()).or_default();
        // Sessions the map dropped (the oldest, past its bound) leave the user's list here.
        let sessions = &self.sessions;
        cookies.retain(|c| sessions.get(c, now).is_some());
        cookies.push(cookie.clone());
        cookie
    }

    /// The live session of `cookie`; one past its timeout is ended.
    fn session(&mut self, cookie: &str, now: u64) -> Option<&mut Session> {
        if self
            .sessions
            .get(cookie, now)
            .is_some_and(|s| s.expires_on() <= now)
        {
            self.end_session(cookie);
        }
        self.sessions.get_mut(cookie, now)
    }

    fn end_session(&mut self, cookie: &str) {
        let user = self.sessions.take(cookie, 0).map(|s| s.user_id);
        if let Some(user) = user
            && let Some(cookies) = self.user_sessions.get_mut(&user)
        {
            cookies.retain(|c| c != cookie);
            if cookies.is_empty() {
                self.user_sessions.remove(&user);
            }
        }
    }

    /// End every session of `user_id` and revoke its codes and refresh tokens: O(its
    /// sessions), the grants refused when next presented ([`Grant::epoch`]).
    fn end_user(&mut self, user_id: &str) {
        for cookie in self.user_sessions.remove(user_id).unwrap_or_default() {
            self.sessions.remove(&cookie);
        }
        *self.epochs.entry(user_id.into()).or_default() += 1;
    }

    fn epoch(&self, user_id: &str) -> u64 {
        self.epochs.get(user_id).copied().unwrap_or(0)
    }

    /// Whether `grant` (unexpired: the maps drop expired ones) was issued since its user's
    /// sessions last ended.
    fn current(&self, grant: &Grant) -> bool {
        grant.epoch == self.epoch(&grant.user_id)
    }
}

pub(super) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/oauth2/auth", get(authorize))
        .route("/oauth2/auth/sign_in", post(sign_in))
        .route("/oauth2/auth/register", post(register))
        .route("/oauth2/auth/organization", post(pick_organization))
        .route("/oauth2/revoke", post(revoke))
        .route("/oauth2/introspect", post(introspect))
        .route("/oauth2/v2/user_profile", get(user_profile))
        .route("/oauth2/userinfo", get(user_profile))
        .route("/logout", get(logout))
}

pub(super) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Kinde emulator</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#111}}\
         button{{display:block;width:100%;margin:.4rem 0;padding:.6rem;font-size:1rem;cursor:pointer}}\
         input{{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}}.muted{{color:#666;font-size:.9rem}}</style>\
         </head><body><h1>{title}</h1>{body}</body></html>"
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

pub(super) fn escape(text: &str) -> String {
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

/// The browser's live session: its cookie and its user.
fn session_of(state: &State, headers: &HeaderMap) -> Option<(String, String)> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    let cookie = cookies
        .split(';')
        .find_map(|c| c.trim().strip_prefix(&format!("{SESSION_COOKIE}=")))?;
    let now = state.now();
    let mut logins = state.logins.lock().ok()?;
    let user = logins.session(cookie, now)?.user_id.clone();
    Some((cookie.to_string(), user))
}

/// Note a sign-in of `user_id` with `email` on its identity (Kinde's `total_logins`).
fn record_login(state: &State, user_id: &str, email: Option<&str>) {
    state.update_users(|t, touched| {
        if let Some(at) = t.user_position(user_id) {
            t.record_login(at, email);
            touched.push(user_id.to_string());
        }
    });
}

async fn authorize(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let params = Form::from_pairs(params);
    let Some(client_id) = params.get("client_id").map(String::from) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Missing client_id",
            "<p>The request has no <code>client_id</code>.</p>",
        );
    };
    // The one application copied out of the read lock, never the tenant (its organizations
    // hold a member per user).
    let app = state.read(|t| {
        t.application(&client_id)
            .filter(|a| a.kind != "m2m")
            .cloned()
    });
    let Some(app) = app else {
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
        org_code: params
            .get("org_code")
            .filter(|c| !c.is_empty())
            .map(String::from),
        is_create_org: params.get("is_create_org") == Some("true"),
        org_name: params
            .get("org_name")
            .filter(|n| !n.trim().is_empty())
            .map(String::from),
        silent: params.get("prompt") == Some("none"),
        signed_up: false,
        session: None,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(512).collect()),
    };
    // The TypeScript SDK still sends the deprecated `start_page=registration` for register.
    let prompt = params
        .get("prompt")
        .or_else(|| (params.get("start_page") == Some("registration")).then_some("create"));
    let session = session_of(&state, &headers);
    let mut request = request;
    if prompt == Some("none") {
        return match session {
            Some((cookie, user)) => {
                request.session = Some(cookie);
                issue_code(&state, request, &user)
            }
            None => fail("login_required", "User authentication is required"),
        };
    }
    if state.auto_login {
        // The hinted user; the first one only when there is no hint. A sign-up, or an email
        // the tenant does not know, creates that user as the pages would.
        let hint = request.login_hint.clone();
        let known = state.read(|t| {
            match hint.as_deref() {
                Some(hint) => t.user_by_email(hint).or_else(|| t.user(hint)),
                None => t.users.first(),
            }
            .map(|u| u.id.clone())
        });
        // The browser's session goes on when it is this user's; a sign-in is recorded.
        let mut signed_in_as = |id: &str, email: Option<&str>| match &session {
            Some((cookie, user)) if user == id => request.session = Some(cookie.clone()),
            _ => record_login(&state, id, email),
        };
        match (known, hint) {
            (Some(id), None) => {
                signed_in_as(&id, None);
                return issue_code(&state, request, &id);
            }
            (Some(id), Some(hint)) if prompt != Some("create") => {
                signed_in_as(&id, Some(&hint));
                return issue_code(&state, request, &id);
            }
            (_, Some(email)) if email.contains('@') => {
                let name = email.split('@').next().unwrap_or("").to_string();
                return signed_in(&state, request, email.trim(), &name, "");
            }
            // A hint naming no user and no email: the page, where a person can pick.
            _ => {}
        }
    }
    if prompt.is_none()
        && let Some((cookie, user)) = session
    {
        request.session = Some(cookie);
        return issue_code(&state, request, &user);
    }
    if prompt == Some("create") {
        return registration_page(&state, &app.name, request, None);
    }
    // The page lists every user, so it costs O(users) whatever is done here.
    let users = state.read(|t| t.users.clone());
    sign_in_page(&state, &users, &app, request)
}

fn sign_in_page(
    state: &State,
    users: &[User],
    app: &Application,
    request: AuthRequest,
) -> Response {
    let pending = random_hex(16);
    let hint = request.login_hint.clone();
    let now = state.now();
    if let Ok(mut logins) = state.logins.lock() {
        logins
            .pending
            .insert(pending.clone(), request, now + PAGE_TTL, now);
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
    // browser test relies on it): the form still goes through a normal POST and redirect. The
    // hint reaches the script only as an escaped attribute: inside the script's text a
    // `</script>` in it would end the script and run markup of the caller's choosing.
    let auto = hint.map_or(String::new(), |email| {
        format!(
            "<p class=\"muted\">Signing in as {0}…</p><script data-hint=\"{0}\">const hint = document.currentScript.dataset.hint.toLowerCase(); for (const b of document.querySelectorAll('button[data-email]')) {{ if (b.dataset.email.toLowerCase() === hint) {{ b.click(); }} }}</script>",
            escape(&email)
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

/// The pending request a sign-in or registration form names, taken out (a form is used once);
/// otherwise the page or redirect to answer with: an expired request, or the user's "cancel".
fn take_pending(
    state: &State,
    form: &Form,
    title: &str,
    noun: &str,
) -> Result<AuthRequest, Box<Response>> {
    let request = form
        .get("request")
        .and_then(|id| state.logins.lock().ok()?.pending.take(id, state.now()));
    let Some(request) = request else {
        return Err(Box::new(page(
            StatusCode::BAD_REQUEST,
            &format!("{title} expired"),
            &format!(
                "<p>This {noun} request is unknown or was used already. Start again from your application.</p>"
            ),
        )));
    };
    if form.get("deny").is_some() {
        return Err(Box::new(back_to_client(
            &request.redirect_uri,
            &[
                ("error", "access_denied"),
                (
                    "error_description",
                    &format!("The user cancelled the {noun}"),
                ),
            ],
            request.state.as_deref(),
        )));
    }
    Ok(request)
}

async fn sign_in(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let request = match take_pending(&state, &form, "Sign-in", "sign-in") {
        Ok(request) => request,
        Err(answer) => return *answer,
    };
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
    let name = email.split('@').next().unwrap_or("").to_string();
    signed_in(&state, request, &email, &name, "")
}

/// Sign `email` in, creating the user (named `first_name last_name`) when the tenant has none:
/// a sign-up, which joins the default organization unless the request names one.
fn signed_in(
    state: &State,
    mut request: AuthRequest,
    email: &str,
    first_name: &str,
    last_name: &str,
) -> Response {
    // Found or added under one lock: two sign-ins of a new email make one user.
    let (user_id, signed_up) = state.update_users(|t, touched| {
        if let Some(user) = t.user_by_email(email) {
            return (user.id.clone(), false);
        }
        let user = User::new(email, first_name, last_name);
        let id = user.id.clone();
        touched.push(id.clone());
        t.users.push(user);
        // Kinde puts a user who signs up with no organization named into the organizations
        // that auto-add users from their email's domain, else into the default one; one signing
        // up into an org (`org_code`, `is_create_org`) joins that org instead. O(organizations),
        // on sign-ups only.
        if request.org_code.is_none() && !request.is_create_org {
            let mut joined: Vec<String> = t
                .organizations
                .iter()
                .filter(|o| {
                    o.is_auto_join_domain_list && !o.is_suspended && o.lists_domain_of(email)
                })
                .map(|o| o.code.clone())
                .collect();
            if joined.is_empty() {
                joined.extend(
                    t.organizations
                        .iter()
                        .find(|o| o.is_default)
                        .map(|o| o.code.clone()),
                );
            }
            for code in joined {
                if let Some(org) = t.organization_mut(&code) {
                    org.join(&id);
                }
                give_default_roles(t, &code, &id);
            }
        }
        (id, true)
    });
    request.signed_up = signed_up;
    if signed_up {
        webhooks::emit(state, "user.created", Source::User, &user_id);
    }
    record_login(state, &user_id, Some(email));
    // A sign-in starts a new session (when the code is issued), whatever the browser held.
    request.session = None;
    issue_code(state, request, &user_id)
}

/// Kinde gives the roles flagged "Assign to new users" (`is_default_role`) to every new sign-up;
/// roles are held per organization membership, so they go to the membership the sign-up made.
fn give_default_roles(t: &mut Tenant, org_code: &str, user_id: &str) {
    let defaults: Vec<String> = t
        .roles
        .iter()
        .filter(|r| r.is_default_role)
        .map(|r| r.id.clone())
        .collect();
    if let Some(member) = t
        .organization_mut(org_code)
        .and_then(|o| o.member_mut(user_id))
    {
        for id in defaults {
            if !member.roles.contains(&id) {
                member.roles.push(id);
            }
        }
    }
}

/// The registration page (`prompt=create`, or the TypeScript SDK's `start_page=registration`):
/// email, first and last name, a plain form that needs no script. `error` is shown above it
/// when a previous post was refused.
fn registration_page(
    state: &State,
    app_name: &str,
    request: AuthRequest,
    error: Option<&str>,
) -> Response {
    let pending = random_hex(16);
    let email = request.login_hint.clone().unwrap_or_default();
    let now = state.now();
    if let Ok(mut logins) = state.logins.lock() {
        logins
            .pending
            .insert(pending.clone(), request, now + PAGE_TTL, now);
    }
    let (status, alert) = match error {
        Some(error) => (
            StatusCode::BAD_REQUEST,
            format!(
                "<p role=\"alert\" id=\"problem\"><strong>{}</strong></p>",
                escape(error)
            ),
        ),
        None => (StatusCode::OK, String::new()),
    };
    let described = if error.is_some() {
        " aria-describedby=\"problem\""
    } else {
        ""
    };
    page(
        status,
        &format!("Create your account for {}", escape(app_name)),
        &format!(
            "<p class=\"muted\">Kinde emulator: registering creates the user in the emulator's tenant.</p>{alert}\
             <form method=\"post\" action=\"/oauth2/auth/register\"><input type=\"hidden\" name=\"request\" value=\"{pending}\">\
             <p><label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" value=\"{}\" required{described}></p>\
             <p><label for=\"given_name\">First name</label><input id=\"given_name\" name=\"given_name\" autocomplete=\"given-name\" maxlength=\"{NAME_LIMIT}\"></p>\
             <p><label for=\"family_name\">Last name</label><input id=\"family_name\" name=\"family_name\" autocomplete=\"family-name\" maxlength=\"{NAME_LIMIT}\"></p>\
             <button type=\"submit\">Create account</button></form>\
             <form method=\"post\" action=\"/oauth2/auth/register\"><input type=\"hidden\" name=\"request\" value=\"{pending}\"><input type=\"hidden\" name=\"deny\" value=\"1\"><button type=\"submit\">Cancel</button></form>",
            escape(&email)
        ),
    )
}

/// The longest first or last name registration takes.
const NAME_LIMIT: usize = 128;

/// `POST /oauth2/auth/register`: create the user (an email the tenant knows signs that user in,
/// names unchanged) and continue as a sign-in.
async fn register(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let request = match take_pending(&state, &form, "Registration", "registration") {
        Ok(request) => request,
        Err(answer) => return *answer,
    };
    let app_name = state.read(|t| {
        t.application(&request.client_id)
            .map(|a| a.name.clone())
            .unwrap_or_default()
    });
    let email = form.get("email").map(str::trim).unwrap_or("");
    let valid = email.len() <= 320
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return registration_page(
            &state,
            &app_name,
            request,
            Some("Type a valid email address."),
        );
    }
    let name = |field: &str| {
        form.get(field)
            .map(|n| {
                n.trim()
                    .chars()
                    .filter(|c| !c.is_control())
                    .collect::<String>()
            })
            .unwrap_or_default()
    };
    let (first, last) = (name("given_name"), name("family_name"));
    if first.chars().count() > NAME_LIMIT || last.chars().count() > NAME_LIMIT {
        return registration_page(
            &state,
            &app_name,
            request,
            Some(&format!("Names are at most {NAME_LIMIT} characters.")),
        );
    }
    signed_in(&state, request, email, &first, &last)
}

/// Where a signed-in user goes, by Kinde's rules: a new organization with `is_create_org`; the
/// `org_code` organization (joined if it lets members auto-join); else the user's only
/// organization, a picker when there are several, or none.
enum OrgChoice {
    Into(Option<String>),
    Pick(Vec<(String, String)>),
    Refused(&'static str, String),
}

fn choose_organization(state: &State, request: &AuthRequest, user_id: &str) -> OrgChoice {
    if state.read(|t| t.user(user_id).is_some_and(|u| u.is_suspended)) {
        return OrgChoice::Refused("access_denied", "The user is suspended".into());
    }
    if request.is_create_org {
        let code = state.update(|t| {
            // Kinde does not say what an unnamed org is called; the user's email names it here.
            let name = request.org_name.clone().unwrap_or_else(|| {
                let owner = t.user(user_id).map(|u| u.email.clone()).unwrap_or_default();
                format!("{owner}'s organization")
            });
            let mut org = Organization::new(&name);
            org.join(user_id);
            let code = org.code.clone();
            t.organizations.push(org);
            if request.signed_up {
                give_default_roles(t, &code, user_id);
            }
            code
        });
        webhooks::emit(state, "organization.created", Source::User, &code);
        return OrgChoice::Into(Some(code));
    }
    if let Some(code) = &request.org_code {
        // Decided under the read lock; the tenant is written (and saved) only to add a member.
        let join = state.read(|t| match t.organization(code) {
            None => Err(OrgChoice::Refused(
                "invalid_request",
                format!("No organization with code {code}"),
            )),
            Some(org) if org.is_suspended => Err(OrgChoice::Refused(
                "organization_suspended",
                format!("Organization {code} is suspended"),
            )),
            Some(org) if org.member(user_id).is_some() => Ok(false),
            // Allowed domains limit who may join, not who is already a member (Kinde checks
            // them at sign-up only).
            Some(org)
                if org.is_auto_membership_enabled
                    && !t
                        .user(user_id)
                        .is_some_and(|u| org.admits_domain_of(&u.email)) =>
            {
                Err(OrgChoice::Refused(
                    "access_denied",
                    format!(
                        "Organization {code} lets only users from {} join",
                        org.allowed_domains.join(", ")
                    ),
                ))
            }
            Some(org) if org.is_auto_membership_enabled => Ok(true),
            Some(_) => Err(OrgChoice::Refused(
                "access_denied",
                format!("The user is not a member of organization {code}"),
            )),
        });
        return match join {
            Err(refused) => refused,
            Ok(join) => {
                if join {
                    state.update(|t| {
                        if let Some(org) = t.organization_mut(code) {
                            org.join(user_id);
                        }
                        if request.signed_up {
                            give_default_roles(t, code, user_id);
                        }
                    });
                }
                OrgChoice::Into(Some(code.clone()))
            }
        };
    }
    let orgs: Vec<(String, String)> = state.read(|t| {
        t.organizations_of(user_id)
            .filter(|o| !o.is_suspended)
            .map(|o| (o.code.clone(), o.name.clone()))
            .collect()
    });
    match orgs.as_slice() {
        [] => OrgChoice::Into(None),
        [(code, _)] => OrgChoice::Into(Some(code.clone())),
        // No page may be shown: the first (the default org leads the list).
        [(code, _), ..] if request.silent || state.auto_login => {
            OrgChoice::Into(Some(code.clone()))
        }
        _ => OrgChoice::Pick(orgs),
    }
}

fn issue_code(state: &State, request: AuthRequest, user_id: &str) -> Response {
    match choose_organization(state, &request, user_id) {
        OrgChoice::Into(org) => mint_code(state, request, user_id, org),
        OrgChoice::Refused(error, description) => {
            webhooks::emit(state, "user.authentication_failed", Source::User, user_id);
            back_to_client(
                &request.redirect_uri,
                &[("error", error), ("error_description", &description)],
                request.state.as_deref(),
            )
        }
        OrgChoice::Pick(orgs) => org_picker(state, request, user_id, &orgs),
    }
}

/// The organization picker: one button per organization, each a plain form post.
fn org_picker(
    state: &State,
    request: AuthRequest,
    user_id: &str,
    orgs: &[(String, String)],
) -> Response {
    let pending = random_hex(16);
    let now = state.now();
    if let Ok(mut logins) = state.logins.lock() {
        logins.picking.insert(
            pending.clone(),
            (request, user_id.to_string()),
            now + PAGE_TTL,
            now,
        );
    }
    let mut buttons = String::new();
    for (code, name) in orgs {
        buttons.push_str(&format!(
            "<li><form method=\"post\" action=\"/oauth2/auth/organization\"><input type=\"hidden\" name=\"request\" value=\"{pending}\"><input type=\"hidden\" name=\"org_code\" value=\"{0}\"><button type=\"submit\" data-org=\"{0}\">{1} <span class=\"muted\">({0})</span></button></form></li>",
            escape(code),
            escape(name)
        ));
    }
    page(
        StatusCode::OK,
        "Choose an organization",
        &format!(
            "<p class=\"muted\">You belong to several organizations. Which one do you want to sign in to?</p><ul aria-label=\"Organizations\" style=\"list-style:none;padding:0\">{buttons}</ul>"
        ),
    )
}

async fn pick_organization(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let picked = form
        .get("request")
        .and_then(|id| state.logins.lock().ok()?.picking.take(id, state.now()));
    let Some((request, user_id)) = picked else {
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            "<p>This sign-in request is unknown or was used already. Start again from your application.</p>",
        );
    };
    let code = form.get("org_code").unwrap_or("").to_string();
    let member = state.read(|t| {
        t.organization(&code)
            .is_some_and(|o| !o.is_suspended && o.member(&user_id).is_some())
    });
    if !member {
        return page(
            StatusCode::BAD_REQUEST,
            "Unknown organization",
            "<p>You are not a member of that organization. Start again from your application.</p>",
        );
    }
    mint_code(&state, request, &user_id, Some(code))
}

fn mint_code(
    state: &State,
    request: AuthRequest,
    user_id: &str,
    org_code: Option<String>,
) -> Response {
    let code = random_hex(24);
    let now = state.now();
    let (redirect_uri, client_state) = (request.redirect_uri.clone(), request.state.clone());
    // The session the sign-in ran in goes on; otherwise one starts, and the browser gets it.
    let mut started = None;
    if let Ok(mut logins) = state.logins.lock() {
        let going_on = request
            .session
            .clone()
            .filter(|c| logins.session(c, now).is_some_and(|s| s.user_id == user_id));
        let cookie = going_on.unwrap_or_else(|| {
            let cookie = logins.start_session(user_id, now, request.user_agent.as_deref());
            started = Some(cookie.clone());
            cookie
        });
        if let Some(session) = logins.sessions.get_mut(&cookie, now) {
            session.client_id = request.client_id.clone();
            session.org_code = org_code.clone();
            session.updated_on = now;
            if request.user_agent.is_some() {
                session.last_user_agent = request.user_agent.clone();
            }
        }
        let epoch = logins.epoch(user_id);
        logins.codes.insert(
            code.clone(),
            Grant {
                request,
                user_id: user_id.to_string(),
                org_code,
                auth_time: now,
                access: None,
                session: Some(cookie),
                epoch,
            },
            now + CODE_TTL,
            now,
        );
    }
    webhooks::emit(state, "user.authenticated", Source::User, user_id);
    let mut response = back_to_client(&redirect_uri, &[("code", &code)], client_state.as_deref());
    if let Some(cookie) = started
        && let Ok(cookie) =
            format!("{SESSION_COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Lax").parse()
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// A sign-in without a page or a code, for `cargo_kinde::testing`: `user_id` signs in to
/// `client_id` as with `prompt=none` (the organization chosen by [`choose_organization`]), and
/// the grant becomes tokens through [`tokens`], as a code exchange at `/oauth2/token` would.
pub(super) fn silent_sign_in(
    state: &State,
    client_id: &str,
    user_id: &str,
    org_code: Option<&str>,
    audiences: &[String],
    scopes: &[String],
) -> Result<Response, OAuthError> {
    let grant = silent_grant(state, client_id, user_id, org_code, audiences, scopes)?;
    tokens(state, &grant, None)
}

/// The device flow's tokens once `user_id` approved on the device page: an access token for
/// `client_id` (the organization chosen as for a silent sign-in) and its lifetime. No refresh
/// token: Kinde's device flow does not swap tokens.
pub(super) fn device_sign_in(
    state: &State,
    client_id: &str,
    user_id: &str,
    audiences: &[String],
    scopes: &[String],
) -> Result<(String, u64), OAuthError> {
    let scopes: Vec<String> = scopes.iter().filter(|s| *s != "offline").cloned().collect();
    let grant = silent_grant(state, client_id, user_id, None, audiences, &scopes)?;
    user_tokens(state, &grant, None).map(|t| (t.access_token, t.expires_in))
}

fn silent_grant(
    state: &State,
    client_id: &str,
    user_id: &str,
    org_code: Option<&str>,
    audiences: &[String],
    scopes: &[String],
) -> Result<Grant, OAuthError> {
    let request = AuthRequest {
        client_id: client_id.to_string(),
        redirect_uri: String::new(),
        state: None,
        scopes: scopes.to_vec(),
        audiences: audiences.to_vec(),
        code_challenge: None,
        nonce: None,
        login_hint: None,
        org_code: org_code.map(String::from),
        is_create_org: false,
        org_name: None,
        silent: true,
        signed_up: false,
        session: None,
        user_agent: None,
    };
    let org_code = match choose_organization(state, &request, user_id) {
        OrgChoice::Into(org) => org,
        OrgChoice::Refused(_, description) => return Err(OAuthError::invalid_grant(description)),
        // A silent request picks the first organization itself.
        OrgChoice::Pick(orgs) => orgs.into_iter().next().map(|(code, _)| code),
    };
    webhooks::emit(state, "user.authenticated", Source::User, user_id);
    let now = state.now();
    let epoch = state.logins.lock().map_or(0, |l| l.epoch(user_id));
    Ok(Grant {
        request,
        user_id: user_id.to_string(),
        org_code,
        auth_time: now,
        access: None,
        session: None,
        epoch,
    })
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
    // Under the read lock, without copying the tenant: this runs on every token request.
    state.read(|tenant| {
        let app = tenant
            .application(&credentials.id)
            .ok_or_else(|| OAuthError::invalid_client("Client authentication failed"))?;
        if credentials.secret.is_some() && !credentials.secret_matches(app.client_secret.as_deref())
        {
            return Err(OAuthError::invalid_client("Client authentication failed"));
        }
        Ok(())
    })
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
        .and_then(|mut l| l.codes.take(code, state.now()).filter(|g| l.current(g)))
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
    tokens(state, &grant, None)
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
    // Rotation: the presented refresh token is spent. A good one is activity in its session.
    let now = state.now();
    let grant = state
        .logins
        .lock()
        .ok()
        .and_then(|mut l| {
            let grant = l.refresh.take(token, now).filter(|g| l.current(g))?;
            if let Some(session) = grant.session.as_deref().and_then(|c| l.session(c, now)) {
                session.updated_on = now;
            }
            Some(grant)
        })
        .ok_or_else(|| {
            OAuthError::invalid_grant("The refresh token is invalid, expired, or was already used")
        })?;
    let credentials = ClientCredentials::from_request(headers, form);
    check_client(state, credentials.as_ref(), &grant.request.client_id)?;
    // Kinde answers a refresh with the same access token while it is live; a new one (with the
    // tenant's claims as they are now) only once it has expired.
    let live = grant.access.clone().filter(|(_, exp)| *exp > state.now());
    tokens(state, &grant, live)
}

/// `POST /api/v1/users/{user_id}/refresh_claims`: the user's next refresh mints a new access
/// token with the tenant's claims as they are now, instead of returning the live one.
pub(super) fn refresh_claims(state: &State, user_id: &str) {
    if let Ok(mut logins) = state.logins.lock() {
        for grant in logins.refresh.values_mut() {
            if grant.user_id == user_id {
                grant.access = None;
            }
        }
    }
}

/// `POST /oauth2/revoke` (RFC 7009; Kinde: form `token`, `client_id`): a refresh token stops
/// working; an access token is no longer handed back by a refresh (Kinde mints a new one once
/// the old is revoked). An unknown token is answered 200 like a revoked one, as RFC 7009 asks;
/// a token of another client is left alone.
async fn revoke(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, OAuthError> {
    let form = Form::parse(&body);
    let credentials = ClientCredentials::from_request(&headers, &form)
        .ok_or_else(|| OAuthError::invalid_client("Client authentication failed: no client_id"))?;
    let token = form.get("token").ok_or_else(|| {
        OAuthError::invalid_request("The request is missing the required parameter token")
    })?;
    check_client(&state, Some(&credentials), &credentials.id)?;
    // An access token of this client's: refused from now on wherever a bearer token is taken.
    if let Ok(claims) = state.check_signature(token)
        && claims
            .authorized_party()
            .and_then(serde_json::Value::as_str)
            == Some(credentials.id.as_str())
    {
        state.revoke(&claims);
    }
    let now = state.now();
    if let Ok(mut logins) = state.logins.lock() {
        let client = credentials.id.as_str();
        if logins
            .refresh
            .get(token, now)
            .is_some_and(|g| g.request.client_id == client)
        {
            logins.refresh.remove(token);
        }
        for grant in logins.refresh.values_mut() {
            if grant.request.client_id == client
                && grant.access.as_ref().is_some_and(|(t, _)| t == token)
            {
                grant.access = None;
            }
        }
    }
    Ok(StatusCode::OK)
}

/// `POST /oauth2/introspect` (RFC 7662; Kinde: form `token`, optional `token_type_hint`, the
/// caller's bearer token): `{"active": true, "aud", "client_id", "exp", "iat"}` for a live,
/// unrevoked access token of this tenant or a live refresh token, else `{"active": false}`.
/// The caller authenticates with a live access token of the tenant, or as a client
/// (`client_id` and, for a confidential app, `client_secret`).
async fn introspect(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let form = Form::parse(&body);
    let caller_ok = match bearer(&headers) {
        Some(token) => state
            .check_token(token)
            .is_ok_and(|c| c.live_at(state.now()) && c.issuer() == Some(state.issuer())),
        None => match ClientCredentials::from_request(&headers, &form) {
            Some(credentials) => check_client(&state, Some(&credentials), &credentials.id).is_ok(),
            None => false,
        },
    };
    if !caller_ok {
        return Err(OAuthError::invalid_client(
            "Introspection needs a live access token of this tenant (Authorization: Bearer) or the client's credentials",
        ));
    }
    let token = form.get("token").ok_or_else(|| {
        OAuthError::invalid_request("The request is missing the required parameter token")
    })?;
    let now = state.now();
    let refresh = state
        .logins
        .lock()
        .ok()
        .and_then(|l| l.refresh.get(token, now).filter(|g| l.current(g)).cloned());
    let answer = if let Some(grant) = refresh {
        serde_json::json!({"active": true, "client_id": grant.request.client_id, "token_type": "refresh_token"})
    } else {
        match state.check_token(token) {
            Ok(claims) if claims.live_at(now) && claims.issuer() == Some(state.issuer()) => {
                serde_json::json!({
                    "active": true,
                    "aud": claims.audiences(),
                    "client_id": claims.authorized_party(),
                    "exp": claims.expiry(),
                    "iat": claims.issued_at(),
                })
            }
            _ => serde_json::json!({"active": false}),
        }
    };
    Ok(no_store(answer))
}

/// The user's sign-ins end: its sessions, unspent codes and refresh tokens, as for a suspended
/// user (Kinde: "a suspended user can sign in to no org") or `DELETE
/// /api/v1/users/{id}/sessions`. Unsuspending brings none of them back.
pub(super) fn end_user(state: &State, user_id: &str) {
    if let Ok(mut logins) = state.logins.lock() {
        logins.end_user(user_id);
    }
}

/// The user's live sessions, oldest first.
pub(super) fn sessions_of(state: &State, user_id: &str) -> Vec<Session> {
    let now = state.now();
    let Ok(logins) = state.logins.lock() else {
        return Vec::new();
    };
    let mut out: Vec<Session> = logins
        .user_sessions
        .get(user_id)
        .into_iter()
        .flatten()
        .filter_map(|cookie| logins.sessions.get(cookie, now))
        .filter(|s| s.expires_on() > now)
        .cloned()
        .collect();
    out.sort_by_key(|s| s.started_on);
    out
}

/// A suspended organization's tokens are revoked and its sessions end (Kinde); unsuspending
/// does not bring them back, so they are dropped rather than refused while it is suspended.
/// A session is not tied to one organization here: those of users signed in to this one end.
pub(super) fn end_organization(state: &State, org_code: &str) {
    if let Ok(mut logins) = state.logins.lock() {
        let in_org = |g: &Grant| g.org_code.as_deref() == Some(org_code);
        let users: std::collections::HashSet<String> = logins
            .refresh
            .values()
            .chain(logins.codes.values())
            .filter(|g| in_org(g))
            .map(|g| g.user_id.clone())
            .collect();
        logins.refresh.retain(|g| !in_org(g));
        logins.codes.retain(|g| !in_org(g));
        for user in users {
            for cookie in logins.user_sessions.get(&user).cloned().unwrap_or_default() {
                logins.end_session(&cookie);
            }
        }
    }
}

/// A user's access token claims. `org_code` is left out for a user in no organization (what
/// Kinde's orgs-for-developers page describes); `roles` and `org_name` only with the app's
/// token customisation on.
#[derive(Serialize)]
struct AccessClaims<'a> {
    aud: Vec<&'a str>,
    azp: &'a str,
    exp: u64,
    feature_flags: BTreeMap<String, FlagClaim>,
    iat: u64,
    iss: &'a str,
    jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    org_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    org_name: Option<String>,
    permissions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    roles: Option<Vec<RoleClaim>>,
    scp: &'a [String],
    sub: &'a str,
}

/// A flag in a token: Kinde's `{"t": "b"|"i"|"s", "v": value}`.
#[derive(Serialize)]
struct FlagClaim {
    t: &'static str,
    v: serde_json::Value,
}

/// A role in a token's `roles`.
#[derive(Serialize)]
struct RoleClaim {
    id: String,
    key: String,
    name: String,
}

/// An organization in the ID token's `organizations`.
#[derive(Serialize)]
struct OrgClaim {
    id: String,
    name: String,
}

/// ID token claims.
#[derive(Serialize)]
struct IdClaims<'a> {
    at_hash: String,
    /// The application's client id and the issuer, as Kinde's ID tokens carry both.
    aud: [&'a str; 2],
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
    org_codes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    organizations: Option<Vec<OrgClaim>>,
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

/// A flag's value as a token carries it: typed by its letter.
fn flag_claim(kind: &str, value: &str) -> FlagClaim {
    match kind {
        "bool" => FlagClaim {
            t: "b",
            v: serde_json::Value::Bool(value == "true"),
        },
        "int" => FlagClaim {
            t: "i",
            v: value
                .parse::<i64>()
                .map_or(serde_json::Value::Null, serde_json::Value::from),
        },
        _ => FlagClaim {
            t: "s",
            v: serde_json::Value::String(value.to_string()),
        },
    }
}

/// What the tenant says about `user_id` in `org_code` now: role objects, permission keys (the
/// union of the membership's roles' and its direct permissions) and every flag resolved
/// user > organization > environment > default.
fn access_facts(
    tenant: &Tenant,
    user_id: &str,
    org_code: Option<&str>,
) -> (Vec<RoleClaim>, Vec<String>, BTreeMap<String, FlagClaim>) {
    let member = org_code
        .and_then(|code| tenant.organization(code))
        .and_then(|org| org.member(user_id));
    let mut roles = Vec::new();
    let mut permissions: Vec<String> = Vec::new();
    if let Some(member) = member {
        for role in member.roles.iter().filter_map(|id| tenant.role(id)) {
            roles.push(RoleClaim {
                id: role.id.clone(),
                key: role.key.clone(),
                name: role.name.clone(),
            });
            permissions.extend(
                role.permissions
                    .iter()
                    .filter_map(|id| tenant.permission(id))
                    .map(|p| p.key.clone()),
            );
        }
        permissions.extend(
            member
                .permissions
                .iter()
                .filter_map(|id| tenant.permission(id))
                .map(|p| p.key.clone()),
        );
    }
    permissions.sort();
    permissions.dedup();
    let flags = tenant
        .feature_flags
        .iter()
        .map(|f| {
            (
                f.key.clone(),
                flag_claim(&f.kind, f.value_for(org_code, Some(user_id))),
            )
        })
        .collect();
    (roles, permissions, flags)
}

/// The OpenID Connect scopes a user's token may carry whatever its audience.
const OIDC_SCOPES: [&str; 5] = ["openid", "profile", "email", "offline", "offline_access"];

/// The requested scopes a user's token gets: the OpenID Connect ones, and those an API in the
/// token's audience defines. The Management API's scopes are never a user's: Kinde gives them
/// to M2M applications only, so a user asking for `read:users` does not get it.
fn user_scopes(
    tenant: &Tenant,
    iss: &str,
    requested: &[String],
    audiences: &[String],
) -> Vec<String> {
    let defined = |scope: &str| {
        audiences.iter().any(|aud| {
            tenant
                .api_by_audience(iss, aud)
                .filter(|api| !api.is_management_api)
                .is_some_and(|api| api.scopes.iter().any(|s| s.key == scope))
        })
    };
    requested
        .iter()
        .filter(|s| OIDC_SCOPES.contains(&s.as_str()) || defined(s))
        .cloned()
        .collect()
}

/// Sign the tokens of `grant`. `reuse` is a still-live access token from the grant being
/// refreshed: Kinde returns it unchanged rather than minting a new one.
fn tokens(
    state: &State,
    grant: &Grant,
    reuse: Option<(String, u64)>,
) -> Result<Response, OAuthError> {
    user_tokens(state, grant, reuse).map(no_store)
}

/// [`tokens`]' answer before it is sent.
fn user_tokens(
    state: &State,
    grant: &Grant,
    reuse: Option<(String, u64)>,
) -> Result<UserTokens, OAuthError> {
    let request = &grant.request;
    let now = state.now();
    let iss = state.issuer();
    let org_code = grant.org_code.as_deref();
    // Decided under the read lock, without copying the tenant; signed after it is released.
    let (user, access_claims, org_codes, organizations, lifetimes) = state.read(|tenant| {
        let user = tenant
            .user(&grant.user_id)
            .cloned()
            .ok_or_else(|| OAuthError::invalid_grant("The user no longer exists"))?;
        // Kinde: "a suspended user can sign in to no org".
        if user.is_suspended {
            return Err(OAuthError::invalid_grant("The user is suspended"));
        }
        if let Some(code) = org_code {
            match tenant.organization(code) {
                Some(org) if org.is_suspended => {
                    return Err(OAuthError::invalid_grant(format!(
                        "Organization {code} is suspended: its tokens are revoked"
                    )));
                }
                // A grant is for one membership: once it ends, so do the grant's tokens.
                Some(org) if org.member(&user.id).is_none() => {
                    return Err(OAuthError::invalid_grant(format!(
                        "The user is no longer a member of organization {code}"
                    )));
                }
                Some(_) => {}
                None => {
                    return Err(OAuthError::invalid_grant(format!(
                        "Organization {code} no longer exists"
                    )));
                }
            }
        }
        let settings = tenant
            .token_settings
            .get(&request.client_id)
            .cloned()
            .unwrap_or_default();
        // A registered API's audience appears only when requested and the API is authorised
        // for the application.
        let audiences: Vec<String> = request
            .audiences
            .iter()
            .filter(|aud| {
                tenant
                    .api_by_audience(iss, aud)
                    .is_some_and(|api| api.authorization(&request.client_id).is_some())
            })
            .cloned()
            .collect();
        let scopes = user_scopes(tenant, iss, &request.scopes, &audiences);
        let (roles, permissions, flags) = access_facts(tenant, &user.id, org_code);
        let org_name = org_code
            .filter(|_| settings.org_name)
            .and_then(|code| tenant.organization(code))
            .map(|o| o.name.clone());
        let orgs: Vec<&Organization> = tenant.organizations_of(&user.id).collect();
        let org_codes: Vec<String> = orgs.iter().map(|o| o.code.clone()).collect();
        let organizations = settings.organizations.then(|| {
            orgs.iter()
                .map(|o| OrgClaim {
                    id: o.code.clone(),
                    name: o.name.clone(),
                })
                .collect::<Vec<_>>()
        });
        let roles = settings.roles.then_some(roles);
        let lifetimes = (
            settings
                .access_token_lifetime
                .unwrap_or(state.access_token_ttl),
            settings.id_token_lifetime.unwrap_or(ID_TOKEN_TTL),
            settings.refresh_token_lifetime.unwrap_or(REFRESH_TOKEN_TTL),
        );
        Ok((
            user,
            (audiences, scopes, permissions, flags, roles, org_name),
            org_codes,
            organizations,
            lifetimes,
        ))
    })?;
    let (access_ttl, id_ttl, refresh_ttl) = lifetimes;
    let (audiences, scopes, permissions, feature_flags, roles, org_name) = access_claims;
    let (access_token, access_exp) = match reuse {
        Some(live) => live,
        None => {
            let exp = now.saturating_add(access_ttl);
            let token = state.sign(&AccessClaims {
                aud: audiences.iter().map(String::as_str).collect(),
                azp: &request.client_id,
                exp,
                feature_flags,
                iat: now,
                iss,
                jti: random_uuid(),
                org_code,
                org_name,
                permissions,
                roles,
                scp: &scopes,
                sub: &user.id,
            });
            (token, exp)
        }
    };
    let at_hash = {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
        URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
    };
    let id_token = state.sign(&IdClaims {
        at_hash,
        aud: [&request.client_id, iss],
        auth_time: grant.auth_time,
        azp: &request.client_id,
        email: &user.email,
        exp: now.saturating_add(id_ttl),
        family_name: &user.last_name,
        given_name: &user.first_name,
        iat: now,
        iss,
        jti: random_uuid(),
        name: full_name(&user),
        org_codes,
        organizations,
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
                    access: Some((access_token.clone(), access_exp)),
                    ..grant.clone()
                },
                now.saturating_add(refresh_ttl),
                now,
            );
        }
        refresh
    });
    Ok(UserTokens {
        access_token,
        expires_in: access_exp.saturating_sub(now),
        id_token,
        scope: scopes.join(" "),
        token_type: "Bearer",
        refresh_token,
    })
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
    /// Sign-in here needs no email proof; every address counts as verified.
    email_verified: bool,
    picture: Option<String>,
    /// The user's primary username identity, if it has one.
    preferred_username: Option<String>,
    updated_at: u64,
}

async fn user_profile(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
) -> Result<Json<Profile>, ApiError> {
    let claims = bearer(&headers)
        .and_then(|token| state.check_token(token).ok())
        .ok_or_else(|| {
            ApiError::unauthorized("UNAUTHORIZED", "A valid user access token is required")
        })?;
    if !claims.live_at(state.now()) {
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
        email_verified: true,
        picture: None,
        preferred_username: user.primary("username").map(String::from),
        updated_at: state.now(),
    }))
}

async fn logout(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let redirect = Form::from_pairs(params).get("redirect").map(String::from);
    // Checked again here, not only when stored: a state file may hold a URL Kinde never would.
    if let Some(target) = &redirect
        && (redirect::check(target).is_err()
            || !state.read(|t| {
                t.applications
                    .iter()
                    .any(|a| a.logout_urls.iter().any(|u| u == target))
            }))
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
                logins.end_session(id);
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
