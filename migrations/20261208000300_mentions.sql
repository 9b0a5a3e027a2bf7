-- Mentions: the TMS ids of the members a message mentions (non-members are
-- dropped before it is stored), and whether it mentions everyone (`@all`,
-- group owners and admins only). Constant defaults: no table rewrite.
ALTER TABLE messages
    ADD COLUMN mentions TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN mentions_all BOOLEAN NOT NULL DEFAULT false;
