//! CORS: a front-end app's page (Kinde's React or PKCE JavaScript SDK) reads the token,
//! revocation, profile, discovery and key-set answers from its own origin; nothing else opens
//! to another origin.

use reqwest::header::HeaderMap;

use crate::World;

const APP_ORIGIN: &str = "http://localhost:3000";

/// A world whose web app registered `http://localhost:3000/callback`, as a React app on its dev
/// server does.
fn world() -> World {
    let w = World::new();
    let app = w.web_app_id();
    w.emulator.state().update(|t| {
        t.applications
            .iter_mut()
            .find(|a| a.id == app)
            .unwrap()
            .redirect_urls
            .push(format!("{APP_ORIGIN}/callback"));
    });
    w
}

/// (status, headers) of `method url` sent with `Origin: origin` and `headers`.
fn send(method: &str, url: &str, origin: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut request = reqwest::Client::new()
                .request(method.parse().unwrap(), url)
                .header("origin", origin);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if method == "POST" {
                request = request
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("grant_type=authorization_code&code=nope&code_verifier=x");
            }
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.headers().clone())
        })
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[test]
fn a_registered_apps_origin_may_call_the_token_endpoint_from_its_page() {
    let w = world();
    let token = format!("{}/oauth2/token", w.issuer());
    let (status, headers) = send(
        "OPTIONS",
        &token,
        APP_ORIGIN,
        &[
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type, kinde-sdk"),
        ],
    );
    assert_eq!(status, 204);
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
    assert_eq!(
        header(&headers, "access-control-allow-credentials"),
        Some("true")
    );
    assert!(
        header(&headers, "access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    assert_eq!(
        header(&headers, "access-control-allow-headers"),
        Some("content-type, kinde-sdk")
    );
    // The exchange itself: the page reads the OAuth error (a bad code here).
    let (status, headers) = send("POST", &token, APP_ORIGIN, &[("kinde-sdk", "React/5.0.0")]);
    assert_eq!(status, 400);
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
    assert!(header(&headers, "vary").unwrap().contains("Origin"));
    for path in [
        "/oauth2/revoke",
        "/oauth2/v2/user_profile",
        "/oauth2/userinfo",
    ] {
        let (_, headers) = send(
            "OPTIONS",
            &format!("{}{path}", w.issuer()),
            APP_ORIGIN,
            &[("access-control-request-method", "GET")],
        );
        assert_eq!(
            header(&headers, "access-control-allow-origin"),
            Some(APP_ORIGIN),
            "{path}"
        );
    }
}

#[test]
fn other_origins_and_other_endpoints_get_no_cors_answer() {
    let w = world();
    let issuer = w.issuer();
    let preflight = [("access-control-request-method", "POST")];
    // An origin no application registered, one a registered origin is a prefix of, another port.
    for origin in [
        "https://evil.example",
        "http://localhost:3000.evil.example",
        "http://localhost:3001",
        "null",
    ] {
        let (status, headers) = send(
            "OPTIONS",
            &format!("{issuer}/oauth2/token"),
            origin,
            &preflight,
        );
        assert_eq!(status, 204, "{origin}");
        assert_eq!(
            header(&headers, "access-control-allow-origin"),
            None,
            "{origin}"
        );
        let (_, headers) = send("POST", &format!("{issuer}/oauth2/token"), origin, &[]);
        assert_eq!(
            header(&headers, "access-control-allow-origin"),
            None,
            "{origin}"
        );
    }
    // The Management API, the sign-in page and the emulator's controls never open to a page.
    for path in ["/api/v1/users", "/oauth2/auth", "/_emulator/stats"] {
        let (_, headers) = send(
            "OPTIONS",
            &format!("{issuer}{path}"),
            APP_ORIGIN,
            &preflight,
        );
        assert_eq!(
            header(&headers, "access-control-allow-origin"),
            None,
            "{path}"
        );
        let (_, headers) = send("GET", &format!("{issuer}{path}"), APP_ORIGIN, &[]);
        assert_eq!(
            header(&headers, "access-control-allow-origin"),
            None,
            "{path}"
        );
    }
}

#[test]
fn discovery_and_the_key_set_are_readable_from_any_origin() {
    let w = world();
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/jwks.json",
        "/.well-known/jwks",
    ] {
        let (status, headers) = send(
            "GET",
            &format!("{}{path}", w.issuer()),
            "https://any.example",
            &[],
        );
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            header(&headers, "access-control-allow-origin"),
            Some("https://any.example"),
            "{path}"
        );
    }
}

#[test]
fn a_cacheable_answer_fetched_without_origin_still_varies_on_it() {
    let w = world();
    let (_, headers) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let response = reqwest::get(format!("{}/.well-known/jwks.json", w.issuer()))
                .await
                .unwrap();
            (response.status(), response.headers().clone())
        });
    assert!(header(&headers, "vary").unwrap().contains("Origin"));
    assert_eq!(header(&headers, "access-control-allow-origin"), None);
}

#[test]
fn a_wildcard_callback_allows_the_origins_it_matches() {
    let w = World::new();
    let app = w.web_app_id();
    w.emulator.state().update(|t| {
        t.applications
            .iter_mut()
            .find(|a| a.id == app)
            .unwrap()
            .logout_urls
            .push("https://pr-*.preview.acme.example/signed-out".into());
    });
    let token = format!("{}/oauth2/token", w.issuer());
    let (_, headers) = send("POST", &token, "https://pr-42.preview.acme.example", &[]);
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        Some("https://pr-42.preview.acme.example")
    );
    let (_, headers) = send("POST", &token, "https://main.preview.acme.example", &[]);
    assert_eq!(header(&headers, "access-control-allow-origin"), None);
}
