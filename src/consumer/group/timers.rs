//! The member's clocks: when the next heartbeat is due, when the session runs out without
//! a successful heartbeat, and when the user thread has gone too long without polling.
//!
//! Pure bookkeeping over `Instant`s handed in by the caller, like the Java client's
//! `Heartbeat` class.

use std::time::{Duration, Instant};

#[derive(Debug)]
pub(super) struct Timers {
    pub session_timeout: Duration,
    pub interval: Duration,
    pub max_poll_interval: Duration,
    retry_backoff: Duration,
    next_heartbeat: Instant,
    in_flight: bool,
    last_ok: Instant,
    last_user_poll: Instant,
}

impl Timers {
    pub fn new(
        session_timeout: Duration,
        interval: Duration,
        max_poll_interval: Duration,
        retry_backoff: Duration,
        now: Instant,
    ) -> Self {
        Timers {
            session_timeout,
            interval,
            max_poll_interval,
            retry_backoff,
            next_heartbeat: now + interval,
            in_flight: false,
            last_ok: now,
            last_user_poll: now,
        }
    }

    /// A generation was joined (or the coordinator found): the session starts afresh and the
    /// first heartbeat is one interval away.
    pub fn reset_session(&mut self, now: Instant) {
        self.last_ok = now;
        self.next_heartbeat = now + self.interval;
    }

    /// True when a heartbeat should go out now.
    pub fn heartbeat_due(&self, now: Instant) -> bool {
        !self.in_flight && self.next_heartbeat <= now
    }

    pub fn on_heartbeat_sent(&mut self, now: Instant) {
        self.in_flight = true;
        self.next_heartbeat = now + self.interval;
    }

    /// The coordinator answered (without an error that ends the membership).
    pub fn on_heartbeat_ok(&mut self, now: Instant) {
        self.in_flight = false;
        self.last_ok = now;
    }

    /// The heartbeat got no useful answer: try again after the retry backoff.
    pub fn on_heartbeat_failed(&mut self, now: Instant) {
        self.in_flight = false;
        self.next_heartbeat = self.next_heartbeat.min(now + self.retry_backoff);
    }

    /// The heartbeat answer no longer matters (generation changed, request dropped).
    pub fn forget_heartbeat(&mut self) {
        self.in_flight = false;
    }

    /// True when no heartbeat has succeeded for a whole session timeout: the coordinator
    /// has dropped this member by now.
    pub fn session_expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_ok) > self.session_timeout
    }

    pub fn on_user_poll(&mut self, now: Instant) {
        self.last_user_poll = now;
    }

    /// True when the user thread has not polled for `max_poll_interval`.
    pub fn poll_expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_user_poll) > self.max_poll_interval
    }

    /// The next time one of the clocks needs a look: the session and poll expiries, and
    /// the next heartbeat when `heartbeating`.
    pub fn next_deadline(&self, heartbeating: bool) -> Instant {
        let mut t = self.last_ok + self.session_timeout + Duration::from_millis(1);
        t = t.min(self.last_user_poll + self.max_poll_interval + Duration::from_millis(1));
        if heartbeating && !self.in_flight {
            t = t.min(self.next_heartbeat);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timers(now: Instant) -> Timers {
        Timers::new(
            Duration::from_secs(10),
            Duration::from_secs(3),
            Duration::from_secs(300),
            Duration::from_millis(100),
            now,
        )
    }

    #[test]
    fn heartbeats_every_interval_and_retries_after_backoff() {
        let t0 = Instant::now();
        let mut t = timers(t0);
        assert!(!t.heartbeat_due(t0));
        assert_eq!(t.next_deadline(true), t0 + Duration::from_secs(3));
        assert_eq!(t.next_deadline(false), t0 + Duration::from_millis(10_001));
        let t1 = t0 + Duration::from_secs(3);
        assert!(t.heartbeat_due(t1));
        t.on_heartbeat_sent(t1);
        assert!(
            !t.heartbeat_due(t1 + Duration::from_secs(10)),
            "one in flight at a time"
        );
        t.on_heartbeat_failed(t1 + Duration::from_millis(50));
        assert!(t.heartbeat_due(t1 + Duration::from_millis(150)));
        t.on_heartbeat_sent(t1 + Duration::from_millis(150));
        t.on_heartbeat_ok(t1 + Duration::from_millis(160));
        assert!(!t.heartbeat_due(t1 + Duration::from_secs(3)));
        assert!(t.heartbeat_due(t1 + Duration::from_millis(3150)));
    }

    #[test]
    fn session_and_poll_expiry() {
        let t0 = Instant::now();
        let mut t = timers(t0);
        assert!(!t.session_expired(t0 + Duration::from_secs(10)));
        assert!(t.session_expired(t0 + Duration::from_millis(10_001)));
        t.on_heartbeat_sent(t0 + Duration::from_secs(9));
        t.on_heartbeat_ok(t0 + Duration::from_secs(9));
        assert!(!t.session_expired(t0 + Duration::from_secs(15)));
        assert!(!t.poll_expired(t0 + Duration::from_secs(300)));
        assert!(t.poll_expired(t0 + Duration::from_secs(301)));
        t.on_user_poll(t0 + Duration::from_secs(200));
        assert!(!t.poll_expired(t0 + Duration::from_secs(301)));
    }
}
