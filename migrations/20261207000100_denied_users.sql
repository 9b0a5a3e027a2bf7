-- Users TMS deleted (webhook user.deleted): their tokens issued at or before
-- denied_at are refused by core and, through GET /internal/v1/denied-users,
-- by the edge. A row matters while such a token can live (JWT_MAX_LIFETIME_SECS
-- plus the leeway); older rows are pruned when the list is read.
CREATE TABLE denied_users (
    tms_user_id  TEXT PRIMARY KEY CHECK (octet_length(tms_user_id) BETWEEN 1 AND 128),
    denied_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_denied_users_at ON denied_users(denied_at);
