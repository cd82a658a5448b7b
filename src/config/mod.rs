//! Client configuration: plain structs with validated defaults, and the string layer that
//! reads Java, librdkafka and kafka-python property names.
//!
//! | struct             | client          | shares                         |
//! |--------------------|-----------------|--------------------------------|
//! | [`ClientConfig`]   | every client    | connection, retry and metadata |
//! | [`ProducerConfig`] | the producer    | `client: ClientConfig`         |
//! | [`ConsumerConfig`] | the consumer    | `client: ClientConfig`         |
//! | [`AdminConfig`]    | the admin client| `client: ClientConfig`         |
//!
//! Each struct has public fields named as kafka-python names its arguments (with
//! [`Duration`] for every `*_ms`), a [`Default`] with the Java client's
//! defaults, and three functions:
//! - `set(key, value)` takes one property by its Java name (`linger.ms`), a librdkafka alias
//!   (`queue.buffering.max.ms`) or a kafka-python name (`linger_ms`). Keys are
//!   case-sensitive, as in Java. An unknown key is an error that suggests the nearest known
//!   key; a key that belongs to another client says so.
//! - `from_properties(text)` applies a Java `.properties` text with `set`.
//! - `validated()` checks the whole configuration and returns the effective one. Like the
//!   Java client it quietly adjusts settings the user did not set explicitly (through `set`):
//!   the producer turns idempotence off when `acks` is not `all`, and raises
//!   `delivery.timeout.ms` to `linger.ms + request.timeout.ms`; the consumer turns auto
//!   commit off without a `group.id`. A setting the user did give explicitly is never
//!   overridden: the conflict is an error.
//!
//! Durations are capped at 2147483647 ms (about 24.8 days), the Java client's limit for
//! most `*.ms` keys; a longer value, such as `Long.MAX_VALUE` meaning "forever", acts as
//! that cap.
//!
//! # Examples
//! ```
//! use std::time::Duration;
//! use kafka_sync::config::{Acks, ConfigError, ProducerConfig};
//! # fn main() -> Result<(), ConfigError> {
//! let config = ProducerConfig::from_properties(
//!     "# producer.properties\n\
//!      bootstrap.servers=broker1:9092,broker2:9092\n\
//!      acks=1\n\
//!      linger.ms = 10\n",
//! )?
//! .validated()?;
//! assert_eq!(config.acks, Acks::Leader);
//! assert_eq!(config.linger, Duration::from_millis(10));
//! // acks=1 without an explicit enable.idempotence turns idempotence off, as in Java.
//! assert!(!config.enable_idempotence);
//!
//! let err = ProducerConfig::default().set("lingr.ms", "5").unwrap_err();
//! assert_eq!(err.to_string(), r#"unknown config key "lingr.ms"; did you mean "linger.ms"?"#);
//! # Ok(()) }
//! ```

use std::time::Duration;

mod admin;
mod assignment;
mod client;
mod consumer;
mod group_protocol;
mod keys;
mod producer;
mod properties;
mod security;

pub use crate::protocol::compression::Compression;
pub use admin::AdminConfig;
pub use assignment::AssignmentStrategy;
pub use client::{parse_bootstrap_servers, ClientConfig, SecurityProtocol};
pub use consumer::{ConsumerConfig, IsolationLevel, OffsetReset};
pub use group_protocol::GroupProtocol;
pub use producer::{Acks, ProducerConfig};
pub use properties::parse_properties;
pub(crate) use properties::{parse_bool, parse_int, parse_ms, parse_size};
pub use security::{Password, SaslMechanismName, SecurityConfig, TokenProviderRef};

/// The longest duration a setting takes: 2147483647 ms, the Java client's `int` limit.
/// Longer values are capped here, so deadlines computed from them never overflow.
pub(crate) const MAX_DURATION: Duration = Duration::from_millis(i32::MAX as u64);

/// Why a configuration was rejected. Each message says what to change.
///
/// # Examples
/// ```
/// use kafka_sync::config::{ConfigError, ConsumerConfig};
/// let mut config = ConsumerConfig::default();
/// let err = config.set("max.poll.records", "-5").unwrap_err();
/// assert!(matches!(err, ConfigError::InvalidValue { .. }));
/// assert_eq!(
///     err.to_string(),
///     r#"invalid value "-5" for "max.poll.records": must be at least 1"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A key no client of this kind takes. The message suggests the nearest known key, or
    /// names the client the key belongs to.
    #[error("{}", keys::unknown_key_message(.key))]
    UnknownKey {
        /// The key as given.
        key: String,
    },
    /// A value that does not parse or is out of range.
    #[error("invalid value {value:?} for {key:?}: {reason}")]
    InvalidValue {
        /// The key as given (or the Java name, for a field set directly).
        key: String,
        /// The value as given.
        value: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// Settings that are each valid but contradict each other.
    #[error("conflicting settings: {0}")]
    Conflict(String),
    /// A setting this version of kafka-sync recognises but does not support.
    #[error("config key {key:?} is not supported: {reason}")]
    Unsupported {
        /// The key as given.
        key: String,
        /// Why, and what to do instead.
        reason: String,
    },
}

impl ConfigError {
    /// An [`InvalidValue`](ConfigError::InvalidValue) error.
    pub(crate) fn invalid(key: &str, value: impl ToString, reason: impl Into<String>) -> Self {
        ConfigError::InvalidValue {
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// The same error naming `key` (the key the user typed) instead of the canonical one.
    pub(crate) fn with_key(self, key: &str) -> Self {
        match self {
            ConfigError::InvalidValue { value, reason, .. } => ConfigError::InvalidValue {
                key: key.to_string(),
                value,
                reason,
            },
            ConfigError::Unsupported { reason, .. } => ConfigError::Unsupported {
                key: key.to_string(),
                reason,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let e = ConfigError::invalid(
            "linger.ms",
            "abc",
            "expected a whole number of milliseconds",
        );
        assert_eq!(
            e.to_string(),
            r#"invalid value "abc" for "linger.ms": expected a whole number of milliseconds"#
        );
        let e = ConfigError::Conflict("raise buffer.memory".into());
        assert_eq!(e.to_string(), "conflicting settings: raise buffer.memory");
        let e = ConfigError::Unsupported {
            key: "ssl.truststore.location".into(),
            reason: "use PLAINTEXT".into(),
        };
        assert_eq!(
            e.to_string(),
            r#"config key "ssl.truststore.location" is not supported: use PLAINTEXT"#
        );
    }

    #[test]
    fn with_key_renames_the_key() {
        let e = ConfigError::invalid("acks", "2", "x").with_key("request.required.acks");
        assert_eq!(e, ConfigError::invalid("request.required.acks", "2", "x"));
    }

    #[test]
    fn max_duration_is_the_java_int_limit() {
        assert_eq!(MAX_DURATION.as_millis(), 2_147_483_647);
    }
}
