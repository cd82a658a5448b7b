//! The producer's half of the I/O thread: drains ready batches into Produce requests,
//! one request per broker, handles responses, retries and idempotent sequence numbers.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::config::{Acks, ProducerConfig};
use crate::error::{Error, Result};
use crate::net::io_thread::Driver;
use crate::net::metadata::NodeId;
use crate::net::network::{Network, Response};
use crate::protocol::api::init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
use crate::protocol::api::produce::{
    PartitionProduceData, ProduceRequest, ProduceResponse, TopicProduceData,
};
use crate::protocol::api::{ApiKey, Message};
use crate::protocol::error_code::ErrorCode;
use crate::protocol::records;

use super::accumulator::{Accumulator, ClosedBatch};
use super::future::{BatchCompletion, BatchOutcome};
use super::metrics::Metrics;

/// Produce v3 is the first with record batches v2; v11 is the newest this client speaks.
const PRODUCE_MIN_VERSION: i16 = 3;

/// Commands from producer handles.
pub(crate) enum ProducerCommand {
    /// Reply once metadata knows `topic` (or the deadline passes).
    WaitForTopic {
        topic: String,
        deadline: Instant,
        reply: SyncSender<Result<()>>,
    },
}

/// What a request in flight is for.
pub(crate) enum ProducerCtx {
    Produce(u64),
    InitProducerId,
}

/// A batch that has been closed and encoded, on its way to the broker.
struct SentBatch {
    topic: Arc<str>,
    partition: i32,
    bytes: Bytes,
    completion: Arc<BatchCompletion>,
    records: i32,
    reserved: usize,
    created: Instant,
    attempts: u32,
    base_sequence: i32,
    producer_id: i64,
}

/// Per-partition send state kept on the I/O thread.
#[derive(Default)]
struct PartitionState {
    /// Batches to send again, in sequence order.
    retries: VecDeque<SentBatch>,
    retry_not_before: Option<Instant>,
    in_flight: usize,
    next_sequence: i32,
}

struct TopicWaiter {
    topic: String,
    deadline: Instant,
    reply: SyncSender<Result<()>>,
}

pub(crate) struct Sender {
    config: ProducerConfig,
    acc: Arc<Accumulator>,
    metrics: Arc<Metrics>,
    idempotent: bool,
    producer_id: i64,
    producer_epoch: i16,
    init_in_flight: bool,
    init_not_before: Option<Instant>,
    partitions: HashMap<(Arc<str>, i32), PartitionState>,
    in_flight: HashMap<u64, (Instant, Vec<SentBatch>)>,
    next_request_id: u64,
    waiters: Vec<TopicWaiter>,
    fatal: Option<Error>,
}

impl Sender {
    pub fn new(config: ProducerConfig, acc: Arc<Accumulator>, metrics: Arc<Metrics>) -> Self {
        let idempotent = config.enable_idempotence;
        Sender {
            config,
            acc,
            metrics,
            idempotent,
            producer_id: -1,
            producer_epoch: -1,
            init_in_flight: false,
            init_not_before: None,
            partitions: HashMap::new(),
            in_flight: HashMap::new(),
            next_request_id: 0,
            waiters: Vec::new(),
            fatal: None,
        }
    }

    fn has_producer_id(&self) -> bool {
        !self.idempotent || self.producer_id >= 0
    }

    fn init_producer_id(&mut self, net: &mut Network<ProducerCtx>, now: Instant) {
        if self.init_in_flight || self.init_not_before.is_some_and(|t| t > now) {
            return;
        }
        let Some(node) = net.least_loaded_node(now) else {
            return;
        };
        let req = InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: i32::MAX,
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
        };
        match net.send(node, &req, None, ProducerCtx::InitProducerId, now) {
            Ok(_) => self.init_in_flight = true,
            Err(e) => self.fail_init(e, now),
        }
    }

    fn fail_init(&mut self, e: Error, now: Instant) {
        log::warn!("InitProducerId failed: {e}");
        self.init_in_flight = false;
        if e.is_retriable() {
            self.init_not_before = Some(now + self.config.client.retry_backoff);
        } else {
            self.fatal = Some(e);
        }
    }

    fn on_init_response(&mut self, result: Result<Response>, now: Instant) {
        let resp = match result.and_then(|r| r.decode::<InitProducerIdResponse>()) {
            Ok(r) => r,
            Err(e) => return self.fail_init(e, now),
        };
        if resp.error_code != 0 {
            return self.fail_init(Error::broker(ErrorCode(resp.error_code), None), now);
        }
        self.init_in_flight = false;
        self.producer_id = resp.producer_id;
        self.producer_epoch = resp.producer_epoch;
        // A new epoch starts every partition's sequence at zero.
        for state in self.partitions.values_mut() {
            state.next_sequence = 0;
        }
        log::debug!(
            "producer id {} epoch {}",
            self.producer_id,
            self.producer_epoch
        );
    }

    /// Sends every ready batch whose leader can take a request. Returns the next time a
    /// batch becomes ready.
    fn send_ready(&mut self, net: &mut Network<ProducerCtx>, now: Instant) -> Option<Instant> {
        let force = self.acc.is_flushing() || self.acc.is_closed();
        let linger = self.config.linger;
        let max_request = self.config.max_request_size;
        let cluster = net.cluster().clone();
        let mut next: Option<Instant> = None;
        let mut per_node: HashMap<NodeId, (usize, Vec<SentBatch>)> = HashMap::new();
        let mut want_metadata = false;
        let max_per_partition = if self.idempotent { 5 } else { usize::MAX };

        for topic in self.acc.topics() {
            for (index, queue) in topic.partitions.iter().enumerate() {
                let partition = index as i32;
                let key = (topic.name.clone(), partition);
                let state = self.partitions.entry(key).or_default();
                let mut q = super::accumulator::lock(queue);
                if q.is_empty() && state.retries.is_empty() {
                    continue;
                }
                let Some(leader) = cluster.leader(&topic.name, partition) else {
                    want_metadata = true;
                    expire_unsendable(
                        &mut q.closed,
                        &self.acc,
                        &self.metrics,
                        self.config.delivery_timeout,
                        now,
                    );
                    continue;
                };
                if !net.ready_or_connect(leader, now) {
                    continue;
                }
                // max_in_flight_requests_per_connection: a node at the limit gets no new
                // request until a response frees a slot (which wakes this loop). Without
                // the check, requests pile up in the socket buffer beyond buffer_memory.
                if !per_node.contains_key(&leader) && !net.can_send(leader) {
                    continue;
                }
                // Retries go first, one at a time, so sequence order holds.
                let batch = if let Some(first) = state.retries.front() {
                    if state.in_flight > 0 {
                        continue;
                    }
                    if let Some(t) = state.retry_not_before.filter(|t| *t > now) {
                        next = min_time(next, t);
                        continue;
                    }
                    let stale = first.producer_id != self.producer_id;
                    let mut b = state.retries.pop_front();
                    if let (true, Some(batch)) = (stale, b.as_mut()) {
                        restamp(batch, state, self.producer_id, self.producer_epoch);
                    }
                    b.map(Ok)
                } else {
                    if state.in_flight >= max_per_partition {
                        continue;
                    }
                    match q.take_ready(linger, now, force) {
                        Some(b) => Some(seal(
                            b,
                            state,
                            self.producer_id,
                            self.producer_epoch,
                            &self.config,
                        )),
                        None => {
                            if let Some(t) = q.ready_at(linger) {
                                next = min_time(next, t);
                            }
                            None
                        }
                    }
                };
                drop(q);
                let Some(batch) = batch else { continue };
                let batch = match batch {
                    Ok(b) => b,
                    Err((e, completion, records, reserved)) => {
                        finish_batch(
                            &self.acc,
                            &self.metrics,
                            &completion,
                            records,
                            reserved,
                            Err(e),
                        );
                        continue;
                    }
                };
                let (size, list) = per_node.entry(leader).or_default();
                if !list.is_empty() && *size + batch.bytes.len() > max_request {
                    // The request is full; this batch goes back for the next one.
                    state.retries.push_front(batch);
                    next = Some(now);
                    continue;
                }
                *size += batch.bytes.len();
                state.in_flight += 1;
                list.push(batch);
            }
        }
        if want_metadata {
            net.schedule.request_update();
        }
        for (node, (_, batches)) in per_node {
            self.send_produce(net, node, batches, now);
        }
        next
    }

    fn send_produce(
        &mut self,
        net: &mut Network<ProducerCtx>,
        node: NodeId,
        batches: Vec<SentBatch>,
        now: Instant,
    ) {
        let mut topic_data: Vec<TopicProduceData> = Vec::new();
        for b in &batches {
            let pd = PartitionProduceData {
                index: b.partition,
                records: Some(b.bytes.clone()),
            };
            match topic_data.iter_mut().find(|t| *t.name == *b.topic) {
                Some(t) => t.partition_data.push(pd),
                None => topic_data.push(TopicProduceData {
                    name: b.topic.to_string(),
                    partition_data: vec![pd],
                }),
            }
        }
        let acks = self.config.acks.as_i16();
        let req = ProduceRequest {
            transactional_id: None,
            acks,
            timeout_ms: i32::try_from(self.config.client.request_timeout.as_millis())
                .unwrap_or(i32::MAX),
            topic_data,
        };
        let id = self.next_request_id;
        self.next_request_id += 1;
        let bytes = batches.iter().map(|b| b.bytes.len()).sum();
        self.metrics.on_request(batches.len(), bytes);
        if self.config.acks == Acks::None {
            let sent = net
                .pick_version(
                    node,
                    ApiKey::PRODUCE,
                    PRODUCE_MIN_VERSION,
                    ProduceRequest::MAX_VERSION,
                )
                .and_then(|v| net.send_no_response(node, &req, v, now));
            for b in batches {
                self.release_in_flight(&b);
                let outcome = sent.clone().map(|()| BatchOutcome {
                    base_offset: -1,
                    log_append_time: -1,
                });
                finish_batch(
                    &self.acc,
                    &self.metrics,
                    &b.completion,
                    b.records,
                    b.reserved,
                    outcome,
                );
            }
            return;
        }
        match net.send(node, &req, None, ProducerCtx::Produce(id), now) {
            Ok(_) => {
                self.in_flight.insert(id, (now, batches));
            }
            Err(e) => {
                for b in batches {
                    self.retry_or_fail(b, e.clone(), now);
                }
            }
        }
    }

    fn release_in_flight(&mut self, b: &SentBatch) {
        if let Some(s) = self.partitions.get_mut(&(b.topic.clone(), b.partition)) {
            s.in_flight = s.in_flight.saturating_sub(1);
        }
    }

    fn on_produce_response(
        &mut self,
        id: u64,
        result: Result<Response>,
        net: &mut Network<ProducerCtx>,
        now: Instant,
    ) {
        let Some((sent_at, batches)) = self.in_flight.remove(&id) else {
            return;
        };
        self.metrics.on_response(now.duration_since(sent_at));
        let resp = match result.and_then(|r| r.decode::<ProduceResponse>()) {
            Ok(r) => r,
            Err(e) => {
                for b in batches {
                    self.release_in_flight(&b);
                    self.retry_or_fail(b, e.clone(), now);
                }
                return;
            }
        };
        for b in batches {
            self.release_in_flight(&b);
            let part = resp
                .responses
                .iter()
                .filter(|t| *t.name == *b.topic)
                .flat_map(|t| t.partition_responses.iter())
                .find(|p| p.index == b.partition);
            let Some(p) = part else {
                let e = Error::Protocol(format!(
                    "produce response lacks {}-{}",
                    b.topic, b.partition
                ));
                self.retry_or_fail(b, e, now);
                continue;
            };
            let code = ErrorCode(p.error_code);
            if code.is_ok() || code == ErrorCode::DUPLICATE_SEQUENCE_NUMBER {
                let outcome = BatchOutcome {
                    base_offset: if code.is_ok() { p.base_offset } else { -1 },
                    log_append_time: p.log_append_time_ms,
                };
                finish_batch(
                    &self.acc,
                    &self.metrics,
                    &b.completion,
                    b.records,
                    b.reserved,
                    Ok(outcome),
                );
                continue;
            }
            let message = p.error_message.clone();
            if matches!(
                code,
                ErrorCode::NOT_LEADER_OR_FOLLOWER
                    | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                    | ErrorCode::LEADER_NOT_AVAILABLE
                    | ErrorCode::FENCED_LEADER_EPOCH
                    | ErrorCode::KAFKA_STORAGE_ERROR
                    | ErrorCode::NOT_ENOUGH_REPLICAS
                    | ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
            ) {
                net.schedule.request_update();
            }
            if self.idempotent
                && matches!(
                    code,
                    ErrorCode::UNKNOWN_PRODUCER_ID | ErrorCode::INVALID_PRODUCER_EPOCH
                )
            {
                // The broker lost or fenced our producer state: take a new producer id,
                // which restarts every partition's sequence numbers.
                self.reset_producer_id();
                self.metrics.on_error();
                finish_batch(
                    &self.acc,
                    &self.metrics,
                    &b.completion,
                    b.records,
                    b.reserved,
                    Err(Error::broker(code, message)),
                );
                continue;
            }
            if code == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER && self.has_earlier_retry(&b) {
                // An earlier batch of this partition failed and will be resent first.
                self.requeue(b, now);
                continue;
            }
            self.retry_or_fail(b, Error::broker(code, message), now);
        }
    }

    fn has_earlier_retry(&self, b: &SentBatch) -> bool {
        self.partitions
            .get(&(b.topic.clone(), b.partition))
            .and_then(|s| s.retries.front())
            .is_some_and(|r| r.base_sequence < b.base_sequence)
    }

    /// Forgets the producer id, so the next poll asks for a new one and every partition's
    /// sequence numbers restart.
    fn reset_producer_id(&mut self) {
        if !self.init_in_flight {
            self.init_not_before = None;
            self.producer_id = -1;
            self.producer_epoch = -1;
        }
    }

    /// Retries a batch that failed retriably, within `delivery_timeout`; fails it otherwise.
    fn retry_or_fail(&mut self, mut b: SentBatch, err: Error, now: Instant) {
        let expired = now.duration_since(b.created) >= self.config.delivery_timeout;
        if err.is_retriable() && !expired && b.attempts < self.config.retries.saturating_add(1) {
            b.attempts += 1;
            self.metrics.on_retry();
            log::debug!("retrying {}-{} after {err}", b.topic, b.partition);
            self.requeue(b, now);
            return;
        }
        self.metrics.on_error();
        let err = if expired && err.is_retriable() {
            Error::timeout(
                format!(
                    "delivery of {} records to {}-{} (last error: {err})",
                    b.records, b.topic, b.partition
                ),
                self.config.delivery_timeout,
            )
        } else {
            err
        };
        finish_batch(
            &self.acc,
            &self.metrics,
            &b.completion,
            b.records,
            b.reserved,
            Err(err),
        );
    }

    fn requeue(&mut self, b: SentBatch, now: Instant) {
        let backoff = self.config.client.retry_backoff;
        let state = self
            .partitions
            .entry((b.topic.clone(), b.partition))
            .or_default();
        let pos = state
            .retries
            .iter()
            .position(|r| r.base_sequence > b.base_sequence)
            .unwrap_or(state.retries.len());
        state.retries.insert(pos, b);
        state.retry_not_before = Some(now + backoff);
    }

    fn answer_waiters(&mut self, net: &mut Network<ProducerCtx>, now: Instant) -> Option<Instant> {
        let cluster = net.cluster().clone();
        let mut next = None;
        self.waiters.retain(|w| {
            if let Some(t) = cluster.topic(&w.topic) {
                if !t.partitions.is_empty() {
                    let _ = w.reply.send(Ok(()));
                    return false;
                }
            }
            if w.deadline <= now {
                let err = match cluster.topics.get(&w.topic) {
                    Some(t) if !t.error.is_ok() => {
                        Error::broker(t.error, Some(format!("topic {}", w.topic)))
                    }
                    _ => net
                        .unreachable_error()
                        .filter(|_| !net.any_ready())
                        .unwrap_or_else(|| {
                            Error::timeout(
                                format!("metadata for topic {}", w.topic),
                                Duration::ZERO,
                            )
                        }),
                };
                let _ = w.reply.send(Err(err));
                return false;
            }
            next = min_time(next, w.deadline);
            true
        });
        next
    }

    fn fail_everything(&mut self, err: &Error) {
        for (_, (_, batches)) in std::mem::take(&mut self.in_flight) {
            for b in batches {
                finish_batch(
                    &self.acc,
                    &self.metrics,
                    &b.completion,
                    b.records,
                    b.reserved,
                    Err(err.clone()),
                );
            }
        }
        for (_, state) in std::mem::take(&mut self.partitions) {
            for b in state.retries {
                finish_batch(
                    &self.acc,
                    &self.metrics,
                    &b.completion,
                    b.records,
                    b.reserved,
                    Err(err.clone()),
                );
            }
        }
        for topic in self.acc.topics() {
            for queue in &topic.partitions {
                let mut q = super::accumulator::lock(queue);
                let open = q.open.take();
                for b in q.closed.drain(..).chain(open) {
                    let records = b.builder.record_count() as i32;
                    finish_batch(
                        &self.acc,
                        &self.metrics,
                        &b.completion,
                        records,
                        b.reserved,
                        Err(err.clone()),
                    );
                }
            }
        }
        for w in self.waiters.drain(..) {
            let _ = w.reply.send(Err(err.clone()));
        }
    }
}

impl Driver for Sender {
    type Command = ProducerCommand;
    type Ctx = ProducerCtx;

    fn on_command(&mut self, cmd: ProducerCommand, net: &mut Network<ProducerCtx>, _now: Instant) {
        match cmd {
            ProducerCommand::WaitForTopic {
                topic,
                deadline,
                reply,
            } => {
                net.schedule.add_topics([topic.as_str()]);
                net.schedule.request_update();
                self.waiters.push(TopicWaiter {
                    topic,
                    deadline,
                    reply,
                });
            }
        }
    }

    fn on_response(
        &mut self,
        ctx: ProducerCtx,
        result: Result<Response>,
        net: &mut Network<ProducerCtx>,
        now: Instant,
    ) {
        match ctx {
            ProducerCtx::Produce(id) => self.on_produce_response(id, result, net, now),
            ProducerCtx::InitProducerId => self.on_init_response(result, now),
        }
    }

    fn poll(&mut self, net: &mut Network<ProducerCtx>, now: Instant) -> Option<Instant> {
        if let Some(err) = self.fatal.take() {
            self.fail_everything(&err);
            self.fatal = Some(err);
        }
        let mut next = self.answer_waiters(net, now);
        if !self.has_producer_id() {
            self.init_producer_id(net, now);
            next = opt_min(next, self.init_not_before);
            return next;
        }
        opt_min(next, self.send_ready(net, now))
    }

    fn poll_close(&mut self, net: &mut Network<ProducerCtx>, now: Instant) -> bool {
        self.acc.close();
        let _ = self.poll(net, now);
        self.in_flight.is_empty()
            && self.partitions.values().all(|s| s.retries.is_empty())
            && self.acc.topics().iter().all(|t| {
                t.partitions
                    .iter()
                    .all(|q| super::accumulator::lock(q).is_empty())
            })
    }

    fn required_apis(&self) -> Vec<(ApiKey, i16, i16)> {
        vec![(
            ApiKey::PRODUCE,
            PRODUCE_MIN_VERSION,
            ProduceRequest::MAX_VERSION,
        )]
    }

    fn on_exit(&mut self, error: Error) {
        self.acc.close();
        self.fail_everything(&error);
    }
}

/// Closes a batch for sending: assigns its sequence numbers and encodes it.
#[allow(clippy::type_complexity)]
fn seal(
    b: ClosedBatch,
    state: &mut PartitionState,
    producer_id: i64,
    producer_epoch: i16,
    config: &ProducerConfig,
) -> std::result::Result<SentBatch, (Error, Arc<BatchCompletion>, i32, usize)> {
    let records = b.builder.record_count() as i32;
    let base_sequence = if producer_id >= 0 {
        state.next_sequence
    } else {
        -1
    };
    let topic = b.completion.topic.clone();
    let partition = b.completion.partition;
    match b.builder.finish(
        config.compression_type,
        config.compression_level,
        producer_id,
        producer_epoch,
        base_sequence,
        false,
    ) {
        Ok(bytes) => {
            if producer_id >= 0 {
                state.next_sequence = state.next_sequence.wrapping_add(records);
            }
            Ok(SentBatch {
                topic,
                partition,
                bytes,
                completion: b.completion,
                records,
                reserved: b.reserved,
                created: b.created,
                attempts: 0,
                base_sequence,
                producer_id,
            })
        }
        Err(e) => Err((
            Error::Protocol(format!("could not encode batch: {e}")),
            b.completion,
            records,
            b.reserved,
        )),
    }
}

/// Gives a batch encoded under an older producer id the current id and the partition's
/// next sequence number.
fn restamp(b: &mut SentBatch, state: &mut PartitionState, producer_id: i64, producer_epoch: i16) {
    let sequence = if producer_id >= 0 {
        state.next_sequence
    } else {
        -1
    };
    let mut bytes = b.bytes.to_vec();
    records::set_producer_state(&mut bytes, producer_id, producer_epoch, sequence);
    b.bytes = Bytes::from(bytes);
    b.base_sequence = sequence;
    b.producer_id = producer_id;
    if producer_id >= 0 {
        state.next_sequence = state.next_sequence.wrapping_add(b.records);
    }
}

/// Fails batches that waited past `delivery_timeout` for a partition with no leader.
fn expire_unsendable(
    closed: &mut VecDeque<ClosedBatch>,
    acc: &Accumulator,
    metrics: &Metrics,
    delivery_timeout: Duration,
    now: Instant,
) {
    while closed
        .front()
        .is_some_and(|b| now.duration_since(b.created) >= delivery_timeout)
    {
        if let Some(b) = closed.pop_front() {
            let err = Error::timeout(
                format!(
                    "a leader for {}-{}",
                    b.completion.topic, b.completion.partition
                ),
                delivery_timeout,
            );
            finish_batch(
                acc,
                metrics,
                &b.completion,
                b.builder.record_count() as i32,
                b.reserved,
                Err(err),
            );
        }
    }
}

fn finish_batch(
    acc: &Accumulator,
    metrics: &Metrics,
    completion: &BatchCompletion,
    records: i32,
    reserved: usize,
    outcome: std::result::Result<BatchOutcome, Error>,
) {
    if outcome.is_ok() {
        metrics.on_delivered(records as u64);
    }
    completion.complete(outcome);
    acc.release(reserved);
    acc.records_completed(records as u64);
}

fn min_time(a: Option<Instant>, b: Instant) -> Option<Instant> {
    Some(a.map_or(b, |a| a.min(b)))
}

fn opt_min(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
