//! The KIP-848 consumer group protocol (`group_protocol = consumer`) against the real
//! brokers (Kafka 4.3, `group.version=1`): members spread partitions, read every record
//! once while members join and leave, share a group with the Java consumer, follow the
//! coordinator when its broker dies, keep a static member's partitions across a restart,
//! and move a live classic group to the consumer protocol.
//!
//! Each member polls on its own thread and commits after every batch, so "every record
//! once" is exact: a partition moves only after its old owner committed what it read.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use kafka_sync::config::GroupProtocol;
use kafka_sync::{
    Consumer, ConsumerRebalanceListener, OffsetReset, Producer, ProducerRecord, RebalanceContext,
    TopicPartition,
};

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
    /// (partition, offset) of every record handed out.
    records: Vec<(i32, i64)>,
    /// The threads the listener ran on.
    listener_threads: Vec<ThreadId>,
    poll_thread: Option<ThreadId>,
    /// Records handed out of a partition the member did not own right after the poll.
    foreign: Vec<(i32, i64)>,
    /// Records handed out below an offset the group had already committed (read again
    /// after a commit: more than at-least-once allows).
    reread: Vec<(i32, i64)>,
}

struct Recorder(Arc<Mutex<State>>);

impl Recorder {
    fn push(&self, seen: Seen) {
        let mut s = self.0.lock().unwrap();
        s.seen.push(seen);
        s.listener_threads.push(std::thread::current().id());
    }
}

impl ConsumerRebalanceListener for Recorder {
    fn on_partitions_revoked(&mut self, _: &mut RebalanceContext<'_>, tps: &[TopicPartition]) {
        self.push(Seen::Revoked(tps.to_vec()));
    }
    fn on_partitions_assigned(&mut self, _: &mut RebalanceContext<'_>, tps: &[TopicPartition]) {
        self.push(Seen::Assigned(tps.to_vec()));
    }
    fn on_partitions_lost(&mut self, _: &mut RebalanceContext<'_>, tps: &[TopicPartition]) {
        self.push(Seen::Lost(tps.to_vec()));
    }
}

/// How a member is set up.
#[derive(Clone)]
struct Setup {
    bootstrap: String,
    group: String,
    topic: String,
    protocol: GroupProtocol,
    instance_id: Option<String>,
    pattern: Option<String>,
    /// The group's committed offsets as its members saw their commits succeed, shared by
    /// the members of one test: partition → next offset to read.
    committed: Arc<Mutex<BTreeMap<i32, i64>>>,
}

impl Setup {
    fn new(group: &str, topic: &str) -> Setup {
        Setup {
            bootstrap: common::bootstrap(),
            group: group.into(),
            topic: topic.into(),
            protocol: GroupProtocol::Consumer,
            instance_id: None,
            pattern: None,
            committed: Arc::default(),
        }
    }
}

/// A group member polling on its own thread, committing after each batch, until stopped.
struct Member {
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Member {
    fn start(setup: &Setup) -> Member {
        let mut b = Consumer::builder()
            .bootstrap_servers(&setup.bootstrap)
            .client_id(common::unique_name("kip848-member"))
            .group_id(&setup.group)
            .group_protocol(setup.protocol)
            .auto_offset_reset(OffsetReset::Earliest)
            .enable_auto_commit(false);
        if setup.protocol == GroupProtocol::Classic {
            b = b
                .session_timeout(Duration::from_secs(10))
                .heartbeat_interval(Duration::from_millis(500));
        }
        if let Some(id) = &setup.instance_id {
            b = b.group_instance_id(id);
        }
        let mut consumer = b.build().expect("consumer");
        let state = Arc::new(Mutex::new(State::default()));
        match &setup.pattern {
            Some(p) => consumer.subscribe_pattern_with_listener(p, Recorder(state.clone())),
            None => consumer.subscribe_with_listener([&setup.topic], Recorder(state.clone())),
        }
        .expect("subscribe");
        let stop = Arc::new(AtomicBool::new(false));
        let (st, stopping) = (state.clone(), stop.clone());
        let group_committed = setup.committed.clone();
        let thread = std::thread::spawn(move || {
            st.lock().unwrap().poll_thread = Some(std::thread::current().id());
            while !stopping.load(Ordering::Relaxed) {
                let polled = consumer.poll(Duration::from_millis(100));
                let mut read = Vec::new();
                match polled {
                    Ok(batches) => {
                        for (tp, records) in batches {
                            read.extend(records.iter().map(|r| (tp.partition, r.offset)));
                        }
                    }
                    Err(e) => st.lock().unwrap().errors.push(format!("poll: {e}")),
                }
                let owned = consumer.assignment();
                let (foreign, reread): (Vec<_>, Vec<_>) = {
                    let hw = group_committed.lock().unwrap();
                    let foreign = read
                        .iter()
                        .filter(|(p, _)| !owned.iter().any(|tp| tp.partition == *p))
                        .copied()
                        .collect();
                    let reread = read
                        .iter()
                        .filter(|(p, o)| hw.get(p).is_some_and(|c| o < c))
                        .copied()
                        .collect();
                    (foreign, reread)
                };
                let committed = if read.is_empty() {
                    Ok(())
                } else {
                    consumer.commit()
                };
                if committed.is_ok() {
                    let mut hw = group_committed.lock().unwrap();
                    for (p, o) in &read {
                        let c = hw.entry(*p).or_default();
                        *c = (*c).max(o + 1);
                    }
                }
                let mut s = st.lock().unwrap();
                s.records.extend(read);
                s.foreign.extend(foreign);
                s.reread.extend(reread);
                if let Err(e) = committed {
                    s.errors.push(format!("commit: {e}"));
                }
                s.assignment = owned;
            }
            consumer.close(Duration::from_secs(10));
        });
        Member {
            state,
            stop,
            thread: Mutex::new(Some(thread)),
        }
    }

    fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.state.lock().unwrap().assignment.clone()
    }

    fn records(&self) -> Vec<(i32, i64)> {
        self.state.lock().unwrap().records.clone()
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Stops polling and closes the consumer (it leaves the group); what it saw stays.
    fn close(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.lock().unwrap().take() {
            t.join().expect("member thread");
        }
    }

    /// The listener ran only on the polling thread; the member read only partitions it
    /// owned, and nothing the group had committed.
    fn assert_sound(&self) {
        let s = self.state.lock().unwrap();
        assert!(
            s.foreign.is_empty(),
            "read partitions it did not own: {:?}",
            s.foreign
        );
        assert!(
            s.reread.is_empty(),
            "read committed records again: {:?}",
            s.reread
        );
        let poll = s.poll_thread.expect("poll thread");
        assert!(
            s.listener_threads.iter().all(|t| *t == poll),
            "listener threads {:?}, poll thread {poll:?}",
            s.listener_threads
        );
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn wait_until(what: &str, timeout: Duration, members: &[&Member], cond: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        if Instant::now() > deadline {
            let states: Vec<String> = members
                .iter()
                .map(|m| {
                    let s = m.state.lock().unwrap();
                    format!(
                        "assignment {:?} seen {:?} errors {:?} records {}",
                        s.assignment,
                        s.seen,
                        s.errors,
                        s.records.len()
                    )
                })
                .collect();
            panic!("timed out after {timeout:?} waiting for {what}; members: {states:#?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn partitions(topic: &str, n: i32) -> BTreeSet<TopicPartition> {
    (0..n).map(|p| TopicPartition::new(topic, p)).collect()
}

/// The members own disjoint sets that together are `all`, each at least `min`.
fn spread(members: &[&Member], all: &BTreeSet<TopicPartition>, min: usize) -> bool {
    let sets: Vec<BTreeSet<TopicPartition>> = members.iter().map(|m| m.assignment()).collect();
    let total: usize = sets.iter().map(BTreeSet::len).sum();
    let union: BTreeSet<TopicPartition> = sets.iter().flatten().cloned().collect();
    total == all.len() && union == *all && sets.iter().all(|s| s.len() >= min)
}

/// The single broker, a new topic of `n` partitions, a new group name, the partitions.
fn fixture(prefix: &str, n: i32) -> (String, String, String, BTreeSet<TopicPartition>) {
    let bs = common::bootstrap();
    let topic = create_topic(&bs, prefix, n, 1);
    let all = partitions(&topic, n);
    (bs, topic, common::unique_name(prefix), all)
}

/// Creates a topic, retrying while the cluster is not whole (a node another test
/// restarts); a retry that finds the topic made by the attempt before counts.
fn create_topic(bootstrap: &str, prefix: &str, partitions: i32, replicas: i16) -> String {
    let topic = common::unique_name(prefix);
    common::retry(
        "topic creation",
        Duration::from_secs(90),
        Duration::from_secs(2),
        || match common::try_kafka_python_create_topic(bootstrap, &topic, partitions, replicas, &[])
        {
            Err(e) if !e.contains("TopicAlreadyExists") => Err(e),
            _ => Ok(()),
        },
    );
    topic
}

/// Produces `per_partition` records to each partition; returns their (partition, offset).
fn produce(bootstrap: &str, topic: &str, partitions: i32, per_partition: usize) -> Vec<(i32, i64)> {
    produce_over(bootstrap, topic, partitions, per_partition, Duration::ZERO)
        .join()
        .expect("producer")
}

/// Every produced record was read exactly once across `members` (plus `others`).
fn assert_read_once(produced: &[(i32, i64)], members: &[&Member], others: &[(i32, i64)]) {
    let mut counts: BTreeMap<(i32, i64), usize> = BTreeMap::new();
    for r in members
        .iter()
        .flat_map(|m| m.records())
        .chain(others.iter().copied())
    {
        *counts.entry(r).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    let missing: Vec<_> = produced
        .iter()
        .filter(|r| !counts.contains_key(r))
        .collect();
    assert!(
        twice.is_empty() && missing.is_empty(),
        "records read more than once: {twice:?}; never read: {missing:?}"
    );
    assert_eq!(counts.len(), produced.len());
}

fn total_read(members: &[&Member]) -> usize {
    members.iter().map(|m| m.records().len()).sum()
}

/// Committed offsets of `group`, read by an independent client (the Java
/// `kafka-consumer-groups --describe --offsets`): partition → current offset.
fn committed_offsets(bootstrap: &str, group: &str, topic: &str) -> BTreeMap<i32, i64> {
    let out = common::broker_ctl(&[
        "tool",
        "consumer-groups",
        "--bootstrap-server",
        bootstrap,
        "--describe",
        "--group",
        group,
        "--offsets",
    ]);
    // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
    out.lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.len() >= 4 && cols[1] == topic)
                .then(|| Some((cols[2].parse().ok()?, cols[3].parse().ok()?)))
                .flatten()
        })
        .collect()
}

/// The group's committed offsets are each partition's end: nothing read is uncommitted.
fn assert_committed_to_end(bootstrap: &str, group: &str, topic: &str, produced: &[(i32, i64)]) {
    let ends = ends(produced);
    let committed = common::retry(
        "the committed offsets",
        Duration::from_secs(60),
        Duration::from_secs(1),
        || {
            let c = committed_offsets(bootstrap, group, topic);
            if c == ends {
                Ok(c)
            } else {
                Err(format!("committed {c:?}, ends {ends:?}"))
            }
        },
    );
    assert_eq!(committed, ends);
}

#[test]
fn three_members_spread_six_partitions_and_read_every_record_once() {
    let (bs, topic, group, all) = fixture("kip848-three", 6);
    let setup = Setup::new(&group, &topic);

    let a = Member::start(&setup);
    let b = Member::start(&setup);
    let c = Member::start(&setup);
    let members = [&a, &b, &c];
    wait_until(
        "three members to own two partitions each",
        Duration::from_secs(60),
        &members,
        || spread(&members, &all, 2),
    );
    let produced = produce(&bs, &topic, 6, 200);
    wait_until(
        "every record to be read",
        Duration::from_secs(60),
        &members,
        || total_read(&members) >= produced.len(),
    );
    assert_read_once(&produced, &members, &[]);
    for m in &members {
        // Each read only its own partitions.
        let own: BTreeSet<i32> = m.assignment().iter().map(|tp| tp.partition).collect();
        assert!(m.records().iter().all(|(p, _)| own.contains(p)));
        assert!(
            m.state.lock().unwrap().errors.is_empty(),
            "{:?}",
            m.state.lock().unwrap().errors
        );
        m.assert_sound();
    }
    assert_committed_to_end(&bs, &group, &topic, &produced);
    a.close();
    b.close();
    c.close();
}

/// Produces `per_partition` records to each partition over about `duration`, on a thread.
fn produce_over(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    per_partition: usize,
    duration: Duration,
) -> JoinHandle<Vec<(i32, i64)>> {
    let (bs, topic) = (bootstrap.to_string(), topic.to_string());
    std::thread::spawn(move || {
        let p = Producer::builder()
            .bootstrap_servers(&bs)
            .linger(Duration::from_millis(5))
            .build()
            .unwrap();
        let pause = duration / per_partition as u32;
        let mut futures = Vec::new();
        for i in 0..per_partition {
            for partition in 0..partitions {
                let value = format!("{partition}-{i}");
                futures.push(
                    p.send(
                        ProducerRecord::new(&topic)
                            .partition(partition)
                            .value(value),
                    )
                    .unwrap(),
                );
            }
            std::thread::sleep(pause);
        }
        let out = futures
            .into_iter()
            .map(|f| {
                let m = f.wait().unwrap();
                (m.partition, m.offset)
            })
            .collect();
        p.close(Duration::from_secs(10));
        out
    })
}

#[test]
fn members_joining_and_leaving_during_a_stream_read_every_record_once() {
    let (bs, topic, group, all) = fixture("kip848-churn", 6);
    let setup = Setup::new(&group, &topic);

    let a = Member::start(&setup);
    wait_until(
        "the first member to own everything",
        Duration::from_secs(60),
        &[&a],
        || a.assignment() == all,
    );
    let stream = produce_over(&bs, &topic, 6, 400, Duration::from_secs(40));
    let pause = || std::thread::sleep(Duration::from_secs(4));
    pause();
    let b = Member::start(&setup);
    pause();
    let c = Member::start(&setup);
    wait_until(
        "three members to share",
        Duration::from_secs(60),
        &[&a, &b, &c],
        || spread(&[&a, &b, &c], &all, 2),
    );
    b.close();
    pause();
    let d = Member::start(&setup);
    pause();
    a.close();
    let produced = stream.join().expect("producer");
    wait_until(
        "the two remaining members to read everything",
        Duration::from_secs(90),
        &[&c, &d],
        || spread(&[&c, &d], &all, 3) && committed_hw(&setup) == ends(&produced),
    );
    let members = [&a, &b, &c, &d];
    assert_read_once(&produced, &members, &[]);
    for m in members {
        m.assert_sound();
    }
    for m in [&c, &d] {
        assert!(
            m.seen().iter().all(|s| !matches!(s, Seen::Lost(_))),
            "{:?}",
            m.seen()
        );
    }
    assert_committed_to_end(&bs, &group, &topic, &produced);
    c.close();
    d.close();
}

/// Each partition's end offset among `produced`.
fn ends(produced: &[(i32, i64)]) -> BTreeMap<i32, i64> {
    let mut ends: BTreeMap<i32, i64> = BTreeMap::new();
    for (p, o) in produced {
        let e = ends.entry(*p).or_default();
        *e = (*e).max(o + 1);
    }
    ends
}

/// What the members saw committed.
fn committed_hw(setup: &Setup) -> BTreeMap<i32, i64> {
    setup.committed.lock().unwrap().clone()
}

/// The Java console consumer in `group` with `group.protocol=consumer`; its stdout lines
/// are "Partition:P\tOffset:O\tvalue".
fn java_consumer(topic: &str, group: &str) -> common::Background {
    let mut cmd = std::process::Command::new(common::repo_root().join("tests/kafka/broker"));
    cmd.args(["tool", "console-consumer"])
        .args(["--bootstrap-server", &common::bootstrap()])
        .args(["--topic", topic, "--group", group, "--from-beginning"])
        .args(["--property", "print.partition=true"])
        .args(["--property", "print.offset=true"])
        .args(["--consumer-property", "group.protocol=consumer"]);
    common::Background::spawn(cmd)
}

fn java_read(java: &common::Background) -> Vec<(i32, i64)> {
    java.lines()
        .iter()
        .filter_map(|l| {
            let mut fields = l.split('\t');
            let p = fields.next()?.strip_prefix("Partition:")?.parse().ok()?;
            let o = fields.next()?.strip_prefix("Offset:")?.parse().ok()?;
            Some((p, o))
        })
        .collect()
}

#[test]
fn a_group_shared_with_the_java_consumer_reads_every_record_once() {
    let (bs, topic, group, all) = fixture("kip848-java", 6);
    let setup = Setup::new(&group, &topic);

    let a = Member::start(&setup);
    let b = Member::start(&setup);
    let java = java_consumer(&topic, &group);
    // The broker's uniform assignor gives each of the three two partitions: the two
    // kafka-sync members hold four, so the Java member holds the other two.
    wait_until(
        "the kafka-sync members to hold two partitions each, the Java one the rest",
        Duration::from_secs(90),
        &[&a, &b],
        || {
            let (x, y) = (a.assignment(), b.assignment());
            x.len() == 2 && y.len() == 2 && x.is_disjoint(&y)
        },
    );
    let java_owns: BTreeSet<TopicPartition> = all
        .difference(&a.assignment().union(&b.assignment()).cloned().collect())
        .cloned()
        .collect();
    let produced = produce(&bs, &topic, 6, 100);
    let deadline = Instant::now() + Duration::from_secs(60);
    while total_read(&[&a, &b]) + java_read(&java).len() < produced.len() {
        assert!(
            Instant::now() < deadline,
            "kafka-sync read {}, Java {} of {}; Java stderr: {}",
            total_read(&[&a, &b]),
            java_read(&java).len(),
            produced.len(),
            java.stderr_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let from_java = java_read(&java);
    assert!(
        from_java
            .iter()
            .all(|(p, _)| java_owns.contains(&TopicPartition::new(&topic, *p))),
        "the Java member read only its partitions {java_owns:?}"
    );
    assert!(!from_java.is_empty());
    assert_read_once(&produced, &[&a, &b], &from_java);
    a.assert_sound();
    b.assert_sound();
    a.close();
    b.close();
}

#[test]
fn a_static_member_that_leaves_and_comes_back_keeps_its_partitions() {
    let (_, topic, group, all) = fixture("kip848-static", 6);
    let with_id = |id: &str| Setup {
        instance_id: Some(format!("{group}-{id}")),
        ..Setup::new(&group, &topic)
    };
    let a = Member::start(&with_id("a"));
    let b = Member::start(&with_id("b"));
    let c = Member::start(&with_id("c"));
    wait_until(
        "three static members to share",
        Duration::from_secs(60),
        &[&a, &b, &c],
        || spread(&[&a, &b, &c], &all, 2),
    );
    let before = c.assignment();
    let (seen_a, seen_b) = (a.seen().len(), b.seen().len());
    c.close(); // leaves with epoch -2: the broker keeps its partitions for it
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        a.assignment().len() + b.assignment().len(),
        4,
        "nothing moved"
    );
    let c2 = Member::start(&with_id("c"));
    wait_until(
        "the static member to come back",
        Duration::from_secs(60),
        &[&c2],
        || !c2.assignment().is_empty(),
    );
    assert_eq!(c2.assignment(), before);
    assert_eq!(
        c2.seen(),
        [Seen::Assigned(before.iter().cloned().collect())]
    );
    // The others never rebalanced.
    assert_eq!((a.seen().len(), b.seen().len()), (seen_a, seen_b));
    for m in [&a, &b, &c, &c2] {
        m.assert_sound();
        m.close();
    }
}

#[test]
fn a_pattern_subscription_is_resolved_by_the_broker_also_for_topics_created_later() {
    let bs = common::bootstrap();
    let prefix = common::unique_name("kip848-re");
    let one = format!("{prefix}-one");
    let two = format!("{prefix}-two");
    let other = common::unique_name("kip848-other");
    for t in [&one, &two, &other] {
        common::kafka_python_create_topic(&bs, t, 2, 1);
    }
    let group = common::unique_name("kip848-re");
    let setup = Setup {
        pattern: Some(format!("{}-(one|two|three)", regex_escape(&prefix))),
        ..Setup::new(&group, &one)
    };
    let a = Member::start(&setup);
    let mut want: BTreeSet<TopicPartition> = partitions(&one, 2)
        .into_iter()
        .chain(partitions(&two, 2))
        .collect();
    wait_until(
        "the pattern's topics to be assigned",
        Duration::from_secs(60),
        &[&a],
        || a.assignment() == want,
    );
    // A matching topic created after the subscription joins it too.
    let three = format!("{prefix}-three");
    common::kafka_python_create_topic(&bs, &three, 2, 1);
    want.extend(partitions(&three, 2));
    wait_until(
        "a topic created later to be assigned",
        Duration::from_secs(90),
        &[&a],
        || a.assignment() == want,
    );
    a.assert_sound();
    a.close();
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '.' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

/// The group's type from `kafka-consumer-groups --list --type` ("Classic", "Consumer").
fn group_type(bootstrap: &str, group: &str) -> Result<String, String> {
    let out = common::try_broker_ctl(&[
        "tool",
        "consumer-groups",
        "--bootstrap-server",
        bootstrap,
        "--list",
        "--type",
    ])?;
    out.lines()
        .find_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.first() == Some(&group)).then(|| cols.get(1).map(|s| s.to_string()))
        })
        .flatten()
        .ok_or_else(|| format!("no line for {group} in {out}"))
}

#[test]
fn a_live_classic_group_converts_to_the_consumer_protocol_when_a_consumer_member_joins() {
    let (bs, topic, group, all) = fixture("kip848-upgrade", 6);
    let classic = Setup {
        protocol: GroupProtocol::Classic,
        ..Setup::new(&group, &topic)
    };
    let a = Member::start(&classic);
    let b = Member::start(&classic);
    wait_until(
        "two classic members to share",
        Duration::from_secs(60),
        &[&a, &b],
        || spread(&[&a, &b], &all, 3),
    );
    common::retry(
        "a classic group",
        Duration::from_secs(30),
        Duration::from_secs(1),
        || match group_type(&bs, &group)? {
            t if t.eq_ignore_ascii_case("classic") => Ok(()),
            t => Err(t),
        },
    );
    let stream = produce_over(&bs, &topic, 6, 300, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(4));
    // The broker's default group.consumer.migration.policy (bidirectional) converts the
    // group when the first consumer-protocol member joins.
    let c = Member::start(&Setup {
        committed: classic.committed.clone(),
        ..Setup::new(&group, &topic)
    });
    wait_until(
        "the three members to share",
        Duration::from_secs(90),
        &[&a, &b, &c],
        || spread(&[&a, &b, &c], &all, 2),
    );
    let kind = group_type(&bs, &group).expect("group type");
    assert!(kind.eq_ignore_ascii_case("consumer"), "group type {kind}");
    let produced = stream.join().expect("producer");
    let members = [&a, &b, &c];
    wait_until(
        "every record to be committed",
        Duration::from_secs(90),
        &members,
        || committed_hw(&classic) == ends(&produced),
    );
    assert_read_once(&produced, &members, &[]);
    for m in members {
        m.assert_sound();
    }
    assert_committed_to_end(&bs, &group, &topic, &produced);
    for m in members {
        m.close();
    }
}

/// The coordinator's broker id of `group`, from `kafka-consumer-groups --describe --state`
/// ("GROUP COORDINATOR (ID) ASSIGNMENT-STRATEGY STATE #MEMBERS").
fn coordinator_of(bootstrap: &str, group: &str) -> Result<String, String> {
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
    let line = out
        .lines()
        .find(|l| l.starts_with(group))
        .ok_or_else(|| format!("no line for the group in: {out}"))?;
    let open = line.find('(').ok_or("no (")?;
    let close = line[open..].find(')').ok_or("no )")? + open;
    Ok(line[open + 1..close].trim().to_string())
}

#[test]
fn the_group_recovers_when_the_coordinator_broker_is_killed() {
    let _lock = common::cluster_fault_lock();
    let bs = common::cluster_bootstrap();
    let topic = create_topic(&bs, "kip848-failover", 6, 3);
    let group = common::unique_name("kip848-failover");
    let all = partitions(&topic, 6);
    let setup = Setup {
        bootstrap: bs.clone(),
        ..Setup::new(&group, &topic)
    };
    let a = Member::start(&setup);
    let b = Member::start(&setup);
    let c = Member::start(&setup);
    let members = [&a, &b, &c];
    wait_until(
        "three members to share",
        Duration::from_secs(90),
        &members,
        || spread(&members, &all, 2),
    );
    let victim = common::retry(
        "the group's coordinator",
        Duration::from_secs(60),
        Duration::from_millis(500),
        || coordinator_of(&bs, &group),
    );
    let stream = produce_over(&bs, &topic, 6, 300, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(5));
    let down = common::NodeDown::kill(&victim);
    common::retry(
        "the group to move to another coordinator",
        Duration::from_secs(90),
        Duration::from_secs(1),
        || match coordinator_of(&bs, &group)? {
            id if id != victim => Ok(()),
            id => Err(id),
        },
    );
    let produced = stream.join().expect("producer");
    wait_until(
        "the group to read and commit every record at the new coordinator",
        Duration::from_secs(120),
        &members,
        || spread(&members, &all, 1) && committed_hw(&setup) == ends(&produced),
    );
    // At least once: nothing missing, and nothing the group had committed read again.
    let read: BTreeSet<(i32, i64)> = members.iter().flat_map(|m| m.records()).collect();
    let missing: Vec<_> = produced.iter().filter(|r| !read.contains(r)).collect();
    assert!(missing.is_empty(), "never read: {missing:?}");
    for m in members {
        m.assert_sound();
    }
    for m in members {
        m.close();
    }
    down.restart();
}

/// Polls `consumer` until a poll fails; returns that error.
fn first_error(consumer: &mut Consumer) -> kafka_sync::Error {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "no error within 60 s");
        if let Err(e) = consumer.poll(Duration::from_millis(200)) {
            return e;
        }
    }
}

fn consumer_in(group: &str) -> kafka_sync::ConsumerBuilder<bytes::Bytes, bytes::Bytes> {
    Consumer::builder()
        .bootstrap_servers(common::bootstrap())
        .group_id(group)
        .group_protocol(GroupProtocol::Consumer)
}

#[test]
fn the_brokers_refusals_are_typed_errors() {
    let bs = common::bootstrap();
    let topic = create_topic(&bs, "kip848-errors", 2, 1);

    let mut c = consumer_in(&common::unique_name("kip848-assignor"))
        .group_remote_assignor("no-such-assignor")
        .build()
        .unwrap();
    c.subscribe([&topic]).unwrap();
    let e = first_error(&mut c);
    assert_eq!(
        e.code(),
        Some(kafka_sync::ErrorCode::UNSUPPORTED_ASSIGNOR),
        "{e}"
    );
    assert!(e.to_string().contains("no-such-assignor"), "{e}");
    c.close(Duration::from_secs(5));

    // A static member whose instance id is in use by a live member is refused.
    let group = common::unique_name("kip848-unreleased");
    let first = Member::start(&Setup {
        instance_id: Some("host-1".into()),
        ..Setup::new(&group, &topic)
    });
    wait_until(
        "the first member to join",
        Duration::from_secs(60),
        &[&first],
        || first.assignment().len() == 2,
    );
    let mut second = consumer_in(&group)
        .group_instance_id("host-1")
        .build()
        .unwrap();
    second.subscribe([&topic]).unwrap();
    let e = first_error(&mut second);
    assert_eq!(
        e.code(),
        Some(kafka_sync::ErrorCode::UNRELEASED_INSTANCE_ID),
        "{e}"
    );
    assert!(second.assignment().is_empty());
    second.close(Duration::from_secs(5));
    // The live member kept its partitions.
    assert_eq!(first.assignment().len(), 2);
    first.assert_sound();
    first.close();
}

#[test]
fn a_member_that_stops_polling_leaves_its_partitions_to_the_others_and_rejoins() {
    let (_, topic, group, all) = fixture("kip848-slow", 4);
    let b = Member::start(&Setup::new(&group, &topic));
    let state = Arc::new(Mutex::new(State::default()));
    let mut a = consumer_in(&group)
        .max_poll_interval(Duration::from_secs(3))
        .enable_auto_commit(false)
        .build()
        .unwrap();
    a.subscribe_with_listener([&topic], Recorder(state.clone()))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(a.assignment().len() == 2 && b.assignment().len() == 2) {
        assert!(
            Instant::now() < deadline,
            "no split: {:?}",
            state.lock().unwrap()
        );
        a.poll(Duration::from_millis(100)).unwrap();
    }
    let owned = a.assignment();
    // No poll for longer than max_poll_interval: the member leaves, the other takes all.
    wait_until(
        "the other member to take everything",
        Duration::from_secs(30),
        &[&b],
        || b.assignment() == all,
    );
    let e = a.poll(Duration::from_millis(100)).unwrap_err();
    assert!(matches!(e, kafka_sync::Error::Timeout { .. }), "{e}");
    assert!(state
        .lock()
        .unwrap()
        .seen
        .contains(&Seen::Lost(owned.iter().cloned().collect())));
    // Its commits are refused until it is back in the group.
    let tp = owned.iter().next().unwrap().clone();
    let refused = a.commit_offsets(BTreeMap::from([(
        tp,
        kafka_sync::OffsetAndMetadata::new(0),
    )]));
    assert!(refused.is_err());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(a.assignment().len() == 2 && b.assignment().len() == 2) {
        assert!(
            Instant::now() < deadline,
            "no rejoin: {:?}",
            state.lock().unwrap()
        );
        let _ = a.poll(Duration::from_millis(100));
    }
    a.close(Duration::from_secs(5));
    b.assert_sound();
    b.close();
}
