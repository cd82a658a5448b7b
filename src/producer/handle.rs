//! [`Producer`]: the thread-safe handle users send records through.

use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::ProducerConfig;
use crate::error::{Error, Result};
use crate::net::io_thread::IoHandle;
use crate::net::metadata::ClusterMetadata;
use crate::protocol::records::RecordBatchBuilder;

use super::accumulator::{Accumulator, RecordRef};
use super::builder::ProducerBuilder;
use super::future::DeliveryFuture;
use super::metrics::{Metrics, ProducerMetrics};
use super::partitioner::Partitioner;
use super::record::ProducerRecord;
use super::sender::{ProducerCommand, Sender};
use super::serializer::{Serializer, TypedProducer};

/// Bound on `Drop`'s wait for pending records, as the Java client's `close()` without a
/// timeout would wait forever.
const DROP_CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// A thread-safe Kafka producer, as kafka-python's `KafkaProducer`.
///
/// `Producer` is `Clone + Send + Sync`: clones share one background I/O thread, one set
/// of batches and one connection per broker. Sharing one producer across threads is the
/// fast path. `send` only appends the record to a batch; the I/O thread sends batches when
/// they fill up or `linger` passes.
///
/// # Examples
/// ```no_run
/// use kafka_sync::{Producer, ProducerRecord};
/// # fn main() -> kafka_sync::Result<()> {
/// let producer = Producer::builder().bootstrap_servers("127.0.0.1:9092").build()?;
/// for i in 0..100 {
///     producer.send(ProducerRecord::new("foobar").value(format!("message {i}")))?;
/// }
/// let meta = producer.send(ProducerRecord::new("foobar").key("k").value("v"))?.wait()?;
/// println!("written at offset {}", meta.offset);
/// producer.flush()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Producer {
    inner: Arc<Inner>,
}

struct Inner {
    io: IoHandle<ProducerCommand>,
    acc: Arc<Accumulator>,
    metrics: Arc<Metrics>,
    partitioner: Arc<dyn Partitioner>,
    config: ProducerConfig,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.io.close(DROP_CLOSE_TIMEOUT);
    }
}

impl Producer {
    /// Starts building a producer.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use kafka_sync::{Acks, Compression, Producer};
    /// use std::time::Duration;
    /// let producer = Producer::builder()
    ///     .bootstrap_servers("127.0.0.1:9092")
    ///     .acks(Acks::All)
    ///     .compression_type(Compression::Lz4)
    ///     .linger(Duration::from_millis(5))
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn builder() -> ProducerBuilder {
        ProducerBuilder::default()
    }

    pub(crate) fn start(
        config: ProducerConfig,
        partitioner: Arc<dyn Partitioner>,
    ) -> Result<Producer> {
        let acc = Arc::new(Accumulator::new(config.batch_size, config.buffer_memory));
        let metrics = Arc::new(Metrics::default());
        let sender = Sender::new(config.clone(), acc.clone(), metrics.clone());
        let io = IoHandle::spawn(config.client.clone(), sender)?;
        Ok(Producer {
            inner: Arc::new(Inner {
                io,
                acc,
                metrics,
                partitioner,
                config,
            }),
        })
    }

    /// Queues a record for sending and returns its delivery future.
    ///
    /// Never waits on the network: it blocks only while `buffer_memory` is full (for at
    /// most `max_block`, then `Timeout`) or while metadata for a topic it has not seen is
    /// fetched (also bounded by `max_block`).
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let producer = kafka_sync::Producer::builder().build()?;
    /// let future = producer.send(kafka_sync::ProducerRecord::new("t").key("k").value("v"))?;
    /// let meta = future.wait()?;
    /// # Ok(()) }
    /// ```
    pub fn send(&self, record: ProducerRecord<'_>) -> Result<DeliveryFuture> {
        let inner = &*self.inner;
        let start = Instant::now();
        let headers: Vec<(&str, Option<&[u8]>)> = record
            .headers
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_deref()))
            .collect();
        let key = record.key.as_deref();
        let value = record.value.as_deref();
        let size = RecordBatchBuilder::record_size_upper_bound(
            key.map_or(0, <[u8]>::len),
            value.map_or(0, <[u8]>::len),
            &headers,
        );
        let max = inner
            .config
            .max_request_size
            .min(inner.config.buffer_memory);
        if size > max {
            return Err(Error::RecordTooLarge { size, max });
        }
        let metadata = self.topic_metadata(&record.topic, start)?;
        let topic_meta = metadata.topic(&record.topic).ok_or_else(|| {
            Error::timeout(
                format!("metadata for topic {}", record.topic),
                inner.config.max_block,
            )
        })?;
        let count = topic_meta.partitions.len();
        let available = &topic_meta.available;
        let partition = match record.partition {
            Some(p) if p < 0 || p as usize >= count => {
                return Err(Error::InvalidArgument(format!(
                    "partition {p} is not in topic {} ({count} partitions)",
                    record.topic
                )))
            }
            Some(p) => p,
            None => inner
                .partitioner
                .partition(&record.topic, key, available, count),
        };
        let queues = inner.acc.topic(&record.topic, count);
        let timestamp = record.timestamp.unwrap_or_else(now_millis);
        let remaining = inner.config.max_block.saturating_sub(start.elapsed());
        inner.acc.reserve(size, remaining)?;
        let now = Instant::now();
        let parts = RecordRef {
            timestamp,
            key,
            value,
            headers: &headers,
        };
        let sticky = record.partition.is_none() && key.is_none();
        let appended = match inner
            .acc
            .append(&queues, partition, &parts, size, sticky, now)?
        {
            Some(a) => a,
            None => {
                // Sticky partitioning (KIP-480): the keyless record would start a new
                // batch, so the topic moves to another partition first.
                inner
                    .partitioner
                    .on_new_batch(&record.topic, partition, available, count);
                let moved = inner
                    .partitioner
                    .partition(&record.topic, None, available, count);
                match inner.acc.append(&queues, moved, &parts, size, false, now)? {
                    Some(a) => a,
                    None => return Err(Error::IllegalState("append refused a new batch".into())),
                }
            }
        };
        if appended.new_batch {
            // A new batch starts a linger timer and means the previous one is full: the
            // I/O thread must look. Records added to an open batch need no wakeup.
            inner.io.wake();
        }
        Ok(appended.future)
    }

    /// The metadata snapshot once it knows `topic`, fetching it if needed.
    fn topic_metadata(&self, topic: &str, start: Instant) -> Result<Arc<ClusterMetadata>> {
        let inner = &*self.inner;
        let metadata = inner.io.metadata.load();
        if metadata
            .topic(topic)
            .is_some_and(|t| !t.partitions.is_empty())
        {
            return Ok(metadata);
        }
        if topic.is_empty() {
            return Err(Error::InvalidArgument("topic name is empty".into()));
        }
        let deadline = start + inner.config.max_block;
        let (reply, rx) = sync_channel(1);
        inner.io.send(ProducerCommand::WaitForTopic {
            topic: topic.to_owned(),
            deadline,
            reply,
        })?;
        match rx.recv_timeout(inner.config.max_block + Duration::from_secs(1)) {
            Ok(Ok(())) => Ok(inner.io.metadata.load()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::timeout(
                format!("metadata for topic {topic}"),
                inner.config.max_block,
            )),
        }
    }

    /// Sends every queued record now and waits until all of them are delivered or failed,
    /// for at most `timeout`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let producer = kafka_sync::Producer::builder().build()?;
    /// producer.flush_timeout(std::time::Duration::from_secs(10))?;
    /// # Ok(()) }
    /// ```
    pub fn flush_timeout(&self, timeout: Duration) -> Result<()> {
        let acc = &self.inner.acc;
        acc.begin_flush();
        self.inner.io.wake();
        let result = acc.wait_all_complete(timeout);
        acc.end_flush();
        result
    }

    /// [`flush_timeout`](Self::flush_timeout) bounded by `delivery_timeout`, after which
    /// every record has an outcome anyway.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let producer = kafka_sync::Producer::builder().build()?;
    /// producer.flush()?;
    /// # Ok(()) }
    /// ```
    pub fn flush(&self) -> Result<()> {
        self.flush_timeout(self.inner.config.delivery_timeout + self.inner.config.linger)
    }

    /// Sends what is queued, waits up to `timeout` for it, then stops the I/O thread.
    /// Records still pending at the deadline fail with `Closed`; every accepted record
    /// gets an outcome. Other clones of this producer stop working too.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let producer = kafka_sync::Producer::builder().build()?;
    /// producer.close(std::time::Duration::from_secs(5));
    /// # Ok(()) }
    /// ```
    pub fn close(&self, timeout: Duration) {
        self.inner.io.close(timeout);
    }

    /// The partition ids of `topic`, fetching metadata if needed (kafka-python's
    /// `partitions_for`).
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let producer = kafka_sync::Producer::builder().build()?;
    /// let partitions = producer.partitions_for("orders")?;
    /// # Ok(()) }
    /// ```
    pub fn partitions_for(&self, topic: &str) -> Result<Vec<i32>> {
        let m = self.topic_metadata(topic, Instant::now())?;
        Ok(m.topic(topic)
            .map(|t| t.partitions.iter().map(|p| p.partition).collect())
            .unwrap_or_default())
    }

    /// A snapshot of the producer's counters.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let producer = kafka_sync::Producer::builder().build()?;
    /// assert_eq!(producer.metrics().errors, 0);
    /// # Ok(()) }
    /// ```
    pub fn metrics(&self) -> ProducerMetrics {
        self.inner.metrics.snapshot(self.inner.acc.memory_used())
    }

    /// Adds key and value serializers (kafka-python's `key_serializer` and
    /// `value_serializer`); see [`TypedProducer`].
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let utf8 = |_: &str, s: &str| -> Result<Vec<u8>, std::convert::Infallible> { Ok(s.as_bytes().to_vec()) };
    /// let p = kafka_sync::Producer::builder().build()?.with_serializers(utf8, utf8);
    /// p.send("flipflap", Some("ping"), Some("1234"))?;
    /// # Ok(()) }
    /// ```
    pub fn with_serializers<K: ?Sized, V: ?Sized>(
        self,
        key: impl Serializer<K> + 'static,
        value: impl Serializer<V> + 'static,
    ) -> TypedProducer<K, V> {
        TypedProducer::new(self, key, value)
    }

    /// The configuration in effect, after validation.
    pub fn config(&self) -> &ProducerConfig {
        &self.inner.config
    }
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("client_id", &self.inner.config.client.client_id)
            .finish_non_exhaustive()
    }
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
