//! [`Consumer`]: iterate records, as kafka-python's `KafkaConsumer`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::broker_version::BrokerVersion;
use crate::error::{Error, Result};
use crate::net::metadata::ClusterMetadata;
use crate::net::rpc::{wait_response, RpcCall, Target};
use crate::net::versions::check_version;
use crate::protocol::api::metadata::{MetadataRequest, MetadataRequestTopic, MetadataResponse};
use crate::TopicPartition;

use super::buffer::FetchBuffer;
use super::builder::ConsumerBuilder;
use super::committer::Committer;
use super::core::{ConsumerCore, Mode};
use super::driver::ConsumerCommand;
use super::listener::ConsumerRebalanceListener;
use super::offsets::{self, OffsetSpec};
use super::reader::RawRecord;
use super::record::{ConsumerRecord, Deserializer, OffsetAndMetadata};

/// How long `Drop` waits for the final commit and the group leave.
const DROP_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A Kafka consumer, as kafka-python's `KafkaConsumer`: iterate it, or `poll` it.
///
/// A `Consumer` is `Send` but not `Sync`: use it from one thread at a time. Its
/// background I/O thread prefetches from every leader, heartbeats, and runs the group
/// protocol, so slow processing neither stalls fetching nor drops the member.
/// Rebalance listeners run on the thread that polls. [`wakeup_handle`](Self::wakeup_handle)
/// gives another thread a way to interrupt a blocked poll.
///
/// # Examples
/// ```no_run
/// use kafka_sync::{Consumer, OffsetReset};
/// use std::time::Duration;
/// # fn main() -> kafka_sync::Result<()> {
/// let mut consumer = Consumer::builder()
///     .bootstrap_servers("127.0.0.1:9092")
///     .group_id("my-group")
///     .auto_offset_reset(OffsetReset::Earliest)
///     .consumer_timeout(Duration::from_secs(1))
///     .build()?;
/// consumer.subscribe(["my-topic"])?;
/// for msg in &mut consumer {
///     let msg = msg?;
///     println!("{}:{}:{} value={:?}", msg.topic, msg.partition, msg.offset, msg.value);
/// }
/// consumer.commit()?;
/// # Ok(()) }
/// ```
pub struct Consumer<K = Bytes, V = Bytes> {
    pub(crate) core: ConsumerCore,
    key_deserializer: Box<dyn Deserializer<K>>,
    value_deserializer: Box<dyn Deserializer<V>>,
    closed: bool,
    /// Not `Sync`: one thread polls.
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

impl<K, V> Consumer<K, V> {
    pub(crate) fn from_parts(
        core: ConsumerCore,
        key_deserializer: Box<dyn Deserializer<K>>,
        value_deserializer: Box<dyn Deserializer<V>>,
    ) -> Self {
        Consumer {
            core,
            key_deserializer,
            value_deserializer,
            closed: false,
            _not_sync: PhantomData,
        }
    }
}

/// Interrupts a consumer's blocked `poll`/`next` from another thread; the call returns
/// [`Error::Wakeup`]. Cloneable and `Sync`, so a signal handler thread can hold one.
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// let consumer = kafka_sync::Consumer::builder().group_id("g").build()?;
/// let waker = consumer.wakeup_handle();
/// std::thread::spawn(move || waker.wakeup());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct WakeupHandle {
    buffer: Arc<FetchBuffer>,
}

impl std::fmt::Debug for WakeupHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WakeupHandle").finish_non_exhaustive()
    }
}

impl WakeupHandle {
    /// Makes the consumer's current (or next) blocking call return `Error::Wakeup`.
    pub fn wakeup(&self) {
        self.buffer.wakeup();
    }
}

impl Consumer<Bytes, Bytes> {
    /// Starts building a consumer.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let consumer = kafka_sync::Consumer::builder().bootstrap_servers("127.0.0.1:9092").build()?;
    /// # Ok(()) }
    /// ```
    pub fn builder() -> ConsumerBuilder<Bytes, Bytes> {
        ConsumerBuilder::new()
    }
}

impl<K, V> Consumer<K, V> {
    /// Joins the group and consumes these topics (kafka-python's `subscribe(topics)`).
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let mut consumer = kafka_sync::Consumer::builder().group_id("g").build()?;
    /// consumer.subscribe(["orders", "payments"])?;
    /// # Ok(()) }
    /// ```
    pub fn subscribe<I, S>(&mut self, topics: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.core
            .subscribe(topics.into_iter().map(Into::into).collect())
    }

    /// Subscribes with a listener that runs on rebalances.
    ///
    /// # Examples
    /// ```no_run
    /// # use kafka_sync::{ConsumerRebalanceListener, RebalanceContext, TopicPartition};
    /// # struct L;
    /// # impl ConsumerRebalanceListener for L {
    /// #   fn on_partitions_revoked(&mut self, _: &mut RebalanceContext<'_>, _: &[TopicPartition]) {}
    /// #   fn on_partitions_assigned(&mut self, _: &mut RebalanceContext<'_>, _: &[TopicPartition]) {}
    /// # }
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let mut consumer = kafka_sync::Consumer::builder().group_id("g").build()?;
    /// consumer.subscribe_with_listener(["orders"], L)?;
    /// # Ok(()) }
    /// ```
    pub fn subscribe_with_listener<I, S>(
        &mut self,
        topics: I,
        listener: impl ConsumerRebalanceListener + 'static,
    ) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.core.listener = Some(Box::new(listener));
        self.subscribe(topics)
    }

    /// Subscribes to every topic whose whole name matches the regular expression, now and
    /// as topics are created (kafka-python's `subscribe(pattern=...)`).
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let mut consumer = kafka_sync::Consumer::builder().group_id("g").build()?;
    /// consumer.subscribe_pattern("awesome.*")?;
    /// # Ok(()) }
    /// ```
    pub fn subscribe_pattern(&mut self, pattern: &str) -> Result<()> {
        self.core.subscribe_pattern(pattern)
    }

    /// [`subscribe_pattern`](Self::subscribe_pattern) with a rebalance listener.
    pub fn subscribe_pattern_with_listener(
        &mut self,
        pattern: &str,
        listener: impl ConsumerRebalanceListener + 'static,
    ) -> Result<()> {
        self.core.listener = Some(Box::new(listener));
        self.subscribe_pattern(pattern)
    }

    /// The subscribed topics (for a pattern, the pattern itself is not listed).
    pub fn subscription(&self) -> BTreeSet<String> {
        match &self.core.mode {
            Mode::Subscribed(t) => t.clone(),
            _ => BTreeSet::new(),
        }
    }

    /// Leaves the group (running `on_partitions_revoked`) or drops a manual assignment.
    pub fn unsubscribe(&mut self) -> Result<()> {
        self.core.unsubscribe()
    }

    /// Reads exactly these partitions, without group management (kafka-python's
    /// `assign`). Mixing it with `subscribe` is an `IllegalState` error.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use kafka_sync::TopicPartition;
    /// # let mut consumer = kafka_sync::Consumer::builder().build()?;
    /// consumer.assign([TopicPartition::new("foobar", 2)])?;
    /// # Ok(()) }
    /// ```
    pub fn assign(&mut self, partitions: impl IntoIterator<Item = TopicPartition>) -> Result<()> {
        self.core.assign(partitions.into_iter().collect())
    }

    /// The partitions this consumer reads now.
    pub fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.core.assignment()
    }

    /// Up to `max_poll_records` records grouped by partition, waiting up to `timeout`
    /// for the first (kafka-python's `poll(timeout_ms)`).
    ///
    /// A record that fails to decode or deserialize ends the batch: the records before it
    /// are returned, and the next call fails with [`Error::Record`] naming its partition
    /// and offset. The position stays at that record (polling again meets it again);
    /// [`seek`](Self::seek) past it to skip it.
    ///
    /// The client reconnects by itself. When no broker has been reachable for
    /// `default_api_timeout`, the poll fails with `NoBrokersAvailable` (never connected)
    /// or `Disconnected`, as pykafka's consumer does; polling again goes on trying.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let mut consumer = kafka_sync::Consumer::builder().group_id("g").build()?;
    /// # consumer.subscribe(["t"])?;
    /// for (tp, records) in consumer.poll(std::time::Duration::from_millis(500))? {
    ///     println!("{tp}: {} records", records.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn poll(
        &mut self,
        timeout: Duration,
    ) -> Result<HashMap<TopicPartition, Vec<ConsumerRecord<K, V>>>> {
        let max = self.core.config.max_poll_records;
        self.poll_records(timeout, max)
    }

    /// [`poll`](Self::poll) with an explicit record limit.
    pub fn poll_records(
        &mut self,
        timeout: Duration,
        max_records: usize,
    ) -> Result<HashMap<TopicPartition, Vec<ConsumerRecord<K, V>>>> {
        let mut out: HashMap<TopicPartition, Vec<ConsumerRecord<K, V>>> = HashMap::new();
        let (kd, vd) = (&self.key_deserializer, &self.value_deserializer);
        self.core
            .poll_raw(Some(timeout), max_records.max(1), &mut |topic, tp, raw| {
                let rec = to_record(topic, tp, raw, kd.as_ref(), vd.as_ref())?;
                match out.get_mut(tp) {
                    Some(records) => records.push(rec),
                    None => {
                        out.insert(tp.clone(), vec![rec]);
                    }
                }
                Ok(())
            })?;
        Ok(out)
    }

    /// The next record, waiting up to `timeout`; `Ok(None)` if none came.
    pub fn next_timeout(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<ConsumerRecord<K, V>>> {
        let mut out = None;
        let (kd, vd) = (&self.key_deserializer, &self.value_deserializer);
        self.core.poll_raw(timeout, 1, &mut |topic, tp, raw| {
            out = Some(to_record(topic, tp, raw, kd.as_ref(), vd.as_ref())?);
            Ok(())
        })?;
        Ok(out)
    }

    /// An iterator over records; it ends after `consumer_timeout` without one.
    pub fn iter(&mut self) -> Iter<'_, K, V> {
        Iter { consumer: self }
    }

    /// Sets the next offset to read from a partition.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let mut consumer = kafka_sync::Consumer::builder().build()?;
    /// let tp = kafka_sync::TopicPartition::new("t", 0);
    /// consumer.assign([tp.clone()])?;
    /// consumer.seek(&tp, 42)?;
    /// # Ok(()) }
    /// ```
    pub fn seek(&mut self, tp: &TopicPartition, offset: i64) -> Result<()> {
        self.core.seek(tp, offset)
    }

    /// Moves to the first available offset of these partitions (all assigned if empty).
    ///
    /// Lazy, as in kafka-python and the Java client: it returns at once, and the offset
    /// is looked up by the next `poll`/`next`, [`position`](Self::position) or
    /// [`commit`](Self::commit). `commit()` right after it commits the beginning (the
    /// offsets reset of the "reset to earliest" tools); a `committer` or `commit_async`
    /// commit does not wait for the lookup and leaves the partition out until then.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let mut consumer = kafka_sync::Consumer::builder().group_id("g").build()?;
    /// consumer.subscribe(["orders"])?;
    /// while consumer.assignment().is_empty() {
    ///     consumer.poll(std::time::Duration::from_millis(100))?; // joins the group
    /// }
    /// consumer.seek_to_beginning(&[])?; // every assigned partition
    /// consumer.commit()?; // the group now starts over from the beginning
    /// # Ok(()) }
    /// ```
    pub fn seek_to_beginning(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        self.core.seek_to(partitions, OffsetSpec::Earliest)
    }

    /// Moves to the end of these partitions (all assigned if empty). Lazy, as
    /// [`seek_to_beginning`](Self::seek_to_beginning) is; `commit()` right after it
    /// commits the end.
    pub fn seek_to_end(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        self.core.seek_to(partitions, OffsetSpec::Latest)
    }

    /// The offset of the next record to read from `tp` (last consumed + 1).
    pub fn position(&mut self, tp: &TopicPartition) -> Result<i64> {
        self.core.position(tp)
    }

    /// The high watermark last seen in a fetch of `tp`, if any (kafka-python's `highwater`).
    pub fn highwater(&self, tp: &TopicPartition) -> Option<i64> {
        self.core.highwater(tp)
    }

    /// Stops fetching these partitions until [`resume`](Self::resume).
    pub fn pause(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        self.core.pause(partitions, true)
    }

    /// Fetches paused partitions again.
    pub fn resume(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        self.core.pause(partitions, false)
    }

    /// The paused partitions.
    pub fn paused(&self) -> BTreeSet<TopicPartition> {
        self.core.paused()
    }

    /// Commits the position of every assigned partition, synchronously. The committed
    /// offset is the next one to read (last consumed + 1). Inside `for msg in &mut
    /// consumer`, commit through a [`committer`](Self::committer) instead.
    ///
    /// A commit the group refuses because the member is out of its generation
    /// (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS) also stops the
    /// consumer from handing out records until the group has assigned partitions again.
    pub fn commit(&mut self) -> Result<()> {
        self.core.commit_positions()
    }

    /// A handle that commits while a loop holds the consumer: `for msg in &mut consumer`
    /// borrows it for the whole loop, so `consumer.commit()` cannot be called inside.
    /// [`Committer::commit`] commits one record as processed (its offset + 1).
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let mut consumer = kafka_sync::Consumer::builder()
    ///     .bootstrap_servers("127.0.0.1:9092")
    ///     .group_id("billing")
    ///     .enable_auto_commit(false)
    ///     .build()?;
    /// consumer.subscribe(["invoices"])?;
    /// let committer = consumer.committer();
    /// for msg in &mut consumer {
    ///     let msg = msg?;
    ///     // ... process msg ...
    ///     committer.commit(&msg)?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn committer(&self) -> Committer {
        Committer::new(
            self.core.commands.clone(),
            self.core.fence.clone(),
            self.core.config.default_api_timeout,
            self.core.config.group_id.is_some(),
            self.core.stats.clone(),
        )
    }

    /// The consumer's group id, generation, member id and group instance id (KIP-447),
    /// as the Java client's `groupMetadata()`: pass it to
    /// [`Producer::send_offsets_to_transaction`](crate::Producer::send_offsets_to_transaction)
    /// so the offsets commit only while this member still owns its partitions.
    /// `IllegalState` without a `group_id`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let mut consumer = kafka_sync::Consumer::builder().group_id("billing").build()?;
    /// consumer.subscribe(["invoices"])?;
    /// let _ = consumer.poll(std::time::Duration::from_secs(1))?;
    /// let meta = consumer.group_metadata()?;
    /// println!("member {} of generation {}", meta.member_id, meta.generation_id);
    /// # Ok(()) }
    /// ```
    pub fn group_metadata(&self) -> Result<crate::consumer::ConsumerGroupMetadata> {
        self.core.group_metadata()
    }

    /// Commits explicit offsets (each the next offset to read), with metadata.
    pub fn commit_offsets(
        &mut self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<()> {
        self.core.commit_offsets(offsets)
    }

    /// Commits current positions without waiting; `callback` runs on this thread during a
    /// later `poll`/`next`, `commit` or `close` with the outcome, never on the I/O thread
    /// and never under the consumer's locks.
    pub fn commit_async(
        &mut self,
        callback: impl FnOnce(Result<()>) + Send + 'static,
    ) -> Result<()> {
        self.core.commit_async(None, Box::new(callback))
    }

    /// Commits explicit offsets (each the next offset to read) without waiting
    /// (kafka-python's `commit_async(offsets, callback)`); `callback` gets the offsets
    /// and the outcome on this thread during a later `poll`/`next`, `commit` or `close`,
    /// never on the I/O thread and never under the consumer's locks.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use std::collections::BTreeMap;
    /// use kafka_sync::{OffsetAndMetadata, TopicPartition};
    /// # let mut consumer = kafka_sync::Consumer::builder().group_id("g").build()?;
    /// let offsets = BTreeMap::from([(TopicPartition::new("orders", 0), OffsetAndMetadata::new(42))]);
    /// consumer.commit_async_offsets(offsets, |offsets, result| {
    ///     if let Err(e) = result {
    ///         eprintln!("commit of {offsets:?} failed: {e}");
    ///     }
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn commit_async_offsets(
        &mut self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        callback: impl FnOnce(BTreeMap<TopicPartition, OffsetAndMetadata>, Result<()>) + Send + 'static,
    ) -> Result<()> {
        let committed = offsets.clone();
        self.core.commit_async(
            Some(offsets),
            Box::new(move |result| callback(committed, result)),
        )
    }

    /// The group's committed offset for a partition (`None` if nothing is committed).
    pub fn committed(&mut self, tp: &TopicPartition) -> Result<Option<OffsetAndMetadata>> {
        let mut m = self.core.committed(vec![tp.clone()])?;
        Ok(m.remove(tp).flatten())
    }

    /// The first available offset of each partition.
    pub fn beginning_offsets(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>> {
        let specs: Vec<_> = partitions
            .iter()
            .map(|tp| (tp.clone(), OffsetSpec::Earliest))
            .collect();
        Ok(self
            .list_offsets(&specs)?
            .into_iter()
            .map(|(tp, (o, _))| (tp, o))
            .collect())
    }

    /// The end offset (offset of the next record to be written) of each partition.
    pub fn end_offsets(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>> {
        let specs: Vec<_> = partitions
            .iter()
            .map(|tp| (tp.clone(), OffsetSpec::Latest))
            .collect();
        Ok(self
            .list_offsets(&specs)?
            .into_iter()
            .map(|(tp, (o, _))| (tp, o))
            .collect())
    }

    /// For each partition, the earliest offset whose timestamp is at or after the given
    /// time (ms since the epoch), with that record's timestamp; `None` if there is none.
    pub fn offsets_for_times(
        &mut self,
        times: &HashMap<TopicPartition, i64>,
    ) -> Result<HashMap<TopicPartition, Option<(i64, i64)>>> {
        let specs: Vec<_> = times
            .iter()
            .map(|(tp, t)| (tp.clone(), OffsetSpec::Timestamp(*t)))
            .collect();
        Ok(self
            .list_offsets(&specs)?
            .into_iter()
            .map(|(tp, (o, ts))| (tp, (o >= 0).then_some((o, ts))))
            .collect())
    }

    fn list_offsets(
        &mut self,
        specs: &[(TopicPartition, OffsetSpec)],
    ) -> Result<HashMap<TopicPartition, (i64, i64)>> {
        let timeout = self.core.config.default_api_timeout;
        let deadline = crate::deadline::from_now(timeout);
        let topics: Vec<String> = specs
            .iter()
            .map(|(tp, _)| tp.topic.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        self.wait_for_topics(topics, deadline)?;
        let mut out = HashMap::new();
        let mut todo: Vec<(TopicPartition, OffsetSpec)> = specs.to_vec();
        while !todo.is_empty() {
            let metadata = self.core.io.metadata.load();
            let mut by_leader: HashMap<i32, Vec<(TopicPartition, OffsetSpec)>> = HashMap::new();
            for (tp, spec) in &todo {
                match metadata.leader(&tp.topic, tp.partition) {
                    Some(l) => by_leader.entry(l).or_default().push((tp.clone(), *spec)),
                    None => {
                        return Err(Error::broker(
                            crate::ErrorCode::LEADER_NOT_AVAILABLE,
                            Some(format!("{tp}")),
                        ))
                    }
                }
            }
            let mut retry = Vec::new();
            for (leader, batch) in by_leader {
                let req = offsets::list_offsets_request(&batch, self.core.config.isolation_level);
                let remaining = deadline.saturating_duration_since(Instant::now());
                let (call, rx) = RpcCall::new(Target::Node(leader), req, remaining);
                self.core.io.send(ConsumerCommand::Rpc(call))?;
                let resp = match rx.recv_timeout(remaining + Duration::from_secs(1)) {
                    Ok(r) => r?,
                    Err(_) => return Err(Error::timeout("offset lookup", timeout)),
                };
                for (tp, r) in offsets::parse_list_offsets(resp)? {
                    match r {
                        Ok(v) => {
                            out.insert(tp, v);
                        }
                        Err(e) if e.is_retriable() && Instant::now() < deadline => {
                            if let Some(s) = batch.iter().find(|(t, _)| *t == tp) {
                                retry.push(s.clone());
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            if !retry.is_empty() {
                std::thread::sleep(self.core.config.client.retry_backoff);
            }
            todo = retry;
        }
        Ok(out)
    }

    fn wait_for_topics(&mut self, topics: Vec<String>, deadline: Instant) -> Result<()> {
        let metadata = self.core.io.metadata.load();
        if topics.iter().all(|t| metadata.topic(t).is_some()) {
            return Ok(());
        }
        // Only topics that exist join the metadata the client keeps up to date: a lookup
        // never creates a topic, whatever the broker's auto-create setting.
        for topic in topics.iter().filter(|t| metadata.topic(t).is_none()) {
            if self.lookup_partitions(topic, deadline)?.is_none() {
                return Err(Error::broker(
                    crate::ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    Some(format!("topic {topic}")),
                ));
            }
        }
        let (reply, rx) = std::sync::mpsc::sync_channel(1);
        self.core.io.send(ConsumerCommand::WaitForTopics {
            topics,
            deadline,
            reply,
        })?;
        let timeout = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(timeout + Duration::from_secs(1)) {
            Ok(r) => r,
            Err(_) => Err(Error::timeout("topic metadata", timeout)),
        }
    }

    /// The partition ids of `topic`, or `None` if the topic does not exist. It never
    /// creates the topic, whatever the broker's `auto.create.topics.enable`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let mut consumer = kafka_sync::Consumer::builder().build()?;
    /// if consumer.partitions_for_topic("orders")?.is_none() {
    ///     println!("no topic orders");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn partitions_for_topic(&mut self, topic: &str) -> Result<Option<BTreeSet<i32>>> {
        let m = self.core.io.metadata.load();
        if let Some(t) = m.topic(topic) {
            return Ok(Some(t.partitions.iter().map(|p| p.partition).collect()));
        }
        let deadline = crate::deadline::from_now(self.core.config.default_api_timeout);
        self.lookup_partitions(topic, deadline)
    }

    /// Asks a broker for `topic` with auto-creation off: its partition ids, or `None` if
    /// it does not exist. Retriable topic errors are retried until `deadline`.
    fn lookup_partitions(
        &mut self,
        topic: &str,
        deadline: Instant,
    ) -> Result<Option<BTreeSet<i32>>> {
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let req = MetadataRequest {
                topics: Some(vec![MetadataRequestTopic {
                    name: Some(topic.to_owned()),
                    ..Default::default()
                }]),
                allow_auto_topic_creation: false,
                ..Default::default()
            };
            let (call, rx) = RpcCall::new(Target::Any, req, remaining);
            self.core.io.send(ConsumerCommand::Rpc(call))?;
            let (_, resp): (_, MetadataResponse) = wait_response(rx, remaining, "topic metadata")?;
            let Some(t) = resp
                .topics
                .into_iter()
                .find(|t| t.name.as_deref() == Some(topic))
            else {
                return Ok(None);
            };
            let code = crate::ErrorCode(t.error_code);
            if code.is_ok() {
                return Ok(Some(
                    t.partitions.iter().map(|p| p.partition_index).collect(),
                ));
            }
            if code == crate::ErrorCode::UNKNOWN_TOPIC_OR_PARTITION {
                return Ok(None);
            }
            if !code.is_retriable()
                || crate::deadline::from_now(self.core.config.client.retry_backoff) >= deadline
            {
                return Err(Error::for_topic(
                    code,
                    Some(format!("topic {topic}")),
                    topic,
                ));
            }
            std::thread::sleep(self.core.config.client.retry_backoff);
        }
    }

    /// Every topic in the cluster (internal ones too unless `exclude_internal_topics`).
    pub fn topics(&mut self) -> Result<BTreeSet<String>> {
        let timeout = self.core.config.default_api_timeout;
        let req = MetadataRequest {
            topics: None,
            allow_auto_topic_creation: false,
            ..Default::default()
        };
        let (call, rx) = RpcCall::new(Target::Any, req, timeout);
        self.core.io.send(ConsumerCommand::Rpc(call))?;
        let (_, resp): (_, MetadataResponse) = wait_response(rx, timeout, "topic list")?;
        let exclude = self.core.config.exclude_internal_topics;
        Ok(resp
            .topics
            .into_iter()
            .filter(|t| t.error_code == 0 && !(exclude && t.is_internal))
            .filter_map(|t| t.name)
            .collect())
    }

    /// A snapshot of the consumer's counters (kafka-python's `metrics()`): records and
    /// bytes consumed, fetch and commit latency, lag per partition, rebalances and the
    /// last heartbeat. [`ConsumerMetrics::to_map`](super::ConsumerMetrics::to_map) gives
    /// them under the Java client's metric names.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let consumer = kafka_sync::Consumer::builder().build()?;
    /// let m = consumer.metrics();
    /// println!("lag {:?}, {} rebalances", m.records_lag_max, m.rebalance_total);
    /// # Ok(()) }
    /// ```
    pub fn metrics(&self) -> super::ConsumerMetrics {
        self.core.metrics()
    }

    /// The Kafka release of the brokers (kafka-python's `check_version()`): the one
    /// `api_version` pins the consumer to if set, else the release inferred from the
    /// first broker's ApiVersions. Waits up to `api_version_auto_timeout` for the first
    /// connection, then fails with `Timeout`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let consumer = kafka_sync::Consumer::builder().build()?;
    /// println!("brokers run Kafka {}", consumer.check_version()?);
    /// # Ok(()) }
    /// ```
    pub fn check_version(&self) -> Result<BrokerVersion> {
        check_version(&self.core.config.client, &self.core.io.metadata)
    }

    /// A snapshot of the cluster metadata the consumer holds (kafka-python's
    /// `cluster`): brokers, controller, and the topics it subscribed to, was assigned
    /// or looked up (with their partitions and leaders). Refreshed in the background;
    /// call again for a newer one.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let consumer = kafka_sync::Consumer::builder().build()?;
    /// let cluster = consumer.cluster();
    /// println!("{} brokers, controller {:?}", cluster.brokers.len(), cluster.controller());
    /// # Ok(()) }
    /// ```
    pub fn cluster(&self) -> Arc<ClusterMetadata> {
        self.core.io.metadata.load()
    }

    /// A handle another thread can use to interrupt a blocked `poll`/`next`.
    pub fn wakeup_handle(&self) -> WakeupHandle {
        WakeupHandle {
            buffer: self.core.buffer.clone(),
        }
    }

    /// Commits (with auto-commit on), leaves the group and stops the I/O thread, waiting
    /// at most `timeout`.
    pub fn close(mut self, timeout: Duration) {
        self.closed = true;
        self.core.close(timeout, true);
    }

    /// As [`close`](Self::close), choosing whether auto-commit commits the consumed
    /// offsets first (kafka-python's `close(autocommit=False)`): with `false` nothing is
    /// committed, whatever `enable_auto_commit` says; with `true` it is `close`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let consumer = kafka_sync::Consumer::builder().group_id("g").build()?;
    /// // Processing failed: leave the group without committing what was read.
    /// consumer.close_with_autocommit(std::time::Duration::from_secs(5), false);
    /// # Ok(()) }
    /// ```
    pub fn close_with_autocommit(mut self, timeout: Duration, autocommit: bool) {
        self.closed = true;
        self.core.close(timeout, autocommit);
    }
}

impl<K, V> std::fmt::Debug for Consumer<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("client_id", &self.core.config.client.client_id)
            .field("group_id", &self.core.config.group_id)
            .field("assignment", &self.core.assignment())
            .finish_non_exhaustive()
    }
}

impl<K, V> Drop for Consumer<K, V> {
    fn drop(&mut self) {
        if !self.closed {
            self.core.close(DROP_CLOSE_TIMEOUT, true);
        }
    }
}

fn to_record<K, V>(
    topic: &Arc<str>,
    tp: &TopicPartition,
    raw: RawRecord,
    kd: &dyn Deserializer<K>,
    vd: &dyn Deserializer<V>,
) -> Result<ConsumerRecord<K, V>> {
    let r = raw.record;
    Ok(ConsumerRecord {
        topic: topic.clone(),
        partition: tp.partition,
        offset: r.offset,
        timestamp: r.timestamp,
        timestamp_type: raw.timestamp_type,
        serialized_key_size: r.key.as_ref().map_or(-1, |k| k.len() as i32),
        serialized_value_size: r.value.as_ref().map_or(-1, |v| v.len() as i32),
        key: r.key.map(|k| kd.deserialize_owned(topic, k)).transpose()?,
        value: r
            .value
            .map(|v| vd.deserialize_owned(topic, v))
            .transpose()?,
        headers: r.headers,
        leader_epoch: raw.leader_epoch,
    })
}

/// Iterates a consumer; ends after `consumer_timeout` passes with no record.
pub struct Iter<'a, K, V> {
    consumer: &'a mut Consumer<K, V>,
}

impl<K, V> std::fmt::Debug for Iter<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iter")
            .field("consumer", &self.consumer)
            .finish()
    }
}

impl<K, V> Iterator for Iter<'_, K, V> {
    type Item = Result<ConsumerRecord<K, V>>;

    fn next(&mut self) -> Option<Self::Item> {
        let timeout = self.consumer.core.config.consumer_timeout;
        self.consumer.next_timeout(timeout).transpose()
    }
}

impl<'a, K, V> IntoIterator for &'a mut Consumer<K, V> {
    type Item = Result<ConsumerRecord<K, V>>;
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}
