//! Thin Redis edge: key naming and the few commands core uses. Keys follow the
//! seed (`user:{tms_user_id}`, `conversation:{id}:members`), behind an optional prefix.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;

use crate::error::AppResult;

/// Per connection attempt and per command (a pipeline or script counts as one).
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Cache {
    conn: ConnectionManager,
    prefix: String,
}

impl Cache {
    pub async fn connect(url: &str, prefix: String) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        // without these a stalled Redis would hold requests (and push lanes) forever
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(REDIS_TIMEOUT)
            .set_response_timeout(REDIS_TIMEOUT);
        let conn = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self { conn, prefix })
    }

    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    pub async fn ping(&self) -> AppResult<()> {
        let mut c = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut c).await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> AppResult<Option<String>> {
        let mut c = self.conn.clone();
        Ok(c.get(self.key(key)).await?)
    }

    pub async fn mget(&self, keys: &[String]) -> AppResult<Vec<Option<String>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = self.conn.clone();
        let full: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        // MGET with one key returns a bare value in some clients; always ask for a list
        Ok(redis::cmd("MGET").arg(full).query_async(&mut c).await?)
    }

    /// Sets several keys with the same TTL in one round trip.
    pub async fn set_many(&self, entries: &[(String, String)], ttl_secs: u64) -> AppResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (k, v) in entries {
            pipe.set_ex(self.key(k), v, ttl_secs).ignore();
        }
        let mut c = self.conn.clone();
        pipe.query_async::<()>(&mut c).await?;
        Ok(())
    }

    pub async fn delete(&self, keys: &[String]) -> AppResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut c = self.conn.clone();
        let full: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        let _: i64 = c.del(full).await?;
        Ok(())
    }

    /// `SET key 1 NX EX ttl`: true when the key was new. Used to refuse replays.
    pub async fn set_once(&self, key: &str, ttl_secs: u64) -> AppResult<bool> {
        let mut c = self.conn.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(ttl_secs)
            .query_async(&mut c)
            .await?;
        Ok(set.is_some())
    }
}
