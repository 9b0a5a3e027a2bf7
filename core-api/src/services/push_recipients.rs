//! Who hears of a new message by push (`offline_push::Recipients`): the
//! members other than the sender whose settings let it through (not muted;
//! level `all`, or `mentions` and mentioned) and who have no socket online.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use shared_types::api::Message;
use shared_types::push::{PushEvent, PushRecipient, PushRecipients};
use sqlx::PgPool;

use crate::cache::Cache;
use crate::clock::Clock;
use crate::error::AppResult;
use crate::offline_push::Recipients;
use crate::repositories::push as repo;
use crate::services::presence;

pub struct OfflineMembers {
    pub db: PgPool,
    pub cache: Cache,
    pub clock: Arc<dyn Clock>,
    /// Longest preview, in characters (0: none).
    pub preview_chars: usize,
}

impl Recipients for OfflineMembers {
    fn resolve<'a>(&'a self, messages: &'a [Message]) -> BoxFuture<'a, AppResult<Vec<PushEvent>>> {
        async move {
            let mut events = Vec::with_capacity(messages.len());
            for message in messages {
                if let Some(event) = self.event(message).await? {
                    events.push(event);
                }
            }
            Ok(events)
        }
        .boxed()
    }
}

impl OfflineMembers {
    async fn event(&self, message: &Message) -> AppResult<Option<PushEvent>> {
        let Some(conversation) = repo::conversation(&self.db, message.conversation_id).await?
        else {
            return Ok(None);
        };
        let candidates = repo::candidates(
            &self.db,
            message.conversation_id,
            &message.sender_id,
            &message.mentions,
            message.mentions_all,
            self.clock.now(),
        )
        .await?;
        if candidates.is_empty() {
            return Ok(None);
        }
        let ids: Vec<String> = candidates.iter().map(|c| c.tms_user_id.clone()).collect();
        let now_ms = self.clock.now().timestamp_millis();
        let online = match presence::gateways_of(&self.cache, &ids, now_ms).await {
            Ok(online) => online,
            Err(e) => {
                // better a push to someone online than none to someone offline
                tracing::warn!(error = %e, "presence unreadable: pushing to every candidate");
                HashMap::new()
            }
        };
        let offline: Vec<_> = candidates
            .into_iter()
            .filter(|c| !online.contains_key(&c.tms_user_id))
            .collect();
        if offline.is_empty() {
            return Ok(None);
        }
        let ids: Vec<String> = offline.iter().map(|c| c.tms_user_id.clone()).collect();
        let badges: HashMap<String, i64> =
            repo::badges(&self.db, &ids).await?.into_iter().collect();
        let mut recipients = PushRecipients::default();
        for c in offline {
            let badge = badges.get(&c.tms_user_id).copied().unwrap_or(0);
            let recipient = PushRecipient {
                user_id: c.tms_user_id,
                badge,
            };
            if c.mentioned {
                recipients.mentions.push(recipient);
            } else {
                recipients.all.push(recipient);
            }
        }
        Ok(Some(PushEvent {
            event_id: message.id.to_string(),
            conversation_id: message.conversation_id,
            conversation_type: conversation.kind.into(),
            conversation_title: conversation.title,
            message_id: message.id,
            seq: message.seq,
            sender_id: message.sender_id.clone(),
            // the conversation's privacy setting wins over PUSH_PREVIEW_CHARS
            preview: conversation
                .push_previews
                .then(|| self.preview(message))
                .flatten(),
            recipients,
        }))
    }

    fn preview(&self, message: &Message) -> Option<String> {
        if self.preview_chars == 0 {
            return None;
        }
        let text = message.content.as_deref()?.trim();
        if text.is_empty() {
            return None;
        }
        let mut preview: String = text.chars().take(self.preview_chars).collect();
        if text.chars().count() > self.preview_chars {
            preview.push('…');
        }
        Some(preview)
    }
}
