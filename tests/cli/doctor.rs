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
    // Outside git there is nothing to ignore it from, and the report says which case it is.
    let outside = check(&report, ".env ignored by git");
    assert_eq!(outside["status"], "skip", "{outside}");
    assert!(
        outside["detail"]
            .as_str()
            .unwrap()
            .ends_with("is not in a git work tree"),
        "{outside}"
    );

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
    let ignored = check(&report, ".env ignored by git");
    assert_eq!(ignored["status"], "pass");
    assert!(
        ignored["detail"]
            .as_str()
            .unwrap()
            .ends_with(".env is git-ignored"),
        "{ignored}"
    );
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

/// A host that accepts connections and never answers; the count is of connections accepted.
fn silent_host() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            open.push(stream);
        }
    });
    (url, accepted)
}

#[test]
fn a_domain_that_never_answers_costs_one_timeout_and_skips_what_needs_it() {
    let w = World::new();
    let (host, accepted) = silent_host();
    let started = std::time::Instant::now();
    let out = doctor(&w)
        .env("KINDE_DOMAIN", &host)
        .args(["--timeout", "2"])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    let domain = check(&report, "domain");
    assert_eq!(domain["status"], "fail", "{report}");
    assert!(
        domain["detail"]
            .as_str()
            .unwrap()
            .contains("no answer within 2 s"),
        "{domain}"
    );
    // Every check that needs the network is skipped at once, saying why, and never connects.
    for name in ["clock", "management token", "management scopes", "tenant"] {
        let c = check(&report, name);
        assert_eq!(c["status"], "skip", "{c}");
        assert!(
            c["detail"].as_str().unwrap().contains("needs the domain"),
            "{c}"
        );
    }
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one request to the silent host, not one per check"
    );
    // A bound, not a benchmark: one 2 s timeout, with room for a loaded machine.
    assert!(took.as_secs() < 20, "took {took:?}");
}

/// Every check of a report has exactly `name`, `status`, `detail` and `fix`; a fix is `null` or
/// a sentence that stands alone (no pointer at the human layout).
fn assert_schema(out: &std::process::Output) -> Value {
    let text = stdout(out);
    // One document: the whole of stdout parses as one JSON value.
    let report: Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {text}"));
    let keys: Vec<&String> = report.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["checks", "ok"], "{report}");
    let checks = report["checks"].as_array().unwrap();
    assert!(!checks.is_empty());
    for c in checks {
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["detail", "fix", "name", "status"], "{c}");
        assert!(c["name"].as_str().is_some_and(|n| !n.is_empty()), "{c}");
        assert!(c["detail"].as_str().is_some_and(|d| !d.is_empty()), "{c}");
        assert!(
            ["pass", "warn", "fail", "skip"].contains(&c["status"].as_str().unwrap()),
            "{c}"
        );
        match &c["fix"] {
            Value::Null => {}
            Value::String(fix) => {
                assert!(!fix.trim().is_empty(), "an empty fix must be null: {c}");
                for layout in ["above", "below", "named above", "shown above"] {
                    assert!(!fix.contains(layout), "fix refers to the layout: {c}");
                }
            }
            other => panic!("fix is neither null nor a string: {other}"),
        }
    }
    assert_eq!(
        report["ok"],
        checks.iter().all(|c| c["status"] != "fail"),
        "{report}"
    );
    report
}

#[test]
fn doctor_json_is_one_document_whose_fixes_are_null_or_stand_alone() {
    let w = World::new();
    // A set-up with problems of every kind: unregistered API, no domain, a bad file, a wrong
    // secret, an unsafe cache directory.
    w.write("kinde.toml", &kinde_toml(free_port()));
    assert_schema(&doctor(&w).output().unwrap());
    assert_schema(
        &doctor(&w)
            .env(
                "KINDE_MANAGEMENT_CLIENT_SECRET",
                "Wr0ngSecretForDoctor0123456789",
            )
            .output()
            .unwrap(),
    );
    let empty = tempfile::tempdir().unwrap();
    let out = w
        .bare()
        .current_dir(empty.path())
        .args(["--json", "doctor"])
        .output()
        .unwrap();
    let report = assert_schema(&out);
    assert_eq!(check(&report, "domain")["status"], "fail", "{report}");
    w.write(
        "kinde.toml",
        "[tenant]\ndomain = \"http://acme.kinde.com\"\n",
    );
    let out = w.bare().args(["--json", "doctor"]).output().unwrap();
    let report = assert_schema(&out);
    assert_eq!(check(&report, "config")["status"], "fail", "{report}");
    // The checks that need the configuration are listed as skipped, not dropped.
    for name in [
        "domain",
        "clock",
        "management token",
        "tenant",
        "login port",
        ".env",
    ] {
        let c = check(&report, name);
        assert_eq!(c["status"], "skip", "{report}");
        assert!(
            c["detail"]
                .as_str()
                .unwrap()
                .contains("config check failed"),
            "{c}"
        );
    }
    // In the table, every line of a multi-line detail (the error's snippet) is indented to its
    // column.
    let out = w.bare().args(["doctor"]).output().unwrap();
    let text = stdout(&out);
    let table: Vec<&str> = text
        .lines()
        .take_while(|l| !l.contains(" passed, "))
        .collect();
    assert!(table.len() > 2, "{text}");
    for line in &table {
        assert!(line.starts_with("  "), "{line:?} breaks the table:\n{text}");
    }
    // An error with no hint of its own: the fix is doctor's, and still stands alone.
    w.write(
        "kinde.toml",
        "[profiles.a.profiles.b.tenant]\ndomain = \"x\"\n",
    );
    let out = w.bare().args(["--json", "doctor"]).output().unwrap();
    let report = assert_schema(&out);
    assert_eq!(check(&report, "config")["status"], "fail", "{report}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let open = tempfile::tempdir().unwrap();
        std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let out = w
            .bare()
            .env("CARGO_KINDE_CACHE_DIR", open.path())
            .args(["--json", "doctor"])
            .output()
            .unwrap();
        let report = assert_schema(&out);
        assert_ne!(
            check(&report, "cache directory")["status"],
            "pass",
            "{report}"
        );
    }
}

/// A busy port nobody signs in through is only noted: `doctor::tests` holds an ephemeral port
/// for that case (holding the default 53180 here raced the tests that run doctor twice).
#[test]
fn a_busy_login_port_fails_when_login_is_used() {
    let w = World::new();
    // With a [login] section on a busy port, it is a failure with its fix.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    w.write("kinde.toml", &kinde_toml(busy_port));
    let out = doctor(&w).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report = json(&out);
    assert_eq!(check(&report, "login port")["status"], "fail", "{report}");
}

#[test]
fn quiet_doctor_prints_only_problems_and_nothing_when_all_is_well() {
    let w = World::new();
    w.write("kinde.toml", &kinde_toml(free_port()));
    let quiet = |w: &World| {
        w.cmd()
            .env("KINDE_CLIENT_ID", w.web_app_id())
            .args(["--quiet", "doctor"])
            .output()
            .unwrap()
    };
    // Unregistered: the warnings and their fixes, no passing check, no tally; exit unchanged.
    let out = quiet(&w);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("! API Acme API"), "{text}");
    assert!(text.contains("fix: run `cargo kinde register`"), "{text}");
    assert!(!text.contains('✓') && !text.contains("passed"), "{text}");
    // A failure: shown, and the exit code is still 1.
    let out = w
        .cmd()
        .env(
            "KINDE_MANAGEMENT_CLIENT_SECRET",
            "Wr0ngSecretForDoctor0123456789",
        )
        .args(["--quiet", "doctor"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("✗ management token"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains('✓'), "{}", stdout(&out));
    // All well: nothing at all.
    w.cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["register", "--yes"])
        .assert()
        .success();
    let out = quiet(&w);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "nothing on success");
    assert_eq!(stderr(&out), "");
}

#[test]
fn doctor_asks_for_discovery_once_and_for_one_token() {
    let w = World::new();
    w.write("kinde.toml", &kinde_toml(free_port()));
    let out = doctor(&w).output().unwrap();
    let report = json(&out);
    assert_eq!(check(&report, "clock")["status"], "pass", "{report}");
    assert_eq!(check(&report, "API Acme API")["status"], "warn", "{report}");
    // The domain and clock checks share one discovery request; the token check and the tenant
    // read share one token.
    assert_eq!(w.count("GET /.well-known/openid-configuration"), 1);
    assert_eq!(w.count("POST /oauth2/token"), 1);
}

/// The fix of the check `name` in a `--json` report.
fn fix_of(report: &Value, name: &str) -> String {
    check(report, name)["fix"]
        .as_str()
        .unwrap_or_else(|| panic!("`{name}` has no fix: {report}"))
        .to_string()
}

#[test]
fn the_register_fix_works_when_followed() {
    let w = World::new();
    w.write("kinde.toml", &kinde_toml(free_port()));
    let report = json(&doctor(&w).output().unwrap());
    let names = [
        "API Acme API",
        "callback URLs",
        "logout URLs",
        "login callback",
    ];
    for name in names {
        assert_eq!(
            fix_of(&report, name),
            "run `cargo kinde register` (`--dry-run` shows the changes first)"
        );
    }
    // Follow it (`--yes`: the test has no terminal to confirm on).
    w.cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["register", "--yes"])
        .assert()
        .success();
    let report = json(&doctor(&w).output().unwrap());
    for name in names {
        assert_eq!(check(&report, name)["status"], "pass", "{name}: {report}");
    }
}

#[test]
fn the_login_fixes_work_when_followed() {
    let w = World::new();
    let app = "[app]\ncallback_urls = [\"http://localhost:3000/doctor/callback\"]\n";
    w.write("kinde.toml", app);
    w.cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["register", "--yes"])
        .assert()
        .success();
    // No [login]: `login` would be refused; the fix says to add the section and register.
    let report = json(&doctor(&w).output().unwrap());
    assert_eq!(
        check(&report, "login callback")["status"],
        "warn",
        "{report}"
    );
    let fix = fix_of(&report, "login callback");
    assert!(
        fix.contains("add a [login] section") && fix.contains("`cargo kinde register`"),
        "{fix}"
    );
    let port = free_port();
    w.write("kinde.toml", &format!("{app}\n[login]\nport = {port}\n"));
    let register = || {
        w.cmd()
            .env("KINDE_CLIENT_ID", w.web_app_id())
            .args(["register", "--yes"])
            .assert()
            .success();
    };
    register();
    let report = json(&doctor(&w).output().unwrap());
    assert_eq!(
        check(&report, "login callback")["status"],
        "pass",
        "{report}"
    );
    assert_eq!(check(&report, "login port")["status"], "pass", "{report}");
    // The port taken: a failure whose fix (another port, then register) works.
    let _taken = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let out = doctor(&w).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    let fix = fix_of(&report, "login port");
    assert!(
        fix.contains(
            "set another `port` under [login] in kinde.toml and run `cargo kinde register`"
        ),
        "{fix}"
    );
    w.write(
        "kinde.toml",
        &format!("{app}\n[login]\nport = {}\n", free_port()),
    );
    register();
    let out = doctor(&w).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report = json(&out);
    assert_eq!(check(&report, "login port")["status"], "pass", "{report}");
    assert_eq!(
        check(&report, "login callback")["status"],
        "pass",
        "{report}"
    );
}

#[test]
fn the_domain_credential_and_scope_fixes_work_when_followed() {
    let w = World::new();
    // No domain: the fix names KINDE_DOMAIN.
    let report = json(&w.bare().args(["--json", "doctor"]).output().unwrap());
    assert!(
        fix_of(&report, "domain").contains("set KINDE_DOMAIN="),
        "{report}"
    );
    // A wrong one: the fix says to use the tenant's domain.
    let out = w
        .bare()
        .env("KINDE_DOMAIN", format!("http://127.0.0.1:{}", free_port()))
        .args(["--json", "doctor"])
        .output()
        .unwrap();
    assert!(fix_of(&json(&out), "domain").contains("KINDE_DOMAIN"));
    // Followed: the domain answers; the token check now asks for the credentials in .env.
    let domain = || {
        let mut cmd = w.bare();
        cmd.env("KINDE_DOMAIN", w.issuer())
            .env("KINDE_CLIENT_ID", w.web_app_id())
            .args(["--json", "doctor"]);
        cmd
    };
    let report = json(&domain().output().unwrap());
    assert_eq!(check(&report, "domain")["status"], "pass", "{report}");
    let fix = fix_of(&report, "management token");
    assert!(
        fix.starts_with(
            "set KINDE_MANAGEMENT_CLIENT_ID and KINDE_MANAGEMENT_CLIENT_SECRET in .env"
        ),
        "{fix}"
    );
    // An app with too few scopes, set in .env as the fix says.
    let (id, secret) = w.limited_m2m_app(&["read:users"]);
    w.write("kinde.toml", &kinde_toml(free_port()));
    w.write(
        ".env",
        &format!("KINDE_MANAGEMENT_CLIENT_ID={id}\nKINDE_MANAGEMENT_CLIENT_SECRET={secret}\n"),
    );
    let report = json(&domain().output().unwrap());
    assert_eq!(
        check(&report, "management token")["status"],
        "pass",
        "{report}"
    );
    assert_eq!(
        check(&report, "management scopes")["status"],
        "warn",
        "{report}"
    );
    assert!(fix_of(&report, "management scopes").contains("Manage scopes"));
    assert!(
        fix_of(&report, "tenant").contains("Kinde Management API"),
        "{report}"
    );
    // Followed in the tenant: grant the app every Management API scope.
    w.emulator.state().update(|t| {
        let api = t.apis.iter_mut().find(|a| a.is_management_api).unwrap();
        let grant = api
            .applications
            .iter_mut()
            .find(|a| a.client_id == id)
            .unwrap();
        grant.scopes = cargo_kinde::kinde::all_scopes()
            .into_iter()
            .map(String::from)
            .collect();
    });
    let report = json(&domain().output().unwrap());
    assert_eq!(
        check(&report, "management scopes")["status"],
        "pass",
        "{report}"
    );
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "tenant"),
        "the tenant was read: {report}"
    );
    assert_eq!(check(&report, "API Acme API")["status"], "warn", "{report}");
}

#[test]
fn the_config_and_cache_fixes_work_when_followed() {
    let w = World::new();
    // A .env domain over kinde.toml's: a warning whose fix is to unset it.
    w.write(
        "kinde.toml",
        &format!("[tenant]\ndomain = \"{}\"\n", w.issuer()),
    );
    w.write(".env", "KINDE_DOMAIN=https://other.kinde.com\n");
    let report = json(&w.bare().args(["--json", "doctor"]).output().unwrap());
    assert_eq!(check(&report, "config")["status"], "warn", "{report}");
    assert!(fix_of(&report, "config").starts_with("unset the variable"));
    w.write(".env", "");
    let report = json(&w.bare().args(["--json", "doctor"]).output().unwrap());
    assert_eq!(check(&report, "config")["status"], "pass", "{report}");
    // A file that does not load: the fix is the loader's own hint.
    w.write(
        "kinde.toml",
        "[tenant]\ndomain = \"http://acme.kinde.com\"\n",
    );
    let report = json(&w.bare().args(["--json", "doctor"]).output().unwrap());
    assert!(fix_of(&report, "config").contains("e.g. https://acme.kinde.com"));
    w.write(
        "kinde.toml",
        "[tenant]\ndomain = \"https://acme.kinde.com\"\n",
    );
    let report = json(&w.bare().args(["--json", "doctor"]).output().unwrap());
    assert_eq!(check(&report, "config")["status"], "pass", "{report}");
    // A cache directory others can write to: the fix's chmod makes it pass.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let run = || {
            json(
                &w.bare()
                    .env("CARGO_KINDE_CACHE_DIR", dir.path())
                    .args(["--json", "doctor"])
                    .output()
                    .unwrap(),
            )
        };
        let report = run();
        assert_eq!(
            check(&report, "cache directory")["status"],
            "fail",
            "{report}"
        );
        let fix = fix_of(&report, "cache directory");
        assert!(
            fix.contains(&format!("chmod 700 {}", dir.path().display())),
            "{fix}"
        );
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let report = run();
        assert_eq!(
            check(&report, "cache directory")["status"],
            "pass",
            "{report}"
        );
    }
}
