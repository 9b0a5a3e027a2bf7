//! TMS JWT verification on the edge: the rules are `shared_auth::jwt`, the
//! same code core runs; this adds the isolate-wide JWKS cache.

use std::cell::RefCell;

use shared_auth::jwt::{self, JwkKeys, JwtError, VerifiedToken};
use worker::{Date, Fetch};

use super::config::EdgeConfig;

/// Refetch the JWKS on an unknown `kid` at most this often.
const JWKS_MIN_REFRESH_MS: u64 = 30_000;

thread_local! {
    // one isolate serves many requests; keys are shared across them
    static KEYS: RefCell<(JwkKeys, u64)> = RefCell::new((JwkKeys::empty(), 0));
}

pub fn now_unix() -> u64 {
    Date::now().as_millis() / 1000
}

pub async fn verify(config: &EdgeConfig, token: &str) -> Result<VerifiedToken, JwtError> {
    let keys = KEYS.with(|k| k.borrow().0.clone());
    match jwt::verify(token, &config.jwt, &keys, now_unix()) {
        Err(JwtError::TokenUnknownKey) if config.jwks_url.is_some() => {
            if refresh(config).await {
                let keys = KEYS.with(|k| k.borrow().0.clone());
                jwt::verify(token, &config.jwt, &keys, now_unix())
            } else {
                Err(JwtError::TokenUnknownKey)
            }
        }
        other => other,
    }
}

async fn refresh(config: &EdgeConfig) -> bool {
    let Some(url) = &config.jwks_url else {
        return false;
    };
    let now = Date::now().as_millis();
    let last = KEYS.with(|k| k.borrow().1);
    if last != 0 && now.saturating_sub(last) < JWKS_MIN_REFRESH_MS {
        return false;
    }
    KEYS.with(|k| k.borrow_mut().1 = now);
    let fetched = async {
        let url = worker::Url::parse(url).map_err(|e| e.to_string())?;
        let mut resp = Fetch::Url(url).send().await.map_err(|e| e.to_string())?;
        if resp.status_code() != 200 {
            return Err(format!("JWKS status {}", resp.status_code()));
        }
        let text = resp.text().await.map_err(|e| e.to_string())?;
        JwkKeys::from_jwks_json(&text).map_err(|e| e.message().to_string())
    }
    .await;
    match fetched {
        Ok(keys) => {
            KEYS.with(|k| k.borrow_mut().0 = keys);
            true
        }
        Err(e) => {
            worker::console_warn!("JWKS fetch failed: {e}");
            false
        }
    }
}
