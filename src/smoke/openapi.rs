//! `smoke --openapi`: the operations of a user's OpenAPI 3.0 / 3.1 document, what security each
//! declares, and the request (URL, parameters, a minimal body) each probe sends.
//!
//! The document is the user's, and may be hostile or just large: reading it is bounded (see
//! [`Limits`]). The file's size is capped before parsing; parsing counts every value and byte of
//! text it builds, YAML alias expansions included; listing the operations counts its steps; and
//! each minimal body has its own budget, past which its operation is not probed.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
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

/// What a missing value resolves to.
static NULL: Value = Value::Null;

/// How much reading a document may cost.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Limits {
    /// The file's size in bytes.
    file_bytes: usize,
    /// Values (scalars, lists, mappings) the parsed document may hold, YAML aliases expanded.
    values: usize,
    /// Bytes of text (strings and keys) the parsed document may hold, YAML aliases expanded.
    text_bytes: usize,
    /// Values one minimal request body may cost to build (each schema visited, each value of an
    /// example copied, and one more per 64 bytes of text).
    body_values: usize,
    /// Steps (counted as for `body_values`) listing every operation may take: security
    /// requirements, parameters, tags, examples and bodies, for all operations together.
    work: usize,
    /// How deep the schemas a minimal body is built from may nest (`$ref`s included).
    body_depth: usize,
}

impl Limits {
    const DEFAULT: Limits = Limits {
        file_bytes: 16 * 1024 * 1024,
        values: 2_000_000,
        text_bytes: 64 * 1024 * 1024,
        body_values: 10_000,
        work: 10_000_000,
        body_depth: 64,
    };
}

/// A parsed document.
#[derive(Debug, Clone)]
pub struct Document {
    root: Value,
    limits: Limits,
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
        Document::load_with(path, Limits::DEFAULT)
    }

    fn load_with(path: &Path, limits: Limits) -> Result<Document, Error> {
        let unusable = |why: String| {
            Error::input(format!(
                "{} is not a usable OpenAPI document: {why}",
                path.display()
            ))
            .with_hint("smoke --openapi reads OpenAPI 3.0 or 3.1 documents, in JSON or YAML")
        };
        let too_big = |size: String| {
            unusable(format!(
                "it is {size} bytes, over the limit of {} bytes ({} MiB)",
                limits.file_bytes,
                limits.file_bytes / (1024 * 1024)
            ))
        };
        let file = std::fs::File::open(path).map_err(|e| Error::file("read", path, e))?;
        // The size first, so a huge file is never read; the read is capped too (a pipe, a device).
        if let Ok(meta) = file.metadata()
            && meta.len() > limits.file_bytes as u64
        {
            return Err(too_big(meta.len().to_string()));
        }
        let mut bytes = Vec::new();
        file.take(limits.file_bytes as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::file("read", path, e))?;
        if bytes.len() > limits.file_bytes {
            return Err(too_big(format!("more than {}", limits.file_bytes)));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            Error::file(
                "read",
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })?;
        Document::parse_with(&text, limits).map_err(unusable)
    }

    /// Parse `text`; `Err` says what is wrong.
    pub fn parse(text: &str) -> Result<Document, String> {
        Document::parse_with(text, Limits::DEFAULT)
    }

    fn parse_with(text: &str, limits: Limits) -> Result<Document, String> {
        if text.len() > limits.file_bytes {
            return Err(format!(
                "it is {} bytes, over the limit of {} bytes",
                text.len(),
                limits.file_bytes
            ));
        }
        let root = read_tree(text, limits)?;
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
        let doc = Document { root, limits };
        // Every security scheme a requirement names must exist: a typo would otherwise make an
        // operation look secured (or public) when it is not. Listing the operations within the
        // work limit is checked here too, so `operations` cannot come back empty for that.
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
        let walk = Walk {
            root: &self.root,
            limits: self.limits,
            spent: Cell::new(0),
        };
        walk.operations(params, base_url)
    }
}

/// One pass over a document's operations, counting its steps against [`Limits::work`].
struct Walk<'d> {
    root: &'d Value,
    limits: Limits,
    spent: Cell<usize>,
}

/// Why a minimal body was not built.
#[derive(Debug)]
enum Stop {
    /// Past [`Limits::body_values`].
    Size,
    /// Past [`Limits::body_depth`].
    Depth,
}

/// What building one minimal body may still spend, and the `$ref`s it is inside.
struct Fuel<'d> {
    left: usize,
    depth: usize,
    seen: Vec<&'d str>,
}

impl Fuel<'_> {
    fn take(&mut self, n: usize) -> Result<(), Stop> {
        match self.left.checked_sub(n) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(Stop::Size),
        }
    }
}

impl<'d> Walk<'d> {
    fn spend(&self, n: usize) {
        self.spent.set(self.spent.get().saturating_add(n));
    }

    fn over(&self) -> bool {
        self.spent.get() > self.limits.work
    }

    /// Spend what copying `value` costs; false when that goes over the work limit.
    fn afford(&self, value: &Value) -> bool {
        let mut left = self.limits.work.saturating_sub(self.spent.get());
        let before = left;
        if cost(value, &mut left) {
            self.spend(before - left);
            true
        } else {
            self.spend(before + 1);
            false
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.over() {
            Err(format!(
                "listing its operations takes more than {} steps (many operations sharing large `$ref`d path items, parameters, security requirements, examples or request bodies?)",
                self.limits.work
            ))
        } else {
            Ok(())
        }
    }

    fn operations(
        &self,
        params: &BTreeMap<String, String>,
        base_url: &str,
    ) -> Result<Vec<Operation>, String> {
        let mut out = Vec::new();
        let Some(Value::Object(paths)) = self.root.get("paths") else {
            return Ok(out);
        };
        for (path, item) in paths {
            self.spend(1 + path.len() / 64);
            let item = self.resolve_at(item, &format!("paths.{path}"))?;
            let Some(item) = item.as_object() else {
                return Err(format!("`paths.{path}` is not a mapping"));
            };
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let op = self.resolve_at(op, &format!("paths.{path}.{method}"))?;
                let Some(op_map) = op.as_object() else {
                    return Err(format!("`paths.{path}.{method}` is not a mapping"));
                };
                let at = format!("paths.{path}.{method}");
                let access = self.access(op_map, &at)?;
                let tags = match op_map.get("tags") {
                    Some(t) if self.afford(t) => strings(Some(t)),
                    _ => Vec::new(),
                };
                self.check()?;
                let request = self.request(path, item, op_map, params, base_url);
                self.check()?;
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
    fn access(&self, op: &'d Map<String, Value>, at: &str) -> Result<Access, String> {
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
        let extra_value = op.get(PERMISSIONS_EXTENSION).unwrap_or(&NULL);
        if !self.afford(extra_value) {
            self.check()?;
        }
        let extra: Vec<String> = strings(Some(extra_value));
        let extra_cost = extra.iter().map(|e| text_cost(e)).sum::<usize>();
        let mut bearer: Vec<Vec<String>> = Vec::new();
        let mut other = Vec::new();
        for (i, alternative) in alternatives.iter().enumerate() {
            self.spend(1);
            self.check()?;
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
                self.spend(text_cost(name));
                if !self.afford(scopes) {
                    self.check()?;
                }
                let scheme = self
                    .scheme(name)
                    .ok_or_else(|| {
                        format!(
                            "`{whose}[{i}]` names the security scheme `{name}`, which `components.securitySchemes` does not define"
                        )
                    })?
                    ?;
                if scheme_kind(scheme) == SchemeKind::Bearer {
                    is_bearer = true;
                    permissions.extend(strings(Some(scopes)));
                } else {
                    let kind = scheme.get("type").and_then(Value::as_str).unwrap_or("");
                    other.push(format!("`{name}` ({kind})"));
                }
            }
            if is_bearer {
                self.spend(extra_cost);
                self.check()?;
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

    fn scheme(&self, name: &str) -> Option<Result<&'d Value, String>> {
        let scheme = self.root.pointer(&format!(
            "/components/securitySchemes/{}",
            pointer_escape(name)
        ))?;
        Some(self.resolve_at(scheme, &format!("components.securitySchemes.{name}")))
    }

    /// [`Walk::resolve`], where a `$ref` that cannot be followed is an error naming `at`: a path
    /// item or an operation behind a reference to another file would otherwise vanish from the
    /// run without a word.
    fn resolve_at(&self, value: &'d Value, at: &str) -> Result<&'d Value, String> {
        let resolved = self.resolve(value);
        if !resolved.is_null() {
            if let Some(r) = resolved.get("$ref").and_then(Value::as_str) {
                return Err(format!(
                    "`{at}` is `$ref: {r}`, a reference to another file; smoke --openapi reads one document: bundle it first (e.g. `npx @redocly/cli bundle`)"
                ));
            }
            return Ok(resolved);
        }
        match value.get("$ref").and_then(Value::as_str) {
            Some(r) => Err(format!(
                "`{at}` is `$ref: {r}`, which points at nothing in the document (or at a chain of more than 16 references)"
            )),
            None => Ok(resolved),
        }
    }

    /// `value` itself, or what its local `$ref` (`#/...`) points at (followed up to 16 times).
    fn resolve(&self, value: &'d Value) -> &'d Value {
        let mut current = value;
        for _ in 0..16 {
            match current.get("$ref").and_then(Value::as_str) {
                Some(r) if r.starts_with('#') => {
                    self.spend(text_cost(r));
                    // A URI fragment: `#/paths/~1users~1%7Bid%7D` names `/users/{id}`.
                    let pointer = percent_encoding::percent_decode_str(&r[1..]).decode_utf8_lossy();
                    match self.root.pointer(&pointer) {
                        Some(target) => current = target,
                        None => return &NULL,
                    }
                }
                _ => return current,
            }
        }
        &NULL
    }

    /// The URL and body of the operation's requests. When the work limit is reached on the
    /// way, the caller's check reports it.
    fn request(
        &self,
        path: &str,
        item: &'d Map<String, Value>,
        op: &'d Map<String, Value>,
        given: &BTreeMap<String, String>,
        base_url: &str,
    ) -> Result<Request, String> {
        // Path-level parameters, overridden by the operation's of the same name and place: the
        // last of each (name, in), in the order of those last ones.
        let key = |p: &'d Value| {
            (
                p.get("name").and_then(Value::as_str),
                p.get("in").and_then(Value::as_str),
            )
        };
        let mut all: Vec<&'d Value> = Vec::new();
        for list in [item.get("parameters"), op.get("parameters")] {
            for p in list.and_then(Value::as_array).into_iter().flatten() {
                self.spend(1);
                if self.over() {
                    return Err(String::new());
                }
                all.push(self.resolve(p));
            }
        }
        let mut keys = HashSet::new();
        let mut parameters: Vec<&'d Value> = all
            .into_iter()
            .rev()
            .filter(|p| keys.insert(key(p)))
            .collect();
        parameters.reverse();

        let mut values: HashMap<&str, String> = HashMap::new();
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        let mut missing = Vec::new();
        for p in parameters {
            let name = p.get("name").and_then(Value::as_str).unwrap_or("");
            let place = p.get("in").and_then(Value::as_str).unwrap_or("");
            let required = place == "path" || p.get("required") == Some(&Value::Bool(true));
            if !matches!(place, "path" | "query") || name.is_empty() {
                continue;
            }
            self.spend(text_cost(name));
            let value = match given.get(name) {
                Some(v) => Some(v.clone()),
                None => self.parameter_example(p).map(|v| scalar_text(&v)),
            };
            if self.over() {
                return Err(String::new());
            }
            match (value, place) {
                (Some(v), "path") => {
                    values.insert(name, v);
                }
                (Some(v), _) if required || given.contains_key(name) => {
                    query.append_pair(name, &v);
                }
                (None, _) if required => missing.push(name.to_string()),
                _ => {}
            }
        }
        // Fill the template in one pass; a variable with no parameter declared for it still
        // needs a value.
        self.spend(text_cost(path));
        let mut url_path = String::new();
        let mut named_missing: HashSet<String> = missing.iter().cloned().collect();
        let mut rest = path;
        while let Some(start) = rest.find('{') {
            let Some(end) = rest[start..].find('}') else {
                break;
            };
            let name = &rest[start + 1..start + end];
            url_path.push_str(&rest[..start]);
            match values.get(name).or_else(|| given.get(name)) {
                Some(v) => url_path.push_str(&encode_segment(v)),
                None => {
                    if named_missing.insert(name.to_string()) {
                        missing.push(name.to_string());
                    }
                    url_path.push_str(&rest[start..=start + end]);
                }
            }
            rest = &rest[start + end + 1..];
        }
        url_path.push_str(rest);
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
        let body = self.body(op)?;
        Ok(Request { url, body })
    }

    /// The parameter's value from its `example`, first `examples` entry, or its schema's
    /// `example`, `default` or first `enum` value.
    fn parameter_example(&self, p: &'d Value) -> Option<Value> {
        let example = p.get("example").or_else(|| {
            p.get("examples")
                .and_then(Value::as_object)
                .and_then(|e| e.values().next())
                .map(|e| self.resolve(e))
                .and_then(|e| e.get("value"))
        });
        let example = match example {
            Some(v) => v,
            None => schema_example(self.resolve(p.get("schema")?))?,
        };
        self.afford(example).then(|| example.clone())
    }

    /// A minimal JSON body for the operation's request body, when it takes JSON; `Err` says why
    /// none could be built.
    fn body(&self, op: &'d Map<String, Value>) -> Result<Option<Value>, String> {
        let Some(body) = op.get("requestBody") else {
            return Ok(None);
        };
        let body = self.resolve(body);
        let Some(content) = body.get("content").and_then(Value::as_object) else {
            return Ok(None);
        };
        let Some((_, media)) = content
            .iter()
            .find(|(k, _)| {
                let k = k.to_ascii_lowercase();
                k.starts_with("application/json") || k.contains("+json")
            })
            .or_else(|| content.iter().find(|(k, _)| k.as_str() == "*/*"))
        else {
            return Ok(None);
        };
        let example = media.get("example").or_else(|| {
            media
                .get("examples")
                .and_then(Value::as_object)
                .and_then(|e| e.values().next())
                .map(|e| self.resolve(e))
                .and_then(|e| e.get("value"))
        });
        if let Some(example) = example {
            // The user's own example: it costs work (it is copied), not the body's budget.
            return if self.afford(example) {
                Ok(Some(example.clone()))
            } else {
                Err(String::new())
            };
        }
        let schema = media.get("schema").unwrap_or(&NULL);
        let mut fuel = Fuel {
            left: self.limits.body_values,
            depth: 0,
            seen: Vec::new(),
        };
        let built = self.minimal(schema, &mut fuel);
        self.spend(self.limits.body_values - fuel.left);
        match built {
            Ok(value) => Ok(Some(value)),
            Err(Stop::Size) => Err(format!(
                "not probed: a minimal request body built from its schema would have more than {} values (a schema that `$ref`s another several times at many levels, or large `minItems`); give the media type an `example`",
                self.limits.body_values
            )),
            Err(Stop::Depth) => Err(format!(
                "not probed: the request body's schema nests more than {} levels (`$ref`s included); give the media type an `example`",
                self.limits.body_depth
            )),
        }
    }

    /// The smallest value `schema` accepts as far as can be told: required properties only,
    /// examples, defaults and enums first, then a value of its type. `$ref`s within the document
    /// are followed; a schema that refers to itself stops at the second visit (`null`, or an
    /// empty object or array). Every schema visited and every value copied spends `fuel`.
    fn minimal(&self, schema: &'d Value, fuel: &mut Fuel<'d>) -> Result<Value, Stop> {
        if fuel.depth >= self.limits.body_depth {
            return Err(Stop::Depth);
        }
        fuel.take(1)?;
        fuel.depth += 1;
        let value = self.minimal_here(schema, fuel);
        fuel.depth -= 1;
        value
    }

    fn minimal_here(&self, schema: &'d Value, fuel: &mut Fuel<'d>) -> Result<Value, Stop> {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            if fuel.seen.contains(&r) {
                return Ok(Value::Null);
            }
            fuel.take(text_cost(r))?;
            fuel.seen.push(r);
            let target = self.resolve(schema);
            let value = self.minimal(target, fuel);
            fuel.seen.pop();
            return value;
        }
        if let Some(v) = schema_example(schema) {
            if !cost(v, &mut fuel.left) {
                return Err(Stop::Size);
            }
            return Ok(v.clone());
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            let mut merged = Map::new();
            let mut other = None;
            for part in all {
                match self.minimal(part, fuel)? {
                    Value::Object(m) => merged.extend(m),
                    v => other = Some(v),
                }
            }
            merged.extend(self.object(schema, fuel)?);
            return Ok(match other {
                Some(v) if merged.is_empty() => v,
                _ => Value::Object(merged),
            });
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(first) = schema
                .get(key)
                .and_then(Value::as_array)
                .and_then(|a| a.first())
            {
                return self.minimal(first, fuel);
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
        Ok(match kind {
            "object" => Value::Object(self.object(schema, fuel)?),
            "array" => {
                let n = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
                let item = schema.get("items").unwrap_or(&NULL);
                let mut items = Vec::new();
                for _ in 0..n.min(8) {
                    items.push(self.minimal(item, fuel)?);
                }
                Value::Array(items)
            }
            "string" => {
                let text = string_for(schema);
                fuel.take(text_cost(&text))?;
                Value::String(text)
            }
            "integer" => number_for(schema, true),
            "number" => number_for(schema, false),
            "boolean" => Value::Bool(false),
            "null" => Value::Null,
            _ => Value::Object(Map::new()),
        })
    }

    /// The required properties of an object schema.
    fn object(&self, schema: &'d Value, fuel: &mut Fuel<'d>) -> Result<Map<String, Value>, Stop> {
        let mut out = Map::new();
        let properties = schema.get("properties").and_then(Value::as_object);
        let required = schema.get("required").and_then(Value::as_array);
        for name in required.into_iter().flatten().filter_map(Value::as_str) {
            fuel.take(text_cost(name))?;
            let property = properties.and_then(|p| p.get(name)).unwrap_or(&NULL);
            let value = self.minimal(property, fuel)?;
            out.insert(name.to_string(), value);
        }
        Ok(out)
    }
}

/// Counts `value` against `left` (one per value, plus [`text_cost`] of its text); false, with
/// `left` spent, when it costs more than `left`.
fn cost(value: &Value, left: &mut usize) -> bool {
    let mut take = |n: usize| match left.checked_sub(n) {
        Some(l) => {
            *left = l;
            true
        }
        None => {
            *left = 0;
            false
        }
    };
    fn walk(value: &Value, take: &mut dyn FnMut(usize) -> bool) -> bool {
        match value {
            Value::String(s) => take(1 + s.len() / 64),
            Value::Array(items) => take(1) && items.iter().all(|v| walk(v, take)),
            Value::Object(map) => {
                take(1) && map.iter().all(|(k, v)| take(k.len() / 64) && walk(v, take))
            }
            _ => take(1),
        }
    }
    walk(value, &mut take)
}

/// A string value's extra cost: one per 64 bytes, beyond the one every value costs.
fn text_cost(text: &str) -> usize {
    1 + text.len() / 64
}

/// The document's tree, from JSON when it starts with `{`, else from YAML (its `<<` merge keys
/// applied), counting every value and byte of text built against `limits` so that YAML aliases
/// cannot expand a small file into a huge tree.
fn read_tree(text: &str, limits: Limits) -> Result<Value, String> {
    let mut tally = Tally {
        values: 0,
        text: 0,
        limits,
        over: None,
    };
    let json = text.trim_start().starts_with('{');
    let tree = if json {
        let mut de = serde_json::Deserializer::from_str(text);
        Tree(&mut tally)
            .deserialize(&mut de)
            .and_then(|v| de.end().map(|()| v))
            .map_err(|e| format!("invalid JSON: {e}"))
    } else {
        Tree(&mut tally)
            .deserialize(serde_norway::Deserializer::from_str(text))
            .map_err(|e| format!("invalid YAML: {e}"))
    };
    if let Some(over) = tally.over {
        return Err(over);
    }
    let mut tree = tree?;
    if !json {
        merge_keys(&mut tree)?;
    }
    Ok(tree)
}

/// What parsing has built so far.
struct Tally {
    values: usize,
    text: usize,
    limits: Limits,
    /// The limit passed, when one was.
    over: Option<String>,
}

impl Tally {
    fn add<E: de::Error>(&mut self, text: usize) -> Result<(), E> {
        self.values += 1;
        self.text = self.text.saturating_add(text);
        let over = if self.values > self.limits.values {
            format!(
                "the document expands to more than {} values (YAML aliases repeating large nodes, or a document too large)",
                self.limits.values
            )
        } else if self.text > self.limits.text_bytes {
            format!(
                "the document expands to more than {} bytes of text (YAML aliases repeating long strings, or a document too large)",
                self.limits.text_bytes
            )
        } else {
            return Ok(());
        };
        self.over = Some(over.clone());
        Err(E::custom(over))
    }
}

/// Builds one value of the document, counting it.
struct Tree<'t>(&'t mut Tally);

impl<'de> DeserializeSeed<'de> for Tree<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Tree<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON or YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.0.add(0)?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.0.add(0)?;
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.0.add(0)?;
        Ok(Value::from(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        match i64::try_from(v) {
            Ok(v) => self.visit_i64(v),
            Err(_) => self.visit_f64(v as f64),
        }
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => self.visit_f64(v as f64),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.0.add(0)?;
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.0.add(v.len())?;
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.0.add(v.len())?;
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.0.add(0)?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.0.add(0)?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Tree(&mut *self.0))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.0.add(0)?;
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(Key(&mut *self.0))? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate key `{key}` (which one counts would be a guess)"
                )));
            }
            let value = map.next_value_seed(Tree(&mut *self.0))?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// A mapping's key, as text, counted.
struct Key<'t>(&'t mut Tally);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        self.0.add(v.len())?;
        Ok(v.to_string())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        self.0.add(v.len())?;
        Ok(v)
    }
}

/// Applies YAML `<<` merge keys (<https://yaml.org/type/merge.html>): the mapping, or each
/// mapping of a list, given to `<<` adds its keys the mapping does not have, earlier mappings of
/// the list winning. serde_norway leaves `<<` as an ordinary key when building a JSON tree, so
/// without this an operation whose `security` comes from a merge would look public. Merges inside
/// a merged mapping are applied first. Aliases were expanded (and counted) when parsing, so this
/// only moves values.
fn merge_keys(value: &mut Value) -> Result<(), String> {
    match value {
        Value::Array(items) => items.iter_mut().try_for_each(merge_keys),
        Value::Object(map) => {
            map.values_mut().try_for_each(merge_keys)?;
            let Some(merge) = map.remove("<<") else {
                return Ok(());
            };
            let sources = match merge {
                Value::Object(source) => vec![source],
                Value::Array(list) => list
                    .into_iter()
                    .map(|m| match m {
                        Value::Object(source) => Ok(source),
                        _ => Err(
                            "a `<<` merge key's list holds something other than a mapping"
                                .to_string(),
                        ),
                    })
                    .collect::<Result<_, _>>()?,
                _ => {
                    return Err(
                        "a `<<` merge key's value is neither a mapping nor a list of mappings"
                            .into(),
                    );
                }
            };
            for source in sources {
                for (k, v) in source {
                    map.entry(k).or_insert(v);
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SchemeKind {
    Bearer,
    Other,
}

fn scheme_kind(scheme: &Value) -> SchemeKind {
    let kind = scheme.get("type").and_then(Value::as_str).unwrap_or("");
    let bearer = match kind {
        "oauth2" | "openIdConnect" => true,
        "http" => scheme
            .get("scheme")
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("bearer")),
        _ => false,
    };
    if bearer {
        SchemeKind::Bearer
    } else {
        SchemeKind::Other
    }
}

/// A schema's own `example`, first `examples` entry (3.1), `default`, `const` or first `enum`.
fn schema_example(schema: &Value) -> Option<&Value> {
    if let Some(v) = schema.get("example") {
        return Some(v);
    }
    if let Some(v) = schema
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return Some(v);
    }
    for key in ["default", "const"] {
        if let Some(v) = schema.get(key) {
            return Some(v);
        }
    }
    schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
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
    let len = base.chars().count();
    if len.max(min) > max {
        return "x".repeat(min.max(max.min(1)));
    }
    let mut text = base.to_string();
    text.extend(std::iter::repeat_n('x', min.saturating_sub(len)));
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

    /// 30 levels of a schema whose two required properties `$ref` the next one (2^30 values), and
    /// 10 levels of arrays of 8 (8^10): each body stops at the budget, the small one is built.
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
        doc.push_str("    S30: {type: string}\n");
        for i in 0..10 {
            doc.push_str(&format!(
                "    A{i}: {{type: array, minItems: 8, items: {{$ref: \"#/components/schemas/A{}\"}}}}\n",
                i + 1
            ));
        }
        doc.push_str("    A10: {type: integer}\npaths:\n");
        for (path, schema) in [("/deep", "S0"), ("/wide", "A0"), ("/small", "S28")] {
            doc.push_str(&format!(
                "  {path}:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {{$ref: \"#/components/schemas/{schema}\"}}\n      responses: {{\"200\": {{description: ok}}}}\n"
            ));
        }
        doc
    }

    #[test]
    fn a_schema_reusing_one_ref_at_every_level_stops_at_the_body_budget() {
        let doc = Document::parse(&exponential_document()).expect("the document loads");
        let ops = doc.operations(&BTreeMap::new(), "http://127.0.0.1:9");
        let labels: Vec<String> = ops.iter().map(Operation::label).collect();
        assert_eq!(labels, ["POST /deep", "POST /small", "POST /wide"]);
        for op in [&ops[0], &ops[2]] {
            let why = op.request.as_ref().unwrap_err();
            assert!(
                why.starts_with("not probed: ")
                    && why.contains("more than 10000 values")
                    && why.contains("`example`"),
                "{}: {why}",
                op.label()
            );
        }
        assert_eq!(
            ops[1].request.as_ref().unwrap().body,
            Some(json!({"a": {"a": "string", "b": "string"}, "b": {"a": "string", "b": "string"}})),
            "a body within the budget is built as before"
        );
    }

    #[test]
    fn yaml_aliases_expanding_past_the_limits_are_refused() {
        // 2 000 values, repeated 1 100 times: 2.2 million values from 10 KB.
        let values = vec!["1"; 2000].join(", ");
        let uses = vec!["*a"; 1100].join(", ");
        let text = format!("openapi: 3.1.0\nx-a: &a [{values}]\nx-b: [{uses}]\npaths: {{}}\n");
        let why = Document::parse(&text).unwrap_err();
        assert!(
            why.contains("the document expands to more than 2000000 values (YAML aliases"),
            "{why}"
        );
        // One 64 KiB string, repeated 1 100 times: 70 MB of text.
        let long = "x".repeat(64 * 1024);
        let text = format!("openapi: 3.1.0\nx-a: &a {long}\nx-b: [{uses}]\npaths: {{}}\n");
        let why = Document::parse(&text).unwrap_err();
        assert!(
            why.contains("the document expands to more than 67108864 bytes of text (YAML aliases"),
            "{why}"
        );
    }

    #[test]
    fn a_file_over_16_mib_is_refused_before_it_is_parsed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.yaml");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(16 * 1024 * 1024 + 1).unwrap();
        let err = Document::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("huge.yaml")
                && err.contains("16777217 bytes")
                && err.contains("over the limit of 16777216 bytes (16 MiB)"),
            "{err}"
        );
    }

    #[test]
    fn yaml_merge_keys_are_applied_so_a_merged_security_is_kept() {
        let text = r##"
openapi: 3.0.3
components:
  securitySchemes:
    kinde: {type: http, scheme: bearer}
x-secured: &secured
  security: [{kinde: []}]
  x-kinde-permissions: [read:orders]
x-public: &public
  security: []
paths:
  /orders:
    get:
      <<: *secured
      responses: {"200": {description: ok}}
    put:
      <<: [*public, *secured]
      responses: {"200": {description: ok}}
    post:
      <<: *secured
      security: []
      responses: {"200": {description: ok}}
"##;
        let ops = Document::parse(text)
            .unwrap()
            .operations(&BTreeMap::new(), "http://127.0.0.1:9");
        let secured = Access::Bearer {
            permissions: vec!["read:orders".into()],
            any_of: vec!["read:orders".into()],
        };
        assert_eq!(ops[0].label(), "GET /orders");
        assert_eq!(ops[0].access, secured, "the merged `security`");
        assert_eq!(ops[1].label(), "PUT /orders");
        assert!(
            matches!(&ops[1].access, Access::Public(_)),
            "the earlier mapping of a merged list wins: {:?}",
            ops[1].access
        );
        assert_eq!(ops[2].label(), "POST /orders");
        assert!(
            matches!(&ops[2].access, Access::Public(_)),
            "the mapping's own key wins over a merged one: {:?}",
            ops[2].access
        );
        let why =
            Document::parse("openapi: 3.0.3\npaths:\n  /a:\n    get:\n      <<: 1\n").unwrap_err();
        assert!(why.contains("`<<`"), "{why}");
    }

    #[test]
    fn a_key_given_twice_is_refused() {
        let text = "openapi: 3.0.3\npaths:\n  /a:\n    get:\n      security: [{kinde: []}]\n      security: []\n";
        let why = Document::parse(text).unwrap_err();
        assert!(why.contains("duplicate key `security`"), "{why}");
        let why = Document::parse(r#"{"openapi": "3.0.3", "openapi": "3.1.0"}"#).unwrap_err();
        assert!(why.contains("duplicate key `openapi`"), "{why}");
    }

    #[test]
    fn references_that_cannot_be_followed_are_named_not_dropped() {
        let head = "openapi: 3.1.0\ncomponents:\n  securitySchemes:\n    kinde: {type: http, scheme: bearer}\n    split: {$ref: 'schemes.yaml#/kinde'}\npaths:\n";
        let why = |paths: &str| Document::parse(&format!("{head}{paths}")).unwrap_err();
        let e = why("  /orders: {$ref: 'paths/orders.yaml'}\n");
        assert!(
            e.contains("`paths./orders` is `$ref: paths/orders.yaml`, a reference to another file"),
            "{e}"
        );
        assert!(e.contains("bundle it first"), "{e}");
        let e = why("  /orders:\n    get: {$ref: 'ops.yaml#/list'}\n");
        assert!(
            e.contains("`paths./orders.get` is `$ref: ops.yaml#/list`"),
            "{e}"
        );
        let e = why("  /orders:\n    get: {$ref: '#/x-missing'}\n");
        assert!(e.contains("points at nothing in the document"), "{e}");
        let e = why("  /orders:\n    get: {security: [{split: []}], responses: {}}\n");
        assert!(
            e.contains("`components.securitySchemes.split` is `$ref: schemes.yaml#/kinde`"),
            "{e}"
        );
        // A percent-encoded pointer is followed (`~1` for `/`, `%7B` for `{`).
        let ok = Document::parse(&format!(
            "{head}  /orders/{{id}}:\n    get: {{security: [{{kinde: []}}], responses: {{}}}}\n  /o/{{id}}: {{$ref: '#/paths/~1orders~1%7Bid%7D'}}\n"
        ))
        .unwrap();
        assert_eq!(
            ok.operations(&BTreeMap::new(), "http://127.0.0.1:9").len(),
            2
        );
        // A local reference still works.
        let ok = Document::parse(&format!(
            "{head}  /orders: {{$ref: '#/x-item'}}\nx-item:\n  get: {{security: [{{kinde: [read:orders]}}], responses: {{}}}}\n"
        ))
        .unwrap();
        assert_eq!(
            ok.operations(&BTreeMap::new(), "http://127.0.0.1:9").len(),
            1
        );
    }

    #[test]
    fn operations_sharing_large_security_or_parameters_stop_at_the_work_limit() {
        let small = Limits {
            work: 20_000,
            ..Limits::DEFAULT
        };
        // 200 operations under a document-wide security of 100 alternatives.
        let mut shared_security = String::from(
            "openapi: 3.1.0\ncomponents:\n  securitySchemes:\n    kinde: {type: http, scheme: bearer}\nsecurity:\n",
        );
        for i in 0..100 {
            shared_security.push_str(&format!("  - kinde: [p{i}, q{i}]\n"));
        }
        shared_security.push_str("paths:\n");
        for i in 0..200 {
            shared_security.push_str(&format!("  /a{i}: {{get: {{}}}}\n"));
        }
        // 100 paths that `$ref` one path item of 200 parameters.
        let mut shared_item = String::from("openapi: 3.1.0\nx-item:\n  get: {}\n  parameters:\n");
        for i in 0..200 {
            shared_item.push_str(&format!(
                "    - {{name: q{i}, in: query, required: true, example: {i}}}\n"
            ));
        }
        shared_item.push_str("paths:\n");
        for i in 0..100 {
            shared_item.push_str(&format!("  /b{i}: {{$ref: \"#/x-item\"}}\n"));
        }
        for text in [&shared_security, &shared_item] {
            let why = Document::parse_with(text, small).unwrap_err();
            assert!(
                why.contains("listing its operations takes more than 20000 steps"),
                "{why}"
            );
            let ops = Document::parse(text)
                .expect("within the default limits")
                .operations(&BTreeMap::new(), "http://127.0.0.1:9");
            assert!(ops.len() >= 100 && ops.iter().all(|o| o.request.is_ok()));
        }
    }

    #[test]
    fn a_schema_nesting_past_the_depth_limit_is_not_built() {
        let mut doc = String::from("openapi: 3.1.0\ncomponents:\n  schemas:\n");
        for i in 0..70 {
            doc.push_str(&format!(
                "    D{i}: {{type: object, required: [n], properties: {{n: {{$ref: \"#/components/schemas/D{}\"}}}}}}\n",
                i + 1
            ));
        }
        doc.push_str("    D70: {type: string}\npaths:\n  /d:\n    post:\n      requestBody: {content: {application/json: {schema: {$ref: \"#/components/schemas/D0\"}}}}\n");
        let ops = Document::parse(&doc)
            .unwrap()
            .operations(&BTreeMap::new(), "http://127.0.0.1:9");
        let why = ops[0].request.as_ref().unwrap_err();
        assert!(why.contains("nests more than 64 levels"), "{why}");
    }
}
