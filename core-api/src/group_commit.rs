//! Group commit: concurrent writes (sends, receipts) are stored by one
//! statement (one transaction, one commit) instead of one each. What a write
//! is and how a batch and a lone one are stored is a `GroupCommit`; the
//! queue, the batching and the answers are here, the same for every kind.
//!
//! Each writer task takes whatever items are queued (up to `max_batch`) as
//! soon as its previous batch has committed, so batches grow with the load
//! and a lone item waits for nothing. An item is answered only after its
//! batch committed. A conversation always goes to the same writer, so two
//! writers of one replica never wait on each other's conversation rows and
//! the items of one conversation keep their order; a batch of any replica
//! locks its rows in one fixed order (its `run_batch`), so they never
//! deadlock.

use std::collections::HashSet;
use std::future::Future;
use std::hash::Hash;

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Items waiting per writer before callers wait to enqueue.
const QUEUE_DEPTH: usize = 4096;

/// One kind of write stored with group commit.
pub trait GroupCommit: 'static {
    type Item: Send + Sync + 'static;
    /// What the caller gets once its item committed.
    type Answer: Send + 'static;
    /// Items with equal keys do not share a batch (one statement cannot
    /// update a row twice; a repeated send must find the first): a later one
    /// runs on its own after the batch, and sees what the earlier one stored.
    type Key: Eq + Hash + Send;
    /// For errors and logs: "send", "receipt".
    const NAME: &'static str;

    /// The conversation an item writes to, which picks its writer.
    fn conversation(item: &Self::Item) -> Uuid;
    /// `None`: never a repeat of another item.
    fn key(item: &Self::Item) -> Option<Self::Key>;
    /// The pool the writes go through (default: the one given to `start`).
    fn pool(db: &PgPool) -> PgPool {
        db.clone()
    }
    /// The batch (of two or more, no two with one key) in one transaction,
    /// its rows locked in the fixed order first; one answer per item, in order.
    fn run_batch(
        db: &PgPool,
        batch: &[Self::Item],
    ) -> impl Future<Output = Result<Vec<Self::Answer>, sqlx::Error>> + Send;
    /// One item on its own (and every item of a batch the database rejected).
    fn run_one(
        db: &PgPool,
        item: &Self::Item,
    ) -> impl Future<Output = AppResult<Self::Answer>> + Send;
}

struct Job<G: GroupCommit> {
    item: G::Item,
    reply: oneshot::Sender<AppResult<G::Answer>>,
}

pub struct Queue<G: GroupCommit> {
    db: PgPool,
    writers: Vec<mpsc::Sender<Job<G>>>,
}

impl<G: GroupCommit> Clone for Queue<G> {
    fn clone(&self) -> Self {
        Self {
            db: self.db.clone(),
            writers: self.writers.clone(),
        }
    }
}

impl<G: GroupCommit> Queue<G> {
    /// Starts `writers` writer tasks; with `max_batch` <= 1 or no writers,
    /// each item runs on its own in the caller's task.
    pub fn start(db: PgPool, writers: usize, max_batch: usize) -> Self {
        let db = G::pool(&db);
        let writers = if max_batch <= 1 { 0 } else { writers };
        let writers = (0..writers)
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
                tokio::spawn(run::<G>(db.clone(), rx, max_batch));
                tx
            })
            .collect();
        Self { db, writers }
    }

    /// The pool the writes go through, for the pool metrics.
    pub fn pool(&self) -> &PgPool {
        &self.db
    }

    /// Stores one item; returns once it is committed (or failed).
    pub async fn commit(&self, item: G::Item) -> AppResult<G::Answer> {
        if self.writers.is_empty() {
            return G::run_one(&self.db, &item).await;
        }
        let writer = (G::conversation(&item).as_u128() % self.writers.len() as u128) as usize;
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError(job)) =
            self.writers[writer].send(Job { item, reply }).await
        {
            // the writer is gone (runtime shutting down): store it here
            return G::run_one(&self.db, &job.item).await;
        }
        answer.await.map_err(|_| {
            AppError::internal(format!("{} writer stopped before answering", G::NAME))
        })?
    }
}

async fn run<G: GroupCommit>(db: PgPool, mut rx: mpsc::Receiver<Job<G>>, max_batch: usize) {
    let mut jobs = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut jobs, max_batch).await > 0 {
        let (items, replies): (Vec<_>, Vec<_>) = jobs.drain(..).map(|j| (j.item, j.reply)).unzip();
        let answers = commit_batch::<G>(&db, items).await;
        for (reply, answer) in replies.into_iter().zip(answers) {
            // the caller may have gone away; its item is stored all the same
            let _ = reply.send(answer);
        }
    }
}

/// Stores `items` in one transaction where possible; one answer per item, in
/// order. A batch the database rejects (a constraint, a concurrent duplicate,
/// a deadlock) rolls back whole and is retried one item at a time, so a bad
/// item fails alone. A repeat of an earlier item of the batch (same key) runs
/// after the batch, on its own: it then sees what that one stored.
pub async fn commit_batch<G: GroupCommit>(
    db: &PgPool,
    items: Vec<G::Item>,
) -> Vec<AppResult<G::Answer>> {
    let mut seen = HashSet::new();
    let (mut first, mut batch, mut repeats) = (Vec::new(), Vec::new(), Vec::new());
    for (i, item) in items.into_iter().enumerate() {
        if G::key(&item).is_none_or(|k| seen.insert(k)) {
            first.push(i);
            batch.push(item);
        } else {
            repeats.push((i, item));
        }
    }
    let mut answers: Vec<(usize, AppResult<G::Answer>)> = Vec::with_capacity(first.len());
    if batch.len() == 1 {
        answers.push((first[0], G::run_one(db, &batch[0]).await));
    } else if !batch.is_empty() {
        match G::run_batch(db, &batch).await {
            Ok(done) if done.len() == batch.len() => {
                answers.extend(first.iter().copied().zip(done.into_iter().map(Ok)));
            }
            Ok(_) => {
                for i in &first {
                    let e = AppError::internal(format!("a batched {} was not stored", G::NAME));
                    answers.push((*i, Err(e)));
                }
            }
            Err(e) if e.as_database_error().is_some() => {
                tracing::warn!(error = %e, kind = G::NAME, items = batch.len(), "batch rejected; storing one by one");
                for (i, item) in first.iter().zip(&batch) {
                    answers.push((*i, G::run_one(db, item).await));
                }
            }
            Err(e) => {
                // no answer from the database: whether the batch committed is
                // unknown, so nothing is retried and every item reports it
                tracing::error!(error = %e, kind = G::NAME, items = batch.len(), "batch failed");
                for i in &first {
                    answers.push((*i, Err(AppError::Database(copy_error(&e)))));
                }
            }
        }
    }
    for (i, item) in &repeats {
        answers.push((*i, G::run_one(db, item).await));
    }
    answers.sort_by_key(|(i, _)| *i);
    answers.into_iter().map(|(_, a)| a).collect()
}

/// `sqlx::Error` is not `Clone`; every item of a failed batch gets an equal one.
fn copy_error(e: &sqlx::Error) -> sqlx::Error {
    match e {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        sqlx::Error::Io(io) => sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// What a test item does when stored.
    #[derive(Clone, Copy, PartialEq)]
    enum Does {
        Store,
        /// The database refuses it, in a batch and alone.
        Reject,
        /// Its batch gets no answer (connection lost).
        Lose,
        /// Its batch answers one item less than it holds.
        Drop,
    }

    #[derive(Clone)]
    struct Item {
        id: u32,
        key: Option<u32>,
        does: Does,
        /// The calls, as `batch 1,2` or `one 3`.
        log: Arc<Mutex<Vec<String>>>,
    }

    struct Fake;

    impl GroupCommit for Fake {
        type Item = Item;
        type Answer = u32;
        type Key = u32;
        const NAME: &'static str = "fake";

        fn conversation(item: &Item) -> Uuid {
            Uuid::from_u128(u128::from(item.id))
        }
        fn key(item: &Item) -> Option<u32> {
            item.key
        }
        async fn run_batch(_: &PgPool, batch: &[Item]) -> Result<Vec<u32>, sqlx::Error> {
            let ids: Vec<String> = batch.iter().map(|i| i.id.to_string()).collect();
            batch[0]
                .log
                .lock()
                .unwrap()
                .push(format!("batch {}", ids.join(",")));
            if batch.iter().any(|i| i.does == Does::Reject) {
                return Err(sqlx::Error::Database(Box::new(Refused)));
            }
            if batch.iter().any(|i| i.does == Does::Lose) {
                return Err(sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into()));
            }
            let short = batch.iter().any(|i| i.does == Does::Drop);
            Ok(batch
                .iter()
                .skip(usize::from(short))
                .map(|i| i.id)
                .collect())
        }
        async fn run_one(_: &PgPool, item: &Item) -> AppResult<u32> {
            item.log.lock().unwrap().push(format!("one {}", item.id));
            match item.does {
                Does::Reject => Err(AppError::validation("refused")),
                _ => Ok(item.id),
            }
        }
    }

    #[derive(Debug)]
    struct Refused;
    impl std::fmt::Display for Refused {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("refused")
        }
    }
    impl std::error::Error for Refused {}
    impl sqlx::error::DatabaseError for Refused {
        fn message(&self) -> &str {
            "refused"
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::CheckViolation
        }
    }

    fn items(spec: &[(u32, Option<u32>, Does)]) -> (Vec<Item>, Arc<Mutex<Vec<String>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let items = spec
            .iter()
            .map(|&(id, key, does)| Item {
                id,
                key,
                does,
                log: log.clone(),
            })
            .collect();
        (items, log)
    }

    fn pool() -> PgPool {
        PgPool::connect_lazy("postgres://nobody@127.0.0.1:1/none").unwrap()
    }

    fn ids(answers: &[AppResult<u32>]) -> Vec<Option<u32>> {
        answers.iter().map(|a| a.as_ref().ok().copied()).collect()
    }

    #[tokio::test]
    async fn a_batch_runs_once_and_repeats_run_after_it_in_order() {
        let (batch, log) = items(&[
            (1, Some(7), Does::Store),
            (2, None, Does::Store),
            (3, Some(7), Does::Store), // a repeat of 1
            (4, None, Does::Store),
        ]);
        let answers = commit_batch::<Fake>(&pool(), batch).await;
        assert_eq!(ids(&answers), [Some(1), Some(2), Some(3), Some(4)]);
        assert_eq!(*log.lock().unwrap(), ["batch 1,2,4", "one 3"]);
    }

    #[tokio::test]
    async fn a_rejected_batch_is_retried_one_by_one_and_the_bad_item_fails_alone() {
        let (batch, log) = items(&[
            (1, None, Does::Store),
            (2, None, Does::Reject),
            (3, None, Does::Store),
        ]);
        let answers = commit_batch::<Fake>(&pool(), batch).await;
        assert_eq!(ids(&answers), [Some(1), None, Some(3)]);
        assert_eq!(
            *log.lock().unwrap(),
            ["batch 1,2,3", "one 1", "one 2", "one 3"]
        );
    }

    #[tokio::test]
    async fn a_batch_without_an_answer_is_not_retried_and_each_item_gets_the_error() {
        let (batch, log) = items(&[(1, None, Does::Store), (2, None, Does::Lose)]);
        let answers = commit_batch::<Fake>(&pool(), batch).await;
        for a in &answers {
            assert!(matches!(a, Err(AppError::Database(sqlx::Error::Io(_)))));
        }
        assert_eq!(answers.len(), 2);
        assert_eq!(*log.lock().unwrap(), ["batch 1,2"]);
    }

    #[tokio::test]
    async fn a_batch_answered_short_fails_each_item_without_a_retry() {
        let (batch, log) = items(&[(1, None, Does::Store), (2, None, Does::Drop)]);
        let answers = commit_batch::<Fake>(&pool(), batch).await;
        assert!(answers
            .iter()
            .all(|a| matches!(a, Err(AppError::Internal(_)))));
        assert_eq!(answers.len(), 2);
        assert_eq!(*log.lock().unwrap(), ["batch 1,2"]);
    }

    #[tokio::test]
    async fn a_lone_item_runs_on_its_own() {
        let (batch, log) = items(&[(1, None, Does::Store)]);
        assert_eq!(ids(&commit_batch::<Fake>(&pool(), batch).await), [Some(1)]);
        assert_eq!(*log.lock().unwrap(), ["one 1"]);
    }

    #[tokio::test]
    async fn the_queue_answers_every_item_with_its_own_answer() {
        let queue = Queue::<Fake>::start(pool(), 2, 4);
        let (batch, log) = items(&(1..=20).map(|i| (i, None, Does::Store)).collect::<Vec<_>>());
        let answers =
            futures_util::future::join_all(batch.into_iter().map(|i| queue.commit(i))).await;
        assert_eq!(ids(&answers), (1..=20).map(Some).collect::<Vec<_>>());
        let log = log.lock().unwrap();
        let stored: usize = log.iter().map(|l| l.split(',').count()).sum();
        assert_eq!(stored, 20, "each item stored once: {log:?}");
        assert!(
            log.iter().all(|l| l.split(',').count() <= 4),
            "batches of at most 4: {log:?}"
        );
    }

    #[tokio::test]
    async fn without_batching_each_item_runs_in_the_callers_task() {
        let queue = Queue::<Fake>::start(pool(), 2, 1);
        let (batch, log) = items(&[(1, None, Does::Store), (2, None, Does::Reject)]);
        let mut answers = Vec::new();
        for item in batch {
            answers.push(queue.commit(item).await);
        }
        assert_eq!(ids(&answers), [Some(1), None]);
        assert_eq!(*log.lock().unwrap(), ["one 1", "one 2"]);
    }
}
