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
/// Each message tells the whole story once: a variant that holds a cause (an I/O error,
/// a decode or config error) prints it in its own message and does not return it again
/// from [`source`](std::error::Error::source), so an error reporter that walks the
/// chain prints it once. The one exception is [`Error::Record`], whose cause (the
/// deserializer's error) is its `source()` and is not repeated in its message.
/// Variants with fields are `#[non_exhaustive]`: match them with `{ .., }`.
///
/// # Examples
/// ```
/// use kafka_sync::{Error, ErrorCode};
/// let err = Error::from(ErrorCode::NOT_LEADER_OR_FOLLOWER);
/// assert!(err.is_retriable());
/// assert!(err.to_string().contains("NOT_LEADER_OR_FOLLOWER"));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No broker could be reached: every bootstrap address refused or timed out.
    #[non_exhaustive]
    #[error("no brokers available: no connection to {servers} completed ({reason}); check bootstrap_servers and that the brokers are running")]
    NoBrokersAvailable {
        /// The bootstrap servers that were tried.
        servers: String,
        /// The last connection failure.
        reason: String,
    },

    /// A broker connection was lost while a request was outstanding.
    #[non_exhaustive]
    #[error("disconnected from broker {broker}: {reason}; the client reconnects by itself, so retrying the call is safe")]
    Disconnected {
        /// The broker, as `id (host:port)`.
        broker: String,
        /// Why the connection closed.
        reason: String,
    },

    /// The operation did not finish within its time limit.
    #[non_exhaustive]
    #[error("timed out after {elapsed:?} waiting for {what}")]
    Timeout {
        /// What was being waited for.
        what: String,
        /// How long the call waited.
        elapsed: Duration,
    },

    /// The broker answered with an error code.
    #[non_exhaustive]
    #[error("broker error {code}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Broker {
        /// The Kafka error code, with its name, retriable flag and description.
        code: ErrorCode,
        /// The broker's error message, when it sent one.
        message: Option<String>,
    },

    /// The broker does not support a request this client needs.
    #[non_exhaustive]
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
    Decode(DecodeError),

    /// A request could not be encoded.
    #[error("could not encode request: {0}")]
    Encode(EncodeError),

    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(ConfigError),

    /// An I/O error from the operating system.
    #[error("I/O error: {0}")]
    Io(Arc<std::io::Error>),

    /// The client has been closed; create a new one.
    #[error("the client is closed")]
    Closed,

    /// A record is larger than `max_request_size` or the broker's limit.
    #[non_exhaustive]
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

    /// A blocking consumer call was interrupted by
    /// [`WakeupHandle::wakeup`](crate::WakeupHandle::wakeup).
    #[error("woken up by wakeup()")]
    Wakeup,

    /// A partition has no committed offset (or its position fell out of range) and
    /// `auto_offset_reset` is `none`.
    #[non_exhaustive]
    #[error("no valid offset for {partition} and auto_offset_reset is none; seek to an offset or set auto_offset_reset to earliest or latest")]
    NoOffset {
        /// The partition.
        partition: crate::TopicPartition,
    },

    /// A partition's fetched records cannot be read: they do not decode, the broker sent
    /// only part of a batch, or a batch decodes to more than `max_decoded_batch_bytes`.
    /// The position stays at `offset`; seek past it to skip the batch.
    #[non_exhaustive]
    #[error("cannot read the records of {partition} at offset {offset}: {error}")]
    CorruptRecords {
        /// The partition.
        partition: crate::TopicPartition,
        /// The offset of the batch (or of the fetch) that failed.
        offset: i64,
        /// What is wrong with the data.
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
    #[non_exhaustive]
    #[error("the record at offset {offset} of {partition} could not be read (its deserializer failed; the cause is this error's source()); the position stays there, seek to {} to skip it", offset + 1)]
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
    #[non_exhaustive]
    #[error("{failed} records failed since the previous flush; the first error: {first}")]
    DeliveryFailed {
        /// How many records failed.
        failed: u64,
        /// The first of their errors.
        first: Box<Error>,
    },

    /// The principal may not use these topics (`TOPIC_AUTHORIZATION_FAILED`): produce
    /// needs WRITE, fetch and offset lookups READ, metadata DESCRIBE. Not retried: an
    /// administrator has to grant the ACL first.
    #[non_exhaustive]
    #[error("not authorized to access topics {topics:?} (TOPIC_AUTHORIZATION_FAILED); an administrator must grant this principal an ACL on them")]
    TopicAuthorization {
        /// The topics refused.
        topics: Vec<String>,
    },

    /// The principal may not use this consumer group (`GROUP_AUTHORIZATION_FAILED`):
    /// joining, committing and fetching offsets need READ on the group. Not retried.
    #[non_exhaustive]
    #[error("not authorized to use group {group_id:?} (GROUP_AUTHORIZATION_FAILED); an administrator must grant this principal READ on the group")]
    GroupAuthorization {
        /// The group.
        group_id: String,
    },

    /// The principal may not do this on the cluster (`CLUSTER_AUTHORIZATION_FAILED`):
    /// creating topics or ACLs, altering configs or credentials, idempotent produce on old
    /// brokers. Not retried.
    #[non_exhaustive]
    #[error("not authorized to {operation} (CLUSTER_AUTHORIZATION_FAILED); an administrator must grant this principal the ACL on the cluster")]
    ClusterAuthorization {
        /// What was refused, as "create ACLs".
        operation: String,
    },

    /// The principal may not use this transactional id
    /// (`TRANSACTIONAL_ID_AUTHORIZATION_FAILED`). Not retried; fatal for the
    /// transactional producer ([`Error::is_fatal`]), as in the Java client.
    #[non_exhaustive]
    #[error("not authorized to use transactional id {transactional_id:?} (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); an administrator must grant this principal WRITE on it")]
    TransactionalIdAuthorization {
        /// The transactional id.
        transactional_id: String,
    },

    /// The broker's TLS certificate does not chain to a trusted CA (or its signature is
    /// bad).
    #[non_exhaustive]
    #[error("the TLS certificate of broker {broker} is not trusted: {reason}; set ssl.ca.location (kafka-python: ssl_cafile) to the CA that signed it")]
    CertificateNotTrusted {
        /// The broker, as `id (host:port)`.
        broker: String,
        /// What the verifier said.
        reason: String,
    },

    /// The broker's TLS certificate is valid but does not name the host connected to.
    #[non_exhaustive]
    #[error("the TLS certificate of broker {broker} does not name {host}: {reason}; connect through a name the certificate lists, or set ssl.endpoint.identification.algorithm=none (kafka-python: ssl_check_hostname=False)")]
    CertificateHostnameMismatch {
        /// The broker, as `id (host:port)`.
        broker: String,
        /// The host name or address that was checked.
        host: String,
        /// What the verifier said (the names the certificate has, where known).
        reason: String,
    },

    /// The broker's TLS certificate has expired (or is not yet valid).
    #[non_exhaustive]
    #[error("the TLS certificate of broker {broker} is expired or not yet valid: {reason}; renew the broker's certificate")]
    CertificateExpired {
        /// The broker, as `id (host:port)`.
        broker: String,
        /// What the verifier said.
        reason: String,
    },

    /// The TLS handshake failed for another reason (the broker refused the client's
    /// certificate, no common cipher suite, an alert).
    #[non_exhaustive]
    #[error("TLS handshake with broker {broker} failed: {reason}")]
    TlsHandshake {
        /// The broker, as `id (host:port)`.
        broker: String,
        /// What went wrong, and what to check.
        reason: String,
    },

    /// TLS was spoken to a listener that is not TLS (the broker closed the connection or
    /// answered in plain Kafka protocol).
    #[non_exhaustive]
    #[error("broker {broker} did not answer the TLS handshake; it is probably a PLAINTEXT or SASL_PLAINTEXT listener: check security.protocol and the port")]
    NotTlsListener {
        /// The broker, as `id (host:port)`.
        broker: String,
    },

    /// Plain Kafka protocol was spoken to a TLS listener (the broker answered with a TLS
    /// record).
    #[non_exhaustive]
    #[error("broker {broker} answered with TLS; it is an SSL or SASL_SSL listener: set security.protocol to SSL or SASL_SSL")]
    TlsListener {
        /// The broker, as `id (host:port)`.
        broker: String,
    },

    /// The broker refused the SASL credentials (a wrong password, an unknown user, an
    /// expired token). The client does not retry with the same credentials on its own.
    #[non_exhaustive]
    #[error("SASL {mechanism} authentication with broker {broker} failed: {reason}")]
    SaslAuthentication {
        /// The broker, as `id (host:port)`.
        broker: String,
        /// The mechanism used.
        mechanism: String,
        /// The broker's message, or what the client found wrong.
        reason: String,
    },

    /// The broker does not enable the configured SASL mechanism on this listener.
    #[non_exhaustive]
    #[error("broker {broker} does not enable SASL mechanism {mechanism} on this listener; it enables {enabled:?}: set sasl.mechanism to one of them")]
    SaslMechanismNotEnabled {
        /// The broker, as `id (host:port)`.
        broker: String,
        /// The mechanism asked for.
        mechanism: String,
        /// The mechanisms the broker listed in its SaslHandshake response.
        enabled: Vec<String>,
    },

    /// A share consumer held records past their acquisition lock, so it did not send
    /// their acknowledgement: the broker has already made them available again (and
    /// delivers them with a higher delivery count). Acknowledge sooner, or raise the
    /// group's `share.record.lock.duration.ms`.
    #[non_exhaustive]
    #[error("the acquisition lock of {} record(s) of {partition} ({lock:?}) expired before they were acknowledged; the broker redelivers them", offsets.len())]
    AcquisitionLockExpired {
        /// The partition.
        partition: crate::TopicPartition,
        /// The offsets whose acknowledgement was dropped.
        offsets: Vec<i64>,
        /// The lock duration the broker gave.
        lock: Duration,
    },

    /// A call that needs a consumer group (`subscribe`, commits) was made on a consumer
    /// built without a `group_id`.
    #[non_exhaustive]
    #[error("{operation} needs a group_id: set group_id on the builder, or consume chosen partitions without a group through assign() and keep offsets yourself")]
    GroupIdRequired {
        /// The call, such as `"subscribe"`.
        operation: &'static str,
    },

    /// Another producer with the same `transactional_id` started (or the transaction
    /// coordinator fenced this one's epoch). Fatal: close this producer; its open
    /// transaction will never commit.
    #[error("producer fenced: {0}; a newer producer with the same transactional_id took over, so close this one")]
    ProducerFenced(String),

    /// The current transaction cannot commit (a record of it failed, the coordinator
    /// aborted it after `transaction_timeout`, the group refused its offsets, ...).
    /// Abortable: call `abort_transaction`, then begin a new transaction.
    #[non_exhaustive]
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
    #[non_exhaustive]
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
            Error::TopicAuthorization { .. } => Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED),
            Error::GroupAuthorization { .. } => Some(ErrorCode::GROUP_AUTHORIZATION_FAILED),
            Error::ClusterAuthorization { .. } => Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED),
            Error::TransactionalIdAuthorization { .. } => {
                Some(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
            }
            _ => None,
        }
    }

    /// True for errors that reconnecting with the same settings cannot cure: TLS
    /// verification, a listener of another kind, SASL refusals. Calls waiting for a
    /// connection fail with these at once.
    pub(crate) fn is_fatal_handshake(&self) -> bool {
        matches!(
            self,
            Error::CertificateNotTrusted { .. }
                | Error::CertificateHostnameMismatch { .. }
                | Error::CertificateExpired { .. }
                | Error::TlsHandshake { .. }
                | Error::NotTlsListener { .. }
                | Error::TlsListener { .. }
                | Error::SaslAuthentication { .. }
                | Error::SaslMechanismNotEnabled { .. }
        )
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

    /// The error for `code` about `topic`: [`Error::TopicAuthorization`] naming it for
    /// `TOPIC_AUTHORIZATION_FAILED`, else [`Error::Broker`].
    pub(crate) fn for_topic(code: ErrorCode, message: Option<String>, topic: &str) -> Error {
        if code == ErrorCode::TOPIC_AUTHORIZATION_FAILED {
            Error::for_resource(code, message, topic)
        } else {
            Error::broker(code, message)
        }
    }

    /// The error for `code` about `resource`: the typed authorization error naming it
    /// for the four authorization codes (`resource` is the topic, the group id, the
    /// cluster operation or the transactional id), else [`Error::Broker`].
    pub(crate) fn for_resource(code: ErrorCode, message: Option<String>, resource: &str) -> Error {
        match code {
            ErrorCode::TOPIC_AUTHORIZATION_FAILED => Error::TopicAuthorization {
                topics: vec![resource.to_owned()],
            },
            ErrorCode::GROUP_AUTHORIZATION_FAILED => Error::GroupAuthorization {
                group_id: resource.to_owned(),
            },
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED => Error::ClusterAuthorization {
                operation: resource.to_owned(),
            },
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED => {
                Error::TransactionalIdAuthorization {
                    transactional_id: resource.to_owned(),
                }
            }
            _ => Error::broker(code, message),
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
    /// assert!(!Error::Closed.is_abortable());
    /// assert!(!Error::ProducerFenced("epoch 3 is older than 4".into()).is_abortable());
    /// ```
    pub fn is_abortable(&self) -> bool {
        matches!(self, Error::TransactionAbortable { .. })
    }

    /// True for an error after which a transactional producer must be closed
    /// ([`Error::ProducerFenced`], [`Error::TransactionalIdAuthorization`],
    /// [`Error::TransactionFatal`]).
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::Error;
    /// assert!(Error::ProducerFenced("epoch 3 is older than 4".into()).is_fatal());
    /// ```
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::ProducerFenced(_)
                | Error::TransactionalIdAuthorization { .. }
                | Error::TransactionFatal { .. }
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

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Error {
        Error::Decode(e)
    }
}

impl From<EncodeError> for Error {
    fn from(e: EncodeError) -> Error {
        Error::Encode(e)
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error::Config(e)
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

    #[test]
    fn authorization_codes_become_typed_errors_that_name_the_resource() {
        let e = Error::for_resource(ErrorCode::TOPIC_AUTHORIZATION_FAILED, None, "orders");
        assert!(matches!(&e, Error::TopicAuthorization { topics } if topics == &["orders"]));
        assert!(e.to_string().contains("orders"), "{e}");
        assert_eq!(e.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED));
        assert!(!e.is_retriable());
        let e = Error::for_resource(ErrorCode::GROUP_AUTHORIZATION_FAILED, None, "billing");
        assert!(matches!(&e, Error::GroupAuthorization { group_id } if group_id == "billing"));
        let e = Error::for_resource(ErrorCode::CLUSTER_AUTHORIZATION_FAILED, None, "create ACLs");
        assert!(
            e.to_string().contains("not authorized to create ACLs"),
            "{e}"
        );
        let e = Error::for_resource(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, None, "tx");
        assert_eq!(
            e.code(),
            Some(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        );
        let e = Error::for_resource(ErrorCode::NOT_CONTROLLER, Some("m".into()), "x");
        assert!(matches!(e, Error::Broker { .. }));
    }

    /// What an error reporter (anyhow's `{:#}`) prints: the message, then each source's.
    fn chain(e: &(dyn std::error::Error + 'static)) -> String {
        let mut out = e.to_string();
        let mut next = e.source();
        while let Some(s) = next {
            out.push_str(": ");
            out.push_str(&s.to_string());
            next = s.source();
        }
        out
    }

    #[test]
    fn every_cause_is_printed_once() {
        let tp = crate::TopicPartition::new("t", 0);
        let cases = [
            (Error::from(std::io::Error::other("the-cause")), "the-cause"),
            (
                Error::from(DecodeError::Malformed("the-cause".into())),
                "the-cause",
            ),
            (
                Error::from(ConfigError::UnknownKey {
                    key: "the-cause".into(),
                }),
                "the-cause",
            ),
            (
                Error::CorruptRecords {
                    partition: tp.clone(),
                    offset: 3,
                    error: DecodeError::Malformed("the-cause".into()),
                },
                "the-cause",
            ),
            (
                Error::Record {
                    partition: tp.clone(),
                    offset: 3,
                    source: Box::new(Error::Serialization("the-cause".into())),
                },
                "the-cause",
            ),
            (
                Error::DeliveryFailed {
                    failed: 2,
                    first: Box::new(Error::Serialization("the-cause".into())),
                },
                "the-cause",
            ),
        ];
        for (e, cause) in cases {
            let printed = chain(&e);
            assert_eq!(printed.matches(cause).count(), 1, "{printed}");
        }
        // A record error still names where it is.
        let e = Error::Record {
            partition: tp,
            offset: 3,
            source: Box::new(Error::Serialization("bad utf-8".into())),
        };
        assert!(e.to_string().contains("offset 3 of t-0"), "{e}");
        assert!(std::error::Error::source(&e).is_some());
    }
}
