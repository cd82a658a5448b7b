//! TLS against the broker's real SSL listeners: server-authenticated and mutual TLS, keys
//! from files, encrypted or inline; and each failure (untrusted CA, wrong host, expired
//! certificate, TLS and plaintext against the wrong kind of port) as its typed error
//! within the connection timeout.

mod common;

use std::time::{Duration, Instant};

use common::secured::{self, cert, listener};
use kafka_sync::admin::AdminClient;
use kafka_sync::{Error, Producer, ProducerRecord};

/// The connection timeout of the failure cases; each error must come within it + 1 s.
const SETUP: Duration = Duration::from_secs(5);

#[test]
fn ssl_listener_round_trip() {
    let props = secured::ssl(&listener("KAFKA_SSL_BOOTSTRAP_SERVERS"));
    secured::round_trip(&props, "tls-ssl");
}

#[test]
fn mutual_tls_with_certificate_and_key_files() {
    let props = format!(
        "{}ssl.certificate.location={}\nssl.key.location={}\n",
        secured::ssl(&listener("KAFKA_MTLS_BOOTSTRAP_SERVERS")),
        cert("client.pem"),
        cert("client.key")
    );
    secured::round_trip(&props, "tls-mtls");
}

#[test]
fn mutual_tls_with_an_encrypted_key_and_its_password() {
    let props = format!(
        "{}ssl.certificate.location={}\nssl.key.location={}\nssl.key.password=client-key-secret\n",
        secured::ssl(&listener("KAFKA_MTLS_BOOTSTRAP_SERVERS")),
        cert("client.pem"),
        cert("client-encrypted.key")
    );
    assert!(!secured::admin(&props).list_topics().unwrap().is_empty());

    // The wrong password is a configuration error at build().
    let wrong = props.replace("client-key-secret", "not-the-password");
    let err = AdminClient::builder()
        .properties(&wrong)
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    assert!(err.to_string().contains("ssl.key.password"), "{err}");
}

#[test]
fn mutual_tls_with_inline_pem_under_java_names() {
    let read = |name: &str| std::fs::read_to_string(cert(name)).unwrap();
    // The client builds its settings in code, as an application holding PEM text would.
    let admin = AdminClient::builder()
        .bootstrap_servers(listener("KAFKA_MTLS_BOOTSTRAP_SERVERS"))
        .set("security.protocol", "SSL")
        .set("ssl.truststore.type", "PEM")
        .set("ssl.truststore.certificates", &read("ca.pem"))
        .set("ssl.keystore.type", "PEM")
        .set("ssl.keystore.certificate.chain", &read("client.pem"))
        .set("ssl.keystore.key", &read("client.key"))
        .default_api_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    assert_eq!(admin.describe_cluster().unwrap().brokers.len(), 1);
}

#[test]
fn kafka_python_names_in_the_builder() {
    let producer = Producer::builder()
        .bootstrap_servers(listener("KAFKA_SSL_BOOTSTRAP_SERVERS"))
        .security_protocol(kafka_sync::config::SecurityProtocol::Ssl)
        .ssl_cafile(cert("ca.pem"))
        .ssl_check_hostname(true)
        .build()
        .unwrap();
    let topic = common::unique_name("tls-builder");
    let meta = producer
        .send(ProducerRecord::new(&topic).value("v"))
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(meta.offset, 0);
}

/// Runs `call` and checks it fails with an error `is` accepts, within SETUP + 1 s.
fn fails_fast<T: std::fmt::Debug>(
    what: &str,
    call: impl FnOnce() -> kafka_sync::Result<T>,
    is: impl Fn(&Error) -> bool,
) -> Error {
    let started = Instant::now();
    let err = match call() {
        Ok(v) => panic!("{what}: expected an error, got {v:?}"),
        Err(e) => e,
    };
    let took = started.elapsed();
    assert!(is(&err), "{what}: wrong error: {err:?}");
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

/// An admin call with `props` fails fast with an error `is` accepts.
fn admin_call_fails(props: &str, is: impl Fn(&Error) -> bool) -> Error {
    let admin = admin_with(props);
    fails_fast("list_topics", || admin.list_topics(), is)
}

#[test]
fn an_untrusted_ca_is_certificate_not_trusted() {
    let props = format!(
        "bootstrap.servers={}\nsecurity.protocol=SSL\nssl.ca.location={}\n",
        listener("KAFKA_SSL_BOOTSTRAP_SERVERS"),
        cert("other-ca.pem")
    );
    admin_call_fails(&props, |e| matches!(e, Error::CertificateNotTrusted { .. }));
    // A producer's first send says the same, at once.
    let producer = Producer::builder()
        .properties(&props)
        .socket_connection_setup_timeout(SETUP)
        .build()
        .unwrap();
    fails_fast(
        "send",
        || producer.send(ProducerRecord::new("tls-untrusted").value("v")),
        |e| matches!(e, Error::CertificateNotTrusted { .. }),
    );
}

#[test]
fn a_certificate_for_another_host_is_a_hostname_mismatch_unless_the_check_is_off() {
    let props = secured::ssl(&listener("KAFKA_WRONG_HOST_SSL_BOOTSTRAP_SERVERS"));
    let err = admin_call_fails(&props, |e| {
        matches!(e, Error::CertificateHostnameMismatch { .. })
    });
    assert!(err.to_string().contains("127.0.0.1"), "{err}");

    // Java's empty ssl.endpoint.identification.algorithm turns the check off.
    let off = format!("{props}ssl.endpoint.identification.algorithm=\n");
    assert!(!admin_with(&off).list_topics().unwrap().is_empty());
}

#[test]
fn an_expired_certificate_is_certificate_expired() {
    let props = secured::ssl(&listener("KAFKA_EXPIRED_SSL_BOOTSTRAP_SERVERS"));
    admin_call_fails(&props, |e| matches!(e, Error::CertificateExpired { .. }));
}

#[test]
fn tls_against_a_plaintext_port_is_not_a_tls_listener() {
    let props = secured::ssl(&common::bootstrap());
    admin_call_fails(&props, |e| matches!(e, Error::NotTlsListener { .. }));
}

#[test]
fn plaintext_against_a_tls_port_is_a_tls_listener() {
    let props = format!(
        "bootstrap.servers={}\n",
        listener("KAFKA_SSL_BOOTSTRAP_SERVERS")
    );
    admin_call_fails(&props, |e| matches!(e, Error::TlsListener { .. }));
}

#[test]
fn mutual_tls_without_a_client_certificate_is_refused() {
    let props = secured::ssl(&listener("KAFKA_MTLS_BOOTSTRAP_SERVERS"));
    let err = admin_call_fails(&props, |e| matches!(e, Error::TlsHandshake { .. }));
    assert!(
        err.to_string().contains("ssl.certificate.location"),
        "{err}"
    );
}

#[test]
fn megabytes_through_tls_arrive_whole_and_in_order() {
    let props = secured::ssl(&listener("KAFKA_SSL_BOOTSTRAP_SERVERS"));
    let topic = common::unique_name("tls-bulk");
    secured::create_topic(&props, &topic);
    // 4000 records of 1.5 KiB: requests and fetch responses span many TLS records.
    let values: Vec<String> = (0..4000)
        .map(|i| format!("{i:06}-{}", "x".repeat(1536)))
        .collect();
    secured::produce(&props, &topic, &values);
    let group = common::unique_name("tls-bulk-group");
    let got = secured::consume_and_commit(&props, &topic, &group, values.len());
    assert!(got == values, "records differ");
}
