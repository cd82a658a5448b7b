//! KIP-368 re-authentication against the broker's REAUTH listener
//! (`connections.max.reauth.ms=10000`): 60 s of steady produce and consume with SASL
//! PLAIN. Every connection must re-authenticate before its session ends (the broker closes
//! one that does not), and no request may fail, be lost or be reordered meanwhile. The
//! re-authentications show in the client's log and in the broker's (the test brokers log
//! their SASL authenticator at DEBUG).

mod common;

use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use common::secured::{self, listener};
use kafka_sync::{Consumer, OffsetReset, Producer, ProducerRecord};

/// The client's "re-authenticated" log lines, captured.
static REAUTH_LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let line = record.args().to_string();
        if line.starts_with("re-authenticated with") {
            REAUTH_LINES.lock().unwrap().push(line);
        }
    }
    fn flush(&self) {}
}

/// The most authentications one connection logged.
fn most_authentications_on_one_connection() -> u64 {
    REAUTH_LINES
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| {
            let n = l.rsplit_once('(')?.1.split_whitespace().next()?;
            n.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

/// The re-authentications the single broker has logged so far.
fn broker_reauthentications() -> usize {
    let out = std::process::Command::new(common::repo_root().join("tests/kafka/broker"))
        .args(["logs", "--name", "single"])
        .env("KAFKA_SYNC_LOG_LINES", "10000000")
        .output()
        .expect("tests/kafka/broker logs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("Beginning re-authentication"))
        .count()
}

#[test]
fn sixty_seconds_of_produce_and_consume_across_re_authentications() {
    log::set_logger(&Capture).unwrap();
    let broker_before = broker_reauthentications();
    log::set_max_level(log::LevelFilter::Debug);
    let props = secured::sasl_plain(
        &listener("KAFKA_REAUTH_BOOTSTRAP_SERVERS"),
        false,
        "admin",
        "admin-secret",
    );
    let topic = common::unique_name("reauth");
    secured::create_topic(&props, &topic);
    let run_for = Duration::from_secs(60);

    let producer_props = props.clone();
    let producer_topic = topic.clone();
    let mut producing = Some(thread::spawn(move || {
        let producer = Producer::builder()
            .properties(&producer_props)
            .linger(Duration::from_millis(5))
            .build()
            .unwrap();
        let started = Instant::now();
        let mut deliveries = Vec::new();
        let mut i = 0u64;
        while started.elapsed() < run_for {
            let value = format!("r-{i}");
            let record = ProducerRecord::new(&producer_topic)
                .partition(0)
                .value(value);
            deliveries.push(producer.send(record).expect("send"));
            i += 1;
            thread::sleep(Duration::from_millis(20));
        }
        for (n, d) in deliveries.into_iter().enumerate() {
            let meta = d.wait().unwrap_or_else(|e| panic!("record {n}: {e}"));
            assert_eq!(meta.offset, n as i64, "records stay in order");
        }
        i
    }));

    let mut consumer = Consumer::builder()
        .properties(&props)
        .group_id(common::unique_name("reauth-group"))
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .build()
        .unwrap();
    consumer.subscribe([&topic]).unwrap();
    let mut next = 0u64;
    let mut last_commit = Instant::now();
    let mut produced = None;
    let until = Instant::now() + run_for + Duration::from_secs(60);
    while produced.is_none_or(|p| next < p) {
        assert!(Instant::now() < until, "consumed only {next} records");
        for (_, records) in consumer.poll(Duration::from_millis(200)).expect("poll") {
            for r in records {
                let value = String::from_utf8(r.value.unwrap().to_vec()).unwrap();
                assert_eq!(value, format!("r-{next}"), "nothing lost or reordered");
                next += 1;
            }
        }
        if last_commit.elapsed() >= Duration::from_secs(2) {
            consumer.commit().expect("commit");
            last_commit = Instant::now();
        }
        if producing.as_ref().is_some_and(|p| p.is_finished()) {
            let handle = producing.take().unwrap();
            produced = Some(handle.join().expect("producer thread"));
        }
    }
    consumer.commit().expect("final commit");
    consumer.close(Duration::from_secs(5));
    assert!(next >= 2_000, "steady traffic: {next} records");

    // With a 10 s session, a connection open for 60 s authenticates about 7 times.
    let lines = REAUTH_LINES.lock().unwrap().len();
    let most = most_authentications_on_one_connection();
    eprintln!("{next} records; {lines} re-authentications; at most {most} authentications on one connection");
    assert!(lines >= 4, "{lines} re-authentications logged");
    let broker = broker_reauthentications() - broker_before;
    eprintln!("the broker logged {broker} re-authentications");
    assert!(broker >= 4, "the broker logged {broker} re-authentications");
    assert!(
        most >= 5,
        "one connection authenticated at most {most} times"
    );
}
