//! [`RoundRobinAssignor`]: every partition dealt in turn (Java's `RoundRobinAssignor`).

use std::collections::{BTreeMap, BTreeSet};

use crate::TopicPartition;

use super::member::{static_member_cmp, unique};
use super::{Assignor, GroupAssignment, MemberSubscription};

/// The `"roundrobin"` strategy.
///
/// All subscribed partitions, sorted by topic then partition, are dealt to the members in
/// turn (static members first by `group.instance.id`, then the rest by member id), skipping a
/// member that does not subscribe to the partition's topic. With identical subscriptions the
/// counts differ by at most one.
///
/// # Examples
/// The example from the Java documentation: two consumers, two topics of three partitions.
/// ```
/// use std::collections::BTreeMap;
/// use kafka_sync::consumer::assignor::{Assignor, MemberSubscription, RoundRobinAssignor, TopicPartition};
///
/// let partitions = BTreeMap::from([("t0".to_string(), 3), ("t1".to_string(), 3)]);
/// let members = [
///     MemberSubscription::new("C0", ["t0", "t1"]),
///     MemberSubscription::new("C1", ["t0", "t1"]),
/// ];
/// let out = RoundRobinAssignor.assign(&partitions, &members);
/// let tp = |t: &str, p| TopicPartition::new(t, p);
/// assert_eq!(out.partitions("C0"), &[tp("t0", 0), tp("t0", 2), tp("t1", 1)]);
/// assert_eq!(out.partitions("C1"), &[tp("t0", 1), tp("t1", 0), tp("t1", 2)]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundRobinAssignor;

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &'static str {
        "roundrobin"
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
    ) -> GroupAssignment {
        let mut members = unique(members);
        let mut out = GroupAssignment::empty_for(members.iter().map(|m| m.member_id.as_str()));
        members.sort_by(|a, b| static_member_cmp(a, b));

        // Topic names are ASCII, so byte order is Java's order here.
        let topics: BTreeSet<&str> = members
            .iter()
            .flat_map(|m| m.topics.iter().map(String::as_str))
            .collect();
        let mut turn = 0;
        for topic in topics {
            let count = partitions_per_topic.get(topic).copied().unwrap_or(0);
            for partition in 0..count {
                // Someone subscribes to every topic in the set, so this finds a member.
                while !members[turn].subscribes_to(topic) {
                    turn = (turn + 1) % members.len();
                }
                out.assignments
                    .entry(members[turn].member_id.clone())
                    .or_default()
                    .push(TopicPartition::new(topic, partition));
                turn = (turn + 1) % members.len();
            }
        }
        out
    }
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

    #[test]
    fn java_doc_example_with_different_subscriptions() {
        let partitions = counts(&[("t0", 1), ("t1", 2), ("t2", 3)]);
        let members = [
            MemberSubscription::new("C0", ["t0"]),
            MemberSubscription::new("C1", ["t0", "t1"]),
            MemberSubscription::new("C2", ["t0", "t1", "t2"]),
        ];
        let out = RoundRobinAssignor.assign(&partitions, &members);
        assert_eq!(out.partitions("C0"), &[tp("t0", 0)]);
        assert_eq!(out.partitions("C1"), &[tp("t1", 0)]);
        assert_eq!(
            out.partitions("C2"),
            &[tp("t1", 1), tp("t2", 0), tp("t2", 1), tp("t2", 2)]
        );
    }

    #[test]
    fn java_doc_example_with_static_members() {
        // Member ids C5, C3, C4 after a rolling bounce; instance ids I0, I1, I2 keep the
        // assignment of before.
        let partitions = counts(&[("t0", 3), ("t1", 3)]);
        let member = |id: &str, instance: &str| MemberSubscription {
            group_instance_id: Some(instance.into()),
            ..MemberSubscription::new(id, ["t0", "t1"])
        };
        let members = [member("C5", "I0"), member("C3", "I1"), member("C4", "I2")];
        let out = RoundRobinAssignor.assign(&partitions, &members);
        assert_eq!(out.partitions("C5"), &[tp("t0", 0), tp("t1", 0)]);
        assert_eq!(out.partitions("C3"), &[tp("t0", 1), tp("t1", 1)]);
        assert_eq!(out.partitions("C4"), &[tp("t0", 2), tp("t1", 2)]);

        // The dynamic members of the same example are shuffled by member id.
        let dynamic = [
            MemberSubscription::new("C5", ["t0", "t1"]),
            MemberSubscription::new("C3", ["t0", "t1"]),
            MemberSubscription::new("C4", ["t0", "t1"]),
        ];
        let out = RoundRobinAssignor.assign(&partitions, &dynamic);
        assert_eq!(out.partitions("C3"), &[tp("t0", 0), tp("t1", 0)]);
        assert_eq!(out.partitions("C4"), &[tp("t0", 1), tp("t1", 1)]);
        assert_eq!(out.partitions("C5"), &[tp("t0", 2), tp("t1", 2)]);
    }

    #[test]
    fn java_sticky_doc_example_one_round_robin_part() {
        // StickyAssignor's javadoc gives this round robin result for 3 consumers, 4 topics.
        let partitions = counts(&[("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)]);
        let all = ["t0", "t1", "t2", "t3"];
        let members = [
            MemberSubscription::new("C0", all),
            MemberSubscription::new("C1", all),
            MemberSubscription::new("C2", all),
        ];
        let out = RoundRobinAssignor.assign(&partitions, &members);
        assert_eq!(
            out.partitions("C0"),
            &[tp("t0", 0), tp("t1", 1), tp("t3", 0)]
        );
        assert_eq!(
            out.partitions("C1"),
            &[tp("t0", 1), tp("t2", 0), tp("t3", 1)]
        );
        assert_eq!(out.partitions("C2"), &[tp("t1", 0), tp("t2", 1)]);
    }

    #[test]
    fn topics_without_metadata_are_skipped() {
        let partitions = counts(&[("t", 1)]);
        let members = [MemberSubscription::new("a", ["t", "gone"])];
        let out = RoundRobinAssignor.assign(&partitions, &members);
        assert_eq!(out.partitions("a"), &[tp("t", 0)]);
        assert!(RoundRobinAssignor
            .assign(&partitions, &[])
            .assignments
            .is_empty());
    }
}
