//! The bearer token every Management API call needs: one of this emulator's M2M tokens
//! (`gty: client_credentials`, no `sub`) for the Management API audience (401 otherwise),
//! carrying the operation's scope (403 otherwise).

use axum::extract::{Request, State as AxumState};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::Shared;
use crate::emulator::error::ApiError;
use crate::emulator::protocol::bearer;
use crate::kinde;

/// The middleware: pass the request on, or answer Kinde's 401 / 403.
pub(super) async fn authorize(
    AxumState(state): AxumState<Shared>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let unauthorized = |message: &str| ApiError::unauthorized("UNAUTHORIZED", message);
    let token = bearer(request.headers())
        .ok_or_else(|| unauthorized("Missing bearer token in the Authorization header"))?;
    let claims = state.check_token(token).map_err(unauthorized)?;
    if claims.issuer() != Some(state.issuer()) {
        return Err(unauthorized("The token was issued by another issuer"));
    }
    if !claims.live_at(state.now()) {
        return Err(ApiError::unauthorized(
            "TOKEN_EXPIRED",
            "The access token has expired",
        ));
    }
    // Kinde's Management API takes M2M tokens only: a user's token (it has a `sub`, and no
    // `gty` of client_credentials) is no credential here, whatever its audience or scopes.
    if claims.subject().is_some() || !claims.grant_types().contains(&"client_credentials") {
        return Err(unauthorized(
            "The Management API takes a machine-to-machine (client_credentials) token, not a user's token",
        ));
    }
    let audience = format!("{}/api", state.issuer());
    if !claims.audiences().contains(&audience.as_str()) {
        return Err(unauthorized(
            "The token's audience is not the Kinde Management API",
        ));
    }
    let operation = kinde::find_operation(request.method().as_str(), request.uri().path());
    if let Some(required) = operation.and_then(|o| o.scope)
        && !claims.scopes().contains(&required)
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            format!("The access token is missing the required scope {required}"),
        ));
    }
    Ok(next.run(request).await)
}
