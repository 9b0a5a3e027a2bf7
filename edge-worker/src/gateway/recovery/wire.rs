//! The frames of connection-state recovery (an offset appended as an
//! event's last argument) and what gateways ask each other (`/recover`).

use serde::{Deserialize, Serialize};

use super::Resume;
use crate::gateway::joined::JoinedRooms;

/// Appends `offset` as the last argument of a plain EVENT frame
/// (`42[/nsp,]["name",…]`); `None` for anything else (acks, CONNECT,
/// DISCONNECT, an event asking for an ack), which is never stamped.
pub fn stamp(frame: &str, offset: &str) -> Option<String> {
    let body = frame.strip_prefix("42")?;
    let args = match body.strip_prefix('/') {
        Some(rest) => &rest[rest.find(',')? + 1..],
        None => body,
    };
    if !args.starts_with('[') || !frame.ends_with(']') {
        return None;
    }
    let mut out = String::with_capacity(frame.len() + offset.len() + 3);
    out.push_str(&frame[..frame.len() - 1]);
    out.push_str(",\"");
    out.push_str(offset);
    out.push_str("\"]");
    Some(out)
}

/// The frame `stamp` was given (its offset argument taken off).
pub fn unstamp(stamped: &str) -> String {
    match stamped.rfind(",\"") {
        Some(at) => format!("{}]", &stamped[..at]),
        None => stamped.to_owned(),
    }
}

/// The offset number a frame stamped here carries (`{instance}-{n}`).
pub fn offset_in(stamped: &str) -> Option<u64> {
    let last = stamped.strip_suffix("\"]")?;
    let text = &last[last.rfind(",\"")? + 2..];
    text.rsplit('-').next()?.parse().ok()
}

/// The namespace of a Socket.IO frame (`/` when it names none).
pub fn namespace_of(frame: &str) -> &str {
    let body = frame.get(2..).unwrap_or_default();
    match body.strip_prefix('/') {
        Some(_) => body.split(',').next().unwrap_or("/"),
        None => "/",
    }
}

/// What a gateway answers another's `/recover`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecoverAnswer {
    /// The frames without this gateway's offsets (the asking gateway stamps its own).
    #[serde(default)]
    pub frames: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined: Option<JoinedRooms>,
    /// Ask this gateway instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved: Option<String>,
    /// Why it cannot be recovered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<String>,
    /// Where the next look starts (`Resumed::through`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<String>,
}

/// The body of `/recover`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoverAsk {
    pub pid: String,
    pub user: String,
    pub namespace: String,
    #[serde(default)]
    pub offset: Option<String>,
    /// The gateway asking, where the session lives from now on.
    pub to: String,
    /// A first look: the frames, but the session stays parked (its events
    /// keep being recorded) until the asking gateway is subscribed and asks
    /// again from `through`.
    #[serde(default)]
    pub keep: bool,
}

impl RecoverAnswer {
    pub fn of(resume: &Resume) -> Self {
        match resume {
            Resume::Frames(r) => Self {
                frames: r.frames.iter().map(|f| unstamp(f)).collect(),
                joined: r.joined.clone(),
                through: r.through.clone(),
                ..Self::default()
            },
            Resume::Moved(to) => Self {
                moved: Some(to.clone()),
                ..Self::default()
            },
            Resume::Lost(why) => Self {
                lost: Some((*why).to_owned()),
                ..Self::default()
            },
        }
    }
}
