//! AdminClient offsets against the real broker: looking offsets up by position and time,
//! altering a group's committed offsets, and resetting them as
//! `kafka-consumer-groups.sh --reset-offsets` does, refused while the group has members.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kafka_sync::admin::{AdminClient, CreateTopicsOptions, NewTopic, OffsetSpec, ResetTo};
use kafka_sync::{ErrorCode, OffsetAndMetadata, Producer, ProducerRecord, TopicPartition};

fn admin() -> AdminClient {
    AdminClient::builder()
        .bootstrap_servers(common::bootstrap())
        .client_id("kafka-sync-admin-offsets-test")
        .default_api_timeout(Duration::from_secs(30))
        .build()
        .expect("admin client")
}

/// A topic of two partitions with 10 records each; record `i` of a partition has the
/// timestamp `base + i` seconds. Returns the topic and `base`.
fn topic_with_records(admin: &AdminClient) -> (String, i64) {
    let topic = common::unique_name("admin-offsets");
    let created = admin
        .create_topics(
            &[NewTopic::new(&topic, 2, 1)],
            CreateTopicsOptions::default(),
        )
        .unwrap();
    created[&topic].clone().unwrap();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let base = now_ms - 60_000;
    let producer = Producer::builder()
        .bootstrap_servers(common::bootstrap())
        .build()
        .unwrap();
    let mut deliveries = Vec::new();
    for partition in 0..2 {
        for i in 0..10i64 {
            let rec = ProducerRecord::new(topic.as_str())
                .partition(partition)
                .timestamp(base + i * 1000)
                .value(format!("{partition}-{i}"));
            deliveries.push(producer.send(rec).unwrap());
        }
    }
    for d in deliveries {
        d.wait().unwrap();
    }
    (topic, base)
}

fn committed(admin: &AdminClient, group: &str) -> BTreeMap<TopicPartition, i64> {
    admin
        .list_consumer_group_offsets(group, None)
        .unwrap()
        .into_iter()
        .map(|(tp, om)| (tp, om.offset))
        .collect()
}

/// Resets and checks that every partition got `want`, as returned and as committed.
fn reset(admin: &AdminClient, group: &str, topics: Option<&[&str]>, to: ResetTo, want: &[i64]) {
    let results = admin
        .reset_consumer_group_offsets(group, topics, to)
        .unwrap();
    let got: Vec<i64> = results
        .values()
        .map(|r| *r.as_ref().unwrap_or_else(|e| panic!("{to:?}: {e}")))
        .collect();
    assert_eq!(got, want, "{to:?}");
    assert_eq!(
        committed(admin, group).into_values().collect::<Vec<_>>(),
        want,
        "{to:?} committed"
    );
}

#[test]
fn lists_offsets_by_position_and_time() {
    let admin = admin();
    let (topic, base) = topic_with_records(&admin);
    let (tp0, tp1) = (
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    );
    let missing = TopicPartition::new(&topic, 9);
    let specs = BTreeMap::from([
        (tp0.clone(), OffsetSpec::Earliest),
        (tp1.clone(), OffsetSpec::Latest),
        (missing.clone(), OffsetSpec::Latest),
    ]);
    let found = admin.list_offsets(&specs).unwrap();
    assert_eq!(found[&tp0].clone().unwrap().offset, Some(0));
    assert_eq!(found[&tp1].clone().unwrap().offset, Some(10));
    assert_eq!(
        found[&missing].as_ref().unwrap_err().code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    );

    let by_time = BTreeMap::from([
        (tp0.clone(), OffsetSpec::Timestamp(base + 3500)),
        (tp1.clone(), OffsetSpec::Timestamp(base + 3_600_000)),
    ]);
    let found = admin.list_offsets(&by_time).unwrap();
    let at = found[&tp0].clone().unwrap();
    assert_eq!((at.offset, at.timestamp), (Some(4), Some(base + 4000)));
    assert_eq!(found[&tp1].clone().unwrap().offset, None);
    admin.delete_topics(&[&topic], None).unwrap();
}

#[test]
fn resets_an_empty_group_and_keeps_offsets_within_the_log() {
    let admin = admin();
    let (topic, base) = topic_with_records(&admin);
    let group = common::unique_name("admin-reset");
    let (tp0, tp1) = (
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    );
    // Partition 1 starts at offset 4 from now on.
    let deleted = admin
        .delete_records(&BTreeMap::from([(tp1.clone(), 4)]))
        .unwrap();
    assert_eq!(deleted[&tp1].clone().unwrap(), 4);

    // A group that never committed: reset names its topics.
    let topics = [topic.as_str()];
    reset(&admin, &group, Some(&topics), ResetTo::Earliest, &[0, 4]);
    // From here on the group's own topics (`None`).
    reset(&admin, &group, None, ResetTo::Latest, &[10, 10]);
    reset(
        &admin,
        &group,
        None,
        ResetTo::Timestamp(base + 2000),
        &[2, 4],
    );
    reset(
        &admin,
        &group,
        None,
        ResetTo::Timestamp(base + 3_600_000),
        &[10, 10],
    );
    reset(&admin, &group, None, ResetTo::Offset(3), &[3, 4]);
    reset(&admin, &group, None, ResetTo::Offset(1000), &[10, 10]);

    // A consumer of the group starts where the reset put it.
    reset(&admin, &group, None, ResetTo::Offset(7), &[7, 7]);
    let mut consumer = kafka_sync::Consumer::builder()
        .bootstrap_servers(common::bootstrap())
        .group_id(&group)
        .build()
        .unwrap();
    consumer.assign([tp0.clone()]).unwrap();
    let mut values = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while values.len() < 3 {
        assert!(Instant::now() < deadline, "read only {values:?}");
        if let Some(rec) = consumer
            .next_timeout(Some(Duration::from_millis(500)))
            .unwrap()
        {
            values.push(
                String::from_utf8_lossy(rec.value.as_deref().unwrap_or_default()).into_owned(),
            );
        }
    }
    assert_eq!(values, ["0-7", "0-8", "0-9"]);
    drop(consumer);

    let unknown = common::unique_name("admin-reset-none");
    let e = admin
        .reset_consumer_group_offsets(&group, Some(&[unknown.as_str()]), ResetTo::Earliest)
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION), "{e}");
    admin.delete_consumer_groups(&[&group]).unwrap();
    admin.delete_topics(&[&topic], None).unwrap();
}

#[test]
fn offsets_of_a_group_with_members_are_not_altered() {
    let admin = admin();
    let (topic, _) = topic_with_records(&admin);
    let group = common::unique_name("admin-reset-live");
    let tp0 = TopicPartition::new(&topic, 0);
    let before = BTreeMap::from([(tp0.clone(), OffsetAndMetadata::new(2))]);
    admin
        .alter_consumer_group_offsets(&group, &before)
        .unwrap()
        .remove(&tp0)
        .unwrap()
        .unwrap();

    let mut consumer = kafka_sync::Consumer::builder()
        .bootstrap_servers(common::bootstrap())
        .group_id(&group)
        .enable_auto_commit(false)
        .build()
        .unwrap();
    consumer.subscribe([topic.as_str()]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while consumer.assignment().len() < 2 {
        assert!(Instant::now() < deadline, "no assignment");
        consumer.poll(Duration::from_millis(200)).unwrap();
    }

    // The reset names the group's state; the raw alter gets the coordinator's answer.
    let e = admin
        .reset_consumer_group_offsets(&group, None, ResetTo::Earliest)
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::NON_EMPTY_GROUP), "{e}");
    assert!(e.to_string().contains("member"), "{e}");
    let to_zero = BTreeMap::from([(tp0.clone(), OffsetAndMetadata::new(0))]);
    let results = admin
        .alter_consumer_group_offsets(&group, &to_zero)
        .unwrap();
    assert_eq!(
        results[&tp0].as_ref().unwrap_err().code(),
        Some(ErrorCode::UNKNOWN_MEMBER_ID),
        "{results:?}"
    );
    assert_eq!(committed(&admin, &group)[&tp0], 2);

    // Once the member left, the same reset works.
    consumer.close(Duration::from_secs(10));
    common::retry(
        "reset after the member left",
        Duration::from_secs(30),
        Duration::from_millis(300),
        || {
            admin
                .reset_consumer_group_offsets(&group, None, ResetTo::Earliest)
                .map_err(|e| e.to_string())
        },
    );
    assert_eq!(committed(&admin, &group)[&tp0], 0);
    admin.delete_topics(&[&topic], None).unwrap();
}
