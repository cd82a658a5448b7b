//! Authorization against the real broker's StandardAuthorizer, as the SASL user `alice`
//! (no ACLs of its own; the tests grant what they need through an admin client on the
//! PLAINTEXT listener, whose principal is a super user).
//!
//! The first tests speak to the SASL_PLAINTEXT listener over a raw authenticated socket:
//! they show where the broker puts each refusal, which `tests/authorization_refusals.rs`
//! plays to the clients through the fault proxy. The tests at the end run the producer,
//! the transactional producer, the consumer and the admin client as `alice` over SASL
//! SCRAM-SHA-512, configured exactly as a user would: each refusal is the typed error
//! naming the resource, within the call's timeout, and the call succeeds once granted.

mod common;
mod secured;

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_sync::admin::{
    AclBinding, AclOperation, AclPermissionType, AdminClient, CreateTopicsOptions, NewTopic,
    ResourcePattern,
};
use kafka_sync::protocol::api::find_coordinator::FindCoordinatorRequest;
use kafka_sync::protocol::api::join_group::{JoinGroupRequest, JoinGroupRequestProtocol};
use kafka_sync::protocol::api::metadata::{MetadataRequest, MetadataRequestTopic};
use kafka_sync::protocol::api::produce::{PartitionProduceData, ProduceRequest, TopicProduceData};
use kafka_sync::protocol::compression::Compression;
use kafka_sync::protocol::records::RecordBatchBuilder;
use kafka_sync::{
    Consumer, Error, ErrorCode, OffsetReset, Producer, ProducerBuilder, ProducerRecord,
};
use secured::{scram_connection, RawConnection};

/// How long an ACL change may take to reach the broker's authorizer.
const PROPAGATION: Duration = Duration::from_secs(15);
const ALICE: &str = "User:alice";

fn admin() -> AdminClient {
    AdminClient::builder()
        .bootstrap_servers(common::bootstrap())
        .build()
        .unwrap()
}

fn create_topic(admin: &AdminClient, name: &str) {
    let created = admin
        .create_topics(&[NewTopic::new(name, 1, 1)], CreateTopicsOptions::default())
        .unwrap();
    created[name].clone().unwrap();
}

/// Grants `alice` `operation` on `pattern`; the returned binding removes it again.
fn grant(admin: &AdminClient, pattern: ResourcePattern, operation: AclOperation) -> AclBinding {
    let acl = AclBinding::new(pattern, ALICE, operation, AclPermissionType::Allow);
    let created = admin.create_acls(std::slice::from_ref(&acl)).unwrap();
    created[0].1.clone().unwrap();
    acl
}

fn revoke(admin: &AdminClient, acls: &[AclBinding]) {
    let filters: Vec<_> = acls.iter().map(AclBinding::to_filter).collect();
    for (_, r) in admin.delete_acls(&filters).unwrap() {
        r.unwrap();
    }
}

fn alice() -> RawConnection {
    scram_connection("alice", "alice-secret")
}

/// The error code of a one-record Produce (acks=1) to partition 0 of `topic`.
fn raw_produce(conn: &mut RawConnection, topic: &str) -> ErrorCode {
    let mut batch = RecordBatchBuilder::new(256);
    batch.append(0, None, Some(b"from alice"), &[]);
    let records = batch
        .finish(Compression::None, None, -1, -1, -1, false)
        .unwrap();
    let req = ProduceRequest {
        acks: 1,
        timeout_ms: 10_000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(records),
            }],
        }],
        ..Default::default()
    };
    let resp = conn.call(9, &req);
    ErrorCode(resp.responses[0].partition_responses[0].error_code)
}

/// The error code of a first JoinGroup of `group`.
fn raw_join(conn: &mut RawConnection, group: &str) -> ErrorCode {
    // Asked first, as a client does: on a broker where no group was used yet this creates
    // `__consumer_offsets`, before which JoinGroup answers NOT_COORDINATOR.
    let find = FindCoordinatorRequest {
        key: group.into(),
        ..Default::default()
    };
    let found = ErrorCode(conn.call(3, &find).error_code);
    if !found.is_ok() {
        return found;
    }
    let req = JoinGroupRequest {
        group_id: group.into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        member_id: String::new(),
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: Bytes::new(),
        }],
        ..Default::default()
    };
    ErrorCode(conn.call(6, &req).error_code)
}

#[test]
fn the_broker_refuses_alice_metadata_of_a_topic_without_describe() {
    let admin = admin();
    let topic = common::unique_name("authz-raw-meta");
    create_topic(&admin, &topic);
    let req = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(topic.clone()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let resp = alice().call(12, &req);
    let t = &resp.topics[0];
    assert_eq!(
        ErrorCode(t.error_code),
        ErrorCode::TOPIC_AUTHORIZATION_FAILED,
        "{t:?}"
    );
    assert!(t.partitions.is_empty());
}

#[test]
fn alice_cannot_produce_without_write_and_can_once_granted() {
    let admin = admin();
    let topic = common::unique_name("authz-raw-produce");
    create_topic(&admin, &topic);
    assert_eq!(
        raw_produce(&mut alice(), &topic),
        ErrorCode::TOPIC_AUTHORIZATION_FAILED
    );
    let acl = grant(&admin, ResourcePattern::topic(&topic), AclOperation::Write);
    common::wait_for("alice's WRITE to take effect", PROPAGATION, || {
        (raw_produce(&mut alice(), &topic) == ErrorCode::NONE).then_some(())
    });
    revoke(&admin, &[acl]);
}

#[test]
fn alice_cannot_join_a_group_without_read_and_can_once_granted() {
    let admin = admin();
    let group = common::unique_name("authz-raw-group");
    assert_eq!(
        raw_join(&mut alice(), &group),
        ErrorCode::GROUP_AUTHORIZATION_FAILED
    );
    let acl = grant(&admin, ResourcePattern::group(&group), AclOperation::Read);
    // Allowed, the first join is asked to come back with its member id (KIP-394).
    common::wait_for("alice's READ to take effect", PROPAGATION, || {
        (raw_join(&mut alice(), &group) == ErrorCode::MEMBER_ID_REQUIRED).then_some(())
    });
    revoke(&admin, &[acl]);
}

// ------------------------------------------------------------------ the clients as alice

const TIMEOUT: Duration = Duration::from_secs(10);
const GRACE: Duration = Duration::from_secs(1);

fn sasl_bootstrap() -> String {
    secured::sasl_plaintext_bootstrap()
}

fn alice_producer_builder() -> ProducerBuilder {
    Producer::builder()
        .bootstrap_servers(sasl_bootstrap())
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", "SCRAM-SHA-512")
        .set("sasl.username", "alice")
        .set("sasl.password", "alice-secret")
        .max_block(TIMEOUT)
        .delivery_timeout(TIMEOUT)
        .request_timeout(Duration::from_secs(5))
        .linger(Duration::ZERO)
}

fn alice_producer() -> Producer {
    alice_producer_builder().build().unwrap()
}

fn alice_consumer(group: &str) -> Consumer {
    Consumer::builder()
        .bootstrap_servers(sasl_bootstrap())
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", "SCRAM-SHA-512")
        .set("sasl.username", "alice")
        .set("sasl.password", "alice-secret")
        .group_id(group)
        .auto_offset_reset(OffsetReset::Earliest)
        .default_api_timeout(TIMEOUT)
        .request_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[test]
fn a_producer_as_alice_without_write_gets_the_topic_error_within_its_timeout() {
    let admin = admin();
    let (allowed, denied) = (
        common::unique_name("authz-allowed"),
        common::unique_name("authz-denied"),
    );
    create_topic(&admin, &allowed);
    create_topic(&admin, &denied);
    // WRITE on one topic lets alice's idempotent producer get a producer id (KIP-679);
    // DESCRIBE without WRITE on the other lets it see the topic but not write to it.
    let acls = vec![
        grant(
            &admin,
            ResourcePattern::topic(&allowed),
            AclOperation::Write,
        ),
        grant(
            &admin,
            ResourcePattern::topic(&denied),
            AclOperation::Describe,
        ),
    ];
    let p = alice_producer();
    let started = Instant::now();
    let outcome = p
        .send(ProducerRecord::new(&denied).value("v"))
        .and_then(|f| f.wait());
    assert!(started.elapsed() <= TIMEOUT + GRACE);
    match outcome {
        Err(Error::TopicAuthorization { topics, .. }) => assert_eq!(topics, vec![denied.clone()]),
        other => panic!("not the topic authorization error: {other:?}"),
    }
    // The allowed topic works on the same producer.
    p.send(ProducerRecord::new(&allowed).value("v"))
        .unwrap()
        .wait()
        .unwrap();
    // Without even DESCRIBE, send() itself reports it, at once.
    let hidden = common::unique_name("authz-hidden");
    create_topic(&admin, &hidden);
    let err = p
        .send(ProducerRecord::new(&hidden).value("v"))
        .and_then(|f| f.wait());
    assert!(
        matches!(err, Err(Error::TopicAuthorization { .. })),
        "{err:?}"
    );
    revoke(&admin, &acls);
}

#[test]
fn a_transactional_producer_as_alice_without_write_on_its_id_gets_the_id_error_within_its_timeout()
{
    let admin = admin();
    let topic = common::unique_name("authz-txn");
    let txn_id = common::unique_name("authz-txn-id");
    create_topic(&admin, &topic);
    let producer = || {
        alice_producer_builder()
            .transactional_id(&txn_id)
            .build()
            .unwrap()
    };
    let refused = producer();
    let started = Instant::now();
    let err = refused.init_transactions(TIMEOUT).unwrap_err();
    assert!(started.elapsed() <= TIMEOUT + GRACE);
    assert!(
        matches!(&err, Error::TransactionalIdAuthorization { transactional_id, .. } if *transactional_id == txn_id),
        "{err:?}"
    );
    assert!(err.is_fatal());
    // The refusal is final for this producer: the next call says the same at once.
    let again = refused.init_transactions(TIMEOUT).unwrap_err();
    assert!(
        matches!(again, Error::TransactionalIdAuthorization { .. }),
        "{again:?}"
    );
    refused.close(Duration::ZERO);

    // WRITE on the transactional id (implying DESCRIBE, for FindCoordinator) and on the
    // topic is all a transactional producer needs; no IdempotentWrite on the cluster.
    let acls = vec![
        grant(
            &admin,
            ResourcePattern::transactional_id(&txn_id),
            AclOperation::Write,
        ),
        grant(&admin, ResourcePattern::topic(&topic), AclOperation::Write),
    ];
    let p = common::wait_for("alice's WRITE on her transactional id", PROPAGATION, || {
        let p = producer();
        match p.init_transactions(TIMEOUT) {
            Ok(()) => Some(p),
            Err(Error::TransactionalIdAuthorization { .. }) => None,
            Err(e) => panic!("init_transactions once granted: {e:?}"),
        }
    });
    p.begin_transaction().unwrap();
    let delivery = p.send(ProducerRecord::new(&topic).value("v")).unwrap();
    p.commit_transaction(TIMEOUT).unwrap();
    assert_eq!(delivery.wait().unwrap().offset, 0);
    revoke(&admin, &acls);
}

#[test]
fn a_consumer_as_alice_without_read_on_its_group_gets_the_group_error_within_its_timeout() {
    let admin = admin();
    let topic = common::unique_name("authz-consume");
    let group = common::unique_name("authz-no-read");
    create_topic(&admin, &topic);
    let acls = vec![
        grant(&admin, ResourcePattern::topic(&topic), AclOperation::Read),
        grant(
            &admin,
            ResourcePattern::topic(&topic),
            AclOperation::Describe,
        ),
    ];
    let mut c = alice_consumer(&group);
    c.subscribe([&topic]).unwrap();
    let started = Instant::now();
    let err = loop {
        match c.poll(Duration::from_millis(500)) {
            Ok(batch) => assert!(batch.is_empty()),
            Err(e) => break e,
        }
        assert!(started.elapsed() <= TIMEOUT + GRACE, "no error from poll");
    };
    assert!(
        matches!(&err, Error::GroupAuthorization { group_id, .. } if *group_id == group),
        "{err:?}"
    );
    let tp = kafka_sync::TopicPartition::new(&topic, 0);
    let err = c.committed(&tp).unwrap_err();
    assert!(matches!(err, Error::GroupAuthorization { .. }), "{err:?}");
    revoke(&admin, &acls);
}

#[test]
fn an_admin_as_alice_without_alter_on_the_cluster_gets_the_cluster_error() {
    let admin = AdminClient::builder()
        .bootstrap_servers(sasl_bootstrap())
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", "SCRAM-SHA-512")
        .set("sasl.username", "alice")
        .set("sasl.password", "alice-secret")
        .default_api_timeout(TIMEOUT)
        .build()
        .unwrap();
    let acl = AclBinding::new(
        ResourcePattern::topic(common::unique_name("authz-acl")),
        ALICE,
        AclOperation::Read,
        AclPermissionType::Allow,
    );
    let results = admin.create_acls(&[acl]).unwrap();
    let err = results[0].1.as_ref().unwrap_err();
    assert!(matches!(err, Error::ClusterAuthorization { .. }), "{err:?}");
    let topic = common::unique_name("authz-create");
    let created = admin
        .create_topics(
            &[NewTopic::new(&topic, 1, 1)],
            CreateTopicsOptions::default(),
        )
        .unwrap();
    assert!(
        matches!(&created[&topic], Err(Error::TopicAuthorization { .. })),
        "{created:?}"
    );
}
