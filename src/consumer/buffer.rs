//! The hand-off between the consumer's I/O thread and the user's thread: fetched record
//! sets and position updates in one FIFO (their order matters), group events in another
//! (they must not wait behind megabytes of prefetched data), and the `wakeup()` flag.
//!
//! Everything queued is numbered in the order it was pushed. An event overtakes the data
//! queued before it, so the user thread, when it applies an event, drops only the data
//! queued *before* the event: what came after belongs to the assignment the event (or a
//! later one) made.
//!
//! The data queue is bounded in bytes: the I/O thread stops fetching while it is full, and
//! the user thread wakes it when it drains below half. The batch the user thread is
//! reading counts against the same bound with its decoded size ([`DecodedBytes`]), so
//! decoding cannot multiply what the bound lets in.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use bytes::Bytes;

use crate::error::Error;
use crate::TopicPartition;

use super::group::GroupEvent;

/// Record bytes fetched for one partition.
#[derive(Debug)]
pub(crate) struct FetchedData {
    pub tp: TopicPartition,
    /// The partition's seek epoch when the fetch was sent; stale data is dropped.
    pub epoch: u64,
    /// The offset the fetch asked for.
    pub fetch_offset: i64,
    /// The record set, zero or more record batches.
    pub records: Bytes,
    pub high_watermark: i64,
    /// `(producer id, first offset)` of aborted transactions (read_committed).
    pub aborted: Vec<(i64, i64)>,
    /// Most memory one batch of `records` may take decoded (`max_decoded_batch_bytes`).
    pub decode_limit: usize,
    /// Where the decoded batches of `records` are counted.
    pub decoded: Arc<DecodedBytes>,
}

/// What the batches being read on the user thread take decoded, counted against the
/// data queue's limit.
#[derive(Default)]
pub(crate) struct DecodedBytes {
    bytes: AtomicUsize,
    /// The I/O thread found no room: whoever makes room wakes it.
    starved: AtomicBool,
    wake: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for DecodedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodedBytes")
            .field("bytes", &self.bytes.load(SeqCst))
            .finish_non_exhaustive()
    }
}

impl DecodedBytes {
    /// Counts `bytes` of decoded data until the returned charge is dropped.
    pub fn charge(self: &Arc<Self>, bytes: usize) -> DecodedCharge {
        self.bytes.fetch_add(bytes, SeqCst);
        DecodedCharge {
            owner: self.clone(),
            bytes,
        }
    }

    /// True (once) if the I/O thread found no room since it was last woken.
    fn take_starved(&self) -> bool {
        self.starved.swap(false, SeqCst)
    }
}

/// One decoded batch's share of [`DecodedBytes`], given back when dropped.
pub(crate) struct DecodedCharge {
    owner: Arc<DecodedBytes>,
    bytes: usize,
}

impl Drop for DecodedCharge {
    fn drop(&mut self) {
        self.owner.bytes.fetch_sub(self.bytes, SeqCst);
        if self.owner.take_starved() {
            if let Some(wake) = self.owner.wake.get() {
                wake();
            }
        }
    }
}

/// What the data queue carries, in order.
#[derive(Debug)]
pub(crate) enum Item {
    Data(FetchedData),
    /// The I/O thread fixed a partition's position (initial position, reset).
    Position {
        tp: TopicPartition,
        epoch: u64,
        offset: i64,
    },
    /// A partition-level error for the user (no offset and no reset policy, ...).
    PartitionError {
        tp: TopicPartition,
        epoch: u64,
        error: Error,
    },
}

/// Where in the order of pushes something was queued.
pub(crate) type Seq = u64;

/// What `poll` found for the user thread.
pub(crate) enum Next {
    Group(Seq, GroupEvent),
    Item(Item),
    Woken,
    /// A commit finished: its callback (if async) is due on the polling thread.
    CommitDone,
    TimedOut,
    Closed,
}

#[derive(Default)]
struct State {
    /// Pushes so far: the next one's [`Seq`].
    pushed: Seq,
    events: VecDeque<(Seq, GroupEvent)>,
    items: VecDeque<(Seq, Item)>,
    bytes: usize,
    woken: bool,
    commit_done: bool,
    closed: bool,
}

pub(crate) struct FetchBuffer {
    state: Mutex<State>,
    ready: Condvar,
    limit: usize,
    decoded: Arc<DecodedBytes>,
    /// True while group events wait: the user thread checks it before every record it
    /// hands out, so a rebalance never waits behind records already prefetched.
    events_pending: AtomicBool,
}

impl FetchBuffer {
    pub fn new(limit: usize) -> Self {
        FetchBuffer {
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
            limit,
            decoded: Arc::default(),
            events_pending: AtomicBool::new(false),
        }
    }

    /// How to wake the I/O thread when a decoded batch is given back and it was
    /// waiting for room; set once, after the I/O thread starts.
    pub fn set_waker(&self, wake: impl Fn() + Send + Sync + 'static) {
        let _ = self.decoded.wake.set(Box::new(wake));
    }

    /// Where the decoded batches of fetched data are counted.
    pub fn decoded(&self) -> Arc<DecodedBytes> {
        self.decoded.clone()
    }

    /// Queued bytes plus decoded ones.
    fn used(&self, st: &State) -> usize {
        st.bytes + self.decoded.bytes.load(SeqCst)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// I/O thread: true while there is room for more data. Without room, the next
    /// thread to make some wakes the I/O thread (flagged before looking, so a release
    /// in between is not missed).
    pub fn has_room(&self) -> bool {
        self.decoded.starved.store(true, SeqCst);
        let room = self.used(&self.lock()) < self.limit;
        if room {
            self.decoded.starved.store(false, SeqCst);
        }
        room
    }

    pub fn push_item(&self, item: Item) {
        let mut st = self.lock();
        if let Item::Data(d) = &item {
            st.bytes += d.records.len();
        }
        let seq = st.next_seq();
        st.items.push_back((seq, item));
        drop(st);
        self.ready.notify_one();
    }

    /// Queues a group event; returns its place in the order of pushes.
    pub fn push_event(&self, event: GroupEvent) -> Seq {
        let mut st = self.lock();
        let seq = st.next_seq();
        st.events.push_back((seq, event));
        self.events_pending.store(true, Ordering::Release);
        drop(st);
        self.ready.notify_one();
        seq
    }

    /// True while group events wait for the user thread.
    pub fn has_events(&self) -> bool {
        self.events_pending.load(Ordering::Acquire)
    }

    /// User thread: the next group event, if one waits; costs one atomic load when none
    /// does.
    pub fn take_event(&self) -> Option<(Seq, GroupEvent)> {
        if !self.events_pending.load(Ordering::Acquire) {
            return None;
        }
        let mut st = self.lock();
        let event = st.events.pop_front();
        if st.events.is_empty() {
            self.events_pending.store(false, Ordering::Release);
        }
        event
    }

    /// Any thread: makes a blocked or the next `poll` return `Woken`.
    pub fn wakeup(&self) {
        self.lock().woken = true;
        self.ready.notify_all();
    }

    /// I/O thread: a commit finished; a blocked `poll` wakes to run async commit
    /// callbacks.
    pub fn commit_done(&self) {
        self.lock().commit_done = true;
        self.ready.notify_all();
    }

    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// User thread: the next event or item, waiting until `deadline` (`None`: forever);
    /// data items only when `data` is true (a consumer that may no longer own its
    /// partitions waits for the group's verdict and leaves the data queued, and bounded).
    /// Returns whether the queue fell below half its limit, so the I/O thread should be
    /// woken to fetch more.
    pub fn next_of(&self, deadline: Option<Instant>, data: bool) -> (Next, bool) {
        let mut st = self.lock();
        loop {
            if st.woken {
                st.woken = false;
                return (Next::Woken, false);
            }
            if let Some((seq, e)) = st.events.pop_front() {
                if st.events.is_empty() {
                    self.events_pending.store(false, Ordering::Release);
                }
                return (Next::Group(seq, e), false);
            }
            if let Some((_, item)) = data.then(|| st.items.pop_front()).flatten() {
                let mut refill = false;
                if let Item::Data(d) = &item {
                    let before = st.bytes;
                    st.bytes -= d.records.len().min(st.bytes);
                    refill = before >= self.limit / 2 && st.bytes < self.limit / 2
                        || before >= self.limit && st.bytes < self.limit
                        || self.used(&st) < self.limit && self.decoded.take_starved();
                }
                return (Next::Item(item), refill);
            }
            if st.commit_done {
                st.commit_done = false;
                return (Next::CommitDone, false);
            }
            if st.closed {
                return (Next::Closed, false);
            }
            match deadline {
                None => st = self.ready.wait(st).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return (Next::TimedOut, false);
                    }
                    st = self
                        .ready
                        .wait_timeout(st, d - now)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0);
                }
            }
        }
    }

    /// User thread: drops queued data for partitions no longer assigned, among what was
    /// queued before `before` (the event being applied; `None`: everything queued).
    pub fn retain(&self, before: Option<Seq>, keep: impl Fn(&TopicPartition) -> bool) {
        let mut st = self.lock();
        let mut freed = 0;
        st.items.retain(|(seq, item)| {
            if before.is_some_and(|b| *seq > b) {
                return true;
            }
            let tp = match item {
                Item::Data(d) => &d.tp,
                Item::Position { tp, .. } | Item::PartitionError { tp, .. } => tp,
            };
            let k = keep(tp);
            if !k {
                if let Item::Data(d) = item {
                    freed += d.records.len();
                }
            }
            k
        });
        st.bytes -= freed.min(st.bytes);
    }
}

impl State {
    fn next_seq(&mut self) -> Seq {
        self.pushed += 1;
        self.pushed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn data(n: usize) -> Item {
        Item::Data(FetchedData {
            tp: TopicPartition::new("t", 0),
            epoch: 0,
            fetch_offset: 0,
            records: Bytes::from(vec![0u8; n]),
            high_watermark: 0,
            aborted: Vec::new(),
            decode_limit: 1 << 20,
            decoded: Arc::default(),
        })
    }

    #[test]
    fn bounded_by_bytes_and_asks_for_refill() {
        let b = FetchBuffer::new(100);
        b.push_item(data(60));
        assert!(b.has_room());
        b.push_item(data(60));
        assert!(!b.has_room());
        let (_, refill) = b.next_of(Some(Instant::now()), true);
        assert!(refill, "dropping below the limit asks for more");
        assert!(b.has_room());
    }

    #[test]
    fn decoded_batches_count_against_the_limit_and_wake_the_io_thread_when_given_back() {
        use std::sync::atomic::AtomicUsize;
        let b = FetchBuffer::new(100);
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        b.set_waker(move || {
            w.fetch_add(1, SeqCst);
        });
        let decoded = b.decoded();
        b.push_item(data(40));
        assert!(b.has_room());
        let charge = decoded.charge(70);
        assert!(
            !b.has_room(),
            "40 queued and 70 decoded fill a limit of 100"
        );
        drop(charge);
        assert_eq!(
            wakes.load(SeqCst),
            1,
            "the I/O thread waiting for room is woken"
        );
        assert!(b.has_room());
        drop(decoded.charge(10));
        assert_eq!(wakes.load(SeqCst), 1, "no wake when it was not waiting");

        // Taking queued data makes room too, and asks for a refill.
        let _held = decoded.charge(70);
        assert!(!b.has_room());
        let (_, refill) = b.next_of(Some(Instant::now()), true);
        assert!(refill);
    }

    #[test]
    fn events_jump_the_data_and_data_can_be_left_queued() {
        let b = FetchBuffer::new(1000);
        b.push_item(data(10));
        assert!(!b.has_events());
        assert!(b.take_event().is_none());
        b.push_event(GroupEvent::Lost(vec![TopicPartition::new("t", 0)]));
        assert!(b.has_events());
        assert!(matches!(b.take_event(), Some((_, GroupEvent::Lost(_)))));
        assert!(!b.has_events());
        let (next, _) = b.next_of(Some(Instant::now()), false);
        assert!(matches!(next, Next::TimedOut), "data stays queued");
        assert!(matches!(
            b.next_of(Some(Instant::now()), true).0,
            Next::Item(Item::Data(_))
        ));
    }

    #[test]
    fn applying_an_event_drops_only_the_data_queued_before_it() {
        let b = FetchBuffer::new(1000);
        b.push_item(data(10));
        let lost = b.push_event(GroupEvent::Lost(vec![TopicPartition::new("t", 0)]));
        // The partition came back: this data belongs to the new assignment.
        b.push_item(data(20));
        let (seq, _) = b.take_event().unwrap();
        assert_eq!(seq, lost);
        b.retain(Some(seq), |_| false);
        match b.next_of(Some(Instant::now()), true).0 {
            Next::Item(Item::Data(d)) => assert_eq!(d.records.len(), 20),
            _ => panic!("the data queued after the event stays"),
        }
        b.push_item(data(30));
        b.retain(None, |_| false);
        assert!(matches!(
            b.next_of(Some(Instant::now()), true).0,
            Next::TimedOut
        ));
    }

    #[test]
    fn wakeup_interrupts_a_blocked_wait() {
        let b = std::sync::Arc::new(FetchBuffer::new(100));
        let b2 = b.clone();
        let t = std::thread::spawn(move || matches!(b2.next_of(None, true).0, Next::Woken));
        std::thread::sleep(Duration::from_millis(50));
        b.wakeup();
        assert!(t.join().unwrap());
        assert!(matches!(
            b.next_of(Some(Instant::now()), true).0,
            Next::TimedOut
        ));
    }
}
