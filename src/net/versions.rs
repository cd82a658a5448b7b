//! The API versions a broker supports, learned from its ApiVersions response, and the
//! choice of the version to speak.

use crate::protocol::api::ApiKey;

/// Supported `(min, max)` version per API key, as a broker announced it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ApiVersionTable {
    ranges: Vec<Option<(i16, i16)>>,
}

impl ApiVersionTable {
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
        match self.range(api) {
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
}
