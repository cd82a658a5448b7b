//! The producer id and epoch: InitProducerId at start, and a new epoch when a
//! partition's sequences cannot continue (KIP-360).
//!
//! Failures are retried with backoff, a garbage or lost response included; only the
//! errors the Java client treats as fatal poison the producer.

use std::time::Instant;

use crate::error::{Error, Result};
use crate::net::network::{Network, Response};
use crate::protocol::api::init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
use crate::protocol::error_code::ErrorCode;

use super::sender::{ProducerCtx, Sender};

/// What a refused InitProducerId (CLUSTER_AUTHORIZATION_FAILED) was not allowed to do.
pub(super) const IDEMPOTENT_WRITE: &str =
    "produce idempotently (IDEMPOTENT_WRITE on the cluster, or WRITE on a topic; or set enable_idempotence to false)";
use super::sequence::ProducerIdEpoch;

impl Sender {
    /// Asks for a producer id when there is none or a partition needs a new epoch.
    /// Returns when to try again.
    pub(super) fn maintain_producer_id(
        &mut self,
        net: &mut Network<ProducerCtx>,
        now: Instant,
    ) -> Option<Instant> {
        // A transactional producer gets its id from the transaction coordinator.
        if !self.idempotent || self.fatal.is_some() || self.txn.is_some() {
            return None;
        }
        if self.pid.is_set() && !self.bump_requested {
            return None;
        }
        if self.init_in_flight {
            return None;
        }
        if let Some(t) = self.init_not_before.filter(|t| *t > now) {
            return Some(t);
        }
        let node = net.least_loaded_node(now)?;
        // With the current id and epoch (v3+), the broker bumps the epoch or hands out a
        // new id; older brokers ignore them and always hand out a new id.
        let req = InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: i32::MAX,
            producer_id: self.pid.id,
            producer_epoch: self.pid.epoch,
        };
        match net.send(node, &req, None, ProducerCtx::InitProducerId, now) {
            Ok(_) => self.init_in_flight = true,
            Err(e) => return self.init_failed(e, now),
        }
        None
    }

    fn init_failed(&mut self, e: Error, now: Instant) -> Option<Instant> {
        self.init_in_flight = false;
        if init_error_is_fatal(&e) {
            log::error!("InitProducerId failed for good: {e}");
            self.fatal = Some(e);
            return None;
        }
        log::warn!("InitProducerId failed, retrying: {e}");
        let t = now + self.config.client.retry_backoff;
        self.init_not_before = Some(t);
        Some(t)
    }

    pub(super) fn on_init_response(&mut self, result: Result<Response>, now: Instant) {
        let resp = match result.and_then(|r| r.decode::<InitProducerIdResponse>()) {
            Ok(r) => r,
            Err(e) => {
                self.init_failed(e, now);
                return;
            }
        };
        if resp.error_code != 0 {
            let e = Error::for_resource(ErrorCode(resp.error_code), None, IDEMPOTENT_WRITE);
            self.init_failed(e, now);
            return;
        }
        let new = ProducerIdEpoch {
            id: resp.producer_id,
            epoch: resp.producer_epoch,
        };
        if !new.is_set() || new == self.pid {
            let e = Error::Protocol(format!("InitProducerId answered with {new:?}"));
            self.init_failed(e, now);
            return;
        }
        self.init_in_flight = false;
        self.init_not_before = None;
        self.bump_requested = false;
        log::debug!("producer id {} epoch {}", new.id, new.epoch);
        // Partitions move to it once nothing of theirs is in flight (see `catch_up`).
        self.pid = new;
    }
}

/// The InitProducerId failures the Java client does not retry: authorization, a fenced
/// or invalid epoch, a version the broker does not support, and other non-retriable
/// broker errors. A lost, garbled or timed-out response is retried.
fn init_error_is_fatal(e: &Error) -> bool {
    match e {
        Error::Broker { code, .. } => !code.is_retriable(),
        Error::ClusterAuthorization { .. } | Error::TransactionalIdAuthorization { .. } => true,
        Error::UnsupportedVersion { .. } | Error::Config(_) => true,
        e => e.is_fatal_handshake(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_java_fatal_classes_poison_the_producer() {
        let broker = |c| Error::broker(c, None);
        for fatal in [
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            ErrorCode::INVALID_PRODUCER_EPOCH,
            ErrorCode::UNSUPPORTED_VERSION,
        ] {
            assert!(init_error_is_fatal(&broker(fatal)), "{fatal:?}");
        }
        for retriable in [
            Error::Protocol("garbage".into()),
            Error::Disconnected {
                broker: "1".into(),
                reason: "closed".into(),
            },
            Error::timeout("a response", std::time::Duration::from_secs(1)),
            broker(ErrorCode::COORDINATOR_NOT_AVAILABLE),
            broker(ErrorCode::NOT_COORDINATOR),
        ] {
            assert!(!init_error_is_fatal(&retriable), "{retriable:?}");
        }
    }
}
