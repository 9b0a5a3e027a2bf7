//! The stored words of a call's states (`calls.status`, `media`,
//! `end_reason`, `call_participants.status`), which are the API's words.

use shared_types::calls::{CallMedia, CallStatus, EndReason, ParticipantStatus};

/// A stored enum: the database's words are the API's. Decoding an unknown
/// value fails (a state this build does not know is never shown as another).
macro_rules! stored_enum {
    ($db:ident <=> $wire:ident { $($v:ident = $word:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
        #[sqlx(type_name = "text", rename_all = "lowercase")]
        pub enum $db { $($v),+ }

        impl $db {
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$v => $word),+ }
            }
        }

        impl From<$wire> for $db {
            fn from(w: $wire) -> Self {
                match w { $($wire::$v => Self::$v),+ }
            }
        }

        impl From<$db> for $wire {
            fn from(d: $db) -> Self {
                match d { $($db::$v => Self::$v),+ }
            }
        }
    };
}

stored_enum!(DbCallMedia <=> CallMedia { Voice = "voice", Video = "video" });
stored_enum!(DbCallStatus <=> CallStatus {
    Ringing = "ringing", Ongoing = "ongoing", Completed = "completed", Missed = "missed",
    Rejected = "rejected",
});
stored_enum!(DbParticipantStatus <=> ParticipantStatus {
    Ringing = "ringing", Joined = "joined", Left = "left", Rejected = "rejected",
    Missed = "missed", Busy = "busy",
});
stored_enum!(DbEndReason <=> EndReason {
    Hangup = "hangup", Left = "left", Timeout = "timeout", Rejected = "rejected",
});
