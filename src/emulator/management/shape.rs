//! An operation's shapes in the operation table. Its success answer is built from one: stored
//! data is cut to the fields the spec declares, with values of the declared type, and every
//! required field present, so a generic answer is on the spec's schema whatever was stored. Its
//! request body is checked against the other ([`check`]).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::kinde;

/// The parsed shape of `operation`'s success answer (`None`: no JSON body).
pub(super) fn of(operation: &'static kinde::operations::Operation) -> Option<&'static Value> {
    static SHAPES: OnceLock<HashMap<(&'static str, &'static str), Value>> = OnceLock::new();
    let shapes = SHAPES.get_or_init(|| {
        kinde::operations::OPERATIONS
            .iter()
            .filter_map(|o| {
                let shape = serde_json::from_str(o.response).ok()?;
                Some(((o.method, o.path), shape))
            })
            .collect()
    });
    shapes.get(&(operation.method, operation.path))
}

/// The parsed shape of `operation`'s JSON request body (`None`: it takes none, or not JSON).
pub(super) fn request_of(
    operation: &'static kinde::operations::Operation,
) -> Option<&'static Value> {
    static SHAPES: OnceLock<HashMap<(&'static str, &'static str), Value>> = OnceLock::new();
    let shapes = SHAPES.get_or_init(|| {
        kinde::operations::OPERATIONS
            .iter()
            .filter_map(|o| {
                let shape = serde_json::from_str(o.request).ok()?;
                Some(((o.method, o.path), shape))
            })
            .collect()
    });
    shapes.get(&(operation.method, operation.path))
}

/// Why `value`, found at `at` (`name`, `list[0]`, `outer.inner`; empty for the whole body),
/// breaks `shape`: a value of another type, one outside the spec's list, a required field
/// missing. Fields the spec does not declare are let through, as Kinde ignores them; an
/// optional field sent as `null` counts as absent.
pub(super) fn check(shape: &Value, value: &Value, at: &str) -> Result<(), String> {
    let named = |at: &str| {
        if at.is_empty() {
            "the request body".to_string()
        } else {
            format!("`{at}`")
        }
    };
    if value.is_null() {
        return if shape.get("z").is_some() || kind(shape).is_empty() {
            Ok(())
        } else {
            Err(format!("{} must not be null", named(at)))
        };
    }
    let expected = match (kind(shape), value) {
        ("o", Value::Object(fields)) => {
            for (name, sub) in properties(shape) {
                let here = if at.is_empty() {
                    name.clone()
                } else {
                    format!("{at}.{name}")
                };
                match fields.get(name) {
                    Some(Value::Null) | None if required(shape, name) => {
                        return Err(format!("`{here}` is required"));
                    }
                    Some(Value::Null) | None => {}
                    Some(v) => check(sub, v, &here)?,
                }
            }
            return Ok(());
        }
        ("a", Value::Array(items)) => {
            if let Some(item) = shape.get("i") {
                for (n, v) in items.iter().enumerate() {
                    check(item, v, &format!("{at}[{n}]"))?;
                }
            }
            return Ok(());
        }
        ("s", Value::String(s)) => match shape.get("e").and_then(Value::as_array) {
            Some(allowed) if !allowed.iter().any(|a| a.as_str() == Some(s)) => {
                let listed: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
                return Err(format!(
                    "{} must be one of {}; `{s}` is not",
                    named(at),
                    listed.join(", ")
                ));
            }
            _ => return Ok(()),
        },
        ("i", Value::Number(n)) if n.is_i64() || n.is_u64() => return Ok(()),
        ("n", Value::Number(_)) | ("b", Value::Bool(_)) | ("", _) => return Ok(()),
        ("o", _) => "an object",
        ("a", _) => "a list",
        ("s", _) => "a string",
        ("i", _) => "an integer",
        ("n", _) => "a number",
        _ => "true or false",
    };
    let given = match value {
        Value::Object(_) => "an object",
        Value::Array(_) => "a list",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
    };
    Err(format!("{} must be {expected}, not {given}", named(at)))
}

/// The kind letter of a shape (`o`, `a`, `s`, `i`, `n`, `b`, or empty for any).
pub(super) fn kind(shape: &Value) -> &str {
    shape.get("t").and_then(Value::as_str).unwrap_or("")
}

/// The declared properties of an object shape.
pub(super) fn properties(shape: &Value) -> impl Iterator<Item = (&String, &Value)> {
    shape
        .get("p")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

fn required(shape: &Value, name: &str) -> bool {
    shape
        .get("r")
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|n| n.as_str() == Some(name)))
}

/// `data` as `shape` allows it; `None` when it cannot be (wrong type, null where not allowed).
pub(super) fn fill(shape: &Value, data: &Value) -> Option<Value> {
    if data.is_null() {
        return shape.get("z").is_some().then_some(Value::Null);
    }
    match (kind(shape), data) {
        ("o", Value::Object(map)) if shape.get("p").is_some() => {
            let mut out = Map::new();
            for (name, sub) in properties(shape) {
                let value = map.get(name).and_then(|v| fill(sub, v));
                match value {
                    Some(v) => {
                        out.insert(name.clone(), v);
                    }
                    None if required(shape, name) => {
                        out.insert(name.clone(), default(sub));
                    }
                    None => {}
                }
            }
            Some(Value::Object(out))
        }
        // An object the spec leaves open: the stored fields, less the emulator's own.
        ("o", Value::Object(map)) => Some(Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with('_'))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )),
        ("a", Value::Array(items)) => {
            let item = shape.get("i").unwrap_or(&Value::Null);
            Some(Value::Array(
                items
                    .iter()
                    .filter_map(|v| {
                        if item.is_null() {
                            Some(v.clone())
                        } else {
                            fill(item, v)
                        }
                    })
                    .collect(),
            ))
        }
        ("s", Value::String(s)) => match shape.get("e").and_then(Value::as_array) {
            Some(allowed) if !allowed.iter().any(|a| a.as_str() == Some(s)) => None,
            _ => Some(data.clone()),
        },
        ("i", Value::Number(n)) if n.is_i64() || n.is_u64() => Some(data.clone()),
        ("n", Value::Number(_)) | ("b", Value::Bool(_)) | ("", _) => Some(data.clone()),
        _ => None,
    }
}

/// The emptiest value `shape` allows: an object with its required fields, `[]`, the first
/// allowed string, 0, false.
pub(super) fn default(shape: &Value) -> Value {
    match kind(shape) {
        "o" => fill(shape, &Value::Object(Map::new())).unwrap_or(Value::Object(Map::new())),
        "a" => Value::Array(Vec::new()),
        "s" => shape
            .get("e")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
            .cloned()
            .unwrap_or_else(|| Value::String(String::new())),
        "i" | "n" => Value::from(0),
        "b" => Value::Bool(false),
        _ => Value::String(String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_is_cut_to_the_shape() {
        let shape = json!({"t":"o","p":{
            "id":{"t":"s"},
            "count":{"t":"i"},
            "mode":{"t":"s","e":["off","on"]},
            "tags":{"t":"a","i":{"t":"s"}},
            "note":{"t":"s","z":1},
            "owner":{"t":"o","p":{"id":{"t":"s"}},"r":["id"]}
        },"r":["id","mode","owner"]});
        let data = json!({"count":1.5,"mode":"sideways","tags":["a",2],"note":null,"secret":"x"});
        assert_eq!(
            fill(&shape, &data).unwrap(),
            json!({"id":"","mode":"off","tags":["a"],"note":null,"owner":{"id":""}})
        );
        assert_eq!(fill(&json!({"t":"s"}), &json!(3)), None);
        assert_eq!(
            fill(&json!({"t":"o"}), &json!({"a":1,"_parent":"x"})),
            Some(json!({"a":1}))
        );
    }

    #[test]
    fn a_request_is_checked_against_its_shape_naming_the_field() {
        let shape = json!({"t":"o","p":{
            "name":{"t":"s"},
            "kind":{"t":"s","e":["a","b"]},
            "count":{"t":"i"},
            "tags":{"t":"a","i":{"t":"s"}},
            "owner":{"t":"o","p":{"id":{"t":"s"},"note":{"t":"s","z":1}},"r":["id"]},
            "any":{"t":""}
        },"r":["name"]});
        let ok = json!({"name":"n","kind":"b","count":3,"tags":["x"],"owner":{"id":"i","note":null},
            "any":[1],"undeclared":true,"tags_null":null});
        assert_eq!(check(&shape, &ok, ""), Ok(()));
        assert_eq!(check(&shape, &json!({"name":"n","count":null}), ""), Ok(()));
        for (body, named) in [
            (json!({}), "`name` is required"),
            (json!({"name":null}), "`name` is required"),
            (json!({"name":1}), "`name` must be a string, not a number"),
            (
                json!({"name":"n","kind":"c"}),
                "`kind` must be one of a, b; `c` is not",
            ),
            (
                json!({"name":"n","count":1.5}),
                "`count` must be an integer",
            ),
            (
                json!({"name":"n","tags":"x"}),
                "`tags` must be a list, not a string",
            ),
            (
                json!({"name":"n","tags":["x",2]}),
                "`tags[1]` must be a string",
            ),
            (json!({"name":"n","owner":{}}), "`owner.id` is required"),
            (
                json!({"name":"n","owner":{"id":true}}),
                "`owner.id` must be a string",
            ),
            (json!([1]), "the request body must be an object, not a list"),
        ] {
            let refused = check(&shape, &body, "").unwrap_err();
            assert!(refused.starts_with(named), "{body}: {refused}");
        }
    }

    #[test]
    fn every_shape_in_the_table_parses() {
        for op in kinde::operations::OPERATIONS
            .iter()
            .filter(|o| !o.response.is_empty())
        {
            assert!(of(op).is_some(), "{} {}", op.method, op.path);
        }
        for op in kinde::operations::OPERATIONS
            .iter()
            .filter(|o| !o.request.is_empty())
        {
            assert!(request_of(op).is_some(), "{} {}", op.method, op.path);
        }
    }
}
