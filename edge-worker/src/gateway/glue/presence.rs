//! A gateway's presence reports to core: batched changes, and the periodic
//! full list that keeps `{user:<id>}:presence` fresh.

use shared_types::internal::PresenceReport;
use worker::Method;

use super::{Gateway, Inner};
use crate::gateway::presence::{Report, LAST_FULL_REPORT_KEY};
use crate::runtime::config::EdgeConfig;
use crate::runtime::core_client::{self, CoreError};

impl Inner {
    /// Sends batched presence changes to core, one report in flight.
    pub(super) async fn flush_presence(&self, gateway: String) {
        let Ok(config) = EdgeConfig::from_env(&self.env) else {
            return;
        };
        loop {
            let next = self.presence.borrow_mut().take();
            let Some(report) = next else {
                return;
            };
            let body = PresenceReport {
                gateway: gateway.clone(),
                arrived: report.arrived.clone(),
                departed: report.departed.clone(),
                present: Vec::new(),
            };
            match post_presence(&config, &body).await {
                Ok(()) => self.presence.borrow_mut().sent(),
                Err(e) => {
                    worker::console_warn!("presence report failed: {}", e.message);
                    self.presence.borrow_mut().failed(Report {
                        arrived: report.arrived,
                        departed: report.departed,
                    });
                    return; // the next change or ping round tries again
                }
            }
        }
    }

    /// The periodic full list, keeping core's `{user:<id>}:presence` fresh.
    pub(super) async fn report_present(&self, present: Vec<String>) {
        let Ok(config) = EdgeConfig::from_env(&self.env) else {
            return;
        };
        let gateway = self.name.borrow().clone().unwrap_or_default();
        let body = PresenceReport {
            gateway,
            present,
            ..Default::default()
        };
        if let Err(e) = post_presence(&config, &body).await {
            worker::console_warn!("presence refresh failed: {}", e.message);
        }
    }
}

impl Gateway {
    /// At a ping round: the full list when due. The time of the last one is
    /// read back from storage once per wake-up, so hibernation keeps the cadence.
    pub(super) async fn full_presence_report(&self, now: u64) -> worker::Result<()> {
        if self.inner.presence.borrow().needs_stored_last_full() {
            let stored: Option<u64> = self
                .state
                .storage()
                .get(LAST_FULL_REPORT_KEY)
                .await
                .unwrap_or(None);
            self.inner.presence.borrow_mut().restore_last_full(stored);
        }
        if !self.inner.presence.borrow_mut().full_report_due(now) {
            return Ok(());
        }
        let present = self.index().users();
        if !present.is_empty() {
            self.inner.report_present(present).await;
        }
        self.inner.counters.borrow_mut().storage_writes += 1;
        self.state.storage().put(LAST_FULL_REPORT_KEY, now).await
    }
}

async fn post_presence(config: &EdgeConfig, body: &PresenceReport) -> Result<(), CoreError> {
    core_client::call::<_, serde_json::Value>(
        config,
        Method::Post,
        "/internal/v1/presence",
        "",
        Some(body),
    )
    .await
    .map(drop)
}
