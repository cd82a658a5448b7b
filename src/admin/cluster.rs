//! Describing the cluster (brokers, controller, cluster id) and topics (partitions,
//! leaders, replicas).

use std::collections::BTreeSet;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::net::metadata::{BrokerMetadata, NodeId, TopicMetadata};
use crate::net::rpc::Target;
use crate::protocol::api::describe_cluster::{DescribeClusterRequest, DescribeClusterResponse};
use crate::protocol::codec::Uuid;

use super::call::{check_cluster, give_up, retriable};
use super::AdminClient;

/// The brokers of the cluster, from [`AdminClient::describe_cluster`].
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// let admin = kafka_sync::admin::AdminClient::builder().build()?;
/// let cluster = admin.describe_cluster()?;
/// for b in &cluster.brokers {
///     println!("broker {} at {}", b.id, b.address());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// The cluster id, if the brokers report one.
    pub cluster_id: Option<String>,
    /// The controller's broker id as the brokers report it (in KRaft clusters, a broker
    /// that forwards to the active controller), if known.
    pub controller_id: Option<NodeId>,
    /// Every live broker, sorted by id.
    pub brokers: Vec<BrokerMetadata>,
}

/// One partition of a [`TopicDescription`].
///
/// # Examples
/// ```
/// use kafka_sync::admin::PartitionInfo;
/// let p = PartitionInfo { partition: 0, leader: Some(1), replicas: vec![1, 2], isr: vec![1] };
/// assert!(p.isr.len() < p.replicas.len());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The partition index.
    pub partition: i32,
    /// The leader's broker id; `None` while the partition has no leader.
    pub leader: Option<NodeId>,
    /// Broker ids of every replica, the preferred leader first.
    pub replicas: Vec<NodeId>,
    /// Broker ids of the in-sync replicas.
    pub isr: Vec<NodeId>,
}

/// A topic's partitions and replicas, from [`AdminClient::describe_topics`].
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// let admin = kafka_sync::admin::AdminClient::builder().build()?;
/// for t in admin.describe_topics(&["orders"])? {
///     println!("{} has {} partitions", t.name, t.partitions.len());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    /// The topic name.
    pub name: String,
    /// The topic id (all zero from brokers without topic ids).
    pub topic_id: Uuid,
    /// True for internal topics such as `__consumer_offsets`.
    pub is_internal: bool,
    /// The partitions, sorted by index.
    pub partitions: Vec<PartitionInfo>,
}

impl TopicDescription {
    fn from_metadata(t: &TopicMetadata) -> Self {
        TopicDescription {
            name: t.name.clone(),
            topic_id: t.topic_id,
            is_internal: t.is_internal,
            partitions: t
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    partition: p.partition,
                    leader: (p.leader >= 0).then_some(p.leader),
                    replicas: p.replicas.clone(),
                    isr: p.isr.clone(),
                })
                .collect(),
        }
    }
}

impl AdminClient {
    /// Describes topics: id, partitions, leaders, replicas and in-sync replicas, in the
    /// order asked. Fails with `UNKNOWN_TOPIC_OR_PARTITION` (naming the topic) if one does
    /// not exist; a topic whose leaders are still being elected is asked for again until
    /// the timeout.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// let [orders] = &admin.describe_topics(&["orders"])?[..] else { unreachable!() };
    /// for p in &orders.partitions {
    ///     println!("partition {} led by {:?}, replicas {:?}", p.partition, p.leader, p.replicas);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn describe_topics(&self, topics: &[&str]) -> Result<Vec<TopicDescription>> {
        let start = Instant::now();
        let deadline = self.deadline(None);
        let mut seen = BTreeSet::new();
        let names: Vec<String> = topics
            .iter()
            .filter(|t| seen.insert(**t))
            .map(|t| t.to_string())
            .collect();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        loop {
            let metadata = self.fetch_metadata(Some(&names), deadline)?;
            let mut out = Vec::with_capacity(names.len());
            let mut again = None;
            for name in &names {
                let t = metadata.topics.get(name).ok_or_else(|| {
                    Error::Protocol(format!("the Metadata response left out topic {name}"))
                })?;
                if t.error.is_ok() {
                    out.push(TopicDescription::from_metadata(t));
                    continue;
                }
                let e = Error::for_topic(t.error, Some(format!("describing topic {name}")), name);
                if !retriable(&e) {
                    return Err(e);
                }
                again = Some(e);
            }
            match again {
                None => return Ok(out),
                Some(e) => {
                    if !self.backoff(deadline) {
                        return Err(give_up("describing topics", start, Some(e)));
                    }
                }
            }
        }
    }

    /// Describes the cluster: its id, the controller and every live broker. Uses
    /// DescribeCluster, or Metadata on brokers older than Kafka 2.8.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// let cluster = admin.describe_cluster()?;
    /// println!("{:?}: controller {:?}, {} brokers", cluster.cluster_id, cluster.controller_id, cluster.brokers.len());
    /// # Ok(()) }
    /// ```
    pub fn describe_cluster(&self) -> Result<ClusterDescription> {
        let deadline = self.deadline(None);
        let make = || DescribeClusterRequest {
            include_cluster_authorized_operations: false,
            endpoint_type: 1, // brokers
        };
        let resp: DescribeClusterResponse = match self.call(
            Target::Any,
            make,
            None,
            deadline,
            "a DescribeCluster response",
        ) {
            Ok((_, r)) => r,
            Err(Error::UnsupportedVersion { .. }) => {
                return self.describe_cluster_from_metadata(deadline)
            }
            Err(e) => return Err(e),
        };
        check_cluster(
            resp.error_code,
            resp.error_message.as_deref(),
            "describe the cluster",
        )?;
        let mut brokers: Vec<BrokerMetadata> = resp
            .brokers
            .into_iter()
            .map(|b| BrokerMetadata {
                id: b.broker_id,
                host: b.host,
                port: u16::try_from(b.port).unwrap_or(0),
                rack: b.rack,
            })
            .collect();
        brokers.sort_by_key(|b| b.id);
        Ok(ClusterDescription {
            cluster_id: Some(resp.cluster_id).filter(|c| !c.is_empty()),
            controller_id: (resp.controller_id >= 0).then_some(resp.controller_id),
            brokers,
        })
    }

    fn describe_cluster_from_metadata(&self, deadline: Instant) -> Result<ClusterDescription> {
        let m = self.fetch_metadata(Some(&[]), deadline)?;
        Ok(ClusterDescription {
            cluster_id: m.cluster_id,
            controller_id: (m.controller_id >= 0).then_some(m.controller_id),
            brokers: m.brokers.into_values().collect(),
        })
    }
}
