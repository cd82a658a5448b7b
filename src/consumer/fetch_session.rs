//! Incremental fetch sessions (KIP-227): after the first full Fetch, a request names only
//! the partitions whose fetch state changed, and the broker answers only for partitions
//! with news. Many idle partitions then cost nothing per request.

use std::collections::{BTreeMap, HashMap};

use crate::TopicPartition;

/// What a request says about one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartitionFetch {
    pub fetch_offset: i64,
    pub max_bytes: i32,
}

/// A request's partitions, as the session decides to send them.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SessionRequest {
    pub session_id: i32,
    pub epoch: i32,
    /// Partitions to include: all of them in a full request, the changed ones otherwise.
    pub partitions: BTreeMap<TopicPartition, PartitionFetch>,
    /// Partitions to drop from the session.
    pub forgotten: Vec<TopicPartition>,
}

/// One broker's fetch session.
#[derive(Debug, Default)]
pub(crate) struct FetchSession {
    id: i32,
    /// Next epoch to send; 0 asks for a new session.
    epoch: i32,
    /// What the broker's session holds, as of the last request sent.
    sent: HashMap<TopicPartition, PartitionFetch>,
}

/// Epoch -1 asks for a full fetch without a session (sessions unsupported or disabled).
const FINAL_EPOCH: i32 = -1;

impl FetchSession {
    /// Builds the next request from the partitions wanted now.
    pub fn build(&mut self, wanted: &HashMap<TopicPartition, PartitionFetch>) -> SessionRequest {
        if self.epoch == 0 || self.id == 0 {
            // Full request: creates a session.
            self.id = 0;
            self.epoch = 0;
            self.sent = wanted.clone();
            return SessionRequest {
                session_id: 0,
                epoch: 0,
                partitions: wanted.iter().map(|(tp, f)| (tp.clone(), *f)).collect(),
                forgotten: Vec::new(),
            };
        }
        let mut partitions = BTreeMap::new();
        for (tp, f) in wanted {
            if self.sent.get(tp) != Some(f) {
                partitions.insert(tp.clone(), *f);
            }
        }
        let mut forgotten: Vec<TopicPartition> = self
            .sent
            .keys()
            .filter(|tp| !wanted.contains_key(*tp))
            .cloned()
            .collect();
        forgotten.sort();
        self.sent = wanted.clone();
        SessionRequest {
            session_id: self.id,
            epoch: self.epoch,
            partitions,
            forgotten,
        }
    }

    /// Records the broker's answer: the session id it assigned (0 when it declined one).
    pub fn on_response(&mut self, session_id: i32) {
        if session_id == 0 {
            // No session: every request is a full one.
            self.reset();
            return;
        }
        self.id = session_id;
        self.epoch = next_epoch(self.epoch);
    }

    /// Forgets the session (errors, disconnects): the next request is a full one.
    pub fn reset(&mut self) {
        self.id = 0;
        self.epoch = 0;
        self.sent.clear();
    }

    #[cfg(test)]
    fn is_full_next(&self) -> bool {
        self.id == 0 || self.epoch == 0
    }
}

fn next_epoch(epoch: i32) -> i32 {
    if epoch == FINAL_EPOCH || epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    fn want(offsets: &[(i32, i64)]) -> HashMap<TopicPartition, PartitionFetch> {
        offsets
            .iter()
            .map(|(p, o)| {
                (
                    tp(*p),
                    PartitionFetch {
                        fetch_offset: *o,
                        max_bytes: 100,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn first_request_is_full_then_incremental() {
        let mut s = FetchSession::default();
        let r = s.build(&want(&[(0, 0), (1, 0)]));
        assert_eq!((r.session_id, r.epoch, r.partitions.len()), (0, 0, 2));
        s.on_response(77);
        // Nothing changed: an empty incremental request.
        let r = s.build(&want(&[(0, 0), (1, 0)]));
        assert_eq!((r.session_id, r.epoch), (77, 1));
        assert!(r.partitions.is_empty() && r.forgotten.is_empty());
        s.on_response(77);
        // Partition 0 got data, so its fetch offset moved; partition 1 is dropped.
        let r = s.build(&want(&[(0, 5)]));
        assert_eq!(r.epoch, 2);
        assert_eq!(r.partitions.get(&tp(0)).map(|f| f.fetch_offset), Some(5));
        assert_eq!(r.forgotten, vec![tp(1)]);
        s.on_response(77);
        // Unchanged again: left out.
        let r = s.build(&want(&[(0, 5)]));
        assert!(r.partitions.is_empty());
    }

    #[test]
    fn a_declined_or_reset_session_falls_back_to_full_requests() {
        let mut s = FetchSession::default();
        s.build(&want(&[(0, 0)]));
        s.on_response(0);
        assert!(s.is_full_next());
        s.build(&want(&[(0, 0)]));
        s.on_response(9);
        assert!(!s.is_full_next());
        s.reset();
        let r = s.build(&want(&[(0, 0)]));
        assert_eq!((r.session_id, r.epoch, r.partitions.len()), (0, 0, 1));
    }
}
