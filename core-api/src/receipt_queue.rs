//! Storing receipts with group commit, as `send_queue` stores sends:
//! concurrent receipts are marked by one statement (one transaction, one
//! commit). Each is answered only after its batch committed; a batch the
//! database rejects is retried one receipt at a time, so a bad one fails
//! alone. A conversation always goes to the same writer; the readers' rows
//! are locked in a fixed order, so batches of replicas never deadlock.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use crate::error::{AppError, AppResult};
use crate::repositories::messages as messages_repo;
use crate::repositories::receipts::{self as repo, NewReceipt};
use crate::send_queue::copy_error;

/// Receipts waiting per writer before callers wait to enqueue.
const QUEUE_DEPTH: usize = 4096;

/// `(delivered_at, read_at)` after the mark.
pub type Marks = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

struct Job {
    receipt: NewReceipt,
    reply: oneshot::Sender<AppResult<Marks>>,
}

#[derive(Clone)]
pub struct ReceiptQueue {
    db: PgPool,
    writers: Vec<mpsc::Sender<Job>>,
}

impl ReceiptQueue {
    /// Starts `writers` writer tasks; with `max_batch` <= 1 each receipt
    /// commits on its own in the caller's task.
    pub fn start(db: PgPool, writers: usize, max_batch: usize) -> Self {
        let writers = if max_batch <= 1 { 0 } else { writers };
        let writers = (0..writers)
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
                tokio::spawn(run(db.clone(), rx, max_batch));
                tx
            })
            .collect();
        Self { db, writers }
    }

    /// Marks one receipt; returns once it is committed (or failed).
    pub async fn mark(&self, receipt: NewReceipt) -> AppResult<Marks> {
        if self.writers.is_empty() {
            return mark_one(&self.db, &receipt).await;
        }
        let writer = (receipt.conversation_id.as_u128() % self.writers.len() as u128) as usize;
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError(job)) =
            self.writers[writer].send(Job { receipt, reply }).await
        {
            return mark_one(&self.db, &job.receipt).await;
        }
        answer
            .await
            .map_err(|_| AppError::internal("receipt writer stopped before answering"))?
    }
}

async fn run(db: PgPool, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
    let mut jobs = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut jobs, max_batch).await > 0 {
        let (receipts, replies): (Vec<_>, Vec<_>) =
            jobs.drain(..).map(|j| (j.receipt, j.reply)).unzip();
        let answers = mark_batch(&db, receipts).await;
        for (reply, answer) in replies.into_iter().zip(answers) {
            // the caller may have gone away; its receipt is stored all the same
            let _ = reply.send(answer);
        }
    }
}

/// Marks `receipts` in one transaction where possible; one answer per
/// receipt, in order. A repeat of an earlier receipt of the batch (same
/// message and reader) runs after the batch, on its own; a batch the
/// database rejects is retried one receipt at a time.
pub async fn mark_batch(db: &PgPool, receipts: Vec<NewReceipt>) -> Vec<AppResult<Marks>> {
    let mut seen = HashSet::new();
    let (mut first, mut batch, mut repeats) = (Vec::new(), Vec::new(), Vec::new());
    for (i, r) in receipts.into_iter().enumerate() {
        if seen.insert((r.conversation_id, r.message_id, r.user_id)) {
            first.push(i);
            batch.push(r);
        } else {
            repeats.push((i, r));
        }
    }
    let mut answers: Vec<(usize, AppResult<Marks>)> = Vec::with_capacity(first.len());
    if batch.len() == 1 {
        answers.push((first[0], mark_one(db, &batch[0]).await));
    } else if !batch.is_empty() {
        match mark_in_order(db, &batch).await {
            Ok(marks) if marks.len() == batch.len() => {
                answers.extend(first.iter().copied().zip(marks.into_iter().map(Ok)));
            }
            Ok(_) => {
                for i in &first {
                    answers.push((
                        *i,
                        Err(AppError::internal("a batched receipt was not marked")),
                    ));
                }
            }
            Err(e) if e.as_database_error().is_some() => {
                tracing::warn!(error = %e, receipts = batch.len(), "batched receipts rejected; marking one by one");
                for (i, r) in first.iter().zip(&batch) {
                    answers.push((*i, mark_one(db, r).await));
                }
            }
            Err(e) => {
                // no answer from the database: whether the batch committed is
                // unknown; a receipt is idempotent, the client may send it again
                tracing::error!(error = %e, receipts = batch.len(), "batched receipts failed");
                for i in &first {
                    answers.push((*i, Err(AppError::Database(copy_error(&e)))));
                }
            }
        }
    }
    for (i, r) in &repeats {
        answers.push((*i, mark_one(db, r).await));
    }
    answers.sort_by_key(|(i, _)| *i);
    answers.into_iter().map(|(_, a)| a).collect()
}

/// The batch in one transaction, the readers' rows locked in a fixed order first.
pub async fn mark_in_order(db: &PgPool, batch: &[NewReceipt]) -> Result<Vec<Marks>, sqlx::Error> {
    let mut tx = db.begin().await?;
    repo::lock_readers(&mut *tx, batch).await?;
    let marks = repo::mark_batch(&mut *tx, batch).await?;
    tx.commit().await?;
    Ok(marks)
}

/// One receipt in its own transaction: the read mark for a read, then the
/// mark (member row before receipt row, the order batches lock them in).
pub async fn mark_one(db: &PgPool, r: &NewReceipt) -> AppResult<Marks> {
    let mut tx = db.begin().await?;
    if r.read {
        messages_repo::advance_read(&mut *tx, r.conversation_id, r.user_id, r.seq).await?;
    }
    let marks = repo::mark(&mut *tx, r.conversation_id, r.message_id, r.user_id, r.read).await?;
    tx.commit().await?;
    Ok(marks)
}
