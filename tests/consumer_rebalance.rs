//! Rebalancing with a slow member, against the real broker: the member revokes at its
//! next poll instead of first working through its prefetched records, and it never hands
//! out a record of a partition it no longer owns.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use kafka_sync::{AssignmentStrategy, Consumer, OffsetReset, Producer, ProducerRecord};

/// Records per partition: tiny ones, so one 4 MiB fetch holds far more than a slow member
/// gets through in the test's time.
const PER_PARTITION: usize = 150_000;

fn fill(topic: &str, partitions: i32) {
    let p = Producer::builder()
        .bootstrap_servers(bootstrap())
        .linger(Duration::from_millis(20))
        .build()
        .unwrap();
    let mut futures = Vec::new();
    for partition in 0..partitions {
        for _ in 0..PER_PARTITION {
            futures.push(
                p.send(ProducerRecord::new(topic).partition(partition).value("x"))
                    .unwrap(),
            );
        }
    }
    for f in futures {
        f.wait().unwrap();
    }
}

fn member(group: &str) -> kafka_sync::ConsumerBuilder<bytes::Bytes, bytes::Bytes> {
    Consumer::builder()
        .bootstrap_servers(bootstrap())
        .group_id(group)
        .client_id(unique_name("slow-rebalance"))
        .auto_offset_reset(OffsetReset::Earliest)
        .partition_assignment_strategy(&[AssignmentStrategy::Range])
        .session_timeout(Duration::from_secs(10))
        .heartbeat_interval(Duration::from_millis(500))
        .max_partition_fetch_bytes(4 * 1024 * 1024)
        .enable_auto_commit(false)
}

#[test]
fn a_slow_member_does_not_hold_up_a_newcomer_and_hands_out_only_owned_partitions() {
    let topic = unique_name("slow-member");
    kafka_python_create_topic(&bootstrap(), &topic, 2, 1);
    fill(&topic, 2);
    let group = unique_name("slow-member-g");

    // The slow member: about 1,000 records/s, one `next` per record. It records every
    // record it hands out of a partition it does not own at that moment.
    let stop = Arc::new(AtomicBool::new(false));
    let strays = Arc::new(Mutex::new(Vec::new()));
    let read = Arc::new(Mutex::new(0usize));
    let mut slow = member(&group).build().unwrap();
    slow.subscribe([topic.as_str()]).unwrap();
    let slow_thread = {
        let (stop, strays, read) = (stop.clone(), strays.clone(), read.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match slow.next_timeout(Some(Duration::from_millis(100))) {
                    Ok(Some(r)) => {
                        let tp = kafka_sync::TopicPartition::new(&*r.topic, r.partition);
                        if !slow.assignment().contains(&tp) {
                            strays.lock().unwrap().push((tp, r.offset));
                        }
                        *read.lock().unwrap() += 1;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Ok(None) => {}
                    Err(e) => panic!("the slow member's poll failed: {e}"),
                }
            }
            slow.close(Duration::from_secs(5));
        })
    };
    wait_for(
        "the slow member to start reading",
        Duration::from_secs(30),
        || (*read.lock().unwrap() > 100).then_some(()),
    );

    // The newcomer: the time from its subscribe to its first assignment.
    let mut newcomer = member(&group).build().unwrap();
    newcomer.subscribe([topic.as_str()]).unwrap();
    let joined = Instant::now();
    // Session and rebalance timing (heartbeats every 500 ms, a JoinGroup round, a
    // SyncGroup round) plus a few seconds for a busy machine; far below the time the slow
    // member needs for one prefetched fetch (over 100 s).
    let bound = Duration::from_secs(15);
    while newcomer.assignment().is_empty() {
        assert!(
            joined.elapsed() < bound,
            "the newcomer got no partition within {bound:?}; the slow member read {} records",
            read.lock().unwrap()
        );
        newcomer.poll(Duration::from_millis(100)).unwrap();
    }
    let took = joined.elapsed();
    // Both keep polling for a while so a stray record has its chance to show.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        newcomer.poll(Duration::from_millis(100)).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    slow_thread.join().expect("slow member thread");
    let strays = strays.lock().unwrap();
    assert!(
        strays.is_empty(),
        "the slow member handed out {} records of partitions it did not own, first {:?}",
        strays.len(),
        strays.first()
    );
    eprintln!("newcomer assigned after {took:?}");
    newcomer.close(Duration::from_secs(5));
}
