//! Interop on the secured listeners: kafka-python and kcat (librdkafka) read what
//! kafka-sync wrote, and kafka-sync reads what they wrote, over SSL and over SASL_SSL with
//! PLAIN.

mod common;

use common::secured::{self, cert, listener};
use common::Rec;

/// kafka-python settings for a listener kind.
fn python_config(sasl: bool) -> Vec<(&'static str, String)> {
    let mut c = vec![
        ("ssl_cafile", cert("ca.pem")),
        ("ssl_check_hostname", "True".into()),
    ];
    if sasl {
        c.extend([
            ("security_protocol", "SASL_SSL".to_string()),
            ("sasl_mechanism", "PLAIN".into()),
            ("sasl_plain_username", "admin".into()),
            ("sasl_plain_password", "admin-secret".into()),
        ]);
    } else {
        c.push(("security_protocol", "SSL".into()));
    }
    c
}

/// kcat (librdkafka) settings for a listener kind, as `-X key=value` arguments.
fn kcat_config(sasl: bool) -> Vec<String> {
    let mut c = vec![format!("ssl.ca.location={}", cert("ca.pem"))];
    if sasl {
        c.extend([
            "security.protocol=SASL_SSL".to_string(),
            "sasl.mechanisms=PLAIN".into(),
            "sasl.username=admin".into(),
            "sasl.password=admin-secret".into(),
        ]);
    } else {
        c.push("security.protocol=SSL".into());
    }
    c.into_iter()
        .flat_map(|kv| ["-X".to_string(), kv])
        .collect()
}

fn interop(sasl: bool) {
    let (bootstrap, props) = if sasl {
        let b = listener("KAFKA_SASL_SSL_BOOTSTRAP_SERVERS");
        let p = secured::sasl_plain(&b, true, "admin", "admin-secret");
        (b, p)
    } else {
        let b = listener("KAFKA_SSL_BOOTSTRAP_SERVERS");
        let p = secured::ssl(&b);
        (b, p)
    };
    let py = python_config(sasl);
    let py: Vec<(&str, &str)> = py.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let kcat_x = kcat_config(sasl);

    // kafka-sync writes; kafka-python and kcat read.
    let topic = common::unique_name("secured-interop-out");
    secured::create_topic(&props, &topic);
    let values: Vec<String> = (0..10).map(|i| format!("from-kafka-sync-{i}")).collect();
    secured::produce(&props, &topic, &values);
    let read = common::try_kafka_python_consume(&bootstrap, &topic, values.len(), &py)
        .unwrap_or_else(|e| panic!("kafka-python: {e}"));
    let got: Vec<String> = read
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
        .collect();
    assert_eq!(got, values, "kafka-python read");
    let mut args: Vec<&str> = vec!["-C", "-b", &bootstrap, "-t", &topic, "-o", "beginning"];
    let count = values.len().to_string();
    args.extend(["-c", &count, "-e", "-q", "-f", "%s\\n"]);
    args.extend(kcat_x.iter().map(String::as_str));
    let out = common::try_kcat(&args, None).unwrap_or_else(|e| panic!("kcat: {e}"));
    let got: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(got, values, "kcat read");

    // kafka-python and kcat write; kafka-sync reads.
    let topic = common::unique_name("secured-interop-in");
    secured::create_topic(&props, &topic);
    let from_python: Vec<Rec> = (0..5)
        .map(|i| Rec::new().value(format!("from-python-{i}")).partition(0))
        .collect();
    common::try_kafka_python_produce(&bootstrap, &topic, &from_python, &py)
        .unwrap_or_else(|e| panic!("kafka-python produce: {e}"));
    let from_kcat: String = (0..5).map(|i| format!("from-kcat-{i}\n")).collect();
    let mut args: Vec<&str> = vec!["-P", "-b", &bootstrap, "-t", &topic, "-p", "0"];
    args.extend(kcat_x.iter().map(String::as_str));
    common::try_kcat(&args, Some(from_kcat.as_bytes())).unwrap_or_else(|e| panic!("kcat: {e}"));
    let group = common::unique_name("secured-interop-group");
    let got = secured::consume_and_commit(&props, &topic, &group, 10);
    let want: Vec<String> = (0..5)
        .map(|i| format!("from-python-{i}"))
        .chain((0..5).map(|i| format!("from-kcat-{i}")))
        .collect();
    assert_eq!(got, want, "kafka-sync read");
}

#[test]
fn ssl_interop_with_kafka_python_and_kcat() {
    interop(false);
}

#[test]
fn sasl_ssl_plain_interop_with_kafka_python_and_kcat() {
    interop(true);
}
