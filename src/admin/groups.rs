//! Listing, describing and deleting consumer groups.

use std::collections::BTreeMap;

use crate::consumer::assignor::decode_assignment;
use crate::error::Result;
use crate::net::metadata::BrokerMetadata;
use crate::protocol::api::delete_groups::{DeleteGroupsRequest, DeleteGroupsResponse};
use crate::protocol::api::describe_groups::{
    DescribeGroupsRequest, DescribeGroupsResponse, DescribedGroup,
};
use crate::protocol::api::list_groups::{ListGroupsRequest, ListGroupsResponse, ListedGroup};
use crate::protocol::error_code::ErrorCode;
use crate::TopicPartition;

use super::call::{check_code, check_group};
use super::AdminClient;

/// The protocol type of consumer groups.
pub(super) const CONSUMER_PROTOCOL_TYPE: &str = "consumer";
/// The type of groups of the classic protocol.
const CLASSIC_GROUP_TYPE: &str = "classic";
/// The state DescribeGroups gives a group it does not know (or that is not classic).
const DEAD: &str = "Dead";

/// Filters of [`AdminClient::list_consumer_groups_with`]; the default lists every
/// consumer group.
///
/// # Examples
/// ```
/// use kafka_sync::admin::ListConsumerGroupsOptions;
/// // Groups of the KIP-848 consumer protocol that are rebalancing.
/// let options = ListConsumerGroupsOptions {
///     types: vec!["consumer".into()],
///     states: vec!["Assigning".into(), "Reconciling".into()],
/// };
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListConsumerGroupsOptions {
    /// Only groups in these states (`Stable`, `Empty`, ...); all if empty. Brokers of
    /// Kafka 2.6 and later filter; on older ones the list is filtered here.
    pub states: Vec<String>,
    /// Only groups of these types, `classic` or `consumer`; all if empty. Brokers of
    /// Kafka 3.8 and later filter; on older ones the list is filtered here.
    pub types: Vec<String>,
}

impl ListConsumerGroupsOptions {
    /// True if `g` passes the filters (compared as the broker does, ignoring case).
    fn accepts(&self, g: &GroupListing) -> bool {
        let within = |wanted: &[String], got: &Option<String>| {
            wanted.is_empty()
                || got
                    .as_ref()
                    .is_some_and(|v| wanted.iter().any(|w| w.eq_ignore_ascii_case(v)))
        };
        within(&self.states, &g.state) && within(&self.types, &g.group_type)
    }
}

/// One group from [`AdminClient::list_consumer_groups`].
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// let admin = kafka_sync::admin::AdminClient::builder().build()?;
/// for g in admin.list_consumer_groups()? {
///     println!("{} ({:?})", g.group_id, g.state);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// The group id.
    pub group_id: String,
    /// `"consumer"`, or empty for a group that only stores committed offsets.
    pub protocol_type: String,
    /// The state (`Stable`, `Empty`, `PreparingRebalance`, ...), from brokers of Kafka
    /// 2.6 and later.
    pub state: Option<String>,
    /// The group type (`classic` or `consumer`), from brokers of Kafka 3.8 and later.
    pub group_type: Option<String>,
}

/// One member of a [`GroupDescription`].
///
/// # Examples
/// ```
/// use kafka_sync::admin::MemberDescription;
/// let m = MemberDescription {
///     member_id: "consumer-1-abc".into(),
///     group_instance_id: None,
///     client_id: "consumer-1".into(),
///     host: "/10.0.0.7".into(),
///     assignment: vec![kafka_sync::TopicPartition::new("orders", 0)],
///     target_assignment: None,
/// };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// Its static membership id, if any.
    pub group_instance_id: Option<String>,
    /// The member's `client_id`.
    pub client_id: String,
    /// The member's host, as the broker saw it.
    pub host: String,
    /// The partitions assigned to it (decoded for consumer groups; empty otherwise).
    pub assignment: Vec<TopicPartition>,
    /// In a group of the consumer protocol (KIP-848): the partitions the broker's
    /// assignor decided the member gets, which `assignment` reaches once the member
    /// released and took partitions. `None` in classic groups.
    pub target_assignment: Option<Vec<TopicPartition>>,
}

/// A consumer group from [`AdminClient::describe_consumer_groups`].
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// let admin = kafka_sync::admin::AdminClient::builder().build()?;
/// let groups = admin.describe_consumer_groups(&["my-group"])?;
/// let group = groups["my-group"].clone()?;
/// println!("{} is {} with {} members", group.group_id, group.state, group.members.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group id.
    pub group_id: String,
    /// The state: `Stable`, `Empty`, `PreparingRebalance`, `CompletingRebalance`, or
    /// `Dead` for a group that does not exist.
    pub state: String,
    /// `"consumer"` for consumer groups; empty for a group without members.
    pub protocol_type: String,
    /// The assignor in use (`range`, `cooperative-sticky`, ...; for the consumer protocol
    /// the broker's, `uniform` or `range`); empty unless stable.
    pub protocol: String,
    /// `classic` or `consumer` (KIP-848); `None` for a group that does not exist.
    pub group_type: Option<String>,
    /// The group epoch, in groups of the consumer protocol.
    pub group_epoch: Option<i32>,
    /// The members and their partitions.
    pub members: Vec<MemberDescription>,
    /// The broker coordinating the group.
    pub coordinator: BrokerMetadata,
}

impl GroupDescription {
    fn from_response(g: DescribedGroup, coordinator: &BrokerMetadata) -> Result<Self> {
        check_group(g.error_code, &g.group_id, || {
            format!("describing group {}", g.group_id)
        })?;
        let consumer = g.protocol_type == CONSUMER_PROTOCOL_TYPE;
        let members = g
            .members
            .into_iter()
            .map(|m| {
                let bytes = m.member_assignment;
                let assignment = if consumer && !bytes.is_empty() {
                    decode_assignment(bytes)?.partitions
                } else {
                    Vec::new()
                };
                Ok(MemberDescription {
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                    client_id: m.client_id,
                    host: m.client_host,
                    assignment,
                    target_assignment: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let exists = g.group_state != DEAD;
        Ok(GroupDescription {
            group_id: g.group_id,
            state: g.group_state,
            protocol_type: g.protocol_type,
            protocol: g.protocol_data,
            group_type: exists.then(|| CLASSIC_GROUP_TYPE.to_owned()),
            group_epoch: None,
            members,
            coordinator: coordinator.clone(),
        })
    }
}

impl AdminClient {
    /// Lists the consumer groups of the cluster (and groups that only store committed
    /// offsets), asking every broker and merging the answers, sorted by id. Fails only
    /// if no broker answers; a broker that keeps failing until the timeout is logged and
    /// its groups are missing from the list.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// let ids: Vec<String> = admin.list_consumer_groups()?.into_iter().map(|g| g.group_id).collect();
    /// # Ok(()) }
    /// ```
    #[doc(alias = "list_groups")]
    pub fn list_consumer_groups(&self) -> Result<Vec<GroupListing>> {
        self.list_consumer_groups_with(ListConsumerGroupsOptions::default())
    }

    /// Lists the consumer groups in the given states and of the given types (classic
    /// or consumer), as the Java admin's `listConsumerGroups` with
    /// `inStates`/`withTypes`. See [`list_consumer_groups`](Self::list_consumer_groups).
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use kafka_sync::admin::ListConsumerGroupsOptions;
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// let options = ListConsumerGroupsOptions { types: vec!["consumer".into()], ..Default::default() };
    /// for g in admin.list_consumer_groups_with(options)? {
    ///     println!("{} is a KIP-848 group, {:?}", g.group_id, g.state);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_consumer_groups_with(
        &self,
        options: ListConsumerGroupsOptions,
    ) -> Result<Vec<GroupListing>> {
        let deadline = self.deadline(None);
        let results = self.each_broker(
            "listing groups",
            None,
            deadline,
            |_| ListGroupsRequest {
                states_filter: options.states.clone(),
                types_filter: options.types.clone(),
            },
            |id, resp: ListGroupsResponse| {
                check_code(resp.error_code, || {
                    format!("listing the groups of broker {id}")
                })?;
                Ok(resp.groups)
            },
        )?;
        let mut groups: BTreeMap<String, GroupListing> = BTreeMap::new();
        let mut first_error = None;
        for (broker, result) in results {
            match result {
                Ok(listed) => {
                    for g in listed.into_iter().filter(is_consumer_group).map(listing) {
                        if options.accepts(&g) {
                            groups.insert(g.group_id.clone(), g);
                        }
                    }
                }
                Err(e) => {
                    log::warn!("listing consumer groups: broker {broker} failed: {e}");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) if groups.is_empty() => Err(e),
            _ => Ok(groups.into_values().collect()),
        }
    }

    /// Describes consumer groups: state, assignor, members and their partitions. Each
    /// group has its own result; a group that does not exist is described with state
    /// `Dead` (or `GROUP_ID_NOT_FOUND`, depending on the broker). Groups of the classic
    /// protocol are described with DescribeGroups, groups of the consumer protocol
    /// (KIP-848, `group.protocol=consumer`) with ConsumerGroupDescribe, as the Java
    /// admin does.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// for (id, result) in admin.describe_consumer_groups(&["billing", "audit"])? {
    ///     let group = result?;
    ///     for m in &group.members {
    ///         println!("{id}: {} on {} has {:?}", m.client_id, m.host, m.assignment);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    #[doc(alias = "describe_groups")]
    pub fn describe_consumer_groups(
        &self,
        groups: &[&str],
    ) -> Result<BTreeMap<String, Result<GroupDescription>>> {
        let deadline = self.deadline(None);
        let mut described = self.describe_classic_groups(groups, deadline)?;
        // DescribeGroups knows classic groups only: it calls a KIP-848 group `Dead` (or
        // GROUP_ID_NOT_FOUND). Ask ConsumerGroupDescribe about those.
        let unknown: Vec<String> = described
            .iter()
            .filter(|(_, d)| match d {
                Ok(d) => d.state == DEAD && d.members.is_empty(),
                Err(e) => e.code() == Some(ErrorCode::GROUP_ID_NOT_FOUND),
            })
            .map(|(g, _)| g.clone())
            .collect();
        if !unknown.is_empty() {
            for (group, result) in self.describe_consumer_protocol_groups(&unknown, deadline)? {
                if let Some(d) = result {
                    described.insert(group, d);
                }
            }
        }
        Ok(described)
    }

    /// Describes groups with DescribeGroups (the classic protocol's call).
    fn describe_classic_groups(
        &self,
        groups: &[&str],
        deadline: std::time::Instant,
    ) -> Result<BTreeMap<String, Result<GroupDescription>>> {
        let ids = groups.iter().map(|g| g.to_string());
        self.retry_items("describing groups", deadline, ids, |pending, deadline| {
            self.per_coordinator(
                pending,
                deadline,
                |target, groups| {
                    let req = DescribeGroupsRequest {
                        groups: groups.to_vec(),
                        include_authorized_operations: false,
                    };
                    self.send(target, req, None, deadline, "a DescribeGroups response")
                },
                |coordinator, resp: DescribeGroupsResponse| {
                    resp.groups
                        .into_iter()
                        .map(|g| {
                            (
                                g.group_id.clone(),
                                GroupDescription::from_response(g, coordinator),
                            )
                        })
                        .collect()
                },
            )
        })
    }

    /// Deletes consumer groups and their committed offsets, returning each group's
    /// outcome: `NON_EMPTY_GROUP` while it has members, `GROUP_ID_NOT_FOUND` if it does
    /// not exist.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// for (id, result) in admin.delete_consumer_groups(&["old-group"])? {
    ///     match result {
    ///         Ok(()) => println!("deleted {id}"),
    ///         Err(e) => println!("{id}: {e}"),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    #[doc(alias = "delete_groups")]
    pub fn delete_consumer_groups(&self, groups: &[&str]) -> Result<BTreeMap<String, Result<()>>> {
        let deadline = self.deadline(None);
        let ids = groups.iter().map(|g| g.to_string());
        self.retry_items("deleting groups", deadline, ids, |pending, deadline| {
            self.per_coordinator(
                pending,
                deadline,
                |target, groups| {
                    let req = DeleteGroupsRequest {
                        groups_names: groups.to_vec(),
                    };
                    self.send(target, req, None, deadline, "a DeleteGroups response")
                },
                |_, resp: DeleteGroupsResponse| {
                    resp.results
                        .into_iter()
                        .map(|r| {
                            let result = check_group(r.error_code, &r.group_id, || {
                                format!("deleting group {}", r.group_id)
                            });
                            (r.group_id, result)
                        })
                        .collect()
                },
            )
        })
    }
}

/// Consumer groups, and groups with committed offsets but no members (empty protocol
/// type); not Connect, share or streams groups.
fn is_consumer_group(g: &ListedGroup) -> bool {
    g.protocol_type == CONSUMER_PROTOCOL_TYPE || g.protocol_type.is_empty()
}

pub(super) fn listing(g: ListedGroup) -> GroupListing {
    GroupListing {
        group_id: g.group_id,
        protocol_type: g.protocol_type,
        state: Some(g.group_state).filter(|s| !s.is_empty()),
        group_type: Some(g.group_type).filter(|s| !s.is_empty()),
    }
}
