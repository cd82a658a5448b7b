//! How the member reacts to the coordinator's answers: JoinGroup, SyncGroup, Heartbeat,
//! and the membership side of OffsetCommit errors. The answers arrive decoded into the
//! plain types below, so these transitions are tested without a broker.

use std::time::Instant;

use bytes::Bytes;

use crate::error::Error;
use crate::protocol::error_code::ErrorCode;
use crate::TopicPartition;

use super::assignment;
use super::membership::{Generation, Membership, Phase};
use super::{GroupEvent, Settings, PROTOCOL_TYPE};

/// A JoinGroup answer.
#[derive(Debug, Clone)]
pub(super) struct JoinOutcome {
    pub error: ErrorCode,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub skip_assignment: bool,
    pub member_id: String,
    pub members: Vec<JoinedMember>,
}

/// One member's subscription, as the coordinator hands it to the leader.
#[derive(Debug, Clone, Default)]
pub(super) struct JoinedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

/// A SyncGroup answer.
#[derive(Debug, Clone)]
pub(super) struct SyncOutcome {
    pub error: ErrorCode,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl Default for JoinOutcome {
    fn default() -> Self {
        JoinOutcome {
            error: ErrorCode::NONE,
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            member_id: String::new(),
            members: Vec::new(),
        }
    }
}

impl Default for SyncOutcome {
    fn default() -> Self {
        SyncOutcome {
            error: ErrorCode::NONE,
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// True for failures that mean the coordinator connection is gone.
pub(super) fn is_transport_error(e: &Error) -> bool {
    matches!(e, Error::Disconnected { .. } | Error::Timeout { .. })
}

/// True for the codes that mean "find the coordinator again".
pub(super) fn is_coordinator_error(code: ErrorCode) -> bool {
    code == ErrorCode::COORDINATOR_NOT_AVAILABLE || code == ErrorCode::NOT_COORDINATOR
}

impl Membership {
    /// Handles a JoinGroup answer; returns true if the coordinator should be rediscovered.
    pub fn on_join(
        &mut self,
        seq: u64,
        result: Result<JoinOutcome, Error>,
        now: Instant,
        settings: &Settings,
        events: &mut Vec<GroupEvent>,
    ) -> bool {
        if seq != self.seq || self.phase != Phase::Joining {
            return false;
        }
        let r = match result {
            Ok(r) => r,
            Err(e) if !e.is_retriable() => {
                self.retry_join_with_error(e, now, events);
                return false;
            }
            Err(e) => {
                log::info!("JoinGroup failed: {e}; retrying");
                self.retry_join(now);
                return is_transport_error(&e);
            }
        };
        let code = r.error;
        match code {
            ErrorCode::NONE => {
                if r.protocol_type
                    .as_deref()
                    .is_some_and(|t| t != PROTOCOL_TYPE)
                {
                    let err = inconsistent(format!(
                        "the group uses protocol type {:?}",
                        r.protocol_type
                    ));
                    self.retry_join_with_error(err, now, events);
                    return false;
                }
                self.generation = Generation {
                    id: r.generation_id,
                    member_id: r.member_id.clone(),
                    protocol: r.protocol_name.clone(),
                };
                self.epoch += 1;
                self.timers.reset_session(now);
                self.is_leader = r.leader == r.member_id;
                log::info!(
                    "joined group {} as member {} in generation {} (protocol {:?}{})",
                    settings.group_id,
                    r.member_id,
                    r.generation_id,
                    r.protocol_name,
                    if self.is_leader { ", leader" } else { "" }
                );
                if !self.is_leader || r.skip_assignment {
                    // Followers, and a returning static leader told to keep its assignment,
                    // sync with no assignments.
                    self.sync_assignments.clear();
                    self.phase = Phase::SyncPending;
                    return false;
                }
                match assignment::decode_members(&r.members) {
                    Ok(members) => {
                        self.leader_members = members;
                        self.metadata_wait = None;
                        self.phase = Phase::Assign;
                    }
                    Err(e) => self.retry_join_with_error(e, now, events),
                }
                false
            }
            ErrorCode::MEMBER_ID_REQUIRED => {
                log::debug!(
                    "JoinGroup: the coordinator assigned member id {}; rejoining with it",
                    r.member_id
                );
                self.generation = Generation {
                    id: -1,
                    member_id: r.member_id,
                    protocol: None,
                };
                self.rejoin_now();
                false
            }
            ErrorCode::UNKNOWN_MEMBER_ID => {
                self.reset_generation(true);
                self.rejoin_now();
                false
            }
            c if is_coordinator_error(c) => {
                self.retry_join(now);
                true
            }
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS | ErrorCode::REBALANCE_IN_PROGRESS => {
                self.retry_join(now);
                false
            }
            ErrorCode::FENCED_INSTANCE_ID
            | ErrorCode::INVALID_SESSION_TIMEOUT
            | ErrorCode::INVALID_GROUP_ID
            | ErrorCode::UNSUPPORTED_VERSION => {
                self.fail(group_error(code, settings), events);
                false
            }
            _ => {
                self.retry_join_with_error(group_error(code, settings), now, events);
                false
            }
        }
    }

    /// Handles a SyncGroup answer; returns true if the coordinator should be rediscovered.
    pub fn on_sync(
        &mut self,
        seq: u64,
        result: Result<SyncOutcome, Error>,
        now: Instant,
        settings: &Settings,
        events: &mut Vec<GroupEvent>,
    ) -> bool {
        if seq != self.seq || self.phase != Phase::Syncing {
            return false;
        }
        let r = match result {
            Ok(r) => r,
            Err(e) if !e.is_retriable() => {
                self.retry_join_with_error(e, now, events);
                return false;
            }
            Err(e) => {
                log::info!("SyncGroup failed: {e}; rejoining");
                self.retry_join(now);
                return is_transport_error(&e);
            }
        };
        match r.error {
            ErrorCode::NONE => {
                if r.protocol_type
                    .as_deref()
                    .is_some_and(|t| t != PROTOCOL_TYPE)
                    || r.protocol_name.is_some() && r.protocol_name != self.generation.protocol
                {
                    let err = inconsistent(format!(
                        "SyncGroup named protocol {:?}/{:?}, JoinGroup {:?}",
                        r.protocol_type, r.protocol_name, self.generation.protocol
                    ));
                    self.retry_join_with_error(err, now, events);
                    return false;
                }
                match assignment::decode_assignment(&r.assignment) {
                    Ok(assigned) => self.complete_join(assigned, now, settings, events),
                    Err(e) => self.retry_join_with_error(e, now, events),
                }
                false
            }
            ErrorCode::REBALANCE_IN_PROGRESS => {
                self.rejoin_now();
                false
            }
            code @ (ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::ILLEGAL_GENERATION) => {
                self.lose(code == ErrorCode::UNKNOWN_MEMBER_ID, events);
                false
            }
            c if is_coordinator_error(c) => {
                self.retry_join(now);
                true
            }
            ErrorCode::FENCED_INSTANCE_ID => {
                self.fail(group_error(r.error, settings), events);
                false
            }
            code => {
                self.retry_join_with_error(group_error(code, settings), now, events);
                false
            }
        }
    }

    /// SyncGroup succeeded: take the assignment and tell the user what moved.
    pub fn complete_join(
        &mut self,
        mut assigned: Vec<TopicPartition>,
        now: Instant,
        settings: &Settings,
        events: &mut Vec<GroupEvent>,
    ) {
        assigned.sort();
        assigned.dedup();
        self.phase = Phase::Stable;
        self.join_backoff.reset();
        self.timers.reset_session(now);
        if let Some(tp) = assigned
            .iter()
            .find(|tp| !self.subscription.contains(&tp.topic))
        {
            // The subscription changed since the JoinGroup went out; the assignment is for
            // the old one. Keep what is owned and join again with the current subscription.
            log::info!("assignment includes {tp}, which is no longer subscribed; rejoining");
            self.request_rejoin("assignment does not match the current subscription");
            return;
        }
        let (revoked, added) = assignment::diff(&self.owned, &assigned);
        if settings.cooperative && !revoked.is_empty() {
            self.revokes_outstanding += 1;
            self.rejoin_after_revoke = true;
            events.push(GroupEvent::Revoke(revoked));
        }
        log::info!(
            "generation {} of group {}: assigned {:?}",
            self.generation.id,
            settings.group_id,
            assigned
        );
        self.owned = assigned.clone();
        events.push(GroupEvent::Assigned {
            added,
            assignment: assigned,
            generation: self.generation.id,
        });
        if self.joined_subscription != self.subscription {
            self.request_rejoin("subscription changed during the rebalance");
        }
    }

    /// Handles a Heartbeat answer sent under generation epoch `epoch`; returns true if the
    /// coordinator should be rediscovered.
    pub fn on_heartbeat(
        &mut self,
        epoch: u64,
        result: Result<ErrorCode, Error>,
        now: Instant,
        settings: &Settings,
        events: &mut Vec<GroupEvent>,
    ) -> bool {
        if epoch != self.epoch {
            self.timers.forget_heartbeat();
            return false;
        }
        let code = match result {
            Ok(code) => code,
            Err(e) => {
                log::debug!("heartbeat failed: {e}");
                self.timers.on_heartbeat_failed(now);
                return is_transport_error(&e);
            }
        };
        match code {
            ErrorCode::NONE => self.timers.on_heartbeat_ok(now),
            ErrorCode::REBALANCE_IN_PROGRESS => {
                // Still a member; the coordinator wants everyone to rejoin.
                self.timers.on_heartbeat_ok(now);
                if self.phase == Phase::Stable {
                    self.request_rejoin("the group is rebalancing");
                }
            }
            ErrorCode::ILLEGAL_GENERATION | ErrorCode::UNKNOWN_MEMBER_ID => {
                log::info!("heartbeat: {code}; the membership is lost, rejoining");
                self.timers.forget_heartbeat();
                self.lose(code == ErrorCode::UNKNOWN_MEMBER_ID, events);
            }
            ErrorCode::FENCED_INSTANCE_ID => {
                self.timers.forget_heartbeat();
                self.fail(group_error(code, settings), events);
            }
            c if is_coordinator_error(c) => {
                self.timers.on_heartbeat_failed(now);
                return true;
            }
            ErrorCode::GROUP_AUTHORIZATION_FAILED => {
                self.timers.on_heartbeat_failed(now);
                events.push(GroupEvent::Error(group_error(code, settings)));
            }
            other => {
                log::warn!("unexpected heartbeat error {other}");
                self.timers.on_heartbeat_failed(now);
            }
        }
        false
    }

    /// An OffsetCommit sent under generation epoch `epoch` failed with `code`: the errors
    /// that say something about the membership act on it (as the Java client does).
    pub fn on_commit_error(
        &mut self,
        epoch: u64,
        code: ErrorCode,
        settings: &Settings,
        events: &mut Vec<GroupEvent>,
    ) {
        let current =
            epoch == self.epoch && matches!(self.phase, Phase::Stable | Phase::AwaitRevoke);
        match code {
            ErrorCode::REBALANCE_IN_PROGRESS if self.phase == Phase::Stable => {
                self.request_rejoin("offset commit found the group rebalancing")
            }
            ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::ILLEGAL_GENERATION if current => {
                self.lose(code == ErrorCode::UNKNOWN_MEMBER_ID, events)
            }
            ErrorCode::FENCED_INSTANCE_ID if current => {
                self.fail(group_error(code, settings), events)
            }
            _ => {}
        }
    }
}

fn inconsistent(detail: String) -> Error {
    Error::broker(ErrorCode::INCONSISTENT_GROUP_PROTOCOL, Some(detail))
}

/// A group error with a message that says what to do.
pub(super) fn group_error(code: ErrorCode, settings: &Settings) -> Error {
    let group = &settings.group_id;
    let msg = match code {
        ErrorCode::FENCED_INSTANCE_ID => format!(
            "another consumer joined group {group} with the same group_instance_id {:?}; this one was fenced out. \
             Give every consumer its own group_instance_id",
            settings.group_instance_id.as_deref().unwrap_or_default()
        ),
        ErrorCode::GROUP_AUTHORIZATION_FAILED => format!("not authorized to use consumer group {group}"),
        ErrorCode::INVALID_SESSION_TIMEOUT => format!(
            "session_timeout {:?} is outside the broker's group.min.session.timeout.ms..group.max.session.timeout.ms",
            settings.session_timeout
        ),
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL => format!(
            "group {group} uses a different protocol type or none of the assignors {:?}",
            settings.assignors.iter().map(|a| a.name().to_owned()).collect::<Vec<_>>()
        ),
        ErrorCode::GROUP_MAX_SIZE_REACHED => {
            format!("group {group} already has the broker's maximum number of members (group.max.size)")
        }
        ErrorCode::INVALID_GROUP_ID => format!("invalid group id {group:?}"),
        ErrorCode::UNSUPPORTED_VERSION if settings.group_instance_id.is_some() => {
            "the broker does not support static membership (group_instance_id)".to_owned()
        }
        _ => format!("consumer group {group}"),
    };
    Error::for_resource(code, Some(msg), group)
}
