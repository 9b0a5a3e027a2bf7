-- Message search: a generated tsvector over the content, in the `simple`
-- configuration (no stemming, no stop words: conversations mix languages,
-- and a word a user typed must find itself). A deleted message's content is
-- NULL, so its vector is empty; the index only holds live messages.
-- No statement here depends on the shape of messages' primary key.
ALTER TABLE messages
    ADD COLUMN search_tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, COALESCE(content, ''))) STORED;
CREATE INDEX idx_messages_search ON messages USING gin (search_tsv) WHERE deleted_at IS NULL;
-- Newest first across the caller's conversations: for a frequent word the
-- planner walks this index and stops at the page (tens of rows read); for a
-- rare one it takes the GIN index. Search statements are planned with their
-- values (not as generic prepared plans) so it can choose per word.
CREATE INDEX idx_messages_created ON messages (created_at DESC, id DESC);
