//! Kinde's error answers for everything that is not an OAuth endpoint: the Management API's
//! `{"errors":[{"code","message"}]}` and the unknown-route answer.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered in Kinde's shape; handlers return it as their `Err`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// `{"errors":[{"code","message"}]}` with this status.
    Kinde {
        /// The HTTP status.
        status: StatusCode,
        /// Kinde's error code, e.g. `APPLICATION_NOT_FOUND`.
        code: String,
        /// What went wrong.
        message: String,
    },
    /// No such route. Kinde's spec (`not_found_response`) gives this one answer a single error
    /// object rather than a list, and clients parse both, so the emulator keeps the difference.
    RouteNotFound,
    /// A known path asked with a method no operation has; the methods that it has, for
    /// `Allow`. The spec gives 405 no body, so it gets the usual `error_response`.
    MethodNotAllowed(String),
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Kinde {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// A 400, the status of every Management API validation and lookup failure.
    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A 401: no token, or one that is not good for this endpoint.
    pub fn unauthorized(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
}

/// One entry of Kinde's `errors`.
#[derive(Serialize)]
struct ErrorEntry<'a> {
    code: &'a str,
    message: &'a str,
}

/// `{"errors":[...]}`, the spec's `error_response`.
#[derive(Serialize)]
struct ErrorList<'a> {
    errors: [ErrorEntry<'a>; 1],
}

/// `{"errors":{...}}`, the spec's `not_found_response`.
#[derive(Serialize)]
struct SingleError<'a> {
    errors: ErrorEntry<'a>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Kinde {
                status,
                code,
                message,
            } => (
                status,
                Json(ErrorList {
                    errors: [ErrorEntry {
                        code: &code,
                        message: &message,
                    }],
                }),
            )
                .into_response(),
            ApiError::RouteNotFound => (
                StatusCode::NOT_FOUND,
                Json(SingleError {
                    errors: ErrorEntry {
                        code: "ROUTE_NOT_FOUND",
                        message: "The requested API route does not exist",
                    },
                }),
            )
                .into_response(),
            ApiError::MethodNotAllowed(allowed) => {
                let mut response = (
                    StatusCode::METHOD_NOT_ALLOWED,
                    Json(ErrorList {
                        errors: [ErrorEntry {
                            code: "METHOD_NOT_ALLOWED",
                            message: &format!("This route supports {allowed}"),
                        }],
                    }),
                )
                    .into_response();
                if let Ok(value) = axum::http::HeaderValue::from_str(&allowed) {
                    response
                        .headers_mut()
                        .insert(axum::http::header::ALLOW, value);
                }
                response
            }
        }
    }
}
