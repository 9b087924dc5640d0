//! Path and query parameters read into serde types, with Kinde's JSON 400 when they cannot be
//! (a path segment that is not UTF-8 once percent-decoded, a query parameter given twice, a
//! value of the wrong type) rather than axum's plain-text rejection, which no Kinde client
//! can parse.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::emulator::error::ApiError;

/// The route's path parameters, as axum's `Path` reads them.
pub(super) struct Path<T>(pub(super) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(ApiError::bad_request(
                "INVALID_PATH_PARAMETER",
                rejection.body_text(),
            )),
        }
    }
}

/// The query string, as axum's `Query` reads it.
pub(super) struct Query<T>(pub(super) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(ApiError::bad_request(
                "INVALID_QUERY_PARAMETER",
                rejection.body_text(),
            )),
        }
    }
}
