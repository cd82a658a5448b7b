//! The consumer against the real broker: iteration, groups and commits, the seeds'
//! offset rules, lookups, pause/resume/seek, and offsets shared with kafka-python.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use common::*;
use kafka_sync::{
    Consumer, ConsumerBuilder, Error, OffsetAndMetadata, OffsetReset, Producer, ProducerRecord,
    TopicPartition,
};

fn produce_numbered(bootstrap: &str, topic: &str, range: std::ops::Range<usize>) {
    let p = Producer::builder()
        .bootstrap_servers(bootstrap)
        .build()
        .unwrap();
    let futures: Vec<_> = range
        .map(|i| {
            p.send(
                ProducerRecord::new(topic)
                    .key(format!("k{i}"))
                    .value(format!("{i}")),
            )
            .unwrap()
        })
        .collect();
    p.flush().unwrap();
    for f in futures {
        f.wait().unwrap();
    }
}

fn consumer(bootstrap: &str) -> ConsumerBuilder<bytes::Bytes, bytes::Bytes> {
    Consumer::builder()
        .bootstrap_servers(bootstrap)
        .consumer_timeout(Duration::from_secs(3))
        .session_timeout(Duration::from_secs(10))
        .heartbeat_interval(Duration::from_secs(1))
}

fn values(c: &mut Consumer) -> Vec<usize> {
    c.iter()
        .map(|r| {
            String::from_utf8(r.unwrap().value.unwrap().to_vec())
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}

/// Polls until the group has given this consumer its partitions.
fn wait_for_assignment(c: &mut Consumer) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.assignment().is_empty() {
        assert!(Instant::now() < deadline, "no assignment within 30 s");
        assert!(c.poll(Duration::from_millis(200)).unwrap().is_empty());
    }
}

fn topic_with(bootstrap: &str, prefix: &str, partitions: i32, records: usize) -> String {
    let topic = unique_name(prefix);
    kafka_python_create_topic(bootstrap, &topic, partitions, 1);
    produce_numbered(bootstrap, &topic, 0..records);
    topic
}

#[test]
fn group_consumer_reads_everything_then_times_out() {
    let bootstrap = bootstrap();
    let topic = topic_with(&bootstrap, "iterate", 3, 300);
    let mut c = consumer(&bootstrap)
        .group_id(unique_name("g"))
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    c.subscribe([topic.as_str()]).unwrap();
    let started = Instant::now();
    let mut got = values(&mut c);
    got.sort_unstable();
    assert_eq!(got, (0..300).collect::<Vec<_>>());
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "consumer_timeout ends iteration"
    );
    assert_eq!(c.assignment().len(), 3);
}

/// The blog's experiments: commit then restart resumes at last+1; never committing
/// rereads everything; reset to earliest rereads from the start.
#[test]
fn commit_restart_resumes_at_last_plus_one() {
    let bootstrap = bootstrap();
    let topic = topic_with(&bootstrap, "resume", 1, 10);
    let group = unique_name("resume-g");
    let tp = TopicPartition::new(topic.as_str(), 0);
    {
        let mut c = consumer(&bootstrap)
            .group_id(&group)
            .auto_offset_reset(OffsetReset::Earliest)
            .enable_auto_commit(false)
            .build()
            .unwrap();
        c.subscribe([topic.as_str()]).unwrap();
        let mut seen = Vec::new();
        while seen.len() < 5 {
            let r = c
                .next_timeout(Some(Duration::from_secs(10)))
                .unwrap()
                .expect("a record");
            seen.push(r.offset);
        }
        c.commit().unwrap();
        // Committed offset = last consumed + 1.
        assert_eq!(
            c.committed(&tp).unwrap().map(|o| o.offset),
            Some(seen[4] + 1)
        );
        c.close(Duration::from_secs(5));
    }
    let mut c = consumer(&bootstrap)
        .group_id(&group)
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    c.subscribe([topic.as_str()]).unwrap();
    assert_eq!(values(&mut c), (5..10).collect::<Vec<_>>());
}

#[test]
fn never_committing_rereads_everything() {
    let bootstrap = bootstrap();
    let topic = topic_with(&bootstrap, "nocommit", 1, 20);
    let group = unique_name("nocommit-g");
    for _ in 0..2 {
        let mut c = consumer(&bootstrap)
            .group_id(&group)
            .auto_offset_reset(OffsetReset::Earliest)
            .enable_auto_commit(false)
            .build()
            .unwrap();
        c.subscribe([topic.as_str()]).unwrap();
        assert_eq!(values(&mut c), (0..20).collect::<Vec<_>>());
        c.close(Duration::from_secs(5));
    }
}

/// pykafka's three examples, in order, on a group with no committed offsets.
#[test]
fn pykafka_offset_rules() {
    let bootstrap = bootstrap();
    let topic = topic_with(&bootstrap, "pykafka", 1, 10);
    let group = unique_name("pykafka-g");
    let tp = TopicPartition::new(topic.as_str(), 0);
    // 1. New group, LATEST: starts from the latest offset; consume; commit.
    let mut c1 = consumer(&bootstrap)
        .group_id(&group)
        .auto_offset_reset(OffsetReset::Latest)
        .enable_auto_commit(false)
        .build()
        .unwrap();
    c1.subscribe([topic.as_str()]).unwrap();
    wait_for_assignment(&mut c1);
    assert_eq!(c1.position(&tp).unwrap(), 10);
    produce_numbered(&bootstrap, &topic, 10..13);
    assert_eq!(values(&mut c1), vec![10, 11, 12]);
    c1.commit().unwrap();
    c1.close(Duration::from_secs(5));
    // 2. Same group, defaults: starts from the last committed offset.
    produce_numbered(&bootstrap, &topic, 13..15);
    let mut c2 = consumer(&bootstrap)
        .group_id(&group)
        .enable_auto_commit(false)
        .build()
        .unwrap();
    c2.subscribe([topic.as_str()]).unwrap();
    assert_eq!(values(&mut c2), vec![13, 14]);
    c2.close(Duration::from_secs(5));
    // 3. EARLIEST with reset_offset_on_start: from the earliest, despite the commit.
    let mut c3 = consumer(&bootstrap)
        .group_id(&group)
        .auto_offset_reset(OffsetReset::Earliest)
        .reset_offset_on_start(true)
        .enable_auto_commit(false)
        .build()
        .unwrap();
    c3.subscribe([topic.as_str()]).unwrap();
    assert_eq!(values(&mut c3), (0..15).collect::<Vec<_>>());
}

#[test]
fn offset_reset_none_without_committed_offset_is_an_error() {
    let bootstrap = bootstrap();
    let topic = topic_with(&bootstrap, "reset-none", 1, 3);
    let mut c = consumer(&bootstrap)
        .group_id(unique_name("g"))
        .auto_offset_reset(OffsetReset::None)
        .build()
        .unwrap();
    c.subscribe([topic.as_str()]).unwrap();
    let err = c.iter().next().expect("an error, not the end").unwrap_err();
    assert!(matches!(err, Error::NoOffset { .. }), "{err}");
}

#[test]
fn offsets_committed_by_us_are_seen_by_kafka_python_and_back() {
    let bootstrap = bootstrap();
    let topic = topic_with(&bootstrap, "xcommit", 2, 10);
    let group = unique_name("xcommit-g");
    let tp0 = TopicPartition::new(topic.as_str(), 0);
    let mut c = consumer(&bootstrap).group_id(&group).build().unwrap();
    c.assign([tp0.clone()]).unwrap();
    let mut offsets = BTreeMap::new();
    offsets.insert(tp0.clone(), OffsetAndMetadata::new(3).with_metadata("ours"));
    c.commit_offsets(offsets).unwrap();
    let script = format!(
        "import sys\nfrom kafka import KafkaConsumer, TopicPartition\nfrom kafka.structs import OffsetAndMetadata\n\
         c = KafkaConsumer(bootstrap_servers='{bootstrap}', group_id='{group}', enable_auto_commit=False)\n\
         tp0 = TopicPartition('{topic}', 0); tp1 = TopicPartition('{topic}', 1)\n\
         print(c.committed(tp0))\n\
         c.assign([tp1])\n\
         c.commit({{tp1: OffsetAndMetadata(7, 'theirs', -1)}})\n\
         c.close()\n"
    );
    let out = python(&script, &[]);
    assert_eq!(out.trim(), "3");
    let tp1 = TopicPartition::new(topic.as_str(), 1);
    let om = c.committed(&tp1).unwrap().expect("kafka-python's commit");
    assert_eq!((om.offset, om.metadata.as_str()), (7, "theirs"));
}

#[test]
fn manual_assignment_lookups_seek_pause_and_resume() {
    let bootstrap = bootstrap();
    let topic = topic_with(&bootstrap, "manual", 1, 100);
    let tp = TopicPartition::new(topic.as_str(), 0);
    let mut c = consumer(&bootstrap)
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    assert_eq!(
        c.partitions_for_topic(&topic).unwrap().map(|s| s.len()),
        Some(1)
    );
    assert!(c.topics().unwrap().contains(&topic));
    c.assign([tp.clone()]).unwrap();
    assert_eq!(
        c.beginning_offsets(std::slice::from_ref(&tp)).unwrap()[&tp],
        0
    );
    assert_eq!(c.end_offsets(std::slice::from_ref(&tp)).unwrap()[&tp], 100);
    // Mixing assign and subscribe is an error.
    assert!(matches!(
        c.subscribe([topic.as_str()]),
        Err(Error::IllegalState(_))
    ));
    // Read 10, seek back, read again.
    let first: Vec<i64> = (0..10)
        .map(|_| {
            c.next_timeout(Some(Duration::from_secs(10)))
                .unwrap()
                .unwrap()
                .offset
        })
        .collect();
    assert_eq!(first, (0..10).collect::<Vec<_>>());
    assert_eq!(c.position(&tp).unwrap(), 10);
    c.seek(&tp, 50).unwrap();
    assert_eq!(
        c.next_timeout(Some(Duration::from_secs(10)))
            .unwrap()
            .unwrap()
            .offset,
        50
    );
    assert_eq!(c.highwater(&tp), Some(100));
    // Paused: nothing comes; resumed: it continues where it was.
    c.pause(std::slice::from_ref(&tp)).unwrap();
    assert_eq!(c.paused().len(), 1);
    assert!(c
        .next_timeout(Some(Duration::from_millis(800)))
        .unwrap()
        .is_none());
    c.resume(std::slice::from_ref(&tp)).unwrap();
    assert_eq!(
        c.next_timeout(Some(Duration::from_secs(10)))
            .unwrap()
            .unwrap()
            .offset,
        51
    );
    c.seek_to_end(std::slice::from_ref(&tp)).unwrap();
    assert_eq!(c.position(&tp).unwrap(), 100);
    c.seek_to_beginning(&[]).unwrap();
    assert_eq!(c.position(&tp).unwrap(), 0);
    // offsets_for_times: every record has a timestamp at or after 0.
    let found = c
        .offsets_for_times(&HashMap::from([(tp.clone(), 0)]))
        .unwrap();
    assert_eq!(found[&tp].map(|(o, _)| o), Some(0));
    let future = c
        .offsets_for_times(&HashMap::from([(tp.clone(), i64::MAX / 2)]))
        .unwrap();
    assert_eq!(future[&tp], None);
}

#[test]
fn poll_returns_records_grouped_by_partition() {
    let bootstrap = bootstrap();
    let topic = topic_with(&bootstrap, "poll", 3, 90);
    let mut c = consumer(&bootstrap)
        .group_id(unique_name("g"))
        .auto_offset_reset(OffsetReset::Earliest)
        .max_poll_records(40)
        .build()
        .unwrap();
    c.subscribe([topic.as_str()]).unwrap();
    let mut total = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while total < 90 && Instant::now() < deadline {
        let batch = c.poll(Duration::from_secs(1)).unwrap();
        let n: usize = batch.values().map(Vec::len).sum();
        assert!(n <= 40);
        for (tp, records) in &batch {
            assert!(records
                .iter()
                .all(|r| r.partition == tp.partition && *r.topic == *tp.topic));
            assert!(records.windows(2).all(|w| w[0].offset + 1 == w[1].offset));
        }
        total += n;
    }
    assert_eq!(total, 90);
}

#[test]
fn wakeup_interrupts_a_blocked_poll() {
    let bootstrap = bootstrap();
    let topic = topic_with(&bootstrap, "wakeup", 1, 0);
    let mut c = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(unique_name("g"))
        .build()
        .unwrap();
    c.subscribe([topic.as_str()]).unwrap();
    let waker = c.wakeup_handle();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        waker.wakeup();
    });
    let started = Instant::now();
    let err = c.iter().next().expect("woken, not ended").unwrap_err();
    assert!(matches!(err, Error::Wakeup), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    t.join().unwrap();
}

#[test]
fn reads_what_kafka_python_wrote_with_every_codec() {
    let bootstrap = bootstrap();
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let topic = unique_name(&format!("from-python-{codec}"));
        kafka_python_create_topic(&bootstrap, &topic, 1, 1);
        let recs: Vec<Rec> = (0..50)
            .map(|i| {
                Rec::new()
                    .key(format!("k{i}"))
                    .value(format!("{i}"))
                    .header("h", "x")
            })
            .collect();
        kafka_python_produce(&bootstrap, &topic, &recs, Some(codec));
        let mut c = consumer(&bootstrap)
            .auto_offset_reset(OffsetReset::Earliest)
            .build()
            .unwrap();
        c.assign([TopicPartition::new(topic.as_str(), 0)]).unwrap();
        let got: Vec<_> = c.iter().map(|r| r.unwrap()).collect();
        assert_eq!(got.len(), 50, "{codec}");
        for (i, r) in got.iter().enumerate() {
            assert_eq!(
                r.key.as_deref(),
                Some(format!("k{i}").as_bytes()),
                "{codec}"
            );
            assert_eq!(
                r.value.as_deref(),
                Some(format!("{i}").as_bytes()),
                "{codec}"
            );
            assert_eq!(r.headers.len(), 1);
        }
    }
}

/// read_committed skips what kafka-python's transactional producer aborted.
#[test]
fn read_committed_skips_aborted_transactions() {
    let bootstrap = bootstrap();
    let topic = unique_name("txn");
    kafka_python_create_topic(&bootstrap, &topic, 1, 1);
    let script = format!(
        "from kafka import KafkaProducer\n\
         p = KafkaProducer(bootstrap_servers='{bootstrap}', transactional_id='{topic}-tx')\n\
         p.init_transactions()\n\
         p.begin_transaction()\n\
         for i in range(5): p.send('{topic}', b'committed-%d' % i)\n\
         p.commit_transaction()\n\
         p.begin_transaction()\n\
         for i in range(5): p.send('{topic}', b'aborted-%d' % i)\n\
         p.flush()\n\
         p.abort_transaction()\n\
         p.begin_transaction()\n\
         for i in range(5, 8): p.send('{topic}', b'committed-%d' % i)\n\
         p.commit_transaction()\n\
         p.close()\n"
    );
    python(&script, &[]);
    let read = |level: kafka_sync::IsolationLevel| -> Vec<String> {
        let mut c = consumer(&bootstrap)
            .auto_offset_reset(OffsetReset::Earliest)
            .isolation_level(level)
            .build()
            .unwrap();
        c.assign([TopicPartition::new(topic.as_str(), 0)]).unwrap();
        c.iter()
            .map(|r| String::from_utf8(r.unwrap().value.unwrap().to_vec()).unwrap())
            .collect()
    };
    let committed = read(kafka_sync::IsolationLevel::ReadCommitted);
    assert_eq!(
        committed,
        (0..8).map(|i| format!("committed-{i}")).collect::<Vec<_>>()
    );
    let uncommitted = read(kafka_sync::IsolationLevel::ReadUncommitted);
    assert_eq!(
        uncommitted.len(),
        13,
        "aborted records are visible to read_uncommitted"
    );
}
