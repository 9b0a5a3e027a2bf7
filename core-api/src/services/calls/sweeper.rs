//! The ring timeout. The deadline is a column (`calls.ring_deadline`), so it
//! survives a restart of core; every replica runs this sweeper (once at
//! start, then every `CALL_SWEEP_INTERVAL_MS`). A sweep locks the due calls
//! with `FOR UPDATE SKIP LOCKED`: a call is timed out, and announced, by the
//! one transaction that holds it, never twice; a call another replica or an
//! accept holds is left to them.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::{end_line, machine, publish};
use crate::error::AppResult;
use crate::models::call::CallRecord;
use crate::repositories::calls as repo;
use crate::services::system_messages;
use crate::state::AppState;

/// Calls timed out per transaction.
const BATCH: i64 = 100;

/// Times out every ring whose deadline has passed; returns how many calls
/// changed. Runs batch after batch until none is due.
pub async fn sweep(state: &AppState) -> AppResult<usize> {
    let mut total = 0;
    loop {
        let swept = sweep_batch(state).await?;
        total += swept.0;
        if swept.1 < BATCH as usize {
            return Ok(total);
        }
    }
}

/// (calls changed, calls locked).
async fn sweep_batch(state: &AppState) -> AppResult<(usize, usize)> {
    let mut tx = state.db.begin().await?;
    let now = super::now(state);
    let rows = repo::lock_due(&mut tx, now, BATCH).await?;
    if rows.is_empty() {
        tx.rollback().await?;
        return Ok((0, 0));
    }
    let locked = rows.len();
    let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
    let participants = repo::participants(&mut *tx, &ids).await?;
    let mut changed = Vec::new();
    for row in rows {
        let mut record = CallRecord::from_rows(row, &participants);
        let was_live = record.status.is_live();
        let outcome = machine::expire(&mut record, now);
        if outcome.changed() {
            repo::save(&mut tx, &record).await?;
            let line = end_line(&mut tx, was_live, &record).await?;
            changed.push((record.to_wire(), outcome, line));
        }
    }
    tx.commit().await?;
    for (call, outcome, line) in &changed {
        publish(state, call, outcome, None);
        system_messages::deliver(state, line.as_ref());
    }
    Ok((changed.len(), locked))
}

/// Sweeps now and then every `interval` until aborted (with the server).
pub fn spawn(state: AppState, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await; // the first tick is immediate: rings due while core was down
            match sweep(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(calls = n, "ring timeouts applied"),
                Err(e) => tracing::warn!(error = %e, "call sweep failed; retrying next tick"),
            }
        }
    })
}
