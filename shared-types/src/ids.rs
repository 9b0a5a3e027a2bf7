//! `TmsUserId`: the one place of the rule for a TMS user id. Edge and core
//! parse every id from a token or a client through it (the database's CHECK
//! is only a last guard).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest `tms_user_id`, in bytes.
pub const MAX_TMS_USER_ID_BYTES: usize = 128;

/// A TMS user id: 1 to 128 bytes of printable ASCII (spaces allowed inside),
/// no surrounding spaces. It travels in an HTTP header and in the
/// newline-separated canonical string of the internal signature, and keys
/// caches, hence the rule. Otherwise opaque (`:` and `|` are allowed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TmsUserId(String);

/// Why a string is not a [`TmsUserId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidUserId {
    Empty,
    TooLong,
    NotPrintable,
    SurroundingSpaces,
    /// `.` or `..`: as a URL path segment it would move the TMS request elsewhere.
    DotSegment,
}

impl InvalidUserId {
    pub const fn message(self) -> &'static str {
        match self {
            Self::Empty => "user id is empty",
            Self::TooLong => "user id is longer than 128 bytes",
            Self::NotPrintable => "user id must be printable ASCII",
            Self::SurroundingSpaces => "user id has surrounding spaces",
            Self::DotSegment => "user id must not be `.` or `..`",
        }
    }
}

impl fmt::Display for InvalidUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for InvalidUserId {}

impl TmsUserId {
    pub fn parse(id: &str) -> Result<Self, InvalidUserId> {
        Self::check(id)?;
        Ok(Self(id.to_owned()))
    }

    /// The rule alone, for callers that keep the `&str`.
    pub fn check(id: &str) -> Result<(), InvalidUserId> {
        if id.trim().is_empty() {
            return Err(InvalidUserId::Empty);
        }
        if id.len() > MAX_TMS_USER_ID_BYTES {
            return Err(InvalidUserId::TooLong);
        }
        if !id.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return Err(InvalidUserId::NotPrintable);
        }
        if id.trim() != id {
            return Err(InvalidUserId::SurroundingSpaces);
        }
        // every other id stays in its segment once percent-encoded
        if id == "." || id == ".." {
            return Err(InvalidUserId::DotSegment);
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl TryFrom<String> for TmsUserId {
    type Error = InvalidUserId;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::check(&id)?;
        Ok(Self(id))
    }
}

impl From<TmsUserId> for String {
    fn from(id: TmsUserId) -> Self {
        id.0
    }
}

impl AsRef<str> for TmsUserId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TmsUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        assert!(TmsUserId::parse("alice").is_ok());
        assert!(TmsUserId::parse("org:team|alice smith").is_ok());
        assert!(TmsUserId::parse(&"u".repeat(128)).is_ok());
        assert_eq!(TmsUserId::parse(""), Err(InvalidUserId::Empty));
        assert_eq!(TmsUserId::parse("   "), Err(InvalidUserId::Empty));
        assert_eq!(
            TmsUserId::parse(&"u".repeat(129)),
            Err(InvalidUserId::TooLong)
        );
        assert_eq!(TmsUserId::parse("a\nb"), Err(InvalidUserId::NotPrintable));
        assert_eq!(TmsUserId::parse("é"), Err(InvalidUserId::NotPrintable));
        assert_eq!(
            TmsUserId::parse(" bob"),
            Err(InvalidUserId::SurroundingSpaces)
        );
        assert_eq!(TmsUserId::parse(".."), Err(InvalidUserId::DotSegment));
        assert_eq!(TmsUserId::parse("."), Err(InvalidUserId::DotSegment));
        assert!(TmsUserId::parse("a.b").is_ok());
        assert!(TmsUserId::parse("...").is_ok());
    }

    #[test]
    fn serde_is_transparent_and_validates() {
        let id: TmsUserId = serde_json::from_str("\"bob\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"bob\"");
        assert!(serde_json::from_str::<TmsUserId>("\"\"").is_err());
    }
}
