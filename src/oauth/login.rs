//! User sign-in with Authorization Code + PKCE (RFC 7636) through the browser and a loopback
//! callback on 127.0.0.1 (RFC 8252), token refresh with rotation, and ID token checks.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::cache::{CacheKey, TokenCache};
use super::{AccessToken, TokenError};
use crate::clock::now;
use crate::error::Error;
use crate::net;
use crate::secret::Secret;
use crate::ui;
use crate::urls::Issuer;

pub use super::discovery::Discovery;

/// Fetch and check `<issuer>/.well-known/openid-configuration` ([`super::discovery::fetch`]).
pub async fn discover(http: &reqwest::Client, issuer: &Issuer) -> Result<Discovery, Error> {
    super::discovery::fetch(http, issuer).await
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
                .with_hint("another program uses the port: stop it, or pass --port with another port (and register http://127.0.0.1:PORT/callback), or --port 0 for any free one")
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

/// Run the browser sign-in: `show` receives the authorize URL (to open or print), then the
/// loopback waits for the callback, the code is exchanged, and the ID token checked.
pub async fn sign_in(
    http: &reqwest::Client,
    request: &Request,
    loopback: Loopback,
    show: impl FnOnce(&str),
) -> Result<Tokens, Error> {
    let discovery = discover(http, &request.issuer).await?;
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
    show(&url);
    let code = tokio::select! {
        code = wait_for_code(&loopback.listener, &state) => code?,
        () = tokio::time::sleep(request.timeout) => {
            return Err(Error::input(format!("no sign-in within {} s", request.timeout.as_secs()))
                .with_hint("open the URL above in a browser and sign in, or pass a longer --timeout"));
        }
        _ = tokio::signal::ctrl_c() => return Err(Error::cancelled("sign-in")),
    };
    drop(loopback);
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
    check_id_token(http, request, &tokens, &nonce).await?;
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
pub async fn stored(
    http: &reqwest::Client,
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
    match refresh(http, request, &refresh_token).await {
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
    let discovery = discover(http, &request.issuer).await?;
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
                let description = net::server_text(&err.error_description.unwrap_or_default());
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
                    net::server_text(&err.error)
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
    let mut keys = crate::jwt::jwks::KeySource::remote(http.clone(), &request.issuer, None);
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

/// Serve the loopback until the provider redirects back with a code (or an error).
async fn wait_for_code(listener: &TcpListener, expected_state: &str) -> Result<String, Error> {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let mut buf = vec![0u8; 8192];
        let mut len = 0;
        let read = tokio::time::timeout(Duration::from_secs(5), async {
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
        if read.is_err() {
            continue;
        }
        let head = String::from_utf8_lossy(&buf[..len]).to_string();
        let target = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("")
            .to_string();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        if path != "/callback" {
            respond(
                &mut stream,
                "404 Not Found",
                "Not found",
                "This is cargo kinde's sign-in callback; nothing else is served here.",
            )
            .await;
            ui::debug(&format!("loopback: ignored a request for {path}"));
            continue;
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
        if get("state").as_deref() != Some(expected_state) {
            respond(&mut stream, "400 Bad Request", "Sign-in failed", "The response does not belong to this sign-in (state mismatch). Go back to the terminal.").await;
            return Err(Error::auth("the sign-in response's state does not match the request: it may be forged (CSRF); nothing was exchanged")
                .with_hint("run `cargo kinde login` again and finish the sign-in in the browser it opens"));
        }
        if let Some(error) = get("error") {
            let description = get("error_description").unwrap_or_default();
            respond(
                &mut stream,
                "200 OK",
                "Sign-in failed",
                &format!("{error}: {description}. Go back to the terminal."),
            )
            .await;
            return Err(Error::auth(format!("the provider refused the sign-in: {error} ({description})"))
                .with_hint("check the user may sign in to this application, and the requested audiences and scopes"));
        }
        let Some(code) = get("code") else {
            respond(
                &mut stream,
                "400 Bad Request",
                "Sign-in failed",
                "The callback carries no code.",
            )
            .await;
            return Err(Error::auth(
                "the callback carries neither a code nor an error",
            ));
        };
        respond(
            &mut stream,
            "200 OK",
            "Signed in",
            "You are signed in. You can close this tab and go back to the terminal.",
        )
        .await;
        return Ok(code);
    }
}

async fn respond(stream: &mut tokio::net::TcpStream, status: &str, title: &str, message: &str) {
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
}
