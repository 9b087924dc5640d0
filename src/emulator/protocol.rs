//! The OAuth 2.0 pieces shared by the token endpoint and the sign-in flow: form bodies, client
//! authentication (`client_secret_post` and `client_secret_basic`), bearer tokens and RFC 6749
//! error bodies.

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Serialize;

/// Form or query fields in order, keeping repeated ones (`audience` and `scope` may repeat).
#[derive(Debug, Default)]
pub(super) struct Form(Vec<(String, String)>);

impl Form {
    /// An `application/x-www-form-urlencoded` body.
    pub(super) fn parse(body: &[u8]) -> Form {
        Form(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// Fields already split, e.g. a query string read by axum.
    pub(super) fn from_pairs(pairs: Vec<(String, String)>) -> Form {
        Form(pairs)
    }

    /// The first value of `name`; an empty value counts as absent, as at Kinde.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Every value of `name`, each split on white space: `a b` and `a`&`b` mean the same.
    pub(super) fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split_whitespace().map(String::from))
            .collect()
    }
}

/// `items` without repeats, first occurrence kept: a repeated audience or scope appears once in
/// a token, as at Kinde.
pub(super) fn unique(items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    items
        .into_iter()
        .filter(|item| seen.insert(item.clone()))
        .collect()
}

/// The credentials a client presented.
pub(super) struct ClientCredentials {
    /// The client id.
    pub(super) id: String,
    /// The secret, when one was sent.
    pub(super) secret: Option<String>,
}

impl ClientCredentials {
    /// HTTP Basic (`client_secret_basic`) when the header is there, else the body's `client_id`
    /// and `client_secret` (`client_secret_post`). `None` when no client id was sent, or the
    /// Basic header does not decode.
    pub(super) fn from_request(headers: &HeaderMap, form: &Form) -> Option<ClientCredentials> {
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
            // RFC 6749 §2.3.1: both halves are form-urlencoded before being joined.
            return Some(ClientCredentials {
                id: form_decode(id)?,
                secret: form_decode(secret),
            });
        }
        Some(ClientCredentials {
            id: form.get("client_id")?.to_string(),
            secret: form.get("client_secret").map(String::from),
        })
    }

    /// Whether the secret sent equals `expected`, compared in constant time.
    pub(super) fn secret_matches(&self, expected: Option<&str>) -> bool {
        match (expected, &self.secret) {
            (Some(expected), Some(given)) => aws_lc_rs::constant_time::verify_slices_are_equal(
                expected.as_bytes(),
                given.as_bytes(),
            )
            .is_ok(),
            _ => false,
        }
    }
}

fn form_decode(text: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

/// The token of an `Authorization: Bearer` header.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
}

/// An OAuth error (RFC 6749 §5.2) from the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OAuthError {
    error: &'static str,
    description: String,
}

/// The wire form of [`OAuthError`].
#[derive(Serialize)]
struct OAuthErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl OAuthError {
    /// A parameter is missing or malformed.
    pub(super) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }

    /// The client could not be authenticated (401).
    pub(super) fn invalid_client(description: impl Into<String>) -> Self {
        Self::new("invalid_client", description)
    }

    /// The code or refresh token is not good.
    pub(super) fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }

    /// A requested scope is not granted.
    pub(super) fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new("invalid_scope", description)
    }

    /// The client may not use this grant or audience.
    pub(super) fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new("unauthorized_client", description)
    }

    /// The grant type is not one this endpoint serves.
    pub(super) fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::new("unsupported_grant_type", description)
    }

    /// The device flow's user has not answered yet (RFC 8628 §3.5).
    pub(super) fn authorization_pending(description: impl Into<String>) -> Self {
        Self::new("authorization_pending", description)
    }

    /// The device flow's client polls faster than its interval (RFC 8628 §3.5).
    pub(super) fn slow_down(description: impl Into<String>) -> Self {
        Self::new("slow_down", description)
    }

    /// The user said no (RFC 8628 §3.5).
    pub(super) fn access_denied(description: impl Into<String>) -> Self {
        Self::new("access_denied", description)
    }

    /// The device code expired before the user answered (RFC 8628 §3.5).
    pub(super) fn expired_token(description: impl Into<String>) -> Self {
        Self::new("expired_token", description)
    }

    fn new(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            error,
            description: description.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        // RFC 6749 §5.2: a failed client authentication is 401, every other error 400.
        let status = if self.error == "invalid_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        (
            status,
            [(header::CACHE_CONTROL, "no-store")],
            Json(OAuthErrorBody {
                error: self.error,
                error_description: &self.description,
            }),
        )
            .into_response()
    }
}

/// A token response: never cached (RFC 6749 §5.1).
pub(super) fn no_store<T: Serialize>(body: T) -> Response {
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_win_and_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = base64::engine::general_purpose::STANDARD.encode("app%3A1:s%2Bcret");
        headers.insert(
            header::AUTHORIZATION,
            format!("Basic {encoded}").parse().unwrap(),
        );
        let form = Form::parse(b"client_id=other&client_secret=x");
        let creds = ClientCredentials::from_request(&headers, &form).unwrap();
        assert_eq!(creds.id, "app:1");
        assert!(creds.secret_matches(Some("s+cret")));
        assert!(!creds.secret_matches(Some("x")));
        let posted = ClientCredentials::from_request(&HeaderMap::new(), &form).unwrap();
        assert_eq!(posted.id, "other");
        assert!(!posted.secret_matches(None));
    }

    #[test]
    fn repeated_fields_are_split_and_kept_once() {
        let form = Form::parse(b"audience=a+b&audience=a&scope=");
        assert_eq!(unique(form.all("audience")), ["a", "b"]);
        assert_eq!(form.get("scope"), None);
    }
}
