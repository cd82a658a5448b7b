//! A consumer group's committed offsets: reading them (OffsetFetch) and setting them
//! (OffsetCommit as a group without members), through the group's coordinator.

use std::collections::BTreeMap;

use crate::consumer::OffsetAndMetadata;
use crate::error::{Error, Result};
use crate::protocol::api::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    OffsetCommitResponse,
};
use crate::protocol::api::offset_fetch::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
    OffsetFetchResponse,
};
use crate::protocol::error_code::ErrorCode;
use crate::TopicPartition;

use super::call::{check_code, check_group, check_topic, retriable};
use super::AdminClient;

/// Partitions grouped by topic, in topic order.
pub(super) fn by_topic<'a>(
    partitions: impl IntoIterator<Item = &'a TopicPartition>,
) -> BTreeMap<&'a str, Vec<i32>> {
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        topics
            .entry(tp.topic.as_str())
            .or_default()
            .push(tp.partition);
    }
    topics
}

/// Each partition of a per-topic answer (`topics`: each topic's name and partitions),
/// with what `each` makes of it; `index` reads a partition's number.
pub(super) fn per_partition<P, V>(
    topics: impl IntoIterator<Item = (String, Vec<P>)>,
    index: impl Fn(&P) -> i32,
    mut each: impl FnMut(&TopicPartition, P) -> V,
) -> Vec<(TopicPartition, V)> {
    let mut out = Vec::new();
    for (topic, partitions) in topics {
        for p in partitions {
            let tp = TopicPartition::new(topic.clone(), index(&p));
            let v = each(&tp, p);
            out.push((tp, v));
        }
    }
    out
}

/// One partition of an OffsetFetch answer: the offset, `None` if nothing is committed
/// (or the partition is unknown), or the partition's error.
fn fetched(
    tp: &TopicPartition,
    error_code: i16,
    offset: i64,
    leader_epoch: i32,
    metadata: Option<String>,
) -> Result<Option<OffsetAndMetadata>> {
    if error_code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0 {
        return Ok(None);
    }
    check_topic(
        error_code,
        Some(&format!("fetching the committed offset of {tp}")),
        &tp.topic,
    )?;
    Ok((offset >= 0).then(|| OffsetAndMetadata {
        offset,
        metadata: metadata.unwrap_or_default(),
        leader_epoch: (leader_epoch >= 0).then_some(leader_epoch),
    }))
}

impl AdminClient {
    /// The committed offsets of a consumer group: of the given partitions, or of every
    /// partition the group committed for if `None`. Partitions without a committed
    /// offset are left out.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// for (tp, committed) in admin.list_consumer_group_offsets("billing", None)? {
    ///     println!("{tp}: {}", committed.offset);
    /// }
    /// # Ok(()) }
    /// ```
    #[doc(alias = "list_group_offsets")]
    pub fn list_consumer_group_offsets(
        &self,
        group: &str,
        partitions: Option<&[TopicPartition]>,
    ) -> Result<BTreeMap<TopicPartition, OffsetAndMetadata>> {
        let deadline = self.deadline(None);
        let wanted = partitions.map(by_topic);
        let mut results = self.retry_items(
            "fetching committed offsets",
            deadline,
            [group.to_string()],
            |pending, deadline| {
                self.per_coordinator(
                    pending,
                    deadline,
                    |target, groups| {
                        // Versions 0-7 name one group at the top level, 8+ a list of groups:
                        // fill both, for whichever version the broker speaks.
                        let req = OffsetFetchRequest {
                            group_id: groups[0].clone(),
                            topics: wanted.as_ref().map(|w| {
                                w.iter()
                                    .map(|(t, ps)| OffsetFetchRequestTopic {
                                        name: t.to_string(),
                                        partition_indexes: ps.clone(),
                                    })
                                    .collect()
                            }),
                            groups: vec![OffsetFetchRequestGroup {
                                group_id: groups[0].clone(),
                                member_id: None,
                                member_epoch: -1,
                                topics: wanted.as_ref().map(|w| {
                                    w.iter()
                                        .map(|(t, ps)| OffsetFetchRequestTopics {
                                            name: t.to_string(),
                                            partition_indexes: ps.clone(),
                                        })
                                        .collect()
                                }),
                            }],
                            require_stable: false,
                        };
                        self.send(target, req, None, deadline, "an OffsetFetch response")
                    },
                    |_, resp: OffsetFetchResponse| {
                        vec![(group.to_string(), parse_offset_fetch(group, resp))]
                    },
                )
            },
        )?;
        results.remove(group).unwrap_or_else(|| {
            Err(Error::Protocol(format!(
                "no committed offsets answer for group {group}"
            )))
        })
    }

    /// Sets committed offsets of a consumer group that has no active members (as the
    /// Java admin's `alterConsumerGroupOffsets`), creating the group if it does not exist.
    /// Returns each partition's outcome; a group with members answers
    /// `UNKNOWN_MEMBER_ID` for every partition.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use std::collections::BTreeMap;
    /// use kafka_sync::{OffsetAndMetadata, TopicPartition};
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// let rewind = BTreeMap::from([(TopicPartition::new("orders", 0), OffsetAndMetadata::new(0))]);
    /// for (tp, result) in admin.alter_consumer_group_offsets("billing", &rewind)? {
    ///     result?;
    /// }
    /// # Ok(()) }
    /// ```
    #[doc(alias = "alter_group_offsets")]
    pub fn alter_consumer_group_offsets(
        &self,
        group: &str,
        offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        if let Some((tp, om)) = offsets.iter().find(|(_, om)| om.offset < 0) {
            return Err(Error::InvalidArgument(format!(
                "cannot commit negative offset {} for {tp}",
                om.offset
            )));
        }
        let deadline = self.deadline(None);
        let topics = by_topic(offsets.keys());
        let mut results = self.retry_items(
            "committing offsets",
            deadline,
            [group.to_string()],
            |pending, deadline| {
                self.per_coordinator(
                    pending,
                    deadline,
                    |target, groups| {
                        let req = OffsetCommitRequest {
                            group_id: groups[0].clone(),
                            generation_id_or_member_epoch: -1,
                            member_id: String::new(),
                            group_instance_id: None,
                            retention_time_ms: -1,
                            topics: topics
                                .iter()
                                .map(|(t, ps)| OffsetCommitRequestTopic {
                                    name: t.to_string(),
                                    partitions: ps
                                        .iter()
                                        .map(|p| {
                                            let om = &offsets[&TopicPartition::new(*t, *p)];
                                            OffsetCommitRequestPartition {
                                                partition_index: *p,
                                                committed_offset: om.offset,
                                                committed_leader_epoch: om
                                                    .leader_epoch
                                                    .unwrap_or(-1),
                                                commit_timestamp: -1,
                                                committed_metadata: Some(om.metadata.clone()),
                                            }
                                        })
                                        .collect(),
                                })
                                .collect(),
                        };
                        self.send(target, req, None, deadline, "an OffsetCommit response")
                    },
                    |_, resp: OffsetCommitResponse| {
                        vec![(group.to_string(), parse_offset_commit(resp, group))]
                    },
                )
            },
        )?;
        results.remove(group).unwrap_or_else(|| {
            Err(Error::Protocol(format!(
                "no offset commit answer for group {group}"
            )))
        })
    }
}

/// The committed offsets in an OffsetFetch answer (either layout), or the error of the
/// whole group. A coordinator error or an unstable offset (a transaction still open)
/// fails the group with a retriable error, so the call asks again.
fn parse_offset_fetch(
    group: &str,
    resp: OffsetFetchResponse,
) -> Result<BTreeMap<TopicPartition, OffsetAndMetadata>> {
    let mut out = BTreeMap::new();
    let mut add = |tp: TopicPartition, r: Result<Option<OffsetAndMetadata>>| -> Result<()> {
        if let Some(om) = r? {
            out.insert(tp, om);
        }
        Ok(())
    };
    if resp.groups.is_empty() {
        check_group(resp.error_code, group, || {
            format!("fetching the committed offsets of group {group}")
        })?;
        for t in resp.topics {
            for p in t.partitions {
                let tp = TopicPartition::new(t.name.clone(), p.partition_index);
                let r = fetched(
                    &tp,
                    p.error_code,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata,
                );
                add(tp, r)?;
            }
        }
    } else {
        let g = resp
            .groups
            .into_iter()
            .find(|g| g.group_id == group)
            .ok_or_else(|| {
                Error::Protocol(format!("the OffsetFetch response left out group {group}"))
            })?;
        check_group(g.error_code, group, || {
            format!("fetching the committed offsets of group {group}")
        })?;
        for t in g.topics {
            for p in t.partitions {
                let tp = TopicPartition::new(t.name.clone(), p.partition_index);
                let r = fetched(
                    &tp,
                    p.error_code,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata,
                );
                add(tp, r)?;
            }
        }
    }
    Ok(out)
}

/// Each partition's outcome in an OffsetCommit answer; a coordinator error of any
/// partition fails the group with it, so the call finds the coordinator and asks again.
fn parse_offset_commit(
    resp: OffsetCommitResponse,
    group: &str,
) -> Result<BTreeMap<TopicPartition, Result<()>>> {
    let mut out = BTreeMap::new();
    for t in resp.topics {
        for p in t.partitions {
            let tp = TopicPartition::new(t.name.clone(), p.partition_index);
            let r = match p.error_code {
                c if c == ErrorCode::TOPIC_AUTHORIZATION_FAILED.0 => {
                    check_topic(c, None, &tp.topic)
                }
                c if c == ErrorCode::UNKNOWN_MEMBER_ID.0 => check_code(c, || {
                    format!(
                        "committing the offset of {tp}: the group has members, and offsets \
                         can be altered only while it has none"
                    )
                }),
                c => check_group(c, group, || format!("committing the offset of {tp}")),
            };
            if let Err(e) = &r {
                if retriable(e) {
                    return Err(e.clone());
                }
            }
            out.insert(tp, r);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetched_offsets_leave_out_uncommitted_and_unknown_partitions() {
        let tp = TopicPartition::new("t", 0);
        let om = fetched(&tp, 0, 5, 3, Some("m".into())).unwrap().unwrap();
        assert_eq!(
            (om.offset, om.metadata.as_str(), om.leader_epoch),
            (5, "m", Some(3))
        );
        assert_eq!(fetched(&tp, 0, -1, -1, None).unwrap(), None);
        assert_eq!(
            fetched(&tp, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0, -1, -1, None).unwrap(),
            None
        );
        assert_eq!(
            fetched(&tp, 0, 7, -1, None).unwrap().unwrap().leader_epoch,
            None
        );
        let e = fetched(&tp, ErrorCode::UNSTABLE_OFFSET_COMMIT.0, -1, -1, None).unwrap_err();
        assert!(retriable(&e));
    }

    #[test]
    fn partitions_are_grouped_by_topic() {
        let tps = [
            TopicPartition::new("b", 1),
            TopicPartition::new("a", 0),
            TopicPartition::new("b", 0),
        ];
        let m = by_topic(&tps);
        assert_eq!(m["a"], vec![0]);
        assert_eq!(m["b"], vec![1, 0]);
    }
}
