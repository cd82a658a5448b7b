//! The records a share consumer holds, on the user's thread: which poll delivered each,
//! its acquisition-lock deadline, and how it was acknowledged; turned into the wire's
//! acknowledgement batches when they go out.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::net::metadata::NodeId;
use crate::protocol::codec::Uuid;
use crate::TopicPartition;

use super::record::{AcknowledgeType, AcknowledgementMode, AcknowledgementResult};

/// The wire code of a gap: an acquired offset with no record for the application.
pub(super) const GAP: i8 = 0;

/// Where a partition's records came from: acknowledgements go back to the same broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Source {
    pub node: NodeId,
    pub topic_id: Uuid,
    /// When the acquisition lock of the records fetched with this source ends.
    pub lock_deadline: Instant,
    pub lock: Duration,
}

/// One acknowledgement batch: `types` has one entry for the whole range or one per offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AckBatch {
    pub first: i64,
    pub last: i64,
    pub types: Vec<i8>,
}

/// The acknowledgements of one partition, for its leader's share session.
#[derive(Debug, Clone)]
pub(crate) struct PartitionAcks {
    pub tp: TopicPartition,
    pub topic_id: Uuid,
    pub node: NodeId,
    pub batches: Vec<AckBatch>,
    /// The records' offsets (gaps left out), for the results.
    pub offsets: Vec<i64>,
}

#[derive(Debug)]
struct Held {
    source: Source,
    poll: u64,
    ack: Option<i8>,
}

/// The records handed out and not yet acknowledged to the broker.
#[derive(Debug, Default)]
pub(super) struct Acknowledgements {
    held: BTreeMap<TopicPartition, BTreeMap<i64, Held>>,
    unhanded: Vec<(TopicPartition, Source, i64, i64, i8)>,
}

impl Acknowledgements {
    /// A record was handed to the application by poll number `poll`.
    pub fn delivered(&mut self, tp: &TopicPartition, offset: i64, source: Source, poll: u64) {
        let held = Held {
            source,
            poll,
            ack: None,
        };
        self.held
            .entry(tp.clone())
            .or_default()
            .insert(offset, held);
    }

    /// Acquired offsets `first..=last` not handed to the application: gaps (control
    /// records, compacted away) or records the broker cut off, released.
    pub fn unhanded(&mut self, tp: &TopicPartition, source: Source, range: (i64, i64), code: i8) {
        self.unhanded
            .push((tp.clone(), source, range.0, range.1, code));
    }

    /// The application acknowledged a record.
    pub fn acknowledge(
        &mut self,
        tp: &TopicPartition,
        offset: i64,
        kind: AcknowledgeType,
        mode: AcknowledgementMode,
        current_poll: u64,
    ) -> Result<()> {
        let held = self.held.get_mut(tp).and_then(|p| p.get_mut(&offset));
        let Some(held) = held else {
            return Err(Error::IllegalState(format!(
                "the record at offset {offset} of {tp} is not held by this share consumer: it was \
                 never delivered to it, or its acknowledgement was already sent"
            )));
        };
        if held.ack.is_some() {
            return Err(Error::IllegalState(format!(
                "the record at offset {offset} of {tp} was already acknowledged"
            )));
        }
        if mode == AcknowledgementMode::Implicit && held.poll != current_poll {
            return Err(Error::IllegalState(format!(
                "the record at offset {offset} of {tp} came from an earlier poll, whose records \
                 were accepted implicitly; acknowledge records before polling again"
            )));
        }
        held.ack = Some(kind.code());
        Ok(())
    }

    /// Implicit mode: every record not acknowledged yet is accepted.
    pub fn accept_rest(&mut self) {
        for held in self.held.values_mut().flat_map(|p| p.values_mut()) {
            held.ack.get_or_insert(AcknowledgeType::Accept.code());
        }
    }

    /// Explicit mode: polling again needs every record of the earlier polls acknowledged.
    pub fn check_all_acknowledged(&self) -> Result<()> {
        for (tp, records) in &self.held {
            if let Some((offset, _)) = records.iter().find(|(_, h)| h.ack.is_none()) {
                return Err(Error::IllegalState(format!(
                    "explicit acknowledgement mode: the record at offset {offset} of {tp} (and \
                     maybe others) was delivered but not acknowledged; acknowledge every record \
                     before polling again"
                )));
            }
        }
        Ok(())
    }

    /// True while some record is held unacknowledged.
    pub fn any_unacknowledged(&self) -> bool {
        self.held
            .values()
            .flat_map(|p| p.values())
            .any(|h| h.ack.is_none())
    }

    /// Takes the acknowledgements ready to send. Those whose lock has expired by `now`
    /// are dropped (the broker no longer holds the records for this consumer) and come
    /// back as failed results.
    pub fn take(&mut self, now: Instant) -> (Vec<PartitionAcks>, Vec<AcknowledgementResult>) {
        let mut by_key: BTreeMap<(TopicPartition, NodeId), PartitionAcks> = BTreeMap::new();
        let mut expired: BTreeMap<TopicPartition, (Vec<i64>, Duration)> = BTreeMap::new();
        let mut entries: Vec<(TopicPartition, Source, i64, i64, i8, bool)> = Vec::new();
        for (tp, records) in self.held.iter_mut() {
            let acked: Vec<i64> = records
                .iter()
                .filter(|(_, h)| h.ack.is_some())
                .map(|(o, _)| *o)
                .collect();
            for offset in acked {
                let Some(held) = records.remove(&offset) else {
                    continue;
                };
                let code = held.ack.unwrap_or(GAP);
                if held.source.lock_deadline <= now {
                    let e = expired.entry(tp.clone()).or_default();
                    e.0.push(offset);
                    e.1 = held.source.lock;
                } else {
                    entries.push((tp.clone(), held.source, offset, offset, code, true));
                }
            }
        }
        self.held.retain(|_, r| !r.is_empty());
        for (tp, source, first, last, code) in self.unhanded.drain(..) {
            if source.lock_deadline > now {
                entries.push((tp, source, first, last, code, false));
            }
        }
        entries.sort_by(|a, b| (&a.0, a.1.node, a.2).cmp(&(&b.0, b.1.node, b.2)));
        for (tp, source, first, last, code, report) in entries {
            let acks = by_key
                .entry((tp.clone(), source.node))
                .or_insert_with(|| PartitionAcks {
                    tp,
                    topic_id: source.topic_id,
                    node: source.node,
                    batches: Vec::new(),
                    offsets: Vec::new(),
                });
            if report {
                acks.offsets.extend(first..=last);
            }
            push_range(&mut acks.batches, first, last, code);
        }
        let results = expired
            .into_iter()
            .map(|(tp, (offsets, lock))| {
                let error = Error::AcquisitionLockExpired {
                    partition: tp.clone(),
                    offsets: offsets.clone(),
                    lock,
                };
                AcknowledgementResult::failed(tp, offsets, error)
            })
            .collect();
        (by_key.into_values().collect(), results)
    }
}

/// Appends `first..=last` acknowledged as `code`, merging with the previous batch when
/// it ends right before and has the same single type.
fn push_range(batches: &mut Vec<AckBatch>, first: i64, last: i64, code: i8) {
    if let Some(prev) = batches.last_mut() {
        if prev.last + 1 == first && prev.types == [code] {
            prev.last = last;
            return;
        }
    }
    batches.push(AckBatch {
        first,
        last,
        types: vec![code],
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(deadline: Instant) -> Source {
        Source {
            node: 1,
            topic_id: Uuid([7; 16]),
            lock_deadline: deadline,
            lock: Duration::from_secs(30),
        }
    }

    #[test]
    fn contiguous_offsets_of_one_type_make_one_batch() {
        let now = Instant::now();
        let later = now + Duration::from_secs(30);
        let tp = TopicPartition::new("t", 0);
        let mut acks = Acknowledgements::default();
        for o in 0..5 {
            acks.delivered(&tp, o, source(later), 1);
        }
        acks.unhanded(&tp, source(later), (5, 6), GAP);
        let mode = AcknowledgementMode::Explicit;
        acks.acknowledge(&tp, 3, AcknowledgeType::Release, mode, 1)
            .unwrap();
        assert!(acks.check_all_acknowledged().is_err());
        acks.accept_rest();
        let (out, expired) = acks.take(now);
        assert!(expired.is_empty());
        assert_eq!(out.len(), 1);
        let batches: Vec<_> = out[0]
            .batches
            .iter()
            .map(|b| (b.first, b.last, b.types.clone()))
            .collect();
        assert_eq!(
            batches,
            [
                (0, 2, vec![1]),
                (3, 3, vec![2]),
                (4, 4, vec![1]),
                (5, 6, vec![GAP])
            ]
        );
        assert_eq!(out[0].offsets, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn misuse_is_illegal_state() {
        let later = Instant::now() + Duration::from_secs(30);
        let tp = TopicPartition::new("t", 0);
        let mut acks = Acknowledgements::default();
        acks.delivered(&tp, 0, source(later), 1);
        acks.delivered(&tp, 1, source(later), 2);
        let implicit = AcknowledgementMode::Implicit;
        let twice = acks.acknowledge(&tp, 1, AcknowledgeType::Accept, implicit, 2);
        assert!(twice.is_ok());
        let again = acks.acknowledge(&tp, 1, AcknowledgeType::Reject, implicit, 2);
        assert!(matches!(again, Err(Error::IllegalState(_))));
        let earlier = acks.acknowledge(&tp, 0, AcknowledgeType::Accept, implicit, 2);
        assert!(matches!(earlier, Err(Error::IllegalState(_))));
        let unknown = acks.acknowledge(&tp, 9, AcknowledgeType::Accept, implicit, 2);
        assert!(matches!(unknown, Err(Error::IllegalState(_))));
    }

    #[test]
    fn expired_locks_are_never_acknowledged() {
        let now = Instant::now();
        let tp = TopicPartition::new("t", 0);
        let mut acks = Acknowledgements::default();
        acks.delivered(&tp, 0, source(now), 1);
        acks.delivered(&tp, 1, source(now + Duration::from_secs(1)), 1);
        acks.accept_rest();
        let (out, expired) = acks.take(now);
        assert_eq!(out[0].offsets, [1]);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].offsets, [0]);
        assert!(matches!(
            expired[0].result,
            Err(Error::AcquisitionLockExpired { .. })
        ));
    }
}
