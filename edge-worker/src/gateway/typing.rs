//! `typing_start` / `typing_stop` without core: the gateway writes
//! `user_typing` to its own sockets in the room (not the typist's) and asks
//! the conversation's Room to relay the same frame to the other gateways.
//! A Room that no longer lists this gateway (it learnt late that the
//! gateway had no joined socket) refuses the relay with 403: the gateway
//! subscribes again once and retries. A state machine the glue drives.

use shared_types::socket::{server_events, Ack, UserTyping, NS_MESSAGING};
use uuid::Uuid;

use crate::gateway::delivery::DeliveryItem;
use crate::gateway::dispatch::{ack_frames, AckHandle};
use crate::gateway::join::room_unavailable;
use crate::protocol::socketio;
use crate::room::api::Relay;

/// The Room's answer to a relay that means "subscribe first".
pub const NOT_IN_THE_ROOM: u16 = 403;

/// What the glue does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypingStep {
    /// POST `Typing::relay` to the Room's `/relay`; pass its status (`None`
    /// when the call failed) to `on_relayed`.
    Relay,
    /// Subscribe this gateway at the Room again, then call `on_subscribed`.
    SubscribeAgain,
    /// Send these frames to the typist's socket; done.
    Reply(Vec<String>),
}

/// One typing change on its way to the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typing {
    ack: Option<AckHandle>,
    relay: Relay,
    subscribed_again: bool,
}

impl Typing {
    /// The change `user_id` made on `gateway` (`Action::Typing`), and the first
    /// step. Write `local()` to this gateway's sockets before running it.
    pub fn start(
        ack: Option<AckHandle>,
        gateway: &str,
        user_id: &str,
        conversation_id: Uuid,
        typing: bool,
    ) -> (Self, TypingStep) {
        let event = UserTyping {
            conversation_id,
            user_id: user_id.to_owned(),
            typing,
        };
        let frame = socketio::event(
            NS_MESSAGING,
            server_events::USER_TYPING,
            &serde_json::to_value(event).unwrap_or_default(),
        );
        let relay = Relay {
            conversation_id,
            from_gateway: gateway.to_owned(),
            namespace: NS_MESSAGING.into(),
            frame,
            exclude_user: user_id.to_owned(),
        };
        let typing = Self {
            ack,
            relay,
            subscribed_again: false,
        };
        (typing, TypingStep::Relay)
    }

    /// The body of the Room's `/relay`.
    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// This gateway's delivery: the item the Room sends the others.
    pub fn local(&self) -> DeliveryItem {
        // this gateway's own sockets: it has no newer epoch than theirs
        self.relay.item(None)
    }

    /// The Room's status for `Relay` (`None`: no answer).
    pub fn on_relayed(&mut self, status: Option<u16>) -> TypingStep {
        match status {
            Some(200) => self.reply(&Ack::ok_empty()),
            Some(NOT_IN_THE_ROOM) if !self.subscribed_again => {
                self.subscribed_again = true;
                TypingStep::SubscribeAgain
            }
            _ => self.reply(&room_unavailable()),
        }
    }

    /// Subscribed again (whatever the Room said: the retry finds out).
    pub fn on_subscribed(&mut self) -> TypingStep {
        TypingStep::Relay
    }

    fn reply(&self, response: &Ack) -> TypingStep {
        TypingStep::Reply(ack_frames(self.ack.as_ref(), response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::index::SocketIndex;
    use crate::gateway::session::SessionState;
    use crate::room::{GatewaySet, RoomState};

    const CONV: &str = "0192f1c4-5d6e-7f80-9a1b-2c3d4e5f6a7b";

    fn conv() -> Uuid {
        Uuid::parse_str(CONV).unwrap()
    }

    fn ack3() -> Option<AckHandle> {
        Some(AckHandle {
            nsp: "/messaging".into(),
            id: 3,
        })
    }

    fn typing_frame() -> String {
        format!(
            r#"42/messaging,["user_typing",{{"conversation_id":"{CONV}","typing":true,"user_id":"alice"}}]"#
        )
    }

    /// A joined socket of `user` on this gateway.
    fn joined(index: &mut SocketIndex, id: &str, user: &str) {
        let mut s = SessionState::new(id, None, 0);
        s.on_authenticated("/messaging", user);
        s.on_join_confirmed(None, conv());
        index.upsert(id, &s);
    }

    #[test]
    fn the_frame_goes_to_the_other_local_sockets_and_the_room_relays_the_same_item() {
        let (typing, step) = Typing::start(ack3(), "DFW.0", "alice", conv(), true);
        assert_eq!(step, TypingStep::Relay);
        assert_eq!(typing.relay().frame, typing_frame());
        assert_eq!(typing.relay().from_gateway, "DFW.0");

        let mut index = SocketIndex::default();
        joined(&mut index, "a1", "alice");
        joined(&mut index, "a2", "alice");
        joined(&mut index, "b1", "bob");
        let local = typing.local();
        let plan = index.plan(&local);
        let sends: Vec<(&str, &str)> = plan
            .sends
            .iter()
            .map(|(sid, f)| (sid.as_str(), f.as_ref()))
            .collect();
        assert_eq!(
            sends,
            [("b1", typing_frame().as_str())],
            "not to the typist"
        );

        let mut gateways = GatewaySet::new();
        gateways.insert("DFW.0".into(), 1);
        gateways.insert("LHR.0".into(), 1);
        let room = RoomState::new(gateways, 300);
        assert_eq!(
            room.relay_deliveries(typing.relay()),
            [("LHR.0".to_owned(), local)],
            "the other gateways get what this one wrote"
        );
    }

    #[test]
    fn a_relayed_change_is_acked_ok() {
        let (mut typing, _) = Typing::start(ack3(), "DFW.0", "alice", conv(), false);
        assert_eq!(
            typing.on_relayed(Some(200)),
            TypingStep::Reply(vec![r#"43/messaging,3[{"ok":true}]"#.into()])
        );
    }

    #[test]
    fn a_room_that_lost_the_gateway_gets_it_back_once() {
        let (mut typing, _) = Typing::start(ack3(), "DFW.0", "alice", conv(), true);
        assert_eq!(typing.on_relayed(Some(403)), TypingStep::SubscribeAgain);
        assert_eq!(typing.on_subscribed(), TypingStep::Relay);
        let unavailable = r#"43/messaging,3[{"ok":false,"error":{"code":"SERVICE_UNAVAILABLE","message":"the conversation's room is unavailable, retry later"}}]"#;
        assert_eq!(
            typing.on_relayed(Some(403)),
            TypingStep::Reply(vec![unavailable.into()]),
            "a second refusal is not retried"
        );
    }

    #[test]
    fn a_failed_relay_is_not_retried() {
        for status in [None, Some(500), Some(404)] {
            let (mut typing, _) = Typing::start(None, "DFW.0", "alice", conv(), true);
            assert_eq!(typing.on_relayed(status), TypingStep::Reply(vec![]));
        }
    }
}
