//! The consumer's fetch pipeline on the I/O thread: positions to fetch from, one Fetch in
//! flight per leader, incremental fetch sessions, offset resets, and the hand-off of
//! fetched record sets to the user thread.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crate::config::{ConsumerConfig, OffsetReset};
use crate::error::{Error, Result};
use crate::net::metadata::NodeId;
use crate::net::network::{Network, Response};
use crate::protocol::api::fetch::{
    FetchPartition, FetchRequest, FetchResponse, FetchTopic, ForgottenTopic,
};
use crate::protocol::codec::DecodeError;
use crate::protocol::error_code::ErrorCode;
use crate::protocol::records;
use crate::TopicPartition;

use super::buffer::{FetchBuffer, FetchedData, Item};
use super::fetch_retry::Retry;
use super::fetch_session::{FetchSession, PartitionFetch};
use super::offsets::{self, OffsetSpec};

/// Fetch v12 is the newest that names topics (v13+ uses topic ids only).
pub(super) const FETCH_MAX_VERSION: i16 = 12;
/// Fetch v4 is the first that returns record batches v2 and aborted transactions.
pub(super) const FETCH_MIN_VERSION: i16 = 4;

/// Where a partition's fetching stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Position {
    /// Waiting for the group's committed offset.
    AwaitingCommitted,
    /// Needs an offset lookup (ListOffsets) with this spec.
    NeedsReset(OffsetSpec),
    /// Lookup in flight.
    Resetting,
    /// Fetching from this offset.
    At(i64),
    /// A reset was needed and the policy is `none`: the user was told; wait for a seek.
    Failed,
}

#[derive(Debug)]
struct PartitionState {
    position: Position,
    /// Bumped by every seek; data fetched under an older epoch is dropped.
    epoch: u64,
    /// Unique to this assignment of the partition: the seek epoch starts again at 0
    /// when a partition is taken away and given back, and an answer to a request sent
    /// before that must not apply to the new state.
    incarnation: u64,
    paused: bool,
    /// A fetch for this partition is in flight.
    in_flight: bool,
    /// Backoff after fetches that failed or returned nothing usable.
    retry: Retry,
}

/// Which state of a partition a request was sent for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    epoch: u64,
    incarnation: u64,
}

/// Requests the fetcher has in flight.
#[derive(Debug)]
pub(crate) enum FetchCtx {
    Fetch {
        node: NodeId,
        /// Each partition's state and the offset asked for: an answer for another
        /// offset than the position's is stale and dropped, as the Java client does.
        asked: HashMap<TopicPartition, (Stamp, i64)>,
        /// When it went out, for the fetch latency.
        sent: Instant,
    },
    ListOffsets {
        asked: HashMap<TopicPartition, Stamp>,
    },
}

pub(crate) struct Fetcher {
    config: Arc<ConsumerConfig>,
    partitions: HashMap<TopicPartition, PartitionState>,
    /// The last incarnation handed to a partition state.
    incarnations: u64,
    sessions: HashMap<NodeId, FetchSession>,
    fetching: HashMap<NodeId, bool>,
    buffer: Arc<FetchBuffer>,
}

impl Fetcher {
    pub fn new(config: Arc<ConsumerConfig>, buffer: Arc<FetchBuffer>) -> Self {
        Fetcher {
            config,
            partitions: HashMap::new(),
            incarnations: 0,
            sessions: HashMap::new(),
            fetching: HashMap::new(),
            buffer,
        }
    }

    /// Sets the partitions to fetch. New ones start by looking up their position: the
    /// committed offset when `use_committed`, else the reset policy.
    pub fn set_assignment(
        &mut self,
        assignment: &[TopicPartition],
        use_committed: bool,
    ) -> Vec<TopicPartition> {
        self.partitions.retain(|tp, _| assignment.contains(tp));
        let mut need_committed = Vec::new();
        for tp in assignment {
            if self.partitions.contains_key(tp) {
                continue;
            }
            let position = if use_committed {
                need_committed.push(tp.clone());
                Position::AwaitingCommitted
            } else {
                Position::NeedsReset(reset_spec(&self.config))
            };
            self.incarnations += 1;
            self.partitions.insert(
                tp.clone(),
                PartitionState {
                    position,
                    epoch: 0,
                    incarnation: self.incarnations,
                    paused: false,
                    in_flight: false,
                    retry: Retry::new(&self.config),
                },
            );
        }
        need_committed
    }

    /// The committed offsets arrived (`None`: nothing committed; use the reset policy).
    pub fn on_committed(&mut self, committed: HashMap<TopicPartition, Option<i64>>) {
        let spec = reset_spec(&self.config);
        for (tp, offset) in committed {
            let Some(st) = self.partitions.get_mut(&tp) else {
                continue;
            };
            if st.position != Position::AwaitingCommitted {
                log::debug!("{tp}: committed offset {offset:?} ignored: a seek came first");
                continue;
            }
            log::debug!("{tp}: starting from the committed offset {offset:?}");
            st.position = match offset {
                Some(o) if o >= 0 => {
                    self.buffer.push_item(Item::Position {
                        tp: tp.clone(),
                        epoch: st.epoch,
                        offset: o,
                    });
                    Position::At(o)
                }
                _ => Position::NeedsReset(spec),
            };
        }
    }

    /// Partitions still waiting for a committed offset (to ask again after an error).
    pub fn awaiting_committed(&self) -> Vec<TopicPartition> {
        self.partitions
            .iter()
            .filter(|(_, s)| s.position == Position::AwaitingCommitted)
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// The user seeked: fetch from `offset` under the new `epoch`.
    pub fn seek(&mut self, tp: &TopicPartition, offset: i64, epoch: u64) {
        log::debug!("{tp}: seek to {offset} (epoch {epoch})");
        if let Some(st) = self.partitions.get_mut(tp) {
            st.position = Position::At(offset);
            st.epoch = epoch;
        }
    }

    /// The user asked for the beginning or end (or a timestamp): look it up under `epoch`.
    pub fn reset(&mut self, tp: &TopicPartition, spec: OffsetSpec, epoch: u64) {
        if let Some(st) = self.partitions.get_mut(tp) {
            st.position = Position::NeedsReset(spec);
            st.epoch = epoch;
        }
    }

    pub fn set_paused(&mut self, tp: &TopicPartition, paused: bool) {
        if let Some(st) = self.partitions.get_mut(tp) {
            st.paused = paused;
        }
    }

    /// Sends offset lookups and fetches that are due. Returns when a partition's retry
    /// backoff ends; otherwise the fetcher is driven by responses and by the user
    /// draining the buffer.
    pub fn poll<C: From<FetchCtx>>(
        &mut self,
        net: &mut Network<C>,
        now: Instant,
    ) -> Option<Instant> {
        self.send_resets(net, now);
        if self.buffer.has_room() {
            self.send_fetches(net, now);
        }
        self.partitions
            .values()
            .filter(|s| matches!(s.position, Position::At(_)) && !s.paused)
            .filter_map(|s| s.retry.not_before.filter(|t| *t > now))
            .min()
    }

    fn send_resets<C: From<FetchCtx>>(&mut self, net: &mut Network<C>, now: Instant) {
        let mut by_node: HashMap<NodeId, Vec<(TopicPartition, OffsetSpec)>> = HashMap::new();
        let mut missing_leader = false;
        let tps: Vec<(TopicPartition, OffsetSpec)> = self
            .partitions
            .iter()
            .filter_map(|(tp, s)| match &s.position {
                Position::NeedsReset(spec) => Some((tp.clone(), *spec)),
                _ => None,
            })
            .collect();
        for (tp, spec) in tps {
            if spec == OffsetSpec::NoReset {
                let epoch = self.partitions.get(&tp).map_or(0, |s| s.epoch);
                self.buffer.push_item(Item::PartitionError {
                    tp: tp.clone(),
                    epoch,
                    error: Error::NoOffset {
                        partition: tp.clone(),
                    },
                });
                if let Some(s) = self.partitions.get_mut(&tp) {
                    s.position = Position::Failed;
                }
                continue;
            }
            match net.cluster().leader(&tp.topic, tp.partition) {
                Some(node) if net.ready_or_connect(node, now) && net.can_send(node) => {
                    by_node.entry(node).or_default().push((tp, spec));
                }
                Some(_) => {}
                None => missing_leader = true,
            }
        }
        if missing_leader {
            net.schedule.request_update();
        }
        for (node, tps) in by_node {
            let req = offsets::list_offsets_request(&tps, self.config.isolation_level);
            let asked: HashMap<TopicPartition, Stamp> = tps
                .iter()
                .filter_map(|(tp, _)| Some((tp.clone(), self.partitions.get(tp)?.stamp())))
                .collect();
            let tps: Vec<TopicPartition> = asked.keys().cloned().collect();
            match net.send(
                node,
                &req,
                None,
                C::from(FetchCtx::ListOffsets { asked }),
                now,
            ) {
                Ok(_) => {
                    for tp in &tps {
                        if let Some(s) = self.partitions.get_mut(tp) {
                            s.position = Position::Resetting;
                        }
                    }
                }
                Err(e) => log::warn!("offset lookup failed: {e}"),
            }
        }
    }

    fn send_fetches<C: From<FetchCtx>>(&mut self, net: &mut Network<C>, now: Instant) {
        let mut by_node: HashMap<NodeId, HashMap<TopicPartition, PartitionFetch>> = HashMap::new();
        let mut missing_leader = false;
        let max_bytes = self.config.max_partition_fetch_bytes;
        for (tp, st) in &self.partitions {
            let Position::At(offset) = st.position else {
                continue;
            };
            if st.paused || st.retry.waiting(now) {
                continue;
            }
            let Some(node) = net.cluster().leader(&tp.topic, tp.partition) else {
                missing_leader = true;
                continue;
            };
            by_node.entry(node).or_default().insert(
                tp.clone(),
                PartitionFetch {
                    fetch_offset: offset,
                    max_bytes,
                },
            );
        }
        if missing_leader {
            net.schedule.request_update();
        }
        for (node, wanted) in by_node {
            if self.fetching.get(&node).copied().unwrap_or(false) {
                continue;
            }
            if !net.ready_or_connect(node, now) || !net.can_send(node) {
                continue;
            }
            let session = self.sessions.entry(node).or_default();
            let plan = session.build(&wanted);
            let req = fetch_request(&self.config, &plan, net.config().client_rack.clone());
            let asked: HashMap<TopicPartition, (Stamp, i64)> = wanted
                .iter()
                .filter_map(|(tp, f)| {
                    Some((
                        tp.clone(),
                        (self.partitions.get(tp)?.stamp(), f.fetch_offset),
                    ))
                })
                .collect();
            let ctx = C::from(FetchCtx::Fetch {
                node,
                asked,
                sent: now,
            });
            match net.send(node, &req, Some(FETCH_MAX_VERSION), ctx, now) {
                Ok(version) if version < FETCH_MIN_VERSION => {
                    log::error!(
                        "broker {} only supports Fetch v{version}",
                        net.node_label(node)
                    );
                }
                Ok(_) => {
                    self.fetching.insert(node, true);
                    for tp in wanted.keys() {
                        if let Some(s) = self.partitions.get_mut(tp) {
                            s.in_flight = true;
                        }
                    }
                }
                Err(e) => {
                    session.reset();
                    log::warn!("fetch to {} failed: {e}", net.node_label(node));
                }
            }
        }
    }

    pub fn on_response<C>(
        &mut self,
        ctx: FetchCtx,
        result: Result<Response>,
        net: &mut Network<C>,
        now: Instant,
    ) {
        match ctx {
            FetchCtx::Fetch { node, asked, .. } => self.on_fetch(node, asked, result, net, now),
            FetchCtx::ListOffsets { asked } => self.on_list_offsets(asked, result, net),
        }
    }

    fn on_fetch<C>(
        &mut self,
        node: NodeId,
        asked: HashMap<TopicPartition, (Stamp, i64)>,
        result: Result<Response>,
        net: &mut Network<C>,
        now: Instant,
    ) {
        self.fetching.insert(node, false);
        for tp in asked.keys() {
            if let Some(s) = self.partitions.get_mut(tp) {
                s.in_flight = false;
            }
        }
        // Only an answer that does not decode is the data's fault (its connection is
        // closed as broken); a lost connection is retried by the network layer.
        let resp = match result {
            Ok(r) => r.decode::<FetchResponse>().map_err(|e| {
                Some(DecodeError::Malformed(format!(
                    "the fetch response does not decode: {e}"
                )))
            }),
            Err(e) => {
                log::debug!("fetch from {} failed: {e}", net.node_label(node));
                Err(None)
            }
        };
        let resp = match resp {
            Ok(r) => r,
            Err(error) => {
                if let Some(s) = self.sessions.get_mut(&node) {
                    s.reset();
                }
                for (tp, asked) in &asked {
                    self.fail(tp, *asked, error.clone(), now);
                }
                return;
            }
        };
        let session = self.sessions.entry(node).or_default();
        match ErrorCode(resp.error_code) {
            ErrorCode::NONE => session.on_response(resp.session_id),
            ErrorCode::FETCH_SESSION_ID_NOT_FOUND | ErrorCode::INVALID_FETCH_SESSION_EPOCH => {
                session.reset();
                return;
            }
            code => {
                session.reset();
                log::warn!("fetch from {} failed: {code}", net.node_label(node));
                return;
            }
        }
        // The broker sends the first batch of the response whole, whatever the limits
        // (fetch v3+), and cuts later partitions where the response's bytes run out: a
        // partition holding only part of a batch is normal next to complete batches,
        // and a broken broker when no partition has one.
        let ends: Vec<Option<i64>> = resp
            .responses
            .iter()
            .flat_map(|t| &t.partitions)
            .map(|p| p.records.as_deref().and_then(records::next_offset))
            .collect();
        let any_complete = ends.iter().any(Option::is_some);
        let mut ends = ends.into_iter();
        for topic in resp.responses {
            for p in topic.partitions {
                let end = ends.next().flatten();
                let tp = TopicPartition::new(topic.topic.clone(), p.partition_index);
                let Some(st) = self.partitions.get_mut(&tp) else {
                    continue;
                };
                // Seeked, reassigned or moved on since the request went out.
                let Some(fetch_offset) = st.fetching_at(asked.get(&tp)) else {
                    continue;
                };
                match ErrorCode(p.error_code) {
                    ErrorCode::NONE => {
                        let records = p.records.unwrap_or_default();
                        let next = end.filter(|n| *n > fetch_offset);
                        let cut_short = any_complete && end.is_none();
                        if next.is_none() && !records.is_empty() && !cut_short {
                            let error = unusable_records(&records);
                            let asked = (st.stamp(), fetch_offset);
                            self.fail(&tp, asked, Some(error), now);
                            continue;
                        }
                        if !cut_short {
                            st.retry.succeed();
                        }
                        if let Some(next) = next {
                            st.position = Position::At(next);
                            self.buffer.push_item(Item::Data(FetchedData {
                                tp,
                                epoch: st.epoch,
                                fetch_offset,
                                records,
                                high_watermark: p.high_watermark,
                                aborted: p
                                    .aborted_transactions
                                    .unwrap_or_default()
                                    .iter()
                                    .map(|a| (a.producer_id, a.first_offset))
                                    .collect(),
                                decode_limit: self.config.max_decoded_batch_bytes,
                                decoded: self.buffer.decoded(),
                            }));
                        }
                    }
                    ErrorCode::OFFSET_OUT_OF_RANGE => {
                        log::info!("offset {fetch_offset} out of range for {tp}; applying auto_offset_reset");
                        st.position = Position::NeedsReset(reset_spec(&self.config));
                    }
                    code if code.is_retriable()
                        || code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION =>
                    {
                        log::debug!("fetch {tp}: {code}; refreshing metadata");
                        st.retry.fail(now);
                        net.schedule.request_update();
                        if let Some(s) = self.sessions.get_mut(&node) {
                            s.reset();
                        }
                    }
                    code => {
                        self.buffer.push_item(Item::PartitionError {
                            tp: tp.clone(),
                            epoch: st.epoch,
                            error: Error::for_topic(
                                code,
                                Some(format!("fetching {tp}")),
                                &tp.topic,
                            ),
                        });
                        st.position = Position::Failed;
                    }
                }
            }
        }
    }

    /// A fetch of `tp` failed: back off, and after every run of failures
    /// with an `error` tell the user, naming the offset the partition is stuck at.
    fn fail(
        &mut self,
        tp: &TopicPartition,
        asked: (Stamp, i64),
        error: Option<DecodeError>,
        now: Instant,
    ) {
        let Some(st) = self.partitions.get_mut(tp) else {
            return;
        };
        let Some(offset) = st.fetching_at(Some(&asked)) else {
            return;
        };
        let epoch = st.epoch;
        let report = st.retry.fail(now);
        if let (true, Some(error)) = (report, error) {
            log::warn!("fetching {tp} at offset {offset} keeps failing: {error}");
            self.buffer.push_item(Item::PartitionError {
                tp: tp.clone(),
                epoch,
                error: Error::CorruptRecords {
                    partition: tp.clone(),
                    offset,
                    error,
                },
            });
        }
    }

    fn on_list_offsets<C>(
        &mut self,
        asked: HashMap<TopicPartition, Stamp>,
        result: Result<Response>,
        net: &mut Network<C>,
    ) {
        let parsed = result.and_then(offsets::parse_list_offsets);
        for (tp, stamp) in asked {
            let Some(st) = self.partitions.get_mut(&tp) else {
                continue;
            };
            if st.stamp() != stamp || st.position != Position::Resetting {
                continue;
            }
            let epoch = st.epoch;
            let outcome = match &parsed {
                Ok(map) => map
                    .get(&tp)
                    .cloned()
                    .unwrap_or(Err(Error::Protocol(format!("no offset for {tp}")))),
                Err(e) => Err(e.clone()),
            };
            match outcome {
                Ok((offset, _)) if offset >= 0 => {
                    st.position = Position::At(offset);
                    self.buffer.push_item(Item::Position { tp, epoch, offset });
                }
                // No offset at or after a timestamp: read from the end.
                Ok(_) => st.position = Position::NeedsReset(OffsetSpec::Latest),
                // The leader may have moved: learn where and look up again.
                Err(_) => {
                    net.schedule.request_update();
                    st.position = Position::NeedsReset(reset_spec(&self.config));
                }
            }
        }
    }
}

impl PartitionState {
    fn stamp(&self) -> Stamp {
        Stamp {
            epoch: self.epoch,
            incarnation: self.incarnation,
        }
    }

    /// The offset a fetch `asked` for, if this state still fetches from exactly there.
    fn fetching_at(&self, asked: Option<&(Stamp, i64)>) -> Option<i64> {
        match (asked, &self.position) {
            (Some((stamp, offset)), Position::At(at)) if *stamp == self.stamp() && at == offset => {
                Some(*offset)
            }
            _ => None,
        }
    }
}

/// Why a fetch's non-empty records cannot be used: no complete batch (fetches from v4
/// on always hold at least one whole batch, so a partial one alone is a broken broker),
/// or only batches before the offset.
fn unusable_records(records: &[u8]) -> DecodeError {
    DecodeError::Malformed(match records::next_offset(records) {
        None => format!(
            "the broker sent {} bytes holding no complete record batch{}",
            records.len(),
            match records.get(8..12) {
                Some(&[a, b, c, d]) => format!(
                    " (the first declares {} bytes)",
                    i32::from_be_bytes([a, b, c, d]) as i64 + records::LOG_OVERHEAD as i64
                ),
                _ => String::new(),
            }
        ),
        Some(next) => format!(
            "the broker sent only batches ending before the fetch offset (next offset {next})"
        ),
    })
}

/// The lookup `auto_offset_reset` asks for.
fn reset_spec(config: &ConsumerConfig) -> OffsetSpec {
    match config.auto_offset_reset {
        OffsetReset::Earliest => OffsetSpec::Earliest,
        OffsetReset::Latest => OffsetSpec::Latest,
        OffsetReset::None => OffsetSpec::NoReset,
    }
}

fn fetch_request(
    config: &ConsumerConfig,
    plan: &super::fetch_session::SessionRequest,
    rack: Option<String>,
) -> FetchRequest {
    let mut topics: Vec<FetchTopic> = Vec::new();
    for (tp, f) in &plan.partitions {
        let part = FetchPartition {
            partition: tp.partition,
            fetch_offset: f.fetch_offset,
            partition_max_bytes: f.max_bytes,
            ..Default::default()
        };
        match topics.last_mut() {
            Some(t) if t.topic == tp.topic => t.partitions.push(part),
            _ => topics.push(FetchTopic {
                topic: tp.topic.clone(),
                partitions: vec![part],
                ..Default::default()
            }),
        }
    }
    let mut forgotten: Vec<ForgottenTopic> = Vec::new();
    for tp in &plan.forgotten {
        match forgotten.last_mut() {
            Some(t) if t.topic == tp.topic => t.partitions.push(tp.partition),
            _ => forgotten.push(ForgottenTopic {
                topic: tp.topic.clone(),
                partitions: vec![tp.partition],
                ..Default::default()
            }),
        }
    }
    FetchRequest {
        max_wait_ms: i32::try_from(config.fetch_max_wait.as_millis()).unwrap_or(i32::MAX),
        min_bytes: config.fetch_min_bytes,
        max_bytes: config.fetch_max_bytes,
        isolation_level: config.isolation_level.as_i8(),
        session_id: plan.session_id,
        session_epoch: plan.epoch,
        topics,
        forgotten_topics_data: forgotten,
        rack_id: rack.unwrap_or_default(),
        ..Default::default()
    }
}
