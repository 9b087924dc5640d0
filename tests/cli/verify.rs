use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use predicates::prelude::*;
use serde_json::{Value, json};

use crate::{World, json as json_of, stderr, stdout};

fn now() -> u64 {
    cargo_kinde::clock::now()
}

/// Claims of a well-formed M2M token from `w`, to be altered by a test and signed by the emulator.
fn claims(w: &World) -> Value {
    json!({
        "aud": [format!("{}/api", w.issuer())],
        "azp": w.management_id(),
        "exp": now() + 3600,
        "gty": ["client_credentials"],
        "iat": now(),
        "iss": w.issuer(),
        "jti": "6f091ebe-44ba-4afc-bd2f-05fcccafc89e",
        "scope": "read:users",
        "scp": ["read:users"],
        "v": "2",
    })
}

fn active_kid(token: &str) -> String {
    cargo_kinde::jwt::decode(token).unwrap().header["kid"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Run `verify TOKEN` and expect exit 1 with `check` named as the failure.
fn rejects(w: &World, token: &str, args: &[&str], check: &str, detail: &str) {
    let out = w
        .cmd()
        .arg("verify")
        .arg(token)
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!("token rejected: {check}: ")),
        "expected {check} to fail: {err}"
    );
    assert!(err.contains(detail), "expected `{detail}` in: {err}");
    assert!(stdout(&out).contains("invalid token"));
}

#[test]
fn accepts_a_good_token_and_shows_its_claims() {
    let w = World::new();
    let token = w.token();
    let out = w.cmd().args(["verify", &token]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("valid token"), "{text}");
    for check in [
        "format",
        "algorithm",
        "key",
        "signature",
        "issuer",
        "audience",
        "expiry",
    ] {
        assert!(
            text.contains(&format!("✓ {check}")),
            "{check} should pass: {text}"
        );
    }
    assert!(text.contains("gty"));
}

#[test]
fn reads_the_token_from_stdin() {
    let w = World::new();
    let token = w.token();
    w.cmd()
        .args(["verify", "-"])
        .write_stdin(format!("{token}\n"))
        .assert()
        .success();
    w.cmd().arg("verify").write_stdin(token).assert().success();
}

#[test]
fn json_report_lists_every_check() {
    let w = World::new();
    let out = w
        .cmd()
        .args(["--json", "verify", &w.token(), "--scope", "read:users"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let doc = json_of(&out);
    assert_eq!(doc["valid"], true);
    let names: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "format",
            "algorithm",
            "key",
            "signature",
            "issuer",
            "audience",
            "expiry",
            "not_before",
            "issued_at",
            "scopes"
        ]
    );
    assert_eq!(doc["claims"]["gty"][0], "client_credentials");
}

#[test]
fn without_configured_audiences_the_audience_is_shown_not_enforced() {
    let w = World::new();
    let token = w.emulator.state().sign(&json!({
        "aud": ["https://api.other.example"], "iss": w.issuer(), "exp": now() + 60, "iat": now()
    }));
    // The configuration implies only the Management API audience: the token is for another one.
    rejects(&w, &token, &[], "audience", "https://api.other.example");
    // With an explicit --audience that matches, it passes.
    w.cmd()
        .args(["verify", &token, "--audience", "https://api.other.example"])
        .assert()
        .success();
    // With no domain configured there is nothing implied: shown, not enforced, and said so.
    let out = w
        .bare()
        .args(["verify", &token, "--issuer", &w.issuer()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("not enforced"), "{}", stdout(&out));
}

#[test]
fn rejects_a_tampered_payload() {
    let w = World::new();
    let token = w.token();
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["scope"] = json!("read:users delete:users");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    rejects(&w, &forged, &[], "signature", "does not match");
}

#[test]
fn rejects_alg_none() {
    let w = World::new();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims(&w).to_string());
    rejects(
        &w,
        &format!("{header}.{body}.x"),
        &[],
        "algorithm",
        "alg: none",
    );
    // And with no signature at all.
    let out = w
        .cmd()
        .args(["verify", &format!("{header}.{body}.")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unsigned"), "{}", stderr(&out));
}

#[test]
fn rejects_hs256_signed_with_the_public_key() {
    let w = World::new();
    let kid = active_kid(&w.token());
    // The classic confusion attack: HMAC keyed with the issuer's public key material.
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
    let public_n = public_n(&w);
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, public_n.as_bytes());
    let token = cargo_kinde::jwt::encode(&header, &claims(&w), |input| {
        aws_lc_rs::hmac::sign(&key, input).as_ref().to_vec()
    });
    rejects(&w, &token, &[], "algorithm", "HMAC");
}

fn public_n(w: &World) -> String {
    let tenant = w.emulator.state().tenant();
    cargo_kinde::emulator::keys::SigningKey::from_stored(&tenant.keys[0])
        .unwrap()
        .jwk()
        .n
}

#[test]
fn rejects_a_token_signed_by_another_key_under_the_issuers_kid() {
    let w = World::new();
    let kid = active_kid(&w.token());
    let other = cargo_kinde::emulator::keys::SigningKey::generate().unwrap();
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    let token = cargo_kinde::jwt::encode(&header, &claims(&w), |input| other.sign(input));
    rejects(&w, &token, &[], "signature", "signed by another key");
}

#[test]
fn rejects_an_unknown_kid_after_one_refetch() {
    let w = World::new();
    let other = cargo_kinde::emulator::keys::SigningKey::generate().unwrap();
    let token = other.sign_jwt(&claims(&w));
    rejects(
        &w,
        &token,
        &[],
        "key",
        "not among the issuer's signing keys",
    );
    assert_eq!(
        w.count("GET /.well-known/jwks"),
        1,
        "a freshly fetched JWKS is not fetched again"
    );
}

#[test]
fn a_rotated_key_is_found_by_refetching_the_cached_jwks_once() {
    let w = World::new();
    w.cmd().args(["verify", &w.token()]).assert().success();
    assert_eq!(w.count("GET /.well-known/jwks"), 1);
    // The JWKS is cached on disk: a second verification needs no fetch.
    w.cmd().args(["verify", &w.token()]).assert().success();
    assert_eq!(w.count("GET /.well-known/jwks"), 1);
    w.emulator.state().rotate_key().unwrap();
    let token = w.token();
    w.cmd().args(["verify", &token]).assert().success();
    assert_eq!(
        w.count("GET /.well-known/jwks"),
        2,
        "unknown kid: exactly one refetch"
    );
}

#[test]
fn ignores_key_pointers_in_the_header() {
    let w = World::new();
    let kid = active_kid(&w.token());
    let attacker = cargo_kinde::emulator::keys::SigningKey::generate().unwrap();
    let header = json!({"alg": "RS256", "kid": kid, "jku": "http://127.0.0.1:9/jwks.json", "jwk": attacker.jwk()});
    let token = cargo_kinde::jwt::encode(&header, &claims(&w), |input| attacker.sign(input));
    let out = w.cmd().args(["verify", &token]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("`jku` ignored"), "{}", stdout(&out));
    assert!(stdout(&out).contains("`jwk` ignored"));
    assert!(stderr(&out).contains("signature"));
}

#[test]
fn rejects_expired_future_and_not_yet_valid_tokens() {
    let w = World::new();
    let state = w.emulator.state();
    let mut expired = claims(&w);
    expired["exp"] = json!(now() - 600);
    rejects(&w, &state.sign(&expired), &[], "expiry", "expired 10 min");
    let mut not_yet = claims(&w);
    not_yet["nbf"] = json!(now() + 600);
    rejects(
        &w,
        &state.sign(&not_yet),
        &[],
        "not_before",
        "not valid for another",
    );
    let mut future = claims(&w);
    future["iat"] = json!(now() + 600);
    rejects(&w, &state.sign(&future), &[], "issued_at", "in the future");
    let mut no_exp = claims(&w);
    no_exp.as_object_mut().unwrap().remove("exp");
    rejects(&w, &state.sign(&no_exp), &[], "expiry", "no numeric `exp`");
    // Within the leeway is accepted; a larger leeway accepts more.
    let mut just_expired = claims(&w);
    just_expired["exp"] = json!(now() - 10);
    w.cmd()
        .args(["verify", &state.sign(&just_expired)])
        .assert()
        .success();
    w.cmd()
        .args(["verify", &state.sign(&just_expired), "--leeway", "0"])
        .assert()
        .code(1);
    w.cmd()
        .args(["verify", &state.sign(&expired), "--leeway", "3600"])
        .assert()
        .success();
}

#[test]
fn rejects_wrong_issuer_audience_scope_and_azp() {
    let w = World::new();
    let state = w.emulator.state();
    let mut other_issuer = claims(&w);
    other_issuer["iss"] = json!("https://evil.kinde.com");
    rejects(
        &w,
        &state.sign(&other_issuer),
        &[],
        "issuer",
        "https://evil.kinde.com",
    );
    let token = w.token();
    rejects(
        &w,
        &token,
        &["--audience", "https://api.acme.example"],
        "audience",
        "expected one of `https://api.acme.example`",
    );
    rejects(
        &w,
        &token,
        &["--scope", "write:orders"],
        "scopes",
        "missing `write:orders`",
    );
    rejects(
        &w,
        &token,
        &["--azp", "someone-else"],
        "azp",
        "expected `someone-else`",
    );
    w.cmd()
        .args([
            "verify",
            &token,
            "--azp",
            &w.management_id(),
            "--scope",
            "read:users read:apis",
        ])
        .assert()
        .success();
}

#[test]
fn malformed_tokens_fail_the_format_check_without_panicking() {
    let w = World::new();
    for bad in [
        "abc",
        "a.b",
        "a.b.c",
        "e30.e30.e30.e30",
        "!!!.###.$$$",
        "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln",
        "W10.e30.c2ln",
        "Bearer",
    ] {
        let out = w.cmd().args(["verify", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("token rejected: format: "),
            "{bad}: {}",
            stderr(&out)
        );
    }
    w.cmd()
        .args(["verify", "   "])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("empty"));
}

#[test]
fn an_unreachable_jwks_is_a_network_error() {
    let w = World::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = format!("http://127.0.0.1:{port}");
    // A token of the unreachable issuer: its keys can come only from there.
    let mut c = claims(&w);
    c["iss"] = json!(unreachable);
    let token = w.emulator.state().sign(&c);
    w.cmd()
        .args(["verify", &token, "--issuer", &unreachable])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("jwks.json"));
}

#[test]
fn hostile_claims_and_flags_never_crash_it() {
    let w = World::new();
    let state = w.emulator.state();
    let signed = |exp: Value| {
        let mut c = claims(&w);
        c["exp"] = exp;
        state.sign(&c)
    };
    // Far-future expiries: valid as far as time goes, and printed without overflowing.
    for exp in [json!(u64::MAX), json!(253_402_300_800u64)] {
        let out = w
            .cmd()
            .args(["verify", &signed(exp.clone())])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "exp {exp}: {}", stderr(&out));
    }
    let out = w
        .cmd()
        .args([
            "verify",
            &signed(json!(now() - 600)),
            "--leeway",
            &u64::MAX.to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Non-integer times are failures, not "absent".
    let mut c = claims(&w);
    c["nbf"] = json!(-5.5);
    rejects(
        &w,
        &state.sign(&c),
        &[],
        "not_before",
        "not a whole number of seconds",
    );
    rejects(
        &w,
        &signed(json!("tomorrow")),
        &[],
        "expiry",
        "not a whole number of seconds",
    );
    // Terminal escapes in token data are shown escaped, never sent to the terminal.
    let header = json!({"alg": "RS256", "kid": "\u{1b}[1A\u{1b}[2Kvalid token"});
    let token = cargo_kinde::jwt::encode(&header, &claims(&w), |_| vec![1; 256]);
    let out = w
        .cmd()
        .args(["--color", "always", "verify", &token])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!stdout(&out).contains("\u{1b}[1A"), "{}", stdout(&out));
    assert!(stdout(&out).contains("\\u{1b}[1A"), "{}", stdout(&out));
}

#[test]
fn keys_come_from_the_tokens_own_issuer_not_from_issuer_flag() {
    // A is the configured tenant, B the --issuer: a token claiming A but signed with B's key
    // must be checked against A's JWKS, and fail there.
    let a = World::new();
    let b = cargo_kinde::emulator::Emulator::spawn(Default::default()).unwrap();
    let forged = b.state().sign(&claims(&a));
    let out = a
        .cmd()
        .args(["verify", &forged, "--issuer", b.issuer()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("token rejected: key: ") || err.contains("token rejected: signature: "),
        "{err}"
    );
    assert_eq!(a.count("GET /.well-known/jwks"), 1, "A's keys were used");
    assert_eq!(
        b.state().count("GET /.well-known/jwks"),
        0,
        "B's keys were never fetched for a token of A"
    );
    // B's own token, with --issuer B, verifies against B's keys.
    let mut of_b = claims(&a);
    of_b["iss"] = json!(b.issuer());
    a.cmd()
        .args(["verify", &b.state().sign(&of_b), "--issuer", b.issuer()])
        .assert()
        .success();
    assert_eq!(b.state().count("GET /.well-known/jwks"), 1);
}

#[test]
fn rejects_any_crit_header() {
    let w = World::new();
    let key =
        cargo_kinde::emulator::keys::SigningKey::from_stored(&w.emulator.state().tenant().keys[0])
            .unwrap();
    let signed = |crit: Value| {
        let header =
            json!({"alg": "RS256", "typ": "JWT", "kid": key.kid(), "crit": crit, "x-unknown": 1});
        cargo_kinde::jwt::encode(&header, &claims(&w), |input| key.sign(input))
    };
    // Control: the same key and claims without `crit` verify.
    let plain = cargo_kinde::jwt::encode(
        &json!({"alg": "RS256", "typ": "JWT", "kid": key.kid()}),
        &claims(&w),
        |input| key.sign(input),
    );
    w.cmd().args(["verify", &plain]).assert().success();
    rejects(
        &w,
        &signed(json!(["x-unknown"])),
        &[],
        "crit",
        "`x-unknown`",
    );
    rejects(&w, &signed(json!([])), &[], "crit", "empty list");
    rejects(&w, &signed(json!("x-unknown")), &[], "crit", "not a list");
}

#[test]
fn a_huge_token_on_stdin_or_as_an_argument_is_refused_before_it_is_read_whole() {
    let w = World::new();
    let huge = format!("{}.e30.sig", "A".repeat(4 * 1024 * 1024));
    let out = w
        .cmd()
        .args(["verify", "-"])
        .write_stdin(huge.clone())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", crate::stderr(&out));
    assert!(
        crate::stderr(&out).contains("larger than"),
        "{}",
        crate::stderr(&out)
    );
    let out = w
        .cmd()
        .args(["verify", &huge[..100 * 1024]])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", crate::stderr(&out));
}

#[test]
fn the_empty_token_hint_works_when_followed() {
    let w = World::new();
    let out = w.cmd().args(["verify", "-"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("help: pass a JWT, e.g. $(cargo kinde token)"),
        "{err}"
    );
    let token = w.token();
    let out = w.cmd().args(["verify", &token]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
