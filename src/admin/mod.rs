//! [`AdminClient`]: topics, partitions, configs, consumer groups, records, ACLs and SCRAM
//! credentials, as blocking calls with timeouts — kafka-python's `KafkaAdminClient`.
//!
//! Every call blocks the calling thread until the brokers answered or the call's timeout
//! (`default_api_timeout`, 60 s unless configured) passed. The admin client's background
//! I/O thread routes each request to the right broker (the controller, a group's
//! coordinator, a partition's leader, or every broker) at the highest protocol version both
//! sides speak; retriable errors (`NOT_CONTROLLER`, `NOT_COORDINATOR`,
//! `COORDINATOR_LOAD_IN_PROGRESS`, `LEADER_NOT_AVAILABLE`, lost connections, ...) are
//! retried after `retry_backoff` until the timeout.
//!
//! Calls on many items (topics, groups, partitions) answer per item: one topic that
//! already exists among five is an `Err` in its own entry of the returned map, and the
//! other four are created. Only failures of the whole call — no broker reachable, the
//! timeout — make the call itself return `Err`.
//!
//! # Examples
//! ```no_run
//! # fn main() -> kafka_sync::Result<()> {
//! use kafka_sync::admin::{AdminClient, CreateTopicsOptions, NewTopic};
//! let admin = AdminClient::builder().bootstrap_servers("127.0.0.1:9092").build()?;
//! let results = admin.create_topics(&[NewTopic::new("events", 3, 1)], CreateTopicsOptions::default())?;
//! for (topic, result) in &results {
//!     match result {
//!         Ok(()) => println!("created {topic}"),
//!         Err(e) => println!("{topic}: {e}"),
//!     }
//! }
//! println!("{:?}", admin.list_topics()?);
//! # Ok(()) }
//! ```

mod acl_types;
mod acls;
mod builder;
mod call;
mod cluster;
mod config_resource;
mod configs;
mod consumer_protocol_groups;
mod coordinator;
mod driver;
mod groups;
mod leader_election;
mod leader_routing;
mod log_dirs;
mod offset_lookup;
mod offset_reset;
mod offsets;
mod reassignments;
mod records;
mod replace_configs;
mod scram_credentials;
mod share_groups;
mod topics;
mod transactions;
mod version;

use std::time::{Duration, Instant};

use crate::config::AdminConfig;
use crate::error::Result;
use crate::net::io_thread::IoHandle;

pub use crate::net::metadata::BrokerMetadata;
pub use acl_types::{
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, PatternType, ResourcePattern,
    ResourceType,
};
pub use builder::AdminClientBuilder;
pub use cluster::{ClusterDescription, PartitionInfo, TopicDescription};
pub use config_resource::{ConfigResource, ConfigResourceType};
pub use configs::{AlterConfigOp, AlterConfigOpType, ConfigEntry, ConfigSource};
pub use groups::{GroupDescription, GroupListing, ListConsumerGroupsOptions, MemberDescription};
pub use leader_election::ElectionType;
pub use log_dirs::{LogDirDescription, ReplicaInfo};
pub use offset_lookup::{ListedOffset, OffsetSpec};
pub use offset_reset::ResetTo;
pub use reassignments::PartitionReassignment;
pub use scram_credentials::{ScramCredentialInfo, ScramMechanism, UserScramCredentialAlteration};
pub use share_groups::{ShareGroupDescription, ShareMemberDescription, SharePartitionOffset};
pub use topics::{CreateTopicsOptions, ListTopicsOptions, NewPartitions, NewTopic};
pub use transactions::{
    ListTransactionsOptions, ProducerState, TransactionDescription, TransactionListing,
};

use driver::{AdminCommand, AdminDriver};

/// How long `Drop` waits for the I/O thread to stop.
const DROP_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A Kafka admin client, as kafka-python's `KafkaAdminClient`: creates and deletes
/// topics, adds partitions, describes and alters configs, lists, describes and deletes
/// consumer groups, reads, alters and resets committed offsets, looks offsets up and
/// deletes records; describes log dirs, moves replicas and elects leaders; describes
/// transactions and producers.
///
/// It owns one background I/O thread and is `Send + Sync`: share it between threads by
/// reference or in an `Arc`. Dropping it (or [`close`](Self::close)) stops the thread.
///
/// # Method names
///
/// The methods carry the Java `Admin` interface's names in snake_case, which are also
/// kafka-python 2.x's. Where kafka-python 3.x renamed a method, its name is a
/// `#[doc(alias)]`: searching these docs for it finds the method.
///
/// | kafka-sync (Java `Admin`) | kafka-python 3.x |
/// |---|---|
/// | `list_consumer_groups` | `list_groups` |
/// | `describe_consumer_groups` | `describe_groups` |
/// | `delete_consumer_groups` | `delete_groups` |
/// | `list_consumer_group_offsets` | `list_group_offsets` |
/// | `alter_consumer_group_offsets` | `alter_group_offsets` |
/// | `reset_consumer_group_offsets` (`kafka-consumer-groups.sh --reset-offsets`) | `reset_group_offsets` |
/// | `list_offsets` | `list_partition_offsets` |
/// | `elect_leaders` | `elect_leaders` (2.x: `perform_leader_election`) |
/// | `incremental_alter_configs` | `alter_configs` (its default) |
/// | `alter_configs` (replaces the whole set) | `alter_configs(incremental=False)` |
///
/// The other calls kafka-python 3.x has keep their names in all three: `create_topics`,
/// `delete_topics`, `list_topics`, `describe_topics`, `describe_cluster`,
/// `describe_configs`, `create_partitions`, `delete_records`, `describe_log_dirs`,
/// `alter_partition_reassignments`, `list_partition_reassignments`,
/// `describe_transactions`, `list_transactions` and `describe_producers`. Mind
/// `alter_configs`: kafka-python 3.x's alters incrementally, ours (as Java's) replaces.
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// use std::time::Duration;
/// use kafka_sync::admin::AdminClient;
/// let admin = AdminClient::builder()
///     .bootstrap_servers("127.0.0.1:9092")
///     .client_id("ops-tool")
///     .request_timeout(Duration::from_secs(10))
///     .build()?;
/// let cluster = admin.describe_cluster()?;
/// println!("cluster {:?} has {} brokers", cluster.cluster_id, cluster.brokers.len());
/// admin.close(Duration::from_secs(5));
/// # Ok(()) }
/// ```
pub struct AdminClient {
    io: IoHandle<AdminCommand>,
    config: AdminConfig,
}

impl AdminClient {
    /// Starts building an admin client.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder()
    ///     .bootstrap_servers("127.0.0.1:9092")
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn builder() -> AdminClientBuilder {
        AdminClientBuilder::default()
    }

    pub(crate) fn start(config: AdminConfig) -> Result<AdminClient> {
        let io = IoHandle::spawn(config.client.clone(), AdminDriver::default())?;
        Ok(AdminClient { io, config })
    }

    /// Stops the background I/O thread and closes every connection, waiting at most
    /// `timeout` for the thread to stop. Calls still waiting (from other threads) fail
    /// with [`Error::Closed`](crate::Error::Closed). Dropping the client does the same
    /// within 5 s. The same shape as [`Producer::close`](crate::Producer::close) and
    /// [`Consumer::close`](crate::Consumer::close).
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// admin.close(std::time::Duration::from_secs(5));
    /// # Ok(()) }
    /// ```
    pub fn close(self, timeout: Duration) {
        self.io.close(timeout);
    }

    /// The default time limit of a call.
    fn api_timeout(&self) -> Duration {
        self.config.default_api_timeout
    }

    /// The deadline of a call that starts now with the given (or the default) timeout.
    fn deadline(&self, timeout: Option<Duration>) -> Instant {
        crate::deadline::from_now(timeout.unwrap_or_else(|| self.api_timeout()))
    }
}

impl Drop for AdminClient {
    fn drop(&mut self) {
        self.io.close(DROP_CLOSE_TIMEOUT);
    }
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("client_id", &self.config.client.client_id)
            .field("bootstrap_servers", &self.config.client.bootstrap_servers)
            .finish_non_exhaustive()
    }
}

/// Milliseconds for a request's `timeout_ms` field, given the time left before the call's
/// deadline. The broker is given a tenth less (at most a second less), so that its own
/// answer at its timeout (REQUEST_TIMED_OUT for a topic a ZooKeeper-mode broker could not
/// bring online) reaches us before our deadline instead of racing it.
fn timeout_ms(left: Duration) -> i32 {
    let margin = (left / 10).min(Duration::from_secs(1));
    i32::try_from((left - margin).as_millis()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod timeout_ms_tests {
    use super::*;

    #[test]
    fn leaves_the_broker_room_to_answer_before_the_deadline() {
        assert_eq!(timeout_ms(Duration::from_secs(30)), 29_000);
        assert_eq!(timeout_ms(Duration::from_secs(5)), 4_500);
        assert_eq!(timeout_ms(Duration::from_millis(100)), 90);
        assert_eq!(timeout_ms(Duration::ZERO), 0);
        assert_eq!(timeout_ms(Duration::MAX), i32::MAX);
    }
}
