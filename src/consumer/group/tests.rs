//! The group state machine driven by hand: decoded answers in, requests and events out.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::consumer::assignor::{assignor_for, decode_subscription, GroupAssignment};
use crate::error::Error;
use crate::net::metadata::ClusterMetadata;
use crate::protocol::error_code::ErrorCode;
use crate::TopicPartition;

use super::assignment::{self, tests::cluster};
use super::membership::{MemberRequest, Membership, MetaView, Phase};
use super::responses::{JoinOutcome, JoinedMember, SyncOutcome};
use super::{GroupEvent, Settings};

fn settings(strategies: &[&str]) -> Settings {
    let assignors: Vec<_> = strategies
        .iter()
        .map(|s| assignor_for(s).unwrap())
        .collect();
    Settings {
        group_id: "g".into(),
        group_instance_id: None,
        session_timeout: Duration::from_secs(10),
        heartbeat_interval: Duration::from_secs(3),
        rebalance_timeout: Duration::from_secs(300),
        retry_backoff: Duration::from_millis(100),
        retry_backoff_max: Duration::from_secs(1),
        request_timeout: Duration::from_secs(30),
        client_rack: None,
        cooperative: assignment::is_cooperative(&assignors),
        assignors,
    }
}

fn tp(t: &str, p: i32) -> TopicPartition {
    TopicPartition::new(t, p)
}

fn topics(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn assignment_bytes(partitions: &[TopicPartition]) -> Bytes {
    let mut g = GroupAssignment::default();
    g.assignments.insert("m".into(), partitions.to_vec());
    g.encode().unwrap().remove("m").unwrap()
}

/// A member, its settings, a clock, and empty metadata.
struct Harness {
    s: Settings,
    m: Membership,
    now: Instant,
    cluster: ClusterMetadata,
    version: u64,
    events: Vec<GroupEvent>,
}

impl Harness {
    fn new(strategies: &[&str]) -> Self {
        let s = settings(strategies);
        let now = Instant::now();
        let m = Membership::new(&s, now);
        Harness {
            s,
            m,
            now,
            cluster: cluster(&[("t", 4)]),
            version: 1,
            events: Vec::new(),
        }
    }

    fn tick(&mut self) -> bool {
        let meta = MetaView {
            cluster: &self.cluster,
            version: self.version,
        };
        self.m.tick(self.now, &self.s, &meta, &mut self.events)
    }

    fn next(&mut self) -> Option<MemberRequest> {
        let meta = MetaView {
            cluster: &self.cluster,
            version: self.version,
        };
        self.m
            .next_request(self.now, true, &self.s, &meta, &mut self.events)
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    fn join_ok(&mut self, member: &str, leader: &str, generation: i32, members: Vec<JoinedMember>) {
        let seq = self.m.seq;
        let protocol = self.s.assignors[0].name().to_owned();
        let r = JoinOutcome {
            error: ErrorCode::NONE,
            generation_id: generation,
            protocol_type: Some("consumer".into()),
            protocol_name: Some(protocol),
            leader: leader.into(),
            member_id: member.into(),
            members,
            ..Default::default()
        };
        assert!(!self
            .m
            .on_join(seq, Ok(r), self.now, &self.s, &mut self.events));
    }

    fn sync_ok(&mut self, partitions: &[TopicPartition]) {
        let seq = self.m.seq;
        let r = SyncOutcome {
            error: ErrorCode::NONE,
            assignment: assignment_bytes(partitions),
            ..Default::default()
        };
        assert!(!self
            .m
            .on_sync(seq, Ok(r), self.now, &self.s, &mut self.events));
    }

    /// Subscribe to `t` and become a stable follower owning `partitions`.
    fn stable_follower(&mut self, partitions: &[TopicPartition]) {
        self.m.set_subscription(topics(&["t"]));
        assert!(matches!(self.next(), Some(MemberRequest::Join { .. })));
        self.join_ok("m1", "m0", 1, vec![]);
        assert_eq!(
            self.next(),
            Some(MemberRequest::Sync {
                assignments: vec![]
            })
        );
        self.sync_ok(partitions);
        assert_eq!(self.m.phase, Phase::Stable);
        self.events.clear();
    }

    fn heartbeat_answer(&mut self, code: ErrorCode) -> bool {
        let epoch = self.m.epoch;
        self.m
            .on_heartbeat(epoch, Ok(code), self.now, &self.s, &mut self.events)
    }
}

#[test]
fn eager_follower_joins_syncs_and_is_assigned() {
    let mut h = Harness::new(&["range", "roundrobin"]);
    assert_eq!(h.m.phase, Phase::Idle);
    assert_eq!(h.next(), None, "not subscribed: nothing to send");
    h.m.set_subscription(topics(&["t"]));
    let meta = MetaView {
        cluster: &h.cluster,
        version: 1,
    };
    assert_eq!(
        h.m.next_request(h.now, false, &h.s, &meta, &mut h.events),
        None,
        "waits for the coordinator"
    );
    let Some(MemberRequest::Join { protocols, reason }) = h.next() else {
        panic!("expected a JoinGroup")
    };
    assert_eq!(reason, None);
    let names: Vec<&str> = protocols.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["range", "roundrobin"]);
    let sub = decode_subscription(protocols[0].1.clone()).unwrap();
    assert_eq!(sub.topics, vec!["t".to_owned()]);
    assert_eq!(sub.generation_id, -1);
    assert!(h.m.rebalance_in_flight());
    assert_eq!(
        h.next(),
        None,
        "one JoinGroup at a time, no heartbeat while joining"
    );

    h.join_ok("m1", "m0", 5, vec![]);
    assert!(!h.m.is_leader);
    assert_eq!(h.m.generation.id, 5);
    assert_eq!(
        h.next(),
        Some(MemberRequest::Sync {
            assignments: vec![]
        })
    );
    h.sync_ok(&[tp("t", 1), tp("t", 0)]);
    assert!(h.m.is_stable());
    assert_eq!(h.m.owned, vec![tp("t", 0), tp("t", 1)]);
    match h.events.as_slice() {
        [GroupEvent::Assigned {
            added,
            assignment,
            generation: 5,
        }] => {
            assert_eq!(added, &vec![tp("t", 0), tp("t", 1)]);
            assert_eq!(assignment, added);
        }
        other => panic!("unexpected events {other:?}"),
    }
    assert_eq!(h.m.commit_generation().unwrap(), Some((5, "m1".to_owned())));
}

#[test]
fn member_id_required_rejoins_at_once_with_the_given_id() {
    let mut h = Harness::new(&["range"]);
    h.m.set_subscription(topics(&["t"]));
    assert!(h.next().is_some());
    let seq = h.m.seq;
    let r = JoinOutcome {
        error: ErrorCode::MEMBER_ID_REQUIRED,
        member_id: "m-42".into(),
        ..Default::default()
    };
    assert!(!h.m.on_join(seq, Ok(r), h.now, &h.s, &mut h.events));
    assert_eq!(h.m.generation.member_id, "m-42");
    assert!(
        matches!(h.next(), Some(MemberRequest::Join { .. })),
        "no backoff"
    );
    assert!(h.events.is_empty());
}

#[test]
fn join_errors_retry_rediscover_or_fail() {
    let mut h = Harness::new(&["range"]);
    h.m.set_subscription(topics(&["t"]));
    h.next();
    let answer = |h: &mut Harness, error: ErrorCode| {
        let seq = h.m.seq;
        let r = JoinOutcome {
            error,
            ..Default::default()
        };
        h.m.on_join(seq, Ok(r), h.now, &h.s, &mut h.events)
    };
    assert!(
        answer(&mut h, ErrorCode::NOT_COORDINATOR),
        "coordinator must be found again"
    );
    assert_eq!(h.next(), None, "retried after the backoff");
    h.advance(Duration::from_millis(200));
    assert!(h.next().is_some());
    assert!(!answer(&mut h, ErrorCode::REBALANCE_IN_PROGRESS));
    assert!(h.events.is_empty());
    h.advance(Duration::from_secs(1));
    assert!(h.next().is_some());
    assert!(!answer(&mut h, ErrorCode::GROUP_AUTHORIZATION_FAILED));
    assert!(
        matches!(&h.events[..], [GroupEvent::Error(e)] if e.code() == Some(ErrorCode::GROUP_AUTHORIZATION_FAILED))
    );
    assert_eq!(
        h.m.phase,
        Phase::NeedJoin,
        "authorization may be granted later"
    );
    h.events.clear();
    h.advance(Duration::from_secs(2));
    assert!(h.next().is_some());
    assert!(!answer(&mut h, ErrorCode::INVALID_SESSION_TIMEOUT));
    assert_eq!(h.m.phase, Phase::Failed);
    assert!(
        matches!(&h.events[..], [GroupEvent::Error(e)] if e.to_string().contains("session_timeout"))
    );
    h.advance(Duration::from_secs(60));
    assert_eq!(h.next(), None, "a fatal error stops the member");
    assert!(h.m.commit_generation().is_err());
    h.m.set_subscription(topics(&["t"]));
    assert!(h.next().is_some(), "a new subscription starts over");
}

#[test]
fn stale_answers_are_ignored() {
    let mut h = Harness::new(&["range"]);
    h.m.set_subscription(topics(&["t"]));
    h.next();
    let old_seq = h.m.seq;
    let r = JoinOutcome {
        error: ErrorCode::UNKNOWN_MEMBER_ID,
        ..Default::default()
    };
    h.m.on_join(old_seq, Ok(r), h.now, &h.s, &mut h.events);
    h.next();
    let late = JoinOutcome {
        error: ErrorCode::NONE,
        generation_id: 9,
        member_id: "x".into(),
        leader: "x".into(),
        ..Default::default()
    };
    h.m.on_join(old_seq, Ok(late), h.now, &h.s, &mut h.events);
    assert_eq!(h.m.phase, Phase::Joining);
    assert_eq!(h.m.generation.id, -1);
}

#[test]
fn leader_waits_for_metadata_then_assigns_every_member() {
    let mut h = Harness::new(&["range"]);
    h.m.set_subscription(topics(&["t", "u"]));
    h.next();
    let members: Vec<JoinedMember> = ["m1", "m2"]
        .iter()
        .map(|id| JoinedMember {
            member_id: (*id).into(),
            group_instance_id: None,
            metadata: assignment::subscription_metadata(
                h.s.assignors[0].as_ref(),
                &topics(&["t", "u"]),
                &[],
                -1,
                None,
            )
            .unwrap(),
        })
        .collect();
    h.join_ok("m1", "m1", 2, members);
    assert!(h.m.is_leader);
    assert_eq!(h.m.phase, Phase::Assign);
    assert_eq!(h.next(), None, "topic u is not in the metadata yet");
    assert_eq!(h.m.wanted_topics, vec!["u".to_owned()]);
    h.advance(Duration::from_secs(1));
    assert_eq!(h.next(), None, "still waiting for a refresh");
    h.cluster = cluster(&[("t", 2), ("u", 2)]);
    h.version += 1;
    let Some(MemberRequest::Sync { assignments }) = h.next() else {
        panic!("expected the leader's SyncGroup")
    };
    let ids: Vec<&str> = assignments.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(ids, ["m1", "m2"]);
    let m2 = assignment::decode_assignment(&assignments[1].1).unwrap();
    assert_eq!(m2, vec![tp("t", 1), tp("u", 1)]);
    h.sync_ok(&[tp("t", 0), tp("u", 0)]);
    h.events.clear();
    // The leader rejoins when a subscribed topic gains partitions.
    h.tick();
    assert_eq!(h.m.phase, Phase::Stable);
    h.cluster = cluster(&[("t", 3), ("u", 2)]);
    h.version += 1;
    h.tick();
    assert_eq!(
        h.m.phase,
        Phase::AwaitRevoke,
        "eager: revoke before rejoining"
    );
    assert!(matches!(&h.events[..], [GroupEvent::Revoke(r)] if r.len() == 2));
}

#[test]
fn eager_rebalance_revokes_everything_and_waits_for_the_user() {
    let mut h = Harness::new(&["range"]);
    h.stable_follower(&[tp("t", 0), tp("t", 1)]);
    h.advance(Duration::from_secs(3));
    assert_eq!(h.next(), Some(MemberRequest::Heartbeat));
    assert!(!h.heartbeat_answer(ErrorCode::REBALANCE_IN_PROGRESS));
    h.tick();
    assert_eq!(h.m.phase, Phase::AwaitRevoke);
    assert!(matches!(&h.events[..], [GroupEvent::Revoke(r)] if r == &vec![tp("t", 0), tp("t", 1)]));
    assert!(h.m.owned.is_empty());
    assert_eq!(
        h.m.commit_generation().unwrap(),
        Some((1, "m1".into())),
        "commits in the revoke callback still count"
    );
    h.advance(Duration::from_secs(3));
    assert_eq!(
        h.next(),
        Some(MemberRequest::Heartbeat),
        "heartbeats continue while the user revokes"
    );
    h.heartbeat_answer(ErrorCode::REBALANCE_IN_PROGRESS);
    h.m.revoke_done();
    let Some(MemberRequest::Join { protocols, reason }) = h.next() else {
        panic!("expected a JoinGroup after the revoke")
    };
    assert_eq!(reason.as_deref(), Some("the group is rebalancing"));
    let sub = decode_subscription(protocols[0].1.clone()).unwrap();
    assert!(
        sub.owned_partitions.is_empty(),
        "eager members own nothing when rejoining"
    );
    assert_eq!(sub.generation_id, 1);
    assert!(h.m.commit_generation().unwrap_err().code() == Some(ErrorCode::REBALANCE_IN_PROGRESS));
}

#[test]
fn cooperative_rebalance_keeps_partitions_and_revokes_only_what_moves() {
    let mut h = Harness::new(&["cooperative-sticky"]);
    assert!(h.s.cooperative);
    h.stable_follower(&[tp("t", 0), tp("t", 1), tp("t", 2)]);
    h.heartbeat_answer(ErrorCode::REBALANCE_IN_PROGRESS);
    h.tick();
    assert!(h.events.is_empty(), "nothing revoked before the join");
    let Some(MemberRequest::Join { protocols, .. }) = h.next() else {
        panic!("expected a JoinGroup")
    };
    let sub = decode_subscription(protocols[0].1.clone()).unwrap();
    assert_eq!(
        sub.owned_partitions,
        vec![tp("t", 0), tp("t", 1), tp("t", 2)]
    );
    assert_eq!(h.m.owned.len(), 3, "still owned during the rebalance");
    h.join_ok("m1", "m0", 2, vec![]);
    h.next();
    h.sync_ok(&[tp("t", 0), tp("t", 1)]);
    match h.events.as_slice() {
        [GroupEvent::Revoke(r), GroupEvent::Assigned {
            added, assignment, ..
        }] => {
            assert_eq!(r, &vec![tp("t", 2)]);
            assert!(added.is_empty());
            assert_eq!(assignment, &vec![tp("t", 0), tp("t", 1)]);
        }
        other => panic!("unexpected events {other:?}"),
    }
    h.events.clear();
    h.tick();
    assert_eq!(h.m.phase, Phase::Stable, "the rejoin waits for the revoke");
    h.m.revoke_done();
    h.tick();
    assert!(
        matches!(h.next(), Some(MemberRequest::Join { .. })),
        "KIP-429: rejoin after revoking"
    );
    h.join_ok("m1", "m0", 3, vec![]);
    h.next();
    h.sync_ok(&[tp("t", 0), tp("t", 1), tp("t", 3)]);
    assert!(
        matches!(&h.events[..], [GroupEvent::Assigned { added, .. }] if added == &vec![tp("t", 3)])
    );
}

#[test]
fn cooperative_unsubscribed_topics_are_revoked_before_rejoining() {
    let mut h = Harness::new(&["cooperative-sticky"]);
    h.m.set_subscription(topics(&["t", "u"]));
    h.next();
    h.join_ok("m1", "m0", 1, vec![]);
    h.next();
    h.sync_ok(&[tp("t", 0), tp("u", 0)]);
    h.events.clear();
    h.m.set_subscription(topics(&["t"]));
    h.tick();
    assert!(matches!(&h.events[..], [GroupEvent::Revoke(r)] if r == &vec![tp("u", 0)]));
    assert_eq!(h.m.owned, vec![tp("t", 0)]);
    assert_eq!(h.next(), None);
    h.m.revoke_done();
    assert!(matches!(h.next(), Some(MemberRequest::Join { .. })));
}

#[test]
fn heartbeat_errors_lose_the_membership() {
    let mut h = Harness::new(&["range"]);
    h.stable_follower(&[tp("t", 0)]);
    h.advance(Duration::from_secs(3));
    h.next();
    h.heartbeat_answer(ErrorCode::UNKNOWN_MEMBER_ID);
    assert!(matches!(&h.events[..], [GroupEvent::Lost(l)] if l == &vec![tp("t", 0)]));
    assert_eq!(
        h.m.generation.member_id, "",
        "UNKNOWN_MEMBER_ID resets the member id"
    );
    assert!(matches!(h.next(), Some(MemberRequest::Join { .. })));

    let mut h = Harness::new(&["range"]);
    h.stable_follower(&[tp("t", 0)]);
    h.heartbeat_answer(ErrorCode::ILLEGAL_GENERATION);
    assert_eq!(
        h.m.generation.member_id, "m1",
        "ILLEGAL_GENERATION keeps it"
    );
    assert_eq!(h.m.generation.id, -1);
    let code = h.m.commit_generation().unwrap_err().code();
    assert_eq!(
        code,
        Some(ErrorCode::ILLEGAL_GENERATION),
        "out of the group: commits fail"
    );

    let mut h = Harness::new(&["range"]);
    h.stable_follower(&[tp("t", 0)]);
    assert!(h.heartbeat_answer(ErrorCode::NOT_COORDINATOR));
    assert!(h.events.is_empty());
    assert!(h.m.is_stable());
    h.heartbeat_answer(ErrorCode::FENCED_INSTANCE_ID);
    assert_eq!(h.m.phase, Phase::Failed);
    assert!(
        matches!(&h.events[..], [GroupEvent::Lost(_), GroupEvent::Error(e)] if e.code() == Some(ErrorCode::FENCED_INSTANCE_ID))
    );
}

#[test]
fn answers_for_an_older_generation_are_ignored() {
    let mut h = Harness::new(&["range"]);
    h.stable_follower(&[tp("t", 0)]);
    let epoch = h.m.epoch;
    h.heartbeat_answer(ErrorCode::REBALANCE_IN_PROGRESS);
    h.tick();
    h.m.revoke_done();
    h.next();
    h.join_ok("m1", "m0", 2, vec![]);
    h.m.on_heartbeat(
        epoch,
        Ok(ErrorCode::ILLEGAL_GENERATION),
        h.now,
        &h.s,
        &mut h.events,
    );
    assert_eq!(h.m.generation.id, 2);
    assert_eq!(h.m.phase, Phase::SyncPending);
}

#[test]
fn sync_errors_rejoin() {
    let mut h = Harness::new(&["range"]);
    h.m.set_subscription(topics(&["t"]));
    h.next();
    h.join_ok("m1", "m0", 1, vec![]);
    h.next();
    let seq = h.m.seq;
    let r = SyncOutcome {
        error: ErrorCode::REBALANCE_IN_PROGRESS,
        ..Default::default()
    };
    h.m.on_sync(seq, Ok(r), h.now, &h.s, &mut h.events);
    assert_eq!(
        h.m.generation.id, 1,
        "REBALANCE_IN_PROGRESS keeps the generation"
    );
    assert!(matches!(h.next(), Some(MemberRequest::Join { .. })));
    h.join_ok("m1", "m0", 2, vec![]);
    h.next();
    let seq = h.m.seq;
    let r = SyncOutcome {
        error: ErrorCode::UNKNOWN_MEMBER_ID,
        ..Default::default()
    };
    h.m.on_sync(seq, Ok(r), h.now, &h.s, &mut h.events);
    assert_eq!(h.m.generation, super::membership::Generation::none());
    assert!(matches!(h.next(), Some(MemberRequest::Join { .. })));
    assert!(h.events.is_empty(), "nothing was owned, nothing lost");
}

#[test]
fn session_expiry_loses_the_partitions() {
    let mut h = Harness::new(&["range"]);
    h.stable_follower(&[tp("t", 0)]);
    h.advance(Duration::from_secs(3));
    h.next();
    h.m.on_heartbeat(
        h.m.epoch,
        Err(Error::timeout("a response", Duration::from_secs(30))),
        h.now,
        &h.s,
        &mut h.events,
    );
    h.advance(Duration::from_secs(6));
    assert!(!h.tick());
    h.m.on_user_poll(h.now);
    h.advance(Duration::from_secs(2));
    assert!(
        h.tick(),
        "no heartbeat for a session timeout: find the coordinator again"
    );
    assert!(matches!(&h.events[..], [GroupEvent::Lost(l)] if l == &vec![tp("t", 0)]));
    assert_eq!(h.m.phase, Phase::NeedJoin);
    assert!(
        !h.m.generation.member_id.is_empty(),
        "the rejoin keeps the member id, so it does not wait for its old self"
    );
}

#[test]
fn poll_timeout_leaves_the_group_until_the_next_poll() {
    let mut h = Harness::new(&["range"]);
    h.stable_follower(&[tp("t", 0)]);
    for _ in 0..101 {
        h.advance(Duration::from_secs(3));
        if let Some(MemberRequest::Heartbeat) = h.next() {
            h.heartbeat_answer(ErrorCode::NONE);
        }
        h.tick();
    }
    assert_eq!(h.m.phase, Phase::PollTimedOut);
    assert_eq!(
        h.m.pending_leave.as_ref().map(|(m, _)| m.as_str()),
        Some("m1")
    );
    match h.events.as_slice() {
        [GroupEvent::Lost(l), GroupEvent::Error(e)] => {
            assert_eq!(l, &vec![tp("t", 0)]);
            assert!(e.to_string().contains("max_poll_interval"));
        }
        other => panic!("unexpected events {other:?}"),
    }
    assert_eq!(h.next(), None);
    assert!(h.m.commit_generation().is_err());
    h.m.on_user_poll(h.now);
    assert!(matches!(h.next(), Some(MemberRequest::Join { .. })));
}

#[test]
fn static_members_do_not_leave() {
    let mut h = Harness::new(&["range"]);
    h.s.group_instance_id = Some("i-1".into());
    h.stable_follower(&[tp("t", 0)]);
    assert!(!h.m.unsubscribe(&h.s, "test"));
    assert_eq!(h.m.pending_leave, None);
    assert_eq!(h.m.phase, Phase::Idle);

    let mut h = Harness::new(&["range"]);
    h.stable_follower(&[tp("t", 0)]);
    assert!(!h.m.unsubscribe(&h.s, "test"));
    assert_eq!(
        h.m.pending_leave.as_ref().map(|(m, _)| m.as_str()),
        Some("m1")
    );
    assert!(h.m.owned.is_empty());
    assert!(
        h.events.is_empty(),
        "the user thread revoked before unsubscribing"
    );
    assert_eq!(
        h.m.commit_generation().unwrap(),
        None,
        "commits go out without a generation"
    );
}

#[test]
fn an_assignment_for_an_old_subscription_triggers_a_rejoin() {
    let mut h = Harness::new(&["range"]);
    h.m.set_subscription(topics(&["t", "u"]));
    h.next();
    h.m.set_subscription(topics(&["t"]));
    h.join_ok("m1", "m0", 1, vec![]);
    h.next();
    h.sync_ok(&[tp("u", 0)]);
    assert!(h.events.is_empty());
    h.tick();
    assert!(matches!(h.next(), Some(MemberRequest::Join { .. })));
}
