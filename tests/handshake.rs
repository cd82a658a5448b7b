//! The connection handshake against brokers a real 3.9/4.x broker does not imitate: older
//! ApiVersions ranges, missing APIs, and brokers that accept and then drop connections.
//! Reconnects back off exponentially, whatever stage the connection reached.

mod fake_kafka;

use std::time::{Duration, Instant};

use fake_kafka::{FakeKafka, Reply};
use kafka_sync::admin::AdminClient;
use kafka_sync::protocol::api::api_versions::ApiVersion;
use kafka_sync::protocol::api::ApiKey;
use kafka_sync::{Consumer, Error, Producer, TopicPartition};

/// A broker that knows ApiVersions only up to `max` (or lists nothing, as pre-2.4 brokers
/// do) answers newer requests with UNSUPPORTED_VERSION in the v0 format; the client asks
/// again at the version it lists (or v0), as the Java client does.
#[test]
fn an_older_broker_answering_unsupported_version_is_asked_again_in_its_version() {
    for listed in [Some(2), Some(1), None] {
        let fake = FakeKafka::start(move |req| match ApiKey(req.api_key) {
            ApiKey::API_VERSIONS if req.api_version > listed.unwrap_or(0) => {
                fake_kafka::api_versions_unsupported(req, listed)
            }
            ApiKey::API_VERSIONS => fake_kafka::api_versions(req, fake_kafka::all_api_versions()),
            ApiKey::METADATA => {
                fake_kafka::metadata(req, &[(0, req.port)], &[fake_kafka::topic("t")])
            }
            _ => Reply::Close,
        });
        let admin = AdminClient::builder()
            .bootstrap_servers(&fake.addr)
            .default_api_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let topics = admin.list_topics();
        assert!(
            topics.as_ref().is_ok_and(|t| t.contains("t")),
            "ApiVersions up to {listed:?}: {topics:?}"
        );
        assert_eq!(fake.connections(), 1, "one connection was enough");
    }
}

fn versions_without(missing: Option<i16>) -> Vec<ApiVersion> {
    match missing {
        Some(key) => fake_kafka::all_api_versions()
            .into_iter()
            .filter(|k| k.api_key != key)
            .collect(),
        None => Vec::new(),
    }
}

fn lacking(missing: Option<i16>) -> FakeKafka {
    FakeKafka::start(move |req| match ApiKey(req.api_key) {
        ApiKey::API_VERSIONS => fake_kafka::api_versions(req, versions_without(missing)),
        ApiKey::METADATA => fake_kafka::metadata(req, &[(0, req.port)], &[fake_kafka::topic("t")]),
        _ => Reply::Close,
    })
}

/// An empty ApiVersions list, or one without Fetch, fails the consumer's poll with a typed
/// error within `default_api_timeout` + 1 s, and the client backs off between attempts.
#[test]
fn a_broker_without_the_apis_a_consumer_needs_fails_poll_with_unsupported_version() {
    for missing in [None, Some(ApiKey::FETCH.0)] {
        let fake = lacking(missing);
        let timeout = Duration::from_secs(2);
        let mut consumer = Consumer::builder()
            .bootstrap_servers(&fake.addr)
            .default_api_timeout(timeout)
            .reconnect_backoff(Duration::from_millis(50))
            .reconnect_backoff_max(Duration::from_secs(1))
            .build()
            .unwrap();
        consumer.assign([TopicPartition::new("t", 0)]).unwrap();
        let started = Instant::now();
        let err = loop {
            match consumer.poll(Duration::from_secs(10)) {
                Err(e) => break e,
                Ok(r) => assert!(r.is_empty()),
            }
            assert!(
                started.elapsed() < timeout + Duration::from_secs(1),
                "no error yet"
            );
        };
        let elapsed = started.elapsed();
        assert!(
            matches!(err, Error::UnsupportedVersion { .. }),
            "missing {missing:?}: {err}"
        );
        assert!(
            elapsed < timeout + Duration::from_secs(1),
            "missing {missing:?}: {elapsed:?}"
        );
        // 50 ms doubling to 1 s: about 6 attempts in 2 s, not one every 50 ms.
        assert!(
            fake.connections() <= 8,
            "missing {missing:?}: {} connections in {elapsed:?}",
            fake.connections()
        );
    }
}

/// Without Produce, a producer's send fails with the typed error within `max_block` + 1 s.
#[test]
fn a_broker_without_produce_fails_send_with_unsupported_version() {
    let fake = lacking(Some(ApiKey::PRODUCE.0));
    let max_block = Duration::from_secs(2);
    let producer = Producer::builder()
        .bootstrap_servers(&fake.addr)
        .max_block(max_block)
        .build()
        .unwrap();
    let started = Instant::now();
    let err = producer
        .send(kafka_sync::ProducerRecord::new("t").value("v"))
        .and_then(|f| f.wait())
        .unwrap_err();
    assert!(matches!(err, Error::UnsupportedVersion { .. }), "{err}");
    assert!(started.elapsed() < max_block + Duration::from_secs(1));
}

/// Brokers that accept TCP and then close (before, during or after the handshake) are
/// retried with exponential backoff up to `reconnect_backoff_max`, not every 50 ms.
#[test]
fn reconnects_back_off_exponentially_whatever_stage_the_connection_reached() {
    type Stage = (&'static str, fn(&fake_kafka::Request) -> Reply);
    let stages: [Stage; 3] = [
        ("close on the first request", |_| Reply::Close),
        ("handshake error", |req| match ApiKey(req.api_key) {
            ApiKey::API_VERSIONS => {
                let mut r = fake_kafka::api_versions(req, Vec::new());
                if let Reply::Frame(bytes) = &mut r {
                    bytes[4..6].copy_from_slice(&(-1i16).to_be_bytes());
                }
                r
            }
            _ => Reply::Close,
        }),
        ("close after the handshake", |req| {
            match ApiKey(req.api_key) {
                ApiKey::API_VERSIONS => {
                    fake_kafka::api_versions(req, fake_kafka::all_api_versions())
                }
                _ => Reply::Close,
            }
        }),
    ];
    let handles: Vec<_> = stages
        .into_iter()
        .map(|(what, how)| {
            std::thread::spawn(move || {
                let fake = FakeKafka::start(how);
                let producer = Producer::builder()
                    .bootstrap_servers(&fake.addr)
                    .reconnect_backoff(Duration::from_millis(50))
                    .reconnect_backoff_max(Duration::from_secs(1))
                    .build()
                    .unwrap();
                std::thread::sleep(Duration::from_secs(5));
                let times = fake.accept_times();
                drop(producer);
                (what, times)
            })
        })
        .collect();
    for h in handles {
        let (what, times) = h.join().unwrap();
        let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
        eprintln!("{what}: {} connections, gaps {gaps:?}", times.len());
        // 50, 100, 200, 400, 800, 1000, 1000 ms (±20%) fit about 8 connections in 5 s.
        assert!(
            (3..=10).contains(&times.len()),
            "{what}: {} connections in 5 s",
            times.len()
        );
        let last = *gaps.last().unwrap();
        assert!(
            last >= Duration::from_millis(600),
            "{what}: last gap {last:?}"
        );
    }
}
