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
//! Which thread runs your callbacks:
//! - [`DeliveryFuture::on_complete`] callbacks run on the producer's I/O thread, as
//!   kafka-python's `add_callback` runs on its sender thread. Keep them short and never
//!   block in them (no `flush`, `close` or `wait` on the same producer): while one runs,
//!   nothing is sent. Hand slow work to a channel. `wait()` runs nothing anywhere.
//! - Rebalance listeners and [`Consumer::commit_async`] callbacks run on the thread that
//!   calls `poll`/`next`, `commit` or `close`, never on the I/O thread and never under
//!   the consumer's locks; they may call the consumer through the context they get.
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
//!
//! ## Secured clusters
//!
//! TLS (rustls) and SASL (PLAIN, SCRAM, OAUTHBEARER) take the usual property names; the
//! system trust store is used unless a CA is given. A wrong password or a certificate that
//! does not verify is a typed error on the first call.
//!
//! ```no_run
//! # fn main() -> kafka_sync::Result<()> {
//! let producer = kafka_sync::Producer::builder()
//!     .properties(
//!         "bootstrap.servers=broker.example.com:9092\n\
//!          security.protocol=SASL_SSL\n\
//!          sasl.mechanism=PLAIN\n\
//!          sasl.username=app\n\
//!          sasl.password=secret\n",
//!     )
//!     .build()?;
//! # Ok(()) }
//! ```
//!
//! `for msg in &mut consumer` borrows the consumer for the whole loop, so commit per
//! record through a [`Committer`] taken before it:
//!
//! ```no_run
//! # fn main() -> kafka_sync::Result<()> {
//! # let mut consumer = kafka_sync::Consumer::builder().group_id("g").enable_auto_commit(false).build()?;
//! # consumer.subscribe(["topic"])?;
//! let committer = consumer.committer();
//! for msg in &mut consumer {
//!     let msg = msg?;
//!     // ... process msg ...
//!     committer.commit(&msg)?; // commits msg.offset + 1 for its partition
//! }
//! # Ok(()) }
//! ```
//!
//! `seek_to_beginning` and `seek_to_end` are lazy, as in kafka-python: the offset is
//! looked up by the next `poll`, `position` or `commit`, and `commit()` right after them
//! commits the reset position.

// Every socket option and system call goes through std, mio or socket2.
#![deny(unsafe_code)]
#![warn(missing_debug_implementations)]

pub mod admin;
mod broker_version;
mod client_setters;
pub mod config;
pub mod consumer;
mod deadline;
mod error;
mod fast_hash;
mod net;
pub mod oauth;
pub mod producer;
#[cfg(feature = "protocol")]
pub mod protocol;
// Without the `protocol` feature the wire types are internal: parts only tools and tests
// use are dead code, and a protocol type that leaks into a public signature without a
// public path is an error.
#[cfg(not(feature = "protocol"))]
#[allow(dead_code, unused_imports)]
#[deny(unnameable_types)]
pub(crate) mod protocol;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod sasl_exchange;
pub mod share_consumer;
mod topic_partition;

pub use broker_version::BrokerVersion;
pub use config::{Acks, AssignmentStrategy, IsolationLevel, OffsetReset};
pub use consumer::ConsumerGroupMetadata;
pub use consumer::ConsumerMetrics;
pub use consumer::{
    Committer, Consumer, ConsumerBuilder, ConsumerRebalanceListener, ConsumerRecord, Deserializer,
    OffsetAndMetadata, RebalanceContext, WakeupHandle,
};
pub use error::{Error, ErrorCode, Result};
/// Test-only (the `fuzzing` feature): makes the I/O thread of the client with this
/// `client_id` panic at its next loop turn; not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use net::inject_io_thread_panic;
pub use net::metadata::{BrokerMetadata, ClusterMetadata, PartitionMetadata, TopicMetadata};
pub use producer::{
    DefaultPartitioner, DeliveryFuture, Partitioner, Producer, ProducerBuilder, ProducerMetrics,
    ProducerRecord, RecordMetadata, Serializer, TypedProducer,
};
pub use protocol::codec::Uuid;
pub use protocol::codec::{DecodeError, EncodeError};
pub use protocol::compression::Compression;
pub use protocol::compression::CompressionError;
pub use share_consumer::{AcknowledgeType, ShareConsumer, ShareRecord};
pub use topic_partition::TopicPartition;
