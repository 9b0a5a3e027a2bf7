-- Calls: the API's words as the stored states, the ring deadline the sweeper
-- reads (so the ring timeout survives a restart of core), and the guards of
-- the busy rule.

ALTER TABLE calls DROP CONSTRAINT calls_status_check;
UPDATE calls SET status = 'ongoing' WHERE status = 'active';
UPDATE calls SET status = 'completed' WHERE status = 'ended';
ALTER TABLE calls ADD CONSTRAINT calls_status_check
    CHECK (status IN ('ringing', 'ongoing', 'completed', 'missed', 'rejected'));

ALTER TABLE call_participants DROP CONSTRAINT call_participants_status_check;
UPDATE call_participants SET status = 'ringing' WHERE status = 'invited';
ALTER TABLE call_participants ALTER COLUMN status SET DEFAULT 'ringing';
ALTER TABLE call_participants ADD CONSTRAINT call_participants_status_check
    CHECK (status IN ('ringing', 'joined', 'left', 'rejected', 'missed', 'busy'));

ALTER TABLE calls ADD CONSTRAINT calls_end_reason_check
    CHECK (end_reason IS NULL OR end_reason IN ('hangup', 'left', 'timeout', 'rejected'));

-- Set while a participant is ringing; the sweeper times the ring out when it
-- passes. A ringing call always has one, an ended call never.
ALTER TABLE calls ADD COLUMN ring_deadline TIMESTAMPTZ;
UPDATE calls SET ring_deadline = started_at + interval '45 seconds' WHERE status = 'ringing';
ALTER TABLE calls ADD CONSTRAINT calls_ring_deadline_check
    CHECK ((status <> 'ringing' OR ring_deadline IS NOT NULL)
       AND (status NOT IN ('completed', 'missed', 'rejected') OR ring_deadline IS NULL));
CREATE INDEX idx_calls_ring_deadline ON calls(ring_deadline) WHERE ring_deadline IS NOT NULL;

-- A user rings or talks in one call at most: the busy rule's last guard
-- (core decides busy under a lock first and never hits it).
CREATE UNIQUE INDEX call_participants_one_live_call_key ON call_participants(user_id)
    WHERE status IN ('ringing', 'joined');

-- History pages: newest first, ties broken by id (the cursor).
DROP INDEX idx_calls_conversation_started;
CREATE INDEX idx_calls_conversation_started ON calls(conversation_id, started_at DESC, id DESC);
