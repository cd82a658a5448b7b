//! The producer: a thread-safe handle, per-partition batching with linger, delivery
//! futures, Java-compatible partitioning, retries and idempotence.

mod accumulator;
mod block_budget;
mod builder;
mod expiry;
mod future;
mod handle;
mod metrics;
mod partitioner;
mod producer_id;
mod record;
mod sender;
mod sequence;
mod serializer;
mod transaction;
mod transactional;

pub use builder::ProducerBuilder;
pub use future::{DeliveryCallback, DeliveryFuture};
pub use handle::Producer;
pub use metrics::ProducerMetrics;
pub use partitioner::{DefaultPartitioner, Partitioner};
pub use record::{IntoBytes, ProducerRecord, RecordMetadata};
pub use serializer::{Serializer, TypedProducer};
