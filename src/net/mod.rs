//! The network engine: one background I/O thread per client, a `mio::Poll` loop that owns
//! every socket, the connections' state machines and the cluster metadata cache.
//!
//! ```text
//!  user threads                      background I/O thread "kafka-io-<client_id>"
//!  Producer (Clone+Send+Sync) --cmd-->  mio::Poll loop: sockets, timers, metadata,
//!  Consumer (Send, !Sync)     <-data--  connection state machines, batch drain,
//!  AdminClient                <-reply-  fetch pipelining, group coordinator, heartbeats
//! ```

pub(crate) mod backoff;
pub(crate) mod connection;
pub(crate) mod io_thread;
pub mod metadata;
pub(crate) mod network;
pub(crate) mod rpc;
#[allow(dead_code)] // parts only the SCRAM and OAUTHBEARER mechanisms use
pub(crate) mod sasl;
pub(crate) mod session;
mod socket_options;
mod tls;
pub(crate) mod versions;

/// Test-only: the I/O thread of the client with this `client_id` panics at its next loop
/// turn. Exists only with the `fuzzing` feature, for the tests that check every handle
/// then gets an error; not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use io_thread::panic_injection::inject as inject_io_thread_panic;
