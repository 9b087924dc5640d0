//! `cargo kinde logout`: forget this tenant's cached tokens; with `--everywhere`, end the Kinde
//! browser session too.

use clap::Args;
use serde::Serialize;

use super::GlobalArgs;
use super::context::Context;
use crate::error::{Error, exit};
use crate::oauth::cache::TokenCache;
use crate::ui;

/// Arguments of `cargo kinde logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Also end the browser session at Kinde (opens its /logout).
    #[arg(long)]
    pub everywhere: bool,
}

/// Run `logout`: forget this tenant's cached tokens; with `--everywhere`, end the Kinde session.
pub async fn run(global: &GlobalArgs, args: LogoutArgs) -> Result<u8, Error> {
    let ctx = Context::load(global)?;
    let cache = TokenCache::open()?;
    let mut removed = 0;
    for issuer in ctx.config.accepted_issuers() {
        removed += cache
            .clear_issuer(issuer.as_str())
            .map_err(|e| Error::file("clear", cache.dir(), e))?;
    }
    ui::status(&format!("removed {removed} cached token(s)"));
    let mut report = LogoutReport {
        removed,
        logout_url: None,
    };
    if args.everywhere {
        let issuer = ctx
            .config
            .custom_domain
            .as_ref()
            .map(|s| s.value.clone())
            .map_or_else(|| ctx.config.issuer().cloned(), Ok)?;
        let mut url = issuer.endpoint("/logout");
        if let Some(target) = ctx.config.logout_urls.first() {
            url = format!(
                "{url}?redirect={}",
                url::form_urlencoded::byte_serialize(target.value.as_bytes()).collect::<String>()
            );
        }
        if ui::browser::open(&url)? {
            ui::status("Opened Kinde's logout page in your browser");
        } else {
            ui::status("Open this URL to end the Kinde session:");
        }
        report.logout_url = Some(url);
    }
    ui::show(&report, |r| {
        if let Some(url) = &r.logout_url {
            ui::result(url);
        }
    });
    Ok(exit::OK)
}

/// What `logout --json` prints.
#[derive(Debug, Serialize)]
struct LogoutReport {
    /// Cached tokens removed.
    removed: usize,
    /// Kinde's logout URL, with `--everywhere`.
    logout_url: Option<String>,
}
