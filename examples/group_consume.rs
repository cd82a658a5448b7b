//! A consumer group member, as in "learning Kafka with Python: consumers": a rebalance
//! listener that commits before partitions move, a manual commit after each batch, and
//! a clean stop from another thread (Ctrl-C in a real program) through `wakeup()`.
//!
//! Start two or three of these with the same group and watch partitions move:
//! `cargo run --example group_consume -- my-topic my-group`

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafka_sync::{
    Consumer, ConsumerRebalanceListener, Error, OffsetReset, RebalanceContext, TopicPartition,
};

struct CommitOnRevoke;

impl ConsumerRebalanceListener for CommitOnRevoke {
    fn on_partitions_revoked(
        &mut self,
        consumer: &mut RebalanceContext<'_>,
        revoked: &[TopicPartition],
    ) {
        println!("revoked: {revoked:?}");
        // Commit what we processed, so the next owner starts right after it.
        if let Err(e) = consumer.commit() {
            eprintln!("commit on revoke failed: {e}");
        }
    }

    fn on_partitions_assigned(
        &mut self,
        _consumer: &mut RebalanceContext<'_>,
        assigned: &[TopicPartition],
    ) {
        println!("assigned: {assigned:?}");
    }
}

fn main() -> kafka_sync::Result<()> {
    let servers =
        std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let mut args = std::env::args().skip(1);
    let topic = args.next().unwrap_or_else(|| "my-topic".into());
    let group = args.next().unwrap_or_else(|| "my-group".into());
    let run_for = Duration::from_secs(args.next().and_then(|s| s.parse().ok()).unwrap_or(30));

    let mut consumer = Consumer::builder()
        .bootstrap_servers(servers)
        .group_id(group)
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .build()?;
    consumer.subscribe_with_listener([topic], CommitOnRevoke)?;

    // The stop flag: another thread sets it and wakes the consumer out of poll().
    let stop = Arc::new(AtomicBool::new(false));
    let waker = consumer.wakeup_handle();
    let stopper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(run_for);
            stop.store(true, Ordering::SeqCst);
            waker.wakeup();
        })
    };

    while !stop.load(Ordering::SeqCst) {
        let batch = match consumer.poll(Duration::from_secs(1)) {
            Ok(batch) => batch,
            Err(Error::Wakeup) => break,
            Err(e) => return Err(e),
        };
        for (tp, records) in &batch {
            for r in records {
                println!("{tp}@{}: {:?}", r.offset, r.value);
            }
        }
        if !batch.is_empty() {
            // Offsets committed are last processed + 1, per partition.
            consumer.commit()?;
        }
    }
    consumer.close(Duration::from_secs(10));
    stopper.join().expect("stopper thread panicked");
    Ok(())
}
