//! The connection handshake: ApiVersions, with the fallback to an older version a broker
//! asks for, and the check that the broker has every API this client needs.

use std::time::Instant;

use crate::error::{Error, Result};
use crate::protocol::api::api_versions::{ApiVersionsRequest, ApiVersionsResponse};
use crate::protocol::api::{ApiKey, Message};
use crate::protocol::codec::{DecodeError, Reader};
use crate::protocol::error_code::ErrorCode;

use super::super::connection::ConnState;
use super::super::metadata::NodeId;
use super::super::versions::ApiVersionTable;
use super::{Ctx, Network, Response};

impl<C> Network<C> {
    pub(super) fn send_api_versions(&mut self, node: NodeId, version: i16, now: Instant) {
        let req = ApiVersionsRequest {
            client_software_name: "kafka-sync".into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
        };
        if let Err(e) = self.send_at(node, &req, version, Some(Ctx::ApiVersions), now) {
            self.disconnect(node, e, now);
        }
    }

    pub(super) fn on_api_versions(&mut self, node: NodeId, resp: Response, now: Instant) {
        let version = resp.version;
        let resp = match decode_api_versions(resp.body, version) {
            Ok(r) => r,
            Err(e) => {
                let err = Error::Protocol(format!("ApiVersions v{version} response: {e}"));
                return self.disconnect(node, err, now);
            }
        };
        if resp.error_code == ErrorCode::UNSUPPORTED_VERSION.0 && version > 0 {
            // As the Java client: ask again at the highest version the broker lists for
            // ApiVersions (brokers from 2.4 list it), else at v0.
            let theirs = resp
                .api_keys
                .iter()
                .find(|k| k.api_key == ApiKey::API_VERSIONS.0)
                .map_or(0, |k| k.max_version);
            return self.send_api_versions(node, theirs.min(version - 1).max(0), now);
        }
        if resp.error_code != 0 {
            let err = Error::broker(ErrorCode(resp.error_code), None);
            return self.disconnect(node, err, now);
        }
        let mut versions = ApiVersionTable::pinned(self.config.api_version);
        for k in &resp.api_keys {
            versions.insert(k.api_key, k.min_version, k.max_version);
        }
        self.shared.1.note(node, &versions);
        // A broker without an API this client needs is of no use: say which, and back
        // off before the next attempt as for any failed handshake.
        let missing = self.required_apis.iter().find_map(|&(api, min, max)| {
            self.checked_version(node, &versions, api, min, max).err()
        });
        if let Some(err) = missing {
            log::warn!("{err}");
            return self.disconnect(node, err, now);
        }
        let Some(conn) = self.conns.get_mut(&node) else {
            return;
        };
        conn.versions = versions;
        conn.state = ConnState::Ready;
        conn.ready_since = Some(now);
        self.ever_connected = true;
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

/// Decodes an ApiVersions response. A broker that does not know the version asked for
/// answers in v0 with UNSUPPORTED_VERSION (KIP-511), so a body that does not decode in
/// the version asked for is read again as v0.
fn decode_api_versions(body: Reader, version: i16) -> Result<ApiVersionsResponse, DecodeError> {
    let first = ApiVersionsResponse::decode(&mut body.clone(), version);
    match first {
        Err(_) if version > 0 => match ApiVersionsResponse::decode(&mut body.clone(), 0) {
            Ok(v0) if v0.error_code == ErrorCode::UNSUPPORTED_VERSION.0 => Ok(v0),
            _ => first,
        },
        other => other,
    }
}
