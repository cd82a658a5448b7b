//! Resetting a consumer group's committed offsets, as `kafka-consumer-groups.sh
//! --reset-offsets --execute` does: only while the group has no members, to positions
//! looked up on the brokers and kept within each partition's log.

use std::collections::{BTreeMap, BTreeSet};

use crate::consumer::OffsetAndMetadata;
use crate::error::{Error, Result};
use crate::protocol::error_code::ErrorCode;
use crate::TopicPartition;

use super::offset_lookup::OffsetSpec;
use super::AdminClient;

/// Where [`AdminClient::reset_consumer_group_offsets`] moves a group's offsets.
///
/// # Examples
/// ```
/// use kafka_sync::admin::ResetTo;
/// let replay_last_hour = ResetTo::Timestamp(1_700_000_000_000 - 3_600_000);
/// let skip_everything = ResetTo::Latest;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResetTo {
    /// The log start offset (`--to-earliest`).
    Earliest,
    /// The log end offset (`--to-latest`).
    Latest,
    /// The first record at or after these milliseconds since the epoch, or the log end
    /// offset if no record is that new (`--to-datetime`).
    Timestamp(i64),
    /// This offset, moved into the log's range if it lies outside (`--to-offset`).
    Offset(i64),
}

/// The offset to commit: `wanted` (the looked-up or given offset, `None` past the last
/// record) kept within `[earliest, latest]`.
fn clamp(wanted: Option<i64>, earliest: i64, latest: i64) -> i64 {
    wanted
        .unwrap_or(latest)
        .clamp(earliest, latest.max(earliest))
}

impl AdminClient {
    /// Resets the committed offsets of a consumer group without members, as
    /// `kafka-consumer-groups.sh --reset-offsets --execute` and the consumer groups
    /// article's `--reset` switch: to the earliest or latest offset, to the first record
    /// at a time, or to a given offset. Every offset is kept within the partition's
    /// `[earliest, latest]` range, so the group never starts out of range.
    ///
    /// `topics` are the topics to reset, every partition of each; `None` resets every
    /// partition the group has committed offsets for (`--all-topics`). Returns each
    /// partition's new committed offset, or its error.
    ///
    /// The group must have no members: a group with live consumers would overwrite the
    /// reset with its next commit. The call fails with `NON_EMPTY_GROUP`, naming the
    /// group's state, unless the group is `Empty` or does not exist yet; stop its
    /// consumers first. (A member that joins during the call makes the commit fail with
    /// `UNKNOWN_MEMBER_ID` per partition.)
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use kafka_sync::admin::ResetTo;
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// // Re-read everything: the next consumer of the group starts at the beginning.
    /// for (tp, result) in admin.reset_consumer_group_offsets("billing", Some(&["orders"]), ResetTo::Earliest)? {
    ///     println!("{tp} now at {}", result?);
    /// }
    /// # Ok(()) }
    /// ```
    #[doc(alias = "reset_group_offsets")]
    pub fn reset_consumer_group_offsets(
        &self,
        group: &str,
        topics: Option<&[&str]>,
        to: ResetTo,
    ) -> Result<BTreeMap<TopicPartition, Result<i64>>> {
        self.check_group_has_no_members(group)?;
        let partitions: BTreeSet<TopicPartition> = match topics {
            None => self
                .list_consumer_group_offsets(group, None)?
                .into_keys()
                .collect(),
            Some(topics) => self.partitions_of(topics)?,
        };
        let lookup = |spec: OffsetSpec| {
            let specs = partitions.iter().map(|tp| (tp.clone(), spec)).collect();
            self.list_offsets(&specs)
        };
        let earliest = lookup(OffsetSpec::Earliest)?;
        let latest = lookup(OffsetSpec::Latest)?;
        let wanted = match to {
            ResetTo::Timestamp(t) => Some(lookup(OffsetSpec::Timestamp(t))?),
            _ => None,
        };
        let mut out = BTreeMap::new();
        let mut commit = BTreeMap::new();
        for tp in partitions {
            let target = (|| {
                let low = earliest[&tp].clone()?.offset.unwrap_or(0);
                let high = latest[&tp].clone()?.offset.unwrap_or(low);
                let want = match to {
                    ResetTo::Earliest => Some(low),
                    ResetTo::Latest => Some(high),
                    ResetTo::Offset(o) => Some(o),
                    ResetTo::Timestamp(_) => match &wanted {
                        Some(w) => w[&tp].clone()?.offset,
                        None => None,
                    },
                };
                Ok(clamp(want, low, high))
            })();
            match target {
                Ok(offset) => {
                    commit.insert(tp, OffsetAndMetadata::new(offset));
                }
                Err(e) => {
                    out.insert(tp, Err(e));
                }
            }
        }
        if commit.is_empty() {
            return Ok(out);
        }
        for (tp, result) in self.alter_consumer_group_offsets(group, &commit)? {
            let offset = commit[&tp].offset;
            out.insert(tp, result.map(|()| offset));
        }
        Ok(out)
    }

    /// `Ok` if `group` is empty or does not exist; `NON_EMPTY_GROUP` naming its state and
    /// members otherwise.
    fn check_group_has_no_members(&self, group: &str) -> Result<()> {
        let mut described = self.describe_consumer_groups(&[group])?;
        let d = match described.remove(group) {
            Some(Ok(d)) => d,
            Some(Err(e)) if e.code() == Some(ErrorCode::GROUP_ID_NOT_FOUND) => return Ok(()),
            Some(Err(e)) => return Err(e),
            None => return Err(Error::Protocol(format!("no description of group {group}"))),
        };
        if d.members.is_empty() && matches!(d.state.as_str(), "Empty" | "Dead") {
            return Ok(());
        }
        Err(Error::broker(
            ErrorCode::NON_EMPTY_GROUP,
            Some(format!(
                "group {group} is {} with {} member(s): its offsets can be reset only while \
                 it has no members; stop its consumers first",
                d.state,
                d.members.len()
            )),
        ))
    }

    /// Every partition of `topics`; `UNKNOWN_TOPIC_OR_PARTITION` naming a missing one.
    fn partitions_of(&self, topics: &[&str]) -> Result<BTreeSet<TopicPartition>> {
        Ok(self
            .describe_topics(topics)?
            .into_iter()
            .flat_map(|t| {
                let name = t.name;
                t.partitions
                    .into_iter()
                    .map(move |p| TopicPartition::new(name.clone(), p.partition))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_stay_within_the_log() {
        assert_eq!(clamp(Some(5), 2, 10), 5);
        assert_eq!(clamp(Some(0), 2, 10), 2);
        assert_eq!(clamp(Some(99), 2, 10), 10);
        // A timestamp after the last record: the log end.
        assert_eq!(clamp(None, 2, 10), 10);
        // An empty log whose start moved to its end.
        assert_eq!(clamp(Some(0), 7, 7), 7);
    }
}
