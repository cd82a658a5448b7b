//! Our consumer in one classic group with other clients (`tests/run` starts the broker):
//! kafka-python members under range and roundrobin, and Java console consumers from the
//! Kafka tools under range and cooperative-sticky.
//!
//! Once the group is stable, its own description (DescribeGroups, read with our
//! AdminClient) must name the negotiated protocol and show every partition owned by
//! exactly one member; our consumer's `assignment()` must be its member's; and every
//! record produced afterwards must reach exactly one member, the one owning its
//! partition. Under range and roundrobin the split must also be exactly the one those
//! assignors compute, whichever member led the group.
//!
//! The other members are child processes printing a line per record they read; they are
//! killed by PID when the test ends, also when it fails.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use common::Background;
use kafka_sync::admin::AdminClient;
use kafka_sync::{
    AssignmentStrategy, Consumer, OffsetReset, Producer, ProducerRecord, TopicPartition,
};

/// Generous: JVMs and the Python interpreter start slowly on a busy 2-core machine.
const SETTLE: Duration = Duration::from_secs(120);
/// Short, so a member that is gone leaves the group quickly.
const SESSION_TIMEOUT_MS: u64 = 10_000;

/// Where a record is: topic, partition, offset.
type At = (String, i32, i64);

/// Each member's partitions, by member id.
type Split = BTreeMap<String, BTreeSet<TopicPartition>>;

/// Creates the topics (name prefix, partition count); returns their names and counts.
fn topics(prefix: &str, counts: &[i32]) -> Vec<(String, i32)> {
    counts
        .iter()
        .zip('a'..)
        .map(|(&n, suffix)| {
            let name = common::unique_name(&format!("{prefix}-{suffix}"));
            common::kafka_python_create_topic(&common::bootstrap(), &name, n, 1);
            (name, n)
        })
        .collect()
}

fn all_partitions(topics: &[(String, i32)]) -> BTreeSet<TopicPartition> {
    topics
        .iter()
        .flat_map(|(t, n)| (0..*n).map(move |p| TopicPartition::new(t.as_str(), p)))
        .collect()
}

fn names(topics: &[(String, i32)]) -> Vec<&str> {
    topics.iter().map(|(t, _)| t.as_str()).collect()
}

/// Our member: polls on its own thread, as an application would.
struct Ours {
    assignment: Arc<Mutex<BTreeSet<TopicPartition>>>,
    read: Arc<Mutex<Vec<At>>>,
    errors: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ours {
    fn start(group: &str, topics: &[&str], strategy: AssignmentStrategy) -> Ours {
        let mut consumer = Consumer::builder()
            .bootstrap_servers(common::bootstrap())
            .group_id(group)
            .partition_assignment_strategy(&[strategy])
            .auto_offset_reset(OffsetReset::Earliest)
            .session_timeout(Duration::from_millis(SESSION_TIMEOUT_MS))
            .heartbeat_interval(Duration::from_millis(500))
            .build()
            .expect("consumer");
        consumer
            .subscribe(topics.iter().copied())
            .expect("subscribe");
        let assignment = Arc::new(Mutex::new(BTreeSet::new()));
        let read = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, r, e, s) = (
            assignment.clone(),
            read.clone(),
            errors.clone(),
            stop.clone(),
        );
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match consumer.poll(Duration::from_millis(100)) {
                    Ok(batch) => r.lock().unwrap().extend(
                        batch
                            .values()
                            .flatten()
                            .map(|m| (m.topic.to_string(), m.partition, m.offset)),
                    ),
                    Err(err) => e.lock().unwrap().push(err.to_string()),
                }
                *a.lock().unwrap() = consumer.assignment();
            }
            consumer.close(Duration::from_secs(10));
        });
        Ours {
            assignment,
            read,
            errors,
            stop,
            thread: Some(thread),
        }
    }

    fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.assignment.lock().unwrap().clone()
    }

    fn read(&self) -> Vec<At> {
        self.read.lock().unwrap().clone()
    }

    /// Leaves the group (LeaveGroup on close); no poll may have failed.
    fn close(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("member thread");
        }
        let errors = self.errors.lock().unwrap();
        assert!(errors.is_empty(), "our polls failed: {errors:?}");
    }
}

impl Drop for Ours {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A kafka-python member with one assignor, printing "record TOPIC PARTITION OFFSET"
/// for every record it reads.
const PYTHON_MEMBER: &str = r#"
import sys
from kafka import KafkaConsumer
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
bootstrap, topics, group, assignor, session_ms = sys.argv[1:6]
assignor = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}[assignor]
c = KafkaConsumer(*topics.split(","), bootstrap_servers=bootstrap, group_id=group,
                  partition_assignment_strategy=[assignor], auto_offset_reset="earliest",
                  session_timeout_ms=int(session_ms), heartbeat_interval_ms=500,
                  metadata_max_age_ms=1000)  # a new topic's partitions seen within 1 s
while True:
    for tp, msgs in c.poll(timeout_ms=100).items():
        for m in msgs:
            print("record", m.topic, m.partition, m.offset, flush=True)
"#;

/// A peer member and how to read its lines.
struct Peer {
    process: Background,
    /// The Java console consumer prints no topic: the one topic it reads.
    java_topic: Option<String>,
}

impl Peer {
    fn python(topics: &[&str], group: &str, assignor: &str) -> Peer {
        let mut cmd = Command::new(common::python_path());
        cmd.args(["-c", PYTHON_MEMBER, &common::bootstrap()])
            .args([&topics.join(","), group, assignor])
            .arg(SESSION_TIMEOUT_MS.to_string())
            .env("PYTHONUNBUFFERED", "1");
        Peer {
            process: Background::spawn(cmd),
            java_topic: None,
        }
    }

    /// The Java console consumer, in the classic group protocol with one assignor class.
    fn java(topic: &str, group: &str, assignor_class: &str) -> Peer {
        let mut cmd = Command::new(common::repo_root().join("tests/kafka/broker"));
        cmd.args(["tool", "console-consumer"])
            .args(["--bootstrap-server", &common::bootstrap()])
            .args(["--topic", topic, "--group", group, "--from-beginning"])
            .args(["--property", "print.partition=true"])
            .args(["--property", "print.offset=true"]);
        for property in [
            "group.protocol=classic".to_string(),
            format!("partition.assignment.strategy={assignor_class}"),
            format!("session.timeout.ms={SESSION_TIMEOUT_MS}"),
            "heartbeat.interval.ms=500".to_string(),
        ] {
            cmd.args(["--consumer-property", &property]);
        }
        Peer {
            process: Background::spawn(cmd),
            java_topic: Some(topic.to_string()),
        }
    }

    /// What it read: "record T P O" lines (Python), or "Partition:P\tOffset:O\t..."
    /// lines (the Java console consumer).
    fn read(&self) -> Vec<At> {
        let lines = self.process.lines();
        let parse = |l: &str| -> Option<At> {
            if let Some(java_topic) = &self.java_topic {
                let mut fields = l.split('\t');
                let p = fields.next()?.strip_prefix("Partition:")?.parse().ok()?;
                let o = fields.next()?.strip_prefix("Offset:")?.parse().ok()?;
                return Some((java_topic.clone(), p, o));
            }
            match l.split(' ').collect::<Vec<_>>()[..] {
                ["record", t, p, o] => Some((t.to_string(), p.parse().ok()?, o.parse().ok()?)),
                _ => None,
            }
        };
        lines.iter().filter_map(|l| parse(l)).collect()
    }
}

fn admin() -> AdminClient {
    AdminClient::builder()
        .bootstrap_servers(common::bootstrap())
        .build()
        .expect("admin")
}

/// Waits until the group is stable under `protocol` with `members` members, each owning
/// some of `all` and together owning each partition exactly once; returns the split.
fn wait_for_clean_split(
    group: &str,
    members: usize,
    protocol: &str,
    all: &BTreeSet<TopicPartition>,
) -> Split {
    let admin = admin();
    common::retry(
        &format!("{members} members of {group} owning every partition once under {protocol}"),
        SETTLE,
        Duration::from_millis(250),
        || {
            let d = admin
                .describe_consumer_groups(&[group])
                .map_err(|e| e.to_string())?
                .remove(group)
                .ok_or("no description")?
                .map_err(|e| e.to_string())?;
            let split: Split = d
                .members
                .iter()
                .map(|m| (m.member_id.clone(), m.assignment.iter().cloned().collect()))
                .collect();
            let owned: Vec<&TopicPartition> = split.values().flatten().collect();
            let union: BTreeSet<TopicPartition> = owned.iter().copied().cloned().collect();
            let clean = d.state == "Stable"
                && d.protocol == protocol
                && split.len() == members
                && owned.len() == all.len()
                && union == *all
                && split.values().all(|p| !p.is_empty());
            if clean {
                Ok(split)
            } else {
                Err(format!("{} {:?} {split:?}", d.state, d.protocol))
            }
        },
    )
}

/// Waits until our member's own view is one of the described members' and returns it.
fn wait_for_ours_in(ours: &Ours, split: &Split) -> BTreeSet<TopicPartition> {
    common::retry(
        "our assignment() to match the group's description",
        SETTLE,
        Duration::from_millis(100),
        || {
            let mine = ours.assignment();
            if split.values().any(|p| *p == mine) {
                Ok(mine)
            } else {
                Err(format!("ours {mine:?}, described {split:?}"))
            }
        },
    )
}

/// The split range or roundrobin computes for members that all subscribe to `topics`.
/// Every client (Java, kafka-python, ours) sorts dynamic members by member id; range
/// deals each topic's partitions out in contiguous runs, the first members taking one
/// more, and roundrobin deals all partitions, sorted by topic then partition, in turn.
fn expected_split(protocol: &str, members: &Split, topics: &[(String, i32)]) -> Split {
    let ids: Vec<&String> = members.keys().collect(); // sorted: a BTreeMap
    let mut out: Split = ids
        .iter()
        .map(|m| (m.to_string(), BTreeSet::new()))
        .collect();
    match protocol {
        "range" => {
            for (topic, n) in topics {
                let (each, extra) = (*n as usize / ids.len(), *n as usize % ids.len());
                let mut next = 0;
                for (i, id) in ids.iter().enumerate() {
                    let len = each + usize::from(i < extra);
                    let parts = (next..next + len).map(|p| TopicPartition::new(topic, p as i32));
                    out.get_mut(*id).unwrap().extend(parts);
                    next += len;
                }
            }
        }
        "roundrobin" => {
            for (i, tp) in all_partitions(topics).into_iter().enumerate() {
                out.get_mut(ids[i % ids.len()]).unwrap().insert(tp);
            }
        }
        _ => panic!("no fixed split for {protocol}"),
    }
    out
}

/// Sends `per_partition` records to every partition of `topics`; returns where each
/// landed.
fn produce_everywhere(topics: &[(String, i32)], per_partition: usize) -> BTreeSet<At> {
    let producer = Producer::builder()
        .bootstrap_servers(common::bootstrap())
        .build()
        .expect("producer");
    let futures: Vec<_> = all_partitions(topics)
        .into_iter()
        .flat_map(|tp| (0..per_partition).map(move |i| (tp.clone(), i)))
        .map(|(tp, i)| {
            let rec = ProducerRecord::new(tp.topic.as_str())
                .partition(tp.partition)
                .value(format!("{tp}-{i}"));
            producer.send(rec).expect("send")
        })
        .collect();
    futures
        .into_iter()
        .map(|f| {
            let m = f.wait().expect("delivered");
            (m.topic, m.partition, m.offset)
        })
        .collect()
}

/// Every produced record reached exactly one member, and only the member owning its
/// partition in `split`.
fn assert_each_record_read_once(
    produced: &BTreeSet<At>,
    split: &Split,
    ours: &Ours,
    peers: &[&Peer],
) {
    let mine = ours.assignment();
    let owner_of = |(t, p, _): &At| {
        let tp = TopicPartition::new(t.as_str(), *p);
        split.values().position(|parts| parts.contains(&tp))
    };
    let readers: Vec<Vec<At>> = common::retry(
        "every produced record to be read",
        SETTLE,
        Duration::from_millis(200),
        || {
            let mut readers = vec![ours.read()];
            readers.extend(peers.iter().map(|p| p.read()));
            let got: BTreeSet<At> = readers.iter().flatten().cloned().collect();
            match produced.difference(&got).collect::<Vec<_>>() {
                missing if missing.is_empty() => Ok(readers),
                missing => Err(format!("never read: {missing:?}")),
            }
        },
    );
    let mut times_read: BTreeMap<&At, usize> = BTreeMap::new();
    for (member, reads) in readers.iter().enumerate() {
        let owned = match member {
            0 => mine.clone(),
            _ => {
                // A peer owns the described partitions of whichever member read them.
                let first = reads.iter().find(|r| produced.contains(*r));
                let index = first.and_then(owner_of).expect("a peer read something");
                split.values().nth(index).unwrap().clone()
            }
        };
        for r in reads.iter().filter(|r| produced.contains(*r)) {
            *times_read.entry(r).or_default() += 1;
            assert!(
                owned.contains(&TopicPartition::new(r.0.as_str(), r.1)),
                "member {member} read {r:?} outside its partitions {owned:?}"
            );
        }
    }
    let twice: Vec<_> = times_read.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "records read more than once: {twice:?}");
}

fn mixed_with_kafka_python(strategy: AssignmentStrategy, protocol: &str) {
    // Two topics, so range (per topic) and roundrobin (across topics) differ: 5 and 4
    // partitions each, in different places.
    let topics = topics(&format!("mixed-py-{protocol}"), &[6, 3]);
    let all = all_partitions(&topics);
    let group = common::unique_name(&format!("mixed-py-{protocol}"));
    let python = Peer::python(&names(&topics), &group, protocol);
    let ours = Ours::start(&group, &names(&topics), strategy);
    let split = wait_for_clean_split(&group, 2, protocol, &all);
    assert_eq!(split, expected_split(protocol, &split, &topics));
    let mine = wait_for_ours_in(&ours, &split);
    assert!(
        !mine.is_empty() && mine.len() < all.len(),
        "{mine:?} of {split:?}"
    );
    let produced = produce_everywhere(&topics, 5);
    assert_each_record_read_once(&produced, &split, &ours, &[&python]);
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

const JAVA_RANGE: &str = "org.apache.kafka.clients.consumer.RangeAssignor";
const JAVA_COOPERATIVE: &str = "org.apache.kafka.clients.consumer.CooperativeStickyAssignor";

#[test]
fn shares_partitions_with_a_java_consumer_under_range() {
    let topics = topics("mixed-java-range", &[6]);
    let all = all_partitions(&topics);
    let group = common::unique_name("mixed-java-range");
    let java = Peer::java(&topics[0].0, &group, JAVA_RANGE);
    let ours = Ours::start(&group, &names(&topics), AssignmentStrategy::Range);
    let split = wait_for_clean_split(&group, 2, "range", &all);
    assert_eq!(split, expected_split("range", &split, &topics));
    wait_for_ours_in(&ours, &split);
    let produced = produce_everywhere(&topics, 5);
    assert_each_record_read_once(&produced, &split, &ours, &[&java]);
    ours.close();
}

/// Cooperative-sticky with Java members joining and leaving: a Java member and ours
/// split six partitions; a second Java member joins (ours keeps a subset of its
/// partitions: sticky); we leave and the two Java members share everything.
#[test]
fn shares_partitions_with_java_consumers_under_cooperative_sticky() {
    const PROTOCOL: &str = "cooperative-sticky";
    let topics = topics("mixed-java-coop", &[6]);
    let all = all_partitions(&topics);
    let group = common::unique_name("mixed-java-coop");
    let first = Peer::java(&topics[0].0, &group, JAVA_COOPERATIVE);
    let ours = Ours::start(
        &group,
        &names(&topics),
        AssignmentStrategy::CooperativeSticky,
    );
    let split = wait_for_clean_split(&group, 2, PROTOCOL, &all);
    let before = wait_for_ours_in(&ours, &split);
    assert_eq!(before.len(), 3, "an even split of 6 over 2: {split:?}");

    // A member joins.
    let second = Peer::java(&topics[0].0, &group, JAVA_COOPERATIVE);
    let split = wait_for_clean_split(&group, 3, PROTOCOL, &all);
    let mine = wait_for_ours_in(&ours, &split);
    assert!(
        split.values().all(|p| p.len() == 2),
        "uneven split of 6 over 3: {split:?}"
    );
    assert!(
        mine.is_subset(&before),
        "sticky: we kept {mine:?}, not a subset of our {before:?}"
    );
    let produced = produce_everywhere(&topics, 5);
    assert_each_record_read_once(&produced, &split, &ours, &[&first, &second]);

    // We leave: the two Java members take our partitions, still with no overlap or gap.
    ours.close();
    let after = wait_for_clean_split(&group, 2, PROTOCOL, &all);
    assert!(
        after.values().all(|p| p.len() == 3),
        "uneven after we left: {after:?}"
    );
}
