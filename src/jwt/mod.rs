//! JWTs: decoding without trust, JWKS, and verification with a verdict per check.

pub mod jwks;
pub mod verify;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// A JWT split and decoded, not yet trusted.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
    /// `header.payload`: the bytes the signature covers.
    pub signing_input: String,
    /// The signature, base64url as in the token.
    pub signature: String,
}

/// Split a compact JWT and decode its header and claims. Nothing is verified.
pub fn decode(token: &str) -> Result<Decoded, String> {
    let token = token.trim();
    let token = token.strip_prefix("Bearer ").unwrap_or(token).trim();
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(format!(
            "a JWT has three base64url parts separated by dots; this has {}",
            parts.len()
        ));
    }
    let header = decode_part(parts[0], "header")?;
    let claims = decode_part(parts[1], "payload")?;
    if parts[2].is_empty() {
        return Err("the signature part is empty (an unsigned token)".into());
    }
    Ok(Decoded {
        header,
        claims,
        signing_input: format!("{}.{}", parts[0], parts[1]),
        signature: parts[2].to_string(),
    })
}

fn decode_part(part: &str, name: &str) -> Result<Map<String, Value>, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| format!("the {name} is not base64url ({e})"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!("the {name} is JSON but not an object")),
        Err(e) => Err(format!("the {name} is not JSON ({e})")),
    }
}

/// Encode a JWT from its header and claims with a signature over `header.payload` made by `sign`.
pub fn encode(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let header = URL_SAFE_NO_PAD.encode(header.to_string());
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{claims}");
    let signature = URL_SAFE_NO_PAD.encode(sign(input.as_bytes()));
    format!("{input}.{signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_rejects_malformed_tokens() {
        let token = encode(
            &serde_json::json!({"alg":"RS256"}),
            &serde_json::json!({"a":1}),
            |_| vec![1, 2],
        );
        let d = decode(&token).unwrap();
        assert_eq!(d.header["alg"], "RS256");
        assert_eq!(d.claims["a"], 1);
        assert!(decode(&format!("Bearer {token}")).is_ok());
        assert!(decode("abc").unwrap_err().contains("three"));
        assert!(
            decode("a.b.c").unwrap_err().contains("base64url")
                || decode("a.b.c").unwrap_err().contains("JSON")
        );
        assert!(decode("e30.e30.").unwrap_err().contains("unsigned"));
        assert!(decode("WzFd.e30.x").unwrap_err().contains("not an object"));
        assert!(decode("").is_err());
        assert!(decode("..").is_err());
    }
}
