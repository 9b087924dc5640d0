//! OIDC core: discovery, JWKS and the token endpoint, which serves `client_credentials` itself
//! and hands the sign-in grants to [`super::login`], with Kinde's request rules and error bodies.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use super::State;
use super::error::ApiError;
use super::protocol::{ClientCredentials, Form, OAuthError, no_store, unique};
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
pub(super) async fn not_found() -> ApiError {
    ApiError::RouteNotFound
}

/// `/.well-known/openid-configuration`.
#[derive(Serialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    end_session_endpoint: String,
    revocation_endpoint: String,
    introspection_endpoint: String,
    device_authorization_endpoint: String,
    jwks_uri: String,
    response_types_supported: &'static [&'static str],
    grant_types_supported: &'static [&'static str],
    subject_types_supported: &'static [&'static str],
    id_token_signing_alg_values_supported: &'static [&'static str],
    token_endpoint_auth_methods_supported: &'static [&'static str],
    code_challenge_methods_supported: &'static [&'static str],
    scopes_supported: &'static [&'static str],
    claims_supported: &'static [&'static str],
}

async fn discovery(AxumState(state): AxumState<Shared>) -> Json<Discovery> {
    let iss = state.issuer();
    Json(Discovery {
        issuer: iss.to_string(),
        authorization_endpoint: format!("{iss}/oauth2/auth"),
        token_endpoint: format!("{iss}/oauth2/token"),
        userinfo_endpoint: format!("{iss}/oauth2/v2/user_profile"),
        end_session_endpoint: format!("{iss}/logout"),
        revocation_endpoint: format!("{iss}/oauth2/revoke"),
        introspection_endpoint: format!("{iss}/oauth2/introspect"),
        device_authorization_endpoint: format!("{iss}/oauth2/device/auth"),
        jwks_uri: format!("{iss}/.well-known/jwks"),
        response_types_supported: &["code"],
        grant_types_supported: &[
            "authorization_code",
            "refresh_token",
            "client_credentials",
            super::device::GRANT_TYPE,
        ],
        subject_types_supported: &["public"],
        id_token_signing_alg_values_supported: &["RS256"],
        token_endpoint_auth_methods_supported: &["client_secret_post", "client_secret_basic"],
        code_challenge_methods_supported: &["S256"],
        scopes_supported: &["openid", "profile", "email", "offline"],
        claims_supported: &[
            "aud",
            "exp",
            "iat",
            "iss",
            "sub",
            "azp",
            "email",
            "name",
            "given_name",
            "family_name",
            "picture",
            "nonce",
        ],
    })
}

async fn jwks(
    AxumState(state): AxumState<Shared>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // Kinde's JWKS is public, and it refuses requests that carry credentials.
    if headers.contains_key(header::AUTHORIZATION) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "The JWKS endpoint does not accept credentials",
        ));
    }
    let keys = state.keys.read().unwrap_or_else(|p| p.into_inner());
    let jwks = Jwks {
        keys: keys.iter().map(super::keys::SigningKey::jwk).collect(),
    };
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        Json(jwks),
    )
        .into_response())
}

async fn token(
    AxumState(state): AxumState<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "The request must be sent as application/x-www-form-urlencoded",
        ));
    }
    let form = Form::parse(&body);
    let grant_type = form.get("grant_type").ok_or_else(|| {
        OAuthError::invalid_request("The request is missing the required parameter grant_type")
    })?;
    match grant_type {
        "client_credentials" => client_credentials(&state, &headers, &form),
        "authorization_code" => super::login::authorization_code(&state, &headers, &form),
        "refresh_token" => super::login::refresh_token(&state, &headers, &form),
        super::device::GRANT_TYPE => super::device::token(&state, &headers, &form),
        other => Err(OAuthError::unsupported_grant_type(format!(
            "The grant type {other} is not supported by this endpoint"
        ))),
    }
}

/// The claims of an M2M access token, as Kinde issues them (no `sub`).
#[derive(Serialize)]
struct M2mClaims<'a> {
    aud: &'a [String],
    azp: &'a str,
    exp: u64,
    gty: [&'static str; 1],
    iat: u64,
    iss: &'a str,
    jti: String,
    /// Only for an org-scoped M2M application: its organization, in every token it gets.
    #[serde(skip_serializing_if = "Option::is_none")]
    org_code: Option<String>,
    scope: String,
    scp: &'a [String],
    v: &'static str,
}

/// The token response of the client credentials grant.
#[derive(Serialize)]
struct M2mToken {
    access_token: String,
    expires_in: u64,
    scope: String,
    token_type: &'static str,
}

pub(super) fn client_credentials(
    state: &State,
    headers: &HeaderMap,
    form: &Form,
) -> Result<Response, OAuthError> {
    let credentials = ClientCredentials::from_request(headers, form).ok_or_else(|| {
        OAuthError::invalid_client("Client authentication failed: no client_id was sent")
    })?;
    // Decided under the read lock, without copying the tenant; signed after it is released.
    let (app_id, audiences, scopes, requested, org_code) = state.read(|tenant| {
        let app = tenant
            .application(&credentials.id)
            .filter(|app| credentials.secret_matches(app.client_secret.as_deref()))
            .ok_or_else(|| {
                OAuthError::invalid_client(
                    "Client authentication failed (unknown client, no client authentication included, or unsupported authentication method)",
                )
            })?;
        if app.kind != "m2m" {
            return Err(OAuthError::unauthorized_client(
                "The client is not authorized to use the client_credentials grant: it is not a machine-to-machine application",
            ));
        }
        let audiences = unique(form.all("audience"));
        if audiences.is_empty() {
            return Err(OAuthError::invalid_request(
                "The request is missing the required parameter audience",
            ));
        }
        let mut granted: Vec<String> = Vec::new();
        for audience in &audiences {
            let authorization = tenant
                .api_by_audience(state.issuer(), audience)
                .and_then(|api| api.authorization(&app.id))
                .ok_or_else(|| {
                    OAuthError::unauthorized_client(format!(
                        "The client is not authorized to request an access token for the audience {audience}"
                    ))
                })?;
            granted.extend(authorization.scopes.iter().cloned());
        }
        granted.sort();
        granted.dedup();
        // `scope=` (empty, as management-api-js sends it) asks for nothing in particular.
        let requested = unique(form.all("scope"));
        if let Some(missing) = requested.iter().find(|s| !granted.contains(s)) {
            return Err(OAuthError::invalid_scope(format!(
                "The requested scope {missing} is invalid, unknown, or not granted to the client"
            )));
        }
        // Kinde: `scp` holds the scopes requested (`[]` when none were), `scope` every granted
        // scope, or the requested subset.
        let scopes = if requested.is_empty() {
            granted
        } else {
            requested.clone()
        };
        let org_code = app
            .extra
            .get(super::management::ORG_CODE)
            .and_then(serde_json::Value::as_str)
            .map(String::from);
        Ok((app.id.clone(), audiences, scopes, requested, org_code))
    })?;
    let now = state.now();
    let ttl = state.access_token_ttl;
    let access_token = state.sign(&M2mClaims {
        aud: &audiences,
        azp: &app_id,
        exp: now.saturating_add(ttl),
        gty: ["client_credentials"],
        iat: now,
        iss: state.issuer(),
        jti: random_uuid(),
        org_code,
        scope: scopes.join(" "),
        scp: &requested,
        v: "2",
    });
    Ok(no_store(M2mToken {
        access_token,
        expires_in: ttl,
        scope: scopes.join(" "),
        token_type: "Bearer",
    }))
}
