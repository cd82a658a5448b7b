//! Exactly-once under crashes on the 3-node cluster: three `examples/exactly_once.rs`
//! processes copy topic A to topic B in one consumer group, committing their input
//! offsets in their transactions, while processes are `kill -9`ed and restarted and a
//! broker (the transaction coordinator first) is killed and restarted. An independent
//! read_committed reader (kcat, i.e. librdkafka) then checks that B holds every input
//! record exactly once.
//!
//! CI runs a short form (20k records, 4 process kills, 1 broker kill);
//! `tests/exactly-once-run` runs the long form. It kills cluster nodes: run it under
//! `flock /tmp/kafka-sync-cluster.lock`.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::NodeDown;
use kafka_sync::{Consumer, IsolationLevel, OffsetReset, Producer, ProducerRecord, TopicPartition};

const PARTITIONS: i32 = 6;
const PROCESSES: usize = 3;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The example's binary, built by `cargo test` with the other examples.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let bin = dir.join("examples").join("exactly_once");
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--all-features", "--example", "exactly_once"])
            .current_dir(common::repo_root())
            .status()
            .unwrap();
        assert!(status.success(), "cargo build --example exactly_once");
    }
    bin
}

/// One copier process; its stderr goes to a log file, kept across restarts.
struct Copier {
    args: Vec<String>,
    child: Child,
    log: PathBuf,
}

impl Copier {
    fn start(args: Vec<String>, log: PathBuf) -> Copier {
        let child = Copier::spawn(&args, &log);
        Copier { args, child, log }
    }

    fn spawn(args: &[String], log: &PathBuf) -> Child {
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        Command::new(example_binary())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap()
    }

    /// `kill -9`, then a new process with the same transactional id.
    fn crash_and_restart(&mut self) {
        self.stop();
        self.child = Copier::spawn(&self.args, &self.log);
    }

    /// Restarts the process if it exited by itself (as a supervisor would); says so.
    fn supervise(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            println!("EOS copier {} exited ({status}); restarting", self.args[4]);
            self.child = Copier::spawn(&self.args, &self.log);
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join("\n")
    }
}

impl Drop for Copier {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The broker that coordinates `id`'s transactions.
fn coordinator_of(bootstrap: &str, id: &str) -> Option<String> {
    let mut cmd = Command::new(common::repo_root().join("tests/kafka/broker"));
    cmd.args(["tool", "transactions", "--bootstrap-server", bootstrap])
        .args(["describe", "--transactional-id", id]);
    let out = common::run(cmd, None, Duration::from_secs(60), false).ok()?;
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    let row = out.lines().find(|l| l.contains(id))?;
    row.split_whitespace().next().map(str::to_owned)
}

/// Counts the read_committed records of `topic` until there are `want` (or `timeout`),
/// calling `tick` between polls.
fn wait_for_output(
    bootstrap: &str,
    topic: &str,
    want: u64,
    timeout: Duration,
    mut tick: impl FnMut(),
) -> u64 {
    let mut c = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .auto_offset_reset(OffsetReset::Earliest)
        .isolation_level(IsolationLevel::ReadCommitted)
        .build()
        .unwrap();
    c.assign((0..PARTITIONS).map(|p| TopicPartition::new(topic, p)))
        .unwrap();
    let deadline = Instant::now() + timeout;
    let mut seen = 0u64;
    while seen < want && Instant::now() < deadline {
        let batch = c.poll(Duration::from_millis(500)).unwrap();
        seen += batch.values().map(|v| v.len() as u64).sum::<u64>();
        tick();
    }
    seen
}

#[derive(Debug)]
struct Figures {
    records: u64,
    process_kills: u64,
    broker_kills: u64,
    in_output: usize,
    lost: u64,
    duplicated: usize,
}

fn exactly_once_run(records: u64, process_kills: u64, broker_kills: u64) -> Figures {
    let _lock = common::cluster_fault_lock();
    let bootstrap = common::cluster_bootstrap();
    common::retry(
        "every cluster node up",
        Duration::from_secs(180),
        Duration::from_secs(2),
        || common::try_broker_ctl(&["status", "--nodes", "3"]),
    );
    let input = common::unique_name("eos-in");
    let output = common::unique_name("eos-out");
    let group = common::unique_name("eos-group");
    for t in [&input, &output] {
        common::try_kafka_python_create_topic(
            &bootstrap,
            t,
            PARTITIONS,
            3,
            &[("min.insync.replicas", "2")],
        )
        .unwrap();
    }

    // The input arrives while the copiers run and crash.
    let produced = Arc::new(AtomicU64::new(0));
    let feeder = {
        let (bootstrap, input, produced) = (bootstrap.clone(), input.clone(), produced.clone());
        thread::spawn(move || {
            let p = Producer::builder()
                .bootstrap_servers(&bootstrap)
                .build()
                .unwrap();
            let chunk = (records / 50).max(1);
            let mut i = 0;
            while i < records {
                for _ in 0..chunk.min(records - i) {
                    let v = format!("rec-{i}");
                    p.send(
                        ProducerRecord::new(input.as_str())
                            .key(v.as_str())
                            .value(v.as_str()),
                    )
                    .unwrap();
                    i += 1;
                }
                p.flush().unwrap();
                produced.store(i, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(300));
            }
        })
    };

    let tag = common::unique_name("eos-tx");
    let logs = std::env::temp_dir();
    let mut copiers: Vec<Copier> = (0..PROCESSES)
        .map(|k| {
            let args = vec![
                bootstrap.clone(),
                input.clone(),
                output.clone(),
                group.clone(),
                format!("{tag}-{k}"),
            ];
            Copier::start(args, logs.join(format!("{tag}-{k}.log")))
        })
        .collect();

    // The faults, spread out: broker kills among the process kills.
    let events = process_kills + broker_kills;
    let every = events.max(1);
    let mut broker_done = 0;
    let mut process_done = 0;
    let mut seed = std::process::id() as u64 ^ 0x9e37_79b9;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for e in 0..events {
        thread::sleep(Duration::from_secs(3));
        copiers.iter_mut().for_each(Copier::supervise);
        let broker_turn = broker_done < broker_kills
            && (process_done >= process_kills || e % (every / broker_kills.max(1)).max(1) == 0);
        if broker_turn {
            let first = format!("{tag}-0");
            let node = match broker_done {
                0 => coordinator_of(&bootstrap, &first),
                _ => None,
            }
            .unwrap_or_else(|| (1 + rand(3)).to_string());
            println!("EOS killing broker {node}");
            let down = NodeDown::kill(&node);
            thread::sleep(Duration::from_secs(3));
            // A restart can run over its time on a busy machine: try again before giving
            // up (dropping `down` then makes a last attempt).
            let back = (0..3).any(|_| common::try_broker_ctl(&["restart", &node]).is_ok());
            assert!(back, "broker {node} did not come back");
            std::mem::forget(down);
            broker_done += 1;
        } else {
            let k = rand(PROCESSES as u64) as usize;
            println!("EOS killing copier {k}");
            copiers[k].crash_and_restart();
            process_done += 1;
        }
    }
    feeder.join().unwrap();
    let records = produced.load(Ordering::SeqCst);

    let seen = wait_for_output(
        &bootstrap,
        &output,
        records,
        Duration::from_secs(300),
        || copiers.iter_mut().for_each(Copier::supervise),
    );
    println!("EOS output reached {seen} of {records}");
    // Let any late (duplicate) commit land before the copiers stop.
    thread::sleep(Duration::from_secs(3));
    for c in &mut copiers {
        c.stop();
        println!("EOS copier {} stderr tail:\n{}", c.args[4], c.log_tail());
    }

    let out = common::try_kcat(
        &[
            "-C",
            "-b",
            &bootstrap,
            "-t",
            &output,
            "-o",
            "beginning",
            "-e",
            "-q",
            "-X",
            "isolation.level=read_committed",
            "-f",
            "%s\n",
        ],
        None,
    )
    .expect("kcat reads the output");
    let mut counts: HashMap<String, usize> = HashMap::new();
    for line in String::from_utf8_lossy(&out).lines() {
        *counts.entry(line.to_owned()).or_default() += 1;
    }
    let in_output = counts.values().sum();
    let lost = (0..records)
        .filter(|i| !counts.contains_key(&format!("REC-{i}")))
        .count() as u64;
    let duplicated = counts.values().filter(|n| **n > 1).map(|n| n - 1).sum();
    Figures {
        records,
        process_kills: process_done,
        broker_kills: broker_done,
        in_output,
        lost,
        duplicated,
    }
}

#[test]
fn every_input_record_is_copied_exactly_once_through_crashes() {
    let records = env_or("KAFKA_SYNC_EOS_RECORDS", 20_000);
    let process_kills = env_or("KAFKA_SYNC_EOS_PROCESS_KILLS", 4);
    let broker_kills = env_or("KAFKA_SYNC_EOS_BROKER_KILLS", 1);
    let f = exactly_once_run(records, process_kills, broker_kills);
    println!(
        "EXACTLY-ONCE records={} process_kills={} broker_kills={} in_output={} lost={} duplicated={}",
        f.records, f.process_kills, f.broker_kills, f.in_output, f.lost, f.duplicated
    );
    assert_eq!(f.records, records);
    assert_eq!(f.lost, 0, "input records missing from the output: {f:?}");
    assert_eq!(f.duplicated, 0, "input records copied twice: {f:?}");
    assert_eq!(f.in_output as u64, records, "{f:?}");
}
