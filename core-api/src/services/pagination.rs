//! Cursor encoding and page-size rules shared by list endpoints.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use shared_types::limits::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};

use crate::error::{AppError, AppResult};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// `pagination.next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

impl PageQuery {
    pub fn limit(&self) -> AppResult<i64> {
        match self.limit {
            None => Ok(i64::from(DEFAULT_PAGE_LIMIT)),
            Some(0) => Err(AppError::validation("limit must be at least 1")),
            Some(n) if n > MAX_PAGE_LIMIT => Err(AppError::validation(format!(
                "limit must be at most {MAX_PAGE_LIMIT}"
            ))),
            Some(n) => Ok(i64::from(n)),
        }
    }
}

/// Cursors are opaque to clients: base64url of an internal position.
pub fn encode(position: &str) -> String {
    URL_SAFE_NO_PAD.encode(position)
}

pub fn decode(cursor: &str) -> AppResult<String> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| AppError::validation("cursor is not valid"))
}

/// A position in a list ordered by time, then id: `{unix micros}_{uuid}`.
pub fn encode_time_id(at: DateTime<Utc>, id: uuid::Uuid) -> String {
    encode(&format!("{}_{id}", at.timestamp_micros()))
}

/// 9999-12-31T23:59:59.999999Z.
const MAX_CURSOR_MICROS: i64 = 253_402_300_799_999_999;

pub fn decode_time_id(cursor: &str) -> AppResult<(DateTime<Utc>, uuid::Uuid)> {
    parse_time_id(&decode(cursor)?)
}

/// A position in a list ordered by a flag (set first), then time, then id:
/// `{0|1}:{unix micros}_{uuid}`.
pub fn encode_flag_time_id(flag: bool, at: DateTime<Utc>, id: uuid::Uuid) -> String {
    encode(&format!(
        "{}:{}_{id}",
        u8::from(flag),
        at.timestamp_micros()
    ))
}

pub fn decode_flag_time_id(cursor: &str) -> AppResult<(bool, DateTime<Utc>, uuid::Uuid)> {
    let raw = decode(cursor)?;
    let (flag, rest) = match raw.split_once(':') {
        Some(("0", rest)) => (false, rest),
        Some(("1", rest)) => (true, rest),
        _ => return Err(AppError::validation("cursor is not valid")),
    };
    let (at, id) = parse_time_id(rest)?;
    Ok((flag, at, id))
}

fn parse_time_id(raw: &str) -> AppResult<(DateTime<Utc>, uuid::Uuid)> {
    let bad = || AppError::validation("cursor is not valid");
    let (micros, id) = raw.split_once('_').ok_or_else(bad)?;
    // cursors come from real times: anything outside 1970..=9999 is forged
    // (and some of it would be out of Postgres's range, a 500)
    let at = micros
        .parse::<i64>()
        .ok()
        .filter(|m| (0..=MAX_CURSOR_MICROS).contains(m))
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}
