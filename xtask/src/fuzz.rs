//! `cargo xtask fuzz [--cases N] [--seconds S]`: the property-based fuzz targets of
//! `tests/fuzz/` (config loader, `.env` parser and writer, token parser and verifier) with many
//! more cases than `cargo test` runs, in release, stopped after S seconds at the most.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::cargo;

pub fn run(args: &[String]) -> Result<(), String> {
    let value = |flag: &str, default: u64| -> Result<u64, String> {
        match args.iter().position(|a| a == flag) {
            Some(i) => args
                .get(i + 1)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{flag} takes a whole number")),
            None => Ok(default),
        }
    };
    let cases = value("--cases", 20_000)?;
    let seconds = value("--seconds", 600)?;
    let mut build = cargo();
    build.args(["test", "--release", "--test", "fuzz", "--no-run"]);
    crate::run_step("cargo test --release --test fuzz --no-run", build)?;
    eprintln!("==> fuzz: {cases} cases per target, at most {seconds} s");
    let started = Instant::now();
    let mut child = cargo()
        .args([
            "test",
            "--release",
            "--test",
            "fuzz",
            "--",
            "--test-threads",
            "2",
        ])
        .env("PROPTEST_CASES", cases.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start cargo test: {e}"))?;
    let deadline = started + Duration::from_secs(seconds);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        use std::io::Read;
        let _ = stdout.read_to_string(&mut out);
    }
    print!("{out}");
    let targets = out.lines().filter(|l| l.starts_with("test ")).count();
    let failed = out
        .lines()
        .filter(|l| l.starts_with("test ") && l.ends_with("FAILED"))
        .count();
    let elapsed = started.elapsed().as_secs_f64();
    match status {
        Some(s) if s.success() => {
            println!(
                "fuzz: {targets} targets x {cases} cases = {} inputs, 0 failures in {elapsed:.0} s",
                targets as u64 * cases
            );
            Ok(())
        }
        Some(_) => Err(format!(
            "fuzz: {failed} of {targets} targets failed (the minimal input is printed above)"
        )),
        None => Err(format!(
            "fuzz: stopped after {seconds} s before finishing {cases} cases; pass fewer --cases or more --seconds"
        )),
    }
}
