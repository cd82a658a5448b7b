//! Offset lookups with ListOffsets: the beginning, the end, or the first offset at a time.

use std::collections::HashMap;

use crate::config::IsolationLevel;
use crate::error::{Error, Result};
use crate::net::network::Response;
use crate::protocol::api::list_offsets::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsResponse, ListOffsetsTopic,
};
use crate::protocol::error_code::ErrorCode;
use crate::TopicPartition;

/// What to look up for a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The end of the log (the high watermark, or the last stable offset for read_committed).
    Latest,
    /// The first offset whose timestamp is at or after this many ms since the epoch.
    Timestamp(i64),
    /// No lookup allowed: `auto_offset_reset` is `none`.
    NoReset,
}

impl OffsetSpec {
    fn timestamp(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest | OffsetSpec::NoReset => -1,
            OffsetSpec::Timestamp(t) => t,
        }
    }
}

/// A ListOffsets request for these partitions.
pub(crate) fn list_offsets_request(
    partitions: &[(TopicPartition, OffsetSpec)],
    isolation: IsolationLevel,
) -> ListOffsetsRequest {
    let mut topics: Vec<ListOffsetsTopic> = Vec::new();
    for (tp, spec) in partitions {
        let p = ListOffsetsPartition {
            partition_index: tp.partition,
            timestamp: spec.timestamp(),
            ..Default::default()
        };
        match topics.iter_mut().find(|t| t.name == tp.topic) {
            Some(t) => t.partitions.push(p),
            None => topics.push(ListOffsetsTopic {
                name: tp.topic.clone(),
                partitions: vec![p],
            }),
        }
    }
    ListOffsetsRequest {
        replica_id: -1,
        isolation_level: isolation.as_i8(),
        topics,
        ..Default::default()
    }
}

/// `(offset, timestamp)` per partition, or that partition's error.
pub(crate) fn parse_list_offsets(
    resp: Response,
) -> Result<HashMap<TopicPartition, Result<(i64, i64)>>> {
    let resp: ListOffsetsResponse = resp.decode()?;
    let mut out = HashMap::new();
    for t in resp.topics {
        for p in t.partitions {
            let tp = TopicPartition::new(t.name.clone(), p.partition_index);
            let r = if p.error_code == 0 {
                Ok((p.offset, p.timestamp))
            } else {
                Err(Error::for_topic(
                    ErrorCode(p.error_code),
                    Some(format!("listing offsets of {tp}")),
                    &tp.topic,
                ))
            };
            out.insert(tp, r);
        }
    }
    Ok(out)
}
