//! The device authorization flow (RFC 8628), as Kinde serves it to "Device and IoT" apps:
//! `POST /oauth2/device/auth` gives a device code and a user code; the user opens
//! `<issuer>/device`, enters the code and signs in (or denies); meanwhile the device polls
//! `/oauth2/token` with `grant_type=urn:ietf:params:oauth:grant-type:device_code`.
//!
//! Kinde's documented values (FACTS.md, device flow): device codes start `kinde_dc_`, user codes
//! are 8 characters, `verification_uri` is `<issuer>/device` and `verification_uri_complete`
//! adds `?user_code=`, `expires_in` 600 and `interval` 5; polling answers
//! `authorization_pending`, `slow_down` (the interval grows by 5 s), `access_denied`,
//! `expired_token`; success is `{"access_token","expires_in","scope","token_type":"bearer"}`
//! (lower case), with no refresh token. Not served: the `qr_code` PNG (the emulator draws no
//! images) and a default device app (a request must name its `client_id`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Serialize;

use super::State;
use super::expiring::Expiring;
use super::login::{device_sign_in, escape, page};
use super::protocol::{ClientCredentials, Form, OAuthError, no_store, unique};
use super::tenant::random_hex;

/// How long a device code lives (seconds).
const EXPIRES_IN: u64 = 600;
/// The polling interval first given (seconds).
const INTERVAL: u64 = 5;
/// How long an expired code is still remembered, to answer `expired_token` rather than
/// `invalid_grant`.
const REMEMBERED: u64 = 600;
/// How many device requests are held at once.
const HELD: usize = 10_000;
/// The letters of user codes: consonants only, so no word is spelled and none is misread
/// (RFC 8628 §6.1).
const LETTERS: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// How many scopes (and audiences) a device request may ask for, and how long each may be.
const MAX_VALUES: usize = 64;
const MAX_VALUE_LEN: usize = 512;

/// The grant type of the device's polls.
pub(super) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Device requests by device code; a user code is found among them (at most [`HELD`]).
#[derive(Debug)]
pub(super) struct Devices {
    requests: Expiring<DeviceRequest>,
}

impl Default for Devices {
    fn default() -> Devices {
        Devices {
            requests: Expiring::new(HELD),
        }
    }
}

impl Devices {
    /// The device code of the live request with `user_code`.
    fn by_user_code(&self, user_code: &str, now: u64) -> Option<String> {
        self.requests
            .entries()
            .find(|(_, r)| r.user_code == user_code && r.expires_at > now)
            .map(|(device_code, _)| device_code.to_string())
    }

    /// How many requests are held, for `GET /_emulator/stats`.
    pub(super) fn held(&self) -> usize {
        self.requests.len()
    }
}

#[derive(Debug, Clone)]
struct DeviceRequest {
    client_id: String,
    scopes: Vec<String>,
    audiences: Vec<String>,
    user_code: String,
    expires_at: u64,
    interval: u64,
    last_poll: Option<u64>,
    answer: Answer,
}

#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Pending,
    Approved(String),
    Denied,
}

pub(super) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/oauth2/device/auth", post(device_authorization))
        .route("/device", get(device_page).post(device_answer))
}

#[derive(Serialize)]
struct Authorization {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: String,
    expires_in: u64,
    interval: u64,
}

fn user_code() -> String {
    // Random bytes mapped onto 20 letters: 256 = 12 × 20 + 16, so bytes ≥ 240 are skipped to
    // keep every letter equally likely.
    let mut code = String::with_capacity(8);
    while code.len() < 8 {
        for byte in random_hex(16).as_bytes().chunks(2) {
            let value =
                u8::from_str_radix(std::str::from_utf8(byte).unwrap_or("ff"), 16).unwrap_or(255);
            if value < 240 && code.len() < 8 {
                code.push(char::from(LETTERS[usize::from(value) % LETTERS.len()]));
            }
        }
    }
    code
}

/// The "Device and IoT" application `client_id`, or why it may not use the device flow.
fn device_app(state: &State, client_id: &str) -> Result<(), OAuthError> {
    state.read(|t| {
        let app = t.application(client_id).ok_or_else(|| {
            OAuthError::invalid_client("Client authentication failed: unknown client")
        })?;
        if app.kind != "device" {
            return Err(OAuthError::unauthorized_client(
                "The client is not authorized to use the device authorization grant: it is not a \"Device and IoT\" application",
            ));
        }
        Ok(())
    })
}

/// At most [`MAX_VALUES`] values of at most [`MAX_VALUE_LEN`] bytes each: a device app's
/// client id is public, so what a request asks for is kept only within bounds.
fn bounded(values: Vec<String>, name: &str) -> Result<Vec<String>, OAuthError> {
    if values.len() > MAX_VALUES || values.iter().any(|v| v.len() > MAX_VALUE_LEN) {
        return Err(OAuthError::invalid_request(format!(
            "At most {MAX_VALUES} values of {name}, each at most {MAX_VALUE_LEN} bytes"
        )));
    }
    Ok(values)
}

/// What a person types: case, spaces and dashes do not matter.
fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// `POST /oauth2/device/auth`: `client_id` (a "Device and IoT" app), optional `scope` and
/// `audience`.
async fn device_authorization(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let form = Form::parse(&body);
    let credentials = ClientCredentials::from_request(&headers, &form).ok_or_else(|| {
        OAuthError::invalid_request(
            "The request is missing the required parameter client_id (the emulator has no default device app)",
        )
    })?;
    device_app(&state, &credentials.id)?;
    let scopes: Vec<String> = bounded(unique(form.all("scope")), "scope")?;
    let audiences: Vec<String> = bounded(unique(form.all("audience")), "audience")?;
    let now = state.now();
    let device_code = format!("kinde_dc_{}", random_hex(24));
    let mut devices = state.devices.lock().unwrap_or_else(|p| p.into_inner());
    let mut code = user_code();
    while devices.by_user_code(&code, now).is_some() {
        code = user_code();
    }
    devices.requests.insert(
        device_code.clone(),
        DeviceRequest {
            client_id: credentials.id.clone(),
            scopes,
            audiences,
            user_code: code.clone(),
            expires_at: now + EXPIRES_IN,
            interval: INTERVAL,
            last_poll: None,
            answer: Answer::Pending,
        },
        now + EXPIRES_IN + REMEMBERED,
        now,
    );
    drop(devices);
    let verification_uri = format!("{}/device", state.issuer());
    Ok(no_store(Authorization {
        verification_uri_complete: format!("{verification_uri}?user_code={code}"),
        verification_uri,
        device_code,
        user_code: code,
        expires_in: EXPIRES_IN,
        interval: INTERVAL,
    }))
}

/// The device's answer, lower-case `bearer` as Kinde's.
#[derive(Serialize)]
struct DeviceTokens {
    access_token: String,
    expires_in: u64,
    scope: String,
    token_type: &'static str,
}

/// A poll of `/oauth2/token` with the device code.
pub(super) fn token(
    state: &State,
    headers: &HeaderMap,
    form: &Form,
) -> Result<Response, OAuthError> {
    let device_code = form.get("device_code").ok_or_else(|| {
        OAuthError::invalid_request("The request is missing the required parameter device_code")
    })?;
    let credentials = ClientCredentials::from_request(headers, form).ok_or_else(|| {
        OAuthError::invalid_request("The request is missing the required parameter client_id")
    })?;
    let now = state.now();
    let request = {
        let mut devices = state.devices.lock().unwrap_or_else(|p| p.into_inner());
        let request = devices
            .requests
            .get_mut(device_code, now)
            .ok_or_else(|| OAuthError::invalid_grant("The device code is invalid or unknown"))?;
        if request.client_id != credentials.id {
            return Err(OAuthError::invalid_grant(
                "The device code was issued to another client",
            ));
        }
        // Terminal answers stay until the entry is forgotten, so a retried poll gets them again.
        if request.expires_at <= now {
            return Err(OAuthError::expired_token(
                "The device code has expired: start again with /oauth2/device/auth",
            ));
        }
        match request.answer.clone() {
            Answer::Pending => {
                let too_soon = request
                    .last_poll
                    .is_some_and(|last| now < last.saturating_add(request.interval));
                request.last_poll = Some(now);
                if too_soon {
                    request.interval += 5;
                    return Err(OAuthError::slow_down(format!(
                        "Polling too fast: wait {} seconds between requests",
                        request.interval
                    )));
                }
                return Err(OAuthError::authorization_pending(
                    "The user has not yet approved the device",
                ));
            }
            Answer::Denied => {
                return Err(OAuthError::access_denied("The user denied the request"));
            }
            Answer::Approved(_) => devices.requests.take(device_code, now),
        }
    };
    let Some(DeviceRequest {
        client_id,
        scopes,
        audiences,
        answer: Answer::Approved(user_id),
        ..
    }) = request
    else {
        return Err(OAuthError::invalid_grant(
            "The device code is invalid or unknown",
        ));
    };
    // The app may have been deleted, or changed, since the flow started.
    device_app(state, &client_id)?;
    let (access_token, expires_in) =
        device_sign_in(state, &client_id, &user_id, &audiences, &scopes)?;
    Ok(no_store(DeviceTokens {
        access_token,
        expires_in,
        scope: String::new(),
        token_type: "bearer",
    }))
}

#[derive(serde::Deserialize)]
struct PageQuery {
    user_code: Option<String>,
}

/// `GET /device`: the form to enter a code, or with `?user_code=`, the users to approve as.
async fn device_page(
    AxumState(state): AxumState<Arc<State>>,
    Query(query): Query<PageQuery>,
) -> Response {
    match query.user_code.as_deref().map(normalise) {
        None => code_form(StatusCode::OK, ""),
        Some(code) if code.is_empty() => code_form(StatusCode::OK, ""),
        Some(code) => match pending(&state, &code) {
            Some(client_id) => approve_page(&state, &code, &client_id),
            None => code_form(
                StatusCode::BAD_REQUEST,
                "<p><strong>That code is not valid, or it has expired.</strong> Check the code your device shows.</p>",
            ),
        },
    }
}

/// The client of the pending request `code` names.
fn pending(state: &State, code: &str) -> Option<String> {
    let now = state.now();
    let devices = state.devices.lock().unwrap_or_else(|p| p.into_inner());
    let device_code = devices.by_user_code(code, now)?;
    devices
        .requests
        .get(&device_code, now)
        .filter(|r| r.answer == Answer::Pending)
        .map(|r| r.client_id.clone())
}

fn code_form(status: StatusCode, notice: &str) -> Response {
    page(
        status,
        "Connect a device",
        &format!(
            "{notice}<form method=\"get\" action=\"/device\"><p><label for=\"user_code\">Enter the code shown on your device</label>\
             <input id=\"user_code\" name=\"user_code\" autocomplete=\"off\" required></p><button type=\"submit\">Continue</button></form>"
        ),
    )
}

fn approve_page(state: &State, code: &str, client_id: &str) -> Response {
    // The page lists every user, as the sign-in page does.
    let (app_name, users) = state.read(|t| {
        (
            t.application(client_id)
                .map(|a| a.name.clone())
                .unwrap_or_default(),
            t.users
                .iter()
                .filter(|u| !u.is_suspended)
                .map(|u| (u.email.clone(), u.first_name.clone(), u.last_name.clone()))
                .collect::<Vec<_>>(),
        )
    });
    let code = escape(code);
    let mut buttons = String::new();
    for (email, first, last) in &users {
        buttons.push_str(&format!(
            "<form method=\"post\" action=\"/device\"><input type=\"hidden\" name=\"user_code\" value=\"{code}\"><input type=\"hidden\" name=\"email\" value=\"{0}\"><button type=\"submit\" data-email=\"{0}\">{1} {2} &lt;{0}&gt;</button></form>",
            escape(email),
            escape(first),
            escape(last),
        ));
    }
    page(
        StatusCode::OK,
        &format!("Connect {}", escape(&app_name)),
        &format!(
            "<p class=\"muted\">Kinde emulator: code <strong>{code}</strong>. Pick the user who approves this device.</p>{buttons}\
             <form method=\"post\" action=\"/device\"><input type=\"hidden\" name=\"user_code\" value=\"{code}\"><input type=\"hidden\" name=\"deny\" value=\"1\"><button type=\"submit\">Deny</button></form>"
        ),
    )
}

/// `POST /device` (form: `user_code` and `email`, or `deny`): the user's answer.
async fn device_answer(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let code = normalise(form.get("user_code").unwrap_or(""));
    let now = state.now();
    if form.get("deny").is_none() && form.get("email").is_none() {
        return page(
            StatusCode::BAD_REQUEST,
            "Pick a user",
            "<p>The form needs <code>email</code> (the user who approves) or <code>deny=1</code>.</p>",
        );
    }
    let user_id = match form.get("email") {
        Some(email) if form.get("deny").is_none() => {
            match state.read(|t| {
                t.user_by_email(email)
                    .filter(|u| !u.is_suspended)
                    .map(|u| u.id.clone())
            }) {
                Some(id) => Some(id),
                None => {
                    return page(
                        StatusCode::BAD_REQUEST,
                        "Unknown user",
                        "<p>No such user can approve a device (unknown or suspended).</p>",
                    );
                }
            }
        }
        _ => None,
    };
    let mut devices = state.devices.lock().unwrap_or_else(|p| p.into_inner());
    let Some(request) = devices
        .by_user_code(&code, now)
        .and_then(|device_code| devices.requests.get_mut(&device_code, now))
        .filter(|r| r.answer == Answer::Pending)
    else {
        drop(devices);
        return code_form(
            StatusCode::BAD_REQUEST,
            "<p><strong>That code is not valid, or it has expired.</strong> Check the code your device shows.</p>",
        );
    };
    match user_id {
        Some(id) => {
            request.answer = Answer::Approved(id);
            drop(devices);
            page(
                StatusCode::OK,
                "Device connected",
                "<p>The device is signed in. You can close this window.</p>",
            )
        }
        None => {
            request.answer = Answer::Denied;
            drop(devices);
            page(
                StatusCode::OK,
                "Access denied",
                "<p>The device was not signed in.</p>",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_eight_consonants_and_typing_is_forgiving() {
        for _ in 0..100 {
            let code = user_code();
            assert_eq!(code.len(), 8);
            assert!(code.bytes().all(|b| LETTERS.contains(&b)), "{code}");
        }
        assert_eq!(normalise(" bcdf-ghjk "), "BCDFGHJK");
    }
}
