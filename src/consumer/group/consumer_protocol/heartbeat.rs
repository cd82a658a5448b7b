//! ConsumerGroupHeartbeat as the member sends it, its answer decoded into the plain outcome
//! the state machine takes, and what each error code means for the member.

use std::collections::BTreeMap;

use crate::error::{Error, ErrorCode};
use crate::net::network::Response;
use crate::protocol::api::consumer_group_heartbeat::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, TopicPartitions,
};

use super::membership::{ConsumerMember, MemberSettings, Subscription};
use super::reconcile::Target;

/// The newest version this module fills and reads; v1 adds `subscribed_topic_regex` (and
/// has the client generate its member id, KIP-1082).
pub(super) const HEARTBEAT_MAX: i16 = 1;
/// The first version with a regex subscription.
pub(super) const REGEX_MIN_VERSION: i16 = 1;

/// A decoded heartbeat answer.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::consumer::group) struct HeartbeatOutcome {
    pub error: ErrorCode,
    pub message: Option<String>,
    pub member_id: Option<String>,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    /// `None`: unchanged since the last answer.
    pub assignment: Option<Target>,
}

impl HeartbeatOutcome {
    /// A successful answer, for tests.
    #[cfg(test)]
    pub fn ok(epoch: i32, assignment: Option<Target>) -> Self {
        HeartbeatOutcome {
            error: ErrorCode::NONE,
            message: None,
            member_id: None,
            member_epoch: epoch,
            heartbeat_interval_ms: 5000,
            assignment,
        }
    }
}

pub(super) fn parse(resp: Response) -> Result<HeartbeatOutcome, Error> {
    let r: ConsumerGroupHeartbeatResponse = resp.decode()?;
    Ok(HeartbeatOutcome {
        error: ErrorCode(r.error_code),
        message: r.error_message,
        member_id: r.member_id,
        member_epoch: r.member_epoch,
        heartbeat_interval_ms: r.heartbeat_interval_ms,
        assignment: r.assignment.map(|a| {
            let mut target: Target = BTreeMap::new();
            for t in a.topic_partitions {
                target.entry(t.topic_id).or_default().extend(t.partitions);
            }
            target
        }),
    })
}

impl ConsumerMember {
    /// A heartbeat with every field set (as after a join or an error in the Java client):
    /// the broker compares them with what it has, so repeating them changes nothing, and
    /// no answer lost in between can leave it with a stale view.
    pub(super) fn heartbeat_request(&mut self) -> ConsumerGroupHeartbeatRequest {
        let s = &self.settings;
        let (names, regex) = match &self.subscription {
            Some(Subscription::Regex(re)) => {
                self.sent_regex = true;
                (Vec::new(), Some(re.clone()))
            }
            Some(Subscription::Topics(topics)) => (
                topics.iter().cloned().collect(),
                // An empty regex clears one sent before (a switch from a pattern).
                self.sent_regex.then(String::new),
            ),
            None => (Vec::new(), None),
        };
        let mut owned: Vec<TopicPartitions> = Vec::new();
        for (tp, id) in &self.owned {
            match owned.iter_mut().find(|t| t.topic_id == *id) {
                Some(t) => t.partitions.push(tp.partition),
                None => owned.push(TopicPartitions {
                    topic_id: *id,
                    partitions: vec![tp.partition],
                }),
            }
        }
        ConsumerGroupHeartbeatRequest {
            group_id: s.group_id.clone(),
            member_id: self.member_id.clone(),
            member_epoch: self.epoch,
            instance_id: s.instance_id.clone(),
            rack_id: s.rack.clone(),
            rebalance_timeout_ms: millis(s),
            subscribed_topic_names: Some(names),
            subscribed_topic_regex: regex,
            server_assignor: s.remote_assignor.clone(),
            topic_partitions: Some(owned),
        }
    }

    /// Leaving: only the identity and the leave epoch (-1, or -2 for a static member that
    /// will come back).
    pub(super) fn leave_request(&self, epoch: i32) -> ConsumerGroupHeartbeatRequest {
        ConsumerGroupHeartbeatRequest {
            group_id: self.settings.group_id.clone(),
            member_id: self.member_id.clone(),
            member_epoch: epoch,
            instance_id: self.settings.instance_id.clone(),
            ..Default::default()
        }
    }
}

fn millis(s: &MemberSettings) -> i32 {
    s.rebalance_timeout.as_millis().min(i32::MAX as u128) as i32
}

/// What an error code in a heartbeat answer means for the member (as the Java client's
/// `HeartbeatRequestManager` and `ConsumerMembershipManager` decide).
#[derive(Debug)]
pub(super) enum Verdict {
    Ok,
    /// FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID: the partitions are lost; rejoin at epoch 0.
    Fenced,
    /// Find the coordinator again, then retry.
    CoordinatorLost,
    /// Retry after the backoff.
    Retry,
    /// Retry after the backoff, and tell the user.
    Warn(Error),
    /// Out of the group until a new subscription; tell the user.
    Fatal(Error),
}

pub(super) fn classify(
    code: ErrorCode,
    message: Option<String>,
    settings: &MemberSettings,
) -> Verdict {
    let group = &settings.group_id;
    let broker_says = message
        .filter(|m| !m.is_empty())
        .map(|m| format!(" (the broker says: {m})"))
        .unwrap_or_default();
    let error = |what: String| Error::broker(code, Some(format!("{what}{broker_says}")));
    match code {
        ErrorCode::NONE => Verdict::Ok,
        ErrorCode::FENCED_MEMBER_EPOCH | ErrorCode::UNKNOWN_MEMBER_ID => Verdict::Fenced,
        ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => {
            Verdict::CoordinatorLost
        }
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS | ErrorCode::REQUEST_TIMED_OUT => Verdict::Retry,
        ErrorCode::TOPIC_AUTHORIZATION_FAILED => Verdict::Warn(error(format!(
            "not authorized to read some topics subscribed to in group {group}"
        ))),
        ErrorCode::UNRELEASED_INSTANCE_ID => Verdict::Fatal(error(format!(
            "another member of group {group} with group_instance_id {:?} is still in the group; \
             close it first, or give every consumer its own group_instance_id",
            settings.instance_id.as_deref().unwrap_or_default()
        ))),
        ErrorCode::FENCED_INSTANCE_ID => Verdict::Fatal(error(format!(
            "another consumer joined group {group} with the same group_instance_id {:?}; this one \
             was fenced out",
            settings.instance_id.as_deref().unwrap_or_default()
        ))),
        ErrorCode::GROUP_MAX_SIZE_REACHED => Verdict::Fatal(error(format!(
            "group {group} already has the broker's maximum number of members \
             (group.consumer.max.size)"
        ))),
        ErrorCode::UNSUPPORTED_ASSIGNOR => Verdict::Fatal(error(format!(
            "the broker has no assignor {:?} (group_remote_assignor); Apache Kafka has uniform \
             and range",
            settings.remote_assignor.as_deref().unwrap_or_default()
        ))),
        ErrorCode::INVALID_REGULAR_EXPRESSION => Verdict::Fatal(error(
            "the broker rejected the subscription pattern (it takes RE2/J syntax)".into(),
        )),
        ErrorCode::GROUP_AUTHORIZATION_FAILED => Verdict::Fatal(error(format!(
            "not authorized to use consumer group {group}"
        ))),
        ErrorCode::GROUP_ID_NOT_FOUND | ErrorCode::INCONSISTENT_GROUP_PROTOCOL => {
            Verdict::Fatal(error(format!(
                "group {group} cannot take a consumer-protocol member (a classic group the broker \
                 will not convert, or another group type under this id)"
            )))
        }
        ErrorCode::UNSUPPORTED_VERSION | ErrorCode::INVALID_REQUEST => Verdict::Fatal(error(
            format!("the broker refused the ConsumerGroupHeartbeat of group {group}"),
        )),
        other if other.is_retriable() => Verdict::Retry,
        _ => Verdict::Warn(error(format!("heartbeat of group {group}"))),
    }
}
