//! The sticky assignment when members subscribe to different topics (the general path of
//! Java's `AbstractStickyAssignor`).
//!
//! 1. Every member keeps the partitions it owns (see [`Ownership`]).
//! 2. The other partitions go, topic by topic starting with the topics fewest members
//!    subscribe to, each to the subscribed member holding the fewest partitions (on a tie,
//!    the one able to consume the fewest partitions overall).
//! 3. While some member holds a partition that a member with at least two fewer partitions
//!    subscribes to, the partition moves to the lighter member. Moves of partitions the
//!    holder did not own before this rebalance come first, heaviest and lightest pair
//!    first, preferring a partition the light member owned in an earlier generation; only
//!    when no such move remains does an owned partition move.
//!
//! Every move lowers the sum of squared member loads, so step 3 ends, and when it does the
//! assignment is balanced in the sense the Java client uses: no partition can move to a
//! subscribed member with two or more fewer partitions than its holder.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use crate::TopicPartition;

use super::ownership::{Ownership, StickyGroup};

/// Assigns every partition of `group` that some member subscribes to, keeping `ownership`
/// as far as balance allows. Returns each member's partitions (sorted), indexed like
/// `group.members`.
pub(super) fn assign(group: &StickyGroup<'_>, ownership: &Ownership) -> Vec<Vec<TopicPartition>> {
    let mut state = State::new(group, ownership);
    state.assign_unowned();
    state.rebalance();
    state
        .held
        .into_iter()
        .map(|set| set.into_iter().collect())
        .collect()
}

struct State<'g, 'a> {
    group: &'g StickyGroup<'a>,
    ownership: &'g Ownership,
    /// Who kept each partition from the previous assignment.
    kept_by: HashMap<&'g TopicPartition, usize>,
    /// Per member: the partitions it holds now.
    held: Vec<BTreeSet<TopicPartition>>,
    /// Per member and topic: how many of its partitions it did not own before, which can
    /// move without revoking anything.
    fresh: Vec<HashMap<&'a str, usize>>,
}

impl<'g, 'a> State<'g, 'a> {
    fn new(group: &'g StickyGroup<'a>, ownership: &'g Ownership) -> Self {
        let n = group.members.len();
        let mut held = vec![BTreeSet::new(); n];
        let mut kept_by = HashMap::new();
        for (m, owned) in ownership.owned.iter().enumerate().take(n) {
            for tp in owned {
                held[m].insert(tp.clone());
                kept_by.insert(tp, m);
            }
        }
        State {
            group,
            ownership,
            kept_by,
            held,
            fresh: vec![HashMap::new(); n],
        }
    }

    fn load(&self, m: usize) -> usize {
        self.held[m].len()
    }

    /// The topic key as `group.topics` holds it, for the fresh counts.
    fn topic_key(&self, topic: &str) -> &'a str {
        self.group
            .topics
            .get_key_value(topic)
            .map(|(&t, _)| t)
            .unwrap_or_default()
    }

    fn give(&mut self, m: usize, tp: TopicPartition) {
        if self.kept_by.get(&tp) != Some(&m) {
            let topic = self.topic_key(&tp.topic);
            *self.fresh[m].entry(topic).or_default() += 1;
        }
        self.held[m].insert(tp);
    }

    fn take(&mut self, m: usize, tp: &TopicPartition) {
        if self.held[m].remove(tp) && self.kept_by.get(tp) != Some(&m) {
            if let Some(count) = self.fresh[m].get_mut(tp.topic.as_str()) {
                *count -= 1;
            }
        }
    }

    /// Step 2: every partition nobody keeps goes to the least loaded subscribed member;
    /// among equally loaded ones, to the one that could consume the fewest partitions,
    /// keeping the more flexible members free for the topics only they can take.
    fn assign_unowned(&mut self) {
        let group = self.group;
        let capacity: Vec<i64> = group
            .subscriptions
            .iter()
            .map(|topics| topics.iter().map(|t| i64::from(group.topics[t])).sum())
            .collect();
        let mut candidates: HashMap<&str, Vec<usize>> = HashMap::new();
        for (m, topics) in group.subscriptions.iter().enumerate() {
            for &topic in topics {
                candidates.entry(topic).or_default().push(m);
            }
        }
        let mut topics: Vec<(&str, i32)> = group.topics.iter().map(|(&t, &n)| (t, n)).collect();
        topics.sort_by_key(|&(t, _)| (candidates.get(t).map_or(0, Vec::len), t));

        for (topic, count) in topics {
            let Some(members) = candidates.get(topic) else {
                continue;
            };
            let mut heap: BinaryHeap<Reverse<(usize, i64, usize)>> = members
                .iter()
                .map(|&m| Reverse((self.load(m), capacity[m], m)))
                .collect();
            for partition in 0..count {
                let tp = TopicPartition::new(topic, partition);
                if self.kept_by.contains_key(&tp) {
                    continue;
                }
                let Some(Reverse((load, cap, m))) = heap.pop() else {
                    break;
                };
                self.give(m, tp);
                heap.push(Reverse((load + 1, cap, m)));
            }
        }
    }

    /// Step 3: move partitions from heavy to light members until no move improves balance,
    /// moving partitions nobody owned before whenever any such move helps.
    fn rebalance(&mut self) {
        let n = self.held.len();
        'moves: loop {
            let mut by_load: Vec<usize> = (0..n).collect();
            by_load.sort_by_key(|&m| (self.load(m), m));
            for fresh_only in [true, false] {
                for &heavy in by_load.iter().rev() {
                    if self.load(by_load[0]) + 1 >= self.load(heavy) {
                        break;
                    }
                    for &light in &by_load {
                        if self.load(light) + 1 >= self.load(heavy) {
                            break;
                        }
                        if let Some(tp) = self.pick(heavy, light, fresh_only) {
                            self.take(heavy, &tp);
                            self.give(light, tp);
                            continue 'moves;
                        }
                    }
                }
            }
            return;
        }
    }

    /// The partition of `heavy` best moved to `light`, if `light` subscribes to any of
    /// them: one `heavy` did not own before, preferably one `light` owned in an earlier
    /// generation; unless `fresh_only`, then one `heavy` owned.
    fn pick(&self, heavy: usize, light: usize, fresh_only: bool) -> Option<TopicPartition> {
        let topics = &self.group.subscriptions[light];
        if fresh_only
            && !topics
                .iter()
                .any(|t| self.fresh[heavy].get(t).is_some_and(|&c| c > 0))
        {
            return None;
        }
        let mut best: Option<((bool, bool), &TopicPartition)> = None;
        for tp in self.held[heavy]
            .iter()
            .filter(|tp| topics.contains(tp.topic.as_str()))
        {
            let heavy_owned = self.kept_by.get(tp) == Some(&heavy);
            if fresh_only && heavy_owned {
                continue;
            }
            let light_owned_earlier = self.kept_by.get(tp) == Some(&light)
                || self.ownership.previous.get(tp) == Some(&light);
            let rank = (heavy_owned, !light_owned_earlier);
            if best.is_none_or(|(r, _)| rank < r) {
                best = Some((rank, tp));
                if rank == (false, false) {
                    break;
                }
            }
        }
        best.map(|(_, tp)| tp.clone())
    }
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
        members: &[(&str, &[&str], Vec<TopicPartition>)],
    ) -> Vec<Vec<TopicPartition>> {
        let partitions: BTreeMap<String, i32> = partitions
            .iter()
            .map(|&(t, n)| (t.to_string(), n))
            .collect();
        let subs: Vec<MemberSubscription> = members
            .iter()
            .map(|(id, topics, _)| MemberSubscription::new(*id, topics.iter().copied()))
            .collect();
        let group = StickyGroup::new(&partitions, &subs);
        let claims: Vec<Claim> = members
            .iter()
            .map(|(_, _, owned)| Claim {
                partitions: owned.clone(),
                generation: Some(1),
            })
            .collect();
        assign(&group, &resolve(&group, &claims))
    }

    #[test]
    fn java_doc_example_two() {
        // StickyAssignor's javadoc example 2: C0 {t0}, C1 {t0, t1}, C2 {t0, t1, t2}.
        let parts = [("t0", 1), ("t1", 2), ("t2", 3)];
        let out = run(
            &parts,
            &[
                ("C0", &["t0"], vec![]),
                ("C1", &["t0", "t1"], vec![]),
                ("C2", &["t0", "t1", "t2"], vec![]),
            ],
        );
        assert_eq!(out[0], vec![tp("t0", 0)]);
        assert_eq!(out[1], vec![tp("t1", 0), tp("t1", 1)]);
        assert_eq!(out[2], vec![tp("t2", 0), tp("t2", 1), tp("t2", 2)]);

        // C0 leaves: C1 and C2 keep theirs, and t0p0 goes to the lighter C1.
        let out = run(
            &parts,
            &[
                ("C1", &["t0", "t1"], out[1].clone()),
                ("C2", &["t0", "t1", "t2"], out[2].clone()),
            ],
        );
        assert_eq!(out[0], vec![tp("t0", 0), tp("t1", 0), tp("t1", 1)]);
        assert_eq!(out[1], vec![tp("t2", 0), tp("t2", 1), tp("t2", 2)]);
    }

    #[test]
    fn a_joining_member_takes_partitions_it_can_consume() {
        // a owns everything; b joins subscribing only to t1.
        let owned: Vec<TopicPartition> = (0..4).flat_map(|p| [tp("t0", p), tp("t1", p)]).collect();
        let out = run(
            &[("t0", 4), ("t1", 4)],
            &[("a", &["t0", "t1"], owned), ("b", &["t1"], vec![])],
        );
        assert_eq!(out[0].len(), 4);
        assert_eq!(out[1].len(), 4);
        assert!(out[1].iter().all(|tp| tp.topic == "t1"));
        assert!(out[0].iter().all(|tp| tp.topic == "t0"));
    }

    #[test]
    fn fresh_partitions_move_before_owned_ones() {
        // a owns t-0..t-2; t-3..t-5 are new. b joins. a should keep everything it owned.
        let out = run(
            &[("t", 6), ("u", 1)],
            &[
                ("a", &["t", "u"], vec![tp("t", 0), tp("t", 1), tp("t", 2)]),
                ("b", &["t"], vec![]),
            ],
        );
        assert!(out[0].starts_with(&[tp("t", 0), tp("t", 1), tp("t", 2)]));
        assert_eq!(out[0].len() + out[1].len(), 7);
        assert!(out[0].len().abs_diff(out[1].len()) <= 1);
    }

    #[test]
    fn moves_prefer_fresh_partitions_then_returning_ones() {
        let partitions = BTreeMap::from([("t".to_string(), 5), ("u".to_string(), 1)]);
        let subs = [
            MemberSubscription::new("a", ["t", "u"]),
            MemberSubscription::new("b", ["t"]),
        ];
        let group = StickyGroup::new(&partitions, &subs);
        let claims = [
            Claim {
                partitions: vec![tp("t", 0), tp("t", 1), tp("t", 4)],
                generation: Some(2),
            },
            Claim {
                partitions: vec![tp("t", 4)],
                generation: Some(1),
            },
        ];
        let ownership = resolve(&group, &claims);
        let mut state = State::new(&group, &ownership);
        state.give(0, tp("t", 2));
        state.give(0, tp("u", 0));
        // a holds t-0, t-1, t-4 (owned) and t-2 (fresh): the fresh one goes first.
        assert_eq!(state.pick(0, 1, true), Some(tp("t", 2)));
        assert_eq!(state.pick(0, 1, false), Some(tp("t", 2)));
        state.take(0, &tp("t", 2));
        state.give(1, tp("t", 2));
        // Only owned ones left: none when fresh only; else t-4, which b owned before.
        assert_eq!(state.pick(0, 1, true), None);
        assert_eq!(state.pick(0, 1, false), Some(tp("t", 4)));
        // Among fresh partitions, one going back to the member that kept it comes first.
        let mut back = State::new(&group, &ownership);
        back.take(0, &tp("t", 4));
        back.give(1, tp("t", 4));
        back.give(1, tp("t", 2));
        assert_eq!(back.pick(1, 0, false), Some(tp("t", 4)));
    }

    #[test]
    fn fresh_partitions_go_to_the_least_flexible_member_on_a_tie() {
        // m8 (t0 only) left; m0 is the only member besides m1 and m4 able to take t1. Its
        // freed partitions must not land on m0, or m0 would have to give up t1-6.
        let members: [(&str, &[&str], Vec<TopicPartition>); 5] = [
            (
                "m0",
                &["t0", "t1"],
                vec![tp("t0", 0), tp("t0", 4), tp("t0", 8), tp("t1", 6)],
            ),
            ("m1", &["t1"], vec![tp("t1", 0), tp("t1", 2), tp("t1", 4)]),
            ("m4", &["t1"], vec![tp("t1", 1), tp("t1", 3), tp("t1", 5)]),
            ("m5", &["t0"], vec![tp("t0", 1), tp("t0", 5), tp("t0", 9)]),
            ("m7", &["t0"], vec![tp("t0", 2), tp("t0", 6), tp("t0", 10)]),
        ];
        let out = run(&[("t0", 12), ("t1", 7)], &members);
        for (i, (id, _, owned)) in members.iter().enumerate() {
            assert!(
                owned.iter().all(|tp| out[i].contains(tp)),
                "{id} lost some of {owned:?}"
            );
        }
        assert_eq!(out.iter().map(Vec::len).sum::<usize>(), 19);
    }

    #[test]
    fn unsubscribed_members_get_nothing_of_a_topic() {
        let out = run(
            &[("t", 3), ("u", 3)],
            &[("a", &["t"], vec![tp("u", 0)]), ("b", &["u"], vec![])],
        );
        assert_eq!(out[0], vec![tp("t", 0), tp("t", 1), tp("t", 2)]);
        assert_eq!(out[1], vec![tp("u", 0), tp("u", 1), tp("u", 2)]);
    }
}
