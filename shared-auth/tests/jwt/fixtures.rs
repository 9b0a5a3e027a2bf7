//! Keys, configs and token builders shared by the JWT tests. Tokens are made
//! with jsonwebtoken's real `encode`, keys with the real RSA / P-256 crates.

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use shared_auth::{JwkKeys, JwtConfig};

/// A fixed clock (2023-11-14): nothing in these tests depends on the real time.
pub const NOW: u64 = 1_700_000_000;
pub const HS256_SECRET: &[u8] = b"tms-test-secret-0123456789abcdef-0123456789";

pub fn b64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Claims valid at [`NOW`] for user `user-42`.
pub fn valid_claims() -> Value {
    json!({ "sub": "user-42", "exp": NOW + 600, "iat": NOW, "name": "Ada" })
}

pub fn hs256_config() -> JwtConfig {
    JwtConfig {
        hs256_secret: Some(HS256_SECRET.to_vec()),
        ..JwtConfig::default()
    }
}

/// JWKS only, no HS256 secret.
pub fn jwks_config() -> JwtConfig {
    JwtConfig::default()
}

pub fn hs256_token_with_secret(claims: &Value, secret: &[u8]) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

pub fn hs256_token(claims: &Value) -> String {
    hs256_token_with_secret(claims, HS256_SECRET)
}

pub struct RsaFixture {
    pub private_pkcs1_der: Vec<u8>,
    pub public_pkcs1_pem: String,
    pub n_b64: String,
    pub e_b64: String,
}

/// Generated once per test binary: 2048-bit keygen is the slow part of the suite.
pub fn rsa_key() -> &'static RsaFixture {
    static KEY: OnceLock<RsaFixture> = OnceLock::new();
    KEY.get_or_init(|| {
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let public = private.to_public_key();
        RsaFixture {
            private_pkcs1_der: private.to_pkcs1_der().unwrap().as_bytes().to_vec(),
            public_pkcs1_pem: public.to_pkcs1_pem(LineEnding::LF).unwrap(),
            n_b64: b64url(public.n().to_bytes_be()),
            e_b64: b64url(public.e().to_bytes_be()),
        }
    })
}

pub struct EcFixture {
    pub private_pkcs8_der: Vec<u8>,
    pub x_b64: String,
    pub y_b64: String,
}

pub fn new_ec_key() -> EcFixture {
    let signing = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let point = signing.verifying_key().to_encoded_point(false);
    EcFixture {
        private_pkcs8_der: signing.to_pkcs8_der().unwrap().as_bytes().to_vec(),
        x_b64: b64url(point.x().unwrap()),
        y_b64: b64url(point.y().unwrap()),
    }
}

pub fn ec_key() -> &'static EcFixture {
    static KEY: OnceLock<EcFixture> = OnceLock::new();
    KEY.get_or_init(new_ec_key)
}

pub fn rsa_jwk(kid: Option<&str>, alg: Option<&str>) -> Value {
    let key = rsa_key();
    let mut jwk = json!({ "kty": "RSA", "use": "sig", "n": key.n_b64, "e": key.e_b64 });
    set_kid_alg(&mut jwk, kid, alg);
    jwk
}

pub fn ec_jwk_for(key: &EcFixture, kid: Option<&str>, alg: Option<&str>) -> Value {
    let mut jwk = json!({ "kty": "EC", "crv": "P-256", "x": key.x_b64, "y": key.y_b64 });
    set_kid_alg(&mut jwk, kid, alg);
    jwk
}

pub fn ec_jwk(kid: Option<&str>, alg: Option<&str>) -> Value {
    ec_jwk_for(ec_key(), kid, alg)
}

fn set_kid_alg(jwk: &mut Value, kid: Option<&str>, alg: Option<&str>) {
    if let Some(kid) = kid {
        jwk["kid"] = json!(kid);
    }
    if let Some(alg) = alg {
        jwk["alg"] = json!(alg);
    }
}

pub fn jwks(keys: &[Value]) -> JwkKeys {
    JwkKeys::from_jwks_json(&json!({ "keys": keys }).to_string()).unwrap()
}

/// The usual TMS set: one RSA key `rsa-1` and one P-256 key `ec-1`, algs declared.
pub fn standard_jwks() -> JwkKeys {
    jwks(&[
        rsa_jwk(Some("rsa-1"), Some("RS256")),
        ec_jwk(Some("ec-1"), Some("ES256")),
    ])
}

fn header(alg: Algorithm, kid: Option<&str>) -> Header {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    header
}

pub fn rs256_token(claims: &Value, kid: Option<&str>) -> String {
    let key = EncodingKey::from_rsa_der(&rsa_key().private_pkcs1_der);
    encode(&header(Algorithm::RS256, kid), claims, &key).unwrap()
}

pub fn es256_token_with(key: &EcFixture, claims: &Value, kid: Option<&str>) -> String {
    let key = EncodingKey::from_ec_der(&key.private_pkcs8_der);
    encode(&header(Algorithm::ES256, kid), claims, &key).unwrap()
}

pub fn es256_token(claims: &Value, kid: Option<&str>) -> String {
    es256_token_with(ec_key(), claims, kid)
}

/// `header.payload.` with an arbitrary raw header JSON and no valid signature.
pub fn unsigned_token(raw_header: &str, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{}",
        b64url(raw_header),
        b64url(claims.to_string()),
        signature
    )
}
