//! What a producer sends ([`ProducerRecord`]) and what it gets back ([`RecordMetadata`]).

use std::borrow::Cow;

/// Bytes a record can be built from without copying: `&str`, `&[u8]`, `String`, `Vec<u8>`.
pub trait IntoBytes<'a> {
    /// Converts into borrowed or owned bytes.
    fn into_bytes(self) -> Cow<'a, [u8]>;
}

impl<'a> IntoBytes<'a> for &'a [u8] {
    fn into_bytes(self) -> Cow<'a, [u8]> {
        Cow::Borrowed(self)
    }
}
impl<'a, const N: usize> IntoBytes<'a> for &'a [u8; N] {
    fn into_bytes(self) -> Cow<'a, [u8]> {
        Cow::Borrowed(self)
    }
}
impl<'a> IntoBytes<'a> for &'a str {
    fn into_bytes(self) -> Cow<'a, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}
impl<'a> IntoBytes<'a> for &'a String {
    fn into_bytes(self) -> Cow<'a, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}
impl<'a> IntoBytes<'a> for &'a Vec<u8> {
    fn into_bytes(self) -> Cow<'a, [u8]> {
        Cow::Borrowed(self)
    }
}
impl<'a> IntoBytes<'a> for Vec<u8> {
    fn into_bytes(self) -> Cow<'a, [u8]> {
        Cow::Owned(self)
    }
}
impl<'a> IntoBytes<'a> for String {
    fn into_bytes(self) -> Cow<'a, [u8]> {
        Cow::Owned(self.into_bytes())
    }
}

/// A header: key and optional value.
pub(crate) type Header<'a> = (Cow<'a, str>, Option<Cow<'a, [u8]>>);

/// A record to send: topic, optional partition, key, value, headers and timestamp.
///
/// Key and value may be absent (null); a null value with a key is a tombstone on a
/// compacted topic.
///
/// # Examples
/// ```
/// use kafka_sync::ProducerRecord;
/// let r = ProducerRecord::new("orders")
///     .key("customer-7")
///     .value(r#"{"total": 12}"#)
///     .header("source", "web")
///     .partition(2);
/// assert_eq!(r.topic(), "orders");
/// ```
#[derive(Debug, Clone)]
pub struct ProducerRecord<'a> {
    pub(crate) topic: Cow<'a, str>,
    pub(crate) partition: Option<i32>,
    pub(crate) key: Option<Cow<'a, [u8]>>,
    pub(crate) value: Option<Cow<'a, [u8]>>,
    pub(crate) headers: Vec<Header<'a>>,
    pub(crate) timestamp: Option<i64>,
}

impl<'a> ProducerRecord<'a> {
    /// A record for `topic` with no key, value, or headers yet.
    ///
    /// # Examples
    /// ```
    /// let r = kafka_sync::ProducerRecord::new("t").value(b"payload");
    /// assert_eq!(r.value_bytes(), Some(&b"payload"[..]));
    /// ```
    pub fn new(topic: impl Into<Cow<'a, str>>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            partition: None,
            key: None,
            value: None,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// Sets the key, which picks the partition unless one is given.
    ///
    /// # Examples
    /// ```
    /// let r = kafka_sync::ProducerRecord::new("t").key("k");
    /// assert_eq!(r.key_bytes(), Some(&b"k"[..]));
    /// ```
    pub fn key(mut self, key: impl IntoBytes<'a>) -> Self {
        self.key = Some(key.into_bytes());
        self
    }

    /// Sets the value.
    ///
    /// # Examples
    /// ```
    /// let r = kafka_sync::ProducerRecord::new("t").value(vec![1u8, 2, 3]);
    /// assert_eq!(r.value_bytes(), Some(&[1u8, 2, 3][..]));
    /// ```
    pub fn value(mut self, value: impl IntoBytes<'a>) -> Self {
        self.value = Some(value.into_bytes());
        self
    }

    /// Sends to this partition instead of letting the partitioner choose.
    ///
    /// # Examples
    /// ```
    /// let r = kafka_sync::ProducerRecord::new("t").partition(0);
    /// ```
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Adds a header. Header keys may repeat.
    ///
    /// # Examples
    /// ```
    /// let r = kafka_sync::ProducerRecord::new("t").header("trace", "abc").header("trace", "def");
    /// ```
    pub fn header(mut self, key: impl Into<Cow<'a, str>>, value: impl IntoBytes<'a>) -> Self {
        self.headers.push((key.into(), Some(value.into_bytes())));
        self
    }

    /// Adds a header with a null value.
    ///
    /// # Examples
    /// ```
    /// let r = kafka_sync::ProducerRecord::new("t").null_header("flag");
    /// ```
    pub fn null_header(mut self, key: impl Into<Cow<'a, str>>) -> Self {
        self.headers.push((key.into(), None));
        self
    }

    /// Sets the record's timestamp in milliseconds since the epoch. Without it the
    /// producer stamps the time of `send` (CreateTime).
    ///
    /// # Examples
    /// ```
    /// let r = kafka_sync::ProducerRecord::new("t").timestamp(1_700_000_000_000);
    /// ```
    pub fn timestamp(mut self, millis: i64) -> Self {
        self.timestamp = Some(millis);
        self
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The key's bytes, if any.
    pub fn key_bytes(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }

    /// The value's bytes, if any.
    pub fn value_bytes(&self) -> Option<&[u8]> {
        self.value.as_deref()
    }
}

/// Where a record was written, returned when its delivery completes.
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// # let producer = kafka_sync::Producer::builder().build()?;
/// let meta = producer.send(kafka_sync::ProducerRecord::new("t").value("v"))?.wait()?;
/// println!("{}-{}@{}", meta.topic, meta.partition, meta.offset);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The record's offset, or -1 when unknown (acks=0).
    pub offset: i64,
    /// The record's timestamp: the create time, or the broker's append time on
    /// LogAppendTime topics.
    pub timestamp: i64,
    /// Serialized key size in bytes (-1 for a null key).
    pub serialized_key_size: i32,
    /// Serialized value size in bytes (-1 for a null value).
    pub serialized_value_size: i32,
}
