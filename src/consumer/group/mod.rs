//! The classic consumer-group protocol, run on the consumer's I/O thread: finding the
//! coordinator, JoinGroup/SyncGroup, heartbeats, LeaveGroup, offset commits and
//! committed-offset lookups.
//!
//! ```text
//!  Idle ──subscribe──▶ NeedJoin ──JoinGroup──▶ Joining ──leader──▶ Assign ──▶ SyncPending
//!                        ▲  ▲                     │follower                       │
//!                        │  └── AwaitRevoke ◀──┐  └──────────────▶ SyncPending ──SyncGroup──▶ Syncing
//!                        │      (eager revoke) │                                               │
//!                        └──── lost ◀──────── Stable ◀─────────────────────────────────────────┘
//! ```
//!
//! Nothing here blocks or sleeps: [`GroupCoordinator::poll`] does what is due and returns
//! when it next needs to run, and answers come back through
//! [`GroupCoordinator::on_response`]. The decisions live in `membership.rs`,
//! `responses.rs` and `commits.rs`, apart from the sending, so they are unit-tested
//! without a broker.

mod assignment;
mod commits;
mod consumer_protocol;
mod coordinator_lookup;
mod membership;
mod outgoing;
mod responses;
mod run;
mod timers;
mod wire;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::config::ConsumerConfig;
use crate::consumer::assignor::{self as assignors, Assignor};
use crate::consumer::record::OffsetAndMetadata;
use crate::error::Error;
use crate::TopicPartition;

use commits::{CommitReply, Commits};
use coordinator_lookup::CoordinatorLookup;
use membership::{Membership, Phase};

/// The protocol type of consumer groups.
pub(super) const PROTOCOL_TYPE: &str = "consumer";

/// Slack on top of the rebalance timeout for a JoinGroup's request timeout (as Java).
const JOIN_GROUP_TIMEOUT_LAPSE: Duration = Duration::from_secs(5);

/// What a group request in flight is; the consumer driver wraps it as `ConsumerCtx::Group`.
#[derive(Debug)]
pub(crate) enum GroupCtx {
    FindCoordinator {
        seq: u64,
    },
    Join {
        seq: u64,
    },
    Sync {
        seq: u64,
    },
    /// Sent under generation epoch `epoch`.
    Heartbeat {
        epoch: u64,
    },
    /// `closing`: the LeaveGroup that `poll_close` waits for.
    Leave {
        closing: bool,
    },
    Commit {
        key: u64,
        epoch: u64,
    },
    FetchOffsets {
        key: u64,
    },
    /// A KIP-848 ConsumerGroupHeartbeat: heartbeat `seq`, or a leave (`closing`: the one
    /// `poll_close` waits for).
    ConsumerHeartbeat {
        seq: u64,
        leave: bool,
        closing: bool,
    },
}

/// Events for the consumer driver, which forwards the rebalance ones to the user thread.
#[derive(Debug)]
pub(crate) enum GroupEvent {
    /// The user thread must run `on_partitions_revoked` for these, then the driver calls
    /// [`GroupCoordinator::revoke_done`]. Eager protocols: everything owned, before
    /// rejoining. Cooperative: only the partitions moving away, after SyncGroup (and the
    /// member rejoins once the revoke is done).
    Revoke(Vec<TopicPartition>),
    /// After SyncGroup: the newly added partitions (cooperative: only the new ones; eager:
    /// the whole assignment) and the whole assignment.
    Assigned {
        added: Vec<TopicPartition>,
        assignment: Vec<TopicPartition>,
        /// The generation the assignment belongs to (for logs).
        #[allow(dead_code)]
        generation: i32,
    },
    /// The membership was lost (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, session expiry,
    /// max_poll_interval exceeded): `on_partitions_lost` for these.
    Lost(Vec<TopicPartition>),
    /// Committed offsets fetched for `fetch_committed(id, ..)`.
    Committed {
        id: u64,
        result: Result<HashMap<TopicPartition, Option<OffsetAndMetadata>>, Error>,
    },
    /// A group error for the user (GROUP_AUTHORIZATION_FAILED, FENCED_INSTANCE_ID,
    /// INCONSISTENT_GROUP_PROTOCOL, max_poll_interval exceeded, ...).
    Error(Error),
}

/// The group settings taken from the consumer config.
pub(super) struct Settings {
    pub group_id: String,
    pub group_instance_id: Option<String>,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    /// `max_poll_interval`: how long the coordinator waits for members to rejoin.
    pub rebalance_timeout: Duration,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    pub request_timeout: Duration,
    pub client_rack: Option<String>,
    /// In preference order.
    pub assignors: Vec<Box<dyn Assignor>>,
    /// Cooperative rebalancing: every configured assignor supports it (as the Java client
    /// decides; a mixed list such as `[cooperative-sticky, range]` rebalances eagerly, the
    /// first step of KIP-429's upgrade path).
    pub cooperative: bool,
}

/// Where closing stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// Waiting to send the LeaveGroup (coordinator connecting).
    LeavePending,
    LeaveInFlight,
    Done,
}

pub(crate) struct GroupCoordinator {
    settings: Settings,
    lookup: CoordinatorLookup,
    member: Membership,
    commits: Commits,
    close: Option<Close>,
    /// A JoinGroup in flight must be cut off (unsubscribe) before the LeaveGroup goes out.
    cut_coordinator: bool,
    /// Events raised outside `poll`/`on_response`, handed out by the next `poll`.
    early_events: Vec<GroupEvent>,
    /// `group_protocol = consumer`: the KIP-848 membership, in place of `member`.
    cp: Option<consumer_protocol::ConsumerMember>,
}

impl GroupCoordinator {
    /// Errors if there is no group id or an assignor name is unknown.
    pub fn new(config: &ConsumerConfig) -> Result<Self, Error> {
        let now = Instant::now();
        let mut group = Self::with_settings(settings_from(config)?, now)?;
        if config.group_protocol == crate::config::GroupProtocol::Consumer {
            let s = &group.settings;
            let settings = consumer_protocol::MemberSettings {
                group_id: s.group_id.clone(),
                instance_id: s.group_instance_id.clone(),
                rack: s.client_rack.clone(),
                rebalance_timeout: s.rebalance_timeout,
                remote_assignor: config.group_remote_assignor.clone(),
                retry_backoff: s.retry_backoff,
                retry_backoff_max: s.retry_backoff_max,
            };
            group.cp = Some(consumer_protocol::ConsumerMember::new(settings, now));
        }
        Ok(group)
    }

    fn with_settings(settings: Settings, now: Instant) -> Result<Self, Error> {
        Ok(GroupCoordinator {
            lookup: CoordinatorLookup::new(settings.retry_backoff, settings.retry_backoff_max),
            member: Membership::new(&settings, now),
            commits: Commits::new(settings.retry_backoff, settings.retry_backoff_max)
                .for_group(&settings.group_id),
            settings,
            close: None,
            cut_coordinator: false,
            early_events: Vec::new(),
            cp: None,
        })
    }

    /// Topics this member subscribes to (the driver resolves patterns against metadata).
    /// A change triggers a rejoin.
    pub fn set_subscription(&mut self, topics: BTreeSet<String>) {
        if let Some(m) = self.cp.as_mut().filter(|_| self.close.is_none()) {
            match topics.is_empty() {
                true => m.unsubscribe("the consumer subscribed to nothing"),
                false => m.set_subscription(
                    consumer_protocol::Subscription::Topics(topics),
                    Instant::now(),
                ),
            }
        } else if self.close.is_none() {
            self.member.set_subscription(topics);
        }
    }

    /// Stops being a member: the user thread has already revoked what it owned; a
    /// LeaveGroup goes out (dynamic members).
    pub fn unsubscribe(&mut self) {
        if let Some(m) = self.cp.as_mut() {
            m.unsubscribe("the consumer unsubscribed");
        } else if self
            .member
            .unsubscribe(&self.settings, "the consumer unsubscribed")
        {
            self.cut_coordinator = true;
        }
    }

    /// The user thread finished `on_partitions_revoked`.
    pub fn revoke_done(&mut self) {
        if let Some(m) = self.cp.as_mut() {
            m.revoke_done();
        }
        self.member.revoke_done();
    }

    /// True after `max_poll_interval` ran out: only the user's next poll brings the
    /// member back, and nothing else on the network will wake the I/O thread for it.
    pub fn awaits_user_poll(&self) -> bool {
        self.cp.as_ref().is_some_and(|m| m.awaits_user_poll())
            || self.member.phase == Phase::PollTimedOut
    }

    /// The user thread polled (resets the max_poll_interval clock).
    pub fn on_user_poll(&mut self, now: Instant) {
        if self.close.is_none() {
            match self.cp.as_mut() {
                Some(m) => m.on_user_poll(now),
                None => self.member.on_user_poll(now),
            }
        }
    }

    /// Commits offsets for the current generation. `reply` gets `Ok(())` or the error:
    /// REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID as `Error::Broker`
    /// when the group moved on (Java's CommitFailedException); retriable coordinator errors
    /// are retried until the deadline.
    pub fn commit(
        &mut self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        deadline: Instant,
        reply: Box<dyn FnOnce(Result<(), Error>) + Send>,
    ) {
        let reply: CommitReply = reply;
        self.commits
            .add_commit(offsets, deadline, reply, Instant::now());
    }

    /// Fetches committed offsets, answered with [`GroupEvent::Committed`] on a later
    /// `poll`/`on_response`. Works without a subscription too.
    pub fn fetch_committed(&mut self, id: u64, partitions: Vec<TopicPartition>, deadline: Instant) {
        let mut events = Vec::new();
        self.commits
            .add_fetch(id, partitions, deadline, Instant::now(), &mut events);
        self.early_events.extend(events);
    }

    /// The current assignment: what this member owns (while stable, or kept through a
    /// cooperative rebalance).
    pub fn assignment(&self) -> Option<&[TopicPartition]> {
        if let Some(m) = &self.cp {
            return m.assignment();
        }
        (self.member.is_stable() || !self.member.owned.is_empty())
            .then_some(self.member.owned.as_slice())
    }

    /// With `group_protocol = consumer`, subscribes to the topics matching `pattern` as the
    /// broker resolves it (KIP-848's RE2/J subscription) and returns true; false with the
    /// classic protocol, where the consumer resolves patterns against its metadata.
    pub fn subscribe_regex(&mut self, pattern: &str) -> bool {
        let Some(m) = self.cp.as_mut().filter(|_| self.close.is_none()) else {
            return false;
        };
        let pattern = consumer_protocol::unanchored(pattern).to_owned();
        m.set_subscription(
            consumer_protocol::Subscription::Regex(pattern),
            Instant::now(),
        );
        true
    }

    /// True if the broker resolves pattern subscriptions (`group_protocol = consumer`).
    pub fn resolves_patterns(&self) -> bool {
        self.cp.is_some()
    }

    /// True while the member belongs to a stable generation.
    #[allow(dead_code)] // for logs and tests; the driver asks for `assignment` instead
    pub fn is_stable(&self) -> bool {
        match &self.cp {
            Some(_) => self.generation() > 0,
            None => self.member.is_stable(),
        }
    }

    /// True from when the member needs to (re)join until it is in a stable generation
    /// again: the span the `rebalance-*` metrics measure.
    pub fn in_rebalance(&self) -> bool {
        !matches!(
            self.member.phase,
            membership::Phase::Idle | membership::Phase::Stable
        )
    }

    /// The member id the coordinator gave this member ("" before the first join).
    #[allow(dead_code)] // for logs and tests
    pub fn member_id(&self) -> &str {
        match &self.cp {
            Some(m) => &m.member_id,
            None => &self.member.generation.member_id,
        }
    }

    /// The current generation, -1 when not a member.
    #[allow(dead_code)] // for logs and tests
    pub fn generation(&self) -> i32 {
        match &self.cp {
            // The member epoch plays the generation's part (commits carry it).
            Some(m) => m
                .commit_generation()
                .ok()
                .flatten()
                .map_or(-1, |(epoch, _)| epoch),
            None => self.member.generation.id,
        }
    }
}

/// The group settings of a consumer config.
fn settings_from(config: &ConsumerConfig) -> Result<Settings, Error> {
    let group_id = config
        .group_id
        .clone()
        .ok_or_else(|| Error::IllegalState("consumer group management needs a group_id".into()))?;
    let mut assignors = Vec::new();
    for strategy in &config.partition_assignment_strategy {
        let assignor = assignors::assignor_for(strategy.name()).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "unknown partition_assignment_strategy {:?}",
                strategy.name()
            ))
        })?;
        assignors.push(assignor);
    }
    if assignors.is_empty() {
        return Err(Error::InvalidArgument(
            "partition_assignment_strategy lists no assignor; name at least one of range, roundrobin, sticky, \
             cooperative-sticky"
                .into(),
        ));
    }
    Ok(Settings {
        group_id,
        group_instance_id: config.group_instance_id.clone(),
        session_timeout: config.session_timeout,
        heartbeat_interval: config.heartbeat_interval,
        rebalance_timeout: config.max_poll_interval,
        retry_backoff: config.client.retry_backoff,
        retry_backoff_max: config.client.retry_backoff_max,
        request_timeout: config.client.request_timeout,
        client_rack: config.client.client_rack.clone(),
        cooperative: assignment::is_cooperative(&assignors),
        assignors,
    })
}
