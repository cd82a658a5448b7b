//! The benchmark driver for rust-rdkafka (librdkafka, bundled and built from source).
//!
//! Setting mapping: `--acks` → acks, `--idempotence` → enable.idempotence,
//! `--compression` → compression.type, `--linger-ms` → linger.ms, `--batch-size` →
//! batch.size. queue.buffering.max.messages is raised to 1,000,000 so the local queue
//! never throttles sends (a full queue is served by polling and retrying, as
//! rdkafka_performance does). Consumers: assign every partition, check.crcs=true,
//! fetch.max.bytes, max.partition.fetch.bytes, fetch.min.bytes=1, fetch.wait.max.ms=500.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kafka_sync_bench_peers::{
    fail, latency_of, stalled, Args, Mode, Pacer, Report, TxnPacer, FETCH_MAX_WAIT_MS,
    FETCH_MIN_BYTES, STALL_TIMEOUT,
};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

const CLIENT: &str = "rust-rdkafka";
const META_TIMEOUT: Duration = Duration::from_secs(30);

fn main() {
    let args = Args::from_env();
    match args.mode {
        Mode::Produce => produce(&args),
        Mode::Consume => consume(&args),
        Mode::Latency => latency(&args),
    }
    .print();
}

/// Counts failed deliveries.
#[derive(Default)]
struct Counting {
    errors: AtomicU64,
}

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if result.is_err() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn producer(args: &Args) -> BaseProducer<Counting> {
    let mut config = with_extra_config(args);
    if let Some(id) = &args.transactional_id {
        config.set("transactional.id", id);
    }
    config
        .set("bootstrap.servers", &args.bootstrap)
        .set("acks", &args.acks)
        .set("enable.idempotence", args.idempotence.to_string())
        .set("compression.type", &args.compression)
        .set("linger.ms", args.linger_ms.to_string())
        .set("batch.size", args.batch_size.to_string())
        .set("queue.buffering.max.messages", "1000000")
        .create_with_context(Counting::default())
        .unwrap_or_else(|e| fail(format!("producer: {e}")))
}

/// Sends one record, serving delivery reports while the local queue is full.
fn send(p: &BaseProducer<Counting>, topic: &str, value: &[u8]) {
    let mut record = BaseRecord::<(), [u8]>::to(topic).payload(value);
    loop {
        match p.send(record) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                p.poll(Duration::from_millis(1));
            }
            Err((e, _)) => fail(format!("send: {e}")),
        }
    }
}

/// Waits until every record is acknowledged; returns the failed deliveries.
///
/// Not `Producer::flush(timeout)`: in rust-rdkafka 0.39 it checks `rd_kafka_flush(0)` and
/// then calls `BaseProducer::poll(100 ms)`, which runs to its deadline even when the last
/// delivery report arrives sooner, so every run would end up to 100 ms late (exactly
/// 100 ms was seen on a 0.15 s run). The same loop with 1 ms poll slices instead:
/// `flush(0)` still tells librdkafka to send what lingers at once (as flush does in
/// every client) and reports whether anything is queued or in flight.
fn finish(p: &BaseProducer<Counting>) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        match p.flush(Duration::ZERO) {
            Ok(()) => break,
            Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut))
                if Instant::now() < deadline =>
            {
                p.poll(Duration::from_millis(1))
            }
            Err(e) => fail(format!(
                "flush: {e} ({} records unacknowledged)",
                p.in_flight_count()
            )),
        }
    }
    p.context().errors.load(Ordering::Relaxed)
}

/// A client configuration holding the `--config` properties.
fn with_extra_config(args: &Args) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (k, v) in &args.config {
        config.set(k, v);
    }
    config
}

/// A consumer with the equal fetch settings, assigned every partition from the beginning
/// or (`from_end`) from each partition's end offset as of now.
fn consumer(args: &Args, from_end: bool) -> BaseConsumer {
    let c: BaseConsumer = with_extra_config(args)
        .set("bootstrap.servers", &args.bootstrap)
        // librdkafka's assign() needs a group.id (else "Local: Unknown group"), but with
        // assign and no subscribe it joins no group; with auto commit off it commits
        // nothing.
        .set("group.id", "kafka-sync-bench-unused")
        .set("enable.auto.commit", "false")
        .set("check.crcs", "true")
        .set("fetch.min.bytes", FETCH_MIN_BYTES.to_string())
        .set("fetch.wait.max.ms", FETCH_MAX_WAIT_MS.to_string())
        .set("fetch.max.bytes", args.fetch_max_bytes.to_string())
        .set(
            "max.partition.fetch.bytes",
            args.max_partition_fetch_bytes.to_string(),
        )
        .create()
        .unwrap_or_else(|e| fail(format!("consumer: {e}")));
    let meta = c
        .fetch_metadata(Some(&args.topic), META_TIMEOUT)
        .unwrap_or_else(|e| fail(format!("metadata: {e}")));
    let topic = meta
        .topics()
        .iter()
        .find(|t| t.name() == args.topic && !t.partitions().is_empty())
        .unwrap_or_else(|| fail(format!("no topic {}", args.topic)));
    let mut tpl = TopicPartitionList::new();
    for p in topic.partitions() {
        let offset = if from_end {
            let (_, high) = c
                .fetch_watermarks(&args.topic, p.id(), META_TIMEOUT)
                .unwrap_or_else(|e| fail(format!("watermarks: {e}")));
            Offset::Offset(high)
        } else {
            Offset::Beginning
        };
        tpl.add_partition_offset(&args.topic, p.id(), offset)
            .unwrap_or_else(|e| fail(format!("assign: {e}")));
    }
    c.assign(&tpl)
        .unwrap_or_else(|e| fail(format!("assign: {e}")));
    c
}

/// Polls until `want` records arrived, handing each value to `each`.
fn read(c: &BaseConsumer, want: u64, mut each: impl FnMut(&[u8])) -> u64 {
    let mut n = 0;
    let mut last = Instant::now();
    while n < want {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                each(m.payload().unwrap_or_default());
                n += 1;
                last = Instant::now();
            }
            Some(Err(e)) => fail(format!("consume: {e}")),
            None if last.elapsed() > STALL_TIMEOUT => stalled(n, want),
            None => {}
        }
    }
    n
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
    let begin = || {
        p.begin_transaction()
            .unwrap_or_else(|e| fail(format!("begin_transaction: {e}")))
    };
    // BaseProducer gets its delivery reports only when polled, and commit_transaction's
    // own flush does not poll: `finish` serves them first (as a ThreadedProducer would).
    let commit = || {
        finish(&p);
        p.commit_transaction(txn_timeout)
            .unwrap_or_else(|e| fail(format!("commit_transaction: {e}")))
    };
    let pacer = Pacer::start(args.rate);
    let start = Instant::now();
    let mut bytes = 0u64;
    if txn.is_some() {
        begin();
    }
    for i in 0..args.records {
        pacer.wait(i);
        let value = payloads.get(i);
        bytes += value.len() as u64;
        send(&p, &args.topic, value);
        if i % 1024 == 0 {
            p.poll(Duration::ZERO);
        }
        if txn.as_mut().is_some_and(TxnPacer::sent) {
            commit();
            begin();
        }
    }
    if txn.is_some() {
        commit();
    }
    let errors = finish(&p);
    Report {
        client: CLIENT,
        mode: Mode::Produce,
        records: args.records,
        bytes,
        elapsed: start.elapsed(),
        errors,
        latencies_ns: None,
    }
}

fn consume(args: &Args) -> Report {
    let c = consumer(args, false);
    let start = Instant::now();
    let mut bytes = 0u64;
    let n = read(&c, args.records, |v| bytes += v.len() as u64);
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
    let c = consumer(args, true);
    let want = args.records;
    let (ready_tx, ready_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut latencies = Vec::with_capacity(want as usize);
        ready_tx.send(()).ok();
        read(&c, want, |v| latencies.push(latency_of(v)));
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
        send(&p, &args.topic, &value);
        p.poll(Duration::ZERO);
    }
    let errors = finish(&p);
    let latencies = reader
        .join()
        .unwrap_or_else(|_| fail("consumer thread panicked"));
    Report {
        client: CLIENT,
        mode: Mode::Latency,
        records: want,
        bytes,
        elapsed: start.elapsed(),
        errors,
        latencies_ns: Some(latencies),
    }
}
