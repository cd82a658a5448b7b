//! Deleting records: moving partitions' log start offsets forward (DeleteRecords to each
//! partition's leader).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::net::metadata::{ClusterMetadata, NodeId};
use crate::net::rpc::Target;
use crate::protocol::api::delete_records::{
    DeleteRecordsPartition, DeleteRecordsRequest, DeleteRecordsResponse, DeleteRecordsTopic,
};
use crate::protocol::error_code::ErrorCode;
use crate::TopicPartition;

use super::call::check_topic;
use super::{timeout_ms, AdminClient};

/// Where a partition's DeleteRecords goes: its leader, or why it cannot go anywhere yet.
fn leader_of(metadata: &ClusterMetadata, tp: &TopicPartition) -> Result<NodeId> {
    let what = || Some(format!("deleting records of {tp}"));
    let Some(topic) = metadata.topics.get(&tp.topic) else {
        return Err(Error::broker(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, what()));
    };
    if !topic.error.is_ok() {
        return Err(Error::for_topic(topic.error, what(), &tp.topic));
    }
    match topic
        .partitions
        .iter()
        .find(|p| p.partition == tp.partition)
    {
        None => Err(Error::broker(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, what())),
        Some(p) if p.leader < 0 => Err(Error::broker(ErrorCode::LEADER_NOT_AVAILABLE, what())),
        Some(p) => Ok(p.leader),
    }
}

impl AdminClient {
    /// Deletes every record before the given offset of each partition (`-1`: before the
    /// high watermark, so all of them), as kafka-python's `delete_records`. Returns each
    /// partition's new low watermark (its log start offset), or its error:
    /// `OFFSET_OUT_OF_RANGE` for an offset past the end, `UNKNOWN_TOPIC_OR_PARTITION`
    /// for a partition that does not exist. Requests go to each partition's leader.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use std::collections::BTreeMap;
    /// use kafka_sync::TopicPartition;
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// let before = BTreeMap::from([(TopicPartition::new("events", 0), 1000)]);
    /// for (tp, result) in admin.delete_records(&before)? {
    ///     println!("{tp} now starts at offset {}", result?);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn delete_records(
        &self,
        before: &BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, Result<i64>>> {
        let deadline = self.deadline(None);
        self.retry_items(
            "deleting records",
            deadline,
            before.keys().cloned(),
            |pending, deadline| self.delete_records_round(pending, before, deadline),
        )
    }

    fn delete_records_round(
        &self,
        pending: &[TopicPartition],
        before: &BTreeMap<TopicPartition, i64>,
        deadline: Instant,
    ) -> Result<Vec<(TopicPartition, Result<i64>)>> {
        let topics: Vec<String> = pending
            .iter()
            .map(|tp| tp.topic.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let metadata = self.fetch_metadata(Some(&topics), deadline)?;
        let mut out = Vec::new();
        let mut by_leader: BTreeMap<NodeId, BTreeMap<&str, Vec<DeleteRecordsPartition>>> =
            BTreeMap::new();
        for tp in pending {
            match leader_of(&metadata, tp) {
                Ok(leader) => by_leader
                    .entry(leader)
                    .or_default()
                    .entry(tp.topic.as_str())
                    .or_default()
                    .push(DeleteRecordsPartition {
                        partition_index: tp.partition,
                        offset: before[tp],
                    }),
                Err(e) => out.push((tp.clone(), Err(e))),
            }
        }
        let timeout = timeout_ms(deadline.saturating_duration_since(Instant::now()));
        let sent: Vec<_> = by_leader
            .into_iter()
            .map(|(leader, topics)| {
                let asked: Vec<TopicPartition> = topics
                    .iter()
                    .flat_map(|(t, ps)| {
                        ps.iter()
                            .map(|p| TopicPartition::new(*t, p.partition_index))
                    })
                    .collect();
                let req = DeleteRecordsRequest {
                    topics: topics
                        .into_iter()
                        .map(|(t, partitions)| DeleteRecordsTopic {
                            name: t.to_owned(),
                            partitions,
                        })
                        .collect(),
                    timeout_ms: timeout,
                };
                (
                    self.send(
                        Target::Node(leader),
                        req,
                        None,
                        deadline,
                        "a DeleteRecords response",
                    ),
                    asked,
                )
            })
            .collect();
        for (pending_rpc, asked) in sent {
            match pending_rpc.and_then(|p| p.wait::<DeleteRecordsResponse>()) {
                Ok((_, resp)) => {
                    for t in resp.topics {
                        for p in t.partitions {
                            let tp = TopicPartition::new(t.name.clone(), p.partition_index);
                            let what = format!("deleting records of {tp}");
                            let r = check_topic(p.error_code, Some(&what), &tp.topic);
                            out.push((tp, r.map(|()| p.low_watermark)));
                        }
                    }
                }
                Err(e) => out.extend(asked.into_iter().map(|tp| (tp, Err(e.clone())))),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::metadata::{PartitionMetadata, TopicMetadata};
    use crate::protocol::codec::Uuid;

    fn cluster() -> ClusterMetadata {
        let partition = |partition, leader| PartitionMetadata {
            partition,
            leader,
            leader_epoch: 0,
            replicas: vec![1],
            isr: vec![1],
            offline_replicas: vec![],
            error: ErrorCode::NONE,
        };
        let mut m = ClusterMetadata::default();
        m.topics.insert(
            "t".into(),
            TopicMetadata {
                name: "t".into(),
                topic_id: Uuid::default(),
                is_internal: false,
                error: ErrorCode::NONE,
                partitions: vec![partition(0, 1), partition(1, -1)],
                available: vec![0],
            },
        );
        m
    }

    #[test]
    fn records_go_to_the_leader_and_leaderless_partitions_wait() {
        let m = cluster();
        assert_eq!(leader_of(&m, &TopicPartition::new("t", 0)).unwrap(), 1);
        let e = leader_of(&m, &TopicPartition::new("t", 1)).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::LEADER_NOT_AVAILABLE));
        let e = leader_of(&m, &TopicPartition::new("t", 7)).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
        let e = leader_of(&m, &TopicPartition::new("nope", 0)).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    }
}
