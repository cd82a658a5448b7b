//! AdminClient calls about replicas, against the real brokers: log directories (single
//! broker), moving a replica between nodes and electing leaders (3-node cluster).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_sync::admin::{
    AdminClient, AlterConfigOp, ConfigResource, CreateTopicsOptions, ElectionType, NewTopic,
    PartitionInfo,
};
use kafka_sync::{ErrorCode, Producer, ProducerRecord, TopicPartition};

fn admin_for(bootstrap: &str) -> AdminClient {
    AdminClient::builder()
        .bootstrap_servers(bootstrap)
        .client_id("kafka-sync-admin-replicas-test")
        .default_api_timeout(Duration::from_secs(30))
        .build()
        .expect("admin client")
}

fn create(admin: &AdminClient, topic: NewTopic) {
    for (name, r) in admin
        .create_topics(&[topic], CreateTopicsOptions::default())
        .unwrap()
    {
        r.unwrap_or_else(|e| panic!("creating {name}: {e}"));
    }
}

/// `count` records of `size` bytes each to partition 0.
fn produce(bootstrap: &str, topic: &str, count: usize, size: usize) {
    let producer = Producer::builder()
        .bootstrap_servers(bootstrap)
        .build()
        .unwrap();
    let deliveries: Vec<_> = (0..count)
        .map(|i| {
            let rec = ProducerRecord::new(topic)
                .partition(0)
                .value(format!("{i:0size$}"));
            producer.send(rec).unwrap()
        })
        .collect();
    for d in deliveries {
        d.wait().unwrap();
    }
}

/// Partition 0 of `topic` once `ok` accepts it (metadata reaches every broker a moment
/// after the controller changed it).
fn partition_when(
    admin: &AdminClient,
    topic: &str,
    what: &str,
    ok: impl Fn(&PartitionInfo) -> bool,
) -> PartitionInfo {
    common::retry(
        what,
        Duration::from_secs(60),
        Duration::from_millis(200),
        || {
            let d = admin
                .describe_topics(&[topic])
                .map_err(|e| e.to_string())?
                .remove(0);
            let p = d.partitions.into_iter().next().ok_or("no partitions")?;
            if ok(&p) {
                Ok(p)
            } else {
                Err(format!("{p:?}"))
            }
        },
    )
}

/// Asks for `replicas` and waits until the move is done: nothing listed in progress,
/// and the topic's metadata shows exactly those replicas, all in sync.
fn reassign(admin: &AdminClient, tp: &TopicPartition, replicas: &[i32]) -> PartitionInfo {
    let moves = BTreeMap::from([(tp.clone(), Some(replicas.to_vec()))]);
    let results = admin.alter_partition_reassignments(&moves).unwrap();
    assert!(results[tp].is_ok(), "{results:?}");
    common::retry(
        "reassignment done",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || {
            let ongoing = admin
                .list_partition_reassignments(Some(std::slice::from_ref(tp)))
                .map_err(|e| e.to_string())?;
            match ongoing.get(tp) {
                Some(r) if r.target_replicas() == replicas => Err(format!("moving: {r:?}")),
                Some(r) => panic!("{tp} is moving elsewhere: {r:?}"),
                None => Ok(()),
            }
        },
    );
    partition_when(admin, &tp.topic, "replicas in metadata", |p| {
        let mut isr = p.isr.clone();
        isr.sort_unstable();
        let mut want = replicas.to_vec();
        want.sort_unstable();
        p.replicas == replicas && isr == want && p.leader.is_some()
    })
}

/// The ids of the cluster's 3 brokers, once all are up (a fault test elsewhere may be
/// restarting one).
fn three_brokers(admin: &AdminClient) -> [i32; 3] {
    common::retry(
        "3 live brokers",
        Duration::from_secs(180),
        Duration::from_millis(500),
        || {
            let brokers = admin.describe_cluster().map_err(|e| e.to_string())?.brokers;
            let ids: Vec<i32> = brokers.iter().map(|b| b.id).collect();
            ids.clone()
                .try_into()
                .map_err(|_| format!("brokers {ids:?}"))
        },
    )
}

/// A broker's replication throttle, removed again when dropped (also when the test
/// fails).
struct Throttle<'a> {
    admin: &'a AdminClient,
    broker: i32,
}

impl Throttle<'_> {
    const RATE: &'static str = "follower.replication.throttled.rate";

    /// Throttles `broker`'s fetching for the replicas topics mark as throttled to
    /// `bytes_per_second`.
    fn on(admin: &AdminClient, broker: i32, bytes_per_second: u32) -> Throttle<'_> {
        let throttle = Throttle { admin, broker };
        let rate = bytes_per_second.to_string();
        throttle
            .alter(AlterConfigOp::set(Self::RATE, rate))
            .unwrap();
        throttle
    }

    fn alter(&self, op: AlterConfigOp) -> kafka_sync::Result<()> {
        let r = ConfigResource::broker(self.broker);
        let changes = BTreeMap::from([(r.clone(), vec![op])]);
        self.admin.incremental_alter_configs(&changes, false)?[&r].clone()
    }
}

impl Drop for Throttle<'_> {
    fn drop(&mut self) {
        // No panic here: this may run while a failed test unwinds.
        if let Err(e) = self.alter(AlterConfigOp::delete(Self::RATE)) {
            eprintln!("removing the throttle of broker {}: {e}", self.broker);
        }
    }
}

#[test]
fn describes_log_dirs_with_their_replicas() {
    let bootstrap = common::bootstrap();
    let admin = admin_for(&bootstrap);
    let topic = common::unique_name("admin-logdirs");
    create(&admin, NewTopic::new(&topic, 1, 1));
    produce(&bootstrap, &topic, 20, 100);
    let tp = TopicPartition::new(&topic, 0);
    let broker = admin.describe_cluster().unwrap().brokers[0].id;

    let dirs = common::retry(
        "a log dir holding the partition's records",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            let all = admin.describe_log_dirs(None).map_err(|e| e.to_string())?;
            assert_eq!(all.keys().copied().collect::<Vec<_>>(), [broker]);
            let dirs = all[&broker].clone().map_err(|e| e.to_string())?;
            match dirs.iter().find_map(|d| d.replicas.get(&tp)) {
                Some(r) if r.size > 0 => Ok(dirs),
                other => Err(format!("{tp}: {other:?} in {dirs:?}")),
            }
        },
    );
    let dir = dirs.iter().find(|d| d.replicas.contains_key(&tp)).unwrap();
    assert!(dir.error.is_none(), "{dir:?}");
    assert!(dir.path.starts_with('/'), "{dir:?}");
    let replica = &dir.replicas[&tp];
    assert!(!replica.is_future && replica.offset_lag == 0, "{replica:?}");
    let (total, usable) = (dir.total_bytes.unwrap(), dir.usable_bytes.unwrap());
    assert!(total > 0 && usable > 0 && usable <= total, "{dir:?}");

    // Asking a named broker gives that broker only; a broker that does not exist, an
    // error in its own entry.
    let missing = broker + 1000;
    let some = admin.describe_log_dirs(Some(&[broker, missing])).unwrap();
    assert!(some[&broker].is_ok(), "{some:?}");
    assert_eq!(
        some[&missing].as_ref().unwrap_err().code(),
        Some(ErrorCode::BROKER_NOT_AVAILABLE)
    );
    admin.delete_topics(&[&topic], None).unwrap();
}

#[test]
fn moves_a_replica_and_elects_the_new_preferred_leader() {
    let bootstrap = common::cluster_bootstrap();
    let admin = admin_for(&bootstrap);
    let [a, b, c] = three_brokers(&admin);
    let topic = common::unique_name("admin-reassign");
    let tp = TopicPartition::new(&topic, 0);
    create(
        &admin,
        NewTopic::with_defaults(&topic).replica_assignment(0, [a, b]),
    );
    partition_when(&admin, &topic, "led by a", |p| p.leader == Some(a));
    produce(&bootstrap, &topic, 50, 100);

    // Move the replica on `a` to `c`: `c` copies the log, then `a` drops out.
    let moved = reassign(&admin, &tp, &[c, b]);
    assert_ne!(moved.leader, Some(a), "{moved:?}");
    let dirs = admin.describe_log_dirs(Some(&[a, c])).unwrap();
    let holds = |id: i32| {
        dirs[&id]
            .as_ref()
            .unwrap()
            .iter()
            .any(|d| d.replicas.contains_key(&tp))
    };
    assert!(holds(c), "{dirs:?}");

    // Make the replica that does not lead the preferred one (a reassignment that only
    // reorders), then elect it.
    let leader = moved.leader.unwrap();
    let other = if leader == c { b } else { c };
    let reordered = reassign(&admin, &tp, &[other, leader]);
    assert_eq!(
        reordered.leader,
        Some(leader),
        "reordering moved the leader"
    );
    let elected = admin
        .elect_leaders(ElectionType::Preferred, Some(std::slice::from_ref(&tp)))
        .unwrap();
    assert!(elected[&tp].is_ok(), "{elected:?}");
    partition_when(&admin, &topic, "preferred replica leads", |p| {
        p.leader == Some(other)
    });

    // Once it leads, neither election is needed.
    for election in [ElectionType::Preferred, ElectionType::Unclean] {
        let again = admin
            .elect_leaders(election, Some(std::slice::from_ref(&tp)))
            .unwrap();
        assert_eq!(
            again[&tp].as_ref().unwrap_err().code(),
            Some(ErrorCode::ELECTION_NOT_NEEDED),
            "{election:?}: {again:?}"
        );
    }

    // Per-partition errors: no such partition; nothing to cancel.
    let nowhere = TopicPartition::new(&topic, 7);
    let r = admin
        .elect_leaders(
            ElectionType::Preferred,
            Some(std::slice::from_ref(&nowhere)),
        )
        .unwrap();
    assert_eq!(
        r[&nowhere].as_ref().unwrap_err().code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    );
    let cancel = BTreeMap::from([(tp.clone(), None)]);
    let r = admin.alter_partition_reassignments(&cancel).unwrap();
    assert_eq!(
        r[&tp].as_ref().unwrap_err().code(),
        Some(ErrorCode::NO_REASSIGNMENT_IN_PROGRESS)
    );
    admin.delete_topics(&[&topic], None).unwrap();
}

#[test]
fn lists_a_reassignment_in_progress_and_cancels_it() {
    let bootstrap = common::cluster_bootstrap();
    let admin = admin_for(&bootstrap);
    let [a, _, c] = three_brokers(&admin);
    let topic = common::unique_name("admin-reassign-slow");
    let tp = TopicPartition::new(&topic, 0);
    // Only this topic's replicas are throttled; the broker's rate applies to them alone.
    create(
        &admin,
        NewTopic::with_defaults(&topic)
            .replica_assignment(0, [a])
            .config("follower.replication.throttled.replicas", "*"),
    );
    partition_when(&admin, &topic, "led by a", |p| p.leader == Some(a));
    produce(&bootstrap, &topic, 100, 10_000);
    let _throttle = Throttle::on(&admin, c, 1000);

    // A megabyte at a kilobyte a second: the move stays in progress.
    let moves = BTreeMap::from([(tp.clone(), Some(vec![c]))]);
    let results = admin.alter_partition_reassignments(&moves).unwrap();
    assert!(results[&tp].is_ok(), "{results:?}");
    let ongoing = admin.list_partition_reassignments(None).unwrap();
    let r = ongoing
        .get(&tp)
        .unwrap_or_else(|| panic!("{tp} not in progress: {ongoing:?}"));
    assert_eq!(r.adding_replicas, [c], "{r:?}");
    assert_eq!(r.removing_replicas, [a], "{r:?}");
    assert_eq!(r.target_replicas(), [c]);
    let mut all = r.replicas.clone();
    all.sort_unstable();
    let mut want = vec![a, c];
    want.sort_unstable();
    assert_eq!(all, want, "{r:?}");
    let named = admin
        .list_partition_reassignments(Some(std::slice::from_ref(&tp)))
        .unwrap();
    assert_eq!(named.keys().collect::<Vec<_>>(), [&tp]);

    // Cancelling puts the partition back on `a` alone.
    let cancel = BTreeMap::from([(tp.clone(), None)]);
    let results = admin.alter_partition_reassignments(&cancel).unwrap();
    assert!(results[&tp].is_ok(), "{results:?}");
    assert!(admin
        .list_partition_reassignments(Some(std::slice::from_ref(&tp)))
        .unwrap()
        .is_empty());
    partition_when(&admin, &topic, "back on a", |p| {
        p.replicas == [a] && p.leader == Some(a)
    });
    admin.delete_topics(&[&topic], None).unwrap();
}
