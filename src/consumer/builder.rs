//! [`ConsumerBuilder`]: configuration of a [`Consumer`] with kafka-python's names.

use std::sync::Arc;
use std::time::Duration;

use crate::client_setters::client_setters;
use crate::config::{AssignmentStrategy, ConfigError, ConsumerConfig, IsolationLevel, OffsetReset};
use crate::error::Result;
use crate::net::io_thread::IoHandle;

use super::buffer::FetchBuffer;
use super::core::ConsumerCore;
use super::driver::{ConsumerDriver, PollClock};
use super::handle::Consumer;
use super::metrics::ConsumerStats;
use super::record::{BytesDeserializer, Deserializer};

/// Builds a [`Consumer`]. Setters take kafka-python's names, with `Duration` for `*_ms`;
/// [`set`](Self::set) takes Java, librdkafka and kafka-python property names.
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// use kafka_sync::{Consumer, OffsetReset};
/// let consumer = Consumer::builder()
///     .bootstrap_servers("127.0.0.1:9092")
///     .group_id("my-group")
///     .auto_offset_reset(OffsetReset::Earliest)
///     .enable_auto_commit(false)
///     .build()?;
/// # Ok(()) }
/// ```
pub struct ConsumerBuilder<K, V> {
    config: ConsumerConfig,
    error: Option<ConfigError>,
    key_deserializer: Box<dyn Deserializer<K>>,
    value_deserializer: Box<dyn Deserializer<V>>,
}

impl<K, V> std::fmt::Debug for ConsumerBuilder<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerBuilder")
            .field("config", &self.config)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl ConsumerBuilder<bytes::Bytes, bytes::Bytes> {
    pub(crate) fn new() -> Self {
        ConsumerBuilder {
            config: ConsumerConfig::default(),
            error: None,
            key_deserializer: Box::new(BytesDeserializer),
            value_deserializer: Box::new(BytesDeserializer),
        }
    }
}

impl<K, V> ConsumerBuilder<K, V> {
    client_setters!();

    /// The consumer group to join for `subscribe` and commits; none by default (then
    /// only `assign` works and nothing is committed). Java: `group.id`.
    pub fn group_id(self, group: impl AsRef<str>) -> Self {
        self.set("group.id", group.as_ref())
    }

    /// Static membership id (KIP-345): a restart within the session timeout keeps the
    /// member's partitions without a rebalance. Java: `group.instance.id`.
    pub fn group_instance_id(self, id: impl AsRef<str>) -> Self {
        self.set("group.instance.id", id.as_ref())
    }

    /// The group protocol: `Classic` (default) or `Consumer` (KIP-848, Kafka 4.0+: the
    /// broker assigns partitions and moves them without stopping the group). Java:
    /// `group.protocol`.
    ///
    /// # Examples
    /// ```no_run
    /// use kafka_sync::config::GroupProtocol;
    /// let consumer = kafka_sync::Consumer::builder()
    ///     .bootstrap_servers("127.0.0.1:9092")
    ///     .group_id("billing")
    ///     .group_protocol(GroupProtocol::Consumer)
    ///     .build()?;
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn group_protocol(self, protocol: crate::config::GroupProtocol) -> Self {
        self.set("group.protocol", protocol.name())
    }

    /// The broker-side assignor for `group.protocol=consumer` (`uniform` or `range` on
    /// Apache Kafka); by default the broker's first configured one. Java:
    /// `group.remote.assignor`.
    pub fn group_remote_assignor(self, name: impl AsRef<str>) -> Self {
        self.set("group.remote.assignor", name.as_ref())
    }

    /// Where to start when there is no committed offset (or it is out of range):
    /// `Earliest`, `Latest` or `None` (an error). Default `Latest`. Java:
    /// `auto.offset.reset`.
    pub fn auto_offset_reset(self, reset: OffsetReset) -> Self {
        let v = match reset {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
            OffsetReset::None => "none",
        };
        self.set("auto.offset.reset", v)
    }

    /// pykafka's rule: when true, the consumer starts from `auto_offset_reset` even
    /// where the group has committed offsets; partitions that later rebalances assign
    /// resume from the committed offsets. Default false. kafka-sync:
    /// `reset.offset.on.start`.
    pub fn reset_offset_on_start(self, on: bool) -> Self {
        self.set("reset.offset.on.start", if on { "true" } else { "false" })
    }

    /// Commit consumed positions in the background every `auto_commit_interval`.
    /// Default true (with a group). Java: `enable.auto.commit`.
    pub fn enable_auto_commit(self, on: bool) -> Self {
        self.set("enable.auto.commit", if on { "true" } else { "false" })
    }

    /// How often auto-commit commits. Default 5 s. Java: `auto.commit.interval.ms`.
    pub fn auto_commit_interval(self, interval: Duration) -> Self {
        self.set("auto.commit.interval.ms", &interval.as_millis().to_string())
    }

    /// End iteration after this long without a record; forever by default. kafka-python:
    /// `consumer_timeout_ms`.
    pub fn consumer_timeout(self, timeout: Duration) -> Self {
        self.set("consumer.timeout.ms", &timeout.as_millis().to_string())
    }

    /// The group drops a member it has not heard from for this long. Default 45 s.
    /// Java: `session.timeout.ms`.
    pub fn session_timeout(self, timeout: Duration) -> Self {
        self.set("session.timeout.ms", &timeout.as_millis().to_string())
    }

    /// How often the background thread heartbeats. Default 3 s. Java:
    /// `heartbeat.interval.ms`.
    pub fn heartbeat_interval(self, interval: Duration) -> Self {
        self.set("heartbeat.interval.ms", &interval.as_millis().to_string())
    }

    /// Longest time between polls before the consumer leaves the group. Default 5 min.
    /// Java: `max.poll.interval.ms`.
    pub fn max_poll_interval(self, interval: Duration) -> Self {
        self.set("max.poll.interval.ms", &interval.as_millis().to_string())
    }

    /// Most records one `poll` returns. Default 500. Java: `max.poll.records`.
    pub fn max_poll_records(self, n: usize) -> Self {
        self.set("max.poll.records", &n.to_string())
    }

    /// The broker answers a fetch once it has this many bytes (or `fetch_max_wait`
    /// passes). Default 1. Java: `fetch.min.bytes`.
    pub fn fetch_min_bytes(self, bytes: i32) -> Self {
        self.set("fetch.min.bytes", &bytes.to_string())
    }

    /// Longest the broker holds a fetch waiting for `fetch_min_bytes`. Default 500 ms.
    /// Java: `fetch.max.wait.ms`.
    pub fn fetch_max_wait(self, wait: Duration) -> Self {
        self.set("fetch.max.wait.ms", &wait.as_millis().to_string())
    }

    /// Most bytes one fetch response carries; also bounds the prefetch buffer. Default
    /// 50 MiB. Java: `fetch.max.bytes`.
    pub fn fetch_max_bytes(self, bytes: i32) -> Self {
        self.set("fetch.max.bytes", &bytes.to_string())
    }

    /// Most bytes per partition in one fetch. Default 1 MiB. Java:
    /// `max.partition.fetch.bytes`.
    pub fn max_partition_fetch_bytes(self, bytes: i32) -> Self {
        self.set("max.partition.fetch.bytes", &bytes.to_string())
    }

    /// Most memory one fetched record batch may take decoded (decompressed bytes plus
    /// records and headers); a batch over it is an
    /// [`Error::CorruptRecords`](crate::Error::CorruptRecords). Default 64 MiB, or 16 ×
    /// `max_partition_fetch_bytes` when that is larger. No Java equivalent; kafka-sync:
    /// `max.decoded.batch.bytes`.
    pub fn max_decoded_batch_bytes(self, bytes: usize) -> Self {
        self.set("max.decoded.batch.bytes", &bytes.to_string())
    }

    /// Verify record CRCs. Default true. Java: `check.crcs`.
    pub fn check_crcs(self, on: bool) -> Self {
        self.set("check.crcs", if on { "true" } else { "false" })
    }

    /// Drop legacy (v0/v1) messages that were compressed twice (a bug of
    /// kafka-python's producer up to 1.2.4) instead of handing each out as one record
    /// whose value is still compressed. Default false. kafka-python:
    /// `skip_double_compressed_messages`.
    pub fn skip_double_compressed_messages(self, skip: bool) -> Self {
        self.set(
            "skip.double.compressed.messages",
            if skip { "true" } else { "false" },
        )
    }

    /// `ReadCommitted` hides aborted transactions. Default `ReadUncommitted`. Java:
    /// `isolation.level`.
    pub fn isolation_level(self, level: IsolationLevel) -> Self {
        let v = match level {
            IsolationLevel::ReadUncommitted => "read_uncommitted",
            IsolationLevel::ReadCommitted => "read_committed",
        };
        self.set("isolation.level", v)
    }

    /// Assignors offered to the group, in preference order. Default range, then
    /// cooperative-sticky. Java: `partition.assignment.strategy`.
    pub fn partition_assignment_strategy(self, strategies: &[AssignmentStrategy]) -> Self {
        let names: Vec<&str> = strategies.iter().map(|s| s.name()).collect();
        self.set("partition.assignment.strategy", &names.join(","))
    }

    /// Leave internal topics out of pattern subscriptions and `topics()`. Default true.
    /// Java: `exclude.internal.topics`.
    pub fn exclude_internal_topics(self, on: bool) -> Self {
        self.set("exclude.internal.topics", if on { "true" } else { "false" })
    }

    /// Let subscribing to (or assigning) a topic that does not exist create it, where
    /// the broker's `auto.create.topics.enable` allows it. Lookups such as
    /// `partitions_for_topic` never create topics. Default true. Java:
    /// `allow.auto.create.topics`.
    ///
    /// # Examples
    /// ```
    /// let consumer = kafka_sync::Consumer::builder().allow_auto_create_topics(false);
    /// ```
    pub fn allow_auto_create_topics(self, on: bool) -> Self {
        self.set(
            "allow.auto.create.topics",
            if on { "true" } else { "false" },
        )
    }

    /// Timeout of blocking calls such as `commit`, `position` and `committed`; also how
    /// long `poll` goes on with no broker reachable before it reports the outage as
    /// `NoBrokersAvailable` or `Disconnected`. Default 60 s. Java:
    /// `default.api.timeout.ms`.
    pub fn default_api_timeout(self, timeout: Duration) -> Self {
        self.set("default.api.timeout.ms", &timeout.as_millis().to_string())
    }

    /// Sets any property by its Java, librdkafka or kafka-python name; an unknown key or
    /// bad value is reported by [`build`](Self::build).
    ///
    /// # Examples
    /// ```
    /// let b = kafka_sync::Consumer::builder().set("group.id", "g").set("auto.offset.reset", "earliest");
    /// ```
    pub fn set(mut self, key: &str, value: &str) -> Self {
        if self.error.is_none() {
            if let Err(e) = self.config.set(key, value) {
                self.error = Some(e);
            }
        }
        self
    }

    /// Deserializes keys with `d` (kafka-python's `key_deserializer`).
    ///
    /// # Examples
    /// ```
    /// let b = kafka_sync::Consumer::builder()
    ///     .key_deserializer(|_topic: &str, b: &bytes::Bytes| String::from_utf8(b.to_vec()));
    /// ```
    pub fn key_deserializer<K2>(
        self,
        d: impl Deserializer<K2> + 'static,
    ) -> ConsumerBuilder<K2, V> {
        ConsumerBuilder {
            config: self.config,
            error: self.error,
            key_deserializer: Box::new(d),
            value_deserializer: self.value_deserializer,
        }
    }

    /// Deserializes values with `d` (kafka-python's `value_deserializer`).
    ///
    /// # Examples
    /// ```
    /// let b = kafka_sync::Consumer::builder()
    ///     .value_deserializer(|_topic: &str, b: &bytes::Bytes| String::from_utf8(b.to_vec()));
    /// ```
    pub fn value_deserializer<V2>(
        self,
        d: impl Deserializer<V2> + 'static,
    ) -> ConsumerBuilder<K, V2> {
        ConsumerBuilder {
            config: self.config,
            error: self.error,
            key_deserializer: self.key_deserializer,
            value_deserializer: Box::new(d),
        }
    }

    /// Validates the configuration and starts the consumer's I/O thread.
    ///
    /// # Examples
    /// ```
    /// let err = kafka_sync::Consumer::builder()
    ///     .set("session.timeout.ms", "1000")
    ///     .set("heartbeat.interval.ms", "2000")
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, kafka_sync::Error::Config(_)));
    /// ```
    pub fn build(self) -> Result<Consumer<K, V>> {
        if let Some(e) = self.error {
            return Err(e.into());
        }
        let config = Arc::new(self.config.validated()?);
        let buffer = Arc::new(FetchBuffer::new(config.fetch_max_bytes.max(1) as usize));
        let clock = Arc::new(PollClock::default());
        let stats = Arc::new(ConsumerStats::default());
        let driver =
            ConsumerDriver::new(config.clone(), buffer.clone(), clock.clone(), stats.clone())?;
        let io = IoHandle::spawn(config.client.clone(), driver)?;
        let waker = io.waker();
        buffer.set_waker(move || {
            let _ = waker.wake();
        });
        Ok(Consumer::from_parts(
            ConsumerCore::new(io, config, buffer, clock, stats),
            self.key_deserializer,
            self.value_deserializer,
        ))
    }
}
