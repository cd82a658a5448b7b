//! Electing partition leaders (ElectLeaders, through the controller): the preferred
//! replica back as leader, or, when no in-sync replica is left, any live replica.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::net::rpc::Target;
use crate::protocol::api::elect_leaders::{
    ElectLeadersRequest, ElectLeadersResponse, TopicPartitions,
};
use crate::TopicPartition;

use super::call::check;
use super::offsets::{by_topic, per_partition};
use super::reassignments::request_timeout;
use super::AdminClient;

/// Which leader [`AdminClient::elect_leaders`] elects.
///
/// # Examples
/// ```
/// use kafka_sync::admin::ElectionType;
/// assert_eq!(ElectionType::Preferred.as_i8(), 0);
/// assert_eq!(ElectionType::Unclean.as_i8(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElectionType {
    /// The preferred replica (the first of the partition's replicas), if it is in sync.
    Preferred,
    /// Any live replica when no in-sync replica is live: records the old leader had but
    /// the new one lacks are lost (`unclean.leader.election.enable` for one election).
    Unclean,
}

impl ElectionType {
    /// The protocol's number for the election type.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(kafka_sync::admin::ElectionType::Preferred.as_i8(), 0);
    /// ```
    pub fn as_i8(self) -> i8 {
        match self {
            ElectionType::Preferred => 0,
            ElectionType::Unclean => 1,
        }
    }
}

impl AdminClient {
    /// Elects leaders for the given partitions (`None`: every partition whose leader is
    /// not the one the election type wants), as the Java admin's `electLeaders` and
    /// kafka-python's `elect_leaders` (`perform_leader_election` in kafka-python 2.x).
    /// Returns each partition's outcome: `ELECTION_NOT_NEEDED` when the wanted leader
    /// already leads, `PREFERRED_LEADER_NOT_AVAILABLE` when the preferred replica is not
    /// in sync, `ELIGIBLE_LEADERS_NOT_AVAILABLE` when no replica can lead. With `None`,
    /// only the partitions an election changed are listed.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use kafka_sync::admin::ElectionType;
    /// use kafka_sync::{ErrorCode, TopicPartition};
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// let partitions = [TopicPartition::new("orders", 0)];
    /// for (tp, result) in admin.elect_leaders(ElectionType::Preferred, Some(&partitions))? {
    ///     match result {
    ///         Ok(()) => println!("{tp} is led by its preferred replica again"),
    ///         Err(e) if e.code() == Some(ErrorCode::ELECTION_NOT_NEEDED) => {}
    ///         Err(e) => println!("{tp}: {e}"),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    #[doc(alias = "perform_leader_election")]
    pub fn elect_leaders(
        &self,
        election: ElectionType,
        partitions: Option<&[TopicPartition]>,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let deadline = self.deadline(None);
        let topics = partitions.map(by_topic);
        let make = || ElectLeadersRequest {
            election_type: election.as_i8(),
            topic_partitions: topics.as_ref().map(|ts| {
                ts.iter()
                    .map(|(t, ps)| TopicPartitions {
                        topic: t.to_string(),
                        partitions: ps.clone(),
                    })
                    .collect()
            }),
            timeout_ms: request_timeout(deadline),
        };
        let (_, resp): (_, ElectLeadersResponse) = self.call(
            Target::Controller,
            make,
            None,
            deadline,
            "an ElectLeaders response",
        )?;
        check(resp.error_code, None)?;
        Ok(per_partition(
            resp.replica_election_results
                .into_iter()
                .map(|t| (t.topic, t.partition_result)),
            |p| p.partition_id,
            |_, p| check(p.error_code, p.error_message.as_deref()),
        )
        .into_iter()
        .collect())
    }
}
