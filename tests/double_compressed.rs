//! `skip_double_compressed_messages`: legacy (v0/v1) data in which a compressed wrapper
//! holds another compressed message, as kafka-python's producer up to 1.2.4 wrote it.
//! Kafka 4 brokers no longer store v0/v1 messages, so the fake broker serves the
//! fetched data; everything else comes from the real broker.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::fake_broker::Misbehave;
use common::fault_proxy::FaultProxy;
use common::topics::create_topic;
use common::unique_name;
use kafka_sync::protocol::api::ApiKey;
use kafka_sync::protocol::compression::{compress, Compression};
use kafka_sync::{Consumer, TopicPartition};

/// A v1 message (CRC included) with a null key.
fn message(attributes: u8, value: &[u8]) -> Vec<u8> {
    let mut m = vec![0, 0, 0, 0, 1, attributes];
    m.extend_from_slice(&1_000i64.to_be_bytes());
    m.extend_from_slice(&(-1i32).to_be_bytes());
    m.extend_from_slice(&(value.len() as i32).to_be_bytes());
    m.extend_from_slice(value);
    let crc = crc32fast::hash(&m[4..]);
    m[..4].copy_from_slice(&crc.to_be_bytes());
    m
}

fn entry(offset: i64, message: &[u8]) -> Vec<u8> {
    let mut e = offset.to_be_bytes().to_vec();
    e.extend_from_slice(&(message.len() as i32).to_be_bytes());
    e.extend_from_slice(message);
    e
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    compress(Compression::Gzip, None, data, &mut out).unwrap();
    out
}

/// A gzip wrapper at offset 2 holding, at relative offsets 0..3: "plain-0", a gzip
/// wrapper of two messages (the double compression), "plain-2".
fn double_compressed_set() -> (Bytes, Vec<u8>) {
    let mut nested_set = entry(0, &message(0, b"inner-a"));
    nested_set.extend(entry(1, &message(0, b"inner-b")));
    let nested_value = gzip(&nested_set);
    let mut set = entry(0, &message(0, b"plain-0"));
    set.extend(entry(1, &message(1, &nested_value)));
    set.extend(entry(2, &message(0, b"plain-2")));
    let wrapper = entry(2, &message(1, &gzip(&set)));
    (Bytes::from(wrapper), nested_value)
}

/// The first `n` records a consumer reads (the fake broker answers every fetch with the
/// same set, so reading on would meet it again below the position).
fn read(skip: Option<bool>, n: usize) -> Vec<(i64, Vec<u8>)> {
    let topic = unique_name("double-compressed");
    create_topic(&topic, 1);
    let proxy = FaultProxy::start(&common::bootstrap());
    let (records, _) = double_compressed_set();
    proxy.script(ApiKey::FETCH, None, Misbehave::fetch_records(records));
    let mut builder = Consumer::builder()
        .bootstrap_servers(proxy.bootstrap())
        .consumer_timeout(Duration::from_secs(2));
    if let Some(skip) = skip {
        builder = builder.skip_double_compressed_messages(skip);
    }
    let mut c = builder.build().unwrap();
    let tp = TopicPartition::new(&topic, 0);
    c.assign([tp.clone()]).unwrap();
    c.seek(&tp, 0).unwrap();
    c.iter()
        .take(n)
        .map(|r| {
            let r = r.unwrap();
            (r.offset, r.value.unwrap().to_vec())
        })
        .collect()
}

#[test]
fn double_compressed_messages_come_out_still_compressed_by_default() {
    let (_, nested_value) = double_compressed_set();
    let got = read(None, 3);
    assert_eq!(
        got,
        [
            (0, b"plain-0".to_vec()),
            (1, nested_value),
            (2, b"plain-2".to_vec())
        ]
    );
    assert_eq!(got, read(Some(false), 3));
}

#[test]
fn skip_double_compressed_messages_drops_them() {
    let got = read(Some(true), 2);
    assert_eq!(got, [(0, b"plain-0".to_vec()), (2, b"plain-2".to_vec())]);
}
