//! The end of a connection's handshake: the check that the broker has every API this
//! client needs, and the bookkeeping of a connection that became ready.

use std::time::Instant;

use crate::protocol::api::ApiKey;

use super::super::metadata::NodeId;
use super::Network;

impl<C> Network<C> {
    /// The connection to `node` finished its handshake (TLS, ApiVersions, SASL).
    pub(super) fn on_ready(&mut self, node: NodeId, now: Instant) {
        let Some(conn) = self.conns.get(&node) else {
            return;
        };
        // A broker without an API this client needs is of no use: say which, and back
        // off before the next attempt as for any failed handshake.
        let versions = &conn.session.versions;
        self.shared.1.note(node, versions);
        let missing = self
            .required_apis
            .iter()
            .find_map(|&(api, min, max)| self.checked_version(node, versions, api, min, max).err());
        if let Some(err) = missing {
            log::warn!("{err}");
            return self.disconnect(node, err, now);
        }
        if let Some(conn) = self.conns.get_mut(&node) {
            conn.ready_since = Some(now);
        }
        self.ever_connected = true;
        self.fatal_error = None;
        if let Some(n) = self.nodes.get_mut(&node) {
            n.next_attempt = None;
        }
        log::debug!("connected to {}", self.node_label(node));
    }

    /// Adds an API the broker must support, at a version in `min..=max`, for a
    /// connection's handshake to succeed (Produce for a producer, Fetch for a consumer).
    pub fn require_api(&mut self, api: ApiKey, min: i16, max: i16) {
        self.required_apis.push((api, min, max));
    }
}
