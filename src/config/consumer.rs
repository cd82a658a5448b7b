//! [`ConsumerConfig`]: group membership, fetching, offsets and commits, with the Java
//! client's rules for how they combine.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::client::ClientConfig;
use super::group_protocol::GroupProtocol;
use super::keys::{self, Explicit};
use super::properties::{
    cap, check_positive, ms, parse_bool, parse_int, parse_ms, parse_properties, parse_size,
};
use super::{AssignmentStrategy, ConfigError};

/// `max_decoded_batch_bytes` unless set, or raised to fit `max_partition_fetch_bytes`.
const DEFAULT_MAX_DECODED_BATCH: usize = 64 * 1024 * 1024;
/// How much larger than its wire size a batch of the smallest records (7 bytes, each a
/// `Record` of about 100 bytes in memory) gets when decoded.
const DECODED_GROWTH: usize = 16;

/// Headroom of the largest accepted response over `fetch_max_bytes` when
/// `max_response_size` follows it (the default's: 128 MiB over 50 MiB).
const RESPONSE_HEADROOM: usize = (128 - 50) * 1024 * 1024;

/// The consumer's configuration: the shared [`ClientConfig`] plus group membership,
/// fetching, offset reset and commits.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use kafka_sync::config::{ConfigError, ConsumerConfig, OffsetReset};
/// # fn main() -> Result<(), ConfigError> {
/// let config = ConsumerConfig::from_properties(
///     "bootstrap.servers=127.0.0.1:9092\ngroup.id=billing\nauto.offset.reset=earliest",
/// )?
/// .validated()?;
/// assert_eq!(config.group_id.as_deref(), Some("billing"));
/// assert_eq!(config.auto_offset_reset, OffsetReset::Earliest);
/// assert!(config.enable_auto_commit);
///
/// // Without a group there is nothing to commit to: auto commit is off.
/// let config = ConsumerConfig::default().validated()?;
/// assert!(!config.enable_auto_commit);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// The settings every client shares.
    pub client: ClientConfig,
    /// The consumer group to join for `subscribe` and commits; `None` means no group
    /// (only `assign` works and nothing is committed). Default `None`. Java: `group.id`.
    pub group_id: Option<String>,
    /// Static membership id (KIP-345): a member restarting within `session_timeout`
    /// keeps its partitions without a rebalance. Needs `group_id`. Default `None`. Java:
    /// `group.instance.id`.
    pub group_instance_id: Option<String>,
    /// The broker answers a fetch once it has this many bytes, or `fetch_max_wait`
    /// passed; 0 answers at once. Default 1. Java: `fetch.min.bytes`.
    pub fetch_min_bytes: i32,
    /// Longest the broker holds a fetch waiting for `fetch_min_bytes`; less than
    /// `request_timeout`. Default 500 ms. Java: `fetch.max.wait.ms`.
    pub fetch_max_wait: Duration,
    /// Most bytes one fetch response carries (a first batch larger than this still
    /// comes, alone). Default 50 MiB. Java: `fetch.max.bytes`.
    pub fetch_max_bytes: i32,
    /// Most bytes per partition in one fetch (with the same exception). Default 1 MiB.
    /// Java: `max.partition.fetch.bytes`.
    pub max_partition_fetch_bytes: i32,
    /// Most records one `poll` returns. Default 500. Java: `max.poll.records`.
    pub max_poll_records: usize,
    /// Longest time between polls before the member leaves the group so its partitions
    /// move to others; also the rebalance timeout. Default 5 min. Java:
    /// `max.poll.interval.ms`.
    pub max_poll_interval: Duration,
    /// Where to start when there is no committed offset, or it is out of range. Default
    /// [`OffsetReset::Latest`]. Java: `auto.offset.reset`.
    pub auto_offset_reset: OffsetReset,
    /// pykafka's rule: when true, the consumer starts its first assignment from
    /// `auto_offset_reset` even where the group has committed an offset; partitions
    /// assigned by later rebalances resume from the committed offsets. Default false.
    /// kafka-sync: `reset.offset.on.start` (kafka-python: `reset_offset_on_start`).
    pub reset_offset_on_start: bool,
    /// Commit consumed positions in the background every `auto_commit_interval`. Only
    /// with a `group_id`: without one it is turned off, unless set explicitly (then a
    /// conflict). Default true. Java: `enable.auto.commit`.
    pub enable_auto_commit: bool,
    /// How often auto commit commits. Default 5 s. Java: `auto.commit.interval.ms`.
    pub auto_commit_interval: Duration,
    /// Verify the CRC of fetched record batches. Default true. Java: `check.crcs`.
    pub check_crcs: bool,
    /// Most memory one fetched record batch may take decoded: its decompressed bytes
    /// plus every record's and header's in-memory size. A batch over it is an
    /// [`Error::CorruptRecords`](crate::Error::CorruptRecords) from `poll`, not an
    /// allocation, so a small compressed batch of millions of tiny records or headers
    /// cannot exhaust memory. Default 64 MiB, raised (unless set) to 16 ×
    /// `max_partition_fetch_bytes` when that is larger, which fits a full partition
    /// fetch of the smallest records. No Java equivalent; kafka-sync:
    /// `max.decoded.batch.bytes`.
    pub max_decoded_batch_bytes: usize,
    /// Whether records of aborted and open transactions are returned. Default
    /// [`IsolationLevel::ReadUncommitted`]. Java: `isolation.level`.
    pub isolation_level: IsolationLevel,
    /// The group drops a member it has not heard from for this long. Default 45 s. Java:
    /// `session.timeout.ms`.
    pub session_timeout: Duration,
    /// How often the background thread heartbeats; less than `session_timeout`, usually
    /// a third of it or less. Default 3 s. Java: `heartbeat.interval.ms`.
    pub heartbeat_interval: Duration,
    /// Assignors offered to the group, in preference order. Default `[Range,
    /// CooperativeSticky]`, as the Java client 3.x and 4.x. Java:
    /// `partition.assignment.strategy`.
    pub partition_assignment_strategy: Vec<AssignmentStrategy>,
    /// Leave internal topics (`__consumer_offsets`, ...) out of pattern subscriptions.
    /// Default true. Java: `exclude.internal.topics`.
    pub exclude_internal_topics: bool,
    /// Let subscribing to (or assigning) a missing topic create it, where the broker
    /// allows it; lookups such as `partitions_for_topic` never create topics. Default
    /// true. Java: `allow.auto.create.topics`.
    pub allow_auto_create_topics: bool,
    /// Iteration over the consumer ends after this long without a record; `None` blocks
    /// forever. Default `None`. kafka-python: `consumer_timeout_ms` (-1 for forever).
    pub consumer_timeout: Option<Duration>,
    /// Timeout of blocking calls such as `commit`, `position` and `committed`. Default
    /// 60 s. Java: `default.api.timeout.ms`.
    pub default_api_timeout: Duration,
    /// The group protocol: [`GroupProtocol::Classic`] (JoinGroup/SyncGroup, assignors on
    /// the client) or [`GroupProtocol::Consumer`] (KIP-848: the broker assigns, rebalances
    /// are incremental). Default `Classic`, as the Java client 4.x. Java: `group.protocol`.
    pub group_protocol: GroupProtocol,
    /// The broker-side assignor (`uniform` or `range` on Apache Kafka) for
    /// `group.protocol=consumer`; `None` lets the broker pick its default. Default `None`.
    /// Java: `group.remote.assignor`.
    pub group_remote_assignor: Option<String>,
    /// Drop the inner messages of legacy (v0/v1) compressed wrappers that are themselves
    /// compressed, which kafka-python's producer up to 1.2.4 wrote by mistake. When
    /// false such a message comes out as one record at its offset whose value is the
    /// still-compressed message set (kafka-python's default). Default false.
    /// kafka-python: `skip_double_compressed_messages` (Java has none).
    pub skip_double_compressed_messages: bool,
    /// Consumer keys given through `set`.
    explicit: Explicit,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            client: ClientConfig::default(),
            group_id: None,
            group_instance_id: None,
            fetch_min_bytes: 1,
            fetch_max_wait: Duration::from_millis(500),
            fetch_max_bytes: 50 * 1024 * 1024,
            max_partition_fetch_bytes: 1024 * 1024,
            max_poll_records: 500,
            max_poll_interval: Duration::from_secs(300),
            auto_offset_reset: OffsetReset::Latest,
            reset_offset_on_start: false,
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            check_crcs: true,
            max_decoded_batch_bytes: DEFAULT_MAX_DECODED_BATCH,
            isolation_level: IsolationLevel::ReadUncommitted,
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            partition_assignment_strategy: vec![
                AssignmentStrategy::Range,
                AssignmentStrategy::CooperativeSticky,
            ],
            exclude_internal_topics: true,
            allow_auto_create_topics: true,
            consumer_timeout: None,
            default_api_timeout: Duration::from_secs(60),
            group_protocol: GroupProtocol::Classic,
            group_remote_assignor: None,
            skip_double_compressed_messages: false,
            explicit: Explicit::default(),
        }
    }
}

impl ConsumerConfig {
    /// Sets one setting by its Java name, librdkafka alias or kafka-python name; the
    /// shared client settings too. The value is trimmed; an empty `group.id`,
    /// `group.instance.id` or `client.rack` means none.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use kafka_sync::config::{AssignmentStrategy, ConfigError, ConsumerConfig};
    /// # fn main() -> Result<(), ConfigError> {
    /// let mut config = ConsumerConfig::default();
    /// config.set("group.id", "billing")?;
    /// config.set("fetch.wait.max.ms", "100")?; // librdkafka's fetch.max.wait.ms
    /// config.set("consumer_timeout_ms", "1000")?; // kafka-python's name
    /// config.set(
    ///     "partition.assignment.strategy",
    ///     "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
    /// )?;
    /// assert_eq!(config.fetch_max_wait, Duration::from_millis(100));
    /// assert_eq!(config.consumer_timeout, Some(Duration::from_secs(1)));
    /// assert_eq!(config.partition_assignment_strategy, [AssignmentStrategy::CooperativeSticky]);
    /// assert!(config.set("linger.ms", "5").is_err()); // a producer setting
    /// # Ok(()) }
    /// ```
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let name = keys::resolve(key, keys::CONSUMER)?;
        self.apply(name, value.trim()).map_err(|e| e.with_key(key))
    }

    fn apply(&mut self, name: &'static str, value: &str) -> Result<(), ConfigError> {
        let optional = |v: &str| (!v.is_empty()).then(|| v.to_string());
        match name {
            "group.id" => self.group_id = optional(value),
            "group.instance.id" => {
                if !value.is_empty() {
                    check_instance_id(value)?;
                }
                self.group_instance_id = optional(value);
            }
            "group.protocol" => self.group_protocol = value.parse()?,
            "group.remote.assignor" => self.group_remote_assignor = optional(value),
            "fetch.min.bytes" => {
                self.fetch_min_bytes = parse_int(name, value, 0, i32::MAX.into())? as i32
            }
            "fetch.max.wait.ms" => self.fetch_max_wait = parse_ms(name, value)?,
            "fetch.max.bytes" => self.fetch_max_bytes = parse_size(name, value)? as i32,
            "max.partition.fetch.bytes" => {
                self.max_partition_fetch_bytes = parse_size(name, value)? as i32;
            }
            "max.poll.records" => self.max_poll_records = parse_size(name, value)?,
            "max.poll.interval.ms" => self.max_poll_interval = parse_ms(name, value)?,
            "auto.offset.reset" => self.auto_offset_reset = value.parse()?,
            "reset.offset.on.start" => self.reset_offset_on_start = parse_bool(name, value)?,
            "enable.auto.commit" => self.enable_auto_commit = parse_bool(name, value)?,
            "auto.commit.interval.ms" => self.auto_commit_interval = parse_ms(name, value)?,
            "check.crcs" => self.check_crcs = parse_bool(name, value)?,
            "max.decoded.batch.bytes" => self.max_decoded_batch_bytes = parse_size(name, value)?,
            "isolation.level" => self.isolation_level = value.parse()?,
            "session.timeout.ms" => self.session_timeout = parse_ms(name, value)?,
            "heartbeat.interval.ms" => self.heartbeat_interval = parse_ms(name, value)?,
            "partition.assignment.strategy" => {
                self.partition_assignment_strategy = AssignmentStrategy::parse_list(value)?;
            }
            "exclude.internal.topics" => self.exclude_internal_topics = parse_bool(name, value)?,
            "allow.auto.create.topics" => self.allow_auto_create_topics = parse_bool(name, value)?,
            "consumer.timeout.ms" => {
                self.consumer_timeout = match value {
                    "-1" => None,
                    _ => Some(parse_ms(name, value).map_err(|e| match e {
                        ConfigError::InvalidValue { key, value, .. } => ConfigError::InvalidValue {
                            key,
                            value,
                            reason: "expected milliseconds, or -1 to wait forever".into(),
                        },
                        other => other,
                    })?),
                };
            }
            "default.api.timeout.ms" => self.default_api_timeout = parse_ms(name, value)?,
            "skip.double.compressed.messages" => {
                self.skip_double_compressed_messages = parse_bool(name, value)?;
            }
            _ => return self.client.apply(name, value),
        }
        self.explicit.mark(name);
        Ok(())
    }

    /// The default configuration with each `key=value` of a Java `.properties` text
    /// [`set`](Self::set), in order. Call [`validated`](Self::validated) before use.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::config::{ConsumerConfig, IsolationLevel};
    /// let config = ConsumerConfig::from_properties(
    ///     "group.id = g\n# exactly once\nisolation.level: read_committed\n",
    /// )
    /// .unwrap();
    /// assert_eq!(config.isolation_level, IsolationLevel::ReadCommitted);
    /// ```
    pub fn from_properties(text: &str) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        for (key, value) in parse_properties(text) {
            config.set(&key, &value)?;
        }
        Ok(config)
    }

    /// Checks the configuration; `Ok` if [`validated`](Self::validated) would succeed.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::config::{ConfigError, ConsumerConfig};
    /// let mut config = ConsumerConfig::default();
    /// config.set("session.timeout.ms", "3000").unwrap();
    /// config.set("heartbeat.interval.ms", "3000").unwrap();
    /// assert!(matches!(config.validate(), Err(ConfigError::Conflict(_))));
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.clone().validated().map(drop)
    }

    /// Checks the configuration and returns the effective one. Like the Java client it
    /// turns auto commit off when there is no `group_id` and `enable.auto.commit` was not
    /// set explicitly; it also raises `max_response_size` (unless set explicitly) to fit
    /// `fetch_max_bytes`.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::config::{ConfigError, ConsumerConfig};
    /// let mut config = ConsumerConfig::default();
    /// config.set("enable.auto.commit", "true").unwrap();
    /// // Nothing to commit to without a group.
    /// assert!(matches!(config.clone().validated(), Err(ConfigError::Conflict(_))));
    /// config.set("group.id", "g").unwrap();
    /// assert!(config.validated().is_ok());
    /// ```
    pub fn validated(mut self) -> Result<Self, ConfigError> {
        self.client = self.client.validated()?;
        for d in [
            &mut self.fetch_max_wait,
            &mut self.max_poll_interval,
            &mut self.auto_commit_interval,
            &mut self.session_timeout,
            &mut self.heartbeat_interval,
            &mut self.default_api_timeout,
        ] {
            cap(d);
        }
        if let Some(d) = &mut self.consumer_timeout {
            cap(d);
        }
        self.check_sizes()?;
        self.check_timeouts()?;
        self.check_strategies()?;
        self.check_group()?;
        self.check_group_protocol()?;
        Ok(self)
    }

    fn check_sizes(&mut self) -> Result<(), ConfigError> {
        if self.fetch_min_bytes < 0 {
            return Err(ConfigError::invalid(
                "fetch.min.bytes",
                self.fetch_min_bytes,
                "must be at least 0",
            ));
        }
        for (key, n) in [
            ("fetch.max.bytes", self.fetch_max_bytes),
            ("max.partition.fetch.bytes", self.max_partition_fetch_bytes),
        ] {
            if n < 1 {
                return Err(ConfigError::invalid(key, n, "must be at least 1"));
            }
        }
        if self.max_poll_records == 0 {
            return Err(ConfigError::invalid(
                "max.poll.records",
                0,
                "must be at least 1",
            ));
        }
        if self.max_decoded_batch_bytes == 0 {
            return Err(ConfigError::invalid(
                "max.decoded.batch.bytes",
                0,
                "must be at least 1",
            ));
        }
        if !self.explicit.contains("max.decoded.batch.bytes") {
            let fits_partition =
                (self.max_partition_fetch_bytes as usize).saturating_mul(DECODED_GROWTH);
            self.max_decoded_batch_bytes = self.max_decoded_batch_bytes.max(fits_partition);
        }
        let fetch_max = self.fetch_max_bytes as usize;
        if self.client.max_response_size < fetch_max {
            if self.client.was_set("max.response.size") {
                return Err(ConfigError::Conflict(format!(
                    "max.response.size ({}) is smaller than fetch.max.bytes ({fetch_max}), so \
                     full fetch responses would be refused; raise max.response.size or lower \
                     fetch.max.bytes",
                    self.client.max_response_size
                )));
            }
            self.client.max_response_size = fetch_max.saturating_add(RESPONSE_HEADROOM);
        }
        Ok(())
    }

    fn check_timeouts(&self) -> Result<(), ConfigError> {
        check_positive("session.timeout.ms", self.session_timeout)?;
        check_positive("heartbeat.interval.ms", self.heartbeat_interval)?;
        check_positive("max.poll.interval.ms", self.max_poll_interval)?;
        check_positive("default.api.timeout.ms", self.default_api_timeout)?;
        if self.heartbeat_interval >= self.session_timeout {
            return Err(ConfigError::Conflict(format!(
                "heartbeat.interval.ms ({} ms) must be less than session.timeout.ms ({} ms), \
                 usually a third of it or less; lower heartbeat.interval.ms or raise \
                 session.timeout.ms",
                ms(self.heartbeat_interval),
                ms(self.session_timeout)
            )));
        }
        if self.fetch_max_wait >= self.client.request_timeout {
            return Err(ConfigError::Conflict(format!(
                "fetch.max.wait.ms ({} ms) must be less than request.timeout.ms ({} ms), or \
                 fetches on quiet partitions time out; lower fetch.max.wait.ms or raise \
                 request.timeout.ms",
                ms(self.fetch_max_wait),
                ms(self.client.request_timeout)
            )));
        }
        Ok(())
    }

    fn check_strategies(&self) -> Result<(), ConfigError> {
        let list = &self.partition_assignment_strategy;
        if list.is_empty() {
            return Err(ConfigError::invalid(
                "partition.assignment.strategy",
                "",
                "list at least one of range, roundrobin, sticky, cooperative-sticky",
            ));
        }
        for (i, s) in list.iter().enumerate() {
            if list[..i].contains(s) {
                return Err(ConfigError::invalid(
                    "partition.assignment.strategy",
                    strategy_names(list),
                    format!("{s} is listed twice"),
                ));
            }
        }
        Ok(())
    }

    fn check_group_protocol(&self) -> Result<(), ConfigError> {
        super::group_protocol::check(
            self.group_protocol,
            self.group_remote_assignor.as_deref(),
            |key| self.explicit.contains(key),
        )
    }

    fn check_group(&mut self) -> Result<(), ConfigError> {
        if self.group_id.as_deref() == Some("") {
            self.group_id = None;
        }
        if self.group_instance_id.as_deref() == Some("") {
            self.group_instance_id = None;
        }
        if let Some(id) = &self.group_instance_id {
            check_instance_id(id)?;
            if self.group_id.is_none() {
                return Err(ConfigError::Conflict(
                    "group.instance.id is set without group.id; static membership needs a \
                     group: set group.id or remove group.instance.id"
                        .into(),
                ));
            }
        }
        if self.enable_auto_commit && self.group_id.is_none() {
            if self.explicit.contains("enable.auto.commit") {
                return Err(ConfigError::Conflict(
                    "enable.auto.commit=true needs a group.id to commit to; set group.id or \
                     enable.auto.commit=false"
                        .into(),
                ));
            }
            self.enable_auto_commit = false;
        }
        Ok(())
    }
}

/// `group.instance.id`: the broker's rules for static member ids.
fn check_instance_id(id: &str) -> Result<(), ConfigError> {
    if id.len() > 249 {
        return Err(ConfigError::invalid(
            "group.instance.id",
            id,
            "must be at most 249 characters",
        ));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(ConfigError::invalid(
            "group.instance.id",
            id,
            "may contain only ASCII letters, digits, '.', '_' and '-'",
        ));
    }
    Ok(())
}

fn strategy_names(list: &[AssignmentStrategy]) -> String {
    list.iter().map(|s| s.name()).collect::<Vec<_>>().join(",")
}

/// Where a consumer starts when there is no committed offset, or it is out of range.
///
/// # Examples
/// ```
/// use kafka_sync::config::OffsetReset;
/// assert_eq!("earliest".parse::<OffsetReset>().unwrap(), OffsetReset::Earliest);
/// assert_eq!("smallest".parse::<OffsetReset>().unwrap(), OffsetReset::Earliest);
/// assert_eq!("end".parse::<OffsetReset>().unwrap(), OffsetReset::Latest);
/// assert_eq!(OffsetReset::None.name(), "none");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OffsetReset {
    /// The oldest offset still in the log. Also parsed from `smallest` and `beginning`.
    Earliest,
    /// The offset after the last record: only new records. Also parsed from `largest`
    /// and `end`.
    #[default]
    Latest,
    /// No reset: an error. Also parsed from `error`.
    None,
}

impl OffsetReset {
    /// The Java name: `earliest`, `latest` or `none`.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(kafka_sync::config::OffsetReset::Earliest.name(), "earliest");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
            OffsetReset::None => "none",
        }
    }
}

impl fmt::Display for OffsetReset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OffsetReset {
    type Err = ConfigError;

    /// Parses the Java, librdkafka and pykafka names, any case.
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "earliest" | "smallest" | "beginning" => Ok(OffsetReset::Earliest),
            "latest" | "largest" | "end" => Ok(OffsetReset::Latest),
            "none" | "error" => Ok(OffsetReset::None),
            _ => Err(ConfigError::invalid(
                "auto.offset.reset",
                s,
                "expected earliest, latest or none",
            )),
        }
    }
}

/// Whether a consumer sees records of transactions that were aborted or are still open.
///
/// # Examples
/// ```
/// use kafka_sync::config::IsolationLevel;
/// let level: IsolationLevel = "read_committed".parse().unwrap();
/// assert_eq!(level.as_i8(), 1);
/// assert_eq!(IsolationLevel::default(), IsolationLevel::ReadUncommitted);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IsolationLevel {
    /// Every record, transactional or not (0).
    #[default]
    ReadUncommitted,
    /// Only committed transactions, up to the last stable offset (1).
    ReadCommitted,
}

impl IsolationLevel {
    /// The wire value: 0 or 1.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(kafka_sync::config::IsolationLevel::ReadUncommitted.as_i8(), 0);
    /// ```
    pub fn as_i8(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }

    /// The Java name: `read_uncommitted` or `read_committed`.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(kafka_sync::config::IsolationLevel::ReadCommitted.name(), "read_committed");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "read_uncommitted",
            IsolationLevel::ReadCommitted => "read_committed",
        }
    }
}

impl fmt::Display for IsolationLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for IsolationLevel {
    type Err = ConfigError;

    /// Parses `read_uncommitted` or `read_committed`, any case.
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let t = s.trim();
        [
            IsolationLevel::ReadUncommitted,
            IsolationLevel::ReadCommitted,
        ]
        .into_iter()
        .find(|l| l.name().eq_ignore_ascii_case(t))
        .ok_or_else(|| {
            ConfigError::invalid(
                "isolation.level",
                s,
                "expected read_uncommitted or read_committed",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AssignmentStrategy::*;

    fn with(pairs: &[(&str, &str)]) -> ConsumerConfig {
        let mut c = ConsumerConfig::default();
        for (k, v) in pairs {
            c.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
        }
        c
    }

    #[test]
    fn defaults() {
        let c = ConsumerConfig::default();
        assert_eq!(c.group_id, None);
        assert_eq!(c.group_instance_id, None);
        assert_eq!(c.fetch_min_bytes, 1);
        assert_eq!(c.fetch_max_wait, Duration::from_millis(500));
        assert_eq!(c.fetch_max_bytes, 50 << 20);
        assert_eq!(c.max_partition_fetch_bytes, 1 << 20);
        assert_eq!(c.max_poll_records, 500);
        assert_eq!(c.max_poll_interval, Duration::from_secs(300));
        assert_eq!(c.auto_offset_reset, OffsetReset::Latest);
        assert!(!c.reset_offset_on_start);
        assert!(c.enable_auto_commit);
        assert_eq!(c.auto_commit_interval, Duration::from_secs(5));
        assert!(c.check_crcs);
        assert_eq!(c.isolation_level, IsolationLevel::ReadUncommitted);
        assert_eq!(c.session_timeout, Duration::from_secs(45));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(3));
        assert_eq!(c.partition_assignment_strategy, [Range, CooperativeSticky]);
        assert!(c.exclude_internal_topics);
        assert!(c.allow_auto_create_topics);
        assert_eq!(c.consumer_timeout, None);
        assert_eq!(c.default_api_timeout, Duration::from_secs(60));
        // Valid as is; with a group nothing changes.
        let mut g = c.clone();
        g.group_id = Some("g".into());
        assert_eq!(g.clone().validated().unwrap(), g);
    }

    #[test]
    fn every_key_sets_its_field() {
        let c = with(&[
            ("group.id", "g"),
            ("group.instance.id", "host-1"),
            ("group.protocol", "classic"),
            ("fetch.min.bytes", "0"),
            ("fetch.max.wait.ms", "101"),
            ("fetch.max.bytes", "1000000"),
            ("max.partition.fetch.bytes", "2000"),
            ("max.poll.records", "10"),
            ("max.poll.interval.ms", "102"),
            ("auto.offset.reset", "earliest"),
            ("reset.offset.on.start", "true"),
            ("enable.auto.commit", "false"),
            ("auto.commit.interval.ms", "103"),
            ("check.crcs", "false"),
            ("isolation.level", "read_committed"),
            ("session.timeout.ms", "10000"),
            ("heartbeat.interval.ms", "1000"),
            ("partition.assignment.strategy", "sticky,roundrobin"),
            ("exclude.internal.topics", "false"),
            ("allow.auto.create.topics", "false"),
            ("consumer.timeout.ms", "104"),
            ("default.api.timeout.ms", "105"),
            ("client.rack", "r1"),
        ]);
        let ms = Duration::from_millis;
        assert_eq!(c.group_id.as_deref(), Some("g"));
        assert_eq!(c.group_instance_id.as_deref(), Some("host-1"));
        assert_eq!(c.fetch_min_bytes, 0);
        assert_eq!(c.fetch_max_wait, ms(101));
        assert_eq!(c.fetch_max_bytes, 1_000_000);
        assert_eq!(c.max_partition_fetch_bytes, 2000);
        assert_eq!(c.max_poll_records, 10);
        assert_eq!(c.max_poll_interval, ms(102));
        assert_eq!(c.auto_offset_reset, OffsetReset::Earliest);
        assert!(c.reset_offset_on_start);
        assert!(!c.enable_auto_commit);
        assert_eq!(c.auto_commit_interval, ms(103));
        assert!(!c.check_crcs);
        assert_eq!(c.isolation_level, IsolationLevel::ReadCommitted);
        assert_eq!(c.session_timeout, ms(10000));
        assert_eq!(c.heartbeat_interval, ms(1000));
        assert_eq!(c.partition_assignment_strategy, [Sticky, RoundRobin]);
        assert!(!c.exclude_internal_topics);
        assert!(!c.allow_auto_create_topics);
        assert_eq!(c.consumer_timeout, Some(ms(104)));
        assert_eq!(c.default_api_timeout, ms(105));
        assert_eq!(c.client.client_rack.as_deref(), Some("r1"));
        c.validate().unwrap();
    }

    #[test]
    fn librdkafka_aliases() {
        let c = with(&[
            ("metadata.broker.list", "k:1"),
            ("fetch.wait.max.ms", "250"),
            ("fetch.message.max.bytes", "4096"),
            ("auto.offset.reset", "smallest"),
            ("socket.timeout.ms", "20000"),
        ]);
        assert_eq!(c.client.bootstrap_servers, ["k:1"]);
        assert_eq!(c.fetch_max_wait, Duration::from_millis(250));
        assert_eq!(c.max_partition_fetch_bytes, 4096);
        assert_eq!(c.auto_offset_reset, OffsetReset::Earliest);
        assert_eq!(c.client.request_timeout, Duration::from_secs(20));
        let e = ConsumerConfig::default()
            .set("enable.auto.offset.store", "false")
            .unwrap_err();
        assert!(matches!(e, ConfigError::Unsupported { .. }));
    }

    #[test]
    fn kafka_python_names() {
        let c = with(&[
            ("bootstrap_servers", "k:1"),
            ("group_id", "g"),
            ("consumer_timeout_ms", "1000"),
            ("reset_offset_on_start", "True"),
            ("max_poll_records", "7"),
            ("fetch_max_wait_ms", "50"),
            ("enable_auto_commit", "False"),
            ("auto_offset_reset", "earliest"),
        ]);
        assert_eq!(c.client.bootstrap_servers, ["k:1"]);
        assert_eq!(c.group_id.as_deref(), Some("g"));
        assert_eq!(c.consumer_timeout, Some(Duration::from_secs(1)));
        assert!(c.reset_offset_on_start);
        assert_eq!(c.max_poll_records, 7);
        assert_eq!(c.fetch_max_wait, Duration::from_millis(50));
        assert!(!c.enable_auto_commit);
        let c = with(&[("consumer_timeout_ms", "5"), ("consumer_timeout_ms", "-1")]);
        assert_eq!(c.consumer_timeout, None);
        let e = ConsumerConfig::default()
            .set("consumer.timeout.ms", "-2")
            .unwrap_err();
        assert_eq!(
            e,
            ConfigError::invalid(
                "consumer.timeout.ms",
                "-2",
                "expected milliseconds, or -1 to wait forever"
            )
        );
    }

    #[test]
    fn unknown_keys() {
        let mut c = ConsumerConfig::default();
        let e = c.set("sesion.timeout.ms", "1").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"unknown config key "sesion.timeout.ms"; did you mean "session.timeout.ms"?"#
        );
        let e = c.set("acks", "all").unwrap_err();
        assert_eq!(e, ConfigError::UnknownKey { key: "acks".into() });
        assert!(e.to_string().contains("is a producer setting"), "{e}");
        let e = c.set("key.deserializer", "StringDeserializer").unwrap_err();
        assert!(
            matches!(e, ConfigError::Unsupported { ref reason, .. } if reason.contains("key_deserializer"))
        );
    }

    #[test]
    fn invalid_values() {
        let mut c = ConsumerConfig::default();
        for (k, v) in [
            ("fetch.min.bytes", "-1"),
            ("fetch.max.bytes", "0"),
            ("fetch.max.bytes", "-1"),
            ("max.partition.fetch.bytes", "abc"),
            ("max.poll.records", "0"),
            ("session.timeout.ms", "-1"),
            ("auto.offset.reset", "oldest"),
            ("isolation.level", "serializable"),
            ("partition.assignment.strategy", "fancy"),
            ("partition.assignment.strategy", ","),
            ("check.crcs", "1"),
            ("group.instance.id", "has space"),
            ("group.protocol", "other"),
        ] {
            match c.set(k, v) {
                Err(ConfigError::InvalidValue { key, value, .. }) => {
                    assert_eq!((key.as_str(), value.as_str()), (k, v));
                }
                other => panic!("{k}={v}: {other:?}"),
            }
        }
        assert_eq!(c, ConsumerConfig::default());
    }

    #[test]
    fn heartbeat_must_be_below_session() {
        let c = with(&[
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "6000"),
        ]);
        let e = c.validated().unwrap_err();
        assert!(
            matches!(e, ConfigError::Conflict(ref m) if m.contains("heartbeat.interval.ms (6000 ms)")),
            "{e}"
        );
        let c = with(&[
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "2000"),
        ]);
        assert!(c.validated().is_ok());
    }

    #[test]
    fn fetch_wait_must_be_below_request_timeout() {
        let c = with(&[("fetch.max.wait.ms", "30000")]);
        assert!(matches!(c.validated(), Err(ConfigError::Conflict(_))));
    }

    #[test]
    fn auto_commit_and_group() {
        // Explicit auto commit without a group: a conflict.
        let c = with(&[("enable.auto.commit", "true")]);
        assert!(matches!(c.validated(), Err(ConfigError::Conflict(m)) if m.contains("group.id")));
        // Implicit: simply off.
        assert!(
            !ConsumerConfig::default()
                .validated()
                .unwrap()
                .enable_auto_commit
        );
        // With a group: on.
        assert!(
            with(&[("group.id", "g")])
                .validated()
                .unwrap()
                .enable_auto_commit
        );
        // An empty group.id is no group.
        let c = with(&[("group.id", "")]);
        assert_eq!(c.group_id, None);
        // Static membership needs a group.
        let c = with(&[("group.instance.id", "i1")]);
        assert!(
            matches!(c.validated(), Err(ConfigError::Conflict(m)) if m.contains("group.instance.id"))
        );
        let c = with(&[("group.instance.id", "i1"), ("group.id", "g")]);
        assert!(c.validated().is_ok());
        let c = ConsumerConfig {
            group_id: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(c.validated().unwrap().group_id, None);
    }

    #[test]
    fn strategies() {
        let mut c = ConsumerConfig::default();
        c.partition_assignment_strategy.clear();
        assert!(matches!(
            c.validate(),
            Err(ConfigError::InvalidValue { .. })
        ));
        let c = with(&[("partition.assignment.strategy", "range,range")]);
        assert!(
            matches!(c.validate(), Err(ConfigError::InvalidValue { reason, .. }) if reason.contains("twice"))
        );
    }

    #[test]
    fn offset_reset_and_isolation_parsing() {
        for (s, want) in [
            ("earliest", OffsetReset::Earliest),
            ("smallest", OffsetReset::Earliest),
            ("beginning", OffsetReset::Earliest),
            ("Latest", OffsetReset::Latest),
            ("largest", OffsetReset::Latest),
            ("end", OffsetReset::Latest),
            ("none", OffsetReset::None),
            ("error", OffsetReset::None),
        ] {
            assert_eq!(s.parse::<OffsetReset>(), Ok(want), "{s}");
        }
        assert_eq!(
            IsolationLevel::ReadCommitted.to_string().parse(),
            Ok(IsolationLevel::ReadCommitted)
        );
        assert_eq!(
            "READ_UNCOMMITTED".parse(),
            Ok(IsolationLevel::ReadUncommitted)
        );
    }

    #[test]
    fn max_response_size_follows_fetch_max_bytes() {
        let c = with(&[("fetch.max.bytes", "209715200")])
            .validated()
            .unwrap();
        assert_eq!(c.client.max_response_size, 209_715_200 + RESPONSE_HEADROOM);
        let c = with(&[
            ("fetch.max.bytes", "2000000"),
            ("max.response.size", "1000000"),
        ]);
        assert!(
            matches!(c.validated(), Err(ConfigError::Conflict(m)) if m.contains("max.response.size"))
        );
        // The default already fits the default fetch size.
        let c = ConsumerConfig::default().validated().unwrap();
        assert_eq!(c.client.max_response_size, 128 << 20);
    }

    #[test]
    fn properties_text() {
        let c = ConsumerConfig::from_properties(
            "# consumer.properties\n\
             bootstrap.servers=a:1,b:2\n\
             \n\
             group.id = orders\n\
             ! auto commit every second\n\
             auto.commit.interval.ms: 1000\n\
             partition.assignment.strategy=range,\\\n    cooperative-sticky\n",
        )
        .unwrap()
        .validated()
        .unwrap();
        assert_eq!(c.client.bootstrap_servers, ["a:1", "b:2"]);
        assert_eq!(c.group_id.as_deref(), Some("orders"));
        assert_eq!(c.auto_commit_interval, Duration::from_secs(1));
        assert_eq!(c.partition_assignment_strategy, [Range, CooperativeSticky]);
    }

    #[test]
    fn max_decoded_batch_bytes_fits_a_partition_fetch_unless_set() {
        let valid = |pairs: &[(&str, &str)]| with(pairs).validated().unwrap();
        assert_eq!(valid(&[]).max_decoded_batch_bytes, 64 << 20);
        let big_fetch = [("max.partition.fetch.bytes", "8388608")];
        assert_eq!(valid(&big_fetch).max_decoded_batch_bytes, 128 << 20);
        let set = [
            ("max.partition.fetch.bytes", "8388608"),
            ("max.decoded.batch.bytes", "1048576"),
        ];
        assert_eq!(valid(&set).max_decoded_batch_bytes, 1 << 20);
        let mut c = ConsumerConfig::default();
        assert!(c.set("max.decoded.batch.bytes", "0").is_err());
        c.max_decoded_batch_bytes = 0;
        assert!(c.validated().is_err());
    }
}
