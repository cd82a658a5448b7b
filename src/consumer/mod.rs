//! The consumer: `for msg in consumer`, poll, assign and subscribe, consumer groups with
//! rebalancing, offsets and commits.
//!
//! The user thread holds a [`Consumer`]; its I/O thread runs the fetcher and the group
//! coordinator and hands data over through a bounded buffer.

pub mod assignor;
mod buffer;
mod builder;
mod committer;
mod core;
mod driver;
mod fetch_retry;
mod fetch_session;
mod fetcher;
pub(crate) mod group;
mod group_metadata;
mod handle;
mod listener;
mod metrics;
mod offsets;
mod reader;
mod record;

pub use self::core::RebalanceContext;
pub use builder::ConsumerBuilder;
pub use committer::Committer;
pub use group_metadata::ConsumerGroupMetadata;
pub use handle::{Consumer, Iter, WakeupHandle};
pub use listener::ConsumerRebalanceListener;
pub use metrics::ConsumerMetrics;
pub use record::{
    BytesDeserializer, ConsumerRecord, Deserializer, OffsetAndMetadata, RecordHeader, TimestampType,
};
