//! The Kafka wire protocol, sans-IO.
//!
//! Nothing here touches a socket, the clock or a thread: decoders take bytes, encoders
//! append to a buffer. The I/O thread of each client drives it over mio.

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
