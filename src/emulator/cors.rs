//! CORS for the endpoints a web page calls itself. Kinde's front-end SDKs (React, the PKCE
//! JavaScript SDK, `@kinde/js-utils`) run in the browser of a "Front-end and mobile" app and
//! exchange the code, refresh and read the key set with `fetch` from the app's own origin, with
//! `credentials: "include"` and a `Kinde-SDK` header (so the browser asks first with a
//! preflight). A page on another origin reads those answers only when the server allows it.
//!
//! Allowed: the discovery document and the key set (public, any origin); the token,
//! revocation and profile endpoints and the Account API for the origins of the callback and logout URLs registered
//! on the tenant's applications (a wildcard entry's host pattern included), which is where a
//! front-end app signing in through Kinde lives (any application's: the emulator keeps one list
//! for the tenant, not one per client). Nothing else (the Management API, the sign-in
//! pages, `/_emulator/*`) is ever opened to another origin.

use std::sync::Arc;

use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{State, redirect};

/// Public documents: any origin may read them.
const PUBLIC: [&str; 3] = [
    "/.well-known/openid-configuration",
    "/.well-known/jwks",
    "/.well-known/jwks.json",
];

/// What a front-end app calls from its own origin.
const FOR_APPS: [&str; 5] = [
    "/oauth2/token",
    "/oauth2/revoke",
    "/oauth2/introspect",
    "/oauth2/v2/user_profile",
    "/oauth2/userinfo",
];

/// How long a browser may keep a preflight's answer (seconds).
const MAX_AGE: &str = "600";

pub(super) async fn cors(
    AxumState(state): AxumState<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let public = PUBLIC.contains(&path);
    if !public && !FOR_APPS.contains(&path) && !path.starts_with("/account_api/") {
        return next.run(request).await;
    }
    let Some(origin) = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        // The answer depends on `Origin`: a cache (the key set is cacheable) must not hand a
        // page the copy fetched without one.
        let mut response = next.run(request).await;
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("Origin"));
        return response;
    };
    let allowed = public || registered(&state, &origin);
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::VARY,
            HeaderValue::from_static(
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
            ),
        );
        if allowed {
            allow(headers, &origin);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, OPTIONS"),
            );
            // The headers the page asked to send (`Kinde-SDK`, `Authorization`, ...): the
            // endpoints read what they need and ignore the rest.
            if let Some(asked) = request
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            {
                headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
            }
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(MAX_AGE),
            );
        }
        return response;
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if allowed {
        allow(headers, &origin);
    }
    response
}

fn allow(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

/// Whether `origin` is the origin of a callback or logout URL some application registered.
fn registered(state: &State, origin: &str) -> bool {
    let origin = origin.to_ascii_lowercase();
    if origin == "null" {
        return false;
    }
    state.read(|t| {
        t.applications
            .iter()
            .flat_map(|app| app.redirect_urls.iter().chain(&app.logout_urls))
            .any(|url| origin_matches(url, &origin))
    })
}

/// Whether `origin` (`scheme://host[:port]`, lower case) is `url`'s origin, where a wildcard in
/// `url`'s host stands for one label as it does for a callback.
fn origin_matches(url: &str, origin: &str) -> bool {
    if url.contains('*') {
        let Some((scheme, rest)) = url.split_once("://") else {
            return false;
        };
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        let pattern = format!("{scheme}://{authority}").to_ascii_lowercase();
        return redirect::allowed(&[pattern], origin);
    }
    match url::Url::parse(url) {
        Ok(parsed) => {
            let own = parsed.origin();
            own.is_tuple() && own.ascii_serialization() == origin
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::origin_matches;

    #[test]
    fn an_origin_matches_its_registered_urls_and_nothing_near_them() {
        let cases = [
            (
                "http://localhost:3000/callback",
                "http://localhost:3000",
                true,
            ),
            (
                "http://localhost:3000/callback",
                "http://localhost:3001",
                false,
            ),
            (
                "http://localhost:3000/callback",
                "https://localhost:3000",
                false,
            ),
            ("https://app.acme.com/cb", "https://app.acme.com", true),
            ("https://app.acme.com:443/cb", "https://app.acme.com", true),
            (
                "https://app.acme.com/cb",
                "https://app.acme.com.evil.test",
                false,
            ),
            ("https://*.acme.com/callback", "https://pr-7.acme.com", true),
            ("https://*.acme.com/callback", "https://a.b.acme.com", false),
            ("https://*.acme.com/callback", "https://acme.com", false),
            (
                "https://pr-*.acme.com/callback",
                "https://main.acme.com",
                false,
            ),
            ("myapp://callback", "null", false),
        ];
        for (url, origin, expected) in cases {
            assert_eq!(origin_matches(url, origin), expected, "{url} vs {origin}");
        }
    }
}
