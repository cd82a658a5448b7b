//! The consumer's user-thread state: assignment, positions, the records being handed out,
//! commits, and the rebalance callbacks. [`Consumer`](super::Consumer) wraps it with
//! deserializers; [`RebalanceContext`] lends it to rebalance listeners.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{ConsumerConfig, IsolationLevel};
use crate::error::{Error, Result};
use crate::net::io_thread::{CommandSender, IoHandle};
use crate::TopicPartition;

use super::buffer::{FetchBuffer, FetchedData, Item, Next, Seq};
use super::committer::{commit_and_wait, CommitFence, CommitWait};
use super::driver::{Committed, ConsumerCommand, PollClock};
use super::group::GroupEvent;
use super::listener::ConsumerRebalanceListener;
use super::metrics::{ConsumerMetrics, ConsumerStats};
use super::offsets::OffsetSpec;
use super::reader::{PartitionReader, RawRecord};
use super::record::OffsetAndMetadata;

/// How the consumer gets its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    None,
    Subscribed(BTreeSet<String>),
    Pattern(String),
    Assigned,
}

#[derive(Debug, Clone, Default)]
struct PartitionState {
    /// The next offset to hand out (last consumed + 1), once known.
    position: Option<i64>,
    /// Bumped by every seek, to recognise data fetched before it.
    epoch: u64,
    paused: bool,
    high_watermark: Option<i64>,
    leader_epoch: Option<i32>,
    /// A `seek_to_beginning`/`seek_to_end` whose offset is not known yet: `commit()`
    /// looks it up first, so it commits the reset position.
    reset_pending: bool,
}

/// Receives each record handed out: topic (shared), partition, record.
pub(crate) type RecordSink<'a> =
    dyn FnMut(&Arc<str>, &TopicPartition, RawRecord) -> Result<()> + 'a;

/// Between waits, auto-commit checks the clock once per this many records handed out.
const AUTO_COMMIT_CLOCK_EVERY: usize = 64;

/// An async commit's reply, its callback, the assignment count when it was sent, and
/// when it was sent.
type AsyncCommit = (
    Receiver<Result<()>>,
    Box<dyn FnOnce(Result<()>) + Send>,
    u64,
    Instant,
);

pub(crate) struct ConsumerCore {
    pub(crate) io: IoHandle<ConsumerCommand>,
    pub(crate) config: Arc<ConsumerConfig>,
    pub(crate) buffer: Arc<FetchBuffer>,
    clock: Arc<PollClock>,
    pub(crate) mode: Mode,
    assignment: BTreeMap<TopicPartition, PartitionState>,
    readers: VecDeque<PartitionReader>,
    /// Readers of paused partitions, kept until they resume.
    parked: Vec<PartitionReader>,
    pub(crate) listener: Option<Box<dyn ConsumerRebalanceListener>>,
    async_commits: Vec<AsyncCommit>,
    last_auto_commit: Instant,
    /// Records handed out since auto-commit last looked at the clock.
    handed_out_since_clock: usize,
    topic_names: HashMap<String, Arc<str>>,
    /// A record that could not be read after others were collected in the same poll:
    /// those go out first, this error with the next call (as the Java client does).
    pending_error: Option<(TopicPartition, Error)>,
    /// Set when a commit found the member out of its generation (or the group
    /// rebalancing): no record goes out until the next assignment, since the partitions
    /// may belong to another member by now. Shared with the [`Committer`]s.
    pub(crate) fence: Arc<CommitFence>,
    pub(crate) commands: CommandSender<ConsumerCommand>,
    pub(crate) stats: Arc<ConsumerStats>,
    /// The last group event applied: a seek names it, so the I/O thread can tell a seek
    /// of a partition that an event not yet seen here has taken away since.
    events_seen: Seq,
}

impl ConsumerCore {
    pub fn new(
        io: IoHandle<ConsumerCommand>,
        config: Arc<ConsumerConfig>,
        buffer: Arc<FetchBuffer>,
        clock: Arc<PollClock>,
        stats: Arc<ConsumerStats>,
    ) -> Self {
        ConsumerCore {
            commands: io.sender(),
            io,
            config,
            buffer,
            clock,
            mode: Mode::None,
            assignment: BTreeMap::new(),
            readers: VecDeque::new(),
            parked: Vec::new(),
            listener: None,
            async_commits: Vec::new(),
            last_auto_commit: Instant::now(),
            handed_out_since_clock: 0,
            events_seen: 0,
            topic_names: HashMap::new(),
            pending_error: None,
            fence: Arc::new(CommitFence::default()),
            stats,
        }
    }

    fn send(&self, cmd: ConsumerCommand) -> Result<()> {
        self.io.send(cmd)
    }

    fn has_group(&self) -> bool {
        self.config.group_id.is_some()
    }

    fn auto_commit(&self) -> bool {
        self.config.enable_auto_commit && self.has_group()
    }

    // ----- assignment -----

    pub fn subscribe(&mut self, topics: BTreeSet<String>) -> Result<()> {
        if self.mode == Mode::Assigned {
            return Err(Error::IllegalState(
                "subscribe after assign; call unsubscribe() first".into(),
            ));
        }
        if !self.has_group() {
            return Err(Error::GroupIdRequired {
                operation: "subscribe",
            });
        }
        if topics.iter().any(String::is_empty) {
            return Err(Error::InvalidArgument("empty topic name".into()));
        }
        self.mode = Mode::Subscribed(topics.clone());
        self.fence.lift();
        self.send(ConsumerCommand::Subscribe(topics))
    }

    pub fn subscribe_pattern(&mut self, pattern: &str) -> Result<()> {
        if self.mode == Mode::Assigned {
            return Err(Error::IllegalState(
                "subscribe after assign; call unsubscribe() first".into(),
            ));
        }
        if !self.has_group() {
            return Err(Error::GroupIdRequired {
                operation: "subscribe",
            });
        }
        let re = regex::Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| Error::InvalidArgument(format!("bad topic pattern {pattern:?}: {e}")))?;
        self.mode = Mode::Pattern(pattern.to_owned());
        self.send(ConsumerCommand::SubscribePattern(re))
    }

    pub fn assign(&mut self, partitions: Vec<TopicPartition>) -> Result<()> {
        if matches!(self.mode, Mode::Subscribed(_) | Mode::Pattern(_)) {
            return Err(Error::IllegalState(
                "assign after subscribe; call unsubscribe() first".into(),
            ));
        }
        let wanted: BTreeSet<TopicPartition> = partitions.iter().cloned().collect();
        self.assignment.retain(|tp, _| wanted.contains(tp));
        for tp in &wanted {
            self.assignment.entry(tp.clone()).or_default();
        }
        self.drop_unassigned(None);
        self.fence.lift();
        self.mode = if wanted.is_empty() {
            Mode::None
        } else {
            Mode::Assigned
        };
        self.send(ConsumerCommand::Assign(wanted.into_iter().collect()))
    }

    pub fn unsubscribe(&mut self) -> Result<()> {
        if matches!(self.mode, Mode::Subscribed(_) | Mode::Pattern(_))
            && !self.assignment.is_empty()
        {
            if self.auto_commit() {
                if let Err(e) = self.commit_positions() {
                    log::warn!("auto-commit before unsubscribe failed: {e}");
                }
            }
            let revoked: Vec<TopicPartition> = self.assignment.keys().cloned().collect();
            self.call_listener(|l, ctx| l.on_partitions_revoked(ctx, &revoked));
        }
        self.assignment.clear();
        self.drop_unassigned(None);
        self.fence.lift();
        self.mode = Mode::None;
        self.send(ConsumerCommand::Unsubscribe)
    }

    pub fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.assignment.keys().cloned().collect()
    }

    /// Forgets what was fetched for partitions no longer assigned: everything queued, or
    /// (applying the event `before`) what was queued before that event.
    fn drop_unassigned(&mut self, before: Option<Seq>) {
        let assigned = &self.assignment;
        self.readers
            .retain(|r| assigned.get(&r.tp).is_some_and(|s| s.epoch == r.epoch));
        self.parked.retain(|r| assigned.contains_key(&r.tp));
        self.buffer.retain(before, |tp| assigned.contains_key(tp));
        if self
            .pending_error
            .as_ref()
            .is_some_and(|(tp, _)| !assigned.contains_key(tp))
        {
            self.pending_error = None;
        }
    }

    fn state(&mut self, tp: &TopicPartition) -> Result<&mut PartitionState> {
        self.assignment
            .get_mut(tp)
            .ok_or_else(|| Error::IllegalState(format!("{tp} is not assigned to this consumer")))
    }

    // ----- positions -----

    pub fn seek(&mut self, tp: &TopicPartition, offset: i64) -> Result<()> {
        if offset < 0 {
            return Err(Error::InvalidArgument(format!(
                "seek to negative offset {offset}"
            )));
        }
        let st = self.state(tp)?;
        st.epoch += 1;
        st.position = Some(offset);
        let epoch = st.epoch;
        self.readers.retain(|r| &r.tp != tp);
        self.parked.retain(|r| &r.tp != tp);
        self.forget_error_of(tp);
        self.send(ConsumerCommand::Seek {
            tp: tp.clone(),
            offset,
            epoch,
            seen: self.events_seen,
        })
    }

    pub fn seek_to(&mut self, partitions: &[TopicPartition], spec: OffsetSpec) -> Result<()> {
        let targets: Vec<TopicPartition> = if partitions.is_empty() {
            self.assignment.keys().cloned().collect()
        } else {
            partitions.to_vec()
        };
        for tp in targets {
            let st = self.state(&tp)?;
            st.epoch += 1;
            st.position = None;
            st.reset_pending = true;
            let epoch = st.epoch;
            self.readers.retain(|r| r.tp != tp);
            self.parked.retain(|r| r.tp != tp);
            self.forget_error_of(&tp);
            self.send(ConsumerCommand::Reset {
                tp,
                spec,
                epoch,
                seen: self.events_seen,
            })?;
        }
        Ok(())
    }

    /// A seek replaces the failed record's error: the user chose where to go on.
    fn forget_error_of(&mut self, tp: &TopicPartition) {
        if self.pending_error.as_ref().is_some_and(|(t, _)| t == tp) {
            self.pending_error = None;
        }
    }

    /// The offset of the next record `poll` will return for `tp`, waiting (up to
    /// `default_api_timeout`) while it is being looked up.
    pub fn position(&mut self, tp: &TopicPartition) -> Result<i64> {
        let deadline = crate::deadline::from_now(self.config.default_api_timeout);
        loop {
            if let Some(p) = self.state(tp)?.position {
                return Ok(p);
            }
            match self.pump(Some(deadline))? {
                Pumped::TimedOut => {
                    return Err(Error::timeout(
                        format!("the position of {tp}"),
                        self.config.default_api_timeout,
                    ))
                }
                Pumped::Progress => {}
            }
        }
    }

    /// The counters, with each partition's lag: high watermark minus position, where
    /// both are known.
    pub fn metrics(&self) -> ConsumerMetrics {
        let lags = self.assignment.iter().filter_map(|(tp, s)| {
            let (hw, pos) = (s.high_watermark?, s.position?);
            Some((tp.clone(), (hw - pos).max(0)))
        });
        self.stats.snapshot(lags)
    }

    pub fn highwater(&self, tp: &TopicPartition) -> Option<i64> {
        self.assignment.get(tp).and_then(|s| s.high_watermark)
    }

    pub fn pause(&mut self, partitions: &[TopicPartition], paused: bool) -> Result<()> {
        for tp in partitions {
            self.state(tp)?.paused = paused;
        }
        if !paused {
            // Resumed partitions' held-back data goes first again.
            let (resumed, still): (Vec<_>, Vec<_>) = std::mem::take(&mut self.parked)
                .into_iter()
                .partition(|r| partitions.contains(&r.tp));
            self.parked = still;
            for r in resumed.into_iter().rev() {
                self.readers.push_front(r);
            }
        }
        self.send(ConsumerCommand::Pause {
            partitions: partitions.to_vec(),
            paused,
        })
    }

    pub fn paused(&self) -> BTreeSet<TopicPartition> {
        self.assignment
            .iter()
            .filter(|(_, s)| s.paused)
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    // ----- commits -----

    /// Offsets to commit for everything consumed so far (position = last + 1).
    fn consumed_offsets(&self) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        self.assignment
            .iter()
            .filter_map(|(tp, s)| {
                s.position.map(|p| {
                    let mut om = OffsetAndMetadata::new(p);
                    om.leader_epoch = s.leader_epoch;
                    (tp.clone(), om)
                })
            })
            .collect()
    }

    pub fn commit_positions(&mut self) -> Result<()> {
        self.finish_async_commits();
        // A lazy seek_to_beginning/end is resolved first, so its position is committed.
        let pending: Vec<TopicPartition> = self
            .assignment
            .iter()
            .filter(|(_, s)| s.reset_pending && s.position.is_none())
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in &pending {
            self.position(tp)?;
        }
        let offsets = self.consumed_offsets();
        self.commit_offsets(offsets)
    }

    pub fn commit_offsets(
        &mut self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<()> {
        // Callbacks of async commits run here too (as in the Java client), before and
        // after: commits complete in order, so those sent earlier are done by now.
        self.finish_async_commits();
        let result = commit_and_wait(
            &self.commands,
            &self.fence,
            &self.stats,
            CommitWait::Api(self.config.default_api_timeout),
            self.has_group(),
            offsets,
        );
        self.finish_async_commits();
        result
    }

    /// True when the group may have moved this member's partitions elsewhere: nothing
    /// is handed out until it assigns again.
    fn fenced(&self) -> bool {
        matches!(self.mode, Mode::Subscribed(_) | Mode::Pattern(_)) && self.fence.is_fenced()
    }

    pub fn commit_async(
        &mut self,
        offsets: Option<BTreeMap<TopicPartition, OffsetAndMetadata>>,
        callback: Box<dyn FnOnce(Result<()>) + Send>,
    ) -> Result<()> {
        if !self.has_group() {
            return Err(Error::GroupIdRequired {
                operation: "commit",
            });
        }
        let offsets = offsets.unwrap_or_else(|| self.consumed_offsets());
        let (reply, rx) = sync_channel(1);
        self.send(ConsumerCommand::Commit {
            offsets,
            deadline: crate::deadline::from_now(self.config.default_api_timeout),
            reply,
        })?;
        self.async_commits
            .push((rx, callback, self.fence.assignments(), Instant::now()));
        Ok(())
    }

    /// Runs the callbacks of async commits that have completed.
    fn finish_async_commits(&mut self) {
        let mut i = 0;
        while i < self.async_commits.len() {
            match self.async_commits[i].0.try_recv() {
                Ok(r) => {
                    let (_, cb, sent_at, started) = self.async_commits.swap_remove(i);
                    self.fence.note(&r, sent_at);
                    self.stats.on_commit(started.elapsed());
                    cb(r);
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => i += 1,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    let (_, cb, _, _) = self.async_commits.swap_remove(i);
                    cb(Err(Error::Closed));
                }
            }
        }
    }

    /// Commits consumed offsets when `auto_commit_interval` has passed. Between waits the
    /// clock is read once per [`AUTO_COMMIT_CLOCK_EVERY`] records, not per record.
    fn maybe_auto_commit(&mut self, waited: bool) {
        if !self.auto_commit() || (!waited && self.handed_out_since_clock < AUTO_COMMIT_CLOCK_EVERY)
        {
            return;
        }
        self.handed_out_since_clock = 0;
        if self.last_auto_commit.elapsed() < self.config.auto_commit_interval {
            return;
        }
        self.last_auto_commit = Instant::now();
        let offsets = self.consumed_offsets();
        if offsets.is_empty() {
            return;
        }
        let cb = Box::new(|r: Result<()>| {
            if let Err(e) = r {
                log::warn!("auto-commit failed: {e}");
            }
        });
        if let Err(e) = self.commit_async(Some(offsets), cb) {
            log::warn!("auto-commit failed: {e}");
        }
    }

    pub fn committed(&mut self, partitions: Vec<TopicPartition>) -> Result<Committed> {
        let timeout = self.config.default_api_timeout;
        let (reply, rx) = sync_channel(1);
        self.send(ConsumerCommand::Committed {
            partitions,
            deadline: crate::deadline::from_now(timeout),
            reply,
        })?;
        recv(rx, timeout, "committed offsets")
    }

    /// The group id, generation, member id and group instance id (KIP-447).
    pub fn group_metadata(&self) -> Result<crate::consumer::ConsumerGroupMetadata> {
        let Some(group_id) = self.config.group_id.clone() else {
            return Err(Error::IllegalState(
                "group_metadata needs a consumer with a group_id".into(),
            ));
        };
        let timeout = self.config.default_api_timeout;
        let (reply, rx) = sync_channel(1);
        self.send(ConsumerCommand::GroupMetadata(reply))?;
        let (generation_id, member_id) = recv(rx, timeout, "the group membership")?;
        Ok(crate::consumer::ConsumerGroupMetadata {
            group_id,
            generation_id,
            member_id,
            group_instance_id: self.config.group_instance_id.clone(),
        })
    }

    // ----- polling -----

    /// Hands out up to `max` records through `sink`, waiting up to `timeout` for the
    /// first. Returns how many were handed out (0 on timeout).
    pub fn poll_raw(
        &mut self,
        timeout: Option<Duration>,
        max: usize,
        sink: &mut RecordSink<'_>,
    ) -> Result<usize> {
        self.clock.in_poll.store(true, Ordering::Relaxed);
        self.clock.count_poll();
        if self.clock.wake_on_poll.load(Ordering::Relaxed) {
            self.clock.wake_on_poll.store(false, Ordering::Relaxed);
            self.io.wake();
        }
        let result = self.poll_inner(timeout, max, sink);
        if let Ok(n) = result {
            self.stats.on_consumed(n);
        }
        self.clock.in_poll.store(false, Ordering::Relaxed);
        self.clock.count_poll();
        result
    }

    fn poll_inner(
        &mut self,
        timeout: Option<Duration>,
        max: usize,
        sink: &mut RecordSink<'_>,
    ) -> Result<usize> {
        // The clock is read only once records run out and a wait begins: handing out a
        // buffered record costs less than reading it.
        let mut deadline = None;
        if self.mode == Mode::None && self.assignment.is_empty() {
            return Err(Error::IllegalState(
                "no subscription or assignment; call subscribe() or assign() first".into(),
            ));
        }
        if let Some((_, error)) = self.pending_error.take() {
            return Err(error);
        }
        let mut waited = false;
        loop {
            self.finish_async_commits();
            self.maybe_auto_commit(waited);
            // Rebalances first: a revoke runs now, not after the prefetched records.
            while let Some((seq, event)) = self.buffer.take_event() {
                self.on_group_event(seq, event)?;
            }
            let n = self.drain_readers(max, sink)?;
            if n > 0 {
                self.handed_out_since_clock += n;
                return Ok(n);
            }
            if self.buffer.has_events() {
                continue;
            }
            waited = true;
            let until = *deadline.get_or_insert_with(|| timeout.map(crate::deadline::from_now));
            // An idle consumer still auto-commits on time: the wait ends for it.
            let wait = match self.next_auto_commit() {
                Some(t) => Some(until.map_or(t, |u| u.min(t))),
                None => until,
            };
            match self.pump(wait)? {
                Pumped::TimedOut if wait == until => {
                    self.maybe_auto_commit(true);
                    return Ok(0);
                }
                Pumped::TimedOut | Pumped::Progress => {}
            }
        }
    }

    /// When auto-commit is next due, if it is on.
    fn next_auto_commit(&self) -> Option<Instant> {
        self.auto_commit()
            .then(|| self.last_auto_commit + self.config.auto_commit_interval)
    }

    /// Hands out records from the decoded fetches in arrival order.
    fn drain_readers(&mut self, max: usize, sink: &mut RecordSink<'_>) -> Result<usize> {
        let mut n = 0;
        if self.fenced() {
            return Ok(0);
        }
        // A group event waiting (checked per record, one atomic load) ends the batch.
        while n < max && !self.buffer.has_events() {
            let Some(reader) = self.readers.front_mut() else {
                break;
            };
            let Some(st) = self
                .assignment
                .get_mut(&reader.tp)
                .filter(|s| s.epoch == reader.epoch)
            else {
                self.readers.pop_front();
                continue;
            };
            if st.paused {
                if let Some(r) = self.readers.pop_front() {
                    self.parked.push(r);
                }
                continue;
            }
            let position = st.position.unwrap_or(0);
            let failed = match reader.next_record(position) {
                Some(Ok(raw)) => {
                    let (offset, leader_epoch) = (raw.record.offset, raw.leader_epoch);
                    match sink(&reader.topic, &reader.tp, raw) {
                        Ok(()) => {
                            st.position = Some(offset + 1);
                            if leader_epoch.is_some() {
                                st.leader_epoch = leader_epoch;
                            }
                            n += 1;
                            continue;
                        }
                        Err(e) => (offset, e),
                    }
                }
                Some(Err(e)) => (position, e),
                None => {
                    st.position = Some(position.max(reader.end_offset));
                    st.high_watermark = Some(reader.high_watermark);
                    self.readers.pop_front();
                    continue;
                }
            };
            return self.record_failed(failed, n);
        }
        Ok(n)
    }

    /// The front reader's record at `offset` could not be read. The records collected
    /// before it go out now and the error with the next call; the position stays at the
    /// bad record, fetched again from there, so polling on meets it again until the user
    /// seeks past it (as the Java client).
    fn record_failed(&mut self, (offset, error): (i64, Error), handed_out: usize) -> Result<usize> {
        let Some(reader) = self.readers.pop_front() else {
            return Err(error);
        };
        // Data that does not decode already names its partition and offset.
        let error = match error {
            e @ Error::CorruptRecords { .. } => e,
            e => Error::Record {
                partition: reader.tp.clone(),
                offset,
                source: Box::new(e),
            },
        };
        self.seek(&reader.tp, offset)?;
        if handed_out == 0 {
            return Err(error);
        }
        self.pending_error = Some((reader.tp, error));
        Ok(handed_out)
    }

    /// Takes one thing from the I/O thread and applies it.
    fn pump(&mut self, deadline: Option<Instant>) -> Result<Pumped> {
        let (next, refill) = self.buffer.next_of(deadline, !self.fenced());
        if refill {
            self.io.wake();
        }
        match next {
            Next::Woken => Err(Error::Wakeup),
            Next::CommitDone => Ok(Pumped::Progress),
            Next::TimedOut => Ok(Pumped::TimedOut),
            Next::Closed => Err(Error::Closed),
            Next::Group(seq, event) => self.on_group_event(seq, event).map(|()| Pumped::Progress),
            Next::Item(Item::Data(data)) => {
                self.accept_data(data);
                Ok(Pumped::Progress)
            }
            Next::Item(Item::Position { tp, epoch, offset }) => {
                if let Some(st) = self.assignment.get_mut(&tp).filter(|s| s.epoch == epoch) {
                    st.position = Some(offset);
                }
                Ok(Pumped::Progress)
            }
            Next::Item(Item::PartitionError { tp, epoch, error }) => {
                match self.assignment.get(&tp) {
                    Some(st) if st.epoch == epoch => Err(error),
                    _ => Ok(Pumped::Progress),
                }
            }
        }
    }

    fn accept_data(&mut self, data: FetchedData) {
        let Some(st) = self
            .assignment
            .get_mut(&data.tp)
            .filter(|s| s.epoch == data.epoch)
        else {
            return;
        };
        match st.position {
            // A position always comes before the data fetched from it (a Position item
            // or a seek): data first is left over from an earlier assignment.
            None => {
                log::debug!(
                    "dropping data for {} at {} (position not known yet)",
                    data.tp,
                    data.fetch_offset
                );
                return;
            }
            Some(p) if p != data.fetch_offset => {
                log::debug!(
                    "dropping data for {} at {} (position {p})",
                    data.tp,
                    data.fetch_offset
                );
                return;
            }
            Some(_) => {}
        }
        st.high_watermark = Some(data.high_watermark);
        self.stats.on_fetched_bytes(data.records.len());
        let topic = match self.topic_names.get(&data.tp.topic) {
            Some(t) => t.clone(),
            None => {
                let t: Arc<str> = Arc::from(data.tp.topic.as_str());
                self.topic_names.insert(data.tp.topic.clone(), t.clone());
                t
            }
        };
        let read_committed = self.config.isolation_level == IsolationLevel::ReadCommitted;
        self.readers.push_back(PartitionReader::new(
            data,
            topic,
            self.config.check_crcs,
            read_committed,
            self.config.skip_double_compressed_messages,
        ));
    }

    fn on_group_event(&mut self, seq: Seq, event: GroupEvent) -> Result<()> {
        self.events_seen = seq;
        match event {
            GroupEvent::Revoke(partitions) => {
                let revoked: Vec<TopicPartition> = partitions
                    .into_iter()
                    .filter(|tp| self.assignment.contains_key(tp))
                    .collect();
                if !revoked.is_empty() {
                    if self.auto_commit() {
                        let offsets: BTreeMap<_, _> = self
                            .consumed_offsets()
                            .into_iter()
                            .filter(|(tp, _)| revoked.contains(tp))
                            .collect();
                        if let Err(e) = self.commit_offsets(offsets) {
                            log::warn!("auto-commit before revoke failed: {e}");
                        }
                    }
                    self.call_listener(|l, ctx| l.on_partitions_revoked(ctx, &revoked));
                    for tp in &revoked {
                        self.assignment.remove(tp);
                    }
                    self.drop_unassigned(Some(seq));
                }
                self.send(ConsumerCommand::RevokeDone)
            }
            GroupEvent::Assigned {
                added, assignment, ..
            } => {
                self.fence.on_assigned();
                let keep: BTreeSet<&TopicPartition> = assignment.iter().collect();
                self.assignment.retain(|tp, _| keep.contains(tp));
                for tp in &assignment {
                    self.assignment.entry(tp.clone()).or_default();
                }
                self.drop_unassigned(Some(seq));
                self.call_listener(|l, ctx| l.on_partitions_assigned(ctx, &added));
                Ok(())
            }
            GroupEvent::Lost(partitions) => {
                let lost: Vec<TopicPartition> = partitions
                    .into_iter()
                    .filter(|tp| self.assignment.contains_key(tp))
                    .collect();
                if !lost.is_empty() {
                    self.call_listener(|l, ctx| l.on_partitions_lost(ctx, &lost));
                    for tp in &lost {
                        self.assignment.remove(tp);
                    }
                    self.drop_unassigned(Some(seq));
                }
                Ok(())
            }
            GroupEvent::Error(e) => Err(e),
            GroupEvent::Committed { .. } => Ok(()),
        }
    }

    fn call_listener(
        &mut self,
        f: impl FnOnce(&mut dyn ConsumerRebalanceListener, &mut RebalanceContext<'_>),
    ) {
        if let Some(mut listener) = self.listener.take() {
            let mut ctx = RebalanceContext { core: self };
            f(listener.as_mut(), &mut ctx);
            self.listener = Some(listener);
        }
    }

    /// Commits (with auto-commit on), leaves the group and stops the I/O thread, all
    /// within `timeout`: the commit may use half of it, the leave and the thread's stop
    /// the rest.
    pub fn close(&mut self, timeout: Duration, autocommit: bool) {
        let deadline = crate::deadline::from_now(timeout);
        if autocommit && self.auto_commit() && !self.io.is_closed() {
            let offsets = self.consumed_offsets();
            let commit = commit_and_wait(
                &self.commands,
                &self.fence,
                &self.stats,
                CommitWait::Strict(timeout / 2),
                self.has_group(),
                offsets,
            );
            if let Err(e) = commit {
                log::warn!("auto-commit on close failed: {e}");
            }
        }
        self.finish_async_commits();
        self.io
            .close(deadline.saturating_duration_since(Instant::now()));
        self.buffer.close();
    }
}

enum Pumped {
    Progress,
    TimedOut,
}

fn recv<T>(rx: Receiver<Result<T>>, timeout: Duration, what: &str) -> Result<T> {
    match rx.recv_timeout(timeout.saturating_add(Duration::from_secs(1))) {
        Ok(r) => r,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(Error::timeout(what, timeout)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(Error::Closed),
    }
}

/// The consumer as a rebalance listener sees it: commits, positions and seeks on the
/// polling thread, while the rebalance waits.
pub struct RebalanceContext<'a> {
    core: &'a mut ConsumerCore,
}

impl std::fmt::Debug for RebalanceContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RebalanceContext")
            .field("assignment", &self.core.assignment())
            .finish_non_exhaustive()
    }
}

impl RebalanceContext<'_> {
    /// Commits the positions of every assigned partition.
    pub fn commit(&mut self) -> Result<()> {
        self.core.commit_positions()
    }

    /// Commits the given offsets (each the next offset to read).
    pub fn commit_offsets(
        &mut self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<()> {
        self.core.commit_offsets(offsets)
    }

    /// The next offset to read for a partition still assigned.
    pub fn position(&mut self, tp: &TopicPartition) -> Result<i64> {
        self.core.position(tp)
    }

    /// Moves a partition's position.
    pub fn seek(&mut self, tp: &TopicPartition, offset: i64) -> Result<()> {
        self.core.seek(tp, offset)
    }

    /// Partitions assigned right now.
    pub fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.core.assignment()
    }

    /// Committed offsets of the group.
    pub fn committed(&mut self, partitions: Vec<TopicPartition>) -> Result<Committed> {
        self.core.committed(partitions)
    }
}
