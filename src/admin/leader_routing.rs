//! Rounds of requests sent to partition leaders (DeleteRecords, ListOffsets): fresh
//! metadata, one request per leader sent together, each answer read back per partition.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::net::metadata::{ClusterMetadata, NodeId};
use crate::net::rpc::Target;
use crate::protocol::api::Message;
use crate::protocol::error_code::ErrorCode;
use crate::TopicPartition;

use super::call::Pending;
use super::AdminClient;

/// Where a partition's request goes: its leader, or why it cannot go anywhere yet.
pub(super) fn leader_of(metadata: &ClusterMetadata, tp: &TopicPartition) -> Result<NodeId> {
    let what = || Some(format!("finding the leader of {tp}"));
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
    /// A per-partition call routed to leaders, retried per partition until the call's
    /// deadline: see [`per_leader`](AdminClient::per_leader) for one round.
    pub(super) fn leader_call<V, M: Message>(
        &self,
        what: &str,
        partitions: impl IntoIterator<Item = TopicPartition>,
        send: impl Fn(Target, &[TopicPartition], Instant) -> Result<Pending>,
        parse: impl Fn(M) -> Vec<(TopicPartition, Result<V>)>,
    ) -> Result<BTreeMap<TopicPartition, Result<V>>> {
        let deadline = self.deadline(None);
        self.retry_items(what, deadline, partitions, |pending, deadline| {
            self.per_leader(pending, deadline, &send, &parse)
        })
    }

    /// One round of a per-partition call routed to leaders: looks the leaders of
    /// `pending` up, sends `send(leader, partitions, deadline)` to each leader at once,
    /// and reads each answer with `parse`. Partitions without a leader, and those whose
    /// request failed, get that error (retriable ones are asked again by
    /// [`retry_items`](AdminClient::retry_items)).
    fn per_leader<V, M: Message>(
        &self,
        pending: &[TopicPartition],
        deadline: Instant,
        send: impl Fn(Target, &[TopicPartition], Instant) -> Result<Pending>,
        parse: impl Fn(M) -> Vec<(TopicPartition, Result<V>)>,
    ) -> Result<Vec<(TopicPartition, Result<V>)>> {
        let topics: Vec<String> = pending
            .iter()
            .map(|tp| tp.topic.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let metadata = self.fetch_metadata(Some(&topics), deadline)?;
        let mut out = Vec::new();
        let mut by_leader: BTreeMap<NodeId, Vec<TopicPartition>> = BTreeMap::new();
        for tp in pending {
            match leader_of(&metadata, tp) {
                Ok(leader) => by_leader.entry(leader).or_default().push(tp.clone()),
                Err(e) => out.push((tp.clone(), Err(e))),
            }
        }
        let sent: Vec<_> = by_leader
            .into_iter()
            .map(|(leader, asked)| (send(Target::Node(leader), &asked, deadline), asked))
            .collect();
        for (pending_rpc, asked) in sent {
            match pending_rpc.and_then(|p| p.wait::<M>()) {
                Ok((_, resp)) => out.extend(parse(resp)),
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
    fn requests_go_to_the_leader_and_leaderless_partitions_wait() {
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
