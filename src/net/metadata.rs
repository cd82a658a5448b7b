//! The cluster metadata cache: brokers, controller, topics, partitions and leaders.
//!
//! The I/O thread owns the refresh schedule; user threads read snapshots through
//! [`SharedMetadata`], which the I/O thread replaces whole on every update.

pub use crate::fast_hash::KeyedState;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::protocol::api::metadata::{MetadataRequest, MetadataRequestTopic, MetadataResponse};
use crate::protocol::codec::Uuid;
use crate::protocol::error_code::ErrorCode;

use super::backoff::Backoff;

/// A broker's id; bootstrap addresses get negative ids until metadata names them.
pub type NodeId = i32;

/// One broker of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerMetadata {
    /// The broker's `node.id`.
    pub id: NodeId,
    /// Host it advertises.
    pub host: String,
    /// Port it advertises.
    pub port: u16,
    /// Its rack, if configured.
    pub rack: Option<String>,
}

impl BrokerMetadata {
    /// `host:port`.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// One partition's leadership and replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// Partition index.
    pub partition: i32,
    /// Leader broker id, or -1 when there is none.
    pub leader: NodeId,
    /// Leader epoch, or -1 when the broker does not report it.
    pub leader_epoch: i32,
    /// All replicas.
    pub replicas: Vec<NodeId>,
    /// In-sync replicas.
    pub isr: Vec<NodeId>,
    /// Offline replicas.
    pub offline_replicas: Vec<NodeId>,
    /// The partition's error (LEADER_NOT_AVAILABLE while an election runs, ...).
    pub error: ErrorCode,
}

/// One topic's partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// The topic name.
    pub name: String,
    /// The topic id (all zero on brokers that do not have ids).
    pub topic_id: Uuid,
    /// True for internal topics such as `__consumer_offsets`.
    pub is_internal: bool,
    /// The topic-level error (UNKNOWN_TOPIC_OR_PARTITION, ...).
    pub error: ErrorCode,
    /// Partitions, sorted by index.
    pub partitions: Vec<PartitionMetadata>,
    /// Indexes of the partitions that have a leader now.
    pub available: Vec<i32>,
}

/// A map keyed by topic name, with a hasher cheaper than the standard one (producers
/// look topics up once per record) and seeded at random per map, since the names come
/// from the brokers.
pub type TopicMap<V> = HashMap<String, V, KeyedState>;

/// A snapshot of what the client knows about the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterMetadata {
    /// The cluster id.
    pub cluster_id: Option<String>,
    /// The active controller's id, or -1.
    pub controller_id: NodeId,
    /// Brokers by id.
    pub brokers: BTreeMap<NodeId, BrokerMetadata>,
    /// Topics by name. Topics with errors are kept, so callers can report them.
    pub topics: TopicMap<TopicMetadata>,
}

impl ClusterMetadata {
    /// Builds a snapshot from a Metadata response. `previous` keeps topics the response
    /// did not cover (a response for a subset of topics does not forget the others).
    pub(crate) fn from_response(
        resp: &MetadataResponse,
        previous: &ClusterMetadata,
        all_topics: bool,
    ) -> ClusterMetadata {
        let brokers: BTreeMap<NodeId, BrokerMetadata> = resp
            .brokers
            .iter()
            .map(|b| {
                (
                    b.node_id,
                    BrokerMetadata {
                        id: b.node_id,
                        host: b.host.clone(),
                        port: u16::try_from(b.port).unwrap_or(0),
                        rack: b.rack.clone(),
                    },
                )
            })
            .collect();
        let mut topics = if all_topics {
            TopicMap::default()
        } else {
            previous.topics.clone()
        };
        for t in &resp.topics {
            let Some(name) = t.name.clone() else { continue };
            let mut partitions: Vec<PartitionMetadata> = t
                .partitions
                .iter()
                .map(|p| PartitionMetadata {
                    partition: p.partition_index,
                    // A leader the broker list does not name cannot be reached: unknown.
                    leader: if brokers.contains_key(&p.leader_id) {
                        p.leader_id
                    } else {
                        -1
                    },
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.clone(),
                    isr: p.isr_nodes.clone(),
                    offline_replicas: p.offline_replicas.clone(),
                    error: ErrorCode(p.error_code),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            let available = partitions
                .iter()
                .filter(|p| p.leader >= 0)
                .map(|p| p.partition)
                .collect();
            topics.insert(
                name.clone(),
                TopicMetadata {
                    name,
                    topic_id: t.topic_id,
                    is_internal: t.is_internal,
                    error: ErrorCode(t.error_code),
                    partitions,
                    available,
                },
            );
        }
        ClusterMetadata {
            cluster_id: resp.cluster_id.clone(),
            controller_id: resp.controller_id,
            brokers,
            topics,
        }
    }

    /// The topic, if it is known and has no topic-level error.
    pub fn topic(&self, name: &str) -> Option<&TopicMetadata> {
        self.topics.get(name).filter(|t| t.error.is_ok())
    }

    /// The number of partitions of a known topic.
    pub fn partition_count(&self, topic: &str) -> Option<usize> {
        self.topic(topic).map(|t| t.partitions.len())
    }

    /// The leader of a partition, if it has one.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<NodeId> {
        let t = self.topic(topic)?;
        let p = usize::try_from(partition)
            .ok()
            .and_then(|i| t.partitions.get(i))?;
        (p.partition == partition && p.leader >= 0).then_some(p.leader)
    }

    /// The partition's metadata, if known.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionMetadata> {
        let t = self.topic(topic)?;
        t.partitions.iter().find(|p| p.partition == partition)
    }

    /// The controller broker, if known (kafka-python's `cluster.controller`).
    pub fn controller(&self) -> Option<&BrokerMetadata> {
        self.brokers.get(&self.controller_id)
    }
}

/// Metadata shared between the I/O thread (writer) and user threads (readers).
#[derive(Debug, Clone, Default)]
pub struct SharedMetadata(
    Arc<RwLock<Arc<ClusterMetadata>>>,
    /// The brokers' ApiVersions tables, for `check_version()`.
    pub(crate) Arc<super::versions::SeenVersions>,
);

impl SharedMetadata {
    /// The current snapshot.
    pub fn load(&self) -> Arc<ClusterMetadata> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub(crate) fn store(&self, m: ClusterMetadata) {
        let m = Arc::new(m);
        match self.0.write() {
            Ok(mut g) => *g = m,
            Err(p) => *p.into_inner() = m,
        }
    }
}

/// Which topics the client wants metadata for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WantedTopics {
    /// Every topic in the cluster (admin clients, pattern subscriptions).
    All,
    /// Only these.
    Some(HashSet<String>),
}

/// When to refresh metadata, and for which topics.
#[derive(Debug)]
pub(crate) struct MetadataSchedule {
    pub wanted: WantedTopics,
    pub allow_auto_topic_creation: bool,
    max_age: Duration,
    last_refresh: Option<Instant>,
    /// Set when someone asked for an early refresh since the last request went out.
    requested: bool,
    /// Set when topics were added since the last request went out: their refresh goes out
    /// at once, not after the backoff (as the Java client's `requestUpdateForNewTopics`).
    new_topics: bool,
    /// Earliest time an early refresh may go out (backoff after errors).
    not_before: Instant,
    /// Grows while refreshes fail or come back incomplete (a leader unknown).
    backoff: Backoff,
    in_flight: bool,
    /// Whether the request in flight asked for every topic.
    in_flight_all: bool,
    /// Bumped on every successful update; waiters compare it.
    pub version: u64,
}

impl MetadataSchedule {
    pub fn new(max_age: Duration, retry_backoff: Duration, retry_backoff_max: Duration) -> Self {
        MetadataSchedule {
            wanted: WantedTopics::Some(HashSet::new()),
            allow_auto_topic_creation: true,
            max_age,
            last_refresh: None,
            requested: true,
            new_topics: false,
            not_before: Instant::now(),
            backoff: Backoff::new(retry_backoff, retry_backoff_max),
            in_flight: false,
            in_flight_all: false,
            version: 0,
        }
    }

    /// Adds topics to refresh; returns true if any was new (and asks for a refresh).
    pub fn add_topics<'a>(&mut self, topics: impl IntoIterator<Item = &'a str>) -> bool {
        let WantedTopics::Some(set) = &mut self.wanted else {
            return false;
        };
        let mut added = false;
        for t in topics {
            if !set.contains(t) {
                set.insert(t.to_owned());
                added = true;
            }
        }
        if added {
            self.requested = true;
            self.new_topics = true;
        }
        added
    }

    /// Asks for every topic from now on.
    pub fn want_all(&mut self) {
        if self.wanted != WantedTopics::All {
            self.wanted = WantedTopics::All;
            self.requested = true;
            self.new_topics = true;
        }
    }

    /// Asks for a refresh as soon as the backoff allows.
    pub fn request_update(&mut self) {
        self.requested = true;
    }

    /// When the next refresh is due, or `None` if one is in flight.
    pub fn due_at(&self) -> Option<Instant> {
        if self.in_flight {
            return None;
        }
        match self.last_refresh {
            Some(t) if !self.requested => Some(crate::deadline::after(t, self.max_age)),
            Some(t) if self.new_topics => Some(t),
            _ => Some(self.not_before),
        }
    }

    pub fn is_due(&self, now: Instant) -> bool {
        self.due_at().is_some_and(|t| t <= now)
    }

    /// The request for the wanted topics.
    pub fn build_request(&self) -> MetadataRequest {
        MetadataRequest {
            topics: match &self.wanted {
                WantedTopics::All => None,
                WantedTopics::Some(set) => Some(
                    set.iter()
                        .map(|t| MetadataRequestTopic {
                            name: Some(t.clone()),
                            ..Default::default()
                        })
                        .collect(),
                ),
            },
            allow_auto_topic_creation: self.allow_auto_topic_creation,
            ..Default::default()
        }
    }

    /// The request [`Self::build_request`] built went out. Asks made from now on are
    /// served by a later request, whatever this one's answer.
    pub fn on_sent(&mut self) {
        self.in_flight = true;
        self.in_flight_all = self.wanted == WantedTopics::All;
        self.requested = false;
        self.new_topics = false;
    }

    /// An answer came. `complete` is false while a topic asked for lacks a leader or has
    /// a retriable error: then the next refresh follows with a growing backoff.
    pub fn on_success(&mut self, now: Instant, complete: bool) {
        self.in_flight = false;
        self.last_refresh = Some(now);
        if complete {
            self.backoff.reset();
            self.not_before = crate::deadline::after(now, self.backoff.peek());
        } else {
            self.requested = true;
            self.not_before = crate::deadline::after(now, self.backoff.fail());
        }
        self.version += 1;
    }

    pub fn on_failure(&mut self, now: Instant) {
        self.in_flight = false;
        self.requested = true;
        self.not_before = crate::deadline::after(now, self.backoff.fail());
    }

    /// Whether the request in flight asked for every topic (its answer then replaces
    /// the topic list rather than adding to it).
    pub fn in_flight_all(&self) -> bool {
        self.in_flight_all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> MetadataSchedule {
        MetadataSchedule::new(
            Duration::from_secs(300),
            Duration::from_millis(100),
            Duration::from_secs(1),
        )
    }

    #[test]
    fn schedule_requests_early_and_periodic_refreshes() {
        let mut s = schedule();
        let now = Instant::now();
        assert!(s.is_due(now));
        s.on_sent();
        assert_eq!(s.due_at(), None);
        s.on_success(now, true);
        assert!(!s.is_due(now + Duration::from_secs(10)));
        assert!(s.is_due(now + Duration::from_secs(301)));
        s.request_update();
        assert!(!s.is_due(now), "backoff holds an early refresh");
        assert!(s.is_due(now + Duration::from_millis(120)));
        assert!(s.add_topics(["a", "b"]));
        assert!(!s.add_topics(["a"]));
        assert!(s.is_due(now), "new topics are asked for at once");
        let req = s.build_request();
        assert_eq!(req.topics.map(|t| t.len()), Some(2));
        s.want_all();
        assert_eq!(s.build_request().topics, None);
    }

    #[test]
    fn an_ask_made_while_a_refresh_is_in_flight_survives_its_answer() {
        let mut s = schedule();
        let now = Instant::now();
        s.on_sent();
        assert!(s.add_topics(["late"]));
        s.on_success(now, true);
        assert!(
            s.is_due(now),
            "the topic asked for after the request went out needs another refresh, at once"
        );
        s.on_sent();
        s.request_update();
        s.on_failure(now);
        assert!(s.is_due(now + Duration::from_secs(1)));
    }

    #[test]
    fn incomplete_answers_back_off_exponentially_up_to_the_max() {
        let mut s = schedule();
        let mut now = Instant::now();
        let mut waits = Vec::new();
        for _ in 0..6 {
            s.on_sent();
            s.on_success(now, false);
            let due = s.due_at().unwrap();
            waits.push(due - now);
            now = due;
        }
        assert!(waits[0] <= Duration::from_millis(120), "{waits:?}");
        assert!(waits[3] >= Duration::from_millis(640), "{waits:?}");
        assert!(
            waits.iter().all(|w| *w <= Duration::from_millis(1200)),
            "{waits:?}"
        );
        s.on_sent();
        s.on_success(now, true);
        assert!(
            !s.is_due(now + Duration::from_secs(2)),
            "complete: next at max age"
        );
    }

    #[test]
    fn a_leader_missing_from_the_broker_list_is_unknown() {
        use crate::protocol::api::metadata::{
            MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
        };
        let partition = |i, leader| MetadataResponsePartition {
            partition_index: i,
            leader_id: leader,
            ..Default::default()
        };
        let resp = MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: 1,
                host: "h".into(),
                port: 9092,
                rack: None,
            }],
            topics: vec![MetadataResponseTopic {
                name: Some("t".into()),
                partitions: vec![partition(0, 1), partition(1, 7)],
                ..Default::default()
            }],
            ..Default::default()
        };
        let m = ClusterMetadata::from_response(&resp, &ClusterMetadata::default(), false);
        assert_eq!(m.leader("t", 0), Some(1));
        assert_eq!(m.leader("t", 1), None);
        assert_eq!(m.topic("t").unwrap().available, [0]);
    }
}
