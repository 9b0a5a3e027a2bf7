//! TMS JWT verification on the edge: the rules are `shared_auth::jwt`, the
//! same code core runs; this adds the isolate-wide JWKS cache, fetched on an
//! unknown `kid` as `shared_auth::jwks_gate` allows (the policy core follows too).

use std::cell::RefCell;
use std::time::Duration;

use futures_util::future::Either;
use shared_auth::jwt::{self, JwkKeys, JwtError, VerifiedToken};
use worker::{Date, Delay, Fetch};

use super::config::EdgeConfig;
use shared_auth::jwks_gate::{JwksGate, RefreshDecision, MAX_WAIT_MS};

/// How often a waiting request looks whether the fetch it waits for is done.
const WAIT_STEP_MS: u64 = 10;

thread_local! {
    // one isolate serves many requests; keys are shared across them
    static KEYS: RefCell<JwkKeys> = RefCell::new(JwkKeys::empty());
    static GATE: RefCell<JwksGate> = RefCell::new(JwksGate::default());
}

pub fn now_unix() -> u64 {
    now_ms() / 1000
}

fn now_ms() -> u64 {
    Date::now().as_millis()
}

fn current_keys() -> JwkKeys {
    KEYS.with(|k| k.borrow().clone())
}

/// A token by shared-auth's rules, then the deny list (deleted TMS users).
pub async fn verify(config: &EdgeConfig, token: &str) -> Result<VerifiedToken, JwtError> {
    let verified = match jwt::verify(token, &config.jwt, &current_keys(), now_unix()) {
        Err(JwtError::TokenUnknownKey) if config.jwks_url.is_some() => {
            refresh(config).await;
            // the keys may be new even if this request did not fetch them
            jwt::verify(token, &config.jwt, &current_keys(), now_unix())
        }
        other => other,
    }?;
    if super::deny_list::with_current(config, |list| list.refuses_token(&verified)).await {
        return Err(JwtError::TokenRevoked);
    }
    Ok(verified)
}

async fn refresh(config: &EdgeConfig) {
    let Some(url) = &config.jwks_url else {
        return;
    };
    match GATE.with(|g| g.borrow_mut().begin(now_ms(), config.jwks_min_refresh_ms)) {
        RefreshDecision::Throttled => {}
        RefreshDecision::Wait => {
            let mut waited = 0;
            while GATE.with(|g| g.borrow().in_flight()) && waited < MAX_WAIT_MS {
                Delay::from(Duration::from_millis(WAIT_STEP_MS)).await;
                waited += WAIT_STEP_MS;
            }
        }
        RefreshDecision::Fetch => {
            let fetching = std::pin::pin!(fetch(url));
            let timeout = Delay::from(Duration::from_millis(MAX_WAIT_MS));
            let fetched = futures_util::future::select(fetching, timeout).await;
            let fetched = match fetched {
                Either::Left((result, _)) => result,
                Either::Right(_) => Err("timed out".to_string()),
            };
            match fetched {
                Ok(keys) => KEYS.with(|k| *k.borrow_mut() = keys),
                Err(e) => worker::console_warn!("JWKS fetch failed: {e}"),
            }
            GATE.with(|g| g.borrow_mut().finish(now_ms()));
        }
    }
}

async fn fetch(url: &str) -> Result<JwkKeys, String> {
    let url = worker::Url::parse(url).map_err(|e| e.to_string())?;
    let mut resp = Fetch::Url(url).send().await.map_err(|e| e.to_string())?;
    if resp.status_code() != 200 {
        return Err(format!("JWKS status {}", resp.status_code()));
    }
    let text = resp.text().await.map_err(|e| e.to_string())?;
    JwkKeys::from_jwks_json(&text).map_err(|e| e.message().to_string())
}
