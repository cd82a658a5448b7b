//! Every broker of the 3-node cluster down for 35 s while an idempotent producer sends
//! 5k records/s (delivery_timeout 20 s, request_timeout 10 s, buffer_memory 1 MiB):
//! no record reported as not written is in the log, every outcome comes by
//! delivery_timeout + 1 s, and acknowledgements resume within a few seconds of the
//! brokers' return.
//!
//! It stops the whole cluster for a minute, so it is a command of its own:
//! `cargo test --all-features --test producer_outage -- --ignored --nocapture`

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use kafka_sync::{Consumer, Error, OffsetReset, Producer, ProducerRecord, TopicPartition};

const PARTITIONS: i32 = 6;
const RATE: u64 = 5_000;
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(20);

/// Each record's outcome by record number: when it came, how long after the append.
type Outcomes = Arc<Mutex<HashMap<u64, (Instant, Duration, Outcome)>>>;

/// One record's outcome: when it came, and what it was.
#[derive(Clone, Debug)]
enum Outcome {
    Delivered,
    /// A Timeout that says the broker may have written the records.
    MaybeWritten,
    /// Any other failure: the record must not be in the log.
    NotWritten(String),
}

fn classify(r: kafka_sync::Result<kafka_sync::RecordMetadata>) -> Outcome {
    match r {
        Ok(_) => Outcome::Delivered,
        Err(e @ Error::Timeout { .. }) if e.to_string().contains("may have written") => {
            Outcome::MaybeWritten
        }
        Err(e) => Outcome::NotWritten(e.to_string()),
    }
}

/// Every value in the topic, read from the beginning with an assigned consumer.
fn read_log(bootstrap: &str, topic: &str) -> Vec<u64> {
    let mut consumer = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .auto_offset_reset(OffsetReset::Earliest)
        .consumer_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    consumer.assign(tps.clone()).unwrap();
    let total: i64 = consumer.end_offsets(&tps).unwrap().values().sum();
    let mut values = Vec::new();
    for msg in &mut consumer {
        let msg = msg.unwrap();
        let v = String::from_utf8(msg.value.unwrap().to_vec()).unwrap();
        values.push(v.parse().unwrap());
        if values.len() as i64 == total {
            break;
        }
    }
    assert_eq!(values.len() as i64, total, "the whole log was read");
    values
}

#[test]
#[ignore]
fn all_brokers_down_for_35_s_loses_nothing_and_recovers_quickly() {
    let _fault = cluster_fault_lock();
    let bootstrap = cluster_bootstrap();
    let topic = unique_name("outage");
    kafka_python_create_topic(&bootstrap, &topic, PARTITIONS, 3);
    let producer = Producer::builder()
        .bootstrap_servers(&bootstrap)
        .delivery_timeout(DELIVERY_TIMEOUT)
        .request_timeout(Duration::from_secs(10))
        .buffer_memory(1 << 20)
        .build()
        .unwrap();

    let outcomes: Outcomes = Arc::default();
    let send_failures = Arc::new(Mutex::new(0u64));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (producer, outcomes, stop) = (producer.clone(), outcomes.clone(), stop.clone());
        let send_failures = send_failures.clone();
        let topic = topic.clone();
        thread::spawn(move || {
            let start = Instant::now();
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let due = start + Duration::from_micros(i * 1_000_000 / RATE);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    thread::sleep(wait);
                }
                match producer.send(ProducerRecord::new(topic.as_str()).value(i.to_string())) {
                    Ok(f) => {
                        // delivery_timeout runs from the append, not from a send()
                        // that waited for buffer memory.
                        let sent = Instant::now();
                        let outcomes = outcomes.clone();
                        f.on_complete(move |r| {
                            let now = Instant::now();
                            outcomes
                                .lock()
                                .unwrap()
                                .insert(i, (now, now - sent, classify(r)));
                        });
                    }
                    // Not appended (buffer_memory full past max_block): never written.
                    Err(_) => *send_failures.lock().unwrap() += 1,
                }
                i += 1;
            }
            i
        })
    };

    thread::sleep(Duration::from_secs(10));
    let nodes = ["1", "2", "3"];
    let down: Vec<NodeDown> = nodes.iter().map(|n| NodeDown::kill(n)).collect();
    thread::sleep(Duration::from_secs(35));
    // All at once: a node of a KRaft quorum answers only once a majority is back.
    let restarts: Vec<_> = down
        .into_iter()
        .map(|d| thread::spawn(move || d.restart()))
        .collect();
    let restart_began = Instant::now();
    for r in restarts {
        r.join().unwrap();
    }
    let back = Instant::now();
    thread::sleep(Duration::from_secs(30));
    stop.store(true, Ordering::SeqCst);
    let sent = sender.join().unwrap();
    let flushed = producer.flush();
    producer.close(Duration::from_secs(30));

    let outcomes = outcomes.lock().unwrap().clone();
    let log = read_log(&bootstrap, &topic);
    let in_log: std::collections::HashSet<u64> = log.iter().copied().collect();
    let duplicates = log.len() - in_log.len();
    let mut delivered = 0;
    let mut maybe = 0;
    let mut maybe_in_log = 0;
    let mut not_written = Vec::new();
    let mut slowest = Duration::ZERO;
    let mut first_ack_after_return: Option<Instant> = None;
    for (i, (at, took, outcome)) in &outcomes {
        slowest = slowest.max(*took);
        match outcome {
            Outcome::Delivered => {
                delivered += 1;
                assert!(
                    in_log.contains(i),
                    "acknowledged record {i} is not in the log"
                );
                if *at >= restart_began {
                    first_ack_after_return =
                        Some(first_ack_after_return.map_or(*at, |f| f.min(*at)));
                }
            }
            Outcome::MaybeWritten => {
                maybe += 1;
                maybe_in_log += in_log.contains(i) as usize;
            }
            Outcome::NotWritten(e) => not_written.push((*i, e.clone())),
        }
    }
    let reported_but_written: Vec<_> = not_written
        .iter()
        .filter(|(i, _)| in_log.contains(i))
        .collect();
    // Zero when acknowledgements resumed before the last node's restart returned.
    let resumed = first_ack_after_return.map(|t| t.saturating_duration_since(back));
    let since_restart = first_ack_after_return.map(|t| t - restart_began);
    eprintln!(
        "sent {sent}; send() refused {}; outcomes {}: delivered {delivered}, \
         timed out (may be written) {maybe} of which {maybe_in_log} in the log, \
         failed (not written) {}; in the log {}, duplicates {duplicates}; \
         reported not written but in the log {}; slowest outcome {slowest:?}; \
         restarts took {:?}; first ack {since_restart:?} after the restarts began, \
         {resumed:?} after the last was back; flush {flushed:?}",
        send_failures.lock().unwrap(),
        outcomes.len(),
        not_written.len(),
        log.len(),
        reported_but_written.len(),
        back - restart_began,
    );
    assert!(reported_but_written.is_empty(), "{reported_but_written:?}");
    assert_eq!(duplicates, 0);
    assert!(
        slowest <= DELIVERY_TIMEOUT + Duration::from_secs(1),
        "an outcome took {slowest:?}"
    );
    assert!(
        resumed.is_some_and(|d| d <= Duration::from_secs(5)),
        "acknowledgements resumed {resumed:?} after the brokers' return"
    );
}
