//! Kinde's rules for callback and logout URLs, as the emulator enforces them: what the
//! Management API accepts when URLs are added, and which `redirect_uri` a sign-in may return to.
//!
//! The client has its own copy of these rules (`crate::urls`) to fail early; this one is written
//! separately on purpose, from Kinde's docs, so a mistake in the client's cannot pass its tests.

use url::{Host, Url};

/// Schemes Kinde's API must never store as a place to send a signed-in user: they run script
/// in the page, read local files or never leave the browser.
const HOSTILE_SCHEMES: [&str; 6] = ["javascript", "vbscript", "data", "file", "about", "blob"];

/// Why Kinde refuses `input` as a callback or logout URL, or `Ok` when it accepts it.
///
/// Kinde accepts absolute `scheme://authority` URLs: `https`; `http` only when the host is
/// `localhost` or a loopback address; or an app's own scheme, as its iOS and Android guides show
/// (`<your_url_scheme>://kinde_callback`, `myapp://myhost.kinde.com//kinde_callback`). Never
/// credentials in the authority, a fragment, or a scheme that runs script or reads files.
/// Wildcards, per Kinde's callback URL guide: one `*`, in the leftmost label of an `https` host
/// (alone or with a prefix / suffix, `https://pr-*.acme.com`), not on a root domain (`*.com`).
pub(super) fn check(input: &str) -> Result<(), String> {
    if input
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(format!("`{input}` contains whitespace"));
    }
    // What precedes the first `:` names the scheme, whatever follows (`blob:https://...`).
    if let Some((head, _)) = input.split_once(':')
        && HOSTILE_SCHEMES
            .iter()
            .any(|hostile| head.eq_ignore_ascii_case(hostile))
    {
        return Err(format!(
            "`{input}`: the `{}` scheme is not allowed for a callback or logout URL",
            head.to_ascii_lowercase()
        ));
    }
    let Some((scheme, rest)) = input.split_once("://") else {
        return Err(format!(
            "`{input}` is not an absolute URL; expected e.g. https://app.acme.com/api/auth/kinde_callback"
        ));
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return Err(format!("`{input}` has no valid scheme"));
    }
    let scheme = scheme.to_ascii_lowercase();
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if authority.is_empty() {
        return Err(format!("`{input}` has no host"));
    }
    if authority.contains('@') {
        return Err(format!("`{input}` must not contain user credentials"));
    }
    let stars = input.chars().filter(|c| *c == '*').count();
    let parse_as = match stars {
        0 => input.to_string(),
        1 if authority.split('.').next().is_some_and(|l| l.contains('*')) => {
            if scheme != "https" {
                return Err(format!("`{input}`: a wildcard URL must use https"));
            }
            let host = authority.split(':').next().unwrap_or(authority);
            // `*.com` or `*.localhost`: the wildcard needs a registrable domain below it.
            if host.split('.').count() < 3 {
                return Err(format!(
                    "`{input}`: a wildcard is not allowed directly on a root domain"
                ));
            }
            // A `*` is no host character: stand a letter in for it to check the rest.
            input.replacen('*', "w", 1)
        }
        _ => {
            return Err(format!(
                "`{input}`: Kinde allows one `*`, in the leftmost label of the host, e.g. https://*.acme.com/callback"
            ));
        }
    };
    let url = Url::parse(&parse_as).map_err(|e| format!("`{input}` is not a valid URL ({e})"))?;
    if url.fragment().is_some() {
        return Err(format!("`{input}` must not contain a fragment"));
    }
    match scheme.as_str() {
        "https" if url.host().is_none() => Err(format!("`{input}` has no host")),
        "http" if !loopback(url.host()) => Err(format!(
            "`{input}` uses plain http; Kinde allows http only for localhost and loopback addresses such as 127.0.0.1"
        )),
        _ => Ok(()),
    }
}

fn loopback(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether `uri` is one of `allowed`: the same string, or a match of a wildcard entry, where
/// the `*` (with the entry's prefix and suffix around it) stands for the characters of exactly
/// one non-empty label.
pub(super) fn allowed(allowed: &[String], uri: &str) -> bool {
    allowed
        .iter()
        .any(|entry| entry == uri || wildcard_match(entry, uri))
}

fn wildcard_match(entry: &str, uri: &str) -> bool {
    let (Some((scheme, entry_rest)), Some((uri_scheme, uri_rest))) =
        (entry.split_once("://"), uri.split_once("://"))
    else {
        return false;
    };
    let (Some((pattern, entry_tail)), Some((label, uri_tail))) =
        (entry_rest.split_once('.'), uri_rest.split_once('.'))
    else {
        return false;
    };
    let Some((prefix, suffix)) = pattern.split_once('*') else {
        return false;
    };
    scheme == uri_scheme
        && entry_tail == uri_tail
        && label.len() > prefix.len() + suffix.len()
        && label.starts_with(prefix)
        && label.ends_with(suffix)
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_kinde_accepts() {
        for url in [
            "https://app.acme.com/api/auth/kinde_callback",
            "https://app.acme.com/cb?from=kinde",
            "https://*.acme.com/callback",
            "https://pr-*-web.acme.com/callback",
            "https://*something.vercel.app/callback",
            "http://localhost:3000/callback",
            "http://127.0.0.1:53180/callback",
            "http://127.1.2.3/callback",
            "http://[::1]:8080/cb",
            "HTTP://LOCALHOST/cb",
            "myapp://callback",
            "com.example.App://kinde_callback",
            "myapp://myhost.kinde.com//kinde_callback",
        ] {
            assert_eq!(check(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn refuses_what_kinde_refuses() {
        for (url, why) in [
            ("javascript:alert(1)", "`javascript` scheme"),
            ("JAVASCRIPT://%0Aalert(1)", "`javascript` scheme"),
            ("vbscript:msgbox", "`vbscript` scheme"),
            ("data:text/html;base64,PHNjcmlwdD4=", "`data` scheme"),
            ("file:///etc/passwd", "`file` scheme"),
            ("about:blank", "`about` scheme"),
            ("blob:https://app.acme.com/1", "`blob` scheme"),
            ("https://user:pw@app.acme.com/cb", "credentials"),
            ("http://localhost@evil.example/cb", "credentials"),
            ("localhost:3000/cb", "not an absolute URL"),
            ("com.acme.app:/callback", "not an absolute URL"),
            ("https://app.acme.com/cb#top", "fragment"),
            ("myapp://cb#x", "fragment"),
            ("myapp:///cb", "no host"),
            ("https:///cb", "no host"),
            ("http://app.acme.com/callback", "plain http"),
            ("http://10.0.0.1/callback", "plain http"),
            ("/callback", "not an absolute URL"),
            ("app.acme.com/callback", "not an absolute URL"),
            ("://x", "no valid scheme"),
            (" https://app.acme.com/cb", "whitespace"),
            ("https://app.*.acme.com/cb", "one `*`"),
            ("https://*.*.acme.com/cb", "one `*`"),
            ("https://acme.com/*", "one `*`"),
            ("https://*.com/cb", "root domain"),
            ("http://*.localhost/cb", "must use https"),
            ("https://exa%mple.com/cb", "not a valid URL"),
        ] {
            let refused = check(url).expect_err(url);
            assert!(refused.contains(why), "{url}: {refused}");
        }
    }

    #[test]
    fn a_wildcard_matches_one_label() {
        let list = vec![
            "https://*.acme.com/cb".to_string(),
            "https://pr-*-web.acme.com/cb".to_string(),
            "http://localhost:3000/cb".to_string(),
        ];
        assert!(allowed(&list, "https://eu.acme.com/cb"));
        assert!(allowed(&list, "https://pr-12-web.acme.com/cb"));
        assert!(allowed(&list, "http://localhost:3000/cb"));
        assert!(!allowed(&list, "https://a.b.acme.com/cb"));
        assert!(!allowed(&list, "https://.acme.com/cb"));
        assert!(!allowed(&list, "https://acme.com/cb"));
        assert!(!allowed(&list, "https://evil.com/x.acme.com/cb"));
        assert!(!allowed(&list, "https://a@acme.com/cb"));
        assert!(!allowed(&list, "http://eu.acme.com/cb"));
        assert!(!allowed(&list, "http://localhost:3000/cb/x"));
        let prefixed = ["https://pr-*-web.acme.com/cb".to_string()];
        assert!(!allowed(&prefixed, "https://pr--web.acme.com/cb"));
        assert!(!allowed(&prefixed, "https://eu.acme.com/cb"));
    }
}
