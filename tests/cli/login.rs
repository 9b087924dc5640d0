//! `login` against the emulator with `--auto-login`: the test plays the browser with a plain
//! HTTP client (authorize, then follow the redirect to the loopback).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};

use cargo_kinde::emulator::Options;

use crate::World;
use crate::http::get_no_redirect as get;

fn world(ttl: Option<u64>) -> World {
    World::with(Options {
        auto_login: true,
        access_token_ttl: ttl,
        ..Default::default()
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Allow the loopback callback on `port` for the web app.
fn allow(w: &World, port: u16) {
    let id = w.web_app_id();
    w.emulator.state().update(|t| {
        let app = t.applications.iter_mut().find(|a| a.id == id).unwrap();
        app.redirect_urls
            .push(format!("http://127.0.0.1:{port}/callback"));
    });
}

struct Running {
    child: Child,
    url: String,
    err: Arc<Mutex<String>>,
}

impl Running {
    fn finish(mut self) -> (i32, String, String) {
        let status = self.child.wait().unwrap();
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let err = self.err.lock().unwrap().clone();
        (status.code().unwrap_or(-1), out, err)
    }

    fn param(&self, name: &str) -> String {
        url::Url::parse(&self.url)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == name)
            .unwrap()
            .1
            .into_owned()
    }

    fn port(&self) -> u16 {
        url::Url::parse(&self.param("redirect_uri"))
            .unwrap()
            .port()
            .unwrap()
    }
}

fn start(w: &World, args: &[&str]) -> Running {
    let mut child = w
        .std_cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["login", "--no-browser"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let err = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = err.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with("http") {
                let _ = tx.send(line.clone());
            }
            sink.lock().unwrap().push_str(&format!("{line}\n"));
        }
        let _ = tx.send(String::new());
    });
    let url = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_default();
    Running { child, url, err }
}

/// Authorize (auto-login) and deliver the redirect to the loopback.
fn complete(run: &Running) {
    assert!(
        run.url.starts_with("http"),
        "no sign-in URL printed: {}",
        run.err.lock().unwrap()
    );
    let (status, location) = get(&run.url);
    assert_eq!(status, 303, "the emulator redirects back");
    let location = location.unwrap();
    assert!(
        location.starts_with(&format!("http://127.0.0.1:{}/callback?code=", run.port())),
        "{location}"
    );
    let (status, _) = get(&location);
    assert_eq!(status, 200);
}

#[test]
fn signs_in_with_pkce_and_prints_a_verified_user_token() {
    let w = world(None);
    let port = free_port();
    allow(&w, port);
    let run = start(
        &w,
        &[
            "--port",
            &port.to_string(),
            "--json",
            "--audience",
            "urn:cargo-kinde:sample-api",
        ],
    );
    for (k, v) in [
        ("response_type", "code"),
        ("code_challenge_method", "S256"),
        ("prompt", "login"),
        ("scope", "openid email offline"),
    ] {
        assert_eq!(run.param(k), v);
    }
    assert_eq!(run.param("code_challenge").len(), 43);
    assert!(run.param("state").len() >= 8);
    assert!(!run.param("nonce").is_empty());
    assert!(!run.url.contains("code_verifier"));
    complete(&run);
    let (code, out, err) = run.finish();
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let claims = &doc["access_token_claims"];
    assert!(claims["sub"].as_str().unwrap().starts_with("kp_"));
    assert_eq!(claims["azp"], w.web_app_id());
    assert_eq!(
        claims["scp"],
        serde_json::json!(["openid", "email", "offline"])
    );
    assert_eq!(
        claims["aud"],
        serde_json::json!([]),
        "the sample API is not authorised for the web app"
    );
    assert_eq!(doc["id_token_claims"]["email"], "alice@example.com");
    // Kinde's ID token names two audiences, the app and the issuer; login's own ID-token check
    // (any expected audience suffices) accepts it.
    assert_eq!(
        doc["id_token_claims"]["aud"],
        serde_json::json!([w.web_app_id(), w.issuer()])
    );
    assert_eq!(doc["has_refresh_token"], true);
    assert!(
        doc.get("refresh_token").is_none(),
        "never printed without --show-refresh-token"
    );
    // The cached token serves `token --user` with no browser and no request.
    let before = w.count("POST /oauth2/token");
    let out = w
        .cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args([
            "token",
            "--user",
            "--audience",
            "urn:cargo-kinde:sample-api",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        doc["access_token"].as_str().unwrap()
    );
    assert_eq!(w.count("POST /oauth2/token"), before);
}

#[test]
fn strays_idle_sockets_and_forged_states_do_not_end_the_sign_in() {
    let w = world(None);
    let port = free_port();
    allow(&w, port);
    let run = start(&w, &["--port", &port.to_string()]);
    // (The M2M token that checked the callback registration was fetched before the URL.)
    let before = w.count("POST /oauth2/token");
    // Twenty sockets that connect and never send a request.
    let idle: Vec<std::net::TcpStream> = (0..20)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    // Anyone on the machine can call the loopback: no state, then a forged one.
    assert_eq!(get(&format!("http://127.0.0.1:{port}/callback")).0, 400);
    let (status, _) = get(&format!(
        "http://127.0.0.1:{port}/callback?code=stolen&state=not-the-state"
    ));
    assert_eq!(status, 400);
    assert_eq!(
        w.count("POST /oauth2/token"),
        before,
        "nothing was exchanged"
    );
    // The real sign-in still completes, with the idle sockets open.
    complete(&run);
    let (code, out, err) = run.finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim().split('.').count(), 3);
    assert!(err.contains("another `state`"), "warned: {err}");
    assert_eq!(
        w.count("POST /oauth2/token"),
        before + 1,
        "only the real code was exchanged"
    );
    drop(idle);
}

#[test]
fn a_provider_error_is_reported() {
    let w = world(None);
    let port = free_port();
    allow(&w, port);
    let run = start(&w, &["--port", &port.to_string()]);
    let state = run.param("state");
    get(&format!(
        "http://127.0.0.1:{port}/callback?error=access_denied&error_description=The+user+cancelled&state={state}"
    ));
    let (code, _, err) = run.finish();
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("the provider refused the sign-in: access_denied (The user cancelled)"),
        "{err}"
    );
}

#[test]
fn other_paths_on_the_loopback_are_ignored() {
    let w = world(None);
    let port = free_port();
    allow(&w, port);
    let run = start(&w, &["--port", &port.to_string()]);
    assert_eq!(get(&format!("http://127.0.0.1:{port}/favicon.ico")).0, 404);
    assert_eq!(get(&format!("http://127.0.0.1:{port}/")).0, 404);
    complete(&run);
    let (code, out, err) = run.finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim().split('.').count(), 3);
}

#[test]
fn waiting_ends_with_a_timeout() {
    let w = world(None);
    let port = free_port();
    allow(&w, port);
    let run = start(&w, &["--port", &port.to_string(), "--timeout", "1"]);
    let (code, _, err) = run.finish();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no sign-in within 1 s"), "{err}");
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let w = world(None);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = w
        .cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["login", "--no-browser", "--port", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot listen for the sign-in callback on 127.0.0.1:{port}"
        )),
        "{err}"
    );
    assert!(
        !err.contains("--port 0"),
        "a free port is refused as a callback: {err}"
    );
    assert!(
        err.contains("under [login]") && err.contains("cargo kinde register"),
        "{err}"
    );
}

#[test]
fn the_busy_port_hint_works_when_followed() {
    let w = world(None);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    w.write("kinde.toml", &format!("[login]\nport = {port}\n"));
    let login = || {
        w.cmd()
            .env("KINDE_CLIENT_ID", w.web_app_id())
            .args(["login", "--no-browser", "--timeout", "1"])
            .output()
            .unwrap()
    };
    let out = login();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{err}");
    // Follow the hint: another port under [login], `register --yes`, `login` again.
    let other = free_port();
    w.write("kinde.toml", &format!("[login]\nport = {other}\n"));
    let reg = w
        .cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["register", "--yes"])
        .output()
        .unwrap();
    assert!(
        reg.status.success(),
        "{}",
        String::from_utf8_lossy(&reg.stderr)
    );
    let out = login();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("not an allowed callback URL"), "{err}");
    assert!(
        err.contains("no sign-in within 1 s"),
        "the sign-in was started: {err}"
    );
}

#[test]
fn an_unregistered_loopback_callback_is_named_with_the_fix() {
    let w = world(None);
    let port = free_port().to_string();
    let out = w
        .cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["login", "--no-browser", "--port", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "http://127.0.0.1:{port}/callback is not an allowed callback URL"
        )),
        "{err}"
    );
    assert!(err.contains("cargo kinde register"), "{err}");
    // And `register` picks it up from [login] port.
    w.write("kinde.toml", &format!("[login]\nport = {port}\n"));
    w.cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["register", "--yes"])
        .assert()
        .success();
    let urls = w.web_app().redirect_urls;
    assert!(
        urls.contains(&format!("http://127.0.0.1:{port}/callback")),
        "{urls:?}"
    );
}

#[test]
fn an_id_token_with_another_nonce_is_rejected() {
    let w = world(None);
    let port = free_port();
    allow(&w, port);
    let run = start(&w, &["--port", &port.to_string()]);
    // Someone in the middle swaps the nonce: the ID token then carries a nonce the CLI never sent.
    let nonce = run.param("nonce");
    let (_, location) = get(&run
        .url
        .replace(&format!("nonce={nonce}"), "nonce=someone-elses-nonce"));
    get(&location.unwrap());
    let (code, out, err) = run.finish();
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("nonce does not match"), "{err}");
    assert!(out.is_empty(), "no token is printed");
}

#[test]
fn an_expired_token_is_refreshed_without_a_browser_and_rotated() {
    // Tokens live 30 s: inside the cache's 60 s margin, so the next use must refresh.
    let w = world(Some(30));
    let port = free_port();
    allow(&w, port);
    let run = start(
        &w,
        &[
            "--port",
            &port.to_string(),
            "--json",
            "--show-refresh-token",
        ],
    );
    complete(&run);
    let (code, out, err) = run.finish();
    assert_eq!(code, 0, "{err}");
    let first: serde_json::Value = serde_json::from_str(&out).unwrap();
    let first_refresh = first["refresh_token"].as_str().unwrap().to_string();
    let auths = w.count("GET /oauth2/auth");
    let user_token = || {
        w.cmd()
            .env("KINDE_CLIENT_ID", w.web_app_id())
            .args(["--json", "token", "--user", "--show-refresh-token"])
            .output()
            .unwrap()
    };
    let out = user_token();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(second["source"], "refresh");
    // Kinde answers a refresh with the same access token while that one is still live.
    assert_eq!(second["access_token"], first["access_token"]);
    let warned = String::from_utf8_lossy(&out.stderr);
    assert!(
        warned.contains("same access token, which expires in"),
        "a token about to expire is said to be one: {warned}"
    );
    assert_ne!(
        second["refresh_token"].as_str().unwrap(),
        first_refresh,
        "refresh tokens rotate"
    );
    assert_eq!(w.count("GET /oauth2/auth"), auths, "no browser sign-in");

    // Put the spent refresh token back: the provider refuses it, and without a terminal the
    // command says how to sign in again.
    let issuer = cargo_kinde::urls::Issuer::parse(&w.issuer()).unwrap();
    let scopes: Vec<String> = ["openid", "email", "offline"].map(String::from).to_vec();
    let key = cargo_kinde::oauth::cache::CacheKey::user(&issuer, &w.web_app_id(), &[], &scopes);
    let cache = cargo_kinde::oauth::cache::TokenCache::at(w.cache.path().join("tokens"));
    let mut stale = cache.get_any(&key).unwrap();
    stale.expires_at = 1;
    stale.refresh_token = Some(cargo_kinde::secret::Secret::new(first_refresh));
    cache.put(&key, &stale).unwrap();
    let out = w
        .cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["token", "--user"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("could not be refreshed") && err.contains("invalid_grant"),
        "{err}"
    );
    assert!(err.contains("cargo kinde login"), "{err}");
}

#[test]
fn logout_clears_this_tenants_tokens() {
    let w = world(None);
    w.cmd().arg("token").assert().success();
    let port = free_port();
    allow(&w, port);
    let run = start(&w, &["--port", &port.to_string()]);
    complete(&run);
    assert_eq!(run.finish().0, 0);
    let files = || {
        std::fs::read_dir(w.cache.path().join("tokens"))
            .unwrap()
            .count()
    };
    assert_eq!(files(), 2);
    w.cmd()
        .arg("logout")
        .assert()
        .success()
        .stderr(predicates::str::contains("removed 2 cached token(s)"));
    assert_eq!(files(), 0);
    let out = w.cmd().args(["logout", "--everywhere"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&format!("{}/logout", w.issuer())));
    let out = w
        .cmd()
        .args(["logout", "--everywhere", "--json"])
        .output()
        .unwrap();
    let doc = crate::json(&out);
    assert_eq!(doc["removed"], 0);
    assert!(
        doc["logout_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/logout", w.issuer()))
    );
}

#[test]
fn the_emulator_follows_kindes_authorize_rules() {
    let w = World::new();
    let app = w.web_app_id();
    let iss = w.issuer();
    let base = format!(
        "{iss}/oauth2/auth?response_type=code&client_id={app}&code_challenge=abcdefghijabcdefghijabcdefghijabcdefghij123&code_challenge_method=S256"
    );
    // Unregistered redirect_uri: an error page, no redirect.
    let (status, location) = get(&format!(
        "{base}&redirect_uri=https://evil.example/cb&state=12345678"
    ));
    assert_eq!((status, location), (400, None));
    // prompt=none without a session: back to the client with login_required.
    let cb = "http://localhost:3000/api/auth/kinde_callback";
    let (status, location) = get(&format!(
        "{base}&redirect_uri={cb}&state=12345678&prompt=none"
    ));
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert!(
        location.starts_with(cb)
            && location.contains("error=login_required")
            && location.contains("state=12345678"),
        "{location}"
    );
    // A short state is refused.
    let (_, location) = get(&format!("{base}&redirect_uri={cb}&state=short"));
    assert!(location.unwrap().contains("error=invalid_request"));
    // Without auto-login, a sign-in page that works without JavaScript.
    let (status, _) = get(&format!("{base}&redirect_uri={cb}&state=12345678"));
    assert_eq!(status, 200);
}

#[test]
fn smoke_uses_the_cached_user_token() {
    let w = world(None);
    w.write(
        "kinde.toml",
        "[[smoke]]\nname = \"my profile\"\npath = \"/oauth2/v2/user_profile\"\ntoken = \"user\"\n[[smoke.assert]]\npointer = \"/email\"\nequals = \"alice@example.com\"\n",
    );
    let smoke = || {
        w.cmd()
            .env("KINDE_CLIENT_ID", w.web_app_id())
            .args(["smoke"])
            .output()
            .unwrap()
    };
    let out = smoke();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("no cached user token; run `cargo kinde login`")
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 passed, 0 failed, 1 skipped"));
    let port = free_port();
    allow(&w, port);
    let run = start(&w, &["--port", &port.to_string()]);
    complete(&run);
    assert_eq!(run.finish().0, 0);
    let out = smoke();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed, 0 failed, 0 skipped"));
}

/// A fake OIDC provider on 127.0.0.1 that serves `document(its own base URL)` for every request,
/// and counts them.
fn fake_discovery(
    document: impl Fn(&str) -> serde_json::Value,
) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let body = document(&base).to_string();
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (base, hits)
}

/// `login` against the fake provider at `base`: (exit code, stderr).
fn login_at(w: &World, base: &str) -> (Option<i32>, String) {
    let out = w
        .bare()
        .env("KINDE_DOMAIN", base)
        .env("KINDE_CLIENT_ID", "some-app")
        .env("KINDE_CLIENT_SECRET", "not-for-other-hosts")
        .args(["login", "--no-browser", "--port", "0", "--timeout", "3"])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// True when nothing ever connected to `listener`.
fn untouched(listener: &std::net::TcpListener) -> bool {
    listener.set_nonblocking(true).unwrap();
    matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[test]
fn a_discovery_document_for_another_issuer_is_refused_before_the_browser() {
    let w = World::new();
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let elsewhere = format!("http://127.0.0.1:{}", other.local_addr().unwrap().port());
    let (base, hits) = fake_discovery(|_| {
        serde_json::json!({
            "issuer": elsewhere,
            "authorization_endpoint": format!("{elsewhere}/oauth2/auth"),
            "token_endpoint": format!("{elsewhere}/oauth2/token"),
            "jwks_uri": format!("{elsewhere}/.well-known/jwks"),
        })
    });
    let (code, err) = login_at(&w, &base);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains(&format!("names issuer `{elsewhere}`")),
        "{err}"
    );
    assert!(
        !err.contains("/oauth2/auth?"),
        "no sign-in URL shown: {err}"
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(untouched(&other), "the other issuer received nothing");
}

#[test]
fn a_token_endpoint_on_another_host_never_receives_the_code_or_secret() {
    let w = World::new();
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let elsewhere = format!("http://127.0.0.1:{}", other.local_addr().unwrap().port());
    let (base, _) = fake_discovery(|base| {
        serde_json::json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/oauth2/auth"),
            "token_endpoint": format!("{elsewhere}/oauth2/token"),
            "jwks_uri": format!("{base}/.well-known/jwks"),
        })
    });
    let (code, err) = login_at(&w, &base);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("token_endpoint"), "{err}");
    assert!(err.contains("nothing was sent"), "{err}");
    assert!(
        !err.contains("/oauth2/auth?"),
        "no sign-in URL shown: {err}"
    );
    assert!(!err.contains("not-for-other-hosts"), "{err}");
    assert!(untouched(&other), "the other host received nothing");
}

#[test]
fn user_token_hints_work_when_followed() {
    let w = world(None);
    let port = free_port();
    allow(&w, port);
    let user_token = |extra: &[&str]| {
        w.cmd()
            .env("KINDE_CLIENT_ID", w.web_app_id())
            .args(["token", "--user"])
            .args(extra)
            .output()
            .unwrap()
    };
    // No application: the hint's KINDE_CLIENT_ID gets past it.
    let out = w.cmd().args(["token", "--user"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("help: set `client_id` under [app] in kinde.toml, or KINDE_CLIENT_ID"),
        "{err}"
    );
    // No sign-in yet and no one to sign in: follow the hint, `cargo kinde login`.
    let out = user_token(&[]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("no application"), "{err}");
    assert!(
        err.contains("help: run `cargo kinde login` in a terminal first"),
        "{err}"
    );
    let run = start(&w, &["--port", &port.to_string()]);
    complete(&run);
    let (code, _, err) = run.finish();
    assert_eq!(code, 0, "{err}");
    let out = user_token(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The refresh token only in JSON: add --json, as the hint says.
    let out = user_token(&["--show-refresh-token"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("help: add --json"), "{err}");
    let out = user_token(&["--show-refresh-token", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = crate::json(&out);
    assert!(doc["refresh_token"].is_string(), "{doc}");
}

/// An emulator serving HTTPS with its CA in the world's cache directory, where `cargo kinde`
/// (run with `CARGO_KINDE_CACHE_DIR` there) finds it.
fn tls_world() -> World {
    let cache = tempfile::tempdir().unwrap();
    let options = Options {
        tls_dir: Some(cache.path().join("emulator")),
        ..Default::default()
    };
    World {
        emulator: cargo_kinde::emulator::Emulator::spawn(options).unwrap(),
        dir: tempfile::tempdir().unwrap(),
        cache,
    }
}

#[test]
fn init_against_the_tls_emulator_trusts_its_ca_and_checks_the_app_live() {
    let w = tls_world();
    assert!(w.issuer().starts_with("https://127.0.0.1:"));
    w.write(
        "Cargo.toml",
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    std::fs::create_dir_all(w.path("src")).unwrap();
    w.write("src/lib.rs", "");
    let init = |app: &str| {
        w.bare()
            .env("KINDE_MANAGEMENT_CLIENT_SECRET", w.management_secret())
            .args(["init", "--domain", &w.issuer()])
            .args(["--management-client-id", &w.management_id()])
            .args(["--app-client-id", app])
            .output()
            .unwrap()
    };
    // An id the tenant does not have is refused: the tenant was read over HTTPS.
    let out = init("0123456789abcdef0123456789abcdef");
    assert_eq!(out.status.code(), Some(2), "{}", crate::stderr(&out));
    let out = init(&w.web_app_id());
    let err = crate::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("was not checked"), "{err}");
    let toml = std::fs::read_to_string(w.path("kinde.toml")).unwrap();
    assert!(
        toml.contains(&format!("domain = \"{}\"", w.issuer())),
        "{toml}"
    );
}

#[test]
fn doctor_against_the_tls_emulator_reaches_its_domain_and_token() {
    let w = tls_world();
    let out = w.cmd().args(["doctor", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for name in ["domain", "management token"] {
        let check = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} check: {report}"));
        assert_eq!(check["status"], "pass", "{name}: {report}");
    }
}

/// `smoke`'s `token = "user"` checks use the cached sign-in as `token --user` does: an access
/// token past its use-by is renewed with the cached refresh token, not skipped.
#[test]
fn smoke_renews_an_expired_user_token_with_the_cached_refresh_token() {
    // Tokens live 30 s: inside the cache's 60 s margin, so the next use must refresh.
    let w = world(Some(30));
    let port = free_port();
    allow(&w, port);
    let run = start(&w, &["--port", &port.to_string()]);
    complete(&run);
    let (code, _, err) = run.finish();
    assert_eq!(code, 0, "{err}");
    w.write(
        "kinde.toml",
        &format!(
            "[smoke_suite]\ndefaults = false\n\n[[smoke]]\nname = \"profile\"\nurl = \"{}/oauth2/v2/user_profile\"\ntoken = \"user\"\nexpect_status = 200\n",
            w.issuer()
        ),
    );
    let refreshes = w.count("POST /oauth2/token");
    let out = w
        .cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["--json", "smoke"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report}");
    let check = &report["checks"][0];
    assert_eq!(check["name"], "profile", "{report}");
    assert_eq!(check["status"], "pass", "{report}");
    assert_eq!(
        w.count("POST /oauth2/token"),
        refreshes + 1,
        "one refresh for the run"
    );
}
