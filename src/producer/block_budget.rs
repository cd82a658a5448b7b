//! `max_block`: how long one `send` may wait, in total, for metadata and buffer memory.

use std::time::{Duration, Instant};

/// The `max_block` budget of one `send`. The clock starts at the first wait, so a send
/// that never waits reads no clock at all (a clock read costs as much as the rest of an
/// append).
pub(crate) struct BlockBudget {
    max: Duration,
    started: Option<Instant>,
}

impl BlockBudget {
    pub fn new(max: Duration) -> Self {
        BlockBudget { max, started: None }
    }

    /// The configured `max_block`, for error messages.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// When waiting must stop; starts the clock if this is the first wait.
    pub fn deadline(&mut self) -> Instant {
        *self.started.get_or_insert_with(Instant::now) + self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_starts_at_the_first_wait_and_is_shared_by_later_waits() {
        let mut b = BlockBudget::new(Duration::from_millis(50));
        assert!(b.started.is_none());
        let first = b.deadline();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(b.deadline(), first);
        assert_eq!(b.max(), Duration::from_millis(50));
    }
}
