//! `smoke --openapi`: a fixture service on 127.0.0.1:0 verifying the emulator's tokens as a
//! careful service does (jsonwebtoken, RS256 against the JWKS, `iss`, `aud`, `exp`), with one
//! route left unprotected and one that forgot its permission check, and the OpenAPI document
//! describing it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use crate::{World, json, stderr, stdout};

const AUDIENCE: &str = "https://api.acme.test";

struct Service {
    jwks: JwkSet,
    issuer: String,
}

impl Service {
    /// The claims of a valid bearer token, or 401.
    fn claims(&self, headers: &HeaderMap) -> Result<Value, StatusCode> {
        let unauthorized = || StatusCode::UNAUTHORIZED;
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(unauthorized)?;
        let header = jsonwebtoken::decode_header(token).map_err(|_| unauthorized())?;
        let jwk = header
            .kid
            .as_deref()
            .and_then(|kid| self.jwks.find(kid))
            .ok_or_else(unauthorized)?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| unauthorized())?;
        let mut rules = Validation::new(Algorithm::RS256);
        rules.set_audience(&[AUDIENCE]);
        rules.set_issuer(&[&self.issuer]);
        jsonwebtoken::decode::<Value>(token, &key, &rules)
            .map(|t| t.claims)
            .map_err(|_| unauthorized())
    }

    /// The claims of a valid token holding `permission`, else 401 or 403.
    fn allowed(&self, headers: &HeaderMap, permission: &str) -> Result<Value, StatusCode> {
        let claims = self.claims(headers)?;
        let held = claims["permissions"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p == permission));
        if held {
            Ok(claims)
        } else {
            Err(StatusCode::FORBIDDEN)
        }
    }
}

type Shared = State<Arc<Service>>;

async fn get_order(State(s): Shared, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match s.allowed(&headers, "read:orders") {
        Ok(_) => Json(json!({"id": id})).into_response(),
        Err(refused) => refused.into_response(),
    }
}

/// 201 only with the body the document's schema requires (`item` and `quantity`), else 422.
async fn create_order(State(s): Shared, headers: HeaderMap, body: Option<Json<Value>>) -> Response {
    if let Err(refused) = s.allowed(&headers, "write:orders") {
        return refused.into_response();
    }
    match body {
        Some(Json(b)) if b["item"].is_string() && b["quantity"].as_i64() >= Some(1) => {
            (StatusCode::CREATED, Json(b)).into_response()
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY.into_response(),
    }
}

/// The document says it needs `read:reports`: it checks nothing at all.
async fn reports() -> Response {
    Json(json!({"reports": []})).into_response()
}

/// The document says it needs `delete:orders`: it checks the token, not the permission.
async fn delete_order(State(s): Shared, headers: HeaderMap) -> Response {
    match s.claims(&headers) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(refused) => refused.into_response(),
    }
}

/// Any valid token; 404 for another user than `kp_42`.
async fn get_user(State(s): Shared, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match s.claims(&headers) {
        Ok(_) if id == "kp_42" => Json(json!({"id": id})).into_response(),
        Ok(_) => StatusCode::NOT_FOUND.into_response(),
        Err(refused) => refused.into_response(),
    }
}

/// Checks the `read:audit` permission of a token it never verifies (only the no-minting test's
/// document lists it): forged tokens lacking the permission get 403, holding it 200.
async fn audit(headers: HeaderMap) -> Response {
    use base64::Engine as _;
    // No credentials at all: 403 (a refusal all the same).
    if !headers.contains_key("authorization") {
        return StatusCode::FORBIDDEN.into_response();
    }
    let claims = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| t.split('.').nth(1))
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    match claims {
        None => StatusCode::UNAUTHORIZED.into_response(),
        Some(c)
            if c["permissions"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p == "read:audit")) =>
        {
            Json(json!({"audit": []})).into_response()
        }
        Some(_) => StatusCode::FORBIDDEN.into_response(),
    }
}

/// Refuses bad tokens, then fails on every good one.
async fn broken(State(s): Shared, headers: HeaderMap) -> Response {
    match s.claims(&headers) {
        Ok(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Err(refused) => refused.into_response(),
    }
}

async fn health() -> &'static str {
    "ok"
}

/// Start the fixture service against `issuer`'s JWKS; its base URL.
fn start(issuer: &str) -> String {
    let issuer = issuer.to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let jwks: JwkSet = reqwest::get(format!("{issuer}/.well-known/jwks.json"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let service = Arc::new(Service { jwks, issuer });
            let app = axum::Router::new()
                .route("/orders", post(create_order))
                .route("/orders/{id}", get(get_order).delete(delete_order))
                .route("/reports", get(reports))
                .route("/users/{user_id}", get(get_user))
                .route("/health", get(health))
                .route("/audit", get(audit))
                .route("/broken", get(broken))
                .with_state(service);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(format!("http://{}", listener.local_addr().unwrap()))
                .unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// A proxy to `emulator` that answers 404 to `POST /_emulator/mint`, as a real tenant does; its URL.
/// Its discovery document names it as the issuer.
pub(crate) fn without_minting(emulator: &str) -> String {
    async fn forward(
        State((upstream, own)): State<(String, String)>,
        request: axum::extract::Request,
    ) -> Response {
        let path = request.uri().path().to_string();
        if path == "/_emulator/mint" {
            return StatusCode::NOT_FOUND.into_response();
        }
        let url = format!("{upstream}{}", request.uri());
        let mut out = reqwest::Client::new().request(request.method().clone(), url);
        for name in ["authorization", "content-type", "accept"] {
            if let Some(value) = request.headers().get(name) {
                out = out.header(name, value.as_bytes());
            }
        }
        // The Management API's audience is the emulator's own URL.
        let encoded = |url: &str| url.replace(':', "%3A").replace('/', "%2F");
        let body = axum::body::to_bytes(request.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = String::from_utf8_lossy(&body)
            .replace(&own, &upstream)
            .replace(&encoded(&own), &encoded(&upstream));
        let answer = out.body(body).send().await.unwrap();
        let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
        let kind = answer
            .headers()
            .get("content-type")
            .map(|v| v.as_bytes().to_vec())
            .unwrap_or_default();
        let mut bytes = answer.bytes().await.unwrap().to_vec();
        if path == "/.well-known/openid-configuration" {
            bytes = String::from_utf8(bytes)
                .unwrap()
                .replace(&upstream, &own)
                .into_bytes();
        }
        (status, [("content-type", kind)], bytes).into_response()
    }
    let emulator = emulator.to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let own = format!("http://{}", listener.local_addr().unwrap());
            tx.send(own.clone()).unwrap();
            let app = axum::Router::new()
                .fallback(forward)
                .with_state((emulator, own));
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

const OPENAPI: &str = r##"
openapi: 3.1.0
info: {title: Orders, version: "1.0"}
security:
  - kinde: []
components:
  securitySchemes:
    kinde: {type: http, scheme: bearer, bearerFormat: JWT}
    oauth:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: https://acme.kinde.com/oauth2/token
          scopes: {read:orders: read, write:orders: write, delete:orders: delete, read:reports: reports}
  schemas:
    NewOrder:
      type: object
      required: [item, quantity]
      properties:
        item: {type: string, example: widget}
        quantity: {type: integer, minimum: 1}
        note: {type: string}
paths:
  /health:
    get:
      security: []
      responses: {"200": {description: up}}
  /orders:
    post:
      security: [{oauth: [write:orders]}]
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/NewOrder"}
      responses: {"201": {description: created}}
  /orders/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: string, example: ord_1}}
    get:
      security: [{oauth: [read:orders]}]
      responses: {"200": {description: the order}}
    delete:
      security: [{oauth: [delete:orders]}]
      responses: {"204": {description: deleted}}
  /reports:
    get:
      x-kinde-permissions: [read:reports]
      responses: {"200": {description: reports}}
  /users/{user_id}:
    get:
      parameters:
        - {name: user_id, in: path, required: true, schema: {type: string}}
      responses: {"200": {description: a user}}
"##;

/// A world with the fixture service and its document; the service's base URL.
fn fixture() -> (World, String) {
    let w = World::new();
    let base = start(&w.issuer());
    w.write("openapi.yaml", OPENAPI);
    (w, base)
}

fn smoke_openapi(w: &World, base: &str) -> assert_cmd::Command {
    let mut cmd = w.cmd();
    cmd.args([
        "smoke",
        "--openapi",
        "openapi.yaml",
        "--base-url",
        base,
        "--audience",
        AUDIENCE,
    ]);
    cmd
}

/// (status, detail) of the check named `name` in a JSON report.
pub(crate) fn check(doc: &Value, name: &str) -> (String, String) {
    let c = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {doc:#}"));
    (
        c["status"].as_str().unwrap().to_string(),
        c["detail"].as_str().unwrap().to_string(),
    )
}

const PROBES: [&str; 6] = [
    "no token",
    "a tampered signature",
    "alg: none",
    "HS256 signed with the public key",
    "an expired token",
    "a token for another audience",
];

#[test]
fn finds_the_unprotected_route_the_missing_permission_check_and_the_public_route() {
    let (w, base) = fixture();
    let out = smoke_openapi(&w, &base)
        .args(["--param", "user_id=kp_42", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    // (a) marked secured, answers anyone: every probe fails, first of all "no token".
    let (status, detail) = check(&doc, "GET /reports: refuses no token");
    assert_eq!(status, "fail");
    assert!(
        detail.contains("answered 200") && detail.contains("not protected at all"),
        "{detail}"
    );
    // (b) checks the token but not the permission: the bad tokens are refused, the valid token
    // lacking `delete:orders` is not.
    for probe in PROBES {
        let (status, detail) = check(&doc, &format!("DELETE /orders/{{id}}: refuses {probe}"));
        assert_eq!(status, "pass", "{probe}: {detail}");
    }
    let (status, detail) = check(
        &doc,
        "DELETE /orders/{id}: refuses a token lacking delete:orders",
    );
    assert_eq!(status, "fail");
    assert!(
        detail.contains("answered 204") && detail.contains("does not check the permission"),
        "{detail}"
    );
    // (c) public, not probed, not a failure.
    let (status, detail) = check(&doc, "GET /health: public");
    assert_eq!(status, "skip");
    assert!(detail.contains("security: []"), "{detail}");
    assert_eq!(doc["public"], json!(["GET /health"]));
    // The properly protected routes pass everything, the control included.
    for op in ["GET /orders/{id}", "POST /orders", "GET /users/{user_id}"] {
        let checks: Vec<&Value> = doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["operation"] == op)
            .collect();
        assert!(checks.len() >= 7, "{op}: {checks:?}");
        for c in checks {
            assert_eq!(c["status"], "pass", "{op}: {c}");
        }
    }
    // The minimal body satisfied the schema (the route answers 422 without it), the path
    // parameter came from the example and from --param.
    let created = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "POST /orders: accepts a token holding write:orders")
        .unwrap();
    assert_eq!(created["http_status"], 201, "{created}");
    let user = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "GET /users/{user_id}: accepts a valid token")
        .unwrap();
    assert_eq!(user["http_status"], 200, "{user}");
    assert_eq!(
        user["request"],
        format!("GET {base}/users/kp_42 (Authorization: Bearer ***)")
    );
    let order = check(&doc, "GET /orders/{id}: refuses no token");
    assert_eq!(order.0, "pass");
    assert!(
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["request"] == format!("GET {base}/orders/ord_1"))
    );
}

#[test]
fn the_human_report_groups_checks_by_operation_and_lists_public_ones() {
    let (w, base) = fixture();
    let out = smoke_openapi(&w, &base)
        .args(["--param", "user_id=kp_42"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("GET /reports\n  ✗ refuses no token ("),
        "{text}"
    );
    assert!(
        text.contains("DELETE /orders/{id}\n  ✓ refuses no token ("),
        "{text}"
    );
    assert!(
        text.contains("  ✗ refuses a token lacking delete:orders ("),
        "{text}"
    );
    assert!(
        text.contains("public operations (no security requirement in the document; not probed): 1\n  - GET /health: `security: []`"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("probing 6 operation(s) of openapi.yaml"),
        "{}",
        stderr(&out)
    );
    // JUnit: a test case per probe, classed by operation.
    let out = smoke_openapi(&w, &base)
        .args(["--param", "user_id=kp_42", "--format", "junit"])
        .output()
        .unwrap();
    let xml = stdout(&out);
    let parsed = roxmltree::Document::parse(&xml).unwrap();
    let failed: Vec<String> = parsed
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .filter_map(|n| n.parent())
        .map(|c| c.attribute("name").unwrap().to_string())
        .collect();
    assert!(
        failed.contains(&"DELETE /orders/{id}: refuses a token lacking delete:orders".to_string()),
        "{failed:?}"
    );
    assert!(
        failed
            .iter()
            .all(|f| f.starts_with("GET /reports") || f.starts_with("DELETE /orders")),
        "{failed:?}"
    );
    assert!(xml.contains("classname=\"smoke.GET /reports\""), "{xml}");
}

#[test]
fn a_required_parameter_without_a_value_skips_its_operation_with_the_flag_to_pass() {
    let (w, base) = fixture();
    let out = smoke_openapi(&w, &base)
        .args(["--json", "--only", "GET /users/{user_id}: not probed"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (status, detail) = check(&json(&out), "GET /users/{user_id}: not probed");
    assert_eq!(status, "skip");
    assert!(detail.contains("pass --param user_id=VALUE"), "{detail}");
    // Following it probes the operation.
    let out = smoke_openapi(&w, &base)
        .args(["--json", "--param", "user_id=kp_42", "--tag", "openapi"])
        .output()
        .unwrap();
    let doc = json(&out);
    assert_eq!(
        check(&doc, "GET /users/{user_id}: accepts a valid token").0,
        "pass"
    );
}

#[test]
fn fail_on_public_fails_the_run_on_a_public_operation() {
    let (w, base) = fixture();
    w.write(
        "public.yaml",
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /health:\n    get:\n      responses: {'200': {description: ok}}\n",
    );
    let run = |extra: &[&str]| {
        w.cmd()
            .args([
                "smoke",
                "--openapi",
                "public.yaml",
                "--base-url",
                &base,
                "--json",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (status, detail) = check(&json(&out), "GET /health: public");
    assert_eq!(status, "skip");
    assert!(detail.contains("no security requirement"), "{detail}");
    let out = run(&["--fail-on-public"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(check(&json(&out), "GET /health: public").0, "fail");
}

#[test]
fn a_bad_openapi_document_is_an_input_error_naming_the_file_and_the_fault() {
    let (w, base) = fixture();
    let cases = [
        ("swagger.yaml", "swagger: '2.0'\npaths: {}\n", "Swagger 2.0"),
        ("broken.yaml", "openapi: 3.1.0\npaths: [\n", "invalid YAML"),
        (
            "typo.json",
            r#"{"openapi": "3.0.3", "paths": {"/a": {"get": {"security": [{"kinde": []}]}}}}"#,
            "`paths./a.get.security[0]` names the security scheme `kinde`, which `components.securitySchemes` does not define",
        ),
    ];
    for (file, text, fault) in cases {
        w.write(file, text);
        let out = w
            .cmd()
            .args(["smoke", "--openapi", file, "--base-url", &base])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{file}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{file} is not a usable OpenAPI document")),
            "{err}"
        );
        assert!(err.contains(fault), "{file}: {err}");
    }
    let out = w
        .cmd()
        .args(["smoke", "--openapi", "missing.yaml", "--base-url", &base])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "a file that cannot be read, as everywhere"
    );
    assert!(stderr(&out).contains("missing.yaml"), "{}", stderr(&out));
    // --base-url goes with --openapi, and must be a URL.
    w.cmd()
        .args(["smoke", "--openapi", "openapi.yaml"])
        .assert()
        .code(2);
    let out = w
        .cmd()
        .args([
            "smoke",
            "--openapi",
            "openapi.yaml",
            "--base-url",
            "localhost:3000",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not an http(s) URL"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn where_nothing_mints_tokens_the_probes_needing_one_could_not_run_and_the_rest_do() {
    let (w, base) = fixture();
    // The M2M app is authorised for the API, as against a real tenant after `register`.
    w.write(
        "kinde.toml",
        &format!(
            "[[apis]]\nname = \"Orders\"\naudience = \"{AUDIENCE}\"\nauthorize = [\"management\"]\n"
        ),
    );
    w.cmd().args(["register", "--yes"]).assert().success();
    // And a route that checks a permission in a token it never verifies.
    w.write(
        "openapi.yaml",
        &format!("{OPENAPI}  /audit:\n    get:\n      x-kinde-permissions: [read:audit]\n      responses: {{\"200\": {{description: audit}}}}\n"),
    );
    // A tenant answers 404 where the emulator mints.
    let tenant = without_minting(&w.issuer());
    let out = w
        .cmd()
        .env("KINDE_DOMAIN", &tenant)
        .args(["smoke", "--openapi", "openapi.yaml", "--base-url", &base])
        .args(["--param", "user_id=kp_42", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        stderr(&out),
        stdout(&out)
    );
    let doc = json(&out);
    for name in [
        "GET /orders/{id}: refuses a token lacking read:orders",
        "GET /orders/{id}: accepts a token holding read:orders",
        "DELETE /orders/{id}: refuses a token lacking delete:orders",
    ] {
        let (status, detail) = check(&doc, name);
        assert_eq!(status, "skip", "{name}: {detail}");
        assert!(
            detail.starts_with("could not run: a valid token with chosen permissions is minted by the emulator only")
                && detail.contains("answered 404"),
            "{name}: {detail}"
        );
    }
    // The protection probes run with the M2M token (the audience comes from kinde.toml's one
    // [[apis]] entry), and still find the unprotected route.
    assert_eq!(check(&doc, "GET /orders/{id}: refuses alg: none").0, "pass");
    assert_eq!(
        check(&doc, "GET /orders/{id}: refuses an expired token").0,
        "pass"
    );
    assert_eq!(check(&doc, "GET /reports: refuses no token").0, "fail");
    // A route needing no permission gets the M2M token as its valid token.
    let (status, detail) = check(&doc, "GET /users/{user_id}: accepts a valid token");
    assert_eq!(
        (status.as_str(), detail.as_str()),
        ("pass", "accepted: answered 200")
    );
    // The only token for another audience is the Management API's: never sent to the service.
    let (status, detail) = check(
        &doc,
        "GET /orders/{id}: refuses a token for another audience",
    );
    assert_eq!(status, "skip", "{detail}");
    assert!(
        detail.contains("never sent to the service under test"),
        "{detail}"
    );
    // Forged from a token without read:audit, a 403 may be the permission check alone: not a
    // pass (the route verifies nothing), reported as inconclusive.
    let (status, detail) = check(&doc, "GET /audit: refuses alg: none");
    assert_eq!(status, "skip", "{detail}");
    assert!(
        detail.starts_with("inconclusive: refused with 403"),
        "{detail}"
    );
    // Without any token, a 403 is a refusal all the same.
    let (status, detail) = check(&doc, "GET /audit: refuses no token");
    assert_eq!(
        (status.as_str(), detail.as_str()),
        ("pass", "refused with 403")
    );
}

#[test]
fn against_the_emulator_a_route_that_never_verifies_its_token_is_found() {
    let (w, base) = fixture();
    w.write(
        "openapi.yaml",
        &format!("{OPENAPI}  /audit:\n    get:\n      x-kinde-permissions: [read:audit]\n      responses: {{\"200\": {{description: audit}}}}\n"),
    );
    let out = smoke_openapi(&w, &base)
        .args(["--param", "user_id=kp_42", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    // Forgeries of a token holding read:audit: the route accepts them.
    for probe in ["a tampered signature", "alg: none", "an expired token"] {
        let (status, detail) = check(&doc, &format!("GET /audit: refuses {probe}"));
        assert_eq!(status, "fail", "{probe}: {detail}");
    }
    // Another API's token, signed by the emulator, holding the permission: accepted too.
    let (status, detail) = check(&doc, "GET /audit: refuses a token for another audience");
    assert_eq!(status, "fail", "{detail}");
}

/// The example service (examples/orders-api) as its OpenAPI document describes it, plus two
/// routes someone added later and got wrong: invoices with no check at all, and a delete that
/// verifies the token but forgot its permission. A public health check besides.
const EXAMPLE_OPENAPI: &str = r##"
openapi: 3.0.3
info: {title: Orders API (examples/orders-api), version: "1.0"}
security:
  - kinde: []
components:
  securitySchemes:
    kinde:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: https://acme.kinde.com/oauth2/token
          scopes: {read:orders: read, create:orders: place, delete:orders: delete, read:invoices: invoices}
  parameters:
    org:
      {name: org_code, in: path, required: true, schema: {type: string, example: org_acme}}
  schemas:
    NewOrder:
      type: object
      required: [item, quantity]
      properties:
        item: {type: string}
        quantity: {type: integer, minimum: 1}
paths:
  /health:
    get:
      security: []
      responses: {"200": {description: up}}
  /orgs/{org_code}/orders:
    parameters: [{$ref: "#/components/parameters/org"}]
    get:
      security: [{kinde: [read:orders]}]
      responses: {"200": {description: the organization's orders}}
    post:
      security: [{kinde: [create:orders]}]
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/NewOrder"}
      responses: {"201": {description: placed}}
  /orgs/{org_code}/orders/{id}:
    parameters:
      - {$ref: "#/components/parameters/org"}
      - {name: id, in: path, required: true, schema: {type: integer, example: 1}}
    delete:
      security: [{kinde: [delete:orders]}]
      responses: {"204": {description: deleted}}
  /orgs/{org_code}/invoices:
    parameters: [{$ref: "#/components/parameters/org"}]
    get:
      security: [{kinde: [read:invoices]}]
      responses: {"200": {description: invoices}}
"##;

/// Serve `orders_api::app` for `issuer`, with the two faulty routes and a health check; its
/// base URL.
fn start_example(issuer: &str) -> String {
    use orders_api::{Caller, Config, Verifier};
    let config = Config::new(issuer, AUDIENCE);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            // Deliberately wrong: no token check at all.
            async fn invoices() -> Json<Value> {
                Json(json!({"invoices": []}))
            }
            // Deliberately wrong: the token is verified, its permission never checked.
            async fn delete_order(_caller: Caller) -> StatusCode {
                StatusCode::NO_CONTENT
            }
            let added = axum::Router::new()
                .route("/orgs/{org_code}/invoices", get(invoices))
                .route(
                    "/orgs/{org_code}/orders/{id}",
                    axum::routing::delete(delete_order),
                )
                .route("/health", get(health))
                .with_state(Arc::new(Verifier::new(&config)));
            let app = orders_api::app(config).merge(added);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(format!("http://{}", listener.local_addr().unwrap()))
                .unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

#[test]
fn finds_the_holes_left_in_the_example_service_and_passes_its_own_routes() {
    let w = World::new();
    let base = start_example(&w.issuer());
    w.write("orders.yaml", EXAMPLE_OPENAPI);
    let out = w
        .cmd()
        .args([
            "--json",
            "smoke",
            "--openapi",
            "orders.yaml",
            "--base-url",
            &base,
            "--audience",
            AUDIENCE,
            "--org",
            "org_acme",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    let failed: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    // The unprotected route fails every probe; the delete fails only the missing permission.
    assert!(
        failed.contains(&"GET /orgs/{org_code}/invoices: refuses no token"),
        "{failed:?}"
    );
    assert!(
        failed.iter().all(|name| name
            .starts_with("GET /orgs/{org_code}/invoices:")
            || *name == "DELETE /orgs/{org_code}/orders/{id}: refuses a token lacking delete:orders"),
        "{failed:?}"
    );
    assert!(
        failed.contains(
            &"DELETE /orgs/{org_code}/orders/{id}: refuses a token lacking delete:orders"
        ),
        "{failed:?}"
    );
    assert_eq!(doc["public"], json!(["GET /health"]));
    // The example's own routes pass every probe, and their controls got through: the list, and
    // an order placed with the body built from the schema, in the organization of the path.
    for op in [
        "GET /orgs/{org_code}/orders",
        "POST /orgs/{org_code}/orders",
    ] {
        let checks: Vec<&Value> = doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["operation"] == op)
            .collect();
        assert!(checks.len() >= 8, "{op}: {checks:?}");
        assert!(
            checks.iter().all(|c| c["status"] == "pass"),
            "{op}: {checks:?}"
        );
    }
    let (status, _) = check(
        &doc,
        "POST /orgs/{org_code}/orders: accepts a token holding create:orders",
    );
    assert_eq!(status, "pass");
    let placed = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["name"] == "POST /orgs/{org_code}/orders: accepts a token holding create:orders"
        })
        .unwrap();
    assert_eq!(placed["http_status"], 201, "{placed}");
    assert_eq!(
        placed["request"],
        format!("POST {base}/orgs/org_acme/orders (Authorization: Bearer ***)")
    );
}

#[test]
fn tokens_for_another_organization_than_the_paths_fail_the_control_visibly() {
    // Without --org the minted tokens are for smoke's own organization, which the example
    // refuses for org_acme's paths: the control says the route refuses a good token instead of
    // passing unseen.
    let w = World::new();
    let base = start_example(&w.issuer());
    w.write("orders.yaml", EXAMPLE_OPENAPI);
    let out = w
        .cmd()
        .args([
            "--json",
            "smoke",
            "--openapi",
            "orders.yaml",
            "--base-url",
            &base,
            "--audience",
            AUDIENCE,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let (status, detail) = check(
        &json(&out),
        "GET /orgs/{org_code}/orders: accepts a token holding read:orders",
    );
    assert_eq!(status, "fail");
    assert!(detail.contains("403"), "{detail}");
}

#[test]
fn an_alternative_needing_no_permission_leaves_nothing_to_lack_and_a_failing_route_fails() {
    let (w, base) = fixture();
    w.write(
        "alternatives.yaml",
        r##"
openapi: 3.0.3
info: {title: t, version: "1"}
components:
  securitySchemes:
    kinde: {type: http, scheme: bearer}
    oauth:
      type: oauth2
      flows: {clientCredentials: {tokenUrl: https://acme.kinde.com/oauth2/token, scopes: {read:orders: r}}}
paths:
  /users/{user_id}:
    get:
      security: [{oauth: [read:orders]}, {kinde: []}]
      parameters: [{name: user_id, in: path, required: true, schema: {type: string, example: kp_42}}]
      responses: {"200": {description: a user}}
  /broken:
    get:
      security: [{kinde: []}]
      responses: {"200": {description: never}}
"##,
    );
    let out = w
        .cmd()
        .args([
            "--json",
            "smoke",
            "--openapi",
            "alternatives.yaml",
            "--base-url",
            &base,
        ])
        .args(["--audience", AUDIENCE])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    let names: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    // Any valid token may read the user: no "lacking" probe, and the control holds nothing.
    assert!(
        !names.iter().any(|n| n.contains("refuses a token lacking")),
        "{names:?}"
    );
    assert_eq!(
        check(&doc, "GET /users/{user_id}: accepts a valid token").0,
        "pass"
    );
    // A route that answers 500 to a good token is not working: its control fails.
    let (status, detail) = check(&doc, "GET /broken: accepts a valid token");
    assert_eq!(status, "fail", "{detail}");
    assert!(detail.contains("answered 500 to a valid token"), "{detail}");
}

/// 30 levels of a schema whose two required properties `$ref` the next one: 2^30 values if built.
fn exponential_document() -> String {
    let mut doc = String::from(
        "openapi: 3.1.0\ninfo: {title: t, version: \"1\"}\nsecurity: [{kinde: []}]\ncomponents:\n  securitySchemes:\n    kinde: {type: http, scheme: bearer}\n  schemas:\n",
    );
    for i in 0..30 {
        let next = format!("{{$ref: \"#/components/schemas/S{}\"}}", i + 1);
        doc.push_str(&format!(
            "    S{i}: {{type: object, required: [a, b], properties: {{a: {next}, b: {next}}}}}\n"
        ));
    }
    doc.push_str(
        "    S30: {type: string}\npaths:\n  /deep:\n    post:\n      requestBody: {content: {application/json: {schema: {$ref: \"#/components/schemas/S0\"}}}}\n      responses: {\"200\": {description: ok}}\n",
    );
    doc
}

#[test]
fn hostile_documents_are_refused_or_bounded_instead_of_hanging() {
    let (w, base) = fixture();
    // A schema reusing one `$ref` at every level: listed at once, its operation not probed.
    w.write("deep.yaml", &exponential_document());
    let smoke = |file: &str, extra: &[&str]| {
        w.cmd()
            .args(["smoke", "--openapi", file, "--base-url", &base])
            .args(["--audience", AUDIENCE])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = smoke("deep.yaml", &["--list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("POST /deep: not probed"),
        "{}",
        stdout(&out)
    );
    let out = smoke("deep.yaml", &["--json"]);
    let (status, detail) = check(&json(&out), "POST /deep: not probed");
    assert_eq!(status, "skip");
    assert!(
        detail.contains("would have more than 10000 values")
            && detail.contains("give the media type an `example`"),
        "{detail}"
    );

    // YAML aliases: 2 000 values repeated 1 100 times.
    let values = vec!["1"; 2000].join(", ");
    let uses = vec!["*a"; 1100].join(", ");
    w.write(
        "laughs.yaml",
        &format!("openapi: 3.1.0\nx-a: &a [{values}]\nx-b: [{uses}]\npaths: {{}}\n"),
    );
    let out = smoke("laughs.yaml", &["--list"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "laughs.yaml is not a usable OpenAPI document: the document expands to more than 2000000 values (YAML aliases"
        ),
        "{}",
        stderr(&out)
    );

    // A file over 16 MiB is not read.
    let huge = std::fs::File::create(w.path("huge.yaml")).unwrap();
    huge.set_len(16 * 1024 * 1024 + 1).unwrap();
    let out = smoke("huge.yaml", &["--list"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "huge.yaml is not a usable OpenAPI document: it is 16777217 bytes, over the limit of 16777216 bytes (16 MiB)"
        ),
        "{}",
        stderr(&out)
    );
}
