//! `cargo xtask bench`: speed, as ratios against peers measured in the same run (never as timed
//! assertions in tests). Uses the release binary, as users install it.
//!
//! - cold start: `cargo-kinde kinde --version` against `git --version` and `curl --version`;
//! - emulator start-up: spawn to issuer printed (RSA-2048 key generation included);
//! - M2M token: `cargo kinde token --no-cache` against `curl` posting the same form, and a cache
//!   hit against the same `curl`;
//! - smoke: 20 checks against the emulator with 200 ms injected latency each, against Postman's
//!   CLI runner `newman` running the same token request and 20 requests, and against the
//!   latency-bound target of 1.3 x (one token round trip + one check round trip);
//! - persistence: with `--state`, the rate of creating 10,000 users, the latency of listing
//!   them and the rate of issuing M2M tokens over one and two connections (`cargo xtask bench
//!   persistence` runs only this).
//!
//! - plan: `register --check` for a kinde.toml declaring what a seeded tenant of 200 roles, 500
//!   permissions and 100 organizations holds (issue 13's goal: under 1 s; `cargo xtask bench plan`
//!   runs only this).
//!
//! - openapi: `smoke --openapi` of a generated document of 200 operations (100 paths, GET and POST
//!   with a body) against a local axum service verifying the emulator's tokens on each route, with
//!   its permission (issue 14's goal: under 2 s; `cargo xtask bench openapi` runs only this).
//!
//! `cargo xtask bench startup` runs only the start-up and token rows, cached `token` against
//! `--version` included.

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

/// Medians of `f` and `g` run alternately, so a change in the machine's load between them cannot
/// skew their ratio.
fn time_pair(
    runs: usize,
    mut f: impl FnMut() -> Result<(), String>,
    mut g: impl FnMut() -> Result<(), String>,
) -> Result<(Duration, Duration), String> {
    f()?;
    g()?;
    let (mut a, mut b) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for _ in 0..runs {
        let started = Instant::now();
        f()?;
        a.push(started.elapsed());
        let started = Instant::now();
        g()?;
        b.push(started.elapsed());
    }
    Ok((median(a), median(b)))
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
    let part = std::env::args().nth(2);
    if let Some(other) = part
        .as_deref()
        .filter(|p| !["startup", "persistence", "plan", "openapi"].contains(p))
    {
        return Err(format!(
            "bench: unknown part `{other}`; usage: cargo xtask bench [startup | persistence | plan | openapi]"
        ));
    }
    // `CARGO_KINDE_BIN` measures another build (e.g. an older commit's) without building.
    let bin = match std::env::var_os("CARGO_KINDE_BIN") {
        Some(bin) => std::path::PathBuf::from(bin),
        None => {
            let mut build = cargo();
            build.args(["build", "--release", "--quiet", "--bin", "cargo-kinde"]);
            run_step("cargo build --release", build)?;
            root().join("target/release/cargo-kinde")
        }
    };
    let dir = std::env::temp_dir().join(format!("cargo-kinde-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = match part.as_deref() {
        Some("persistence") => persistence(&bin, &dir),
        Some("plan") => plan_speed(&bin, &dir),
        Some("openapi") => openapi_speed(&bin, &dir),
        // Start-up and token rows only (no emulator start-up loop, smoke, newman or persistence).
        Some("startup") => measure(&bin, &dir, false),
        _ => measure(&bin, &dir, true)
            .and_then(|()| persistence(&bin, &dir))
            .and_then(|()| plan_speed(&bin, &dir))
            .and_then(|()| openapi_speed(&bin, &dir)),
    };
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(bin: &Path, dir: &Path, full: bool) -> Result<(), String> {
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
    for _ in 0..if full { 10 } else { 0 } {
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
    if full {
        println!(
            "| emulator start-up (spawn to listening, median of 10) | {} | | | |",
            ms(median(startups))
        );
    }

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
    // A cached token makes no request, so it should cost about a start-up (goal: within 2x);
    // the two are timed alternately so the ratio is of the same moments.
    let (cached, version) = time_pair(
        RUNS,
        || run_quiet(&mut kinde(&["token"])),
        || run_quiet(Command::new(bin).args(["kinde", "--version"])),
    )?;
    line(
        "cached `token` vs `--version` (alternated)",
        cached,
        "`cargo kinde --version`",
        version,
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
    if !full {
        return Ok(());
    }
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

const USERS: usize = 10_000;
/// Token requests timed over one connection, after the users exist.
const TOKENS: usize = 2_000;

/// Users created through one keep-alive `curl` (so process start-up is not measured), then the
/// latency of listing them, all with `--state`: persistence must stay off the request path.
fn persistence(bin: &Path, dir: &Path) -> Result<(), String> {
    let env_file = dir.join(".env");
    let state = dir.join("state.json");
    let _ = std::fs::remove_file(&state);
    let emulator = Emulator::start(bin, &env_file, &["--state", &state.to_string_lossy()])?;
    let issuer = emulator.issuer.clone();
    let out = Command::new(bin)
        .args(["kinde", "token", "--no-cache"])
        .current_dir(dir)
        .env("CARGO_KINDE_CACHE_DIR", dir.join("cache"))
        .output()
        .map_err(|e| e.to_string())?;
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || token.is_empty() {
        return Err(format!(
            "no token: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let config = dir.join("create-users.curl");
    let mut text = String::new();
    for i in 0..USERS {
        // curl's config syntax: one request per block, `next` between them, `\"` inside quotes.
        text.push_str(&format!(
            r#"url = "{issuer}/api/v1/user"
request = "POST"
header = "Authorization: Bearer {token}"
header = "Content-Type: application/json"
data = "{{\"profile\":{{\"given_name\":\"U{i}\"}},\"identities\":[{{\"type\":\"email\",\"details\":{{\"email\":\"u{i}@bench.example\"}}}}]}}"
output = "/dev/null"
write-out = "%{{http_code}} %{{time_total}}\n"
"#
        ));
        if i + 1 < USERS {
            text.push_str("next\n");
        }
    }
    std::fs::write(&config, text).map_err(|e| e.to_string())?;
    let list = |query: &str| {
        let mut cmd = Command::new("curl");
        cmd.args(["-sf", "-o", "/dev/null", "-H"])
            .arg(format!("Authorization: Bearer {token}"))
            .arg(format!("{issuer}/api/v1/users{query}"));
        cmd
    };
    // curl's per-request lines go to a file: a pipe nobody reads while the users are listed
    // below fills at 64 KiB (about 5,000 lines) and stops curl.
    let results = dir.join("create-users.out");
    let sink = std::fs::File::create(&results).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut creating = Command::new("curl")
        .args(["-s", "-K"])
        .arg(&config)
        .stdout(Stdio::from(sink))
        .spawn()
        .map_err(|e| format!("curl: {e}"))?;
    // Users are listed while they are being created: a save on the request path shows here.
    let mut during = Vec::new();
    while creating.try_wait().map_err(|e| e.to_string())?.is_none() {
        let at = Instant::now();
        run_quiet(&mut list(""))?;
        during.push(at.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    creating.wait().map_err(|e| e.to_string())?;
    let took = started.elapsed();
    let lines = std::fs::read_to_string(&results).map_err(|e| e.to_string())?;
    let created = lines.lines().filter(|l| l.starts_with("200 ")).count();
    if created != USERS {
        return Err(format!(
            "created {created} of {USERS} users: {}",
            lines.lines().find(|l| !l.starts_with("200 ")).unwrap_or("")
        ));
    }
    let times: Vec<f64> = lines
        .lines()
        .filter_map(|l| l.split_once(' ')?.1.parse().ok())
        .collect();
    let tail = &times[times.len().saturating_sub(500)..];
    println!(
        "| `--state`: create {USERS} users over one connection | {:.0} users/s overall ({}), {:.0} users/s for the last 500 | | | |",
        USERS as f64 / took.as_secs_f64(),
        ms(took),
        tail.len() as f64 / tail.iter().sum::<f64>()
    );
    if !during.is_empty() {
        println!(
            "| `--state`: list users (first page) while they are created, median of {} | {} | | | |",
            during.len(),
            ms(median(during))
        );
    }
    let first = time(RUNS, || run_quiet(&mut list("")))?;
    println!(
        "| `--state`: list users, first page of {} (curl, process included) | {} | | | |",
        USERS + 5,
        ms(first)
    );
    // The request alone: 200 first pages through one keep-alive curl, each timed by curl
    // (`time_total`), so neither process start-up nor connection set-up is in it.
    let pages = dir.join("list-users.curl");
    let block = format!(
        r#"url = "{issuer}/api/v1/users"
header = "Authorization: Bearer {token}"
output = "/dev/null"
write-out = "%{{http_code}} %{{time_total}}\n"
"#
    );
    std::fs::write(&pages, vec![block.as_str(); 200].join("next\n")).map_err(|e| e.to_string())?;
    let out = Command::new("curl")
        .args(["-s", "-K"])
        .arg(&pages)
        .output()
        .map_err(|e| format!("curl: {e}"))?;
    let _ = std::fs::remove_file(&pages);
    let text = String::from_utf8_lossy(&out.stdout);
    let served: Vec<Duration> = text
        .lines()
        .filter_map(|l| l.strip_prefix("200 ")?.parse::<f64>().ok())
        .map(Duration::from_secs_f64)
        .collect();
    if served.len() != 200 {
        return Err(format!("listed {} of 200 first pages", served.len()));
    }
    println!(
        "| `--state`: list users, first page of {}, the request alone (keep-alive, median of 200) | {} | | | |",
        USERS + 5,
        ms(median(served))
    );
    let last = format!("?page_size=500&next_token={}", offset_token(USERS - 495));
    let deep = time(RUNS, || run_quiet(&mut list(&last)))?;
    println!(
        "| `--state`: list users, last page of 500 (curl, process included) | {} | | | |",
        ms(deep)
    );
    token_rate(&emulator, dir)?;
    drop(emulator);
    Ok(())
}

/// M2M tokens issued through keep-alive `curl`s against the tenant `persistence` filled, so
/// neither process start-up nor connection set-up is measured: the emulator's own rate, over one
/// connection (bound by one RSA-2048 signature per token, ~0.9 ms on this machine's cores, as
/// `openssl speed rsa2048` shows) and over two at once, as a test suite running tests in
/// parallel asks for them (one per core of this 2-core machine).
fn token_rate(emulator: &Emulator, dir: &Path) -> Result<(), String> {
    for connections in [1, 2] {
        let (issued, took) = issue_tokens(emulator, dir, connections)?;
        println!(
            "| `--state`, {} users: M2M tokens over {connections} connection(s) | {:.0} tokens/s ({issued} in {}) | | | |",
            USERS + 5,
            issued as f64 / took.as_secs_f64(),
            ms(took)
        );
    }
    Ok(())
}

/// [`TOKENS`] M2M tokens requested through `connections` curls at once (each one keep-alive
/// connection, `TOKENS / connections` requests): how many were issued (200), and the wall time.
fn issue_tokens(
    emulator: &Emulator,
    dir: &Path,
    connections: usize,
) -> Result<(usize, Duration), String> {
    let issuer = &emulator.issuer;
    let (id, secret) = (
        emulator.var("KINDE_MANAGEMENT_CLIENT_ID"),
        emulator.var("KINDE_MANAGEMENT_CLIENT_SECRET"),
    );
    let each = TOKENS / connections;
    let request = format!(
        r#"url = "{issuer}/oauth2/token"
request = "POST"
data = "grant_type=client_credentials&client_id={id}&client_secret={secret}&audience={issuer}/api"
output = "/dev/null"
write-out = "%{{http_code}}\n"
"#
    );
    let configs: Vec<_> = (0..connections)
        .map(|n| {
            let config = dir.join(format!("tokens-{n}.curl"));
            write_owner_only(&config, &vec![request.as_str(); each].join("next\n"))?;
            Ok(config)
        })
        .collect::<Result<_, String>>()?;
    let started = Instant::now();
    let children: Vec<_> = configs
        .iter()
        .map(|config| {
            Command::new("curl")
                .args(["-s", "-K"])
                .arg(config)
                .stdout(Stdio::piped())
                .spawn()
                .map_err(|e| format!("curl: {e}"))
        })
        .collect::<Result<_, String>>()?;
    // Each curl writes 4 bytes a request, far under a pipe's 64 KiB: waiting on them in turn
    // never stops one on a full pipe.
    let outputs: Vec<_> = children
        .into_iter()
        .map(|child| child.wait_with_output().map_err(|e| format!("curl: {e}")))
        .collect::<Result<_, String>>()?;
    let took = started.elapsed();
    for config in &configs {
        let _ = std::fs::remove_file(config);
    }
    let issued = outputs
        .iter()
        .flat_map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .into_owned()
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .filter(|l| l == "200")
        .count();
    if issued != each * connections {
        return Err(format!("issued {issued} of {} tokens", each * connections));
    }
    Ok((issued, took))
}

/// Write a file only its owner can read: these curl configs hold a client secret.
fn write_owner_only(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The emulator's `next_token` for `offset` (base64url of `offset:N`), to jump to a deep page.
fn offset_token(offset: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = format!("offset:{offset}").into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

const ROLES: usize = 200;
const PERMISSIONS: usize = 500;
const ORGANIZATIONS: usize = 100;
const SCOPES: usize = 50;

/// The seeded tenant: [`PERMISSIONS`] permissions, [`ROLES`] roles of five permissions each,
/// [`ORGANIZATIONS`] organizations, and an API with [`SCOPES`] scopes.
fn plan_seed() -> String {
    let mut seed = String::new();
    for p in 0..PERMISSIONS {
        seed.push_str(&format!(
            "[[permissions]]\nkey = \"perm:{p}\"\nname = \"Permission {p}\"\n\n"
        ));
    }
    for r in 0..ROLES {
        let permissions: Vec<String> = (0..5)
            .map(|i| format!("\"perm:{}\"", (r * 5 + i) % PERMISSIONS))
            .collect();
        seed.push_str(&format!(
            "[[roles]]\nkey = \"role-{r}\"\nname = \"Role {r}\"\npermissions = [{}]\n\n",
            permissions.join(", ")
        ));
    }
    for o in 0..ORGANIZATIONS {
        seed.push_str(&format!(
            "[[organizations]]\ncode = \"org_{o}\"\nname = \"Org {o}\"\n\n"
        ));
    }
    seed
}

/// kinde.toml declaring the seeded tenant. `families` adds the sections of issue 13 (roles,
/// permissions, organizations); without it only what every build plans (an API and its scopes).
fn plan_kinde_toml(families: bool) -> String {
    let scopes: Vec<String> = (0..SCOPES).map(|i| format!("\"scope:{i}\"")).collect();
    let mut text = format!(
        "[[apis]]\nname = \"Bench API\"\naudience = \"https://bench.example\"\nscopes = [{}]\nauthorize = [\"management\"]\n\n",
        scopes.join(", ")
    );
    if families {
        text.push_str(&plan_seed().replace(
            "[[organizations]]\ncode = \"org_",
            "[[organizations]]\nexternal_id = \"org_",
        ));
    }
    text
}

/// `register --check` against the seeded tenant: how long a plan of a large tenant takes. Run
/// with the sections of issue 13 when this build knows them, else with what it plans today.
fn plan_speed(bin: &Path, dir: &Path) -> Result<(), String> {
    let work = dir.join("plan");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let seed = work.join("seed.toml");
    std::fs::write(&seed, plan_seed()).map_err(|e| e.to_string())?;
    let env_file = work.join(".env");
    let emulator = Emulator::start(bin, &env_file, &["--seed", &seed.to_string_lossy()])?;
    let check = || {
        let mut cmd = Command::new(bin);
        cmd.args(["kinde", "register", "--check"])
            .current_dir(&work)
            .env("CARGO_KINDE_CACHE_DIR", work.join("cache"))
            .env("CI", "true");
        cmd
    };
    // Register once, so the timed runs plan a tenant that matches (exit 0).
    let mut families = true;
    std::fs::write(work.join("kinde.toml"), plan_kinde_toml(true)).map_err(|e| e.to_string())?;
    let out = Command::new(bin)
        .args(["kinde", "register", "--yes"])
        .current_dir(&work)
        .env("CARGO_KINDE_CACHE_DIR", work.join("cache"))
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.code() == Some(2)
        && String::from_utf8_lossy(&out.stderr).contains("unknown field")
    {
        families = false;
        std::fs::write(work.join("kinde.toml"), plan_kinde_toml(false))
            .map_err(|e| e.to_string())?;
        run_quiet(
            Command::new(bin)
                .args(["kinde", "register", "--yes"])
                .current_dir(&work)
                .env("CARGO_KINDE_CACHE_DIR", work.join("cache")),
        )?;
    } else if !out.status.success() {
        return Err(format!(
            "register: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let took = time(10, || run_quiet(&mut check()))?;
    let declared = if families {
        format!(
            "{ROLES} roles, {PERMISSIONS} permissions, {ORGANIZATIONS} organizations and an API of {SCOPES} scopes declared"
        )
    } else {
        format!(
            "an API of {SCOPES} scopes declared; the tenant seeded with {ROLES} roles, {PERMISSIONS} permissions, {ORGANIZATIONS} organizations, which this build does not plan yet"
        )
    };
    println!(
        "| plan: `register --check` of a matching tenant, {declared} (process included, median of 10; goal < 1 s) | {} | | | |",
        ms(took)
    );
    drop(emulator);
    Ok(())
}

/// Paths of the `openapi` bench's service, each with a GET and a POST.
const OPENAPI_PATHS: usize = 100;
/// Distinct permissions its routes need.
const OPENAPI_PERMISSIONS: usize = 10;
const OPENAPI_AUDIENCE: &str = "https://api.bench.test";

/// The permission route `i` needs (`read:r3` / `write:r3`).
fn bench_permission(i: usize, write: bool) -> String {
    let verb = if write { "write" } else { "read" };
    format!("{verb}:r{}", i % OPENAPI_PERMISSIONS)
}

/// The OpenAPI document of the bench's service: `/r{i}/items/{id}` with an example id, GET and a
/// POST whose body has two required properties, each secured with its permission.
fn bench_openapi() -> String {
    let mut paths = serde_json::Map::new();
    for i in 0..OPENAPI_PATHS {
        let op = |write: bool| {
            let mut op = serde_json::json!({
                "security": [{"oauth": [bench_permission(i, write)]}],
                "responses": {"200": {"description": "ok"}}
            });
            if write {
                op["requestBody"] = serde_json::json!({"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}});
            }
            op
        };
        paths.insert(
            format!("/r{i}/items/{{id}}"),
            serde_json::json!({
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "example": 7}}],
                "get": op(false),
                "post": op(true),
            }),
        );
    }
    serde_json::json!({
        "openapi": "3.1.0",
        "info": {"title": "bench", "version": "1"},
        "components": {
            "securitySchemes": {"oauth": {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "https://x/oauth2/token", "scopes": {}}}}},
            "schemas": {"Item": {"type": "object", "required": ["name", "count"], "properties": {"name": {"type": "string"}, "count": {"type": "integer", "minimum": 1}}}}
        },
        "paths": paths,
    })
    .to_string()
}

/// Start the bench's service on 127.0.0.1:0, verifying RS256 tokens against `issuer`'s JWKS
/// (`iss`, `aud`, `exp`) and each route's permission; its URL. It runs until the bench exits.
fn bench_service(issuer: &str) -> Result<String, String> {
    use axum::http::{HeaderMap, StatusCode};
    use jsonwebtoken::jwk::JwkSet;
    use std::sync::Arc;

    let out = Command::new("curl")
        .args(["-sf", &format!("{issuer}/.well-known/jwks.json")])
        .output()
        .map_err(|e| format!("curl: {e}"))?;
    let jwks: JwkSet = serde_json::from_slice(&out.stdout).map_err(|e| format!("the JWKS: {e}"))?;
    let mut rules = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    rules.set_audience(&[OPENAPI_AUDIENCE]);
    rules.set_issuer(&[issuer]);
    let check = Arc::new(move |headers: &HeaderMap, permission: &str| -> StatusCode {
        let Some(token) = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return StatusCode::UNAUTHORIZED;
        };
        let claims = jsonwebtoken::decode_header(token)
            .ok()
            .and_then(|h| h.kid)
            .and_then(|kid| jwks.find(&kid))
            .and_then(|jwk| jsonwebtoken::DecodingKey::from_jwk(jwk).ok())
            .and_then(|key| jsonwebtoken::decode::<serde_json::Value>(token, &key, &rules).ok());
        match claims {
            None => StatusCode::UNAUTHORIZED,
            Some(c)
                if c.claims["permissions"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p == permission)) =>
            {
                StatusCode::OK
            }
            Some(_) => StatusCode::FORBIDDEN,
        }
    });
    let mut app = axum::Router::new();
    for i in 0..OPENAPI_PATHS {
        let route = |write: bool| {
            let (check, permission) = (check.clone(), bench_permission(i, write));
            move |headers: HeaderMap| async move { check(&headers, &permission) }
        };
        app = app.route(
            &format!("/r{i}/items/{{id}}"),
            axum::routing::get(route(false)).post(route(true)),
        );
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => return drop(tx.send(Err(e.to_string()))),
        };
        runtime.block_on(async move {
            let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                Ok(l) => l,
                Err(e) => return drop(tx.send(Err(e.to_string()))),
            };
            let url = listener.local_addr().map(|a| format!("http://{a}"));
            let _ = tx.send(url.map_err(|e| e.to_string()));
            let _ = axum::serve(listener, app).await;
        });
    });
    rx.recv().map_err(|e| e.to_string())?
}

/// `smoke --openapi` of 200 operations against the local service (issue 14: under 2 s).
fn openapi_speed(bin: &Path, dir: &Path) -> Result<(), String> {
    let work = dir.join("openapi");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let emulator = Emulator::start(bin, &work.join(".env"), &[])?;
    let base = bench_service(&emulator.issuer)?;
    std::fs::write(work.join("openapi.json"), bench_openapi()).map_err(|e| e.to_string())?;
    let smoke = || {
        let mut cmd = Command::new(bin);
        cmd.args([
            "kinde",
            "smoke",
            "--openapi",
            "openapi.json",
            "--base-url",
            &base,
        ])
        .args(["--audience", OPENAPI_AUDIENCE, "--format", "json"])
        .current_dir(&work)
        .envs(emulator.vars())
        .env("CARGO_KINDE_CACHE_DIR", work.join("cache"))
        .env("CI", "true");
        cmd
    };
    // Every probe must pass, or the time would be of a different run.
    let out = smoke().output().map_err(|e| e.to_string())?;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "smoke --openapi printed no JSON report ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    if !out.status.success() || report["failed"] != 0 {
        return Err(format!(
            "smoke --openapi failed {} check(s): {}",
            report["failed"],
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let took = time(5, || run_quiet(&mut smoke()))?;
    println!(
        "| `smoke --openapi`, {} operations, {} probes, against a local axum service verifying each token (process and token minting included, median of 5; goal < 2 s) | {} | | | |",
        OPENAPI_PATHS * 2,
        report["passed"],
        ms(took)
    );
    drop(emulator);
    Ok(())
}
