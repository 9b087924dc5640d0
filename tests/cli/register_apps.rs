//! `register` creating the `[app]` from its name and type: the client id written back into
//! kinde.toml (comments kept), the secret into .env (0600, never printed), the rest of the plan
//! applied to the new app, adoption by name after a run that stopped before writing back.

use crate::{World, stderr, stdout};

const REGULAR: &str = r#"# Acme's Kinde configuration
[app]
# the web app users sign in to
name = "Acme web"
type = "regular"   # back-end web
callback_urls = ["https://app.acme.example/callback"]
logout_urls = ["https://app.acme.example"]

[[apis]]
name = "Acme API"
audience = "https://api.acme.example"
authorize = ["app"]
"#;

fn world(toml: &str) -> World {
    let w = World::new();
    w.write("kinde.toml", toml);
    w.write(".env", "# keep me\nOTHER=1\n");
    w
}

fn apps_named(w: &World, name: &str) -> Vec<cargo_kinde::emulator::tenant::Application> {
    let tenant = w.emulator.state().tenant();
    tenant
        .applications
        .iter()
        .filter(|a| a.name == name)
        .cloned()
        .collect()
}

fn toml(w: &World) -> String {
    std::fs::read_to_string(w.path("kinde.toml")).unwrap()
}

#[test]
fn a_regular_app_is_created_recorded_and_its_urls_applied_in_the_same_run() {
    let w = world(REGULAR);
    let out = w.cmd().args(["register", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("+ create application `Acme web` (regular)"),
        "{}",
        stdout(&out)
    );
    let apps = apps_named(&w, "Acme web");
    assert_eq!(apps.len(), 1);
    let app = &apps[0];
    assert_eq!(app.kind, "reg");
    assert_eq!(app.redirect_urls, ["https://app.acme.example/callback"]);
    assert_eq!(app.logout_urls, ["https://app.acme.example"]);
    let api = w
        .emulator
        .state()
        .tenant()
        .apis
        .iter()
        .find(|a| a.audience.as_deref() == Some("https://api.acme.example"))
        .cloned()
        .unwrap();
    assert!(
        api.authorization(&app.id).is_some(),
        "the new app is authorised"
    );

    let written = toml(&w);
    assert_eq!(
        written,
        REGULAR.replace(
            "logout_urls = [\"https://app.acme.example\"]\n",
            &format!(
                "logout_urls = [\"https://app.acme.example\"]\nclient_id = \"{}\"\n",
                app.id
            )
        ),
        "only client_id is added, comments kept"
    );
    let secret = app.client_secret.clone().unwrap();
    let env = std::fs::read_to_string(w.path(".env")).unwrap();
    assert_eq!(
        env,
        format!("# keep me\nOTHER=1\nKINDE_CLIENT_SECRET={secret}\n")
    );
    #[cfg(unix)]
    assert_eq!(crate::mode(&w.path(".env")), 0o600);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains(&secret), "the secret is never printed: {all}");
    assert!(
        all.contains(&format!("wrote client_id {}", app.id)),
        "{all}"
    );

    // A rerun reads the client id from kinde.toml and writes nothing.
    let writes = w.emulator.state().writes();
    let again = w.cmd().args(["register", "--yes"]).output().unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stderr(&again).contains("no changes"), "{}", stderr(&again));
    assert_eq!(
        w.emulator.state().writes(),
        writes,
        "a rerun sends no writes"
    );
    assert_eq!(toml(&w), written);
    assert_eq!(apps_named(&w, "Acme web").len(), 1);
}

#[test]
fn a_spa_gets_no_secret() {
    let w = world(&REGULAR.replace("\"regular\"", "\"spa\""));
    let out = w.cmd().args(["register", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let apps = apps_named(&w, "Acme web");
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].kind, "spa");
    assert!(toml(&w).contains(&format!("client_id = \"{}\"", apps[0].id)));
    let env = std::fs::read_to_string(w.path(".env")).unwrap();
    assert_eq!(env, "# keep me\nOTHER=1\n", ".env is left alone");
}

#[test]
fn an_app_created_before_a_crash_is_adopted_not_duplicated() {
    let w = world(REGULAR);
    // The app exists, as if a run stopped after creating it and before writing kinde.toml.
    w.cmd()
        .args(["api", "post", "/api/v1/applications"])
        .write_stdin(r#"{"name":"Acme web","type":"reg"}"#)
        .assert()
        .success();
    let created = apps_named(&w, "Acme web");
    assert_eq!(created.len(), 1);
    let id = created[0].id.clone();

    let out = w.cmd().args(["register", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!(
            "~ adopt application `Acme web` (regular, client_id={id})"
        )),
        "{}",
        stdout(&out)
    );
    let apps = apps_named(&w, "Acme web");
    assert_eq!(apps.len(), 1, "no second app");
    assert_eq!(apps[0].redirect_urls, ["https://app.acme.example/callback"]);
    assert!(toml(&w).contains(&format!("client_id = \"{id}\"")));
    let secret = apps[0].client_secret.clone().unwrap();
    let env = std::fs::read_to_string(w.path(".env")).unwrap();
    assert!(
        env.contains(&format!("KINDE_CLIENT_SECRET={secret}")),
        "{env}"
    );
    assert!(!stdout(&out).contains(&secret) && !stderr(&out).contains(&secret));
}

#[test]
fn dry_run_creates_nothing_and_writes_no_file() {
    let w = world(REGULAR);
    let out = w.cmd().args(["register", "--dry-run"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("+ create application `Acme web` (regular)"));
    assert!(
        stdout(&out).contains("authorise application `Acme web` (<new>)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.emulator.state().writes(), 0);
    assert_eq!(toml(&w), REGULAR);
    assert_eq!(
        std::fs::read_to_string(w.path(".env")).unwrap(),
        "# keep me\nOTHER=1\n"
    );
}

#[test]
fn a_name_without_type_or_client_id_and_a_bad_type_fail_at_their_line() {
    let w = world("[app]\nname = \"Acme web\"\n");
    w.cmd()
        .args(["register", "--dry-run"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("kinde.toml:2:8"))
        .stderr(predicates::str::contains("neither `type` nor `client_id`"));
    w.write("kinde.toml", "[app]\nname = \"Acme web\"\ntype = \"m2m\"\n");
    w.cmd()
        .args(["register", "--dry-run"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("kinde.toml:3:8"))
        .stderr(predicates::str::contains("`regular` or `spa`"));
    w.write("kinde.toml", "[app]\ntype = \"spa\"\n");
    w.cmd()
        .args(["register", "--dry-run"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("kinde.toml:2:8"));
    assert_eq!(w.emulator.state().writes(), 0);
}

#[test]
fn a_configured_app_named_otherwise_is_only_a_note() {
    let w = World::new();
    w.write(
        "kinde.toml",
        &format!(
            "[app]\nclient_id = \"{}\"\nname = \"Renamed\"\ntype = \"regular\"\n",
            w.web_app_id()
        ),
    );
    let out = w.cmd().args(["register", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("in Kinde and `Renamed` in kinde.toml"),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.emulator.state().writes(), 0);
}

#[test]
fn a_failure_after_creating_keeps_the_client_id_and_a_rerun_converges() {
    use cargo_kinde::emulator::faults::{Fault, FaultKind};
    let w = world(REGULAR);
    // Adding the new app's callback URL fails (POSTs are not retried).
    w.emulator.state().inject(
        Fault::new("/api/v1/applications/", FaultKind::Status { status: 500 })
            .method("POST")
            .times(1),
    );
    let out = w.cmd().args(["register", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let apps = apps_named(&w, "Acme web");
    assert_eq!(apps.len(), 1);
    assert!(toml(&w).contains(&format!("client_id = \"{}\"", apps[0].id)));
    assert!(apps[0].redirect_urls.is_empty());

    let out = w.cmd().args(["register", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = stdout(&out);
    assert!(
        !plan.contains("create application") && !plan.contains("adopt application"),
        "{plan}"
    );
    let apps = apps_named(&w, "Acme web");
    assert_eq!(apps.len(), 1, "no second app");
    assert_eq!(apps[0].redirect_urls, ["https://app.acme.example/callback"]);
}

/// The review's B6: where the new app's secret would go is checked before the app is created,
/// so a symlinked `.env` stops the run with nothing created in Kinde and nothing written.
#[cfg(unix)]
#[test]
fn a_symlinked_env_file_stops_before_the_app_is_created() {
    let w = world(REGULAR);
    std::fs::rename(w.path(".env"), w.path("real.env")).unwrap();
    std::os::unix::fs::symlink("real.env", w.path(".env")).unwrap();
    let writes = w.emulator.state().writes();
    let before = toml(&w);
    let out = w.cmd().args(["register", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("fix what the error names"),
        "{}",
        stderr(&out)
    );
    assert!(apps_named(&w, "Acme web").is_empty(), "no app was created");
    assert_eq!(
        w.emulator.state().writes(),
        writes,
        "nothing written to Kinde"
    );
    assert_eq!(toml(&w), before);
    assert_eq!(
        std::fs::read_to_string(w.path("real.env")).unwrap(),
        "# keep me\nOTHER=1\n"
    );
}

/// The review's D4: `--json` tells a tool the created app's client id (never its secret).
#[test]
fn the_json_report_names_the_created_client_id() {
    let w = world(REGULAR);
    let out = w
        .cmd()
        .args(["--json", "register", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let apps = apps_named(&w, "Acme web");
    let notice = doc["notices"][0].as_str().unwrap();
    assert!(
        notice.contains(&format!("wrote client_id {}", apps[0].id)),
        "{doc}"
    );
    let secret = apps[0].client_secret.clone().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&secret));
}
