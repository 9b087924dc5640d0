//! `doctor`: everything that commonly goes wrong with a Kinde set-up, checked in one run, each
//! finding with the fix. Checks only read: the tenant is planned against (`kinde::plan`), never
//! changed. Each check passes, warns (something will not work, or is risky), fails (something is
//! broken) or is skipped (it cannot run because an earlier one failed, or nothing is configured).

pub mod scopes;

use std::path::Path;
use std::time::Duration;

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

    /// A failed check from an error: its message, and its hint (else `fallback_fix`) as the fix;
    /// no fix at all rather than an empty one.
    fn failed(name: impl Into<String>, err: &Error, fallback_fix: &str) -> Check {
        let check = Check::new(name, Status::Fail, err.to_string());
        match err.hint().filter(|h| !h.is_empty()).unwrap_or(fallback_fix) {
            "" => check,
            fix => check.with_fix(fix),
        }
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

/// How `doctor` runs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The time limit of each network step: discovery, the token, the tenant read.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            timeout: net::TIMEOUT,
        }
    }
}

/// The checks that need an answering domain, skipped together when there is none: each would
/// otherwise wait out its own timeout against a host that already did not answer.
const NETWORK_CHECKS: [&str; 4] = ["clock", "management token", "management scopes", "tenant"];

/// Run every check on `config` (or report why it did not load).
pub async fn diagnose(
    config: Result<&Config, &Error>,
    http: &reqwest::Client,
    options: Options,
) -> Report {
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
                "correct kinde.toml (or the variable) at the place the error names, then run `cargo kinde doctor` again",
            ));
            // Listed, not dropped: the reader sees what doctor would check once it loads.
            checks.extend(
                ["domain"]
                    .into_iter()
                    .chain(NETWORK_CHECKS)
                    .chain(["login port", ".env"])
                    .map(|name| {
                        Check::skip(name, "needs the configuration (the config check failed)")
                    }),
            );
            checks.push(cache_check());
            return Report::new(checks);
        }
    };
    let mut login_registered = false;
    match config.issuer() {
        Err(err) => {
            checks.push(Check::failed("domain", &err, ""));
            checks.extend(
                NETWORK_CHECKS.map(|name| Check::skip(name, "needs a domain (none is configured)")),
            );
        }
        Ok(issuer) => match discover(http, issuer, options.timeout).await {
            Err(check) => {
                checks.push(check);
                checks.extend(
                    NETWORK_CHECKS.map(|name| {
                        Check::skip(name, "needs the domain (the domain check failed)")
                    }),
                );
            }
            Ok(found) => {
                checks.push(found.check);
                checks.push(match found.date {
                    Some(server) => skew_check(crate::clock::now(), server),
                    None => Check::skip(
                        "clock",
                        format!("{} sent no Date header", issuer.endpoint(discovery::PATH)),
                    ),
                });
                let tenant = tenant(http, config, issuer, &found.document, options.timeout).await;
                login_registered = tenant.login_registered;
                checks.extend(tenant.checks);
            }
        },
    }
    checks.push(port_check(config, login_registered));
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
        .with_fix("unset the variable the warning names, or make it agree with kinde.toml (`cargo kinde config` shows where each value comes from)")
}

/// What the one discovery request found: the domain's check, the document and the server's
/// clock (seconds since the epoch, from `Date`).
struct Found {
    check: Check,
    document: discovery::Discovery,
    date: Option<u64>,
}

/// The domain check: one GET of the discovery document, whose `Date` also serves the clock
/// check, and whose token endpoint the token check uses.
async fn discover(
    http: &reqwest::Client,
    issuer: &Issuer,
    timeout: Duration,
) -> Result<Found, Check> {
    const FIX: &str =
        "use the domain shown under Settings > Details > Domain (KINDE_DOMAIN or [tenant] domain)";
    let url = issuer.endpoint(discovery::PATH);
    let fail = |detail: String| Check::new("domain", Status::Fail, detail).with_fix(FIX);
    let reply = match tokio::time::timeout(
        timeout,
        net::send(http.get(&url), &url, net::DISCOVERY_LIMIT),
    )
    .await
    {
        Ok(Ok(reply)) => reply,
        Ok(Err(err)) => return Err(Check::failed("domain", &err, FIX)),
        Err(_) => {
            return Err(fail(format!(
                "{url}: no answer within {} s (--timeout)",
                timeout.as_secs_f64()
            )));
        }
    };
    if !reply.status.is_success() {
        return Err(fail(format!(
            "{url} answered {}: {}",
            reply.status,
            net::excerpt(&reply.text(), 160)
        )));
    }
    let document: discovery::Discovery = serde_json::from_slice(&reply.body).map_err(|e| {
        fail(format!(
            "{url} is not an OIDC discovery document ({})",
            net::server_text(&e.to_string())
        ))
    })?;
    if let Err(err) = document.check(issuer) {
        return Err(Check::failed("domain", &err, FIX));
    }
    let date = reply
        .headers
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .map(|date| {
            date.duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    Ok(Found {
        check: Check::pass(
            "domain",
            format!(
                "{url} names issuer {} exactly",
                net::server_text(&document.issuer)
            ),
        ),
        document,
        date,
    })
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

/// What the checks that read the tenant found.
struct Tenant {
    checks: Vec<Check>,
    /// Whether the app lists the loopback callback of `cargo kinde login` (so login is in use).
    login_registered: bool,
}

/// The management token, its scopes, then the APIs, callback and logout URLs: one set of
/// credentials and one token for all of them.
async fn tenant(
    http: &reqwest::Client,
    config: &Config,
    issuer: &Issuer,
    document: &discovery::Discovery,
    timeout: Duration,
) -> Tenant {
    const NAME: &str = "management token";
    let skipped = |mut checks: Vec<Check>| {
        checks.push(Check::skip("management scopes", "needs a management token"));
        checks.push(Check::skip(
            "tenant",
            "APIs, callback and logout URLs need a management token",
        ));
        Tenant {
            checks,
            login_registered: false,
        }
    };
    let (Some(id), Some(secret)) = (
        &config.management_client_id,
        &config.management_client_secret,
    ) else {
        return skipped(vec![Check::new(NAME, Status::Fail, "the management (M2M) app's client id or secret is not set")
            .with_fix("set KINDE_MANAGEMENT_CLIENT_ID and KINDE_MANAGEMENT_CLIENT_SECRET in .env (Settings > Applications > <M2M app> > App keys), or run `cargo kinde init`")]);
    };
    let credentials = ClientCredentials {
        issuer: issuer.clone(),
        client_id: id.value.clone(),
        client_secret: secret.value.clone(),
        audiences: vec![issuer.management_audience()],
        scopes: Vec::new(),
    };
    // Fetched afresh (a cached token would hide a changed secret), from the endpoint the
    // discovery document named.
    let fetched = tokio::time::timeout(
        timeout,
        oauth::request_client_credentials(http, &document.token_endpoint, &credentials),
    )
    .await;
    let token = match fetched {
        Ok(Ok(token)) => token,
        Ok(Err(err)) => {
            return skipped(vec![Check::failed(
                NAME,
                &err,
                "check the management app's client id and secret (KINDE_MANAGEMENT_CLIENT_ID, KINDE_MANAGEMENT_CLIENT_SECRET)",
            )]);
        }
        Err(_) => {
            return skipped(vec![
                Check::new(
                    NAME,
                    Status::Fail,
                    format!(
                        "{}: no answer within {} s (--timeout)",
                        document.token_endpoint,
                        timeout.as_secs_f64()
                    ),
                )
                .with_fix("check your network, or pass a longer --timeout"),
            ]);
        }
    };
    let mut checks = vec![
        Check::pass(
            NAME,
            format!(
                "client {} got a token for {}",
                id.value,
                issuer.management_audience()
            ),
        ),
        scopes_check(config, &token),
    ];
    let client = Client::new(http.clone(), credentials, None).with_token(token);
    let read = tenant_checks(&client, config, timeout).await;
    checks.extend(read.checks);
    Tenant {
        checks,
        login_registered: read.login_registered,
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
async fn tenant_checks(client: &Client, config: &Config, timeout: Duration) -> Tenant {
    let failed = |check: Check| Tenant {
        checks: vec![check],
        login_registered: false,
    };
    let loopback = login_loopback(config);
    let mut desired = match Desired::from_config(config, false) {
        Ok(desired) => desired,
        Err(err) => {
            return failed(Check::failed(
                "tenant",
                &err,
                "fix kinde.toml as the error says",
            ));
        }
    };
    // Read the app's callback URLs also when `[login]` is not configured, to say whether
    // `cargo kinde login` would be let back in.
    if let (Some(url), Some(_)) = (&loopback, &desired.app)
        && !desired.callback_urls.contains(url)
    {
        desired.callback_urls.push(url.clone());
    }
    let current = match tokio::time::timeout(timeout, Current::read(client, &desired)).await {
        Ok(Ok(current)) => current,
        Ok(Err(err)) => {
            return failed(Check::failed(
                "tenant",
                &err,
                "grant the management app the Management API scopes cargo-kinde needs: Settings > APIs > Kinde Management API > Applications > <M2M app> > Manage scopes",
            ));
        }
        Err(_) => {
            return failed(
                Check::new(
                    "tenant",
                    Status::Fail,
                    format!(
                        "the Management API did not answer within {} s (--timeout)",
                        timeout.as_secs_f64()
                    ),
                )
                .with_fix("check your network, or pass a longer --timeout"),
            );
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
    let login_registered = match (&loopback, &desired.app) {
        (Some(url), Some(_)) => !adds_url(&plan, UrlKind::Callback, url),
        _ => false,
    };
    Tenant {
        checks,
        login_registered,
    }
}

/// Whether `plan` adds `url` as a URL of `kind` (so the tenant does not list it yet).
fn adds_url(plan: &Plan, kind: UrlKind, url: &str) -> bool {
    plan.changes.iter().any(|c| {
        matches!(c, Change::AddUrls { kind: k, urls, .. } if *k == kind && urls.iter().any(|u| u == url))
    })
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
            plan::Conflict::AmbiguousApplication { .. } => false,
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
        Change::CreateApplication { .. } | Change::AdoptApplication { .. } => None,
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

/// The `[login]` port: free, or else a failure when `cargo kinde login` is in use (a `[login]`
/// section, or its loopback callback configured or registered); a busy port nobody signs in
/// through is only noted.
fn port_check(config: &Config, login_registered: bool) -> Check {
    let port = config.login.port;
    if port == 0 {
        return Check::skip("login port", "[login] port = 0: any free port");
    }
    let used = config.login_configured
        || login_registered
        || login_loopback(config)
            .is_some_and(|url| config.callback_urls.iter().any(|c| c.value == url));
    port_status(port, used)
}

/// Whether 127.0.0.1:`port` can be listened on, and how much it matters (`used`: login is set up).
fn port_status(port: u16, used: bool) -> Check {
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Check::pass("login port", format!("127.0.0.1:{port} is free for `cargo kinde login`")),
        Err(e) if !used => Check::skip(
            "login port",
            format!("127.0.0.1:{port} is taken ({e}), but login is not set up (no [login] section in kinde.toml, and its callback is not registered)"),
        ),
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
        None if in_git_work_tree(path) => Check::pass(
            format!("{name} ignored by git"),
            format!("{} is git-ignored", path.display()),
        ),
        None => Check::skip(
            format!("{name} ignored by git"),
            format!("{} is not in a git work tree", path.display()),
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

/// Whether a directory above `path` holds `.git` (as `gitignore_needed` decides it).
fn in_git_work_tree(path: &Path) -> bool {
    std::path::absolute(path)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .is_some_and(|dir| dir.ancestors().any(|a| a.join(".git").exists()))
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
    fn a_busy_port_fails_only_when_login_is_used() {
        // An ephemeral port held here: no fixed port another test could be using.
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let unused = port_status(port, false);
        assert_eq!(unused.status, Status::Skip, "{unused:?}");
        assert!(unused.detail.contains("login is not set up"), "{unused:?}");
        let used = port_status(port, true);
        assert_eq!(used.status, Status::Fail, "{used:?}");
        assert!(used.fix.is_some());
        drop(held);
        assert_eq!(port_status(port, true).status, Status::Pass);
    }

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
