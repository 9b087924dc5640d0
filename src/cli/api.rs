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
    /// Follow next_token and merge every page's lists (GET only).
    #[arg(long, conflicts_with = "data")]
    pub paginate: bool,
    /// Do not ask before a DELETE.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Show client secrets and tokens in the response instead of `***`.
    #[arg(long)]
    pub show_secrets: bool,
}

/// Run `api`.
pub async fn run(global: &GlobalArgs, args: ApiArgs) -> Result<u8, Error> {
    let method = parse_method(&args.method)?;
    let (path, mut query) = kinde::split_path(&args.path);
    kinde::check_operation(&method, &path)?;
    for pair in &args.query {
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            Error::input(format!("-q `{pair}`: expected KEY=VALUE"))
                .with_hint("e.g. -q page_size=50")
        })?;
        query.push((k.to_string(), v.to_string()));
    }
    let body = read_body(args.data.as_deref(), &method)?;
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
    // A server that echoes the request must not make this process's own secrets (the M2M
    // client secret, its token) appear, even with --show-secrets (which is about the response's).
    let value = crate::secret::mask_json(value);
    let value = if args.show_secrets {
        value
    } else {
        crate::secret::redact_json(value)
    };
    if !value.is_null() {
        ui::json(&value);
    }
    Ok(exit::OK)
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
