//! The admin client's half of the I/O thread: a queue of request/response calls, and
//! metadata for every topic so the snapshot in `IoHandle::metadata` is complete.

use std::time::Instant;

use crate::error::{Error, Result};
use crate::net::io_thread::Driver;
use crate::net::network::{Network, Response};
use crate::net::rpc::{RpcCall, RpcId, RpcQueue};

/// What an [`AdminClient`](super::AdminClient) asks of its I/O thread.
pub(crate) enum AdminCommand {
    /// Send a request and hand back the response.
    Rpc(RpcCall),
    /// Refresh the metadata as soon as the backoff allows (the controller or a leader
    /// moved).
    RefreshMetadata,
}

/// The admin client's driver: every call is an [`RpcCall`].
#[derive(Default)]
pub(crate) struct AdminDriver {
    rpcs: RpcQueue,
}

impl Driver for AdminDriver {
    type Command = AdminCommand;
    type Ctx = RpcId;

    fn on_command(&mut self, cmd: AdminCommand, net: &mut Network<RpcId>, _now: Instant) {
        match cmd {
            AdminCommand::Rpc(call) => self.rpcs.push(call),
            AdminCommand::RefreshMetadata => net.schedule.request_update(),
        }
    }

    fn on_response(
        &mut self,
        ctx: RpcId,
        result: Result<Response>,
        _net: &mut Network<RpcId>,
        _now: Instant,
    ) {
        self.rpcs.on_response(ctx, result);
    }

    fn poll(&mut self, net: &mut Network<RpcId>, now: Instant) -> Option<Instant> {
        // An admin client wants every topic: the controller, brokers and leaders of all.
        net.schedule.want_all();
        net.schedule.allow_auto_topic_creation = false;
        self.rpcs.poll(net, now)
    }

    fn on_exit(&mut self, error: Error) {
        self.rpcs.fail_all(&error);
    }
}
