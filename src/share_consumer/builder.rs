//! [`ShareConsumerBuilder`]: configuration of a [`ShareConsumer`].

use std::sync::Arc;
use std::time::Duration;

use crate::client_setters::client_setters;
use crate::config::ConfigError;
use crate::error::Result;
use crate::net::io_thread::IoHandle;

use super::config::ShareConsumerConfig;
use super::driver::ShareDriver;
use super::handle::ShareConsumer;
use super::record::{AcknowledgementMode, AcknowledgementResult};

/// The commit callback: called on the polling thread with each partition's result.
pub(crate) type CommitCallback = Box<dyn FnMut(&AcknowledgementResult) + Send>;

/// Builds a [`ShareConsumer`]. Setters take kafka-python-style names, with `Duration`
/// for `*_ms`; [`set`](Self::set) takes the Java property names.
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// use kafka_sync::share_consumer::{AcknowledgementMode, ShareConsumer};
/// let consumer = ShareConsumer::builder()
///     .bootstrap_servers("127.0.0.1:9092")
///     .group_id("work-queue")
///     .acknowledgement_mode(AcknowledgementMode::Explicit)
///     .acknowledgement_commit_callback(|r| {
///         if let Err(e) = &r.result { eprintln!("{}: {e}", r.partition); }
///     })
///     .build()?;
/// # Ok(()) }
/// ```
pub struct ShareConsumerBuilder {
    config: ShareConsumerConfig,
    error: Option<ConfigError>,
    callback: Option<CommitCallback>,
}

impl ShareConsumerBuilder {
    pub(crate) fn new() -> Self {
        ShareConsumerBuilder {
            config: ShareConsumerConfig::default(),
            error: None,
            callback: None,
        }
    }

    client_setters!();

    /// The share group; required. Java: `group.id`.
    pub fn group_id(self, group: impl AsRef<str>) -> Self {
        self.set("group.id", group.as_ref())
    }

    /// Implicit (the default) or explicit acknowledgement. Java:
    /// `share.acknowledgement.mode`.
    pub fn acknowledgement_mode(self, mode: AcknowledgementMode) -> Self {
        let v = match mode {
            AcknowledgementMode::Implicit => "implicit",
            AcknowledgementMode::Explicit => "explicit",
        };
        self.set("share.acknowledgement.mode", v)
    }

    /// Most records one poll returns. Default 500. Java: `max.poll.records`.
    pub fn max_poll_records(self, n: usize) -> Self {
        self.set("max.poll.records", &n.to_string())
    }

    /// Longest the broker holds a ShareFetch waiting for data. Default 500 ms. Java:
    /// `fetch.max.wait.ms`.
    pub fn fetch_max_wait(self, wait: Duration) -> Self {
        self.set("fetch.max.wait.ms", &wait.as_millis().to_string())
    }

    /// The broker answers a ShareFetch once it has this many bytes. Default 1. Java:
    /// `fetch.min.bytes`.
    pub fn fetch_min_bytes(self, bytes: i32) -> Self {
        self.set("fetch.min.bytes", &bytes.to_string())
    }

    /// Most bytes one ShareFetch response carries. Default 50 MiB. Java:
    /// `fetch.max.bytes`.
    pub fn fetch_max_bytes(self, bytes: i32) -> Self {
        self.set("fetch.max.bytes", &bytes.to_string())
    }

    /// End iteration after this long without a record; forever by default.
    /// kafka-python: `consumer_timeout_ms`.
    pub fn consumer_timeout(self, timeout: Duration) -> Self {
        self.set("consumer.timeout.ms", &timeout.as_millis().to_string())
    }

    /// Verify record CRCs. Default true. Java: `check.crcs`.
    pub fn check_crcs(self, on: bool) -> Self {
        self.set("check.crcs", if on { "true" } else { "false" })
    }

    /// Timeout of `close`'s acknowledgements. Default 60 s. Java:
    /// `default.api.timeout.ms`.
    pub fn default_api_timeout(self, timeout: Duration) -> Self {
        self.set("default.api.timeout.ms", &timeout.as_millis().to_string())
    }

    /// Called on the polling thread (inside `poll`, `commit_sync`, `commit_async` or
    /// `close`) with the result of each partition's acknowledgements (Java's
    /// `AcknowledgementCommitCallback`). None by default.
    pub fn acknowledgement_commit_callback(
        mut self,
        callback: impl FnMut(&AcknowledgementResult) + Send + 'static,
    ) -> Self {
        self.callback = Some(Box::new(callback));
        self
    }

    /// Sets any property by its Java name; an unknown key or bad value is reported by
    /// [`build`](Self::build).
    ///
    /// # Examples
    /// ```
    /// let b = kafka_sync::share_consumer::ShareConsumer::builder()
    ///     .set("group.id", "g")
    ///     .set("share.acknowledgement.mode", "explicit");
    /// ```
    pub fn set(mut self, key: &str, value: &str) -> Self {
        if self.error.is_none() {
            if let Err(e) = self.config.set(key, value) {
                self.error = Some(e);
            }
        }
        self
    }

    /// Validates the configuration and starts the I/O thread.
    ///
    /// # Examples
    /// ```
    /// let err = kafka_sync::share_consumer::ShareConsumer::builder().build().err().unwrap();
    /// assert!(matches!(err, kafka_sync::Error::Config(_)));
    /// ```
    pub fn build(self) -> Result<ShareConsumer> {
        if let Some(e) = self.error {
            return Err(e.into());
        }
        let config = Arc::new(self.config.validated()?);
        let (tx, rx) = std::sync::mpsc::channel();
        let driver = ShareDriver::new(config.clone(), tx);
        let io = IoHandle::spawn(config.client.clone(), driver)?;
        Ok(ShareConsumer::new(io, config, rx, self.callback))
    }
}

impl std::fmt::Debug for ShareConsumerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareConsumerBuilder")
            .field("config", &self.config)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}
