//! Organizations, roles, permissions, feature flags and properties in the emulator's Management
//! API, and the user and M2M tokens that carry them, driven over HTTP as a client would.

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

/// A Management API call with an M2M token: (status, JSON body or null).
fn call(w: &World, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    block_on(async {
        let client = reqwest::Client::new();
        let url = format!("{}{path}", w.issuer());
        let mut req = client
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

/// [`call`] that must succeed (2xx); returns the body.
fn ok(w: &World, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, out) = call(w, token, method, path, body);
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {out}"
    );
    out
}

/// A token's claims, unverified (the emulator signed it; other tests verify signatures).
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

/// The redirect of `/oauth2/auth` for the web app with `extra` parameters.
fn authorize(w: &World, extra: &[(&str, &str)]) -> url::Url {
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
    let (status, location) = crate::http::get_no_redirect(url.as_str());
    assert_eq!(status, 303, "{url}");
    url::Url::parse(&location.unwrap()).unwrap()
}

pub(crate) fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Exchange a code for the token response.
pub(crate) fn exchange(w: &World, code: &str) -> Value {
    let secret = w.web_app().client_secret.unwrap();
    let (status, body) = crate::http::post_form(
        &format!("{}/oauth2/token", w.issuer()),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("client_id", &w.web_app_id()),
            ("client_secret", &secret),
        ],
        None,
    );
    assert_eq!(status, 200, "{body}");
    body
}

/// Sign `email` in (auto-login) with `extra` parameters: the token response.
fn sign_in(w: &World, email: &str, extra: &[(&str, &str)]) -> Value {
    let mut params = vec![("login_hint", email)];
    params.extend_from_slice(extra);
    let back = authorize(w, &params);
    let code = param(&back, "code").unwrap_or_else(|| panic!("no code: {back}"));
    exchange(w, &code)
}

pub(crate) fn user_id(w: &World, email: &str) -> String {
    w.emulator
        .state()
        .read(|t| t.user_by_email(email).unwrap().id.clone())
}

fn default_org(w: &World) -> String {
    w.emulator.state().read(|t| {
        t.organizations
            .iter()
            .find(|o| o.is_default)
            .unwrap()
            .code
            .clone()
    })
}

/// Create a permission and return its id.
fn permission(w: &World, token: &str, key: &str) -> String {
    ok(
        w,
        token,
        "POST",
        "/api/v1/permissions",
        Some(json!({"key": key, "name": key})),
    );
    let list = ok(w, token, "GET", "/api/v1/permissions?page_size=500", None);
    list["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == key)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Create a role with `permissions` and return its id.
fn role(w: &World, token: &str, key: &str, permissions: &[&str]) -> String {
    let created = ok(
        w,
        token,
        "POST",
        "/api/v1/roles",
        Some(json!({"key": key, "name": key})),
    );
    let id = created["role"]["id"].as_str().unwrap().to_string();
    let changes: Vec<Value> = permissions.iter().map(|p| json!({"id": p})).collect();
    ok(
        w,
        token,
        "PATCH",
        &format!("/api/v1/roles/{id}/permissions"),
        Some(json!({"permissions": changes})),
    );
    id
}

fn create_org(w: &World, token: &str, name: &str) -> String {
    let created = ok(
        w,
        token,
        "POST",
        "/api/v1/organization",
        Some(json!({"name": name})),
    );
    created["organization"]["code"]
        .as_str()
        .unwrap()
        .to_string()
}

fn sorted(value: &Value) -> Vec<String> {
    let mut out: Vec<String> = value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn a_user_in_two_organizations_gets_each_organizations_roles_and_permissions() {
    let w = auto_world();
    let token = w.token();
    let read = permission(&w, &token, "read:reports");
    let write = permission(&w, &token, "write:reports");
    let audit = permission(&w, &token, "audit:logs");
    let viewer = role(&w, &token, "viewer", &[&read]);
    let admin = role(&w, &token, "admin", &[&read, &write]);
    let acme = create_org(&w, &token, "Acme");
    assert!(
        acme.len() == 15
            && acme.starts_with("org_")
            && acme[4..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "org codes are org_ + 11 lower-case hex: {acme}"
    );
    let default = default_org(&w);
    let alice = user_id(&w, "alice@example.com");
    // Alice: viewer in the default org (she joined it at creation), admin in Acme with a
    // direct permission on top.
    ok(
        &w,
        &token,
        "POST",
        &format!("/api/v1/organizations/{default}/users/{alice}/roles"),
        Some(json!({"role_id": viewer})),
    );
    let added = ok(
        &w,
        &token,
        "POST",
        &format!("/api/v1/organizations/{acme}/users"),
        Some(json!({"users": [{"id": alice, "roles": ["admin"]}]})),
    );
    assert_eq!(added["users_added"], json!([alice]));
    ok(
        &w,
        &token,
        "POST",
        &format!("/api/v1/organizations/{acme}/users/{alice}/permissions"),
        Some(json!({"permission_id": audit})),
    );

    let in_default = sign_in(&w, "alice@example.com", &[("org_code", &default)]);
    let in_acme = sign_in(&w, "alice@example.com", &[("org_code", &acme)]);
    let (a, b) = (
        claims(in_default["access_token"].as_str().unwrap()),
        claims(in_acme["access_token"].as_str().unwrap()),
    );
    assert_eq!(a["org_code"], default.as_str());
    assert_eq!(b["org_code"], acme.as_str());
    assert_eq!(sorted(&a["permissions"]), ["read:reports"]);
    assert_eq!(
        sorted(&b["permissions"]),
        ["audit:logs", "read:reports", "write:reports"]
    );
    // `roles` only with the app's "Roles (array)" customisation, `org_name` with its own.
    assert!(
        a.get("roles").is_none() && a.get("org_name").is_none(),
        "{a}"
    );
    // The ID token lists every org the user belongs to, whichever was signed into.
    for response in [&in_default, &in_acme] {
        let id = claims(response["id_token"].as_str().unwrap());
        assert_eq!(
            sorted(&id["org_codes"]),
            sorted(&json!([default, acme])),
            "{id}"
        );
        assert!(id.get("organizations").is_none());
    }

    let web = w.web_app_id();
    w.emulator.state().update(|t| {
        let settings = t.token_settings.entry(web).or_default();
        settings.roles = true;
        settings.org_name = true;
        settings.organizations = true;
    });
    let in_acme = sign_in(&w, "alice@example.com", &[("org_code", &acme)]);
    let b = claims(in_acme["access_token"].as_str().unwrap());
    assert_eq!(
        b["roles"],
        json!([{"id": admin, "key": "admin", "name": "admin"}])
    );
    assert_eq!(b["org_name"], "Acme");
    let id = claims(in_acme["id_token"].as_str().unwrap());
    assert!(
        id["organizations"]
            .as_array()
            .unwrap()
            .contains(&json!({"id": acme, "name": "Acme"})),
        "{id}"
    );
    // Member listing filtered by role key, and the member's permissions with their roles.
    let admins = ok(
        &w,
        &token,
        "GET",
        &format!("/api/v1/organizations/{acme}/users?roles=admin"),
        None,
    );
    assert_eq!(admins["organization_users"][0]["id"], alice.as_str());
    assert_eq!(admins["organization_users"][0]["roles"], json!(["admin"]));
    let none = ok(
        &w,
        &token,
        "GET",
        &format!("/api/v1/organizations/{default}/users?roles=admin"),
        None,
    );
    assert_eq!(none["organization_users"], json!([]));
}

#[test]
fn org_code_picks_the_organization_and_a_non_member_is_refused_unless_auto_join_is_on() {
    let w = auto_world();
    let token = w.token();
    let acme = create_org(&w, &token, "Acme");
    let default = default_org(&w);
    // Bob is only in the default org: no org_code signs him in there.
    let plain = sign_in(&w, "bob@example.com", &[]);
    assert_eq!(
        claims(plain["access_token"].as_str().unwrap())["org_code"],
        default.as_str()
    );
    // Not a member of Acme, which does not let members auto-join: refused.
    let back = authorize(
        &w,
        &[("login_hint", "bob@example.com"), ("org_code", &acme)],
    );
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "state").as_deref(), Some("abcdefgh12"));
    ok(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/organization/{acme}"),
        Some(json!({"is_auto_membership_enabled": true})),
    );
    let joined = sign_in(&w, "bob@example.com", &[("org_code", &acme)]);
    assert_eq!(
        claims(joined["access_token"].as_str().unwrap())["org_code"],
        acme.as_str()
    );
    let members = ok(
        &w,
        &token,
        "GET",
        &format!("/api/v1/organizations/{acme}/users"),
        None,
    );
    assert_eq!(members["organization_users"][0]["email"], "bob@example.com");
    // A suspended org refuses sign-in; the default org cannot be suspended.
    ok(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/organization/{acme}"),
        Some(json!({"is_suspended": true})),
    );
    let back = authorize(
        &w,
        &[("login_hint", "bob@example.com"), ("org_code", &acme)],
    );
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("organization_suspended")
    );
    let (status, body) = call(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/organization/{default}"),
        Some(json!({"is_suspended": true})),
    );
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"][0]["code"],
        "DEFAULT_ORGANIZATION_CANNOT_BE_SUSPENDED"
    );
    // is_create_org makes a new org with the user in it, named by org_name.
    let created = sign_in(
        &w,
        "carol@example.com",
        &[("is_create_org", "true"), ("org_name", "Carol Co")],
    );
    let code = claims(created["access_token"].as_str().unwrap())["org_code"]
        .as_str()
        .unwrap()
        .to_string();
    let org = ok(
        &w,
        &token,
        "GET",
        &format!("/api/v1/organization?code={code}"),
        None,
    );
    assert_eq!(org["name"], "Carol Co");
}

/// The codes of the organizations `email` belongs to.
fn orgs_of(w: &World, email: &str) -> Vec<String> {
    let id = user_id(w, email);
    w.emulator
        .state()
        .read(|t| t.organizations_of(&id).map(|o| o.code.clone()).collect())
}

#[test]
fn allowed_domains_limit_who_joins_with_org_code_and_auto_add_sign_ups_from_them() {
    let w = auto_world();
    let token = w.token();
    let default = default_org(&w);
    // Acme lets members auto-join, but only from acme.test.
    let acme = create_org(&w, &token, "Acme");
    ok(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/organization/{acme}"),
        Some(json!({"is_auto_membership_enabled": true, "allowed_domains": ["acme.test"]})),
    );
    let org_code = |tokens: &Value| {
        claims(tokens["access_token"].as_str().unwrap())["org_code"]
            .as_str()
            .map(String::from)
    };
    // A sign-up from another domain is refused at Acme's door, as is a known user's join.
    for email in ["eve@evil.test", "bob@example.com"] {
        let back = authorize(&w, &[("login_hint", email), ("org_code", &acme)]);
        assert_eq!(
            param(&back, "error").as_deref(),
            Some("access_denied"),
            "{email}: {back}"
        );
        let why = param(&back, "error_description").unwrap();
        assert!(why.contains("acme.test"), "{why}");
        assert!(!orgs_of(&w, email).contains(&acme), "{email}");
    }
    // From acme.test (in any case) they join.
    let ann = sign_in(&w, "ann@ACME.test", &[("org_code", &acme)]);
    assert_eq!(org_code(&ann).as_deref(), Some(acme.as_str()));
    // The check is at joining only: a member from elsewhere, added through the API, signs in.
    let bob = user_id(&w, "bob@example.com");
    ok(
        &w,
        &token,
        "POST",
        &format!("/api/v1/organizations/{acme}/users"),
        Some(json!({"users": [{"id": bob}]})),
    );
    let back = authorize(
        &w,
        &[("login_hint", "bob@example.com"), ("org_code", &acme)],
    );
    assert!(param(&back, "code").is_some(), "{back}");

    // Globex auto-adds sign-ups from its domains (the spec's example writes them as URLs).
    let globex = create_org(&w, &token, "Globex");
    ok(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/organization/{globex}"),
        Some(json!({"is_auto_join_domain_list": true, "allowed_domains": ["https://globex.test"]})),
    );
    let gina = sign_in(&w, "gina@Globex.test", &[]);
    assert_eq!(org_code(&gina).as_deref(), Some(globex.as_str()));
    assert_eq!(
        orgs_of(&w, "gina@globex.test"),
        [globex.as_str()],
        "not also the default org"
    );
    // Anyone else signing up goes to the default organization, as before.
    sign_in(&w, "otto@other.test", &[]);
    assert_eq!(orgs_of(&w, "otto@other.test"), [default.as_str()]);
    // Only sign-ups: a user who already exists is not added by signing in.
    ok(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/organization/{globex}"),
        Some(json!({"allowed_domains": ["globex.test", "example.com"]})),
    );
    sign_in(&w, "carol@example.com", &[]);
    assert!(!orgs_of(&w, "carol@example.com").contains(&globex));
}

#[test]
fn a_user_in_several_organizations_picks_one_on_an_escaped_page() {
    let w = World::new();
    let token = w.token();
    let evil = create_org(&w, &token, "<b>Evil</b> & Co");
    let alice = user_id(&w, "alice@example.com");
    ok(
        &w,
        &token,
        "POST",
        &format!("/api/v1/organizations/{evil}/users"),
        Some(json!({"users": [{"id": alice}]})),
    );
    let url = format!(
        "{}/oauth2/auth?client_id={}&redirect_uri={}&response_type=code&scope=openid",
        w.issuer(),
        w.web_app_id(),
        CALLBACK
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
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let picker = block_on(async {
        no_redirect
            .post(format!("{}/oauth2/auth/sign_in", w.issuer()))
            .form(&[
                ("request", request.as_str()),
                ("email", "alice@example.com"),
            ])
            .send()
            .await
            .unwrap()
    });
    assert_eq!(picker.status().as_u16(), 200);
    let html = block_on(picker.text()).unwrap();
    assert!(html.contains("Choose an organization"), "{html}");
    assert!(html.contains("&lt;b&gt;Evil&lt;/b&gt; &amp; Co"), "{html}");
    assert!(!html.contains("<b>Evil"), "{html}");
    assert!(html.contains(&default_org(&w)), "{html}");
    let pick = html
        .split(
            "action=\"/oauth2/auth/organization\"><input type=\"hidden\" name=\"request\" value=\"",
        )
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let picked = block_on(async {
        no_redirect
            .post(format!("{}/oauth2/auth/organization", w.issuer()))
            .form(&[("request", pick.as_str()), ("org_code", evil.as_str())])
            .send()
            .await
            .unwrap()
    });
    assert_eq!(picked.status().as_u16(), 303);
    let back = url::Url::parse(picked.headers()["location"].to_str().unwrap()).unwrap();
    let tokens = exchange(&w, &param(&back, "code").unwrap());
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["org_code"],
        evil.as_str()
    );
}

#[test]
fn a_role_permission_change_reaches_the_next_token_but_not_a_refresh_of_a_live_one() {
    let w = auto_world();
    let token = w.token();
    let read = permission(&w, &token, "read:reports");
    let write = permission(&w, &token, "write:reports");
    let editor = role(&w, &token, "editor", &[&read]);
    let default = default_org(&w);
    let alice = user_id(&w, "alice@example.com");
    ok(
        &w,
        &token,
        "POST",
        &format!("/api/v1/organizations/{default}/users/{alice}/roles"),
        Some(json!({"role_id": editor})),
    );
    let first = sign_in(&w, "alice@example.com", &[]);
    assert_eq!(
        sorted(&claims(first["access_token"].as_str().unwrap())["permissions"]),
        ["read:reports"]
    );
    let changed = ok(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/roles/{editor}/permissions"),
        Some(json!({"permissions": [{"id": write}, {"id": read, "operation": "delete"}]})),
    );
    assert_eq!(changed["permissions_added"], json!([write]));
    assert_eq!(changed["permissions_removed"], json!([read]));
    let next = sign_in(&w, "alice@example.com", &[]);
    assert_eq!(
        sorted(&claims(next["access_token"].as_str().unwrap())["permissions"]),
        ["write:reports"]
    );
    // Refresh while the first access token lives: Kinde returns that same token, with a new
    // refresh token and the full set of fields.
    let (status, refreshed) = crate::http::post_form(
        &format!("{}/oauth2/token", w.issuer()),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
            ("client_id", &w.web_app_id()),
            ("client_secret", &w.web_app().client_secret.unwrap()),
        ],
        None,
    );
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(refreshed["access_token"], first["access_token"]);
    assert_ne!(refreshed["refresh_token"], first["refresh_token"]);
    assert!(refreshed["id_token"].is_string() && refreshed["expires_in"].is_u64());
    // After refresh_claims, the next refresh mints a token with the claims as they are now.
    ok(
        &w,
        &token,
        "POST",
        &format!("/api/v1/users/{alice}/refresh_claims"),
        None,
    );
    let (status, renewed) = crate::http::post_form(
        &format!("{}/oauth2/token", w.issuer()),
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                refreshed["refresh_token"].as_str().unwrap(),
            ),
            ("client_id", &w.web_app_id()),
            ("client_secret", &w.web_app().client_secret.unwrap()),
        ],
        None,
    );
    assert_eq!(status, 200, "{renewed}");
    assert_eq!(
        sorted(&claims(renewed["access_token"].as_str().unwrap())["permissions"]),
        ["write:reports"]
    );
    // Deleting the role takes its permissions away from the member.
    ok(
        &w,
        &token,
        "DELETE",
        &format!("/api/v1/roles/{editor}"),
        None,
    );
    let after = sign_in(&w, "alice@example.com", &[]);
    assert_eq!(
        claims(after["access_token"].as_str().unwrap())["permissions"],
        json!([])
    );
}

#[test]
fn flags_resolve_user_over_organization_over_environment_with_typed_values() {
    let w = auto_world();
    let token = w.token();
    for (key, kind, default, level) in [
        ("dark_mode", "bool", "false", "usr"),
        ("seats", "int", "5", "org"),
        ("theme", "str", "blue", "usr"),
    ] {
        let (status, body) = call(
            &w,
            &token,
            "POST",
            "/api/v1/feature_flags",
            Some(
                json!({"name": key, "key": key, "type": kind, "default_value": default, "allow_override_level": level}),
            ),
        );
        assert_eq!(status, 201, "{body}");
    }
    let acme = create_org(&w, &token, "Acme");
    let alice = user_id(&w, "alice@example.com");
    ok(
        &w,
        &token,
        "POST",
        &format!("/api/v1/organizations/{acme}/users"),
        Some(json!({"users": [{"id": alice}]})),
    );
    let flags = |org: &str| {
        let t = sign_in(&w, "alice@example.com", &[("org_code", org)]);
        claims(t["access_token"].as_str().unwrap())["feature_flags"].clone()
    };
    assert_eq!(
        flags(&acme),
        json!({
            "dark_mode": {"t": "b", "v": false},
            "seats": {"t": "i", "v": 5},
            "theme": {"t": "s", "v": "blue"},
        })
    );
    // Environment, then organization, then user: the most specific wins.
    ok(
        &w,
        &token,
        "PATCH",
        "/api/v1/environment/feature_flags/theme",
        Some(json!({"value": "green"})),
    );
    ok(
        &w,
        &token,
        "PATCH",
        "/api/v1/environment/feature_flags/seats",
        Some(json!({"value": "10"})),
    );
    assert_eq!(flags(&acme)["theme"], json!({"t": "s", "v": "green"}));
    ok(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/organizations/{acme}/feature_flags/theme?value=red"),
        None,
    );
    ok(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/organizations/{acme}/feature_flags/seats?value=25.9"),
        None,
    );
    let in_acme = flags(&acme);
    assert_eq!(in_acme["theme"], json!({"t": "s", "v": "red"}));
    assert_eq!(
        in_acme["seats"],
        json!({"t": "i", "v": 25}),
        "decimals cut off"
    );
    // Another org sees the environment's values.
    let default = default_org(&w);
    assert_eq!(flags(&default)["theme"], json!({"t": "s", "v": "green"}));
    assert_eq!(flags(&default)["seats"], json!({"t": "i", "v": 10}));
    ok(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/users/{alice}/feature_flags/dark_mode?value=true"),
        None,
    );
    ok(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/users/{alice}/feature_flags/theme?value=pink"),
        None,
    );
    // A user override counts in every org the user belongs to.
    for org in [&acme, &default] {
        let f = flags(org);
        assert_eq!(f["dark_mode"], json!({"t": "b", "v": true}));
        assert_eq!(f["theme"], json!({"t": "s", "v": "pink"}));
    }
    // `seats` allows overrides down to the org only; a bad value is refused.
    let (status, body) = call(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/users/{alice}/feature_flags/seats?value=1"),
        None,
    );
    assert_eq!(status, 400, "{body}");
    let (status, _) = call(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/organizations/{acme}/feature_flags/dark_mode?value=maybe"),
        None,
    );
    assert_eq!(status, 400);
    let org_flags = ok(
        &w,
        &token,
        "GET",
        &format!("/api/v1/organizations/{acme}/feature_flags"),
        None,
    );
    assert_eq!(
        org_flags["feature_flags"]["theme"],
        json!({"type": "str", "value": "red"})
    );
    // Deleting a flag deletes its overrides; it leaves the tokens.
    ok(&w, &token, "DELETE", "/api/v1/feature_flags/theme", None);
    assert!(flags(&acme).get("theme").is_none());
}

#[test]
fn m2m_scp_lists_the_requested_scopes_and_scope_the_granted_ones() {
    let w = World::new();
    let (id, secret) = w.limited_m2m_app(&["read:users", "read:roles"]);
    let audience = format!("{}/api", w.issuer());
    let request = |scope: Option<&str>| {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("audience", audience.as_str()),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        crate::http::post_form(&format!("{}/oauth2/token", w.issuer()), &form, None)
    };
    for nothing in [None, Some("")] {
        let (status, body) = request(nothing);
        assert_eq!(status, 200, "{body}");
        let c = claims(body["access_token"].as_str().unwrap());
        assert_eq!(c["scp"], json!([]), "{c}");
        assert_eq!(c["scope"], "read:roles read:users");
        assert_eq!(body["scope"], "read:roles read:users");
        assert!(c.get("sub").is_none() && c.get("org_code").is_none());
    }
    let (status, body) = request(Some("read:users"));
    assert_eq!(status, 200);
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["scp"], json!(["read:users"]));
    assert_eq!(c["scope"], "read:users");
    let (status, body) = request(Some("read:users write:users"));
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    // A token with `scp: []` still works on the Management API through its `scope`.
    let (status, body) = request(None);
    assert_eq!(status, 200);
    let t = body["access_token"].as_str().unwrap();
    ok(&w, t, "GET", "/api/v1/roles", None);
}

#[test]
fn the_families_responses_follow_the_spec() {
    let spec = crate::spec::spec();
    let w = World::new();
    let token = w.token();
    let perm = permission(&w, &token, "read:reports");
    let role_id = role(&w, &token, "viewer", &[&perm]);
    let acme = create_org(&w, &token, "Acme");
    let alice = user_id(&w, "alice@example.com");
    let category = ok(
        &w,
        &token,
        "POST",
        "/api/v1/property_categories",
        Some(json!({"name": "Profile", "context": "usr"})),
    )["category"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let org_category = ok(
        &w,
        &token,
        "POST",
        "/api/v1/property_categories",
        Some(json!({"name": "Company", "context": "org"})),
    )["category"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cases: Vec<(&str, String, &str, Option<Value>)> = vec![
        (
            "POST",
            "/api/v1/feature_flags".into(),
            "/api/v1/feature_flags",
            Some(json!({"name": "F", "key": "f", "type": "bool", "default_value": "true"})),
        ),
        (
            "POST",
            "/api/v1/properties".into(),
            "/api/v1/properties",
            Some(
                json!({"name": "City", "key": "city", "type": "single_line_text", "context": "usr", "is_private": false, "category_id": category}),
            ),
        ),
        (
            "POST",
            "/api/v1/properties".into(),
            "/api/v1/properties",
            Some(
                json!({"name": "Tier", "key": "tier", "type": "single_line_text", "context": "org", "is_private": false, "category_id": org_category}),
            ),
        ),
        (
            "POST",
            format!("/api/v1/organizations/{acme}/users"),
            "/api/v1/organizations/{org_code}/users",
            Some(json!({"users": [{"id": alice, "roles": ["viewer"]}]})),
        ),
        (
            "PATCH",
            format!("/api/v1/organizations/{acme}/users"),
            "/api/v1/organizations/{org_code}/users",
            Some(json!({"users": [{"id": alice, "permissions": ["read:reports"]}]})),
        ),
        (
            "PATCH",
            format!("/api/v1/organizations/{acme}/properties"),
            "/api/v1/organizations/{org_code}/properties",
            Some(json!({"properties": {"tier": "gold"}})),
        ),
        (
            "PUT",
            format!("/api/v1/users/{alice}/properties/city?value=Perth"),
            "/api/v1/users/{user_id}/properties/{property_key}",
            None,
        ),
        (
            "PATCH",
            format!("/api/v1/organizations/{acme}/feature_flags/f?value=false"),
            "/api/v1/organizations/{org_code}/feature_flags/{feature_flag_key}",
            None,
        ),
        (
            "PATCH",
            "/api/v1/environment/feature_flags/f".into(),
            "/api/v1/environment/feature_flags/{feature_flag_key}",
            Some(json!({"value": "false"})),
        ),
        (
            "PATCH",
            format!("/api/v1/users/{alice}/feature_flags/f?value=true"),
            "/api/v1/users/{user_id}/feature_flags/{feature_flag_key}",
            None,
        ),
        (
            "PATCH",
            format!("/api/v1/roles/{role_id}"),
            "/api/v1/roles/{role_id}",
            Some(json!({"name": "Viewer", "key": "viewer"})),
        ),
        (
            "GET",
            "/api/v1/organizations".into(),
            "/api/v1/organizations",
            None,
        ),
        (
            "GET",
            format!("/api/v1/organization?code={acme}"),
            "/api/v1/organization",
            None,
        ),
        (
            "GET",
            "/api/v1/organization?code=org_00000000000".into(),
            "/api/v1/organization",
            None,
        ),
        (
            "GET",
            format!("/api/v1/organizations/{acme}/users"),
            "/api/v1/organizations/{org_code}/users",
            None,
        ),
        (
            "GET",
            format!("/api/v1/organizations/{acme}/users/{alice}/roles"),
            "/api/v1/organizations/{org_code}/users/{user_id}/roles",
            None,
        ),
        (
            "GET",
            format!("/api/v1/organizations/{acme}/users/{alice}/permissions"),
            "/api/v1/organizations/{org_code}/users/{user_id}/permissions",
            None,
        ),
        (
            "GET",
            format!("/api/v1/organizations/{acme}/feature_flags"),
            "/api/v1/organizations/{org_code}/feature_flags",
            None,
        ),
        (
            "GET",
            format!("/api/v1/organizations/{acme}/properties"),
            "/api/v1/organizations/{org_code}/properties",
            None,
        ),
        (
            "GET",
            format!("/api/v1/organizations/{acme}/logos"),
            "/api/v1/organizations/{org_code}/logos",
            None,
        ),
        ("GET", "/api/v1/roles".into(), "/api/v1/roles", None),
        (
            "GET",
            format!("/api/v1/roles/{role_id}"),
            "/api/v1/roles/{role_id}",
            None,
        ),
        (
            "GET",
            format!("/api/v1/roles/{role_id}/permissions"),
            "/api/v1/roles/{role_id}/permissions",
            None,
        ),
        (
            "GET",
            "/api/v1/permissions".into(),
            "/api/v1/permissions",
            None,
        ),
        (
            "GET",
            "/api/v1/environment/feature_flags".into(),
            "/api/v1/environment/feature_flags",
            None,
        ),
        (
            "GET",
            "/api/v1/properties".into(),
            "/api/v1/properties",
            None,
        ),
        (
            "GET",
            "/api/v1/property_categories".into(),
            "/api/v1/property_categories",
            None,
        ),
        (
            "GET",
            format!("/api/v1/users/{alice}/properties"),
            "/api/v1/users/{user_id}/properties",
            None,
        ),
        (
            "PATCH",
            format!("/api/v1/organization/{acme}"),
            "/api/v1/organization/{org_code}",
            Some(json!({"name": "Acme 2"})),
        ),
        (
            "DELETE",
            format!("/api/v1/organizations/{acme}/users/{alice}/roles/{role_id}"),
            "/api/v1/organizations/{org_code}/users/{user_id}/roles/{role_id}",
            None,
        ),
        (
            "DELETE",
            format!("/api/v1/roles/{role_id}/permissions/{perm}"),
            "/api/v1/roles/{role_id}/permissions/{permission_id}",
            None,
        ),
        (
            "DELETE",
            format!("/api/v1/roles/{role_id}/permissions/{perm}"),
            "/api/v1/roles/{role_id}/permissions/{permission_id}",
            None,
        ),
        (
            "DELETE",
            format!("/api/v1/organizations/{acme}/users/{alice}"),
            "/api/v1/organizations/{org_code}/users/{user_id}",
            None,
        ),
        (
            "DELETE",
            "/api/v1/feature_flags/f".into(),
            "/api/v1/feature_flags/{feature_flag_key}",
            None,
        ),
        (
            "DELETE",
            format!("/api/v1/permissions/{perm}"),
            "/api/v1/permissions/{permission_id}",
            None,
        ),
        (
            "DELETE",
            format!("/api/v1/roles/{role_id}"),
            "/api/v1/roles/{role_id}",
            None,
        ),
        (
            "DELETE",
            format!("/api/v1/organization/{acme}"),
            "/api/v1/organization/{org_code}",
            None,
        ),
    ];
    for (method, path, template, body) in cases {
        let (status, out) = call(&w, &token, method, &path, body);
        assert!(status < 500, "{method} {path}: {status} {out}");
        crate::spec::check_response(&spec, method, template, status, &out);
    }
}

#[test]
fn organizations_roles_flags_and_properties_survive_a_restart_with_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let options = || Options {
        state_file: Some(path.clone()),
        ..Options::default()
    };
    let (acme, role_id, alice) = {
        let w = World::with(options());
        let token = w.token();
        let perm = permission(&w, &token, "read:reports");
        let role_id = role(&w, &token, "viewer", &[&perm]);
        let acme = create_org(&w, &token, "Acme");
        let alice = user_id(&w, "alice@example.com");
        ok(
            &w,
            &token,
            "POST",
            &format!("/api/v1/organizations/{acme}/users"),
            Some(json!({"users": [{"id": alice, "roles": ["viewer"]}]})),
        );
        ok(
            &w,
            &token,
            "POST",
            "/api/v1/feature_flags",
            Some(json!({"name": "F", "key": "f", "type": "int", "default_value": "1"})),
        );
        ok(
            &w,
            &token,
            "PATCH",
            &format!("/api/v1/users/{alice}/feature_flags/f?value=7"),
            None,
        );
        let category = ok(
            &w,
            &token,
            "POST",
            "/api/v1/property_categories",
            Some(json!({"name": "C", "context": "org"})),
        )["category"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        ok(
            &w,
            &token,
            "POST",
            "/api/v1/properties",
            Some(
                json!({"name": "Tier", "key": "tier", "type": "single_line_text", "context": "org", "is_private": false, "category_id": category}),
            ),
        );
        ok(
            &w,
            &token,
            "PUT",
            &format!("/api/v1/organizations/{acme}/properties/tier?value=gold"),
            None,
        );
        (acme, role_id, alice)
    };
    let w = World::with(options());
    let token = w.token();
    let roles = ok(
        &w,
        &token,
        "GET",
        &format!("/api/v1/organizations/{acme}/users/{alice}/roles"),
        None,
    );
    assert_eq!(roles["roles"][0]["id"], role_id.as_str());
    let perms = ok(
        &w,
        &token,
        "GET",
        &format!("/api/v1/roles/{role_id}/permissions"),
        None,
    );
    assert_eq!(perms["permissions"][0]["key"], "read:reports");
    let props = ok(
        &w,
        &token,
        "GET",
        &format!("/api/v1/organizations/{acme}/properties"),
        None,
    );
    assert_eq!(props["properties"][0]["value"], "gold");
    let flag = w.emulator.state().read(|t| {
        t.feature_flag("f")
            .unwrap()
            .value_for(None, Some(&alice))
            .to_string()
    });
    assert_eq!(flag, "7");
    assert_eq!(
        w.emulator
            .state()
            .read(|t| t.organizations.iter().filter(|o| o.is_default).count()),
        1,
        "one default org after a restart"
    );
}

/// The hidden sign-in request id in a page's first form.
fn request_id(html: &str) -> String {
    html.split("name=\"request\" value=\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no request in {html}"))
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

/// A form post as a browser without a script engine sends it: (status, Location, body).
fn post_page(w: &World, path: &str, form: &[(&str, &str)]) -> (u16, Option<String>, String) {
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
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        (status, location, res.text().await.unwrap())
    })
}

/// The page `/oauth2/auth` shows for the web app with `extra` parameters.
fn auth_page(w: &World, extra: &[(&str, &str)]) -> (u16, String) {
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
    block_on(async {
        let res = reqwest::get(url.as_str()).await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    })
}

#[test]
fn registration_creates_the_user_on_an_escaped_labelled_page_and_gives_default_roles() {
    let w = World::new();
    let token = w.token();
    let reports = permission(&w, &token, "read:reports");
    let member = role(&w, &token, "member", &[&reports]);
    ok(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/roles/{member}"),
        Some(json!({"name": "member", "key": "member", "is_default_role": true})),
    );
    let admin = role(&w, &token, "admin", &[]);
    // `prompt=create` (js-utils, Python) and `start_page=registration` (the TypeScript SDK) both
    // show the registration page; the login_hint pre-fills the email, escaped.
    let hint = "\"><script>alert(1)</script>@example.com";
    let (status, html) = auth_page(&w, &[("prompt", "create"), ("login_hint", hint)]);
    assert_eq!(status, 200, "{html}");
    for needle in [
        "Create your account for",
        "<label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\"",
        "<label for=\"given_name\">First name</label><input id=\"given_name\"",
        "<label for=\"family_name\">Last name</label><input id=\"family_name\"",
        "value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@example.com\"",
        "action=\"/oauth2/auth/register\"",
    ] {
        assert!(html.contains(needle), "{needle} missing from {html}");
    }
    assert!(!html.contains("<script"), "no script needed: {html}");
    let (_, ts_html) = auth_page(&w, &[("start_page", "registration")]);
    assert!(ts_html.contains("Create your account for"), "{ts_html}");

    // A bad email shows the page again with the problem, as an alert tied to the field.
    let (status, _, again) = post_page(
        &w,
        "/oauth2/auth/register",
        &[
            ("request", &request_id(&ts_html)),
            ("email", "not an email"),
        ],
    );
    assert_eq!(status, 400);
    assert!(again.contains("role=\"alert\""), "{again}");
    assert!(again.contains("aria-describedby=\"problem\""), "{again}");

    let (status, location, body) = post_page(
        &w,
        "/oauth2/auth/register",
        &[
            ("request", &request_id(&again)),
            ("email", "dora@example.com"),
            ("given_name", "Dora"),
            ("family_name", "<Explorer>"),
        ],
    );
    assert_eq!(status, 303, "{body}");
    let back = url::Url::parse(&location.unwrap()).unwrap();
    assert_eq!(param(&back, "state").as_deref(), Some("abcdefgh12"));
    let tokens = exchange(&w, &param(&back, "code").unwrap());
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["email"], "dora@example.com");
    assert_eq!(id["given_name"], "Dora");
    assert_eq!(id["family_name"], "<Explorer>");
    let dora = user_id(&w, "dora@example.com");
    assert_eq!(id["sub"], dora.as_str());
    // The sign-up joined the default organization with the default role, not the other one.
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["org_code"], default_org(&w).as_str());
    assert_eq!(access["permissions"], json!(["read:reports"]));
    let roles = w.emulator.state().read(|t| {
        t.organization(&default_org(&w))
            .unwrap()
            .member(&dora)
            .unwrap()
            .roles
            .clone()
    });
    assert_eq!(roles, vec![member.clone()]);
    assert!(!roles.contains(&admin));

    // An existing user signing in is no sign-up: no default role for them.
    let (_, html) = auth_page(&w, &[]);
    let (status, location, _) = post_page(
        &w,
        "/oauth2/auth/sign_in",
        &[
            ("request", &request_id(&html)),
            ("email", "alice@example.com"),
        ],
    );
    assert_eq!(status, 303);
    let back = url::Url::parse(&location.unwrap()).unwrap();
    let alice = exchange(&w, &param(&back, "code").unwrap());
    let access = claims(alice["access_token"].as_str().unwrap());
    assert_eq!(access["permissions"], json!([]), "{access}");

    // The TypeScript SDK's createOrg: registration with is_create_org and an empty org_name.
    // The new organization's creator, a sign-up, holds the default role there.
    let (_, html) = auth_page(
        &w,
        &[
            ("start_page", "registration"),
            ("is_create_org", "true"),
            ("org_name", ""),
        ],
    );
    let (status, location, _) = post_page(
        &w,
        "/oauth2/auth/register",
        &[
            ("request", &request_id(&html)),
            ("email", "eve@example.com"),
            ("given_name", "Eve"),
        ],
    );
    assert_eq!(status, 303);
    let back = url::Url::parse(&location.unwrap()).unwrap();
    let tokens = exchange(&w, &param(&back, "code").unwrap());
    let access = claims(tokens["access_token"].as_str().unwrap());
    let code = access["org_code"].as_str().unwrap().to_string();
    assert_ne!(code, default_org(&w));
    assert_eq!(access["permissions"], json!(["read:reports"]));
    let eve = user_id(&w, "eve@example.com");
    let in_default = w.emulator.state().read(|t| {
        t.organization(&default_org(&w))
            .unwrap()
            .member(&eve)
            .is_some()
    });
    assert!(
        !in_default,
        "a sign-up into a new org does not also join the default one"
    );
}

/// Register `email` on the registration page reached with `extra`: where the browser is sent.
fn register(w: &World, email: &str, extra: &[(&str, &str)]) -> url::Url {
    let mut params = vec![("prompt", "create")];
    params.extend_from_slice(extra);
    let (status, html) = auth_page(w, &params);
    assert_eq!(status, 200, "{html}");
    let (status, location, body) = post_page(
        w,
        "/oauth2/auth/register",
        &[
            ("request", &request_id(&html)),
            ("email", email),
            ("given_name", "New"),
            ("family_name", "User"),
        ],
    );
    assert_eq!(status, 303, "{body}");
    url::Url::parse(&location.unwrap()).unwrap()
}

#[test]
fn registration_into_an_organization_follows_its_allowed_domains_and_default_roles() {
    let w = World::new();
    let token = w.token();
    let reports = permission(&w, &token, "read:reports");
    let member = role(&w, &token, "member", &[&reports]);
    ok(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/roles/{member}"),
        Some(json!({"name": "member", "key": "member", "is_default_role": true})),
    );
    // Initech: auto-membership and auto-add, both only for initech.test (written as Kinde's
    // dashboard asks, and as the spec's example does).
    let initech = create_org(&w, &token, "Initech");
    ok(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/organization/{initech}"),
        Some(json!({
            "is_allow_registrations": true,
            "allowed_domains": ["initech.test", "https://initech.example"],
            "is_auto_join_domain_list": true,
        })),
    );
    let (_, got) = call(
        &w,
        &token,
        "GET",
        &format!("/api/v1/organization?code={initech}"),
        None,
    );
    assert_eq!(
        got["allowed_domains"],
        json!(["initech.test", "https://initech.example"]),
        "{got}"
    );
    assert_eq!(got["is_auto_membership_enabled"], true, "{got}");

    // Registering into Initech from another domain: refused, and the new user is in no org.
    let back = register(&w, "mallory@elsewhere.test", &[("org_code", &initech)]);
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("access_denied"),
        "{back}"
    );
    assert_eq!(param(&back, "state").as_deref(), Some("abcdefgh12"));
    assert!(orgs_of(&w, "mallory@elsewhere.test").is_empty());

    // From the URL-written domain, with the org's code: in, with the default role.
    let back = register(&w, "pat@initech.example", &[("org_code", &initech)]);
    let tokens = exchange(&w, &param(&back, "code").expect("a code"));
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["org_code"], initech.as_str(), "{access}");
    assert_eq!(access["permissions"], json!(["read:reports"]), "{access}");

    // Naming no organization, a sign-up from initech.test is auto-added there (not to the
    // default org), with the default role given in that membership.
    let back = register(&w, "peter@initech.test", &[]);
    let tokens = exchange(&w, &param(&back, "code").expect("a code"));
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["org_code"], initech.as_str(), "{access}");
    assert_eq!(access["permissions"], json!(["read:reports"]), "{access}");
    assert_eq!(orgs_of(&w, "peter@initech.test"), [initech.as_str()]);

    // A suspended org auto-adds no one: the sign-up goes to the default org.
    ok(
        &w,
        &token,
        "PATCH",
        &format!("/api/v1/organization/{initech}"),
        Some(json!({"is_suspended": true})),
    );
    let back = register(&w, "milton@initech.test", &[]);
    assert!(param(&back, "code").is_some(), "{back}");
    assert_eq!(orgs_of(&w, "milton@initech.test"), [default_org(&w)]);
}

#[test]
fn a_login_hint_cannot_end_the_sign_in_pages_script() {
    let w = World::new();
    let (status, html) = auth_page(
        &w,
        &[(
            "login_hint",
            "\"</script><script>alert(1)</script>@example.com",
        )],
    );
    assert_eq!(status, 200);
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert_eq!(html.matches("</script>").count(), 1, "{html}");
    assert!(
        html.contains("&lt;/script&gt;&lt;script&gt;alert(1)"),
        "{html}"
    );
}

#[test]
fn a_created_user_joins_the_organization_named_and_bad_identities_are_refused() {
    let w = World::new();
    let token = w.token();
    let org = create_org(&w, &token, "Acme");
    let body = json!({
        "organization_code": org,
        "identities": [{"type": "email", "details": {"email": "org@example.com"}}],
    });
    let created = ok(&w, &token, "POST", "/api/v1/user", Some(body));
    let id = created["id"].as_str().unwrap().to_string();
    let (in_org, in_default) = w.emulator.state().read(|t| {
        (
            t.organization(&org).unwrap().member(&id).is_some(),
            t.organization(&default_org(&w))
                .unwrap()
                .member(&id)
                .is_some(),
        )
    });
    assert!(in_org && !in_default, "joins {org} instead of the default");
    let users = w.emulator.state().read(|t| t.users.len());
    for (body, code) in [
        (
            json!({"organization_code": "org_nope"}),
            "ORGANIZATION_INVALID",
        ),
        (
            json!({"identities": [{"type": "email", "details": {"email": "not an email"}}]}),
            "INVALID_EMAIL",
        ),
        (
            json!({"identities": [{"type": "fax", "details": {"email": "a@example.com"}}]}),
            "INVALID_IDENTITY_TYPE",
        ),
        (
            json!({"identities": [{"type": "username"}]}),
            "INVALID_IDENTITY",
        ),
    ] {
        let (status, answer) = call(&w, &token, "POST", "/api/v1/user", Some(body.clone()));
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["errors"][0]["code"], code, "{body}");
    }
    assert_eq!(
        w.emulator.state().read(|t| t.users.len()),
        users,
        "nothing made"
    );
}
