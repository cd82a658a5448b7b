//! The consumer's half of the I/O thread: routes user commands to the fetcher and the
//! group coordinator, and forwards group events to the user thread.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use regex::Regex;

use crate::config::ConsumerConfig;
use crate::error::{Error, Result};
use crate::net::io_thread::Driver;
use crate::net::network::{Network, Response};
use crate::net::rpc::{RpcCall, RpcId, RpcQueue};
use crate::TopicPartition;

use super::buffer::{FetchBuffer, Seq};
use super::fetcher::{FetchCtx, Fetcher};
use super::group::{GroupCoordinator, GroupCtx, GroupEvent};
use super::metrics::ConsumerStats;
use super::offsets::OffsetSpec;
use super::record::OffsetAndMetadata;

/// Committed offsets per partition (`None`: nothing committed).
pub(crate) type Committed = HashMap<TopicPartition, Option<OffsetAndMetadata>>;

/// Commands from the consumer handle.
pub(crate) enum ConsumerCommand {
    Subscribe(BTreeSet<String>),
    SubscribePattern(Regex),
    Unsubscribe,
    Assign(Vec<TopicPartition>),
    /// `seen`: the last group event the user thread had applied.
    Seek {
        tp: TopicPartition,
        offset: i64,
        epoch: u64,
        seen: Seq,
    },
    Reset {
        tp: TopicPartition,
        spec: OffsetSpec,
        epoch: u64,
        seen: Seq,
    },
    Pause {
        partitions: Vec<TopicPartition>,
        paused: bool,
    },
    RevokeDone,
    Commit {
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        deadline: Instant,
        reply: SyncSender<Result<()>>,
    },
    Committed {
        partitions: Vec<TopicPartition>,
        deadline: Instant,
        reply: SyncSender<Result<Committed>>,
    },
    WaitForTopics {
        topics: Vec<String>,
        deadline: Instant,
        reply: SyncSender<Result<()>>,
    },
    Rpc(RpcCall),
    /// The member's generation and member id, for `group_metadata`.
    GroupMetadata(SyncSender<Result<(i32, String)>>),
}

pub(crate) enum ConsumerCtx {
    Fetch(FetchCtx),
    Group(GroupCtx),
    Rpc(RpcId),
}

impl From<FetchCtx> for ConsumerCtx {
    fn from(c: FetchCtx) -> Self {
        ConsumerCtx::Fetch(c)
    }
}
impl From<GroupCtx> for ConsumerCtx {
    fn from(c: GroupCtx) -> Self {
        ConsumerCtx::Group(c)
    }
}
impl From<RpcId> for ConsumerCtx {
    fn from(c: RpcId) -> Self {
        ConsumerCtx::Rpc(c)
    }
}

/// How the user thread tells the I/O thread it is polling (for `max_poll_interval`).
#[derive(Debug, Default)]
pub(crate) struct PollClock {
    /// True while the user thread is inside `poll`/`next`.
    pub in_poll: AtomicBool,
    /// Bumped on entering and leaving every poll.
    pub polls: AtomicU64,
    /// Set by the I/O thread when it waits for the next poll to rejoin the group (after
    /// `max_poll_interval` ran out): the poll must wake it, as nothing else will.
    pub wake_on_poll: AtomicBool,
}

impl PollClock {
    /// Bumps `polls`. Only the polling thread calls it, so a plain load and store suffice.
    pub fn count_poll(&self) {
        let n = self.polls.load(Ordering::Relaxed);
        self.polls.store(n.wrapping_add(1), Ordering::Relaxed);
    }
}

enum Subscription {
    None,
    Topics(BTreeSet<String>),
    Pattern(Regex, BTreeSet<String>),
    Assigned,
}

struct TopicWaiter {
    topics: Vec<String>,
    /// When the wait began, for the time a timeout error reports.
    since: Instant,
    deadline: Instant,
    reply: SyncSender<Result<()>>,
}

pub(crate) struct ConsumerDriver {
    config: Arc<ConsumerConfig>,
    fetcher: Fetcher,
    group: Option<GroupCoordinator>,
    subscription: Subscription,
    buffer: Arc<FetchBuffer>,
    clock: Arc<PollClock>,
    stats: Arc<ConsumerStats>,
    seen_polls: u64,
    rpcs: RpcQueue,
    next_id: u64,
    /// Committed-offset lookups: the user's (`Some` reply) or the fetcher's own.
    committed_waiters: HashMap<u64, Option<SyncSender<Result<Committed>>>>,
    committed_retry_at: Option<Instant>,
    topic_waiters: Vec<TopicWaiter>,
    events: Vec<GroupEvent>,
    /// Since when the consumer has needed a broker and none was ready (see
    /// [`Self::report_unreachable`]).
    unreachable_since: Option<Instant>,
    /// `reset_offset_on_start` still to apply: pykafka resets where the consumer starts,
    /// its first assignment; later rebalances resume from the committed offsets.
    reset_on_start: bool,
    /// Subscribed topics whose refusal (TOPIC_AUTHORIZATION_FAILED) the user was told of.
    denied_reported: BTreeSet<String>,
    /// The last revoke or loss of each partition: a seek made before the user thread
    /// saw it was meant for the assignment that ended, and must not move the next one.
    taken_away: HashMap<TopicPartition, Seq>,
}

impl ConsumerDriver {
    pub fn new(
        config: Arc<ConsumerConfig>,
        buffer: Arc<FetchBuffer>,
        clock: Arc<PollClock>,
        stats: Arc<ConsumerStats>,
    ) -> Result<Self> {
        let group = match &config.group_id {
            Some(_) => Some(GroupCoordinator::new(&config)?),
            None => None,
        };
        Ok(ConsumerDriver {
            fetcher: Fetcher::new(config.clone(), buffer.clone()),
            config: config.clone(),
            group,
            subscription: Subscription::None,
            buffer,
            clock,
            stats,
            seen_polls: 0,
            rpcs: RpcQueue::default(),
            next_id: 0,
            committed_waiters: HashMap::new(),
            committed_retry_at: None,
            topic_waiters: Vec::new(),
            events: Vec::new(),
            unreachable_since: None,
            denied_reported: BTreeSet::new(),
            taken_away: HashMap::new(),
            reset_on_start: config.reset_offset_on_start,
        })
    }

    fn use_committed(&self) -> bool {
        self.group.is_some() && !self.reset_on_start
    }

    /// Gives the fetcher a new assignment; returns the partitions whose committed
    /// offsets it needs. The first non-empty one uses up `reset_offset_on_start`.
    fn assign_fetcher(&mut self, assignment: &[TopicPartition]) -> Vec<TopicPartition> {
        let need = self
            .fetcher
            .set_assignment(assignment, self.use_committed());
        if !assignment.is_empty() {
            self.reset_on_start = false;
        }
        need
    }

    /// True unless `tp` was revoked or lost after the group event `seen` (the one the
    /// user thread had applied when it seeked).
    fn still_owned_as_seen(&self, tp: &TopicPartition, seen: Seq) -> bool {
        self.taken_away.get(tp).is_none_or(|taken| *taken <= seen)
    }

    /// Starts the fetcher's lookup of committed offsets for `partitions`.
    fn request_committed(&mut self, partitions: Vec<TopicPartition>, now: Instant) {
        if partitions.is_empty() {
            return;
        }
        let Some(group) = self.group.as_mut() else {
            return;
        };
        let id = self.next_id;
        self.next_id += 1;
        self.committed_waiters.insert(id, None);
        group.fetch_committed(id, partitions, now + self.config.default_api_timeout);
    }

    fn handle_events(&mut self, now: Instant) {
        for event in std::mem::take(&mut self.events) {
            match event {
                GroupEvent::Assigned { ref assignment, .. } => {
                    let need = self.assign_fetcher(assignment);
                    self.buffer.push_event(event);
                    self.request_committed(need, now);
                }
                GroupEvent::Revoke(ref revoked) | GroupEvent::Lost(ref revoked) => {
                    let taken: Vec<TopicPartition> = revoked.clone();
                    let keep: Vec<TopicPartition> = self
                        .group
                        .as_ref()
                        .and_then(|g| g.assignment())
                        .unwrap_or(&[])
                        .iter()
                        .filter(|tp| !revoked.contains(tp))
                        .cloned()
                        .collect();
                    self.assign_fetcher(&keep);
                    let seq = self.buffer.push_event(event);
                    for tp in taken {
                        self.taken_away.insert(tp, seq);
                    }
                }
                GroupEvent::Committed { id, result } => match self.committed_waiters.remove(&id) {
                    Some(Some(reply)) => {
                        let _ = reply.send(result);
                    }
                    Some(None) => match result {
                        Ok(map) => self.fetcher.on_committed(
                            map.into_iter()
                                .map(|(tp, om)| (tp, om.map(|o| o.offset)))
                                .collect(),
                        ),
                        Err(e) => {
                            log::warn!("fetching committed offsets failed: {e}; retrying");
                            self.committed_retry_at = Some(now + self.config.client.retry_backoff);
                        }
                    },
                    None => {}
                },
                GroupEvent::Error(_) => {
                    self.buffer.push_event(event);
                }
            }
        }
    }

    /// Re-resolves a pattern subscription against the newest metadata.
    fn refresh_pattern(&mut self, net: &mut Network<ConsumerCtx>) {
        let Subscription::Pattern(re, matched) = &mut self.subscription else {
            return;
        };
        if self.group.as_ref().is_some_and(|g| g.resolves_patterns()) {
            return;
        }
        let exclude_internal = self.config.exclude_internal_topics;
        let now_matching: BTreeSet<String> = net
            .cluster()
            .topics
            .values()
            .filter(|t| {
                t.error.is_ok() && !(exclude_internal && t.is_internal) && re.is_match(&t.name)
            })
            .map(|t| t.name.clone())
            .collect();
        if *matched != now_matching {
            *matched = now_matching.clone();
            if let Some(g) = self.group.as_mut() {
                g.set_subscription(now_matching);
            }
        }
    }

    fn answer_topic_waiters(
        &mut self,
        net: &mut Network<ConsumerCtx>,
        now: Instant,
    ) -> Option<Instant> {
        let cluster = net.cluster().clone();
        let mut next = None;
        self.topic_waiters.retain(|w| {
            let missing: Vec<&String> = w
                .topics
                .iter()
                .filter(|t| cluster.topic(t).is_none())
                .collect();
            if missing.is_empty() {
                let _ = w.reply.send(Ok(()));
                return false;
            }
            // A refusal is final: say so now rather than at the deadline.
            let denied: Vec<String> = missing
                .iter()
                .filter(|t| {
                    cluster
                        .topics
                        .get(**t)
                        .is_some_and(|m| m.error == crate::ErrorCode::TOPIC_AUTHORIZATION_FAILED)
                })
                .map(|t| (*t).clone())
                .collect();
            if !denied.is_empty() {
                let _ = w
                    .reply
                    .send(Err(Error::TopicAuthorization { topics: denied }));
                return false;
            }
            // A fatal handshake error (TLS, SASL) fails the wait at once.
            if w.deadline <= now || net.fatal_error().is_some() {
                let err = net
                    .unreachable_error()
                    .filter(|_| !net.any_ready())
                    .unwrap_or_else(|| {
                        match missing.first().and_then(|t| cluster.topics.get(*t)) {
                            Some(t) => Error::for_topic(
                                t.error,
                                Some(format!("topic {}", t.name)),
                                &t.name,
                            ),
                            None => {
                                let waited = now.saturating_duration_since(w.since);
                                Error::timeout(format!("metadata for {missing:?}"), waited)
                            }
                        }
                    });
                let _ = w.reply.send(Err(err));
                return false;
            }
            next = Some(next.map_or(w.deadline, |n: Instant| n.min(w.deadline)));
            true
        });
        next
    }

    /// pykafka's "handling connection loss": once the consumer has had something to read
    /// but no broker ready for `default_api_timeout`, the poll in progress fails with
    /// `NoBrokersAvailable` (never connected) or the last connection error, and again
    /// after each further `default_api_timeout`. Without this, a poll would return nothing
    /// and an iterator without `consumer_timeout` would block forever. Only a poll in
    /// progress is told (the next one wakes this thread), so no stale error waits in the
    /// queue. The client keeps reconnecting meanwhile. Returns when to look again.
    fn report_unreachable(&mut self, net: &Network<ConsumerCtx>, now: Instant) -> Option<Instant> {
        if matches!(self.subscription, Subscription::None) || net.any_ready() {
            self.unreachable_since = None;
            return None;
        }
        let since = *self.unreachable_since.get_or_insert(now);
        // A fatal handshake error (TLS, SASL) is reported at once, and again at most every
        // 250 ms of polling, rather than after default_api_timeout.
        let wait = match net.fatal_error() {
            Some(_) => Duration::from_millis(250).min(self.config.default_api_timeout),
            None => self.config.default_api_timeout,
        };
        let due = since + wait;
        if now < due {
            return Some(due);
        }
        if !self.clock.in_poll.load(Ordering::Relaxed) {
            self.clock.wake_on_poll.store(true, Ordering::Relaxed);
            return None;
        }
        if let Some(error) = net.unreachable_error() {
            self.buffer.push_event(GroupEvent::Error(error));
        }
        self.unreachable_since = Some(now);
        Some(now + self.config.default_api_timeout)
    }

    /// Subscribed topics the broker refuses to describe (TOPIC_AUTHORIZATION_FAILED): the
    /// next poll fails with [`Error::TopicAuthorization`] naming them, once per refusal,
    /// as the Java consumer's poll throws `TopicAuthorizationException`. Without it the
    /// consumer would wait for partitions that never come.
    fn report_denied_topics(&mut self, net: &Network<ConsumerCtx>) {
        let Subscription::Topics(topics) = &self.subscription else {
            self.denied_reported.clear();
            return;
        };
        let cluster = net.cluster();
        let denied: BTreeSet<String> = topics
            .iter()
            .filter(|t| {
                cluster
                    .topics
                    .get(*t)
                    .is_some_and(|m| m.error == crate::ErrorCode::TOPIC_AUTHORIZATION_FAILED)
            })
            .cloned()
            .collect();
        let new: Vec<String> = denied.difference(&self.denied_reported).cloned().collect();
        self.denied_reported = denied;
        if !new.is_empty() {
            let error = Error::TopicAuthorization { topics: new };
            self.buffer.push_event(GroupEvent::Error(error));
        }
    }

    fn note_user_polls(&mut self, now: Instant) {
        let polls = self.clock.polls.load(Ordering::Relaxed);
        if polls != self.seen_polls || self.clock.in_poll.load(Ordering::Relaxed) {
            self.seen_polls = polls;
            if let Some(g) = self.group.as_mut() {
                g.on_user_poll(now);
            }
        }
    }
}

impl Driver for ConsumerDriver {
    type Command = ConsumerCommand;
    type Ctx = ConsumerCtx;

    fn on_command(&mut self, cmd: ConsumerCommand, net: &mut Network<ConsumerCtx>, now: Instant) {
        match cmd {
            ConsumerCommand::Subscribe(topics) => {
                net.schedule.add_topics(topics.iter().map(String::as_str));
                if let Some(g) = self.group.as_mut() {
                    g.set_subscription(topics.clone());
                }
                self.subscription = Subscription::Topics(topics);
            }
            ConsumerCommand::SubscribePattern(re) => {
                net.schedule.want_all();
                if let Some(g) = self.group.as_mut() {
                    // The consumer protocol sends the pattern to the broker.
                    g.subscribe_regex(re.as_str());
                }
                self.subscription = Subscription::Pattern(re, BTreeSet::new());
                self.refresh_pattern(net);
            }
            ConsumerCommand::Unsubscribe => {
                if let Some(g) = self.group.as_mut() {
                    g.unsubscribe();
                }
                self.fetcher.set_assignment(&[], false);
                self.subscription = Subscription::None;
            }
            ConsumerCommand::Assign(partitions) => {
                net.schedule
                    .add_topics(partitions.iter().map(|tp| tp.topic.as_str()));
                let need = self.assign_fetcher(&partitions);
                self.request_committed(need, now);
                self.subscription = Subscription::Assigned;
            }
            ConsumerCommand::Seek {
                tp,
                offset,
                epoch,
                seen,
            } if self.still_owned_as_seen(&tp, seen) => self.fetcher.seek(&tp, offset, epoch),
            ConsumerCommand::Reset {
                tp,
                spec,
                epoch,
                seen,
            } if self.still_owned_as_seen(&tp, seen) => self.fetcher.reset(&tp, spec, epoch),
            ConsumerCommand::Seek { tp, .. } | ConsumerCommand::Reset { tp, .. } => {
                log::debug!("{tp}: seek ignored: the partition was taken away since");
            }
            ConsumerCommand::Pause { partitions, paused } => {
                for tp in &partitions {
                    self.fetcher.set_paused(tp, paused);
                }
            }
            ConsumerCommand::RevokeDone => {
                if let Some(g) = self.group.as_mut() {
                    g.revoke_done();
                }
            }
            ConsumerCommand::Commit {
                offsets,
                deadline,
                reply,
            } => match self.group.as_mut() {
                Some(g) => {
                    let buffer = self.buffer.clone();
                    g.commit(
                        offsets,
                        deadline,
                        Box::new(move |r| {
                            let _ = reply.send(r);
                            // A poll waiting runs the callback of an async commit now.
                            buffer.commit_done();
                        }),
                    )
                }
                None => {
                    let _ = reply.send(Err(Error::GroupIdRequired {
                        operation: "commit",
                    }));
                }
            },
            ConsumerCommand::GroupMetadata(reply) => {
                let member = self.group.as_ref().map_or((-1, String::new()), |g| {
                    (g.generation(), g.member_id().to_owned())
                });
                let _ = reply.send(Ok(member));
            }
            ConsumerCommand::Committed {
                partitions,
                deadline,
                reply,
            } => match self.group.as_mut() {
                Some(g) => {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.committed_waiters.insert(id, Some(reply));
                    g.fetch_committed(id, partitions, deadline);
                }
                None => {
                    let _ = reply.send(Err(Error::IllegalState(
                        "committed offsets need a group_id".into(),
                    )));
                }
            },
            ConsumerCommand::WaitForTopics {
                topics,
                deadline,
                reply,
            } => {
                net.schedule.add_topics(topics.iter().map(String::as_str));
                net.schedule.request_update();
                self.topic_waiters.push(TopicWaiter {
                    topics,
                    since: now,
                    deadline,
                    reply,
                });
            }
            ConsumerCommand::Rpc(call) => self.rpcs.push(call),
        }
    }

    fn on_response(
        &mut self,
        ctx: ConsumerCtx,
        result: Result<Response>,
        net: &mut Network<ConsumerCtx>,
        now: Instant,
    ) {
        match ctx {
            ConsumerCtx::Fetch(c) => {
                if let (FetchCtx::Fetch { sent, .. }, Ok(_)) = (&c, &result) {
                    self.stats
                        .on_fetch_response(now.saturating_duration_since(*sent));
                }
                self.fetcher.on_response(c, result, net, now)
            }
            ConsumerCtx::Group(c) => {
                if matches!(c, GroupCtx::Heartbeat { .. }) && result.is_ok() {
                    self.stats.on_heartbeat_response(now);
                }
                if let Some(g) = self.group.as_mut() {
                    g.on_response(c, result, net, now, &mut self.events);
                    self.stats.on_group_state(g.in_rebalance(), now);
                }
                self.handle_events(now);
            }
            ConsumerCtx::Rpc(id) => self.rpcs.on_response(id, result),
        }
    }

    fn poll(&mut self, net: &mut Network<ConsumerCtx>, now: Instant) -> Option<Instant> {
        // Lookups check a topic exists before adding it to the refreshed topics, so
        // only subscribed or assigned topics can be created by a refresh.
        net.schedule.allow_auto_topic_creation = self.config.allow_auto_create_topics;
        self.note_user_polls(now);
        if self.group.as_ref().is_some_and(|g| g.awaits_user_poll()) {
            self.clock.wake_on_poll.store(true, Ordering::Relaxed);
        }
        self.refresh_pattern(net);
        let mut next = self.answer_topic_waiters(net, now);
        if let Some(t) = self.committed_retry_at {
            if t <= now {
                self.committed_retry_at = None;
                let again = self.fetcher.awaiting_committed();
                self.request_committed(again, now);
            } else {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        if let Some(g) = self.group.as_mut() {
            let t = g.poll(net, now, &mut self.events);
            self.stats.on_group_state(g.in_rebalance(), now);
            next = min(next, t);
        }
        self.handle_events(now);
        next = min(next, self.fetcher.poll(net, now));
        next = min(next, self.report_unreachable(net, now));
        self.report_denied_topics(net);
        min(next, self.rpcs.poll(net, now))
    }

    fn poll_close(&mut self, net: &mut Network<ConsumerCtx>, now: Instant) -> bool {
        match self.group.as_mut() {
            Some(g) => g.poll_close(net, now),
            None => true,
        }
    }

    fn required_apis(&self) -> Vec<(crate::protocol::api::ApiKey, i16, i16)> {
        use super::fetcher::{FETCH_MAX_VERSION, FETCH_MIN_VERSION};
        vec![(
            crate::protocol::api::ApiKey::FETCH,
            FETCH_MIN_VERSION,
            FETCH_MAX_VERSION,
        )]
    }

    fn on_exit(&mut self, error: Error) {
        self.buffer.close();
        self.rpcs.fail_all(&error);
        for (_, w) in self.committed_waiters.drain() {
            if let Some(reply) = w {
                let _ = reply.send(Err(error.clone()));
            }
        }
        for w in self.topic_waiters.drain(..) {
            let _ = w.reply.send(Err(error.clone()));
        }
    }
}

fn min(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
