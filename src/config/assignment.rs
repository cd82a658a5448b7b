//! [`AssignmentStrategy`]: the built-in partition assignors a consumer offers its group,
//! and parsing of `partition.assignment.strategy`.

use std::fmt;
use std::str::FromStr;

use super::ConfigError;

/// A built-in partition assignor, by its group protocol name.
///
/// # Examples
/// ```
/// use kafka_sync::config::AssignmentStrategy;
/// let s: AssignmentStrategy = "org.apache.kafka.clients.consumer.RoundRobinAssignor".parse().unwrap();
/// assert_eq!(s, AssignmentStrategy::RoundRobin);
/// assert_eq!(s.name(), "roundrobin");
/// assert_eq!(
///     AssignmentStrategy::parse_list("range, cooperative-sticky").unwrap(),
///     [AssignmentStrategy::Range, AssignmentStrategy::CooperativeSticky]
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssignmentStrategy {
    /// `range`: consecutive partitions of each topic per member.
    Range,
    /// `roundrobin`: all partitions dealt out in turn.
    RoundRobin,
    /// `sticky`: balanced, moving as few partitions as possible (eager rebalancing).
    Sticky,
    /// `cooperative-sticky`: sticky, with incremental cooperative rebalancing (KIP-429).
    CooperativeSticky,
}

impl AssignmentStrategy {
    const ALL: [AssignmentStrategy; 4] = [
        AssignmentStrategy::Range,
        AssignmentStrategy::RoundRobin,
        AssignmentStrategy::Sticky,
        AssignmentStrategy::CooperativeSticky,
    ];

    /// The protocol name advertised in JoinGroup: `range`, `roundrobin`, `sticky` or
    /// `cooperative-sticky`.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::config::AssignmentStrategy;
    /// assert_eq!(AssignmentStrategy::CooperativeSticky.name(), "cooperative-sticky");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            AssignmentStrategy::Range => "range",
            AssignmentStrategy::RoundRobin => "roundrobin",
            AssignmentStrategy::Sticky => "sticky",
            AssignmentStrategy::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// The Java class name without its package, such as `RangeAssignor`.
    fn java_class(self) -> &'static str {
        match self {
            AssignmentStrategy::Range => "RangeAssignor",
            AssignmentStrategy::RoundRobin => "RoundRobinAssignor",
            AssignmentStrategy::Sticky => "StickyAssignor",
            AssignmentStrategy::CooperativeSticky => "CooperativeStickyAssignor",
        }
    }

    /// kafka-python's class name, where it has one.
    fn kafka_python_class(self) -> Option<&'static str> {
        match self {
            AssignmentStrategy::Range => Some("RangePartitionAssignor"),
            AssignmentStrategy::RoundRobin => Some("RoundRobinPartitionAssignor"),
            AssignmentStrategy::Sticky => Some("StickyPartitionAssignor"),
            AssignmentStrategy::CooperativeSticky => None,
        }
    }

    /// Parses a comma-separated `partition.assignment.strategy` list, in preference
    /// order. Empty entries are skipped; an empty list is an error.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::config::AssignmentStrategy;
    /// let list = AssignmentStrategy::parse_list(
    ///     "org.apache.kafka.clients.consumer.StickyAssignor,roundrobin",
    /// )
    /// .unwrap();
    /// assert_eq!(list, [AssignmentStrategy::Sticky, AssignmentStrategy::RoundRobin]);
    /// assert!(AssignmentStrategy::parse_list("").is_err());
    /// ```
    pub fn parse_list(value: &str) -> Result<Vec<AssignmentStrategy>, ConfigError> {
        let list = value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<AssignmentStrategy>, _>>()?;
        if list.is_empty() {
            return Err(ConfigError::invalid(
                "partition.assignment.strategy",
                value,
                "list at least one of range, roundrobin, sticky, cooperative-sticky",
            ));
        }
        Ok(list)
    }
}

impl fmt::Display for AssignmentStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AssignmentStrategy {
    type Err = ConfigError;

    /// Parses a protocol name (`range`), a Java class name (`RangeAssignor`,
    /// `org.apache.kafka.clients.consumer.RangeAssignor`) or a kafka-python class name
    /// (`RangePartitionAssignor`).
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let t = s.trim();
        let class = t
            .strip_prefix("org.apache.kafka.clients.consumer.")
            .unwrap_or(t);
        Self::ALL
            .into_iter()
            .find(|a| {
                a.name() == class
                    || a.java_class() == class
                    || a.kafka_python_class() == Some(class)
            })
            .ok_or_else(|| {
                ConfigError::invalid(
                    "partition.assignment.strategy",
                    s,
                    "expected range, roundrobin, sticky or cooperative-sticky (or a Java \
                     assignor class name); custom assignors are not supported",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::AssignmentStrategy::*;
    use super::*;

    #[test]
    fn parsing() {
        for (text, want) in [
            ("range", vec![Range]),
            ("roundrobin, sticky", vec![RoundRobin, Sticky]),
            ("cooperative-sticky", vec![CooperativeSticky]),
            ("org.apache.kafka.clients.consumer.RangeAssignor", vec![Range]),
            (
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor,org.apache.kafka.clients.consumer.RangeAssignor",
                vec![CooperativeSticky, Range],
            ),
            ("StickyAssignor", vec![Sticky]),
            ("RoundRobinPartitionAssignor", vec![RoundRobin]),
        ] {
            assert_eq!(AssignmentStrategy::parse_list(text).unwrap(), want, "{text}");
        }
        for s in AssignmentStrategy::ALL {
            assert_eq!(s.name().parse::<AssignmentStrategy>(), Ok(s));
            assert_eq!(s.to_string(), s.name());
        }
        assert!(AssignmentStrategy::parse_list(" , ").is_err());
        assert!(matches!(
            "fancy".parse::<AssignmentStrategy>(),
            Err(ConfigError::InvalidValue { reason, .. }) if reason.contains("custom assignors")
        ));
    }
}
