//! `register --check`: the drift check for CI (exit 1 when the tenant differs from kinde.toml),
//! in the human, JSON and JUnit formats, without a terminal and without a single write.

use std::process::Stdio;

use crate::{World, json, stderr, stdout};

const KINDE_TOML: &str = r#"
[app]
callback_urls = ["https://app.acme.example/callback"]
logout_urls = ["https://app.acme.example"]

[[apis]]
name = "Acme API"
audience = "https://api.acme.example"
scopes = ["read:orders", "write:orders"]
authorize = ["app", "management"]
"#;

/// A tenant registered from [`KINDE_TOML`].
fn registered() -> World {
    let w = World::new();
    w.write("kinde.toml", KINDE_TOML);
    register(&w).arg("--yes").assert().success();
    w
}

fn register(w: &World) -> assert_cmd::Command {
    let mut cmd = w.cmd();
    cmd.env("KINDE_CLIENT_ID", w.web_app_id()).arg("register");
    cmd
}

/// Remove the declared logout URL behind kinde.toml's back, as someone in the admin would.
fn remove_logout_url(w: &World) {
    w.cmd()
        .args([
            "api",
            "delete",
            &format!("/api/v1/applications/{}/auth_logout_urls", w.web_app_id()),
            "-q",
            "urls=https://app.acme.example",
            "--yes",
        ])
        .assert()
        .success();
}

#[test]
fn a_matching_tenant_passes_with_no_writes_and_no_stdin() {
    let w = registered();
    let writes = w.emulator.state().writes();
    // No terminal, stdin closed: --check must neither prompt nor wait.
    let out = w
        .std_cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["register", "--check"])
        .env_remove("CI")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("no drift"), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Plan: 0 to add, 0 to change, 0 to remove"),
        "{}",
        stdout(&out)
    );
    let doc = json(&register(&w).args(["--check", "--json"]).output().unwrap());
    assert_eq!(doc["drift"], false);
    assert_eq!(doc["changes"], serde_json::json!([]));
    assert_eq!(w.emulator.state().writes(), writes, "--check never writes");
}

#[test]
fn an_out_of_band_change_is_drift_in_human_json_and_junit() {
    let w = registered();
    remove_logout_url(&w);
    let writes = w.emulator.state().writes();

    let out = register(&w).arg("--check").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let app_urls = text.find("\nApp URLs\n").expect(&text);
    let added = text
        .find("  + add logout URL https://app.acme.example")
        .expect(&text);
    let apis = text.find("\nAPIs\n").expect(&text);
    assert!(
        app_urls < added && added < apis,
        "grouped by family: {text}"
    );
    assert!(
        text.contains("Plan: 1 to add, 0 to change, 0 to remove"),
        "{text}"
    );
    assert!(stderr(&out).contains("drift"), "{}", stderr(&out));

    let out = register(&w).args(["--check", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["drift"], true);
    assert_eq!(doc["summary"]["add"], 1);
    let change = &doc["changes"][0];
    assert_eq!(change["kind"], "add");
    assert_eq!(change["resource"], "app_urls");
    assert_eq!(change["name"], "logout URLs");
    assert_eq!(change["id"], w.web_app_id());
    assert_eq!(change["before"], serde_json::Value::Null);
    assert_eq!(
        change["after"],
        serde_json::json!(["https://app.acme.example"])
    );
    // The plan's own form is still there for tools that read it.
    assert_eq!(doc["plan"]["changes"][0]["action"], "add_urls");

    let out = register(&w)
        .args(["--check", "--junit", "drift.xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let xml = std::fs::read_to_string(w.path("drift.xml")).unwrap();
    assert!(
        xml.contains("<testsuites name=\"cargo kinde register\""),
        "{xml}"
    );
    assert!(
        xml.contains("<testcase name=\"add logout URL https://app.acme.example\" classname=\"register.app_urls\""),
        "{xml}"
    );
    assert!(xml.contains("failures=\"1\""), "{xml}");
    assert!(
        xml.contains("classname=\"register.apis\""),
        "a family without changes passes: {xml}"
    );
    assert_eq!(w.emulator.state().writes(), writes, "--check never writes");

    // Applying makes the check pass again.
    register(&w).arg("--yes").assert().success();
    register(&w).arg("--check").assert().code(0);
}

#[test]
fn with_prune_what_the_file_does_not_list_is_drift_too() {
    let w = registered();
    // The seeded logout URL http://localhost:3000 is not in kinde.toml: left alone, no drift.
    register(&w).arg("--check").assert().code(0);
    let out = register(&w)
        .args(["--check", "--prune", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    let changes = doc["changes"].as_array().unwrap();
    assert!(!changes.is_empty(), "{doc}");
    assert!(changes.iter().all(|c| c["kind"] == "remove"), "{doc}");
    assert_eq!(doc["summary"]["remove"], changes.len());
}

#[test]
fn a_conflict_is_drift() {
    let w = registered();
    w.write(
        "kinde.toml",
        &KINDE_TOML.replace("https://api.acme.example", "https://api2.acme.example"),
    );
    let out = register(&w)
        .args(["--check", "--junit", "drift.xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("\nConflicts\n"), "{}", stdout(&out));
    // The verdict's advice starts with what register needs first: it applies nothing while a
    // conflict stands.
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("1 conflict(s)); resolve the conflict(s) above first"),
        "{all}"
    );
    let xml = std::fs::read_to_string(w.path("drift.xml")).unwrap();
    assert!(xml.contains("classname=\"register.conflicts\""), "{xml}");
}

#[test]
fn check_refuses_flags_that_would_apply() {
    let w = World::new();
    w.write("kinde.toml", KINDE_TOML);
    for flag in ["--yes", "--dry-run"] {
        let out = register(&w).args(["--check", flag]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("cannot be used with"),
            "{}",
            stderr(&out)
        );
    }
    let out = register(&w).args(["--junit", "x.xml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--check"), "{}", stderr(&out));
    assert!(
        w.emulator.state().counts().is_empty(),
        "no request was made"
    );
}

/// Roles, permissions and flags belong wholly to kinde.toml once it has the section: one
/// clicked into the admin is drift for a plain `--check` (no `--prune` needed), named in every
/// format, and `register --prune` brings the tenant back.
#[test]
fn a_role_or_flag_clicked_into_the_admin_is_drift_without_prune() {
    let w = World::new();
    w.write(
        "kinde.toml",
        &format!(
            "{KINDE_TOML}\n[[permissions]]\nkey = \"read:invoices\"\n\n[[roles]]\nkey = \"viewer\"\npermissions = [\"read:invoices\"]\n\n[[feature_flags]]\nkey = \"beta\"\ntype = \"boolean\"\ndefault = false\n"
        ),
    );
    register(&w).arg("--yes").assert().success();
    register(&w).arg("--check").assert().code(0);

    w.cmd()
        .args([
            "api",
            "post",
            "/api/v1/roles",
            "-d",
            r#"{"key":"superuser","name":"Clicked superuser"}"#,
        ])
        .assert()
        .success();
    w.cmd()
        .args([
            "api",
            "post",
            "/api/v1/feature_flags",
            "-d",
            r#"{"key":"clicked","name":"Clicked","type":"bool","allow_override_level":"env","default_value":"true"}"#,
        ])
        .assert()
        .success();
    let writes = w.emulator.state().writes();

    let out = register(&w).arg("--check").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("role `superuser` (Clicked superuser): not in kinde.toml: drift"),
        "{text}"
    );
    assert!(
        text.contains("feature flag `clicked` (boolean): not in kinde.toml: drift"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("`cargo kinde register --prune` removes"),
        "{}",
        stderr(&out)
    );

    let out = register(&w).args(["--check", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["drift"], true);
    assert_eq!(
        doc["changes"],
        serde_json::json!([]),
        "nothing to apply without --prune"
    );
    let undeclared = doc["undeclared"].as_array().unwrap();
    assert_eq!(undeclared.len(), 2, "{doc}");
    assert!(undeclared.contains(&serde_json::json!({"resource": "role", "key": "superuser", "name": "Clicked superuser"})), "{doc}");

    let out = register(&w)
        .args(["--check", "--junit", "drift.xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(w.path("drift.xml")).unwrap();
    assert!(xml.contains("failures=\"2\""), "{xml}");
    assert!(xml.contains("classname=\"register.roles\""), "{xml}");
    assert!(
        xml.contains("classname=\"register.feature_flags\""),
        "{xml}"
    );
    assert_eq!(w.emulator.state().writes(), writes, "--check never writes");

    register(&w).args(["--prune", "--yes"]).assert().success();
    register(&w).arg("--check").assert().code(0);
}
