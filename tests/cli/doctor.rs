//! `cargo kinde doctor`: every check passes on a registered tenant; each way of getting it wrong
//! is a warning or a failure with its fix.

use serde_json::Value;

use crate::fake::{self, Answer};
use crate::{World, json, stderr, stdout};

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn kinde_toml(port: u16) -> String {
    format!(
        r#"
[app]
callback_urls = ["http://localhost:3000/doctor/callback"]
logout_urls = ["http://localhost:3000/signed-out"]

[[apis]]
name = "Acme API"
audience = "https://api.acme.example"
scopes = ["read:orders"]
authorize = ["app", "management"]

[login]
port = {port}
"#
    )
}

fn doctor(w: &World) -> assert_cmd::Command {
    let mut cmd = w.cmd();
    cmd.env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["--json", "doctor"]);
    cmd
}

/// The check named `name` in a `--json` report.
fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {report}"))
}

#[test]
fn every_check_passes_on_a_registered_tenant_and_json_has_the_documented_shape() {
    let w = World::new();
    w.write("kinde.toml", &kinde_toml(free_port()));
    w.cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["register", "--yes"])
        .assert()
        .success();
    let out = doctor(&w).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["ok"], true, "{report}");
    let checks = report["checks"].as_array().unwrap();
    for c in checks {
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["detail", "fix", "name", "status"], "{c}");
        assert!(c["name"].is_string() && c["detail"].is_string(), "{c}");
        assert!(c["fix"].is_null() || c["fix"].is_string(), "{c}");
        let status = c["status"].as_str().unwrap();
        assert!(["pass", "skip"].contains(&status), "{c}");
    }
    for name in [
        "config",
        "domain",
        "clock",
        "management token",
        "management scopes",
        "API Acme API",
        "callback URLs",
        "logout URLs",
        "login callback",
        "login port",
        "cache directory",
    ] {
        assert_eq!(check(&report, name)["status"], "pass", "{name}: {report}");
    }
    // Human output: one line per check and the tally.
    let out = w
        .cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .arg("doctor")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("✓ management token"), "{text}");
    assert!(text.contains("0 failed"), "{text}");
}

#[test]
fn a_bad_secret_fails_the_token_check_with_the_fix_and_never_shows_the_secret() {
    let w = World::new();
    let secret = "Wr0ngSecretForDoctor0123456789";
    let out = doctor(&w)
        .env("KINDE_MANAGEMENT_CLIENT_SECRET", secret)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["ok"], false);
    let token = check(&report, "management token");
    assert_eq!(token["status"], "fail", "{report}");
    assert!(
        token["fix"]
            .as_str()
            .unwrap()
            .contains("KINDE_MANAGEMENT_CLIENT_SECRET"),
        "{token}"
    );
    assert_eq!(check(&report, "management scopes")["status"], "skip");
    assert!(!stdout(&out).contains(secret) && !stderr(&out).contains(secret));
}

#[test]
fn an_unregistered_api_and_callback_are_warnings_that_say_register() {
    let w = World::new();
    w.write("kinde.toml", &kinde_toml(free_port()));
    let out = doctor(&w).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "warnings exit 0: {}",
        stderr(&out)
    );
    let report = json(&out);
    for name in [
        "API Acme API",
        "callback URLs",
        "logout URLs",
        "login callback",
    ] {
        let c = check(&report, name);
        assert_eq!(c["status"], "warn", "{c}");
        assert!(
            c["fix"].as_str().unwrap().contains("cargo kinde register"),
            "{c}"
        );
    }
    assert!(
        check(&report, "API Acme API")["detail"]
            .as_str()
            .unwrap()
            .contains("create API `Acme API`"),
        "{report}"
    );
}

#[test]
fn a_management_app_without_scopes_is_told_which_features_need_which() {
    let w = World::new();
    w.write("kinde.toml", &kinde_toml(free_port()));
    let (id, secret) = w.limited_m2m_app(&["read:users"]);
    let out = doctor(&w)
        .env("KINDE_MANAGEMENT_CLIENT_ID", &id)
        .env("KINDE_MANAGEMENT_CLIENT_SECRET", &secret)
        .output()
        .unwrap();
    let report = json(&out);
    let scopes = check(&report, "management scopes");
    assert_eq!(scopes["status"], "warn", "{report}");
    let detail = scopes["detail"].as_str().unwrap();
    assert!(
        detail.contains("register ([[apis]]) needs") && detail.contains("create:apis"),
        "{detail}"
    );
    assert!(!detail.contains("smoke"), "read:users is granted: {detail}");
    // Reading the tenant is refused: that is a failure naming the missing scope.
    assert_eq!(check(&report, "tenant")["status"], "fail", "{report}");
    assert_eq!(out.status.code(), Some(1));
}

#[cfg(unix)]
#[test]
fn a_readable_dotenv_warns_and_one_git_would_commit_fails() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new();
    w.write(".env", "KINDE_CLIENT_ID=abc\n");
    std::fs::set_permissions(w.path(".env"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = doctor(&w).output().unwrap();
    let report = json(&out);
    let private = check(&report, ".env private");
    assert_eq!(private["status"], "warn", "{report}");
    assert!(private["fix"].as_str().unwrap().starts_with("chmod 600 "));
    assert_eq!(check(&report, ".env ignored by git")["status"], "pass");

    std::fs::create_dir(w.path(".git")).unwrap();
    let out = doctor(&w).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let ignored = check(&json(&out), ".env ignored by git").clone();
    assert_eq!(ignored["status"], "fail", "{ignored}");
    assert!(
        ignored["fix"]
            .as_str()
            .unwrap()
            .contains("add a line `.env`"),
        "{ignored}"
    );
    w.write(".gitignore", ".env\n");
    std::fs::set_permissions(w.path(".env"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let report = json(&doctor(&w).output().unwrap());
    assert_eq!(check(&report, ".env ignored by git")["status"], "pass");
    assert_eq!(check(&report, ".env private")["status"], "pass");
}

#[test]
fn a_wrong_domain_fails_and_the_rest_is_skipped() {
    let w = World::new();
    let out = doctor(&w)
        .env("KINDE_DOMAIN", format!("http://127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    let domain = check(&report, "domain");
    assert_eq!(domain["status"], "fail", "{report}");
    assert!(
        domain["fix"].as_str().unwrap().contains("domain"),
        "{domain}"
    );
    assert_eq!(check(&report, "management token")["status"], "skip");
    // With no domain at all, the fix is `init`.
    let out = w.bare().args(["--json", "doctor"]).output().unwrap();
    let report = json(&out);
    assert!(
        check(&report, "domain")["fix"]
            .as_str()
            .unwrap()
            .contains("cargo kinde init"),
        "{report}"
    );
}

#[test]
fn a_clock_far_from_the_servers_date_fails() {
    // A server whose Date is ten minutes behind this machine's.
    let date =
        httpdate::fmt_http_date(std::time::SystemTime::now() - std::time::Duration::from_secs(600));
    let header: &'static str =
        Box::leak(format!("application/json\r\nDate: {date}").into_boxed_str());
    let url = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let seen = url.clone();
    let server = fake::serve(move |_| {
        let issuer = seen.get().cloned().unwrap_or_default();
        let doc = serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/oauth2/auth"),
            "token_endpoint": format!("{issuer}/oauth2/token"),
            "jwks_uri": format!("{issuer}/.well-known/jwks"),
        });
        Answer::Fixed(200, header, doc.to_string().into_bytes())
    });
    url.set(server.url.clone()).unwrap();
    let w = World::new();
    let out = doctor(&w)
        .env("KINDE_DOMAIN", &server.url)
        .output()
        .unwrap();
    let report = json(&out);
    assert_eq!(check(&report, "domain")["status"], "pass", "{report}");
    let clock = check(&report, "clock");
    assert_eq!(clock["status"], "fail", "{report}");
    assert!(
        clock["detail"].as_str().unwrap().contains("ahead of"),
        "{clock}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_config_that_does_not_load_is_the_first_failure() {
    let w = World::new();
    w.write(
        "kinde.toml",
        "[tenant]\ndomain = \"http://acme.kinde.com\"\n",
    );
    let out = w.bare().args(["--json", "doctor"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    let config = check(&report, "config");
    assert_eq!(config["status"], "fail");
    assert!(
        config["detail"]
            .as_str()
            .unwrap()
            .contains("kinde.toml:2:10"),
        "{config}"
    );
    assert!(config["fix"].is_string());
}
