//! Responses a real broker never sends: a wrong correlation id, a header or body that does
//! not decode, metadata naming a leader that is not in the broker list. None may lose a
//! request: the connection closes, every request in flight on it fails with a retriable
//! `Disconnected`, and its owner retries on a new connection.

mod common;
mod fake_kafka;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_kafka::{FakeKafka, FakeTopic, Reply, Request};
use kafka_sync::admin::AdminClient;
use kafka_sync::protocol::api::ApiKey;
use kafka_sync::{Acks, Consumer, Error, Producer, ProducerRecord};

/// A fake single-node cluster with topic `t`. The first connection that carries a request
/// of `api` answers every such request with `broken`; other connections behave.
fn broken_on_first_connection(api: ApiKey, broken: fn(&Request, Reply) -> Reply) -> FakeKafka {
    let topics = vec![fake_kafka::topic("t")];
    let broken_connection = AtomicUsize::new(usize::MAX);
    FakeKafka::start(move |req| {
        let good = match ApiKey(req.api_key) {
            ApiKey::API_VERSIONS => fake_kafka::api_versions(req, fake_kafka::all_api_versions()),
            ApiKey::METADATA => fake_kafka::metadata(req, &[(0, req.port)], &topics),
            ApiKey::PRODUCE => fake_kafka::produce_ok(req),
            ApiKey::INIT_PRODUCER_ID => fake_kafka::init_producer_id_ok(req),
            ApiKey::LIST_OFFSETS => fake_kafka::list_offsets_zero(req),
            ApiKey::FETCH => fake_kafka::fetch_one_record(req),
            _ => Reply::Close,
        };
        if req.api_key != api.0 {
            return good;
        }
        let first = broken_connection
            .compare_exchange(
                usize::MAX,
                req.connection,
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .unwrap_or_else(|current| current);
        if first == usize::MAX || first == req.connection {
            broken(req, good)
        } else {
            good
        }
    })
}

type Breakage = (&'static str, fn(&Request, Reply) -> Reply);

const BREAKAGES: [Breakage; 4] = [
    ("wrong correlation id", fake_kafka::wrong_correlation_id),
    ("undecodable header", |req, _| {
        fake_kafka::garbage_after_header(req)
    }),
    ("undecodable body", |req, _| fake_kafka::garbage_body(req)),
    ("frame shorter than a header", |_, _| {
        Reply::Frame(vec![0, 1])
    }),
];

#[test]
fn a_broken_metadata_response_fails_the_admin_call_retriably_and_the_call_succeeds_on_retry() {
    for (what, broken) in BREAKAGES {
        let fake = broken_on_first_connection(ApiKey::METADATA, broken);
        let timeout = Duration::from_secs(5);
        let admin = AdminClient::builder()
            .bootstrap_servers(&fake.addr)
            .default_api_timeout(timeout)
            .build()
            .unwrap();
        let started = Instant::now();
        let topics = admin.list_topics();
        let elapsed = started.elapsed();
        assert!(
            topics.as_ref().is_ok_and(|t| t.contains("t")),
            "{what}: {topics:?} after {elapsed:?}"
        );
        assert!(elapsed < timeout, "{what}: took {elapsed:?}");
        assert!(
            fake.connections() >= 2,
            "{what}: the broken connection was closed"
        );
    }
}

/// The broken response answers InitProducerId (idempotent producer) or Produce.
#[test]
fn a_broken_producer_response_is_retried_and_the_record_delivered() {
    for ((what, broken), api) in BREAKAGES
        .into_iter()
        .flat_map(|b| [(b, ApiKey::INIT_PRODUCER_ID), (b, ApiKey::PRODUCE)])
    {
        let what = format!("{what} for {}", api.name());
        let fake = broken_on_first_connection(api, broken);
        let delivery_timeout = Duration::from_secs(6);
        let producer = Producer::builder()
            .bootstrap_servers(&fake.addr)
            .enable_idempotence(api == ApiKey::INIT_PRODUCER_ID)
            .acks(Acks::All)
            .delivery_timeout(delivery_timeout)
            .request_timeout(Duration::from_secs(5))
            .linger(Duration::ZERO)
            .build()
            .unwrap();
        let started = Instant::now();
        let delivered = producer
            .send(ProducerRecord::new("t").value("v"))
            .and_then(|f| f.wait());
        let elapsed = started.elapsed();
        assert!(delivered.is_ok(), "{what}: {delivered:?} after {elapsed:?}");
        assert!(elapsed < delivery_timeout, "{what}: took {elapsed:?}");
    }
}

/// A consumer's offset lookup (a one-off call from the user thread) whose response is
/// broken hears `Disconnected` (retriable) at once, or succeeds on a retry; it never waits
/// out its timeout for an answer that was dropped.
#[test]
fn a_broken_list_offsets_response_reaches_the_consumer_as_a_retriable_error() {
    for (what, broken) in BREAKAGES {
        let fake = broken_on_first_connection(ApiKey::LIST_OFFSETS, broken);
        let timeout = Duration::from_secs(5);
        let mut consumer = Consumer::builder()
            .bootstrap_servers(&fake.addr)
            .default_api_timeout(timeout)
            .build()
            .unwrap();
        let tp = kafka_sync::TopicPartition::new("t", 0);
        let started = Instant::now();
        let first = consumer.end_offsets(std::slice::from_ref(&tp));
        let elapsed = started.elapsed();
        assert!(elapsed < timeout, "{what}: {first:?} after {elapsed:?}");
        match first {
            Ok(offsets) => assert_eq!(offsets.get(&tp), Some(&0), "{what}"),
            Err(e) => {
                assert!(
                    matches!(e, Error::Disconnected { .. }) && e.is_retriable(),
                    "{what}: {e}"
                );
                let again = consumer.end_offsets(std::slice::from_ref(&tp));
                assert_eq!(
                    again.ok().and_then(|o| o.get(&tp).copied()),
                    Some(0),
                    "{what}"
                );
            }
        }
    }
}

/// A consumer whose fetch response is broken fetches again on a new connection and gets
/// the record: the fetch is not lost with the connection.
#[test]
fn a_broken_fetch_response_is_fetched_again() {
    for (what, broken) in BREAKAGES {
        let fake = broken_on_first_connection(ApiKey::FETCH, broken);
        let mut consumer = Consumer::builder()
            .bootstrap_servers(&fake.addr)
            .auto_offset_reset(kafka_sync::OffsetReset::Earliest)
            .build()
            .unwrap();
        consumer
            .assign([kafka_sync::TopicPartition::new("t", 0)])
            .unwrap();
        let started = Instant::now();
        let mut got = 0;
        while got == 0 && started.elapsed() < Duration::from_secs(10) {
            match consumer.poll(Duration::from_millis(500)) {
                Ok(records) => got += records.values().map(Vec::len).sum::<usize>(),
                Err(e) => assert!(e.is_retriable(), "{what}: {e}"),
            }
        }
        assert_eq!(got, 1, "{what}: the record after {:?}", started.elapsed());
        assert!(
            fake.connections() >= 3,
            "{what}: the broken connection was replaced"
        );
    }
}

/// Metadata answers are delayed, so a topic asked for while a refresh is in flight must
/// be served by a later refresh (the answer to the older one must not clear the ask).
#[test]
fn a_topic_asked_for_while_a_metadata_refresh_is_in_flight_is_fetched() {
    let topics = vec![fake_kafka::topic("t")];
    let fake = FakeKafka::start(move |req| match ApiKey(req.api_key) {
        ApiKey::API_VERSIONS => fake_kafka::api_versions(req, fake_kafka::all_api_versions()),
        ApiKey::METADATA => Reply::After(
            Duration::from_millis(1500),
            Box::new(fake_kafka::metadata(req, &[(0, req.port)], &topics)),
        ),
        _ => Reply::Close,
    });
    let max_block = Duration::from_secs(8);
    let producer = Producer::builder()
        .bootstrap_servers(&fake.addr)
        .enable_idempotence(false)
        .max_block(max_block)
        .build()
        .unwrap();
    let mut consumer = Consumer::builder()
        .bootstrap_servers(&fake.addr)
        .default_api_timeout(max_block)
        .build()
        .unwrap();
    // Let each client's first refresh (for no topic) go out before asking.
    std::thread::sleep(Duration::from_millis(300));
    let asker = std::thread::spawn(move || producer.partitions_for("t"));
    let started = Instant::now();
    let partitions = consumer.partitions_for_topic("t");
    assert_eq!(
        partitions.ok().flatten().map(|p| p.len()),
        Some(1),
        "consumer"
    );
    assert!(started.elapsed() < max_block);
    assert_eq!(asker.join().unwrap().ok(), Some(vec![0]), "producer");
}

/// A lookup that runs out of time says how long it waited, not "0ns".
#[test]
fn a_metadata_timeout_names_the_time_waited() {
    let fake = FakeKafka::start(|req| match ApiKey(req.api_key) {
        ApiKey::API_VERSIONS => fake_kafka::api_versions(req, fake_kafka::all_api_versions()),
        _ => Reply::Nothing,
    });
    let timeout = Duration::from_secs(2);
    let mut consumer = Consumer::builder()
        .bootstrap_servers(&fake.addr)
        .default_api_timeout(timeout)
        .build()
        .unwrap();
    let started = Instant::now();
    let err = consumer.partitions_for_topic("t").unwrap_err();
    assert!(
        started.elapsed() < timeout + Duration::from_secs(1),
        "{err} after {:?}",
        started.elapsed()
    );
    match err {
        Error::Timeout { elapsed, .. } => assert!(
            elapsed + Duration::from_millis(200) >= timeout
                && elapsed <= timeout + Duration::from_secs(1),
            "{err}"
        ),
        other => panic!("expected a timeout, got {other}"),
    }
}

/// Metadata that names a leader the broker list lacks (or lists no broker at all) means
/// "leader unknown": the client refreshes with backoff and delivers within 2 s of the
/// metadata becoming sane, not at `metadata_max_age`.
#[test]
fn a_leader_missing_from_the_broker_list_is_unknown_until_metadata_is_sane() {
    for empty_broker_list in [false, true] {
        let sane = Arc::new(AtomicBool::new(false));
        let flag = sane.clone();
        let fake = FakeKafka::start(move |req| match ApiKey(req.api_key) {
            ApiKey::API_VERSIONS => fake_kafka::api_versions(req, fake_kafka::all_api_versions()),
            ApiKey::METADATA if flag.load(Ordering::SeqCst) => {
                fake_kafka::metadata(req, &[(0, req.port)], &[fake_kafka::topic("t")])
            }
            ApiKey::METADATA => {
                let brokers: &[(i32, u16)] = if empty_broker_list {
                    &[]
                } else {
                    &[(0, req.port)]
                };
                let leaders = vec![if empty_broker_list { 0 } else { 7 }];
                let t = FakeTopic {
                    name: "t".into(),
                    leaders,
                };
                fake_kafka::metadata(req, brokers, &[t])
            }
            ApiKey::PRODUCE => fake_kafka::produce_ok(req),
            _ => Reply::Close,
        });
        let producer = Producer::builder()
            .bootstrap_servers(&fake.addr)
            .enable_idempotence(false)
            .acks(Acks::Leader)
            .delivery_timeout(Duration::from_secs(40))
            .build()
            .unwrap();
        let delivery = producer.send(ProducerRecord::new("t").value("v")).unwrap();
        std::thread::sleep(Duration::from_secs(2));
        assert!(!delivery.is_done(), "no leader is reachable yet");
        sane.store(true, Ordering::SeqCst);
        let fixed = Instant::now();
        let outcome = delivery.wait();
        let took = fixed.elapsed();
        assert!(
            outcome.is_ok(),
            "empty broker list {empty_broker_list}: {outcome:?}"
        );
        assert!(
            took < Duration::from_secs(2),
            "empty broker list {empty_broker_list}: delivered {took:?} after metadata was sane"
        );
    }
}

/// A TCP proxy to `target` that holds every reply byte for `delay`; returns its address.
fn delaying_proxy(target: String, delay: Duration) -> String {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let Ok(mut broker) = TcpStream::connect(&target) else {
                return;
            };
            let (mut to_broker, mut from_broker) =
                (client.try_clone().unwrap(), broker.try_clone().unwrap());
            std::thread::spawn(move || std::io::copy(&mut to_broker, &mut broker));
            let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = from_broker.read(&mut buf) {
                    if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            });
            std::thread::spawn(move || {
                for (at, bytes) in rx {
                    std::thread::sleep((at + delay).saturating_duration_since(Instant::now()));
                    if client.write_all(&bytes).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// The same against the real broker, its replies delayed 1.5 s by a proxy: a topic
/// looked up while the first metadata refresh is in flight is found.
#[test]
fn a_topic_asked_for_during_a_slow_refresh_is_found_on_the_real_broker() {
    let topic = common::unique_name("slow-metadata");
    let admin = AdminClient::builder()
        .bootstrap_servers(common::bootstrap())
        .build()
        .unwrap();
    let created = admin
        .create_topics(
            &[kafka_sync::admin::NewTopic::new(&topic, 2, 1)],
            Default::default(),
        )
        .unwrap();
    created[&topic].clone().unwrap();
    let proxy = delaying_proxy(common::bootstrap(), Duration::from_millis(1500));
    let max_block = Duration::from_secs(8);
    let producer = Producer::builder()
        .bootstrap_servers(&proxy)
        .max_block(max_block)
        .build()
        .unwrap();
    // The handshake's reply arrives after 1.5 s; the first refresh (for no topic) goes
    // out then and is answered 1.5 s later. Ask in between.
    std::thread::sleep(Duration::from_millis(2000));
    let started = Instant::now();
    let partitions = producer.partitions_for(&topic);
    assert_eq!(partitions.ok(), Some(vec![0, 1]));
    assert!(started.elapsed() < max_block);
}
