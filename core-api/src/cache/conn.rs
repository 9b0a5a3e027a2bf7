//! Where Redis is (`REDIS_URL`: one server or a Redis Cluster) and the one
//! connection type core uses for both, so call sites do not care which.
//!
//! `REDIS_URL` forms:
//! - `redis://host:port` (or `rediss://`): one server, through a
//!   `ConnectionManager` that reconnects underneath;
//! - a comma-separated list of nodes, `redis://a:7001,redis://b:7002,…`: a
//!   Redis Cluster, these nodes being the seeds (the client learns the others
//!   from `CLUSTER SLOTS`);
//! - `redis+cluster://host:port` (or `rediss+cluster://`): a cluster reached
//!   through one seed (e.g. a configuration endpoint).

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

use super::keys;

/// Bounds of one connection attempt and of one command, script or pipeline.
#[derive(Debug, Clone, Copy)]
pub struct CacheTimeouts {
    pub connect: Duration,
    pub response: Duration,
}

/// What `REDIS_URL` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTarget {
    Server(String),
    /// Seed nodes of a cluster, as `redis://` or `rediss://` URLs.
    Cluster(Vec<String>),
}

const FORMS: &str = "must be a redis/rediss URL (one server), a comma-separated list of them (the nodes of a cluster) or a redis+cluster/rediss+cluster URL (one seed of a cluster)";

impl RedisTarget {
    /// Parses `REDIS_URL`; the error never echoes the value (it may hold a password).
    pub fn parse(value: &str) -> Result<Self, String> {
        let parts: Vec<&str> = value.split(',').map(str::trim).collect();
        let mut nodes = Vec::with_capacity(parts.len());
        let mut cluster_scheme = false;
        for part in &parts {
            let Some((scheme, rest)) = part.split_once("://") else {
                return Err(FORMS.into());
            };
            if rest.is_empty() || rest.starts_with('/') {
                return Err("a Redis URL names no host".into());
            }
            let scheme = match scheme {
                "redis" | "rediss" => scheme,
                "redis+cluster" | "rediss+cluster" => {
                    cluster_scheme = true;
                    scheme.trim_end_matches("+cluster")
                }
                _ => return Err(FORMS.into()),
            };
            nodes.push(format!("{scheme}://{rest}"));
        }
        if nodes.len() == 1 && !cluster_scheme {
            return Ok(Self::Server(nodes.remove(0)));
        }
        Ok(Self::Cluster(nodes))
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

/// How core connects: a client and its settings, reused by every reconnection.
#[derive(Clone)]
pub(super) enum Connector {
    Server(redis::Client, ConnectionManagerConfig),
    Cluster(ClusterClient),
}

impl Connector {
    /// The `ConnectionManager`'s backoff (`retries`, `factor_ms`, `max_delay_ms`)
    /// is also the cluster client's retry schedule per request.
    pub(super) fn new(
        target: &RedisTarget,
        timeouts: CacheTimeouts,
        (retries, factor_ms, max_delay_ms): (usize, u64, u64),
    ) -> RedisResult<Self> {
        Ok(match target {
            RedisTarget::Server(url) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(timeouts.connect)
                    .set_response_timeout(timeouts.response)
                    .set_number_of_retries(retries)
                    .set_factor(factor_ms)
                    .set_max_delay(max_delay_ms);
                Self::Server(redis::Client::open(url.as_str())?, config)
            }
            RedisTarget::Cluster(nodes) => Self::Cluster(
                ClusterClient::builder(nodes.iter().map(String::as_str))
                    .connection_timeout(timeouts.connect)
                    .response_timeout(timeouts.response)
                    .retries(retries as u32)
                    .min_retry_wait(factor_ms)
                    .max_retry_wait(max_delay_ms)
                    .build()?,
            ),
        })
    }

    pub(super) async fn connect(&self) -> RedisResult<RedisConn> {
        match self {
            Self::Server(client, config) => Ok(RedisConn::Server(
                ConnectionManager::new_with_config(client.clone(), config.clone()).await?,
            )),
            Self::Cluster(client) => Ok(RedisConn::Cluster(client.get_async_connection().await?)),
        }
    }
}

/// The shared connection: one server or a cluster. Cheap to clone; both
/// multiplex every caller's requests. On a cluster, a command goes to the
/// master of its key's slot (`PING` to every master), and a script or
/// pipeline whose keys span slots is refused (`CROSSSLOT`): see `keys`.
#[derive(Clone)]
pub enum RedisConn {
    Server(ConnectionManager),
    Cluster(ClusterConnection),
}

impl RedisConn {
    /// Whether Redis answers: `PING` on one server. On a cluster, every
    /// master, each asked for a key in a slot of its own (`EXISTS`, routed by
    /// slot): the client's `PING` to all masters skips a master whose
    /// connection is gone, and a keyed command also makes the client connect
    /// again to a master that came back.
    pub async fn check(&mut self, prefix: &str) -> RedisResult<()> {
        let Self::Cluster(_) = self else {
            return redis::cmd("PING").query_async::<()>(self).await;
        };
        let probes = masters_probe_keys(self, prefix).await?;
        let checks = probes.into_iter().map(|key| {
            let mut c = self.clone();
            async move {
                redis::cmd("EXISTS")
                    .arg(key)
                    .query_async::<i64>(&mut c)
                    .await
            }
        });
        futures_util::future::try_join_all(checks).await?;
        Ok(())
    }
}

/// One key per master, from `CLUSTER SLOTS` (each entry: first slot, last
/// slot, the master `[host, port, id, …]`, then its replicas).
async fn masters_probe_keys(conn: &mut RedisConn, prefix: &str) -> RedisResult<Vec<String>> {
    let ranges: Vec<Value> = redis::cmd("CLUSTER").arg("SLOTS").query_async(conn).await?;
    let mut by_master: std::collections::BTreeMap<String, (u16, u16)> = Default::default();
    for range in ranges {
        let Value::Array(parts) = range else { continue };
        let [first, last, master, ..] = parts.as_slice() else {
            continue;
        };
        let first: u16 = redis::from_redis_value(first)?;
        let last: u16 = redis::from_redis_value(last)?;
        let (host, port): (String, u16) = match master {
            Value::Array(m) if m.len() >= 2 => (
                redis::from_redis_value(&m[0])?,
                redis::from_redis_value(&m[1])?,
            ),
            _ => continue,
        };
        by_master
            .entry(format!("{host}:{port}"))
            .or_insert((first, last));
    }
    if by_master.is_empty() {
        return Err((
            redis::ErrorKind::ClusterDown,
            "CLUSTER SLOTS names no master",
        )
            .into());
    }
    Ok(by_master
        .values()
        .map(|(first, last)| format!("{prefix}{}", keys::probe_in(*first, *last)))
        .collect())
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Server(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Server(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Server(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RedisTarget;

    #[test]
    fn one_url_is_a_server_a_list_or_the_cluster_scheme_a_cluster() {
        assert_eq!(
            RedisTarget::parse("redis://127.0.0.1:6379"),
            Ok(RedisTarget::Server("redis://127.0.0.1:6379".into()))
        );
        assert_eq!(
            RedisTarget::parse("redis://a:7101, rediss://b:7102"),
            Ok(RedisTarget::Cluster(vec![
                "redis://a:7101".into(),
                "rediss://b:7102".into()
            ]))
        );
        assert_eq!(
            RedisTarget::parse("rediss+cluster://:pw@seed:6379"),
            Ok(RedisTarget::Cluster(vec!["rediss://:pw@seed:6379".into()]))
        );
    }

    #[test]
    fn anything_else_is_refused_without_echoing_it() {
        for bad in [
            "",
            "127.0.0.1:6379",
            "http://x",
            "redis://",
            "redis://a:1,",
            "redis://a:1,http://b",
        ] {
            let err = RedisTarget::parse(bad).expect_err(bad);
            assert!(!err.contains("a:1") && !err.contains("http"), "{err}");
        }
    }
}
