//! HTTP client for the external Team Management System. Knows paths and the
//! API-key header; caching and fallbacks live in `services::users`.

use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde::Deserialize;
use shared_types::api::UserProfile;
use shared_types::percent::encode_component;

use crate::config::TmsConfig;
use crate::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum TmsError {
    #[error("TMS request failed: {0}")]
    Transport(String),
    #[error("TMS answered {0}")]
    Status(u16),
    #[error("TMS answered an unexpected body: {0}")]
    Body(String),
}

#[derive(Clone)]
pub struct TmsClient {
    http: reqwest::Client,
    config: TmsConfig,
    metrics: Metrics,
}

#[derive(Deserialize)]
struct BatchResponse {
    users: Vec<UserProfile>,
}

/// Largest id list sent to the batch endpoint in one request.
const BATCH_CHUNK: usize = 200;

impl TmsClient {
    pub fn new(config: TmsConfig, metrics: Metrics) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(2))
            .build()?;
        Ok(Self {
            http,
            config,
            metrics,
        })
    }

    /// Counts one call by operation and outcome, with its latency.
    fn observe<T>(&self, op: &'static str, started: Instant, result: &Result<T, TmsError>) {
        let outcome = if result.is_ok() { "ok" } else { "error" };
        self.metrics.observe_tms(op, outcome, started.elapsed());
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url)
    }

    fn authed(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.header(
            self.config.api_key_header.as_str(),
            self.config.api_key.expose_secret(),
        )
    }

    /// `Ok(None)` when TMS says the user does not exist.
    pub async fn get_user(&self, tms_user_id: &str) -> Result<Option<UserProfile>, TmsError> {
        let started = Instant::now();
        let result = self.fetch_user(tms_user_id).await;
        match &result {
            Ok(None) => self
                .metrics
                .observe_tms("user", "not_found", started.elapsed()),
            _ => self.observe("user", started, &result),
        }
        result
    }

    async fn fetch_user(&self, tms_user_id: &str) -> Result<Option<UserProfile>, TmsError> {
        // `.` and `..` would leave the segment even percent-encoded (URL
        // parsers treat `%2E%2E` as `..`): no such user, and no request
        if shared_types::TmsUserId::check(tms_user_id).is_err() {
            return Ok(None);
        }
        let path = self
            .config
            .user_path
            .replace("{id}", &encode_component(tms_user_id));
        let resp = self
            .authed(self.http.get(self.url(&path)))
            .send()
            .await
            .map_err(|e| TmsError::Transport(e.without_url().to_string()))?;
        match resp.status().as_u16() {
            200 => resp
                .json()
                .await
                .map(Some)
                .map_err(|e| TmsError::Body(e.to_string())),
            404 => Ok(None),
            other => Err(TmsError::Status(other)),
        }
    }

    /// Profiles of the users TMS knows among `ids`; unknown ids are simply absent.
    pub async fn get_users(&self, ids: &[String]) -> Result<Vec<UserProfile>, TmsError> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH_CHUNK) {
            let started = Instant::now();
            let result = self.fetch_users(chunk).await;
            self.observe("users_batch", started, &result);
            found.extend(result?);
        }
        Ok(found)
    }

    /// One batch request (at most `BATCH_CHUNK` ids).
    async fn fetch_users(&self, chunk: &[String]) -> Result<Vec<UserProfile>, TmsError> {
        let resp = self
            .authed(self.http.post(self.url(&self.config.users_batch_path)))
            .json(&serde_json::json!({ "ids": chunk }))
            .send()
            .await
            .map_err(|e| TmsError::Transport(e.without_url().to_string()))?;
        if resp.status().as_u16() != 200 {
            return Err(TmsError::Status(resp.status().as_u16()));
        }
        let body: BatchResponse = resp
            .json()
            .await
            .map_err(|e| TmsError::Body(e.to_string()))?;
        Ok(body.users)
    }

    pub async fn health(&self) -> Result<(), TmsError> {
        let started = Instant::now();
        let result = self.check_health().await;
        self.observe("health", started, &result);
        result
    }

    async fn check_health(&self) -> Result<(), TmsError> {
        let resp = self
            .http
            .get(self.url(&self.config.health_path))
            .send()
            .await
            .map_err(|e| TmsError::Transport(e.without_url().to_string()))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(TmsError::Status(resp.status().as_u16()))
        }
    }
}
