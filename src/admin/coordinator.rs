//! Group coordinators: finding each group's coordinator with FindCoordinator (batched on
//! brokers that support it), and rounds of requests sent to each coordinator.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::net::metadata::BrokerMetadata;
use crate::net::rpc::Target;
use crate::protocol::api::find_coordinator::{FindCoordinatorRequest, FindCoordinatorResponse};
use crate::protocol::api::Message;
use crate::protocol::error_code::ErrorCode;

use super::call::Pending;
use super::AdminClient;

/// What a coordinator coordinates: FindCoordinator's `key_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CoordinatorType {
    /// A consumer group (key: the group id).
    Group = 0,
    /// A transactional producer (key: the transactional id).
    Transaction = 1,
}

/// The coordinator of `group` from a FindCoordinator answer, or its error.
fn found(
    group: &str,
    error_code: i16,
    message: Option<String>,
    node_id: i32,
    host: String,
    port: i32,
) -> Result<BrokerMetadata> {
    if error_code != 0 {
        return Err(Error::for_resource(ErrorCode(error_code), message, group));
    }
    match u16::try_from(port) {
        Ok(port) if node_id >= 0 && !host.is_empty() => Ok(BrokerMetadata {
            id: node_id,
            host,
            port,
            rack: None,
        }),
        // No usable coordinator named: ask again.
        _ => Err(Error::broker(
            ErrorCode::COORDINATOR_NOT_AVAILABLE,
            Some(format!(
                "FindCoordinator named node {node_id} at {host}:{port}"
            )),
        )),
    }
}

impl AdminClient {
    /// Finds the coordinator of each group. Brokers with FindCoordinator v4+ answer for
    /// all groups at once; older ones for the first key only, so the rest are asked for
    /// one by one. Since the I/O thread picks the version, each request carries both the
    /// single `key` and the batch `coordinator_keys`.
    pub(super) fn find_coordinators(
        &self,
        kind: CoordinatorType,
        groups: &[String],
        deadline: Instant,
    ) -> Result<BTreeMap<String, Result<BrokerMetadata>>> {
        let mut out = BTreeMap::new();
        let mut todo: Vec<String> = groups.to_vec();
        while let Some(first) = todo.first().cloned() {
            let make = || FindCoordinatorRequest {
                key: first.clone(),
                key_type: kind as i8,
                coordinator_keys: todo.clone(),
            };
            let (_, resp): (_, FindCoordinatorResponse) = self.call(
                Target::Any,
                make,
                None,
                deadline,
                "a FindCoordinator response",
            )?;
            if resp.coordinators.is_empty() {
                let r = found(
                    &first,
                    resp.error_code,
                    resp.error_message,
                    resp.node_id,
                    resp.host,
                    resp.port,
                );
                out.insert(first, r);
                todo.remove(0);
                continue;
            }
            for c in resp.coordinators {
                if todo.contains(&c.key) && !out.contains_key(&c.key) {
                    let r = found(
                        &c.key,
                        c.error_code,
                        c.error_message,
                        c.node_id,
                        c.host,
                        c.port,
                    );
                    out.insert(c.key, r);
                }
            }
            for g in todo.drain(..) {
                out.entry(g.clone()).or_insert_with(|| {
                    Err(Error::Protocol(format!(
                        "FindCoordinator left out group {g}"
                    )))
                });
            }
        }
        Ok(out)
    }

    /// One round of a group call: finds the groups' coordinators, sends one request per
    /// coordinator (all at once), then reads each answer. A group whose coordinator could
    /// not be found, or whose request failed, gets that error (a retriable one makes
    /// [`retry_items`](AdminClient::retry_items) look the coordinator up again).
    pub(super) fn per_coordinator<V, M: Message>(
        &self,
        groups: &[String],
        deadline: Instant,
        send: impl Fn(Target, &[String]) -> Result<Pending>,
        parse: impl Fn(&BrokerMetadata, M) -> Vec<(String, Result<V>)>,
    ) -> Result<Vec<(String, Result<V>)>> {
        self.per_coordinator_of(CoordinatorType::Group, groups, deadline, send, parse)
    }

    /// [`per_coordinator`](AdminClient::per_coordinator) for keys of any coordinator type.
    pub(super) fn per_coordinator_of<V, M: Message>(
        &self,
        kind: CoordinatorType,
        groups: &[String],
        deadline: Instant,
        send: impl Fn(Target, &[String]) -> Result<Pending>,
        parse: impl Fn(&BrokerMetadata, M) -> Vec<(String, Result<V>)>,
    ) -> Result<Vec<(String, Result<V>)>> {
        let mut out = Vec::new();
        let mut by_coordinator: BTreeMap<i32, (BrokerMetadata, Vec<String>)> = BTreeMap::new();
        for (group, coordinator) in self.find_coordinators(kind, groups, deadline)? {
            match coordinator {
                Ok(c) => by_coordinator
                    .entry(c.id)
                    .or_insert_with(|| (c, Vec::new()))
                    .1
                    .push(group),
                Err(e) => out.push((group, Err(e))),
            }
        }
        let sent: Vec<_> = by_coordinator
            .into_values()
            .map(|(c, groups)| (send(Target::Node(c.id), &groups), c, groups))
            .collect();
        for (pending, coordinator, groups) in sent {
            match pending.and_then(|p| p.wait::<M>()) {
                Ok((_, resp)) => out.extend(parse(&coordinator, resp)),
                Err(e) => out.extend(groups.into_iter().map(|g| (g, Err(e.clone())))),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coordinator_needs_an_id_a_host_and_a_port() {
        let c = found("g", 0, None, 2, "b2".into(), 9092).unwrap();
        assert_eq!((c.id, c.address()), (2, "b2:9092".to_string()));
        let e = found("g", 15, Some("loading".into()), -1, String::new(), -1).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::COORDINATOR_NOT_AVAILABLE));
        let e = found("g", 0, None, -1, String::new(), 0).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::COORDINATOR_NOT_AVAILABLE));
        assert!(found("g", 0, None, 1, "h".into(), 70000).is_err());
    }
}
