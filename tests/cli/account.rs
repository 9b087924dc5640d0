//! Kinde's Account API (`/account_api/v1/*`), as `@kinde/js-utils` calls it with the signed-in
//! user's access token: roles, permissions, flags and properties read live from the tenant.

use serde_json::{Value, json};

use crate::http::get_json;
use crate::{World, stderr, stdout};

/// alice's access token for org_acme, holding read:orders through a clerk role's neighbours.
fn alice(w: &World) -> String {
    let out = w
        .cmd()
        .args(["token", "--as", "alice@example.com", "--org", "org_acme"])
        .args([
            "--permission",
            "read:orders",
            "--permission",
            "create:orders",
        ])
        .args(["--role", "clerk"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_string()
}

fn account(w: &World, path: &str, token: Option<&str>) -> (u16, Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    get_json(
        &format!("{}/account_api/v1/{path}", w.issuer()),
        bearer.as_deref(),
    )
}

fn keys(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item["key"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_user_reads_their_roles_permissions_and_flags_for_the_tokens_organization() {
    let w = World::new();
    w.cmd()
        .args(["api", "post", "/api/v1/feature_flags", "-d"])
        .arg(r#"{"name":"Beta","key":"beta","type":"bool","allow_override_level":"usr","default_value":"true"}"#)
        .assert()
        .success();
    let token = alice(&w);
    let (status, roles) = account(&w, "roles", Some(&token));
    assert_eq!(status, 200, "{roles}");
    assert_eq!(roles["data"]["org_code"], "org_acme");
    assert_eq!(keys(&roles["data"]["roles"]), ["clerk"]);
    let role_id = w.emulator.state().read(|t| {
        t.roles
            .iter()
            .find(|r| r.key == "clerk")
            .unwrap()
            .id
            .clone()
    });
    assert_eq!(roles["data"]["roles"][0]["id"], role_id.as_str());
    assert_eq!(roles["metadata"]["has_more"], false);
    let (status, permissions) = account(&w, "permissions", Some(&token));
    assert_eq!(status, 200, "{permissions}");
    assert_eq!(permissions["data"]["org_code"], "org_acme");
    let mut held = keys(&permissions["data"]["permissions"]);
    held.sort();
    assert_eq!(held, ["create:orders", "read:orders"]);
    let (status, flags) = account(&w, "feature_flags", Some(&token));
    assert_eq!(status, 200, "{flags}");
    let beta = flags["data"]["feature_flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "beta")
        .unwrap_or_else(|| panic!("{flags}"));
    assert_eq!(beta["type"], "boolean");
    assert_eq!(beta["value"], true);
    let (status, entitlements) = account(&w, "entitlements", Some(&token));
    assert_eq!(status, 200);
    assert_eq!(entitlements["data"]["entitlements"], json!([]));
    // Live, not from the token: a permission taken away is gone at the next call.
    let out = w
        .cmd()
        .args(["token", "--as", "alice@example.com", "--org", "org_acme"])
        .args(["--permission", "read:orders"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (_, permissions) = account(&w, "permissions", Some(&token));
    assert_eq!(keys(&permissions["data"]["permissions"]), ["read:orders"]);
}

#[test]
fn pages_follow_next_page_starting_after() {
    let w = World::new();
    let token = alice(&w);
    let (status, first) = account(&w, "permissions?page_size=1", Some(&token));
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["data"]["permissions"].as_array().unwrap().len(), 1);
    assert_eq!(first["metadata"]["has_more"], true);
    let after = first["metadata"]["next_page_starting_after"]
        .as_str()
        .unwrap();
    assert_eq!(after, first["data"]["permissions"][0]["id"]);
    let (_, second) = account(
        &w,
        &format!("permissions?page_size=1&starting_after={after}"),
        Some(&token),
    );
    assert_eq!(second["metadata"]["has_more"], false);
    assert_ne!(
        second["data"]["permissions"][0]["key"],
        first["data"]["permissions"][0]["key"]
    );
    let (status, body) = account(&w, "permissions?page_size=0", Some(&token));
    assert_eq!(status, 400, "{body}");
}

#[test]
fn only_a_live_user_token_reads_the_account_api() {
    let w = World::new();
    let (status, body) = account(&w, "roles", None);
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
    // An M2M token is nobody's account.
    let (status, body) = account(&w, "roles", Some(&w.token()));
    assert_eq!(status, 401, "{body}");
    let token = alice(&w);
    w.emulator.state().advance_clock(100_000);
    let (status, body) = account(&w, "roles", Some(&token));
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["code"], "TOKEN_EXPIRED");
}

#[test]
fn an_id_token_or_a_suspended_users_token_is_refused() {
    let w = World::new();
    let token = alice(&w);
    let state = w.emulator.state();
    // An ID token for alice, signed by the emulator: its audiences name the issuer.
    let claims = cargo_kinde::jwt::decode(&token).unwrap().claims;
    let id_token = state.sign(&json!({
        "iss": w.issuer(), "sub": claims["sub"], "aud": [claims["azp"], w.issuer()],
        "exp": state.now() + 600, "iat": state.now(),
    }));
    let (status, body) = account(&w, "roles", Some(&id_token));
    assert_eq!(status, 401, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ID token"),
        "{body}"
    );
    // Another issuer's claims under the emulator's key.
    let foreign = state.sign(&json!({
        "iss": "https://other.example", "sub": claims["sub"], "exp": state.now() + 600,
    }));
    assert_eq!(account(&w, "roles", Some(&foreign)).0, 401);
    let user_id = claims["sub"].as_str().unwrap().to_string();
    state.update(|t| {
        t.users
            .iter_mut()
            .find(|u| u.id == user_id)
            .unwrap()
            .is_suspended = true;
    });
    assert_eq!(account(&w, "roles", Some(&token)).0, 401);
}
