//! `register` with `[[organizations]]`: matched by `external_id`, created, renamed, flag
//! overrides set and pruned; never deleted; partial failure; drift.

use cargo_kinde::emulator::faults::{Fault, FaultKind};

use crate::{World, stderr, stdout};

const FILE: &str = r#"
[[feature_flags]]
key = "new_checkout"
type = "boolean"
default = false

[[feature_flags]]
key = "seats"
type = "integer"
default = 5

[[organizations]]
external_id = "acme"
name = "Acme Corp"
[organizations.feature_flags]
new_checkout = true
seats = 50

[[organizations]]
external_id = "globex"
name = "Globex"
"#;

fn world(text: &str) -> World {
    let w = World::new();
    w.write("kinde.toml", text);
    w
}

fn register(w: &World) -> assert_cmd::Command {
    let mut cmd = w.cmd();
    cmd.arg("register");
    cmd
}

/// (code, name) of the organization with `external_id`.
fn org(w: &World, external_id: &str) -> Option<(String, String)> {
    let tenant = w.emulator.state().tenant();
    let found: Vec<_> = tenant
        .organizations
        .iter()
        .filter(|o| o.external_id.as_deref() == Some(external_id))
        .map(|o| (o.code.clone(), o.name.clone()))
        .collect();
    assert!(found.len() <= 1, "created once: {found:?}");
    found.into_iter().next()
}

/// Organization `code`'s own override of flag `key`.
fn override_of(w: &World, code: &str, key: &str) -> Option<String> {
    let tenant = w.emulator.state().tenant();
    let flag = tenant.feature_flags.iter().find(|f| f.key == key)?;
    flag.organization_values.get(code).cloned()
}

#[test]
fn organizations_are_created_with_overrides_then_a_rerun_writes_nothing() {
    let w = world(FILE);
    let out = register(&w).arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = stdout(&out);
    assert!(
        plan.contains("+ create organization `Acme Corp` (external id `acme`)"),
        "{plan}"
    );
    assert!(
        plan.contains(
            "+ set feature flag `seats` to `50` for organization `Acme Corp` (external id `acme`)"
        ),
        "{plan}"
    );
    let (acme, name) = org(&w, "acme").unwrap();
    assert_eq!(name, "Acme Corp");
    assert!(acme.starts_with("org_"), "{acme}");
    assert_eq!(
        override_of(&w, &acme, "new_checkout").as_deref(),
        Some("true")
    );
    assert_eq!(override_of(&w, &acme, "seats").as_deref(), Some("50"));
    let (globex, _) = org(&w, "globex").unwrap();
    assert_eq!(override_of(&w, &globex, "seats"), None);

    let writes = w.emulator.state().writes();
    let again = register(&w).output().unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stderr(&again).contains("no changes"), "{}", stderr(&again));
    assert!(
        stdout(&again)
            .contains("= feature flag `seats` = `50` for organization `Acme Corp` (matches)"),
        "{}",
        stdout(&again)
    );
    assert_eq!(
        w.emulator.state().writes(),
        writes,
        "a rerun writes nothing"
    );
}

#[test]
fn a_rename_and_a_changed_override_are_applied_in_place() {
    let w = world(FILE);
    register(&w).arg("--yes").assert().success();
    let (acme, _) = org(&w, "acme").unwrap();
    w.write(
        "kinde.toml",
        &FILE
            .replace("name = \"Acme Corp\"", "name = \"Acme Inc\"")
            .replace("seats = 50", "seats = 60"),
    );
    let out = register(&w).arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!(
            "~ rename organization `Acme Corp` ({acme}, external id `acme`) to `Acme Inc`"
        )),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("applied 2 change(s)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(org(&w, "acme").unwrap(), (acme.clone(), "Acme Inc".into()));
    assert_eq!(override_of(&w, &acme, "seats").as_deref(), Some("60"));
}

#[test]
fn removed_overrides_go_only_with_prune_and_organizations_never() {
    let w = world(FILE);
    register(&w).arg("--yes").assert().success();
    let (acme, _) = org(&w, "acme").unwrap();
    // Another organization, with a member, that kinde.toml does not declare.
    w.cmd()
        .args([
            "api",
            "POST",
            "organization",
            "-F",
            "name=Initech",
            "-F",
            "external_id=initech",
        ])
        .assert()
        .success();
    let fewer = FILE.replace("seats = 50\n", "").replace(
        "\n[[organizations]]\nexternal_id = \"globex\"\nname = \"Globex\"\n",
        "",
    );
    w.write("kinde.toml", &fewer);
    let out = register(&w).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = stdout(&out);
    assert!(
        plan.contains("? feature flag `seats` = `50` for organization `Acme Corp`: not in kinde.toml, left alone (--prune removes it)"),
        "{plan}"
    );
    assert!(
        plan.contains("? organization `Globex` (")
            && plan.contains("left alone (organizations are never deleted by register)"),
        "{plan}"
    );
    let out = register(&w).args(["--prune", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!(
            "- remove the override `seats` = `50` of organization `Acme Corp` ({acme})"
        )),
        "{}",
        stdout(&out)
    );
    assert_eq!(override_of(&w, &acme, "seats"), None);
    assert_eq!(
        override_of(&w, &acme, "new_checkout").as_deref(),
        Some("true")
    );
    assert!(org(&w, "globex").is_some(), "never deleted");
    assert!(org(&w, "initech").is_some(), "never deleted");
    let again = register(&w).arg("--prune").output().unwrap();
    assert!(stderr(&again).contains("no changes"), "{}", stderr(&again));
}

#[test]
fn an_override_of_the_wrong_type_fails_before_any_request() {
    let w = world(&FILE.replace("seats = 50", "seats = \"fifty\""));
    let out = register(&w).arg("--yes").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("kinde.toml:17:9: organization `acme`'s value for feature flag `seats` is a string, but the flag's `type` is integer"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("an integer flag's value is a whole number"),
        "the fix is named: {}",
        stderr(&out)
    );
    assert_eq!(
        w.emulator.state().counts(),
        Default::default(),
        "no request at all"
    );

    let twice = format!("{FILE}\n[[organizations]]\nexternal_id = \"acme\"\nname = \"Again\"\n");
    w.write("kinde.toml", &twice);
    let out = register(&w).arg("--yes").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("organization `acme` is declared twice (first on line 13)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        w.emulator.state().counts(),
        Default::default(),
        "no request at all"
    );
}

#[test]
fn a_failure_midway_then_a_rerun_converges_without_a_second_organization() {
    let w = world(FILE);
    // Setting acme's first override fails (PATCH is not retried).
    let fault = Fault::new("/api/v1/organizations/", FaultKind::Status { status: 500 })
        .method("PATCH")
        .times(1);
    w.emulator.state().inject(fault);
    let out = register(&w).arg("--yes").output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("applied 3 of 6"), "{}", stderr(&out));
    let (acme, _) = org(&w, "acme").unwrap();
    assert_eq!(override_of(&w, &acme, "new_checkout"), None);
    let out = register(&w).arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("= organization `Acme Corp` ("),
        "matched by external id, not created again: {}",
        stdout(&out)
    );
    assert_eq!(org(&w, "acme").unwrap().0, acme);
    assert_eq!(
        override_of(&w, &acme, "new_checkout").as_deref(),
        Some("true")
    );
    assert!(org(&w, "globex").is_some());
    let again = register(&w).output().unwrap();
    assert!(stderr(&again).contains("no changes"), "{}", stderr(&again));
}

#[test]
fn an_out_of_band_change_shows_in_the_next_plan() {
    let w = world(FILE);
    register(&w).arg("--yes").assert().success();
    let (acme, _) = org(&w, "acme").unwrap();
    w.cmd()
        .args([
            "api",
            "PATCH",
            &format!("organization/{acme}"),
            "-F",
            "name=Hacked",
        ])
        .assert()
        .success();
    w.cmd()
        .args([
            "api",
            "PATCH",
            &format!("organizations/{acme}/feature_flags/seats"),
            "-q",
            "value=7",
        ])
        .assert()
        .success();
    let out = register(&w).arg("--dry-run").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = stdout(&out);
    assert!(
        plan.contains(&format!(
            "~ rename organization `Hacked` ({acme}, external id `acme`) to `Acme Corp`"
        )),
        "{plan}"
    );
    assert!(
        plan.contains("~ set feature flag `seats` to `50` for organization `Acme Corp`"),
        "{plan}"
    );
}

#[test]
fn a_hundred_organizations_plan_in_one_list_request() {
    use std::fmt::Write as _;
    let mut text = FILE.split("[[organizations]]").next().unwrap().to_string();
    let w = World::new();
    w.emulator.state().update(|t| {
        for i in 0..100 {
            let mut org = cargo_kinde::emulator::tenant::Organization::new(&format!("Org {i}"));
            org.external_id = Some(format!("org-{i}"));
            t.organizations.push(org);
        }
    });
    for i in 0..100 {
        let _ = write!(
            text,
            "\n[[organizations]]\nexternal_id = \"org-{i}\"\nname = \"Org {i}\"\nfeature_flags = {{ seats = {i} }}\n"
        );
    }
    w.write("kinde.toml", &text);
    register(&w).arg("--yes").assert().success();
    let lists = w.count("GET /api/v1/organizations");
    let out = register(&w).output().unwrap();
    assert!(stderr(&out).contains("no changes"), "{}", stderr(&out));
    assert_eq!(
        w.count("GET /api/v1/organizations") - lists,
        1,
        "one page of up to 500"
    );
    // The time is `cargo xtask bench plan`'s to measure (release build), never a test's.
}

/// The review's B1: an environment value clicked in the admin is set back as the environment's
/// value, so organizations resolve as declared and a rerun writes nothing.
#[test]
fn an_environment_value_set_in_the_admin_converges_in_one_run() {
    let file = FILE.replace(
        "name = \"Globex\"\n",
        "name = \"Globex\"\n[organizations.feature_flags]\nnew_checkout = false\n",
    );
    let w = world(&file);
    register(&w).arg("--yes").assert().success();
    w.cmd()
        .args([
            "api",
            "PATCH",
            "/api/v1/environment/feature_flags/new_checkout",
            "-d",
            r#"{"value":"true"}"#,
        ])
        .assert()
        .success();
    register(&w).arg("--check").assert().code(1);
    let out = register(&w).arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(
            "set feature flag `new_checkout` to `false` in this environment (`true` now)"
        ),
        "{}",
        stdout(&out)
    );
    let writes = w.emulator.state().writes();
    register(&w)
        .arg("--yes")
        .assert()
        .success()
        .stderr(predicates::str::contains("no changes"));
    assert_eq!(w.emulator.state().writes(), writes, "converged in one run");
    register(&w).arg("--check").assert().code(0);
    // Each organization resolves to what kinde.toml says.
    for (external_id, want) in [("acme", "true"), ("globex", "false")] {
        let (code, _) = org(&w, external_id).unwrap();
        let out = w
            .cmd()
            .args([
                "api",
                "get",
                &format!("/api/v1/organizations/{code}/feature_flags"),
            ])
            .output()
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            doc["feature_flags"]["new_checkout"]["value"], want,
            "{external_id}: {doc}"
        );
    }
}

#[test]
fn an_override_of_a_flag_nobody_has_is_a_conflict_at_its_line() {
    let w = world(&FILE.replace("seats = 50", "seats = 50\nghost = true"));
    let out = register(&w).arg("--yes").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("kinde.toml:18:9: organization `acme` overrides feature flag `ghost`, which neither kinde.toml nor the tenant has"),
        "{all}"
    );
    assert_eq!(
        org(&w, "acme"),
        None,
        "a plan with a conflict applies nothing"
    );
}
