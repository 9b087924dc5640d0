//! The Management API client: one HTTP client, the bearer token from the M2M cache, bounded
//! retries with backoff, and errors that say what to do.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::error::Error;
use crate::net;
use crate::oauth::cache::{CacheKey, TokenCache};
use crate::oauth::{self, AccessToken, ClientCredentials};
use crate::ui;
use crate::urls::Issuer;

/// How often and how long to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff; doubled on each retry.
    pub base_delay: Duration,
    /// Longest single wait, also the cap on `RateLimit-Reset`.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// A Management API response of any status.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The body, parsed when it is JSON.
    pub json: Option<Value>,
    /// The body as text.
    pub text: String,
    /// `next_token`, when the body has one.
    pub next_token: Option<String>,
}

/// Something the client did on its own that a person waiting may want to know about. The
/// library never prints: the caller hands an observer to [`Client::with_observer`] and decides
/// how (and whether) to show these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A request failed in a way worth retrying, and is sent again after `wait`.
    Retry {
        /// The request's method.
        method: Method,
        /// The request's path.
        path: String,
        /// Why it is retried.
        cause: RetryCause,
        /// How long the client waits first.
        wait: Duration,
        /// Which retry this is (1-based).
        attempt: u32,
        /// The most retries the policy allows.
        max_retries: u32,
    },
}

/// Why a request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryCause {
    /// No response: "timed out", "could not connect", "connection dropped".
    Transport(&'static str),
    /// A 429, or a 5xx on an idempotent method.
    Status(StatusCode),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Retry {
                method,
                path,
                cause,
                wait,
                attempt,
                max_retries,
            } => {
                write!(f, "{method} {path}: ")?;
                match cause {
                    RetryCause::Transport(what) => f.write_str(what)?,
                    RetryCause::Status(status) => write!(f, "{status}")?,
                }
                write!(
                    f,
                    "; retrying in {} ms ({attempt}/{max_retries})",
                    wait.as_millis()
                )
            }
        }
    }
}

/// Receives the client's [`Event`]s as they happen.
pub type Observer = Arc<dyn Fn(&Event) + Send + Sync>;

/// The Management API of one tenant.
pub struct Client {
    http: reqwest::Client,
    issuer: Issuer,
    credentials: ClientCredentials,
    cache: Option<TokenCache>,
    token: Mutex<Option<AccessToken>>,
    retry: RetryPolicy,
    observer: Option<Observer>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("issuer", &self.issuer.as_str())
            .finish_non_exhaustive()
    }
}

fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    )
}

impl Client {
    /// A client for `credentials.issuer`, with tokens for the Management API audience.
    pub fn new(
        http: reqwest::Client,
        mut credentials: ClientCredentials,
        cache: Option<TokenCache>,
    ) -> Self {
        credentials.audiences = vec![credentials.issuer.management_audience()];
        Client {
            http,
            issuer: credentials.issuer.clone(),
            credentials,
            cache,
            token: Mutex::new(None),
            retry: RetryPolicy::default(),
            observer: None,
        }
    }

    /// Tell `observer` about retries while they happen (without one they are silent).
    #[must_use]
    pub fn with_observer(mut self, observer: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Start with `token` (a caller that just fetched one need not fetch another).
    #[must_use]
    pub fn with_token(self, token: AccessToken) -> Self {
        Client {
            token: Mutex::new(Some(token)),
            ..self
        }
    }

    fn notify(&self, event: Event) {
        if let Some(observer) = &self.observer {
            observer(&event);
        }
    }

    /// Use another retry policy (tests shorten the waits).
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The tenant's issuer.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// The M2M app's client id.
    pub fn client_id(&self) -> &str {
        &self.credentials.client_id
    }

    /// Whether this client's M2M app holds every one of `scopes` on `audience`, proven by asking
    /// for a token with them (Kinde answers `invalid_scope` otherwise).
    pub async fn holds_scopes(&self, audience: &str, scopes: &[String]) -> Result<bool, Error> {
        let request = ClientCredentials {
            audiences: vec![audience.to_string()],
            scopes: scopes.to_vec(),
            ..self.credentials.clone()
        };
        let cache_root = self.cache.as_ref().map(TokenCache::root);
        oauth::granted(&self.http, cache_root, &request).await
    }

    async fn bearer(&self) -> Result<AccessToken, Error> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref() {
            return Ok(token.clone());
        }
        let token =
            oauth::client_credentials(&self.http, self.cache.as_ref(), &self.credentials).await?;
        *slot = Some(token.clone());
        Ok(token)
    }

    /// Replace a refused cached token with a new one (written to the cache).
    async fn renew(&self) -> Result<AccessToken, Error> {
        let token = oauth::client_credentials(&self.http, None, &self.credentials).await?;
        if let Some(cache) = &self.cache {
            let _ = cache.put(&CacheKey::new(&self.credentials), &token);
        }
        *self.token.lock().await = Some(token.clone());
        Ok(token)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.retry
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.retry.max_delay)
    }

    /// Send a request and return the response whatever its status, after retrying 429s (any
    /// method: the server did not act on them), and 5xx and dropped connections on idempotent
    /// methods. A cached token refused with 401 or 403 is replaced once by a new one: the app's
    /// grants may have changed since it was cached.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Response, Error> {
        let url = self.issuer.endpoint(path);
        let mut token = self.bearer().await?;
        let mut renewed = false;
        let mut attempt = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.token.expose())
                .header("accept", "application/json");
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let started = std::time::Instant::now();
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) if idempotent(&method) && attempt < self.retry.max_retries => {
                    let wait = self.backoff(attempt);
                    attempt += 1;
                    self.notify(Event::Retry {
                        method: method.clone(),
                        path: path.to_string(),
                        cause: RetryCause::Transport(short_cause(&e)),
                        wait,
                        attempt,
                        max_retries: self.retry.max_retries,
                    });
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Err(e) => return Err(net::transport_error(&url, &e)),
            };
            let status = response.status();
            ui::debug(&format!(
                "{method} {url} -> {} ({} ms)",
                status.as_u16(),
                started.elapsed().as_millis()
            ));
            let reset = response
                .headers()
                .get("ratelimit-reset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let body = net::read_body(&url, response, net::API_LIMIT).await?;
            let text = String::from_utf8_lossy(&body).into_owned();
            let retryable = status == StatusCode::TOO_MANY_REQUESTS
                || (status.is_server_error() && idempotent(&method));
            if retryable && attempt < self.retry.max_retries {
                let wait = match reset {
                    Some(secs) if status == StatusCode::TOO_MANY_REQUESTS => {
                        Duration::from_secs(secs).min(self.retry.max_delay)
                    }
                    _ => self.backoff(attempt),
                };
                attempt += 1;
                self.notify(Event::Retry {
                    method: method.clone(),
                    path: path.to_string(),
                    cause: RetryCause::Status(status),
                    wait,
                    attempt,
                    max_retries: self.retry.max_retries,
                });
                tokio::time::sleep(wait).await;
                continue;
            }
            if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
                && token.cached
                && !renewed
            {
                ui::debug(&format!("{status} with a cached token; fetching a new one"));
                token = self.renew().await?;
                renewed = true;
                continue;
            }
            let json: Option<Value> = serde_json::from_str(&text).ok();
            let next_token = json
                .as_ref()
                .and_then(|j| j.get("next_token"))
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(String::from);
            let response = Response {
                status,
                json,
                text,
                next_token,
            };
            if status == StatusCode::UNAUTHORIZED {
                return Err(unauthorized(&method, path, &response, &token, renewed));
            }
            return Ok(response);
        }
    }

    /// Send and require a 2xx, mapping anything else to an error naming the fix.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Value, Error> {
        let response = self.send(method.clone(), path, query, body).await?;
        if response.status.is_success() {
            return Ok(response.json.unwrap_or(Value::Null));
        }
        Err(status_error(
            &method,
            path,
            &response,
            &self.credentials.client_id,
        ))
    }

    /// GET every page of `path`, following `next_token`, and merge them: each page's lists
    /// appended to the first page's (what `cargo kinde api --paginate` prints).
    pub async fn get_all_pages(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Value, Error> {
        let mut merged = Map::new();
        let mut next: Option<String> = None;
        // Bounded like `list_all`: a server that never ends the list must not hang the command.
        for _ in 0..10_000 {
            let mut q = query.to_vec();
            if let Some(token) = &next {
                q.push(("next_token".into(), token.clone()));
            }
            let Value::Object(mut page) = self.call(Method::GET, path, &q, None).await? else {
                return Err(Error::network(format!(
                    "GET {path}: a page is not a JSON object"
                )));
            };
            next = page
                .remove("next_token")
                .and_then(|t| t.as_str().map(String::from))
                .filter(|t| !t.is_empty());
            let mut items = 0;
            for (key, value) in page {
                match (merged.get_mut(&key), value) {
                    (Some(Value::Array(all)), Value::Array(more)) => {
                        items += more.len();
                        all.extend(more);
                    }
                    (None, value) => {
                        items += value.as_array().map_or(0, Vec::len);
                        merged.insert(key, value);
                    }
                    (Some(_), _) => {}
                }
            }
            if next.is_none() || items == 0 {
                return Ok(Value::Object(merged));
            }
        }
        Err(Error::network(format!(
            "{path}: pagination did not end after 10000 pages"
        )))
    }

    /// GET every page of a list, following `next_token`, and return the items under `key`.
    pub async fn list_all(
        &self,
        path: &str,
        key: &str,
        query: &[(String, String)],
    ) -> Result<Vec<Value>, Error> {
        let mut items = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..10_000 {
            let mut q = query.to_vec();
            if let Some(token) = &next {
                q.push(("next_token".into(), token.clone()));
            }
            let page = self.call(Method::GET, path, &q, None).await?;
            if let Some(Value::Array(list)) = page.get(key) {
                items.extend(list.iter().cloned());
            }
            next = page
                .get("next_token")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(String::from);
            let empty = page
                .get(key)
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty);
            if next.is_none() || empty {
                return Ok(items);
            }
        }
        Err(Error::network(format!(
            "{path}: pagination did not end after 10000 pages"
        )))
    }
}

fn short_cause(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "connection dropped"
    }
}

/// Kinde's `{"errors":[{code,message}]}` (or a single object) as `CODE: message; ...`, made safe
/// to show ([`net::server_text`]).
pub fn kinde_errors(body: &Value) -> Option<String> {
    let one = |e: &Value| {
        let code = e.get("code").and_then(Value::as_str).unwrap_or("");
        let message = e.get("message").and_then(Value::as_str).unwrap_or("");
        match (code.is_empty(), message.is_empty()) {
            (false, false) => Some(format!("{code}: {message}")),
            (true, false) => Some(message.to_string()),
            (false, true) => Some(code.to_string()),
            (true, true) => None,
        }
    };
    let said = match body.get("errors")? {
        Value::Array(list) => {
            let parts: Vec<String> = list.iter().filter_map(one).collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
        other => one(other),
    };
    said.map(|text| net::server_line(&text))
}

/// What the server said: Kinde's error messages, or the status and an excerpt of the body.
pub fn describe(response: &Response) -> String {
    match response.json.as_ref().and_then(kinde_errors) {
        Some(messages) => messages,
        None if response.text.trim().is_empty() => "(empty body)".into(),
        None => format!("not JSON: {}", net::excerpt(&response.text, 160)),
    }
}

fn unauthorized(
    method: &Method,
    path: &str,
    response: &Response,
    token: &AccessToken,
    renewed: bool,
) -> Error {
    let which = if renewed {
        "a cached token was refused, and so was a new one".to_string()
    } else if token.cached {
        format!(
            "the token came from the cache with {} s left",
            token.expires_in()
        )
    } else if token.expires_in() == 0 {
        "the token had expired".to_string()
    } else {
        format!("the token was new, valid for {} s", token.expires_in())
    };
    Error::auth(format!("{method} {path}: 401 Unauthorized, the Management API refused the token ({which}): {}", describe(response)))
        .with_hint("check the domain is the tenant the M2M app belongs to, and the app is authorised for the Kinde Management API (Settings > APIs > Kinde Management API > Applications)")
}

/// The error for a non-2xx, non-401 response.
pub fn status_error(method: &Method, path: &str, response: &Response, client_id: &str) -> Error {
    let status = response.status;
    let said = describe(response);
    if status == StatusCode::FORBIDDEN {
        let scope = super::find_operation(method.as_str(), path).and_then(|o| o.scope);
        let need = scope.map_or_else(
            || "a scope it lacks".to_string(),
            |s| format!("the scope `{s}`"),
        );
        return Error::auth(format!("{method} {path}: 403 Forbidden, the M2M app's token lacks {need} ({said})")).with_hint(format!(
            "grant it in Kinde: Settings > Applications > <M2M app {client_id}> > APIs > Kinde Management API > scopes{}",
            scope.map_or(String::new(), |s| format!(", tick `{s}`"))
        ));
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Error::network(format!(
            "{method} {path}: 429 Too Many Requests after retries ({said})"
        ))
        .with_hint("Kinde rate-limits the Management API; wait a minute and run again");
    }
    if status.is_server_error() {
        return Error::network(format!("{method} {path}: {status} ({said})"))
            .with_hint("Kinde had a problem; run the command again shortly");
    }
    if status == StatusCode::NOT_FOUND && said.contains("ROUTE_NOT_FOUND") {
        return Error::input(format!(
            "{method} {path}: no such Management API route ({said})"
        ));
    }
    Error::input(format!("{method} {path}: {status} ({said})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_events_for_the_caller_to_show() {
        let event = Event::Retry {
            method: Method::GET,
            path: "/api/v1/users".into(),
            cause: RetryCause::Status(StatusCode::TOO_MANY_REQUESTS),
            wait: Duration::from_millis(1000),
            attempt: 1,
            max_retries: 3,
        };
        assert_eq!(
            event.to_string(),
            "GET /api/v1/users: 429 Too Many Requests; retrying in 1000 ms (1/3)"
        );
        let dropped = Event::Retry {
            method: Method::GET,
            path: "/api/v1/users".into(),
            cause: RetryCause::Transport("connection dropped"),
            wait: Duration::from_millis(250),
            attempt: 2,
            max_retries: 3,
        };
        assert!(
            dropped
                .to_string()
                .contains(": connection dropped; retrying")
        );
    }
}
