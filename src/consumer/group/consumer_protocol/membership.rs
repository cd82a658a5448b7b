//! The member's side of the KIP-848 consumer protocol: joining at epoch 0, the member
//! epoch, heartbeats at the interval the broker gives, reconciling towards the broker's
//! target assignment (revoke first, then assign), fencing, and leaving.
//!
//! Decisions only: it takes answers and `now`, and says what to send.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorCode};
use crate::net::backoff::Backoff;
use crate::protocol::codec::Uuid;
use crate::TopicPartition;

use super::super::responses::is_transport_error;
use super::super::GroupEvent;
use super::heartbeat::{classify, HeartbeatOutcome, Verdict};
use super::reconcile::{self, Target};

/// The epoch that asks to leave the group.
pub(super) const LEAVE_EPOCH: i32 = -1;
/// The epoch a static member leaves with: it keeps its assignment until its session ends.
pub(super) const STATIC_LEAVE_EPOCH: i32 = -2;
/// The heartbeat interval until the broker names one (it does in its first answer).
const INITIAL_INTERVAL: Duration = Duration::from_secs(5);

/// The settings of the membership, from the consumer config.
pub(in crate::consumer::group) struct MemberSettings {
    pub group_id: String,
    pub instance_id: Option<String>,
    pub rack: Option<String>,
    /// `max_poll_interval`: how long the broker waits for a revoke, and the poll timeout.
    pub rebalance_timeout: Duration,
    pub remote_assignor: Option<String>,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
}

/// What the member subscribes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::consumer::group) enum Subscription {
    Topics(BTreeSet<String>),
    /// Matched by the broker against whole topic names (RE2/J).
    Regex(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::consumer::group) enum Phase {
    /// Not subscribed.
    Idle,
    /// Heartbeating at epoch 0 until the broker answers with an epoch.
    Joining,
    /// In the group at `epoch`.
    Member,
    /// Left because the user stopped polling; the next poll rejoins.
    PollTimedOut,
    /// A fatal error; a new subscription starts over.
    Failed,
}

pub(in crate::consumer::group) struct ConsumerMember {
    pub settings: MemberSettings,
    pub phase: Phase,
    /// Generated here once and kept for the consumer's life (KIP-1082).
    pub member_id: String,
    pub epoch: i32,
    pub subscription: Option<Subscription>,
    /// What the user thread owns, with each partition's topic id.
    pub owned: BTreeMap<TopicPartition, Uuid>,
    /// `owned`'s partitions, for `assignment()`.
    pub owned_list: Vec<TopicPartition>,
    /// The broker's latest target assignment.
    target: Option<Target>,
    /// Reconcile at the next tick (a new target, or a revoke done).
    reconcile_due: bool,
    /// The metadata version of a reconciliation that found unknown topic ids.
    unresolved_at: Option<u64>,
    /// The assignment to take once the user thread has revoked.
    revoking: Option<BTreeMap<TopicPartition, Uuid>>,
    revokes_outstanding: u32,
    /// The first reconciliation after joining announces the assignment even if empty.
    announce: bool,
    /// Identifies the heartbeat in flight; answers to older ones are dropped.
    seq: u64,
    in_flight: Option<u64>,
    /// When the next heartbeat is due (`None`: none while one is in flight or not a member).
    next_at: Option<Instant>,
    interval: Duration,
    backoff: Backoff,
    /// A leave to send: (epoch, reason).
    pub pending_leave: Option<(i32, String)>,
    last_poll: Instant,
    fatal: Option<Error>,
    /// A regex went out: a later topic list must clear it.
    pub sent_regex: bool,
    /// Topic ids of the target are missing from the metadata: ask for an update.
    pub wants_metadata: bool,
}

impl ConsumerMember {
    pub fn new(settings: MemberSettings, now: Instant) -> Self {
        ConsumerMember {
            backoff: Backoff::new(settings.retry_backoff, settings.retry_backoff_max),
            settings,
            phase: Phase::Idle,
            member_id: new_member_id(),
            epoch: 0,
            subscription: None,
            owned: BTreeMap::new(),
            owned_list: Vec::new(),
            target: None,
            reconcile_due: false,
            unresolved_at: None,
            revoking: None,
            revokes_outstanding: 0,
            announce: false,
            seq: 0,
            in_flight: None,
            next_at: None,
            interval: INITIAL_INTERVAL,
            pending_leave: None,
            last_poll: now,
            fatal: None,
            sent_regex: false,
            wants_metadata: false,
        }
    }

    pub fn set_subscription(&mut self, subscription: Subscription, now: Instant) {
        let active = matches!(self.phase, Phase::Joining | Phase::Member);
        if active && self.subscription.as_ref() == Some(&subscription) {
            return;
        }
        self.subscription = Some(subscription);
        match self.phase {
            Phase::Idle | Phase::Failed => {
                self.fatal = None;
                self.last_poll = now;
                self.join(now);
            }
            // The broker hears of the change at once.
            Phase::Joining | Phase::Member => self.heartbeat_now(now),
            Phase::PollTimedOut => {}
        }
    }

    /// Stops being a member. The user thread already revoked what it owned; a leave goes
    /// out if the broker may count this member.
    pub fn unsubscribe(&mut self, reason: &str) {
        if matches!(self.phase, Phase::Joining | Phase::Member)
            && (self.epoch > 0 || self.in_flight.is_some())
        {
            let epoch = match self.settings.instance_id {
                Some(_) => STATIC_LEAVE_EPOCH,
                None => LEAVE_EPOCH,
            };
            self.pending_leave = Some((epoch, reason.to_owned()));
        }
        self.set_owned(BTreeMap::new());
        self.subscription = None;
        self.sent_regex = false;
        self.out_of_group(Phase::Idle);
    }

    pub fn revoke_done(&mut self) {
        self.revokes_outstanding = self.revokes_outstanding.saturating_sub(1);
    }

    pub fn on_user_poll(&mut self, now: Instant) {
        self.last_poll = now;
        if self.phase == Phase::PollTimedOut && self.subscription.is_some() {
            self.join(now);
        }
    }

    /// True while the heartbeat loop (or a leave) needs the coordinator.
    pub fn needs_coordinator(&self) -> bool {
        matches!(self.phase, Phase::Joining | Phase::Member) || self.pending_leave.is_some()
    }

    /// Timers and reconciliation. `name_of` resolves topic ids through the metadata of
    /// version `meta_version`.
    pub fn tick(
        &mut self,
        now: Instant,
        name_of: &dyn Fn(&Uuid) -> Option<String>,
        meta_version: u64,
        events: &mut Vec<GroupEvent>,
    ) {
        let in_group = matches!(self.phase, Phase::Joining | Phase::Member);
        if in_group
            && now.saturating_duration_since(self.last_poll) > self.settings.rebalance_timeout
        {
            self.poll_timeout(events);
            return;
        }
        if self.revokes_outstanding > 0 {
            return;
        }
        if let Some(mut assignment) = self.revoking.take() {
            // Partitions the target took back during the revoke are not added after it.
            if let Some(target) = &self.target {
                let owned = &self.owned;
                assignment.retain(|tp, id| {
                    owned.get(tp) == Some(id)
                        || target.get(id).is_some_and(|ps| ps.contains(&tp.partition))
                });
            }
            self.finish(assignment, now, events);
            self.reconcile_due = true; // the target may have moved on meanwhile
        }
        let metadata_moved = self.unresolved_at.is_some_and(|v| v != meta_version);
        if self.phase == Phase::Member && (self.reconcile_due || metadata_moved) {
            self.reconcile_due = false;
            self.reconcile(name_of, meta_version, now, events);
        }
    }

    fn reconcile(
        &mut self,
        name_of: &dyn Fn(&Uuid) -> Option<String>,
        meta_version: u64,
        now: Instant,
        events: &mut Vec<GroupEvent>,
    ) {
        let Some(target) = &self.target else {
            return;
        };
        let plan = reconcile::plan(&self.owned, target, name_of);
        self.unresolved_at = plan.unresolved.then_some(meta_version);
        self.wants_metadata |= plan.unresolved;
        if plan.revoked.is_empty() {
            self.finish(plan.assignment, now, events);
        } else {
            log::info!(
                "group {}: revoking {:?} at epoch {}",
                self.settings.group_id,
                plan.revoked,
                self.epoch
            );
            self.revokes_outstanding += 1;
            self.revoking = Some(plan.assignment);
            events.push(GroupEvent::Revoke(plan.revoked));
        }
    }

    /// Takes `assignment` (nothing left to revoke) and acknowledges it at once.
    fn finish(
        &mut self,
        assignment: BTreeMap<TopicPartition, Uuid>,
        now: Instant,
        events: &mut Vec<GroupEvent>,
    ) {
        if assignment == self.owned && !self.announce {
            return;
        }
        self.announce = false;
        let added: Vec<TopicPartition> = assignment
            .iter()
            .filter(|(tp, id)| self.owned.get(*tp) != Some(*id))
            .map(|(tp, _)| tp.clone())
            .collect();
        self.set_owned(assignment);
        log::info!(
            "group {}: member {} owns {:?} at epoch {}",
            self.settings.group_id,
            self.member_id,
            self.owned_list,
            self.epoch
        );
        events.push(GroupEvent::Assigned {
            added,
            assignment: self.owned_list.clone(),
            generation: self.epoch,
        });
        self.heartbeat_now(now);
    }

    /// The heartbeat to send now, if one is due: its sequence number. The caller builds
    /// it with `heartbeat_request` and reports a failure to send through `on_heartbeat`.
    pub fn heartbeat_due(&mut self, now: Instant) -> Option<u64> {
        let due = matches!(self.phase, Phase::Joining | Phase::Member)
            && self.in_flight.is_none()
            && self.next_at.is_some_and(|t| t <= now);
        if !due {
            return None;
        }
        self.seq += 1;
        self.in_flight = Some(self.seq);
        self.next_at = None;
        Some(self.seq)
    }

    /// Handles the answer to heartbeat `seq`; returns true if the coordinator should be
    /// looked up again.
    pub fn on_heartbeat(
        &mut self,
        seq: u64,
        result: Result<HeartbeatOutcome, Error>,
        now: Instant,
        events: &mut Vec<GroupEvent>,
    ) -> bool {
        if self.in_flight != Some(seq) {
            return false;
        }
        self.in_flight = None;
        let r = match result {
            Ok(r) => r,
            Err(e) => {
                log::debug!("heartbeat of group {} failed: {e}", self.settings.group_id);
                self.retry_later(now);
                return is_transport_error(&e);
            }
        };
        match classify(r.error, r.message.clone(), &self.settings) {
            Verdict::Ok => self.on_success(r, now),
            Verdict::Fenced => self.fence(r.error, now, events),
            Verdict::CoordinatorLost => {
                self.retry_later(now);
                return true;
            }
            Verdict::Retry => self.retry_later(now),
            Verdict::Warn(e) => {
                log::warn!("{e}");
                events.push(GroupEvent::Error(e));
                self.retry_later(now);
            }
            Verdict::Fatal(e) => self.fail(e, events),
        }
        false
    }

    fn on_success(&mut self, r: HeartbeatOutcome, now: Instant) {
        self.backoff.reset();
        if let Some(id) = r.member_id.filter(|id| !id.is_empty()) {
            self.member_id = id;
        }
        if self.phase == Phase::Joining {
            log::info!(
                "joined group {} as member {} at epoch {}",
                self.settings.group_id,
                self.member_id,
                r.member_epoch
            );
            self.phase = Phase::Member;
        }
        self.epoch = r.member_epoch;
        if r.heartbeat_interval_ms > 0 {
            self.interval = Duration::from_millis(r.heartbeat_interval_ms as u64);
        }
        if let Some(target) = r.assignment {
            self.target = Some(target);
            self.reconcile_due = true;
        }
        let next = now + self.interval;
        self.next_at = Some(self.next_at.map_or(next, |t| t.min(next)));
    }

    /// FENCED_MEMBER_EPOCH / UNKNOWN_MEMBER_ID: the broker gave the partitions away; they
    /// are lost (nothing may be committed for them), and the member rejoins at epoch 0.
    fn fence(&mut self, code: ErrorCode, now: Instant, events: &mut Vec<GroupEvent>) {
        log::info!(
            "member {} of group {} was fenced ({code}) at epoch {}; its partitions are lost, rejoining",
            self.member_id,
            self.settings.group_id,
            self.epoch
        );
        self.lose(events);
        self.join(now);
    }

    fn fail(&mut self, error: Error, events: &mut Vec<GroupEvent>) {
        log::error!("consumer group failed: {error}");
        self.lose(events);
        self.out_of_group(Phase::Failed);
        self.fatal = Some(error.clone());
        events.push(GroupEvent::Error(error));
    }

    fn poll_timeout(&mut self, events: &mut Vec<GroupEvent>) {
        let interval = self.settings.rebalance_timeout;
        log::warn!(
            "the consumer was not polled for {interval:?} (max_poll_interval); leaving the group so its partitions can be reassigned"
        );
        if self.epoch > 0 || self.in_flight.is_some() {
            // -1 even for a static member, so its partitions move at once (as Java).
            self.pending_leave = Some((LEAVE_EPOCH, "consumer poll timeout has expired".into()));
        }
        self.lose(events);
        self.out_of_group(Phase::PollTimedOut);
        events.push(GroupEvent::Error(Error::timeout(
            "the next poll within max_poll_interval, so the consumer left the group and its \
             partitions were reassigned; the next poll rejoins. Process records faster, lower \
             max_poll_records, or raise max_poll_interval",
            interval,
        )));
    }

    /// The commit's generation id (the member epoch) and member id; `None` without a
    /// subscription (a plain commit).
    pub fn commit_generation(&self) -> Result<Option<(i32, String)>, Error> {
        match self.phase {
            Phase::Idle => Ok(None),
            Phase::Member => Ok(Some((self.epoch, self.member_id.clone()))),
            Phase::Failed => Err(self.fatal.clone().unwrap_or(Error::Closed)),
            Phase::PollTimedOut => Err(Error::broker(
                ErrorCode::UNKNOWN_MEMBER_ID,
                Some("the consumer left the group after exceeding max_poll_interval; poll to rejoin, then commit again".into()),
            )),
            Phase::Joining => Err(Error::broker(
                ErrorCode::UNKNOWN_MEMBER_ID,
                Some("the consumer is (re)joining the group, so its partitions may be another member's; poll to rejoin, then commit again".into()),
            )),
        }
    }

    /// A commit failed with `code`: a stale epoch is retried by the commit queue; a
    /// heartbeat at once brings the current epoch.
    pub fn on_commit_error(&mut self, code: ErrorCode, now: Instant) {
        if code == ErrorCode::STALE_MEMBER_EPOCH && self.phase == Phase::Member {
            self.heartbeat_now(now);
        }
    }

    pub fn awaits_user_poll(&self) -> bool {
        self.phase == Phase::PollTimedOut
    }

    /// What the member owns, while in the group or reconciling.
    pub fn assignment(&self) -> Option<&[TopicPartition]> {
        (self.phase == Phase::Member || !self.owned.is_empty()).then_some(&self.owned_list)
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        if !matches!(self.phase, Phase::Joining | Phase::Member) {
            return None;
        }
        let poll_due = self.last_poll + self.settings.rebalance_timeout;
        let next = self.next_at.filter(|_| self.in_flight.is_none());
        Some(next.map_or(poll_due, |n| n.min(poll_due)))
    }

    /// True if the next tick has work to do at once.
    pub fn tick_pending(&self) -> bool {
        (self.revoking.is_some() && self.revokes_outstanding == 0) || self.reconcile_due
    }

    fn heartbeat_now(&mut self, now: Instant) {
        self.next_at = Some(now);
    }

    fn retry_later(&mut self, now: Instant) {
        self.next_at = Some(now + self.backoff.fail());
    }

    fn join(&mut self, now: Instant) {
        self.phase = Phase::Joining;
        self.epoch = 0;
        self.target = None;
        self.revoking = None;
        self.reconcile_due = false;
        self.unresolved_at = None;
        self.announce = true;
        self.in_flight = None;
        self.next_at = Some(now);
    }

    fn lose(&mut self, events: &mut Vec<GroupEvent>) {
        if !self.owned.is_empty() {
            events.push(GroupEvent::Lost(self.owned_list.clone()));
            self.set_owned(BTreeMap::new());
        }
    }

    fn out_of_group(&mut self, phase: Phase) {
        self.phase = phase;
        self.epoch = 0;
        self.target = None;
        self.revoking = None;
        self.reconcile_due = false;
        self.unresolved_at = None;
        self.in_flight = None;
        self.next_at = None;
    }

    fn set_owned(&mut self, owned: BTreeMap<TopicPartition, Uuid>) {
        self.owned_list = owned.keys().cloned().collect();
        self.owned = owned;
    }
}

/// A random member id, as the Java client's `Uuid.randomUuid()` (KIP-1082: the client
/// names itself, so a lost join answer cannot leave a second member behind).
fn new_member_id() -> String {
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    Uuid(bytes).to_string()
}
