-- Keys by conversation: every table that grows with the traffic of a
-- conversation carries `conversation_id` in its primary key and in every
-- unique key, so it can be split by conversation (Postgres partitioning here,
-- a distributed Postgres such as Citus later: both require the split column
-- in every primary and unique key). Messages, receipts and reactions are
-- hash-partitioned by `conversation_id` into 16 partitions: a history page or
-- a send touches one partition. Polls, their options and votes are keyed by
-- conversation but stay single tables (they grow with polls, not messages).
--
-- Existing rows move: each old table is renamed, its replacement created and
-- filled from it, then the old one dropped, all in this migration's
-- transaction. Self-contained: later migrations may add columns to
-- `messages` (the partitions follow the parent).
--
-- What changes for the queries: a message is named by (conversation_id, id);
-- idempotency is per (conversation_id, sender_id, client_msg_id); a reply
-- names a message of its own conversation.

-- 1. Out of the way: the old tables and the keys that reference them.
ALTER TABLE polls DROP CONSTRAINT polls_message_id_fkey;
DROP INDEX polls_message_id_key;
ALTER TABLE poll_votes DROP CONSTRAINT poll_votes_option_of_poll_fkey;
ALTER TABLE poll_votes DROP CONSTRAINT poll_votes_option_id_fkey;
ALTER TABLE poll_votes DROP CONSTRAINT poll_votes_poll_id_fkey;
ALTER TABLE poll_options DROP CONSTRAINT poll_options_poll_id_fkey;

ALTER TABLE message_status RENAME TO message_status_old;
ALTER TABLE reactions RENAME TO reactions_old;
ALTER TABLE messages RENAME TO messages_old;
ALTER TABLE messages_old RENAME CONSTRAINT messages_conversation_seq_key TO messages_old_conversation_seq_key;
ALTER TABLE messages_old RENAME CONSTRAINT messages_sender_client_msg_id_key TO messages_old_sender_client_msg_id_key;
ALTER TABLE messages_old RENAME CONSTRAINT messages_pkey TO messages_old_pkey;
ALTER TABLE message_status_old RENAME CONSTRAINT message_status_pkey TO message_status_old_pkey;
ALTER TABLE reactions_old RENAME CONSTRAINT reactions_pkey TO reactions_old_pkey;
DROP INDEX idx_messages_conversation_created;
DROP INDEX idx_messages_reply_to;
DROP INDEX idx_message_status_user;

-- 2. Messages.
CREATE TABLE messages (
    id               UUID NOT NULL DEFAULT gen_random_uuid(),
    conversation_id  UUID NOT NULL CONSTRAINT messages_conversation_id_fkey
                     REFERENCES conversations(id) ON DELETE CASCADE,
    seq              BIGINT NOT NULL CONSTRAINT messages_seq_check CHECK (seq > 0),
    sender_id        UUID NOT NULL CONSTRAINT messages_sender_id_fkey REFERENCES users(id),
    kind             TEXT NOT NULL CONSTRAINT messages_kind_check
                     CHECK (kind IN ('text', 'image', 'file', 'voice', 'system', 'poll')),
    content          TEXT,
    attachment       JSONB,
    reply_to_id      UUID,
    client_msg_id    TEXT CONSTRAINT messages_client_msg_id_check
                     CHECK (client_msg_id IS NULL OR length(client_msg_id) BETWEEN 1 AND 64),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    edited_at        TIMESTAMPTZ,
    deleted_at       TIMESTAMPTZ,
    CONSTRAINT messages_pkey PRIMARY KEY (conversation_id, id),
    CONSTRAINT messages_conversation_seq_key UNIQUE (conversation_id, seq),
    -- a retried send returns the original
    CONSTRAINT messages_client_msg_id_key UNIQUE (conversation_id, sender_id, client_msg_id),
    -- a reply names a message of the same conversation; deleting that one
    -- (only a conversation's deletion does) clears the reference alone
    CONSTRAINT messages_reply_to_fkey FOREIGN KEY (conversation_id, reply_to_id)
        REFERENCES messages (conversation_id, id) ON DELETE SET NULL (reply_to_id)
) PARTITION BY HASH (conversation_id);

CREATE TABLE message_status (
    conversation_id  UUID NOT NULL,
    message_id       UUID NOT NULL,
    user_id          UUID NOT NULL CONSTRAINT message_status_user_id_fkey
                     REFERENCES users(id) ON DELETE CASCADE,
    delivered_at     TIMESTAMPTZ,
    read_at          TIMESTAMPTZ,
    CONSTRAINT message_status_pkey PRIMARY KEY (conversation_id, message_id, user_id),
    CONSTRAINT message_status_message_fkey FOREIGN KEY (conversation_id, message_id)
        REFERENCES messages (conversation_id, id) ON DELETE CASCADE
) PARTITION BY HASH (conversation_id);

CREATE TABLE reactions (
    conversation_id  UUID NOT NULL,
    message_id       UUID NOT NULL,
    user_id          UUID NOT NULL CONSTRAINT reactions_user_id_fkey
                     REFERENCES users(id) ON DELETE CASCADE,
    emoji            TEXT NOT NULL CONSTRAINT reactions_emoji_check CHECK (length(emoji) BETWEEN 1 AND 32),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT reactions_emoji_bytes_check CHECK (octet_length(emoji) BETWEEN 1 AND 32),
    CONSTRAINT reactions_pkey PRIMARY KEY (conversation_id, message_id, user_id, emoji),
    CONSTRAINT reactions_message_fkey FOREIGN KEY (conversation_id, message_id)
        REFERENCES messages (conversation_id, id) ON DELETE CASCADE
) PARTITION BY HASH (conversation_id);

DO $$
BEGIN
    FOR i IN 0..15 LOOP
        EXECUTE format('CREATE TABLE messages_p%s PARTITION OF messages
                        FOR VALUES WITH (MODULUS 16, REMAINDER %s)', lpad(i::text, 2, '0'), i);
        EXECUTE format('CREATE TABLE message_status_p%s PARTITION OF message_status
                        FOR VALUES WITH (MODULUS 16, REMAINDER %s)', lpad(i::text, 2, '0'), i);
        EXECUTE format('CREATE TABLE reactions_p%s PARTITION OF reactions
                        FOR VALUES WITH (MODULUS 16, REMAINDER %s)', lpad(i::text, 2, '0'), i);
    END LOOP;
END $$;

-- by id alone: the routes that name only a message (`/messages/{id}`) find
-- its conversation first; one probe per partition
CREATE INDEX idx_messages_id ON messages (id);
-- the seed's index
CREATE INDEX idx_messages_conversation_created ON messages (conversation_id, created_at DESC);
CREATE INDEX idx_messages_reply_to ON messages (conversation_id, reply_to_id) WHERE reply_to_id IS NOT NULL;
-- a sender's messages (users' foreign key)
CREATE INDEX idx_messages_sender ON messages (sender_id);
CREATE INDEX idx_message_status_user ON message_status (user_id);
CREATE INDEX idx_reactions_user ON reactions (user_id);

-- 3. The rows move. Replies first without their reference (a reply may be
-- older than nothing, but rows go in any order), then the reference back
-- where it names a message of the same conversation.
INSERT INTO messages (id, conversation_id, seq, sender_id, kind, content, attachment,
                      reply_to_id, client_msg_id, created_at, edited_at, deleted_at)
SELECT id, conversation_id, seq, sender_id, kind, content, attachment,
       NULL, client_msg_id, created_at, edited_at, deleted_at
  FROM messages_old;
UPDATE messages m SET reply_to_id = o.reply_to_id
  FROM messages_old o JOIN messages_old r ON r.id = o.reply_to_id
 WHERE m.conversation_id = o.conversation_id AND m.id = o.id
   AND r.conversation_id = o.conversation_id;
INSERT INTO message_status (conversation_id, message_id, user_id, delivered_at, read_at)
SELECT m.conversation_id, s.message_id, s.user_id, s.delivered_at, s.read_at
  FROM message_status_old s JOIN messages_old m ON m.id = s.message_id;
INSERT INTO reactions (conversation_id, message_id, user_id, emoji, created_at)
SELECT m.conversation_id, r.message_id, r.user_id, r.emoji, r.created_at
  FROM reactions_old r JOIN messages_old m ON m.id = r.message_id;

DROP TABLE message_status_old;
DROP TABLE reactions_old;
DROP TABLE messages_old;

-- 4. Polls: keyed by conversation, the announcing message named with it.
ALTER TABLE polls DROP CONSTRAINT polls_pkey;
ALTER TABLE polls ADD CONSTRAINT polls_pkey PRIMARY KEY (conversation_id, id);
CREATE INDEX idx_polls_id ON polls (id);
-- a poll whose message was not in its conversation loses the reference
UPDATE polls p SET message_id = NULL
 WHERE message_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM messages m
                    WHERE m.conversation_id = p.conversation_id AND m.id = p.message_id);
CREATE UNIQUE INDEX polls_message_id_key ON polls (conversation_id, message_id)
    WHERE message_id IS NOT NULL;
ALTER TABLE polls ADD CONSTRAINT polls_message_fkey FOREIGN KEY (conversation_id, message_id)
    REFERENCES messages (conversation_id, id) ON DELETE SET NULL (message_id);

ALTER TABLE poll_options ADD COLUMN conversation_id UUID;
UPDATE poll_options o SET conversation_id = p.conversation_id FROM polls p WHERE p.id = o.poll_id;
ALTER TABLE poll_options ALTER COLUMN conversation_id SET NOT NULL;
ALTER TABLE poll_options DROP CONSTRAINT poll_options_poll_id_id_key;
ALTER TABLE poll_options DROP CONSTRAINT poll_options_poll_position_key;
ALTER TABLE poll_options DROP CONSTRAINT poll_options_pkey;
ALTER TABLE poll_options ADD CONSTRAINT poll_options_pkey PRIMARY KEY (conversation_id, id);
ALTER TABLE poll_options ADD CONSTRAINT poll_options_poll_position_key
    UNIQUE (conversation_id, poll_id, position);
ALTER TABLE poll_options ADD CONSTRAINT poll_options_poll_id_id_key UNIQUE (conversation_id, poll_id, id);
ALTER TABLE poll_options ADD CONSTRAINT poll_options_poll_fkey FOREIGN KEY (conversation_id, poll_id)
    REFERENCES polls (conversation_id, id) ON DELETE CASCADE;

ALTER TABLE poll_votes ADD COLUMN conversation_id UUID;
UPDATE poll_votes v SET conversation_id = p.conversation_id FROM polls p WHERE p.id = v.poll_id;
ALTER TABLE poll_votes ALTER COLUMN conversation_id SET NOT NULL;
ALTER TABLE poll_votes DROP CONSTRAINT poll_votes_pkey;
ALTER TABLE poll_votes ADD CONSTRAINT poll_votes_pkey PRIMARY KEY (conversation_id, poll_id, option_id, user_id);
ALTER TABLE poll_votes ADD CONSTRAINT poll_votes_option_of_poll_fkey
    FOREIGN KEY (conversation_id, poll_id, option_id)
    REFERENCES poll_options (conversation_id, poll_id, id) ON DELETE CASCADE;
DROP INDEX idx_poll_votes_poll_user;
CREATE INDEX idx_poll_votes_poll_user ON poll_votes (conversation_id, poll_id, user_id);
