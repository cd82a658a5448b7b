//! [`Producer`]: the thread-safe handle users send records through.

use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::broker_version::BrokerVersion;
use crate::config::ProducerConfig;
use crate::error::{Error, Result};
use crate::net::io_thread::IoHandle;
use crate::net::metadata::{ClusterMetadata, TopicMetadata};
use crate::net::versions::check_version;
use crate::protocol::records::RecordBatchBuilder;

use super::accumulator::{Accumulator, RecordRef};
use super::block_budget::BlockBudget;
use super::builder::ProducerBuilder;
use super::future::DeliveryFuture;
use super::metrics::{Metrics, ProducerMetrics};
use super::partitioner::Partitioner;
use super::record::ProducerRecord;
use super::sender::{ProducerCommand, Sender};
use super::serializer::{Serializer, TypedProducer};
use super::transaction::TxnShared;

/// Bound on `Drop`'s wait for pending records, as the Java client's `close()` without a
/// timeout would wait forever.
const DROP_CLOSE_TIMEOUT: Duration = Duration::from_secs(30);
/// What `flush` waits beyond `delivery_timeout`: the I/O thread's reaction time.
const FLUSH_SLACK: Duration = Duration::from_secs(1);

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
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) io: IoHandle<ProducerCommand>,
    acc: Arc<Accumulator>,
    metrics: Arc<Metrics>,
    partitioner: Arc<dyn Partitioner>,
    pub(super) config: ProducerConfig,
    /// The transaction state of a transactional producer.
    pub(super) txn: Option<Arc<TxnShared>>,
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
        let txn = sender.txn.as_ref().map(|t| t.shared.clone());
        let io = IoHandle::spawn(config.client.clone(), sender)?;
        Ok(Producer {
            inner: Arc::new(Inner {
                io,
                acc,
                metrics,
                partitioner,
                config,
                txn,
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
        if let Some(txn) = &inner.txn {
            txn.check_send()?;
        }
        let mut budget = BlockBudget::new(inner.config.max_block);
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
        let (count, partition) = self.with_topic(&record.topic, &mut budget, |t| {
            let count = t.partitions.len();
            match record.partition {
                Some(p) if p < 0 || p as usize >= count => Err(Error::InvalidArgument(format!(
                    "partition {p} is not in topic {} ({count} partitions)",
                    record.topic
                ))),
                Some(p) => Ok((count, p)),
                None => Ok((
                    count,
                    inner
                        .partitioner
                        .partition(&record.topic, key, &t.available, count),
                )),
            }
        })??;
        let queues = inner.acc.topic(&record.topic, count);
        let timestamp = record.timestamp.unwrap_or_else(now_millis);
        inner.acc.reserve(size, &mut budget)?;
        let parts = RecordRef {
            timestamp,
            key,
            value,
            headers: &headers,
        };
        let sticky = record.partition.is_none() && key.is_none();
        let appended = match inner.acc.append(&queues, partition, &parts, size, sticky)? {
            Some(a) => a,
            None => {
                // Sticky partitioning (KIP-480): the keyless record would start a new
                // batch, so the topic moves to another partition first.
                let moved = self.with_topic(&record.topic, &mut budget, |t| {
                    let p = &inner.partitioner;
                    p.on_new_batch(&record.topic, partition, &t.available, count);
                    p.partition(&record.topic, None, &t.available, count)
                })?;
                match inner.acc.append(&queues, moved, &parts, size, false)? {
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

    /// Runs `f` on the topic's metadata, first fetching it if the topic is not known yet
    /// (within the send's `max_block`). One map lookup when it is known.
    fn with_topic<R>(
        &self,
        topic: &str,
        budget: &mut BlockBudget,
        f: impl FnOnce(&TopicMetadata) -> R,
    ) -> Result<R> {
        fn known<'m>(m: &'m ClusterMetadata, topic: &str) -> Option<&'m TopicMetadata> {
            m.topic(topic).filter(|t| !t.partitions.is_empty())
        }
        let metadata = self.inner.io.metadata.load();
        if let Some(t) = known(&metadata, topic) {
            return Ok(f(t));
        }
        let metadata = self.wait_for_topic(topic, budget)?;
        match known(&metadata, topic) {
            Some(t) => Ok(f(t)),
            None => Err(Error::timeout(
                format!("metadata for topic {topic}"),
                budget.max(),
            )),
        }
    }

    /// Asks the I/O thread for `topic`'s metadata and waits for it.
    fn wait_for_topic(
        &self,
        topic: &str,
        budget: &mut BlockBudget,
    ) -> Result<Arc<ClusterMetadata>> {
        let inner = &*self.inner;
        if topic.is_empty() {
            return Err(Error::InvalidArgument("topic name is empty".into()));
        }
        let deadline = budget.deadline();
        let (reply, rx) = sync_channel(1);
        inner.io.send(ProducerCommand::WaitForTopic {
            topic: topic.to_owned(),
            deadline,
            reply,
        })?;
        let wait = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(1);
        match rx.recv_timeout(wait) {
            Ok(Ok(())) => Ok(inner.io.metadata.load()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::timeout(
                format!("metadata for topic {topic}"),
                budget.max(),
            )),
        }
    }

    /// Sends every queued record now and waits until all of them are delivered or failed,
    /// for at most `timeout`. A checked flush: it also tells whether they were delivered.
    ///
    /// - `Ok(())`: every record sent before this call was delivered, and so was every
    ///   other record that completed since the previous flush returned.
    /// - [`Error::DeliveryFailed`]: that many records failed since the previous flush
    ///   (from any clone of this producer), with the first error; each record's future
    ///   holds its own. The count restarts at zero.
    /// - [`Error::Timeout`]: records are still pending; their failures, if any, are
    ///   reported by a later flush.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let producer = kafka_sync::Producer::builder().build()?;
    /// match producer.flush_timeout(std::time::Duration::from_secs(10)) {
    ///     Ok(()) => println!("all delivered"),
    ///     Err(kafka_sync::Error::DeliveryFailed { failed, first, .. }) => {
    ///         eprintln!("{failed} records were not delivered: {first}")
    ///     }
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn flush_timeout(&self, timeout: Duration) -> Result<()> {
        let acc = &self.inner.acc;
        acc.begin_flush();
        self.inner.io.wake();
        let result = acc.wait_all_complete(timeout);
        acc.end_flush();
        result?;
        match acc.take_failures() {
            Some((failed, first)) => Err(Error::DeliveryFailed {
                failed,
                first: Box::new(first),
            }),
            None => Ok(()),
        }
    }

    /// [`flush_timeout`](Self::flush_timeout) bounded by `delivery_timeout` (and
    /// `linger`), after which every record has an outcome anyway. Returns
    /// [`Error::DeliveryFailed`] if any record failed since the previous flush.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let producer = kafka_sync::Producer::builder().build()?;
    /// producer.flush()?; // an error if any record was not delivered
    /// # Ok(()) }
    /// ```
    pub fn flush(&self) -> Result<()> {
        let config = &self.inner.config;
        self.flush_timeout(config.delivery_timeout + config.linger + FLUSH_SLACK)
    }

    /// Sends what is queued, waits up to `timeout` for it, then stops the I/O thread.
    /// Records still pending at the deadline fail: with `Closed` if they were never sent,
    /// with a `Timeout` saying the broker may have written them if they were in flight.
    /// Every accepted record gets an outcome. Other clones of this producer stop working
    /// too. The same shape as [`Consumer::close`](crate::Consumer::close) and
    /// [`AdminClient::close`](crate::admin::AdminClient::close).
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let producer = kafka_sync::Producer::builder().build()?;
    /// producer.close(std::time::Duration::from_secs(5));
    /// # Ok(()) }
    /// ```
    pub fn close(self, timeout: Duration) {
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
        let mut budget = BlockBudget::new(self.inner.config.max_block);
        self.with_topic(topic, &mut budget, |t| {
            t.partitions.iter().map(|p| p.partition).collect()
        })
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
        let buffer_memory = self.inner.config.buffer_memory;
        self.inner
            .metrics
            .snapshot(self.inner.acc.memory_used(), buffer_memory)
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

    /// The Kafka release of the brokers (kafka-python's `check_version()`): the one
    /// `api_version` pins the producer to if set, else the release inferred from the
    /// first broker's ApiVersions. Waits up to `api_version_auto_timeout` for the first
    /// connection, then fails with `Timeout`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let producer = kafka_sync::Producer::builder().build()?;
    /// if producer.check_version()? < kafka_sync::BrokerVersion::new(3, 0) {
    ///     println!("old brokers");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn check_version(&self) -> Result<BrokerVersion> {
        check_version(&self.inner.config.client, &self.inner.io.metadata)
    }

    /// A snapshot of the cluster metadata the producer holds (kafka-python's
    /// `cluster`): brokers, controller, and the topics it has sent to or looked up
    /// (with their partitions and leaders). Refreshed in the background; call again
    /// for a newer one.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let producer = kafka_sync::Producer::builder().build()?;
    /// producer.partitions_for("orders")?;
    /// let cluster = producer.cluster();
    /// println!("leader of orders-0: {:?}", cluster.leader("orders", 0));
    /// # Ok(()) }
    /// ```
    pub fn cluster(&self) -> Arc<ClusterMetadata> {
        self.inner.io.metadata.load()
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
