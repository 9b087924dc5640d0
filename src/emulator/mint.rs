//! Access tokens minted in-process for `cargo_kinde::testing`, through the code `/oauth2/token`
//! runs: a silent sign-in turned into tokens by the sign-in grants' own code, and the client
//! credentials grant itself. Nothing here builds a claim, so a minted token is one the emulator
//! would have issued over HTTP for the same tenant.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::State;
use super::protocol::Form;
use crate::error::Error;

/// The access token `user_id` gets signing in to `client_id` (in `org_code`, or the organization
/// a silent sign-in picks) for `audiences` and `scopes`.
pub(crate) async fn user_access_token(
    state: &State,
    client_id: &str,
    user_id: &str,
    org_code: Option<&str>,
    audiences: &[String],
    scopes: &[String],
) -> Result<String, Error> {
    let response =
        super::login::silent_sign_in(state, client_id, user_id, org_code, audiences, scopes)
            .unwrap_or_else(IntoResponse::into_response);
    access_token(response).await
}

/// The access token the M2M application `client_id` gets from the client credentials grant for
/// `audiences`, asking for `scopes` (none: every scope it was granted).
pub(crate) async fn m2m_access_token(
    state: &State,
    client_id: &str,
    client_secret: &str,
    audiences: &[String],
    scopes: &[String],
) -> Result<String, Error> {
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    body.append_pair("grant_type", "client_credentials")
        .append_pair("client_id", client_id)
        .append_pair("client_secret", client_secret);
    for audience in audiences {
        body.append_pair("audience", audience);
    }
    if !scopes.is_empty() {
        body.append_pair("scope", &scopes.join(" "));
    }
    let form = Form::parse(body.finish().as_bytes());
    let response = super::oidc::client_credentials(state, &HeaderMap::new(), &form)
        .unwrap_or_else(IntoResponse::into_response);
    access_token(response).await
}

/// The `access_token` of a token endpoint answer, or its OAuth error as an input error.
async fn access_token(response: Response) -> Result<String, Error> {
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), super::MAX_BODY)
        .await
        .map_err(|e| Error::network(format!("cannot read the emulator's token answer: {e}")))?;
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let field = |name: &str| body.get(name).and_then(serde_json::Value::as_str);
    match field("access_token") {
        Some(token) if status.is_success() => Ok(token.to_string()),
        _ => Err(Error::input(format!(
            "the emulator refused the token ({status}): {}: {}",
            field("error").unwrap_or("no error code"),
            field("error_description").unwrap_or("no description")
        ))),
    }
}

/// The active signing key's id and its public key as PEM: what forged tokens claim, or misuse.
pub(crate) fn active_key(state: &State) -> Result<(String, String), Error> {
    let keys = state.keys.read().unwrap_or_else(|p| p.into_inner());
    let key = keys
        .first()
        .ok_or_else(|| Error::input("the emulator has no signing key"))?;
    Ok((key.kid().to_string(), key.public_key_pem()?))
}
