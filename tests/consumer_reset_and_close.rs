//! The consumer's kafka-python parity calls against the real broker: the blog's
//! `--reset` (seek_to_beginning then commit), commit_async with explicit offsets and a
//! callback, close(autocommit=False), and subscribe without a group id.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::topics::{create_topic, produce_values};
use common::*;
use kafka_sync::{
    Consumer, ConsumerBuilder, Error, OffsetAndMetadata, OffsetReset, TopicPartition,
};

/// Produces `per_partition` records to each of the topic's `partitions`.
fn produce(topic: &str, partitions: i32, per_partition: usize) {
    for partition in 0..partitions {
        produce_values(topic, partition, per_partition, |i| i.to_string());
    }
}

fn consumer(group: &str) -> ConsumerBuilder<bytes::Bytes, bytes::Bytes> {
    Consumer::builder()
        .bootstrap_servers(bootstrap())
        .group_id(group)
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .session_timeout(Duration::from_secs(10))
        .heartbeat_interval(Duration::from_secs(1))
        .consumer_timeout(Duration::from_secs(3))
}

fn join(c: &mut Consumer, topic: &str) {
    c.subscribe([topic]).unwrap();
    wait_for("an assignment", Duration::from_secs(30), || {
        c.poll(Duration::from_millis(200)).unwrap();
        (!c.assignment().is_empty()).then_some(())
    });
}

fn committed(group: &str, tp: &TopicPartition) -> Option<i64> {
    let mut c = consumer(group).build().unwrap();
    c.committed(tp).unwrap().map(|o| o.offset)
}

/// The blog's consumer with `--reset`: join, seek_to_beginning, commit, exit. The next
/// run reads everything again.
#[test]
fn seek_to_beginning_then_commit_commits_the_beginning() {
    let topic = unique_name("reset-flow");
    let group = unique_name("reset-flow-group");
    create_topic(&topic, 2);
    produce(&topic, 2, 10);
    let tps = [
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    ];

    let mut first = consumer(&group).build().unwrap();
    first.subscribe([topic.as_str()]).unwrap();
    assert_eq!(
        first.iter().collect::<Result<Vec<_>, _>>().unwrap().len(),
        20
    );
    first.commit().unwrap();
    first.close(Duration::from_secs(10));
    for tp in &tps {
        assert_eq!(committed(&group, tp), Some(10));
    }

    // --reset
    let mut reset = consumer(&group).build().unwrap();
    join(&mut reset, &topic);
    reset.seek_to_beginning(&[]).unwrap();
    reset.commit().unwrap();
    reset.close(Duration::from_secs(10));
    for tp in &tps {
        assert_eq!(committed(&group, tp), Some(0), "{tp}");
    }

    // The next run reads it all again; seek_to_end then commit skips it all.
    let mut again = consumer(&group).build().unwrap();
    again.subscribe([topic.as_str()]).unwrap();
    assert_eq!(
        again.iter().collect::<Result<Vec<_>, _>>().unwrap().len(),
        20
    );
    again.seek_to_beginning(&[]).unwrap();
    again.seek_to_end(&[tps[1].clone()]).unwrap();
    again.commit().unwrap();
    assert_eq!(committed(&group, &tps[0]), Some(0));
    assert_eq!(committed(&group, &tps[1]), Some(10));
}

#[test]
fn commit_async_with_offsets_calls_back_on_the_polling_thread() {
    let topic = unique_name("commit-async-offsets");
    let group = unique_name("commit-async-offsets-group");
    create_topic(&topic, 1);
    produce(&topic, 1, 10);
    let tp = TopicPartition::new(&topic, 0);
    let mut c = consumer(&group).build().unwrap();
    join(&mut c, &topic);

    type Seen = Vec<(BTreeMap<TopicPartition, OffsetAndMetadata>, bool, String)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let polling_thread = format!("{:?}", std::thread::current().id());
    for offset in [3, 7] {
        let seen = seen.clone();
        let offsets = BTreeMap::from([(tp.clone(), OffsetAndMetadata::new(offset))]);
        c.commit_async_offsets(offsets, move |offsets, result| {
            let thread = format!("{:?}", std::thread::current().id());
            seen.lock().unwrap().push((offsets, result.is_ok(), thread));
        })
        .unwrap();
    }
    // A sync commit runs the callbacks of the async commits sent before it.
    c.commit_offsets(BTreeMap::from([(tp.clone(), OffsetAndMetadata::new(8))]))
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for ((offsets, ok, thread), want) in seen.iter().zip([3, 7]) {
        assert!(ok);
        assert_eq!(offsets[&tp].offset, want);
        assert_eq!(thread, &polling_thread);
    }
    assert_eq!(c.committed(&tp).unwrap().map(|o| o.offset), Some(8));
}

/// The callback runs inside the poll that is waiting when the commit completes, not
/// only in a later call.
#[test]
fn an_async_commit_calls_back_inside_a_waiting_poll() {
    let topic = unique_name("commit-async-in-poll");
    let group = unique_name("commit-async-in-poll-group");
    create_topic(&topic, 1);
    produce(&topic, 1, 3);
    let mut c = consumer(&group).build().unwrap();
    c.subscribe([topic.as_str()]).unwrap();
    assert_eq!(c.iter().collect::<Result<Vec<_>, _>>().unwrap().len(), 3);

    let called_at: Arc<Mutex<Option<std::time::Instant>>> = Arc::default();
    let slot = called_at.clone();
    c.commit_async(move |r| {
        r.unwrap();
        *slot.lock().unwrap() = Some(std::time::Instant::now());
    })
    .unwrap();
    // Nothing more to read: the poll waits its whole 3 s.
    assert!(c.poll(Duration::from_secs(3)).unwrap().is_empty());
    let returned = std::time::Instant::now();
    let called = *called_at.lock().unwrap();
    let called = called.expect("the callback ran in the poll");
    assert!(
        returned - called > Duration::from_secs(1),
        "the callback ran only as the poll ended"
    );
    assert_eq!(
        c.committed(&TopicPartition::new(&topic, 0))
            .unwrap()
            .map(|o| o.offset),
        Some(3)
    );
}

#[test]
fn close_without_autocommit_commits_nothing() {
    let topic = unique_name("close-autocommit");
    create_topic(&topic, 1);
    produce(&topic, 1, 10);
    let tp = TopicPartition::new(&topic, 0);
    let auto = |group: &str| {
        consumer(group)
            .enable_auto_commit(true)
            .auto_commit_interval(Duration::from_secs(600))
            .build()
            .unwrap()
    };

    let skipped = unique_name("close-no-commit");
    let mut c = auto(&skipped);
    c.subscribe([topic.as_str()]).unwrap();
    assert_eq!(c.iter().collect::<Result<Vec<_>, _>>().unwrap().len(), 10);
    c.close_with_autocommit(Duration::from_secs(10), false);
    assert_eq!(committed(&skipped, &tp), None);

    let kept = unique_name("close-commit");
    let mut c = auto(&kept);
    c.subscribe([topic.as_str()]).unwrap();
    assert_eq!(c.iter().collect::<Result<Vec<_>, _>>().unwrap().len(), 10);
    c.close_with_autocommit(Duration::from_secs(10), true);
    assert_eq!(committed(&kept, &tp), Some(10));
}

#[test]
fn subscribe_without_a_group_id_names_assign() {
    let mut c = Consumer::builder()
        .bootstrap_servers(bootstrap())
        .build()
        .unwrap();
    let err = c.subscribe(["some-topic"]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::GroupIdRequired {
                operation: "subscribe",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("assign()"), "{err}");
    let err = c.subscribe_pattern("some-.*").unwrap_err();
    assert!(matches!(err, Error::GroupIdRequired { .. }), "{err:?}");
    let err = c.commit().unwrap_err();
    assert!(
        matches!(
            err,
            Error::GroupIdRequired {
                operation: "commit",
                ..
            }
        ),
        "{err:?}"
    );
}
