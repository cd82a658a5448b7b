//! The murmur2 hash exactly as the Java client computes it, so a keyed record lands on the
//! same partition whichever client produced it.
//!
//! The Java client's default partitioner maps a key to
//! `to_positive(murmur2(key)) % partitions`; kafka-python and librdkafka's
//! `murmur2_random` partitioner do the same.

/// The Java client's seed (`Utils.murmur2`).
const SEED: u32 = 0x9747_b28c;
const M: u32 = 0x5bd1_e995;
const R: u32 = 24;

/// The 32-bit murmur2 hash of `data`, bit for bit as Java's `Utils.murmur2`.
///
/// # Examples
/// ```
/// # #[cfg(feature = "protocol")] {
/// use kafka_sync::protocol::murmur2::murmur2;
/// assert_eq!(murmur2(b"foobar"), -790332482);
/// # }
/// ```
pub fn murmur2(data: &[u8]) -> i32 {
    // Java hashes with signed ints, but its wrapping multiply and unsigned shift (`>>>`)
    // give the same bits as unsigned arithmetic here.
    let mut h = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        if tail.len() >= 3 {
            h ^= (tail[2] as u32) << 16;
        }
        if tail.len() >= 2 {
            h ^= (tail[1] as u32) << 8;
        }
        h ^= tail[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Clears the sign bit, as Java's `Utils.toPositive` (not `abs`, which overflows on
/// `i32::MIN`).
///
/// # Examples
/// ```
/// # #[cfg(feature = "protocol")] {
/// use kafka_sync::protocol::murmur2::to_positive;
/// assert_eq!(to_positive(-1), i32::MAX);
/// assert_eq!(to_positive(i32::MIN), 0);
/// assert_eq!(to_positive(7), 7);
/// # }
/// ```
#[inline]
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition the Java client's default partitioner picks for a keyed record:
/// `to_positive(murmur2(key)) % num_partitions`. A partition count below one gives 0.
///
/// # Examples
/// ```
/// # #[cfg(feature = "protocol")] {
/// use kafka_sync::protocol::murmur2::partition_for_key;
/// let p = partition_for_key(b"user-42", 6);
/// assert!((0..6).contains(&p));
/// assert_eq!(p, partition_for_key(b"user-42", 6));
/// # }
/// ```
pub fn partition_for_key(key: &[u8], num_partitions: i32) -> i32 {
    if num_partitions <= 0 {
        return 0;
    }
    to_positive(murmur2(key)) % num_partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_vectors_from_the_java_client() {
        // UtilsTest.testMurmur2 in Apache Kafka.
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            (b"abc", 479470107),
        ];
        for (data, expected) in cases {
            assert_eq!(murmur2(data), expected, "{:?}", std::str::from_utf8(data));
        }
    }

    #[test]
    fn every_tail_length_and_empty_input() {
        // Tails of 0..3 bytes all take distinct paths; the hash must differ per length.
        let hashes: Vec<i32> = (0..8).map(|n| murmur2(&b"abcdefgh"[..n])).collect();
        for (i, a) in hashes.iter().enumerate() {
            for b in &hashes[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // Empty input: seed ^ 0 through the final mix only.
        let mut h = SEED;
        h ^= h >> 13;
        h = h.wrapping_mul(M);
        h ^= h >> 15;
        assert_eq!(murmur2(b""), h as i32);
    }

    #[test]
    fn partitions_are_in_range() {
        for n in 1..50 {
            for key in [&b""[..], b"a", b"21", b"foobar", b"\xff\xfe\xfd"] {
                let p = partition_for_key(key, n);
                assert!((0..n).contains(&p));
            }
        }
        assert_eq!(partition_for_key(b"x", 0), 0);
        assert_eq!(partition_for_key(b"x", -3), 0);
        // "foobar": to_positive(-790332482) = 1357151166, % 10 = 6.
        assert_eq!(partition_for_key(b"foobar", 10), 6);
    }
}
