//! An operation's success answer built from its shape in the operation table: stored data is
//! cut to the fields the spec declares, with values of the declared type, and every required
//! field present. So a generic answer is on the spec's schema whatever was stored.

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
    fn every_shape_in_the_table_parses() {
        for op in kinde::operations::OPERATIONS
            .iter()
            .filter(|o| !o.response.is_empty())
        {
            assert!(of(op).is_some(), "{} {}", op.method, op.path);
        }
    }
}
