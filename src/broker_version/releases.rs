//! The request versions each Apache Kafka release supports, per API key, as its brokers
//! announce them in ApiVersions, from kafka-python's table: each release is written as
//! what changed since the one before (ranges added or moved, API keys removed).

use super::BrokerVersion;

/// One release: `(api_key, min_version, max_version)` of each API added or changed
/// since the previous release, and the API keys it no longer has.
pub(super) struct Release {
    pub version: BrokerVersion,
    pub changed: &'static [(i16, i16, i16)],
    pub removed: &'static [i16],
}

/// The `(min, max)` range of each API key (the index) that release `version` supports,
/// replayed from the oldest release up to it.
pub(super) fn ranges_at(version: BrokerVersion) -> Vec<Option<(i16, i16)>> {
    let mut ranges: Vec<Option<(i16, i16)>> = Vec::new();
    for release in RELEASES.iter().take_while(|r| r.version <= version) {
        for &(key, min, max) in release.changed {
            let i = key as usize;
            if ranges.len() <= i {
                ranges.resize(i + 1, None);
            }
            ranges[i] = Some((min, max));
        }
        for &key in release.removed {
            if let Some(slot) = ranges.get_mut(key as usize) {
                *slot = None;
            }
        }
    }
    ranges
}

/// Releases from 0.11 (the first with record batches v2, the oldest this client can
/// talk to) to 4.3, oldest first.
#[rustfmt::skip]
pub(super) const RELEASES: &[Release] = &[
    Release {
        version: BrokerVersion::new(0, 11),
        changed: &[
            (0, 0, 3), (1, 0, 5), (2, 0, 2), (3, 0, 4), (4, 0, 0), (5, 0, 0), (6, 0, 3),
            (7, 1, 1), (8, 0, 3), (9, 0, 3), (10, 0, 1), (11, 0, 2), (12, 0, 1), (13, 0, 1),
            (14, 0, 1), (15, 0, 1), (16, 0, 1), (17, 0, 0), (18, 0, 1), (19, 0, 2), (20, 0, 1),
            (21, 0, 0), (22, 0, 0), (23, 0, 0), (24, 0, 0), (25, 0, 0), (26, 0, 0), (27, 0, 0),
            (28, 0, 0), (29, 0, 0), (30, 0, 0), (31, 0, 0), (32, 0, 0), (33, 0, 0),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(1, 0),
        changed: &[
            (0, 0, 5), (1, 0, 6), (3, 0, 5), (4, 0, 1), (6, 0, 4), (7, 0, 1), (17, 0, 1),
            (34, 0, 0), (35, 0, 0), (36, 0, 0), (37, 0, 0),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(1, 1),
        changed: &[
            (1, 0, 7), (32, 0, 1), (38, 0, 0), (39, 0, 0), (40, 0, 0), (41, 0, 0), (42, 0, 0),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(2, 0),
        changed: &[
            (0, 0, 6), (1, 0, 8), (2, 0, 3), (3, 0, 6), (8, 0, 4), (9, 0, 4), (10, 0, 2),
            (11, 0, 3), (12, 0, 2), (13, 0, 2), (14, 0, 2), (15, 0, 2), (16, 0, 2), (18, 0, 2),
            (19, 0, 3), (20, 0, 2), (21, 0, 1), (22, 0, 1), (23, 0, 1), (24, 0, 1), (25, 0, 1),
            (26, 0, 1), (28, 0, 1), (29, 0, 1), (30, 0, 1), (31, 0, 1), (32, 0, 2), (33, 0, 1),
            (34, 0, 1), (35, 0, 1), (37, 0, 1), (38, 0, 1), (39, 0, 1), (40, 0, 1), (41, 0, 1),
            (42, 0, 1),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(2, 1),
        changed: &[
            (0, 0, 7), (1, 0, 10), (2, 0, 4), (3, 0, 7), (8, 0, 6), (9, 0, 5), (20, 0, 3),
            (23, 0, 2), (28, 0, 2),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(2, 2),
        changed: &[
            (2, 0, 5), (4, 0, 2), (5, 0, 1), (6, 0, 5), (7, 0, 2), (11, 0, 4), (36, 0, 1),
            (43, 0, 0),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(2, 3),
        changed: &[
            (1, 0, 11), (3, 0, 8), (8, 0, 7), (11, 0, 5), (12, 0, 3), (14, 0, 3), (15, 0, 3),
            (23, 0, 3), (44, 0, 0),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(2, 4),
        changed: &[
            (0, 0, 8), (3, 0, 9), (4, 0, 4), (5, 0, 2), (6, 0, 6), (7, 0, 3), (8, 0, 8),
            (9, 0, 6), (10, 0, 3), (11, 0, 6), (12, 0, 4), (13, 0, 4), (14, 0, 4), (15, 0, 5),
            (16, 0, 3), (18, 0, 3), (19, 0, 5), (20, 0, 4), (22, 0, 2), (38, 0, 2), (42, 0, 2),
            (43, 0, 2), (44, 0, 1), (45, 0, 0), (46, 0, 0), (47, 0, 0),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(2, 5),
        changed: &[
            (9, 0, 7), (11, 0, 7), (14, 0, 5), (22, 0, 3), (28, 0, 3), (29, 0, 2), (30, 0, 2),
            (31, 0, 2), (36, 0, 2), (37, 0, 2), (39, 0, 2), (40, 0, 2), (41, 0, 2),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(2, 6),
        changed: &[
            (5, 0, 3), (16, 0, 4), (21, 0, 2), (32, 0, 3), (35, 0, 2), (48, 0, 0), (49, 0, 0),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(2, 7),
        changed: &[
            (1, 0, 12), (19, 0, 6), (20, 0, 5), (22, 0, 4), (24, 0, 2), (25, 0, 2), (26, 0, 2),
            (37, 0, 3), (50, 0, 0), (51, 0, 0), (56, 0, 0), (57, 0, 0),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(2, 8),
        changed: &[
            (0, 0, 9), (2, 0, 6), (3, 0, 11), (4, 0, 5), (6, 0, 7), (19, 0, 7), (20, 0, 6),
            (23, 0, 4), (24, 0, 3), (25, 0, 3), (26, 0, 3), (27, 0, 1), (32, 0, 4), (33, 0, 2),
            (34, 0, 2), (48, 0, 1), (49, 0, 1), (60, 0, 0), (61, 0, 0),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(3, 0),
        changed: &[
            (2, 0, 7), (9, 0, 8), (10, 0, 4), (65, 0, 0), (66, 0, 0), (67, 0, 0),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(3, 1),
        changed: &[
            (1, 0, 13), (3, 0, 12),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(3, 2),
        changed: &[
            (4, 0, 6), (11, 0, 9), (13, 0, 5), (35, 0, 3), (56, 0, 1),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(3, 3),
        changed: &[
            (29, 0, 3), (30, 0, 3), (31, 0, 3), (35, 0, 4), (38, 0, 3), (41, 0, 3), (56, 0, 2),
            (57, 0, 1),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(3, 4),
        changed: &[
            (4, 0, 7), (5, 0, 4), (6, 0, 8), (58, 0, 0),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(3, 5),
        changed: &[
            (1, 0, 15), (2, 0, 8), (56, 0, 3),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(3, 6),
        changed: &[
            (24, 0, 4),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(3, 7),
        changed: &[
            (0, 0, 10), (1, 0, 16), (8, 0, 9), (9, 0, 9), (60, 0, 1), (68, 0, 0),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(3, 8),
        changed: &[
            (0, 0, 11), (10, 0, 5), (16, 0, 5), (22, 0, 5), (24, 0, 5), (25, 0, 4), (26, 0, 4),
            (28, 0, 4), (66, 0, 1), (69, 0, 0),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(3, 9),
        changed: &[
            (1, 0, 17), (2, 0, 9), (10, 0, 6), (18, 0, 4),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(4, 0),
        changed: &[
            (0, 0, 12), (1, 4, 17), (2, 1, 10), (3, 0, 13), (8, 2, 9), (9, 1, 9), (11, 2, 9),
            (15, 0, 6), (19, 2, 7), (20, 1, 6), (23, 2, 4), (26, 0, 5), (27, 1, 1), (28, 0, 5),
            (29, 1, 3), (30, 1, 3), (31, 1, 3), (32, 1, 4), (34, 1, 2), (35, 1, 4), (38, 1, 3),
            (39, 1, 2), (40, 1, 2), (41, 1, 3), (55, 0, 2), (57, 0, 2), (60, 0, 2), (64, 0, 0),
            (68, 0, 1), (69, 0, 1), (74, 0, 0), (75, 0, 0), (80, 0, 0), (81, 0, 0),
        ],
        removed: &[4, 5, 6, 7, 56, 58, 67],
    },
    Release {
        version: BrokerVersion::new(4, 1),
        changed: &[
            (0, 0, 13), (1, 4, 18), (11, 0, 9), (45, 0, 1), (66, 0, 2), (74, 0, 1), (76, 1, 1),
            (77, 1, 1), (78, 1, 1), (79, 1, 1), (83, 0, 0), (84, 0, 0), (85, 0, 0), (86, 0, 0),
            (87, 0, 0), (90, 0, 0), (91, 0, 0), (92, 0, 0),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(4, 2),
        changed: &[
            (2, 1, 11), (8, 2, 10), (9, 1, 10), (27, 1, 2), (78, 1, 2), (79, 1, 2), (80, 0, 1),
            (85, 0, 1), (87, 0, 1), (88, 0, 0), (89, 0, 0), (90, 0, 1),
        ],
        removed: &[],
    },
    Release {
        version: BrokerVersion::new(4, 3),
        changed: &[
            (35, 1, 5),
        ],
        removed: &[],
    },
];
