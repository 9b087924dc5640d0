use predicates::prelude::*;

use crate::{World, json, stderr};

#[test]
fn paginate_returns_every_user_across_pages() {
    let w = World::new();
    let out = w
        .cmd()
        .args([
            "api",
            "get",
            "/api/v1/users",
            "--paginate",
            "-q",
            "page_size=2",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out);
    let users = doc["users"].as_array().unwrap();
    assert_eq!(users.len(), 5, "all seeded users");
    assert!(doc.get("next_token").is_none());
    assert_eq!(w.count("GET /api/v1/users"), 3, "pages of 2, 2 and 1");
    // Without --paginate, one page and its next_token.
    let out = w
        .cmd()
        .args(["api", "GET", "users?page_size=2"])
        .output()
        .unwrap();
    let doc = json(&out);
    assert_eq!(doc["users"].as_array().unwrap().len(), 2);
    assert!(doc["next_token"].is_string());
}

#[test]
fn page_size_over_the_limit_is_kindes_error() {
    let w = World::new();
    w.cmd()
        .args(["api", "get", "/api/v1/users", "-q", "page_size=501"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("PAGE_SIZE_LIMIT_EXCEEDED"));
}

#[test]
fn a_403_names_the_missing_scope_and_where_to_grant_it() {
    let w = World::new();
    let (id, secret) = w.limited_m2m_app(&["read:apis"]);
    w.cmd()
        .env("KINDE_MANAGEMENT_CLIENT_ID", &id)
        .env("KINDE_MANAGEMENT_CLIENT_SECRET", &secret)
        .args(["api", "get", "/api/v1/users"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("403 Forbidden"))
        .stderr(predicate::str::contains("lacks the scope `read:users`"))
        .stderr(predicate::str::contains(format!("Settings > Applications > <M2M app {id}> > APIs > Kinde Management API > scopes, tick `read:users`")));
}

#[test]
fn a_cached_token_refused_once_is_replaced() {
    let w = World::new();
    w.cmd().arg("token").assert().success();
    w.inject("401@/api/v1/users*1");
    w.cmd()
        .args(["api", "get", "/api/v1/users"])
        .assert()
        .success();
    assert_eq!(
        w.count("POST /oauth2/token"),
        2,
        "the refused cached token was replaced"
    );
    assert_eq!(w.count("GET /api/v1/users"), 2);
}

#[test]
fn a_401_says_the_token_was_refused_and_whether_it_was_cached() {
    let w = World::new();
    w.inject("401@/api/v1/users");
    w.cmd()
        .args(["api", "get", "/api/v1/users"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "401 Unauthorized, the Management API refused the token (the token was new",
        ));
    w.cmd()
        .args(["api", "get", "/api/v1/users"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "a cached token was refused, and so was a new one",
        ));
}

#[test]
fn a_429_is_retried_after_ratelimit_reset() {
    let w = World::new();
    w.inject("429:1@/api/v1/users*1");
    let out = w
        .cmd()
        .args(["api", "get", "/api/v1/users"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("429 Too Many Requests; retrying in 1000 ms (1/3)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.count("GET /api/v1/users"), 2);
}

#[test]
fn server_errors_are_retried_then_reported() {
    let w = World::new();
    w.inject("503@/api/v1/users");
    w.cmd()
        .args(["api", "get", "/api/v1/users"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("503 Service Unavailable"))
        .stderr(predicate::str::contains("retrying"));
    assert_eq!(
        w.count("GET /api/v1/users"),
        4,
        "one attempt and three retries"
    );
}

#[test]
fn writes_are_not_retried_on_server_errors() {
    let w = World::new();
    w.inject("500@/api/v1/apis");
    w.cmd()
        .args([
            "api",
            "post",
            "/api/v1/apis",
            "-d",
            r#"{"name":"A","audience":"https://a.example"}"#,
        ])
        .assert()
        .code(3);
    assert_eq!(w.count("POST /api/v1/apis"), 1);
}

#[test]
fn a_dropped_connection_on_a_read_is_retried() {
    let w = World::new();
    w.inject("drop@/api/v1/apis*1");
    let out = w
        .cmd()
        .args(["api", "get", "/api/v1/apis"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(json(&out)["apis"].is_array());
    assert_eq!(w.count("GET /api/v1/apis"), 2);
}

#[test]
fn unknown_paths_get_a_suggestion_and_no_request() {
    let w = World::new();
    w.cmd()
        .args(["api", "get", "/api/v1/usrs"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean /api/v1/users"));
    w.cmd()
        .args(["api", "patch", "/api/v1/users"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("it supports GET"));
    w.cmd()
        .args(["api", "fetch", "/api/v1/users"])
        .assert()
        .code(2);
    assert_eq!(w.count("GET /api/v1/users"), 0);
}

#[test]
fn bodies_come_from_flags_files_and_stdin() {
    let w = World::new();
    let app = w.web_app_id();
    let path = format!("/api/v1/applications/{app}/auth_redirect_urls");
    w.cmd()
        .args([
            "api",
            "post",
            &path,
            "-d",
            r#"{"urls":["https://one.example/cb"]}"#,
        ])
        .assert()
        .success();
    w.write("body.json", r#"{"urls":["https://two.example/cb"]}"#);
    w.cmd()
        .args(["api", "post", &path, "-d", "@body.json"])
        .assert()
        .success();
    w.cmd()
        .args(["api", "post", &path])
        .write_stdin(r#"{"urls":["https://three.example/cb"]}"#)
        .assert()
        .success();
    let urls = w.web_app().redirect_urls;
    for url in [
        "https://one.example/cb",
        "https://two.example/cb",
        "https://three.example/cb",
    ] {
        assert!(
            urls.contains(&url.to_string()),
            "{url} missing from {urls:?}"
        );
    }
    w.cmd()
        .args(["api", "post", &path, "-d", "{nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("the body is not JSON"));
    w.cmd()
        .args([
            "api",
            "post",
            &path,
            "-d",
            r#"{"urls":["http://evil.example/cb"]}"#,
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("INVALID_URL"));
}

#[test]
fn delete_needs_yes_without_a_terminal() {
    let w = World::new();
    let app = w.web_app_id();
    let path = format!("/api/v1/applications/{app}/auth_logout_urls");
    w.cmd()
        .args(["api", "delete", &path, "-q", "urls=http://localhost:3000"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--yes"));
    assert_eq!(w.emulator.state().writes(), 0);
    w.cmd()
        .args([
            "api",
            "delete",
            &path,
            "-q",
            "urls=http://localhost:3000",
            "--yes",
        ])
        .assert()
        .success();
    assert!(w.web_app().logout_urls.is_empty());
}

#[test]
fn secrets_in_responses_are_redacted() {
    let w = World::new();
    let app = w.web_app_id();
    let secret = w.web_app().client_secret.unwrap();
    let out = w
        .cmd()
        .args(["api", "get", &format!("/api/v1/applications/{app}")])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(json(&out)["application"]["client_secret"], "***");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&secret));
    let out = w
        .cmd()
        .args([
            "api",
            "get",
            &format!("/api/v1/applications/{app}"),
            "--show-secrets",
        ])
        .output()
        .unwrap();
    assert_eq!(json(&out)["application"]["client_secret"], secret);
}

#[test]
fn the_management_api_requires_a_valid_token() {
    let w = World::new();
    let other = cargo_kinde::emulator::keys::SigningKey::generate().unwrap();
    let now = cargo_kinde::clock::now();
    let forged = other.sign_jwt(&serde_json::json!({
        "aud": [format!("{}/api", w.issuer())], "iss": w.issuer(), "exp": now + 60, "scp": ["read:users"],
    }));
    let expired = w.emulator.state().sign(&serde_json::json!({
        "aud": [format!("{}/api", w.issuer())], "iss": w.issuer(), "exp": now - 60, "scp": ["read:users"],
    }));
    let url = format!("{}/api/v1/users", w.issuer());
    let status = |auth: Option<String>| {
        let (status, body) = crate::http::get_json(&url, auth.as_deref());
        (
            status,
            body["errors"][0]["message"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        )
    };
    assert_eq!(status(None).0, 401);
    let (code, message) = status(Some(format!("Bearer {forged}")));
    assert_eq!(code, 401);
    assert!(message.contains("unknown key"), "{message}");
    let (code, message) = status(Some(format!("Bearer {expired}")));
    assert_eq!(code, 401);
    assert!(message.contains("expired"), "{message}");
}

#[test]
fn server_text_never_shows_the_token_the_secret_or_raw_escapes() {
    use crate::fake::{Answer, ESCAPES, has_raw_escapes, serve};
    const SECRET: &str = "ApiFakeSecret0123456789abcdefghijKLMNOP";
    const TOKEN: &str = "fake-access-token-0123456789abcdef";
    let w = World::new();
    // The token is fine; the API echoes the request (with its Authorization header) as text.
    let echo_api = serve(|seen| match seen.path.as_str() {
        "/oauth2/token" => Answer::json(
            200,
            serde_json::json!({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600}),
        ),
        "/.well-known/openid-configuration" => Answer::text(404, "no discovery"),
        _ => Answer::text(200, format!("{}{ESCAPES}", seen.head)),
    });
    // The token endpoint echoes the form in a 502.
    let echo_token = serve(|seen| match seen.path.as_str() {
        "/oauth2/token" => Answer::text(502, format!("{}{ESCAPES}", seen.body)),
        _ => Answer::text(404, "not found"),
    });
    for (url, code) in [(&echo_api.url, 0), (&echo_token.url, 3)] {
        let out = w
            .bare()
            .env("KINDE_DOMAIN", url)
            .env("KINDE_MANAGEMENT_CLIENT_ID", "fakeclient")
            .env("KINDE_MANAGEMENT_CLIENT_SECRET", SECRET)
            .args(["--color", "always", "api", "GET", "/api/v1/users"])
            .output()
            .unwrap();
        let all = format!("{}{}", crate::stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(code), "{all}");
        assert!(!all.contains(SECRET) && !all.contains(TOKEN), "{all}");
        assert!(!has_raw_escapes(&all), "{all:?}");
        assert!(all.contains("***"), "{all}");
    }
}

#[test]
fn no_check_calls_a_path_the_spec_does_not_list() {
    let w = World::new();
    let out = w
        .cmd()
        .args(["api", "GET", "/api/v1/brand-new-endpoint"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--no-check"), "{}", stderr(&out));
    let before = w.count("POST /oauth2/token");
    let out = w
        .cmd()
        .args(["api", "GET", "/api/v1/brand-new-endpoint", "--no-check"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!err.contains("is not a Management API path"), "{err}");
    // The request was made: the emulator answered that it has no such route.
    assert!(err.contains("ROUTE_NOT_FOUND"), "{err}");
    assert_eq!(w.count("POST /oauth2/token"), before + 1);
}

#[test]
fn fields_are_query_parameters_for_get_and_a_typed_body_otherwise() {
    let w = World::new();
    let out = w
        .cmd()
        .args(["api", "GET", "/api/v1/users", "-F", "page_size=2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["users"].as_array().unwrap().len(), 2);

    let out = w
        .cmd()
        .args([
            "api",
            "POST",
            "/api/v1/apis",
            "-F",
            "name=Fields API",
            "-f",
            "audience=urn:fields",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = w
        .cmd()
        .args(["api", "GET", "/api/v1/apis"])
        .output()
        .unwrap();
    let apis = json(&out)["apis"].clone();
    assert!(
        apis.as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "Fields API" && a["audience"] == "urn:fields"),
        "{apis}"
    );
    // -d and fields are two ways to give a body: clap refuses both at once.
    let out = w
        .cmd()
        .args(["api", "POST", "/api/v1/apis", "-d", "{}", "-F", "name=x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[cfg(unix)]
#[test]
fn a_slow_answer_shows_a_spinner_on_a_terminal() {
    let w = World::new();
    w.inject("latency:2500@/api/v1/users");
    let mut cmd = w.std_cmd();
    cmd.args(["api", "GET", "/api/v1/users"]);
    let mut term = crate::tty::Terminal::spawn(cmd);
    term.expect("GET /api/v1/users (1 s)");
    let (code, _) = term.finish();
    assert_eq!(code, 0);
}

#[test]
fn jq_filters_the_answer_and_prints_strings_raw() {
    let w = World::new();
    let out = w
        .cmd()
        .args(["api", "get", "users", "--jq", ".users[].email"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = crate::stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "one line per seeded user: {text}");
    assert!(
        lines.iter().all(|l| l.contains('@') && !l.contains('"')),
        "strings unquoted: {text}"
    );
    // Non-strings are JSON.
    let out = w
        .cmd()
        .args(["api", "get", "users", "--jq", "[.users[] | .id] | length"])
        .output()
        .unwrap();
    assert_eq!(crate::stdout(&out).trim(), "5");
}

#[test]
fn a_bad_jq_expression_is_refused_before_any_request() {
    let w = World::new();
    let out = w
        .cmd()
        .args(["api", "get", "users", "--jq", ".users[] |"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--jq `.users[] |` is not a valid jq expression"),
        "{err}"
    );
    assert!(err.contains("column"), "{err}");
    assert_eq!(w.count("GET /api/v1/users"), 0, "nothing was sent");
    assert_eq!(w.count("POST /oauth2/token"), 0);
}

#[test]
fn a_field_whose_value_reads_json_is_not_the_json_flag() {
    let w = World::new();
    // Refused by clap (no such flag): answered as text, since --json was not given as a flag.
    let out = w
        .cmd()
        .args(["api", "get", "users", "-f", "name=--json", "--nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(crate::stdout(&out).is_empty(), "{}", crate::stdout(&out));
    assert!(stderr(&out).contains("--nope"), "{}", stderr(&out));
    let out = w
        .cmd()
        .args([
            "api",
            "get",
            "users",
            "-f",
            "page_size=2",
            "--json",
            "--nope",
        ])
        .output()
        .unwrap();
    assert_eq!(json(&out)["error"]["exit_code"], 2);
}

/// The `help:` line of a failed command.
fn hint_of(out: &std::process::Output) -> String {
    let err = stderr(out);
    err.lines()
        .find_map(|l| l.strip_prefix("help: "))
        .unwrap_or_else(|| panic!("no help line: {err}"))
        .to_string()
}

#[test]
fn api_hints_work_when_followed() {
    let w = World::new();
    let run = |args: &[&str]| w.cmd().args(args).output().unwrap();
    // An unknown path: the suggestion works, and --no-check sends it.
    let out = run(&["api", "get", "/api/v1/usrs"]);
    assert_eq!(out.status.code(), Some(2));
    let hint = hint_of(&out);
    assert!(
        hint.contains("/api/v1/users") && hint.contains("--no-check"),
        "{hint}"
    );
    assert!(run(&["api", "get", "/api/v1/users"]).status.success());
    let out = run(&["api", "get", "/api/v1/usrs", "--no-check"]);
    assert!(
        stderr(&out).contains("ROUTE_NOT_FOUND"),
        "--no-check sent it: {}",
        stderr(&out)
    );
    // A method.
    let out = run(&["api", "fetch", "users"]);
    assert!(hint_of(&out).contains("use GET"), "{}", hint_of(&out));
    assert!(run(&["api", "GET", "users"]).status.success());
    // A query parameter, and a field, without `=`.
    let out = run(&["api", "get", "users", "-q", "page_size"]);
    assert!(hint_of(&out).contains("-q page_size=50"));
    assert!(
        run(&["api", "get", "users", "-q", "page_size=50"])
            .status
            .success()
    );
    let out = run(&["api", "post", "apis", "-F", "name"]);
    assert!(hint_of(&out).contains("-F name=Acme"));
    let out = run(&[
        "api",
        "post",
        "apis",
        "-F",
        "name=Acme",
        "-f",
        "audience=https://acme.example",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = json(&out)["api"]["id"].as_str().unwrap().to_string();
    // A DELETE without a person to confirm.
    let out = run(&["api", "delete", &format!("apis/{id}")]);
    assert!(hint_of(&out).contains("--yes"));
    let out = run(&["api", "delete", &format!("apis/{id}"), "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A body that is not JSON: the example body works.
    let app = w.web_app_id();
    let path = format!("applications/{app}/auth_redirect_urls");
    let out = run(&["api", "post", &path, "-d", "urls=x"]);
    let hint = hint_of(&out);
    let example = hint
        .split_once("-d '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(body, _)| body.to_string())
        .unwrap_or_else(|| panic!("{hint}"));
    let out = run(&["api", "post", &path, "-d", &example]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_body_for_get_or_delete_is_refused_and_the_hint_works() {
    let w = World::new();
    for (method, path) in [("get", "users"), ("delete", "user?id=kp_1")] {
        let out = w
            .cmd()
            .args(["api", method, path, "-d", "{\"page_size\":2}", "--yes"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("takes no body"), "{}", stderr(&out));
    }
    assert_eq!(w.count("GET /api/v1/users"), 0, "nothing was sent");
    let out = w
        .cmd()
        .args(["api", "get", "users", "-q", "page_size=2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["users"].as_array().unwrap().len(), 2);
}
