//! Idempotent sequence numbers, one [`PartitionState`] per partition, kept as the Java
//! client's `TransactionManager` keeps them.
//!
//! - Every batch of a partition carries the producer id and epoch the partition's
//!   sequences belong to, which may lag behind the producer's newest: a partition moves
//!   to a new id only when nothing of it is in flight or queued for a retry, so a batch
//!   that may already be written is always resent exactly as it was.
//! - The first batch under an id goes alone. A broker takes any sequence from a producer
//!   it does not know yet, so a later batch overtaking a retried first one would be
//!   written ahead of it, and the first one would then be refused for good.
//! - A batch whose fate stays unknown (it expired) or that failed for good leaves a hole:
//!   the sequence is *unresolved*. New batches wait; once nothing is in flight, either
//!   the acknowledgements passed it (it was written) or the partition needs a new epoch
//!   and starts again at sequence 0 (KIP-360).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::protocol::records;

use super::future::BatchCompletion;

/// No sequence: none acknowledged yet, or a batch sent without idempotence.
pub(crate) const NO_SEQUENCE: i32 = -1;

/// A producer id and epoch; `NONE` before the broker gave one (or without idempotence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProducerIdEpoch {
    pub id: i64,
    pub epoch: i16,
}

impl ProducerIdEpoch {
    pub const NONE: ProducerIdEpoch = ProducerIdEpoch { id: -1, epoch: -1 };

    pub fn is_set(self) -> bool {
        self.id >= 0
    }
}

/// A batch that has been closed and encoded, on its way to the broker.
pub(crate) struct SentBatch {
    pub topic: Arc<str>,
    pub partition: i32,
    pub bytes: Bytes,
    pub completion: Arc<BatchCompletion>,
    pub records: i32,
    pub reserved: usize,
    pub created: Instant,
    pub attempts: u32,
    pub base_sequence: i32,
    pub pid: ProducerIdEpoch,
    /// An attempt's outcome is unknown (its response was lost or the broker timed out
    /// replicating it): the broker may hold this batch.
    pub ambiguous: bool,
    /// Its outcome was already reported (it passed `delivery_timeout` in flight); what
    /// the broker answers now only settles the partition's sequence.
    pub expired: bool,
}

impl SentBatch {
    pub fn last_sequence(&self) -> i32 {
        increment(self.base_sequence, self.records - 1)
    }

    fn restamp(&mut self, pid: ProducerIdEpoch, sequence: i32) {
        let mut bytes = self.bytes.to_vec();
        records::set_producer_state(&mut bytes, pid.id, pid.epoch, sequence);
        self.bytes = Bytes::from(bytes);
        self.base_sequence = sequence;
        self.pid = pid;
    }
}

/// Kafka's sequence arithmetic: sequences wrap from `i32::MAX` to 0.
pub(crate) fn increment(sequence: i32, by: i32) -> i32 {
    if sequence > i32::MAX - by {
        by - (i32::MAX - sequence) - 1
    } else {
        sequence + by
    }
}

/// Per-partition send state kept on the I/O thread.
pub(crate) struct PartitionState {
    /// Batches to send again, in sequence order, all under `pid`.
    pub retries: VecDeque<SentBatch>,
    pub retry_not_before: Option<Instant>,
    /// Batches of this partition in requests awaiting a response.
    pub in_flight: usize,
    /// The producer id and epoch of this partition's sequences.
    pub pid: ProducerIdEpoch,
    pub next_sequence: i32,
    pub last_acked: i32,
    /// The last sequence of a batch that may be missing from the log.
    pub unresolved: Option<i32>,
    /// The sequences cannot continue: the partition waits for a new epoch.
    pub needs_reset: bool,
}

impl Default for PartitionState {
    fn default() -> Self {
        PartitionState {
            retries: VecDeque::new(),
            retry_not_before: None,
            in_flight: 0,
            pid: ProducerIdEpoch::NONE,
            next_sequence: 0,
            last_acked: NO_SEQUENCE,
            unresolved: None,
            needs_reset: false,
        }
    }
}

impl PartitionState {
    /// Whether a new batch may be sealed and sent now (`max` batches in flight at most).
    pub fn can_send_new(&self, idempotent: bool, max: usize) -> bool {
        if !idempotent {
            return self.retries.is_empty() && self.in_flight < max;
        }
        self.pid.is_set()
            && self.retries.is_empty()
            && self.unresolved.is_none()
            && !self.needs_reset
            && self.in_flight < max
            && (self.last_acked != NO_SEQUENCE || self.in_flight == 0)
    }

    /// Whether the oldest queued retry may go now: alone, in order, after its backoff.
    pub fn retry_ready(&self, now: Instant) -> Result<bool, Instant> {
        if self.retries.is_empty() || self.in_flight > 0 || self.needs_reset {
            return Ok(false);
        }
        match self.retry_not_before {
            Some(t) if t > now => Err(t),
            _ => Ok(true),
        }
    }

    /// Moves the partition to `current` when it may: when it has nothing in flight and
    /// either nothing queued or a reset pending, in which case the queued batches get
    /// new sequences from 0, in order. Returns true if it moved.
    pub fn catch_up(&mut self, current: ProducerIdEpoch) -> bool {
        if !current.is_set() || self.pid == current || self.in_flight > 0 {
            return false;
        }
        if !self.retries.is_empty() && !self.needs_reset {
            return false;
        }
        self.pid = current;
        self.next_sequence = 0;
        self.last_acked = NO_SEQUENCE;
        self.unresolved = None;
        self.needs_reset = false;
        for b in &mut self.retries {
            b.restamp(current, self.next_sequence);
            self.next_sequence = increment(self.next_sequence, b.records);
        }
        true
    }

    /// Settles an unresolved sequence once nothing is in flight or queued: written if the
    /// acknowledgements reached it, else the partition needs a new epoch.
    pub fn resolve(&mut self) {
        let Some(u) = self.unresolved else { return };
        if self.in_flight > 0 || !self.retries.is_empty() {
            return;
        }
        if self.last_acked != NO_SEQUENCE && self.last_acked >= u {
            self.unresolved = None;
        } else {
            self.needs_reset = true;
        }
    }

    /// Gives a batch its sequence and advances the partition's next one.
    pub fn take_sequence(&mut self, records: i32) -> (ProducerIdEpoch, i32) {
        if !self.pid.is_set() {
            return (ProducerIdEpoch::NONE, NO_SEQUENCE);
        }
        let sequence = self.next_sequence;
        self.next_sequence = increment(sequence, records);
        (self.pid, sequence)
    }

    /// The broker wrote `b` (or already had it).
    pub fn on_acked(&mut self, b: &SentBatch) {
        if b.pid == self.pid && b.base_sequence != NO_SEQUENCE {
            let last = b.last_sequence();
            if self.last_acked == NO_SEQUENCE || last > self.last_acked {
                self.last_acked = last;
            }
        }
    }

    /// `b` will not be sent again, and may be missing from the log.
    pub fn on_lost(&mut self, b: &SentBatch) {
        self.on_lost_sequence(b.pid, b.base_sequence, b.records);
    }

    /// [`Self::on_lost`] for a batch known by its id, first sequence and record count.
    pub fn on_lost_sequence(&mut self, pid: ProducerIdEpoch, base_sequence: i32, records: i32) {
        if pid == self.pid && pid.is_set() && base_sequence != NO_SEQUENCE {
            let last = increment(base_sequence, records - 1);
            self.unresolved = Some(self.unresolved.map_or(last, |u| u.max(last)));
        }
    }

    /// The broker refused `b` as out of order. True if no earlier batch can fill the gap
    /// (it is the next after the last acknowledged or after an unresolved one), so the
    /// partition needs a new epoch; otherwise an earlier batch is being retried.
    pub fn out_of_order_is_gap(&self, b: &SentBatch) -> bool {
        if b.pid != self.pid {
            return false;
        }
        let next = if self.last_acked == NO_SEQUENCE {
            0
        } else {
            increment(self.last_acked, 1)
        };
        b.base_sequence == next
            || self
                .unresolved
                .is_some_and(|u| b.base_sequence == increment(u, 1))
    }

    /// Queues `b` for a retry, in sequence order.
    pub fn requeue(&mut self, b: SentBatch, not_before: Instant) {
        let pos = self
            .retries
            .iter()
            .position(|r| r.base_sequence > b.base_sequence)
            .unwrap_or(self.retries.len());
        self.retries.insert(pos, b);
        self.retry_not_before = Some(not_before);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::records::RecordBatchBuilder;

    const PID: ProducerIdEpoch = ProducerIdEpoch { id: 7, epoch: 0 };
    const BUMPED: ProducerIdEpoch = ProducerIdEpoch { id: 8, epoch: 0 };

    fn batch(state: &mut PartitionState, records: i32) -> SentBatch {
        let (pid, seq) = state.take_sequence(records);
        let mut b = RecordBatchBuilder::new(1024);
        for _ in 0..records {
            b.append(0, None, Some(b"v"), &[]);
        }
        let bytes = b.finish(
            crate::Compression::None,
            None,
            pid.id,
            pid.epoch,
            seq,
            false,
        );
        SentBatch {
            topic: "t".into(),
            partition: 0,
            bytes: bytes.unwrap(),
            completion: BatchCompletion::new("t".into(), 0),
            records,
            reserved: 0,
            created: Instant::now(),
            attempts: 0,
            base_sequence: seq,
            pid,
            ambiguous: false,
            expired: false,
        }
    }

    fn started() -> PartitionState {
        let mut s = PartitionState::default();
        assert!(s.catch_up(PID));
        s
    }

    #[test]
    fn the_first_batch_under_an_id_goes_alone() {
        let mut s = started();
        assert!(s.can_send_new(true, 5));
        let first = batch(&mut s, 10);
        s.in_flight = 1;
        assert!(
            !s.can_send_new(true, 5),
            "a second batch must wait for the first ack"
        );
        s.in_flight = 0;
        s.on_acked(&first);
        assert_eq!(s.last_acked, 9);
        s.in_flight = 4;
        assert!(s.can_send_new(true, 5));
        s.in_flight = 5;
        assert!(!s.can_send_new(true, 5));
    }

    #[test]
    fn out_of_order_is_a_gap_only_for_the_next_expected_batch() {
        let mut s = started();
        let a = batch(&mut s, 10);
        let b = batch(&mut s, 10);
        assert!(s.out_of_order_is_gap(&a));
        assert!(!s.out_of_order_is_gap(&b), "a is retried first");
        s.on_acked(&a);
        assert!(s.out_of_order_is_gap(&b));
    }

    #[test]
    fn retries_keep_their_sequence_and_go_in_order() {
        let mut s = started();
        let a = batch(&mut s, 10);
        let b = batch(&mut s, 10);
        let now = Instant::now();
        s.requeue(b, now);
        s.requeue(a, now);
        let seqs: Vec<i32> = s.retries.iter().map(|r| r.base_sequence).collect();
        assert_eq!(seqs, [0, 10]);
        s.in_flight = 1;
        assert_eq!(s.retry_ready(now), Ok(false), "one at a time");
        s.in_flight = 0;
        assert_eq!(s.retry_ready(now), Ok(true));
        assert!(!s.catch_up(BUMPED), "queued batches of the old id keep it");
    }

    #[test]
    fn an_unresolved_sequence_is_settled_by_acks_or_a_reset() {
        let mut s = started();
        let a = batch(&mut s, 10);
        let b = batch(&mut s, 10);
        s.on_lost(&a);
        assert!(!s.can_send_new(true, 5));
        s.on_acked(&b); // the lost batch was written after all
        s.resolve();
        assert_eq!((s.unresolved, s.needs_reset), (None, false));

        let c = batch(&mut s, 10);
        s.on_lost(&c);
        s.resolve();
        assert!(s.needs_reset, "nothing acknowledged past the hole");
        let d = batch(&mut s, 5);
        s.requeue(d, Instant::now());
        assert!(s.catch_up(BUMPED));
        assert_eq!(s.retries[0].base_sequence, 0);
        assert_eq!(s.retries[0].pid, BUMPED);
        assert_eq!((s.next_sequence, s.last_acked), (5, NO_SEQUENCE));
    }

    #[test]
    fn the_batch_after_an_unresolved_one_reveals_the_gap() {
        let mut s = started();
        let first = batch(&mut s, 10);
        s.on_acked(&first);
        let lost = batch(&mut s, 10);
        let next = batch(&mut s, 10);
        s.on_lost(&lost);
        assert!(s.out_of_order_is_gap(&next));
    }

    #[test]
    fn sequences_wrap_as_kafka_does() {
        assert_eq!(increment(i32::MAX, 1), 0);
        assert_eq!(increment(i32::MAX - 1, 3), 1);
        assert_eq!(increment(5, 3), 8);
    }
}
