//! The client of the emulator's `POST /_emulator/mint` (`token --as`, `smoke --openapi`): a
//! token made to order, which only the cargo-kinde emulator signs. Anything but the emulator's
//! own answers (a token, or Kinde's error body) means the issuer is not the emulator.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;
use crate::urls::Issuer;

/// What the emulator answers.
#[derive(Debug, Deserialize)]
pub struct Minted {
    /// The token (registered as a secret, so reports mask it).
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds until `exp`.
    pub expires_in: u64,
    /// For a forged token, the status a service must answer it with.
    pub expected_status: Option<u16>,
}

/// Why nothing was minted.
#[derive(Debug)]
pub enum MintError {
    /// The issuer is not the emulator: why (e.g. "is a Kinde tenant").
    NotEmulator(String),
    /// The emulator refused the request: its message.
    Refused(String),
    /// The request or the emulator failed.
    Failed(Error),
}

/// Whether `issuer` is a Kinde tenant's own domain (`*.kinde.com`), which is never asked.
pub fn is_kinde_domain(issuer: &Issuer) -> bool {
    let host = issuer.host().trim_end_matches('.');
    host == "kinde.com" || host.ends_with(".kinde.com")
}

/// `POST /_emulator/mint` with `request`.
pub async fn mint(
    http: &reqwest::Client,
    issuer: &Issuer,
    request: &impl Serialize,
) -> Result<Minted, MintError> {
    if is_kinde_domain(issuer) {
        return Err(MintError::NotEmulator("is a Kinde tenant".into()));
    }
    let url = issuer.endpoint("/_emulator/mint");
    crate::ui::debug(&format!("POST {url}"));
    let reply = crate::net::send(http.post(&url).json(request), &url, crate::net::TOKEN_LIMIT)
        .await
        .map_err(MintError::Failed)?;
    let body: Option<Value> = serde_json::from_slice(&reply.body).ok();
    let message = body
        .as_ref()
        .and_then(|b| b.pointer("/errors/0/message"))
        .and_then(Value::as_str)
        .map(crate::net::server_line);
    let minted = body.and_then(|b| serde_json::from_value::<Minted>(b).ok());
    match (minted, message) {
        (Some(minted), _) if reply.status.is_success() => {
            crate::secret::register(&minted.access_token);
            Ok(minted)
        }
        (_, Some(message)) if reply.status.as_u16() == 400 => Err(MintError::Refused(message)),
        (_, Some(message)) if reply.status.is_server_error() => Err(MintError::Failed(
            Error::network(format!("the emulator could not mint a token: {message}")),
        )),
        _ => Err(MintError::NotEmulator(format!(
            "is not the cargo-kinde emulator (it answered {} to POST /_emulator/mint)",
            reply.status
        ))),
    }
}
