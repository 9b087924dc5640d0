//! Tokens made to order, issued by the code `/oauth2/token` runs: `cargo_kinde::testing` in
//! process, and `POST /_emulator/mint` (`cargo kinde token --as`) over HTTP. What a token is to
//! hold (a user, their organization, permissions, roles, flags, an API) is made true in the
//! tenant first, then a silent sign-in is turned into tokens by the sign-in grants' own code, or
//! the client credentials grant runs itself. Nothing here builds a claim, so a minted token is
//! one the emulator would have issued over HTTP for the same tenant. Forged tokens (see
//! [`Forgery`]) are such a token, made wrong in one way.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::State;
use super::error::ApiError;
use super::keys::SigningKey;
use super::protocol::Form;
use super::tenant::{
    Api, ApiScope, Application, Authorization, Extra, FeatureFlag, Organization, Permission, Role,
    Tenant, User, random_hex, random_secret, random_uuid,
};
use crate::error::Error;

/// A user token asks for these scopes unless told otherwise (what Kinde's SDKs ask for, less
/// `offline`: a test has no use for a refresh token).
pub(crate) const DEFAULT_USER_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// What [`Forgery::WrongAudience`] puts in `aud`.
const WRONG_AUDIENCE: &str = "https://another-api.example";
/// What [`Forgery::WrongIssuer`] puts in `iss`: another business's Kinde domain.
const WRONG_ISSUER: &str = "https://another-business.kinde.com";

/// A token a service must refuse, made from a real one by `Kinde::forged`
/// (`cargo_kinde::testing`) or `cargo kinde token --forge`. Each is wrong in
/// one way only, so a service that accepts it has exactly that hole.
///
/// A service's test sends each and expects [`Forgery::expected_status`]:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use cargo_kinde::testing::{Forgery, Kinde};
///
/// let kinde = Kinde::start().await?;
/// let token = kinde
///     .user("alice@example.com")
///     .permissions(["read:orders"])
///     .audience("https://api.acme.test")
///     .access_token()
///     .await?;
/// for forgery in Forgery::ALL {
///     let bad = kinde.forged(forgery, &token)?;
///     // let status = client.get(url).bearer_auth(&bad).send().await?.status();
///     // assert_eq!(status, forgery.expected_status(), "{forgery}");
///     assert_ne!(bad, token, "{forgery}");
/// }
/// assert_eq!("alg-none".parse::<Forgery>()?, Forgery::AlgNone);
/// assert_eq!(Forgery::MissingPermission.expected_status(), 403);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Forgery {
    /// Signed with the served key; `exp` an hour in the past (beyond any clock-skew leeway).
    Expired,
    /// Signed with the served key; `nbf` and `iat` an hour in the future.
    NotYetValid,
    /// Signed with the served key; `aud` is another API's.
    WrongAudience,
    /// Signed with the served key; `iss` is another business's Kinde domain.
    WrongIssuer,
    /// Signed with a key the JWKS does not hold, under the `kid` of one it does.
    ForeignKey,
    /// `"alg": "none"` and no signature.
    AlgNone,
    /// `"alg": "HS256"`, an HMAC keyed with the served public key's PEM (the algorithm
    /// confusion attack on verifiers that take the algorithm from the token).
    Hs256WithPublicKey,
    /// The original header and signature over a changed payload (a permission added, the
    /// expiry a year later).
    TamperedPayload,
    /// Signed with the served key, valid in every way, without the permissions: `permissions`
    /// and `scp` empty (`scope` too for an M2M token). The answer expected is 403, not 401.
    MissingPermission,
    /// Signed with the served key, valid in every way, for another organization: `org_code`
    /// another code (`org_name` dropped). The answer expected is 403 (or 404), not 401.
    OtherOrganization,
}

impl Forgery {
    /// Every forgery, in the order of the enum.
    pub const ALL: [Forgery; 10] = [
        Forgery::Expired,
        Forgery::NotYetValid,
        Forgery::WrongAudience,
        Forgery::WrongIssuer,
        Forgery::ForeignKey,
        Forgery::AlgNone,
        Forgery::Hs256WithPublicKey,
        Forgery::TamperedPayload,
        Forgery::MissingPermission,
        Forgery::OtherOrganization,
    ];

    /// Its name in kebab case, e.g. `expired`, `hs256-with-public-key`.
    pub fn name(self) -> &'static str {
        match self {
            Forgery::Expired => "expired",
            Forgery::NotYetValid => "not-yet-valid",
            Forgery::WrongAudience => "wrong-audience",
            Forgery::WrongIssuer => "wrong-issuer",
            Forgery::ForeignKey => "foreign-key",
            Forgery::AlgNone => "alg-none",
            Forgery::Hs256WithPublicKey => "hs256-with-public-key",
            Forgery::TamperedPayload => "tampered-payload",
            Forgery::MissingPermission => "missing-permission",
            Forgery::OtherOrganization => "other-organization",
        }
    }

    /// The status a service should answer a request carrying it with: 401 for a token that is
    /// not valid, 403 for a valid one that lacks the right ([`Forgery::MissingPermission`],
    /// [`Forgery::OtherOrganization`]).
    pub fn expected_status(self) -> u16 {
        match self {
            Forgery::MissingPermission | Forgery::OtherOrganization => 403,
            _ => 401,
        }
    }
}

impl fmt::Display for Forgery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Forgery {
    type Err = Error;

    /// A name as [`Forgery::name`] gives it.
    fn from_str(name: &str) -> Result<Forgery, Error> {
        Forgery::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Forgery::ALL.iter().map(|f| f.name()).collect();
                Error::input(format!(
                    "`{name}` is not a forgery; one of: {}",
                    names.join(", ")
                ))
            })
    }
}

/// A feature flag's value in a token: Kinde's three flag types, from `bool`, integers and
/// strings.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let kinde = cargo_kinde::testing::Kinde::start().await?;
/// let token = kinde
///     .user("alice@example.com")
///     .feature_flag("beta", true)
///     .feature_flag("theme", "dark")
///     .feature_flag("max_orders", 5)
///     .access_token()
///     .await?;
/// let flags = &cargo_kinde::jwt::decode(&token)?.claims["feature_flags"];
/// assert_eq!(flags["beta"], serde_json::json!({"t": "b", "v": true}));
/// assert_eq!(flags["theme"], serde_json::json!({"t": "s", "v": "dark"}));
/// assert_eq!(flags["max_orders"], serde_json::json!({"t": "i", "v": 5}));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagValue {
    /// A `bool` flag (`{"t": "b"}`).
    Bool(bool),
    /// An `int` flag (`{"t": "i"}`).
    Int(i64),
    /// A `str` flag (`{"t": "s"}`).
    Str(String),
}

impl FlagValue {
    /// The flag type as the tenant names it.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            FlagValue::Bool(_) => "bool",
            FlagValue::Int(_) => "int",
            FlagValue::Str(_) => "str",
        }
    }

    /// The value as the Management API sends it (a string).
    pub(crate) fn text(&self) -> String {
        match self {
            FlagValue::Bool(b) => b.to_string(),
            FlagValue::Int(i) => i.to_string(),
            FlagValue::Str(s) => s.clone(),
        }
    }

    /// The default of a flag a test creates: off, zero, empty, so only the override counts.
    pub(crate) fn zero(&self) -> &'static str {
        match self {
            FlagValue::Bool(_) => "false",
            FlagValue::Int(_) => "0",
            FlagValue::Str(_) => "",
        }
    }
}

impl From<bool> for FlagValue {
    fn from(value: bool) -> FlagValue {
        FlagValue::Bool(value)
    }
}

impl From<i64> for FlagValue {
    fn from(value: i64) -> FlagValue {
        FlagValue::Int(value)
    }
}

impl From<i32> for FlagValue {
    fn from(value: i32) -> FlagValue {
        FlagValue::Int(value.into())
    }
}

impl From<&str> for FlagValue {
    fn from(value: &str) -> FlagValue {
        FlagValue::Str(value.to_string())
    }
}

impl From<String> for FlagValue {
    fn from(value: String) -> FlagValue {
        FlagValue::Str(value)
    }
}

/// A user access token to mint: who, signed in to which organization, holding what.
#[derive(Debug, Clone, Default)]
pub(crate) struct UserGrant {
    pub(crate) email: String,
    /// Organization code; created when missing, the user made a member. None: the one a silent
    /// sign-in picks.
    pub(crate) org: Option<String>,
    /// The member's direct permissions in the organization, replacing those before.
    pub(crate) permissions: Option<Vec<String>>,
    /// The member's roles in the organization, replacing those before; turns on the `roles`
    /// claim for the application.
    pub(crate) roles: Option<Vec<String>>,
    pub(crate) flags: Vec<(String, FlagValue)>,
    pub(crate) audiences: Vec<String>,
    /// None: [`DEFAULT_USER_SCOPES`].
    pub(crate) scopes: Option<Vec<String>>,
    /// The client id; None: the tenant's first application users sign in to.
    pub(crate) app: Option<String>,
}

/// An M2M access token to mint: the application by name (created when missing) and what it asks.
#[derive(Debug, Clone, Default)]
pub(crate) struct M2mGrant {
    pub(crate) name: String,
    pub(crate) audiences: Vec<String>,
    /// Asked for, defined on the audiences' APIs and granted when missing. Empty: every scope
    /// granted, with `scp` empty, as Kinde does.
    pub(crate) scopes: Vec<String>,
}

/// Make `grant` true in the tenant, then have the emulator issue the token, as it would to the
/// application after the user signed in.
pub(crate) async fn user_token(state: &State, grant: &UserGrant) -> Result<String, Error> {
    let issuer = state.issuer().to_string();
    let client_id = match grant.app.clone() {
        Some(id) => id,
        None => state
            .read(|t| t.user_app().map(|a| a.id.clone()))
            .ok_or_else(|| Error::input("the tenant has no application users sign in to"))?,
    };
    if state.read(|t| t.application(&client_id).is_none()) {
        return Err(Error::input(format!(
            "no application with client id {client_id}"
        )));
    }
    let scopes = grant
        .scopes
        .clone()
        .unwrap_or_else(|| DEFAULT_USER_SCOPES.map(String::from).to_vec());
    let email = grant.email.trim().to_string();
    if !email
        .split_once('@')
        .is_some_and(|(name, domain)| !name.is_empty() && domain.contains('.'))
    {
        return Err(Error::input(format!("`{email}` is not an email address")));
    }
    check_names("org", grant.org.iter())?;
    check_names("permissions", grant.permissions.iter().flatten())?;
    check_names("roles", grant.roles.iter().flatten())?;
    check_names("feature_flags", grant.flags.iter().map(|(key, _)| key))?;
    // Checked before anything changes, so a refused token leaves the tenant as it was.
    state.read(|t| {
        if let Some(api) = grant
            .audiences
            .iter()
            .find_map(|aud| t.apis.iter().find(|a| a.is_management_api && &a.audience(&issuer) == aud))
        {
            return Err(Error::input(format!(
                "{} is the Kinde Management API, which Kinde gives to M2M applications only, not in user tokens",
                api.audience(&issuer)
            )));
        }
        for (key, value) in &grant.flags {
            if let Some(flag) = t.feature_flag(key).filter(|f| f.kind != value.kind()) {
                return Err(Error::input(format!(
                    "feature flag `{key}` is a `{}` flag, not `{}`",
                    flag.kind,
                    value.kind()
                )));
            }
        }
        Ok(())
    })?;
    // Created as the Management API creates users: in the default organization.
    let user_id = state.update_users(|t, touched| {
        if let Some(user) = t.user_by_email(&email) {
            return user.id.clone();
        }
        let user = User::new(&email, "", "");
        let id = user.id.clone();
        touched.push(id.clone());
        t.users.push(user);
        t.join_default_organization(&id);
        id
    });
    let org_code = state.update(|t| describe(grant, t, &issuer, &client_id, &user_id, &scopes))?;
    user_access_token(
        state,
        &client_id,
        &user_id,
        org_code.as_deref(),
        &grant.audiences,
        &scopes,
    )
    .await
}

/// Put what `grant` describes into the tenant; the organization the token is for.
fn describe(
    grant: &UserGrant,
    t: &mut Tenant,
    issuer: &str,
    client_id: &str,
    user_id: &str,
    scopes: &[String],
) -> Result<Option<String>, Error> {
    let org_code = match &grant.org {
        Some(code) => {
            if t.organization(code).is_none() {
                let mut org = Organization::new(code);
                org.code = code.clone();
                t.organizations.push(org);
            }
            Some(code.clone())
        }
        None => t
            .organizations_of(user_id)
            .find(|o| !o.is_suspended)
            .map(|o| o.code.clone()),
    };
    if org_code.is_none() && (grant.permissions.is_some() || grant.roles.is_some()) {
        return Err(Error::input(
            "permissions and roles are held in an organization, and the user is in none: name one (`org`)",
        ));
    }
    if let Some(code) = &org_code {
        let permissions = grant
            .permissions
            .as_ref()
            .map(|keys| keys.iter().map(|k| permission_id(t, k)).collect::<Vec<_>>());
        let roles = grant
            .roles
            .as_ref()
            .map(|keys| keys.iter().map(|k| role_id(t, k)).collect::<Vec<_>>());
        if let Some(org) = t.organization_mut(code) {
            org.join(user_id);
            if let Some(member) = org.member_mut(user_id) {
                if let Some(permissions) = permissions {
                    member.permissions = permissions;
                }
                if let Some(roles) = roles {
                    member.roles = roles;
                }
            }
        }
    }
    if grant.roles.is_some() {
        t.token_settings
            .entry(client_id.to_string())
            .or_default()
            .roles = true;
    }
    for (key, value) in &grant.flags {
        set_flag(t, key, value, org_code.as_deref(), user_id);
    }
    let api_scopes: Vec<String> = scopes
        .iter()
        .filter(|s| {
            !["openid", "profile", "email", "offline", "offline_access"].contains(&s.as_str())
        })
        .cloned()
        .collect();
    for audience in &grant.audiences {
        let api = api_for(t, issuer, audience);
        add_scopes(api, &api_scopes);
        authorize(api, client_id, &[]);
    }
    Ok(org_code)
}

/// Make `grant` true in the tenant, then get the token as the application would: the client
/// credentials grant, with its client id and secret.
pub(crate) async fn m2m_token(state: &State, grant: &M2mGrant) -> Result<String, Error> {
    let issuer = state.issuer().to_string();
    // An application's name is free text ("Orders worker"); only an empty one names nothing.
    if grant.name.trim().is_empty() {
        return Err(Error::input("`m2m`: an application needs a name"));
    }
    check_names("scopes", grant.scopes.iter())?;
    // The Management API's scopes are Kinde's: a grant may pick among them, never add one.
    state.read(|t| {
        let Some(api) = t
            .apis
            .iter()
            .find(|a| a.is_management_api && grant.audiences.contains(&a.audience(&issuer)))
        else {
            return Ok(());
        };
        match grant
            .scopes
            .iter()
            .find(|s| !api.scopes.iter().any(|d| &d.key == *s))
        {
            Some(unknown) => Err(Error::input(format!(
                "`{unknown}` is not a scope of the Kinde Management API"
            ))),
            None => Ok(()),
        }
    })?;
    let (client_id, secret) = state.update(|t| {
        let existing = t
            .applications
            .iter()
            .find(|a| a.kind == "m2m" && a.name == grant.name)
            .map(|a| (a.id.clone(), a.client_secret.clone().unwrap_or_default()));
        let (id, secret) = existing.unwrap_or_else(|| {
            let app = Application {
                id: random_hex(16),
                name: grant.name.clone(),
                kind: "m2m".into(),
                client_secret: Some(random_secret()),
                redirect_urls: Vec::new(),
                logout_urls: Vec::new(),
                extra: Extra::new(),
            };
            let pair = (
                app.id.clone(),
                app.client_secret.clone().unwrap_or_default(),
            );
            t.applications.push(app);
            pair
        });
        for audience in &grant.audiences {
            let api = api_for(t, &issuer, audience);
            add_scopes(api, &grant.scopes);
            authorize(api, &id, &grant.scopes);
        }
        (id, secret)
    });
    m2m_access_token(state, &client_id, &secret, &grant.audiences, &grant.scopes).await
}

/// `token` (one this emulator signed) made wrong in the one way `forgery` says. The foreign key
/// of [`Forgery::ForeignKey`] is made on first use (RSA key generation: call off an async
/// runtime's threads).
pub(crate) fn forge(state: &State, forgery: Forgery, token: &str) -> Result<String, Error> {
    state.check_signature(token).map_err(|why| {
        Error::input(format!(
            "only a token this emulator issued can be forged: {why}"
        ))
    })?;
    let token = token.trim();
    let mut parts = token.splitn(3, '.');
    let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
        return Err(Error::input("the token has no payload"));
    };
    let mut claims: Map<String, Value> = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| Error::input("the token's payload is not a JSON object"))?;
    let now = state.now();
    let number = |claims: &Map<String, Value>, name: &str| {
        claims.get(name).and_then(Value::as_u64).unwrap_or(now)
    };
    let lifetime = number(&claims, "exp").saturating_sub(number(&claims, "iat"));
    match forgery {
        Forgery::Expired => {
            let exp = now.saturating_sub(3600);
            claims.insert("exp".into(), exp.into());
            claims.insert("iat".into(), exp.saturating_sub(lifetime).into());
        }
        Forgery::NotYetValid => {
            let nbf = now + 3600;
            claims.insert("nbf".into(), nbf.into());
            claims.insert("iat".into(), nbf.into());
            claims.insert("exp".into(), (nbf + lifetime.max(60)).into());
        }
        Forgery::WrongAudience => {
            claims.insert("aud".into(), Value::from(vec![WRONG_AUDIENCE]));
        }
        Forgery::WrongIssuer => {
            claims.insert("iss".into(), WRONG_ISSUER.into());
        }
        Forgery::MissingPermission => {
            if claims.contains_key("permissions") {
                claims.insert("permissions".into(), Value::Array(Vec::new()));
            }
            claims.insert("scp".into(), Value::Array(Vec::new()));
            if claims.contains_key("scope") {
                claims.insert("scope".into(), "".into());
            }
        }
        Forgery::OtherOrganization => {
            let current = claims.get("org_code").and_then(Value::as_str);
            let other = loop {
                let code = format!("org_{}", &random_hex(6)[..11]);
                if Some(code.as_str()) != current {
                    break code;
                }
            };
            claims.insert("org_code".into(), other.into());
            claims.remove("org_name");
        }
        Forgery::ForeignKey => {
            let (kid, _) = active_key(state)?;
            // Made on first use, and again after a key rotation: it claims the active `kid`.
            let mut impostor = state.impostor.lock().unwrap_or_else(|p| p.into_inner());
            if impostor.as_ref().is_none_or(|key| key.kid() != kid) {
                *impostor = Some(SigningKey::impostor(&kid)?);
            }
            let key = impostor
                .as_ref()
                .ok_or_else(|| Error::input("no foreign key"))?;
            return Ok(key.sign_jwt(&claims));
        }
        Forgery::AlgNone => {
            let (kid, _) = active_key(state)?;
            let header = serde_json::json!({"alg": "none", "typ": "JWT", "kid": kid});
            return Ok(format!("{}.{payload}.", encode(&header)));
        }
        Forgery::Hs256WithPublicKey => {
            let (kid, pem) = active_key(state)?;
            let header = serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": kid});
            let input = format!("{}.{payload}", encode(&header));
            let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, pem.as_bytes());
            let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
            return Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref())));
        }
        Forgery::TamperedPayload => {
            let mut permissions = claims
                .get("permissions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            permissions.push("admin:everything".into());
            claims.insert("permissions".into(), Value::Array(permissions));
            claims.insert("exp".into(), (number(&claims, "exp") + 365 * 86_400).into());
            let signature = token.rsplit('.').next().unwrap_or_default();
            return Ok(format!("{header}.{}.{signature}", encode(&claims)));
        }
    }
    Ok(state.sign(&claims))
}

/// Codes, keys and names are not empty and hold no white space.
fn check_names<'a>(field: &str, values: impl IntoIterator<Item = &'a String>) -> Result<(), Error> {
    match values
        .into_iter()
        .find(|v| v.is_empty() || v.chars().any(char::is_whitespace))
    {
        Some(bad) => Err(Error::input(format!(
            "`{field}`: {bad:?} is not a code, key or name (empty, or with white space)"
        ))),
        None => Ok(()),
    }
}

fn encode<T: serde::Serialize + ?Sized>(value: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

/// `POST /_emulator/mint`: a token made to order for `cargo kinde token --as` and scripts (not a
/// Kinde endpoint). JSON only, like `/_emulator/reset`, so a web page cannot send it a form.
pub(super) fn routes() -> Router<Arc<State>> {
    Router::new().route("/_emulator/mint", axum::routing::post(mint))
}

/// What `POST /_emulator/mint` takes: a user (`email`) or an M2M application (`m2m`, by name).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MintRequest {
    email: Option<String>,
    m2m: Option<String>,
    org: Option<String>,
    permissions: Option<Vec<String>>,
    roles: Option<Vec<String>>,
    #[serde(default)]
    feature_flags: BTreeMap<String, Value>,
    #[serde(default, deserialize_with = "one_or_many")]
    audience: Vec<String>,
    scopes: Option<Vec<String>>,
    client_id: Option<String>,
    forge: Option<String>,
}

/// A string or an array of strings.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

#[derive(Serialize)]
struct Minted {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    /// For a forged token: the status a service must answer it with.
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_status: Option<u16>,
}

async fn mint(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    if !super::is_json(&headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "JSON_REQUIRED",
            "POST /_emulator/mint needs `Content-Type: application/json`",
        ));
    }
    let invalid = |message: String| ApiError::bad_request("INVALID_REQUEST", message);
    let request: MintRequest = serde_json::from_slice(&body)
        .map_err(|e| invalid(format!("The request body is not a mint request: {e}")))?;
    let forgery = request
        .forge
        .as_deref()
        .map(str::parse::<Forgery>)
        .transpose()
        .map_err(|e| invalid(e.to_string()))?;
    let token = match (&request.email, &request.m2m) {
        (Some(email), None) => {
            let flags = request
                .feature_flags
                .iter()
                .map(|(key, value)| flag_value(key, value).map(|v| (key.clone(), v)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(invalid)?;
            let grant = UserGrant {
                email: email.clone(),
                org: request.org.clone(),
                permissions: request.permissions.clone(),
                roles: request.roles.clone(),
                flags,
                audiences: request.audience.clone(),
                scopes: request.scopes.clone(),
                app: request.client_id.clone(),
            };
            user_token(&state, &grant).await
        }
        (None, Some(name)) => {
            let user_only = [
                ("org", request.org.is_some()),
                ("permissions", request.permissions.is_some()),
                ("roles", request.roles.is_some()),
                ("feature_flags", !request.feature_flags.is_empty()),
                ("client_id", request.client_id.is_some()),
            ];
            if let Some((field, _)) = user_only.iter().find(|(_, set)| *set) {
                return Err(invalid(format!(
                    "`{field}` is for user tokens; an M2M token takes `audience` and `scopes`"
                )));
            }
            let grant = M2mGrant {
                name: name.clone(),
                audiences: request.audience.clone(),
                scopes: request.scopes.clone().unwrap_or_default(),
            };
            m2m_token(&state, &grant).await
        }
        (Some(_), Some(_)) => {
            return Err(invalid(
                "Name a user (`email`) or an M2M application (`m2m`), not both".into(),
            ));
        }
        (None, None) => {
            return Err(invalid(
                "Name either a user (`email`) or an M2M application (`m2m`)".into(),
            ));
        }
    }
    .map_err(refusal)?;
    let token = match forgery {
        // The foreign key is an RSA key generation the first time: off the server's threads.
        Some(forgery) => {
            let state = state.clone();
            tokio::task::spawn_blocking(move || forge(&state, forgery, &token))
                .await
                .map_err(|e| {
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "INTERNAL_ERROR",
                        format!("cannot forge the token: {e}"),
                    )
                })?
                .map_err(refusal)?
        }
        None => token,
    };
    let now = state.now();
    let expires_in = token
        .split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
        .and_then(|claims| claims.get("exp").and_then(Value::as_u64))
        .map_or(0, |exp| exp.saturating_sub(now));
    Ok(axum::Json(Minted {
        access_token: token,
        token_type: "Bearer",
        expires_in,
        expected_status: forgery.map(Forgery::expected_status),
    })
    .into_response())
}

/// An error minting: the request's fault (400, with its hint) or the emulator's (500).
fn refusal(error: Error) -> ApiError {
    let message = match error.hint() {
        Some(hint) => format!("{error} (hint: {hint})"),
        None => error.to_string(),
    };
    match error.root() {
        Error::Input { .. } | Error::Auth { .. } => {
            ApiError::bad_request("INVALID_REQUEST", message)
        }
        _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", message),
    }
}

/// A flag value from JSON: a boolean, an integer or a string, as Kinde's three flag types.
fn flag_value(key: &str, value: &Value) -> Result<FlagValue, String> {
    match value {
        Value::Bool(b) => Ok(FlagValue::Bool(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(FlagValue::Int)
            .ok_or_else(|| format!("feature flag `{key}`: {n} is not an integer")),
        Value::String(s) => Ok(FlagValue::Str(s.clone())),
        other => Err(format!(
            "feature flag `{key}`: {other} is not a boolean, an integer or a string"
        )),
    }
}

/// The id of permission `key`, created when missing.
fn permission_id(t: &mut Tenant, key: &str) -> String {
    if let Some(p) = t.permissions.iter().find(|p| p.key == key) {
        return p.id.clone();
    }
    let id = random_uuid();
    t.permissions.push(Permission {
        id: id.clone(),
        key: key.to_string(),
        name: key.to_string(),
        description: String::new(),
        extra: Extra::new(),
    });
    id
}

/// The id of role `key`, created without permissions when missing.
fn role_id(t: &mut Tenant, key: &str) -> String {
    if let Some(r) = t.roles.iter().find(|r| r.key == key) {
        return r.id.clone();
    }
    let id = random_uuid();
    t.roles.push(Role {
        id: id.clone(),
        key: key.to_string(),
        name: key.to_string(),
        description: None,
        is_default_role: false,
        permissions: Vec::new(),
        extra: Extra::new(),
    });
    id
}

/// Flag `key` (of `value`'s type, checked before) is `value` for `user_id` in `org`: the user's override, or the organization's or
/// the environment's when the flag allows no more specific level.
fn set_flag(t: &mut Tenant, key: &str, value: &FlagValue, org: Option<&str>, user_id: &str) {
    if t.feature_flag(key).is_none() {
        t.feature_flags.push(FeatureFlag {
            key: key.to_string(),
            name: key.to_string(),
            description: String::new(),
            kind: value.kind().to_string(),
            allow_override_level: "usr".into(),
            default_value: value.zero().to_string(),
            environment_value: None,
            organization_values: BTreeMap::new(),
            user_values: BTreeMap::new(),
            extra: Extra::new(),
        });
    }
    let Some(flag) = t.feature_flag_mut(key) else {
        return;
    };
    match (flag.allow_override_level.as_str(), org) {
        ("env", _) | ("org", None) => flag.environment_value = Some(value.text()),
        ("org", Some(org)) => {
            flag.organization_values
                .insert(org.to_string(), value.text());
        }
        _ => {
            flag.user_values.insert(user_id.to_string(), value.text());
        }
    }
}

/// The API whose audience is `audience`, created when missing.
fn api_for<'t>(t: &'t mut Tenant, issuer: &str, audience: &str) -> &'t mut Api {
    let at = match t.apis.iter().position(|a| a.audience(issuer) == audience) {
        Some(at) => at,
        None => {
            t.apis.push(Api {
                id: random_hex(16),
                name: audience.to_string(),
                audience: Some(audience.to_string()),
                is_management_api: false,
                scopes: Vec::new(),
                applications: Vec::new(),
                extra: Extra::new(),
            });
            t.apis.len() - 1
        }
    };
    &mut t.apis[at]
}

/// `scopes` defined on `api`, each added when missing.
fn add_scopes(api: &mut Api, scopes: &[String]) {
    for key in scopes {
        if !api.scopes.iter().any(|s| &s.key == key) {
            api.scopes.push(ApiScope {
                id: format!("api_scope_{}", random_hex(16)),
                key: key.clone(),
                description: String::new(),
                extra: Extra::new(),
            });
        }
    }
}

/// `client_id` authorised for `api`, holding `scopes` at least.
fn authorize(api: &mut Api, client_id: &str, scopes: &[String]) {
    let at = match api
        .applications
        .iter()
        .position(|a| a.client_id == client_id)
    {
        Some(at) => at,
        None => {
            api.applications.push(Authorization {
                client_id: client_id.to_string(),
                scopes: Vec::new(),
                extra: Extra::new(),
            });
            api.applications.len() - 1
        }
    };
    let granted = &mut api.applications[at].scopes;
    for scope in scopes {
        if !granted.contains(scope) {
            granted.push(scope.clone());
        }
    }
}

/// The access token `user_id` gets signing in to `client_id` (in `org_code`, or the organization
/// a silent sign-in picks) for `audiences` and `scopes`.
pub(crate) async fn user_access_token(
    state: &State,
    client_id: &str,
    user_id: &str,
    org_code: Option<&str>,
    audiences: &[String],
    scopes: &[String],
) -> Result<String, Error> {
    let response =
        super::login::silent_sign_in(state, client_id, user_id, org_code, audiences, scopes)
            .unwrap_or_else(IntoResponse::into_response);
    access_token(response).await
}

/// The access token the M2M application `client_id` gets from the client credentials grant for
/// `audiences`, asking for `scopes` (none: every scope it was granted).
pub(crate) async fn m2m_access_token(
    state: &State,
    client_id: &str,
    client_secret: &str,
    audiences: &[String],
    scopes: &[String],
) -> Result<String, Error> {
    // The serializer is not `Send`: finished before the await below.
    let body = {
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        body.append_pair("grant_type", "client_credentials")
            .append_pair("client_id", client_id)
            .append_pair("client_secret", client_secret);
        for audience in audiences {
            body.append_pair("audience", audience);
        }
        if !scopes.is_empty() {
            body.append_pair("scope", &scopes.join(" "));
        }
        body.finish()
    };
    let form = Form::parse(body.as_bytes());
    let response = super::oidc::client_credentials(state, &HeaderMap::new(), &form)
        .unwrap_or_else(IntoResponse::into_response);
    access_token(response).await
}

/// The `access_token` of a token endpoint answer, or its OAuth error as an input error.
async fn access_token(response: Response) -> Result<String, Error> {
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), super::MAX_BODY)
        .await
        .map_err(|e| Error::network(format!("cannot read the emulator's token answer: {e}")))?;
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let field = |name: &str| body.get(name).and_then(serde_json::Value::as_str);
    match field("access_token") {
        Some(token) if status.is_success() => Ok(token.to_string()),
        _ => Err(Error::input(format!(
            "the emulator refused the token ({status}): {}: {}",
            field("error").unwrap_or("no error code"),
            field("error_description").unwrap_or("no description")
        ))),
    }
}

/// The active signing key's id and its public key as PEM: what forged tokens claim, or misuse.
pub(crate) fn active_key(state: &State) -> Result<(String, String), Error> {
    let keys = state.keys.read().unwrap_or_else(|p| p.into_inner());
    let key = keys
        .first()
        .ok_or_else(|| Error::input("the emulator has no signing key"))?;
    Ok((key.kid().to_string(), key.public_key_pem()?))
}
