//! Moving partition replicas between brokers (AlterPartitionReassignments) and watching
//! the moves in progress (ListPartitionReassignments), both through the controller.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::net::metadata::NodeId;
use crate::net::rpc::Target;
use crate::protocol::api::alter_partition_reassignments::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ReassignablePartition,
    ReassignableTopic,
};
use crate::protocol::api::list_partition_reassignments::{
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
    ListPartitionReassignmentsTopics,
};
use crate::TopicPartition;

use super::call::check;
use super::offsets::{by_topic, per_partition};
use super::{timeout_ms, AdminClient};

/// A reassignment in progress, from [`AdminClient::list_partition_reassignments`].
///
/// # Examples
/// ```
/// use kafka_sync::admin::PartitionReassignment;
/// // Moving a replica from broker 1 to broker 3: all three hold it until 3 caught up.
/// let r = PartitionReassignment { replicas: vec![3, 2, 1], adding_replicas: vec![3], removing_replicas: vec![1] };
/// assert_eq!(r.target_replicas(), vec![3, 2]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionReassignment {
    /// Every broker holding a replica now: the target replicas and those being removed.
    pub replicas: Vec<NodeId>,
    /// Brokers that get a replica once the move is done.
    pub adding_replicas: Vec<NodeId>,
    /// Brokers that lose their replica once the move is done.
    pub removing_replicas: Vec<NodeId>,
}

impl PartitionReassignment {
    /// The replicas the partition will have when the reassignment completes.
    ///
    /// # Examples
    /// ```
    /// let r = kafka_sync::admin::PartitionReassignment { replicas: vec![2, 1], adding_replicas: vec![2], removing_replicas: vec![1] };
    /// assert_eq!(r.target_replicas(), vec![2]);
    /// ```
    pub fn target_replicas(&self) -> Vec<NodeId> {
        self.replicas
            .iter()
            .copied()
            .filter(|r| !self.removing_replicas.contains(r))
            .collect()
    }
}

impl AdminClient {
    /// Moves partitions to new replica lists, as the Java admin's and kafka-python's
    /// `alter_partition_reassignments`. `Some(brokers)` starts moving the partition onto
    /// those brokers (the first is the new preferred leader); `None` cancels the
    /// partition's reassignment in progress. Returns each partition's outcome once the
    /// controller accepted (or refused) it; the data moves in the background: watch it
    /// with [`list_partition_reassignments`](Self::list_partition_reassignments).
    /// Cancelling where nothing moves is `NO_REASSIGNMENT_IN_PROGRESS`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use std::collections::BTreeMap;
    /// use kafka_sync::TopicPartition;
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// let moves = BTreeMap::from([(TopicPartition::new("orders", 0), Some(vec![2, 3]))]);
    /// for (tp, result) in admin.alter_partition_reassignments(&moves)? {
    ///     result?;
    ///     println!("moving {tp}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn alter_partition_reassignments(
        &self,
        reassignments: &BTreeMap<TopicPartition, Option<Vec<NodeId>>>,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let deadline = self.deadline(None);
        self.retry_items(
            "reassigning partitions",
            deadline,
            reassignments.keys().cloned(),
            |pending, deadline| {
                let topics = by_topic(pending);
                let make = || AlterPartitionReassignmentsRequest {
                    timeout_ms: request_timeout(deadline),
                    allow_replication_factor_change: true,
                    topics: topics
                        .iter()
                        .map(|(t, ps)| ReassignableTopic {
                            name: t.to_string(),
                            partitions: ps
                                .iter()
                                .map(|p| ReassignablePartition {
                                    partition_index: *p,
                                    replicas: reassignments[&TopicPartition::new(*t, *p)].clone(),
                                })
                                .collect(),
                        })
                        .collect(),
                };
                let (_, resp): (_, AlterPartitionReassignmentsResponse) = self.call(
                    Target::Controller,
                    make,
                    None,
                    deadline,
                    "an AlterPartitionReassignments response",
                )?;
                check(resp.error_code, resp.error_message.as_deref())?;
                Ok(per_partition(
                    resp.responses.into_iter().map(|t| (t.name, t.partitions)),
                    |p| p.partition_index,
                    |_, p| check(p.error_code, p.error_message.as_deref()),
                ))
            },
        )
    }

    /// The reassignments in progress: of the given partitions, or of every partition if
    /// `None`. A partition that is not moving is left out, so an empty answer for a
    /// partition means its reassignment completed (or never started).
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// for (tp, r) in admin.list_partition_reassignments(None)? {
    ///     println!("{tp}: adding {:?}, removing {:?}", r.adding_replicas, r.removing_replicas);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_partition_reassignments(
        &self,
        partitions: Option<&[TopicPartition]>,
    ) -> Result<BTreeMap<TopicPartition, PartitionReassignment>> {
        let deadline = self.deadline(None);
        let topics = partitions.map(by_topic);
        let make = || ListPartitionReassignmentsRequest {
            timeout_ms: request_timeout(deadline),
            topics: topics.as_ref().map(|ts| {
                ts.iter()
                    .map(|(t, ps)| ListPartitionReassignmentsTopics {
                        name: t.to_string(),
                        partition_indexes: ps.clone(),
                    })
                    .collect()
            }),
        };
        let (_, resp): (_, ListPartitionReassignmentsResponse) = self.call(
            Target::Controller,
            make,
            None,
            deadline,
            "a ListPartitionReassignments response",
        )?;
        check(resp.error_code, resp.error_message.as_deref())?;
        Ok(per_partition(
            resp.topics.into_iter().map(|t| (t.name, t.partitions)),
            |p| p.partition_index,
            |_, p| PartitionReassignment {
                replicas: p.replicas,
                adding_replicas: p.adding_replicas,
                removing_replicas: p.removing_replicas,
            },
        )
        .into_iter()
        .collect())
    }
}

/// The `timeout_ms` of a controller request sent now for a call ending at `deadline`.
pub(super) fn request_timeout(deadline: Instant) -> i32 {
    let left = deadline.saturating_duration_since(Instant::now());
    timeout_ms(left.max(Duration::from_millis(1)))
}
