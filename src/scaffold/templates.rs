//! The embedded templates and the one minijinja environment that renders them: strict about
//! undefined variables (a typo is an error, not an empty string), with filters that write a value
//! in the syntax of the file it lands in.

use std::sync::OnceLock;

use include_dir::{Dir, include_dir};
use minijinja::{Environment, UndefinedBehavior, Value};

use crate::error::Error;

static TEMPLATES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// `kinde.toml`.
pub const KINDE_TOML: &str = "kinde.toml.j2";
/// `.env.example`.
pub const ENV_EXAMPLE: &str = "env.example.j2";
/// `xtask/Cargo.toml`.
pub const XTASK_MANIFEST: &str = "xtask/Cargo.toml.j2";
/// `xtask/src/main.rs`.
pub const XTASK_MAIN: &str = "xtask/main.rs.j2";
/// `.github/workflows/kinde-smoke.yml`.
pub const GITHUB_WORKFLOW: &str = "github-workflow.yml.j2";
/// `.gitlab/kinde-smoke.yml`.
pub const GITLAB_CI: &str = "gitlab-ci.yml.j2";

const ALL: [&str; 6] = [
    KINDE_TOML,
    ENV_EXAMPLE,
    XTASK_MANIFEST,
    XTASK_MAIN,
    GITHUB_WORKFLOW,
    GITLAB_CI,
];

/// Render the template `name` with `context`.
pub fn render(name: &str, context: Value) -> Result<String, Error> {
    let env = environment()?;
    env.get_template(name)
        .and_then(|t| t.render(context))
        .map_err(|e| Error::input(format!("cannot render {name}: {e:#}")))
}

/// The environment, built once: every template is parsed the first time one is rendered.
fn environment() -> Result<&'static Environment<'static>, Error> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(build)
        .as_ref()
        .map_err(|e| Error::input(format!("the templates of this build are broken: {e}")))
}

fn build() -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
        .map_err(|e| e.to_string())?;
    env.set_syntax(syntax);
    env.add_filter("toml", toml);
    env.add_filter("dotenv", dotenv);
    env.add_filter("yaml", yaml);
    for name in ALL {
        let source = TEMPLATES
            .get_file(name)
            .and_then(|f| f.contents_utf8())
            .ok_or_else(|| format!("{name} is missing"))?;
        env.add_template(name, source)
            .map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(env)
}

/// `{{ value | toml }}`: a string, number, boolean or list of them as a TOML value (strings
/// quoted and escaped), so a name such as `Orders "v2"` keeps the file valid.
fn toml(value: Value) -> Result<String, minijinja::Error> {
    to_toml(&value).map(|v| v.to_string().trim().to_string())
}

fn to_toml(value: &Value) -> Result<toml_edit::Value, minijinja::Error> {
    use minijinja::value::ValueKind;
    let unsupported = || {
        minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("the toml filter cannot write {value:?}"),
        )
    };
    Ok(match value.kind() {
        ValueKind::String => toml_edit::Value::from(value.as_str().unwrap_or_default()),
        ValueKind::Bool => toml_edit::Value::from(value.is_true()),
        ValueKind::Number => match i64::try_from(value.clone()) {
            Ok(n) => toml_edit::Value::from(n),
            Err(_) => toml_edit::Value::from(f64::try_from(value.clone())?),
        },
        ValueKind::Seq => {
            let items = value
                .try_iter()?
                .map(|item| to_toml(&item))
                .collect::<Result<Vec<_>, _>>()?;
            let mut array: toml_edit::Array = items.into_iter().collect();
            array.fmt();
            toml_edit::Value::Array(array)
        }
        _ => return Err(unsupported()),
    })
}

/// `{{ value | yaml }}`: a string as a YAML scalar: plain when it is made of safe characters,
/// starts with a letter (not a number, `.inf`, `~` or an indicator) and is not one of the words
/// YAML reads as a boolean or null; else double-quoted (a JSON string is a YAML string), so a
/// path with `: ` or `#`, or a branch named `true`, stays a string.
fn yaml(value: String) -> String {
    const NOT_STRINGS: [&str; 11] = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf",
    ];
    let plain = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " -_./=@+,%".contains(c))
        && value.starts_with(|c: char| c.is_ascii_alphabetic())
        && !value.ends_with(' ')
        && !NOT_STRINGS.contains(&value.to_ascii_lowercase().as_str());
    if plain {
        value
    } else {
        serde_json::to_string(&value).unwrap_or_default()
    }
}

/// `{{ value | dotenv }}`: a value as a `.env` line reads it back.
fn dotenv(value: String) -> String {
    crate::config::dotenv::quote(&value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_undefined_variables_are_errors() {
        assert!(environment().is_ok());
        let err = render(XTASK_MAIN, minijinja::context! {}).map(|_| ());
        assert!(err.is_ok(), "xtask/main.rs uses no variable");
        assert!(render(ENV_EXAMPLE, minijinja::context! {}).is_err());
    }

    #[test]
    fn the_toml_filter_quotes_and_escapes() {
        let out = |v: Value| toml(v).unwrap();
        let name = "Orders \"v2\" it's \\ #1\n";
        let line = format!("name = {}", out(Value::from(name)));
        let doc: toml::Table = line.parse().unwrap();
        assert_eq!(doc["name"].as_str(), Some(name), "{line}");
        assert_eq!(out(Value::from(53180)), "53180");
        assert_eq!(out(Value::from(vec!["a", "b"])), r#"["a", "b"]"#);
        assert_eq!(out(Value::from(Vec::<String>::new())), "[]");
    }

    #[test]
    fn the_yaml_filter_quotes_what_yaml_would_misread() {
        assert_eq!(
            yaml("cargo install --version 1.0".into()),
            "cargo install --version 1.0"
        );
        assert_eq!(
            yaml("cargo install --path 'a: b #c'".into()),
            r#""cargo install --path 'a: b #c'""#
        );
        assert_eq!(yaml("x\"y".into()), r#""x\"y""#);
        for word in ["true", "False", "null", "1.0", "0x1f", "~", "no", "1_000"] {
            assert_eq!(yaml(word.into()), format!("\"{word}\""), "{word}");
        }
        assert_eq!(yaml("main".into()), "main");
    }
}
