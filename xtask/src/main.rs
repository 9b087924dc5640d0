//! Project tasks: `cargo xtask ci | codegen [--check] | interop | bench [startup | persistence | plan] | tidy | fuzz | linters`.

mod bench;
mod codegen;
mod emulator;
mod fuzz;
mod interop;
mod linters;
mod thirdparty;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("codegen") => codegen::run(args.iter().any(|a| a == "--check")),
        Some("interop") => interop::run(),
        Some("bench") => bench::run(),
        Some("tidy") => tidy::run(),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("linters") => linters::run(),
        _ => Err("usage: cargo xtask <ci | codegen [--check] | interop | bench [startup | persistence | plan] | tidy | fuzz [--cases N] [--seconds S] | linters>".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask's parent directory).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// `cargo` as the `CARGO` variable names it, so the same toolchain runs every step.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Run a command, failing with its name when it fails.
pub fn run_step(name: &str, mut cmd: Command) -> Result<(), String> {
    eprintln!("==> {name}");
    let started = std::time::Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("{name}: cannot start: {e}"))?;
    eprintln!(
        "    {name}: {} in {:.1}s",
        if status.success() { "ok" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    if status.success() {
        Ok(())
    } else {
        Err(format!("{name} failed ({status})"))
    }
}

fn ci() -> Result<(), String> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run_step("cargo fmt --check", fmt)?;
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run_step("cargo clippy -D warnings", clippy)?;
    // The slim install (the CLI without the emulator) and the library for users' tests (the
    // emulator without the CLI) each build on their own.
    let mut slim = cargo();
    slim.args([
        "clippy",
        "--no-default-features",
        "--features",
        "cli",
        "--lib",
        "--bins",
        "--",
        "-D",
        "warnings",
    ]);
    run_step("cargo clippy --no-default-features --features cli", slim)?;
    let mut testing = cargo();
    testing.args([
        "clippy",
        "--no-default-features",
        "--features",
        "testing",
        "--lib",
        "--",
        "-D",
        "warnings",
    ]);
    run_step(
        "cargo clippy --no-default-features --features testing",
        testing,
    )?;
    codegen::run(true)?;
    ensure_chromium()?;
    // The tests that lint init's CI files run (and fail on findings) only with the linters.
    let linters = linters::install()?;
    let (passed, failed) = test_counted(&linters)?;
    fresh_copy()?;
    interop::run_with(false)?;
    eprintln!("==> ci passed");
    // The plain closing line CI runners read, for the whole run.
    println!("ci: {passed} passed, {failed} failed");
    Ok(())
}

/// The repository's files (tracked and new, not ignored) copied to a directory with nothing beside
/// it, where codegen's check and the spec conformance tests run again: a user's clone has
/// nothing beside it, so nothing may read outside the repository.
fn fresh_copy() -> Result<(), String> {
    eprintln!("==> fresh copy: codegen --check and spec tests with nothing beside the repository");
    let started = std::time::Instant::now();
    let base = std::env::temp_dir().join(format!("cargo-kinde-fresh-{}", std::process::id()));
    let copy = base.join("cargo-kinde");
    let _ = std::fs::remove_dir_all(&base);
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root())
        .output()
        .map_err(|e| format!("cannot run git ls-files: {e}"))?;
    if !listed.status.success() {
        return Err("git ls-files failed: the fresh-copy check needs a git checkout".into());
    }
    for name in listed.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name);
        let from = root().join(name.as_ref());
        if !from.is_file() {
            continue; // deleted in the work tree but still in the index
        }
        let to = copy.join(name.as_ref());
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::copy(&from, &to).map_err(|e| format!("{}: {e}", from.display()))?;
    }
    // Share the build directory so only the workspace's own crates build again.
    let target = root().join("target");
    let run = |args: &[&str]| -> Result<(), String> {
        let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.args(args)
            .current_dir(&copy)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("KINDE_SPEC");
        run_step(&format!("(fresh copy) cargo {}", args.join(" ")), cmd)
    };
    let result = run(&[
        "run",
        "--quiet",
        "--package",
        "xtask",
        "--",
        "codegen",
        "--check",
    ])
    .and_then(|()| run(&["test", "--quiet", "--test", "cli", "spec::"]));
    let _ = std::fs::remove_dir_all(&base);
    result?;
    eprintln!(
        "    fresh copy: ok in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Chromium where Debian (or Google) installs it, as the browser test looks for it.
pub fn chromium() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// The browser test needs Debian's chromium; CI machines run as root and can install it.
fn ensure_chromium() -> Result<(), String> {
    if chromium().is_some() {
        return Ok(());
    }
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    if !root_user {
        return Err(
            "the browser test needs chromium: install it (Debian: apt-get install chromium)".into(),
        );
    }
    let mut update = Command::new("apt-get");
    update.args(["update", "-qq"]);
    run_step("apt-get update", update)?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "-qq", "chromium"])
        .env("DEBIAN_FRONTEND", "noninteractive");
    run_step("apt-get install chromium", install)
}

/// `cargo test --workspace`, echoing its output and adding up its `test result:` lines.
fn test_counted(linters: &Path) -> Result<(usize, usize), String> {
    use std::io::{BufRead, BufReader};
    eprintln!("==> cargo test --workspace");
    let started = std::time::Instant::now();
    let mut child = cargo()
        .args(["test", "--workspace"])
        .env(linters::ENV, linters)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start cargo test: {e}"))?;
    let (mut passed, mut failed) = (0, 0);
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            if let Some(rest) = line.strip_prefix("test result: ") {
                let count = |word: &str| {
                    rest.split(';')
                        .find_map(|part| {
                            part.trim()
                                .strip_suffix(word)
                                .and_then(|n| n.trim().rsplit(' ').next()?.parse::<usize>().ok())
                        })
                        .unwrap_or(0)
                };
                passed += count(" passed");
                failed += count(" failed");
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    eprintln!(
        "    cargo test: {passed} passed, {failed} failed in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    if status.success() {
        Ok((passed, failed))
    } else {
        Err(format!("cargo test failed ({status})"))
    }
}
