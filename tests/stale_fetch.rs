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
    let bootstrap = common::cluster_bootstrap();
    let topic = common::unique_name("stale-fetch");
    common::kafka_python_create_topic(&bootstrap, &topic, 1, 3);
    let tp = TopicPartition::new(topic.as_str(), 0);

    // One record per batch, so each fetch returns a few records, not the whole log.
    let producer = Producer::builder()
        .bootstrap_servers(&bootstrap)
        .batch_size(1)
        .build()
        .unwrap();
    for i in 0..RECORDS {
        producer
            .send(ProducerRecord::new(topic.as_str()).value(vec![b'x'; 400 + (i % 3) as usize]))
            .unwrap();
    }
    producer.flush().unwrap();

    let admin = AdminClient::builder()
        .bootstrap_servers(&bootstrap)
        .build()
        .unwrap();
    let leader = admin.describe_topics(&[topic.as_str()]).unwrap()[0].partitions[0]
        .leader
        .expect("a leader");
    let group = group_coordinated_elsewhere(&admin, leader);

    let proxy = FaultProxy::start(&bootstrap);
    let mut c = Consumer::builder()
        .bootstrap_servers(proxy.bootstrap())
        .group_id(&group)
        .enable_auto_commit(false)
        .auto_offset_reset(OffsetReset::Earliest)
        .max_partition_fetch_bytes(1024)
        .max_poll_records(5)
        .build()
        .unwrap();
    c.assign([tp.clone()]).unwrap();
    let first = poll_offsets(&mut c, 10);
    assert_eq!(first[..10], (0..10).collect::<Vec<_>>()[..]);
    let committed = 10;
    c.commit_offsets(BTreeMap::from([(
        tp.clone(),
        OffsetAndMetadata::new(committed),
    )]))
    .unwrap();

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
    let again = poll_offsets(&mut c, 30);
    assert!(
        again.len() >= 30,
        "only {} records after the reassignment: {again:?}",
        again.len()
    );
    let want: Vec<i64> = (committed..committed + again.len() as i64).collect();
    assert_eq!(
        again, want,
        "after the reassignment the records must start at the committed offset {committed}, without gaps"
    );
}
