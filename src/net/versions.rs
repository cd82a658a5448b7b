//! The API versions a broker supports, learned from its ApiVersions response, and the
//! choice of the version to speak (capped at a pinned release's, with `api_version`); and
//! the tables seen, for `check_version()`.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::broker_version::BrokerVersion;
use crate::protocol::api::ApiKey;

use super::metadata::{NodeId, SharedMetadata};
use crate::config::ClientConfig;
use crate::error::{Error, Result};

/// Supported `(min, max)` version per API key, as a broker announced it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ApiVersionTable {
    ranges: Vec<Option<(i16, i16)>>,
    /// The ranges of the release the client is pinned to (`api_version`), by API key:
    /// no request goes out at a version that release does not support.
    pin: Option<Vec<Option<(i16, i16)>>>,
}

impl ApiVersionTable {
    /// An empty table whose picks stay within release `pin`'s versions, if any.
    pub fn pinned(pin: Option<BrokerVersion>) -> Self {
        ApiVersionTable {
            ranges: Vec::new(),
            pin: pin.map(BrokerVersion::api_ranges),
        }
    }

    /// The release this broker runs, inferred from its ranges (not from the pin).
    pub fn broker_version(&self) -> BrokerVersion {
        BrokerVersion::infer(|key| self.range(ApiKey(key)))
    }

    /// Records that the broker accepts `min..=max` of `api`.
    pub fn insert(&mut self, api: i16, min: i16, max: i16) {
        let Ok(idx) = usize::try_from(api) else {
            return;
        };
        if idx >= 4096 {
            return; // not a real API key; don't let a broker make us allocate
        }
        if self.ranges.len() <= idx {
            self.ranges.resize(idx + 1, None);
        }
        self.ranges[idx] = Some((min, max));
    }

    /// The broker's range for `api`, if it supports it at all.
    pub fn range(&self, api: ApiKey) -> Option<(i16, i16)> {
        usize::try_from(api.0)
            .ok()
            .and_then(|i| self.ranges.get(i).copied().flatten())
    }

    /// The highest version both sides support, or the broker's range (`(-1, -1)` when
    /// unknown to it) if there is none.
    pub fn pick(&self, api: ApiKey, client_min: i16, client_max: i16) -> Result<i16, (i16, i16)> {
        let range = match &self.pin {
            // The pinned release's range, within what the broker has.
            Some(pin) => self.range(api).and_then(|(bmin, bmax)| {
                let pinned = usize::try_from(api.0)
                    .ok()
                    .and_then(|i| pin.get(i).copied());
                pinned
                    .flatten()
                    .map(|(pmin, pmax)| (bmin.max(pmin), bmax.min(pmax)))
            }),
            None => self.range(api),
        };
        match range {
            Some((bmin, bmax)) => {
                let v = bmax.min(client_max);
                if v >= bmin.max(client_min) {
                    Ok(v)
                } else {
                    Err((bmin, bmax))
                }
            }
            None => Err((-1, -1)),
        }
    }
}

/// The ApiVersions tables of a client's brokers as its connections learn them, shared
/// with the user handles so `check_version()` can answer without a request.
#[derive(Debug, Default)]
pub(crate) struct SeenVersions {
    seen: Mutex<Seen>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Seen {
    /// The first broker's table: kafka-python's `check_version()` reports the broker it
    /// bootstrapped from.
    first: Option<ApiVersionTable>,
    by_node: BTreeMap<NodeId, ApiVersionTable>,
}

impl SeenVersions {
    /// Records the table a connection to `node` learned.
    pub fn note(&self, node: NodeId, table: &ApiVersionTable) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.first.is_none() {
            seen.first = Some(table.clone());
        }
        seen.by_node.insert(node, table.clone());
        self.changed.notify_all();
    }

    /// The first broker's table (of `node`'s, if given), waiting up to `timeout` for a
    /// connection to learn it.
    pub fn wait(&self, node: Option<NodeId>, timeout: Duration) -> Option<ApiVersionTable> {
        let deadline = crate::deadline::from_now(timeout);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let found = match node {
                Some(id) => seen.by_node.get(&id),
                None => seen.first.as_ref(),
            };
            if let Some(t) = found {
                return Some(t.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            if left.is_zero() {
                return None;
            }
            seen = match self.changed.wait_timeout(seen, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

/// `check_version()` of every client: the pinned release if `api_version` is set (as
/// kafka-python reports it), else the release inferred from the first broker's
/// ApiVersions, waiting up to `api_version_auto_timeout` for a connection to learn them.
pub(crate) fn check_version(
    config: &ClientConfig,
    metadata: &SharedMetadata,
) -> Result<BrokerVersion> {
    if let Some(pin) = config.api_version {
        return Ok(pin);
    }
    let timeout = config.api_version_auto_timeout;
    metadata
        .1
        .wait(None, timeout)
        .map(|t| t.broker_version())
        .ok_or_else(|| Error::timeout("a broker's ApiVersions (check_version)", timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_highest_common_version() {
        let mut t = ApiVersionTable::default();
        t.insert(3, 0, 12);
        t.insert(1, 4, 17);
        assert_eq!(t.pick(ApiKey(3), 0, 9), Ok(9));
        assert_eq!(t.pick(ApiKey(3), 0, 13), Ok(12));
        assert_eq!(t.pick(ApiKey(1), 0, 3), Err((4, 17)));
        assert_eq!(t.pick(ApiKey(18), 0, 3), Err((-1, -1)));
        t.insert(-5, 0, 1);
        t.insert(30000, 0, 1);
        assert_eq!(t.range(ApiKey(30000)), None);
    }

    #[test]
    fn a_pin_caps_each_pick_at_its_release() {
        let mut t = ApiVersionTable::pinned(Some(BrokerVersion::new(2, 8)));
        t.insert(0, 0, 13); // Produce: 2.8 goes to v9
        t.insert(1, 4, 18); // Fetch: 2.8 goes to v12, this broker starts at v4
        t.insert(68, 0, 1); // ConsumerGroupHeartbeat: not in 2.8
        assert_eq!(t.pick(ApiKey(0), 3, 12), Ok(9));
        assert_eq!(t.pick(ApiKey(1), 0, 17), Ok(12));
        assert_eq!(t.pick(ApiKey(68), 0, 1), Err((-1, -1)));
        // The release comes from the broker's ranges, not from the pin.
        assert_eq!(t.broker_version(), BrokerVersion::new(4, 1));
        let mut old = ApiVersionTable::pinned(Some(BrokerVersion::new(2, 8)));
        old.insert(0, 0, 7);
        assert_eq!(old.pick(ApiKey(0), 3, 12), Ok(7));
    }

    #[test]
    fn seen_versions_wait_with_a_deadline() {
        let seen = SeenVersions::default();
        assert!(seen.wait(None, Duration::from_millis(20)).is_none());
        let mut t = ApiVersionTable::default();
        t.insert(1, 0, 17);
        seen.note(-1, &t);
        seen.note(2, &ApiVersionTable::default());
        let first = seen.wait(None, Duration::ZERO).unwrap();
        assert_eq!(first.range(ApiKey(1)), Some((0, 17)));
        assert!(seen.wait(Some(2), Duration::ZERO).is_some());
        assert!(seen.wait(Some(3), Duration::ZERO).is_none());
    }
}
