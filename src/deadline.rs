//! Deadlines computed from user durations. They saturate instead of overflowing, so a
//! timeout of `Duration::MAX` means "as long as it takes", never a panic.

use std::time::{Duration, Instant};

/// About 30 years: far enough to mean "never", near enough for every platform's
/// `Instant` to represent.
pub(crate) const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// `start + d`, or a far-future instant when that is not representable.
pub(crate) fn after(start: Instant, d: Duration) -> Instant {
    start
        .checked_add(d)
        .or_else(|| start.checked_add(FAR_FUTURE))
        .unwrap_or(start)
}

/// `now + d`, saturating.
pub(crate) fn from_now(d: Duration) -> Instant {
    after(Instant::now(), d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_durations_saturate() {
        let now = Instant::now();
        assert!(after(now, Duration::MAX) >= now + FAR_FUTURE);
        assert_eq!(
            after(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        assert!(from_now(Duration::MAX) > now);
    }
}
