use chrono::{DateTime, Utc};
use shared_types::files::FileKind;
use uuid::Uuid;

/// `file_uploads.kind` as stored; an unknown value fails to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum DbFileKind {
    Image,
    File,
    Voice,
}

impl From<FileKind> for DbFileKind {
    fn from(kind: FileKind) -> Self {
        match kind {
            FileKind::Image => Self::Image,
            FileKind::File => Self::File,
            FileKind::Voice => Self::Voice,
        }
    }
}

impl From<DbFileKind> for FileKind {
    fn from(kind: DbFileKind) -> Self {
        match kind {
            DbFileKind::Image => Self::Image,
            DbFileKind::File => Self::File,
            DbFileKind::Voice => Self::Voice,
        }
    }
}

/// An issued upload: the object key belongs to `user_id`, for this kind, type and size.
#[derive(Debug, Clone)]
pub struct UploadRow {
    pub object_key: String,
    /// Local `users.id`.
    pub user_id: Uuid,
    pub kind: DbFileKind,
    pub content_type: String,
    pub size_bytes: i64,
    pub created_at: DateTime<Utc>,
}
