//! `cargo xtask codegen [--check]`: the table of Management API operations (method, path,
//! operation id, required scope, and what a generic handler needs: success status, path
//! parameters, required query parameters and body fields, the request body's and the success
//! response's shapes) generated from Kinde's OpenAPI spec, so the binary never needs the spec
//! at run time. `--check` fails when the checked-in file is stale.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_norway::Value;

/// The spec kept in the repository (`spec/`, with Kinde's MIT notice), or `KINDE_SPEC` to try a
/// newer one.
pub fn spec_path() -> PathBuf {
    std::env::var_os("KINDE_SPEC")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::root().join("spec/kinde-management-api.yaml"))
}

/// The generated file.
pub fn output_path() -> PathBuf {
    crate::root().join("src/kinde/operations.rs")
}

pub fn run(check: bool) -> Result<(), String> {
    let spec = spec_path();
    let text = std::fs::read_to_string(&spec)
        .map_err(|e| format!("cannot read {}: {e} (set KINDE_SPEC)", spec.display()))?;
    let generated = generate(&text)?;
    let out = output_path();
    let current = std::fs::read_to_string(&out).unwrap_or_default();
    if check {
        if current != generated {
            return Err(format!(
                "{} is stale: run `cargo xtask codegen`",
                out.display()
            ));
        }
        eprintln!("==> codegen --check: {} is up to date", out.display());
        return Ok(());
    }
    std::fs::write(&out, generated).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

pub fn generate(spec_text: &str) -> Result<String, String> {
    let spec: Value =
        serde_norway::from_str(spec_text).map_err(|e| format!("spec is not YAML: {e}"))?;
    let paths = spec
        .get("paths")
        .and_then(Value::as_mapping)
        .ok_or("spec has no `paths`")?;
    let mut ops = Vec::new();
    for (path, item) in paths {
        let path = path.as_str().ok_or("non-string path")?;
        let Some(item) = item.as_mapping() else {
            continue;
        };
        let shared_params = item.get("parameters");
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let id = op.get("operationId").and_then(Value::as_str).unwrap_or("");
            // Most operations name their scope in `x-scope`; the rest only in the description,
            // as `<code>read:users</code>`.
            let scope = op
                .get("x-scope")
                .and_then(Value::as_str)
                .map(String::from)
                .or_else(|| {
                    op.get("description")
                        .and_then(Value::as_str)
                        .and_then(scope_in_description)
                });
            let params: Vec<&Value> = [shared_params, op.get("parameters")]
                .into_iter()
                .flatten()
                .filter_map(Value::as_sequence)
                .flatten()
                .map(|p| resolve(&spec, p))
                .collect();
            let named = |place: &str, required_only: bool| -> Vec<String> {
                params
                    .iter()
                    .filter(|p| p.get("in").and_then(Value::as_str) == Some(place))
                    .filter(|p| {
                        !required_only || p.get("required").and_then(Value::as_bool) == Some(true)
                    })
                    .filter_map(|p| p.get("name").and_then(Value::as_str).map(String::from))
                    .collect()
            };
            // In path order, whatever order the spec lists them in.
            let mut path_params = named("path", false);
            path_params.sort_by_key(|name| path.find(&format!("{{{name}}}")));
            let body = op.get("requestBody").map(|b| resolve(&spec, b));
            let body_schema = body.and_then(|b| json_schema(&spec, b));
            let request = body_schema
                .map(|schema| shape(&spec, schema, 0, Side::Request))
                .unwrap_or_default();
            let body_required = body_schema
                .map(|s| resolve(&spec, s))
                .and_then(|s| s.get("required"))
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
            let (status, response) = success(&spec, op);
            ops.push(Row {
                path: path.to_string(),
                method: method.to_uppercase(),
                id: id.to_string(),
                scope,
                status,
                path_params,
                query: named("query", true),
                body: body
                    .and_then(|b| b.get("required"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                body_required,
                request,
                response,
            });
        }
    }
    ops.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
    let mut out = String::from(
        "// @generated by `cargo xtask codegen` from Kinde's Management API OpenAPI spec.\n// Do not edit: `cargo xtask codegen --check` (part of `cargo xtask ci`) fails when stale.\n\n/// The type of each row, named here so code allowed only this module can use it.\npub use super::Operation;\n\n/// Every Management API operation, sorted by path then method.\npub const OPERATIONS: &[Operation] = &[\n",
    );
    for row in &ops {
        if row.response.contains("\"#") || row.request.contains("\"#") {
            return Err(format!(
                "{} {}: a property name the raw string cannot hold",
                row.method, row.path
            ));
        }
        let scope = row
            .scope
            .as_ref()
            .map_or("None".to_string(), |s| format!("Some({s:?})"));
        let list = |names: &[String]| {
            let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
            format!("&[{}]", quoted.join(", "))
        };
        let _ = writeln!(
            out,
            "    Operation {{ method: {:?}, path: {:?}, id: {:?}, scope: {scope}, status: {}, path_params: {}, query: {}, body: {}, body_required: {}, request: r#\"{}\"#, response: r#\"{}\"# }},",
            row.method,
            row.path,
            row.id,
            row.status,
            list(&row.path_params),
            list(&row.query),
            row.body,
            list(&row.body_required),
            row.request,
            row.response,
        );
    }
    out.push_str("];\n");
    Ok(out)
}

/// One operation as generated.
struct Row {
    path: String,
    method: String,
    id: String,
    scope: Option<String>,
    status: u16,
    path_params: Vec<String>,
    query: Vec<String>,
    body: bool,
    body_required: Vec<String>,
    request: String,
    response: String,
}

/// Which side of an operation a shape describes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// A request body: the emulator refuses what breaks it, so a choice (`oneOf`, `anyOf`)
    /// takes anything rather than only its first option.
    Request,
    /// A success answer: the emulator builds one, so a choice is its first option.
    Response,
}

/// What `$ref` points at (to any depth), or `node` itself.
fn resolve<'a>(spec: &'a Value, node: &'a Value) -> &'a Value {
    let mut node = node;
    for _ in 0..16 {
        let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
            return node;
        };
        let mut target = spec;
        for part in reference.trim_start_matches("#/").split('/') {
            target = &target[part];
        }
        node = target;
    }
    node
}

/// The JSON schema of a request body or response.
fn json_schema<'a>(spec: &'a Value, holder: &'a Value) -> Option<&'a Value> {
    let content = resolve(spec, holder).get("content")?;
    content
        .get("application/json")
        .or_else(|| content.get("application/json; charset=utf-8"))
        .and_then(|c| c.get("schema"))
}

/// The first 2xx status and its response shape (`""` when it has no JSON body).
fn success(spec: &Value, op: &Value) -> (u16, String) {
    let Some(responses) = op.get("responses").and_then(Value::as_mapping) else {
        return (200, String::new());
    };
    let mut statuses: Vec<(u16, &Value)> = responses
        .iter()
        .filter_map(|(code, response)| {
            let code = match code {
                Value::String(s) => s.parse().ok()?,
                Value::Number(n) => u16::try_from(n.as_u64()?).ok()?,
                _ => return None,
            };
            (200..300).contains(&code).then_some((code, response))
        })
        .collect();
    statuses.sort_by_key(|(code, _)| *code);
    let Some((status, response)) = statuses.first() else {
        return (200, String::new());
    };
    let shape = json_schema(spec, response)
        .map(|schema| shape(spec, schema, 0, Side::Response))
        .unwrap_or_default();
    (*status, shape)
}

/// A schema reduced to what an answer's shape needs, as compact JSON: `{"t":"o","p":{..},
/// "r":[..]}` (object, properties, required), `{"t":"a","i":..}` (array, items),
/// `{"t":"s","e":[..]}` (string, its allowed values), `{"t":"i"|"n"|"b"}`; `"z":1` when nullable.
fn shape(spec: &Value, schema: &Value, depth: usize, side: Side) -> String {
    let schema = resolve(spec, schema);
    // `oneOf` / `anyOf`: the first choice (any value in a request); `allOf`: its parts'
    // properties together.
    if let Some(first) = ["oneOf", "anyOf"]
        .iter()
        .find_map(|k| schema.get(*k).and_then(Value::as_sequence)?.first())
    {
        return match side {
            Side::Response => shape(spec, first, depth, side),
            Side::Request => "{\"t\":\"\"}".to_string(),
        };
    }
    let parts: Vec<&Value> = match schema.get("allOf").and_then(Value::as_sequence) {
        Some(parts) => parts.iter().map(|p| resolve(spec, p)).collect(),
        None => vec![schema],
    };
    let ty = parts
        .iter()
        .find_map(|p| p.get("type").and_then(Value::as_str))
        .unwrap_or(if parts.iter().any(|p| p.get("properties").is_some()) {
            "object"
        } else {
            ""
        });
    let nullable = parts
        .iter()
        .any(|p| p.get("nullable").and_then(Value::as_bool) == Some(true));
    let mut out = String::from("{");
    let kind = match ty {
        "object" => "o",
        "array" => "a",
        "string" => "s",
        "integer" => "i",
        "number" => "n",
        "boolean" => "b",
        _ => "",
    };
    let _ = write!(out, "\"t\":\"{kind}\"");
    if nullable {
        out.push_str(",\"z\":1");
    }
    // Deep enough for every answer in the spec; a cycle stops here as an empty object.
    if depth < 8 {
        match kind {
            "o" => {
                let mut props = Vec::new();
                let mut required = Vec::new();
                for part in &parts {
                    for (name, prop) in part
                        .get("properties")
                        .and_then(Value::as_mapping)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(name) = name.as_str() {
                            props.push(format!(
                                "{}:{}",
                                json_string(name),
                                shape(spec, prop, depth + 1, side)
                            ));
                        }
                    }
                    required.extend(
                        part.get("required")
                            .and_then(Value::as_sequence)
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .map(json_string),
                    );
                }
                if !props.is_empty() {
                    let _ = write!(out, ",\"p\":{{{}}}", props.join(","));
                }
                if !required.is_empty() {
                    let _ = write!(out, ",\"r\":[{}]", required.join(","));
                }
            }
            "a" => {
                if let Some(items) = schema.get("items") {
                    let _ = write!(out, ",\"i\":{}", shape(spec, items, depth + 1, side));
                }
            }
            "s" => {
                let allowed: Vec<String> = schema
                    .get("enum")
                    .and_then(Value::as_sequence)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(json_string)
                    .collect();
                if !allowed.is_empty() {
                    let _ = write!(out, ",\"e\":[{}]", allowed.join(","));
                }
            }
            _ => {}
        }
    }
    out.push('}');
    out
}

/// `text` as a JSON string.
fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The first `<code>verb:object</code>` in an operation's description.
fn scope_in_description(text: &str) -> Option<String> {
    text.split("<code>").skip(1).find_map(|rest| {
        let code = rest.split("</code>").next()?.trim();
        let (verb, object) = code.split_once(':')?;
        let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        (word(verb) && word(object)).then(|| code.to_string())
    })
}

#[cfg(test)]
mod tests {
    /// A stale generated file fails `cargo test`, not only `cargo xtask ci`.
    #[test]
    fn generated_operations_are_fresh() {
        let spec = super::spec_path();
        let Ok(text) = std::fs::read_to_string(&spec) else {
            panic!(
                "the spec is needed to check the generated file: {} (set KINDE_SPEC)",
                spec.display()
            );
        };
        let current = std::fs::read_to_string(super::output_path()).unwrap_or_default();
        assert!(
            super::generate(&text).unwrap() == current,
            "src/kinde/operations.rs is stale: run `cargo xtask codegen`"
        );
    }
}
