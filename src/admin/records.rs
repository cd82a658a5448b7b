//! Deleting records: moving partitions' log start offsets forward (DeleteRecords to each
//! partition's leader).

use std::collections::BTreeMap;
use std::time::Instant;

use crate::error::Result;
use crate::protocol::api::delete_records::{
    DeleteRecordsPartition, DeleteRecordsRequest, DeleteRecordsResponse, DeleteRecordsTopic,
};
use crate::TopicPartition;

use super::call::check_topic;
use super::offsets::{by_topic, per_partition};
use super::{timeout_ms, AdminClient};

impl AdminClient {
    /// Deletes every record before the given offset of each partition (`-1`: before the
    /// high watermark, so all of them), as kafka-python's `delete_records`. Returns each
    /// partition's new low watermark (its log start offset), or its error:
    /// `OFFSET_OUT_OF_RANGE` for an offset past the end, `UNKNOWN_TOPIC_OR_PARTITION`
    /// for a partition that does not exist. Requests go to each partition's leader.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use std::collections::BTreeMap;
    /// use kafka_sync::TopicPartition;
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// let before = BTreeMap::from([(TopicPartition::new("events", 0), 1000)]);
    /// for (tp, result) in admin.delete_records(&before)? {
    ///     println!("{tp} now starts at offset {}", result?);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn delete_records(
        &self,
        before: &BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, Result<i64>>> {
        self.leader_call(
            "deleting records",
            before.keys().cloned(),
            |target, asked, deadline| {
                let req = DeleteRecordsRequest {
                    topics: by_topic(asked)
                        .into_iter()
                        .map(|(t, ps)| DeleteRecordsTopic {
                            name: t.to_owned(),
                            partitions: ps
                                .into_iter()
                                .map(|p| DeleteRecordsPartition {
                                    partition_index: p,
                                    offset: before[&TopicPartition::new(t, p)],
                                })
                                .collect(),
                        })
                        .collect(),
                    timeout_ms: timeout_ms(deadline.saturating_duration_since(Instant::now())),
                };
                self.send(target, req, None, deadline, "a DeleteRecords response")
            },
            |resp: DeleteRecordsResponse| {
                per_partition(
                    resp.topics.into_iter().map(|t| (t.name, t.partitions)),
                    |p| p.partition_index,
                    |tp, p| {
                        let what = format!("deleting records of {tp}");
                        check_topic(p.error_code, Some(&what), &tp.topic).map(|()| p.low_watermark)
                    },
                )
            },
        )
    }
}
