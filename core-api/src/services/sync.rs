//! The change feed, `GET /sync?since=`: every change visible to the caller
//! after a cursor, in order, paged. Triggers write one row per change
//! (`repositories::sync`); the feed reads the rows in `(tx, id)` order, only
//! those of transactions older than every running one, and answers each with
//! the changed thing's current state. Rows older than `SYNC_RETENTION_DAYS`
//! are pruned; an older cursor is answered 410 `SYNC_CURSOR_EXPIRED`.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use shared_types::api::Message;
use shared_types::socket::{MemberRemoved, MembersAdded, MessageStatusChanged, ReceiptKind};
use shared_types::sync::SyncChange;
use shared_types::{ErrorCode, Pagination};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::models::AuthUser;
use crate::repositories::sync::{self as repo, ChangeRow};
use crate::services::pagination::{self, PageQuery};
use crate::services::{conversations, decorate, files, polls, reads};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// A change's `cursor`, or `pagination.next_cursor` of the previous
    /// answer. Without it: no changes, and the cursor of now (take it before
    /// loading lists, then follow the feed from it).
    pub since: Option<String>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A position: `(tx, id)` and when its change was made (for retention).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    tx: i64,
    id: i64,
    at_ms: i64,
}

impl Position {
    fn encode(self) -> String {
        pagination::encode(&format!("s1.{}.{}.{}", self.tx, self.id, self.at_ms))
    }

    fn decode(cursor: &str) -> AppResult<Self> {
        let bad = || AppError::validation("since is not a cursor of this feed");
        let raw = pagination::decode(cursor).map_err(|_| bad())?;
        let mut parts = raw.strip_prefix("s1.").ok_or_else(bad)?.split('.');
        let mut next = || {
            parts
                .next()
                .and_then(|p| p.parse::<i64>().ok())
                .ok_or_else(bad)
        };
        let (tx, id, at_ms) = (next()?, next()?, next()?);
        if tx < 0 || id < 0 {
            return Err(bad());
        }
        Ok(Self { tx, id, at_ms })
    }

    fn of(row: &ChangeRow) -> Self {
        Self {
            tx: row.tx,
            id: row.id,
            at_ms: row.created_at.timestamp_millis(),
        }
    }
}

pub async fn feed(
    state: &AppState,
    me: &AuthUser,
    query: &SyncQuery,
) -> AppResult<(Vec<SyncChange>, Pagination)> {
    let limit = PageQuery {
        cursor: None,
        limit: query.limit,
    }
    .limit()?;
    let now = state.clock.now();
    let safe_tx = repo::safe_tx(&state.db).await?;
    // everything below the running transactions is in the lists loaded after this
    let fresh = Position {
        tx: safe_tx,
        id: 0,
        at_ms: now.timestamp_millis(),
    };
    let Some(since) = query.since.as_deref() else {
        return Ok((Vec::new(), page_info(fresh, false)));
    };
    let since = Position::decode(since)?;
    let oldest = now - chrono::Duration::from_std(state.config.sync_retention).unwrap_or_default();
    if since.at_ms < oldest.timestamp_millis() {
        return Err(AppError::new(
            ErrorCode::SyncCursorExpired,
            "this cursor is older than the feed keeps changes: reload the conversations and \
             their messages, then follow the feed from a fresh cursor",
        ));
    }
    let mut rows = repo::page(
        &state.db,
        me.user_id,
        (since.tx, since.id),
        safe_tx,
        limit + 1,
    )
    .await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = match rows.last() {
        Some(last) if has_more => Position::of(last),
        // all caught up: every row below the safe point was seen or is not for
        // this user, so the cursor moves to it (and stays fresh)
        Some(last) => Position::of(last).max_with(fresh),
        None => since.max_with(fresh),
    };
    let changes = describe(state, me, rows).await?;
    Ok((changes, page_info(next, has_more)))
}

impl Position {
    fn max_with(self, other: Self) -> Self {
        if (other.tx, other.id) > (self.tx, self.id) {
            other
        } else {
            self
        }
    }
}

fn page_info(next: Position, has_more: bool) -> Pagination {
    Pagination {
        next_cursor: Some(next.encode()),
        has_more,
    }
}

/// Each row with the current state of what it names.
async fn describe(
    state: &AppState,
    me: &AuthUser,
    rows: Vec<ChangeRow>,
) -> AppResult<Vec<SyncChange>> {
    let mut named: Vec<(Uuid, Uuid)> = rows
        .iter()
        .filter(|r| r.kind.starts_with("message_") || r.kind == "reactions_changed")
        .filter_map(|r| r.subject_id.map(|id| (r.conversation_id, id)))
        .collect();
    named.sort_unstable();
    named.dedup();
    let (conversation_ids, message_ids): (Vec<Uuid>, Vec<Uuid>) = named.into_iter().unzip();
    let mut messages: Vec<Message> = repo::messages(&state.db, &conversation_ids, &message_ids)
        .await?
        .into_iter()
        .map(Message::from)
        .collect();
    files::sign_urls(state, &mut messages);
    decorate::messages(state, me, &mut messages).await?;
    let messages: HashMap<Uuid, Message> = messages.into_iter().map(|m| (m.id, m)).collect();
    let user_ids: Vec<Uuid> = rows.iter().filter_map(|r| r.other_id).collect();
    let tms: HashMap<Uuid, String> = repo::tms_ids(&state.db, &user_ids)
        .await?
        .into_iter()
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let subject = row.subject_id.unwrap_or_default();
        let member = row
            .other_id
            .and_then(|id| tms.get(&id).cloned())
            .unwrap_or_default();
        let (event, data) = match row.kind.as_str() {
            "message_created" => ("new_message", json_of(messages.get(&subject))),
            "message_updated" => ("message_updated", json_of(messages.get(&subject))),
            "message_deleted" => ("message_deleted", json_of(messages.get(&subject))),
            "reactions_changed" => ("reactions_changed", json_of(messages.get(&subject))),
            "poll_updated" => (
                "poll_updated",
                json_of(polls::get(state, me, subject).await.ok()),
            ),
            "receipt" => ("message_status", receipt(state, &row).await?),
            "read" => (
                "conversation_read",
                json_of(reads::current(state, row.conversation_id, me.user_id).await?),
            ),
            "member_added" => (
                "member_added",
                json_of(Some(MembersAdded {
                    conversation_id: row.conversation_id,
                    user_ids: vec![member],
                })),
            ),
            "member_removed" => (
                "member_removed",
                json_of(Some(MemberRemoved {
                    conversation_id: row.conversation_id,
                    user_id: member,
                })),
            ),
            _ => (
                "conversation_updated",
                json_of(
                    conversations::get(state, me, row.conversation_id)
                        .await
                        .ok(),
                ),
            ),
        };
        out.push(SyncChange {
            cursor: Position::of(&row).encode(),
            event: event.to_string(),
            conversation_id: row.conversation_id,
            data,
        });
    }
    Ok(out)
}

/// `null` when the thing is gone (or no longer visible).
fn json_of<T: serde::Serialize>(value: Option<T>) -> Value {
    value.map_or(Value::Null, |v| serde_json::to_value(v).unwrap_or_default())
}

async fn receipt(state: &AppState, row: &ChangeRow) -> AppResult<Value> {
    let (Some(message_id), Some(reader)) = (row.subject_id, row.other_id) else {
        return Ok(json!(null));
    };
    let Some(r) = repo::receipt(&state.db, row.conversation_id, message_id, reader).await? else {
        return Ok(json!(null));
    };
    Ok(json_of(Some(MessageStatusChanged {
        conversation_id: row.conversation_id,
        message_id,
        user_id: r.reader,
        status: if r.read_at.is_some() {
            ReceiptKind::Read
        } else {
            ReceiptKind::Delivered
        },
        delivered_at: r.delivered_at,
        read_at: r.read_at,
    })))
}

/// Rows pruned per statement.
const PRUNE_BATCH: i64 = 5_000;

/// Deletes the rows past retention, batch after batch; how many went.
pub async fn prune(state: &AppState, now: DateTime<Utc>) -> AppResult<u64> {
    let before = now - chrono::Duration::from_std(state.config.sync_retention).unwrap_or_default();
    let mut total = 0;
    loop {
        let n = repo::prune(&state.db, before, PRUNE_BATCH).await?;
        total += n;
        if n < PRUNE_BATCH as u64 {
            return Ok(total);
        }
    }
}

/// Prunes at start and then every `interval` until aborted (with the server).
pub fn spawn_pruner(state: AppState, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match prune(&state, state.clock.now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "change feed pruned"),
                Err(e) => {
                    tracing::warn!(error = %e, "change feed prune failed; retrying next tick")
                }
            }
        }
    })
}
