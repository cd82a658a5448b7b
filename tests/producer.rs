//! The producer against the real broker: round trips read back by kafka-python and kcat,
//! Java-compatible partitioning, bounds, threads, and acks=all through a leader's death.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use kafka_sync::{Acks, Compression, Error, Producer, ProducerRecord};

fn producer(bootstrap: &str) -> kafka_sync::ProducerBuilder {
    Producer::builder()
        .bootstrap_servers(bootstrap)
        .linger(Duration::from_millis(5))
}

/// Keys, values, null keys and values, headers and timestamps survive the trip, for
/// every codec, read back by kafka-python and by kcat.
#[test]
fn round_trip_every_codec_read_by_kafka_python_and_kcat() {
    let bootstrap = bootstrap();
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let topic = unique_name(&format!("produce-{}", codec.name()));
        kafka_python_create_topic(&bootstrap, &topic, 1, 1);
        let p = producer(&bootstrap)
            .compression_type(codec)
            .build()
            .unwrap();
        // Recent create times: the broker's time-based retention (7 days by default)
        // deletes records stamped earlier at its next check, which can fall mid-test.
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
            - 60_000;
        let mut sent = Vec::new();
        for i in 0..50u32 {
            let mut r = ProducerRecord::new(topic.as_str()).timestamp(ts + i as i64);
            let key = format!("key-{i}");
            let value = format!("value-{i}-\u{0}\u{ff}");
            if i % 5 != 0 {
                r = r.key(key.clone());
            }
            if i % 7 != 0 {
                r = r.value(value.clone());
            }
            r = r.header("idx", i.to_string()).header("codec", codec.name());
            let meta = p.send(r).unwrap().wait().unwrap();
            assert_eq!(meta.offset, i as i64);
            sent.push((
                (i % 5 != 0).then(|| key.into_bytes()),
                (i % 7 != 0).then(|| value.into_bytes()),
                ts + i as i64,
            ));
        }
        p.flush().unwrap();
        for got in [
            kafka_python_consume(&bootstrap, &topic, sent.len()),
            kcat_consume(&bootstrap, &topic, sent.len()),
        ] {
            assert_eq!(got.len(), sent.len(), "{codec:?}");
            for (i, (g, (k, v, ts))) in got.iter().zip(&sent).enumerate() {
                assert_eq!(g.offset, i as i64);
                assert_eq!(&g.key, k, "{codec:?} key {i}");
                assert_eq!(&g.value, v, "{codec:?} value {i}");
                assert_eq!(g.timestamp, *ts, "{codec:?} timestamp {i}");
                let headers: Vec<(String, Vec<u8>)> = g
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
                    .collect();
                assert_eq!(
                    headers,
                    vec![
                        ("idx".to_string(), i.to_string().into_bytes()),
                        ("codec".to_string(), codec.name().as_bytes().to_vec())
                    ]
                );
            }
        }
    }
}

/// The partition of a keyed record equals kafka-python's choice (murmur2, as Java) for
/// 1000 keys and several partition counts.
#[test]
fn keyed_partitioning_matches_kafka_python() {
    let bootstrap = bootstrap();
    for partitions in [2, 3, 7, 12] {
        let ours = unique_name(&format!("partitioning-ours-{partitions}"));
        let theirs = unique_name(&format!("partitioning-theirs-{partitions}"));
        kafka_python_create_topic(&bootstrap, &ours, partitions, 1);
        kafka_python_create_topic(&bootstrap, &theirs, partitions, 1);
        let keys: Vec<String> = (0..1000)
            .map(|i| format!("user-{i}-{}", i * 7919))
            .collect();
        let p = producer(&bootstrap).build().unwrap();
        let futures: Vec<_> = keys
            .iter()
            .map(|k| {
                p.send(
                    ProducerRecord::new(ours.as_str())
                        .key(k.as_str())
                        .value("v"),
                )
                .unwrap()
            })
            .collect();
        let our_partitions: Vec<i32> = futures
            .into_iter()
            .map(|f| f.wait().unwrap().partition)
            .collect();
        let recs: Vec<Rec> = keys.iter().map(|k| Rec::new().key(k).value("v")).collect();
        let their_partitions: Vec<i32> = kafka_python_produce(&bootstrap, &theirs, &recs, None)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(our_partitions, their_partitions, "{partitions} partitions");
        assert!(
            our_partitions
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len()
                > 1
        );
    }
}

#[test]
fn explicit_partition_is_honoured_and_a_bad_one_is_an_error() {
    let bootstrap = bootstrap();
    let topic = unique_name("explicit-partition");
    kafka_python_create_topic(&bootstrap, &topic, 3, 1);
    let p = producer(&bootstrap).build().unwrap();
    for part in 0..3 {
        let m = p
            .send(
                ProducerRecord::new(topic.as_str())
                    .key("same")
                    .value("v")
                    .partition(part),
            )
            .unwrap()
            .wait()
            .unwrap();
        assert_eq!(m.partition, part);
    }
    let err = p
        .send(ProducerRecord::new(topic.as_str()).value("v").partition(3))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
}

#[test]
fn keyless_records_stick_to_a_partition_per_batch() {
    let bootstrap = bootstrap();
    let topic = unique_name("sticky");
    kafka_python_create_topic(&bootstrap, &topic, 6, 1);
    // A long linger keeps all records in one batch per partition until flush.
    let p = producer(&bootstrap)
        .linger(Duration::from_secs(10))
        .batch_size(1 << 20)
        .build()
        .unwrap();
    let futures: Vec<_> = (0..100)
        .map(|i| {
            p.send(ProducerRecord::new(topic.as_str()).value(format!("{i}")))
                .unwrap()
        })
        .collect();
    p.flush().unwrap();
    let parts: std::collections::HashSet<i32> = futures
        .into_iter()
        .map(|f| f.wait().unwrap().partition)
        .collect();
    assert_eq!(
        parts.len(),
        1,
        "keyless records of one batch share a partition"
    );
}

#[test]
fn oversized_record_is_record_too_large() {
    let p = producer(&bootstrap())
        .max_request_size(10_000)
        .build()
        .unwrap();
    let err = p
        .send(ProducerRecord::new("whatever").value(vec![0u8; 20_000]))
        .unwrap_err();
    assert!(matches!(err, Error::RecordTooLarge { .. }), "{err}");
}

#[test]
fn full_buffer_blocks_then_times_out() {
    let bootstrap = bootstrap();
    let topic = unique_name("full-buffer");
    kafka_python_create_topic(&bootstrap, &topic, 1, 1);
    // Nothing is sent for 60 s (linger) and the batch never fills: memory is reserved
    // per record by an upper bound of its size, so the buffer is full first.
    let p = producer(&bootstrap)
        .linger(Duration::from_secs(60))
        .batch_size(128 * 1024)
        .buffer_memory(128 * 1024)
        .max_block(Duration::from_millis(500))
        .build()
        .unwrap();
    let value = vec![7u8; 1000];
    let mut accepted = Vec::new();
    let err = loop {
        match p.send(ProducerRecord::new(topic.as_str()).value(&value)) {
            Ok(f) => accepted.push(f),
            Err(e) => break e,
        }
        assert!(accepted.len() < 1000, "the buffer never filled");
    };
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(!accepted.is_empty());
    // Every accepted record is still delivered.
    p.flush().unwrap();
    for f in accepted {
        f.wait().unwrap();
    }
}

#[test]
fn unknown_topic_without_auto_creation_fails_within_max_block() {
    // The 3-node cluster runs with auto.create.topics.enable=false.
    let p = producer(&cluster_bootstrap())
        .max_block(Duration::from_secs(2))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = p
        .send(ProducerRecord::new(unique_name("no-such-topic").as_str()).value("v"))
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "took {:?}",
        start.elapsed()
    );
    assert!(
        matches!(&err, Error::Broker { code, .. } if *code == kafka_sync::ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
            || matches!(err, Error::Timeout { .. }),
        "{err}"
    );
}

/// One producer shared by 8 threads: every record is delivered, and each thread's records
/// keep their order within the partition.
#[test]
fn one_producer_shared_by_eight_threads() {
    let bootstrap = bootstrap();
    let topic = unique_name("threads");
    kafka_python_create_topic(&bootstrap, &topic, 4, 1);
    let p = producer(&bootstrap).build().unwrap();
    let per_thread = 2000;
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let p = p.clone();
            let topic = topic.clone();
            std::thread::spawn(move || {
                let futures: Vec<_> = (0..per_thread)
                    .map(|i| {
                        p.send(
                            ProducerRecord::new(topic.as_str())
                                .key(format!("thread-{t}"))
                                .value(format!("{t}:{i}")),
                        )
                        .unwrap()
                    })
                    .collect();
                futures
                    .into_iter()
                    .map(|f| f.wait().unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut total = 0;
    for (t, h) in handles.into_iter().enumerate() {
        let metas = h.join().unwrap();
        total += metas.len();
        let part = metas[0].partition;
        assert!(
            metas.iter().all(|m| m.partition == part),
            "thread {t}: one key, one partition"
        );
        assert!(
            metas.windows(2).all(|w| w[0].offset < w[1].offset),
            "thread {t}: order kept"
        );
    }
    assert_eq!(total, 8 * per_thread);
    let got = kafka_python_consume(&bootstrap, &topic, total);
    let mut last: HashMap<String, i64> = HashMap::new();
    for r in got {
        let v = String::from_utf8(r.value.unwrap()).unwrap();
        let (t, i) = v.split_once(':').unwrap();
        let i: i64 = i.parse().unwrap();
        let prev = last.insert(t.to_string(), i);
        assert_eq!(
            prev.map_or(0, |p| p + 1),
            i,
            "thread {t} in order, none missing"
        );
    }
}

#[test]
fn acks_zero_and_one_deliver() {
    let bootstrap = bootstrap();
    for acks in [Acks::None, Acks::Leader] {
        let topic = unique_name("acks");
        kafka_python_create_topic(&bootstrap, &topic, 1, 1);
        let p = producer(&bootstrap).acks(acks).build().unwrap();
        let futures: Vec<_> = (0..100)
            .map(|i| {
                p.send(ProducerRecord::new(topic.as_str()).value(format!("{i}")))
                    .unwrap()
            })
            .collect();
        p.flush().unwrap();
        for f in futures {
            let m = f.wait().unwrap();
            if acks == Acks::None {
                assert_eq!(m.offset, -1);
            }
        }
        assert_eq!(kafka_python_consume(&bootstrap, &topic, 100).len(), 100);
    }
}

#[test]
fn delivery_callbacks_and_metrics() {
    let bootstrap = bootstrap();
    let topic = unique_name("callbacks");
    let p = producer(&bootstrap).build().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..10 {
        let tx = tx.clone();
        p.send(ProducerRecord::new(topic.as_str()).value(format!("{i}")))
            .unwrap()
            .on_complete(move |r| tx.send(r).unwrap());
    }
    p.flush().unwrap();
    let offsets: Vec<i64> = (0..10)
        .map(|_| {
            rx.recv_timeout(Duration::from_secs(10))
                .unwrap()
                .unwrap()
                .offset
        })
        .collect();
    assert_eq!(offsets.len(), 10);
    let m = p.metrics();
    assert_eq!(m.records_sent, 10);
    assert!(m.batches_sent >= 1 && m.requests_sent >= 1);
    assert_eq!(m.errors, 0);
    assert_eq!(m.buffer_in_use, 0);
}

/// acks=all with idempotence on the 3-node cluster: kill -9 the partition leader in the
/// middle of a numbered stream; afterwards every acknowledged record is there exactly
/// once, in order.
#[test]
fn acks_all_survives_leader_kill_without_loss_or_duplicates() {
    let _fault = cluster_fault_lock();
    let bootstrap = cluster_bootstrap();
    let topic = unique_name("leader-kill");
    try_kafka_python_create_topic(&bootstrap, &topic, 1, 3, &[("min.insync.replicas", "2")])
        .unwrap();
    let info = try_kafka_python_describe_topic(&bootstrap, &topic).unwrap();
    let leader = info[0].leader;
    let p = Arc::new(
        producer(&bootstrap)
            .acks(Acks::All)
            .enable_idempotence(true)
            .request_timeout(Duration::from_secs(10))
            .delivery_timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
    );
    let total = 20_000;
    let mut futures = Vec::with_capacity(total);
    for i in 0..total {
        futures.push(
            p.send(ProducerRecord::new(topic.as_str()).value(format!("{i}")))
                .unwrap(),
        );
        if i == total / 3 {
            broker_ctl(&["kill", &leader.to_string(), "--nodes", "3"]);
        }
        if i % 1000 == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    p.flush().unwrap();
    let mut acked = Vec::new();
    for (i, f) in futures.into_iter().enumerate() {
        if let Ok(m) = f.wait() {
            acked.push((i, m.offset));
        }
    }
    broker_ctl(&["restart", &leader.to_string(), "--nodes", "3"]);
    assert!(
        acked.len() >= total * 9 / 10,
        "only {} of {total} acknowledged",
        acked.len()
    );
    let log_len = acked.iter().map(|(_, o)| *o + 1).max().unwrap_or(0) as usize;
    let got = kafka_python_consume(&bootstrap, &topic, log_len);
    let values: Vec<usize> = got
        .iter()
        .map(|r| {
            String::from_utf8(r.value.clone().unwrap())
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    // Exactly once and in order: the log is a strictly increasing sequence of record
    // numbers, and every acknowledged one is in it at the offset it was acknowledged at.
    assert!(
        values.windows(2).all(|w| w[0] < w[1]),
        "duplicates or reordering in the log"
    );
    for (i, offset) in acked {
        assert_eq!(
            values.get(offset as usize),
            Some(&i),
            "record {i} at offset {offset}"
        );
    }
}

/// kafka-python's key_serializer/value_serializer: typed keys and values become bytes.
#[test]
fn serializers_turn_typed_keys_and_values_into_bytes() {
    let bootstrap = bootstrap();
    let topic = unique_name("serializers");
    kafka_python_create_topic(&bootstrap, &topic, 1, 1);
    let json = |_: &str, v: &(u32, &str)| -> Result<Vec<u8>, std::convert::Infallible> {
        Ok(format!("{{\"n\": {}, \"s\": {:?}}}", v.0, v.1).into_bytes())
    };
    let upper = |_: &str, k: &str| -> Result<Vec<u8>, std::convert::Infallible> {
        Ok(k.to_uppercase().into_bytes())
    };
    let p = producer(&bootstrap)
        .build()
        .unwrap()
        .with_serializers(upper, json);
    p.send(&topic, Some("ping"), Some(&(7, "x")))
        .unwrap()
        .wait()
        .unwrap();
    p.send(&topic, None, None).unwrap().wait().unwrap();
    let failing = |_: &str, _: &str| -> Result<Vec<u8>, String> { Err("not today".into()) };
    let bad = p.producer().clone().with_serializers(failing, json);
    assert!(matches!(
        bad.send(&topic, Some("k"), None),
        Err(Error::Serialization(_))
    ));
    let got = kafka_python_consume(&bootstrap, &topic, 2);
    assert_eq!(got[0].key.as_deref(), Some(&b"PING"[..]));
    assert_eq!(
        got[0].value.as_deref(),
        Some(&b"{\"n\": 7, \"s\": \"x\"}"[..])
    );
    assert_eq!((got[1].key.clone(), got[1].value.clone()), (None, None));
}
