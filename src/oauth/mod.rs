//! OAuth 2.0 against Kinde: client credentials (M2M) and the token cache.

pub mod cache;
pub mod discovery;
pub mod login;
pub mod mint;

use crate::clock::now;

use serde::Deserialize;

use crate::error::Error;
use crate::net;
use crate::secret::Secret;
use crate::ui;
use crate::urls::Issuer;

/// A client-credentials token request.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// The issuer whose `/oauth2/token` is called.
    pub issuer: Issuer,
    /// The M2M app's client id.
    pub client_id: String,
    /// The M2M app's client secret.
    pub client_secret: Secret,
    /// Audiences (at least one; Kinde requires it).
    pub audiences: Vec<String>,
    /// Scopes (empty: all the app was granted).
    pub scopes: Vec<String>,
}

/// An access token and what is known about it.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The token.
    pub token: Secret,
    /// `token_type` (Bearer).
    pub token_type: String,
    /// Expiry, seconds since the epoch.
    pub expires_at: u64,
    /// `scope` as the server returned it.
    pub scope: Option<String>,
    /// Whether it came from the cache.
    pub cached: bool,
    /// The refresh token, for user tokens requested with `offline`.
    pub refresh_token: Option<Secret>,
    /// Why a new token could not be written to the cache: the caller decides whether to warn
    /// (the library never prints).
    pub unsaved: Option<String>,
}

impl AccessToken {
    /// Seconds until expiry (0 when expired).
    pub fn expires_in(&self) -> u64 {
        self.expires_at.saturating_sub(now())
    }
}

/// The token endpoint's success body.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: Secret,
    /// Usually `Bearer`.
    #[serde(default = "bearer")]
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: Option<u64>,
    /// Granted scopes.
    pub scope: Option<String>,
}

fn bearer() -> String {
    "Bearer".into()
}

/// The token endpoint's error body (RFC 6749 §5.2).
#[derive(Debug, Deserialize)]
pub struct TokenError {
    /// The error code.
    pub error: String,
    /// A description.
    pub error_description: Option<String>,
}

/// Fetch an M2M token, from the cache when a fresh one is there.
pub async fn client_credentials(
    http: &reqwest::Client,
    cache: Option<&cache::TokenCache>,
    request: &ClientCredentials,
) -> Result<AccessToken, Error> {
    match cache.and_then(|c| c.fresh(request)) {
        Some(token) => Ok(token),
        None => new_token(http, cache, request).await,
    }
}

/// Request a new M2M token (no cache lookup: [`cache::TokenCache::fresh`] is that) and store it
/// in `cache`.
pub async fn new_token(
    http: &reqwest::Client,
    cache: Option<&cache::TokenCache>,
    request: &ClientCredentials,
) -> Result<AccessToken, Error> {
    // The discovery document is cached next to the tokens, so a cached token makes no request
    // and a new one at most one extra request per issuer a day.
    let cache_root = cache.map(cache::TokenCache::root);
    let endpoints = discovery::endpoints(http, &request.issuer, cache_root).await?;
    let mut token = request_client_credentials(http, &endpoints.token_endpoint, request).await?;
    if let Some(cache) = cache
        && let Err(e) = cache.put(&cache::CacheKey::new(request), &token)
    {
        ui::debug(&format!("could not cache the token: {e}"));
        token.unsaved = Some(e.to_string());
    }
    Ok(token)
}

/// Whether `request`'s app holds every scope it asks for on its audiences: a token request that
/// is refused with `invalid_scope` says no (RFC 6749 §5.2), a token says yes. The Management API
/// has no endpoint that reads an app's grants back; this is how they are proven. Not cached.
pub async fn granted(
    http: &reqwest::Client,
    cache_root: Option<&std::path::Path>,
    request: &ClientCredentials,
) -> Result<bool, Error> {
    let endpoints = discovery::endpoints(http, &request.issuer, cache_root).await?;
    match send_client_credentials(http, &endpoints.token_endpoint, request).await {
        Ok(_) => Ok(true),
        Err((Some(code), _)) if code == "invalid_scope" => Ok(false),
        Err((_, e)) => Err(e),
    }
}

/// A client-credentials token from `url`, the token endpoint, with no cache and no discovery
/// (for a caller that already holds the discovery document).
pub async fn request_client_credentials(
    http: &reqwest::Client,
    url: &str,
    request: &ClientCredentials,
) -> Result<AccessToken, Error> {
    send_client_credentials(http, url, request)
        .await
        .map_err(|(_, e)| e)
}

/// The token request; a refusal carries the OAuth error code (`invalid_scope`, ...) beside the
/// error it maps to.
async fn send_client_credentials(
    http: &reqwest::Client,
    url: &str,
    request: &ClientCredentials,
) -> Result<AccessToken, (Option<String>, Error)> {
    if request.audiences.is_empty() {
        return Err((
            None,
            Error::input("no audience to request a token for")
                .with_hint("pass --audience, or set KINDE_AUDIENCE"),
        ));
    }
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "client_credentials"),
        ("client_id", &request.client_id),
        ("client_secret", request.client_secret.expose()),
    ];
    for audience in &request.audiences {
        form.push(("audience", audience));
    }
    let scope = request.scopes.join(" ");
    if !scope.is_empty() {
        form.push(("scope", &scope));
    }
    let started = std::time::Instant::now();
    let request_builder = http
        .post(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form);
    let reply = net::send(request_builder, url, net::TOKEN_LIMIT)
        .await
        .map_err(|e| (None, e))?;
    let status = reply.status;
    ui::debug(&format!(
        "POST {url} -> {} ({} ms)",
        status.as_u16(),
        started.elapsed().as_millis()
    ));
    let body = reply.text();
    if status.is_success() {
        let parsed: TokenResponse = serde_json::from_str(&body).map_err(|e| {
            let err = Error::network(format!(
                "{url} answered {status} but not with a token ({})",
                net::server_text(&e.to_string())
            ))
            .with_hint(
                "is the domain a Kinde issuer? `cargo kinde config` shows the domain in use",
            );
            (None, err)
        })?;
        let expires_at = expiry_of(parsed.access_token.expose())
            .or_else(|| parsed.expires_in.map(|s| now().saturating_add(s)))
            .unwrap_or_else(|| now() + 3600);
        return Ok(AccessToken {
            token: parsed.access_token,
            token_type: parsed.token_type,
            expires_at,
            scope: parsed.scope,
            cached: false,
            refresh_token: None,
            unsaved: None,
        });
    }
    let code = serde_json::from_str::<TokenError>(&body)
        .ok()
        .map(|e| e.error);
    Err((code, token_error(url, status, &body, request)))
}

/// The `exp` claim of a JWT, read without verification (only to time the cache).
fn expiry_of(token: &str) -> Option<u64> {
    crate::jwt::decode(token).ok()?.claims.get("exp")?.as_u64()
}

fn token_error(
    url: &str,
    status: reqwest::StatusCode,
    body: &str,
    request: &ClientCredentials,
) -> Error {
    let Ok(err) = serde_json::from_str::<TokenError>(body) else {
        return Error::network(format!(
            "{url} answered {status}: {}",
            net::excerpt(body, 200)
        ))
        .with_hint("the server did not answer like a Kinde token endpoint; check the domain");
    };
    // Both fields are the server's text: a server echoing the form must not print the secret,
    // nor drive the terminal.
    let description = err
        .error_description
        .as_deref()
        .map_or_else(|| "no description".to_string(), net::server_line);
    let message = format!(
        "the token request was refused: {} ({description})",
        net::server_line(&err.error)
    );
    let audiences = request.audiences.join(", ");
    match err.error.as_str() {
        "invalid_client" => Error::auth(message).with_hint(format!(
            "check the client id `{}` and its secret (KINDE_MANAGEMENT_CLIENT_ID / KINDE_MANAGEMENT_CLIENT_SECRET); copy them from Settings > Applications > <app> > App keys",
            request.client_id
        )),
        "unauthorized_client" => Error::auth(message).with_hint(format!(
            "authorise application `{}` for {audiences}: Settings > APIs > <API> > Applications (for the Management API: Kinde Management API), or list it under `authorize` in kinde.toml and run `cargo kinde register`",
            request.client_id
        )),
        "invalid_scope" => Error::auth(message).with_hint(format!(
            "request only scopes granted to `{}` for {audiences} (Settings > APIs > <API> > Applications > scopes), or drop --scope to get all granted scopes",
            request.client_id
        )),
        _ if status.is_server_error() => Error::network(message).with_hint("Kinde had a problem; try again shortly"),
        _ => Error::input(message).with_hint("check the audience (--audience, KINDE_AUDIENCE) and the domain"),
    }
}
