//! What the consumer promises about records and offsets, against the real broker: a
//! record that fails to deserialize loses nothing, auto-commit works while idle,
//! `reset_offset_on_start` acts only at start, lookups create no topics, and commits from
//! inside the iteration loop.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use kafka_sync::admin::AdminClient;
use kafka_sync::{
    Consumer, ConsumerBuilder, Error, OffsetReset, Producer, ProducerRecord, TopicPartition,
};

fn produce_numbered(topic: &str, partition: i32, range: std::ops::Range<usize>) {
    let p = Producer::builder()
        .bootstrap_servers(bootstrap())
        .build()
        .unwrap();
    let futures: Vec<_> = range
        .map(|i| {
            p.send(
                ProducerRecord::new(topic)
                    .partition(partition)
                    .value(format!("{i}")),
            )
            .unwrap()
        })
        .collect();
    for f in futures {
        f.wait().unwrap();
    }
}

fn topic(prefix: &str, partitions: i32) -> String {
    let topic = unique_name(prefix);
    kafka_python_create_topic(&bootstrap(), &topic, partitions, 1);
    topic
}

fn consumer() -> ConsumerBuilder<Bytes, Bytes> {
    Consumer::builder()
        .bootstrap_servers(bootstrap())
        .auto_offset_reset(OffsetReset::Earliest)
        .session_timeout(Duration::from_secs(10))
        .heartbeat_interval(Duration::from_millis(500))
}

fn number(value: &Option<Bytes>) -> usize {
    std::str::from_utf8(value.as_ref().unwrap())
        .unwrap()
        .parse()
        .unwrap()
}

/// Polls until `n` records came (within 30 s).
fn read_count(c: &mut Consumer, n: usize) {
    let mut read = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while read < n {
        assert!(Instant::now() < deadline, "read only {read} of {n}");
        read += c
            .poll(Duration::from_millis(200))
            .unwrap()
            .values()
            .map(Vec::len)
            .sum::<usize>();
    }
}

/// A value deserializer that fails on the record whose value is "5".
fn failing_on_five(_topic: &str, data: &Bytes) -> Result<String, String> {
    match data.as_ref() {
        b"5" => Err("five is not allowed".to_owned()),
        other => Ok(String::from_utf8_lossy(other).into_owned()),
    }
}

#[test]
fn a_record_that_fails_to_deserialize_loses_nothing_and_stops_at_itself() {
    let topic = topic("deser-fail", 1);
    produce_numbered(&topic, 0, 0..10);
    let tp = TopicPartition::new(topic.as_str(), 0);
    let mut c = consumer()
        .value_deserializer(failing_on_five)
        .build()
        .unwrap();
    c.assign([tp.clone()]).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let err = loop {
        assert!(Instant::now() < deadline, "no error within 30 s: {got:?}");
        match c.poll(Duration::from_millis(500)) {
            Ok(records) => {
                for r in records.into_values().flatten() {
                    got.push(r.value.unwrap());
                }
            }
            Err(e) => break e,
        }
    };
    assert_eq!(
        got,
        ["0", "1", "2", "3", "4"],
        "the records before the bad one"
    );
    match &err {
        Error::Record {
            partition, offset, ..
        } => assert_eq!((partition, *offset), (&tp, 5), "{err}"),
        other => panic!("expected Error::Record, got {other}"),
    }
    let cause = std::error::Error::source(&err).expect("the deserializer's error");
    assert!(cause.to_string().contains("five is not allowed"), "{err}");
    assert_eq!(
        c.position(&tp).unwrap(),
        5,
        "the position stays at the bad record"
    );
    // Polling again meets the same record again: skipping it is the user's choice.
    let again = c.poll(Duration::from_secs(5)).unwrap_err();
    assert!(matches!(again, Error::Record { offset: 5, .. }), "{again}");
    c.seek(&tp, 6).unwrap();
    let mut rest = Vec::new();
    while rest.len() < 4 {
        assert!(Instant::now() < deadline, "the rest did not come: {rest:?}");
        for r in c
            .poll(Duration::from_millis(500))
            .unwrap()
            .into_values()
            .flatten()
        {
            rest.push(r.value.unwrap());
        }
    }
    assert_eq!(rest, ["6", "7", "8", "9"]);
}

#[test]
fn auto_commit_commits_while_the_consumer_idles() {
    let topic = topic("idle-commit", 1);
    let group = unique_name("idle-commit-g");
    let tp = TopicPartition::new(topic.as_str(), 0);
    produce_numbered(&topic, 0, 0..7);
    let interval = Duration::from_secs(1);
    let mut c = consumer()
        .group_id(&group)
        .auto_commit_interval(interval)
        .build()
        .unwrap();
    c.subscribe([topic.as_str()]).unwrap();
    read_count(&mut c, 7);
    // Another client of the group (not a member) watches the committed offset while this
    // one keeps polling and finds nothing.
    let mut watcher = consumer().group_id(&group).build().unwrap();
    let idle_since = Instant::now();
    let slack = Duration::from_secs(3);
    loop {
        assert!(c.poll(Duration::from_millis(100)).unwrap().is_empty());
        if let Some(om) = watcher.committed(&tp).unwrap() {
            assert_eq!(om.offset, 7, "last + 1");
            break;
        }
        assert!(
            idle_since.elapsed() < interval + slack,
            "nothing committed {:?} into idle polling (auto_commit_interval {interval:?})",
            idle_since.elapsed()
        );
    }
}

/// pykafka: `reset_offset_on_start` decides where a consumer starts; a later rebalance
/// resumes from the committed offsets.
#[test]
fn reset_offset_on_start_acts_at_start_not_at_every_rebalance() {
    let topic = topic("reset-start", 2);
    let group = unique_name("reset-start-g");
    produce_numbered(&topic, 0, 0..10);
    produce_numbered(&topic, 1, 0..10);
    let mut a = consumer()
        .group_id(&group)
        .reset_offset_on_start(true)
        .enable_auto_commit(false)
        .build()
        .unwrap();
    a.subscribe([topic.as_str()]).unwrap();
    read_count(&mut a, 20);
    a.commit().unwrap();
    // A second member joins; both poll until they share the two partitions.
    let mut b = consumer()
        .group_id(&group)
        .enable_auto_commit(false)
        .build()
        .unwrap();
    b.subscribe([topic.as_str()]).unwrap();
    let poll_both = |a: &mut Consumer, b: &mut Consumer, seen: &mut Vec<(i32, i64, usize)>| {
        for c in [a, b] {
            for r in c
                .poll(Duration::from_millis(100))
                .unwrap()
                .into_values()
                .flatten()
            {
                seen.push((r.partition, r.offset, number(&r.value)));
            }
        }
    };
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while a.assignment().len() != 1 || b.assignment().len() != 1 {
        assert!(
            Instant::now() < deadline,
            "the two members never shared the partitions"
        );
        poll_both(&mut a, &mut b, &mut seen);
    }
    produce_numbered(&topic, 0, 10..11);
    produce_numbered(&topic, 1, 10..11);
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.iter().filter(|s| s.2 == 10).count() < 2 {
        assert!(
            Instant::now() < deadline,
            "the new records did not come: {seen:?}"
        );
        poll_both(&mut a, &mut b, &mut seen);
    }
    let reread: Vec<(i32, i64)> = seen
        .iter()
        .filter(|s| s.2 < 10)
        .map(|s| (s.0, s.1))
        .collect();
    assert!(
        reread.is_empty(),
        "records read again after the rebalance: {reread:?}"
    );
    assert_eq!(seen.len(), 2, "{seen:?}");
}

/// Lookups must not create the topic they look up, even where the broker auto-creates.
#[test]
fn lookups_do_not_create_topics() {
    let missing = unique_name("never-created");
    let mut c = consumer()
        .default_api_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    assert_eq!(c.partitions_for_topic(&missing).unwrap(), None);
    let tp = TopicPartition::new(missing.as_str(), 0);
    assert!(c.end_offsets(std::slice::from_ref(&tp)).is_err());
    assert!(c.beginning_offsets(&[tp]).is_err());
    let admin = AdminClient::builder()
        .bootstrap_servers(bootstrap())
        .build()
        .unwrap();
    let topics: BTreeSet<String> = admin.list_topics().unwrap().into_iter().collect();
    assert!(!topics.contains(&missing), "{missing} was created");
}

/// kafka-python users commit inside their loop; here through a `Committer`.
#[test]
fn commits_from_inside_the_iteration_loop() {
    let topic = topic("commit-in-loop", 2);
    let group = unique_name("commit-in-loop-g");
    produce_numbered(&topic, 0, 0..5);
    produce_numbered(&topic, 1, 0..3);
    let mut c = consumer()
        .group_id(&group)
        .enable_auto_commit(false)
        .consumer_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    c.subscribe([topic.as_str()]).unwrap();
    let committer = c.committer();
    let mut read = 0;
    for msg in &mut c {
        let msg = msg.unwrap();
        read += 1;
        // Commit everything but the last record of partition 0.
        if !(msg.partition == 0 && msg.offset == 4) {
            committer.commit(&msg).unwrap();
        }
    }
    assert_eq!(read, 8);
    let mut watcher = consumer().group_id(&group).build().unwrap();
    let committed = |w: &mut Consumer, p: i32| {
        w.committed(&TopicPartition::new(topic.as_str(), p))
            .unwrap()
            .map(|om| om.offset)
    };
    assert_eq!(committed(&mut watcher, 0), Some(4));
    assert_eq!(committed(&mut watcher, 1), Some(3));
    // A new member of the group resumes after the committed records only.
    c.close(Duration::from_secs(5));
    let mut next = consumer()
        .group_id(&group)
        .enable_auto_commit(false)
        .consumer_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    next.subscribe([topic.as_str()]).unwrap();
    let again: Vec<(i32, i64)> = next
        .iter()
        .map(|m| m.unwrap())
        .map(|m| (m.partition, m.offset))
        .collect();
    assert_eq!(again, [(0, 4)]);
}

/// Subscribing with `allow_auto_create_topics(false)` creates nothing either.
#[test]
fn subscribing_without_auto_create_creates_nothing() {
    let missing = unique_name("not-auto-created");
    let mut c = consumer()
        .group_id(unique_name("no-auto-create-g"))
        .allow_auto_create_topics(false)
        .build()
        .unwrap();
    c.subscribe([missing.as_str()]).unwrap();
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        assert!(c.poll(Duration::from_millis(200)).unwrap().is_empty());
    }
    let admin = AdminClient::builder()
        .bootstrap_servers(bootstrap())
        .build()
        .unwrap();
    assert!(
        !admin.list_topics().unwrap().contains(&missing),
        "{missing} was created"
    );
}
