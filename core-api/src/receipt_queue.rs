//! Storing receipts with group commit (see `group_commit`), as sends are
//! stored: concurrent receipts are marked by one statement (one transaction,
//! one commit), each answered after its batch committed. The readers' rows
//! are locked in a fixed order, the one send batches use, so batches of
//! replicas never deadlock.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::AppResult;
use crate::group_commit::{self, GroupCommit, Queue};
use crate::repositories::messages as messages_repo;
use crate::repositories::receipts::{self as repo, NewReceipt};

/// `(delivered_at, read_at)` after the mark.
pub type Marks = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Delivery and read receipts.
pub struct Receipts;

pub type ReceiptQueue = Queue<Receipts>;

impl GroupCommit for Receipts {
    type Item = NewReceipt;
    type Answer = Marks;
    /// A repeat of an earlier receipt of the batch (same message and reader)
    /// runs after the batch, on its own.
    type Key = (Uuid, Uuid, Uuid);
    const NAME: &'static str = "receipt";

    fn conversation(r: &NewReceipt) -> Uuid {
        r.conversation_id
    }

    fn key(r: &NewReceipt) -> Option<Self::Key> {
        Some((r.conversation_id, r.message_id, r.user_id))
    }

    async fn run_batch(db: &PgPool, batch: &[NewReceipt]) -> Result<Vec<Marks>, sqlx::Error> {
        mark_in_order(db, batch).await
    }

    async fn run_one(db: &PgPool, r: &NewReceipt) -> AppResult<Marks> {
        mark_one(db, r).await
    }
}

/// Marks `receipts` in one transaction where possible; one answer per
/// receipt, in order. A batch the database rejects is retried one receipt
/// at a time.
pub async fn mark_batch(db: &PgPool, receipts: Vec<NewReceipt>) -> Vec<AppResult<Marks>> {
    group_commit::commit_batch::<Receipts>(db, receipts).await
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
