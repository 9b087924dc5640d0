//! Webhooks: endpoints registered through the Management API receive Kinde-format, signed
//! requests for the emulator's state changes, with retries, off the request path. Each test
//! runs its own receiver on 127.0.0.1:0.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cargo_kinde::emulator::Options;
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

/// A Management API call with an M2M token: (status, JSON body or null).
fn call(w: &World, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    block_on(async {
        let mut req = reqwest::Client::new()
            .request(method.parse().unwrap(), format!("{}{path}", w.issuer()))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    })
}

fn ok(w: &World, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, body) = call(w, token, method, path, body);
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {body}"
    );
    body
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn payload(&self) -> Value {
        let part = self.body.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }
}

/// A webhook receiver answering with `statuses` in turn (the last one repeated); `None` never
/// answers (a hanging endpoint).
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(statuses: Vec<Option<u16>>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let seen = got.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { return };
                let answer = statuses[n.min(statuses.len() - 1)];
                let seen = seen.clone();
                std::thread::spawn(move || serve(stream, answer, &seen));
            }
        });
        Receiver { url, got }
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The requests once there are at least `n` (fails after 10 s).
    fn wait_for(&self, n: usize) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{} of {n} deliveries arrived",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(stream: std::net::TcpStream, answer: Option<u16>, seen: &Mutex<Vec<Received>>) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let method = line.split(' ').next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').unwrap();
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    seen.lock().unwrap().push(Received {
        method,
        headers,
        body: String::from_utf8(body).unwrap(),
    });
    match answer {
        Some(status) => {
            let _ = reader.get_mut().write_all(
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
        None => std::thread::sleep(Duration::from_secs(30)),
    }
}

fn hook(w: &World, token: &str, endpoint: &str, events: &[&str]) -> String {
    let made = ok(
        w,
        token,
        "POST",
        "/api/v1/webhooks",
        Some(json!({"name": "test", "endpoint": endpoint, "event_types": events})),
    );
    made["webhook"]["id"].as_str().unwrap().to_string()
}

fn deliveries(w: &World) -> Vec<Value> {
    let (status, body) = crate::http::get_json(&format!("{}/_emulator/webhooks", w.issuer()), None);
    assert_eq!(status, 200);
    body["deliveries"].as_array().unwrap().clone()
}

fn create_user(w: &World, token: &str, email: &str) -> String {
    let made = ok(
        w,
        token,
        "POST",
        "/api/v1/user",
        Some(json!({
            "profile": {"given_name": "Ada", "family_name": "Lovelace"},
            "identities": [{"type": "email", "details": {"email": email}}],
        })),
    );
    made["id"].as_str().unwrap().to_string()
}

fn fast_world(scale: f64) -> World {
    World::with(Options {
        webhook_retry_scale: Some(scale),
        ..Options::default()
    })
}

#[test]
fn creating_a_user_delivers_a_signed_user_created_event() {
    let w = World::new();
    let token = w.token();
    let receiver = Receiver::start(vec![Some(200)]);
    let webhook_id = hook(&w, &token, &receiver.url, &["user.created"]);
    let user_id = create_user(&w, &token, "ada@example.com");

    let got = receiver.wait_for(1).remove(0);
    assert_eq!(got.method, "POST");
    assert_eq!(got.header("content-type"), Some("application/jwt"));
    assert_eq!(got.header("webhook-id").unwrap().len(), 32);
    // The JWS verifies against the emulator's published JWKS, by its kid.
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(got.body.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    let (_, jwks) = crate::http::get_json(&format!("{}/.well-known/jwks.json", w.issuer()), None);
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the kid is in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let verified = jsonwebtoken::decode::<Value>(&got.body, &key, &validation)
        .expect("the signature verifies")
        .claims;
    assert_eq!(verified, got.payload());

    // The payload, per Kinde's webhook types.
    assert_eq!(verified["type"], "user.created");
    assert_eq!(verified["source"], "api");
    let event_id = verified["event_id"].as_str().unwrap();
    assert!(
        event_id.len() == 38
            && event_id.starts_with("event_")
            && event_id[6..].bytes().all(|b| b.is_ascii_hexdigit()),
        "{event_id}"
    );
    let timestamp = verified["timestamp"].as_str().unwrap();
    assert!(humantime::parse_rfc3339(timestamp).is_ok(), "{timestamp}");
    for absent in ["iss", "aud", "exp", "iat"] {
        assert!(verified.get(absent).is_none(), "{absent} in {verified}");
    }
    let user = &verified["data"]["user"];
    assert_eq!(user["id"], user_id.as_str());
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["first_name"], "Ada");
    assert_eq!(user["last_name"], "Lovelace");
    assert_eq!(user["is_suspended"], false);
    let default_org = w.emulator.state().tenant().organizations[0].code.clone();
    assert_eq!(user["organizations"][0]["code"], default_org.as_str());

    // The delivery log lists it.
    let log = deliveries(&w);
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["webhook_id"], webhook_id.as_str());
    assert_eq!(log[0]["event_type"], "user.created");
    assert_eq!(log[0]["event_id"], event_id);
    assert_eq!(log[0]["attempt"], 1);
    assert_eq!(log[0]["status"], 200);
    assert_eq!(log[0]["endpoint"], receiver.url.as_str());
    // It keeps the payload as sent, decoded, but never the signed JWS: that would verify if
    // replayed to the endpoint by anyone reading the log.
    assert_eq!(log[0]["payload"], verified);
    let listed = serde_json::to_string(&log).unwrap();
    assert!(!listed.contains(got.body.split('.').nth(2).unwrap()));
}

#[test]
fn each_webhook_gets_only_its_event_types() {
    let w = World::new();
    let token = w.token();
    let users = Receiver::start(vec![Some(200)]);
    let others = Receiver::start(vec![Some(200)]);
    hook(&w, &token, &users.url, &["user.created"]);
    hook(
        &w,
        &token,
        &others.url,
        &["role.created", "user.deleted", "organization.created"],
    );
    let user_id = create_user(&w, &token, "grace@example.com");
    ok(
        &w,
        &token,
        "POST",
        "/api/v1/roles",
        Some(json!({"key": "admin", "name": "Admin"})),
    );
    ok(
        &w,
        &token,
        "DELETE",
        &format!("/api/v1/user?id={user_id}"),
        None,
    );
    ok(
        &w,
        &token,
        "POST",
        "/api/v1/organization",
        Some(json!({"name": "Acme"})),
    );
    let got = others.wait_for(3);
    let mut types: Vec<String> = got
        .iter()
        .map(|r| r.payload()["type"].as_str().unwrap().to_string())
        .collect();
    types.sort();
    assert_eq!(
        types,
        ["organization.created", "role.created", "user.deleted"]
    );
    let deleted = got
        .iter()
        .map(Received::payload)
        .find(|p| p["type"] == "user.deleted")
        .unwrap();
    assert_eq!(deleted["data"], json!({"user": {"id": user_id}}));
    let role = got
        .iter()
        .map(Received::payload)
        .find(|p| p["type"] == "role.created")
        .unwrap();
    assert_eq!(role["data"]["role"]["key"], "admin");
    assert_eq!(role["data"]["role"]["is_default_role"], false);
    // The other endpoint had its one event, and nothing else arrives for it.
    std::thread::sleep(Duration::from_millis(300));
    let got = users.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload()["type"], "user.created");
    // Two webhooks on one event would each get it: 4 deliveries in the log.
    assert_eq!(deliveries(&w).len(), 4);
}

#[test]
fn a_failing_endpoint_is_retried_with_the_same_webhook_id() {
    let w = fast_world(0.001);
    let token = w.token();
    let receiver = Receiver::start(vec![Some(500), Some(503), Some(200)]);
    hook(&w, &token, &receiver.url, &["permission.created"]);
    ok(
        &w,
        &token,
        "POST",
        "/api/v1/permissions",
        Some(json!({"key": "read:things", "name": "Read things"})),
    );
    let got = receiver.wait_for(3);
    let id = got[0].header("webhook-id").unwrap();
    assert!(got.iter().all(|r| r.header("webhook-id") == Some(id)));
    assert!(got.iter().all(|r| r.body == got[0].body));
    assert_eq!(got[0].payload()["data"]["permission"]["key"], "read:things");
    // After the 200 it stops.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.got().len(), 3);
    let log = deliveries(&w);
    let attempts: Vec<(u64, Option<u64>)> = log
        .iter()
        .map(|d| (d["attempt"].as_u64().unwrap(), d["status"].as_u64()))
        .collect();
    assert_eq!(attempts, [(1, Some(500)), (2, Some(503)), (3, Some(200))]);
    assert!(log.iter().all(|d| d["request_id"] == id));
    assert!(log[0]["error"].as_str().unwrap().contains("500"));
    assert!(log[2]["error"].is_null());
}

#[test]
fn retries_stop_when_the_webhook_is_deleted() {
    // Retries at once, then after 50 ms, 300 ms, 1.2 s.
    let w = fast_world(0.01);
    let token = w.token();
    let receiver = Receiver::start(vec![Some(500)]);
    let id = hook(&w, &token, &receiver.url, &["role.created"]);
    ok(
        &w,
        &token,
        "POST",
        "/api/v1/roles",
        Some(json!({"key": "viewer", "name": "Viewer"})),
    );
    receiver.wait_for(2);
    ok(
        &w,
        &token,
        "DELETE",
        &format!("/api/v1/webhooks/{id}"),
        None,
    );
    std::thread::sleep(Duration::from_millis(1000));
    let sent = receiver.got().len();
    assert!(sent <= 3, "{sent} attempts after the webhook was deleted");
}

#[test]
fn a_hanging_endpoint_does_not_slow_the_api() {
    // A scale of 0.1 makes the 10 s attempt timeout 1 s.
    let w = fast_world(0.1);
    let token = w.token();
    let receiver = Receiver::start(vec![None]);
    hook(&w, &token, &receiver.url, &["user.created", "user.updated"]);
    let started = Instant::now();
    let id = create_user(&w, &token, "slow@example.com");
    ok(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/user?id={id}"),
        Some(json!({"given_name": "Quick"})),
    );
    let took = started.elapsed();
    assert!(took < Duration::from_millis(800), "{took:?}");
    receiver.wait_for(2);
    // Each attempt times out, is logged as such, and is retried.
    let started = Instant::now();
    loop {
        let log = deliveries(&w);
        if log.iter().filter(|d| d["error"].is_string()).count() >= 2 {
            assert!(log.iter().all(|d| d["status"].is_null()), "{log:?}");
            assert!(
                log.iter()
                    .all(|d| d["error"].as_str().unwrap().contains("timed out")),
                "{log:?}"
            );
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{log:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn endpoints_must_be_https_except_on_loopback() {
    let w = World::new();
    let token = w.token();
    let (status, body) = call(
        &w,
        &token,
        "POST",
        "/api/v1/webhooks",
        Some(
            json!({"name": "x", "endpoint": "http://app.example/hook", "event_types": ["user.created"]}),
        ),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["code"], "INVALID_ENDPOINT");
    hook(&w, &token, "https://app.example/hook", &["user.created"]);
    hook(&w, &token, "http://localhost:3000/hook", &["user.created"]);
}

#[test]
fn signing_up_and_in_sends_user_events_from_the_user() {
    let w = World::new();
    let token = w.token();
    let receiver = Receiver::start(vec![Some(200)]);
    hook(
        &w,
        &token,
        &receiver.url,
        &[
            "user.created",
            "user.authenticated",
            "user.authentication_failed",
        ],
    );
    let sign_in = |extra: &str| {
        let url = format!(
            "{}/oauth2/auth?client_id={}&redirect_uri={CALLBACK}&response_type=code&scope=openid{extra}",
            w.issuer(),
            w.web_app_id(),
        );
        let html = block_on(async { reqwest::get(&url).await.unwrap().text().await.unwrap() });
        let request = html
            .split("name=\"request\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = block_on(async {
            client
                .post(format!("{}/oauth2/auth/sign_in", w.issuer()))
                .form(&[("request", request.as_str()), ("email", "new@example.com")])
                .send()
                .await
                .unwrap()
        });
        assert_eq!(res.status().as_u16(), 303);
    };
    sign_in("");
    let got = receiver.wait_for(2);
    let mut payloads: Vec<Value> = got.iter().map(Received::payload).collect();
    payloads.sort_by_key(|p| p["type"].as_str().unwrap().to_string());
    assert_eq!(payloads[0]["type"], "user.authenticated");
    assert_eq!(payloads[1]["type"], "user.created");
    assert!(payloads.iter().all(|p| p["source"] == "user"));
    let id = payloads[1]["data"]["user"]["id"].as_str().unwrap();
    assert_eq!(payloads[0]["data"], json!({"user": {"id": id}}));
    assert_eq!(payloads[0]["ip_address"], "127.0.0.1");
    assert!(payloads[1].get("ip_address").is_none());
    // Refused into an organization that does not exist.
    sign_in("&org_code=org_nope");
    let got = receiver.wait_for(3);
    let failed = got[2].payload();
    assert_eq!(failed["type"], "user.authentication_failed");
    assert_eq!(failed["data"], json!({"user": {"id": id}}));
}

#[test]
fn user_events_carry_the_users_username_phone_and_suspension() {
    let w = World::new();
    let token = w.token();
    let receiver = Receiver::start(vec![Some(200), Some(200)]);
    hook(&w, &token, &receiver.url, &["user.created", "user.updated"]);
    let made = ok(
        &w,
        &token,
        "POST",
        "/api/v1/user",
        Some(json!({"identities": [
            {"type": "email", "details": {"email": "eve@example.org"}},
            {"type": "username", "details": {"username": "eve"}},
            {"type": "phone", "details": {"phone": "+61400000001"}}]})),
    );
    let id = made["id"].as_str().unwrap().to_string();
    ok(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/user?id={id}"),
        Some(json!({"is_suspended": true})),
    );
    let got = receiver.wait_for(2);
    let by_type = |kind: &str| {
        got.iter()
            .map(|r| r.payload())
            .find(|p| p["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    let created = by_type("user.created");
    let user = &created["data"]["user"];
    assert_eq!(
        (&user["username"], &user["phone"], &user["is_suspended"]),
        (&json!("eve"), &json!("+61400000001"), &json!(false)),
        "{created}"
    );
    let updated = by_type("user.updated");
    assert_eq!(updated["data"]["user"]["is_suspended"], true, "{updated}");
}
