//! Endpoints come from the discovery document (token endpoint, JWKS), checked against the issuer
//! and cached for a day; Kinde's fixed paths only when no document is served.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::fake::{Answer, serve};
use crate::{World, stderr, stdout};

const DISCOVERY: &str = "GET /.well-known/openid-configuration";

fn m2m_at(w: &World, url: &str) -> assert_cmd::Command {
    let mut cmd = w.bare();
    cmd.env("KINDE_DOMAIN", url)
        .env("KINDE_MANAGEMENT_CLIENT_ID", "fakeclient")
        .env(
            "KINDE_MANAGEMENT_CLIENT_SECRET",
            "DiscoveryFakeSecret0123456789abcdefghij",
        );
    cmd
}

fn token_body() -> Answer {
    Answer::json(
        200,
        serde_json::json!({"access_token": "from-the-discovered-endpoint", "expires_in": 3600}),
    )
}

fn document(issuer: &str, token_endpoint: &str) -> Answer {
    Answer::json(
        200,
        serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/oauth2/auth"),
            "token_endpoint": token_endpoint,
            "jwks_uri": format!("{issuer}/.well-known/jwks"),
        }),
    )
}

#[test]
fn a_cached_token_makes_no_request_and_discovery_is_read_once_a_day() {
    let w = World::new();
    w.cmd().arg("token").assert().success();
    assert_eq!((w.count(DISCOVERY), w.count("POST /oauth2/token")), (1, 1));
    let before = w.emulator.state().counts();
    w.cmd().arg("token").assert().success();
    assert_eq!(
        w.emulator.state().counts(),
        before,
        "a cached token makes no request at all"
    );
    // A new token (another cache entry) reuses the cached discovery document.
    w.cmd()
        .args(["token", "--scope", "read:users"])
        .assert()
        .success();
    assert_eq!((w.count(DISCOVERY), w.count("POST /oauth2/token")), (1, 2));
}

#[test]
fn verify_reads_the_keys_at_the_discovered_jwks_uri() {
    let w = World::new();
    let token = w.token();
    w.cmd().args(["verify", &token]).assert().success();
    // The emulator's document names /.well-known/jwks; Kinde's fixed path is not used.
    assert_eq!(w.count("GET /.well-known/jwks"), 1);
    assert_eq!(w.count("GET /.well-known/jwks.json"), 0);
}

#[test]
fn token_posts_to_the_discovered_token_endpoint() {
    let w = World::new();
    let fake = serve(
        move |seen| match (seen.method.as_str(), seen.path.as_str()) {
            ("GET", "/.well-known/openid-configuration") => {
                let issuer = format!("http://{}", host_of(&seen.head));
                document(&issuer, &format!("{issuer}/custom/token"))
            }
            ("POST", "/custom/token") => token_body(),
            _ => Answer::text(500, "not here"),
        },
    );
    let out = m2m_at(&w, &fake.url)
        .args(["token", "--no-cache"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "from-the-discovered-endpoint");
}

#[test]
fn without_a_document_kinde_paths_are_used() {
    let w = World::new();
    let fake = serve(|seen| match seen.path.as_str() {
        "/oauth2/token" => token_body(),
        _ => Answer::text(404, "not found"),
    });
    let out = m2m_at(&w, &fake.url)
        .args(["token", "--no-cache"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_hostile_document_gets_no_secret() {
    let w = World::new();
    // Where a hostile document would send the token request: another host name.
    let posts = Arc::new(AtomicUsize::new(0));
    let seen_posts = posts.clone();
    let elsewhere = serve(move |seen| {
        if seen.method == "POST" {
            seen_posts.fetch_add(1, Ordering::SeqCst);
        }
        token_body()
    });
    let elsewhere_url = elsewhere.url.replace("127.0.0.1", "localhost");
    for (issuer_in_doc, endpoint, expect) in [
        (
            None,
            format!("{elsewhere_url}/oauth2/token"),
            "not the issuer's",
        ),
        (
            Some("https://evil.example".to_string()),
            String::new(),
            "names issuer `https://evil.example`",
        ),
    ] {
        let posts_here = Arc::new(AtomicUsize::new(0));
        let counted = posts_here.clone();
        let fake = serve(move |seen| {
            if seen.method == "POST" {
                counted.fetch_add(1, Ordering::SeqCst);
                return token_body();
            }
            let own = format!("http://{}", host_of(&seen.head));
            let issuer = issuer_in_doc.clone().unwrap_or_else(|| own.clone());
            let endpoint = if endpoint.is_empty() {
                format!("{own}/oauth2/token")
            } else {
                endpoint.clone()
            };
            document(&issuer, &endpoint)
        });
        let out = m2m_at(&w, &fake.url)
            .args(["token", "--no-cache"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert!(stderr(&out).contains(expect), "{}", stderr(&out));
        assert_eq!(posts_here.load(Ordering::SeqCst), 0, "nothing sent");
    }
    assert_eq!(posts.load(Ordering::SeqCst), 0, "nothing sent elsewhere");
}

/// The `Host` header of a request head.
fn host_of(head: &str) -> String {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("host").then(|| v.trim().to_string())
        })
        .unwrap_or_default()
}
