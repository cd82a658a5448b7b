//! The consumer-protocol membership without a broker: answers and `now` in, events and
//! heartbeats out.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorCode};
use crate::protocol::codec::Uuid;
use crate::TopicPartition;

use super::super::GroupEvent;
use super::heartbeat::HeartbeatOutcome;
use super::membership::{ConsumerMember, MemberSettings, Phase, Subscription};
use super::reconcile::Target;

const A: Uuid = Uuid([1; 16]);
const B: Uuid = Uuid([2; 16]);

fn settings(instance_id: Option<&str>) -> MemberSettings {
    MemberSettings {
        group_id: "g".into(),
        instance_id: instance_id.map(Into::into),
        rack: None,
        rebalance_timeout: Duration::from_secs(300),
        remote_assignor: Some("uniform".into()),
        retry_backoff: Duration::from_millis(100),
        retry_backoff_max: Duration::from_secs(1),
    }
}

fn names(id: &Uuid) -> Option<String> {
    match *id {
        A => Some("a".into()),
        B => Some("b".into()),
        _ => None,
    }
}

fn tp(topic: &str, p: i32) -> TopicPartition {
    TopicPartition::new(topic, p)
}

fn target(entries: &[(Uuid, &[i32])]) -> Option<Target> {
    Some(
        entries
            .iter()
            .map(|(id, ps)| (*id, ps.iter().copied().collect::<BTreeSet<i32>>()))
            .collect(),
    )
}

/// A member subscribed to topic "a" (and "b").
fn subscribed(now: Instant) -> ConsumerMember {
    let mut m = ConsumerMember::new(settings(None), now);
    let topics = BTreeSet::from(["a".to_string(), "b".to_string()]);
    m.set_subscription(Subscription::Topics(topics), now);
    m
}

/// Sends the due heartbeat and answers it with `answer`; returns the events.
fn beat(m: &mut ConsumerMember, now: Instant, answer: HeartbeatOutcome) -> Vec<GroupEvent> {
    let seq = m.heartbeat_due(now).expect("a heartbeat is due");
    let mut events = Vec::new();
    assert!(!m.on_heartbeat(seq, Ok(answer), now, &mut events));
    m.tick(now, &names, 1, &mut events);
    events
}

fn assigned(events: &[GroupEvent]) -> Vec<(Vec<TopicPartition>, Vec<TopicPartition>)> {
    events
        .iter()
        .filter_map(|e| match e {
            GroupEvent::Assigned {
                added, assignment, ..
            } => Some((added.clone(), assignment.clone())),
            _ => None,
        })
        .collect()
}

fn owned_in_request(m: &mut ConsumerMember) -> BTreeMap<Uuid, Vec<i32>> {
    let req = m.heartbeat_request();
    req.topic_partitions
        .unwrap()
        .into_iter()
        .map(|t| (t.topic_id, t.partitions))
        .collect()
}

fn error(code: ErrorCode) -> HeartbeatOutcome {
    HeartbeatOutcome {
        error: code,
        message: Some("from the broker".into()),
        member_id: None,
        member_epoch: -1,
        heartbeat_interval_ms: -1,
        assignment: None,
    }
}

#[test]
fn joins_at_epoch_zero_with_every_field_then_heartbeats_at_the_broker_interval() {
    let now = Instant::now();
    let mut m = subscribed(now);
    let req = m.heartbeat_request();
    assert_eq!(req.member_epoch, 0);
    assert_eq!(req.member_id.len(), 32, "a generated member id");
    assert_eq!(
        req.subscribed_topic_names,
        Some(vec!["a".into(), "b".into()])
    );
    assert_eq!(req.subscribed_topic_regex, None);
    assert_eq!(req.rebalance_timeout_ms, 300_000);
    assert_eq!(req.server_assignor.as_deref(), Some("uniform"));
    assert_eq!(req.topic_partitions, Some(vec![]));

    let mut answer = HeartbeatOutcome::ok(3, target(&[(A, &[0, 1])]));
    answer.heartbeat_interval_ms = 2000;
    let events = beat(&mut m, now, answer);
    assert_eq!(m.phase, Phase::Member);
    assert_eq!(
        assigned(&events),
        [(vec![tp("a", 0), tp("a", 1)], vec![tp("a", 0), tp("a", 1)])]
    );
    assert_eq!(
        m.commit_generation().unwrap(),
        Some((3, m.member_id.clone()))
    );
    // The new assignment is acknowledged at once, then heartbeats follow the interval.
    assert_eq!(owned_in_request(&mut m), BTreeMap::from([(A, vec![0, 1])]));
    let events = beat(&mut m, now, HeartbeatOutcome::ok(3, None));
    assert!(events.is_empty());
    // (the last answer named 5 s)
    assert_eq!(m.heartbeat_due(now + Duration::from_millis(4999)), None);
    assert!(m.heartbeat_due(now + Duration::from_millis(5000)).is_some());
}

#[test]
fn revokes_before_assigning_and_keeps_reporting_what_it_owns_until_the_revoke_is_done() {
    let now = Instant::now();
    let mut m = subscribed(now);
    beat(
        &mut m,
        now,
        HeartbeatOutcome::ok(1, target(&[(A, &[0, 1])])),
    );
    let events = beat(
        &mut m,
        now,
        HeartbeatOutcome::ok(2, target(&[(A, &[1]), (B, &[0])])),
    );
    assert!(matches!(&events[..], [GroupEvent::Revoke(r)] if *r == [tp("a", 0)]));
    // Until the user thread has revoked, a0 is still owned and nothing new is taken.
    assert_eq!(m.assignment().unwrap(), [tp("a", 0), tp("a", 1)]);
    assert_eq!(owned_in_request(&mut m), BTreeMap::from([(A, vec![0, 1])]));
    let mut events = Vec::new();
    m.tick(now, &names, 1, &mut events);
    assert!(events.is_empty());

    m.revoke_done();
    m.tick(now, &names, 1, &mut events);
    assert_eq!(
        assigned(&events),
        [(vec![tp("b", 0)], vec![tp("a", 1), tp("b", 0)])]
    );
    assert_eq!(
        owned_in_request(&mut m),
        BTreeMap::from([(A, vec![1]), (B, vec![0])])
    );
    assert!(m.heartbeat_due(now).is_some(), "acknowledged at once");
}

#[test]
fn a_target_that_moves_during_a_revoke_is_reconciled_after_it() {
    let now = Instant::now();
    let mut m = subscribed(now);
    beat(
        &mut m,
        now,
        HeartbeatOutcome::ok(1, target(&[(A, &[0, 1])])),
    );
    beat(&mut m, now, HeartbeatOutcome::ok(2, target(&[(A, &[1])])));
    // While the revoke of a0 is with the user, the broker takes a1 away too.
    let now = now + Duration::from_secs(5);
    let events = beat(&mut m, now, HeartbeatOutcome::ok(3, target(&[])));
    assert!(events.is_empty());
    m.revoke_done();
    let mut events = Vec::new();
    m.tick(now, &names, 1, &mut events);
    assert!(
        matches!(&events[..], [GroupEvent::Assigned { .. }, GroupEvent::Revoke(r)] if *r == [tp("a", 1)])
    );
    m.revoke_done();
    let mut events = Vec::new();
    m.tick(now, &names, 1, &mut events);
    assert_eq!(assigned(&events), [(vec![], vec![])]);
}

#[test]
fn fencing_loses_the_partitions_and_rejoins_at_epoch_zero_under_the_same_id() {
    for code in [ErrorCode::FENCED_MEMBER_EPOCH, ErrorCode::UNKNOWN_MEMBER_ID] {
        let now = Instant::now();
        let mut m = subscribed(now);
        beat(&mut m, now, HeartbeatOutcome::ok(4, target(&[(A, &[0])])));
        let id = m.member_id.clone();
        m.heartbeat_due(now); // the acknowledgement
        let seq = m.heartbeat_due(now);
        assert_eq!(seq, None, "one heartbeat in flight at a time");
        let mut m2 = subscribed(now);
        beat(&mut m2, now, HeartbeatOutcome::ok(4, target(&[(A, &[0])])));
        let seq = m2.heartbeat_due(now).unwrap();
        let mut events = Vec::new();
        m2.on_heartbeat(seq, Ok(error(code)), now, &mut events);
        assert!(
            matches!(&events[..], [GroupEvent::Lost(l)] if *l == [tp("a", 0)]),
            "{code}"
        );
        assert_eq!(m2.phase, Phase::Joining);
        // No commit may go out for the lost partitions under the old epoch.
        let e = m2.commit_generation().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::UNKNOWN_MEMBER_ID));
        let req = m2.heartbeat_request();
        assert_eq!((req.member_epoch, req.topic_partitions), (0, Some(vec![])));
        let id2 = m2.member_id.clone();
        let events = beat(&mut m2, now, HeartbeatOutcome::ok(6, target(&[(A, &[0])])));
        assert_eq!(m2.member_id, id2);
        assert_eq!(assigned(&events), [(vec![tp("a", 0)], vec![tp("a", 0)])]);
        assert_eq!(m2.commit_generation().unwrap(), Some((6, id2)));
        assert_ne!(id, m2.member_id, "every consumer names itself");
    }
}

#[test]
fn topic_ids_missing_from_the_metadata_are_taken_once_it_has_them() {
    let now = Instant::now();
    let mut m = subscribed(now);
    const C: Uuid = Uuid([3; 16]);
    let events = beat(
        &mut m,
        now,
        HeartbeatOutcome::ok(1, target(&[(A, &[0]), (C, &[0])])),
    );
    assert_eq!(assigned(&events), [(vec![tp("a", 0)], vec![tp("a", 0)])]);
    assert!(std::mem::take(&mut m.wants_metadata));
    // The same metadata: nothing new. A newer version that knows C: its partition comes.
    let mut events = Vec::new();
    m.tick(now, &names, 1, &mut events);
    assert!(events.is_empty());
    let with_c = |id: &Uuid| {
        if *id == C {
            Some("c".to_string())
        } else {
            names(id)
        }
    };
    m.tick(now, &with_c, 2, &mut events);
    assert_eq!(
        assigned(&events),
        [(vec![tp("c", 0)], vec![tp("a", 0), tp("c", 0)])]
    );
}

#[test]
fn leaving_sends_epoch_minus_one_or_minus_two_for_a_static_member() {
    let now = Instant::now();
    for (instance, epoch) in [(None, -1), (Some("host-1"), -2)] {
        let mut m = ConsumerMember::new(settings(instance), now);
        m.set_subscription(Subscription::Topics(BTreeSet::from(["a".into()])), now);
        beat(&mut m, now, HeartbeatOutcome::ok(1, target(&[(A, &[0])])));
        m.unsubscribe("closing");
        assert_eq!(m.phase, Phase::Idle);
        let (e, _) = m.pending_leave.clone().expect("a leave");
        assert_eq!(e, epoch);
        let req = m.leave_request(e);
        assert_eq!(req.member_epoch, epoch);
        assert_eq!(req.instance_id.as_deref(), instance);
        assert_eq!(
            (req.subscribed_topic_names, req.topic_partitions),
            (None, None)
        );
        assert_eq!(m.heartbeat_due(now), None);
        assert_eq!(m.commit_generation().unwrap(), None);
    }
    // A member the broker never heard of has nothing to leave.
    let mut m = ConsumerMember::new(settings(None), now);
    m.set_subscription(Subscription::Topics(BTreeSet::from(["a".into()])), now);
    m.unsubscribe("closing");
    assert!(m.pending_leave.is_none());
}

#[test]
fn not_polling_for_max_poll_interval_leaves_with_minus_one_and_the_next_poll_rejoins() {
    let now = Instant::now();
    let mut m = ConsumerMember::new(settings(Some("host-1")), now);
    m.set_subscription(Subscription::Topics(BTreeSet::from(["a".into()])), now);
    beat(&mut m, now, HeartbeatOutcome::ok(1, target(&[(A, &[0])])));
    let late = now + Duration::from_secs(301);
    let mut events = Vec::new();
    m.tick(late, &names, 1, &mut events);
    assert!(matches!(
        &events[..],
        [
            GroupEvent::Lost(_),
            GroupEvent::Error(Error::Timeout { .. })
        ]
    ));
    assert_eq!(m.pending_leave.as_ref().map(|l| l.0), Some(-1));
    assert!(m.awaits_user_poll());
    assert!(m.commit_generation().is_err());
    m.on_user_poll(late);
    assert_eq!(m.phase, Phase::Joining);
    assert!(m.heartbeat_due(late).is_some());
}

#[test]
fn fatal_errors_are_typed_and_stop_the_member_until_a_new_subscription() {
    for code in [
        ErrorCode::UNRELEASED_INSTANCE_ID,
        ErrorCode::GROUP_MAX_SIZE_REACHED,
        ErrorCode::UNSUPPORTED_ASSIGNOR,
        ErrorCode::INVALID_REGULAR_EXPRESSION,
        ErrorCode::GROUP_AUTHORIZATION_FAILED,
        ErrorCode::FENCED_INSTANCE_ID,
    ] {
        let now = Instant::now();
        let mut m = subscribed(now);
        let seq = m.heartbeat_due(now).unwrap();
        let mut events = Vec::new();
        m.on_heartbeat(seq, Ok(error(code)), now, &mut events);
        match &events[..] {
            [GroupEvent::Error(e)] => {
                assert_eq!(e.code(), Some(code));
                assert!(e.to_string().contains("from the broker"), "{e}");
            }
            other => panic!("{code}: {other:?}"),
        }
        assert_eq!(m.phase, Phase::Failed);
        assert_eq!(m.heartbeat_due(now + Duration::from_secs(60)), None);
        assert_eq!(m.commit_generation().unwrap_err().code(), Some(code));
        m.set_subscription(Subscription::Topics(BTreeSet::from(["b".into()])), now);
        assert!(
            m.heartbeat_due(now).is_some(),
            "{code}: a new subscription starts over"
        );
    }
}

#[test]
fn coordinator_errors_look_it_up_again_and_retry_after_the_backoff() {
    let now = Instant::now();
    for code in [
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
    ] {
        let mut m = subscribed(now);
        let seq = m.heartbeat_due(now).unwrap();
        let mut events = Vec::new();
        assert!(m.on_heartbeat(seq, Ok(error(code)), now, &mut events));
        assert!(events.is_empty());
        assert_eq!(m.heartbeat_due(now), None);
        assert!(m.heartbeat_due(now + Duration::from_millis(200)).is_some());
    }
    let mut m = subscribed(now);
    let seq = m.heartbeat_due(now).unwrap();
    let lost = Error::Disconnected {
        broker: "1".into(),
        reason: "gone".into(),
    };
    assert!(m.on_heartbeat(seq, Err(lost), now, &mut Vec::new()));
}

#[test]
fn answers_to_older_heartbeats_are_ignored() {
    let now = Instant::now();
    let mut m = subscribed(now);
    let old = m.heartbeat_due(now).unwrap();
    m.unsubscribe("x");
    m.set_subscription(Subscription::Topics(BTreeSet::from(["a".into()])), now);
    let _new = m.heartbeat_due(now).unwrap();
    let mut events = Vec::new();
    m.on_heartbeat(
        old,
        Ok(HeartbeatOutcome::ok(9, target(&[(A, &[0])]))),
        now,
        &mut events,
    );
    assert_eq!(m.phase, Phase::Joining);
    assert_eq!(m.epoch, 0);
}

#[test]
fn a_regex_goes_to_the_broker_and_a_later_topic_list_clears_it() {
    let now = Instant::now();
    let mut m = ConsumerMember::new(settings(None), now);
    m.set_subscription(Subscription::Regex("orders-.*".into()), now);
    let req = m.heartbeat_request();
    assert_eq!(req.subscribed_topic_regex.as_deref(), Some("orders-.*"));
    assert_eq!(req.subscribed_topic_names, Some(vec![]));
    m.set_subscription(Subscription::Topics(BTreeSet::from(["a".into()])), now);
    let req = m.heartbeat_request();
    assert_eq!(req.subscribed_topic_regex.as_deref(), Some(""));
    assert_eq!(req.subscribed_topic_names, Some(vec!["a".into()]));
    assert_eq!(super::unanchored("^(?:orders-.*)$"), "orders-.*");
}

#[test]
fn a_stale_member_epoch_on_commit_brings_a_heartbeat_at_once() {
    let now = Instant::now();
    let mut m = subscribed(now);
    beat(&mut m, now, HeartbeatOutcome::ok(1, target(&[])));
    beat(&mut m, now, HeartbeatOutcome::ok(1, None));
    assert_eq!(m.heartbeat_due(now), None);
    m.on_commit_error(ErrorCode::STALE_MEMBER_EPOCH, now);
    assert!(m.heartbeat_due(now).is_some());
}

#[test]
fn partitions_the_target_took_back_during_a_revoke_are_not_added_after_it() {
    let now = Instant::now();
    let mut m = subscribed(now);
    beat(
        &mut m,
        now,
        HeartbeatOutcome::ok(1, target(&[(A, &[0, 1])])),
    );
    // a0 goes, b0 would come once a0 is revoked...
    beat(
        &mut m,
        now,
        HeartbeatOutcome::ok(2, target(&[(A, &[1]), (B, &[0])])),
    );
    // ...but before the revoke is done the broker gives b0 to another member.
    let now = now + Duration::from_secs(5);
    beat(&mut m, now, HeartbeatOutcome::ok(3, target(&[(A, &[1])])));
    m.revoke_done();
    let mut events = Vec::new();
    m.tick(now, &names, 1, &mut events);
    assert_eq!(assigned(&events), [(vec![], vec![tp("a", 1)])]);
    assert_eq!(events.len(), 1, "{events:?}");
}
