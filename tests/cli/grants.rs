//! The emulator's sign-in grants and who may use what: user tokens against the Management API,
//! suspended users and organizations, memberships that end, auto-login's choice of user.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cargo_kinde::emulator::Options;
use serde_json::{Value, json};

use crate::World;

/// The seeded web app's callback.
const CALLBACK: &str = "http://localhost:3000/api/auth/kinde_callback";

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// A Management API call: (status, JSON body or null).
fn call(w: &World, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    block_on(async {
        let url = format!("{}{path}", w.issuer());
        let mut req = reqwest::Client::new()
            .request(method.parse().unwrap(), url)
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
    let (status, out) = call(w, token, method, path, body);
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {out}"
    );
    out
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn auto_world() -> World {
    World::with(Options {
        auto_login: true,
        ..Options::default()
    })
}

/// Where `/oauth2/auth` for the web app with `extra` parameters redirects to.
fn authorize(w: &World, extra: &[(&str, &str)]) -> url::Url {
    let mut url = url::Url::parse(&format!("{}/oauth2/auth", w.issuer())).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &w.web_app_id())
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("response_type", "code")
        .append_pair("state", "abcdefgh12");
    if !extra.iter().any(|(k, _)| *k == "scope") {
        url.query_pairs_mut()
            .append_pair("scope", "openid profile email offline");
    }
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    let (status, location) = crate::http::get_no_redirect(url.as_str());
    assert_eq!(status, 303, "{url}");
    url::Url::parse(&location.unwrap()).unwrap()
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// POST a form to the token endpoint as the web app: (status, body).
fn token_request(w: &World, form: &[(&str, &str)]) -> (u16, Value) {
    let secret = w.web_app().client_secret.unwrap();
    let id = w.web_app_id();
    let mut form = form.to_vec();
    form.extend([
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ]);
    crate::http::post_form(&format!("{}/oauth2/token", w.issuer()), &form, None)
}

/// Sign in (auto-login) with `extra` parameters: the token response.
fn sign_in(w: &World, extra: &[(&str, &str)]) -> Value {
    let back = authorize(w, extra);
    let code = param(&back, "code").unwrap_or_else(|| panic!("no code: {back}"));
    let (status, body) = token_request(
        w,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
        ],
    );
    assert_eq!(status, 200, "{body}");
    body
}

fn refresh(w: &World, tokens: &Value) -> (u16, Value) {
    token_request(
        w,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
}

fn user_id(w: &World, email: &str) -> String {
    w.emulator
        .state()
        .read(|t| t.user_by_email(email).unwrap().id.clone())
}

/// A new organization with `user` as its member.
fn org_with(w: &World, token: &str, user: &str) -> String {
    let created = ok(
        w,
        token,
        "POST",
        "/api/v1/organization",
        Some(json!({"name": "Acme"})),
    );
    let code = created["organization"]["code"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        w,
        token,
        "POST",
        &format!("/api/v1/organizations/{code}/users"),
        Some(json!({"users": [{"id": user}]})),
    );
    code
}

#[test]
fn a_user_token_is_no_management_credential_and_gets_only_its_apis_scopes() {
    let w = auto_world();
    let web = w.web_app_id();
    let management = format!("{}/api", w.issuer());
    // The web app authorised for both the Management API and the sample API, as a careless
    // tenant might have it.
    w.emulator.state().update(|t| {
        for api in &mut t.apis {
            api.applications
                .push(cargo_kinde::emulator::tenant::Authorization {
                    client_id: web.clone(),
                    scopes: vec![],
                    extra: Default::default(),
                });
        }
    });
    let tokens = sign_in(
        &w,
        &[
            ("login_hint", "alice@example.com"),
            ("audience", &management),
            ("audience", "urn:cargo-kinde:sample-api"),
            (
                "scope",
                "openid email offline read:users create:users read:samples write:anything",
            ),
        ],
    );
    let access = tokens["access_token"].as_str().unwrap();
    let c = claims(access);
    assert_eq!(
        c["scp"],
        json!(["openid", "email", "offline", "read:samples"]),
        "{c}"
    );
    assert_eq!(tokens["scope"], "openid email offline read:samples");
    // Even with the Management API's audience, a user's token is refused there.
    let (status, body) = call(&w, access, "GET", "/api/v1/users", None);
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
    // An M2M token still passes.
    let m2m = w.token();
    ok(&w, &m2m, "GET", "/api/v1/users", None);
}

#[test]
fn a_suspended_user_cannot_sign_in_or_refresh_and_unsuspending_revives_no_token() {
    let w = auto_world();
    let m2m = w.token();
    let alice = user_id(&w, "alice@example.com");
    let tokens = sign_in(&w, &[("login_hint", "alice@example.com")]);
    let updated = ok(
        &w,
        &m2m,
        "PATCH",
        &format!("/api/v1/user?id={alice}"),
        Some(json!({"is_suspended": true})),
    );
    assert_eq!(updated["is_suspended"], true);
    let got = ok(&w, &m2m, "GET", &format!("/api/v1/user?id={alice}"), None);
    assert_eq!(got["is_suspended"], true);
    let (status, body) = refresh(&w, &tokens);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    let back = authorize(&w, &[("login_hint", "alice@example.com")]);
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("access_denied"),
        "{back}"
    );
    assert!(param(&back, "code").is_none());

    let updated = ok(
        &w,
        &m2m,
        "PATCH",
        &format!("/api/v1/user?id={alice}"),
        Some(json!({"is_suspended": false})),
    );
    assert_eq!(updated["is_suspended"], false);
    let (status, body) = refresh(&w, &tokens);
    assert_eq!(status, 400, "revoked on suspension: {body}");
    sign_in(&w, &[("login_hint", "alice@example.com")]);
}

#[test]
fn a_refresh_after_leaving_the_organization_is_refused() {
    let w = auto_world();
    let m2m = w.token();
    let alice = user_id(&w, "alice@example.com");
    let code = org_with(&w, &m2m, &alice);
    let tokens = sign_in(
        &w,
        &[("login_hint", "alice@example.com"), ("org_code", &code)],
    );
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["org_code"],
        code
    );
    let (status, body) = refresh(&w, &tokens);
    assert_eq!(status, 200, "{body}");
    ok(
        &w,
        &m2m,
        "DELETE",
        &format!("/api/v1/organizations/{code}/users/{alice}"),
        None,
    );
    let (status, body) = refresh(&w, &body);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
}

#[test]
fn unsuspending_an_organization_does_not_bring_its_refresh_tokens_back() {
    let w = auto_world();
    let m2m = w.token();
    let alice = user_id(&w, "alice@example.com");
    let code = org_with(&w, &m2m, &alice);
    let tokens = sign_in(
        &w,
        &[("login_hint", "alice@example.com"), ("org_code", &code)],
    );
    let path = format!("/api/v1/organization/{code}");
    ok(
        &w,
        &m2m,
        "PATCH",
        &path,
        Some(json!({"is_suspended": true})),
    );
    ok(
        &w,
        &m2m,
        "PATCH",
        &path,
        Some(json!({"is_suspended": false})),
    );
    let (status, body) = refresh(&w, &tokens);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
}

#[test]
fn auto_login_creates_the_hinted_user_on_sign_up_or_when_unknown() {
    let w = auto_world();
    for (email, extra) in [
        ("new@example.com", vec![("prompt", "create")]),
        ("reg@example.com", vec![("start_page", "registration")]),
        ("zed@example.com", vec![]),
    ] {
        let mut params = vec![("login_hint", email)];
        params.extend(extra);
        let tokens = sign_in(&w, &params);
        let id = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id["email"], email, "{params:?}");
        assert_eq!(id["sub"], user_id(&w, email));
    }
    // A known hint signs that user in; no hint, the first user.
    let id = claims(
        sign_in(&w, &[("login_hint", "BOB@example.com")])["id_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(id["email"], "bob@example.com");
    let id = claims(sign_in(&w, &[])["id_token"].as_str().unwrap());
    assert_eq!(id["email"], "alice@example.com");
}

#[test]
fn a_seed_turns_on_token_claims_and_sets_lifetimes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.toml");
    let app = |tokens: &str| {
        format!(
            "[[applications]]\nname = \"Web\"\ntype = \"reg\"\ncallback_urls = [\"{CALLBACK}\"]\n\n[applications.tokens]\n{tokens}\n"
        )
    };
    std::fs::write(
        &path,
        app("roles = true\norg_name = true\norganizations = true\naccess_token_lifetime = 600\nrefresh_token_lifetime = 1200\nid_token_lifetime = 300"),
    )
    .unwrap();
    let seed = cargo_kinde::emulator::seed::Seed::load(&path).unwrap();
    let w = World::with(Options {
        auto_login: true,
        seed: Some(seed),
        ..Options::default()
    });
    let tokens = sign_in(&w, &[("login_hint", "alice@example.com")]);
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["roles"], json!([]), "{access}");
    assert_eq!(access["org_name"], "Default Organization");
    assert_eq!(
        access["exp"].as_u64().unwrap() - access["iat"].as_u64().unwrap(),
        600
    );
    assert_eq!(tokens["expires_in"], 600);
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        id["organizations"][0]["name"], "Default Organization",
        "{id}"
    );
    assert_eq!(
        id["exp"].as_u64().unwrap() - id["iat"].as_u64().unwrap(),
        300
    );

    // Kinde: the refresh lifetime must be longer than the access lifetime.
    std::fs::write(
        &path,
        app("access_token_lifetime = 600\nrefresh_token_lifetime = 600"),
    )
    .unwrap();
    let refused = cargo_kinde::emulator::seed::Seed::load(&path)
        .unwrap_err()
        .to_string();
    assert!(refused.contains("seed.toml:8:"), "{refused}");
    assert!(refused.contains("refresh_token_lifetime"), "{refused}");
}

#[test]
fn application_token_lifetimes_set_through_the_api_reach_the_tokens() {
    let w = auto_world();
    let m2m = w.token();
    let path = format!("/api/v1/applications/{}/tokens", w.web_app_id());
    let (status, body) = call(
        &w,
        &m2m,
        "PATCH",
        &path,
        Some(json!({"access_token_lifetime": 120, "refresh_token_lifetime": 60})),
    );
    assert_eq!(status, 400, "{body}");
    ok(
        &w,
        &m2m,
        "PATCH",
        &path,
        Some(
            json!({"access_token_lifetime": 120, "refresh_token_lifetime": 240, "id_token_lifetime": 60}),
        ),
    );
    let tokens = sign_in(&w, &[("login_hint", "alice@example.com")]);
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(
        access["exp"].as_u64().unwrap() - access["iat"].as_u64().unwrap(),
        120
    );
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        id["exp"].as_u64().unwrap() - id["iat"].as_u64().unwrap(),
        60
    );
    // The refresh lifetime bounds the grant: 2 s here, so a refresh after 3 s is refused.
    ok(
        &w,
        &m2m,
        "PATCH",
        &path,
        Some(json!({"access_token_lifetime": 1, "refresh_token_lifetime": 2})),
    );
    let tokens = sign_in(&w, &[("login_hint", "alice@example.com")]);
    std::thread::sleep(std::time::Duration::from_millis(3100));
    let (status, body) = refresh(&w, &tokens);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
}

#[test]
fn an_org_scoped_m2m_app_gets_its_org_code_in_every_token() {
    let w = World::new();
    let m2m = w.token();
    assert!(
        claims(&m2m).get("org_code").is_none(),
        "a global M2M app has none"
    );
    let alice = user_id(&w, "alice@example.com");
    let code = org_with(&w, &m2m, &alice);
    let unknown = json!({"name": "W", "type": "m2m", "org_code": "org_00000000000"});
    let (status, out) = call(&w, &m2m, "POST", "/api/v1/applications", Some(unknown));
    assert_eq!(status, 400, "{out}");
    assert_eq!(out["errors"][0]["code"], "ORGANIZATION_INVALID");
    let created = ok(
        &w,
        &m2m,
        "POST",
        "/api/v1/applications",
        Some(json!({"name": "Acme worker", "type": "m2m", "org_code": code})),
    );
    let id = created["application"]["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let secret = created["application"]["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    w.emulator.state().update(|t| {
        let api = t.apis.iter_mut().find(|a| !a.is_management_api).unwrap();
        api.applications
            .push(cargo_kinde::emulator::tenant::Authorization {
                client_id: id.clone(),
                scopes: vec![],
                extra: Default::default(),
            });
    });
    let (status, body) = crate::http::post_form(
        &format!("{}/oauth2/token", w.issuer()),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("audience", "urn:cargo-kinde:sample-api"),
        ],
        None,
    );
    assert_eq!(status, 200, "{body}");
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["org_code"], code, "{c}");
    assert!(c.get("sub").is_none());
}

#[test]
fn revoking_a_refresh_token_ends_it_and_revoking_the_access_token_mints_a_new_one() {
    let w = auto_world();
    let revoke = |token: &str| {
        let secret = w.web_app().client_secret.unwrap();
        crate::http::post_form(
            &format!("{}/oauth2/revoke", w.issuer()),
            &[
                ("token", token),
                ("client_id", &w.web_app_id()),
                ("client_secret", &secret),
            ],
            None,
        )
        .0
    };
    let first = sign_in(&w, &[("login_hint", "alice@example.com")]);
    // A live access token comes back from a refresh until it is revoked.
    let (status, second) = refresh(&w, &first);
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["access_token"], first["access_token"]);
    assert_eq!(revoke(second["access_token"].as_str().unwrap()), 200);
    let (status, third) = refresh(&w, &second);
    assert_eq!(status, 200, "{third}");
    assert_ne!(third["access_token"], second["access_token"]);
    assert_eq!(revoke(third["refresh_token"].as_str().unwrap()), 200);
    let (status, body) = refresh(&w, &third);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(revoke("not-a-token"), 200);
}

#[test]
fn the_user_profile_has_kindes_fields() {
    let w = auto_world();
    let tokens = sign_in(&w, &[("login_hint", "alice@example.com")]);
    let (status, profile) = crate::http::get_json(
        &format!("{}/oauth2/v2/user_profile", w.issuer()),
        Some(&format!(
            "Bearer {}",
            tokens["access_token"].as_str().unwrap()
        )),
    );
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["email_verified"], true);
    assert!(profile.get("preferred_username").is_some(), "{profile}");
    assert_eq!(profile["id"], profile["sub"]);
}

#[test]
fn introspection_tells_live_tokens_from_expired_revoked_and_foreign_ones() {
    let w = auto_world();
    let tokens = sign_in(
        &w,
        &[
            ("login_hint", "alice@example.com"),
            ("scope", "openid offline"),
        ],
    );
    let access = tokens["access_token"].as_str().unwrap();
    let m2m = w.token();
    let introspect = |token: &str, caller: Option<&str>| {
        let (status, _, body) = crate::http::raw(
            "POST",
            &format!("{}/oauth2/introspect", w.issuer()),
            caller,
            Some((
                "application/x-www-form-urlencoded",
                format!("token={token}").into_bytes(),
            )),
        );
        (
            status,
            serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default(),
        )
    };
    // Without a caller's token or credentials: refused.
    let (status, body) = introspect(access, None);
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let (status, body) = introspect(access, Some(&m2m));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], w.web_app_id());
    assert!(body["exp"].as_u64().unwrap() > body["iat"].as_u64().unwrap());
    let (_, body) = introspect(tokens["refresh_token"].as_str().unwrap(), Some(&m2m));
    assert_eq!(body["active"], true, "{body}");
    let (_, body) = introspect("not-a-token", Some(&m2m));
    assert_eq!(body, serde_json::json!({"active": false}));
    // Revoked: inactive, and refused where a bearer token is taken.
    let secret = w.web_app().client_secret.unwrap();
    let (status, _) = crate::http::post_form(
        &format!("{}/oauth2/revoke", w.issuer()),
        &[
            ("token", access),
            ("client_id", &w.web_app_id()),
            ("client_secret", &secret),
        ],
        None,
    );
    assert_eq!(status, 200);
    let (_, body) = introspect(access, Some(&m2m));
    assert_eq!(body, serde_json::json!({"active": false}));
    let (status, _) = crate::http::get_json(
        &format!("{}/oauth2/v2/user_profile", w.issuer()),
        Some(&format!("Bearer {access}")),
    );
    assert_eq!(status, 401);
    // Expired: inactive.
    w.emulator.state().advance_clock(100_000);
    let fresh = w.token();
    let (_, body) = introspect(&m2m, Some(&fresh));
    assert_eq!(body, serde_json::json!({"active": false}));
}

#[test]
fn a_revoked_m2m_token_no_longer_opens_the_management_api() {
    let w = World::new();
    let token = w.token();
    let users = format!("{}/api/v1/users", w.issuer());
    assert_eq!(
        crate::http::get_json(&users, Some(&format!("Bearer {token}"))).0,
        200
    );
    let (status, _) = crate::http::post_form(
        &format!("{}/oauth2/revoke", w.issuer()),
        &[
            ("token", &token),
            ("client_id", &w.management_id()),
            ("client_secret", &w.management_secret()),
        ],
        None,
    );
    assert_eq!(status, 200);
    let (status, body) = crate::http::get_json(&users, Some(&format!("Bearer {token}")));
    assert_eq!(status, 401, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{body}"
    );
}
