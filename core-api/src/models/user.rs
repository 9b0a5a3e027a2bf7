//! Who is asking.

use uuid::Uuid;

/// The authenticated caller of a public route.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub tms_user_id: String,
    /// Local `users.id`.
    pub user_id: Uuid,
}
