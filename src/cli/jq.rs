//! `api --jq EXPR`: a jq filter over the answer, as `gh api --jq`, evaluated by jaq (a jq
//! written in Rust, so nothing to install).

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;
use serde_json::Value;

use crate::error::Error;

/// A compiled jq filter.
pub struct Filter {
    expr: String,
    filter: jaq_core::Filter<data::JustLut<Val>>,
}

/// What a filter printed: a string as its raw text (as `gh api --jq` prints strings), anything
/// else as JSON.
#[derive(Debug, PartialEq)]
pub enum Output {
    /// A string, printed without quotes.
    Text(String),
    /// Any other value.
    Json(Value),
}

/// Compile `expr`; a mistake is an input error naming the expression and where in it.
pub fn compile(expr: &str) -> Result<Filter, Error> {
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let arena = Arena::default();
    let file = File {
        code: expr,
        path: (),
    };
    let modules = Loader::new(defs).load(&arena, file).map_err(|errors| {
        let problems: Vec<String> = errors
            .into_iter()
            .flat_map(|(_, e)| match e {
                jaq_core::load::Error::Io(list) => list
                    .into_iter()
                    .map(|(at, why)| at_position(expr, at, &why))
                    .collect::<Vec<_>>(),
                jaq_core::load::Error::Lex(list) => list
                    .into_iter()
                    .map(|(want, at)| at_position(expr, at, &format!("expected {}", want.as_str())))
                    .collect(),
                jaq_core::load::Error::Parse(list) => list
                    .into_iter()
                    .map(|(want, at)| at_position(expr, at, &format!("expected {}", want.as_str())))
                    .collect(),
            })
            .collect();
        invalid(expr, &problems)
    })?;
    let filter = jaq_core::Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errors| {
            let problems: Vec<String> = errors
                .into_iter()
                .flat_map(|(_, list)| list)
                .map(|(name, what)| {
                    at_position(expr, name, &format!("undefined {} `{name}`", what.as_str()))
                })
                .collect();
            invalid(expr, &problems)
        })?;
    Ok(Filter {
        expr: expr.to_string(),
        filter,
    })
}

impl Filter {
    /// Run the filter on `input`: every output, or the first error (which names the expression).
    pub fn run(&self, input: Value) -> Result<Vec<Output>, Error> {
        let input: Val = serde_json::from_value(input).map_err(|e| {
            Error::input(format!(
                "--jq `{}`: the answer cannot be filtered: {e}",
                self.expr
            ))
        })?;
        let ctx = Ctx::<data::JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
        let mut out = Vec::new();
        for value in self.filter.id.run((ctx, input)).map(unwrap_valr) {
            let value = value.map_err(|e| {
                Error::input(format!("--jq `{}`: {e}", self.expr)).with_hint(
                    "the expression does not fit the answer's shape; run without --jq to see it",
                )
            })?;
            out.push(match value {
                Val::TStr(_) => Output::Text(crate::net::server_text(&display_text(&value))),
                other => {
                    let text = other.to_string();
                    serde_json::from_str(&text).map_or(Output::Text(text), Output::Json)
                }
            });
        }
        Ok(out)
    }
}

/// A text string's characters, without the quotes and escapes its JSON form has.
fn display_text(value: &Val) -> String {
    let json = value.to_string();
    serde_json::from_str::<String>(&json).unwrap_or(json)
}

/// `why`, and the column of `at` (a slice of `expr`) when it lies inside it.
fn at_position(expr: &str, at: &str, why: &str) -> String {
    let start = expr.as_ptr() as usize;
    let offset = (at.as_ptr() as usize).wrapping_sub(start);
    if offset <= expr.len() {
        let column = expr[..offset].chars().count() + 1;
        let found = if at.is_empty() {
            "the end".to_string()
        } else {
            format!("`{at}`")
        };
        format!("{why} at column {column} (found {found})")
    } else {
        why.to_string()
    }
}

fn invalid(expr: &str, problems: &[String]) -> Error {
    Error::input(format!(
        "--jq `{expr}` is not a valid jq expression: {}",
        problems.join("; ")
    ))
    .with_hint("e.g. --jq '.users[].email' (jq's syntax: https://jqlang.org/manual/)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_lists_and_prints_strings_raw() {
        let answer = json!({"users": [{"email": "a@x.io", "n": 1}, {"email": "b@x.io", "n": 2}]});
        let out = compile(".users[].email")
            .unwrap()
            .run(answer.clone())
            .unwrap();
        assert_eq!(
            out,
            [Output::Text("a@x.io".into()), Output::Text("b@x.io".into())]
        );
        let out = compile("[.users[] | select(.n > 1) | .n]")
            .unwrap()
            .run(answer)
            .unwrap();
        assert_eq!(out, [Output::Json(json!([2]))]);
        let out = compile("\"a\\tb\"").unwrap().run(json!(null)).unwrap();
        assert_eq!(out, [Output::Text("a\tb".into())]);
    }

    #[test]
    fn a_bad_expression_names_where() {
        let e = compile(".users[").err().unwrap();
        assert!(e.to_string().starts_with("--jq `.users[`"), "{e}");
        assert!(e.to_string().contains("column"), "{e}");
        assert_eq!(e.exit_code(), crate::error::exit::INPUT);
        let e = compile("nosuchfn").err().unwrap();
        assert!(e.to_string().contains("undefined"), "{e}");
        let e = compile(".a").unwrap().run(json!("text")).err().unwrap();
        assert!(e.to_string().contains("--jq `.a`"), "{e}");
    }
}
