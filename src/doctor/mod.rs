//! `doctor`: everything that commonly goes wrong with a Kinde set-up, checked in one run, each
//! finding with the fix. Checks only read: the tenant is planned against (`kinde::plan`), never
//! changed. Each check passes, warns (something will not work, or is risky), fails (something is
//! broken) or is skipped (it cannot run because an earlier one failed, or nothing is configured).

pub mod scopes;

use std::path::Path;

use serde::Serialize;

use crate::config::Config;
use crate::error::Error;
use crate::kinde::client::Client;
use crate::kinde::plan::{self, Change, Current, Desired, Plan};
use crate::kinde::resources::UrlKind;
use crate::net;
use crate::oauth::{self, ClientCredentials, discovery};
use crate::urls::Issuer;

/// Clock skew above this is a warning: tokens may look not yet valid or expired early.
pub const SKEW_WARN_SECS: u64 = 30;
/// Clock skew above this is a failure: tokens are refused outright.
pub const SKEW_FAIL_SECS: u64 = 300;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// All good.
    Pass,
    /// Works, but something will not, or is risky.
    Warn,
    /// Broken.
    Fail,
    /// Not run.
    Skip,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// How it came out.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do about it (`None` when there is nothing to do).
    pub fix: Option<String>,
}

impl Check {
    fn new(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status,
            detail: detail.into(),
            fix: None,
        }
    }

    fn pass(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Pass, detail)
    }

    fn skip(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Skip, detail)
    }

    fn with_fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }

    /// A failed check from an error: its message, and its hint as the fix.
    fn failed(name: impl Into<String>, err: &Error, fallback_fix: &str) -> Check {
        Check::new(name, Status::Fail, err.to_string())
            .with_fix(err.hint().unwrap_or(fallback_fix).to_string())
    }
}

/// What `doctor` found: `{checks: [{name, status, detail, fix}], ok}`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Every check, in the order they ran.
    pub checks: Vec<Check>,
    /// Whether nothing failed (warnings allowed).
    pub ok: bool,
}

impl Report {
    fn new(checks: Vec<Check>) -> Report {
        let ok = checks.iter().all(|c| c.status != Status::Fail);
        Report { checks, ok }
    }

    /// How many checks came out as `status`.
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
}

/// Run every check on `config` (or report why it did not load).
pub async fn diagnose(config: Result<&Config, &Error>, http: &reqwest::Client) -> Report {
    let mut checks = Vec::new();
    let config = match config {
        Ok(config) => {
            checks.push(config_check(config));
            config
        }
        Err(err) => {
            checks.push(Check::failed(
                "config",
                err,
                "fix the file and line named above",
            ));
            checks.push(cache_check());
            return Report::new(checks);
        }
    };
    let issuer = match config.issuer() {
        Ok(issuer) => Some(issuer.clone()),
        Err(err) => {
            checks.push(Check::failed("domain", &err, ""));
            None
        }
    };
    let reachable = match &issuer {
        Some(issuer) => {
            let check = domain_check(http, issuer).await;
            let ok = check.status == Status::Pass;
            checks.push(check);
            checks.push(clock_check(http, issuer).await);
            ok
        }
        None => {
            checks.push(Check::skip("clock", "needs a domain"));
            false
        }
    };
    let token = match (&issuer, reachable) {
        (Some(issuer), true) => {
            let (check, token) = token_check(http, config, issuer).await;
            checks.push(check);
            token
        }
        _ => {
            checks.push(Check::skip(
                "management token",
                "needs a domain that answers",
            ));
            None
        }
    };
    match &token {
        Some(token) => checks.push(scopes_check(config, token)),
        None => checks.push(Check::skip("management scopes", "needs a management token")),
    }
    match (&issuer, &token) {
        (Some(issuer), Some(_)) => checks.extend(tenant_checks(http, config, issuer).await),
        _ => checks.push(Check::skip(
            "tenant",
            "APIs, callback and logout URLs need a management token",
        )),
    }
    checks.push(port_check(config));
    for path in [&config.dotenv, &config.profile_dotenv]
        .into_iter()
        .flatten()
    {
        checks.extend(dotenv_checks(path));
    }
    if config.dotenv.is_none() && config.profile_dotenv.is_none() {
        checks.push(Check::skip(".env", "no .env next to kinde.toml"));
    }
    checks.push(cache_check());
    Report::new(checks)
}

fn config_check(config: &Config) -> Check {
    let file = config.file.as_ref().map_or_else(
        || "no kinde.toml (environment only)".to_string(),
        |p| p.display().to_string(),
    );
    let profile = config
        .profile
        .as_ref()
        .map_or_else(String::new, |p| format!(", profile {p}"));
    if config.warnings.is_empty() {
        return Check::pass("config", format!("{file}{profile}"));
    }
    let warnings: Vec<String> = config.warnings.iter().map(ToString::to_string).collect();
    Check::new("config", Status::Warn, warnings.join("; "))
        .with_fix("unset the variable named, or make it agree with kinde.toml (`cargo kinde config` shows where each value comes from)")
}

async fn domain_check(http: &reqwest::Client, issuer: &Issuer) -> Check {
    match discovery::fetch(http, issuer).await {
        Ok(doc) => Check::pass(
            "domain",
            format!(
                "{} names issuer {} exactly",
                issuer.endpoint(discovery::PATH),
                net::server_text(&doc.issuer)
            ),
        ),
        Err(err) => Check::failed(
            "domain",
            &err,
            "use the domain shown under Settings > Details > Domain (KINDE_DOMAIN or [tenant] domain)",
        ),
    }
}

async fn clock_check(http: &reqwest::Client, issuer: &Issuer) -> Check {
    let url = issuer.endpoint(discovery::PATH);
    let reply = match net::send(http.get(&url), &url, net::DISCOVERY_LIMIT).await {
        Ok(reply) => reply,
        Err(err) => return Check::skip("clock", format!("no answer to compare with: {err}")),
    };
    let date = reply
        .headers
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    let Some(date) = date else {
        return Check::skip("clock", format!("{url} sent no Date header"));
    };
    let server = date
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    skew_check(crate::clock::now(), server)
}

/// The clock check for a local time and the server's, both in seconds since the epoch.
pub fn skew_check(local: u64, server: u64) -> Check {
    let skew = local.abs_diff(server);
    let direction = if local >= server {
        "ahead of"
    } else {
        "behind"
    };
    let detail = format!("this machine's clock is {skew} s {direction} the server's Date");
    let fix = "synchronise the clock (e.g. `sudo timedatectl set-ntp true`, or Settings > Date & Time > set automatically)";
    if skew > SKEW_FAIL_SECS {
        Check::new(
            "clock",
            Status::Fail,
            format!("{detail}: tokens will be refused as expired or not yet valid"),
        )
        .with_fix(fix)
    } else if skew > SKEW_WARN_SECS {
        Check::new(
            "clock",
            Status::Warn,
            format!("{detail}: fresh tokens may be refused"),
        )
        .with_fix(fix)
    } else {
        Check::pass("clock", detail)
    }
}

/// A management token, fetched afresh (a cached one would hide a changed secret).
async fn token_check(
    http: &reqwest::Client,
    config: &Config,
    issuer: &Issuer,
) -> (Check, Option<oauth::AccessToken>) {
    const NAME: &str = "management token";
    let (Some(id), Some(secret)) = (
        &config.management_client_id,
        &config.management_client_secret,
    ) else {
        let check = Check::new(NAME, Status::Fail, "the management (M2M) app's client id or secret is not set")
            .with_fix("set KINDE_MANAGEMENT_CLIENT_ID and KINDE_MANAGEMENT_CLIENT_SECRET in .env (Settings > Applications > <M2M app> > App keys), or run `cargo kinde init`");
        return (check, None);
    };
    let request = ClientCredentials {
        issuer: issuer.clone(),
        client_id: id.value.clone(),
        client_secret: secret.value.clone(),
        audiences: vec![issuer.management_audience()],
        scopes: Vec::new(),
    };
    match oauth::client_credentials(http, None, &request).await {
        Ok(token) => {
            let check = Check::pass(
                NAME,
                format!(
                    "client {} got a token for {}",
                    id.value,
                    issuer.management_audience()
                ),
            );
            (check, Some(token))
        }
        Err(err) => (
            Check::failed(
                NAME,
                &err,
                "check the management app's client id and secret",
            ),
            None,
        ),
    }
}

fn scopes_check(config: &Config, token: &oauth::AccessToken) -> Check {
    const NAME: &str = "management scopes";
    let Some(granted) = scopes::granted(token) else {
        return Check::new(
            NAME,
            Status::Warn,
            "the token lists no scopes (no `scp` or `scope`): cannot tell what it may do",
        );
    };
    let missing = scopes::missing(config, &granted);
    if missing.is_empty() {
        let used: Vec<&str> = scopes::used_features(config)
            .iter()
            .map(|f| f.name)
            .collect();
        return Check::pass(
            NAME,
            format!(
                "{} scopes granted; all that {} need",
                granted.len(),
                used.join(", ")
            ),
        );
    }
    let detail: Vec<String> = missing
        .iter()
        .map(|(feature, scopes)| format!("{feature} needs {}", scopes.join(", ")))
        .collect();
    Check::new(NAME, Status::Warn, format!("not granted: {}", detail.join("; ")))
        .with_fix("grant them: Settings > APIs > Kinde Management API > Applications > <M2M app> > Manage scopes")
}

/// The APIs, callback and logout URLs, through the plan `register` would make (read only).
async fn tenant_checks(http: &reqwest::Client, config: &Config, issuer: &Issuer) -> Vec<Check> {
    let (Some(id), Some(secret)) = (
        &config.management_client_id,
        &config.management_client_secret,
    ) else {
        return Vec::new();
    };
    let credentials = ClientCredentials {
        issuer: issuer.clone(),
        client_id: id.value.clone(),
        client_secret: secret.value.clone(),
        audiences: Vec::new(),
        scopes: Vec::new(),
    };
    let client = Client::new(http.clone(), credentials, None);
    let loopback = login_loopback(config);
    let mut desired = match Desired::from_config(config, false) {
        Ok(desired) => desired,
        Err(err) => return vec![Check::failed("tenant", &err, "fix kinde.toml")],
    };
    // Read the app's callback URLs also when `[login]` is not configured, to say whether
    // `cargo kinde login` would be let back in.
    if let (Some(url), Some(_)) = (&loopback, &desired.app)
        && !desired.callback_urls.contains(url)
    {
        desired.callback_urls.push(url.clone());
    }
    let current = match Current::read(&client, &desired).await {
        Ok(current) => current,
        Err(err) => {
            return vec![Check::failed(
                "tenant",
                &err,
                "grant the management app the scopes listed under `management scopes`",
            )];
        }
    };
    let plan = plan::plan(&desired, &current);
    let mut checks: Vec<Check> = config
        .apis
        .iter()
        .map(|api| api_check(api, &plan))
        .collect();
    if config.apis.is_empty() {
        checks.push(Check::skip("APIs", "kinde.toml lists no [[apis]]"));
    }
    checks.extend(url_checks(config, &desired, &plan, loopback.as_deref()));
    checks
}

/// The loopback callback `cargo kinde login` uses (`None`: port 0, any port).
fn login_loopback(config: &Config) -> Option<String> {
    (config.login.port != 0).then(|| format!("http://127.0.0.1:{}/callback", config.login.port))
}

const REGISTER_FIX: &str = "run `cargo kinde register` (`--dry-run` shows the changes first)";

fn api_check(api: &crate::config::Api, plan: &Plan) -> Check {
    let name = format!("API {}", api.name);
    let conflicts: Vec<String> = plan
        .conflicts
        .iter()
        .filter(|c| match c {
            plan::Conflict::UnknownApplication { api: a, .. }
            | plan::Conflict::AudienceChanged { api: a, .. } => *a == api.name,
        })
        .map(ToString::to_string)
        .collect();
    if !conflicts.is_empty() {
        return Check::new(name, Status::Fail, conflicts.join("; "))
            .with_fix("edit kinde.toml or the tenant as said, then run `cargo kinde register`");
    }
    let changes: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| change_audience(c) == Some(api.audience.as_str()))
        .map(ToString::to_string)
        .collect();
    if changes.is_empty() {
        Check::pass(
            name,
            format!(
                "registered as {}, with its scopes and applications",
                api.audience
            ),
        )
    } else {
        Check::new(
            name,
            Status::Warn,
            format!("not as kinde.toml says: {}", changes.join("; ")),
        )
        .with_fix(REGISTER_FIX)
    }
}

fn change_audience(change: &Change) -> Option<&str> {
    match change {
        Change::CreateApi { audience, .. }
        | Change::CreateScope { audience, .. }
        | Change::Authorize { audience, .. }
        | Change::Deauthorize { audience, .. }
        | Change::GrantScope { audience, .. } => Some(audience),
        Change::AddUrls { .. } | Change::RemoveUrls { .. } => None,
    }
}

fn url_checks(
    config: &Config,
    desired: &Desired,
    plan: &Plan,
    loopback: Option<&str>,
) -> Vec<Check> {
    let Some(app) = &desired.app else {
        return vec![Check::skip(
            "callback URLs",
            "no [app] client_id (KINDE_CLIENT_ID): nothing to sign in to",
        )];
    };
    let missing = |kind: UrlKind| -> Vec<String> {
        plan.changes
            .iter()
            .filter_map(|c| match c {
                Change::AddUrls { kind: k, urls, .. } if *k == kind => Some(urls.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    };
    let mut checks = Vec::new();
    // The loopback callback has its own check below.
    let configured: Vec<String> = config
        .callback_urls
        .iter()
        .map(|s| s.value.clone())
        .collect();
    let missing_callbacks = missing(UrlKind::Callback);
    for (name, kind, wanted) in [
        ("callback URLs", UrlKind::Callback, configured),
        (
            "logout URLs",
            UrlKind::Logout,
            config.logout_urls.iter().map(|s| s.value.clone()).collect(),
        ),
    ] {
        let absent: Vec<String> = missing(kind)
            .into_iter()
            .filter(|u| wanted.contains(u))
            .collect();
        checks.push(if wanted.is_empty() {
            Check::skip(name, "kinde.toml lists none")
        } else if absent.is_empty() {
            Check::pass(name, format!("{} registered for app {app}", wanted.len()))
        } else {
            Check::new(
                name,
                Status::Warn,
                format!("not registered for app {app}: {}", absent.join(", ")),
            )
            .with_fix(REGISTER_FIX)
        });
    }
    checks.push(match loopback {
        None => Check::skip("login callback", "[login] port = 0: any free port"),
        Some(url) if !missing_callbacks.iter().any(|u| u == url) => {
            Check::pass("login callback", format!("{url} registered: `cargo kinde login` can sign in"))
        }
        Some(url) if config.login_configured => {
            Check::new("login callback", Status::Warn, format!("{url} is not registered: `cargo kinde login` will be refused"))
                .with_fix(REGISTER_FIX)
        }
        Some(url) => Check::new("login callback", Status::Warn, format!("{url} is not registered: `cargo kinde login` will be refused"))
            .with_fix("add a [login] section to kinde.toml (its port is the callback's), then run `cargo kinde register`"),
    });
    checks
}

fn port_check(config: &Config) -> Check {
    let port = config.login.port;
    if port == 0 {
        return Check::skip("login port", "[login] port = 0: any free port");
    }
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Check::pass("login port", format!("127.0.0.1:{port} is free for `cargo kinde login`")),
        Err(e) => Check::new("login port", Status::Fail, format!("cannot listen on 127.0.0.1:{port}: {e}"))
            .with_fix(format!(
                "stop what listens there (`lsof -i :{port}`), or set another `port` under [login] in kinde.toml and run `cargo kinde register`"
            )),
    }
}

/// A secrets file: ignored by git, and readable by its owner only.
fn dotenv_checks(path: &Path) -> Vec<Check> {
    let name = path
        .file_name()
        .map_or_else(|| ".env".into(), |n| n.to_string_lossy().into_owned());
    let ignored = match crate::config::dotenv::gitignore_needed(path) {
        None => Check::pass(
            format!("{name} ignored by git"),
            format!(
                "{} is git-ignored or not in a git work tree",
                path.display()
            ),
        ),
        Some((gitignore, line)) => Check::new(
            format!("{name} ignored by git"),
            Status::Fail,
            format!("{} holds secrets and would be committed", path.display()),
        )
        .with_fix(format!("add a line `{line}` to {}", gitignore.display())),
    };
    vec![ignored, mode_check(&name, path)]
}

#[cfg(unix)]
fn mode_check(name: &str, path: &Path) -> Check {
    use std::os::unix::fs::PermissionsExt;
    let check = format!("{name} private");
    let mode = match std::fs::metadata(path) {
        Ok(meta) => meta.permissions().mode() & 0o777,
        Err(e) => return Check::skip(check, format!("cannot read {}: {e}", path.display())),
    };
    if mode & 0o077 == 0 {
        Check::pass(check, format!("mode {mode:o}"))
    } else {
        Check::new(
            check,
            Status::Warn,
            format!(
                "{} is mode {mode:o}: other users of this machine can read its secrets",
                path.display()
            ),
        )
        .with_fix(format!("chmod 600 {}", path.display()))
    }
}

#[cfg(not(unix))]
fn mode_check(name: &str, _path: &Path) -> Check {
    Check::skip(format!("{name} private"), "file modes are a Unix check")
}

fn cache_check() -> Check {
    match oauth::cache::TokenCache::open() {
        Ok(cache) => Check::pass(
            "cache directory",
            format!("{} is yours and private", cache.root().display()),
        ),
        Err(err) if matches!(err.root(), Error::Unsafe { .. }) => {
            Check::failed("cache directory", &err, "")
        }
        Err(err) => Check::new(
            "cache directory",
            Status::Warn,
            format!("no cache: {err}; every command fetches a new token"),
        )
        .with_fix("set CARGO_KINDE_CACHE_DIR to a directory of yours"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_is_graded() {
        assert_eq!(skew_check(1000, 1000).status, Status::Pass);
        assert_eq!(skew_check(1030, 1000).status, Status::Pass);
        assert_eq!(skew_check(1000, 1031).status, Status::Warn);
        assert_eq!(skew_check(1300, 1000).status, Status::Warn);
        let far = skew_check(1000, 1301);
        assert_eq!(far.status, Status::Fail);
        assert!(far.detail.contains("301 s behind"), "{}", far.detail);
        assert!(far.fix.is_some());
    }
}
