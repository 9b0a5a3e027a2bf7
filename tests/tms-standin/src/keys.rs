//! Asymmetric signing keys (RS256, ES256), generated at start and published
//! as a JWKS. Nothing is written to disk: a restart means new keys, which a
//! JWKS consumer must handle by refetching on an unknown `kid`.

use std::sync::OnceLock;

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey};
use p256::pkcs8::EncodePrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;

/// RSA modulus size of generated keys.
pub const RSA_BITS: usize = 2048;

/// A private key with its `kid` and public JWK.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub(crate) encoding: EncodingKey,
    pub jwk: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    fn new(alg: Algorithm, encoding: EncodingKey) -> Self {
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).expect("public JWK from a fresh key");
        let thumbprint = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .expect("JWK thumbprint");
        let kid = format!(
            "{}-{}",
            alg_name(alg).to_ascii_lowercase(),
            &thumbprint[..16]
        );
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Self {
            kid,
            alg,
            encoding,
            jwk,
        }
    }

    /// A fresh RSA key for RS256 (slow: about a second unoptimised).
    pub fn generate_rs256() -> Self {
        let key =
            rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS).expect("RSA key generation");
        let der = key.to_pkcs1_der().expect("PKCS#1 DER of an RSA key");
        Self::new(Algorithm::RS256, EncodingKey::from_rsa_der(der.as_bytes()))
    }

    /// A fresh P-256 key for ES256.
    pub fn generate_es256() -> Self {
        let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let der = key.to_pkcs8_der().expect("PKCS#8 DER of a P-256 key");
        Self::new(Algorithm::ES256, EncodingKey::from_ec_der(der.as_bytes()))
    }
}

pub(crate) fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
        _ => "other",
    }
}

/// The keys a stand-in signs with and the ones it publishes.
#[derive(Debug, Clone)]
pub struct KeySet {
    pub rs256: SigningKey,
    pub es256: SigningKey,
    /// Public keys of earlier generations, still published after a rotation.
    pub retired: Vec<Jwk>,
}

impl KeySet {
    /// The process-wide initial keys. RSA generation is slow, so every
    /// stand-in of a test binary shares one pair until it rotates its own.
    pub fn initial() -> Self {
        static INITIAL: OnceLock<KeySet> = OnceLock::new();
        INITIAL
            .get_or_init(|| KeySet {
                rs256: SigningKey::generate_rs256(),
                es256: SigningKey::generate_es256(),
                retired: Vec::new(),
            })
            .clone()
    }

    /// New signing keys (new kids); the old public keys stay published.
    pub fn rotate(&mut self) {
        let rs256 = std::mem::replace(&mut self.rs256, SigningKey::generate_rs256());
        let es256 = std::mem::replace(&mut self.es256, SigningKey::generate_es256());
        self.retired.push(rs256.jwk);
        self.retired.push(es256.jwk);
    }

    /// `{"keys":[…]}`: current keys first, then retired ones.
    pub fn jwks(&self) -> JwkSet {
        let mut keys = vec![self.rs256.jwk.clone(), self.es256.jwk.clone()];
        keys.extend(self.retired.iter().cloned());
        JwkSet { keys }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_carries_kid_alg_and_use() {
        let keys = KeySet::initial();
        let json = serde_json::to_value(keys.jwks()).unwrap();
        let list = json["keys"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["kty"], "RSA");
        assert_eq!(list[0]["alg"], "RS256");
        assert_eq!(list[0]["use"], "sig");
        assert_eq!(list[0]["kid"], keys.rs256.kid.as_str());
        assert!(list[0]["n"].as_str().unwrap().len() > 300);
        assert_eq!(list[1]["kty"], "EC");
        assert_eq!(list[1]["crv"], "P-256");
        assert_eq!(list[1]["alg"], "ES256");
        assert_eq!(list[1]["kid"], keys.es256.kid.as_str());
        assert!(
            list.iter().all(|k| k.get("d").is_none()),
            "private part published"
        );
    }

    #[test]
    fn rotation_changes_kids_and_keeps_old_keys_published() {
        let mut keys = KeySet::initial();
        let old = (keys.rs256.kid.clone(), keys.es256.kid.clone());
        keys.rotate();
        assert_ne!(keys.rs256.kid, old.0);
        assert_ne!(keys.es256.kid, old.1);
        let kids: Vec<String> = keys
            .jwks()
            .keys
            .into_iter()
            .filter_map(|k| k.common.key_id)
            .collect();
        assert_eq!(kids.len(), 4);
        assert!(kids.contains(&old.0) && kids.contains(&old.1));
    }
}
