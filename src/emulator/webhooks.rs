//! Webhooks as Kinde sends them: each state change the emulator makes is an event; every
//! registered webhook (`POST /api/v1/webhooks`) whose `event_types` name it receives a `POST`
//! with `Content-Type: application/jwt`, the body a compact RS256 JWS signed with the token key
//! published in the JWKS, and a `webhook-id` header that stays the same on every retry.
//!
//! Delivery never runs on the request path: a handler puts the event on a bounded queue and
//! returns; one dispatcher task signs it and sends it to each endpoint in its own task, with a
//! timeout per attempt and Kinde's retry schedule (scaled by `--webhook-retry-scale`, so tests
//! need not wait minutes). Each attempt goes to the request log and to a bounded delivery log
//! read by `GET /_emulator/webhooks`.
//!
//! The request log never shows a body. The delivery log keeps each event's payload as decoded
//! JSON, so a test can check what was sent without running an endpoint: it holds ids, emails,
//! names, organization codes and role or permission keys, never a secret (no client secret,
//! token or code is ever part of an event). The signed JWS itself is not kept: Kinde's webhook
//! tokens carry no `exp`, so anyone reading the log could replay one to the endpoint and it
//! would verify. `POST /_emulator/reset` empties the log and ends the deliveries under way.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use super::error::ApiError;
use super::tenant::{Member, Tenant, random_hex};
use super::{RequestLog, State};

/// Where the generic Management API handler keeps the registered webhooks.
pub(super) const COLLECTION: &str = "/api/v1/webhooks";

/// Events waiting for the dispatcher; past this a new event is dropped (and logged as such)
/// rather than slowing the caller or growing without bound.
const QUEUE: usize = 1024;

/// Deliveries kept for `GET /_emulator/webhooks`.
const LOG_CAP: usize = 1000;

/// Attempts sending at the same time, over all endpoints.
const IN_FLIGHT: usize = 32;

/// How long one attempt may take before it counts as failed. Kinde does not document its own.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The shortest scaled attempt timeout: a small scale must not fail a healthy local endpoint.
const MIN_TIMEOUT: Duration = Duration::from_secs(1);

/// Kinde's waits before each retry after an answer other than 200: at once, 5 s, 30 s, 2 min,
/// 10 min, 1 h, 4 h, then every 12 h while under 36 h since the first attempt.
const RETRY_DELAYS: [u64; 9] = [0, 5, 30, 120, 600, 3_600, 14_400, 43_200, 43_200];

/// Who caused an event, as Kinde's `source` claim says it.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Source {
    /// A Management API call.
    Api,
    /// The user, signing up or in.
    User,
}

/// One endpoint an event goes to.
#[derive(Debug, Clone)]
struct Target {
    webhook_id: String,
    endpoint: String,
}

/// An event with its endpoints, waiting to be signed and sent.
pub(super) struct Event {
    event_type: String,
    event_id: String,
    payload: Value,
    targets: Vec<Target>,
    /// The [`Hooks`] epoch it was made in: a reset since drops it.
    epoch: u64,
}

/// One delivery attempt, as `GET /_emulator/webhooks` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// The webhook's id.
    pub webhook_id: String,
    /// Its endpoint, without query or credentials (they may carry secrets).
    pub endpoint: String,
    /// The event type, e.g. `user.created`.
    pub event_type: String,
    /// The payload's `event_id`.
    pub event_id: String,
    /// The `webhook-id` header: one per webhook and event, the same on every retry.
    pub request_id: String,
    /// 1 for the first attempt; 0 when the event was dropped before any.
    pub attempt: u32,
    /// The endpoint's status code, if it answered.
    pub status: Option<u16>,
    /// Why the attempt failed, if it did.
    pub error: Option<String>,
    /// When the attempt started, RFC 3339.
    pub time: String,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// The event as sent, decoded: `{type, data, event_id, source, timestamp}` (no secret is
    /// ever in one; the signed JWS is not kept, see the module's notes).
    pub payload: Value,
}

/// The queue's sending end, the delivery log and the time scale, kept in [`State`].
pub(super) struct Hooks {
    queue: mpsc::Sender<Event>,
    log: Mutex<VecDeque<Delivery>>,
    scale: f64,
    /// Bumped by each reset: events and deliveries of an earlier epoch are dropped, and never
    /// logged, so the log after a reset holds only what happened since.
    epoch: AtomicU64,
}

impl Hooks {
    /// The hooks and the queue's receiving end, for [`run`]. `scale` multiplies the retry
    /// delays and the attempt timeout (1.0: Kinde's).
    pub(super) fn new(scale: Option<f64>) -> (Hooks, mpsc::Receiver<Event>) {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let scale = scale.filter(|s| s.is_finite() && *s >= 0.0).unwrap_or(1.0);
        let hooks = Hooks {
            queue,
            log: Mutex::new(VecDeque::new()),
            scale,
            epoch: AtomicU64::new(0),
        };
        (hooks, receiver)
    }

    /// The recent deliveries, oldest first.
    pub(super) fn deliveries(&self) -> Vec<Delivery> {
        self.log
            .lock()
            .map(|log| log.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Empty the delivery log and end what is queued or retrying (`POST /_emulator/reset`).
    pub(super) fn reset(&self) {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        self.epoch.fetch_add(1, Ordering::SeqCst);
        log.clear();
    }

    /// Whether `epoch` is still the current one (no reset since).
    fn current(&self, epoch: u64) -> bool {
        self.epoch.load(Ordering::SeqCst) == epoch
    }

    /// Log `delivery`, unless a reset came since its event (checked under the log's lock, which
    /// a reset takes too, so nothing of before a reset is logged after it).
    fn record(&self, epoch: u64, delivery: Delivery) {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if !self.current(epoch) {
            return;
        }
        if log.len() >= LOG_CAP {
            log.pop_front();
        }
        log.push_back(delivery);
    }

    fn delay(&self, secs: u64) -> Duration {
        Duration::from_secs_f64(secs as f64 * self.scale)
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs_f64(ATTEMPT_TIMEOUT.as_secs_f64() * self.scale).max(MIN_TIMEOUT)
    }
}

/// Queue `event_type` about `subject` (a user id, organization code, role id or permission id,
/// as the type's prefix says) for the webhooks subscribed to it. Costs nothing when none is;
/// never waits.
pub(super) fn emit(state: &State, event_type: &str, source: Source, subject: &str) {
    let built = state.read(|tenant| {
        let targets = subscribers(tenant, event_type);
        if targets.is_empty() {
            return None;
        }
        Some((targets, data(tenant, event_type, subject)))
    });
    let Some((targets, data)) = built else {
        return;
    };
    let event_id = format!("event_{}", random_hex(16));
    let mut payload = json!({
        "type": event_type,
        "data": data,
        "event_id": event_id,
        "source": source,
        "timestamp": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
    });
    if matches!(
        event_type,
        "user.authenticated" | "user.authentication_failed"
    ) {
        // The emulator listens on 127.0.0.1 only, so every browser reaches it from loopback.
        payload["ip_address"] = Value::String("127.0.0.1".into());
    }
    let event = Event {
        event_type: event_type.to_string(),
        event_id,
        payload,
        targets,
        epoch: state.hooks.epoch.load(Ordering::SeqCst),
    };
    if let Err(mpsc::error::TrySendError::Full(event) | mpsc::error::TrySendError::Closed(event)) =
        state.hooks.queue.try_send(event)
    {
        for target in &event.targets {
            state.hooks.record(
                event.epoch,
                Delivery {
                    webhook_id: target.webhook_id.clone(),
                    endpoint: shown(&target.endpoint),
                    event_type: event.event_type.clone(),
                    event_id: event.event_id.clone(),
                    request_id: String::new(),
                    attempt: 0,
                    status: None,
                    error: Some("dropped: the delivery queue is full".into()),
                    time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
                    duration_ms: 0,
                    payload: event.payload.clone(),
                },
            );
        }
    }
}

/// The webhooks whose `event_types` include `event_type`.
fn subscribers(tenant: &Tenant, event_type: &str) -> Vec<Target> {
    let Some(hooks) = tenant.collections.items.get(COLLECTION) else {
        return Vec::new();
    };
    hooks
        .iter()
        .filter(|hook| {
            hook.get("event_types")
                .and_then(Value::as_array)
                .is_some_and(|types| types.iter().any(|t| t.as_str() == Some(event_type)))
        })
        .filter_map(|hook| {
            Some(Target {
                webhook_id: hook.get("id")?.as_str()?.to_string(),
                endpoint: hook.get("endpoint")?.as_str()?.to_string(),
            })
        })
        .collect()
}

/// Whether webhook `id` is still registered.
fn registered(tenant: &Tenant, id: &str) -> bool {
    tenant
        .collections
        .items
        .get(COLLECTION)
        .is_some_and(|hooks| {
            hooks
                .iter()
                .any(|h| h.get("id").and_then(Value::as_str) == Some(id))
        })
}

/// The event's `data`, in the shapes of Kinde's webhook types.
fn data(tenant: &Tenant, event_type: &str, subject: &str) -> Value {
    let (family, action) = event_type.split_once('.').unwrap_or((event_type, ""));
    match (family, action) {
        ("user", "created" | "updated") => json!({"user": user(tenant, subject)}),
        ("organization", "deleted") => json!({"organization": {"code": subject}}),
        ("organization", _) => {
            let org = tenant.organization(subject);
            let mut body = json!({
                "code": subject,
                "name": org.map(|o| o.name.clone()),
                "handle": org.and_then(|o| o.handle.clone()),
                "external_id": org.and_then(|o| o.external_id.clone()),
            });
            if action == "updated" {
                body["is_allow_registrations"] =
                    Value::Bool(org.is_some_and(|o| o.is_auto_membership_enabled));
            }
            json!({"organization": body})
        }
        ("role", "created" | "updated") => {
            let role = tenant.role(subject);
            json!({"role": {
                "id": subject,
                "key": role.map(|r| r.key.clone()),
                "name": role.map(|r| r.name.clone()),
                "description": role.and_then(|r| r.description.clone()),
                "is_default_role": role.is_some_and(|r| r.is_default_role),
            }})
        }
        ("permission", "created" | "updated") => {
            let permission = tenant.permission(subject);
            json!({"permission": {
                "id": subject,
                "key": permission.map(|p| p.key.clone()),
                "name": permission.map(|p| p.name.clone()),
                "description": permission.map(|p| p.description.clone()),
            }})
        }
        // `user.deleted`, `user.authenticated`, `user.authentication_failed`, `*.deleted`.
        _ => {
            let mut data = serde_json::Map::new();
            data.insert(family.to_string(), json!({"id": subject}));
            Value::Object(data)
        }
    }
}

/// A user as `user.created` / `user.updated` carry it, with each membership's roles and
/// direct permissions (`null` when there are none).
fn user(tenant: &Tenant, id: &str) -> Value {
    let found = tenant.user(id);
    let keyed = |ids: &[String], key: &dyn Fn(&str) -> Option<String>| -> Value {
        if ids.is_empty() {
            return Value::Null;
        }
        ids.iter()
            .map(|id| json!({"id": id, "key": key(id)}))
            .collect()
    };
    let organizations: Vec<Value> = tenant
        .organizations
        .iter()
        .filter_map(|org| org.member(id).map(|m: &Member| (org, m)))
        .map(|(org, member)| {
            json!({
                "code": org.code,
                "roles": keyed(&member.roles, &|r| tenant.role(r).map(|r| r.key.clone())),
                "permissions": keyed(&member.permissions, &|p| {
                    tenant.permission(p).map(|p| p.key.clone())
                }),
            })
        })
        .collect();
    json!({
        "id": id,
        "email": found.map(|u| u.email.clone()),
        "first_name": found.map(|u| u.first_name.clone()),
        "last_name": found.map(|u| u.last_name.clone()),
        "username": found.and_then(|u| u.primary("username")),
        "phone": found.and_then(|u| u.primary("phone")),
        "is_suspended": found.is_some_and(|u| u.is_suspended),
        "is_password_reset_requested": false,
        "organizations": organizations,
    })
}

/// Every event type Kinde documents, the ones a webhook may subscribe to: sign-in, passkey,
/// management and billing events. The emulator sends those its state changes produce; the rest
/// (billing, passkeys, access requests, subscribers) are accepted and never sent.
pub(super) const EVENT_TYPES: &[&str] = &[
    "organization.created",
    "user.created",
    "user.authentication_failed",
    "user.authenticated",
    "subscriber.created",
    "access_request.created",
    "passkey.added",
    "passkey.removed",
    "role.created",
    "role.updated",
    "role.deleted",
    "permission.created",
    "permission.updated",
    "permission.deleted",
    "organization.updated",
    "organization.deleted",
    "user.updated",
    "user.deleted",
    "customer.agreement_cancelled",
    "customer.agreement_created",
    "customer.invoice_overdue",
    "customer.meter_usage_updated",
    "customer.payment_failed",
    "customer.payment_succeeded",
    "customer.plan_created",
    "customer.plan_assigned",
    "customer.plan_changed",
];

/// A webhook's `event_types`: at least one, each an event type Kinde has; Kinde's 400 naming
/// the first that is not.
pub(super) fn check_event_types(types: &Value) -> Result<(), ApiError> {
    let invalid = |message: String| ApiError::bad_request("INVALID_EVENT_TYPE", message);
    let Some(types) = types.as_array() else {
        return Err(invalid(
            "`event_types` must be a list of event types".into(),
        ));
    };
    if types.is_empty() {
        return Err(invalid(
            "`event_types` must name at least one event type".into(),
        ));
    }
    for kind in types {
        let name = kind.as_str().unwrap_or("");
        if !EVENT_TYPES.contains(&name) {
            return Err(invalid(format!(
                "`event_types`: {kind} is not an event type (GET /api/v1/event_types lists them)"
            )));
        }
    }
    Ok(())
}

/// An event type's display name: `user.authentication_failed` is "User authentication failed".
pub(super) fn event_name(key: &str) -> String {
    let words = key.replace(['.', '_'], " ");
    let mut chars = words.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Kinde requires an https endpoint; the emulator also takes http on a loopback host, where a
/// developer's app listens.
pub(super) fn check_endpoint(endpoint: &str) -> Result<(), ApiError> {
    let refuse = || {
        ApiError::bad_request(
            "INVALID_ENDPOINT",
            "The webhook endpoint must be an https URL (the emulator also takes http on 127.0.0.1, ::1 or localhost)",
        )
    };
    let url = url::Url::parse(endpoint).map_err(|_| refuse())?;
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(refuse()),
    }
}

/// The endpoint as logged: scheme, host, port and path only.
fn shown(endpoint: &str) -> String {
    match url::Url::parse(endpoint) {
        Ok(mut url) => {
            url.set_query(None);
            url.set_fragment(None);
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        Err(_) => "(not a URL)".into(),
    }
}

/// Sign and send queued events until the emulator stops (the task is aborted, and with it,
/// through the `JoinSet`, every delivery still retrying).
pub(super) async fn run(state: Arc<State>, mut queue: mpsc::Receiver<Event>) {
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        // No client, no deliveries: the queue still drains so callers never wait.
        Err(_) => {
            while queue.recv().await.is_some() {}
            return;
        }
    };
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut deliveries = JoinSet::new();
    while let Some(event) = queue.recv().await {
        while deliveries.try_join_next().is_some() {}
        if !state.hooks.current(event.epoch) {
            continue;
        }
        let body: Arc<str> = state.sign(&event.payload).into();
        let payload = Arc::new(event.payload);
        // Several endpoints are sent to in parallel, in no order, as Kinde does.
        for target in event.targets {
            let send = Send {
                state: state.clone(),
                client: client.clone(),
                permits: permits.clone(),
                body: body.clone(),
                payload: payload.clone(),
                epoch: event.epoch,
                event_type: event.event_type.clone(),
                event_id: event.event_id.clone(),
                request_id: random_hex(16),
                target,
            };
            deliveries.spawn(send.deliver());
        }
    }
}

/// One event to one endpoint, with its retries.
struct Send {
    state: Arc<State>,
    client: reqwest::Client,
    permits: Arc<Semaphore>,
    body: Arc<str>,
    payload: Arc<Value>,
    epoch: u64,
    event_type: String,
    event_id: String,
    request_id: String,
    target: Target,
}

impl Send {
    async fn deliver(self) {
        let hooks = &self.state.hooks;
        let waits = std::iter::once(None).chain(RETRY_DELAYS.iter().map(|s| Some(*s)));
        for (attempt, wait) in (1u32..).zip(waits) {
            if let Some(secs) = wait {
                tokio::time::sleep(hooks.delay(secs)).await;
                // A webhook deleted meanwhile (or a reset) ends the retries.
                if !self.state.read(|t| registered(t, &self.target.webhook_id)) {
                    return;
                }
            }
            if !hooks.current(self.epoch) {
                return;
            }
            let Ok(_permit) = self.permits.acquire().await else {
                return;
            };
            let time = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
            let started = Instant::now();
            let (status, error) = self.attempt(hooks.timeout()).await;
            let duration = started.elapsed();
            let endpoint = shown(&self.target.endpoint);
            if let Some(log) = &self.state.log {
                log(&RequestLog {
                    method: "WEBHOOK".into(),
                    path: format!("{} -> {endpoint} (attempt {attempt})", self.event_type),
                    status: status.unwrap_or(0),
                    duration,
                });
            }
            hooks.record(
                self.epoch,
                Delivery {
                    webhook_id: self.target.webhook_id.clone(),
                    endpoint,
                    event_type: self.event_type.clone(),
                    event_id: self.event_id.clone(),
                    request_id: self.request_id.clone(),
                    attempt,
                    status,
                    error,
                    time,
                    duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                    payload: (*self.payload).clone(),
                },
            );
            if status == Some(200) {
                return;
            }
        }
    }

    /// One POST: the status, or why there was none; a status other than 200 is an error too.
    async fn attempt(&self, timeout: Duration) -> (Option<u16>, Option<String>) {
        let sent = self
            .client
            .post(&self.target.endpoint)
            .header(reqwest::header::CONTENT_TYPE, "application/jwt")
            .header("webhook-id", &self.request_id)
            .body(self.body.to_string())
            .timeout(timeout)
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let error = (status != 200).then(|| format!("answered {status}, not 200"));
                (Some(status), error)
            }
            // reqwest's messages include the URL, which may carry a secret in its query.
            Err(e) if e.is_timeout() => (None, Some(format!("timed out after {timeout:?}"))),
            Err(e) if e.is_connect() => (None, Some("could not connect".into())),
            Err(_) => (None, Some("the request failed".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_https_or_loopback_http() {
        for ok in [
            "https://app.example/hook",
            "http://127.0.0.1:3000/hook",
            "http://localhost/hook",
            "http://[::1]:8080/",
        ] {
            assert!(check_endpoint(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://app.example/hook",
            "http://10.0.0.1/hook",
            "ftp://127.0.0.1/",
            "sample",
            "",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn logged_endpoints_lose_query_and_credentials() {
        assert_eq!(
            shown("https://u:p@app.example/hook?token=s3cret#x"),
            "https://app.example/hook"
        );
    }

    #[test]
    fn retry_delays_scale_and_the_timeout_has_a_floor() {
        let (hooks, _rx) = Hooks::new(Some(0.001));
        assert_eq!(hooks.delay(5), Duration::from_millis(5));
        assert_eq!(hooks.timeout(), MIN_TIMEOUT);
        let (hooks, _rx) = Hooks::new(None);
        assert_eq!(hooks.delay(120), Duration::from_secs(120));
        assert_eq!(hooks.timeout(), ATTEMPT_TIMEOUT);
        // Under 36 h from the first attempt, as Kinde documents.
        assert!(RETRY_DELAYS.iter().sum::<u64>() < 36 * 3_600);
    }
}
