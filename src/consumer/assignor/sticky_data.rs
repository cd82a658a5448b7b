//! The `"sticky"` assignor's subscription user data: the member's previous assignment and
//! its generation, in the Java `StickyAssignor`'s schemas (which kafka-python shares).
//!
//! ```text
//! V0: previous_assignment: [ { topic: string, partitions: [int32] } ]
//! V1: V0 followed by generation: int32
//! ```
//! There is no version prefix: a reader tries V1, then V0. Unreadable data counts as owning
//! nothing at the default generation, as in Java.

use bytes::{BufMut, Bytes, BytesMut};

use crate::protocol::codec::{DecodeError, EncodeError, Reader};
use crate::TopicPartition;

use super::ownership::Claim;
use super::protocol::{put_topic_partitions, read_topic_partitions};
use super::DEFAULT_GENERATION;

/// Encodes `partitions` and `generation` as V1 user data, grouping partitions by topic in
/// the order each topic first appears. Fails only on a topic name too long for the wire.
pub(super) fn encode(partitions: &[TopicPartition], generation: i32) -> Result<Bytes, EncodeError> {
    let mut out = BytesMut::new();
    put_topic_partitions(&mut out, partitions, "previous_assignment")?;
    out.put_i32(generation);
    Ok(out.freeze())
}

/// Decodes user data a sticky member sent: V1 if it parses, else V0 (no generation), else
/// nothing owned at the default generation.
pub(super) fn decode(user_data: &Bytes) -> Claim {
    let v1 = || -> Result<Claim, DecodeError> {
        let mut r = Reader::new(user_data.clone());
        let partitions = read_topic_partitions(&mut r, "previous_assignment")?;
        let generation = r.i32()?;
        Ok(Claim {
            partitions,
            generation: Some(generation),
        })
    };
    let v0 = || -> Result<Claim, DecodeError> {
        let mut r = Reader::new(user_data.clone());
        let partitions = read_topic_partitions(&mut r, "previous_assignment")?;
        Ok(Claim {
            partitions,
            generation: None,
        })
    };
    v1().or_else(|_| v0()).unwrap_or(Claim {
        partitions: Vec::new(),
        generation: Some(DEFAULT_GENERATION),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn v1_bytes_match_the_java_schema() {
        let data = encode(
            &[
                TopicPartition::new("t", 0),
                TopicPartition::new("u", 1),
                TopicPartition::new("t", 2),
            ],
            7,
        )
        .unwrap();
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0, 0, 0, 2,                            // 2 topics
            0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2,   // t: [0, 2]
            0, 1, b'u', 0, 0, 0, 1, 0, 0, 0, 1,    // u: [1]
            0, 0, 0, 7,                            // generation 7
        ];
        assert_eq!(&data[..], expected);
        let claim = decode(&data);
        assert_eq!(claim.generation, Some(7));
        assert_eq!(claim.partitions.len(), 3);
    }

    #[test]
    fn v0_data_has_no_generation() {
        let v1 = encode(&[TopicPartition::new("t", 3)], 1).unwrap();
        let v0 = v1.slice(..v1.len() - 4);
        let claim = decode(&v0);
        assert_eq!(claim.partitions, vec![TopicPartition::new("t", 3)]);
        assert_eq!(claim.generation, None);
    }

    #[test]
    fn garbage_owns_nothing() {
        let claim = decode(&Bytes::from_static(&[0, 0, 0, 9, 1]));
        assert!(claim.partitions.is_empty());
        assert_eq!(claim.generation, Some(DEFAULT_GENERATION));
    }

    proptest! {
        #[test]
        fn round_trip(
            parts in proptest::collection::btree_set(("[a-d]{1,4}", 0..100i32), 0..20),
            generation: i32,
        ) {
            let mut parts: Vec<TopicPartition> =
                parts.into_iter().map(|(t, p)| TopicPartition::new(t, p)).collect();
            let claim = decode(&encode(&parts, generation).unwrap());
            let mut got = claim.partitions;
            got.sort();
            parts.sort();
            prop_assert_eq!(got, parts);
            prop_assert_eq!(claim.generation, Some(generation));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&Bytes::from(bytes));
        }
    }
}
