//! The `--json` document of every command, checked against the shape the README documents
//! ("JSON output"), and `--quiet`: only errors, and the data a command exists to print.

use serde_json::Value;

use crate::{World, json, stderr, stdout};

/// Check that `doc` is an object with exactly these keys (those marked `?` may be absent), each
/// of one of the `|`-separated JSON types: `string`, `number`, `bool`, `array`, `object`, `null`.
#[track_caller]
fn shape(doc: &Value, fields: &[(&str, &str)]) {
    let object = doc
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {doc}"));
    for (key, types) in fields {
        let (key, optional) = match key.strip_suffix('?') {
            Some(k) => (k, true),
            None => (*key, false),
        };
        match object.get(key) {
            None if optional => {}
            None => panic!("`{key}` missing from {doc}"),
            Some(value) => {
                let kind = match value {
                    Value::String(_) => "string",
                    Value::Number(_) => "number",
                    Value::Bool(_) => "bool",
                    Value::Array(_) => "array",
                    Value::Object(_) => "object",
                    Value::Null => "null",
                };
                assert!(
                    types.split('|').any(|t| t == kind),
                    "`{key}` is {kind}, documented as {types}: {doc}"
                );
            }
        }
    }
    for key in object.keys() {
        assert!(
            fields.iter().any(|(k, _)| k.trim_end_matches('?') == key),
            "`{key}` is not documented: {doc}"
        );
    }
}

const ERROR: &[(&str, &str)] = &[
    ("kind", "string"),
    ("message", "string"),
    ("hint", "string|null"),
    ("exit_code", "number"),
];

#[test]
fn token() {
    let w = World::new();
    let out = w
        .cmd()
        .args(["--json", "token", "--verify"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out);
    shape(
        &doc,
        &[
            ("access_token", "string"),
            ("token_type", "string"),
            ("expires_in", "number"),
            ("expires_at", "number"),
            ("scope", "string|null"),
            ("cached", "bool"),
            ("header", "object|null"),
            ("claims", "object|null"),
            ("verification", "object|null"),
        ],
    );
    verify_report(&doc["verification"]);
}

#[test]
fn user_token_and_login() {
    let w = World::new();
    crate::token::plant_user_token(&w);
    let out = w
        .cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["--json", "token", "--user"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    shape(
        &json(&out),
        &[
            ("access_token", "string"),
            ("token_type", "string"),
            ("expires_in", "number"),
            ("expires_at", "number"),
            ("scope", "string|null"),
            ("source", "string"),
            ("access_token_claims", "object|null"),
            ("id_token_claims", "object|null"),
            ("has_refresh_token", "bool"),
            ("refresh_token?", "string"),
        ],
    );
}

fn verify_report(doc: &Value) {
    shape(
        doc,
        &[
            ("valid", "bool"),
            ("checks", "array"),
            ("header", "object|null"),
            ("claims", "object|null"),
            ("notes", "array"),
        ],
    );
    for check in doc["checks"].as_array().unwrap() {
        shape(
            check,
            &[
                ("name", "string"),
                ("status", "string"),
                ("detail", "string"),
            ],
        );
    }
}

#[test]
fn verify() {
    let w = World::new();
    let out = w
        .cmd()
        .args(["--json", "verify", &w.token()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out);
    verify_report(&doc);
    // Durations read as words: "expires in 23 h 59 min 59 s", never "1day".
    let expiry = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "expiry")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(expiry.starts_with("expires in "), "{expiry}");
    let words: Vec<&str> = expiry.split_whitespace().collect();
    assert!(
        words
            .iter()
            .all(|w| !(w.starts_with(|c: char| c.is_ascii_digit())
                && w.ends_with(|c: char| c.is_ascii_alphabetic()))),
        "a number glued to its unit: {expiry}"
    );
}

const KINDE_TOML: &str = r#"
[app]
callback_urls = ["https://app.acme.example/callback"]

[[apis]]
name = "Acme API"
audience = "https://api.acme.example"
scopes = ["read:orders"]
authorize = ["app"]
"#;

fn register_report(doc: &Value) {
    shape(
        doc,
        &[
            ("plan", "object"),
            ("changes", "array"),
            ("summary", "object"),
            ("drift?", "bool"),
            ("dry_run", "bool"),
            ("changed", "bool"),
            ("applied", "array"),
            ("failed?", "object"),
            ("not_applied?", "array"),
            ("app_names?", "object"),
            ("error?", "object"),
        ],
    );
    for change in doc["changes"].as_array().into_iter().flatten() {
        shape(
            change,
            &[
                ("kind", "string"),
                ("resource", "string"),
                ("name", "string"),
                ("id?", "string"),
                ("before", "array|object|string|null"),
                ("after", "array|object|string|null"),
                ("text", "string"),
            ],
        );
    }
    shape(
        &doc["summary"],
        &[
            ("add", "number"),
            ("change", "number"),
            ("remove", "number"),
            ("matching", "number"),
            ("unmanaged", "number"),
            ("conflicts", "number"),
        ],
    );
    shape(
        &doc["plan"],
        &[
            ("changes", "array"),
            ("matching", "array"),
            ("unmanaged", "array"),
            ("conflicts", "array"),
            ("notes", "array"),
        ],
    );
}

#[test]
fn register() {
    let w = World::new();
    w.write("kinde.toml", KINDE_TOML);
    let register = |args: &[&str]| {
        w.cmd()
            .env("KINDE_CLIENT_ID", w.web_app_id())
            .arg("--json")
            .arg("register")
            .args(args)
            .output()
            .unwrap()
    };
    let out = register(&["--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out);
    register_report(&doc);
    assert!(!doc["plan"]["changes"].as_array().unwrap().is_empty());
    // The application the plan authorises is named, not only its client id.
    assert_eq!(doc["app_names"][w.web_app_id()], w.web_app().name);

    // Refused for want of --yes: still one document, with the plan and the error.
    let out = register(&[]);
    assert_eq!(out.status.code(), Some(2));
    let doc = json(&out);
    register_report(&doc);
    assert!(!doc["plan"]["changes"].as_array().unwrap().is_empty());
    shape(&doc["error"], ERROR);
}

#[test]
fn register_plan_shows_app_names_next_to_client_ids() {
    let w = World::new();
    w.write("kinde.toml", KINDE_TOML);
    let out = w
        .cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["register", "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = format!("`{}` ({})", w.web_app().name, w.web_app_id());
    assert!(stdout(&out).contains(&expected), "{}", stdout(&out));
}

#[test]
fn api_logout_and_config() {
    let w = World::new();
    let out = w
        .cmd()
        .args(["--json", "api", "GET", "/api/v1/users"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // `api` prints the server's own document (secrets redacted).
    assert!(json(&out)["users"].is_array());

    let out = w.cmd().args(["--json", "logout"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    shape(
        &json(&out),
        &[("removed", "number"), ("logout_url", "string|null")],
    );

    let out = w.cmd().args(["--json", "config"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out);
    shape(
        &doc,
        &[
            ("file", "string|null"),
            ("dotenv", "string|null"),
            ("profile", "string|null"),
            ("profile_dotenv", "string|null"),
            ("values", "object"),
            ("warnings", "array"),
        ],
    );
    for (_, setting) in doc["values"].as_object().unwrap() {
        shape(
            setting,
            &[
                ("value", "string|number|bool|array|null"),
                ("source", "string|null"),
            ],
        );
    }
}

#[test]
fn smoke() {
    let w = World::new();
    let out = w.cmd().args(["--json", "smoke"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out);
    shape(
        &doc,
        &[
            ("passed", "number"),
            ("failed", "number"),
            ("skipped", "number"),
            ("duration_ms", "number"),
            ("checks", "array"),
            ("warnings", "array"),
            ("output?", "string"),
            ("error?", "object"),
        ],
    );
    for check in doc["checks"].as_array().unwrap() {
        assert!(
            check["name"].is_string() && check["status"].is_string(),
            "{check}"
        );
    }
}

#[test]
fn errors_and_refused_command_lines() {
    let w = World::new();
    // A typo clap refuses is answered in JSON when JSON was asked for.
    let out = w.cmd().args(["--json", "tokn"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let doc = json(&out);
    shape(&doc, &[("error", "object")]);
    shape(&doc["error"], ERROR);
    assert!(
        doc["error"]["hint"].as_str().unwrap().contains("token"),
        "clap's tip is the hint: {doc}"
    );
    let out = w
        .cmd()
        .args(["token", "--json", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    shape(&json(&out)["error"], ERROR);
    // A message over several lines is kept whole.
    let out = w
        .cmd()
        .args(["--json", "token", "--no-browser"])
        .output()
        .unwrap();
    let message = json(&out)["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("--user"), "{message}");
    // A command that fails.
    let out = w.bare().args(["--json", "token"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    shape(&json(&out)["error"], ERROR);
}

#[test]
fn quiet_prints_only_errors_and_the_result() {
    let w = World::new();
    w.write("kinde.toml", KINDE_TOML);
    let out = w
        .cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["--quiet", "register", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "no plan with --quiet");
    assert_eq!(stderr(&out), "");

    let token = w.token();
    let out = w
        .cmd()
        .args(["--quiet", "verify", &token])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "",
        "no report with --quiet: the exit code says it"
    );
    let out = w
        .cmd()
        .args(["--quiet", "verify", "--audience", "urn:other", &token])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).starts_with("error: token rejected"),
        "{}",
        stderr(&out)
    );

    // The token is what `token` exists to print.
    let out = w.cmd().args(["--quiet", "token"]).output().unwrap();
    assert_eq!(stdout(&out).trim().split('.').count(), 3);
    assert_eq!(stderr(&out), "");
}
