//! pykafka's "handling connection loss": the client reconnects by itself; when it
//! cannot, calls fail with `NoBrokersAvailable` or `Disconnected`, and recreating the
//! consumer is always an option.
//!
//! `cargo run --example reconnect -- my-topic` and stop/start the broker meanwhile.

use std::time::Duration;

use kafka_sync::{Consumer, Error, OffsetReset};

fn consumer(servers: &str, topic: &str) -> kafka_sync::Result<Consumer> {
    let mut c = Consumer::builder()
        .bootstrap_servers(servers)
        .group_id("reconnect-example")
        .auto_offset_reset(OffsetReset::Earliest)
        .build()?;
    c.subscribe([topic])?;
    Ok(c)
}

fn main() -> kafka_sync::Result<()> {
    let servers =
        std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let topic = std::env::args().nth(1).unwrap_or_else(|| "my-topic".into());
    let mut c = consumer(&servers, &topic)?;
    let mut idle_polls = 0;
    while idle_polls < 30 {
        match c.poll(Duration::from_secs(1)) {
            Ok(batch) if batch.is_empty() => idle_polls += 1,
            Ok(batch) => {
                idle_polls = 0;
                let n: usize = batch.values().map(Vec::len).sum();
                println!("{n} records");
            }
            Err(e @ (Error::NoBrokersAvailable { .. } | Error::Disconnected { .. })) => {
                eprintln!("connection lost ({e}); recreating the consumer");
                std::thread::sleep(Duration::from_secs(1));
                c = consumer(&servers, &topic)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
