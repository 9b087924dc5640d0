//! `cargo xtask interop`: Kinde's official JS packages (from npm) against the emulator, run by the
//! built `cargo-kinde` binary. `@kinde/jwt-validator` must accept the emulator's tokens through
//! its JWKS, and reject a forged one; `@kinde/management-api-js` must work unchanged for users,
//! callback URLs and APIs.

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
    for file in ["package.json", "jwt-validator.mjs", "management-api.mjs"] {
        std::fs::copy(root().join("xtask/interop").join(file), work.join(file))
            .map_err(|e| format!("cannot copy {file}: {e}"))?;
    }
    let installed = ["jwt-validator", "management-api-js"]
        .iter()
        .all(|p| work.join("node_modules/@kinde").join(p).is_dir());
    if !installed {
        let mut npm = Command::new("npm");
        npm.args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&work);
        run_step(
            "npm install @kinde/jwt-validator @kinde/management-api-js",
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
    let emulator = Emulator::start(&binary, &env_file, &[])?;
    let issuer = emulator.issuer.clone();
    let token = token_from(&binary, &env_file)?;
    let mut node = Command::new("node");
    node.arg("jwt-validator.mjs")
        .arg(&issuer)
        .arg(&token)
        .current_dir(&work);
    let validated = run_step("@kinde/jwt-validator validates the emulator's token", node);
    let mut sdk = Command::new("node");
    sdk.arg("management-api.mjs")
        .arg(&issuer)
        .arg(emulator.var("KINDE_MANAGEMENT_CLIENT_ID"))
        .arg(emulator.var("KINDE_MANAGEMENT_CLIENT_SECRET"))
        .arg(emulator.var("KINDE_CLIENT_ID"))
        .current_dir(&work);
    let managed = run_step("@kinde/management-api-js against the emulator", sdk);
    drop(emulator);
    let third_party = crate::thirdparty::run(&binary);
    validated.and(managed).and(third_party)
}

fn token_from(binary: &Path, env_file: &Path) -> Result<String, String> {
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
