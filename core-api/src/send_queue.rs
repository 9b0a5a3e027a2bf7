//! Storing sends with group commit (see `group_commit`): concurrent sends
//! are stored by one statement (one transaction, one commit) instead of one
//! each, each answered after its batch committed. A batch's conversations
//! and senders' member rows are locked in one fixed order first, so batches
//! of different replicas never deadlock.

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::group_commit::{self, GroupCommit, Queue};
use crate::repositories::messages as messages_repo;
use crate::repositories::sends::{self, NewMessage, Stored};

/// Sends, each answered `None` when not stored: the sender is not a member
/// or the conversation does not exist.
pub struct Sends;

pub type SendQueue = Queue<Sends>;

impl GroupCommit for Sends {
    type Item = NewMessage;
    type Answer = Option<Stored>;
    /// A second send with the same `(sender_id, client_msg_id)` as an earlier
    /// one in the batch runs after the batch: it then finds that one's
    /// message, or is stored itself if that one failed.
    type Key = (Uuid, Uuid, String);
    const NAME: &'static str = "send";

    fn conversation(new: &NewMessage) -> Uuid {
        new.conversation_id
    }

    fn key(new: &NewMessage) -> Option<Self::Key> {
        let cmid = new.client_msg_id.clone()?;
        Some((new.conversation_id, new.sender_id, cmid))
    }

    fn pool(db: &PgPool) -> PgPool {
        generic_plan_pool(db)
    }

    async fn run_batch(
        db: &PgPool,
        batch: &[NewMessage],
    ) -> Result<Vec<Option<Stored>>, sqlx::Error> {
        let rows = insert_in_order(db, batch).await?;
        let mut stored: Vec<Option<Stored>> = (0..batch.len()).map(|_| None).collect();
        for row in rows {
            let i = row.index;
            stored[i] = Some(Stored { index: 0, ..row });
        }
        Ok(stored)
    }

    async fn run_one(db: &PgPool, new: &NewMessage) -> AppResult<Option<Stored>> {
        store_one(db, new).await
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

/// Stores `news` in one statement where possible; one answer per send, in
/// order (`None` as for `Sends`). A batch the database rejects (a constraint,
/// a concurrent duplicate `client_msg_id`, a deadlock) rolls back whole and
/// is retried one send at a time, so a bad send fails alone.
pub async fn store_batch(db: &PgPool, news: Vec<NewMessage>) -> Vec<AppResult<Option<Stored>>> {
    group_commit::commit_batch::<Sends>(db, news).await
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
