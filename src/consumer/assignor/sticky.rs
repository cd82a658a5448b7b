//! [`StickyAssignor`]: balanced assignments that keep partitions where they were (Java's
//! `StickyAssignor`), and the sticky algorithm both sticky strategies share.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::TopicPartition;

use super::ownership::{resolve, Claim, Ownership, StickyGroup};
use super::{constrained, general, sticky_data};
use super::{Assignor, GroupAssignment, MemberSubscription, DEFAULT_GENERATION};

/// The `"sticky"` strategy, under the eager rebalance protocol.
///
/// The assignment is as balanced as the subscriptions allow (with identical subscriptions,
/// member counts differ by at most one; otherwise no partition could move to a subscribed
/// member holding two or more fewer), and within that keeps as many partitions as possible
/// with the member that owned them. When several members claim a partition, the claim from
/// the highest generation wins.
///
/// Each member reports what it owned in its subscription's user data, in the Java
/// `StickyAssignor` format (its previous assignment and generation), so members of this
/// crate, of the Java client and of kafka-python stay sticky together. A member sending no
/// user data but listing owned partitions in its subscription is taken at its word.
///
/// # Examples
/// ```
/// use std::collections::BTreeMap;
/// use kafka_sync::consumer::assignor::{Assignor, MemberSubscription, StickyAssignor};
///
/// let partitions = BTreeMap::from([("t".to_string(), 4)]);
/// let mut a = StickyAssignor::default();
/// let first = a.assign(&partitions, &[MemberSubscription::new("a", ["t"])]);
/// assert_eq!(first.partitions("a").len(), 4);
///
/// // Member a remembers its assignment and reports it when b joins.
/// a.on_assignment(first.partitions("a"), 1);
/// let topics = ["t".to_string()];
/// let members = [
///     MemberSubscription { user_data: a.subscription_user_data(&topics), ..MemberSubscription::new("a", ["t"]) },
///     MemberSubscription::new("b", ["t"]),
/// ];
/// let second = a.assign(&partitions, &members);
/// assert_eq!(second.partitions("a").len(), 2);
/// assert!(second.partitions("a").iter().all(|tp| first.partitions("a").contains(tp)));
/// ```
#[derive(Debug, Clone, Default)]
pub struct StickyAssignor {
    /// This member's last assignment and its generation, once it has one.
    last: Option<(Vec<TopicPartition>, i32)>,
}

impl Assignor for StickyAssignor {
    fn name(&self) -> &'static str {
        "sticky"
    }

    fn subscription_user_data(&self, _topics: &[String]) -> Option<Bytes> {
        let (partitions, generation) = self.last.as_ref()?;
        sticky_data::encode(partitions, *generation).ok()
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
    ) -> GroupAssignment {
        assign_sticky(partitions_per_topic, members, claim_from_user_data).0
    }

    fn on_assignment(&mut self, assignment: &[TopicPartition], generation: i32) {
        self.last = Some((assignment.to_vec(), generation));
    }
}

/// What a `"sticky"` member claims: its user data, or failing that its subscription's owned
/// partitions.
fn claim_from_user_data(member: &MemberSubscription) -> Claim {
    match &member.user_data {
        Some(data) if !data.is_empty() => sticky_data::decode(data),
        _ if !member.owned_partitions.is_empty() => Claim {
            partitions: member.owned_partitions.clone(),
            generation: (member.generation_id > DEFAULT_GENERATION).then_some(member.generation_id),
        },
        _ => Claim::default(),
    }
}

/// Runs the sticky algorithm with each member's claim as `claim_of` reads it. Returns the
/// assignment with the settled ownership, for the cooperative adjustment.
pub(super) fn assign_sticky(
    partitions_per_topic: &BTreeMap<String, i32>,
    members: &[MemberSubscription],
    claim_of: impl Fn(&MemberSubscription) -> Claim,
) -> (GroupAssignment, Ownership) {
    let group = StickyGroup::new(partitions_per_topic, members);
    let claims: Vec<Claim> = group.members.iter().map(|m| claim_of(m)).collect();
    let ownership = resolve(&group, &claims);
    let per_member = if group.all_subscriptions_equal() {
        constrained::assign(&group, &ownership)
    } else {
        general::assign(&group, &ownership)
    };
    let mut out = GroupAssignment::empty_for(group.members.iter().map(|m| m.member_id.as_str()));
    for (member, partitions) in group.members.iter().zip(per_member) {
        out.assignments.insert(member.member_id.clone(), partitions);
    }
    (out, ownership)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }

    fn counts(pairs: &[(&str, i32)]) -> BTreeMap<String, i32> {
        pairs.iter().map(|&(t, n)| (t.to_string(), n)).collect()
    }

    fn with_user_data(
        id: &str,
        topics: &[&str],
        owned: &[TopicPartition],
        generation: i32,
    ) -> MemberSubscription {
        let mut assignor = StickyAssignor::default();
        assignor.on_assignment(owned, generation);
        let topic_list: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        MemberSubscription {
            user_data: assignor.subscription_user_data(&topic_list),
            ..MemberSubscription::new(id, topics.iter().copied())
        }
    }

    #[test]
    fn no_user_data_before_the_first_assignment() {
        assert_eq!(StickyAssignor::default().subscription_user_data(&[]), None);
    }

    #[test]
    fn java_doc_example_one_after_a_member_leaves() {
        let partitions = counts(&[("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)]);
        let all = ["t0", "t1", "t2", "t3"];
        let c0 = [tp("t0", 0), tp("t1", 1), tp("t3", 0)];
        let c2 = [tp("t1", 0), tp("t2", 1)];
        let members = [
            with_user_data("C0", &all, &c0, 1),
            with_user_data("C2", &all, &c2, 1),
        ];
        let out = StickyAssignor::default().assign(&partitions, &members);
        assert_eq!(out.partitions("C0").len(), 4);
        assert_eq!(out.partitions("C2").len(), 4);
        assert!(c0.iter().all(|tp| out.partitions("C0").contains(tp)));
        assert!(c2.iter().all(|tp| out.partitions("C2").contains(tp)));
    }

    #[test]
    fn the_newer_generation_keeps_a_doubly_claimed_partition() {
        let partitions = counts(&[("t", 2)]);
        let members = [
            with_user_data("a", &["t"], &[tp("t", 0)], 3),
            with_user_data("b", &["t"], &[tp("t", 0), tp("t", 1)], 4),
        ];
        let out = StickyAssignor::default().assign(&partitions, &members);
        assert_eq!(out.partitions("b"), &[tp("t", 0)]);
        assert_eq!(out.partitions("a"), &[tp("t", 1)]);
    }

    #[test]
    fn owned_partitions_stand_in_for_missing_user_data() {
        let partitions = counts(&[("t", 4)]);
        let members = [
            MemberSubscription::new("a", ["t"]),
            MemberSubscription {
                owned_partitions: vec![tp("t", 0), tp("t", 1)],
                generation_id: 2,
                ..MemberSubscription::new("b", ["t"])
            },
        ];
        let out = StickyAssignor::default().assign(&partitions, &members);
        assert_eq!(out.partitions("b"), &[tp("t", 0), tp("t", 1)]);
        assert_eq!(out.partitions("a"), &[tp("t", 2), tp("t", 3)]);
    }

    #[test]
    fn every_member_gets_an_entry() {
        let out = StickyAssignor::default().assign(
            &counts(&[("t", 1)]),
            &[
                MemberSubscription::new("a", ["t"]),
                MemberSubscription::new("b", ["nothing"]),
            ],
        );
        assert_eq!(out.assignments.len(), 2);
        assert_eq!(out.partitions("a"), &[tp("t", 0)]);
        assert!(out.partitions("b").is_empty());
    }
}
