-- The change feed (GET /api/v1/sync): one row per change, written by
-- triggers in the transaction of the change itself, so no path that changes
-- a conversation can forget it. Rows name what changed (ids); the feed reads
-- the current state when it answers.
--
-- Keyed by conversation: a message, an edit, a delete, a reaction, a poll
-- change or a membership change is ONE row whatever the conversation's size
-- (user_id NULL: every member who had joined by then sees it). Rows for one
-- user only (user_id set): that user's read-mark moves, receipts on messages
-- they sent (one per receipt, as message_status itself), and their own
-- removal (they are no longer a member to see the conversation's row).
--
-- Order: (tx, id). `tx` is the writing transaction's id; the feed serves only
-- rows of transactions older than every transaction still running
-- (pg_snapshot_xmin), so a row that commits later can never land behind a
-- cursor already handed out.
CREATE TABLE sync_changes (
    conversation_id  UUID NOT NULL,
    id               BIGINT GENERATED ALWAYS AS IDENTITY,
    tx               BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    user_id          UUID,
    kind             TEXT NOT NULL CHECK (kind IN (
                        'message_created', 'message_updated', 'message_deleted',
                        'reactions_changed', 'poll_updated', 'receipt', 'read',
                        'member_added', 'member_removed', 'member_updated',
                        'conversation_updated')),
    -- the message, poll or member the change is about
    subject_id       UUID,
    -- a receipt's reader, a member change's member
    other_id         UUID,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, id)
);
-- a user's feed: one probe per conversation of theirs, and one for their own rows
CREATE INDEX idx_sync_changes_conversation_position ON sync_changes (conversation_id, tx, id);
CREATE INDEX idx_sync_changes_user_position ON sync_changes (user_id, tx, id) WHERE user_id IS NOT NULL;
-- retention (SYNC_RETENTION_DAYS)
CREATE INDEX idx_sync_changes_created ON sync_changes (created_at);

CREATE FUNCTION sync_record(p_conversation UUID, p_user UUID, p_kind TEXT, p_subject UUID, p_other UUID)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO sync_changes (conversation_id, user_id, kind, subject_id, other_id)
    VALUES (p_conversation, p_user, p_kind, p_subject, p_other)
$$;

CREATE FUNCTION sync_on_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM sync_record(NEW.conversation_id, NULL, 'message_created', NEW.id, NULL);
    ELSIF NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN
        PERFORM sync_record(NEW.conversation_id, NULL, 'message_deleted', NEW.id, NULL);
    ELSIF NEW.content IS DISTINCT FROM OLD.content OR NEW.edited_at IS DISTINCT FROM OLD.edited_at THEN
        PERFORM sync_record(NEW.conversation_id, NULL, 'message_updated', NEW.id, NULL);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER sync_messages AFTER INSERT OR UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION sync_on_message();

CREATE FUNCTION sync_on_reaction() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r RECORD;
BEGIN
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    PERFORM sync_record(r.conversation_id, NULL, 'reactions_changed', r.message_id, NULL);
    RETURN NULL;
END $$;
CREATE TRIGGER sync_reactions AFTER INSERT OR DELETE ON reactions
    FOR EACH ROW EXECUTE FUNCTION sync_on_reaction();

-- every change of a poll's votes or state bumps its version
CREATE FUNCTION sync_on_poll() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.version IS DISTINCT FROM OLD.version THEN
        PERFORM sync_record(NEW.conversation_id, NULL, 'poll_updated', NEW.id, NULL);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER sync_polls AFTER INSERT OR UPDATE ON polls
    FOR EACH ROW EXECUTE FUNCTION sync_on_poll();

-- a receipt, for the message's sender only
CREATE FUNCTION sync_on_receipt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT'
       OR NEW.read_at IS DISTINCT FROM OLD.read_at
       OR NEW.delivered_at IS DISTINCT FROM OLD.delivered_at THEN
        PERFORM sync_record(m.conversation_id, m.sender_id, 'receipt', m.id, NEW.user_id)
           FROM messages m WHERE m.conversation_id = NEW.conversation_id AND m.id = NEW.message_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER sync_receipts AFTER INSERT OR UPDATE ON message_status
    FOR EACH ROW EXECUTE FUNCTION sync_on_receipt();

CREATE FUNCTION sync_on_member() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM sync_record(NEW.conversation_id, NULL, 'member_added', NULL, NEW.user_id);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM sync_record(OLD.conversation_id, NULL, 'member_removed', NULL, OLD.user_id);
        PERFORM sync_record(OLD.conversation_id, OLD.user_id, 'member_removed', NULL, OLD.user_id);
    ELSE
        IF NEW.last_read_seq IS DISTINCT FROM OLD.last_read_seq THEN
            PERFORM sync_record(NEW.conversation_id, NEW.user_id, 'read', NULL, NEW.user_id);
        END IF;
        IF NEW.role IS DISTINCT FROM OLD.role THEN
            PERFORM sync_record(NEW.conversation_id, NULL, 'member_updated', NULL, NEW.user_id);
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER sync_members AFTER INSERT OR UPDATE OR DELETE ON conversation_members
    FOR EACH ROW EXECUTE FUNCTION sync_on_member();

CREATE FUNCTION sync_on_conversation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.title IS DISTINCT FROM OLD.title THEN
        PERFORM sync_record(NEW.id, NULL, 'conversation_updated', NULL, NULL);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER sync_conversations AFTER UPDATE OF title ON conversations
    FOR EACH ROW EXECUTE FUNCTION sync_on_conversation();
