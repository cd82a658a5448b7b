//! The quickstart: produce 1M records with a progress bar, consume them in a group, and
//! print the throughput of both.
//!
//! `tests/kafka/broker start && cargo run --release --example quickstart`

use std::io::Write;
use std::time::{Duration, Instant};

use kafka_sync::admin::{AdminClient, NewTopic};
use kafka_sync::{Consumer, OffsetReset, Producer, ProducerRecord};

const RECORDS: usize = 1_000_000;
const PARTITIONS: i32 = 6;

fn progress(label: &str, done: usize, total: usize, started: Instant) {
    let width = 40;
    let filled = done * width / total;
    let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
    print!(
        "\r{label:>8} [{}{}] {done:>8}/{total} {rate:>10.0} rec/s",
        "#".repeat(filled),
        " ".repeat(width - filled)
    );
    let _ = std::io::stdout().flush();
}

fn main() -> kafka_sync::Result<()> {
    let servers =
        std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let topic = format!("quickstart-{}", std::process::id());

    let admin = AdminClient::builder().bootstrap_servers(&servers).build()?;
    admin.create_topics(&[NewTopic::new(&topic, PARTITIONS, 1)], Default::default())?;

    let producer = Producer::builder().bootstrap_servers(&servers).build()?;
    let payload = vec![b'x'; 100];
    let started = Instant::now();
    for i in 0..RECORDS {
        producer.send(ProducerRecord::new(topic.as_str()).value(&payload))?;
        if i % 10_000 == 0 {
            progress("produce", i, RECORDS, started);
        }
    }
    // A checked flush: if any record was not delivered, it fails with
    // Error::DeliveryFailed, which says how many, so no future needs to be kept.
    producer.flush()?;
    progress("produce", RECORDS, RECORDS, started);
    let produce_secs = started.elapsed().as_secs_f64();
    println!();

    let mut consumer = Consumer::builder()
        .bootstrap_servers(&servers)
        .group_id(format!("{topic}-group"))
        .auto_offset_reset(OffsetReset::Earliest)
        .consumer_timeout(Duration::from_secs(10))
        .build()?;
    consumer.subscribe([topic.as_str()])?;
    let started = Instant::now();
    let mut n = 0;
    for msg in &mut consumer {
        msg?;
        n += 1;
        if n % 10_000 == 0 {
            progress("consume", n, RECORDS, started);
        }
        if n == RECORDS {
            break;
        }
    }
    progress("consume", n, RECORDS, started);
    let consume_secs = started.elapsed().as_secs_f64();
    consumer.commit()?;
    println!();
    println!(
        "produced {RECORDS} records of 100 B in {produce_secs:.2} s ({:.0} rec/s); consumed {n} in {consume_secs:.2} s ({:.0} rec/s)",
        RECORDS as f64 / produce_secs,
        n as f64 / consume_secs
    );
    println!("The broker keeps running; stop it with: tests/kafka/broker stop");
    Ok(())
}
