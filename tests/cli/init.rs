use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use cargo_kinde::scaffold::ci::{self, Ci, Pipeline, Source};

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
        "/target\n# keep me\n# Kinde secrets and local state (cargo kinde init)\n.env\n.env.*\n!.env.example\n"
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
            .matches(".env.*")
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
        .args(["--xtask", "--ci", "github", "--cargo-kinde-path", root])
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
    term.send_secret("wrong-secret");
    term.expect("invalid_client");
    // The id is offered again as typed: Enter keeps it.
    term.expect("Management (M2M) app client id");
    term.expect(&w.management_id());
    term.send_line("");
    term.expect("client secret");
    term.send_secret(&w.management_secret());
    term.expect("can get a Management API token");
    term.expect("Application your users sign in to");
    term.expect("(Back-end web app, ");
    term.send_line("");
    term.expect("the app is `");
    term.expect("a Back-end web app");
    // A back-end app has a secret: asked for, hidden, and kept in .env.
    term.expect("The app's client secret");
    let app_secret = w.web_app().client_secret.unwrap();
    term.send_secret(&app_secret);
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
    term.send_secret("m2m-secret");
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

// ---- CI files: every variant init can write, linted ----

/// The linters' directory: `CARGO_KINDE_LINTERS` (set by `cargo xtask ci`, which installs them;
/// then every tool must be there), else `target/linters/bin` when `cargo xtask linters` ran.
/// Without them the test says loudly that it skipped (on the terminal, past libtest's capture).
fn linters(test: &str) -> Option<PathBuf> {
    const TOOLS: [&str; 3] = ["actionlint", "shellcheck", "check-jsonschema"];
    if let Some(dir) = std::env::var_os("CARGO_KINDE_LINTERS") {
        let dir = PathBuf::from(dir);
        for tool in TOOLS {
            assert!(
                dir.join(tool).is_file(),
                "CARGO_KINDE_LINTERS={} has no {tool}",
                dir.display()
            );
        }
        return Some(dir);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/linters/bin");
    if TOOLS.iter().all(|t| dir.join(t).is_file()) {
        return Some(dir);
    }
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED {test}: the CI-file linters are not installed (run `cargo xtask linters`; `cargo xtask ci` does) ***\n"
    );
    None
}

/// Findings of the linter for `ci` on `file` (empty when clean).
fn lint(linters: &Path, ci: Ci, file: &Path) -> String {
    let out = match ci {
        // actionlint runs shellcheck on every `run:` script when given it.
        Ci::Github => Command::new(linters.join("actionlint"))
            .arg("-shellcheck")
            .arg(linters.join("shellcheck"))
            .arg("-no-color")
            .arg(file)
            .output(),
        Ci::Gitlab => Command::new(linters.join("check-jsonschema"))
            .args(["--builtin-schema", "vendor.gitlab-ci"])
            .arg(file)
            .output(),
    }
    .unwrap();
    if out.status.success() {
        String::new()
    } else {
        format!("{}{}", stdout(&out), stderr(&out))
    }
}

/// Every source of cargo-kinde init can be told, awkward values included.
fn sources() -> Vec<Source> {
    vec![
        Source::released(),
        Source::Version("0.9.0-beta.1".into()),
        Source::Git {
            url: "https://github.com/acme/cargo-kinde".into(),
            rev: None,
        },
        Source::Git {
            url: "https://git.acme.example/a b: c #d".into(),
            rev: Some("it's".into()),
        },
        Source::Path("vendor/cargo-kinde".into()),
        Source::Path("/opt/src/cargo kinde".into()),
    ]
}

/// Every pipeline init can render for a source: with and without xtask, against a tenant or the
/// emulator, at the repository's top or in a subdirectory, on an awkward default branch.
fn pipelines(source: &Source) -> Vec<Pipeline> {
    let mut all = Vec::new();
    for xtask in [false, true] {
        for emulator in [false, true] {
            for (dir, branch) in [("", "main"), ("services/back end", "true")] {
                all.push(Pipeline {
                    emulator,
                    dir: dir.into(),
                    branch: branch.into(),
                    ..Pipeline::new(xtask, source.clone())
                });
            }
        }
    }
    all
}

/// Render each variant of `ci` (every pipeline, every source) and lint it: 0 findings.
fn every_variant_is_lint_clean(ci: Ci, test: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut rendered = Vec::new();
    for (i, source) in sources().iter().enumerate() {
        for (j, pipeline) in pipelines(source).iter().enumerate() {
            let (path, text) = ci::render(ci, pipeline).unwrap();
            let xtask = pipeline.xtask;
            assert!(
                text.contains(if xtask {
                    "cargo xtask kinde smoke"
                } else {
                    "cargo kinde smoke"
                }),
                "{text}"
            );
            assert_eq!(
                text.contains("secrets.") || text.contains("KINDE_MANAGEMENT_CLIENT_SECRET"),
                !pipeline.emulator,
                "{text}"
            );
            // As written, or inside a YAML double-quoted (JSON) string.
            let install = source.install_args();
            let quoted = serde_json::to_string(&install).unwrap();
            assert!(
                xtask || text.contains(&install) || text.contains(&quoted[1..quoted.len() - 1]),
                "{install} not in {text}"
            );
            // Linters read the file by its name (actionlint: a workflow directory).
            let file = dir.path().join(format!("{i}-{j}")).join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, &text).unwrap();
            rendered.push(file);
        }
    }
    assert_eq!(rendered.len(), 48);
    let Some(linters) = linters(test) else {
        return;
    };
    for file in rendered {
        let findings = lint(&linters, ci, &file);
        assert!(
            findings.is_empty(),
            "{}:\n{findings}\n{}",
            file.display(),
            std::fs::read_to_string(&file).unwrap()
        );
    }
}

#[test]
fn every_github_workflow_variant_passes_actionlint_and_shellcheck() {
    every_variant_is_lint_clean(Ci::Github, "every_github_workflow_variant");
}

#[test]
fn every_gitlab_ci_variant_passes_the_gitlab_schema() {
    every_variant_is_lint_clean(Ci::Gitlab, "every_gitlab_ci_variant");
}

/// The lint is worth something: the workflow init wrote before (node20 actions) and a broken
/// GitLab file are findings, and so is a shell mistake in a `run:` script.
#[test]
fn the_linters_find_what_they_are_run_for() {
    let Some(linters) = linters("the_linters_find_what_they_are_run_for") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, current) = ci::render(Ci::Github, &Pipeline::new(false, Source::released())).unwrap();
    let file = dir.path().join(".github/workflows/kinde-smoke.yml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        current.replace("actions/checkout@v7", "actions/checkout@v4"),
    )
    .unwrap();
    assert!(lint(&linters, Ci::Github, &file).contains("node20"));
    std::fs::write(&file, current.replace("--format junit", "--format $FORMAT")).unwrap();
    assert!(lint(&linters, Ci::Github, &file).contains("shellcheck"));
    let (_, gitlab) = ci::render(Ci::Gitlab, &Pipeline::new(false, Source::released())).unwrap();
    let file = dir.path().join(".gitlab-ci.yml");
    std::fs::write(&file, gitlab.replace("when: always", "when: sometimes")).unwrap();
    assert!(!lint(&linters, Ci::Gitlab, &file).is_empty());
}

#[test]
fn init_ci_gitlab_writes_the_pipeline_with_the_junit_report_and_a_gated_deploy() {
    let w = World::new();
    project(&w);
    init(&w)
        .args(["--ci", "gitlab", "--cargo-kinde-version", "0.9.0"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "+ .gitlab/kinde-smoke.yml created",
        ))
        .stdout(predicate::str::contains("+ .gitlab-ci.yml created"));
    let pipeline = std::fs::read_to_string(w.path(".gitlab/kinde-smoke.yml")).unwrap();
    for line in [
        r#"cargo install cargo-kinde --locked --root \"$CI_PROJECT_DIR/.kinde-tools\" --version 0.9.0"#,
        "cargo kinde smoke --format junit --output kinde-smoke.xml",
        "      junit: \"kinde-*.xml\"",
        "    when: always",
        "#   needs: [kinde-smoke]",
        "\n    - cargo kinde register --check --junit kinde-drift.xml || { rc=$?; [ \"$rc\" = 1 ] && [ \"$CI_COMMIT_BRANCH\" != \"$CI_DEFAULT_BRANCH\" ] && echo",
        // The review's finding 8: protected variables, the registry cached, a changing key.
        "untick \"Protect",
        "CARGO_HOME: $CI_PROJECT_DIR/.cargo",
        "      - .cargo/registry/",
        "      files:\n        - \".gitlab/kinde-smoke.yml\"",
    ] {
        assert!(pipeline.contains(line), "{line} missing from:\n{pipeline}");
    }
    assert!(
        !pipeline.contains("target/"),
        "no build to cache: {pipeline}"
    );
    let (_, expected) = ci::render(
        Ci::Gitlab,
        &Pipeline::new(false, Source::Version("0.9.0".into())),
    )
    .unwrap();
    assert_eq!(
        pipeline, expected,
        "init writes what the linted render gives"
    );
    let main = std::fs::read_to_string(w.path(".gitlab-ci.yml")).unwrap();
    assert!(
        main.contains("include:\n  - local: .gitlab/kinde-smoke.yml\n"),
        "{main}"
    );
    if let Some(linters) = linters("init_ci_gitlab_writes_the_pipeline") {
        let findings = lint(&linters, Ci::Gitlab, &w.path(".gitlab-ci.yml"));
        assert!(findings.is_empty(), "{findings}");
    }
}

/// The review's blocker 2: the user's `.gitlab-ci.yml` keeps its jobs; the smoke job goes to its
/// own file, included by a line appended (no confirmation, no --force needed).
#[test]
fn init_ci_gitlab_keeps_the_users_pipeline_and_includes_the_smoke_job() {
    let w = World::new();
    project(&w);
    let mine = "stages: [build, test]\n\nbuild:\n  stage: build\n  script:\n    - make\n";
    w.write(".gitlab-ci.yml", mine);
    init(&w)
        .args(["--ci", "gitlab"])
        .assert()
        .success()
        .stdout(predicate::str::contains("~ .gitlab-ci.yml updated"));
    let main = std::fs::read_to_string(w.path(".gitlab-ci.yml")).unwrap();
    assert!(main.starts_with(mine), "{main}");
    assert!(
        main.ends_with("include:\n  - local: .gitlab/kinde-smoke.yml\n"),
        "{main}"
    );
    assert!(w.path(".gitlab/kinde-smoke.yml").is_file());
    // Rerun: nothing changes; a file with an include of its own is left alone, with the line to add.
    init(&w)
        .args(["--ci", "gitlab"])
        .assert()
        .success()
        .stdout(predicate::str::contains("= .gitlab-ci.yml unchanged"));
    let theirs = "include:\n  - template: Security/SAST.gitlab-ci.yml\n";
    w.write(".gitlab-ci.yml", theirs);
    init(&w)
        .args(["--ci", "gitlab", "--force"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "add `- local: .gitlab/kinde-smoke.yml` to it",
        ));
    assert_eq!(
        std::fs::read_to_string(w.path(".gitlab-ci.yml")).unwrap(),
        theirs
    );
}

/// The review's blocker 1: the emulator's tenant exists in CI only when the job starts it; no
/// secrets are asked for.
#[test]
fn init_emulator_ci_runs_smoke_with_the_emulator_and_no_secrets() {
    let w = World::new();
    project(&w);
    for (ci, file) in [
        ("github", ".github/workflows/kinde-smoke.yml"),
        ("gitlab", ".gitlab/kinde-smoke.yml"),
    ] {
        let out = w
            .bare()
            .args(["--emulator", "init", "--ci", ci, "--cargo-kinde-path", "."])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let text = std::fs::read_to_string(w.path(file)).unwrap();
        assert!(
            text.contains("cargo kinde smoke --emulator --format junit --output kinde-smoke.xml"),
            "{text}"
        );
        assert!(!text.contains("KINDE_MANAGEMENT_CLIENT_SECRET"), "{text}");
        assert!(!text.contains("secrets."), "{text}");
    }
}

/// A git repository whose default branch (origin's HEAD) is `trunk`, with the cargo workspace
/// in `backend/`.
fn monorepo(w: &World) {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(w.path(""))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    };
    git(&["init", "-q"]);
    git(&[
        "symbolic-ref",
        "refs/remotes/origin/HEAD",
        "refs/remotes/origin/trunk",
    ]);
    std::fs::create_dir_all(w.path("backend/src")).unwrap();
    w.write(
        "backend/Cargo.toml",
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    w.write("backend/src/lib.rs", "");
}

/// The review's finding 4 and nit 10: in a monorepo the CI files go to the repository's top
/// level, run in the workspace's directory, on the repository's default branch.
#[test]
fn init_ci_in_a_monorepo_writes_at_the_top_level_for_the_workspace_directory() {
    let w = World::new();
    monorepo(&w);
    init(&w)
        .current_dir(w.path("backend"))
        .args(["--ci", "github", "--cargo-kinde-version", "0.9.0"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "+ ../.github/workflows/kinde-smoke.yml created",
        ));
    assert!(!w.path("backend/.github").exists());
    let workflow = std::fs::read_to_string(w.path(".github/workflows/kinde-smoke.yml")).unwrap();
    for line in [
        "branches: [trunk]",
        "working-directory: backend",
        "workspaces: backend",
        "path: \"backend/kinde-*.xml\"",
        "report_paths: \"backend/kinde-*.xml\"",
        "refs/heads/trunk",
    ] {
        assert!(workflow.contains(line), "{line} missing from:\n{workflow}");
    }
    init(&w)
        .current_dir(w.path("backend"))
        .args(["--ci", "gitlab", "--cargo-kinde-version", "0.9.0"])
        .assert()
        .success();
    assert!(!w.path("backend/.gitlab-ci.yml").exists());
    let job = std::fs::read_to_string(w.path(".gitlab/kinde-smoke.yml")).unwrap();
    for line in ["- cd backend", "junit: \"backend/kinde-*.xml\""] {
        assert!(job.contains(line), "{line} missing from:\n{job}");
    }
    assert!(w.path(".gitlab-ci.yml").is_file());
}

/// The review's finding 3 and nit 10: pull requests without the secrets (forks, Dependabot)
/// skip the smoke step and say so in the job summary; the report steps run unless cancelled;
/// the checkout keeps no credentials; the job has a time limit.
#[test]
fn the_github_workflow_keeps_and_shows_the_report_and_gates_a_deploy() {
    let (_, text) = ci::render(Ci::Github, &Pipeline::new(false, Source::released())).unwrap();
    let after = |step: &str| text.split(step).nth(1).unwrap_or_default().to_string();
    let unless_cancelled = "\n        if: ${{ !cancelled() && steps.smoke.outcome != 'skipped' }}";
    assert!(
        after("name: Keep the JUnit report").starts_with(unless_cancelled),
        "{text}"
    );
    assert!(
        after("name: Show the results in the pull request").starts_with(unless_cancelled),
        "{text}"
    );
    assert!(text.contains("#   needs: smoke"), "{text}");
    assert!(text.contains(&format!("--version {}", env!("CARGO_PKG_VERSION"))));
    // Secrets reach the smoke step only, not the third-party reporter action; the job sees only
    // whether the secret is there.
    assert!(
        after("name: Smoke-test Kinde").contains(
            "KINDE_MANAGEMENT_CLIENT_SECRET: ${{ secrets.KINDE_MANAGEMENT_CLIENT_SECRET }}"
        )
    );
    assert!(!after("name: Keep the JUnit report").contains("secrets."));
    assert!(text.contains(
        "RUN_KINDE_SMOKE: ${{ github.event_name != 'pull_request' || secrets.KINDE_MANAGEMENT_CLIENT_SECRET != '' }}"
    ));
    assert!(
        after("name: Smoke-test Kinde")
            .starts_with("\n        id: smoke\n        if: env.RUN_KINDE_SMOKE == 'true'"),
        "{text}"
    );
    let skip = after("name: Say why the smoke test is skipped");
    assert!(
        skip.starts_with("\n        if: env.RUN_KINDE_SMOKE != 'true'"),
        "{text}"
    );
    assert!(skip.contains(">> \"$GITHUB_STEP_SUMMARY\""), "{text}");
    assert!(text.contains("persist-credentials: false"), "{text}");
    assert!(text.contains("timeout-minutes:"), "{text}");
}

/// The review's finding 5: a version cargo cannot read is refused before anything is written
/// (it broke the workspace's `cargo metadata`).
#[test]
fn a_cargo_kinde_version_that_is_not_a_version_is_refused() {
    let w = World::new();
    project(&w);
    init(&w)
        .args(["--xtask", "--cargo-kinde-version", "latest"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--cargo-kinde-version `latest` is not a version requirement",
        ));
    assert!(!w.path("xtask").exists());
    assert!(!w.path("kinde.toml").exists());
    init(&w)
        .args(["--ci", "github", "--cargo-kinde-version", "^0.1"])
        .assert()
        .success();
}

/// The review's finding 6: `../elsewhere` is outside the workspace even though it starts with
/// the workspace's path before `..` is resolved.
#[test]
fn a_cargo_kinde_path_outside_the_workspace_through_dotdot_is_outside() {
    let w = World::new();
    std::fs::create_dir_all(w.path("proj/src")).unwrap();
    std::fs::create_dir_all(w.path("other/ck")).unwrap();
    w.write(
        "proj/Cargo.toml",
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    w.write("proj/src/lib.rs", "");
    w.write("other/ck/Cargo.toml", "[package]\nname = \"cargo-kinde\"\n");
    let out = init(&w)
        .current_dir(w.path("proj"))
        .args(["--ci", "github", "--cargo-kinde-path", "../other/ck"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is outside the workspace"),
        "{}",
        stderr(&out)
    );
    let workflow =
        std::fs::read_to_string(w.path("proj/.github/workflows/kinde-smoke.yml")).unwrap();
    let outside = w.path("other/ck").canonicalize().unwrap();
    assert!(
        workflow.contains(&format!("--path {}", outside.display())),
        "{workflow}"
    );
    assert!(!workflow.contains("../other"), "{workflow}");
}

/// The review's findings 15 and 19: `next` holds commands only; the default source is said to
/// be unpublished, with the flags that work.
#[test]
fn init_json_next_holds_commands_and_the_unpublished_default_is_said() {
    let w = World::new();
    project(&w);
    let out = w
        .bare()
        .args(["--emulator", "init", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json(&out)["next"][0],
        "cargo kinde emulator --state .kinde/emulator.json"
    );
    init(&w)
        .args(["--ci", "github"])
        .assert()
        .success()
        .stderr(predicate::str::contains("is not on crates.io yet"))
        .stderr(predicate::str::contains("--cargo-kinde-path DIR"));
}

#[test]
fn init_flags_that_do_nothing_in_a_mode_are_refused_by_clap() {
    let w = World::new();
    project(&w);
    for args in [
        // No xtask and no CI file: nothing would use the source.
        &["--cargo-kinde-version", "1.0.0"][..],
        &["--cargo-kinde-git", "https://github.com/acme/cargo-kinde"][..],
        &["--cargo-kinde-path", "."][..],
        // A revision without a repository.
        &["--xtask", "--cargo-kinde-rev", "v1"][..],
        // Two sources.
        &[
            "--xtask",
            "--cargo-kinde-version",
            "1.0.0",
            "--cargo-kinde-git",
            "https://x.example/r",
        ][..],
    ] {
        let out = init(&w).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("--cargo-kinde"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert!(!w.path("kinde.toml").exists());
    // Each source is used in every mode it is accepted in: the CI install without an xtask...
    init(&w)
        .args([
            "--ci",
            "github",
            "--cargo-kinde-git",
            "https://github.com/acme/cargo-kinde",
            "--cargo-kinde-rev",
            "v1",
        ])
        .assert()
        .success();
    let workflow = std::fs::read_to_string(w.path(".github/workflows/kinde-smoke.yml")).unwrap();
    assert!(
        workflow.contains(
            "cargo install cargo-kinde --locked --git https://github.com/acme/cargo-kinde --rev v1"
        ),
        "{workflow}"
    );
    init(&w)
        .args(["--xtask", "--cargo-kinde-path", "/nonexistent/ck"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no Cargo.toml there"));
    // ... and the xtask's dependency, a directory inside the workspace kept relative to it.
    std::fs::create_dir_all(w.path("vendor/ck")).unwrap();
    w.write(
        "vendor/ck/Cargo.toml",
        "[package]\nname = \"cargo-kinde\"\n",
    );
    init(&w)
        .current_dir(w.dir.path())
        .args(["--xtask", "--cargo-kinde-path", "vendor/ck"])
        .assert()
        .success();
    let manifest = std::fs::read_to_string(w.path("xtask/Cargo.toml")).unwrap();
    assert!(
        manifest.contains(r#"cargo-kinde = { path = "../vendor/ck" }"#),
        "{manifest}"
    );
}

#[test]
fn init_ignores_per_profile_env_files_but_not_env_example() {
    let w = World::new();
    project(&w);
    w.write(".gitignore", "/target\n!.env.sample\n");
    init(&w).assert().success();
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(w.dir.path())
            .output()
            .unwrap()
    };
    assert!(git(&["init", "-q"]).status.success());
    let ignored = |name: &str| git(&["check-ignore", "-q", name]).status.success();
    for name in [".env", ".env.staging", ".env.prod"] {
        assert!(ignored(name), "{name} must be ignored");
    }
    for name in [".env.example", ".env.sample", "kinde.toml"] {
        assert!(!ignored(name), "{name} must not be ignored");
    }
}

#[test]
fn init_quiet_prints_only_errors() {
    let w = World::new();
    project(&w);
    let out = init(&w)
        .args(["--quiet", "--ci", "github"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!((stdout(&out).as_str(), stderr(&out).as_str()), ("", ""));
    assert!(w.path(".github/workflows/kinde-smoke.yml").is_file());
    // A file that differs is left alone, silently; an error still shows.
    w.write(
        "kinde.toml",
        "[tenant]\ndomain = \"https://old.kinde.com\"\n",
    );
    let out = init(&w).arg("--quiet").output().unwrap();
    assert_eq!((stdout(&out).as_str(), stderr(&out).as_str()), ("", ""));
    let elsewhere = tempfile::tempdir().unwrap();
    init(&w)
        .current_dir(elsewhere.path())
        .arg("--quiet")
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("error: not in a cargo workspace"));
}

// ---- every `help:` line init prints works when followed ----

#[test]
fn help_missing_values_try_init_emulator_works() {
    let w = World::new();
    project(&w);
    let out = w.bare().arg("init").output().unwrap();
    assert!(
        stderr(&out).contains("try `cargo kinde init --emulator`"),
        "{}",
        stderr(&out)
    );
    w.bare().args(["init", "--emulator"]).assert().success();
    assert!(w.path("kinde.toml").is_file());
}

#[test]
fn help_not_in_a_workspace_pass_manifest_path_works() {
    let w = World::new();
    project(&w);
    let elsewhere = tempfile::tempdir().unwrap();
    let out = init(&w).current_dir(elsewhere.path()).output().unwrap();
    assert!(
        stderr(&out).contains("--manifest-path path/to/Cargo.toml"),
        "{}",
        stderr(&out)
    );
    init(&w)
        .current_dir(elsewhere.path())
        .arg("--manifest-path")
        .arg(w.path("Cargo.toml"))
        .assert()
        .success();
    assert!(w.path("kinde.toml").is_file());
}

#[test]
fn help_unknown_app_client_id_use_one_of_works() {
    let w = World::new();
    project(&w);
    let out = w
        .cmd()
        .args([
            "init",
            "--app-client-id",
            "0123456789abcdef0123456789abcdef",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    // `help: use one of: NAME (KIND, ID); ...`: take the first id offered.
    let offered = err
        .split("use one of: ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|first| first.rsplit(", ").next())
        .unwrap_or_else(|| panic!("no `use one of` in {err}"))
        .trim()
        .to_string();
    w.cmd()
        .args(["init", "--app-client-id", &offered])
        .assert()
        .success();
    let toml = std::fs::read_to_string(w.path("kinde.toml")).unwrap();
    assert!(
        toml.contains(&format!("client_id = \"{offered}\"")),
        "{toml}"
    );
}

#[test]
fn help_invalid_kinde_toml_move_it_away_works() {
    let w = World::new();
    project(&w);
    w.write("kinde.toml", "[tenant\n");
    let out = init(&w).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // The error points at the spot; its hint (the README's kinde.toml reference) is no command,
    // and the way out, moving the file away, works.
    assert!(stderr(&out).contains("kinde.toml:1:8"), "{}", stderr(&out));
    std::fs::rename(w.path("kinde.toml"), w.path("kinde.toml.bak")).unwrap();
    init(&w).assert().success();
    assert!(w.path("kinde.toml").is_file());
}

#[test]
fn init_refuses_config_it_would_ignore_and_the_hint_works() {
    let w = World::new();
    project(&w);
    let out = init(&w).args(["--config", "other.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("leave out --config"),
        "{}",
        stderr(&out)
    );
    assert!(!w.path("other.toml").exists() && !w.path("kinde.toml").exists());
    let elsewhere = tempfile::tempdir().unwrap();
    init(&w)
        .current_dir(elsewhere.path())
        .arg("--manifest-path")
        .arg(w.path("Cargo.toml"))
        .assert()
        .success();
    assert!(w.path("kinde.toml").is_file());
}

/// Issue 13: both pipelines run the drift check against a tenant (with the secrets, after the
/// smoke step, even when a smoke check failed), and only mention it against the emulator.
#[test]
fn the_ci_files_check_the_tenant_for_drift() {
    for xtask in [false, true] {
        let kinde = if xtask {
            "cargo xtask kinde"
        } else {
            "cargo kinde"
        };
        let tenant = Pipeline::new(xtask, Source::released());
        let (_, github) = ci::render(Ci::Github, &tenant).unwrap();
        let drift = github
            .split("name: Check the tenant against kinde.toml (drift)")
            .nth(1)
            .unwrap_or_else(|| panic!("no drift step: {github}"));
        assert!(
            drift.contains("if: ${{ !cancelled() && env.RUN_KINDE_SMOKE == 'true' }}"),
            "{github}"
        );
        assert!(drift.contains("secrets.KINDE_MANAGEMENT_CLIENT_SECRET"));
        // A pull request that adds a role to kinde.toml is drift until it is merged and
        // registered: off the default branch drift (exit 1 only) is a warning.
        assert!(
            drift.contains("ON_DEFAULT_BRANCH: ${{ github.ref_name == github.event.repository.default_branch }}")
                && drift.contains("if [ \"$rc\" != 1 ] || [ \"$ON_DEFAULT_BRANCH\" = true ]; then exit \"$rc\"; fi"),
            "{github}"
        );
        assert!(
            drift.contains(&format!(
                "run: |\n          {kinde} register --check --junit kinde-drift.xml || {{\n"
            )),
            "{github}"
        );
        assert!(github.find("name: Smoke-test Kinde") < github.find("(drift)"));
        let (_, gitlab) = ci::render(Ci::Gitlab, &tenant).unwrap();
        // One shell runs the script: the drift check runs after a failed smoke test, and the
        // job fails when either failed.
        let smoke = gitlab.find(" || failed=\"smoke test\"\n").expect(&gitlab);
        let check = gitlab
            .find(&format!(
                "\n    - {kinde} register --check --junit kinde-drift.xml || {{ rc=$?; [ \"$rc\" = 1 ] \
                 && [ \"$CI_COMMIT_BRANCH\" != \"$CI_DEFAULT_BRANCH\" ] && echo"
            ))
            .expect(&gitlab);
        let verdict = gitlab
            .find("\n    - test -z \"$failed\" || {")
            .expect(&gitlab);
        assert!(smoke < check && check < verdict, "{gitlab}");
        assert!(
            gitlab.contains("      junit: \"kinde-*.xml\"\n")
                || gitlab.contains("      junit: kinde-*.xml\n"),
            "{gitlab}"
        );
        assert!(
            github.contains("path: kinde-*.xml\n") || github.contains("path: \"kinde-*.xml\"\n"),
            "{github}"
        );
        let emulator = Pipeline {
            emulator: true,
            ..Pipeline::new(xtask, Source::released())
        };
        for ci in Ci::ALL {
            let (_, text) = ci::render(ci, &emulator).unwrap();
            assert!(!text.contains("- run: cargo") && !text.contains("    - cargo kinde register"));
            assert!(text.contains("# `") && text.contains("register --check` fails the job"));
        }
    }
}
