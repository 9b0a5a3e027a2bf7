-- Polls and reactions: what the first migration's tables lacked.

-- A poll is announced by a message of kind 'poll' (its content is the question).
ALTER TABLE messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check
    CHECK (kind IN ('text', 'image', 'file', 'voice', 'system', 'poll'));

-- One poll per message; message answers look their poll up by message.
CREATE UNIQUE INDEX polls_message_id_key ON polls(message_id) WHERE message_id IS NOT NULL;

-- Bumped with every change of votes or state, so clients keep the newest poll_updated.
ALTER TABLE polls ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- A vote names an option of its own poll: enforced by the database too.
ALTER TABLE poll_options ADD CONSTRAINT poll_options_poll_id_id_key UNIQUE (poll_id, id);
ALTER TABLE poll_votes ADD CONSTRAINT poll_votes_option_of_poll_fkey
    FOREIGN KEY (poll_id, option_id) REFERENCES poll_options(poll_id, id) ON DELETE CASCADE;
-- a voter's current choice (replace, retract, my_votes)
CREATE INDEX idx_poll_votes_poll_user ON poll_votes(poll_id, user_id);

-- The first migration bounds an emoji in characters; the rule is 32 bytes.
ALTER TABLE reactions ADD CONSTRAINT reactions_emoji_bytes_check
    CHECK (octet_length(emoji) BETWEEN 1 AND 32);
