//! Describing the brokers' log directories (DescribeLogDirs, sent to each broker): where
//! each replica lives on disk, its size, and how far a future replica lags.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::net::metadata::NodeId;
use crate::protocol::api::describe_log_dirs::{
    DescribeLogDirsRequest, DescribeLogDirsResponse, DescribeLogDirsResult,
};
use crate::TopicPartition;

use super::call::check_code;
use super::offsets::per_partition;
use super::AdminClient;

/// One replica in a [`LogDirDescription`].
///
/// # Examples
/// ```
/// let r = kafka_sync::admin::ReplicaInfo { size: 4096, offset_lag: 0, is_future: false };
/// assert!(!r.is_future);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaInfo {
    /// Bytes of the replica's log segments.
    pub size: i64,
    /// For a future replica (being moved to this directory): how far its log end lags the
    /// current replica's; 0 otherwise.
    pub offset_lag: i64,
    /// True if this is the future replica of a move between directories.
    pub is_future: bool,
}

/// One log directory of a broker, from [`AdminClient::describe_log_dirs`].
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// let admin = kafka_sync::admin::AdminClient::builder().build()?;
/// for (broker, dirs) in admin.describe_log_dirs(None)? {
///     for dir in dirs? {
///         let used: i64 = dir.replicas.values().map(|r| r.size).sum();
///         println!("broker {broker}: {} holds {used} bytes", dir.path);
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LogDirDescription {
    /// The directory's absolute path on the broker.
    pub path: String,
    /// Why the directory is unusable (`KAFKA_STORAGE_ERROR` for an offline disk), if it is.
    pub error: Option<Error>,
    /// The replicas in it.
    pub replicas: BTreeMap<TopicPartition, ReplicaInfo>,
    /// The volume's size in bytes, from brokers of Kafka 3.3 and later.
    pub total_bytes: Option<i64>,
    /// The volume's free bytes, from brokers of Kafka 3.3 and later.
    pub usable_bytes: Option<i64>,
}

impl LogDirDescription {
    fn from_response(broker: NodeId, d: DescribeLogDirsResult) -> Self {
        let error = check_code(d.error_code, || {
            format!("log dir {} of broker {broker}", d.log_dir)
        })
        .err();
        let replicas = per_partition(
            d.topics.into_iter().map(|t| (t.name, t.partitions)),
            |p| p.partition_index,
            |_, p| ReplicaInfo {
                size: p.partition_size,
                offset_lag: p.offset_lag,
                is_future: p.is_future_key,
            },
        )
        .into_iter()
        .collect();
        LogDirDescription {
            path: d.log_dir,
            error,
            replicas,
            total_bytes: (d.total_bytes >= 0).then_some(d.total_bytes),
            usable_bytes: (d.usable_bytes >= 0).then_some(d.usable_bytes),
        }
    }
}

impl AdminClient {
    /// Describes the log directories of the given brokers (`None`: every broker), as
    /// kafka-python's and the Java admin's `describe_log_dirs`: each directory's path,
    /// replicas with their sizes, and the volume's total and free bytes. Each broker has
    /// its own result; a broker id the cluster does not have is `BROKER_NOT_AVAILABLE`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use kafka_sync::TopicPartition;
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// let tp = TopicPartition::new("orders", 0);
    /// for (broker, dirs) in admin.describe_log_dirs(Some(&[1, 2]))? {
    ///     for dir in dirs?.iter().filter(|d| d.replicas.contains_key(&tp)) {
    ///         println!("{tp} on broker {broker} lives in {}", dir.path);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn describe_log_dirs(
        &self,
        brokers: Option<&[NodeId]>,
    ) -> Result<BTreeMap<NodeId, Result<Vec<LogDirDescription>>>> {
        let deadline = self.deadline(None);
        self.each_broker(
            "describing log dirs",
            brokers,
            deadline,
            |_| DescribeLogDirsRequest { topics: None },
            |broker, resp: DescribeLogDirsResponse| {
                check_code(resp.error_code, || {
                    format!("describing the log dirs of broker {broker}")
                })?;
                Ok(resp
                    .results
                    .into_iter()
                    .map(|d| LogDirDescription::from_response(broker, d))
                    .collect())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::describe_log_dirs::{DescribeLogDirsPartition, DescribeLogDirsTopic};
    use crate::protocol::error_code::ErrorCode;

    #[test]
    fn a_log_dir_lists_its_replicas_and_keeps_its_error() {
        let d = DescribeLogDirsResult {
            error_code: 0,
            log_dir: "/data/a".into(),
            topics: vec![DescribeLogDirsTopic {
                name: "t".into(),
                partitions: vec![DescribeLogDirsPartition {
                    partition_index: 2,
                    partition_size: 100,
                    offset_lag: 0,
                    is_future_key: false,
                }],
            }],
            total_bytes: -1,
            usable_bytes: 10,
            is_cordoned: false,
        };
        let desc = LogDirDescription::from_response(1, d);
        assert_eq!(desc.replicas[&TopicPartition::new("t", 2)].size, 100);
        assert_eq!((desc.total_bytes, desc.usable_bytes), (None, Some(10)));
        assert!(desc.error.is_none());
        let offline = DescribeLogDirsResult {
            error_code: ErrorCode::KAFKA_STORAGE_ERROR.0,
            log_dir: "/data/b".into(),
            topics: vec![],
            total_bytes: -1,
            usable_bytes: -1,
            is_cordoned: false,
        };
        let desc = LogDirDescription::from_response(1, offline);
        assert_eq!(
            desc.error.and_then(|e| e.code()),
            Some(ErrorCode::KAFKA_STORAGE_ERROR)
        );
    }
}
