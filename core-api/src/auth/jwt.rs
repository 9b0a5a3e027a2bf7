//! TMS JWT verification for core: the rules are `shared_auth::jwt` (shared
//! with the edge); this adds the JWKS fetch, cached by `kid`, refetched on an
//! unknown `kid` as `shared_auth::jwks_gate` allows (the edge's policy too),
//! on the injected clock.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use secrecy::ExposeSecret;
use shared_auth::jwks_gate::{JwksGate, RefreshDecision, MAX_WAIT_MS};
use shared_auth::jwt::{self, JwkKeys, JwtConfig, JwtError, VerifiedToken};
use shared_types::ErrorCode;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::JwtSettings;
use crate::error::AppError;

pub struct JwtAuthenticator {
    config: JwtConfig,
    jwks_url: Option<String>,
    keys: RwLock<Arc<JwkKeys>>,
    gate: Mutex<JwksGate>,
    /// Bumped when a fetch ends, waking the requests that waited for it.
    fetches: watch::Sender<u64>,
    min_refresh_ms: u64,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
}

impl JwtAuthenticator {
    pub fn new(settings: &JwtSettings, clock: Arc<dyn Clock>) -> Self {
        let config = JwtConfig {
            hs256_secret: settings
                .hs256_secret
                .as_ref()
                .map(|s| s.expose_secret().as_bytes().to_vec()),
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            user_claim: settings.user_claim.clone(),
            leeway_secs: settings.leeway_secs,
            max_lifetime_secs: settings.max_lifetime_secs,
        };
        Self {
            config,
            jwks_url: settings.jwks_url.clone(),
            keys: RwLock::new(Arc::new(JwkKeys::default())),
            gate: Mutex::new(JwksGate::default()),
            fetches: watch::channel(0).0,
            min_refresh_ms: u64::try_from(settings.jwks_min_refresh.as_millis())
                .unwrap_or(u64::MAX),
            clock,
            http: reqwest::Client::builder()
                .timeout(Duration::from_millis(MAX_WAIT_MS))
                .build()
                .unwrap_or_default(),
        }
    }

    fn keys(&self) -> Arc<JwkKeys> {
        self.keys.read().map(|k| Arc::clone(&k)).unwrap_or_default()
    }

    fn now_ms(&self) -> u64 {
        self.clock.now().timestamp_millis().max(0) as u64
    }

    pub async fn verify(&self, token: &str, now_unix: u64) -> Result<VerifiedToken, AppError> {
        match jwt::verify(token, &self.config, &self.keys(), now_unix) {
            Err(JwtError::TokenUnknownKey) if self.jwks_url.is_some() => {
                // verify again even when this caller did not fetch: requests that
                // waited for a fetch get the keys it just loaded
                self.refresh_keys().await;
                jwt::verify(token, &self.config, &self.keys(), now_unix).map_err(reject)
            }
            other => other.map_err(reject),
        }
    }

    /// On an unknown `kid`: fetches the JWKS if the gate allows, waits for a
    /// fetch already in flight, or does nothing (fetched recently). Failures
    /// keep the old keys.
    pub async fn refresh_keys(&self) {
        let Some(url) = &self.jwks_url else {
            return;
        };
        // subscribed before deciding, so a fetch ending right after is seen
        let mut ended = self.fetches.subscribe();
        let decision = match self.gate.lock() {
            Ok(mut gate) => gate.begin(self.now_ms(), self.min_refresh_ms),
            Err(_) => RefreshDecision::Throttled,
        };
        match decision {
            RefreshDecision::Throttled => {}
            RefreshDecision::Wait => {
                let wait = Duration::from_millis(MAX_WAIT_MS);
                let _ = tokio::time::timeout(wait, ended.changed()).await;
            }
            RefreshDecision::Fetch => {
                let _ends = FetchEnds(self);
                self.fetch(url).await;
            }
        }
    }

    async fn fetch(&self, url: &str) {
        let fetched = async {
            let resp = self
                .http
                .get(url)
                .send()
                .await
                .map_err(|e| e.without_url().to_string())?;
            if !resp.status().is_success() {
                return Err(format!("status {}", resp.status()));
            }
            let text = resp.text().await.map_err(|e| e.to_string())?;
            JwkKeys::from_jwks_json(&text).map_err(|e| e.message().to_string())
        }
        .await;
        match fetched {
            Ok(keys) => {
                if let Ok(mut slot) = self.keys.write() {
                    *slot = Arc::new(keys);
                }
                tracing::info!("JWKS refreshed");
            }
            Err(e) => {
                tracing::warn!(error = %e, "JWKS fetch failed; keeping cached keys");
            }
        }
    }
}

/// Ends the fetch in the gate and wakes its waiters, also when the request
/// that fetched is dropped midway.
struct FetchEnds<'a>(&'a JwtAuthenticator);

impl Drop for FetchEnds<'_> {
    fn drop(&mut self) {
        if let Ok(mut gate) = self.0.gate.lock() {
            gate.finish(self.0.now_ms());
        }
        self.0.fetches.send_modify(|n| *n += 1);
    }
}

fn reject(e: JwtError) -> AppError {
    let code: ErrorCode = e.code();
    AppError::new(code, e.message())
}
