//! `group.protocol`: which consumer-group protocol a consumer speaks, and the settings that
//! belong to only one of them.

use std::fmt;
use std::str::FromStr;

use super::ConfigError;

/// The consumer-group protocol.
///
/// # Examples
/// ```
/// use kafka_sync::config::{ConsumerConfig, GroupProtocol};
/// let mut config = ConsumerConfig::default();
/// assert_eq!(config.group_protocol, GroupProtocol::Classic);
/// config.set("group.protocol", "consumer").unwrap();
/// assert_eq!(config.group_protocol, GroupProtocol::Consumer);
/// assert_eq!("CLASSIC".parse::<GroupProtocol>().unwrap(), GroupProtocol::Classic);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GroupProtocol {
    /// JoinGroup/SyncGroup with the assignment computed by the group leader (a client),
    /// from `partition_assignment_strategy`.
    #[default]
    Classic,
    /// KIP-848 (Kafka 4.0+): members heartbeat with ConsumerGroupHeartbeat, the broker
    /// computes the assignment and moves partitions one member at a time, without a
    /// group-wide barrier. The broker owns the session timeout, the heartbeat interval
    /// and the assignor (`group_remote_assignor`).
    Consumer,
}

impl GroupProtocol {
    /// The Java name: `classic` or `consumer`.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(kafka_sync::config::GroupProtocol::Consumer.name(), "consumer");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            GroupProtocol::Classic => "classic",
            GroupProtocol::Consumer => "consumer",
        }
    }
}

impl fmt::Display for GroupProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for GroupProtocol {
    type Err = ConfigError;

    /// Parses `classic` or `consumer`, any case (as the Java client).
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "classic" => Ok(GroupProtocol::Classic),
            "consumer" => Ok(GroupProtocol::Consumer),
            _ => Err(ConfigError::invalid(
                "group.protocol",
                s,
                "expected classic or consumer",
            )),
        }
    }
}

/// Settings the broker owns under `group.protocol=consumer`; setting them is an error, as
/// in the Java client, rather than silently ignored.
const CLASSIC_ONLY: &[(&str, &str)] = &[
    (
        "session.timeout.ms",
        "the broker's group.consumer.session.timeout.ms",
    ),
    (
        "heartbeat.interval.ms",
        "the broker's group.consumer.heartbeat.interval.ms",
    ),
    (
        "partition.assignment.strategy",
        "group.remote.assignor (the broker's assignors)",
    ),
];

/// Checks the keys set explicitly (`explicit`) against the protocol.
pub(super) fn check(
    protocol: GroupProtocol,
    remote_assignor: Option<&str>,
    explicit: impl Fn(&str) -> bool,
) -> Result<(), ConfigError> {
    match protocol {
        GroupProtocol::Consumer => {
            if let Some((key, instead)) = CLASSIC_ONLY.iter().find(|(key, _)| explicit(key)) {
                return Err(ConfigError::Conflict(format!(
                    "{key} cannot be set with group.protocol=consumer: the broker owns it \
                     there; remove {key} (see {instead}) or use group.protocol=classic"
                )));
            }
            Ok(())
        }
        GroupProtocol::Classic if remote_assignor.is_some() => Err(ConfigError::Conflict(
            "group.remote.assignor needs group.protocol=consumer; remove it or set \
             group.protocol=consumer"
                .into(),
        )),
        GroupProtocol::Classic => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConsumerConfig;

    fn with(pairs: &[(&str, &str)]) -> ConsumerConfig {
        let mut c = ConsumerConfig::default();
        for (k, v) in pairs {
            c.set(k, v).unwrap();
        }
        c
    }

    #[test]
    fn names_of_every_client_are_accepted() {
        for key in ["group.protocol", "group_protocol"] {
            let c = with(&[("group.id", "g"), (key, "consumer")]);
            assert_eq!(c.group_protocol, GroupProtocol::Consumer);
        }
        for key in ["group.remote.assignor", "group_remote_assignor"] {
            let c = with(&[("group.protocol", "consumer"), (key, "range")]);
            assert_eq!(c.group_remote_assignor.as_deref(), Some("range"));
            assert!(c.validate().is_ok());
        }
        assert!(matches!(
            ConsumerConfig::default().set("group.protocol", "next"),
            Err(ConfigError::InvalidValue { .. })
        ));
    }

    #[test]
    fn broker_owned_settings_conflict_with_the_consumer_protocol() {
        for (key, value) in [
            ("session.timeout.ms", "10000"),
            ("heartbeat.interval.ms", "1000"),
            ("partition.assignment.strategy", "range"),
        ] {
            let c = with(&[("group.protocol", "consumer"), (key, value)]);
            match c.validate() {
                Err(ConfigError::Conflict(m)) => assert!(m.contains(key), "{m}"),
                other => panic!("{key}: {other:?}"),
            }
            // The same settings are fine with the classic protocol.
            assert!(with(&[(key, value)]).validate().is_ok());
        }
        let c = with(&[("group.remote.assignor", "uniform")]);
        assert!(
            matches!(c.validate(), Err(ConfigError::Conflict(m)) if m.contains("group.remote.assignor"))
        );
    }
}
