//! pykafka's "producing to multiple topics": keep one producer and share it, instead of
//! one producer per topic. A `Producer` is `Clone + Send + Sync`; clones share one I/O
//! thread and one connection per broker.
//!
//! `cargo run --example multi_topic`

use std::thread;

use kafka_sync::{Producer, ProducerRecord};

fn main() -> kafka_sync::Result<()> {
    let servers =
        std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let producer = Producer::builder().bootstrap_servers(servers).build()?;

    let consumed_messages = [
        ("orders", "order-1"),
        ("payments", "pay-1"),
        ("orders", "order-2"),
        ("audit", "a-1"),
    ];
    for (destination_topic, message) in consumed_messages {
        producer.send(ProducerRecord::new(destination_topic).value(message))?;
    }

    // The same producer from several threads.
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let producer = producer.clone();
            thread::spawn(move || -> kafka_sync::Result<()> {
                for i in 0..100 {
                    let topic = if i % 2 == 0 { "orders" } else { "payments" };
                    producer.send(
                        ProducerRecord::new(topic)
                            .key(format!("worker-{w}"))
                            .value(format!("{i}")),
                    )?;
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker panicked")?;
    }
    producer.flush()?;
    println!("sent {} records", producer.metrics().records_sent);
    Ok(())
}
