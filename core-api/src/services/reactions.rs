//! Reactions: one of each emoji per user per message. Changes to one message's
//! reactions take the message's row lock, so counts announced live are exact
//! and the number of different emoji stays bounded.

use shared_types::api::Message;
use shared_types::limits::{MAX_REACTION_EMOJI_BYTES, MAX_REACTION_EMOJI_PER_MESSAGE};
use shared_types::reactions::{MessageReactions, ReactionChanged, ReactionCount};
use shared_types::socket::{server_events, NS_MESSAGING};
use unicode_segmentation::UnicodeSegmentation;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::fanout::Push;
use crate::models::AuthUser;
use crate::repositories::{messages as messages_repo, reactions as repo};
use crate::services::membership;
use crate::state::AppState;

/// A reaction is one grapheme cluster (an emoji with its modifiers, a ZWJ
/// sequence, a flag) of at most 32 bytes, and not whitespace or a control.
pub fn validate_emoji(emoji: &str) -> AppResult<()> {
    let single = emoji.graphemes(true).count() == 1;
    let visible = !emoji.chars().any(|c| c.is_control() || c.is_whitespace());
    if !single || !visible || emoji.len() > MAX_REACTION_EMOJI_BYTES {
        return Err(AppError::validation(format!(
            "emoji must be a single visible grapheme cluster of at most {MAX_REACTION_EMOJI_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Adds the caller's `emoji`; the bool is false when it was already there.
pub async fn add(
    state: &AppState,
    me: &AuthUser,
    message_id: Uuid,
    emoji: &str,
) -> AppResult<(MessageReactions, bool)> {
    let (conversation_id, seq) = authorize(state, me, message_id, emoji).await?;
    let mut tx = state.db.begin().await?;
    lock_live(&mut tx, conversation_id, message_id).await?;
    let added = repo::insert(&mut *tx, conversation_id, message_id, me.user_id, emoji).await?;
    if added
        && repo::distinct_emoji(&mut *tx, conversation_id, message_id).await?
            > MAX_REACTION_EMOJI_PER_MESSAGE as i64
    {
        tx.rollback().await?;
        return Err(AppError::conflict(format!(
            "a message carries at most {MAX_REACTION_EMOJI_PER_MESSAGE} different emoji"
        )));
    }
    let count = repo::count(&mut *tx, conversation_id, message_id, emoji).await?;
    let reactions = of_message(&mut tx, conversation_id, message_id, me.user_id).await?;
    tx.commit().await?;
    if added {
        publish(
            state,
            server_events::REACTION_ADDED,
            (conversation_id, message_id, seq),
            me,
            emoji,
            count,
        );
    }
    Ok((
        MessageReactions {
            message_id,
            conversation_id,
            reactions,
        },
        added,
    ))
}

/// Removes the caller's `emoji`; removing one that is not there changes nothing.
pub async fn remove(
    state: &AppState,
    me: &AuthUser,
    message_id: Uuid,
    emoji: &str,
) -> AppResult<MessageReactions> {
    let (conversation_id, seq) = authorize(state, me, message_id, emoji).await?;
    let mut tx = state.db.begin().await?;
    lock_live(&mut tx, conversation_id, message_id).await?;
    let removed = repo::delete(&mut *tx, conversation_id, message_id, me.user_id, emoji).await?;
    let count = repo::count(&mut *tx, conversation_id, message_id, emoji).await?;
    let reactions = of_message(&mut tx, conversation_id, message_id, me.user_id).await?;
    tx.commit().await?;
    if removed {
        publish(
            state,
            server_events::REACTION_REMOVED,
            (conversation_id, message_id, seq),
            me,
            emoji,
            count,
        );
    }
    Ok(MessageReactions {
        message_id,
        conversation_id,
        reactions,
    })
}

/// For message answers: every message gets its reactions as `viewer` sees
/// them (a tombstone has none), in one query.
pub async fn attach(
    state: &AppState,
    viewer: &AuthUser,
    messages: &mut [Message],
) -> AppResult<()> {
    let ids: Vec<(Uuid, Uuid)> = messages
        .iter()
        .filter(|m| m.deleted_at.is_none())
        .map(|m| (m.conversation_id, m.id))
        .collect();
    let rows = if ids.is_empty() {
        Vec::new()
    } else {
        repo::counts(&state.db, &ids, viewer.user_id).await?
    };
    for m in messages.iter_mut() {
        m.reactions = Some(
            rows.iter()
                .filter(|r| r.message_id == m.id)
                .cloned()
                .map(ReactionCount::from)
                .collect(),
        );
    }
    Ok(())
}

/// 422 for a bad emoji, 404 for an unknown message, 403 for a non-member;
/// returns the message's conversation and `seq`.
async fn authorize(
    state: &AppState,
    me: &AuthUser,
    message_id: Uuid,
    emoji: &str,
) -> AppResult<(Uuid, i64)> {
    validate_emoji(emoji)?;
    let message = messages_repo::get(&state.db, message_id)
        .await?
        .ok_or_else(|| AppError::not_found("message"))?;
    membership::require_member(state, message.conversation_id, me).await?;
    Ok((message.conversation_id, message.seq))
}

/// Takes the message's lock; a deleted message takes no reaction changes.
async fn lock_live(
    tx: &mut sqlx::PgConnection,
    conversation_id: Uuid,
    message_id: Uuid,
) -> AppResult<()> {
    match repo::lock_message(tx, conversation_id, message_id).await? {
        None => Err(AppError::not_found("message")),
        Some(Some(_)) => Err(AppError::conflict("the message was deleted")),
        Some(None) => Ok(()),
    }
}

async fn of_message(
    conn: &mut sqlx::PgConnection,
    conversation_id: Uuid,
    message_id: Uuid,
    viewer: Uuid,
) -> AppResult<Vec<ReactionCount>> {
    Ok(repo::counts(conn, &[(conversation_id, message_id)], viewer)
        .await?
        .into_iter()
        .map(ReactionCount::from)
        .collect())
}

/// `message`: its conversation, id and `seq` (the event follows the message).
fn publish(
    state: &AppState,
    event: &str,
    (conversation_id, message_id, seq): (Uuid, Uuid, i64),
    me: &AuthUser,
    emoji: &str,
    count: i64,
) {
    if !state.fanout.is_enabled() {
        return;
    }
    let data = ReactionChanged {
        conversation_id,
        message_id,
        user_id: me.tms_user_id.clone(),
        emoji: emoji.to_string(),
        count,
    };
    let data = serde_json::to_value(&data).unwrap_or_default();
    state.fanout.publish(
        Push::to_conversation(conversation_id, NS_MESSAGING, event, data, None).after(seq),
    );
}

#[cfg(test)]
mod tests {
    use super::validate_emoji;

    #[test]
    fn one_grapheme_cluster_of_at_most_32_bytes() {
        for ok in [
            "👍",
            "👍🏽", // skin tone modifier
            "🇫🇷", // flag: two regional indicators
            "1️⃣", // keycap sequence
            "❤️", // with variation selector
            "👨‍👩‍👧‍👦", // ZWJ family, 25 bytes
            "🏳️‍🌈",
            "a",
        ] {
            assert!(validate_emoji(ok).is_ok(), "{ok:?} should pass");
        }
        for bad in [
            "",
            "👍👍",
            "ab",
            " ",
            "\n",
            "\u{7}",
            ":thumbsup:",
            // one cluster, but a base with 20 combining marks: 41 bytes
            "e\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}",
        ] {
            assert!(validate_emoji(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
