//! The token-signing key: RSA 2048, generated on first start and kept in the data directory
//! (`signing-key.pem`, mode 0600), so tokens stay valid across restarts.
//!
//! Generation uses the `rsa` crate (ring cannot generate RSA keys); signing and verification
//! go through `jsonwebtoken`, which uses ring.

use std::path::Path;

use base64::Engine as _;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

pub const KEY_FILE: &str = "signing-key.pem";

pub struct SigningKey {
    pub kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Base64url modulus and exponent, as JWKS publishes them.
    n: String,
    e: String,
    /// SHA-256 of the private key: the root of secrets derived from it.
    seed: [u8; 32],
}

impl SigningKey {
    /// Load the key from `dir`, or generate and save one.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<SigningKey> {
        let path = dir.join(KEY_FILE);
        let private = if path.exists() {
            let pem = std::fs::read_to_string(&path)?;
            rsa::RsaPrivateKey::from_pkcs8_pem(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        } else {
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)?;
            let pem = key.to_pkcs8_pem(LineEnding::LF)?;
            crate::tls::write_private(&path, &pem)?;
            key
        };
        let pem = private.to_pkcs8_pem(LineEnding::LF)?;
        let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let n = b64(private.n().to_bytes_be());
        let e = b64(private.e().to_bytes_be());
        let digest = ring::digest::digest(&ring::digest::SHA256, n.as_bytes());
        let kid = b64(digest.as_ref()[..16].to_vec());
        let mut seed = [0u8; 32];
        seed.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, pem.as_bytes()).as_ref());
        Ok(SigningKey {
            seed,
            kid,
            encoding: EncodingKey::from_rsa_pem(pem.as_bytes())?,
            decoding: DecodingKey::from_rsa_components(&n, &e)?,
            n,
            e,
        })
    }

    pub fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }

    pub fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    /// A secret for `label`, derived from the private key (stable across restarts).
    pub fn derived_secret(&self, label: &[u8]) -> Vec<u8> {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.seed);
        ring::hmac::sign(&key, label).as_ref().to_vec()
    }

    /// The JSON Web Key Set clients fetch from `jwks_uri`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "x5t": self.kid,
            "n": self.n, "e": self.e,
        }] })
    }
}
