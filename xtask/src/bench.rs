//! `cargo xtask bench`: speed, as ratios against peers measured in the same run (never as timed
//! assertions in tests). Uses the release binary, as users install it.
//!
//! - cold start: `cargo-kinde kinde --version` against `git --version` and `curl --version`;
//! - emulator start-up: spawn to issuer printed (RSA-2048 key generation included);
//! - M2M token: `cargo kinde token --no-cache` against `curl` posting the same form, and a cache
//!   hit against the same `curl`;
//! - smoke: 20 checks against the emulator with 200 ms injected latency each, against Postman's
//!   CLI runner `newman` running the same token request and 20 requests, and against the
//!   latency-bound target of 1.3 x (one token round trip + one check round trip).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::emulator::Emulator;
use crate::{cargo, root, run_step};

const RUNS: usize = 30;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut() -> Result<(), String>) -> Result<Duration, String> {
    f()?; // warm the page cache
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        f()?;
        samples.push(started.elapsed());
    }
    Ok(median(samples))
}

fn run_quiet(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn line(what: &str, ours: Duration, peer: &str, theirs: Duration) {
    println!(
        "| {what} | {} | {peer} | {} | {:.2} |",
        ms(ours),
        ms(theirs),
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}

pub fn run() -> Result<(), String> {
    let mut build = cargo();
    build.args(["build", "--release", "--quiet", "--bin", "cargo-kinde"]);
    run_step("cargo build --release", build)?;
    let bin = root().join("target/release/cargo-kinde");
    let dir = std::env::temp_dir().join(format!("cargo-kinde-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = measure(&bin, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(bin: &Path, dir: &Path) -> Result<(), String> {
    println!("| measurement | cargo-kinde | peer | peer time | ratio |");
    println!("|---|---|---|---|---|");
    let ours = time(RUNS, || {
        run_quiet(Command::new(bin).args(["kinde", "--version"]))
    })?;
    for peer in ["git", "curl"] {
        if let Ok(theirs) = time(RUNS, || run_quiet(Command::new(peer).arg("--version"))) {
            line(
                "cold start (`--version`)",
                ours,
                &format!("`{peer} --version`"),
                theirs,
            );
        }
    }

    let mut startups = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let mut child = Command::new(bin)
            .args(["kinde", "emulator", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut issuer = String::new();
        BufReader::new(child.stdout.take().ok_or("stdout")?)
            .read_line(&mut issuer)
            .map_err(|e| e.to_string())?;
        startups.push(started.elapsed());
        let _ = child.kill();
        let _ = child.wait();
    }
    println!(
        "| emulator start-up (spawn to listening, median of 10) | {} | | | |",
        ms(median(startups))
    );

    let env_file = dir.join(".env");
    let emulator = Emulator::start(bin, &env_file, &[])?;
    let issuer = emulator.issuer.clone();
    let (id, secret) = (
        emulator.var("KINDE_MANAGEMENT_CLIENT_ID"),
        emulator.var("KINDE_MANAGEMENT_CLIENT_SECRET"),
    );
    let cache = dir.join("cache");
    let kinde = |args: &[&str]| {
        let mut cmd = Command::new(bin);
        cmd.arg("kinde")
            .args(args)
            .current_dir(dir)
            .env("CARGO_KINDE_CACHE_DIR", &cache);
        cmd
    };
    let curl = || {
        let mut cmd = Command::new("curl");
        cmd.args(["-sf", "-o", "/dev/null", "-X", "POST"])
            .arg(format!("{issuer}/oauth2/token"))
            .args(["-d", "grant_type=client_credentials", "-d"])
            .arg(format!("client_id={id}"))
            .arg("-d")
            .arg(format!("client_secret={secret}"))
            .arg("-d")
            .arg(format!("audience={issuer}/api"));
        cmd
    };
    let fresh = time(RUNS, || run_quiet(&mut kinde(&["token", "--no-cache"])))?;
    let theirs = time(RUNS, || run_quiet(&mut curl()))?;
    line("M2M token, new", fresh, "`curl` POST /oauth2/token", theirs);
    let cached = time(RUNS, || run_quiet(&mut kinde(&["token"])))?;
    line(
        "M2M token, cached",
        cached,
        "`curl` POST /oauth2/token",
        theirs,
    );
    let token = String::from_utf8_lossy(
        &kinde(&["token"])
            .output()
            .map_err(|e| e.to_string())?
            .stdout,
    )
    .trim()
    .to_string();
    let verify = time(RUNS, || run_quiet(&mut kinde(&["verify", &token])))?;
    println!("| verify (JWKS cached on disk) | {} | | | |", ms(verify));
    drop(emulator);
    smoke_vs_newman(bin, dir)
}

const CHECKS: usize = 20;
const LATENCY_MS: u64 = 200;

fn smoke_vs_newman(bin: &Path, dir: &Path) -> Result<(), String> {
    let env_file = dir.join(".env");
    let emulator = Emulator::start(
        bin,
        &env_file,
        &["--fault", &format!("latency:{LATENCY_MS}@/api/v1/users")],
    )?;
    let issuer = emulator.issuer.clone();
    let (id, secret) = (
        emulator.var("KINDE_MANAGEMENT_CLIENT_ID"),
        emulator.var("KINDE_MANAGEMENT_CLIENT_SECRET"),
    );
    let mut toml = String::new();
    for i in 0..CHECKS {
        toml.push_str(&format!("[[smoke]]\nname = \"users {i}\"\npath = \"/api/v1/users\"\n[[smoke.assert]]\npointer = \"/users\"\nmin_length = 1\n\n"));
    }
    std::fs::write(dir.join("kinde.toml"), toml).map_err(|e| e.to_string())?;

    // The two round trips the target is made of, measured with curl.
    let token_rt = time(5, || {
        run_quiet(
            Command::new("curl")
                .args(["-sf", "-o", "/dev/null", "-X", "POST"])
                .arg(format!("{issuer}/oauth2/token"))
                .args(["-d", "grant_type=client_credentials", "-d"])
                .arg(format!("client_id={id}"))
                .arg("-d")
                .arg(format!("client_secret={secret}"))
                .arg("-d")
                .arg(format!("audience={issuer}/api")),
        )
    })?;
    let check_rt = time(5, || {
        run_quiet(
            Command::new("curl")
                .args(["-s", "-o", "/dev/null"])
                .arg(format!("{issuer}/api/v1/users")),
        )
    })?;
    let mut run = 0;
    let smoke = time(5, || {
        run += 1;
        // A fresh token cache each run: the token round trip is part of what is measured.
        run_quiet(
            Command::new(bin)
                .args(["kinde", "smoke", "--format", "json"])
                .current_dir(dir)
                .env("CARGO_KINDE_CACHE_DIR", dir.join(format!("cache-{run}"))),
        )
    })?;
    let target = (token_rt + check_rt).mul_f64(1.3);
    println!(
        "| smoke, {CHECKS} checks at {LATENCY_MS} ms latency | {} | target 1.3 x (token {} + check {}) | {} | {:.2} |",
        ms(smoke),
        ms(token_rt),
        ms(check_rt),
        ms(target),
        smoke.as_secs_f64() / target.as_secs_f64()
    );
    match newman(dir, &issuer, &id, &secret) {
        Ok(theirs) => line(
            &format!("smoke, {CHECKS} checks at {LATENCY_MS} ms latency"),
            smoke,
            "`newman run` (same requests)",
            theirs,
        ),
        Err(e) => println!("| newman | | not measured: {e} | | |"),
    }
    drop(emulator);
    Ok(())
}

/// The same token request and 20 checks as a Postman collection run by newman (from npm).
fn newman(dir: &Path, issuer: &str, id: &str, secret: &str) -> Result<Duration, String> {
    let work = root().join("target/bench");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    std::fs::copy(
        root().join("xtask/bench/package.json"),
        work.join("package.json"),
    )
    .map_err(|e| e.to_string())?;
    if !work.join("node_modules/.bin/newman").exists() {
        let mut npm = Command::new("npm");
        npm.args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&work);
        run_step("npm install newman", npm)?;
    }
    let token_item = format!(
        r#"{{"name":"token","event":[{{"listen":"test","script":{{"exec":["pm.environment.set('token', pm.response.json().access_token); pm.test('200', () => pm.response.to.have.status(200));"]}}}}],"request":{{"method":"POST","header":[],"body":{{"mode":"urlencoded","urlencoded":[{{"key":"grant_type","value":"client_credentials"}},{{"key":"client_id","value":"{id}"}},{{"key":"client_secret","value":"{secret}"}},{{"key":"audience","value":"{issuer}/api"}}]}},"url":"{issuer}/oauth2/token"}}}}"#
    );
    let mut items = vec![token_item];
    for i in 0..CHECKS {
        items.push(format!(
            r#"{{"name":"users {i}","event":[{{"listen":"test","script":{{"exec":["pm.test('200', () => pm.response.to.have.status(200)); pm.test('users', () => pm.expect(pm.response.json().users.length).to.be.above(0));"]}}}}],"request":{{"method":"GET","header":[{{"key":"Authorization","value":"Bearer {{{{token}}}}"}}],"url":"{issuer}/api/v1/users"}}}}"#
        ));
    }
    let collection = format!(
        r#"{{"info":{{"name":"cargo-kinde bench","schema":"https://schema.getpostman.com/json/collection/v2.1.0/collection.json"}},"item":[{}]}}"#,
        items.join(",")
    );
    let file = dir.join("collection.json");
    std::fs::write(&file, collection).map_err(|e| e.to_string())?;
    let newman = work.join("node_modules/.bin/newman");
    time(3, || {
        run_quiet(Command::new(&newman).arg("run").arg(&file).args([
            "--reporters",
            "cli",
            "--bail",
        ]))
    })
}
