//! What a share consumer hands out and reports: [`ShareRecord`], [`AcknowledgeType`],
//! [`AcknowledgementMode`] and [`AcknowledgementResult`].

use std::sync::Arc;

use bytes::Bytes;

use crate::consumer::{RecordHeader, TimestampType};
use crate::error::{Error, Result};
use crate::TopicPartition;

/// One record delivered to a share consumer, under the broker's acquisition lock.
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// # let mut consumer = kafka_sync::share_consumer::ShareConsumer::builder().group_id("g").build()?;
/// for record in consumer.poll(std::time::Duration::from_secs(1))? {
///     println!("{}-{}@{} delivery {}", record.topic, record.partition, record.offset, record.delivery_count);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ShareRecord {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset in its partition.
    pub offset: i64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// Whether `timestamp` is the producer's create time or the broker's append time.
    pub timestamp_type: TimestampType,
    /// The key, if the record has one.
    pub key: Option<Bytes>,
    /// The value; `None` for a tombstone.
    pub value: Option<Bytes>,
    /// Headers, in the order the producer wrote them.
    pub headers: Vec<RecordHeader>,
    /// How many times the broker has delivered this record, this time included: 1 the
    /// first time, 2 after one release or lock expiry, and so on up to the group's
    /// `share.delivery.count.limit`, after which the broker archives it.
    pub delivery_count: i16,
}

impl ShareRecord {
    /// The record's partition.
    ///
    /// # Examples
    /// ```no_run
    /// # fn f(record: &kafka_sync::share_consumer::ShareRecord) {
    /// println!("{}", record.topic_partition());
    /// # }
    /// ```
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(&*self.topic, self.partition)
    }
}

/// How a share consumer acknowledges a record (Java's `AcknowledgeType`).
///
/// # Examples
/// ```
/// use kafka_sync::share_consumer::AcknowledgeType;
/// assert_ne!(AcknowledgeType::Accept, AcknowledgeType::Release);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcknowledgeType {
    /// Processed: the record is done with.
    Accept,
    /// Not processed: the broker delivers it again (to this or another consumer), with
    /// its delivery count one higher.
    Release,
    /// Unprocessable: the broker archives it and never delivers it again.
    Reject,
}

impl AcknowledgeType {
    /// The wire code (0 is a gap, for offsets with no record).
    pub(crate) fn code(self) -> i8 {
        match self {
            AcknowledgeType::Accept => 1,
            AcknowledgeType::Release => 2,
            AcknowledgeType::Reject => 3,
        }
    }
}

/// When records are acknowledged (Java: `share.acknowledgement.mode`).
///
/// # Examples
/// ```
/// use kafka_sync::share_consumer::AcknowledgementMode;
/// assert_eq!(AcknowledgementMode::default(), AcknowledgementMode::Implicit);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AcknowledgementMode {
    /// Every record a poll delivered and the application did not acknowledge itself is
    /// accepted at the next poll, `commit_sync`, `commit_async` or `close`. The default.
    #[default]
    Implicit,
    /// The application acknowledges every record; polling again with records of the
    /// previous poll still unacknowledged is an [`Error::IllegalState`].
    Explicit,
}

/// The outcome of acknowledging some records of one partition, as the commit callback
/// and `commit_sync` report it.
///
/// # Examples
/// ```
/// use kafka_sync::share_consumer::AcknowledgementResult;
/// use kafka_sync::TopicPartition;
/// let r = AcknowledgementResult { partition: TopicPartition::new("t", 0), offsets: vec![3, 4], result: Ok(()) };
/// assert!(r.result.is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct AcknowledgementResult {
    /// The partition.
    pub partition: TopicPartition,
    /// The offsets acknowledged.
    pub offsets: Vec<i64>,
    /// `Ok`, or why the broker did not take them:
    /// [`Error::AcquisitionLockExpired`] when their lock ran out before they were sent
    /// (the broker redelivers them), or the broker's error (`INVALID_RECORD_STATE`, ...).
    pub result: Result<()>,
}

impl AcknowledgementResult {
    pub(crate) fn failed(partition: TopicPartition, offsets: Vec<i64>, error: Error) -> Self {
        AcknowledgementResult {
            partition,
            offsets,
            result: Err(error),
        }
    }
}
