//! The Kafka wire protocol, sans-IO.
//!
//! Nothing here touches a socket, the clock or a thread: decoders take bytes, encoders
//! append to a buffer. The I/O thread of each client drives it over mio.
//!
//! Public only with the `protocol` cargo feature, for tools that speak the protocol
//! directly. These types are not covered by semver: the requests and responses are
//! regenerated from Kafka's JSON message specs, and any of them may change with any
//! release. Everything the clients' own API needs ([`Compression`](crate::Compression),
//! [`ErrorCode`](crate::ErrorCode), [`Uuid`](crate::Uuid), the record header and
//! timestamp types) has a stable path outside this module.

pub mod api;
pub mod codec;
pub mod compression;
pub mod error_code;
mod error_code_table;
pub mod frame;
#[doc(hidden)]
pub mod fuzzing;
pub mod header;
pub mod murmur2;
pub mod records;
