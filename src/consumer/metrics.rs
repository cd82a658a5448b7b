//! Consumer counters ([`ConsumerMetrics`], from [`Consumer::metrics`]): what was
//! consumed, fetch and commit latency, lag, rebalances and heartbeats. The I/O thread and
//! the polling thread update them with relaxed atomics, off the per-record path.
//!
//! [`Consumer::metrics`]: crate::Consumer::metrics

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::TopicPartition;

/// A snapshot of a consumer's counters, from [`Consumer::metrics`]. Latencies are
/// averaged over the consumer's life. [`to_map`](Self::to_map) gives them under the
/// Java client's metric names, for a monitoring system.
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// let mut consumer = kafka_sync::Consumer::builder().group_id("g").build()?;
/// consumer.subscribe(["orders"])?;
/// for msg in &mut consumer {
///     msg?;
/// }
/// let m = consumer.metrics();
/// println!("{} records, lag {:?}", m.records_consumed_total, m.records_lag_max);
/// for (name, value) in m.to_map() {
///     println!("kafka.consumer.{name} = {value}");
/// }
/// # Ok(()) }
/// ```
///
/// [`Consumer::metrics`]: crate::Consumer::metrics
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ConsumerMetrics {
    /// Records handed out to the application. Java: `records-consumed-total`.
    pub records_consumed_total: u64,
    /// Bytes of fetched record data taken in. Java: `bytes-consumed-total`.
    pub bytes_consumed_total: u64,
    /// Fetch responses received. Java: `fetch-total`.
    pub fetch_total: u64,
    /// Mean time from a fetch request to its response (fetches wait at the broker up to
    /// `fetch_max_wait` for data). Java: `fetch-latency-avg`.
    pub fetch_latency_avg: Duration,
    /// Longest fetch round trip. Java: `fetch-latency-max`.
    pub fetch_latency_max: Duration,
    /// Records not yet consumed per assigned partition: the high watermark of the last
    /// fetch minus the position. Partitions not fetched yet are absent. Java: `records-lag`
    /// (tagged by topic and partition).
    pub records_lag: BTreeMap<TopicPartition, i64>,
    /// The largest of `records_lag`, `None` before any fetch. Java: `records-lag-max`.
    pub records_lag_max: Option<i64>,
    /// Offset commits completed, failed or not (sync, async and auto). Java:
    /// `commit-total`.
    pub commit_total: u64,
    /// Mean time from a commit call to its outcome. Java: `commit-latency-avg`.
    pub commit_latency_avg: Duration,
    /// Longest commit. Java: `commit-latency-max`.
    pub commit_latency_max: Duration,
    /// Group rebalances this member completed, the first join included. Java:
    /// `rebalance-total`.
    pub rebalance_total: u64,
    /// Time spent rebalancing, from leaving a stable generation (or starting to join)
    /// to the next assignment. Java: `rebalance-latency-total`.
    pub rebalance_latency_total: Duration,
    /// Mean rebalance time. Java: `rebalance-latency-avg`.
    pub rebalance_latency_avg: Duration,
    /// Longest rebalance. Java: `rebalance-latency-max`.
    pub rebalance_latency_max: Duration,
    /// Time since the coordinator last answered a heartbeat; `None` before the first.
    /// Java: `last-heartbeat-seconds-ago`.
    pub last_heartbeat: Option<Duration>,
}

impl ConsumerMetrics {
    /// The metrics under the Java consumer's names: latencies in milliseconds,
    /// `last-heartbeat-seconds-ago` in seconds, per-partition lag as
    /// `records-lag{topic=T,partition=P}`. Metrics without a value yet (lag before a
    /// fetch, the last heartbeat before one) are left out.
    ///
    /// # Examples
    /// ```
    /// let m = kafka_sync::consumer::ConsumerMetrics::default();
    /// assert_eq!(m.to_map()["records-consumed-total"], 0.0);
    /// assert!(!m.to_map().contains_key("records-lag-max"));
    /// ```
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mut m = BTreeMap::new();
        let mut put = |name: &str, v: f64| {
            m.insert(name.to_string(), v);
        };
        put("records-consumed-total", self.records_consumed_total as f64);
        put("bytes-consumed-total", self.bytes_consumed_total as f64);
        put("fetch-total", self.fetch_total as f64);
        put("fetch-latency-avg", ms(self.fetch_latency_avg));
        put("fetch-latency-max", ms(self.fetch_latency_max));
        put("commit-total", self.commit_total as f64);
        put("commit-latency-avg", ms(self.commit_latency_avg));
        put("commit-latency-max", ms(self.commit_latency_max));
        put("rebalance-total", self.rebalance_total as f64);
        put("rebalance-latency-total", ms(self.rebalance_latency_total));
        put("rebalance-latency-avg", ms(self.rebalance_latency_avg));
        put("rebalance-latency-max", ms(self.rebalance_latency_max));
        if let Some(lag) = self.records_lag_max {
            put("records-lag-max", lag as f64);
        }
        if let Some(ago) = self.last_heartbeat {
            put("last-heartbeat-seconds-ago", ago.as_secs_f64());
        }
        for (tp, lag) in &self.records_lag {
            let name = format!(
                "records-lag{{topic={},partition={}}}",
                tp.topic, tp.partition
            );
            put(&name, *lag as f64);
        }
        m
    }
}

/// A count, a total and a maximum of durations, in microseconds.
#[derive(Debug, Default)]
struct Latency {
    count: AtomicU64,
    total_us: AtomicU64,
    max_us: AtomicU64,
}

impl Latency {
    fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Relaxed);
        self.total_us.fetch_add(us, Relaxed);
        self.max_us.fetch_max(us, Relaxed);
    }

    /// `(count, total, average, maximum)`.
    fn read(&self) -> (u64, Duration, Duration, Duration) {
        let count = self.count.load(Relaxed);
        let total = self.total_us.load(Relaxed);
        (
            count,
            Duration::from_micros(total),
            Duration::from_micros(total.checked_div(count).unwrap_or(0)),
            Duration::from_micros(self.max_us.load(Relaxed)),
        )
    }
}

/// The live counters behind [`ConsumerMetrics`], shared by the polling thread and the
/// I/O thread.
#[derive(Debug)]
pub(crate) struct ConsumerStats {
    /// Times are kept as microseconds since this instant, plus one (0 for none).
    origin: Instant,
    records_consumed: AtomicU64,
    bytes_consumed: AtomicU64,
    fetches: Latency,
    commits: Latency,
    rebalances: Latency,
    rebalance_started: AtomicU64,
    last_heartbeat: AtomicU64,
}

impl Default for ConsumerStats {
    fn default() -> Self {
        ConsumerStats {
            origin: Instant::now(),
            records_consumed: AtomicU64::new(0),
            bytes_consumed: AtomicU64::new(0),
            fetches: Latency::default(),
            commits: Latency::default(),
            rebalances: Latency::default(),
            rebalance_started: AtomicU64::new(0),
            last_heartbeat: AtomicU64::new(0),
        }
    }
}

impl ConsumerStats {
    fn stamp(&self, t: Instant) -> u64 {
        let us = t.saturating_duration_since(self.origin).as_micros();
        u64::try_from(us).unwrap_or(u64::MAX - 1) + 1
    }

    fn instant(&self, stamp: u64) -> Option<Instant> {
        let us = stamp.checked_sub(1)?;
        self.origin.checked_add(Duration::from_micros(us))
    }

    pub fn on_consumed(&self, records: usize) {
        self.records_consumed.fetch_add(records as u64, Relaxed);
    }

    pub fn on_fetched_bytes(&self, bytes: usize) {
        self.bytes_consumed.fetch_add(bytes as u64, Relaxed);
    }

    pub fn on_fetch_response(&self, latency: Duration) {
        self.fetches.record(latency);
    }

    pub fn on_commit(&self, latency: Duration) {
        self.commits.record(latency);
    }

    pub fn on_heartbeat_response(&self, now: Instant) {
        self.last_heartbeat.store(self.stamp(now), Relaxed);
    }

    /// Follows the member's state (from the I/O thread): a rebalance starts when it
    /// needs to (re)join and ends when it is in a stable generation again.
    pub fn on_group_state(&self, rebalancing: bool, now: Instant) {
        let started = self.rebalance_started.load(Relaxed);
        if rebalancing && started == 0 {
            self.rebalance_started.store(self.stamp(now), Relaxed);
        } else if !rebalancing && started != 0 {
            self.rebalance_started.store(0, Relaxed);
            if let Some(t) = self.instant(started) {
                self.rebalances.record(now.saturating_duration_since(t));
            }
        }
    }

    /// A snapshot, with the lag of each partition (`(high watermark, position)`).
    pub fn snapshot(
        &self,
        lags: impl IntoIterator<Item = (TopicPartition, i64)>,
    ) -> ConsumerMetrics {
        let (fetch_total, _, fetch_latency_avg, fetch_latency_max) = self.fetches.read();
        let (commit_total, _, commit_latency_avg, commit_latency_max) = self.commits.read();
        let (rebalance_total, rebalance_latency_total, rebalance_latency_avg, max) =
            self.rebalances.read();
        let records_lag: BTreeMap<TopicPartition, i64> = lags.into_iter().collect();
        ConsumerMetrics {
            records_consumed_total: self.records_consumed.load(Relaxed),
            bytes_consumed_total: self.bytes_consumed.load(Relaxed),
            fetch_total,
            fetch_latency_avg,
            fetch_latency_max,
            records_lag_max: records_lag.values().copied().max(),
            records_lag,
            commit_total,
            commit_latency_avg,
            commit_latency_max,
            rebalance_total,
            rebalance_latency_total,
            rebalance_latency_avg,
            rebalance_latency_max: max,
            last_heartbeat: self
                .instant(self.last_heartbeat.load(Relaxed))
                .map(|t| t.elapsed()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_average_and_keep_the_maximum() {
        let s = ConsumerStats::default();
        s.on_fetch_response(Duration::from_millis(10));
        s.on_fetch_response(Duration::from_millis(30));
        s.on_commit(Duration::from_millis(4));
        let m = s.snapshot([]);
        assert_eq!(m.fetch_total, 2);
        assert_eq!(m.fetch_latency_avg, Duration::from_millis(20));
        assert_eq!(m.fetch_latency_max, Duration::from_millis(30));
        assert_eq!(m.commit_total, 1);
        assert_eq!(m.to_map()["fetch-latency-avg"], 20.0);
        assert_eq!(m.to_map()["commit-latency-max"], 4.0);
    }

    #[test]
    fn rebalances_run_from_leaving_stable_to_stable_again() {
        let s = ConsumerStats::default();
        let t0 = Instant::now();
        s.on_group_state(false, t0);
        assert_eq!(s.snapshot([]).rebalance_total, 0);
        s.on_group_state(true, t0);
        s.on_group_state(true, t0 + Duration::from_millis(100));
        s.on_group_state(false, t0 + Duration::from_millis(250));
        s.on_group_state(false, t0 + Duration::from_millis(900));
        let m = s.snapshot([]);
        assert_eq!(m.rebalance_total, 1);
        assert_eq!(m.rebalance_latency_total, Duration::from_millis(250));
        assert_eq!(m.to_map()["rebalance-total"], 1.0);
    }

    #[test]
    fn lag_and_heartbeat_appear_once_known() {
        let s = ConsumerStats::default();
        assert!(s.snapshot([]).last_heartbeat.is_none());
        s.on_heartbeat_response(Instant::now());
        let tp = |p| TopicPartition::new("t", p);
        let m = s.snapshot([(tp(0), 7), (tp(1), 2)]);
        assert_eq!(m.records_lag_max, Some(7));
        assert!(m.last_heartbeat.unwrap() < Duration::from_secs(60));
        let map = m.to_map();
        assert_eq!(map["records-lag{topic=t,partition=1}"], 2.0);
        assert!(map["last-heartbeat-seconds-ago"] >= 0.0);
    }
}
