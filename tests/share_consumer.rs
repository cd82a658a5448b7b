//! Share groups (KIP-932) against the real broker: records shared among kafka-sync and
//! Java share consumers, each accepted once; release, reject and lock-expiry
//! redelivery; and the admin calls for share groups.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::*;
use kafka_sync::admin::{
    AdminClient, AlterConfigOp, ConfigResource, ConfigResourceType, CreateTopicsOptions, NewTopic,
};
use kafka_sync::share_consumer::{
    AcknowledgeType, AcknowledgementMode, AcknowledgementResult, ShareConsumer, ShareRecord,
};
use kafka_sync::{Error, Producer, ProducerRecord};

/// The shortest acquisition lock Kafka allows (`group.share.min.record.lock.duration.ms`).
const LOCK: Duration = Duration::from_secs(15);

fn admin() -> AdminClient {
    AdminClient::builder()
        .bootstrap_servers(bootstrap())
        .build()
        .unwrap()
}

/// A 1-partition topic, and a share group reading it from the start with `group_configs`.
fn topic_and_group(prefix: &str, group_configs: &[(&str, &str)]) -> (String, String) {
    let topic = unique_name(prefix);
    let group = unique_name(&format!("{prefix}-group"));
    let admin = admin();
    let created = admin
        .create_topics(
            &[NewTopic::new(&topic, 1, 1)],
            CreateTopicsOptions::default(),
        )
        .unwrap();
    created[&topic].clone().unwrap();
    let mut ops = vec![AlterConfigOp::set("share.auto.offset.reset", "earliest")];
    ops.extend(
        group_configs
            .iter()
            .map(|(k, v)| AlterConfigOp::set(*k, *v)),
    );
    let changes = BTreeMap::from([(ConfigResource::new(ConfigResourceType::Group, &group), ops)]);
    for (_, result) in admin.incremental_alter_configs(&changes, false).unwrap() {
        result.unwrap();
    }
    (topic, group)
}

fn produce(topic: &str, values: std::ops::Range<usize>) {
    let p = Producer::builder()
        .bootstrap_servers(bootstrap())
        .build()
        .unwrap();
    let futures: Vec<_> = values
        .map(|i| {
            p.send(ProducerRecord::new(topic).value(format!("{i}")))
                .unwrap()
        })
        .collect();
    p.flush().unwrap();
    for f in futures {
        f.wait().unwrap();
    }
}

fn share_consumer(group: &str, mode: AcknowledgementMode) -> ShareConsumer {
    ShareConsumer::builder()
        .bootstrap_servers(bootstrap())
        .group_id(group)
        .acknowledgement_mode(mode)
        .build()
        .unwrap()
}

/// Results the commit callback heard, with the thread it ran on.
type Heard = std::sync::Arc<std::sync::Mutex<Vec<(std::thread::ThreadId, AcknowledgementResult)>>>;

/// An explicit-mode member of `group` on `topic`, whose commit callback records what it
/// hears.
fn explicit_with_callback(topic: &str, group: &str) -> (ShareConsumer, Heard) {
    let heard = Heard::default();
    let sink = heard.clone();
    let mut c = ShareConsumer::builder()
        .bootstrap_servers(bootstrap())
        .group_id(group)
        .acknowledgement_mode(AcknowledgementMode::Explicit)
        .acknowledgement_commit_callback(move |r| {
            sink.lock()
                .unwrap()
                .push((std::thread::current().id(), r.clone()))
        })
        .build()
        .unwrap();
    c.subscribe([topic]).unwrap();
    (c, heard)
}

fn value(r: &ShareRecord) -> usize {
    std::str::from_utf8(r.value.as_ref().unwrap())
        .unwrap()
        .parse()
        .unwrap()
}

/// Polls until `n` records came or `timeout` passed, acknowledging each with `ack`.
fn poll_n(
    c: &mut ShareConsumer,
    n: usize,
    timeout: Duration,
    mut ack: impl FnMut(&mut ShareConsumer, &ShareRecord),
) -> Vec<ShareRecord> {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    while got.len() < n && Instant::now() < deadline {
        for r in c.poll(Duration::from_millis(500)).unwrap() {
            ack(c, &r);
            got.push(r);
        }
    }
    got
}

#[test]
fn implicit_mode_accepts_each_record_once() {
    let (topic, group) = topic_and_group("share-implicit", &[]);
    produce(&topic, 0..50);
    let mut c = share_consumer(&group, AcknowledgementMode::Implicit);
    c.subscribe([&topic]).unwrap();
    let got = poll_n(&mut c, 50, Duration::from_secs(60), |_, _| {});
    let values: BTreeSet<usize> = got.iter().map(value).collect();
    assert_eq!(values, (0..50).collect(), "every record, once");
    assert!(got.iter().all(|r| r.delivery_count == 1));
    // Acknowledging a record of an earlier poll is a misuse.
    let results = c.commit_sync(Duration::from_secs(10)).unwrap();
    assert!(results.values().all(|r| r.is_ok()), "{results:?}");
    let err = c.acknowledge(&got[0], AcknowledgeType::Accept).unwrap_err();
    assert!(matches!(err, Error::IllegalState(_)), "{err}");
    // Nothing comes back: all were accepted.
    assert!(poll_n(&mut c, 1, Duration::from_secs(3), |_, _| {}).is_empty());
    c.close(Duration::from_secs(10));
}

#[test]
fn released_records_come_back_and_rejected_ones_never() {
    let (topic, group) = topic_and_group("share-release", &[]);
    produce(&topic, 0..20);
    let (mut c, results) = explicit_with_callback(&topic, &group);
    // Even values released, odd rejected.
    let first = poll_n(&mut c, 20, Duration::from_secs(60), |c, r| {
        let kind = if value(r).is_multiple_of(2) {
            AcknowledgeType::Release
        } else {
            AcknowledgeType::Reject
        };
        c.acknowledge(r, kind).unwrap();
        let twice = c.acknowledge(r, AcknowledgeType::Accept).unwrap_err();
        assert!(matches!(twice, Error::IllegalState(_)), "{twice}");
    });
    assert_eq!(first.len(), 20);
    let committed = c.commit_sync(Duration::from_secs(10)).unwrap();
    assert!(committed.values().all(|r| r.is_ok()), "{committed:?}");
    // The released ones come back, second delivery; the rejected never.
    let again = poll_n(&mut c, 10, Duration::from_secs(30), |c, r| {
        c.acknowledge(r, AcknowledgeType::Accept).unwrap();
    });
    let mut values: Vec<usize> = again.iter().map(value).collect();
    values.sort();
    assert_eq!(values, (0..20).step_by(2).collect::<Vec<_>>());
    assert!(again.iter().all(|r| r.delivery_count == 2), "{again:?}");
    c.commit_sync(Duration::from_secs(10)).unwrap();
    assert!(poll_n(&mut c, 1, Duration::from_secs(3), |_, _| {}).is_empty());
    // The callback heard every acknowledgement, on this thread.
    let heard: usize = results
        .lock()
        .unwrap()
        .iter()
        .map(|(thread, r)| {
            assert_eq!(*thread, std::thread::current().id());
            r.offsets.len()
        })
        .sum();
    assert_eq!(heard, 30);
    c.close(Duration::from_secs(10));
}

#[test]
fn explicit_mode_needs_every_record_acknowledged_before_polling_again() {
    let (topic, group) = topic_and_group("share-explicit", &[]);
    produce(&topic, 0..5);
    let mut c = share_consumer(&group, AcknowledgementMode::Explicit);
    c.subscribe([&topic]).unwrap();
    let got = poll_n(&mut c, 1, Duration::from_secs(60), |_, _| {});
    assert!(!got.is_empty());
    let err = c.poll(Duration::from_millis(100)).unwrap_err();
    assert!(matches!(err, Error::IllegalState(_)), "{err}");
    c.close(Duration::from_secs(10));
}

const MEMBER_ENV: &str = "KAFKA_SYNC_SHARE_MEMBER";

/// The member process of [`records_held_by_a_killed_consumer_are_redelivered`]: polls
/// in explicit mode, prints "held OFFSET VALUE" for each record it got, acknowledges
/// nothing, and waits to be killed.
#[test]
fn share_member_process() {
    let Ok(spec) = std::env::var(MEMBER_ENV) else {
        return; // an ordinary test run: nothing to do
    };
    let (topic, group) = spec.split_once(',').expect("topic,group");
    let mut c = ShareConsumer::builder()
        .bootstrap_servers(bootstrap())
        .group_id(group)
        .acknowledgement_mode(AcknowledgementMode::Explicit)
        .max_poll_records(10)
        .build()
        .expect("share consumer");
    c.subscribe([topic]).expect("subscribe");
    println!();
    loop {
        let records = c.poll(Duration::from_millis(500)).expect("poll");
        if !records.is_empty() {
            for r in &records {
                println!("held {} {}", r.offset, value(r));
            }
            println!("holding");
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

#[test]
fn records_held_by_a_killed_consumer_are_redelivered() {
    let lock_ms = LOCK.as_millis().to_string();
    let (topic, group) = topic_and_group(
        "share-killed",
        &[("share.record.lock.duration.ms", &lock_ms)],
    );
    produce(&topic, 0..30);
    let mut cmd = std::process::Command::new(std::env::current_exe().expect("test binary"));
    cmd.args([
        "share_member_process",
        "--exact",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env(MEMBER_ENV, format!("{topic},{group}"));
    let mut member = Background::spawn(cmd);
    wait_for(
        "the member process to hold records",
        Duration::from_secs(60),
        || member.lines().iter().any(|l| l == "holding").then_some(()),
    );
    let held: BTreeSet<usize> = member
        .lines()
        .iter()
        .filter_map(|l| l.strip_prefix("held ")?.split(' ').nth(1)?.parse().ok())
        .collect();
    assert!(!held.is_empty());
    member.kill(); // SIGKILL: no acknowledgement, no session close, no leave
    let mut c = share_consumer(&group, AcknowledgementMode::Implicit);
    c.subscribe([&topic]).unwrap();
    let got = poll_n(&mut c, 30, LOCK * 4, |_, _| {});
    let values: BTreeSet<usize> = got.iter().map(value).collect();
    assert_eq!(
        values,
        (0..30).collect(),
        "every record reaches the survivor"
    );
    for r in &got {
        let expected = if held.contains(&value(r)) {
            2
        } else {
            r.delivery_count
        };
        assert_eq!(
            r.delivery_count,
            expected,
            "record {} (held: {held:?})",
            value(r)
        );
    }
    c.close(Duration::from_secs(10));
}

/// Java's console share consumer (a `KafkaShareConsumer`, implicit acknowledgement) in
/// `group`, printing each value; it exits after 10 s without a record.
fn java_share_consumer(topic: &str, group: &str) -> Background {
    let mut cmd = std::process::Command::new(repo_root().join("tests/kafka/broker"));
    cmd.args([
        "tool",
        "org.apache.kafka.tools.consumer.ConsoleShareConsumer",
    ])
    .args([
        "--bootstrap-server",
        &bootstrap(),
        "--topic",
        topic,
        "--group",
        group,
    ])
    .args(["--timeout-ms", "10000"]);
    Background::spawn(cmd)
}

#[test]
fn kafka_sync_and_java_share_consumers_accept_each_record_once() {
    const N: usize = 400;
    let (topic, group) = topic_and_group("share-mixed", &[]);
    let mut java = java_share_consumer(&topic, &group);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let members: Vec<_> = (0..3)
        .map(|_| {
            let (group, topic, stop) = (group.clone(), topic.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut c = ShareConsumer::builder()
                    .bootstrap_servers(bootstrap())
                    .group_id(&group)
                    .max_poll_records(5)
                    .build()
                    .unwrap();
                c.subscribe([&topic]).unwrap();
                let mut got = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    for r in c.poll(Duration::from_millis(200)).unwrap() {
                        got.push(value(&r));
                        // Slow work, so the records spread over the members.
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                c.close(Duration::from_secs(10));
                got
            })
        })
        .collect();
    // Every member has joined before the records flow.
    let admin = admin();
    wait_for(
        "4 members in the share group",
        Duration::from_secs(90),
        || {
            let described = admin.describe_share_groups(&[&group]).ok()?;
            let members = described[&group].as_ref().ok()?.members.len();
            (members == 4).then_some(())
        },
    );
    // Waves of small batches while every member is polling.
    for wave in 0..40 {
        produce(&topic, wave * (N / 40)..(wave + 1) * (N / 40));
        std::thread::sleep(Duration::from_millis(150));
    }
    let java_values = |java: &Background| -> Vec<usize> {
        java.lines()
            .iter()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    };
    // Until the Java member has gone quiet and exited: its acknowledgements are final.
    wait_for(
        "the Java share consumer to finish",
        Duration::from_secs(120),
        || java.has_exited().then_some(()),
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let ours: Vec<Vec<usize>> = members.into_iter().map(|m| m.join().unwrap()).collect();
    let theirs = java_values(&java);
    let counts: Vec<usize> = ours.iter().map(Vec::len).collect();
    eprintln!(
        "records per kafka-sync member: {counts:?}; Java member: {}",
        theirs.len()
    );
    let mut all: Vec<usize> = ours
        .iter()
        .flatten()
        .copied()
        .chain(theirs.iter().copied())
        .collect();
    all.sort();
    assert_eq!(
        all,
        (0..N).collect::<Vec<_>>(),
        "each record exactly once across the members"
    );
    assert!(
        !theirs.is_empty(),
        "the Java member got none: {}",
        java.stderr_tail()
    );
    assert!(
        ours.iter().any(|v| !v.is_empty()),
        "the kafka-sync members got none"
    );
    // Nothing is left to deliver: every record was accepted.
    let mut late = share_consumer(&group, AcknowledgementMode::Implicit);
    late.subscribe([&topic]).unwrap();
    assert!(poll_n(&mut late, 1, Duration::from_secs(3), |_, _| {}).is_empty());
    late.close(Duration::from_secs(5));
}

#[test]
fn share_group_admin_lists_describes_and_resets_offsets() {
    let (topic, group) = topic_and_group("share-admin", &[]);
    produce(&topic, 0..10);
    let admin = admin();
    let mut c = share_consumer(&group, AcknowledgementMode::Implicit);
    c.subscribe([&topic]).unwrap();
    assert_eq!(
        poll_n(&mut c, 10, Duration::from_secs(60), |_, _| {}).len(),
        10
    );
    c.commit_sync(Duration::from_secs(10)).unwrap();

    let listed = admin.list_share_groups().unwrap();
    let listing = listed.iter().find(|g| g.group_id == group).expect("listed");
    assert_eq!(listing.group_type.as_deref(), Some("share"));
    let described = admin.describe_share_groups(&[&group]).unwrap()[&group]
        .clone()
        .unwrap();
    assert_eq!(described.state, "Stable");
    assert_eq!(described.members.len(), 1);
    let member = &described.members[0];
    assert_eq!(member.subscribed_topics, std::slice::from_ref(&topic));
    assert_eq!(
        member.assignment,
        [kafka_sync::TopicPartition::new(&topic, 0)]
    );
    // A group that does not exist has an error of its own.
    let missing = unique_name("no-such-share-group");
    assert!(admin.describe_share_groups(&[&missing]).unwrap()[&missing].is_err());

    // Altering needs an empty group.
    let tp = kafka_sync::TopicPartition::new(&topic, 0);
    let to_five = BTreeMap::from([(tp.clone(), 5)]);
    let busy = admin.alter_share_group_offsets(&group, &to_five);
    let code = busy.err().and_then(|e| e.code());
    assert_eq!(code, Some(kafka_sync::ErrorCode::NON_EMPTY_GROUP));
    c.close(Duration::from_secs(10));

    // Every record was accepted: nothing is left for the group.
    let offsets = admin.list_share_group_offsets(&group).unwrap();
    assert_eq!(offsets[&tp].clone().unwrap().lag, Some(0), "{offsets:?}");
    for (_, r) in admin.alter_share_group_offsets(&group, &to_five).unwrap() {
        r.unwrap();
    }
    let offset = admin.list_share_group_offsets(&group).unwrap()[&tp]
        .clone()
        .unwrap();
    assert_eq!(offset.start_offset, Some(5));
    // From offset 5 again: the last five records, delivered anew.
    let mut again = share_consumer(&group, AcknowledgementMode::Implicit);
    again.subscribe([&topic]).unwrap();
    let values: BTreeSet<usize> = poll_n(&mut again, 5, Duration::from_secs(60), |_, _| {})
        .iter()
        .map(value)
        .collect();
    assert_eq!(values, (5..10).collect());
    again.close(Duration::from_secs(10));

    let deleted = admin.delete_share_group_offsets(&group, &[&topic]).unwrap();
    deleted[&topic].clone().unwrap();
    let after = admin.list_share_group_offsets(&group).unwrap();
    assert!(
        after
            .get(&tp)
            .is_none_or(|r| r.as_ref().is_ok_and(|o| o.start_offset.is_none())),
        "{after:?}"
    );
}

#[test]
fn acknowledgements_after_the_lock_expired_are_not_sent() {
    let lock_ms = LOCK.as_millis().to_string();
    let (topic, group) = topic_and_group(
        "share-expired",
        &[("share.record.lock.duration.ms", &lock_ms)],
    );
    produce(&topic, 0..5);
    let (mut c, results) = explicit_with_callback(&topic, &group);
    let got = poll_n(&mut c, 5, Duration::from_secs(60), |_, _| {});
    assert_eq!(got.len(), 5);
    // Too slow: the broker takes the records back.
    std::thread::sleep(LOCK + Duration::from_secs(1));
    for r in &got {
        c.acknowledge(r, AcknowledgeType::Accept).unwrap();
    }
    let committed = c.commit_sync(Duration::from_secs(10)).unwrap();
    let tp = kafka_sync::TopicPartition::new(&topic, 0);
    match &committed[&tp] {
        Err(Error::AcquisitionLockExpired { offsets, lock, .. }) => {
            assert_eq!(offsets.len(), 5);
            assert_eq!(*lock, LOCK);
        }
        other => panic!("expected AcquisitionLockExpired, got {other:?}"),
    }
    let heard = results.lock().unwrap().clone();
    assert!(heard
        .iter()
        .any(|(_, r)| matches!(r.result, Err(Error::AcquisitionLockExpired { .. }))));
    // Not accepted: they come back, second delivery.
    let again = poll_n(&mut c, 5, Duration::from_secs(30), |c, r| {
        c.acknowledge(r, AcknowledgeType::Accept).unwrap();
    });
    assert_eq!(
        again.iter().map(value).collect::<BTreeSet<_>>(),
        (0..5).collect()
    );
    assert!(again.iter().all(|r| r.delivery_count == 2));
    c.close(Duration::from_secs(10));
}

/// Fetches bring more records than one poll hands out, so several polls' acknowledgements
/// of one partition wait for the same share session and leave in one request.
#[test]
fn acknowledgements_queued_by_many_polls_all_count() {
    const N: usize = 20_000;
    let (topic, group) = topic_and_group("share-many-polls", &[]);
    produce(&topic, 0..N);
    let mut c = ShareConsumer::builder()
        .bootstrap_servers(bootstrap())
        .group_id(&group)
        .max_poll_records(300)
        .build()
        .unwrap();
    c.subscribe([&topic]).unwrap();
    // Well within the 30 s lock: a lost acknowledgement would hold the share partition's
    // window until its lock expires, and the record would come back a second time.
    let got = poll_n(&mut c, N, Duration::from_secs(25), |_, _| {});
    let mut values: Vec<usize> = got.iter().map(value).collect();
    values.sort();
    assert_eq!(
        values.len(),
        N,
        "got {} of {N} records within 25 s",
        values.len()
    );
    assert_eq!(values, (0..N).collect::<Vec<_>>());
    assert!(got.iter().all(|r| r.delivery_count == 1));
    c.close(Duration::from_secs(10));
}

#[test]
fn iterating_reads_each_record_once_and_ends_after_the_consumer_timeout() {
    const N: usize = 30;
    let (topic, group) = topic_and_group("share-iter", &[]);
    produce(&topic, 0..N);
    // Long enough for the member to join and be assigned before the first record.
    let idle = Duration::from_secs(10);
    let mut c = ShareConsumer::builder()
        .bootstrap_servers(bootstrap())
        .group_id(&group)
        .max_poll_records(7)
        .consumer_timeout(idle)
        .build()
        .unwrap();
    c.subscribe([&topic]).unwrap();
    // On a thread of its own, so a loop that never ends fails the test instead of
    // hanging it.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut records = Vec::new();
        for record in &mut c {
            records.push(record.unwrap());
        }
        let _ = done.send((c, records));
    });
    let (mut c, records) = finished
        .recv_timeout(Duration::from_secs(60))
        .expect("the iteration to end once consumer_timeout passed without a record");
    assert!(records.iter().all(|r| r.delivery_count == 1), "{records:?}");
    let mut values: Vec<usize> = records.iter().map(value).collect();
    values.sort();
    assert_eq!(values, (0..N).collect::<Vec<_>>(), "each record once");
    // The iteration's polls accepted every record: none comes back to this member.
    let results = c.commit_sync(Duration::from_secs(10)).unwrap();
    assert!(results.values().all(|r| r.is_ok()), "{results:?}");
    assert!(poll_n(&mut c, 1, Duration::from_secs(3), |_, _| {}).is_empty());
    c.close(Duration::from_secs(10));
}

#[test]
fn commit_async_sends_the_acknowledgements_and_a_later_commit_async_reports_them() {
    const N: usize = 10;
    let (topic, group) = topic_and_group("share-commit-async", &[]);
    produce(&topic, 0..N);
    let (mut c, heard) = explicit_with_callback(&topic, &group);
    let got = poll_n(&mut c, N, Duration::from_secs(60), |c, r| {
        c.acknowledge(r, AcknowledgeType::Accept).unwrap();
    });
    assert_eq!(got.len(), N);
    // No poll from here on: only commit_async sends the last poll's acknowledgements,
    // and the callback hears their results inside a later commit_async.
    c.commit_async().unwrap();
    let offsets = |heard: &Heard| -> Vec<i64> {
        let mut all: Vec<i64> = heard
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, r)| r.offsets.clone())
            .collect();
        all.sort();
        all
    };
    let expected: Vec<i64> = got.iter().map(|r| r.offset).collect();
    wait_for(
        "the commit callback to hear every acknowledgement",
        Duration::from_secs(15),
        || {
            c.commit_async().unwrap();
            (offsets(&heard) == expected).then_some(())
        },
    );
    for (thread, r) in heard.lock().unwrap().iter() {
        assert_eq!(*thread, std::thread::current().id(), "{r:?}");
        assert!(r.result.is_ok(), "{r:?}");
        assert_eq!(r.partition, kafka_sync::TopicPartition::new(&topic, 0));
    }
    // Accepted: nothing comes back.
    assert!(poll_n(&mut c, 1, Duration::from_secs(3), |_, _| {}).is_empty());
    c.close(Duration::from_secs(10));
}
