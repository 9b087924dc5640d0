//! User sign-in with Authorization Code + PKCE (RFC 7636) through the browser and a loopback
//! callback on 127.0.0.1 (RFC 8252), token refresh with rotation, and ID token checks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::cache::{CacheKey, TokenCache};
use super::{AccessToken, TokenError};
use crate::clock::now;
use crate::error::Error;
use crate::net;
use crate::secret::Secret;
use crate::urls::Issuer;

pub use super::discovery::Discovery;

/// Fetch and check `<issuer>/.well-known/openid-configuration` ([`super::discovery::fetch`]).
pub async fn discover(http: &reqwest::Client, issuer: &Issuer) -> Result<Discovery, Error> {
    super::discovery::fetch(http, issuer).await
}

/// The discovery document of `issuer`, trusted only when it names `issuer` exactly and keeps
/// the endpoints that receive the user, the code, the PKCE verifier and the client secret on
/// the issuer's own origin. Checked before anything is sent or any browser opened.
pub async fn sign_in_endpoints(
    http: &reqwest::Client,
    issuer: &Issuer,
) -> Result<Discovery, Error> {
    let discovery = discover(http, issuer).await?;
    discovery.check(issuer)?;
    Ok(discovery)
}

/// `bytes` random bytes, base64url: PKCE verifiers, `state`, `nonce`.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // Without a working system RNG no secure sign-in is possible; stop rather than continue.
    aws_lc_rs::rand::fill(&mut buf).unwrap_or_else(|_| std::process::abort());
    URL_SAFE_NO_PAD.encode(buf)
}

/// The S256 challenge of a PKCE verifier.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD
        .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref())
}

/// What to ask for.
#[derive(Debug, Clone)]
pub struct Request {
    /// The issuer (the custom domain when one is configured).
    pub issuer: Issuer,
    /// The user-facing app.
    pub client_id: String,
    /// Its secret, for back-end apps.
    pub client_secret: Option<Secret>,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Audiences.
    pub audiences: Vec<String>,
    /// `prompt`.
    pub prompt: Option<String>,
    /// Other authorize parameters: `org_code`, `connection_id`, `login_hint`, `lang`.
    pub extra: Vec<(String, String)>,
    /// How long to wait for the browser.
    pub timeout: Duration,
}

/// Tokens from a sign-in or a refresh.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The access token (with its refresh token, if any).
    pub access: AccessToken,
    /// The ID token.
    pub id_token: Option<Secret>,
}

#[derive(Deserialize)]
struct Body {
    access_token: Secret,
    #[serde(default)]
    id_token: Option<Secret>,
    #[serde(default)]
    refresh_token: Option<Secret>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
}

/// A bound loopback listener: bind first, so the port is known (and free) before the URL is built.
pub struct Loopback {
    listener: TcpListener,
    /// `http://127.0.0.1:PORT/callback`.
    pub redirect_uri: String,
}

impl Loopback {
    /// Listen on 127.0.0.1 only (0: a free port).
    pub async fn bind(port: u16) -> Result<Loopback, Error> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            Error::input(format!("cannot listen for the sign-in callback on 127.0.0.1:{port}: {e}"))
                // Only a port whose callback the app allows works, so the hint registers one; a
                // bare `--port 0` would pick a port Kinde then refuses.
                .with_hint("another program uses the port: stop it, or use another port that Kinde allows: set `port = PORT` under [login] in kinde.toml, run `cargo kinde register --yes` to register its callback http://127.0.0.1:PORT/callback, then `cargo kinde login` again")
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::network(e.to_string()))?
            .port();
        Ok(Loopback {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}/callback"),
        })
    }
}

/// The authorize URL for `request`, with a fresh verifier, state and nonce.
pub fn authorize_url(
    discovery: &Discovery,
    request: &Request,
    redirect_uri: &str,
    challenge: &str,
    state: &str,
    nonce: &str,
) -> Result<String, Error> {
    let mut url = url::Url::parse(&discovery.authorization_endpoint).map_err(|e| {
        Error::network(format!(
            "the discovery document's authorization_endpoint is not a URL: {e}"
        ))
    })?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &request.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &request.scopes.join(" "))
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        for audience in &request.audiences {
            q.append_pair("audience", audience);
        }
        if let Some(prompt) = &request.prompt {
            q.append_pair("prompt", prompt);
        }
        for (k, v) in &request.extra {
            q.append_pair(k, v);
        }
    }
    Ok(url.into())
}

/// What happens while a sign-in waits for the browser, for the caller to show (the library
/// does not print).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waiting {
    /// The authorize URL, to open in a browser or print.
    Authorize(String),
    /// A request on the loopback that is not a sign-in response (another path, or no `state`):
    /// answered with an error page; still waiting. Carries the path.
    Stray(String),
    /// A callback with another `state`: forged, or from an older sign-in. Answered with an
    /// error page; still waiting for this sign-in's response.
    ForeignState,
}

/// Run the browser sign-in: `on` receives the authorize URL (to open or print) and what
/// happens on the loopback while waiting; the first response carrying this sign-in's `state`
/// ends the wait, the code is exchanged, and the ID token checked. An error from `on` stops the
/// sign-in.
pub async fn sign_in(
    http: &reqwest::Client,
    request: &Request,
    loopback: Loopback,
    mut on: impl FnMut(Waiting) -> Result<(), Error>,
) -> Result<Tokens, Error> {
    let discovery = sign_in_endpoints(http, &request.issuer).await?;
    let verifier = random_token(32);
    let state = random_token(16);
    let nonce = random_token(16);
    let redirect_uri = loopback.redirect_uri.clone();
    let url = authorize_url(
        &discovery,
        request,
        &redirect_uri,
        &challenge(&verifier),
        &state,
        &nonce,
    )?;
    // Served until this function returns: a second response during the exchange gets a page
    // saying the sign-in is already answered.
    let mut callback = Callback::serve(loopback.listener, state);
    on(Waiting::Authorize(url))?;
    let deadline = tokio::time::sleep(request.timeout);
    tokio::pin!(deadline);
    let cancel = tokio::signal::ctrl_c();
    tokio::pin!(cancel);
    let code = loop {
        tokio::select! {
            outcome = callback.next() => match outcome {
                Some(Outcome::Code(code)) => break code,
                Some(Outcome::Refused(e)) => return Err(e),
                Some(Outcome::Notice(notice)) => on(notice)?,
                None => return Err(Error::network("the sign-in callback server stopped")),
            },
            () = &mut deadline => {
                return Err(Error::input(format!("no sign-in within {} s", request.timeout.as_secs()))
                    .with_hint("open the URL above in a browser and sign in, or pass a longer --timeout"));
            }
            _ = &mut cancel => return Err(Error::cancelled("sign-in")),
        }
    };
    let mut form = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", request.client_id.clone()),
        ("code_verifier", verifier),
    ];
    if let Some(secret) = &request.client_secret {
        form.push(("client_secret", secret.expose().to_string()));
    }
    let tokens = exchange(http, &discovery.token_endpoint, &form).await?;
    check_id_token(http, request, &discovery.jwks_uri, &tokens, &nonce).await?;
    drop(callback);
    Ok(tokens)
}

/// A user token found without a browser: [`stored`]'s answer.
#[derive(Debug)]
pub enum Stored {
    /// A fresh token from the cache.
    Cached(Tokens),
    /// A new token from the cached refresh token (saved back to the cache, rotated).
    Refreshed(Tokens),
    /// The cached refresh token was refused (and forgotten); a sign-in is needed. Carries the
    /// server's reason.
    RefreshRefused(String),
    /// Nothing cached for this request.
    Nothing,
}

/// A user token for `request` without a browser: a fresh one from `cache`, else one obtained with
/// the cached refresh token (kept rotated in the cache). A refused refresh token is removed.
/// `http` is called only for a refresh, so a cached token builds no HTTP client.
pub async fn stored<'h>(
    http: impl FnOnce() -> Result<&'h reqwest::Client, Error>,
    request: &Request,
    cache: &TokenCache,
) -> Result<Stored, Error> {
    let key = cache_key(request);
    if let Some(access) = cache.get(&key) {
        return Ok(Stored::Cached(Tokens {
            access,
            id_token: None,
        }));
    }
    let Some(refresh_token) = cache.get_any(&key).and_then(|t| t.refresh_token) else {
        return Ok(Stored::Nothing);
    };
    match refresh(http()?, request, &refresh_token).await {
        Ok(mut tokens) => {
            // Rotation: keep the new refresh token, or the old one if none came back.
            tokens.access.refresh_token = tokens.access.refresh_token.or(Some(refresh_token));
            tokens.access.unsaved = cache.put(&key, &tokens.access).err().map(|e| e.to_string());
            Ok(Stored::Refreshed(tokens))
        }
        Err(e) if e.exit_code() == crate::error::exit::AUTH => {
            cache.remove(&key);
            Ok(Stored::RefreshRefused(e.to_string()))
        }
        Err(e) => Err(e),
    }
}

/// The cache key of a user token for `request`.
pub fn cache_key(request: &Request) -> CacheKey {
    CacheKey::user(
        &request.issuer,
        &request.client_id,
        &request.audiences,
        &request.scopes,
    )
}

/// Use a refresh token (rotated: the answer carries the next one).
pub async fn refresh(
    http: &reqwest::Client,
    request: &Request,
    refresh_token: &Secret,
) -> Result<Tokens, Error> {
    let discovery = sign_in_endpoints(http, &request.issuer).await?;
    let mut form = vec![
        ("grant_type", "refresh_token".to_string()),
        ("refresh_token", refresh_token.expose().to_string()),
        ("client_id", request.client_id.clone()),
    ];
    if let Some(secret) = &request.client_secret {
        form.push(("client_secret", secret.expose().to_string()));
    }
    exchange(http, &discovery.token_endpoint, &form).await
}

async fn exchange(
    http: &reqwest::Client,
    token_endpoint: &str,
    form: &[(&str, String)],
) -> Result<Tokens, Error> {
    // Codes, verifiers and secrets sent here must never show in what the server sends back.
    for (name, value) in form {
        if matches!(
            *name,
            "code" | "code_verifier" | "client_secret" | "refresh_token"
        ) {
            crate::secret::register(value);
        }
    }
    let reply = net::send(
        http.post(token_endpoint).form(form),
        token_endpoint,
        net::TOKEN_LIMIT,
    )
    .await?;
    let status = reply.status;
    let text = reply.text();
    if !status.is_success() {
        return Err(match serde_json::from_str::<TokenError>(&text) {
            Ok(err) => {
                let description = net::server_line(&err.error_description.unwrap_or_default());
                let hint = match err.error.as_str() {
                    "invalid_grant" => {
                        "the code or refresh token was refused; sign in again with `cargo kinde login`"
                    }
                    "invalid_client" => {
                        "check KINDE_CLIENT_ID (and KINDE_CLIENT_SECRET for back-end apps)"
                    }
                    _ => "check the app's settings in Kinde (Settings > Applications)",
                };
                Error::auth(format!(
                    "the token request was refused: {} ({description})",
                    net::server_line(&err.error)
                ))
                .with_hint(hint)
            }
            Err(_) => Error::network(format!(
                "{token_endpoint} answered {status}: {}",
                net::excerpt(&text, 160)
            )),
        });
    }
    let body: Body = serde_json::from_str(&text)
        .map_err(|e| Error::network(format!("{token_endpoint}: not a token response ({e})")))?;
    let expires_at = crate::jwt::decode(body.access_token.expose())
        .ok()
        .and_then(|d| d.claims.get("exp").and_then(Value::as_u64))
        .or_else(|| body.expires_in.map(|s| now().saturating_add(s)))
        .unwrap_or_else(|| now() + 3600);
    Ok(Tokens {
        access: AccessToken {
            token: body.access_token,
            token_type: body.token_type.unwrap_or_else(|| "Bearer".into()),
            expires_at,
            scope: body.scope,
            cached: false,
            refresh_token: body.refresh_token,
            unsaved: None,
        },
        id_token: body.id_token,
    })
}

/// The ID token must be signed by the issuer, for this client, unexpired, with our nonce.
async fn check_id_token(
    http: &reqwest::Client,
    request: &Request,
    jwks_uri: &str,
    tokens: &Tokens,
    nonce: &str,
) -> Result<(), Error> {
    let Some(id_token) = &tokens.id_token else {
        return if request.scopes.iter().any(|s| s == "openid") {
            Err(Error::auth(
                "the token response has no ID token although `openid` was requested",
            ))
        } else {
            Ok(())
        };
    };
    let expect = crate::jwt::verify::Expectations {
        issuers: vec![request.issuer.as_str().to_string()],
        audiences: vec![request.client_id.clone()],
        scopes: Vec::new(),
        azp: None,
        leeway: 30,
        now: now(),
    };
    // The keys at the checked discovery document's `jwks_uri` (on the issuer's own origin).
    let jwks_uri = jwks_uri.to_string();
    let keys = crate::jwt::jwks::KeySource::remote(http.clone(), &request.issuer, None)
        .with_jwks_uri(Box::pin(async move { Ok(jwks_uri) }));
    let mut keys = crate::jwt::verify::IssuerKeys::new().with(request.issuer.as_str(), keys);
    let report = crate::jwt::verify::verify(id_token.expose(), &expect, &mut keys).await?;
    if let Some(failed) = report.first_failure() {
        return Err(Error::auth(format!(
            "the ID token is not valid: {}: {}",
            failed.name, failed.detail
        )));
    }
    let got = report
        .claims
        .as_ref()
        .and_then(|c| c.get("nonce"))
        .and_then(Value::as_str);
    if got != Some(nonce) {
        return Err(Error::auth("the ID token's nonce does not match the sign-in request: it may be replayed; nothing was saved")
            .with_hint("sign in again; if it repeats, something between you and the provider is tampering with the response"));
    }
    Ok(())
}

/// Callback connections served at once (each holds an 8 KiB buffer); more wait in the listen
/// queue until one ends. High enough that idle sockets cannot crowd out the browser.
const MAX_CONNECTIONS: usize = 1024;

/// How long a connection may take to send its request line and headers: a browser sends them at
/// once, so an idle socket is dropped quickly.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// What the loopback learned from one connection.
#[derive(Debug)]
enum Outcome {
    /// This sign-in's code.
    Code(String),
    /// This sign-in's response, refusing it (or malformed).
    Refused(Error),
    /// Something to tell the user; the wait goes on.
    Notice(Waiting),
}

/// The loopback callback server (RFC 8252 §7.3): each connection is served in its own task, so
/// idle or slow sockets cannot hold up the browser's redirect, and only a response carrying this
/// sign-in's `state` can end the wait, once. Stopped when dropped.
struct Callback {
    server: tokio::task::JoinHandle<()>,
    outcomes: mpsc::Receiver<Outcome>,
}

impl Callback {
    fn serve(listener: TcpListener, state: String) -> Callback {
        let (tx, outcomes) = mpsc::channel(MAX_CONNECTIONS);
        let server = tokio::spawn(accept(listener, Arc::from(state), tx));
        Callback { server, outcomes }
    }

    async fn next(&mut self) -> Option<Outcome> {
        self.outcomes.recv().await
    }
}

impl Drop for Callback {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection task.
        self.server.abort();
    }
}

async fn accept(listener: TcpListener, state: Arc<str>, tx: mpsc::Sender<Outcome>) {
    let answered = Arc::new(AtomicBool::new(false));
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        if connections.len() >= MAX_CONNECTIONS {
            connections.join_next().await;
            continue;
        }
        match listener.accept().await {
            Ok((stream, _)) => {
                connections.spawn(serve_one(
                    stream,
                    state.clone(),
                    answered.clone(),
                    tx.clone(),
                ));
            }
            // Out of descriptors or a reset before accept: pause rather than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// The request target (`/path?query`) of the request on `stream`, or `None` when it does not
/// send a request head in time.
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut buf = vec![0u8; 8192];
    let mut len = 0;
    let read = tokio::time::timeout(READ_TIMEOUT, async {
        while len < buf.len() {
            match stream.read(&mut buf[len..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    len += n;
                    if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    if read.is_err() || len == 0 {
        return None;
    }
    let head = String::from_utf8_lossy(&buf[..len]);
    Some(head.lines().next()?.split_whitespace().nth(1)?.to_string())
}

async fn serve_one(
    mut stream: TcpStream,
    expected_state: Arc<str>,
    answered: Arc<AtomicBool>,
    tx: mpsc::Sender<Outcome>,
) {
    let Some(target) = read_target(&mut stream).await else {
        return;
    };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    if path != "/callback" {
        respond(
            &mut stream,
            "404 Not Found",
            "Not found",
            "This is cargo kinde's sign-in callback; nothing else is served here.",
        )
        .await;
        // Notices are best effort: a flood of strays must not block the server.
        let _ = tx.try_send(Outcome::Notice(Waiting::Stray(path.to_string())));
        return;
    }
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| {
        params
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
    };
    let Some(state) = get("state") else {
        respond(&mut stream, "400 Bad Request", "Not a sign-in response", "This request carries no state, so it is not the answer to the sign-in waiting in the terminal. That sign-in goes on.").await;
        let _ = tx.try_send(Outcome::Notice(Waiting::Stray(path.to_string())));
        return;
    };
    if aws_lc_rs::constant_time::verify_slices_are_equal(
        state.as_bytes(),
        expected_state.as_bytes(),
    )
    .is_err()
    {
        respond(&mut stream, "400 Bad Request", "Sign-in response refused", "This response does not belong to the sign-in waiting in the terminal (another state). It was ignored; finish the sign-in from the page the terminal opened.").await;
        let _ = tx.try_send(Outcome::Notice(Waiting::ForeignState));
        return;
    }
    // Exactly one response with the right state is taken; any later one is refused.
    if answered.swap(true, Ordering::SeqCst) {
        respond(
            &mut stream,
            "400 Bad Request",
            "Already answered",
            "This sign-in has already received its response. Go back to the terminal.",
        )
        .await;
        return;
    }
    let outcome = if let Some(error) = get("error") {
        let description = get("error_description").unwrap_or_default();
        respond(
            &mut stream,
            "200 OK",
            "Sign-in failed",
            &format!("{error}: {description}. Go back to the terminal."),
        )
        .await;
        Outcome::Refused(Error::auth(format!("the provider refused the sign-in: {error} ({description})"))
            .with_hint("check the user may sign in to this application, and the requested audiences and scopes"))
    } else if let Some(code) = get("code") {
        respond(
            &mut stream,
            "200 OK",
            "Signed in",
            "You are signed in. You can close this tab and go back to the terminal.",
        )
        .await;
        Outcome::Code(code)
    } else {
        respond(
            &mut stream,
            "400 Bad Request",
            "Sign-in failed",
            "The callback carries no code.",
        )
        .await;
        Outcome::Refused(Error::auth(
            "the callback carries neither a code nor an error",
        ))
    };
    let _ = tx.send(outcome).await;
}

/// `text` safe inside HTML: the provider's error text comes from the query string.
fn html_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

async fn respond(stream: &mut TcpStream, status: &str, title: &str, message: &str) {
    let message = html_escape(message);
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head><body style=\"font-family:system-ui,sans-serif;max-width:30rem;margin:4rem auto\"><h1>{title}</h1><p>{message}</p><p style=\"color:#666\">cargo kinde</p></body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc_7636_appendix_b() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let v = random_token(32);
        assert_eq!(v.len(), 43);
        assert_ne!(v, random_token(32));
    }

    fn discovery(iss: &str, authorize: &str, token: &str, end: Option<&str>) -> Discovery {
        Discovery {
            issuer: iss.into(),
            authorization_endpoint: authorize.into(),
            token_endpoint: token.into(),
            jwks_uri: format!("{iss}/.well-known/jwks"),
            end_session_endpoint: end.map(String::from),
            userinfo_endpoint: None,
        }
    }

    #[test]
    fn discovery_must_name_the_issuer_and_keep_endpoints_on_it() {
        let issuer = Issuer::parse("https://acme.kinde.com").unwrap();
        let at = |path: &str| format!("https://acme.kinde.com{path}");
        let good = discovery(
            "https://acme.kinde.com",
            &at("/oauth2/auth"),
            &at("/oauth2/token"),
            Some(&at("/logout")),
        );
        good.check(&issuer).unwrap();
        let refused = |d: Discovery, what: &str| {
            let e = d.check(&issuer).unwrap_err();
            assert_eq!(e.exit_code(), crate::error::exit::NETWORK);
            assert!(e.to_string().contains(what), "{e}");
        };
        for iss in [
            "https://acme.kinde.com/",
            "https://evil.kinde.com",
            "http://acme.kinde.com",
            "HTTPS://ACME.kinde.com ",
        ] {
            refused(
                discovery(iss, &at("/oauth2/auth"), &at("/oauth2/token"), None),
                "names issuer",
            );
        }
        for token in [
            "https://evil.example/oauth2/token",
            "http://acme.kinde.com/oauth2/token",
            "https://acme.kinde.com:8443/oauth2/token",
            "https://acme.kinde.com.evil.example/oauth2/token",
            "https://user:pw@acme.kinde.com/oauth2/token",
            "/oauth2/token",
        ] {
            refused(
                discovery("https://acme.kinde.com", &at("/oauth2/auth"), token, None),
                "token_endpoint",
            );
        }
        refused(
            discovery(
                "https://acme.kinde.com",
                "https://evil.example/auth",
                &at("/oauth2/token"),
                None,
            ),
            "authorization_endpoint",
        );
        refused(
            discovery(
                "https://acme.kinde.com",
                &at("/oauth2/auth"),
                &at("/oauth2/token"),
                Some("javascript:alert(1)"),
            ),
            "end_session_endpoint",
        );
        // The emulator: plain http on loopback, same port.
        let local = Issuer::parse("http://127.0.0.1:4000").unwrap();
        let d = discovery(
            "http://127.0.0.1:4000",
            "http://127.0.0.1:4000/oauth2/auth",
            "http://127.0.0.1:4000/oauth2/token",
            None,
        );
        d.check(&local).unwrap();
        let other_port = discovery(
            "http://127.0.0.1:4000",
            "http://127.0.0.1:4000/oauth2/auth",
            "http://127.0.0.1:4001/oauth2/token",
            None,
        );
        assert!(other_port.check(&local).is_err());
    }

    /// Send `request` to the callback and return the response's status line.
    async fn call(port: u16, target: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream
            .write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response.lines().next().unwrap_or_default().to_string()
    }

    #[tokio::test]
    async fn the_callback_serves_concurrently_and_takes_one_response() {
        let loopback = Loopback::bind(0).await.unwrap();
        let port = url::Url::parse(&loopback.redirect_uri)
            .unwrap()
            .port()
            .unwrap();
        let mut callback = Callback::serve(loopback.listener, "the-state".into());
        // Idle sockets that never send a request do not hold up the others.
        let mut idle = Vec::new();
        for _ in 0..(MAX_CONNECTIONS - 4) {
            idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
        }
        assert!(call(port, "/favicon.ico").await.contains("404"));
        assert!(call(port, "/callback").await.contains("400"));
        assert!(
            call(port, "/callback?code=stolen&state=guess")
                .await
                .contains("400")
        );
        assert!(
            call(port, "/callback?code=real&state=the-state")
                .await
                .contains("200")
        );
        assert!(
            call(port, "/callback?code=second&state=the-state")
                .await
                .contains("400"),
            "only one response is taken"
        );
        let mut seen = Vec::new();
        while let Ok(Some(outcome)) =
            tokio::time::timeout(Duration::from_millis(200), callback.next()).await
        {
            seen.push(outcome);
        }
        let codes: Vec<&String> = seen
            .iter()
            .filter_map(|o| match o {
                Outcome::Code(c) => Some(c),
                _ => None,
            })
            .collect();
        assert_eq!(codes, ["real"]);
        assert!(
            seen.iter()
                .any(|o| matches!(o, Outcome::Notice(Waiting::ForeignState)))
        );
        assert!(
            seen.iter()
                .any(|o| matches!(o, Outcome::Notice(Waiting::Stray(p)) if p == "/favicon.ico"))
        );
        drop(idle);
    }

    #[test]
    fn error_pages_escape_html() {
        assert_eq!(
            html_escape("<script>alert('x')</script>&"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"
        );
    }
}
