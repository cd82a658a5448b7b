//! The hand-off between the consumer's I/O thread and the user's thread: fetched record
//! sets and position updates in one FIFO (their order matters), group events in another
//! (they must not wait behind megabytes of prefetched data), and the `wakeup()` flag.
//!
//! The data queue is bounded in bytes: the I/O thread stops fetching while it is full, and
//! the user thread wakes it when it drains below half.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
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

/// What `poll` found for the user thread.
pub(crate) enum Next {
    Group(GroupEvent),
    Item(Item),
    Woken,
    TimedOut,
    Closed,
}

#[derive(Default)]
struct State {
    events: VecDeque<GroupEvent>,
    items: VecDeque<Item>,
    bytes: usize,
    woken: bool,
    closed: bool,
}

pub(crate) struct FetchBuffer {
    state: Mutex<State>,
    ready: Condvar,
    limit: usize,
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
            events_pending: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// I/O thread: true while there is room for more data.
    pub fn has_room(&self) -> bool {
        self.lock().bytes < self.limit
    }

    pub fn push_item(&self, item: Item) {
        let mut st = self.lock();
        if let Item::Data(d) = &item {
            st.bytes += d.records.len();
        }
        st.items.push_back(item);
        drop(st);
        self.ready.notify_one();
    }

    pub fn push_event(&self, event: GroupEvent) {
        let mut st = self.lock();
        st.events.push_back(event);
        self.events_pending.store(true, Ordering::Release);
        drop(st);
        self.ready.notify_one();
    }

    /// True while group events wait for the user thread.
    pub fn has_events(&self) -> bool {
        self.events_pending.load(Ordering::Acquire)
    }

    /// User thread: the next group event, if one waits; costs one atomic load when none
    /// does.
    pub fn take_event(&self) -> Option<GroupEvent> {
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
            if let Some(e) = st.events.pop_front() {
                if st.events.is_empty() {
                    self.events_pending.store(false, Ordering::Release);
                }
                return (Next::Group(e), false);
            }
            if let Some(item) = data.then(|| st.items.pop_front()).flatten() {
                let mut refill = false;
                if let Item::Data(d) = &item {
                    let before = st.bytes;
                    st.bytes -= d.records.len().min(st.bytes);
                    refill = before >= self.limit / 2 && st.bytes < self.limit / 2
                        || before >= self.limit && st.bytes < self.limit;
                }
                return (Next::Item(item), refill);
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

    /// User thread: drops queued data for partitions no longer assigned (or re-seeked).
    pub fn retain(&self, keep: impl Fn(&TopicPartition) -> bool) {
        let mut st = self.lock();
        let mut freed = 0;
        st.items.retain(|item| {
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
    fn events_jump_the_data_and_data_can_be_left_queued() {
        let b = FetchBuffer::new(1000);
        b.push_item(data(10));
        assert!(!b.has_events());
        assert!(b.take_event().is_none());
        b.push_event(GroupEvent::Lost(vec![TopicPartition::new("t", 0)]));
        assert!(b.has_events());
        assert!(matches!(b.take_event(), Some(GroupEvent::Lost(_))));
        assert!(!b.has_events());
        let (next, _) = b.next_of(Some(Instant::now()), false);
        assert!(matches!(next, Next::TimedOut), "data stays queued");
        assert!(matches!(
            b.next_of(Some(Instant::now()), true).0,
            Next::Item(Item::Data(_))
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
