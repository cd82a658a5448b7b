//! [`CooperativeStickyAssignor`]: the sticky assignment under the cooperative rebalance
//! protocol (Java's `CooperativeStickyAssignor`, KIP-429), and the check the leader runs on
//! any cooperative assignment.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bytes::Bytes;

use crate::TopicPartition;

use super::ownership::Claim;
use super::sticky::assign_sticky;
use super::{Assignor, GroupAssignment, MemberSubscription, RebalanceProtocol, DEFAULT_GENERATION};

/// The `"cooperative-sticky"` strategy: the [`StickyAssignor`](super::StickyAssignor)'s
/// assignment, made safe for members that keep consuming while they rebalance.
///
/// A partition the sticky assignment moves from one member to another is left out of this
/// round's assignment altogether: its old owner sees it gone and revokes it, then rejoins,
/// and the next rebalance hands it to its new owner. Partitions claimed by two members of
/// the same generation are likewise held back for a round.
///
/// Ownership comes from the subscription's `owned_partitions` and `generation_id`; for
/// members whose subscription predates `generation_id` (version 0 or 1), the generation is
/// read from the user data, which holds it as one `int32` (Java's format).
///
/// # Examples
/// ```
/// use std::collections::BTreeMap;
/// use kafka_sync::consumer::assignor::{Assignor, CooperativeStickyAssignor, MemberSubscription};
///
/// let partitions = BTreeMap::from([("t".to_string(), 2)]);
/// let owner = MemberSubscription {
///     owned_partitions: vec![("t", 0).into(), ("t", 1).into()],
///     generation_id: 1,
///     ..MemberSubscription::new("a", ["t"])
/// };
/// let members = [owner, MemberSubscription::new("b", ["t"])];
/// let out = CooperativeStickyAssignor::default().assign(&partitions, &members);
/// // One partition must move to b: a gives it up now, b gets it next round.
/// assert_eq!(out.partitions("a").len(), 1);
/// assert!(out.partitions("b").is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct CooperativeStickyAssignor {
    generation: i32,
}

impl Default for CooperativeStickyAssignor {
    fn default() -> Self {
        CooperativeStickyAssignor {
            generation: DEFAULT_GENERATION,
        }
    }
}

impl Assignor for CooperativeStickyAssignor {
    fn name(&self) -> &'static str {
        "cooperative-sticky"
    }

    fn supported_protocols(&self) -> &'static [RebalanceProtocol] {
        &[RebalanceProtocol::Eager, RebalanceProtocol::Cooperative]
    }

    fn subscription_user_data(&self, _topics: &[String]) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(&self.generation.to_be_bytes()))
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
    ) -> GroupAssignment {
        let (mut out, ownership) = assign_sticky(partitions_per_topic, members, claim);
        let mut held_back = cooperative_conflicts(members, &out);
        held_back.extend(ownership.contested);
        for partitions in out.assignments.values_mut() {
            partitions.retain(|tp| !held_back.contains(tp));
        }
        out
    }

    fn on_assignment(&mut self, _assignment: &[TopicPartition], generation: i32) {
        self.generation = generation;
    }
}

/// What a `"cooperative-sticky"` member claims.
fn claim(member: &MemberSubscription) -> Claim {
    let generation = if member.generation_id > DEFAULT_GENERATION {
        Some(member.generation_id)
    } else {
        member.user_data.as_ref().map(|data| match data.get(..4) {
            Some(&[a, b, c, d]) => i32::from_be_bytes([a, b, c, d]),
            _ => DEFAULT_GENERATION,
        })
    };
    Claim {
        partitions: member.owned_partitions.clone(),
        generation,
    }
}

/// The partitions `assignment` gives to a member while another member that owns them is
/// asked to give them up: what the cooperative protocol forbids (the Java leader's
/// `validateCooperativeAssignment`). Empty for a valid cooperative assignment.
///
/// # Examples
/// ```
/// use kafka_sync::consumer::assignor::{cooperative_conflicts, GroupAssignment, MemberSubscription};
///
/// let members = [
///     MemberSubscription { owned_partitions: vec![("t", 0).into()], ..MemberSubscription::new("a", ["t"]) },
///     MemberSubscription::new("b", ["t"]),
/// ];
/// let mut moved = GroupAssignment::default();
/// moved.assignments.insert("a".into(), vec![]);
/// moved.assignments.insert("b".into(), vec![("t", 0).into()]);
/// assert_eq!(cooperative_conflicts(&members, &moved).len(), 1);
/// ```
pub fn cooperative_conflicts(
    members: &[MemberSubscription],
    assignment: &GroupAssignment,
) -> BTreeSet<TopicPartition> {
    let owned: HashMap<&str, HashSet<&TopicPartition>> = members
        .iter()
        .map(|m| (m.member_id.as_str(), m.owned_partitions.iter().collect()))
        .collect();
    let mut added = BTreeSet::new();
    let mut revoked = HashSet::new();
    for (member, partitions) in &assignment.assignments {
        let empty = HashSet::new();
        let was = owned.get(member.as_str()).unwrap_or(&empty);
        let now: HashSet<&TopicPartition> = partitions.iter().collect();
        added.extend(partitions.iter().filter(|tp| !was.contains(tp)));
        revoked.extend(was.iter().filter(|tp| !now.contains(*tp)).copied());
    }
    added
        .into_iter()
        .filter(|tp| revoked.contains(tp))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }

    fn owning(
        id: &str,
        topics: &[&str],
        owned: &[TopicPartition],
        generation: i32,
    ) -> MemberSubscription {
        MemberSubscription {
            owned_partitions: owned.to_vec(),
            generation_id: generation,
            ..MemberSubscription::new(id, topics.iter().copied())
        }
    }

    #[test]
    fn user_data_is_the_generation() {
        let mut assignor = CooperativeStickyAssignor::default();
        assert_eq!(
            assignor.subscription_user_data(&[]).as_deref(),
            Some(&[0xff, 0xff, 0xff, 0xff][..])
        );
        assignor.on_assignment(&[], 258);
        assert_eq!(
            assignor.subscription_user_data(&[]).as_deref(),
            Some(&[0, 0, 1, 2][..])
        );
    }

    #[test]
    fn generation_comes_from_user_data_for_old_subscriptions() {
        let old = MemberSubscription {
            user_data: Some(Bytes::from_static(&[0, 0, 0, 9])),
            ..MemberSubscription::new("a", ["t"])
        };
        assert_eq!(claim(&old).generation, Some(9));
        let garbage = MemberSubscription {
            user_data: Some(Bytes::from_static(&[1])),
            ..old.clone()
        };
        assert_eq!(claim(&garbage).generation, Some(DEFAULT_GENERATION));
        let none = MemberSubscription::new("a", ["t"]);
        assert_eq!(claim(&none).generation, None);
        let current = MemberSubscription {
            generation_id: 4,
            ..old
        };
        assert_eq!(claim(&current).generation, Some(4));
    }

    #[test]
    fn moved_partitions_arrive_one_round_later() {
        let partitions = BTreeMap::from([("t".to_string(), 4)]);
        let all: Vec<TopicPartition> = (0..4).map(|p| tp("t", p)).collect();
        let assignor = CooperativeStickyAssignor::default();

        // Round 1: a owns everything, b joins. a keeps two, gives up two, b gets none.
        let round1 = [owning("a", &["t"], &all, 1), owning("b", &["t"], &[], -1)];
        let out1 = assignor.assign(&partitions, &round1);
        assert_eq!(out1.partitions("a"), &[tp("t", 0), tp("t", 1)]);
        assert!(out1.partitions("b").is_empty());
        assert!(cooperative_conflicts(&round1, &out1).is_empty());

        // Round 2: a owns only what it kept; b now gets the rest.
        let round2 = [
            owning("a", &["t"], out1.partitions("a"), 2),
            owning("b", &["t"], &[], 2),
        ];
        let out2 = assignor.assign(&partitions, &round2);
        assert_eq!(out2.partitions("a"), &[tp("t", 0), tp("t", 1)]);
        assert_eq!(out2.partitions("b"), &[tp("t", 2), tp("t", 3)]);
    }

    #[test]
    fn same_generation_double_claims_wait_a_round() {
        let partitions = BTreeMap::from([("t".to_string(), 2)]);
        let members = [
            owning("a", &["t"], &[tp("t", 0)], 3),
            owning("b", &["t"], &[tp("t", 0), tp("t", 1)], 3),
        ];
        let out = CooperativeStickyAssignor::default().assign(&partitions, &members);
        assert!(out.partitions("a").is_empty());
        assert_eq!(out.partitions("b"), &[tp("t", 1)]);
    }

    #[test]
    fn unsubscribing_revokes_without_a_conflict() {
        let partitions = BTreeMap::from([("t".to_string(), 1), ("u".to_string(), 1)]);
        let members = [
            owning("a", &["u"], &[tp("t", 0), tp("u", 0)], 1),
            owning("b", &["t"], &[], 1),
        ];
        let out = CooperativeStickyAssignor::default().assign(&partitions, &members);
        // a dropped t, so t-0 must be revoked from a before b may have it.
        assert_eq!(out.partitions("a"), &[tp("u", 0)]);
        assert!(out.partitions("b").is_empty());
    }
}
