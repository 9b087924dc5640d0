//! `register` with `[[permissions]]` and `[[roles]]`: create, rerun with zero writes, change,
//! prune, errors before any write, partial failure then a converging rerun, drift.

use cargo_kinde::emulator::faults::{Fault, FaultKind};
use cargo_kinde::emulator::tenant::Tenant;

use crate::{World, json, stderr, stdout};

const KINDE_TOML: &str = r#"
[[permissions]]
key = "read:invoices"
name = "Read invoices"
description = "See every invoice"

[[permissions]]
key = "write:invoices"

[[roles]]
key = "admin"
name = "Admin"
description = "Runs the business"
permissions = ["read:invoices", "write:invoices"]

[[roles]]
key = "viewer"
name = "Viewer"
permissions = ["read:invoices"]
default = true
"#;

fn world() -> World {
    let w = World::new();
    w.write("kinde.toml", KINDE_TOML);
    w
}

fn register(w: &World) -> assert_cmd::Command {
    let mut cmd = w.cmd();
    cmd.arg("register");
    cmd
}

/// Every Management API request so far (reads and writes).
fn api_requests(w: &World) -> u64 {
    w.emulator
        .state()
        .counts()
        .iter()
        .filter(|(route, _)| route.contains(" /api/"))
        .map(|(_, n)| n)
        .sum()
}

/// Role keys of the tenant with their names, default flags and permission keys, sorted.
fn roles(tenant: &Tenant) -> Vec<(String, String, bool, Vec<String>)> {
    let mut out: Vec<_> = tenant
        .roles
        .iter()
        .map(|r| {
            let mut keys: Vec<String> = r
                .permissions
                .iter()
                .filter_map(|id| tenant.permission(id).map(|p| p.key.clone()))
                .collect();
            keys.sort();
            (r.key.clone(), r.name.clone(), r.is_default_role, keys)
        })
        .collect();
    out.sort();
    out
}

fn role_id(w: &World, key: &str) -> String {
    let tenant = w.emulator.state().tenant();
    tenant
        .roles
        .iter()
        .find(|r| r.key == key)
        .unwrap()
        .id
        .clone()
}

fn permission_id(w: &World, key: &str) -> String {
    let tenant = w.emulator.state().tenant();
    tenant
        .permissions
        .iter()
        .find(|p| p.key == key)
        .unwrap()
        .id
        .clone()
}

fn owned(items: &[&str]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

#[test]
fn creates_permissions_and_roles_then_a_rerun_sends_no_writes() {
    let w = world();
    let out = register(&w).arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = stdout(&out);
    for line in [
        "+ create permission `read:invoices` (Read invoices)",
        "+ create permission `write:invoices` (write:invoices)",
        "+ create role `admin` (Admin)",
        "+ create role `viewer` (Viewer), the default role for new members",
        "+ add `read:invoices`, `write:invoices` to role `admin`",
        "+ add `read:invoices` to role `viewer`",
    ] {
        assert!(plan.contains(line), "{line}\n{plan}");
    }
    assert!(
        stderr(&out).contains("applied 6 change(s)"),
        "{}",
        stderr(&out)
    );
    let tenant = w.emulator.state().tenant();
    assert_eq!(
        roles(&tenant),
        [
            (
                "admin".into(),
                "Admin".into(),
                false,
                owned(&["read:invoices", "write:invoices"])
            ),
            (
                "viewer".into(),
                "Viewer".into(),
                true,
                owned(&["read:invoices"])
            ),
        ]
    );
    let admin = tenant.roles.iter().find(|r| r.key == "admin").unwrap();
    assert_eq!(admin.description.as_deref(), Some("Runs the business"));
    let read = tenant
        .permissions
        .iter()
        .find(|p| p.key == "read:invoices")
        .unwrap();
    assert_eq!(
        (read.name.as_str(), read.description.as_str()),
        ("Read invoices", "See every invoice")
    );

    let writes = w.emulator.state().writes();
    let again = register(&w).output().unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stderr(&again).contains("no changes"), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("= role `viewer` (Viewer) (matches)"),
        "{}",
        stdout(&again)
    );
    assert_eq!(
        w.emulator.state().writes(),
        writes,
        "a rerun sends no writes"
    );
}

#[test]
fn names_permission_sets_and_the_default_flag_are_changed_in_place() {
    let w = world();
    register(&w).arg("--yes").assert().success();
    let admin = role_id(&w, "admin");
    w.write(
        "kinde.toml",
        &KINDE_TOML
            .replace("name = \"Admin\"", "name = \"Administrator\"")
            .replace(
                "permissions = [\"read:invoices\"]\ndefault = true",
                "permissions = [\"write:invoices\"]\ndefault = false",
            ),
    );
    let out = register(&w).arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = stdout(&out);
    for line in [
        &format!("~ update role `admin` ({admin}): name `Admin` → `Administrator`"),
        "default `true` → `false`",
        "+ add `write:invoices` to role `viewer`",
        "- remove `read:invoices` from role `viewer`",
    ] {
        assert!(plan.contains(line), "{line}\n{plan}");
    }
    let tenant = w.emulator.state().tenant();
    assert_eq!(
        roles(&tenant),
        [
            (
                "admin".into(),
                "Administrator".into(),
                false,
                owned(&["read:invoices", "write:invoices"])
            ),
            (
                "viewer".into(),
                "Viewer".into(),
                false,
                owned(&["write:invoices"])
            ),
        ]
    );
    assert_eq!(admin, role_id(&w, "admin"), "updated, not recreated");
    assert_eq!(
        tenant
            .roles
            .iter()
            .find(|r| r.key == "admin")
            .unwrap()
            .description
            .as_deref(),
        Some("Runs the business"),
        "the description is kept"
    );
    let writes = w.emulator.state().writes();
    register(&w).arg("--yes").assert().success();
    assert_eq!(w.emulator.state().writes(), writes, "converged");
}

#[test]
fn undeclared_roles_and_permissions_are_listed_then_pruned_with_yes() {
    let w = world();
    register(&w).arg("--yes").assert().success();
    for (path, body) in [
        ("/api/v1/roles", r#"{"key":"legacy","name":"Legacy"}"#),
        ("/api/v1/permissions", r#"{"key":"old:perm","name":"Old"}"#),
        ("/api/v1/permissions", r#"{"key":"export","name":"Export"}"#),
    ] {
        w.cmd()
            .args(["api", "post", path, "-d", body])
            .assert()
            .success();
    }
    // `export` is not declared, but a declared role grants it: --prune keeps it.
    w.write(
        "kinde.toml",
        &KINDE_TOML.replace(
            "permissions = [\"read:invoices\", \"write:invoices\"]",
            "permissions = [\"read:invoices\", \"write:invoices\", \"export\"]",
        ),
    );
    let out = register(&w).arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = stdout(&out);
    assert!(
        plan.contains(
            "? role `legacy` (Legacy): not in kinde.toml, left alone (--prune removes it)"
        ),
        "{plan}"
    );
    assert!(plan.contains("? permission `old:perm` (Old)"), "{plan}");
    let legacy = role_id(&w, "legacy");
    let old = permission_id(&w, "old:perm");

    let out = register(&w).args(["--prune", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = stdout(&out);
    assert!(
        plan.contains(&format!("- delete role `legacy` (Legacy, {legacy})")),
        "{plan}"
    );
    assert!(
        plan.contains(&format!("- delete permission `old:perm` (Old, {old})")),
        "{plan}"
    );
    assert!(
        plan.contains("permission `export` is not in [[permissions]]"),
        "{plan}"
    );
    let tenant = w.emulator.state().tenant();
    let keys: Vec<&str> = tenant.roles.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["admin", "viewer"]);
    let mut keys: Vec<&str> = tenant.permissions.iter().map(|p| p.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["export", "read:invoices", "write:invoices"]);
    register(&w)
        .arg("--prune")
        .assert()
        .success()
        .stderr(predicates::str::contains("no changes"));
}

#[test]
fn a_role_listing_a_permission_nobody_has_is_a_located_error_before_any_write() {
    let w = world();
    w.write(
        "kinde.toml",
        &KINDE_TOML.replace(
            "permissions = [\"read:invoices\"]",
            "permissions = [\"read:invoices\", \"delete:invoices\"]",
        ),
    );
    let out = register(&w).arg("--yes").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("kinde.toml:19:33: role `viewer` lists permission `delete:invoices`"),
        "{all}"
    );
    assert_eq!(w.emulator.state().writes(), 0, "nothing is written");
}

#[test]
fn a_duplicate_key_is_a_located_error_before_any_request() {
    let w = world();
    w.write(
        "kinde.toml",
        &format!("{KINDE_TOML}\n[[roles]]\nkey = \"admin\"\n"),
    );
    let out = register(&w).arg("--yes").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("kinde.toml:23:7: role `admin` is declared twice (first on line 11)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(api_requests(&w), 0, "no request at all");
}

#[test]
fn a_failure_midway_then_a_rerun_converges() {
    let w = world();
    // The first role's creation fails, after both permissions; POSTs are not retried.
    w.emulator.state().inject(
        Fault::new("/api/v1/roles", FaultKind::Status { status: 500 })
            .method("POST")
            .times(1),
    );
    let out = register(&w).arg("--yes").output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("applied 2 of 6"), "{err}");
    assert!(err.contains("- create role `admin` (Admin)"), "{err}");
    let out = register(&w).arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("= permission `read:invoices` (Read invoices) (matches)"),
        "the permissions of the first run are reused: {}",
        stdout(&out)
    );
    let tenant = w.emulator.state().tenant();
    assert_eq!(tenant.permissions.len(), 2);
    assert_eq!(roles(&tenant).len(), 2);
    let writes = w.emulator.state().writes();
    register(&w).assert().success();
    assert_eq!(w.emulator.state().writes(), writes, "converged");
}

#[test]
fn an_out_of_band_change_through_the_api_shows_in_the_next_plan() {
    let w = world();
    register(&w).arg("--yes").assert().success();
    let viewer = role_id(&w, "viewer");
    let write = permission_id(&w, "write:invoices");
    w.cmd()
        .args([
            "api",
            "patch",
            &format!("/api/v1/roles/{viewer}"),
            "-d",
            r#"{"key":"viewer","name":"Clicked","is_default_role":false}"#,
        ])
        .assert()
        .success();
    w.cmd()
        .args([
            "api",
            "patch",
            &format!("/api/v1/roles/{viewer}/permissions"),
            "-d",
            &format!(r#"{{"permissions":[{{"id":"{write}"}}]}}"#),
        ])
        .assert()
        .success();
    let out = register(&w).args(["--dry-run", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out);
    let changes = doc["plan"]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[0]["action"], "update_role");
    assert_eq!(
        changes[0]["fields"],
        serde_json::json!([
            {"field": "name", "before": "Clicked", "after": "Viewer"},
            {"field": "default", "before": "false", "after": "true"}
        ])
    );
    assert_eq!(changes[1]["action"], "remove_role_permissions");
    assert_eq!(changes[1]["ids"], serde_json::json!([write]));
    register(&w).arg("--yes").assert().success();
    register(&w)
        .assert()
        .success()
        .stderr(predicates::str::contains("no changes"));
}

/// Issue 13's size: 200 roles (3 permissions each) and 500 permissions, all declared and all in
/// the tenant. The plan reads each list in one page and the role permissions concurrently.
#[test]
fn a_large_tenant_is_planned_in_few_list_requests() {
    use cargo_kinde::emulator::tenant::{Permission, Role};
    let w = World::new();
    let mut toml = String::new();
    let permissions: Vec<Permission> = (0..500)
        .map(|i| {
            toml.push_str(&format!("[[permissions]]\nkey = \"p{i}\"\n"));
            Permission {
                id: format!("perm_{i}"),
                key: format!("p{i}"),
                name: format!("p{i}"),
                description: String::new(),
                extra: Default::default(),
            }
        })
        .collect();
    let roles: Vec<Role> = (0..200)
        .map(|i| {
            let keys: Vec<usize> = (0..3).map(|k| (i * 3 + k) % 500).collect();
            toml.push_str(&format!(
                "[[roles]]\nkey = \"r{i}\"\npermissions = [{}]\n",
                keys.iter()
                    .map(|k| format!("\"p{k}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            Role {
                id: format!("role_{i}"),
                key: format!("r{i}"),
                name: format!("r{i}"),
                description: None,
                is_default_role: false,
                permissions: keys.iter().map(|k| format!("perm_{k}")).collect(),
                extra: Default::default(),
            }
        })
        .collect();
    w.emulator.state().update(|t| {
        t.permissions = permissions;
        t.roles = roles;
    });
    w.write("kinde.toml", &toml);
    let out = register(&w).arg("--dry-run").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("0 to remove (700 matching"),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.count("GET /api/v1/roles"), 1, "one page of 500");
    assert_eq!(w.count("GET /api/v1/permissions"), 1, "one page of 500");
    assert_eq!(w.count("GET /api/v1/roles/{role_id}/permissions"), 200);
    // The time is `cargo xtask bench plan`'s to measure (release build), never a test's.
}

/// The review's B3: with an app client id (from `.env`, as `emulator --env-file` writes it) and
/// no `callback_urls` / `logout_urls` in kinde.toml, `--prune` leaves the app's URLs alone: a
/// list the file does not mention is not managed.
#[test]
fn prune_never_touches_url_lists_the_file_does_not_mention() {
    let w = world();
    let urls = |w: &World| {
        let out = w
            .cmd()
            .args([
                "api",
                "get",
                &format!("/api/v1/applications/{}/auth_redirect_urls", w.web_app_id()),
            ])
            .output()
            .unwrap();
        json(&out)["redirect_urls"].clone()
    };
    let before = urls(&w);
    assert_ne!(before, serde_json::json!([]), "the seed has callback URLs");
    let out = register(&w)
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["--prune", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("URL"), "{}", stdout(&out));
    assert_eq!(urls(&w), before);
}
