//! `smoke --openapi`: the operations of a user's OpenAPI 3.0 / 3.1 document, what security each
//! declares, and the request (URL, parameters, a minimal body) each probe sends.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::Error;

/// The methods an OpenAPI path item can hold, in the order operations are reported.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The Kinde extension listing the permissions an operation needs, for bearer schemes whose
/// requirement cannot list them (OpenAPI 3.0 allows scopes in a requirement only for `oauth2` and
/// `openIdConnect` schemes).
pub const PERMISSIONS_EXTENSION: &str = "x-kinde-permissions";

/// A parsed document.
#[derive(Debug, Clone)]
pub struct Document {
    root: Value,
}

/// One operation of the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// Upper-case method.
    pub method: String,
    /// The path template, as written in `paths`.
    pub path: String,
    /// The operation's tags.
    pub tags: Vec<String>,
    /// What it needs.
    pub access: Access,
    /// The request every probe sends, or why it cannot be made.
    pub request: Result<Request, String>,
}

impl Operation {
    /// `GET /orders/{id}`.
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// What an operation's effective security asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// No security, `security: []`, or `{}` among the alternatives: anyone may call it.
    Public(String),
    /// A bearer token (an `http` `bearer`, `oauth2` or `openIdConnect` scheme), holding
    /// `permissions` (the scopes of the requirement and `x-kinde-permissions`).
    Bearer {
        /// The permissions a token needs (the alternative asking for the fewest).
        permissions: Vec<String>,
        /// Every permission any alternative asks for: a token lacking them all must be refused.
        any_of: Vec<String>,
    },
    /// Only other kinds of credentials (an API key, HTTP basic, mutual TLS): not probed.
    Other(String),
}

/// The request a probe sends to an operation (before its token).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Absolute URL, path and required query parameters filled.
    pub url: String,
    /// A minimal JSON body when the operation takes one.
    pub body: Option<Value>,
}

impl Document {
    /// Read and parse `path` (JSON, or YAML), checking it is an OpenAPI 3 document.
    pub fn load(path: &Path) -> Result<Document, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::file("read", path, e))?;
        Document::parse(&text).map_err(|why| {
            Error::input(format!(
                "{} is not a usable OpenAPI document: {why}",
                path.display()
            ))
            .with_hint("smoke --openapi reads OpenAPI 3.0 or 3.1 documents, in JSON or YAML")
        })
    }

    /// Parse `text`; `Err` says what is wrong.
    pub fn parse(text: &str) -> Result<Document, String> {
        let root: Value = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?
        } else {
            serde_norway::from_str(text).map_err(|e| format!("invalid YAML: {e}"))?
        };
        if !root.is_object() {
            return Err("the document is not a mapping (an object)".into());
        }
        match root.get("openapi") {
            Some(Value::String(v)) if v.starts_with("3.") => {}
            Some(v) => {
                return Err(format!(
                    "`openapi` is {v}, expected a 3.0 or 3.1 version such as \"3.1.0\""
                ));
            }
            None if root.get("swagger").is_some() => {
                return Err(
                    "it is a Swagger 2.0 document; convert it to OpenAPI 3 (e.g. with swagger2openapi)"
                        .into(),
                );
            }
            None => return Err("no `openapi` field (expected e.g. `openapi: 3.1.0`)".into()),
        }
        match root.get("paths") {
            Some(Value::Object(_)) | None => {}
            Some(_) => return Err("`paths` is not a mapping".into()),
        }
        let doc = Document { root };
        // Every security scheme a requirement names must exist: a typo would otherwise make an
        // operation look secured (or public) when it is not.
        doc.operations_with(&BTreeMap::new(), "http://localhost")?;
        Ok(doc)
    }

    /// Every operation, sorted by path (then get, put, post, delete, options, head, patch, trace), its request built against `base_url` with `params`
    /// (`--param name=value`) winning over the document's examples.
    pub fn operations(&self, params: &BTreeMap<String, String>, base_url: &str) -> Vec<Operation> {
        self.operations_with(params, base_url).unwrap_or_default()
    }

    fn operations_with(
        &self,
        params: &BTreeMap<String, String>,
        base_url: &str,
    ) -> Result<Vec<Operation>, String> {
        let mut out = Vec::new();
        let Some(Value::Object(paths)) = self.root.get("paths") else {
            return Ok(out);
        };
        for (path, item) in paths {
            let item = self.resolve(item);
            let Some(item) = item.as_object() else {
                return Err(format!("`paths.{path}` is not a mapping"));
            };
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let op = self.resolve(op);
                let Some(op_map) = op.as_object() else {
                    return Err(format!("`paths.{path}.{method}` is not a mapping"));
                };
                let at = format!("paths.{path}.{method}");
                let access = self.access(op_map, &at)?;
                let tags = op_map
                    .get("tags")
                    .and_then(Value::as_array)
                    .map(|t| {
                        t.iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default();
                let request = self.request(path, item, op_map, params, base_url);
                out.push(Operation {
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                    tags,
                    access,
                    request,
                });
            }
        }
        Ok(out)
    }

    /// What the operation's effective security asks for: its own `security`, else the document's.
    fn access(&self, op: &Map<String, Value>, at: &str) -> Result<Access, String> {
        let (requirements, whose) = match op.get("security") {
            Some(s) => (s, format!("{at}.security")),
            None => match self.root.get("security") {
                Some(s) => (s, "security".to_string()),
                None => {
                    return Ok(Access::Public(
                        "no security requirement (neither the operation nor the document declares `security`)"
                            .into(),
                    ));
                }
            },
        };
        let Some(alternatives) = requirements.as_array() else {
            return Err(format!("`{whose}` is not a list"));
        };
        if alternatives.is_empty() {
            return Ok(Access::Public(format!("`security: []` at `{whose}`")));
        }
        let extra: Vec<String> = strings(op.get(PERMISSIONS_EXTENSION));
        let mut bearer: Vec<Vec<String>> = Vec::new();
        let mut other = Vec::new();
        for (i, alternative) in alternatives.iter().enumerate() {
            let Some(alternative) = alternative.as_object() else {
                return Err(format!("`{whose}[{i}]` is not a mapping"));
            };
            if alternative.is_empty() {
                return Ok(Access::Public(format!(
                    "`{{}}` among the alternatives at `{whose}`: authentication is optional"
                )));
            }
            let mut is_bearer = false;
            let mut permissions = Vec::new();
            for (name, scopes) in alternative {
                let kind = self.scheme_kind(name).ok_or_else(|| {
                    format!(
                        "`{whose}[{i}]` names the security scheme `{name}`, which `components.securitySchemes` does not define"
                    )
                })?;
                if kind == SchemeKind::Bearer {
                    is_bearer = true;
                    permissions.extend(strings(Some(scopes)));
                } else {
                    other.push(format!("`{name}` ({})", self.scheme_type(name)));
                }
            }
            if is_bearer {
                permissions.extend(extra.iter().cloned());
                let set: BTreeSet<String> = permissions.into_iter().collect();
                bearer.push(set.into_iter().collect());
            }
        }
        if bearer.is_empty() {
            return Ok(Access::Other(format!(
                "not probed: its security asks for {} only, not a bearer token",
                other.join(", ")
            )));
        }
        let any_of: BTreeSet<String> = bearer.iter().flatten().cloned().collect();
        bearer.sort_by_key(Vec::len);
        Ok(Access::Bearer {
            permissions: bearer.swap_remove(0),
            any_of: any_of.into_iter().collect(),
        })
    }

    fn scheme(&self, name: &str) -> Option<Value> {
        let scheme = self.root.pointer(&format!(
            "/components/securitySchemes/{}",
            pointer_escape(name)
        ))?;
        Some(self.resolve(scheme))
    }

    fn scheme_type(&self, name: &str) -> String {
        self.scheme(name)
            .and_then(|s| s.get("type").and_then(Value::as_str).map(String::from))
            .unwrap_or_default()
    }

    fn scheme_kind(&self, name: &str) -> Option<SchemeKind> {
        let scheme = self.scheme(name)?;
        let kind = scheme.get("type").and_then(Value::as_str).unwrap_or("");
        let bearer = match kind {
            "oauth2" | "openIdConnect" => true,
            "http" => scheme
                .get("scheme")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case("bearer")),
            _ => false,
        };
        Some(if bearer {
            SchemeKind::Bearer
        } else {
            SchemeKind::Other
        })
    }

    /// `value` itself, or what its local `$ref` (`#/...`) points at (followed up to 16 times).
    fn resolve(&self, value: &Value) -> Value {
        let mut current = value.clone();
        for _ in 0..16 {
            match current.get("$ref").and_then(Value::as_str) {
                Some(r) if r.starts_with('#') => match self.root.pointer(&r[1..]) {
                    Some(target) => current = target.clone(),
                    None => return Value::Null,
                },
                _ => return current,
            }
        }
        Value::Null
    }

    /// The URL and body of the operation's requests.
    fn request(
        &self,
        path: &str,
        item: &Map<String, Value>,
        op: &Map<String, Value>,
        given: &BTreeMap<String, String>,
        base_url: &str,
    ) -> Result<Request, String> {
        // Path-level parameters, overridden by the operation's of the same name and place.
        let mut parameters: Vec<Value> = Vec::new();
        for list in [item.get("parameters"), op.get("parameters")] {
            for p in list.and_then(Value::as_array).into_iter().flatten() {
                let p = self.resolve(p);
                let key = |p: &Value| {
                    (
                        p.get("name").and_then(Value::as_str).map(String::from),
                        p.get("in").and_then(Value::as_str).map(String::from),
                    )
                };
                parameters.retain(|q| key(q) != key(&p));
                parameters.push(p);
            }
        }
        let mut url_path = path.to_string();
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        let mut missing = Vec::new();
        for p in &parameters {
            let name = p.get("name").and_then(Value::as_str).unwrap_or("");
            let place = p.get("in").and_then(Value::as_str).unwrap_or("");
            let required = place == "path" || p.get("required") == Some(&Value::Bool(true));
            if !matches!(place, "path" | "query") || name.is_empty() {
                continue;
            }
            let value = given
                .get(name)
                .cloned()
                .or_else(|| self.parameter_example(p).map(|v| scalar_text(&v)));
            match (value, place) {
                (Some(v), "path") => {
                    url_path = url_path.replace(&format!("{{{name}}}"), &encode_segment(&v));
                }
                (Some(v), _) if required || given.contains_key(name) => {
                    query.append_pair(name, &v);
                }
                (None, _) if required => missing.push(name.to_string()),
                _ => {}
            }
        }
        // A template variable with no parameter declared for it still needs a value.
        for name in template_variables(&url_path) {
            match given.get(&name) {
                Some(v) => url_path = url_path.replace(&format!("{{{name}}}"), &encode_segment(v)),
                None if !missing.contains(&name) => missing.push(name),
                None => {}
            }
        }
        if !missing.is_empty() {
            let flags: Vec<String> = missing
                .iter()
                .map(|m| format!("--param {m}=VALUE"))
                .collect();
            return Err(format!(
                "not probed: no value for the required parameter(s) {} (no example, default or enum in the document); pass {}",
                missing.join(", "),
                flags.join(" ")
            ));
        }
        let query = query.finish();
        let mut url = format!("{}{}", base_url.trim_end_matches('/'), url_path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        Ok(Request {
            url,
            body: self.body(op),
        })
    }

    /// The parameter's value from its `example`, first `examples` entry, or its schema's
    /// `example`, `default` or first `enum` value.
    fn parameter_example(&self, p: &Value) -> Option<Value> {
        if let Some(v) = p.get("example") {
            return Some(v.clone());
        }
        if let Some(v) = p
            .get("examples")
            .and_then(Value::as_object)
            .and_then(|e| e.values().next())
            .map(|e| self.resolve(e))
            .and_then(|e| e.get("value").cloned())
        {
            return Some(v);
        }
        let schema = self.resolve(p.get("schema")?);
        schema_example(&schema)
    }

    /// A minimal JSON body for the operation's request body, when it takes JSON.
    fn body(&self, op: &Map<String, Value>) -> Option<Value> {
        let body = self.resolve(op.get("requestBody")?);
        let content = body.get("content")?.as_object()?;
        let (_, media) = content
            .iter()
            .find(|(k, _)| {
                let k = k.to_ascii_lowercase();
                k.starts_with("application/json") || k.contains("+json")
            })
            .or_else(|| content.iter().find(|(k, _)| k.as_str() == "*/*"))?;
        if let Some(v) = media.get("example") {
            return Some(v.clone());
        }
        if let Some(v) = media
            .get("examples")
            .and_then(Value::as_object)
            .and_then(|e| e.values().next())
            .map(|e| self.resolve(e))
            .and_then(|e| e.get("value").cloned())
        {
            return Some(v);
        }
        let schema = media.get("schema").cloned().unwrap_or(Value::Null);
        Some(self.minimal(&schema, &mut Vec::new()))
    }

    /// The smallest value `schema` accepts as far as can be told: required properties only,
    /// examples, defaults and enums first, then a value of its type. `$ref`s within the document
    /// are followed; a schema that refers to itself stops at the second visit (`null`, or an
    /// empty object or array).
    pub fn minimal(&self, schema: &Value, seen: &mut Vec<String>) -> Value {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            if seen.iter().any(|s| s == r) || seen.len() > 32 {
                return Value::Null;
            }
            seen.push(r.to_string());
            let target = self.resolve(schema);
            let value = self.minimal(&target, seen);
            seen.pop();
            return value;
        }
        if let Some(v) = schema_example(schema) {
            return v;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            let mut merged = Map::new();
            let mut other = None;
            for part in all {
                match self.minimal(part, seen) {
                    Value::Object(m) => merged.extend(m),
                    v => other = Some(v),
                }
            }
            let own = self.object(schema, seen);
            if let Value::Object(m) = own {
                merged.extend(m);
            }
            return match other {
                Some(v) if merged.is_empty() => v,
                _ => Value::Object(merged),
            };
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(first) = schema
                .get(key)
                .and_then(Value::as_array)
                .and_then(|a| a.first())
            {
                return self.minimal(first, seen);
            }
        }
        let kind = match schema.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(Value::Array(types)) => types
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("null"),
            _ if schema.get("properties").is_some() => "object",
            _ if schema.get("items").is_some() => "array",
            _ => "",
        };
        match kind {
            "object" => self.object(schema, seen),
            "array" => {
                let n = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
                let item = schema.get("items").cloned().unwrap_or(Value::Null);
                let items = (0..n.min(8)).map(|_| self.minimal(&item, seen)).collect();
                Value::Array(items)
            }
            "string" => Value::String(string_for(schema)),
            "integer" => number_for(schema, true),
            "number" => number_for(schema, false),
            "boolean" => Value::Bool(false),
            "null" => Value::Null,
            _ => Value::Object(Map::new()),
        }
    }

    fn object(&self, schema: &Value, seen: &mut Vec<String>) -> Value {
        let mut out = Map::new();
        let properties = schema.get("properties").and_then(Value::as_object);
        for name in strings(schema.get("required")) {
            let property = properties
                .and_then(|p| p.get(&name))
                .cloned()
                .unwrap_or(Value::Null);
            out.insert(name, self.minimal(&property, seen));
        }
        Value::Object(out)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SchemeKind {
    Bearer,
    Other,
}

/// A schema's own `example`, first `examples` entry (3.1), `default`, `const` or first `enum`.
fn schema_example(schema: &Value) -> Option<Value> {
    if let Some(v) = schema.get("example") {
        return Some(v.clone());
    }
    if let Some(v) = schema
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return Some(v.clone());
    }
    for key in ["default", "const"] {
        if let Some(v) = schema.get(key) {
            return Some(v.clone());
        }
    }
    schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
        .cloned()
}

fn string_for(schema: &Value) -> String {
    let base = match schema.get("format").and_then(Value::as_str).unwrap_or("") {
        "date-time" => "2024-01-01T00:00:00Z",
        "date" => "2024-01-01",
        "time" => "00:00:00Z",
        "email" => "user@example.com",
        "uuid" => "00000000-0000-4000-8000-000000000000",
        "uri" | "url" => "https://example.com/",
        "hostname" => "example.com",
        "ipv4" => "127.0.0.1",
        "ipv6" => "::1",
        _ => "string",
    };
    let min = schema
        .get("minLength")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(4096) as usize;
    let max = schema
        .get("maxLength")
        .and_then(Value::as_u64)
        .map_or(usize::MAX, |m| m as usize);
    let mut text = base.to_string();
    while text.chars().count() < min {
        text.push('x');
    }
    if text.chars().count() > max {
        text = "x".repeat(min.max(max.min(1)));
    }
    text
}

fn number_for(schema: &Value, integer: bool) -> Value {
    // 3.1: `exclusiveMinimum` is a number; 3.0: a flag beside `minimum`.
    let mut n = match (
        schema.get("minimum").and_then(Value::as_f64),
        schema.get("exclusiveMinimum"),
    ) {
        (Some(min), Some(Value::Bool(true))) => min + 1.0,
        (Some(min), _) => min,
        (None, Some(Value::Number(min))) => min.as_f64().unwrap_or(0.0) + 1.0,
        _ => 0.0,
    };
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
        && max < n
    {
        n = max;
    }
    if integer {
        Value::from(n.ceil() as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::from(0), Value::Number)
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// A parameter value as text: strings as they are, anything else as JSON.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn pointer_escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// `value` percent-encoded for one path segment.
fn encode_segment(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `{name}`s left in a path template.
fn template_variables(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        out.push(rest[start + 1..start + end].to_string());
        rest = &rest[start + end + 1..];
    }
    out
}

/// `--param name=value`.
pub fn parse_param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => Err(format!(
            "`{text}` is not NAME=VALUE (e.g. --param order_id=42)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DOC: &str = r##"
openapi: 3.1.0
info: {title: t, version: "1"}
security:
  - kinde: []
components:
  securitySchemes:
    kinde: {type: http, scheme: bearer, bearerFormat: JWT}
    oauth:
      type: oauth2
      flows: {clientCredentials: {tokenUrl: "https://x/oauth2/token", scopes: {}}}
    key: {type: apiKey, in: header, name: X-Key}
  schemas:
    Order:
      type: object
      required: [id, items, customer, status]
      properties:
        id: {type: integer, minimum: 1}
        status: {type: string, enum: [open, closed]}
        note: {type: string}
        items: {type: array, minItems: 1, items: {$ref: "#/components/schemas/Item"}}
        customer: {$ref: "#/components/schemas/Customer"}
    Item:
      type: object
      required: [sku, qty]
      properties:
        sku: {type: string, format: uuid}
        qty: {type: integer, default: 2}
    Customer:
      type: object
      required: [email, parent]
      properties:
        email: {type: string, format: email}
        parent: {$ref: "#/components/schemas/Customer"}
paths:
  /health:
    get:
      security: []
      responses: {"200": {description: ok}}
  /orders/{order_id}:
    parameters:
      - {name: order_id, in: path, required: true, schema: {type: integer, example: 42}}
    get:
      tags: [orders]
      security:
        - oauth: [read:orders]
      responses: {200: {description: ok}}
    put:
      x-kinde-permissions: [write:orders]
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Order"}
      responses: {"200": {description: ok}}
  /users/{user_id}:
    get:
      parameters:
        - {name: user_id, in: path, required: true, schema: {type: string}}
        - {name: limit, in: query, required: true, schema: {type: integer, enum: [5, 10]}}
      responses: {"200": {description: ok}}
  /keyed:
    get:
      security: [{key: []}]
      responses: {"200": {description: ok}}
  /optional:
    get:
      security: [{kinde: []}, {}]
      responses: {"200": {description: ok}}
"##;

    fn ops(params: &[(&str, &str)]) -> Vec<Operation> {
        let params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Document::parse(DOC)
            .unwrap()
            .operations(&params, "http://127.0.0.1:9/api/")
    }

    #[test]
    fn operations_get_their_effective_security() {
        let ops = ops(&[]);
        let labels: Vec<String> = ops.iter().map(Operation::label).collect();
        assert_eq!(
            labels,
            [
                "GET /health",
                "GET /keyed",
                "GET /optional",
                "GET /orders/{order_id}",
                "PUT /orders/{order_id}",
                "GET /users/{user_id}",
            ],
            "sorted by path, then in the order of METHODS"
        );
        assert!(matches!(&ops[0].access, Access::Public(why) if why.contains("security: []")));
        assert_eq!(
            ops[3].access,
            Access::Bearer {
                permissions: vec!["read:orders".into()],
                any_of: vec!["read:orders".into()]
            }
        );
        assert_eq!(ops[3].tags, ["orders"]);
        assert_eq!(
            ops[4].access,
            Access::Bearer {
                permissions: vec!["write:orders".into()],
                any_of: vec!["write:orders".into()]
            },
            "the document's security, with the Kinde extension's permissions"
        );
        assert!(matches!(&ops[1].access, Access::Other(why) if why.contains("`key` (apiKey)")));
        assert!(matches!(&ops[2].access, Access::Public(why) if why.contains("optional")));
    }

    #[test]
    fn parameters_come_from_examples_or_params_and_missing_ones_say_how() {
        let ops = ops(&[]);
        assert_eq!(
            ops[3].request.as_ref().unwrap().url,
            "http://127.0.0.1:9/api/orders/42"
        );
        let why = ops[5].request.as_ref().unwrap_err();
        assert!(
            why.contains("user_id") && why.contains("--param user_id=VALUE"),
            "{why}"
        );
        let ops = super::tests::ops(&[("user_id", "a b/c"), ("order_id", "7")]);
        assert_eq!(
            ops[5].request.as_ref().unwrap().url,
            "http://127.0.0.1:9/api/users/a%20b%2Fc?limit=5"
        );
        assert_eq!(
            ops[3].request.as_ref().unwrap().url,
            "http://127.0.0.1:9/api/orders/7"
        );
    }

    #[test]
    fn bodies_hold_the_required_properties_and_stop_at_cycles() {
        let ops = ops(&[]);
        assert_eq!(
            ops[4].request.as_ref().unwrap().body,
            Some(json!({
                "id": 1,
                "status": "open",
                "items": [{"sku": "00000000-0000-4000-8000-000000000000", "qty": 2}],
                "customer": {"email": "user@example.com", "parent": null}
            }))
        );
        assert_eq!(ops[3].request.as_ref().unwrap().body, None);
    }

    #[test]
    fn bad_documents_say_what_is_wrong() {
        let err = |text: &str| Document::parse(text).unwrap_err();
        assert!(err("swagger: '2.0'\npaths: {}\n").contains("Swagger 2.0"));
        assert!(err("openapi: 2.5\n").contains("`openapi` is"));
        assert!(err("info: {}\n").contains("no `openapi`"));
        assert!(err("openapi: 3.0.0\npaths: [\n").contains("invalid YAML"));
        assert!(err("{\"openapi\": \"3.0.0\",}").contains("invalid JSON"));
        let typo = "openapi: 3.0.3\npaths:\n  /a:\n    get:\n      security: [{kinde: []}]\n";
        let why = err(typo);
        assert!(
            why.contains("`paths./a.get.security[0]` names the security scheme `kinde`"),
            "{why}"
        );
        assert_eq!(
            parse_param("a=b=c").unwrap(),
            ("a".to_string(), "b=c".to_string())
        );
        assert!(parse_param("nope").is_err());
    }
}
