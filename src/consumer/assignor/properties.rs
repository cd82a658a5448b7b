//! Property tests over every assignor: random groups of 1–10 members, 1–5 topics of 1–20
//! partitions, random subscriptions.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::*;

#[derive(Debug, Clone)]
struct Group {
    partitions: BTreeMap<String, i32>,
    members: Vec<MemberSubscription>,
}

impl Group {
    fn all_same_topics(&self) -> bool {
        self.members.windows(2).all(|w| {
            let a: BTreeSet<&String> = w[0].topics.iter().collect();
            let b: BTreeSet<&String> = w[1].topics.iter().collect();
            a == b
        })
    }

    fn subscribers(&self, topic: &str) -> Vec<&MemberSubscription> {
        self.members
            .iter()
            .filter(|m| m.topics.iter().any(|t| t == topic))
            .collect()
    }

    /// Every partition some member subscribes to.
    fn subscribed_partitions(&self) -> BTreeSet<TopicPartition> {
        self.partitions
            .iter()
            .filter(|(t, _)| !self.subscribers(t).is_empty())
            .flat_map(|(t, &n)| (0..n).map(move |p| TopicPartition::new(t.as_str(), p)))
            .collect()
    }
}

/// Members subscribe to random non-empty sets of topics, or all to the same set when
/// `same` is drawn. Some topics may have no subscriber.
fn group() -> impl Strategy<Value = Group> {
    (1usize..=5)
        .prop_flat_map(|topics| {
            (
                proptest::collection::vec(1i32..=20, topics),
                proptest::collection::vec(1u32..(1 << topics), 1..=10),
                any::<bool>(),
            )
        })
        .prop_map(|(counts, mut masks, same)| {
            if same {
                let first = masks[0];
                masks.iter_mut().for_each(|m| *m = first);
            }
            let partitions = counts
                .iter()
                .enumerate()
                .map(|(i, &n)| (format!("t{i}"), n))
                .collect();
            let members = masks
                .iter()
                .enumerate()
                .map(|(i, &mask)| {
                    let topics = (0..counts.len())
                        .filter(|t| mask & (1 << t) != 0)
                        .map(|t| format!("t{t}"));
                    // Ids out of order, so assignors must sort them.
                    MemberSubscription::new(format!("m{}", (i * 7) % 10), topics)
                })
                .collect::<Vec<_>>();
            Group {
                partitions,
                members: dedup_ids(members),
            }
        })
}

fn dedup_ids(members: Vec<MemberSubscription>) -> Vec<MemberSubscription> {
    let mut seen = BTreeSet::new();
    members
        .into_iter()
        .filter(|m| seen.insert(m.member_id.clone()))
        .collect()
}

fn owner_map(out: &GroupAssignment) -> Result<BTreeMap<TopicPartition, &str>, TestCaseError> {
    let mut owners = BTreeMap::new();
    for (member, partitions) in &out.assignments {
        for tp in partitions {
            let previous = owners.insert(tp.clone(), member.as_str());
            prop_assert!(
                previous.is_none(),
                "{tp} given to {previous:?} and {member}"
            );
        }
    }
    Ok(owners)
}

/// No partition twice, only to subscribers, every member listed; returns the owners.
fn check_valid<'a>(
    g: &Group,
    out: &'a GroupAssignment,
) -> Result<BTreeMap<TopicPartition, &'a str>, TestCaseError> {
    let ids: BTreeSet<&str> = g.members.iter().map(|m| m.member_id.as_str()).collect();
    let listed: BTreeSet<&str> = out.assignments.keys().map(String::as_str).collect();
    prop_assert_eq!(listed, ids);
    let owners = owner_map(out)?;
    for (tp, member) in &owners {
        let sub = g.members.iter().find(|m| m.member_id == *member).unwrap();
        prop_assert!(
            sub.subscribes_to(&tp.topic),
            "{tp} given to unsubscribed {member}"
        );
        prop_assert!((0..g.partitions[&tp.topic]).contains(&tp.partition));
    }
    Ok(owners)
}

/// Valid, and every subscribed partition assigned.
fn check_complete(g: &Group, out: &GroupAssignment) -> Result<(), TestCaseError> {
    let owners = check_valid(g, out)?;
    let assigned: BTreeSet<TopicPartition> = owners.into_keys().collect();
    prop_assert_eq!(assigned, g.subscribed_partitions());
    Ok(())
}

/// Each member's partitions as a set, ignoring list order.
fn sorted(out: &GroupAssignment) -> BTreeMap<&str, BTreeSet<&TopicPartition>> {
    out.assignments
        .iter()
        .map(|(m, partitions)| (m.as_str(), partitions.iter().collect()))
        .collect()
}

fn load(out: &GroupAssignment, member: &str) -> usize {
    out.partitions(member).len()
}

/// Java's notion of balance: no partition could move to a subscribed member holding two
/// or more fewer partitions than its holder. With identical subscriptions this means the
/// counts differ by at most one.
fn check_balanced(g: &Group, out: &GroupAssignment) -> Result<(), TestCaseError> {
    for (holder, partitions) in &out.assignments {
        for tp in partitions {
            for other in g.subscribers(&tp.topic) {
                prop_assert!(
                    load(out, &other.member_id) + 1 >= load(out, holder),
                    "{tp} could move from {holder} to {}: {out:?}",
                    other.member_id
                );
            }
        }
    }
    if g.all_same_topics() {
        let loads: Vec<usize> = g.members.iter().map(|m| load(out, &m.member_id)).collect();
        let (min, max) = (loads.iter().min().unwrap(), loads.iter().max().unwrap());
        prop_assert!(max - min <= 1, "loads {loads:?}");
    }
    Ok(())
}

fn check_deterministic(assignor: &dyn Assignor, g: &Group) -> Result<(), TestCaseError> {
    let out = assignor.assign(&g.partitions, &g.members);
    let mut reversed = g.members.clone();
    reversed.reverse();
    prop_assert_eq!(&assignor.assign(&g.partitions, &reversed), &out);
    Ok(())
}

/// Each member as it rejoins after `out` in `generation`: owning what it was given, and
/// reporting it the way `strategy` members do.
fn rejoin(
    g: &Group,
    out: &GroupAssignment,
    strategy: &str,
    generation: i32,
) -> Vec<MemberSubscription> {
    g.members
        .iter()
        .map(|m| {
            let mut assignor = assignor_for(strategy).unwrap();
            let owned = out.partitions(&m.member_id).to_vec();
            assignor.on_assignment(&owned, generation);
            let eager = strategy != "cooperative-sticky";
            MemberSubscription {
                user_data: assignor.subscription_user_data(&m.topics),
                // Eager members give everything up before rejoining.
                owned_partitions: if eager { vec![] } else { owned },
                generation_id: generation,
                ..m.clone()
            }
        })
        .collect()
}

proptest! {
    #[test]
    fn range_assigns_contiguous_balanced_ranges(g in group()) {
        let out = RangeAssignor.assign(&g.partitions, &g.members);
        check_complete(&g, &out)?;
        check_deterministic(&RangeAssignor, &g)?;
        for topic in g.partitions.keys() {
            let mut subs = g.subscribers(topic);
            subs.sort_by(|a, b| a.member_id.cmp(&b.member_id));
            let counts: Vec<usize> = subs
                .iter()
                .map(|m| out.partitions(&m.member_id).iter().filter(|tp| tp.topic == *topic).count())
                .collect();
            // Non-increasing in member order, differing by at most one.
            prop_assert!(counts.windows(2).all(|w| w[0] >= w[1] && w[0] - w[1] <= 1), "{counts:?}");
        }
    }

    #[test]
    fn round_robin_assigns_everything_evenly(g in group()) {
        let out = RoundRobinAssignor.assign(&g.partitions, &g.members);
        check_complete(&g, &out)?;
        check_deterministic(&RoundRobinAssignor, &g)?;
        if g.all_same_topics() {
            check_balanced(&g, &out)?;
        }
    }

    #[test]
    fn sticky_is_complete_balanced_and_deterministic(g in group()) {
        let assignor = StickyAssignor::default();
        let out = assignor.assign(&g.partitions, &g.members);
        check_complete(&g, &out)?;
        check_balanced(&g, &out)?;
        check_deterministic(&assignor, &g)?;
    }

    #[test]
    fn sticky_keeps_partitions_when_a_member_leaves(g in group(), leaving in any::<prop::sample::Index>()) {
        let assignor = StickyAssignor::default();
        let first = assignor.assign(&g.partitions, &g.members);
        let mut rejoined = rejoin(&g, &first, "sticky", 1);
        if rejoined.len() > 1 {
            rejoined.remove(leaving.index(rejoined.len()));
        }
        let g2 = Group { partitions: g.partitions.clone(), members: rejoined };
        let second = assignor.assign(&g2.partitions, &g2.members);
        check_complete(&g2, &second)?;
        check_balanced(&g2, &second)?;
        if g.all_same_topics() {
            for m in &g2.members {
                for tp in first.partitions(&m.member_id) {
                    prop_assert!(
                        second.partitions(&m.member_id).contains(tp),
                        "{} lost {tp}: {first:?} -> {second:?}", m.member_id
                    );
                }
            }
        }
    }

    #[test]
    fn sticky_without_changes_moves_nothing(g in group()) {
        let assignor = StickyAssignor::default();
        let first = assignor.assign(&g.partitions, &g.members);
        let g2 = Group { partitions: g.partitions.clone(), members: rejoin(&g, &first, "sticky", 1) };
        let second = assignor.assign(&g2.partitions, &g2.members);
        prop_assert_eq!(sorted(&second), sorted(&first));
    }

    #[test]
    fn cooperative_moves_partitions_over_two_rounds(
        g in group(),
        leaving in any::<prop::sample::Index>(),
        joining_topics in 1u32..32,
    ) {
        let assignor = CooperativeStickyAssignor::default();
        // Round 0: nobody owns anything, so everything is assigned.
        let first = assignor.assign(&g.partitions, &g.members);
        check_complete(&g, &first)?;
        check_balanced(&g, &first)?;
        check_deterministic(&assignor, &g)?;

        // Round 1: one member leaves, another joins.
        let mut members = rejoin(&g, &first, "cooperative-sticky", 1);
        members.remove(leaving.index(members.len()));
        let topics: Vec<String> = g.partitions.keys()
            .enumerate()
            .filter(|(i, _)| joining_topics & (1 << i) != 0)
            .map(|(_, t)| t.clone())
            .collect();
        let topics = if topics.is_empty() { vec!["t0".to_string()] } else { topics };
        members.push(MemberSubscription::new("newcomer", topics));
        let g1 = Group { partitions: g.partitions.clone(), members };
        let second = assignor.assign(&g1.partitions, &g1.members);
        let owners = check_valid(&g1, &second)?;
        prop_assert!(cooperative_conflicts(&g1.members, &second).is_empty());
        // A partition is missing only because its owner must give it up first.
        let mut held_back = BTreeSet::new();
        for tp in g1.subscribed_partitions() {
            if owners.contains_key(&tp) {
                continue;
            }
            let claimants: Vec<&MemberSubscription> =
                g1.members.iter().filter(|m| m.owned_partitions.contains(&tp)).collect();
            prop_assert!(!claimants.is_empty(), "{tp} unowned yet not assigned");
            held_back.insert(tp);
        }

        // Round 2: the old owners no longer claim them, so they are assigned.
        let g2 = Group {
            partitions: g.partitions.clone(),
            members: rejoin(&g1, &second, "cooperative-sticky", 2),
        };
        let third = assignor.assign(&g2.partitions, &g2.members);
        let owners = check_valid(&g2, &third)?;
        prop_assert!(cooperative_conflicts(&g2.members, &third).is_empty());
        for tp in &held_back {
            prop_assert!(owners.contains_key(tp), "{tp} still not assigned");
        }
        if g2.all_same_topics() {
            check_complete(&g2, &third)?;
            check_balanced(&g2, &third)?;
        }
    }
}
