//! The emulator's RSA-2048 signing keys: generation, persistence, Kinde-style key ids, JWKS.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::error::Error;
use crate::jwt::jwks::Jwk;

/// A signing key and its id.
pub struct SigningKey {
    kid: String,
    pair: KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new RSA-2048 key.
    pub fn generate() -> Result<Self, Error> {
        let pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| Error::network("cannot generate an RSA key for the emulator"))?;
        Ok(Self::from_pair(pair))
    }

    /// A key from its stored form (base64 PKCS#8).
    pub fn from_stored(pkcs8_base64: &str) -> Result<Self, Error> {
        let der = STANDARD
            .decode(pkcs8_base64)
            .map_err(|e| Error::input(format!("a stored emulator key is not base64: {e}")))?;
        let pair = KeyPair::from_pkcs8(&der).map_err(|e| {
            Error::input(format!(
                "a stored emulator key is not a PKCS#8 RSA key: {e}"
            ))
        })?;
        Ok(Self::from_pair(pair))
    }

    fn from_pair(pair: KeyPair) -> Self {
        // Kinde's key ids are 16 colon-separated hex bytes; derive them from the public key so the
        // same key always has the same id.
        let public = pair.public_key().as_ref().to_vec();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &public);
        let kid = digest.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        SigningKey { kid, pair }
    }

    /// A new RSA-2048 key claiming `kid`, another key's id: what signs a forged token that a
    /// verifier must refuse although its `kid` matches one in the JWKS.
    pub fn impostor(kid: &str) -> Result<Self, Error> {
        let mut key = Self::generate()?;
        key.kid = kid.to_string();
        Ok(key)
    }

    /// The public key as PEM (`-----BEGIN PUBLIC KEY-----`, SubjectPublicKeyInfo), as
    /// `openssl rsa -pubout` writes it.
    pub fn public_key_pem(&self) -> Result<String, Error> {
        let der: aws_lc_rs::encoding::PublicKeyX509Der<'static> =
            self.pair
                .public_key()
                .as_der()
                .map_err(|_| Error::input("cannot encode the emulator's public key"))?;
        let body = STANDARD.encode(der.as_ref());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        Ok(pem)
    }

    /// The stored form: base64 PKCS#8.
    pub fn to_stored(&self) -> Result<String, Error> {
        let der = self
            .pair
            .as_der()
            .map_err(|_| Error::input("cannot encode the emulator key"))?;
        Ok(STANDARD.encode(der.as_ref()))
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as Kinde publishes it in its JWKS.
    pub fn jwk(&self) -> Jwk {
        let components: PublicKeyComponents<Vec<u8>> = self.pair.public_key().into();
        Jwk {
            kty: "RSA".into(),
            kid: Some(self.kid.clone()),
            use_: Some("sig".into()),
            alg: Some("RS256".into()),
            n: URL_SAFE_NO_PAD.encode(&components.n),
            e: URL_SAFE_NO_PAD.encode(&components.e),
        }
    }

    /// An RS256 signature over `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        // Signing with a valid in-memory key into a correctly sized buffer cannot fail.
        if self
            .pair
            .sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
            .is_err()
        {
            signature.clear();
        }
        signature
    }

    /// Whether `signature` is this key's RS256 signature over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, self.pair.public_key().as_ref())
            .verify(message, signature)
            .is_ok()
    }

    /// A signed JWT with this key's `kid`.
    pub fn sign_jwt<T: serde::Serialize + ?Sized>(&self, claims: &T) -> String {
        super::jws::encode(self, claims)
    }
}
