//! The Kafka wire protocol, sans-IO.
//!
//! Nothing here touches a socket, the clock or a thread: decoders take bytes, encoders
//! append to a buffer. The engine in [`crate::net`] drives it over mio.

pub mod api;
pub mod codec;
pub mod error_code;
mod error_code_table;
pub mod frame;
pub mod header;
pub mod compression;
pub mod murmur2;
pub mod records;
#[doc(hidden)]
pub mod fuzzing;
