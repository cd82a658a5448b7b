//! The producer's half of the I/O thread: drains ready batches into Produce requests,
//! one request per broker, and handles responses and retries. Sequence numbers live in
//! [`super::sequence`], the producer id in [`super::producer_id`], and
//! `delivery_timeout` in [`super::expiry`].

use std::collections::HashMap;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Acks, ProducerConfig};
use crate::error::{Error, Result};
use crate::net::io_thread::Driver;
use crate::net::metadata::NodeId;
use crate::net::network::{Network, Response};
use crate::protocol::api::produce::{
    PartitionProduceData, ProduceRequest, ProduceResponse, TopicProduceData,
};
use crate::protocol::api::{ApiKey, Message};
use crate::protocol::error_code::ErrorCode;

use super::accumulator::{Accumulator, ClosedBatch};
use super::future::{BatchCompletion, BatchOutcome};
use super::metrics::Metrics;
use super::sequence::{PartitionState, ProducerIdEpoch, SentBatch};
use super::transaction::{ProduceV12, TxnCommand, TxnCtx, TxnManager, TxnState};

/// Produce v3 is the first with record batches v2; v11 is the newest this client speaks.
const PRODUCE_MIN_VERSION: i16 = 3;
/// With idempotence a broker remembers the last 5 batches of each producer and
/// partition for duplicate detection, so at most 5 may be in flight.
const MAX_IN_FLIGHT_IDEMPOTENT: usize = 5;

/// Commands from producer handles.
pub(crate) enum ProducerCommand {
    /// Reply once metadata knows `topic` (or the deadline passes).
    WaitForTopic {
        topic: String,
        deadline: Instant,
        reply: SyncSender<Result<()>>,
    },
    /// A transactional producer's init, send-offsets, commit or abort.
    Txn(TxnCommand),
}

/// What a request in flight is for.
pub(crate) enum ProducerCtx {
    Produce(u64),
    InitProducerId,
    Txn(TxnCtx),
}

pub(super) struct TopicWaiter {
    topic: String,
    deadline: Instant,
    reply: SyncSender<Result<()>>,
}

/// A Produce request awaiting its response.
pub(super) struct InFlightRequest {
    pub sent_at: Instant,
    pub batches: Vec<SentBatch>,
}

pub(crate) struct Sender {
    pub(super) config: ProducerConfig,
    pub(super) acc: Arc<Accumulator>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) idempotent: bool,
    /// The newest producer id and epoch; partitions move to it when they can.
    pub(super) pid: ProducerIdEpoch,
    /// A partition's sequences cannot continue under `pid`: ask for a new epoch.
    pub(super) bump_requested: bool,
    pub(super) init_in_flight: bool,
    pub(super) init_not_before: Option<Instant>,
    pub(super) partitions: HashMap<(Arc<str>, i32), PartitionState>,
    pub(super) in_flight: HashMap<u64, InFlightRequest>,
    next_request_id: u64,
    waiters: Vec<TopicWaiter>,
    pub(super) fatal: Option<Error>,
    /// When the oldest pending batch reaches `delivery_timeout`.
    pub(super) next_expiry: Option<Instant>,
    /// The transaction manager of a transactional producer.
    pub(super) txn: Option<TxnManager>,
}

impl Sender {
    pub fn new(config: ProducerConfig, acc: Arc<Accumulator>, metrics: Arc<Metrics>) -> Self {
        let idempotent = config.enable_idempotence;
        let txn = config
            .transactional_id
            .clone()
            .map(|id| TxnManager::new(&config, id));
        Sender {
            config,
            acc,
            metrics,
            idempotent,
            pid: ProducerIdEpoch::NONE,
            bump_requested: false,
            init_in_flight: false,
            init_not_before: None,
            partitions: HashMap::new(),
            in_flight: HashMap::new(),
            next_request_id: 0,
            waiters: Vec::new(),
            fatal: None,
            next_expiry: None,
            txn,
        }
    }

    /// Sends every ready batch whose leader can take a request. Returns the next time a
    /// batch becomes ready.
    fn send_ready(&mut self, net: &mut Network<ProducerCtx>, now: Instant) -> Option<Instant> {
        // A transactional producer sends only inside a transaction; a commit sends
        // everything at once, as a flush.
        let txn_state = self.txn.as_ref().map(|t| (t.shared.state(), t.tv2));
        let committing = matches!(txn_state, Some((TxnState::Committing, _)));
        if txn_state.is_some()
            && !committing
            && !matches!(txn_state, Some((TxnState::InTransaction, _)))
        {
            return None;
        }
        let needs_add = matches!(txn_state, Some((_, false)));
        let force = self.acc.is_flushing() || self.acc.is_closed() || committing;
        let linger = self.config.linger;
        let max_request = self.config.max_request_size;
        let idempotent = self.idempotent;
        let max_per_partition = if idempotent {
            MAX_IN_FLIGHT_IDEMPOTENT
        } else {
            usize::MAX
        };
        let current = self.pid;
        let cluster = net.cluster().clone();
        let mut next: Option<Instant> = None;
        let mut per_node: HashMap<NodeId, (usize, Vec<SentBatch>)> = HashMap::new();
        let mut want_metadata = false;
        let mut want_bump = false;
        let mut unencodable = Vec::new();

        for topic in self.acc.topics() {
            for (index, queue) in topic.partitions.iter().enumerate() {
                let partition = index as i32;
                let key = (topic.name.clone(), partition);
                let state = self.partitions.entry(key).or_default();
                if idempotent {
                    state.resolve();
                    state.catch_up(current);
                    want_bump |= state.needs_reset && state.pid == current;
                }
                let mut q = super::accumulator::lock(queue);
                if q.is_empty() && state.retries.is_empty() {
                    continue;
                }
                if needs_add {
                    // Protocol 1: a partition is added to the transaction before its
                    // first record goes out.
                    if let Some(txn) = self.txn.as_mut() {
                        let key = (topic.name.clone(), partition);
                        if !txn.added.contains(&key) {
                            txn.pending.insert(key);
                            continue;
                        }
                    }
                }
                let Some(leader) = cluster.leader(&topic.name, partition) else {
                    want_metadata = true;
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
                let used = per_node.get(&leader).map_or(0, |(size, _)| *size);
                let fits = |len: usize| used == 0 || used + len <= max_request;
                let batch = match state.retry_ready(now) {
                    Err(t) => {
                        next = min_time(next, t);
                        continue;
                    }
                    // Retries go first, one at a time, with their sequences.
                    Ok(true) => {
                        if !fits(state.retries[0].bytes.len()) {
                            next = Some(now);
                            continue;
                        }
                        match state.retries.pop_front() {
                            Some(b) => b,
                            None => continue,
                        }
                    }
                    Ok(false) if !state.retries.is_empty() => continue,
                    Ok(false) => {
                        if !state.can_send_new(idempotent, max_per_partition) {
                            continue;
                        }
                        match q.ready_at(linger) {
                            Some(t) if t > now && !force => {
                                next = min_time(next, t);
                                continue;
                            }
                            None => continue,
                            Some(_) => {}
                        }
                        if !q.front_size().is_none_or(fits) {
                            // The request is full; this batch waits for the next one.
                            next = Some(now);
                            continue;
                        }
                        let Some(b) = q.take_ready(linger, now, true) else {
                            continue;
                        };
                        let uncompressed = b.builder.size_in_bytes();
                        match seal(b, state, &self.config) {
                            Ok(b) => {
                                self.metrics.on_sealed(uncompressed, b.bytes.len());
                                b
                            }
                            Err(failed) => {
                                unencodable.push(failed);
                                continue;
                            }
                        }
                    }
                };
                drop(q);
                state.in_flight += 1;
                let (size, list) = per_node.entry(leader).or_default();
                *size += batch.bytes.len();
                list.push(batch);
            }
        }
        for (err, completion, records, reserved) in unencodable {
            self.metrics.on_error();
            complete(
                &self.acc,
                &self.metrics,
                &completion,
                records,
                reserved,
                Err(err),
            );
        }
        if want_metadata {
            net.schedule.request_update();
        }
        if want_bump {
            match self.txn.as_mut() {
                // Sequences restart under a new epoch only between transactions.
                Some(txn) => {
                    txn.bump_needed = true;
                    txn.shared.set_abortable(Error::Protocol(
                        "a partition's sequence numbers cannot continue; the transaction must \
                         be aborted so the producer can take a new epoch"
                            .into(),
                    ));
                }
                None => self.bump_requested = true,
            }
        }
        if !per_node.is_empty() {
            if let Some(txn) = self.txn.as_mut() {
                txn.mark_started(now);
            }
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
            transactional_id: self.txn.as_ref().map(|t| t.id.clone()),
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
                complete_sent(&self.acc, &self.metrics, &b, outcome);
            }
            return;
        }
        let sent = match self.txn.as_ref() {
            Some(t) if t.tv2 => {
                net.send(node, &ProduceV12(&req), None, ProducerCtx::Produce(id), now)
            }
            _ => net.send(node, &req, None, ProducerCtx::Produce(id), now),
        };
        match sent {
            Ok(_) => {
                self.in_flight.insert(
                    id,
                    InFlightRequest {
                        sent_at: now,
                        batches,
                    },
                );
            }
            Err(e) => {
                // Nothing went out: the batches wait for the next request.
                let retriable = e.is_retriable();
                for b in batches {
                    self.release_in_flight(&b);
                    self.retry_or_fail(b, e.clone(), now, retriable);
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
        let Some(req) = self.in_flight.remove(&id) else {
            return;
        };
        self.metrics.on_response(now.duration_since(req.sent_at));
        // A v12 answer (transaction protocol 2) has v11's fields.
        let resp = match result.and_then(|mut r| {
            r.version = r.version.min(ProduceResponse::MAX_VERSION);
            r.decode::<ProduceResponse>()
        }) {
            Ok(r) => r,
            Err(e) => {
                // The response is lost (timeout, disconnect, undecodable): the broker may
                // have written any of these batches. They go again, each partition's in
                // sequence order with the same sequences, so the broker drops duplicates.
                let retriable = !matches!(e, Error::Closed);
                for mut b in req.batches {
                    self.release_in_flight(&b);
                    b.ambiguous = true;
                    self.settle_expired_or(b, None, |s, b| {
                        s.retry_or_fail(b, e.clone(), now, retriable)
                    });
                }
                return;
            }
        };
        for mut b in req.batches {
            self.release_in_flight(&b);
            let part = resp
                .responses
                .iter()
                .filter(|t| *t.name == *b.topic)
                .flat_map(|t| t.partition_responses.iter())
                .find(|p| p.index == b.partition);
            let Some(p) = part else {
                b.ambiguous = true;
                let e = Error::Protocol(format!(
                    "produce response lacks {}-{}",
                    b.topic, b.partition
                ));
                self.settle_expired_or(b, None, |s, b| s.retry_or_fail(b, e, now, true));
                continue;
            };
            let code = ErrorCode(p.error_code);
            if code.is_ok() || code == ErrorCode::DUPLICATE_SEQUENCE_NUMBER {
                // DUPLICATE_SEQUENCE_NUMBER: an earlier attempt of this batch was written.
                let outcome = BatchOutcome {
                    base_offset: if code.is_ok() { p.base_offset } else { -1 },
                    log_append_time: p.log_append_time_ms,
                };
                self.settle_expired_or(b, Some(()), |s, b| {
                    s.state_of(&b).on_acked(&b);
                    complete_sent(&s.acc, &s.metrics, &b, Ok(outcome));
                });
                continue;
            }
            // These two mean the batch reached the leader's log but not enough replicas
            // (yet); every other error means this attempt wrote nothing.
            b.ambiguous |= matches!(
                code,
                ErrorCode::REQUEST_TIMED_OUT | ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
            );
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
            let err = produce_error(code, message, &b.topic);
            let retriable = if self.txn.is_some() && transaction_error(code) {
                // Only the transaction coordinator can settle these: the transaction
                // is aborted (or the producer fenced), never the batch retried.
                if code == ErrorCode::INVALID_PRODUCER_EPOCH {
                    if let Some(t) = self.txn.as_mut() {
                        t.bump_needed = true;
                    }
                }
                false
            } else if self.idempotent && b.pid.is_set() {
                self.sequence_error(&b, code).unwrap_or(code.is_retriable())
            } else {
                code.is_retriable()
            };
            self.settle_expired_or(b, None, |s, b| s.retry_or_fail(b, err, now, retriable));
        }
    }

    /// Sequence errors, as the Java client's `TransactionManager.canRetry` treats them.
    /// `Some(true)`: retry (after a new epoch if the partition needs one); `None`: not a
    /// sequence error.
    fn sequence_error(&mut self, b: &SentBatch, code: ErrorCode) -> Option<bool> {
        let state = self.state_of(b);
        match code {
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER => {
                // Not the next batch: an earlier one is being retried and goes first.
                // The next one: the broker misses sequences nothing can fill.
                if state.out_of_order_is_gap(b) {
                    log::debug!(
                        "{}-{}: sequence gap before {}, a new epoch is needed",
                        b.topic,
                        b.partition,
                        b.base_sequence
                    );
                    state.needs_reset = true;
                }
                Some(true)
            }
            ErrorCode::UNKNOWN_PRODUCER_ID | ErrorCode::INVALID_PRODUCER_EPOCH => {
                // The broker lost (or no longer takes) our producer state for this
                // partition: its sequences start again under a new epoch.
                if b.pid == state.pid {
                    state.needs_reset = true;
                }
                Some(true)
            }
            _ => None,
        }
    }

    /// Runs `f` unless `b`'s outcome was already reported (it expired in flight); then
    /// the answer only settles the sequence: `Some(())` if the broker wrote it.
    fn settle_expired_or(
        &mut self,
        b: SentBatch,
        written: Option<()>,
        f: impl FnOnce(&mut Self, SentBatch),
    ) {
        if !b.expired {
            return f(self, b);
        }
        if written.is_some() {
            self.state_of(&b).on_acked(&b);
        }
    }

    pub(super) fn state_of(&mut self, b: &SentBatch) -> &mut PartitionState {
        self.partitions
            .entry((b.topic.clone(), b.partition))
            .or_default()
    }

    /// Retries a batch within `retries` and `delivery_timeout`; fails it otherwise.
    fn retry_or_fail(&mut self, mut b: SentBatch, err: Error, now: Instant, retriable: bool) {
        let expired = now.duration_since(b.created) >= self.config.delivery_timeout;
        // `retries` counts the attempts after the first (0: none), as in the Java client.
        if retriable && !expired && b.attempts < self.config.retries {
            b.attempts += 1;
            self.metrics.on_retry();
            log::debug!(
                "retrying {}-{} (sequence {}) after {err}",
                b.topic,
                b.partition,
                b.base_sequence
            );
            let not_before = now + self.config.client.retry_backoff;
            self.state_of(&b).requeue(b, not_before);
            return;
        }
        let err = if expired || b.ambiguous {
            unknown_outcome(&b, Some(&err), now)
        } else {
            err
        };
        self.fail_sent(b, err);
    }

    /// Fails a sealed batch for good; its sequence may now be missing from the log.
    pub(super) fn fail_sent(&mut self, b: SentBatch, err: Error) {
        self.state_of(&b).on_lost(&b);
        self.metrics.on_error();
        complete_sent(&self.acc, &self.metrics, &b, Err(err));
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
            // A refusal is final: say so now rather than after max_block, as the Java
            // producer's waitOnMetadata throws TopicAuthorizationException.
            if let Some(t) = cluster.topics.get(&w.topic) {
                if t.error == ErrorCode::TOPIC_AUTHORIZATION_FAILED {
                    let _ = w.reply.send(Err(Error::for_topic(t.error, None, &w.topic)));
                    return false;
                }
            }
            // A fatal handshake error (TLS, SASL) fails the wait at once.
            if w.deadline <= now || net.fatal_error().is_some() {
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

    pub(super) fn fail_everything(&mut self, err: &Error) {
        let now = Instant::now();
        // Batches in flight, or whose earlier answer was lost, may be written: their
        // error says so.
        let fail = |b: SentBatch| {
            let e = if b.ambiguous {
                unknown_outcome(&b, Some(err), now)
            } else {
                err.clone()
            };
            complete_sent(&self.acc, &self.metrics, &b, Err(e));
        };
        for (_, req) in std::mem::take(&mut self.in_flight) {
            for mut b in req.batches.into_iter().filter(|b| !b.expired) {
                b.ambiguous = true;
                fail(b);
            }
        }
        for (_, state) in std::mem::take(&mut self.partitions) {
            state.retries.into_iter().for_each(fail);
        }
        for topic in self.acc.topics() {
            for queue in &topic.partitions {
                let mut q = super::accumulator::lock(queue);
                let open = q.open.take();
                for b in q.closed.drain(..).chain(open) {
                    let records = b.builder.record_count() as i32;
                    finish_batch(&self.acc, &self.metrics, &b, records, Err(err.clone()));
                }
            }
        }
        for w in self.waiters.drain(..) {
            let _ = w.reply.send(Err(err.clone()));
        }
        if let Some(txn) = self.txn.as_mut() {
            txn.fail_replies(err);
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
            ProducerCommand::Txn(cmd) => self.on_txn_command(cmd),
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
            ProducerCtx::Txn(ctx) => self.on_txn_response(ctx, result, net, now),
        }
    }

    fn poll(&mut self, net: &mut Network<ProducerCtx>, now: Instant) -> Option<Instant> {
        if let Some(err) = self.fatal.take() {
            self.fail_everything(&err);
            self.fatal = Some(err);
        }
        // delivery_timeout holds in every state: leader unknown or unreachable, no
        // producer id, no broker at all.
        let mut next = self.expire(now);
        next = opt_min(next, self.answer_waiters(net, now));
        // Sending first: it is where partitions ask for a new epoch.
        next = opt_min(next, self.send_ready(net, now));
        next = opt_min(next, self.poll_transaction(net, now));
        opt_min(next, self.maintain_producer_id(net, now))
    }

    fn poll_close(&mut self, net: &mut Network<ProducerCtx>, now: Instant) -> bool {
        self.acc.close();
        self.close_transaction();
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

/// Produce errors that end a transaction (or the producer), not a batch's attempts.
fn transaction_error(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::PRODUCER_FENCED
            | ErrorCode::INVALID_PRODUCER_EPOCH
            | ErrorCode::TRANSACTION_ABORTABLE
            | ErrorCode::INVALID_TXN_STATE
            | ErrorCode::INVALID_PRODUCER_ID_MAPPING
            | ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    )
}

/// A batch that could not be encoded: its completion, record count and memory.
type Unencodable = (Error, Arc<BatchCompletion>, i32, usize);

/// Closes a batch for sending: gives it the partition's next sequence and encodes it.
fn seal(
    b: ClosedBatch,
    state: &mut PartitionState,
    config: &ProducerConfig,
) -> std::result::Result<SentBatch, Unencodable> {
    let records = b.builder.record_count() as i32;
    let before = state.next_sequence;
    let (pid, base_sequence) = state.take_sequence(records);
    match b.builder.finish(
        config.compression_type,
        config.compression_level,
        pid.id,
        pid.epoch,
        base_sequence,
        config.transactional_id.is_some(),
    ) {
        Ok(bytes) => Ok(SentBatch {
            topic: b.completion.topic.clone(),
            partition: b.completion.partition,
            bytes,
            completion: b.completion,
            records,
            reserved: b.reserved,
            created: b.created,
            attempts: 0,
            base_sequence,
            pid,
            ambiguous: false,
            expired: false,
        }),
        Err(e) => {
            state.next_sequence = before;
            let err = Error::Protocol(format!("could not encode batch: {e}"));
            Err((err, b.completion, records, b.reserved))
        }
    }
}

/// The error for a batch out of time (or out of retries with its fate unknown): a
/// `Timeout` that says whether the broker may have written it, as indeterminate as the
/// Java client's `TimeoutException`.
/// The error of a partition's Produce answer: a refusal names the topic, or the
/// idempotent-write permission an old broker checks on produce.
fn produce_error(code: ErrorCode, message: Option<String>, topic: &str) -> Error {
    match code {
        ErrorCode::CLUSTER_AUTHORIZATION_FAILED => {
            Error::for_resource(code, message, super::producer_id::IDEMPOTENT_WRITE)
        }
        _ => Error::for_topic(code, message, topic),
    }
}

pub(super) fn unknown_outcome(b: &SentBatch, last: Option<&Error>, now: Instant) -> Error {
    let fate = if b.ambiguous {
        "the broker may have written them"
    } else {
        "they were not written"
    };
    let last = last
        .map(|e| format!("; last error: {e}"))
        .unwrap_or_default();
    Error::timeout(
        format!(
            "delivery of {} records to {}-{} ({fate}{last})",
            b.records, b.topic, b.partition
        ),
        now.duration_since(b.created),
    )
}

/// Completes a sealed batch.
pub(super) fn complete_sent(
    acc: &Accumulator,
    metrics: &Metrics,
    b: &SentBatch,
    outcome: std::result::Result<BatchOutcome, Error>,
) {
    complete(acc, metrics, &b.completion, b.records, b.reserved, outcome);
}

/// Completes a batch that was never sealed.
pub(super) fn finish_batch(
    acc: &Accumulator,
    metrics: &Metrics,
    b: &ClosedBatch,
    records: i32,
    outcome: std::result::Result<BatchOutcome, Error>,
) {
    complete(acc, metrics, &b.completion, records, b.reserved, outcome);
}

/// Reports a batch's outcome to its futures, counts it for flush and frees its memory.
fn complete(
    acc: &Accumulator,
    metrics: &Metrics,
    completion: &BatchCompletion,
    records: i32,
    reserved: usize,
    outcome: std::result::Result<BatchOutcome, Error>,
) {
    match &outcome {
        Ok(_) => metrics.on_delivered(records as u64),
        // Counted before the records complete, so a flush that sees them done sees this.
        Err(e) => {
            metrics.on_failed(records as u64);
            acc.records_failed(records as u64, e);
        }
    }
    completion.complete(outcome);
    acc.release(reserved);
    acc.records_completed(records as u64);
}

pub(super) fn min_time(a: Option<Instant>, b: Instant) -> Option<Instant> {
    Some(a.map_or(b, |a| a.min(b)))
}

pub(super) fn opt_min(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
