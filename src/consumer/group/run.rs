//! Driving the group over the network: what [`GroupCoordinator::poll`] sends, where
//! answers go, and the LeaveGroup on close.

use std::time::{Duration, Instant};

use crate::error::Error;
use crate::net::metadata::NodeId;
use crate::net::network::{Network, Response};

use super::membership::{MemberRequest, MetaView, Phase};
use super::responses::group_error;
use super::{wire, Close, GroupCoordinator, GroupCtx, GroupEvent, JOIN_GROUP_TIMEOUT_LAPSE};

impl GroupCoordinator {
    /// Drives the state machine: finds the coordinator, joins, syncs, heartbeats, retries
    /// with backoff, sends pending commits and lookups. Returns the next time it needs to
    /// run even if no answer arrives.
    pub fn poll<C: From<GroupCtx>>(
        &mut self,
        net: &mut Network<C>,
        now: Instant,
        events: &mut Vec<GroupEvent>,
    ) -> Option<Instant> {
        events.append(&mut self.early_events);
        // With no broker reachable at all, commits and lookups that run out of time say
        // so, as other requests do (`RpcQueue`), rather than just "timed out".
        let unreachable = (!net.any_ready())
            .then(|| net.unreachable_error())
            .flatten();
        self.commits.expire(now, unreachable.as_ref(), events);
        let cluster = net.cluster().clone();
        let meta = MetaView {
            cluster: &cluster,
            version: net.schedule.version,
        };
        if self.close.is_none() && self.member.tick(now, &self.settings, &meta, events) {
            self.coordinator_lost(
                net,
                "no heartbeat got through for a whole session timeout",
                now,
            );
        }
        if !self.member.wanted_topics.is_empty() {
            let topics = std::mem::take(&mut self.member.wanted_topics);
            net.schedule.add_topics(topics.iter().map(String::as_str));
            net.schedule.request_update();
        }
        if std::mem::take(&mut self.cut_coordinator) {
            self.cut_coordinator_connection(net, now);
        }
        self.maybe_find_coordinator(net, now);
        let node = self.ready_coordinator(net, now);
        if self.cp.is_some() {
            self.poll_consumer_protocol(net, node, now, events);
        } else if self.close.is_none() {
            self.send_pending_leave(net, node, false, now);
            for _ in 0..2 {
                let ready = node.filter(|n| net.can_send(*n));
                let Some(req) =
                    self.member
                        .next_request(now, ready.is_some(), &self.settings, &meta, events)
                else {
                    break;
                };
                if let Some(node) = ready {
                    self.send_member_request(net, node, req, now, events);
                }
            }
        }
        self.send_commits(net, node, now, events);
        self.next_deadline(now)
    }

    /// Handles the answer (or failure) of a group request.
    pub fn on_response<C: From<GroupCtx>>(
        &mut self,
        ctx: GroupCtx,
        result: Result<Response, Error>,
        net: &mut Network<C>,
        now: Instant,
        events: &mut Vec<GroupEvent>,
    ) {
        let lost = match ctx {
            GroupCtx::FindCoordinator { seq } => {
                match self.lookup.on_response(
                    seq,
                    result.and_then(wire::parse_find_coordinator),
                    now,
                ) {
                    Ok(Some(c)) => net.add_dedicated_node(c.node, &c.host, c.port),
                    Ok(None) => {}
                    Err(e) => {
                        let e = match e.code() {
                            Some(code) => group_error(code, &self.settings),
                            None => e,
                        };
                        // Commits and offset lookups wait for this coordinator too: they
                        // hear the refusal now rather than at their deadlines.
                        self.commits.fail_all(&e, events);
                        events.push(GroupEvent::Error(e));
                    }
                }
                false
            }
            GroupCtx::Join { seq } => {
                let r = result.and_then(wire::parse_join);
                self.member.on_join(seq, r, now, &self.settings, events)
            }
            GroupCtx::Sync { seq } => {
                let r = result.and_then(wire::parse_sync);
                let lost = self.member.on_sync(seq, r, now, &self.settings, events);
                if self.member.phase == Phase::Stable {
                    let generation = self.member.generation.id;
                    let protocol = self.member.generation.protocol.clone().unwrap_or_default();
                    if let Some(a) = self
                        .settings
                        .assignors
                        .iter_mut()
                        .find(|a| a.name() == protocol)
                    {
                        a.on_assignment(&self.member.owned, generation);
                    }
                }
                lost
            }
            GroupCtx::Heartbeat { epoch } => {
                let r = result.and_then(wire::parse_heartbeat);
                self.member
                    .on_heartbeat(epoch, r, now, &self.settings, events)
            }
            GroupCtx::Leave { closing } => {
                match result.and_then(wire::parse_leave) {
                    Ok(code) if code.is_ok() => {
                        log::debug!("left group {}", self.settings.group_id)
                    }
                    Ok(code) => {
                        log::info!("LeaveGroup for group {}: {code}", self.settings.group_id)
                    }
                    Err(e) => log::info!(
                        "LeaveGroup for group {} failed: {e}",
                        self.settings.group_id
                    ),
                }
                if closing {
                    self.close = Some(Close::Done);
                }
                false
            }
            GroupCtx::Commit { key, epoch } => {
                let verdict = self
                    .commits
                    .on_commit(key, result.and_then(wire::parse_commit), now);
                if let (Some(m), Some(code)) = (self.cp.as_mut(), verdict.membership_code) {
                    m.on_commit_error(code, now);
                } else if let Some(code) = verdict.membership_code {
                    self.member
                        .on_commit_error(epoch, code, &self.settings, events);
                }
                verdict.coordinator_lost
            }
            GroupCtx::FetchOffsets { key } => {
                let group = self.settings.group_id.clone();
                let r = result.and_then(|resp| wire::parse_offset_fetch(resp, &group));
                self.commits.on_fetch(key, r, now, events)
            }
            GroupCtx::ConsumerHeartbeat {
                seq,
                leave,
                closing,
            } => self.on_consumer_heartbeat(seq, leave, closing, result, now, events),
        };
        if lost {
            self.coordinator_lost(net, "the coordinator failed or moved", now);
        }
    }

    /// Close: leaves the group (dynamic members; a static member keeps its place until its
    /// session times out, as in the Java client) and waits for pending commits. Returns
    /// true when done or nothing is left to do.
    pub fn poll_close<C: From<GroupCtx>>(&mut self, net: &mut Network<C>, now: Instant) -> bool {
        if self.cp.is_some() {
            return self.poll_close_consumer_protocol(net, now);
        }
        if self.close.is_none() {
            let join_in_flight = self
                .member
                .unsubscribe(&self.settings, "the consumer is closing");
            if join_in_flight {
                self.cut_coordinator_connection(net, now);
            }
            let leave = self.member.pending_leave.is_some() && self.lookup.known().is_some();
            if !leave {
                self.member.pending_leave = None;
            }
            self.close = Some(if leave {
                Close::LeavePending
            } else {
                Close::Done
            });
        }
        if self.close == Some(Close::LeavePending) {
            if self.lookup.known().is_none() {
                self.member.pending_leave = None;
                self.close = Some(Close::Done);
            } else {
                let node = self.ready_coordinator(net, now);
                if self.send_pending_leave(net, node, true, now) {
                    self.close = Some(Close::LeaveInFlight);
                } else if self.member.pending_leave.is_none() {
                    self.close = Some(Close::Done);
                }
            }
        }
        self.close == Some(Close::Done) && !self.commits.has_commits()
    }

    fn needs_coordinator(&self) -> bool {
        let member = self.close.is_none()
            && !matches!(
                self.member.phase,
                Phase::Idle | Phase::Failed | Phase::PollTimedOut
            );
        let cp = self.cp.as_ref().is_some_and(|m| m.needs_coordinator());
        member || cp || self.commits.has_work()
    }

    fn maybe_find_coordinator<C: From<GroupCtx>>(&mut self, net: &mut Network<C>, now: Instant) {
        if !self.needs_coordinator() || !self.lookup.due(now) {
            return;
        }
        let Some(node) = net.least_loaded_node(now) else {
            return; // a connection is on its way; its readiness wakes the loop
        };
        let req = wire::find_coordinator_request(&self.settings.group_id);
        let seq = self.lookup.sent();
        let ctx = GroupCtx::FindCoordinator { seq };
        if let Err(e) = net.send(
            node,
            &req,
            Some(wire::FIND_COORDINATOR_MAX),
            ctx.into(),
            now,
        ) {
            log::debug!(
                "FindCoordinator could not be sent to {}: {e}",
                net.node_label(node)
            );
            self.lookup.send_failed(now);
        }
    }

    /// How long the coordinator's connection may stay unready before it is looked up again.
    fn unready_limit(&self) -> Duration {
        self.settings.heartbeat_interval.max(Duration::from_secs(1))
    }

    /// The coordinator's node if a request can go to it now; starts connecting otherwise.
    pub(super) fn ready_coordinator<C: From<GroupCtx>>(
        &mut self,
        net: &mut Network<C>,
        now: Instant,
    ) -> Option<NodeId> {
        let node = self.lookup.known()?.node;
        let ready = net.ready_or_connect(node, now);
        if self.lookup.note_readiness(ready, now, self.unready_limit()) {
            self.lookup
                .mark_unknown("its connection did not become ready", now);
            return None;
        }
        ready.then_some(node)
    }

    /// Forgets the coordinator and closes its connection (failing what is in flight there).
    fn coordinator_lost<C: From<GroupCtx>>(
        &mut self,
        net: &mut Network<C>,
        reason: &str,
        now: Instant,
    ) {
        if let Some(c) = self.lookup.mark_unknown(reason, now) {
            let err = Error::Disconnected {
                broker: net.node_label(c.node),
                reason: format!("group coordinator: {reason}"),
            };
            net.disconnect(c.node, err, now);
        }
    }

    /// Closes the coordinator connection without forgetting the coordinator: a JoinGroup
    /// parked there would hold back the LeaveGroup queued behind it.
    fn cut_coordinator_connection<C: From<GroupCtx>>(
        &mut self,
        net: &mut Network<C>,
        now: Instant,
    ) {
        if let Some(c) = self.lookup.known() {
            let err = Error::Disconnected {
                broker: net.node_label(c.node),
                reason: "leaving the group while a JoinGroup was pending".into(),
            };
            net.disconnect(c.node, err, now);
        }
    }

    /// Sends the queued LeaveGroup if the coordinator can take it; drops it if the
    /// coordinator is unknown. Returns true if it was sent.
    fn send_pending_leave<C: From<GroupCtx>>(
        &mut self,
        net: &mut Network<C>,
        node: Option<NodeId>,
        closing: bool,
        now: Instant,
    ) -> bool {
        if self.member.pending_leave.is_none() {
            return false;
        }
        if self.lookup.known().is_none() {
            self.member.pending_leave = None;
            return false;
        }
        let Some(node) = node.filter(|n| net.can_send(*n)) else {
            return false;
        };
        let Some((member_id, reason)) = self.member.pending_leave.take() else {
            return false;
        };
        log::info!(
            "member {member_id} leaving group {}: {reason}",
            self.settings.group_id
        );
        let req = wire::leave_request(&self.settings, &member_id, &reason);
        match net.send(
            node,
            &req,
            Some(wire::LEAVE_GROUP_MAX),
            GroupCtx::Leave { closing }.into(),
            now,
        ) {
            Ok(_) => true,
            Err(e) => {
                log::info!("LeaveGroup could not be sent: {e}");
                false
            }
        }
    }

    fn send_member_request<C: From<GroupCtx>>(
        &mut self,
        net: &mut Network<C>,
        node: NodeId,
        req: MemberRequest,
        now: Instant,
        events: &mut Vec<GroupEvent>,
    ) {
        let seq = self.member.seq;
        let generation = self.member.generation.clone();
        match req {
            MemberRequest::Join { protocols, reason } => {
                let body = wire::join_request(&self.settings, &generation, protocols, reason);
                let timeout = self.settings.request_timeout.max(
                    self.settings
                        .rebalance_timeout
                        .saturating_add(JOIN_GROUP_TIMEOUT_LAPSE),
                );
                let ctx = GroupCtx::Join { seq };
                if let Err(e) = net.send_with_timeout(
                    node,
                    &body,
                    Some(wire::JOIN_GROUP_MAX),
                    ctx.into(),
                    timeout,
                    now,
                ) {
                    self.member
                        .on_join(seq, Err(e), now, &self.settings, events);
                }
            }
            MemberRequest::Sync { assignments } => {
                let body = wire::sync_request(&self.settings, &generation, assignments);
                let ctx = GroupCtx::Sync { seq };
                if let Err(e) = net.send(node, &body, Some(wire::SYNC_GROUP_MAX), ctx.into(), now) {
                    self.member
                        .on_sync(seq, Err(e), now, &self.settings, events);
                }
            }
            MemberRequest::Heartbeat => {
                let epoch = self.member.epoch;
                let body = wire::heartbeat_request(&self.settings, &generation);
                let ctx = GroupCtx::Heartbeat { epoch };
                if let Err(e) = net.send(node, &body, Some(wire::HEARTBEAT_MAX), ctx.into(), now) {
                    self.member
                        .on_heartbeat(epoch, Err(e), now, &self.settings, events);
                }
            }
        }
    }

    /// Sends due commits (failing at once those the membership cannot make) and due
    /// committed-offset lookups (not while a JoinGroup/SyncGroup is parked at the
    /// coordinator).
    fn send_commits<C: From<GroupCtx>>(
        &mut self,
        net: &mut Network<C>,
        node: Option<NodeId>,
        now: Instant,
        events: &mut Vec<GroupEvent>,
    ) {
        for key in self.commits.due_commits(now) {
            let generation = match self.cp.as_ref() {
                Some(m) => m.commit_generation(),
                None => self.member.commit_generation(),
            };
            let generation = match generation {
                Ok(g) => g,
                Err(e) => {
                    self.commits.fail_commit(key, e);
                    continue;
                }
            };
            let Some(node) = node.filter(|n| net.can_send(*n)) else {
                break;
            };
            let Some(offsets) = self.commits.commit_offsets(key) else {
                continue;
            };
            let req = wire::commit_request(&self.settings, generation, offsets);
            let ctx = GroupCtx::Commit {
                key,
                epoch: self.member.epoch,
            };
            match net.send(node, &req, Some(wire::OFFSET_COMMIT_MAX), ctx.into(), now) {
                Ok(_) => self.commits.commit_sent(key),
                Err(e) => self.commits.fail_commit(key, e),
            }
        }
        if self.member.rebalance_in_flight() {
            return;
        }
        for key in self.commits.due_fetches(now) {
            let Some(node) = node.filter(|n| net.can_send(*n)) else {
                break;
            };
            let Some(partitions) = self.commits.fetch_partitions(key) else {
                continue;
            };
            let req = wire::offset_fetch_request(&self.settings.group_id, partitions);
            match net.send(
                node,
                &req,
                Some(wire::OFFSET_FETCH_MAX),
                GroupCtx::FetchOffsets { key }.into(),
                now,
            ) {
                Ok(_) => self.commits.fetch_sent(key),
                Err(e) => self.commits.fail_fetch(key, e, events),
            }
        }
    }

    fn next_deadline(&self, now: Instant) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        // Work due now that was not done waits for a connection (whose readiness wakes the
        // loop), so only future times count; a past one would spin the loop.
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t.filter(|t| *t > now) {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        if !self.early_events.is_empty() {
            return Some(now);
        }
        if self.close.is_none() {
            consider(self.member.next_deadline(&self.settings));
            if let Some(m) = &self.cp {
                if m.tick_pending() {
                    return Some(now);
                }
                consider(m.next_deadline());
            }
        }
        if self.needs_coordinator() {
            consider(self.lookup.retry_at());
            consider(self.lookup.unready_deadline(self.unready_limit()));
        }
        consider(self.commits.next_deadline());
        next
    }
}
