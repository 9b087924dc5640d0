//! `cargo kinde login`, and user tokens for `token --user`: Authorization Code + PKCE
//! through the browser, cached (0600) and refreshed without a browser while the refresh token
//! lasts.

use std::time::Duration;

use clap::Args;
use serde::Serialize;
use serde_json::Value;

use super::GlobalArgs;
use super::context::Context;
use crate::error::{Error, exit};
use crate::oauth::cache::TokenCache;
use crate::oauth::login::{self, Loopback, Request, Tokens, Waiting};
use crate::ui;

/// Arguments of `cargo kinde login` (and the user-token part of `token --user`).
#[derive(Debug, Args, Default)]
pub struct LoginArgs {
    /// Loopback callback port (default: [login] port in kinde.toml, else 53180); its
    /// http://127.0.0.1:PORT/callback must be an allowed callback URL (`cargo kinde register`).
    #[arg(long)]
    pub port: Option<u16>,
    /// Print the sign-in URL instead of opening a browser.
    #[arg(long)]
    pub no_browser: bool,
    /// How long to wait for the browser, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,
    /// Scope to request (repeatable; default: [login] scopes, else `openid email offline`).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Audience to request (repeatable; default: [login] audiences).
    #[arg(long = "audience", value_name = "AUD")]
    pub audiences: Vec<String>,
    /// `login`, `create` or `none` (default: [login] prompt, else `login`).
    #[arg(long)]
    pub prompt: Option<String>,
    /// Kinde's `org_code`.
    #[arg(long)]
    pub org_code: Option<String>,
    /// Kinde's `connection_id`.
    #[arg(long)]
    pub connection_id: Option<String>,
    /// Pre-fill the email (`login_hint`).
    #[arg(long)]
    pub login_hint: Option<String>,
    /// Language of the sign-in page (`lang`).
    #[arg(long)]
    pub lang: Option<String>,
    /// Include the refresh token in --json output (refused without --json).
    #[arg(long)]
    pub show_refresh_token: bool,
    /// Print the decoded header and claims instead of the token (`token --user --decode`).
    #[arg(skip)]
    pub decode: bool,
}

fn request(ctx: &Context, args: &LoginArgs) -> Result<Request, Error> {
    // Checked here, not by clap: `--json` is global, and clap's `requires` does not see it when
    // it comes before the subcommand.
    if args.show_refresh_token && !ui::settings().json {
        return Err(Error::input("--show-refresh-token works only with --json")
            .with_hint("add --json: the refresh token is printed only inside the JSON document"));
    }
    let config = &ctx.config;
    // User sign-in happens on the custom domain when there is one.
    let issuer = config
        .custom_domain
        .as_ref()
        .map(|s| s.value.clone())
        .map_or_else(|| config.issuer().cloned(), Ok)?;
    let client_id = config
        .app_client_id
        .as_ref()
        .map(|s| s.value.clone())
        .ok_or_else(|| {
            Error::input("no application to sign in to")
                .with_hint("set `client_id` under [app] in kinde.toml, or KINDE_CLIENT_ID")
        })?;
    let prompt = args
        .prompt
        .clone()
        .unwrap_or_else(|| config.login.prompt.clone());
    if !["login", "create", "none"].contains(&prompt.as_str()) {
        return Err(Error::input(format!(
            "--prompt `{prompt}`: Kinde accepts login, create or none"
        )));
    }
    let mut extra = Vec::new();
    for (name, value) in [
        ("org_code", &args.org_code),
        ("connection_id", &args.connection_id),
        ("login_hint", &args.login_hint),
        ("lang", &args.lang),
    ] {
        if let Some(v) = value {
            extra.push((name.to_string(), v.clone()));
        }
    }
    let split = |v: &[String]| {
        v.iter()
            .flat_map(|s| s.split_whitespace().map(String::from))
            .collect::<Vec<_>>()
    };
    Ok(Request {
        issuer,
        client_id,
        client_secret: config.app_client_secret.as_ref().map(|s| s.value.clone()),
        scopes: if args.scopes.is_empty() {
            config.login.scopes.clone()
        } else {
            split(&args.scopes)
        },
        audiences: if args.audiences.is_empty() {
            config.login.audiences.clone()
        } else {
            split(&args.audiences)
        },
        prompt: Some(prompt),
        extra,
        timeout: Duration::from_secs(args.timeout.max(1)),
    })
}

/// Before sending anyone to the browser: is the loopback callback allowed for the app? (Only
/// checked when the management credentials can read the app.)
async fn check_callback_registered(
    ctx: &mut Context,
    client_id: &str,
    redirect_uri: &str,
) -> Result<(), Error> {
    if ctx.config.management_client_id.is_none() || ctx.config.management_client_secret.is_none() {
        return Ok(());
    }
    let client = ctx.management_client()?;
    match client.urls(crate::kinde::resources::UrlKind::Callback, client_id).await {
        Ok(urls) if urls.iter().any(|u| u == redirect_uri) => Ok(()),
        Ok(_) => Err(Error::input(format!("{redirect_uri} is not an allowed callback URL of application {client_id}"))
            .with_hint("add it to `callback_urls` under [app] in kinde.toml (or set [login] port) and run `cargo kinde register`; or pass --port with a port whose callback is registered")),
        Err(e) => {
            ui::debug(&format!("could not read the app's callback URLs: {e}"));
            Ok(())
        }
    }
}

async fn browser_sign_in(
    ctx: &mut Context,
    req: &Request,
    args: &LoginArgs,
) -> Result<Tokens, Error> {
    let port = args.port.unwrap_or(ctx.config.login.port);
    let loopback = Loopback::bind(port).await?;
    check_callback_registered(ctx, &req.client_id, &loopback.redirect_uri).await?;
    let no_browser = args.no_browser;
    login::sign_in(ctx.http()?, req, loopback, |event| {
        match event {
            Waiting::Authorize(url) => {
                if !no_browser && ui::browser::open(&url)? {
                    ui::status(
                        "Opened the sign-in page in your browser. If it did not open, visit:",
                    );
                } else {
                    ui::status("Open this URL in a browser to sign in:");
                }
                // The URL carries no secret (PKCE keeps the verifier here); printed for copy and paste.
                ui::status(&url);
                ui::status(&format!(
                    "Waiting for the sign-in (up to {} s; Ctrl-C cancels)…",
                    req.timeout.as_secs()
                ));
            }
            Waiting::Stray(path) => {
                ui::debug(&format!(
                    "loopback: answered a request for {path:?} that is not a sign-in response"
                ));
            }
            Waiting::ForeignState => ui::warn(
                "a response that is not this sign-in's (another `state`) reached the callback and was refused; still waiting. If you did not start another sign-in, something on this machine is probing the callback.",
            ),
        }
        Ok(())
    })
    .await
}

fn save(cache: Option<&TokenCache>, req: &Request, tokens: &Tokens) {
    if let Some(cache) = cache
        && let Err(e) = cache.put(&login::cache_key(req), &tokens.access)
    {
        ui::warn(&format!("could not cache the user token: {e}"));
    }
}

fn print(tokens: &Tokens, args: &LoginArgs, source: &str) {
    let show_refresh_token = args.show_refresh_token;
    let claims = |t: &str| crate::jwt::decode(t).ok().map(|d| Value::Object(d.claims));
    let report = LoginReport {
        access_token: tokens.access.token.expose(),
        token_type: &tokens.access.token_type,
        expires_in: tokens.access.expires_in(),
        expires_at: tokens.access.expires_at,
        scope: tokens.access.scope.as_deref(),
        source,
        access_token_claims: claims(tokens.access.token.expose()),
        id_token_claims: tokens.id_token.as_ref().and_then(|t| claims(t.expose())),
        has_refresh_token: tokens.access.refresh_token.is_some(),
        refresh_token: tokens
            .access
            .refresh_token
            .as_ref()
            .filter(|_| show_refresh_token)
            .map(|r| r.expose()),
    };
    ui::show(&report, |r| {
        super::token::print_token(r.access_token, args.decode)
    });
}

/// What `login --json` and `token --user --json` print. The refresh token only with
/// `--show-refresh-token`.
#[derive(Debug, Serialize)]
struct LoginReport<'a> {
    access_token: &'a str,
    token_type: &'a str,
    expires_in: u64,
    expires_at: u64,
    scope: Option<&'a str>,
    source: &'a str,
    access_token_claims: Option<Value>,
    id_token_claims: Option<Value>,
    has_refresh_token: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

/// Run `login`: always a fresh browser sign-in.
pub async fn run(global: &GlobalArgs, args: LoginArgs) -> Result<u8, Error> {
    let mut ctx = Context::load(global)?;
    let req = request(&ctx, &args)?;
    let tokens = browser_sign_in(&mut ctx, &req, &args).await?;
    save(TokenCache::open_if_any()?.as_ref(), &req, &tokens);
    ui::status(&format!(
        "{} signed in; the token is cached for `cargo kinde token --user`",
        ui::paint(ui::style::OK, "✓")
    ));
    print(&tokens, &args, "login");
    Ok(exit::OK)
}

/// A user token: from the cache, else by refresh, else by a browser sign-in (only when a person
/// can do it).
pub async fn user_token(global: &GlobalArgs, args: LoginArgs, no_cache: bool) -> Result<u8, Error> {
    let mut ctx = Context::load(global)?;
    let req = request(&ctx, &args)?;
    let cache = if no_cache {
        None
    } else {
        TokenCache::open_if_any()?
    };
    if let Some(cache) = &cache {
        match login::stored(|| ctx.http(), &req, cache).await? {
            login::Stored::Cached(tokens) => {
                ui::debug("user token cache hit");
                print(&tokens, &args, "cache");
                return Ok(exit::OK);
            }
            login::Stored::Refreshed(tokens) => {
                if let Some(why) = &tokens.access.unsaved {
                    ui::warn(&format!("could not cache the user token: {why}"));
                }
                ui::status("refreshed the user token");
                // Kinde answers a refresh with the same access token while that one is live
                // (FACTS: "Tokens: more behaviour"), so one close to expiry comes back as it was.
                let left = tokens.access.expires_in();
                if left <= crate::oauth::cache::EXPIRY_MARGIN_SECS {
                    ui::warn(&format!(
                        "Kinde returned the same access token, which expires in {left} s: it renews a token only once it has expired; run this again after that for a new one"
                    ));
                }
                print(&tokens, &args, "refresh");
                return Ok(exit::OK);
            }
            login::Stored::RefreshRefused(reason) if !ui::settings().interactive => {
                return Err(Error::auth(format!(
                    "the cached sign-in could not be refreshed: {reason}"
                ))
                .with_hint("sign in again with `cargo kinde login` in a terminal"));
            }
            login::Stored::RefreshRefused(reason) => {
                ui::warn(&format!(
                    "the refresh token was refused ({reason}); signing in again"
                ));
            }
            login::Stored::Nothing => {}
        }
    }
    if !ui::settings().interactive && !args.no_browser {
        return Err(Error::input("no cached user token, and no one here to sign in")
            .with_hint("run `cargo kinde login` in a terminal first, or pass --no-browser to print the sign-in URL"));
    }
    let tokens = browser_sign_in(&mut ctx, &req, &args).await?;
    save(cache.as_ref(), &req, &tokens);
    print(&tokens, &args, "login");
    Ok(exit::OK)
}
