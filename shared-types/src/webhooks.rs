//! `POST /api/v1/webhooks/tms`: what TMS tells us about its users. The
//! signature is in `shared-auth::webhook_sig`.

use serde::{Deserialize, Serialize};

/// One webhook delivery: `{"type":"user.updated","data":{"tms_user_id":"alice"}}`.
/// `id` is TMS's event id when it sends one (logged, not required).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TmsWebhook {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: TmsWebhookUser,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TmsWebhookUser {
    pub tms_user_id: String,
}

/// Event types core acts on; others are acknowledged and ignored, so TMS
/// does not retry them.
pub const USER_UPDATED: &str = "user.updated";
pub const USER_DELETED: &str = "user.deleted";

/// The answer to a verified webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookOutcome {
    /// False for an event type core does not act on.
    pub handled: bool,
}
