//! Transactions: the shared [`state`], the transaction manager on the I/O thread
//! ([`manager`]), the requests it sends ([`requests`]) and how it takes their answers
//! ([`responses`]).

mod manager;
mod requests;
mod responses;
mod state;

pub(crate) use manager::{TxnCommand, TxnCtx, TxnManager};
pub(crate) use requests::ProduceV12;
pub(crate) use state::{TxnShared, TxnState};
