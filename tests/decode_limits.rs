//! The cap on the memory a fetched batch takes decoded (`max_decoded_batch_bytes`),
//! against the real broker: zstd batches of many tiny records decode under the default
//! cap, and under a cap below their decoded size `poll` fails with a typed error naming
//! the partition and the batch's offset, within the poll timeout + 1 s.

mod common;

use std::time::{Duration, Instant};

use common::*;
use kafka_sync::{
    Compression, Consumer, Error, OffsetReset, Producer, ProducerRecord, TopicPartition,
};

const RECORDS: usize = 100_000;

/// Sends `RECORDS` one-byte records to partition 0 in batches of up to 1 MiB, zstd.
fn produce_tiny_records(topic: &str) {
    let p = Producer::builder()
        .bootstrap_servers(bootstrap())
        .compression_type(Compression::Zstd)
        .batch_size(1 << 20)
        .linger(Duration::from_millis(200))
        .build()
        .unwrap();
    let futures: Vec<_> = (0..RECORDS)
        .map(|_| {
            p.send(ProducerRecord::new(topic).partition(0).value("x"))
                .unwrap()
        })
        .collect();
    p.flush().unwrap();
    for f in futures {
        f.wait().unwrap();
    }
}

fn consumer(max_decoded_batch_bytes: Option<usize>, fetch_max_bytes: Option<i32>) -> Consumer {
    let mut b = Consumer::builder()
        .bootstrap_servers(bootstrap())
        .auto_offset_reset(OffsetReset::Earliest);
    if let Some(cap) = max_decoded_batch_bytes {
        b = b.max_decoded_batch_bytes(cap);
    }
    if let Some(bytes) = fetch_max_bytes {
        b = b.fetch_max_bytes(bytes);
    }
    b.build().unwrap()
}

/// Reads partition 0 from the start until `RECORDS` records came, within 60 s.
fn read_all(c: &mut Consumer, tp: &TopicPartition) {
    c.assign([tp.clone()]).unwrap();
    let mut read = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while read < RECORDS {
        assert!(Instant::now() < deadline, "read {read} of {RECORDS}");
        read += c
            .poll(Duration::from_secs(1))
            .unwrap()
            .values()
            .map(Vec::len)
            .sum::<usize>();
    }
    assert_eq!(read, RECORDS);
}

#[test]
fn batches_of_tiny_records_fit_the_default_cap_and_a_lower_cap_is_a_typed_error() {
    let topic = unique_name("decode-limits");
    produce_tiny_records(&topic);
    let tp = TopicPartition::new(&topic, 0);

    // Default cap: everything reads.
    read_all(&mut consumer(None, None), &tp);
    // A prefetch bound below one decoded batch (about 10 MB): fetching pauses while a
    // batch is decoded and resumes once it is read, so everything still comes.
    read_all(&mut consumer(None, Some(64 << 10)), &tp);

    // 256 KiB holds about 2,500 decoded records; the first batch has far more.
    let timeout = Duration::from_secs(5);
    let mut c = consumer(Some(256 << 10), None);
    c.assign([tp.clone()]).unwrap();
    let started = Instant::now();
    let err = loop {
        match c.poll(timeout) {
            Err(e) => break e,
            Ok(records) => {
                assert!(records.is_empty(), "read past the cap: {records:?}");
                assert!(started.elapsed() < timeout, "no error in {timeout:?}");
            }
        }
    };
    assert!(started.elapsed() <= timeout + Duration::from_secs(1));
    match err {
        Error::CorruptRecords {
            partition,
            offset,
            error,
            ..
        } => {
            assert_eq!((partition, offset), (tp, 0));
            assert!(error.to_string().contains("262144"), "{error}");
        }
        other => panic!("expected CorruptRecords, got {other:?}"),
    }
}
