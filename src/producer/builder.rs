//! [`ProducerBuilder`]: configuration of a [`Producer`] with kafka-python's names.

use std::sync::Arc;
use std::time::Duration;

use crate::client_setters::client_setters;
use crate::config::{Acks, ConfigError, ProducerConfig};
use crate::error::Result;
use crate::protocol::compression::Compression;

use super::handle::Producer;
use super::partitioner::{DefaultPartitioner, Partitioner};

/// Builds a [`Producer`]. Setters take kafka-python's names, with `Duration` for `*_ms`;
/// [`set`](Self::set) takes Java, librdkafka and kafka-python property names.
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// use kafka_sync::{Acks, Compression, Producer};
/// let producer = Producer::builder()
///     .bootstrap_servers("127.0.0.1:9092")
///     .acks(Acks::Leader)
///     .compression_type(Compression::Gzip)
///     .retries(5)
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct ProducerBuilder {
    config: ProducerConfig,
    partitioner: Option<Arc<dyn Partitioner>>,
    error: Option<ConfigError>,
}

impl std::fmt::Debug for ProducerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerBuilder")
            .field("config", &self.config)
            .field("custom_partitioner", &self.partitioner.is_some())
            .field("error", &self.error)
            .finish()
    }
}

impl ProducerBuilder {
    client_setters!();

    /// Acknowledgements the leader waits for: `None` (0), `Leader` (1) or `All` (-1).
    /// Default `All`. Java: `acks`.
    pub fn acks(self, acks: Acks) -> Self {
        self.set("acks", &acks.as_i16().to_string())
    }

    /// Batch compression. Default none. Java: `compression.type`.
    pub fn compression_type(self, codec: Compression) -> Self {
        self.set("compression.type", codec.name())
    }

    /// Compression level for the codec (gzip 1–9, lz4 1–17, zstd up to 22); the codec's
    /// default if unset. Java: `compression.<codec>.level`.
    pub fn compression_level(self, level: i32) -> Self {
        self.set("compression.level", &level.to_string())
    }

    /// Time a batch waits for more records before it is sent, in whole milliseconds
    /// (as `linger.ms`); a non-zero linger under 1 ms is rejected at `build()` rather
    /// than silently made 0. Default 5 ms. Java: `linger.ms`.
    pub fn linger(self, linger: Duration) -> Self {
        if !linger.is_zero() && linger < Duration::from_millis(1) {
            let reason = "below linger.ms's 1 ms resolution; use Duration::ZERO or at least 1 ms";
            return self.set_error(ConfigError::invalid(
                "linger.ms",
                format!("{linger:?}"),
                reason,
            ));
        }
        self.set("linger.ms", &linger.as_millis().to_string())
    }

    /// Target size of one partition's batch in bytes. Default 16384. Java: `batch.size`.
    pub fn batch_size(self, bytes: usize) -> Self {
        self.set("batch.size", &bytes.to_string())
    }

    /// Memory for records not yet acknowledged; `send` blocks when it is full. Default
    /// 32 MiB. Java: `buffer.memory`.
    pub fn buffer_memory(self, bytes: usize) -> Self {
        self.set("buffer.memory", &bytes.to_string())
    }

    /// Longest `send` blocks for buffer memory or metadata. Default 60 s. Java:
    /// `max.block.ms`.
    pub fn max_block(self, max_block: Duration) -> Self {
        self.set("max.block.ms", &max_block.as_millis().to_string())
    }

    /// Largest request, and so largest record, in bytes. Default 1 MiB. Java:
    /// `max.request.size`.
    pub fn max_request_size(self, bytes: usize) -> Self {
        self.set("max.request.size", &bytes.to_string())
    }

    /// How often a batch is retried after retriable errors, within `delivery_timeout`.
    /// Default unlimited. Java: `retries`.
    pub fn retries(self, retries: u32) -> Self {
        self.set("retries", &retries.to_string())
    }

    /// Upper bound on the time from `send` to the record's outcome. Default 120 s. Java:
    /// `delivery.timeout.ms`.
    pub fn delivery_timeout(self, timeout: Duration) -> Self {
        self.set("delivery.timeout.ms", &timeout.as_millis().to_string())
    }

    /// Exactly-once delivery per partition: producer id and sequence numbers, so retries
    /// never duplicate records. Default true. Java: `enable.idempotence`.
    pub fn enable_idempotence(self, on: bool) -> Self {
        self.set("enable.idempotence", if on { "true" } else { "false" })
    }

    /// Makes this a transactional producer with this id (see
    /// [`Producer::init_transactions`]); implies idempotence. Default none. Java:
    /// `transactional.id`.
    ///
    /// # Examples
    /// ```
    /// let b = kafka_sync::Producer::builder().transactional_id("orders-copier-1");
    /// ```
    pub fn transactional_id(self, id: &str) -> Self {
        self.set("transactional.id", id)
    }

    /// Longest a transaction may stay open before its coordinator aborts it. Default
    /// 60 s. Java: `transaction.timeout.ms`.
    ///
    /// # Examples
    /// ```
    /// let b = kafka_sync::Producer::builder().transaction_timeout(std::time::Duration::from_secs(10));
    /// ```
    pub fn transaction_timeout(self, timeout: Duration) -> Self {
        self.set("transaction.timeout.ms", &timeout.as_millis().to_string())
    }

    /// Caps the transaction protocol version (1 or 2), to speak protocol 1 to brokers
    /// that finalize 2. Default 2.
    #[doc(hidden)]
    pub fn max_transaction_version(mut self, version: i16) -> Self {
        self.config.max_transaction_version = version;
        self
    }

    /// Records the first error, reported by `build()`.
    fn set_error(mut self, e: ConfigError) -> Self {
        self.error.get_or_insert(e);
        self
    }

    /// Sets any property by its Java, librdkafka or kafka-python name; an unknown key or
    /// bad value is reported by [`build`](Self::build).
    ///
    /// # Examples
    /// ```
    /// let b = kafka_sync::Producer::builder().set("linger.ms", "10").set("acks", "all");
    /// ```
    pub fn set(mut self, key: &str, value: &str) -> Self {
        if self.error.is_none() {
            if let Err(e) = self.config.set(key, value) {
                self.error = Some(e);
            }
        }
        self
    }

    /// Uses a custom partitioner instead of the Java-compatible default.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::{Partitioner, Producer};
    /// struct Zero;
    /// impl Partitioner for Zero {
    ///     fn partition(&self, _: &str, _: Option<&[u8]>, _: &[i32], _: usize) -> i32 { 0 }
    /// }
    /// let b = Producer::builder().partitioner(Zero);
    /// ```
    pub fn partitioner(mut self, p: impl Partitioner + 'static) -> Self {
        self.partitioner = Some(Arc::new(p));
        self
    }

    /// Validates the configuration and starts the producer's I/O thread.
    ///
    /// # Examples
    /// ```
    /// let err = kafka_sync::Producer::builder().set("lingr.ms", "5").build().unwrap_err();
    /// assert!(matches!(err, kafka_sync::Error::Config(_)));
    /// ```
    pub fn build(self) -> Result<Producer> {
        if let Some(e) = self.error {
            return Err(e.into());
        }
        let config = self.config.validated()?;
        let partitioner = self
            .partitioner
            .unwrap_or_else(|| Arc::new(DefaultPartitioner::default()));
        Producer::start(config, partitioner)
    }
}
