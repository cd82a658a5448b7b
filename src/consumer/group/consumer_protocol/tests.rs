//! The consumer-protocol membership without a broker.
