//! The one HTTP client factory: timeouts, user agent, no redirects (a token request that follows a
//! redirect can be steered to another host), and errors that say what could not be reached.

use std::time::Duration;

use crate::error::Error;

/// The `User-Agent` sent with every request.
pub const USER_AGENT: &str = concat!("cargo-kinde/", env!("CARGO_PKG_VERSION"));

/// Build the process's HTTP client.
pub fn client() -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::network(format!("cannot set up the HTTP client: {e}")))
}

/// Map a transport error (no HTTP status) for a request to `url` to an error that says what
/// failed. The URL never carries a secret: credentials travel in bodies and headers.
pub fn transport_error(url: &str, err: &reqwest::Error) -> Error {
    let what = if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        let mut cause = String::from("could not connect");
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
        while let Some(s) = source {
            cause = format!("could not connect ({s})");
            source = s.source();
        }
        cause
    } else if err.is_decode() || err.is_body() {
        "the response could not be read".to_string()
    } else {
        "the request failed".to_string()
    };
    Error::network(format!("{url}: {what}"))
        .with_hint("check the domain (KINDE_DOMAIN or [tenant] domain) and your network; `cargo kinde config` shows what is used")
}

/// The first `max` characters of a response body, on one line, for error messages.
pub fn excerpt(body: &str, max: usize) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max).collect::<String>())
    } else {
        flat
    }
}
