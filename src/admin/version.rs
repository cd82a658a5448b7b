//! The admin client's `check_version()` and `cluster()`, as on the producer and consumer.

use std::sync::Arc;

use crate::broker_version::BrokerVersion;
use crate::error::Result;
use crate::net::metadata::ClusterMetadata;
use crate::net::versions::check_version;

use super::AdminClient;

impl AdminClient {
    /// The Kafka release of the brokers (kafka-python's `check_version()`): the one
    /// `api_version` pins the client to if set, else the release inferred from the first
    /// broker's ApiVersions. Waits up to `api_version_auto_timeout` for the first
    /// connection, then fails with `Timeout`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// println!("brokers run Kafka {}", admin.check_version()?);
    /// # Ok(()) }
    /// ```
    pub fn check_version(&self) -> Result<BrokerVersion> {
        check_version(&self.config.client, &self.io.metadata)
    }

    /// A snapshot of the cluster metadata the client holds (kafka-python's `cluster`):
    /// brokers, controller, and the topics it has listed or described, with their
    /// partitions and leaders. Refreshed in the background; call again for a newer one.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// let cluster = admin.cluster();
    /// println!("controller: {:?}", cluster.controller());
    /// # Ok(()) }
    /// ```
    pub fn cluster(&self) -> Arc<ClusterMetadata> {
        self.io.metadata.load()
    }
}
