//! Where a socket lands: gateway objects are named by location and shard
//! (`{colo}.{n}`), and a socket's Engine.IO session id starts with its
//! gateway's name, so anything holding the id can find the object again.
//! The Worker spreads connects over the first `GATEWAY_SPREAD_SHARDS` open
//! shards of its location, starting at a random one (a reconnect storm after
//! a deploy does not land on one object), then tries the others in order:
//! filling low shards first keeps the gateways per room few, which keeps
//! fan-out cheap. It remembers, per isolate, which shards refused lately.

use std::collections::BTreeMap;

/// Sockets one gateway holds by default (`GATEWAY_MAX_SOCKETS`): far below
/// the 32,768 per-object limit and the ~1,000 requests/s an object serves.
pub const DEFAULT_MAX_SOCKETS: usize = 2_000;
/// Shards tried per location before the upgrade is refused (`GATEWAY_MAX_SHARDS`).
pub const DEFAULT_MAX_SHARDS: u32 = 64;
/// Open shards a location's connects are spread over by default (`GATEWAY_SPREAD_SHARDS`).
pub const DEFAULT_SPREAD_SHARDS: u32 = 4;
/// After this long the Worker tries a shard that refused again (sockets leave).
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

/// The gateway of a session id a client sent back (a polling request or
/// the WebSocket that upgrades it), if it could be one this edge issued: a
/// location as `location` makes it, a shard below `max_shards`, and a nonce
/// of 32 hex digits. The nonce is 122 random bits, the session's bearer
/// secret: the gateway serves only a session it holds under that exact id,
/// so a forged id names no one else's session, and a malformed one never
/// reaches (or creates) an object.
pub fn routable_gateway(session_id: &str, max_shards: u32) -> Option<&str> {
    let gateway = gateway_of_session(session_id)?;
    let (location, shard) = gateway.split_once('.')?;
    let nonce = &session_id[gateway.len() + 1..];
    let valid = location.len() <= 8
        && shard
            .parse::<u32>()
            .is_ok_and(|n| n < max_shards && n.to_string() == shard)
        && nonce.len() == 32
        && nonce
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    valid.then_some(gateway)
}

/// Per isolate: the shards of each location that refused a socket lately.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardHint {
    full: BTreeMap<String, BTreeMap<u32, u64>>,
}

impl ShardHint {
    /// The shards to try, in order: the open ones (not refused within
    /// `HINT_TTL_MS`), the first `spread` of them rotated to start at
    /// `pick % spread` (a random number per connect), then the rest in order.
    /// Empty when every shard refused lately: the upgrade is refused at once.
    pub fn order(
        &self,
        location: &str,
        max_shards: u32,
        spread: u32,
        now_ms: u64,
        pick: u32,
    ) -> Vec<u32> {
        let full = self.full.get(location);
        let refused = |shard: &u32| {
            full.and_then(|f| f.get(shard))
                .is_some_and(|at| now_ms.saturating_sub(*at) < HINT_TTL_MS)
        };
        let mut open: Vec<u32> = (0..max_shards).filter(|s| !refused(s)).collect();
        let width = (spread.max(1) as usize).min(open.len());
        if width > 0 {
            open[..width].rotate_left(pick as usize % width);
        }
        open
    }

    /// `shard` refused a socket: skip it for `HINT_TTL_MS`.
    pub fn full(&mut self, location: &str, shard: u32, now_ms: u64) {
        let full = self.full.entry(location.to_owned()).or_default();
        full.retain(|_, at| now_ms.saturating_sub(*at) < HINT_TTL_MS);
        full.insert(shard, now_ms);
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
    fn only_session_ids_this_edge_issues_are_routed() {
        let nonce = "0123456789abcdef0123456789abcdef";
        let sid = session_id(&gateway_name("ams", 3), nonce);
        assert_eq!(routable_gateway(&sid, 64), Some("ams.3"));
        assert_eq!(routable_gateway(&sid, 3), None, "shard over the limit");
        for bad in [
            format!("ams.03.{nonce}"),
            format!("ams.+3.{nonce}"),
            format!("amsterdam.3.{nonce}"),
            format!("a-s.3.{nonce}"),
            "ams.3.0123456789abcdef0123456789abcde".to_string(),
            "ams.3.0123456789ABCDEF0123456789ABCDEF".to_string(),
            format!("ams.3.{nonce}0"),
            nonce.to_string(),
            String::new(),
        ] {
            assert_eq!(routable_gateway(&bad, 64), None, "{bad}");
        }
    }

    #[test]
    fn shards_fill_in_order_without_spread_and_the_hint_expires() {
        let mut hint = ShardHint::default();
        assert_eq!(hint.order("DFW", 4, 1, 0, 7), [0, 1, 2, 3]);
        hint.full("DFW", 0, 1_000);
        assert_eq!(hint.order("DFW", 4, 1, 2_000, 7), [1, 2, 3]);
        assert_eq!(
            hint.order("AMS", 4, 1, 2_000, 7),
            [0, 1, 2, 3],
            "per location"
        );
        assert_eq!(
            hint.order("DFW", 4, 1, 1_000 + HINT_TTL_MS, 7),
            [0, 1, 2, 3]
        );
        for shard in 0..4 {
            hint.full("DFW", shard, 5_000);
        }
        assert!(
            hint.order("DFW", 4, 1, 5_001, 0).is_empty(),
            "every shard is full: refused without asking any"
        );
    }

    #[test]
    fn a_connect_storm_spreads_over_the_open_shards() {
        let mut hint = ShardHint::default();
        hint.full("DFW", 1, 0);
        // 4,000 connects with uniform picks: the first try of each is one of
        // the first 4 open shards (0, 2, 3, 4), each taking a quarter
        let mut first = BTreeMap::new();
        for pick in 0..4_000u32 {
            let order = hint.order("DFW", 64, 4, 10, pick);
            assert_eq!(order.len(), 63, "every open shard is still tried");
            let mut sorted = order.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 63, "each once");
            *first.entry(order[0]).or_insert(0u32) += 1;
            assert_eq!(&order[4..6], &[5, 6], "then the others in order");
        }
        assert_eq!(
            first,
            BTreeMap::from([(0, 1_000), (2, 1_000), (3, 1_000), (4, 1_000)])
        );
        // fewer open shards than the spread: spread over those
        assert_eq!(hint.order("DFW", 2, 4, 10, 3), [0]);
        assert_eq!(hint.order("AMS", 2, 4, 10, 3), [1, 0]);
    }
}
