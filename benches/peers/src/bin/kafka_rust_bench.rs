//! The benchmark driver for kafka-rust (the `kafka` crate). It speaks the old protocol
//! versions Kafka 4.x removed, so it runs against a Kafka 3.9 broker.
//!
//! Setting mapping: `--acks` → RequiredAcks::One / All; `--compression` → gzip or snappy
//! (the crate has no lz4 or zstd: exit 3); there is no idempotence (exit 3) and no linger:
//! records go out with `send_all` in chunks of about `--batch-size` bytes, the crate's
//! batching unit (`--linger-ms` is ignored). With `--rate`, a chunk holds the records
//! already due. No latency mode (exit 3).
//! Consumers: no group, from the earliest offset, CRC validation on, the per-partition
//! fetch size from `--max-partition-fetch-bytes`, fetch min bytes 1, max wait 500 ms.

use std::time::{Duration, Instant};

use kafka::client::{Compression, FetchOffset, RequiredAcks};
use kafka::consumer::Consumer;
use kafka::producer::{Producer, Record};
use kafka_sync_bench_peers::{
    fail, stalled, unsupported, Args, Mode, Pacer, Report, FETCH_MAX_WAIT_MS, FETCH_MIN_BYTES,
    STALL_TIMEOUT,
};

const CLIENT: &str = "kafka-rust";

fn main() {
    let args = Args::from_env();
    if !args.config.is_empty() {
        unsupported("client properties such as TLS and SASL settings");
    }
    match args.mode {
        Mode::Produce => produce(&args),
        Mode::Consume => consume(&args),
        Mode::Latency => unsupported("latency mode (no per-record delivery to time)"),
    }
    .print();
}

/// Fails with the client's error, explaining the usual one: Kafka 4.x closes the
/// connection on the request versions kafka-rust sends (Metadata v0, Produce v0, ...).
fn kafka_fail(what: &str, e: kafka::Error) -> ! {
    let eof = match &e {
        kafka::Error::Io(io) => io.kind() == std::io::ErrorKind::UnexpectedEof,
        kafka::Error::UnexpectedEOF => true,
        _ => false,
    };
    if eof {
        fail(format!(
            "{what}: {e} (the broker closed the connection: kafka-rust only speaks request \
             versions that Kafka 4.0 removed; run it against a Kafka 3.x broker)"
        ))
    }
    fail(format!("{what}: {e}"))
}

fn produce(args: &Args) -> Report {
    if args.idempotence {
        unsupported("idempotence");
    }
    let compression = match args.compression.as_str() {
        "none" => Compression::NONE,
        "gzip" => Compression::GZIP,
        "snappy" => Compression::SNAPPY,
        other => unsupported(format!("compression {other}")),
    };
    let payloads = args.payloads();
    let mut p = Producer::from_hosts(vec![args.bootstrap.clone()])
        .with_ack_timeout(Duration::from_secs(30))
        .with_required_acks(if args.acks == "all" {
            RequiredAcks::All
        } else {
            RequiredAcks::One
        })
        .with_compression(compression)
        .create()
        .unwrap_or_else(|e| kafka_fail("producer", e));
    let per_chunk = (args.batch_size / payloads.get(0).len().max(1)).max(1) as u64;
    let pacer = Pacer::start(args.rate);
    let start = Instant::now();
    let (mut bytes, mut i) = (0u64, 0u64);
    let mut chunk: Vec<Record<'_, (), &[u8]>> = Vec::with_capacity(per_chunk as usize);
    while i < args.records {
        // A chunk is one blocking request. At full speed it holds about --batch-size
        // bytes; with --rate, record i waits for its send time, and the chunk takes it
        // and every later record already due (those that fell behind), up to the same
        // size: no record leaves before its time, none is skipped.
        pacer.wait(i);
        let mut end = (i + 1).min(args.records);
        let limit = (i + per_chunk).min(args.records);
        if args.rate > 0.0 {
            let due = (start.elapsed().as_secs_f64() * args.rate) as u64 + 1;
            end = end.max(due.min(limit));
        } else {
            end = limit;
        }
        chunk.clear();
        chunk.extend((i..end).map(|j| Record::from_value(args.topic.as_str(), payloads.get(j))));
        bytes += chunk.iter().map(|r| r.value.len() as u64).sum::<u64>();
        for confirm in p.send_all(&chunk).unwrap_or_else(|e| kafka_fail("send", e)) {
            if let Some(e) = confirm
                .partition_confirms
                .iter()
                .find_map(|c| c.offset.err())
            {
                fail(format!("send: {e:?}"));
            }
        }
        i = end;
    }
    Report {
        client: CLIENT,
        mode: Mode::Produce,
        records: args.records,
        bytes,
        elapsed: start.elapsed(),
        errors: 0,
        latencies_ns: None,
    }
}

fn consume(args: &Args) -> Report {
    let mut c = Consumer::from_hosts(vec![args.bootstrap.clone()])
        .with_topic(args.topic.clone())
        .with_fallback_offset(FetchOffset::Earliest)
        .with_fetch_min_bytes(FETCH_MIN_BYTES as i32)
        .with_fetch_max_wait_time(Duration::from_millis(FETCH_MAX_WAIT_MS))
        .with_fetch_max_bytes_per_partition(args.max_partition_fetch_bytes as i32)
        .with_fetch_crc_validation(true)
        // No group, so nothing is loaded or committed.
        .with_offset_storage(None)
        .create()
        .unwrap_or_else(|e| kafka_fail("consumer", e));
    let start = Instant::now();
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut last = Instant::now();
    let debug = std::env::var_os("KAFKA_RUST_BENCH_DEBUG").is_some();
    while n < args.records {
        let sets = c.poll().unwrap_or_else(|e| kafka_fail("consume", e));
        let before = n;
        for set in sets.iter() {
            for m in set.messages() {
                bytes += m.value.len() as u64;
                n += 1;
            }
        }
        if debug {
            eprintln!(
                "poll: {} sets, {} records, {n} in all",
                sets.iter().count(),
                n - before
            );
        }
        if n > before {
            last = Instant::now();
        } else if last.elapsed() > STALL_TIMEOUT {
            // Also when the poll returns message sets that hold no record.
            stalled(n, args.records);
        }
    }
    Report {
        client: CLIENT,
        mode: Mode::Consume,
        records: n,
        bytes,
        elapsed: start.elapsed(),
        errors: 0,
        latencies_ns: None,
    }
}
