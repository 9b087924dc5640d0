//! `cargo kinde verify [TOKEN|-]`: check a JWT against the issuer's JWKS.

use std::io::IsTerminal;

use clap::Args;
use serde_json::Value;

use super::GlobalArgs;
use super::context::Context;
use crate::config::Config;
use crate::error::{Error, exit};
use crate::jwt::jwks::KeySource;
use crate::jwt::verify::{self, Expectations, IssuerKeys, Report, Status};
use crate::ui::{self, paint, style};
use crate::urls::Issuer;

/// Arguments of `cargo kinde verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The token, or `-` to read it from stdin (the default when stdin is not a terminal).
    #[arg(value_name = "TOKEN|-")]
    pub token: Option<String>,
    /// Accept this audience (repeatable; any match). Default: the audiences kinde.toml implies.
    #[arg(long = "audience", value_name = "AUD")]
    pub audiences: Vec<String>,
    /// Require this scope in `scp` or `scope` (repeatable, or space-separated).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Require this `azp` (the client id the token was issued to).
    #[arg(long, value_name = "CLIENT_ID")]
    pub azp: Option<String>,
    /// Clock leeway for exp, nbf and iat, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub leeway: u64,
    /// Also accept tokens of this issuer, besides the configured domain (each token is checked
    /// with the keys of its own `iss`).
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
}

/// Run `verify`.
pub async fn run(global: &GlobalArgs, args: VerifyArgs) -> Result<u8, Error> {
    let token = read_token(args.token.as_deref())?;
    let ctx = Context::load(global)?;
    let issuer = match &args.issuer {
        Some(url) => Issuer::parse(url).map_err(|e| Error::input(format!("--issuer: {e}")))?,
        None => ctx.config.issuer()?.clone(),
    };
    let expect = expectations(
        &ctx.config,
        &issuer,
        &args.audiences,
        &args.scopes,
        args.azp.clone(),
        args.leeway,
    );
    let report = verify_token(&ctx, &token, &expect).await?;
    Ok(print_report(&report))
}

/// The expectations for a token of `issuer` from flags, falling back on the configuration.
pub fn expectations(
    config: &Config,
    issuer: &Issuer,
    audiences: &[String],
    scopes: &[String],
    azp: Option<String>,
    leeway: u64,
) -> Expectations {
    let mut issuers: Vec<String> = vec![issuer.as_str().to_string()];
    for other in config.accepted_issuers() {
        if !issuers.iter().any(|i| i == other.as_str()) {
            issuers.push(other.as_str().to_string());
        }
    }
    let audiences = if audiences.is_empty() {
        config.implied_audiences()
    } else {
        audiences.to_vec()
    };
    Expectations {
        issuers,
        audiences,
        scopes: scopes
            .iter()
            .flat_map(|s| s.split_whitespace().map(String::from))
            .collect(),
        azp,
        leeway,
        now: crate::clock::now(),
    }
}

/// Verify `token` with keys from the JWKS of its own `iss`, one of `expect.issuers` (each JWKS
/// cached on disk for a few minutes).
pub async fn verify_token(
    ctx: &Context,
    token: &str,
    expect: &Expectations,
) -> Result<Report, Error> {
    let cache = crate::oauth::cache::TokenCache::open_if_any()?;
    let cache_dir = cache.as_ref().map(crate::oauth::cache::TokenCache::root);
    // The accepted issuers were built from parsed issuers, so each parses again. Each issuer's
    // keys come from its own discovery document's `jwks_uri`, looked up only when fetched.
    let issuers: Vec<Issuer> = expect
        .issuers
        .iter()
        .filter_map(|i| Issuer::parse(i).ok())
        .collect();
    let http = ctx.http()?;
    let mut keys = issuers.iter().fold(IssuerKeys::new(), |keys, issuer| {
        let source = KeySource::remote(http.clone(), issuer, cache_dir).with_jwks_uri(
            crate::oauth::discovery::jwks_uri(
                http.clone(),
                issuer.clone(),
                cache_dir.map(std::path::Path::to_path_buf),
            ),
        );
        keys.with(issuer.as_str(), source)
    });
    verify::verify(token, expect, &mut keys).await
}

fn read_token(arg: Option<&str>) -> Result<String, Error> {
    let from_stdin = match arg {
        Some("-") => true,
        Some(_) => false,
        None if !std::io::stdin().is_terminal() => true,
        None => {
            return Err(Error::input("no token given")
                .with_hint("pass it as an argument, `-` to read stdin, or pipe it: cargo kinde token | cargo kinde verify"));
        }
    };
    // A token is a few KiB; anything far larger is refused before it is held in memory.
    let token = if from_stdin {
        crate::net::read_capped(
            std::io::stdin().lock(),
            crate::net::TOKEN_INPUT_LIMIT,
            "the token on stdin",
        )?
    } else {
        crate::net::read_capped(
            arg.unwrap_or_default().as_bytes(),
            crate::net::TOKEN_INPUT_LIMIT,
            "the token argument",
        )?
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(
            Error::input("the token is empty").with_hint("pass a JWT, e.g. $(cargo kinde token)")
        );
    }
    Ok(token)
}

/// Print a report (JSON or a table on stdout; the verdict on stderr) and return the exit code.
pub fn print_report(report: &Report) -> u8 {
    // With --quiet the exit code is the answer; a rejection still says why on stderr.
    ui::show(report, |r| {
        if !ui::quiet() {
            print_human(r);
        }
    });
    if report.valid {
        exit::OK
    } else {
        if let Some(failed) = report.first_failure() {
            ui::failed(format!(
                "token rejected: {}: {}",
                failed.name, failed.detail
            ));
        }
        exit::CHECK_FAILED
    }
}

fn print_human(report: &Report) {
    let verdict = if report.valid {
        paint(style::OK, "valid token")
    } else {
        paint(style::BAD, "invalid token")
    };
    ui::result(&verdict);
    let width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    for check in &report.checks {
        let mark = match check.status {
            Status::Pass => paint(style::OK, "✓"),
            Status::Fail => paint(style::BAD, "✗"),
            Status::Skip => paint(style::DIM, "-"),
        };
        ui::result(&format!("  {mark} {:width$}  {}", check.name, check.detail));
    }
    for note in &report.notes {
        ui::result(&format!("  {} {note}", paint(style::WARN, "!")));
    }
    if let Some(claims) = &report.claims {
        ui::result(&paint(style::BOLD, "claims"));
        let width = claims.keys().map(String::len).max().unwrap_or(0);
        for (key, value) in claims {
            let key = crate::jwt::verify::printable(key);
            ui::result(&format!("  {key:width$}  {}", shorten(value)));
        }
    }
}

/// A claim on one line: long lists are cut, with their length, so the table stays readable
/// (`--json` has everything).
fn shorten(value: &Value) -> String {
    const MAX: usize = 100;
    let (text, items) = match value {
        Value::String(s) => (s.clone(), s.split_whitespace().count()),
        Value::Array(a) => (value.to_string(), a.len()),
        other => (other.to_string(), 1),
    };
    let text = crate::jwt::verify::printable(&text);
    if text.chars().count() <= MAX {
        return text;
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}… ({items} items; --json shows all)")
}
