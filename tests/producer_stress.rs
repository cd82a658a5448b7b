//! The default (idempotent) producer against a freshly created topic: every record of a
//! burst of 100-byte records sent right after topic creation is delivered, none fails.
//!
//! `cargo test --all-features --test producer_stress` runs the short form (2 runs of
//! 200k records). The long form, 20 runs of 1M records, is its own command:
//! `cargo test --release --all-features --test producer_stress -- --ignored`.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use kafka_sync::admin::{AdminClient, NewTopic};
use kafka_sync::{Producer, ProducerRecord};

const PARTITIONS: i32 = 6;

/// What one run saw.
struct RunOutcome {
    delivered: u64,
    /// Per partition: records acknowledged and the highest offset acknowledged.
    offsets: BTreeMap<i32, (u64, i64)>,
    failed: BTreeMap<String, u64>,
    retries: u64,
    seconds: f64,
}

/// Creates a 6-partition topic and at once sends `records` records of 100 bytes with the
/// default builder, counting every record's outcome.
fn one_run(admin: &AdminClient, bootstrap: &str, records: u64) -> RunOutcome {
    let topic = unique_name("stress");
    for (name, result) in admin
        .create_topics(&[NewTopic::new(&topic, PARTITIONS, 1)], Default::default())
        .unwrap()
    {
        result.unwrap_or_else(|e| panic!("creating {name}: {e}"));
    }
    let producer = Producer::builder()
        .bootstrap_servers(bootstrap)
        .build()
        .unwrap();
    let delivered = Arc::new(AtomicU64::new(0));
    let offsets: Arc<Mutex<BTreeMap<i32, (u64, i64)>>> = Arc::default();
    let failed: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let payload = vec![b'x'; 100];
    let started = Instant::now();
    for _ in 0..records {
        let future = producer
            .send(ProducerRecord::new(topic.as_str()).value(&payload))
            .unwrap();
        let (delivered, failed, offsets) = (delivered.clone(), failed.clone(), offsets.clone());
        future.on_complete(move |r| match r {
            Ok(m) => {
                delivered.fetch_add(1, Ordering::Relaxed);
                let mut offsets = offsets.lock().unwrap();
                let (n, max) = offsets.entry(m.partition).or_insert((0, -1));
                *n += 1;
                *max = (*max).max(m.offset);
            }
            Err(e) => *failed.lock().unwrap().entry(e.to_string()).or_default() += 1,
        });
    }
    let flushed = producer.flush();
    let seconds = started.elapsed().as_secs_f64();
    let retries = producer.metrics().retries;
    producer.close(Duration::from_secs(10));
    let failed = failed.lock().unwrap().clone();
    let delivered = delivered.load(Ordering::Relaxed);
    let offsets = offsets.lock().unwrap().clone();
    assert_eq!(
        flushed.is_ok(),
        failed.is_empty(),
        "flush() must report failed records: {flushed:?}, failures {failed:?}"
    );
    RunOutcome {
        delivered,
        offsets,
        failed,
        retries,
        seconds,
    }
}

fn stress(runs: usize, records: u64) {
    let bootstrap = bootstrap();
    let admin = AdminClient::builder()
        .bootstrap_servers(&bootstrap)
        .build()
        .unwrap();
    let mut bad = Vec::new();
    for run in 0..runs {
        let o = one_run(&admin, &bootstrap, records);
        eprintln!(
            "run {run}: {} delivered, {} failed, {} retries, {:.1} s {:?}",
            o.delivered,
            o.failed.values().sum::<u64>(),
            o.retries,
            o.seconds,
            o.failed
        );
        // Each partition's log is exactly its acknowledged records: offsets 0..n.
        let holes: Vec<_> = o
            .offsets
            .iter()
            .filter(|(_, (n, max))| *max + 1 != *n as i64)
            .collect();
        if o.delivered != records || !o.failed.is_empty() || !holes.is_empty() {
            bad.push(format!(
                "run {run}: {} delivered, failed {:?}, partitions whose offsets are not 0..n: {holes:?}",
                o.delivered, o.failed
            ));
        }
    }
    assert!(bad.is_empty(), "runs with failed records: {bad:?}");
}

/// 2 runs of 200k records: short enough for every `cargo test`.
#[test]
fn burst_into_a_new_topic_delivers_every_record() {
    stress(2, 200_000);
}

/// 20 runs of 1M records (the long form; run it in a release build).
#[test]
#[ignore]
fn twenty_bursts_of_a_million_into_new_topics_deliver_every_record() {
    stress(20, 1_000_000);
}
