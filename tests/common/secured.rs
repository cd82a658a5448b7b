//! The secured listeners of the single test broker (`tests/kafka/broker start --secure`):
//! their addresses, the test certificates, client settings for each kind, and one round
//! trip (admin call, produce, group consume and commit) every listener must pass.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kafka_sync::admin::{AdminClient, CreateTopicsOptions, NewTopic};
use kafka_sync::{Consumer, OffsetReset, Producer, ProducerRecord, TopicPartition};

/// A secured listener's address, from `var` (see `/work/env.sh`); a loud failure if unset.
pub fn listener(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => panic!(
            "{var} is not set: these tests need the secured listeners of the single broker \
             (`tests/kafka/broker start --secure`, then export the lines it prints)"
        ),
    }
}

/// A file of the test certificates (`KAFKA_SYNC_CERTS`): `ca.pem`, `client.pem`,
/// `client.key`, `client-encrypted.key`, `other-ca.pem`.
pub fn cert(name: &str) -> String {
    let dir = listener("KAFKA_SYNC_CERTS");
    let path = std::path::Path::new(&dir).join(name);
    assert!(path.exists(), "{} is missing", path.display());
    path.display().to_string()
}

/// Properties for an SSL listener, trusting the test CA.
pub fn ssl(bootstrap: &str) -> String {
    format!(
        "bootstrap.servers={bootstrap}\nsecurity.protocol=SSL\nssl.ca.location={}\n",
        cert("ca.pem")
    )
}

/// Properties for SASL PLAIN as `user`, over TLS or not.
pub fn sasl_plain(bootstrap: &str, tls: bool, user: &str, password: &str) -> String {
    let protocol = if tls { "SASL_SSL" } else { "SASL_PLAINTEXT" };
    let mut p = format!(
        "bootstrap.servers={bootstrap}\nsecurity.protocol={protocol}\nsasl.mechanism=PLAIN\n\
         sasl.username={user}\nsasl.password={password}\n"
    );
    if tls {
        p.push_str(&format!("ssl.ca.location={}\n", cert("ca.pem")));
    }
    p
}

pub fn admin(props: &str) -> AdminClient {
    AdminClient::builder()
        .properties(props)
        .default_api_timeout(Duration::from_secs(30))
        .build()
        .expect("admin client")
}

/// Creates a topic with one partition through an admin client with `props`.
pub fn create_topic(props: &str, topic: &str) {
    let admin = admin(props);
    for (name, r) in admin
        .create_topics(
            &[NewTopic::new(topic, 1, 1)],
            CreateTopicsOptions::default(),
        )
        .expect("create_topics")
    {
        r.unwrap_or_else(|e| panic!("creating {name}: {e}"));
    }
}

/// Produces `values` to partition 0 of `topic`, waiting for each delivery.
pub fn produce(props: &str, topic: &str, values: &[String]) {
    let producer = Producer::builder()
        .properties(props)
        .build()
        .expect("producer");
    let deliveries: Vec<_> = values
        .iter()
        .map(|v| {
            producer
                .send(
                    ProducerRecord::new(topic)
                        .partition(0)
                        .value(v.as_bytes().to_vec()),
                )
                .expect("send")
        })
        .collect();
    for d in deliveries {
        d.wait().expect("delivery");
    }
}

/// Reads `count` values of `topic` as member of `group`, from the beginning, then commits.
pub fn consume_and_commit(props: &str, topic: &str, group: &str, count: usize) -> Vec<String> {
    let mut consumer = Consumer::builder()
        .properties(props)
        .group_id(group)
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .build()
        .expect("consumer");
    consumer.subscribe([topic]).expect("subscribe");
    let mut values = Vec::new();
    let until = Instant::now() + Duration::from_secs(60);
    while values.len() < count {
        assert!(
            Instant::now() < until,
            "only {} of {count} records",
            values.len()
        );
        for (_, records) in consumer.poll(Duration::from_millis(500)).expect("poll") {
            for r in records {
                let v = r.value.expect("a value");
                values.push(String::from_utf8_lossy(&v).into_owned());
            }
        }
    }
    consumer.commit().expect("commit");
    let tp = TopicPartition::new(topic, 0);
    let committed = consumer
        .committed(&tp)
        .expect("committed")
        .expect("an offset");
    assert_eq!(committed.offset, count as i64);
    consumer.close(Duration::from_secs(5));
    values
}

/// The round trip every listener must pass: an admin call (create and list topics),
/// produce, a group join, consume and commit.
pub fn round_trip(props: &str, prefix: &str) {
    let topic = super::unique_name(prefix);
    create_topic(props, &topic);
    let listed: BTreeSet<String> = admin(props).list_topics().expect("list_topics");
    assert!(listed.contains(&topic));
    let values: Vec<String> = (0..20).map(|i| format!("{prefix}-{i}")).collect();
    produce(props, &topic, &values);
    let group = super::unique_name(&format!("{prefix}-group"));
    let got = consume_and_commit(props, &topic, &group, values.len());
    assert_eq!(got, values);
}
