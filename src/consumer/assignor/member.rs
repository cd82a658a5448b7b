//! [`MemberSubscription`]: one group member as the leader's assignor sees it, and the member
//! orderings the Java assignors use.

use std::cmp::Ordering;
use std::collections::HashSet;

use bytes::Bytes;

use crate::protocol::codec::DecodeError;
use crate::TopicPartition;

use super::protocol::{decode_subscription, Subscription};
use super::DEFAULT_GENERATION;

/// One member of the group with its decoded [`Subscription`], as the leader receives it in
/// the JoinGroup response.
///
/// # Examples
/// ```
/// use kafka_sync::consumer::assignor::MemberSubscription;
///
/// let member = MemberSubscription {
///     group_instance_id: Some("instance-1".into()),
///     ..MemberSubscription::new("consumer-1-0a4f", ["orders", "payments"])
/// };
/// assert_eq!(member.topics.len(), 2);
/// assert_eq!(member.generation_id, -1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSubscription {
    /// The member id the coordinator gave the member.
    pub member_id: String,
    /// The member's `group.instance.id` when it uses static membership.
    pub group_instance_id: Option<String>,
    /// The topics it subscribes to.
    pub topics: Vec<String>,
    /// Assignor-specific bytes from its subscription.
    pub user_data: Option<Bytes>,
    /// The partitions it owns going into the rebalance (subscription version 1+).
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation it owned them in; -1 if unknown (subscription version 2+).
    pub generation_id: i32,
    /// Its `client.rack` (subscription version 3+).
    pub rack_id: Option<String>,
}

impl MemberSubscription {
    /// A dynamic member subscribing to `topics`, owning nothing.
    ///
    /// # Examples
    /// ```
    /// let m = kafka_sync::consumer::assignor::MemberSubscription::new("m1", ["t"]);
    /// assert_eq!(m.member_id, "m1");
    /// assert!(m.owned_partitions.is_empty());
    /// ```
    pub fn new<T: Into<String>>(
        member_id: impl Into<String>,
        topics: impl IntoIterator<Item = T>,
    ) -> Self {
        MemberSubscription {
            member_id: member_id.into(),
            group_instance_id: None,
            topics: topics.into_iter().map(Into::into).collect(),
            user_data: None,
            owned_partitions: Vec::new(),
            generation_id: DEFAULT_GENERATION,
            rack_id: None,
        }
    }

    /// Joins a member's identity, from the JoinGroup response, with its subscription.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::consumer::assignor::{MemberSubscription, Subscription};
    /// let sub = Subscription { topics: vec!["t".into()], ..Subscription::default() };
    /// let m = MemberSubscription::from_subscription("m1", None, sub);
    /// assert_eq!(m.topics, vec!["t".to_string()]);
    /// ```
    pub fn from_subscription(
        member_id: impl Into<String>,
        group_instance_id: Option<String>,
        subscription: Subscription,
    ) -> Self {
        MemberSubscription {
            member_id: member_id.into(),
            group_instance_id,
            topics: subscription.topics,
            user_data: subscription.user_data,
            owned_partitions: subscription.owned_partitions,
            generation_id: subscription.generation_id,
            rack_id: subscription.rack_id,
        }
    }

    /// Decodes a member's JoinGroup protocol metadata (a version-prefixed
    /// `ConsumerProtocolSubscription`).
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::consumer::assignor::{encode_subscription, MemberSubscription, Subscription};
    /// let sub = Subscription { topics: vec!["t".into()], ..Subscription::default() };
    /// let metadata = encode_subscription(&sub, 0).unwrap();
    /// let m = MemberSubscription::decode("m1", Some("i1".into()), metadata).unwrap();
    /// assert_eq!(m.group_instance_id.as_deref(), Some("i1"));
    /// ```
    pub fn decode(
        member_id: impl Into<String>,
        group_instance_id: Option<String>,
        metadata: Bytes,
    ) -> Result<Self, DecodeError> {
        let subscription = decode_subscription(metadata)?;
        Ok(Self::from_subscription(
            member_id,
            group_instance_id,
            subscription,
        ))
    }

    /// Whether the member subscribes to `topic`.
    pub(super) fn subscribes_to(&self, topic: &str) -> bool {
        self.topics.iter().any(|t| t == topic)
    }
}

/// Compares strings as Java's `String.compareTo` does (by UTF-16 code unit), so that member
/// orderings match the Java leader's even for ids outside the Basic Multilingual Plane.
pub(super) fn java_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.cmp(b)
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// Java's `MemberInfo` order: members with a `group.instance.id` first, by instance id; then
/// the rest by member id.
pub(super) fn static_member_cmp(a: &MemberSubscription, b: &MemberSubscription) -> Ordering {
    match (&a.group_instance_id, &b.group_instance_id) {
        (Some(x), Some(y)) => java_cmp(x, y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => java_cmp(&a.member_id, &b.member_id),
    }
}

/// The members with repeated ids dropped (first occurrence kept), in input order.
pub(super) fn unique(members: &[MemberSubscription]) -> Vec<&MemberSubscription> {
    let mut seen = HashSet::new();
    members
        .iter()
        .filter(|m| seen.insert(m.member_id.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_order_differs_from_utf8_only_outside_the_bmp() {
        assert_eq!(java_cmp("a", "b"), Ordering::Less);
        assert_eq!(java_cmp("ab", "a"), Ordering::Greater);
        // U+1F600 is a surrogate pair (0xD83D..) in UTF-16, below U+FF21 (0xFF21); in UTF-8
        // and code point order it is above.
        assert_eq!(java_cmp("\u{1F600}", "\u{FF21}"), Ordering::Less);
        assert_eq!("\u{1F600}".cmp("\u{FF21}"), Ordering::Greater);
    }

    #[test]
    fn static_members_sort_first_by_instance_id() {
        let with = |id: &str, instance: Option<&str>| MemberSubscription {
            group_instance_id: instance.map(String::from),
            ..MemberSubscription::new(id, ["t"])
        };
        let mut members = [
            with("a", None),
            with("z", Some("i2")),
            with("b", Some("i1")),
            with("0", None),
        ];
        members.sort_by(static_member_cmp);
        let ids: Vec<&str> = members.iter().map(|m| m.member_id.as_str()).collect();
        assert_eq!(ids, ["b", "z", "0", "a"]);
    }

    #[test]
    fn repeated_member_ids_keep_the_first() {
        let members = [
            MemberSubscription::new("a", ["t1"]),
            MemberSubscription::new("a", ["t2"]),
            MemberSubscription::new("b", ["t1"]),
        ];
        let kept = unique(&members);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].topics, vec!["t1".to_string()]);
    }
}
