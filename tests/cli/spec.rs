//! Conformance with Kinde's OpenAPI spec: the emulator's responses and the client's request
//! bodies are checked against the spec's schemas (types, required fields, no undeclared fields).

use serde_json::Value;
use serde_norway::Value as Yaml;

use crate::World;

pub(crate) fn spec() -> Yaml {
    let path = std::env::var("KINDE_SPEC").unwrap_or_else(|_| {
        format!(
            "{}/spec/kinde-management-api.yaml",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the spec is needed at {path} (or $KINDE_SPEC): {e}"));
    serde_norway::from_str(&text).unwrap()
}

fn resolve<'a>(spec: &'a Yaml, schema: &'a Yaml) -> &'a Yaml {
    match schema.get("$ref").and_then(Yaml::as_str) {
        Some(reference) => {
            let mut node = spec;
            for part in reference.trim_start_matches("#/").split('/') {
                node = &node[part];
            }
            resolve(spec, node)
        }
        None => schema,
    }
}

/// Every way `value` breaks `schema`, with JSON-pointer-ish locations.
fn violations(spec: &Yaml, schema: &Yaml, value: &Value, at: &str) -> Vec<String> {
    let schema = resolve(spec, schema);
    let nullable = schema
        .get("nullable")
        .and_then(Yaml::as_bool)
        .unwrap_or(false);
    if value.is_null() {
        return if nullable {
            vec![]
        } else {
            vec![format!("{at}: null where the spec does not allow it")]
        };
    }
    let ty = schema.get("type").and_then(Yaml::as_str);
    let mut out = Vec::new();
    match (ty, value) {
        (Some("object") | None, Value::Object(map)) if schema.get("properties").is_some() => {
            let props = schema["properties"].as_mapping().unwrap();
            for (key, v) in map {
                match props.get(Yaml::String(key.clone())) {
                    Some(s) => out.extend(violations(spec, s, v, &format!("{at}/{key}"))),
                    None => out.push(format!("{at}/{key}: not declared in the spec")),
                }
            }
            for required in schema
                .get("required")
                .and_then(Yaml::as_sequence)
                .into_iter()
                .flatten()
            {
                let name = required.as_str().unwrap();
                if !map.contains_key(name) {
                    out.push(format!("{at}: required `{name}` missing"));
                }
            }
        }
        (Some("object") | None, Value::Object(_)) => {}
        (Some("array"), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                out.extend(violations(
                    spec,
                    &schema["items"],
                    item,
                    &format!("{at}/{i}"),
                ));
            }
        }
        (Some("string"), Value::String(s)) => {
            if let Some(options) = schema.get("enum").and_then(Yaml::as_sequence)
                && !options.iter().any(|o| o.as_str() == Some(s))
            {
                out.push(format!("{at}: `{s}` is not one of the spec's values"));
            }
        }
        (Some("integer"), Value::Number(n)) if n.is_i64() || n.is_u64() => {}
        (Some("number"), Value::Number(_)) | (Some("boolean"), Value::Bool(_)) => {}
        (Some(t), v) => out.push(format!("{at}: expected {t}, got {v}")),
        (None, _) => {}
    }
    out
}

fn operation<'a>(spec: &'a Yaml, method: &str, template: &str) -> &'a Yaml {
    let op = &spec["paths"][template][method.to_ascii_lowercase().as_str()];
    assert!(!op.is_null(), "no {method} {template} in the spec");
    op
}

pub(crate) fn check_response(spec: &Yaml, method: &str, template: &str, status: u16, body: &Value) {
    let op = operation(spec, method, template);
    let response = resolve(spec, &op["responses"][status.to_string().as_str()]);
    assert!(
        !response.is_null(),
        "{method} {template}: status {status} is not in the spec"
    );
    let Some(schema) = response
        .get("content")
        .and_then(|c| c.get("application/json"))
        .map(|c| &c["schema"])
    else {
        return;
    };
    let problems = violations(spec, schema, body, "");
    assert!(
        problems.is_empty(),
        "{method} {template} {status} response breaks the spec:\n{}\n{body}",
        problems.join("\n")
    );
}

fn get(w: &World, token: &str, path: &str) -> (u16, Value) {
    crate::http::get_json(
        &format!("{}{path}", w.issuer()),
        Some(&format!("Bearer {token}")),
    )
}

#[test]
fn the_emulators_responses_follow_the_spec() {
    let spec = spec();
    let w = World::new();
    w.write("kinde.toml", "[app]\ncallback_urls = [\"https://app.example/cb\"]\n[[apis]]\nname = \"A\"\naudience = \"https://a.example\"\nscopes = [\"read:a\"]\nauthorize = [\"app\", \"management\"]\n");
    w.cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["register", "--yes"])
        .assert()
        .success();
    let token = w.token();
    let tenant = w.emulator.state().tenant();
    let app = w.web_app_id();
    let api = tenant
        .apis
        .iter()
        .find(|a| !a.is_management_api)
        .unwrap()
        .id
        .clone();
    let user = tenant.users[0].id.clone();
    let cases = [
        ("/api/v1/users?page_size=2", "/api/v1/users"),
        (&format!("/api/v1/user?id={user}"), "/api/v1/user"),
        ("/api/v1/applications", "/api/v1/applications"),
        (
            &format!("/api/v1/applications/{app}"),
            "/api/v1/applications/{application_id}",
        ),
        (
            &format!("/api/v1/applications/{app}/auth_redirect_urls"),
            "/api/v1/applications/{app_id}/auth_redirect_urls",
        ),
        (
            &format!("/api/v1/applications/{app}/auth_logout_urls"),
            "/api/v1/applications/{app_id}/auth_logout_urls",
        ),
        ("/api/v1/apis", "/api/v1/apis"),
        (&format!("/api/v1/apis/{api}"), "/api/v1/apis/{api_id}"),
        (
            &format!("/api/v1/apis/{api}/scopes"),
            "/api/v1/apis/{api_id}/scopes",
        ),
        ("/api/v1/users?page_size=1000", "/api/v1/users"),
        (
            "/api/v1/applications/nope",
            "/api/v1/applications/{application_id}",
        ),
    ];
    for (path, template) in cases {
        let (status, body) = get(&w, &token, path);
        check_response(&spec, "GET", template, status, &body);
    }
}

#[test]
fn the_clients_request_bodies_follow_the_spec() {
    let spec = spec();
    let w = World::new();
    w.write("kinde.toml", "[app]\ncallback_urls = [\"https://app.example/cb\"]\nlogout_urls = [\"https://app.example\"]\n[[apis]]\nname = \"A\"\naudience = \"https://a.example\"\nscopes = [\"read:a\"]\nauthorize = [\"app\", \"management\"]\n");
    w.cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["register", "--yes"])
        .assert()
        .success();
    let recorded = w.emulator.state().recorded();
    assert_eq!(recorded.len(), 7, "{recorded:?}");
    for request in recorded {
        let op = cargo_kinde::kinde::find_operation(&request.method, &request.path)
            .expect("a spec operation");
        let spec_op = operation(&spec, op.method, op.path);
        match (&request.body, spec_op.get("requestBody")) {
            (Some(body), Some(request_body)) => {
                let schema = &resolve(&spec, request_body)["content"]["application/json"]["schema"];
                let problems = violations(&spec, schema, body, "");
                assert!(
                    problems.is_empty(),
                    "{} {} body breaks the spec:\n{}",
                    request.method,
                    request.path,
                    problems.join("\n")
                );
            }
            (None, None) => {}
            (body, schema) => panic!(
                "{} {}: body {body:?} but the spec's request body is {schema:?}",
                request.method, request.path
            ),
        }
    }
}

#[test]
fn the_checker_finds_violations() {
    let spec = spec();
    let schema = &spec["components"]["schemas"]["success_response"];
    assert!(
        violations(
            &spec,
            schema,
            &serde_json::json!({"code": "OK", "message": "Success"}),
            ""
        )
        .is_empty()
    );
    let problems = violations(
        &spec,
        schema,
        &serde_json::json!({"code": 1, "extra": true}),
        "",
    );
    assert_eq!(problems.len(), 2, "{problems:?}");
}
