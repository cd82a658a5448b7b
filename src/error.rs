//! The crate's [`Error`] type and [`Result`] alias.
//!
//! Errors come in layers: small decode errors from the protocol core, broker error codes
//! ([`ErrorCode`]), config errors ([`ConfigError`]), and this top-level enum whose messages
//! say what happened and what to do.

use std::sync::Arc;
use std::time::Duration;

pub use crate::config::ConfigError;
pub use crate::protocol::codec::{DecodeError, EncodeError};
pub use crate::protocol::error_code::ErrorCode;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a client call.
///
/// Errors are `Clone`, so one failure (a batch that could not be delivered, say) can be
/// reported to every waiter.
///
/// # Examples
/// ```
/// use kafka_sync::{Error, ErrorCode};
/// let err = Error::Broker { code: ErrorCode::NOT_LEADER_OR_FOLLOWER, message: None };
/// assert!(err.is_retriable());
/// assert!(err.to_string().contains("NOT_LEADER_OR_FOLLOWER"));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No broker could be reached: every bootstrap address refused or timed out.
    #[error("no brokers available: no connection to {servers} completed ({reason}); check bootstrap_servers and that the brokers are running")]
    NoBrokersAvailable {
        /// The bootstrap servers that were tried.
        servers: String,
        /// The last connection failure.
        reason: String,
    },

    /// A broker connection was lost while a request was outstanding.
    #[error("disconnected from broker {broker}: {reason}; the client reconnects by itself, so retrying the call is safe")]
    Disconnected {
        /// The broker, as `id (host:port)`.
        broker: String,
        /// Why the connection closed.
        reason: String,
    },

    /// The operation did not finish within its time limit.
    #[error("timed out after {elapsed:?} waiting for {what}")]
    Timeout {
        /// What was being waited for.
        what: String,
        /// How long the call waited.
        elapsed: Duration,
    },

    /// The broker answered with an error code.
    #[error("broker error {code}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Broker {
        /// The Kafka error code, with its name, retriable flag and description.
        code: ErrorCode,
        /// The broker's error message, when it sent one.
        message: Option<String>,
    },

    /// The broker does not support a request this client needs.
    #[error("broker {broker} does not support {api} in a version this client can use: broker supports {broker_min}..={broker_max}, client supports {client_min}..={client_max}; upgrade the broker")]
    UnsupportedVersion {
        /// The broker, as `id (host:port)`.
        broker: String,
        /// The API's name.
        api: &'static str,
        /// Lowest version the broker accepts (-1 if it does not know the API at all).
        broker_min: i16,
        /// Highest version the broker accepts (-1 if it does not know the API at all).
        broker_max: i16,
        /// Lowest version this client can speak.
        client_min: i16,
        /// Highest version this client can speak.
        client_max: i16,
    },

    /// The broker sent bytes that do not follow the Kafka protocol.
    #[error("protocol error: {0}; the connection was closed")]
    Protocol(String),

    /// A record could not be decoded, or failed its CRC check.
    #[error("corrupt record data: {0}")]
    Decode(#[from] DecodeError),

    /// A request could not be encoded.
    #[error("could not encode request: {0}")]
    Encode(#[from] EncodeError),

    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),

    /// An I/O error from the operating system.
    #[error("I/O error: {0}")]
    Io(#[source] Arc<std::io::Error>),

    /// The client has been closed; create a new one.
    #[error("the client is closed")]
    Closed,

    /// Authentication with the broker failed.
    #[error("authentication failed: {0}")]
    Authentication(String),

    /// A record is larger than `max_request_size` or the broker's limit.
    #[error("record of {size} bytes is larger than the maximum of {max} bytes; raise max_request_size (and the topic's max.message.bytes) or send smaller records")]
    RecordTooLarge {
        /// The serialized record size.
        size: usize,
        /// The limit it exceeds.
        max: usize,
    },

    /// The call is not valid in the client's current state (mixing assign and subscribe,
    /// committing without a group, ...).
    #[error("illegal state: {0}")]
    IllegalState(String),

    /// A blocking consumer call was interrupted by [`wakeup`](crate::Consumer::wakeup).
    #[error("woken up by wakeup()")]
    Wakeup,

    /// A partition has no committed offset (or its position fell out of range) and
    /// `auto_offset_reset` is `none`.
    #[error("no valid offset for {partition} and auto_offset_reset is none; seek to an offset or set auto_offset_reset to earliest or latest")]
    NoOffset {
        /// The partition.
        partition: crate::TopicPartition,
    },

    /// A partition's fetched records cannot be read: they do not decode, the broker sent
    /// only part of a batch, or a batch decodes to more than `max_decoded_batch_bytes`.
    /// The position stays at `offset`; seek past it to skip the batch.
    #[error("cannot read the records of {partition} at offset {offset}: {error}")]
    CorruptRecords {
        /// The partition.
        partition: crate::TopicPartition,
        /// The offset of the batch (or of the fetch) that failed.
        offset: i64,
        /// What is wrong with the data.
        #[source]
        error: DecodeError,
    },

    /// A user-supplied serializer or deserializer failed.
    #[error("serialization failed: {0}")]
    Serialization(String),

    /// An invalid argument was passed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The client's I/O thread stopped on a bug (a panic); calls pending at that moment
    /// fail with this, later ones with [`Error::Closed`].
    #[error("internal error: {0}; this client can no longer be used, create a new one (and please report the bug)")]
    Internal(String),

    /// A record could not be read: the key or value deserializer failed on it (data
    /// that does not decode is [`Error::CorruptRecords`]). The records before it were
    /// handed out; the partition's position stays at it, so polling again meets it again
    /// (as the Java client's `RecordDeserializationException`). Seek past it to skip it.
    #[error("the record at offset {offset} of {partition} could not be read: {source}; the position stays there, seek to {} to skip it", offset + 1)]
    Record {
        /// The partition.
        partition: crate::TopicPartition,
        /// The record's offset.
        offset: i64,
        /// What went wrong.
        source: Box<Error>,
    },

    /// [`Producer::flush`](crate::Producer::flush) found records that failed since the
    /// previous flush; each record's future holds its own error.
    #[error("{failed} records failed since the previous flush; the first error: {first}")]
    DeliveryFailed {
        /// How many records failed.
        failed: u64,
        /// The first of their errors.
        first: Box<Error>,
    },

    /// Another producer with the same `transactional_id` started (or the transaction
    /// coordinator fenced this one's epoch). Fatal: close this producer; its open
    /// transaction will never commit.
    #[error("producer fenced: {0}; a newer producer with the same transactional_id took over, so close this one")]
    ProducerFenced(String),

    /// The current transaction cannot commit (a record of it failed, the coordinator
    /// aborted it after `transaction_timeout`, the group refused its offsets, ...).
    /// Abortable: call `abort_transaction`, then begin a new transaction.
    #[error(
        "the transaction must be aborted: {cause}; call abort_transaction, then begin a new one"
    )]
    TransactionAbortable {
        /// What went wrong.
        cause: Box<Error>,
    },

    /// The transactional producer cannot go on (not authorized for its transactional
    /// id, a broker without transactions, an invalid transaction state, ...). Fatal:
    /// close the producer.
    #[error("the transactional producer cannot continue: {cause}; close it and fix the cause")]
    TransactionFatal {
        /// What went wrong.
        cause: Box<Error>,
    },
}

impl Error {
    /// True when retrying the same call may succeed: connection loss, timeouts and
    /// retriable broker errors.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::Error;
    /// assert!(!Error::Closed.is_retriable());
    /// ```
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Disconnected { .. }
            | Error::Timeout { .. }
            | Error::NoBrokersAvailable { .. } => true,
            Error::Broker { code, .. } => code.is_retriable(),
            _ => false,
        }
    }

    /// The broker error code, if this is a broker error.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::{Error, ErrorCode};
    /// let err = Error::from(ErrorCode::TOPIC_ALREADY_EXISTS);
    /// assert_eq!(err.code(), Some(ErrorCode::TOPIC_ALREADY_EXISTS));
    /// ```
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(crate) fn timeout(what: impl Into<String>, elapsed: Duration) -> Error {
        Error::Timeout {
            what: what.into(),
            elapsed,
        }
    }

    pub(crate) fn broker(code: ErrorCode, message: Option<String>) -> Error {
        Error::Broker {
            code,
            message: message.filter(|m| !m.is_empty()),
        }
    }
}

impl Error {
    /// True for an error after which a transactional producer can go on once it aborts
    /// the current transaction ([`Error::TransactionAbortable`]).
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::Error;
    /// let e = Error::TransactionAbortable { cause: Box::new(Error::Closed) };
    /// assert!(e.is_abortable() && !e.is_fatal());
    /// ```
    pub fn is_abortable(&self) -> bool {
        matches!(self, Error::TransactionAbortable { .. })
    }

    /// True for an error after which a transactional producer must be closed
    /// ([`Error::ProducerFenced`], [`Error::TransactionFatal`]).
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::Error;
    /// assert!(Error::ProducerFenced("epoch 3 is older than 4".into()).is_fatal());
    /// ```
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::ProducerFenced(_) | Error::TransactionFatal { .. }
        )
    }
}

impl From<ErrorCode> for Error {
    fn from(code: ErrorCode) -> Error {
        Error::Broker {
            code,
            message: None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(Arc::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let e = Error::NoBrokersAvailable {
            servers: "127.0.0.1:1".into(),
            reason: "connection refused".into(),
        };
        assert!(e.to_string().contains("check bootstrap_servers"));
        assert!(e.is_retriable());
        let e = Error::broker(ErrorCode(6), Some("".into()));
        assert!(matches!(e, Error::Broker { message: None, .. }));
        assert_eq!(Error::from(ErrorCode(36)).code(), Some(ErrorCode(36)));
    }
}
