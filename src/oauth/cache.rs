//! The token cache: one JSON file per (issuer, client, secret, audiences, scopes) in the user's
//! cache directory, mode 0600, used until shortly before the token expires.
//!
//! The cache is not trusted blindly: a directory another user owns or can write to is refused
//! (a token planted there would be used), and an entry whose times cannot be right (stored in the
//! future, or living longer than any access token) counts as expired.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{AccessToken, ClientCredentials};
use crate::clock::now;
use crate::error::Error;
use crate::secret::Secret;

/// Overrides the cache directory (tests, CI sandboxes).
pub const CACHE_DIR_ENV: &str = "CARGO_KINDE_CACHE_DIR";

/// A cached token is used only while it has more than this many seconds left.
pub const EXPIRY_MARGIN_SECS: u64 = 60;

/// The longest lifetime a cached access token is believed to have. Kinde's default is a day and
/// its docs advise a day or less; an entry claiming more was not written by a sane clock.
pub const MAX_LIFETIME_SECS: u64 = 31 * 86_400;

/// The directory holding cached tokens.
#[derive(Debug, Clone)]
pub struct TokenCache {
    /// The cache root (`cargo-kinde` in the cache directory), checked like `dir`: whoever can
    /// write to it can swap `dir` for their own.
    root: PathBuf,
    dir: PathBuf,
}

/// What identifies a cached token: a digest, so file names reveal nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey(String, String);

impl CacheKey {
    /// The key of a client-credentials request. The secret is part of it, so a rotated secret
    /// never reuses a token obtained with the old one.
    pub fn new(request: &ClientCredentials) -> Self {
        let mut audiences = request.audiences.clone();
        audiences.sort();
        let mut scopes = request.scopes.clone();
        scopes.sort();
        let material = [
            "m2m",
            request.issuer.as_str(),
            &request.client_id,
            request.client_secret.expose(),
            &audiences.join(" "),
            &scopes.join(" "),
        ]
        .join("\n");
        Self::digest(&material, request.issuer.as_str())
    }

    /// The key of a user token for `client_id` at `issuer` with these audiences and scopes.
    pub fn user(
        issuer: &crate::urls::Issuer,
        client_id: &str,
        audiences: &[String],
        scopes: &[String],
    ) -> Self {
        let (mut audiences, mut scopes) = (audiences.to_vec(), scopes.to_vec());
        audiences.sort();
        scopes.sort();
        let material = [
            "user",
            issuer.as_str(),
            client_id,
            &audiences.join(" "),
            &scopes.join(" "),
        ]
        .join("\n");
        Self::digest(&material, issuer.as_str())
    }

    fn digest(material: &str, issuer: &str) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, material.as_bytes());
        CacheKey(
            digest.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
            issuer.to_string(),
        )
    }
}

#[derive(Serialize, Deserialize)]
struct Entry {
    access_token: String,
    token_type: String,
    expires_at: u64,
    scope: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    /// The issuer, so `logout` can clear one tenant's tokens.
    #[serde(default)]
    issuer: Option<String>,
    /// When it was stored (this machine's clock), so implausible times can be told apart.
    #[serde(default)]
    stored_at: Option<u64>,
}

impl Entry {
    /// Whether the entry's times could have been written by this machine: stored in the past and
    /// expiring no later than the longest lifetime after that. An entry without `stored_at`
    /// (written by an older version) is not trusted to be fresh either.
    fn plausible(&self, now: u64) -> bool {
        self.stored_at.is_some_and(|stored| {
            stored <= now
                && self.expires_at > stored
                && self.expires_at - stored <= MAX_LIFETIME_SECS
        })
    }
}

impl TokenCache {
    /// The cache in `$CARGO_KINDE_CACHE_DIR/tokens`, or `cargo-kinde/tokens` in the platform's
    /// cache directory. Refused ([`Error::Unsafe`]) when either directory exists and is not
    /// private to the current user.
    pub fn open() -> Result<Self, Error> {
        let root = match std::env::var_os(CACHE_DIR_ENV).filter(|d| !d.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => {
                use etcetera::BaseStrategy;
                let base = etcetera::choose_base_strategy().map_err(|e| {
                    Error::input(format!("cannot find a cache directory: {e}"))
                        .with_hint(format!("set {CACHE_DIR_ENV}, or pass --no-cache"))
                })?;
                base.cache_dir().join("cargo-kinde")
            }
        };
        let cache = TokenCache {
            dir: root.join("tokens"),
            root,
        };
        cache.check()?;
        Ok(cache)
    }

    /// [`TokenCache::open`], or `None` when this machine has no cache directory; only an unsafe
    /// directory is an error (a command that can work without the cache must still refuse one).
    pub fn open_if_any() -> Result<Option<Self>, Error> {
        match Self::open() {
            Ok(cache) => Ok(Some(cache)),
            Err(e) if matches!(e.root(), Error::Unsafe { .. }) => Err(e),
            Err(e) => {
                crate::ui::debug(&format!("no token cache: {e}"));
                Ok(None)
            }
        }
    }

    /// A cache in `dir` (which is also its root).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        TokenCache {
            root: dir.clone(),
            dir,
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cache root: `dir` or its parent, where the JWKS cache lives too.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Refuse the cache when its root or directory is not private to the current user.
    pub fn check(&self) -> Result<(), Error> {
        crate::files::check_private_dir(&self.root)?;
        crate::files::check_private_dir(&self.dir)
    }

    fn path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.json", key.0))
    }

    /// A fresh token for `key`, if one is cached: more than [`EXPIRY_MARGIN_SECS`] left, and times
    /// that could be right (a clock set back, or a planted entry, must not make it live forever).
    pub fn get(&self, key: &CacheKey) -> Option<AccessToken> {
        let now = now();
        self.entry(key)
            .filter(|e| e.plausible(now) && e.expires_at > now + EXPIRY_MARGIN_SECS)
            .map(Entry::into_token)
    }

    /// A fresh cached M2M token for `request`: the one lookup every client-credentials path
    /// makes (`token`, the Management API client, smoke), so a hit costs no request and no HTTP
    /// client.
    pub fn fresh(&self, request: &ClientCredentials) -> Option<AccessToken> {
        let token = self.get(&CacheKey::new(request));
        match &token {
            Some(t) => crate::ui::debug(&format!("token cache hit ({} s left)", t.expires_in())),
            None => crate::ui::debug("token cache miss"),
        }
        token
    }

    /// The token for `key` even when it has expired (its refresh token may still work; the
    /// issuer, not this file, decides whether it does).
    pub fn get_any(&self, key: &CacheKey) -> Option<AccessToken> {
        self.entry(key).map(Entry::into_token)
    }

    /// The entry for `key`, read only from a private directory (re-checked at each read: the
    /// directory may have changed since [`TokenCache::open`]) and never through a link.
    fn entry(&self, key: &CacheKey) -> Option<Entry> {
        if let Err(e) = self.check() {
            crate::ui::debug(&format!("token cache not read: {e}"));
            return None;
        }
        let path = self.path(key);
        if fs::symlink_metadata(&path).ok()?.file_type().is_symlink() {
            return None;
        }
        serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
    }
}

impl Entry {
    fn into_token(self) -> AccessToken {
        let entry = self;
        AccessToken {
            token: Secret::new(entry.access_token),
            token_type: entry.token_type,
            expires_at: entry.expires_at,
            scope: entry.scope,
            cached: true,
            refresh_token: entry.refresh_token.map(Secret::new),
            unsaved: None,
        }
    }
}

impl TokenCache {
    /// Forget the token for `key`.
    pub fn remove(&self, key: &CacheKey) {
        let _ = fs::remove_file(self.path(key));
    }

    /// Store `token` under `key` (mode 0600, through the one safe writer).
    pub fn put(&self, key: &CacheKey, token: &AccessToken) -> Result<(), crate::error::Error> {
        crate::files::create_private_dir(&self.root)?;
        crate::files::create_private_dir(&self.dir)?;
        self.check()?;
        let entry = Entry {
            access_token: token.token.expose().to_string(),
            token_type: token.token_type.clone(),
            expires_at: token.expires_at,
            scope: token.scope.clone(),
            refresh_token: token.refresh_token.as_ref().map(|s| s.expose().to_string()),
            issuer: Some(key.1.clone()),
            stored_at: Some(now()),
        };
        let text = serde_json::to_vec(&entry)
            .map_err(|e| crate::error::Error::file("write", self.path(key), e.into()))?;
        crate::files::write_private(&self.path(key), &text)
    }

    /// Remove every cached token. Returns how many were removed.
    pub fn clear(&self) -> std::io::Result<usize> {
        self.clear_where(|_| true)
    }

    /// Remove the cached tokens of one issuer. Returns how many were removed.
    pub fn clear_issuer(&self, issuer: &str) -> std::io::Result<usize> {
        self.clear_where(|path| {
            let entry = fs::read_to_string(path)
                .ok()
                .and_then(|t| serde_json::from_str::<Entry>(&t).ok());
            entry.is_some_and(|e| e.issuer.as_deref() == Some(issuer))
        })
    }

    fn clear_where(&self, keep_if_false: impl Fn(&Path) -> bool) -> std::io::Result<usize> {
        let mut removed = 0;
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") && keep_if_false(&path) {
                fs::remove_file(path)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::urls::Issuer;

    fn request(secret: &str) -> ClientCredentials {
        ClientCredentials {
            issuer: Issuer::parse("https://a.kinde.com").unwrap(),
            client_id: "c".into(),
            client_secret: Secret::new(secret),
            audiences: vec!["https://a.kinde.com/api".into()],
            scopes: vec![],
        }
    }

    #[test]
    fn stores_privately_and_expires() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::at(dir.path().join("t"));
        let key = CacheKey::new(&request("s1"));
        let token = |expires_at| AccessToken {
            token: Secret::new("tok"),
            token_type: "Bearer".into(),
            expires_at,
            scope: None,
            cached: false,
            refresh_token: None,
            unsaved: None,
        };
        cache.put(&key, &token(now() + 3600)).unwrap();
        let hit = cache.get(&key).unwrap();
        assert!(hit.cached);
        assert_eq!(hit.token.expose(), "tok");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(cache.path(&key)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(
            cache.get(&CacheKey::new(&request("s2"))).is_none(),
            "another secret must miss"
        );
        cache.put(&key, &token(now() + 30)).unwrap();
        assert!(
            cache.get(&key).is_none(),
            "a token about to expire is not reused"
        );
        assert_eq!(cache.clear().unwrap(), 1);
    }
}
