//! The member's side of the classic group protocol: when to (re)join, the revoke before a
//! join, JoinGroup → (leader: assign) → SyncGroup → stable, heartbeats, and losing the
//! membership.
//!
//! These files decide; they send nothing. `outgoing.rs` says what should go to the
//! coordinator next and `responses.rs` takes the decoded answers, so the whole machine
//! runs in tests without a broker.

use std::collections::BTreeSet;
use std::time::Instant;

use bytes::Bytes;

use crate::error::Error;
use crate::net::backoff::Backoff;
use crate::net::metadata::ClusterMetadata;
use crate::TopicPartition;

use crate::consumer::assignor::MemberSubscription;

use super::assignment::{self, TopicCounts};
use super::timers::Timers;
use super::{GroupEvent, Settings};

/// The generation this member belongs to, as the coordinator named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Generation {
    pub id: i32,
    pub member_id: String,
    pub protocol: Option<String>,
}

impl Generation {
    pub fn none() -> Self {
        Generation {
            id: -1,
            member_id: String::new(),
            protocol: None,
        }
    }

    pub fn is_valid(&self) -> bool {
        self.id >= 0 && !self.member_id.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Not subscribed: not a member (manual assignment or nothing yet).
    Idle,
    /// Join as soon as the coordinator is ready and the backoff has passed.
    NeedJoin,
    /// Revoke events are with the user thread; JoinGroup waits for them.
    AwaitRevoke,
    /// JoinGroup in flight.
    Joining,
    /// Leader: computing the assignment (maybe waiting for metadata first).
    Assign,
    /// SyncGroup ready to go.
    SyncPending,
    /// SyncGroup in flight.
    Syncing,
    /// A member of a stable generation.
    Stable,
    /// Left the group because the user thread stopped polling; the next poll rejoins.
    PollTimedOut,
    /// A fatal group error; a new subscription starts over.
    Failed,
}

/// What should go to the coordinator next.
#[derive(Debug, PartialEq)]
pub(super) enum MemberRequest {
    Join {
        protocols: Vec<(String, Bytes)>,
        reason: Option<String>,
    },
    Sync {
        assignments: Vec<(String, Bytes)>,
    },
    Heartbeat,
}

/// The metadata the leader assigns from.
pub(super) struct MetaView<'a> {
    pub cluster: &'a ClusterMetadata,
    /// Bumped by every metadata update.
    pub version: u64,
}

pub(super) struct Membership {
    pub phase: Phase,
    pub generation: Generation,
    /// Bumped whenever the generation changes, so answers to older requests are recognised.
    pub epoch: u64,
    /// Identifies the JoinGroup/SyncGroup in flight; answers to older ones are dropped.
    pub seq: u64,
    /// Partitions this member owns now.
    pub owned: Vec<TopicPartition>,
    pub subscription: BTreeSet<String>,
    /// The subscription the JoinGroup in flight (or the current generation) was sent with.
    pub joined_subscription: BTreeSet<String>,
    /// A rejoin was asked for while stable; the reason goes into the JoinGroup.
    pub rejoin_reason: Option<String>,
    /// Revoke events not yet acknowledged by `revoke_done`.
    pub revokes_outstanding: u32,
    /// Cooperative: partitions were revoked after SyncGroup; rejoin once the user is done.
    pub rejoin_after_revoke: bool,
    pub join_not_before: Option<Instant>,
    pub join_backoff: Backoff,
    pub is_leader: bool,
    /// Leader: the members' subscriptions from JoinGroup, until assigned.
    pub leader_members: Vec<MemberSubscription>,
    /// Leader: waiting for metadata newer than this version, since this time.
    pub metadata_wait: Option<(u64, Instant)>,
    /// Leader: the partition counts the current assignment was computed from.
    pub leader_snapshot: Option<TopicCounts>,
    /// Leader: the metadata version `leader_snapshot` was last compared with.
    pub snapshot_checked: u64,
    pub sync_assignments: Vec<(String, Bytes)>,
    pub timers: Timers,
    pub fatal_error: Option<Error>,
    /// Topics the leader needs metadata for; the caller hands them to the metadata schedule.
    pub wanted_topics: Vec<String>,
    /// A LeaveGroup to send (member id, reason); dropped if the coordinator is unknown.
    pub pending_leave: Option<(String, String)>,
}

impl Membership {
    pub fn new(settings: &Settings, now: Instant) -> Self {
        Membership {
            phase: Phase::Idle,
            generation: Generation::none(),
            epoch: 0,
            seq: 0,
            owned: Vec::new(),
            subscription: BTreeSet::new(),
            joined_subscription: BTreeSet::new(),
            rejoin_reason: None,
            revokes_outstanding: 0,
            rejoin_after_revoke: false,
            join_not_before: None,
            join_backoff: Backoff::new(settings.retry_backoff, settings.retry_backoff_max),
            is_leader: false,
            leader_members: Vec::new(),
            metadata_wait: None,
            leader_snapshot: None,
            snapshot_checked: 0,
            sync_assignments: Vec::new(),
            timers: Timers::new(
                settings.session_timeout,
                settings.heartbeat_interval,
                settings.rebalance_timeout,
                settings.retry_backoff,
                now,
            ),
            fatal_error: None,
            wanted_topics: Vec::new(),
            pending_leave: None,
        }
    }

    pub fn is_stable(&self) -> bool {
        self.phase == Phase::Stable
    }

    /// True while a JoinGroup or SyncGroup is parked at the coordinator.
    pub fn rebalance_in_flight(&self) -> bool {
        matches!(self.phase, Phase::Joining | Phase::Syncing)
    }

    /// True while the member heartbeats: it has a generation and no JoinGroup/SyncGroup is
    /// in flight (a heartbeat would only queue behind it).
    pub fn heartbeating(&self) -> bool {
        matches!(
            self.phase,
            Phase::Stable | Phase::AwaitRevoke | Phase::Assign | Phase::SyncPending
        ) && self.generation.is_valid()
    }

    pub fn set_subscription(&mut self, topics: BTreeSet<String>) {
        let active = !matches!(self.phase, Phase::Idle | Phase::Failed);
        if active && topics == self.subscription {
            return;
        }
        self.subscription = topics;
        match self.phase {
            Phase::Idle | Phase::Failed => {
                self.fatal_error = None;
                self.phase = Phase::NeedJoin;
                self.join_not_before = None;
            }
            Phase::Stable => self.request_rejoin("subscription changed"),
            // A join in progress carries the old subscription; `complete_join` notices.
            _ => {}
        }
    }

    /// Stops being a member. The user thread already ran `on_partitions_revoked` for what
    /// it owned, so no event is emitted; a LeaveGroup is queued for dynamic members.
    /// Returns true if a JoinGroup was in flight (its connection should be cut, or the
    /// LeaveGroup would wait behind it).
    pub fn unsubscribe(&mut self, settings: &Settings, reason: &str) -> bool {
        if self.phase == Phase::Idle {
            return false;
        }
        let join_in_flight = self.phase == Phase::Joining;
        if settings.group_instance_id.is_none()
            && !self.generation.member_id.is_empty()
            && !matches!(self.phase, Phase::PollTimedOut | Phase::Failed)
        {
            self.pending_leave = Some((self.generation.member_id.clone(), reason.to_owned()));
        }
        self.owned.clear();
        self.subscription.clear();
        self.reset_generation(true);
        self.rejoin_after_revoke = false;
        self.rejoin_reason = None;
        self.phase = Phase::Idle;
        join_in_flight
    }

    pub fn revoke_done(&mut self) {
        self.revokes_outstanding = self.revokes_outstanding.saturating_sub(1);
        if self.revokes_outstanding == 0 {
            if self.phase == Phase::AwaitRevoke {
                self.phase = Phase::NeedJoin;
            }
            if std::mem::take(&mut self.rejoin_after_revoke) && self.phase == Phase::Stable {
                self.request_rejoin("partitions were revoked by the new assignment");
            }
        }
    }

    pub fn on_user_poll(&mut self, now: Instant) {
        self.timers.on_user_poll(now);
        if self.phase == Phase::PollTimedOut {
            self.phase = Phase::NeedJoin;
            self.join_not_before = None;
        }
    }

    /// Asks for a rejoin (taken up by the next `tick` while stable).
    pub fn request_rejoin(&mut self, reason: &str) {
        if self.rejoin_reason.is_none() {
            log::info!("consumer group rejoin requested: {reason}");
            self.rejoin_reason = Some(reason.to_owned());
        }
    }

    /// Timers and decisions that do not wait for an answer: poll timeout, session expiry,
    /// leader metadata changes, starting a rejoin. Returns true if the coordinator should
    /// be considered lost (the session ran out without a heartbeat getting through).
    pub fn tick(
        &mut self,
        now: Instant,
        settings: &Settings,
        meta: &MetaView<'_>,
        events: &mut Vec<GroupEvent>,
    ) -> bool {
        let in_group = matches!(
            self.phase,
            Phase::Stable
                | Phase::AwaitRevoke
                | Phase::Assign
                | Phase::SyncPending
                | Phase::Syncing
        );
        if in_group && self.generation.is_valid() && self.timers.poll_expired(now) {
            self.poll_timeout(settings, events);
            return false;
        }
        let mut coordinator_lost = false;
        if self.heartbeating() && self.timers.session_expired(now) {
            log::warn!(
                "no successful heartbeat to the group coordinator for {:?} (session_timeout); the membership is lost",
                settings.session_timeout
            );
            // The member id is kept: a coordinator that restarted meanwhile still counts
            // this member, and a rejoin under a new id would wait a whole session
            // timeout for the old one.
            self.lose(false, events);
            coordinator_lost = true;
        }
        if self.phase == Phase::Stable {
            if self.joined_subscription != self.subscription {
                self.request_rejoin("subscription changed");
            }
            if self.is_leader && meta.version != self.snapshot_checked {
                self.snapshot_checked = meta.version;
                if let Some(snapshot) = &self.leader_snapshot {
                    if assignment::counts_changed(snapshot, meta.cluster) {
                        self.request_rejoin("partition counts of subscribed topics changed");
                    }
                }
            }
            if self.rejoin_reason.is_some() && self.revokes_outstanding == 0 {
                self.prepare_join(settings, events);
            }
        }
        if self.phase == Phase::AwaitRevoke && self.revokes_outstanding == 0 {
            self.phase = Phase::NeedJoin;
        }
        coordinator_lost
    }

    /// Before a rejoin from a stable generation: eager protocols revoke everything,
    /// cooperative only the partitions of topics no longer subscribed.
    fn prepare_join(&mut self, settings: &Settings, events: &mut Vec<GroupEvent>) {
        let revoked: Vec<TopicPartition> = if settings.cooperative {
            self.owned
                .iter()
                .filter(|tp| !self.subscription.contains(&tp.topic))
                .cloned()
                .collect()
        } else {
            self.owned.clone()
        };
        self.is_leader = false;
        self.leader_snapshot = None;
        if revoked.is_empty() {
            self.phase = Phase::NeedJoin;
        } else {
            self.owned.retain(|tp| !revoked.contains(tp));
            self.revokes_outstanding += 1;
            events.push(GroupEvent::Revoke(revoked));
            self.phase = Phase::AwaitRevoke;
        }
    }

    /// The member is out of the group: its partitions are lost, the generation is reset
    /// (and the member id too when `reset_member_id`), and it rejoins.
    pub fn lose(&mut self, reset_member_id: bool, events: &mut Vec<GroupEvent>) {
        if !self.owned.is_empty() {
            events.push(GroupEvent::Lost(std::mem::take(&mut self.owned)));
        }
        self.reset_generation(reset_member_id);
        self.rejoin_after_revoke = false;
        if !matches!(
            self.phase,
            Phase::Idle | Phase::Failed | Phase::PollTimedOut
        ) {
            self.phase = Phase::NeedJoin;
            self.join_not_before = None;
        }
    }

    fn poll_timeout(&mut self, settings: &Settings, events: &mut Vec<GroupEvent>) {
        let interval = settings.rebalance_timeout;
        log::warn!(
            "the consumer was not polled for {interval:?} (max_poll_interval); leaving the group so its partitions can be reassigned"
        );
        if settings.group_instance_id.is_none() {
            self.pending_leave = Some((
                self.generation.member_id.clone(),
                "consumer poll timeout has expired".into(),
            ));
        }
        self.lose(true, events);
        self.phase = Phase::PollTimedOut;
        events.push(GroupEvent::Error(Error::timeout(
            "the next poll within max_poll_interval, so the consumer left the group and its \
             partitions were reassigned; the next poll rejoins. Process records faster, lower \
             max_poll_records, or raise max_poll_interval",
            interval,
        )));
    }

    /// A fatal error: out of the group, told to the user, and no rejoin until a new
    /// subscription.
    pub fn fail(&mut self, error: Error, events: &mut Vec<GroupEvent>) {
        log::error!("consumer group failed: {error}");
        self.lose(true, events);
        self.phase = Phase::Failed;
        self.fatal_error = Some(error.clone());
        events.push(GroupEvent::Error(error));
    }

    /// A non-fatal error the user should hear about; the join is retried after a backoff.
    pub fn retry_join_with_error(
        &mut self,
        error: Error,
        now: Instant,
        events: &mut Vec<GroupEvent>,
    ) {
        log::warn!("joining the consumer group failed: {error}");
        events.push(GroupEvent::Error(error));
        self.retry_join(now);
    }

    /// Back to NeedJoin after the (growing) retry backoff.
    pub fn retry_join(&mut self, now: Instant) {
        self.phase = Phase::NeedJoin;
        self.join_not_before = Some(now + self.join_backoff.fail());
    }

    /// Back to NeedJoin at once (MEMBER_ID_REQUIRED, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS on sync).
    pub fn rejoin_now(&mut self) {
        self.phase = Phase::NeedJoin;
        self.join_not_before = None;
    }

    pub fn reset_generation(&mut self, reset_member_id: bool) {
        let member_id = if reset_member_id {
            String::new()
        } else {
            std::mem::take(&mut self.generation.member_id)
        };
        self.generation = Generation {
            id: -1,
            member_id,
            protocol: None,
        };
        self.epoch += 1;
        self.seq += 1;
        self.is_leader = false;
        self.leader_snapshot = None;
        self.leader_members.clear();
        self.metadata_wait = None;
        self.timers.forget_heartbeat();
    }
}
