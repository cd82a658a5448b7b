//! Topics for a test on the single broker: created through the admin client, and filled
//! with numbered records.

use kafka_sync::admin::{AdminClient, CreateTopicsOptions, NewTopic};
use kafka_sync::{Producer, ProducerRecord};

/// Creates `topic` with `partitions` partitions (replication factor 1), or panics.
pub fn create_topic(topic: &str, partitions: i32) {
    let admin = AdminClient::builder()
        .bootstrap_servers(super::bootstrap())
        .build()
        .unwrap();
    for (name, r) in admin
        .create_topics(
            &[NewTopic::new(topic, partitions, 1)],
            CreateTopicsOptions::default(),
        )
        .unwrap()
    {
        r.unwrap_or_else(|e| panic!("creating {name}: {e}"));
    }
}

/// Produces `count` records to `partition` of `topic`, with values `value(i)`, and
/// flushes.
pub fn produce_values(topic: &str, partition: i32, count: usize, value: impl Fn(usize) -> String) {
    let p = Producer::builder()
        .bootstrap_servers(super::bootstrap())
        .build()
        .unwrap();
    for i in 0..count {
        p.send(
            ProducerRecord::new(topic)
                .partition(partition)
                .value(value(i)),
        )
        .unwrap();
    }
    p.flush().unwrap();
}
