-- Members are paged in join order (`GET /conversations/{id}/members`), and a
-- conversation's detail carries its first members: one index range per page,
-- whatever the group's size.
CREATE INDEX idx_conversation_members_join_order
    ON conversation_members (conversation_id, joined_at, user_id);
