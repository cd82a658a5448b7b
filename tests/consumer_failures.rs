//! Group members that fail, against the real broker (`tests/run` starts it): a consumer
//! process dying under `kill -9` in a three-member group (its partitions move to the
//! survivors within the session timeout, and no committed record is skipped), a member
//! that stops polling for longer than `max_poll_interval`, and a static member
//! (`group_instance_id`) restarting without a rebalance.
//!
//! Each member is a separate process running this test binary again: with
//! `KAFKA_SYNC_TEST_MEMBER=<topic>,<group>` set, the `group_member_process` test becomes a
//! group member that commits synchronously after every batch and prints what it read;
//! without it, that test returns at once.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_sync::admin::AdminClient;
use kafka_sync::{Consumer, OffsetReset, Producer, ProducerRecord, TopicPartition};

const MEMBER_ENV: &str = "KAFKA_SYNC_TEST_MEMBER";
const PARTITIONS: i32 = 6;
const SESSION_TIMEOUT: Duration = Duration::from_secs(6);
/// Allowed beyond the session timeout for the rebalance itself on a busy machine.
const REBALANCE_SLACK: Duration = Duration::from_secs(20);

/// The member process (see the module docs).
#[test]
fn group_member_process() {
    let Ok(spec) = std::env::var(MEMBER_ENV) else {
        return;
    };
    let (topic, group) = spec.split_once(',').expect("topic,group");
    let mut c = Consumer::builder()
        .bootstrap_servers(common::bootstrap())
        .group_id(group)
        .enable_auto_commit(false)
        .auto_offset_reset(OffsetReset::Earliest)
        .session_timeout(SESSION_TIMEOUT)
        .heartbeat_interval(Duration::from_millis(500))
        .build()
        .expect("consumer");
    c.subscribe([topic]).expect("subscribe");
    let mut out = std::io::stdout().lock();
    // The test harness has printed "test group_member_process ... " without a newline.
    writeln!(out).unwrap();
    let mut last = BTreeSet::new();
    loop {
        let batch = c.poll(Duration::from_millis(100)).expect("poll");
        for m in batch.values().flatten() {
            writeln!(out, "read {} {}", m.partition, m.offset).unwrap();
        }
        if !batch.is_empty() {
            // Processed, then committed: what is committed was read (at-least-once).
            c.commit().expect("commit");
        }
        let now: BTreeSet<i32> = c.assignment().iter().map(|tp| tp.partition).collect();
        if now != last {
            writeln!(out, "assigned {now:?}").unwrap();
            last = now;
        }
        out.flush().unwrap();
        // Slow enough that the stream is still flowing when a member is killed.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A member process; killed when dropped.
struct MemberProcess {
    child: Child,
    reads: Arc<Mutex<Vec<(i32, i64)>>>,
    /// Every assignment it reported, in order.
    assignments: Arc<Mutex<Vec<String>>>,
}

impl MemberProcess {
    fn spawn(topic: &str, group: &str) -> MemberProcess {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "group_member_process",
                "--exact",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(MEMBER_ENV, format!("{topic},{group}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("member process");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let reads = Arc::new(Mutex::new(Vec::new()));
        let assignments = Arc::new(Mutex::new(Vec::new()));
        let (sink, seen) = (reads.clone(), assignments.clone());
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(|l| l.ok()) {
                if let Some(a) = line.strip_prefix("assigned ") {
                    seen.lock().unwrap().push(a.to_string());
                }
                let f: Vec<&str> = line.split_whitespace().collect();
                if let ["read", p, o] = f[..] {
                    if let (Ok(p), Ok(o)) = (p.parse(), o.parse()) {
                        sink.lock().unwrap().push((p, o));
                    }
                }
            }
        });
        MemberProcess {
            child,
            reads,
            assignments,
        }
    }

    fn reads(&self) -> Vec<(i32, i64)> {
        self.reads.lock().unwrap().clone()
    }

    fn assignments(&self) -> Vec<String> {
        self.assignments.lock().unwrap().clone()
    }
}

impl Drop for MemberProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Each member's partitions, once the group is stable with `members` members that
/// together own every partition exactly once.
fn stable_split(admin: &AdminClient, group: &str, members: usize) -> Option<Vec<BTreeSet<i32>>> {
    stable_split_of(admin, group, members, PARTITIONS)
}

fn stable_split_of(
    admin: &AdminClient,
    group: &str,
    members: usize,
    partitions: i32,
) -> Option<Vec<BTreeSet<i32>>> {
    let d = admin
        .describe_consumer_groups(&[group])
        .ok()?
        .remove(group)?
        .ok()?;
    let owned: Vec<BTreeSet<i32>> = d
        .members
        .iter()
        .map(|m| m.assignment.iter().map(|tp| tp.partition).collect())
        .collect();
    let union: BTreeSet<i32> = owned.iter().flatten().copied().collect();
    let total: usize = owned.iter().map(BTreeSet::len).sum();
    (d.state == "Stable"
        && owned.len() == members
        && total == partitions as usize
        && union.len() == partitions as usize)
        .then_some(owned)
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_killed_member_process_loses_its_partitions_and_no_committed_record_is_skipped() {
    if std::env::var(MEMBER_ENV).is_ok() {
        return; // inside a member process
    }
    let bootstrap = common::bootstrap();
    let topic = common::unique_name("kill-member");
    common::kafka_python_create_topic(&bootstrap, &topic, PARTITIONS, 1);
    let group = common::unique_name("kill-member");
    let admin = AdminClient::builder()
        .bootstrap_servers(&bootstrap)
        .build()
        .expect("admin");

    let mut members: Vec<MemberProcess> = (0..3)
        .map(|_| MemberProcess::spawn(&topic, &group))
        .collect();
    wait_for(
        "three members sharing six partitions",
        Duration::from_secs(120),
        || stable_split(&admin, &group, 3).filter(|o| o.iter().all(|p| p.len() == 2)),
    );

    // Keep producing while a member dies: 3,000 records over about six seconds.
    let producer = Producer::builder()
        .bootstrap_servers(&bootstrap)
        .build()
        .expect("producer");
    let feeder = {
        let topic = topic.clone();
        std::thread::spawn(move || {
            let mut acked = BTreeSet::new();
            let mut futures = Vec::new();
            for i in 0..3000 {
                let rec = ProducerRecord::new(topic.as_str())
                    .partition(i % PARTITIONS)
                    .value(format!("record {i}"));
                futures.push(producer.send(rec).expect("send"));
                if i % 100 == 99 {
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
            for f in futures {
                let m = f.wait().expect("delivered");
                acked.insert((m.partition, m.offset));
            }
            acked
        })
    };

    // Kill the first member once it is consuming.
    wait_for(
        "the victim to read records",
        Duration::from_secs(60),
        || (!members[0].reads().is_empty()).then_some(()),
    );
    let mut victim = members.remove(0);
    victim.child.kill().expect("kill -9");
    let killed = Instant::now();
    let _ = victim.child.wait();

    let after = wait_for(
        "the survivors to own every partition",
        SESSION_TIMEOUT + REBALANCE_SLACK,
        || stable_split(&admin, &group, 2),
    );
    let moved_in = killed.elapsed();
    assert!(after.iter().all(|p| p.len() == 3), "uneven: {after:?}");
    eprintln!("partitions moved {moved_in:?} after the kill (session timeout {SESSION_TIMEOUT:?})");

    let produced = feeder.join().expect("producer thread");
    // Every acknowledged record was read by someone: the survivors resumed each moved
    // partition at the victim's last commit, not after it.
    let read = wait_for("every record to be read", Duration::from_secs(60), || {
        let mut all: BTreeSet<(i32, i64)> = victim.reads().into_iter().collect();
        for m in &members {
            all.extend(m.reads());
        }
        produced.is_subset(&all).then_some(all)
    });
    assert_eq!(read.len(), produced.len(), "read records nobody produced");

    // And the group's committed offsets reach the end of every partition (last + 1).
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(topic.as_str(), p))
        .collect();
    let mut ends: BTreeMap<i32, i64> = BTreeMap::new();
    for (p, o) in &produced {
        let e = ends.entry(*p).or_insert(0);
        *e = (*e).max(o + 1);
    }
    wait_for(
        "commits to reach the end offsets",
        Duration::from_secs(60),
        || {
            let committed = admin.list_consumer_group_offsets(&group, Some(&tps)).ok()?;
            let at: BTreeMap<i32, i64> = committed
                .iter()
                .map(|(tp, om)| (tp.partition, om.offset))
                .collect();
            (at == ends).then_some(())
        },
    );
}

fn admin() -> AdminClient {
    AdminClient::builder()
        .bootstrap_servers(common::bootstrap())
        .build()
        .expect("admin")
}

fn two_partition_topic(prefix: &str) -> (String, String) {
    let topic = common::unique_name(prefix);
    common::kafka_python_create_topic(&common::bootstrap(), &topic, 2, 1);
    (topic, common::unique_name(prefix))
}

fn group_consumer(group: &str) -> kafka_sync::ConsumerBuilder<bytes::Bytes, bytes::Bytes> {
    Consumer::builder()
        .bootstrap_servers(common::bootstrap())
        .group_id(group)
        .auto_offset_reset(OffsetReset::Earliest)
        .session_timeout(SESSION_TIMEOUT)
        .heartbeat_interval(Duration::from_millis(500))
}

#[test]
fn a_member_that_stops_polling_leaves_the_group_and_its_next_poll_says_so() {
    if std::env::var(MEMBER_ENV).is_ok() {
        return;
    }
    let (topic, group) = two_partition_topic("poll-interval");
    let admin = admin();
    let mut slow = group_consumer(&group)
        .max_poll_interval(Duration::from_secs(3))
        .build()
        .expect("consumer");
    slow.subscribe([topic.as_str()]).expect("subscribe");
    let other = MemberProcess::spawn(&topic, &group);
    wait_for(
        "two members, a partition each",
        Duration::from_secs(120),
        || {
            let _ = slow.poll(Duration::from_millis(100));
            stable_split_of(&admin, &group, 2, 2).filter(|_| slow.assignment().len() == 1)
        },
    );

    // No poll for longer than max_poll_interval: the I/O thread leaves the group, and the
    // other member takes both partitions while this thread is still away.
    wait_for(
        "the other member to own both partitions",
        Duration::from_secs(60),
        || stable_split_of(&admin, &group, 1, 2),
    );
    let err = slow
        .poll(Duration::from_secs(1))
        .expect_err("the first poll after the expiry reports it");
    assert!(err.to_string().contains("max_poll_interval"), "{err}");
    assert!(slow.assignment().is_empty(), "{:?}", slow.assignment());

    // Polling again rejoins, and the partitions are shared once more.
    wait_for(
        "the slow member to rejoin",
        Duration::from_secs(120),
        || {
            let _ = slow.poll(Duration::from_millis(100));
            stable_split_of(&admin, &group, 2, 2).filter(|_| slow.assignment().len() == 1)
        },
    );
    drop(other);
}

#[test]
fn a_static_member_restarting_within_the_session_timeout_causes_no_rebalance() {
    if std::env::var(MEMBER_ENV).is_ok() {
        return;
    }
    let (topic, group) = two_partition_topic("static");
    let admin = admin();
    let start_static = || {
        let mut c = group_consumer(&group)
            .session_timeout(Duration::from_secs(30))
            .group_instance_id("static-a")
            .build()
            .expect("consumer");
        c.subscribe([topic.as_str()]).expect("subscribe");
        c
    };
    let mut first = start_static();
    let other = MemberProcess::spawn(&topic, &group);
    let before = wait_for(
        "two members, a partition each",
        Duration::from_secs(120),
        || {
            let _ = first.poll(Duration::from_millis(100));
            stable_split_of(&admin, &group, 2, 2)
                .filter(|_| first.assignment().len() == 1 && !other.assignments().is_empty())
                .map(|_| first.assignment())
        },
    );
    let described = admin
        .describe_consumer_groups(&[group.as_str()])
        .expect("describe")
        .remove(&group)
        .expect("group")
        .expect("description");
    assert!(
        described
            .members
            .iter()
            .any(|m| m.group_instance_id.as_deref() == Some("static-a")),
        "{described:?}"
    );
    let other_seen = other.assignments();

    // A static member sends no LeaveGroup on close; back within the session timeout with
    // the same instance id, it gets its partitions back and the other member is untouched.
    first.close(Duration::from_secs(10));
    let mut second = start_static();
    let after = wait_for(
        "the static member's partitions back",
        Duration::from_secs(60),
        || {
            let _ = second.poll(Duration::from_millis(100));
            (!second.assignment().is_empty()).then(|| second.assignment())
        },
    );
    assert_eq!(after, before);
    // Give a rebalance, had one started, time to reach the other member.
    for _ in 0..20 {
        let _ = second.poll(Duration::from_millis(100));
    }
    assert_eq!(
        other.assignments(),
        other_seen,
        "the other member was rebalanced"
    );
    assert!(stable_split_of(&admin, &group, 2, 2).is_some());
}
