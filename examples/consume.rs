//! The KafkaConsumer snippets of the kafka-python docs, with kafka-sync.
//!
//! `cargo run --example consume -- my-topic`

use std::time::Duration;

use kafka_sync::{Consumer, OffsetReset, TopicPartition};

fn main() -> kafka_sync::Result<()> {
    let servers =
        std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let topic = std::env::args().nth(1).unwrap_or_else(|| "my-topic".into());

    // Consume from the earliest offset in a group, decoding values as UTF-8, and stop
    // after one second without a message (kafka-python's consumer_timeout_ms).
    let mut consumer = Consumer::builder()
        .bootstrap_servers(&servers)
        .group_id("my-group")
        .auto_offset_reset(OffsetReset::Earliest)
        .consumer_timeout(Duration::from_secs(1))
        .value_deserializer(|_topic: &str, b: &bytes::Bytes| String::from_utf8(b.to_vec()))
        .build()?;
    consumer.subscribe([topic.as_str()])?;
    for message in &mut consumer {
        let message = message?;
        println!(
            "{}:{}:{}: key={:?} value={:?}",
            message.topic, message.partition, message.offset, message.key, message.value
        );
    }
    consumer.close(Duration::from_secs(5));

    // Manually assign a partition, without a group, and read one message.
    let mut manual = Consumer::builder()
        .bootstrap_servers(&servers)
        .auto_offset_reset(OffsetReset::Earliest)
        .consumer_timeout(Duration::from_secs(1))
        .build()?;
    manual.assign([TopicPartition::new(topic.as_str(), 0)])?;
    if let Some(msg) = manual.iter().next() {
        println!("first record of partition 0: offset {}", msg?.offset);
    }
    Ok(())
}
