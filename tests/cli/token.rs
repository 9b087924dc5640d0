use predicates::prelude::*;

use crate::{World, json, stderr, stdout};

#[test]
fn prints_only_the_token_on_stdout() {
    let w = World::new();
    let out = w.cmd().arg("token").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert_eq!(text.trim().split('.').count(), 3, "not a JWT: {text}");
    assert_eq!(w.count("POST /oauth2/token"), 1);
}

#[test]
fn a_second_call_within_the_lifetime_makes_no_request() {
    let w = World::new();
    let first = w.cmd().arg("token").output().unwrap();
    let second = w.cmd().args(["token", "-v"]).output().unwrap();
    assert!(second.status.success());
    assert_eq!(stdout(&first), stdout(&second));
    assert!(
        stderr(&second).contains("token cache hit"),
        "{}",
        stderr(&second)
    );
    assert_eq!(
        w.count("POST /oauth2/token"),
        1,
        "the cache must answer the second call"
    );
    w.cmd().args(["token", "--no-cache"]).assert().success();
    assert_eq!(
        w.count("POST /oauth2/token"),
        2,
        "--no-cache forces a request"
    );
    // Another audience or scope set is another cache entry.
    w.cmd()
        .args(["token", "--scope", "read:users"])
        .assert()
        .success();
    assert_eq!(w.count("POST /oauth2/token"), 3);
}

#[cfg(unix)]
#[test]
fn the_cache_is_private() {
    let w = World::new();
    w.cmd().arg("token").assert().success();
    let dir = w.cache.path().join("tokens");
    assert_eq!(crate::mode(&dir), 0o700);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(crate::mode(&files[0]), 0o600);
}

#[test]
fn json_has_the_claims_of_a_kinde_m2m_token() {
    let w = World::new();
    let out = w
        .cmd()
        .args(["--json", "token", "--scope", "read:users read:apis"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out);
    let claims = &doc["claims"];
    assert_eq!(
        claims["aud"],
        serde_json::json!([format!("{}/api", w.issuer())])
    );
    assert_eq!(claims["azp"], w.management_id());
    assert_eq!(claims["gty"], serde_json::json!(["client_credentials"]));
    assert_eq!(claims["iss"], w.issuer());
    assert_eq!(claims["scope"], "read:users read:apis");
    assert_eq!(
        claims["scp"],
        serde_json::json!(["read:users", "read:apis"])
    );
    assert_eq!(claims["v"], "2");
    assert!(claims.get("sub").is_none(), "M2M tokens have no sub");
    assert_eq!(claims["jti"].as_str().unwrap().len(), 36);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        86_400
    );
    assert_eq!(doc["header"]["alg"], "RS256");
    assert!(doc["header"]["kid"].as_str().unwrap().split(':').count() == 16);
    assert_eq!(doc["token_type"], "Bearer");
    assert_eq!(doc["cached"], false);
}

#[test]
fn decode_prints_header_and_claims() {
    let w = World::new();
    let out = w.cmd().args(["token", "--decode"]).output().unwrap();
    assert!(out.status.success());
    let doc = json(&out);
    assert_eq!(doc["header"]["alg"], "RS256");
    assert_eq!(doc["claims"]["gty"][0], "client_credentials");
}

#[test]
fn verify_flag_checks_the_token_it_got() {
    let w = World::new();
    w.cmd()
        .args(["token", "--verify"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "verified: format, algorithm, key, signature, issuer, audience, expiry",
        ));
}

#[test]
fn a_wrong_secret_is_refused_with_exit_4_and_what_to_check() {
    let w = World::new();
    w.cmd()
        .env("KINDE_MANAGEMENT_CLIENT_SECRET", "not-the-secret")
        .arg("token")
        .assert()
        .code(4)
        .stdout("")
        .stderr(predicate::str::contains("invalid_client"))
        .stderr(predicate::str::contains("KINDE_MANAGEMENT_CLIENT_SECRET"));
}

#[test]
fn an_audience_the_app_is_not_authorised_for_is_unauthorized_client() {
    let w = World::new();
    w.cmd()
        .args(["token", "--audience", "https://api.unknown.example"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("unauthorized_client"))
        .stderr(predicate::str::contains("Applications"));
}

#[test]
fn a_scope_not_granted_is_invalid_scope() {
    let w = World::new();
    w.cmd()
        .args(["token", "--scope", "write:everything"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("invalid_scope"))
        .stderr(predicate::str::contains("write:everything"));
}

#[test]
fn an_unreachable_domain_is_a_network_error() {
    let w = World::new();
    // A port nothing listens on: bind one, note it, free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    w.cmd()
        .env("KINDE_DOMAIN", format!("http://127.0.0.1:{port}"))
        .arg("token")
        .assert()
        .code(3)
        .stderr(predicate::str::contains(format!(
            "127.0.0.1:{port}/oauth2/token"
        )))
        .stderr(predicate::str::contains("could not connect"));
}

#[test]
fn missing_credentials_without_a_terminal_name_every_variable_at_once() {
    let w = World::new();
    w.bare()
        .env("KINDE_DOMAIN", w.issuer())
        .arg("token")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("KINDE_MANAGEMENT_CLIENT_ID"))
        .stderr(predicate::str::contains("KINDE_MANAGEMENT_CLIENT_SECRET"));
    assert_eq!(w.count("POST /oauth2/token"), 0);
}

#[test]
fn missing_domain_says_how_to_set_it() {
    let w = World::new();
    w.bare()
        .arg("token")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("KINDE_DOMAIN"));
}

#[test]
fn plain_http_is_refused_for_non_loopback_domains() {
    let w = World::new();
    w.cmd()
        .env("KINDE_DOMAIN", "http://acme.kinde.com")
        .arg("token")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("plain http"));
}

#[test]
fn the_domain_may_omit_the_scheme_and_come_from_dotenv() {
    let w = World::new();
    let issuer = w.issuer();
    // From .env next to kinde.toml; the process environment has nothing.
    w.write("kinde.toml", "[tenant]\n");
    w.write(
        ".env",
        &format!(
            "KINDE_DOMAIN={issuer}\nKINDE_MANAGEMENT_CLIENT_ID={}\nKINDE_MANAGEMENT_CLIENT_SECRET={}\n",
            w.management_id(),
            w.management_secret()
        ),
    );
    w.bare().arg("token").assert().success();
}

#[test]
fn a_custom_domain_does_not_move_the_m2m_token_request() {
    let w = World::new();
    w.write(
        "kinde.toml",
        &format!(
            "[tenant]\ndomain = \"{}\"\ncustom_domain = \"https://auth.acme.example\"\n",
            w.issuer()
        ),
    );
    w.cmd()
        .env_remove("KINDE_DOMAIN")
        .args(["token", "--verify"])
        .assert()
        .success();
    assert_eq!(w.count("POST /oauth2/token"), 1);
}

#[test]
fn json_errors_are_json() {
    let w = World::new();
    let out = w.bare().args(["--json", "token"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let doc = json(&out);
    assert_eq!(doc["error"]["kind"], "input");
    assert_eq!(doc["error"]["exit_code"], 2);
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("KINDE_DOMAIN")
    );
}

#[test]
fn the_embedded_emulator_needs_no_account() {
    let w = World::new();
    w.bare()
        .args(["--emulator", "token", "--verify"])
        .assert()
        .success()
        .stderr(predicate::str::contains("verified"));
}

/// A management app's secret the fake servers below receive, and must never make visible.
const FAKE_SECRET: &str = "Xq7fakeSecretValue0123456789abcdefGHIJKLmnop";

/// `token` against the fake server at `url`, with colour forced as on a terminal.
fn token_at(w: &World, url: &str) -> std::process::Output {
    w.bare()
        .env("KINDE_DOMAIN", url)
        .env("KINDE_MANAGEMENT_CLIENT_ID", "fakeclient")
        .env("KINDE_MANAGEMENT_CLIENT_SECRET", FAKE_SECRET)
        .args(["--color", "always", "token", "--no-cache"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap()
}

fn assert_no_secret(out: &std::process::Output) {
    let all = format!("{}{}", stdout(out), stderr(out));
    for form in [
        FAKE_SECRET.to_string(),
        url::form_urlencoded::byte_serialize(FAKE_SECRET.as_bytes()).collect(),
    ] {
        assert!(!all.contains(&form), "the secret is shown: {all}");
    }
}

#[test]
fn an_endless_token_response_fails_fast_at_the_cap() {
    use crate::fake::{Answer, serve};
    let w = World::new();
    let fake = serve(|seen| match seen.path.as_str() {
        "/oauth2/token" => Answer::Endless,
        _ => Answer::text(404, "not found"),
    });
    let started = std::time::Instant::now();
    let out = token_at(&w, &fake.url);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}: the body was read to the timeout",
        started.elapsed()
    );
    assert!(
        stderr(&out).contains("larger than 1 MiB"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_token_endpoint_echoing_the_form_shows_neither_the_secret_nor_its_escapes() {
    use crate::fake::{Answer, ESCAPES, has_raw_escapes, serve};
    let w = World::new();
    // 400 with the form in error_description, and a 502 plain-text echo.
    let described = serve(|seen| match seen.path.as_str() {
        "/oauth2/token" => Answer::json(
            400,
            serde_json::json!({
                "error": format!("invalid_request{ESCAPES}"),
                "error_description": format!("bad form: {} {ESCAPES}", seen.body),
            }),
        ),
        _ => Answer::text(404, "not found"),
    });
    let out = token_at(&w, &described.url);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("client_secret=***"),
        "{}",
        stderr(&out)
    );
    assert_no_secret(&out);
    assert!(!has_raw_escapes(&stderr(&out)), "{:?}", stderr(&out));
    assert!(stderr(&out).contains("\\x1b]0;pwned"), "{}", stderr(&out));

    let echoed = serve(|seen| match seen.path.as_str() {
        "/oauth2/token" => Answer::text(502, format!("{}{}\n{ESCAPES}", seen.head, seen.body)),
        _ => Answer::text(404, "not found"),
    });
    let out = token_at(&w, &echoed.url);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_no_secret(&out);
    assert!(!has_raw_escapes(&stderr(&out)), "{:?}", stderr(&out));
}

/// A user token for the seeded web app, planted in the cache as `login` leaves it; returns it.
pub fn plant_user_token(w: &World) -> String {
    let token = w.token();
    let issuer = cargo_kinde::urls::Issuer::parse(&w.issuer()).unwrap();
    let scopes: Vec<String> = ["openid", "email", "offline"].map(String::from).to_vec();
    let key = cargo_kinde::oauth::cache::CacheKey::user(&issuer, &w.web_app_id(), &[], &scopes);
    let cache = cargo_kinde::oauth::cache::TokenCache::at(w.cache.path().join("tokens"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    cache
        .put(
            &key,
            &cargo_kinde::oauth::AccessToken {
                token: cargo_kinde::secret::Secret::new(token.clone()),
                token_type: "Bearer".into(),
                expires_at: now + 3600,
                scope: None,
                cached: false,
                refresh_token: None,
                unsaved: None,
            },
        )
        .unwrap();
    token
}

#[test]
fn user_decode_prints_the_claims_not_the_token() {
    let w = World::new();
    let token = plant_user_token(&w);
    let out = w
        .cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["token", "--user", "--decode"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        !text.contains(&token),
        "--decode must not print the raw JWT: {text}"
    );
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["claims"]["iss"], w.issuer());
    assert!(doc["header"]["alg"].is_string(), "{doc}");
}

#[test]
fn flags_that_do_not_apply_to_a_mode_are_refused_by_clap() {
    let w = World::new();
    for args in [
        &["token", "--user", "--verify"][..],
        &["token", "--no-browser"],
        &["token", "--show-refresh-token"],
        &["register", "--dry-run", "--yes"],
        &["api", "GET", "/api/v1/users", "--paginate", "-d", "{}"],
    ] {
        let out = w.cmd().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("cannot be used with") || err.contains("required arguments"),
            "{args:?}: {err}"
        );
    }
    // The refresh token is printed only inside the JSON document: refused without --json.
    for args in [
        &["login", "--show-refresh-token"][..],
        &["token", "--user", "--show-refresh-token"],
    ] {
        let out = w
            .cmd()
            .env("KINDE_CLIENT_ID", w.web_app_id())
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("--show-refresh-token works only with --json"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn the_missing_credentials_hint_works_when_followed() {
    let w = World::new();
    let out = w
        .bare()
        .env("KINDE_DOMAIN", w.issuer())
        .arg("token")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("help: set them in the environment or in .env next to kinde.toml"),
        "{err}"
    );
    // Follow it: a .env next to kinde.toml.
    w.write("kinde.toml", "");
    w.write(
        ".env",
        &format!(
            "KINDE_MANAGEMENT_CLIENT_ID={}\nKINDE_MANAGEMENT_CLIENT_SECRET={}\n",
            w.management_id(),
            w.management_secret()
        ),
    );
    let out = w
        .bare()
        .env("KINDE_DOMAIN", w.issuer())
        .arg("token")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `token --as` against the emulator, as a user runs it: (exit code, stdout, stderr).
fn minted(w: &World, extra: &[&str]) -> (i32, String, String) {
    let out = w
        .cmd()
        .args(["token", "--as", "alice@example.com"])
        .args(extra)
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
}

#[test]
fn as_mints_a_user_token_holding_the_org_and_permissions_that_verifies() {
    let w = World::new();
    let (code, token, err) = minted(
        &w,
        &[
            "--org",
            "org_acme",
            "--permission",
            "read:orders",
            "--permission",
            "create:orders",
            "--role",
            "clerk",
            "--audience",
            "https://api.acme.test",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let token = token.trim();
    w.emulator.state().check_signature(token).unwrap();
    let claims = serde_json::Value::Object(cargo_kinde::jwt::decode(token).unwrap().claims);
    assert_eq!(claims["org_code"], "org_acme");
    assert_eq!(
        claims["permissions"],
        serde_json::json!(["create:orders", "read:orders"])
    );
    assert_eq!(claims["roles"][0]["key"], "clerk");
    assert_eq!(claims["aud"], serde_json::json!(["https://api.acme.test"]));
    // The tenant says so too: the user, a member of the new organization.
    let state = w.emulator.state();
    let user_id = state.read(|t| t.user_by_email("alice@example.com").unwrap().id.clone());
    assert_eq!(claims["sub"], user_id.as_str());
    assert!(state.read(|t| {
        t.organization("org_acme")
            .unwrap()
            .member(&user_id)
            .is_some()
    }));
    // A service verifying it against the JWKS accepts it.
    w.cmd()
        .args(["verify", "--audience", "https://api.acme.test", "-"])
        .write_stdin(token)
        .assert()
        .success();
    assert_eq!(
        w.count("POST /oauth2/token"),
        0,
        "no client credentials needed"
    );
}

#[test]
fn forged_tokens_fail_verification_except_the_two_that_lack_a_right() {
    let w = World::new();
    for kind in [
        "expired",
        "not-yet-valid",
        "wrong-audience",
        "wrong-issuer",
        "foreign-key",
        "alg-none",
        "hs256-with-public-key",
        "tampered-payload",
        "missing-permission",
        "other-organization",
    ] {
        let (code, token, err) = minted(
            &w,
            &[
                "--org",
                "org_acme",
                "--permission",
                "read:orders",
                "--audience",
                "https://api.acme.test",
                "--forge",
                kind,
            ],
        );
        assert_eq!(code, 0, "{kind}: {err}");
        let lacks_a_right = matches!(kind, "missing-permission" | "other-organization");
        let expected = if lacks_a_right { 403 } else { 401 };
        assert!(
            err.contains(&format!("must answer {expected}")),
            "{kind}: {err}"
        );
        let verified = w
            .cmd()
            .args([
                "--json",
                "verify",
                "--audience",
                "https://api.acme.test",
                "-",
            ])
            .write_stdin(token.trim())
            .output()
            .unwrap();
        assert_eq!(
            verified.status.success(),
            lacks_a_right,
            "{kind}: {}",
            stderr(&verified)
        );
        // Refused for the reason the forgery is named for, not any other.
        let failed: Vec<String> = json(&verified)["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] == "fail")
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        let expected: &[&str] = match kind {
            "expired" => &["expiry"],
            "not-yet-valid" => &["not_before", "issued_at"],
            "wrong-audience" => &["audience"],
            "wrong-issuer" => &["issuer"],
            "foreign-key" | "tampered-payload" => &["signature"],
            "alg-none" => &["format"],
            "hs256-with-public-key" => &["algorithm"],
            _ => &[],
        };
        assert_eq!(failed, expected, "{kind}");
        if lacks_a_right {
            let report = json(
                &w.cmd()
                    .args([
                        "--json",
                        "token",
                        "--as",
                        "alice@example.com",
                        "--org",
                        "org_acme",
                        "--forge",
                        kind,
                    ])
                    .output()
                    .unwrap(),
            );
            assert_eq!(report["forgery"], kind);
            assert_eq!(report["expected_status"], 403);
            let claims = report["claims"].clone();
            if kind == "missing-permission" {
                assert_eq!(claims["permissions"], serde_json::json!([]), "{claims}");
            } else {
                assert_ne!(claims["org_code"], "org_acme", "{claims}");
            }
        }
    }
}

#[test]
fn as_is_refused_against_a_real_tenant_before_any_request() {
    let w = World::new();
    let out = w
        .cmd()
        .env("KINDE_DOMAIN", "https://acme.kinde.com")
        .args(["token", "--as", "alice@example.com", "--forge", "expired"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("https://acme.kinde.com is a Kinde tenant"),
        "{err}"
    );
    assert!(err.contains("token --user"), "{err}");
}

#[test]
fn as_is_refused_by_a_server_that_is_not_the_emulator() {
    use crate::fake::{Answer, serve};
    let w = World::new();
    // A missing route, a redirect, a WAF, a login page, a proxy's error, an error body with a
    // success status: none is the emulator.
    for (status, body) in [
        (404, "Not Found"),
        (301, ""),
        (403, "Forbidden"),
        (200, "<html>sign in</html>"),
        (502, "Bad Gateway"),
        (201, r#"{"errors":[{"code":"X","message":"x"}]}"#),
    ] {
        let server = serve(move |_| Answer::text(status, body));
        let out = w
            .cmd()
            .env("KINDE_DOMAIN", &server.url)
            .args(["token", "--as", "alice@example.com"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{status}: {}", stderr(&out));
        assert!(stdout(&out).is_empty());
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "is not the cargo-kinde emulator (it answered {status}"
            )),
            "{err}"
        );
        assert!(err.contains("token --user"), "{err}");
    }
}

#[test]
fn scopes_add_to_openid_and_an_api_scope_needs_its_audience() {
    let w = World::new();
    let (code, _, err) = minted(&w, &["--scope", "read:orders"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`--scope read:orders` is an API's scope"),
        "{err}"
    );
    assert!(err.contains("add the API's --audience"), "{err}");
    let (code, token, err) = minted(
        &w,
        &[
            "--scope",
            "read:orders",
            "--audience",
            "https://api.acme.test",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let claims = cargo_kinde::jwt::decode(token.trim()).unwrap().claims;
    assert_eq!(
        claims["scp"],
        serde_json::json!(["openid", "profile", "email", "read:orders"])
    );
}

#[test]
fn as_with_the_embedded_emulator_warns_that_nothing_can_verify_the_token() {
    let w = World::new();
    let out = w
        .bare()
        .args([
            "--emulator",
            "token",
            "--as",
            "alice@example.com",
            "--decode",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no service can verify this token"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("\"sub\": \"kp_"), "{}", stdout(&out));
}

#[test]
fn the_mint_controls_answer_only_requests_addressed_to_the_emulator() {
    let w = World::new();
    let url = format!("{}/_emulator/mint", w.issuer());
    let port = url::Url::parse(&w.issuer()).unwrap().port().unwrap();
    let send = |headers: &[(&str, String)]| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let mut req = reqwest::Client::new()
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(r#"{"email":"mallory@example.com"}"#);
                for (name, value) in headers {
                    req = req.header(*name, value);
                }
                let res = req.send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            })
    };
    // A page that rebound its own name to 127.0.0.1 sends its name as Host, or its Origin.
    for headers in [
        vec![("host", format!("evil.example:{port}"))],
        vec![("origin", "http://evil.example".to_string())],
        vec![("origin", format!("http://localhost:{port}.evil.example"))],
    ] {
        let (status, text) = send(&headers);
        assert_eq!(status, 403, "{headers:?}: {text}");
        assert!(text.contains("NOT_LOCAL"), "{text}");
    }
    assert!(
        w.emulator
            .state()
            .read(|t| t.user_by_email("mallory@example.com").is_none()),
        "a refused request changed the tenant"
    );
    for headers in [
        vec![],
        vec![("host", format!("localhost:{port}"))],
        vec![("origin", w.issuer())],
    ] {
        let (status, text) = send(&headers);
        assert_eq!(status, 200, "{headers:?}: {text}");
    }
}

#[test]
fn the_emulator_explains_what_it_cannot_mint() {
    let w = World::new();
    let (code, _, err) = minted(&w, &["--org", "org_acme"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = {
        let out = w
            .cmd()
            .args(["token", "--as", "not-an-email"])
            .output()
            .unwrap();
        (out.status.code(), stdout(&out), stderr(&out))
    };
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("`not-an-email` is not an email address"),
        "{err}"
    );
    let url = format!("{}/_emulator/mint", w.issuer());
    let (status, _, _) = crate::http::raw("POST", &url, None, Some(("text/plain", b"{}".to_vec())));
    assert_eq!(status, 415, "a form or text from a web page is refused");
    for (body, says) in [
        (
            r#"{}"#,
            "either a user (`email`) or an M2M application (`m2m`)",
        ),
        (
            r#"{"m2m":"worker","org":"org_acme"}"#,
            "`org` is for user tokens",
        ),
        (
            r#"{"email":"a@b.c","forge":"sideways"}"#,
            "`sideways` is not a forgery",
        ),
        (
            r#"{"email":"a@b.c","feature_flags":{"beta":[1]}}"#,
            "not a boolean, an integer or a string",
        ),
        (
            r#"{"email":"a@b.c","surprise":1}"#,
            "unknown field `surprise`",
        ),
        (r#"{"email":"a@b.c","m2m":"w"}"#, "not both"),
        (r#"{"email":"@b.c"}"#, "is not an email address"),
        (r#"{"email":"a@b.c","org":""}"#, "`org`: \"\" is not a code"),
        (
            r#"{"email":"a@b.c","permissions":["read orders"]}"#,
            "`permissions`: \"read orders\"",
        ),
        (
            r#"{"m2m":"w","audience":"MGMT","scopes":["root:everything"]}"#,
            "`root:everything` is not a scope of the Kinde Management API",
        ),
        (
            r#"{"email":"a@b.c","audience":"MGMT"}"#,
            "M2M applications only",
        ),
    ] {
        let body = body.replace("MGMT", &format!("{}/api", w.issuer()));
        let (status, _, bytes) = crate::http::raw(
            "POST",
            &url,
            None,
            Some(("application/json", body.as_bytes().to_vec())),
        );
        let reply: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(status, 400, "{body}: {reply}");
        let message = reply["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    // An application's name is free text, and an empty one is refused.
    for (body, status) in [
        (
            r#"{"m2m":"Orders worker","audience":"https://api.acme.test"}"#,
            200,
        ),
        (r#"{"m2m":" ","audience":"https://api.acme.test"}"#, 400),
    ] {
        let (got, _, bytes) = crate::http::raw(
            "POST",
            &url,
            None,
            Some(("application/json", body.as_bytes().to_vec())),
        );
        assert_eq!(got, status, "{body}: {}", String::from_utf8_lossy(&bytes));
    }
    // An M2M token by application name, with the scope granted.
    let (status, _, bytes) = crate::http::raw(
        "POST",
        &url,
        None,
        Some((
            "application/json",
            br#"{"m2m":"orders-worker","audience":"https://api.acme.test","scopes":["read:orders"]}"#.to_vec(),
        )),
    );
    assert_eq!(status, 200);
    let reply: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let token = reply["access_token"].as_str().unwrap();
    w.emulator.state().check_signature(token).unwrap();
    let claims = serde_json::Value::Object(cargo_kinde::jwt::decode(token).unwrap().claims);
    assert_eq!(claims["scp"], serde_json::json!(["read:orders"]));
    assert_eq!(claims["gty"], serde_json::json!(["client_credentials"]));
}
