//! `.env` files written by cargo-kinde: merged into what is there, read back as written.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::stderr;

/// `cargo kinde emulator --port 0 ARGS`, stopped once it has said it is listening: its issuer and
/// everything it wrote to stderr.
fn emulator(dir: &Path, args: &[&str]) -> (String, String) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("cargo-kinde"))
        .args(["kinde", "emulator", "--http", "--port", "0"])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut issuer = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut issuer)
        .unwrap();
    let mut err = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        err.push_str(&line);
        err.push('\n');
        if line.contains("Ctrl-C stops it") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    (issuer.trim().to_string(), err)
}

/// `cargo kinde emulator --port 0 ARGS` expected to fail before listening.
fn emulator_fails(dir: &Path, args: &[&str]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("cargo-kinde")
        .unwrap()
        .args(["kinde", "emulator", "--http", "--port", "0"])
        .args(args)
        .current_dir(dir)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap()
}

/// `cargo kinde emulator --env-file` adds its variables to a project's `.env` instead of
/// replacing the file: the user's other variables, comments and even lines that do not parse stay.
#[test]
fn the_emulator_merges_its_variables_into_an_existing_env_file() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join(".env");
    let mine = "# my project\nDATABASE_URL=postgres://me@localhost/db # local\nKINDE_DOMAIN=https://old.kinde.com\nnot a valid line\nexport FEATURE='on'\n";
    std::fs::write(&env_file, mine).unwrap();
    let (issuer, err) = emulator(dir.path(), &["--env-file", ".env", "--force"]);
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
    // It says which names it replaced, never their values.
    assert!(err.contains("replaced KINDE_DOMAIN in .env"), "{err}");
    assert!(
        !err.contains("old.kinde.com") && !err.contains("postgres"),
        "{err}"
    );
    let secret_line = text
        .lines()
        .find(|l| l.starts_with("KINDE_MANAGEMENT_CLIENT_SECRET="))
        .unwrap();
    let secret = secret_line.split_once('=').unwrap().1;
    // A second run replaces the ids and secrets of the previous tenant, and says so.
    let (_, err) = emulator(dir.path(), &["--env-file", ".env"]);
    assert!(
        err.contains(
            "replaced KINDE_DOMAIN, KINDE_MANAGEMENT_CLIENT_ID, KINDE_MANAGEMENT_CLIENT_SECRET"
        ),
        "{err}"
    );
    assert!(!err.contains(secret), "{err}");
}

#[test]
fn a_real_tenant_in_env_is_replaced_only_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join(".env");
    for domain in ["https://acme.kinde.com", "acme.kinde.com", "not a url"] {
        let mine = format!("KINDE_DOMAIN={domain:?}\nKINDE_MANAGEMENT_CLIENT_SECRET=keep-me\n");
        std::fs::write(&env_file, &mine).unwrap();
        let out = emulator_fails(dir.path(), &["--env-file", ".env"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        for part in ["KINDE_DOMAIN", ".env", "--force"] {
            assert!(err.contains(part), "{part} missing from: {err}");
        }
        assert!(!err.contains("keep-me"), "{err}");
        assert_eq!(std::fs::read_to_string(&env_file).unwrap(), mine);
    }
    // The Next.js SDK's issuer name, a domain line that does not parse, and secrets with no
    // issuer beside them are a tenant too.
    for mine in [
        "KINDE_ISSUER_URL=https://acme.kinde.com\nKINDE_CLIENT_SECRET=keep-me-RealProd123\n",
        "KINDE_DOMAIN=\"https://acme.kinde.com\nKINDE_CLIENT_SECRET=keep-me-RealProd123\n",
        "KINDE_CLIENT_ID=realid\nKINDE_CLIENT_SECRET=keep-me-RealProd123\n",
    ] {
        std::fs::write(&env_file, mine).unwrap();
        let out = emulator_fails(dir.path(), &["--env-file", ".env"]);
        assert_eq!(out.status.code(), Some(2), "{mine}: {}", stderr(&out));
        assert!(!stderr(&out).contains("keep-me"), "{}", stderr(&out));
        assert_eq!(std::fs::read_to_string(&env_file).unwrap(), mine);
    }
    // The emulator's own earlier domain is replaced without asking.
    std::fs::write(&env_file, "KINDE_DOMAIN=http://127.0.0.1:5380\n").unwrap();
    let (issuer, err) = emulator(dir.path(), &["--env-file", ".env"]);
    assert!(err.contains("replaced KINDE_DOMAIN"), "{err}");
    let text = std::fs::read_to_string(&env_file).unwrap();
    assert!(
        text.starts_with(&format!("KINDE_DOMAIN={issuer}\n")),
        "{text}"
    );
    let out = emulator_fails(dir.path(), &["--force"]);
    assert_eq!(out.status.code(), Some(2), "--force needs --env-file");
}

#[test]
fn the_env_file_is_added_to_gitignore_in_a_work_tree() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join(".gitignore"), "/target\n# mine").unwrap();
    let (_, err) = emulator(dir.path(), &["--env-file", ".env"]);
    assert!(err.contains("added .env to .gitignore"), "{err}");
    let ignore = std::fs::read_to_string(dir.path().join(".gitignore")).unwrap();
    assert!(ignore.starts_with("/target\n# mine\n"), "{ignore}");
    assert_eq!(
        ignore.lines().filter(|l| *l == ".env").count(),
        1,
        "{ignore}"
    );
    let (_, err) = emulator(dir.path(), &["--env-file", ".env"]);
    assert!(!err.contains(".gitignore"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".gitignore")).unwrap(),
        ignore,
        "added once"
    );
    // Outside a work tree nothing is added.
    let plain = tempfile::tempdir().unwrap();
    emulator(plain.path(), &["--env-file", ".env"]);
    assert!(!plain.path().join(".gitignore").exists());
}

#[cfg(unix)]
#[test]
fn a_linked_env_file_is_refused_before_the_emulator_starts() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("precious.env");
    std::fs::write(&target, "MINE=1\n").unwrap();
    std::os::unix::fs::symlink(&target, dir.path().join(".env")).unwrap();
    let out = emulator_fails(dir.path(), &["--env-file", ".env"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(".env is a symbolic link"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty(), "it never listened");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "MINE=1\n");
}

#[test]
fn a_state_file_in_a_missing_directory_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = emulator_fails(dir.path(), &["--state", "/nonexistent/dir/x.json"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("/nonexistent/dir/x.json") && err.contains("mkdir -p /nonexistent/dir"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "it never listened");
}
