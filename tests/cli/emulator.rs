use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::http::{get_json as get, post_form};
use crate::{World, stderr, stdout};

/// A `cargo kinde emulator` process, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `cargo kinde emulator --http` (these tests are about other things than TLS).
fn start(args: &[&str]) -> (Process, String) {
    start_in(&[&["--http"], args].concat(), None)
}

/// `cargo kinde emulator ARGS`, its CA (with TLS) under `cache`.
fn start_in(args: &[&str], cache: Option<&std::path::Path>) -> (Process, String) {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("cargo-kinde"));
    if let Some(cache) = cache {
        cmd.env("CARGO_KINDE_CACHE_DIR", cache);
    }
    let mut child = cmd
        .args(["kinde", "emulator", "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    (Process(child), line.trim().to_string())
}

#[test]
fn serves_discovery_and_jwks_at_both_paths() {
    let w = World::new();
    let iss = w.issuer();
    let (status, doc) = get(&format!("{iss}/.well-known/openid-configuration"), None);
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], iss);
    assert_eq!(doc["token_endpoint"], format!("{iss}/oauth2/token"));
    assert_eq!(doc["authorization_endpoint"], format!("{iss}/oauth2/auth"));
    assert_eq!(
        doc["userinfo_endpoint"],
        format!("{iss}/oauth2/v2/user_profile")
    );
    assert_eq!(doc["end_session_endpoint"], format!("{iss}/logout"));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    for path in ["/.well-known/jwks", "/.well-known/jwks.json"] {
        let (status, jwks) = get(&format!("{iss}{path}"), None);
        assert_eq!(status, 200);
        let key = &jwks["keys"][0];
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["e"], "AQAB");
        assert_eq!(key["kid"].as_str().unwrap().split(':').count(), 16);
        // 2048-bit modulus: 256 bytes, 342 base64url characters.
        assert_eq!(key["n"].as_str().unwrap().len(), 342);
    }
    let (status, _) = get(&format!("{iss}/.well-known/jwks.json"), Some("Bearer x"));
    assert_eq!(
        status, 403,
        "Kinde's JWKS refuses requests with credentials"
    );
    let (status, body) = get(&format!("{iss}/no/such/route"), None);
    assert_eq!(status, 404);
    assert_eq!(body["errors"]["code"], "ROUTE_NOT_FOUND");
}

#[test]
fn token_endpoint_follows_kindes_rules() {
    let w = World::new();
    let url = format!("{}/oauth2/token", w.issuer());
    let id = w.management_id();
    let secret = w.management_secret();
    let aud = format!("{}/api", w.issuer());
    fn with<'a>(
        base: &[(&'a str, &'a str)],
        extra: &[(&'a str, &'a str)],
    ) -> Vec<(&'a str, &'a str)> {
        base.iter().chain(extra).copied().collect()
    }
    let base = [
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let (status, body) = post_form(&url, &with(&base, &[]), None);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("audience")
    );

    let (status, body) = post_form(&url, &with(&base, &[("audience", &aud)]), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86_400);

    let (status, body) = post_form(
        &url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", "wrong"),
            ("audience", &aud),
        ],
        None,
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    let (status, body) = post_form(
        &url,
        &[("grant_type", "client_credentials"), ("audience", &aud)],
        Some((&id, &secret)),
    );
    assert_eq!(status, 200, "HTTP Basic client authentication: {body}");

    let (status, body) = post_form(
        &url,
        &with(&base, &[("audience", "https://unknown.example")]),
        None,
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );

    let (status, body) = post_form(
        &url,
        &with(
            &base,
            &[("audience", &aud), ("scope", "read:users nope:nope")],
        ),
        None,
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    // Repeated audiences and scopes appear once in the token.
    let (status, body) = post_form(
        &url,
        &with(
            &base,
            &[
                ("audience", &aud),
                ("audience", &aud),
                ("scope", "read:users read:users"),
            ],
        ),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let claims = cargo_kinde::jwt::decode(body["access_token"].as_str().unwrap())
        .unwrap()
        .claims;
    assert_eq!(claims["aud"], serde_json::json!([aud]));
    assert_eq!(claims["scp"], serde_json::json!(["read:users"]));

    let (status, body) = post_form(&url, &[("grant_type", "password")], None);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );

    let (status, body) = post_form(&url, &[("client_id", &id)], None);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    // A user-facing (back-end) app cannot use client credentials.
    let tenant = w.emulator.state().tenant();
    let web = tenant.user_app().unwrap();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", web.id.as_str()),
        ("client_secret", web.client_secret.as_deref().unwrap()),
        ("audience", aud.as_str()),
    ];
    let (status, body) = post_form(&url, &form, None);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
}

#[test]
fn the_cli_writes_an_env_file_and_keeps_state_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("emulator.env");
    let state = dir.path().join("tenant.json");
    let env_arg = env_file.to_str().unwrap();
    let state_arg = state.to_str().unwrap();
    let (first, issuer) = start(&["--env-file", env_arg, "--state", state_arg]);
    assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
    let env = std::fs::read_to_string(&env_file).unwrap();
    assert!(env.contains(&format!("KINDE_DOMAIN={issuer}\n")), "{env}");
    for var in [
        "KINDE_MANAGEMENT_CLIENT_ID=",
        "KINDE_MANAGEMENT_CLIENT_SECRET=",
        "KINDE_CLIENT_ID=",
        "KINDE_CLIENT_SECRET=",
    ] {
        assert!(env.contains(var), "{var} missing from {env}");
    }
    #[cfg(unix)]
    {
        assert_eq!(crate::mode(&env_file), 0o600);
        assert_eq!(crate::mode(&state), 0o600);
    }
    let (_, jwks) = get(&format!("{issuer}/.well-known/jwks.json"), None);
    let kid = jwks["keys"][0]["kid"].clone();
    let id_line = |env: &str| {
        env.lines()
            .find(|l| l.starts_with("KINDE_MANAGEMENT_CLIENT_ID="))
            .unwrap()
            .to_string()
    };
    let first_id = id_line(&env);

    // cargo-kinde picks the tenant up from the .env file next to it.
    let project = tempfile::tempdir().unwrap();
    std::fs::copy(&env_file, project.path().join(".env")).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("cargo-kinde"))
        .args(["kinde", "token", "--verify"])
        .current_dir(project.path())
        .env("CARGO_KINDE_CACHE_DIR", cache.path())
        .env_remove("KINDE_DOMAIN")
        .env_remove("KINDE_MANAGEMENT_CLIENT_ID")
        .env_remove("KINDE_MANAGEMENT_CLIENT_SECRET")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(first);

    let (_second, issuer2) = start(&["--env-file", env_arg, "--state", state_arg]);
    let (_, jwks2) = get(&format!("{issuer2}/.well-known/jwks.json"), None);
    assert_eq!(
        jwks2["keys"][0]["kid"], kid,
        "the signing key survives a restart"
    );
    assert_eq!(
        id_line(&std::fs::read_to_string(&env_file).unwrap()),
        first_id,
        "so do the apps"
    );
}

#[test]
fn logs_one_line_per_request_without_query_strings() {
    let (mut process, issuer) = start(&[]);
    let _ = get(&format!("{issuer}/.well-known/jwks?token=abc"), None);
    let _ = process.0.kill();
    let output = process.0.wait_with_output_stderr();
    assert!(output.contains("GET /.well-known/jwks 200"), "{output}");
    assert!(!output.contains("token=abc"));
}

trait StderrOf {
    fn wait_with_output_stderr(&mut self) -> String;
}

impl StderrOf for Child {
    fn wait_with_output_stderr(&mut self) -> String {
        let _ = self.wait();
        let mut text = String::new();
        if let Some(stderr) = self.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text);
        }
        text
    }
}

#[test]
fn a_busy_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(assert_cmd::cargo::cargo_bin("cargo-kinde"))
        .args(["kinde", "emulator", "--http", "--port", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("--port 0"), "{err}");
}

#[test]
fn concurrent_creates_of_one_email_make_one_user() {
    let w = World::new();
    let iss = w.issuer();
    let (status, token) = post_form(
        &format!("{iss}/oauth2/token"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &w.management_id()),
            ("client_secret", &w.management_secret()),
            ("audience", &format!("{iss}/api")),
        ],
        None,
    );
    assert_eq!(status, 200);
    let token = token["access_token"].as_str().unwrap().to_string();
    let body = serde_json::json!({
        "profile": {"given_name": "Zed", "family_name": "Zane"},
        "identities": [{"type": "email", "details": {"email": "zed@example.com"}}],
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answers: Vec<(u16, serde_json::Value)> = runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let request = client
                .post(format!("{iss}/api/v1/user"))
                .bearer_auth(&token)
                .json(&body);
            tasks.spawn(async move {
                let res = request.send().await.unwrap();
                (res.status().as_u16(), res.json().await.unwrap())
            });
        }
        tasks.join_all().await
    });
    let created = answers.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(created, 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(status, _)| *status != 200) {
        assert_eq!(*status, 400);
        assert_eq!(body["errors"][0]["code"], "USER_ALREADY_EXISTS", "{body}");
    }
    let tenant = w.emulator.state().tenant();
    let users: Vec<_> = tenant
        .users
        .iter()
        .filter(|u| u.email == "zed@example.com")
        .collect();
    assert_eq!(users.len(), 1);
}

#[test]
fn management_errors_are_kindes_error_list() {
    let w = World::new();
    let iss = w.issuer();
    let (status, body) = get(&format!("{iss}/api/v1/users"), None);
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED", "{body}");
    let (status, body) = get(&format!("{iss}/api/v1/users"), Some("Bearer not.a.token"));
    assert_eq!(status, 401);
    assert_eq!(
        body["errors"][0]["message"], "The access token is malformed",
        "{body}"
    );
}

/// POST a JSON body with a bearer token: (status, JSON body or null).
fn post_json(url: &str, token: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let res = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json().await.unwrap_or(serde_json::Value::Null))
        })
}

#[test]
fn the_management_api_refuses_hostile_callback_and_logout_urls() {
    let w = World::new();
    let token = w.token();
    let app = w.web_app_id();
    for which in ["auth_redirect_urls", "auth_logout_urls"] {
        let url = format!("{}/api/v1/applications/{app}/{which}", w.issuer());
        for hostile in [
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            "vbscript:msgbox(1)",
            "https://user:pw@app.acme.example/cb",
            "localhost:3000/cb",
            "https://app.acme.example/cb#frag",
            "https://*.com/cb",
        ] {
            let (status, body) = post_json(&url, &token, &serde_json::json!({ "urls": [hostile] }));
            assert_eq!(status, 400, "{which} {hostile}: {body}");
            assert_eq!(body["errors"][0]["code"], "INVALID_URL", "{body}");
        }
        let (status, body) = post_json(
            &url,
            &token,
            &serde_json::json!({ "urls": ["myapp://kinde_callback", "https://pr-*.acme.example/cb"] }),
        );
        assert_eq!(status, 200, "{which}: {body}");
    }
    let web = w.web_app();
    assert!(
        web.redirect_urls
            .iter()
            .chain(&web.logout_urls)
            .all(|u| !u.starts_with("javascript") && !u.contains('#')),
        "nothing hostile was stored: {web:?}"
    );
}

#[test]
fn logout_never_redirects_to_a_hostile_url_even_one_in_the_state() {
    let w = World::new();
    let app = w.web_app_id();
    // Put there behind the API's back, as a hand-edited state file could.
    w.emulator.state().update(|t| {
        t.application_mut(&app)
            .unwrap()
            .logout_urls
            .push("javascript:alert(1)".into())
    });
    let (status, location) = crate::http::get_no_redirect(&format!(
        "{}/logout?redirect=javascript:alert(1)",
        w.issuer()
    ));
    assert_eq!((status, location), (400, None));
}

#[test]
fn stats_stay_small_however_many_distinct_paths_arrive() {
    let w = World::new();
    let iss = w.issuer();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let client = reqwest::Client::new();
            for i in 0..3000 {
                let path = match i % 3 {
                    0 => format!("/no/such/{i}"),
                    1 => format!("/api/v1/applications/{i:032x}"),
                    _ => format!("/api/v1/apis/{i}/scopes"),
                };
                let _ = client.get(format!("{iss}{path}")).send().await.unwrap();
            }
        });
    let (status, stats) = get(&format!("{iss}/_emulator/stats"), None);
    assert_eq!(status, 200);
    let requests = stats["requests"].as_object().unwrap();
    assert!(requests.len() < 10, "{requests:?}");
    assert_eq!(requests["GET (no route)"], 1000);
    assert_eq!(requests["GET /api/v1/applications/{id}"], 1000);
    assert!(
        serde_json::to_string(&stats).unwrap().len() < 1024,
        "{stats}"
    );
    assert_eq!(w.count("GET /api/v1/apis/{id}/scopes"), 1000);
}

#[cfg(unix)]
#[test]
fn a_graceful_stop_saves_the_last_writes() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tenant.json");
    let env_file = dir.path().join("emulator.env");
    let (mut process, issuer) = start(&[
        "--state",
        state.to_str().unwrap(),
        "--env-file",
        env_file.to_str().unwrap(),
    ]);
    let env = std::fs::read_to_string(&env_file).unwrap();
    let var = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_string()
    };
    let (_, token) = post_form(
        &format!("{issuer}/oauth2/token"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &var("KINDE_MANAGEMENT_CLIENT_ID")),
            ("client_secret", &var("KINDE_MANAGEMENT_CLIENT_SECRET")),
            ("audience", &format!("{issuer}/api")),
        ],
        None,
    );
    let (status, _) = post_json(
        &format!("{issuer}/api/v1/user"),
        token["access_token"].as_str().unwrap(),
        &serde_json::json!({"identities": [{"type": "email", "details": {"email": "late@example.com"}}]}),
    );
    assert_eq!(status, 200);
    // At once, well inside the background saver's delay.
    let pid = i32::try_from(process.0.id()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let exit = process.0.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(saved.contains("late@example.com"), "{saved}");
}

/// An emulator serving HTTPS with its CA under `cache` (where `cargo kinde` run with
/// `CARGO_KINDE_CACHE_DIR=cache` looks for it).
fn tls_world() -> World {
    let cache = tempfile::tempdir().unwrap();
    let options = cargo_kinde::emulator::Options {
        tls_dir: Some(cache.path().join("emulator")),
        ..Default::default()
    };
    World {
        emulator: cargo_kinde::emulator::Emulator::spawn(options).unwrap(),
        dir: tempfile::tempdir().unwrap(),
        cache,
    }
}

fn https_get(url: &str, ca: Option<&std::path::Path>) -> Result<serde_json::Value, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut builder = reqwest::Client::builder();
            if let Some(ca) = ca {
                let pem = std::fs::read(ca).unwrap();
                builder = builder.tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()]);
            }
            let res = builder
                .build()
                .unwrap()
                .get(url)
                .send()
                .await
                .map_err(|e| format!("{e:?}"))?;
            res.json().await.map_err(|e| e.to_string())
        })
}

#[test]
fn the_tls_emulator_is_trusted_with_its_ca_and_only_with_it() {
    let w = tls_world();
    let iss = w.issuer();
    assert!(iss.starts_with("https://127.0.0.1:"), "{iss}");
    let ca = w.cache.path().join("emulator/ca.pem");
    let url = format!("{iss}/.well-known/openid-configuration");
    let doc = https_get(&url, Some(&ca)).unwrap();
    assert_eq!(doc["issuer"], iss);
    assert_eq!(doc["jwks_uri"], format!("{iss}/.well-known/jwks"));
    // The same name by `localhost` (also in the certificate).
    let port = w.emulator.addr().port();
    let by_name = https_get(
        &format!("https://localhost:{port}/.well-known/jwks.json"),
        Some(&ca),
    );
    assert!(by_name.is_ok(), "{by_name:?}");
    // The system's roots alone do not know the CA.
    let err = https_get(&url, None).unwrap_err();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}

#[test]
fn the_cli_trusts_the_tls_emulator_with_no_extra_flags() {
    let w = tls_world();
    let token = w.token();
    let claims = w.emulator.state().check_signature(&token).unwrap();
    assert_eq!(claims.issuer(), Some(w.issuer().as_str()));
    let out = w.cmd().args(["smoke", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    // Without the emulator's CA (another cache directory) the same command cannot connect.
    let other = tempfile::tempdir().unwrap();
    let out = w
        .cmd()
        .env("CARGO_KINDE_CACHE_DIR", other.path())
        .args(["token", "--no-cache"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn the_tls_env_file_exports_the_ca_and_a_restart_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let env_file = dir.path().join("emulator.env");
    let env_arg = env_file.to_str().unwrap();
    let (first, issuer) = start_in(&["--env-file", env_arg], Some(&cache));
    assert!(issuer.starts_with("https://127.0.0.1:"), "{issuer}");
    let env = std::fs::read_to_string(&env_file).unwrap();
    let ca = cache.join("emulator/ca.pem");
    let bundle = cache.join("emulator/ca-bundle.pem");
    for line in [
        format!("KINDE_DOMAIN={issuer}\n"),
        format!("KINDE_ISSUER_URL={issuer}\n"),
        format!("NODE_EXTRA_CA_CERTS={}\n", ca.display()),
        format!("SSL_CERT_FILE={}\n", bundle.display()),
        format!("REQUESTS_CA_BUNDLE={}\n", bundle.display()),
    ] {
        assert!(env.contains(&line), "{line} missing from:\n{env}");
    }
    let ca_pem = std::fs::read_to_string(&ca).unwrap();
    assert!(
        ca_pem.starts_with("-----BEGIN CERTIFICATE-----"),
        "{ca_pem}"
    );
    // The bundle stands in for the system's roots: it holds them, then the CA.
    let bundle_pem = std::fs::read_to_string(&bundle).unwrap();
    assert!(bundle_pem.ends_with(&ca_pem));
    #[cfg(unix)]
    assert_eq!(crate::mode(&cache.join("emulator/ca.json")), 0o600);
    let doc = https_get(
        &format!("{issuer}/.well-known/openid-configuration"),
        Some(&ca),
    )
    .unwrap();
    assert_eq!(doc["issuer"], issuer);
    drop(first);
    let (_second, issuer2) = start_in(&["--env-file", env_arg], Some(&cache));
    assert!(issuer2.starts_with("https://"), "{issuer2}");
    assert_eq!(
        std::fs::read_to_string(&ca).unwrap(),
        ca_pem,
        "a restart keeps the CA"
    );
    let env = std::fs::read_to_string(&env_file).unwrap();
    assert_eq!(env.matches("# The emulator's local CA").count(), 1, "{env}");
    assert_eq!(env.matches("NODE_EXTRA_CA_CERTS=").count(), 1, "{env}");
    // The kept CA still verifies the new run's certificate.
    let doc = https_get(&format!("{issuer2}/.well-known/jwks.json"), Some(&ca)).unwrap();
    assert!(doc["keys"].is_array(), "{doc}");
}

#[test]
fn an_http_run_takes_the_ca_lines_it_wrote_out_of_the_env_file_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let env_file = dir.path().join("app.env");
    let env_arg = env_file.to_str().unwrap();
    std::fs::write(
        &env_file,
        "# my app\nexport PORT=3000\nDATABASE_URL=postgres://db\n",
    )
    .unwrap();
    let (https, _) = start_in(&["--env-file", env_arg], Some(&cache));
    drop(https);
    let env = std::fs::read_to_string(&env_file).unwrap();
    assert!(env.contains("NODE_EXTRA_CA_CERTS="), "{env}");
    // A line of the user's after the emulator's stays too.
    std::fs::write(&env_file, format!("{env}LOG=debug\n")).unwrap();

    let (http, line) = start_in(&["--http", "--json", "--env-file", env_arg], Some(&cache));
    drop(http);
    let report: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        report["removed"],
        serde_json::json!(["NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"]),
        "{report}"
    );
    let env = std::fs::read_to_string(&env_file).unwrap();
    let issuer = report["issuer"].as_str().unwrap();
    assert!(issuer.starts_with("http://"), "{issuer}");
    assert!(env.contains(&format!("KINDE_DOMAIN={issuer}\n")), "{env}");
    for gone in [
        "NODE_EXTRA_CA_CERTS",
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "local CA",
    ] {
        assert!(!env.contains(gone), "{gone} left in:\n{env}");
    }
    for kept in [
        "# my app\n",
        "export PORT=3000\n",
        "DATABASE_URL=postgres://db\n",
        "LOG=debug\n",
    ] {
        assert!(env.contains(kept), "{kept} lost from:\n{env}");
    }

    // A CA of the user's own is theirs: an --http run leaves it.
    let own = dir.path().join("own.env");
    std::fs::write(
        &own,
        "NODE_EXTRA_CA_CERTS=/etc/ssl/corp-ca.pem\nSSL_CERT_FILE=/etc/ssl/ca-bundle.pem\n",
    )
    .unwrap();
    let (http, line) = start_in(
        &["--http", "--json", "--env-file", own.to_str().unwrap()],
        Some(&cache),
    );
    drop(http);
    let report: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(report["removed"], serde_json::json!([]), "{report}");
    let env = std::fs::read_to_string(&own).unwrap();
    assert!(
        env.starts_with(
            "NODE_EXTRA_CA_CERTS=/etc/ssl/corp-ca.pem\nSSL_CERT_FILE=/etc/ssl/ca-bundle.pem\n"
        ),
        "{env}"
    );
}

/// `METHOD url` with raw bytes, an optional bearer token and content type: (status, JSON or null).
fn send_raw(
    method: &str,
    url: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut req = reqwest::Client::new()
                .request(method.parse().unwrap(), url)
                .body(body);
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            if let Some(content_type) = content_type {
                req = req.header("content-type", content_type);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json().await.unwrap_or(serde_json::Value::Null))
        })
}

#[test]
fn only_authorised_writes_are_recorded_and_large_bodies_reach_the_handler() {
    let w = World::new();
    let url = format!("{}/api/v1/business", w.issuer());
    let json = Some("application/json");
    let (status, _) = send_raw("PATCH", &url, None, json, b"{\"name\":\"x\"}".to_vec());
    assert_eq!(status, 401);
    assert!(
        w.emulator.state().recorded().is_empty(),
        "recorded before the token check"
    );
    // 1.5 MB is under the limit: the handler gets all of it, the log keeps only a prefix.
    let token = w.token();
    let big = format!("{{\"name\":\"{}\"}}", "n".repeat(1_500_000));
    let (status, body) = send_raw("PATCH", &url, Some(&token), json, big.clone().into_bytes());
    assert_eq!(status, 200, "{body}");
    let recorded = w.emulator.state().recorded();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].size, big.len());
    assert!(recorded[0].body.is_none(), "too large to keep whole");
    let (_, business) = get(&url, Some(&format!("Bearer {token}")));
    assert_eq!(
        business["business"]["name"].as_str().map(str::len),
        Some(1_500_000)
    );
    // Over the limit: Kinde's error shape with 413.
    let huge = format!(
        "{{\"name\":\"{}\"}}",
        "n".repeat(cargo_kinde::emulator::MAX_BODY)
    );
    let (status, body) = send_raw("PATCH", &url, Some(&token), json, huge.into_bytes());
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["errors"][0]["code"], "REQUEST_BODY_TOO_LARGE");
}

#[test]
fn reset_needs_a_json_request_a_web_page_cannot_send_unasked() {
    let w = World::new();
    let token = w.token();
    let users = format!("{}/api/v1/user", w.issuer());
    let user = br#"{"profile":{"given_name":"Ann"},"identities":[{"type":"email","details":{"email":"ann@example.com"}}]}"#;
    let (status, body) = send_raw(
        "POST",
        &users,
        Some(&token),
        Some("application/json"),
        user.to_vec(),
    );
    assert_eq!(status, 200, "{body}");
    let before = w.emulator.state().read(|t| t.users.len());
    let reset = format!("{}/_emulator/reset", w.issuer());
    // What a cross-site form can send: refused, the tenant untouched.
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let (status, body) = send_raw("POST", &reset, None, content_type, Vec::new());
        assert_eq!(status, 415, "{content_type:?}: {body}");
    }
    assert_eq!(w.emulator.state().read(|t| t.users.len()), before);
    let (status, _) = send_raw("POST", &reset, None, Some("application/json"), Vec::new());
    assert_eq!(status, 204);
    assert_eq!(w.emulator.state().read(|t| t.users.len()), before - 1);
}
