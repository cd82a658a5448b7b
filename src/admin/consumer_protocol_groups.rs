//! Describing groups of the consumer protocol (KIP-848) with ConsumerGroupDescribe:
//! the broker assigns their partitions, so each member has a current and a target
//! assignment, and the group an epoch.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::net::metadata::BrokerMetadata;
use crate::protocol::api::consumer_group_describe::{
    Assignment, ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, DescribedGroup,
};
use crate::protocol::error_code::ErrorCode;
use crate::TopicPartition;

use super::call::check;
use super::groups::{GroupDescription, MemberDescription, CONSUMER_PROTOCOL_TYPE};
use super::AdminClient;

/// The group type of consumer-protocol groups.
const CONSUMER_GROUP_TYPE: &str = "consumer";

fn partitions(a: Assignment) -> Vec<TopicPartition> {
    a.topic_partitions
        .into_iter()
        .flat_map(|t| {
            let topic = t.topic_name;
            t.partitions
                .into_iter()
                .map(move |p| TopicPartition::new(topic.clone(), p))
        })
        .collect()
}

fn description(g: DescribedGroup, coordinator: &BrokerMetadata) -> Result<GroupDescription> {
    check(g.error_code, g.error_message.as_deref())?;
    let members = g
        .members
        .into_iter()
        .map(|m| MemberDescription {
            member_id: m.member_id,
            group_instance_id: m.instance_id,
            client_id: m.client_id,
            host: m.client_host,
            assignment: partitions(m.assignment),
            target_assignment: Some(partitions(m.target_assignment)),
        })
        .collect();
    Ok(GroupDescription {
        group_id: g.group_id,
        state: g.group_state,
        protocol_type: CONSUMER_PROTOCOL_TYPE.to_owned(),
        protocol: g.assignor_name,
        group_type: Some(CONSUMER_GROUP_TYPE.to_owned()),
        group_epoch: Some(g.group_epoch),
        members,
        coordinator: coordinator.clone(),
    })
}

/// True for an answer that says "not a group of this protocol" rather than something
/// about the group: it does not exist as a consumer-protocol group, the broker predates
/// ConsumerGroupDescribe (Kafka 3.7 and older), or it lists the call but answers
/// UNSUPPORTED_VERSION because its new group coordinator is off (Kafka 3.8 and 3.9).
fn not_this_protocol(e: &Error) -> bool {
    matches!(e, Error::UnsupportedVersion { .. })
        || matches!(
            e.code(),
            Some(ErrorCode::GROUP_ID_NOT_FOUND | ErrorCode::UNSUPPORTED_VERSION)
        )
}

impl AdminClient {
    /// Describes `groups` with ConsumerGroupDescribe: `Some(result)` for a group of the
    /// consumer protocol (or an error about it), `None` for one the call does not know.
    pub(super) fn describe_consumer_protocol_groups(
        &self,
        groups: &[String],
        deadline: Instant,
    ) -> Result<BTreeMap<String, Option<Result<GroupDescription>>>> {
        let described = self.retry_items(
            "describing consumer-protocol groups",
            deadline,
            groups.iter().cloned(),
            |pending, deadline| {
                self.per_coordinator(
                    pending,
                    deadline,
                    |target, groups| {
                        let req = ConsumerGroupDescribeRequest {
                            group_ids: groups.to_vec(),
                            include_authorized_operations: false,
                        };
                        self.send(
                            target,
                            req,
                            None,
                            deadline,
                            "a ConsumerGroupDescribe response",
                        )
                    },
                    |coordinator, resp: ConsumerGroupDescribeResponse| {
                        resp.groups
                            .into_iter()
                            .map(|g| (g.group_id.clone(), description(g, coordinator)))
                            .collect()
                    },
                )
            },
        )?;
        Ok(described
            .into_iter()
            .map(|(g, r)| {
                let known = match &r {
                    Ok(_) => true,
                    Err(e) => !not_this_protocol(e),
                };
                (g, known.then_some(r))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::consumer_group_describe::{Member, TopicPartitions};
    use crate::protocol::codec::Uuid;

    fn assignment(topic: &str, ps: &[i32]) -> Assignment {
        Assignment {
            topic_partitions: vec![TopicPartitions {
                topic_id: Uuid::default(),
                topic_name: topic.into(),
                partitions: ps.to_vec(),
            }],
        }
    }

    #[test]
    fn a_broker_without_the_consumer_protocol_leaves_the_classic_answer() {
        assert!(not_this_protocol(&Error::broker(
            ErrorCode::UNSUPPORTED_VERSION,
            None
        )));
        assert!(not_this_protocol(&Error::broker(
            ErrorCode::GROUP_ID_NOT_FOUND,
            None
        )));
        assert!(!not_this_protocol(&Error::broker(
            ErrorCode::GROUP_AUTHORIZATION_FAILED,
            None
        )));
    }

    #[test]
    fn a_consumer_protocol_group_keeps_both_assignments() {
        let coordinator = BrokerMetadata {
            id: 1,
            host: "h".into(),
            port: 9092,
            rack: None,
        };
        let g = DescribedGroup {
            error_code: 0,
            error_message: None,
            group_id: "g".into(),
            group_state: "Reconciling".into(),
            group_epoch: 3,
            assignment_epoch: 3,
            assignor_name: "uniform".into(),
            members: vec![Member {
                member_id: "m".into(),
                instance_id: None,
                rack_id: None,
                member_epoch: 2,
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                subscribed_topic_names: vec!["t".into()],
                subscribed_topic_regex: None,
                assignment: assignment("t", &[0]),
                target_assignment: assignment("t", &[0, 1]),
                member_type: 1,
            }],
            authorized_operations: 0,
        };
        let d = description(g, &coordinator).unwrap();
        assert_eq!(
            (d.group_type.as_deref(), d.group_epoch, d.protocol.as_str()),
            (Some("consumer"), Some(3), "uniform")
        );
        let m = &d.members[0];
        assert_eq!(m.assignment, [TopicPartition::new("t", 0)]);
        assert_eq!(m.target_assignment.as_ref().map(Vec::len), Some(2));
        assert!(not_this_protocol(&Error::from(
            ErrorCode::GROUP_ID_NOT_FOUND
        )));
        assert!(!not_this_protocol(&Error::from(
            ErrorCode::GROUP_AUTHORIZATION_FAILED
        )));
    }
}
