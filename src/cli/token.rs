//! `cargo kinde token`: an M2M access token by client credentials, cached until shortly before
//! it expires.

use clap::Args;
use serde::Serialize;
use serde_json::{Map, Value};

use super::GlobalArgs;
use super::context::Context;
use super::verify;
use crate::error::{Error, exit};
use crate::oauth::mint::MintError;
use crate::oauth::{self, ClientCredentials, cache::TokenCache};
use crate::ui;

/// Arguments of `cargo kinde token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Audience to request (repeatable). Default: the Kinde Management API (<domain>/api); with
    /// --as, none.
    #[arg(long = "audience", value_name = "AUD")]
    pub audiences: Vec<String>,
    /// Scope to request (repeatable, or space-separated). Default: every scope granted; with
    /// --as, `openid profile email`, which given scopes add to.
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
    /// A user token minted by the emulator for this user (created if missing), no browser.
    /// Emulator only: a real Kinde tenant issues user tokens through sign-in.
    #[arg(
        long = "as",
        value_name = "EMAIL",
        conflicts_with_all = ["user", "verify"],
        help_heading = "Minted by the emulator"
    )]
    pub as_user: Option<String>,
    /// With --as: signed in to this organization (by code; created if missing).
    #[arg(
        long,
        value_name = "ORG_CODE",
        requires = "as_user",
        help_heading = "Minted by the emulator"
    )]
    pub org: Option<String>,
    /// With --as: the user's direct permissions in the organization become these (repeatable;
    /// the roles' permissions add to them; kept as they were when not given).
    #[arg(
        long = "permission",
        value_name = "KEY",
        requires = "as_user",
        help_heading = "Minted by the emulator"
    )]
    pub permissions: Vec<String>,
    /// With --as: the user's roles in the organization become these (repeatable; kept as they
    /// were when not given). Turns on the app's `roles` claim.
    #[arg(
        long = "role",
        value_name = "KEY",
        requires = "as_user",
        help_heading = "Minted by the emulator"
    )]
    pub roles: Vec<String>,
    /// With --as: a token the API must refuse, wrong in this one way: 401, or 403 for
    /// missing-permission and other-organization.
    #[arg(
        long,
        value_name = "KIND",
        requires = "as_user",
        value_parser = clap::builder::PossibleValuesParser::new(FORGERIES),
        help_heading = "Minted by the emulator"
    )]
    pub forge: Option<String>,
}

/// The forgeries the emulator makes (`cargo_kinde::testing::Forgery`'s names): what a service
/// must refuse, 401 for each but `missing-permission` and `other-organization` (403).
pub const FORGERIES: [&str; 10] = [
    "expired",
    "not-yet-valid",
    "wrong-audience",
    "wrong-issuer",
    "foreign-key",
    "alg-none",
    "hs256-with-public-key",
    "tampered-payload",
    "missing-permission",
    "other-organization",
];

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
    /// `--forge`: the forgery, and the status an API verifying the token must answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    forgery: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_status: Option<u16>,
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
    if let Some(email) = args.as_user.clone() {
        return minted(global, &args, email).await;
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
        forgery: None,
        expected_status: None,
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

/// What `POST /_emulator/mint` takes (the emulator's wire format).
#[derive(Debug, Serialize)]
struct MintRequest<'a> {
    email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    org: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    permissions: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    roles: Option<&'a [String]>,
    audience: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    forge: Option<&'a str>,
}

/// `token --as EMAIL`: a user token minted by the emulator, printed as `token` prints one.
async fn minted(global: &GlobalArgs, args: &TokenArgs, email: String) -> Result<u8, Error> {
    let ctx = Context::load(global)?;
    let issuer = ctx.config.issuer()?.clone();
    let not_emulator = |why: String| {
        Error::input(format!(
            "`token --as` mints tokens only the cargo-kinde emulator signs, and {issuer} {why}"
        ))
        .with_hint(
            "a real Kinde tenant issues user tokens through sign-in: `cargo kinde token --user`; \
             for minted tokens, start `cargo kinde emulator --env-file .env` and use that .env",
        )
    };
    if crate::oauth::mint::is_kinde_domain(&issuer) {
        return Err(not_emulator("is a Kinde tenant".into()));
    }
    #[cfg(feature = "emulator")]
    if global.emulator {
        ui::warn(
            "the embedded emulator (--emulator) stops with this command, and its key with it: \
             no service can verify this token; for one that verifies, start \
             `cargo kinde emulator --env-file .env` and run without --emulator",
        );
    }
    let asked: Vec<String> = args
        .scopes
        .iter()
        .flat_map(|s| s.split_whitespace().map(String::from))
        .collect();
    const OIDC: [&str; 3] = ["openid", "profile", "email"];
    if args.audiences.is_empty()
        && let Some(scope) = asked
            .iter()
            .find(|s| !OIDC.contains(&s.as_str()) && !s.starts_with("offline"))
    {
        return Err(Error::input(format!(
            "`--scope {scope}` is an API's scope, and a token carries it only for that API"
        ))
        .with_hint("add the API's --audience"));
    }
    let mut scopes: Vec<String> = OIDC.map(String::from).to_vec();
    for scope in asked {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    let client_id = ctx.config.app_client_id.as_ref().map(|s| s.value.as_str());
    let request = MintRequest {
        email: &email,
        client_id,
        org: args.org.as_deref(),
        permissions: (!args.permissions.is_empty()).then_some(args.permissions.as_slice()),
        roles: (!args.roles.is_empty()).then_some(args.roles.as_slice()),
        audience: &args.audiences,
        scopes: Some(scopes),
        forge: args.forge.as_deref(),
    };
    let minted = match crate::oauth::mint::mint(ctx.http()?, &issuer, &request).await {
        Ok(minted) => minted,
        Err(MintError::NotEmulator(why)) => return Err(not_emulator(why)),
        Err(MintError::Refused(message)) => {
            return Err(Error::input(format!(
                "the emulator refused to mint the token: {message}"
            )));
        }
        Err(MintError::Failed(e)) => return Err(e),
    };
    let decoded = crate::jwt::decode(&minted.access_token).ok();
    let claims = decoded.as_ref().map(|d| &d.claims);
    let expires_at = claims
        .and_then(|c| c.get("exp"))
        .and_then(Value::as_u64)
        .unwrap_or_else(|| crate::clock::now() + minted.expires_in);
    let scope = claims
        .and_then(|c| c.get("scp"))
        .and_then(Value::as_array)
        .map(|scp| {
            scp.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        });
    let shown = TokenReport {
        access_token: &minted.access_token,
        token_type: &minted.token_type,
        expires_in: minted.expires_in,
        expires_at,
        scope: scope.as_deref(),
        cached: false,
        decoded: Decoded {
            header: decoded.as_ref().map(|d| &d.header),
            claims,
        },
        verification: None,
        forgery: args.forge.as_deref(),
        expected_status: minted.expected_status,
    };
    ui::show(&shown, |r| print_token(r.access_token, args.decode));
    if let (Some(kind), Some(status)) = (&args.forge, minted.expected_status) {
        ui::status(&format!(
            "forged ({kind}): an API verifying it must answer {status}"
        ));
    }
    Ok(exit::OK)
}

#[cfg(all(test, feature = "emulator"))]
mod tests {
    /// `--forge`'s values are the emulator's forgeries, so none is offered that the emulator
    /// would refuse and none is missing.
    #[test]
    fn forge_values_are_the_emulators_forgeries() {
        let emulator: Vec<&str> = crate::emulator::mint::Forgery::ALL
            .iter()
            .map(|f| f.name())
            .collect();
        assert_eq!(super::FORGERIES.to_vec(), emulator);
    }
}
