//! Looking up partition offsets by position or time (ListOffsets to each partition's
//! leader): the earliest and latest offsets, or the first offset at a timestamp.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::error::Result;
use crate::protocol::api::list_offsets::{
    ListOffsetsPartition, ListOffsetsPartitionResponse, ListOffsetsRequest, ListOffsetsResponse,
    ListOffsetsTopic,
};
use crate::TopicPartition;

use super::call::check_code;
use super::offsets::{by_topic, per_partition};
use super::{timeout_ms, AdminClient};

/// Which offset [`AdminClient::list_offsets`] looks up.
///
/// # Examples
/// ```
/// use kafka_sync::admin::OffsetSpec;
/// let an_hour_ago = OffsetSpec::Timestamp(1_700_000_000_000 - 3_600_000);
/// assert_eq!(OffsetSpec::Earliest.to_timestamp(), -2);
/// assert_eq!(OffsetSpec::Latest.to_timestamp(), -1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OffsetSpec {
    /// The log start offset: the first record still kept.
    Earliest,
    /// The log end offset (the high watermark): where the next record goes.
    Latest,
    /// The first offset whose record's timestamp is at or after these milliseconds since
    /// the epoch.
    Timestamp(i64),
}

impl OffsetSpec {
    /// The `timestamp` field of ListOffsets: -2 earliest, -1 latest, else the time.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(kafka_sync::admin::OffsetSpec::Timestamp(5).to_timestamp(), 5);
    /// ```
    pub fn to_timestamp(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::Timestamp(t) => t,
        }
    }
}

/// A partition's offset from [`AdminClient::list_offsets`].
///
/// # Examples
/// ```
/// let found = kafka_sync::admin::ListedOffset { offset: Some(42), timestamp: Some(1_700_000_000_000), leader_epoch: Some(3) };
/// assert_eq!(found.offset, Some(42));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// The offset; `None` for a timestamp after the partition's last record.
    pub offset: Option<i64>,
    /// For a timestamp lookup, the found record's timestamp.
    pub timestamp: Option<i64>,
    /// The leader epoch of the found offset, from brokers of Kafka 2.1 and later.
    pub leader_epoch: Option<i32>,
}

impl ListedOffset {
    fn from_response(p: &ListOffsetsPartitionResponse) -> Self {
        // Version 0 answers with a list of offsets instead of one.
        let offset = p.old_style_offsets.first().copied().unwrap_or(p.offset);
        ListedOffset {
            offset: (offset >= 0).then_some(offset),
            timestamp: (p.timestamp >= 0).then_some(p.timestamp),
            leader_epoch: (p.leader_epoch >= 0).then_some(p.leader_epoch),
        }
    }
}

impl AdminClient {
    /// Looks up an offset of each partition, as the Java admin's `listOffsets` and
    /// kafka-python's `list_partition_offsets`: the earliest, the latest, or the first
    /// at a timestamp (read-uncommitted: the latest offset is the high watermark). Each
    /// partition has its own result (`UNKNOWN_TOPIC_OR_PARTITION` for one that does not
    /// exist). Requests go to each partition's leader.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use std::collections::BTreeMap;
    /// use kafka_sync::admin::OffsetSpec;
    /// use kafka_sync::TopicPartition;
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// let tp = TopicPartition::new("orders", 0);
    /// let ends = admin.list_offsets(&BTreeMap::from([(tp.clone(), OffsetSpec::Latest)]))?;
    /// println!("{tp} ends at {:?}", ends[&tp].clone()?.offset);
    /// # Ok(()) }
    /// ```
    #[doc(alias = "list_partition_offsets")]
    pub fn list_offsets(
        &self,
        specs: &BTreeMap<TopicPartition, OffsetSpec>,
    ) -> Result<BTreeMap<TopicPartition, Result<ListedOffset>>> {
        self.leader_call(
            "listing offsets",
            specs.keys().cloned(),
            |target, asked, deadline| {
                let req = list_offsets_request(asked, specs, deadline);
                self.send(target, req, None, deadline, "a ListOffsets response")
            },
            |resp: ListOffsetsResponse| {
                per_partition(
                    resp.topics.into_iter().map(|t| (t.name, t.partitions)),
                    |p| p.partition_index,
                    |tp, p| {
                        check_code(p.error_code, || format!("listing the offsets of {tp}"))
                            .map(|()| ListedOffset::from_response(&p))
                    },
                )
            },
        )
    }
}

fn list_offsets_request(
    asked: &[TopicPartition],
    specs: &BTreeMap<TopicPartition, OffsetSpec>,
    deadline: Instant,
) -> ListOffsetsRequest {
    ListOffsetsRequest {
        replica_id: -1,
        isolation_level: 0,
        topics: by_topic(asked)
            .into_iter()
            .map(|(t, ps)| ListOffsetsTopic {
                name: t.to_owned(),
                partitions: ps
                    .into_iter()
                    .map(|p| ListOffsetsPartition {
                        partition_index: p,
                        current_leader_epoch: -1,
                        timestamp: specs[&TopicPartition::new(t, p)].to_timestamp(),
                        max_num_offsets: 1,
                    })
                    .collect(),
            })
            .collect(),
        timeout_ms: timeout_ms(deadline.saturating_duration_since(Instant::now())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_offset_reads_either_layout_and_leaves_out_unknowns() {
        let p = ListOffsetsPartitionResponse {
            partition_index: 0,
            error_code: 0,
            old_style_offsets: vec![],
            timestamp: -1,
            offset: 12,
            leader_epoch: 4,
        };
        let l = ListedOffset::from_response(&p);
        assert_eq!(
            (l.offset, l.timestamp, l.leader_epoch),
            (Some(12), None, Some(4))
        );
        let v0 = ListOffsetsPartitionResponse {
            old_style_offsets: vec![7],
            offset: -1,
            leader_epoch: -1,
            ..p.clone()
        };
        assert_eq!(ListedOffset::from_response(&v0).offset, Some(7));
        let none = ListOffsetsPartitionResponse {
            offset: -1,
            ..p.clone()
        };
        assert_eq!(ListedOffset::from_response(&none).offset, None);
    }
}
