-- Complete schema of the team-messaging core. Identity lives in TMS: `users`
-- only references TMS users by `tms_user_id` and keeps local settings.

CREATE TABLE users (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tms_user_id   TEXT NOT NULL CHECK (length(tms_user_id) BETWEEN 1 AND 128),
    settings      JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT users_tms_user_id_key UNIQUE (tms_user_id)
);
-- the seed's idx_users_tms_user_id is the unique index above
COMMENT ON CONSTRAINT users_tms_user_id_key ON users IS 'idx_users_tms_user_id';

CREATE TABLE conversations (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    kind             TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
    title            TEXT CHECK (title IS NULL OR length(title) BETWEEN 1 AND 120),
    created_by       UUID NOT NULL REFERENCES users(id),
    -- one direct conversation per unordered pair: "<lower tms id>|<higher tms id>"
    direct_key       TEXT,
    last_seq         BIGINT NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_message_at  TIMESTAMPTZ,
    CONSTRAINT conversations_direct_key_key UNIQUE (direct_key),
    CONSTRAINT conversations_direct_key_check CHECK ((kind = 'direct') = (direct_key IS NOT NULL))
);
-- "my conversations by last activity" sorts on this
CREATE INDEX idx_conversations_activity ON conversations ((COALESCE(last_message_at, created_at)) DESC, id DESC);

CREATE TABLE conversation_members (
    conversation_id  UUID NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id          UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role             TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    joined_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_read_seq    BIGINT NOT NULL DEFAULT 0,
    last_delivered_seq BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX idx_conversation_members_user ON conversation_members(user_id);

CREATE TABLE messages (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id  UUID NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq              BIGINT NOT NULL CHECK (seq > 0),
    sender_id        UUID NOT NULL REFERENCES users(id),
    kind             TEXT NOT NULL CHECK (kind IN ('text', 'image', 'file', 'voice', 'system')),
    content          TEXT,
    attachment       JSONB,
    reply_to_id      UUID REFERENCES messages(id) ON DELETE SET NULL,
    client_msg_id    TEXT CHECK (client_msg_id IS NULL OR length(client_msg_id) BETWEEN 1 AND 64),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    edited_at        TIMESTAMPTZ,
    deleted_at       TIMESTAMPTZ,
    CONSTRAINT messages_conversation_seq_key UNIQUE (conversation_id, seq),
    -- a retried send returns the original
    CONSTRAINT messages_sender_client_msg_id_key UNIQUE (sender_id, client_msg_id)
);
-- the seed's index; catch-up and paging go through messages_conversation_seq_key
CREATE INDEX idx_messages_conversation_created ON messages(conversation_id, created_at DESC);
CREATE INDEX idx_messages_reply_to ON messages(reply_to_id) WHERE reply_to_id IS NOT NULL;

CREATE TABLE message_status (
    message_id    UUID NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id       UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    delivered_at  TIMESTAMPTZ,
    read_at       TIMESTAMPTZ,
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX idx_message_status_user ON message_status(user_id);

CREATE TABLE reactions (
    message_id  UUID NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    emoji       TEXT NOT NULL CHECK (length(emoji) BETWEEN 1 AND 32),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, user_id, emoji)
);

CREATE TABLE calls (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id  UUID NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    initiator_id     UUID NOT NULL REFERENCES users(id),
    media            TEXT NOT NULL CHECK (media IN ('voice', 'video')),
    status           TEXT NOT NULL DEFAULT 'ringing'
                     CHECK (status IN ('ringing', 'active', 'ended', 'missed', 'rejected')),
    started_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    answered_at      TIMESTAMPTZ,
    ended_at         TIMESTAMPTZ,
    end_reason       TEXT
);
CREATE INDEX idx_calls_conversation_started ON calls(conversation_id, started_at DESC);

CREATE TABLE call_participants (
    call_id    UUID NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status     TEXT NOT NULL DEFAULT 'invited'
               CHECK (status IN ('invited', 'joined', 'left', 'rejected', 'missed')),
    joined_at  TIMESTAMPTZ,
    left_at    TIMESTAMPTZ,
    PRIMARY KEY (call_id, user_id)
);
CREATE INDEX idx_call_participants_user ON call_participants(user_id);

CREATE TABLE polls (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id  UUID NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    message_id       UUID REFERENCES messages(id) ON DELETE SET NULL,
    creator_id       UUID NOT NULL REFERENCES users(id),
    question         TEXT NOT NULL CHECK (length(question) BETWEEN 1 AND 300),
    multiple_choice  BOOLEAN NOT NULL DEFAULT false,
    anonymous        BOOLEAN NOT NULL DEFAULT false,
    closes_at        TIMESTAMPTZ,
    closed_at        TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_polls_conversation ON polls(conversation_id, created_at DESC);

CREATE TABLE poll_options (
    id        UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    poll_id   UUID NOT NULL REFERENCES polls(id) ON DELETE CASCADE,
    position  INT NOT NULL CHECK (position >= 0),
    text      TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 100),
    CONSTRAINT poll_options_poll_position_key UNIQUE (poll_id, position)
);

CREATE TABLE poll_votes (
    poll_id    UUID NOT NULL REFERENCES polls(id) ON DELETE CASCADE,
    option_id  UUID NOT NULL REFERENCES poll_options(id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    voted_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (poll_id, option_id, user_id)
);
CREATE INDEX idx_poll_votes_user ON poll_votes(user_id);
