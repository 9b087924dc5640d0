//! Requests the emulator refuses, always with Kinde's JSON error list: path and query parameters
//! that cannot be read, and bodies that break the operation's request schema in the spec.

use serde_json::{Value, json};

use crate::World;
use crate::http::raw;

/// A call with the M2M token and an optional JSON body: (status, Content-Type, JSON or null).
fn call(
    w: &World,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, String, Value) {
    let body = body.map(|b| ("application/json", serde_json::to_vec(&b).unwrap()));
    let (status, content_type, bytes) =
        raw(method, &format!("{}{path}", w.issuer()), Some(token), body);
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let shown = if json.is_null() {
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        json.to_string()
    };
    assert!(
        content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/json")),
        "{method} {path}: {status} {content_type:?} {shown}"
    );
    (status, shown, json)
}

/// `call` that must be Kinde's 400 with a message naming `field`.
fn refused(w: &World, token: &str, method: &str, path: &str, body: Value, field: &str) {
    let (status, shown, json) = call(w, token, method, path, Some(body));
    assert_eq!(status, 400, "{method} {path}: {shown}");
    let message = json["errors"][0]["message"].as_str().unwrap_or("");
    assert!(
        json["errors"][0]["code"].is_string() && message.contains(field),
        "{method} {path}: the error should name `{field}`: {shown}"
    );
}

#[test]
fn path_and_query_parameters_that_cannot_be_read_are_kindes_json_400() {
    let w = World::new();
    let token = w.token();
    let org = w.emulator.state().read(|t| t.organizations[0].code.clone());
    let user = w.emulator.state().read(|t| t.users[0].id.clone());
    for (method, path) in [
        // Not UTF-8 once percent-decoded: one parameter, and one of several.
        ("GET", "/api/v1/organizations/%FF/users".to_string()),
        (
            "DELETE",
            format!("/api/v1/organizations/{org}/users/{user}/roles/%C3%28"),
        ),
        ("GET", "/api/v1/roles/%FF/permissions".into()),
        ("PATCH", "/api/v1/applications/%FE".into()),
        // A query parameter given twice where one value is expected.
        ("GET", "/api/v1/users?page_size=1&page_size=2".into()),
        (
            "GET",
            "/api/v1/organizations?sort=name_asc&sort=name_desc".into(),
        ),
        ("GET", "/api/v1/user?id=a&id=b".into()),
    ] {
        let body = (method == "PATCH").then(|| json!({"name": "x"}));
        let (status, shown, json) = call(&w, &token, method, &path, body);
        assert_eq!(status, 400, "{method} {path}: {shown}");
        assert!(
            json["errors"][0]["code"].is_string() && json["errors"][0]["message"].is_string(),
            "{method} {path}: {shown}"
        );
    }
    // The emulator's own controls answer the same way.
    let (status, content_type, bytes) = raw(
        "POST",
        &format!("{}/_emulator/faults", w.issuer()),
        None,
        Some(("application/json", b"{\"not\": \"a fault\"".to_vec())),
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(content_type.as_deref(), Some("application/json"));
}

#[test]
fn generic_bodies_are_checked_against_the_specs_request_schema() {
    let w = World::new();
    let token = w.token();
    // Wrong types, at the top and inside a list; a value outside the spec's enum.
    refused(
        &w,
        &token,
        "PATCH",
        "/api/v1/business",
        json!({"is_click_wrap": "yes"}),
        "is_click_wrap",
    );
    refused(
        &w,
        &token,
        "POST",
        "/api/v1/environment_variables",
        json!({"key": 5, "value": "v"}),
        "key",
    );
    refused(
        &w,
        &token,
        "POST",
        "/api/v1/connections",
        json!({"name": "c", "display_name": "C", "strategy": "oauth2:myspace"}),
        "strategy",
    );
    refused(
        &w,
        &token,
        "POST",
        "/api/v1/connections",
        json!({"name": "c", "display_name": "C", "strategy": "oauth2:github",
            "enabled_applications": [7]}),
        "enabled_applications[0]",
    );
    refused(
        &w,
        &token,
        "POST",
        "/api/v1/api_keys",
        json!({"name": "k", "api_id": "a", "type": "robot"}),
        "type",
    );
    // A well-formed body is taken (an optional field sent as null counts as absent).
    let (status, shown, _) = call(
        &w,
        &token,
        "POST",
        "/api/v1/environment_variables",
        Some(json!({"key": "K", "value": "v", "is_secret": null})),
    );
    assert_eq!(status, 201, "{shown}");
    let (status, shown, _) = call(
        &w,
        &token,
        "PATCH",
        "/api/v1/business",
        Some(json!({"is_click_wrap": true, "business_name": "Acme"})),
    );
    assert_eq!(status, 200, "{shown}");
}

/// Every event type Kinde documents (FACTS.md, Webhooks).
const EVENT_TYPES: &[&str] = &[
    "organization.created",
    "user.created",
    "user.authentication_failed",
    "user.authenticated",
    "subscriber.created",
    "access_request.created",
    "passkey.added",
    "passkey.removed",
    "role.created",
    "role.updated",
    "role.deleted",
    "permission.created",
    "permission.updated",
    "permission.deleted",
    "organization.updated",
    "organization.deleted",
    "user.updated",
    "user.deleted",
    "customer.agreement_cancelled",
    "customer.agreement_created",
    "customer.invoice_overdue",
    "customer.meter_usage_updated",
    "customer.payment_failed",
    "customer.payment_succeeded",
    "customer.plan_created",
    "customer.plan_assigned",
    "customer.plan_changed",
];

#[test]
fn webhooks_take_exactly_kindes_event_types() {
    let w = World::new();
    let token = w.token();
    let hook = |types: Value| json!({"name": "hook", "endpoint": "https://app.example/hook", "event_types": types});
    refused(
        &w,
        &token,
        "POST",
        "/api/v1/webhooks",
        hook(json!("user.created")),
        "event_types",
    );
    refused(
        &w,
        &token,
        "POST",
        "/api/v1/webhooks",
        hook(json!(["user.created", "user.exploded"])),
        "user.exploded",
    );
    refused(
        &w,
        &token,
        "POST",
        "/api/v1/webhooks",
        hook(json!([])),
        "event_types",
    );
    let (status, shown, made) = call(
        &w,
        &token,
        "POST",
        "/api/v1/webhooks",
        Some(hook(json!(EVENT_TYPES))),
    );
    assert_eq!(status, 200, "{shown}");
    let id = made["webhook"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/webhooks/{id}");
    refused(
        &w,
        &token,
        "PATCH",
        &path,
        json!({"event_types": ["organization.renamed"]}),
        "organization.renamed",
    );
    let (status, shown, _) = call(
        &w,
        &token,
        "PATCH",
        &path,
        Some(json!({"event_types": ["role.deleted", "customer.plan_changed"]})),
    );
    assert_eq!(status, 200, "{shown}");
    let (_, _, list) = call(&w, &token, "GET", "/api/v1/webhooks", None);
    assert_eq!(
        list["webhooks"][0]["event_types"],
        json!(["role.deleted", "customer.plan_changed"]),
        "{list}"
    );
    // The list Kinde serves is the same set.
    let (_, _, listed) = call(&w, &token, "GET", "/api/v1/event_types", None);
    let mut keys: Vec<&str> = listed["event_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap())
        .collect();
    keys.sort_unstable();
    let mut expected = EVENT_TYPES.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected);
}
