//! Producer and consumer throughput and CPU cost against a real broker.
//!
//! ```text
//! tests/kafka/broker start
//! KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 cargo bench --bench client_throughput -- [records] [value bytes]
//! ```
//!
//! Produces `records` (default 5M) values of `value bytes` (default 100) to a new
//! 1-partition topic with acks=1, idempotence off, linger 5 ms and 64 KiB batches, then
//! reads them back with a consumer. Reports wall time, records/s and the process's CPU
//! seconds (user + system, from /proc/self/stat) per million records for each phase.

use std::time::{Duration, Instant};

use kafka_sync::admin::{AdminClient, NewTopic};
use kafka_sync::{Acks, Consumer, OffsetReset, Producer, ProducerRecord, TopicPartition};

/// User + system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn report(phase: &str, records: usize, bytes: usize, wall: Duration, cpu: f64) {
    let secs = wall.as_secs_f64();
    println!(
        "{phase:>8}: {records} records in {secs:.2} s = {:.0} rec/s, {:.1} MB/s; CPU {cpu:.2} s = {:.3} s per million records ({:.0} ns/record)",
        records as f64 / secs,
        (records * bytes) as f64 / secs / 1e6,
        cpu / records as f64 * 1e6,
        cpu / records as f64 * 1e9,
    );
}

fn main() -> kafka_sync::Result<()> {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let records: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let size: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let servers =
        std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let topic = format!("bench-{}-{}", std::process::id(), records);
    let admin = AdminClient::builder().bootstrap_servers(&servers).build()?;
    admin.create_topics(&[NewTopic::new(&topic, 1, 1)], Default::default())?;

    let producer = Producer::builder()
        .bootstrap_servers(&servers)
        .acks(Acks::Leader)
        .enable_idempotence(false)
        .linger(Duration::from_millis(5))
        .batch_size(64 * 1024)
        .build()?;
    let value = vec![b'x'; size];
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    for _ in 0..records {
        producer.send(ProducerRecord::new(topic.as_str()).value(&value))?;
    }
    producer.flush()?;
    report("produce", records, size, t0.elapsed(), cpu_seconds() - cpu0);
    let m = producer.metrics();
    println!(
        "          {} batches, average {:.0} B, {} errors",
        m.batches_sent,
        m.average_batch_size(),
        m.errors
    );
    drop(producer);

    let mut consumer = Consumer::builder()
        .bootstrap_servers(&servers)
        .auto_offset_reset(OffsetReset::Earliest)
        .consumer_timeout(Duration::from_secs(10))
        .build()?;
    consumer.assign([TopicPartition::new(topic.as_str(), 0)])?;
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let mut n = 0;
    let mut bytes = 0;
    for msg in consumer.iter() {
        bytes += msg?.value.map_or(0, |v| v.len());
        n += 1;
        if n == records {
            break;
        }
    }
    report(
        "consume",
        n,
        bytes / n.max(1),
        t0.elapsed(),
        cpu_seconds() - cpu0,
    );
    admin.delete_topics(&[topic.as_str()], None)?;
    Ok(())
}
