//! `cargo kinde api <METHOD> <PATH>`: any Management API call with the cached M2M token, like
//! `gh api`.

use std::io::{IsTerminal, Read};

use clap::Args;
use reqwest::Method;
use serde_json::Value;

use super::GlobalArgs;
use super::context::Context;
use crate::error::{Error, exit};
use crate::kinde;
use crate::ui;

/// Arguments of `cargo kinde api`.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// GET, POST, PUT, PATCH or DELETE.
    pub method: String,
    /// A Management API path, e.g. /api/v1/users (the /api/v1 prefix may be left out).
    pub path: String,
    /// JSON body: inline, @FILE, or @- / - for stdin (stdin is also read when piped).
    #[arg(short = 'd', long = "data", value_name = "JSON|@FILE")]
    pub data: Option<String>,
    /// Query parameter (repeatable).
    #[arg(short = 'q', long = "query", value_name = "KEY=VALUE")]
    pub query: Vec<String>,
    /// A field with its type guessed, as `gh api -F`: numbers, true, false and null are JSON
    /// values, `@FILE` the file's text, anything else a string (repeatable). A query parameter
    /// for GET and DELETE, else a key of the JSON body.
    #[arg(
        short = 'F',
        long = "field",
        value_name = "KEY=VALUE",
        conflicts_with = "data"
    )]
    pub fields: Vec<String>,
    /// A field whose value is always a string, as `gh api -f` (repeatable).
    #[arg(
        short = 'f',
        long = "raw-field",
        value_name = "KEY=VALUE",
        conflicts_with = "data"
    )]
    pub raw_fields: Vec<String>,
    /// Call a path the bundled Management API spec does not list (a newer endpoint).
    #[arg(long)]
    pub no_check: bool,
    /// Follow next_token and merge every page's lists (GET only).
    #[arg(long, conflicts_with = "data")]
    pub paginate: bool,
    /// Do not ask before a DELETE.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Show client secrets and tokens in the response instead of `***`.
    #[arg(long)]
    pub show_secrets: bool,
    /// Filter the answer with a jq expression, as `gh api --jq`: each result on its own line,
    /// strings without quotes.
    #[cfg(feature = "jq")]
    #[arg(long, value_name = "EXPR")]
    pub jq: Option<String>,
}

/// Run `api`.
pub async fn run(global: &GlobalArgs, args: ApiArgs) -> Result<u8, Error> {
    let method = parse_method(&args.method)?;
    // A mistake in the expression is found before anything is sent.
    #[cfg(feature = "jq")]
    let jq = args.jq.as_deref().map(super::jq::compile).transpose()?;
    let (path, mut query) = kinde::split_path(&args.path);
    if !args.no_check {
        kinde::check_operation(&method, &path).map_err(|e| {
            let hint = e.hint().map(|h| format!("{h}; or ")).unwrap_or_default();
            e.with_hint(format!(
                "{hint}pass --no-check to call a path the bundled spec does not list"
            ))
        })?;
    }
    for pair in &args.query {
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            Error::input(format!("-q `{pair}`: expected KEY=VALUE"))
                .with_hint("e.g. -q page_size=50")
        })?;
        query.push((k.to_string(), v.to_string()));
    }
    let fields = fields(&args.fields, &args.raw_fields)?;
    let in_query = matches!(method, Method::GET | Method::DELETE);
    // No Management API GET or DELETE takes a body: one given would be sent and ignored.
    if in_query && args.data.is_some() {
        return Err(Error::input(format!(
            "{method} takes no body: -d is for POST, PUT and PATCH"
        ))
        .with_hint("pass parameters with -q KEY=VALUE or -F KEY=VALUE"));
    }
    let body = if fields.is_empty() {
        read_body(args.data.as_deref(), &method)?
    } else if in_query {
        for (key, value) in fields {
            let text = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            query.push((key, text));
        }
        None
    } else {
        Some(Value::Object(fields.into_iter().collect()))
    };
    if args.paginate && method != Method::GET {
        return Err(Error::input("--paginate works only with GET"));
    }
    if method == Method::DELETE && !args.yes {
        if !ui::settings().interactive {
            return Err(Error::input(format!("DELETE {path} needs confirmation"))
                .with_hint("pass --yes to delete without asking"));
        }
        if !ui::prompt::confirm(&format!("DELETE {path}?"), false)? {
            return Err(Error::input("cancelled"));
        }
    }
    let mut ctx = Context::load(global)?;
    let client = ctx.management_client()?;
    // A host that accepts and never answers would otherwise be 30 s of silence.
    let spinner = ui::spinner(&format!("{method} {path}"));
    let value = if args.paginate {
        client.get_all_pages(&path, &query).await?
    } else {
        let response = client
            .send(method.clone(), &path, &query, body.as_ref())
            .await?;
        if !response.status.is_success() {
            return Err(kinde::client::status_error(
                &method,
                &path,
                &response,
                client.client_id(),
            ));
        }
        match response.json {
            Some(json) => json,
            None if response.text.is_empty() => Value::Null,
            // Not JSON: the server's own text, shown with secrets masked and controls escaped.
            None => Value::String(crate::net::server_text(&response.text)),
        }
    };
    drop(spinner);
    // A server that echoes the request must not make this process's own secrets (the M2M
    // client secret, its token) appear, even with --show-secrets (which is about the response's).
    let value = crate::secret::mask_json(value);
    let value = if args.show_secrets {
        value
    } else {
        crate::secret::redact_json(value)
    };
    #[cfg(feature = "jq")]
    if let Some(filter) = jq {
        for out in filter.run(value)? {
            match out {
                super::jq::Output::Text(text) => ui::result(&text),
                super::jq::Output::Json(json) => ui::json(&json),
            }
        }
        return Ok(exit::OK);
    }
    if !value.is_null() {
        ui::json(&value);
    }
    Ok(exit::OK)
}

/// `-F` and `-f` fields as JSON values, in the order given (`-F` first).
fn fields(typed: &[String], raw: &[String]) -> Result<Vec<(String, Value)>, Error> {
    let split = |pair: &String, flag: &str| {
        pair.split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .ok_or_else(|| {
                Error::input(format!("{flag} `{pair}`: expected KEY=VALUE"))
                    .with_hint(format!("e.g. {flag} name=Acme"))
            })
    };
    let mut out = Vec::new();
    for pair in typed {
        let (key, value) = split(pair, "-F")?;
        out.push((key, typed_value(&value)?));
    }
    for pair in raw {
        let (key, value) = split(pair, "-f")?;
        out.push((key, Value::String(value)));
    }
    Ok(out)
}

/// A `-F` value: a JSON number, `true`, `false` or `null` as such, `@FILE` the file's text,
/// else the string itself.
fn typed_value(text: &str) -> Result<Value, Error> {
    if let Some(file) = text.strip_prefix('@') {
        let content = if file == "-" {
            read_stdin()?
        } else {
            std::fs::read_to_string(file)
                .map_err(|e| Error::input(format!("-F @{file}: cannot read it: {e}")))?
        };
        return Ok(Value::String(content.trim_end_matches('\n').to_string()));
    }
    Ok(match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        _ => match serde_json::from_str::<serde_json::Number>(text) {
            Ok(n) => Value::Number(n),
            Err(_) => Value::String(text.to_string()),
        },
    })
}

fn parse_method(text: &str) -> Result<Method, Error> {
    match text.to_ascii_uppercase().as_str() {
        "GET" => Ok(Method::GET),
        "POST" => Ok(Method::POST),
        "PUT" => Ok(Method::PUT),
        "PATCH" => Ok(Method::PATCH),
        "DELETE" => Ok(Method::DELETE),
        _ => Err(
            Error::input(format!("`{text}` is not a method the Management API uses"))
                .with_hint("use GET, POST, PUT, PATCH or DELETE"),
        ),
    }
}

fn read_body(data: Option<&str>, method: &Method) -> Result<Option<Value>, Error> {
    let text = match data {
        Some("-" | "@-") => Some(read_stdin()?),
        Some(d) if d.starts_with('@') => {
            let file = &d[1..];
            Some(
                std::fs::read_to_string(file)
                    .map_err(|e| Error::input(format!("-d @{file}: cannot read it: {e}")))?,
            )
        }
        Some(d) => Some(d.to_string()),
        None if matches!(*method, Method::POST | Method::PUT | Method::PATCH)
            && !std::io::stdin().is_terminal() =>
        {
            Some(read_stdin()?).filter(|t| !t.trim().is_empty())
        }
        None => None,
    };
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| {
            Error::input(format!("the body is not JSON: {e}")).with_hint(
                "pass a JSON document, e.g. -d '{\"urls\":[\"https://app.acme.com/callback\"]}'",
            )
        })
    })
    .transpose()
}

fn read_stdin() -> Result<String, Error> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Error::input(format!("cannot read stdin: {e}")))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_fields_are_json_values() {
        assert_eq!(typed_value("5").unwrap(), serde_json::json!(5));
        assert_eq!(typed_value("1.5").unwrap(), serde_json::json!(1.5));
        assert_eq!(typed_value("true").unwrap(), serde_json::json!(true));
        assert_eq!(typed_value("null").unwrap(), Value::Null);
        assert_eq!(typed_value("5a").unwrap(), serde_json::json!("5a"));
        let raw = fields(&[], &["n=5".to_string()]).unwrap();
        assert_eq!(raw[0].1, serde_json::json!("5"));
        assert!(fields(&["=5".to_string()], &[]).is_err());
    }

    #[test]
    fn secrets_are_redacted() {
        let v = crate::secret::redact_json(
            serde_json::json!({"application": {"client_secret": "s", "name": "n"}, "list": [{"access_token": "t"}]}),
        );
        assert_eq!(v["application"]["client_secret"], "***");
        assert_eq!(v["application"]["name"], "n");
        assert_eq!(v["list"][0]["access_token"], "***");
    }
}
