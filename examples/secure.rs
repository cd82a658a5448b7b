//! A secured cluster: connect with SASL_SSL and SCRAM-SHA-512 from a client properties
//! file, create a topic if needed, produce one record and read it back.
//!
//! ```text
//! cargo run --example secure -- client.properties [topic]
//! ```
//!
//! where `client.properties` holds the settings a managed cluster gives out, under the
//! Java client's names (librdkafka's and kafka-python's are accepted too):
//!
//! ```text
//! bootstrap.servers=127.0.0.1:9096
//! security.protocol=SASL_SSL
//! sasl.mechanism=SCRAM-SHA-512
//! sasl.username=admin
//! sasl.password=admin-secret
//! # Leave out to trust the system's CA store (managed clusters).
//! ssl.ca.location=/root/.cache/kafka-sync/certs/ca.pem
//! ```

use std::time::{Duration, Instant};

use kafka_sync::admin::{AdminClient, CreateTopicsOptions, NewTopic};
use kafka_sync::{Consumer, ErrorCode, Producer, ProducerRecord, TopicPartition};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: secure <client.properties> [topic]");
        std::process::exit(2);
    };
    let topic = args.next().unwrap_or_else(|| "secure-example".into());
    let properties = std::fs::read_to_string(&path)?;

    let admin = AdminClient::builder().properties(&properties).build()?;
    let created = admin.create_topics(
        &[NewTopic::new(&topic, 1, 1)],
        CreateTopicsOptions::default(),
    )?;
    match &created[&topic] {
        Ok(()) => println!("created topic {topic}"),
        Err(e) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {}
        Err(e) => return Err(e.clone().into()),
    }

    let producer = Producer::builder().properties(&properties).build()?;
    let meta = producer
        .send(
            ProducerRecord::new(&topic)
                .partition(0)
                .value("hello, secured Kafka"),
        )?
        .wait()?;
    println!(
        "wrote {}-{} at offset {}",
        meta.topic, meta.partition, meta.offset
    );

    let mut consumer = Consumer::builder().properties(&properties).build()?;
    let tp = TopicPartition::new(&topic, 0);
    consumer.assign([tp.clone()])?;
    consumer.seek(&tp, meta.offset)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        for (_, records) in consumer.poll(Duration::from_millis(500))? {
            if let Some(r) = records.into_iter().find(|r| r.offset == meta.offset) {
                let value = r.value.as_deref().unwrap_or_default();
                println!("read back: {}", String::from_utf8_lossy(value));
                return Ok(());
            }
        }
    }
    Err("the record just written was not read back within 30 s".into())
}
