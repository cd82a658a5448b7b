//! Our consumer in one classic group with other clients (`tests/run` starts the broker):
//! kafka-python members under range and roundrobin, Java console consumers under
//! cooperative-sticky. The group's own description (DescribeGroups, read with our
//! AdminClient) must show every partition owned by exactly one member, and records
//! produced afterwards must each reach exactly one member.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kafka_sync::admin::{AdminClient, GroupDescription};
use kafka_sync::{
    AssignmentStrategy, Consumer, OffsetReset, Producer, ProducerRecord, TopicPartition,
};

const PARTITIONS: i32 = 6;
/// Generous: JVMs and the Python interpreter start slowly on a busy 2-core machine.
const SETTLE: Duration = Duration::from_secs(120);

/// Our member: polls on its own thread, as an application would.
struct Ours {
    assignment: Arc<Mutex<BTreeSet<TopicPartition>>>,
    /// (partition, offset) of every record it read.
    read: Arc<Mutex<Vec<(i32, i64)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ours {
    fn start(group: &str, topic: &str, strategy: AssignmentStrategy) -> Ours {
        let mut consumer = Consumer::builder()
            .bootstrap_servers(common::bootstrap())
            .group_id(group)
            .partition_assignment_strategy(&[strategy])
            .auto_offset_reset(OffsetReset::Earliest)
            .session_timeout(Duration::from_secs(10))
            .heartbeat_interval(Duration::from_millis(500))
            .build()
            .expect("consumer");
        consumer.subscribe([topic]).expect("subscribe");
        let assignment = Arc::new(Mutex::new(BTreeSet::new()));
        let read = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, r, s) = (assignment.clone(), read.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Ok(batch) = consumer.poll(Duration::from_millis(100)) {
                    let mut r = r.lock().unwrap();
                    r.extend(batch.values().flatten().map(|m| (m.partition, m.offset)));
                }
                *a.lock().unwrap() = consumer.assignment();
            }
            consumer.close(Duration::from_secs(10));
        });
        Ours {
            assignment,
            read,
            stop,
            thread: Some(thread),
        }
    }

    fn partitions(&self) -> BTreeSet<i32> {
        self.assignment
            .lock()
            .unwrap()
            .iter()
            .map(|tp| tp.partition)
            .collect()
    }

    /// Leaves the group (LeaveGroup on close).
    fn close(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("member thread");
        }
    }
}

impl Drop for Ours {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Another client's member process, killed when dropped; its stdout lines are collected.
struct Peer {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Peer {
    fn spawn(mut cmd: Command) -> Peer {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("peer member");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(|l| l.ok()) {
                sink.lock().unwrap().push(line);
            }
        });
        Peer { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A kafka-python member with one assignor; prints "record <partition> <offset>" for
/// every record it reads.
const PYTHON_MEMBER: &str = r#"
import sys
from kafka import KafkaConsumer
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
bootstrap, topic, group, assignor = sys.argv[1:5]
assignor = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}[assignor]
c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                  partition_assignment_strategy=[assignor], auto_offset_reset="earliest",
                  session_timeout_ms=10000, heartbeat_interval_ms=500)
while True:
    for tp, msgs in c.poll(timeout_ms=100).items():
        for m in msgs:
            print("record", m.partition, m.offset, flush=True)
"#;

fn python_member(topic: &str, group: &str, assignor: &str) -> Peer {
    let mut cmd = Command::new(common::python_path());
    cmd.args([
        "-c",
        PYTHON_MEMBER,
        &common::bootstrap(),
        topic,
        group,
        assignor,
    ])
    .env("PYTHONUNBUFFERED", "1");
    Peer::spawn(cmd)
}

/// The Java console consumer from the Kafka tools, in the classic group protocol.
fn java_member(topic: &str, group: &str, assignor_class: &str) -> Peer {
    let mut cmd = Command::new(common::repo_root().join("tests/kafka/broker"));
    cmd.args([
        "tool",
        "console-consumer",
        "--bootstrap-server",
        &common::bootstrap(),
    ])
    .args(["--topic", topic, "--group", group, "--from-beginning"])
    .args([
        "--property",
        "print.partition=true",
        "--property",
        "print.offset=true",
    ])
    .args(["--consumer-property", "group.protocol=classic"])
    .args([
        "--consumer-property",
        &format!("partition.assignment.strategy={assignor_class}"),
    ])
    .args(["--consumer-property", "session.timeout.ms=10000"])
    .args(["--consumer-property", "heartbeat.interval.ms=500"]);
    Peer::spawn(cmd)
}

fn admin() -> AdminClient {
    AdminClient::builder()
        .bootstrap_servers(common::bootstrap())
        .build()
        .expect("admin")
}

fn describe(admin: &AdminClient, group: &str) -> Option<GroupDescription> {
    admin
        .describe_consumer_groups(&[group])
        .ok()?
        .remove(group)?
        .ok()
}

/// Waits until the group is stable with `members` members whose assignments cover the
/// topic's partitions exactly once, under `protocol`; returns each member's partitions.
fn wait_for_clean_split(
    group: &str,
    members: usize,
    protocol: &str,
) -> BTreeMap<String, BTreeSet<i32>> {
    let admin = admin();
    let deadline = Instant::now() + SETTLE;
    let mut last = None;
    loop {
        if let Some(d) = describe(&admin, group) {
            let owned: BTreeMap<String, BTreeSet<i32>> = d
                .members
                .iter()
                .map(|m| {
                    let parts = m.assignment.iter().map(|tp| tp.partition).collect();
                    (m.member_id.clone(), parts)
                })
                .collect();
            let count: usize = owned.values().map(BTreeSet::len).sum();
            let union: BTreeSet<i32> = owned.values().flatten().copied().collect();
            let all: BTreeSet<i32> = (0..PARTITIONS).collect();
            if d.state == "Stable"
                && d.protocol == protocol
                && owned.len() == members
                && count == PARTITIONS as usize
                && union == all
                && owned.values().all(|p| !p.is_empty())
            {
                return owned;
            }
            last = Some(format!("{} {} {owned:?}", d.state, d.protocol));
        }
        assert!(
            Instant::now() < deadline,
            "group {group} never split {PARTITIONS} partitions cleanly over {members} members \
             under {protocol}; last seen: {last:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Waits until our member's own view matches one of the described members'.
fn wait_for_ours_in(ours: &Ours, owned: &BTreeMap<String, BTreeSet<i32>>) -> BTreeSet<i32> {
    let deadline = Instant::now() + SETTLE;
    loop {
        let mine = ours.partitions();
        if owned.values().any(|p| *p == mine) {
            return mine;
        }
        assert!(
            Instant::now() < deadline,
            "our assignment {mine:?} is none of the group's {owned:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends `per_partition` records to every partition; returns (partition, offset) of each.
fn produce_everywhere(topic: &str, per_partition: usize) -> BTreeSet<(i32, i64)> {
    let producer = Producer::builder()
        .bootstrap_servers(common::bootstrap())
        .build()
        .expect("producer");
    let futures: Vec<_> = (0..PARTITIONS)
        .flat_map(|p| (0..per_partition).map(move |i| (p, i)))
        .map(|(p, i)| {
            let rec = ProducerRecord::new(topic)
                .partition(p)
                .value(format!("{p}-{i}"));
            producer.send(rec).expect("send")
        })
        .collect();
    futures
        .into_iter()
        .map(|f| {
            let m = f.wait().expect("delivered");
            (m.partition, m.offset)
        })
        .collect()
}

/// `(partition, offset)` pairs a peer printed as "record P O" lines (Python), or
/// "Partition:P\tOffset:O\t..." lines (the Java console consumer).
fn peer_reads(peer: &Peer) -> Vec<(i32, i64)> {
    peer.lines()
        .iter()
        .filter_map(|l| {
            let nums: Vec<i64> = l
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .filter_map(|s| s.parse().ok())
                .collect();
            let is_record = l.starts_with("record") || l.starts_with("Partition:");
            (is_record && nums.len() >= 2).then(|| (nums[0] as i32, nums[1]))
        })
        .collect()
}

/// Every produced record reached exactly one member, and only a member that owned its
/// partition.
fn assert_each_record_read_once(
    produced: &BTreeSet<(i32, i64)>,
    ours: &Ours,
    mine: &BTreeSet<i32>,
    peers: &[&Peer],
) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let our_reads = ours.read.lock().unwrap().clone();
        let mut all: Vec<(i32, i64)> = our_reads.clone();
        for p in peers {
            all.extend(peer_reads(p));
        }
        let got: BTreeSet<(i32, i64)> = all.iter().copied().collect();
        if produced.is_subset(&got) {
            assert_eq!(all.len(), got.len(), "a record was read twice: {all:?}");
            assert!(
                our_reads.iter().all(|(p, _)| mine.contains(p)),
                "we read a partition we did not own ({mine:?}): {our_reads:?}"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "records never read: {:?}",
            produced.difference(&got).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn mixed_with_kafka_python(strategy: AssignmentStrategy, assignor: &str) {
    let topic = common::unique_name(&format!("mixed-py-{assignor}"));
    common::kafka_python_create_topic(&common::bootstrap(), &topic, PARTITIONS, 1);
    let group = common::unique_name("mixed-py");
    let python = python_member(&topic, &group, assignor);
    let ours = Ours::start(&group, &topic, strategy);
    let owned = wait_for_clean_split(&group, 2, assignor);
    let mine = wait_for_ours_in(&ours, &owned);
    assert_eq!(
        mine.len(),
        3,
        "an even split of 6 over 2 members: {owned:?}"
    );
    let produced = produce_everywhere(&topic, 5);
    assert_each_record_read_once(&produced, &ours, &mine, &[&python]);
    ours.close();
}

#[test]
fn shares_partitions_with_kafka_python_under_range() {
    mixed_with_kafka_python(AssignmentStrategy::Range, "range");
}

#[test]
fn shares_partitions_with_kafka_python_under_roundrobin() {
    mixed_with_kafka_python(AssignmentStrategy::RoundRobin, "roundrobin");
}

#[test]
fn shares_partitions_with_java_consumers_under_cooperative_sticky() {
    const COOPERATIVE: &str = "org.apache.kafka.clients.consumer.CooperativeStickyAssignor";
    let topic = common::unique_name("mixed-java");
    common::kafka_python_create_topic(&common::bootstrap(), &topic, PARTITIONS, 1);
    let group = common::unique_name("mixed-java");
    let first = java_member(&topic, &group, COOPERATIVE);
    let second = java_member(&topic, &group, COOPERATIVE);
    let ours = Ours::start(&group, &topic, AssignmentStrategy::CooperativeSticky);
    let owned = wait_for_clean_split(&group, 3, "cooperative-sticky");
    let mine = wait_for_ours_in(&ours, &owned);
    assert_eq!(
        mine.len(),
        2,
        "an even split of 6 over 3 members: {owned:?}"
    );
    let produced = produce_everywhere(&topic, 5);
    assert_each_record_read_once(&produced, &ours, &mine, &[&first, &second]);

    // We leave: the two Java members take our partitions, still with no overlap or gap.
    ours.close();
    let after = wait_for_clean_split(&group, 2, "cooperative-sticky");
    assert!(
        after.values().all(|p| p.len() == 3),
        "uneven after we left: {after:?}"
    );
}
