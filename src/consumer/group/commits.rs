//! Offset commits and committed-offset lookups waiting for the coordinator: their
//! deadlines, retries with backoff, and what each answer means.
//!
//! Sending is the caller's job ([`super::GroupCoordinator`]); this keeps the queue and the
//! verdicts, so it is tested without a broker.
//!
//! At most one OffsetCommit is in flight, and at most one waits behind it: a newer commit
//! merges into the waiting one (its offsets win) and both callers get that commit's
//! outcome. Commits therefore reach the coordinator in the order they were made, so a
//! late answer or a retry never sets a partition back to an older offset.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::consumer::record::OffsetAndMetadata;
use crate::error::Error;
use crate::net::backoff::Backoff;
use crate::protocol::error_code::ErrorCode;
use crate::TopicPartition;

use super::responses::{is_coordinator_error, is_transport_error};
use super::GroupEvent;

pub(super) type CommitReply = Box<dyn FnOnce(Result<(), Error>) + Send>;

struct PendingCommit {
    offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    started: Instant,
    deadline: Instant,
    /// Every caller whose commit this one carries.
    replies: Vec<CommitReply>,
    retry_at: Option<Instant>,
    backoff: Backoff,
    in_flight: bool,
    last_error: Option<Error>,
}

struct PendingFetch {
    id: u64,
    partitions: Vec<TopicPartition>,
    started: Instant,
    deadline: Instant,
    retry_at: Option<Instant>,
    backoff: Backoff,
    in_flight: bool,
    last_error: Option<Error>,
}

/// One partition of an OffsetFetch answer.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FetchedOffset {
    pub tp: TopicPartition,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
    pub error: ErrorCode,
}

/// What an OffsetCommit answer means beyond its own reply.
#[derive(Debug, Default, PartialEq)]
pub(super) struct CommitVerdict {
    /// Find the coordinator again.
    pub coordinator_lost: bool,
    /// A code that says something about the membership (REBALANCE_IN_PROGRESS, ...).
    pub membership_code: Option<ErrorCode>,
}

pub(super) struct Commits {
    commits: HashMap<u64, PendingCommit>,
    fetches: HashMap<u64, PendingFetch>,
    next_key: u64,
    retry_backoff: Duration,
    retry_backoff_max: Duration,
    /// The group, named in authorization errors.
    group_id: String,
}

impl Commits {
    pub fn new(retry_backoff: Duration, retry_backoff_max: Duration) -> Self {
        Commits {
            commits: HashMap::new(),
            fetches: HashMap::new(),
            next_key: 0,
            retry_backoff,
            retry_backoff_max,
            group_id: String::new(),
        }
    }

    /// Names `group` in the errors of its commits and offset fetches.
    pub fn for_group(mut self, group: &str) -> Self {
        self.group_id = group.to_owned();
        self
    }

    fn key(&mut self) -> u64 {
        self.next_key += 1;
        self.next_key
    }

    pub fn add_commit(
        &mut self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        deadline: Instant,
        reply: CommitReply,
        now: Instant,
    ) {
        if offsets.is_empty() {
            return reply(Ok(()));
        }
        if let Some((tp, om)) = offsets.iter().find(|(_, om)| om.offset < 0) {
            return reply(Err(Error::InvalidArgument(format!(
                "cannot commit negative offset {} for {tp}",
                om.offset
            ))));
        }
        if let Some(waiting) = self.commits.values_mut().find(|c| !c.in_flight) {
            waiting.offsets.extend(offsets);
            waiting.replies.push(reply);
            waiting.deadline = waiting.deadline.max(deadline);
            return;
        }
        let key = self.key();
        let backoff = Backoff::new(self.retry_backoff, self.retry_backoff_max);
        self.commits.insert(
            key,
            PendingCommit {
                offsets,
                started: now,
                deadline,
                replies: vec![reply],
                retry_at: None,
                backoff,
                in_flight: false,
                last_error: None,
            },
        );
    }

    /// A commit in flight failed and will be retried: if a newer one waits, the older
    /// offsets go under it (the newer win) and one commit carries both.
    fn retry_commit(&mut self, key: u64, retry_at: Instant, error: Error) {
        let newer = self
            .commits
            .iter()
            .find(|(k, c)| **k != key && !c.in_flight)
            .map(|(k, _)| *k);
        let Some(newer) = newer else {
            if let Some(c) = self.commits.get_mut(&key) {
                c.retry_at = Some(retry_at);
                c.last_error = Some(error);
            }
            return;
        };
        let (Some(old), Some(new)) = (self.commits.remove(&key), self.commits.get_mut(&newer))
        else {
            return;
        };
        let mut offsets = old.offsets;
        offsets.extend(std::mem::take(&mut new.offsets));
        new.offsets = offsets;
        new.replies.extend(old.replies);
        new.deadline = new.deadline.max(old.deadline);
        new.started = new.started.min(old.started);
        new.retry_at = Some(new.retry_at.map_or(retry_at, |t| t.max(retry_at)));
        new.backoff = old.backoff;
        new.last_error = Some(error);
    }

    pub fn add_fetch(
        &mut self,
        id: u64,
        mut partitions: Vec<TopicPartition>,
        deadline: Instant,
        now: Instant,
        events: &mut Vec<GroupEvent>,
    ) {
        partitions.sort();
        partitions.dedup();
        if partitions.is_empty() {
            events.push(GroupEvent::Committed {
                id,
                result: Ok(HashMap::new()),
            });
            return;
        }
        let key = self.key();
        let backoff = Backoff::new(self.retry_backoff, self.retry_backoff_max);
        self.fetches.insert(
            key,
            PendingFetch {
                id,
                partitions,
                started: now,
                deadline,
                retry_at: None,
                backoff,
                in_flight: false,
                last_error: None,
            },
        );
    }

    pub fn has_commits(&self) -> bool {
        !self.commits.is_empty()
    }

    /// True while commits or lookups wait for the coordinator.
    pub fn has_work(&self) -> bool {
        !self.commits.is_empty() || !self.fetches.is_empty()
    }

    /// Answers everything past its deadline with `unreachable` (no broker could be
    /// reached) or else a timeout naming the error that kept it from succeeding. A
    /// request still in flight is abandoned: its answer is ignored.
    pub fn expire(
        &mut self,
        now: Instant,
        unreachable: Option<&Error>,
        events: &mut Vec<GroupEvent>,
    ) {
        let error = |what: &str, started: Instant, last: Option<Error>| match unreachable {
            Some(e) => e.clone(),
            None => timeout_error(what, started, now, last),
        };
        let expired: Vec<u64> = self
            .commits
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        for key in expired {
            if let Some(c) = self.commits.remove(&key) {
                let err = error("committing offsets", c.started, c.last_error);
                answer(c.replies, Err(err));
            }
        }
        let expired: Vec<u64> = self
            .fetches
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        for key in expired {
            if let Some(f) = self.fetches.remove(&key) {
                let err = error("fetching committed offsets", f.started, f.last_error);
                events.push(GroupEvent::Committed {
                    id: f.id,
                    result: Err(err),
                });
            }
        }
    }

    /// The commit ready to be sent now, if any: none while one is in flight.
    pub fn due_commits(&self, now: Instant) -> Vec<u64> {
        if self.commits.values().any(|c| c.in_flight) {
            return Vec::new();
        }
        self.commits
            .iter()
            .filter(|(_, c)| c.retry_at.is_none_or(|t| t <= now))
            .map(|(k, _)| *k)
            .collect()
    }

    /// Lookups ready to be sent now, oldest first.
    pub fn due_fetches(&self, now: Instant) -> Vec<u64> {
        let mut keys: Vec<u64> = self
            .fetches
            .iter()
            .filter(|(_, f)| !f.in_flight && f.retry_at.is_none_or(|t| t <= now))
            .map(|(k, _)| *k)
            .collect();
        keys.sort_unstable();
        keys
    }

    pub fn commit_offsets(&self, key: u64) -> Option<&BTreeMap<TopicPartition, OffsetAndMetadata>> {
        self.commits.get(&key).map(|c| &c.offsets)
    }

    pub fn fetch_partitions(&self, key: u64) -> Option<&[TopicPartition]> {
        self.fetches.get(&key).map(|f| f.partitions.as_slice())
    }

    pub fn commit_sent(&mut self, key: u64) {
        if let Some(c) = self.commits.get_mut(&key) {
            c.in_flight = true;
            c.retry_at = None;
        }
    }

    pub fn fetch_sent(&mut self, key: u64) {
        if let Some(f) = self.fetches.get_mut(&key) {
            f.in_flight = true;
            f.retry_at = None;
        }
    }

    /// Fails a commit without sending it (not a member of the group, encoding failed, ...).
    pub fn fail_commit(&mut self, key: u64, error: Error) {
        if let Some(c) = self.commits.remove(&key) {
            answer(c.replies, Err(error));
        }
    }

    /// Fails every waiting commit and committed-offsets lookup: the group cannot be
    /// reached for a reason no retry fixes (the principal may not use it).
    pub fn fail_all(&mut self, error: &Error, events: &mut Vec<GroupEvent>) {
        for (_, c) in self.commits.drain() {
            answer(c.replies, Err(error.clone()));
        }
        for (_, f) in self.fetches.drain() {
            events.push(GroupEvent::Committed {
                id: f.id,
                result: Err(error.clone()),
            });
        }
    }

    /// Fails a lookup without sending it.
    pub fn fail_fetch(&mut self, key: u64, error: Error, events: &mut Vec<GroupEvent>) {
        if let Some(f) = self.fetches.remove(&key) {
            events.push(GroupEvent::Committed {
                id: f.id,
                result: Err(error),
            });
        }
    }

    /// An OffsetCommit answer: per-partition error codes, or the request's failure.
    pub fn on_commit(
        &mut self,
        key: u64,
        result: Result<Vec<(TopicPartition, ErrorCode)>, Error>,
        now: Instant,
    ) -> CommitVerdict {
        let mut verdict = CommitVerdict::default();
        let Some(c) = self.commits.get_mut(&key) else {
            return verdict;
        };
        c.in_flight = false;
        let partitions = match result {
            Ok(p) => p,
            Err(e) => {
                verdict.coordinator_lost = is_transport_error(&e);
                if e.is_retriable() {
                    let retry_at = now + c.backoff.fail();
                    self.retry_commit(key, retry_at, e);
                } else if let Some(c) = self.commits.remove(&key) {
                    answer(c.replies, Err(e));
                }
                return verdict;
            }
        };
        let Some((tp, code)) = partitions.into_iter().find(|(_, code)| !code.is_ok()) else {
            if let Some(c) = self.commits.remove(&key) {
                answer(c.replies, Ok(()));
            }
            return verdict;
        };
        let err = commit_error(code, &tp, &self.group_id);
        let retry = is_coordinator_error(code)
            || code == ErrorCode::REQUEST_TIMED_OUT
            || code == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
            || code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            // KIP-848: the member epoch moved on; the retry carries the current one.
            || code == ErrorCode::STALE_MEMBER_EPOCH;
        verdict.coordinator_lost =
            is_coordinator_error(code) || code == ErrorCode::REQUEST_TIMED_OUT;
        if retry {
            if code == ErrorCode::STALE_MEMBER_EPOCH {
                verdict.membership_code = Some(code);
            }
            log::debug!("offset commit: {err}; retrying");
            let retry_at = now + c.backoff.fail();
            self.retry_commit(key, retry_at, err);
            return verdict;
        }
        if matches!(
            code,
            ErrorCode::REBALANCE_IN_PROGRESS
                | ErrorCode::UNKNOWN_MEMBER_ID
                | ErrorCode::ILLEGAL_GENERATION
                | ErrorCode::FENCED_INSTANCE_ID
        ) {
            verdict.membership_code = Some(code);
        }
        if let Some(c) = self.commits.remove(&key) {
            answer(c.replies, Err(err));
        }
        verdict
    }

    /// An OffsetFetch answer: the group-level error and the partitions, or the request's
    /// failure. Returns true if the coordinator should be rediscovered.
    pub fn on_fetch(
        &mut self,
        key: u64,
        result: Result<(ErrorCode, Vec<FetchedOffset>), Error>,
        now: Instant,
        events: &mut Vec<GroupEvent>,
    ) -> bool {
        let Some(f) = self.fetches.get_mut(&key) else {
            return false;
        };
        f.in_flight = false;
        let (group_code, partitions) = match result {
            Ok(r) => r,
            Err(e) => {
                let lost = is_transport_error(&e);
                if e.is_retriable() {
                    f.retry_at = Some(now + f.backoff.fail());
                    f.last_error = Some(e);
                } else {
                    self.fail_fetch(key, e, events);
                }
                return lost;
            }
        };
        if !group_code.is_ok() {
            let err = Error::for_resource(
                group_code,
                Some("fetching committed offsets".into()),
                &self.group_id,
            );
            if group_code.is_retriable() {
                f.retry_at = Some(now + f.backoff.fail());
                f.last_error = Some(err);
            } else {
                self.fail_fetch(key, err, events);
            }
            return is_coordinator_error(group_code);
        }
        let mut out: HashMap<TopicPartition, Option<OffsetAndMetadata>> =
            f.partitions.iter().map(|tp| (tp.clone(), None)).collect();
        for p in partitions {
            if p.error == ErrorCode::UNSTABLE_OFFSET_COMMIT {
                // A transaction holding offsets for it is still open; ask again shortly.
                f.retry_at = Some(now + f.backoff.fail());
                f.last_error = Some(Error::broker(
                    p.error,
                    Some(format!("committed offset of {}", p.tp)),
                ));
                return false;
            }
            if !p.error.is_ok() {
                let msg = format!("fetching the committed offset of {}", p.tp);
                let err = partition_error(p.error, msg, &p.tp, &self.group_id);
                self.fail_fetch(key, err, events);
                return false;
            }
            let committed = (p.offset >= 0).then(|| OffsetAndMetadata {
                offset: p.offset,
                metadata: p.metadata.unwrap_or_default(),
                leader_epoch: (p.leader_epoch >= 0).then_some(p.leader_epoch),
            });
            out.insert(p.tp, committed);
        }
        if let Some(f) = self.fetches.remove(&key) {
            events.push(GroupEvent::Committed {
                id: f.id,
                result: Ok(out),
            });
        }
        false
    }

    /// The earliest retry or deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        let commits = self
            .commits
            .values()
            .flat_map(|c| [Some(c.deadline), c.retry_at.filter(|_| !c.in_flight)]);
        let fetches = self
            .fetches
            .values()
            .flat_map(|f| [Some(f.deadline), f.retry_at.filter(|_| !f.in_flight)]);
        commits.chain(fetches).flatten().min()
    }
}

/// Gives every caller a commit carried the same outcome.
fn answer(replies: Vec<CommitReply>, result: Result<(), Error>) {
    for reply in replies {
        reply(result.clone());
    }
}

fn timeout_error(what: &str, started: Instant, now: Instant, last: Option<Error>) -> Error {
    let what = match last {
        Some(e) => format!("{what} (last error: {e})"),
        None => what.to_owned(),
    };
    Error::timeout(what, now.saturating_duration_since(started))
}

/// The error for a failed partition of a commit, with the Java client's advice.
fn commit_error(code: ErrorCode, tp: &TopicPartition, group: &str) -> Error {
    let msg = match code {
        ErrorCode::REBALANCE_IN_PROGRESS => {
            format!("committing {tp}: the group is rebalancing; poll to complete the rebalance, then commit again")
        }
        ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::ILLEGAL_GENERATION => format!(
            "committing {tp}: the consumer is no longer part of the group's current generation, so its partitions \
             may have been reassigned; the commit cannot complete. This usually means poll was not called within \
             max_poll_interval"
        ),
        ErrorCode::OFFSET_METADATA_TOO_LARGE => format!("committing {tp}: the offset metadata string is too large"),
        _ => format!("committing {tp}"),
    };
    partition_error(code, msg, tp, group)
}

/// The error for `code` on `tp` of group `group`: an authorization refusal names the
/// group or the topic refused.
fn partition_error(code: ErrorCode, msg: String, tp: &TopicPartition, group: &str) -> Error {
    match code {
        ErrorCode::GROUP_AUTHORIZATION_FAILED => Error::for_resource(code, None, group),
        ErrorCode::TOPIC_AUTHORIZATION_FAILED => Error::for_resource(code, None, &tp.topic),
        _ => Error::broker(code, Some(msg)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    fn commits() -> Commits {
        Commits::new(Duration::from_millis(100), Duration::from_secs(1))
    }

    /// A commit of offset 5 for `t-0` and `t-1`, with a receiver for its reply.
    fn add(c: &mut Commits, now: Instant, timeout: Duration) -> mpsc::Receiver<Result<(), Error>> {
        let (tx, rx) = mpsc::channel();
        let offsets = BTreeMap::from([
            (tp(0), OffsetAndMetadata::new(5)),
            (tp(1), OffsetAndMetadata::new(5)),
        ]);
        c.add_commit(
            offsets,
            now + timeout,
            Box::new(move |r| tx.send(r).unwrap()),
            now,
        );
        rx
    }

    #[test]
    fn commit_succeeds_or_reports_the_first_partition_error() {
        let now = Instant::now();
        let mut c = commits();
        let rx = add(&mut c, now, Duration::from_secs(5));
        let key = c.due_commits(now)[0];
        assert_eq!(c.commit_offsets(key).unwrap().len(), 2);
        c.commit_sent(key);
        assert!(c.due_commits(now).is_empty());
        let v = c.on_commit(
            key,
            Ok(vec![(tp(0), ErrorCode::NONE), (tp(1), ErrorCode::NONE)]),
            now,
        );
        assert_eq!(v, CommitVerdict::default());
        assert!(rx.try_recv().unwrap().is_ok());
        assert!(!c.has_work());

        let rx = add(&mut c, now, Duration::from_secs(5));
        let key = c.due_commits(now)[0];
        c.commit_sent(key);
        let answer = vec![
            (tp(0), ErrorCode::NONE),
            (tp(1), ErrorCode::ILLEGAL_GENERATION),
        ];
        let v = c.on_commit(key, Ok(answer), now);
        assert_eq!(v.membership_code, Some(ErrorCode::ILLEGAL_GENERATION));
        let err = rx.try_recv().unwrap().unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::ILLEGAL_GENERATION));
        assert!(err.to_string().contains("t-1"));
    }

    /// A commit of these offsets for `t-<partition>`, with a receiver for its reply.
    fn add_offsets(
        c: &mut Commits,
        now: Instant,
        offsets: &[(i32, i64)],
    ) -> mpsc::Receiver<Result<(), Error>> {
        let (tx, rx) = mpsc::channel();
        let offsets = offsets
            .iter()
            .map(|(p, o)| (tp(*p), OffsetAndMetadata::new(*o)))
            .collect();
        c.add_commit(
            offsets,
            now + Duration::from_secs(5),
            Box::new(move |r| tx.send(r).unwrap()),
            now,
        );
        rx
    }

    fn sent_offsets(c: &Commits, key: u64) -> Vec<(i32, i64)> {
        c.commit_offsets(key)
            .unwrap()
            .iter()
            .map(|(tp, om)| (tp.partition, om.offset))
            .collect()
    }

    #[test]
    fn one_commit_in_flight_and_newer_ones_merge_into_the_waiting_one() {
        let now = Instant::now();
        let mut c = commits();
        let first = add_offsets(&mut c, now, &[(0, 10), (1, 10)]);
        let key = c.due_commits(now)[0];
        c.commit_sent(key);
        let second = add_offsets(&mut c, now, &[(0, 20)]);
        let third = add_offsets(&mut c, now, &[(0, 30), (2, 5)]);
        assert!(c.due_commits(now).is_empty(), "one in flight at a time");
        c.on_commit(key, Ok(vec![(tp(0), ErrorCode::NONE)]), now);
        assert!(first.try_recv().unwrap().is_ok());
        let keys = c.due_commits(now);
        assert_eq!(keys.len(), 1, "the two later commits went out as one");
        assert_eq!(sent_offsets(&c, keys[0]), [(0, 30), (2, 5)]);
        c.commit_sent(keys[0]);
        c.on_commit(keys[0], Ok(vec![(tp(0), ErrorCode::NONE)]), now);
        assert!(second.try_recv().unwrap().is_ok());
        assert!(third.try_recv().unwrap().is_ok());
        assert!(!c.has_work());
    }

    #[test]
    fn a_retried_commit_never_lands_after_a_newer_one() {
        let now = Instant::now();
        let mut c = commits();
        let old = add_offsets(&mut c, now, &[(0, 10), (1, 10)]);
        let key = c.due_commits(now)[0];
        c.commit_sent(key);
        let new = add_offsets(&mut c, now, &[(0, 20)]);
        let v = c.on_commit(key, Ok(vec![(tp(0), ErrorCode::NOT_COORDINATOR)]), now);
        assert!(v.coordinator_lost);
        assert!(c.due_commits(now).is_empty(), "waits for the backoff");
        let later = now + Duration::from_millis(150);
        let keys = c.due_commits(later);
        assert_eq!(keys.len(), 1);
        assert_eq!(
            sent_offsets(&c, keys[0]),
            [(0, 20), (1, 10)],
            "the older offsets go under the newer ones"
        );
        c.commit_sent(keys[0]);
        c.on_commit(keys[0], Ok(vec![(tp(0), ErrorCode::NONE)]), later);
        assert!(old.try_recv().unwrap().is_ok());
        assert!(new.try_recv().unwrap().is_ok());
    }

    #[test]
    fn retriable_commit_errors_retry_until_the_deadline() {
        let now = Instant::now();
        let mut c = commits();
        let rx = add(&mut c, now, Duration::from_secs(2));
        let key = c.due_commits(now)[0];
        c.commit_sent(key);
        let v = c.on_commit(key, Ok(vec![(tp(0), ErrorCode::NOT_COORDINATOR)]), now);
        assert!(v.coordinator_lost);
        assert!(rx.try_recv().is_err(), "no reply yet");
        assert!(c.due_commits(now).is_empty(), "waits for the backoff");
        let later = now + Duration::from_millis(150);
        assert_eq!(c.due_commits(later), vec![key]);
        c.commit_sent(key);
        let lost = Error::Disconnected {
            broker: "1".into(),
            reason: "reset".into(),
        };
        assert!(c.on_commit(key, Err(lost), later).coordinator_lost);
        let mut events = Vec::new();
        c.expire(now + Duration::from_secs(2), None, &mut events);
        let err = rx.try_recv().unwrap().unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        assert!(err.to_string().contains("disconnected"), "{err}");
    }

    #[test]
    fn with_no_broker_reachable_expired_commits_and_lookups_say_so() {
        let now = Instant::now();
        let mut c = commits();
        let rx = add(&mut c, now, Duration::from_secs(1));
        let mut events = Vec::new();
        let later = now + Duration::from_secs(1);
        c.add_fetch(4, vec![tp(0)], later, now, &mut events);
        let unreachable = Error::NoBrokersAvailable {
            servers: "127.0.0.1:1".into(),
            reason: "connection refused".into(),
        };
        c.expire(later, Some(&unreachable), &mut events);
        let err = rx.try_recv().unwrap().unwrap_err();
        assert!(matches!(err, Error::NoBrokersAvailable { .. }), "{err}");
        assert!(matches!(
            &events[..],
            [GroupEvent::Committed {
                id: 4,
                result: Err(Error::NoBrokersAvailable { .. })
            }]
        ));
    }

    #[test]
    fn empty_and_invalid_commits_answer_at_once() {
        let now = Instant::now();
        let mut c = commits();
        let (tx, rx) = mpsc::channel();
        c.add_commit(
            BTreeMap::new(),
            now,
            Box::new(move |r| tx.send(r).unwrap()),
            now,
        );
        assert!(rx.try_recv().unwrap().is_ok());
        let (tx, rx) = mpsc::channel();
        let offsets = BTreeMap::from([(tp(0), OffsetAndMetadata::new(-3))]);
        c.add_commit(offsets, now, Box::new(move |r| tx.send(r).unwrap()), now);
        assert!(matches!(
            rx.try_recv().unwrap(),
            Err(Error::InvalidArgument(_))
        ));
        assert!(!c.has_work());
    }

    #[test]
    fn fetched_offsets_map_minus_one_to_none() {
        let now = Instant::now();
        let mut c = commits();
        let mut events = Vec::new();
        c.add_fetch(
            7,
            vec![tp(1), tp(0), tp(2)],
            now + Duration::from_secs(5),
            now,
            &mut events,
        );
        let key = c.due_fetches(now)[0];
        assert_eq!(c.fetch_partitions(key).unwrap(), &[tp(0), tp(1), tp(2)]);
        c.fetch_sent(key);
        let answer = vec![
            FetchedOffset {
                tp: tp(0),
                offset: 42,
                leader_epoch: 3,
                metadata: Some("m".into()),
                error: ErrorCode::NONE,
            },
            FetchedOffset {
                tp: tp(1),
                offset: -1,
                leader_epoch: -1,
                metadata: None,
                error: ErrorCode::NONE,
            },
        ];
        assert!(!c.on_fetch(key, Ok((ErrorCode::NONE, answer)), now, &mut events));
        let [GroupEvent::Committed {
            id: 7,
            result: Ok(map),
        }] = events.as_slice()
        else {
            panic!("unexpected events {events:?}")
        };
        let committed = map[&tp(0)].as_ref().unwrap();
        assert_eq!(
            (
                committed.offset,
                committed.leader_epoch,
                committed.metadata.as_str()
            ),
            (42, Some(3), "m")
        );
        assert_eq!(map[&tp(1)], None);
        assert_eq!(
            map[&tp(2)],
            None,
            "partitions the broker left out have no committed offset"
        );
    }

    #[test]
    fn unstable_offsets_and_coordinator_errors_are_retried() {
        let now = Instant::now();
        let mut c = commits();
        let mut events = Vec::new();
        c.add_fetch(
            1,
            vec![tp(0)],
            now + Duration::from_secs(5),
            now,
            &mut events,
        );
        let key = c.due_fetches(now)[0];
        c.fetch_sent(key);
        let unstable = vec![FetchedOffset {
            tp: tp(0),
            offset: -1,
            leader_epoch: -1,
            metadata: None,
            error: ErrorCode::UNSTABLE_OFFSET_COMMIT,
        }];
        assert!(!c.on_fetch(key, Ok((ErrorCode::NONE, unstable)), now, &mut events));
        assert!(events.is_empty());
        let later = now + Duration::from_millis(150);
        assert_eq!(c.due_fetches(later), vec![key]);
        c.fetch_sent(key);
        assert!(c.on_fetch(
            key,
            Ok((ErrorCode::NOT_COORDINATOR, vec![])),
            later,
            &mut events
        ));
        assert!(events.is_empty());
        let later = later + Duration::from_millis(300);
        c.fetch_sent(key);
        assert!(!c.on_fetch(
            key,
            Ok((ErrorCode::GROUP_AUTHORIZATION_FAILED, vec![])),
            later,
            &mut events
        ));
        assert!(
            matches!(&events[..], [GroupEvent::Committed { id: 1, result: Err(e) }]
            if e.code() == Some(ErrorCode::GROUP_AUTHORIZATION_FAILED))
        );
    }

    #[test]
    fn empty_lookups_answer_at_once_and_expired_ones_time_out() {
        let now = Instant::now();
        let mut c = commits();
        let mut events = Vec::new();
        c.add_fetch(3, vec![], now, now, &mut events);
        assert!(
            matches!(&events[..], [GroupEvent::Committed { id: 3, result: Ok(m) }] if m.is_empty())
        );
        events.clear();
        c.add_fetch(
            4,
            vec![tp(0)],
            now + Duration::from_secs(1),
            now,
            &mut events,
        );
        assert_eq!(c.next_deadline(), Some(now + Duration::from_secs(1)));
        c.expire(now + Duration::from_secs(1), None, &mut events);
        assert!(matches!(
            &events[..],
            [GroupEvent::Committed {
                id: 4,
                result: Err(Error::Timeout { .. })
            }]
        ));
    }
}
