//! Presence: which gateways hold which users, reported by the gateways in
//! batches. `{user:<id>}:presence` is a Redis hash gateway → unix ms of that
//! gateway's last report for the user; an entry older than `STALE_MS` no longer
//! counts (a gateway that died never reports again). A user is online while one
//! fresh entry exists. Going offline waits `PRESENCE_GRACE_MS` so that a
//! reconnect does not flap; the pending departure lives in Redis
//! (`{user:<id>}:presence-offline`), so whichever replica sees the return cancels it.
//!
//! The scripts and pipelines below cover many users, one user's keys at a
//! time: on one server a report is one script call; on a Redis Cluster (where
//! only one user's keys share a slot) it is one call per user, sent at once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use shared_types::api::Presence;
use shared_types::internal::{PresenceReport, MAX_GATEWAY_NAME_BYTES, MAX_PRESENCE_REPORT_USERS};
use shared_types::socket::{server_events, PresenceChanged, NS_MESSAGING};

use crate::cache::keys::{
    last_seen as last_seen_key, pending_offline as pending_key, presence as presence_key,
};
use crate::cache::Cache;
use crate::error::{AppError, AppResult};
use crate::fanout::Push;
use crate::repositories::members as members_repo;
use crate::services::notify_gateways;
use crate::state::AppState;

/// TTL of the presence hash, refreshed on every report that sets an entry.
pub const PRESENCE_TTL_SECS: u64 = 300;
/// An entry older than this is a gateway that stopped reporting.
pub const STALE_MS: i64 = PRESENCE_TTL_SECS as i64 * 1000;
/// The last-seen time and the pending departure are kept this long.
const LAST_SEEN_TTL_SECS: u64 = 30 * 86_400;

/// KEYS: per user, its presence hash and its pending departure.
/// ARGV: gateway, now ms, stale ms, TTL s, grace ms, pending TTL s, then per user
/// `s` (set this gateway's entry) or `d` (delete it).
/// Returns per user 1 (came online), -1 (last entry gone: departure pending)
/// or 0. Atomic, so two gateways reporting the same user at once cannot both
/// miss (or both see) the transition.
static APPLY_REPORT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        local gw, now, stale = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
        local ttl, grace, pending_ttl = ARGV[4], tonumber(ARGV[5]), ARGV[6]
        local out = {}
        for i = 1, #KEYS / 2 do
            local key, pending = KEYS[2 * i - 1], KEYS[2 * i]
            local entries = redis.call('HGETALL', key)
            local before, mine = 0, false
            for j = 1, #entries, 2 do
                if now - tonumber(entries[j + 1]) > stale then
                    redis.call('HDEL', key, entries[j])
                else
                    before = before + 1
                    if entries[j] == gw then mine = true end
                end
            end
            local after = before
            if ARGV[6 + i] == 's' then
                redis.call('HSET', key, gw, now)
                redis.call('EXPIRE', key, ttl)
                if not mine then after = after + 1 end
            elseif mine then
                redis.call('HDEL', key, gw)
                after = after - 1
            end
            local change = 0
            if before == 0 and after > 0 then
                local since = redis.call('GET', pending)
                if not (since and now - tonumber(since) <= grace) then change = 1 end
                redis.call('DEL', pending)
            elseif before > 0 and after == 0 then
                redis.call('SET', pending, now, 'EX', pending_ttl)
                change = -1
            end
            out[i] = change
        end
        return out
        ",
    )
});

/// KEYS: per user, presence hash, pending departure, last seen.
/// ARGV: departure ms, now ms, stale ms, last-seen TTL s.
/// Returns per user 1 when the departure still stands (then `last_seen` is
/// stored and the pending mark cleared), else 0.
static CONFIRM_OFFLINE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        local since, now, stale = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
        local out = {}
        for i = 1, #KEYS / 3 do
            local key, pending, seen = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
            out[i] = 0
            if redis.call('GET', pending) == since then
                local online = false
                local entries = redis.call('HGETALL', key)
                for j = 2, #entries, 2 do
                    if now - tonumber(entries[j]) <= stale then online = true end
                end
                if not online then
                    redis.call('DEL', pending)
                    redis.call('SET', seen, since, 'EX', ARGV[4])
                    out[i] = 1
                end
            end
        end
        return out
        ",
    )
});

/// What a report changed.
#[derive(Debug, serde::Serialize)]
pub struct ReportOutcome {
    pub users: usize,
    pub came_online: usize,
    pub went_offline: usize,
}

/// Applies a gateway's report, announces who came online, and schedules the
/// offline announcement of who left (after the grace).
pub async fn report(state: &AppState, report: PresenceReport) -> AppResult<ReportOutcome> {
    validate(&report)?;
    // `present` is the gateway's state now; `arrived` then `departed` happened since
    // the last report, so a user in both arrived and left again
    let present: HashSet<&str> = report.present.iter().map(String::as_str).collect();
    let departed: HashSet<&str> = report.departed.iter().map(String::as_str).collect();
    let mut ops: BTreeMap<&str, &str> = BTreeMap::new();
    for u in report.present.iter().chain(&report.arrived) {
        ops.insert(u, "s");
    }
    for u in &report.departed {
        if !present.contains(u.as_str()) {
            ops.insert(u, "d");
        }
    }
    for u in &report.arrived {
        if departed.contains(u.as_str()) && !present.contains(u.as_str()) {
            ops.insert(u, "d");
        }
    }
    if ops.is_empty() {
        return Ok(ReportOutcome {
            users: 0,
            came_online: 0,
            went_offline: 0,
        });
    }
    let ops: Vec<(&str, &str)> = ops.into_iter().collect();
    // arrivals register this gateway in their conversations before anyone
    // can see them online here; a failure fails the report, which the
    // gateway sends again (registering twice only takes a newer stamp)
    let arrived: HashSet<&str> = report.arrived.iter().map(String::as_str).collect();
    let arrivals: Vec<String> = ops
        .iter()
        .filter(|(user, op)| *op == "s" && arrived.contains(user))
        .map(|(user, _)| user.to_string())
        .collect();
    register_arrivals(state, &report.gateway, &arrivals).await?;
    let now_ms = state.clock.now().timestamp_millis();
    let grace_ms = state.config.presence_grace.as_millis() as i64;
    let calls: Vec<_> = ops
        .chunks(state.cache.per_call())
        .map(|chunk| {
            let mut invocation = APPLY_REPORT.prepare_invoke();
            invocation
                .arg(&report.gateway)
                .arg(now_ms)
                .arg(STALE_MS)
                .arg(PRESENCE_TTL_SECS)
                .arg(grace_ms)
                .arg(LAST_SEEN_TTL_SECS);
            for (user, op) in chunk {
                invocation
                    .key(state.cache.key(&presence_key(user)))
                    .key(state.cache.key(&pending_key(user)))
                    .arg(*op);
            }
            invocation
        })
        .collect();
    let changes: Vec<Vec<i64>> = state
        .cache
        .run_each(calls, |mut c, invocation| async move {
            invocation.invoke_async(&mut c).await
        })
        .await?;
    let mut online = Vec::new();
    let mut offline = Vec::new();
    for ((user, _), change) in ops.iter().zip(changes.into_iter().flatten()) {
        match change {
            1 => online.push(user.to_string()),
            -1 => offline.push(user.to_string()),
            _ => {}
        }
    }
    let outcome = ReportOutcome {
        users: ops.len(),
        came_online: online.len(),
        went_offline: offline.len(),
    };
    if !online.is_empty() {
        announce(state, server_events::USER_ONLINE, &online, None).await;
    }
    if !offline.is_empty() {
        // one timer per report, not per user; lost if core restarts meanwhile
        let state = state.clone();
        tokio::spawn(async move {
            tokio::time::sleep(state.config.presence_grace).await;
            confirm_offline(&state, offline, now_ms).await;
        });
    }
    Ok(outcome)
}

/// Registers `gateway` in every conversation of each of `users`: one indexed
/// query, then one script call (per conversation on a cluster). The cost of
/// a connect: O(the user's conversations), once per arrival on a gateway.
async fn register_arrivals(state: &AppState, gateway: &str, users: &[String]) -> AppResult<()> {
    // without the edge nobody reads the sets
    if users.is_empty() || !state.fanout.is_enabled() {
        return Ok(());
    }
    let conversations = members_repo::conversations_of(&state.db, users).await?;
    let pairs: Vec<(uuid::Uuid, String)> = conversations
        .into_iter()
        .map(|id| (id, gateway.to_owned()))
        .collect();
    notify_gateways::register(&state.cache, &pairs).await
}

/// Registers the gateways holding `users` now in the conversation's notify
/// set: after they became members (a creation, an addition) while online.
/// O(those users), once per membership change.
pub async fn register_members_online(
    state: &AppState,
    conversation_id: uuid::Uuid,
    users: &[String],
) -> AppResult<()> {
    if users.is_empty() {
        return Ok(());
    }
    let now_ms = state.clock.now().timestamp_millis();
    let online = gateways_of(&state.cache, users, now_ms).await?;
    let mut gateways: Vec<String> = online.into_values().flatten().collect();
    gateways.sort_unstable();
    gateways.dedup();
    let pairs: Vec<(uuid::Uuid, String)> =
        gateways.into_iter().map(|g| (conversation_id, g)).collect();
    notify_gateways::register(&state.cache, &pairs).await
}

fn validate(report: &PresenceReport) -> AppResult<()> {
    if report.gateway.is_empty() || report.gateway.len() > MAX_GATEWAY_NAME_BYTES {
        return Err(AppError::validation(format!(
            "gateway must be 1 to {MAX_GATEWAY_NAME_BYTES} bytes"
        )));
    }
    for (name, list) in [
        ("arrived", &report.arrived),
        ("departed", &report.departed),
        ("present", &report.present),
    ] {
        if list.len() > MAX_PRESENCE_REPORT_USERS {
            return Err(AppError::validation(format!(
                "{name} holds at most {MAX_PRESENCE_REPORT_USERS} user ids"
            )));
        }
        super::users::check_ids(list, name)?;
    }
    Ok(())
}

/// After the grace: who is still gone is announced offline, with the time they left.
async fn confirm_offline(state: &AppState, users: Vec<String>, since_ms: i64) {
    let now_ms = state.clock.now().timestamp_millis();
    let calls: Vec<_> = users
        .chunks(state.cache.per_call())
        .map(|chunk| {
            let mut invocation = CONFIRM_OFFLINE.prepare_invoke();
            invocation
                .arg(since_ms.to_string())
                .arg(now_ms)
                .arg(STALE_MS)
                .arg(LAST_SEEN_TTL_SECS);
            for user in chunk {
                invocation
                    .key(state.cache.key(&presence_key(user)))
                    .key(state.cache.key(&pending_key(user)))
                    .key(state.cache.key(&last_seen_key(user)));
            }
            invocation
        })
        .collect();
    let confirmed: redis::RedisResult<Vec<Vec<i64>>> = state
        .cache
        .run_each(calls, |mut c, invocation| async move {
            invocation.invoke_async(&mut c).await
        })
        .await;
    let confirmed = match confirmed {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, users = users.len(), "offline confirmation failed");
            return;
        }
    };
    let gone: Vec<String> = users
        .into_iter()
        .zip(confirmed.into_iter().flatten())
        .filter(|(_, c)| *c == 1)
        .map(|(u, _)| u)
        .collect();
    if !gone.is_empty() {
        announce(
            state,
            server_events::USER_OFFLINE,
            &gone,
            ms_to_time(since_ms),
        )
        .await;
    }
}

/// Tells the online users who share a DM or a small group (at most
/// `PRESENCE_PUSH_MAX_MEMBERS` members) with each subject; one query for every
/// subject's audience, presence resolved in the push lane. Members of larger
/// groups read presence (`GET /presence`) instead: a login wave into a large
/// group then costs O(sockets), not O(sockets × members).
async fn announce(
    state: &AppState,
    event: &str,
    subjects: &[String],
    last_seen_at: Option<DateTime<Utc>>,
) {
    if !state.fanout.is_enabled() {
        return;
    }
    let max = state.config.presence_push_max_members as i64;
    let pairs = match members_repo::presence_audience(&state.db, subjects, max).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, event, "co-members unavailable, presence not announced");
            return;
        }
    };
    let mut by_subject: HashMap<String, Vec<String>> = HashMap::new();
    for (subject, member) in pairs {
        by_subject.entry(subject).or_default().push(member);
    }
    for (subject, members) in by_subject {
        let data = serde_json::to_value(PresenceChanged {
            user_id: subject.clone(),
            last_seen_at,
        })
        .unwrap_or_default();
        state
            .fanout
            .publish(Push::to_users(subject, members, NS_MESSAGING, event, data));
    }
}

/// Fresh gateways of each user that has any, in one pipeline.
pub async fn gateways_of(
    cache: &Cache,
    users: &[String],
    now_ms: i64,
) -> AppResult<HashMap<String, Vec<String>>> {
    let pipes: Vec<redis::Pipeline> = users
        .chunks(cache.per_call())
        .map(|chunk| {
            let mut pipe = redis::pipe();
            for user in chunk {
                pipe.hgetall(cache.key(&presence_key(user)));
            }
            pipe
        })
        .collect();
    let hashes: Vec<Vec<HashMap<String, i64>>> = cache
        .run_each(pipes, |mut c, pipe| async move {
            pipe.query_async(&mut c).await
        })
        .await?;
    Ok(users
        .iter()
        .zip(hashes.into_iter().flatten())
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

/// `GET /presence`: one answer per asked id, in order. A user within the grace
/// after their last socket still counts as online, as announced.
pub async fn get(state: &AppState, ids: &[String]) -> AppResult<Vec<Presence>> {
    let now_ms = state.clock.now().timestamp_millis();
    let grace_ms = state.config.presence_grace.as_millis() as i64;
    let pipes: Vec<redis::Pipeline> = ids
        .chunks(state.cache.per_call())
        .map(|chunk| {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.hgetall(state.cache.key(&presence_key(id)))
                    .get(state.cache.key(&pending_key(id)))
                    .get(state.cache.key(&last_seen_key(id)));
            }
            pipe
        })
        .collect();
    let values: Vec<redis::Value> = state
        .cache
        .run_each(pipes, |mut c, pipe| async move {
            pipe.query_async::<Vec<redis::Value>>(&mut c).await
        })
        .await?
        .into_iter()
        .flatten()
        .collect();
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in values.chunks(3) {
        let [entries, pending, last_seen] = chunk else {
            return Err(AppError::internal(
                "presence pipeline returned a short reply",
            ));
        };
        let entries: HashMap<String, i64> = redis::from_redis_value(entries)?;
        let pending: Option<i64> = redis::from_redis_value(pending)?;
        let last_seen: Option<i64> = redis::from_redis_value(last_seen)?;
        rows.push((entries, pending, last_seen));
    }
    Ok(ids
        .iter()
        .zip(rows)
        .map(|(id, (entries, pending, last_seen))| {
            let connected = entries.values().any(|at| now_ms - at <= STALE_MS);
            let in_grace = pending.is_some_and(|since| now_ms - since <= grace_ms);
            let online = connected || in_grace;
            // a departure whose announcement was lost (restart) still tells when
            let seen = last_seen.max(pending);
            Presence {
                user_id: id.clone(),
                online,
                last_seen_at: if online {
                    None
                } else {
                    seen.and_then(ms_to_time)
                },
            }
        })
        .collect())
}

fn ms_to_time(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}
