//! URL rules: the issuer (Kinde domain) and the callback / logout URLs Kinde accepts.

use std::fmt;

use url::{Host, Url};

/// A Kinde issuer: `https://<subdomain>.kinde.com`, a custom domain, or a loopback `http` URL
/// (the emulator). Always scheme + host (+ port), no path, no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer(Url);

impl Issuer {
    /// Parse a domain as Kinde's SDKs accept it: `acme.kinde.com` or `https://acme.kinde.com`.
    /// `http` is accepted only for loopback hosts.
    pub fn parse(input: &str) -> Result<Issuer, String> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err("the domain is empty".into());
        }
        // Credentials never belong in a domain, and are never echoed back.
        if let Some(rest) = trimmed
            .split_once("://")
            .map_or(Some(trimmed), |(_, r)| Some(r))
            && rest
                .split('/')
                .next()
                .is_some_and(|authority| authority.contains('@'))
        {
            return Err("the domain contains credentials (user:password@); the domain is only scheme and host, e.g. https://acme.kinde.com".into());
        }
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_string()
        } else if ["localhost", "127.", "[::1]"]
            .iter()
            .any(|p| trimmed.starts_with(p))
        {
            // A bare loopback host is the emulator, which speaks plain http.
            format!("http://{trimmed}")
        } else {
            format!("https://{trimmed}")
        };
        let url = Url::parse(&with_scheme).map_err(|e| {
            format!("`{trimmed}` is not a valid URL ({e}); expected e.g. https://acme.kinde.com")
        })?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(format!(
                    "`{trimmed}` uses plain http; Kinde domains must be https (http is accepted only for 127.0.0.1 / localhost, e.g. the emulator)"
                ));
            }
            other => {
                return Err(format!(
                    "`{trimmed}` has scheme `{other}`; expected https://<your_subdomain>.kinde.com"
                ));
            }
        }
        if url.host().is_none() {
            return Err(format!(
                "`{trimmed}` has no host; expected e.g. https://acme.kinde.com"
            ));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "`{trimmed}` has a path or query; the domain is only scheme and host, e.g. https://acme.kinde.com"
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "`{trimmed}` contains credentials; the domain is only scheme and host"
            ));
        }
        Ok(Issuer(url))
    }

    /// The issuer as it appears in `iss`: no trailing slash.
    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    /// An endpoint under the issuer, e.g. `/oauth2/token`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.as_str())
    }

    /// The audience of the Kinde Management API for this issuer.
    pub fn management_audience(&self) -> String {
        self.endpoint("/api")
    }

    /// Whether the host is a loopback address or `localhost` (the emulator).
    pub fn is_loopback(&self) -> bool {
        is_loopback(&self.0)
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Check a callback or logout URL against Kinde's rules: absolute, `https` (or `http` on
/// localhost / loopback only), and a wildcard only as the whole leftmost subdomain label.
pub fn check_redirect_url(input: &str) -> Result<(), String> {
    // A wildcard is not a valid host character; check the shape, then parse with it replaced.
    let wildcards = input.matches('*').count();
    let candidate = input.replacen("*.", "wildcard.", 1);
    let url = Url::parse(&candidate).map_err(|e| {
        format!("`{input}` is not an absolute URL ({e}); expected e.g. https://app.acme.com/api/auth/kinde_callback")
    })?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(format!(
                "`{input}` uses plain http; Kinde allows http only for localhost and 127.0.0.1, use https"
            ));
        }
        other => {
            // Custom schemes (mobile apps, e.g. myapp://callback) are allowed by Kinde.
            if other.is_empty() {
                return Err(format!("`{input}` has no scheme"));
            }
        }
    }
    if wildcards > 0 {
        let host_starts_with_wildcard = input
            .split_once("://")
            .is_some_and(|(_, rest)| rest.starts_with("*."));
        if wildcards > 1 || !host_starts_with_wildcard {
            return Err(format!(
                "`{input}` has a wildcard outside the leftmost subdomain; Kinde allows one `*` as the whole leftmost label, e.g. https://*.acme.com/callback"
            ));
        }
        if url.scheme() != "https" {
            return Err(format!("`{input}`: wildcard URLs must be https"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_with_and_without_scheme() {
        assert_eq!(
            Issuer::parse("acme.kinde.com").unwrap().as_str(),
            "https://acme.kinde.com"
        );
        assert_eq!(
            Issuer::parse("https://acme.kinde.com/").unwrap().as_str(),
            "https://acme.kinde.com"
        );
        assert_eq!(
            Issuer::parse("http://127.0.0.1:8080").unwrap().as_str(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            Issuer::parse("http://localhost:1").unwrap().as_str(),
            "http://localhost:1"
        );
        assert!(
            Issuer::parse("http://acme.kinde.com")
                .unwrap_err()
                .contains("plain http")
        );
        assert!(
            Issuer::parse("https://acme.kinde.com/oauth2")
                .unwrap_err()
                .contains("path")
        );
        assert!(Issuer::parse("ftp://x").unwrap_err().contains("scheme"));
        assert!(Issuer::parse("").is_err());
        assert_eq!(
            Issuer::parse("acme.kinde.com")
                .unwrap()
                .management_audience(),
            "https://acme.kinde.com/api"
        );
    }

    #[test]
    fn redirect_urls_follow_kindes_rules() {
        assert!(check_redirect_url("https://app.acme.com/cb").is_ok());
        assert!(check_redirect_url("http://localhost:3000/api/auth/kinde_callback").is_ok());
        assert!(check_redirect_url("http://127.0.0.1:53180/callback").is_ok());
        assert!(check_redirect_url("https://*.acme.com/cb").is_ok());
        assert!(
            check_redirect_url("http://app.acme.com/cb")
                .unwrap_err()
                .contains("plain http")
        );
        assert!(
            check_redirect_url("/callback")
                .unwrap_err()
                .contains("absolute")
        );
        assert!(
            check_redirect_url("https://app.*.acme.com/cb")
                .unwrap_err()
                .contains("wildcard")
        );
        assert!(
            check_redirect_url("https://*.*.acme.com/cb")
                .unwrap_err()
                .contains("wildcard")
        );
    }
}
