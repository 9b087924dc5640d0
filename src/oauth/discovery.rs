//! OpenID Connect Discovery 1.0: the provider's endpoints from
//! `<issuer>/.well-known/openid-configuration`, checked before anything is sent to them, and
//! cached on disk for a day so a token request makes at most one extra request per issuer a day.
//!
//! Rules, in order: the document's `issuer` must equal the issuer it was fetched for, exactly
//! (§4.3; a mismatch is an error, never a fallback); every endpoint must be `https` (or `http` on
//! a loopback host, the emulator) and on the issuer's own host, so a hostile document cannot send
//! the client secret or a code elsewhere. Only when the document is unavailable (404, or the
//! connection refused) does [`endpoints`] fall back to Kinde's fixed paths.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::Error;
use crate::net;
use crate::ui;
use crate::urls::Issuer;

/// Where the discovery document is, under the issuer.
pub const PATH: &str = "/.well-known/openid-configuration";

/// How long a discovery document read earlier is used before it is fetched again.
pub const DISK_TTL_SECS: u64 = 24 * 60 * 60;

/// The endpoints of an OIDC provider, from its discovery document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    /// `issuer`.
    pub issuer: String,
    /// `authorization_endpoint`.
    pub authorization_endpoint: String,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `jwks_uri`.
    pub jwks_uri: String,
    /// `end_session_endpoint`.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// `userinfo_endpoint`.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
}

impl Discovery {
    /// Kinde's fixed paths under `issuer`: the fallback when no discovery document is served.
    pub fn kinde(issuer: &Issuer) -> Self {
        Discovery {
            issuer: issuer.as_str().to_string(),
            authorization_endpoint: issuer.endpoint("/oauth2/auth"),
            token_endpoint: issuer.endpoint("/oauth2/token"),
            jwks_uri: issuer.endpoint("/.well-known/jwks.json"),
            end_session_endpoint: Some(issuer.endpoint("/logout")),
            userinfo_endpoint: Some(issuer.endpoint("/oauth2/v2/user_profile")),
        }
    }

    /// Check the document against `issuer`: the exact issuer (OIDC Discovery §4.3) and every
    /// endpoint https (or loopback http) on the issuer's host.
    pub fn check(&self, issuer: &Issuer) -> Result<(), Error> {
        if self.issuer != issuer.as_str() {
            return Err(Error::network(format!(
                "{} names issuer `{}`, not `{issuer}`: it is not this provider's document (OpenID Connect Discovery §4.3); nothing was sent",
                issuer.endpoint(PATH),
                net::server_line(&self.issuer)
            ))
            .with_hint("use the domain shown under Settings > Details > Domain (KINDE_DOMAIN or [tenant] domain)"));
        }
        let endpoints = [
            ("authorization_endpoint", Some(&self.authorization_endpoint)),
            ("token_endpoint", Some(&self.token_endpoint)),
            ("jwks_uri", Some(&self.jwks_uri)),
            ("end_session_endpoint", self.end_session_endpoint.as_ref()),
            ("userinfo_endpoint", self.userinfo_endpoint.as_ref()),
        ];
        for (name, value) in endpoints {
            if let Some(value) = value {
                check_endpoint(issuer, name, value)?;
            }
        }
        Ok(())
    }
}

fn check_endpoint(issuer: &Issuer, name: &str, value: &str) -> Result<(), Error> {
    let refuse = |why: &str| {
        Error::network(format!(
            "{}: `{name}` {why}; refusing to use it, nothing was sent",
            issuer.endpoint(PATH),
        ))
        .with_hint("endpoints in the discovery document must be on the issuer's own origin (scheme, host and port, as Kinde serves them); check the domain")
    };
    let url = Url::parse(value).map_err(|_| refuse("is not a URL"))?;
    // The issuer's own origin: https (http only for a loopback issuer), its host and its port.
    let origin = Url::parse(issuer.as_str()).map(|u| u.origin()).ok();
    if Some(url.origin()) != origin {
        return Err(refuse(&format!(
            "is on `{}`, not the issuer's origin",
            net::server_line(&url.origin().ascii_serialization())
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("carries credentials"));
    }
    Ok(())
}

/// What a fetch found.
enum Fetched {
    /// A document that passed [`Discovery::check`].
    Document(Discovery),
    /// No document here (404, connection refused): the provider does not serve one.
    Unavailable(String),
}

/// Fetch and check `<issuer>/.well-known/openid-configuration`; a missing document is an error.
pub async fn fetch(http: &reqwest::Client, issuer: &Issuer) -> Result<Discovery, Error> {
    match fetch_inner(http, issuer).await? {
        Fetched::Document(doc) => Ok(doc),
        Fetched::Unavailable(why) => {
            Err(Error::network(why).with_hint("check the domain: is it a Kinde (OIDC) issuer?"))
        }
    }
}

async fn fetch_inner(http: &reqwest::Client, issuer: &Issuer) -> Result<Fetched, Error> {
    let url = issuer.endpoint(PATH);
    let started = std::time::Instant::now();
    let response = match tokio::time::timeout(net::TIMEOUT, http.get(&url).send()).await {
        Ok(Ok(response)) => response,
        // Nothing listens there: the provider serves no document (Kinde's paths are used).
        Ok(Err(e)) if e.is_connect() => {
            return Ok(Fetched::Unavailable(
                net::transport_error(&url, &e).to_string(),
            ));
        }
        Ok(Err(e)) => return Err(net::transport_error(&url, &e)),
        Err(_) => {
            return Err(Error::network(format!(
                "{url}: no answer within {} s",
                net::TIMEOUT.as_secs()
            )));
        }
    };
    let status = response.status();
    // The client's timeout bounds the body's time, the cap its size.
    let reply = net::Reply {
        status,
        headers: response.headers().clone(),
        body: net::read_body(&url, response, net::DISCOVERY_LIMIT).await?,
    };
    ui::debug(&format!(
        "GET {url} -> {} ({} ms)",
        reply.status.as_u16(),
        started.elapsed().as_millis()
    ));
    // No document (404), or one the server cannot give right now (5xx): Kinde's own paths still
    // work, so a passing fault in discovery does not stop a token request.
    if reply.status == reqwest::StatusCode::NOT_FOUND || reply.status.is_server_error() {
        return Ok(Fetched::Unavailable(format!(
            "{url} answered {}",
            reply.status
        )));
    }
    if !reply.status.is_success() {
        return Err(Error::network(format!(
            "{url} answered {}: {}",
            reply.status,
            net::excerpt(&reply.text(), 160)
        ))
        .with_hint("check the domain: is it a Kinde (OIDC) issuer?"));
    }
    let doc: Discovery = serde_json::from_slice(&reply.body).map_err(|e| {
        Error::network(format!(
            "{url} is not an OIDC discovery document ({})",
            net::server_text(&e.to_string())
        ))
        .with_hint("check the domain: is it a Kinde (OIDC) issuer?")
    })?;
    doc.check(issuer)?;
    Ok(Fetched::Document(doc))
}

/// The endpoints to use for `issuer`: a checked document from the disk cache under `cache_dir`
/// (younger than [`DISK_TTL_SECS`]), else fetched (and cached), else, when the provider serves
/// no document, Kinde's fixed paths ([`Discovery::kinde`]).
pub async fn endpoints(
    http: &reqwest::Client,
    issuer: &Issuer,
    cache_dir: Option<&Path>,
) -> Result<Discovery, Error> {
    let path = cache_dir.map(|dir| (dir, cache_path(dir, issuer)));
    if let Some((root, path)) = &path
        && let Some(doc) = read_cached(root, path, issuer)?
    {
        ui::debug(&format!("discovery for {issuer} from the cache"));
        return Ok(doc);
    }
    let doc = match fetch_inner(http, issuer).await? {
        Fetched::Document(doc) => doc,
        Fetched::Unavailable(why) => {
            ui::debug(&format!("{why}; using Kinde's fixed endpoints"));
            return Ok(Discovery::kinde(issuer));
        }
    };
    if let Some((root, path)) = &path {
        write_cached(root, path, &doc)?;
    }
    Ok(doc)
}

/// The issuer's `jwks_uri` ([`endpoints`]), looked up only when `jwt::jwks::KeySource` awaits it.
pub fn jwks_uri(
    http: reqwest::Client,
    issuer: Issuer,
    cache_dir: Option<PathBuf>,
) -> crate::jwt::jwks::JwksUri {
    Box::pin(async move {
        endpoints(&http, &issuer, cache_dir.as_deref())
            .await
            .map(|d| d.jwks_uri)
    })
}

/// `<cache_dir>/discovery/<digest of the issuer>.json`.
fn cache_path(dir: &Path, issuer: &Issuer) -> PathBuf {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, issuer.as_str().as_bytes());
    let name: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    dir.join("discovery").join(format!("{name}.json"))
}

#[derive(Serialize, Deserialize)]
struct DiskEntry {
    fetched_at: u64,
    document: Discovery,
}

/// A cached document, re-checked (a file edited by hand gets the same rules as the network); only
/// from directories private to the user, fresh, and no link.
fn read_cached(root: &Path, path: &Path, issuer: &Issuer) -> Result<Option<Discovery>, Error> {
    let Some(bytes) = crate::files::read_cached(root, path, net::DISCOVERY_LIMIT)? else {
        return Ok(None);
    };
    let entry: Option<DiskEntry> = serde_json::from_slice(&bytes).ok();
    Ok(entry
        .filter(|e| crate::clock::fresh(e.fetched_at, crate::clock::now(), DISK_TTL_SECS))
        .filter(|e| e.document.check(issuer).is_ok())
        .map(|e| e.document))
}

fn write_cached(root: &Path, path: &Path, doc: &Discovery) -> Result<(), Error> {
    let entry = DiskEntry {
        fetched_at: crate::clock::now(),
        document: doc.clone(),
    };
    let bytes = serde_json::to_vec(&entry).map_err(|e| Error::file("write", path, e.into()))?;
    match crate::files::write_cached(root, path, &bytes) {
        Err(e) if matches!(e.root(), Error::Unsafe { .. }) => Err(e),
        Err(e) => {
            ui::debug(&format!(
                "could not cache the discovery document at {}: {e}",
                path.display()
            ));
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> Issuer {
        Issuer::parse("https://acme.kinde.com").unwrap()
    }

    #[test]
    fn kinde_paths_pass_the_check() {
        Discovery::kinde(&issuer()).check(&issuer()).unwrap();
    }

    #[test]
    fn issuer_must_match_exactly() {
        for other in [
            "https://acme.kinde.com/",
            "https://ACME.kinde.com",
            "https://evil.example",
        ] {
            let doc = Discovery {
                issuer: other.into(),
                ..Discovery::kinde(&issuer())
            };
            assert!(doc.check(&issuer()).is_err(), "{other} accepted");
        }
    }

    #[test]
    fn endpoints_must_be_https_on_the_issuers_host() {
        for bad in [
            "https://evil.example/oauth2/token",
            "http://acme.kinde.com/oauth2/token",
            "https://acme.kinde.com.evil.example/oauth2/token",
            "https://user:pw@acme.kinde.com/oauth2/token",
            "not a url",
        ] {
            let doc = Discovery {
                token_endpoint: bad.into(),
                ..Discovery::kinde(&issuer())
            };
            assert!(doc.check(&issuer()).is_err(), "{bad} accepted");
        }
        let loopback = Issuer::parse("http://127.0.0.1:8080").unwrap();
        Discovery::kinde(&loopback).check(&loopback).unwrap();
    }
}
