//! The transaction requests and how their answers are judged: retried (after finding
//! the coordinator again when it moved), abortable, or fatal, as the Java client's
//! `TransactionManager` handlers judge them.

use std::collections::BTreeMap;

use crate::consumer::{ConsumerGroupMetadata, OffsetAndMetadata};
use crate::error::{Error, Result};
use crate::net::network::{RequestBody, Response};
use crate::protocol::api::api_versions::ApiVersionsResponse;
use crate::protocol::api::find_coordinator::{FindCoordinatorRequest, FindCoordinatorResponse};
use crate::protocol::api::produce::ProduceRequest;
use crate::protocol::api::txn_offset_commit::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use crate::protocol::api::{ApiKey, Message};
use crate::protocol::codec::EncodeError;
use crate::protocol::error_code::ErrorCode;
use crate::TopicPartition;

/// FindCoordinator key types.
pub(super) const KEY_TYPE_GROUP: i8 = 0;
pub(super) const KEY_TYPE_TRANSACTION: i8 = 1;

/// Produce v12 is the first whose records add their partition to the transaction
/// (KIP-890); its fields are those of v11.
pub(crate) const PRODUCE_TV2_VERSION: i16 = 12;
/// EndTxn v5 and TxnOffsetCommit v5 are the transaction protocol 2 versions.
pub(super) const TV2_VERSION: i16 = 5;
/// AddPartitionsToTxn v4+ is for brokers; clients use v3 at most.
pub(super) const ADD_PARTITIONS_CLIENT_MAX: i16 = 3;

/// What to do after a transaction request failed.
#[derive(Debug, Clone)]
pub(super) enum Verdict {
    /// Try again after the backoff; `rediscover`: find the coordinator first.
    Retry { rediscover: bool },
    /// The transaction must be aborted.
    Abortable(Error),
    /// The producer must be closed.
    Fatal(Error),
}

/// Judges a broker error code from the transaction or group coordinator.
pub(super) fn judge(code: ErrorCode, message: Option<String>, group: bool) -> Verdict {
    let err = Error::broker(code, message);
    match code {
        ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => {
            Verdict::Retry { rediscover: true }
        }
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
        | ErrorCode::CONCURRENT_TRANSACTIONS
        | ErrorCode::REQUEST_TIMED_OUT
        | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION => Verdict::Retry { rediscover: false },
        ErrorCode::PRODUCER_FENCED
        | ErrorCode::INVALID_PRODUCER_EPOCH
        | ErrorCode::TRANSACTION_COORDINATOR_FENCED => {
            Verdict::Fatal(Error::ProducerFenced(err.to_string()))
        }
        ErrorCode::TRANSACTION_ABORTABLE
        | ErrorCode::TOPIC_AUTHORIZATION_FAILED
        | ErrorCode::OPERATION_NOT_ATTEMPTED
        | ErrorCode::INVALID_PRODUCER_ID_MAPPING => Verdict::Abortable(err),
        // A zombie's offsets: the group moved on without this member.
        ErrorCode::UNKNOWN_MEMBER_ID
        | ErrorCode::ILLEGAL_GENERATION
        | ErrorCode::FENCED_INSTANCE_ID
        | ErrorCode::GROUP_AUTHORIZATION_FAILED
            if group =>
        {
            Verdict::Abortable(err)
        }
        c if c.is_retriable() => Verdict::Retry { rediscover: false },
        _ => Verdict::Fatal(err),
    }
}

/// Judges an EndTxn error. A commit of a transaction the coordinator no longer has
/// open (it aborted it after `transaction_timeout`, and protocol 2 bumped the epoch)
/// is refused with INVALID_TXN_STATE: abortable, as the abort that follows settles it
/// (and is fatal if the state is really broken).
pub(super) fn judge_end(code: ErrorCode, commit: bool) -> Verdict {
    if commit && code == ErrorCode::INVALID_TXN_STATE {
        let e = Error::broker(
            code,
            Some("the coordinator has no such transaction open; it may have aborted it after transaction_timeout".into()),
        );
        return Verdict::Abortable(e);
    }
    judge(code, None, false)
}

/// Judges a request that got no answer (not sent, disconnected, timed out, garbage).
pub(super) fn judge_transport(e: Error) -> Verdict {
    match e {
        Error::UnsupportedVersion { .. } => Verdict::Fatal(e),
        e if e.is_fatal_handshake() => Verdict::Fatal(e),
        _ => Verdict::Retry { rediscover: true },
    }
}

pub(super) fn find_coordinator(key: &str, key_type: i8) -> FindCoordinatorRequest {
    FindCoordinatorRequest {
        key: key.to_owned(),
        key_type,
        coordinator_keys: vec![key.to_owned()],
    }
}

/// The coordinator's broker id, host and port, or the verdict on the answer.
pub(super) fn parse_find_coordinator(resp: Response) -> Result<(i32, String, u16), Verdict> {
    let version = resp.version;
    let r: FindCoordinatorResponse = resp.decode().map_err(judge_transport)?;
    let (code, message, node, host, port) = if version < 4 {
        (r.error_code, r.error_message, r.node_id, r.host, r.port)
    } else {
        let Some(c) = r.coordinators.into_iter().next() else {
            return Err(Verdict::Retry { rediscover: true });
        };
        (c.error_code, c.error_message, c.node_id, c.host, c.port)
    };
    let code = ErrorCode(code);
    if !code.is_ok() {
        return Err(match code {
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED => {
                Verdict::Fatal(Error::broker(code, message))
            }
            ErrorCode::GROUP_AUTHORIZATION_FAILED => {
                Verdict::Abortable(Error::broker(code, message))
            }
            _ => Verdict::Retry { rediscover: true },
        });
    }
    match u16::try_from(port) {
        Ok(port) if node >= 0 && !host.is_empty() => Ok((node, host, port)),
        _ => Err(Verdict::Retry { rediscover: true }),
    }
}

/// True when the broker finalized `transaction.version` 2 or higher (KIP-890).
pub(super) fn finalizes_tv2(resp: Response) -> Result<bool> {
    let r: ApiVersionsResponse = resp.decode()?;
    Ok(r.finalized_features
        .iter()
        .any(|f| f.name == "transaction.version" && f.max_version_level >= 2))
}

/// TxnOffsetCommit topics from the offsets to commit.
pub(super) fn offset_topics(
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
) -> Vec<TxnOffsetCommitRequestTopic> {
    let mut topics: Vec<TxnOffsetCommitRequestTopic> = Vec::new();
    for (tp, o) in offsets {
        let p = TxnOffsetCommitRequestPartition {
            partition_index: tp.partition,
            committed_offset: o.offset,
            committed_leader_epoch: o.leader_epoch.unwrap_or(-1),
            committed_metadata: Some(o.metadata.clone()),
        };
        match topics.last_mut() {
            Some(t) if t.name == tp.topic => t.partitions.push(p),
            _ => topics.push(TxnOffsetCommitRequestTopic {
                name: tp.topic.clone(),
                partitions: vec![p],
            }),
        }
    }
    topics
}

/// The group fields of a TxnOffsetCommit (v3+), so a fenced member cannot commit.
pub(super) fn group_fields(g: &ConsumerGroupMetadata) -> (i32, String, Option<String>) {
    (
        g.generation_id,
        g.member_id.clone(),
        g.group_instance_id.clone(),
    )
}

/// A Produce request sent as v12, whose body is v11's: a transactional record batch
/// then adds its partition to the transaction itself (transaction protocol 2).
pub(crate) struct ProduceV12<'a>(pub &'a ProduceRequest);

impl RequestBody for ProduceV12<'_> {
    fn api_key(&self) -> ApiKey {
        ApiKey::PRODUCE
    }
    fn version_range(&self) -> (i16, i16) {
        (PRODUCE_TV2_VERSION, PRODUCE_TV2_VERSION)
    }
    fn encode_body(&self, version: i16, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.0.encode(out, version.min(ProduceRequest::MAX_VERSION))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinator_moves_and_busy_coordinators_are_retried() {
        for code in [
            ErrorCode::NOT_COORDINATOR,
            ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ] {
            assert!(matches!(
                judge(code, None, false),
                Verdict::Retry { rediscover: true }
            ));
        }
        for code in [
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            ErrorCode::CONCURRENT_TRANSACTIONS,
        ] {
            assert!(matches!(
                judge(code, None, false),
                Verdict::Retry { rediscover: false }
            ));
        }
    }

    #[test]
    fn fencing_is_fatal_and_a_zombie_member_is_abortable() {
        for code in [
            ErrorCode::PRODUCER_FENCED,
            ErrorCode::INVALID_PRODUCER_EPOCH,
        ] {
            match judge(code, None, false) {
                Verdict::Fatal(e) => assert!(e.is_fatal(), "{e}"),
                v => panic!("{code}: {v:?}"),
            }
        }
        assert!(matches!(
            judge(
                ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                None,
                false
            ),
            Verdict::Fatal(_)
        ));
        assert!(matches!(
            judge(ErrorCode::TRANSACTION_ABORTABLE, None, false),
            Verdict::Abortable(_)
        ));
        assert!(matches!(
            judge(ErrorCode::ILLEGAL_GENERATION, None, true),
            Verdict::Abortable(_)
        ));
        assert!(matches!(
            judge(ErrorCode::INVALID_TXN_STATE, None, false),
            Verdict::Fatal(_)
        ));
    }

    #[test]
    fn offsets_are_grouped_by_topic() {
        let mut offsets = BTreeMap::new();
        for (t, p, o) in [("a", 0, 5), ("a", 1, 7), ("b", 0, 9)] {
            offsets.insert(
                TopicPartition::new(t, p),
                OffsetAndMetadata {
                    offset: o,
                    metadata: String::new(),
                    leader_epoch: None,
                },
            );
        }
        let topics = offset_topics(&offsets);
        assert_eq!(topics.len(), 2);
        assert_eq!(topics[0].partitions.len(), 2);
        assert_eq!(topics[1].partitions[0].committed_offset, 9);
    }

    #[test]
    fn produce_v12_encodes_v11_fields() {
        let req = ProduceRequest {
            transactional_id: Some("t".into()),
            acks: -1,
            timeout_ms: 1000,
            topic_data: Vec::new(),
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        ProduceV12(&req).encode_body(12, &mut a).unwrap();
        req.encode(&mut b, 11).unwrap();
        assert_eq!(a, b);
    }
}
