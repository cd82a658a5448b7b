//! The transaction manager's handling of answers: each transaction request's response
//! moves its operation on, or is judged (retry, abortable, fatal) as in
//! [`super::requests`].

use std::time::Instant;

use crate::error::Result;
use crate::net::metadata::NodeId;
use crate::net::network::{Network, Response};
use crate::protocol::api::add_offsets_to_txn::AddOffsetsToTxnResponse;
use crate::protocol::api::add_partitions_to_txn::AddPartitionsToTxnResponse;
use crate::protocol::api::end_txn::EndTxnResponse;
use crate::protocol::api::init_producer_id::InitProducerIdResponse;
use crate::protocol::api::txn_offset_commit::TxnOffsetCommitResponse;
use crate::protocol::api::ApiKey;
use crate::protocol::error_code::ErrorCode;

use super::super::sender::{ProducerCtx, Sender};
use super::super::sequence::ProducerIdEpoch;
use super::manager::{EndPhase, Op, TxnCtx};
use super::requests::{self, judge, judge_transport, Verdict};
use super::state::TxnState;

impl Sender {
    pub(in crate::producer) fn on_txn_response(
        &mut self,
        ctx: TxnCtx,
        result: Result<Response>,
        net: &mut Network<ProducerCtx>,
        now: Instant,
    ) {
        let Some(txn) = self.txn.as_mut() else { return };
        txn.in_flight = false;
        let group = matches!(
            ctx,
            TxnCtx::TxnOffsetCommit | TxnCtx::FindCoordinator { group: true }
        );
        let resp = match result {
            Ok(r) => r,
            Err(e) => return txn.on_verdict(judge_transport(e), group, now),
        };
        let node = resp.node;
        let verdict = match ctx {
            TxnCtx::FindCoordinator { group } => {
                match requests::parse_find_coordinator(resp) {
                    Ok((broker, host, port)) => {
                        // A connection of its own, as the consumer's coordinator.
                        let id = NodeId::MAX - broker;
                        net.add_dedicated_node(id, &host, port);
                        log::info!(
                            "{} coordinator for {} is broker {broker} ({host}:{port})",
                            if group { "group" } else { "transaction" },
                            txn.id
                        );
                        if group {
                            if let Some(Op::Offsets { group: g, .. }) = txn.op.as_ref() {
                                txn.group_coordinator = Some((g.group_id.clone(), id, now));
                            }
                        } else {
                            txn.coordinator = Some((id, now));
                        }
                        None
                    }
                    Err(v) => Some(v),
                }
            }
            TxnCtx::ApiVersions => match requests::finalizes_tv2(resp) {
                Ok(tv2) => {
                    let end_txn_v5 = net
                        .pick_version(node, ApiKey::END_TXN, requests::TV2_VERSION, 5)
                        .is_ok();
                    txn.tv2 = tv2 && end_txn_v5;
                    txn.features_known = true;
                    log::info!(
                        "transaction protocol {} for {}",
                        if txn.tv2 { 2 } else { 1 },
                        txn.id
                    );
                    None
                }
                Err(e) => Some(judge_transport(e)),
            },
            TxnCtx::InitProducerId => match resp.decode::<InitProducerIdResponse>() {
                Err(e) => Some(judge_transport(e)),
                Ok(r) if r.error_code != 0 => {
                    let code = ErrorCode(r.error_code);
                    match judge(code, None, false) {
                        // Only authorization, fencing and the like are final here.
                        Verdict::Abortable(e) => Some(Verdict::Fatal(e)),
                        v => Some(v),
                    }
                }
                Ok(r) => {
                    let new = ProducerIdEpoch {
                        id: r.producer_id,
                        epoch: r.producer_epoch,
                    };
                    let initializing = matches!(txn.op, Some(Op::Init));
                    if initializing {
                        log::debug!("producer id {} epoch {} (initialized)", new.id, new.epoch);
                        self.pid = new;
                        let txn = self.txn.as_mut().expect("checked above");
                        txn.shared.set(TxnState::Ready);
                        txn.finish(Ok(()));
                    } else {
                        self.end_done(Some(new));
                    }
                    return;
                }
            },
            TxnCtx::AddPartitions(partitions) => {
                match resp.decode::<AddPartitionsToTxnResponse>() {
                    Err(e) => Some(judge_transport(e)),
                    Ok(r) => {
                        let first_error = r
                            .results_by_topic_v3_and_below
                            .iter()
                            .flat_map(|t| t.results_by_partition.iter())
                            .map(|p| ErrorCode(p.partition_error_code))
                            .find(|c| !c.is_ok() && *c != ErrorCode::OPERATION_NOT_ATTEMPTED);
                        match first_error {
                            None => {
                                for p in partitions {
                                    txn.pending.remove(&p);
                                    txn.added.insert(p);
                                }
                                txn.mark_started(now);
                                txn.backoff.reset();
                                None
                            }
                            Some(code) => match judge(code, None, false) {
                                Verdict::Retry { rediscover } => {
                                    let busy = code == ErrorCode::CONCURRENT_TRANSACTIONS;
                                    txn.retry_later(rediscover, false, now, busy);
                                    None
                                }
                                Verdict::Abortable(e) => {
                                    txn.shared.set_abortable(e);
                                    None
                                }
                                Verdict::Fatal(e) => {
                                    txn.shared.set_fatal(e);
                                    None
                                }
                            },
                        }
                    }
                }
            }
            TxnCtx::AddOffsets => match resp.decode::<AddOffsetsToTxnResponse>() {
                Err(e) => Some(judge_transport(e)),
                Ok(r) if r.error_code != 0 => Some(judge(ErrorCode(r.error_code), None, false)),
                Ok(_) => {
                    txn.mark_started(now);
                    if let Some(Op::Offsets { added, .. }) = txn.op.as_mut() {
                        *added = true;
                    }
                    None
                }
            },
            TxnCtx::TxnOffsetCommit => match resp.decode::<TxnOffsetCommitResponse>() {
                Err(e) => Some(judge_transport(e)),
                Ok(r) => {
                    let first_error = r
                        .topics
                        .iter()
                        .flat_map(|t| t.partitions.iter())
                        .map(|p| ErrorCode(p.error_code))
                        .find(|c| !c.is_ok());
                    match first_error {
                        Some(code) => Some(judge(code, None, true)),
                        None => {
                            txn.mark_started(now);
                            if matches!(txn.op, Some(Op::Offsets { .. })) {
                                txn.finish(Ok(()));
                            }
                            None
                        }
                    }
                }
            },
            TxnCtx::EndTxn => match resp.decode::<EndTxnResponse>() {
                Err(e) => Some(judge_transport(e)),
                Ok(r) if r.error_code != 0 => {
                    let code = ErrorCode(r.error_code);
                    let committing = matches!(txn.op, Some(Op::End { commit: true, .. }));
                    Some(requests::judge_end(code, committing))
                }
                Ok(r) => {
                    let tv2 = txn.tv2;
                    let bump = txn.bump_needed && !tv2;
                    if bump {
                        if let Some(Op::End { phase, .. }) = txn.op.as_mut() {
                            *phase = EndPhase::Bump;
                        }
                        return;
                    }
                    let new = tv2.then_some(ProducerIdEpoch {
                        id: r.producer_id,
                        epoch: r.producer_epoch,
                    });
                    self.end_done(new);
                    return;
                }
            },
        };
        if let Some(v) = verdict {
            if let Some(txn) = self.txn.as_mut() {
                txn.on_verdict(v, group, now);
            }
        }
    }
}
