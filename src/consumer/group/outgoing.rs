//! What the member sends next: JoinGroup (once any revoke is done), the leader's
//! assignment and SyncGroup, heartbeats; when it next needs to look; and which
//! generation a commit goes out with.

use std::collections::BTreeSet;
use std::time::Instant;

use bytes::Bytes;

use crate::error::Error;
use crate::protocol::error_code::ErrorCode;

use super::assignment;
use super::membership::{MemberRequest, Membership, MetaView, Phase};
use super::{GroupEvent, Settings};

impl Membership {
    /// What to send to the coordinator next, if anything. `coordinator_ready` says whether
    /// a request can go out now.
    pub fn next_request(
        &mut self,
        now: Instant,
        coordinator_ready: bool,
        settings: &Settings,
        meta: &MetaView<'_>,
        events: &mut Vec<GroupEvent>,
    ) -> Option<MemberRequest> {
        if self.phase == Phase::Assign {
            self.assign(now, settings, meta, events);
        }
        if !coordinator_ready {
            return None;
        }
        match self.phase {
            Phase::NeedJoin
                if self.revokes_outstanding == 0
                    && self.join_not_before.is_none_or(|t| t <= now) =>
            {
                let protocols = match self.join_protocols(settings) {
                    Ok(p) => p,
                    Err(e) => {
                        self.retry_join_with_error(e, now, events);
                        return None;
                    }
                };
                self.seq += 1;
                self.phase = Phase::Joining;
                self.join_not_before = None;
                self.joined_subscription = self.subscription.clone();
                let reason = self.rejoin_reason.take();
                Some(MemberRequest::Join { protocols, reason })
            }
            Phase::SyncPending => {
                self.seq += 1;
                self.phase = Phase::Syncing;
                Some(MemberRequest::Sync {
                    assignments: std::mem::take(&mut self.sync_assignments),
                })
            }
            _ if self.heartbeating() && self.timers.heartbeat_due(now) => {
                self.timers.on_heartbeat_sent(now);
                Some(MemberRequest::Heartbeat)
            }
            _ => None,
        }
    }

    /// One protocol per configured assignor, in preference order.
    pub fn join_protocols(&self, settings: &Settings) -> Result<Vec<(String, Bytes)>, Error> {
        settings
            .assignors
            .iter()
            .map(|a| {
                let metadata = assignment::subscription_metadata(
                    a.as_ref(),
                    &self.subscription,
                    &self.owned,
                    self.generation.id,
                    settings.client_rack.as_deref(),
                )?;
                Ok((a.name().to_owned(), metadata))
            })
            .collect()
    }

    /// Leader: assign once the metadata covers every member's topics (or a refresh
    /// completed, or waiting took a request timeout), then queue the SyncGroup.
    fn assign(
        &mut self,
        now: Instant,
        settings: &Settings,
        meta: &MetaView<'_>,
        events: &mut Vec<GroupEvent>,
    ) {
        let topics: BTreeSet<&str> = self
            .leader_members
            .iter()
            .flat_map(|m| m.topics.iter().map(String::as_str))
            .collect();
        // Topics the metadata lacks or reports an error for (a broker that just restarted
        // may not know them yet) get one fresh metadata refresh before the assignment.
        let missing: Vec<String> = topics
            .iter()
            .filter(|t| meta.cluster.topic(t).is_none())
            .map(|t| (*t).to_owned())
            .collect();
        if !missing.is_empty() {
            match self.metadata_wait {
                None => {
                    log::debug!("group leader needs metadata for {missing:?} before assigning");
                    self.wanted_topics.extend(missing);
                    self.metadata_wait = Some((meta.version, now));
                    return;
                }
                Some((version, since))
                    if meta.version == version && now < since + settings.request_timeout =>
                {
                    return
                }
                Some(_) => {}
            }
        }
        self.metadata_wait = None;
        let protocol = self.generation.protocol.clone().unwrap_or_default();
        let Some(assignor) = settings.assignors.iter().find(|a| a.name() == protocol) else {
            let err = Error::broker(
                ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
                Some(format!("the coordinator chose assignor {protocol:?}, which this consumer did not offer")),
            );
            return self.retry_join_with_error(err, now, events);
        };
        let members = std::mem::take(&mut self.leader_members);
        match assignment::leader_assign(assignor.as_ref(), &members, meta.cluster) {
            Ok((assignments, snapshot)) => {
                self.leader_snapshot = Some(snapshot);
                self.snapshot_checked = meta.version;
                self.sync_assignments = assignments;
                self.phase = Phase::SyncPending;
            }
            Err(e) => self.retry_join_with_error(e, now, events),
        }
    }

    /// The next time `tick`/`next_request` have something to do without any answer arriving.
    pub fn next_deadline(&self, settings: &Settings) -> Option<Instant> {
        let mut next = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        match self.phase {
            Phase::NeedJoin => {
                if let Some(t) = self.join_not_before {
                    consider(t);
                }
            }
            Phase::Assign => {
                if let Some((_, since)) = self.metadata_wait {
                    consider(since + settings.request_timeout);
                }
            }
            _ => {}
        }
        if self.heartbeating() || self.phase == Phase::Syncing {
            consider(self.timers.next_deadline(self.heartbeating()));
        }
        next
    }

    /// The generation a commit goes out with: `None` when not using group management.
    pub fn commit_generation(&self) -> Result<Option<(i32, String)>, Error> {
        match self.phase {
            Phase::Idle => Ok(None),
            Phase::Stable | Phase::AwaitRevoke if self.generation.is_valid() => {
                Ok(Some((self.generation.id, self.generation.member_id.clone())))
            }
            Phase::Failed => Err(self.fatal_error.clone().unwrap_or(Error::Closed)),
            Phase::PollTimedOut => Err(Error::broker(
                ErrorCode::UNKNOWN_MEMBER_ID,
                Some("the consumer left the group after exceeding max_poll_interval; poll to rejoin, then commit again".into()),
            )),
            Phase::AwaitRevoke | Phase::NeedJoin if !self.generation.is_valid() => Err(Error::broker(
                ErrorCode::ILLEGAL_GENERATION,
                Some(
                    "the consumer is not part of an active group generation (it is rejoining), so its partitions \
                     may have been reassigned; poll to rejoin, then commit again"
                        .into(),
                ),
            )),
            _ => Err(Error::broker(
                ErrorCode::REBALANCE_IN_PROGRESS,
                Some("the group is rebalancing; poll to complete the rebalance, then commit again".into()),
            )),
        }
    }
}
