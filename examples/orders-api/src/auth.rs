//! Kinde access tokens: verified against the tenant's JWKS, then checked for an organization and
//! a permission.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{Mutex, RwLock};

use crate::Config;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY: u64 = 30;

/// Verifies access tokens: RS256 only (whatever the token's header says), signed by a key of
/// the JWKS, issued by [`Config::issuer`] for [`Config::audience`], inside its `exp` and `nbf`.
///
/// The JWKS is fetched on first use, and again for a `kid` the cached set does not hold or once
/// the set is older than [`Config::jwks_max_age`], but at most once per
/// [`Config::jwks_refetch_interval`]. A fetch replaces the set, so a key removed from the JWKS
/// stops verifying; a failed one keeps it. While the last fetch failed, a token whose key is
/// not cached is answered 503: the keys are unavailable, the token may be fine.
pub struct Verifier {
    jwks_url: String,
    refetch_interval: Duration,
    max_age: Duration,
    rules: Validation,
    http: reqwest::Client,
    keys: RwLock<KeySet>,
    /// The last fetch of the JWKS; held while fetching, so one request fetches at a time.
    last_fetch: Mutex<Option<Fetch>>,
}

/// The JWKS's keys, and when they were fetched (never, before the first fetch that succeeded).
#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, DecodingKey>,
    fetched: Option<Instant>,
}

/// A fetch of the JWKS: when it ended, and whether it failed.
#[derive(Clone, Copy)]
struct Fetch {
    at: Instant,
    failed: bool,
}

impl Verifier {
    /// A verifier for `config`; nothing is fetched until a token arrives.
    pub fn new(config: &Config) -> Verifier {
        let mut rules = Validation::new(Algorithm::RS256);
        rules.set_issuer(&[&config.issuer]);
        // Kinde's `aud` is an array: jsonwebtoken accepts it when it holds this audience.
        rules.set_audience(&[&config.audience]);
        rules.set_required_spec_claims(&["exp", "iss", "aud"]);
        rules.validate_nbf = true;
        rules.leeway = LEEWAY;
        Verifier {
            jwks_url: config.jwks_url.clone(),
            refetch_interval: config.jwks_refetch_interval,
            max_age: config.jwks_max_age,
            rules,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            keys: RwLock::default(),
            last_fetch: Mutex::default(),
        }
    }

    /// The claims of `token` if it passes every check.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(AuthError::invalid)?;
        // The algorithm is this service's choice, never the token's: RS256 or nothing.
        let (Algorithm::RS256, Some(kid)) = (header.alg, header.kid) else {
            return Err(AuthError::Invalid(
                "not an RS256 token naming its key".into(),
            ));
        };
        let key = self.key(&kid).await?;
        jsonwebtoken::decode::<Claims>(token, &key, &self.rules)
            .map(|data| data.claims)
            .map_err(AuthError::invalid)
    }

    /// The key `kid`, from the cached JWKS or, if it is not there or the set is too old, from a
    /// fresh one. While the last fetch failed, a key the cache lacks is unavailable (503), not the
    /// token's fault.
    async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        if let Some(key) = self.cached(kid, true).await {
            return Ok(key);
        }
        let mut last = self.last_fetch.lock().await;
        // Another request may have fetched it while this one waited.
        if let Some(key) = self.cached(kid, true).await {
            return Ok(key);
        }
        if last.is_none_or(|fetch| fetch.at.elapsed() >= self.refetch_interval) {
            let fetched = self.fetch().await;
            let at = Instant::now();
            let failed = fetched.is_err();
            // The keys first: if this request is dropped while it waits for the write lock,
            // no fetch is recorded, and the next request fetches again.
            if let Ok(by_kid) = fetched {
                let fetched = Some(at);
                *self.keys.write().await = KeySet { by_kid, fetched };
            }
            *last = Some(Fetch { at, failed });
        }
        // The set just fetched, or the one before if no fetch was due or it failed.
        if let Some(key) = self.cached(kid, false).await {
            return Ok(key);
        }
        match *last {
            Some(Fetch { failed: true, .. }) => Err(AuthError::Unavailable),
            _ => Err(AuthError::Invalid(
                "the token's key is not in the JWKS".into(),
            )),
        }
    }

    /// The cached key `kid`; if `fresh`, only from a set younger than the maximum age.
    async fn cached(&self, kid: &str, fresh: bool) -> Option<DecodingKey> {
        let keys = self.keys.read().await;
        let young = keys.fetched.is_some_and(|at| at.elapsed() < self.max_age);
        (young || !fresh).then(|| keys.by_kid.get(kid).cloned())?
    }

    /// The JWKS's RSA signing keys by `kid`.
    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, AuthError> {
        let response = self.http.get(&self.jwks_url).send().await;
        let set: JwkSet = match response.and_then(reqwest::Response::error_for_status) {
            Ok(response) => response.json().await.map_err(AuthError::unavailable)?,
            Err(error) => return Err(AuthError::unavailable(error)),
        };
        let signs_rs256 = |jwk: &&Jwk| {
            matches!(jwk.algorithm, AlgorithmParameters::RSA(_))
                && matches!(
                    jwk.common.public_key_use,
                    None | Some(PublicKeyUse::Signature)
                )
                && matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::RS256))
        };
        let keys =
            set.keys.iter().filter(signs_rs256).filter_map(|jwk| {
                Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?))
            });
        Ok(keys.collect())
    }
}

/// The claims this service reads from a verified Kinde access token.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    /// The user (`kp_...`); absent from M2M tokens.
    pub sub: Option<String>,
    /// The client id of the application the token was issued to.
    pub azp: Option<String>,
    /// The organization a user token is for; an org-scoped M2M app's organization.
    pub org_code: Option<String>,
    /// A user's permission keys in that organization.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// The scopes asked for.
    #[serde(default)]
    pub scp: Vec<String>,
    /// An M2M token's granted scopes, space-separated.
    #[serde(default)]
    pub scope: String,
    /// `["client_credentials"]` on M2M tokens.
    #[serde(default)]
    pub gty: Vec<String>,
}

/// The caller of a request: the claims of its bearer token, verified. As an extractor, it
/// answers 401 itself when the token is missing or invalid.
#[derive(Debug, Clone)]
pub struct Caller(pub Claims);

impl Caller {
    /// An M2M application (client credentials), not a user.
    pub fn is_machine(&self) -> bool {
        self.0.gty.iter().any(|g| g == "client_credentials")
    }

    /// Who to record as acting: the user, or the M2M application's client id.
    pub fn id(&self) -> Option<&str> {
        self.0.sub.as_deref().or(self.0.azp.as_deref())
    }

    /// Whether the caller holds `permission`: a user through `permissions`, an M2M application
    /// through its granted scopes (`scope`, or `scp`).
    pub fn holds(&self, permission: &str) -> bool {
        if self.is_machine() {
            self.0.scope.split_whitespace().any(|s| s == permission)
                || self.0.scp.iter().any(|s| s == permission)
        } else {
            self.0.permissions.iter().any(|p| p == permission)
        }
    }

    /// Allowed to act on organization `org_code` with `permission`, else 403. A user token must
    /// be for that organization; so must an org-scoped M2M app's. A global M2M app (no
    /// `org_code`: a back-office job) may act on every organization its scopes allow.
    pub fn require(&self, org_code: &str, permission: &'static str) -> Result<(), AuthError> {
        match self.0.org_code.as_deref() {
            Some(code) if code == org_code => {}
            None if self.is_machine() => {}
            _ => return Err(AuthError::OtherOrganization),
        }
        if self.holds(permission) {
            Ok(())
        } else {
            Err(AuthError::Missing(permission))
        }
    }
}

impl<S> FromRequestParts<S> for Caller
where
    Arc<Verifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Caller, AuthError> {
        let value = parts.headers.get(header::AUTHORIZATION);
        let value = value
            .ok_or(AuthError::NoToken)?
            .to_str()
            .unwrap_or_default();
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(AuthError::Invalid("not a Bearer token".into())),
        };
        let verifier = Arc::<Verifier>::from_ref(state);
        verifier.verify(token).await.map(Caller)
    }
}

/// Why a request was refused, answered as RFC 6750 says.
#[derive(Debug)]
pub enum AuthError {
    /// No `Authorization` header: 401, `WWW-Authenticate: Bearer` without an error code.
    NoToken,
    /// A token that failed verification: 401, `error="invalid_token"`.
    Invalid(String),
    /// A valid token without this permission: 403, `error="insufficient_scope"`.
    Missing(&'static str),
    /// A valid token for another organization: 403, `error="insufficient_scope"`.
    OtherOrganization,
    /// The JWKS could not be fetched: 503 (the token may well be good).
    Unavailable,
}

impl AuthError {
    fn invalid(error: jsonwebtoken::errors::Error) -> AuthError {
        AuthError::Invalid(format!("the token is not valid: {error}"))
    }

    fn unavailable(error: reqwest::Error) -> AuthError {
        eprintln!("orders-api: cannot fetch the JWKS: {error}");
        AuthError::Unavailable
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        use StatusCode as S;
        let (status, error, description) = match &self {
            AuthError::NoToken => (S::UNAUTHORIZED, None, "a token is required".into()),
            AuthError::Invalid(why) => (S::UNAUTHORIZED, Some("invalid_token"), why.clone()),
            AuthError::Missing(permission) => {
                let why = format!("the token lacks the permission {permission}");
                (S::FORBIDDEN, Some("insufficient_scope"), why)
            }
            AuthError::OtherOrganization => {
                let why = "the token is for another organization".into();
                (S::FORBIDDEN, Some("insufficient_scope"), why)
            }
            AuthError::Unavailable => {
                let body = json!({"error": "temporarily_unavailable"});
                return (S::SERVICE_UNAVAILABLE, Json(body)).into_response();
            }
        };
        let mut challenge = String::from(r#"Bearer realm="orders-api""#);
        if let Some(error) = error {
            challenge.push_str(&format!(r#", error="{error}""#));
        }
        if let AuthError::Missing(permission) = self {
            challenge.push_str(&format!(r#", scope="{permission}""#));
        }
        let error = error.unwrap_or("unauthorized");
        let body = json!({"error": error, "error_description": description});
        let mut response = (status, Json(body)).into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}
