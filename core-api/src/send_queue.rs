//! Storing sends, with group commit: concurrent sends are stored by one
//! statement (one transaction, one commit) instead of one each.
//!
//! Each writer task takes whatever sends are queued (up to `max_batch`) as
//! soon as its previous batch has committed, so batches grow with the load
//! and a lone send waits for nothing. A send is answered only after its
//! batch committed. A conversation always goes to the same writer, so two
//! writers of one replica never wait on each other's conversation rows and
//! the sends of one conversation keep their order; batches of different
//! replicas lock their rows in one fixed order (no deadlock).

use std::collections::HashSet;

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use crate::error::{AppError, AppResult};
use crate::repositories::messages as messages_repo;
use crate::repositories::sends::{self, NewMessage, Stored};

/// Sends waiting per writer before senders wait to enqueue.
const QUEUE_DEPTH: usize = 4096;

struct Job {
    new: NewMessage,
    reply: oneshot::Sender<AppResult<Option<Stored>>>,
}

#[derive(Clone)]
pub struct SendQueue {
    db: PgPool,
    writers: Vec<mpsc::Sender<Job>>,
}

impl SendQueue {
    /// Starts `writers` writer tasks; with `max_batch` <= 1 or no writers,
    /// each send runs its own statement in the caller's task.
    pub fn start(db: PgPool, writers: usize, max_batch: usize) -> Self {
        let db = generic_plan_pool(&db);
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

    /// The sends' own pool (generic plans), for the pool metrics.
    pub fn pool(&self) -> &PgPool {
        &self.db
    }

    /// Stores one send; returns once it is committed (or failed). `None`:
    /// not stored, the sender is not a member or the conversation does not exist.
    pub async fn store(&self, new: NewMessage) -> AppResult<Option<Stored>> {
        if self.writers.is_empty() {
            return store_one(&self.db, &new).await;
        }
        let writer = (new.conversation_id.as_u128() % self.writers.len() as u128) as usize;
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError(job)) =
            self.writers[writer].send(Job { new, reply }).await
        {
            // the writer is gone (runtime shutting down): store it here
            return store_one(&self.db, &job.new).await;
        }
        answer
            .await
            .map_err(|_| AppError::internal("send writer stopped before answering"))?
    }
}

/// A pool like `db` (opened lazily) whose connections always use the generic
/// plan of a prepared statement. The send statement's CTEs cost several times
/// more to plan than to run, and with the default `plan_cache_mode` Postgres
/// keeps planning it anew on every execution (its array inputs make the
/// generic plan's estimate look worse), which halved the sends per second.
fn generic_plan_pool(db: &PgPool) -> PgPool {
    let options = (*db.connect_options())
        .clone()
        .options([("plan_cache_mode", "force_generic_plan")]);
    PgPoolOptions::new()
        .max_connections(db.options().get_max_connections())
        .acquire_timeout(db.options().get_acquire_timeout())
        .connect_lazy_with(options)
}

async fn run(db: PgPool, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
    let mut jobs = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut jobs, max_batch).await > 0 {
        let (news, replies): (Vec<_>, Vec<_>) = jobs.drain(..).map(|j| (j.new, j.reply)).unzip();
        let answers = store_batch(&db, news).await;
        for (reply, answer) in replies.into_iter().zip(answers) {
            // the caller may have gone away; its send is stored all the same
            let _ = reply.send(answer);
        }
    }
}

/// Stores `news` in one statement where possible; one answer per send, in
/// order (`None` as for `SendQueue::store`). A batch the database rejects (a constraint, a concurrent duplicate
/// `client_msg_id`, a deadlock) rolls back whole and is retried one send at
/// a time, so a bad send fails alone. A second send with the same
/// `(sender_id, client_msg_id)` as an earlier one in the batch runs after
/// the batch: it then finds that one's message, or is stored itself if
/// that one failed.
pub async fn store_batch(db: &PgPool, news: Vec<NewMessage>) -> Vec<AppResult<Option<Stored>>> {
    let mut seen = HashSet::new();
    let (mut first, mut batch, mut repeats) = (Vec::new(), Vec::new(), Vec::new());
    for (i, n) in news.into_iter().enumerate() {
        let new_key = match &n.client_msg_id {
            Some(cmid) => seen.insert((n.conversation_id, n.sender_id, cmid.clone())),
            None => true,
        };
        if new_key {
            first.push(i);
            batch.push(n);
        } else {
            repeats.push((i, n));
        }
    }
    let mut answers: Vec<(usize, AppResult<Option<Stored>>)> = Vec::with_capacity(first.len());
    if batch.len() == 1 {
        answers.push((first[0], store_one(db, &batch[0]).await));
    } else if !batch.is_empty() {
        match insert_in_order(db, &batch).await {
            Ok(rows) => {
                let mut stored: Vec<Option<Stored>> = (0..batch.len()).map(|_| None).collect();
                for row in rows {
                    let i = row.index;
                    stored[i] = Some(Stored { index: 0, ..row });
                }
                for (i, s) in first.iter().zip(stored) {
                    answers.push((*i, Ok(s)));
                }
            }
            Err(e) if e.as_database_error().is_some() => {
                tracing::warn!(error = %e, sends = batch.len(), "batched send rejected; storing one by one");
                for (i, n) in first.iter().zip(&batch) {
                    answers.push((*i, store_one(db, n).await));
                }
            }
            Err(e) => {
                // no answer from the database: whether the batch committed is
                // unknown, so nothing is retried and every send reports it
                tracing::error!(error = %e, sends = batch.len(), "batched send failed");
                for i in &first {
                    answers.push((*i, Err(AppError::Database(copy_error(&e)))));
                }
            }
        }
    }
    for (i, n) in &repeats {
        answers.push((*i, store_one(db, n).await));
    }
    answers.sort_by_key(|(i, _)| *i);
    answers.into_iter().map(|(_, a)| a).collect()
}

/// The batch in one transaction, its rows locked in a fixed order first (see
/// `sends::lock_in_order`): replicas sharing conversations never deadlock.
pub async fn insert_in_order(
    db: &PgPool,
    batch: &[NewMessage],
) -> Result<Vec<Stored>, sqlx::Error> {
    let mut tx = db.begin().await?;
    sends::lock_in_order(&mut *tx, batch).await?;
    let rows = sends::insert(&mut *tx, batch).await?;
    tx.commit().await?;
    Ok(rows)
}

/// One send in its own statement; `None` when the sender is not a member of
/// the conversation (or it does not exist). A concurrent send with the same
/// `(sender_id, client_msg_id)` that committed first makes ours fail on the
/// unique key, which rolls back the `seq` it took; we return that original.
pub async fn store_one(db: &PgPool, new: &NewMessage) -> AppResult<Option<Stored>> {
    match sends::insert_one(db, new).await {
        Ok(stored) => Ok(stored),
        Err(e) if is_client_msg_id_conflict(&e) => {
            let cmid = new.client_msg_id.as_deref().unwrap_or_default();
            let original =
                messages_repo::find_by_client_msg_id(db, new.conversation_id, new.sender_id, cmid)
                    .await?
                    .ok_or_else(|| AppError::internal("idempotent send lost its original"))?;
            Ok(Some(Stored {
                index: 0,
                created: false,
                message: original,
            }))
        }
        Err(e) => Err(e.into()),
    }
}

/// `messages_client_msg_id_key`, which Postgres reports by the name of its
/// index in the partition (`messages_pNN_..._client_msg_id_key`).
fn is_client_msg_id_conflict(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| {
        d.code().as_deref() == Some("23505")
            && d.constraint()
                .is_some_and(|c| c.starts_with("messages") && c.ends_with("client_msg_id_key"))
    })
}

/// `sqlx::Error` is not `Clone`; every send of a failed batch gets an equal one.
pub(crate) fn copy_error(e: &sqlx::Error) -> sqlx::Error {
    match e {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        sqlx::Error::Io(io) => sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        other => sqlx::Error::Protocol(other.to_string()),
    }
}
