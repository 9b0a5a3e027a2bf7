//! Storing sends. `store_one` runs the send statement for one message;
//! the queue (group commit) stores concurrent sends in one statement.

use sqlx::PgPool;

use crate::error::{AppError, AppResult};
use crate::repositories::messages as messages_repo;
use crate::repositories::sends::{self, NewMessage, Stored};

/// One send in its own statement. A concurrent send with the same
/// `(sender_id, client_msg_id)` that committed first makes ours fail on the
/// unique key, which rolls back the `seq` it took; we return that original.
pub async fn store_one(db: &PgPool, new: &NewMessage) -> AppResult<Stored> {
    match sends::insert(db, std::slice::from_ref(new)).await {
        Ok(rows) => rows
            .into_iter()
            .next()
            .ok_or_else(|| AppError::not_found("conversation")),
        Err(e) if is_client_msg_id_conflict(&e) => {
            let cmid = new.client_msg_id.as_deref().unwrap_or_default();
            let original = messages_repo::find_by_client_msg_id(db, new.sender_id, cmid)
                .await?
                .ok_or_else(|| AppError::internal("idempotent send lost its original"))?;
            Ok(Stored {
                index: 0,
                created: false,
                message: original,
            })
        }
        Err(e) => Err(e.into()),
    }
}

fn is_client_msg_id_conflict(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.constraint() == Some("messages_sender_client_msg_id_key"))
}
