//! TMS JWT verification for core: the rules are `shared_auth::jwt` (shared
//! with the edge); this adds the JWKS fetch, cached by `kid`, with refetch on
//! an unknown `kid` at most once per `JWKS_MIN_REFRESH_SECS`.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use shared_auth::jwt::{self, JwkKeys, JwtConfig, JwtError, VerifiedToken};
use shared_types::ErrorCode;
use tokio::sync::Mutex;

use crate::config::JwtSettings;
use crate::error::AppError;

pub struct JwtAuthenticator {
    config: JwtConfig,
    jwks_url: Option<String>,
    keys: RwLock<Arc<JwkKeys>>,
    last_refresh: Mutex<Option<Instant>>,
    min_refresh: Duration,
    http: reqwest::Client,
}

impl JwtAuthenticator {
    pub fn new(settings: &JwtSettings) -> Self {
        let config = JwtConfig {
            hs256_secret: settings
                .hs256_secret
                .as_ref()
                .map(|s| s.expose_secret().as_bytes().to_vec()),
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            user_claim: settings.user_claim.clone(),
            leeway_secs: settings.leeway_secs,
        };
        Self {
            config,
            jwks_url: settings.jwks_url.clone(),
            keys: RwLock::new(Arc::new(JwkKeys::default())),
            last_refresh: Mutex::new(None),
            min_refresh: settings.jwks_min_refresh,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
        }
    }

    fn keys(&self) -> Arc<JwkKeys> {
        self.keys.read().map(|k| Arc::clone(&k)).unwrap_or_default()
    }

    pub async fn verify(&self, token: &str, now_unix: u64) -> Result<VerifiedToken, AppError> {
        match jwt::verify(token, &self.config, &self.keys(), now_unix) {
            Err(JwtError::TokenUnknownKey) if self.jwks_url.is_some() => {
                // verify again even when this caller did not fetch: requests that
                // waited on the lock get the keys the first one just loaded
                self.refresh_keys().await;
                jwt::verify(token, &self.config, &self.keys(), now_unix).map_err(reject)
            }
            other => other.map_err(reject),
        }
    }

    /// Fetches the JWKS unless it was fetched within `min_refresh`. Returns
    /// whether new keys were loaded. Failures keep the old keys.
    pub async fn refresh_keys(&self) -> bool {
        let Some(url) = &self.jwks_url else {
            return false;
        };
        let mut last = self.last_refresh.lock().await;
        if last.is_some_and(|t| t.elapsed() < self.min_refresh) {
            return false;
        }
        *last = Some(Instant::now());
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
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "JWKS fetch failed; keeping cached keys");
                false
            }
        }
    }
}

fn reject(e: JwtError) -> AppError {
    let code: ErrorCode = e.code();
    AppError::new(code, e.message())
}
