-- A conversation's removal epoch: raised by one with every member removed or
-- leaving, in the removal's own statement. Room events carry it; a gateway
-- asks core again before it writes an event to a socket whose membership it
-- verified at an older epoch (removed means removed, even when the eviction
-- push is lost).
ALTER TABLE conversations ADD COLUMN removal_epoch BIGINT NOT NULL DEFAULT 0;
