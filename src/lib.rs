//! # kafka-sync
//!
//! A synchronous Apache Kafka client: a blocking [`Producer`], [`Consumer`] and
//! [`AdminClient`](admin::AdminClient), with no async runtime. Behaviour and names follow
//! kafka-python's `KafkaProducer` and `KafkaConsumer`.
//!
//! ## Threading
//!
//! Every client owns one background I/O thread, `kafka-io-<client_id>`, running a
//! `mio::Poll` loop that owns every socket. The handles talk to it over channels:
//!
//! ```text
//!  user threads                      background I/O thread "kafka-io-<client_id>"
//!  ------------                      --------------------------------------------
//!  Producer (Clone+Send+Sync) --cmd-->  mio::Poll loop: sockets, timers, metadata,
//!  Consumer (Send, !Sync)     <-data--  connection state machines, batch drain,
//!  AdminClient                <-reply-  fetch pipelining, group coordinator, heartbeats
//! ```
//!
//! - `Producer::send` appends to a per-partition batch and returns a
//!   [`DeliveryFuture`]; the I/O thread sends batches when they fill up or `linger`
//!   passes. No syscall or thread wakeup per record.
//! - The consumer's I/O thread prefetches from every leader into a bounded buffer and
//!   heartbeats for the group, so slow processing neither stalls fetching nor drops the
//!   member. Rebalance listeners run on the thread that polls.
//!
//! ## Producing
//!
//! ```no_run
//! use kafka_sync::{Acks, Producer, ProducerRecord};
//! # fn main() -> kafka_sync::Result<()> {
//! let producer = Producer::builder()
//!     .bootstrap_servers("127.0.0.1:9092")
//!     .acks(Acks::All)
//!     .build()?;
//! let delivery = producer.send(ProducerRecord::new("topic").key("k").value("v"))?;
//! let meta = delivery.wait()?;
//! println!("{}-{} @ {}", meta.topic, meta.partition, meta.offset);
//! producer.flush()?;
//! # Ok(()) }
//! ```
//!
//! ## Consuming
//!
//! ```no_run
//! use kafka_sync::{Consumer, OffsetReset};
//! use std::time::Duration;
//! # fn main() -> kafka_sync::Result<()> {
//! let mut consumer = Consumer::builder()
//!     .bootstrap_servers("127.0.0.1:9092")
//!     .group_id("my-group")
//!     .auto_offset_reset(OffsetReset::Earliest)
//!     .consumer_timeout(Duration::from_secs(1))
//!     .build()?;
//! consumer.subscribe(["topic"])?;
//! for msg in &mut consumer {
//!     let msg = msg?;
//!     println!("{}:{}:{} {:?}", msg.topic, msg.partition, msg.offset, msg.value);
//! }
//! consumer.commit()?;
//! # Ok(()) }
//! ```

// Every socket option and system call goes through std, mio or socket2.
#![deny(unsafe_code)]

pub mod admin;
mod client_setters;
pub mod config;
pub mod consumer;
mod deadline;
mod error;
mod fast_hash;
pub mod net;
pub mod oauth;
pub mod producer;
pub mod protocol;
mod topic_partition;

pub use config::{Acks, AssignmentStrategy, IsolationLevel, OffsetReset};
pub use consumer::ConsumerGroupMetadata;
pub use consumer::{
    Committer, Consumer, ConsumerBuilder, ConsumerRebalanceListener, ConsumerRecord, Deserializer,
    OffsetAndMetadata, RebalanceContext, WakeupHandle,
};
pub use error::{Error, ErrorCode, Result};
pub use producer::{
    DefaultPartitioner, DeliveryFuture, Partitioner, Producer, ProducerBuilder, ProducerMetrics,
    ProducerRecord, RecordMetadata, Serializer, TypedProducer,
};
pub use protocol::compression::Compression;
pub use topic_partition::TopicPartition;
