//! Request and response messages, one module per API, generated from the Apache Kafka
//! JSON message definitions by `generate.py` beside this file.
//!
//! Every message encodes and decodes every version its definition lists; the engine
//! picks the highest version both the broker and this crate support.

use bytes::Bytes;

use super::codec::{DecodeError, EncodeError, Reader};

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod api_versions;
pub mod consumer_group_heartbeat;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod end_txn;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod produce;
pub mod sasl_authenticate;
pub mod sasl_handshake;
pub mod sync_group;
mod tables;
#[cfg(test)]
mod tests;
pub mod txn_offset_commit;

#[doc(hidden)]
pub use tables::{decode_response_any, round_trip_request, round_trip_response};
pub use tables::{request_header_version, response_header_version, ALL_API_KEYS};

pub use api_versions::{ApiVersionsRequest, ApiVersionsResponse};
pub use fetch::{FetchRequest, FetchResponse};
pub use metadata::{MetadataRequest, MetadataResponse};
pub use produce::{ProduceRequest, ProduceResponse};

/// A Kafka API, by its numeric key.
///
/// # Examples
/// ```
/// use kafka_sync::protocol::api::ApiKey;
/// assert_eq!(ApiKey::METADATA.name(), "Metadata");
/// assert_eq!(ApiKey(999).name(), "Unknown");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiKey(pub i16);

impl std::fmt::Display for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// A message that encodes and decodes at an explicit version.
pub trait Message: Sized {
    /// The message's name in the Kafka definitions.
    const NAME: &'static str;
    /// Lowest version this crate handles.
    const MIN_VERSION: i16;
    /// Highest version this crate handles.
    const MAX_VERSION: i16;
    /// Appends the message body at `version`.
    fn encode(&self, out: &mut Vec<u8>, version: i16) -> Result<(), EncodeError>;
    /// Decodes a body at `version`.
    fn decode(r: &mut Reader, version: i16) -> Result<Self, DecodeError>;
}

/// A request, with its API key and response type.
pub trait Request: Message {
    /// The API key.
    const API_KEY: ApiKey;
    /// What the broker answers.
    type Response: Message;
}

/// Decode, encode, decode again: true when both decodes agree.
fn round_trip<M: Message + PartialEq>(version: i16, bytes: Bytes) -> Result<bool, DecodeError> {
    let first = M::decode(&mut Reader::new(bytes), version)?;
    let mut out = Vec::new();
    first
        .encode(&mut out, version)
        .map_err(|e| DecodeError::Malformed(format!("re-encode failed: {e}")))?;
    let second = M::decode(&mut Reader::new(Bytes::from(out)), version)?;
    Ok(first == second)
}
