//! The device authorization flow (RFC 8628) with Kinde's values: a "Device and IoT" app gets
//! a device code and a user code, the user approves (or denies) on `<issuer>/device`, and the
//! device's polls get `authorization_pending`, `slow_down`, then a token.

use serde_json::Value;

use crate::World;
use crate::http::{get_json, post_form, raw};

const API: &str = "urn:cargo-kinde:sample-api";

/// A world with a device app authorised for the sample API; its client id.
fn world() -> (World, String) {
    use cargo_kinde::emulator::tenant::{Application, Authorization, random_hex};
    let w = World::new();
    let id = random_hex(16);
    w.emulator.state().update(|t| {
        t.applications.push(Application {
            id: id.clone(),
            name: "Living-room TV".into(),
            kind: "device".into(),
            client_secret: None,
            redirect_urls: vec![],
            logout_urls: vec![],
            extra: Default::default(),
        });
        let api = t
            .apis
            .iter_mut()
            .find(|a| a.audience.as_deref() == Some(API))
            .unwrap();
        api.applications.push(Authorization {
            client_id: id.clone(),
            scopes: vec![],
            extra: Default::default(),
        });
    });
    (w, id)
}

fn start(w: &World, client: &str) -> Value {
    let (status, body) = post_form(
        &format!("{}/oauth2/device/auth", w.issuer()),
        &[
            ("client_id", client),
            ("scope", "openid profile"),
            ("audience", API),
        ],
        None,
    );
    assert_eq!(status, 200, "{body}");
    body
}

fn poll(w: &World, client: &str, device_code: &str) -> (u16, Value) {
    post_form(
        &format!("{}/oauth2/token", w.issuer()),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
            ("client_id", client),
        ],
        None,
    )
}

/// The user's answer on the device page: approve as `email`, or deny.
fn answer(w: &World, user_code: &str, email: Option<&str>) -> (u16, String) {
    let body = match email {
        Some(email) => format!("user_code={user_code}&email={}", email.replace('@', "%40")),
        None => format!("user_code={user_code}&deny=1"),
    };
    let (status, _, bytes) = raw(
        "POST",
        &format!("{}/device", w.issuer()),
        None,
        Some(("application/x-www-form-urlencoded", body.into_bytes())),
    );
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[test]
fn a_device_signs_in_once_the_user_approves_on_the_device_page() {
    let (w, client) = world();
    let issuer = w.issuer();
    let started = start(&w, &client);
    let device_code = started["device_code"].as_str().unwrap();
    let user_code = started["user_code"].as_str().unwrap();
    assert!(device_code.starts_with("kinde_dc_"), "{started}");
    assert_eq!(user_code.len(), 8);
    assert_eq!(started["verification_uri"], format!("{issuer}/device"));
    assert_eq!(
        started["verification_uri_complete"],
        format!("{issuer}/device?user_code={user_code}")
    );
    assert_eq!(started["expires_in"], 600);
    assert_eq!(started["interval"], 5);
    // The device polls before the user answers, then too fast.
    let (status, body) = poll(&w, &client, device_code);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    let (_, body) = poll(&w, &client, device_code);
    assert_eq!(body["error"], "slow_down", "{body}");
    // The page takes the code as a person types it.
    let typed = format!("{}-{}", &user_code[..4], &user_code[4..]).to_lowercase();
    let (status, _, page) = raw(
        "GET",
        &format!("{issuer}/device?user_code={typed}"),
        None,
        None,
    );
    let page = String::from_utf8_lossy(&page);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Connect Living-room TV") && page.contains("bob@example.com"),
        "{page}"
    );
    let (status, page) = answer(&w, &typed, Some("bob@example.com"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Device connected"), "{page}");
    // After waiting the (grown) interval, the token.
    w.emulator.state().advance_clock(11);
    let (status, body) = poll(&w, &client, device_code);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["scope"], "");
    assert!(body.get("refresh_token").is_none(), "{body}");
    let token = body["access_token"].as_str().unwrap();
    let claims = w.emulator.state().check_signature(token).unwrap();
    let bob = w
        .emulator
        .state()
        .read(|t| t.user_by_email("bob@example.com").unwrap().id.clone());
    assert_eq!(claims.subject(), Some(bob.as_str()));
    assert_eq!(claims.authorized_party().unwrap(), client.as_str());
    assert_eq!(claims.audiences(), [API]);
    let (status, profile) = get_json(
        &format!("{issuer}/oauth2/v2/user_profile"),
        Some(&format!("Bearer {token}")),
    );
    assert_eq!(
        (status, profile["email"].as_str()),
        (200, Some("bob@example.com"))
    );
    // The code is spent.
    let (status, body) = poll(&w, &client, device_code);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[test]
fn a_denied_or_expired_code_ends_the_polling() {
    let (w, client) = world();
    let denied = start(&w, &client);
    let (status, page) = answer(&w, denied["user_code"].as_str().unwrap(), None);
    assert_eq!(status, 200);
    assert!(page.contains("Access denied"), "{page}");
    // A retried poll (its answer lost) gets the same answer.
    for _ in 0..2 {
        let (_, body) = poll(&w, &client, denied["device_code"].as_str().unwrap());
        assert_eq!(body["error"], "access_denied", "{body}");
    }
    let expired = start(&w, &client);
    w.emulator.state().advance_clock(601);
    for _ in 0..2 {
        let (_, body) = poll(&w, &client, expired["device_code"].as_str().unwrap());
        assert_eq!(body["error"], "expired_token", "{body}");
    }
    // Its user code no longer opens the approval page.
    let (status, _, _) = raw(
        "GET",
        &format!(
            "{}/device?user_code={}",
            w.issuer(),
            expired["user_code"].as_str().unwrap()
        ),
        None,
        None,
    );
    assert_eq!(status, 400);
}

#[test]
fn only_a_device_app_starts_the_flow_and_only_for_itself() {
    let (w, client) = world();
    let url = format!("{}/oauth2/device/auth", w.issuer());
    let (status, body) = post_form(&url, &[("scope", "openid")], None);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = post_form(&url, &[("client_id", &w.web_app_id())], None);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    let (status, body) = post_form(&url, &[("client_id", "nobody")], None);
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // Another client cannot redeem the device's code.
    let started = start(&w, &client);
    let (_, body) = poll(
        &w,
        &w.web_app_id(),
        started["device_code"].as_str().unwrap(),
    );
    assert_eq!(body["error"], "invalid_grant", "{body}");
    // Discovery names the endpoint and the grant.
    let (_, discovery) = get_json(
        &format!("{}/.well-known/openid-configuration", w.issuer()),
        None,
    );
    assert_eq!(discovery["device_authorization_endpoint"], url);
    assert!(
        discovery["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "urn:ietf:params:oauth:grant-type:device_code")
    );
}

#[test]
fn a_form_without_a_user_or_deny_changes_nothing_and_requests_are_bounded() {
    let (w, client) = world();
    let started = start(&w, &client);
    let user_code = started["user_code"].as_str().unwrap();
    let (status, _, page) = raw(
        "POST",
        &format!("{}/device", w.issuer()),
        None,
        Some((
            "application/x-www-form-urlencoded",
            format!("user_code={user_code}&email=").into_bytes(),
        )),
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&page));
    // Still waiting for the user, not denied.
    let (_, body) = poll(&w, &client, started["device_code"].as_str().unwrap());
    assert_eq!(body["error"], "authorization_pending", "{body}");
    // A public client cannot make the emulator hold whatever it sends.
    let scopes: Vec<String> = (0..65).map(|i| format!("s{i}")).collect();
    let mut form: Vec<(&str, &str)> = vec![("client_id", &client)];
    form.extend(scopes.iter().map(|s| ("scope", s.as_str())));
    let (status, body) = post_form(&format!("{}/oauth2/device/auth", w.issuer()), &form, None);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
}

#[test]
fn a_device_app_deleted_after_the_start_gets_no_token() {
    let (w, client) = world();
    let started = start(&w, &client);
    let (status, _) = answer(
        &w,
        started["user_code"].as_str().unwrap(),
        Some("bob@example.com"),
    );
    assert_eq!(status, 200);
    w.emulator
        .state()
        .update(|t| t.applications.retain(|a| a.id != client));
    let (status, body) = poll(&w, &client, started["device_code"].as_str().unwrap());
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
}
