//! `metrics()` of the consumer and the producer against the real broker: each counter
//! moves the way the work done says it must, and the Java-named map carries the same
//! values.

mod common;

use std::time::Duration;

use common::topics::{create_topic, produce_values};
use common::*;
use kafka_sync::{Compression, Consumer, OffsetReset, Producer, ProducerRecord, TopicPartition};

fn produce(topic: &str, partition: i32, count: usize) {
    produce_values(topic, partition, count, |i| format!("value-{i:04}"));
}

#[test]
fn consumer_metrics_follow_what_was_read_lag_and_commits() {
    let topic = unique_name("consumer-metrics");
    create_topic(&topic, 2);
    produce(&topic, 0, 30);
    produce(&topic, 1, 12);
    let mut consumer = Consumer::builder()
        .bootstrap_servers(bootstrap())
        .group_id(unique_name("metrics-group"))
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .max_poll_records(5)
        .session_timeout(Duration::from_secs(10))
        .heartbeat_interval(Duration::from_millis(500))
        .consumer_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let before = consumer.metrics();
    assert_eq!(before.records_consumed_total, 0);
    assert_eq!(before.records_lag_max, None);
    consumer.subscribe([topic.as_str()]).unwrap();

    // The first records: lag is what was produced minus what was read, per partition.
    let mut read = 0;
    let mut per_partition = [0i64; 2];
    while read == 0 {
        for (tp, records) in consumer.poll_records(Duration::from_secs(10), 5).unwrap() {
            per_partition[tp.partition as usize] += records.len() as i64;
            read += records.len() as u64;
        }
    }
    let m = consumer.metrics();
    assert_eq!(m.records_consumed_total, read);
    for (tp, lag) in &m.records_lag {
        let produced = if tp.partition == 0 { 30 } else { 12 };
        assert_eq!(
            *lag,
            produced - per_partition[tp.partition as usize],
            "{tp}"
        );
    }
    assert!(!m.records_lag.is_empty());
    assert_eq!(m.records_lag_max, m.records_lag.values().copied().max());
    assert!(m.fetch_total >= 1);
    assert!(m.bytes_consumed_total > 0);
    assert!(m.fetch_latency_max >= m.fetch_latency_avg);
    assert_eq!(m.rebalance_total, 1, "the first join is a rebalance");
    assert!(m.rebalance_latency_total > Duration::ZERO);

    // Everything: 42 records, no lag.
    let rest = consumer
        .iter()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
        .len() as u64;
    assert_eq!(read + rest, 42);
    let m = consumer.metrics();
    assert_eq!(m.records_consumed_total, 42);
    assert_eq!(m.records_lag_max, Some(0));
    let tp0 = TopicPartition::new(&topic, 0);
    assert_eq!(m.records_lag[&tp0], 0);
    assert!(m.bytes_consumed_total >= 42 * "value-0000".len() as u64);

    // Commits: one sync, one async whose callback runs in a later poll.
    assert_eq!(m.commit_total, 0);
    consumer.commit().unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    consumer
        .commit_async(move |r| {
            r.unwrap();
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        })
        .unwrap();
    wait_for(
        "the async commit's callback",
        Duration::from_secs(10),
        || {
            assert!(consumer
                .poll(Duration::from_millis(100))
                .unwrap()
                .is_empty());
            done.load(std::sync::atomic::Ordering::SeqCst).then_some(())
        },
    );
    let m = consumer.metrics();
    assert_eq!(m.commit_total, 2);
    assert!(m.commit_latency_avg > Duration::ZERO);
    assert!(m.commit_latency_max >= m.commit_latency_avg);

    // The I/O thread heartbeats every 500 ms.
    let ago = wait_for("a heartbeat", Duration::from_secs(5), || {
        consumer.metrics().last_heartbeat
    });
    assert!(ago < Duration::from_secs(5));

    let map = m.to_map();
    assert_eq!(map["records-consumed-total"], 42.0);
    assert_eq!(map["records-lag-max"], 0.0);
    assert_eq!(map["commit-total"], 2.0);
    assert_eq!(map["rebalance-total"], 1.0);
    assert_eq!(
        map["fetch-latency-avg"],
        m.fetch_latency_avg.as_secs_f64() * 1000.0
    );
    assert_eq!(
        map[&format!("records-lag{{topic={topic},partition=1}}")],
        0.0
    );
}

#[test]
fn producer_metrics_report_latency_batches_compression_and_buffer() {
    let topic = unique_name("producer-metrics");
    create_topic(&topic, 1);
    let buffer_memory = 4 * 1024 * 1024;
    let p = Producer::builder()
        .bootstrap_servers(bootstrap())
        .compression_type(Compression::Gzip)
        .buffer_memory(buffer_memory)
        .linger(Duration::from_millis(20))
        .build()
        .unwrap();
    let m = p.metrics();
    assert_eq!(m.buffer_available_bytes, buffer_memory as u64);
    assert_eq!(m.compression_rate_avg, 1.0);
    // Very compressible values.
    for _ in 0..200 {
        p.send(ProducerRecord::new(&topic).value(vec![b'a'; 1000]))
            .unwrap();
    }
    p.flush().unwrap();
    let m = p.metrics();
    assert_eq!(m.records_sent, 200);
    assert!(m.batches_sent >= 1);
    assert!(m.average_batch_size() > 0.0);
    assert!(
        m.average_batch_size() < 200.0 * 1000.0,
        "gzip shrinks the batches"
    );
    assert!(
        m.compression_rate_avg > 0.0 && m.compression_rate_avg < 0.2,
        "{}",
        m.compression_rate_avg
    );
    assert!(m.request_latency_avg > Duration::ZERO);
    assert!(m.request_latency_max >= m.request_latency_avg);
    assert_eq!(m.buffer_available_bytes, buffer_memory as u64, "all sent");
    let map = m.to_map();
    assert_eq!(map["record-send-total"], 200.0);
    assert_eq!(map["compression-rate-avg"], m.compression_rate_avg);
    assert_eq!(map["batch-size-avg"], m.average_batch_size());
    assert_eq!(map["buffer-available-bytes"], buffer_memory as f64);
    assert!(map["request-latency-avg"] > 0.0);
}
