//! One TCP connection to one broker: its state machine, buffers and in-flight requests.
//!
//! The states follow the order of a Kafka handshake:
//! `Connecting → (TLS) → ApiVersions → (SASL) → Ready`. TLS and SASL states have their
//! place reserved here and are not yet implemented.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use mio::net::TcpStream;
use mio::Token;

use crate::protocol::frame::FrameDecoder;

use super::versions::ApiVersionTable;

/// Where a connection stands in its handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnState {
    /// TCP connect in progress, until the deadline.
    Connecting { deadline: Instant },
    // Tls: the TLS handshake goes here.
    /// Connected; the ApiVersions request is in flight.
    ApiVersions,
    // Sasl: SASL authentication goes here.
    /// Usable for requests.
    Ready,
}

/// A request sent and not yet answered.
#[derive(Debug)]
pub(crate) struct InFlight<X> {
    pub correlation_id: i32,
    pub api_version: i16,
    pub response_header_version: i16,
    pub deadline: Instant,
    pub ctx: X,
}

/// A complete response frame matched with the request it answers.
pub(crate) struct Answered<X> {
    pub request: InFlight<X>,
    pub frame: Bytes,
}

pub(crate) struct Connection<X> {
    pub token: Token,
    pub state: ConnState,
    pub versions: ApiVersionTable,
    pub last_activity: Instant,
    /// When the handshake completed; reconnect backoff starts over only for a
    /// connection that stayed up a while.
    pub ready_since: Option<Instant>,
    /// Set when a response on this connection did not decode; the I/O thread then
    /// closes it (see [`super::network::Response::decode`]).
    pub broken: Arc<AtomicBool>,
    stream: TcpStream,
    decoder: FrameDecoder,
    write_buf: Vec<u8>,
    write_pos: usize,
    in_flight: VecDeque<InFlight<X>>,
}

impl<X> Connection<X> {
    /// Starts a non-blocking connect to `addr`.
    pub fn connect(
        addr: SocketAddr,
        token: Token,
        deadline: Instant,
        max_frame: usize,
        now: Instant,
    ) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        Ok(Connection {
            token,
            state: ConnState::Connecting { deadline },
            versions: ApiVersionTable::default(),
            last_activity: now,
            ready_since: None,
            broken: Arc::new(AtomicBool::new(false)),
            stream,
            decoder: FrameDecoder::new(max_frame),
            write_buf: Vec::with_capacity(64 * 1024),
            write_pos: 0,
            in_flight: VecDeque::new(),
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
        self.state == ConnState::Ready && !self.broken.load(Ordering::Relaxed)
    }

    pub fn in_flight_count(&self) -> usize {
        self.in_flight.len()
    }

    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty() && self.write_pos >= self.write_buf.len()
    }

    /// The buffer a request is encoded into; call [`Self::push_in_flight`] after.
    pub fn write_buffer(&mut self) -> &mut Vec<u8> {
        if self.write_pos == self.write_buf.len() && self.write_pos > 0 {
            self.write_buf.clear();
            self.write_pos = 0;
        }
        &mut self.write_buf
    }

    pub fn push_in_flight(&mut self, req: InFlight<X>) {
        self.in_flight.push_back(req);
    }

    pub fn has_pending_writes(&self) -> bool {
        self.write_pos < self.write_buf.len()
    }

    /// Writes buffered requests until done or the socket would block.
    pub fn flush(&mut self, now: Instant) -> io::Result<()> {
        while self.write_pos < self.write_buf.len() {
            match self.stream.write(&self.write_buf[self.write_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.write_pos += n;
                    self.last_activity = now;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.write_buf.clear();
        self.write_pos = 0;
        // Don't keep a huge buffer around after one large request.
        if self.write_buf.capacity() > 4 * 1024 * 1024 {
            self.write_buf.shrink_to(64 * 1024);
        }
        Ok(())
    }

    /// Reads what the socket has and returns every complete response, matched in order
    /// to the requests in flight. A response whose correlation id is not the oldest
    /// request's is a protocol error.
    pub fn read(&mut self, now: Instant, out: &mut Vec<Answered<X>>) -> Result<(), ReadError> {
        loop {
            match self.decoder.read_from(&mut self.stream) {
                Ok(0) => return Err(ReadError::Closed),
                Ok(_) => self.last_activity = now,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadError::Io(e)),
            }
            self.split_frames(out)?;
        }
        self.split_frames(out)
    }

    fn split_frames(&mut self, out: &mut Vec<Answered<X>>) -> Result<(), ReadError> {
        while let Some(frame) = self
            .decoder
            .next_frame()
            .map_err(|e| ReadError::Protocol(e.to_string()))?
        {
            let Some(expected) = self.in_flight.front().map(|r| r.correlation_id) else {
                return Err(ReadError::Protocol(
                    "response received with no request in flight".into(),
                ));
            };
            let id = frame
                .get(..4)
                .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            if id != Some(expected) {
                // The request stays in flight, so closing the connection fails it too.
                return Err(ReadError::Protocol(match id {
                    Some(id) => format!("correlation id mismatch: expected {expected}, got {id}"),
                    None => format!("a {}-byte response frame has no header", frame.len()),
                }));
            }
            let Some(request) = self.in_flight.pop_front() else {
                break;
            };
            out.push(Answered { request, frame });
        }
        Ok(())
    }

    /// The earliest deadline among requests in flight and a connect in progress.
    pub fn next_deadline(&self) -> Option<Instant> {
        let req = self.in_flight.front().map(|r| r.deadline);
        let conn = match self.state {
            ConnState::Connecting { deadline } => Some(deadline),
            _ => None,
        };
        match (req, conn) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True if a request or the connect has passed its deadline.
    pub fn timed_out(&self, now: Instant) -> bool {
        self.in_flight.iter().any(|r| r.deadline <= now)
            || matches!(self.state, ConnState::Connecting { deadline } if deadline <= now)
    }

    /// Takes every request in flight, for failing them when the connection closes.
    pub fn drain_in_flight(&mut self) -> impl Iterator<Item = InFlight<X>> + '_ {
        self.in_flight.drain(..)
    }
}

/// Why reading from a connection stopped.
#[derive(Debug)]
pub(crate) enum ReadError {
    Closed,
    Io(io::Error),
    Protocol(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Closed => f.write_str("connection closed by the broker"),
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::Protocol(m) => write!(f, "protocol error: {m}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Reads until the connection reports an error, for at most 5 s.
    fn read_until_error(conn: &mut Connection<u32>, out: &mut Vec<Answered<u32>>) -> ReadError {
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Err(e) = conn.read(Instant::now(), out) {
                return e;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no read error");
    }

    #[test]
    fn a_mismatched_or_headerless_response_leaves_every_request_in_flight_to_fail() {
        for reply in [&[0, 0, 0, 4, 0, 0, 0, 9][..], &[0, 0, 0, 2, 0, 7][..]] {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let now = Instant::now();
            let mut conn: Connection<u32> =
                Connection::connect(addr, Token(1), now, 1 << 20, now).unwrap();
            let (mut server, _) = listener.accept().unwrap();
            for (id, ctx) in [(1, 10), (2, 20)] {
                conn.push_in_flight(InFlight {
                    correlation_id: id,
                    api_version: 0,
                    response_header_version: 0,
                    deadline: now + Duration::from_secs(30),
                    ctx,
                });
            }
            server.write_all(reply).unwrap();
            let mut out = Vec::new();
            let err = read_until_error(&mut conn, &mut out);
            assert!(matches!(err, ReadError::Protocol(_)), "{err}");
            assert!(out.is_empty());
            let left: Vec<u32> = conn.drain_in_flight().map(|r| r.ctx).collect();
            assert_eq!(left, [10, 20], "no request is dropped");
        }
    }
}
