//! A user's budget for one kind of limit, as checks report it: plain data
//! that errors and headers are made from (no Redis here).

use std::time::Duration;

use super::gcra::{self, Quota};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// Every `/api/v1` request, through the edge or straight to core.
    Api,
    /// A socket's `send_message`, counted when core is asked to persist it.
    SocketSend,
    /// `POST /api/v1/files/upload-url` (on top of `Api`).
    UploadUrl,
    /// A socket's `join_conversation`, counted when core is asked for membership.
    SocketJoin,
    /// A socket's `message_read` / `message_delivered`.
    SocketReceipt,
    /// A socket's `/calls` event (invite, accept, reject, leave, end, signal).
    SocketCall,
}

impl LimitKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            LimitKind::Api => "api",
            LimitKind::SocketSend => "socket_send",
            LimitKind::UploadUrl => "upload_url",
            LimitKind::SocketJoin => "socket_join",
            LimitKind::SocketReceipt => "socket_receipt",
            LimitKind::SocketCall => "socket_call",
        }
    }

    pub(super) fn what(self) -> &'static str {
        match self {
            LimitKind::Api => "requests",
            LimitKind::SocketSend => "messages",
            LimitKind::UploadUrl => "upload URLs",
            LimitKind::SocketJoin => "joins",
            LimitKind::SocketReceipt => "receipts",
            LimitKind::SocketCall => "call events",
        }
    }
}

/// The state of one user's budget after a check, for headers and errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStatus {
    pub kind: LimitKind,
    pub quota: Quota,
    pub remaining: u32,
    /// Until the next request is allowed; zero when this one was.
    pub retry_after: Duration,
    /// Until the whole budget is back.
    pub reset_after: Duration,
}

impl RateStatus {
    pub(super) fn from_outcome(kind: LimitKind, quota: Quota, o: gcra::Outcome) -> Self {
        let us = |v: i64| Duration::from_micros(v.max(0) as u64);
        Self {
            kind,
            quota,
            remaining: o.remaining,
            retry_after: us(o.retry_after_us),
            reset_after: us(o.reset_after_us),
        }
    }

    /// Whole milliseconds to wait, rounded up.
    pub fn retry_after_ms(&self) -> u64 {
        self.retry_after.as_micros().div_ceil(1000) as u64
    }

    /// Whole seconds to wait, rounded up, at least 1 (`Retry-After`).
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_micros().div_ceil(1_000_000).max(1) as u64
    }

    /// `X-RateLimit-*` (and `Retry-After` when refused) for an HTTP response.
    /// `X-RateLimit-Reset` is in seconds from now, rounded up.
    pub fn headers(&self, refused: bool) -> Vec<(&'static str, String)> {
        let reset = self.reset_after.as_micros().div_ceil(1_000_000);
        let mut h = vec![
            ("x-ratelimit-limit", self.quota.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            ("x-ratelimit-reset", reset.to_string()),
        ];
        if refused {
            h.push(("retry-after", self.retry_after_secs().to_string()));
        }
        h
    }

    /// The client-facing message of a refusal.
    pub fn message(&self) -> String {
        format!(
            "too many {}: at most {} per {} s; retry after {} ms",
            self.kind.what(),
            self.quota.limit,
            self.quota.period.as_secs(),
            self.retry_after_ms()
        )
    }

    /// `error.details` of a refusal (REST envelope and socket ack alike).
    pub fn details(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": self.kind.as_str(),
            "limit": self.quota.limit,
            "period_secs": self.quota.period.as_secs(),
            "retry_after_ms": self.retry_after_ms(),
        })
    }
}
