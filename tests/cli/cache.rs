//! The token and JWKS caches are not trusted blindly: directories another user could write to
//! are refused, times that cannot be right count as stale, and nothing is written through a link.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::{World, stderr, stdout};

fn now() -> u64 {
    cargo_kinde::clock::now()
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The only file in `dir`.
fn only_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// Give `path` to another user; `false` when this process may not (not running as root).
fn give_away(path: &Path) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return false;
    }
    std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
    true
}

/// A token `w`'s issuer never signed, and the cached JWKS file (written by one `verify`) replaced
/// by a key set holding the forger's key, fetched at `fetched_at`.
fn plant_forged_jwks(w: &World, fetched_at: u64) -> String {
    w.cmd().args(["verify", &w.token()]).assert().success();
    let file = only_file(&w.cache.path().join("jwks"));
    let forger = cargo_kinde::emulator::keys::SigningKey::generate().unwrap();
    let entry = json!({"fetched_at": fetched_at, "jwks": {"keys": [forger.jwk()]}});
    std::fs::write(&file, entry.to_string()).unwrap();
    forger.sign_jwt(&json!({
        "aud": [format!("{}/api", w.issuer())],
        "azp": w.management_id(),
        "exp": now() + 3600,
        "gty": ["client_credentials"],
        "iat": now(),
        "iss": w.issuer(),
        "jti": "6f091ebe-44ba-4afc-bd2f-05fcccafc89e",
        "scope": "read:users",
        "scp": ["read:users"],
        "v": "2",
    }))
}

#[test]
fn a_jwks_planted_in_a_cache_dir_others_can_write_is_refused() {
    let w = World::new();
    let forged = plant_forged_jwks(&w, now());
    let jwks_dir = w.cache.path().join("jwks");
    for (dir, mode) in [(&jwks_dir, 0o777), (&w.cache.path().to_path_buf(), 0o775)] {
        chmod(dir, mode);
        let out = w.cmd().args(["verify", &forged]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&dir.display().to_string()) && err.contains("writable by other users"),
            "{err}"
        );
        assert!(err.contains("chmod 700"), "the fix is named: {err}");
        assert!(!stdout(&out).contains("valid token"), "{}", stdout(&out));
        chmod(dir, 0o700);
    }
    if give_away(&jwks_dir) {
        let out = w.cmd().args(["verify", &forged]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("owned by another user"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn a_jwks_fetched_in_the_future_is_stale() {
    let w = World::new();
    let forged = plant_forged_jwks(&w, now() + 10 * 365 * 86_400);
    let out = w.cmd().args(["verify", &forged]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        w.count("GET /.well-known/jwks"),
        2,
        "the future entry is refetched"
    );
}

/// Run `token` once and return the cache file it wrote.
fn cached_token_file(w: &World) -> PathBuf {
    w.cmd().arg("token").assert().success();
    only_file(&w.cache.path().join("tokens"))
}

#[test]
fn a_token_cache_dir_others_can_write_is_refused() {
    let w = World::new();
    cached_token_file(&w);
    let tokens = w.cache.path().join("tokens");
    chmod(&tokens, 0o770);
    let out = w.cmd().arg("token").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&tokens.display().to_string()),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
    chmod(&tokens, 0o700);
    if give_away(&tokens) {
        let out = w.cmd().arg("token").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("owned by another user"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn cached_tokens_with_implausible_times_are_not_used() {
    let w = World::new();
    let file = cached_token_file(&w);
    let original: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let cases = [
        ("expires in ten years", now() + 10 * 365 * 86_400, now()),
        ("stored in the future", now() + 3600, now() + 86_400),
    ];
    for (i, (why, expires_at, stored_at)) in cases.into_iter().enumerate() {
        let mut entry = original.clone();
        entry["access_token"] = json!("planted-token");
        entry["expires_at"] = json!(expires_at);
        entry["stored_at"] = json!(stored_at);
        std::fs::write(&file, entry.to_string()).unwrap();
        let out = w.cmd().arg("token").output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(!stdout(&out).contains("planted-token"), "{why}");
        assert_eq!(w.count("POST /oauth2/token"), 2 + i as u64, "{why}");
    }
}

#[test]
fn the_token_cache_never_writes_through_a_link() {
    let w = World::new();
    let file = cached_token_file(&w);
    let outside = w.dir.path().join("outside.txt");
    std::fs::write(&outside, "precious\n").unwrap();
    chmod(&outside, 0o644);
    // A link at the cache file itself.
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&outside, &file).unwrap();
    let out = w.cmd().arg("token").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("symbolic link"),
        "the unsaved token is reported: {}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious\n");
    assert_eq!(crate::mode(&outside), 0o644);
    // Links at every temporary name a predictable writer would use.
    std::fs::remove_file(&file).unwrap();
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    for temp in [format!(".{name}.tmp"), format!("{name}.tmp")] {
        std::os::unix::fs::symlink(&outside, file.with_file_name(temp)).unwrap();
    }
    let out = w.cmd().arg("token").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious\n");
    assert_eq!(crate::mode(&outside), 0o644);
    assert!(std::fs::symlink_metadata(&file).unwrap().is_file());
    assert_eq!(crate::mode(&file), 0o600);
}

/// Under a umask of 002 (Ubuntu's and Fedora's default for users with their own group) the cache
/// directories are still created private, so the next run can use them.
#[cfg(unix)]
#[test]
fn a_group_writable_umask_still_makes_a_usable_private_cache() {
    let w = World::new();
    let cache = w.path("fresh-cache");
    let run = |args: &[&str]| {
        let template = w.std_cmd();
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", "umask 002 && exec \"$@\"", "sh"])
            .arg(assert_cmd::cargo::cargo_bin("cargo-kinde"))
            .arg("kinde")
            .args(args)
            .current_dir(w.path(""));
        for (key, value) in template.get_envs() {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        cmd.env("CARGO_KINDE_CACHE_DIR", &cache).output().unwrap()
    };
    let first = run(&["token"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(!stderr(&first).contains("warning"), "{}", stderr(&first));
    let token = String::from_utf8(first.stdout).unwrap();
    let second = run(&["token"]);
    assert!(second.status.success(), "{}", stderr(&second));
    let verified = run(&["verify", token.trim()]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    for dir in [cache.clone(), cache.join("tokens"), cache.join("discovery")] {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
    }
}
