//! The group requests as the generated protocol messages, and their answers decoded into
//! the plain outcome types the state machine takes.
//!
//! Requests fill the fields of every version (the encoder writes those the negotiated
//! version has), so one value serves whatever version the broker agrees to: FindCoordinator
//! both `key` (v0–3) and `coordinator_keys` (v4+), LeaveGroup both `member_id` (v0–2) and
//! `members` (v3+), OffsetFetch both the top-level topics (v0–7) and `groups` (v8+).

use std::collections::BTreeMap;

use crate::consumer::record::OffsetAndMetadata;
use crate::error::Error;
use crate::net::network::Response;
use crate::protocol::api::find_coordinator::{FindCoordinatorRequest, FindCoordinatorResponse};
use crate::protocol::api::heartbeat::{HeartbeatRequest, HeartbeatResponse};
use crate::protocol::api::join_group::{
    JoinGroupRequest, JoinGroupRequestProtocol, JoinGroupResponse,
};
use crate::protocol::api::leave_group::{LeaveGroupRequest, LeaveGroupResponse, MemberIdentity};
use crate::protocol::api::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    OffsetCommitResponse,
};
use crate::protocol::api::offset_fetch::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
    OffsetFetchResponse,
};
use crate::protocol::api::sync_group::{
    SyncGroupRequest, SyncGroupRequestAssignment, SyncGroupResponse,
};
use crate::protocol::error_code::ErrorCode;
use crate::TopicPartition;

use super::commits::FetchedOffset;
use super::coordinator_lookup::FoundCoordinator;
use super::membership::Generation;
use super::responses::{JoinOutcome, JoinedMember, SyncOutcome};
use super::{Settings, PROTOCOL_TYPE};

/// The newest versions whose fields this module fills and reads.
pub(super) const FIND_COORDINATOR_MAX: i16 = 6;
pub(super) const JOIN_GROUP_MAX: i16 = 9;
pub(super) const SYNC_GROUP_MAX: i16 = 5;
pub(super) const HEARTBEAT_MAX: i16 = 4;
pub(super) const LEAVE_GROUP_MAX: i16 = 5;
/// OffsetCommit v10+ names topics by id.
pub(super) const OFFSET_COMMIT_MAX: i16 = 9;
/// OffsetFetch v10+ names topics by id.
pub(super) const OFFSET_FETCH_MAX: i16 = 9;

/// FindCoordinator key type of consumer groups.
const COORDINATOR_KEY_GROUP: i8 = 0;

/// Reasons longer than this are cut, as the Java client does.
const MAX_REASON_LEN: usize = 255;

fn reason(text: &str) -> Option<String> {
    let mut end = text.len().min(MAX_REASON_LEN);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(text[..end].to_owned())
}

pub(super) fn find_coordinator_request(group_id: &str) -> FindCoordinatorRequest {
    FindCoordinatorRequest {
        key: group_id.to_owned(),
        key_type: COORDINATOR_KEY_GROUP,
        coordinator_keys: vec![group_id.to_owned()],
    }
}

pub(super) fn parse_find_coordinator(resp: Response) -> Result<FoundCoordinator, Error> {
    let version = resp.version;
    let r: FindCoordinatorResponse = resp.decode()?;
    if version < 4 {
        return Ok(FoundCoordinator {
            error: ErrorCode(r.error_code),
            message: r.error_message,
            node_id: r.node_id,
            host: r.host,
            port: r.port,
        });
    }
    let c =
        r.coordinators.into_iter().next().ok_or_else(|| {
            Error::Protocol("FindCoordinator answered with no coordinator".into())
        })?;
    Ok(FoundCoordinator {
        error: ErrorCode(c.error_code),
        message: c.error_message,
        node_id: c.node_id,
        host: c.host,
        port: c.port,
    })
}

pub(super) fn join_request(
    settings: &Settings,
    generation: &Generation,
    protocols: Vec<(String, bytes::Bytes)>,
    why: Option<String>,
) -> JoinGroupRequest {
    JoinGroupRequest {
        group_id: settings.group_id.clone(),
        session_timeout_ms: millis(settings.session_timeout),
        rebalance_timeout_ms: millis(settings.rebalance_timeout),
        member_id: generation.member_id.clone(),
        group_instance_id: settings.group_instance_id.clone(),
        protocol_type: PROTOCOL_TYPE.to_owned(),
        protocols: protocols
            .into_iter()
            .map(|(name, metadata)| JoinGroupRequestProtocol { name, metadata })
            .collect(),
        reason: why.as_deref().and_then(reason),
    }
}

pub(super) fn parse_join(resp: Response) -> Result<JoinOutcome, Error> {
    let r: JoinGroupResponse = resp.decode()?;
    Ok(JoinOutcome {
        error: ErrorCode(r.error_code),
        generation_id: r.generation_id,
        protocol_type: r.protocol_type,
        protocol_name: r.protocol_name,
        leader: r.leader,
        skip_assignment: r.skip_assignment,
        member_id: r.member_id,
        members: r
            .members
            .into_iter()
            .map(|m| JoinedMember {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                metadata: m.metadata,
            })
            .collect(),
    })
}

pub(super) fn sync_request(
    settings: &Settings,
    generation: &Generation,
    assignments: Vec<(String, bytes::Bytes)>,
) -> SyncGroupRequest {
    SyncGroupRequest {
        group_id: settings.group_id.clone(),
        generation_id: generation.id,
        member_id: generation.member_id.clone(),
        group_instance_id: settings.group_instance_id.clone(),
        protocol_type: Some(PROTOCOL_TYPE.to_owned()),
        protocol_name: generation.protocol.clone(),
        assignments: assignments
            .into_iter()
            .map(|(member_id, assignment)| SyncGroupRequestAssignment {
                member_id,
                assignment,
            })
            .collect(),
    }
}

pub(super) fn parse_sync(resp: Response) -> Result<SyncOutcome, Error> {
    let r: SyncGroupResponse = resp.decode()?;
    Ok(SyncOutcome {
        error: ErrorCode(r.error_code),
        protocol_type: r.protocol_type,
        protocol_name: r.protocol_name,
        assignment: r.assignment,
    })
}

pub(super) fn heartbeat_request(settings: &Settings, generation: &Generation) -> HeartbeatRequest {
    HeartbeatRequest {
        group_id: settings.group_id.clone(),
        generation_id: generation.id,
        member_id: generation.member_id.clone(),
        group_instance_id: settings.group_instance_id.clone(),
    }
}

pub(super) fn parse_heartbeat(resp: Response) -> Result<ErrorCode, Error> {
    let r: HeartbeatResponse = resp.decode()?;
    Ok(ErrorCode(r.error_code))
}

pub(super) fn leave_request(settings: &Settings, member_id: &str, why: &str) -> LeaveGroupRequest {
    LeaveGroupRequest {
        group_id: settings.group_id.clone(),
        member_id: member_id.to_owned(),
        members: vec![MemberIdentity {
            member_id: member_id.to_owned(),
            group_instance_id: settings.group_instance_id.clone(),
            reason: reason(why),
        }],
    }
}

/// The group-level error, or the member's (v3+).
pub(super) fn parse_leave(resp: Response) -> Result<ErrorCode, Error> {
    let r: LeaveGroupResponse = resp.decode()?;
    let code = ErrorCode(r.error_code);
    if !code.is_ok() {
        return Ok(code);
    }
    Ok(r.members
        .iter()
        .map(|m| ErrorCode(m.error_code))
        .find(|c| !c.is_ok())
        .unwrap_or(ErrorCode::NONE))
}

/// An OffsetCommit; `generation` is `None` without group management (generation -1,
/// empty member id, as the Java client sends for manual assignment).
pub(super) fn commit_request(
    settings: &Settings,
    generation: Option<(i32, String)>,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
) -> OffsetCommitRequest {
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for (tp, om) in offsets {
        let p = OffsetCommitRequestPartition {
            partition_index: tp.partition,
            committed_offset: om.offset,
            committed_leader_epoch: om.leader_epoch.unwrap_or(-1),
            commit_timestamp: -1,
            committed_metadata: Some(om.metadata.clone()),
        };
        match topics.last_mut() {
            Some(t) if t.name == tp.topic => t.partitions.push(p),
            _ => topics.push(OffsetCommitRequestTopic {
                name: tp.topic.clone(),
                partitions: vec![p],
            }),
        }
    }
    let managed = generation.is_some();
    let (generation_id, member_id) = generation.unwrap_or((-1, String::new()));
    OffsetCommitRequest {
        group_id: settings.group_id.clone(),
        generation_id_or_member_epoch: generation_id,
        member_id,
        group_instance_id: settings.group_instance_id.clone().filter(|_| managed),
        retention_time_ms: -1,
        topics,
    }
}

pub(super) fn parse_commit(resp: Response) -> Result<Vec<(TopicPartition, ErrorCode)>, Error> {
    let r: OffsetCommitResponse = resp.decode()?;
    Ok(r.topics
        .into_iter()
        .flat_map(|t| {
            let name = t.name;
            t.partitions.into_iter().map(move |p| {
                (
                    TopicPartition::new(name.clone(), p.partition_index),
                    ErrorCode(p.error_code),
                )
            })
        })
        .collect())
}

/// An OffsetFetch for `partitions` (sorted), asking for stable offsets (v7+: wait for
/// pending transactional commits instead of hiding them).
pub(super) fn offset_fetch_request(
    group_id: &str,
    partitions: &[TopicPartition],
) -> OffsetFetchRequest {
    let mut grouped: Vec<(String, Vec<i32>)> = Vec::new();
    for tp in partitions {
        match grouped.last_mut() {
            Some((name, list)) if *name == tp.topic => list.push(tp.partition),
            _ => grouped.push((tp.topic.clone(), vec![tp.partition])),
        }
    }
    OffsetFetchRequest {
        group_id: group_id.to_owned(),
        topics: Some(
            grouped
                .iter()
                .map(|(name, list)| OffsetFetchRequestTopic {
                    name: name.clone(),
                    partition_indexes: list.clone(),
                })
                .collect(),
        ),
        groups: vec![OffsetFetchRequestGroup {
            group_id: group_id.to_owned(),
            member_id: None,
            member_epoch: -1,
            topics: Some(
                grouped
                    .into_iter()
                    .map(|(name, partition_indexes)| OffsetFetchRequestTopics {
                        name,
                        partition_indexes,
                    })
                    .collect(),
            ),
        }],
        require_stable: true,
    }
}

/// The group-level error and the partitions of an OffsetFetch answer, for `group_id`.
pub(super) fn parse_offset_fetch(
    resp: Response,
    group_id: &str,
) -> Result<(ErrorCode, Vec<FetchedOffset>), Error> {
    let version = resp.version;
    let r: OffsetFetchResponse = resp.decode()?;
    if version < 8 {
        let partitions = r
            .topics
            .into_iter()
            .flat_map(|t| {
                let name = t.name;
                t.partitions.into_iter().map(move |p| FetchedOffset {
                    tp: TopicPartition::new(name.clone(), p.partition_index),
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p.metadata,
                    error: ErrorCode(p.error_code),
                })
            })
            .collect();
        return Ok((ErrorCode(r.error_code), partitions));
    }
    let group = r
        .groups
        .into_iter()
        .find(|g| g.group_id == group_id)
        .ok_or_else(|| Error::Protocol(format!("OffsetFetch answered without group {group_id}")))?;
    let partitions = group
        .topics
        .into_iter()
        .flat_map(|t| {
            let name = t.name;
            t.partitions.into_iter().map(move |p| FetchedOffset {
                tp: TopicPartition::new(name.clone(), p.partition_index),
                offset: p.committed_offset,
                leader_epoch: p.committed_leader_epoch,
                metadata: p.metadata,
                error: ErrorCode(p.error_code),
            })
        })
        .collect();
    Ok((ErrorCode(group.error_code), partitions))
}

fn millis(d: std::time::Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::consumer::assignor::assignor_for;
    use crate::protocol::api::find_coordinator::Coordinator;
    use crate::protocol::api::leave_group::MemberResponse;
    use crate::protocol::api::offset_fetch::{
        OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
        OffsetFetchResponseTopic, OffsetFetchResponseTopics,
    };
    use crate::protocol::api::Message;
    use crate::protocol::codec::Reader;

    fn settings() -> Settings {
        Settings {
            group_id: "g".into(),
            group_instance_id: Some("i-1".into()),
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            rebalance_timeout: Duration::from_secs(300),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            request_timeout: Duration::from_secs(30),
            client_rack: None,
            assignors: vec![assignor_for("range").unwrap()],
            cooperative: false,
        }
    }

    /// `msg` encoded at `version` and decoded back.
    fn round_trip<M: Message>(msg: &M, version: i16) -> M {
        let mut out = Vec::new();
        msg.encode(&mut out, version).unwrap();
        M::decode(&mut Reader::new(Bytes::from(out)), version).unwrap()
    }

    /// `msg` as the network layer hands a response over.
    fn response<M: Message>(msg: &M, version: i16) -> Response {
        let mut out = Vec::new();
        msg.encode(&mut out, version).unwrap();
        Response {
            node: 1,
            version,
            body: Reader::new(Bytes::from(out)),
            broken: Default::default(),
        }
    }

    fn tp(t: &str, p: i32) -> TopicPartition {
        TopicPartition::new(t, p)
    }

    #[test]
    fn find_coordinator_by_key_before_v4_and_by_keys_after() {
        let req = find_coordinator_request("g");
        assert_eq!(round_trip(&req, 3).key, "g");
        assert_eq!(round_trip(&req, 4).coordinator_keys, vec!["g".to_owned()]);
        let old = FindCoordinatorResponse {
            node_id: 2,
            host: "h".into(),
            port: 9092,
            ..Default::default()
        };
        let found = parse_find_coordinator(response(&old, 3)).unwrap();
        assert_eq!(
            (found.node_id, found.host.as_str(), found.port, found.error),
            (2, "h", 9092, ErrorCode::NONE)
        );
        let new = FindCoordinatorResponse {
            coordinators: vec![Coordinator {
                key: "g".into(),
                node_id: 3,
                host: "h3".into(),
                port: 9093,
                error_code: ErrorCode::COORDINATOR_NOT_AVAILABLE.0,
                error_message: Some("loading".into()),
            }],
            ..Default::default()
        };
        let found = parse_find_coordinator(response(&new, 6)).unwrap();
        assert_eq!(
            (found.node_id, found.error),
            (3, ErrorCode::COORDINATOR_NOT_AVAILABLE)
        );
        assert_eq!(found.message.as_deref(), Some("loading"));
        let empty = FindCoordinatorResponse::default();
        assert!(parse_find_coordinator(response(&empty, 6)).is_err());
    }

    #[test]
    fn join_and_sync_carry_the_member_and_its_protocols() {
        let s = settings();
        let generation = Generation {
            id: 4,
            member_id: "m1".into(),
            protocol: Some("range".into()),
        };
        let protocols = vec![("range".to_owned(), Bytes::from_static(b"sub"))];
        let long = "x".repeat(300);
        let req = round_trip(&join_request(&s, &generation, protocols, Some(long)), 9);
        assert_eq!(
            (req.session_timeout_ms, req.rebalance_timeout_ms),
            (45_000, 300_000)
        );
        assert_eq!(
            (req.member_id.as_str(), req.group_instance_id.as_deref()),
            ("m1", Some("i-1"))
        );
        assert_eq!(req.protocol_type, "consumer");
        assert_eq!(req.protocols[0].name, "range");
        assert_eq!(&req.protocols[0].metadata[..], b"sub");
        assert_eq!(
            req.reason.map(|r| r.len()),
            Some(255),
            "reasons are cut to 255 bytes"
        );

        let sync = round_trip(
            &sync_request(
                &s,
                &generation,
                vec![("m2".into(), Bytes::from_static(b"a"))],
            ),
            5,
        );
        assert_eq!(
            (sync.generation_id, sync.protocol_name.as_deref()),
            (4, Some("range"))
        );
        assert_eq!(sync.assignments[0].member_id, "m2");

        let hb = round_trip(&heartbeat_request(&s, &generation), 4);
        assert_eq!((hb.generation_id, hb.member_id.as_str()), (4, "m1"));
    }

    #[test]
    fn join_response_is_decoded_with_members() {
        let r = crate::protocol::api::join_group::JoinGroupResponse {
            error_code: 0,
            generation_id: 3,
            protocol_type: Some("consumer".into()),
            protocol_name: Some("range".into()),
            leader: "m1".into(),
            member_id: "m1".into(),
            members: vec![crate::protocol::api::join_group::JoinGroupResponseMember {
                member_id: "m2".into(),
                group_instance_id: None,
                metadata: Bytes::from_static(b"meta"),
            }],
            ..Default::default()
        };
        let j = parse_join(response(&r, 9)).unwrap();
        assert_eq!(
            (j.generation_id, j.leader.as_str(), j.member_id.as_str()),
            (3, "m1", "m1")
        );
        assert_eq!(j.members[0].member_id, "m2");
        assert_eq!(&j.members[0].metadata[..], b"meta");
    }

    #[test]
    fn leave_names_the_member_in_every_version() {
        let s = settings();
        let req = leave_request(&s, "m1", "closing");
        assert_eq!(round_trip(&req, 2).member_id, "m1");
        let v5 = round_trip(&req, 5);
        assert_eq!(v5.members[0].member_id, "m1");
        assert_eq!(v5.members[0].reason.as_deref(), Some("closing"));
        let answer = LeaveGroupResponse {
            members: vec![MemberResponse {
                member_id: "m1".into(),
                group_instance_id: None,
                error_code: ErrorCode::UNKNOWN_MEMBER_ID.0,
            }],
            ..Default::default()
        };
        assert_eq!(
            parse_leave(response(&answer, 3)).unwrap(),
            ErrorCode::UNKNOWN_MEMBER_ID
        );
        assert_eq!(
            parse_leave(response(&LeaveGroupResponse::default(), 1)).unwrap(),
            ErrorCode::NONE
        );
    }

    #[test]
    fn commit_groups_partitions_by_topic_and_keeps_the_generation() {
        let s = settings();
        let offsets = BTreeMap::from([
            (tp("a", 0), OffsetAndMetadata::new(10).with_metadata("x")),
            (tp("a", 1), OffsetAndMetadata::new(11)),
            (
                tp("b", 0),
                OffsetAndMetadata {
                    leader_epoch: Some(7),
                    ..OffsetAndMetadata::new(3)
                },
            ),
        ]);
        let req = round_trip(&commit_request(&s, Some((5, "m1".into())), &offsets), 9);
        assert_eq!(
            (req.generation_id_or_member_epoch, req.member_id.as_str()),
            (5, "m1")
        );
        assert_eq!(req.group_instance_id.as_deref(), Some("i-1"));
        assert_eq!(req.topics.len(), 2);
        assert_eq!(req.topics[0].partitions.len(), 2);
        assert_eq!(
            req.topics[0].partitions[0].committed_metadata.as_deref(),
            Some("x")
        );
        assert_eq!(req.topics[1].partitions[0].committed_leader_epoch, 7);
        let manual = commit_request(&s, None, &offsets);
        assert_eq!(
            (
                manual.generation_id_or_member_epoch,
                manual.member_id.as_str()
            ),
            (-1, "")
        );
        assert_eq!(
            manual.group_instance_id, None,
            "no instance id without group management"
        );
    }

    #[test]
    fn offset_fetch_reads_the_old_and_the_grouped_layout() {
        let req = offset_fetch_request("g", &[tp("a", 0), tp("a", 2), tp("b", 1)]);
        let v7 = round_trip(&req, 7);
        assert_eq!(v7.group_id, "g");
        assert!(v7.require_stable);
        let topics = v7.topics.unwrap();
        assert_eq!(
            (topics[0].name.as_str(), topics[0].partition_indexes.clone()),
            ("a", vec![0, 2])
        );
        let v9 = round_trip(&req, 9);
        let group = &v9.groups[0];
        assert_eq!(group.group_id, "g");
        assert_eq!(group.topics.as_ref().unwrap()[1].partition_indexes, vec![1]);

        let old = OffsetFetchResponse {
            topics: vec![OffsetFetchResponseTopic {
                name: "a".into(),
                partitions: vec![OffsetFetchResponsePartition {
                    partition_index: 0,
                    committed_offset: 42,
                    committed_leader_epoch: 1,
                    metadata: Some("m".into()),
                    error_code: 0,
                }],
            }],
            error_code: ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.0,
            ..Default::default()
        };
        let (code, parts) = parse_offset_fetch(response(&old, 7), "g").unwrap();
        assert_eq!(code, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
        assert_eq!(
            (parts[0].tp.clone(), parts[0].offset, parts[0].leader_epoch),
            (tp("a", 0), 42, 1)
        );

        let new = OffsetFetchResponse {
            groups: vec![OffsetFetchResponseGroup {
                group_id: "g".into(),
                topics: vec![OffsetFetchResponseTopics {
                    name: "b".into(),
                    partitions: vec![OffsetFetchResponsePartitions {
                        partition_index: 1,
                        committed_offset: -1,
                        committed_leader_epoch: -1,
                        metadata: None,
                        error_code: ErrorCode::UNSTABLE_OFFSET_COMMIT.0,
                    }],
                }],
                error_code: 0,
            }],
            ..Default::default()
        };
        let (code, parts) = parse_offset_fetch(response(&new, 9), "g").unwrap();
        assert_eq!(code, ErrorCode::NONE);
        assert_eq!(
            (parts[0].tp.clone(), parts[0].error),
            (tp("b", 1), ErrorCode::UNSTABLE_OFFSET_COMMIT)
        );
        assert!(parse_offset_fetch(response(&new, 9), "other").is_err());
    }

    #[test]
    fn commit_answer_lists_every_partition() {
        use crate::protocol::api::offset_commit::{
            OffsetCommitResponsePartition, OffsetCommitResponseTopic,
        };
        let r = OffsetCommitResponse {
            topics: vec![OffsetCommitResponseTopic {
                name: "a".into(),
                partitions: vec![
                    OffsetCommitResponsePartition {
                        partition_index: 0,
                        error_code: 0,
                    },
                    OffsetCommitResponsePartition {
                        partition_index: 1,
                        error_code: ErrorCode::ILLEGAL_GENERATION.0,
                    },
                ],
            }],
            ..Default::default()
        };
        let parts = parse_commit(response(&r, 8)).unwrap();
        assert_eq!(
            parts,
            vec![
                (tp("a", 0), ErrorCode::NONE),
                (tp("a", 1), ErrorCode::ILLEGAL_GENERATION)
            ]
        );
    }
}
