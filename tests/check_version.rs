//! `check_version()`, `api_version` pinning and `cluster()` on every client, against the
//! real broker (Kafka 4.3 in `tests/run`).

mod common;

use std::time::Duration;

use common::topics::create_topic;
use common::*;
use kafka_sync::admin::AdminClient;
use kafka_sync::{BrokerVersion, Consumer, Error, OffsetReset, Producer, ProducerRecord};

/// The release the test broker runs: `KAFKA_VERSION` if set (tests/run), else 4.3.
fn broker_release() -> BrokerVersion {
    let full = std::env::var("KAFKA_VERSION").unwrap_or_else(|_| "4.3.1".into());
    let mut parts = full.split('.');
    let major = parts.next().and_then(|p| p.parse().ok()).unwrap();
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap();
    BrokerVersion::new(major, minor)
}

#[test]
fn every_client_reports_the_broker_release() {
    let bootstrap = bootstrap();
    let want = broker_release();
    let producer = Producer::builder()
        .bootstrap_servers(&bootstrap)
        .build()
        .unwrap();
    assert_eq!(producer.check_version().unwrap(), want);
    let consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .build()
        .unwrap();
    assert_eq!(consumer.check_version().unwrap(), want);
    let admin = AdminClient::builder()
        .bootstrap_servers(&bootstrap)
        .build()
        .unwrap();
    assert_eq!(admin.check_version().unwrap(), want);
}

#[test]
fn check_version_without_a_broker_times_out_as_configured() {
    // Nothing listens on port 1.
    let producer = Producer::builder()
        .bootstrap_servers("127.0.0.1:1")
        .api_version_auto_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    match producer.check_version() {
        Err(Error::Timeout { elapsed, .. }) => assert_eq!(elapsed, Duration::from_millis(300)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(300));
}

/// Metadata carries topic ids from v10 (Kafka 2.8); pinned to 2.4 (Metadata v9) the
/// client never asks in a version that has them, so the ids it holds stay nil.
#[test]
fn a_pinned_client_speaks_the_pinned_release_versions() {
    let bootstrap = bootstrap();
    let topic = unique_name("pinned");
    create_topic(&topic, 2);

    let newest = Producer::builder()
        .bootstrap_servers(&bootstrap)
        .build()
        .unwrap();
    newest.partitions_for(&topic).unwrap();
    let id = newest.cluster().topic(&topic).unwrap().topic_id;
    assert!(!id.is_zero(), "Metadata v12 carries the topic id");

    let pinned = Producer::builder()
        .bootstrap_servers(&bootstrap)
        .api_version((2, 4))
        .build()
        .unwrap();
    assert_eq!(pinned.check_version().unwrap(), BrokerVersion::new(2, 4));
    for i in 0..10 {
        pinned
            .send(ProducerRecord::new(&topic).value(format!("{i}")))
            .unwrap();
    }
    pinned.flush().unwrap();
    let cluster = pinned.cluster();
    let t = cluster.topic(&topic).unwrap();
    assert!(
        t.topic_id.is_zero(),
        "pinned to 2.4, Metadata stays below v10"
    );
    assert_eq!(t.partitions.len(), 2);

    let mut consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .api_version("2.4".parse::<BrokerVersion>().unwrap())
        .group_id(unique_name("pinned-group"))
        .auto_offset_reset(OffsetReset::Earliest)
        .consumer_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    consumer.subscribe([topic.as_str()]).unwrap();
    let read = consumer
        .iter()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
        .len();
    assert_eq!(read, 10);
    consumer.commit().unwrap();
    assert!(consumer.cluster().topic(&topic).unwrap().topic_id.is_zero());
}

#[test]
fn cluster_snapshots_name_brokers_topics_leaders_and_controller() {
    let bootstrap = bootstrap();
    let topic = unique_name("cluster-view");
    let admin = AdminClient::builder()
        .bootstrap_servers(&bootstrap)
        .build()
        .unwrap();
    create_topic(&topic, 3);
    let described = admin.describe_cluster().unwrap();

    let producer = Producer::builder()
        .bootstrap_servers(&bootstrap)
        .build()
        .unwrap();
    assert_eq!(producer.partitions_for(&topic).unwrap().len(), 3);
    let cluster = producer.cluster();
    assert_eq!(cluster.brokers.len(), described.brokers.len());
    assert_eq!(cluster.cluster_id, described.cluster_id);
    let controller = cluster.controller().expect("a controller");
    assert!(cluster.brokers.contains_key(&controller.id));
    let t = cluster.topic(&topic).unwrap();
    assert_eq!(t.partitions.len(), 3);
    for p in 0..3 {
        let leader = cluster.leader(&topic, p).expect("a leader");
        assert!(cluster.brokers.contains_key(&leader));
    }

    let mut consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .build()
        .unwrap();
    assert!(
        consumer.cluster().topic(&topic).is_none(),
        "not asked for yet"
    );
    consumer
        .assign([kafka_sync::TopicPartition::new(&topic, 0)])
        .unwrap();
    let seen = wait_for(
        "the consumer's metadata for the topic",
        Duration::from_secs(10),
        || consumer.cluster().topic(&topic).map(|t| t.partitions.len()),
    );
    assert_eq!(seen, 3);
    consumer.close(Duration::from_secs(5));
    assert!(!admin.cluster().brokers.is_empty());
}
