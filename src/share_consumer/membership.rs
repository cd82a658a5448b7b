//! Share group membership on the I/O thread: finding the group coordinator, and
//! ShareGroupHeartbeat with a member id the client generates (KIP-932), the member
//! epoch, the assignment by topic id, rejoining when fenced, and leaving (epoch -1).

use std::collections::{BTreeSet, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::net::backoff::Backoff;
use crate::net::metadata::NodeId;
use crate::net::network::{Network, Response};
use crate::protocol::api::find_coordinator::{FindCoordinatorRequest, FindCoordinatorResponse};
use crate::protocol::api::share_group_heartbeat::{
    ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse,
};
use crate::protocol::codec::Uuid;
use crate::protocol::error_code::ErrorCode;

use super::driver::ShareCtx;

/// How often a member heartbeats until it has an assignment.
const JOINING_HEARTBEAT: Duration = Duration::from_millis(500);

/// The epoch a member sends to leave its group.
const LEAVE_EPOCH: i32 = -1;

/// A random member id in the UUID text form (KIP-932: the client generates it).
pub(super) fn random_member_id() -> String {
    let state = std::collections::hash_map::RandomState::new();
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut h = state.build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        chunk.copy_from_slice(&h.finish().to_be_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leave {
    No,
    Wanted,
    Sent,
    Done,
}

pub(super) struct Membership {
    group_id: String,
    pub member_id: String,
    pub epoch: i32,
    topics: BTreeSet<String>,
    /// The coordinator's dedicated node id, once found.
    coordinator: Option<NodeId>,
    find_in_flight: bool,
    heartbeat_in_flight: bool,
    next_heartbeat: Option<Instant>,
    interval: Duration,
    backoff: Backoff,
    /// The partitions the group assigned this member, by topic id.
    pub assignment: HashSet<(Uuid, i32)>,
    leave: Leave,
    /// The subscription changed since the last heartbeat went out.
    resubscribe: bool,
    /// An error the application should hear about (authorization, bad group).
    pub error: Option<Error>,
}

impl Membership {
    pub fn new(group_id: String, retry_backoff: Duration, retry_backoff_max: Duration) -> Self {
        Membership {
            group_id,
            member_id: random_member_id(),
            epoch: 0,
            topics: BTreeSet::new(),
            coordinator: None,
            find_in_flight: false,
            heartbeat_in_flight: false,
            next_heartbeat: None,
            interval: Duration::from_secs(5),
            backoff: Backoff::new(retry_backoff, retry_backoff_max),
            assignment: HashSet::new(),
            leave: Leave::No,
            resubscribe: false,
            error: None,
        }
    }

    /// A new subscription: heartbeat at once to tell the coordinator.
    pub fn subscribe(&mut self, topics: BTreeSet<String>, now: Instant) {
        self.topics = topics;
        self.resubscribe = true;
        self.next_heartbeat = Some(now);
    }

    fn active(&self) -> bool {
        !self.topics.is_empty() || self.epoch > 0
    }

    /// Asks to leave the group; true once there is nothing (more) to do for it.
    pub fn leave(&mut self, now: Instant) -> bool {
        if self.leave == Leave::No {
            self.leave = if self.epoch > 0 && self.coordinator.is_some() {
                self.next_heartbeat = Some(now);
                Leave::Wanted
            } else {
                Leave::Done
            };
        }
        self.leave == Leave::Done
    }

    /// Sends what is due; returns when to run next.
    pub fn poll(&mut self, net: &mut Network<ShareCtx>, now: Instant) -> Option<Instant> {
        if !self.active() || self.leave == Leave::Done || self.leave == Leave::Sent {
            return None;
        }
        let due = self.next_heartbeat.is_some_and(|t| t <= now);
        match self.coordinator {
            None if !self.find_in_flight && due => {
                let Some(node) = net.least_loaded_node(now).filter(|n| net.can_send(*n)) else {
                    return Some(now + Duration::from_millis(50));
                };
                let req = FindCoordinatorRequest {
                    key: self.group_id.clone(),
                    key_type: 0,
                    coordinator_keys: Vec::new(),
                };
                match net.send(node, &req, Some(3), ShareCtx::FindCoordinator, now) {
                    Ok(_) => self.find_in_flight = true,
                    Err(e) => self.retry(&e, now),
                }
            }
            Some(node) if !self.heartbeat_in_flight && due => {
                if !net.ready_or_connect(node, now) || !net.can_send(node) {
                    return Some(now + Duration::from_millis(50));
                }
                let leaving = self.leave == Leave::Wanted;
                let req = ShareGroupHeartbeatRequest {
                    group_id: self.group_id.clone(),
                    member_id: self.member_id.clone(),
                    member_epoch: if leaving { LEAVE_EPOCH } else { self.epoch },
                    rack_id: net.config().client_rack.clone(),
                    subscribed_topic_names: (!leaving)
                        .then(|| self.topics.iter().cloned().collect()),
                };
                match net.send(node, &req, None, ShareCtx::Heartbeat, now) {
                    Ok(_) => {
                        self.heartbeat_in_flight = true;
                        self.resubscribe = false;
                        if leaving {
                            self.leave = Leave::Sent;
                        }
                    }
                    Err(e) => {
                        self.coordinator = None;
                        self.retry(&e, now);
                    }
                }
            }
            _ => {}
        }
        self.next_heartbeat
    }

    fn retry(&mut self, error: &Error, now: Instant) {
        log::debug!("share group {}: {error}; retrying", self.group_id);
        self.next_heartbeat = Some(now + self.backoff.fail());
        if self.leave != Leave::No {
            self.leave = Leave::Done;
        }
    }

    pub fn on_find_coordinator(
        &mut self,
        result: Result<Response>,
        net: &mut Network<ShareCtx>,
        now: Instant,
    ) {
        self.find_in_flight = false;
        let resp = match result.and_then(|r| r.decode::<FindCoordinatorResponse>()) {
            Ok(r) => r,
            Err(e) => return self.retry(&e, now),
        };
        let code = ErrorCode(resp.error_code);
        if !code.is_ok() {
            if code == ErrorCode::GROUP_AUTHORIZATION_FAILED {
                self.error = Some(Error::broker(code, resp.error_message.clone()));
            }
            return self.retry(&Error::broker(code, resp.error_message), now);
        }
        let Ok(port) = u16::try_from(resp.port) else {
            return self.retry(&Error::Protocol(format!("bad port {}", resp.port)), now);
        };
        let node = NodeId::MAX - resp.node_id;
        net.add_dedicated_node(node, &resp.host, port);
        self.coordinator = Some(node);
        self.next_heartbeat = Some(now);
    }

    /// Handles a heartbeat answer; true when the assignment changed.
    pub fn on_heartbeat(&mut self, result: Result<Response>, now: Instant) -> bool {
        self.heartbeat_in_flight = false;
        if self.leave == Leave::Sent {
            self.leave = Leave::Done;
            self.epoch = LEAVE_EPOCH;
            return false;
        }
        let resp = match result.and_then(|r| r.decode::<ShareGroupHeartbeatResponse>()) {
            Ok(r) => r,
            Err(e) => {
                self.coordinator = None;
                self.retry(&e, now);
                return false;
            }
        };
        let code = ErrorCode(resp.error_code);
        match code {
            ErrorCode::NONE => {}
            ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => {
                self.coordinator = None;
                self.retry(&Error::from(code), now);
                return false;
            }
            ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::FENCED_MEMBER_EPOCH => {
                // Rejoin with the same member id at epoch 0; the records held stay
                // acquired until their locks expire.
                log::info!("share group {}: {}; rejoining", self.group_id, code.name());
                self.epoch = 0;
                self.next_heartbeat = Some(now);
                let changed = !self.assignment.is_empty();
                self.assignment.clear();
                return changed;
            }
            _ => {
                let err = Error::broker(code, resp.error_message.clone());
                if !code.is_retriable() {
                    self.error = Some(err.clone());
                }
                self.retry(&err, now);
                return false;
            }
        }
        self.backoff.reset();
        self.epoch = resp.member_epoch;
        if resp.heartbeat_interval_ms > 0 {
            self.interval = Duration::from_millis(resp.heartbeat_interval_ms as u64);
        }
        let mut changed = false;
        if let Some(assignment) = resp.assignment {
            let new: HashSet<(Uuid, i32)> = assignment
                .topic_partitions
                .iter()
                .flat_map(|t| t.partitions.iter().map(move |p| (t.topic_id, *p)))
                .collect();
            changed = new != self.assignment;
            self.assignment = new;
        }
        // A subscription changed, or a leave asked for, while this heartbeat was out
        // goes at once; a member still waiting for its first assignment asks again soon
        // (the coordinator computes assignments after the join).
        let wait = if self.resubscribe || self.leave == Leave::Wanted {
            Duration::ZERO
        } else if self.assignment.is_empty() && !self.topics.is_empty() {
            self.interval.min(JOINING_HEARTBEAT)
        } else {
            self.interval
        };
        self.next_heartbeat = Some(now + wait);
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ids_are_uuids_and_differ() {
        let a = random_member_id();
        let b = random_member_id();
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
        assert_ne!(a, b);
    }
}
