//! Opening a URL in the user's browser, when there is a graphical session to open it in.

use url::{Host, Url};

use crate::error::Error;

/// Open `url` in the default browser. `Ok(false)` when there is no graphical session (SSH, no
/// display) or the opener failed, so the caller prints the URL instead. Only an `https` URL or an
/// `http` URL on this machine is ever handed to the system (see [`openable`]); anything else is
/// an error, since the URL may come from a server (a discovery document).
pub fn open(url: &str) -> Result<bool, Error> {
    let url = openable(url).map_err(|why| {
        Error::input(format!("refusing to open {url:?} in a browser: {why}"))
            .with_hint("check the domain: Kinde's sign-in and logout pages are https URLs on it")
    })?;
    let graphical = cfg!(target_os = "macos")
        || cfg!(windows)
        || std::env::var_os("DISPLAY").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if !graphical || std::env::var_os("SSH_CONNECTION").is_some() {
        return Ok(false);
    }
    // `open` passes the URL as one argument (never through `cmd /C start`, whose `&` would cut
    // the URL and run the rest), and does not wait for the browser.
    Ok(open::that_detached(url.as_str()).is_ok())
}

/// The rule for URLs handed to the system's opener: `https`, or `http` to a loopback host
/// (127.0.0.0/8, `::1`, `localhost`: the emulator). Returns the URL as parsed and re-serialised,
/// so what is opened is exactly what was checked.
pub fn openable(url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("it is not an absolute URL ({e})"))?;
    let loopback = match parsed.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(parsed),
        "http" if loopback => Ok(parsed),
        "http" => Err("plain http is opened only for 127.0.0.1 / localhost".into()),
        other => Err(format!(
            "only https (or http on 127.0.0.1 / localhost) is opened, not `{other}:`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_https_and_loopback_http() {
        for ok in [
            "https://acme.kinde.com/oauth2/auth?a=1&b=2",
            "http://127.0.0.1:8080/oauth2/auth?x=1&y=2",
            "http://127.8.0.1/",
            "http://localhost:3000/logout",
            "http://[::1]:9000/x",
        ] {
            let url = openable(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(url.as_str().contains('&') || !ok.contains('&'), "{url}");
        }
        for bad in [
            "http://acme.kinde.com/oauth2/auth",
            "http://127.0.0.1.evil.example/",
            "http://localhost.evil.example/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "calc.exe",
            "\\\\server\\share",
            "ms-settings:",
            "https://",
            "",
        ] {
            assert!(openable(bad).is_err(), "{bad} must be refused");
        }
        // A URL with shell metacharacters is opened whole, as one argument.
        let url = openable("https://acme.kinde.com/a?x=1&calc.exe|y=\"2\"").unwrap();
        assert_eq!(url.host_str(), Some("acme.kinde.com"));
        assert!(url.as_str().contains("&calc.exe|y=%222%22"), "{url}");
    }
}
