//! The users TMS deleted, as the edge knows them: a per-isolate copy of
//! core's list (`GET /internal/v1/denied-users`), read locally by every
//! verification. The first verification of an isolate fetches it; after
//! that a copy older than `DENY_LIST_TTL_SECS` is fetched again in the
//! background while requests keep using it, so no request waits on the
//! origin (but an isolate's first) and a deleted user's token stops working
//! at every edge within that time plus one fetch (core refuses it at once).
//! A failed fetch keeps the old copy and is logged.

use std::cell::RefCell;

use shared_auth::deny_list::DenyList;
use shared_types::internal::DeniedUsers;
use worker::{Date, Method};

use super::config::EdgeConfig;
use super::core_client;

thread_local! {
    /// The copy and when it was last asked for (unix ms; `None`: never).
    static COPY: RefCell<(Option<DenyList>, Option<u64>)> = const { RefCell::new((None, None)) };
}

/// `decide` over the copy, read in place.
pub async fn with_current(config: &EdgeConfig, decide: impl FnOnce(&DenyList) -> bool) -> bool {
    let now = Date::now().as_millis();
    let (have, stale) = COPY.with(|c| {
        let c = c.borrow();
        let stale =
            c.1.is_none_or(|at| now.saturating_sub(at) >= config.deny_list_ttl_ms);
        (c.0.is_some(), stale)
    });
    if stale {
        // claimed first: one fetch at a time per isolate
        COPY.with(|c| c.borrow_mut().1 = Some(now));
        if have {
            // the isolate's configuration, which the background task may keep
            if let Some(config) = EdgeConfig::cached() {
                wasm_bindgen_futures::spawn_local(async move { fetch(&config).await });
            }
        } else {
            fetch(config).await;
        }
    }
    COPY.with(|c| c.borrow().0.as_ref().is_some_and(decide))
}

async fn fetch(config: &EdgeConfig) {
    let fetched: Result<DeniedUsers, _> = core_client::call(
        config,
        Method::Get,
        "/internal/v1/denied-users",
        "",
        None::<&()>,
    )
    .await;
    match fetched {
        Ok(list) => {
            let list = DenyList::from_entries(
                list.users.into_iter().map(|u| (u.tms_user_id, u.denied_at)),
            );
            COPY.with(|c| c.borrow_mut().0 = Some(list));
        }
        Err(e) => worker::console_warn!("deny list fetch failed: {}", e.message),
    }
}
