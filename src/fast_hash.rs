//! A fast hasher, seeded at random for each map, for maps keyed by topic name.
//!
//! Topic names reach these maps from the application and from the brokers' Metadata
//! responses. A fixed hash function lets whoever controls the names pick ones that all
//! collide, making every lookup a scan: 200k such names in one response kept a client's
//! I/O thread busy for minutes. So every map draws its own random seed. The hash is
//! foldhash, about as cheap as a multiply-rotate hash on short names, where the
//! standard library's SipHash costs about as much as the rest of appending a small
//! record.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// A `HashMap` using [`KeyedState`].
pub(crate) type FastHashMap<K, V> = HashMap<K, V, KeyedState>;

/// The hasher builder of [`TopicMap`](crate::net::metadata::TopicMap) and the client's
/// other maps keyed by name: each one made (by `default()` or `new()`) has a seed of its
/// own, drawn at random.
#[derive(Debug, Default, Clone)]
pub struct KeyedState(foldhash::fast::RandomState);

impl KeyedState {
    /// A builder with a fresh random seed.
    pub fn new() -> Self {
        Self::default()
    }
}

impl BuildHasher for KeyedState {
    type Hasher = FastHasher;

    #[inline]
    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.0.build_hasher())
    }
}

/// The hasher [`KeyedState`] builds.
#[derive(Clone)]
pub struct FastHasher(foldhash::fast::FoldHasher<'static>);

impl std::fmt::Debug for FastHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FastHasher")
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0.write_u8(i);
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.0.write_u32(i);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0.write_u64(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.0.write_usize(i);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_equal_and_nearby_keys_differ() {
        let b = KeyedState::new();
        assert_eq!(b.hash_one("orders"), b.hash_one(String::from("orders")));
        let names = [
            "t",
            "t1",
            "t2",
            "orders-eu",
            "orders-us",
            "a-much-longer-topic-name-0",
        ];
        let hashes: std::collections::HashSet<u64> = names.iter().map(|n| b.hash_one(n)).collect();
        assert_eq!(hashes.len(), names.len());
    }

    #[test]
    fn every_map_has_its_own_seed() {
        // Names that collide under one map's seed do not under another's, so no set of
        // names chosen in advance collides everywhere.
        let (a, b) = (KeyedState::new(), KeyedState::new());
        let differ = (0..64)
            .filter(|i| {
                let name = format!("topic-{i}");
                a.hash_one(&name) != b.hash_one(&name)
            })
            .count();
        assert!(
            differ > 60,
            "{differ} of 64 names hash alike under two seeds"
        );
    }

    /// 100k names built so that a fixed multiply-rotate hash (what these maps used
    /// before) gives them at most 32 distinct low 16 bits, which is where a hash table
    /// puts its buckets: every insert and lookup then scans one long chain.
    fn crafted_names() -> impl Iterator<Item = String> {
        (0u32..100_000).map(|i| {
            // Three zero bytes, then five letters: as a little-endian word, a multiple
            // of 2^24.
            let mut name = vec![0u8; 3];
            name.extend((0..5).map(|d| b'a' + (i / 26u32.pow(d) % 26) as u8));
            String::from_utf8(name).unwrap()
        })
    }

    fn distinct_buckets(state: &impl BuildHasher) -> usize {
        let buckets: std::collections::HashSet<u64> = crafted_names()
            .map(|n| state.hash_one(&n) & 0xffff)
            .collect();
        buckets.len()
    }

    #[test]
    fn names_crafted_against_a_fixed_hash_spread_over_the_buckets() {
        let spread = distinct_buckets(&KeyedState::new());
        // 100k names over 65,536 buckets at random fill about 50k of them.
        assert!(spread > 40_000, "{spread} distinct buckets");
    }

    #[test]
    fn works_as_a_map() {
        let mut m: FastHashMap<String, i32> = FastHashMap::default();
        for i in 0..1000 {
            m.insert(format!("topic-{i}"), i);
        }
        assert!((0..1000).all(|i| m.get(format!("topic-{i}").as_str()) == Some(&i)));
    }
}
