//! Where a socket lands: gateway objects are named by location and shard
//! (`{colo}.{n}`), and a socket's Engine.IO session id starts with its
//! gateway's name, so anything holding the id can find the object again.
//! The Worker fills shards in order (fewer gateways per room means cheaper
//! fan-out) and remembers, per isolate, the first shard that had room.

use std::collections::BTreeMap;

/// Sockets one gateway holds by default (`GATEWAY_MAX_SOCKETS`): far below
/// the 32,768 per-object limit and the ~1,000 requests/s an object serves.
pub const DEFAULT_MAX_SOCKETS: usize = 2_000;
/// Shards tried per location before the upgrade is refused (`GATEWAY_MAX_SHARDS`).
pub const DEFAULT_MAX_SHARDS: u32 = 64;
/// After this long the Worker tries the low shards again (sockets leave).
pub const HINT_TTL_MS: u64 = 60_000;
/// Location used when the runtime names none (local development).
pub const LOCAL: &str = "local";

/// The location part of a gateway name: the colo code, letters and digits only.
pub fn location(colo: Option<&str>) -> String {
    let clean: String = colo
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    if clean.is_empty() {
        LOCAL.to_owned()
    } else {
        clean
    }
}

pub fn gateway_name(location: &str, shard: u32) -> String {
    format!("{location}.{shard}")
}

/// `{gateway}.{nonce}`: the Engine.IO `sid`.
pub fn session_id(gateway: &str, nonce: &str) -> String {
    format!("{gateway}.{nonce}")
}

/// The gateway a session id belongs to, if it is well formed.
pub fn gateway_of_session(session_id: &str) -> Option<&str> {
    let (gateway, nonce) = session_id.rsplit_once('.')?;
    let (location, shard) = gateway.split_once('.')?;
    let well_formed = !nonce.is_empty()
        && !location.is_empty()
        && location.chars().all(|c| c.is_ascii_alphanumeric())
        && shard.parse::<u32>().is_ok();
    well_formed.then_some(gateway)
}

/// Per isolate: the first shard of each location that last had room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardHint {
    first_open: BTreeMap<String, (u32, u64)>,
}

impl ShardHint {
    /// The shards to try, in order.
    pub fn order(&self, location: &str, max_shards: u32, now_ms: u64) -> std::ops::Range<u32> {
        let start = match self.first_open.get(location) {
            Some((shard, at)) if now_ms.saturating_sub(*at) < HINT_TTL_MS => *shard,
            _ => 0,
        };
        start.min(max_shards)..max_shards
    }

    /// `shard` refused a socket: start after it next time.
    pub fn full(&mut self, location: &str, shard: u32, now_ms: u64) {
        self.first_open
            .insert(location.to_owned(), (shard.saturating_add(1), now_ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_clean_and_default_to_local() {
        assert_eq!(location(Some("DFW")), "DFW");
        assert_eq!(location(Some("a.b/c:d")), "abcd");
        assert_eq!(location(Some("")), "local");
        assert_eq!(location(None), "local");
        assert_eq!(location(Some("VERYLONGCOLO")), "VERYLONG");
    }

    #[test]
    fn session_ids_name_their_gateway() {
        let gw = gateway_name("DFW", 3);
        assert_eq!(gw, "DFW.3");
        let sid = session_id(&gw, "0123abcd");
        assert_eq!(gateway_of_session(&sid), Some("DFW.3"));
        for bad in [
            "",
            "abc",
            "DFW.3",
            "DFW.x.abc",
            ".3.abc",
            "DFW.3.",
            "D-W.3.abc",
        ] {
            assert_eq!(gateway_of_session(bad), None, "{bad}");
        }
    }

    #[test]
    fn shards_fill_in_order_and_the_hint_expires() {
        let mut hint = ShardHint::default();
        assert_eq!(hint.order("DFW", 4, 0), 0..4);
        hint.full("DFW", 0, 1_000);
        assert_eq!(hint.order("DFW", 4, 2_000), 1..4);
        assert_eq!(hint.order("AMS", 4, 2_000), 0..4, "per location");
        assert_eq!(hint.order("DFW", 4, 1_000 + HINT_TTL_MS), 0..4);
        hint.full("DFW", 3, 5_000);
        assert!(
            hint.order("DFW", 4, 5_001).is_empty(),
            "every shard is full"
        );
    }
}
