//! [`ShareConsumer`]: a member of a KIP-932 share group (Kafka's queues).
//!
//! Several share consumers may read the same partition at once. The broker hands each
//! one records under an acquisition lock; the consumer acknowledges every record
//! ([`AcknowledgeType::Accept`], [`Release`](AcknowledgeType::Release) for redelivery,
//! or [`Reject`](AcknowledgeType::Reject)), and a record not acknowledged before its lock
//! expires goes to another consumer, its [`ShareRecord::delivery_count`] one higher.
//!
//! ```text
//!  user thread                        background I/O thread "kafka-io-<client_id>"
//!  ShareConsumer --Fetch{acks}-->       ShareGroupHeartbeat to the group coordinator
//!                --Acknowledge-->       ShareFetch / ShareAcknowledge per leader broker
//!                <--records, results--  (share session epochs, piggy-backed acks)
//! ```
//!
//! # Examples
//! ```no_run
//! # fn main() -> kafka_sync::Result<()> {
//! use std::time::Duration;
//! use kafka_sync::share_consumer::{AcknowledgeType, AcknowledgementMode, ShareConsumer};
//! let mut consumer = ShareConsumer::builder()
//!     .bootstrap_servers("127.0.0.1:9092")
//!     .group_id("work-queue")
//!     .acknowledgement_mode(AcknowledgementMode::Explicit)
//!     .build()?;
//! consumer.subscribe(["jobs"])?;
//! for record in consumer.poll(Duration::from_secs(1))? {
//!     let kind = if record.value.is_some() { AcknowledgeType::Accept } else { AcknowledgeType::Reject };
//!     consumer.acknowledge(&record, kind)?;
//! }
//! consumer.commit_sync(Duration::from_secs(5))?;
//! consumer.close(Duration::from_secs(5));
//! # Ok(()) }
//! ```

mod acknowledgements;
mod builder;
mod config;
mod decode;
mod driver;
mod fetch;
mod handle;
mod membership;
mod record;

pub use builder::ShareConsumerBuilder;
pub use config::ShareConsumerConfig;
pub use handle::{ShareConsumer, ShareIter};
pub use record::{AcknowledgeType, AcknowledgementMode, AcknowledgementResult, ShareRecord};
