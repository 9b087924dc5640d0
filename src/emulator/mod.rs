//! The local Kinde: discovery, JWKS, the token endpoint, with a seeded tenant, run as
//! `cargo kinde emulator` or in-process (tests, `--emulator`).
//!
//! It is the oracle the client is tested against, so it implements Kinde's rules itself and
//! shares only wire types with the client. Where to look: `oidc` (discovery, JWKS, token
//! endpoint) and `login` (sign-in, code and refresh grants, its state kept in `expiring` maps
//! that expire by the emulator's clock and hold a bounded number) over `protocol` (forms, client
//! authentication, OAuth errors); `management/` (one file per resource family, with the token
//! check, paging and body envelopes); `jws` (its own tokens), `redirect` (URL rules), `error`
//! (Kinde's error bodies), `tenant` (the state), `seed` (`--seed FILE` and what
//! `POST /_emulator/reset` returns to), `persist` (saving it off the request path),
//! `stats` (request counts by route), `faults` (injected failures).

mod account;
mod cors;
mod device;
mod error;
mod expiring;
pub mod faults;
pub mod jws;
pub mod keys;
mod login;
mod management;
pub(crate) mod mint;
mod oidc;
mod persist;
mod protocol;
mod redirect;
pub mod sample;
pub mod seed;
mod stats;
pub mod tenant;
pub mod tls;
pub mod webhooks;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State as AxumState};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::Error;
use keys::SigningKey;
use tenant::Tenant;

/// One served request, for the request log.
#[derive(Debug, Clone)]
pub struct RequestLog {
    /// Method.
    pub method: String,
    /// Path (no query: queries may carry tokens).
    pub path: String,
    /// Status code.
    pub status: u16,
    /// Time taken.
    pub duration: Duration,
}

/// A callback receiving one [`RequestLog`] per request.
pub type LogSink = Arc<dyn Fn(&RequestLog) + Send + Sync>;

/// How to run the emulator.
#[derive(Clone, Default)]
pub struct Options {
    /// Port on 127.0.0.1 (0: a free one).
    pub port: u16,
    /// Keep the tenant in this file across restarts.
    pub state_file: Option<PathBuf>,
    /// Access token lifetime in seconds (Kinde's default: 86400).
    pub access_token_ttl: Option<u64>,
    /// Where request log lines go.
    pub log: Option<LogSink>,
    /// Faults injected from the start (`--fault`).
    pub faults: Vec<faults::Fault>,
    /// Sign in the `login_hint` user (or the first user) at once, without a page.
    pub auto_login: bool,
    /// Serve HTTPS with the local CA kept in this directory (see [`tls`]); plain HTTP without.
    pub tls_dir: Option<PathBuf>,
    /// Multiplies webhook retry delays and the attempt timeout (1.0, Kinde's schedule, when
    /// unset; tests use e.g. 0.001 so a retry Kinde makes after 5 s comes after 5 ms).
    pub webhook_retry_scale: Option<f64>,
    /// The tenant to start from (when no `--state` file exists yet) and to go back to on
    /// `POST /_emulator/reset`; the default tenant without one.
    pub seed: Option<seed::Seed>,
}

/// Shared state of a running emulator.
pub struct State {
    issuer: String,
    tenant: RwLock<Tenant>,
    keys: RwLock<Vec<SigningKey>>,
    /// With `--state`: saves the tenant in the background after changes.
    saver: Option<persist::Saver>,
    /// What loading the `--state` file skipped (a torn journal line).
    warnings: Vec<String>,
    access_token_ttl: u64,
    counts: Mutex<stats::Counts>,
    log: Option<LogSink>,
    faults: Mutex<Vec<faults::Fault>>,
    /// The faults given at start, which a reset goes back to.
    start_faults: Vec<faults::Fault>,
    recorded: Mutex<std::collections::VecDeque<Kept>>,
    logins: Mutex<login::Logins>,
    /// Device flow requests (RFC 8628).
    devices: Mutex<device::Devices>,
    /// Ids (`jti`) of revoked access tokens, each until it expires.
    revoked: Mutex<expiring::Expiring<()>>,
    auto_login: bool,
    /// Webhook deliveries: the queue to the dispatcher and the delivery log.
    hooks: webhooks::Hooks,
    /// What `POST /_emulator/reset` goes back to (its keys aside).
    baseline: RwLock<Tenant>,
    /// The emulator's time: token stamps and lifetimes, code and sign-in expiry.
    clock: crate::clock::Clock,
    /// The foreign key forged tokens are signed with (`mint::Forgery::ForeignKey`), made on
    /// first use.
    impostor: Mutex<Option<SigningKey>>,
}

/// A Management API write as received, for tests that check request shapes.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// The JSON body, if any and if it fit in the [`RECORDED_BODY`] bytes kept.
    pub body: Option<serde_json::Value>,
    /// The body's full size in bytes.
    pub size: usize,
}

/// How much of each recorded body is kept: enough for any request shape a test checks, while
/// 1000 recorded writes stay a bounded amount of memory.
pub const RECORDED_BODY: usize = 64 * 1024;
/// How many writes are kept.
const RECORDED_WRITES: usize = 1000;
/// The largest Management API request body accepted (413 above it). Kinde does not document its
/// limit; 4 MiB is well above any body its API takes (a logo upload is the largest) and keeps a
/// stray upload from filling memory.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// One recorded write as kept: raw bytes, parsed only when asked for.
struct Kept {
    method: String,
    path: String,
    prefix: Vec<u8>,
    size: usize,
}

impl State {
    /// The issuer URL, e.g. `http://127.0.0.1:41234`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A copy of the tenant (O(tenant): handlers use [`State::read`]).
    pub fn tenant(&self) -> Tenant {
        self.read(Tenant::clone)
    }

    /// A copy of the tenant without its users: applications and APIs are few, users may be
    /// thousands, and handlers that do not need them should not copy them.
    pub(crate) fn catalog(&self) -> Tenant {
        self.read(Tenant::without_users)
    }

    /// Look at the tenant under the read lock, without copying it.
    pub fn read<T>(&self, look: impl FnOnce(&Tenant) -> T) -> T {
        look(&self.tenant.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Change the tenant under the write lock. With `--state` the change is saved in the
    /// background soon after (and on stop), never on the caller's path; since the change may
    /// be anything, it is saved as a whole snapshot (O(tenant), once per burst): changes to
    /// users go through [`State::update_users`] instead.
    pub fn update<T>(&self, change: impl FnOnce(&mut Tenant) -> T) -> T {
        let out = {
            let mut tenant = self.tenant.write().unwrap_or_else(|p| p.into_inner());
            let out = change(&mut tenant);
            tenant.reindex();
            out
        };
        if let Some(saver) = &self.saver {
            saver.mark_snapshot();
        }
        out
    }

    /// Change users only, pushing the id of each user added, changed or removed onto the
    /// given list: with `--state` just those users are journaled, so a change costs the same
    /// with ten users or ten thousand. A change to anything else belongs in [`State::update`].
    pub fn update_users<T>(&self, change: impl FnOnce(&mut Tenant, &mut Vec<String>) -> T) -> T {
        let mut touched = Vec::new();
        let mut tenant = self.tenant.write().unwrap_or_else(|p| p.into_inner());
        let out = change(&mut tenant, &mut touched);
        tenant.reindex();
        tenant.reindex_users(&touched);
        if let Some(saver) = &self.saver {
            saver.record_users(&tenant, &touched);
        }
        out
    }

    /// Seconds since the epoch by the emulator's clock (the system's, unless a test moved it on
    /// with [`State::advance_clock`]).
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Move the emulator's clock `secs` seconds forward: codes, sign-in pages and tokens expire
    /// as if that time had passed, without a test sleeping through it.
    pub fn advance_clock(&self, secs: u64) {
        self.clock.advance(secs);
    }

    /// How many times the `--state` file or its journal was written since start (0 without
    /// `--state`): a burst of changes is saved once.
    pub fn saves(&self) -> u64 {
        self.saver.as_ref().map_or(0, persist::Saver::saves)
    }

    /// How many of [`State::saves`] rewrote the whole `--state` file.
    pub fn snapshots(&self) -> u64 {
        self.saver.as_ref().map_or(0, persist::Saver::snapshots)
    }

    /// What loading the `--state` file skipped, to tell the person running the emulator.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// How many requests `METHOD route` received, the route as registered (e.g.
    /// `GET /api/v1/users`, `GET /api/v1/applications/{id}`); `METHOD (no route)` counts
    /// requests no route matched.
    pub fn count(&self, route: &str) -> u64 {
        self.counts.lock().map(|c| c.get(route)).unwrap_or(0)
    }

    /// Requests received per `METHOD route` (bounded: see [`State::count`]).
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.counts.lock().map(|c| c.all()).unwrap_or_default()
    }

    /// Requests that could change the tenant: Management API calls other than GET.
    pub fn writes(&self) -> u64 {
        self.counts()
            .iter()
            .filter(|(route, _)| !route.starts_with("GET ") && route.contains(" /api/"))
            .map(|(_, n)| n)
            .sum()
    }

    /// The authorised Management API writes received so far (the last 1000), each body parsed
    /// if it fit in the [`RECORDED_BODY`] bytes kept of it.
    pub fn recorded(&self) -> Vec<Recorded> {
        let kept = self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        kept.iter()
            .map(|k| Recorded {
                method: k.method.clone(),
                path: k.path.clone(),
                body: (k.prefix.len() == k.size)
                    .then(|| serde_json::from_slice(&k.prefix).ok())
                    .flatten(),
                size: k.size,
            })
            .collect()
    }

    /// Add a fault rule.
    pub fn inject(&self, fault: faults::Fault) {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(fault);
    }

    /// Remove every fault rule.
    pub fn clear_faults(&self) {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The claims of `token` if one of this emulator's keys signed it with RS256; otherwise
    /// why not.
    pub fn check_signature(&self, token: &str) -> Result<jws::Claims, &'static str> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        jws::verify(token, &keys)
    }

    /// [`State::check_signature`], and not revoked (`POST /oauth2/revoke`): what every endpoint
    /// taking a bearer token asks.
    pub fn check_token(&self, token: &str) -> Result<jws::Claims, &'static str> {
        let claims = self.check_signature(token)?;
        let revoked = claims.jti().is_some_and(|jti| {
            self.revoked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(jti, self.now())
                .is_some()
        });
        if revoked {
            return Err("The access token has been revoked");
        }
        Ok(claims)
    }

    /// From now on [`State::check_token`] refuses the token `claims` describe (until it expires).
    fn revoke(&self, claims: &jws::Claims) {
        if let (Some(jti), Some(exp)) = (claims.jti(), claims.expiry()) {
            let now = self.now();
            self.revoked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(jti.to_string(), (), exp, now);
        }
    }

    /// Sign `claims` with the active key.
    pub fn sign<T: serde::Serialize + ?Sized>(&self, claims: &T) -> String {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        keys.first().map(|k| k.sign_jwt(claims)).unwrap_or_default()
    }

    /// The recent webhook delivery attempts (the last 1000), oldest first.
    pub fn webhook_deliveries(&self) -> Vec<webhooks::Delivery> {
        self.hooks.deliveries()
    }

    /// Publish a new signing key and sign with it from now on; old keys stay in the JWKS.
    pub fn rotate_key(&self) -> Result<String, Error> {
        let key = SigningKey::generate()?;
        let kid = key.kid().to_string();
        let stored = key.to_stored()?;
        self.keys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(0, key);
        self.update(|t| t.keys.insert(0, stored));
        Ok(kid)
    }

    /// Go back to the seed (the default tenant without one), as built at start. The signing keys
    /// stay, so JWKS a client cached and access tokens already issued stay valid; ids and secrets
    /// the seed left to the emulator are the ones generated (or loaded from `--state`) at start,
    /// so an `.env` written then still works. Everything a test could see of the one before ends
    /// too: sign-in pages, codes, refresh tokens and sessions (a test starts signed out), the
    /// webhook delivery log and deliveries still queued or retrying, the request counts, the
    /// recorded writes, and faults added at run time (those given at start are back).
    pub fn reset(&self) {
        let baseline = self
            .baseline
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        self.update(|t| {
            let keys = std::mem::take(&mut t.keys);
            *t = baseline;
            t.keys = keys;
        });
        *self.logins.lock().unwrap_or_else(|p| p.into_inner()) = login::Logins::default();
        *self.devices.lock().unwrap_or_else(|p| p.into_inner()) = device::Devices::default();
        *self.revoked.lock().unwrap_or_else(|p| p.into_inner()) = expiring::Expiring::new(100_000);
        self.hooks.reset();
        *self.faults.lock().unwrap_or_else(|p| p.into_inner()) = self.start_faults.clone();
        self.recorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        *self.counts.lock().unwrap_or_else(|p| p.into_inner()) = stats::Counts::default();
    }

    /// Make the tenant as it is now what [`State::reset`] goes back to: `cargo_kinde::testing`
    /// seeds from kinde.toml through the Management API after start, and that is part of its seed.
    #[cfg(feature = "testing")]
    pub(crate) fn rebase(&self) {
        let now = self.read(Tenant::clone);
        *self.baseline.write().unwrap_or_else(|p| p.into_inner()) = now;
    }

    /// The `.env` lines pointing cargo-kinde and Kinde's SDKs at this emulator.
    pub fn env_file(&self) -> String {
        let tenant = self.catalog();
        let mut out = format!(
            "# Written by `cargo kinde emulator`: a local tenant, not a real Kinde business.\nKINDE_DOMAIN={}\n",
            self.issuer
        );
        if let Some(app) = tenant.management_app() {
            out.push_str(&format!("KINDE_MANAGEMENT_CLIENT_ID={}\n", app.id));
            out.push_str(&format!(
                "KINDE_MANAGEMENT_CLIENT_SECRET={}\n",
                app.client_secret.as_deref().unwrap_or("")
            ));
        }
        if let Some(app) = tenant.user_app() {
            out.push_str(&format!("KINDE_CLIENT_ID={}\n", app.id));
            if let Some(secret) = &app.client_secret {
                out.push_str(&format!("KINDE_CLIENT_SECRET={secret}\n"));
            }
        }
        out
    }
}

/// Where a TLS emulator's CA is, for the runtimes told to trust it.
#[derive(Debug, Clone)]
pub struct CaFiles {
    /// The CA certificate alone (PEM): for variables that add to the system's roots.
    pub ca: PathBuf,
    /// The system's roots plus the CA (PEM): for variables that replace them.
    pub bundle: PathBuf,
}

/// A running emulator on the caller's tokio runtime.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state.
    pub state: Arc<State>,
    /// With TLS: the CA file and the bundle (system roots plus the CA).
    pub ca: Option<CaFiles>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    stop_saver: tokio::sync::oneshot::Sender<()>,
    saver: tokio::task::JoinHandle<Result<(), Error>>,
    hooks: tokio::task::JoinHandle<()>,
}

impl Running {
    /// The issuer URL.
    pub fn issuer(&self) -> &str {
        self.state.issuer()
    }

    /// Stop serving, wait for in-flight requests, then write any unsaved change to the
    /// `--state` file; the error is that last save's.
    pub async fn stop(self) -> Result<(), Error> {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
        // Deliveries still retrying end with the emulator.
        self.hooks.abort();
        let _ = self.stop_saver.send(());
        self.saver.await.map_err(|e| {
            Error::local(
                "the emulator state saver stopped",
                std::io::Error::other(e.to_string()),
            )
        })?
    }
}

/// Bind and start serving on the current tokio runtime.
pub async fn start(options: Options) -> Result<Running, Error> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
        .await
        .map_err(|e| {
            Error::input(format!("cannot listen on 127.0.0.1:{}: {e}", options.port))
                .with_hint("pick another --port, or --port 0 for a free one")
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::network(format!("cannot read the bound address: {e}")))?;
    // Certificates first: a failure here must not leave a server half started.
    let tls = options.tls_dir.as_deref().map(tls::prepare).transpose()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let issuer = format!("{scheme}://{addr}");
    let (hooks, hook_queue) = webhooks::Hooks::new(options.webhook_retry_scale);
    let seed = options.seed.clone().unwrap_or_default();
    let (loaded, keys) = load_or_seed(options.state_file.as_deref(), &seed)?;
    // Built against the tenant started from, so it holds the ids and secrets that one has for
    // the same things (all of them when the tenant came from the seed just now).
    let baseline = seed.build(loaded.tenant.keys.clone(), Some(&loaded.tenant))?;
    let state = Arc::new(State {
        issuer,
        saver: options
            .state_file
            .clone()
            .map(|path| persist::Saver::new(path, &loaded)),
        warnings: loaded.warnings,
        tenant: RwLock::new(loaded.tenant),
        keys: RwLock::new(keys),
        access_token_ttl: options.access_token_ttl.unwrap_or(86_400),
        counts: Mutex::new(stats::Counts::default()),
        log: options.log.clone(),
        faults: Mutex::new(options.faults.clone()),
        start_faults: options.faults.clone(),
        recorded: Mutex::new(std::collections::VecDeque::new()),
        logins: Mutex::new(login::Logins::default()),
        devices: Mutex::new(device::Devices::default()),
        revoked: Mutex::new(expiring::Expiring::new(100_000)),
        auto_login: options.auto_login,
        hooks,
        baseline: RwLock::new(baseline),
        clock: crate::clock::Clock::default(),
        impostor: Mutex::new(None),
    });
    let app = router(state.clone());
    let (shutdown, on_shutdown) = tokio::sync::oneshot::channel::<()>();
    let shutdown_signal = async {
        let _ = on_shutdown.await;
    };
    let (task, ca) = match tls {
        Some(tls) => {
            let listener = tls.listen(listener)?;
            let task = tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown_signal)
                    .await;
            });
            let ca = CaFiles {
                ca: tls.ca_file,
                bundle: tls.bundle_file,
            };
            (task, Some(ca))
        }
        None => {
            let task = tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown_signal)
                    .await;
            });
            (task, None)
        }
    };
    let (stop_saver, on_stop_saver) = tokio::sync::oneshot::channel::<()>();
    let saver = tokio::spawn(persist::run(state.clone(), on_stop_saver));
    let hooks = tokio::spawn(webhooks::run(state.clone(), hook_queue));
    Ok(Running {
        addr,
        state,
        ca,
        shutdown,
        task,
        stop_saver,
        saver,
        hooks,
    })
}

fn load_or_seed(
    state_file: Option<&std::path::Path>,
    seed: &seed::Seed,
) -> Result<(persist::Loaded, Vec<SigningKey>), Error> {
    if let Some(loaded) = state_file.map(persist::load).transpose()?.flatten() {
        let keys = loaded
            .tenant
            .keys
            .iter()
            .map(|k| SigningKey::from_stored(k))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(Error::input("the emulator state file has no signing key")
                .with_hint("delete it to start afresh"));
        }
        return Ok((loaded, keys));
    }
    let key = SigningKey::generate()?;
    let tenant = seed.build(vec![key.to_stored()?], None)?;
    // Saving also removes a journal left without its snapshot: it belongs to another tenant.
    if let Some(path) = state_file {
        tenant.save(path)?;
    }
    Ok((persist::Loaded::fresh(tenant), vec![key]))
}

fn router(state: Arc<State>) -> Router {
    oidc::routes()
        .merge(account::routes())
        .merge(device::routes())
        .merge(management::routes(state.clone()))
        .merge(management::public_routes())
        .merge(sample::routes())
        .merge(login::routes())
        .fallback(oidc::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            inject_faults,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cors::cors,
        ))
        .merge(
            admin_routes()
                .merge(sample::admin_routes())
                .merge(mint::routes())
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    local_only,
                )),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_and_log,
        ))
        .with_state(state)
}

/// Test-only controls, outside Kinde's paths: `POST /_emulator/faults` (a fault rule as JSON),
/// `DELETE /_emulator/faults`, `GET /_emulator/stats` (request counts, sign-in state held), `GET /_emulator/webhooks`
/// (recent webhook deliveries), `POST /_emulator/reset` (back to the seed, see [`State::reset`]).
fn admin_routes() -> Router<Arc<State>> {
    use axum::routing::{get, post};
    Router::new()
        .route(
            "/_emulator/faults",
            post(
                |AxumState(state): AxumState<Arc<State>>,
                 management::body::Body(fault): management::body::Body<faults::Fault>| async move {
                    state.inject(fault);
                    axum::http::StatusCode::NO_CONTENT
                },
            )
            .delete(|AxumState(state): AxumState<Arc<State>>| async move {
                state.clear_faults();
                axum::http::StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/_emulator/stats",
            get(|AxumState(state): AxumState<Arc<State>>| async move {
                let sign_ins = state
                    .logins
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .held();
                let devices = state
                    .devices
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .held();
                axum::Json(Stats {
                    requests: state.counts(),
                    writes: state.writes(),
                    sign_ins,
                    device_requests: devices,
                })
            }),
        )
        .route(
            "/_emulator/webhooks",
            get(|AxumState(state): AxumState<Arc<State>>| async move {
                axum::Json(serde_json::json!({"deliveries": state.webhook_deliveries()}))
            }),
        )
        .route(
            "/_emulator/reset",
            post(
                |AxumState(state): AxumState<Arc<State>>, headers: axum::http::HeaderMap| async move {
                    if !is_json(&headers) {
                        return Err(error::ApiError::new(
                            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                            "JSON_REQUIRED",
                            "POST /_emulator/reset needs `Content-Type: application/json`",
                        ));
                    }
                    state.reset();
                    Ok(axum::http::StatusCode::NO_CONTENT)
                },
            ),
        )
}

/// Whether a request says its body is JSON. A web page can send another site a form or plain
/// text without asking, but a JSON `Content-Type` only after a CORS preflight, which the emulator
/// never grants: with `--http`, a page the developer visits cannot reset their tenant.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// `GET /_emulator/stats`: counts by route, so its size is bounded whatever paths arrive, and
/// how much sign-in state is held.
#[derive(serde::Serialize)]
struct Stats {
    requests: BTreeMap<String, u64>,
    writes: u64,
    sign_ins: login::Held,
    /// Device flow requests held.
    device_requests: usize,
}

async fn inject_faults(
    AxumState(state): AxumState<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    let action = {
        let mut rules = state.faults.lock().unwrap_or_else(|p| p.into_inner());
        faults::decide(&mut rules, request.method().as_str(), request.uri().path())
    };
    match action {
        faults::Action::Pass(delay) => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            next.run(request).await
        }
        faults::Action::Respond(response) => response,
        // Unwinding out of the connection's task makes hyper drop the socket without an answer,
        // which is what a dropped connection looks like to a client. `resume_unwind` skips the
        // panic hook, so nothing is printed.
        faults::Action::Drop => std::panic::resume_unwind(Box::new("injected connection drop")),
    }
}

/// The `/_emulator/*` controls answer only requests addressed to the emulator itself: a `Host`
/// that is a loopback name or the issuer's host, and no `Origin` but the issuer's. They need no
/// token (a test's convenience), so a web page that rebinds its own name to 127.0.0.1 (DNS
/// rebinding) must not reach them: it would mint tokens, or reset the tenant. Answered 403 with
/// Kinde's error body.
async fn local_only(
    AxumState(state): AxumState<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    let issuer = url::Url::parse(state.issuer()).ok();
    let issuer_host = issuer.as_ref().and_then(url::Url::host_str);
    let host_ok = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| url::Url::parse(&format!("http://{v}")).ok())
        .is_some_and(|u| {
            let loopback = match u.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            loopback || u.host_str() == issuer_host
        });
    let origin_ok = request
        .headers()
        .get(axum::http::header::ORIGIN)
        .is_none_or(|origin| {
            let issuer_origin = issuer.as_ref().map(|u| u.origin().ascii_serialization());
            origin.to_str().ok().map(|o| o.trim_end_matches('/')) == issuer_origin.as_deref()
        });
    if host_ok && origin_ok {
        return next.run(request).await;
    }
    axum::response::IntoResponse::into_response(error::ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        "NOT_LOCAL",
        "The /_emulator controls answer only requests addressed to the emulator (Host: 127.0.0.1, localhost or the issuer's host; no other Origin)",
    ))
}

async fn count_and_log(
    AxumState(state): AxumState<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    if let Ok(mut counts) = state.counts.lock() {
        counts.record(&method, route.as_deref());
    }
    let response = next.run(request).await;
    if let Some(log) = &state.log {
        log(&RequestLog {
            method,
            path,
            status: response.status().as_u16(),
            duration: started.elapsed(),
        });
    }
    response
}

/// Keep the start of an authorised write's body, then pass the request on with all of it:
/// Kinde's 413 when the body is over [`MAX_BODY`]. Runs after the token check (see
/// `management::routes`), so no one without a token can fill the log.
async fn record(AxumState(state): AxumState<Arc<State>>, request: Request, next: Next) -> Response {
    use axum::response::IntoResponse as _;
    if request.method() == axum::http::Method::GET {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return error::ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "REQUEST_BODY_TOO_LARGE",
            format!("The request body is over the emulator's limit of {MAX_BODY} bytes"),
        )
        .into_response();
    };
    {
        let mut recorded = state.recorded.lock().unwrap_or_else(|p| p.into_inner());
        if recorded.len() >= RECORDED_WRITES {
            recorded.pop_front();
        }
        recorded.push_back(Kept {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            prefix: bytes[..bytes.len().min(RECORDED_BODY)].to_vec(),
            size: bytes.len(),
        });
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// An emulator on its own thread and runtime, stopped when dropped: for tests and `--emulator`.
pub struct Emulator {
    state: Arc<State>,
    addr: SocketAddr,
    ca: Option<CaFiles>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Emulator {
    /// Start on a background thread.
    pub fn spawn(options: Options) -> Result<Emulator, Error> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("kinde-emulator".into())
            .spawn(move || {
                // Clients (a test suite's parallel tests) are served at once: a thread per core,
                // at most four, each token costing an RSA signature.
                let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .thread_name("kinde-emulator")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx
                            .send(Err(Error::network(format!("cannot start a runtime: {e}"))));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match start(options).await {
                        Ok(running) => {
                            let _ = ready_tx.send(Ok((
                                running.state.clone(),
                                running.addr,
                                running.ca.clone(),
                            )));
                            let _ = stop_rx.await;
                            // Dropping has no one to report a failed last save to.
                            let _ = running.stop().await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })
            .map_err(|e| Error::network(format!("cannot start the emulator thread: {e}")))?;
        let (state, addr, ca) = ready_rx
            .recv()
            .map_err(|_| Error::network("the emulator thread stopped before it was ready"))??;
        Ok(Emulator {
            state,
            addr,
            ca,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The issuer URL.
    pub fn issuer(&self) -> &str {
        self.state.issuer()
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its state: tenant, counters, keys.
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// With TLS: the CA file and the bundle (system roots plus the CA).
    pub fn ca(&self) -> Option<&CaFiles> {
        self.ca.as_ref()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
