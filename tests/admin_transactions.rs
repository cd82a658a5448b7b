//! Transactions and producers through the AdminClient, against the real broker:
//! describe_producers on an idempotent producer's writes, and describe_transactions /
//! list_transactions on a kafka-python transaction while it is open and once committed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use kafka_sync::admin::{AdminClient, CreateTopicsOptions, ListTransactionsOptions, NewTopic};
use kafka_sync::{ErrorCode, Producer, ProducerRecord, TopicPartition};

fn admin() -> AdminClient {
    AdminClient::builder()
        .bootstrap_servers(common::bootstrap())
        .client_id("kafka-sync-admin-transactions-test")
        .default_api_timeout(Duration::from_secs(30))
        .build()
        .expect("admin client")
}

fn create_topic(admin: &AdminClient, partitions: i32) -> String {
    let topic = common::unique_name("admin-txn");
    let created = admin
        .create_topics(
            &[NewTopic::new(&topic, partitions, 1)],
            CreateTopicsOptions::default(),
        )
        .unwrap();
    created[&topic].clone().unwrap();
    topic
}

fn produce(topic: &str, partition: i32, count: usize, idempotent: bool) {
    let producer = Producer::builder()
        .bootstrap_servers(common::bootstrap())
        .enable_idempotence(idempotent)
        .build()
        .unwrap();
    let deliveries: Vec<_> = (0..count)
        .map(|i| {
            let rec = ProducerRecord::new(topic)
                .partition(partition)
                .value(format!("v{i}"));
            producer.send(rec).unwrap()
        })
        .collect();
    for d in deliveries {
        d.wait().unwrap();
    }
}

#[test]
fn describes_the_producers_of_idempotent_writes() {
    let admin = admin();
    let topic = create_topic(&admin, 3);
    let [tp0, tp1, tp2] = [0, 1, 2].map(|p| TopicPartition::new(&topic, p));
    produce(&topic, 0, 5, true);
    produce(&topic, 0, 3, true);
    // A producer without idempotence keeps no state on the broker.
    produce(&topic, 1, 4, false);
    let missing = TopicPartition::new(&topic, 9);

    let described = admin
        .describe_producers(&[tp0.clone(), tp1.clone(), tp2.clone(), missing.clone()])
        .unwrap();
    let mut on_tp0 = described[&tp0].clone().unwrap();
    on_tp0.sort_by_key(|p| p.last_sequence);
    assert_eq!(on_tp0.len(), 2, "{on_tp0:?}");
    assert_eq!(
        on_tp0.iter().map(|p| p.last_sequence).collect::<Vec<_>>(),
        [2, 4]
    );
    assert_ne!(on_tp0[0].producer_id, on_tp0[1].producer_id);
    for p in &on_tp0 {
        assert!(p.producer_id >= 0 && p.producer_epoch >= 0, "{p:?}");
        assert!(p.last_timestamp > 0, "{p:?}");
        assert_eq!(p.current_transaction_start_offset, None, "{p:?}");
    }
    assert_eq!(described[&tp1].clone().unwrap(), []);
    assert_eq!(described[&tp2].clone().unwrap(), []);
    assert_eq!(
        described[&missing].as_ref().unwrap_err().code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    );
    admin.delete_topics(&[&topic], None).unwrap();
}

/// A kafka-python producer that writes one record to partition 0 in a transaction,
/// prints `open`, commits once `flag` exists and prints `committed`.
const TRANSACTION: &str = r#"
import os, sys, time
from kafka import KafkaProducer
bootstrap, topic, txid, flag = sys.argv[1:5]
p = KafkaProducer(bootstrap_servers=bootstrap.split(","), transactional_id=txid)
p.init_transactions()
p.begin_transaction()
p.send(topic, b"in-a-transaction", partition=0).get(timeout=30)
print("open", flush=True)
deadline = time.time() + 60
while not os.path.exists(flag) and time.time() < deadline:
    time.sleep(0.05)
p.commit_transaction()
print("committed", flush=True)
p.close()
"#;

struct Flag(PathBuf);

impl Drop for Flag {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn describes_and_lists_a_transaction_while_open_and_after_commit() {
    let admin = admin();
    let topic = create_topic(&admin, 1);
    let tp0 = TopicPartition::new(&topic, 0);
    let txid = common::unique_name("admin-txid");
    let flag = Flag(std::env::temp_dir().join(common::unique_name("admin-txn-flag")));
    let mut cmd = Command::new(common::python_path());
    cmd.arg("-c").arg(TRANSACTION).args([
        common::bootstrap().as_str(),
        topic.as_str(),
        txid.as_str(),
        flag.0.to_str().unwrap(),
    ]);
    let peer = common::Background::spawn(cmd);
    let wait_line = |line: &str| {
        common::wait_for(line, Duration::from_secs(60), || {
            peer.lines().iter().any(|l| l == line).then_some(())
        })
    };
    wait_line("open");

    let unknown = common::unique_name("admin-txid-none");
    let described = admin.describe_transactions(&[&txid, &unknown]).unwrap();
    let open = described[&txid]
        .clone()
        .unwrap_or_else(|e| panic!("{e}; peer: {}", peer.stderr_tail()));
    assert_eq!(open.state, "Ongoing", "{open:?}");
    assert_eq!(open.partitions, BTreeSet::from([tp0.clone()]));
    assert_eq!(open.timeout, Duration::from_secs(60));
    assert!(
        open.start_time_ms.is_some() && open.producer_id >= 0,
        "{open:?}"
    );
    assert_eq!(
        described[&unknown].as_ref().unwrap_err().code(),
        Some(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND)
    );

    let listed = admin
        .list_transactions(ListTransactionsOptions::default())
        .unwrap();
    let ours = listed
        .iter()
        .find(|t| t.transactional_id == txid)
        .unwrap_or_else(|| panic!("{txid} not in {listed:?}"));
    assert_eq!(
        (ours.producer_id, ours.state.as_str()),
        (open.producer_id, "Ongoing")
    );
    let by_producer = admin
        .list_transactions(ListTransactionsOptions {
            producer_ids: vec![open.producer_id],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_producer, std::slice::from_ref(ours));

    let producers = admin
        .describe_producers(std::slice::from_ref(&tp0))
        .unwrap();
    let states = producers[&tp0].clone().unwrap();
    let writer = states
        .iter()
        .find(|p| p.producer_id == open.producer_id)
        .unwrap_or_else(|| panic!("{states:?}"));
    assert_eq!(
        writer.current_transaction_start_offset,
        Some(0),
        "{writer:?}"
    );

    std::fs::write(&flag.0, b"commit").unwrap();
    wait_line("committed");
    let done = common::retry(
        "transaction complete",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            let d = admin
                .describe_transactions(&[&txid])
                .map_err(|e| e.to_string())?;
            let d = d[&txid].clone().map_err(|e| e.to_string())?;
            if d.state == "CompleteCommit" {
                Ok(d)
            } else {
                Err(format!("{d:?}"))
            }
        },
    );
    assert!(done.partitions.is_empty(), "{done:?}");
    let ongoing = admin
        .list_transactions(ListTransactionsOptions {
            states: vec!["Ongoing".into()],
            ..Default::default()
        })
        .unwrap();
    assert!(
        !ongoing.iter().any(|t| t.transactional_id == txid),
        "{ongoing:?}"
    );
    let committed: BTreeMap<_, _> = admin
        .list_transactions(ListTransactionsOptions {
            states: vec!["CompleteCommit".into()],
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|t| (t.transactional_id.clone(), t))
        .collect();
    assert_eq!(committed[&txid].state, "CompleteCommit");
    admin.delete_topics(&[&topic], None).unwrap();
}
