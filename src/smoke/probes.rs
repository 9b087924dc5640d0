//! API protection probes: bad tokens an API must refuse, and the hole each acceptance reveals.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Serialize;
use serde_json::{Value, json};

use crate::jwt::jwks::Jwk;

/// One kind of bad request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    /// No `Authorization` header.
    NoToken,
    /// A real token whose payload was changed after signing.
    TamperedSignature,
    /// The payload of a real token with `alg: none` and no signature.
    AlgNone,
    /// HS256 keyed with the issuer's public key (algorithm confusion).
    Hs256PublicKey,
    /// A token that expired an hour ago (needs a way to sign one: the emulator).
    Expired,
    /// A real, valid token issued for another audience.
    OtherAudience,
}

impl Probe {
    /// Every probe, in the order they run.
    pub const ALL: [Probe; 6] = [
        Probe::NoToken,
        Probe::TamperedSignature,
        Probe::AlgNone,
        Probe::Hs256PublicKey,
        Probe::Expired,
        Probe::OtherAudience,
    ];

    /// Short label for check names.
    pub fn label(self) -> &'static str {
        match self {
            Probe::NoToken => "no token",
            Probe::TamperedSignature => "a tampered signature",
            Probe::AlgNone => "alg: none",
            Probe::Hs256PublicKey => "HS256 signed with the public key",
            Probe::Expired => "an expired token",
            Probe::OtherAudience => "a token for another audience",
        }
    }

    /// What it means when the API accepts this probe.
    pub fn hole(self) -> &'static str {
        match self {
            Probe::NoToken => "it answers without any token: the endpoint is not protected at all",
            Probe::TamperedSignature => {
                "it accepted a token whose payload was altered after signing: signatures are not verified"
            }
            Probe::AlgNone => {
                "it accepted an unsigned token (alg: none): the algorithm is taken from the token; accept RS256 only"
            }
            Probe::Hs256PublicKey => {
                "it accepted an HS256 token keyed with the issuer's public key (algorithm confusion): pin the algorithm to RS256"
            }
            Probe::Expired => "it accepted a token that expired an hour ago: `exp` is not checked",
            Probe::OtherAudience => {
                "it accepted a valid token issued for another audience: `aud` is not checked"
            }
        }
    }
}

fn parts(token: &str) -> Option<(Value, Value, String)> {
    let decoded = crate::jwt::decode(token).ok()?;
    let signature = token.rsplit('.').next()?.to_string();
    Some((
        Value::Object(decoded.header),
        Value::Object(decoded.claims),
        signature,
    ))
}

fn segment(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// `token` with one claim changed and the original signature kept.
pub fn tampered(token: &str) -> Option<String> {
    let (header, mut claims, signature) = parts(token)?;
    let scope = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    claims["scope"] = json!(format!("{scope} admin:everything").trim());
    claims["azp"] = json!("tampered-by-cargo-kinde");
    Some(format!(
        "{}.{}.{signature}",
        segment(&header),
        segment(&claims)
    ))
}

/// The claims of `token` under `alg: none`, unsigned.
pub fn alg_none(token: &str) -> Option<String> {
    let (_, claims, _) = parts(token)?;
    Some(format!(
        "{}.{}.",
        segment(&json!({"alg": "none", "typ": "JWT"})),
        segment(&claims)
    ))
}

/// The claims of `token` as HS256 keyed with the PEM of the issuer's public key `jwk`.
pub fn hs256_with_public_key(token: &str, jwk: &Jwk) -> Option<String> {
    let (header, claims, _) = parts(token)?;
    let pem = public_key_pem(jwk)?;
    let mut header = header;
    header["alg"] = json!("HS256");
    let input = format!("{}.{}", segment(&header), segment(&claims));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, pem.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    Some(format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref())))
}

/// The SubjectPublicKeyInfo PEM of an RSA JWK, as a server would load it.
fn public_key_pem(jwk: &Jwk) -> Option<String> {
    use aws_lc_rs::encoding::AsDer;
    let n = URL_SAFE_NO_PAD.decode(&jwk.n).ok()?;
    let e = URL_SAFE_NO_PAD.decode(&jwk.e).ok()?;
    let components = aws_lc_rs::rsa::PublicKeyComponents { n, e };
    let der = components.as_der().ok()?;
    let body = STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    Some(format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    ))
}

#[cfg(all(test, feature = "emulator"))]
mod tests {
    use super::*;

    #[test]
    fn forgeries_keep_the_claims_and_break_the_signature() {
        let token = crate::jwt::encode(
            &json!({"alg": "RS256", "kid": "k"}),
            &json!({"scope": "a", "aud": ["x"]}),
            |_| vec![7; 8],
        );
        let t = tampered(&token).unwrap();
        assert!(t.ends_with(token.rsplit('.').next().unwrap()));
        assert!(
            crate::jwt::decode(&t).unwrap().claims["scope"]
                .as_str()
                .unwrap()
                .contains("admin")
        );
        let n = alg_none(&token).unwrap();
        assert!(n.ends_with('.'));
        assert_eq!(
            crate::jwt::decode(&n).map(|_| ()).unwrap_err(),
            "the signature part is empty (an unsigned token)"
        );
        let key = crate::emulator::keys::SigningKey::generate().unwrap();
        let h = hs256_with_public_key(&token, &key.jwk()).unwrap();
        assert_eq!(crate::jwt::decode(&h).unwrap().header["alg"], "HS256");
        assert!(
            public_key_pem(&key.jwk())
                .unwrap()
                .starts_with("-----BEGIN PUBLIC KEY-----\nMIIBIjAN")
        );
    }
}
