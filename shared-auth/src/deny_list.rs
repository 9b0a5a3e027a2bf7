//! The users TMS deleted (webhook `user.deleted`), each with when: a token of
//! theirs issued at or before that moment is refused, by core and by the
//! edge alike (`TOKEN_REVOKED`). A token issued after it (the id given to a
//! new user) passes. An entry matters only while a token issued before the
//! deletion can still be alive: `JWT_MAX_LIFETIME_SECS` plus the leeway.

use std::collections::HashMap;

use crate::jwt::VerifiedToken;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DenyList {
    /// tms_user_id → unix seconds of the deletion.
    denied: HashMap<String, u64>,
}

impl DenyList {
    pub fn from_entries(entries: impl IntoIterator<Item = (String, u64)>) -> Self {
        let mut list = Self::default();
        for (user, at) in entries {
            list.insert(user, at);
        }
        list
    }

    /// Records a deletion (the latest one wins).
    pub fn insert(&mut self, tms_user_id: String, denied_at: u64) {
        let at = self.denied.entry(tms_user_id).or_insert(denied_at);
        *at = (*at).max(denied_at);
    }

    /// Every entry, as (user, unix seconds of the deletion).
    pub fn entries(&self) -> impl Iterator<Item = (&str, u64)> {
        self.denied.iter().map(|(user, at)| (user.as_str(), *at))
    }

    pub fn len(&self) -> usize {
        self.denied.len()
    }

    pub fn is_empty(&self) -> bool {
        self.denied.is_empty()
    }

    /// Whether a token of `tms_user_id` issued at `issued_at` is refused; a
    /// token without `iat` of a deleted user is refused.
    pub fn refuses(&self, tms_user_id: &str, issued_at: Option<u64>) -> bool {
        self.denied
            .get(tms_user_id)
            .is_some_and(|&denied_at| issued_at.is_none_or(|iat| iat <= denied_at))
    }

    /// [`Self::refuses`] for a verified token (its `iat` claim, when a number).
    pub fn refuses_token(&self, token: &VerifiedToken) -> bool {
        let iat = token.claims.get("iat").and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        });
        self.refuses(&token.tms_user_id, iat)
    }

    /// A request the edge signed for `tms_user_id` (no token to look at):
    /// refused while the user is on the list.
    pub fn refuses_user(&self, tms_user_id: &str) -> bool {
        self.denied.contains_key(tms_user_id)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn token(user: &str, claims: serde_json::Value) -> VerifiedToken {
        VerifiedToken {
            tms_user_id: user.into(),
            claims,
            expires_at: 0,
        }
    }

    #[test]
    fn tokens_issued_before_the_deletion_are_refused() {
        let list = DenyList::from_entries([("bob".to_string(), 1_000)]);
        assert!(list.refuses_token(&token("bob", json!({ "iat": 999 }))));
        assert!(list.refuses_token(&token("bob", json!({ "iat": 1_000 }))));
        assert!(list.refuses_token(&token("bob", json!({}))), "no iat");
        assert!(
            !list.refuses_token(&token("bob", json!({ "iat": 1_001 }))),
            "a new user with the id"
        );
        assert!(!list.refuses_token(&token("alice", json!({ "iat": 1 }))));
        assert!(list.refuses_user("bob") && !list.refuses_user("alice"));
    }

    #[test]
    fn the_latest_deletion_wins() {
        let mut list = DenyList::default();
        list.insert("bob".into(), 2_000);
        list.insert("bob".into(), 1_000);
        assert!(list.refuses("bob", Some(1_500)));
        assert_eq!(list.len(), 1);
    }
}
