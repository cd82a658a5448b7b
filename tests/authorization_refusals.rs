//! Authorization refusals reach the application at once, as typed errors that name the
//! resource, from the producer, the consumer and the admin client; nothing retries them
//! until a timeout.
//!
//! The PLAINTEXT principal of the test broker is a super user, so the refusals an
//! unauthorized principal gets (the same error codes in the same places of the same
//! responses) are written into the real broker's answers by the fault proxy. The same
//! cases against the real authorizer, as the SASL user `alice`, are in
//! `tests/authorization.rs`.

mod common;

use std::time::{Duration, Instant};

use common::fake_broker::Misbehave;
use common::fault_clients::topic_with;
use common::fault_proxy::FaultProxy;
use kafka_sync::admin::{AdminClient, CreateTopicsOptions, NewTopic};
use kafka_sync::protocol::api::{
    ApiKey, FetchResponse, FindCoordinatorResponse, InitProducerIdResponse, JoinGroupResponse,
    ListOffsetsResponse, MetadataResponse, OffsetCommitResponse, OffsetFetchResponse,
    ProduceResponse,
};
use kafka_sync::{
    Consumer, Error, ErrorCode, OffsetReset, Producer, ProducerRecord, TopicPartition,
};

/// Every timeout of these clients: an error that comes after it was waited out, not
/// reported at once.
const TIMEOUT: Duration = Duration::from_secs(20);
/// Well under `TIMEOUT`: the refusal is reported on the answer that carries it.
const AT_ONCE: Duration = Duration::from_secs(6);

const TOPIC_DENIED: i16 = ErrorCode::TOPIC_AUTHORIZATION_FAILED.0;
const GROUP_DENIED: i16 = ErrorCode::GROUP_AUTHORIZATION_FAILED.0;
const CLUSTER_DENIED: i16 = ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0;

fn producer(bootstrap: &str) -> Producer {
    Producer::builder()
        .bootstrap_servers(bootstrap)
        .max_block(TIMEOUT)
        .delivery_timeout(TIMEOUT)
        .request_timeout(Duration::from_secs(5))
        .linger(Duration::ZERO)
        .retry_backoff(Duration::from_millis(50))
        .build()
        .unwrap()
}

fn consumer(bootstrap: &str, group: Option<&str>) -> Consumer {
    let mut b = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .default_api_timeout(TIMEOUT)
        .request_timeout(Duration::from_secs(5))
        .auto_offset_reset(OffsetReset::Earliest)
        .retry_backoff(Duration::from_millis(50))
        .fetch_max_wait(Duration::from_millis(100));
    if let Some(g) = group {
        b = b.group_id(g);
    }
    b.build().unwrap()
}

fn admin(bootstrap: &str) -> AdminClient {
    AdminClient::builder()
        .bootstrap_servers(bootstrap)
        .default_api_timeout(TIMEOUT)
        .request_timeout(Duration::from_secs(5))
        .retry_backoff(Duration::from_millis(50))
        .build()
        .unwrap()
}

/// Runs `f`, asserting it returned within [`AT_ONCE`].
fn at_once<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    assert!(
        took < AT_ONCE,
        "{what}: took {took:?}, waited for a timeout"
    );
    out
}

/// The outcome of sending one record to `topic` (send and delivery together).
fn send_outcome(p: &Producer, topic: &str) -> Result<(), Error> {
    let fut = p.send(ProducerRecord::new(topic).partition(0).value("v"))?;
    fut.wait().map(|_| ())
}

/// The first error `poll` returns (no records may come).
fn poll_error(c: &mut Consumer) -> Error {
    let started = Instant::now();
    loop {
        match c.poll(Duration::from_millis(200)) {
            Ok(batch) => assert!(batch.is_empty(), "records despite the refusal"),
            Err(e) => return e,
        }
        assert!(
            started.elapsed() < TIMEOUT + Duration::from_secs(1),
            "no error from poll"
        );
    }
}

fn assert_topic_denied(err: &Error, topic: &str) {
    assert!(
        matches!(err, Error::TopicAuthorization { topics, .. } if topics.iter().any(|t| t == topic)),
        "not a topic authorization error naming {topic}: {err:?}"
    );
}

fn assert_group_denied(err: &Error, group: &str) {
    assert!(
        matches!(err, Error::GroupAuthorization { group_id, .. } if group_id == group),
        "not a group authorization error naming {group}: {err:?}"
    );
}

/// Metadata as the broker answers a principal without DESCRIBE on `topic`.
fn metadata_denies(topic: &str) -> Misbehave {
    let topic = topic.to_owned();
    Misbehave::edit(move |m: &mut MetadataResponse| {
        for t in &mut m.topics {
            if t.name.as_deref() == Some(topic.as_str()) {
                t.error_code = TOPIC_DENIED;
                t.partitions.clear();
            }
        }
    })
}

// ------------------------------------------------------------------ producer

#[test]
fn a_producer_without_describe_on_a_topic_gets_the_topic_error_at_once() {
    let topic = topic_with(1, 0);
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.script(ApiKey::METADATA, None, metadata_denies(&topic));
    let p = producer(&proxy.bootstrap());
    let err = at_once("send", || send_outcome(&p, &topic)).unwrap_err();
    assert_topic_denied(&err, &topic);
}

#[test]
fn a_producer_without_write_on_a_topic_gets_the_topic_error_at_once() {
    let topic = topic_with(1, 0);
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.script(
        ApiKey::PRODUCE,
        None,
        Misbehave::edit(|m: &mut ProduceResponse| {
            for t in &mut m.responses {
                for p in &mut t.partition_responses {
                    p.error_code = TOPIC_DENIED;
                    p.base_offset = -1;
                }
            }
        }),
    );
    let p = producer(&proxy.bootstrap());
    let err = at_once("send", || send_outcome(&p, &topic)).unwrap_err();
    assert_topic_denied(&err, &topic);
    assert_eq!(
        proxy.requests_seen(ApiKey::PRODUCE),
        1,
        "the refusal was retried"
    );
}

#[test]
fn an_idempotent_producer_without_idempotent_write_gets_the_cluster_error_at_once() {
    let topic = topic_with(1, 0);
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.script(
        ApiKey::INIT_PRODUCER_ID,
        None,
        Misbehave::edit(|m: &mut InitProducerIdResponse| {
            m.error_code = CLUSTER_DENIED;
            m.producer_id = -1;
            m.producer_epoch = -1;
        }),
    );
    let p = producer(&proxy.bootstrap());
    let err = at_once("send", || send_outcome(&p, &topic)).unwrap_err();
    assert!(matches!(err, Error::ClusterAuthorization { .. }), "{err:?}");
    assert_eq!(proxy.requests_seen(ApiKey::INIT_PRODUCER_ID), 1);
}

// ------------------------------------------------------------------ consumer

#[test]
fn a_consumer_without_read_on_its_group_gets_the_group_error_on_join() {
    let topic = topic_with(1, 1);
    let group = common::unique_name("authz-join");
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.script(
        ApiKey::JOIN_GROUP,
        None,
        Misbehave::edit(|m: &mut JoinGroupResponse| m.error_code = GROUP_DENIED),
    );
    let mut c = consumer(&proxy.bootstrap(), Some(&group));
    c.subscribe([&topic]).unwrap();
    let err = at_once("poll", || poll_error(&mut c));
    assert_group_denied(&err, &group);
}

#[test]
fn a_consumer_refused_its_group_coordinator_gets_the_group_error() {
    let topic = topic_with(1, 1);
    let group = common::unique_name("authz-find");
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.script(
        ApiKey::FIND_COORDINATOR,
        None,
        Misbehave::edit(|m: &mut FindCoordinatorResponse| {
            m.error_code = GROUP_DENIED;
            for c in &mut m.coordinators {
                c.error_code = GROUP_DENIED;
                c.node_id = -1;
            }
        }),
    );
    let mut c = consumer(&proxy.bootstrap(), Some(&group));
    c.subscribe([&topic]).unwrap();
    let err = at_once("poll", || poll_error(&mut c));
    assert_group_denied(&err, &group);
}

#[test]
fn commits_and_committed_offsets_without_read_on_the_group_get_the_group_error() {
    let topic = topic_with(1, 1);
    let group = common::unique_name("authz-commit");
    let tp = TopicPartition::new(&topic, 0);
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.script(
        ApiKey::OFFSET_COMMIT,
        None,
        Misbehave::edit(|m: &mut OffsetCommitResponse| {
            for t in &mut m.topics {
                for p in &mut t.partitions {
                    p.error_code = GROUP_DENIED;
                }
            }
        }),
    );
    proxy.script(
        ApiKey::OFFSET_FETCH,
        None,
        Misbehave::edit(|m: &mut OffsetFetchResponse| {
            m.error_code = GROUP_DENIED;
            for g in &mut m.groups {
                g.error_code = GROUP_DENIED;
            }
        }),
    );
    let mut c = consumer(&proxy.bootstrap(), Some(&group));
    c.assign([tp.clone()]).unwrap();
    let err = at_once("committed", || c.committed(&tp)).unwrap_err();
    assert_group_denied(&err, &group);
    let offsets = [(tp.clone(), kafka_sync::OffsetAndMetadata::new(1))].into();
    let err = at_once("commit", || c.commit_offsets(offsets)).unwrap_err();
    assert_group_denied(&err, &group);
}

#[test]
fn a_consumer_without_read_on_a_topic_gets_the_topic_error_from_fetch() {
    let topic = topic_with(1, 1);
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.script(
        ApiKey::FETCH,
        None,
        Misbehave::edit(|m: &mut FetchResponse| {
            for t in &mut m.responses {
                for p in &mut t.partitions {
                    p.error_code = TOPIC_DENIED;
                    p.records = None;
                }
            }
        }),
    );
    let mut c = consumer(&proxy.bootstrap(), None);
    c.assign([TopicPartition::new(&topic, 0)]).unwrap();
    c.seek(&TopicPartition::new(&topic, 0), 0).unwrap();
    let err = at_once("poll", || poll_error(&mut c));
    assert_topic_denied(&err, &topic);
}

#[test]
fn offset_lookups_without_describe_on_a_topic_get_the_topic_error() {
    let topic = topic_with(1, 1);
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.script(
        ApiKey::LIST_OFFSETS,
        None,
        Misbehave::edit(|m: &mut ListOffsetsResponse| {
            for t in &mut m.topics {
                for p in &mut t.partitions {
                    p.error_code = TOPIC_DENIED;
                }
            }
        }),
    );
    let mut c = consumer(&proxy.bootstrap(), None);
    let tp = TopicPartition::new(&topic, 0);
    let err = at_once("end_offsets", || c.end_offsets(std::slice::from_ref(&tp))).unwrap_err();
    assert_topic_denied(&err, &topic);
}

#[test]
fn a_subscriber_without_describe_on_its_topic_gets_the_topic_error() {
    let topic = topic_with(1, 1);
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.script(ApiKey::METADATA, None, metadata_denies(&topic));
    let mut c = consumer(&proxy.bootstrap(), Some(&common::unique_name("authz-meta")));
    c.subscribe([&topic]).unwrap();
    let err = at_once("poll", || poll_error(&mut c));
    assert_topic_denied(&err, &topic);
}

// ------------------------------------------------------------------ admin

#[test]
fn an_admin_without_create_on_the_cluster_gets_the_typed_error_per_topic() {
    let topic = common::unique_name("authz-create");
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.script(
        ApiKey::CREATE_TOPICS,
        None,
        Misbehave::edit(|m: &mut kafka_sync::protocol::api::CreateTopicsResponse| {
            for t in &mut m.topics {
                t.error_code = TOPIC_DENIED;
            }
        }),
    );
    let admin = admin(&proxy.bootstrap());
    let results = at_once("create_topics", || {
        admin.create_topics(
            &[NewTopic::new(&topic, 1, 1)],
            CreateTopicsOptions::default(),
        )
    })
    .unwrap();
    assert_topic_denied(results[&topic].as_ref().unwrap_err(), &topic);
}

#[test]
fn an_admin_without_describe_on_a_group_gets_the_group_error() {
    let group = common::unique_name("authz-admin-group");
    let proxy = FaultProxy::start(&common::bootstrap());
    proxy.script(
        ApiKey::OFFSET_FETCH,
        None,
        Misbehave::edit(|m: &mut OffsetFetchResponse| {
            m.error_code = GROUP_DENIED;
            for g in &mut m.groups {
                g.error_code = GROUP_DENIED;
            }
        }),
    );
    let admin = admin(&proxy.bootstrap());
    let err = at_once("list_consumer_group_offsets", || {
        admin.list_consumer_group_offsets(&group, None)
    })
    .unwrap_err();
    assert_group_denied(&err, &group);
}
