//! OIDC core: discovery, JWKS and the token endpoint (client credentials), with Kinde's request
//! rules and error bodies.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};

use super::State;
use super::tenant::random_uuid;
use crate::jwt::jwks::Jwks;

type Shared = Arc<State>;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/jwks", get(jwks))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/oauth2/token", post(token))
}

/// Kinde's answer to an unknown route.
pub(super) async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"errors": {"code": "ROUTE_NOT_FOUND", "message": "The requested API route does not exist"}})),
    )
        .into_response()
}

async fn discovery(AxumState(state): AxumState<Shared>) -> Json<Value> {
    let iss = state.issuer();
    Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/oauth2/auth"),
        "token_endpoint": format!("{iss}/oauth2/token"),
        "userinfo_endpoint": format!("{iss}/oauth2/v2/user_profile"),
        "end_session_endpoint": format!("{iss}/logout"),
        "jwks_uri": format!("{iss}/.well-known/jwks"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "offline"],
        "claims_supported": ["aud", "exp", "iat", "iss", "sub", "azp", "email", "name", "given_name", "family_name", "picture", "nonce"],
    }))
}

async fn jwks(AxumState(state): AxumState<Shared>, headers: HeaderMap) -> Response {
    // Kinde's JWKS is public, and it refuses requests that carry credentials.
    if headers.contains_key(header::AUTHORIZATION) {
        return (StatusCode::FORBIDDEN, Json(json!({"errors": [{"code": "FORBIDDEN", "message": "The JWKS endpoint does not accept credentials"}]})))
            .into_response();
    }
    let keys = state.keys.read().unwrap_or_else(|p| p.into_inner());
    let jwks = Jwks {
        keys: keys.iter().map(super::keys::SigningKey::jwk).collect(),
    };
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        Json(jwks),
    )
        .into_response()
}

/// An OAuth error response (RFC 6749 §5.2); `invalid_client` is 401, the rest 400.
pub(super) fn oauth_error(error: &str, description: &str) -> Response {
    let status = if error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// The form fields, keeping repeated ones (`audience` may repeat).
pub(super) struct Form(pub(super) Vec<(String, String)>);

impl Form {
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split_whitespace().map(String::from).collect::<Vec<_>>())
            .collect()
    }
}

async fn token(AxumState(state): AxumState<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return oauth_error(
            "invalid_request",
            "The request must be sent as application/x-www-form-urlencoded",
        );
    }
    let form = Form(url::form_urlencoded::parse(&body).into_owned().collect());
    let Some(grant_type) = form.get("grant_type") else {
        return oauth_error(
            "invalid_request",
            "The request is missing the required parameter grant_type",
        );
    };
    match grant_type {
        "client_credentials" => client_credentials(&state, &headers, &form),
        "authorization_code" => super::login::authorization_code(&state, &headers, &form),
        "refresh_token" => super::login::refresh_token(&state, &headers, &form),
        other => oauth_error(
            "unsupported_grant_type",
            &format!("The grant type {other} is not supported by this endpoint"),
        ),
    }
}

/// `items` without repeats, first occurrence kept: a repeated audience or scope appears once in
/// the token, as at Kinde.
fn unique(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Client id and secret from the body, or from HTTP Basic authentication.
pub(super) fn client_auth(headers: &HeaderMap, form: &Form) -> Option<(String, Option<String>)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        let unescape = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        return Some((unescape(id)?, unescape(secret)));
    }
    Some((
        form.get("client_id")?.to_string(),
        form.get("client_secret").map(String::from),
    ))
}

fn client_credentials(state: &State, headers: &HeaderMap, form: &Form) -> Response {
    let Some((client_id, secret)) = client_auth(headers, form) else {
        return oauth_error(
            "invalid_client",
            "Client authentication failed: no client_id was sent",
        );
    };
    let tenant = state.tenant();
    let authenticated =
        tenant
            .application(&client_id)
            .filter(|app| match (&app.client_secret, &secret) {
                (Some(expected), Some(given)) => aws_lc_rs::constant_time::verify_slices_are_equal(
                    expected.as_bytes(),
                    given.as_bytes(),
                )
                .is_ok(),
                _ => false,
            });
    let Some(app) = authenticated else {
        return oauth_error(
            "invalid_client",
            "Client authentication failed (unknown client, no client authentication included, or unsupported authentication method)",
        );
    };
    if app.kind != "m2m" {
        return oauth_error(
            "unauthorized_client",
            "The client is not authorized to use the client_credentials grant: it is not a machine-to-machine application",
        );
    }
    let audiences = unique(form.all("audience"));
    if audiences.is_empty() {
        return oauth_error(
            "invalid_request",
            "The request is missing the required parameter audience",
        );
    }
    let mut granted: Vec<String> = Vec::new();
    for audience in &audiences {
        let authorization = tenant
            .api_by_audience(state.issuer(), audience)
            .and_then(|api| api.authorization(&app.id));
        let Some(authorization) = authorization else {
            return oauth_error(
                "unauthorized_client",
                &format!(
                    "The client is not authorized to request an access token for the audience {audience}"
                ),
            );
        };
        granted.extend(authorization.scopes.iter().cloned());
    }
    granted.sort();
    granted.dedup();
    let requested = unique(form.all("scope"));
    let scopes = if requested.is_empty() {
        granted
    } else {
        if let Some(missing) = requested.iter().find(|s| !granted.contains(s)) {
            return oauth_error(
                "invalid_scope",
                &format!(
                    "The requested scope {missing} is invalid, unknown, or not granted to the client"
                ),
            );
        }
        requested
    };
    let now = crate::clock::now();
    let ttl = state.access_token_ttl;
    let claims = json!({
        "aud": audiences,
        "azp": app.id,
        "exp": now.saturating_add(ttl),
        "gty": ["client_credentials"],
        "iat": now,
        "iss": state.issuer(),
        "jti": random_uuid(),
        "scope": scopes.join(" "),
        "scp": scopes,
        "v": "2",
    });
    let access_token = state.sign(&claims);
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({
            "access_token": access_token,
            "expires_in": ttl,
            "scope": scopes.join(" "),
            "token_type": "Bearer",
        })),
    )
        .into_response()
}
