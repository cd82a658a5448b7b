//! pykafka's "consuming the last N messages from a topic": start at the end of every
//! partition, step back N/partitions records (not before the beginning), and read N.
//!
//! `cargo run --example last_n -- my-topic 50`

use std::time::Duration;

use kafka_sync::{Consumer, TopicPartition};

fn main() -> kafka_sync::Result<()> {
    let servers =
        std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let mut args = std::env::args().skip(1);
    let topic = args.next().unwrap_or_else(|| "my-topic".into());
    let last_n: i64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(50);

    let mut consumer = Consumer::builder()
        .bootstrap_servers(servers)
        .consumer_timeout(Duration::from_secs(2))
        .build()?;
    let partitions: Vec<TopicPartition> = consumer
        .partitions_for_topic(&topic)?
        .unwrap_or_default()
        .into_iter()
        .map(|p| TopicPartition::new(topic.as_str(), p))
        .collect();
    if partitions.is_empty() {
        println!("topic {topic} does not exist");
        return Ok(());
    }
    consumer.assign(partitions.clone())?;
    // How many messages to get from the end of each partition.
    let rewind = (last_n + partitions.len() as i64 - 1) / partitions.len() as i64;
    let beginnings = consumer.beginning_offsets(&partitions)?;
    let ends = consumer.end_offsets(&partitions)?;
    for tp in &partitions {
        // If we would rewind before the beginning of the partition, stop there.
        let start = (ends[tp] - rewind).max(beginnings[tp]);
        consumer.seek(tp, start)?;
    }
    for message in consumer.iter().take(last_n as usize) {
        let message = message?;
        println!("{} {:?}", message.offset, message.value);
    }
    Ok(())
}
