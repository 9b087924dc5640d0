//! `cargo kinde export`: a richly seeded tenant written as kinde.toml (every section, no secret),
//! `--output` that never replaces a file without `--force`, and the round trip: the exported
//! file, given to `register --dry-run`, plans no change.

use cargo_kinde::emulator::Options;
use cargo_kinde::emulator::seed::Seed;
use serde_json::Value;

use crate::{World, json, stderr, stdout};

const WEB_SECRET: &str = "web-secret-0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const WORKER_SECRET: &str = "worker-secret-9f8e7d6c5b4a39281706f5e4d3c2b1a0";
const WORKER_ID: &str = "0123456789abcdef0123456789abcdef";

/// A tenant with something in every section, and names that need escaping.
fn seed() -> String {
    format!(
        r#"
[[permissions]]
key = "read:orders"
name = "Read orders"

[[permissions]]
key = "write:orders"
name = "Write \"all\" orders"
description = "Create and change orders"

[[roles]]
key = "admin"
name = "Admin"
description = "Everything"
permissions = ["read:orders", "write:orders"]

[[roles]]
key = "viewer"
name = "Viewer"
permissions = ["read:orders"]
is_default_role = true

[[organizations]]
code = "org_acme"
name = "Acme"
external_id = "acme"

[[organizations]]
code = "org_globex"
name = "Globex"

[[users]]
email = "alice@acme.test"

[[feature_flags]]
key = "theme"
name = "Theme"
type = "str"
default = "light"
organizations = {{ org_acme = "dark" }}

[[feature_flags]]
key = "max_orders"
name = "Max orders"
type = "int"
allow_override_level = "org"
default = 10
environment = 20

[[feature_flags]]
key = "beta"
name = "Beta"
type = "bool"
default = false

[[applications]]
name = "Web app"
type = "reg"
client_secret = "{WEB_SECRET}"
callback_urls = ["http://localhost:3000/api/auth/kinde_callback", "http://localhost:3000/other"]
logout_urls = ["http://localhost:3000"]

[[applications]]
name = "Orders worker"
type = "m2m"
client_id = "{WORKER_ID}"
client_secret = "{WORKER_SECRET}"

[[apis]]
name = "Orders API"
audience = "https://orders.acme.test"
scopes = ["write:orders", "read:orders"]

[[apis]]
name = "Billing API"
audience = "https://billing.acme.test"

[[authorizations]]
application = "Orders worker"
api = "https://orders.acme.test"
scopes = ["read:orders"]

[[authorizations]]
application = "Web app"
api = "https://orders.acme.test"
"#
    )
}

fn seeded_with(text: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.toml");
    std::fs::write(&path, text).unwrap();
    World::with(Options {
        seed: Some(Seed::load(&path).unwrap()),
        ..Options::default()
    })
}

fn seeded() -> World {
    seeded_with(&seed())
}

fn export(w: &World, args: &[&str]) -> std::process::Output {
    w.cmd().arg("export").args(args).output().unwrap()
}

fn strings(value: &toml::Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[test]
fn export_writes_every_section_in_the_contract_schema_without_secrets() {
    let w = seeded();
    let out = export(&w, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let doc: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));

    assert!(
        text.starts_with("# kinde.toml exported by `cargo kinde export`"),
        "{text}"
    );
    assert_eq!(doc["tenant"]["domain"].as_str(), Some(w.issuer().as_str()));
    assert_eq!(
        doc["management"]["client_id"].as_str(),
        Some(w.management_id().as_str())
    );
    let app = &doc["app"];
    assert_eq!(app["client_id"].as_str(), Some(w.web_app_id().as_str()));
    assert_eq!(
        strings(&app["callback_urls"]),
        [
            "http://localhost:3000/api/auth/kinde_callback",
            "http://localhost:3000/other"
        ]
    );
    assert_eq!(strings(&app["logout_urls"]), ["http://localhost:3000"]);

    let apis = doc["apis"].as_array().unwrap();
    // Sorted by audience; the emulator's own sample API is there too.
    let audiences: Vec<&str> = apis
        .iter()
        .map(|a| a["audience"].as_str().unwrap())
        .collect();
    assert_eq!(
        audiences,
        [
            "https://billing.acme.test",
            "https://orders.acme.test",
            "urn:cargo-kinde:sample-api"
        ],
        "the Management API is never exported: {text}"
    );
    assert_eq!(strings(&apis[2]["authorize"]), ["management"]);
    let orders = &apis[1];
    assert_eq!(orders["name"].as_str(), Some("Orders API"));
    assert_eq!(strings(&orders["scopes"]), ["read:orders", "write:orders"]);
    assert_eq!(strings(&orders["authorize"]), [WORKER_ID, "app"]);
    assert!(
        text.contains("# Orders worker (machine to machine)"),
        "{text}"
    );

    let permissions = doc["permissions"].as_array().unwrap();
    assert_eq!(permissions.len(), 2);
    assert_eq!(permissions[1]["key"].as_str(), Some("write:orders"));
    assert_eq!(
        permissions[1]["name"].as_str(),
        Some("Write \"all\" orders")
    );
    assert_eq!(
        permissions[1]["description"].as_str(),
        Some("Create and change orders")
    );

    let roles = doc["roles"].as_array().unwrap();
    assert_eq!(roles[0]["key"].as_str(), Some("admin"));
    assert_eq!(
        strings(&roles[0]["permissions"]),
        ["read:orders", "write:orders"]
    );
    assert_eq!(roles[0]["default"].as_bool(), Some(false));
    assert_eq!(roles[1]["key"].as_str(), Some("viewer"));
    assert_eq!(roles[1]["default"].as_bool(), Some(true));

    let flags = doc["feature_flags"].as_array().unwrap();
    let flag = |key: &str| {
        flags
            .iter()
            .find(|f| f["key"].as_str() == Some(key))
            .unwrap()
    };
    assert_eq!(flag("beta")["type"].as_str(), Some("boolean"));
    assert_eq!(flag("beta")["default"].as_bool(), Some(false));
    assert_eq!(flag("max_orders")["type"].as_str(), Some("integer"));
    assert_eq!(flag("max_orders")["default"].as_integer(), Some(20));
    assert_eq!(flag("theme")["default"].as_str(), Some("light"));
    let keys: Vec<&str> = flags.iter().map(|f| f["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["beta", "max_orders", "theme"], "sorted by key");

    let orgs = doc["organizations"].as_array().unwrap();
    assert_eq!(
        orgs.len(),
        1,
        "only organizations with an external id: {text}"
    );
    assert_eq!(orgs[0]["external_id"].as_str(), Some("acme"));
    assert_eq!(orgs[0]["name"].as_str(), Some("Acme"));
    let overrides = orgs[0]["feature_flags"].as_table().unwrap();
    assert_eq!(overrides.len(), 1, "{text}");
    assert_eq!(overrides["theme"].as_str(), Some("dark"));
    assert!(text.contains("#   org_globex Globex"), "{text}");

    let all = format!("{text}{}", stderr(&out));
    for secret in [WEB_SECRET, WORKER_SECRET, &w.management_secret()] {
        assert!(!all.contains(secret), "a secret was printed:\n{all}");
    }
    assert_eq!(w.emulator.state().writes(), 0, "export only reads");
    // Every call is one the README and `kinde::export::OPERATIONS` list (placeholder names
    // aside), so the scopes documented for export are the ones it needs.
    let template = |route: &str| {
        regex_lite::Regex::new(r"\{[^}]*\}")
            .unwrap()
            .replace_all(route, "{}")
            .into_owned()
    };
    let listed: Vec<String> = cargo_kinde::kinde::export::OPERATIONS
        .iter()
        .map(|(method, path)| template(&format!("{method} {path}")))
        .collect();
    for route in w.emulator.state().counts().keys() {
        if route.contains(" /api/") {
            assert!(
                listed.contains(&template(route)),
                "{route} is not in OPERATIONS"
            );
        }
    }
}

#[test]
fn export_json_reports_the_path_and_the_sections() {
    let w = seeded();
    // Not kinde.toml: the second export below would read it as its configuration.
    let out = export(&w, &["--output", "exported.toml", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["path"], "exported.toml");
    let sections = &report["sections"];
    for (section, n) in [
        ("app", 1),
        ("callback_urls", 2),
        ("logout_urls", 1),
        ("apis", 3),
        ("permissions", 2),
        ("roles", 2),
        ("feature_flags", 3),
        ("organizations", 1),
    ] {
        assert_eq!(sections[section], n, "{section}: {report}");
    }
    assert_eq!(report["app"]["reason"], "only_one");
    assert!(report.get("toml").is_none(), "{report}");
    let written = std::fs::read_to_string(w.path("exported.toml")).unwrap();
    assert!(written.contains("[[roles]]"), "{written}");
    // Without --output, stdout stays one JSON document that carries the file.
    let out = export(&w, &["--json"]);
    let report = json(&out);
    assert_eq!(report["path"], Value::Null);
    assert!(report["toml"].as_str().unwrap().contains("[[apis]]"));
}

#[test]
fn output_never_replaces_a_file_without_force_and_keeps_it_with_force() {
    let w = seeded();
    w.write("kinde.toml", "# mine\n");
    let out = export(&w, &["--output", "kinde.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(w.path("kinde.toml")).unwrap(),
        "# mine\n"
    );
    assert_eq!(
        w.count("GET /api/v1/roles"),
        0,
        "refused before reading the tenant"
    );

    let out = export(&w, &["--output", "kinde.toml", "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(w.path("kinde.toml.bak")).unwrap(),
        "# mine\n"
    );
    let written = std::fs::read_to_string(w.path("kinde.toml")).unwrap();
    assert!(written.contains("[[permissions]]"), "{written}");
    assert!(stderr(&out).contains("kinde.toml.bak"), "{}", stderr(&out));

    // A second forced export keeps the first one's backup.
    let out = export(&w, &["--output", "kinde.toml", "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(w.path("kinde.toml.bak")).unwrap(),
        "# mine\n"
    );
    assert_eq!(
        std::fs::read_to_string(w.path("kinde.toml.bak.1")).unwrap(),
        written
    );
    // Backups are the owner's only, whatever the file was.
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(w.path("kinde.toml.bak"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }

    // The secrets file is never export's to write, --force or not.
    let env_before = std::fs::read(w.path(".env")).ok();
    for output in [".env", ".env.staging"] {
        let out = export(&w, &["--output", output, "--force"]);
        assert_eq!(out.status.code(), Some(2), "{output}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("that is a secrets file"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(std::fs::read(w.path(".env")).ok(), env_before);
    assert!(!w.path(".env.staging").exists());

    // --force needs --output: it has nothing to replace on stdout.
    let out = export(&w, &["--force"]);
    assert_eq!(out.status.code(), Some(2));

    // A directory, or a missing one to write into: refused before reading the tenant.
    let reads = w.count("GET /api/v1/roles");
    std::fs::create_dir(w.path("sub")).unwrap();
    for (output, says) in [
        ("sub", "is a directory"),
        ("missing/kinde.toml", "does not exist"),
    ] {
        let out = export(&w, &["--output", output, "--force"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
    }
    assert_eq!(w.count("GET /api/v1/roles"), reads);
}

#[cfg(unix)]
#[test]
fn output_never_writes_through_a_link() {
    let w = seeded();
    let outside = w.path("outside.toml");
    std::fs::write(&outside, "precious\n").unwrap();
    std::os::unix::fs::symlink(&outside, w.path("kinde.toml")).unwrap();
    for args in [&["-o", "kinde.toml"][..], &["-o", "kinde.toml", "--force"]] {
        let out = export(&w, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious\n");
    }
}

#[test]
fn the_configured_app_is_exported_and_an_unknown_one_is_refused() {
    let w = seeded_with(&format!(
        "{}\n[[applications]]\nname = \"Docs SPA\"\ntype = \"spa\"\nclient_id = \"spa0000000000000000000000000000a\"\ncallback_urls = [\"http://localhost:5173/cb\"]\n",
        seed()
    ));
    // Two applications users sign in to and none configured: none is picked, both are named.
    let out = export(&w, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let doc: toml::Table = toml::from_str(&text).unwrap();
    assert!(doc.get("app").is_none(), "{text}");
    assert!(text.contains("# Docs SPA (front-end and mobile)"), "{text}");
    assert!(text.contains("# Web app (back-end web)"), "{text}");
    // The orders API's `app` is then a client id like any other.
    assert!(
        text.contains(&format!("\"{}\",  # Web app", w.web_app_id())),
        "{text}"
    );

    let out = w
        .cmd()
        .env("KINDE_CLIENT_ID", "spa0000000000000000000000000000a")
        .arg("export")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: toml::Table = toml::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        doc["app"]["client_id"].as_str(),
        Some("spa0000000000000000000000000000a")
    );
    assert_eq!(
        strings(&doc["app"]["callback_urls"]),
        ["http://localhost:5173/cb"]
    );

    let out = w
        .cmd()
        .env("KINDE_CLIENT_ID", "nosuchapp")
        .arg("export")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("nosuchapp"), "{}", stderr(&out));
}

/// `register --dry-run --json` on `file` with the export's credentials: the plan.
fn plan_for(w: &World, file: &str) -> Value {
    let out = w
        .cmd()
        .args(["--config", file, "register", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    json(&out)["plan"].clone()
}

fn assert_no_change(plan: &Value) {
    assert_eq!(plan["changes"], serde_json::json!([]), "{plan:#}");
    assert_eq!(plan["conflicts"], serde_json::json!([]), "{plan:#}");
}

#[test]
fn round_trip_urls_and_apis_plan_no_change() {
    let w = seeded();
    let out = export(&w, &["--output", "exported.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Until [[permissions]], [[roles]], [[feature_flags]] and [[organizations]] are parsed
    // (other branches), the file without them must already round-trip.
    let text = std::fs::read_to_string(w.path("exported.toml")).unwrap();
    let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
    for section in ["permissions", "roles", "feature_flags", "organizations"] {
        assert!(doc.remove(section).is_some(), "{section} missing:\n{text}");
    }
    w.write("apps-and-apis.toml", &doc.to_string());
    let before = w.emulator.state().writes();
    let plan = plan_for(&w, "apps-and-apis.toml");
    assert_no_change(&plan);
    assert!(
        plan["matching"].as_array().unwrap().len() >= 7,
        "URLs, APIs, scopes and authorisations were compared: {plan:#}"
    );
    assert_eq!(w.emulator.state().writes(), before);
}

#[test]
fn round_trip_every_section_plans_no_change() {
    let w = seeded();
    let out = export(&w, &["--output", "kinde.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = plan_for(&w, "kinde.toml");
    assert_no_change(&plan);
    let matching = plan["matching"].to_string();
    for thing in ["admin", "viewer", "write:orders", "max_orders", "acme"] {
        assert!(
            matching.contains(thing),
            "{thing} was not compared: {plan:#}"
        );
    }
    // What CI runs: the exported file is the tenant, so there is no drift.
    let check = w
        .cmd()
        .args(["--config", "kinde.toml", "register", "--check"])
        .output()
        .unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&check),
        stderr(&check)
    );
}
