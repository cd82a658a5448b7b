//! What a consumer hands out: [`ConsumerRecord`], and [`OffsetAndMetadata`] for commits.

use std::sync::Arc;

use bytes::Bytes;

pub use crate::protocol::records::{RecordHeader, TimestampType};

/// One record read from a partition, as kafka-python's `ConsumerRecord`.
///
/// `K` and `V` are what the consumer's deserializers produce; without deserializers they
/// are [`Bytes`], slices of the fetched buffer rather than copies.
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// let mut consumer = kafka_sync::Consumer::builder().bootstrap_servers("127.0.0.1:9092").build()?;
/// consumer.subscribe(["my-topic"])?;
/// for msg in &mut consumer {
///     let msg = msg?;
///     println!("{}:{}:{}: key={:?} value={:?}", msg.topic, msg.partition, msg.offset, msg.key, msg.value);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerRecord<K = Bytes, V = Bytes> {
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
    pub key: Option<K>,
    /// The value; `None` for a tombstone.
    pub value: Option<V>,
    /// Headers, in the order the producer wrote them.
    pub headers: Vec<RecordHeader>,
    /// The leader epoch of the batch, when the broker reports one.
    pub leader_epoch: Option<i32>,
    /// Size of the key on the wire, -1 for a null key.
    pub serialized_key_size: i32,
    /// Size of the value on the wire, -1 for a null value.
    pub serialized_value_size: i32,
}

/// An offset to commit, with optional metadata, as kafka-python's `OffsetAndMetadata`.
///
/// The offset is the *next* record to read: after processing offset 4, commit 5.
///
/// # Examples
/// ```
/// use kafka_sync::OffsetAndMetadata;
/// let last_processed = 4;
/// let om = OffsetAndMetadata::new(last_processed + 1).with_metadata("batch 17");
/// assert_eq!(om.offset, 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The next offset to read.
    pub offset: i64,
    /// Free-form metadata stored with the commit.
    pub metadata: String,
    /// The leader epoch of the last record consumed, if known.
    pub leader_epoch: Option<i32>,
}

impl OffsetAndMetadata {
    /// An offset with empty metadata.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(kafka_sync::OffsetAndMetadata::new(10).metadata, "");
    /// ```
    pub fn new(offset: i64) -> Self {
        OffsetAndMetadata {
            offset,
            metadata: String::new(),
            leader_epoch: None,
        }
    }

    /// Adds metadata.
    ///
    /// # Examples
    /// ```
    /// let om = kafka_sync::OffsetAndMetadata::new(10).with_metadata("m");
    /// assert_eq!(om.metadata, "m");
    /// ```
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = metadata.into();
        self
    }
}

/// Turns record bytes into `T`, as kafka-python's `key_deserializer`/`value_deserializer`.
/// Any `Fn(&str, &Bytes) -> Result<T, E>` closure is one, with the topic as first argument.
///
/// # Examples
/// ```
/// use kafka_sync::Deserializer;
/// let utf8 = |_topic: &str, b: &bytes::Bytes| String::from_utf8(b.to_vec());
/// assert_eq!(utf8.deserialize("t", &bytes::Bytes::from_static(b"hi")).unwrap(), "hi");
/// ```
pub trait Deserializer<T>: Send {
    /// Decodes one key or value.
    fn deserialize(&self, topic: &str, data: &Bytes) -> Result<T, crate::Error>;

    /// Decodes one key or value the consumer no longer needs. Override it when `T` can
    /// take `data` as it is, saving a reference-count round trip per record.
    fn deserialize_owned(&self, topic: &str, data: Bytes) -> Result<T, crate::Error> {
        self.deserialize(topic, &data)
    }
}

impl<T, E, F> Deserializer<T> for F
where
    F: Fn(&str, &Bytes) -> Result<T, E> + Send,
    E: std::fmt::Display,
{
    fn deserialize(&self, topic: &str, data: &Bytes) -> Result<T, crate::Error> {
        self(topic, data).map_err(|e| crate::Error::Serialization(e.to_string()))
    }
}

/// The default deserializer: the bytes themselves, without a copy.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesDeserializer;

impl Deserializer<Bytes> for BytesDeserializer {
    fn deserialize(&self, _topic: &str, data: &Bytes) -> Result<Bytes, crate::Error> {
        Ok(data.clone())
    }

    fn deserialize_owned(&self, _topic: &str, data: Bytes) -> Result<Bytes, crate::Error> {
        Ok(data)
    }
}
