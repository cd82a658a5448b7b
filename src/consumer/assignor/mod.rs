//! Consumer-group partition assignors for the classic group protocol, sans-IO.
//!
//! In the classic protocol (protocol type `"consumer"`), every member sends the broker a
//! [`Subscription`] per assignment strategy it supports. The broker picks one strategy for the
//! group and hands the leader every member's subscription in the JoinGroup response. The leader
//! runs that strategy's [`Assignor::assign`] and sends each member its [`Assignment`] in
//! SyncGroup.
//!
//! The algorithms and the bytes match the Java client's, so members of this crate, of the Java
//! client and of kafka-python can share one group:
//!
//! | name                   | type                          | protocol             |
//! |------------------------|-------------------------------|----------------------|
//! | `"range"`              | [`RangeAssignor`]             | eager                |
//! | `"roundrobin"`         | [`RoundRobinAssignor`]        | eager                |
//! | `"sticky"`             | [`StickyAssignor`]            | eager                |
//! | `"cooperative-sticky"` | [`CooperativeStickyAssignor`] | cooperative or eager |
//!
//! Nothing here touches a socket or a clock: assignors take subscriptions and partition
//! counts and return assignments.
//!
//! # Examples
//! ```
//! use std::collections::BTreeMap;
//! use kafka_sync::consumer::assignor::{assignor_for, MemberSubscription};
//!
//! let range = assignor_for("range").unwrap();
//! let partitions = BTreeMap::from([("t0".to_string(), 3), ("t1".to_string(), 3)]);
//! let members = [
//!     MemberSubscription::new("C0", ["t0", "t1"]),
//!     MemberSubscription::new("C1", ["t0", "t1"]),
//! ];
//! let assignment = range.assign(&partitions, &members);
//! assert_eq!(assignment.partitions("C0").len(), 4);
//! assert_eq!(assignment.partitions("C1").len(), 2);
//! ```

mod constrained;
mod cooperative;
mod general;
mod member;
mod ownership;
mod protocol;
mod range;
mod round_robin;
mod selection;
mod sticky;
mod sticky_data;

#[cfg(test)]
mod properties;

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::protocol::codec::EncodeError;

pub use crate::TopicPartition;
pub use cooperative::{cooperative_conflicts, CooperativeStickyAssignor};
pub use member::MemberSubscription;
pub use protocol::{
    decode_assignment, decode_subscription, encode_assignment, encode_subscription, Assignment,
    Subscription, ASSIGNMENT_VERSION, CONSUMER_PROTOCOL_TYPE, SUBSCRIPTION_VERSION,
};
pub use range::RangeAssignor;
pub use round_robin::RoundRobinAssignor;
pub use selection::{common_rebalance_protocol, select_protocol};
pub use sticky::StickyAssignor;

/// The generation a member reports before it has ever joined a group (Java's
/// `DEFAULT_GENERATION`).
pub const DEFAULT_GENERATION: i32 = -1;

/// How a group moves partitions between members during a rebalance.
///
/// The order matters: [`common_rebalance_protocol`] picks the greatest protocol every
/// configured assignor supports, as the Java client does.
///
/// # Examples
/// ```
/// use kafka_sync::consumer::assignor::RebalanceProtocol;
/// assert!(RebalanceProtocol::Cooperative > RebalanceProtocol::Eager);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RebalanceProtocol {
    /// Every member gives up all its partitions before rejoining (Java's `EAGER`).
    Eager,
    /// Members keep their partitions while rejoining and give up only those the new
    /// assignment moves elsewhere; the moved partitions are handed out in a follow-up
    /// rebalance (KIP-429, Java's `COOPERATIVE`).
    Cooperative,
}

/// The leader's answer for the whole group: the partitions of each member, by member id.
///
/// Every member passed to [`Assignor::assign`] has an entry, possibly empty.
///
/// # Examples
/// ```
/// use kafka_sync::consumer::assignor::{decode_assignment, GroupAssignment, TopicPartition};
///
/// let mut group = GroupAssignment::default();
/// group.assignments.insert("m1".into(), vec![TopicPartition::new("t", 0)]);
/// let payloads = group.encode().unwrap();
/// let decoded = decode_assignment(payloads["m1"].clone()).unwrap();
/// assert_eq!(decoded.partitions, vec![TopicPartition::new("t", 0)]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupAssignment {
    /// The partitions assigned to each member, keyed by member id.
    pub assignments: BTreeMap<String, Vec<TopicPartition>>,
    /// Assignor-specific bytes for a member's [`Assignment::user_data`]. None of the built-in
    /// assignors sends any; a member missing here gets null user data.
    pub user_data: BTreeMap<String, Bytes>,
}

impl GroupAssignment {
    /// The partitions assigned to `member_id` (empty if it has none or is unknown).
    ///
    /// # Examples
    /// ```
    /// let group = kafka_sync::consumer::assignor::GroupAssignment::default();
    /// assert!(group.partitions("nobody").is_empty());
    /// ```
    pub fn partitions(&self, member_id: &str) -> &[TopicPartition] {
        self.assignments
            .get(member_id)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Encodes every member's [`Assignment`] at [`ASSIGNMENT_VERSION`], ready for the
    /// SyncGroup request, keyed by member id.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::consumer::assignor::GroupAssignment;
    /// let mut group = GroupAssignment::default();
    /// group.assignments.insert("m1".into(), vec![]);
    /// // version 3, no topics, null user data
    /// assert_eq!(&group.encode().unwrap()["m1"][..], &[0, 3, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    /// ```
    pub fn encode(&self) -> Result<BTreeMap<String, Bytes>, EncodeError> {
        self.assignments
            .iter()
            .map(|(member, partitions)| {
                let assignment = Assignment {
                    partitions: partitions.clone(),
                    user_data: self.user_data.get(member).cloned(),
                };
                Ok((
                    member.clone(),
                    encode_assignment(&assignment, ASSIGNMENT_VERSION)?,
                ))
            })
            .collect()
    }

    /// An assignment giving every member in `members` nothing yet.
    fn empty_for<'a>(members: impl IntoIterator<Item = &'a str>) -> Self {
        GroupAssignment {
            assignments: members
                .into_iter()
                .map(|m| (m.to_string(), Vec::new()))
                .collect(),
            user_data: BTreeMap::new(),
        }
    }
}

/// A partition assignment strategy, run by the group leader.
///
/// Implementations are deterministic: the same inputs give the same assignment.
///
/// # Examples
/// ```
/// use std::collections::BTreeMap;
/// use kafka_sync::consumer::assignor::{Assignor, MemberSubscription, RoundRobinAssignor};
///
/// let assignor = RoundRobinAssignor;
/// assert_eq!(assignor.name(), "roundrobin");
/// let partitions = BTreeMap::from([("t".to_string(), 2)]);
/// let members = [MemberSubscription::new("a", ["t"]), MemberSubscription::new("b", ["t"])];
/// let out = assignor.assign(&partitions, &members);
/// assert_eq!(out.partitions("a"), &[("t", 0).into()]);
/// assert_eq!(out.partitions("b"), &[("t", 1).into()]);
/// ```
pub trait Assignor: Send {
    /// The protocol name members advertise in JoinGroup (`"range"`, `"roundrobin"`,
    /// `"sticky"`, `"cooperative-sticky"`).
    fn name(&self) -> &'static str;

    /// The rebalance protocols this assignor can run under, least capable first.
    fn supported_protocols(&self) -> &'static [RebalanceProtocol] {
        &[RebalanceProtocol::Eager]
    }

    /// The [`Subscription::user_data`] this member sends when joining, given its topics.
    fn subscription_user_data(&self, topics: &[String]) -> Option<Bytes> {
        let _ = topics;
        None
    }

    /// Computes the assignment for the whole group.
    ///
    /// `partitions_per_topic` holds the partition count of every topic known to the
    /// leader's metadata; subscribed topics missing from it (or with no partitions) are
    /// skipped. Member ids are expected to be unique; a repeated id is ignored after its
    /// first occurrence.
    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
    ) -> GroupAssignment;

    /// Called with this member's own assignment once SyncGroup completes, so sticky
    /// strategies can report it in the next subscription.
    fn on_assignment(&mut self, assignment: &[TopicPartition], generation: i32) {
        let _ = (assignment, generation);
    }
}

/// The built-in assignor for a `partition.assignment.strategy` entry.
///
/// Accepts the protocol names (`range`, `roundrobin`, `sticky`, `cooperative-sticky`), the
/// Java class names (`RangeAssignor`, `org.apache.kafka.clients.consumer.RangeAssignor`, ...)
/// and kafka-python's class names (`RangePartitionAssignor`, ...).
///
/// # Examples
/// ```
/// use kafka_sync::consumer::assignor::assignor_for;
/// assert_eq!(assignor_for("cooperative-sticky").unwrap().name(), "cooperative-sticky");
/// assert_eq!(
///     assignor_for("org.apache.kafka.clients.consumer.RoundRobinAssignor").unwrap().name(),
///     "roundrobin"
/// );
/// assert!(assignor_for("fancy").is_none());
/// ```
pub fn assignor_for(strategy: &str) -> Option<Box<dyn Assignor>> {
    let strategy = strategy.trim();
    let class = strategy
        .strip_prefix("org.apache.kafka.clients.consumer.")
        .unwrap_or(strategy);
    Some(match class {
        "range" | "RangeAssignor" | "RangePartitionAssignor" => Box::new(RangeAssignor),
        "roundrobin" | "RoundRobinAssignor" | "RoundRobinPartitionAssignor" => {
            Box::new(RoundRobinAssignor)
        }
        "sticky" | "StickyAssignor" | "StickyPartitionAssignor" => {
            Box::new(StickyAssignor::default())
        }
        "cooperative-sticky" | "CooperativeStickyAssignor" => {
            Box::new(CooperativeStickyAssignor::default())
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_name_resolves_to_itself() {
        for name in ["range", "roundrobin", "sticky", "cooperative-sticky"] {
            assert_eq!(assignor_for(name).unwrap().name(), name);
        }
        assert_eq!(
            assignor_for("StickyPartitionAssignor").unwrap().name(),
            "sticky"
        );
        assert_eq!(
            assignor_for("org.apache.kafka.clients.consumer.CooperativeStickyAssignor")
                .unwrap()
                .name(),
            "cooperative-sticky"
        );
        assert!(assignor_for("Range").is_none());
    }

    #[test]
    fn only_cooperative_sticky_supports_cooperative() {
        for name in ["range", "roundrobin", "sticky"] {
            assert_eq!(
                assignor_for(name).unwrap().supported_protocols(),
                &[RebalanceProtocol::Eager]
            );
        }
        assert!(assignor_for("cooperative-sticky")
            .unwrap()
            .supported_protocols()
            .contains(&RebalanceProtocol::Cooperative));
    }

    #[test]
    fn group_assignment_encodes_user_data_per_member() {
        let mut group = GroupAssignment::empty_for(["a", "b"]);
        group
            .assignments
            .get_mut("a")
            .unwrap()
            .push(TopicPartition::new("t", 1));
        group
            .user_data
            .insert("b".into(), Bytes::from_static(b"xy"));
        let out = group.encode().unwrap();
        let a = decode_assignment(out["a"].clone()).unwrap();
        assert_eq!(a.partitions, vec![TopicPartition::new("t", 1)]);
        assert_eq!(a.user_data, None);
        let b = decode_assignment(out["b"].clone()).unwrap();
        assert!(b.partitions.is_empty());
        assert_eq!(b.user_data.as_deref(), Some(&b"xy"[..]));
    }
}
