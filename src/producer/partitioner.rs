//! Choosing a record's partition: Java-compatible murmur2 on the key, sticky
//! partitioning (KIP-480) for records without one, and the [`Partitioner`] trait for
//! custom schemes.

use std::sync::Mutex;

use crate::fast_hash::FastHashMap;
use crate::net::backoff::next_random;
use crate::protocol::murmur2;

/// Picks the partition of records sent without an explicit one.
///
/// # Examples
/// ```
/// use kafka_sync::Partitioner;
/// /// Sends everything to partition 0.
/// struct First;
/// impl Partitioner for First {
///     fn partition(&self, _topic: &str, _key: Option<&[u8]>, _available: &[i32], _count: usize) -> i32 {
///         0
///     }
/// }
/// let p = First;
/// assert_eq!(p.partition("t", None, &[0, 1], 2), 0);
/// ```
pub trait Partitioner: Send + Sync {
    /// The partition for a record. `available` lists partitions that have a leader now;
    /// `count` is the topic's partition count. The result must be in `0..count`.
    fn partition(&self, topic: &str, key: Option<&[u8]>, available: &[i32], count: usize) -> i32;

    /// Called when a record for `previous` needed a new batch; sticky partitioners move on.
    fn on_new_batch(&self, _topic: &str, _previous: i32, _available: &[i32], _count: usize) {}
}

/// The Java client's default: murmur2 of the key modulo the partition count, and for
/// records without a key one "sticky" partition per topic that changes with each new
/// batch, so keyless records fill batches instead of spreading thin.
///
/// # Examples
/// ```
/// use kafka_sync::{DefaultPartitioner, Partitioner};
/// let p = DefaultPartitioner::default();
/// // The same key always lands on the same partition, as in the Java client.
/// assert_eq!(p.partition("t", Some(b"a"), &[0, 1, 2], 3), p.partition("t", Some(b"a"), &[], 3));
/// ```
#[derive(Debug, Default)]
pub struct DefaultPartitioner {
    sticky: Mutex<FastHashMap<String, i32>>,
}

impl DefaultPartitioner {
    fn pick_new(&self, topic: &str, avoid: Option<i32>, available: &[i32], count: usize) -> i32 {
        let choices: Vec<i32> = if available.is_empty() {
            (0..count as i32).collect()
        } else {
            available.to_vec()
        };
        let candidates: Vec<i32> = if choices.len() > 1 {
            choices
                .iter()
                .copied()
                .filter(|p| Some(*p) != avoid)
                .collect()
        } else {
            choices
        };
        let p = candidates[(next_random() % candidates.len() as u64) as usize];
        if let Ok(mut m) = self.sticky.lock() {
            m.insert(topic.to_owned(), p);
        }
        p
    }
}

impl Partitioner for DefaultPartitioner {
    fn partition(&self, topic: &str, key: Option<&[u8]>, available: &[i32], count: usize) -> i32 {
        if let Some(key) = key {
            return murmur2::partition_for_key(key, count as i32);
        }
        let current = self.sticky.lock().ok().and_then(|m| m.get(topic).copied());
        match current {
            Some(p) if (p as usize) < count => p,
            _ => self.pick_new(topic, None, available, count),
        }
    }

    fn on_new_batch(&self, topic: &str, previous: i32, available: &[i32], count: usize) {
        let current = self.sticky.lock().ok().and_then(|m| m.get(topic).copied());
        if current == Some(previous) {
            self.pick_new(topic, Some(previous), available, count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyless_records_stick_until_a_new_batch() {
        let p = DefaultPartitioner::default();
        let first = p.partition("t", None, &[0, 1, 2, 3], 4);
        for _ in 0..10 {
            assert_eq!(p.partition("t", None, &[0, 1, 2, 3], 4), first);
        }
        p.on_new_batch("t", first, &[0, 1, 2, 3], 4);
        let second = p.partition("t", None, &[0, 1, 2, 3], 4);
        assert_ne!(second, first);
        // A stale notification (not the current sticky partition) changes nothing.
        p.on_new_batch("t", first, &[0, 1, 2, 3], 4);
        assert_eq!(p.partition("t", None, &[0, 1, 2, 3], 4), second);
    }

    #[test]
    fn keyed_records_use_murmur2() {
        let p = DefaultPartitioner::default();
        for n in 1..20 {
            let got = p.partition("t", Some(b"some-key"), &[], n);
            assert_eq!(got, murmur2::partition_for_key(b"some-key", n as i32));
            assert!((0..n as i32).contains(&got));
        }
    }
}
