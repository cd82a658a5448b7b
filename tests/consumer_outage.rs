//! The consumer through a whole-cluster outage on the 3-node cluster: `close` and `Drop`
//! keep to their timeouts while no broker answers, and a group member resumes within a
//! few seconds of the brokers' return even when the outage outlasted its session.
//!
//! It stops every node: nothing else may use the cluster while it runs (`tests/run`
//! runs test binaries one at a time).

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::*;
use kafka_sync::{Consumer, OffsetReset, Producer, ProducerRecord};

/// Every cluster node killed; all of them are started again together (one alone cannot
/// form the KRaft quorum it waits for), also when the test fails.
struct ClusterDown(bool);

impl ClusterDown {
    fn kill_all() -> ClusterDown {
        let down = ClusterDown(true);
        for n in ["1", "2", "3"] {
            broker_ctl(&["kill", n]);
        }
        down
    }

    fn restart_all(mut self) {
        self.0 = false;
        restart_nodes().expect("restarting the cluster");
    }
}

fn restart_nodes() -> Result<(), String> {
    let restarts: Vec<_> = ["1", "2", "3"]
        .into_iter()
        .map(|n| thread::spawn(move || try_broker_ctl(&["restart", n])))
        .collect();
    for r in restarts {
        r.join()
            .map_err(|_| "restart thread panicked".to_owned())??;
    }
    Ok(())
}

impl Drop for ClusterDown {
    fn drop(&mut self) {
        if self.0 {
            if let Err(e) = restart_nodes() {
                eprintln!("restarting the cluster after a failure: {e}");
            }
        }
    }
}

fn produce(bootstrap: &str, topic: &str, values: std::ops::Range<usize>) {
    let p = Producer::builder()
        .bootstrap_servers(bootstrap)
        .delivery_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let futures: Vec<_> = values
        .map(|i| {
            p.send(ProducerRecord::new(topic).value(format!("{i}")))
                .unwrap()
        })
        .collect();
    for f in futures {
        f.wait().unwrap();
    }
}

/// Reads until `n` records came, tolerating the outage errors polls report meanwhile.
fn read(c: &mut Consumer, n: usize, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < n {
        assert!(
            Instant::now() < deadline,
            "read {} of {n} records within {within:?}",
            got.len()
        );
        match c.poll(Duration::from_millis(200)) {
            Ok(records) => got.extend(
                records
                    .into_values()
                    .flatten()
                    .map(|r| String::from_utf8_lossy(r.value.as_ref().unwrap()).into_owned()),
            ),
            Err(e) => eprintln!("poll: {e}"),
        }
    }
    got
}

#[test]
fn close_keeps_its_timeout_and_members_resume_soon_after_a_long_outage() {
    let _lock = cluster_fault_lock();
    let bs = cluster_bootstrap();
    let topic = unique_name("outage");
    // The cluster may just be back from another fault test: retry until it takes it.
    retry(
        "creating the topic",
        Duration::from_secs(60),
        Duration::from_secs(1),
        || match try_kafka_python_create_topic(&bs, &topic, 1, 3, &[]) {
            Err(e) if !e.contains("TopicAlreadyExists") => Err(e),
            _ => Ok(()),
        },
    );
    produce(&bs, &topic, 0..10);
    let session = Duration::from_secs(20);
    let member = |group: &str| {
        Consumer::builder()
            .bootstrap_servers(&bs)
            .group_id(group)
            .client_id(unique_name("outage"))
            .auto_offset_reset(OffsetReset::Earliest)
            .session_timeout(session)
            .heartbeat_interval(Duration::from_secs(1))
    };
    let mut survivor = member(&unique_name("outage-g")).build().unwrap();
    survivor.subscribe([topic.as_str()]).unwrap();
    let mut closed = member(&unique_name("outage-close-g")).build().unwrap();
    closed.subscribe([topic.as_str()]).unwrap();
    // Default settings: Drop must still keep to its own bound.
    let mut dropped = Consumer::builder()
        .bootstrap_servers(&bs)
        .group_id(unique_name("outage-drop-g"))
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    dropped.subscribe([topic.as_str()]).unwrap();
    for c in [&mut survivor, &mut closed, &mut dropped] {
        assert_eq!(read(c, 10, Duration::from_secs(60)).len(), 10);
    }
    // What the survivor read is committed: after the outage it resumes at 10.
    survivor.commit().unwrap();

    let down = ClusterDown::kill_all();
    let started = Instant::now();
    closed.close(Duration::from_millis(100));
    let close_took = started.elapsed();
    let dropping = thread::spawn(move || {
        let started = Instant::now();
        drop(dropped);
        started.elapsed()
    });
    // The outage outlasts the session timeout; the survivor keeps polling through it.
    let outage = session + Duration::from_secs(3);
    while started.elapsed() < outage {
        if let Err(e) = survivor.poll(Duration::from_millis(200)) {
            eprintln!("poll during the outage: {e}");
        }
    }
    let drop_took = dropping.join().expect("drop thread");
    eprintln!("close(100 ms) took {close_took:?}, drop took {drop_took:?}");
    down.restart_all();
    let back = Instant::now();
    eprintln!("cluster back after {:?}", started.elapsed());

    let producer = thread::spawn({
        let (bs, topic) = (bs.clone(), topic.clone());
        move || produce(&bs, &topic, 10..15)
    });
    // A few seconds for the group coordinator to load and the member to rejoin or carry
    // on; the session timeout (20 s) is what a member stuck waiting for its old self
    // would add.
    let got = read(&mut survivor, 5, Duration::from_secs(15));
    producer.join().expect("producer");
    eprintln!(
        "records read {:?} after the cluster came back",
        back.elapsed()
    );
    assert_eq!(got, ["10", "11", "12", "13", "14"]);
    assert!(
        close_took < Duration::from_millis(100) + Duration::from_secs(1),
        "close(100 ms) took {close_took:?}"
    );
    assert!(
        drop_took < Duration::from_secs(10) + Duration::from_secs(1),
        "drop with default settings took {drop_took:?}"
    );
    survivor.close(Duration::from_secs(5));
}
