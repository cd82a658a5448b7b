//! [`ProducerConfig`]: batching, acknowledgements, compression, retries and idempotence,
//! with the Java client's rules for how they combine.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::client::ClientConfig;
use super::keys::{self, Explicit};
use super::properties::{cap, ms, parse_bool, parse_int, parse_ms, parse_properties, parse_size};
use super::{Compression, ConfigError};

/// Most requests in flight per connection an idempotent producer may have (the broker
/// keeps the last five batches per producer for de-duplication).
const MAX_IN_FLIGHT_FOR_IDEMPOTENCE: usize = 5;

/// The producer's configuration: the shared [`ClientConfig`] plus batching, acks,
/// compression, retries and idempotence.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use kafka_sync::config::{Acks, Compression, ConfigError, ProducerConfig};
/// # fn main() -> Result<(), ConfigError> {
/// let config = ProducerConfig::from_properties("bootstrap.servers=127.0.0.1:9092\nlinger.ms=10")?;
/// assert_eq!(config.linger, Duration::from_millis(10));
///
/// let mut config = ProducerConfig::default();
/// config.set("compression.type", "gzip")?;
/// config.set("compression.gzip.level", "9")?;
/// let config = config.validated()?;
/// assert_eq!(config.compression_type, Compression::Gzip);
/// assert_eq!(config.compression_level, Some(9));
/// assert_eq!(config.acks, Acks::All);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    /// The settings every client shares.
    pub client: ClientConfig,
    /// Acknowledgements the leader waits for before answering a produce request. Default
    /// [`Acks::All`]. Java: `acks`.
    pub acks: Acks,
    /// Codec for record batches. Default [`Compression::None`]. Java: `compression.type`.
    pub compression_type: Compression,
    /// Codec level (gzip 1–9, lz4 1–17, zstd -131072–22); `None` for the codec's default.
    /// Default `None`. Java: `compression.gzip.level`, `compression.lz4.level`,
    /// `compression.zstd.level` (the one for the chosen codec applies); kafka-sync and
    /// librdkafka: `compression.level`.
    pub compression_level: Option<i32>,
    /// Upper bound on the time a partial batch waits for more records. Default 5 ms, as
    /// the Java client 4.x. Java: `linger.ms`.
    pub linger: Duration,
    /// Target size of one partition's batch in bytes; a larger record gets a batch of its
    /// own. Default 16384. Java: `batch.size`.
    pub batch_size: usize,
    /// Memory for records not yet acknowledged; `send` blocks up to `max_block` when it
    /// is full. Default 32 MiB. Java: `buffer.memory`.
    pub buffer_memory: usize,
    /// Longest `send` blocks waiting for buffer memory or metadata. Default 60 s. Java:
    /// `max.block.ms`.
    pub max_block: Duration,
    /// Largest produce request, and so largest record, in bytes. Default 1 MiB. Java:
    /// `max.request.size`.
    pub max_request_size: usize,
    /// How often a batch is retried after retriable errors, within `delivery_timeout`.
    /// Default `u32::MAX` (unlimited, as the Java client 2.1+; kafka-python 2.0 has 0).
    /// Java: `retries`.
    pub retries: u32,
    /// Upper bound on the time from `send` to the record's outcome, retries included;
    /// at least `linger + request_timeout`. Default 120 s. Java: `delivery.timeout.ms`.
    ///
    /// It holds whatever the state (no leader, no broker reachable, no producer id yet),
    /// give or take the I/O thread's reaction time. A record that runs out of time fails
    /// with `Error::Timeout`; its message says whether the broker may have written it
    /// (it was sent and no answer came), as indeterminate as Java's `TimeoutException`.
    /// Every other delivery error means the record was not written.
    pub delivery_timeout: Duration,
    /// Producer id and sequence numbers, so retries never duplicate or reorder records.
    /// Needs `acks = All`, `retries > 0` and at most 5 requests in flight; when it was
    /// not set explicitly and those do not hold, it is turned off. Default true. Java:
    /// `enable.idempotence`.
    pub enable_idempotence: bool,
    /// The transactional id that makes this a transactional producer: records are sent
    /// inside transactions, and a newer producer with the same id fences this one. Needs
    /// idempotence (turned on when not set explicitly). Default `None`. Java:
    /// `transactional.id`.
    pub transactional_id: Option<String>,
    /// Longest a transaction may stay open before the transaction coordinator aborts it;
    /// at most the broker's `transaction.max.timeout.ms`. Default 60 s. Java:
    /// `transaction.timeout.ms`.
    pub transaction_timeout: Duration,
    /// Highest transaction protocol version used (1: AddPartitionsToTxn before the
    /// first record to a partition; 2: KIP-890, when the brokers finalize
    /// `transaction.version` 2). Default 2.
    #[doc(hidden)]
    pub max_transaction_version: i16,
    /// Producer keys given through `set`.
    explicit: Explicit,
    /// Java's per-codec levels, resolved into `compression_level` by `validated`.
    codec_levels: CodecLevels,
}

/// `compression.<codec>.level` for each codec with levels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct CodecLevels {
    gzip: Option<i32>,
    lz4: Option<i32>,
    zstd: Option<i32>,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            client: ClientConfig::default(),
            acks: Acks::All,
            compression_type: Compression::None,
            compression_level: None,
            linger: Duration::from_millis(5),
            batch_size: 16 * 1024,
            buffer_memory: 32 * 1024 * 1024,
            max_block: Duration::from_secs(60),
            max_request_size: 1024 * 1024,
            retries: u32::MAX,
            delivery_timeout: Duration::from_secs(120),
            enable_idempotence: true,
            transactional_id: None,
            transaction_timeout: Duration::from_secs(60),
            max_transaction_version: 2,
            explicit: Explicit::default(),
            codec_levels: CodecLevels::default(),
        }
    }
}

impl ProducerConfig {
    /// Sets one setting by its Java name, librdkafka alias or kafka-python name; the
    /// shared client settings too. The value is trimmed.
    ///
    /// librdkafka's `queue.buffering.max.kbytes` sets `buffer_memory` in KiB, and
    /// `compression.level=-1` means the codec's default.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use kafka_sync::config::{Acks, ConfigError, ProducerConfig};
    /// # fn main() -> Result<(), ConfigError> {
    /// let mut config = ProducerConfig::default();
    /// config.set("acks", "1")?;
    /// config.set("queue.buffering.max.ms", "20")?; // librdkafka's linger.ms
    /// config.set("batch_size", "65536")?; // kafka-python's name
    /// config.set("client.id", "orders")?;
    /// assert_eq!(config.acks, Acks::Leader);
    /// assert_eq!(config.linger, Duration::from_millis(20));
    /// assert_eq!(config.batch_size, 65536);
    /// assert_eq!(config.client.client_id, "orders");
    /// assert!(config.set("group.id", "g").is_err()); // a consumer setting
    /// # Ok(()) }
    /// ```
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let name = keys::resolve(key, keys::PRODUCER)?;
        self.apply(name, value.trim()).map_err(|e| e.with_key(key))
    }

    fn apply(&mut self, name: &'static str, value: &str) -> Result<(), ConfigError> {
        let mut mark = name;
        match name {
            "acks" => self.acks = value.parse()?,
            "compression.type" => {
                self.compression_type = value.parse::<Compression>().map_err(|_| {
                    ConfigError::invalid(name, value, "expected none, gzip, snappy, lz4 or zstd")
                })?;
            }
            "compression.level" => {
                let level = parse_int(name, value, i32::MIN.into(), i32::MAX.into())? as i32;
                self.compression_level = (level != -1).then_some(level);
            }
            "compression.gzip.level" => {
                self.codec_levels.gzip = parse_level(name, value, Compression::Gzip)?;
            }
            "compression.lz4.level" => {
                self.codec_levels.lz4 = parse_level(name, value, Compression::Lz4)?;
            }
            "compression.zstd.level" => {
                self.codec_levels.zstd = parse_level(name, value, Compression::Zstd)?;
            }
            "linger.ms" => self.linger = parse_ms(name, value)?,
            "batch.size" => self.batch_size = parse_size(name, value)?,
            "buffer.memory" => {
                self.buffer_memory = parse_int(name, value, 1, isize::MAX as i64)? as usize;
            }
            "queue.buffering.max.kbytes" => {
                self.buffer_memory =
                    parse_int(name, value, 1, isize::MAX as i64 / 1024)? as usize * 1024;
                mark = "buffer.memory";
            }
            "max.block.ms" => self.max_block = parse_ms(name, value)?,
            "max.request.size" => self.max_request_size = parse_size(name, value)?,
            "retries" => self.retries = parse_int(name, value, 0, u32::MAX.into())? as u32,
            "delivery.timeout.ms" => self.delivery_timeout = parse_ms(name, value)?,
            "enable.idempotence" => self.enable_idempotence = parse_bool(name, value)?,
            "transactional.id" => {
                self.transactional_id = Some(value.to_owned()).filter(|v| !v.is_empty());
            }
            "transaction.timeout.ms" => self.transaction_timeout = parse_ms(name, value)?,
            _ => return self.client.apply(name, value),
        }
        self.explicit.mark(mark);
        Ok(())
    }

    /// The default configuration with each `key=value` of a Java `.properties` text
    /// [`set`](Self::set), in order. Call [`validated`](Self::validated) before use.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::config::ProducerConfig;
    /// let config = ProducerConfig::from_properties(
    ///     "bootstrap.servers=127.0.0.1:9092\n# batch more\nlinger.ms=10\nbatch.size: 131072\n",
    /// )
    /// .unwrap();
    /// assert_eq!(config.batch_size, 131072);
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
    /// use kafka_sync::config::{ConfigError, ProducerConfig};
    /// let mut config = ProducerConfig::default();
    /// config.set("enable.idempotence", "true").unwrap();
    /// config.set("acks", "1").unwrap();
    /// assert!(matches!(config.validate(), Err(ConfigError::Conflict(_))));
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.clone().validated().map(drop)
    }

    /// Checks the configuration and returns the effective one, applying the Java client's
    /// quiet adjustments to settings not given explicitly:
    /// - idempotence is turned off when `acks` is not `all`, `retries` is 0 or more than 5
    ///   requests may be in flight (with `enable.idempotence=true` set, each is a
    ///   [`ConfigError::Conflict`]);
    /// - `delivery_timeout` is raised to `linger + request_timeout` (with
    ///   `delivery.timeout.ms` set, a shorter one is a conflict);
    /// - `compression_level` takes the `compression.<codec>.level` of the chosen codec.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::config::ProducerConfig;
    /// let mut config = ProducerConfig::default();
    /// config.set("acks", "1").unwrap();
    /// let config = config.validated().unwrap();
    /// assert!(!config.enable_idempotence);
    /// ```
    pub fn validated(mut self) -> Result<Self, ConfigError> {
        self.client = self.client.validated()?;
        for d in [
            &mut self.linger,
            &mut self.max_block,
            &mut self.delivery_timeout,
        ] {
            cap(d);
        }
        if self.batch_size == 0 {
            return Err(ConfigError::invalid(
                "batch.size",
                0,
                "must be at least 1 (a small batch.size with linger.ms=0 sends records one by one)",
            ));
        }
        if self.max_request_size == 0 {
            return Err(ConfigError::invalid(
                "max.request.size",
                0,
                "must be at least 1",
            ));
        }
        if self.buffer_memory < self.batch_size {
            return Err(ConfigError::Conflict(format!(
                "buffer.memory ({}) is smaller than batch.size ({}); raise buffer.memory or \
                 lower batch.size",
                self.buffer_memory, self.batch_size
            )));
        }
        self.check_compression()?;
        self.check_delivery_timeout()?;
        self.check_transactions()?;
        self.check_idempotence()?;
        Ok(self)
    }

    fn check_compression(&mut self) -> Result<(), ConfigError> {
        let codec = self.compression_type;
        if !codec.is_available() {
            return Err(ConfigError::Unsupported {
                key: "compression.type".into(),
                reason: format!(
                    "this build has no {codec} codec; enable kafka-sync's `{codec}` cargo \
                     feature or choose another compression.type"
                ),
            });
        }
        let per_codec = match codec {
            Compression::Gzip => self.codec_levels.gzip,
            Compression::Lz4 => self.codec_levels.lz4,
            Compression::Zstd => self.codec_levels.zstd,
            Compression::None | Compression::Snappy => None,
        };
        let Some(level) = self.compression_level.or(per_codec) else {
            return Ok(());
        };
        match codec.level_range() {
            None => Err(ConfigError::Conflict(format!(
                "compression.level is {level}, but compression.type {codec} has no levels; \
                 remove compression.level or choose gzip, lz4 or zstd"
            ))),
            Some(range) if !range.contains(&level) => Err(ConfigError::invalid(
                "compression.level",
                level,
                format!("{codec} levels are {} to {}", range.start(), range.end()),
            )),
            Some(_) => {
                self.compression_level = Some(level);
                Ok(())
            }
        }
    }

    /// Java's rule: `delivery.timeout.ms >= linger.ms + request.timeout.ms`.
    fn check_delivery_timeout(&mut self) -> Result<(), ConfigError> {
        let floor = self.linger + self.client.request_timeout;
        if self.delivery_timeout >= floor {
            return Ok(());
        }
        if self.explicit.contains("delivery.timeout.ms") {
            return Err(ConfigError::Conflict(format!(
                "delivery.timeout.ms ({} ms) must be at least linger.ms + request.timeout.ms \
                 ({} ms); raise delivery.timeout.ms or lower linger.ms or request.timeout.ms",
                ms(self.delivery_timeout),
                ms(floor)
            )));
        }
        log::warn!(
            "delivery.timeout.ms raised from {} ms to linger.ms + request.timeout.ms = {} ms",
            ms(self.delivery_timeout),
            ms(floor)
        );
        self.delivery_timeout = floor;
        Ok(())
    }

    /// Java's rules for the transactional producer: it is idempotent, and its timeout
    /// fits the protocol's 32-bit milliseconds.
    fn check_transactions(&mut self) -> Result<(), ConfigError> {
        if self.transactional_id.is_none() {
            return Ok(());
        }
        if !self.enable_idempotence {
            return Err(ConfigError::Conflict(
                "transactional.id needs enable.idempotence=true; remove enable.idempotence=false \
                 or the transactional.id"
                    .into(),
            ));
        }
        // Idempotence is required: its preconditions become conflicts, not a quiet off.
        self.explicit.mark("enable.idempotence");
        let ms_value = self.transaction_timeout.as_millis();
        if ms_value == 0 || ms_value > i32::MAX as u128 {
            return Err(ConfigError::invalid(
                "transaction.timeout.ms",
                ms_value,
                "must be between 1 and 2147483647",
            ));
        }
        Ok(())
    }

    /// Java's rules for the idempotent producer.
    fn check_idempotence(&mut self) -> Result<(), ConfigError> {
        if !self.enable_idempotence {
            return Ok(());
        }
        let in_flight = self.client.max_in_flight_requests_per_connection;
        let problem = if self.retries == 0 {
            Some("retries to more than 0".to_string())
        } else if self.acks != Acks::All {
            Some(format!("acks to all (it is {})", self.acks))
        } else if in_flight > MAX_IN_FLIGHT_FOR_IDEMPOTENCE {
            Some(format!(
                "max.in.flight.requests.per.connection to at most \
                 {MAX_IN_FLIGHT_FOR_IDEMPOTENCE} (it is {in_flight})"
            ))
        } else {
            None
        };
        let Some(problem) = problem else {
            return Ok(());
        };
        if self.explicit.contains("enable.idempotence") {
            return Err(ConfigError::Conflict(format!(
                "the idempotent producer (enable.idempotence=true) needs {problem}; change it \
                 or set enable.idempotence=false"
            )));
        }
        log::info!("idempotence disabled: it would need {problem}");
        self.enable_idempotence = false;
        Ok(())
    }
}

/// A `compression.<codec>.level`: -1 for the codec's default, else within its range.
fn parse_level(key: &str, value: &str, codec: Compression) -> Result<Option<i32>, ConfigError> {
    let level = parse_int(key, value, i32::MIN.into(), i32::MAX.into())? as i32;
    if level == -1 && codec != Compression::Zstd {
        return Ok(None);
    }
    match codec.level_range() {
        Some(range) if !range.contains(&level) => Err(ConfigError::invalid(
            key,
            value,
            format!("{codec} levels are {} to {}", range.start(), range.end()),
        )),
        _ => Ok(Some(level)),
    }
}

/// Acknowledgements the partition leader waits for before answering a produce request.
///
/// # Examples
/// ```
/// use kafka_sync::config::Acks;
/// assert_eq!("all".parse::<Acks>().unwrap(), Acks::All);
/// assert_eq!("-1".parse::<Acks>().unwrap(), Acks::All);
/// assert_eq!("1".parse::<Acks>().unwrap(), Acks::Leader);
/// assert_eq!(Acks::None.as_i16(), 0);
/// assert_eq!(Acks::All.to_string(), "all");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Acks {
    /// 0: no acknowledgement; the offset of each record is unknown (-1) and failures go
    /// unseen.
    None,
    /// 1: the leader has written the record to its log.
    Leader,
    /// -1 (`all`): every in-sync replica has the record.
    #[default]
    All,
}

impl Acks {
    /// The wire value: 0, 1 or -1.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(kafka_sync::config::Acks::All.as_i16(), -1);
    /// ```
    pub fn as_i16(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

impl fmt::Display for Acks {
    /// `0`, `1` or `all`, as in a properties file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        })
    }
}

impl FromStr for Acks {
    type Err = ConfigError;

    /// Parses `0`, `1`, `all` (any case) or `-1`.
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.trim() {
            "0" => Ok(Acks::None),
            "1" => Ok(Acks::Leader),
            "-1" => Ok(Acks::All),
            a if a.eq_ignore_ascii_case("all") => Ok(Acks::All),
            _ => Err(ConfigError::invalid("acks", s, "expected 0, 1, all or -1")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> ProducerConfig {
        let mut c = ProducerConfig::default();
        for (k, v) in pairs {
            c.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
        }
        c
    }

    #[test]
    fn defaults() {
        let c = ProducerConfig::default();
        assert_eq!(c.acks, Acks::All);
        assert_eq!(c.compression_type, Compression::None);
        assert_eq!(c.compression_level, None);
        assert_eq!(c.linger, Duration::from_millis(5));
        assert_eq!(c.batch_size, 16384);
        assert_eq!(c.buffer_memory, 32 << 20);
        assert_eq!(c.max_block, Duration::from_secs(60));
        assert_eq!(c.max_request_size, 1 << 20);
        assert_eq!(c.retries, u32::MAX);
        assert_eq!(c.delivery_timeout, Duration::from_secs(120));
        assert!(c.enable_idempotence);
        assert_eq!(c.client, ClientConfig::default());
        assert_eq!(c.clone().validated().unwrap(), c);
    }

    #[test]
    fn every_key_sets_its_field() {
        let c = with(&[
            ("acks", "0"),
            ("compression.type", "gzip"),
            ("compression.level", "4"),
            ("linger.ms", "7"),
            ("batch.size", "1000"),
            ("buffer.memory", "100000"),
            ("max.block.ms", "8"),
            ("max.request.size", "2000"),
            ("retries", "3"),
            ("delivery.timeout.ms", "200000"),
            ("enable.idempotence", "FALSE"),
            ("request.timeout.ms", "9000"),
        ]);
        assert_eq!(c.acks, Acks::None);
        assert_eq!(c.compression_type, Compression::Gzip);
        assert_eq!(c.compression_level, Some(4));
        assert_eq!(c.linger, Duration::from_millis(7));
        assert_eq!(c.batch_size, 1000);
        assert_eq!(c.buffer_memory, 100_000);
        assert_eq!(c.max_block, Duration::from_millis(8));
        assert_eq!(c.max_request_size, 2000);
        assert_eq!(c.retries, 3);
        assert_eq!(c.delivery_timeout, Duration::from_secs(200));
        assert!(!c.enable_idempotence);
        assert_eq!(c.client.request_timeout, Duration::from_secs(9));
        c.validate().unwrap();
    }

    #[test]
    fn librdkafka_aliases() {
        let c = with(&[
            ("metadata.broker.list", "k:1"),
            ("queue.buffering.max.ms", "11"),
            ("compression.codec", "lz4"),
            ("request.required.acks", "1"),
            ("message.timeout.ms", "300000"),
            ("message.send.max.retries", "2"),
            ("message.max.bytes", "3000"),
            ("socket.timeout.ms", "4000"),
            ("queue.buffering.max.kbytes", "2048"),
            ("max.in.flight", "1"),
        ]);
        assert_eq!(c.client.bootstrap_servers, ["k:1"]);
        assert_eq!(c.linger, Duration::from_millis(11));
        assert_eq!(c.compression_type, Compression::Lz4);
        assert_eq!(c.acks, Acks::Leader);
        assert_eq!(c.delivery_timeout, Duration::from_secs(300));
        assert_eq!(c.retries, 2);
        assert_eq!(c.max_request_size, 3000);
        assert_eq!(c.client.request_timeout, Duration::from_secs(4));
        assert_eq!(c.buffer_memory, 2048 * 1024);
        assert_eq!(c.client.max_in_flight_requests_per_connection, 1);
        assert!(c.explicit.contains("buffer.memory"));
        assert!(c.explicit.contains("delivery.timeout.ms"));
    }

    #[test]
    fn kafka_python_names() {
        let c = with(&[
            ("bootstrap_servers", "k:1"),
            ("linger_ms", "12"),
            ("compression_type", "snappy"),
            ("max_block_ms", "13"),
            ("retry_backoff_ms", "14"),
            ("enable_idempotence", "true"),
        ]);
        assert_eq!(c.client.bootstrap_servers, ["k:1"]);
        assert_eq!(c.linger, Duration::from_millis(12));
        assert_eq!(c.compression_type, Compression::Snappy);
        assert_eq!(c.max_block, Duration::from_millis(13));
        assert_eq!(c.client.retry_backoff, Duration::from_millis(14));
        assert!(c.explicit.contains("enable.idempotence"));
    }

    #[test]
    fn unknown_and_unsupported_keys() {
        let mut c = ProducerConfig::default();
        let e = c.set("lingr.ms", "5").unwrap_err();
        assert_eq!(
            e,
            ConfigError::UnknownKey {
                key: "lingr.ms".into()
            }
        );
        assert_eq!(
            e.to_string(),
            r#"unknown config key "lingr.ms"; did you mean "linger.ms"?"#
        );
        let e = c.set("auto.offset.reset", "earliest").unwrap_err();
        assert!(e.to_string().contains("is a consumer setting"), "{e}");
        assert!(matches!(
            c.set(
                "value.serializer",
                "org.apache.kafka.common.serialization.StringSerializer"
            ),
            Err(ConfigError::Unsupported { .. })
        ));
        assert!(matches!(
            c.set("batch.num.messages", "100"),
            Err(ConfigError::Unsupported { .. })
        ));
    }

    #[test]
    fn invalid_values() {
        let mut c = ProducerConfig::default();
        for (k, v) in [
            ("acks", "2"),
            ("acks", "most"),
            ("batch.size", "-1"),
            ("batch.size", "0"),
            ("batch.size", "abc"),
            ("buffer.memory", "-1"),
            ("linger.ms", "-5"),
            ("linger.ms", "soon"),
            ("retries", "-1"),
            ("retries", "4294967296"),
            ("enable.idempotence", "yes"),
            ("compression.type", "brotli"),
            ("compression.gzip.level", "10"),
            ("compression.lz4.level", "0"),
            ("compression.zstd.level", "23"),
            ("queue.buffering.max.kbytes", "-1"),
        ] {
            match c.set(k, v) {
                Err(ConfigError::InvalidValue { key, value, .. }) => {
                    assert_eq!((key.as_str(), value.as_str()), (k, v));
                }
                other => panic!("{k}={v}: {other:?}"),
            }
        }
        assert_eq!(c, ProducerConfig::default());
    }

    #[test]
    fn size_rules() {
        let c = ProducerConfig {
            batch_size: 0,
            ..Default::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::InvalidValue { .. })
        ));
        let c = ProducerConfig {
            max_request_size: 0,
            ..Default::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::InvalidValue { .. })
        ));
        let c = with(&[("buffer.memory", "1000"), ("batch.size", "2000")]);
        let e = c.validate().unwrap_err();
        assert!(matches!(e, ConfigError::Conflict(ref m) if m.contains("raise buffer.memory")));
    }

    #[test]
    fn idempotence_explicit_conflicts() {
        for (k, v, needle) in [
            ("acks", "1", "acks to all (it is 1)"),
            ("acks", "0", "acks to all (it is 0)"),
            ("retries", "0", "retries to more than 0"),
            (
                "max.in.flight.requests.per.connection",
                "6",
                "at most 5 (it is 6)",
            ),
        ] {
            let c = with(&[("enable.idempotence", "true"), (k, v)]);
            match c.validated() {
                Err(ConfigError::Conflict(m)) => {
                    assert!(m.contains(needle), "{m}");
                    assert!(m.contains("enable.idempotence=false"), "{m}");
                }
                other => panic!("{k}={v}: {other:?}"),
            }
        }
        let c = with(&[
            ("enable.idempotence", "true"),
            ("max.in.flight.requests.per.connection", "5"),
        ]);
        assert!(c.validated().unwrap().enable_idempotence);
    }

    #[test]
    fn idempotence_implicit_turns_off() {
        for (k, v) in [
            ("acks", "1"),
            ("acks", "0"),
            ("retries", "0"),
            ("max.in.flight.requests.per.connection", "10"),
        ] {
            let c = with(&[(k, v)]).validated().unwrap();
            assert!(!c.enable_idempotence, "{k}={v}");
        }
        // Turning it off explicitly is always fine.
        let c = with(&[("enable.idempotence", "false"), ("acks", "1")]);
        assert!(!c.validated().unwrap().enable_idempotence);
        // acks=all keeps it on.
        assert!(
            with(&[("acks", "all")])
                .validated()
                .unwrap()
                .enable_idempotence
        );
    }

    #[test]
    fn delivery_timeout_rule() {
        // Explicit and too short: a conflict.
        let c = with(&[("delivery.timeout.ms", "1000"), ("linger.ms", "100")]);
        let e = c.validated().unwrap_err();
        assert!(
            matches!(e, ConfigError::Conflict(ref m) if m.contains("30100 ms")),
            "{e}"
        );
        // Implicit: raised to linger + request timeout.
        let c = with(&[("linger.ms", "100000"), ("request.timeout.ms", "30000")]);
        assert_eq!(
            c.validated().unwrap().delivery_timeout,
            Duration::from_secs(130)
        );
        // Exactly the floor is fine.
        let c = with(&[("delivery.timeout.ms", "30005")]);
        assert!(c.validated().is_ok());
    }

    #[test]
    fn compression_levels() {
        let c = with(&[
            ("compression.type", "gzip"),
            ("compression.gzip.level", "9"),
        ]);
        assert_eq!(c.validated().unwrap().compression_level, Some(9));
        // Only the chosen codec's level applies, as in Java.
        let c = with(&[
            ("compression.type", "none"),
            ("compression.gzip.level", "9"),
        ]);
        assert_eq!(c.validated().unwrap().compression_level, None);
        // compression.level wins over the per-codec key.
        let c = with(&[
            ("compression.type", "gzip"),
            ("compression.gzip.level", "5"),
            ("compression.level", "7"),
        ]);
        assert_eq!(c.validated().unwrap().compression_level, Some(7));
        // -1 is the codec default (Java's gzip default; librdkafka's compression.level).
        let c = with(&[
            ("compression.type", "gzip"),
            ("compression.gzip.level", "-1"),
        ]);
        assert_eq!(c.validated().unwrap().compression_level, None);
        let c = with(&[("compression.type", "gzip"), ("compression.level", "-1")]);
        assert_eq!(c.validated().unwrap().compression_level, None);
        // Out of range for the chosen codec.
        let c = with(&[("compression.type", "gzip"), ("compression.level", "10")]);
        let e = c.validated().unwrap_err();
        assert_eq!(
            e,
            ConfigError::invalid("compression.level", 10, "gzip levels are 1 to 9")
        );
        // No levels for none.
        let c = with(&[("compression.type", "none"), ("compression.level", "3")]);
        assert!(matches!(c.validated(), Err(ConfigError::Conflict(_))));
    }

    #[test]
    #[cfg(feature = "lz4")]
    fn lz4_levels() {
        let c = with(&[("compression.type", "lz4"), ("compression.gzip.level", "9")]);
        assert_eq!(c.validated().unwrap().compression_level, None);
        let c = with(&[("compression.type", "lz4"), ("compression.lz4.level", "17")]);
        assert_eq!(c.validated().unwrap().compression_level, Some(17));
        let c = with(&[("compression.type", "lz4"), ("compression.level", "18")]);
        assert_eq!(
            c.validated().unwrap_err(),
            ConfigError::invalid("compression.level", 18, "lz4 levels are 1 to 17")
        );
    }

    #[test]
    #[cfg(feature = "zstd")]
    fn zstd_levels() {
        let c = with(&[
            ("compression.type", "zstd"),
            ("compression.zstd.level", "-5"),
        ]);
        assert_eq!(c.validated().unwrap().compression_level, Some(-5));
        let c = with(&[
            ("compression.type", "zstd"),
            ("compression.zstd.level", "5"),
            ("compression.level", "7"),
        ]);
        assert_eq!(c.validated().unwrap().compression_level, Some(7));
    }

    #[test]
    #[cfg(feature = "snappy")]
    fn snappy_has_no_levels() {
        let c = with(&[("compression.type", "snappy"), ("compression.level", "3")]);
        assert!(matches!(c.validated(), Err(ConfigError::Conflict(m)) if m.contains("snappy")));
        assert!(with(&[("compression.type", "snappy")]).validated().is_ok());
    }

    #[test]
    #[cfg(not(feature = "lz4"))]
    fn codec_missing_from_the_build() {
        let c = with(&[("compression.type", "lz4")]);
        match c.validated() {
            Err(ConfigError::Unsupported { key, reason }) => {
                assert_eq!(key, "compression.type");
                assert!(reason.contains("`lz4` cargo feature"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn properties_text() {
        let c = ProducerConfig::from_properties(
            "# producer\n\nbootstrap.servers = a:1\n  acks: all\n! comment\nlinger.ms   25\n\n",
        )
        .unwrap();
        assert_eq!(c.client.bootstrap_servers, ["a:1"]);
        assert_eq!(c.acks, Acks::All);
        assert_eq!(c.linger, Duration::from_millis(25));
        let e = ProducerConfig::from_properties("linger.ms=5\nbatch.size=big").unwrap_err();
        assert_eq!(
            e,
            ConfigError::invalid(
                "batch.size",
                "big",
                "not a whole number; expected an integer from 1 to 2147483647"
            )
        );
    }

    #[test]
    fn acks_parsing() {
        assert_eq!("ALL".parse::<Acks>(), Ok(Acks::All));
        assert_eq!(" 0 ".parse::<Acks>(), Ok(Acks::None));
        for a in [Acks::None, Acks::Leader, Acks::All] {
            assert_eq!(a.as_i16().to_string().parse::<Acks>(), Ok(a));
            assert_eq!(a.to_string().parse::<Acks>(), Ok(a));
        }
    }

    #[test]
    fn transactions_need_idempotence() {
        let mut c = ProducerConfig::default();
        c.set("transactional_id", "copier-1").unwrap(); // kafka-python's name
        c.set("transaction.timeout.ms", "5000").unwrap();
        let v = c.clone().validated().unwrap();
        assert_eq!(v.transactional_id.as_deref(), Some("copier-1"));
        assert_eq!(v.transaction_timeout, Duration::from_secs(5));
        assert!(v.enable_idempotence);

        let mut quiet_off = c.clone();
        quiet_off.set("acks", "1").unwrap();
        assert!(
            matches!(quiet_off.validated(), Err(ConfigError::Conflict(_))),
            "idempotence is not turned off quietly for a transactional producer"
        );
        let mut off = c.clone();
        off.set("enable.idempotence", "false").unwrap();
        assert!(matches!(off.validated(), Err(ConfigError::Conflict(_))));
        let mut zero = c;
        zero.set("transaction.timeout.ms", "0").unwrap();
        assert!(zero.validated().is_err());
        assert_eq!(
            ProducerConfig::default().transaction_timeout,
            Duration::from_secs(60)
        );
    }
}
