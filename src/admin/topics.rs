//! Creating, deleting and listing topics, and adding partitions.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::net::rpc::Target;
use crate::protocol::api::create_partitions::{
    CreatePartitionsAssignment, CreatePartitionsRequest, CreatePartitionsResponse,
    CreatePartitionsTopic,
};
use crate::protocol::api::create_topics::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig, CreateTopicsRequest,
    CreateTopicsResponse,
};
use crate::protocol::api::delete_topics::{
    DeleteTopicState, DeleteTopicsRequest, DeleteTopicsResponse,
};

use super::call::check_topic;
use super::{timeout_ms, AdminClient};

/// A topic to create, as kafka-python's `NewTopic`.
///
/// Either give a partition count and replication factor (or leave them to the broker's
/// `num.partitions` and `default.replication.factor`), or an explicit replica assignment.
///
/// # Examples
/// ```
/// use kafka_sync::admin::NewTopic;
/// let compacted = NewTopic::new("users", 6, 3).config("cleanup.policy", "compact");
/// let defaults = NewTopic::with_defaults("scratch");
/// let placed = NewTopic::with_defaults("pinned").replica_assignment(0, [1, 2]).replica_assignment(1, [2, 3]);
/// assert_eq!(placed.num_partitions, None);
/// assert_eq!(placed.replica_assignments.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// The topic name.
    pub name: String,
    /// Number of partitions; the broker's `num.partitions` if `None`.
    pub num_partitions: Option<i32>,
    /// Replicas per partition; the broker's `default.replication.factor` if `None`.
    pub replication_factor: Option<i16>,
    /// Partition index to the broker ids of its replicas, the first being the preferred
    /// leader. Leave empty to let the broker place replicas; when set, `num_partitions`
    /// and `replication_factor` must be `None`.
    pub replica_assignments: BTreeMap<i32, Vec<i32>>,
    /// Topic configs (`cleanup.policy`, `retention.ms`, ...).
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    /// A topic with `num_partitions` partitions of `replication_factor` replicas each.
    ///
    /// # Examples
    /// ```
    /// let t = kafka_sync::admin::NewTopic::new("orders", 3, 1);
    /// assert_eq!((t.num_partitions, t.replication_factor), (Some(3), Some(1)));
    /// ```
    pub fn new(name: impl Into<String>, num_partitions: i32, replication_factor: i16) -> Self {
        NewTopic {
            num_partitions: Some(num_partitions),
            replication_factor: Some(replication_factor),
            ..NewTopic::with_defaults(name)
        }
    }

    /// A topic with the broker's default partition count and replication factor.
    ///
    /// # Examples
    /// ```
    /// let t = kafka_sync::admin::NewTopic::with_defaults("logs");
    /// assert_eq!(t.num_partitions, None);
    /// ```
    pub fn with_defaults(name: impl Into<String>) -> Self {
        NewTopic {
            name: name.into(),
            num_partitions: None,
            replication_factor: None,
            replica_assignments: BTreeMap::new(),
            configs: BTreeMap::new(),
        }
    }

    /// Adds a topic config.
    ///
    /// # Examples
    /// ```
    /// let t = kafka_sync::admin::NewTopic::new("t", 1, 1).config("retention.ms", "60000");
    /// assert_eq!(t.configs["retention.ms"], "60000");
    /// ```
    pub fn config(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.insert(name.into(), value.into());
        self
    }

    /// Places partition `partition` on `brokers` (the first is the preferred leader).
    /// Clears `num_partitions` and `replication_factor`, which the assignment implies.
    ///
    /// # Examples
    /// ```
    /// let t = kafka_sync::admin::NewTopic::new("t", 1, 1).replica_assignment(0, [1]);
    /// assert_eq!(t.replication_factor, None);
    /// ```
    pub fn replica_assignment(
        mut self,
        partition: i32,
        brokers: impl IntoIterator<Item = i32>,
    ) -> Self {
        self.num_partitions = None;
        self.replication_factor = None;
        self.replica_assignments
            .insert(partition, brokers.into_iter().collect());
        self
    }

    fn to_request(&self) -> CreatableTopic {
        CreatableTopic {
            name: self.name.clone(),
            num_partitions: self.num_partitions.unwrap_or(-1),
            replication_factor: self.replication_factor.unwrap_or(-1),
            assignments: self
                .replica_assignments
                .iter()
                .map(|(p, brokers)| CreatableReplicaAssignment {
                    partition_index: *p,
                    broker_ids: brokers.clone(),
                })
                .collect(),
            configs: self
                .configs
                .iter()
                .map(|(k, v)| CreatableTopicConfig {
                    name: k.clone(),
                    value: Some(v.clone()),
                })
                .collect(),
        }
    }
}

/// Options of [`AdminClient::create_topics`].
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use kafka_sync::admin::CreateTopicsOptions;
/// let dry_run = CreateTopicsOptions { validate_only: true, timeout: Some(Duration::from_secs(5)) };
/// assert!(!CreateTopicsOptions::default().validate_only);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateTopicsOptions {
    /// Only check that the topics could be created; create nothing.
    pub validate_only: bool,
    /// Time limit of the call, also sent to the controller as the request's timeout;
    /// `default_api_timeout` if `None`.
    pub timeout: Option<Duration>,
}

/// Options of [`AdminClient::list_topics_with`].
///
/// # Examples
/// ```
/// let all = kafka_sync::admin::ListTopicsOptions { list_internal: true };
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListTopicsOptions {
    /// Include internal topics such as `__consumer_offsets`.
    pub list_internal: bool,
}

/// The new partition count of a topic for [`AdminClient::create_partitions`], as
/// kafka-python's `NewPartitions`.
///
/// # Examples
/// ```
/// use kafka_sync::admin::NewPartitions;
/// let grow = NewPartitions::increase_to(6);
/// let placed = NewPartitions::increase_to(4).assignments(vec![vec![1], vec![2]]);
/// assert_eq!(placed.new_assignments.map(|a| a.len()), Some(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPartitions {
    /// The total number of partitions after the call (not the number to add).
    pub total_count: i32,
    /// Replica broker ids of each new partition, in partition order; the broker places
    /// them if `None`.
    pub new_assignments: Option<Vec<Vec<i32>>>,
}

impl NewPartitions {
    /// Grows the topic to `total_count` partitions.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(kafka_sync::admin::NewPartitions::increase_to(3).total_count, 3);
    /// ```
    pub fn increase_to(total_count: i32) -> Self {
        NewPartitions {
            total_count,
            new_assignments: None,
        }
    }

    /// Places the new partitions: one list of broker ids per new partition.
    ///
    /// # Examples
    /// ```
    /// let p = kafka_sync::admin::NewPartitions::increase_to(2).assignments(vec![vec![1]]);
    /// ```
    pub fn assignments(mut self, assignments: Vec<Vec<i32>>) -> Self {
        self.new_assignments = Some(assignments);
        self
    }
}

impl AdminClient {
    /// Creates topics and returns each topic's outcome: `TOPIC_ALREADY_EXISTS`,
    /// `INVALID_REPLICATION_FACTOR` and the like fail only their own topic. With
    /// `validate_only` the controller checks the request and creates nothing.
    ///
    /// The request goes to the controller; `NOT_CONTROLLER` is retried after a metadata
    /// refresh until the timeout.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use kafka_sync::admin::{AdminClient, CreateTopicsOptions, NewTopic};
    /// use kafka_sync::ErrorCode;
    /// let admin = AdminClient::builder().bootstrap_servers("127.0.0.1:9092").build()?;
    /// let topics = [NewTopic::new("a", 3, 1), NewTopic::new("b", 1, 1).config("cleanup.policy", "compact")];
    /// for (name, result) in admin.create_topics(&topics, CreateTopicsOptions::default())? {
    ///     match result {
    ///         Ok(()) => println!("created {name}"),
    ///         Err(e) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => println!("{name} exists"),
    ///         Err(e) => return Err(e),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn create_topics(
        &self,
        topics: &[NewTopic],
        options: CreateTopicsOptions,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let timeout = options.timeout.unwrap_or_else(|| self.api_timeout());
        let deadline = crate::deadline::from_now(timeout);
        let mut by_name: BTreeMap<&str, &NewTopic> = BTreeMap::new();
        for t in topics {
            if by_name.insert(t.name.as_str(), t).is_some() {
                return Err(Error::InvalidArgument(format!(
                    "topic {} is given more than once",
                    t.name
                )));
            }
        }
        let names = by_name.keys().map(|n| n.to_string());
        self.retry_items("creating topics", deadline, names, |pending, deadline| {
            let make = || CreateTopicsRequest {
                topics: pending
                    .iter()
                    .map(|n| by_name[n.as_str()].to_request())
                    .collect(),
                timeout_ms: timeout_ms(deadline.saturating_duration_since(Instant::now())),
                validate_only: options.validate_only,
            };
            let (_, resp): (_, CreateTopicsResponse) = self.call(
                Target::Controller,
                make,
                None,
                deadline,
                "a CreateTopics response",
            )?;
            Ok(resp
                .topics
                .into_iter()
                .map(|t| {
                    let r = check_topic(t.error_code, t.error_message.as_deref(), &t.name);
                    (t.name, r)
                })
                .collect())
        })
    }

    /// Deletes topics and returns each topic's outcome (`UNKNOWN_TOPIC_OR_PARTITION` for
    /// a topic that does not exist). `timeout` bounds the call and is sent to the
    /// controller; `default_api_timeout` if `None`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// for (name, result) in admin.delete_topics(&["a", "b"], None)? {
    ///     println!("{name}: {result:?}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn delete_topics(
        &self,
        topics: &[&str],
        timeout: Option<Duration>,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let timeout = timeout.unwrap_or_else(|| self.api_timeout());
        let deadline = crate::deadline::from_now(timeout);
        let names = topics.iter().map(|t| t.to_string());
        self.retry_items("deleting topics", deadline, names, |pending, deadline| {
            // Versions 0-5 name topics in `topic_names`, 6+ in `topics`: fill both.
            let make = || DeleteTopicsRequest {
                topics: pending
                    .iter()
                    .map(|n| DeleteTopicState {
                        name: Some(n.clone()),
                        ..Default::default()
                    })
                    .collect(),
                topic_names: pending.to_vec(),
                timeout_ms: timeout_ms(deadline.saturating_duration_since(Instant::now())),
            };
            let (_, resp): (_, DeleteTopicsResponse) = self.call(
                Target::Controller,
                make,
                None,
                deadline,
                "a DeleteTopics response",
            )?;
            Ok(resp
                .responses
                .into_iter()
                .filter_map(|t| {
                    let name = t.name?;
                    let r = check_topic(t.error_code, t.error_message.as_deref(), &name);
                    Some((name, r))
                })
                .collect())
        })
    }

    /// Grows topics to new partition counts and returns each topic's outcome
    /// (`INVALID_PARTITIONS` when the count does not grow). With `validate_only` nothing
    /// changes. `timeout` bounds the call; `default_api_timeout` if `None`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use std::collections::BTreeMap;
    /// use kafka_sync::admin::{AdminClient, NewPartitions};
    /// let admin = AdminClient::builder().build()?;
    /// let grow = BTreeMap::from([("orders".to_string(), NewPartitions::increase_to(6))]);
    /// admin.create_partitions(&grow, false, None)?["orders"].clone()?;
    /// # Ok(()) }
    /// ```
    pub fn create_partitions(
        &self,
        topics: &BTreeMap<String, NewPartitions>,
        validate_only: bool,
        timeout: Option<Duration>,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let timeout = timeout.unwrap_or_else(|| self.api_timeout());
        let deadline = crate::deadline::from_now(timeout);
        self.retry_items(
            "creating partitions",
            deadline,
            topics.keys().cloned(),
            |pending, deadline| {
                let make = || CreatePartitionsRequest {
                    topics: pending
                        .iter()
                        .map(|n| CreatePartitionsTopic {
                            name: n.clone(),
                            count: topics[n].total_count,
                            assignments: topics[n].new_assignments.as_ref().map(|a| {
                                a.iter()
                                    .map(|brokers| CreatePartitionsAssignment {
                                        broker_ids: brokers.clone(),
                                    })
                                    .collect()
                            }),
                        })
                        .collect(),
                    timeout_ms: timeout_ms(deadline.saturating_duration_since(Instant::now())),
                    validate_only,
                };
                let (_, resp): (_, CreatePartitionsResponse) = self.call(
                    Target::Controller,
                    make,
                    None,
                    deadline,
                    "a CreatePartitions response",
                )?;
                Ok(resp
                    .results
                    .into_iter()
                    .map(|t| {
                        let r = check_topic(t.error_code, t.error_message.as_deref(), &t.name);
                        (t.name, r)
                    })
                    .collect())
            },
        )
    }

    /// The names of the cluster's topics, without internal topics such as
    /// `__consumer_offsets` (see [`list_topics_with`](Self::list_topics_with)).
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// for topic in admin.list_topics()? {
    ///     println!("{topic}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_topics(&self) -> Result<BTreeSet<String>> {
        self.list_topics_with(ListTopicsOptions::default())
    }

    /// The names of the cluster's topics, internal ones too if the options say so.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use kafka_sync::admin::{AdminClient, ListTopicsOptions};
    /// let admin = AdminClient::builder().build()?;
    /// let all = admin.list_topics_with(ListTopicsOptions { list_internal: true })?;
    /// # Ok(()) }
    /// ```
    pub fn list_topics_with(&self, options: ListTopicsOptions) -> Result<BTreeSet<String>> {
        let metadata = self.fetch_metadata(None, self.deadline(None))?;
        Ok(metadata
            .topics
            .into_values()
            .filter(|t| t.error.is_ok() && (options.list_internal || !t.is_internal))
            .map(|t| t.name)
            .collect())
    }
}
