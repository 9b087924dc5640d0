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

/// Every way a response breaks the spec (an undeclared status, a body off its schema).
fn response_problems(
    spec: &Yaml,
    method: &str,
    template: &str,
    status: u16,
    body: &Value,
) -> Vec<String> {
    let op = operation(spec, method, template);
    let response = resolve(spec, &op["responses"][status.to_string().as_str()]);
    if response.is_null() {
        return vec![format!("status {status} is not in the spec")];
    }
    let Some(schema) = response
        .get("content")
        .and_then(|c| {
            c.get("application/json")
                .or_else(|| c.get("application/json; charset=utf-8"))
        })
        .map(|c| &c["schema"])
    else {
        return vec![];
    };
    violations(spec, schema, body, "")
}

/// A request body `schema` accepts, from its examples: every top-level field, and nested
/// objects with their required fields.
fn sample_body(spec: &Yaml, schema: &Yaml) -> Value {
    let schema = resolve(spec, schema);
    match schema.get("properties").and_then(Yaml::as_mapping) {
        Some(props) => Value::Object(
            props
                .iter()
                .map(|(name, prop)| (name.as_str().unwrap().to_string(), sample(spec, prop)))
                .collect(),
        ),
        None => sample(spec, schema),
    }
}

/// A value `schema` accepts, from its examples: objects with their required fields.
fn sample(spec: &Yaml, schema: &Yaml) -> Value {
    let schema = resolve(spec, schema);
    if let Some(first) = ["oneOf", "anyOf", "allOf"]
        .iter()
        .find_map(|k| schema.get(*k).and_then(Yaml::as_sequence)?.first())
    {
        return sample(spec, first);
    }
    let example = schema
        .get("example")
        .map(|e| serde_json::to_value(e).unwrap());
    match schema.get("type").and_then(Yaml::as_str) {
        Some("object") | None if schema.get("properties").is_some() => {
            let mut out = serde_json::Map::new();
            for name in schema
                .get("required")
                .and_then(Yaml::as_sequence)
                .into_iter()
                .flatten()
                .filter_map(Yaml::as_str)
            {
                out.insert(name.into(), sample(spec, &schema["properties"][name]));
            }
            Value::Object(out)
        }
        Some("array") => match example {
            Some(Value::Array(a)) => Value::Array(a),
            _ => Value::Array(vec![sample(spec, &schema["items"])]),
        },
        Some("string") => schema
            .get("enum")
            .and_then(Yaml::as_sequence)
            .and_then(|e| e.first())
            .map(|e| serde_json::to_value(e).unwrap())
            .or(example.filter(Value::is_string))
            .unwrap_or_else(|| "sample".into()),
        Some("integer") | Some("number") => example.filter(Value::is_number).unwrap_or(1.into()),
        Some("boolean") => example.filter(Value::is_boolean).unwrap_or(true.into()),
        _ => example.unwrap_or(Value::Object(Default::default())),
    }
}

/// One call with a bearer token: (status, JSON body or null).
fn send(
    runtime: &tokio::runtime::Runtime,
    method: &str,
    url: &str,
    token: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    runtime.block_on(async {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = reqwest::Client::new()
            .request(method, url)
            .header("authorization", format!("Bearer {token}"));
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    })
}

/// The spec's operations as (method, path template), in the spec's order.
fn spec_operations(spec: &Yaml) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                out.push((method.to_uppercase(), path.as_str().unwrap().to_string()));
            }
        }
    }
    out
}

/// Path parameters named in a template.
fn params_of(template: &str) -> Vec<String> {
    template
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(String::from)
        .collect()
}

/// The id a create answered with: the first `id`, `code`, `key` or `*_id` string in it.
fn created_id(body: &Value) -> Option<String> {
    let direct = ["id", "code", "key"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str).filter(|v| *v != "OK"))
        .or_else(|| {
            body.as_object()?
                .iter()
                .find(|(k, v)| k.ends_with("_id") && v.is_string())
                .and_then(|(_, v)| v.as_str())
        });
    direct.map(String::from).or_else(|| {
        body.as_object()?
            .values()
            .filter(|v| v.is_object())
            .find_map(created_id)
    })
}

/// Operations that answer 400 by design with the tenant this test builds: they read things
/// nothing in the Management API makes (an event, an MFA factor) or the spec has no success
/// example for.
const EXPECTED_4XX: &[(&str, &str)] = &[
    ("GET", "/api/v1/events/{event_id}"),
    ("DELETE", "/api/v1/users/{user_id}/mfa/{factor_id}"),
    (
        "DELETE",
        "/api/v1/organizations/{org_code}/users/{user_id}/mfa/{factor_id}",
    ),
];

/// Path parameters the typed rules tie to one particular item, made before the walk
/// ([`prerequisites`]): (method, template, parameter, the `ids` entry to use). A user's
/// property value needs a property of context `usr` (the walk's own is `org`, the first the
/// spec lists), and `PUT /feature_flags/{key}` may not change a flag's override level, which
/// the spec lets it name only as `env` or `org`, while overriding per user needs `usr`.
const BOUND: &[(&str, &str, &str, &str)] = &[
    (
        "PUT",
        "/api/v1/users/{user_id}/properties/{property_key}",
        "property_key",
        "usr_property_key",
    ),
    (
        "PUT",
        "/api/v1/feature_flags/{feature_flag_key}",
        "feature_flag_key",
        "env_flag_key",
    ),
];

/// What the typed rules need that a schema sample does not say: the walk's flag allows
/// overrides at every level, so its organization and user overrides are accepted; a new user
/// names no organization (the sample's code is no organization's) and joins the default one.
fn fit_to_rules(method: &str, template: &str, body: &mut Value) {
    if (method, template) == ("POST", "/api/v1/feature_flags") {
        body["allow_override_level"] = "usr".into();
    }
    if (method, template) == ("POST", "/api/v1/user")
        && let Some(fields) = body.as_object_mut()
    {
        fields.remove("organization_code");
    }
}

/// Items [`BOUND`] operations use, made through the API with bodies checked against the spec:
/// a `usr` property (with its category) and a flag fixed at the `env` level.
fn prerequisites(
    spec: &Yaml,
    w: &World,
    runtime: &tokio::runtime::Runtime,
    token: &str,
    ids: &mut std::collections::HashMap<String, String>,
) {
    let make = |template: &str, body: Value| {
        let request = &resolve(spec, &operation(spec, "POST", template)["requestBody"])["content"]
            ["application/json"]["schema"];
        let problems = violations(spec, request, &body, "");
        assert!(problems.is_empty(), "POST {template} body: {problems:?}");
        let url = format!("{}{template}", w.issuer());
        let (status, answer) = send(runtime, "POST", &url, token, Some(&body));
        assert!(
            (200..300).contains(&status),
            "POST {template}: {status} {answer}"
        );
        answer
    };
    let category = make(
        "/api/v1/property_categories",
        serde_json::json!({"name": "Profile", "context": "usr"}),
    );
    let category = created_id(&category).expect("a category id");
    make(
        "/api/v1/properties",
        serde_json::json!({"name": "Colour", "key": "colour", "type": "single_line_text",
            "context": "usr", "is_private": false, "category_id": category}),
    );
    ids.insert("usr_property_key".into(), "colour".into());
    make(
        "/api/v1/feature_flags",
        serde_json::json!({"name": "Fixed", "key": "fixed", "type": "str",
            "allow_override_level": "env", "default_value": "a"}),
    );
    ids.insert("env_flag_key".into(), "fixed".into());
}

#[test]
fn every_operation_in_the_spec_is_answered_on_its_schema() {
    let spec = spec();
    let w = World::new();
    let token = w.token();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tenant = w.emulator.state().tenant();
    let sample_api = tenant.apis.iter().find(|a| !a.is_management_api).unwrap();
    let mut ids: std::collections::HashMap<String, String> = [
        ("app_id", w.web_app_id()),
        ("application_id", w.web_app_id()),
        ("api_id", sample_api.id.clone()),
        ("scope_id", sample_api.scopes[0].id.clone()),
        ("user_id", tenant.users[0].id.clone()),
        ("id", tenant.users[0].id.clone()),
        ("type", "light".into()),
        ("event_id", "event_0195ac80a14c2ca2cec97d026d864de0".into()),
        ("factor_id", "mfa_0193278a00ac29b3f6d4e4d462d55c47".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    prerequisites(&spec, &w, &runtime, &token, &mut ids);
    let all = spec_operations(&spec);
    // Creates first (parents before children), then reads and changes, deletes last (children
    // before parents), so each path's ids were made by an earlier call.
    let is_create = |(m, p): &(String, String)| {
        m == "POST"
            && !p.ends_with('}')
            && (p.matches('{').count() <= 1 || p.contains("/identities") || p.contains("/invites"))
    };
    let mut order: Vec<(String, String)> = all.iter().filter(|o| is_create(o)).cloned().collect();
    // A property names its category: categories are made first among their peers.
    order.sort_by_key(|(_, p)| (p.matches('{').count(), p != "/api/v1/property_categories"));
    let mut rest: Vec<(String, String)> = all
        .iter()
        .filter(|o| !is_create(o) && o.0 != "DELETE")
        .cloned()
        .collect();
    order.append(&mut rest);
    let mut deletes: Vec<(String, String)> =
        all.iter().filter(|o| o.0 == "DELETE").cloned().collect();
    deletes.sort_by_key(|(_, p)| std::cmp::Reverse((p.matches('{').count(), p.len())));
    order.extend(deletes);
    assert_eq!(order.len(), all.len());

    let mut problems = Vec::new();
    let mut succeeded = 0;
    for (method, template) in &order {
        let op = operation(&spec, method, template);
        let mut path = template.clone();
        for param in params_of(template) {
            let bound = BOUND
                .iter()
                .find(|(m, t, p, _)| (*m, *t, *p) == (method.as_str(), template.as_str(), &param))
                .and_then(|(_, _, _, id)| ids.get(*id));
            let value = match param.as_str() {
                _ if bound.is_some() => bound,
                "org_code" | "organization_code" => ids.get("org_code"),
                "property_key" => ids.get("property_key"),
                p => ids.get(p),
            };
            let Some(value) = value else {
                problems.push(format!(
                    "{method} {template}: no id for {{{param}}} (made by no earlier call)"
                ));
                continue;
            };
            path = path.replace(&format!("{{{param}}}"), value);
        }
        let mut query = Vec::new();
        for p in op
            .get("parameters")
            .and_then(Yaml::as_sequence)
            .into_iter()
            .flatten()
            .map(|p| resolve(&spec, p))
            .filter(|p| p["in"].as_str() == Some("query") && p["required"].as_bool() == Some(true))
        {
            let name = p["name"].as_str().unwrap();
            let value = match name {
                "code" => ids.get("org_code").cloned(),
                "id" => ids.get("user_id").cloned(),
                // `type` in `ids` is the logo path's (`light`), not a flag's type.
                "type" => None,
                other => ids.get(other).cloned(),
            }
            .unwrap_or_else(|| match sample(&spec, &p["schema"]) {
                Value::String(s) => s,
                v => v.to_string(),
            });
            query.push(format!("{name}={}", url_escape(&value)));
        }
        let url = if query.is_empty() {
            format!("{}{path}", w.issuer())
        } else {
            format!("{}{path}?{}", w.issuer(), query.join("&"))
        };
        let body = op.get("requestBody").map(|b| {
            let schema = &resolve(&spec, b)["content"]["application/json"]["schema"];
            let mut body = sample_body(&spec, schema);
            with_ids(&mut body, &ids, None);
            if template.ends_with("_urls") {
                body["urls"] = serde_json::json!(["https://app.example/cb"]);
            }
            fit_to_rules(method, template, &mut body);
            // Webhook endpoints must be URLs (https, or http on loopback), and event types
            // Kinde's (the spec gives no example of either).
            if template.starts_with("/api/v1/webhooks") {
                if body.get("endpoint").is_some() {
                    body["endpoint"] = serde_json::json!("https://app.example/hook");
                }
                if body.get("event_types").is_some() {
                    body["event_types"] = serde_json::json!(["user.created"]);
                }
            }
            body
        });
        // A file upload (a logo) is a form with a small PNG as its `logo` field.
        let form = op
            .get("requestBody")
            .map(|b| resolve(&spec, b))
            .is_some_and(|b| !b["content"]["multipart/form-data"].is_null());
        let (status, answer) = if form {
            let boundary = "spec-walk-boundary";
            let mut upload = format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"logo\"; filename=\"logo.png\"\r\nContent-Type: image/png\r\n\r\n"
            )
            .into_bytes();
            upload.extend_from_slice(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x00IEND\xaeB`\x82");
            upload.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
            let content_type = format!("multipart/form-data; boundary={boundary}");
            let (status, _, bytes) =
                crate::http::raw(method, &url, Some(&token), Some((&content_type, upload)));
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            )
        } else {
            send(&runtime, method, &url, &token, body.as_ref())
        };
        let expected_4xx = EXPECTED_4XX.contains(&(method.as_str(), template.as_str()));
        if (200..300).contains(&status) {
            succeeded += 1;
        } else if !expected_4xx {
            problems.push(format!("{method} {template}: {status} {answer}"));
        }
        for problem in response_problems(&spec, method, template, status, &answer) {
            problems.push(format!("{method} {template} {status}: {problem}"));
        }
        if is_create(&(method.clone(), template.clone())) && (200..300).contains(&status) {
            // The parameter naming one of what was made: under this path, or (identities)
            // at the top level under the same name.
            let family = template.rsplit('/').next().unwrap();
            let item = cargo_kinde::kinde::operations::OPERATIONS
                .iter()
                .find_map(|o| {
                    o.path
                        .strip_prefix(template.as_str())
                        .or_else(|| o.path.strip_prefix(&format!("/api/v1/{family}")))?
                        .strip_prefix("/{")?
                        .strip_suffix('}')
                        .filter(|p| !p.contains('/'))
                })
                .map(|p| {
                    if p == "organization_code" {
                        "org_code"
                    } else {
                        p
                    }
                });
            // An answer without the id (`POST /permissions`): the newest in the list.
            let listed = || {
                let (_, list) = send(&runtime, "GET", &url, &token, None);
                list.as_object()?
                    .values()
                    .find_map(Value::as_array)?
                    .last()
                    .and_then(created_id)
            };
            let made = body
                .as_ref()
                .and_then(|b| b.get("key"))
                .and_then(Value::as_str)
                .map(String::from)
                .filter(|_| item.is_some_and(|p| p.ends_with("_key")))
                .or_else(|| created_id(&answer))
                .or_else(listed);
            if let (Some(item), Some(made)) = (item, made) {
                ids.entry(item.to_string()).or_insert(made.clone());
                if template == "/api/v1/properties" {
                    ids.insert(
                        "property_key".into(),
                        body.as_ref().unwrap()["key"].as_str().unwrap().into(),
                    );
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} operations answered 2xx; problems:\n{}",
        succeeded,
        order.len(),
        problems.join("\n")
    );
    assert_eq!(succeeded + EXPECTED_4XX.len(), order.len());
}

fn url_escape(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The ids this test made, put where a sample body names one: fields named as a path
/// parameter (`role_id`), and `id` in a list of users or applications.
fn with_ids(
    value: &mut Value,
    ids: &std::collections::HashMap<String, String>,
    list: Option<&str>,
) {
    let url = |v: &mut Value| match v {
        Value::String(s) => *s = "https://app.example/cb".into(),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| *i = "https://app.example/cb".into()),
        _ => {}
    };
    match value {
        Value::Object(map) => {
            // An entry of `users` / `permissions` / ...: the id of one this test made.
            if let Some(id) = list
                .and_then(|l| l.strip_suffix('s'))
                .and_then(|one| ids.get(&format!("{one}_id")))
            {
                map.insert("id".into(), id.clone().into());
            }
            for (key, v) in map.iter_mut() {
                match key.as_str() {
                    "id" => {}
                    k if k.ends_with("uri") || k.ends_with("uris") || k.ends_with("url") => url(v),
                    k if v.is_string() && ids.contains_key(k) && k != "type" => {
                        *v = ids[k].clone().into()
                    }
                    k => with_ids(v, ids, Some(k)),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| with_ids(v, ids, list)),
        _ => {}
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn unknown_routes_are_the_specs_404_and_other_methods_405() {
    let spec = spec();
    let w = World::new();
    let token = w.token();
    let rt = runtime();
    let (status, body) = send(
        &rt,
        "GET",
        &format!("{}/api/v1/nope", w.issuer()),
        &token,
        None,
    );
    assert_eq!(status, 404, "{body}");
    // The spec's `not_found_response` is one error object, not the list other errors carry.
    let schema = &spec["components"]["schemas"]["not_found_response"];
    assert!(violations(&spec, schema, &body, "").is_empty(), "{body}");
    assert_eq!(body["errors"]["code"], "ROUTE_NOT_FOUND");

    let url = format!("{}/api/v1/business", w.issuer());
    let answer = rt.block_on(async {
        reqwest::Client::new()
            .delete(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
    });
    assert_eq!(answer.status().as_u16(), 405);
    assert_eq!(answer.headers()["allow"], "GET, PATCH");
    let body: Value = rt.block_on(answer.json()).unwrap();
    let schema = &spec["components"]["schemas"]["error_response"];
    assert!(violations(&spec, schema, &body, "").is_empty(), "{body}");
    assert_eq!(body["errors"][0]["code"], "METHOD_NOT_ALLOWED");
    // A typed path answers another method through the table too.
    let (status, _) = send(
        &rt,
        "PUT",
        &format!("{}/api/v1/users", w.issuer()),
        &token,
        None,
    );
    assert_eq!(status, 405);
}

#[test]
fn every_family_checks_the_operations_scope() {
    let w = World::new();
    let (id, secret) = w.limited_m2m_app(&["read:users"]);
    let (status, grant) = crate::http::post_form(
        &format!("{}/oauth2/token", w.issuer()),
        &[
            ("grant_type", "client_credentials"),
            ("audience", &format!("{}/api", w.issuer())),
        ],
        Some((&id, &secret)),
    );
    assert_eq!(status, 200, "{grant}");
    let token = grant["access_token"].as_str().unwrap();
    let rt = runtime();
    let (status, _) = send(
        &rt,
        "GET",
        &format!("{}/api/v1/users", w.issuer()),
        token,
        None,
    );
    assert_eq!(status, 200);
    for (method, path, scope) in [
        ("GET", "/api/v1/webhooks", "read:webhooks"),
        ("POST", "/api/v1/connections", "create:connections"),
        ("GET", "/api/v1/organizations", "read:organizations"),
        ("DELETE", "/api/v1/roles/r1", "delete:roles"),
        ("PATCH", "/api/v1/business", "update:businesses"),
        (
            "GET",
            "/api/v1/users/kp_1/identities",
            "read:user_identities",
        ),
    ] {
        let (status, body) = send(
            &rt,
            method,
            &format!("{}{path}", w.issuer()),
            token,
            Some(&serde_json::json!({})),
        );
        assert_eq!(status, 403, "{method} {path}: {body}");
        assert_eq!(body["errors"][0]["code"], "FORBIDDEN", "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(scope),
            "{body}"
        );
    }
}

#[test]
fn a_missing_required_field_or_parameter_is_kindes_400() {
    let w = World::new();
    let token = w.token();
    let rt = runtime();
    let url = format!("{}/api/v1/webhooks", w.issuer());
    let (status, body) = send(
        &rt,
        "POST",
        &url,
        &token,
        Some(&serde_json::json!({"name": "hook", "event_types": ["user.created"]})),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["code"], "INVALID_REQUEST_BODY");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("endpoint"),
        "{body}"
    );
    let (status, body) = send(
        &rt,
        "GET",
        &format!("{}/api/v1/organization", w.issuer()),
        &token,
        None,
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("code"),
        "{body}"
    );
    // Given in full, it is made, listed, and read back by id.
    let hook = serde_json::json!({"name": "hook", "endpoint": "https://app.example/hook", "event_types": ["user.created"]});
    let (status, made) = send(&rt, "POST", &url, &token, Some(&hook));
    assert_eq!(status, 200, "{made}");
    let id = made["webhook"]["id"].as_str().unwrap();
    let (_, list) = send(&rt, "GET", &url, &token, None);
    assert_eq!(list["webhooks"][0]["id"], id, "{list}");
    assert_eq!(list["webhooks"][0]["endpoint"], "https://app.example/hook");
    let (status, _) = send(&rt, "DELETE", &format!("{url}/{id}"), &token, None);
    assert_eq!(status, 200);
    let (status, _) = send(&rt, "DELETE", &format!("{url}/{id}"), &token, None);
    assert_eq!(status, 400);
}

#[test]
fn generic_collections_page_and_survive_a_restart_with_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let options = || cargo_kinde::emulator::Options {
        state_file: Some(state.clone()),
        ..Default::default()
    };
    let rt = runtime();
    {
        let w = World::with(options());
        let token = w.token();
        for n in 0..3 {
            let url = format!(
                "{}/api/v1/subscribers?first_name=S{n}&last_name=L&email=s{n}%40example.com",
                w.issuer()
            );
            let (status, made) = send(&rt, "POST", &url, &token, None);
            assert_eq!(status, 201, "{made}");
        }
    }
    let w = World::with(options());
    let token = w.token();
    let url = format!("{}/api/v1/subscribers?page_size=2", w.issuer());
    let (_, first) = send(&rt, "GET", &url, &token, None);
    assert_eq!(first["subscribers"].as_array().unwrap().len(), 2, "{first}");
    let next = first["next_token"].as_str().expect("a next_token");
    let (_, second) = send(
        &rt,
        "GET",
        &format!("{url}&next_token={next}"),
        &token,
        None,
    );
    assert_eq!(second["subscribers"][0]["first_name"], "S2", "{second}");
    assert!(second.get("next_token").is_none(), "{second}");
}

#[test]
fn api_keys_are_verified_by_their_secret_shown_once() {
    let w = World::new();
    let token = w.token();
    let rt = runtime();
    let url = format!("{}/api/v1/api_keys", w.issuer());
    let body = serde_json::json!({"name": "ci", "api_id": "a", "type": "organization"});
    let (status, made) = send(&rt, "POST", &url, &token, Some(&body));
    assert_eq!(status, 201, "{made}");
    let (id, key) = (
        made["api_key"]["id"].as_str().unwrap(),
        made["api_key"]["key"].as_str().unwrap(),
    );
    let (_, shown) = send(&rt, "GET", &format!("{url}/{id}"), &token, None);
    assert!(
        !shown.to_string().contains(key),
        "a read shows the key: {shown}"
    );
    let verify = format!("{url}/verify");
    let (_, good) = send(
        &rt,
        "POST",
        &verify,
        &token,
        Some(&serde_json::json!({"api_key": key})),
    );
    assert_eq!(
        (good["is_valid"].as_bool(), good["key_id"].as_str()),
        (Some(true), Some(id)),
        "{good}"
    );
    let (_, bad) = send(
        &rt,
        "POST",
        &verify,
        &token,
        Some(&serde_json::json!({"api_key": "kinde_nope"})),
    );
    assert_eq!(bad["is_valid"], false, "{bad}");
}

#[test]
fn a_generic_sub_resource_under_a_typed_parent_needs_that_parent() {
    let spec = spec();
    let w = World::new();
    let token = w.token();
    let rt = runtime();
    let at = |path: &str| format!("{}{path}", w.issuer());
    let (_, org) = send(
        &rt,
        "POST",
        &at("/api/v1/organization"),
        &token,
        Some(&serde_json::json!({"name": "Acme"})),
    );
    let code = org["organization"]["code"].as_str().unwrap();
    // The org lives in the typed tenant; its invites in the generic store.
    let invites = at(&format!("/api/v1/organization/{code}/invites"));
    let invite = serde_json::json!({"email": "ann@example.com", "roles": []});
    let (status, made) = send(&rt, "POST", &invites, &token, Some(&invite));
    let template = "/api/v1/organization/{org_code}/invites";
    check_response(&spec, "POST", template, status, &made);
    assert_eq!(status, 201, "{made}");
    let (status, list) = send(&rt, "GET", &invites, &token, None);
    check_response(&spec, "GET", template, status, &list);
    assert_eq!(status, 200, "{list}");
    let (status, body) = send(
        &rt,
        "POST",
        &at("/api/v1/organization/org_0000000000a/invites"),
        &token,
        Some(&invite),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["code"], "ORGANIZATION_NOT_FOUND");
    // A typed parent deeper in the path is checked too.
    let (status, body) = send(
        &rt,
        "GET",
        &at(&format!("/api/v1/organizations/{code}/users/kp_nope/mfa")),
        &token,
        None,
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["code"], "USER_NOT_FOUND");

    let (_, role) = send(
        &rt,
        "POST",
        &at("/api/v1/roles"),
        &token,
        Some(&serde_json::json!({"name": "Viewer", "key": "viewer"})),
    );
    let role = role["role"]["id"].as_str().unwrap();
    let scopes = at(&format!("/api/v1/roles/{role}/scopes"));
    let (status, body) = send(&rt, "GET", &scopes, &token, None);
    assert_eq!(status, 200, "{body}");
    let (status, _) = send(
        &rt,
        "DELETE",
        &at(&format!("/api/v1/roles/{role}")),
        &token,
        None,
    );
    assert_eq!(status, 200);
    let (status, body) = send(&rt, "GET", &scopes, &token, None);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["code"], "ROLE_NOT_FOUND");
}

#[test]
fn a_trailing_slash_is_no_route_and_makes_nothing() {
    let w = World::new();
    let token = w.token();
    let rt = runtime();
    let base = format!("{}/api/v1", w.issuer());
    let (status, body) = send(&rt, "GET", &format!("{base}/users/"), &token, None);
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["errors"]["code"], "ROUTE_NOT_FOUND");
    let role = serde_json::json!({"name": "Ghost", "key": "ghost"});
    let (status, body) = send(&rt, "POST", &format!("{base}/roles/"), &token, Some(&role));
    assert_eq!(status, 404, "{body}");
    let (status, roles) = send(&rt, "GET", &format!("{base}/roles"), &token, None);
    assert_eq!(status, 200);
    assert!(!roles.to_string().contains("ghost"), "{roles}");
    // Without the slash, the typed users answer.
    let (status, users) = send(&rt, "GET", &format!("{base}/users"), &token, None);
    assert_eq!(status, 200);
    assert!(!users["users"].as_array().unwrap().is_empty(), "{users}");
}
