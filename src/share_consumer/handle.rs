//! [`ShareConsumer`]: the user-side handle of a share group member.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::net::io_thread::IoHandle;
use crate::TopicPartition;

use super::acknowledgements::{Acknowledgements, PartitionAcks, Source};
use super::builder::{CommitCallback, ShareConsumerBuilder};
use super::config::ShareConsumerConfig;
use super::decode::decode;
use super::driver::{ShareCommand, ShareEvent};
use super::record::{AcknowledgeType, AcknowledgementMode, AcknowledgementResult, ShareRecord};

/// Per-partition outcomes of a [`ShareConsumer::commit_sync`].
pub type CommitResults = BTreeMap<TopicPartition, Result<()>>;

/// A member of a share group (KIP-932): records of the subscribed topics are shared
/// among the group's members, each record acknowledged one by one. `Send`, used from
/// one thread; a background thread heartbeats and fetches.
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// use std::time::Duration;
/// use kafka_sync::share_consumer::ShareConsumer;
/// let mut consumer = ShareConsumer::builder()
///     .bootstrap_servers("127.0.0.1:9092")
///     .group_id("work-queue")
///     .consumer_timeout(Duration::from_secs(5))
///     .build()?;
/// consumer.subscribe(["jobs"])?;
/// for record in &mut consumer {
///     let record = record?;
///     println!("job {:?} (delivery {})", record.value, record.delivery_count);
/// } // implicit mode: each poll accepts the records of the one before
/// consumer.close(Duration::from_secs(5));
/// # Ok(()) }
/// ```
pub struct ShareConsumer {
    io: IoHandle<ShareCommand>,
    config: Arc<ShareConsumerConfig>,
    events: Receiver<ShareEvent>,
    acks: Acknowledgements,
    /// Decoded records not handed out yet.
    ready: VecDeque<(ShareRecord, Source)>,
    polls: u64,
    callback: Option<CommitCallback>,
    next_commit: u64,
    /// Results waiting for the callback.
    unreported: Vec<AcknowledgementResult>,
    subscription: BTreeSet<String>,
    /// Records `poll` returned that the iterator has not yielded yet.
    iterating: VecDeque<ShareRecord>,
}

impl ShareConsumer {
    /// A builder; `group_id` is required.
    ///
    /// # Examples
    /// ```
    /// let builder = kafka_sync::share_consumer::ShareConsumer::builder().group_id("jobs");
    /// ```
    pub fn builder() -> ShareConsumerBuilder {
        ShareConsumerBuilder::new()
    }

    pub(super) fn new(
        io: IoHandle<ShareCommand>,
        config: Arc<ShareConsumerConfig>,
        events: Receiver<ShareEvent>,
        callback: Option<CommitCallback>,
    ) -> Self {
        ShareConsumer {
            io,
            config,
            events,
            acks: Acknowledgements::default(),
            ready: VecDeque::new(),
            polls: 0,
            callback,
            next_commit: 0,
            unreported: Vec::new(),
            subscription: BTreeSet::new(),
            iterating: VecDeque::new(),
        }
    }

    /// Joins the share group for `topics` (replacing any earlier subscription).
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let mut consumer = kafka_sync::share_consumer::ShareConsumer::builder().group_id("g").build()?;
    /// consumer.subscribe(["jobs", "retries"])?;
    /// # Ok(()) }
    /// ```
    pub fn subscribe<I, S>(&mut self, topics: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let topics: BTreeSet<String> = topics.into_iter().map(|t| t.as_ref().to_owned()).collect();
        if topics.iter().any(|t| t.is_empty()) {
            return Err(Error::InvalidArgument(
                "topic names may not be empty".into(),
            ));
        }
        self.subscription = topics.clone();
        self.io.send(ShareCommand::Subscribe(topics))
    }

    /// The subscribed topics.
    pub fn subscription(&self) -> BTreeSet<String> {
        self.subscription.clone()
    }

    /// The acknowledgement mode this consumer was built with.
    pub fn acknowledgement_mode(&self) -> AcknowledgementMode {
        self.config.acknowledgement_mode
    }

    /// Up to `max_poll_records` records, waiting up to `timeout` for some; empty when
    /// none came. In implicit mode the records of the previous poll that were not
    /// acknowledged are accepted first; in explicit mode they must all have been
    /// acknowledged ([`Error::IllegalState`] otherwise). The acknowledgements ride on
    /// the next ShareFetch. The commit callback runs here, on this thread.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let mut consumer = kafka_sync::share_consumer::ShareConsumer::builder().group_id("g").build()?;
    /// consumer.subscribe(["jobs"])?;
    /// let records = consumer.poll(std::time::Duration::from_millis(500))?;
    /// # Ok(()) }
    /// ```
    pub fn poll(&mut self, timeout: Duration) -> Result<Vec<ShareRecord>> {
        if self.subscription.is_empty() {
            return Err(Error::IllegalState(
                "the share consumer is not subscribed to any topic".into(),
            ));
        }
        let deadline = crate::deadline::from_now(timeout);
        self.drain_events(None)?;
        match self.config.acknowledgement_mode {
            AcknowledgementMode::Implicit => self.acks.accept_rest(),
            AcknowledgementMode::Explicit => self.acks.check_all_acknowledged()?,
        }
        self.iterating.clear();
        let acks = self.take_acks();
        self.polls += 1;
        if self.ready.is_empty() {
            self.io.send(ShareCommand::Fetch(acks))?;
        } else if !acks.is_empty() {
            self.io
                .send(ShareCommand::Acknowledge { acks, commit: None })?;
        }
        let outcome = loop {
            let records = self.hand_out();
            if !records.is_empty() {
                break Ok(records);
            }
            match self.next_event(deadline) {
                Ok(true) => continue,
                Ok(false) => break Ok(Vec::new()),
                Err(e) => break Err(e),
            }
        };
        self.run_callback();
        outcome
    }

    /// Acknowledges a record of the latest poll: `Accept`, `Release` (deliver again)
    /// or `Reject` (never again). A record acknowledged twice, one this consumer does
    /// not hold, or in implicit mode one from an earlier poll is
    /// [`Error::IllegalState`]. Sent with the next poll or commit.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use kafka_sync::share_consumer::AcknowledgeType;
    /// # let mut consumer = kafka_sync::share_consumer::ShareConsumer::builder().group_id("g").build()?;
    /// for record in consumer.poll(std::time::Duration::from_secs(1))? {
    ///     consumer.acknowledge(&record, AcknowledgeType::Release)?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn acknowledge(&mut self, record: &ShareRecord, kind: AcknowledgeType) -> Result<()> {
        let tp = record.topic_partition();
        let mode = self.config.acknowledgement_mode;
        self.acks
            .acknowledge(&tp, record.offset, kind, mode, self.polls)
    }

    /// Sends the acknowledgements made so far (in implicit mode, accepting every record
    /// delivered and not acknowledged) and waits up to `timeout` for the broker's
    /// answer, per partition. The commit callback hears the same results.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let mut consumer = kafka_sync::share_consumer::ShareConsumer::builder().group_id("g").build()?;
    /// for (partition, result) in consumer.commit_sync(std::time::Duration::from_secs(5))? {
    ///     if let Err(e) = result { eprintln!("{partition}: {e}"); }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn commit_sync(&mut self, timeout: Duration) -> Result<CommitResults> {
        let deadline = crate::deadline::from_now(timeout);
        if self.config.acknowledgement_mode == AcknowledgementMode::Implicit {
            self.acks.accept_rest();
        }
        let mut results = CommitResults::new();
        let before = self.unreported.len();
        let acks = self.take_acks();
        for r in &self.unreported[before..] {
            results.insert(r.partition.clone(), r.result.clone());
        }
        let mut waiting: BTreeSet<TopicPartition> = acks.iter().map(|a| a.tp.clone()).collect();
        let mut outcome = Ok(());
        if !acks.is_empty() {
            let id = self.next_commit;
            self.next_commit += 1;
            self.io.send(ShareCommand::Acknowledge {
                acks,
                commit: Some(id),
            })?;
            while !waiting.is_empty() {
                match self.next_event_for(deadline, Some(id), &mut results, &mut waiting) {
                    Ok(true) => {}
                    Ok(false) => {
                        let error = Error::timeout("the acknowledgements to be committed", timeout);
                        for tp in std::mem::take(&mut waiting) {
                            results.insert(tp, Err(error.clone()));
                        }
                    }
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                }
            }
        }
        self.run_callback();
        outcome.map(|()| results)
    }

    /// Sends the acknowledgements made so far (in implicit mode, accepting every record
    /// delivered and not acknowledged) without waiting; the commit callback hears the
    /// results during a later poll or commit (`commit_async` included: each call first
    /// reports the results that have come in since the last).
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let mut consumer = kafka_sync::share_consumer::ShareConsumer::builder().group_id("g").build()?;
    /// consumer.commit_async()?;
    /// # Ok(()) }
    /// ```
    pub fn commit_async(&mut self) -> Result<()> {
        self.drain_events(None)?;
        if self.config.acknowledgement_mode == AcknowledgementMode::Implicit {
            self.acks.accept_rest();
        }
        let acks = self.take_acks();
        if !acks.is_empty() {
            self.io
                .send(ShareCommand::Acknowledge { acks, commit: None })?;
        }
        self.run_callback();
        Ok(())
    }

    /// Sends the pending acknowledgements (in implicit mode accepting what was
    /// delivered), closes the share sessions (the broker releases any record still
    /// held) and leaves the group, all within `timeout`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// # let consumer = kafka_sync::share_consumer::ShareConsumer::builder().group_id("g").build()?;
    /// consumer.close(std::time::Duration::from_secs(5));
    /// # Ok(()) }
    /// ```
    pub fn close(mut self, timeout: Duration) {
        let deadline = crate::deadline::from_now(timeout);
        if self.config.acknowledgement_mode == AcknowledgementMode::Explicit
            && self.acks.any_unacknowledged()
        {
            log::debug!("closing with unacknowledged records; the broker releases them");
        }
        if let Err(e) = self.commit_sync(timeout) {
            log::debug!("acknowledging on close failed: {e}");
        }
        self.io
            .close(deadline.saturating_duration_since(Instant::now()));
        let _ = self.drain_events(None);
        self.run_callback();
    }

    /// Iterates over records, polling as needed; ends after `consumer_timeout` without
    /// a record (never, without one).
    pub fn iter(&mut self) -> ShareIter<'_> {
        ShareIter { consumer: self }
    }

    fn take_acks(&mut self) -> Vec<PartitionAcks> {
        let (acks, expired) = self.acks.take(Instant::now());
        self.unreported.extend(expired);
        acks
    }

    /// Hands out up to `max_poll_records` ready records whose lock still holds.
    fn hand_out(&mut self) -> Vec<ShareRecord> {
        let now = Instant::now();
        let mut out = Vec::new();
        while out.len() < self.config.max_poll_records {
            let Some((record, source)) = self.ready.pop_front() else {
                break;
            };
            if source.lock_deadline <= now {
                // The broker has taken it back; it is redelivered, maybe to another member.
                continue;
            }
            self.acks
                .delivered(&record.topic_partition(), record.offset, source, self.polls);
            out.push(record);
        }
        out
    }

    /// Waits for one event until `deadline`; false when none came.
    fn next_event(&mut self, deadline: Instant) -> Result<bool> {
        let mut none = CommitResults::new();
        self.next_event_for(deadline, None, &mut none, &mut BTreeSet::new())
    }

    fn next_event_for(
        &mut self,
        deadline: Instant,
        commit: Option<u64>,
        results: &mut CommitResults,
        waiting: &mut BTreeSet<TopicPartition>,
    ) -> Result<bool> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.events.recv_timeout(wait) {
            Ok(event) => {
                self.on_event(event, commit, results, waiting)?;
                Ok(true)
            }
            Err(RecvTimeoutError::Timeout) => Ok(false),
            Err(RecvTimeoutError::Disconnected) => Err(Error::Closed),
        }
    }

    fn drain_events(&mut self, commit: Option<u64>) -> Result<()> {
        let mut none = CommitResults::new();
        while let Ok(event) = self.events.try_recv() {
            self.on_event(event, commit, &mut none, &mut BTreeSet::new())?;
        }
        Ok(())
    }

    fn on_event(
        &mut self,
        event: ShareEvent,
        commit: Option<u64>,
        results: &mut CommitResults,
        waiting: &mut BTreeSet<TopicPartition>,
    ) -> Result<()> {
        match event {
            ShareEvent::Records(fetched) => {
                let source = Source {
                    node: fetched.node,
                    topic_id: fetched.topic_id,
                    lock_deadline: fetched.lock_deadline,
                    lock: fetched.lock,
                };
                let decoded = decode(&fetched, self.config.check_crcs)?;
                for (first, last, code) in decoded.unhanded {
                    self.acks.unhanded(&fetched.tp, source, (first, last), code);
                }
                self.ready
                    .extend(decoded.records.into_iter().map(|r| (r, source)));
            }
            ShareEvent::Acknowledged(list) => {
                for (c, r) in list {
                    if commit.is_some() && c == commit {
                        waiting.remove(&r.partition);
                        results.insert(r.partition.clone(), r.result.clone());
                    }
                    self.unreported.push(r);
                }
            }
            ShareEvent::Error(e) => return Err(e),
        }
        Ok(())
    }

    /// Runs the commit callback for the results gathered; no lock of ours is held.
    fn run_callback(&mut self) {
        let results = std::mem::take(&mut self.unreported);
        if let Some(cb) = self.callback.as_mut() {
            for r in &results {
                cb(r);
            }
        }
    }
}

/// The iterator of [`ShareConsumer::iter`]: `Item = Result<ShareRecord>`.
pub struct ShareIter<'a> {
    consumer: &'a mut ShareConsumer,
}

impl Iterator for ShareIter<'_> {
    type Item = Result<ShareRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        let c = &mut *self.consumer;
        let limit = c.config.consumer_timeout;
        let started = Instant::now();
        loop {
            if let Some(r) = c.iterating.pop_front() {
                return Some(Ok(r));
            }
            let wait = match limit {
                Some(l) => l.saturating_sub(started.elapsed()),
                None => Duration::from_secs(1),
            };
            match c.poll(wait) {
                Ok(records) if records.is_empty() => {
                    if limit.is_some_and(|l| started.elapsed() >= l) {
                        return None;
                    }
                }
                Ok(records) => c.iterating.extend(records),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl<'a> IntoIterator for &'a mut ShareConsumer {
    type Item = Result<ShareRecord>;
    type IntoIter = ShareIter<'a>;

    fn into_iter(self) -> ShareIter<'a> {
        self.iter()
    }
}

impl std::fmt::Debug for ShareConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareConsumer")
            .field("client_id", &self.config.client.client_id)
            .field("group_id", &self.config.group_id)
            .field("subscription", &self.subscription)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ShareIter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareIter")
            .field("consumer", &self.consumer)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_consumer_moves_between_threads() {
        fn send<T: Send>() {}
        send::<ShareConsumer>();
    }
}
