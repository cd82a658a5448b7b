//! [`ShareConsumerConfig`]: the settings of a share consumer, with the Java names.

use std::time::Duration;

use crate::config::{parse_bool, parse_int, parse_ms, parse_properties, parse_size};
use crate::config::{ClientConfig, ConfigError};

use super::record::AcknowledgementMode;

/// A share consumer's settings: the shared [`ClientConfig`] plus its own. Keys take the
/// Java names (`share.acknowledgement.mode`), or kafka-python's style with underscores.
///
/// # Examples
/// ```
/// use kafka_sync::share_consumer::{AcknowledgementMode, ShareConsumerConfig};
/// let config = ShareConsumerConfig::from_properties(
///     "bootstrap.servers=127.0.0.1:9092\ngroup.id=jobs\nshare.acknowledgement.mode=explicit",
/// )
/// .unwrap();
/// assert_eq!(config.acknowledgement_mode, AcknowledgementMode::Explicit);
/// assert_eq!(config.group_id, "jobs");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareConsumerConfig {
    /// The settings every client shares.
    pub client: ClientConfig,
    /// The share group; required. Java: `group.id`.
    pub group_id: String,
    /// Implicit (the default) or explicit. Java: `share.acknowledgement.mode`.
    pub acknowledgement_mode: AcknowledgementMode,
    /// Most records one poll returns, and the number each ShareFetch asks for. Default
    /// 500. Java: `max.poll.records`.
    pub max_poll_records: usize,
    /// Longest the broker holds a ShareFetch waiting for data. Default 500 ms. Java:
    /// `fetch.max.wait.ms`.
    pub fetch_max_wait: Duration,
    /// The broker answers a ShareFetch once it has this many bytes. Default 1. Java:
    /// `fetch.min.bytes`.
    pub fetch_min_bytes: i32,
    /// Most bytes one ShareFetch response carries. Default 50 MiB. Java:
    /// `fetch.max.bytes`.
    pub fetch_max_bytes: i32,
    /// End iteration after this long without a record; `None` (the default) iterates
    /// forever. kafka-python: `consumer_timeout_ms`.
    pub consumer_timeout: Option<Duration>,
    /// Verify record CRCs. Default true. Java: `check.crcs`.
    pub check_crcs: bool,
    /// Timeout of `commit_sync` without one of its own, and of `close`'s
    /// acknowledgements. Default 60 s. Java: `default.api.timeout.ms`.
    pub default_api_timeout: Duration,
}

impl Default for ShareConsumerConfig {
    fn default() -> Self {
        ShareConsumerConfig {
            client: ClientConfig::default(),
            group_id: String::new(),
            acknowledgement_mode: AcknowledgementMode::Implicit,
            max_poll_records: 500,
            fetch_max_wait: Duration::from_millis(500),
            fetch_min_bytes: 1,
            fetch_max_bytes: 50 * 1024 * 1024,
            consumer_timeout: None,
            check_crcs: true,
            default_api_timeout: Duration::from_secs(60),
        }
    }
}

impl ShareConsumerConfig {
    /// Sets one setting by its Java name (or with `_` for `.`); the shared client
    /// settings too. The value is trimmed.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::share_consumer::ShareConsumerConfig;
    /// let mut config = ShareConsumerConfig::default();
    /// config.set("max_poll_records", "10").unwrap();
    /// config.set("client.id", "worker-1").unwrap();
    /// assert_eq!(config.max_poll_records, 10);
    /// assert!(config.set("share.acknowledgement.mode", "sometimes").is_err());
    /// ```
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let name = key.trim().replace('_', ".");
        let value = value.trim();
        let with_key = |e: ConfigError| e.with_key(key);
        match name.as_str() {
            "group.id" => self.group_id = value.to_owned(),
            "share.acknowledgement.mode" => {
                self.acknowledgement_mode = match value.to_ascii_lowercase().as_str() {
                    "implicit" => AcknowledgementMode::Implicit,
                    "explicit" => AcknowledgementMode::Explicit,
                    _ => {
                        return Err(ConfigError::invalid(
                            key,
                            value,
                            "expected implicit or explicit",
                        ))
                    }
                }
            }
            "max.poll.records" => {
                self.max_poll_records =
                    parse_int(&name, value, 1, i32::MAX.into()).map_err(with_key)? as usize
            }
            "fetch.max.wait.ms" => {
                self.fetch_max_wait = parse_ms(&name, value).map_err(with_key)?
            }
            "fetch.min.bytes" => {
                self.fetch_min_bytes =
                    parse_int(&name, value, 0, i32::MAX.into()).map_err(with_key)? as i32
            }
            "fetch.max.bytes" => {
                let size = parse_size(&name, value).map_err(with_key)?;
                self.fetch_max_bytes = size.min(i32::MAX as usize) as i32;
            }
            "consumer.timeout.ms" => {
                self.consumer_timeout = match value {
                    "-1" => None,
                    _ => Some(parse_ms(&name, value).map_err(with_key)?),
                }
            }
            "check.crcs" => self.check_crcs = parse_bool(&name, value).map_err(with_key)?,
            "default.api.timeout.ms" => {
                self.default_api_timeout = parse_ms(&name, value).map_err(with_key)?
            }
            _ => return self.client.set(key, value),
        }
        Ok(())
    }

    /// The default configuration with each `key=value` of a Java `.properties` text
    /// [`set`](Self::set), in order.
    ///
    /// # Examples
    /// ```
    /// let c = kafka_sync::share_consumer::ShareConsumerConfig::from_properties("group.id=g").unwrap();
    /// assert_eq!(c.group_id, "g");
    /// ```
    pub fn from_properties(text: &str) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        for (key, value) in parse_properties(text) {
            config.set(&key, &value)?;
        }
        Ok(config)
    }

    /// Checks the settings: a group id is required.
    pub(crate) fn validated(mut self) -> Result<Self, ConfigError> {
        if self.group_id.is_empty() {
            return Err(ConfigError::invalid(
                "group.id",
                "",
                "a share consumer needs a share group: set group_id",
            ));
        }
        self.client = self.client.validated()?;
        Ok(self)
    }
}
