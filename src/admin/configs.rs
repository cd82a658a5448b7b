//! Describing and incrementally altering topic and broker configs.

use std::collections::{BTreeMap, HashMap};

use crate::error::{Error, Result};
use crate::net::network::RequestBody;
use crate::net::rpc::Target;
use crate::protocol::api::describe_configs::{
    DescribeConfigsRequest, DescribeConfigsResource, DescribeConfigsResponse,
};
use crate::protocol::api::incremental_alter_configs::{
    AlterConfigsResource, AlterableConfig, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};
use crate::protocol::api::Message;

use super::call::{check_cluster, check_group, check_topic, Pending};
use super::config_resource::{ConfigResource, ConfigResourceType};
use super::AdminClient;

/// Where a config's value comes from.
///
/// # Examples
/// ```
/// use kafka_sync::admin::ConfigSource;
/// assert_eq!(ConfigSource::from_i8(5), ConfigSource::Default);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigSource {
    /// The broker did not say.
    Unknown,
    /// Set on the topic.
    DynamicTopic,
    /// Set dynamically on this broker.
    DynamicBroker,
    /// Set dynamically as the cluster-wide broker default.
    DynamicDefaultBroker,
    /// From the broker's `server.properties`.
    StaticBroker,
    /// Kafka's built-in default.
    Default,
    /// Set dynamically on a broker logger.
    DynamicBrokerLogger,
    /// A client metrics subscription.
    ClientMetrics,
    /// Set on the group.
    DynamicGroup,
}

impl ConfigSource {
    /// The source for the protocol's number.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(kafka_sync::admin::ConfigSource::from_i8(1), kafka_sync::admin::ConfigSource::DynamicTopic);
    /// ```
    pub fn from_i8(v: i8) -> Self {
        match v {
            1 => ConfigSource::DynamicTopic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            6 => ConfigSource::DynamicBrokerLogger,
            7 => ConfigSource::ClientMetrics,
            8 => ConfigSource::DynamicGroup,
            _ => ConfigSource::Unknown,
        }
    }
}

/// One config of a resource, from [`AdminClient::describe_configs`].
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// use kafka_sync::admin::{AdminClient, ConfigResource};
/// let admin = AdminClient::builder().build()?;
/// let topic = ConfigResource::topic("orders");
/// let configs = admin.describe_configs(&[topic.clone()])?;
/// for entry in configs[&topic].as_ref().map_err(Clone::clone)? {
///     if !entry.is_default {
///         println!("{} = {:?}", entry.name, entry.value);
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// The config name.
    pub name: String,
    /// Its value; `None` for sensitive configs and unset ones.
    pub value: Option<String>,
    /// True if it cannot be changed.
    pub read_only: bool,
    /// True if the value is Kafka's default (not set anywhere).
    pub is_default: bool,
    /// True for passwords and other secrets, whose value is never returned.
    pub is_sensitive: bool,
    /// Where the value comes from.
    pub source: ConfigSource,
}

/// What an [`AlterConfigOp`] does.
///
/// # Examples
/// ```
/// use kafka_sync::admin::AlterConfigOpType;
/// assert_eq!(AlterConfigOpType::Delete.as_i8(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlterConfigOpType {
    /// Set the value.
    Set,
    /// Remove the setting, going back to the default.
    Delete,
    /// Add to a list-valued config.
    Append,
    /// Remove from a list-valued config.
    Subtract,
}

impl AlterConfigOpType {
    /// The protocol's number for the operation.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(kafka_sync::admin::AlterConfigOpType::Set.as_i8(), 0);
    /// ```
    pub fn as_i8(self) -> i8 {
        match self {
            AlterConfigOpType::Set => 0,
            AlterConfigOpType::Delete => 1,
            AlterConfigOpType::Append => 2,
            AlterConfigOpType::Subtract => 3,
        }
    }
}

/// One change of [`AdminClient::incremental_alter_configs`].
///
/// # Examples
/// ```
/// use kafka_sync::admin::AlterConfigOp;
/// let ops = vec![
///     AlterConfigOp::set("retention.ms", "3600000"),
///     AlterConfigOp::delete("cleanup.policy"),
///     AlterConfigOp::append("leader.replication.throttled.replicas", "0:1"),
/// ];
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterConfigOp {
    /// The config name.
    pub name: String,
    /// The value to set, append or subtract; `None` for `Delete`.
    pub value: Option<String>,
    /// What to do.
    pub op: AlterConfigOpType,
}

impl AlterConfigOp {
    /// Sets `name` to `value`.
    ///
    /// # Examples
    /// ```
    /// let op = kafka_sync::admin::AlterConfigOp::set("retention.ms", "60000");
    /// ```
    pub fn set(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::with(name, Some(value.into()), AlterConfigOpType::Set)
    }

    /// Removes the setting of `name`.
    ///
    /// # Examples
    /// ```
    /// let op = kafka_sync::admin::AlterConfigOp::delete("retention.ms");
    /// ```
    pub fn delete(name: impl Into<String>) -> Self {
        Self::with(name, None, AlterConfigOpType::Delete)
    }

    /// Appends `value` to the list-valued config `name`.
    ///
    /// # Examples
    /// ```
    /// let op = kafka_sync::admin::AlterConfigOp::append("cleanup.policy", "compact");
    /// ```
    pub fn append(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::with(name, Some(value.into()), AlterConfigOpType::Append)
    }

    /// Removes `value` from the list-valued config `name`.
    ///
    /// # Examples
    /// ```
    /// let op = kafka_sync::admin::AlterConfigOp::subtract("cleanup.policy", "compact");
    /// ```
    pub fn subtract(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::with(name, Some(value.into()), AlterConfigOpType::Subtract)
    }

    fn with(name: impl Into<String>, value: Option<String>, op: AlterConfigOpType) -> Self {
        AlterConfigOp {
            name: name.into(),
            value,
            op,
        }
    }
}

impl AdminClient {
    /// Describes every config of each resource. Each resource has its own result: an
    /// unknown topic is `Err(UNKNOWN_TOPIC_OR_PARTITION)` in its entry. Broker resources
    /// are asked of that broker, others of any broker.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use kafka_sync::admin::{AdminClient, ConfigResource};
    /// let admin = AdminClient::builder().build()?;
    /// let resources = [ConfigResource::topic("orders"), ConfigResource::broker(1)];
    /// for (resource, result) in admin.describe_configs(&resources)? {
    ///     println!("{resource}: {} configs", result?.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn describe_configs(
        &self,
        resources: &[ConfigResource],
    ) -> Result<BTreeMap<ConfigResource, Result<Vec<ConfigEntry>>>> {
        let deadline = self.deadline(None);
        let items = resources.iter().cloned();
        self.retry_items(
            "describing configs",
            deadline,
            items,
            |pending, deadline| {
                self.per_target(
                    pending,
                    |target, group| {
                        let req = DescribeConfigsRequest {
                            resources: group
                                .iter()
                                .map(|r| DescribeConfigsResource {
                                    resource_type: r.resource_type.as_i8(),
                                    resource_name: r.name.clone(),
                                    configuration_keys: None,
                                })
                                .collect(),
                            include_synonyms: false,
                            include_documentation: false,
                        };
                        self.send(target, req, None, deadline, "a DescribeConfigs response")
                    },
                    |pending, resp: DescribeConfigsResponse| {
                        resp.results
                            .into_iter()
                            .filter_map(|r| {
                                let resource = ConfigResource::clone(
                                    pending.get(&(r.resource_type, r.resource_name.clone()))?,
                                );
                                let result = check_config(
                                    r.error_code,
                                    r.error_message.as_deref(),
                                    &resource,
                                )
                                .map(|()| {
                                    r.configs
                                        .into_iter()
                                        .map(|c| {
                                            let source = ConfigSource::from_i8(c.config_source);
                                            ConfigEntry {
                                                name: c.name,
                                                value: c.value,
                                                read_only: c.read_only,
                                                is_default: c.is_default
                                                    || source == ConfigSource::Default,
                                                is_sensitive: c.is_sensitive,
                                                source,
                                            }
                                        })
                                        .collect()
                                });
                                Some((resource, result))
                            })
                            .collect()
                    },
                )
            },
        )
    }

    /// Applies config changes per resource (KIP-339: only the named configs change) and
    /// returns each resource's outcome. With `validate_only` nothing changes. Broker
    /// resources go to that broker, others to any broker (KRaft brokers forward them to
    /// the controller).
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use std::collections::BTreeMap;
    /// use kafka_sync::admin::{AdminClient, AlterConfigOp, ConfigResource};
    /// let admin = AdminClient::builder().build()?;
    /// let changes = BTreeMap::from([(
    ///     ConfigResource::topic("orders"),
    ///     vec![AlterConfigOp::set("retention.ms", "86400000"), AlterConfigOp::delete("segment.ms")],
    /// )]);
    /// for (resource, result) in admin.incremental_alter_configs(&changes, false)? {
    ///     result?;
    ///     println!("altered {resource}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn incremental_alter_configs(
        &self,
        changes: &BTreeMap<ConfigResource, Vec<AlterConfigOp>>,
        validate_only: bool,
    ) -> Result<BTreeMap<ConfigResource, Result<()>>> {
        self.alter_each(
            "altering configs",
            changes.keys(),
            |group| IncrementalAlterConfigsRequest {
                resources: group
                    .iter()
                    .map(|r| AlterConfigsResource {
                        resource_type: r.resource_type.as_i8(),
                        resource_name: r.name.clone(),
                        configs: changes[*r]
                            .iter()
                            .map(|op| AlterableConfig {
                                name: op.name.clone(),
                                config_operation: op.op.as_i8(),
                                value: op.value.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
                validate_only,
            },
            |resp: IncrementalAlterConfigsResponse| {
                resp.responses
                    .into_iter()
                    .map(|r| {
                        let key = (r.resource_type, r.resource_name);
                        (key, r.error_code, r.error_message)
                    })
                    .collect()
            },
        )
    }

    /// An alter call over config resources: `request` builds each target broker's
    /// request, `outcomes` reads each resource's (type, name), error code and message
    /// from its answer.
    pub(super) fn alter_each<'a, R: RequestBody + 'static, M: Message>(
        &self,
        what: &str,
        resources: impl Iterator<Item = &'a ConfigResource>,
        request: impl Fn(&[&ConfigResource]) -> R,
        outcomes: impl Fn(M) -> Vec<((i8, String), i16, Option<String>)>,
    ) -> Result<BTreeMap<ConfigResource, Result<()>>> {
        let deadline = self.deadline(None);
        let response = format!("an answer to {what}");
        self.retry_items(what, deadline, resources.cloned(), |pending, deadline| {
            self.per_target(
                pending,
                |target, group| self.send(target, request(group), None, deadline, &response),
                |pending, resp: M| {
                    outcomes(resp)
                        .into_iter()
                        .filter_map(|(key, code, message)| {
                            let resource = ConfigResource::clone(pending.get(&key)?);
                            let r = check_config(code, message.as_deref(), &resource);
                            Some((resource, r))
                        })
                        .collect()
                },
            )
        })
    }

    /// One round over config resources: one request per target broker, sent together,
    /// then each answered. A request that fails gives its error to each of its resources.
    pub(super) fn per_target<V, M: Message>(
        &self,
        pending: &[ConfigResource],
        send: impl Fn(Target, &[&ConfigResource]) -> Result<Pending>,
        parse: impl Fn(&HashMap<(i8, String), &ConfigResource>, M) -> Vec<(ConfigResource, Result<V>)>,
    ) -> Result<Vec<(ConfigResource, Result<V>)>> {
        let mut groups: Vec<(Target, Vec<&ConfigResource>)> = Vec::new();
        for r in pending {
            let target = r.target();
            match groups.iter_mut().find(|(t, _)| *t == target) {
                Some((_, g)) => g.push(r),
                None => groups.push((target, vec![r])),
            }
        }
        let sent: Vec<_> = groups
            .into_iter()
            .map(|(target, group)| (send(target, &group), group))
            .collect();
        let mut out = Vec::new();
        for (pending_rpc, group) in sent {
            let keys: HashMap<(i8, String), &ConfigResource> =
                group.iter().map(|r| (r.key(), *r)).collect();
            match pending_rpc.and_then(|p| p.wait::<M>()) {
                Ok((_, resp)) => out.extend(parse(&keys, resp)),
                Err(e) => out.extend(
                    group
                        .into_iter()
                        .map(|r| (r.clone(), Err::<V, Error>(e.clone()))),
                ),
            }
        }
        Ok(out)
    }
}

/// A resource's result: an authorization refusal names the topic or group, or says which
/// broker's configs the cluster permission was needed for.
fn check_config(code: i16, message: Option<&str>, resource: &ConfigResource) -> Result<()> {
    let name = &resource.name;
    match resource.resource_type {
        ConfigResourceType::Topic => check_topic(code, message, name),
        ConfigResourceType::Group => {
            check_group(code, name, || message.unwrap_or_default().to_owned())
        }
        _ => check_cluster(
            code,
            message,
            &format!("use the configs of broker {name:?}"),
        ),
    }
}
