//! One broker connection as a sans-IO state machine: framing, correlation, the handshake
//! (TLS, ApiVersions, SASL) and re-authentication. It never touches a socket or the
//! clock: the I/O side hands it a `Read`/`Write` to move bytes through (as rustls's
//! `read_tls`/`write_tls` do) and `now`, and gets back [`Event`]s or a typed error.
//!
//! ```text
//! Connecting ─▶ Tls ─▶ ApiVersions ─▶ SaslHandshake ─▶ SaslAuthenticate ─▶ Ready
//!   (TCP)     (SSL only)            (SASL only; again while Ready to re-authenticate)
//! ```
//!
//! Requests sent while a re-authentication runs wait in a side buffer and go out, in
//! order, once it completes; responses to requests sent before it arrive first (the broker
//! answers in order), so none is lost or reordered.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::error::Error;
use crate::protocol::api::{self, ApiKey, Request};
use crate::protocol::codec::EncodeError;
use crate::protocol::frame::{FrameDecoder, FrameError};
use crate::protocol::header::RequestHeader;

use super::sasl::{SaslFactory, SaslMechanism};
use super::versions::ApiVersionTable;

mod handshake;
#[cfg(test)]
mod tests;
mod transport;

use transport::Transport;

/// ApiVersions v3 adds the client software name; older brokers answer with their range.
pub(crate) const API_VERSIONS_MAX_VERSION: i16 = 3;

/// A request body that can be encoded at whatever version the broker agrees to.
pub(crate) trait RequestBody: Send {
    fn api_key(&self) -> ApiKey;
    fn version_range(&self) -> (i16, i16);
    fn encode_body(&self, version: i16, out: &mut Vec<u8>) -> Result<(), EncodeError>;
}

impl<R: Request + Send> RequestBody for R {
    fn api_key(&self) -> ApiKey {
        R::API_KEY
    }
    fn version_range(&self) -> (i16, i16) {
        (R::MIN_VERSION, R::MAX_VERSION)
    }
    fn encode_body(&self, version: i16, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.encode(out, version)
    }
}

/// What every connection of a client shares.
#[derive(Debug, Clone)]
pub(crate) struct SessionSettings {
    pub client_id: String,
    pub max_frame: usize,
    /// Deadline of the handshake's own requests.
    pub request_timeout: Duration,
    /// Present for SSL and SASL_SSL.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Present for SASL_PLAINTEXT and SASL_SSL.
    pub sasl: Option<SaslFactory>,
    /// The release whose request versions the client keeps to (`api_version`).
    pub api_version: Option<crate::BrokerVersion>,
}

/// Where a connection stands in its handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnState {
    /// TCP connect in progress.
    Connecting,
    /// TLS handshake.
    Tls,
    /// The ApiVersions request is in flight.
    ApiVersions,
    /// SaslHandshake in flight.
    SaslHandshake,
    /// SaslAuthenticate exchange in progress.
    SaslAuthenticate,
    /// Usable for requests (a re-authentication may be running).
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

/// What the connection reports to its owner.
pub(crate) enum Event<X> {
    /// The handshake completed; requests may go out.
    Ready,
    /// A re-authentication completed; held requests went out behind it.
    Reauthenticated,
    /// The response to a request.
    Response(Answered<X>),
}

/// Whose a request in flight is: the connection's own handshake, or the owner's.
#[derive(Debug)]
enum Owner<X> {
    Handshake,
    User(X),
}

/// Requests held back while a re-authentication runs.
struct Held<X> {
    bytes: Vec<u8>,
    in_flight: VecDeque<InFlight<Owner<X>>>,
}

pub(crate) struct Session<X> {
    state: ConnState,
    /// The handshake step the next handshake response answers (a SASL step also while
    /// Ready, during a re-authentication).
    step: ConnState,
    /// What the broker supports, once ApiVersions answered.
    pub versions: ApiVersionTable,
    /// Completed SASL authentications on this connection (1 + re-authentications).
    pub authentications: u64,
    settings: Arc<SessionSettings>,
    /// `id (host:port)`, for errors.
    label: String,
    /// The host name, for the certificate check and its errors.
    host: String,
    transport: Transport,
    decoder: FrameDecoder,
    write_buf: Vec<u8>,
    write_pos: usize,
    in_flight: VecDeque<InFlight<Owner<X>>>,
    next_correlation_id: i32,
    /// The whole handshake, TCP connect included, must finish by then.
    setup_deadline: Instant,
    mechanism: Option<Box<dyn SaslMechanism>>,
    /// When to re-authenticate (KIP-368), while Ready.
    reauth_at: Option<Instant>,
    /// `Some` while a re-authentication runs.
    held: Option<Held<X>>,
    /// Whether any byte arrived, to tell "not a TLS listener" from a refused handshake.
    received_any: bool,
}

impl<X> Session<X> {
    /// A connection whose TCP connect is in progress, to finish by `setup_deadline`.
    pub fn new(
        settings: Arc<SessionSettings>,
        label: String,
        host: &str,
        setup_deadline: Instant,
    ) -> Result<Self, Error> {
        let transport = match &settings.tls {
            Some(tls) => Transport::tls(tls.clone(), host)?,
            None => Transport::Plain,
        };
        Ok(Session {
            state: ConnState::Connecting,
            step: ConnState::Connecting,
            versions: ApiVersionTable::default(),
            authentications: 0,
            decoder: FrameDecoder::new(settings.max_frame),
            settings,
            label,
            host: host.to_owned(),
            transport,
            write_buf: Vec::with_capacity(64 * 1024),
            write_pos: 0,
            in_flight: VecDeque::new(),
            next_correlation_id: 1,
            setup_deadline,
            mechanism: None,
            reauth_at: None,
            held: None,
            received_any: false,
        })
    }

    /// `id (host:port)` of the broker, for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn state(&self) -> ConnState {
        self.state
    }

    /// True once the handshake completed (also while a re-authentication runs: requests
    /// sent then wait for it).
    pub fn is_ready(&self) -> bool {
        self.state == ConnState::Ready
    }

    /// True while a re-authentication runs.
    #[cfg(test)]
    pub fn is_reauthenticating(&self) -> bool {
        self.held.is_some()
    }

    /// The TCP connect finished: start TLS, or ApiVersions.
    pub fn connected(&mut self, now: Instant) -> Result<(), Error> {
        if self.state != ConnState::Connecting {
            return Ok(());
        }
        if self.transport.is_tls() {
            self.state = ConnState::Tls;
            Ok(())
        } else {
            self.start_api_versions(API_VERSIONS_MAX_VERSION, now)
        }
    }

    /// The user requests in flight or held (what counts against the in-flight limit).
    pub fn in_flight_count(&self) -> usize {
        match &self.held {
            None => self.in_flight.len(),
            Some(h) => {
                let sent = self.in_flight.iter();
                sent.filter(|r| matches!(r.ctx, Owner::User(_))).count() + h.in_flight.len()
            }
        }
    }

    pub fn is_idle(&self) -> bool {
        self.in_flight_count() == 0 && !self.has_pending_writes()
    }

    pub fn has_pending_writes(&self) -> bool {
        self.write_pos < self.write_buf.len() || self.transport.wants_write()
    }

    /// Encodes a request of the owner's (`ctx` `None` for one that gets no response),
    /// straight into the output buffer; while a re-authentication runs, into the held
    /// buffer that follows it.
    pub fn send(
        &mut self,
        body: &dyn RequestBody,
        version: i16,
        ctx: Option<X>,
        timeout: Duration,
        now: Instant,
    ) -> Result<(), EncodeError> {
        self.encode(body, version, ctx.map(Owner::User), timeout, now, false)
    }

    fn encode(
        &mut self,
        body: &dyn RequestBody,
        version: i16,
        owner: Option<Owner<X>>,
        timeout: Duration,
        now: Instant,
        handshake: bool,
    ) -> Result<(), EncodeError> {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1).max(1);
        let api_key = body.api_key();
        let hold = !handshake && self.held.is_some();
        if !hold && self.write_pos == self.write_buf.len() && self.write_pos > 0 {
            self.write_buf.clear();
            self.write_pos = 0;
        }
        let out = match &mut self.held {
            Some(h) if hold => &mut h.bytes,
            _ => &mut self.write_buf,
        };
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        let header = RequestHeader {
            api_key,
            api_version: version,
            correlation_id,
            client_id: Some(self.settings.client_id.clone()),
        };
        let encoded = header
            .encode(out, api::request_header_version(api_key, version))
            .and_then(|()| body.encode_body(version, out));
        if let Err(e) = encoded {
            out.truncate(start);
            return Err(e);
        }
        let size = (out.len() - start - 4) as i32;
        out[start..start + 4].copy_from_slice(&size.to_be_bytes());
        if let Some(ctx) = owner {
            let req = InFlight {
                correlation_id,
                api_version: version,
                response_header_version: api::response_header_version(api_key, version),
                deadline: crate::deadline::after(now, timeout),
                ctx,
            };
            match &mut self.held {
                Some(h) if hold => h.in_flight.push_back(req),
                _ => self.in_flight.push_back(req),
            }
        }
        Ok(())
    }

    /// Writes what is buffered (TLS records, then requests) until done or `w` would block.
    pub fn write_to(&mut self, w: &mut dyn Write) -> io::Result<()> {
        let mut pos = self.write_pos;
        let result = self.transport.write(&self.write_buf, &mut pos, w);
        self.write_pos = pos;
        if self.write_pos >= self.write_buf.len() && self.write_pos > 0 {
            self.write_buf.clear();
            self.write_pos = 0;
            // Don't keep a huge buffer around after one large request.
            if self.write_buf.capacity() > 4 * 1024 * 1024 {
                self.write_buf.shrink_to(64 * 1024);
            }
        }
        result
    }

    /// Reads what `r` has and handles every complete frame: handshake answers drive the
    /// handshake, the owner's come back as [`Event::Response`], in request order.
    pub fn read_from(
        &mut self,
        r: &mut dyn Read,
        now: Instant,
        out: &mut Vec<Event<X>>,
    ) -> Result<(), Error> {
        loop {
            let received = match self.transport.read(r, &mut self.decoder) {
                Ok(n) => n,
                Err(transport::ReadError::WouldBlock) => break,
                Err(transport::ReadError::Closed) => {
                    // Whatever arrived before the close is still answered.
                    self.split_frames(now, out)?;
                    return Err(self.closed_error());
                }
                Err(transport::ReadError::Io(e)) => return Err(self.disconnected(e.to_string())),
                Err(transport::ReadError::Tls(e)) => return Err(self.tls_error(&e)),
            };
            if received > 0 {
                self.received_any = true;
            }
            if self.state == ConnState::Tls && !self.transport.is_handshaking() {
                self.start_api_versions(API_VERSIONS_MAX_VERSION, now)?;
            }
            self.split_frames(now, out)?;
        }
        self.split_frames(now, out)
    }

    /// Feeds bytes that arrived (for tests and callers without a `Read`).
    #[cfg(test)]
    pub fn receive(
        &mut self,
        mut bytes: &[u8],
        now: Instant,
        out: &mut Vec<Event<X>>,
    ) -> Result<(), Error> {
        let mut reader = transport::EndlessSlice(&mut bytes);
        self.read_from(&mut reader, now, out)
    }

    fn split_frames(&mut self, now: Instant, out: &mut Vec<Event<X>>) -> Result<(), Error> {
        loop {
            let frame = match self.decoder.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => return Ok(()),
                Err(e) => return Err(self.frame_error(e)),
            };
            let Some(expected) = self.in_flight.front().map(|r| r.correlation_id) else {
                return Err(Error::Protocol(format!(
                    "broker {} sent a response with no request in flight",
                    self.label
                )));
            };
            let id = frame
                .get(..4)
                .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            if id != Some(expected) {
                // The request stays in flight, so closing the connection fails it too.
                return Err(Error::Protocol(match id {
                    Some(id) => format!("correlation id mismatch: expected {expected}, got {id}"),
                    None => format!("a {}-byte response frame has no header", frame.len()),
                }));
            }
            let Some(request) = self.in_flight.pop_front() else {
                return Ok(());
            };
            match request.ctx {
                Owner::User(ctx) => out.push(Event::Response(Answered {
                    request: InFlight {
                        correlation_id: request.correlation_id,
                        api_version: request.api_version,
                        response_header_version: request.response_header_version,
                        deadline: request.deadline,
                        ctx,
                    },
                    frame,
                })),
                Owner::Handshake => {
                    let version = request.api_version;
                    let header_version = request.response_header_version;
                    self.on_handshake_response(version, header_version, frame, now, out)?;
                }
            }
        }
    }

    /// The earliest deadline: a request's, the handshake's, or the next re-authentication.
    pub fn next_deadline(&self) -> Option<Instant> {
        let held = self.held.as_ref().and_then(|h| h.in_flight.front());
        [
            self.in_flight.front().map(|r| r.deadline),
            held.map(|r| r.deadline),
            (!self.is_ready()).then_some(self.setup_deadline),
            self.reauth_at.filter(|_| self.held.is_none()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The error to close with if a request or the handshake is past its deadline.
    pub fn timed_out(&self, now: Instant, connect_timeout: Duration) -> Option<Error> {
        if !self.is_ready() && self.setup_deadline <= now {
            let reason = match self.state {
                ConnState::Connecting => format!("connect timed out after {connect_timeout:?}"),
                s => format!(
                    "the handshake was still in {s:?} after {connect_timeout:?} \
                     (socket.connection.setup.timeout.ms)"
                ),
            };
            return Some(self.disconnected(reason));
        }
        let held = self.held.iter().flat_map(|h| h.in_flight.iter());
        if self.in_flight.iter().chain(held).any(|r| r.deadline <= now) {
            return Some(Error::timeout(
                format!("a response from broker {}", self.label),
                self.settings.request_timeout,
            ));
        }
        None
    }

    /// Starts a re-authentication if one is due. The caller then writes.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        if self.is_ready() && self.held.is_none() && self.reauth_at.is_some_and(|t| t <= now) {
            self.start_reauthentication(now)?;
        }
        Ok(())
    }

    /// Takes every request of the owner's in flight or held, for failing them when the
    /// connection closes.
    pub fn drain_in_flight(&mut self) -> Vec<InFlight<X>> {
        let held = self.held.take().map(|h| h.in_flight).unwrap_or_default();
        self.in_flight
            .drain(..)
            .chain(held)
            .filter_map(|r| match r.ctx {
                Owner::User(ctx) => Some(InFlight {
                    correlation_id: r.correlation_id,
                    api_version: r.api_version,
                    response_header_version: r.response_header_version,
                    deadline: r.deadline,
                    ctx,
                }),
                Owner::Handshake => None,
            })
            .collect()
    }

    fn disconnected(&self, reason: String) -> Error {
        Error::Disconnected {
            broker: self.label.clone(),
            reason,
        }
    }

    fn closed_error(&self) -> Error {
        match self.state {
            ConnState::Tls if !self.received_any => Error::NotTlsListener {
                broker: self.label.clone(),
            },
            // Retriable: a broker going down closes connections mid-handshake too.
            ConnState::Tls => self
                .disconnected("the broker closed the connection during the TLS handshake".into()),
            ConnState::ApiVersions if !self.transport.is_tls() && !self.received_any => self
                .disconnected(
                    "connection closed during the ApiVersions handshake; if this is an SSL \
                     listener, set security.protocol to SSL or SASL_SSL"
                        .into(),
                ),
            ConnState::SaslHandshake | ConnState::SaslAuthenticate => Error::SaslAuthentication {
                broker: self.label.clone(),
                mechanism: self.mechanism_name().into(),
                reason: "the broker closed the connection during authentication".into(),
            },
            _ => self.disconnected("connection closed by the broker".into()),
        }
    }

    fn tls_error(&self, e: &rustls::Error) -> Error {
        if self.is_ready() {
            return self.disconnected(format!("TLS error: {e}"));
        }
        super::tls::handshake_error(e, &self.label, &self.host)
    }

    /// A bad size prefix; on a plaintext connection still in ApiVersions, one that reads as
    /// a TLS record header (0x15 alert / 0x16 handshake, version 3.x) means a TLS listener.
    fn frame_error(&self, e: FrameError) -> Error {
        let size = match e {
            FrameError::TooLarge { size, .. } => size as u32,
            FrameError::Negative(n) => n as u32,
        };
        let [kind, major, _, _] = size.to_be_bytes();
        if self.state == ConnState::ApiVersions
            && !self.transport.is_tls()
            && (0x14..=0x17).contains(&kind)
            && major == 3
        {
            return Error::TlsListener {
                broker: self.label.clone(),
            };
        }
        Error::Protocol(e.to_string())
    }

    fn mechanism_name(&self) -> &'static str {
        self.settings.sasl.as_ref().map_or("", SaslFactory::name)
    }
}
