//! Delivery futures: one shared completion per batch, one light handle per record.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

use super::record::RecordMetadata;

/// Called once with a record's outcome, on the producer's I/O thread.
pub type DeliveryCallback = Box<dyn FnOnce(Result<RecordMetadata>) + Send>;

/// Where a batch landed: its first offset and, on LogAppendTime topics, the broker time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchOutcome {
    pub base_offset: i64,
    pub log_append_time: i64,
}

/// The outcome of one batch, shared by the futures of all its records.
pub(crate) struct BatchCompletion {
    pub topic: Arc<str>,
    pub partition: i32,
    state: Mutex<CompletionState>,
    done: Condvar,
}

#[derive(Default)]
struct CompletionState {
    result: Option<std::result::Result<BatchOutcome, Error>>,
    callbacks: Vec<(RecordInfo, DeliveryCallback)>,
}

/// What a record's metadata needs besides the batch outcome.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordInfo {
    pub relative_offset: i32,
    pub timestamp: i64,
    pub key_size: i32,
    pub value_size: i32,
}

impl BatchCompletion {
    pub fn new(topic: Arc<str>, partition: i32) -> Arc<Self> {
        Arc::new(BatchCompletion {
            topic,
            partition,
            state: Mutex::new(CompletionState::default()),
            done: Condvar::new(),
        })
    }

    /// Adds a callback for one record; runs it at once if the batch is already done.
    pub fn add_callback(&self, info: RecordInfo, cb: DeliveryCallback) {
        let mut st = lock(&self.state);
        match &st.result {
            Some(r) => {
                let meta = self.metadata(r, info);
                drop(st);
                cb(meta);
            }
            None => st.callbacks.push((info, cb)),
        }
    }

    /// Completes the batch, wakes every waiter and runs the callbacks.
    pub fn complete(&self, result: std::result::Result<BatchOutcome, Error>) {
        let callbacks = {
            let mut st = lock(&self.state);
            if st.result.is_some() {
                return;
            }
            st.result = Some(result.clone());
            std::mem::take(&mut st.callbacks)
        };
        self.done.notify_all();
        for (info, cb) in callbacks {
            cb(self.metadata(&result, info));
        }
    }

    pub fn is_done(&self) -> bool {
        lock(&self.state).result.is_some()
    }

    fn metadata(
        &self,
        r: &std::result::Result<BatchOutcome, Error>,
        info: RecordInfo,
    ) -> Result<RecordMetadata> {
        let outcome = r.as_ref().map_err(Clone::clone)?;
        Ok(RecordMetadata {
            topic: self.topic.to_string(),
            partition: self.partition,
            offset: if outcome.base_offset < 0 {
                -1
            } else {
                outcome.base_offset + info.relative_offset as i64
            },
            timestamp: if outcome.log_append_time >= 0 {
                outcome.log_append_time
            } else {
                info.timestamp
            },
            serialized_key_size: info.key_size,
            serialized_value_size: info.value_size,
        })
    }

    fn wait(&self, deadline: Option<Instant>, info: RecordInfo) -> Option<Result<RecordMetadata>> {
        let mut st = lock(&self.state);
        loop {
            if let Some(r) = &st.result {
                return Some(self.metadata(r, info));
            }
            match deadline {
                None => st = self.done.wait(st).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return None;
                    }
                    st = self
                        .done
                        .wait_timeout(st, d - now)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0);
                }
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The pending delivery of one record, as kafka-python's `FutureRecordMetadata`.
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// use std::time::Duration;
/// let producer = kafka_sync::Producer::builder().bootstrap_servers("127.0.0.1:9092").build()?;
/// let future = producer.send(kafka_sync::ProducerRecord::new("t").value("v"))?;
/// let meta = future.wait_timeout(Duration::from_secs(60))?;
/// assert!(meta.offset >= 0);
/// # Ok(()) }
/// ```
pub struct DeliveryFuture {
    batch: Arc<BatchCompletion>,
    info: RecordInfo,
}

impl DeliveryFuture {
    pub(crate) fn new(batch: Arc<BatchCompletion>, info: RecordInfo) -> Self {
        DeliveryFuture { batch, info }
    }

    /// Blocks until the record is delivered or fails.
    pub fn wait(self) -> Result<RecordMetadata> {
        self.batch
            .wait(None, self.info)
            .unwrap_or(Err(Error::Closed))
    }

    /// Blocks for at most `timeout`; a `Timeout` error if the delivery is still pending.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<RecordMetadata> {
        self.batch
            .wait(Some(crate::deadline::from_now(timeout)), self.info)
            .unwrap_or_else(|| Err(Error::timeout("record delivery", timeout)))
    }

    /// True once the record is delivered or has failed.
    pub fn is_done(&self) -> bool {
        self.batch.is_done()
    }

    /// The outcome if it is known, without blocking.
    pub fn try_get(&self) -> Option<Result<RecordMetadata>> {
        self.is_done().then(|| self.wait_timeout(Duration::ZERO))
    }

    /// Runs `callback` with the outcome, on the producer's I/O thread (or here, at once,
    /// if the delivery already completed). While it runs the producer sends nothing:
    /// keep it short, and never block in it on the same producer (`flush`, `close`,
    /// another future's `wait`), which would wait for this very thread.
    pub fn on_complete(self, callback: impl FnOnce(Result<RecordMetadata>) + Send + 'static) {
        self.batch.add_callback(self.info, Box::new(callback));
    }
}

impl std::fmt::Debug for DeliveryFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryFuture")
            .field("topic", &self.batch.topic)
            .field("partition", &self.batch.partition)
            .field("done", &self.is_done())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(rel: i32) -> RecordInfo {
        RecordInfo {
            relative_offset: rel,
            timestamp: 100,
            key_size: -1,
            value_size: 3,
        }
    }

    #[test]
    fn futures_share_one_batch_outcome() {
        let batch = BatchCompletion::new("t".into(), 2);
        let a = DeliveryFuture::new(batch.clone(), info(0));
        let b = DeliveryFuture::new(batch.clone(), info(1));
        assert!(a.try_get().is_none());
        assert!(matches!(
            a.wait_timeout(Duration::from_millis(1)),
            Err(Error::Timeout { .. })
        ));
        let (tx, rx) = std::sync::mpsc::channel();
        DeliveryFuture::new(batch.clone(), info(2)).on_complete(move |r| tx.send(r).unwrap());
        let waiter = std::thread::spawn(move || b.wait());
        batch.complete(Ok(BatchOutcome {
            base_offset: 40,
            log_append_time: -1,
        }));
        assert_eq!(a.wait().unwrap().offset, 40);
        let m = waiter.join().unwrap().unwrap();
        assert_eq!((m.offset, m.partition, m.timestamp), (41, 2, 100));
        assert_eq!(rx.recv().unwrap().unwrap().offset, 42);
    }

    #[test]
    fn failure_reaches_every_record() {
        let batch = BatchCompletion::new("t".into(), 0);
        let a = DeliveryFuture::new(batch.clone(), info(0));
        batch.complete(Err(Error::Closed));
        assert!(matches!(a.wait(), Err(Error::Closed)));
    }
}
