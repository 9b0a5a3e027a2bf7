//! Who hears a conversation's new messages on `/notifications`, kept when
//! presence or membership changes, never per message: per conversation the
//! set of gateways registered as holding online members,
//! `{conv:<id>}:gateways`, a Redis hash gateway → registration stamp.
//!
//! - **Registered** when a user arrives on a gateway (in each of the user's
//!   conversations: one indexed query, one script call per conversation on a
//!   cluster, one in all on one server), when a conversation is created or a
//!   member added while online (each of their gateways). Every registration
//!   takes a new stamp from `{conv:<id>}:gateways-seq`, so stamps never repeat.
//! - **Read** once per conversation per push batch: O(gateways), whatever the
//!   member count. The event names the gateways and their stamps only.
//! - **Removed lazily**: a gateway that finds none of its users a member
//!   names the stamp its notify carried (`prune`); the entry goes only if it
//!   still holds that stamp. A registration made after the read that the
//!   gateway answered has a newer stamp and stands, so a connect racing a
//!   prune is never lost. A gateway that died is pruned the same way: its
//!   object wakes with no sockets and answers at the next message.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use shared_types::internal::NotifyGateway;
use uuid::Uuid;

use crate::cache::keys::{notify_gateways as gateways_key, notify_gateways_seq as seq_key};
use crate::cache::Cache;
use crate::error::AppResult;

/// KEYS: per registration, the conversation's hash and its counter.
/// ARGV: per registration, the gateway. Each takes a fresh stamp.
static REGISTER: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        for i = 1, #ARGV do
            local stamp = redis.call('INCR', KEYS[2 * i])
            redis.call('HSET', KEYS[2 * i - 1], ARGV[i], stamp)
        end
        return #ARGV
        ",
    )
});

/// KEYS: the hash. ARGV: gateway, stamp. Removes the entry only if it still
/// holds that stamp; returns 1 when it did.
static PRUNE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
            return redis.call('HDEL', KEYS[1], ARGV[1])
        end
        return 0
        ",
    )
});

/// Registers each (conversation, gateway) pair with a new stamp: one script
/// call on one server, one per pair on a cluster (sent at once).
pub async fn register(cache: &Cache, pairs: &[(Uuid, String)]) -> AppResult<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let calls: Vec<_> = pairs
        .chunks(cache.per_call())
        .map(|chunk| {
            let mut invocation = REGISTER.prepare_invoke();
            for (conversation_id, gateway) in chunk {
                invocation
                    .key(cache.key(&gateways_key(*conversation_id)))
                    .key(cache.key(&seq_key(*conversation_id)))
                    .arg(gateway);
            }
            invocation
        })
        .collect();
    cache
        .run_each(calls, |mut c, invocation| async move {
            invocation.invoke_async::<i64>(&mut c).await
        })
        .await?;
    Ok(())
}

/// Each conversation's registered gateways, sorted by name: one `HGETALL`
/// per conversation, in one pipeline (per conversation on a cluster).
pub async fn read(
    cache: &Cache,
    conversation_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<NotifyGateway>>> {
    if conversation_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let pipes: Vec<redis::Pipeline> = conversation_ids
        .chunks(cache.per_call())
        .map(|chunk| {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.hgetall(cache.key(&gateways_key(*id)));
            }
            pipe
        })
        .collect();
    let hashes: Vec<Vec<BTreeMap<String, u64>>> = cache
        .run_each(pipes, |mut c, pipe| async move {
            pipe.query_async(&mut c).await
        })
        .await?;
    Ok(conversation_ids
        .iter()
        .zip(hashes.into_iter().flatten())
        .map(|(id, entries)| {
            let gateways = entries
                .into_iter()
                .map(|(gateway, stamp)| NotifyGateway { gateway, stamp })
                .collect();
            (*id, gateways)
        })
        .collect())
}

/// A gateway holds no member of the conversation as of `stamp`: removes its
/// entry unless a newer registration replaced it. True when removed.
pub async fn prune(
    cache: &Cache,
    conversation_id: Uuid,
    gateway: &str,
    stamp: u64,
) -> AppResult<bool> {
    let mut invocation = PRUNE.prepare_invoke();
    invocation
        .key(cache.key(&gateways_key(conversation_id)))
        .arg(gateway)
        .arg(stamp);
    let removed: i64 = cache
        .run(|mut c| async move { invocation.invoke_async(&mut c).await })
        .await?;
    Ok(removed == 1)
}
