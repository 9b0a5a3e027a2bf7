//! `denied_users`: the users TMS deleted, and when.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Records a deletion at `at` (a later one moves it forward).
pub async fn deny(pool: &PgPool, tms_user_id: &str, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO denied_users (tms_user_id, denied_at) VALUES ($1, $2)
         ON CONFLICT (tms_user_id) DO UPDATE SET denied_at = GREATEST(denied_users.denied_at, EXCLUDED.denied_at)",
        tms_user_id,
        at
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletions since `since`, after dropping the older ones.
pub async fn since(
    pool: &PgPool,
    since: DateTime<Utc>,
) -> Result<Vec<(String, DateTime<Utc>)>, sqlx::Error> {
    sqlx::query!("DELETE FROM denied_users WHERE denied_at < $1", since)
        .execute(pool)
        .await?;
    let rows = sqlx::query!(
        "SELECT tms_user_id, denied_at FROM denied_users WHERE denied_at >= $1",
        since
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.tms_user_id, r.denied_at))
        .collect())
}
