//! Where a streaming replica stands against its primary (WAL positions).

use sqlx::PgPool;

/// The primary's current WAL position, as text (`pg_lsn`).
pub async fn primary_position(primary: &PgPool) -> sqlx::Result<String> {
    sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
        .fetch_one(primary)
        .await
}

/// Whether the replica has replayed the WAL up to `position`; false on a
/// server that is not a standby (no replay position).
pub async fn replayed(replica: &PgPool, position: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT COALESCE(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)")
        .bind(position)
        .fetch_one(replica)
        .await
}
