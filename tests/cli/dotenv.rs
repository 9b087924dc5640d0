//! `.env` files written by cargo-kinde: merged into what is there, read back as written.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// `cargo kinde emulator --env-file` adds its variables to a project's `.env` instead of
/// replacing the file: the user's other variables, comments and even lines that do not parse stay.
#[test]
fn the_emulator_merges_its_variables_into_an_existing_env_file() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join(".env");
    let mine = "# my project\nDATABASE_URL=postgres://me@localhost/db # local\nKINDE_DOMAIN=https://old.kinde.com\nnot a valid line\nexport FEATURE='on'\n";
    std::fs::write(&env_file, mine).unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("cargo-kinde"))
        .args(["kinde", "emulator", "--port", "0", "--env-file"])
        .arg(&env_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut issuer = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut issuer)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let issuer = issuer.trim();
    assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
    let text = std::fs::read_to_string(&env_file).unwrap();
    let expected_start = format!(
        "# my project\nDATABASE_URL=postgres://me@localhost/db # local\nKINDE_DOMAIN={issuer}\nnot a valid line\nexport FEATURE='on'\nKINDE_MANAGEMENT_CLIENT_ID="
    );
    assert!(text.starts_with(&expected_start), "{text}");
    for var in [
        "KINDE_MANAGEMENT_CLIENT_SECRET=",
        "KINDE_CLIENT_ID=",
        "KINDE_CLIENT_SECRET=",
    ] {
        assert_eq!(text.matches(var).count(), 1, "{var} in {text}");
    }
    #[cfg(unix)]
    assert_eq!(crate::mode(&env_file), 0o600);
}
