//! Proof that the real-broker test harness works: the brokers `tests/run` starts, the
//! peer clients (kafka-python, kcat, the Java tools) and the fault controls
//! (`tests/kafka/broker kill N` / `restart N`).

mod common;

use common::*;
use std::time::Duration;

/// `n` records with keys, headers and values holding awkward bytes (NUL, 0xff, newline).
fn sample_records(n: usize, tag: &str) -> Vec<Rec> {
    (0..n)
        .map(|i| {
            let mut value = format!("{tag}-value-{i}-").into_bytes();
            value.extend_from_slice(&[0, 0xff, b'\n', b' ', i as u8]);
            Rec::new()
                .key(format!("key-{i}"))
                .value(value)
                .header("idx", i.to_string())
                .header("tag", tag)
        })
        .collect()
}

/// Asserts that `got` holds exactly `sent`, in order, from offset `first_offset` of one
/// partition. Header values are compared as bytes (kcat cannot show a null header).
fn assert_same_records(sent: &[Rec], got: &[PeerRecord], first_offset: i64) {
    assert_eq!(got.len(), sent.len(), "record count");
    for (i, (s, g)) in sent.iter().zip(got).enumerate() {
        assert_eq!(g.offset, first_offset + i as i64, "offset of record {i}");
        assert_eq!(g.key, s.key, "key of record {i}");
        assert_eq!(g.value, s.value, "value of record {i}");
        let headers: Vec<(String, Vec<u8>)> = g
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
            .collect();
        assert_eq!(headers, s.headers, "headers of record {i}");
        assert!(g.timestamp > 0, "timestamp of record {i}");
    }
}

#[test]
fn kafka_python_records_read_back_by_kcat_and_kafka_python() {
    let bs = bootstrap();
    for codec in [
        None,
        Some("gzip"),
        Some("snappy"),
        Some("lz4"),
        Some("zstd"),
    ] {
        let tag = codec.unwrap_or("none");
        let topic = unique_name(&format!("harness-{tag}"));
        kafka_python_create_topic(&bs, &topic, 1, 1);

        let mut records = sample_records(25, tag);
        records.push(Rec::new().value("null key"));
        records.push(Rec::new().key("tombstone")); // null value
        records.push(Rec::new().key("").value("")); // empty, not null
        let acks = kafka_python_produce(&bs, &topic, &records, codec);
        let expected: Vec<(i32, i64)> = (0..records.len() as i64).map(|o| (0, o)).collect();
        assert_eq!(acks, expected, "{tag}: delivery reports");

        // Ask kcat for one record more than exists: it must stop at the end of the log
        // with exactly the records sent.
        let got = kcat_consume(&bs, &topic, records.len() + 1);
        assert_same_records(&records, &got, 0);

        let got = kafka_python_consume(&bs, &topic, records.len());
        assert_same_records(&records, &got, 0);
        assert!(got
            .iter()
            .all(|r| r.headers.iter().all(|(_, v)| v.is_some())));
    }
}

#[test]
fn java_console_consumer_reads_kafka_python_records() {
    let bs = bootstrap();
    let topic = unique_name("harness-java");
    let records: Vec<Rec> = (0..5)
        .map(|i| Rec::new().key(format!("k{i}")).value(format!("v{i}")))
        .collect();
    kafka_python_produce(&bs, &topic, &records, Some("lz4"));
    let out = broker_ctl(&[
        "tool",
        "console-consumer",
        "--bootstrap-server",
        &bs,
        "--topic",
        &topic,
        "--from-beginning",
        "--max-messages",
        "5",
        "--timeout-ms",
        "30000",
        "--property",
        "print.key=true",
    ]);
    // Kafka 4.x also prints a deprecation note for --property (3.9 lacks its successor).
    let lines: Vec<&str> = out.lines().filter(|l| l.contains('\t')).collect();
    let expected: Vec<String> = (0..5).map(|i| format!("k{i}\tv{i}")).collect();
    assert_eq!(lines, expected);
}

/// Restarts a killed node if the test fails before it does, so later tests find the
/// cluster whole.
struct RestartOnDrop(Option<i32>);

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        if let Some(node) = self.0.take() {
            let _ = try_broker_ctl(&["restart", &node.to_string()]);
        }
    }
}

fn cluster_with_brokers(bs: &str, n: usize) -> ClusterInfo {
    retry(
        &format!("cluster with {n} brokers"),
        Duration::from_secs(90),
        Duration::from_secs(1),
        || {
            let c = try_kafka_python_describe_cluster(bs)?;
            if c.brokers.len() == n {
                Ok(c)
            } else {
                Err(format!("brokers: {:?}", c.brokers))
            }
        },
    )
}

fn partition0(
    bs: &str,
    topic: &str,
    what: &str,
    ok: impl Fn(&PartitionInfo) -> bool,
) -> PartitionInfo {
    retry(
        what,
        Duration::from_secs(90),
        Duration::from_millis(500),
        || {
            let parts = try_kafka_python_describe_topic(bs, topic)?;
            match parts.first() {
                Some(p) if ok(p) => Ok(p.clone()),
                other => Err(format!("partition 0: {other:?}")),
            }
        },
    )
}

#[test]
fn cluster_survives_leader_kill_and_node_rejoins() {
    let _lock = cluster_fault_lock();
    let bs = cluster_bootstrap();

    let cluster = cluster_with_brokers(&bs, 3);
    let ids: Vec<i32> = cluster.brokers.iter().map(|b| b.id).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    assert!(cluster.brokers.iter().all(|b| b.host == "127.0.0.1"));

    let topic = unique_name("harness-fault");
    kafka_python_create_topic(&bs, &topic, 1, 3);
    let p = partition0(&bs, &topic, "full ISR", |p| {
        p.leader >= 1 && p.isr.len() == 3
    });
    assert_eq!(p.replicas.len(), 3);

    let before = sample_records(20, "before");
    let acks = kafka_python_produce(&bs, &topic, &before, None);
    assert_eq!(acks.last(), Some(&(0, 19)));

    // Kill the partition leader.
    let victim = p.leader;
    let mut guard = RestartOnDrop(Some(victim));
    broker_ctl(&["kill", &victim.to_string()]);
    let survivors: Vec<String> = cluster
        .brokers
        .iter()
        .filter(|b| b.id != victim)
        .map(|b| format!("{}:{}", b.host, b.port))
        .collect();
    let survivors = survivors.join(",");

    // The controller fences the dead node: a new leader, and an ISR of two, which still
    // meets min.insync.replicas=2.
    let p = partition0(
        &survivors,
        &topic,
        "new leader without the killed node",
        |p| p.leader >= 1 && p.leader != victim && !p.isr.contains(&victim),
    );
    assert_eq!(p.isr.len(), 2);

    // Still writable with acks=all (the full bootstrap list still names the dead node).
    let after = sample_records(20, "after");
    let acks = kafka_python_produce(&bs, &topic, &after, None);
    assert_eq!(acks.first(), Some(&(0, 20)));
    assert_eq!(acks.last(), Some(&(0, 39)));

    // Every record is there, in order.
    let all: Vec<Rec> = before.iter().chain(&after).cloned().collect();
    let got = retry(
        "all records readable",
        Duration::from_secs(60),
        Duration::from_secs(1),
        || {
            let got = try_kcat_consume(&survivors, &topic, all.len() + 1)?;
            if got.len() == all.len() {
                Ok(got)
            } else {
                Err(format!("{} of {} records", got.len(), all.len()))
            }
        },
    );
    assert_same_records(&all, &got, 0);

    // The node comes back on its old data and rejoins.
    broker_ctl(&["restart", &victim.to_string()]);
    guard.0 = None;
    let cluster = cluster_with_brokers(&bs, 3);
    assert!(cluster.brokers.iter().any(|b| b.id == victim));
    partition0(&bs, &topic, "restarted node back in the ISR", |p| {
        p.isr.contains(&victim) && p.isr.len() == 3
    });

    let got = kafka_python_consume(&bs, &topic, all.len());
    assert_same_records(&all, &got, 0);
}

/// The secured listeners of `tests/kafka/broker start --secure` take kafka-python with every
/// TLS and SASL setting the client tests use, and refuse what they must refuse.
#[test]
fn secured_listeners_accept_kafka_python_and_refuse_bad_credentials() {
    let certs = certs_dir();
    let ca = certs.join("ca.pem");
    let script = r#"
import json, sys
from kafka import KafkaAdminClient
cases = json.loads(sys.argv[1])
for name, cfg in cases:
    try:
        a = KafkaAdminClient(request_timeout_ms=10000, **cfg)
        a.describe_cluster()
        a.close()
        print(name, "ok")
    except Exception as e:
        print(name, "refused")  # kafka-python times out rather than naming the cause
"#;
    let ssl = kafka_python_tls(&ca);
    let sasl = |listener: &str, protocol: &str, mechanism: &str, password: &str| {
        format!(
            r#"{{"bootstrap_servers": "{}", "security_protocol": "{protocol}", "sasl_mechanism": "{mechanism}",
               "sasl_plain_username": "alice", "sasl_plain_password": "{password}", {ssl}}}"#,
            secure_bootstrap(listener)
        )
    };
    let mut cases = vec![
        format!(
            r#"["ssl", {{"bootstrap_servers": "{}", "security_protocol": "SSL", {ssl}}}]"#,
            secure_bootstrap("SSL")
        ),
        format!(
            r#"["mtls", {{"bootstrap_servers": "{}", "security_protocol": "SSL", {ssl},
               "ssl_certfile": "{}", "ssl_keyfile": "{}"}}]"#,
            secure_bootstrap("MTLS"),
            certs.join("client.pem").display(),
            certs.join("client.key").display()
        ),
    ];
    for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        cases.push(format!(
            r#"["sasl_plaintext {mechanism}", {}]"#,
            sasl(
                "SASL_PLAINTEXT",
                "SASL_PLAINTEXT",
                mechanism,
                "alice-secret"
            )
        ));
        cases.push(format!(
            r#"["sasl_ssl {mechanism}", {}]"#,
            sasl("SASL_SSL", "SASL_SSL", mechanism, "alice-secret")
        ));
    }
    cases.push(format!(
        r#"["wrong password", {}]"#,
        sasl(
            "SASL_PLAINTEXT",
            "SASL_PLAINTEXT",
            "SCRAM-SHA-512",
            "not-the-password"
        )
    ));
    let out = python(script, &[&format!("[{}]", cases.join(","))]);
    let lines: Vec<&str> = out.lines().collect();
    let mut want = vec!["ssl ok".to_string(), "mtls ok".to_string()];
    for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        want.push(format!("sasl_plaintext {mechanism} ok"));
        want.push(format!("sasl_ssl {mechanism} ok"));
    }
    want.push("wrong password refused".into());
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_eq!(
        lines, want,
        "kafka-python against the secured listeners:\n{out}"
    );
}

/// kafka-python's TLS settings for the test CA, as JSON object members.
fn kafka_python_tls(ca: &std::path::Path) -> String {
    format!(
        r#""ssl_cafile": "{}", "ssl_check_hostname": true"#,
        ca.display()
    )
}
