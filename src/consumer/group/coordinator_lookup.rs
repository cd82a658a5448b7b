//! Finding the group coordinator: FindCoordinator to the least loaded broker, retries
//! with backoff, and forgetting the coordinator when it fails.
//!
//! The coordinator gets a connection of its own under the node id `i32::MAX - broker id`
//! (as in the Java client): a JoinGroup parks on the coordinator until the rebalance
//! completes, and the broker answers a connection's requests in order, so sharing the
//! socket with fetches or metadata requests would hold them up for the whole rebalance.

use std::time::{Duration, Instant};

use crate::error::Error;
use crate::net::backoff::Backoff;
use crate::net::metadata::NodeId;
use crate::protocol::error_code::ErrorCode;

/// The coordinator broker and the dedicated node id its connection uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Coordinator {
    pub node: NodeId,
    pub broker_id: NodeId,
    pub host: String,
    pub port: u16,
}

/// A decoded FindCoordinator answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FoundCoordinator {
    pub error: ErrorCode,
    pub message: Option<String>,
    pub node_id: NodeId,
    pub host: String,
    pub port: i32,
}

/// The node id of the coordinator's dedicated connection.
pub(super) fn coordinator_node_id(broker_id: NodeId) -> NodeId {
    NodeId::MAX - broker_id
}

#[derive(Debug)]
pub(super) struct CoordinatorLookup {
    coordinator: Option<Coordinator>,
    in_flight: Option<u64>,
    seq: u64,
    retry_at: Option<Instant>,
    backoff: Backoff,
    /// When the known coordinator was first found not ready (connecting), if it still is.
    unready_since: Option<Instant>,
}

impl CoordinatorLookup {
    pub fn new(retry_backoff: Duration, retry_backoff_max: Duration) -> Self {
        CoordinatorLookup {
            coordinator: None,
            in_flight: None,
            seq: 0,
            retry_at: None,
            backoff: Backoff::new(retry_backoff, retry_backoff_max),
            unready_since: None,
        }
    }

    pub fn known(&self) -> Option<&Coordinator> {
        self.coordinator.as_ref()
    }

    /// True when a FindCoordinator should be sent now.
    pub fn due(&self, now: Instant) -> bool {
        self.coordinator.is_none()
            && self.in_flight.is_none()
            && self.retry_at.is_none_or(|t| t <= now)
    }

    /// When a lookup that waits for its backoff may go out.
    pub fn retry_at(&self) -> Option<Instant> {
        if self.coordinator.is_none() && self.in_flight.is_none() {
            self.retry_at
        } else {
            None
        }
    }

    /// A FindCoordinator went out; returns the sequence number its answer carries.
    pub fn sent(&mut self) -> u64 {
        self.seq += 1;
        self.in_flight = Some(self.seq);
        self.seq
    }

    /// The FindCoordinator could not be sent.
    pub fn send_failed(&mut self, now: Instant) {
        self.in_flight = None;
        self.retry_at = Some(now + self.backoff.fail());
    }

    /// Handles an answer. Returns the coordinator when one was found, or an error the user
    /// should hear about (authorization); either way retries are scheduled as needed.
    pub fn on_response(
        &mut self,
        seq: u64,
        result: Result<FoundCoordinator, Error>,
        now: Instant,
    ) -> Result<Option<Coordinator>, Error> {
        if self.in_flight != Some(seq) {
            return Ok(None);
        }
        self.in_flight = None;
        let found = match result {
            Ok(f) => f,
            Err(e) => {
                log::debug!("FindCoordinator failed: {e}; retrying");
                self.retry_at = Some(now + self.backoff.fail());
                return Ok(None);
            }
        };
        if !found.error.is_ok() {
            self.retry_at = Some(now + self.backoff.fail());
            let err = Error::broker(found.error, found.message.clone());
            if found.error == ErrorCode::GROUP_AUTHORIZATION_FAILED {
                return Err(err);
            }
            log::debug!("FindCoordinator: {err}; retrying");
            return Ok(None);
        }
        let port = match u16::try_from(found.port) {
            Ok(p) if found.node_id >= 0 && !found.host.is_empty() => p,
            _ => {
                log::warn!("FindCoordinator named an invalid coordinator {found:?}; retrying");
                self.retry_at = Some(now + self.backoff.fail());
                return Ok(None);
            }
        };
        let c = Coordinator {
            node: coordinator_node_id(found.node_id),
            broker_id: found.node_id,
            host: found.host,
            port,
        };
        log::info!(
            "group coordinator is broker {} ({}:{})",
            c.broker_id,
            c.host,
            c.port
        );
        self.backoff.reset();
        self.retry_at = None;
        self.unready_since = None;
        self.coordinator = Some(c.clone());
        Ok(Some(c))
    }

    /// Forgets the coordinator; returns it so its connection can be closed. The next lookup
    /// goes out after the retry backoff.
    pub fn mark_unknown(&mut self, reason: &str, now: Instant) -> Option<Coordinator> {
        let c = self.coordinator.take()?;
        log::info!(
            "group coordinator {} ({}:{}) is unavailable ({reason}); looking it up again",
            c.broker_id,
            c.host,
            c.port
        );
        self.unready_since = None;
        self.retry_at = Some(now + self.backoff.peek());
        Some(c)
    }

    /// Tracks how long the coordinator's connection has not been ready; after `limit` the
    /// coordinator is presumed gone. Returns true when it should be forgotten.
    pub fn note_readiness(&mut self, ready: bool, now: Instant, limit: Duration) -> bool {
        if ready {
            self.unready_since = None;
            return false;
        }
        let since = *self.unready_since.get_or_insert(now);
        now.saturating_duration_since(since) >= limit
    }

    /// When an unready coordinator will be given up on.
    pub fn unready_deadline(&self, limit: Duration) -> Option<Instant> {
        self.unready_since.map(|t| t + limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(node_id: NodeId) -> FoundCoordinator {
        FoundCoordinator {
            error: ErrorCode::NONE,
            message: None,
            node_id,
            host: "broker-2".into(),
            port: 9093,
        }
    }

    #[test]
    fn finds_and_forgets_the_coordinator() {
        let now = Instant::now();
        let mut l = CoordinatorLookup::new(Duration::from_millis(100), Duration::from_secs(1));
        assert!(l.due(now));
        let seq = l.sent();
        assert!(!l.due(now), "one lookup at a time");
        let c = l.on_response(seq, Ok(found(2)), now).unwrap().unwrap();
        assert_eq!(c.node, i32::MAX - 2);
        assert_eq!(
            (c.host.as_str(), c.port, c.broker_id),
            ("broker-2", 9093, 2)
        );
        assert_eq!(l.known(), Some(&c));
        assert!(!l.due(now));
        assert_eq!(l.mark_unknown("NOT_COORDINATOR", now), Some(c));
        assert!(l.mark_unknown("again", now).is_none());
        assert!(!l.due(now), "rediscovery waits for the backoff");
        assert!(l.due(now + Duration::from_millis(200)));
    }

    #[test]
    fn retries_errors_and_reports_authorization_failures() {
        let now = Instant::now();
        let mut l = CoordinatorLookup::new(Duration::from_millis(100), Duration::from_secs(1));
        let seq = l.sent();
        let mut f = found(1);
        f.error = ErrorCode::COORDINATOR_NOT_AVAILABLE;
        assert_eq!(l.on_response(seq, Ok(f), now).unwrap(), None);
        assert!(l.known().is_none());
        assert!(!l.due(now));
        assert!(l.due(now + Duration::from_millis(150)));
        // A stale answer is ignored.
        assert_eq!(l.on_response(seq, Ok(found(1)), now).unwrap(), None);
        let seq = l.sent();
        let mut f = found(1);
        f.error = ErrorCode::GROUP_AUTHORIZATION_FAILED;
        let err = l.on_response(seq, Ok(f), now).unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::GROUP_AUTHORIZATION_FAILED));
        let seq = l.sent();
        let err = Error::Disconnected {
            broker: "1".into(),
            reason: "reset".into(),
        };
        assert_eq!(l.on_response(seq, Err(err), now).unwrap(), None);
        assert!(l.retry_at().is_some());
    }

    #[test]
    fn gives_up_on_a_coordinator_that_never_becomes_ready() {
        let now = Instant::now();
        let limit = Duration::from_secs(5);
        let mut l = CoordinatorLookup::new(Duration::from_millis(100), Duration::from_secs(1));
        assert!(!l.note_readiness(false, now, limit));
        assert_eq!(l.unready_deadline(limit), Some(now + limit));
        assert!(!l.note_readiness(false, now + Duration::from_secs(4), limit));
        assert!(l.note_readiness(false, now + limit, limit));
        assert!(!l.note_readiness(true, now + limit, limit));
        assert_eq!(l.unready_deadline(limit), None);
    }
}
