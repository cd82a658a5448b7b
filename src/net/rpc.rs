//! Request/response calls made from user threads: the user thread builds a request, the
//! I/O thread routes it to a broker and hands the raw response back to decode.
//!
//! The admin client is built entirely on this; the producer and consumer use it for their
//! one-off lookups.

use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::protocol::api::Message;

use super::metadata::NodeId;
use super::network::{Network, RequestBody, Response};

/// Which broker a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The least loaded broker.
    Any,
    /// A given broker.
    Node(NodeId),
    /// The broker the metadata names as controller.
    Controller,
}

/// One call, sent as a command to the I/O thread.
pub(crate) struct RpcCall {
    pub target: Target,
    pub body: Box<dyn RequestBody>,
    /// Highest version to use, below the generated maximum.
    pub max_version: Option<i16>,
    pub deadline: Instant,
    /// The time the caller gave the call, for the error if it runs out.
    pub timeout: Duration,
    pub reply: SyncSender<Result<Response>>,
}

impl RpcCall {
    /// A call and the receiver its response arrives on.
    pub fn new(
        target: Target,
        body: impl RequestBody + 'static,
        timeout: Duration,
    ) -> (RpcCall, Receiver<Result<Response>>) {
        let (reply, rx) = sync_channel(1);
        let call = RpcCall {
            target,
            body: Box::new(body),
            max_version: None,
            deadline: crate::deadline::from_now(timeout),
            timeout,
            reply,
        };
        (call, rx)
    }
}

/// Waits for a call's response and decodes it as `M`.
pub(crate) fn wait_response<M: Message>(
    rx: Receiver<Result<Response>>,
    timeout: Duration,
    what: &str,
) -> Result<(NodeId, M)> {
    // The I/O thread enforces the deadline; the extra second covers its reply.
    match rx.recv_timeout(timeout.saturating_add(Duration::from_secs(1))) {
        Ok(Ok(resp)) => {
            let node = resp.node;
            Ok((node, resp.decode::<M>()?))
        }
        Ok(Err(e)) => Err(e),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(Error::timeout(what, timeout)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(Error::Closed),
    }
}

/// The identifier a call's request carries through the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RpcId(u64);

/// A call sent to a broker: its caller hears by its deadline, answered or not (a broker
/// that never answers must not hold the caller until the request timeout).
struct InFlightCall {
    reply: SyncSender<Result<Response>>,
    deadline: Instant,
    timeout: Duration,
    api: &'static str,
}

/// Calls waiting for a broker, and calls in flight.
#[derive(Default)]
pub(crate) struct RpcQueue {
    waiting: Vec<RpcCall>,
    in_flight: HashMap<RpcId, InFlightCall>,
    next_id: u64,
}

impl RpcQueue {
    pub fn push(&mut self, call: RpcCall) {
        self.waiting.push(call);
    }

    /// Sends every waiting call whose broker is ready; fails those past their deadline,
    /// sent or not. Returns the earliest deadline still pending.
    pub fn poll<C: From<RpcId>>(&mut self, net: &mut Network<C>, now: Instant) -> Option<Instant> {
        self.in_flight.retain(|_, call| {
            if call.deadline > now {
                return true;
            }
            let what = format!("a {} response", call.api);
            let _ = call.reply.send(Err(Error::timeout(what, call.timeout)));
            false
        });
        let mut still_waiting = Vec::new();
        for call in std::mem::take(&mut self.waiting) {
            // A fatal handshake error (TLS, SASL) fails the call at once.
            if call.deadline <= now || net.fatal_error().is_some() {
                let err = net
                    .unreachable_error()
                    .filter(|_| !net.any_ready())
                    .unwrap_or_else(|| {
                        Error::timeout(
                            format!("a {} response", call.body.api_key().name()),
                            call.timeout,
                        )
                    });
                let _ = call.reply.send(Err(err));
                continue;
            }
            let node = match call.target {
                Target::Any => net.least_loaded_node(now),
                Target::Node(id) => net.ready_or_connect(id, now).then_some(id),
                Target::Controller => {
                    let id = net.cluster().controller_id;
                    if id < 0 {
                        net.schedule.request_update();
                        None
                    } else {
                        net.ready_or_connect(id, now).then_some(id)
                    }
                }
            };
            match node.filter(|n| net.can_send(*n)) {
                Some(node) => {
                    let id = RpcId(self.next_id);
                    self.next_id += 1;
                    match net.send(node, call.body.as_ref(), call.max_version, C::from(id), now) {
                        Ok(_) => {
                            let sent = InFlightCall {
                                reply: call.reply,
                                deadline: call.deadline,
                                timeout: call.timeout,
                                api: call.body.api_key().name(),
                            };
                            self.in_flight.insert(id, sent);
                        }
                        Err(e) => {
                            let _ = call.reply.send(Err(e));
                        }
                    }
                }
                None => still_waiting.push(call),
            }
        }
        self.waiting = still_waiting;
        let waiting = self.waiting.iter().map(|c| c.deadline);
        waiting
            .chain(self.in_flight.values().map(|c| c.deadline))
            .min()
    }

    /// Hands a response to the call that sent it.
    pub fn on_response(&mut self, id: RpcId, result: Result<Response>) {
        if let Some(call) = self.in_flight.remove(&id) {
            let _ = call.reply.send(result);
        }
    }

    /// Fails every call (the client is closing).
    pub fn fail_all(&mut self, error: &Error) {
        for call in self.waiting.drain(..) {
            let _ = call.reply.send(Err(error.clone()));
        }
        for (_, call) in self.in_flight.drain() {
            let _ = call.reply.send(Err(error.clone()));
        }
    }
}
