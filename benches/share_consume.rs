//! Share-group consume throughput and CPU per record: kafka-sync's `ShareConsumer`
//! against Java's `KafkaShareConsumer` (the console share consumer with its no-op
//! formatter), on one broker, interleaved.
//!
//! ```text
//! tests/kafka/broker start
//! KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 cargo bench --bench share_consume -- [records] [repeats]
//! ```
//!
//! Fills a 1-partition topic with `records` (default 500k) values of 100 bytes, then per
//! repeat (default 3) reads them all with a fresh share group (implicit acknowledgement,
//! `share.auto.offset.reset=earliest`): kafka-sync in this process (CPU from
//! /proc/self/stat from subscribe to the last acknowledgement, join included, close
//! not), then Java under `/usr/bin/time`. Java's figures are also given less one run that
//! reads a single record (JVM start, join and close).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use kafka_sync::admin::{AdminClient, AlterConfigOp, ConfigResource, ConfigResourceType, NewTopic};
use kafka_sync::share_consumer::ShareConsumer;
use kafka_sync::{Acks, Producer, ProducerRecord};

/// User + system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn group(admin: &AdminClient, name: &str) -> kafka_sync::Result<String> {
    let changes = BTreeMap::from([(
        ConfigResource::new(ConfigResourceType::Group, name),
        vec![AlterConfigOp::set("share.auto.offset.reset", "earliest")],
    )]);
    for (_, r) in admin.incremental_alter_configs(&changes, false)? {
        r?;
    }
    Ok(name.to_owned())
}

/// Wall seconds and CPU seconds of kafka-sync reading `records`.
fn kafka_sync_run(servers: &str, topic: &str, group: &str, records: usize) -> (f64, f64) {
    let mut c = ShareConsumer::builder()
        .bootstrap_servers(servers)
        .group_id(group)
        .build()
        .expect("share consumer");
    c.subscribe([topic]).expect("subscribe");
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let mut n = 0;
    while n < records {
        n += c.poll(Duration::from_secs(1)).expect("poll").len();
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "only {n} records in 10 min"
        );
    }
    // The last acknowledgements are part of the work; closing the session and leaving
    // are not (the Java figures less a one-record run leave them out too).
    let committed = c.commit_sync(Duration::from_secs(30)).expect("commit");
    assert!(committed.values().all(|r| r.is_ok()), "{committed:?}");
    let measured = (t0.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    let t1 = Instant::now();
    c.close(Duration::from_secs(10));
    println!("kafka-sync close: {:.2} s", t1.elapsed().as_secs_f64());
    measured
}

/// Wall, user+system seconds of Java's console share consumer reading `records`.
fn java_run(servers: &str, topic: &str, group: &str, records: usize) -> (f64, f64) {
    let broker = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka/broker");
    let out = Command::new("/usr/bin/time")
        .args(["-f", "TIME %e %U %S", broker, "tool"])
        .arg("org.apache.kafka.tools.consumer.ConsoleShareConsumer")
        .args([
            "--bootstrap-server",
            servers,
            "--topic",
            topic,
            "--group",
            group,
        ])
        .args(["--max-messages", &records.to_string()])
        .args([
            "--formatter",
            "org.apache.kafka.tools.consumer.NoOpMessageFormatter",
        ])
        .output()
        .expect("java console share consumer");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("TIME "))
        .unwrap_or_else(|| panic!("no timing from the Java run: {stderr}"));
    let v: Vec<f64> = line.split(' ').filter_map(|x| x.parse().ok()).collect();
    (v[0], v[1] + v[2])
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> kafka_sync::Result<()> {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let records: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500_000);
    let repeats: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let servers =
        std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let id = std::process::id();
    let topic = format!("share-bench-{id}-{records}");
    let admin = AdminClient::builder().bootstrap_servers(&servers).build()?;
    admin.create_topics(&[NewTopic::new(&topic, 1, 1)], Default::default())?;
    let producer = Producer::builder()
        .bootstrap_servers(&servers)
        .acks(Acks::Leader)
        .linger(Duration::from_millis(5))
        .batch_size(64 * 1024)
        .build()?;
    let value = vec![b'x'; 100];
    for _ in 0..records {
        producer.send(ProducerRecord::new(topic.as_str()).value(&value))?;
    }
    producer.flush()?;
    drop(producer);

    let java_base = java_run(
        &servers,
        &topic,
        &group(&admin, &format!("sb-{id}-base"))?,
        1,
    );
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for r in 0..repeats {
        let g = group(&admin, &format!("sb-{id}-ks-{r}"))?;
        let (wall, cpu) = kafka_sync_run(&servers, &topic, &g, records);
        println!("kafka-sync run {r}: {wall:.2} s wall, {cpu:.2} s CPU");
        ours.push((wall, cpu));
        let g = group(&admin, &format!("sb-{id}-java-{r}"))?;
        let (wall, cpu) = java_run(&servers, &topic, &g, records);
        println!("java       run {r}: {wall:.2} s wall, {cpu:.2} s CPU (one-record run: {:.2} s, {:.2} s)", java_base.0, java_base.1);
        theirs.push((wall, cpu));
    }
    let per = |v: &[(f64, f64)], base: (f64, f64)| {
        let wall = median(v.iter().map(|x| x.0 - base.0).collect());
        let cpu = median(v.iter().map(|x| x.1 - base.1).collect());
        (records as f64 / wall, cpu / records as f64 * 1e9)
    };
    let (ks_rate, ks_ns) = per(&ours, (0.0, 0.0));
    let (j_rate, j_ns) = per(&theirs, (0.0, 0.0));
    let (jb_rate, jb_ns) = per(&theirs, java_base);
    println!("{records} records of 100 B, median of {repeats}:");
    println!("  kafka-sync ShareConsumer: {ks_rate:.0} rec/s, {ks_ns:.0} ns CPU/record");
    println!(
        "  Java KafkaShareConsumer:  {j_rate:.0} rec/s, {j_ns:.0} ns CPU/record (whole process)"
    );
    println!("  Java less a one-record run: {jb_rate:.0} rec/s, {jb_ns:.0} ns CPU/record");
    admin.delete_topics(&[topic.as_str()], None)?;
    Ok(())
}
