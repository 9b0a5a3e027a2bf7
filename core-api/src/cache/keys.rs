//! Every Redis key core uses, before the prefix (`REDIS_KEY_PREFIX`).
//!
//! Each key starts with a hash tag naming what it belongs to: `{user:<tms id>}`
//! or `{conv:<conversation id>}`. Redis Cluster hashes only the tag, so all of
//! one user's keys share a slot, and so do all of one conversation's: a
//! script or pipeline over one user's or one conversation's keys runs on a
//! cluster as on one server. Keys of different users or conversations may sit
//! on different nodes, so a call over several users is split per user on a
//! cluster (`Cache::per_call`).
//!
//! TMS ids are opaque and may hold `}`: the tag then ends early (`{user:a}b}…`
//! hashes `user:a`), the same way for every key of that user, so they still
//! share a slot. The suffixes hold no `}:`, so two users' keys never coincide.

use uuid::Uuid;

/// The user's profile from TMS (the fresh copy, 600 s).
pub fn profile(user: &str) -> String {
    format!("{{user:{user}}}:profile")
}

/// The long-lived copy served while TMS is down.
pub fn stale_profile(user: &str) -> String {
    format!("{{user:{user}}}:profile-stale")
}

/// Hash gateway → unix ms of that gateway's last report of the user.
pub fn presence(user: &str) -> String {
    format!("{{user:{user}}}:presence")
}

/// The pending departure (unix ms) during the presence grace.
pub fn pending_offline(user: &str) -> String {
    format!("{{user:{user}}}:presence-offline")
}

pub fn last_seen(user: &str) -> String {
    format!("{{user:{user}}}:last-seen")
}

/// The user's GCRA state for one kind of limit.
pub fn rate_limit(user: &str, kind: &str) -> String {
    format!("{{user:{user}}}:ratelimit:{kind}")
}

/// The cached member set (TMS ids).
pub fn members(conversation_id: Uuid) -> String {
    format!("{{conv:{conversation_id}}}:members")
}

/// Bumped by every membership change; a fill stores only if it is unchanged.
pub fn members_version(conversation_id: Uuid) -> String {
    format!("{{conv:{conversation_id}}}:members-version")
}

/// Hash gateway → registration stamp: the gateways registered as holding
/// online members of the conversation (`services::notify_gateways`).
pub fn notify_gateways(conversation_id: Uuid) -> String {
    format!("{{conv:{conversation_id}}}:gateways")
}

/// The counter the registrations' stamps come from (never reset, so a stamp
/// is never reused).
pub fn notify_gateways_seq(conversation_id: Uuid) -> String {
    format!("{{conv:{conversation_id}}}:gateways-seq")
}

/// Slots of a Redis Cluster.
pub const SLOTS: u16 = 16_384;

/// The Redis Cluster slot of `key` (CRC16/XMODEM of its hash tag).
pub fn slot(key: &str) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(hash_tag(key).as_bytes()) % SLOTS
}

/// A key (before the prefix) in a slot from `first` to `last`, for probing the
/// master that owns them. With `REDIS_KEY_PREFIX` braces-free, the prefix
/// does not change the slot.
pub fn probe_in(first: u16, last: u16) -> String {
    (0u32..)
        .map(|n| format!("{{probe:{n}}}"))
        .find(|k| (first..=last).contains(&slot(k)))
        .expect("every slot range holds some probe key")
}

/// The part of `key` that Redis Cluster hashes: its first `{…}` if not empty.
pub fn hash_tag(key: &str) -> &str {
    key.find('{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.find('}').map(|close| &rest[..close])
        })
        .filter(|tag| !tag.is_empty())
        .unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_users_keys_share_a_tag_and_so_do_one_conversations() {
        for user in ["alice", "a}b", "{x}", "a:b"] {
            let tags = [
                profile(user),
                stale_profile(user),
                presence(user),
                pending_offline(user),
                last_seen(user),
                rate_limit(user, "api"),
            ]
            .map(|k| hash_tag(&k).to_string());
            assert!(tags.iter().all(|t| *t == tags[0]), "{user}: {tags:?}");
        }
        let c = Uuid::new_v4();
        assert_eq!(hash_tag(&members(c)), hash_tag(&members_version(c)));
        assert_eq!(hash_tag(&members(c)), hash_tag(&notify_gateways(c)));
        assert_eq!(hash_tag(&members(c)), hash_tag(&notify_gateways_seq(c)));
        assert_eq!(hash_tag(&members(c)), format!("conv:{c}"));
        assert_ne!(hash_tag(&presence("alice")), hash_tag(&presence("bob")));
    }

    #[test]
    fn slots_are_redis_clusters() {
        // CLUSTER KEYSLOT answers, from the Redis documentation and a real cluster
        assert_eq!(slot("foo"), 12182);
        assert_eq!(slot("{user1000}.following"), slot("{user1000}.followers"));
        assert_eq!(slot("{}foo"), 9500);
        for (first, last) in [(0, 5460), (5461, 10922), (10923, 16383), (700, 700)] {
            let s = slot(&probe_in(first, last));
            assert!((first..=last).contains(&s), "{s}");
        }
    }

    #[test]
    fn a_prefix_without_braces_leaves_the_tag_alone() {
        let key = format!("test:1:{}", presence("alice"));
        assert_eq!(hash_tag(&key), "user:alice");
    }
}
