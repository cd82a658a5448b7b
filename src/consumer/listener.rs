//! Rebalance listeners: user code that runs when the group moves partitions.

use crate::TopicPartition;

use super::core::RebalanceContext;

/// Called when a consumer group rebalances, as the Java client's
/// `ConsumerRebalanceListener`.
///
/// The callbacks run on the thread that polls the consumer, inside `poll`/`next`: revoked
/// partitions come before assigned ones, and the group waits for
/// `on_partitions_revoked` to return before it reassigns anything, so offsets committed
/// there are the ones the next owner starts from.
///
/// # Examples
/// ```
/// use kafka_sync::{ConsumerRebalanceListener, RebalanceContext, TopicPartition};
/// struct CommitOnRevoke;
/// impl ConsumerRebalanceListener for CommitOnRevoke {
///     fn on_partitions_revoked(&mut self, consumer: &mut RebalanceContext<'_>, revoked: &[TopicPartition]) {
///         if let Err(e) = consumer.commit() {
///             eprintln!("commit before losing {revoked:?} failed: {e}");
///         }
///     }
///     fn on_partitions_assigned(&mut self, _consumer: &mut RebalanceContext<'_>, assigned: &[TopicPartition]) {
///         println!("now reading {assigned:?}");
///     }
/// }
/// ```
pub trait ConsumerRebalanceListener: Send {
    /// Partitions are about to be taken away; commit their offsets here.
    fn on_partitions_revoked(
        &mut self,
        consumer: &mut RebalanceContext<'_>,
        revoked: &[TopicPartition],
    );

    /// Partitions were assigned (for cooperative rebalancing, only the new ones).
    fn on_partitions_assigned(
        &mut self,
        consumer: &mut RebalanceContext<'_>,
        assigned: &[TopicPartition],
    );

    /// Partitions were lost without a clean revoke (the member was dropped from the
    /// group); their offsets can no longer be committed. Defaults to
    /// `on_partitions_revoked`, as in the Java client.
    fn on_partitions_lost(&mut self, consumer: &mut RebalanceContext<'_>, lost: &[TopicPartition]) {
        self.on_partitions_revoked(consumer, lost);
    }
}
