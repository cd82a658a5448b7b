//! Start reading every partition from a point in time: `offsets_for_times`, then `seek`.
//!
//! `cargo run --example offsets_for_time -- my-topic 600` (the last 600 seconds)

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka_sync::{Consumer, TopicPartition};

fn main() -> kafka_sync::Result<()> {
    let servers =
        std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let mut args = std::env::args().skip(1);
    let topic = args.next().unwrap_or_else(|| "my-topic".into());
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(600);
    let since = SystemTime::now() - Duration::from_secs(seconds);
    let since_ms = since
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);

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
    consumer.assign(partitions.clone())?;
    let times: HashMap<TopicPartition, i64> =
        partitions.iter().map(|tp| (tp.clone(), since_ms)).collect();
    for (tp, found) in consumer.offsets_for_times(&times)? {
        match found {
            Some((offset, timestamp)) => {
                println!("{tp}: from offset {offset} (timestamp {timestamp})");
                consumer.seek(&tp, offset)?;
            }
            None => {
                println!("{tp}: nothing since then; reading from the end");
                consumer.seek_to_end(&[tp])?;
            }
        }
    }
    for message in &mut consumer {
        let message = message?;
        println!(
            "{}-{}@{} ts={}",
            message.topic, message.partition, message.offset, message.timestamp
        );
    }
    Ok(())
}
