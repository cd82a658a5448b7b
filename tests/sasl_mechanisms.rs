//! Every SASL mechanism other than PLAIN through the clients themselves, on the secured
//! broker's SASL_PLAINTEXT listener and, for SCRAM-SHA-512 and OAUTHBEARER, its SASL_SSL
//! listener too: create a topic, produce, consume in a group with a commit, and an admin
//! call. A wrong password is a typed authentication error at once, not a retry loop.
//! `tests/sasl_mechanisms_raw.rs` checks the mechanisms' exchanges themselves over a raw
//! socket against the same broker.

mod common;

use std::time::{Duration, Instant};

use kafka_sync::admin::{AdminClient, CreateTopicsOptions, NewTopic};
use kafka_sync::{Consumer, Error, OffsetReset, Producer, ProducerRecord, TopicPartition};

const TIMEOUT: Duration = Duration::from_secs(10);
const GRACE: Duration = Duration::from_secs(1);

/// The listener a client authenticates on: SASL over plain TCP, or over TLS trusting the
/// test CA.
#[derive(Clone, Copy)]
enum Transport {
    Plaintext,
    Tls,
}

impl Transport {
    /// Bootstrap servers, security protocol and, over TLS, the CA, as `.set()` pairs.
    fn settings(self) -> Vec<(&'static str, String)> {
        match self {
            Transport::Plaintext => vec![
                (
                    "bootstrap.servers",
                    common::secure_bootstrap("SASL_PLAINTEXT"),
                ),
                ("security.protocol", "SASL_PLAINTEXT".into()),
            ],
            Transport::Tls => vec![
                ("bootstrap.servers", common::secure_bootstrap("SASL_SSL")),
                ("security.protocol", "SASL_SSL".into()),
                (
                    "ssl.ca.location",
                    common::certs_dir().join("ca.pem").display().to_string(),
                ),
            ],
        }
    }
}

/// The client settings of one way to authenticate as `admin` (a super user, so no ACLs
/// are needed), as `(key, value)` pairs for `.set()`.
fn scram(transport: Transport, mechanism: &str, password: &str) -> Vec<(&'static str, String)> {
    let mut settings = transport.settings();
    settings.extend([
        ("sasl.mechanism", mechanism.into()),
        ("sasl.username", "admin".into()),
        ("sasl.password", password.into()),
    ]);
    settings
}

/// OAUTHBEARER with an unsecured JWT for `admin`, as librdkafka configures it. An
/// application can instead hand the client an `Arc<dyn TokenProvider>` (such as
/// `kafka_sync::oauth::UnsecuredJwtProvider` or `OidcTokenProvider`) through the
/// builder's token-provider setter.
fn oauthbearer(transport: Transport) -> Vec<(&'static str, String)> {
    let mut settings = transport.settings();
    settings.extend([
        ("sasl.mechanism", "OAUTHBEARER".into()),
        ("enable.sasl.oauthbearer.unsecure.jwt", "true".into()),
        ("sasl.oauthbearer.config", "principal=admin".into()),
    ]);
    settings
}

fn producer(settings: &[(&str, String)]) -> Producer {
    let mut b = Producer::builder()
        .max_block(TIMEOUT)
        .request_timeout(TIMEOUT / 2)
        .delivery_timeout(TIMEOUT)
        .linger(Duration::ZERO);
    for (k, v) in settings {
        b = b.set(k, v);
    }
    b.build().unwrap()
}

fn consumer(settings: &[(&str, String)], group: &str) -> Consumer {
    let mut b = Consumer::builder()
        .group_id(group)
        .auto_offset_reset(OffsetReset::Earliest)
        .default_api_timeout(TIMEOUT)
        .consumer_timeout(TIMEOUT);
    for (k, v) in settings {
        b = b.set(k, v);
    }
    b.build().unwrap()
}

fn admin(settings: &[(&str, String)]) -> AdminClient {
    let mut b = AdminClient::builder().default_api_timeout(TIMEOUT);
    for (k, v) in settings {
        b = b.set(k, v);
    }
    b.build().unwrap()
}

/// Creates a topic through the admin client, produces three records, consumes them in a
/// new group and commits.
fn round_trip(settings: &[(&str, String)]) {
    let admin = admin(settings);
    let topic = common::unique_name("sasl");
    let created = admin
        .create_topics(
            &[NewTopic::new(&topic, 1, 1)],
            CreateTopicsOptions::default(),
        )
        .unwrap();
    created[&topic].clone().unwrap();
    assert!(!admin.describe_cluster().unwrap().brokers.is_empty());

    let p = producer(settings);
    for i in 0..3 {
        p.send(ProducerRecord::new(&topic).value(format!("v{i}")))
            .unwrap()
            .wait()
            .unwrap();
    }

    let mut c = consumer(settings, &common::unique_name("sasl-group"));
    c.subscribe([&topic]).unwrap();
    let mut values = Vec::new();
    for msg in &mut c {
        let msg = msg.unwrap();
        values.push(String::from_utf8_lossy(msg.value.as_deref().unwrap_or_default()).into_owned());
        if values.len() == 3 {
            break;
        }
    }
    assert_eq!(values, ["v0", "v1", "v2"]);
    c.commit().unwrap();
    let committed = c.committed(&TopicPartition::new(&topic, 0)).unwrap();
    assert_eq!(committed.map(|o| o.offset), Some(3));
}

/// A wrong password: the first call fails with the typed authentication error within
/// its timeout, and again on the next call (no silent retry loop in between).
fn wrong_password(mechanism: &str) {
    let settings = scram(Transport::Plaintext, mechanism, "not-the-password");
    let started = Instant::now();
    let err = admin(&settings).list_topics().unwrap_err();
    assert!(started.elapsed() <= TIMEOUT + GRACE);
    assert!(matches!(err, Error::SaslAuthentication { .. }), "{err:?}");

    let p = producer(&settings);
    let started = Instant::now();
    let err = p
        .send(ProducerRecord::new("any-topic").value("v"))
        .and_then(|f| f.wait())
        .unwrap_err();
    assert!(started.elapsed() <= TIMEOUT + GRACE);
    assert!(matches!(err, Error::SaslAuthentication { .. }), "{err:?}");
}

#[test]
fn scram_sha_256_produces_consumes_commits_and_administers() {
    round_trip(&scram(
        Transport::Plaintext,
        "SCRAM-SHA-256",
        "admin-secret",
    ));
}

#[test]
fn scram_sha_512_produces_consumes_commits_and_administers() {
    round_trip(&scram(
        Transport::Plaintext,
        "SCRAM-SHA-512",
        "admin-secret",
    ));
}

#[test]
fn oauthbearer_produces_consumes_commits_and_administers() {
    round_trip(&oauthbearer(Transport::Plaintext));
}

#[test]
fn scram_sha_256_over_tls_produces_consumes_commits_and_administers() {
    round_trip(&scram(Transport::Tls, "SCRAM-SHA-256", "admin-secret"));
}

#[test]
fn scram_sha_512_over_tls_produces_consumes_commits_and_administers() {
    round_trip(&scram(Transport::Tls, "SCRAM-SHA-512", "admin-secret"));
}

#[test]
fn oauthbearer_over_tls_produces_consumes_commits_and_administers() {
    round_trip(&oauthbearer(Transport::Tls));
}

#[test]
fn a_wrong_scram_256_password_is_a_typed_error_at_once() {
    wrong_password("SCRAM-SHA-256");
}

#[test]
fn a_wrong_scram_512_password_is_a_typed_error_at_once() {
    wrong_password("SCRAM-SHA-512");
}
