//! Round trips of every generated message at every version, byte-exact fixtures, and
//! decoding of arbitrary bytes without panics.

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::protocol::codec::Reader;

fn round_trip_default<M: Message + Default + PartialEq + std::fmt::Debug>() {
    for v in M::MIN_VERSION..=M::MAX_VERSION {
        let m = M::default();
        let mut out = Vec::new();
        m.encode(&mut out, v)
            .unwrap_or_else(|e| panic!("{} v{v}: {e}", M::NAME));
        let back = M::decode(&mut Reader::new(Bytes::from(out.clone())), v)
            .unwrap_or_else(|e| panic!("{} v{v}: {e}", M::NAME));
        assert_eq!(back, m, "{} v{v}", M::NAME);
    }
    let mut out = Vec::new();
    assert!(M::default().encode(&mut out, M::MAX_VERSION + 1).is_err());
}

macro_rules! round_trips {
    ($($module:ident :: $req:ident / $resp:ident),* $(,)?) => {
        #[test]
        fn every_message_round_trips_at_every_version() {
            $(
                round_trip_default::<$module::$req>();
                round_trip_default::<$module::$resp>();
            )*
        }
    };
}

round_trips!(
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
);

#[test]
fn metadata_request_fixture() {
    // Metadata v1 for topic "ab": topics array (1), string "ab".
    let req = metadata::MetadataRequest {
        topics: Some(vec![metadata::MetadataRequestTopic {
            name: Some("ab".into()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let mut out = Vec::new();
    req.encode(&mut out, 1).unwrap();
    assert_eq!(out, [0, 0, 0, 1, 0, 2, b'a', b'b']);
    // v9 is flexible: compact array (1+1), compact string (2+1), the topic's tagged
    // section, then allow_auto_topic_creation, the two authorized-operations flags and
    // the request's tagged section.
    let mut out = Vec::new();
    req.encode(&mut out, 9).unwrap();
    assert_eq!(out, [2, 3, b'a', b'b', 0, 1, 0, 0, 0]);
}

#[test]
fn tagged_fields_round_trip() {
    // ProduceResponse v10 carries CurrentLeader as tagged field 0 of a partition.
    let resp = produce::ProduceResponse {
        responses: vec![produce::TopicProduceResponse {
            name: "t".into(),
            partition_responses: vec![produce::PartitionProduceResponse {
                index: 1,
                current_leader: produce::LeaderIdAndEpoch {
                    leader_id: 3,
                    leader_epoch: 9,
                },
                ..Default::default()
            }],
        }],
        ..Default::default()
    };
    let mut out = Vec::new();
    resp.encode(&mut out, 10).unwrap();
    let back = produce::ProduceResponse::decode(&mut Reader::new(Bytes::from(out)), 10).unwrap();
    assert_eq!(back, resp);
    // In v9 the field does not exist: it decodes as the default.
    let mut out = Vec::new();
    resp.encode(&mut out, 9).unwrap();
    let back = produce::ProduceResponse::decode(&mut Reader::new(Bytes::from(out)), 9).unwrap();
    assert_eq!(
        back.responses[0].partition_responses[0]
            .current_leader
            .leader_id,
        -1
    );
}

#[test]
fn header_versions_follow_flexible_versions() {
    assert_eq!(request_header_version(ApiKey::METADATA, 8), 1);
    assert_eq!(request_header_version(ApiKey::METADATA, 9), 2);
    assert_eq!(response_header_version(ApiKey::METADATA, 9), 1);
    assert_eq!(response_header_version(ApiKey::API_VERSIONS, 3), 0);
    assert_eq!(request_header_version(ApiKey::API_VERSIONS, 3), 2);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data: Vec<u8>, pick: usize) {
        let key = ALL_API_KEYS[pick % ALL_API_KEYS.len()];
        for v in 0..20 {
            let _ = decode_response_any(key.0, v, Bytes::from(data.clone()));
            if let Ok(ok) = round_trip_response(key.0, v, Bytes::from(data.clone())) {
                prop_assert!(ok, "{key} v{v} round trip differs");
            }
            if let Ok(ok) = round_trip_request(key.0, v, Bytes::from(data.clone())) {
                prop_assert!(ok, "{key} v{v} request round trip differs");
            }
        }
    }
}
