//! AdminClient against the real broker (`tests/run` starts it): every call round-trips,
//! per-item errors come back per item, and whole-call failures are errors.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafka_sync::admin::{
    AdminClient, AlterConfigOp, ConfigResource, ConfigSource, CreateTopicsOptions,
    ListTopicsOptions, NewPartitions, NewTopic, TopicDescription,
};
use kafka_sync::{Error, ErrorCode, OffsetAndMetadata, TopicPartition};

fn admin_for(bootstrap: &str) -> AdminClient {
    AdminClient::builder()
        .bootstrap_servers(bootstrap)
        .client_id("kafka-sync-admin-test")
        .default_api_timeout(Duration::from_secs(30))
        .build()
        .expect("admin client")
}

fn admin() -> AdminClient {
    admin_for(&common::bootstrap())
}

fn code<T: std::fmt::Debug>(r: &kafka_sync::Result<T>) -> Option<ErrorCode> {
    match r {
        Err(e) => e.code(),
        Ok(v) => panic!("expected a broker error, got Ok({v:?})"),
    }
}

fn create(admin: &AdminClient, topics: &[NewTopic]) {
    for (name, r) in admin
        .create_topics(topics, CreateTopicsOptions::default())
        .unwrap()
    {
        r.unwrap_or_else(|e| panic!("creating {name}: {e}"));
    }
}

/// Describes `topic` once it has `partitions` partitions (any number if 0), each with a
/// leader: metadata reaches every broker shortly after the controller commits a change.
fn described(admin: &AdminClient, topic: &str, partitions: usize) -> TopicDescription {
    common::retry(
        "topic with leaders",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            let d = admin
                .describe_topics(&[topic])
                .map_err(|e| e.to_string())?
                .remove(0);
            let count_ok =
                d.partitions.len() == partitions || (partitions == 0 && !d.partitions.is_empty());
            if count_ok && d.partitions.iter().all(|p| p.leader.is_some()) {
                Ok(d)
            } else {
                Err(format!("{d:?}"))
            }
        },
    )
}

#[test]
fn creates_lists_describes_and_deletes_topics() {
    let admin = admin();
    let [a, b, c, dry] =
        ["a", "b", "c", "dry"].map(|p| common::unique_name(&format!("admin-topics-{p}")));
    create(
        &admin,
        &[NewTopic::new(&a, 3, 1).config("cleanup.policy", "compact")],
    );

    // One topic that already exists among several: only its own entry fails.
    let results = admin
        .create_topics(
            &[
                NewTopic::new(&a, 3, 1),
                NewTopic::new(&b, 1, 1),
                NewTopic::with_defaults(&c),
            ],
            CreateTopicsOptions::default(),
        )
        .unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(code(&results[&a]), Some(ErrorCode::TOPIC_ALREADY_EXISTS));
    assert!(results[&b].is_ok() && results[&c].is_ok(), "{results:?}");

    // validate_only checks and creates nothing.
    let options = CreateTopicsOptions {
        validate_only: true,
        timeout: Some(Duration::from_secs(10)),
    };
    let results = admin
        .create_topics(&[NewTopic::new(&dry, 2, 1)], options)
        .unwrap();
    assert!(results[&dry].is_ok(), "{results:?}");
    let bad = admin
        .create_topics(
            &[NewTopic::new(&dry, 1, 100)],
            CreateTopicsOptions {
                validate_only: true,
                timeout: None,
            },
        )
        .unwrap();
    assert_eq!(
        code(&bad[&dry]),
        Some(ErrorCode::INVALID_REPLICATION_FACTOR)
    );

    // Brokers learn of new topics from the controller a moment after it answers.
    for t in [&a, &b, &c] {
        described(&admin, t, if t == &a { 3 } else { 0 });
    }
    let topics = admin.list_topics().unwrap();
    assert!(
        topics.contains(&a) && topics.contains(&b) && topics.contains(&c),
        "{topics:?}"
    );
    assert!(!topics.contains(&dry), "validate_only created {dry}");
    assert!(
        topics.iter().all(|t| !t.starts_with("__")),
        "internal topics listed: {topics:?}"
    );
    let all = admin
        .list_topics_with(ListTopicsOptions {
            list_internal: true,
        })
        .unwrap();
    assert!(all.is_superset(&topics));

    let d = described(&admin, &a, 3);
    assert_eq!(d.name, a);
    assert!(!d.is_internal && !d.topic_id.is_zero());
    for (i, p) in d.partitions.iter().enumerate() {
        assert_eq!(p.partition, i as i32);
        assert_eq!(p.replicas.len(), 1);
        assert_eq!(p.leader, Some(p.replicas[0]));
        assert_eq!(p.isr, p.replicas);
    }
    let missing = common::unique_name("admin-missing");
    let err = admin.describe_topics(&[&a, &missing]).unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{err}"
    );

    let results = admin
        .delete_topics(&[&a, &b, &c, &missing], Some(Duration::from_secs(20)))
        .unwrap();
    assert_eq!(results.len(), 4);
    for t in [&a, &b, &c] {
        assert!(results[t].is_ok(), "{t}: {:?}", results[t]);
    }
    assert_eq!(
        code(&results[&missing]),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    );
    common::retry(
        "deleted topics gone",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            let topics = admin.list_topics().map_err(|e| e.to_string())?;
            match [&a, &b, &c].iter().find(|t| topics.contains(**t)) {
                Some(t) => Err(format!("{t} still listed")),
                None => Ok(()),
            }
        },
    );
    admin.close(Duration::from_secs(5));
}

#[test]
fn creates_a_topic_with_an_explicit_replica_assignment() {
    let admin = admin();
    let broker = admin.describe_cluster().unwrap().brokers[0].id;
    let topic = common::unique_name("admin-assigned");
    let new = NewTopic::with_defaults(&topic)
        .replica_assignment(0, [broker])
        .replica_assignment(1, [broker]);
    create(&admin, &[new]);
    let d = described(&admin, &topic, 2);
    assert!(d
        .partitions
        .iter()
        .all(|p| p.replicas == [broker] && p.leader == Some(broker)));

    // A broker that does not exist fails that topic only.
    let bad = common::unique_name("admin-bad-assignment");
    let results = admin
        .create_topics(
            &[NewTopic::with_defaults(&bad).replica_assignment(0, [broker + 1000])],
            CreateTopicsOptions::default(),
        )
        .unwrap();
    assert!(results[&bad].is_err(), "{results:?}");
    assert!(!admin.list_topics().unwrap().contains(&bad));
    admin.delete_topics(&[&topic], None).unwrap()[&topic]
        .clone()
        .unwrap();
}

#[test]
fn creates_partitions() {
    let admin = admin();
    let topic = common::unique_name("admin-partitions");
    create(&admin, &[NewTopic::new(&topic, 1, 1)]);

    let grow = BTreeMap::from([(topic.clone(), NewPartitions::increase_to(3))]);
    let results = admin.create_partitions(&grow, true, None).unwrap();
    assert!(results[&topic].is_ok(), "{results:?}");
    assert_eq!(
        described(&admin, &topic, 1).partitions.len(),
        1,
        "validate_only added partitions"
    );

    let results = admin
        .create_partitions(&grow, false, Some(Duration::from_secs(20)))
        .unwrap();
    assert!(results[&topic].is_ok(), "{results:?}");
    described(&admin, &topic, 3);

    let missing = common::unique_name("admin-missing");
    let shrink = BTreeMap::from([
        (topic.clone(), NewPartitions::increase_to(2)),
        (missing.clone(), NewPartitions::increase_to(2)),
    ]);
    let results = admin.create_partitions(&shrink, false, None).unwrap();
    assert_eq!(code(&results[&topic]), Some(ErrorCode::INVALID_PARTITIONS));
    assert_eq!(
        code(&results[&missing]),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    );
    admin.delete_topics(&[&topic], None).unwrap();
}

#[test]
fn describes_and_alters_configs() {
    let admin = admin();
    let topic = common::unique_name("admin-configs");
    create(
        &admin,
        &[NewTopic::new(&topic, 1, 1).config("retention.ms", "3600000")],
    );
    // Brokers learn of a new topic shortly after the controller creates it.
    described(&admin, &topic, 1);
    let resource = ConfigResource::topic(&topic);
    let entry = |name: &str| {
        let configs = admin
            .describe_configs(std::slice::from_ref(&resource))
            .unwrap();
        let entries = configs[&resource].clone().unwrap();
        entries
            .into_iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };

    // A change reaches the broker that describes configs a moment after the controller
    // committed it.
    let settled = |name: &str, want: &str| {
        common::retry(
            "config change visible",
            Duration::from_secs(30),
            Duration::from_millis(100),
            || {
                let e = entry(name);
                if e.value.as_deref() == Some(want) {
                    Ok(e)
                } else {
                    Err(format!("{e:?}"))
                }
            },
        )
    };

    let retention = entry("retention.ms");
    assert_eq!(retention.value.as_deref(), Some("3600000"));
    assert_eq!(retention.source, ConfigSource::DynamicTopic);
    assert!(!retention.is_default && !retention.read_only && !retention.is_sensitive);
    assert_eq!(entry("cleanup.policy").value.as_deref(), Some("delete"));

    let change = |ops: Vec<AlterConfigOp>, validate_only: bool| {
        let changes = BTreeMap::from([(resource.clone(), ops)]);
        admin
            .incremental_alter_configs(&changes, validate_only)
            .unwrap()
            .remove(&resource)
            .unwrap()
    };
    change(
        vec![
            AlterConfigOp::set("retention.ms", "7200000"),
            AlterConfigOp::set("cleanup.policy", "compact"),
        ],
        false,
    )
    .unwrap();
    settled("retention.ms", "7200000");
    settled("cleanup.policy", "compact");

    change(vec![AlterConfigOp::set("retention.ms", "1000")], true).unwrap();
    assert_eq!(
        entry("retention.ms").value.as_deref(),
        Some("7200000"),
        "validate_only changed the config"
    );

    change(vec![AlterConfigOp::delete("retention.ms")], false).unwrap();
    let retention = settled("retention.ms", "604800000");
    assert_ne!(retention.source, ConfigSource::DynamicTopic);

    let err = change(vec![AlterConfigOp::set("no.such.config", "1")], false).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::INVALID_CONFIG), "{err}");

    // Per-resource results: an unknown topic fails alone; a broker answers for itself.
    let broker = admin.describe_cluster().unwrap().brokers[0].id;
    let missing = ConfigResource::topic(common::unique_name("admin-missing"));
    let configs = admin
        .describe_configs(&[
            resource.clone(),
            missing.clone(),
            ConfigResource::broker(broker),
        ])
        .unwrap();
    assert!(configs[&resource].is_ok());
    assert_eq!(
        code(&configs[&missing]),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    );
    let broker_configs = configs[&ConfigResource::broker(broker)].clone().unwrap();
    let id = broker_configs
        .iter()
        .find(|e| e.name == "broker.id")
        // ZooKeeper-mode brokers from 3.0 also list node.id, as -1.
        .or_else(|| broker_configs.iter().find(|e| e.name == "node.id"))
        .expect("broker.id or node.id");
    assert_eq!(id.value.as_deref(), Some(broker.to_string().as_str()));
    assert!(broker_configs.iter().any(|e| e.name == "num.partitions"));
    admin.delete_topics(&[&topic], None).unwrap();
}

#[test]
fn describes_the_single_broker_cluster() {
    let admin = admin();
    let cluster = admin.describe_cluster().unwrap();
    assert_eq!(cluster.brokers.len(), 1, "{cluster:?}");
    assert!(cluster.cluster_id.as_deref().is_some_and(|c| !c.is_empty()));
    assert!(cluster.controller_id.is_some());
    let peer = common::kafka_python_describe_cluster(&common::bootstrap());
    assert_eq!(
        cluster.cluster_id.as_deref(),
        Some(peer.cluster_id.as_str())
    );
    let ours: Vec<(i32, String, u16)> = cluster
        .brokers
        .iter()
        .map(|b| (b.id, b.host.clone(), b.port))
        .collect();
    let theirs: Vec<(i32, String, u16)> = peer
        .brokers
        .iter()
        .map(|b| (b.id, b.host.clone(), b.port))
        .collect();
    assert_eq!(ours, theirs);
}

#[test]
fn describes_the_three_node_cluster() {
    let bootstrap = common::cluster_bootstrap();
    let _nodes_up = common::cluster_fault_lock();
    let admin = admin_for(&bootstrap);
    let cluster = admin.describe_cluster().unwrap();
    assert_eq!(cluster.brokers.len(), 3, "{cluster:?}");
    let ids: BTreeSet<i32> = cluster.brokers.iter().map(|b| b.id).collect();
    assert!(ids.contains(&cluster.controller_id.unwrap()));

    // Topic admin goes to the controller; broker configs to each broker.
    let topic = common::unique_name("admin-cluster");
    create(
        &admin,
        &[NewTopic::new(&topic, 3, 3).config("min.insync.replicas", "2")],
    );
    let d = described(&admin, &topic, 3);
    for p in &d.partitions {
        assert_eq!(p.replicas.iter().copied().collect::<BTreeSet<_>>(), ids);
    }
    let resources: Vec<ConfigResource> = ids.iter().map(|id| ConfigResource::broker(*id)).collect();
    for (resource, r) in admin.describe_configs(&resources).unwrap() {
        let entries = r.unwrap();
        let id = entries
            .iter()
            .find(|e| e.name == "node.id")
            .expect("node.id");
        assert_eq!(id.value.as_deref(), Some(resource.name.as_str()));
    }
    let results = admin.delete_topics(&[&topic], None).unwrap();
    assert!(results[&topic].is_ok(), "{results:?}");
}

#[test]
fn lists_describes_and_deletes_consumer_groups() {
    let admin = admin();
    let topic = common::unique_name("admin-groups");
    let [group, consumed, missing] =
        ["g", "consumed", "missing"].map(|p| common::unique_name(&format!("admin-{p}")));
    create(&admin, &[NewTopic::new(&topic, 2, 1)]);
    described(&admin, &topic, 2);
    let (tp0, tp1) = (
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    );

    // A group that only stores offsets, committed through the admin client.
    let offsets = BTreeMap::from([
        (tp0.clone(), OffsetAndMetadata::new(5)),
        (
            tp1.clone(),
            OffsetAndMetadata::new(7).with_metadata("seven"),
        ),
    ]);
    let results = admin
        .alter_consumer_group_offsets(&group, &offsets)
        .unwrap();
    assert!(results.values().all(Result::is_ok), "{results:?}");

    // A consumer group made by a peer client that consumed and committed, then left.
    common::kafka_python_produce(
        &common::bootstrap(),
        &topic,
        &[common::Rec::new().value("v").partition(0)],
        None,
    );
    common::try_kafka_python_consume(&common::bootstrap(), &topic, 1, &[("group_id", &consumed)])
        .unwrap();

    let listed = admin.list_consumer_groups().unwrap();
    let ours = listed
        .iter()
        .find(|g| g.group_id == group)
        .unwrap_or_else(|| panic!("{group} not in {listed:?}"));
    assert_eq!(ours.state.as_deref(), Some("Empty"));
    let theirs = listed
        .iter()
        .find(|g| g.group_id == consumed)
        .expect("peer group listed");
    assert_eq!(theirs.protocol_type, "consumer");

    let described = admin
        .describe_consumer_groups(&[&group, &consumed, &missing])
        .unwrap();
    let g = described[&group].clone().unwrap();
    assert_eq!(
        (g.group_id.as_str(), g.state.as_str()),
        (group.as_str(), "Empty")
    );
    assert!(g.members.is_empty());
    assert!(admin
        .describe_cluster()
        .unwrap()
        .brokers
        .iter()
        .any(|b| b.id == g.coordinator.id));
    let peer = described[&consumed].clone().unwrap();
    assert_eq!(
        (peer.state.as_str(), peer.protocol_type.as_str()),
        ("Empty", "consumer")
    );
    match &described[&missing] {
        Ok(d) => assert_eq!(d.state, "Dead"),
        Err(e) => assert_eq!(e.code(), Some(ErrorCode::GROUP_ID_NOT_FOUND)),
    }

    let committed = admin.list_consumer_group_offsets(&group, None).unwrap();
    assert_eq!(committed, offsets);
    let other = TopicPartition::new(common::unique_name("admin-none"), 0);
    let some = admin
        .list_consumer_group_offsets(&group, Some(&[tp1.clone(), other]))
        .unwrap();
    assert_eq!(some.keys().collect::<Vec<_>>(), [&tp1]);
    assert_eq!(some[&tp1].metadata, "seven");
    assert_eq!(
        admin.list_consumer_group_offsets(&consumed, None).unwrap()[&tp0].offset,
        1
    );

    let results = admin
        .delete_consumer_groups(&[&group, &consumed, &missing])
        .unwrap();
    assert!(
        results[&group].is_ok() && results[&consumed].is_ok(),
        "{results:?}"
    );
    assert_eq!(
        code(&results[&missing]),
        Some(ErrorCode::GROUP_ID_NOT_FOUND)
    );
    assert!(admin
        .list_consumer_group_offsets(&group, None)
        .unwrap()
        .is_empty());
    assert!(!admin
        .list_consumer_groups()
        .unwrap()
        .iter()
        .any(|g| g.group_id == group));
    admin.delete_topics(&[&topic], None).unwrap();
}

#[test]
fn describes_a_group_with_a_live_member() {
    let admin = admin();
    let topic = common::unique_name("admin-live");
    let group = common::unique_name("admin-live-group");
    create(&admin, &[NewTopic::new(&topic, 2, 1)]);
    described(&admin, &topic, 2);
    let mut consumer = kafka_sync::Consumer::builder()
        .bootstrap_servers(common::bootstrap())
        .client_id("admin-live-member")
        .group_id(&group)
        .build()
        .unwrap();
    consumer.subscribe([topic.as_str()]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while consumer.assignment().len() < 2 {
        assert!(Instant::now() < deadline, "no assignment");
        consumer.poll(Duration::from_millis(200)).unwrap();
    }

    let d = common::retry(
        "stable group",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            let d = admin
                .describe_consumer_groups(&[&group])
                .map_err(|e| e.to_string())?;
            let d = d[&group].clone().map_err(|e| e.to_string())?;
            if d.state == "Stable" {
                Ok(d)
            } else {
                Err(format!("{d:?}"))
            }
        },
    );
    assert_eq!(d.protocol_type, "consumer");
    assert!(!d.protocol.is_empty());
    assert_eq!(d.members.len(), 1, "{d:?}");
    let m = &d.members[0];
    assert_eq!(m.client_id, "admin-live-member");
    assert!(!m.member_id.is_empty() && !m.host.is_empty());
    let mut assigned = m.assignment.clone();
    assigned.sort();
    assert_eq!(
        assigned,
        [
            TopicPartition::new(&topic, 0),
            TopicPartition::new(&topic, 1)
        ]
    );
    let listed = admin.list_consumer_groups().unwrap();
    let g = listed
        .iter()
        .find(|g| g.group_id == group)
        .expect("live group listed");
    assert_eq!(
        (g.protocol_type.as_str(), g.state.as_deref()),
        ("consumer", Some("Stable"))
    );

    let results = admin.delete_consumer_groups(&[&group]).unwrap();
    assert_eq!(code(&results[&group]), Some(ErrorCode::NON_EMPTY_GROUP));
    consumer.close(Duration::from_secs(10));
    let results = admin.delete_consumer_groups(&[&group]).unwrap();
    assert!(results[&group].is_ok(), "{results:?}");
    admin.delete_topics(&[&topic], None).unwrap();
}

#[test]
fn deletes_records() {
    let admin = admin();
    let topic = common::unique_name("admin-records");
    create(&admin, &[NewTopic::new(&topic, 2, 1)]);
    described(&admin, &topic, 2);
    let records: Vec<common::Rec> = (0..10)
        .map(|i| common::Rec::new().value(format!("r{i}")).partition(0))
        .collect();
    common::kafka_python_produce(&common::bootstrap(), &topic, &records, None);
    let (tp0, tp1) = (
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    );
    let unknown = TopicPartition::new(&topic, 9);

    let results = admin
        .delete_records(&BTreeMap::from([
            (tp0.clone(), 4),
            (tp1.clone(), 0),
            (unknown.clone(), 0),
        ]))
        .unwrap();
    assert_eq!(results[&tp0].clone().unwrap(), 4);
    assert_eq!(results[&tp1].clone().unwrap(), 0);
    assert_eq!(
        code(&results[&unknown]),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    );

    let results = admin
        .delete_records(&BTreeMap::from([(tp0.clone(), 100)]))
        .unwrap();
    assert_eq!(code(&results[&tp0]), Some(ErrorCode::OFFSET_OUT_OF_RANGE));
    // -1: everything up to the high watermark.
    let results = admin
        .delete_records(&BTreeMap::from([(tp0.clone(), -1)]))
        .unwrap();
    assert_eq!(results[&tp0].clone().unwrap(), 10);
    admin.delete_topics(&[&topic], None).unwrap();
}

#[test]
fn unreachable_bootstrap_is_no_brokers_available() {
    let timeout = Duration::from_secs(2);
    let admin = AdminClient::builder()
        .bootstrap_servers("127.0.0.1:1")
        .default_api_timeout(timeout)
        .build()
        .unwrap();
    let start = Instant::now();
    let err = admin.list_topics().unwrap_err();
    let elapsed = start.elapsed();
    assert!(matches!(err, Error::NoBrokersAvailable { .. }), "{err:?}");
    assert!(
        elapsed < timeout + Duration::from_secs(2),
        "took {elapsed:?}"
    );
    let start = Instant::now();
    let err = admin
        .create_topics(&[NewTopic::new("t", 1, 1)], CreateTopicsOptions::default())
        .unwrap_err();
    assert!(matches!(err, Error::NoBrokersAvailable { .. }), "{err:?}");
    assert!(start.elapsed() < timeout + Duration::from_secs(2));
}

#[test]
fn garbage_config_is_a_config_error() {
    let err = AdminClient::builder()
        .set("no.such.setting", "1")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let err = AdminClient::builder()
        .set("request.timeout.ms", "soon")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let err = AdminClient::builder()
        .properties("bootstrap.servers=127.0.0.1:9092\nretry.backoff.ms=-5")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let err = AdminClient::builder()
        .bootstrap_servers("127.0.0.1:notaport")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}
