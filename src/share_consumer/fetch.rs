//! Share sessions on the I/O thread, one per leader broker: ShareFetch with its session
//! epoch (0 opens, then 1, 2, ...), the partitions added and forgotten, acknowledgements
//! piggy-backed on the fetch or sent alone in a ShareAcknowledge, and the answers turned
//! into records and acknowledgement results for the user thread.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::net::metadata::NodeId;
use crate::protocol::api::share_acknowledge as ack;
use crate::protocol::api::share_fetch as sf;
use crate::protocol::codec::Uuid;
use crate::protocol::error_code::ErrorCode;
use crate::TopicPartition;

use super::acknowledgements::{AckBatch, PartitionAcks};
use super::record::AcknowledgementResult;

/// The epoch that closes a share session.
const FINAL_EPOCH: i32 = -1;

/// One partition's fetched data, for the user thread.
#[derive(Debug)]
pub(crate) struct FetchedPartition {
    pub tp: TopicPartition,
    pub topic_id: Uuid,
    pub node: NodeId,
    pub records: Bytes,
    /// `(first offset, last offset, delivery count)` of the records acquired for us.
    pub acquired: Vec<(i64, i64, i16)>,
    pub lock_deadline: Instant,
    pub lock: Duration,
}

/// Acknowledgements waiting for their session, and the commit they belong to.
#[derive(Debug)]
pub(crate) struct QueuedAcks {
    pub acks: PartitionAcks,
    /// The `commit_sync` waiting for them, if any.
    pub commit: Option<u64>,
}

/// What a request in flight carried, to report its acknowledgements.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    pub acks: Vec<QueuedAcks>,
    pub sent_at: Option<Instant>,
}

/// One broker's share session.
#[derive(Debug, Default)]
pub(crate) struct Session {
    pub epoch: i32,
    pub in_flight: bool,
    /// The partitions the broker's session holds.
    in_session: BTreeSet<(Uuid, i32)>,
    pub queued: Vec<QueuedAcks>,
    /// Closed with the final epoch.
    pub closed: bool,
}

/// The results of acknowledgements that did not reach the broker.
pub(crate) fn failed(
    acks: Vec<QueuedAcks>,
    error: &Error,
) -> Vec<(Option<u64>, AcknowledgementResult)> {
    acks.into_iter()
        .map(|q| {
            let r = AcknowledgementResult::failed(q.acks.tp, q.acks.offsets, error.clone());
            (q.commit, r)
        })
        .collect()
}

fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

impl Session {
    /// True when the queued acknowledgements should go alone, in a ShareAcknowledge
    /// (a commit waits for them, or no fetch is wanted).
    pub fn ack_alone(&self, fetch_wanted: bool) -> bool {
        !self.queued.is_empty() && (!fetch_wanted || self.queued.iter().any(|q| q.commit.is_some()))
    }

    /// The ShareFetch for `partitions`, carrying the queued acknowledgements when the
    /// session is open (a request that opens one may not carry any).
    pub fn fetch_request(
        &mut self,
        ids: (&str, &str),
        partitions: &BTreeSet<(Uuid, i32)>,
        limits: FetchLimits,
    ) -> (sf::ShareFetchRequest, Sent) {
        let acks = if self.epoch > 0 {
            std::mem::take(&mut self.queued)
        } else {
            Vec::new()
        };
        let mut topics: BTreeMap<Uuid, Vec<sf::FetchPartition>> = BTreeMap::new();
        for (topic_id, p) in partitions {
            topics
                .entry(*topic_id)
                .or_default()
                .push(sf::FetchPartition {
                    partition_index: *p,
                    partition_max_bytes: 0,
                    acknowledgement_batches: Vec::new(),
                });
        }
        for ((topic_id, partition), batches) in batches_by_partition(&acks) {
            let parts = topics.entry(topic_id).or_default();
            let batches = batches.into_iter().map(fetch_batch);
            match parts.iter_mut().find(|p| p.partition_index == partition) {
                Some(p) => p.acknowledgement_batches.extend(batches),
                None => parts.push(sf::FetchPartition {
                    partition_index: partition,
                    partition_max_bytes: 0,
                    acknowledgement_batches: batches.collect(),
                }),
            }
        }
        let mut forgotten: BTreeMap<Uuid, Vec<i32>> = BTreeMap::new();
        if self.epoch > 0 {
            for (topic_id, p) in self.in_session.difference(partitions) {
                forgotten.entry(*topic_id).or_default().push(*p);
            }
        }
        self.in_session = partitions.clone();
        let req = sf::ShareFetchRequest {
            group_id: Some(ids.0.to_owned()),
            member_id: Some(ids.1.to_owned()),
            share_session_epoch: self.epoch,
            max_wait_ms: limits.max_wait.as_millis().min(i32::MAX as u128) as i32,
            min_bytes: limits.min_bytes,
            max_bytes: limits.max_bytes,
            max_records: limits.max_records,
            batch_size: limits.max_records,
            share_acquire_mode: 0,
            is_renew_ack: false,
            topics: topics
                .into_iter()
                .map(|(topic_id, partitions)| sf::FetchTopic {
                    topic_id,
                    partitions,
                })
                .collect(),
            forgotten_topics_data: forgotten
                .into_iter()
                .map(|(topic_id, partitions)| sf::ForgottenTopic {
                    topic_id,
                    partitions,
                })
                .collect(),
        };
        self.in_flight = true;
        (
            req,
            Sent {
                acks,
                sent_at: None,
            },
        )
    }

    /// A ShareAcknowledge for the queued acknowledgements; `close` ends the session.
    pub fn ack_request(
        &mut self,
        ids: (&str, &str),
        close: bool,
    ) -> (ack::ShareAcknowledgeRequest, Sent) {
        let acks = std::mem::take(&mut self.queued);
        // One entry per partition, batches in offset order: the broker keeps one entry
        // per partition, so a second would replace the first.
        let mut topics: BTreeMap<Uuid, Vec<ack::AcknowledgePartition>> = BTreeMap::new();
        for ((topic_id, partition_index), batches) in batches_by_partition(&acks) {
            topics
                .entry(topic_id)
                .or_default()
                .push(ack::AcknowledgePartition {
                    partition_index,
                    acknowledgement_batches: batches.into_iter().map(ack_batch).collect(),
                });
        }
        let req = ack::ShareAcknowledgeRequest {
            group_id: Some(ids.0.to_owned()),
            member_id: Some(ids.1.to_owned()),
            share_session_epoch: if close { FINAL_EPOCH } else { self.epoch },
            is_renew_ack: false,
            topics: topics
                .into_iter()
                .map(|(topic_id, partitions)| ack::AcknowledgeTopic {
                    topic_id,
                    partitions,
                })
                .collect(),
        };
        self.in_flight = true;
        if close {
            self.closed = true;
        }
        (
            req,
            Sent {
                acks,
                sent_at: None,
            },
        )
    }

    /// The request failed on the way: the session is gone (a new one opens at epoch 0).
    pub fn on_failure(&mut self) {
        self.in_flight = false;
        self.epoch = 0;
        self.in_session.clear();
    }

    /// A top-level answer: session errors start a new session.
    fn on_answer(&mut self, code: ErrorCode) {
        self.in_flight = false;
        if code.is_ok() {
            self.epoch = next_epoch(self.epoch);
        } else {
            self.epoch = 0;
            self.in_session.clear();
        }
    }
}

/// How much one ShareFetch asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FetchLimits {
    pub max_wait: Duration,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub max_records: i32,
}

/// The batches of each partition, from every queued acknowledgement, in offset order
/// (the broker wants them increasing and takes one entry per partition).
fn batches_by_partition(acks: &[QueuedAcks]) -> BTreeMap<(Uuid, i32), Vec<&AckBatch>> {
    let mut out: BTreeMap<(Uuid, i32), Vec<&AckBatch>> = BTreeMap::new();
    for q in acks {
        let key = (q.acks.topic_id, q.acks.tp.partition);
        out.entry(key).or_default().extend(&q.acks.batches);
    }
    for batches in out.values_mut() {
        batches.sort_by_key(|b| b.first);
    }
    out
}

fn fetch_batch(b: &AckBatch) -> sf::AcknowledgementBatch {
    sf::AcknowledgementBatch {
        first_offset: b.first,
        last_offset: b.last,
        acknowledge_types: b.types.clone(),
    }
}

fn ack_batch(b: &AckBatch) -> ack::AcknowledgementBatch {
    ack::AcknowledgementBatch {
        first_offset: b.first,
        last_offset: b.last,
        acknowledge_types: b.types.clone(),
    }
}

/// What an answer brings for the user thread.
#[derive(Debug, Default)]
pub(crate) struct Answer {
    pub records: Vec<FetchedPartition>,
    pub results: Vec<(Option<u64>, AcknowledgementResult)>,
    /// A partition's leader moved or its topic is unknown: refresh the metadata.
    pub stale_metadata: bool,
}

/// Matches each acknowledgement sent with the error its partition got.
fn settle(sent: Vec<QueuedAcks>, errors: &BTreeMap<(Uuid, i32), Error>, answer: &mut Answer) {
    for q in sent {
        let key = (q.acks.topic_id, q.acks.tp.partition);
        let result = match errors.get(&key) {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        };
        let r = AcknowledgementResult {
            partition: q.acks.tp,
            offsets: q.acks.offsets,
            result,
        };
        answer.results.push((q.commit, r));
    }
}

fn stale(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::NOT_LEADER_OR_FOLLOWER
            | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            | ErrorCode::UNKNOWN_TOPIC_ID
            | ErrorCode::FENCED_LEADER_EPOCH
    )
}

/// The top level of an answer. A failed request or a top-level error (the session is
/// gone, the member unknown, ...) starts the session over and fails the
/// acknowledgements the request carried: `Err` with that answer.
fn top_level<M>(
    session: &mut Session,
    sent: Sent,
    result: Result<M>,
    error: impl Fn(&M) -> (i16, Option<String>),
) -> std::result::Result<(M, Sent), Answer> {
    let failure = |sent: Sent, e: Error| Answer {
        results: failed(sent.acks, &e),
        ..Answer::default()
    };
    let resp = match result {
        Ok(r) => r,
        Err(e) => {
            session.on_failure();
            return Err(failure(sent, e));
        }
    };
    let (code, message) = error(&resp);
    let code = ErrorCode(code);
    session.on_answer(code);
    if !code.is_ok() {
        log::debug!("share session request: {}", code.name());
        return Err(failure(sent, Error::broker(code, message)));
    }
    Ok((resp, sent))
}

/// Handles a ShareFetch answer. `name_of` gives a topic id's name.
pub(crate) fn on_fetch_response(
    session: &mut Session,
    node: NodeId,
    sent: Sent,
    result: Result<sf::ShareFetchResponse>,
    name_of: impl Fn(&Uuid) -> Option<String>,
    now: Instant,
) -> Answer {
    let top = |r: &sf::ShareFetchResponse| (r.error_code, r.error_message.clone());
    let (resp, sent) = match top_level(session, sent, result, top) {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let mut answer = Answer::default();
    let lock = Duration::from_millis(resp.acquisition_lock_timeout_ms.max(0) as u64);
    // The lock started when the broker acquired the records, after the request left.
    let lock_deadline = sent.sent_at.unwrap_or(now) + lock;
    let mut ack_errors = BTreeMap::new();
    for topic in resp.responses {
        let name = name_of(&topic.topic_id);
        for p in topic.partitions {
            let ack_code = ErrorCode(p.acknowledge_error_code);
            if !ack_code.is_ok() {
                let e = Error::broker(ack_code, p.acknowledge_error_message.clone());
                ack_errors.insert((topic.topic_id, p.partition_index), e);
            }
            let fetch_code = ErrorCode(p.error_code);
            if !fetch_code.is_ok() {
                answer.stale_metadata |= stale(fetch_code);
                log::debug!(
                    "ShareFetch {}:{}: {}",
                    topic.topic_id,
                    p.partition_index,
                    fetch_code.name()
                );
                continue;
            }
            let (Some(name), Some(records)) = (name.as_ref(), p.records) else {
                continue;
            };
            if p.acquired_records.is_empty() {
                continue;
            }
            answer.records.push(FetchedPartition {
                tp: TopicPartition::new(name.clone(), p.partition_index),
                topic_id: topic.topic_id,
                node,
                records,
                acquired: p
                    .acquired_records
                    .iter()
                    .map(|a| (a.first_offset, a.last_offset, a.delivery_count))
                    .collect(),
                lock_deadline,
                lock,
            });
        }
    }
    settle(sent.acks, &ack_errors, &mut answer);
    answer
}

/// Handles a ShareAcknowledge answer.
pub(crate) fn on_ack_response(
    session: &mut Session,
    sent: Sent,
    result: Result<ack::ShareAcknowledgeResponse>,
) -> Answer {
    let top = |r: &ack::ShareAcknowledgeResponse| (r.error_code, r.error_message.clone());
    let (resp, sent) = match top_level(session, sent, result, top) {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let mut answer = Answer::default();
    let mut errors = BTreeMap::new();
    for topic in resp.responses {
        for p in topic.partitions {
            let c = ErrorCode(p.error_code);
            if !c.is_ok() {
                answer.stale_metadata |= stale(c);
                errors.insert(
                    (topic.topic_id, p.partition_index),
                    Error::broker(c, p.error_message),
                );
            }
        }
    }
    settle(sent.acks, &errors, &mut answer);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(first: i64, last: i64) -> QueuedAcks {
        QueuedAcks {
            acks: PartitionAcks {
                tp: TopicPartition::new("t", 0),
                topic_id: Uuid([1; 16]),
                node: 1,
                batches: vec![AckBatch {
                    first,
                    last,
                    types: vec![1],
                }],
                offsets: (first..=last).collect(),
            },
            commit: None,
        }
    }

    /// The broker keeps one entry per partition: a second one would replace the first,
    /// and its acknowledgements would be lost with no error.
    #[test]
    fn acknowledgements_of_one_partition_go_in_one_entry() {
        let mut session = Session {
            epoch: 3,
            ..Session::default()
        };
        session.queued = vec![queued(0, 4), queued(5, 9)];
        let (req, sent) = session.ack_request(("g", "m"), false);
        assert_eq!(req.topics.len(), 1);
        assert_eq!(req.topics[0].partitions.len(), 1);
        let ranges: Vec<_> = req.topics[0].partitions[0]
            .acknowledgement_batches
            .iter()
            .map(|b| (b.first_offset, b.last_offset))
            .collect();
        assert_eq!(ranges, [(0, 4), (5, 9)]);
        assert_eq!(sent.acks.len(), 2);

        session.in_flight = false;
        session.queued = vec![queued(0, 4), queued(5, 9)];
        let all = BTreeSet::from([(Uuid([1; 16]), 0)]);
        let limits = FetchLimits {
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            max_bytes: 1 << 20,
            max_records: 500,
        };
        let (req, _) = session.fetch_request(("g", "m"), &all, limits);
        assert_eq!(req.topics[0].partitions.len(), 1);
        assert_eq!(req.topics[0].partitions[0].acknowledgement_batches.len(), 2);
    }
}
