//! The benchmark driver for kafka-sync (this crate), used as an application would.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kafka_sync::{
    Acks, Compression, Consumer, OffsetReset, Producer, ProducerRecord, TopicPartition,
};
use kafka_sync_bench_peers::{
    fail, latency_of, stalled, Args, Mode, Pacer, Report, TxnPacer, FETCH_MAX_WAIT_MS,
    FETCH_MIN_BYTES, STALL_TIMEOUT,
};

const CLIENT: &str = "kafka-sync";

fn main() {
    let args = Args::from_env();
    match args.mode {
        Mode::Produce => produce(&args),
        Mode::Consume => consume(&args),
        Mode::Latency => latency(&args),
    }
    .print();
}

fn producer(args: &Args) -> Producer {
    let compression = match args.compression.as_str() {
        "gzip" => Compression::Gzip,
        "lz4" => Compression::Lz4,
        "snappy" => Compression::Snappy,
        "zstd" => Compression::Zstd,
        _ => Compression::None,
    };
    let mut builder = Producer::builder();
    for (k, v) in &args.config {
        builder = builder.set(k, v);
    }
    if let Some(id) = &args.transactional_id {
        builder = builder.transactional_id(id);
    }
    builder
        .bootstrap_servers(&args.bootstrap)
        .acks(if args.acks == "all" {
            Acks::All
        } else {
            Acks::Leader
        })
        .enable_idempotence(args.idempotence)
        .compression_type(compression)
        .linger(Duration::from_millis(args.linger_ms))
        .batch_size(args.batch_size)
        .build()
        .unwrap_or_else(|e| fail(format!("producer: {e}")))
}

/// A consumer with the equal fetch settings, assigned every partition of the topic.
fn consumer(args: &Args) -> (Consumer, Vec<TopicPartition>) {
    let mut builder = Consumer::builder();
    for (k, v) in &args.config {
        builder = builder.set(k, v);
    }
    let mut c = builder
        .bootstrap_servers(&args.bootstrap)
        .auto_offset_reset(OffsetReset::Earliest)
        .check_crcs(true)
        .fetch_min_bytes(FETCH_MIN_BYTES as i32)
        .fetch_max_wait(Duration::from_millis(FETCH_MAX_WAIT_MS))
        .fetch_max_bytes(args.fetch_max_bytes as i32)
        .max_partition_fetch_bytes(args.max_partition_fetch_bytes as i32)
        .consumer_timeout(STALL_TIMEOUT)
        .build()
        .unwrap_or_else(|e| fail(format!("consumer: {e}")));
    let partitions: BTreeSet<i32> = c
        .partitions_for_topic(&args.topic)
        .unwrap_or_else(|e| fail(format!("partitions of {}: {e}", args.topic)))
        .unwrap_or_else(|| fail(format!("no topic {}", args.topic)));
    let tps: Vec<TopicPartition> = partitions
        .into_iter()
        .map(|p| TopicPartition::new(args.topic.as_str(), p))
        .collect();
    c.assign(tps.clone())
        .unwrap_or_else(|e| fail(format!("assign: {e}")));
    (c, tps)
}

fn produce(args: &Args) -> Report {
    let payloads = args.payloads();
    let p = producer(args);
    let txn_timeout = Duration::from_secs(60);
    let mut txn = args.transactional_id.as_ref().map(|_| {
        p.init_transactions(txn_timeout)
            .unwrap_or_else(|e| fail(format!("init_transactions: {e}")));
        TxnPacer::new(args)
    });
    let pacer = Pacer::start(args.rate);
    let start = Instant::now();
    let mut bytes = 0u64;
    let begin = || {
        p.begin_transaction()
            .unwrap_or_else(|e| fail(format!("begin_transaction: {e}")))
    };
    let commit = || {
        p.commit_transaction(txn_timeout)
            .unwrap_or_else(|e| fail(format!("commit_transaction: {e}")))
    };
    if txn.is_some() {
        begin();
    }
    for i in 0..args.records {
        pacer.wait(i);
        let value = payloads.get(i);
        bytes += value.len() as u64;
        if let Err(e) = p.send(ProducerRecord::new(args.topic.as_str()).value(value)) {
            fail(format!("send: {e}"));
        }
        if txn.as_mut().is_some_and(TxnPacer::sent) {
            commit();
            begin();
        }
    }
    if txn.is_some() {
        commit();
    }
    if let Err(e) = p.flush() {
        fail(format!("flush: {e}"));
    }
    Report {
        client: CLIENT,
        mode: Mode::Produce,
        records: args.records,
        bytes,
        elapsed: start.elapsed(),
        errors: p.metrics().errors,
        latencies_ns: None,
    }
}

fn consume(args: &Args) -> Report {
    let (mut c, tps) = consumer(args);
    c.seek_to_beginning(&tps)
        .unwrap_or_else(|e| fail(format!("seek: {e}")));
    let start = Instant::now();
    let (mut n, mut bytes) = (0u64, 0u64);
    for msg in c.iter() {
        let msg = msg.unwrap_or_else(|e| fail(format!("consume: {e}")));
        bytes += msg.value.map_or(0, |v| v.len() as u64);
        n += 1;
        if n == args.records {
            break;
        }
    }
    if n < args.records {
        stalled(n, args.records);
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

fn latency(args: &Args) -> Report {
    let payloads = args.payloads();
    let (mut c, tps) = consumer(args);
    c.seek_to_end(&tps)
        .unwrap_or_else(|e| fail(format!("seek: {e}")));
    for tp in &tps {
        // Resolves the end offsets now, before anything is produced.
        c.position(tp)
            .unwrap_or_else(|e| fail(format!("position: {e}")));
    }
    let want = args.records;
    let (ready_tx, ready_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut latencies = Vec::with_capacity(want as usize);
        ready_tx.send(()).ok();
        for msg in c.iter() {
            let msg = msg.unwrap_or_else(|e| fail(format!("consume: {e}")));
            latencies.push(latency_of(msg.value.as_deref().unwrap_or_default()));
            if latencies.len() as u64 == want {
                break;
            }
        }
        latencies
    });
    ready_rx.recv().ok();
    let p = producer(args);
    let pacer = Pacer::start(args.rate);
    let start = Instant::now();
    let mut bytes = 0u64;
    for i in 0..args.records {
        let value = payloads.stamped(i, pacer.wait(i));
        bytes += value.len() as u64;
        if let Err(e) = p.send(ProducerRecord::new(args.topic.as_str()).value(value)) {
            fail(format!("send: {e}"));
        }
    }
    p.flush().unwrap_or_else(|e| fail(format!("flush: {e}")));
    let latencies = reader
        .join()
        .unwrap_or_else(|_| fail("consumer thread panicked"));
    if (latencies.len() as u64) < want {
        stalled(latencies.len() as u64, want);
    }
    Report {
        client: CLIENT,
        mode: Mode::Latency,
        records: want,
        bytes,
        elapsed: start.elapsed(),
        errors: p.metrics().errors,
        latencies_ns: Some(latencies),
    }
}
