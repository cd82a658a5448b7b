//! [`BrokerVersion`]: the Apache Kafka release a broker runs, as kafka-python's
//! `check_version()` reports it, inferred from the request versions the broker supports;
//! and the release tables that `api_version` pins a client to.

use std::fmt;
use std::str::FromStr;

mod releases;

use releases::{ranges_at, RELEASES};

/// An Apache Kafka release, such as `4.0` or `0.10.2`: what `check_version()` returns on
/// every client (kafka-python's version tuple), and what the `api_version` setting takes.
///
/// Ordered as releases are, and printed as `4.0`. Brokers report no release number, so
/// it is inferred from the newest request version the broker supports (kafka-python's
/// rule): a broker is at least the release that introduced the newest request version it
/// announces.
///
/// # Examples
/// ```
/// use kafka_sync::BrokerVersion;
/// let v: BrokerVersion = "2.8".parse().unwrap();
/// assert_eq!(v, BrokerVersion::new(2, 8));
/// assert!(v < BrokerVersion::new(3, 0));
/// assert_eq!(v.to_string(), "2.8");
/// assert_eq!(format!("{v:?}"), "BrokerVersion(2, 8)");
/// assert_eq!("(0, 10, 2)".parse::<BrokerVersion>().unwrap(), BrokerVersion::with_patch(0, 10, 2));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BrokerVersion {
    /// Major version: the `4` of 4.0.
    pub major: u16,
    /// Minor version: the `0` of 4.0.
    pub minor: u16,
    /// Patch version; 0 except for the 0.10.x releases, which changed the protocol.
    pub patch: u16,
}

impl BrokerVersion {
    /// The release `major.minor`.
    pub const fn new(major: u16, minor: u16) -> Self {
        BrokerVersion {
            major,
            minor,
            patch: 0,
        }
    }

    /// The release `major.minor.patch`.
    pub const fn with_patch(major: u16, minor: u16, patch: u16) -> Self {
        BrokerVersion {
            major,
            minor,
            patch,
        }
    }

    /// The release a broker runs, inferred from the `(min, max)` version it announces for
    /// each API key (`ranges(api_key)`), as kafka-python's
    /// `infer_broker_version_from_api_versions`: the newest release whose marker request
    /// version the broker supports; 0.10.0 (the first with ApiVersions) if none.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::BrokerVersion;
    /// // A broker whose Fetch goes up to v17 and ListOffsets to v9 runs 3.9.
    /// let ranges = |key: i16| match key {
    ///     1 => Some((0, 17)),
    ///     2 => Some((0, 9)),
    ///     _ => None,
    /// };
    /// assert_eq!(BrokerVersion::infer(ranges), BrokerVersion::new(3, 9));
    /// ```
    pub fn infer(ranges: impl Fn(i16) -> Option<(i16, i16)>) -> BrokerVersion {
        MARKERS
            .iter()
            .find(|&&(_, api, version)| {
                ranges(api).is_some_and(|(min, max)| min <= version && version <= max)
            })
            .map_or(BrokerVersion::with_patch(0, 10, 0), |&(v, _, _)| v)
    }

    /// The release whose request versions a client pinned to `self` uses: `self` if the
    /// table knows it, else the newest known release before it (kafka-python's rule for
    /// a release it has no table for), or `None` before 0.11.
    pub(crate) fn pinned_release(self) -> Option<BrokerVersion> {
        RELEASES
            .iter()
            .rev()
            .map(|r| r.version)
            .find(|v| *v <= self)
    }

    /// The `(min, max)` versions that the pinned release (see
    /// [`pinned_release`](Self::pinned_release)) supports, indexed by API key; empty
    /// before 0.11, so a client pinned that far back can send nothing.
    pub(crate) fn api_ranges(self) -> Vec<Option<(i16, i16)>> {
        self.pinned_release().map_or_else(Vec::new, ranges_at)
    }

    /// The `(min, max)` versions of `api_key` in [`api_ranges`](Self::api_ranges).
    #[cfg(test)]
    fn api_range(self, api_key: i16) -> Option<(i16, i16)> {
        let i = usize::try_from(api_key).ok()?;
        self.api_ranges().get(i).copied().flatten()
    }
}

/// Which release first supported which request version: `(release, api key, version)`,
/// newest first. From kafka-python's table, which marks each release by a request
/// version it introduced.
const MARKERS: &[(BrokerVersion, i16, i16)] = &[
    (BrokerVersion::new(4, 3), 35, 5),           // DescribeLogDirs v5
    (BrokerVersion::new(4, 2), 2, 11),           // ListOffsets v11
    (BrokerVersion::new(4, 1), 0, 13),           // Produce v13
    (BrokerVersion::new(4, 0), 2, 10),           // ListOffsets v10
    (BrokerVersion::new(3, 9), 1, 17),           // Fetch v17
    (BrokerVersion::new(3, 8), 0, 11),           // Produce v11
    (BrokerVersion::new(3, 7), 1, 16),           // Fetch v16
    (BrokerVersion::new(3, 6), 24, 4),           // AddPartitionsToTxn v4
    (BrokerVersion::new(3, 5), 1, 15),           // Fetch v15
    (BrokerVersion::new(3, 4), 4, 7),            // LeaderAndIsr v7
    (BrokerVersion::new(3, 3), 29, 3),           // DescribeAcls v3
    (BrokerVersion::new(3, 2), 11, 9),           // JoinGroup v9
    (BrokerVersion::new(3, 1), 1, 13),           // Fetch v13
    (BrokerVersion::new(3, 0), 2, 7),            // ListOffsets v7
    (BrokerVersion::new(2, 8), 0, 9),            // Produce v9
    (BrokerVersion::new(2, 7), 1, 12),           // Fetch v12
    (BrokerVersion::new(2, 6), 48, 0),           // DescribeClientQuotas v0
    (BrokerVersion::new(2, 5), 29, 2),           // DescribeAcls v2
    (BrokerVersion::new(2, 4), 0, 8),            // Produce v8
    (BrokerVersion::new(2, 3), 1, 11),           // Fetch v11
    (BrokerVersion::new(2, 2), 2, 5),            // ListOffsets v5
    (BrokerVersion::new(2, 1), 1, 10),           // Fetch v10
    (BrokerVersion::new(2, 0), 1, 8),            // Fetch v8
    (BrokerVersion::new(1, 1), 1, 7),            // Fetch v7
    (BrokerVersion::new(1, 0), 3, 5),            // Metadata v5
    (BrokerVersion::new(0, 11), 3, 4),           // Metadata v4
    (BrokerVersion::with_patch(0, 10, 2), 9, 2), // OffsetFetch v2
    (BrokerVersion::with_patch(0, 10, 1), 3, 2), // Metadata v2
];

impl fmt::Display for BrokerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.patch != 0 {
            write!(f, ".{}", self.patch)?;
        }
        Ok(())
    }
}

impl fmt::Debug for BrokerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patch == 0 {
            write!(f, "BrokerVersion({}, {})", self.major, self.minor)
        } else {
            write!(
                f,
                "BrokerVersion({}, {}, {})",
                self.major, self.minor, self.patch
            )
        }
    }
}

/// `"2.8"`, `"2.8.2"`, or kafka-python's tuple spelling `"(2, 8)"`.
impl FromStr for BrokerVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let inner = s.trim().trim_start_matches('(').trim_end_matches(')');
        let parts: Vec<&str> = inner
            .split([',', '.'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        let bad = || format!("{s:?} is not a Kafka release such as 2.8 or (2, 8)");
        if !(2..=3).contains(&parts.len()) {
            return Err(bad());
        }
        let mut n = [0u16; 3];
        for (slot, part) in n.iter_mut().zip(&parts) {
            *slot = part.parse().map_err(|_| bad())?;
        }
        Ok(BrokerVersion::with_patch(n[0], n[1], n[2]))
    }
}

impl From<(u16, u16)> for BrokerVersion {
    fn from((major, minor): (u16, u16)) -> Self {
        BrokerVersion::new(major, minor)
    }
}

impl From<(u16, u16, u16)> for BrokerVersion {
    fn from((major, minor, patch): (u16, u16, u16)) -> Self {
        BrokerVersion::with_patch(major, minor, patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_of(v: BrokerVersion) -> impl Fn(i16) -> Option<(i16, i16)> {
        move |key| v.api_range(key)
    }

    #[test]
    fn each_release_table_infers_its_own_release() {
        for r in RELEASES {
            assert_eq!(BrokerVersion::infer(table_of(r.version)), r.version);
        }
    }

    #[test]
    fn markers_are_newest_first() {
        assert!(MARKERS.windows(2).all(|w| w[0].0 > w[1].0));
        assert!(RELEASES.windows(2).all(|w| w[0].version < w[1].version));
    }

    #[test]
    fn unknown_releases_pin_to_the_one_before() {
        let v = BrokerVersion::new(2, 9).pinned_release().unwrap();
        assert_eq!(v, BrokerVersion::new(2, 8));
        let v = BrokerVersion::new(9, 0).pinned_release().unwrap();
        assert_eq!(v, BrokerVersion::new(4, 3));
        assert!(BrokerVersion::with_patch(0, 10, 2)
            .pinned_release()
            .is_none());
        assert_eq!(BrokerVersion::new(2, 8).api_range(0), Some((0, 9)));
        assert_eq!(BrokerVersion::new(4, 0).api_range(1), Some((4, 17)));
        assert_eq!(BrokerVersion::new(2, 8).api_range(68), None);
        // 4.0 dropped the inter-broker APIs and the old message-format fetches.
        assert_eq!(BrokerVersion::new(3, 9).api_range(4), Some((0, 7)));
        assert_eq!(BrokerVersion::new(4, 0).api_range(4), None);
        assert_eq!(BrokerVersion::new(4, 3).api_range(35), Some((1, 5)));
        assert!(BrokerVersion::with_patch(0, 10, 2).api_ranges().is_empty());
    }

    #[test]
    fn nothing_known_is_0_10_0() {
        assert_eq!(
            BrokerVersion::infer(|_| None),
            BrokerVersion::with_patch(0, 10, 0)
        );
    }

    #[test]
    fn parses_and_prints() {
        for (text, v) in [
            ("4.3", BrokerVersion::new(4, 3)),
            (" (2, 8) ", BrokerVersion::new(2, 8)),
            ("0.10.2", BrokerVersion::with_patch(0, 10, 2)),
            ("(0,10,1)", BrokerVersion::with_patch(0, 10, 1)),
        ] {
            assert_eq!(text.parse::<BrokerVersion>(), Ok(v), "{text}");
            assert_eq!(v.to_string().parse::<BrokerVersion>(), Ok(v));
        }
        for bad in ["", "4", "a.b", "1.2.3.4", "-1.0", "()"] {
            assert!(bad.parse::<BrokerVersion>().is_err(), "{bad}");
        }
        assert_eq!(BrokerVersion::from((3, 9)).to_string(), "3.9");
        assert_eq!(BrokerVersion::from((0, 10, 2)).to_string(), "0.10.2");
    }
}
