//! The connections of one client: connecting, the ApiVersions handshake, sending and
//! matching requests, timeouts, reconnect backoff and the metadata refresh.
//!
//! Only the I/O thread touches a [`Network`]. Role drivers (producer, consumer, admin)
//! send requests through it with a context value of their own type `C`, and get that
//! value back with the response.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};

use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::protocol::api::metadata::MetadataResponse;
use crate::protocol::api::{ApiKey, Message};
use crate::protocol::codec::Reader;

use super::backoff::Backoff;
use super::connection::Connection;
use super::metadata::{ClusterMetadata, MetadataSchedule, NodeId, SharedMetadata};
use super::sasl::SaslFactory;
use super::session::{Answered, ConnState, Event, Session, SessionSettings};
use super::socket_options;
use super::versions::ApiVersionTable;

pub(crate) use super::session::RequestBody;

mod handshake;

/// Metadata v12 is the newest this client reads; topic ids and all fields it needs are there.
const METADATA_MAX_VERSION: i16 = 12;

/// A decoded response header with the body still to decode.
#[derive(Debug)]
pub(crate) struct Response {
    pub node: NodeId,
    pub version: i16,
    pub body: Reader,
    /// The connection's flag that it sent something undecodable.
    pub broken: Arc<AtomicBool>,
}

impl Response {
    /// Decodes the body as `M`. A body that does not decode means the connection can no
    /// longer be trusted: it is marked for closing (every request in flight on it then
    /// fails with `Disconnected`), and this request fails with the same retriable error.
    pub fn decode<M: Message>(mut self) -> Result<M> {
        M::decode(&mut self.body, self.version).map_err(|e| {
            self.broken.store(true, Ordering::Relaxed);
            Error::Disconnected {
                broker: format!("{}", self.node),
                reason: format!(
                    "its {} v{} did not decode ({e}); the connection was closed",
                    M::NAME,
                    self.version
                ),
            }
        })
    }
}

/// What a request in flight belongs to: the metadata refresh, or a driver.
#[derive(Debug)]
enum Ctx<C> {
    Metadata,
    User(C),
}

/// A broker address and its reconnect state.
#[derive(Debug)]
struct Node {
    host: String,
    port: u16,
    backoff: Backoff,
    next_attempt: Option<Instant>,
    /// Rotates through the resolved addresses on failure.
    addr_index: usize,
}

pub(crate) struct Network<C> {
    registry: Registry,
    config: Arc<ClientConfig>,
    conns: HashMap<NodeId, Connection<Ctx<C>>>,
    tokens: HashMap<Token, NodeId>,
    next_token: usize,
    nodes: HashMap<NodeId, Node>,
    /// TLS and SASL settings every connection shares.
    session_settings: Arc<SessionSettings>,
    completions: VecDeque<(C, Result<Response>)>,
    shared: SharedMetadata,
    cluster: Arc<ClusterMetadata>,
    pub schedule: MetadataSchedule,
    /// Whether any connection has ever completed its handshake.
    ever_connected: bool,
    /// Earliest time a node we were asked to connect to leaves backoff.
    wake_at: Option<Instant>,
    events: Vec<Event<Ctx<C>>>,
    last_error: Option<Error>,
    /// A handshake failure reconnecting cannot cure (TLS verification, SASL refusal):
    /// calls waiting for a connection fail with it at once, until a handshake succeeds.
    fatal_error: Option<Error>,
    /// Nodes with a connection of their own that only their owner uses (the group
    /// coordinator's); never picked as least loaded.
    dedicated: HashSet<NodeId>,
    /// APIs (and version ranges) a broker must support; see [`Self::require_api`].
    required_apis: Vec<(ApiKey, i16, i16)>,
}

impl<C> Network<C> {
    pub fn new(
        registry: Registry,
        config: Arc<ClientConfig>,
        shared: SharedMetadata,
    ) -> Result<Self> {
        let mut nodes = HashMap::new();
        for (i, server) in config.bootstrap_servers.iter().enumerate() {
            let (host, port) = split_host_port(server)?;
            nodes.insert(-1 - i as NodeId, Node::new(host, port, &config));
        }
        if nodes.is_empty() {
            return Err(Error::Config(crate::config::ConfigError::InvalidValue {
                key: "bootstrap_servers".into(),
                value: String::new(),
                reason: "at least one host:port is required".into(),
            }));
        }
        let schedule = MetadataSchedule::new(
            config.metadata_max_age,
            config.retry_backoff,
            config.retry_backoff_max,
        );
        let security = &config.security;
        let tls = if config.security_protocol.uses_tls() {
            Some(super::tls::client_config(security)?)
        } else {
            None
        };
        let sasl = config
            .security_protocol
            .uses_sasl()
            .then(|| SaslFactory::from_config(security));
        let session_settings = Arc::new(SessionSettings {
            client_id: config.client_id.clone(),
            max_frame: config.max_response_size,
            request_timeout: config.request_timeout,
            tls,
            sasl,
            api_version: config.api_version,
        });
        Ok(Network {
            registry,
            session_settings,
            config,
            conns: HashMap::new(),
            tokens: HashMap::new(),
            next_token: 1,
            nodes,
            completions: VecDeque::new(),
            cluster: shared.load(),
            shared,
            schedule,
            ever_connected: false,
            wake_at: None,
            events: Vec::new(),
            last_error: None,
            fatal_error: None,
            dedicated: HashSet::new(),
            required_apis: vec![(ApiKey::METADATA, 1, METADATA_MAX_VERSION)],
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The newest metadata snapshot.
    pub fn cluster(&self) -> &Arc<ClusterMetadata> {
        &self.cluster
    }

    /// True if the node has a connection that completed its handshake.
    pub fn is_ready(&self, node: NodeId) -> bool {
        self.conns.get(&node).is_some_and(Connection::is_usable)
    }

    /// True if any connection has completed its handshake.
    pub fn any_ready(&self) -> bool {
        self.conns.values().any(Connection::is_usable)
    }

    /// True if a request can be sent to the node now: ready and under the in-flight limit.
    pub fn can_send(&self, node: NodeId) -> bool {
        self.conns.get(&node).is_some_and(|c| {
            c.is_usable()
                && c.session.in_flight_count() < self.config.max_in_flight_requests_per_connection
        })
    }

    /// Returns true if the node is ready; otherwise starts connecting unless it is in
    /// reconnect backoff (the loop wakes when the backoff ends).
    pub fn ready_or_connect(&mut self, node: NodeId, now: Instant) -> bool {
        if self.is_ready(node) {
            return true;
        }
        if !self.conns.contains_key(&node) {
            self.connect(node, now);
        }
        false
    }

    /// `id (host:port)`, for error messages.
    pub fn node_label(&self, node: NodeId) -> String {
        match self.nodes.get(&node) {
            Some(n) if node >= 0 => format!("{node} ({}:{})", n.host, n.port),
            Some(n) => format!("bootstrap {}:{}", n.host, n.port),
            None => format!("{node}"),
        }
    }

    /// The error for "nothing could be reached": `NoBrokersAvailable` if no connection
    /// ever completed, else the last connection error.
    pub fn unreachable_error(&self) -> Option<Error> {
        if let Some(e) = self.fatal_error() {
            return Some(e.clone());
        }
        if let Some(e @ Error::UnsupportedVersion { .. }) = &self.last_error {
            // Reconnecting will not help; say what the broker lacks.
            return Some(e.clone());
        }
        if !self.ever_connected {
            Some(Error::NoBrokersAvailable {
                servers: self.config.bootstrap_servers.join(","),
                reason: self
                    .last_error
                    .as_ref()
                    .map_or_else(|| "no attempt finished yet".to_owned(), ToString::to_string),
            })
        } else {
            self.last_error.clone()
        }
    }

    /// A handshake failure that reconnecting with the same settings cannot cure (a
    /// certificate that does not verify, a wrong password), while no connection is ready.
    /// Calls waiting for a broker fail with it at once instead of at their deadline.
    pub fn fatal_error(&self) -> Option<&Error> {
        self.fatal_error.as_ref().filter(|_| !self.any_ready())
    }

    /// The ready node with the fewest requests in flight. When none is ready, starts
    /// connecting to one (known brokers first, then bootstrap addresses) and returns `None`.
    pub fn least_loaded_node(&mut self, now: Instant) -> Option<NodeId> {
        let best = self
            .conns
            .iter()
            .filter(|(id, _)| !self.dedicated.contains(id))
            .filter(|(_, c)| c.is_usable())
            .filter(|(_, c)| {
                c.session.in_flight_count() < self.config.max_in_flight_requests_per_connection
            })
            .min_by_key(|(id, c)| (c.session.in_flight_count(), **id < 0))
            .map(|(id, _)| *id);
        if best.is_some() {
            return best;
        }
        if self
            .conns
            .iter()
            .any(|(id, c)| !c.session.is_ready() && !self.dedicated.contains(id))
        {
            return None; // a connect is under way; wait for it
        }
        let candidate = self
            .nodes
            .iter()
            .filter(|(id, _)| !self.conns.contains_key(id) && !self.dedicated.contains(id))
            .min_by_key(|(id, n)| {
                (
                    n.next_attempt.is_some_and(|t| t > now),
                    **id < 0,
                    n.next_attempt,
                )
            })
            .map(|(id, _)| *id);
        if let Some(id) = candidate {
            self.connect(id, now);
        }
        None
    }

    /// The highest version of `api` that both sides support, capped at `max`.
    pub fn pick_version(&self, node: NodeId, api: ApiKey, min: i16, max: i16) -> Result<i16> {
        let conn = self.conns.get(&node).ok_or_else(|| Error::Disconnected {
            broker: self.node_label(node),
            reason: "not connected".into(),
        })?;
        self.checked_version(node, &conn.session.versions, api, min, max)
    }

    /// The highest version of `api` in `min..=max` that `versions` allows, or the error
    /// that says what the broker supports instead.
    fn checked_version(
        &self,
        node: NodeId,
        versions: &ApiVersionTable,
        api: ApiKey,
        min: i16,
        max: i16,
    ) -> Result<i16> {
        versions
            .pick(api, min, max)
            .map_err(|(broker_min, broker_max)| Error::UnsupportedVersion {
                broker: self.node_label(node),
                api: api.name(),
                broker_min,
                broker_max,
                client_min: min,
                client_max: max,
            })
    }

    /// Sends a request to a ready node at the highest common version (capped at `cap`),
    /// and returns the version used. The response comes back with `ctx`.
    pub fn send(
        &mut self,
        node: NodeId,
        body: &dyn RequestBody,
        cap: Option<i16>,
        ctx: C,
        now: Instant,
    ) -> Result<i16> {
        let (min, max) = body.version_range();
        let version =
            self.pick_version(node, body.api_key(), min, cap.map_or(max, |c| c.min(max)))?;
        self.send_at(node, body, version, Some(Ctx::User(ctx)), now)?;
        Ok(version)
    }

    /// As [`Self::send`], with a request timeout other than `request_timeout` (a JoinGroup
    /// may wait at the coordinator for the whole rebalance timeout).
    pub fn send_with_timeout(
        &mut self,
        node: NodeId,
        body: &dyn RequestBody,
        cap: Option<i16>,
        ctx: C,
        timeout: Duration,
        now: Instant,
    ) -> Result<i16> {
        let (min, max) = body.version_range();
        let version =
            self.pick_version(node, body.api_key(), min, cap.map_or(max, |c| c.min(max)))?;
        self.send_at_with_timeout(node, body, version, Some(Ctx::User(ctx)), timeout, now)?;
        Ok(version)
    }

    /// Adds (or re-addresses) a node the metadata does not list, with a connection of its
    /// own: the group coordinator's, under `i32::MAX - broker id` as in the Java client,
    /// so a JoinGroup parked there for a rebalance holds up no fetch or metadata request.
    pub fn add_dedicated_node(&mut self, id: NodeId, host: &str, port: u16) {
        self.dedicated.insert(id);
        let config = &self.config;
        let node = self
            .nodes
            .entry(id)
            .or_insert_with(|| Node::new(host.to_owned(), port, config));
        if node.host != host || node.port != port {
            *node = Node::new(host.to_owned(), port, config);
        }
    }

    /// Sends a request that gets no response (Produce with acks=0).
    pub fn send_no_response(
        &mut self,
        node: NodeId,
        body: &dyn RequestBody,
        version: i16,
        now: Instant,
    ) -> Result<()> {
        self.send_at(node, body, version, None, now)
    }

    fn send_at(
        &mut self,
        node: NodeId,
        body: &dyn RequestBody,
        version: i16,
        ctx: Option<Ctx<C>>,
        now: Instant,
    ) -> Result<()> {
        let timeout = self.config.request_timeout;
        self.send_at_with_timeout(node, body, version, ctx, timeout, now)
    }

    fn send_at_with_timeout(
        &mut self,
        node: NodeId,
        body: &dyn RequestBody,
        version: i16,
        ctx: Option<Ctx<C>>,
        request_timeout: Duration,
        now: Instant,
    ) -> Result<()> {
        let Some(conn) = self.conns.get_mut(&node) else {
            return Err(Error::Disconnected {
                broker: format!("{node}"),
                reason: "not connected".into(),
            });
        };
        conn.session
            .send(body, version, ctx, request_timeout, now)
            .map_err(Error::from)
    }

    fn connect(&mut self, node_id: NodeId, now: Instant) {
        let Some(node) = self.nodes.get_mut(&node_id) else {
            return;
        };
        if let Some(t) = node.next_attempt.filter(|t| *t > now) {
            self.wake_at = Some(self.wake_at.map_or(t, |w| w.min(t)));
            return;
        }
        let addrs: Vec<SocketAddr> = match (node.host.as_str(), node.port).to_socket_addrs() {
            Ok(a) => a.collect(),
            Err(e) => {
                let label = format!("{}:{}", node.host, node.port);
                self.connect_failed(node_id, format!("cannot resolve {label}: {e}"), now);
                return;
            }
        };
        if addrs.is_empty() {
            self.connect_failed(node_id, "host resolved to no address".into(), now);
            return;
        }
        let addr = addrs[node.addr_index % addrs.len()];
        let token = Token(self.next_token);
        self.next_token += 1;
        let deadline = crate::deadline::after(now, self.config.socket_connection_setup_timeout);
        let host = node.host.clone();
        let label = self.node_label(node_id);
        let session = match Session::new(self.session_settings.clone(), label, &host, deadline) {
            Ok(s) => s,
            Err(e) => {
                self.last_error = Some(e.clone());
                self.fatal_error = Some(e);
                return self.connect_failed_keep_error(node_id, now);
            }
        };
        let result = Connection::connect(addr, token, session, now).and_then(|mut c| {
            socket_options::apply(
                c.stream_mut(),
                self.config.send_buffer_bytes,
                self.config.receive_buffer_bytes,
            )?;
            self.registry.register(
                c.stream_mut(),
                token,
                Interest::READABLE | Interest::WRITABLE,
            )?;
            Ok(c)
        });
        match result {
            Ok(conn) => {
                log::debug!("connecting to {} at {addr}", self.node_label(node_id));
                self.tokens.insert(token, node_id);
                self.conns.insert(node_id, conn);
            }
            Err(e) => self.connect_failed(node_id, format!("connect to {addr}: {e}"), now),
        }
    }

    fn connect_failed(&mut self, node_id: NodeId, reason: String, now: Instant) {
        log::debug!("{}: {reason}", self.node_label(node_id));
        self.last_error = Some(Error::Disconnected {
            broker: self.node_label(node_id),
            reason,
        });
        self.fatal_error = None;
        self.connect_failed_keep_error(node_id, now);
    }

    fn connect_failed_keep_error(&mut self, node_id: NodeId, now: Instant) {
        if let Some(node) = self.nodes.get_mut(&node_id) {
            let wait = node.backoff.fail();
            node.next_attempt = Some(crate::deadline::after(now, wait));
            node.addr_index = node.addr_index.wrapping_add(1);
        }
    }

    /// Closes the connection to `node`, failing its requests in flight.
    pub fn disconnect(&mut self, node: NodeId, error: Error, now: Instant) {
        let Some(mut conn) = self.conns.remove(&node) else {
            return;
        };
        self.tokens.remove(&conn.token);
        let _ = self.registry.deregister(conn.stream_mut());
        let was_ready = conn.session.is_ready();
        let fatal = error.is_fatal_handshake();
        if fatal {
            log::warn!("{error}");
        } else {
            log::debug!("disconnected from {}: {error}", self.node_label(node));
        }
        // The latest failure decides: one that may be transient (a broker restarting)
        // replaces an earlier fatal one, so waits go back to waiting.
        self.fatal_error = fatal.then(|| error.clone());
        self.last_error = Some(error.clone());
        // A fatal handshake error reaches each owner as it is, so none retries it.
        let mut timed_out_first = matches!(error, Error::Timeout { .. });
        for req in conn.session.drain_in_flight() {
            let err = if timed_out_first || fatal {
                timed_out_first = false;
                error.clone()
            } else {
                Error::Disconnected {
                    broker: self.node_label(node),
                    reason: error.to_string(),
                }
            };
            self.fail_request(req.ctx, err, now);
        }
        // A connection that stayed up a while starts the backoff over; one that failed
        // during or soon after its handshake keeps it growing, so a broker that accepts
        // and then drops connections is not hammered.
        let stable = conn
            .ready_since
            .is_some_and(|t| now.saturating_duration_since(t) >= self.config.reconnect_backoff_max);
        if let Some(n) = self.nodes.get_mut(&node) {
            if !was_ready {
                n.addr_index = n.addr_index.wrapping_add(1);
            }
            if stable {
                n.backoff.reset();
            }
            let wait = n.backoff.fail();
            n.next_attempt = Some(crate::deadline::after(now, wait));
        }
        // Leadership may have moved; learn where.
        self.schedule.request_update();
    }

    fn disconnected(&self, node: NodeId, reason: String) -> Error {
        Error::Disconnected {
            broker: self.node_label(node),
            reason,
        }
    }

    /// Closes every connection that sent a response that did not decode.
    pub fn close_broken(&mut self, now: Instant) {
        let broken: Vec<NodeId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.broken.load(Ordering::Relaxed))
            .map(|(id, _)| *id)
            .collect();
        for node in broken {
            let err = Error::Protocol(format!(
                "a response from {} did not decode",
                self.node_label(node)
            ));
            self.disconnect(node, err, now);
        }
    }

    fn fail_request(&mut self, ctx: Ctx<C>, err: Error, now: Instant) {
        match ctx {
            Ctx::User(c) => self.completions.push_back((c, Err(err))),
            Ctx::Metadata => self.schedule.on_failure(now),
        }
    }

    /// Handles a readiness event for `token`.
    pub fn on_event(&mut self, token: Token, readable: bool, writable: bool, now: Instant) {
        let Some(&node) = self.tokens.get(&token) else {
            return;
        };
        let Some(conn) = self.conns.get_mut(&node) else {
            return;
        };
        if conn.session.state() == ConnState::Connecting {
            match conn.finish_connect() {
                Ok(true) => {
                    if let Err(e) = conn.session.connected(now) {
                        return self.disconnect(node, e, now);
                    }
                }
                Ok(false) => return,
                Err(e) => {
                    let err = Error::Disconnected {
                        broker: self.node_label(node),
                        reason: format!("connect failed: {e}"),
                    };
                    self.disconnect(node, err, now);
                    return;
                }
            }
        }
        if readable {
            self.read(node, now);
        }
        if writable {
            self.flush_node(node, now);
        }
    }

    fn read(&mut self, node: NodeId, now: Instant) {
        let mut events = std::mem::take(&mut self.events);
        let result = match self.conns.get_mut(&node) {
            Some(conn) => conn.read(now, &mut events),
            None => Ok(()),
        };
        for event in events.drain(..) {
            match event {
                Event::Response(a) => self.on_answer(node, a, now),
                Event::Ready => self.on_ready(node, now),
                Event::Reauthenticated => {}
            }
        }
        self.events = events;
        if let Err(e) = result {
            self.disconnect(node, e, now);
        }
    }

    fn on_answer(&mut self, node: NodeId, a: Answered<Ctx<C>>, now: Instant) {
        let mut body = Reader::new(a.frame);
        let header = body.i32().and_then(|_| {
            if a.request.response_header_version >= 1 {
                body.tagged_fields(|_, _| Ok(()))
            } else {
                Ok(())
            }
        });
        let Some(broken) = self.conns.get(&node).map(|c| c.broken.clone()) else {
            // Closed by an earlier answer of the same read.
            let err = self.disconnected(node, "the connection was closed".into());
            return self.fail_request(a.request.ctx, err, now);
        };
        if let Err(e) = header {
            let reason = format!("a response header did not decode: {e}");
            let err = self.disconnected(node, reason.clone());
            self.fail_request(a.request.ctx, err, now);
            self.disconnect(node, Error::Protocol(reason), now);
            return;
        }
        let response = Response {
            node,
            version: a.request.api_version,
            body,
            broken,
        };
        match a.request.ctx {
            Ctx::User(c) => self.completions.push_back((c, Ok(response))),
            Ctx::Metadata => self.on_metadata(response, now),
        }
    }

    fn on_metadata(&mut self, resp: Response, now: Instant) {
        let resp = match resp.decode::<MetadataResponse>() {
            Ok(r) => r,
            Err(e) => {
                log::warn!("bad metadata response: {e}");
                return self.schedule.on_failure(now);
            }
        };
        let cluster =
            ClusterMetadata::from_response(&resp, &self.cluster, self.schedule.in_flight_all());
        for b in cluster.brokers.values() {
            let entry = self
                .nodes
                .entry(b.id)
                .or_insert_with(|| Node::new(b.host.clone(), b.port, &self.config));
            if entry.host != b.host || entry.port != b.port {
                *entry = Node::new(b.host.clone(), b.port, &self.config);
            }
        }
        // Retry (with a growing backoff) while a wanted topic has no leader yet, or a
        // leader the broker list does not name.
        let incomplete = cluster
            .topics
            .values()
            .any(|t| t.error.is_retriable() || t.partitions.iter().any(|p| p.leader < 0));
        self.schedule.on_success(now, !incomplete);
        let cluster = Arc::new(cluster);
        self.shared.store((*cluster).clone());
        self.cluster = cluster;
    }

    /// Sends a metadata request if one is due and a node can take it.
    fn maybe_refresh_metadata(&mut self, now: Instant) {
        if !self.schedule.is_due(now) {
            return;
        }
        let Some(node) = self.least_loaded_node(now) else {
            return;
        };
        let req = self.schedule.build_request();
        let version = match self.pick_version(node, ApiKey::METADATA, 1, METADATA_MAX_VERSION) {
            Ok(v) => v,
            Err(e) => {
                log::warn!("{e}");
                return self.schedule.on_failure(now);
            }
        };
        match self.send_at(node, &req, version, Some(Ctx::Metadata), now) {
            Ok(()) => self.schedule.on_sent(),
            Err(e) => {
                log::warn!("metadata request failed: {e}");
                self.schedule.on_failure(now);
            }
        }
    }

    fn flush_node(&mut self, node: NodeId, now: Instant) {
        let Some(conn) = self.conns.get_mut(&node) else {
            return;
        };
        if conn.session.state() == ConnState::Connecting || !conn.session.has_pending_writes() {
            return;
        }
        if let Err(e) = conn.flush(now) {
            let err = Error::Disconnected {
                broker: self.node_label(node),
                reason: format!("write failed: {e}"),
            };
            self.disconnect(node, err, now);
        }
    }

    /// Writes what every connection has buffered.
    pub fn flush_all(&mut self, now: Instant) {
        let nodes: Vec<NodeId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.session.has_pending_writes())
            .map(|(id, _)| *id)
            .collect();
        for node in nodes {
            self.flush_node(node, now);
        }
    }

    /// Timeouts, idle connections and the metadata schedule.
    pub fn maintain(&mut self, now: Instant) {
        self.close_broken(now);
        let connect_timeout = self.config.socket_connection_setup_timeout;
        let mut failed = Vec::new();
        for (id, c) in &mut self.conns {
            let err = c
                .session
                .timed_out(now, connect_timeout)
                .or_else(|| c.session.handle_timeout(now).err());
            if let Some(err) = err {
                failed.push((*id, err));
            }
        }
        for (node, err) in failed {
            self.disconnect(node, err, now);
        }
        let idle_limit = self.config.connections_max_idle;
        let idle: Vec<NodeId> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.session.is_idle() && now.duration_since(c.last_activity) >= idle_limit
            })
            .map(|(id, _)| *id)
            .collect();
        for node in idle {
            if let Some(mut c) = self.conns.remove(&node) {
                self.tokens.remove(&c.token);
                let _ = self.registry.deregister(c.stream_mut());
                log::debug!("closed idle connection to {}", self.node_label(node));
            }
        }
        self.maybe_refresh_metadata(now);
    }

    /// The next time [`Self::maintain`] has work to do.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        let mut next = self.wake_at.take();
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        };
        for c in self.conns.values() {
            consider(c.session.next_deadline());
            if c.session.is_idle() {
                consider(Some(crate::deadline::after(
                    c.last_activity,
                    self.config.connections_max_idle,
                )));
            }
        }
        if self.schedule.due_at().is_some() {
            // Metadata waits for a connection when none is ready; the connect wakes us.
            let waiting_for_connect = self.conns.values().any(|c| !c.session.is_ready())
                && !self.conns.values().any(|c| c.session.is_ready());
            if !waiting_for_connect {
                consider(self.schedule.due_at());
            }
            let backoff_end = self.nodes.values().filter_map(|n| n.next_attempt).min();
            if self.conns.is_empty() {
                consider(backoff_end);
            }
        }
        next
    }

    /// Takes responses (and failures) for the driver. Connections a response decoded
    /// by the driver marked broken are closed first, so their requests fail here too.
    pub fn pop_completion(&mut self, now: Instant) -> Option<(C, Result<Response>)> {
        self.close_broken(now);
        self.completions.pop_front()
    }

    /// Closes every connection.
    pub fn shutdown(&mut self, now: Instant) {
        let nodes: Vec<NodeId> = self.conns.keys().copied().collect();
        for node in nodes {
            self.disconnect(node, Error::Closed, now);
        }
    }
}

impl Node {
    fn new(host: String, port: u16, config: &ClientConfig) -> Node {
        Node {
            host,
            port,
            backoff: Backoff::new(config.reconnect_backoff, config.reconnect_backoff_max),
            next_attempt: None,
            addr_index: 0,
        }
    }
}

/// Splits `host:port`, accepting `[v6]:port`.
pub(crate) fn split_host_port(server: &str) -> Result<(String, u16)> {
    let bad = |reason: &str| {
        Error::Config(crate::config::ConfigError::InvalidValue {
            key: "bootstrap_servers".into(),
            value: server.into(),
            reason: reason.into(),
        })
    };
    let (host, port) = server
        .rsplit_once(':')
        .ok_or_else(|| bad("expected host:port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("empty host"));
    }
    let port: u16 = port.parse().map_err(|_| bad("invalid port"))?;
    Ok((host.to_owned(), port))
}
