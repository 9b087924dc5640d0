//! Request and response envelopes shared by every resource: JSON bodies read into serde structs
//! with Kinde's 400 on failure, and Kinde's `{"code":"OK","message":"Success", ...}` wrapper.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::emulator::error::ApiError;

/// A JSON request body; a body that is not JSON, or not of the expected shape, is Kinde's
/// `INVALID_REQUEST_BODY` rather than axum's plain-text rejection.
pub(in crate::emulator) struct Body<T>(pub(in crate::emulator) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let invalid = |message: String| ApiError::bad_request("INVALID_REQUEST_BODY", message);
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| invalid(format!("The request body cannot be read: {e}")))?;
        serde_json::from_slice(&bytes).map(Body).map_err(|e| {
            if e.is_data() {
                invalid(format!("The request body has an unexpected shape: {e}"))
            } else {
                invalid("The request body must be a JSON object".into())
            }
        })
    }
}

/// The request body as sent, any content type; one that cannot be read is Kinde's 400 (or 413
/// over the limit) as JSON, not axum's plain-text rejection.
pub(super) struct Raw(pub(super) Bytes);

impl<S: Send + Sync> FromRequest<S> for Raw {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(request, state)
            .await
            .map(Raw)
            .map_err(|e| {
                ApiError::new(
                    e.status(),
                    "INVALID_REQUEST_BODY",
                    format!("The request body cannot be read: {}", e.body_text()),
                )
            })
    }
}

/// `{"code":"OK","message":"Success", ...body}`.
#[derive(Serialize)]
pub(super) struct Success<T> {
    code: &'static str,
    message: &'static str,
    #[serde(flatten)]
    body: T,
}

/// Kinde's success envelope around `body`.
pub(super) fn success<T>(body: T) -> Json<Success<T>> {
    Json(Success {
        code: "OK",
        message: "Success",
        body,
    })
}

/// A success with nothing more to say.
#[derive(Serialize)]
pub(super) struct Nothing {}

/// `{"code", "message"}` for endpoints that answer with their own code, e.g. `API_DELETED`.
#[derive(Serialize)]
pub(super) struct Outcome {
    pub(super) message: &'static str,
    pub(super) code: &'static str,
}
