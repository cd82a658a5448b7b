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
    let id = unique_name("txn-id");
    let producer = txn_producer(&bootstrap, &id, version);
    let committed = write_mixed(&producer, &topic);
    // Protocol 2 (KIP-890) bumps the epoch with every EndTxn; protocol 1 keeps it.
    let epoch = producer_epoch(&bootstrap, &id);
    if version >= 2 {
        // The last transaction sent nothing, so it needed no EndTxn.
        assert!(
            epoch >= 3,
            "protocol 2: 3 transactions ended, epoch {epoch}"
        );
    } else {
        assert_eq!(epoch, 0, "protocol 1 keeps the epoch");
    }

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

/// The producer epoch the transaction coordinator holds for `id` (Java's
/// `kafka-transactions.sh describe`).
fn producer_epoch(bootstrap: &str, id: &str) -> i16 {
    let row = describe_transaction(bootstrap, id);
    row[3].parse().unwrap_or_else(|_| panic!("bad row {row:?}"))
}

/// The coordinator's row for `id`: coordinator, id, producer id, epoch, state, ...
fn describe_transaction(bootstrap: &str, id: &str) -> Vec<String> {
    let mut cmd = std::process::Command::new(repo_root().join("tests/kafka/broker"));
    cmd.args(["tool", "transactions", "--bootstrap-server", bootstrap])
        .args(["describe", "--transactional-id", id]);
    let out = run(cmd, None, Duration::from_secs(60), false)
        .unwrap()
        .stdout;
    let out = String::from_utf8_lossy(&out);
    let row = out
        .lines()
        .find(|l| l.contains(id))
        .unwrap_or_else(|| panic!("no row for {id}: {out}"));
    row.split_whitespace().map(str::to_owned).collect()
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
    let out = run(cmd, None, Duration::from_secs(90), true)
        .unwrap()
        .stdout;
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
    assert!(
        matches!(send, Err(Error::IllegalState(_))),
        "send outside a transaction"
    );
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

/// Two producers with one transactional id: the newer fences the older, whose next
/// call fails with the fatal `ProducerFenced`, and none of whose writes after that
/// become visible.
#[test]
fn a_newer_producer_fences_the_older_one() {
    for version in [2, 1] {
        let bootstrap = bootstrap();
        let topic = unique_name("txn-zombie");
        kafka_python_create_topic(&bootstrap, &topic, 2, 1);
        let id = unique_name("txn-id");
        let send = |p: &Producer, v: &str| p.send(ProducerRecord::new(topic.as_str()).value(v));

        // The zombie's next call is a commit.
        let old = txn_producer(&bootstrap, &id, version);
        old.init_transactions(T).unwrap();
        old.begin_transaction().unwrap();
        send(&old, "old-1").unwrap();
        old.flush().unwrap();
        let new = txn_producer(&bootstrap, &id, version);
        new.init_transactions(T).unwrap();
        let err = old.commit_transaction(T).unwrap_err();
        assert!(
            matches!(err, Error::ProducerFenced(_)) && err.is_fatal(),
            "v{version}: {err}"
        );
        let later = send(&old, "old-2").unwrap_err();
        assert!(
            later.is_fatal(),
            "v{version}: a fenced producer stays fenced: {later}"
        );
        assert!(old.begin_transaction().unwrap_err().is_fatal());

        // A second zombie sends after it was fenced: its records fail, its commit
        // fails, and an abort says it is fenced.
        let old2 = txn_producer(&bootstrap, &id, version);
        new.begin_transaction().unwrap();
        send(&new, "new-1").unwrap();
        new.commit_transaction(T).unwrap();
        old2.init_transactions(T).unwrap(); // fences `new`
        old2.begin_transaction().unwrap();
        send(&old2, "old2-ok").unwrap();
        old2.commit_transaction(T).unwrap();
        new.begin_transaction().unwrap();
        let future = send(&new, "new-zombie").unwrap();
        assert!(
            future.wait().is_err(),
            "v{version}: the zombie's record is refused"
        );
        let commit = new.commit_transaction(T).unwrap_err();
        assert!(
            commit.is_fatal() || commit.is_abortable(),
            "v{version}: {commit}"
        );
        if commit.is_abortable() {
            let abort = new.abort_transaction(T).unwrap_err();
            assert!(
                matches!(abort, Error::ProducerFenced(_)),
                "v{version}: {abort}"
            );
        }

        let seen = read(&bootstrap, &topic, 2, IsolationLevel::ReadCommitted);
        assert_eq!(sorted(seen), vec!["new-1", "old2-ok"], "v{version}");
    }
}

/// A transaction left open past `transaction_timeout` is aborted by the coordinator;
/// the next call says so (abortable), and after an abort the producer goes on.
#[test]
fn a_transaction_open_too_long_is_aborted_by_the_broker() {
    for version in [1, 2] {
        let bootstrap = bootstrap();
        let topic = unique_name("txn-timeout");
        kafka_python_create_topic(&bootstrap, &topic, 1, 1);
        let id = unique_name("txn-id");
        let p = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .transactional_id(&id)
            .transaction_timeout(Duration::from_secs(1))
            .max_transaction_version(version)
            .build()
            .unwrap();
        p.init_transactions(T).unwrap();
        p.begin_transaction().unwrap();
        p.send(ProducerRecord::new(topic.as_str()).value("late"))
            .unwrap();
        p.flush().unwrap();
        // The coordinator looks for timed-out transactions every 10 s by default.
        wait_for(
            "the coordinator to abort the transaction",
            Duration::from_secs(40),
            || {
                let state = describe_transaction(&bootstrap, &id)[4].clone();
                state.contains("Abort").then_some(())
            },
        );
        let err = p.commit_transaction(T).unwrap_err();
        assert!(err.is_abortable(), "v{version}: {err}");
        p.abort_transaction(T).unwrap();
        p.begin_transaction().unwrap();
        p.send(ProducerRecord::new(topic.as_str()).value("on time"))
            .unwrap();
        p.commit_transaction(T).unwrap();
        let seen = read(&bootstrap, &topic, 1, IsolationLevel::ReadCommitted);
        assert_eq!(seen, vec!["on time"], "v{version}");
    }
}

/// Offsets sent in a transaction commit with it and not when it aborts; the group
/// refuses offsets from a member that is not in its generation.
#[test]
fn offsets_commit_only_with_the_transaction() {
    for version in [2, 1] {
        let bootstrap = bootstrap();
        let input = unique_name("txn-in");
        let output = unique_name("txn-out");
        let group = unique_name("txn-group");
        kafka_python_create_topic(&bootstrap, &input, 1, 1);
        kafka_python_create_topic(&bootstrap, &output, 1, 1);
        let plain = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .build()
            .unwrap();
        for i in 0..10 {
            plain
                .send(ProducerRecord::new(input.as_str()).value(format!("{i}")))
                .unwrap();
        }
        plain.flush().unwrap();
        let mut consumer = Consumer::builder()
            .bootstrap_servers(&bootstrap)
            .group_id(&group)
            .enable_auto_commit(false)
            .auto_offset_reset(OffsetReset::Earliest)
            .isolation_level(IsolationLevel::ReadCommitted)
            .build()
            .unwrap();
        consumer.subscribe([input.as_str()]).unwrap();
        let first = consumer.iter().next().unwrap().unwrap();
        assert_eq!(first.offset, 0);
        let meta = consumer.group_metadata().unwrap();
        assert_eq!(meta.group_id, group);
        assert!(meta.generation_id >= 1, "{meta:?}");
        assert!(!meta.member_id.is_empty(), "{meta:?}");

        let tp = TopicPartition::new(input.as_str(), 0);
        let offsets = |o: i64| {
            let mut m = std::collections::BTreeMap::new();
            m.insert(
                tp.clone(),
                kafka_sync::OffsetAndMetadata {
                    offset: o,
                    metadata: String::new(),
                    leader_epoch: None,
                },
            );
            m
        };
        let p = txn_producer(&bootstrap, &unique_name("txn-id"), version);
        p.init_transactions(T).unwrap();
        p.begin_transaction().unwrap();
        p.send(ProducerRecord::new(output.as_str()).value("aborted"))
            .unwrap();
        p.send_offsets_to_transaction(offsets(5), &meta, T).unwrap();
        p.abort_transaction(T).unwrap();
        assert_eq!(
            consumer.committed(&tp).unwrap(),
            None,
            "v{version}: aborted"
        );

        p.begin_transaction().unwrap();
        p.send(ProducerRecord::new(output.as_str()).value("committed"))
            .unwrap();
        p.send_offsets_to_transaction(offsets(7), &meta, T).unwrap();
        p.commit_transaction(T).unwrap();
        let committed = consumer.committed(&tp).unwrap().map(|o| o.offset);
        assert_eq!(committed, Some(7), "v{version}");

        // A zombie member (a generation the group has left behind) cannot commit.
        let mut zombie = meta.clone();
        zombie.generation_id += 5;
        p.begin_transaction().unwrap();
        let err = p
            .send_offsets_to_transaction(offsets(9), &zombie, T)
            .unwrap_err();
        assert!(err.is_abortable(), "v{version}: {err}");
        p.abort_transaction(T).unwrap();
        let committed = consumer.committed(&tp).unwrap().map(|o| o.offset);
        assert_eq!(committed, Some(7), "v{version}: the zombie's offsets");
        let seen = read(&bootstrap, &output, 1, IsolationLevel::ReadCommitted);
        assert_eq!(seen, vec!["committed"], "v{version}");
    }
}

/// The Java client's transactional producer (kafka-tools' TransactionalMessageCopier,
/// aborting transactions at random) and kafka-sync's read_committed consumer agree:
/// every input record once, aborted ones never, and the consumer reaches the end of
/// the log past the final commit marker.
#[test]
fn java_transactions_read_committed_by_kafka_sync() {
    let bootstrap = bootstrap();
    let input = unique_name("txn-java-in");
    let output = unique_name("txn-java-out");
    kafka_python_create_topic(&bootstrap, &input, 1, 1);
    kafka_python_create_topic(&bootstrap, &output, 1, 1);
    let plain = Producer::builder()
        .bootstrap_servers(&bootstrap)
        .build()
        .unwrap();
    const N: usize = 1000;
    for i in 0..N {
        plain
            .send(ProducerRecord::new(input.as_str()).value(format!("in-{i}")))
            .unwrap();
    }
    plain.flush().unwrap();

    let mut cmd = std::process::Command::new(repo_root().join("tests/kafka/broker"));
    cmd.args(["tool", "org.apache.kafka.tools.TransactionalMessageCopier"])
        .args(["--broker-list", &bootstrap, "--input-topic", &input])
        .args(["--input-partition", "0", "--output-topic", &output])
        .args(["--transactional-id", &unique_name("java-tx")])
        .args(["--consumer-group", &unique_name("java-group")])
        .args(["--transaction-size", "50", "--enable-random-aborts"])
        .args(["--use-group-metadata"]);
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    let out = run(cmd, None, Duration::from_secs(180), true).unwrap();
    assert!(out.status.success(), "the Java copier failed: {out:?}");

    let expected: Vec<String> = (0..N).map(|i| format!("in-{i}")).collect();
    let rc = read(&bootstrap, &output, 1, IsolationLevel::ReadCommitted);
    assert_eq!(rc, expected, "read_committed: each input once, in order");
    let ru = read(&bootstrap, &output, 1, IsolationLevel::ReadUncommitted);
    assert!(
        ru.len() > N,
        "read_uncommitted also sees the aborted transactions' records ({} records)",
        ru.len()
    );

    // No stall at the final control batch: the position reaches the log's end.
    let mut c = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .auto_offset_reset(OffsetReset::Earliest)
        .isolation_level(IsolationLevel::ReadCommitted)
        .consumer_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let tp = TopicPartition::new(output.as_str(), 0);
    c.assign([tp.clone()]).unwrap();
    let mut count = 0;
    for r in c.iter() {
        r.unwrap();
        count += 1;
    }
    assert_eq!(count, N);
    let end = c.end_offsets(std::slice::from_ref(&tp)).unwrap()[&tp];
    assert_eq!(
        c.position(&tp).unwrap(),
        end,
        "the position passes the last marker"
    );
}

/// A record the broker refuses makes the transaction abortable: commit says so, the
/// abort succeeds, and the next transaction commits.
#[test]
fn a_failed_record_makes_the_transaction_abortable() {
    for version in [2, 1] {
        let bootstrap = bootstrap();
        let topic = unique_name("txn-refused");
        try_kafka_python_create_topic(&bootstrap, &topic, 1, 1, &[("max.message.bytes", "2000")])
            .unwrap();
        let p = txn_producer(&bootstrap, &unique_name("txn-id"), version);
        p.init_transactions(T).unwrap();
        p.begin_transaction().unwrap();
        p.send(ProducerRecord::new(topic.as_str()).value("small"))
            .unwrap();
        let big = p
            .send(ProducerRecord::new(topic.as_str()).value(vec![b'x'; 10_000]))
            .unwrap();
        assert!(big.wait().is_err(), "v{version}: the broker refuses it");
        let err = p.commit_transaction(T).unwrap_err();
        assert!(err.is_abortable(), "v{version}: {err}");
        let send = p.send(ProducerRecord::new(topic.as_str()).value("after"));
        assert!(
            send.unwrap_err().is_abortable(),
            "v{version}: until aborted"
        );
        p.abort_transaction(T).unwrap();
        p.begin_transaction().unwrap();
        p.send(ProducerRecord::new(topic.as_str()).value("next"))
            .unwrap();
        p.commit_transaction(T).unwrap();
        let seen = read(&bootstrap, &topic, 1, IsolationLevel::ReadCommitted);
        assert_eq!(seen, vec!["next"], "v{version}");
    }
}
