//! `cargo xtask bench`: speed, as ratios against peers measured in the same run (never as timed
//! assertions in tests). Uses the release binary, as users install it.
//!
//! - cold start: `cargo-kinde kinde --version` against `git --version` and `curl --version`;
//! - emulator start-up: spawn to issuer printed (RSA-2048 key generation included);
//! - M2M token: `cargo kinde token --no-cache` against `curl` posting the same form, and a cache
//!   hit against the same `curl`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let mut child = Command::new(bin)
        .args(["kinde", "emulator", "--port", "0", "--env-file"])
        .arg(&env_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut issuer = String::new();
    BufReader::new(child.stdout.take().ok_or("stdout")?)
        .read_line(&mut issuer)
        .map_err(|e| e.to_string())?;
    let issuer = issuer.trim().to_string();
    let env = std::fs::read_to_string(&env_file).map_err(|e| e.to_string())?;
    let var = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_default()
            .to_string()
    };
    let (id, secret) = (
        var("KINDE_MANAGEMENT_CLIENT_ID"),
        var("KINDE_MANAGEMENT_CLIENT_SECRET"),
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
    let _ = child.kill();
    let _ = child.wait();
    Ok(())
}
