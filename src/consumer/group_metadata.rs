//! [`ConsumerGroupMetadata`]: who a consumer is in its group, for offsets committed in
//! a producer's transaction (KIP-447).

/// A consumer's group id, generation, member id and group instance id, as the Java
/// client's `ConsumerGroupMetadata`. A transactional producer sends it with the offsets
/// it commits ([`Producer::send_offsets_to_transaction`](crate::Producer::send_offsets_to_transaction)),
/// so the group coordinator refuses the offsets of a member that was fenced (a
/// zombie that lost its partitions in a rebalance).
///
/// # Examples
/// ```
/// let meta = kafka_sync::ConsumerGroupMetadata::new("billing");
/// assert_eq!(meta.generation_id, -1);
/// assert_eq!(meta.member_id, "");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupMetadata {
    /// The group id.
    pub group_id: String,
    /// The generation the member belongs to; -1 when it is not a member.
    pub generation_id: i32,
    /// The member id the coordinator gave; empty when it is not a member.
    pub member_id: String,
    /// The static membership id (`group_instance_id`), if any.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// Metadata that names only the group: the coordinator then checks no generation
    /// (as the Java client's `new ConsumerGroupMetadata(groupId)`).
    pub fn new(group_id: impl Into<String>) -> Self {
        ConsumerGroupMetadata {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}
