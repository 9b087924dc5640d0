//! `register` with `[[feature_flags]]`: create, idempotence, change, prune, bad values, partial
//! failure, drift.

use cargo_kinde::emulator::faults::{Fault, FaultKind};

use crate::{World, stderr, stdout};

const FLAGS: &str = r#"
[[feature_flags]]
key = "new_checkout"
name = "New checkout"
description = "The one-page checkout"
type = "boolean"
default = false
override_level = "organization"

[[feature_flags]]
key = "theme"
type = "string"
default = "light"
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

/// (type, default, environment value, level, name, description) of flag `key` in the emulator.
fn flag(w: &World, key: &str) -> Option<(String, String, String, String, String)> {
    let tenant = w.emulator.state().tenant();
    tenant.feature_flags.iter().find(|f| f.key == key).map(|f| {
        (
            f.kind.clone(),
            f.default_value.clone(),
            f.allow_override_level.clone(),
            f.name.clone(),
            f.description.clone(),
        )
    })
}

#[test]
fn flags_are_created_then_a_rerun_writes_nothing() {
    let w = world(FLAGS);
    let out = register(&w).arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("+ create feature flag `new_checkout` (New checkout): boolean, default `false`, overridable down to organizations"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        flag(&w, "new_checkout").unwrap(),
        (
            "bool".into(),
            "false".into(),
            "org".into(),
            "New checkout".into(),
            "The one-page checkout".into()
        )
    );
    assert_eq!(
        flag(&w, "theme").unwrap(),
        (
            "str".into(),
            "light".into(),
            "usr".into(),
            "theme".into(),
            String::new()
        ),
        "name defaults to the key, level to user"
    );
    let writes = w.emulator.state().writes();
    let again = register(&w).output().unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("= feature flag `theme` (string) (matches)"),
        "{}",
        stdout(&again)
    );
    assert!(stderr(&again).contains("no changes"), "{}", stderr(&again));
    assert_eq!(
        w.emulator.state().writes(),
        writes,
        "a rerun writes nothing"
    );
}

#[test]
fn a_new_default_is_set_and_a_new_type_is_a_conflict() {
    let w = world(FLAGS);
    register(&w).arg("--yes").assert().success();
    w.write(
        "kinde.toml",
        &FLAGS
            .replace("default = false", "default = true")
            .replace("The one-page", "A one-page"),
    );
    let out = register(&w).arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(
            "~ set feature flag `new_checkout` to `true` in this environment (`false` now)"
        ),
        "{}",
        stdout(&out)
    );
    // The environment's value is set (an environment override): the flag's own fields, which
    // the API does not return to compare, are left as they were (the review's B2).
    let (_, default, level, name, description) = flag(&w, "new_checkout").unwrap();
    assert_eq!(
        (
            default.as_str(),
            level.as_str(),
            name.as_str(),
            description.as_str()
        ),
        ("false", "org", "New checkout", "The one-page checkout"),
    );
    let env = w.emulator.state().tenant();
    let env = env
        .feature_flags
        .iter()
        .find(|f| f.key == "new_checkout")
        .unwrap();
    assert_eq!(env.environment_value.as_deref(), Some("true"));
    // And it converges: the rerun writes nothing (the review's B1).
    let writes = w.emulator.state().writes();
    register(&w)
        .arg("--yes")
        .assert()
        .success()
        .stderr(predicates::str::contains("no changes"));
    assert_eq!(w.emulator.state().writes(), writes);
    register(&w).arg("--check").assert().code(0);

    let writes = w.emulator.state().writes();
    w.write(
        "kinde.toml",
        &FLAGS.replace(
            "type = \"string\"\ndefault = \"light\"",
            "type = \"integer\"\ndefault = 1",
        ),
    );
    let out = register(&w).arg("--yes").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("feature flag `theme` is string in Kinde, but kinde.toml says integer; a flag's type cannot change in Kinde"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        w.emulator.state().writes(),
        writes,
        "a conflict changes nothing"
    );
}

#[test]
fn undeclared_flags_are_listed_and_deleted_only_with_prune() {
    let w = world(FLAGS);
    register(&w).arg("--yes").assert().success();
    let only_checkout = FLAGS
        .split("\n[[feature_flags]]\nkey = \"theme\"")
        .next()
        .unwrap();
    w.write("kinde.toml", only_checkout);
    let out = register(&w).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(
            "? feature flag `theme` (string): not in kinde.toml, left alone (--prune removes it)"
        ),
        "{}",
        stdout(&out)
    );
    assert!(flag(&w, "theme").is_some());
    let out = register(&w).args(["--prune", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("- delete feature flag `theme` and all its overrides"),
        "{}",
        stdout(&out)
    );
    assert!(flag(&w, "theme").is_none());
    assert!(flag(&w, "new_checkout").is_some());
    // A file without [[feature_flags]] does not manage flags: --prune leaves them alone.
    w.write("kinde.toml", "");
    register(&w).args(["--prune", "--yes"]).assert().success();
    assert!(flag(&w, "new_checkout").is_some());
}

#[test]
fn a_default_of_the_wrong_type_fails_before_any_request() {
    let w = world(&FLAGS.replace("default = false", "default = \"no\""));
    let out = register(&w).arg("--yes").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("kinde.toml:7:11: `default` of feature flag `new_checkout` is a string, but the flag's `type` is boolean"),
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
fn a_failure_midway_then_a_rerun_converges() {
    let w = world(FLAGS);
    // The second create fails (POSTs are not retried).
    let mut fault = Fault::new("/api/v1/feature_flags", FaultKind::Status { status: 500 })
        .method("POST")
        .times(1);
    fault.share = Some(0.5);
    w.emulator.state().inject(fault);
    let out = register(&w).arg("--yes").output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("applied 1 of 2"), "{}", stderr(&out));
    assert!(flag(&w, "new_checkout").is_some());
    assert!(flag(&w, "theme").is_none());
    let out = register(&w).arg("--yes").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("applied 1 change(s)"),
        "{}",
        stderr(&out)
    );
    assert!(flag(&w, "theme").is_some());
    let again = register(&w).output().unwrap();
    assert!(stderr(&again).contains("no changes"), "{}", stderr(&again));
}

#[test]
fn an_out_of_band_change_shows_in_the_next_plan() {
    let w = world(FLAGS);
    register(&w).arg("--yes").assert().success();
    w.cmd()
        .args([
            "api",
            "PUT",
            "feature_flags/theme",
            "-q",
            "name=theme",
            "-q",
            "description=",
            "-q",
            "type=str",
            "-q",
            "allow_override_level=usr",
            "-q",
            "default_value=dark",
        ])
        .assert()
        .success();
    w.cmd()
        .args(["api", "DELETE", "feature_flags/new_checkout", "--yes"])
        .assert()
        .success();
    let out = register(&w).arg("--dry-run").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = stdout(&out);
    assert!(
        plan.contains("~ set feature flag `theme` to `light` in this environment (`dark` now)"),
        "{plan}"
    );
    assert!(
        plan.contains("+ create feature flag `new_checkout`"),
        "{plan}"
    );
}
