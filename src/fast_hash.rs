//! A fast, non-cryptographic hasher for maps keyed by topic name on per-record paths.
//!
//! The standard library's SipHash costs about as much as the rest of appending a small
//! record. Topic names are chosen by the application and its cluster, not by an attacker
//! who could aim for collisions, so a multiply-rotate hash (the scheme of rustc's
//! FxHash) over 8-byte words is enough.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` using [`FastHasher`].
pub(crate) type FastHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// The hasher of [`TopicMap`](crate::net::metadata::TopicMap): a multiply-rotate hash
/// over 8-byte words.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher {
    hash: u64,
}

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn equal_keys_hash_equal_and_nearby_keys_differ() {
        let b = BuildHasherDefault::<FastHasher>::default();
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
    fn works_as_a_map() {
        let mut m: FastHashMap<String, i32> = FastHashMap::default();
        for i in 0..1000 {
            m.insert(format!("topic-{i}"), i);
        }
        assert!((0..1000).all(|i| m.get(format!("topic-{i}").as_str()) == Some(&i)));
    }
}
