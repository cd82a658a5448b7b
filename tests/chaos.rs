//! The chaos run on the 3-node cluster: 4 threads share one idempotent acks=all
//! producer while partition leaders are killed with `kill -9` and restarted; an
//! independent reader (kcat, i.e. librdkafka) then checks that no acknowledged record is
//! lost, none is duplicated, and every partition keeps each thread's order.
//!
//! In CI it runs short (3 kills). `tests/chaos-run` runs the long form (20 kills, or
//! `KAFKA_SYNC_CHAOS_KILLS`). It kills cluster nodes: nothing else may kill or restart
//! them while it runs.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::NodeDown;
use kafka_sync::admin::AdminClient;
use kafka_sync::{Acks, Producer, ProducerRecord};

const PARTITIONS: i32 = 6;
const THREADS: u32 = 4;
/// Each thread sends one record every this often (about 1,000 records/s in all).
const SEND_EVERY: Duration = Duration::from_millis(4);
/// How long a killed node stays down.
const DOWN_FOR: Duration = Duration::from_secs(2);

/// Acknowledgements as they come, and the longest time without one.
#[derive(Default)]
struct AckLog {
    /// (thread, sequence) -> (partition, offset) of every acknowledged record.
    acked: HashMap<(u32, u64), (i32, i64)>,
    failed: HashMap<String, u64>,
    last_ack: Option<Instant>,
    longest_stall: Duration,
}

impl AckLog {
    fn ack(&mut self, key: (u32, u64), at: (i32, i64)) {
        let now = Instant::now();
        if let Some(last) = self.last_ack {
            self.longest_stall = self.longest_stall.max(now - last);
        }
        self.last_ack = Some(now);
        self.acked.insert(key, at);
    }
}

/// What the reader found.
#[derive(Debug, Default)]
struct Verdict {
    sent: u64,
    acked: usize,
    failed: u64,
    in_log: usize,
    lost: usize,
    duplicated: usize,
    out_of_order: usize,
    longest_stall: Duration,
}

fn value(thread: u32, seq: u64) -> String {
    format!("{thread}:{seq}")
}

fn parse_value(v: &[u8]) -> Option<(u32, u64)> {
    let (t, s) = std::str::from_utf8(v).ok()?.split_once(':')?;
    Some((t.parse().ok()?, s.parse().ok()?))
}

/// The leader of `partition`, through our AdminClient; None while it has none.
fn leader_of(admin: &AdminClient, topic: &str, partition: i32) -> Option<i32> {
    let desc = admin.describe_topics(&[topic]).ok()?;
    desc.first()?
        .partitions
        .iter()
        .find(|p| p.partition == partition)?
        .leader
}

/// Waits until every partition has a leader and all 3 replicas in sync.
fn wait_for_full_isr(admin: &AdminClient, topic: &str) {
    common::wait_for(
        "a full ISR on every partition",
        Duration::from_secs(120),
        || {
            let desc = admin.describe_topics(&[topic]).ok()?;
            let parts = &desc.first()?.partitions;
            let whole = parts.len() == PARTITIONS as usize
                && parts.iter().all(|p| p.leader.is_some() && p.isr.len() == 3);
            whole.then_some(())
        },
    );
}

fn chaos(kills: usize) -> Verdict {
    let _lock = common::cluster_fault_lock();
    let bootstrap = common::cluster_bootstrap();
    common::retry(
        "every cluster node up",
        Duration::from_secs(180),
        Duration::from_secs(2),
        || common::try_broker_ctl(&["status", "--nodes", "3"]),
    );
    let topic = common::unique_name("chaos");
    common::try_kafka_python_create_topic(
        &bootstrap,
        &topic,
        PARTITIONS,
        3,
        &[("min.insync.replicas", "2")],
    )
    .unwrap();
    let admin = AdminClient::builder()
        .bootstrap_servers(&bootstrap)
        .request_timeout(Duration::from_secs(5))
        .default_api_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    wait_for_full_isr(&admin, &topic);

    let producer = Producer::builder()
        .bootstrap_servers(&bootstrap)
        .client_id("chaos")
        .acks(Acks::All)
        .enable_idempotence(true)
        .linger(Duration::from_millis(5))
        .request_timeout(Duration::from_secs(10))
        .delivery_timeout(Duration::from_secs(120))
        .max_block(Duration::from_secs(60))
        .build()
        .unwrap();
    let acks = Arc::new(Mutex::new(AckLog::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let (producer, acks, stop, sent) =
                (producer.clone(), acks.clone(), stop.clone(), sent.clone());
            let topic = topic.clone();
            thread::spawn(move || {
                let mut seq = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let partition = (seq % PARTITIONS as u64) as i32;
                    let v = value(t, seq);
                    let rec = ProducerRecord::new(&topic)
                        .partition(partition)
                        .value(v.as_bytes());
                    match producer.send(rec) {
                        Ok(fut) => {
                            let acks = acks.clone();
                            fut.on_complete(move |r| {
                                let mut a = acks.lock().unwrap();
                                match r {
                                    Ok(m) => a.ack((t, seq), (m.partition, m.offset)),
                                    Err(e) => *a.failed.entry(e.to_string()).or_default() += 1,
                                }
                            });
                        }
                        Err(e) => {
                            let mut a = acks.lock().unwrap();
                            *a.failed.entry(format!("send: {e}")).or_default() += 1;
                        }
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                    seq += 1;
                    thread::sleep(SEND_EVERY);
                }
            })
        })
        .collect();

    let started = Instant::now();
    for k in 0..kills {
        let partition = k as i32 % PARTITIONS;
        let leader = common::wait_for("a leader to kill", Duration::from_secs(60), || {
            leader_of(&admin, &topic, partition)
        });
        eprintln!(
            "chaos: kill {}/{kills}: node {leader} (leader of partition {partition}) at {:?}",
            k + 1,
            started.elapsed()
        );
        let down = NodeDown::kill(&leader.to_string());
        thread::sleep(DOWN_FOR);
        down.restart();
        wait_for_full_isr(&admin, &topic);
    }
    // Let the last acknowledgements come in.
    thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::SeqCst);
    for s in senders {
        s.join().unwrap();
    }
    producer
        .flush_timeout(Duration::from_secs(150))
        .expect("flush after the chaos");
    drop(producer);
    eprintln!("chaos: producing done after {:?}", started.elapsed());

    let acks = acks.lock().unwrap();
    let sent = sent.load(Ordering::Relaxed);
    let log = common::try_kcat_consume(&bootstrap, &topic, sent as usize + 1000)
        .expect("kcat reads the topic");
    verdict(sent, &acks, &log)
}

/// Compares the log with the acknowledgements.
fn verdict(sent: u64, acks: &AckLog, log: &[common::PeerRecord]) -> Verdict {
    let mut seen: HashSet<(u32, u64)> = HashSet::new();
    let mut duplicated = 0;
    let mut out_of_order = 0;
    // (partition, thread) -> last sequence, in offset order (kcat gives each partition in
    // offset order).
    let mut last: HashMap<(i32, u32), (i64, u64)> = HashMap::new();
    for r in log {
        let Some((t, seq)) = r.value.as_deref().and_then(parse_value) else {
            panic!("a record that no sender wrote: {r:?}");
        };
        if !seen.insert((t, seq)) {
            duplicated += 1;
        }
        if let Some(&(offset, prev)) = last.get(&(r.partition, t)) {
            if r.offset > offset && seq <= prev {
                out_of_order += 1;
            }
        }
        last.insert((r.partition, t), (r.offset, seq));
    }
    let lost = acks.acked.keys().filter(|k| !seen.contains(k)).count();
    if !acks.failed.is_empty() {
        eprintln!("chaos: failed records by error: {:#?}", acks.failed);
    }
    Verdict {
        sent,
        acked: acks.acked.len(),
        failed: acks.failed.values().sum(),
        in_log: log.len(),
        lost,
        duplicated,
        out_of_order,
        longest_stall: acks.longest_stall,
    }
}

#[test]
fn no_acknowledged_record_is_lost_duplicated_or_reordered_while_leaders_are_killed() {
    let kills = std::env::var("KAFKA_SYNC_CHAOS_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(3);
    let v = chaos(kills);
    println!(
        "CHAOS kills={kills} records={} acked={} failed={} in_log={} lost={} duplicated={} \
         out_of_order={} longest_stall={:?}",
        v.sent, v.acked, v.failed, v.in_log, v.lost, v.duplicated, v.out_of_order, v.longest_stall
    );
    assert!(v.acked > 0, "nothing was acknowledged");
    assert_eq!(
        v.lost, 0,
        "acknowledged records missing from the log: {v:?}"
    );
    assert_eq!(v.duplicated, 0, "records written twice: {v:?}");
    assert_eq!(
        v.out_of_order, 0,
        "records out of order within a partition: {v:?}"
    );
}
