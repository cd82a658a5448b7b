//! The share consumer's half of the I/O thread: membership (heartbeats), one share
//! session per leader broker, and the events the user thread reads.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Instant;

use crate::error::Error;
use crate::net::io_thread::Driver;
use crate::net::metadata::NodeId;
use crate::net::network::{Network, RequestBody, Response};
use crate::protocol::api::share_acknowledge::ShareAcknowledgeResponse;
use crate::protocol::api::share_fetch::ShareFetchResponse;
use crate::protocol::api::ApiKey;
use crate::protocol::codec::Uuid;
use crate::protocol::error_code::ErrorCode;
use crate::TopicPartition;

use super::acknowledgements::PartitionAcks;
use super::config::ShareConsumerConfig;
use super::fetch::{self, Answer, FetchLimits, FetchedPartition, QueuedAcks, Sent, Session};
use super::membership::Membership;
use super::record::AcknowledgementResult;

/// Commands from the share consumer handle.
pub(crate) enum ShareCommand {
    Subscribe(BTreeSet<String>),
    /// The application wants records; the acknowledgements ride on the next fetches.
    Fetch(Vec<PartitionAcks>),
    /// Acknowledgements to send now (commit), answered under `commit` when given.
    Acknowledge {
        acks: Vec<PartitionAcks>,
        commit: Option<u64>,
    },
}

/// What a request in flight belongs to.
pub(crate) enum ShareCtx {
    FindCoordinator,
    Heartbeat,
    Fetch { node: NodeId, sent: Sent },
    Ack { node: NodeId, sent: Sent },
}

/// What the I/O thread tells the user thread.
#[derive(Debug)]
pub(crate) enum ShareEvent {
    Records(FetchedPartition),
    Acknowledged(Vec<(Option<u64>, AcknowledgementResult)>),
    Error(Error),
}

pub(crate) struct ShareDriver {
    config: Arc<ShareConsumerConfig>,
    membership: Membership,
    sessions: HashMap<NodeId, Session>,
    /// The application is polling and wants records.
    wanted: bool,
    events: Sender<ShareEvent>,
    closing: bool,
}

impl ShareDriver {
    pub fn new(config: Arc<ShareConsumerConfig>, events: Sender<ShareEvent>) -> Self {
        let c = &config.client;
        ShareDriver {
            membership: Membership::new(
                config.group_id.clone(),
                c.retry_backoff,
                c.retry_backoff_max,
            ),
            config,
            sessions: HashMap::new(),
            wanted: false,
            events,
            closing: false,
        }
    }

    fn queue(&mut self, acks: Vec<PartitionAcks>, commit: Option<u64>) {
        for a in acks {
            let session = self.sessions.entry(a.node).or_default();
            session.queued.push(QueuedAcks { acks: a, commit });
        }
    }

    /// The assigned partitions grouped by their leader; unknown topics or leaders ask
    /// for a metadata refresh.
    fn partitions_by_leader(
        &self,
        net: &mut Network<ShareCtx>,
    ) -> BTreeMap<NodeId, BTreeSet<(Uuid, i32)>> {
        let mut out: BTreeMap<NodeId, BTreeSet<(Uuid, i32)>> = BTreeMap::new();
        if self.membership.assignment.is_empty() {
            return out;
        }
        let cluster = net.cluster().clone();
        let names: HashMap<Uuid, &str> = cluster
            .topics
            .values()
            .map(|t| (t.topic_id, t.name.as_str()))
            .collect();
        let mut refresh = false;
        for (topic_id, p) in &self.membership.assignment {
            let leader = names.get(topic_id).and_then(|n| cluster.leader(n, *p));
            match leader {
                Some(node) if node >= 0 => {
                    out.entry(node).or_default().insert((*topic_id, *p));
                }
                _ => refresh = true,
            }
        }
        if refresh {
            net.schedule.request_update();
        }
        out
    }

    fn deliver(&mut self, answer: Answer, net: &mut Network<ShareCtx>) {
        if answer.stale_metadata {
            net.schedule.request_update();
        }
        if !answer.records.is_empty() {
            self.wanted = false;
        }
        for r in answer.records {
            let _ = self.events.send(ShareEvent::Records(r));
        }
        if !answer.results.is_empty() {
            let _ = self.events.send(ShareEvent::Acknowledged(answer.results));
        }
    }

    fn ids(&self) -> (String, String) {
        (
            self.config.group_id.clone(),
            self.membership.member_id.clone(),
        )
    }

    fn send_fetches(&mut self, net: &mut Network<ShareCtx>, now: Instant) {
        let by_leader = self.partitions_by_leader(net);
        let mut nodes: BTreeSet<NodeId> = by_leader.keys().copied().collect();
        nodes.extend(
            self.sessions
                .iter()
                .filter(|(_, s)| !s.queued.is_empty())
                .map(|(n, _)| *n),
        );
        let (group, member) = self.ids();
        let limits = FetchLimits {
            max_wait: self.config.fetch_max_wait,
            min_bytes: self.config.fetch_min_bytes,
            max_bytes: self.config.fetch_max_bytes,
            max_records: self.config.max_poll_records.min(i32::MAX as usize) as i32,
        };
        let empty = BTreeSet::new();
        for node in nodes {
            let session = self.sessions.entry(node).or_default();
            if session.in_flight || !net.ready_or_connect(node, now) || !net.can_send(node) {
                continue;
            }
            let partitions = by_leader.get(&node).unwrap_or(&empty);
            let (body, ctx): (Box<dyn RequestBody>, ShareCtx) =
                if session.ack_alone(self.wanted) && session.epoch > 0 {
                    let (req, sent) = session.ack_request((&group, &member), false);
                    (
                        Box::new(req),
                        ShareCtx::Ack {
                            node,
                            sent: stamp(sent, now),
                        },
                    )
                } else if self.wanted && !partitions.is_empty() {
                    let (req, sent) = session.fetch_request((&group, &member), partitions, limits);
                    (
                        Box::new(req),
                        ShareCtx::Fetch {
                            node,
                            sent: stamp(sent, now),
                        },
                    )
                } else if !session.queued.is_empty() && session.epoch == 0 {
                    let error = Error::broker(
                        ErrorCode::SHARE_SESSION_NOT_FOUND,
                        Some("the share session that acquired these records is gone".into()),
                    );
                    let results = fetch::failed(std::mem::take(&mut session.queued), &error);
                    let _ = self.events.send(ShareEvent::Acknowledged(results));
                    continue;
                } else {
                    continue;
                };
            let unsent = ctx.outcomes();
            if let Err(e) = net.send(node, body.as_ref(), None, ctx, now) {
                log::debug!("share request to broker {node} not sent: {e}");
                session.on_failure();
                report_unsent(&self.events, unsent, &e);
            }
        }
    }
}

impl ShareCtx {
    /// Who waits for the acknowledgements this request carries.
    fn outcomes(&self) -> Vec<(Option<u64>, TopicPartition, Vec<i64>)> {
        match self {
            ShareCtx::Fetch { sent, .. } | ShareCtx::Ack { sent, .. } => sent
                .acks
                .iter()
                .map(|q| (q.commit, q.acks.tp.clone(), q.acks.offsets.clone()))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// A request that never left: the acknowledgements it carried fail with `error`.
fn report_unsent(
    events: &Sender<ShareEvent>,
    unsent: Vec<(Option<u64>, TopicPartition, Vec<i64>)>,
    error: &Error,
) {
    let results: Vec<_> = unsent
        .into_iter()
        .map(|(c, tp, o)| (c, AcknowledgementResult::failed(tp, o, error.clone())))
        .collect();
    if !results.is_empty() {
        let _ = events.send(ShareEvent::Acknowledged(results));
    }
}

fn stamp(mut sent: Sent, now: Instant) -> Sent {
    sent.sent_at = Some(now);
    sent
}

impl Driver for ShareDriver {
    type Command = ShareCommand;
    type Ctx = ShareCtx;

    fn on_command(&mut self, cmd: ShareCommand, net: &mut Network<ShareCtx>, now: Instant) {
        match cmd {
            ShareCommand::Subscribe(topics) => {
                net.schedule.add_topics(topics.iter().map(String::as_str));
                self.membership.subscribe(topics, now);
            }
            ShareCommand::Fetch(acks) => {
                self.wanted = !self.closing;
                self.queue(acks, None);
            }
            ShareCommand::Acknowledge { acks, commit } => self.queue(acks, commit),
        }
    }

    fn on_response(
        &mut self,
        ctx: ShareCtx,
        result: crate::Result<Response>,
        net: &mut Network<ShareCtx>,
        now: Instant,
    ) {
        match ctx {
            ShareCtx::FindCoordinator => self.membership.on_find_coordinator(result, net, now),
            ShareCtx::Heartbeat => {
                self.membership.on_heartbeat(result, now);
            }
            ShareCtx::Fetch { node, sent } => {
                let cluster = net.cluster().clone();
                let name_of = |id: &Uuid| {
                    cluster
                        .topics
                        .values()
                        .find(|t| t.topic_id == *id)
                        .map(|t| t.name.clone())
                };
                let session = self.sessions.entry(node).or_default();
                let decoded = result.and_then(|r| r.decode::<ShareFetchResponse>());
                let answer = fetch::on_fetch_response(session, node, sent, decoded, name_of, now);
                self.deliver(answer, net);
            }
            ShareCtx::Ack { node, sent } => {
                let session = self.sessions.entry(node).or_default();
                let decoded = result.and_then(|r| r.decode::<ShareAcknowledgeResponse>());
                let answer = fetch::on_ack_response(session, sent, decoded);
                self.deliver(answer, net);
            }
        }
    }

    fn poll(&mut self, net: &mut Network<ShareCtx>, now: Instant) -> Option<Instant> {
        if let Some(e) = self.membership.error.take() {
            let _ = self.events.send(ShareEvent::Error(e));
        }
        let next = self.membership.poll(net, now);
        if !self.closing {
            self.send_fetches(net, now);
        }
        next
    }

    fn poll_close(&mut self, net: &mut Network<ShareCtx>, now: Instant) -> bool {
        self.closing = true;
        self.wanted = false;
        let (group, member) = self.ids();
        let mut busy = false;
        for (node, session) in self.sessions.iter_mut() {
            if session.in_flight {
                busy = true;
                continue;
            }
            if session.epoch <= 0 || session.closed {
                continue;
            }
            if !net.ready_or_connect(*node, now) || !net.can_send(*node) {
                busy = true;
                continue;
            }
            // The final epoch closes the session: the broker releases what this
            // member still holds there, after applying the acknowledgements.
            let (req, sent) = session.ack_request((&group, &member), true);
            let ctx = ShareCtx::Ack {
                node: *node,
                sent: stamp(sent, now),
            };
            let unsent = ctx.outcomes();
            match net.send(*node, &req, None, ctx, now) {
                Ok(_) => busy = true,
                Err(e) => {
                    session.on_failure();
                    report_unsent(&self.events, unsent, &e);
                }
            }
        }
        // The acknowledgements were answered before close began (the handle commits
        // first), so the leave need not wait for the sessions to close: brokers take
        // seconds to answer a session's final epoch, and a member that does not leave
        // holds the group until its session times out.
        let left = self.membership.leave(now);
        if !left {
            self.membership.poll(net, now);
        }
        left && !busy
    }

    fn on_exit(&mut self, error: Error) {
        for session in self.sessions.values_mut() {
            let results = fetch::failed(std::mem::take(&mut session.queued), &error);
            if !results.is_empty() {
                let _ = self.events.send(ShareEvent::Acknowledged(results));
            }
        }
    }

    fn required_apis(&self) -> Vec<(ApiKey, i16, i16)> {
        Vec::new()
    }
}
