//! The TMS public keys (JWKS), each bound to the one algorithm it may verify.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::DecodingKey;

use super::{JwtError, TokenAlgorithm};

/// RSA moduli below this are too weak to trust; above it the RustCrypto
/// verifier refuses them anyway (`RsaPublicKey::new` caps at 4096 bits).
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 4096;
const P256_COORDINATE_BYTES: usize = 32;

/// A verified-usable subset of a JWKS: RS256 (RSA) and ES256 (EC P-256) signing keys.
///
/// Keys that cannot be used (encryption keys, other curves or algorithms,
/// RSA below 2048 bits, broken encodings) are skipped rather than failing the
/// whole set, so one odd key at TMS does not take authentication down.
#[derive(Clone, Default)]
pub struct JwkKeys {
    keys: Vec<SigningKeyEntry>,
}

#[derive(Clone)]
struct SigningKeyEntry {
    kid: Option<String>,
    algorithm: TokenAlgorithm,
    key: DecodingKey,
}

impl JwkKeys {
    /// An empty set (no JWKS configured, or not fetched yet).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses a JWKS document (`{"keys":[...]}`).
    ///
    /// Errors with [`JwtError::JwksInvalid`] when the document is not a JWKS, or
    /// when it lists keys but none of them is usable (callers should then keep
    /// their previous key set).
    pub fn from_jwks_json(jwks_json: &str) -> Result<Self, JwtError> {
        let document: serde_json::Value = serde_json::from_str(jwks_json)
            .map_err(|_| JwtError::JwksInvalid("JWKS document is not valid JSON"))?;
        let listed = document
            .get("keys")
            .and_then(|keys| keys.as_array())
            .ok_or(JwtError::JwksInvalid("JWKS document has no keys array"))?;

        // Parse key by key: one unparseable entry must not hide the others.
        let keys: Vec<SigningKeyEntry> = listed
            .iter()
            .filter_map(|raw| serde_json::from_value::<Jwk>(raw.clone()).ok())
            .filter_map(|jwk| usable_signing_key(&jwk))
            .collect();

        if keys.is_empty() && !listed.is_empty() {
            return Err(JwtError::JwksInvalid(
                "JWKS has no usable RS256/ES256 signing key",
            ));
        }
        Ok(Self { keys })
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether any usable key carries this `kid`.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys
            .iter()
            .any(|entry| entry.kid.as_deref() == Some(kid))
    }

    /// The algorithm the (first) key with this `kid` is for.
    pub fn algorithm_of(&self, kid: &str) -> Option<TokenAlgorithm> {
        self.keys
            .iter()
            .find(|entry| entry.kid.as_deref() == Some(kid))
            .map(|entry| entry.algorithm)
    }

    /// All `kid`s in the set, in document order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter_map(|entry| entry.kid.as_deref())
    }

    /// Picks the key for a token's header (`kid`, `alg`), enforcing that the key
    /// was published for exactly that algorithm.
    pub(crate) fn select(
        &self,
        kid: Option<&str>,
        algorithm: TokenAlgorithm,
    ) -> Result<&DecodingKey, JwtError> {
        match kid {
            Some(kid) => {
                let mut named = self
                    .keys
                    .iter()
                    .filter(|entry| entry.kid.as_deref() == Some(kid))
                    .peekable();
                if named.peek().is_none() {
                    return Err(JwtError::TokenUnknownKey);
                }
                named
                    .find(|entry| entry.algorithm == algorithm)
                    .map(|entry| &entry.key)
                    .ok_or(JwtError::TokenAlgorithmNotAllowed)
            }
            // Without a kid, guessing between several keys would be ambiguous.
            None => {
                let mut candidates = self
                    .keys
                    .iter()
                    .filter(|entry| entry.algorithm == algorithm);
                match (candidates.next(), candidates.next()) {
                    (Some(only), None) => Ok(&only.key),
                    _ => Err(JwtError::TokenUnknownKey),
                }
            }
        }
    }
}

impl std::fmt::Debug for JwkKeys {
    // Key ids and algorithms only: enough for logs, no key bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.keys
                    .iter()
                    .map(|entry| (entry.kid.as_deref(), entry.algorithm)),
            )
            .finish()
    }
}

fn usable_signing_key(jwk: &Jwk) -> Option<SigningKeyEntry> {
    let for_signatures = match &jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => true,
        Some(PublicKeyUse::Encryption) | Some(PublicKeyUse::Other(_)) => false,
    };
    let may_verify = jwk
        .common
        .key_operations
        .as_ref()
        .is_none_or(|ops| ops.contains(&KeyOperations::Verify));
    if !for_signatures || !may_verify {
        return None;
    }

    let declared = jwk.common.key_algorithm;
    let (algorithm, key) = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            if !matches!(declared, None | Some(KeyAlgorithm::RS256)) {
                return None;
            }
            (TokenAlgorithm::Rs256, rsa_key(&rsa.n, &rsa.e)?)
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            if ec.curve != EllipticCurve::P256
                || !matches!(declared, None | Some(KeyAlgorithm::ES256))
            {
                return None;
            }
            (TokenAlgorithm::Es256, p256_key(&ec.x, &ec.y)?)
        }
        _ => return None,
    };
    Some(SigningKeyEntry {
        kid: jwk.common.key_id.clone(),
        algorithm,
        key,
    })
}

fn rsa_key(modulus_b64: &str, exponent_b64: &str) -> Option<DecodingKey> {
    let modulus = URL_SAFE_NO_PAD.decode(modulus_b64).ok()?;
    let exponent = URL_SAFE_NO_PAD.decode(exponent_b64).ok()?;
    let first_nonzero = modulus.iter().position(|&byte| byte != 0)?;
    let modulus = &modulus[first_nonzero..];
    let bits = modulus.len() * 8 - modulus[0].leading_zeros() as usize;
    let exponent_ok = !exponent.is_empty() && exponent.len() <= 8;
    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) || !exponent_ok {
        return None;
    }
    Some(DecodingKey::from_rsa_raw_components(modulus, &exponent))
}

fn p256_key(x_b64: &str, y_b64: &str) -> Option<DecodingKey> {
    let coordinate_ok = |b64: &str| {
        URL_SAFE_NO_PAD
            .decode(b64)
            .is_ok_and(|bytes| bytes.len() == P256_COORDINATE_BYTES)
    };
    if !coordinate_ok(x_b64) || !coordinate_ok(y_b64) {
        return None;
    }
    DecodingKey::from_ec_components(x_b64, y_b64).ok()
}
