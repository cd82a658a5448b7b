//! The record accumulator: per-partition batches that user threads append to and the I/O
//! thread drains.
//!
//! Appending takes one per-partition lock and makes no syscall. The I/O thread is woken
//! only when a partition starts a new batch (its linger timer starts) or a batch fills up,
//! so at full speed there is about one wakeup per batch, not per record.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::fast_hash::FastHashMap;
use crate::protocol::records::RecordBatchBuilder;

use super::block_budget::BlockBudget;
use super::future::{BatchCompletion, DeliveryFuture, RecordInfo};

/// A batch that is still accepting records.
pub(crate) struct OpenBatch {
    pub builder: RecordBatchBuilder,
    pub completion: Arc<BatchCompletion>,
    pub created: Instant,
    /// Bytes of `buffer_memory` this batch holds.
    pub reserved: usize,
}

/// A batch that accepts no more records and waits to be sent.
pub(crate) type ClosedBatch = OpenBatch;

/// One partition's batches, oldest first; the last may still be open.
#[derive(Default)]
pub(crate) struct PartitionQueue {
    pub closed: VecDeque<ClosedBatch>,
    pub open: Option<OpenBatch>,
}

impl PartitionQueue {
    pub fn is_empty(&self) -> bool {
        self.closed.is_empty() && self.open.is_none()
    }

    /// When the oldest batch becomes ready to send: now if one is full, else when the open
    /// batch's linger runs out.
    pub fn ready_at(&self, linger: Duration) -> Option<Instant> {
        if let Some(b) = self.closed.front() {
            return Some(b.created);
        }
        self.open.as_ref().map(|b| b.created + linger)
    }

    /// The size of the oldest batch, uncompressed: what it adds to a request at most.
    pub fn front_size(&self) -> Option<usize> {
        self.closed
            .front()
            .or(self.open.as_ref())
            .map(|b| b.builder.size_in_bytes())
    }

    /// When the oldest batch was created.
    pub fn oldest(&self) -> Option<Instant> {
        self.closed
            .front()
            .or(self.open.as_ref())
            .map(|b| b.created)
    }

    /// Takes the oldest batch, ready or not.
    pub fn pop_oldest(&mut self) -> Option<ClosedBatch> {
        self.closed.pop_front().or_else(|| self.open.take())
    }

    /// Takes the oldest batch if it is ready at `now` (or `force`: flush or close).
    pub fn take_ready(
        &mut self,
        linger: Duration,
        now: Instant,
        force: bool,
    ) -> Option<ClosedBatch> {
        if let Some(b) = self.closed.pop_front() {
            return Some(b);
        }
        let ready = self
            .open
            .as_ref()
            .is_some_and(|b| force || b.created + linger <= now);
        if ready {
            self.open.take()
        } else {
            None
        }
    }
}

/// The partitions of one topic.
pub(crate) struct TopicQueues {
    pub name: Arc<str>,
    pub partitions: Vec<Mutex<PartitionQueue>>,
}

/// A record's parts, borrowed from the caller for the append.
pub(crate) struct RecordRef<'a> {
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [(&'a str, Option<&'a [u8]>)],
}

/// What an append did, so the caller knows whether the I/O thread must look.
pub(crate) struct Appended {
    pub future: DeliveryFuture,
    /// The record started a new batch (the previous one, if any, is now full).
    pub new_batch: bool,
}

/// `buffer_memory`: bytes held by unsent and in-flight batches. Reserving is one atomic
/// update; the lock and condition variable are only for senders that must wait.
struct Memory {
    used: AtomicUsize,
    limit: usize,
    /// Senders waiting for memory; `release` only takes the lock and notifies when
    /// there are some.
    waiters: AtomicUsize,
    wait_lock: Mutex<()>,
    freed: Condvar,
}

impl Memory {
    /// Takes `size` bytes if they fit, or if nothing is held (one record larger than the
    /// free space must still be able to go alone).
    fn try_take(&self, size: usize) -> bool {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                (used == 0 || used + size <= self.limit).then_some(used + size)
            })
            .is_ok()
    }
}

pub(crate) struct Accumulator {
    topics: RwLock<FastHashMap<Arc<str>, Arc<TopicQueues>>>,
    memory: Memory,
    batch_size: usize,
    /// Records appended and not yet completed, for `flush`. Incremented without a lock on
    /// the per-record path; `all_complete` waits pair with `completion_lock`.
    incomplete: AtomicU64,
    completion_lock: Mutex<()>,
    all_complete: Condvar,
    /// Flushes in progress: while non-zero every batch is ready at once.
    flushing: AtomicUsize,
    closed: AtomicBool,
    /// Records that failed since a flush last reported them, and the first error.
    failures: Mutex<Failures>,
}

/// Failed records not yet reported by a flush.
#[derive(Default)]
struct Failures {
    count: u64,
    first: Option<Error>,
    /// The first failure not yet seen by the transaction manager (which makes the
    /// open transaction abortable).
    transaction: Option<Error>,
}

impl Accumulator {
    pub fn new(batch_size: usize, buffer_memory: usize) -> Self {
        Accumulator {
            topics: RwLock::new(FastHashMap::default()),
            memory: Memory {
                used: AtomicUsize::new(0),
                limit: buffer_memory,
                waiters: AtomicUsize::new(0),
                wait_lock: Mutex::new(()),
                freed: Condvar::new(),
            },
            batch_size,
            incomplete: AtomicU64::new(0),
            completion_lock: Mutex::new(()),
            all_complete: Condvar::new(),
            flushing: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            failures: Mutex::new(Failures::default()),
        }
    }

    /// The queues of `topic`, created (or grown) to `partition_count`.
    pub fn topic(&self, topic: &str, partition_count: usize) -> Arc<TopicQueues> {
        if let Some(t) = read(&self.topics).get(topic) {
            if t.partitions.len() >= partition_count {
                return t.clone();
            }
        }
        let mut topics = write(&self.topics);
        let entry = topics.entry(Arc::from(topic)).or_insert_with_key(|name| {
            Arc::new(TopicQueues {
                name: name.clone(),
                partitions: Vec::new(),
            })
        });
        if entry.partitions.len() < partition_count {
            // Partitions were added: grow by moving the existing queues into a larger set.
            let mut partitions: Vec<Mutex<PartitionQueue>> = Vec::with_capacity(partition_count);
            for q in &entry.partitions {
                partitions.push(Mutex::new(std::mem::take(&mut *lock(q))));
            }
            partitions.resize_with(partition_count, Default::default);
            *entry = Arc::new(TopicQueues {
                name: entry.name.clone(),
                partitions,
            });
        }
        entry.clone()
    }

    /// Every topic's queues, for the I/O thread to drain.
    pub fn topics(&self) -> Vec<Arc<TopicQueues>> {
        read(&self.topics).values().cloned().collect()
    }

    /// Blocks until `size` bytes of buffer memory are free, within the send's `max_block`.
    pub fn reserve(&self, size: usize, budget: &mut BlockBudget) -> Result<()> {
        if self.memory.try_take(size) {
            return Ok(());
        }
        let deadline = budget.deadline();
        let mut guard = lock(&self.memory.wait_lock);
        self.memory.waiters.fetch_add(1, Ordering::SeqCst);
        let result = loop {
            if self.memory.try_take(size) {
                break Ok(());
            }
            if self.closed.load(Ordering::SeqCst) {
                break Err(Error::Closed);
            }
            let now = Instant::now();
            if now >= deadline {
                break Err(Error::timeout(
                    format!("{size} bytes of buffer_memory (the producer is sending slower than records arrive)"),
                    budget.max(),
                ));
            }
            guard = self
                .memory
                .freed
                .wait_timeout(guard, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        };
        self.memory.waiters.fetch_sub(1, Ordering::SeqCst);
        result
    }

    /// Returns buffer memory held by a completed batch.
    pub fn release(&self, size: usize) {
        let _ = self
            .memory
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                Some(used.saturating_sub(size))
            });
        // A waiter registers before it checks the memory, so either it sees what was just
        // freed or it is counted here; the lock orders this notify after its wait began.
        if self.memory.waiters.load(Ordering::SeqCst) > 0 {
            drop(lock(&self.memory.wait_lock));
            self.memory.freed.notify_all();
        }
    }

    pub fn memory_used(&self) -> usize {
        self.memory.used.load(Ordering::SeqCst)
    }

    /// Appends one record to the partition's open batch, starting a new batch when the
    /// open one is full. `reserved` bytes of buffer memory are already held for it.
    ///
    /// With `abort_on_new_batch`, a record that would start a new batch is not appended
    /// and `None` comes back (the reservation is kept), so a sticky partitioner can move
    /// on first.
    #[allow(clippy::too_many_arguments)]
    pub fn append(
        &self,
        topic: &TopicQueues,
        partition: i32,
        record: &RecordRef<'_>,
        reserved: usize,
        abort_on_new_batch: bool,
    ) -> Result<Option<Appended>> {
        if self.closed.load(Ordering::Relaxed) {
            self.release(reserved);
            return Err(Error::Closed);
        }
        let Some(queue) = usize::try_from(partition)
            .ok()
            .and_then(|i| topic.partitions.get(i))
        else {
            self.release(reserved);
            return Err(Error::InvalidArgument(format!(
                "partition {partition} does not exist in topic {} ({} partitions)",
                topic.name,
                topic.partitions.len()
            )));
        };
        let mut q = lock(queue);
        let fits = q.open.as_ref().is_some_and(|b| {
            b.builder.record_count() == 0 || b.builder.size_in_bytes() + reserved <= self.batch_size
        });
        let new_batch = !fits;
        if new_batch {
            if abort_on_new_batch && q.open.is_some() {
                return Ok(None);
            }
            if let Some(full) = q.open.take() {
                q.closed.push_back(full);
            }
        }
        let batch = q.open.get_or_insert_with(|| OpenBatch {
            builder: RecordBatchBuilder::new(self.batch_size.max(reserved + 128)),
            completion: BatchCompletion::new(topic.name.clone(), partition),
            // The clock is read once per batch, under the lock, not once per record.
            created: Instant::now(),
            reserved: 0,
        });
        let relative_offset = batch.builder.record_count() as i32;
        batch
            .builder
            .append(record.timestamp, record.key, record.value, record.headers);
        batch.reserved += reserved;
        let future = DeliveryFuture::new(
            batch.completion.clone(),
            RecordInfo {
                relative_offset,
                timestamp: record.timestamp,
                key_size: record.key.map_or(-1, |k| k.len() as i32),
                value_size: record.value.map_or(-1, |v| v.len() as i32),
            },
        );
        // Counted while the partition is still locked, so the I/O thread cannot complete
        // the batch before this record is counted.
        self.incomplete.fetch_add(1, Ordering::SeqCst);
        drop(q);
        Ok(Some(Appended { future, new_batch }))
    }

    /// Marks `records` records complete (delivered or failed).
    pub fn records_completed(&self, records: u64) {
        let _guard = lock(&self.completion_lock);
        let before = self.incomplete.fetch_sub(records, Ordering::SeqCst);
        if before <= records {
            self.all_complete.notify_all();
        }
    }

    /// Counts `records` records that failed with `error`, for the next flush. Called
    /// before the records are marked complete, so a flush that saw them complete also
    /// sees them counted.
    pub fn records_failed(&self, records: u64, error: &Error) {
        let mut f = lock(&self.failures);
        f.count += records;
        f.first.get_or_insert_with(|| error.clone());
        f.transaction.get_or_insert_with(|| error.clone());
    }

    /// The first record failure since the last call, for the transaction manager.
    pub fn take_transaction_failure(&self) -> Option<Error> {
        lock(&self.failures).transaction.take()
    }

    /// Records appended and not yet delivered or failed.
    pub fn incomplete(&self) -> u64 {
        self.incomplete.load(Ordering::SeqCst)
    }

    /// The records that failed since the last call, and the first of their errors.
    pub fn take_failures(&self) -> Option<(u64, Error)> {
        let mut f = lock(&self.failures);
        let count = std::mem::take(&mut f.count);
        f.first.take().filter(|_| count > 0).map(|e| (count, e))
    }

    /// Blocks until every record appended so far completes, for at most `timeout`.
    pub fn wait_all_complete(&self, timeout: Duration) -> Result<()> {
        let deadline = crate::deadline::from_now(timeout);
        let mut guard = lock(&self.completion_lock);
        loop {
            let n = self.incomplete.load(Ordering::SeqCst);
            if n == 0 {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::timeout(
                    format!("{n} records to be delivered"),
                    timeout,
                ));
            }
            guard = self
                .all_complete
                .wait_timeout(guard, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        Ok(())
    }

    pub fn begin_flush(&self) {
        self.flushing.fetch_add(1, Ordering::SeqCst);
    }

    pub fn end_flush(&self) {
        self.flushing.fetch_sub(1, Ordering::SeqCst);
    }

    pub fn is_flushing(&self) -> bool {
        self.flushing.load(Ordering::SeqCst) > 0
    }

    /// Refuses new records from now on.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        drop(lock(&self.memory.wait_lock));
        self.memory.freed.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    fn budget(ms: u64) -> BlockBudget {
        BlockBudget::new(Duration::from_millis(ms))
    }

    #[test]
    fn reserve_takes_free_memory_and_lets_one_oversized_record_go_alone() {
        let acc = Accumulator::new(1024, 1000);
        acc.reserve(600, &mut budget(10)).unwrap();
        acc.reserve(400, &mut budget(10)).unwrap();
        assert_eq!(acc.memory_used(), 1000);
        acc.release(1000);
        // Larger than the whole limit, but nothing else is held.
        acc.reserve(5000, &mut budget(10)).unwrap();
        assert_eq!(acc.memory_used(), 5000);
    }

    #[test]
    fn reserve_times_out_within_max_block_when_memory_stays_full() {
        let acc = Accumulator::new(1024, 1000);
        acc.reserve(900, &mut budget(10)).unwrap();
        let start = Instant::now();
        let err = acc.reserve(200, &mut budget(100)).unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(acc.memory_used(), 900, "a failed reserve holds nothing");
    }

    /// An accumulator whose memory is all held, and a thread waiting to reserve 500 bytes.
    fn full_memory_and_a_waiter() -> (Arc<Accumulator>, thread::JoinHandle<Result<()>>) {
        let acc = Arc::new(Accumulator::new(1024, 1000));
        acc.reserve(1000, &mut budget(10)).unwrap();
        let waiting = acc.clone();
        let waiter = thread::spawn(move || waiting.reserve(500, &mut budget(10_000)));
        (acc, waiter)
    }

    #[test]
    fn a_waiting_reserve_wakes_when_memory_is_released() {
        let (acc, waiter) = full_memory_and_a_waiter();
        // Let the waiter block, then free memory: it must get it well before max_block.
        thread::sleep(Duration::from_millis(50));
        let start = Instant::now();
        acc.release(1000);
        waiter.join().unwrap().unwrap();
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(acc.memory_used(), 500);
    }

    #[test]
    fn close_wakes_a_waiting_reserve_with_closed() {
        let (acc, waiter) = full_memory_and_a_waiter();
        thread::sleep(Duration::from_millis(50));
        acc.close();
        assert!(matches!(waiter.join().unwrap(), Err(Error::Closed)));
    }
}
