//! Producer counters, updated with relaxed atomics off the per-record path.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// A snapshot of a producer's counters, from [`Producer::metrics`](crate::Producer::metrics).
/// [`to_map`](Self::to_map) gives them under the Java client's metric names, for a
/// monitoring system.
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// let producer = kafka_sync::Producer::builder().build()?;
/// let m = producer.metrics();
/// println!("{} records in {} batches, avg {:.0} B", m.records_sent, m.batches_sent, m.average_batch_size());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ProducerMetrics {
    /// Records acknowledged by the brokers.
    pub records_sent: u64,
    /// Record batches sent (including retries).
    pub batches_sent: u64,
    /// Encoded batch bytes sent (including retries).
    pub bytes_sent: u64,
    /// Produce requests sent.
    pub requests_sent: u64,
    /// Batches sent again after a retriable error.
    pub retries: u64,
    /// Batches that failed for good.
    pub errors: u64,
    /// Records that failed for good (each future holds its error; `flush` reports them
    /// too).
    pub records_failed: u64,
    /// Mean time from request to response.
    pub request_latency_avg: Duration,
    /// Longest time from request to response.
    pub request_latency_max: Duration,
    /// Bytes of `buffer_memory` in use now.
    pub buffer_in_use: u64,
    /// Bytes of `buffer_memory` free now. Java: `buffer-available-bytes`.
    pub buffer_available_bytes: u64,
    /// `buffer_memory`. Java: `buffer-total-bytes`.
    pub buffer_total_bytes: u64,
    /// Encoded size of the batches sealed for sending, over their size before
    /// compression (1.0 without compression, or before any batch). Java:
    /// `compression-rate-avg`.
    pub compression_rate_avg: f64,
}

impl ProducerMetrics {
    /// Mean encoded batch size in bytes. Java: `batch-size-avg`.
    pub fn average_batch_size(&self) -> f64 {
        if self.batches_sent == 0 {
            0.0
        } else {
            self.bytes_sent as f64 / self.batches_sent as f64
        }
    }

    /// The metrics under the Java producer's names (latencies in milliseconds).
    ///
    /// # Examples
    /// ```
    /// let m = kafka_sync::producer::ProducerMetrics::default();
    /// assert_eq!(m.to_map()["record-send-total"], 0.0);
    /// assert_eq!(m.to_map()["batch-size-avg"], 0.0);
    /// ```
    pub fn to_map(&self) -> std::collections::BTreeMap<String, f64> {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        [
            ("record-send-total", self.records_sent as f64),
            ("record-error-total", self.records_failed as f64),
            ("record-retry-total", self.retries as f64),
            ("batch-total", self.batches_sent as f64),
            ("byte-total", self.bytes_sent as f64),
            ("request-total", self.requests_sent as f64),
            ("request-latency-avg", ms(self.request_latency_avg)),
            ("request-latency-max", ms(self.request_latency_max)),
            ("batch-size-avg", self.average_batch_size()),
            ("compression-rate-avg", self.compression_rate_avg),
            ("buffer-available-bytes", self.buffer_available_bytes as f64),
            ("buffer-total-bytes", self.buffer_total_bytes as f64),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    records_sent: AtomicU64,
    batches_sent: AtomicU64,
    bytes_sent: AtomicU64,
    requests_sent: AtomicU64,
    retries: AtomicU64,
    errors: AtomicU64,
    records_failed: AtomicU64,
    responses: AtomicU64,
    latency_total_us: AtomicU64,
    latency_max_us: AtomicU64,
    sealed_uncompressed: AtomicU64,
    sealed_encoded: AtomicU64,
}

impl Metrics {
    pub fn on_request(&self, batches: usize, bytes: usize) {
        self.requests_sent.fetch_add(1, Relaxed);
        self.batches_sent.fetch_add(batches as u64, Relaxed);
        self.bytes_sent.fetch_add(bytes as u64, Relaxed);
    }
    pub fn on_response(&self, latency: Duration) {
        let us = latency.as_micros() as u64;
        self.responses.fetch_add(1, Relaxed);
        self.latency_total_us.fetch_add(us, Relaxed);
        self.latency_max_us.fetch_max(us, Relaxed);
    }
    /// A batch of `uncompressed` bytes was encoded (and compressed) to `encoded`.
    pub fn on_sealed(&self, uncompressed: usize, encoded: usize) {
        self.sealed_uncompressed
            .fetch_add(uncompressed as u64, Relaxed);
        self.sealed_encoded.fetch_add(encoded as u64, Relaxed);
    }
    pub fn on_delivered(&self, records: u64) {
        self.records_sent.fetch_add(records, Relaxed);
    }
    pub fn on_retry(&self) {
        self.retries.fetch_add(1, Relaxed);
    }
    pub fn on_error(&self) {
        self.errors.fetch_add(1, Relaxed);
    }
    pub fn on_failed(&self, records: u64) {
        self.records_failed.fetch_add(records, Relaxed);
    }

    pub fn snapshot(&self, buffer_in_use: usize, buffer_memory: usize) -> ProducerMetrics {
        let responses = self.responses.load(Relaxed);
        let uncompressed = self.sealed_uncompressed.load(Relaxed);
        ProducerMetrics {
            records_sent: self.records_sent.load(Relaxed),
            batches_sent: self.batches_sent.load(Relaxed),
            bytes_sent: self.bytes_sent.load(Relaxed),
            requests_sent: self.requests_sent.load(Relaxed),
            retries: self.retries.load(Relaxed),
            errors: self.errors.load(Relaxed),
            records_failed: self.records_failed.load(Relaxed),
            request_latency_avg: Duration::from_micros(
                self.latency_total_us
                    .load(Relaxed)
                    .checked_div(responses)
                    .unwrap_or(0),
            ),
            request_latency_max: Duration::from_micros(self.latency_max_us.load(Relaxed)),
            buffer_in_use: buffer_in_use as u64,
            buffer_available_bytes: buffer_memory.saturating_sub(buffer_in_use) as u64,
            buffer_total_bytes: buffer_memory as u64,
            compression_rate_avg: if uncompressed == 0 {
                1.0
            } else {
                self.sealed_encoded.load(Relaxed) as f64 / uncompressed as f64
            },
        }
    }
}
