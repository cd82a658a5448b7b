//! Who owns what going into a sticky rebalance: the group as the sticky algorithms see it,
//! and the members' ownership claims with conflicts settled by generation.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::TopicPartition;

use super::member::{java_cmp, unique};
use super::{MemberSubscription, DEFAULT_GENERATION};

/// The partitions one member says it owned, and the generation it owned them in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Claim {
    pub partitions: Vec<TopicPartition>,
    /// `None` when the member reported no generation at all.
    pub generation: Option<i32>,
}

/// The group, reduced to what the sticky algorithms need. Members are referred to by their
/// index in `members`, which is sorted by member id.
#[derive(Debug)]
pub(super) struct StickyGroup<'a> {
    /// Member ids, unique, in Java string order.
    pub members: Vec<&'a MemberSubscription>,
    /// Every topic someone subscribes to that has partitions, with its partition count.
    pub topics: BTreeMap<&'a str, i32>,
    /// Per member: its subscribed topics that are in `topics`.
    pub subscriptions: Vec<BTreeSet<&'a str>>,
}

impl<'a> StickyGroup<'a> {
    pub fn new(
        partitions_per_topic: &'a BTreeMap<String, i32>,
        members: &'a [MemberSubscription],
    ) -> Self {
        let mut members = unique(members);
        members.sort_by(|a, b| java_cmp(&a.member_id, &b.member_id));
        let subscriptions: Vec<BTreeSet<&str>> = members
            .iter()
            .map(|m| {
                m.topics
                    .iter()
                    .filter_map(|t| partitions_per_topic.get_key_value(t))
                    .filter(|(_, &n)| n > 0)
                    .map(|(t, _)| t.as_str())
                    .collect()
            })
            .collect();
        let topics = subscriptions
            .iter()
            .flatten()
            .map(|&t| (t, partitions_per_topic[t]))
            .collect();
        StickyGroup {
            members,
            topics,
            subscriptions,
        }
    }

    /// Whether every member subscribes to exactly the same assignable topics.
    pub fn all_subscriptions_equal(&self) -> bool {
        self.subscriptions.windows(2).all(|w| w[0] == w[1])
    }

    /// Whether `tp` exists and member `m` subscribes to its topic.
    pub fn can_own(&self, m: usize, tp: &TopicPartition) -> bool {
        self.subscriptions[m].contains(tp.topic.as_str())
            && self
                .topics
                .get(tp.topic.as_str())
                .is_some_and(|&n| (0..n).contains(&tp.partition))
    }

    /// Every assignable partition, sorted by topic then partition.
    pub fn all_partitions(&self) -> impl Iterator<Item = TopicPartition> + '_ {
        self.topics
            .iter()
            .flat_map(|(&t, &n)| (0..n).map(move |p| TopicPartition::new(t, p)))
    }
}

/// The members' claims after settling conflicts.
#[derive(Debug, Default)]
pub(super) struct Ownership {
    /// Per member: the claimed partitions it may keep, sorted. A claim only counts if the
    /// partition exists and the member still subscribes to its topic; of several members
    /// claiming one partition, the one with the highest generation keeps it.
    pub owned: Vec<Vec<TopicPartition>>,
    /// Partitions claimed by two or more members at the same, highest generation: none of
    /// them may keep it.
    pub contested: BTreeSet<TopicPartition>,
    /// For partitions a member kept over lower-generation claims: the best of those other
    /// claimants (highest generation, then lowest index), the partition's earlier owner.
    pub previous: HashMap<TopicPartition, usize>,
}

/// Settles `claims` (indexed like `group.members`).
pub(super) fn resolve(group: &StickyGroup<'_>, claims: &[Claim]) -> Ownership {
    // Every valid claim per partition: (generation, member).
    let mut claimants: BTreeMap<&TopicPartition, Vec<(i32, usize)>> = BTreeMap::new();
    for (m, claim) in claims.iter().enumerate() {
        let generation = claim.generation.unwrap_or(DEFAULT_GENERATION);
        let mut seen = HashSet::new();
        for tp in &claim.partitions {
            if group.can_own(m, tp) && seen.insert(tp) {
                claimants.entry(tp).or_default().push((generation, m));
            }
        }
    }

    let mut out = Ownership {
        owned: vec![Vec::new(); group.members.len()],
        ..Ownership::default()
    };
    for (tp, list) in claimants {
        let top = list
            .iter()
            .map(|&(g, _)| g)
            .max()
            .unwrap_or(DEFAULT_GENERATION);
        let mut winners = list.iter().filter(|&&(g, _)| g == top);
        match (winners.next(), winners.next()) {
            (Some(&(_, m)), None) => out.owned[m].push(tp.clone()),
            _ => {
                out.contested.insert(tp.clone());
                continue;
            }
        }
        // Highest generation first, then lowest index.
        let runner_up = list
            .iter()
            .filter(|&&(g, _)| g < top)
            .min_by_key(|&&(g, m)| (std::cmp::Reverse(g), m));
        if let Some(&(_, m)) = runner_up {
            out.previous.insert(tp.clone(), m);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }

    fn claim(partitions: &[TopicPartition], generation: Option<i32>) -> Claim {
        Claim {
            partitions: partitions.to_vec(),
            generation,
        }
    }

    #[test]
    fn group_keeps_only_assignable_topics_and_sorts_members() {
        let partitions = BTreeMap::from([
            ("t".to_string(), 2),
            ("empty".to_string(), 0),
            ("other".to_string(), 1),
        ]);
        let members = [
            MemberSubscription::new("b", ["t", "empty", "missing"]),
            MemberSubscription::new("a", ["t"]),
        ];
        let group = StickyGroup::new(&partitions, &members);
        assert_eq!(group.members[0].member_id, "a");
        assert_eq!(group.topics, BTreeMap::from([("t", 2)]));
        assert!(group.all_subscriptions_equal());
        assert!(group.can_own(0, &tp("t", 1)));
        assert!(!group.can_own(0, &tp("t", 2)));
        assert!(!group.can_own(0, &tp("other", 0)));
    }

    #[test]
    fn highest_generation_wins_and_ties_are_contested() {
        let partitions = BTreeMap::from([("t".to_string(), 4)]);
        let members = [
            MemberSubscription::new("a", ["t"]),
            MemberSubscription::new("b", ["t"]),
            MemberSubscription::new("c", ["t"]),
        ];
        let group = StickyGroup::new(&partitions, &members);
        let claims = [
            claim(&[tp("t", 0), tp("t", 1), tp("t", 3), tp("t", 3)], Some(5)),
            claim(&[tp("t", 0), tp("t", 2), tp("t", 9)], Some(3)),
            claim(&[tp("t", 1), tp("t", 2)], None),
        ];
        let own = resolve(&group, &claims);
        // t-0: a (5) over b (3); t-1: a (5) over c (none); t-2: b (3) over c (none);
        // t-3 claimed twice by a counts once; t-9 does not exist.
        assert_eq!(own.owned[0], vec![tp("t", 0), tp("t", 1), tp("t", 3)]);
        assert_eq!(own.owned[1], vec![tp("t", 2)]);
        assert!(own.owned[2].is_empty());
        assert!(own.contested.is_empty());
        assert_eq!(own.previous[&tp("t", 0)], 1);
        assert_eq!(own.previous[&tp("t", 1)], 2);
        assert_eq!(own.previous[&tp("t", 2)], 2);

        let tie = [
            claim(&[tp("t", 0)], Some(2)),
            claim(&[tp("t", 0)], Some(2)),
            claim(&[], None),
        ];
        let own = resolve(&group, &tie);
        assert!(own.owned.iter().all(Vec::is_empty));
        assert_eq!(own.contested, BTreeSet::from([tp("t", 0)]));
    }

    #[test]
    fn claims_on_unsubscribed_topics_do_not_count() {
        let partitions = BTreeMap::from([("t".to_string(), 1), ("u".to_string(), 1)]);
        let members = [
            MemberSubscription::new("a", ["t"]),
            MemberSubscription::new("b", ["u"]),
        ];
        let group = StickyGroup::new(&partitions, &members);
        assert!(!group.all_subscriptions_equal());
        let own = resolve(
            &group,
            &[claim(&[tp("u", 0)], Some(9)), claim(&[tp("u", 0)], Some(1))],
        );
        assert!(own.owned[0].is_empty());
        assert_eq!(own.owned[1], vec![tp("u", 0)]);
    }
}
