//! SASL PLAIN against the broker's real SASL_PLAINTEXT and SASL_SSL listeners: round trips
//! (admin call, produce, group join, consume, commit), and a wrong password as a typed
//! authentication error on the first call of each client, within the connection timeout,
//! with no retry loop behind it.

mod common;

use std::time::{Duration, Instant};

use common::secured::{self, listener};
use kafka_sync::admin::AdminClient;
use kafka_sync::{Consumer, Error, Producer, ProducerRecord};

/// The connection timeout of the failure cases; each error must come within it + 1 s.
const SETUP: Duration = Duration::from_secs(5);

#[test]
fn sasl_plaintext_plain_round_trip() {
    let props = secured::sasl_plain(
        &listener("KAFKA_SASL_PLAINTEXT_BOOTSTRAP_SERVERS"),
        false,
        "admin",
        "admin-secret",
    );
    secured::round_trip(&props, "sasl-plain");
}

#[test]
fn sasl_ssl_plain_round_trip_with_a_jaas_line() {
    let props = format!(
        "bootstrap.servers={}\nsecurity.protocol=SASL_SSL\nsasl.mechanism=PLAIN\n\
         ssl.truststore.type=PEM\nssl.truststore.location={}\n\
         sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \
         username=\"admin\" password=\"admin-secret\";\n",
        listener("KAFKA_SASL_SSL_BOOTSTRAP_SERVERS"),
        secured::cert("ca.pem")
    );
    secured::round_trip(&props, "sasl-ssl-plain");
}

fn within_setup<T>(what: &str, call: impl FnOnce() -> kafka_sync::Result<T>) -> Error {
    let started = Instant::now();
    let Err(err) = call() else {
        panic!("{what}: expected an authentication error")
    };
    let took = started.elapsed();
    assert!(
        matches!(err, Error::SaslAuthentication { .. }),
        "{what}: {err:?}"
    );
    assert!(
        took <= SETUP + Duration::from_secs(1),
        "{what}: took {took:?}"
    );
    err
}

fn admin_with(props: &str) -> AdminClient {
    AdminClient::builder()
        .properties(props)
        .socket_connection_setup_timeout(SETUP)
        .default_api_timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn wrong_password(tls: bool) -> String {
    let var = if tls {
        "KAFKA_SASL_SSL_BOOTSTRAP_SERVERS"
    } else {
        "KAFKA_SASL_PLAINTEXT_BOOTSTRAP_SERVERS"
    };
    secured::sasl_plain(&listener(var), tls, "alice", "not-alices-password")
}

#[test]
fn a_wrong_password_fails_the_first_send_at_once_and_every_later_one() {
    for tls in [false, true] {
        let producer = Producer::builder()
            .properties(&wrong_password(tls))
            .socket_connection_setup_timeout(SETUP)
            .build()
            .unwrap();
        let topic = common::unique_name("sasl-wrong-send");
        let err = within_setup("send", || {
            producer
                .send(ProducerRecord::new(&topic).value("v"))?
                .wait()
        });
        let text = err.to_string();
        assert!(
            text.contains("PLAIN") && text.contains("check the credentials"),
            "{text}"
        );
        // No silent retry loop: the next call says the same, also at once.
        within_setup("second send", || {
            producer
                .send(ProducerRecord::new(&topic).value("v"))?
                .wait()
        });
    }
}

#[test]
fn a_wrong_password_fails_the_first_poll_and_admin_call() {
    let props = wrong_password(false);
    let mut consumer = Consumer::builder()
        .properties(&props)
        .group_id(common::unique_name("sasl-wrong-group"))
        .socket_connection_setup_timeout(SETUP)
        .build()
        .unwrap();
    consumer
        .subscribe([common::unique_name("sasl-wrong-poll")])
        .unwrap();
    within_setup("poll", || consumer.poll(Duration::from_secs(30)));

    let admin = admin_with(&props);
    within_setup("list_topics", || admin.list_topics());
}

#[test]
fn missing_credentials_are_a_config_error_at_build() {
    let props = format!(
        "bootstrap.servers={}\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n\
         sasl.username=admin\n",
        listener("KAFKA_SASL_PLAINTEXT_BOOTSTRAP_SERVERS")
    );
    let err = Producer::builder().properties(&props).build().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    assert!(err.to_string().contains("sasl.password"), "{err}");
    let err = AdminClient::builder()
        .properties(&props.replace("PLAIN\n", "OAUTHBEARER\n"))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("token provider"), "{err}");
}

#[test]
fn sasl_ssl_on_the_three_node_cluster_with_plaintext_between_brokers() {
    let bootstrap = listener("KAFKA_CLUSTER_SASL_SSL_BOOTSTRAP_SERVERS");
    let props = secured::sasl_plain(&bootstrap, true, "admin", "admin-secret");
    let admin = secured::admin(&props);
    assert_eq!(admin.describe_cluster().unwrap().brokers.len(), 3);
    secured::round_trip(&props, "sasl-ssl-cluster");
}

#[test]
fn sasl_against_a_listener_without_sasl_says_so() {
    let props = secured::sasl_plain(&common::bootstrap(), false, "admin", "admin-secret");
    let admin = admin_with(&props);
    let err = within_setup("list_topics", || admin.list_topics());
    assert!(err.to_string().contains("security.protocol"), "{err}");
}
