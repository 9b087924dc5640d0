//! The emulator's own compact JWS (RFC 7515) with RS256: it signs the tokens it issues, checks
//! that a presented token is one of its own, and reads the claims it put there.
//!
//! Written here rather than borrowed from the client's `jwt` module: the emulator is the oracle
//! the client is tested against, so a client bug in token handling must not hide in both.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::keys::SigningKey;

/// The JOSE header of every token the emulator signs.
#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// The header fields read from a presented token.
#[derive(Deserialize)]
struct PresentedHeader {
    alg: Option<String>,
    kid: Option<String>,
}

/// `header.claims.signature`, signed by `key`.
pub(super) fn encode<T: Serialize + ?Sized>(key: &SigningKey, claims: &T) -> String {
    let header = Header {
        alg: "RS256",
        typ: "JWT",
        kid: key.kid(),
    };
    // Serialising plain structs and JSON values cannot fail.
    let header = serde_json::to_vec(&header).unwrap_or_default();
    let claims = serde_json::to_vec(claims).unwrap_or_default();
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()));
    format!("{input}.{signature}")
}

const MALFORMED: &str = "The access token is malformed";

/// The claims of `token` when one of `keys` signed it with RS256; otherwise why not, in words
/// fit for an error body.
pub(super) fn verify(token: &str, keys: &[SigningKey]) -> Result<Claims, &'static str> {
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(header_part), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(MALFORMED);
    };
    let header: PresentedHeader = decode_json(header_part).ok_or(MALFORMED)?;
    let claims: Map<String, Value> = decode_json(payload).ok_or(MALFORMED)?;
    if signature.is_empty() {
        return Err(MALFORMED);
    }
    if header.alg.as_deref() != Some("RS256") {
        return Err("The access token is not signed with RS256");
    }
    let kid = header.kid.ok_or("The access token has no key id")?;
    let key = keys
        .iter()
        .find(|k| k.kid() == kid)
        .ok_or("The access token was signed by an unknown key")?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature.trim_end_matches('='))
        .map_err(|_| "The access token signature is malformed")?;
    let signed = format!("{header_part}.{payload}");
    if !key.verify(signed.as_bytes(), &signature) {
        return Err("The access token signature is invalid");
    }
    Ok(Claims(claims))
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The claims of a token the emulator signed.
#[derive(Debug, Clone)]
pub struct Claims(Map<String, Value>);

impl Claims {
    /// `iss`.
    pub fn issuer(&self) -> Option<&str> {
        self.0.get("iss").and_then(Value::as_str)
    }

    /// `sub`.
    pub fn subject(&self) -> Option<&str> {
        self.0.get("sub").and_then(Value::as_str)
    }

    /// `jti`, the token's id.
    pub fn jti(&self) -> Option<&str> {
        self.0.get("jti").and_then(Value::as_str)
    }

    /// `exp`, seconds since the epoch.
    pub fn expiry(&self) -> Option<u64> {
        self.0.get("exp").and_then(Value::as_u64)
    }

    /// `iat`, seconds since the epoch.
    pub fn issued_at(&self) -> Option<u64> {
        self.0.get("iat").and_then(Value::as_u64)
    }

    /// `org_code`: the organization a user's token was issued for.
    pub fn org_code(&self) -> Option<&str> {
        self.0.get("org_code").and_then(Value::as_str)
    }

    /// `azp`, the client the token was issued to.
    pub fn authorized_party(&self) -> Option<&Value> {
        self.0.get("azp")
    }

    /// Whether `exp` is a number after `now` (a token without `exp` never counts as live).
    pub fn live_at(&self, now: u64) -> bool {
        self.0
            .get("exp")
            .and_then(Value::as_u64)
            .is_some_and(|exp| exp > now)
    }

    /// `gty`: the grants the token came from (Kinde's M2M tokens: `["client_credentials"]`).
    pub fn grant_types(&self) -> Vec<&str> {
        match self.0.get("gty") {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// `aud`: one string or an array of them (RFC 7519 §4.1.3 allows both).
    pub fn audiences(&self) -> Vec<&str> {
        match self.0.get("aud") {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// The granted scopes: Kinde puts them in `scp` (an array) and, for M2M tokens, also in
    /// `scope` (space-separated); either grants.
    pub fn scopes(&self) -> Vec<&str> {
        let mut scopes: Vec<&str> = match self.0.get("scp") {
            Some(Value::Array(scp)) => scp.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if let Some(Value::String(scope)) = self.0.get("scope") {
            scopes.extend(scope.split_whitespace());
        }
        scopes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn verifies_its_own_tokens_only() {
        let key = SigningKey::generate().unwrap();
        let other = SigningKey::generate().unwrap();
        let token = encode(
            &key,
            &json!({"iss": "i", "aud": "a", "scope": "x y", "scp": ["z"], "exp": 10}),
        );
        let claims = verify(&token, std::slice::from_ref(&key)).unwrap();
        assert_eq!(claims.issuer(), Some("i"));
        assert_eq!(claims.audiences(), ["a"]);
        assert_eq!(claims.scopes(), ["z", "x", "y"]);
        assert!(claims.live_at(9) && !claims.live_at(10));
        assert_eq!(
            verify(&token, std::slice::from_ref(&other)).unwrap_err(),
            "The access token was signed by an unknown key"
        );
        let (input, _) = token.rsplit_once('.').unwrap();
        let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode([0u8; 256]));
        assert_eq!(
            verify(&forged, std::slice::from_ref(&key)).unwrap_err(),
            "The access token signature is invalid"
        );
        assert_eq!(verify("a.b", &[key]).unwrap_err(), MALFORMED);
    }
}
