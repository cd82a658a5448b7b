//! Reconciliation: from what the member owns and the broker's target assignment (topic
//! ids), what to revoke first and what the assignment is once the revoke is done.

use std::collections::{BTreeMap, BTreeSet};

use crate::protocol::codec::Uuid;
use crate::TopicPartition;

/// The broker's target assignment: partitions by topic id.
pub(in crate::consumer::group) type Target = BTreeMap<Uuid, BTreeSet<i32>>;

/// One reconciliation step.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Plan {
    /// Owned partitions the target no longer has: revoked before anything is added.
    pub revoked: Vec<TopicPartition>,
    /// The assignment once the revoke is done: the target's partitions whose topic names
    /// the metadata knows.
    pub assignment: BTreeMap<TopicPartition, Uuid>,
    /// Some target topic ids are not in the metadata yet: reconcile again once it has
    /// them (their partitions are taken then).
    pub unresolved: bool,
}

/// Compares by topic id, so a topic deleted and recreated under the same name counts as
/// a different topic. `name_of` resolves topic ids through the metadata.
pub(super) fn plan(
    owned: &BTreeMap<TopicPartition, Uuid>,
    target: &Target,
    name_of: &dyn Fn(&Uuid) -> Option<String>,
) -> Plan {
    let revoked = owned
        .iter()
        .filter(|(tp, id)| !target.get(id).is_some_and(|ps| ps.contains(&tp.partition)))
        .map(|(tp, _)| tp.clone())
        .collect();
    let mut assignment = BTreeMap::new();
    let mut unresolved = false;
    for (id, partitions) in target {
        // An owned partition already carries its name; others need the metadata.
        let known = owned
            .iter()
            .find(|(_, owned_id)| *owned_id == id)
            .map(|(tp, _)| tp.topic.clone());
        let Some(name) = known.or_else(|| name_of(id)) else {
            unresolved = true;
            continue;
        };
        for p in partitions {
            assignment.insert(TopicPartition::new(name.clone(), *p), *id);
        }
    }
    Plan {
        revoked,
        assignment,
        unresolved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> Uuid {
        Uuid([n; 16])
    }

    fn names(id: &Uuid) -> Option<String> {
        match id.0[0] {
            1 => Some("a".into()),
            2 => Some("b".into()),
            _ => None,
        }
    }

    fn target(entries: &[(u8, &[i32])]) -> Target {
        entries
            .iter()
            .map(|(n, ps)| (id(*n), ps.iter().copied().collect()))
            .collect()
    }

    fn owned(entries: &[(&str, u8, i32)]) -> BTreeMap<TopicPartition, Uuid> {
        entries
            .iter()
            .map(|(t, n, p)| (TopicPartition::new(*t, *p), id(*n)))
            .collect()
    }

    #[test]
    fn first_assignment_revokes_nothing() {
        let p = plan(&owned(&[]), &target(&[(1, &[0, 1]), (2, &[0])]), &names);
        assert!(p.revoked.is_empty());
        assert_eq!(
            p.assignment,
            owned(&[("a", 1, 0), ("a", 1, 1), ("b", 2, 0)])
        );
        assert!(!p.unresolved);
    }

    #[test]
    fn moved_partitions_are_revoked_and_new_ones_added() {
        let p = plan(
            &owned(&[("a", 1, 0), ("a", 1, 1), ("b", 2, 0)]),
            &target(&[(1, &[1, 2])]),
            &names,
        );
        assert_eq!(
            p.revoked,
            [TopicPartition::new("a", 0), TopicPartition::new("b", 0)]
        );
        assert_eq!(p.assignment, owned(&[("a", 1, 1), ("a", 1, 2)]));
    }

    #[test]
    fn unknown_topic_ids_wait_for_metadata_but_known_ones_go_ahead() {
        let p = plan(&owned(&[]), &target(&[(1, &[0]), (9, &[0, 1])]), &names);
        assert!(p.unresolved);
        assert_eq!(p.assignment, owned(&[("a", 1, 0)]));
    }

    #[test]
    fn owned_topics_keep_their_names_and_a_recreated_topic_is_another_topic() {
        // Topic id 9 is owned under the name "old" though the metadata no longer has it.
        let p = plan(&owned(&[("old", 9, 0)]), &target(&[(9, &[0, 1])]), &names);
        assert!(p.revoked.is_empty() && !p.unresolved);
        assert_eq!(p.assignment, owned(&[("old", 9, 0), ("old", 9, 1)]));
        // "a" deleted and recreated: the same name under a new id is revoked and re-added.
        let p = plan(&owned(&[("a", 3, 0)]), &target(&[(1, &[0])]), &names);
        assert_eq!(p.revoked, [TopicPartition::new("a", 0)]);
        assert_eq!(p.assignment, owned(&[("a", 1, 0)]));
    }
}
