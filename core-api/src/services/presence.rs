//! Presence: which gateways hold which users. `presence:{tms_user_id}` is a
//! Redis hash gateway → unix ms of that gateway's last report for the user; an
//! entry older than `STALE_MS` no longer counts (a gateway that died never
//! reports again).

use std::collections::HashMap;

use crate::cache::Cache;
use crate::error::AppResult;

/// TTL of `presence:{id}`, refreshed on every report that sets an entry.
pub const PRESENCE_TTL_SECS: u64 = 300;
/// An entry older than this is a gateway that stopped reporting.
pub const STALE_MS: i64 = PRESENCE_TTL_SECS as i64 * 1000;

fn presence_key(user: &str) -> String {
    format!("presence:{user}")
}

/// Fresh gateways of each user that has any, in one pipeline.
pub async fn gateways_of(
    cache: &Cache,
    users: &[String],
    now_ms: i64,
) -> AppResult<HashMap<String, Vec<String>>> {
    let mut pipe = redis::pipe();
    for user in users {
        pipe.hgetall(cache.key(&presence_key(user)));
    }
    let hashes: Vec<HashMap<String, i64>> = pipe.query_async(&mut cache.connection()).await?;
    Ok(users
        .iter()
        .zip(hashes)
        .filter_map(|(user, entries)| {
            let mut fresh: Vec<String> = entries
                .into_iter()
                .filter(|(_, at)| now_ms - at <= STALE_MS)
                .map(|(gateway, _)| gateway)
                .collect();
            fresh.sort();
            (!fresh.is_empty()).then(|| (user.clone(), fresh))
        })
        .collect())
}
