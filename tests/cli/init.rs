use std::process::Command;

use predicates::prelude::*;

use crate::{World, json, stderr, stdout};

/// A cargo project in the world's directory.
fn project(w: &World) {
    w.write("Cargo.toml", "[package]\nname = \"demo\" # the demo\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n");
    std::fs::create_dir_all(w.path("src")).unwrap();
    w.write("src/lib.rs", "");
}

fn init(w: &World) -> assert_cmd::Command {
    let mut cmd = w.cmd();
    cmd.env("KINDE_CLIENT_ID", w.web_app_id()).arg("init");
    cmd
}

#[test]
fn non_interactive_init_writes_every_file_and_no_secret_where_it_does_not_belong() {
    let w = World::new();
    project(&w);
    w.write(".gitignore", "/target\n# keep me\n");
    let secret = w.management_secret();
    let out = init(&w)
        .args(["--api", "Orders API=https://api.acme.example"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "+ kinde.toml created",
        "+ .env created",
        "+ .env.example created",
        "~ .gitignore updated",
        "cargo kinde register --dry-run",
        "cargo kinde smoke",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    let toml = std::fs::read_to_string(w.path("kinde.toml")).unwrap();
    assert!(toml.contains(&format!("domain = \"{}\"", w.issuer())));
    assert!(toml.contains("audience = \"https://api.acme.example\""));
    assert!(
        toml.contains("# Where Kinde may send users"),
        "comments explain each key"
    );
    let dotenv = std::fs::read_to_string(w.path(".env")).unwrap();
    assert!(dotenv.contains(&format!("KINDE_MANAGEMENT_CLIENT_SECRET={secret}")));
    assert_eq!(crate::mode(&w.path(".env")), 0o600);
    for file in ["kinde.toml", ".env.example", ".gitignore"] {
        assert!(
            !std::fs::read_to_string(w.path(file))
                .unwrap()
                .contains(&secret),
            "secret in {file}"
        );
    }
    assert!(!text.contains(&secret) && !stderr(&out).contains(&secret));
    assert_eq!(
        std::fs::read_to_string(w.path(".gitignore")).unwrap(),
        "/target\n# keep me\n# Kinde secrets and local state (cargo kinde init)\n.env\n"
    );
    // The result is a working configuration: register and smoke pass from the files alone.
    w.bare().args(["register", "--yes"]).assert().success();
    // The default suite (4 checks, the API and the callback URL registered) and init's own check.
    w.bare()
        .arg("smoke")
        .assert()
        .success()
        .stdout(predicate::str::contains("7 passed, 0 failed"));
    // A rerun changes nothing.
    let again = init(&w)
        .args(["--api", "Orders API=https://api.acme.example"])
        .output()
        .unwrap();
    assert!(again.status.success());
    assert!(
        !stdout(&again).contains("created") && !stdout(&again).contains("updated"),
        "{}",
        stdout(&again)
    );
    assert_eq!(
        std::fs::read_to_string(w.path(".gitignore"))
            .unwrap()
            .matches(".env")
            .count(),
        1
    );
}

#[test]
fn missing_values_are_listed_at_once() {
    let w = World::new();
    project(&w);
    w.bare()
        .arg("init")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing 4 value(s)"))
        .stderr(predicate::str::contains("--domain or KINDE_DOMAIN"))
        .stderr(predicate::str::contains("KINDE_MANAGEMENT_CLIENT_SECRET"))
        .stderr(predicate::str::contains(
            "--app-client-id or KINDE_CLIENT_ID",
        ));
    assert!(!w.path("kinde.toml").exists());
}

#[test]
fn an_existing_kinde_toml_is_left_alone_or_edited_keeping_comments() {
    let w = World::new();
    project(&w);
    let mine = "# Our Kinde setup: ask Sam before changing.\n[tenant]\ndomain = \"https://old.kinde.com\" # old tenant\n\n[[smoke]]\nname = \"ours\"\npath = \"/api/v1/users\"\n";
    w.write("kinde.toml", mine);
    let out = init(&w).output().unwrap();
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("! kinde.toml differs; left alone (--force overwrites)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        std::fs::read_to_string(w.path("kinde.toml")).unwrap(),
        mine,
        "never overwritten silently"
    );
    init(&w)
        .arg("--force")
        .assert()
        .success()
        .stdout(predicate::str::contains("~ kinde.toml updated"));
    let edited = std::fs::read_to_string(w.path("kinde.toml")).unwrap();
    assert!(
        edited.starts_with("# Our Kinde setup: ask Sam before changing.\n"),
        "{edited}"
    );
    assert!(
        edited.contains(&format!("domain = \"{}\" # old tenant", w.issuer())),
        "{edited}"
    );
    assert!(edited.contains("name = \"ours\""));
}

#[test]
fn json_reports_the_files_and_outside_a_workspace_is_an_error() {
    let w = World::new();
    init(&w)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not in a cargo workspace"));
    project(&w);
    let out = init(&w).arg("--json").output().unwrap();
    let doc = json(&out);
    let files: Vec<(&str, &str)> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["outcome"].as_str().unwrap()))
        .collect();
    assert!(
        files.contains(&("kinde.toml", "created")) && files.contains(&(".env", "created")),
        "{files:?}"
    );
}

#[test]
fn the_generated_xtask_compiles_and_runs_smoke_against_the_emulator() {
    let w = World::new();
    project(&w);
    let root = env!("CARGO_MANIFEST_DIR");
    init(&w)
        .args(["--xtask", "--ci", "github", "--xtask-path", root])
        .assert()
        .success();
    let manifest = std::fs::read_to_string(w.path("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("name = \"demo\" # the demo")
            && manifest.contains("members = [\".\", \"xtask\"]"),
        "{manifest}"
    );
    let workflow = std::fs::read_to_string(w.path(".github/workflows/kinde-smoke.yml")).unwrap();
    assert!(
        workflow.contains("cargo xtask kinde smoke")
            && workflow.contains("${{ secrets.KINDE_MANAGEMENT_CLIENT_SECRET }}"),
        "{workflow}"
    );
    // Same dependency versions as this repository, and a target directory of its own (the
    // generated crate is also called xtask).
    std::fs::copy(format!("{root}/Cargo.lock"), w.path("Cargo.lock")).unwrap();
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["xtask", "kinde", "smoke"])
        .current_dir(w.dir.path())
        .env("CARGO_TARGET_DIR", format!("{root}/target/init-xtask"))
        .env("CARGO_KINDE_CACHE_DIR", w.cache.path())
        .env_remove("KINDE_DOMAIN")
        .env_remove("KINDE_MANAGEMENT_CLIENT_ID")
        .env_remove("KINDE_MANAGEMENT_CLIENT_SECRET")
        .env("CI", "true")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("6 passed, 0 failed"),
        "{}",
        stdout(&out)
    );
}

#[cfg(unix)]
#[test]
fn interactive_init_asks_checks_live_and_re_asks_a_bad_domain() {
    use crate::tty::Terminal;
    let w = World::new();
    project(&w);
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("cargo-kinde"));
    cmd.args(["kinde", "init"])
        .current_dir(w.dir.path())
        .env_clear();
    for var in [
        "PATH",
        "HOME",
        "CARGO",
        "RUSTUP_HOME",
        "CARGO_HOME",
        "RUSTUP_TOOLCHAIN",
    ] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    cmd.env("TERM", "xterm")
        .env("CARGO_KINDE_CACHE_DIR", w.cache.path());
    let mut term = Terminal::spawn(cmd);
    term.expect("Kinde domain");
    term.send_line("http://acme.kinde.example");
    term.expect("plain http");
    term.expect("Kinde domain");
    term.send_line(&w.issuer());
    term.expect("answers like a Kinde issuer");
    term.expect("Management (M2M) app client id");
    term.send_line(&w.management_id());
    term.expect("client secret");
    term.send_line("wrong-secret");
    term.expect("invalid_client");
    // The id is offered again as typed: Enter keeps it.
    term.expect("Management (M2M) app client id");
    term.expect(&w.management_id());
    term.send_line("");
    term.expect("client secret");
    term.send_line(&w.management_secret());
    term.expect("can get a Management API token");
    term.expect("Application your users sign in to");
    term.expect("(Back-end web app, ");
    term.send_line("");
    term.expect("the app is `");
    term.expect("a Back-end web app");
    // A back-end app has a secret: asked for, hidden, and kept in .env.
    term.expect("The app's client secret");
    let app_secret = w.web_app().client_secret.unwrap();
    term.send_line(&app_secret);
    term.expect("Callback URL of your app");
    term.send_line("");
    term.expect("Logout URL");
    term.send_line("");
    term.expect("Register an API");
    term.send_line("n");
    let (code, seen) = term.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(
        !seen.contains(&w.management_secret()) && !seen.contains(&app_secret),
        "a secret was echoed"
    );
    assert!(!seen.contains("(reg"), "no jargon: {seen}");
    assert!(
        std::fs::read_to_string(w.path(".env"))
            .unwrap()
            .contains(&format!("KINDE_CLIENT_SECRET={app_secret}\n"))
    );
    let toml = std::fs::read_to_string(w.path("kinde.toml")).unwrap();
    assert!(
        toml.contains(&format!("client_id = \"{}\"", w.web_app_id())),
        "the picked app: {toml}"
    );
    assert!(
        std::fs::read_to_string(w.path(".env"))
            .unwrap()
            .contains(&w.management_secret())
    );
}

#[test]
fn an_api_name_with_quotes_is_escaped_in_kinde_toml() {
    let w = World::new();
    project(&w);
    init(&w)
        .args(["--api", r#"Orders "v2" \ #1=https://api.acme.example"#])
        .assert()
        .success();
    let out = w.cmd().args(["--json", "config"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let api = &json(&out)["values"]["apis[0]"]["value"];
    assert_eq!(api["name"], r#"Orders "v2" \ #1"#);
    assert_eq!(api["audience"], "https://api.acme.example");
}

#[test]
fn the_generated_kinde_toml_keeps_the_default_smoke_suite_and_adds_its_check() {
    let w = World::new();
    project(&w);
    init(&w).assert().success();
    let toml = std::fs::read_to_string(w.path("kinde.toml")).unwrap();
    assert!(toml.contains("[smoke_suite]\ndefaults = true\n"), "{toml}");
    w.bare().args(["register", "--yes"]).assert().success();
    let out = w.bare().args(["smoke", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let names: Vec<String> = json(&out)["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    for name in [
        "discovery document",
        "JWKS",
        "M2M token",
        "get users",
        "callback URL http://localhost:3000/api/auth/kinde_callback registered",
        "list applications",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} not run: {names:?}");
    }
}

#[test]
fn a_rerun_starts_from_kinde_toml_and_writes_the_flags_into_it() {
    let w = World::new();
    project(&w);
    init(&w).assert().success();
    // Only the secret outside kinde.toml: a rerun needs no flag.
    w.write(
        ".env",
        &format!("KINDE_MANAGEMENT_CLIENT_SECRET={}\n", w.management_secret()),
    );
    let rerun = || {
        let mut cmd = w.bare();
        cmd.args(["--no-input", "init", "--force"]);
        cmd
    };
    let out = rerun().output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("= kinde.toml unchanged"),
        "{}",
        stdout(&out)
    );
    let out = rerun()
        .args(["--callback-url", "http://localhost:9999/cb"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("~ kinde.toml updated"),
        "{}",
        stdout(&out)
    );
    let toml = std::fs::read_to_string(w.path("kinde.toml")).unwrap();
    assert!(
        toml.contains("callback_urls = [\"http://localhost:9999/cb\"]"),
        "{toml}"
    );
    assert!(
        toml.contains("# Where Kinde may send users"),
        "comments kept"
    );
    // The app id was checked against the tenant, and its name said.
    assert!(
        stderr(&out).contains("a Back-end web app"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_app_client_id_not_in_the_tenant_is_refused_and_unchecked_ones_are_said() {
    let w = World::new();
    project(&w);
    w.cmd()
        .args([
            "init",
            "--app-client-id",
            "0123456789abcdef0123456789abcdef",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`0123456789abcdef0123456789abcdef` (--app-client-id",
        ))
        .stderr(predicate::str::contains("Back-end web"));
    assert!(!w.path("kinde.toml").exists());
    // Credentials that do not work: the id cannot be checked, and init says so.
    let out = init(&w)
        .env("KINDE_MANAGEMENT_CLIENT_SECRET", "wrong")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("was not checked against the tenant"),
        "{}",
        stderr(&out)
    );
}

/// `cargo-kinde kinde init ARGS` on a pseudo-terminal, with only the world's cache in its
/// environment.
#[cfg(unix)]
fn on_a_terminal(w: &World, args: &[&str]) -> crate::tty::Terminal {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("cargo-kinde"));
    cmd.args(["kinde", "init"])
        .args(args)
        .current_dir(w.dir.path())
        .env_clear();
    for var in [
        "PATH",
        "HOME",
        "CARGO",
        "RUSTUP_HOME",
        "CARGO_HOME",
        "RUSTUP_TOOLCHAIN",
    ] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    cmd.env("TERM", "xterm")
        .env("CARGO_KINDE_CACHE_DIR", w.cache.path())
        .env("CARGO_KINDE_RETRY_DELAY_MS", "5");
    crate::tty::Terminal::spawn(cmd)
}

#[cfg(unix)]
#[test]
fn interactive_rerun_asks_only_what_is_missing_and_shows_diffs_with_their_tables() {
    let w = World::new();
    project(&w);
    let toml = format!(
        "[tenant]\ndomain = \"{}\"\n\n[management]\nclient_id = \"{}\"\n\n[app]\nclient_id = \"stale\" # ours\ncallback_urls = [\"http://localhost:3000/cb\"]\nlogout_urls = [\"http://localhost:3000\"]\n",
        w.issuer(),
        w.management_id()
    );
    w.write("kinde.toml", &toml);
    let app_secret = w.web_app().client_secret.unwrap();
    w.write(
        ".env",
        &format!(
            "KINDE_MANAGEMENT_CLIENT_SECRET={}\nKINDE_CLIENT_ID=stale\nKINDE_CLIENT_SECRET={app_secret}\n",
            w.management_secret()
        ),
    );
    let mut term = on_a_terminal(&w, &["--app-client-id", &w.web_app_id()]);
    term.expect("answers like a Kinde issuer");
    term.expect("can get a Management API token");
    term.expect("a Back-end web app");
    term.expect("Register an API");
    term.send_line("y");
    term.expect("API name");
    term.send_line("Orders API");
    term.expect("Audience");
    term.send_line("https://orders.example");
    // `n` and Enter answer this question only: the Enter used to answer the next one.
    term.expect("Another API?");
    term.send_line("n");
    term.expect("kinde.toml differs");
    term.expect("Overwrite kinde.toml?");
    term.send_line("y");
    term.expect(".env differs");
    term.expect("Overwrite .env?");
    term.send_line("y");
    let (code, seen) = term.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(
        !seen.contains("Callback URL"),
        "kinde.toml has them: {seen}"
    );
    assert!(!seen.contains("Logout URL"), "kinde.toml has them: {seen}");
    assert!(!seen.contains(&app_secret) && !seen.contains(&w.management_secret()));
    assert!(
        seen.contains(" @@ [app]"),
        "the table of the change: {seen}"
    );
    assert!(
        seen.contains("+[[apis]]") && seen.contains("+name = \"Orders API\""),
        "{seen}"
    );
    assert!(seen.contains("KINDE_CLIENT_ID=*** (changed)"), "{seen}");
    assert!(seen.contains("~ kinde.toml updated"), "{seen}");
    let toml = std::fs::read_to_string(w.path("kinde.toml")).unwrap();
    assert!(
        toml.contains(&format!("client_id = \"{}\" # ours", w.web_app_id()))
            && toml.contains("audience = \"https://orders.example\"")
            && toml.contains("callback_urls = [\"http://localhost:3000/cb\"]"),
        "{toml}"
    );
}

#[cfg(unix)]
#[test]
fn an_unreachable_domain_can_be_kept() {
    let w = World::new();
    project(&w);
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut term = on_a_terminal(&w, &[]);
    term.expect("Kinde domain");
    term.send_line(&format!("http://127.0.0.1:{port}"));
    term.expect("The domain did not answer");
    term.expect("Use it anyway");
    // The second choice.
    term.send_line("\u{1b}[B");
    term.expect("Management (M2M) app client id");
    term.send_line("m2m-id");
    term.expect("client secret");
    term.send_line("m2m-secret");
    term.expect("Application client id");
    term.send_line("app-id");
    term.expect("Callback URL of your app");
    term.send_line("");
    term.expect("Logout URL");
    term.send_line("");
    term.expect("Register an API");
    term.send_line("n");
    let (code, seen) = term.finish();
    assert_eq!(code, 0, "{seen}");
    let toml = std::fs::read_to_string(w.path("kinde.toml")).unwrap();
    assert!(
        toml.contains(&format!("domain = \"http://127.0.0.1:{port}\"")),
        "{toml}"
    );
}

#[test]
fn init_emulator_in_a_fresh_project_creates_its_state_directory() {
    let w = World::new();
    project(&w);
    let out = w.bare().args(["--emulator", "init"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(w.path(".kinde/emulator.json").is_file());
    assert!(
        !stderr(&out).contains("not checked"),
        "the emulator's own values need no check: {}",
        stderr(&out)
    );
}
