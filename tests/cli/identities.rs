//! A user's identities and sessions in the Management API are the user's real ones: the email
//! and username identities it was created with and those added later, each a way to sign in;
//! and the sessions its sign-ins through `/oauth2/auth` started, whose deletion signs it out.

use cargo_kinde::emulator::Options;
use serde_json::{Value, json};

use crate::World;
use crate::http::raw;
// The sign-in steps the organization tests take too.
use crate::orgs::{exchange, param, user_id};

/// The seeded web app's callback.
const CALLBACK: &str = "http://localhost:3000/api/auth/kinde_callback";

fn call(w: &World, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| ("application/json", serde_json::to_vec(&b).unwrap()));
    let (status, _, bytes) = raw(method, &format!("{}{path}", w.issuer()), Some(token), body);
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn ok(w: &World, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, answer) = call(w, token, method, path, body);
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {answer}"
    );
    answer
}

/// `/oauth2/auth` for the web app as a browser with `cookie`: (status, Location, the session
/// cookie set, if any).
fn authorize(
    w: &World,
    extra: &[(&str, &str)],
    cookie: Option<&str>,
) -> (u16, url::Url, Option<String>) {
    let mut url = url::Url::parse(&format!("{}/oauth2/auth", w.issuer())).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &w.web_app_id())
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email offline")
        .append_pair("state", "abcdefgh12");
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let mut req = client
                .get(url.as_str())
                .header("user-agent", "IdentityTest/1.0");
            if let Some(cookie) = cookie {
                req = req.header("cookie", cookie);
            }
            let res = req.send().await.unwrap();
            let location = res.headers()["location"].to_str().unwrap().to_string();
            let session = res
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|v| v.starts_with("kinde_emulator_session=") && !v.contains("Max-Age=0"))
                .map(|v| v.split(';').next().unwrap().to_string());
            (
                res.status().as_u16(),
                url::Url::parse(&location).unwrap(),
                session,
            )
        })
}

fn refresh(w: &World, token: &str) -> (u16, Value) {
    let secret = w.web_app().client_secret.unwrap();
    crate::http::post_form(
        &format!("{}/oauth2/token", w.issuer()),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", &w.web_app_id()),
            ("client_secret", &secret),
        ],
        None,
    )
}

/// The `sub` of a token, unverified (other tests verify signatures).
fn subject(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["sub"].as_str().unwrap().to_string()
}

#[test]
fn a_users_identities_are_its_own_ways_to_sign_in_and_survive_a_restart() {
    let spec = crate::spec::spec();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let options = || Options {
        state_file: Some(state.clone()),
        auto_login: true,
        ..Options::default()
    };
    let (newbie, alice) = {
        let w = World::with(options());
        let token = w.token();
        // Created with an email and a username: both are its identities, the email primary.
        let made = ok(
            &w,
            &token,
            "POST",
            "/api/v1/user",
            Some(
                json!({"profile": {"given_name": "New", "family_name": "Bie"},
                "identities": [
                    {"type": "email", "details": {"email": "newbie@example.com"}},
                    {"type": "username", "details": {"username": "newbie"}}]}),
            ),
        );
        let newbie = made["id"].as_str().unwrap().to_string();
        let listed = ok(
            &w,
            &token,
            "GET",
            &format!("/api/v1/users/{newbie}/identities"),
            None,
        );
        crate::spec::check_response(
            &spec,
            "GET",
            "/api/v1/users/{user_id}/identities",
            200,
            &listed,
        );
        let kinds: Vec<(&str, &str)> = listed["identities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["type"].as_str().unwrap(), i["name"].as_str().unwrap()))
            .collect();
        assert_eq!(
            kinds,
            [("email", "newbie@example.com"), ("username", "newbie")],
            "{listed}"
        );
        assert_eq!(listed["identities"][0]["is_primary"], true);

        // A seeded user has its email identity; one is added.
        let alice = user_id(&w, "alice@example.com");
        let identities = format!("/api/v1/users/{alice}/identities");
        let listed = ok(&w, &token, "GET", &identities, None);
        assert_eq!(
            listed["identities"].as_array().unwrap().len(),
            1,
            "{listed}"
        );
        assert_eq!(listed["identities"][0]["name"], "alice@example.com");
        let original = listed["identities"][0]["id"].as_str().unwrap().to_string();
        let (status, made) = call(
            &w,
            &token,
            "POST",
            &identities,
            Some(json!({"type": "email", "value": "alice.work@example.com"})),
        );
        assert_eq!(status, 201, "{made}");
        crate::spec::check_response(
            &spec,
            "POST",
            "/api/v1/users/{user_id}/identities",
            201,
            &made,
        );
        let work = made["identity"]["id"].as_str().unwrap().to_string();
        assert!(work.starts_with("identity_"), "{work}");
        let one = ok(
            &w,
            &token,
            "GET",
            &format!("/api/v1/identities/{work}"),
            None,
        );
        crate::spec::check_response(&spec, "GET", "/api/v1/identities/{identity_id}", 200, &one);
        assert_eq!(
            (&one["type"], &one["name"], &one["is_primary"]),
            (
                &json!("email"),
                &json!("alice.work@example.com"),
                &json!(false)
            ),
            "{one}"
        );

        // Taken, malformed or unknown: Kinde's 400, and nothing added.
        for (body, why) in [
            (
                json!({"type": "email", "value": "BOB@example.com"}),
                "bob's email",
            ),
            (
                json!({"type": "username", "value": "newbie"}),
                "newbie's username",
            ),
            (
                json!({"type": "email", "value": "not-an-email"}),
                "not an email",
            ),
            (
                json!({"type": "carrier_pigeon", "value": "coo"}),
                "not a type",
            ),
            (json!({"type": "email"}), "no value"),
        ] {
            let (status, answer) = call(&w, &token, "POST", &identities, Some(body));
            assert_eq!(status, 400, "{why}: {answer}");
            assert!(answer["errors"][0]["code"].is_string(), "{why}: {answer}");
        }
        let (status, _) = call(
            &w,
            &token,
            "POST",
            "/api/v1/users/kp_nobody/identities",
            Some(json!({"type": "email", "value": "x@example.com"})),
        );
        assert_eq!(status, 400);

        // The user shows both; either email signs it in.
        let user = ok(&w, &token, "GET", &format!("/api/v1/user?id={alice}"), None);
        let shown: Vec<&str> = user["identities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["identity"].as_str().unwrap())
            .collect();
        assert_eq!(
            shown,
            ["alice@example.com", "alice.work@example.com"],
            "{user}"
        );
        let (_, back, _) = authorize(&w, &[("login_hint", "alice.work@example.com")], None);
        let tokens = exchange(&w, &param(&back, "code").unwrap());
        assert_eq!(subject(tokens["access_token"].as_str().unwrap()), alice);
        let listed = ok(&w, &token, "GET", &identities, None);
        let work_listed = &listed["identities"][1];
        assert_eq!(work_listed["total_logins"], 1, "{listed}");
        assert!(work_listed["last_login_on"].is_string(), "{listed}");

        // Made primary, it is the user's email; deleted, the other email is again.
        ok(
            &w,
            &token,
            "PATCH",
            &format!("/api/v1/identities/{work}"),
            Some(json!({"is_primary": true})),
        );
        let user = ok(&w, &token, "GET", &format!("/api/v1/user?id={alice}"), None);
        assert_eq!(user["preferred_email"], "alice.work@example.com", "{user}");
        ok(
            &w,
            &token,
            "DELETE",
            &format!("/api/v1/identities/{work}"),
            None,
        );
        let (status, _) = call(
            &w,
            &token,
            "GET",
            &format!("/api/v1/identities/{work}"),
            None,
        );
        assert_eq!(status, 400);
        let user = ok(&w, &token, "GET", &format!("/api/v1/user?id={alice}"), None);
        assert_eq!(user["preferred_email"], "alice@example.com", "{user}");
        // The address is free again, and no longer signs alice in.
        assert!(
            w.emulator
                .state()
                .read(|t| t.user_by_email("alice.work@example.com").is_none())
        );
        // The last identity stays: without one the user could never sign in.
        let (status, answer) = call(
            &w,
            &token,
            "DELETE",
            &format!("/api/v1/identities/{original}"),
            None,
        );
        assert_eq!(status, 400, "{answer}");
        (newbie, alice)
    };
    let w = World::with(options());
    let token = w.token();
    let listed = ok(
        &w,
        &token,
        "GET",
        &format!("/api/v1/users/{newbie}/identities"),
        None,
    );
    assert_eq!(
        listed["identities"].as_array().unwrap().len(),
        2,
        "{listed}"
    );
    assert_eq!(listed["identities"][1]["name"], "newbie", "{listed}");
    let listed = ok(
        &w,
        &token,
        "GET",
        &format!("/api/v1/users/{alice}/identities"),
        None,
    );
    assert_eq!(
        listed["identities"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
}

#[test]
fn sign_ins_start_sessions_and_deleting_them_signs_the_user_out_everywhere() {
    let spec = crate::spec::spec();
    let w = World::with(Options {
        auto_login: true,
        ..Options::default()
    });
    let token = w.token();
    let alice = user_id(&w, "alice@example.com");
    let bob = user_id(&w, "bob@example.com");
    let sessions = format!("/api/v1/users/{alice}/sessions");
    let listed = ok(&w, &token, "GET", &sessions, None);
    assert_eq!(listed["sessions"], json!([]), "{listed}");

    let (_, back, cookie) = authorize(&w, &[("login_hint", "alice@example.com")], None);
    let cookie = cookie.expect("a sign-in sets the session cookie");
    let tokens = exchange(&w, &param(&back, "code").unwrap());
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();

    let listed = ok(&w, &token, "GET", &sessions, None);
    crate::spec::check_response(
        &spec,
        "GET",
        "/api/v1/users/{user_id}/sessions",
        200,
        &listed,
    );
    let all = listed["sessions"].as_array().unwrap();
    assert_eq!(all.len(), 1, "{listed}");
    let session = &all[0];
    let default_org = w.emulator.state().read(|t| t.organizations[0].code.clone());
    assert_eq!(session["user_id"], json!(alice));
    assert_eq!(session["client_id"], json!(w.web_app_id()));
    assert_eq!(session["org_code"], json!(default_org));
    assert_eq!(session["initial_user_agent"], "IdentityTest/1.0");
    let id = session["session_id"].as_str().unwrap();
    assert!(id.starts_with("session_"), "{id}");
    // The id is not the cookie: the API never hands out what signs a browser in.
    assert!(
        !cookie.contains(id.trim_start_matches("session_")),
        "{cookie}"
    );
    for field in ["started_on", "updated_on", "expires_on"] {
        let at = session[field].as_str().unwrap();
        assert!(humantime::parse_rfc3339(at).is_ok(), "{field}: {at}");
    }
    let bobs = ok(
        &w,
        &token,
        "GET",
        &format!("/api/v1/users/{bob}/sessions"),
        None,
    );
    assert_eq!(bobs["sessions"], json!([]), "{bobs}");

    // The session signs the browser in silently, until it is deleted.
    let (_, back, _) = authorize(&w, &[("prompt", "none")], Some(&cookie));
    assert!(param(&back, "code").is_some(), "{back}");
    let answer = ok(&w, &token, "DELETE", &sessions, None);
    crate::spec::check_response(
        &spec,
        "DELETE",
        "/api/v1/users/{user_id}/sessions",
        200,
        &answer,
    );
    let listed = ok(&w, &token, "GET", &sessions, None);
    assert_eq!(listed["sessions"], json!([]), "{listed}");
    let (_, back, _) = authorize(&w, &[("prompt", "none")], Some(&cookie));
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("login_required"),
        "{back}"
    );
    // Its refresh tokens are revoked with it.
    let (status, body) = refresh(&w, &refresh_token);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");

    // Signing out ends the session too; an unknown user is Kinde's 400.
    let (_, _, cookie) = authorize(&w, &[("login_hint", "bob@example.com")], None);
    let bobs = ok(
        &w,
        &token,
        "GET",
        &format!("/api/v1/users/{bob}/sessions"),
        None,
    );
    assert_eq!(bobs["sessions"].as_array().unwrap().len(), 1, "{bobs}");
    let (status, _, _) = crate::http::get_with_cookie(
        &format!("{}/logout", w.issuer()),
        cookie.as_deref().unwrap(),
    );
    assert_eq!(status, 200);
    let bobs = ok(
        &w,
        &token,
        "GET",
        &format!("/api/v1/users/{bob}/sessions"),
        None,
    );
    assert_eq!(bobs["sessions"], json!([]), "{bobs}");
    let (status, answer) = call(&w, &token, "GET", "/api/v1/users/kp_nobody/sessions", None);
    assert_eq!(status, 400, "{answer}");
}

#[test]
fn a_deleted_users_sessions_and_refresh_tokens_end_with_it() {
    let w = World::with(Options {
        auto_login: true,
        ..Options::default()
    });
    let token = w.token();
    let bob = user_id(&w, "bob@example.com");
    let (_, back, cookie) = authorize(&w, &[("login_hint", "bob@example.com")], None);
    let cookie = cookie.expect("a sign-in sets the session cookie");
    let tokens = exchange(&w, &param(&back, "code").unwrap());
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();
    // A code issued before the deletion, not yet exchanged.
    let (_, unspent, _) = authorize(&w, &[("prompt", "none")], Some(&cookie));
    let unspent = param(&unspent, "code").expect("the session signs bob in silently");

    ok(
        &w,
        &token,
        "DELETE",
        &format!("/api/v1/user?id={bob}"),
        None,
    );
    // The browser's session no longer signs anyone in.
    let (_, back, _) = authorize(&w, &[("prompt", "none")], Some(&cookie));
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("login_required"),
        "{back}"
    );
    let (status, body) = refresh(&w, &refresh_token);
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "{body}"
    );
    let secret = w.web_app().client_secret.unwrap();
    let (status, body) = crate::http::post_form(
        &format!("{}/oauth2/token", w.issuer()),
        &[
            ("grant_type", "authorization_code"),
            ("code", &unspent),
            ("redirect_uri", CALLBACK),
            ("client_id", &w.web_app_id()),
            ("client_secret", &secret),
        ],
        None,
    );
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "{body}"
    );
}

#[test]
fn a_username_identity_is_the_users_username_in_the_api_and_its_profile() {
    let spec = crate::spec::spec();
    let w = World::with(Options {
        auto_login: true,
        ..Options::default()
    });
    let token = w.token();
    let made = ok(
        &w,
        &token,
        "POST",
        "/api/v1/user",
        Some(json!({"identities": [
            {"type": "email", "details": {"email": "dana.new@example.com"}},
            {"type": "username", "details": {"username": "Carol"}},
            {"type": "phone", "details": {"phone": "+61400000000", "phone_country_id": "au"}}]})),
    );
    let carol = made["id"].as_str().unwrap().to_string();
    let kinds: Vec<&str> = made["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["email", "username", "phone"], "{made}");
    let user = ok(&w, &token, "GET", &format!("/api/v1/user?id={carol}"), None);
    crate::spec::check_response(&spec, "GET", "/api/v1/user", 200, &user);
    assert_eq!(
        (&user["username"], &user["phone"]),
        (&json!("Carol"), &json!("+61400000000")),
        "{user}"
    );
    // Usernames are case-insensitive: another user cannot take it in other letters.
    let (status, answer) = call(
        &w,
        &token,
        "POST",
        "/api/v1/user",
        Some(json!({"identities": [{"type": "username", "details": {"username": "carol"}}]})),
    );
    assert_eq!(status, 400, "{answer}");

    let (_, back, _) = authorize(&w, &[("login_hint", "dana.new@example.com")], None);
    let tokens = exchange(&w, &param(&back, "code").unwrap());
    let profile_url = format!("{}/oauth2/v2/user_profile", w.issuer());
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    let (status, profile) = crate::http::get_json(&profile_url, Some(&bearer));
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["preferred_username"], "Carol", "{profile}");

    // The username deleted, the user has none.
    let listed = ok(
        &w,
        &token,
        "GET",
        &format!("/api/v1/users/{carol}/identities"),
        None,
    );
    let username = listed["identities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "username")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &w,
        &token,
        "DELETE",
        &format!("/api/v1/identities/{username}"),
        None,
    );
    let user = ok(&w, &token, "GET", &format!("/api/v1/user?id={carol}"), None);
    assert!(user.get("username").is_none(), "{user}");
    let (_, profile) = crate::http::get_json(&profile_url, Some(&bearer));
    assert_eq!(profile["preferred_username"], Value::Null, "{profile}");
}
