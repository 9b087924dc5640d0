use predicates::prelude::*;

use crate::{World, json, stderr, stdout};

#[test]
fn bad_domain_in_kinde_toml_names_file_line_and_column() {
    let w = World::new();
    w.write(
        "kinde.toml",
        "[tenant]\ndomain = \"http://acme.kinde.com\"\n",
    );
    w.bare()
        .arg("token")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("kinde.toml:2:10: `domain`"))
        .stderr(predicate::str::contains("plain http"))
        .stderr(predicate::str::contains(
            "2 | domain = \"http://acme.kinde.com\"",
        ));
}

#[test]
fn unknown_keys_and_wrong_types_name_file_line_and_column() {
    let w = World::new();
    w.write(
        "kinde.toml",
        "[tenant]\ndomain = \"acme.kinde.com\"\n\n[login]\nport = \"fifty\"\n",
    );
    w.bare()
        .arg("config")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("kinde.toml:5:8: "));
    w.write(
        "kinde.toml",
        "[[apis]]\nname = \"A\"\naudience = \"https://a\"\nscopez = []\n",
    );
    w.bare()
        .arg("config")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("kinde.toml:4:1: "))
        .stderr(predicate::str::contains("scopez"));
}

#[test]
fn a_secret_in_kinde_toml_is_refused_and_never_echoed() {
    let w = World::new();
    w.write(
        "kinde.toml",
        "[management]\nclient_id = \"abc\"\nclient_secret = \"sup3r-s3cret-value\"\n",
    );
    let out = w.bare().arg("config").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("kinde.toml:3:17: "), "{err}");
    assert!(err.contains("KINDE_MANAGEMENT_CLIENT_SECRET"), "{err}");
    assert!(
        !err.contains("sup3r-s3cret-value"),
        "the secret must not be echoed: {err}"
    );
}

#[test]
fn bad_callback_url_is_an_error_at_its_position() {
    let w = World::new();
    w.write(
        "kinde.toml",
        "[app]\ncallback_urls = [\n  \"http://app.acme.com/callback\",\n]\n",
    );
    w.bare()
        .arg("config")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("kinde.toml:3:3: "))
        .stderr(predicate::str::contains("http only for localhost"));
}

#[test]
fn config_shows_values_sources_and_redacts_secrets() {
    let w = World::new();
    w.write(
        "kinde.toml",
        "[tenant]\ndomain = \"acme.kinde.com\"\n[management]\nclient_id = \"m2m-id\"\n[profiles.staging.tenant]\ndomain = \"acme-staging.kinde.com\"\n",
    );
    let out = w
        .bare()
        .env("KINDE_MANAGEMENT_CLIENT_SECRET", "very-secret-value-1")
        .arg("config")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("https://acme.kinde.com"), "{text}");
    assert!(text.contains("kinde.toml:2:10"), "{text}");
    assert!(
        text.contains("environment (KINDE_MANAGEMENT_CLIENT_SECRET)"),
        "{text}"
    );
    assert!(text.contains("***"), "{text}");
    assert!(!text.contains("very-secret-value-1"));

    let out = w
        .bare()
        .args(["--json", "--profile", "staging", "config"])
        .output()
        .unwrap();
    let doc = json(&out);
    assert_eq!(doc["profile"], "staging");
    assert_eq!(
        doc["values"]["tenant.domain"]["value"],
        "https://acme-staging.kinde.com"
    );
    assert!(
        doc["values"]["tenant.domain"]["source"]
            .as_str()
            .unwrap()
            .contains("(profile staging)")
    );
    assert_eq!(doc["values"]["management.client_id"]["value"], "m2m-id");
    // Data, not display text: unset is null, lists are arrays, secrets stay masked.
    assert_eq!(
        doc["values"]["tenant.custom_domain"]["value"],
        serde_json::Value::Null
    );
    assert_eq!(
        doc["values"]["tenant.custom_domain"]["source"],
        serde_json::Value::Null
    );
    assert!(doc["values"]["login.scopes"]["value"].is_array(), "{doc}");
    assert!(doc["values"]["login.port"]["value"].is_u64(), "{doc}");
}

#[test]
fn an_unknown_profile_lists_the_known_ones() {
    let w = World::new();
    w.write(
        "kinde.toml",
        "[profiles.staging.tenant]\ndomain = \"a.kinde.com\"\n",
    );
    w.bare()
        .args(["--profile", "prod", "config"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no profile `prod`"))
        .stderr(predicate::str::contains("staging"));
    w.bare()
        .env("KINDE_PROFILE", "prod")
        .arg("config")
        .assert()
        .code(2);
}

#[test]
fn kinde_toml_is_found_from_a_subdirectory_and_by_manifest_path() {
    let w = World::new();
    w.write("kinde.toml", "[tenant]\ndomain = \"acme.kinde.com\"\n");
    w.write("Cargo.toml", "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[lib]\npath = \"lib.rs\"\n");
    w.write("lib.rs", "");
    std::fs::create_dir_all(w.path("src/deep")).unwrap();
    let out = w
        .bare()
        .current_dir(w.path("src/deep"))
        .args(["--json", "config"])
        .output()
        .unwrap();
    assert_eq!(
        json(&out)["values"]["tenant.domain"]["value"],
        "https://acme.kinde.com"
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let out = w
        .bare()
        .current_dir(elsewhere.path())
        .args(["--json", "config", "--manifest-path"])
        .arg(w.path("Cargo.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json(&out)["values"]["tenant.domain"]["value"],
        "https://acme.kinde.com"
    );
    w.bare()
        .args(["config", "--manifest-path", "/nonexistent/Cargo.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--manifest-path"));
}

#[test]
fn works_as_cargo_subcommand_and_directly() {
    let w = World::new();
    w.bare()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("cargo-kinde "));
    let mut direct = assert_cmd::Command::cargo_bin("cargo-kinde").unwrap();
    direct
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Usage: cargo kinde"));
    w.bare().arg("frobnicate").assert().code(2);
}

#[test]
fn errors_on_lines_that_may_hold_secrets_do_not_show_them() {
    let w = World::new();
    w.write(
        "kinde.toml",
        "[management]\nclient_id = \"abc\"\nsecret = \"hunter2-do-not-print\"\n",
    );
    let out = w.bare().arg("config").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("kinde.toml:3:1: "), "{err}");
    assert!(!err.contains("hunter2-do-not-print"), "{err}");
    w.write(
        "kinde.toml",
        "[management]\nclient_secret = hunter2-unquoted\n",
    );
    let err = stderr(&w.bare().arg("config").output().unwrap());
    assert!(!err.contains("hunter2-unquoted"), "{err}");
    std::fs::remove_file(w.path("kinde.toml")).unwrap();
    let out = w
        .bare()
        .env("KINDE_DOMAIN", "https://user:pa55word@acme.kinde.com")
        .arg("config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !stderr(&out).contains("pa55word") && stderr(&out).contains("credentials"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn dotenv_errors_name_the_line_and_profiles_overridden_by_dotenv_are_flagged() {
    let w = World::new();
    w.write(".env", "KINDE_DOMAIN=a.kinde.com\nBAD LINE secret=zzz\n");
    let out = w.bare().arg("config").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(".env:2: cannot parse this line"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("zzz"));
    w.write(".env", "KINDE_DOMAIN=localhost:5380\n");
    w.write(
        "kinde.toml",
        "[profiles.staging.tenant]\ndomain = \"acme-staging.kinde.com\"\n",
    );
    let out = w
        .bare()
        .args(["--json", "--profile", "staging", "config"])
        .output()
        .unwrap();
    assert_eq!(
        json(&out)["values"]["tenant.domain"]["value"],
        "http://localhost:5380",
        "a bare loopback host is plain http"
    );
    assert!(
        stderr(&out).contains("overrides the domain of profile `staging`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_profile_reads_its_own_dotenv_after_dotenv_and_config_names_the_file() {
    let w = World::new();
    let wrong = "prod-secret-not-for-staging";
    w.write(
        ".env",
        &format!(
            "KINDE_DOMAIN={}\nKINDE_MANAGEMENT_CLIENT_ID={}\nKINDE_MANAGEMENT_CLIENT_SECRET={wrong}\n",
            w.issuer(),
            w.management_id()
        ),
    );
    w.write(
        ".env.staging",
        &format!("KINDE_MANAGEMENT_CLIENT_SECRET={}\n", w.management_secret()),
    );
    // Without the profile, `.env`'s (wrong) secret is used; with it, `.env.staging`'s wins.
    w.bare().args(["token", "--no-cache"]).assert().code(4);
    w.bare()
        .args(["--profile", "staging", "token", "--no-cache"])
        .assert()
        .success();
    w.bare()
        .env("KINDE_PROFILE", "staging")
        .env("KINDE_MANAGEMENT_CLIENT_SECRET", wrong)
        .args(["token", "--no-cache"])
        .assert()
        .code(4);

    let out = w
        .bare()
        .args(["--json", "--profile", "staging", "config"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out);
    let source = |key: &str| doc["values"][key]["source"].as_str().unwrap().to_string();
    assert!(
        source("management.client_secret")
            .ends_with(".env.staging (KINDE_MANAGEMENT_CLIENT_SECRET)"),
        "{doc}"
    );
    assert!(
        source("management.client_id").ends_with(".env (KINDE_MANAGEMENT_CLIENT_ID)"),
        "{doc}"
    );
    assert!(
        doc["profile_dotenv"]
            .as_str()
            .unwrap()
            .ends_with(".env.staging"),
        "{doc}"
    );
    let text = stdout(
        &w.bare()
            .args(["--profile", "staging", "config"])
            .output()
            .unwrap(),
    );
    assert!(
        text.contains(".env.staging (KINDE_MANAGEMENT_CLIENT_SECRET)"),
        "{text}"
    );
    assert!(!text.contains(&w.management_secret()) && !text.contains(wrong));

    // With kinde.toml: the profile's domain is overridden by its own file without a warning,
    // and a profile that only has a `.env.<profile>` is still a profile.
    w.write(
        "kinde.toml",
        "[tenant]\ndomain = \"acme.kinde.com\"\n[profiles.staging.tenant]\ndomain = \"acme-staging.kinde.com\"\n",
    );
    w.write(".env", "KINDE_MANAGEMENT_CLIENT_ID=prod-id\n");
    w.write(
        ".env.staging",
        "KINDE_DOMAIN=https://staging-from-env.kinde.com\n",
    );
    let out = w
        .bare()
        .args(["--json", "--profile", "staging", "config"])
        .output()
        .unwrap();
    assert_eq!(
        json(&out)["values"]["tenant.domain"]["value"],
        "https://staging-from-env.kinde.com"
    );
    assert!(!stderr(&out).contains("overrides"), "{}", stderr(&out));
    w.write(".env.qa", "KINDE_MANAGEMENT_CLIENT_ID=qa-id\n");
    let out = w
        .bare()
        .args(["--json", "--profile", "qa", "config"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json(&out)["values"]["management.client_id"]["value"],
        "qa-id"
    );
    assert_eq!(
        json(&out)["values"]["tenant.domain"]["value"],
        "https://acme.kinde.com"
    );
}

#[test]
fn no_domain_points_at_init() {
    let w = World::new();
    w.bare()
        .arg("token")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no Kinde domain is configured"))
        .stderr(predicate::str::contains("run `cargo kinde init`"))
        .stderr(predicate::str::contains("cargo kinde init --emulator"));
}

#[test]
fn a_dotenv_domain_over_kinde_toml_is_a_warning() {
    let w = World::new();
    w.write("kinde.toml", "[tenant]\ndomain = \"acme.kinde.com\"\n");
    w.write(".env", "KINDE_DOMAIN=other.kinde.com\n");
    let out = w.bare().args(["register", "--dry-run"]).output().unwrap();
    let err = stderr(&out);
    assert!(
        err.contains(".env (KINDE_DOMAIN) overrides the domain https://acme.kinde.com of")
            && err.contains("kinde.toml"),
        "{err}"
    );
    let out = w.bare().args(["--json", "config"]).output().unwrap();
    let warnings = json(&out)["warnings"].clone();
    assert_eq!(warnings.as_array().map(Vec::len), Some(1), "{warnings}");
    // The same domain twice is no surprise.
    w.write(".env", "KINDE_DOMAIN=https://acme.kinde.com\n");
    let out = w.bare().arg("config").output().unwrap();
    assert!(!stderr(&out).contains("overrides"), "{}", stderr(&out));
}

#[test]
fn a_profile_name_that_cannot_name_its_dotenv_is_refused_where_it_is_given() {
    let w = World::new();
    // In kinde.toml: refused at the table, with the rename as the fix; before, `.env.stag.ing`
    // was silently never read.
    w.write(
        "kinde.toml",
        "[tenant]\ndomain = \"acme.kinde.com\"\n\n[profiles.\"stag.ing\".tenant]\ndomain = \"acme-staging.kinde.com\"\n",
    );
    w.write(".env.stag.ing", "KINDE_MANAGEMENT_CLIENT_ID=staging-id\n");
    let out = w
        .bare()
        .args(["--profile", "stag.ing", "config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("profile name `stag.ing` is not allowed"),
        "{err}"
    );
    assert!(err.contains("letters, digits, `-` and `_`"), "{err}");
    // The table itself is refused, also when another profile is asked for.
    let out = w.bare().arg("config").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("kinde.toml:4:11"), "where: {err}");
    assert!(err.contains("rename it, e.g. `stag-ing`"), "{err}");
    assert!(err.contains("help: rename the table"), "{err}");
    // Following the fix: the renamed profile reads its renamed file.
    w.write(
        "kinde.toml",
        "[tenant]\ndomain = \"acme.kinde.com\"\n\n[profiles.stag-ing.tenant]\ndomain = \"acme-staging.kinde.com\"\n",
    );
    std::fs::rename(w.path(".env.stag.ing"), w.path(".env.stag-ing")).unwrap();
    let out = w
        .bare()
        .args(["--json", "--profile", "stag-ing", "config"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json(&out)["values"]["management.client_id"]["value"],
        "staging-id"
    );

    // On the command line: clap refuses it before anything is read, naming the flag.
    for bad in ["a.b", "../x", "x/y", "..", "example", ""] {
        let out = w
            .bare()
            .args(["--profile", bad, "config"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = stderr(&out);
        assert!(err.contains("--profile"), "{bad}: {err}");
        assert!(
            err.contains("is not allowed") || bad.is_empty(),
            "{bad}: {err}"
        );
    }
    // From the environment: the same, naming KINDE_PROFILE.
    let out = w
        .bare()
        .env("KINDE_PROFILE", "../prod")
        .arg("config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("KINDE_PROFILE: profile name `../prod` is not allowed"),
        "{err}"
    );
    assert!(err.contains("e.g. `prod`"), "{err}");
}

#[test]
fn config_hints_work_when_followed() {
    let w = World::new();
    // An unknown profile: the hint offers the profile's own .env file.
    w.write(
        "kinde.toml",
        "[tenant]\ndomain = \"acme.kinde.com\"\n[profiles.staging.tenant]\ndomain = \"acme-staging.kinde.com\"\n",
    );
    let out = w
        .bare()
        .args(["--profile", "prod", "config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("(or put the profile's variables in .env.prod)"),
        "{}",
        stderr(&out)
    );
    w.write(".env.prod", "KINDE_DOMAIN=acme-prod.kinde.com\n");
    let out = w
        .bare()
        .args(["--json", "--profile", "prod", "config"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json(&out)["values"]["tenant.domain"]["value"],
        "https://acme-prod.kinde.com"
    );
    // No kinde.toml and no .env.<profile>: either file, as the hint says, makes it a profile.
    let empty = World::new();
    let out = empty
        .bare()
        .args(["--profile", "qa", "config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("(or .env.qa with its variables)"),
        "{}",
        stderr(&out)
    );
    empty.write(".env.qa", "KINDE_DOMAIN=acme-qa.kinde.com\n");
    empty
        .bare()
        .args(["--profile", "qa", "config"])
        .assert()
        .success()
        .stdout(predicate::str::contains("https://acme-qa.kinde.com"));
    // A bad KINDE_DOMAIN: the hint's example form loads.
    let out = empty
        .bare()
        .env("KINDE_DOMAIN", "ftp://acme.kinde.com")
        .arg("config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("help: set KINDE_DOMAIN to your Kinde domain, e.g. https://acme.kinde.com"),
        "{}",
        stderr(&out)
    );
    empty
        .bare()
        .env("KINDE_DOMAIN", "https://acme.kinde.com")
        .arg("config")
        .assert()
        .success();
}

#[test]
fn every_flag_config_and_doctor_offer_works_with_them() {
    let w = World::new();
    w.write("kinde.toml", "[tenant]\ndomain = \"acme.kinde.com\"\n[profiles.staging.tenant]\ndomain = \"acme-staging.kinde.com\"\n");
    let domain = |args: &[&str]| {
        let out = w
            .bare()
            .args(["--json"])
            .args(args)
            .arg("config")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        json(&out)["values"]["tenant.domain"]["value"].clone()
    };
    assert_eq!(domain(&[]), "https://acme.kinde.com");
    assert_eq!(
        domain(&["--profile", "staging"]),
        "https://acme-staging.kinde.com"
    );
    let other = tempfile::tempdir().unwrap();
    let elsewhere = other.path().join("kinde.toml");
    std::fs::write(&elsewhere, "[tenant]\ndomain = \"elsewhere.kinde.com\"\n").unwrap();
    assert_eq!(
        domain(&["--config", elsewhere.to_str().unwrap()]),
        "https://elsewhere.kinde.com"
    );
    std::fs::write(
        other.path().join("Cargo.toml"),
        "[package]\nname = \"x\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[lib]\npath = \"lib.rs\"\n",
    )
    .unwrap();
    std::fs::write(other.path().join("lib.rs"), "").unwrap();
    let manifest = other.path().join("Cargo.toml");
    assert_eq!(
        domain(&["--manifest-path", manifest.to_str().unwrap()]),
        "https://elsewhere.kinde.com"
    );
    // --emulator: the values come from the embedded emulator, and say so.
    let out = w
        .bare()
        .args(["--json", "--emulator", "config"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json(&out)["values"]["tenant.domain"]["source"],
        "embedded emulator"
    );
    // --quiet still prints the table (it is what `config` exists for); -v adds the file read.
    let out = w.bare().args(["--quiet", "config"]).output().unwrap();
    assert!(stdout(&out).contains("tenant.domain"), "{}", stdout(&out));
    let out = w
        .bare()
        .args(["-v", "--no-input", "--color", "never", "config"])
        .output()
        .unwrap();
    assert!(stderr(&out).contains("debug: config:"), "{}", stderr(&out));
    assert!(!stdout(&out).contains('\u{1b}'), "--color never");
    let out = w
        .bare()
        .args(["--color", "always", "config"])
        .output()
        .unwrap();
    assert!(stdout(&out).contains('\u{1b}'), "--color always");

    // doctor: --emulator passes every network check; --timeout is checked; --json with
    // --quiet stays the whole document.
    let empty = World::new();
    let out = empty
        .bare()
        .args(["--json", "--emulator", "doctor"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report = json(&out);
    for c in report["checks"].as_array().unwrap() {
        if ["domain", "clock", "management token", "management scopes"]
            .contains(&c["name"].as_str().unwrap())
        {
            assert_eq!(c["status"], "pass", "{c}");
        }
    }
    let out = empty
        .bare()
        .args(["--json", "--quiet", "--emulator", "doctor"])
        .output()
        .unwrap();
    let outline = |r: &serde_json::Value| -> Vec<(String, String)> {
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].to_string(), c["status"].to_string()))
            .collect()
    };
    assert_eq!(
        outline(&json(&out)),
        outline(&report),
        "--quiet leaves JSON whole"
    );
    for bad in ["0", "-1", "nan", "inf"] {
        let out = empty
            .bare()
            .args(["doctor", &format!("--timeout={bad}")])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--timeout {bad}");
        assert!(stderr(&out).contains("--timeout"), "{}", stderr(&out));
    }
    let out = empty
        .bare()
        .args([
            "--emulator",
            "--no-input",
            "-v",
            "--color",
            "never",
            "doctor",
            "--timeout",
            "5",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("✓ domain"), "{}", stdout(&out));
}
