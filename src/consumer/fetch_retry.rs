//! Backoff for a partition whose fetches keep failing, so a broker whose answers
//! cannot be used is not asked again at once, thousands of times a second.

use std::time::{Duration, Instant};

use crate::config::ConsumerConfig;
use crate::net::backoff::Backoff;

/// After this many consecutive fetches of a partition that return data it cannot use,
/// `poll` hears of it, and again after each further run of as many; fetching goes on
/// meanwhile, with backoff.
const FAILURES_BEFORE_ERROR: u32 = 4;

/// A partition's run of failed fetches: a broker whose answers cannot be used is asked
/// again after a growing pause (`retry_backoff` up to `retry_backoff_max`), not at once.
#[derive(Debug)]
pub(super) struct Retry {
    backoff: Backoff,
    failures: u32,
    /// No fetch for the partition before this.
    pub(super) not_before: Option<Instant>,
}

impl Retry {
    pub(super) fn new(config: &ConsumerConfig) -> Self {
        Retry {
            backoff: Backoff::new(config.client.retry_backoff, config.client.retry_backoff_max),
            failures: 0,
            not_before: None,
        }
    }

    pub(super) fn waiting(&self, now: Instant) -> bool {
        self.not_before.is_some_and(|t| t > now)
    }

    /// Records a failure; true when it completes a run the user should hear of.
    pub(super) fn fail(&mut self, now: Instant) -> bool {
        let wait: Duration = self.backoff.fail();
        self.not_before = Some(now + wait);
        self.failures = self.failures.saturating_add(1);
        self.failures.is_multiple_of(FAILURES_BEFORE_ERROR)
    }

    pub(super) fn succeed(&mut self) {
        self.backoff.reset();
        self.failures = 0;
        self.not_before = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_growing_and_reports_every_run_of_failures() {
        let mut config = ConsumerConfig::default();
        config.client.retry_backoff = Duration::from_millis(100);
        config.client.retry_backoff_max = Duration::from_secs(1);
        let mut retry = Retry::new(&config);
        let now = Instant::now();
        assert!(!retry.waiting(now));
        let mut waits = Vec::new();
        let mut reports = Vec::new();
        for i in 1..=8 {
            reports.push(retry.fail(now).then_some(i));
            assert!(retry.waiting(now));
            waits.push(retry.not_before.unwrap() - now);
        }
        let reports: Vec<u32> = reports.into_iter().flatten().collect();
        assert_eq!(reports, [FAILURES_BEFORE_ERROR, 2 * FAILURES_BEFORE_ERROR]);
        // 100 ms doubling to the 1 s cap, each within ±20% jitter.
        for (wait, want) in waits
            .iter()
            .zip([100, 200, 400, 800, 1000, 1000, 1000, 1000])
        {
            let ms = wait.as_millis() as u64;
            assert!(ms >= want * 8 / 10 && ms <= want * 12 / 10, "{waits:?}");
        }
        retry.succeed();
        assert!(!retry.waiting(now));
        assert!(!retry.fail(now), "a success starts a new run");
    }
}
