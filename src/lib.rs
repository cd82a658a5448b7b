//! kafka-sync: a synchronous Apache Kafka client.

pub mod protocol;
