//! A tiny sample "protected API" served by the emulator, and a deliberately vulnerable twin, for
//! trying (and testing) `cargo kinde smoke`'s protection probes.
//!
//! - `GET /sample/protected` checks the token properly: RS256 signature by one of the emulator's
//!   keys, expiry, and the sample API's audience.
//! - `GET /sample/vulnerable` only checks that a bearer token decodes: the kind of hole the
//!   probes exist to find.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::Value;

use super::State;
use super::protocol::bearer;

/// The audience of the seeded sample API.
pub const SAMPLE_AUDIENCE: &str = "urn:cargo-kinde:sample-api";

/// The scope the sample API defines.
pub const SAMPLE_SCOPE: &str = "read:samples";

pub(super) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/sample/protected", get(protected))
        .route("/sample/vulnerable", get(vulnerable))
}

/// `POST /_emulator/tokens`: sign arbitrary claims with the active key (tests and the expired
/// token probe; not a Kinde endpoint).
pub(super) fn admin_routes() -> Router<Arc<State>> {
    Router::new().route(
        "/_emulator/tokens",
        post(
            |AxumState(state): AxumState<Arc<State>>, Json(claims): Json<Value>| async move {
                Json(Minted {
                    token: state.sign(&claims),
                })
            },
        ),
    )
}

/// The sample APIs' answer to a good enough token.
#[derive(Serialize)]
struct Hello {
    message: &'static str,
    azp: Option<Value>,
}

#[derive(Serialize)]
struct Refusal<'a> {
    error: &'static str,
    error_description: &'a str,
}

#[derive(Serialize)]
struct Minted {
    token: String,
}

fn refuse(reason: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            format!("Bearer error=\"invalid_token\", error_description=\"{reason}\""),
        )],
        Json(Refusal {
            error: "invalid_token",
            error_description: reason,
        }),
    )
        .into_response()
}

async fn protected(AxumState(state): AxumState<Arc<State>>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return refuse("a bearer token is required");
    };
    let claims = match state.check_token(token) {
        Ok(claims) => claims,
        Err(reason) => return refuse(reason),
    };
    if claims.issuer() != Some(state.issuer()) {
        return refuse("the token was issued by another issuer");
    }
    if !claims.live_at(state.now()) {
        return refuse("the token has expired");
    }
    if !claims.audiences().contains(&SAMPLE_AUDIENCE) {
        return refuse("the token is not for this API's audience");
    }
    Json(Hello {
        message: "hello from the protected sample API",
        azp: claims.authorized_party().cloned(),
    })
    .into_response()
}

async fn vulnerable(headers: HeaderMap) -> Response {
    // Deliberately wrong: reads the claims without checking signature, algorithm, expiry or
    // audience.
    use base64::Engine as _;
    let Some(token) = bearer(&headers) else {
        return refuse("a bearer token is required");
    };
    let claims = token
        .split('.')
        .nth(1)
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
    match claims {
        Some(claims) => Json(Hello {
            message: "hello from the vulnerable sample API",
            azp: claims.get("azp").cloned(),
        })
        .into_response(),
        None => refuse("the token does not decode"),
    }
}
