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

    /// The host, lower case (`acme.kinde.com`, `127.0.0.1`).
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    /// Whether the host is a loopback address or `localhost` (the emulator).
    pub fn is_loopback(&self) -> bool {
        is_loopback(&self.0)
    }

    /// Whether `url` is on the issuer's own origin (scheme, host and port): a token the issuer
    /// made may go back to it, and to nowhere else it does not belong.
    pub fn is_own_origin(&self, url: &str) -> bool {
        Url::parse(url).is_ok_and(|u| u.origin() == self.0.origin())
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

/// Schemes that are never a place to send a user back to: they run script, read local files, stay
/// inside the browser, or belong to another network protocol or to the operating system (a
/// native app's scheme is its own name, never one of these). Refused even though they look like
/// a custom scheme; so is every `ms-*` scheme (Windows' protocol handlers, e.g. `ms-msdt:`).
const REFUSED_SCHEMES: &[&str] = &[
    "javascript",
    "vbscript",
    "data",
    "file",
    "about",
    "blob",
    "ws",
    "wss",
    "ftp",
    "ftps",
    "sftp",
    "gopher",
    "ldap",
    "ldaps",
    "mailto",
    "tel",
    "sms",
    "ssh",
    "telnet",
    "irc",
    "smb",
    "nfs",
    "jar",
    "view-source",
    "chrome",
    "android-app",
    "intent",
    "x-javascript",
];

/// An example of each accepted form, appended to the errors.
const EXAMPLES: &str = "e.g. https://app.acme.com/api/auth/kinde_callback, http://localhost:3000/callback, or myapp://callback for a native app";

/// Check a callback or logout URL against Kinde's rules, naming the URL and the rule it breaks.
///
/// Accepted: absolute `scheme://host...` URLs with `https`; `http` only on localhost or a
/// loopback address (127.0.0.0/8, `[::1]`); or a native app's own scheme in the form Kinde's iOS
/// and Android docs show (`myapp://callback`, `com.example.app://kinde_callback`). Never:
/// credentials (`user:pw@`), a fragment, surrounding spaces, a scheme that runs script or reads
/// local files (`javascript:`, `data:`, `file:`, ...), or a URL with no `://` authority. One `*`,
/// in the leftmost label of an `https` host below a registrable domain (`https://*.acme.com`,
/// `https://pr-*.acme.com`), as Kinde documents wildcards.
pub fn check_redirect_url(input: &str) -> Result<(), String> {
    if input.is_empty() {
        return Err(format!("the URL is empty; expected {EXAMPLES}"));
    }
    let shown = redact_userinfo(input);
    if input.trim() != input || input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "`{shown}` contains spaces or control characters; Kinde matches callback URLs exactly, remove them"
        ));
    }
    // The scheme is what comes before the first `:`, so `blob:https://...` is a `blob:` URL.
    let scheme = leading_scheme(input);
    if let Some(scheme) = scheme.as_deref()
        && (REFUSED_SCHEMES.contains(&scheme) || scheme.starts_with("ms-"))
    {
        return Err(refused_scheme(&shown, scheme));
    }
    let Some((_, rest)) = input.split_once("://") else {
        return Err(without_authority(input, &shown, scheme.as_deref()));
    };
    let Some(scheme) = scheme.filter(|s| input[s.len()..].starts_with("://")) else {
        return Err(format!(
            "`{shown}` has no valid scheme before `://`; expected {EXAMPLES}"
        ));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Checked on the text: the URL parser reads `https:///cb` as host `cb`.
    if authority.is_empty() {
        return Err(format!(
            "`{shown}` has no host after `://`; expected {EXAMPLES}"
        ));
    }
    if authority.contains('@') {
        return Err(format!(
            "`{shown}` contains credentials (`user:password@`); a callback or logout URL never carries them, remove them"
        ));
    }
    let candidate = match input.matches('*').count() {
        0 => input.to_string(),
        1 => wildcard_stand_in(&shown, &scheme, rest, authority)?,
        _ => return Err(wildcard_error(&shown)),
    };
    let url = Url::parse(&candidate)
        .map_err(|e| format!("`{shown}` is not a valid URL ({e}); expected {EXAMPLES}"))?;
    if url.fragment().is_some() {
        return Err(format!(
            "`{shown}` has a fragment (`#...`); redirect URLs must not have one (RFC 6749 section 3.1.2), remove it"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "`{shown}` has no host after `://`; expected {EXAMPLES}"
        ));
    }
    if scheme == "http" && !is_loopback(&url) {
        return Err(format!(
            "`{shown}` uses plain http; Kinde allows http only for localhost, 127.0.0.0/8 and [::1], use https"
        ));
    }
    Ok(())
}

/// The error for a URL with no `://`: a host with the scheme left out (`localhost:3000/cb`
/// parses as scheme `localhost`), a path, or a `scheme:/path` form Kinde does not document.
fn without_authority(input: &str, shown: &str, scheme: Option<&str>) -> String {
    match scheme {
        Some(host)
            if host == "localhost"
                || input[host.len() + 1..].starts_with(|c: char| c.is_ascii_digit()) =>
        {
            let fix = if host == "localhost" || host.starts_with("127.") {
                "http"
            } else {
                "https"
            };
            format!("`{shown}` has no scheme; did you mean {fix}://{input}?")
        }
        _ => format!(
            "`{shown}` is not an absolute URL with an authority (`scheme://host/...`); expected {EXAMPLES}"
        ),
    }
}

/// The scheme of `input` in lower case, if it starts with one (RFC 3986: a letter, then letters,
/// digits, `+`, `-` or `.`, then `:`).
fn leading_scheme(input: &str) -> Option<String> {
    let (scheme, _) = input.split_once(':')?;
    let valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| scheme.to_ascii_lowercase())
}

fn refused_scheme(shown: &str, scheme: &str) -> String {
    format!(
        "`{shown}` uses the `{scheme}:` scheme, which can never be a callback or logout URL; expected {EXAMPLES}"
    )
}

fn wildcard_error(shown: &str) -> String {
    format!(
        "`{shown}`: Kinde allows one `*`, in the leftmost label of an https host below a domain (e.g. https://*.acme.com/callback or https://pr-*.acme.com/callback); not in the path, not `*.com`"
    )
}

/// `input` with its one `*` replaced so the rest can be parsed, after checking the `*` sits
/// where Kinde allows it: in the first label of an `https` host with at least two labels after it.
fn wildcard_stand_in(
    shown: &str,
    scheme: &str,
    rest: &str,
    authority: &str,
) -> Result<String, String> {
    if scheme != "https" {
        return Err(format!(
            "`{shown}`: wildcard URLs must use https (Kinde allows http only for loopback hosts, and a wildcard host is never one)"
        ));
    }
    let (first, below) = authority.split_once('.').unwrap_or((authority, ""));
    let domain = below.split(':').next().unwrap_or_default();
    if !first.contains('*') || !domain.contains('.') {
        return Err(wildcard_error(shown));
    }
    let label = first.replace('*', "wildcard");
    Ok(format!("{scheme}://{label}.{}", &rest[first.len() + 1..]))
}

/// `input` with any `user:password@` replaced by `***@`, so errors never echo a password.
fn redact_userinfo(input: &str) -> String {
    let Some((scheme, rest)) = input.split_once("://") else {
        return input.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => input.to_string(),
    }
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
    fn redirect_urls_kinde_accepts() {
        for url in [
            "https://app.acme.com/cb",
            "https://app.acme.com/api/auth/kinde_callback?x=1",
            "HTTPS://APP.ACME.COM/cb",
            "http://localhost:3000/api/auth/kinde_callback",
            "http://LOCALHOST/cb",
            "http://127.0.0.1:53180/callback",
            "http://127.9.9.9/cb",
            "http://[::1]:8080/cb",
            "https://*.acme.com/cb",
            "https://pr-*-web.acme.com/cb",
            "https://*.acme.com:8443/cb",
            // Native apps, as Kinde's iOS and Android docs show them.
            "myapp://callback",
            "com.example.App://kinde_callback",
            "myapp://myhost.kinde.com//kinde_callback",
        ] {
            assert_eq!(check_redirect_url(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn redirect_urls_kinde_refuses_name_the_url_and_the_rule() {
        for (url, rule) in [
            ("javascript:alert(1)", "`javascript:` scheme"),
            ("JavaScript://%0aalert(1)", "`javascript:` scheme"),
            ("vbscript:msgbox(1)", "`vbscript:` scheme"),
            ("data:text/html,<script>x</script>", "`data:` scheme"),
            ("file:///etc/passwd", "`file:` scheme"),
            ("about:blank", "`about:` scheme"),
            ("blob:https://app.acme.com/x", "`blob:` scheme"),
            ("ws://evil.example/cb", "`ws:` scheme"),
            ("ftp://evil.example/cb", "`ftp:` scheme"),
            ("ms-msdt://x", "`ms-msdt:` scheme"),
            ("x-javascript://a", "`x-javascript:` scheme"),
            ("android-app://com.evil/x", "`android-app:` scheme"),
            ("localhost:3000/cb", "did you mean http://localhost:3000/cb"),
            (
                "app.acme.com:443/cb",
                "did you mean https://app.acme.com:443/cb",
            ),
            (
                "com.acme.app:/callback",
                "not an absolute URL with an authority",
            ),
            ("mailto:a@acme.com", "`mailto:` scheme"),
            ("/callback", "not an absolute URL"),
            ("app.acme.com/callback", "not an absolute URL"),
            ("", "empty"),
            ("://x", "no valid scheme"),
            ("1app://x", "no valid scheme"),
            ("myapp:///path", "no host"),
            ("https:///cb", "no host"),
            ("http://app.acme.com/cb", "plain http"),
            ("http://10.0.0.1/cb", "plain http"),
            ("http://localhost.evil.com/cb", "plain http"),
            ("https://app.acme.com/cb#frag", "fragment"),
            ("https://app.acme.com/cb#", "fragment"),
            ("myapp://callback#x", "fragment"),
            ("https://user@app.acme.com/cb", "credentials"),
            ("http://localhost@evil.com/cb", "credentials"),
            (" https://app.acme.com/cb", "spaces"),
            ("https://app.acme.com/cb ", "spaces"),
            ("https://app.acme.com/c\tb", "spaces"),
            ("https://app.*.acme.com/cb", "one `*`"),
            ("https://*.*.acme.com/cb", "one `*`"),
            ("https://acme.com/*", "one `*`"),
            ("https://*.com/cb", "one `*`"),
            ("https://*/cb", "one `*`"),
            ("http://*.acme.com/cb", "must use https"),
            ("http://*.localhost/cb", "must use https"),
            ("myapp://*.callback", "must use https"),
            ("https://exa mple.com/cb", "spaces"),
            ("https://exa%mple.com/cb", "not a valid URL"),
        ] {
            let refused = check_redirect_url(url).expect_err(url);
            assert!(refused.contains(rule), "{url}: {refused}");
            if !url.is_empty() && !url.contains('@') {
                assert!(refused.contains(url.trim()), "names the URL: {refused}");
            }
        }
    }

    #[test]
    fn redirect_url_errors_never_echo_a_password() {
        let refused = check_redirect_url("https://user:hunter2@app.acme.com/cb").unwrap_err();
        assert!(refused.contains("credentials"), "{refused}");
        assert!(refused.contains("https://***@app.acme.com/cb"), "{refused}");
        assert!(!refused.contains("hunter2"), "{refused}");
    }
}
