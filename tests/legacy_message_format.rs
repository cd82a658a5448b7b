//! Reading the legacy message formats (v0 and v1 message sets, plain and compressed) from
//! a real broker.
//!
//! A topic with `message.format.version` below 0.11 makes a broker before Kafka 3.0 store
//! every record in that old format, whatever the producer sent, and hand it to consumers
//! as it is. Kafka 3.0 ignores the setting and 4.0 no longer knows it: on those brokers
//! these tests read v2 batches. `tests/matrix` sets `KAFKA_SYNC_LEGACY_MESSAGE_FORMAT=1`
//! for brokers before 3.0; then the tests also check what only the old formats do
//! (no timestamps in v0), which proves the old format was what the consumer read.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use kafka_sync::consumer::TimestampType;
use kafka_sync::{
    Acks, Compression, Consumer, ConsumerRecord, Producer, ProducerRecord, TopicPartition,
};

/// Whether the broker under test stores the old formats (set by `tests/matrix`).
fn broker_keeps_legacy_format() -> bool {
    std::env::var("KAFKA_SYNC_LEGACY_MESSAGE_FORMAT").is_ok_and(|v| v == "1")
}

/// A one-partition topic pinned to `format` (e.g. "0.9.0" for v0, "0.10.2" for v1) where
/// the broker still has `message.format.version`; a plain topic where it does not.
fn legacy_topic(bootstrap: &str, prefix: &str, format: &str) -> String {
    let topic = unique_name(prefix);
    let pinned = [("message.format.version", format)];
    if let Err(e) = try_kafka_python_create_topic(bootstrap, &topic, 1, 1, &pinned) {
        assert!(
            !broker_keeps_legacy_format(),
            "a broker before 3.0 refused message.format.version={format}: {e}"
        );
        kafka_python_create_topic(bootstrap, &topic, 1, 1);
    }
    topic
}

/// Ten records `{prefix}{i}` with create times `base + i`, through a producer using
/// `codec`. Idempotence is off: brokers refuse idempotent writes to a pre-v2 topic.
fn produce_ten(bootstrap: &str, topic: &str, codec: Compression, prefix: &str, base: i64) {
    let p = Producer::builder()
        .bootstrap_servers(bootstrap)
        .enable_idempotence(false)
        .acks(Acks::Leader)
        .compression_type(codec)
        .linger(Duration::from_millis(50))
        .build()
        .unwrap();
    let futures: Vec<_> = (0..10)
        .map(|i| {
            p.send(
                ProducerRecord::new(topic)
                    .key(format!("k-{prefix}{i}"))
                    .value(format!("{prefix}{i}"))
                    .timestamp(base + i),
            )
            .unwrap()
        })
        .collect();
    p.flush().unwrap();
    for f in futures {
        f.wait().unwrap();
    }
    p.close(Duration::from_secs(10));
}

/// Every record of partition 0 of `topic` from `from` on, read with an assigned consumer.
fn read_from(bootstrap: &str, topic: &str, from: i64, want: usize) -> Vec<ConsumerRecord> {
    let tp = TopicPartition::new(topic, 0);
    let mut c = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .consumer_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    c.assign([tp.clone()]).unwrap();
    c.seek(&tp, from).unwrap();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while out.len() < want && std::time::Instant::now() < deadline {
        for (_, records) in c.poll(Duration::from_millis(500)).unwrap() {
            out.extend(records);
        }
    }
    out
}

fn text(b: &Option<bytes::Bytes>) -> String {
    String::from_utf8(b.as_deref().unwrap().to_vec()).unwrap()
}

#[test]
fn reads_v0_message_sets_plain_and_gzip_from_any_offset() {
    let bootstrap = bootstrap();
    let topic = legacy_topic(&bootstrap, "legacy-v0", "0.9.0");
    produce_ten(&bootstrap, &topic, Compression::None, "plain", 1_000_000);
    produce_ten(&bootstrap, &topic, Compression::Gzip, "gzip", 2_000_000);

    let all = read_from(&bootstrap, &topic, 0, 20);
    let want: Vec<String> = (0..10)
        .map(|i| format!("plain{i}"))
        .chain((0..10).map(|i| format!("gzip{i}")))
        .collect();
    assert_eq!(all.iter().map(|r| text(&r.value)).collect::<Vec<_>>(), want);
    assert_eq!(
        all.iter().map(|r| r.offset).collect::<Vec<_>>(),
        (0..20).collect::<Vec<i64>>()
    );
    for r in &all {
        assert_eq!(text(&r.key), format!("k-{}", text(&r.value)));
        if broker_keeps_legacy_format() {
            // v0 has no timestamp: the broker dropped the producer's when it converted.
            assert_eq!(
                (r.timestamp, r.timestamp_type),
                (-1, TimestampType::NoTimestamp),
                "{r:?}"
            );
        } else {
            assert_eq!(r.timestamp_type, TimestampType::CreateTime, "{r:?}");
        }
    }

    // From the middle of the compressed message set: the wrapper's earlier inner
    // messages come back in the fetch and are dropped by the consumer.
    let tail = read_from(&bootstrap, &topic, 13, 7);
    assert_eq!(
        tail.iter()
            .map(|r| (r.offset, text(&r.value)))
            .collect::<Vec<_>>(),
        (13..20)
            .map(|o| (o, format!("gzip{}", o - 10)))
            .collect::<Vec<_>>()
    );
}

#[test]
fn reads_v1_messages_from_a_kafka_python_0_10_producer() {
    let bootstrap = bootstrap();
    let topic = legacy_topic(&bootstrap, "legacy-v1", "0.10.2");
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let records: Vec<Rec> = (0..10)
        .map(|i| Rec::new().key(format!("k{i}")).value(format!("v1-{i}")))
        .collect();
    // kafka-python pinned to 0.10 speaks Produce v2 and writes v1 messages; brokers from
    // 4.0 no longer take Produce v2, so there it writes what it negotiates.
    let pin: &[(&str, &str)] = if broker_keeps_legacy_format() {
        &[("api_version", "(0, 10)")]
    } else {
        &[]
    };
    let plain = try_kafka_python_produce(&bootstrap, &topic, &records, pin).unwrap();
    let mut gzip_cfg = pin.to_vec();
    gzip_cfg.push(("compression_type", "gzip"));
    gzip_cfg.push(("linger_ms", "100"));
    let gzipped = try_kafka_python_produce(&bootstrap, &topic, &records, &gzip_cfg).unwrap();
    assert_eq!(plain.len() + gzipped.len(), 20);
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;

    let all = read_from(&bootstrap, &topic, 0, 20);
    assert_eq!(all.len(), 20, "{all:?}");
    for (i, r) in all.iter().enumerate() {
        assert_eq!(r.offset, i as i64);
        assert_eq!(text(&r.key), format!("k{}", i % 10));
        assert_eq!(text(&r.value), format!("v1-{}", i % 10));
        assert!(r.headers.is_empty());
        // v1 keeps the producer's create time.
        assert_eq!(r.timestamp_type, TimestampType::CreateTime, "{r:?}");
        assert!(
            (before..=after).contains(&r.timestamp),
            "{r:?} not in {before}..={after}"
        );
    }
    let tail = read_from(&bootstrap, &topic, 15, 5);
    assert_eq!(
        tail.iter().map(|r| r.offset).collect::<Vec<_>>(),
        (15..20).collect::<Vec<i64>>()
    );
}
