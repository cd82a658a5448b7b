//! How the admin client makes calls: one request to one broker, retries with backoff until
//! the call's deadline, and rounds of requests over many items that retry only the items
//! that failed with a retriable error.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::net::metadata::{ClusterMetadata, NodeId};
use crate::net::network::{RequestBody, Response};
use crate::net::rpc::{wait_response, RpcCall, Target};
use crate::protocol::api::metadata::{MetadataRequest, MetadataRequestTopic, MetadataResponse};
use crate::protocol::api::Message;
use crate::protocol::error_code::ErrorCode;

use super::driver::AdminCommand;
use super::AdminClient;

/// The newest Metadata version the admin client reads (the engine's own limit).
const METADATA_MAX_VERSION: i16 = 12;

/// A request sent to the I/O thread whose response has not been waited for yet.
pub(super) struct Pending {
    rx: Receiver<Result<Response>>,
    timeout: Duration,
    what: String,
}

impl Pending {
    /// Waits for the response and decodes it as `M`.
    pub fn wait<M: Message>(self) -> Result<(NodeId, M)> {
        wait_response(self.rx, self.timeout, &self.what)
    }
}

impl AdminClient {
    /// Sends one request to `target` without waiting; the I/O thread fails it at
    /// `deadline` if no broker took it by then.
    pub(super) fn send<R: RequestBody + 'static>(
        &self,
        target: Target,
        body: R,
        max_version: Option<i16>,
        deadline: Instant,
        what: &str,
    ) -> Result<Pending> {
        let timeout = deadline.saturating_duration_since(Instant::now());
        if timeout.is_zero() {
            return Err(Error::timeout(what, Duration::ZERO));
        }
        let (mut call, rx) = RpcCall::new(target, body, timeout);
        call.max_version = max_version;
        self.io.send(AdminCommand::Rpc(call))?;
        Ok(Pending {
            rx,
            timeout,
            what: what.to_owned(),
        })
    }

    /// Sends one request and waits for its response, without retrying.
    pub(super) fn call_once<M: Message, R: RequestBody + 'static>(
        &self,
        target: Target,
        body: R,
        max_version: Option<i16>,
        deadline: Instant,
        what: &str,
    ) -> Result<(NodeId, M)> {
        self.send(target, body, max_version, deadline, what)?.wait()
    }

    /// Sends the request `make` builds and waits for its response, retrying lost
    /// connections and other retriable failures of the whole request until `deadline`.
    pub(super) fn call<M: Message, R: RequestBody + 'static>(
        &self,
        target: Target,
        make: impl Fn() -> R,
        max_version: Option<i16>,
        deadline: Instant,
        what: &str,
    ) -> Result<(NodeId, M)> {
        let start = Instant::now();
        loop {
            match self.call_once(target, make(), max_version, deadline, what) {
                Ok(r) => return Ok(r),
                Err(e) if retriable(&e) => {
                    log::debug!("{what}: {e}; retrying");
                    if !self.backoff(deadline) {
                        return Err(give_up(what, start, Some(e)));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Asks the I/O thread for fresh metadata (a controller, leader or broker moved).
    pub(super) fn refresh_metadata(&self) {
        let _ = self.io.send(AdminCommand::RefreshMetadata);
    }

    /// Refreshes metadata and sleeps `retry_backoff`; false (without sleeping) if the
    /// deadline would pass first.
    pub(super) fn backoff(&self, deadline: Instant) -> bool {
        let backoff = self.config.client.retry_backoff;
        if crate::deadline::from_now(backoff) >= deadline {
            return false;
        }
        self.refresh_metadata();
        std::thread::sleep(backoff);
        true
    }

    /// Fresh metadata from any broker: brokers, controller and cluster id, plus the given
    /// topics (`None`: every topic; an empty slice: none).
    pub(super) fn fetch_metadata(
        &self,
        topics: Option<&[String]>,
        deadline: Instant,
    ) -> Result<ClusterMetadata> {
        let make = || MetadataRequest {
            topics: topics.map(|ts| {
                ts.iter()
                    .map(|t| MetadataRequestTopic {
                        name: Some(t.clone()),
                        ..Default::default()
                    })
                    .collect()
            }),
            allow_auto_topic_creation: false,
            ..Default::default()
        };
        let (_, resp): (_, MetadataResponse) = self.call(
            Target::Any,
            make,
            Some(METADATA_MAX_VERSION),
            deadline,
            "a Metadata response",
        )?;
        Ok(ClusterMetadata::from_response(
            &resp,
            &ClusterMetadata::default(),
            true,
        ))
    }

    /// Runs `round` over the items until each has a final result or `deadline` passes.
    ///
    /// A round sends the requests for the items still pending and returns each item's
    /// result. Items with a [`retriable`] error are tried again after `retry_backoff` (and a
    /// metadata refresh); at the deadline they get a timeout error naming their last
    /// error. A round that fails as a whole with a retriable error is retried too; if it
    /// still fails at the deadline, or fails with any other error, the call fails.
    pub(super) fn retry_items<K, V>(
        &self,
        what: &str,
        deadline: Instant,
        items: impl IntoIterator<Item = K>,
        mut round: impl FnMut(&[K], Instant) -> Result<Vec<(K, Result<V>)>>,
    ) -> Result<BTreeMap<K, Result<V>>>
    where
        K: Ord + Clone + Display,
    {
        let start = Instant::now();
        let mut pending: Vec<K> = items
            .into_iter()
            .collect::<BTreeSet<K>>()
            .into_iter()
            .collect();
        let mut done = BTreeMap::new();
        while !pending.is_empty() {
            let mut retry: Vec<(K, Error)> = Vec::new();
            let mut whole: Option<Error> = None;
            match round(&pending, deadline) {
                Ok(results) => {
                    let mut answered = BTreeSet::new();
                    for (k, r) in results {
                        if !answered.insert(k.clone()) || !pending.contains(&k) {
                            continue; // an item we did not ask about, or a duplicate
                        }
                        match r {
                            Err(e) if retriable(&e) => retry.push((k, e)),
                            r => {
                                done.insert(k, r);
                            }
                        }
                    }
                    for k in pending.iter().filter(|k| !answered.contains(*k)) {
                        let err =
                            Error::Protocol(format!("the broker's answer to {what} left out {k}"));
                        done.insert(k.clone(), Err(err));
                    }
                }
                Err(e) if retriable(&e) => {
                    whole = Some(e.clone());
                    retry = pending.iter().map(|k| (k.clone(), e.clone())).collect();
                }
                Err(e) => return Err(e),
            }
            if retry.is_empty() {
                break;
            }
            for (k, e) in &retry {
                log::debug!("{what}: {k}: {e}; retrying");
            }
            if !self.backoff(deadline) {
                if let Some(e) = whole {
                    return Err(give_up(what, start, Some(e)));
                }
                for (k, e) in retry {
                    done.insert(k, Err(give_up(what, start, Some(e))));
                }
                break;
            }
            pending = retry.into_iter().map(|(k, _)| k).collect();
        }
        Ok(done)
    }
}

impl AdminClient {
    /// Sends `make(broker)` to each broker (`None`: every broker in the metadata), all at
    /// once, and turns each answer into a result with `parse`; brokers whose request or
    /// answer failed with a retriable error are asked again until `deadline`. A broker id
    /// the cluster does not have gets `BROKER_NOT_AVAILABLE`.
    pub(super) fn each_broker<M: Message, R: RequestBody + 'static, V>(
        &self,
        what: &str,
        brokers: Option<&[NodeId]>,
        deadline: Instant,
        make: impl Fn(NodeId) -> R,
        parse: impl Fn(NodeId, M) -> Result<V>,
    ) -> Result<BTreeMap<NodeId, Result<V>>> {
        let known: BTreeSet<NodeId> = self
            .fetch_metadata(Some(&[]), deadline)?
            .brokers
            .into_keys()
            .collect();
        let asked: BTreeSet<NodeId> = match brokers {
            Some(ids) => ids.iter().copied().collect(),
            None => known.clone(),
        };
        let (live, unknown): (Vec<NodeId>, Vec<NodeId>) =
            asked.into_iter().partition(|id| known.contains(id));
        let response = format!("an answer to {what}");
        let mut out = self.retry_items(what, deadline, live, |pending, deadline| {
            let sent: Vec<_> = pending
                .iter()
                .map(|id| {
                    let p = self.send(Target::Node(*id), make(*id), None, deadline, &response);
                    (*id, p)
                })
                .collect();
            Ok(sent
                .into_iter()
                .map(|(id, p)| {
                    let r = p
                        .and_then(|p| p.wait::<M>())
                        .and_then(|(_, m)| parse(id, m));
                    (id, r)
                })
                .collect())
        })?;
        for id in unknown {
            let e = Error::broker(
                ErrorCode::BROKER_NOT_AVAILABLE,
                Some(format!("broker {id} is not in the cluster metadata")),
            );
            out.insert(id, Err(e));
        }
        Ok(out)
    }
}

/// True for the failures an admin call retries: lost connections, network timeouts,
/// and the broker errors that mean "ask again, maybe elsewhere" (the controller,
/// coordinator or leader moved or is still loading). Other retriable-looking codes, such
/// as `UNKNOWN_TOPIC_OR_PARTITION` or `REQUEST_TIMED_OUT` in a CreateTopics answer, are
/// final answers to an admin call.
pub(super) fn retriable(e: &Error) -> bool {
    match e {
        Error::Disconnected { .. } | Error::Timeout { .. } | Error::NoBrokersAvailable { .. } => {
            true
        }
        Error::Broker { code, .. } => [
            ErrorCode::NOT_CONTROLLER,
            ErrorCode::COORDINATOR_NOT_AVAILABLE,
            ErrorCode::NOT_COORDINATOR,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            ErrorCode::LEADER_NOT_AVAILABLE,
            ErrorCode::NOT_LEADER_OR_FOLLOWER,
            ErrorCode::THROTTLING_QUOTA_EXCEEDED,
            ErrorCode::UNSTABLE_OFFSET_COMMIT,
        ]
        .contains(code),
        _ => false,
    }
}

/// `Ok(())` for error code 0, else the broker error with the broker's message.
pub(super) fn check(code: i16, message: Option<&str>) -> Result<()> {
    check_code(code, || message.unwrap_or_default().to_owned())
}

/// `Ok(())` for error code 0, else the broker error with `context()` as its message.
pub(super) fn check_code(code: i16, context: impl FnOnce() -> String) -> Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(Error::broker(ErrorCode(code), Some(context())))
    }
}

/// Like [`check`], naming `topic` in a `TOPIC_AUTHORIZATION_FAILED` refusal.
pub(super) fn check_topic(code: i16, message: Option<&str>, topic: &str) -> Result<()> {
    match code {
        0 => Ok(()),
        c => Err(Error::for_topic(
            ErrorCode(c),
            message.map(str::to_owned),
            topic,
        )),
    }
}

/// Like [`check_code`], naming `group` in a `GROUP_AUTHORIZATION_FAILED` refusal.
pub(super) fn check_group(code: i16, group: &str, context: impl FnOnce() -> String) -> Result<()> {
    if code == ErrorCode::GROUP_AUTHORIZATION_FAILED.0 {
        return Err(Error::for_resource(ErrorCode(code), None, group));
    }
    check_code(code, context)
}

/// Like [`check`], naming what was refused in a `CLUSTER_AUTHORIZATION_FAILED`.
pub(super) fn check_cluster(code: i16, message: Option<&str>, operation: &str) -> Result<()> {
    if code == ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0 {
        return Err(Error::for_resource(ErrorCode(code), None, operation));
    }
    check(code, message)
}

/// The error of a call whose deadline passed while it retried `last`.
pub(super) fn give_up(what: &str, start: Instant, last: Option<Error>) -> Error {
    match last {
        Some(e @ Error::NoBrokersAvailable { .. }) => e,
        Some(Error::Timeout { what: inner, .. }) => {
            Error::timeout(format!("{what} ({inner})"), start.elapsed())
        }
        Some(e) => Error::timeout(format!("{what} (last error: {e})"), start.elapsed()),
        None => Error::timeout(what, start.elapsed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn giving_up_keeps_no_brokers_and_names_the_last_error() {
        let start = Instant::now();
        let e = give_up(
            "x",
            start,
            Some(Error::NoBrokersAvailable {
                servers: "h:1".into(),
                reason: "refused".into(),
            }),
        );
        assert!(matches!(e, Error::NoBrokersAvailable { .. }));
        let e = give_up(
            "creating topics",
            start,
            Some(Error::from(ErrorCode::NOT_CONTROLLER)),
        );
        assert!(matches!(e, Error::Timeout { .. }));
        assert!(e.to_string().contains("NOT_CONTROLLER"), "{e}");
        assert!(retriable(&Error::from(ErrorCode::NOT_COORDINATOR)));
        assert!(!retriable(&Error::from(
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        )));
        assert!(!retriable(&Error::Closed));
        let e = give_up("y", start, None);
        assert!(matches!(e, Error::Timeout { .. }));
    }
}
