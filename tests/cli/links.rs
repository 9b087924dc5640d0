//! Writers never follow links: a `.env` (or a temporary name beside it) linked to a file outside
//! the project leaves that file untouched, and the command says why.
#![cfg(unix)]

use std::path::PathBuf;

use crate::{World, stderr};

/// A cargo project in `w`, and a file outside it that must survive.
fn project_and_outside(w: &World) -> (tempfile::TempDir, PathBuf) {
    w.write(
        "Cargo.toml",
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    std::fs::create_dir_all(w.path("src")).unwrap();
    w.write("src/lib.rs", "");
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("precious");
    std::fs::write(&target, "MINE=precious\n").unwrap();
    (outside, target)
}

/// `init --force`: without it a differing `.env` is left alone anyway.
fn init(w: &World) -> std::process::Output {
    w.cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["init", "--force"])
        .output()
        .unwrap()
}

#[test]
fn init_refuses_a_linked_env_and_leaves_its_target_alone() {
    let w = World::new();
    let (_outside, target) = project_and_outside(&w);
    std::os::unix::fs::symlink(&target, w.path(".env")).unwrap();
    let out = init(&w);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(".env is a symbolic link"), "{err}");
    assert!(err.contains("replace the link"), "the fix is named: {err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "MINE=precious\n");
    assert_eq!(crate::mode(&target), 0o644);
}

#[test]
fn init_never_writes_through_a_link_at_a_temporary_name() {
    let w = World::new();
    let (_outside, target) = project_and_outside(&w);
    for name in [".env.tmp", "..env.tmp", ".kinde.toml.tmp", ".env~"] {
        std::os::unix::fs::symlink(&target, w.path(name)).unwrap();
    }
    let out = init(&w);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "MINE=precious\n");
    assert_eq!(crate::mode(&target), 0o644);
    let env = std::fs::symlink_metadata(w.path(".env")).unwrap();
    assert!(env.is_file());
    assert_eq!(crate::mode(&w.path(".env")), 0o600);
}

#[test]
fn the_emulator_never_writes_through_a_link_at_a_temporary_name() {
    let w = World::new();
    let (_outside, target) = project_and_outside(&w);
    for name in [".env.tmp", "..env.tmp", ".env~"] {
        std::os::unix::fs::symlink(&target, w.path(name)).unwrap();
    }
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cargo-kinde"))
        .args([
            "kinde",
            "emulator",
            "--http",
            "--port",
            "0",
            "--env-file",
            ".env",
        ])
        .current_dir(w.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("http://127.0.0.1:"), "{line}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "MINE=precious\n");
    assert!(
        std::fs::read_to_string(w.path(".env"))
            .unwrap()
            .contains("KINDE_DOMAIN=")
    );
}
