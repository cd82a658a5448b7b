//! [`RangeAssignor`]: contiguous ranges of each topic's partitions (Java's `RangeAssignor`).

use std::collections::BTreeMap;

use crate::TopicPartition;

use super::member::{static_member_cmp, unique};
use super::{Assignor, GroupAssignment, MemberSubscription};

/// The `"range"` strategy, the Java client's default.
///
/// Topic by topic, the subscribed members are ordered (static members first by
/// `group.instance.id`, then the rest by member id) and the partitions, in numeric order, are
/// split into contiguous ranges; when they do not divide evenly, the first members get one
/// extra partition each.
///
/// Java's rack-aware range assignment needs partition replica racks, which this interface
/// does not carry; assignments here are the Java client's when no rack is involved.
///
/// # Examples
/// The example from the Java documentation: two consumers, two topics of three partitions.
/// ```
/// use std::collections::BTreeMap;
/// use kafka_sync::consumer::assignor::{Assignor, MemberSubscription, RangeAssignor, TopicPartition};
///
/// let partitions = BTreeMap::from([("t0".to_string(), 3), ("t1".to_string(), 3)]);
/// let members = [
///     MemberSubscription::new("C0", ["t0", "t1"]),
///     MemberSubscription::new("C1", ["t0", "t1"]),
/// ];
/// let out = RangeAssignor.assign(&partitions, &members);
/// let tp = |t: &str, p| TopicPartition::new(t, p);
/// assert_eq!(out.partitions("C0"), &[tp("t0", 0), tp("t0", 1), tp("t1", 0), tp("t1", 1)]);
/// assert_eq!(out.partitions("C1"), &[tp("t0", 2), tp("t1", 2)]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeAssignor;

impl Assignor for RangeAssignor {
    fn name(&self) -> &'static str {
        "range"
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
    ) -> GroupAssignment {
        let members = unique(members);
        let mut out = GroupAssignment::empty_for(members.iter().map(|m| m.member_id.as_str()));

        let mut subscribers: BTreeMap<&str, Vec<&MemberSubscription>> = BTreeMap::new();
        for member in &members {
            for topic in &member.topics {
                let list = subscribers.entry(topic).or_default();
                if !list.iter().any(|m| m.member_id == member.member_id) {
                    list.push(member);
                }
            }
        }

        for (topic, mut subs) in subscribers {
            let count = match partitions_per_topic.get(topic) {
                Some(&n) if n > 0 => n,
                _ => continue,
            };
            subs.sort_by(|a, b| static_member_cmp(a, b));
            let per_member = count / subs.len() as i32;
            let with_extra = count % subs.len() as i32;
            let mut next = 0;
            for (i, member) in subs.iter().enumerate() {
                let take = per_member + i32::from((i as i32) < with_extra);
                let list = out.assignments.entry(member.member_id.clone()).or_default();
                list.extend((next..next + take).map(|p| TopicPartition::new(topic, p)));
                next += take;
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

    fn static_member(member_id: &str, instance: &str, topics: &[&str]) -> MemberSubscription {
        MemberSubscription {
            group_instance_id: Some(instance.to_string()),
            ..MemberSubscription::new(member_id, topics.iter().copied())
        }
    }

    #[test]
    fn java_doc_example_with_static_members_survives_new_member_ids() {
        // After a rolling bounce C0 -> C3 and C1 -> C2; instance ids keep the order.
        let partitions = counts(&[("t0", 3), ("t1", 3)]);
        let members = [
            static_member("C3", "I0", &["t0", "t1"]),
            static_member("C2", "I1", &["t0", "t1"]),
        ];
        let out = RangeAssignor.assign(&partitions, &members);
        assert_eq!(
            out.partitions("C3"),
            &[tp("t0", 0), tp("t0", 1), tp("t1", 0), tp("t1", 1)]
        );
        assert_eq!(out.partitions("C2"), &[tp("t0", 2), tp("t1", 2)]);

        // Without instance ids the member ids decide, and the ranges swap.
        let dynamic = [
            MemberSubscription::new("C3", ["t0", "t1"]),
            MemberSubscription::new("C2", ["t0", "t1"]),
        ];
        let out = RangeAssignor.assign(&partitions, &dynamic);
        assert_eq!(out.partitions("C3"), &[tp("t0", 2), tp("t1", 2)]);
    }

    #[test]
    fn only_subscribers_share_a_topic() {
        let partitions = counts(&[("t0", 5), ("t1", 2), ("unsubscribed", 4)]);
        let members = [
            MemberSubscription::new("a", ["t0"]),
            MemberSubscription::new("b", ["t0", "t1", "missing"]),
            MemberSubscription::new("c", Vec::<String>::new()),
        ];
        let out = RangeAssignor.assign(&partitions, &members);
        assert_eq!(
            out.partitions("a"),
            &[tp("t0", 0), tp("t0", 1), tp("t0", 2)]
        );
        assert_eq!(
            out.partitions("b"),
            &[tp("t0", 3), tp("t0", 4), tp("t1", 0), tp("t1", 1)]
        );
        assert!(out.partitions("c").is_empty());
        assert_eq!(out.assignments.len(), 3);
    }

    #[test]
    fn more_members_than_partitions_leaves_the_last_empty() {
        let partitions = counts(&[("t", 2)]);
        let members: Vec<_> = ["m2", "m0", "m1"]
            .iter()
            .map(|id| MemberSubscription::new(*id, ["t"]))
            .collect();
        let out = RangeAssignor.assign(&partitions, &members);
        assert_eq!(out.partitions("m0"), &[tp("t", 0)]);
        assert_eq!(out.partitions("m1"), &[tp("t", 1)]);
        assert!(out.partitions("m2").is_empty());
    }

    #[test]
    fn no_members_no_assignment() {
        let out = RangeAssignor.assign(&counts(&[("t", 3)]), &[]);
        assert!(out.assignments.is_empty());
    }
}
