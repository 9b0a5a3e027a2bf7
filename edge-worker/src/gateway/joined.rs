//! The rooms one socket has joined, each with the removal epoch its
//! membership was verified at (`delivery::Admission`). Kept in the socket's
//! attachment, so it is compact: a plain list of ids while no epoch is above 0
//! (as attachments were before epochs), else an object `{id: epoch}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoinedRooms(BTreeMap<Uuid, i64>);

impl JoinedRooms {
    /// Joined at epoch 0 (verified later with `verify`); false if it was already.
    pub fn insert(&mut self, conversation_id: Uuid) -> bool {
        if self.0.contains_key(&conversation_id) {
            return false;
        }
        self.0.insert(conversation_id, 0);
        true
    }

    /// Returns whether it was joined.
    pub fn remove(&mut self, conversation_id: &Uuid) -> bool {
        self.0.remove(conversation_id).is_some()
    }

    pub fn contains(&self, conversation_id: &Uuid) -> bool {
        self.0.contains_key(conversation_id)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Uuid> + '_ {
        self.0.keys()
    }

    /// The removal epoch the membership was verified at (0 if not joined).
    pub fn epoch(&self, conversation_id: &Uuid) -> i64 {
        self.0.get(conversation_id).copied().unwrap_or(0)
    }

    /// Core confirmed the membership at `epoch`: only raises it, only while joined.
    pub fn verify(&mut self, conversation_id: &Uuid, epoch: i64) {
        if let Some(at) = self.0.get_mut(conversation_id) {
            *at = (*at).max(epoch);
        }
    }
}

impl FromIterator<Uuid> for JoinedRooms {
    fn from_iter<I: IntoIterator<Item = Uuid>>(ids: I) -> Self {
        Self(ids.into_iter().map(|id| (id, 0)).collect())
    }
}

impl IntoIterator for JoinedRooms {
    type Item = Uuid;
    type IntoIter = std::collections::btree_map::IntoKeys<Uuid, i64>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_keys()
    }
}

impl Serialize for JoinedRooms {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.values().all(|e| *e == 0) {
            serializer.collect_seq(self.0.keys())
        } else {
            serializer.collect_map(self.0.iter())
        }
    }
}

impl<'de> Deserialize<'de> for JoinedRooms {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Ids(Vec<Uuid>),
            WithEpochs(BTreeMap<Uuid, i64>),
        }
        Ok(match Form::deserialize(deserializer)? {
            Form::Ids(ids) => ids.into_iter().collect(),
            Form::WithEpochs(map) => Self(map),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_while_no_epoch_is_set_then_an_object_and_both_read_back() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut rooms: JoinedRooms = [a, b].into_iter().collect();
        let plain = serde_json::to_string(&rooms).unwrap();
        assert!(plain.starts_with('['), "{plain}");
        assert_eq!(serde_json::from_str::<JoinedRooms>(&plain).unwrap(), rooms);
        rooms.verify(&b, 7);
        rooms.verify(&b, 3);
        assert_eq!(rooms.epoch(&b), 7, "only raised");
        let with_epochs = serde_json::to_string(&rooms).unwrap();
        assert!(with_epochs.starts_with('{'), "{with_epochs}");
        assert_eq!(
            serde_json::from_str::<JoinedRooms>(&with_epochs).unwrap(),
            rooms
        );
        rooms.verify(&Uuid::from_u128(9), 5);
        assert_eq!(rooms.len(), 2, "an epoch for a room not joined is not kept");
        assert!(rooms.remove(&b));
        assert_eq!(rooms.epoch(&b), 0);
    }
}
