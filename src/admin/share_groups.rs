//! Share groups (KIP-932): listing and describing them, and reading, setting and
//! deleting their start offsets, as the Java admin client's `listGroups` with type
//! `share`, `describeShareGroups`, `listShareGroupOffsets`, `alterShareGroupOffsets` and
//! `deleteShareGroupOffsets`.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::net::metadata::BrokerMetadata;
use crate::protocol::api::alter_share_group_offsets::{
    AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsRequestPartition,
    AlterShareGroupOffsetsRequestTopic, AlterShareGroupOffsetsResponse,
};
use crate::protocol::api::delete_share_group_offsets::{
    DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsRequestTopic,
    DeleteShareGroupOffsetsResponse,
};
use crate::protocol::api::describe_share_group_offsets::{
    DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsRequestGroup,
    DescribeShareGroupOffsetsResponse,
};
use crate::protocol::api::list_groups::{ListGroupsRequest, ListGroupsResponse};
use crate::protocol::api::share_group_describe::{
    DescribedGroup, ShareGroupDescribeRequest, ShareGroupDescribeResponse,
};
use crate::TopicPartition;

use super::call::{check, check_code};
use super::AdminClient;

/// The group type of share groups in ListGroups.
const SHARE_GROUP_TYPE: &str = "share";

/// One member of a share group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareMemberDescription {
    /// The member id (the client generated it).
    pub member_id: String,
    /// The member's `client_id`.
    pub client_id: String,
    /// The member's host, as the broker saw it.
    pub host: String,
    /// Its rack, if it gave one.
    pub rack: Option<String>,
    /// Its member epoch.
    pub member_epoch: i32,
    /// The topics it subscribed to.
    pub subscribed_topics: Vec<String>,
    /// The partitions it is assigned (every member of a share group may read each one).
    pub assignment: Vec<TopicPartition>,
}

/// A share group from [`AdminClient::describe_share_groups`].
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// let admin = kafka_sync::admin::AdminClient::builder().build()?;
/// let group = admin.describe_share_groups(&["work-queue"])?["work-queue"].clone()?;
/// println!("{} is {} with {} members", group.group_id, group.state, group.members.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareGroupDescription {
    /// The group id.
    pub group_id: String,
    /// `Empty`, `Stable` or `Dead`.
    pub state: String,
    /// The group epoch.
    pub group_epoch: i32,
    /// The epoch of the assignment.
    pub assignment_epoch: i32,
    /// The broker-side assignor (`simple`).
    pub assignor: String,
    /// The members.
    pub members: Vec<ShareMemberDescription>,
    /// The broker coordinating the group.
    pub coordinator: BrokerMetadata,
}

impl ShareGroupDescription {
    fn from_response(g: DescribedGroup, coordinator: &BrokerMetadata) -> Result<Self> {
        check(g.error_code, g.error_message.as_deref())?;
        let members = g
            .members
            .into_iter()
            .map(|m| ShareMemberDescription {
                member_id: m.member_id,
                client_id: m.client_id,
                host: m.client_host,
                rack: m.rack_id,
                member_epoch: m.member_epoch,
                subscribed_topics: m.subscribed_topic_names,
                assignment: m
                    .assignment
                    .topic_partitions
                    .iter()
                    .flat_map(|t| {
                        t.partitions
                            .iter()
                            .map(|p| TopicPartition::new(&t.topic_name, *p))
                    })
                    .collect(),
            })
            .collect();
        Ok(ShareGroupDescription {
            group_id: g.group_id,
            state: g.group_state,
            group_epoch: g.group_epoch,
            assignment_epoch: g.assignment_epoch,
            assignor: g.assignor_name,
            members,
            coordinator: coordinator.clone(),
        })
    }
}

/// A share group's start offset in one partition, from
/// [`AdminClient::list_share_group_offsets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharePartitionOffset {
    /// The share-partition start offset: records before it are done with; `None` when
    /// the group has not started on the partition.
    pub start_offset: Option<i64>,
    /// The leader epoch of the start offset, if known.
    pub leader_epoch: Option<i32>,
    /// Records from the start offset to the end of the partition not yet done with, if
    /// the broker reports it.
    pub lag: Option<i64>,
}

impl AdminClient {
    /// Lists the share groups of the cluster (ListGroups with the type filter `share`),
    /// asking every broker, sorted by id.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// for g in admin.list_share_groups()? {
    ///     println!("{} ({:?})", g.group_id, g.state);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_share_groups(&self) -> Result<Vec<super::GroupListing>> {
        let deadline = self.deadline(None);
        let results = self.each_broker(
            "listing share groups",
            None,
            deadline,
            // v5 is the first with the type filter and the group type.
            |_| ListGroupsRequest {
                states_filter: Vec::new(),
                types_filter: vec![SHARE_GROUP_TYPE.to_owned()],
            },
            |id, resp: ListGroupsResponse| {
                check_code(resp.error_code, || {
                    format!("listing the groups of broker {id}")
                })?;
                Ok(resp.groups)
            },
        )?;
        let mut groups = BTreeMap::new();
        for (_, result) in results {
            for g in result? {
                if g.group_type == SHARE_GROUP_TYPE {
                    groups.insert(g.group_id.clone(), super::groups::listing(g));
                }
            }
        }
        Ok(groups.into_values().collect())
    }

    /// Describes share groups: state, epochs, members with their subscriptions and
    /// partitions. Each group has its own result (`GROUP_ID_NOT_FOUND` for one that does
    /// not exist or is not a share group).
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// for (id, group) in admin.describe_share_groups(&["work-queue"])? {
    ///     println!("{id}: {:?}", group?.members);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn describe_share_groups(
        &self,
        groups: &[&str],
    ) -> Result<BTreeMap<String, Result<ShareGroupDescription>>> {
        let deadline = self.deadline(None);
        let ids = groups.iter().map(|g| g.to_string());
        self.retry_items(
            "describing share groups",
            deadline,
            ids,
            |pending, deadline| {
                self.per_coordinator(
                    pending,
                    deadline,
                    |target, groups| {
                        let req = ShareGroupDescribeRequest {
                            group_ids: groups.to_vec(),
                            include_authorized_operations: false,
                        };
                        self.send(target, req, None, deadline, "a ShareGroupDescribe response")
                    },
                    |coordinator, resp: ShareGroupDescribeResponse| {
                        resp.groups
                            .into_iter()
                            .map(|g| {
                                (
                                    g.group_id.clone(),
                                    ShareGroupDescription::from_response(g, coordinator),
                                )
                            })
                            .collect()
                    },
                )
            },
        )
    }

    /// A share group's start offset in each partition it has state for
    /// (DescribeShareGroupOffsets for all its topics).
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// for (tp, offset) in admin.list_share_group_offsets("work-queue")? {
    ///     println!("{tp}: {:?}", offset?.start_offset);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_share_group_offsets(
        &self,
        group: &str,
    ) -> Result<BTreeMap<TopicPartition, Result<SharePartitionOffset>>> {
        let resp: DescribeShareGroupOffsetsResponse = self.share_group_call(
            group,
            |group| DescribeShareGroupOffsetsRequest {
                groups: vec![DescribeShareGroupOffsetsRequestGroup {
                    group_id: group.to_owned(),
                    topics: None,
                }],
            },
            |r: &DescribeShareGroupOffsetsResponse| {
                r.groups
                    .first()
                    .map_or((0, None), |g| (g.error_code, g.error_message.clone()))
            },
        )?;
        let mut out = BTreeMap::new();
        for g in resp.groups {
            check(g.error_code, g.error_message.as_deref())?;
            for t in g.topics {
                for p in t.partitions {
                    let tp = TopicPartition::new(&t.topic_name, p.partition_index);
                    let r = check(p.error_code, p.error_message.as_deref()).map(|()| {
                        SharePartitionOffset {
                            start_offset: (p.start_offset >= 0).then_some(p.start_offset),
                            leader_epoch: (p.leader_epoch >= 0).then_some(p.leader_epoch),
                            lag: (p.lag >= 0).then_some(p.lag),
                        }
                    });
                    out.insert(tp, r);
                }
            }
        }
        Ok(out)
    }

    /// Sets a share group's start offsets (the group must have no members): the group
    /// then delivers each partition from the given offset.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use std::collections::BTreeMap;
    /// use kafka_sync::TopicPartition;
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// let offsets = BTreeMap::from([(TopicPartition::new("jobs", 0), 0)]);
    /// for (tp, result) in admin.alter_share_group_offsets("work-queue", &offsets)? {
    ///     result?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn alter_share_group_offsets(
        &self,
        group: &str,
        offsets: &BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let mut topics: BTreeMap<&str, Vec<AlterShareGroupOffsetsRequestPartition>> =
            BTreeMap::new();
        for (tp, offset) in offsets {
            topics
                .entry(&tp.topic)
                .or_default()
                .push(AlterShareGroupOffsetsRequestPartition {
                    partition_index: tp.partition,
                    start_offset: *offset,
                });
        }
        let resp: AlterShareGroupOffsetsResponse = self.share_group_call(
            group,
            |group| AlterShareGroupOffsetsRequest {
                group_id: group.to_owned(),
                topics: topics
                    .iter()
                    .map(|(t, ps)| AlterShareGroupOffsetsRequestTopic {
                        topic_name: t.to_string(),
                        partitions: ps.clone(),
                    })
                    .collect(),
            },
            |r: &AlterShareGroupOffsetsResponse| (r.error_code, r.error_message.clone()),
        )?;
        check(resp.error_code, resp.error_message.as_deref())?;
        let mut out = BTreeMap::new();
        for t in resp.responses {
            for p in t.partitions {
                let tp = TopicPartition::new(&t.topic_name, p.partition_index);
                out.insert(tp, check(p.error_code, p.error_message.as_deref()));
            }
        }
        for tp in offsets.keys() {
            out.entry(tp.clone()).or_insert_with(|| {
                Err(Error::Protocol(format!(
                    "the AlterShareGroupOffsets answer left out {tp}"
                )))
            });
        }
        Ok(out)
    }

    /// Deletes a share group's state for whole topics (the group must have no members):
    /// it then starts them afresh, by its `share.auto.offset.reset`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// admin.delete_share_group_offsets("work-queue", &["jobs"])?["jobs"].clone()?;
    /// # Ok(()) }
    /// ```
    pub fn delete_share_group_offsets(
        &self,
        group: &str,
        topics: &[&str],
    ) -> Result<BTreeMap<String, Result<()>>> {
        let resp: DeleteShareGroupOffsetsResponse = self.share_group_call(
            group,
            |group| DeleteShareGroupOffsetsRequest {
                group_id: group.to_owned(),
                topics: topics
                    .iter()
                    .map(|t| DeleteShareGroupOffsetsRequestTopic {
                        topic_name: t.to_string(),
                    })
                    .collect(),
            },
            |r: &DeleteShareGroupOffsetsResponse| (r.error_code, r.error_message.clone()),
        )?;
        check(resp.error_code, resp.error_message.as_deref())?;
        let mut out: BTreeMap<String, Result<()>> = resp
            .responses
            .into_iter()
            .map(|t| {
                (
                    t.topic_name,
                    check(t.error_code, t.error_message.as_deref()),
                )
            })
            .collect();
        for t in topics {
            out.entry(t.to_string()).or_insert_with(|| {
                Err(Error::Protocol(format!(
                    "the DeleteShareGroupOffsets answer left out {t}"
                )))
            });
        }
        Ok(out)
    }

    /// One request to `group`'s coordinator, retried (with a new coordinator lookup)
    /// while the answer's top-level error (`code`) or the call fails retriably.
    fn share_group_call<R, M>(
        &self,
        group: &str,
        make: impl Fn(&str) -> R,
        code: impl Fn(&M) -> (i16, Option<String>),
    ) -> Result<M>
    where
        R: crate::net::network::RequestBody + 'static,
        M: crate::protocol::api::Message,
    {
        let deadline = self.deadline(None);
        let mut out = self.retry_items(
            "a share group call",
            deadline,
            [group.to_owned()],
            |pending, deadline| {
                self.per_coordinator(
                    pending,
                    deadline,
                    |target, groups| {
                        let what = format!("a {} response", M::NAME);
                        self.send(target, make(&groups[0]), None, deadline, &what)
                    },
                    |_, resp: M| {
                        let (c, message) = code(&resp);
                        vec![(
                            group.to_owned(),
                            check(c, message.as_deref()).map(|()| resp),
                        )]
                    },
                )
            },
        )?;
        // A final top-level broker error (GROUP_NOT_EMPTY, ...) fails the whole call.
        match out.remove(group) {
            Some(r) => r,
            None => Err(Error::Protocol(format!(
                "no answer for share group {group}"
            ))),
        }
    }
}
