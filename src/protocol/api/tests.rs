//! Tests of the generated messages: byte-exact fixtures, round trips of random messages of
//! every API at every version, and decoding of arbitrary bytes without panics.

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::protocol::codec::{Reader, Uuid};

/// A small deterministic generator of field values, for the `sample` constructors the
/// generator emits for every struct.
pub(crate) struct Gen {
    state: u64,
    depth: u32,
}

impl Gen {
    pub(crate) fn new(seed: u64) -> Self {
        Gen {
            state: seed ^ 0x9e37_79b9_7f4a_7c15,
            depth: 0,
        }
    }

    fn next(&mut self) -> u64 {
        // splitmix64
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Mostly small values, sometimes extremes, so both varint widths and edge cases
    /// show up.
    fn int(&mut self) -> i64 {
        match self.next() % 8 {
            0 => 0,
            1 => -1,
            2 => i64::MIN,
            3 => i64::MAX,
            _ => (self.next() % 1000) as i64,
        }
    }

    pub(crate) fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }
    pub(crate) fn i8(&mut self) -> i8 {
        self.int() as i8
    }
    pub(crate) fn i16(&mut self) -> i16 {
        self.int() as i16
    }
    #[allow(dead_code)] // for definitions with u16 fields
    pub(crate) fn u16(&mut self) -> u16 {
        self.int() as u16
    }
    pub(crate) fn i32(&mut self) -> i32 {
        self.int() as i32
    }
    #[allow(dead_code)] // for definitions with u32 fields
    pub(crate) fn u32(&mut self) -> u32 {
        self.int() as u32
    }
    pub(crate) fn i64(&mut self) -> i64 {
        self.int()
    }
    #[allow(dead_code)] // for definitions with f64 fields
    pub(crate) fn f64(&mut self) -> f64 {
        self.int() as f64 / 8.0
    }
    pub(crate) fn uuid(&mut self) -> Uuid {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next().to_be_bytes());
        b[8..].copy_from_slice(&self.next().to_be_bytes());
        Uuid(b)
    }
    pub(crate) fn string(&mut self) -> String {
        const WORDS: [&str; 6] = ["", "a", "topic-1", "grüße", "__consumer_offsets", "ü"];
        let n = self.next() as usize % WORDS.len();
        WORDS[n].to_string()
    }
    pub(crate) fn bytes(&mut self) -> Bytes {
        let n = self.next() as usize % 5;
        (0..n)
            .map(|_| self.next() as u8)
            .collect::<Vec<u8>>()
            .into()
    }
    /// Null sometimes, when the version allows it.
    pub(crate) fn opt<T>(&mut self, nullable: bool, f: impl FnOnce(&mut Gen) -> T) -> Option<T> {
        if nullable && self.next().is_multiple_of(4) {
            None
        } else {
            Some(f(self))
        }
    }
    /// Up to three elements, fewer deeper down.
    pub(crate) fn vec<T>(&mut self, mut f: impl FnMut(&mut Gen) -> T) -> Vec<T> {
        let n = self.next() as usize % (4usize.saturating_sub(self.depth as usize));
        self.depth += 1;
        let v = (0..n).map(|_| f(self)).collect();
        self.depth -= 1;
        v
    }
}

fn encode<M: Message>(m: &M, v: i16) -> Vec<u8> {
    let mut out = Vec::new();
    m.encode(&mut out, v)
        .unwrap_or_else(|e| panic!("{} v{v}: {e}", M::NAME));
    out
}

fn decode<M: Message>(bytes: &[u8], v: i16) -> M {
    let mut r = Reader::new(Bytes::copy_from_slice(bytes));
    let m = M::decode(&mut r, v).unwrap_or_else(|e| panic!("{} v{v}: {e}", M::NAME));
    assert!(
        r.is_empty(),
        "{} v{v}: {} bytes left",
        M::NAME,
        r.remaining()
    );
    m
}

type Sample<M> = fn(&mut Gen, i16) -> M;

/// Random messages of every version, with every field the version has set, encode,
/// decode to themselves and re-encode to the same bytes; every truncation fails to
/// decode. Returns how many messages were checked.
fn check_samples<M>(sample: Sample<M>, seeds: u64) -> usize
where
    M: Message + PartialEq + std::fmt::Debug + Default,
{
    let mut checked = 0;
    for v in M::MIN_VERSION..=M::MAX_VERSION {
        for seed in 0..seeds {
            let m = sample(&mut Gen::new(seed ^ ((v as u64) << 32)), v);
            let bytes = encode(&m, v);
            let back: M = decode(&bytes, v);
            assert_eq!(back, m, "{} v{v} seed {seed}", M::NAME);
            assert_eq!(encode(&back, v), bytes, "{} v{v} seed {seed}", M::NAME);
            for cut in 0..bytes.len() {
                let mut r = Reader::new(Bytes::copy_from_slice(&bytes[..cut]));
                assert!(
                    M::decode(&mut r, v).is_err(),
                    "{} v{v}: a truncation at {cut} decoded",
                    M::NAME
                );
            }
            checked += 1;
        }
    }
    let mut out = Vec::new();
    assert!(M::default().encode(&mut out, M::MAX_VERSION + 1).is_err());
    assert!(M::default().encode(&mut out, M::MIN_VERSION - 1).is_err());
    let mut r = Reader::new(Bytes::new());
    assert!(matches!(
        M::decode(&mut r, M::MAX_VERSION + 1),
        Err(DecodeError::UnsupportedVersion { .. })
    ));
    checked
}

/// A message built for the newest version, encoded at every older one: fields the
/// version lacks are skipped, the rest survive, and the result is stable.
fn check_downgrades<M>(sample: Sample<M>)
where
    M: Message + PartialEq + std::fmt::Debug,
{
    for seed in 0..4 {
        let newest = sample(&mut Gen::new(seed), M::MAX_VERSION);
        for v in M::MIN_VERSION..=M::MAX_VERSION {
            let mut out = Vec::new();
            match newest.encode(&mut out, v) {
                Ok(()) => {}
                // A null the older version cannot carry.
                Err(EncodeError::NullNotAllowed { .. }) => continue,
                Err(e) => panic!("{} v{v}: {e}", M::NAME),
            }
            let back: M = decode(&out, v);
            assert_eq!(encode(&back, v), out, "{} v{v}", M::NAME);
        }
    }
}

/// Encodings of random messages, damaged (truncated, bytes flipped): decoding returns
/// normally, and whatever decodes round-trips.
fn check_damage<M: Message>(
    api_key: i16,
    sample: Sample<M>,
    decode_any: fn(i16, i16, Bytes) -> Result<(), DecodeError>,
    round_trip: fn(i16, i16, Bytes) -> Result<bool, DecodeError>,
) {
    for v in M::MIN_VERSION..=M::MAX_VERSION {
        for seed in 0..2 {
            let bytes = encode(&sample(&mut Gen::new(seed + 100), v), v);
            assert_eq!(decode_any(api_key, v, bytes.clone().into()), Ok(()));
            assert_eq!(round_trip(api_key, v, bytes.clone().into()), Ok(true));
            for i in 0..bytes.len() {
                for flip in [0xff, 0x80, 0x01] {
                    let mut damaged = bytes.clone();
                    damaged[i] ^= flip;
                    let damaged = Bytes::from(damaged);
                    let _ = decode_any(api_key, v, damaged.clone());
                    if let Ok(same) = round_trip(api_key, v, damaged) {
                        assert!(same, "{} v{v}: byte {i} ^ {flip:#x}", M::NAME);
                    }
                }
            }
        }
    }
}

macro_rules! every_api {
    ($($module:ident :: $req:ident / $resp:ident),* $(,)?) => {
        #[test]
        fn every_message_round_trips_at_every_version() {
            let mut n = 0;
            $(
                n += check_samples::<$module::$req>($module::$req::sample, 16);
                n += check_samples::<$module::$resp>($module::$resp::sample, 16);
            )*
            n += check_samples::<ConsumerProtocolSubscription>(ConsumerProtocolSubscription::sample, 16);
            n += check_samples::<ConsumerProtocolAssignment>(ConsumerProtocolAssignment::sample, 16);
            assert!(n > 5000, "{n}");
        }

        #[test]
        fn newer_messages_encode_at_older_versions() {
            $(
                check_downgrades::<$module::$req>($module::$req::sample);
                check_downgrades::<$module::$resp>($module::$resp::sample);
            )*
        }

        #[test]
        fn damaged_messages_never_panic() {
            $(
                check_damage::<$module::$req>(
                    $module::$req::API_KEY.0,
                    $module::$req::sample,
                    decode_request_any,
                    round_trip_request,
                );
                check_damage::<$module::$resp>(
                    $module::$req::API_KEY.0,
                    $module::$resp::sample,
                    decode_response_any,
                    round_trip_response,
                );
            )*
        }

        #[test]
        fn the_tables_agree_with_the_messages() {
            let mut listed = vec![$($module::$req::API_KEY),*];
            listed.sort();
            assert_eq!(listed, ALL_API_KEYS);
            $(
                assert_eq!(
                    supported_versions($module::$req::API_KEY),
                    Some(($module::$req::MIN_VERSION, $module::$req::MAX_VERSION))
                );
                assert_eq!($module::$req::MIN_VERSION, $module::$resp::MIN_VERSION);
                assert_eq!($module::$req::MAX_VERSION, $module::$resp::MAX_VERSION);
                assert_eq!(
                    format!("{}Request", $module::$req::API_KEY.name()),
                    $module::$req::NAME
                );
            )*
        }
    };
}

every_api!(
    api_versions::ApiVersionsRequest / ApiVersionsResponse,
    metadata::MetadataRequest / MetadataResponse,
    produce::ProduceRequest / ProduceResponse,
    fetch::FetchRequest / FetchResponse,
    list_offsets::ListOffsetsRequest / ListOffsetsResponse,
    find_coordinator::FindCoordinatorRequest / FindCoordinatorResponse,
    join_group::JoinGroupRequest / JoinGroupResponse,
    sync_group::SyncGroupRequest / SyncGroupResponse,
    heartbeat::HeartbeatRequest / HeartbeatResponse,
    leave_group::LeaveGroupRequest / LeaveGroupResponse,
    offset_commit::OffsetCommitRequest / OffsetCommitResponse,
    offset_fetch::OffsetFetchRequest / OffsetFetchResponse,
    init_producer_id::InitProducerIdRequest / InitProducerIdResponse,
    add_partitions_to_txn::AddPartitionsToTxnRequest / AddPartitionsToTxnResponse,
    add_offsets_to_txn::AddOffsetsToTxnRequest / AddOffsetsToTxnResponse,
    end_txn::EndTxnRequest / EndTxnResponse,
    txn_offset_commit::TxnOffsetCommitRequest / TxnOffsetCommitResponse,
    create_topics::CreateTopicsRequest / CreateTopicsResponse,
    delete_topics::DeleteTopicsRequest / DeleteTopicsResponse,
    create_partitions::CreatePartitionsRequest / CreatePartitionsResponse,
    describe_configs::DescribeConfigsRequest / DescribeConfigsResponse,
    incremental_alter_configs::IncrementalAlterConfigsRequest / IncrementalAlterConfigsResponse,
    list_groups::ListGroupsRequest / ListGroupsResponse,
    describe_groups::DescribeGroupsRequest / DescribeGroupsResponse,
    delete_groups::DeleteGroupsRequest / DeleteGroupsResponse,
    offset_delete::OffsetDeleteRequest / OffsetDeleteResponse,
    delete_records::DeleteRecordsRequest / DeleteRecordsResponse,
    describe_cluster::DescribeClusterRequest / DescribeClusterResponse,
    sasl_handshake::SaslHandshakeRequest / SaslHandshakeResponse,
    sasl_authenticate::SaslAuthenticateRequest / SaslAuthenticateResponse,
    consumer_group_heartbeat::ConsumerGroupHeartbeatRequest / ConsumerGroupHeartbeatResponse,
    create_acls::CreateAclsRequest / CreateAclsResponse,
    describe_acls::DescribeAclsRequest / DescribeAclsResponse,
    delete_acls::DeleteAclsRequest / DeleteAclsResponse,
    describe_user_scram_credentials::DescribeUserScramCredentialsRequest
        / DescribeUserScramCredentialsResponse,
    alter_user_scram_credentials::AlterUserScramCredentialsRequest
        / AlterUserScramCredentialsResponse,
    alter_configs::AlterConfigsRequest / AlterConfigsResponse,
    describe_log_dirs::DescribeLogDirsRequest / DescribeLogDirsResponse,
    alter_partition_reassignments::AlterPartitionReassignmentsRequest
        / AlterPartitionReassignmentsResponse,
    list_partition_reassignments::ListPartitionReassignmentsRequest
        / ListPartitionReassignmentsResponse,
    elect_leaders::ElectLeadersRequest / ElectLeadersResponse,
    describe_transactions::DescribeTransactionsRequest / DescribeTransactionsResponse,
    list_transactions::ListTransactionsRequest / ListTransactionsResponse,
    describe_producers::DescribeProducersRequest / DescribeProducersResponse,
    consumer_group_describe::ConsumerGroupDescribeRequest / ConsumerGroupDescribeResponse,
    share_group_heartbeat::ShareGroupHeartbeatRequest / ShareGroupHeartbeatResponse,
    share_group_describe::ShareGroupDescribeRequest / ShareGroupDescribeResponse,
    share_fetch::ShareFetchRequest / ShareFetchResponse,
    share_acknowledge::ShareAcknowledgeRequest / ShareAcknowledgeResponse,
    describe_share_group_offsets::DescribeShareGroupOffsetsRequest
        / DescribeShareGroupOffsetsResponse,
    alter_share_group_offsets::AlterShareGroupOffsetsRequest / AlterShareGroupOffsetsResponse,
    delete_share_group_offsets::DeleteShareGroupOffsetsRequest / DeleteShareGroupOffsetsResponse,
);

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn api_versions_request_fixtures() {
    let req = ApiVersionsRequest {
        client_software_name: "kafka-sync".into(),
        client_software_version: "0.1.0".into(),
    };
    // v0-v2 have no fields; the name and version are ignorable, so they are dropped.
    for v in 0..=2 {
        assert_eq!(encode(&req, v), [0u8; 0], "v{v}");
    }
    // v3+: two compact strings (length + 1) and an empty tagged-field section.
    let flexible = hex("0b 6b61666b612d73796e63  06 302e312e30  00");
    assert_eq!(encode(&req, 3), flexible);
    assert_eq!(encode(&req, 4), flexible);
    assert_eq!(decode::<ApiVersionsRequest>(&flexible, 3), req);
}

#[test]
fn metadata_request_fixtures() {
    let req = MetadataRequest {
        topics: Some(vec![metadata::MetadataRequestTopic {
            topic_id: Uuid([0xab; 16]),
            name: Some("ab".into()),
        }]),
        allow_auto_topic_creation: false,
        include_cluster_authorized_operations: true,
        include_topic_authorized_operations: true,
    };
    // v1: int32 array length, int16 string length.
    assert_eq!(encode(&req, 1), hex("00000001 0002 6162"));
    // v4 adds allow_auto_topic_creation.
    assert_eq!(encode(&req, 4), hex("00000001 0002 6162 00"));
    // v8 adds the two authorized-operations flags.
    assert_eq!(encode(&req, 8), hex("00000001 0002 6162 00 01 01"));
    // v9 is flexible: compact array and string, tagged sections per topic and at the end.
    assert_eq!(encode(&req, 9), hex("02 03 6162 00 00 01 01 00"));
    // v10 adds the topic id before the name.
    let id = "abababababababababababababababab";
    assert_eq!(
        encode(&req, 10),
        hex(&format!("02 {id} 03 6162 00 00 01 01 00"))
    );
    // v11 drops include_cluster_authorized_operations.
    assert_eq!(
        encode(&req, 11),
        hex(&format!("02 {id} 03 6162 00 00 01 00"))
    );
    // v12: a null name (by id) and all topics (null array).
    let by_id = MetadataRequest {
        topics: Some(vec![metadata::MetadataRequestTopic {
            topic_id: Uuid([0xab; 16]),
            name: None,
        }]),
        ..Default::default()
    };
    assert_eq!(encode(&by_id, 12), hex(&format!("02 {id} 00 00 01 00 00")));
    let all = MetadataRequest {
        topics: None,
        ..Default::default()
    };
    assert_eq!(encode(&all, 12), hex("00 01 00 00"));
    assert_eq!(encode(&all, 1), hex("ffffffff"));
    // Null is not allowed where the version cannot carry it.
    let mut out = Vec::new();
    assert_eq!(
        all.encode(&mut out, 0),
        Err(EncodeError::NullNotAllowed {
            field: "topics",
            version: 0
        })
    );
    assert!(by_id.encode(&mut out, 9).is_err());
    assert!(matches!(
        MetadataRequest::decode(&mut Reader::new(hex("ffffffff").into()), 0),
        Err(DecodeError::UnexpectedNull { field: "topics" })
    ));
    // The default allows auto-creation, as the spec says.
    assert!(MetadataRequest::default().allow_auto_topic_creation);
}

#[test]
fn api_versions_response_with_tagged_fields() {
    let bytes = hex("0000 \
         02 0012 0000 0004 00 \
         00000007 \
         02 \
         01 08 0000000000000005 \
         03 01 01");
    let resp: ApiVersionsResponse = decode(&bytes, 3);
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.api_keys.len(), 1);
    assert_eq!(resp.api_keys[0].api_key, ApiKey::API_VERSIONS.0);
    assert_eq!(resp.api_keys[0].max_version, 4);
    assert_eq!(resp.throttle_time_ms, 7);
    assert_eq!(resp.finalized_features_epoch, 5);
    assert!(resp.zk_migration_ready);
    assert!(resp.supported_features.is_empty());
    // Re-encoded, the tagged fields come back in tag order, defaults left out.
    assert_eq!(encode(&resp, 3), bytes);
    // An unknown tag is skipped: replace field 3 with a field 31 (the count stays 2).
    let mut unknown = bytes[..bytes.len() - 3].to_vec();
    unknown.extend_from_slice(&hex("1f 02 abcd"));
    let resp2: ApiVersionsResponse = decode(&unknown, 3);
    assert_eq!(resp2.finalized_features_epoch, 5);
    assert!(!resp2.zk_migration_ready);
    // Absent tagged fields hold their defaults.
    let plain: ApiVersionsResponse = decode(&hex("0000 01 00000000 00"), 3);
    assert_eq!(plain.finalized_features_epoch, -1);
}

#[test]
fn record_bytes_are_slices_of_the_response() {
    let resp = FetchResponse {
        responses: vec![fetch::FetchableTopicResponse {
            topic: "t".into(),
            partitions: vec![fetch::PartitionData {
                partition_index: 3,
                records: Some(Bytes::from_static(b"record batch bytes")),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    for v in [4, 12, 17] {
        let input = Bytes::from(encode(&resp, v));
        let back = FetchResponse::decode(&mut Reader::new(input.clone()), v).unwrap();
        let records = back.responses[0].partitions[0].records.clone().unwrap();
        assert_eq!(&records[..], b"record batch bytes");
        let start = input.as_ptr() as usize;
        let at = records.as_ptr() as usize;
        assert!(
            at >= start && at + records.len() <= start + input.len(),
            "v{v}"
        );
    }
}

#[test]
fn nullable_struct_fields_use_a_presence_marker() {
    let mut resp = ConsumerGroupHeartbeatResponse::default();
    let bytes = encode(&resp, 0);
    // throttle, error, null message, null member id, epoch, interval, -1 marker, tags.
    assert_eq!(bytes, hex("00000000 0000 00 00 00000000 00000000 ff 00"));
    resp.assignment = Some(consumer_group_heartbeat::Assignment::default());
    let bytes = encode(&resp, 0);
    assert_eq!(bytes[bytes.len() - 4..], hex("01 01 00 00"));
    assert_eq!(decode::<ConsumerGroupHeartbeatResponse>(&bytes, 0), resp);
}

#[test]
fn fields_default_to_the_spec_values() {
    let p = fetch::FetchPartition::default();
    assert_eq!(
        (
            p.current_leader_epoch,
            p.last_fetched_epoch,
            p.log_start_offset
        ),
        (-1, -1, -1)
    );
    let r = FetchRequest::default();
    assert_eq!(
        (r.replica_id, r.session_epoch, r.cluster_id.clone()),
        (-1, -1, None)
    );
    let t = metadata::MetadataResponseTopic::default();
    assert_eq!(t.topic_authorized_operations, i32::MIN);
    assert_eq!(t.name, Some(String::new()));
    let j = JoinGroupRequest::default();
    assert_eq!(j.rebalance_timeout_ms, -1);
}

#[test]
fn consumer_protocol_data_carries_its_version() {
    let sub = ConsumerProtocolSubscription {
        topics: vec!["a".into()],
        user_data: None,
        owned_partitions: vec![consumer_protocol::TopicPartition {
            topic: "a".into(),
            partitions: vec![1, 2],
        }],
        generation_id: 5,
        rack_id: Some("r".into()),
    };
    let bytes = sub.encode_versioned(3).unwrap();
    assert_eq!(
        bytes,
        hex("0003 00000001 0001 61 ffffffff 00000001 0001 61 00000002 00000001 00000002 00000005 0001 72")
    );
    assert_eq!(
        ConsumerProtocolSubscription::decode_versioned(bytes.into()).unwrap(),
        (3, sub.clone())
    );
    // v0 carries only the topics and user data.
    let v0 =
        ConsumerProtocolSubscription::decode_versioned(sub.encode_versioned(0).unwrap().into())
            .unwrap()
            .1;
    assert_eq!(v0.topics, sub.topics);
    assert!(v0.owned_partitions.is_empty());
    assert_eq!(v0.generation_id, -1);
    // A newer version is read as the newest known one, ignoring what follows.
    let mut newer = sub.encode_versioned(3).unwrap();
    newer[1] = 9;
    newer.extend_from_slice(b"future fields");
    let (version, read) = ConsumerProtocolSubscription::decode_versioned(newer.into()).unwrap();
    assert_eq!((version, read), (9, sub));

    let assignment = ConsumerProtocolAssignment {
        assigned_partitions: vec![consumer_protocol::TopicPartition {
            topic: "b".into(),
            partitions: vec![0],
        }],
        user_data: Some(Bytes::from_static(b"u")),
    };
    let bytes = assignment.encode_versioned(1).unwrap();
    assert_eq!(
        bytes,
        hex("0001 00000001 0001 62 00000001 00000000 00000001 75")
    );
    assert_eq!(
        ConsumerProtocolAssignment::decode_versioned(bytes.into()).unwrap(),
        (1, assignment)
    );
}

#[test]
fn header_versions_follow_flexible_versions() {
    assert_eq!(request_header_version(ApiKey::METADATA, 8), 1);
    assert_eq!(request_header_version(ApiKey::METADATA, 9), 2);
    assert_eq!(response_header_version(ApiKey::METADATA, 8), 0);
    assert_eq!(response_header_version(ApiKey::METADATA, 9), 1);
    assert_eq!(request_header_version(ApiKey::API_VERSIONS, 3), 2);
    assert_eq!(response_header_version(ApiKey::API_VERSIONS, 3), 0);
    assert_eq!(request_header_version(ApiKey::DESCRIBE_CLUSTER, 0), 2);
    assert_eq!(request_header_version(ApiKey::SASL_HANDSHAKE, 1), 1);
    assert_eq!(request_header_version(ApiKey(9999), 0), 1);
    assert_eq!(ApiKey::FETCH.to_string(), "Fetch (1)");
    assert_eq!(format!("{:?}", ApiKey(9999)), "Unknown(9999)");
}

#[test]
fn unknown_api_keys_are_errors() {
    assert!(decode_response_any(9999, 0, Bytes::new()).is_err());
    assert!(round_trip_request(-5, 0, Bytes::new()).is_err());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data: Vec<u8>) {
        let data = Bytes::from(data);
        for &key in ALL_API_KEYS {
            let (min, max) = supported_versions(key).unwrap();
            for v in min - 1..=max + 1 {
                let _ = decode_response_any(key.0, v, data.clone());
                let _ = decode_request_any(key.0, v, data.clone());
                if let Ok(same) = round_trip_response(key.0, v, data.clone()) {
                    prop_assert!(same, "{key} v{v}");
                }
                if let Ok(same) = round_trip_request(key.0, v, data.clone()) {
                    prop_assert!(same, "{key} v{v}");
                }
            }
        }
    }

    #[test]
    fn random_messages_round_trip(seed: u64) {
        let mut g = Gen::new(seed);
        for v in FetchResponse::MIN_VERSION..=FetchResponse::MAX_VERSION {
            let m = FetchResponse::sample(&mut g, v);
            prop_assert_eq!(decode::<FetchResponse>(&encode(&m, v), v), m);
        }
        for v in MetadataResponse::MIN_VERSION..=MetadataResponse::MAX_VERSION {
            let m = MetadataResponse::sample(&mut g, v);
            prop_assert_eq!(decode::<MetadataResponse>(&encode(&m, v), v), m);
        }
        for v in ProduceRequest::MIN_VERSION..=ProduceRequest::MAX_VERSION {
            let m = ProduceRequest::sample(&mut g, v);
            prop_assert_eq!(decode::<ProduceRequest>(&encode(&m, v), v), m);
        }
    }
}

/// Response frames (header and body) captured from a Kafka broker on 127.0.0.1:9092:
/// ApiVersions, Metadata (all topics), DescribeCluster and ListGroups.
mod captured {
    use super::*;
    use crate::protocol::frame::split_response;

    fn check<M: Message + PartialEq + std::fmt::Debug>(
        key: ApiKey,
        version: i16,
        frame: &'static [u8],
    ) -> M {
        let frame = Bytes::from_static(frame);
        let (header, mut body) =
            split_response(frame, response_header_version(key, version)).unwrap();
        assert!(header.correlation_id > 0);
        let raw = body.peek_rest().to_vec();
        let resp = M::decode(&mut body, version).unwrap();
        assert!(
            body.is_empty(),
            "{} v{version}: {} bytes left",
            M::NAME,
            body.remaining()
        );
        // The broker's encoding and ours agree byte for byte.
        assert_eq!(encode(&resp, version), raw, "{} v{version}", M::NAME);
        resp
    }

    #[test]
    fn api_versions() {
        let v0: ApiVersionsResponse = check(
            ApiKey::API_VERSIONS,
            0,
            include_bytes!("fixtures/api_versions_v0.bin"),
        );
        let v3: ApiVersionsResponse = check(
            ApiKey::API_VERSIONS,
            3,
            include_bytes!("fixtures/api_versions_v3.bin"),
        );
        let v4: ApiVersionsResponse = check(
            ApiKey::API_VERSIONS,
            4,
            include_bytes!("fixtures/api_versions_v4.bin"),
        );
        for resp in [&v0, &v3, &v4] {
            assert_eq!(resp.error_code, 0);
            let metadata = resp
                .api_keys
                .iter()
                .find(|k| k.api_key == ApiKey::METADATA.0);
            assert!(metadata.is_some_and(|k| k.max_version >= 12));
        }
        assert_eq!(v0.api_keys, v4.api_keys);
        assert!(v3.finalized_features_epoch > 0);
        assert!(v4
            .supported_features
            .iter()
            .any(|f| f.name == "metadata.version"));
        assert!(v4
            .finalized_features
            .iter()
            .any(|f| f.name == "metadata.version"));
    }

    #[test]
    fn metadata() {
        let v1: MetadataResponse = check(
            ApiKey::METADATA,
            1,
            include_bytes!("fixtures/metadata_v1.bin"),
        );
        let v9: MetadataResponse = check(
            ApiKey::METADATA,
            9,
            include_bytes!("fixtures/metadata_v9.bin"),
        );
        let v12: MetadataResponse = check(
            ApiKey::METADATA,
            12,
            include_bytes!("fixtures/metadata_v12.bin"),
        );
        assert_eq!(v1.cluster_id, None);
        assert!(v9.cluster_id.is_some());
        for resp in [&v1, &v9, &v12] {
            assert_eq!(resp.brokers.len(), 1);
            assert_eq!(resp.brokers[0].port, 9092);
            assert!(!resp.topics.is_empty());
            assert!(resp.topics.iter().all(|t| t.error_code == 0));
        }
        assert!(v12
            .topics
            .iter()
            .all(|t| !t.topic_id.is_zero() && t.name.is_some()));
        assert!(v12.topics[0].partitions[0].leader_epoch >= 0);
    }

    #[test]
    fn describe_cluster_and_list_groups() {
        for (v, frame) in [
            (0, &include_bytes!("fixtures/describe_cluster_v0.bin")[..]),
            (1, include_bytes!("fixtures/describe_cluster_v1.bin")),
        ] {
            let resp: DescribeClusterResponse = check(ApiKey::DESCRIBE_CLUSTER, v, frame);
            assert_eq!(resp.error_code, 0);
            assert_eq!(resp.brokers.len(), 1);
        }
        let groups: ListGroupsResponse = check(
            ApiKey::LIST_GROUPS,
            5,
            include_bytes!("fixtures/list_groups_v5.bin"),
        );
        assert_eq!(groups.error_code, 0);
        assert!(groups.groups.iter().all(|g| !g.group_id.is_empty()));
    }
}
