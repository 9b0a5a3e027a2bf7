//! Who hears a pushed event, as the push lanes ask it (`fanout::Targets`):
//! the gateways of users from presence, and a conversation's notify set of
//! gateways (never its members).

use std::collections::HashMap;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use shared_types::internal::NotifyGateway;
use sqlx::PgPool;
use uuid::Uuid;

use crate::cache::Cache;
use crate::error::AppResult;
use crate::fanout::Targets;
use crate::repositories::removals;
use crate::services::{notify_gateways, presence};

pub struct MembersAndPresence {
    pub cache: Cache,
    pub db: PgPool,
}

impl Targets for MembersAndPresence {
    fn gateways_of<'a>(
        &'a self,
        users: &'a [String],
        now_ms: i64,
    ) -> BoxFuture<'a, AppResult<HashMap<String, Vec<String>>>> {
        presence::gateways_of(&self.cache, users, now_ms).boxed()
    }

    fn notify_gateways<'a>(
        &'a self,
        conversation_ids: &'a [Uuid],
    ) -> BoxFuture<'a, AppResult<HashMap<Uuid, Vec<NotifyGateway>>>> {
        notify_gateways::read(&self.cache, conversation_ids).boxed()
    }

    fn removal_epochs<'a>(
        &'a self,
        conversation_ids: &'a [Uuid],
    ) -> BoxFuture<'a, AppResult<HashMap<Uuid, i64>>> {
        async move {
            let rows = removals::epochs(&self.db, conversation_ids).await?;
            Ok(rows.into_iter().collect())
        }
        .boxed()
    }
}
