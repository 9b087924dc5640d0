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

/// What a front-end app's page does with Kinde's browser SDKs, in plain JavaScript: PKCE
/// (S256 with WebCrypto), the sign-in redirect, then from its own origin the code exchange (with
/// `credentials: "include"` and a `Kinde-SDK` header, so the browser sends a preflight), the
/// profile, the Account API's roles and a refresh; the outcome is written into the page.
const SPA_PAGE: &str = r#"<!doctype html><html><body><pre id="out">pending</pre><script>
const issuer = "ISSUER", client = "CLIENT", back = location.origin + "/callback";
const out = document.getElementById("out");
const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const post = (body) => fetch(issuer + "/oauth2/token", {
  method: "POST", credentials: "include",
  headers: {"Content-Type": "application/x-www-form-urlencoded", "Kinde-SDK": "React/5.0.0"},
  body: new URLSearchParams(body),
});
(async () => {
  try {
    if (location.pathname === "/") {
      const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
      sessionStorage.setItem("verifier", verifier);
      const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
      location.href = issuer + "/oauth2/auth?" + new URLSearchParams({
        response_type: "code", client_id: client, redirect_uri: back, state: "st4te-of-the-page",
        scope: "openid profile email offline", code_challenge: b64url(new Uint8Array(digest)),
        code_challenge_method: "S256", login_hint: "bob@example.com",
      });
      return;
    }
    const code = new URLSearchParams(location.search).get("code");
    const tokens = await (await post({grant_type: "authorization_code", client_id: client, code,
      code_verifier: sessionStorage.getItem("verifier"), redirect_uri: back})).json();
    const profile = await (await fetch(issuer + "/oauth2/v2/user_profile", {
      headers: {Authorization: "Bearer " + tokens.access_token}})).json();
    // As js-utils' getRoles() does when the token has no `roles` claim (the default).
    const account = await (await fetch(issuer + "/account_api/v1/roles", {headers: {
      Authorization: "Bearer " + tokens.access_token, "Content-Type": "application/json"}})).json();
    const refreshed = await post({grant_type: "refresh_token", client_id: client,
      refresh_token: tokens.refresh_token});
    const keys = await (await fetch(issuer + "/.well-known/jwks.json")).json();
    if (!tokens.access_token) { out.textContent = "EXCHANGE " + location.search + JSON.stringify(tokens); return; }
    out.textContent = "SIGNED-IN " + profile.email + " refresh " + refreshed.status + " keys " + keys.keys.length + " roles " + Array.isArray(account.data.roles);
  } catch (e) {
    out.textContent = "FAILED " + e;
  }
})();
</script></body></html>"#;

/// Serve `page` at every path of 127.0.0.1:0; the port.
fn serve_page(page: String) -> u16 {
    crate::serve(axum::Router::new().fallback(move || {
        let page = page.clone();
        async move { axum::response::Html(page) }
    }))
    .port()
}

/// The page's final DOM after headless Chromium opened `url`.
fn dump_dom(browser: &std::path::Path, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(browser)
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
        .args(["--virtual-time-budget=20000", "--dump-dom"])
        .arg(url)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_front_end_apps_page_signs_in_and_calls_the_emulator_from_its_own_origin() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("CI").is_err(),
            "chromium is required in CI: `cargo xtask ci` installs it (apt-get install chromium)"
        );
        eprintln!("skipped: no chromium on this machine");
        return;
    };
    let w = World::new();
    let client = cargo_kinde::emulator::tenant::random_hex(16);
    let page = SPA_PAGE
        .replace("ISSUER", &w.issuer())
        .replace("CLIENT", &client);
    let port = serve_page(page);
    // A front-end app (no secret) whose callback is on the page's origin, localhost:PORT.
    w.emulator.state().update(|t| {
        t.applications
            .push(cargo_kinde::emulator::tenant::Application {
                id: client.clone(),
                name: "React app".into(),
                kind: "spa".into(),
                client_secret: None,
                redirect_urls: vec![format!("http://localhost:{port}/callback")],
                logout_urls: vec![],
                extra: Default::default(),
            });
    });
    let dom = dump_dom(&browser, &format!("http://localhost:{port}/"));
    assert!(
        dom.contains("SIGNED-IN bob@example.com refresh 200 keys 1 roles true"),
        "the page could not finish: {dom}"
    );
    assert_eq!(w.count("POST /oauth2/token"), 2, "exchange and refresh");
    // The same page on an origin no application registered (127.0.0.1 is not localhost): the
    // browser withholds the token endpoint's answer from it.
    let dom = dump_dom(
        &browser,
        &format!("http://127.0.0.1:{port}/callback?code=x"),
    );
    assert!(dom.contains("FAILED TypeError"), "{dom}");
}
