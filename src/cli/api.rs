//! `cargo kinde api <METHOD> <PATH>`: any Management API call with the cached M2M token, like
//! `gh api`.

use std::io::{IsTerminal, Read};

use clap::Args;
use reqwest::Method;
use serde_json::{Map, Value};

use super::GlobalArgs;
use super::context::Context;
use crate::error::{Error, exit};
use crate::kinde::{self, OPERATIONS};
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
    /// Follow next_token and merge every page's lists.
    #[arg(long)]
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
    let (path, mut query) = split_path(&args.path);
    check_path(&method, &path)?;
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
        paginate(&client, &path, &query).await?
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
            None => Value::String(response.text),
        }
    };
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

/// `/api/v1/users?x=1` → (`/api/v1/users`, [(x, 1)]); `users` → `/api/v1/users`.
fn split_path(input: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = input.split_once('?').unwrap_or((input, ""));
    let path = path.trim_end_matches('/');
    let path = if path.starts_with("/api/") {
        path.to_string()
    } else if let Some(rest) = path.strip_prefix("api/") {
        format!("/api/{rest}")
    } else {
        format!("/api/v1/{}", path.trim_start_matches('/'))
    };
    let query = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    (path, query)
}

/// The path must be one of the spec's; otherwise say what is close.
fn check_path(method: &Method, path: &str) -> Result<(), Error> {
    if kinde::find_operation(method.as_str(), path).is_some() {
        return Ok(());
    }
    let methods: Vec<&str> = OPERATIONS
        .iter()
        .filter(|o| kinde::find_operation(o.method, path) == Some(o))
        .map(|o| o.method)
        .collect();
    if !methods.is_empty() {
        return Err(
            Error::input(format!("{method} is not an operation on {path}"))
                .with_hint(format!("it supports {}", methods.join(", "))),
        );
    }
    let mut candidates: Vec<(usize, &str)> = OPERATIONS
        .iter()
        .map(|o| (distance(o.path, path), o.path))
        .collect();
    candidates.sort();
    candidates.dedup_by(|a, b| a.1 == b.1);
    let best: Vec<&str> = candidates.iter().take(3).map(|(_, p)| *p).collect();
    Err(Error::input(format!("{path} is not a Management API path"))
        .with_hint(format!("did you mean {}?", best.join(", or "))))
}

/// Edit distance between two paths (placeholders like `{id}` count as any segment).
fn distance(template: &str, path: &str) -> usize {
    let t: Vec<char> = template.chars().collect();
    let p: Vec<char> = path.chars().collect();
    let mut row: Vec<usize> = (0..=p.len()).collect();
    for i in 1..=t.len() {
        let mut prev = row[0];
        row[0] = i;
        for j in 1..=p.len() {
            let cost = usize::from(t[i - 1] != p[j - 1]);
            let next = (row[j] + 1).min(row[j - 1] + 1).min(prev + cost);
            prev = row[j];
            row[j] = next;
        }
    }
    row[p.len()]
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

async fn paginate(
    client: &kinde::client::Client,
    path: &str,
    query: &[(String, String)],
) -> Result<Value, Error> {
    let mut merged = Map::new();
    let mut next: Option<String> = None;
    loop {
        let mut q = query.to_vec();
        if let Some(token) = &next {
            q.push(("next_token".into(), token.clone()));
        }
        let Value::Object(mut page) = client.call(Method::GET, path, &q, None).await? else {
            return Err(Error::network(format!(
                "GET {path}: a page is not a JSON object"
            )));
        };
        next = page
            .remove("next_token")
            .and_then(|t| t.as_str().map(String::from))
            .filter(|t| !t.is_empty());
        let mut items = 0;
        for (key, value) in page {
            match (merged.get_mut(&key), value) {
                (Some(Value::Array(all)), Value::Array(more)) => {
                    items += more.len();
                    all.extend(more);
                }
                (None, value) => {
                    items += value.as_array().map_or(0, Vec::len);
                    merged.insert(key, value);
                }
                (Some(_), _) => {}
            }
        }
        if next.is_none() || items == 0 {
            return Ok(Value::Object(merged));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_and_checked() {
        assert_eq!(split_path("users").0, "/api/v1/users");
        assert_eq!(split_path("/api/v1/users/").0, "/api/v1/users");
        assert_eq!(
            split_path("/api/v1/users?page_size=2").1,
            vec![("page_size".to_string(), "2".to_string())]
        );
        assert!(check_path(&Method::GET, "/api/v1/apis/abc").is_ok());
        let err = check_path(&Method::GET, "/api/v1/usrs").unwrap_err();
        assert!(
            err.hint().unwrap().contains("/api/v1/users"),
            "{:?}",
            err.hint()
        );
        let err = check_path(&Method::PATCH, "/api/v1/users").unwrap_err();
        assert!(err.hint().unwrap().contains("GET"));
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
