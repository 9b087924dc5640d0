//! The command-line interface as text: `--help` of every command is checked in, so a change to
//! the interface is a visible diff. `SNAPSHOTS=overwrite cargo test --test cli help` rewrites them.

use clap::CommandFactory;
use snapbox::{Data, assert::Assert};

/// Every command's path, taken from clap so a new subcommand cannot be forgotten: the top level,
/// then each subcommand and its own subcommands.
fn command_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_string());
            out.push(path.clone());
            walk(sub, &path, out);
        }
    }
    let mut out = vec![Vec::new()];
    walk(&cargo_kinde::cli::Cli::command(), &[], &mut out);
    out
}

#[test]
fn help_texts_match_the_snapshots() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/snapshots");
    let paths = command_paths();
    assert!(paths.len() > 10, "clap lists the subcommands: {paths:?}");
    let assert = Assert::new().action_env("SNAPSHOTS");
    let names: Vec<String> = paths
        .iter()
        .map(|p| {
            if p.is_empty() {
                "cargo-kinde".into()
            } else {
                p.join("-")
            }
        })
        .collect();
    let orphans: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(".help.txt").map(String::from))
        .filter(|name| !names.contains(name))
        .collect();
    assert!(
        orphans.is_empty(),
        "snapshots of commands that no longer exist: {orphans:?}"
    );
    for path in paths {
        let mut cmd = assert_cmd::Command::cargo_bin("cargo-kinde").unwrap();
        cmd.arg("kinde")
            .args(&path)
            .arg("--help")
            .env("COLUMNS", "100")
            .env_remove("KINDE_PROFILE");
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{path:?} --help failed");
        let name = if path.is_empty() {
            "cargo-kinde".to_string()
        } else {
            path.join("-")
        };
        let snapshot = dir.join(format!("{name}.help.txt"));
        assert.eq(
            Data::text(String::from_utf8(out.stdout).unwrap()),
            Data::read_from(&snapshot, None).raw(),
        );
    }
}

#[test]
fn completions_are_printed_for_each_shell_and_complete_in_bash() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = assert_cmd::Command::cargo_bin("cargo-kinde")
            .unwrap()
            .args(["kinde", "completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains("cargo-kinde"), "{shell}: {script}");
    }
    // The bash script, sourced, completes a subcommand's own flag.
    let bin = assert_cmd::cargo::cargo_bin("cargo-kinde");
    let probe = format!(
        "source <('{}' completions bash) && COMP_WORDS=(cargo-kinde token --us) && COMP_CWORD=2 && _cargo_kinde cargo-kinde --us token && echo \"${{COMPREPLY[@]}}\"",
        bin.display()
    );
    if let Ok(out) = std::process::Command::new("bash")
        .args(["-c", &probe])
        .output()
    {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "--user");
    }
}

#[test]
fn global_options_are_listed_apart_and_every_command_has_examples() {
    for path in command_paths().into_iter().filter(|p| !p.is_empty()) {
        let out = assert_cmd::Command::cargo_bin("cargo-kinde")
            .unwrap()
            .arg("kinde")
            .args(&path)
            .arg("--help")
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Global options:"), "{path:?}: {text}");
        assert!(text.contains("Examples:\n  cargo"), "{path:?}: {text}");
    }
}

#[test]
fn completions_json_is_one_document_with_the_script() {
    let out = assert_cmd::Command::cargo_bin("cargo-kinde")
        .unwrap()
        .args(["kinde", "--json", "completions", "fish"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["shell"], "fish");
    assert!(
        doc["script"]
            .as_str()
            .unwrap()
            .contains("complete -c cargo-kinde"),
        "{doc}"
    );
    assert_eq!(doc.as_object().unwrap().len(), 2, "{doc}");
}
