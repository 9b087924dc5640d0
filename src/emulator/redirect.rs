//! Kinde's rules for callback and logout URLs, as the emulator enforces them: what the
//! Management API accepts when URLs are added, and which `redirect_uri` a sign-in may return to.
//!
//! The client has its own copy of these rules (`crate::urls`) to fail early; this one is written
//! separately on purpose, from Kinde's docs, so a mistake in the client's cannot pass its tests.

use url::{Host, Url};

/// Why Kinde refuses `input` as a callback or logout URL, or `Ok` when it accepts it.
///
/// Kinde accepts absolute URLs with `https`, with `http` only when the host is `localhost` or a
/// loopback address, or with an app's own scheme (`myapp://callback`, for mobile apps). One `*`
/// is allowed, and only as the whole leftmost label of an `https` host.
pub(super) fn check(input: &str) -> Result<(), String> {
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
    let stars = input.chars().filter(|c| *c == '*').count();
    let parse_as = match stars {
        0 => input.to_string(),
        1 if rest.starts_with("*.") => {
            if scheme != "https" {
                return Err(format!("`{input}`: a wildcard URL must use https"));
            }
            // A `*` is no host character: stand a plain label in for it to check the rest.
            format!("{scheme}://wildcard.{}", &rest[2..])
        }
        _ => {
            return Err(format!(
                "`{input}`: Kinde allows one `*`, as the whole leftmost label of the host, e.g. https://*.acme.com/callback"
            ));
        }
    };
    let url = Url::parse(&parse_as).map_err(|e| format!("`{input}` is not a valid URL ({e})"))?;
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

/// Whether `uri` is one of `allowed`: the same string, or a match of a `https://*.rest` entry
/// where `*` stands for exactly one non-empty label.
pub(super) fn allowed(allowed: &[String], uri: &str) -> bool {
    allowed.iter().any(|entry| {
        if entry == uri {
            return true;
        }
        let (Some((scheme, tail)), Some((uri_scheme, uri_rest))) =
            (entry.split_once("://*."), uri.split_once("://"))
        else {
            return false;
        };
        scheme == uri_scheme
            && uri_rest
                .split_once('.')
                .is_some_and(|(label, uri_tail)| !label.is_empty() && uri_tail == tail)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_kinde_accepts() {
        for url in [
            "https://app.acme.com/api/auth/kinde_callback",
            "https://*.acme.com/callback",
            "http://localhost:3000/callback",
            "http://127.0.0.1:53180/callback",
            "http://[::1]:8080/cb",
            "HTTP://LOCALHOST/cb",
            "myapp://callback",
            "com.acme.app://auth",
        ] {
            assert_eq!(check(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn refuses_what_kinde_refuses() {
        for (url, why) in [
            ("http://app.acme.com/callback", "plain http"),
            ("http://10.0.0.1/callback", "plain http"),
            ("/callback", "not an absolute URL"),
            ("app.acme.com/callback", "not an absolute URL"),
            ("://x", "no valid scheme"),
            ("https://app.*.acme.com/cb", "one `*`"),
            ("https://*.*.acme.com/cb", "one `*`"),
            ("https://a*.acme.com/cb", "one `*`"),
            ("https://acme.com/*", "one `*`"),
            ("http://*.localhost/cb", "must use https"),
            ("https://exa mple.com/cb", "not a valid URL"),
        ] {
            let refused = check(url).expect_err(url);
            assert!(refused.contains(why), "{url}: {refused}");
        }
    }

    #[test]
    fn a_wildcard_matches_one_label() {
        let list = vec![
            "https://*.acme.com/cb".to_string(),
            "http://localhost:3000/cb".to_string(),
        ];
        assert!(allowed(&list, "https://eu.acme.com/cb"));
        assert!(allowed(&list, "http://localhost:3000/cb"));
        assert!(!allowed(&list, "https://a.b.acme.com/cb"));
        assert!(!allowed(&list, "https://.acme.com/cb"));
        assert!(!allowed(&list, "https://acme.com/cb"));
        assert!(!allowed(&list, "http://eu.acme.com/cb"));
        assert!(!allowed(&list, "http://localhost:3000/cb/x"));
    }
}
