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
    disk: Option<DiskCache>,
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

/// The on-disk copy of one issuer's JWKS: `<cache root>/jwks/<digest of the issuer>.json`.
/// A key set read from disk decides which tokens `verify` accepts, so the copy is used only from
/// directories private to the current user, and only while its `fetched_at` is in the past and
/// younger than [`DISK_TTL_SECS`].
#[derive(Debug)]
struct DiskCache {
    root: PathBuf,
    file: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct DiskEntry {
    fetched_at: u64,
    jwks: Jwks,
}

impl DiskEntry {
    /// Fresh: fetched in the past (a time ahead of the clock never expires otherwise) and less
    /// than [`DISK_TTL_SECS`] ago.
    fn fresh(&self, now: u64) -> bool {
        crate::clock::fresh(self.fetched_at, now, DISK_TTL_SECS)
    }
}

impl DiskCache {
    fn new(root: &Path, issuer: &Issuer) -> Self {
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, issuer.as_str().as_bytes());
        let name: String = digest.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        DiskCache {
            root: root.to_path_buf(),
            file: root.join("jwks").join(format!("{name}.json")),
        }
    }

    /// The cached key set if it is fresh; an unsafe directory is an error, anything else that
    /// goes wrong (no file, a file that does not parse, a link) is a miss.
    fn read(&self) -> Result<Option<Jwks>, Error> {
        let Some(bytes) =
            crate::files::read_cached(&self.root, &self.file, crate::net::JWKS_LIMIT)?
        else {
            return Ok(None);
        };
        let entry = serde_json::from_slice::<DiskEntry>(&bytes).ok();
        Ok(entry
            .filter(|e| e.fresh(crate::clock::now()))
            .map(|e| e.jwks))
    }

    /// Store `jwks` (mode 0600). An unsafe directory is an error; a write that fails otherwise
    /// only costs a fetch next time, so it is reported at debug level.
    fn write(&self, jwks: &Jwks) -> Result<(), Error> {
        let entry = DiskEntry {
            fetched_at: crate::clock::now(),
            jwks: jwks.clone(),
        };
        let written = serde_json::to_vec(&entry)
            .map_err(|e| Error::file("write", &self.file, e.into()))
            .and_then(|bytes| crate::files::write_cached(&self.root, &self.file, &bytes));
        match written {
            Err(e) if matches!(e.root(), Error::Unsafe { .. }) => Err(e),
            Err(e) => {
                ui::debug(&format!(
                    "could not cache the JWKS at {}: {e}",
                    self.file.display()
                ));
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }
}

impl KeySource {
    /// Keys from `<issuer>/.well-known/jwks.json`, the path Kinde's own validators use (see
    /// [`KeySource::with_jwks_uri`] for the discovered one). With `cache_dir` (the cache root), a
    /// copy younger than [`DISK_TTL_SECS`] is used first; a cache directory not private to the
    /// current user makes [`KeySource::key`] fail with [`Error::Unsafe`].
    pub fn remote(http: reqwest::Client, issuer: &Issuer, cache_dir: Option<&Path>) -> Self {
        let disk = cache_dir.map(|dir| DiskCache::new(dir, issuer));
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
        if self.cached.is_none()
            && let Some(disk) = &self.disk
        {
            self.cached = disk.read()?;
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
        if let Some(disk) = &self.disk {
            disk.write(&jwks)?;
        }
        let key = jwks.find(kid).cloned();
        self.cached = Some(jwks);
        self.fresh = true;
        Ok(key)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disk_entry_from_the_future_is_stale() {
        let entry = |fetched_at| DiskEntry {
            fetched_at,
            jwks: Jwks::default(),
        };
        let now = 1_000_000;
        assert!(entry(now).fresh(now));
        assert!(entry(now - DISK_TTL_SECS + 1).fresh(now));
        assert!(!entry(now - DISK_TTL_SECS).fresh(now));
        assert!(!entry(now + 1).fresh(now), "a time ahead of the clock");
    }
}
