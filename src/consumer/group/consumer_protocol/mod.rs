//! The KIP-848 consumer group protocol (`group_protocol = consumer`), run on the consumer's
//! I/O thread beside the classic one: the coordinator lookup, commits and committed-offset
//! lookups are shared; the membership is a ConsumerGroupHeartbeat loop.
//!
//! ```text
//!  Idle ──subscribe──▶ Joining ──heartbeat(epoch 0)──▶ Member ◀─┐ heartbeat every interval
//!   ▲                    ▲  ▲                           │  │    │ (or at once to acknowledge)
//!   │                    │  └── fenced: partitions lost ┘  └────┘
//!   └── unsubscribe/close: heartbeat(epoch -1, or -2 for a static member)
//! ```
//!
//! The broker computes each member's target assignment; the member reconciles towards it
//! (`reconcile.rs`): it first revokes what it must give up (the rebalance listener runs
//! on the polling thread, after an auto commit), then takes the new partitions, and its
//! next heartbeat reports what it owns. Nothing here blocks: `membership.rs` decides from
//! answers and `now`, `heartbeat.rs` builds and reads the messages, and `driving.rs`
//! sends them, so the state machine is unit-tested without a broker.

mod driving;
mod heartbeat;
mod membership;
mod reconcile;

#[cfg(test)]
mod tests;

pub(super) use membership::{ConsumerMember, MemberSettings, Subscription};

/// The pattern the user gave `subscribe_pattern`, without the anchors the consumer added
/// for matching on the client: the broker matches whole names itself (RE2/J `matches`).
pub(super) fn unanchored(pattern: &str) -> &str {
    pattern
        .strip_prefix("^(?:")
        .and_then(|p| p.strip_suffix(")$"))
        .unwrap_or(pattern)
}
