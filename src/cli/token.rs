//! `cargo kinde token`: an M2M access token by client credentials, cached until shortly before
//! it expires.

use clap::Args;
use serde::Serialize;
use serde_json::{Map, Value};

use super::GlobalArgs;
use super::context::Context;
use super::verify;
use crate::error::{Error, exit};
use crate::oauth::{self, ClientCredentials, cache::TokenCache};
use crate::ui;

/// Arguments of `cargo kinde token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Audience to request (repeatable). Default: the Kinde Management API (<domain>/api).
    #[arg(long = "audience", value_name = "AUD")]
    pub audiences: Vec<String>,
    /// Scope to request (repeatable, or space-separated). Default: every scope granted.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Print the decoded header and claims instead of the token.
    #[arg(long)]
    pub decode: bool,
    /// Verify the token against the issuer's JWKS before printing it (M2M tokens; for a user
    /// token, pipe it to `cargo kinde verify --audience ...`).
    #[arg(long, conflicts_with = "user")]
    pub verify: bool,
    /// Always request a new token; do not read or write the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// A user token instead (cached, refreshed, or by browser sign-in like `login`).
    #[arg(long)]
    pub user: bool,
    /// With --user: print the sign-in URL instead of opening a browser.
    #[arg(long, requires = "user")]
    pub no_browser: bool,
    /// With --user --json: include the refresh token.
    #[arg(long, requires = "user")]
    pub show_refresh_token: bool,
}

/// A token's header and claims, decoded without trust (`--decode`).
#[derive(Debug, Serialize)]
struct Decoded<'a> {
    header: Option<&'a Map<String, Value>>,
    claims: Option<&'a Map<String, Value>>,
}

/// What `token --json` prints. The token is the command's result, so it is printed on purpose.
#[derive(Debug, Serialize)]
struct TokenReport<'a> {
    access_token: &'a str,
    token_type: &'a str,
    expires_in: u64,
    expires_at: u64,
    scope: Option<&'a str>,
    cached: bool,
    #[serde(flatten)]
    decoded: Decoded<'a>,
    verification: Option<&'a crate::jwt::verify::Report>,
}

/// A token on stdout as the human output of `token` and `login` print it: the token itself, or
/// with `--decode` its header and claims (decoded without trust) instead.
pub(super) fn print_token(token: &str, decode: bool) {
    if decode {
        let decoded = crate::jwt::decode(token).ok();
        let parts = Decoded {
            header: decoded.as_ref().map(|d| &d.header),
            claims: decoded.as_ref().map(|d| &d.claims),
        };
        ui::result(&serde_json::to_string_pretty(&parts).unwrap_or_default());
    } else {
        ui::result(token);
    }
}

/// Run `token`.
pub async fn run(global: &GlobalArgs, args: TokenArgs) -> Result<u8, Error> {
    if args.user {
        let login = super::login::LoginArgs {
            scopes: args.scopes.clone(),
            audiences: args.audiences.clone(),
            no_browser: args.no_browser,
            show_refresh_token: args.show_refresh_token,
            decode: args.decode,
            timeout: 300,
            ..Default::default()
        };
        return super::login::user_token(global, login, args.no_cache).await;
    }
    let mut ctx = Context::load(global)?;
    // M2M tokens always come from the Kinde domain, even when a custom domain is configured:
    // Kinde issues Management API tokens only from https://<subdomain>.kinde.com.
    let issuer = ctx.config.issuer()?.clone();
    let (client_id, client_secret) = ctx.management_credentials()?;
    let audiences = if args.audiences.is_empty() {
        vec![issuer.management_audience()]
    } else {
        args.audiences.clone()
    };
    let scopes: Vec<String> = args
        .scopes
        .iter()
        .flat_map(|s| s.split_whitespace().map(String::from))
        .collect();
    let request = ClientCredentials {
        issuer: issuer.clone(),
        client_id,
        client_secret,
        audiences: audiences.clone(),
        scopes: scopes.clone(),
    };
    let cache = if args.no_cache {
        None
    } else {
        Some(TokenCache::open()?)
    };
    // A cached token needs no request, so no HTTP client: building one (loading the system's
    // root certificates) would take most of this run's time.
    let token = match cache.as_ref().and_then(|c| c.fresh(&request)) {
        Some(token) => token,
        None => oauth::new_token(ctx.http()?, cache.as_ref(), &request).await?,
    };
    if let Some(why) = &token.unsaved {
        ui::warn(&format!("could not cache the token: {why}"));
    }
    ui::debug(&format!(
        "token for {} ({}; expires in {} s)",
        audiences.join(", "),
        if token.cached { "cached" } else { "new" },
        token.expires_in()
    ));
    let report = if args.verify {
        let expect = verify::expectations(&ctx.config, &issuer, &audiences, &scopes, None, 30);
        Some(verify::verify_token(&ctx, token.token.expose(), &expect).await?)
    } else {
        None
    };
    let decoded = crate::jwt::decode(token.token.expose()).ok();
    let parts = Decoded {
        header: decoded.as_ref().map(|d| &d.header),
        claims: decoded.as_ref().map(|d| &d.claims),
    };
    let shown = TokenReport {
        access_token: token.token.expose(),
        token_type: &token.token_type,
        expires_in: token.expires_in(),
        expires_at: token.expires_at,
        scope: token.scope.as_deref(),
        cached: token.cached,
        decoded: parts,
        verification: report.as_ref(),
    };
    ui::show(&shown, |r| print_token(r.access_token, args.decode));
    if let Some(report) = report {
        if let Some(failed) = report.first_failure() {
            ui::failed(format!(
                "the token failed verification: {}: {}",
                failed.name, failed.detail
            ));
            return Ok(exit::CHECK_FAILED);
        }
        let passed: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| c.status == crate::jwt::verify::Status::Pass)
            .map(|c| c.name)
            .collect();
        ui::status(&format!(
            "{} verified: {}",
            ui::paint(ui::style::OK, "✓"),
            passed.join(", ")
        ));
    }
    Ok(exit::OK)
}
