//! Consumer groups against the real broker (`tests/run` starts it): members share a
//! topic's partitions, rebalance eagerly or cooperatively, take over from a member that
//! closes or is killed (a kafka-python peer under `kill -9`), see each other's commits,
//! and follow the group coordinator when its broker dies (3-node cluster).
//!
//! Each member polls on its own thread, as an application would: rebalance callbacks run
//! inside `poll`, and the group waits for them.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kafka_sync::{
    AssignmentStrategy, Consumer, ConsumerRebalanceListener, OffsetAndMetadata, RebalanceContext,
    TopicPartition,
};

/// What one member's listener saw, in order.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Revoked(Vec<TopicPartition>),
    Assigned(Vec<TopicPartition>),
    Lost(Vec<TopicPartition>),
}

#[derive(Debug, Default)]
struct State {
    assignment: BTreeSet<TopicPartition>,
    seen: Vec<Seen>,
    errors: Vec<String>,
}

struct Recorder(Arc<Mutex<State>>);

impl ConsumerRebalanceListener for Recorder {
    fn on_partitions_revoked(&mut self, _: &mut RebalanceContext<'_>, revoked: &[TopicPartition]) {
        self.0
            .lock()
            .unwrap()
            .seen
            .push(Seen::Revoked(revoked.to_vec()));
    }
    fn on_partitions_assigned(
        &mut self,
        _: &mut RebalanceContext<'_>,
        assigned: &[TopicPartition],
    ) {
        self.0
            .lock()
            .unwrap()
            .seen
            .push(Seen::Assigned(assigned.to_vec()));
    }
    fn on_partitions_lost(&mut self, _: &mut RebalanceContext<'_>, lost: &[TopicPartition]) {
        self.0.lock().unwrap().seen.push(Seen::Lost(lost.to_vec()));
    }
}

/// Work to run on a member's own thread, between polls.
type Job = Box<dyn FnOnce(&mut Consumer) + Send>;

/// A group member polling on its own thread until stopped, then closing.
struct Member {
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    jobs: mpsc::Sender<Job>,
    thread: Option<JoinHandle<()>>,
}

impl Member {
    fn start(group: &str, topic: &str, strategies: &[AssignmentStrategy]) -> Member {
        Member::start_on(&common::bootstrap(), group, topic, strategies)
    }

    fn start_on(
        bootstrap: &str,
        group: &str,
        topic: &str,
        strategies: &[AssignmentStrategy],
    ) -> Member {
        let mut consumer = Consumer::builder()
            .bootstrap_servers(bootstrap)
            .client_id(common::unique_name("group-member"))
            .group_id(group)
            .partition_assignment_strategy(strategies)
            .session_timeout(Duration::from_secs(6))
            .heartbeat_interval(Duration::from_millis(500))
            .enable_auto_commit(false)
            .build()
            .expect("consumer");
        let state = Arc::new(Mutex::new(State::default()));
        consumer
            .subscribe_with_listener([topic], Recorder(state.clone()))
            .expect("subscribe");
        let stop = Arc::new(AtomicBool::new(false));
        let (st, stopping) = (state.clone(), stop.clone());
        let (jobs, queued) = mpsc::channel::<Job>();
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                while let Ok(job) = queued.try_recv() {
                    job(&mut consumer);
                }
                let polled = consumer.poll(Duration::from_millis(100));
                let mut s = st.lock().unwrap();
                if let Err(e) = polled {
                    s.errors.push(e.to_string());
                }
                s.assignment = consumer.assignment();
            }
            consumer.close(Duration::from_secs(10));
        });
        Member {
            state,
            stop,
            jobs,
            thread: Some(thread),
        }
    }

    /// Commits `offsets` from the member's thread and returns the outcome.
    fn commit(
        &self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> kafka_sync::Result<()> {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move |c| {
            let _ = tx.send(c.commit_offsets(offsets));
        });
        self.jobs.send(job).expect("member thread");
        rx.recv_timeout(Duration::from_secs(90))
            .expect("commit outcome")
    }

    fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.state.lock().unwrap().assignment.clone()
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Stops polling and closes the consumer (LeaveGroup).
    fn close(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("member thread");
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Waits until `cond` holds, failing with `what` and the members' histories.
fn wait_until(what: &str, timeout: Duration, members: &[&Member], cond: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        if Instant::now() > deadline {
            let states: Vec<String> = members
                .iter()
                .map(|m| format!("{:?}", m.state.lock().unwrap()))
                .collect();
            panic!("timed out after {timeout:?} waiting for {what}; members: {states:#?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn partitions(topic: &str, n: i32) -> BTreeSet<TopicPartition> {
    (0..n).map(|p| TopicPartition::new(topic, p)).collect()
}

/// Both own two partitions, together all four.
fn split_evenly(a: &Member, b: &Member, all: &BTreeSet<TopicPartition>) -> bool {
    let (x, y) = (a.assignment(), b.assignment());
    x.len() == 2 && y.len() == 2 && x.union(&y).cloned().collect::<BTreeSet<_>>() == *all
}

fn topic_with_four_partitions(prefix: &str) -> String {
    let topic = common::unique_name(prefix);
    common::kafka_python_create_topic(&common::bootstrap(), &topic, 4, 1);
    topic
}

#[test]
fn eager_members_share_partitions_and_take_over_on_close() {
    let topic = topic_with_four_partitions("group-eager");
    let group = common::unique_name("group-eager");
    let all = partitions(&topic, 4);
    let range = [AssignmentStrategy::Range];

    let a = Member::start(&group, &topic, &range);
    wait_until(
        "the first member to own every partition",
        Duration::from_secs(60),
        &[&a],
        || a.assignment() == all,
    );
    let b = Member::start(&group, &topic, &range);
    wait_until(
        "two members to split four partitions",
        Duration::from_secs(60),
        &[&a, &b],
        || split_evenly(&a, &b, &all),
    );
    // Eager: the first member gave everything back before the rebalance.
    assert!(
        a.seen()
            .contains(&Seen::Revoked(all.iter().cloned().collect())),
        "{:?}",
        a.seen()
    );
    b.close();
    wait_until(
        "the remaining member to take every partition back",
        Duration::from_secs(30),
        &[&a],
        || a.assignment() == all,
    );
    assert!(
        !a.seen().iter().any(|s| matches!(s, Seen::Lost(_))),
        "{:?}",
        a.seen()
    );
    assert!(a.state.lock().unwrap().errors.is_empty());
    a.close();
}

#[test]
fn cooperative_members_only_give_up_what_moves() {
    let topic = topic_with_four_partitions("group-coop");
    let group = common::unique_name("group-coop");
    let all = partitions(&topic, 4);
    let coop = [AssignmentStrategy::CooperativeSticky];

    let a = Member::start(&group, &topic, &coop);
    wait_until(
        "the first member to own every partition",
        Duration::from_secs(60),
        &[&a],
        || a.assignment() == all,
    );
    let b = Member::start(&group, &topic, &coop);
    wait_until(
        "two members to split four partitions",
        Duration::from_secs(60),
        &[&a, &b],
        || split_evenly(&a, &b, &all),
    );
    let revoked: Vec<Vec<TopicPartition>> = a
        .seen()
        .into_iter()
        .filter_map(|s| match s {
            Seen::Revoked(r) if !r.is_empty() => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(
        revoked.len(),
        1,
        "one revoke of the moved partitions: {:?}",
        a.seen()
    );
    assert_eq!(revoked[0].len(), 2);
    assert!(revoked[0].iter().all(|tp| b.assignment().contains(tp)));
    a.close();
    wait_until(
        "the remaining member to take every partition",
        Duration::from_secs(30),
        &[&b],
        || b.assignment() == all,
    );
    b.close();
}

#[test]
fn commits_are_seen_by_other_members() {
    let topic = topic_with_four_partitions("group-commit");
    let group = common::unique_name("group-commit");
    let tp = TopicPartition::new(topic.as_str(), 2);
    let mut first = Consumer::builder()
        .bootstrap_servers(common::bootstrap())
        .group_id(&group)
        .enable_auto_commit(false)
        .build()
        .unwrap();
    first.subscribe([topic.as_str()]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while first.assignment().len() < 4 {
        assert!(Instant::now() < deadline, "never assigned");
        first.poll(Duration::from_millis(100)).unwrap();
    }
    let offsets = BTreeMap::from([(tp.clone(), OffsetAndMetadata::new(0).with_metadata("first"))]);
    first.commit_offsets(offsets).unwrap();
    assert_eq!(first.committed(&tp).unwrap().map(|o| o.offset), Some(0));
    first.close(Duration::from_secs(10));

    // Another member of the group, and a consumer with the group id but a manual
    // assignment, both read the commit.
    let mut second = Consumer::builder()
        .bootstrap_servers(common::bootstrap())
        .group_id(&group)
        .build()
        .unwrap();
    second.assign([tp.clone()]).unwrap();
    let committed = second.committed(&tp).unwrap().expect("a committed offset");
    assert_eq!(
        (committed.offset, committed.metadata.as_str()),
        (0, "first")
    );
    assert_eq!(
        second
            .committed(&TopicPartition::new(topic.as_str(), 1))
            .unwrap(),
        None
    );
    second.close(Duration::from_secs(10));
}

/// A kafka-python member of the same group (range assignor), printing its assignment
/// whenever it changes; killed with SIGKILL, it never leaves the group.
const PYTHON_MEMBER: &str = r#"
import sys
from kafka import KafkaConsumer
from kafka.coordinator.assignors.range import RangePartitionAssignor
bootstrap, topic, group = sys.argv[1:4]
# metadata_max_age_ms: a member that joins before the new topic's metadata reaches it
# gets no partitions, and rejoins only once a refresh shows them (5 min by default).
c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, session_timeout_ms=6000,
                  heartbeat_interval_ms=500, enable_auto_commit=False, metadata_max_age_ms=1000,
                  partition_assignment_strategy=[RangePartitionAssignor])
last = None
while True:
    c.poll(200)
    now = sorted(p.partition for p in c.assignment())
    if now != last:
        print("assigned", ",".join(map(str, now)), flush=True)
        last = now
"#;

#[test]
fn takes_over_from_a_killed_kafka_python_member() {
    let topic = topic_with_four_partitions("group-py");
    let group = common::unique_name("group-py");
    let all = partitions(&topic, 4);
    let mut child = Command::new(common::python_path())
        .args(["-c", PYTHON_MEMBER, &common::bootstrap(), &topic, &group])
        .stdout(Stdio::piped())
        .spawn()
        .expect("kafka-python member");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(|l| l.ok()) {
            let _ = lines_tx.send(line);
        }
    });
    let wait_for_line = |want: &str| {
        // kafka-python joins slowly when the machine is busy with the other group tests.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) if line == want => return,
                Ok(_) => {}
                Err(_) => panic!("the kafka-python member never printed {want:?}"),
            }
        }
    };
    wait_for_line("assigned 0,1,2,3");

    let ours = Member::start(
        &group,
        &topic,
        &[AssignmentStrategy::Range, AssignmentStrategy::RoundRobin],
    );
    wait_until(
        "the Rust member to get half",
        Duration::from_secs(60),
        &[&ours],
        || ours.assignment().len() == 2,
    );
    let theirs: BTreeSet<i32> = all
        .iter()
        .filter(|tp| !ours.assignment().contains(tp))
        .map(|tp| tp.partition)
        .collect();
    let want = theirs
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",");
    wait_for_line(&format!("assigned {want}"));

    child.kill().expect("kill -9 the kafka-python member");
    let _ = child.wait();
    // The coordinator drops the dead member after its 6 s session timeout.
    wait_until(
        "the Rust member to take over every partition",
        Duration::from_secs(30),
        &[&ours],
        || ours.assignment() == all,
    );
    assert!(
        !ours.seen().iter().any(|s| matches!(s, Seen::Lost(_))),
        "{:?}",
        ours.seen()
    );
    ours.close();
}

/// Restarts a killed cluster node when dropped, so later tests find the cluster whole.
struct RestartOnDrop(Option<String>);

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        if let Some(node) = self.0.take() {
            let _ = common::try_broker_ctl(&["restart", &node]);
        }
    }
}

/// The coordinator's broker id, the state and the member count of `group`, from
/// `kafka-consumer-groups --describe --state`.
fn group_state(bootstrap: &str, group: &str) -> Result<(String, String, usize), String> {
    let out = common::try_broker_ctl(&[
        "tool",
        "consumer-groups",
        "--bootstrap-server",
        bootstrap,
        "--describe",
        "--group",
        group,
        "--state",
    ])?;
    // GROUP  COORDINATOR (ID)  ASSIGNMENT-STRATEGY  STATE  #MEMBERS
    // g      127.0.0.1:19093  (2)  range  Stable  2
    let line = out
        .lines()
        .find(|l| l.starts_with(group))
        .ok_or_else(|| format!("no line for the group in: {out}"))?;
    let parse = || {
        let open = line.find('(')?;
        let close = line[open..].find(')')? + open;
        let id = line[open + 1..close].trim().to_string();
        let rest: Vec<&str> = line[close + 1..].split_whitespace().collect();
        let members = rest.last()?.parse().ok()?;
        let state = rest.get(rest.len().checked_sub(2)?)?.to_string();
        Some((id, state, members))
    };
    parse().ok_or_else(|| format!("unexpected line: {line}"))
}

#[test]
fn members_follow_the_coordinator_when_its_broker_dies() {
    let _lock = common::cluster_fault_lock();
    let bs = common::cluster_bootstrap();
    let topic = common::unique_name("group-failover");
    common::kafka_python_create_topic(&bs, &topic, 4, 3);
    let group = common::unique_name("group-failover");
    let all = partitions(&topic, 4);
    let range = [AssignmentStrategy::Range];

    let a = Member::start_on(&bs, &group, &topic, &range);
    let b = Member::start_on(&bs, &group, &topic, &range);
    wait_until(
        "two members to split four partitions",
        Duration::from_secs(60),
        &[&a, &b],
        || split_evenly(&a, &b, &all),
    );
    let (victim, _, _) = common::retry(
        "the group's coordinator",
        Duration::from_secs(60),
        Duration::from_millis(500),
        || group_state(&bs, &group),
    );
    common::broker_ctl(&["kill", &victim]);
    let mut restart = RestartOnDrop(Some(victim.clone()));

    // The group moves to another broker. Once a session timeout (6 s) has passed there,
    // only members that found the new coordinator and heartbeat to it are still in the
    // group: both must be, splitting the partitions (after a rebalance if their sessions
    // ran out during the move).
    common::retry(
        "the group to move to another coordinator",
        Duration::from_secs(90),
        Duration::from_secs(1),
        || match group_state(&bs, &group)? {
            (id, _, _) if id != victim => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    std::thread::sleep(Duration::from_secs(8));
    common::retry(
        "both members stable at the new coordinator",
        Duration::from_secs(60),
        Duration::from_secs(1),
        || match group_state(&bs, &group)? {
            (_, state, 2) if state == "Stable" && split_evenly(&a, &b, &all) => Ok(()),
            other => Err(format!(
                "{other:?}; a {:?}; b {:?}",
                a.state.lock().unwrap(),
                b.state.lock().unwrap()
            )),
        },
    );
    // A member's commit reaches the new coordinator, and a consumer outside the group
    // reads it there.
    let tp = a.assignment().into_iter().next().expect("a partition");
    a.commit(BTreeMap::from([(tp.clone(), OffsetAndMetadata::new(0))]))
        .expect("commit after the coordinator moved");
    let mut c = Consumer::builder()
        .bootstrap_servers(&bs)
        .group_id(&group)
        .build()
        .unwrap();
    c.assign([tp.clone()]).unwrap();
    assert_eq!(c.committed(&tp).unwrap().map(|o| o.offset), Some(0));
    c.close(Duration::from_secs(10));
    a.close();
    b.close();
    common::broker_ctl(&["restart", &victim]);
    restart.0 = None;
}
