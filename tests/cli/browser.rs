//! A real browser: headless Chromium opens the URL `login --no-browser` prints, signs in
//! through the emulator's page (its login_hint script clicks the user), follows the redirect to
//! the loopback, and `login` ends with a token that verifies.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::World;

fn chromium() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

#[test]
fn headless_chromium_signs_in_through_the_emulator() {
    let Some(browser) = chromium() else {
        // `cargo xtask ci` (and so CI) installs Debian's chromium first; only a bare
        // `cargo test` on a machine without it gets here.
        assert!(
            std::env::var("CI").is_err(),
            "chromium is required in CI: `cargo xtask ci` installs it (apt-get install chromium)"
        );
        eprintln!(
            "skipped: no chromium on this machine (apt-get install chromium, or run `cargo xtask ci`)"
        );
        return;
    };
    let w = World::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = w.web_app_id();
    w.emulator.state().update(|t| {
        t.applications
            .iter_mut()
            .find(|a| a.id == app)
            .unwrap()
            .redirect_urls
            .push(format!("http://127.0.0.1:{port}/callback"));
        // Authorise the web app for the sample API so the user token carries its audience.
        let api = t
            .apis
            .iter_mut()
            .find(|a| a.audience.as_deref() == Some("urn:cargo-kinde:sample-api"))
            .unwrap();
        api.applications
            .push(cargo_kinde::emulator::tenant::Authorization {
                client_id: app.clone(),
                scopes: vec![],
                extra: Default::default(),
            });
    });
    let mut login = w
        .std_cmd()
        .env("KINDE_CLIENT_ID", &app)
        .args([
            "login",
            "--no-browser",
            "--timeout",
            "90",
            "--login-hint",
            "bob@example.com",
            "--audience",
            "urn:cargo-kinde:sample-api",
        ])
        .args(["--port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(login.stderr.take().unwrap());
    let mut url = String::new();
    let mut seen = String::new();
    while url.is_empty() {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("login exited before printing a URL: {seen}");
        }
        seen.push_str(&line);
        if line.starts_with("http") {
            url = line.trim().to_string();
        }
    }
    let profile = tempfile::tempdir().unwrap();
    let mut browser = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--virtual-time-budget=15000", "--dump-dom"])
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // login ends when the browser delivers the code; two minutes at most (a loaded CI machine).
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = login.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = login.kill();
            let _ = browser.kill();
            panic!("the browser did not complete the sign-in within 120 s: {seen}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = browser.kill();
    let mut dom = String::new();
    let _ = browser.stdout.take().unwrap().read_to_string(&mut dom);
    let _ = browser.wait();
    let mut rest = String::new();
    let _ = stderr.read_to_string(&mut rest);
    assert!(status.success(), "login failed: {seen}{rest}");
    let mut token = String::new();
    login
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut token)
        .unwrap();
    let token = token.trim().to_string();
    let claims = cargo_kinde::jwt::decode(&token).unwrap().claims;
    let bob = w
        .emulator
        .state()
        .tenant()
        .users
        .iter()
        .find(|u| u.email == "bob@example.com")
        .unwrap()
        .id
        .clone();
    assert_eq!(
        claims["sub"],
        bob.as_str(),
        "signed in as the login_hint user through the page"
    );
    w.cmd()
        .args([
            "verify",
            &token,
            "--audience",
            "urn:cargo-kinde:sample-api",
            "--azp",
            &app,
        ])
        .assert()
        .success();
    assert!(
        w.count("POST /oauth2/auth/sign_in") == 1,
        "the sign-in went through the page's form"
    );
}
