//! JSON Web Key Sets: the wire types (shared with the emulator) and a fetching cache that
//! refetches once when a token names a key it does not hold.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::net;
use crate::ui;
use crate::urls::Issuer;

/// A JWKS document.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// One RSA public key as Kinde publishes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type (`RSA`).
    pub kty: String,
    /// Key id.
    #[serde(default)]
    pub kid: Option<String>,
    /// `sig`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// `RS256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Modulus, base64url.
    #[serde(default)]
    pub n: String,
    /// Exponent, base64url.
    #[serde(default)]
    pub e: String,
}

impl Jwks {
    /// The key with id `kid`.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }
}

/// How long a JWKS fetched earlier is trusted before it is fetched again.
pub const DISK_TTL_SECS: u64 = 600;

/// Where keys come from: an issuer's JWKS endpoint (with an optional on-disk copy), or a fixed set.
#[derive(Debug)]
pub struct KeySource {
    remote: Option<Remote>,
    disk: Option<PathBuf>,
    cached: Option<Jwks>,
    fresh: bool,
    fetches: u32,
}

/// A lookup of the JWKS URL, run only when the keys must be fetched (futures do nothing until
/// awaited): `oauth::discovery::jwks_uri` reads the issuer's discovery document. It is passed in
/// rather than called from here because `oauth` depends on `jwt`, not the other way.
pub type JwksUri = Pin<Box<dyn Future<Output = Result<String, Error>> + Send>>;

/// Where a remote key set is fetched from.
struct Remote {
    http: reqwest::Client,
    /// Kinde's fixed JWKS path, used unless `locate` is given.
    url: String,
    locate: Option<JwksUri>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.url)
            .field("discovered", &self.locate.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct DiskEntry {
    fetched_at: u64,
    jwks: Jwks,
}

impl KeySource {
    /// Keys from `<issuer>/.well-known/jwks.json`, the path Kinde's own validators use (see
    /// [`KeySource::with_jwks_uri`] for the discovered one). With `cache_dir`, a copy younger than
    /// [`DISK_TTL_SECS`] is used first.
    pub fn remote(http: reqwest::Client, issuer: &Issuer, cache_dir: Option<&Path>) -> Self {
        let disk = cache_dir.map(|dir| {
            let digest =
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, issuer.as_str().as_bytes());
            let name: String = digest.as_ref()[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            dir.join("jwks").join(format!("{name}.json"))
        });
        KeySource {
            remote: Some(Remote {
                http,
                url: endpoint(issuer),
                locate: None,
            }),
            disk,
            cached: None,
            fresh: false,
            fetches: 0,
        }
    }

    /// Fetch from the URL `locate` yields (the discovery document's `jwks_uri`), looked up only
    /// when a fetch is needed: a key found in the disk copy costs no request at all.
    pub fn with_jwks_uri(mut self, locate: JwksUri) -> Self {
        if let Some(remote) = &mut self.remote {
            remote.locate = Some(locate);
        }
        self
    }

    /// A fixed key set.
    pub fn fixed(jwks: Jwks) -> Self {
        KeySource {
            remote: None,
            disk: None,
            cached: Some(jwks),
            fresh: true,
            fetches: 0,
        }
    }

    /// How many times the JWKS was fetched over the network.
    pub fn fetches(&self) -> u32 {
        self.fetches
    }

    /// The key `kid`: from the set at hand, else after one fetch (a key set read from disk may
    /// predate a key rotation, so an unknown `kid` is worth exactly one refetch).
    pub async fn key(&mut self, kid: &str) -> Result<Option<Jwk>, Error> {
        if self.cached.is_none() {
            self.cached = self.read_disk();
        }
        if let Some(key) = self.cached.as_ref().and_then(|j| j.find(kid)) {
            return Ok(Some(key.clone()));
        }
        if self.fresh || self.remote.is_none() {
            return Ok(None);
        }
        if self.cached.is_some() {
            ui::debug(&format!(
                "key `{kid}` is not in the cached JWKS; fetching it again"
            ));
        }
        let jwks = self.fetch().await?;
        self.write_disk(&jwks);
        let key = jwks.find(kid).cloned();
        self.cached = Some(jwks);
        self.fresh = true;
        Ok(key)
    }

    fn read_disk(&self) -> Option<Jwks> {
        let text = std::fs::read_to_string(self.disk.as_ref()?).ok()?;
        let entry: DiskEntry = serde_json::from_str(&text).ok()?;
        (crate::clock::now().saturating_sub(entry.fetched_at) < DISK_TTL_SECS).then_some(entry.jwks)
    }

    fn write_disk(&self, jwks: &Jwks) {
        let Some(path) = &self.disk else { return };
        let entry = DiskEntry {
            fetched_at: crate::clock::now(),
            jwks: jwks.clone(),
        };
        let written = path
            .parent()
            .map_or(Ok(()), crate::files::create_private_dir)
            .and_then(|()| {
                crate::files::write_private(path, &serde_json::to_vec(&entry).unwrap_or_default())
            });
        if let Err(e) = written {
            ui::debug(&format!(
                "could not cache the JWKS at {}: {e}",
                path.display()
            ));
        }
    }

    async fn fetch(&mut self) -> Result<Jwks, Error> {
        let Some(remote) = &mut self.remote else {
            return Ok(Jwks::default());
        };
        if let Some(locate) = remote.locate.take() {
            remote.url = locate.await?;
        }
        self.fetches += 1;
        fetch(&remote.http, &remote.url).await
    }
}

/// `<issuer>/.well-known/jwks.json`, where Kinde's own validators read the keys.
pub fn endpoint(issuer: &Issuer) -> String {
    issuer.endpoint("/.well-known/jwks.json")
}

/// Fetch and parse the JWKS at `url` (no cache: [`KeySource`] and smoke's run keep their own).
pub async fn fetch(http: &reqwest::Client, url: &str) -> Result<Jwks, Error> {
    let started = std::time::Instant::now();
    let reply = net::send(http.get(url), url, net::JWKS_LIMIT).await?;
    let status = reply.status;
    ui::debug(&format!(
        "GET {url} -> {} ({} ms)",
        status.as_u16(),
        started.elapsed().as_millis()
    ));
    if !status.is_success() {
        return Err(Error::network(format!(
            "{url} answered {status}: {}",
            net::excerpt(&reply.text(), 200)
        ))
        .with_hint("check the issuer: the token's `iss` and the configured domain"));
    }
    serde_json::from_slice(&reply.body).map_err(|e| {
        Error::network(format!(
            "{url} did not return a JWKS ({})",
            net::server_text(&e.to_string())
        ))
        .with_hint("is the domain a Kinde issuer? `cargo kinde config` shows it")
    })
}
