//! `delivery_timeout`: every record gets its outcome by then (plus the loop's reaction
//! time), whatever the state: leader unknown or unreachable, no producer id yet, no
//! broker at all, a request in flight that never ends, a batch waiting to be retried.
//!
//! A batch that never went out is surely not written. A batch that went out and expires
//! fails with a `Timeout` saying its fate is unknown, as the Java client's
//! `TimeoutException`; its sequence is marked unresolved so the partition's later
//! batches are not refused for good because of the hole it may leave.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::error::Error;

use super::accumulator::lock;
use super::sender::{complete_sent, finish_batch, min_time, unknown_outcome, Sender};
use super::sequence::SentBatch;

/// The shortest time between two scans for expired batches: well inside the 1 s that
/// an outcome may come after `delivery_timeout`.
const SCAN_INTERVAL: Duration = Duration::from_millis(50);

impl Sender {
    /// Fails whatever passed `delivery_timeout`; returns when to look again. Scans
    /// everything only when the oldest pending batch may have expired.
    pub(super) fn expire(&mut self, now: Instant) -> Option<Instant> {
        if self.next_expiry.is_some_and(|t| t > now) {
            return self.next_expiry;
        }
        let timeout = self.config.delivery_timeout;
        let due = |created: Instant| now.saturating_duration_since(created) >= timeout;
        let mut oldest: Option<Instant> = None;

        // Batches still in the accumulator: never sent.
        for topic in self.acc.topics() {
            for queue in &topic.partitions {
                let mut q = lock(queue);
                while q.oldest().is_some_and(due) {
                    let Some(b) = q.pop_oldest() else { break };
                    let records = b.builder.record_count() as i32;
                    let err = Error::timeout(
                        format!(
                            "delivery of {records} records to {}-{} (never sent: no leader, \
                             no connection or no producer id in time)",
                            b.completion.topic, b.completion.partition
                        ),
                        now.saturating_duration_since(b.created),
                    );
                    self.metrics.on_error();
                    finish_batch(&self.acc, &self.metrics, &b, records, Err(err));
                }
                if let Some(t) = q.oldest() {
                    oldest = min_time(oldest, t);
                }
            }
        }

        // Batches waiting to be retried.
        let mut expired: Vec<SentBatch> = Vec::new();
        for state in self.partitions.values_mut() {
            if state.retries.iter().any(|b| due(b.created)) {
                let (gone, kept): (VecDeque<SentBatch>, VecDeque<SentBatch>) =
                    std::mem::take(&mut state.retries)
                        .into_iter()
                        .partition(|b| due(b.created));
                state.retries = kept;
                expired.extend(gone);
            }
            for b in &state.retries {
                oldest = min_time(oldest, b.created);
            }
        }
        for b in expired {
            let err = unknown_outcome(&b, None, now);
            self.fail_sent(b, err);
        }

        // Batches in flight: their outcome is reported now; the broker's answer, when it
        // comes, only settles the sequence.
        let mut lost = Vec::new();
        for req in self.in_flight.values_mut() {
            for b in req.batches.iter_mut().filter(|b| !b.expired) {
                if !due(b.created) {
                    oldest = min_time(oldest, b.created);
                    continue;
                }
                b.expired = true;
                b.ambiguous = true;
                let err = unknown_outcome(b, None, now);
                self.metrics.on_error();
                complete_sent(&self.acc, &self.metrics, b, Err(err));
                lost.push((
                    b.topic.clone(),
                    b.partition,
                    b.pid,
                    b.base_sequence,
                    b.records,
                ));
            }
        }
        for (topic, partition, pid, base_sequence, records) in lost {
            if let Some(state) = self.partitions.get_mut(&(topic, partition)) {
                state.on_lost_sequence(pid, base_sequence, records);
            }
        }
        // At most one scan per SCAN_INTERVAL, however many batches expire one by one.
        let next = oldest
            .map_or(now + timeout, |t| t + timeout)
            .max(now + SCAN_INTERVAL);
        self.next_expiry = Some(next);
        Some(next)
    }
}
