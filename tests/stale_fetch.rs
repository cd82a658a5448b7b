//! Nothing fetched for an assignment that ended may move the position of the next one.
//!
//! A fetch answered after its partition was taken away and given back must not move the
//! new position. The partition's leader is slowed down by the fault proxy so that a
//! fetch is still out when the partition is reassigned; the committed offset arrives
//! first (from the group coordinator, another broker), and the late answer, for an
//! offset far ahead of it, comes after. Records handed out must start at the committed
//! offset with no gap, or the records between were skipped (and, in an exactly-once
//! copier, lost for good once the offsets after them were committed).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::fault_proxy::{Fault, FaultProxy};
use kafka_sync::admin::AdminClient;
use kafka_sync::{
    Consumer, OffsetAndMetadata, OffsetReset, Producer, ProducerRecord, TopicPartition,
};

const RECORDS: i64 = 400;

/// A one-partition topic of small single-record batches on the cluster; returns its
/// partition and leader.
fn topic_of_small_batches(bootstrap: &str, admin: &AdminClient) -> (TopicPartition, i32) {
    let topic = common::unique_name("stale-fetch");
    common::kafka_python_create_topic(bootstrap, &topic, 1, 3);
    // One record per batch, so each fetch returns a few records, not the whole log.
    let producer = Producer::builder()
        .bootstrap_servers(bootstrap)
        .batch_size(1)
        .build()
        .unwrap();
    for i in 0..RECORDS {
        producer
            .send(ProducerRecord::new(topic.as_str()).value(vec![b'x'; 400 + (i % 3) as usize]))
            .unwrap();
    }
    producer.flush().unwrap();
    let leader = admin.describe_topics(&[topic.as_str()]).unwrap()[0].partitions[0]
        .leader
        .expect("a leader");
    (TopicPartition::new(topic.as_str(), 0), leader)
}

/// A topic of small batches on the cluster, a group coordinated by another broker than
/// the partition's leader, and a fault proxy in front of the cluster.
struct Setup {
    admin: AdminClient,
    tp: TopicPartition,
    leader: i32,
    group: String,
    proxy: FaultProxy,
}

impl Setup {
    fn new() -> Setup {
        let bootstrap = common::cluster_bootstrap();
        let admin = AdminClient::builder()
            .bootstrap_servers(&bootstrap)
            .build()
            .unwrap();
        let (tp, leader) = topic_of_small_batches(&bootstrap, &admin);
        let group = group_coordinated_elsewhere(&admin, leader);
        let proxy = FaultProxy::start(&bootstrap);
        Setup {
            admin,
            tp,
            leader,
            group,
            proxy,
        }
    }
}

/// A consumer of `group` through `proxy` that fetches a few records at a time.
fn small_fetch_consumer(proxy: &FaultProxy, group: &str) -> Consumer {
    Consumer::builder()
        .bootstrap_servers(proxy.bootstrap())
        .group_id(group)
        .enable_auto_commit(false)
        .auto_offset_reset(OffsetReset::Earliest)
        .max_partition_fetch_bytes(1024)
        .max_poll_records(5)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_secs(1))
        .build()
        .unwrap()
}

/// Reads the first 10 records and commits offset 10.
fn read_ten_and_commit(c: &mut Consumer, tp: &TopicPartition) -> i64 {
    let first = poll_offsets(c, 10);
    assert_eq!(first[..10], (0..10).collect::<Vec<_>>()[..]);
    c.commit_offsets(BTreeMap::from([(tp.clone(), OffsetAndMetadata::new(10))]))
        .unwrap();
    10
}

/// The next 30 records must be the 30 after `committed`.
fn assert_resumes_at(c: &mut Consumer, committed: i64, what: &str) {
    let again = poll_offsets(c, 30);
    assert!(
        again.len() >= 30,
        "only {} records {what}: {again:?}",
        again.len()
    );
    let want: Vec<i64> = (committed..committed + again.len() as i64).collect();
    assert_eq!(
        again, want,
        "{what} the records must start at the committed offset {committed}, without gaps"
    );
}

/// A group id whose coordinator is not `leader`, so committed offsets and fetches travel
/// on different connections.
fn group_coordinated_elsewhere(admin: &AdminClient, leader: i32) -> String {
    for _ in 0..50 {
        let group = common::unique_name("stale-fetch-group");
        let desc = admin.describe_consumer_groups(&[group.as_str()]).unwrap();
        let coordinator = desc[&group].as_ref().unwrap().coordinator.id;
        if coordinator != leader {
            return group;
        }
    }
    panic!("every group id tried is coordinated by the partition's leader {leader}");
}

/// Polls until `n` records have come, or 20 s pass; returns their offsets in order.
fn poll_offsets(c: &mut Consumer, n: usize) -> Vec<i64> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut offsets = Vec::new();
    while offsets.len() < n && Instant::now() < deadline {
        for records in c.poll(Duration::from_millis(200)).unwrap().into_values() {
            offsets.extend(records.iter().map(|r| r.offset));
        }
    }
    offsets
}

#[test]
fn a_fetch_answered_after_a_reassignment_does_not_skip_records() {
    let Setup {
        admin: _,
        tp,
        leader,
        group,
        proxy,
    } = Setup::new();
    let mut c = small_fetch_consumer(&proxy, &group);
    c.assign([tp.clone()]).unwrap();
    let committed = read_ten_and_commit(&mut c, &tp);

    // From now on the leader answers 3 s late; reading on makes the next fetch (far
    // ahead of the committed offset) go out and stay out.
    proxy.set_fault_node(leader, Fault::Delay(Duration::from_secs(3)));
    poll_offsets(&mut c, 20);

    // Taken away and given back: the position is the committed offset again.
    c.assign(Vec::new()).unwrap();
    c.assign([tp.clone()]).unwrap();
    // The late answer arrives meanwhile; then the leader is quick again.
    std::thread::sleep(Duration::from_secs(4));
    proxy.clear_faults();
    assert_resumes_at(&mut c, committed, "after the reassignment");
}

/// A member whose user thread is busy while its coordinator is unreachable for longer
/// than the session timeout loses its partition, and its I/O thread rejoins and gets it
/// back before the user thread polls again. What was fetched for the new assignment by
/// then must survive the user thread applying the loss, and reading resumes exactly at
/// the committed offset.
#[test]
fn a_partition_lost_and_given_back_while_the_user_is_busy_resumes_at_the_committed_offset() {
    let Setup {
        admin,
        tp,
        leader: _,
        group,
        proxy,
    } = Setup::new();
    let coordinator = admin.describe_consumer_groups(&[group.as_str()]).unwrap()[&group]
        .as_ref()
        .unwrap()
        .coordinator
        .id;
    let mut c = small_fetch_consumer(&proxy, &group);
    c.subscribe([tp.topic.as_str()]).unwrap();
    let committed = read_ten_and_commit(&mut c, &tp);

    // The user thread is busy (no poll) through all of this.
    proxy.set_fault_node(coordinator, Fault::Blackhole);
    std::thread::sleep(Duration::from_secs(9));
    proxy.clear_faults();
    // The I/O thread rejoins by itself (a second rebalance in the metrics, which it
    // keeps), then fetches for the new assignment.
    common::retry(
        "the member back in the group",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || match c.metrics().rebalance_total {
            n if n >= 2 => Ok(()),
            n => Err(format!("{n} rebalances so far")),
        },
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_resumes_at(
        &mut c,
        committed,
        "after the partition was lost and given back",
    );
}
