-- A member's own settings of a conversation. On the membership row: they
-- belong to it, and go with it when the member leaves or is removed.
ALTER TABLE conversation_members
    ADD COLUMN notification_level TEXT NOT NULL DEFAULT 'all'
        CHECK (notification_level IN ('all', 'mentions', 'none')),
    ADD COLUMN muted_until TIMESTAMPTZ,
    ADD COLUMN pinned BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN archived BOOLEAN NOT NULL DEFAULT false;
