//! Exactly-once consume-transform-produce: reads topic A in a consumer group, writes
//! each record transformed to topic B, and commits the input offsets in the same
//! transaction, so output and progress commit together or not at all. A crash at any
//! point neither loses nor duplicates a record (for read_committed readers of B).
//!
//! Each process of the group has its own transactional id (a restarted process takes
//! the same one, which fences its predecessor's open transaction); the group
//! metadata sent with the offsets fences a member that lost its partitions
//! (KIP-447).
//!
//! `cargo run --example exactly_once -- BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID [IDLE_EXIT_SECS]`
//!
//! With IDLE_EXIT_SECS, it stops after that long without input.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kafka_sync::{
    Consumer, IsolationLevel, OffsetAndMetadata, OffsetReset, Producer, ProducerRecord,
    TopicPartition,
};

const TIMEOUT: Duration = Duration::from_secs(30);

/// With `KAFKA_SYNC_LOG=<module prefix>`, the client's log lines from that module go to
/// stderr.
struct StderrLog(String);

impl log::Log for StderrLog {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.target().starts_with(&self.0)
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!(
                "{:?} {} {}: {}",
                std::time::SystemTime::now(),
                r.level(),
                r.target(),
                r.args()
            );
        }
    }
    fn flush(&self) {}
}

fn main() {
    if let Ok(prefix) = std::env::var("KAFKA_SYNC_LOG") {
        let logger = Box::leak(Box::new(StderrLog(prefix)));
        if log::set_logger(logger).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 5 {
        eprintln!(
            "usage: exactly_once BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID [IDLE_EXIT_SECS]"
        );
        std::process::exit(2);
    }
    let idle_exit = args
        .get(5)
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs);
    if let Err(e) = run(&args[0], &args[1], &args[2], &args[3], &args[4], idle_exit) {
        // A fatal error (fenced, say): this process is done; a restart starts afresh.
        eprintln!("exactly_once: {e}");
        std::process::exit(1);
    }
}

fn run(
    bootstrap: &str,
    input: &str,
    output: &str,
    group: &str,
    transactional_id: &str,
    idle_exit: Option<Duration>,
) -> kafka_sync::Result<()> {
    let mut consumer = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .group_id(group)
        .enable_auto_commit(false)
        .auto_offset_reset(OffsetReset::Earliest)
        // Read only committed input, in case A is itself written transactionally.
        .isolation_level(IsolationLevel::ReadCommitted)
        .session_timeout(Duration::from_secs(10))
        .heartbeat_interval(Duration::from_secs(1))
        .build()?;
    consumer.subscribe([input])?;
    let producer = Producer::builder()
        .bootstrap_servers(bootstrap)
        .transactional_id(transactional_id)
        .build()?;
    producer.init_transactions(TIMEOUT)?;

    let mut last_input = Instant::now();
    let mut copied = 0u64;
    loop {
        // No transaction is open while polling, so a rebalance inside poll never
        // hands away partitions whose offsets are still uncommitted.
        let batch = consumer.poll(Duration::from_millis(500))?;
        if batch.is_empty() {
            if idle_exit.is_some_and(|d| last_input.elapsed() >= d) {
                break;
            }
            continue;
        }
        last_input = Instant::now();
        producer.begin_transaction()?;
        let result = copy(&producer, &consumer, output, &batch);
        match result {
            Ok(n) => copied += n,
            // Fenced: a newer process took this transactional id over.
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => {
                eprintln!("exactly_once: aborting: {e}");
                retry_timeouts(|| producer.abort_transaction(TIMEOUT))?;
                // The records of the aborted transaction are read again.
                rewind(&mut consumer, batch.keys())?;
            }
        }
    }
    println!("copied {copied} records");
    producer.close(Duration::from_secs(5));
    consumer.close(Duration::from_secs(5));
    Ok(())
}

/// Writes the transformed records and the offsets after them, and commits.
fn copy(
    producer: &Producer,
    consumer: &Consumer,
    output: &str,
    batch: &std::collections::HashMap<TopicPartition, Vec<kafka_sync::ConsumerRecord>>,
) -> kafka_sync::Result<u64> {
    let mut offsets = BTreeMap::new();
    let mut n = 0;
    for (tp, records) in batch {
        for r in records {
            let value = transform(r.value.as_deref().unwrap_or_default());
            let mut out = ProducerRecord::new(output).value(value);
            if let Some(k) = r.key.as_deref() {
                out = out.key(k.to_vec());
            }
            producer.send(out)?;
            n += 1;
        }
        if let Some(last) = records.last() {
            offsets.insert(
                tp.clone(),
                OffsetAndMetadata {
                    offset: last.offset + 1,
                    metadata: String::new(),
                    leader_epoch: last.leader_epoch,
                },
            );
        }
    }
    producer.send_offsets_to_transaction(offsets, &consumer.group_metadata()?, TIMEOUT)?;
    // A commit that timed out goes on in the background: wait for it again.
    retry_timeouts(|| producer.commit_transaction(TIMEOUT))?;
    Ok(n)
}

/// Repeats a transaction call that timed out (it waits for the same operation), a few
/// times.
fn retry_timeouts(call: impl Fn() -> kafka_sync::Result<()>) -> kafka_sync::Result<()> {
    let mut attempts = 0;
    loop {
        match call() {
            Err(kafka_sync::Error::Timeout { .. }) if attempts < 10 => attempts += 1,
            r => return r,
        }
    }
}

/// The transformation: the input value, upper-cased.
fn transform(value: &[u8]) -> Vec<u8> {
    value.to_ascii_uppercase()
}

/// Moves each partition back to its committed offset (or the beginning).
fn rewind<'a>(
    consumer: &mut Consumer,
    partitions: impl Iterator<Item = &'a TopicPartition>,
) -> kafka_sync::Result<()> {
    let owned = consumer.assignment();
    for tp in partitions.filter(|tp| owned.contains(*tp)) {
        match consumer.committed(tp)? {
            Some(o) => consumer.seek(tp, o.offset)?,
            None => consumer.seek_to_beginning(std::slice::from_ref(tp))?,
        }
    }
    Ok(())
}
