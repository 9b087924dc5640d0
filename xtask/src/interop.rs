//! `cargo xtask interop`: Kinde's official SDKs (from npm and PyPI) against the emulator over
//! HTTPS, run by the built `cargo-kinde` binary, each configured only by the emulator's env file
//! (its CA included) with no code changed. `@kinde/jwt-validator` must accept the emulator's
//! tokens through its JWKS, and reject a forged one; `@kinde/management-api-js` (`init()`) must
//! work for users, callback URLs and APIs; `kinde-python-sdk`'s `ManagementClient` must list users;
//! `@kinde/webhooks` `decodeWebhook` must verify a webhook the emulator delivers.
//! `@kinde-oss/kinde-typescript-sdk` must sign a user in, register one and create an organization
//! through the emulator's pages (`login()` → callback → `handleRedirectToApp()` → `getUser()`).
//! `@kinde-oss/kinde-auth-pkce-js` (its UMD build, in a page on its own `http://localhost` origin)
//! must sign a user in inside headless Chromium: `login()` with a `login_hint`, the code exchanged
//! from the page (the emulator's CORS), then `getUser()`, `getAccessToken()` (a token the
//! emulator signed), `getPermissions()` and `getRoles()` (the Account API).

use std::path::Path;
use std::process::Command;

use crate::emulator::Emulator;
use crate::{cargo, root, run_step};

/// `cargo xtask interop`: build the binary, then run the checks.
pub fn run() -> Result<(), String> {
    run_with(true)
}

/// The checks; `build: false` when `cargo test` has just built `target/debug/cargo-kinde` (as in
/// `cargo xtask ci`: a separate `cargo build` would rebuild it without the dev-dependencies'
/// features, for nothing).
pub fn run_with(build: bool) -> Result<(), String> {
    if Command::new("node").arg("--version").output().is_err()
        || Command::new("npm").arg("--version").output().is_err()
    {
        install_node()?;
    }
    let work = root().join("target/interop");
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    for file in [
        "package.json",
        "jwt-validator.mjs",
        "management-api.mjs",
        "webhooks.mjs",
        "typescript-sdk.mjs",
        "pkce-js.mjs",
    ] {
        std::fs::copy(root().join("xtask/interop").join(file), work.join(file))
            .map_err(|e| format!("cannot copy {file}: {e}"))?;
    }
    let installed = [
        "@kinde/jwt-validator",
        "@kinde/management-api-js",
        "@kinde/webhooks",
        "@kinde-oss/kinde-typescript-sdk",
        "@kinde-oss/kinde-auth-pkce-js",
    ]
    .iter()
    .all(|p| work.join("node_modules").join(p).is_dir());
    if !installed {
        let mut npm = Command::new("npm");
        npm.args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&work);
        run_step(
            "npm install @kinde/jwt-validator @kinde/management-api-js @kinde/webhooks @kinde-oss/kinde-typescript-sdk @kinde-oss/kinde-auth-pkce-js",
            npm,
        )?;
    }
    let binary = root().join("target/debug/cargo-kinde");
    if build || !binary.is_file() {
        let mut cargo_build = cargo();
        cargo_build.args(["build", "--quiet", "--bin", "cargo-kinde"]);
        run_step("cargo build --bin cargo-kinde", cargo_build)?;
    }
    let env_file = work.join("emulator.env");
    let cache = work.join("cache");
    let emulator = Emulator::start_tls(&binary, &env_file, &cache, &[])?;
    let issuer = emulator.issuer.clone();
    if !issuer.starts_with("https://") {
        return Err(format!("the emulator serves {issuer}, not https"));
    }
    let token = token_from(&binary, &env_file, &cache)?;
    // Each SDK sees the env file's variables and nothing of the caller's Kinde settings.
    let from_env_file = |program: &str| {
        let mut command = Command::new(program);
        for (key, _) in std::env::vars() {
            if key.starts_with("KINDE_") {
                command.env_remove(key);
            }
        }
        command.envs(emulator.vars()).current_dir(&work);
        command
    };
    let mut node = from_env_file("node");
    node.arg("jwt-validator.mjs").arg(&issuer).arg(&token);
    let validated = run_step(
        "@kinde/jwt-validator validates the emulator's token (JWKS over https)",
        node,
    );
    // Before the management SDK's run, which replaces the web app's callback URLs.
    let mut sign_in = from_env_file("node");
    sign_in.arg("typescript-sdk.mjs");
    let signed_in = run_step(
        "@kinde-oss/kinde-typescript-sdk login/register/createOrg from the env file, over https",
        sign_in,
    );
    let mut sdk = from_env_file("node");
    sdk.arg("management-api.mjs");
    let managed = run_step(
        "@kinde/management-api-js init() from the env file, over https",
        sdk,
    );
    let mut hooks = from_env_file("node");
    hooks.arg("webhooks.mjs");
    let webhooks = run_step(
        "@kinde/webhooks decodeWebhook verifies a delivered user.created, over https",
        hooks,
    );
    // Its own front-end app and role: nothing the other checks read.
    let browser = match crate::chromium() {
        Some(chromium) => {
            let mut page = from_env_file("node");
            page.arg("pkce-js.mjs").arg(chromium);
            run_step(
                "@kinde-oss/kinde-auth-pkce-js signs in inside headless Chromium, from its own origin, over https",
                page,
            )
        }
        // `cargo xtask ci` installs it first.
        None if std::env::var_os("CI").is_some() => {
            Err("chromium is required in CI for the kinde-auth-pkce-js check".into())
        }
        None => {
            eprintln!(
                "==> @kinde-oss/kinde-auth-pkce-js: skipped, no chromium on this machine (apt-get install chromium)"
            );
            Ok(())
        }
    };
    let python = python_sdk(&work).and_then(|python| {
        let mut client = from_env_file(&python.to_string_lossy());
        client.arg("management.py");
        run_step(
            "kinde-python-sdk ManagementClient from the env file, over https",
            client,
        )
    });
    drop(emulator);
    let third_party = crate::thirdparty::run(&binary);
    validated
        .and(signed_in)
        .and(managed)
        .and(webhooks)
        .and(browser)
        .and(python)
        .and(third_party)
}

/// A virtual environment in `work` with `kinde-python-sdk` (pinned), installed once.
fn python_sdk(work: &Path) -> Result<std::path::PathBuf, String> {
    std::fs::copy(
        root().join("xtask/interop/management.py"),
        work.join("management.py"),
    )
    .map_err(|e| format!("cannot copy management.py: {e}"))?;
    let venv = work.join("venv");
    let python = venv.join("bin/python");
    if !python.is_file() {
        let mut create = Command::new("python3");
        create.args(["-m", "venv"]).arg(&venv);
        run_step("python3 -m venv", create)?;
    }
    let installed = Command::new(&python)
        .args(["-c", "import kinde_sdk.management"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        let mut pip = Command::new(&python);
        pip.args(["-m", "pip", "install", "-q", "kinde-python-sdk==2.4.0"]);
        run_step("pip install kinde-python-sdk", pip)?;
    }
    Ok(python)
}

fn token_from(binary: &Path, env_file: &Path, cache: &Path) -> Result<String, String> {
    // Outside the repository: its own kinde.toml (the README demo) must not be picked up.
    let project = std::env::temp_dir().join(format!("cargo-kinde-interop-{}", std::process::id()));
    std::fs::create_dir_all(&project).map_err(|e| e.to_string())?;
    std::fs::copy(env_file, project.join(".env")).map_err(|e| e.to_string())?;
    let out = Command::new(binary)
        .args(["kinde", "token", "--no-cache"])
        .current_dir(&project)
        .env_remove("KINDE_DOMAIN")
        .env_remove("KINDE_MANAGEMENT_CLIENT_ID")
        .env_remove("KINDE_MANAGEMENT_CLIENT_SECRET")
        // Where the emulator keeps its CA: cargo kinde trusts it from there, with no flag.
        .env("CARGO_KINDE_CACHE_DIR", cache)
        .output()
        .map_err(|e| format!("cannot run cargo-kinde token: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo-kinde token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// CI machines run as root with Debian's packages reachable: install Node.js and npm there.
fn install_node() -> Result<(), String> {
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    if !root_user {
        return Err("node and npm are needed for the interop check: install them (Debian: apt-get install nodejs npm)".into());
    }
    let mut update = Command::new("apt-get");
    update.arg("update").arg("-qq");
    run_step("apt-get update", update)?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "-qq", "nodejs", "npm"])
        .env("DEBIAN_FRONTEND", "noninteractive");
    run_step("apt-get install nodejs npm", install)
}
