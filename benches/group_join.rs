//! How long a group takes to be stable again after a member joins: the classic protocol
//! (cooperative-sticky) against the KIP-848 consumer protocol.
//!
//! ```text
//! KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 cargo bench --all-features --bench group_join -- classic|consumer MEMBERS [ROUNDS]
//! benches/group_join.sh    # both protocols, 3 and 10 members, beside the Java client
//! ```
//!
//! MEMBERS - 1 consumers (one thread each, polling every 20 ms) share a topic of
//! 2 × MEMBERS partitions. Each round one more member subscribes; the time from its
//! `subscribe` to the group being stable (every member owns partitions, none twice, all
//! owned) is one sample. The member then closes and the group settles before the next
//! round. Prints every sample and the median, in milliseconds. Both protocols run with
//! their defaults: classic heartbeats every 3 s, the broker's consumer groups every 5 s.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kafka_sync::admin::{AdminClient, NewTopic};
use kafka_sync::config::GroupProtocol;
use kafka_sync::{AssignmentStrategy, Consumer, TopicPartition};

struct Member {
    owned: Arc<Mutex<BTreeSet<TopicPartition>>>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

fn start(servers: &str, group: &str, topic: &str, protocol: GroupProtocol) -> Member {
    let mut b = Consumer::builder()
        .bootstrap_servers(servers)
        .group_id(group)
        .group_protocol(protocol)
        .enable_auto_commit(false);
    if protocol == GroupProtocol::Classic {
        b = b.partition_assignment_strategy(&[AssignmentStrategy::CooperativeSticky]);
    }
    let mut consumer = b.build().expect("consumer");
    consumer.subscribe([topic]).expect("subscribe");
    let owned = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (o, s) = (owned.clone(), stop.clone());
    let thread = std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            let _ = consumer.poll(Duration::from_millis(20));
            *o.lock().unwrap() = consumer.assignment();
        }
        consumer.close(Duration::from_secs(10));
    });
    Member {
        owned,
        stop,
        thread,
    }
}

fn stable(members: &[Member], partitions: usize) -> bool {
    let sets: Vec<BTreeSet<TopicPartition>> = members
        .iter()
        .map(|m| m.owned.lock().unwrap().clone())
        .collect();
    let total: usize = sets.iter().map(BTreeSet::len).sum();
    let union: BTreeSet<&TopicPartition> = sets.iter().flatten().collect();
    sets.iter().all(|s| !s.is_empty()) && total == partitions && union.len() == partitions
}

fn wait_stable(members: &[Member], partitions: usize, timeout: Duration) -> Duration {
    let t0 = Instant::now();
    while !stable(members, partitions) {
        assert!(
            t0.elapsed() < timeout,
            "the group was not stable within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    t0.elapsed()
}

fn main() -> kafka_sync::Result<()> {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let protocol: GroupProtocol = args
        .next()
        .unwrap_or_else(|| "consumer".into())
        .parse()
        .expect("classic or consumer");
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let servers =
        std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let id = format!("{}-{}", std::process::id(), protocol);
    let topic = format!("group-join-{id}-{n}");
    let group = format!("group-join-{id}-{n}");
    let partitions = 2 * n;
    let admin = AdminClient::builder().bootstrap_servers(&servers).build()?;
    admin.create_topics(
        &[NewTopic::new(&topic, partitions as i32, 1)],
        Default::default(),
    )?;
    let timeout = Duration::from_secs(120);

    let mut members: Vec<Member> = (1..n)
        .map(|_| start(&servers, &group, &topic, protocol))
        .collect();
    wait_stable(&members, partitions, timeout);
    let mut samples = Vec::new();
    for _ in 0..rounds {
        let t0 = Instant::now();
        members.push(start(&servers, &group, &topic, protocol));
        while !stable(&members, partitions) {
            assert!(t0.elapsed() < timeout, "not stable within {timeout:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        println!("sample: kafka-sync {protocol} {n} members: {ms:.0} ms");
        samples.push(ms);
        let last = members.pop().expect("the new member");
        last.stop.store(true, Ordering::Relaxed);
        last.thread.join().expect("member");
        wait_stable(&members, partitions, timeout);
    }
    samples.sort_by(f64::total_cmp);
    println!(
        "kafka-sync {protocol} {n} members: median {:.0} ms to stable after a join (samples {samples:.0?})",
        samples[samples.len() / 2]
    );
    for m in &members {
        m.stop.store(true, Ordering::Relaxed);
    }
    for m in members {
        m.thread.join().expect("member");
    }
    Ok(())
}
