use predicates::prelude::*;

use crate::{World, json, stderr, stdout};

const KINDE_TOML: &str = r#"
[app]
callback_urls = ["http://localhost:3000/api/auth/kinde_callback", "https://app.acme.example/callback"]
logout_urls = ["https://app.acme.example"]

[[apis]]
name = "Acme API"
audience = "https://api.acme.example"
scopes = ["read:orders", "write:orders"]
authorize = ["app", "management"]
"#;

fn world() -> World {
    let w = World::new();
    w.write("kinde.toml", KINDE_TOML);
    w
}

fn register(w: &World) -> assert_cmd::Command {
    let mut cmd = w.cmd();
    cmd.env("KINDE_CLIENT_ID", w.web_app_id()).arg("register");
    cmd
}

#[test]
fn applies_the_file_then_a_second_run_changes_nothing() {
    let w = world();
    let out = register(&w).arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("+ create API `Acme API` (https://api.acme.example)"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("applied 9 change(s)"),
        "{}",
        stderr(&out)
    );

    let tenant = w.emulator.state().tenant();
    let web = tenant.user_app().unwrap();
    assert_eq!(
        web.redirect_urls,
        [
            "http://localhost:3000/api/auth/kinde_callback",
            "https://app.acme.example/callback"
        ]
    );
    assert!(
        web.logout_urls
            .contains(&"https://app.acme.example".to_string())
    );
    let api = tenant
        .apis
        .iter()
        .find(|a| a.audience.as_deref() == Some("https://api.acme.example"))
        .unwrap();
    assert_eq!(api.name, "Acme API");
    let keys: Vec<&str> = api.scopes.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["read:orders", "write:orders"]);
    assert!(
        api.authorization(&web.id).is_some(),
        "the app is authorised"
    );
    let m2m = api.authorization(&w.management_id()).unwrap();
    assert_eq!(
        m2m.scopes,
        ["read:orders", "write:orders"],
        "M2M apps get the API's scopes"
    );

    // The management app can now get a token for the API with its scopes.
    w.cmd()
        .args([
            "token",
            "--audience",
            "https://api.acme.example",
            "--scope",
            "write:orders",
        ])
        .assert()
        .success();

    let writes = w.emulator.state().writes();
    let again = register(&w).output().unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stderr(&again).contains("no changes"), "{}", stderr(&again));
    assert!(stdout(&again).contains("0 to change"), "{}", stdout(&again));
    assert_eq!(
        w.emulator.state().writes(),
        writes,
        "a second run sends no writes"
    );
}

#[test]
fn dry_run_and_missing_yes_change_nothing() {
    let w = world();
    register(&w)
        .arg("--dry-run")
        .assert()
        .success()
        .stderr(predicate::str::contains("dry run"));
    register(&w)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("applying needs confirmation"))
        .stderr(predicate::str::contains("--yes"));
    assert_eq!(w.emulator.state().writes(), 0);
}

#[test]
fn json_prints_the_plan_and_the_result() {
    let w = world();
    let out = register(&w).args(["--json", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["changed"], true);
    assert_eq!(doc["applied"].as_array().unwrap().len(), 9);
    assert_eq!(doc["plan"]["changes"][0]["action"], "add_urls");
    let out = register(&w).args(["--json"]).output().unwrap();
    assert_eq!(json(&out)["changed"], false);
}

#[test]
fn a_changed_audience_is_a_conflict_not_a_recreation() {
    let w = world();
    register(&w).arg("--yes").assert().success();
    w.write(
        "kinde.toml",
        &KINDE_TOML.replace("https://api.acme.example", "https://api2.acme.example"),
    );
    let writes = w.emulator.state().writes();
    register(&w)
        .arg("--yes")
        .assert()
        .code(2)
        .stdout(predicate::str::contains("audiences cannot change in Kinde"))
        .stderr(predicate::str::contains("conflict"));
    assert_eq!(
        w.emulator.state().writes(),
        writes,
        "nothing is written when there is a conflict"
    );
}

#[test]
fn a_bad_url_in_kinde_toml_fails_before_any_request() {
    let w = World::new();
    w.write(
        "kinde.toml",
        "[app]\ncallback_urls = [\"http://app.acme.example/cb\"]\n",
    );
    register(&w)
        .arg("--yes")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("kinde.toml:2:18: "))
        .stderr(predicate::str::contains("plain http"));
    assert!(
        w.emulator.state().counts().is_empty(),
        "no request was made"
    );
}

#[test]
fn hostile_callback_and_logout_urls_in_kinde_toml_are_refused_before_any_request() {
    for (url, rule) in [
        ("javascript:alert(1)", "`javascript:` scheme"),
        ("data:text/html,x", "`data:` scheme"),
        ("file:///etc/passwd", "`file:` scheme"),
        ("https://user:pw@app.acme.example/cb", "credentials"),
        ("localhost:3000/cb", "did you mean http://localhost:3000/cb"),
        ("https://app.acme.example/cb#x", "fragment"),
    ] {
        for key in ["callback_urls", "logout_urls"] {
            let w = World::new();
            w.write("kinde.toml", &format!("[app]\n{key} = [\"{url}\"]\n"));
            let out = register(&w).arg("--yes").output().unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{key} {url}: {err}");
            assert!(err.contains("kinde.toml:2:"), "{err}");
            assert!(err.contains(rule), "{key} {url}: {err}");
            assert!(
                w.emulator.state().counts().is_empty(),
                "no request was made"
            );
        }
    }
}

#[test]
fn a_failure_midway_reports_what_was_applied_and_a_rerun_converges() {
    let w = world();
    // The first scope creation fails; POSTs are not retried.
    let fault = cargo_kinde::emulator::faults::Fault::new(
        "/api/v1/apis/",
        cargo_kinde::emulator::faults::FaultKind::Status { status: 500 },
    )
    .method("POST")
    .times(1);
    w.emulator.state().inject(fault);
    let out = register(&w).arg("--yes").output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("applied 3 of 9"), "{err}");
    assert!(err.contains("500"), "{err}");
    assert!(
        err.contains("- create scope `read:orders`"),
        "not applied changes are listed: {err}"
    );
    assert!(err.contains("run `cargo kinde register` again"), "{err}");

    let out = register(&w).arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("= API `Acme API`"),
        "the API from the first run is reused: {}",
        stdout(&out)
    );
    let tenant = w.emulator.state().tenant();
    assert_eq!(
        tenant
            .apis
            .iter()
            .filter(|a| a.audience.as_deref() == Some("https://api.acme.example"))
            .count(),
        1
    );
    register(&w)
        .assert()
        .success()
        .stderr(predicate::str::contains("no changes"));
}

#[test]
fn urls_not_in_the_file_are_left_alone_unless_pruned() {
    let w = world();
    register(&w).arg("--yes").assert().success();
    // The seeded logout URL is not in kinde.toml.
    register(&w)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "? logout URL http://localhost:3000: not in kinde.toml, left alone",
        ));
    register(&w).args(["--prune", "--yes"]).assert().success();
    assert_eq!(w.web_app().logout_urls, ["https://app.acme.example"]);
}

#[test]
fn a_missing_scope_names_the_scope_and_where_to_grant_it() {
    let w = world();
    let (id, secret) = w.limited_m2m_app(&["read:apis"]);
    register(&w)
        .env("KINDE_MANAGEMENT_CLIENT_ID", &id)
        .env("KINDE_MANAGEMENT_CLIENT_SECRET", &secret)
        .arg("--yes")
        .assert()
        .code(4)
        // The URL and API reads run at once: whichever is refused first is named
        // (`read:applications_redirect_uris`, `read:application_logout_uris` or
        // `read:applications`).
        .stderr(predicate::str::contains("`read:application"))
        .stderr(predicate::str::contains("Settings > Applications >"));
}

/// The JSON documents on stdout, one a line (a failed run prints its report, then the error).
fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    stdout(out)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

#[test]
fn json_gives_matching_unmanaged_and_conflicts_as_data() {
    let w = world();
    register(&w).arg("--yes").assert().success();
    let out = register(&w).arg("--json").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = &json(&out)["plan"];
    let unmanaged = plan["unmanaged"].as_array().unwrap();
    assert!(
        unmanaged.contains(&serde_json::json!({
            "resource": "url", "kind": "logout", "app": w.web_app_id(), "url": "http://localhost:3000"
        })),
        "{plan}"
    );
    let matching = plan["matching"].as_array().unwrap();
    assert!(
        matching.contains(&serde_json::json!({
            "resource": "api", "name": "Acme API", "audience": "https://api.acme.example"
        })),
        "{plan}"
    );

    w.write(
        "kinde.toml",
        &KINDE_TOML.replace("https://api.acme.example", "https://api2.acme.example"),
    );
    let out = register(&w).args(["--json", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let docs = json_lines(&out);
    assert_eq!(docs.len(), 1, "stdout is one JSON document");
    assert_eq!(
        docs[0]["plan"]["conflicts"],
        serde_json::json!([{
            "kind": "audience_changed",
            "api": "Acme API",
            "before": "https://api.acme.example",
            "after": "https://api2.acme.example"
        }])
    );
    assert_eq!(docs[0]["error"]["exit_code"], 2);
}

#[test]
fn json_after_a_failure_midway_names_the_failed_change() {
    let w = world();
    let fault = cargo_kinde::emulator::faults::Fault::new(
        "/api/v1/apis/",
        cargo_kinde::emulator::faults::FaultKind::Status { status: 500 },
    )
    .method("POST")
    .times(1);
    w.emulator.state().inject(fault);
    let out = register(&w).args(["--json", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let docs = json_lines(&out);
    assert_eq!(docs.len(), 1, "stdout is one JSON document");
    let report = &docs[0];
    assert_eq!(report["applied"].as_array().unwrap().len(), 3, "{report}");
    assert_eq!(report["failed"]["action"], "create_scope", "{report}");
    assert_eq!(report["failed"]["key"], "read:orders", "{report}");
    assert_eq!(report["not_applied"].as_array().unwrap().len(), 6);
    assert_eq!(report["error"]["exit_code"], 3, "the inner error's code");
    assert_eq!(report["error"]["kind"], "network");
}

#[test]
fn repeated_scopes_and_apps_are_applied_once_and_converge() {
    let w = World::new();
    w.write(
        "kinde.toml",
        &KINDE_TOML.replace(
            r#"scopes = ["read:orders", "write:orders"]
authorize = ["app", "management"]"#,
            &format!(
                r#"scopes = ["read:orders", "read:orders"]
authorize = ["management", "management", "app", "{}"]"#,
                w.web_app_id()
            ),
        ),
    );
    let out = register(&w).arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = register(&w).arg("--json").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["plan"]["changes"], serde_json::json!([]));
}

#[test]
fn pruned_removals_are_shown_as_removals() {
    let w = world();
    register(&w).arg("--yes").assert().success();
    w.write(
        "kinde.toml",
        &KINDE_TOML.replace(
            r#"logout_urls = ["https://app.acme.example"]"#,
            "logout_urls = []",
        ),
    );
    let out = register(&w)
        .args(["--prune", "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = stdout(&out);
    assert!(
        plan.lines()
            .any(|l| l.trim_start().starts_with("- remove")
                && l.contains("https://app.acme.example")),
        "{plan}"
    );
    assert!(!plan.contains("+ remove"), "{plan}");
}

#[test]
fn without_yes_json_is_one_document_with_the_plan_and_the_error() {
    let w = world();
    let out = register(&w)
        .arg("--json")
        .env("CI", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let docs = json_lines(&out);
    assert_eq!(docs.len(), 1, "{docs:?}");
    assert_eq!(docs[0]["plan"]["changes"].as_array().unwrap().len(), 9);
    assert!(
        docs[0]["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("in this report")
    );
}

/// Issue 10, item 1: a run that stops between authorising the management app and granting its
/// scopes (a 503 on the grant endpoint, or SIGKILL) must not leave a rerun saying "no changes".
#[test]
fn a_rerun_after_a_failed_grant_grants_the_scopes_and_the_token_works() {
    let w = World::new();
    let toml = |authorize: &str| {
        format!(
            "[[apis]]\nname = \"Orders\"\naudience = \"https://orders.example\"\nscopes = [\"read:orders\", \"write:orders\"]\nauthorize = [{authorize}]\n"
        )
    };
    w.write("kinde.toml", &toml(""));
    register(&w).arg("--yes").assert().success();
    let api_id = w
        .emulator
        .state()
        .tenant()
        .apis
        .iter()
        .find(|a| a.name == "Orders")
        .unwrap()
        .id
        .clone();
    w.write("kinde.toml", &toml("\"management\""));
    let grant_path = format!(
        "/api/v1/apis/{api_id}/applications/{}/scopes",
        w.management_id()
    );
    w.emulator.state().inject(
        cargo_kinde::emulator::faults::Fault::new(
            &grant_path,
            cargo_kinde::emulator::faults::FaultKind::Status { status: 503 },
        )
        .method("POST"),
    );
    let out = register(&w)
        .args(["--yes"])
        .env("CARGO_KINDE_RETRY_DELAY_MS", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    w.emulator.state().clear_faults();

    let out = register(&w).arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = stdout(&out);
    assert!(plan.contains("grant `read:orders`"), "{plan}");
    assert!(plan.contains("grant `write:orders`"), "{plan}");
    let out = w
        .cmd()
        .args([
            "token",
            "--no-cache",
            "--audience",
            "https://orders.example",
            "--scope",
            "read:orders",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "the grant works: {}", stderr(&out));
    // And now it converged: nothing more to do.
    let out = register(&w).arg("--json").output().unwrap();
    assert_eq!(json(&out)["plan"]["changes"], serde_json::json!([]));
}

#[test]
fn tenant_names_cannot_drive_the_terminal_in_a_plan() {
    let w = world();
    let out = w
        .cmd()
        .args([
            "api",
            "POST",
            "/api/v1/apis",
            "-d",
            r#"{"name": "Evil\u001b]0;PWNED\u0007\u001b[2J API", "audience": "https://api.acme.example"}"#,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = register(&w)
        .args(["--dry-run", "--color", "always"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = stdout(&out);
    assert!(plan.contains("Evil\\x1b]0;PWNED\\x07"), "{plan}");
    assert!(
        !plan.contains('\u{7}') && !plan.contains("\u{1b}]0;"),
        "{plan}"
    );
}
