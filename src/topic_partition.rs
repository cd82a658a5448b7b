//! [`TopicPartition`]: the name of one partition of one topic.

use std::fmt;

/// One partition of one topic, as kafka-python's `TopicPartition(topic, partition)`.
///
/// # Examples
/// ```
/// use kafka_sync::TopicPartition;
/// let tp = TopicPartition::new("orders", 3);
/// assert_eq!(tp.to_string(), "orders-3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic name.
    pub topic: String,
    /// The partition index within the topic.
    pub partition: i32,
}

impl TopicPartition {
    /// Names partition `partition` of `topic`.
    ///
    /// # Examples
    /// ```
    /// let tp = kafka_sync::TopicPartition::new("orders", 0);
    /// assert_eq!(tp.partition, 0);
    /// ```
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

impl<T: Into<String>> From<(T, i32)> for TopicPartition {
    fn from((topic, partition): (T, i32)) -> Self {
        TopicPartition::new(topic, partition)
    }
}
