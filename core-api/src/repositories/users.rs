use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// The local id of a TMS user, creating the reference row on first sight.
pub async fn ensure(pool: &PgPool, tms_user_id: &str) -> Result<Uuid, sqlx::Error> {
    // read first: the hot path is a user we already know, and reads don't lock
    if let Some(id) =
        sqlx::query_scalar!("SELECT id FROM users WHERE tms_user_id = $1", tms_user_id)
            .fetch_optional(pool)
            .await?
    {
        return Ok(id);
    }
    sqlx::query_scalar!(
        "INSERT INTO users (tms_user_id) VALUES ($1)
         ON CONFLICT ON CONSTRAINT users_tms_user_id_key
         DO UPDATE SET last_seen_at = now()
         RETURNING id",
        tms_user_id
    )
    .fetch_one(pool)
    .await
}

/// Local ids for several TMS users, creating missing rows. Order follows the input.
pub async fn ensure_many(
    conn: &mut sqlx::PgConnection,
    tms_user_ids: &[String],
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query!(
        "INSERT INTO users (tms_user_id) SELECT unnest($1::text[])
         ON CONFLICT ON CONSTRAINT users_tms_user_id_key DO NOTHING",
        tms_user_ids
    )
    .execute(&mut *conn)
    .await?;
    let rows = sqlx::query!(
        "SELECT tms_user_id, id FROM users WHERE tms_user_id = ANY($1)",
        tms_user_ids
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(tms_user_ids
        .iter()
        .filter_map(|t| rows.iter().find(|r| &r.tms_user_id == t).map(|r| r.id))
        .collect())
}

pub async fn find(db: impl PgExecutor<'_>, tms_user_id: &str) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!("SELECT id FROM users WHERE tms_user_id = $1", tms_user_id)
        .fetch_optional(db)
        .await
}
