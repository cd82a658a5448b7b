//! The consumer protocol's embedded messages: the [`Subscription`] each member puts in
//! JoinGroup's protocol metadata and the [`Assignment`] the leader sends in SyncGroup.
//!
//! Both are an `int16` version followed by a non-flexible struct
//! (`ConsumerProtocolSubscription` and `ConsumerProtocolAssignment`, versions 0–3). A version
//! newer than we know is read with the fields we know and anything after them is ignored, as
//! the Java client does, so future members can join the group.

use bytes::{BufMut, Bytes, BytesMut};

use crate::protocol::codec::{DecodeError, EncodeError, Reader, Writer};
use crate::TopicPartition;

use super::DEFAULT_GENERATION;

/// The JoinGroup protocol type of consumer groups.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// The newest `ConsumerProtocolSubscription` version we know, which we write by default.
pub const SUBSCRIPTION_VERSION: i16 = 3;

/// The newest `ConsumerProtocolAssignment` version we know, which we write by default.
pub const ASSIGNMENT_VERSION: i16 = 3;

const SUBSCRIPTION: &str = "ConsumerProtocolSubscription";
const ASSIGNMENT: &str = "ConsumerProtocolAssignment";

/// What one member tells the leader when joining (`ConsumerProtocolSubscription`).
///
/// # Examples
/// ```
/// use kafka_sync::consumer::assignor::{decode_subscription, encode_subscription, Subscription};
///
/// let sub = Subscription { topics: vec!["orders".into()], ..Subscription::default() };
/// let bytes = encode_subscription(&sub, 3).unwrap();
/// assert_eq!(decode_subscription(bytes).unwrap(), sub);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The topics the member subscribes to.
    pub topics: Vec<String>,
    /// Assignor-specific bytes (the sticky assignors' previous assignment or generation).
    pub user_data: Option<Bytes>,
    /// The partitions the member owns going into the rebalance (version 1+).
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation those partitions were assigned in, -1 if unknown (version 2+).
    pub generation_id: i32,
    /// The member's `client.rack`, if set (version 3+).
    pub rack_id: Option<String>,
}

impl Default for Subscription {
    fn default() -> Self {
        Subscription {
            topics: Vec::new(),
            user_data: None,
            owned_partitions: Vec::new(),
            generation_id: DEFAULT_GENERATION,
            rack_id: None,
        }
    }
}

/// What the leader tells one member (`ConsumerProtocolAssignment`).
///
/// # Examples
/// ```
/// use kafka_sync::consumer::assignor::{decode_assignment, encode_assignment, Assignment};
///
/// let assignment = Assignment { partitions: vec![("t", 0).into()], user_data: None };
/// let bytes = encode_assignment(&assignment, 3).unwrap();
/// assert_eq!(decode_assignment(bytes).unwrap(), assignment);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    /// The partitions assigned to the member.
    pub partitions: Vec<TopicPartition>,
    /// Assignor-specific bytes.
    pub user_data: Option<Bytes>,
}

/// Encodes `sub` as version `version` (0–3), prefixed by the version.
///
/// Topics are written sorted and owned partitions sorted and grouped by topic, as the Java
/// client writes them. Fields newer than `version` are left out.
///
/// # Examples
/// ```
/// use kafka_sync::consumer::assignor::{encode_subscription, Subscription};
/// let sub = Subscription { topics: vec!["t".into()], ..Subscription::default() };
/// let bytes = encode_subscription(&sub, 0).unwrap();
/// assert_eq!(&bytes[..], &[0, 0, 0, 0, 0, 1, 0, 1, b't', 0xff, 0xff, 0xff, 0xff]);
/// ```
pub fn encode_subscription(sub: &Subscription, version: i16) -> Result<Bytes, EncodeError> {
    if !(0..=SUBSCRIPTION_VERSION).contains(&version) {
        return Err(EncodeError::UnsupportedVersion {
            api: SUBSCRIPTION,
            version,
        });
    }
    let mut out = BytesMut::new();
    out.put_i16(version);
    let mut topics: Vec<&str> = sub.topics.iter().map(String::as_str).collect();
    topics.sort_unstable();
    out.put_array_len(Some(topics.len()), false, "topics")?;
    for topic in topics {
        out.put_string(Some(topic), false, "topics")?;
    }
    Writer::put_nullable_bytes(&mut out, sub.user_data.as_deref(), false, "user_data")?;
    if version >= 1 {
        let mut owned: Vec<&TopicPartition> = sub.owned_partitions.iter().collect();
        owned.sort_unstable();
        put_topic_partitions(&mut out, owned, "owned_partitions")?;
    }
    if version >= 2 {
        out.put_i32(sub.generation_id);
    }
    if version >= 3 {
        out.put_string(sub.rack_id.as_deref(), false, "rack_id")?;
    }
    Ok(out.freeze())
}

/// Decodes a version-prefixed subscription. Versions above 3 are read as version 3, and
/// bytes after the known fields are ignored. An empty rack id reads as `None`.
///
/// # Examples
/// ```
/// use bytes::Bytes;
/// use kafka_sync::consumer::assignor::decode_subscription;
/// // a version 9 subscription: topics ["t"], null user data, then fields we don't know
/// let bytes = Bytes::from_static(&[0, 9, 0, 0, 0, 1, 0, 1, b't', 0xff, 0xff, 0xff, 0xff,
///     0, 0, 0, 0, 0, 0, 0, 7, 0xff, 0xff, 0xde, 0xad]);
/// let sub = decode_subscription(bytes).unwrap();
/// assert_eq!(sub.topics, vec!["t".to_string()]);
/// assert_eq!(sub.generation_id, 7);
/// ```
pub fn decode_subscription(bytes: Bytes) -> Result<Subscription, DecodeError> {
    let mut r = Reader::new(bytes);
    let version = read_version(&mut r, SUBSCRIPTION)?;
    let count = r
        .array_len(false)?
        .ok_or(DecodeError::UnexpectedNull { field: "topics" })?;
    let mut topics = Vec::with_capacity(count.min(r.remaining() / 2));
    for _ in 0..count {
        topics.push(r.string(false, "topics")?);
    }
    let user_data = r.nullable_bytes(false)?;
    let mut sub = Subscription {
        topics,
        user_data,
        ..Subscription::default()
    };
    if version >= 1 {
        sub.owned_partitions = read_topic_partitions(&mut r, "owned_partitions")?;
    }
    if version >= 2 {
        sub.generation_id = r.i32()?;
    }
    if version >= 3 {
        sub.rack_id = r.nullable_string(false)?.filter(|rack| !rack.is_empty());
    }
    Ok(sub)
}

/// Encodes `assignment` as version `version` (0–3), prefixed by the version. Partitions are
/// grouped by topic in the order each topic first appears.
///
/// # Examples
/// ```
/// use kafka_sync::consumer::assignor::{encode_assignment, Assignment};
/// let assignment = Assignment { partitions: vec![("t", 2).into()], user_data: None };
/// assert_eq!(
///     &encode_assignment(&assignment, 0).unwrap()[..],
///     &[0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff]
/// );
/// ```
pub fn encode_assignment(assignment: &Assignment, version: i16) -> Result<Bytes, EncodeError> {
    if !(0..=ASSIGNMENT_VERSION).contains(&version) {
        return Err(EncodeError::UnsupportedVersion {
            api: ASSIGNMENT,
            version,
        });
    }
    let mut out = BytesMut::new();
    out.put_i16(version);
    put_topic_partitions(&mut out, &assignment.partitions, "assigned_partitions")?;
    Writer::put_nullable_bytes(
        &mut out,
        assignment.user_data.as_deref(),
        false,
        "user_data",
    )?;
    Ok(out.freeze())
}

/// Decodes a version-prefixed assignment. Versions above 3 are read as version 3, and bytes
/// after the known fields are ignored.
///
/// # Examples
/// ```
/// use bytes::Bytes;
/// use kafka_sync::consumer::assignor::decode_assignment;
/// let bytes = Bytes::from_static(&[0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
/// assert!(decode_assignment(bytes).unwrap().partitions.is_empty());
/// assert!(decode_assignment(Bytes::from_static(&[0, 1, 0])).is_err());
/// ```
pub fn decode_assignment(bytes: Bytes) -> Result<Assignment, DecodeError> {
    let mut r = Reader::new(bytes);
    read_version(&mut r, ASSIGNMENT)?;
    let partitions = read_topic_partitions(&mut r, "assigned_partitions")?;
    let user_data = r.nullable_bytes(false)?;
    Ok(Assignment {
        partitions,
        user_data,
    })
}

fn read_version(r: &mut Reader, api: &'static str) -> Result<i16, DecodeError> {
    let version = r.i16()?;
    if version < 0 {
        return Err(DecodeError::UnsupportedVersion { api, version });
    }
    Ok(version)
}

/// Writes `[]TopicPartition { topic: string, partitions: []int32 }`, grouping the
/// partitions by topic in the order each topic first appears.
pub(super) fn put_topic_partitions<'a>(
    out: &mut BytesMut,
    partitions: impl IntoIterator<Item = &'a TopicPartition>,
    field: &'static str,
) -> Result<(), EncodeError> {
    let mut groups: Vec<(&str, Vec<i32>)> = Vec::new();
    for tp in partitions {
        match groups.iter_mut().find(|(topic, _)| *topic == tp.topic) {
            Some((_, list)) => list.push(tp.partition),
            None => groups.push((&tp.topic, vec![tp.partition])),
        }
    }
    out.put_array_len(Some(groups.len()), false, field)?;
    for (topic, list) in groups {
        out.put_string(Some(topic), false, field)?;
        out.put_array_len(Some(list.len()), false, field)?;
        for partition in list {
            out.put_i32(partition);
        }
    }
    Ok(())
}

/// Reads `[]TopicPartition { topic: string, partitions: []int32 }`, flattened.
pub(super) fn read_topic_partitions(
    r: &mut Reader,
    field: &'static str,
) -> Result<Vec<TopicPartition>, DecodeError> {
    let topics = r
        .array_len(false)?
        .ok_or(DecodeError::UnexpectedNull { field })?;
    let mut out = Vec::new();
    for _ in 0..topics {
        let topic = r.string(false, "topic")?;
        let count = r.array_len(false)?.ok_or(DecodeError::UnexpectedNull {
            field: "partitions",
        })?;
        out.reserve(count.min(r.remaining() / 4));
        for _ in 0..count {
            out.push(TopicPartition::new(topic.clone(), r.i32()?));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        // Each line holds hex digits, then an optional `//` comment.
        let digits: Vec<u8> = s
            .lines()
            .flat_map(|line| line.split("//").next().unwrap_or("").bytes())
            .filter(u8::is_ascii_hexdigit)
            .collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    #[test]
    fn subscription_v0_bytes_from_the_spec() {
        // Topics given unsorted: the encoder sorts them as Java does.
        let sub = Subscription {
            topics: vec!["bc".into(), "a".into()],
            user_data: None,
            // Ignorable in v0: silently left out.
            owned_partitions: vec![TopicPartition::new("a", 0)],
            generation_id: 5,
            rack_id: Some("r".into()),
        };
        let expected = hex("0000        // version 0
             00000002    // topics: 2
             0001 61     // \"a\"
             0002 6263   // \"bc\"
             ffffffff    // user_data: null");
        assert_eq!(&encode_subscription(&sub, 0).unwrap()[..], &expected[..]);
        let back = decode_subscription(Bytes::from(expected)).unwrap();
        assert_eq!(back.topics, vec!["a".to_string(), "bc".to_string()]);
        assert!(back.owned_partitions.is_empty());
        assert_eq!(back.generation_id, -1);
        assert_eq!(back.rack_id, None);
    }

    #[test]
    fn subscription_v1_bytes_from_the_spec() {
        let sub = Subscription {
            topics: vec!["a".into()],
            user_data: Some(Bytes::from_static(&[1, 2, 3])),
            owned_partitions: vec![
                TopicPartition::new("b", 1),
                TopicPartition::new("a", 2),
                TopicPartition::new("a", 0),
            ],
            generation_id: 5,
            rack_id: None,
        };
        let expected = hex("0001            // version 1
             00000001        // topics: 1
             0001 61         // \"a\"
             00000003 010203 // user_data
             00000002        // owned_partitions: 2 topics
             0001 61         // \"a\"
             00000002        // 2 partitions
             00000000        // 0
             00000002        // 2
             0001 62         // \"b\"
             00000001        // 1 partition
             00000001        // 1");
        assert_eq!(&encode_subscription(&sub, 1).unwrap()[..], &expected[..]);
        let back = decode_subscription(Bytes::from(expected)).unwrap();
        assert_eq!(
            back.owned_partitions,
            vec![
                TopicPartition::new("a", 0),
                TopicPartition::new("a", 2),
                TopicPartition::new("b", 1)
            ]
        );
        assert_eq!(back.user_data.as_deref(), Some(&[1u8, 2, 3][..]));
        assert_eq!(back.generation_id, -1, "no generation before v2");
    }

    #[test]
    fn subscription_v3_carries_generation_and_rack() {
        let sub = Subscription {
            topics: vec!["t".into()],
            user_data: None,
            owned_partitions: vec![],
            generation_id: 42,
            rack_id: Some("use1-az1".into()),
        };
        let bytes = encode_subscription(&sub, 3).unwrap();
        assert_eq!(&bytes[..2], &[0, 3]);
        assert_eq!(decode_subscription(bytes).unwrap(), sub);
        // An empty rack reads as none, as in Java.
        let empty_rack = Subscription {
            rack_id: Some(String::new()),
            ..sub.clone()
        };
        let back = decode_subscription(encode_subscription(&empty_rack, 3).unwrap()).unwrap();
        assert_eq!(back.rack_id, None);
    }

    #[test]
    fn newer_versions_and_trailing_bytes_are_tolerated() {
        let sub = Subscription {
            topics: vec!["t".into()],
            generation_id: 3,
            ..Subscription::default()
        };
        let mut bytes = encode_subscription(&sub, 3).unwrap().to_vec();
        bytes[1] = 7; // version 7
        bytes.extend_from_slice(b"future fields");
        assert_eq!(decode_subscription(Bytes::from(bytes)).unwrap(), sub);

        let assignment = Assignment {
            partitions: vec![TopicPartition::new("t", 4)],
            user_data: Some(Bytes::from_static(b"u")),
        };
        let mut bytes = encode_assignment(&assignment, 0).unwrap().to_vec();
        bytes[1] = 12;
        bytes.push(0xaa);
        assert_eq!(decode_assignment(Bytes::from(bytes)).unwrap(), assignment);
    }

    #[test]
    fn assignment_groups_partitions_by_first_appearance() {
        let assignment = Assignment {
            partitions: vec![
                TopicPartition::new("z", 1),
                TopicPartition::new("a", 0),
                TopicPartition::new("z", 0),
            ],
            user_data: None,
        };
        let expected = hex("0003 00000002                      // version 3, 2 topics
             0001 7a 00000002 00000001 00000000 // z: [1, 0]
             0001 61 00000001 00000000          // a: [0]
             ffffffff                           // user_data: null");
        assert_eq!(
            &encode_assignment(&assignment, 3).unwrap()[..],
            &expected[..]
        );
        let back = decode_assignment(Bytes::from(expected)).unwrap();
        assert_eq!(
            back.partitions,
            vec![
                TopicPartition::new("z", 1),
                TopicPartition::new("z", 0),
                TopicPartition::new("a", 0)
            ]
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let both: &[&[u8]] = &[
            &[],
            &[0],
            &[0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff], // version -1
            &[0, 0, 0xff, 0xff, 0xff, 0xff],                   // null array
            &[0, 0, 0x7f, 0xff, 0xff, 0xff],                   // 2^31-1 elements
            &[0, 0, 0, 0, 0, 1, 0, 5, b'a'],                   // short string
        ];
        for case in both {
            assert!(decode_subscription(Bytes::copy_from_slice(case)).is_err());
            assert!(decode_assignment(Bytes::copy_from_slice(case)).is_err());
        }
        // A v1 subscription must carry owned partitions; the same bytes are a valid,
        // empty v1 assignment.
        let v1: &[u8] = &[0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
        assert!(decode_subscription(Bytes::from_static(v1)).is_err());
        assert_eq!(
            decode_assignment(Bytes::from_static(v1)).unwrap(),
            Assignment::default()
        );
        assert!(matches!(
            encode_subscription(&Subscription::default(), 4),
            Err(EncodeError::UnsupportedVersion { .. })
        ));
        assert!(matches!(
            encode_assignment(&Assignment::default(), -1),
            Err(EncodeError::UnsupportedVersion { .. })
        ));
    }

    fn arb_tp() -> impl Strategy<Value = TopicPartition> {
        ("[a-c]{1,3}", 0..50i32).prop_map(|(t, p)| TopicPartition::new(t, p))
    }

    proptest! {
        #[test]
        fn subscription_round_trip(
            topics in proptest::collection::vec("[a-z._-]{1,10}", 0..6),
            user_data in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
            owned in proptest::collection::btree_set(arb_tp(), 0..10),
            generation_id in -1..1000i32,
            rack_id in proptest::option::of("[a-z0-9]{1,8}"),
        ) {
            let mut sorted = topics.clone();
            sorted.sort();
            let sub = Subscription {
                topics: sorted,
                user_data: user_data.map(Bytes::from),
                owned_partitions: owned.into_iter().collect(),
                generation_id,
                rack_id,
            };
            let back = decode_subscription(encode_subscription(&sub, 3).unwrap()).unwrap();
            prop_assert_eq!(back, sub);
        }

        #[test]
        fn assignment_round_trip(
            partitions in proptest::collection::vec(arb_tp(), 0..20),
            user_data in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
        ) {
            let assignment = Assignment { partitions, user_data: user_data.map(Bytes::from) };
            let back = decode_assignment(encode_assignment(&assignment, 3).unwrap()).unwrap();
            // Grouping by topic may reorder, but never loses or adds a partition.
            let mut want = assignment.partitions.clone();
            want.sort();
            let mut got = back.partitions.clone();
            got.sort();
            prop_assert_eq!(got, want);
            prop_assert_eq!(back.user_data, assignment.user_data);
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_subscription(Bytes::from(bytes.clone()));
            let _ = decode_assignment(Bytes::from(bytes));
        }
    }
}
