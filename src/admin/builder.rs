//! [`AdminClientBuilder`]: configuration of an [`AdminClient`] with kafka-python's names.

use std::time::Duration;

use crate::client_setters::client_setters;
use crate::config::{AdminConfig, ConfigError};
use crate::error::Result;

use super::AdminClient;

/// Builds an [`AdminClient`]. Setters take kafka-python's names, with `Duration` for
/// `*_ms`; [`set`](Self::set) takes Java, librdkafka and kafka-python property names.
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// use std::time::Duration;
/// use kafka_sync::admin::AdminClient;
/// let admin = AdminClient::builder()
///     .bootstrap_servers("127.0.0.1:9092")
///     .client_id("provisioner")
///     .default_api_timeout(Duration::from_secs(30))
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct AdminClientBuilder {
    config: AdminConfig,
    error: Option<ConfigError>,
}

impl AdminClientBuilder {
    client_setters!();

    /// Time limit of each admin call, retries included, when the call takes no timeout
    /// of its own. Default 60 s. Java: `default.api.timeout.ms`.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let b = kafka_sync::admin::AdminClient::builder().default_api_timeout(Duration::from_secs(5));
    /// ```
    pub fn default_api_timeout(self, timeout: Duration) -> Self {
        self.set("default.api.timeout.ms", &timeout.as_millis().to_string())
    }

    /// Sets any property by its Java, librdkafka or kafka-python name; an unknown key or
    /// bad value is reported by [`build`](Self::build).
    ///
    /// # Examples
    /// ```
    /// let b = kafka_sync::admin::AdminClient::builder()
    ///     .set("bootstrap.servers", "127.0.0.1:9092")
    ///     .set("request.timeout.ms", "5000");
    /// ```
    pub fn set(mut self, key: &str, value: &str) -> Self {
        if self.error.is_none() {
            if let Err(e) = self.config.set(key, value) {
                self.error = Some(e);
            }
        }
        self
    }

    /// Validates the configuration and starts the admin client's I/O thread. Connecting
    /// happens in the background: an unreachable cluster shows up as
    /// [`Error::NoBrokersAvailable`](crate::Error::NoBrokersAvailable) from the first call.
    ///
    /// # Examples
    /// ```
    /// let err = kafka_sync::admin::AdminClient::builder().set("no.such.key", "1").build().unwrap_err();
    /// assert!(matches!(err, kafka_sync::Error::Config(_)));
    /// ```
    pub fn build(self) -> Result<AdminClient> {
        if let Some(e) = self.error {
            return Err(e.into());
        }
        AdminClient::start(self.config.validated()?)
    }
}
