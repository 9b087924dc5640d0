//! The command-line interface as text: `--help` of every command is checked in, so a change to
//! the interface is a visible diff. `UPDATE_SNAPSHOTS=1 cargo test --test cli help` rewrites them.

const COMMANDS: &[&str] = &[
    "", "token", "verify", "config", "register", "api", "smoke", "login", "logout", "init",
    "emulator",
];

#[test]
fn help_texts_match_the_snapshots() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/snapshots");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut stale = Vec::new();
    for command in COMMANDS {
        let mut cmd = assert_cmd::Command::cargo_bin("cargo-kinde").unwrap();
        cmd.arg("kinde")
            .env("COLUMNS", "100")
            .env_remove("KINDE_PROFILE");
        if !command.is_empty() {
            cmd.arg(command);
        }
        let out = cmd.arg("--help").output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let name = if command.is_empty() {
            "cargo-kinde"
        } else {
            command
        };
        let path = dir.join(format!("{name}.help.txt"));
        if update {
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "help text changed (run `UPDATE_SNAPSHOTS=1 cargo test --test cli help` and review the diff): {stale:?}"
    );
}
