//! The thin mio side of a broker connection: the socket, the non-blocking connect, and
//! moving bytes between the socket and the connection's sans-IO [`Session`], which owns
//! the handshake, framing and requests in flight.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use mio::net::TcpStream;
use mio::Token;

use crate::error::Error;

use super::session::{Event, Session};

pub(crate) struct Connection<X> {
    pub token: Token,
    pub session: Session<X>,
    pub last_activity: Instant,
    /// When the handshake completed; reconnect backoff starts over only for a
    /// connection that stayed up a while.
    pub ready_since: Option<Instant>,
    /// Set when a response on this connection did not decode; the I/O thread then
    /// closes it (see [`super::network::Response::decode`]).
    pub broken: Arc<AtomicBool>,
    stream: TcpStream,
}

impl<X> Connection<X> {
    /// Starts a non-blocking connect to `addr` for `session`.
    pub fn connect(
        addr: SocketAddr,
        token: Token,
        session: Session<X>,
        now: Instant,
    ) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        Ok(Connection {
            token,
            session,
            last_activity: now,
            ready_since: None,
            broken: Arc::new(AtomicBool::new(false)),
            stream,
        })
    }

    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Checks whether a connect in progress has finished. `Ok(true)` once connected.
    pub fn finish_connect(&mut self) -> io::Result<bool> {
        if let Some(e) = self.stream.take_error()? {
            return Err(e);
        }
        match self.stream.peer_addr() {
            Ok(_) => {
                self.stream.set_nodelay(true)?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) if e.raw_os_error() == Some(115) => Ok(false), // EINPROGRESS
            Err(e) => Err(e),
        }
    }

    /// Handshake done and nothing undecodable received: requests may go out.
    pub fn is_usable(&self) -> bool {
        self.session.is_ready() && !self.broken.load(Ordering::Relaxed)
    }

    /// Writes what the session has buffered until done or the socket would block.
    pub fn flush(&mut self, now: Instant) -> io::Result<()> {
        if self.session.has_pending_writes() {
            self.session.write_to(&mut self.stream)?;
            self.last_activity = now;
        }
        Ok(())
    }

    /// Reads what the socket has into the session, then writes whatever that made it
    /// want to send (TLS handshake records, the next handshake request).
    pub fn read(&mut self, now: Instant, out: &mut Vec<Event<X>>) -> Result<(), Error> {
        let before = out.len();
        let result = self.session.read_from(&mut self.stream, now, out);
        if out.len() > before || result.is_ok() {
            self.last_activity = now;
        }
        result?;
        self.flush(now).map_err(|e| Error::Disconnected {
            broker: self.session.label().to_owned(),
            reason: format!("write failed: {e}"),
        })
    }
}
