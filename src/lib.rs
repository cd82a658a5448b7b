//! kafka-sync: a synchronous Apache Kafka client.

pub mod config;
pub mod consumer;
pub mod protocol;
mod topic_partition;

pub use topic_partition::TopicPartition;
