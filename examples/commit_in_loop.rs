//! Committing from inside `for msg in &mut consumer`, as kafka-python users call
//! `consumer.commit()` in their loop: the loop holds the consumer, so commit through a
//! `Committer` taken before it. Each commit says "processed up to here" for the record's
//! partition, so a restart resumes right after the last committed record.
//!
//! `cargo run --example commit_in_loop -- my-topic`

use std::time::Duration;

use kafka_sync::{Consumer, OffsetReset};

fn main() -> kafka_sync::Result<()> {
    let servers =
        std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let topic = std::env::args().nth(1).unwrap_or_else(|| "my-topic".into());

    let mut consumer = Consumer::builder()
        .bootstrap_servers(&servers)
        .group_id("commit-in-loop")
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .consumer_timeout(Duration::from_secs(2))
        .build()?;
    consumer.subscribe([topic.as_str()])?;

    let committer = consumer.committer();
    let mut processed = 0u64;
    for msg in &mut consumer {
        let msg = msg?;
        println!(
            "{}:{}:{} {:?}",
            msg.topic, msg.partition, msg.offset, msg.value
        );
        processed += 1;
        // Commit every 100 records (a commit is a round trip to the coordinator).
        if processed.is_multiple_of(100) {
            committer.commit(&msg)?;
        }
    }
    // The loop has ended: the consumer is free again, and `commit` covers every
    // partition read.
    consumer.commit()?;
    println!("processed {processed} records");
    consumer.close(Duration::from_secs(5));
    Ok(())
}
