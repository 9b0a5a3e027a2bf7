-- Upload URLs issued by POST /api/v1/files/upload-url. A message may name an
-- object only if its key was issued to the sender (with this kind, type and
-- size); the row is the proof, and the record of what each user uploaded.
CREATE TABLE file_uploads (
    object_key    TEXT PRIMARY KEY CHECK (octet_length(object_key) BETWEEN 1 AND 512),
    user_id       UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('image', 'file', 'voice')),
    content_type  TEXT NOT NULL CHECK (length(content_type) BETWEEN 3 AND 255),
    size_bytes    BIGINT NOT NULL CHECK (size_bytes > 0),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- a user's uploads, newest first (quota and cleanup queries)
CREATE INDEX idx_file_uploads_user ON file_uploads(user_id, created_at DESC);
