//! The consumer when things fail, against the real brokers (`tests/run` starts them):
//! - a consumer process dying under `kill -9` in a three-member group: its partitions
//!   move to the survivors within the session timeout, and no committed record is
//!   skipped;
//! - a member that stops polling for longer than `max_poll_interval`: it leaves the
//!   group, its next poll says so, and polling again rejoins;
//! - a static member (`group_instance_id`) restarting without a rebalance;
//! - the leader of a partition killed and restarted under a reading consumer (3-node
//!   cluster): nothing is lost;
//! - no broker reachable at all: typed errors within the configured timeouts, no hang;
//! - pykafka's "last N messages" pattern through the public API.
//!
//! # Member processes
//! Some group members are separate processes running this same test binary again, with
//! `KAFKA_SYNC_TEST_MEMBER=<topic>,<group>` set and only the `group_member_process` test
//! selected. With the variable set, that test *is* the member: it consumes until it is
//! killed, committing synchronously after every batch and printing what it does. Without
//! the variable (every ordinary run) it returns at once and checks nothing; every other
//! test returns at once inside a member process.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Background, NodeDown};
use kafka_sync::admin::AdminClient;
use kafka_sync::{
    Consumer, ConsumerRebalanceListener, Error, OffsetAndMetadata, OffsetReset, Producer,
    ProducerRecord, RebalanceContext, TopicPartition,
};

const MEMBER_ENV: &str = "KAFKA_SYNC_TEST_MEMBER";
const PARTITIONS: i32 = 6;
const SESSION_TIMEOUT: Duration = Duration::from_secs(6);
/// Allowed beyond the session timeout for the rebalance itself on a busy machine.
const REBALANCE_SLACK: Duration = Duration::from_secs(20);
/// For a group to form: the first join of a process can be slow on a busy machine.
const SETTLE: Duration = Duration::from_secs(120);

/// True inside a member process, where only `group_member_process` may do anything.
fn in_member_process() -> bool {
    std::env::var_os(MEMBER_ENV).is_some()
}

/// A rebalance listener keeping each callback as "KIND [partitions]" (KIND: revoked,
/// assigned or lost); in a member process it also prints it as "callback KIND [...]".
#[derive(Clone, Default)]
struct Callbacks {
    seen: Arc<Mutex<Vec<String>>>,
    print: bool,
}

impl Callbacks {
    fn push(&self, kind: &str, tps: &[TopicPartition]) {
        let p: Vec<i32> = tps.iter().map(|tp| tp.partition).collect();
        let line = format!("{kind} {p:?}");
        if self.print {
            println!("callback {line}");
        }
        self.seen.lock().unwrap().push(line);
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl ConsumerRebalanceListener for Callbacks {
    fn on_partitions_revoked(&mut self, _: &mut RebalanceContext<'_>, tps: &[TopicPartition]) {
        self.push("revoked", tps);
    }
    fn on_partitions_assigned(&mut self, _: &mut RebalanceContext<'_>, tps: &[TopicPartition]) {
        self.push("assigned", tps);
    }
    fn on_partitions_lost(&mut self, _: &mut RebalanceContext<'_>, tps: &[TopicPartition]) {
        self.push("lost", tps);
    }
}

/// The member process (see the module docs). It prints, one line each:
/// - "read P O" for every record it handed to the application;
/// - "commit P O" before synchronously committing O (last read + 1) for partition P;
/// - "assigned {P, ...}" whenever its assignment changed;
/// - "callback KIND [P, ...]" for every rebalance callback;
/// - "error WHAT: ERROR" when a poll or a commit fails (then it goes on: records whose
///   commit failed are read again by whoever owns their partition next).
#[test]
fn group_member_process() {
    let Ok(spec) = std::env::var(MEMBER_ENV) else {
        return; // an ordinary test run: nothing to do
    };
    let (topic, group) = spec.split_once(',').expect("topic,group");
    let mut c = group_consumer(group)
        .enable_auto_commit(false)
        .build()
        .expect("consumer");
    let print = Callbacks {
        print: true,
        ..Callbacks::default()
    };
    c.subscribe_with_listener([topic], print)
        .expect("subscribe");
    // The test harness has printed "test group_member_process ... " without a newline.
    println!();
    let mut last = BTreeSet::new();
    loop {
        let batch = c.poll(Duration::from_millis(100)).unwrap_or_else(|e| {
            println!("error poll: {e}");
            Default::default()
        });
        let mut offsets = BTreeMap::new();
        for (tp, records) in &batch {
            for m in records {
                println!("read {} {}", m.partition, m.offset);
            }
            if let Some(m) = records.last() {
                println!("commit {} {}", m.partition, m.offset + 1);
                offsets.insert(tp.clone(), OffsetAndMetadata::new(m.offset + 1));
            }
        }
        // Processed, then committed: what is committed was read (at-least-once).
        if let Err(e) = c.commit_offsets(offsets) {
            println!("error commit: {e}");
        }
        let now: BTreeSet<i32> = c.assignment().iter().map(|tp| tp.partition).collect();
        if now != last {
            println!("assigned {now:?}");
            last = now;
        }
        // Slow enough that the stream is still flowing when a member is killed.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A member process; SIGKILLed when dropped.
struct MemberProcess(Background);

impl MemberProcess {
    fn spawn(topic: &str, group: &str) -> MemberProcess {
        let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
        cmd.args(["group_member_process", "--exact", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(MEMBER_ENV, format!("{topic},{group}"));
        MemberProcess(Background::spawn(cmd))
    }

    /// The lines starting with `word`, without it.
    fn lines(&self, word: &str) -> Vec<String> {
        self.0
            .lines()
            .iter()
            .filter_map(|l| l.strip_prefix(word)?.strip_prefix(' ').map(str::to_string))
            .collect()
    }

    /// (partition, offset) of each "read" or "commit" line.
    fn numbers(&self, word: &str) -> Vec<(i32, i64)> {
        self.lines(word)
            .iter()
            .filter_map(|l| {
                let (p, o) = l.split_once(' ')?;
                Some((p.parse().ok()?, o.parse().ok()?))
            })
            .collect()
    }

    fn reads(&self) -> Vec<(i32, i64)> {
        self.numbers("read")
    }

    /// The highest offset it set out to commit, per partition.
    fn commits(&self) -> BTreeMap<i32, i64> {
        let mut out = BTreeMap::new();
        for (p, o) in self.numbers("commit") {
            let e = out.entry(p).or_insert(o);
            *e = (*e).max(o);
        }
        out
    }
}

fn admin_for(bootstrap: &str) -> AdminClient {
    AdminClient::builder()
        .bootstrap_servers(bootstrap)
        .build()
        .expect("admin")
}

fn admin() -> AdminClient {
    admin_for(&common::bootstrap())
}

fn group_consumer(group: &str) -> kafka_sync::ConsumerBuilder<bytes::Bytes, bytes::Bytes> {
    Consumer::builder()
        .bootstrap_servers(common::bootstrap())
        .group_id(group)
        .auto_offset_reset(OffsetReset::Earliest)
        .session_timeout(SESSION_TIMEOUT)
        .heartbeat_interval(Duration::from_millis(500))
}

/// Each member's partitions once the group is stable with `members` members that
/// together own each of the topic's `partitions` exactly once; else what was seen.
fn stable_split(
    admin: &AdminClient,
    group: &str,
    members: usize,
    partitions: i32,
) -> Result<Vec<BTreeSet<i32>>, String> {
    let d = admin
        .describe_consumer_groups(&[group])
        .map_err(|e| e.to_string())?
        .remove(group)
        .ok_or("no description")?
        .map_err(|e| e.to_string())?;
    let owned: Vec<BTreeSet<i32>> = d
        .members
        .iter()
        .map(|m| m.assignment.iter().map(|tp| tp.partition).collect())
        .collect();
    let union: BTreeSet<i32> = owned.iter().flatten().copied().collect();
    let total: usize = owned.iter().map(BTreeSet::len).sum();
    if d.state == "Stable"
        && owned.len() == members
        && total == partitions as usize
        && union.len() == partitions as usize
    {
        Ok(owned)
    } else {
        Err(format!("{} {owned:?}", d.state))
    }
}

fn wait(what: &str, timeout: Duration, f: impl FnMut() -> Result<(), String>) {
    common::retry(what, timeout, Duration::from_millis(100), f)
}

/// Sends `count` records ("record I") round-robin over the topic's partitions, pausing
/// `every` records; returns where each acknowledged record landed.
fn feed(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    count: usize,
    every: usize,
) -> std::thread::JoinHandle<BTreeSet<(i32, i64)>> {
    let producer = Producer::builder()
        .bootstrap_servers(bootstrap)
        .build()
        .expect("producer");
    let topic = topic.to_string();
    std::thread::spawn(move || {
        let mut futures = Vec::new();
        for i in 0..count {
            let rec = ProducerRecord::new(topic.as_str())
                .partition(i as i32 % partitions)
                .value(format!("record {i}"));
            futures.push(producer.send(rec).expect("send"));
            if i % every == every - 1 {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        futures
            .into_iter()
            .map(|f| {
                let m = f.wait().expect("delivered");
                (m.partition, m.offset)
            })
            .collect()
    })
}

#[test]
fn a_killed_member_process_loses_its_partitions_and_no_committed_record_is_skipped() {
    if in_member_process() {
        return;
    }
    let bootstrap = common::bootstrap();
    let topic = common::unique_name("kill-member");
    common::kafka_python_create_topic(&bootstrap, &topic, PARTITIONS, 1);
    let group = common::unique_name("kill-member");
    let admin = admin();

    let mut members: Vec<MemberProcess> = (0..3)
        .map(|_| MemberProcess::spawn(&topic, &group))
        .collect();
    wait("three members sharing six partitions", SETTLE, || {
        let split = stable_split(&admin, &group, 3, PARTITIONS)?;
        match split.iter().all(|p| p.len() == 2) {
            true => Ok(()),
            false => Err(format!("uneven: {split:?}")),
        }
    });

    // Keep producing while a member dies: 3,000 records over about six seconds.
    let feeder = feed(&bootstrap, &topic, PARTITIONS, 3000, 100);

    // Kill the first member while it is consuming.
    wait(
        "the victim to read records",
        Duration::from_secs(60),
        || match members[0].reads().len() {
            n if n >= 100 => Ok(()),
            n => Err(format!("{n} read")),
        },
    );
    let mut victim = members.remove(0);
    victim.0.kill();
    let killed = Instant::now();
    let victims_partitions: BTreeSet<i32> = victim.reads().iter().map(|(p, _)| *p).collect();

    let after = common::retry(
        "the two survivors to own every partition",
        SESSION_TIMEOUT + REBALANCE_SLACK,
        Duration::from_millis(100),
        || stable_split(&admin, &group, 2, PARTITIONS),
    );
    eprintln!(
        "partitions moved {:?} after the kill (session timeout {SESSION_TIMEOUT:?})",
        killed.elapsed()
    );
    assert!(after.iter().all(|p| p.len() == 3), "uneven: {after:?}");

    // Some more records once the survivors own everything, in case the stream had
    // already ended: they must read the victim's partitions.
    let mut produced = feeder.join().expect("producer thread");
    produced.extend(
        feed(&bootstrap, &topic, PARTITIONS, 60, 60)
            .join()
            .expect("feed"),
    );
    // At-least-once: every acknowledged record was read by a survivor, unless the victim
    // read it and set out to commit past it. So the survivors resumed each moved
    // partition at the victim's last commit, not after it.
    let victim_read: BTreeSet<(i32, i64)> = victim.reads().into_iter().collect();
    let victim_commits = victim.commits();
    let covered = |(p, o): &(i32, i64), survivors: &BTreeSet<(i32, i64)>| {
        survivors.contains(&(*p, *o))
            || (victim_read.contains(&(*p, *o)) && victim_commits.get(p).is_some_and(|c| o < c))
    };
    wait("every record to be read", Duration::from_secs(60), || {
        let survivors: BTreeSet<(i32, i64)> = members.iter().flat_map(|m| m.reads()).collect();
        let missing: Vec<_> = produced
            .iter()
            .filter(|r| !covered(r, &survivors))
            .collect();
        let errors: Vec<String> = members.iter().flat_map(|m| m.lines("error")).collect();
        match missing.is_empty() {
            true => Ok(()),
            false => Err(format!(
                "not read after the victim's commit: {missing:?}; survivors' errors: {errors:?}"
            )),
        }
    });
    // The survivors did take over the victim's partitions and read from them.
    let survivors: BTreeSet<i32> = members
        .iter()
        .flat_map(|m| m.reads())
        .map(|(p, _)| p)
        .collect();
    assert!(
        victims_partitions.is_subset(&survivors),
        "{victims_partitions:?} {survivors:?}"
    );

    // And the group's committed offsets reach the end of every partition (last + 1).
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(topic.as_str(), p))
        .collect();
    let mut ends: BTreeMap<i32, i64> = BTreeMap::new();
    for (p, o) in &produced {
        let e = ends.entry(*p).or_insert(0);
        *e = (*e).max(o + 1);
    }
    wait(
        "commits to reach the end offsets",
        Duration::from_secs(60),
        || {
            let committed = admin
                .list_consumer_group_offsets(&group, Some(&tps))
                .map_err(|e| e.to_string())?;
            let at: BTreeMap<i32, i64> = committed
                .iter()
                .map(|(tp, om)| (tp.partition, om.offset))
                .collect();
            match at == ends {
                true => Ok(()),
                false => Err(format!("committed {at:?}, ends {ends:?}")),
            }
        },
    );
}

fn two_partition_topic(prefix: &str) -> (String, String) {
    let topic = common::unique_name(prefix);
    common::kafka_python_create_topic(&common::bootstrap(), &topic, 2, 1);
    (topic, common::unique_name(prefix))
}

/// Polls `c` until the group is stable with two members and `c` owns one partition;
/// returns that partition.
fn poll_until_split_with(c: &mut Consumer, admin: &AdminClient, group: &str) -> i32 {
    common::retry(
        "two members, a partition each",
        SETTLE,
        Duration::from_millis(10),
        || {
            let _ = c.poll(Duration::from_millis(100));
            stable_split(admin, group, 2, 2)?;
            match &c.assignment().iter().collect::<Vec<_>>()[..] {
                [tp] => Ok(tp.partition),
                other => Err(format!("ours: {other:?}")),
            }
        },
    )
}

#[test]
fn a_member_that_stops_polling_leaves_the_group_and_its_next_poll_says_so() {
    if in_member_process() {
        return;
    }
    let (topic, group) = two_partition_topic("poll-interval");
    let admin = admin();
    let callbacks = Callbacks::default();
    let mut slow = group_consumer(&group)
        .max_poll_interval(Duration::from_secs(3))
        .build()
        .expect("consumer");
    slow.subscribe_with_listener([topic.as_str()], callbacks.clone())
        .expect("subscribe");
    let other = MemberProcess::spawn(&topic, &group);
    let mine = poll_until_split_with(&mut slow, &admin, &group);

    // No poll for longer than max_poll_interval: the I/O thread leaves the group, and the
    // other member takes both partitions while this thread is still away.
    wait(
        "the other member to own both partitions",
        Duration::from_secs(60),
        || {
            stable_split(&admin, &group, 1, 2)?;
            match other.lines("assigned").last().map(String::as_str) {
                Some("{0, 1}") => Ok(()),
                last => Err(format!("the other member has {last:?}")),
            }
        },
    );
    let before = callbacks.seen().len();
    let err = slow
        .poll(Duration::from_secs(1))
        .expect_err("the first poll after the expiry reports it");
    assert!(
        matches!(err, Error::Timeout { .. }) && err.to_string().contains("max_poll_interval"),
        "{err:?}"
    );
    assert!(slow.assignment().is_empty(), "{:?}", slow.assignment());
    assert_eq!(
        callbacks.seen()[before..],
        [format!("lost [{mine}]")],
        "on_partitions_lost runs in that poll"
    );

    // Polling again rejoins, the partitions are shared once more, and the slow member
    // reads what is produced to its partition from now on.
    let mine = poll_until_split_with(&mut slow, &admin, &group);
    let feeder = feed(&common::bootstrap(), &topic, 2, 20, 20);
    let produced: BTreeSet<i64> = feeder
        .join()
        .expect("producer thread")
        .into_iter()
        .filter(|(p, _)| *p == mine)
        .map(|(_, o)| o)
        .collect();
    let mut read = BTreeSet::new();
    wait(
        "the rejoined member to read its partition",
        Duration::from_secs(60),
        || {
            let batch = slow
                .poll(Duration::from_millis(200))
                .map_err(|e| e.to_string())?;
            for m in batch.values().flatten() {
                assert_eq!(m.partition, mine, "read a partition not its own");
                read.insert(m.offset);
            }
            match read == produced {
                true => Ok(()),
                false => Err(format!("read {read:?} of {produced:?}")),
            }
        },
    );
    drop(other);
}

#[test]
fn a_static_member_restarting_within_the_session_timeout_causes_no_rebalance() {
    if in_member_process() {
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
    let before = poll_until_split_with(&mut first, &admin, &group);
    wait(
        "the other member to take its partition",
        SETTLE,
        || match other.lines("assigned").last() {
            Some(a) if a == &format!("{{{}}}", 1 - before) => Ok(()),
            last => Err(format!("the other member has {last:?}")),
        },
    );
    let describe = || {
        admin
            .describe_consumer_groups(&[group.as_str()])
            .expect("describe")
            .remove(&group)
            .expect("group")
            .expect("description")
    };
    let instance_ids = || -> Vec<Option<String>> {
        describe()
            .members
            .into_iter()
            .map(|m| m.group_instance_id)
            .collect()
    };
    assert!(
        instance_ids().contains(&Some("static-a".into())),
        "{:?}",
        describe()
    );
    let other_callbacks = other.lines("callback");

    // A static member sends no LeaveGroup on close: the group still counts it.
    first.close(Duration::from_secs(10));
    let still = instance_ids();
    assert_eq!(still.len(), 2, "the static member left: {still:?}");
    assert!(still.contains(&Some("static-a".into())), "{still:?}");

    // Back within the session timeout with the same instance id, it gets its partition
    // back, and the other member sees no rebalance: no callback, same assignment.
    let mut second = start_static();
    let after = common::retry(
        "the static member's partition back",
        Duration::from_secs(60),
        Duration::from_millis(10),
        || {
            let _ = second.poll(Duration::from_millis(100));
            match &second.assignment().iter().collect::<Vec<_>>()[..] {
                [tp] => Ok(tp.partition),
                other => Err(format!("{other:?}")),
            }
        },
    );
    assert_eq!(after, before);
    // Give a rebalance, had one started, time to reach the other member.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(3) {
        let _ = second.poll(Duration::from_millis(100));
    }
    assert_eq!(
        other.lines("callback"),
        other_callbacks,
        "the other member was rebalanced"
    );
    stable_split(&admin, &group, 2, 2).expect("still two members, a partition each");
    second.close(Duration::from_secs(10));
}

/// Sets a stop flag when dropped, so a failing test stops its threads too.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What a consumer thread read: (partition, offset, the producer's sequence number).
type Reads = Arc<Mutex<Vec<(i32, i64, usize)>>>;

/// On the 3-node cluster, a group consumer reads a replicated topic while partition 0's
/// leader is killed (the partition moves to another replica), then restarted and made
/// leader again (the consumer must go back to the restarted broker). A producer keeps
/// writing all along; every acknowledged record is read.
#[test]
fn a_consumer_reads_everything_while_its_leader_is_killed_and_restarted() {
    if in_member_process() {
        return;
    }
    let _faults = common::cluster_fault_lock();
    let bs = common::cluster_bootstrap();
    let topic = common::unique_name("leader-loss");
    common::kafka_python_create_topic(&bs, &topic, 2, 3);
    let admin = admin_for(&bs);
    let partition0 = || -> Result<kafka_sync::admin::PartitionInfo, String> {
        let d = admin
            .describe_topics(&[topic.as_str()])
            .map_err(|e| e.to_string())?;
        let p = d.first().and_then(|t| t.partitions.first()).ok_or("none")?;
        Ok(p.clone())
    };
    let initially = common::retry(
        "partition 0 led by its preferred replica",
        Duration::from_secs(60),
        Duration::from_millis(500),
        || match partition0()? {
            p if p.leader.is_some() && p.leader == p.replicas.first().copied() => Ok(p),
            p => Err(format!("{p:?}")),
        },
    );
    let victim = initially.leader.expect("a leader");

    // The consumer, on its own thread.
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_consuming = SetOnDrop(stop.clone());
    let reads: Reads = Arc::default();
    let errors = Arc::new(Mutex::new(Vec::new()));
    let consumer = {
        let mut c = Consumer::builder()
            .bootstrap_servers(&bs)
            .group_id(common::unique_name("leader-loss"))
            .auto_offset_reset(OffsetReset::Earliest)
            .session_timeout(SESSION_TIMEOUT)
            .heartbeat_interval(Duration::from_millis(500))
            .request_timeout(Duration::from_secs(5))
            .build()
            .expect("consumer");
        c.subscribe([topic.as_str()]).expect("subscribe");
        let (stop, reads, errors) = (stop.clone(), reads.clone(), errors.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match c.poll(Duration::from_millis(200)) {
                    Ok(batch) => reads
                        .lock()
                        .unwrap()
                        .extend(batch.values().flatten().map(|m| {
                            let v = std::str::from_utf8(m.value.as_deref().unwrap_or_default());
                            let seq = v.ok().and_then(|v| v.parse().ok()).expect("a number");
                            (m.partition, m.offset, seq)
                        })),
                    Err(e) => errors.lock().unwrap().push(e),
                }
            }
            c.close(Duration::from_secs(10));
        })
    };

    // The producer: numbered records, alternating partitions, every 10 ms.
    let sent = Arc::new(AtomicUsize::new(0));
    let stop_producing = Arc::new(AtomicBool::new(false));
    let _stop_producing = SetOnDrop(stop_producing.clone());
    let producer = {
        let p = Producer::builder()
            .bootstrap_servers(&bs)
            .acks(kafka_sync::Acks::All)
            .build()
            .expect("producer");
        let (stop, sent, topic) = (stop_producing.clone(), sent.clone(), topic.clone());
        std::thread::spawn(move || {
            let mut futures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let seq = sent.fetch_add(1, Ordering::Relaxed);
                let rec = ProducerRecord::new(topic.as_str())
                    .partition(seq as i32 % 2)
                    .value(seq.to_string());
                futures.push(p.send(rec).expect("send"));
                std::thread::sleep(Duration::from_millis(10));
            }
            // Records that could not be delivered are not expected to be read.
            let (mut acked, mut failed) = (Vec::new(), Vec::new());
            for (seq, f) in futures.into_iter().enumerate() {
                match f.wait() {
                    Ok(m) => acked.push((m.partition, m.offset, seq)),
                    Err(e) => failed.push(e.to_string()),
                }
            }
            (acked, failed)
        })
    };
    // Waits until the consumer has read a partition-0 record sent at least 20 records
    // after now: it is reading partition 0 from wherever it is led at this point.
    let reads_partition_0_from_now = |what: &str, timeout: Duration| {
        let mark = sent.load(Ordering::Relaxed) + 20;
        wait(what, timeout, || {
            let reads = reads.lock().unwrap();
            match reads.iter().any(|(p, _, seq)| *p == 0 && *seq >= mark) {
                true => Ok(()),
                false => Err(format!("{} records read", reads.len())),
            }
        });
    };
    reads_partition_0_from_now("the consumer to read partition 0", SETTLE);

    let down = NodeDown::kill(&victim.to_string());
    common::retry(
        "partition 0 to get another leader",
        Duration::from_secs(60),
        Duration::from_millis(500),
        || match partition0()? {
            p if p.leader.is_some_and(|l| l != victim) => Ok(()),
            p => Err(format!("{p:?}")),
        },
    );
    reads_partition_0_from_now(
        "the consumer to read partition 0 from its new leader",
        Duration::from_secs(60),
    );

    down.restart();
    common::retry(
        "the restarted broker to lead partition 0 again",
        Duration::from_secs(90),
        Duration::from_secs(1),
        || match partition0()? {
            p if p.leader == Some(victim) => Ok(()),
            p if p.isr.contains(&victim) => {
                common::kafka_python_elect_preferred_leaders(&bs, &topic)?;
                Err(format!("elected; was {p:?}"))
            }
            p => Err(format!("not in sync yet: {p:?}")),
        },
    );
    reads_partition_0_from_now(
        "the consumer to read partition 0 from the restarted broker",
        Duration::from_secs(60),
    );

    // Stop producing; every acknowledged record is read, none lost.
    stop_producing.store(true, Ordering::Relaxed);
    let (acked, failed) = producer.join().expect("producer thread");
    assert!(
        acked.len() >= 60,
        "only {} records acknowledged",
        acked.len()
    );
    wait("every acknowledged record to be read", SETTLE, || {
        let read: BTreeSet<(i32, i64, usize)> = reads.lock().unwrap().iter().copied().collect();
        let missing: Vec<_> = acked.iter().filter(|r| !read.contains(r)).collect();
        match missing.is_empty() {
            true => Ok(()),
            false => Err(format!("{} never read: {missing:?}", missing.len())),
        }
    });
    stop.store(true, Ordering::Relaxed);
    consumer.join().expect("consumer thread");
    // Connection loss on one broker of three is handled inside the client: at most
    // retriable errors reach the application.
    let errors = errors.lock().unwrap();
    assert!(errors.iter().all(Error::is_retriable), "{errors:?}");
    eprintln!(
        "{} records read; {} not delivered {failed:?}; poll errors: {errors:?}",
        acked.len(),
        failed.len()
    );
}

/// No broker at all (nothing listens on port 1): every call that needs one fails with
/// `NoBrokersAvailable` within its timeout. A subscribed consumer's polls return on
/// time and report the outage once `default_api_timeout` has passed without a broker,
/// and an iterator without `consumer_timeout` ends with that error instead of blocking
/// forever. (tests/engine.rs covers the producer, tests/admin.rs the AdminClient.)
#[test]
fn with_no_broker_reachable_consumer_calls_fail_with_typed_errors_in_time() {
    if in_member_process() {
        return;
    }
    const TIMEOUT: Duration = Duration::from_secs(3);
    const SLACK: Duration = Duration::from_secs(3);
    let group = common::unique_name("unreachable");
    let consumer = || {
        Consumer::builder()
            .bootstrap_servers("127.0.0.1:1")
            .group_id(&group)
            .default_api_timeout(TIMEOUT)
            .request_timeout(Duration::from_secs(2))
            .build()
            .expect("consumer")
    };
    let no_brokers = |what: &str, started: Instant, err: Error| {
        let took = started.elapsed();
        assert!(took < TIMEOUT + SLACK, "{what} took {took:?}");
        assert!(
            matches!(err, Error::NoBrokersAvailable { .. }),
            "{what}: {err:?}"
        );
    };
    let tp = TopicPartition::new("unreachable", 0);
    let mut c = consumer();
    let t = Instant::now();
    no_brokers(
        "partitions_for_topic",
        t,
        c.partitions_for_topic("x").unwrap_err(),
    );
    let t = Instant::now();
    no_brokers(
        "end_offsets",
        t,
        c.end_offsets(std::slice::from_ref(&tp)).unwrap_err(),
    );
    let t = Instant::now();
    no_brokers("committed", t, c.committed(&tp).unwrap_err());
    let offsets = BTreeMap::from([(tp.clone(), OffsetAndMetadata::new(1))]);
    let t = Instant::now();
    no_brokers("commit_offsets", t, c.commit_offsets(offsets).unwrap_err());

    // Subscribed: polls keep their own timeout, and one reports the outage.
    let mut c = consumer();
    c.subscribe(["unreachable"]).expect("subscribe");
    let t = Instant::now();
    let err = loop {
        let poll = Instant::now();
        match c.poll(Duration::from_millis(500)) {
            Ok(batch) => assert!(batch.is_empty()),
            Err(e) => break e,
        }
        assert!(poll.elapsed() < Duration::from_millis(500) + SLACK);
        assert!(t.elapsed() < TIMEOUT + SLACK, "no poll reported the outage");
    };
    no_brokers("a subscribed poll", t, err);

    // Assigned, iterating with no consumer_timeout (block forever by default): the
    // iterator yields the error. On its own thread, so a hang fails instead of hanging.
    let mut c = consumer();
    c.assign([tp.clone()]).expect("assign");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let t = Instant::now();
        let _ = tx.send((c.iter().next().map(|r| r.map(|m| m.offset)), t.elapsed()));
    });
    let (next, took) = rx
        .recv_timeout(TIMEOUT + SLACK * 2)
        .expect("the iterator blocked with no broker reachable");
    let err = next.expect("an item").expect_err("an error, not a record");
    assert!(took < TIMEOUT + SLACK, "took {took:?}");
    assert!(matches!(err, Error::NoBrokersAvailable { .. }), "{err:?}");
}

/// pykafka's "last N messages" (examples/last_n.rs) through the public API: for each
/// partition, seek to max(end - N, beginning) and read. A partition with more than N
/// records gives its last N, a shorter one all it has, and one whose first records were
/// deleted starts at its new beginning.
#[test]
fn reads_the_last_n_records_of_every_partition() {
    if in_member_process() {
        return;
    }
    const N: i64 = 5;
    let bootstrap = common::bootstrap();
    let topic = common::unique_name("last-n");
    common::kafka_python_create_topic(&bootstrap, &topic, 3, 1);
    let producer = Producer::builder()
        .bootstrap_servers(&bootstrap)
        .build()
        .expect("producer");
    let counts = [12, 3, 9];
    let futures: Vec<_> = (0..3)
        .flat_map(|p| (0..counts[p as usize]).map(move |i| (p, i)))
        .map(|(p, i)| {
            let rec = ProducerRecord::new(topic.as_str())
                .partition(p)
                .value(format!("{p}-{i}"));
            producer.send(rec).expect("send")
        })
        .collect();
    for f in futures {
        f.wait().expect("delivered");
    }
    // Partition 2 now starts at offset 6: its last 5 would reach before that.
    let p2 = TopicPartition::new(topic.as_str(), 2);
    let deleted = admin()
        .delete_records(&BTreeMap::from([(p2.clone(), 6)]))
        .expect("delete records");
    assert_eq!(deleted[&p2].as_ref().ok(), Some(&6));

    let mut c = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .consumer_timeout(Duration::from_secs(3))
        .build()
        .expect("consumer");
    let partitions: Vec<TopicPartition> = c
        .partitions_for_topic(&topic)
        .expect("partitions")
        .expect("the topic exists")
        .into_iter()
        .map(|p| TopicPartition::new(topic.as_str(), p))
        .collect();
    c.assign(partitions.clone()).expect("assign");
    let beginnings = c.beginning_offsets(&partitions).expect("beginnings");
    let ends = c.end_offsets(&partitions).expect("ends");
    for tp in &partitions {
        c.seek(tp, (ends[tp] - N).max(beginnings[tp]))
            .expect("seek");
    }
    let read: Vec<(i32, i64, String)> = c
        .iter()
        .map(|m| {
            let m = m.expect("record");
            let v = String::from_utf8_lossy(m.value.as_deref().unwrap_or_default()).into_owned();
            (m.partition, m.offset, v)
        })
        .collect();
    let mut read_sorted = read.clone();
    read_sorted.sort();
    let expected: Vec<(i32, i64, String)> = [(0, 7..12), (1, 0..3), (2, 6..9)]
        .into_iter()
        .flat_map(|(p, offsets)| offsets.map(move |o| (p, o, format!("{p}-{o}"))))
        .collect();
    assert_eq!(read_sorted, expected, "read in this order: {read:?}");
}
