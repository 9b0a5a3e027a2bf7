use sqlx::PgExecutor;

use crate::models::file::{DbFileKind, UploadRow};

/// Records an issued upload URL.
pub async fn insert(db: impl PgExecutor<'_>, upload: &UploadRow) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO file_uploads (object_key, user_id, kind, content_type, size_bytes, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        upload.object_key,
        upload.user_id,
        upload.kind as _,
        upload.content_type,
        upload.size_bytes,
        upload.created_at,
    )
    .execute(db)
    .await
    .map(drop)
}

/// The upload issued under `object_key`, if any.
pub async fn find(
    db: impl PgExecutor<'_>,
    object_key: &str,
) -> Result<Option<UploadRow>, sqlx::Error> {
    sqlx::query_as!(
        UploadRow,
        r#"SELECT object_key, user_id, kind AS "kind: DbFileKind", content_type, size_bytes, created_at
           FROM file_uploads WHERE object_key = $1"#,
        object_key,
    )
    .fetch_optional(db)
    .await
}
