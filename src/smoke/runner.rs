//! The runner: checks run concurrently (bounded), tokens fetched once per token configuration and
//! shared, a per-check timeout and an overall one, and fail-fast.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{OnceCell, Semaphore};

use super::probes::{self, Probe};
use super::{Check, HttpCheck, OperationProbe, Step, Target};
use crate::config::Config;
use crate::config::file::TokenChoice;
use crate::error::Error;
use crate::jwt::jwks::{self, Jwk, Jwks, KeySource};
use crate::jwt::verify::{self, Expectations};
use crate::kinde::client::Client;
use crate::oauth::cache::TokenCache;
use crate::oauth::mint::MintError;
use crate::oauth::{self, AccessToken, ClientCredentials};
use crate::secret::Secret;
use crate::urls::Issuer;

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Checks at once.
    pub jobs: usize,
    /// Limit for one check.
    pub timeout: Duration,
    /// Limit for the whole run, counted from `started`: it bounds the management token fetched
    /// before the checks as well as the checks themselves.
    pub total_timeout: Duration,
    /// When the run started (the CLI starts the clock before any request).
    pub started: Instant,
    /// Stop at the first failure.
    pub fail_fast: bool,
}

impl Options {
    /// What is left of `--total-timeout`.
    pub fn left(&self) -> Duration {
        self.total_timeout.saturating_sub(self.started.elapsed())
    }

    /// Why a check that was still running when the run's time ran out failed.
    pub fn out_of_time(&self) -> String {
        format!(
            "did not finish within the total timeout ({} s, --total-timeout)",
            self.total_timeout.as_secs_f64()
        )
    }
}

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Passed.
    Pass,
    /// Failed.
    Fail,
    /// Not run.
    Skip,
}

/// Why a check failed, which decides the exit code (README, "Exit codes"), by type and never by
/// the wording of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Something answered and the answer was wrong: a status, an assertion, a key (exit 1).
    Check,
    /// The network or the server failed: no connection, a timeout, the run's time limit, a
    /// server error the client gave up on (exit 3 when every failure is one of these).
    Network,
    /// A token was refused: wrong credentials, an app not authorised for an audience (exit 4).
    Refused,
    /// The run could not be set up: configuration, flags, missing credentials, registering
    /// kinde.toml in the emulator (the exit code is the error's, 2 for a configuration).
    Setup,
}

impl Cause {
    /// The cause behind `error`, from its variant.
    pub fn of(error: &Error) -> Cause {
        match error.root() {
            Error::Network { .. } => Cause::Network,
            Error::Auth { .. } => Cause::Refused,
            _ => Cause::Check,
        }
    }

    /// The cause behind `error` when it stopped the run before the checks: the network's or a
    /// refusal as they are, anything else a set-up failure.
    pub fn of_setup(error: &Error) -> Cause {
        match Cause::of(error) {
            Cause::Check => Cause::Setup,
            cause => cause,
        }
    }
}

/// What happened to one check.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The check's name.
    pub name: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// Pass, fail or skip.
    pub status: Status,
    /// Time taken, in milliseconds.
    pub duration_ms: u64,
    /// The request, secrets redacted (`GET https://... (Authorization: Bearer ***)`).
    pub request: Option<String>,
    /// The response status.
    pub http_status: Option<u16>,
    /// What was found, or why it failed or was skipped.
    pub detail: String,
    /// An excerpt of the response body, on failure.
    pub body: Option<String>,
    /// Why it failed (only on failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// The OpenAPI operation it probes (`GET /orders/{id}`), with `smoke --openapi`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
}

/// Why a check could not do what it tests. The runner reports `Skip` as skipped and `Fail` as
/// failed, decided by this type and never by the wording of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// Something the check needs is missing here and nothing is known to be wrong with the
    /// tenant or the API (no cached user token, no emulator to sign an expired token).
    Skip(String),
    /// Something that should have worked did not (a token request refused or failed, an
    /// unreadable JWKS): the check fails with this cause and reason.
    Fail(Cause, String),
}

impl Unavailable {
    /// The outcome of `check` when it could not run for this reason.
    pub fn outcome(self, check: &Check) -> Outcome {
        match self {
            Unavailable::Skip(reason) => outcome(check, Status::Skip, reason),
            Unavailable::Fail(cause, reason) => Outcome {
                cause: Some(cause),
                ..outcome(check, Status::Fail, reason)
            },
        }
    }

    /// A failure of the check itself (exit 1), with this reason.
    fn check(reason: impl Into<String>) -> Self {
        Unavailable::Fail(Cause::Check, reason.into())
    }

    /// A failure because of `error`, its cause taken from the error's variant.
    fn error(error: &Error) -> Self {
        Unavailable::Fail(Cause::of(error), error.to_string())
    }

    /// The same kind with `prefix: ` before the reason of a failure (a skip's reason already
    /// says what to do).
    fn context(self, prefix: &str) -> Self {
        match self {
            Unavailable::Fail(cause, reason) => {
                Unavailable::Fail(cause, format!("{prefix}: {reason}"))
            }
            skip @ Unavailable::Skip(_) => skip,
        }
    }
}

/// What a client-credentials token is requested for; tokens are fetched once per request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TokenRequest {
    audiences: Vec<String>,
    scopes: Vec<String>,
}

/// Everything a run shares.
pub struct Shared {
    /// HTTP client.
    pub http: reqwest::Client,
    /// The tenant.
    pub issuer: Issuer,
    /// The configuration.
    pub config: Config,
    /// Management app credentials, when available.
    pub credentials: Option<(String, Secret)>,
    /// The Management API client, when credentials are available.
    pub kinde: Option<Client>,
    cache: Option<TokenCache>,
    tokens: HashMap<TokenRequest, OnceCell<Result<Secret, Unavailable>>>,
    jwks: OnceCell<Result<Jwks, Unavailable>>,
    /// The user token, looked up (and refreshed when it expired) once per run.
    user: OnceCell<Result<Secret, Unavailable>>,
    /// Tokens minted by the emulator (`smoke --openapi`), one at a time (a mint sets the smoke
    /// user's permissions, then signs), each once per run.
    minted: tokio::sync::Mutex<Minted>,
    /// Expired copies of base tokens, signed by the emulator once per base token.
    expired: tokio::sync::Mutex<HashMap<String, Result<String, Unavailable>>>,
    warnings: Mutex<Vec<String>>,
}

/// A minted token's permissions, audience and forgery.
type MintKey = (Vec<String>, Option<String>, Option<&'static str>);

/// What the emulator minted so far, and whether it can.
#[derive(Default)]
struct Minted {
    /// Why tokens cannot be minted here (a real tenant): the probes needing one are skipped.
    off: Option<Unavailable>,
    /// The organization the tokens are for (`--org`); [`MINT_ORG`] when none is given.
    org: Option<String>,
    tokens: HashMap<MintKey, Result<String, Unavailable>>,
}

/// The user `smoke --openapi` mints tokens for in the emulator, and its organization.
pub const MINT_USER: &str = "cargo-kinde-smoke@example.com";
/// The organization of [`MINT_USER`]'s tokens.
pub const MINT_ORG: &str = "org_cargo_kinde_smoke";

/// Why a probe that needs a minted token could not run against a real tenant.
fn no_minting(why: &str) -> Unavailable {
    Unavailable::Skip(format!(
        "could not run: a valid token with chosen permissions is minted by the emulator only ({why})"
    ))
}

/// Whether `issuer` mints tokens with chosen permissions (`POST /_emulator/mint`): `Ok(None)`
/// when it does, `Ok(Some(reason))` when it is not an emulator (a `*.kinde.com` tenant is not
/// even asked; any answer but the emulator's is not one), `Err` when the emulator refused.
pub async fn minting(
    http: &reqwest::Client,
    issuer: &Issuer,
    audience: Option<&str>,
) -> Result<Option<String>, Error> {
    match mint_request(http, issuer, MINT_ORG, &[], audience, None).await {
        Ok(_) => Ok(None),
        Err(MintError::NotEmulator(why)) => Ok(Some(why)),
        Err(MintError::Refused(message)) => Err(Error::input(format!(
            "the emulator could not mint a token: {message}"
        ))),
        Err(MintError::Failed(e)) => Err(e),
    }
}

/// One `POST /_emulator/mint` for [`MINT_USER`] in `org` holding exactly `permissions`.
async fn mint_request(
    http: &reqwest::Client,
    issuer: &Issuer,
    org: &str,
    permissions: &[String],
    audience: Option<&str>,
    forge: Option<&str>,
) -> Result<String, MintError> {
    let mut body = serde_json::json!({
        "email": MINT_USER,
        "org": org,
        "permissions": permissions,
    });
    if let Some(aud) = audience {
        body["audience"] = serde_json::json!([aud]);
    }
    if let Some(forge) = forge {
        body["forge"] = serde_json::json!(forge);
    }
    crate::oauth::mint::mint(http, issuer, &body)
        .await
        .map(|minted| minted.access_token)
        .map_err(|e| match e {
            MintError::NotEmulator(why) => MintError::NotEmulator(format!("{issuer} {why}")),
            other => other,
        })
}

impl Shared {
    /// Shared state for `checks`; tokens go through `cache` (the user's token cache) when given.
    pub fn new(
        http: reqwest::Client,
        issuer: Issuer,
        config: Config,
        credentials: Option<(String, Secret)>,
        kinde: Option<Client>,
        cache: Option<TokenCache>,
        checks: &[Check],
    ) -> Self {
        let mut shared = Shared {
            http,
            issuer,
            config,
            credentials,
            kinde,
            cache,
            tokens: HashMap::new(),
            jwks: OnceCell::new(),
            user: OnceCell::new(),
            minted: tokio::sync::Mutex::new(Minted::default()),
            expired: tokio::sync::Mutex::new(HashMap::new()),
            warnings: Mutex::new(Vec::new()),
        };
        // Every token the checks can ask for gets its cell now, so concurrent checks share one
        // request per token.
        let mut requests = vec![shared.management_request()];
        for check in checks {
            match &check.step {
                Step::Http(HttpCheck { token, .. }) => {
                    requests.extend(shared.request_for(token).ok().flatten());
                }
                Step::Probe {
                    audience: Some(aud),
                    ..
                } => {
                    // The API's token, and every declared API's: a token for another
                    // audience, where the emulator cannot mint one.
                    let others = shared.config.apis.iter().map(|a| &a.audience);
                    requests.extend(std::iter::once(aud).chain(others).map(|aud| TokenRequest {
                        audiences: vec![aud.clone()],
                        scopes: Vec::new(),
                    }));
                }
                Step::Operation { target, .. } => {
                    if let Some(aud) = &target.audience {
                        requests.push(TokenRequest {
                            audiences: vec![aud.clone()],
                            scopes: Vec::new(),
                        });
                    }
                }
                _ => {}
            }
        }
        for request in requests {
            shared.tokens.entry(request).or_default();
        }
        shared
    }

    /// The management M2M token, fetched now (within `--timeout` and what is left of
    /// `--total-timeout`) and kept for the run, success or failure: the CLI calls this before any
    /// check so refused credentials are one auth error to report (exit 4), and the checks that
    /// need the token fail with its reason without asking again.
    pub async fn management_token(&mut self, options: &Options) -> Result<(), Error> {
        let request = self.management_request();
        let left = options.left();
        let bound = options.timeout.min(left);
        let result = match tokio::time::timeout(bound, self.request_token(&request)).await {
            Ok(result) => result,
            Err(_) if left <= options.timeout => Err(Error::network(options.out_of_time())),
            Err(_) => Err(Error::network(format!(
                "the token request timed out after {} s (--timeout)",
                options.timeout.as_secs_f64()
            ))),
        };
        let kept = match &result {
            Ok(token) => Ok(token.token.clone()),
            Err(e) => Err(Unavailable::error(e)),
        };
        if let Some(cell) = self.tokens.get(&request) {
            let _ = cell.set(kept);
        }
        // The registered-resource checks call the Management API with this same token.
        if let Ok(token) = &result
            && let Some(kinde) = self.kinde.take()
        {
            self.kinde = Some(kinde.with_token(token.clone()));
        }
        result.map(drop)
    }

    /// Every client-credentials token of the run fails with `why` without a request: the
    /// credentials are missing, so the checks that need a token report that reason.
    pub fn tokens_unavailable(&self, why: &Unavailable) {
        for cell in self.tokens.values() {
            let _ = cell.set(Err(why.clone()));
        }
    }

    /// Tokens cannot be minted here (`why`, from [`minting`]): the probes that need one are
    /// skipped with the reason and the protection probes forge from the M2M token.
    pub fn minting_off(&self, why: &str) {
        if let Ok(mut minted) = self.minted.try_lock() {
            minted.off = Some(no_minting(why));
        }
    }

    /// Whether tokens cannot be minted here (a real tenant).
    async fn minting_is_off(&self) -> bool {
        self.minted.lock().await.off.is_some()
    }

    /// Minted tokens are for organization `org` (`--org`: the one the API's paths name).
    pub fn mint_in(&self, org: &str) {
        if let Ok(mut minted) = self.minted.try_lock() {
            minted.org = Some(org.to_string());
        }
    }

    /// A token of the emulator's for the smoke user holding exactly `permissions`, for
    /// `audience` (made wrong the one way `forge` names, when given): minted once per run, one
    /// mint at a time. `Skip` where nothing can mint.
    async fn mint(
        &self,
        permissions: &[String],
        audience: Option<&str>,
        forge: Option<&'static str>,
    ) -> Result<String, Unavailable> {
        let mut minted = self.minted.lock().await;
        if let Some(off) = &minted.off {
            return Err(off.clone());
        }
        let key = (permissions.to_vec(), audience.map(String::from), forge);
        if let Some(found) = minted.tokens.get(&key) {
            return found.clone();
        }
        let org = minted.org.clone().unwrap_or_else(|| MINT_ORG.to_string());
        let result = match mint_request(
            &self.http,
            &self.issuer,
            &org,
            permissions,
            audience,
            forge,
        )
        .await
        {
            Ok(token) => Ok(token),
            Err(MintError::NotEmulator(why)) => {
                minted.off = Some(no_minting(&why));
                return Err(no_minting(&why));
            }
            Err(MintError::Refused(message)) => Err(Unavailable::error(&Error::input(format!(
                "the emulator could not mint a token: {message}"
            )))),
            Err(MintError::Failed(e)) => Err(Unavailable::error(&e)),
        };
        minted.tokens.insert(key, result.clone());
        result
    }

    /// Things the caller may want to warn about (a token that could not be cached).
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }

    fn management_request(&self) -> TokenRequest {
        TokenRequest {
            audiences: vec![self.issuer.management_audience()],
            scopes: Vec::new(),
        }
    }

    /// The client-credentials request behind `choice`; `None` for no token or a user token.
    fn request_for(&self, choice: &TokenChoice) -> Result<Option<TokenRequest>, Unavailable> {
        match choice {
            TokenChoice::None | TokenChoice::User => Ok(None),
            TokenChoice::M2m => Ok(Some(self.management_request())),
            TokenChoice::Named(name) => {
                let t = self
                    .config
                    .tokens
                    .get(name)
                    .ok_or_else(|| Unavailable::check(format!("no [tokens.{name}]")))?;
                let audiences = if t.audience.is_empty() {
                    vec![self.issuer.management_audience()]
                } else {
                    t.audience.clone()
                };
                Ok(Some(TokenRequest {
                    audiences,
                    scopes: t.scopes.clone(),
                }))
            }
        }
    }

    /// The token for `choice`, fetched once for the whole run.
    async fn token(&self, choice: &TokenChoice) -> Result<Option<String>, Unavailable> {
        if *choice == TokenChoice::User {
            return self.user_token().await.map(Some);
        }
        match self.request_for(choice)? {
            None => Ok(None),
            Some(request) => self.fetch(&request).await.map(Some),
        }
    }

    /// The user token `cargo kinde login` cached for `[app]` with the `[login]` audiences and
    /// scopes, renewed with the cached refresh token when it expired, as `cargo kinde token
    /// --user` does (smoke never opens a browser, so without either the check is skipped).
    /// Looked up once per run.
    async fn user_token(&self) -> Result<String, Unavailable> {
        self.user
            .get_or_init(|| async {
                let cache = self.cache.as_ref().ok_or_else(|| {
                    Unavailable::Skip("no token cache to read a user token from".into())
                })?;
                let request = self.login_request()?;
                let stored = oauth::login::stored(|| Ok(&self.http), &request, cache)
                    .await
                    .map_err(|e| Unavailable::error(&e))?;
                match stored {
                    oauth::login::Stored::Cached(tokens) => Ok(tokens.access.token),
                    oauth::login::Stored::Refreshed(tokens) => {
                        if let Some(why) = &tokens.access.unsaved {
                            self.warn(format!("could not cache the refreshed user token: {why}"));
                        }
                        Ok(tokens.access.token)
                    }
                    oauth::login::Stored::RefreshRefused(reason) => Err(Unavailable::Skip(format!(
                        "the cached sign-in could not be refreshed ({reason}); run `cargo kinde login` again"
                    ))),
                    oauth::login::Stored::Nothing => Err(Unavailable::Skip("no cached user token; run `cargo kinde login` (or `cargo kinde token --user`) first".into())),
                }
            })
            .await
            .as_ref()
            .map(|t| t.expose().to_string())
            .map_err(Clone::clone)
    }

    /// The sign-in `cargo kinde login` makes for this configuration, whose token the cache holds.
    fn login_request(&self) -> Result<oauth::login::Request, Unavailable> {
        let app = self.config.app_client_id.as_ref().ok_or_else(|| {
            Unavailable::Skip("no app client id (KINDE_CLIENT_ID) for a user token".into())
        })?;
        let issuer = self
            .config
            .custom_domain
            .as_ref()
            .map_or(&self.issuer, |s| &s.value);
        Ok(oauth::login::Request {
            issuer: issuer.clone(),
            client_id: app.value.clone(),
            client_secret: self
                .config
                .app_client_secret
                .as_ref()
                .map(|s| s.value.clone()),
            scopes: self.config.login.scopes.clone(),
            audiences: self.config.login.audiences.clone(),
            prompt: None,
            extra: Vec::new(),
            timeout: std::time::Duration::from_secs(1),
        })
    }

    /// A client-credentials token for `request`, once per run (cells are made in [`Shared::new`]).
    async fn fetch(&self, request: &TokenRequest) -> Result<String, Unavailable> {
        let cell = self
            .tokens
            .get(request)
            .ok_or_else(|| Unavailable::check("token configuration not prepared for this run"))?;
        cell.get_or_init(|| async {
            self.request_token(request)
                .await
                .map(|t| t.token)
                .map_err(|e| Unavailable::error(&e))
        })
        .await
        .as_ref()
        .map(|t| t.expose().to_string())
        .map_err(Clone::clone)
    }

    /// The one way smoke gets an M2M token: the oauth module's client credentials with the cache.
    async fn request_token(&self, request: &TokenRequest) -> Result<AccessToken, Error> {
        let (client_id, client_secret) = self
            .credentials
            .clone()
            .ok_or_else(|| Error::input("no management (M2M) credentials configured"))?;
        let credentials = ClientCredentials {
            issuer: self.issuer.clone(),
            client_id,
            client_secret,
            audiences: request.audiences.clone(),
            scopes: request.scopes.clone(),
        };
        let token =
            oauth::client_credentials(&self.http, self.cache.as_ref(), &credentials).await?;
        if let Some(why) = &token.unsaved {
            self.warn(format!("could not cache the token: {why}"));
        }
        Ok(token)
    }

    /// Keep a warning for the end of the run.
    fn warn(&self, warning: String) {
        if let Ok(mut warnings) = self.warnings.lock() {
            warnings.push(warning);
        }
    }

    /// The issuer's JWKS, fetched once for the run.
    async fn jwks(&self) -> Result<Jwks, Unavailable> {
        self.jwks
            .get_or_init(|| async {
                jwks::fetch(&self.http, &jwks::endpoint(&self.issuer))
                    .await
                    .map_err(|e| Unavailable::error(&e))
            })
            .await
            .clone()
    }
}

/// Run `checks` and return their outcomes in order; `progress` hears of each as it finishes.
pub async fn run(
    shared: Arc<Shared>,
    checks: Vec<Check>,
    options: &Options,
    progress: &dyn Fn(usize, usize, &Outcome),
) -> Vec<Outcome> {
    let total = checks.len();
    let mut finished = 0;
    let semaphore = Arc::new(Semaphore::new(options.jobs.max(1)));
    let stop = Arc::new(AtomicBool::new(false));
    let mut set = tokio::task::JoinSet::new();
    for (index, check) in checks.iter().cloned().enumerate() {
        let (shared, semaphore, stop) = (shared.clone(), semaphore.clone(), stop.clone());
        let (timeout, fail_fast) = (options.timeout, options.fail_fast);
        set.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            if stop.load(Ordering::SeqCst) {
                return (
                    index,
                    skipped(&check, "not run: an earlier check failed (--fail-fast)"),
                );
            }
            let started = Instant::now();
            let mut outcome = match tokio::time::timeout(timeout, run_one(&shared, &check)).await {
                Ok(outcome) => outcome,
                Err(_) => Outcome {
                    cause: Some(Cause::Network),
                    ..fail(
                        &check,
                        format!("timed out after {} s (--timeout)", timeout.as_secs_f64()),
                    )
                },
            };
            outcome.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            outcome.made_safe();
            if fail_fast && outcome.status == Status::Fail {
                stop.store(true, Ordering::SeqCst);
            }
            (index, outcome)
        });
    }
    let mut outcomes: Vec<Option<Outcome>> = vec![None; checks.len()];
    let deadline = tokio::time::sleep(options.left());
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            next = set.join_next() => match next {
                Some(Ok((index, outcome))) => {
                    finished += 1;
                    progress(finished, total, &outcome);
                    outcomes[index] = Some(outcome);
                    if options.fail_fast && stop.load(Ordering::SeqCst) {
                        set.abort_all();
                    }
                }
                Some(Err(_)) => {}
                None => break,
            },
            () = &mut deadline => {
                set.abort_all();
                for (index, slot) in outcomes.iter_mut().enumerate() {
                    if slot.is_none() {
                        *slot = Some(Unavailable::Fail(Cause::Network, options.out_of_time()).outcome(&checks[index]));
                    }
                }
                break;
            }
        }
    }
    outcomes
        .into_iter()
        .enumerate()
        .map(|(index, o)| {
            o.unwrap_or_else(|| {
                skipped(
                    &checks[index],
                    "not run: an earlier check failed (--fail-fast)",
                )
            })
        })
        .collect()
}

impl Outcome {
    /// The one check a report holds when the run stopped before its checks (a configuration
    /// error, missing credentials, a failed registration in the emulator): named `setup`, failed
    /// with the error's message and hint, secrets masked.
    pub fn setup(error: &Error) -> Outcome {
        let detail = match error.hint() {
            Some(hint) => format!("{error} (help: {hint})"),
            None => error.to_string(),
        };
        let mut outcome = Outcome {
            name: "setup".into(),
            tags: Vec::new(),
            status: Status::Fail,
            duration_ms: 0,
            request: None,
            http_status: None,
            detail,
            body: None,
            cause: Some(Cause::of_setup(error)),
            operation: None,
        };
        outcome.made_safe();
        outcome
    }

    /// Details and bodies quote what servers sent (bodies, claims, error messages): mask every
    /// known secret and escape terminal controls once, here, before any report shows or writes
    /// them.
    fn made_safe(&mut self) {
        self.detail = crate::net::server_text(&self.detail);
        self.body = self.body.as_deref().map(crate::net::server_text);
        self.request = self.request.as_deref().map(crate::net::server_text);
    }
}

fn outcome(check: &Check, status: Status, detail: String) -> Outcome {
    Outcome {
        name: check.name.clone(),
        tags: check.tags.clone(),
        status,
        duration_ms: 0,
        request: None,
        http_status: None,
        detail,
        body: None,
        cause: (status == Status::Fail).then_some(Cause::Check),
        operation: check.operation().map(String::from),
    }
}

/// A failure because of `error` (a request that got no answer, a refused token).
fn failed_by(check: &Check, error: &Error) -> Outcome {
    Unavailable::error(error).outcome(check)
}

fn pass(check: &Check, detail: String) -> Outcome {
    outcome(check, Status::Pass, detail)
}

fn fail(check: &Check, detail: String) -> Outcome {
    outcome(check, Status::Fail, detail)
}

fn skipped(check: &Check, detail: &str) -> Outcome {
    outcome(check, Status::Skip, detail.to_string())
}

/// The answer to one request.
struct Answer {
    status: u16,
    json: Option<Value>,
    text: String,
    latency: Duration,
}

async fn send(
    shared: &Shared,
    method: &Method,
    url: &str,
    token: Option<&str>,
    headers: &[(String, String)],
    body: Option<&Value>,
) -> Result<Answer, Error> {
    let mut request = shared.http.request(method.clone(), url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (k, v) in headers {
        request = request.header(k, v);
    }
    match body {
        Some(Value::String(text)) => request = request.body(text.clone()),
        Some(json) => request = request.json(json),
        None => {}
    }
    let started = Instant::now();
    let reply = crate::net::send(request, url, crate::net::API_LIMIT).await?;
    let text = reply.text();
    Ok(Answer {
        status: reply.status.as_u16(),
        json: serde_json::from_str(&text).ok(),
        text,
        latency: started.elapsed(),
    })
}

fn describe_request(method: &Method, url: &str, token: bool) -> String {
    if token {
        format!("{method} {url} (Authorization: Bearer ***)")
    } else {
        format!("{method} {url}")
    }
}

fn excerpt(answer: &Answer) -> String {
    match &answer.json {
        Some(json) => {
            crate::net::excerpt(&crate::secret::redact_json(json.clone()).to_string(), 300)
        }
        None => crate::net::excerpt(&answer.text, 300),
    }
}

async fn run_one(shared: &Shared, check: &Check) -> Outcome {
    match &check.step {
        Step::Http(http) => run_http(shared, check, http).await,
        Step::Discovery => discovery(shared, check).await,
        Step::Jwks => jwks_check(shared, check).await,
        Step::M2mToken => m2m_token(shared, check).await,
        Step::GetUsers => {
            let http = HttpCheck {
                method: Method::GET,
                url: shared.issuer.endpoint("/api/v1/users"),
                token: TokenChoice::M2m,
                headers: Vec::new(),
                body: None,
                expect: vec![200],
                asserts: vec![super::Assertion {
                    pointer: "/users".into(),
                    rule: super::Rule::MinLength(0),
                }],
                max_latency: None,
            };
            run_http(shared, check, &http).await
        }
        Step::ApiRegistered(api) => api_registered(shared, check, api).await,
        Step::CallbackRegistered(url) => callback_registered(shared, check, url).await,
        Step::Probe {
            method,
            url,
            audience,
            probe,
        } => {
            let target = Target {
                label: String::new(),
                method: method.clone(),
                url: url.clone(),
                body: None,
                audience: audience.clone(),
                permissions: Vec::new(),
                required_any: Vec::new(),
                others: Vec::new(),
            };
            run_probe(shared, check, &target, *probe, false).await
        }
        Step::Operation { target, probe } => match probe {
            OperationProbe::Protect(p) => run_probe(shared, check, target, *p, true).await,
            OperationProbe::Lacking => lacking(shared, check, target).await,
            OperationProbe::Control => control(shared, check, target).await,
            OperationProbe::Public(why) => {
                outcome(check, Status::Skip, format!("public: {why}; not probed"))
            }
            OperationProbe::NotProbed(why) => outcome(check, Status::Skip, why.clone()),
        },
    }
}

/// How reports name a token: `M2M` as everywhere else in messages, else as kinde.toml does.
fn token_label(choice: &TokenChoice) -> String {
    match choice {
        TokenChoice::M2m => "M2M".into(),
        other => other.to_string(),
    }
}

/// The Management API client for a registered-resource check, once the run's M2M token is had:
/// the check fails with the token's reason instead of asking for a token of its own.
async fn management_client<'a>(shared: &'a Shared, check: &Check) -> Result<&'a Client, Outcome> {
    if let Err(why) = shared.token(&TokenChoice::M2m).await {
        return Err(why.context("could not get the M2M token").outcome(check));
    }
    shared
        .kinde
        .as_ref()
        .ok_or_else(|| fail(check, "no management credentials to read the tenant".into()))
}

async fn run_http(shared: &Shared, check: &Check, http: &HttpCheck) -> Outcome {
    let token = match shared.token(&http.token).await {
        Ok(t) => t,
        Err(why) => {
            return why
                .context(&format!(
                    "could not get the {} token",
                    token_label(&http.token)
                ))
                .outcome(check);
        }
    };
    let request = describe_request(&http.method, &http.url, token.is_some());
    let answer = match send(
        shared,
        &http.method,
        &http.url,
        token.as_deref(),
        &http.headers,
        http.body.as_ref(),
    )
    .await
    {
        Ok(a) => a,
        Err(e) => {
            return Outcome {
                request: Some(request),
                ..failed_by(check, &e)
            };
        }
    };
    let mut out = Outcome {
        request: Some(request),
        http_status: Some(answer.status),
        ..pass(check, String::new())
    };
    let latency_ms = answer.latency.as_millis();
    let failure = if !http.expect.contains(&answer.status) {
        let expected: Vec<String> = http.expect.iter().map(u16::to_string).collect();
        Some(format!(
            "status {}, expected {}",
            answer.status,
            expected.join(" or ")
        ))
    } else if let Some(limit) = http.max_latency.filter(|l| answer.latency > *l) {
        Some(format!(
            "took {latency_ms} ms, more than max_latency_ms = {}",
            limit.as_millis()
        ))
    } else {
        http.asserts
            .iter()
            .find_map(|a| super::check_assertion(answer.json.as_ref(), a).err())
    };
    match failure {
        Some(reason) => {
            out.status = Status::Fail;
            out.cause = Some(Cause::Check);
            out.detail = reason;
            out.body = Some(excerpt(&answer));
        }
        None => {
            let asserts = if http.asserts.is_empty() {
                String::new()
            } else {
                format!(", {} assertion(s) hold", http.asserts.len())
            };
            out.detail = format!("status {} in {latency_ms} ms{asserts}", answer.status);
        }
    }
    out
}

async fn discovery(shared: &Shared, check: &Check) -> Outcome {
    let url = shared.issuer.endpoint("/.well-known/openid-configuration");
    let request = Some(describe_request(&Method::GET, &url, false));
    let answer = match send(shared, &Method::GET, &url, None, &[], None).await {
        Ok(a) => a,
        Err(e) => {
            return Outcome {
                request,
                ..failed_by(check, &e)
            };
        }
    };
    let doc = answer.json.clone().unwrap_or(Value::Null);
    let issuer = doc.get("issuer").and_then(Value::as_str).unwrap_or("");
    let reason = if answer.status != 200 {
        Some(format!("status {}, expected 200", answer.status))
    } else if issuer.trim_end_matches('/') != shared.issuer.as_str() {
        Some(format!(
            "`issuer` is `{issuer}`, expected `{}`",
            shared.issuer
        ))
    } else if doc.get("jwks_uri").and_then(Value::as_str).is_none()
        || doc.get("token_endpoint").and_then(Value::as_str).is_none()
    {
        Some("`jwks_uri` or `token_endpoint` is missing".into())
    } else {
        None
    };
    match reason {
        Some(r) => Outcome {
            request,
            http_status: Some(answer.status),
            body: Some(excerpt(&answer)),
            ..fail(check, r)
        },
        None => Outcome {
            request,
            http_status: Some(200),
            ..pass(check, format!("issuer {issuer}"))
        },
    }
}

async fn jwks_check(shared: &Shared, check: &Check) -> Outcome {
    let jwks = match shared.jwks().await {
        Ok(j) => j,
        Err(why) => return why.outcome(check),
    };
    let signing: Vec<&Jwk> = jwks
        .keys
        .iter()
        .filter(|k| k.kty == "RSA" && k.use_.as_deref() != Some("enc"))
        .collect();
    if signing.is_empty() {
        return fail(check, "the JWKS holds no RSA signing key".into());
    }
    if let Some(bad) = signing.iter().find(|k| {
        k.use_.as_deref() != Some("sig") || k.alg.as_deref().is_some_and(|a| a != "RS256")
    }) {
        return fail(
            check,
            format!(
                "key {:?} lacks `use: sig` / `alg: RS256` (Kinde's validators reject it)",
                bad.kid
            ),
        );
    }
    // discovery's jwks_uri must serve the same keys.
    let url = shared.issuer.endpoint("/.well-known/openid-configuration");
    let jwks_uri = match send(shared, &Method::GET, &url, None, &[], None).await {
        Ok(a) => a
            .json
            .and_then(|d| d.get("jwks_uri").and_then(Value::as_str).map(String::from)),
        Err(e) => return failed_by(check, &e),
    };
    if let Some(uri) = jwks_uri {
        let kids = |j: &Jwks| {
            j.keys
                .iter()
                .filter_map(|k| k.kid.clone())
                .collect::<Vec<_>>()
        };
        match jwks::fetch(&shared.http, &uri).await {
            Ok(other) if kids(&other) == kids(&jwks) => {}
            Ok(_) => {
                return fail(
                    check,
                    format!(
                        "{uri} (discovery's jwks_uri) serves other keys than /.well-known/jwks.json"
                    ),
                );
            }
            Err(e) => return failed_by(check, &e),
        }
    }
    pass(
        check,
        format!(
            "{} RS256 signing key(s), the same at discovery's jwks_uri",
            signing.len()
        ),
    )
}

async fn m2m_token(shared: &Shared, check: &Check) -> Outcome {
    let token = match shared.token(&TokenChoice::M2m).await {
        Ok(Some(t)) => t,
        Ok(None) => return fail(check, "no token".into()),
        Err(why) => return why.context("could not get the M2M token").outcome(check),
    };
    let audience = shared.issuer.management_audience();
    let expect = Expectations {
        issuers: vec![shared.issuer.as_str().to_string()],
        audiences: vec![audience.clone()],
        scopes: vec!["read:users".into()],
        azp: shared.credentials.as_ref().map(|(id, _)| id.clone()),
        leeway: 30,
        now: crate::clock::now(),
    };
    let keys = match shared.jwks().await {
        Ok(j) => j,
        Err(why) => return why.outcome(check),
    };
    let mut keys = verify::IssuerKeys::new().with(shared.issuer.as_str(), KeySource::fixed(keys));
    match verify::verify(&token, &expect, &mut keys).await {
        Ok(report) if report.valid => pass(
            check,
            format!("verified: audience {audience}, scope read:users"),
        ),
        Ok(report) => {
            let failed = report
                .first_failure()
                .map(|c| format!("{}: {}", c.name, c.detail))
                .unwrap_or_default();
            fail(
                check,
                format!("the M2M token failed verification: {failed}"),
            )
        }
        Err(e) => failed_by(check, &e),
    }
}

async fn api_registered(shared: &Shared, check: &Check, api: &crate::config::Api) -> Outcome {
    let kinde = match management_client(shared, check).await {
        Ok(kinde) => kinde,
        Err(outcome) => return outcome,
    };
    let apis = match kinde.apis().await {
        Ok(a) => a,
        Err(e) => return failed_by(check, &e),
    };
    let Some(found) = apis.iter().find(|a| a.audience == api.audience) else {
        return fail(
            check,
            format!(
                "no API with audience {} in the tenant: run `cargo kinde register`",
                api.audience
            ),
        );
    };
    let authorised: Vec<String> = match kinde.api_applications(&found.id).await {
        Ok(apps) => apps
            .into_iter()
            .filter(|a| a.is_active != Some(false))
            .map(|a| a.id)
            .collect(),
        Err(e) => return failed_by(check, &e),
    };
    let mut missing = Vec::new();
    for who in &api.authorize {
        let id = match who.as_str() {
            "app" => shared
                .config
                .app_client_id
                .as_ref()
                .map(|s| s.value.clone()),
            "management" => shared
                .config
                .management_client_id
                .as_ref()
                .map(|s| s.value.clone()),
            id => Some(id.to_string()),
        };
        match id {
            Some(id) if authorised.contains(&id) => {}
            Some(id) => missing.push(id),
            None => missing.push(format!("{who} (no client id configured)")),
        }
    }
    if missing.is_empty() {
        pass(
            check,
            format!(
                "`{}` registered, authorised for {} application(s)",
                found.name,
                api.authorize.len()
            ),
        )
    } else {
        fail(
            check,
            format!(
                "not authorised for {}: run `cargo kinde register`",
                missing.join(", ")
            ),
        )
    }
}

async fn callback_registered(shared: &Shared, check: &Check, url: &str) -> Outcome {
    let Some(app) = &shared.config.app_client_id else {
        return fail(
            check,
            "needs the app's client id (KINDE_CLIENT_ID, or `client_id` under [app] in kinde.toml)"
                .into(),
        );
    };
    let kinde = match management_client(shared, check).await {
        Ok(kinde) => kinde,
        Err(outcome) => return outcome,
    };
    match kinde
        .urls(crate::kinde::resources::UrlKind::Callback, &app.value)
        .await
    {
        Ok(urls) if urls.iter().any(|u| u == url) => {
            pass(check, format!("registered for application {}", app.value))
        }
        Ok(_) => fail(
            check,
            format!(
                "not among application {}'s callback URLs: run `cargo kinde register`",
                app.value
            ),
        ),
        Err(e) => failed_by(check, &e),
    }
}

/// Send `target`'s request with `token` (its body, if any); the outcome's request is filled, or
/// the check failed because nothing answered.
async fn send_target(
    shared: &Shared,
    check: &Check,
    target: &Target,
    token: Option<&str>,
) -> Result<(Answer, Outcome), Outcome> {
    let request = describe_request(&target.method, &target.url, token.is_some());
    match send(
        shared,
        &target.method,
        &target.url,
        token,
        &[],
        target.body.as_ref(),
    )
    .await
    {
        Ok(answer) => {
            let base = Outcome {
                request: Some(request),
                http_status: Some(answer.status),
                ..pass(check, String::new())
            };
            Ok((answer, base))
        }
        Err(e) => Err(Outcome {
            request: Some(request),
            ..failed_by(check, &e)
        }),
    }
}

/// A bad token (or none) sent to `target`: passes when refused with 401 or 403. With `minted`
/// (`smoke --openapi`), the token is forged from one the emulator mints holding the operation's
/// permissions, so a refusal cannot come from a missing permission alone.
async fn run_probe(
    shared: &Shared,
    check: &Check,
    target: &Target,
    probe: Probe,
    minted: bool,
) -> Outcome {
    let permissions = minted.then_some(target.permissions.as_slice());
    let token = match forge(
        shared,
        &target.url,
        target.audience.as_deref(),
        probe,
        permissions,
    )
    .await
    {
        Ok(t) => t,
        Err(why) => return why.outcome(check),
    };
    // A forged token is as good as the real one it came from for whoever reads the report.
    if let Some(token) = &token {
        crate::secret::register(token);
    }
    let (answer, base) = match send_target(shared, check, target, token.as_deref()).await {
        Ok(sent) => sent,
        Err(outcome) => return outcome,
    };
    // Forged from a token that lacks the operation's permissions (a real tenant mints none),
    // a 403 may be the permission check alone: it proves nothing about the token's checks.
    if minted
        && probe != Probe::NoToken
        && answer.status == 403
        && !target.permissions.is_empty()
        && shared.minting_is_off().await
    {
        return Outcome {
            status: Status::Skip,
            detail: format!(
                "inconclusive: refused with 403, which the permission check alone answers to a token without {} (the emulator mints one holding them)",
                target.permissions.join(", ")
            ),
            ..base
        };
    }
    match answer.status {
        401 | 403 => Outcome {
            detail: format!("refused with {}", answer.status),
            ..base
        },
        s if s >= 500 => Outcome {
            status: Status::Fail,
            cause: Some(Cause::Check),
            detail: format!(
                "answered {s} instead of 401: a bad token makes the endpoint fail rather than refuse"
            ),
            body: Some(excerpt(&answer)),
            ..base
        },
        s => Outcome {
            status: Status::Fail,
            cause: Some(Cause::Check),
            detail: format!("answered {s} instead of 401 or 403: {}", probe.hole()),
            body: Some(excerpt(&answer)),
            ..base
        },
    }
}

/// A valid token holding every other permission the document names but none the operation
/// asks for: must be refused with 403.
async fn lacking(shared: &Shared, check: &Check, target: &Target) -> Outcome {
    let token = match shared
        .mint(&target.others, target.audience.as_deref(), None)
        .await
    {
        Ok(t) => t,
        Err(why) => {
            return why
                .context("could not mint a token lacking the permissions")
                .outcome(check);
        }
    };
    let (answer, base) = match send_target(shared, check, target, Some(&token)).await {
        Ok(sent) => sent,
        Err(outcome) => return outcome,
    };
    let needed = target.required_any.join(", ");
    match answer.status {
        403 => Outcome {
            detail: "refused with 403".into(),
            ..base
        },
        401 => Outcome {
            detail: "refused with 401 (403 is the status for a valid token lacking a permission: RFC 6750's insufficient_scope)".into(),
            ..base
        },
        s => Outcome {
            status: Status::Fail,
            cause: Some(Cause::Check),
            detail: format!(
                "answered {s} instead of 403: it accepted a valid token without {needed}: the route does not check the permission"
            ),
            body: Some(excerpt(&answer)),
            ..base
        },
    }
}

/// A valid token holding the operation's permissions: must not be refused, or the refusals of
/// the other probes prove nothing.
async fn control(shared: &Shared, check: &Check, target: &Target) -> Outcome {
    let token = match shared
        .mint(&target.permissions, target.audience.as_deref(), None)
        .await
    {
        Ok(t) => t,
        // Without minting, an operation that needs no permission still gets a valid token: the
        // M2M app's for the API.
        Err(Unavailable::Skip(why)) => match (&target.audience, target.permissions.is_empty()) {
            (Some(aud), true) => match shared
                .fetch(&TokenRequest {
                    audiences: vec![aud.clone()],
                    scopes: Vec::new(),
                })
                .await
            {
                Ok(t) => t,
                Err(why) => {
                    return why
                        .context(&format!("could not get the M2M token for {aud}"))
                        .outcome(check);
                }
            },
            _ => return Unavailable::Skip(why).outcome(check),
        },
        Err(why) => {
            return why
                .context("could not mint a token holding the permissions")
                .outcome(check);
        }
    };
    let (answer, base) = match send_target(shared, check, target, Some(&token)).await {
        Ok(sent) => sent,
        Err(outcome) => return outcome,
    };
    match answer.status {
        s @ (401 | 403) => Outcome {
            status: Status::Fail,
            cause: Some(Cause::Check),
            detail: format!(
                "answered {s} to a valid token{}: the route refuses a good token, so its refusals prove nothing (check the audience and issuer it expects, and its permission names)",
                if target.permissions.is_empty() {
                    String::new()
                } else {
                    format!(" holding {}", target.permissions.join(", "))
                }
            ),
            body: Some(excerpt(&answer)),
            ..base
        },
        s if s >= 500 => Outcome {
            status: Status::Fail,
            cause: Some(Cause::Check),
            detail: format!(
                "answered {s} to a valid token: the route fails, so its refusals of bad tokens prove nothing"
            ),
            body: Some(excerpt(&answer)),
            ..base
        },
        s => Outcome {
            detail: format!("accepted: answered {s}"),
            ..base
        },
    }
}

/// The bad token for `probe`: `Skip` when it cannot be made here, `Fail` when what it is made
/// from (the M2M token, the JWKS) could not be had.
async fn forge(
    shared: &Shared,
    url: &str,
    audience: Option<&str>,
    probe: Probe,
    minted: Option<&[String]>,
) -> Result<Option<String>, Unavailable> {
    if probe == Probe::NoToken {
        return Ok(None);
    }
    // `smoke --openapi` against the emulator: forgeries of a token the operation would accept.
    let minted_base = match minted {
        Some(permissions) => match shared.mint(permissions, audience, None).await {
            Ok(token) => Some((token, permissions)),
            Err(Unavailable::Skip(_)) => None,
            Err(why) => return Err(why.context("could not mint a token to forge a bad one from")),
        },
        None => None,
    };
    if let Some((_, permissions)) = &minted_base
        && probe == Probe::OtherAudience
    {
        if audience.is_none() {
            return Err(Unavailable::Skip("pass --audience (or declare one [[apis]] entry in kinde.toml) so a token for another audience can be told apart".into()));
        }
        // The same token, signed by the emulator, for another API's audience.
        return shared
            .mint(permissions, audience, Some("wrong-audience"))
            .await
            .map(Some)
            .map_err(|why| why.context("could not mint a token for another audience"));
    }
    let (m2m, base) = match minted_base {
        Some((base, _)) => (None, base),
        // `smoke --openapi` against a real tenant: forged from the M2M app's token for the API
        // only. The Management API token is never sent to the service under test (nor a copy
        // of it with a broken signature, from which it could be rebuilt).
        None if minted.is_some() => {
            let never = "the Management API token is never sent to the service under test";
            if probe == Probe::OtherAudience {
                return Err(Unavailable::Skip(format!(
                    "could not run against a real tenant: the only token for another audience is the Management API's, and {never}"
                )));
            }
            let Some(aud) = audience else {
                return Err(Unavailable::Skip(format!(
                    "could not run: pass --audience so the bad token is forged from a token for the API ({never})"
                )));
            };
            let base = shared
                .fetch(&TokenRequest {
                    audiences: vec![aud.to_string()],
                    scopes: Vec::new(),
                })
                .await
                .map_err(|_| {
                    Unavailable::Skip(format!(
                        "could not run: the M2M app got no token for {aud} (authorise it for the API), and {never}"
                    ))
                })?;
            (None, base)
        }
        // A `[[protect]]` URL other than the issuer's own: as for `smoke --openapi`, the
        // Management API token never goes there.
        None if !shared.issuer.is_own_origin(url) => {
            return protect_forge(shared, audience, probe).await;
        }
        None => {
            let m2m = shared
                .token(&TokenChoice::M2m)
                .await
                .and_then(|t| t.ok_or_else(|| Unavailable::check("no token")))
                .map_err(|why| {
                    why.context("could not get the M2M token to forge a bad one from")
                })?;
            // A real token for the API when the M2M app is authorised for it, else the
            // management one.
            let base = match audience {
                Some(aud) => shared
                    .fetch(&TokenRequest {
                        audiences: vec![aud.to_string()],
                        scopes: Vec::new(),
                    })
                    .await
                    .unwrap_or_else(|_| m2m.clone()),
                None => m2m.clone(),
            };
            (Some(m2m), base)
        }
    };
    let forged = match probe {
        Probe::NoToken => None,
        Probe::TamperedSignature => probes::tampered(&base),
        Probe::AlgNone => probes::alg_none(&base),
        Probe::Hs256PublicKey => hs256_forgery(shared, &base).await?,
        Probe::Expired => return expired_token(shared, &base).await.map(Some),
        Probe::OtherAudience => {
            let Some(aud) = audience else {
                return Err(Unavailable::Skip("set `audience` on the [[protect]] entry (or use a [tokens.NAME] check) so a token for another audience can be told apart".into()));
            };
            if aud == shared.issuer.management_audience() {
                return Err(Unavailable::Skip(
                    "the API's audience is the Management API's".into(),
                ));
            }
            m2m
        }
    };
    forged
        .map(Some)
        .ok_or_else(|| Unavailable::check("the base token does not decode"))
}

/// `base` signed with HS256 keyed with the issuer's public key for its `kid` (else the first).
async fn hs256_forgery(shared: &Shared, base: &str) -> Result<Option<String>, Unavailable> {
    let jwks = shared
        .jwks()
        .await
        .map_err(|why| why.context("could not read the JWKS"))?;
    let kid = crate::jwt::decode(base).ok().and_then(|d| {
        d.header
            .get("kid")
            .and_then(Value::as_str)
            .map(String::from)
    });
    let key = kid
        .and_then(|k| jwks.find(&k).cloned())
        .or_else(|| jwks.keys.first().cloned())
        .ok_or_else(|| Unavailable::check("the JWKS has no key"))?;
    Ok(probes::hs256_with_public_key(base, &key))
}

/// The bad token for a `[[protect]]` probe of a service other than the issuer, made from the
/// M2M app's token for the API or, without one, a token the emulator mints for the smoke user;
/// never from the Management API token, whose copy with a broken signature would let the
/// service (or its logs) rebuild it. The other-audience probe sends a token the emulator mints
/// for another audience, else the M2M app's token for another `[[apis]]` entry.
async fn protect_forge(
    shared: &Shared,
    audience: Option<&str>,
    probe: Probe,
) -> Result<Option<String>, Unavailable> {
    let never = "the Management API token is never sent to a service other than the issuer";
    // The M2M credentials must work (the token is fetched, never sent): without them the probe
    // fails with their reason, as every check needing a token does.
    shared
        .token(&TokenChoice::M2m)
        .await
        .and_then(|t| t.ok_or_else(|| Unavailable::check("no token")))
        .map_err(|why| why.context("could not get the M2M token to forge a bad one from"))?;
    let skip_on_tenant = |found: Result<String, Unavailable>| match found {
        Ok(token) => Ok(Some(token)),
        Err(Unavailable::Skip(_)) => Ok(None),
        Err(why) => Err(why),
    };
    // A token for the Management API's own audience is the Management API token.
    let management = shared.issuer.management_audience();
    let is_management = |aud: &str| {
        let aud = aud.trim_end_matches('/');
        aud == management || aud == format!("{management}/v1")
    };
    if audience.is_some_and(is_management) {
        return Err(Unavailable::Skip(format!(
            "the entry's audience is the Management API's, and {never}"
        )));
    }
    if probe == Probe::OtherAudience {
        let Some(aud) = audience else {
            return Err(Unavailable::Skip(format!(
                "set `audience` on the [[protect]] entry so a token for another audience can be told apart ({never})"
            )));
        };
        if let Some(token) =
            skip_on_tenant(shared.mint(&[], Some(aud), Some("wrong-audience")).await)?
        {
            return Ok(Some(token));
        }
        for other in shared.config.apis.iter().map(|a| a.audience.as_str()) {
            if other == aud || is_management(other) {
                continue;
            }
            let request = TokenRequest {
                audiences: vec![other.to_string()],
                scopes: Vec::new(),
            };
            if let Ok(token) = shared.fetch(&request).await {
                return Ok(Some(token));
            }
        }
        return Err(Unavailable::Skip(format!(
            "could not run against a real tenant: the M2M app got a token for no other [[apis]] entry of kinde.toml (authorise it for a second API), and {never}"
        )));
    }
    // The M2M app's token for the API; a refusal (not authorised for it) falls back to a minted
    // token, a network failure fails the probe with its cause.
    let (for_api, refused) = match audience {
        Some(aud) => match shared
            .fetch(&TokenRequest {
                audiences: vec![aud.to_string()],
                scopes: Vec::new(),
            })
            .await
        {
            Ok(token) => (Some(token), None),
            Err(Unavailable::Fail(Cause::Network, why)) => {
                return Err(Unavailable::Fail(
                    Cause::Network,
                    format!(
                        "could not get the M2M app's token for {aud} to forge a bad one from: {why}"
                    ),
                ));
            }
            Err(Unavailable::Fail(_, why) | Unavailable::Skip(why)) => (None, Some(why)),
        },
        None => (None, None),
    };
    let base = match for_api {
        Some(token) => token,
        None => match skip_on_tenant(shared.mint(&[], audience, None).await)? {
            Some(token) => token,
            None => {
                return Err(Unavailable::Skip(format!(
                    "could not run: {} ({never})",
                    match (audience, refused) {
                        (Some(aud), Some(why)) => format!("the M2M app got no token for {aud} ({why}): authorise it for the API"),
                        (Some(aud), None) => format!("the M2M app got no token for {aud}: authorise it for the API"),
                        (None, _) => "set `audience` on the [[protect]] entry, for the API the M2M app is authorised for".to_string(),
                    }
                )));
            }
        },
    };
    let forged = match probe {
        Probe::NoToken | Probe::OtherAudience => return Ok(None),
        Probe::TamperedSignature => probes::tampered(&base),
        Probe::AlgNone => probes::alg_none(&base),
        Probe::Hs256PublicKey => hs256_forgery(shared, &base).await?,
        Probe::Expired => return expired_token(shared, &base).await.map(Some),
    };
    forged
        .map(Some)
        .ok_or_else(|| Unavailable::check("the base token does not decode"))
}

/// An expired copy of `base`'s claims, signed by the issuer: only an emulator can make one.
async fn expired_token(shared: &Shared, base: &str) -> Result<String, Unavailable> {
    let mut expired = shared.expired.lock().await;
    if let Some(found) = expired.get(base) {
        return found.clone();
    }
    let result = sign_expired(shared, base).await;
    expired.insert(base.to_string(), result.clone());
    result
}

async fn sign_expired(shared: &Shared, base: &str) -> Result<String, Unavailable> {
    let unavailable = || {
        Unavailable::Skip(
            "signing an expired token needs the emulator (the tenant is not one)".to_string(),
        )
    };
    if !shared.issuer.is_loopback() {
        return Err(unavailable());
    }
    let mut claims = crate::jwt::decode(base)
        .map(|d| Value::Object(d.claims))
        .map_err(|e| Unavailable::check(format!("the base token does not decode: {e}")))?;
    let now = crate::clock::now();
    claims["iat"] = Value::from(now - 7200);
    claims["exp"] = Value::from(now - 3600);
    let url = shared.issuer.endpoint("/_emulator/tokens");
    // Only "this loopback server is not the emulator" (it has no such route) is a skip; an
    // emulator that fails to sign is a failure, or the probe would pass unseen.
    let reply = crate::net::send(
        shared.http.post(&url).json(&claims),
        &url,
        crate::net::TOKEN_LIMIT,
    )
    .await
    .map_err(|e| {
        Unavailable::Fail(
            Cause::of(&e),
            format!("the emulator could not sign an expired token: {e}"),
        )
    })?;
    if matches!(reply.status.as_u16(), 404 | 405) {
        return Err(unavailable());
    }
    let failed = || {
        Unavailable::check(format!(
            "the emulator could not sign an expired token: {url} answered {}",
            reply.status
        ))
    };
    if !reply.status.is_success() {
        return Err(failed());
    }
    serde_json::from_slice::<Value>(&reply.body)
        .ok()
        .and_then(|doc| doc.get("token").and_then(Value::as_str).map(String::from))
        .ok_or_else(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Setting;
    use crate::config::Source;

    fn check(name: &str, step: Step) -> Check {
        Check {
            name: name.into(),
            tags: Vec::new(),
            step,
        }
    }

    fn probe(probe: Probe, url: &str) -> Check {
        check(
            probe.label(),
            Step::Probe {
                method: Method::GET,
                url: url.into(),
                audience: Some("https://api.acme.example".into()),
                probe,
            },
        )
    }

    fn options() -> Options {
        Options {
            jobs: 4,
            timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            started: Instant::now(),
            fail_fast: false,
        }
    }

    /// Shared state without the user's token cache (tests must not read or write it).
    fn shared(issuer: &str, credentials: Option<(&str, &str)>, checks: &[Check]) -> Arc<Shared> {
        let issuer = Issuer::parse(issuer).unwrap();
        let mut config = Config::empty(std::env::temp_dir());
        config.domain = Some(Setting::new(
            issuer.clone(),
            Source::Env("KINDE_DOMAIN".into()),
        ));
        let shared = Shared::new(
            reqwest::Client::new(),
            issuer,
            config,
            credentials.map(|(id, secret)| (id.to_string(), Secret::new(secret))),
            None,
            None,
            checks,
        );
        Arc::new(shared)
    }

    #[test]
    fn the_kind_decides_skip_or_fail_not_the_wording() {
        let c = check("c", Step::Discovery);
        let skip = Unavailable::Skip("skipped: no emulator".into()).outcome(&c);
        assert_eq!(
            (skip.status, skip.detail.as_str()),
            (Status::Skip, "skipped: no emulator")
        );
        let fail = Unavailable::check("skipped: looks like a skip").outcome(&c);
        assert_eq!(
            fail.status,
            Status::Fail,
            "a reason's words never make a skip"
        );
        assert_eq!(
            Unavailable::Fail(Cause::Refused, "refused".into())
                .context("could not get the m2m token"),
            Unavailable::Fail(
                Cause::Refused,
                "could not get the m2m token: refused".into()
            )
        );
        assert_eq!(
            Unavailable::Skip("run login".into()).context("could not get the user token"),
            Unavailable::Skip("run login".into()),
            "a skip's reason is kept as it is"
        );
    }

    #[tokio::test]
    async fn missing_user_token_skips_but_missing_m2m_token_fails() {
        let checks = vec![
            probe(Probe::TamperedSignature, "http://127.0.0.1:9/x"),
            check(
                "user",
                Step::Http(HttpCheck {
                    method: Method::GET,
                    url: "http://127.0.0.1:9/x".into(),
                    token: TokenChoice::User,
                    headers: Vec::new(),
                    body: None,
                    expect: vec![200],
                    asserts: Vec::new(),
                    max_latency: None,
                }),
            ),
        ];
        let shared = shared("https://acme.kinde.com", None, &checks);
        let outcomes = run(shared, checks, &options(), &|_, _, _| {}).await;
        assert_eq!(outcomes[0].status, Status::Fail, "{:?}", outcomes[0]);
        assert!(
            outcomes[0]
                .detail
                .contains("no management (M2M) credentials"),
            "{}",
            outcomes[0].detail
        );
        assert_eq!(outcomes[1].status, Status::Skip, "{:?}", outcomes[1]);
    }

    /// A loopback server answering every request with `status` (a stand-in that is not, or is a
    /// broken, emulator).
    async fn answering(status: u16) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(
                        format!(
                            "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await;
            }
        });
        url
    }

    #[tokio::test]
    async fn the_expired_probe_skips_only_where_no_emulator_answers() {
        let base = crate::jwt::encode(
            &serde_json::json!({"alg": "RS256", "typ": "JWT"}),
            &serde_json::json!({"iss": "x", "exp": 1}),
            |_| vec![1, 2, 3],
        );
        let not_emulator = shared(&answering(404).await, None, &[]);
        assert!(
            matches!(
                expired_token(&not_emulator, &base).await,
                Err(Unavailable::Skip(_))
            ),
            "a loopback server without the route is not the emulator: skipped"
        );
        let broken = shared(&answering(500).await, None, &[]);
        match expired_token(&broken, &base).await {
            Err(Unavailable::Fail(_, reason)) => assert!(reason.contains("500"), "{reason}"),
            other => panic!("a failing emulator fails the probe, not skips it: {other:?}"),
        }
    }

    /// The bug of issue 9: with the M2M token refused mid-run, every protection probe was
    /// reported skipped (its reason looked like a skip's). It is a failure, with the token error.
    #[cfg(feature = "emulator")]
    #[tokio::test]
    async fn probes_fail_with_the_token_error_when_the_m2m_token_is_refused() {
        let emulator = crate::emulator::Emulator::spawn(crate::emulator::Options::default())
            .expect("emulator starts");
        let id = emulator
            .state()
            .tenant()
            .management_app()
            .map(|a| a.id.clone())
            .unwrap();
        let url = format!("{}/sample/protected", emulator.issuer());
        let mut checks = vec![check("discovery", Step::Discovery)];
        checks.extend(
            Probe::ALL
                .iter()
                .filter(|p| **p != Probe::NoToken)
                .map(|p| probe(*p, &url)),
        );
        let shared = shared(emulator.issuer(), Some((&id, "wrong")), &checks);
        let outcomes = run(shared, checks, &options(), &|_, _, _| {}).await;
        assert_eq!(outcomes[0].status, Status::Pass, "other checks still run");
        for o in &outcomes[1..] {
            assert_eq!(o.status, Status::Fail, "{}: {}", o.name, o.detail);
            assert!(
                o.detail.contains("could not get the M2M token")
                    && o.detail.contains("invalid_client"),
                "{}: {}",
                o.name,
                o.detail
            );
        }
    }
}
