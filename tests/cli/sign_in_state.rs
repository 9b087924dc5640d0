//! What the emulator keeps between the steps of a sign-in (the page's pending request, the
//! organization picker, codes, refresh grants, sessions): it expires by the emulator's clock,
//! which tests move forward instead of sleeping, and it stays bounded however often a client
//! starts a sign-in.

use cargo_kinde::emulator::Options;
use cargo_kinde::emulator::faults::Fault;
use serde_json::{Value, json};

use crate::World;

const CALLBACK: &str = "http://localhost:3000/api/auth/kinde_callback";

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// The sign-in page of the web app: its pending request id.
fn open_page(w: &World, extra: &str) -> String {
    let url = format!(
        "{}/oauth2/auth?client_id={}&redirect_uri={CALLBACK}&response_type=code&scope=openid%20offline&state=abcdefgh12{extra}",
        w.issuer(),
        w.web_app_id(),
    );
    let html = block_on(async { reqwest::get(&url).await.unwrap().text().await.unwrap() });
    html.split("name=\"request\" value=\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no request in {html}"))
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

/// What a form post answered, its redirect not followed.
struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
    /// The `name=value` of the cookie it set, if any.
    cookie: Option<String>,
}

fn post(w: &World, path: &str, form: &[(&str, &str)]) -> Answer {
    block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = client
            .post(format!("{}{path}", w.issuer()))
            .form(form)
            .send()
            .await
            .unwrap();
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|l| l.to_str().unwrap().to_string())
        };
        let (location, cookie) = (
            header("location"),
            header("set-cookie").map(|c| c.split(';').next().unwrap().to_string()),
        );
        Answer {
            status: res.status().as_u16(),
            location,
            cookie,
            body: res.text().await.unwrap(),
        }
    })
}

/// Sign `email` in on the page `request`: the code.
fn sign_in(w: &World, request: &str, email: &str) -> String {
    sign_in_with_cookie(w, request, email).0
}

/// [`sign_in`], with the session cookie set.
fn sign_in_with_cookie(w: &World, request: &str, email: &str) -> (String, String) {
    let answer = post(
        w,
        "/oauth2/auth/sign_in",
        &[("request", request), ("email", email)],
    );
    assert_eq!(answer.status, 303, "{}", answer.body);
    let back = url::Url::parse(&answer.location.unwrap()).unwrap();
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code: {back}"));
    (code, answer.cookie.expect("a session cookie"))
}

/// Exchange `code`: (status, body).
fn exchange(w: &World, code: &str) -> (u16, Value) {
    let app = w.web_app();
    crate::http::post_form(
        &format!("{}/oauth2/token", w.issuer()),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("client_id", &app.id),
            ("client_secret", &app.client_secret.unwrap()),
        ],
        None,
    )
}

fn sign_ins(w: &World) -> Value {
    let (status, stats) = crate::http::get_json(&format!("{}/_emulator/stats", w.issuer()), None);
    assert_eq!(status, 200);
    stats["sign_ins"].clone()
}

#[test]
fn a_sign_in_page_and_a_code_expire_by_the_emulators_clock() {
    let w = World::new();
    let state = w.emulator.state();
    // A page left open past its 30 minutes cannot sign anyone in.
    let stale = open_page(&w, "");
    state.advance_clock(30 * 60 + 1);
    let answer = post(
        &w,
        "/oauth2/auth/sign_in",
        &[("request", &stale), ("email", "alice@example.com")],
    );
    assert_eq!(
        (answer.status, answer.location),
        (400, None),
        "{}",
        answer.body
    );
    assert!(answer.body.contains("Sign-in expired"), "{}", answer.body);

    // A code is good for 10 minutes (RFC 6749's recommended maximum) ...
    let code = sign_in(&w, &open_page(&w, ""), "alice@example.com");
    // 598, not 599: the emulator's clock also runs in real seconds, and a busy machine may cross
    // a second between the sign-in and the exchange.
    state.advance_clock(598);
    let (status, body) = exchange(&w, &code);
    assert_eq!(status, 200, "{body}");
    // ... and no longer.
    let code = sign_in(&w, &open_page(&w, ""), "alice@example.com");
    state.advance_clock(600);
    let (status, body) = exchange(&w, &code);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );

    // The organization picker's request expires like the page's.
    let token = w.token();
    let alice = state.read(|t| t.user_by_email("alice@example.com").unwrap().id.clone());
    let org = block_on(async {
        let res = reqwest::Client::new()
            .post(format!("{}/api/v1/organization", w.issuer()))
            .bearer_auth(&token)
            .json(&serde_json::json!({"name": "Second"}))
            .send()
            .await
            .unwrap();
        res.json::<Value>().await.unwrap()["organization"]["code"]
            .as_str()
            .unwrap()
            .to_string()
    });
    block_on(async {
        let res = reqwest::Client::new()
            .post(format!("{}/api/v1/organizations/{org}/users", w.issuer()))
            .bearer_auth(&token)
            .json(&serde_json::json!({"users": [{"id": alice}]}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
    });
    let answer = post(
        &w,
        "/oauth2/auth/sign_in",
        &[
            ("request", &open_page(&w, "")),
            ("email", "alice@example.com"),
        ],
    );
    assert_eq!(answer.status, 200);
    let picker = answer.body;
    assert!(picker.contains("Choose an organization"), "{picker}");
    let pick = picker
        .split("name=\"request\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    state.advance_clock(30 * 60 + 1);
    let answer = post(
        &w,
        "/oauth2/auth/organization",
        &[("request", &pick), ("org_code", &org)],
    );
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("Sign-in expired"), "{}", answer.body);
}

#[test]
fn looping_on_authorize_holds_a_bounded_number_of_pending_sign_ins() {
    let w = World::new();
    for _ in 0..50 {
        open_page(&w, "");
    }
    assert_eq!(sign_ins(&w)["pending"], 50, "{}", sign_ins(&w));
    // Once they have expired, the next sign-in page drops them all.
    w.emulator.state().advance_clock(30 * 60 + 1);
    open_page(&w, "");
    assert_eq!(sign_ins(&w)["pending"], 1, "{}", sign_ins(&w));
    // A code and a refresh grant are held until used or expired; the session stays.
    let code = sign_in(&w, &open_page(&w, ""), "alice@example.com");
    let held = sign_ins(&w);
    assert_eq!(
        (&held["codes"], &held["sessions"], &held["pending"]),
        (&Value::from(1), &Value::from(1), &Value::from(1)),
        "{held}"
    );
    let (status, body) = exchange(&w, &code);
    assert_eq!(status, 200, "{body}");
    let held = sign_ins(&w);
    assert_eq!(
        (&held["codes"], &held["refresh_tokens"]),
        (&Value::from(0), &Value::from(1)),
        "{held}"
    );
}

/// `METHOD path` on the emulator with an optional bearer token and JSON body: (status, JSON).
fn call(
    w: &World,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    block_on(async {
        let mut req = reqwest::Client::new()
            .request(method.parse().unwrap(), format!("{}{path}", w.issuer()));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    })
}

#[test]
fn reset_ends_every_sign_in_and_empties_the_logs_faults_and_counts() {
    let w = World::with(Options {
        faults: vec![Fault::parse("503@/api/v1/industries").unwrap()],
        ..Options::default()
    });
    let token = w.token();
    let state = w.emulator.state();
    // A webhook whose endpoint refuses connections: its failed attempts fill the delivery log.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let (status, body) = call(
        &w,
        Some(&token),
        "POST",
        "/api/v1/webhooks",
        Some(json!({"name": "hook", "endpoint": endpoint, "event_types": ["user.created"]})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        &w,
        Some(&token),
        "POST",
        "/api/v1/user",
        Some(json!({"identities": [{"type": "email", "details": {"email": "zoe@example.com"}}]})),
    );
    assert_eq!(status, 200, "{body}");
    let deliveries = || {
        let (_, log) = call(&w, None, "GET", "/_emulator/webhooks", None);
        log["deliveries"].as_array().unwrap().len()
    };
    let started = std::time::Instant::now();
    while deliveries() == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "no delivery logged"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // A fault added at run time, next to the one given at start.
    let (status, _) = call(
        &w,
        None,
        "POST",
        "/_emulator/faults",
        Some(json!({"path": "/api/v1/roles", "kind": "status", "status": 500})),
    );
    assert_eq!(status, 204);
    assert_eq!(call(&w, Some(&token), "GET", "/api/v1/roles", None).0, 500);
    // Sign-ins under way: a page left open, an unspent code, a refresh token, a session.
    let pending = open_page(&w, "");
    let (code, cookie) = sign_in_with_cookie(&w, &open_page(&w, ""), "alice@example.com");
    let spent = sign_in(&w, &open_page(&w, ""), "alice@example.com");
    let (status, tokens) = exchange(&w, &spent);
    assert_eq!(status, 200, "{tokens}");
    assert!(!state.recorded().is_empty());
    assert!(state.count("GET /api/v1/roles") > 0);

    let (status, _) = call(&w, None, "POST", "/_emulator/reset", Some(json!({})));
    assert_eq!(status, 204);

    // The logs and counts start again (from the requests after the reset) ...
    assert_eq!(deliveries(), 0);
    let (_, stats) = call(&w, None, "GET", "/_emulator/stats", None);
    assert_eq!(
        stats["requests"],
        json!({"GET /_emulator/webhooks": 1, "GET /_emulator/stats": 1}),
        "{stats}"
    );
    assert_eq!(stats["writes"], 0, "{stats}");
    assert_eq!(
        stats["sign_ins"],
        json!({"pending": 0, "choosing": 0, "codes": 0, "refresh_tokens": 0, "sessions": 0}),
    );
    assert!(state.recorded().is_empty());
    // ... faults are those given at start again ...
    assert_eq!(call(&w, Some(&token), "GET", "/api/v1/roles", None).0, 200);
    assert_eq!(
        call(&w, Some(&token), "GET", "/api/v1/industries", None).0,
        503
    );
    // ... and every sign-in has ended.
    let answer = post(
        &w,
        "/oauth2/auth/sign_in",
        &[("request", &pending), ("email", "alice@example.com")],
    );
    assert_eq!(answer.status, 400, "{}", answer.body);
    let (status, body) = exchange(&w, &code);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let app = w.web_app();
    let (status, body) = crate::http::post_form(
        &format!("{}/oauth2/token", w.issuer()),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &app.id),
            ("client_secret", &app.client_secret.unwrap()),
        ],
        None,
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let silent = block_on(async {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(format!(
                "{}/oauth2/auth?client_id={}&redirect_uri={CALLBACK}&response_type=code&scope=openid&prompt=none",
                w.issuer(),
                w.web_app_id()
            ))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
    });
    let location = silent.headers()["location"].to_str().unwrap();
    assert!(location.contains("error=login_required"), "{location}");
}
