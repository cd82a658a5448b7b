//! Exponential backoff with ±20% jitter, for reconnects and retries.

use std::cell::Cell;
use std::time::Duration;

/// Backoff that doubles from `base` up to `max` with each consecutive failure.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub(crate) fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max: max.max(base),
            failures: 0,
        }
    }

    /// Records a failure and returns how long to wait before the next attempt.
    pub(crate) fn fail(&mut self) -> Duration {
        let d = self.peek();
        self.failures = self.failures.saturating_add(1);
        d
    }

    /// The wait the next failure would give, without recording it.
    pub(crate) fn peek(&self) -> Duration {
        let exp = self.failures.min(31);
        let raw = self.base.saturating_mul(1u32 << exp).min(self.max);
        jitter(raw)
    }

    /// Forgets past failures after a success.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    /// Consecutive failures so far.
    #[cfg(test)]
    fn failures(&self) -> u32 {
        self.failures
    }
}

/// Scales `d` by a random factor in [0.8, 1.2].
pub(crate) fn jitter(d: Duration) -> Duration {
    let r = next_random() % 4001; // 0..=4000
                                  // Capped first: scaling a huge duration up would overflow (and panic).
    d.min(crate::deadline::FAR_FUTURE)
        .mul_f64(0.8 + r as f64 / 10_000.0)
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS; good enough for jitter.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x9e37_79b9_7f4a_7c15);
    h.finish() | 1
}

/// xorshift64*: cheap, thread-local, not for cryptography.
pub(crate) fn next_random() -> u64 {
    RNG.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_to_the_cap_with_jitter() {
        let mut b = Backoff::new(Duration::from_millis(50), Duration::from_millis(1000));
        let waits: Vec<Duration> = (0..8).map(|_| b.fail()).collect();
        let nominal = [50u64, 100, 200, 400, 800, 1000, 1000, 1000];
        for (w, n) in waits.iter().zip(nominal) {
            let n = Duration::from_millis(n);
            assert!(
                *w >= n.mul_f64(0.8) && *w <= n.mul_f64(1.2),
                "{w:?} vs {n:?}"
            );
        }
        b.reset();
        assert_eq!(b.failures(), 0);
        let mut huge = Backoff::new(Duration::MAX, Duration::MAX);
        assert!(huge.fail() >= crate::deadline::FAR_FUTURE.mul_f64(0.8));
        assert!(b.peek() <= Duration::from_millis(60));
    }
}
