//! The consumer: consumer groups, assignment and fetching.

pub mod assignor;
