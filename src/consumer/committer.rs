//! [`Committer`]: commits from inside `for msg in &mut consumer`, where the loop holds
//! the consumer; and [`CommitFence`], which stops a member from handing out records once
//! a commit has shown that its partitions may be another member's.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorCode, Result};
use crate::net::io_thread::CommandSender;
use crate::TopicPartition;

use super::driver::ConsumerCommand;
use super::metrics::ConsumerStats;
use super::record::{ConsumerRecord, OffsetAndMetadata};

/// Shared by a consumer and its committers: how many assignments the consumer has taken
/// from the group, and whether a commit found the member out of its generation since.
#[derive(Debug, Default)]
pub(crate) struct CommitFence {
    assignments: AtomicU64,
    fenced: AtomicBool,
}

impl CommitFence {
    /// The assignment count, taken when a commit is sent.
    pub fn assignments(&self) -> u64 {
        self.assignments.load(Ordering::Acquire)
    }

    /// The group assigned partitions again: whatever a failed commit said is settled.
    pub fn on_assigned(&self) {
        self.assignments.fetch_add(1, Ordering::AcqRel);
        self.fenced.store(false, Ordering::Release);
    }

    /// A new subscription or manual assignment starts afresh.
    pub fn lift(&self) {
        self.fenced.store(false, Ordering::Release);
    }

    pub fn is_fenced(&self) -> bool {
        self.fenced.load(Ordering::Acquire)
    }

    /// A commit sent at assignment count `sent_at` ended with `result`. The group refusing
    /// it because the member is out of its generation (or the group is rebalancing) means
    /// the partitions may already be another member's: no record goes out until the next
    /// assignment. An assignment that came after the commit was sent already settled it.
    pub fn note(&self, result: &Result<()>, sent_at: u64) {
        let code = result.as_ref().err().and_then(Error::code);
        let fencing = code.is_some_and(|c| {
            matches!(
                c,
                ErrorCode::ILLEGAL_GENERATION
                    | ErrorCode::REBALANCE_IN_PROGRESS
                    | ErrorCode::UNKNOWN_MEMBER_ID
            )
        });
        if fencing && sent_at == self.assignments() {
            log::info!("a commit found the group moved on; no records until it assigns again");
            self.fenced.store(true, Ordering::Release);
        }
    }
}

/// Commits offsets while a loop over the consumer holds it: get one with
/// [`Consumer::committer`](crate::Consumer::committer) before the loop. It is `Send` and
/// `Clone`, so a worker thread that finishes records can commit them too.
///
/// A commit waits up to `default_api_timeout` for the coordinator, as
/// [`Consumer::commit`](crate::Consumer::commit) does.
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// let mut consumer = kafka_sync::Consumer::builder()
///     .bootstrap_servers("127.0.0.1:9092")
///     .group_id("billing")
///     .enable_auto_commit(false)
///     .build()?;
/// consumer.subscribe(["invoices"])?;
/// let committer = consumer.committer();
/// for msg in &mut consumer {
///     let msg = msg?;
///     println!("processing {}", msg.offset);
///     committer.commit(&msg)?; // this partition resumes after `msg`
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Committer {
    commands: CommandSender<ConsumerCommand>,
    fence: Arc<CommitFence>,
    timeout: Duration,
    has_group: bool,
    stats: Arc<ConsumerStats>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer").finish_non_exhaustive()
    }
}

impl Committer {
    pub(crate) fn new(
        commands: CommandSender<ConsumerCommand>,
        fence: Arc<CommitFence>,
        timeout: Duration,
        has_group: bool,
        stats: Arc<ConsumerStats>,
    ) -> Self {
        Committer {
            commands,
            fence,
            timeout,
            has_group,
            stats,
        }
    }

    /// Commits `record` as processed: its partition's committed offset becomes
    /// `record.offset + 1`, with the record's leader epoch.
    pub fn commit<K, V>(&self, record: &ConsumerRecord<K, V>) -> Result<()> {
        let mut om = OffsetAndMetadata::new(record.offset + 1);
        om.leader_epoch = record.leader_epoch;
        let tp = TopicPartition::new(&*record.topic, record.partition);
        self.commit_offsets(BTreeMap::from([(tp, om)]))
    }

    /// Commits explicit offsets (each the next offset to read), with metadata.
    pub fn commit_offsets(
        &self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<()> {
        commit_and_wait(
            &self.commands,
            &self.fence,
            &self.stats,
            CommitWait::Api(self.timeout),
            self.has_group,
            offsets,
        )
    }
}

/// How long a commit may take.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CommitWait {
    /// A call's `default_api_timeout`: the caller hears within it plus a second.
    Api(Duration),
    /// Part of a close's budget: the caller stops waiting at the end of it.
    Strict(Duration),
}

/// Sends a commit to the I/O thread and waits for its outcome, which the fence notes.
pub(crate) fn commit_and_wait(
    commands: &CommandSender<ConsumerCommand>,
    fence: &CommitFence,
    stats: &ConsumerStats,
    wait: CommitWait,
    has_group: bool,
    offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
) -> Result<()> {
    if !has_group {
        return Err(Error::GroupIdRequired {
            operation: "commit",
        });
    }
    if offsets.is_empty() {
        return Ok(());
    }
    let (timeout, slack) = match wait {
        CommitWait::Api(t) => (t, Duration::from_secs(1)),
        CommitWait::Strict(t) => (t, Duration::ZERO),
    };
    let (reply, rx) = sync_channel(1);
    let sent_at = fence.assignments();
    let started = Instant::now();
    commands.send(ConsumerCommand::Commit {
        offsets,
        deadline: crate::deadline::from_now(timeout),
        reply,
    })?;
    let result = match rx.recv_timeout(timeout + slack) {
        Ok(r) => r,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            Err(Error::timeout("the offset commit", timeout))
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(Error::Closed),
    };
    fence.note(&result, sent_at);
    stats.on_commit(started.elapsed());
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_commit_fences_until_the_next_assignment() {
        let fence = CommitFence::default();
        let refused = Err(Error::broker(ErrorCode::ILLEGAL_GENERATION, None));
        fence.note(&Ok(()), 0);
        fence.note(&Err(Error::broker(ErrorCode::NOT_COORDINATOR, None)), 0);
        assert!(!fence.is_fenced(), "other outcomes do not fence");
        fence.note(&refused, 0);
        assert!(fence.is_fenced());
        fence.on_assigned();
        assert!(!fence.is_fenced());
        fence.note(&refused, 0);
        assert!(
            !fence.is_fenced(),
            "an assignment after the commit was sent settled it"
        );
        fence.note(
            &Err(Error::broker(ErrorCode::REBALANCE_IN_PROGRESS, None)),
            1,
        );
        assert!(fence.is_fenced());
        fence.lift();
        assert!(!fence.is_fenced());
    }
}
