//! Driving the consumer-protocol membership over the network: heartbeats and leaves to
//! the coordinator the classic code path finds, and their answers.

use std::time::Instant;

use crate::error::{Error, ErrorCode};
use crate::net::metadata::NodeId;
use crate::net::network::{Network, Response};
use crate::protocol::api::ApiKey;

use super::super::{Close, GroupCoordinator, GroupCtx, GroupEvent};
use super::heartbeat::{self, HEARTBEAT_MAX, REGEX_MIN_VERSION};
use super::membership::Subscription;

impl GroupCoordinator {
    /// The consumer protocol's part of `poll`: timers, reconciliation, the pending leave
    /// and the heartbeat due. `node` is the coordinator if a request can go to it now.
    pub(in crate::consumer::group) fn poll_consumer_protocol<C: From<GroupCtx>>(
        &mut self,
        net: &mut Network<C>,
        node: Option<NodeId>,
        now: Instant,
        events: &mut Vec<GroupEvent>,
    ) {
        let Some(m) = self.cp.as_mut() else {
            return;
        };
        if self.close.is_none() {
            let cluster = net.cluster().clone();
            let name_of = |id: &crate::protocol::codec::Uuid| {
                cluster
                    .topics
                    .values()
                    .find(|t| t.topic_id == *id && t.error.is_ok())
                    .map(|t| t.name.clone())
            };
            m.tick(now, &name_of, net.schedule.version, events);
            if std::mem::take(&mut m.wants_metadata) {
                net.schedule.request_update();
            }
        }
        let Some(node) = node.filter(|n| net.can_send(*n)) else {
            return;
        };
        self.send_consumer_leave(net, node, false, now);
        if self.close.is_none() {
            self.send_consumer_heartbeat(net, node, now, events);
        }
    }

    fn send_consumer_heartbeat<C: From<GroupCtx>>(
        &mut self,
        net: &mut Network<C>,
        node: NodeId,
        now: Instant,
        events: &mut Vec<GroupEvent>,
    ) {
        let Some(m) = self.cp.as_mut() else {
            return;
        };
        let Some(seq) = m.heartbeat_due(now) else {
            return;
        };
        let version = net.pick_version(node, ApiKey::CONSUMER_GROUP_HEARTBEAT, 0, HEARTBEAT_MAX);
        let result = match version {
            Ok(v) if v < REGEX_MIN_VERSION && matches!(m.subscription, Some(Subscription::Regex(_))) => {
                Err(Error::broker(
                    ErrorCode::UNSUPPORTED_VERSION,
                    Some("a pattern subscription with group.protocol=consumer needs Kafka 4.0 or newer (ConsumerGroupHeartbeat v1)".into()),
                ))
            }
            Ok(_) => {
                let req = m.heartbeat_request();
                let ctx = GroupCtx::ConsumerHeartbeat {
                    seq,
                    leave: false,
                    closing: false,
                };
                net.send(node, &req, Some(HEARTBEAT_MAX), ctx.into(), now)
                    .map(drop)
            }
            Err(Error::UnsupportedVersion { .. }) => Err(Error::broker(
                ErrorCode::UNSUPPORTED_VERSION,
                Some(format!(
                    "group.protocol=consumer needs a broker with KIP-848 consumer groups (Kafka 4.0 or newer, group.version=1); {} has no ConsumerGroupHeartbeat. Use group.protocol=classic",
                    net.node_label(node)
                )),
            )),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            // A refusal is the broker's answer; a send failure is retried.
            let answer = match e.code() {
                Some(code) => Ok(heartbeat::HeartbeatOutcome {
                    error: code,
                    message: Some(e.to_string()),
                    member_id: None,
                    member_epoch: -1,
                    heartbeat_interval_ms: -1,
                    assignment: None,
                }),
                None => Err(e),
            };
            m.on_heartbeat(seq, answer, now, events);
        }
    }

    /// Sends the pending leave heartbeat; true if it went out.
    fn send_consumer_leave<C: From<GroupCtx>>(
        &mut self,
        net: &mut Network<C>,
        node: NodeId,
        closing: bool,
        now: Instant,
    ) -> bool {
        let Some(m) = self.cp.as_mut() else {
            return false;
        };
        let Some((epoch, reason)) = m.pending_leave.take() else {
            return false;
        };
        log::info!(
            "member {} leaving group {} at epoch {epoch}: {reason}",
            m.member_id,
            self.settings.group_id
        );
        let req = m.leave_request(epoch);
        let ctx = GroupCtx::ConsumerHeartbeat {
            seq: 0,
            leave: true,
            closing,
        };
        match net.send(node, &req, Some(HEARTBEAT_MAX), ctx.into(), now) {
            Ok(_) => true,
            Err(e) => {
                log::info!("the leave heartbeat could not be sent: {e}");
                false
            }
        }
    }

    /// The answer to a ConsumerGroupHeartbeat; returns true if the coordinator should be
    /// looked up again.
    pub(in crate::consumer::group) fn on_consumer_heartbeat(
        &mut self,
        seq: u64,
        leave: bool,
        closing: bool,
        result: Result<Response, Error>,
        now: Instant,
        events: &mut Vec<GroupEvent>,
    ) -> bool {
        let r = result.and_then(heartbeat::parse);
        if leave {
            match r {
                Ok(o) if o.error.is_ok() => log::debug!("left group {}", self.settings.group_id),
                Ok(o) => log::info!("leaving group {}: {}", self.settings.group_id, o.error),
                Err(e) => log::info!("leaving group {} failed: {e}", self.settings.group_id),
            }
            if closing {
                self.close = Some(Close::Done);
            }
            return false;
        }
        match self.cp.as_mut() {
            Some(m) => m.on_heartbeat(seq, r, now, events),
            None => false,
        }
    }

    /// The consumer protocol's `poll_close`: leave (epoch -1, or -2 for a static member,
    /// which keeps its assignment for its session timeout), then wait for the commits.
    pub(in crate::consumer::group) fn poll_close_consumer_protocol<C: From<GroupCtx>>(
        &mut self,
        net: &mut Network<C>,
        now: Instant,
    ) -> bool {
        let known = self.lookup.known().is_some();
        let Some(m) = self.cp.as_mut() else {
            return true;
        };
        if self.close.is_none() {
            m.unsubscribe("the consumer is closing");
            if !known {
                m.pending_leave = None;
            }
            self.close = Some(match m.pending_leave {
                Some(_) => Close::LeavePending,
                None => Close::Done,
            });
        }
        if self.close == Some(Close::LeavePending) {
            if self.lookup.known().is_none() {
                self.close = Some(Close::Done);
            } else if let Some(node) = self.ready_coordinator(net, now) {
                if net.can_send(node) && self.send_consumer_leave(net, node, true, now) {
                    self.close = Some(Close::LeaveInFlight);
                } else if self.cp.as_ref().is_some_and(|m| m.pending_leave.is_none()) {
                    self.close = Some(Close::Done);
                }
            }
        }
        self.close == Some(Close::Done) && !self.commits.has_commits()
    }
}
