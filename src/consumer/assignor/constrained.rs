//! The sticky assignment when every member subscribes to the same topics (the "constrained"
//! fast path of Java's `AbstractStickyAssignor`).
//!
//! With `P` partitions and `N` members each member gets `⌊P/N⌋` (the minimum quota) or
//! `⌈P/N⌉` (the maximum quota) partitions, and exactly `P mod N` members get the maximum.
//!
//! 1. Each member, in member id order, keeps its owned partitions up to its quota: all of
//!    them if it owns fewer than the minimum; the maximum if it owns at least that many and
//!    members at the maximum are still wanted; the minimum otherwise.
//! 2. The remaining partitions, sorted by topic then partition, are dealt round robin to the
//!    members below the minimum quota, then one each to members at the minimum while members
//!    at the maximum are still wanted.

use std::collections::{HashSet, VecDeque};

use crate::TopicPartition;

use super::ownership::{Ownership, StickyGroup};

/// Assigns every partition of `group`, keeping `ownership` where the quotas allow. Returns
/// each member's partitions, indexed like `group.members`.
pub(super) fn assign(group: &StickyGroup<'_>, ownership: &Ownership) -> Vec<Vec<TopicPartition>> {
    let n = group.members.len();
    let mut assignment: Vec<Vec<TopicPartition>> = vec![Vec::new(); n];
    if n == 0 {
        return assignment;
    }
    let total: usize = group.topics.values().map(|&c| c as usize).sum();
    let min_quota = total / n;
    let max_quota = total.div_ceil(n);
    let wanted_at_max = total % n;
    let mut at_max = 0;

    // Members below the minimum quota, and members at the minimum that may take one more.
    let mut below_min: Vec<usize> = Vec::new();
    let mut at_min: VecDeque<usize> = VecDeque::new();
    let mut assigned: HashSet<&TopicPartition> = HashSet::new();

    for (m, kept) in assignment.iter_mut().enumerate() {
        // Prefer low partition numbers across topics, as Java does, to spread topics.
        let mut owned: Vec<&TopicPartition> = ownership.owned[m].iter().collect();
        owned.sort_by(|a, b| (a.partition, &a.topic).cmp(&(b.partition, &b.topic)));
        let keep = if owned.len() < min_quota {
            below_min.push(m);
            owned.len()
        } else if owned.len() >= max_quota && at_max < wanted_at_max {
            at_max += 1;
            if at_max == wanted_at_max {
                at_min.clear();
            }
            max_quota
        } else {
            if at_max < wanted_at_max {
                at_min.push_back(m);
            }
            min_quota
        };
        for tp in &owned[..keep] {
            kept.push((*tp).clone());
            assigned.insert(tp);
        }
    }

    let mut cursor = 0;
    for tp in group.all_partitions() {
        if assigned.contains(&tp) {
            continue;
        }
        let (m, from_below) = if !below_min.is_empty() {
            if cursor >= below_min.len() {
                cursor = 0;
            }
            cursor += 1;
            (below_min[cursor - 1], true)
        } else if let Some(m) = at_min.pop_front() {
            (m, false)
        } else {
            // The quotas account for every partition, so this is unreachable; stay total
            // rather than panic, giving the partition to the least loaded member.
            let m = (0..n).min_by_key(|&m| assignment[m].len()).unwrap_or(0);
            (m, false)
        };
        assignment[m].push(tp);
        // A member reaching the minimum may still take one more, once all are there.
        if from_below && assignment[m].len() == min_quota {
            cursor -= 1;
            below_min.remove(cursor);
            at_min.push_back(m);
        }
    }
    assignment
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::ownership::{resolve, Claim};
    use super::super::MemberSubscription;
    use super::*;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }

    fn run(
        partitions: &[(&str, i32)],
        members: &[(&str, Vec<TopicPartition>)],
    ) -> Vec<Vec<TopicPartition>> {
        let partitions: BTreeMap<String, i32> = partitions
            .iter()
            .map(|&(t, n)| (t.to_string(), n))
            .collect();
        let topics: Vec<String> = partitions.keys().cloned().collect();
        let subs: Vec<MemberSubscription> = members
            .iter()
            .map(|(id, _)| MemberSubscription::new(*id, topics.clone()))
            .collect();
        let group = StickyGroup::new(&partitions, &subs);
        let claims: Vec<Claim> = members
            .iter()
            .map(|(_, owned)| Claim {
                partitions: owned.clone(),
                generation: Some(1),
            })
            .collect();
        assign(&group, &resolve(&group, &claims))
    }

    #[test]
    fn fresh_group_matches_round_robin() {
        // StickyAssignor's javadoc example 1: the same as round robin.
        let out = run(
            &[("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)],
            &[("C0", vec![]), ("C1", vec![]), ("C2", vec![])],
        );
        assert_eq!(out[0], vec![tp("t0", 0), tp("t1", 1), tp("t3", 0)]);
        assert_eq!(out[1], vec![tp("t0", 1), tp("t2", 0), tp("t3", 1)]);
        assert_eq!(out[2], vec![tp("t1", 0), tp("t2", 1)]);
    }

    #[test]
    fn removing_a_member_keeps_the_others_partitions() {
        // Example 1 again after C1 leaves: C0 and C2 keep all they had.
        let out = run(
            &[("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)],
            &[
                ("C0", vec![tp("t0", 0), tp("t1", 1), tp("t3", 0)]),
                ("C2", vec![tp("t1", 0), tp("t2", 1)]),
            ],
        );
        assert_eq!(out[0].len(), 4);
        assert_eq!(out[1].len(), 4);
        assert!(out[0].starts_with(&[tp("t0", 0), tp("t3", 0), tp("t1", 1)]));
        assert!(out[1].starts_with(&[tp("t1", 0), tp("t2", 1)]));
    }

    #[test]
    fn a_new_member_takes_from_the_overloaded() {
        let owned: Vec<TopicPartition> = (0..6).map(|p| tp("t", p)).collect();
        let out = run(&[("t", 6)], &[("a", owned), ("b", vec![]), ("c", vec![])]);
        assert_eq!(out[0], vec![tp("t", 0), tp("t", 1)]);
        assert_eq!(out[1], vec![tp("t", 2), tp("t", 4)]);
        assert_eq!(out[2], vec![tp("t", 3), tp("t", 5)]);
    }

    #[test]
    fn only_the_wanted_number_of_members_keep_the_maximum() {
        // 5 partitions, 2 members each owning 3 (an invalid earlier state): quotas 2 and 3,
        // one member at 3.
        let out = run(
            &[("t", 5)],
            &[
                ("a", vec![tp("t", 0), tp("t", 1), tp("t", 2)]),
                ("b", vec![tp("t", 2), tp("t", 3), tp("t", 4)]),
            ],
        );
        // t-2 is contested (same generation), so neither keeps it.
        assert_eq!(out[0], vec![tp("t", 0), tp("t", 1), tp("t", 2)]);
        assert_eq!(out[1], vec![tp("t", 3), tp("t", 4)]);
    }

    #[test]
    fn more_members_than_partitions() {
        let out = run(
            &[("t", 2)],
            &[
                ("a", vec![]),
                ("b", vec![tp("t", 1)]),
                ("c", vec![tp("t", 0)]),
            ],
        );
        assert!(out[0].is_empty());
        assert_eq!(out[1], vec![tp("t", 1)]);
        assert_eq!(out[2], vec![tp("t", 0)]);
    }
}
