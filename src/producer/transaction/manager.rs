//! The transaction manager on the I/O thread: finds the transaction coordinator, gets
//! the producer id for the transactional id, adds partitions (protocol 1) and offsets
//! to the transaction, and ends it. One transaction request is in flight at a time, as
//! in the Java client; the user's operations (init, send offsets, commit, abort) run one
//! after the other and may outlive the call that started them, which then times out and
//! can be repeated to wait for the same operation.

use std::collections::{BTreeMap, HashSet};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::ProducerConfig;
use crate::consumer::{ConsumerGroupMetadata, OffsetAndMetadata};
use crate::error::{Error, Result};
use crate::net::backoff::Backoff;
use crate::net::metadata::NodeId;
use crate::net::network::Network;
use crate::protocol::api::add_offsets_to_txn::AddOffsetsToTxnRequest;
use crate::protocol::api::add_partitions_to_txn::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnTopic,
};
use crate::protocol::api::api_versions::ApiVersionsRequest;
use crate::protocol::api::end_txn::EndTxnRequest;
use crate::protocol::api::init_producer_id::InitProducerIdRequest;
use crate::protocol::api::txn_offset_commit::TxnOffsetCommitRequest;
use crate::protocol::error_code::ErrorCode;
use crate::TopicPartition;

use super::super::sender::{ProducerCtx, Sender};
use super::super::sequence::ProducerIdEpoch;
use super::requests::{self, judge_transport, Verdict};
use super::state::{TxnShared, TxnState};

/// How long a known coordinator may stay unreachable before it is looked up again.
const COORDINATOR_PATIENCE: Duration = Duration::from_secs(1);
/// CONCURRENT_TRANSACTIONS clears within milliseconds; the Java client retries at 20 ms.
const CONCURRENT_BACKOFF: Duration = Duration::from_millis(20);

pub(crate) type Reply = SyncSender<Result<()>>;

/// Operations a user's call starts.
pub(crate) enum TxnCommand {
    Init(Reply),
    End {
        commit: bool,
        reply: Reply,
    },
    SendOffsets {
        group: ConsumerGroupMetadata,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        reply: Reply,
    },
}

/// What a transaction request in flight is.
#[derive(Debug)]
pub(crate) enum TxnCtx {
    FindCoordinator { group: bool },
    ApiVersions,
    InitProducerId,
    AddPartitions(Vec<(Arc<str>, i32)>),
    AddOffsets,
    TxnOffsetCommit,
    EndTxn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EndPhase {
    /// Commit: every record delivered. Abort: unsent records failed, the rest answered.
    Drain,
    EndTxn,
    /// Protocol 1 after an abort that left sequences unusable: a new epoch (KIP-360).
    Bump,
}

pub(super) enum Op {
    Init,
    End {
        commit: bool,
        phase: EndPhase,
    },
    Offsets {
        group: ConsumerGroupMetadata,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        added: bool,
    },
}

pub(crate) struct TxnManager {
    pub shared: Arc<TxnShared>,
    pub id: String,
    pub(super) timeout_ms: i32,
    pub(super) max_version: i16,
    /// Transaction protocol 2 (KIP-890), known after the coordinator's ApiVersions.
    pub tv2: bool,
    pub(super) features_known: bool,
    pub(super) coordinator: Option<(NodeId, Instant)>,
    pub(super) group_coordinator: Option<(String, NodeId, Instant)>,
    /// Protocol 1: partitions in the transaction, and those waiting to be added.
    pub added: HashSet<(Arc<str>, i32)>,
    pub pending: HashSet<(Arc<str>, i32)>,
    /// Something was written or added: the transaction needs an EndTxn.
    pub started: bool,
    /// After this transaction ends, protocol 1 needs a new epoch.
    pub bump_needed: bool,
    /// When the transaction first wrote or added something.
    pub(super) opened_at: Option<Instant>,
    pub(super) timeout: Duration,
    /// The coordinator aborted the transaction after `transaction_timeout`.
    pub(super) timed_out: bool,
    pub(super) op: Option<Op>,
    pub(super) replies: Vec<Reply>,
    pub(super) in_flight: bool,
    pub(super) not_before: Option<Instant>,
    pub(super) backoff: Backoff,
}

impl TxnManager {
    pub fn new(config: &ProducerConfig, id: String) -> TxnManager {
        TxnManager {
            shared: Arc::new(TxnShared::default()),
            id,
            timeout_ms: i32::try_from(config.transaction_timeout.as_millis()).unwrap_or(i32::MAX),
            max_version: config.max_transaction_version,
            tv2: false,
            features_known: false,
            coordinator: None,
            group_coordinator: None,
            added: HashSet::new(),
            pending: HashSet::new(),
            started: false,
            bump_needed: false,
            opened_at: None,
            timeout: config.transaction_timeout,
            timed_out: false,
            op: None,
            replies: Vec::new(),
            in_flight: false,
            not_before: None,
            backoff: Backoff::new(config.client.retry_backoff, config.client.retry_backoff_max),
        }
    }

    /// Takes a user's command: starts its operation, or attaches the reply to the same
    /// operation already under way (a call repeated after a timeout).
    pub fn on_command(&mut self, cmd: TxnCommand) {
        let (same, op, reply) = match cmd {
            TxnCommand::Init(reply) => (matches!(self.op, Some(Op::Init)), Op::Init, reply),
            TxnCommand::End { commit, reply } => (
                matches!(self.op, Some(Op::End { commit: c, .. }) if c == commit),
                Op::End {
                    commit,
                    phase: EndPhase::Drain,
                },
                reply,
            ),
            TxnCommand::SendOffsets {
                group,
                offsets,
                reply,
            } => (
                false,
                Op::Offsets {
                    group,
                    offsets,
                    added: false,
                },
                reply,
            ),
        };
        if same {
            self.replies.push(reply);
            return;
        }
        if let (Op::End { commit: false, .. }, Some(Op::Offsets { .. })) = (&op, &self.op) {
            // An abort supersedes offsets still being sent (their call timed out).
            self.finish(Err(Error::IllegalState(
                "the transaction was aborted while its offsets were being sent".into(),
            )));
        }
        if self.op.is_some() {
            let _ = reply.send(Err(Error::IllegalState(
                "another transaction operation is under way; wait for it first".into(),
            )));
            return;
        }
        self.op = Some(op);
        self.replies.push(reply);
    }

    pub(super) fn finish(&mut self, result: Result<()>) {
        self.op = None;
        self.backoff.reset();
        for r in self.replies.drain(..) {
            let _ = r.send(result.clone());
        }
    }

    /// A transaction ended: the next one starts from nothing.
    fn reset_transaction(&mut self) {
        self.added.clear();
        self.pending.clear();
        self.started = false;
        self.opened_at = None;
        self.timed_out = false;
    }

    /// The transaction wrote or added something: it needs an EndTxn, and its
    /// `transaction_timeout` runs from now (as the coordinator's does).
    pub fn mark_started(&mut self, now: Instant) {
        if !self.started {
            self.started = true;
            self.opened_at = Some(now);
        }
    }

    /// A refusal of the transactional id as the typed error naming it; others as they are.
    pub(super) fn id_refusal(&self, e: Error) -> Error {
        match e.code() {
            Some(code @ ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED) => {
                Error::for_resource(code, None, &self.id)
            }
            _ => e,
        }
    }

    /// A fencing error for a transaction open longer than `transaction_timeout`: the
    /// coordinator aborted it and bumped the epoch (protocol 1 answers PRODUCER_FENCED
    /// from then on). Abortable: the abort that follows asks for the epoch after it
    /// (KIP-588), which the coordinator refuses if another producer did fence this one.
    fn fenced_by_timeout(&self, e: &Error, now: Instant) -> bool {
        let ending_or_adding = !matches!(
            self.op,
            Some(Op::Init)
                | Some(Op::End {
                    phase: EndPhase::Bump,
                    ..
                })
        );
        matches!(e, Error::ProducerFenced(_))
            && ending_or_adding
            && self.opened_at.is_some_and(|t| now >= t + self.timeout)
    }

    pub(super) fn retry_later(
        &mut self,
        rediscover: bool,
        group: bool,
        now: Instant,
        concurrent: bool,
    ) {
        if rediscover {
            if group {
                self.group_coordinator = None;
            } else {
                self.coordinator = None;
            }
        }
        let wait = if concurrent {
            CONCURRENT_BACKOFF
        } else {
            self.backoff.fail()
        };
        self.not_before = Some(now + wait);
    }

    /// The coordinator's node when its connection is ready; else starts what gets it
    /// there (a lookup or a connection) and returns `None`.
    fn coordinator_node(
        &mut self,
        group: Option<&str>,
        net: &mut Network<ProducerCtx>,
        now: Instant,
    ) -> Option<NodeId> {
        let known = match group {
            None => self.coordinator,
            Some(g) => self
                .group_coordinator
                .as_ref()
                .filter(|(name, _, _)| name == g)
                .map(|(_, n, t)| (*n, *t)),
        };
        if let Some((node, since)) = known {
            if net.ready_or_connect(node, now) {
                return Some(node);
            }
            if now.duration_since(since) < COORDINATOR_PATIENCE {
                self.not_before = Some(now + Duration::from_millis(50));
                return None;
            }
            log::debug!("coordinator {node} unreachable; looking it up again");
        }
        let node = net.least_loaded_node(now)?;
        let (key, key_type) = match group {
            None => (self.id.as_str(), requests::KEY_TYPE_TRANSACTION),
            Some(g) => (g, requests::KEY_TYPE_GROUP),
        };
        log::debug!("{}: FindCoordinator({key}) to node {node}", self.id);
        let req = requests::find_coordinator(key, key_type);
        let ctx = TxnCtx::FindCoordinator {
            group: group.is_some(),
        };
        match net.send(node, &req, None, ProducerCtx::Txn(ctx), now) {
            Ok(_) => self.in_flight = true,
            Err(e) => self.on_verdict(judge_transport(e), group.is_some(), now),
        }
        None
    }

    /// Applies a verdict on a failed request to the current operation.
    pub(super) fn on_verdict(&mut self, verdict: Verdict, group: bool, now: Instant) {
        log::debug!("{}: transaction request failed: {verdict:?}", self.id);
        match verdict {
            Verdict::Retry { rediscover } => self.retry_later(rediscover, group, now, false),
            Verdict::Abortable(e) => {
                if matches!(
                    self.op,
                    Some(Op::Init) | Some(Op::End { commit: false, .. })
                ) {
                    // Neither has a transaction to abort: try again.
                    log::warn!("transaction request failed, retrying: {e}");
                    return self.retry_later(false, group, now, false);
                }
                self.shared.set_abortable(e);
                let err = self.shared.error().unwrap_or(Error::Closed);
                self.finish(Err(err));
            }
            Verdict::Fatal(e) if self.fenced_by_timeout(&e, now) => {
                log::warn!("transaction {} timed out at its coordinator: {e}", self.id);
                self.timed_out = true;
                self.bump_needed = true;
                if let Some(Op::End {
                    commit: false,
                    phase,
                }) = self.op.as_mut()
                {
                    *phase = EndPhase::Bump;
                    return;
                }
                let cause = Error::timeout(
                    "the transaction to end: its coordinator aborted it after transaction_timeout",
                    self.timeout,
                );
                self.shared.set_abortable(cause);
                let err = self.shared.error().unwrap_or(Error::Closed);
                self.finish(Err(err));
            }
            Verdict::Fatal(e) => {
                self.shared.set_fatal(self.id_refusal(e));
                let err = self.shared.error().unwrap_or(Error::Closed);
                self.finish(Err(err));
            }
        }
    }
}

impl Sender {
    pub(in crate::producer) fn on_txn_command(&mut self, cmd: TxnCommand) {
        if let Some(txn) = self.txn.as_mut() {
            txn.on_command(cmd);
        }
    }

    /// Moves the transaction along; returns when to look again.
    pub(in crate::producer) fn poll_transaction(
        &mut self,
        net: &mut Network<ProducerCtx>,
        now: Instant,
    ) -> Option<Instant> {
        let txn = self.txn.as_mut()?;
        if let Some(e) = self.acc.take_transaction_failure() {
            match e.code() {
                Some(ErrorCode::PRODUCER_FENCED) => {
                    txn.shared.set_fatal(Error::ProducerFenced(e.to_string()));
                }
                Some(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED) => {
                    txn.shared.set_fatal(txn.id_refusal(e))
                }
                _ => txn.shared.set_abortable(e),
            }
        }
        if txn.shared.state() == TxnState::FatalError {
            let err = txn.shared.error().unwrap_or(Error::Closed);
            txn.finish(Err(err.clone()));
            if self.fatal.is_none() {
                // Every pending record fails now, not at the next wakeup.
                self.fail_everything(&err);
                self.fatal = Some(err);
            }
            return None;
        }
        if txn.in_flight {
            return None;
        }
        if let Some(t) = txn.not_before.filter(|t| *t > now) {
            return Some(t);
        }
        txn.not_before = None;
        // Protocol 1: partitions with records wait for AddPartitionsToTxn.
        let open = matches!(
            txn.shared.state(),
            TxnState::InTransaction | TxnState::Committing
        );
        if open && !txn.tv2 && !txn.pending.is_empty() {
            self.add_partitions(net, now);
            return self.txn.as_ref().and_then(|t| t.not_before);
        }
        match txn.op.as_ref() {
            None => None,
            Some(Op::Init) => self.step_init(net, now),
            Some(Op::End { commit, phase }) => {
                let (commit, phase) = (*commit, *phase);
                self.step_end(commit, phase, net, now)
            }
            Some(Op::Offsets { .. }) => self.step_offsets(net, now),
        }
    }

    fn txn_send(
        &mut self,
        net: &mut Network<ProducerCtx>,
        node: NodeId,
        req: &dyn crate::net::network::RequestBody,
        cap: Option<i16>,
        ctx: TxnCtx,
        now: Instant,
    ) -> Option<Instant> {
        let group = matches!(ctx, TxnCtx::TxnOffsetCommit);
        let txn = self.txn.as_mut()?;
        log::debug!("{}: {ctx:?} to node {node}", txn.id);
        match net.send(node, req, cap, ProducerCtx::Txn(ctx), now) {
            Ok(_) => txn.in_flight = true,
            Err(e) => txn.on_verdict(judge_transport(e), group, now),
        }
        txn.not_before
    }

    fn step_init(&mut self, net: &mut Network<ProducerCtx>, now: Instant) -> Option<Instant> {
        let txn = self.txn.as_mut()?;
        let Some(node) = txn.coordinator_node(None, net, now) else {
            return txn.not_before.or(Some(now + COORDINATOR_PATIENCE));
        };
        if !txn.features_known && txn.max_version >= 2 {
            let req = ApiVersionsRequest {
                client_software_name: "kafka-sync".into(),
                client_software_version: env!("CARGO_PKG_VERSION").into(),
            };
            return self.txn_send(net, node, &req, None, TxnCtx::ApiVersions, now);
        }
        let req = InitProducerIdRequest {
            transactional_id: Some(txn.id.clone()),
            transaction_timeout_ms: txn.timeout_ms,
            producer_id: self.pid.id,
            producer_epoch: self.pid.epoch,
        };
        self.txn_send(net, node, &req, None, TxnCtx::InitProducerId, now)
    }

    fn add_partitions(&mut self, net: &mut Network<ProducerCtx>, now: Instant) {
        let pid = self.pid;
        let Some(txn) = self.txn.as_mut() else { return };
        let Some(node) = txn.coordinator_node(None, net, now) else {
            return;
        };
        let partitions: Vec<(Arc<str>, i32)> = txn.pending.iter().cloned().collect();
        let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
        for (topic, p) in &partitions {
            match topics.iter_mut().find(|t| *t.name == **topic) {
                Some(t) => t.partitions.push(*p),
                None => topics.push(AddPartitionsToTxnTopic {
                    name: topic.to_string(),
                    partitions: vec![*p],
                }),
            }
        }
        let req = AddPartitionsToTxnRequest {
            v3_and_below_transactional_id: txn.id.clone(),
            v3_and_below_producer_id: pid.id,
            v3_and_below_producer_epoch: pid.epoch,
            v3_and_below_topics: topics,
            ..Default::default()
        };
        let cap = Some(requests::ADD_PARTITIONS_CLIENT_MAX);
        let ctx = TxnCtx::AddPartitions(partitions);
        self.txn_send(net, node, &req, cap, ctx, now);
    }

    fn step_end(
        &mut self,
        commit: bool,
        phase: EndPhase,
        net: &mut Network<ProducerCtx>,
        now: Instant,
    ) -> Option<Instant> {
        let pid = self.pid;
        match phase {
            EndPhase::Drain => {
                if !commit {
                    self.fail_unsent(&Error::TransactionAbortable {
                        cause: Box::new(Error::IllegalState(
                            "the transaction was aborted before this record was sent".into(),
                        )),
                    });
                }
                let drained = self.acc.incomplete() == 0 && self.in_flight.is_empty();
                let txn = self.txn.as_mut()?;
                if commit && txn.shared.state() == TxnState::AbortableError {
                    let err = txn.shared.error().unwrap_or(Error::Closed);
                    txn.finish(Err(err));
                    return None;
                }
                if !drained {
                    // Responses and completions wake the loop; this is only a backstop.
                    return Some(now + Duration::from_millis(100));
                }
                if commit {
                    if let Some(e) = self.acc.take_transaction_failure() {
                        txn.shared.set_abortable(e);
                        return self.poll_transaction(net, now);
                    }
                } else {
                    self.acc.take_transaction_failure();
                }
                let next = if txn.started && !txn.timed_out {
                    EndPhase::EndTxn
                } else if txn.bump_needed && (!txn.tv2 || txn.timed_out) {
                    EndPhase::Bump
                } else {
                    return self.end_done(None);
                };
                txn.op = Some(Op::End {
                    commit,
                    phase: next,
                });
                self.poll_transaction(net, now)
            }
            EndPhase::EndTxn => {
                let txn = self.txn.as_mut()?;
                let Some(node) = txn.coordinator_node(None, net, now) else {
                    return txn.not_before.or(Some(now + COORDINATOR_PATIENCE));
                };
                let req = EndTxnRequest {
                    transactional_id: txn.id.clone(),
                    producer_id: pid.id,
                    producer_epoch: pid.epoch,
                    committed: commit,
                };
                let cap = if txn.tv2 {
                    None
                } else {
                    Some(requests::TV2_VERSION - 1)
                };
                self.txn_send(net, node, &req, cap, TxnCtx::EndTxn, now)
            }
            EndPhase::Bump => {
                let txn = self.txn.as_mut()?;
                let Some(node) = txn.coordinator_node(None, net, now) else {
                    return txn.not_before.or(Some(now + COORDINATOR_PATIENCE));
                };
                let req = InitProducerIdRequest {
                    transactional_id: Some(txn.id.clone()),
                    transaction_timeout_ms: txn.timeout_ms,
                    producer_id: pid.id,
                    producer_epoch: pid.epoch,
                };
                self.txn_send(net, node, &req, None, TxnCtx::InitProducerId, now)
            }
        }
    }

    /// The transaction ended (with a new producer id and epoch, maybe): back to Ready.
    pub(super) fn end_done(&mut self, new_pid: Option<ProducerIdEpoch>) -> Option<Instant> {
        if let Some(p) = new_pid.filter(|p| p.is_set()) {
            log::debug!("producer id {} epoch {}", p.id, p.epoch);
            self.pid = p;
        }
        let txn = self.txn.as_mut()?;
        txn.reset_transaction();
        txn.bump_needed = false;
        txn.shared.set(TxnState::Ready);
        txn.finish(Ok(()));
        None
    }

    fn step_offsets(&mut self, net: &mut Network<ProducerCtx>, now: Instant) -> Option<Instant> {
        let pid = self.pid;
        let txn = self.txn.as_mut()?;
        let Some(Op::Offsets {
            group,
            offsets,
            added,
        }) = txn.op.as_ref()
        else {
            return None;
        };
        let (group, offsets, added) = (group.clone(), offsets.clone(), *added);
        if !added && !txn.tv2 {
            let Some(node) = txn.coordinator_node(None, net, now) else {
                return txn.not_before.or(Some(now + COORDINATOR_PATIENCE));
            };
            let req = AddOffsetsToTxnRequest {
                transactional_id: txn.id.clone(),
                producer_id: pid.id,
                producer_epoch: pid.epoch,
                group_id: group.group_id.clone(),
            };
            return self.txn_send(net, node, &req, None, TxnCtx::AddOffsets, now);
        }
        let Some(node) = txn.coordinator_node(Some(&group.group_id), net, now) else {
            return txn.not_before.or(Some(now + COORDINATOR_PATIENCE));
        };
        let (generation_id, member_id, group_instance_id) = requests::group_fields(&group);
        let req = TxnOffsetCommitRequest {
            transactional_id: txn.id.clone(),
            group_id: group.group_id.clone(),
            producer_id: pid.id,
            producer_epoch: pid.epoch,
            generation_id,
            member_id,
            group_instance_id,
            topics: requests::offset_topics(&offsets),
        };
        let cap = if txn.tv2 {
            None
        } else {
            Some(requests::TV2_VERSION - 1)
        };
        self.txn_send(net, node, &req, cap, TxnCtx::TxnOffsetCommit, now)
    }

    /// Fails the records not yet sent (queued, or waiting for a retry): the
    /// transaction they belong to is being aborted. A failed sealed batch leaves its
    /// partition's sequence unusable, so protocol 1 then needs a new epoch.
    fn fail_unsent(&mut self, err: &Error) {
        let mut sealed = Vec::new();
        for state in self.partitions.values_mut() {
            sealed.extend(state.retries.drain(..));
        }
        if !sealed.is_empty() {
            if let Some(txn) = self.txn.as_mut() {
                txn.bump_needed = true;
            }
        }
        for b in sealed {
            self.fail_sent(b, err.clone());
        }
        for topic in self.acc.topics() {
            for queue in &topic.partitions {
                let mut q = super::super::accumulator::lock(queue);
                let open = q.open.take();
                let batches: Vec<_> = q.closed.drain(..).chain(open).collect();
                drop(q);
                for b in batches {
                    let records = b.builder.record_count() as i32;
                    self.metrics.on_error();
                    super::super::sender::finish_batch(
                        &self.acc,
                        &self.metrics,
                        &b,
                        records,
                        Err(err.clone()),
                    );
                }
            }
        }
    }
}

impl Sender {
    /// On close: records of a transaction that is not open can never be sent.
    pub(in crate::producer) fn close_transaction(&mut self) {
        let Some(txn) = self.txn.as_ref() else { return };
        let state = txn.shared.state();
        if !matches!(state, TxnState::InTransaction | TxnState::Committing) {
            self.fail_unsent(&Error::Closed);
        }
    }
}

impl TxnManager {
    /// Answers every waiting call with `err` (the producer is stopping).
    pub fn fail_replies(&mut self, err: &Error) {
        self.op = None;
        for r in self.replies.drain(..) {
            let _ = r.send(Err(err.clone()));
        }
    }
}
