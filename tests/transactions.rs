//! The transactional producer against the real broker: what read_committed consumers
//! (kafka-sync, kafka-python, the Java console consumer) see of committed and aborted
//! transactions, in both transaction protocols.

mod common;

use std::time::Duration;

use common::*;
use kafka_sync::{
    Consumer, Error, IsolationLevel, OffsetReset, Producer, ProducerRecord, TopicPartition,
};

const T: Duration = Duration::from_secs(30);

fn txn_producer(bootstrap: &str, id: &str, version: i16) -> Producer {
    Producer::builder()
        .bootstrap_servers(bootstrap)
        .transactional_id(id)
        .max_transaction_version(version)
        .build()
        .unwrap()
}

/// Every value of `topic` (partition order, then offset order) that a kafka-sync
/// consumer with `level` reads.
fn read(bootstrap: &str, topic: &str, partitions: i32, level: IsolationLevel) -> Vec<String> {
    let mut c = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .auto_offset_reset(OffsetReset::Earliest)
        .isolation_level(level)
        .consumer_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    c.assign((0..partitions).map(|p| TopicPartition::new(topic, p)))
        .unwrap();
    let mut got: Vec<(i32, i64, String)> = c
        .iter()
        .map(|r| {
            let r = r.unwrap();
            let v = String::from_utf8(r.value.unwrap().to_vec()).unwrap();
            (r.partition, r.offset, v)
        })
        .collect();
    got.sort();
    got.into_iter().map(|(_, _, v)| v).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn names(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}-{i}")).collect()
}

/// Writes: committed 0..10, aborted 0..10 (sent and flushed), committed 10..20, aborted
/// 10..15 (never flushed). Returns the committed values.
fn write_mixed(producer: &Producer, topic: &str) -> Vec<String> {
    producer.init_transactions(T).unwrap();
    let send_all = |prefix: &str, range: std::ops::Range<usize>| {
        for v in names(prefix, range) {
            producer
                .send(ProducerRecord::new(topic).key(v.as_str()).value(v.as_str()))
                .unwrap();
        }
    };
    producer.begin_transaction().unwrap();
    send_all("committed", 0..10);
    producer.commit_transaction(T).unwrap();

    producer.begin_transaction().unwrap();
    send_all("aborted", 0..10);
    producer.flush().unwrap();
    producer.abort_transaction(T).unwrap();

    producer.begin_transaction().unwrap();
    send_all("committed", 10..20);
    producer.commit_transaction(T).unwrap();

    producer.begin_transaction().unwrap();
    send_all("aborted", 10..15);
    producer.abort_transaction(T).unwrap();
    names("committed", 0..20)
}

fn committed_and_aborted(version: i16) {
    let bootstrap = bootstrap();
    let topic = unique_name("txn-mixed");
    kafka_python_create_topic(&bootstrap, &topic, 3, 1);
    let producer = txn_producer(&bootstrap, &unique_name("txn-id"), version);
    let committed = write_mixed(&producer, &topic);

    let rc = read(&bootstrap, &topic, 3, IsolationLevel::ReadCommitted);
    assert_eq!(sorted(rc), sorted(committed.clone()));
    let ru = read(&bootstrap, &topic, 3, IsolationLevel::ReadUncommitted);
    let mut all = committed.clone();
    all.extend(names("aborted", 0..10));
    assert_eq!(
        sorted(ru),
        sorted(all),
        "read_uncommitted sees the aborted records that were sent (and none never sent)"
    );

    // kafka-python, read_committed.
    let script = format!(
        "from kafka import KafkaConsumer, TopicPartition\n\
         c = KafkaConsumer(bootstrap_servers='{bootstrap}', isolation_level='read_committed',\n\
                           auto_offset_reset='earliest', consumer_timeout_ms=5000)\n\
         c.assign([TopicPartition('{topic}', p) for p in range(3)])\n\
         for m in c: print(m.value.decode())\n"
    );
    let py: Vec<String> = python(&script, &[]).lines().map(str::to_owned).collect();
    assert_eq!(sorted(py), sorted(committed.clone()), "kafka-python");

    // The Java console consumer, read_committed.
    let java = java_console_consume(&bootstrap, &topic, committed.len());
    assert_eq!(sorted(java), sorted(committed), "Java console consumer");
}

fn java_console_consume(bootstrap: &str, topic: &str, max: usize) -> Vec<String> {
    let mut cmd = std::process::Command::new(repo_root().join("tests/kafka/broker"));
    cmd.args([
        "tool",
        "console-consumer",
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--from-beginning",
        "--isolation-level",
        "read_committed",
        "--timeout-ms",
        "8000",
        "--max-messages",
        &(max + 1).to_string(),
    ]);
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    let out = run(cmd, None, Duration::from_secs(90), true).unwrap().stdout;
    String::from_utf8_lossy(&out)
        .lines()
        .filter(|l| l.starts_with("committed-") || l.starts_with("aborted-"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn committed_and_aborted_transactions_protocol_2() {
    committed_and_aborted(2);
}

#[test]
fn committed_and_aborted_transactions_protocol_1() {
    committed_and_aborted(1);
}

#[test]
fn calls_in_the_wrong_state_are_illegal_state() {
    let bootstrap = bootstrap();
    let topic = unique_name("txn-state");
    kafka_python_create_topic(&bootstrap, &topic, 1, 1);
    let p = txn_producer(&bootstrap, &unique_name("txn-id"), 2);
    let illegal = |r: kafka_sync::Result<()>| matches!(r, Err(Error::IllegalState(_)));
    assert!(illegal(p.begin_transaction()), "before init");
    assert!(illegal(p.commit_transaction(T)), "before init");
    p.init_transactions(T).unwrap();
    assert!(illegal(p.commit_transaction(T)), "no open transaction");
    assert!(illegal(p.abort_transaction(T)), "no open transaction");
    let send = p.send(ProducerRecord::new(topic.as_str()).value("x"));
    assert!(matches!(send, Err(Error::IllegalState(_))), "send outside a transaction");
    p.begin_transaction().unwrap();
    assert!(illegal(p.begin_transaction()), "already in a transaction");
    p.send(ProducerRecord::new(topic.as_str()).value("x"))
        .unwrap();
    p.commit_transaction(T).unwrap();

    let plain = Producer::builder()
        .bootstrap_servers(&bootstrap)
        .build()
        .unwrap();
    assert!(illegal(plain.init_transactions(T)), "not transactional");
    assert!(illegal(plain.begin_transaction()));
}
