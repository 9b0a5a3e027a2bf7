-- A conversation's privacy setting for pushes: with previews off, the push
-- requests for its messages carry no text (`preview: null`), whatever
-- PUSH_PREVIEW_CHARS says. Set by a group's owner or admins (either member of a DM).
ALTER TABLE conversations ADD COLUMN push_previews BOOLEAN NOT NULL DEFAULT true;
