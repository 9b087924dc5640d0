//! Kinde in your own tests (feature `testing`): a local Kinde in-process on `127.0.0.1:0`, real
//! Kinde-shaped access tokens for the users, organizations, roles, permissions, feature flags and
//! M2M applications a test names, and forged tokens a service must refuse.
//!
//! Point the service under test at [`Kinde::issuer`] and [`Kinde::jwks_url`] as it would be
//! pointed at `https://<business>.kinde.com`. The tokens are the emulator's own: what a test asks
//! for is put into the emulator's tenant (created when missing) and the token is issued by the
//! code that answers `/oauth2/token`, signed with the key its JWKS serves, so the service cannot
//! tell them from Kinde's: `permissions`, `org_code`, `roles`, `feature_flags` in Kinde's
//! `{"t", "v"}` form, `aud` as an array, `scp`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use cargo_kinde::testing::{Forgery, Kinde};
//!
//! let kinde = Kinde::start().await?;
//! let token = kinde
//!     .user("alice@example.com")
//!     .org("org_acme")
//!     .permissions(["read:orders"])
//!     .audience("https://api.acme.test")
//!     .access_token()
//!     .await?;
//!
//! // What the service under test does with it: verify against the JWKS, check the claims.
//! let jwks: jsonwebtoken::jwk::JwkSet = reqwest::get(kinde.jwks_url()).await?.json().await?;
//! let key = jsonwebtoken::DecodingKey::from_jwk(&jwks.keys[0])?;
//! let mut rules = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
//! rules.set_audience(&["https://api.acme.test"]);
//! rules.set_issuer(&[kinde.issuer()]);
//! let claims = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &rules)?.claims;
//! assert_eq!(claims["org_code"], "org_acme");
//! assert_eq!(claims["permissions"], serde_json::json!(["read:orders"]));
//!
//! // The same token, expired: still signed with the served key, so only `exp` is wrong.
//! let expired = kinde.forged(Forgery::Expired, &token)?;
//! let refused = jsonwebtoken::decode::<serde_json::Value>(&expired, &key, &rules).unwrap_err();
//! assert_eq!(refused.kind(), &jsonwebtoken::errors::ErrorKind::ExpiredSignature);
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::{Config, LoadOptions, Setting, Source};
use crate::emulator::mint::{self, M2mGrant, UserGrant};
use crate::emulator::{Emulator, Options, seed::Seed};
use crate::secret::Secret;

pub use crate::emulator::mint::{FlagValue, Forgery};

/// Why a [`Kinde`] call failed: the emulator could not start, a seed or kinde.toml is wrong, the
/// emulator refused a token (its OAuth error is in the message), or a token given to
/// [`Kinde::forged`] is not one this emulator signed.
#[derive(Debug)]
pub struct Error {
    message: String,
    source: Option<crate::error::Error>,
}

impl Error {
    fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            source: None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match self.source.as_ref().and_then(crate::error::Error::hint) {
            Some(hint) => write!(f, " (hint: {hint})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<crate::error::Error> for Error {
    fn from(error: crate::error::Error) -> Error {
        Error {
            message: error.to_string(),
            source: Some(error),
        }
    }
}

/// How to start a [`Kinde`]: seeded from an emulator seed file and/or a `kinde.toml`, over
/// HTTPS, with another token lifetime.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = std::env::temp_dir().join(format!("kinde-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let kinde_toml = dir.join("kinde.toml");
/// std::fs::write(
///     &kinde_toml,
///     "[[apis]]\nname = \"Orders\"\naudience = \"https://api.acme.test\"\nscopes = [\"read:orders\"]\n\n\
///      [[permissions]]\nkey = \"read:orders\"\n",
/// )?;
/// let kinde = cargo_kinde::testing::Kinde::builder()
///     .kinde_toml(&kinde_toml)
///     .start()
///     .await?;
/// // `register`ed into the emulator as `cargo kinde register` would.
/// assert!(kinde.emulator().state().read(|t| t.permissions.iter().any(|p| p.key == "read:orders")));
/// # drop(kinde);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default, Clone)]
#[must_use]
pub struct Builder {
    seed: Option<PathBuf>,
    kinde_toml: Option<PathBuf>,
    tls_dir: Option<PathBuf>,
    access_token_ttl: Option<u64>,
}

impl Builder {
    /// Start from an emulator seed file (the format of `cargo kinde emulator --seed FILE`:
    /// users, organizations, memberships, roles, permissions, flags, applications, APIs).
    pub fn seed_file(mut self, path: impl Into<PathBuf>) -> Builder {
        self.seed = Some(path.into());
        self
    }

    /// Then make the tenant match this `kinde.toml` (its APIs, scopes, authorisations, roles,
    /// permissions, feature flags and organizations), as `cargo kinde register` would; the
    /// `.env` beside it is read, the process environment is not, and no file is written.
    pub fn kinde_toml(mut self, path: impl Into<PathBuf>) -> Builder {
        self.kinde_toml = Some(path.into());
        self
    }

    /// Serve HTTPS with a local CA kept in `dir` (created and reused): the service under test
    /// must trust [`Kinde::ca_file`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let kinde = cargo_kinde::testing::Kinde::builder().tls(dir.path()).start().await?;
    /// assert!(kinde.issuer().starts_with("https://127.0.0.1:"));
    /// let ca = std::fs::read(kinde.ca_file().expect("with TLS, a CA"))?;
    /// let http = reqwest::Client::builder()
    ///     .tls_certs_merge([reqwest::Certificate::from_pem(&ca)?])
    ///     .build()?;
    /// let jwks = http.get(kinde.jwks_url()).send().await?.error_for_status()?;
    /// assert!(jwks.text().await?.contains("RS256"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn tls(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.tls_dir = Some(dir.into());
        self
    }

    /// Access token lifetime in seconds (Kinde's default: 86400).
    pub fn access_token_ttl(mut self, seconds: u64) -> Builder {
        self.access_token_ttl = Some(seconds);
        self
    }

    /// Start the emulator (on its own thread, so it serves whatever the test's runtime does)
    /// and seed it. Stopped when the [`Kinde`] is dropped.
    pub async fn start(self) -> Result<Kinde, Error> {
        let seed = self.seed.as_deref().map(Seed::load).transpose()?;
        let options = Options {
            port: 0,
            access_token_ttl: self.access_token_ttl,
            tls_dir: self.tls_dir.clone(),
            seed,
            ..Options::default()
        };
        // Key generation and binding block; off the test's runtime when it is tokio's.
        let emulator = match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle
                .spawn_blocking(move || Emulator::spawn(options))
                .await
                .map_err(|e| Error::new(format!("the emulator did not start: {e}")))??,
            Err(_) => Emulator::spawn(options)?,
        };
        let kinde = Kinde { emulator };
        if let Some(path) = &self.kinde_toml {
            kinde.register(path).await?;
            // kinde.toml is part of what `reset` goes back to.
            kinde.emulator.state().rebase();
        }
        Ok(kinde)
    }
}

/// A local Kinde for a test: the emulator in-process on `127.0.0.1:0`, stopped when dropped.
/// See the [module documentation](self) for a token verified as a service would.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let kinde = cargo_kinde::testing::Kinde::start().await?;   // in-process, 127.0.0.1:0
/// kinde.issuer();                 // issuer URL
/// kinde.jwks_url();               // JWKS URL the service under test is configured with
/// let token: String = kinde
///     .user("alice@example.com")  // created if missing
///     .org("org_acme")            // organization code; created if missing
///     .permissions(["read:orders"])
///     .roles(["admin"])
///     .feature_flag("beta", true)
///     .audience("https://api.acme.test")
///     .access_token()
///     .await?;
/// let m2m: String = kinde.m2m("orders-worker").audience("https://api.acme.test")
///     .scopes(["read:orders"]).access_token().await?;
/// let bad: String = kinde.forged(cargo_kinde::testing::Forgery::Expired, &token)?;
/// kinde.reset().await?;           // back to the seed
/// # Ok(())
/// # }
/// ```
pub struct Kinde {
    emulator: Emulator,
}

impl fmt::Debug for Kinde {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kinde")
            .field("issuer", &self.issuer())
            .finish_non_exhaustive()
    }
}

impl Kinde {
    /// Start with the emulator's default tenant (five users, the default organization, a web app,
    /// the Management API and a sample API).
    pub async fn start() -> Result<Kinde, Error> {
        Builder::default().start().await
    }

    /// Start another way: see [`Builder`].
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The issuer URL, e.g. `http://127.0.0.1:41234`: the tokens' `iss`, and what the service
    /// under test takes as its Kinde domain.
    pub fn issuer(&self) -> &str {
        self.emulator.issuer()
    }

    /// The JWKS URL (`<issuer>/.well-known/jwks`), as discovery names it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let kinde = cargo_kinde::testing::Kinde::start().await?;
    /// assert_eq!(kinde.jwks_url(), format!("{}/.well-known/jwks", kinde.issuer()));
    /// let discovery: serde_json::Value =
    ///     reqwest::get(format!("{}/.well-known/openid-configuration", kinde.issuer()))
    ///         .await?
    ///         .json()
    ///         .await?;
    /// assert_eq!(discovery["issuer"], kinde.issuer());
    /// assert_eq!(discovery["jwks_uri"], kinde.jwks_url());
    /// # Ok(())
    /// # }
    /// ```
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks", self.issuer())
    }

    /// With [`Builder::tls`]: the CA certificate (PEM) the service under test must trust.
    pub fn ca_file(&self) -> Option<&Path> {
        self.emulator.ca().map(|ca| ca.ca.as_path())
    }

    /// The client id user tokens are issued to (their `azp`): the tenant's first application
    /// users sign in to, unless [`UserToken::app`] names another.
    pub fn app_id(&self) -> Result<String, Error> {
        self.emulator
            .state()
            .read(|t| t.user_app().map(|a| a.id.clone()))
            .ok_or_else(|| Error::new("the tenant has no application users sign in to"))
    }

    /// The public key tokens are signed with now, as PEM (`-----BEGIN PUBLIC KEY-----`): for a
    /// service configured with a key rather than a JWKS URL. [`Forgery::Hs256WithPublicKey`]
    /// keys its HMAC with this text.
    pub fn public_key_pem(&self) -> Result<String, Error> {
        Ok(mint::active_key(self.emulator.state())?.1)
    }

    /// The emulator itself, for what this module does not wrap (its tenant, faults, counters).
    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    /// A user token for `email` (the user is created when missing). Set what it holds, then
    /// [`UserToken::access_token`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let kinde = cargo_kinde::testing::Kinde::start().await?;
    /// let token = kinde
    ///     .user("alice@example.com")
    ///     .org("org_acme")
    ///     .permissions(["read:orders"])
    ///     .roles(["admin"])
    ///     .audience("https://api.acme.test")
    ///     .access_token()
    ///     .await?;
    /// let claims = cargo_kinde::jwt::decode(&token)?.claims;
    /// assert_eq!(claims["aud"], serde_json::json!(["https://api.acme.test"]));
    /// assert_eq!(claims["org_code"], "org_acme");
    /// assert_eq!(claims["permissions"], serde_json::json!(["read:orders"]));
    /// assert_eq!(claims["roles"][0]["key"], "admin");
    /// assert_eq!(claims["scp"], serde_json::json!(["openid", "profile", "email"]));
    /// assert!(claims["sub"].as_str().unwrap().starts_with("kp_"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn user(&self, email: &str) -> UserToken<'_> {
        UserToken {
            kinde: self,
            email: email.to_string(),
            org: None,
            permissions: None,
            roles: None,
            flags: Vec::new(),
            audiences: Vec::new(),
            scopes: None,
            app: None,
        }
    }

    /// A machine-to-machine token for the M2M application named `name` (created when missing).
    /// Set its audience and scopes, then [`M2mToken::access_token`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let kinde = cargo_kinde::testing::Kinde::start().await?;
    /// let m2m = kinde
    ///     .m2m("orders-worker")
    ///     .audience("https://api.acme.test")
    ///     .scopes(["read:orders"])
    ///     .access_token()
    ///     .await?;
    /// let claims = cargo_kinde::jwt::decode(&m2m)?.claims;
    /// assert_eq!(claims["gty"], serde_json::json!(["client_credentials"]));
    /// assert_eq!(claims["scp"], serde_json::json!(["read:orders"]));
    /// assert_eq!(claims["scope"], "read:orders");
    /// assert!(claims.get("sub").is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn m2m(&self, name: &str) -> M2mToken<'_> {
        M2mToken {
            kinde: self,
            name: name.to_string(),
            audiences: Vec::new(),
            scopes: Vec::new(),
        }
    }

    /// `token` (one this emulator issued) made into a token a service must refuse, wrong in the
    /// one way `forgery` says.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use cargo_kinde::testing::{Forgery, Kinde};
    ///
    /// let kinde = Kinde::start().await?;
    /// let token = kinde.user("bob@example.com").audience("https://api.acme.test").access_token().await?;
    /// for forgery in Forgery::ALL {
    ///     let bad = kinde.forged(forgery, &token)?;
    ///     assert_ne!(bad, token, "{forgery}");
    /// }
    /// assert!(kinde.forged(Forgery::Expired, "not.a.token").is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn forged(&self, forgery: Forgery, token: &str) -> Result<String, Error> {
        Ok(mint::forge(self.emulator.state(), forgery, token)?)
    }

    /// Go back to the tenant the emulator started with (its seed, and kinde.toml's changes):
    /// what tests added is gone. The signing keys stay, so a JWKS the service cached holds.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let kinde = cargo_kinde::testing::Kinde::start().await?;
    /// kinde.user("zed@example.com").org("org_zed").access_token().await?;
    /// let state = kinde.emulator().state();
    /// assert!(state.read(|t| t.organization("org_zed").is_some()));
    /// kinde.reset().await?;
    /// assert!(state.read(|t| t.organization("org_zed").is_none()));
    /// assert!(state.read(|t| t.user_by_email("zed@example.com").is_none()));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn reset(&self) -> Result<(), Error> {
        self.emulator.state().reset();
        Ok(())
    }

    /// Make the tenant match `path` as `register` does, with the emulator's credentials.
    async fn register(&self, path: &Path) -> Result<(), Error> {
        let root = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let options = LoadOptions {
            config_path: Some(path.to_path_buf()),
            cwd: root,
            ..LoadOptions::default()
        };
        // The test's environment (a developer's KINDE_DOMAIN) must not steer the seed.
        let mut config = Config::load(&options, &BTreeMap::<String, String>::new())?;
        let tenant = self.emulator.state().catalog();
        let issuer = crate::urls::Issuer::parse(self.issuer()).map_err(Error::new)?;
        config.domain = Some(Setting::new(issuer.clone(), Source::Emulator));
        config.custom_domain = None;
        let management = tenant
            .management_app()
            .ok_or_else(|| Error::new("the emulator has no management application"))?;
        let secret = Secret::new(management.client_secret.clone().unwrap_or_default());
        config.management_client_id = Some(Setting::new(management.id.clone(), Source::Emulator));
        config.management_client_secret = Some(Setting::new(secret.clone(), Source::Emulator));
        if let Some(app) = tenant.user_app() {
            config.app_client_id = Some(Setting::new(app.id.clone(), Source::Emulator));
            config.app_client_secret = app
                .client_secret
                .clone()
                .map(|s| Setting::new(Secret::new(s), Source::Emulator));
        }
        let ca = match self.ca_file() {
            Some(file) => {
                Some(std::fs::read(file).map_err(|e| crate::error::Error::file("read", file, e))?)
            }
            None => None,
        };
        let http = crate::net::client_for(ca.as_deref())?;
        let credentials = crate::oauth::ClientCredentials {
            issuer,
            client_id: management.id.clone(),
            client_secret: secret,
            audiences: Vec::new(),
            scopes: Vec::new(),
        };
        let client = crate::kinde::client::Client::new(http, credentials, None);
        crate::kinde::apply::sync(&config, &client, Some(&InMemory))
            .await
            .map_err(|e| {
                e.context(format!(
                    "cannot register {} in the emulator",
                    path.display()
                ))
            })?;
        Ok(())
    }
}

/// Where a `[app]` that `register` creates is kept: in the emulator's tenant only, since a test
/// writes no file.
struct InMemory;

impl crate::kinde::apply::AppRecorder for InMemory {
    fn save(
        &self,
        _client_id: &str,
        _secret: Option<&Secret>,
    ) -> Result<Vec<String>, crate::error::Error> {
        Ok(Vec::new())
    }

    fn secret_home(&self) -> String {
        "the emulator's tenant".into()
    }
}

/// A user access token being described; [`UserToken::access_token`] makes what it describes
/// true in the tenant and has the emulator issue the token.
#[must_use]
pub struct UserToken<'k> {
    kinde: &'k Kinde,
    email: String,
    org: Option<String>,
    permissions: Option<Vec<String>>,
    roles: Option<Vec<String>>,
    flags: Vec<(String, FlagValue)>,
    audiences: Vec<String>,
    scopes: Option<Vec<String>>,
    app: Option<String>,
}

fn strings<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

impl UserToken<'_> {
    /// Signed in to this organization (by code; created when missing, the user made a member).
    /// Without it, the organization a silent sign-in picks: the user's first (the default one
    /// for users this module creates).
    pub fn org(mut self, code: &str) -> Self {
        self.org = Some(code.to_string());
        self
    }

    /// The permissions given to the user directly in the organization, replacing those given
    /// before (each created when missing). The token's `permissions` are these and the roles'.
    pub fn permissions<S: Into<String>>(mut self, keys: impl IntoIterator<Item = S>) -> Self {
        self.permissions = Some(strings(keys));
        self
    }

    /// The roles the user holds in the organization, replacing those held before (each created
    /// when missing, without permissions). Also turns on the application's `roles` claim (a
    /// toggle of Kinde's token customisation, off by default).
    pub fn roles<S: Into<String>>(mut self, keys: impl IntoIterator<Item = S>) -> Self {
        self.roles = Some(strings(keys));
        self
    }

    /// The flag `key` is `value` for this user (created when missing, with the type of `value`
    /// and an off / zero / empty default); set at the most specific level the flag allows.
    pub fn feature_flag(mut self, key: &str, value: impl Into<FlagValue>) -> Self {
        self.flags.push((key.to_string(), value.into()));
        self
    }

    /// An audience (repeatable): the API is created when missing and authorised for the app,
    /// so it appears in `aud`.
    pub fn audience(mut self, audience: &str) -> Self {
        self.audiences.push(audience.to_string());
        self
    }

    /// The scopes asked for (default `openid profile email`); one that is not OpenID Connect's
    /// is added to each audience's API when missing, so it appears in `scp`.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = Some(strings(scopes));
        self
    }

    /// Issued to this application (client id) instead of [`Kinde::app_id`]'s.
    pub fn app(mut self, client_id: &str) -> Self {
        self.app = Some(client_id.to_string());
        self
    }

    /// Make it so in the tenant, then have the emulator issue the token, as it would to the
    /// application after the user signed in.
    pub async fn access_token(self) -> Result<String, Error> {
        let grant = UserGrant {
            email: self.email,
            org: self.org,
            permissions: self.permissions,
            roles: self.roles,
            flags: self.flags,
            audiences: self.audiences,
            scopes: self.scopes,
            app: self.app,
        };
        Ok(mint::user_token(self.kinde.emulator.state(), &grant).await?)
    }
}

/// An M2M access token being described; [`M2mToken::access_token`] makes the application, API
/// and grant exist and gets the token from the client credentials grant.
#[must_use]
pub struct M2mToken<'k> {
    kinde: &'k Kinde,
    name: String,
    audiences: Vec<String>,
    scopes: Vec<String>,
}

impl M2mToken<'_> {
    /// An audience (repeatable; Kinde requires one): the API is created when missing and the
    /// application authorised for it.
    pub fn audience(mut self, audience: &str) -> Self {
        self.audiences.push(audience.to_string());
        self
    }

    /// The scopes asked for: each is defined on the audiences' APIs and granted to the
    /// application when missing; they are the token's `scp`. None: every scope granted, with
    /// `scp` empty, as Kinde does.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = strings(scopes);
        self
    }

    /// Make it so in the tenant, then get the token as the application would: the client
    /// credentials grant, with its client id and secret.
    pub async fn access_token(self) -> Result<String, Error> {
        let grant = M2mGrant {
            name: self.name,
            audiences: self.audiences,
            scopes: self.scopes,
        };
        Ok(mint::m2m_token(self.kinde.emulator.state(), &grant).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgeries_round_trip_their_names() {
        for forgery in Forgery::ALL {
            assert_eq!(forgery.name().parse::<Forgery>().unwrap(), forgery);
        }
        let err = "sideways".parse::<Forgery>().unwrap_err().to_string();
        assert!(
            err.contains("alg-none") && err.contains("sideways"),
            "{err}"
        );
    }

    #[test]
    fn the_error_works_with_question_mark_into_boxed_errors() {
        fn assert_bounds<E: std::error::Error + Send + Sync + 'static>() {}
        assert_bounds::<Error>();
        let boxed: Box<dyn std::error::Error + Send + Sync> =
            Error::from(crate::error::Error::input("bad").with_hint("fix it")).into();
        assert_eq!(boxed.to_string(), "bad (hint: fix it)");
    }
}
