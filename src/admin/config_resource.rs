//! [`ConfigResource`]: the topic, broker or group whose configs are described or altered.

use std::fmt;

use crate::net::rpc::Target;

/// The kind of thing a config belongs to.
///
/// # Examples
/// ```
/// use kafka_sync::admin::ConfigResourceType;
/// assert_eq!(ConfigResourceType::Topic.as_i8(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ConfigResourceType {
    /// A topic (`cleanup.policy`, `retention.ms`, ...).
    Topic,
    /// A broker (`log.retention.hours`, ...); the name is its id, or empty for the
    /// cluster-wide dynamic default.
    Broker,
    /// A broker's log4j loggers.
    BrokerLogger,
    /// A consumer group (Kafka 4.0+ group configs).
    Group,
}

impl ConfigResourceType {
    /// The protocol's number for the type.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(kafka_sync::admin::ConfigResourceType::Broker.as_i8(), 4);
    /// ```
    pub fn as_i8(self) -> i8 {
        match self {
            ConfigResourceType::Topic => 2,
            ConfigResourceType::Broker => 4,
            ConfigResourceType::BrokerLogger => 8,
            ConfigResourceType::Group => 32,
        }
    }
}

/// A topic, broker or other resource whose configs are described or altered.
///
/// # Examples
/// ```
/// use kafka_sync::admin::ConfigResource;
/// let topic = ConfigResource::topic("orders");
/// let broker = ConfigResource::broker(1);
/// assert_eq!(broker.name, "1");
/// assert_eq!(topic.to_string(), "topic orders");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigResource {
    /// What kind of resource.
    pub resource_type: ConfigResourceType,
    /// Its name: the topic name, the broker id, ...
    pub name: String,
}

impl ConfigResource {
    /// A resource of any type.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::admin::{ConfigResource, ConfigResourceType};
    /// let r = ConfigResource::new(ConfigResourceType::Group, "my-group");
    /// ```
    pub fn new(resource_type: ConfigResourceType, name: impl Into<String>) -> Self {
        ConfigResource {
            resource_type,
            name: name.into(),
        }
    }

    /// A topic's configs.
    ///
    /// # Examples
    /// ```
    /// let r = kafka_sync::admin::ConfigResource::topic("orders");
    /// ```
    pub fn topic(name: impl Into<String>) -> Self {
        ConfigResource::new(ConfigResourceType::Topic, name)
    }

    /// A broker's configs; the request goes to that broker.
    ///
    /// # Examples
    /// ```
    /// let r = kafka_sync::admin::ConfigResource::broker(1);
    /// ```
    pub fn broker(id: i32) -> Self {
        ConfigResource::new(ConfigResourceType::Broker, id.to_string())
    }

    /// The cluster-wide dynamic broker defaults.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(kafka_sync::admin::ConfigResource::broker_default().name, "");
    /// ```
    pub fn broker_default() -> Self {
        ConfigResource::new(ConfigResourceType::Broker, "")
    }

    /// Which broker must answer for this resource: a broker's (or broker logger's)
    /// configs live on that broker; everything else any broker can serve.
    pub(super) fn target(&self) -> Target {
        match self.resource_type {
            ConfigResourceType::Broker | ConfigResourceType::BrokerLogger => {
                match self.name.parse() {
                    Ok(id) => Target::Node(id),
                    Err(_) => Target::Any,
                }
            }
            _ => Target::Any,
        }
    }

    pub(super) fn key(&self) -> (i8, String) {
        (self.resource_type.as_i8(), self.name.clone())
    }
}

impl fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.resource_type {
            ConfigResourceType::Topic => "topic",
            ConfigResourceType::Broker => "broker",
            ConfigResourceType::BrokerLogger => "broker logger",
            ConfigResourceType::Group => "group",
        };
        write!(f, "{kind} {}", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_configs_are_asked_of_their_broker() {
        assert_eq!(ConfigResource::broker(3).target(), Target::Node(3));
        assert_eq!(ConfigResource::broker_default().target(), Target::Any);
        assert_eq!(ConfigResource::topic("t").target(), Target::Any);
        assert_eq!(ConfigResource::broker(3).key(), (4, "3".to_string()));
        assert_eq!(ConfigResource::broker(3).to_string(), "broker 3");
    }
}
