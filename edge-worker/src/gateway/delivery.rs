//! What a Gateway object is asked to deliver, by a Room (room events) or by
//! the Worker (user-addressed events from core), and what it answers.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One event for one gateway; the frames are serialised once, upstream.
/// Externally tagged (`{"room":{…}}`): an internally tagged enum is read
/// through a buffered copy, which was the gateway's largest parsing cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryItem {
    /// A conversation's event.
    Room {
        conversation_id: Uuid,
        /// For this gateway's sockets joined to the conversation (`None` when
        /// the gateway holds only members to notify).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        frame: Option<String>,
        /// The namespace `frame` is on; a joined socket must be connected to it.
        namespace: String,
        /// Skip this user's sockets (typing is not echoed to its author).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exclude_user: Option<String>,
        /// Once delivered, this user's sockets leave the room.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evict_user: Option<String>,
        /// Online members on this gateway whose sockets have not joined the
        /// room get `frame` of `notify` instead (on `/notifications`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notify: Option<Notify>,
    },
    /// Every socket of these users that is connected to `namespace`.
    Users {
        user_ids: Vec<String>,
        namespace: String,
        frame: String,
        /// Then every socket of these users is disconnected and closed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        close: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notify {
    pub user_ids: Vec<String>,
    pub namespace: String,
    /// `None` on a gateway that also gets the room `frame`: the notification
    /// is that frame in `namespace` (the gateway swaps the namespace), so the
    /// event is not carried and parsed twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<String>,
}

/// The body of a gateway's `/deliver`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Core's signature when the Worker forwards core's events directly, for
    /// the replay check; `None` from a Room (objects are not reachable from outside).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    pub items: Vec<DeliveryItem>,
}

/// A gateway's answer to `/deliver`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivered {
    /// Frames written to sockets.
    pub frames: u32,
    /// Conversations of the delivered room items that this gateway no longer
    /// holds any joined socket of: the Room stops sending them here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_joined: Vec<Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_have_a_compact_tagged_wire_form() {
        let item = DeliveryItem::Users {
            user_ids: vec!["bob".into()],
            namespace: "/messaging".into(),
            frame: "42/messaging,[\"x\"]".into(),
            close: false,
        };
        let json = serde_json::to_string(&item).unwrap();
        assert!(json.starts_with(r#"{"users":{"#), "{json}");
        assert_eq!(serde_json::from_str::<DeliveryItem>(&json).unwrap(), item);
        let room = DeliveryItem::Room {
            conversation_id: Uuid::nil(),
            frame: None,
            namespace: "/messaging".into(),
            exclude_user: None,
            evict_user: None,
            notify: None,
        };
        let json = serde_json::to_string(&room).unwrap();
        assert_eq!(
            json,
            r#"{"room":{"conversation_id":"00000000-0000-0000-0000-000000000000","namespace":"/messaging"}}"#
        );
    }
}
