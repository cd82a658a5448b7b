//! The consumer protocol inside the group protocol: the subscription each member offers in
//! JoinGroup, the leader's assignment, decoding this member's assignment from SyncGroup,
//! and what moved between two assignments.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::consumer::assignor::{
    self, encode_subscription, Assignor, MemberSubscription, RebalanceProtocol, Subscription,
    SUBSCRIPTION_VERSION,
};
use crate::error::Error;
use crate::net::metadata::ClusterMetadata;
use crate::protocol::error_code::ErrorCode;
use crate::TopicPartition;

use super::responses::JoinedMember;

/// Partition counts of the topics an assignment was computed from (`None`: the topic did
/// not exist). The leader rejoins when they change.
pub(super) type TopicCounts = BTreeMap<String, Option<usize>>;

/// True when the group rebalances cooperatively: every configured assignor supports it
/// (the Java client's rule).
pub(super) fn is_cooperative(assignors: &[Box<dyn Assignor>]) -> bool {
    !assignors.is_empty()
        && assignors.iter().all(|a| {
            a.supported_protocols()
                .contains(&RebalanceProtocol::Cooperative)
        })
}

/// The JoinGroup protocol metadata for one assignor: a `ConsumerProtocolSubscription`
/// with the topics, the owned partitions, their generation and the rack.
pub(super) fn subscription_metadata(
    assignor: &dyn Assignor,
    topics: &BTreeSet<String>,
    owned: &[TopicPartition],
    generation: i32,
    rack: Option<&str>,
) -> Result<Bytes, Error> {
    let topics: Vec<String> = topics.iter().cloned().collect();
    let sub = Subscription {
        user_data: assignor.subscription_user_data(&topics),
        topics,
        owned_partitions: owned.to_vec(),
        generation_id: generation,
        rack_id: rack.map(str::to_owned),
    };
    Ok(encode_subscription(&sub, SUBSCRIPTION_VERSION)?)
}

/// Decodes every member's subscription from the JoinGroup answer (leader only).
pub(super) fn decode_members(members: &[JoinedMember]) -> Result<Vec<MemberSubscription>, Error> {
    members
        .iter()
        .map(|m| {
            MemberSubscription::decode(
                m.member_id.clone(),
                m.group_instance_id.clone(),
                m.metadata.clone(),
            )
            .map_err(|e| {
                Error::Protocol(format!(
                    "group member {}'s subscription could not be decoded: {e}",
                    m.member_id
                ))
            })
        })
        .collect()
}

/// The partition counts of `topics` in `cluster`.
fn counts<'a>(topics: impl IntoIterator<Item = &'a str>, cluster: &ClusterMetadata) -> TopicCounts {
    topics
        .into_iter()
        .map(|t| (t.to_owned(), cluster.partition_count(t)))
        .collect()
}

/// Runs the group's assignor over every member's subscription. Returns each member's
/// encoded assignment for SyncGroup and the partition counts it was computed from.
pub(super) fn leader_assign(
    assignor: &dyn Assignor,
    members: &[MemberSubscription],
    cluster: &ClusterMetadata,
) -> Result<(Vec<(String, Bytes)>, TopicCounts), Error> {
    let topics: BTreeSet<&str> = members
        .iter()
        .flat_map(|m| m.topics.iter().map(String::as_str))
        .collect();
    let snapshot = counts(topics.iter().copied(), cluster);
    let partitions_per_topic: BTreeMap<String, i32> = snapshot
        .iter()
        .filter_map(|(t, n)| Some((t.clone(), i32::try_from((*n)?).ok()?)))
        .collect();
    let group = assignor.assign(&partitions_per_topic, members);
    log::debug!(
        "assignor {} assigned {:?}",
        assignor.name(),
        group.assignments
    );
    let encoded = group.encode()?;
    Ok((encoded.into_iter().collect(), snapshot))
}

/// True when the partition counts differ from `snapshot` for a topic whose metadata is
/// known now (a topic with a transient error is not a change; one that stopped existing is).
pub(super) fn counts_changed(snapshot: &TopicCounts, cluster: &ClusterMetadata) -> bool {
    snapshot.iter().any(|(topic, old)| {
        let now = match cluster.topics.get(topic) {
            Some(t) if t.error.is_ok() => Some(t.partitions.len()),
            Some(t) if t.error == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION => None,
            _ => return false,
        };
        now != *old
    })
}

/// This member's partitions from the SyncGroup answer. An empty answer (a leader that
/// left this member out) is an empty assignment.
pub(super) fn decode_assignment(bytes: &Bytes) -> Result<Vec<TopicPartition>, Error> {
    if bytes.is_empty() {
        log::warn!("SyncGroup returned no assignment for this member; taking it as empty");
        return Ok(Vec::new());
    }
    assignor::decode_assignment(bytes.clone())
        .map(|a| a.partitions)
        .map_err(|e| {
            Error::Protocol(format!(
                "the assignment from SyncGroup could not be decoded: {e}"
            ))
        })
}

/// `(revoked, added)`: what `owned` loses and gains going to `assigned`, both sorted.
pub(super) fn diff(
    owned: &[TopicPartition],
    assigned: &[TopicPartition],
) -> (Vec<TopicPartition>, Vec<TopicPartition>) {
    let owned: BTreeSet<&TopicPartition> = owned.iter().collect();
    let assigned: BTreeSet<&TopicPartition> = assigned.iter().collect();
    let revoked = owned
        .difference(&assigned)
        .map(|tp| (*tp).clone())
        .collect();
    let added = assigned
        .difference(&owned)
        .map(|tp| (*tp).clone())
        .collect();
    (revoked, added)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::consumer::assignor::{assignor_for, decode_subscription, GroupAssignment};
    use crate::net::metadata::{PartitionMetadata, TopicMetadata};

    pub(crate) fn cluster(topics: &[(&str, usize)]) -> ClusterMetadata {
        let mut c = ClusterMetadata::default();
        for (name, n) in topics {
            c.topics.insert(
                (*name).to_owned(),
                TopicMetadata {
                    name: (*name).to_owned(),
                    topic_id: Default::default(),
                    is_internal: false,
                    error: ErrorCode::NONE,
                    partitions: (0..*n as i32)
                        .map(|p| PartitionMetadata {
                            partition: p,
                            leader: 0,
                            leader_epoch: 0,
                            replicas: vec![0],
                            isr: vec![0],
                            offline_replicas: vec![],
                            error: ErrorCode::NONE,
                        })
                        .collect(),
                    available: (0..*n as i32).collect(),
                },
            );
        }
        c
    }

    fn tp(t: &str, p: i32) -> TopicPartition {
        TopicPartition::new(t, p)
    }

    #[test]
    fn subscription_carries_topics_owned_generation_and_rack() {
        let coop = assignor_for("cooperative-sticky").unwrap();
        let topics: BTreeSet<String> = ["b".to_owned(), "a".to_owned()].into();
        let bytes = subscription_metadata(coop.as_ref(), &topics, &[tp("a", 1)], 7, Some("rack-1"))
            .unwrap();
        let sub = decode_subscription(bytes).unwrap();
        assert_eq!(sub.topics, vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(sub.owned_partitions, vec![tp("a", 1)]);
        assert_eq!(sub.generation_id, 7);
        assert_eq!(sub.rack_id.as_deref(), Some("rack-1"));
    }

    #[test]
    fn cooperative_only_when_every_assignor_is() {
        let list = |names: &[&str]| {
            names
                .iter()
                .map(|n| assignor_for(n).unwrap())
                .collect::<Vec<_>>()
        };
        assert!(is_cooperative(&list(&["cooperative-sticky"])));
        assert!(!is_cooperative(&list(&["cooperative-sticky", "range"])));
        assert!(!is_cooperative(&list(&["range", "roundrobin"])));
        assert!(!is_cooperative(&[]));
    }

    #[test]
    fn leader_assigns_every_member_from_the_metadata() {
        let range = assignor_for("range").unwrap();
        let joined: Vec<JoinedMember> = ["m1", "m2"]
            .iter()
            .map(|id| {
                let topics: BTreeSet<String> = ["t".to_owned(), "gone".to_owned()].into();
                JoinedMember {
                    member_id: (*id).to_owned(),
                    group_instance_id: None,
                    metadata: subscription_metadata(range.as_ref(), &topics, &[], -1, None)
                        .unwrap(),
                }
            })
            .collect();
        let members = decode_members(&joined).unwrap();
        let (assignments, snapshot) =
            leader_assign(range.as_ref(), &members, &cluster(&[("t", 4)])).unwrap();
        assert_eq!(assignments.len(), 2);
        let m1 = decode_assignment(&assignments[0].1).unwrap();
        let m2 = decode_assignment(&assignments[1].1).unwrap();
        assert_eq!(assignments[0].0, "m1");
        assert_eq!(m1, vec![tp("t", 0), tp("t", 1)]);
        assert_eq!(m2, vec![tp("t", 2), tp("t", 3)]);
        assert_eq!(
            snapshot,
            TopicCounts::from([("gone".to_owned(), None), ("t".to_owned(), Some(4))])
        );
        assert!(!counts_changed(&snapshot, &cluster(&[("t", 4)])));
        assert!(counts_changed(&snapshot, &cluster(&[("t", 6)])));
        assert!(
            counts_changed(&snapshot, &cluster(&[("t", 4), ("gone", 1)])),
            "a topic appeared"
        );
    }

    #[test]
    fn bad_member_metadata_is_an_error() {
        let joined = [JoinedMember {
            member_id: "m1".into(),
            group_instance_id: None,
            metadata: Bytes::from_static(&[0, 1, 0]),
        }];
        assert!(matches!(decode_members(&joined), Err(Error::Protocol(_))));
        assert!(decode_assignment(&Bytes::from_static(&[0, 1, 0])).is_err());
        assert_eq!(decode_assignment(&Bytes::new()).unwrap(), vec![]);
        let mut g = GroupAssignment::default();
        g.assignments.insert("m".into(), vec![tp("x", 3)]);
        assert_eq!(
            decode_assignment(&g.encode().unwrap()["m"]).unwrap(),
            vec![tp("x", 3)]
        );
    }

    #[test]
    fn diff_splits_revoked_and_added() {
        let (revoked, added) = diff(
            &[tp("a", 0), tp("a", 1), tp("b", 0)],
            &[tp("a", 1), tp("b", 0), tp("b", 1)],
        );
        assert_eq!(revoked, vec![tp("a", 0)]);
        assert_eq!(added, vec![tp("b", 1)]);
        let (revoked, added) = diff(&[], &[tp("a", 0)]);
        assert!(revoked.is_empty());
        assert_eq!(added, vec![tp("a", 0)]);
    }
}
