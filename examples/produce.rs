//! Every KafkaProducer snippet of the kafka-python docs, with kafka-sync.
//!
//! Run with a broker on 127.0.0.1:9092 (or set KAFKA_BOOTSTRAP_SERVERS):
//! `cargo run --example produce`

use std::time::Duration;

use kafka_sync::{Compression, Producer, ProducerRecord};

fn main() -> kafka_sync::Result<()> {
    let servers =
        std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let producer = Producer::builder().bootstrap_servers(&servers).build()?;

    // Asynchronous by default: send() only queues the record.
    for _ in 0..100 {
        let _ = producer.send(ProducerRecord::new("foobar").value(b"some_message_bytes"))?;
    }

    // Block until a single message is sent (or timeout).
    let future = producer.send(ProducerRecord::new("foobar").value(b"another_message"))?;
    let result = future.wait_timeout(Duration::from_secs(60))?;
    println!(
        "another_message: partition {} offset {}",
        result.partition, result.offset
    );

    // Block until all pending messages are delivered. The flush is checked: it fails with
    // Error::DeliveryFailed (how many, and the first error) if any record since the
    // previous flush was not delivered, so the futures above need not be kept.
    producer.flush()?;

    // Use a key for hashed partitioning (the same partition as the Java client picks).
    let meta = producer
        .send(ProducerRecord::new("foobar").key(b"foo").value(b"bar"))?
        .wait()?;
    println!("key foo -> partition {}", meta.partition);

    // Serialize JSON values and string keys: any function from your type to bytes is a
    // serializer (kafka-python's value_serializer / key_serializer).
    let json = |_topic: &str, v: &[(&str, &str)]| -> Result<Vec<u8>, std::convert::Infallible> {
        let fields: Vec<String> = v.iter().map(|(k, v)| format!("{k:?}: {v:?}")).collect();
        Ok(format!("{{{}}}", fields.join(", ")).into_bytes())
    };
    let utf8 = |_topic: &str, s: &str| -> Result<Vec<u8>, std::convert::Infallible> {
        Ok(s.as_bytes().to_vec())
    };
    let json_producer = producer.clone().with_serializers(utf8, json);
    json_producer.send("fizzbuzz", None, Some(&[("foo", "bar")][..]))?;
    json_producer.send("flipflap", Some("ping"), Some(&[("n", "1234")][..]))?;

    // A callback instead of blocking.
    producer
        .send(ProducerRecord::new("foobar").value("with callback"))?
        .on_complete(|r| match r {
            Ok(m) => println!("delivered to {}-{}@{}", m.topic, m.partition, m.offset),
            Err(e) => eprintln!("delivery failed: {e}"),
        });

    // Compress messages, and retry failed sends.
    let gzip = Producer::builder()
        .bootstrap_servers(&servers)
        .compression_type(Compression::Gzip)
        .retries(5)
        .build()?;
    for i in 0..1000 {
        gzip.send(ProducerRecord::new("foobar").value(format!("msg {i}")))?;
    }
    gzip.flush()?;

    producer.flush()?;
    let m = producer.metrics();
    println!("{} records in {} batches", m.records_sent, m.batches_sent);
    Ok(())
}
