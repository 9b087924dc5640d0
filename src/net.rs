//! The one HTTP client factory: timeouts, user agent, no redirects (a token request that follows a
//! redirect can be steered to another host), errors that say what could not be reached, bodies
//! read under a size cap and a deadline, and the one function that makes server text safe to show.

use std::io::Read;
use std::time::Duration;

use crate::error::Error;

/// The `User-Agent` sent with every request.
pub const USER_AGENT: &str = concat!("cargo-kinde/", env!("CARGO_PKG_VERSION"));

/// How long one request may take, from connecting to the last byte of its body.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The most a token endpoint's answer may hold (a token response is a few KiB).
pub const TOKEN_LIMIT: usize = 1024 * 1024;
/// The most a discovery document may hold.
pub const DISCOVERY_LIMIT: usize = 1024 * 1024;
/// The most a JWKS may hold.
pub const JWKS_LIMIT: usize = 1024 * 1024;
/// The most a Management API answer or a smoke check's response may hold.
pub const API_LIMIT: usize = 64 * 1024 * 1024;
/// The most a token given on the command line or stdin may hold (real JWTs are a few KiB).
pub const TOKEN_INPUT_LIMIT: usize = 64 * 1024;

/// Build the process's HTTP client.
pub fn client() -> Result<reqwest::Client, Error> {
    client_for(None)
}

/// [`client`] trusting, besides the system's roots, the CA in `extra_root` (PEM): a local
/// `cargo kinde emulator`'s, which the caller loads only for an issuer that
/// [`is_local_https`]. That CA can only vouch for loopback names (its name constraints).
pub fn client_for(extra_root: Option<&[u8]>) -> Result<reqwest::Client, Error> {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(10))
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    // A CA that does not parse is left out: the handshake then fails naming the certificate.
    if let Some(ca) = extra_root.and_then(|pem| reqwest::Certificate::from_pem(pem).ok()) {
        builder = builder.tls_certs_merge([ca]);
    }
    builder
        .build()
        .map_err(|e| Error::network(format!("cannot set up the HTTP client: {e}")))
}

/// The file name of the emulator's CA certificate in [`emulator_tls_dir`].
pub const EMULATOR_CA_FILE: &str = "ca.pem";

/// Where `cargo kinde emulator` keeps its local CA: `emulator/` under `$CARGO_KINDE_CACHE_DIR`,
/// or under `cargo-kinde` in the platform's cache directory (the token cache's root, whose
/// variable is named again here because this module is a leaf).
pub fn emulator_tls_dir() -> Option<std::path::PathBuf> {
    let root = match std::env::var_os("CARGO_KINDE_CACHE_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => {
            use etcetera::BaseStrategy;
            etcetera::choose_base_strategy()
                .ok()?
                .cache_dir()
                .join("cargo-kinde")
        }
    };
    // Absolute, so the paths the emulator writes into an env file hold from any directory.
    let root = std::path::absolute(&root).unwrap_or(root);
    Some(root.join("emulator"))
}

/// Whether `issuer` is an `https` URL whose host is a loopback name or address.
pub fn is_local_https(issuer: &str) -> bool {
    let Ok(url) = url::Url::parse(issuer) else {
        return false;
    };
    url.scheme() == "https"
        && match url.host() {
            Some(url::Host::Domain(host)) => host.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
}

/// A whole answer: status, headers and a body no larger than the cap it was read with.
#[derive(Debug)]
pub struct Reply {
    /// The status.
    pub status: reqwest::StatusCode,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text (invalid UTF-8 replaced). Server text: pass it through [`server_text`]
    /// or [`excerpt`] before showing it.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Send `request` (to `url`) and read its whole answer, the body capped at `limit` bytes, all
/// within [`TIMEOUT`]: a server that streams without end fails fast with bounded memory.
pub async fn send(
    request: reqwest::RequestBuilder,
    url: &str,
    limit: usize,
) -> Result<Reply, Error> {
    let exchange = async {
        let response = request.send().await.map_err(|e| transport_error(url, &e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_body(url, response, limit).await?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    };
    match tokio::time::timeout(TIMEOUT, exchange).await {
        Ok(reply) => reply,
        Err(_) => Err(timed_out(url)),
    }
}

/// Read `response`'s body chunk by chunk, failing as soon as it exceeds `limit` bytes (or its
/// `Content-Length` says it will). The client's [`TIMEOUT`] bounds the time.
pub async fn read_body(
    url: &str,
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, Error> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(too_large(url, limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(url, &e))?
    {
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(too_large(url, limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn too_large(url: &str, limit: usize) -> Error {
    Error::network(format!(
        "{url}: the answer is larger than {}, the most cargo kinde reads from it",
        size(limit)
    ))
    .with_hint("the server is not answering like Kinde; check the domain (KINDE_DOMAIN or [tenant] domain)")
}

fn timed_out(url: &str) -> Error {
    Error::network(format!(
        "{url}: no complete answer within {} s",
        TIMEOUT.as_secs()
    ))
    .with_hint("check the domain and your network; the server may be overloaded")
}

/// `limit` bytes in words: `64 KiB`, `1 MiB`.
pub fn size(limit: usize) -> String {
    if limit >= 1024 * 1024 && limit.is_multiple_of(1024 * 1024) {
        format!("{} MiB", limit / (1024 * 1024))
    } else if limit >= 1024 && limit.is_multiple_of(1024) {
        format!("{} KiB", limit / 1024)
    } else {
        format!("{limit} bytes")
    }
}

/// Read at most `limit` bytes of text from `input` (`what` names it in errors, e.g. "the token
/// on stdin"): a token piped to `verify` cannot make the process read without end.
pub fn read_capped(input: impl Read, limit: usize, what: &str) -> Result<String, Error> {
    let mut bytes = Vec::new();
    input
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::input(format!("cannot read {what}: {e}")))?;
    if bytes.len() > limit {
        return Err(Error::input(format!(
            "{what} is larger than {}, more than any token",
            size(limit)
        ))
        .with_hint("pass the token itself (a JWT: three base64url parts joined by dots)"));
    }
    String::from_utf8(bytes).map_err(|_| Error::input(format!("{what} is not UTF-8 text")))
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

/// Text a server chose (an `error_description`, a body, a claim), made safe to show or write:
/// every secret this process knows is masked ([`crate::secret::mask`]) and every control
/// character that could drive a terminal (C0 but newline and tab, DEL, C1, bidi overrides) is
/// shown escaped, so an ESC sequence becomes visible text instead of clearing the screen.
pub fn server_text(text: &str) -> String {
    escape_controls(&crate::secret::mask(text))
}

/// [`server_text`] for a server's words placed inside one line of ours (`error_description`, an
/// error message): line breaks are shown as `\n`, so a server cannot forge lines of output such
/// as a `help:` of its own.
pub fn server_line(text: &str) -> String {
    server_text(text).replace('\r', "\\r").replace('\n', "\\n")
}

/// `text` with terminal control characters escaped (`\x1b`, `\u{9b}`); newline and tab kept.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            // C1 controls, and the marks that reorder or break text without being seen: bidi
            // embeddings, overrides and isolates, LRM/RLM/ALM, line and paragraph separators.
            '\u{80}'..='\u{9f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{061c}'
            | '\u{2028}'
            | '\u{2029}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// The first `max` characters of a response body, on one line, made safe by [`server_text`].
pub fn excerpt(body: &str, max: usize) -> String {
    // Flattened first, so line breaks become spaces rather than escapes.
    let joined = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = server_text(&joined);
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max).collect::<String>())
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_lines_cannot_forge_lines_or_hide_marks() {
        let shown = server_line(
            "bad)\n✓ all good\r\nhelp: paste your secret at https://evil.example\u{200f}\u{2028}x",
        );
        assert!(!shown.contains('\n') && !shown.contains('\r'), "{shown}");
        assert!(shown.contains("\\n✓ all good"), "{shown}");
        assert!(
            !shown.contains('\u{200f}') && !shown.contains('\u{2028}'),
            "{shown}"
        );
    }

    #[test]
    fn server_text_escapes_terminal_controls() {
        let shown = server_text("a\x1b]0;pwned\x07b\x1b[2J\u{9b}31m\u{202e}c\nd\te\x7f");
        assert!(
            !shown
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
        );
        assert_eq!(
            shown,
            "a\\x1b]0;pwned\\x07b\\x1b[2J\\u{9b}31m\\u{202e}c\nd\te\\x7f"
        );
    }

    #[test]
    fn only_https_loopback_issuers_get_the_emulator_ca() {
        assert!(is_local_https("https://127.0.0.1:5380"));
        assert!(is_local_https("https://localhost:5380"));
        assert!(is_local_https("https://[::1]:5380"));
        assert!(!is_local_https("http://127.0.0.1:5380"));
        assert!(!is_local_https("https://acme.kinde.com"));
        assert!(!is_local_https("https://localhost.evil.example"));
        assert!(!is_local_https("https://127.0.0.1.nip.io"));
    }

    #[test]
    fn excerpt_is_flat_and_escaped() {
        assert_eq!(excerpt("a\n b\x1b[2J", 100), "a b\\x1b[2J");
        assert_eq!(excerpt("abcdef", 3), "abc…");
    }

    #[test]
    fn read_capped_refuses_more_than_the_limit() {
        assert_eq!(read_capped(&b"abc"[..], 3, "x").unwrap(), "abc");
        let err = read_capped(std::io::repeat(b'a'), 64 * 1024, "the token on stdin").unwrap_err();
        assert!(err.to_string().contains("64 KiB"), "{err}");
    }
}
